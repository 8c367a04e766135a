/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_tls.c - x509 mutual TLS under the tunnel: credentials, handshake
 *
 * Theory of operation: see tunnel_tls.h.  tun_tls_init() loads the CA
 * (a GTlsFileDatabase), our certificate and its key once, and refuses to
 * start, naming the file, if one is missing or unreadable, if our
 * certificate is not valid now, does not verify against the CA for both
 * TLS server and client use, or does not name our node.  Every connection
 * then wraps its GSocket in a GTlsClientConnection (we dialled) or a
 * GTlsServerConnection (we accepted, client certificate REQUIRED), both
 * with our certificate and the CA as their only trust anchor, and runs the
 * handshake asynchronously on the main loop.
 *
 * Verification: GnuTLS checks the chain, the dates and the key purpose
 * and reports problems through "accept-certificate"; that handler only
 * records them, except a bare BAD_IDENTITY, which it lets through: we give
 * GnuTLS no identity to check, because the identity rule is ours, applied
 * by tun_tls_peer_named() when the handshake is done and again when HELLO
 * names the peer.  A failed handshake is turned into one log line that
 * says what was wrong with which certificate, counted in auth_failures
 * and tls_failures, and the connection is closed; nothing is sent in
 * clear.  A handshake still in flight when its connection closes is
 * detached (op->c = NULL) and cancelled: its callback then only frees.
 *
 * Once TLS is up, the AUTH key is derived from the session (tunnel_tls.h)
 * and tunnel.c starts the HELLO/AUTH handshake inside TLS.
 */
#include <string.h>

#include <gio/gio.h>

#include "log.h"
#include "tunnel_priv.h"
#include "tunnel_tls.h"

#define TLS_EXPORTER_LEN	32	/* RFC 9266 tls-exporter: 32 bytes */

/* A tunnel's TLS credentials (vs_tun.tls), owned by the main loop thread */
struct tun_tls {
	GTlsCertificate *cert;		/* ours, with its private key */
	GTlsDatabase *ca;		/* the only trust anchor */
	char *ca_path;			/* for log lines */
};

/* A handshake in flight; outlives its connection if that closes first */
struct tun_tls_op {
	struct tun_conn *c;		/* NULL once the connection is gone */
	GIOStream *conn;		/* the GTlsConnection */
	GCancellable *cancel;
	GTlsCertificateFlags rejected;	/* what accept-certificate refused */
	char *rejected_subject;		/* the refused certificate's subject */
};

bool tun_tls_enabled(const struct vs_tun *t)
{
	return t->tls != NULL;
}

/* "expired, not signed by our CA" for the bits of @f */
static char *tls_flags_str(GTlsCertificateFlags f)
{
	static const struct {
		GTlsCertificateFlags flag;
		const char *text;
	} names[] = {
		{ G_TLS_CERTIFICATE_UNKNOWN_CA, "not signed by our CA" },
		{ G_TLS_CERTIFICATE_BAD_IDENTITY, "does not name the node" },
		{ G_TLS_CERTIFICATE_NOT_ACTIVATED, "not valid yet" },
		{ G_TLS_CERTIFICATE_EXPIRED, "expired" },
		{ G_TLS_CERTIFICATE_REVOKED, "revoked" },
		{ G_TLS_CERTIFICATE_INSECURE, "uses an insecure algorithm" },
		{ G_TLS_CERTIFICATE_GENERIC_ERROR, "cannot be verified" },
	};
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (f & names[i].flag)
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", names[i].text);
	if (!s->len)
		g_string_append(s, "rejected");
	return g_string_free(s, FALSE);
}

/*
 * The names a certificate carries, for tunnel_tls_id.c: its CN (NULL if
 * none or ambiguous) and its DNS subjectAltNames as a NULL-terminated
 * vector.  A DNS name with a NUL or of 256 bytes or more is left out.
 */
static void tls_cert_names(GTlsCertificate *cert, char **cn, GStrv *dns)
{
	g_autofree char *dn = g_tls_certificate_get_subject_name(cert);
	g_autoptr(GPtrArray) names = g_tls_certificate_get_dns_names(cert);
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	guint i;

	*cn = vs_tun_tls_dn_common_name(dn);
	for (i = 0; names && i < names->len; i++) {
		gsize len;
		const char *d = g_bytes_get_data(g_ptr_array_index(names, i), &len);

		if (d && len && len < 256 && !memchr(d, '\0', len)) {
			g_autofree char *name = g_strndup(d, len);

			g_strv_builder_add(b, name);
		}
	}
	*dns = g_strv_builder_end(b);
}

static bool tls_cert_names_node(GTlsCertificate *cert, const char *name)
{
	g_autofree char *cn = NULL;
	g_auto(GStrv) dns = NULL;

	tls_cert_names(cert, &cn, &dns);
	return vs_tun_tls_names_match(cn, (const char *const *)dns, name);
}

bool tun_tls_peer_named(struct tun_conn *c, const char *name, char *why, size_t why_len)
{
	GTlsCertificate *cert = c->tls ? g_tls_connection_get_peer_certificate(
						 G_TLS_CONNECTION(c->tls)) : NULL;
	g_autofree char *dn = NULL;

	if (cert && tls_cert_names_node(cert, name))
		return true;
	dn = cert ? g_tls_certificate_get_subject_name(cert) : NULL;
	g_snprintf(why, why_len, "TLS: peer certificate (%s) does not name node %s",
		   dn ? dn : "none", name);
	return false;
}

/* ---- Startup: our credentials ----------------------------------------- */

/* Read @path fully, so that a missing or unreadable file says so plainly */
static gboolean tls_check_readable(const char *key, const char *path, GError **error)
{
	g_autofree char *data = NULL;
	g_autoptr(GError) err = NULL;
	gsize len = 0;

	if (!path) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] %s: no file", key);
		return FALSE;
	}
	if (!g_file_get_contents(path, &data, &len, &err)) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] %s %s: %s", key, path,
			    err->message);
		return FALSE;
	}
	explicit_bzero(data, len);	/* may be the private key */
	return TRUE;
}

static gboolean tls_check_dates(GTlsCertificate *cert, const char *path, GError **error)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) from = g_tls_certificate_get_not_valid_before(cert);
	g_autoptr(GDateTime) until = g_tls_certificate_get_not_valid_after(cert);

	if (from && g_date_time_compare(now, from) < 0) {
		g_autofree char *t = g_date_time_format_iso8601(from);

		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: not valid before %s",
			    path, t);
		return FALSE;
	}
	if (until && g_date_time_compare(now, until) > 0) {
		g_autofree char *t = g_date_time_format_iso8601(until);

		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: expired on %s", path, t);
		return FALSE;
	}
	return TRUE;
}

/* Our certificate must pass the checks a peer will make, in both roles */
static gboolean tls_check_chain(struct tun_tls *tls, GTlsCertificate *cert, const char *path,
				GError **error)
{
	static const char *const purposes[] = { G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER,
						G_TLS_DATABASE_PURPOSE_AUTHENTICATE_CLIENT };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(purposes); i++) {
		g_autoptr(GError) err = NULL;
		GTlsCertificateFlags f = g_tls_database_verify_chain(
			tls->ca, cert, purposes[i], NULL, NULL, G_TLS_DATABASE_VERIFY_NONE, NULL, &err);

		if (err) {
			g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: %s", path,
				    err->message);
			return FALSE;
		}
		if (f) {
			g_autofree char *what = tls_flags_str(f);

			g_set_error(error, VS_TUN_ERROR, 0,
				    "[tunnel] tls-cert %s does not verify against tls-ca %s as a TLS "
				    "%s: %s", path, tls->ca_path, i ? "client" : "server", what);
			return FALSE;
		}
	}
	return TRUE;
}

static void tls_free(struct tun_tls *tls)
{
	if (!tls)
		return;
	g_clear_object(&tls->cert);
	g_clear_object(&tls->ca);
	g_free(tls->ca_path);
	g_free(tls);
}

gboolean tun_tls_init(struct vs_tun *t, const struct vs_tun_cfg *cfg, GError **error)
{
	const char *cert_path = cfg->tls_cert, *key_path = cfg->tls_key;
	g_autoptr(GError) err = NULL;
	struct tun_tls *tls;

	if (!cfg->tls)
		return TRUE;
	if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
		g_set_error(error, VS_TUN_ERROR, 0,
			    "[tunnel] tls=x509: GIO has no TLS backend (install glib-networking)");
		return FALSE;
	}
	if (!tls_check_readable("tls-ca", cfg->tls_ca, error) ||
	    !tls_check_readable("tls-cert", cert_path, error) ||
	    !tls_check_readable("tls-key", key_path, error))
		return FALSE;
	tls = g_new0(struct tun_tls, 1);
	tls->ca_path = g_strdup(cfg->tls_ca);
	tls->ca = g_tls_file_database_new(tls->ca_path, &err);
	if (!tls->ca) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-ca %s: %s", tls->ca_path,
			    err->message);
		goto fail;
	}
	tls->cert = g_tls_certificate_new_from_files(cert_path, key_path, &err);
	if (!tls->cert) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s, tls-key %s: %s",
			    cert_path, key_path, err->message);
		goto fail;
	}
	if (!tls_check_dates(tls->cert, cert_path, error) ||
	    !tls_check_chain(tls, tls->cert, cert_path, error))
		goto fail;
	if (!tls_cert_names_node(tls->cert, t->node_name)) {
		g_autofree char *dn = g_tls_certificate_get_subject_name(tls->cert);

		g_set_error(error, VS_TUN_ERROR, 0,
			    "[tunnel] tls-cert %s (%s) does not name this node '%s': peers would "
			    "refuse it (give it DNS subjectAltName %s)", cert_path, dn ? dn : "?",
			    t->node_name, t->node_name);
		goto fail;
	}
	t->tls = tls;
	vs_log(TUN, INFO, NULL, "TLS: certificate %s, CA %s", cert_path, tls->ca_path);
	return TRUE;
fail:
	tls_free(tls);
	return FALSE;
}

void tun_tls_fini(struct vs_tun *t)
{
	tls_free(t->tls);
	t->tls = NULL;
}

/* ---- Per connection ---------------------------------------------------- */

static void tls_op_free(struct tun_tls_op *op)
{
	if (op->conn)
		g_signal_handlers_disconnect_by_data(op->conn, op);
	g_clear_object(&op->conn);
	g_clear_object(&op->cancel);
	g_free(op->rejected_subject);
	g_free(op);
}

/* GnuTLS found problems with the peer's certificate: record them */
static gboolean tls_accept_certificate_cb(GTlsConnection *conn, GTlsCertificate *peer_cert,
					  GTlsCertificateFlags errors, gpointer data)
{
	struct tun_tls_op *op = data;

	/* we give GnuTLS no identity to check (a server never has one): the
	 * identity rule is ours, applied once the handshake is done */
	if (!(errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY))
		return TRUE;
	op->rejected = errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY;
	g_free(op->rejected_subject);
	op->rejected_subject = g_tls_certificate_get_subject_name(peer_cert);
	return FALSE;
}

/* The AUTH key of a TLS session (tunnel_tls.h); FALSE with @why set */
static bool tls_auth_key(struct tun_conn *c, uint8_t key[TLS_EXPORTER_LEN], char **why)
{
	g_autoptr(GByteArray) exporter = g_byte_array_new();
	g_autoptr(GError) err = NULL;
	gsize len = TLS_EXPORTER_LEN;
	GHmac *h;

	if (!g_tls_connection_get_channel_binding_data(G_TLS_CONNECTION(c->tls),
						       G_TLS_CHANNEL_BINDING_TLS_EXPORTER,
						       exporter, &err) ||
	    exporter->len != TLS_EXPORTER_LEN) {
		*why = g_strdup_printf("TLS: no tls-exporter channel binding: %s",
				       err ? err->message : "wrong length");
		return false;
	}
	if (!c->tun->psk_len) {
		memcpy(key, exporter->data, TLS_EXPORTER_LEN);
	} else {
		h = g_hmac_new(G_CHECKSUM_SHA256, c->tun->psk, c->tun->psk_len);
		g_hmac_update(h, exporter->data, exporter->len);
		g_hmac_get_digest(h, key, &len);
		g_hmac_unref(h);
	}
	explicit_bzero(exporter->data, exporter->len);
	return true;
}

/* Refuse the peer: one log line (tun_conn_close()), two counters */
static void tls_refuse(struct tun_conn *c, const char *why)
{
	c->tun->stats.auth_failures++;
	c->tun->stats.tls_failures++;
	tun_conn_close(c, VS_TUN_ERR_AUTH_FAIL, why);
}

/* The text for a failed handshake: ours to say what was wrong */
static char *tls_failure_str(const struct tun_tls *tls, const struct tun_tls_op *op,
			     const GError *err)
{
	if (op->rejected) {
		g_autofree char *what = tls_flags_str(op->rejected);

		return g_strdup_printf("TLS: peer certificate (%s) refused: %s (tls-ca %s)",
				       op->rejected_subject ? op->rejected_subject : "?", what,
				       tls->ca_path);
	}
	if (g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED))
		return g_strdup("TLS: peer sent no certificate");
	return g_strdup_printf("TLS handshake failed: %s", err->message);
}

static void tls_handshake_done_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct tun_tls_op *op = data;
	struct tun_conn *c = op->c;
	g_autoptr(GError) err = NULL;
	g_autofree char *why = NULL;
	uint8_t key[TLS_EXPORTER_LEN];
	char text[200];
	bool ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(src), res, &err);

	if (!c) {		/* the connection closed meanwhile */
		tls_op_free(op);
		return;
	}
	c->tls_op = NULL;
	if (!ok) {
		why = tls_failure_str(c->tun->tls, op, err);
		tls_op_free(op);
		tls_refuse(c, why);
		return;
	}
	g_signal_handlers_disconnect_by_data(op->conn, op);
	c->tls = g_steal_pointer(&op->conn);
	tls_op_free(op);
	/* the peer answering at this address must be the one we dialled */
	if (c->initiator && !tun_tls_peer_named(c, c->peer->name, text, sizeof(text))) {
		tls_refuse(c, text);
		return;
	}
	if (!tls_auth_key(c, key, &why)) {
		tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
		return;
	}
	vs_log(TUN, INFO, NULL, "connection %s: TLS up", c->desc);
	if (tun_conn_start_auth(c, key, sizeof(key)))
		tun_conn_flush(c);
	explicit_bzero(key, sizeof(key));
}

void tun_tls_start(struct tun_conn *c)
{
	const struct tun_tls *tls = c->tun->tls;
	g_autoptr(GSocketConnection) base = g_socket_connection_factory_create_connection(c->sock);
	g_autoptr(GError) err = NULL;
	struct tun_tls_op *op;
	GIOStream *conn;

	if (c->initiator) {
		conn = g_tls_client_connection_new(G_IO_STREAM(base), NULL, &err);
	} else {
		conn = g_tls_server_connection_new(G_IO_STREAM(base), tls->cert, &err);
		if (conn)
			g_object_set(conn, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED,
				     NULL);
	}
	if (!conn) {
		g_autofree char *why = g_strdup_printf("TLS: %s", err->message);

		tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
		return;
	}
	g_tls_connection_set_certificate(G_TLS_CONNECTION(conn), tls->cert);
	g_tls_connection_set_database(G_TLS_CONNECTION(conn), tls->ca);
	/* the tunnel's own END/ERROR say when a stream ends, not close_notify */
	g_tls_connection_set_require_close_notify(G_TLS_CONNECTION(conn), FALSE);
	op = g_new0(struct tun_tls_op, 1);
	op->c = c;
	op->conn = conn;
	op->cancel = g_cancellable_new();
	g_signal_connect(conn, "accept-certificate", G_CALLBACK(tls_accept_certificate_cb), op);
	c->tls_op = op;
	g_tls_connection_handshake_async(G_TLS_CONNECTION(conn), G_PRIORITY_DEFAULT, op->cancel,
					 tls_handshake_done_cb, op);
}

void tun_tls_abort(struct tun_conn *c)
{
	struct tun_tls_op *op = c->tls_op;

	if (!op)
		return;
	c->tls_op = NULL;
	op->c = NULL;		/* the callback only frees it now */
	g_cancellable_cancel(op->cancel);
}
