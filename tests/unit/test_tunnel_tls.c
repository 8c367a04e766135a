/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_tls.c - x509 mode and the credentials: the identity rule
 * (tunnel_tls_id.c), the [tunnel] TLS keys (config.c), and real tunnels
 * with certificates from a throw-away CA (tun_pki.h): a handshake, a
 * revoked certificate refused, credentials reloaded under an established
 * stream (certificates and the pre-shared key), a reload refused, a
 * reload with a CRL that cuts a peer off.
 *
 * The same with QEMU and two daemons: the e2e tests migration-tls
 * (tests/e2e/test_migration.py) and tunnel-tls-reload
 * (tests/e2e/test_tunnel_security.py).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "log.h"
#include "tun_harness.h"
#include "tun_pki.h"
#include "tunnel_tls.h"

static void check_cn(const char *dn, const char *want)
{
	g_autofree char *cn = vs_tun_tls_dn_common_name(dn);

	g_assert_cmpstr(cn, ==, want);
}

static void test_dn_common_name(void)
{
	check_cn("CN=hosta", "hosta");
	check_cn("CN=hosta,O=Example,C=DE", "hosta");
	check_cn("O=Example,CN=hosta", "hosta");
	check_cn("cn=hosta", "hosta");			/* types are case-insensitive */
	check_cn("2.5.4.3=hosta", "hosta");		/* by OID */
	check_cn("O=Example\\, Inc.,CN=hosta", "hosta");	/* escaped separator */
	check_cn("CN=a\\2Cb", "a,b");			/* hex escape */
	check_cn("CN=a\\+b+O=x", "a+b");		/* multi-valued RDN */
	check_cn("O=Example", NULL);			/* no CN */
	check_cn("", NULL);
	check_cn(NULL, NULL);
	check_cn("CN=hosta,CN=hostb", NULL);		/* two CNs: neither */
	check_cn("CN=hostb\\00evil", NULL);		/* escaped NUL */
	check_cn("CN=hosta\\", NULL);			/* dangling backslash */
	check_cn("hosta", NULL);			/* no TYPE= */
	check_cn("=hosta", NULL);
	check_cn("O=x,,CN=hosta", NULL);		/* empty attribute */
}

static void test_dn_limit(void)
{
	g_autofree char *pad = g_strnfill(VS_TUN_TLS_DN_MAX - strlen("CN=h,O="), 'x');
	g_autofree char *at_max = g_strconcat("CN=h,O=", pad, NULL);
	g_autofree char *over = g_strconcat(at_max, "x", NULL);

	g_assert_cmpuint(strlen(at_max), ==, VS_TUN_TLS_DN_MAX);
	check_cn(at_max, "h");
	check_cn(over, NULL);
}

static void test_names_match(void)
{
	const char *const dns_a[] = { "hosta", NULL };
	const char *const dns_ab[] = { "other", "HostA", NULL };
	const char *const dns_wild[] = { "*", "host*", NULL };
	const char *const none[] = { NULL };

	/* the DNS names decide when there are any */
	g_assert_true(vs_tun_tls_names_match(NULL, dns_a, "hosta"));
	g_assert_true(vs_tun_tls_names_match("x", dns_ab, "hosta"));	/* case */
	g_assert_false(vs_tun_tls_names_match("hosta", dns_ab, "hostb"));
	g_assert_false(vs_tun_tls_names_match("hostb", dns_a, "hostb"));	/* CN ignored */
	g_assert_false(vs_tun_tls_names_match(NULL, dns_wild, "hosta"));	/* no wildcards */
	/* the CN only when there are none */
	g_assert_true(vs_tun_tls_names_match("hosta", NULL, "hosta"));
	g_assert_true(vs_tun_tls_names_match("hosta", none, "hosta"));
	g_assert_false(vs_tun_tls_names_match("hosta", none, "hostab"));
	g_assert_false(vs_tun_tls_names_match("hostab", none, "hosta"));
	g_assert_false(vs_tun_tls_names_match(NULL, NULL, "hosta"));
	g_assert_false(vs_tun_tls_names_match("", NULL, ""));
	g_assert_false(vs_tun_tls_names_match("hosta", NULL, NULL));
}

static struct vs_cfg *load(const char *text, GError **err)
{
	struct vs_cfg *cfg = vs_cfg_new();

	if (!vs_cfg_load_keyfile(cfg, text, strlen(text), err) || !vs_cfg_validate(cfg, err)) {
		vs_cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

static void test_cfg_files(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_cfg) def = load("[tunnel]\ntls=x509\nlisten=127.0.0.1:7400\n", &err);
	g_autoptr(vs_cfg) dir = NULL, each = NULL;
	g_autofree char *ca = NULL, *cert = NULL, *key = NULL;

	g_assert_no_error(err);
	g_assert_cmpint(def->tls, ==, VS_TLS_X509);
	ca = vs_cfg_tls_file(def, VS_TLS_FILE_CA);
	cert = vs_cfg_tls_file(def, VS_TLS_FILE_CERT);
	key = vs_cfg_tls_file(def, VS_TLS_FILE_KEY);
	g_assert_cmpstr(ca, ==, VS_DEFAULT_TLS_DIR "/ca-cert.pem");
	g_assert_cmpstr(cert, ==, VS_DEFAULT_TLS_DIR "/server-cert.pem");
	g_assert_cmpstr(key, ==, VS_DEFAULT_TLS_DIR "/server-key.pem");

	dir = load("[tunnel]\ntls=x509\ntls-dir=/pki\ntls-key=/keys/k.pem\n", &err);
	g_assert_no_error(err);
	g_clear_pointer(&ca, g_free);
	g_clear_pointer(&key, g_free);
	ca = vs_cfg_tls_file(dir, VS_TLS_FILE_CA);
	key = vs_cfg_tls_file(dir, VS_TLS_FILE_KEY);
	g_assert_cmpstr(ca, ==, "/pki/ca-cert.pem");
	g_assert_cmpstr(key, ==, "/keys/k.pem");

	each = load("[tunnel]\ntls=none\ntls-ca=/a\ntls-cert=/b\n", &err);
	g_assert_no_error(err);
	g_assert_cmpint(each->tls, ==, VS_TLS_NONE);
}

static void check_error(const char *text, const char *needle)
{
	g_autoptr(GError) err = NULL;
	struct vs_cfg *cfg = load(text, &err);

	g_assert_null(cfg);
	g_assert_nonnull(err);
	if (!strstr(err->message, needle))
		g_error("'%s' not in '%s'", needle, err->message);
}

static void test_cfg_errors(void)
{
	check_error("[tunnel]\ntls=yes\n", "none or x509");
	check_error("[tunnel]\ntls-dir=relative\n", "absolute path");
	check_error("[tunnel]\ntls-key=k.pem\n", "absolute path");
	/* a tunnel needs a key or TLS */
	check_error("[tunnel]\nlisten=127.0.0.1:7400\n", "key-file or tls=x509");
}

/* Tunnel protocol v2: every connection is TLS 1.3, allow-cleartext is gone */
static void test_cfg_no_cleartext(void)
{
	g_autoptr(GError) err = NULL;
	struct vs_cfg *cfg;

	/* a pre-shared key to a peer off loopback: fine, it is TLS 1.3 now */
	cfg = load("[tunnel]\nkey-file=/k\nlisten=0.0.0.0:7400\n[peer hostb]\naddress=10.0.0.2:7401\n",
		   &err);
	g_assert_no_error(err);
	vs_cfg_free(cfg);
	check_error("[tunnel]\nkey-file=/k\nallow-cleartext=true\n",
		    "[tunnel] allow-cleartext: no longer exists: every tunnel connection is "
		    "encrypted and authenticated with TLS 1.3");
	check_error("[tunnel]\nallow-cleartext=false\n", "remove the line");
}

/* tls-crl: set (must exist), or TLS-DIR/ca-crl.pem (used when it exists) */
static void test_cfg_crl(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_cfg) cfg = load("[tunnel]\ntls=x509\ntls-dir=/pki\n", &err);
	g_autoptr(vs_cfg) set = load("[tunnel]\ntls=x509\ntls-crl=/pki/revoked.pem\n", &err);
	g_autofree char *dflt = NULL, *explicit_crl = NULL;

	g_assert_no_error(err);
	dflt = vs_cfg_tls_file(cfg, VS_TLS_FILE_CRL);
	g_assert_cmpstr(dflt, ==, "/pki/ca-crl.pem");
	g_assert_true(vs_cfg_tls_crl_optional(cfg));
	explicit_crl = vs_cfg_tls_file(set, VS_TLS_FILE_CRL);
	g_assert_cmpstr(explicit_crl, ==, "/pki/revoked.pem");
	g_assert_false(vs_cfg_tls_crl_optional(set));
	check_error("[tunnel]\ntls-crl=crl.pem\n", "absolute path");
}

/* --- real tunnels with certificates ---------------------------------------- */

static struct th_pki pki;

/* A tunnel @node with its certificate @tag of the test CA (and @crl: used
 * only if it exists when @crl starts with '?', as the default ca-crl.pem) */
static void x509_side(struct side *sd, const char *node, const char *tag, const char *crl)
{
	bool optional = crl && crl[0] == '?';
	g_autofree char *ca = th_pki_ca_path(&pki);
	g_autofree char *cert = th_pki_path(&pki, tag, "cert");
	g_autofree char *key = th_pki_path(&pki, tag, "key");
	g_autofree char *crl_path = crl ? g_build_filename(pki.dir, crl + optional, NULL) : NULL;
	struct vs_tun_cfg cfg = {
		.node_name = node, .listen = "127.0.0.1:0", .tls = true,
		.tls_ca = ca, .tls_cert = cert, .tls_key = key, .tls_crl = crl_path,
		.tls_crl_optional = optional,
	};

	side_init_cfg(sd, &cfg);
}

static void x509_pair(struct side *a, struct side *b, const char *crl_b)
{
	g_autofree char *aa = NULL, *ba = NULL;

	x509_side(a, "hosta", "hosta", NULL);
	x509_side(b, "hostb", "hostb", crl_b);
	aa = addr_of(a);
	ba = addr_of(b);
	g_assert_true(vs_tun_add_peer(a->t, "hostb", ba, NULL));
	g_assert_true(vs_tun_add_peer(b->t, "hosta", aa, NULL));
}

/* The DER of the PEM certificate in @tag-cert.pem */
static GBytes *cert_der(const char *tag)
{
	g_autofree char *path = th_pki_path(&pki, tag, "cert");
	g_autofree char *pem = NULL;
	gnutls_x509_crt_t crt;
	gnutls_datum_t in, out;
	gsize len = 0;
	GBytes *der;

	g_assert_true(g_file_get_contents(path, &pem, &len, NULL));
	in.data = (unsigned char *)pem;
	in.size = (unsigned int)len;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &out), ==, 0);
	der = g_bytes_new(out.data, out.size);
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(crt);
	return der;
}

static bool tls_failed(void *t)
{
	return vs_tun_get_stats(t)->tls_failures > 0;
}

static void test_x509_stream(void)
{
	struct vs_tun_stream *s;
	struct side a, b;

	x509_pair(&a, &b, NULL);
	th_log_clear();
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 50);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 50 }, DEADLINE_MS));
	check_seqs(&b, 50);
	g_assert_nonnull(th_log_find("TLS up (TLS1.3)"));
	g_assert_nonnull(th_log_find("certificates"));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->auth_failures, ==, 0);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/*
 * tls-crl: a certificate the CRL revokes is refused in the handshake; one
 * of our own that it revokes stops us at load
 */
static void test_x509_crl(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *ba = NULL;
	struct vs_tun_stream *s;
	struct side a, b, c;
	unsigned int serial = th_pki_host(&pki, "hostc", "revoked-c");

	th_pki_crl(&pki, &serial, 1, "crl-c.pem");
	x509_pair(&a, &b, "crl-c.pem");
	th_log_clear();
	x509_side(&c, "hostc", "revoked-c", NULL);
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	s = vs_tun_stream_open(c.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(tls_failed, b.t, DEADLINE_MS));
	g_assert_false(vs_tun_stream_connected(s));
	g_assert_cmpuint(b.opens, ==, 0);
	g_assert_nonnull(th_log_find("peer certificate (CN=hostc) refused: revoked (tls-crl)"));
	/* hostc is told why: GnuTLS's alert */
	g_assert_true(run_until(tls_failed, c.t, DEADLINE_MS));
	g_assert_nonnull(th_log_find("TLS: the peer refused us (alert Certificate is bad: it "
				     "refused our certificate)"));
	vs_tun_stream_close(s, false);
	side_fini(&c);
	/* hosta is not revoked: it gets through */
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);

	/* our own certificate revoked: refused at load */
	{
		g_autofree char *ca = th_pki_ca_path(&pki);
		g_autofree char *cert = th_pki_path(&pki, "revoked-c", "cert");
		g_autofree char *key = th_pki_path(&pki, "revoked-c", "key");
		g_autofree char *crl = g_build_filename(pki.dir, "crl-c.pem", NULL);
		struct vs_tun_cfg cfg = { .node_name = "hostc", .listen = "127.0.0.1:0",
					  .tls = true, .tls_ca = ca, .tls_cert = cert,
					  .tls_key = key, .tls_crl = crl };

		g_assert_null(vs_tun_new(&cfg, NULL, NULL, &err));
		g_assert_nonnull(strstr(err->message, "does not verify against tls-ca"));
		g_assert_nonnull(strstr(err->message, "revoked (tls-crl)"));
	}
}

/*
 * A certificate from another CA (the peer trusts ours and its own): the
 * log names the certificate and says why, not just "no certificate"
 */
static void test_x509_foreign_ca(void)
{
	g_autofree char *ca1 = th_pki_ca_path(&pki), *ca2 = NULL, *both = NULL;
	g_autofree char *pem1 = NULL, *pem2 = NULL, *cert = NULL, *key = NULL, *ba = NULL;
	g_autofree char *pems = NULL;
	struct vs_tun_cfg cfg = { .node_name = "hostc", .listen = "127.0.0.1:0", .tls = true };
	struct th_pki other;
	struct vs_tun_stream *s;
	struct side a, b, c;

	th_pki_init(&other, "another CA");
	th_pki_host(&other, "hostc", "hostc");
	ca2 = th_pki_ca_path(&other);
	both = g_build_filename(other.dir, "both.pem", NULL);
	g_assert_true(g_file_get_contents(ca1, &pem1, NULL, NULL));
	g_assert_true(g_file_get_contents(ca2, &pem2, NULL, NULL));
	pems = g_strconcat(pem2, pem1, NULL);
	g_assert_true(g_file_set_contents(both, pems, -1, NULL));
	cert = th_pki_path(&other, "hostc", "cert");
	key = th_pki_path(&other, "hostc", "key");
	cfg.tls_ca = both;
	cfg.tls_cert = cert;
	cfg.tls_key = key;
	x509_pair(&a, &b, NULL);
	th_log_clear();
	side_init_cfg(&c, &cfg);
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	s = vs_tun_stream_open(c.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(tls_failed, b.t, DEADLINE_MS));
	g_assert_nonnull(th_log_find("peer certificate (CN=hostc) refused: not signed by our CA"));
	g_assert_null(th_log_find("peer sent no certificate"));
	g_assert_cmpuint(b.opens, ==, 0);
	vs_tun_stream_close(s, false);
	side_fini(&c);
	pair_fini(&a, &b);
	th_pki_fini(&other);
}

/*
 * SIGHUP: b's certificate is replaced and reloaded while a streams to it.
 * The stream goes on, on the same connection with the old certificate; a
 * new connection gets the new one.
 */
static void test_x509_reload(void)
{
	g_autoptr(GBytes) old_der = cert_der("hostb");
	g_autoptr(GBytes) new_der = NULL, seen_old = NULL, seen_new = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *ba = NULL;
	struct vs_tun_stream *s, *sc;
	struct tun_conn *conn;
	struct side a, b, c;

	x509_pair(&a, &b, NULL);
	th_log_clear();
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 10);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 10 }, DEADLINE_MS));
	conn = out_conn(&a, "hostb");
	seen_old = tun_sess_peer_cert(conn);
	g_assert_true(g_bytes_equal(seen_old, old_der));

	th_pki_host(&pki, "hostb", "hostb");	/* a new key and certificate, same files */
	new_der = cert_der("hostb");
	g_assert_false(g_bytes_equal(new_der, old_der));
	g_assert_true(vs_tun_reload(b.t, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->reloads, ==, 1);
	g_assert_nonnull(th_log_find("credentials reloaded (generation 2)"));

	/* the established stream survives, on the same connection */
	push_frames(s, 10);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 20 }, DEADLINE_MS));
	check_seqs(&b, 20);
	g_assert_true(out_conn(&a, "hostb") == conn);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->reconnects, ==, 0);
	g_assert_cmpuint(b.peers_down, ==, 0);

	/* a new connection sees the new certificate */
	x509_side(&c, "hostc", "hostc", NULL);
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	sc = vs_tun_stream_open(c.t, "hostb", "vm2", VM_MAC);
	g_assert_true(run_until(at_least, &(struct count_watch){ &c.peers_up, 1 }, DEADLINE_MS));
	seen_new = tun_sess_peer_cert(out_conn(&c, "hostb"));
	g_assert_true(g_bytes_equal(seen_new, new_der));
	vs_tun_stream_close(sc, false);
	side_fini(&c);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/* A reload the checks refuse leaves the credentials in use alone */
static void test_x509_reload_refused(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *cert = th_pki_path(&pki, "hostb", "cert");
	g_autofree char *saved = NULL;
	struct vs_tun_stream *s;
	struct side a, b;
	gsize len = 0;

	x509_pair(&a, &b, NULL);
	g_assert_true(g_file_get_contents(cert, &saved, &len, NULL));
	g_assert_true(g_file_set_contents(cert, "not a certificate\n", -1, NULL));
	g_assert_false(vs_tun_reload(b.t, &err));
	g_assert_nonnull(strstr(err->message, "reload refused, the credentials in use stay: "
				"[tunnel] tls-cert"));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->reloads, ==, 0);
	g_assert_true(g_file_set_contents(cert, saved, (gssize)len, NULL));
	/* new connections still work, with the old credentials */
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/*
 * A reload whose CRL revokes a connected peer cuts it off at once; the
 * default CRL (ca-crl.pem, used if it exists) appears only then
 */
static void test_x509_reload_revokes(void)
{
	g_autoptr(GError) err = NULL;
	struct vs_tun_stream *s;
	struct side a, b;
	unsigned int serial;

	serial = th_pki_host(&pki, "hosta", "hosta");
	x509_pair(&a, &b, "?crl-a.pem");
	th_log_clear();
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	th_pki_crl(&pki, &serial, 1, "crl-a.pem");
	g_assert_true(vs_tun_reload(b.t, &err));
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->tls_failures, ==, 1);
	g_assert_nonnull(th_log_find("after the reload, peer certificate (CN=hosta) is refused: "
				     "revoked (tls-crl)"));
	g_assert_nonnull(th_log_find("1 cut off"));
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

static bool auth_failed(void *t)
{
	return vs_tun_get_stats(t)->auth_failures > 0;
}

/*
 * The pre-shared key rotated: b reloads a new key while a streams to it
 * with the old one.  The stream survives; a new connection needs the new key.
 */
static void test_psk_reload(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *path = g_build_filename(g_get_tmp_dir(), "vshim-tun-rot-XXXXXX", NULL);
	g_autofree char *ba = NULL;
	struct vs_tun_cfg cfg = { .node_name = "hostb", .listen = "127.0.0.1:0" };
	struct vs_tun_cfg cc = { .node_name = "hostc", .listen = "127.0.0.1:0" };
	struct vs_tun_stream *s, *sc;
	struct side a, b, c;
	int fd = g_mkstemp_full(path, O_WRONLY, 0600);
	g_autofree char *aa = NULL;

	g_assert_cmpint(fd, >=, 0);
	g_assert_true(g_file_get_contents(th_key_path, &ba, NULL, NULL));
	g_assert_cmpint(write(fd, ba, strlen(ba)), ==, (gssize)strlen(ba));
	close(fd);
	g_clear_pointer(&ba, g_free);
	side_init(&a, "hosta", "127.0.0.1:0");
	cfg.key_file = path;
	side_init_cfg(&b, &cfg);
	ba = addr_of(&b);
	aa = addr_of(&a);
	g_assert_true(vs_tun_add_peer(a.t, "hostb", ba, NULL));
	g_assert_true(vs_tun_add_peer(b.t, "hosta", aa, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));

	g_assert_true(g_file_set_contents_full(path, "ffeeddccbbaa99887766554433221100\n", -1,
					       G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL));
	g_assert_true(vs_tun_reload(b.t, &err));
	push_frames(s, 10);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 10 }, DEADLINE_MS));
	g_assert_cmpuint(b.peers_down, ==, 0);
	/* hostc still has the old key: refused */
	side_init_cfg(&c, &cc);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	sc = vs_tun_stream_open(c.t, "hostb", "vm2", VM_MAC);
	g_assert_true(run_until(auth_failed, b.t, DEADLINE_MS));
	g_assert_cmpuint(c.peers_up, ==, 0);
	vs_tun_stream_close(sc, false);
	side_fini(&c);
	/* with the new one: accepted */
	cc.key_file = path;
	side_init_cfg(&c, &cc);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	sc = vs_tun_stream_open(c.t, "hostb", "vm2", VM_MAC);
	g_assert_true(run_until(at_least, &(struct count_watch){ &c.peers_up, 1 }, DEADLINE_MS));
	vs_tun_stream_close(sc, false);
	side_fini(&c);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
	g_unlink(path);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_INFO);
	th_init();
	th_pki_init(&pki, "vhost-shim test CA");
	th_pki_host(&pki, "hosta", "hosta");
	th_pki_host(&pki, "hostb", "hostb");
	th_pki_host(&pki, "hostc", "hostc");
	g_test_add_func("/tun/tls/dn-common-name", test_dn_common_name);
	g_test_add_func("/tun/tls/limits/dn", test_dn_limit);
	g_test_add_func("/tun/tls/names-match", test_names_match);
	g_test_add_func("/tun/tls/config/files", test_cfg_files);
	g_test_add_func("/tun/tls/config/errors", test_cfg_errors);
	g_test_add_func("/tun/tls/config/no-cleartext", test_cfg_no_cleartext);
	g_test_add_func("/tun/tls/config/crl", test_cfg_crl);
	g_test_add_func("/tun/tls/x509/stream", test_x509_stream);
	g_test_add_func("/tun/tls/x509/crl", test_x509_crl);
	g_test_add_func("/tun/tls/x509/foreign-ca", test_x509_foreign_ca);
	g_test_add_func("/tun/tls/x509/reload", test_x509_reload);
	g_test_add_func("/tun/tls/x509/reload-refused", test_x509_reload_refused);
	g_test_add_func("/tun/tls/x509/reload-revokes", test_x509_reload_revokes);
	g_test_add_func("/tun/tls/psk/reload", test_psk_reload);
	rc = g_test_run();
	th_pki_fini(&pki);
	th_fini();
	return rc;
}
