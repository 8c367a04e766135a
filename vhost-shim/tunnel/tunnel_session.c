/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_session.c - one tunnel connection's TLS 1.3 session: handshake,
 * the peer's certificate, the AUTH key
 *
 * Theory of operation: see tunnel_tls.h.  tun_sess_start() makes a GnuTLS
 * session for the connection (client if we dialled, server if we
 * accepted) with the tunnel's current credentials, of which it keeps a
 * reference, and tun_sess_handshake() drives it from the main loop: each
 * call runs gnutls_handshake() until GNUTLS_E_AGAIN, then waits for the
 * socket in the direction GnuTLS names (gnutls_record_get_direction()),
 * and only that direction, so a readable socket cannot spin the loop
 * while the handshake waits to write.
 *
 * Certificates: GnuTLS verifies the peer's chain during the handshake
 * (gnutls_session_set_verify_cert2(): the CA, the CRL, the dates and the
 * key purpose: TLS server if we dialled, TLS client if we accepted), with
 * no host name: the identity rule is ours (tunnel_tls_id.c), applied to
 * the peer we dialled as soon as the handshake is done, and by tunnel.c to
 * the name in the peer's HELLO.  Pre-shared key: GnuTLS proves both sides
 * hold the key (the PSK binder and the Finished messages).
 *
 * A failed handshake becomes one log line that says what was wrong (which
 * certificate and why, no certificate, another key, a peer that speaks
 * tunnel protocol version 1 in clear), is counted (auth_failures and
 * tls_failures, or version_refusals) and closes the connection; GnuTLS's
 * alert tells the peer why.  Nothing of the tunnel protocol is sent before
 * the handshake is done.
 *
 * Once TLS is up: the AUTH key is derived from the session's RFC 9266
 * exporter (tunnel_tls.h) and tunnel.c starts HELLO/AUTH inside it.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"
#include "tunnel_tls.h"

const struct tun_creds *tun_sess_creds(const struct tun_conn *c)
{
	return c->sess ? c->sess->creds : NULL;
}

void tun_sess_free(struct tun_conn *c)
{
	struct tun_sess *sess = c->sess;

	if (!sess)
		return;
	c->sess = NULL;
	if (sess->s)
		gnutls_deinit(sess->s);
	tun_creds_unref(sess->creds);
	g_free(sess);
}

/* Security consideration: the longest peer chain we look at (GnuTLS has
 * verified it already; this bounds only our own re-imports) */
#define SESS_CHAIN_MAX	16

static void sess_chain_free(gnutls_x509_crt_t *chain, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	g_free(chain);
}

/* The peer's certificate chain, leaf first, imported; n = 0 without one */
static gnutls_x509_crt_t *sess_peer_chain(const struct tun_conn *c, unsigned int *n)
{
	const gnutls_datum_t *der;
	gnutls_x509_crt_t *chain;
	unsigned int count = 0, i;

	*n = 0;
	if (!c->sess || gnutls_certificate_type_get(c->sess->s) != GNUTLS_CRT_X509)
		return NULL;
	der = gnutls_certificate_get_peers(c->sess->s, &count);
	if (!der || !count)
		return NULL;
	count = MIN(count, SESS_CHAIN_MAX);
	chain = g_new0(gnutls_x509_crt_t, count);
	for (i = 0; i < count; i++)
		if (gnutls_x509_crt_init(&chain[i]) < 0 ||
		    gnutls_x509_crt_import(chain[i], &der[i], GNUTLS_X509_FMT_DER) < 0) {
			sess_chain_free(chain, chain[i] ? i + 1 : i);
			return NULL;
		}
	*n = count;
	return chain;
}

GBytes *tun_sess_peer_cert(const struct tun_conn *c)
{
	const gnutls_datum_t *der;
	unsigned int count = 0;

	if (!c->sess)
		return NULL;
	der = gnutls_certificate_get_peers(c->sess->s, &count);
	return der && count ? g_bytes_new(der[0].data, der[0].size) : NULL;
}

/* The subject of the peer's certificate, for log lines ("none") */
static char *sess_peer_subject(const struct tun_conn *c)
{
	unsigned int n = 0;
	gnutls_x509_crt_t *chain = sess_peer_chain(c, &n);
	char *dn = n ? tun_tls_crt_subject(chain[0]) : g_strdup("none");

	sess_chain_free(chain, n);
	return dn;
}

bool tun_tls_peer_named(struct tun_conn *c, const char *name, char *why, size_t why_len)
{
	unsigned int n = 0;
	gnutls_x509_crt_t *chain;
	g_autofree char *dn = NULL;
	bool ok;

	if (!c->sess || !tun_creds_x509(c->sess->creds))
		return true;
	chain = sess_peer_chain(c, &n);
	ok = n && tun_tls_crt_names_node(chain[0], name);
	dn = n ? tun_tls_crt_subject(chain[0]) : g_strdup("none");
	sess_chain_free(chain, n);
	if (!ok)
		g_snprintf(why, why_len, "TLS: peer certificate (%s) does not name node %s", dn,
			   name);
	return ok;
}

bool tun_sess_recheck(struct tun_conn *c, const struct tun_creds *cr, char *why,
		      size_t why_len)
{
	unsigned int n = 0;
	gnutls_x509_crt_t *chain;
	char what[160];
	bool ok;

	if (!c->sess || !c->sess->up || !tun_creds_x509(cr))
		return true;
	chain = sess_peer_chain(c, &n);
	ok = n && tun_creds_verify_chain(cr, chain, n, c->initiator, what, sizeof(what));
	if (!ok) {
		g_autofree char *dn = n ? tun_tls_crt_subject(chain[0]) : g_strdup("none");

		g_snprintf(why, why_len, "TLS: after the reload, peer certificate (%s) is refused: %s",
			   dn, n ? what : "none");
	}
	sess_chain_free(chain, n);
	return ok;
}

/* The AUTH key of a TLS session (tunnel_tls.h); false with @why set */
static bool sess_auth_key(struct tun_conn *c, uint8_t key[VS_TUN_TLS_EXPORTER_LEN], char **why)
{
	uint8_t exporter[VS_TUN_TLS_EXPORTER_LEN];
	const uint8_t *psk;
	size_t psk_len = 0;
	gsize len = VS_TUN_TLS_EXPORTER_LEN;
	int r;

	psk = tun_creds_psk(c->sess->creds, &psk_len);
	/* RFC 9266: label "EXPORTER-Channel-Binding", empty context, 32 bytes */
	r = gnutls_prf_rfc5705(c->sess->s, strlen(VS_TUN_TLS_EXPORTER_LABEL),
			       VS_TUN_TLS_EXPORTER_LABEL, 0, NULL, sizeof(exporter),
			       (char *)exporter);
	if (r < 0) {
		*why = g_strdup_printf("TLS: no tls-exporter channel binding: %s",
				       gnutls_strerror(r));
		return false;
	}
	if (!psk_len) {
		memcpy(key, exporter, sizeof(exporter));
	} else {
		GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, psk, psk_len);

		g_hmac_update(h, exporter, sizeof(exporter));
		g_hmac_get_digest(h, key, &len);
		g_hmac_unref(h);
	}
	explicit_bzero(exporter, sizeof(exporter));
	return true;
}

/* Refuse the peer: one log line (tun_conn_close()), two counters */
static void sess_refuse(struct tun_conn *c, const char *why)
{
	c->tun->stats.auth_failures++;
	c->tun->stats.tls_failures++;
	tun_conn_close(c, VS_TUN_ERR_AUTH_FAIL, why);
}

char *tun_sess_alert_str(const struct tun_conn *c)
{
	gnutls_alert_description_t a = gnutls_alert_get(c->sess->s);
	bool x509 = tun_creds_x509(c->sess->creds);
	const char *hint = "";

	if (!x509 && (a == GNUTLS_A_ILLEGAL_PARAMETER || a == GNUTLS_A_DECRYPT_ERROR ||
		      a == GNUTLS_A_UNKNOWN_PSK_IDENTITY))
		hint = ": another pre-shared key?";
	else if (a == GNUTLS_A_HANDSHAKE_FAILURE || a == GNUTLS_A_INSUFFICIENT_SECURITY ||
		 a == GNUTLS_A_PROTOCOL_VERSION)
		hint = ": does the peer speak TLS 1.3 in the same tls mode (x509 or a "
		       "pre-shared key)?";
	else if (x509 && (a == GNUTLS_A_BAD_CERTIFICATE || a == GNUTLS_A_CERTIFICATE_REVOKED ||
			  a == GNUTLS_A_CERTIFICATE_EXPIRED || a == GNUTLS_A_UNKNOWN_CA ||
			  a == GNUTLS_A_CERTIFICATE_UNKNOWN ||
			  a == GNUTLS_A_UNSUPPORTED_CERTIFICATE))
		hint = ": it refused our certificate";
	else if (a == GNUTLS_A_BAD_RECORD_MAC)
		hint = ": our data did not verify there (changed on the way?)";
	return g_strdup_printf("alert %s%s", gnutls_alert_get_name(a), hint);
}

/* What a failed handshake means, in words */
static char *sess_failure_str(struct tun_conn *c, int r)
{
	const struct tun_creds *cr = c->sess->creds;
	bool x509 = tun_creds_x509(cr);

	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		g_autofree char *what = tun_tls_status_str(
			gnutls_session_get_verify_cert_status(c->sess->s));
		g_autofree char *dn = sess_peer_subject(c);

		return g_strdup_printf("TLS: peer certificate (%s) refused: %s (tls-ca %s)", dn,
				       what, tun_creds_ca_path(cr));
	}
	if (r == GNUTLS_E_CERTIFICATE_REQUIRED || r == GNUTLS_E_NO_CERTIFICATE_FOUND)
		return g_strdup("TLS: peer sent no certificate");
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		g_autofree char *alert = tun_sess_alert_str(c);

		return g_strdup_printf("TLS: the peer refused the handshake (%s)", alert);
	}
	if (!x509 && (r == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER || r == GNUTLS_E_DECRYPTION_FAILED))
		return g_strdup_printf("TLS handshake failed: %s: another pre-shared key?",
				       gnutls_strerror(r));
	if (r == GNUTLS_E_NO_CIPHER_SUITES || r == GNUTLS_E_INSUFFICIENT_CREDENTIALS ||
	    r == GNUTLS_E_NO_COMMON_KEY_SHARE || r == GNUTLS_E_UNSUPPORTED_VERSION_PACKET)
		return g_strdup_printf("TLS handshake failed: %s: does the peer speak TLS 1.3 "
				       "in the same tls mode (x509 or a pre-shared key)?",
				       gnutls_strerror(r));
	if (r == GNUTLS_E_PULL_ERROR || r == GNUTLS_E_PUSH_ERROR)
		return g_strdup_printf("TLS handshake failed: %s",
				       g_strerror(c->sess->io_errno ? c->sess->io_errno : EIO));
	return g_strdup_printf("TLS handshake failed: %s", gnutls_strerror(r));
}

/* The handshake failed with @r: say why, count it, close */
static void sess_failed(struct tun_conn *c, int r)
{
	g_autofree char *why = NULL;

	/*
	 * A version-1 shim answers a ClientHello with its HELLO in clear.
	 * GnuTLS stops at the record header it cannot parse: the rest of
	 * the HELLO is still in the socket (it came in one piece).
	 */
	if (c->initiator && vs_tun_sniff(c->first, c->first_len) == VS_TUN_SNIFF_MORE) {
		ssize_t n = recv(g_socket_get_fd(c->sock), c->first + c->first_len,
				 sizeof(c->first) - c->first_len, MSG_DONTWAIT);

		if (n > 0)
			c->first_len += (size_t)n;
	}
	if (c->initiator && vs_tun_sniff(c->first, c->first_len) == VS_TUN_SNIFF_V1) {
		tun_conn_refuse_version(c, 1, false,
					"it answered our TLS ClientHello with a HELLO in clear");
		return;
	}
	if (r == GNUTLS_E_PREMATURE_TERMINATION || r == GNUTLS_E_PULL_ERROR) {
		/* closed or reset during the handshake: nothing to tell */
		why = sess_failure_str(c, r);
		c->tun->stats.auth_failures++;
		tun_conn_close(c, VS_TUN_OK, r == GNUTLS_E_PREMATURE_TERMINATION
				? "closed by the peer during the TLS handshake" : why);
		return;
	}
	why = sess_failure_str(c, r);
	/* tell the peer (bad_certificate, certificate_revoked, ...) */
	gnutls_alert_send_appropriate(c->sess->s, r);
	c->sess->broken = true;
	sess_refuse(c, why);
}

/* TLS is up: check who answered, derive the AUTH key, start HELLO/AUTH */
static void sess_up(struct tun_conn *c)
{
	uint8_t key[VS_TUN_TLS_EXPORTER_LEN];
	g_autofree char *why = NULL;
	char *desc;
	char text[200];

	c->sess->up = true;
	tun_conn_set_phase(c, TUN_PHASE_UP);
	/* the peer answering at this address must be the one we dialled */
	if (c->initiator && !tun_tls_peer_named(c, c->peer->name, text, sizeof(text))) {
		sess_refuse(c, text);
		return;
	}
	if (!sess_auth_key(c, key, &why)) {
		tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
		return;
	}
	desc = gnutls_session_get_desc(c->sess->s);
	vs_log(TUN, INFO, NULL, "connection %s: TLS up %s, %s", c->desc, desc ? desc : "",
	       tun_creds_x509(c->sess->creds) ? "certificates" : "pre-shared key");
	gnutls_free(desc);
	if (tun_conn_start_auth(c, key, sizeof(key)))
		tun_conn_flush(c);
	explicit_bzero(key, sizeof(key));
}

void tun_sess_handshake(struct tun_conn *c)
{
	int r;

	if (c->dead || c->phase != TUN_PHASE_TLS)
		return;
	do {
		r = gnutls_handshake(c->sess->s);
	} while (r < 0 && r != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(r));
	if (r == GNUTLS_E_AGAIN) {
		bool out = gnutls_record_get_direction(c->sess->s) == 1;

		tun_conn_watch(c, !out, out);
		return;
	}
	if (r < 0) {
		sess_failed(c, r);
		return;
	}
	tun_conn_watch(c, true, false);
	sess_up(c);
}

bool tun_sess_start(struct tun_conn *c)
{
	struct tun_sess *sess = g_new0(struct tun_sess, 1);
	unsigned int flags = (c->initiator ? GNUTLS_CLIENT : GNUTLS_SERVER) | GNUTLS_NONBLOCK |
			     GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS;
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		/* a client checks the server's certificate, a server the client's */
		.data = (unsigned char *)(c->initiator ? GNUTLS_KP_TLS_WWW_SERVER
						       : GNUTLS_KP_TLS_WWW_CLIENT),
	};
	int r;

	c->sess = sess;
	sess->creds = tun_creds_ref(c->tun->creds);
	r = gnutls_init(&sess->s, flags);
	if (r < 0) {
		sess->s = NULL;
	} else {
		r = tun_creds_apply(sess->creds, sess->s, !c->initiator);
	}
	if (r < 0) {
		g_autofree char *why = g_strdup_printf("TLS: %s", gnutls_strerror(r));

		tun_conn_close(c, VS_TUN_OK, why);
		return false;
	}
	gnutls_session_set_ptr(sess->s, c);
	/* our own deadline covers the handshake (handshake_timer) */
	gnutls_handshake_set_timeout(sess->s, 0);
	if (tun_creds_x509(sess->creds))
		gnutls_session_set_verify_cert2(sess->s, &purpose, 1, 0);
	tun_io_attach(c, sess->s);
	tun_conn_set_phase(c, TUN_PHASE_TLS);
	tun_sess_handshake(c);
	return !c->dead;
}
