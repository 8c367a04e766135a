/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_tls.h - x509 mutual TLS under the tunnel ([tunnel] tls=x509)
 *
 * Theory of operation: with TLS on, every tunnel connection is a TLS
 * session first (GIO's GTlsConnection, glib-networking's GnuTLS backend),
 * and the protocol of docs/tunnel-protocol.md runs inside it from HELLO on.
 * Both sides present a certificate from the one CA of [tunnel] tls-ca and
 * verify the other's against it: the listener requires a client
 * certificate.  tunnel_tls.c has the credentials and the handshake,
 * tunnel_tls_id.c the pure rule that ties a certificate to a node name,
 * tunnel_io.c moves the bytes (TLS or plain socket).
 *
 * Identity rule (docs/configuration.md, "Tunnel security"): a certificate
 * names node N if one of its DNS subjectAltNames is N, or, when it has no
 * DNS name at all, if its only subject CN is N; ASCII case is ignored and
 * wildcards are not.  A peer's certificate must name the node name it
 * sends in HELLO, and on an outgoing connection the [peer NAME] dialled.
 * Our own certificate must name our node-name (checked at startup).
 *
 * The handshake's AUTH still runs inside TLS, keyed by the session: with a
 * pre-shared key, HMAC-SHA256(psk, TLS exporter); without one, the TLS
 * exporter itself (RFC 9266 "tls-exporter" channel binding).  So a HELLO
 * and AUTH relayed from another TLS session never verify.
 */
#ifndef VS_TUNNEL_TLS_H
#define VS_TUNNEL_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

struct vs_tun;
struct vs_tun_cfg;
struct tun_conn;

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

/* --- tunnel_tls.c: credentials and handshake (main loop) -------------- */

/**
 * tun_tls_init() - with tls=x509: load the CA, our certificate and key, and
 * check them (readable, valid now, signed by the CA, naming our node)
 * @t:		tunnel, whose node name is set
 * @cfg:	configuration
 * @error:	set with the file and what to fix
 *
 * Return: TRUE on success, and when TLS is off
 */
gboolean tun_tls_init(struct vs_tun *t, const struct vs_tun_cfg *cfg, GError **error);

/**
 * tun_tls_fini() - forget the credentials
 * @t:		tunnel
 */
void tun_tls_fini(struct vs_tun *t);

/**
 * tun_tls_enabled() - does every connection start with a TLS handshake
 * @t:		tunnel
 *
 * Return: true with tls=x509
 */
bool tun_tls_enabled(const struct vs_tun *t);

/**
 * tun_tls_start() - start the TLS handshake of a TCP-connected @c; when it
 * succeeds the connection's HELLO/AUTH handshake starts, when it fails @c
 * is closed with one log line and counted (auth_failures, tls_failures)
 * @c:		connection
 */
void tun_tls_start(struct tun_conn *c);

/**
 * tun_tls_abort() - @c is being closed: forget its handshake in flight
 * @c:		connection
 */
void tun_tls_abort(struct tun_conn *c);

/**
 * tun_tls_peer_named() - does the peer's certificate name @name
 * @c:		connection whose TLS session is up
 * @name:	node name
 * @why:	output: the reason if not
 * @why_len:	its size
 *
 * Return: true if it does
 */
bool tun_tls_peer_named(struct tun_conn *c, const char *name, char *why, size_t why_len);

#endif /* VS_TUNNEL_TLS_H */
