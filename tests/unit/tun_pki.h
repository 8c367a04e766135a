/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_pki.h - a throw-away PKI for the tunnel's TLS unit tests
 *
 * Theory of operation: a CA, host certificates and CRLs made with GnuTLS's
 * own API in a temporary directory, each dated around the machine's clock
 * when the test runs, so that nothing committed can expire or be "issued
 * in the future" on another machine, and the tests need no certtool.
 * Host certificates name their node as CN and DNS subjectAltName and are
 * good for TLS server and client use, as docs/configuration.md asks.
 */
#ifndef VS_TUN_PKI_H
#define VS_TUN_PKI_H

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

struct th_pki {
	char *dir;
	gnutls_x509_privkey_t ca_key;
	gnutls_x509_crt_t ca;
	unsigned int next_serial;
};

/* th_pki_init() - a new CA named @cn, its certificate in DIR/ca-cert.pem */
void th_pki_init(struct th_pki *p, const char *cn);
/* th_pki_ca_path() - DIR/ca-cert.pem (g_free it) */
char *th_pki_ca_path(const struct th_pki *p);
/* th_pki_host() - DIR/@tag-cert.pem and DIR/@tag-key.pem (0600) naming @node;
 * returns the certificate's serial number */
unsigned int th_pki_host(struct th_pki *p, const char *node, const char *tag);
/* th_pki_path() - DIR/@tag-@what.pem (g_free it) */
char *th_pki_path(const struct th_pki *p, const char *tag, const char *what);
/* th_pki_crl() - DIR/@file, a CRL of the CA revoking @n serials */
void th_pki_crl(struct th_pki *p, const unsigned int *serials, unsigned int n, const char *file);
/* th_pki_fini() - remove the directory and its files */
void th_pki_fini(struct th_pki *p);

#endif /* VS_TUN_PKI_H */
