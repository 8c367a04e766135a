/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_tls.c - the pure parts of x509 TLS mode: the identity rule
 * (tunnel_tls_id.c) and the [tunnel] TLS keys and cleartext rule (config.c)
 *
 * The TLS handshake itself, with real certificates, is the e2e test
 * migration-tls (tests/e2e/test_migration.py, scenario "tls").
 */
#include <string.h>

#include <glib.h>

#include "config.h"
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

static void check_cleartext(const char *listen, const char *peer, const char *extra,
			    bool refused)
{
	g_autofree char *text = g_strdup_printf("[tunnel]\nkey-file=/k\n%s%s%s\n%s%s%s",
						listen ? "listen=" : "", listen ? listen : "",
						listen ? "\n" : "", extra,
						peer ? "[peer hostb]\naddress=" : "", peer ? peer : "");
	g_autoptr(GError) err = NULL;
	struct vs_cfg *cfg = load(text, &err);

	if (refused) {
		g_assert_null(cfg);
		g_assert_nonnull(strstr(err->message, "in clear over a non-loopback address"));
	} else {
		g_assert_no_error(err);
		vs_cfg_free(cfg);
	}
}

static void test_cleartext(void)
{
	/* loopback only: fine in clear */
	check_cleartext("127.0.0.1:7400", "127.0.0.2:7401", "", false);
	check_cleartext("[::1]:7400", "localhost:7401", "", false);
	/* a listener or a peer off loopback: only by choice, or with TLS */
	check_cleartext("0.0.0.0:7400", NULL, "", true);
	check_cleartext("10.0.0.1:7400", NULL, "", true);
	check_cleartext("127.0.0.1:7400", "10.0.0.2:7401", "", true);
	check_cleartext("127.0.0.1:7400", "[2001:db8::2]:7401", "", true);
	check_cleartext("127.0.0.1:7400", "hostb.example:7401", "", true);	/* a name */
	check_cleartext("127.0.0.1:7400", "[::ffff:127.0.0.1]:7401", "", true);
	check_cleartext("0.0.0.0:7400", "10.0.0.2:7401", "allow-cleartext=true\n", false);
	check_cleartext("0.0.0.0:7400", "10.0.0.2:7401", "tls=x509\n", false);
	check_cleartext("0.0.0.0:7400", "10.0.0.2:7401", "tls=none\n", true);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tun/tls/dn-common-name", test_dn_common_name);
	g_test_add_func("/tun/tls/limits/dn", test_dn_limit);
	g_test_add_func("/tun/tls/names-match", test_names_match);
	g_test_add_func("/tun/tls/config/files", test_cfg_files);
	g_test_add_func("/tun/tls/config/errors", test_cfg_errors);
	g_test_add_func("/tun/tls/config/cleartext", test_cleartext);
	return g_test_run();
}
