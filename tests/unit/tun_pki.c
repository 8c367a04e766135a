/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_pki.c - a throw-away PKI for the tunnel's TLS unit tests
 *
 * Theory of operation: see tun_pki.h.  ECDSA P-256 keys, SHA-256
 * signatures, validity from an hour ago to a year ahead.
 */
#include <string.h>
#include <time.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tun_pki.h"

#define PKI_OK(expr) g_assert_cmpint((expr), >=, 0)

static void pki_write(const char *path, const gnutls_datum_t *d, int mode)
{
	g_assert_true(g_file_set_contents_full(path, (const char *)d->data, d->size,
					       G_FILE_SET_CONTENTS_NONE, mode, NULL));
}

static gnutls_x509_privkey_t pki_key(void)
{
	gnutls_x509_privkey_t k;

	PKI_OK(gnutls_x509_privkey_init(&k));
	PKI_OK(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
					    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
	return k;
}

static gnutls_x509_crt_t pki_crt(gnutls_x509_privkey_t key, const char *cn, unsigned int serial)
{
	gnutls_x509_crt_t c;
	unsigned char s[4] = { (unsigned char)(serial >> 24), (unsigned char)(serial >> 16),
			       (unsigned char)(serial >> 8), (unsigned char)serial };
	time_t now = time(NULL);

	PKI_OK(gnutls_x509_crt_init(&c));
	PKI_OK(gnutls_x509_crt_set_version(c, 3));
	PKI_OK(gnutls_x509_crt_set_serial(c, s, sizeof(s)));
	PKI_OK(gnutls_x509_crt_set_activation_time(c, now - 3600));
	PKI_OK(gnutls_x509_crt_set_expiration_time(c, now + 365 * 86400));
	PKI_OK(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)));
	PKI_OK(gnutls_x509_crt_set_key(c, key));
	return c;
}

void th_pki_init(struct th_pki *p, const char *cn)
{
	g_autofree char *ca = NULL;
	gnutls_datum_t d;

	memset(p, 0, sizeof(*p));
	p->dir = g_dir_make_tmp("vshim-pki-XXXXXX", NULL);
	g_assert_nonnull(p->dir);
	p->next_serial = 1;
	p->ca_key = pki_key();
	p->ca = pki_crt(p->ca_key, cn, p->next_serial++);
	PKI_OK(gnutls_x509_crt_set_basic_constraints(p->ca, 1, -1));
	PKI_OK(gnutls_x509_crt_set_key_usage(p->ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN));
	PKI_OK(gnutls_x509_crt_sign2(p->ca, p->ca, p->ca_key, GNUTLS_DIG_SHA256, 0));
	PKI_OK(gnutls_x509_crt_export2(p->ca, GNUTLS_X509_FMT_PEM, &d));
	ca = th_pki_ca_path(p);
	pki_write(ca, &d, 0644);
	gnutls_free(d.data);
}

char *th_pki_ca_path(const struct th_pki *p)
{
	return g_build_filename(p->dir, "ca-cert.pem", NULL);
}

char *th_pki_path(const struct th_pki *p, const char *tag, const char *what)
{
	g_autofree char *name = g_strdup_printf("%s-%s.pem", tag, what);

	return g_build_filename(p->dir, name, NULL);
}

unsigned int th_pki_host(struct th_pki *p, const char *node, const char *tag)
{
	g_autofree char *cert = th_pki_path(p, tag, "cert");
	g_autofree char *keyp = th_pki_path(p, tag, "key");
	gnutls_x509_privkey_t key = pki_key();
	unsigned int serial = p->next_serial++;
	gnutls_x509_crt_t c = pki_crt(key, node, serial);
	gnutls_datum_t d;

	PKI_OK(gnutls_x509_crt_set_basic_constraints(c, 0, -1));
	PKI_OK(gnutls_x509_crt_set_key_usage(c, GNUTLS_KEY_DIGITAL_SIGNATURE));
	PKI_OK(gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_SERVER, 0));
	PKI_OK(gnutls_x509_crt_set_key_purpose_oid(c, GNUTLS_KP_TLS_WWW_CLIENT, 0));
	PKI_OK(gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, node, strlen(node),
						    GNUTLS_FSAN_SET));
	PKI_OK(gnutls_x509_crt_sign2(c, p->ca, p->ca_key, GNUTLS_DIG_SHA256, 0));
	PKI_OK(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &d));
	pki_write(cert, &d, 0644);
	gnutls_free(d.data);
	PKI_OK(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d));
	pki_write(keyp, &d, 0600);
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_privkey_deinit(key);
	return serial;
}

void th_pki_crl(struct th_pki *p, const unsigned int *serials, unsigned int n, const char *file)
{
	g_autofree char *path = g_build_filename(p->dir, file, NULL);
	gnutls_x509_crl_t crl;
	time_t now = time(NULL);
	gnutls_datum_t d;
	unsigned int i;

	PKI_OK(gnutls_x509_crl_init(&crl));
	PKI_OK(gnutls_x509_crl_set_version(crl, 2));
	PKI_OK(gnutls_x509_crl_set_this_update(crl, now - 60));
	PKI_OK(gnutls_x509_crl_set_next_update(crl, now + 30 * 86400));
	for (i = 0; i < n; i++) {
		unsigned char s[4] = { (unsigned char)(serials[i] >> 24),
				       (unsigned char)(serials[i] >> 16),
				       (unsigned char)(serials[i] >> 8), (unsigned char)serials[i] };

		PKI_OK(gnutls_x509_crl_set_crt_serial(crl, s, sizeof(s), now - 60));
	}
	PKI_OK(gnutls_x509_crl_sign2(crl, p->ca, p->ca_key, GNUTLS_DIG_SHA256, 0));
	PKI_OK(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d));
	pki_write(path, &d, 0644);
	gnutls_free(d.data);
	gnutls_x509_crl_deinit(crl);
}

void th_pki_fini(struct th_pki *p)
{
	g_autoptr(GDir) d = g_dir_open(p->dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(p->dir, name, NULL);

		g_unlink(path);
	}
	g_rmdir(p->dir);
	g_clear_pointer(&p->dir, g_free);
	gnutls_x509_crt_deinit(p->ca);
	gnutls_x509_privkey_deinit(p->ca_key);
}
