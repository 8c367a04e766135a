/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_tls.h - TLS 1.3 under every tunnel connection (protocol version 2)
 *
 * Theory of operation: every tunnel connection is a TLS 1.3 session, run
 * with GnuTLS directly on the connection's non-blocking socket from the
 * GLib main loop, and the protocol of docs/tunnel-protocol.md runs inside
 * it from HELLO on.  Two ways to authenticate the session:
 *   - pre-shared key ([tunnel] key-file, tls=none): an external PSK with an
 *     ECDHE exchange (psk_dhe_ke), so a key that leaks later does not
 *     decrypt recorded sessions;
 *   - certificates (tls=x509): both sides present a certificate from the
 *     one CA of tls-ca and verify the other's (chain, dates, key purpose,
 *     tls-crl); the listener requires a client certificate.
 * Either way every record after the handshake is integrity-protected and
 * numbered (AEAD with a per-record sequence number): a byte changed, a
 * record spliced in or replayed ends the connection (counted as a TLS
 * record error, tls_record_errors).
 *
 * Files: tunnel_tls.c has the credentials (struct tun_creds: loaded at
 * startup and again on SIGHUP, reference-counted so that a session keeps
 * the credentials it started with), tunnel_session.c one connection's
 * session (handshake, records, the peer's certificate), tunnel_tls_id.c
 * the pure rule that ties a certificate to a node name, tunnel_io.c the
 * connection's bytes.
 *
 * Identity rule (docs/configuration.md, "Tunnel security"): a certificate
 * names node N if one of its DNS subjectAltNames is N, or, when it has no
 * DNS name at all, if its only subject CN is N; ASCII case is ignored and
 * wildcards are not.  A peer's certificate must name the node name it
 * sends in HELLO, and on an outgoing connection the [peer NAME] dialled.
 * Our own certificate must name our node-name (checked at load).
 *
 * The HELLO/AUTH handshake still runs inside TLS, keyed by the session:
 * with a pre-shared key, HMAC-SHA256(psk, TLS exporter); without one, the
 * TLS exporter itself (RFC 9266 "tls-exporter" channel binding, which TLS
 * 1.3 makes well defined).  So a HELLO and AUTH relayed from another TLS
 * session never verify, and the node names are bound to this session.
 */
#ifndef VS_TUNNEL_TLS_H
#define VS_TUNNEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

struct vs_tun;
struct tun_conn;
struct tun_creds;

/*
 * GnuTLS priorities (docs/tunnel-protocol.md, section 0): TLS 1.3 only;
 * with a pre-shared key only the (EC)DHE key exchange, never psk_ke, which
 * has no forward secrecy.  Ciphers, groups and signatures are GnuTLS's
 * NORMAL set (Debian's system policy applies on top).
 */
#define VS_TUN_TLS_PRIORITY_PSK		"NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK"
#define VS_TUN_TLS_PRIORITY_X509	"NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* --- tunnel_tls_id.c: pure, unit-tested -------------------------------- */

/* Security consideration: a DN from a peer's certificate is parsed only up
 * to this many bytes; a longer one names nobody */
#define VS_TUN_TLS_DN_MAX	4096

/**
 * vs_tun_tls_dn_common_name() - the subject CN of an RFC 4514 DN as GnuTLS
 * prints it ("CN=hosta,O=Example"), escapes undone
 * @dn:		distinguished name, or NULL
 *
 * Return: the CN (g_free it), or NULL if there is none, more than one, or
 * the DN is malformed or longer than VS_TUN_TLS_DN_MAX
 */
char *vs_tun_tls_dn_common_name(const char *dn);

/**
 * vs_tun_tls_names_match() - does a certificate name node @name (the
 * identity rule above)
 * @cn:		its subject CN, or NULL
 * @dns_names:	its DNS subjectAltNames, NULL-terminated, or NULL for none
 * @name:	node name
 *
 * Return: true if it does
 */
bool vs_tun_tls_names_match(const char *cn, const char *const *dns_names, const char *name);

/* --- tunnel_tls.c: credentials (main loop) ----------------------------- */

/**
 * tun_creds_load() - load the key file, or the CA, CRL, certificate and
 * key, from the paths of @t's configuration, and check them: a usable key;
 * or files readable, our certificate valid now, verifying against the CA
 * (and not revoked by the CRL) for TLS server and client use, naming our
 * node
 * @t:		tunnel, whose node name and credential paths are set
 * @generation:	1 at startup, one more per reload (for log lines)
 * @error:	set with the file and what to fix
 *
 * Return: the credentials (one reference), or NULL with @error set
 */
struct tun_creds *tun_creds_load(const struct vs_tun *t, unsigned int generation,
				 GError **error);

/**
 * tun_creds_ref() - one more reference
 * @cr:		credentials
 *
 * Return: @cr
 */
struct tun_creds *tun_creds_ref(struct tun_creds *cr);

/**
 * tun_creds_unref() - drop a reference; the last one wipes the key and frees
 * @cr:		credentials, or NULL
 */
void tun_creds_unref(struct tun_creds *cr);

/**
 * tun_creds_x509() - certificates (true) or a pre-shared key (false)
 * @cr:		credentials
 *
 * Return: true with tls=x509
 */
bool tun_creds_x509(const struct tun_creds *cr);

/**
 * tun_creds_has_crl() - was a CRL loaded
 * @cr:		credentials, or NULL
 *
 * Return: true if so
 */
bool tun_creds_has_crl(const struct tun_creds *cr);

/**
 * tun_creds_generation() - which load these are
 * @cr:		credentials
 *
 * Return: 1 for those of the startup, one more per reload
 */
unsigned int tun_creds_generation(const struct tun_creds *cr);

/**
 * tun_creds_psk() - the pre-shared key, if any
 * @cr:		credentials
 * @len:	output: its bytes, 0 without one (x509 without key-file)
 *
 * Return: the key (owned by @cr)
 */
const uint8_t *tun_creds_psk(const struct tun_creds *cr, size_t *len);

/**
 * tun_creds_apply() - give a new GnuTLS session @cr's priority and
 * credentials (a client certificate is required of a client)
 * @cr:		credentials, which must outlive @session
 * @session:	session
 * @server:	we accepted the connection
 *
 * Return: 0, or a negative GnuTLS error code
 */
int tun_creds_apply(struct tun_creds *cr, gnutls_session_t session, bool server);

/**
 * tun_creds_ca_path() - the CA file, for log lines
 * @cr:		credentials
 *
 * Return: the path, or "" without certificates
 */
const char *tun_creds_ca_path(const struct tun_creds *cr);

/**
 * tun_creds_verify_chain() - does a certificate chain verify under @cr
 * (CA, CRL, dates, key purpose): our own at load, and on reload a peer's
 * whose session was made with older credentials
 * @cr:		credentials with certificates
 * @chain:	the chain, leaf first
 * @n:		certificates in @chain, >= 1
 * @server:	check it for TLS server use (else client use)
 * @why:	output: what is wrong, if anything ("revoked, expired")
 * @why_len:	its size
 *
 * Return: true if it verifies
 */
bool tun_creds_verify_chain(const struct tun_creds *cr, gnutls_x509_crt_t *chain, unsigned int n,
			    bool server, char *why, size_t why_len);

/**
 * tun_tls_status_str() - GnuTLS verification status bits in words
 * @status:	gnutls_certificate_status_t bits
 *
 * Return: "not signed by our CA, revoked" (g_free it)
 */
char *tun_tls_status_str(unsigned int status);

/**
 * tun_tls_crt_names_node() - does a certificate name node @name (CN and
 * DNS subjectAltNames through vs_tun_tls_names_match())
 * @crt:	certificate
 * @name:	node name
 *
 * Return: true if it does
 */
bool tun_tls_crt_names_node(gnutls_x509_crt_t crt, const char *name);

/**
 * tun_tls_crt_subject() - a certificate's subject DN (RFC 4514), for logs
 * @crt:	certificate
 *
 * Return: the DN (g_free it); "?" if it has none
 */
char *tun_tls_crt_subject(gnutls_x509_crt_t crt);

/* --- tunnel_session.c: one connection's session (main loop) ------------- */

/**
 * tun_sess_start() - the transport is up (TCP connected, or an accepted
 * connection's first bytes are a ClientHello): start the TLS handshake
 * with the tunnel's current credentials; closes @c on failure
 * @c:		connection
 *
 * Return: true if the handshake runs (or is done)
 */
bool tun_sess_start(struct tun_conn *c);

/**
 * tun_sess_handshake() - drive the TLS handshake (the socket is readable
 * or writable).  When it succeeds the HELLO/AUTH handshake starts inside
 * it; when it fails @c is closed with one log line and counted
 * (auth_failures and tls_failures, or version_refusals for a version-1
 * peer).
 * @c:		connection in its TLS handshake
 */
void tun_sess_handshake(struct tun_conn *c);

/**
 * tun_sess_free() - end @c's session (no alert, no close_notify: the
 * tunnel's own ERROR, END and ABORT say why a connection ends)
 * @c:		connection, with or without a session
 */
void tun_sess_free(struct tun_conn *c);

/**
 * tun_tls_peer_named() - does the peer's certificate name @name
 * @c:		connection whose TLS session is up
 * @name:	node name
 * @why:	output: the reason if not
 * @why_len:	its size
 *
 * Return: true if it does; true without certificates (pre-shared key)
 */
bool tun_tls_peer_named(struct tun_conn *c, const char *name, char *why, size_t why_len);

/**
 * tun_sess_recheck() - after a reload: does the peer's certificate still
 * verify under @cr (a revoked or no longer trusted peer is cut off)
 * @c:		connection whose TLS session is up
 * @cr:		the new credentials
 * @why:	output: the reason if not
 * @why_len:	its size
 *
 * Return: true if it does, or without certificates
 */
bool tun_sess_recheck(struct tun_conn *c, const struct tun_creds *cr, char *why,
		      size_t why_len);

/**
 * tun_sess_peer_cert() - the certificate the peer presented (tests, logs)
 * @c:		connection
 *
 * Return: its DER (g_bytes_unref() it), or NULL if none
 */
GBytes *tun_sess_peer_cert(const struct tun_conn *c);

/**
 * tun_sess_creds() - the credentials @c's session was made with
 * @c:		connection
 *
 * Return: them (owned by the session), or NULL before it has one
 */
const struct tun_creds *tun_sess_creds(const struct tun_conn *c);

#endif /* VS_TUNNEL_TLS_H */
