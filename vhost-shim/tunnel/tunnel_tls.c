/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_tls.c - the tunnel's TLS credentials: load, check, reload
 *
 * Theory of operation: see tunnel_tls.h.  tun_creds_load() reads what the
 * configuration names (the key file; with tls=x509 also the CA, the CRL,
 * our certificate and its key) into one struct tun_creds, with GnuTLS
 * credentials and the priority of its mode, and refuses, naming the file
 * and what to fix, a key or a certificate a peer would refuse: a missing
 * or unreadable file, a key file anyone else can read, a certificate not
 * valid now, one that does not verify against the CA for both TLS server
 * and client use (or that the CRL revokes), one that does not name our
 * node.  At startup a refusal stops the daemon; on SIGHUP
 * (vs_tun_reload()) it leaves the credentials in use alone.
 *
 * Lifetime: the tunnel holds a reference on its current credentials, and
 * every TLS session one on those it was made with, since GnuTLS keeps
 * pointers to them for the whole session.  A reload replaces the tunnel's;
 * the old ones go with their last session.  So established connections
 * keep their keys and certificates, and new ones use the new files.
 *
 * The pre-shared key reaches GnuTLS's server side through a callback that
 * finds the session's own credentials (gnutls_session_get_ptr() is the
 * connection); the client side gets it once, at load.  Keys are wiped
 * when the last reference goes.
 */
#include <string.h>
#include <time.h>

#include "log.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"
#include "tunnel_tls.h"

struct tun_creds {
	gint ref;
	unsigned int generation;
	uint8_t psk[VS_TUN_PSK_MAX];	/* key-file, if any */
	size_t psk_len;
	bool x509;
	gnutls_priority_t prio;
	gnutls_psk_client_credentials_t psk_client;	/* pre-shared key mode */
	gnutls_psk_server_credentials_t psk_server;
	gnutls_certificate_credentials_t cert;		/* x509: ours, CA, CRL */
	gnutls_x509_trust_list_t trust;			/* x509: CA and CRL, to verify */
	char *ca_path;
	bool crl;					/* a CRL is loaded */
};

struct tun_creds *tun_creds_ref(struct tun_creds *cr)
{
	g_atomic_int_inc(&cr->ref);
	return cr;
}

void tun_creds_unref(struct tun_creds *cr)
{
	if (!cr || !g_atomic_int_dec_and_test(&cr->ref))
		return;
	if (cr->prio)
		gnutls_priority_deinit(cr->prio);
	if (cr->psk_client)
		gnutls_psk_free_client_credentials(cr->psk_client);
	if (cr->psk_server)
		gnutls_psk_free_server_credentials(cr->psk_server);
	if (cr->cert)
		gnutls_certificate_free_credentials(cr->cert);
	if (cr->trust)
		gnutls_x509_trust_list_deinit(cr->trust, 1);
	explicit_bzero(cr->psk, sizeof(cr->psk));
	g_free(cr->ca_path);
	g_free(cr);
}

bool tun_creds_x509(const struct tun_creds *cr)
{
	return cr->x509;
}

bool tun_creds_has_crl(const struct tun_creds *cr)
{
	return cr && cr->crl;
}

unsigned int tun_creds_generation(const struct tun_creds *cr)
{
	return cr->generation;
}

const uint8_t *tun_creds_psk(const struct tun_creds *cr, size_t *len)
{
	*len = cr->psk_len;
	return cr->psk;
}

const char *tun_creds_ca_path(const struct tun_creds *cr)
{
	return cr->ca_path ? cr->ca_path : "";
}

int tun_creds_apply(struct tun_creds *cr, gnutls_session_t session, bool server)
{
	int r = gnutls_priority_set(session, cr->prio);

	if (r < 0)
		return r;
	if (!cr->x509)
		return server ? gnutls_credentials_set(session, GNUTLS_CRD_PSK, cr->psk_server)
			      : gnutls_credentials_set(session, GNUTLS_CRD_PSK, cr->psk_client);
	r = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cr->cert);
	if (r < 0)
		return r;
	if (server) {
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
		/*
		 * Do not name our CA in the CertificateRequest: a client whose
		 * certificate comes from another CA would then send none, and
		 * the log would say "no certificate" instead of naming the
		 * certificate and what is wrong with it
		 */
		gnutls_certificate_send_x509_rdn_sequence(session, 1);
	}
	return 0;
}

/* ---- Certificates: names and verdicts ---------------------------------- */

char *tun_tls_status_str(unsigned int status)
{
	static const struct {
		unsigned int flag;
		const char *text;
	} names[] = {
		{ GNUTLS_CERT_SIGNER_NOT_FOUND, "not signed by our CA" },
		{ GNUTLS_CERT_SIGNER_NOT_CA, "signed by a certificate that is not a CA" },
		{ GNUTLS_CERT_REVOKED, "revoked (tls-crl)" },
		{ GNUTLS_CERT_NOT_ACTIVATED, "not valid yet" },
		{ GNUTLS_CERT_EXPIRED, "expired" },
		{ GNUTLS_CERT_PURPOSE_MISMATCH, "not for this use (key purpose)" },
		{ GNUTLS_CERT_INSECURE_ALGORITHM, "uses an insecure algorithm" },
		{ GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature" },
		{ GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "breaks its signer's constraints" },
		{ GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED, "tls-crl is out of date" },
		{ GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE, "tls-crl is issued in the future" },
		{ GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "has an unknown critical extension" },
	};
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (status & names[i].flag)
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", names[i].text);
	if (!s->len)
		g_string_append(s, "cannot be verified");
	return g_string_free(s, FALSE);
}

char *tun_tls_crt_subject(gnutls_x509_crt_t crt)
{
	gnutls_datum_t dn = { NULL, 0 };
	char *s;

	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0 || !dn.data)
		return g_strdup("?");
	s = g_strndup((const char *)dn.data, dn.size);
	gnutls_free(dn.data);
	return s;
}

/*
 * The names a certificate carries, for tunnel_tls_id.c: its subject DN
 * (its CN is found there) and its DNS subjectAltNames as a NULL-terminated
 * vector.  A DNS name with a NUL or of 256 bytes or more is left out.
 */
bool tun_tls_crt_names_node(gnutls_x509_crt_t crt, const char *name)
{
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	g_autofree char *dn = tun_tls_crt_subject(crt);
	g_autofree char *cn = vs_tun_tls_dn_common_name(dn);
	g_auto(GStrv) dns = NULL;
	unsigned int i;

	for (i = 0; i < 64; i++) {
		char buf[256];
		size_t size = sizeof(buf) - 1;
		int r = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);

		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r == GNUTLS_E_SHORT_MEMORY_BUFFER || r != GNUTLS_SAN_DNSNAME)
			continue;	/* too long for a node name, or not a DNS name */
		if (size && size < sizeof(buf) && !memchr(buf, '\0', size)) {
			buf[size] = '\0';
			g_strv_builder_add(b, buf);
		}
	}
	dns = g_strv_builder_end(b);
	return vs_tun_tls_names_match(cn, (const char *const *)dns, name);
}

bool tun_creds_verify_chain(const struct tun_creds *cr, gnutls_x509_crt_t *chain, unsigned int n,
			    bool server, char *why, size_t why_len)
{
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)(server ? GNUTLS_KP_TLS_WWW_SERVER
						 : GNUTLS_KP_TLS_WWW_CLIENT),
	};
	unsigned int status = 0;
	int r = gnutls_x509_trust_list_verify_crt2(cr->trust, chain, n, &purpose, 1, 0, &status,
						   NULL);

	if (r < 0) {
		g_snprintf(why, why_len, "%s", gnutls_strerror(r));
		return false;
	}
	if (status) {
		g_autofree char *what = tun_tls_status_str(status);

		g_snprintf(why, why_len, "%s", what);
		return false;
	}
	return true;
}

/* ---- Loading ------------------------------------------------------------ */

/* Read @path fully, so that a missing or unreadable file says so plainly */
static gboolean creds_check_readable(const char *key, const char *path, GError **error)
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

static char *creds_time_str(time_t t)
{
	g_autoptr(GDateTime) d = g_date_time_new_from_unix_utc(t);

	return d ? g_date_time_format_iso8601(d) : g_strdup_printf("%lld", (long long)t);
}

/* Our certificate must pass the checks a peer will make, in both roles */
static gboolean creds_check_own(struct tun_creds *cr, const struct vs_tun *t, GError **error)
{
	const char *path = t->cred_cfg.tls_cert;
	g_autofree char *data = NULL;
	gnutls_x509_crt_t *chain = NULL;
	unsigned int n = 0, i;
	gboolean ok = FALSE;
	gsize len = 0;
	time_t now = time(NULL);
	char why[200];
	gnutls_datum_t d;
	int r;

	if (!g_file_get_contents(path, &data, &len, NULL))
		len = 0;
	d.data = (unsigned char *)data;
	d.size = (unsigned int)len;
	r = gnutls_x509_crt_list_import2(&chain, &n, &d, GNUTLS_X509_FMT_PEM, 0);
	if (r < 0 || !n) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: %s", path,
			    r < 0 ? gnutls_strerror(r) : "no certificate in it");
		goto out;
	}
	if (gnutls_x509_crt_get_activation_time(chain[0]) > now) {
		g_autofree char *at = creds_time_str(gnutls_x509_crt_get_activation_time(chain[0]));

		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: not valid before %s",
			    path, at);
		goto out;
	}
	if (gnutls_x509_crt_get_expiration_time(chain[0]) < now) {
		g_autofree char *at = creds_time_str(gnutls_x509_crt_get_expiration_time(chain[0]));

		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s: expired on %s", path, at);
		goto out;
	}
	for (i = 0; i < 2; i++)
		if (!tun_creds_verify_chain(cr, chain, n, i == 0, why, sizeof(why))) {
			g_set_error(error, VS_TUN_ERROR, 0,
				    "[tunnel] tls-cert %s does not verify against tls-ca %s as a "
				    "TLS %s: %s", path, cr->ca_path, i ? "client" : "server", why);
			goto out;
		}
	if (!tun_tls_crt_names_node(chain[0], t->node_name)) {
		g_autofree char *dn = tun_tls_crt_subject(chain[0]);

		g_set_error(error, VS_TUN_ERROR, 0,
			    "[tunnel] tls-cert %s (%s) does not name this node '%s': peers would "
			    "refuse it (give it DNS subjectAltName %s)", path, dn, t->node_name,
			    t->node_name);
		goto out;
	}
	ok = TRUE;
out:
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	return ok;
}

static gboolean creds_load_x509(struct tun_creds *cr, const struct vs_tun *t, GError **error)
{
	const struct tun_cred_cfg *cc = &t->cred_cfg;
	/* the default CRL file counts only if it is there, now */
	const char *crl = cc->tls_crl && (!cc->tls_crl_optional ||
					  g_file_test(cc->tls_crl, G_FILE_TEST_EXISTS))
				  ? cc->tls_crl : NULL;
	int r;

	if (!creds_check_readable("tls-ca", cc->tls_ca, error) ||
	    !creds_check_readable("tls-cert", cc->tls_cert, error) ||
	    !creds_check_readable("tls-key", cc->tls_key, error) ||
	    (crl && !creds_check_readable("tls-crl", crl, error)))
		return FALSE;
	cr->ca_path = g_strdup(cc->tls_ca);
	if (gnutls_certificate_allocate_credentials(&cr->cert) < 0 ||
	    gnutls_x509_trust_list_init(&cr->trust, 0) < 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] TLS: out of memory");
		return FALSE;
	}
	/* CRLs are checked against the CA as they are added (CA first) */
	gnutls_certificate_set_flags(cr->cert, GNUTLS_CERTIFICATE_VERIFY_CRLS);
	r = gnutls_certificate_set_x509_trust_file(cr->cert, cc->tls_ca, GNUTLS_X509_FMT_PEM);
	if (r <= 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-ca %s: %s", cc->tls_ca,
			    r < 0 ? gnutls_strerror(r) : "no certificate in it");
		return FALSE;
	}
	if (crl) {
		r = gnutls_certificate_set_x509_crl_file(cr->cert, crl, GNUTLS_X509_FMT_PEM);
		if (r <= 0) {
			g_set_error(error, VS_TUN_ERROR, 0,
				    "[tunnel] tls-crl %s: %s (a PEM CRL signed by tls-ca %s, before "
				    "its next update date)", crl,
				    r < 0 ? gnutls_strerror(r) : "no valid CRL in it", cc->tls_ca);
			return FALSE;
		}
		cr->crl = true;
	}
	r = gnutls_x509_trust_list_add_trust_file(cr->trust, cc->tls_ca, crl,
						  GNUTLS_X509_FMT_PEM, GNUTLS_TL_VERIFY_CRL, 0);
	if (r <= 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-ca %s: %s", cc->tls_ca,
			    r < 0 ? gnutls_strerror(r) : "no certificate in it");
		return FALSE;
	}
	r = gnutls_certificate_set_x509_key_file2(cr->cert, cc->tls_cert, cc->tls_key,
						  GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r < 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] tls-cert %s, tls-key %s: %s",
			    cc->tls_cert, cc->tls_key, gnutls_strerror(r));
		return FALSE;
	}
	return creds_check_own(cr, t, error);
}

/*
 * GnuTLS server side: the key for the identity the client named.  The
 * session's credentials are those of its connection (a reload in the
 * middle of a handshake does not change them).  One identity only.
 */
static int creds_psk_server_cb(gnutls_session_t session, const gnutls_datum_t *identity,
			       gnutls_datum_t *key)
{
	struct tun_conn *c = gnutls_session_get_ptr(session);
	const struct tun_creds *cr = c ? tun_sess_creds(c) : NULL;

	if (!cr || !cr->psk_len || identity->size != strlen(VS_TUN_TLS_PSK_IDENTITY) ||
	    memcmp(identity->data, VS_TUN_TLS_PSK_IDENTITY, identity->size))
		return -1;
	key->data = gnutls_malloc(cr->psk_len);
	if (!key->data)
		return -1;
	memcpy(key->data, cr->psk, cr->psk_len);
	key->size = (unsigned int)cr->psk_len;
	return 0;
}

static gboolean creds_load_psk(struct tun_creds *cr, GError **error)
{
	gnutls_datum_t key = { cr->psk, (unsigned int)cr->psk_len };

	if (gnutls_psk_allocate_client_credentials(&cr->psk_client) < 0 ||
	    gnutls_psk_allocate_server_credentials(&cr->psk_server) < 0 ||
	    gnutls_psk_set_client_credentials(cr->psk_client, VS_TUN_TLS_PSK_IDENTITY, &key,
					      GNUTLS_PSK_KEY_RAW) < 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] TLS: cannot set up the pre-shared key");
		return FALSE;
	}
	gnutls_psk_set_server_credentials_function2(cr->psk_server, creds_psk_server_cb);
	return TRUE;
}

struct tun_creds *tun_creds_load(const struct vs_tun *t, unsigned int generation,
				 GError **error)
{
	const struct tun_cred_cfg *cc = &t->cred_cfg;
	struct tun_creds *cr = g_new0(struct tun_creds, 1);
	const char *prio = cc->tls ? VS_TUN_TLS_PRIORITY_X509 : VS_TUN_TLS_PRIORITY_PSK;
	const char *bad = NULL;
	int r;

	cr->ref = 1;
	cr->generation = generation;
	cr->x509 = cc->tls;
	if (cc->key_file && !vs_tun_load_psk(cc->key_file, cr->psk, &cr->psk_len, error))
		goto fail;
	if (!cc->tls && !cr->psk_len) {
		g_set_error(error, VS_TUN_ERROR, 0, "[tunnel] key-file or tls=x509 is required");
		goto fail;
	}
	if (cc->tls ? !creds_load_x509(cr, t, error) : !creds_load_psk(cr, error))
		goto fail;
	r = gnutls_priority_init(&cr->prio, prio, &bad);
	if (r < 0) {
		g_set_error(error, VS_TUN_ERROR, 0, "TLS priority \"%s\": %s at \"%s\"", prio,
			    gnutls_strerror(r), bad ? bad : "?");
		goto fail;
	}
	return cr;
fail:
	tun_creds_unref(cr);
	return NULL;
}
