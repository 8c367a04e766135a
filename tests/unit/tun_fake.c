/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_fake.c - a scripted tunnel peer for the transport's unit tests
 *
 * Theory of operation: see tun_harness.h.  A struct fake_peer speaks TLS
 * 1.3 with the shared key (ECDHE-PSK, as a tunnel does) through its own
 * GnuTLS session on a non-blocking socket, and the HELLO/AUTH handshake
 * inside it with the pure codec.  Everything runs on the one main loop
 * of the test: where the fake would block (a full socket, a handshake
 * waiting for the tunnel), it runs the loop instead, so the tunnel under
 * test makes progress.  Records can be captured instead of sent
 * (fp_seal()) and bytes put on the socket as they are (fp_send_raw()),
 * which is how the tests change, forge and replay records; without TLS
 * the fake plays a version-1 shim in clear (fp_v1_hello()).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "tun_harness.h"
#include "tunnel_tls.h"

/* --- a scripted peer ------------------------------------------------------- */

/* Push: to the socket, waiting (and running the loop) for room; or captured */
static ssize_t fp_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct fake_peer *fp = ptr;
	size_t off = 0;

	if (fp->capture) {
		g_byte_array_append(fp->wire, buf, (guint)len);
		return (ssize_t)len;
	}
	while (off < len) {
		ssize_t n = send(g_socket_get_fd(fp->sock), (const char *)buf + off, len - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			g_main_context_iteration(NULL, FALSE);
			continue;
		}
		if (n < 0) {
			if (fp->tls)
				gnutls_transport_set_errno(fp->tls, errno);
			return off ? (ssize_t)off : -1;
		}
		off += (size_t)n;
	}
	return (ssize_t)len;
}

static ssize_t fp_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct fake_peer *fp = ptr;
	ssize_t n = recv(g_socket_get_fd(fp->sock), buf, len, MSG_DONTWAIT);

	if (n < 0 && fp->tls)
		gnutls_transport_set_errno(fp->tls, errno);
	return n;
}

static int fp_psk_server_cb(gnutls_session_t s, const gnutls_datum_t *id, gnutls_datum_t *key)
{
	key->data = gnutls_malloc(th_psk_len);
	memcpy(key->data, th_psk, th_psk_len);
	key->size = (unsigned int)th_psk_len;
	return 0;
}

/* TLS with the shared key and priority string @prio; the handshake's result */
static int fp_tls_prio(struct fake_peer *fp, bool server, const char *prio)
{
	gnutls_datum_t key = { th_psk, (unsigned int)th_psk_len };
	gint64 end = g_get_monotonic_time() + (gint64)DEADLINE_MS * 1000;
	int r;

	g_assert_cmpint(gnutls_init(&fp->tls, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
				    GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL | GNUTLS_NO_TICKETS), ==, 0);
	g_assert_cmpint(gnutls_priority_set_direct(fp->tls, prio, NULL), ==, 0);
	if (server) {
		gnutls_psk_allocate_server_credentials(&fp->psk_server);
		gnutls_psk_set_server_credentials_function2(fp->psk_server, fp_psk_server_cb);
		gnutls_credentials_set(fp->tls, GNUTLS_CRD_PSK, fp->psk_server);
	} else {
		gnutls_psk_allocate_client_credentials(&fp->psk_client);
		gnutls_psk_set_client_credentials(fp->psk_client, VS_TUN_TLS_PSK_IDENTITY, &key,
						  GNUTLS_PSK_KEY_RAW);
		gnutls_credentials_set(fp->tls, GNUTLS_CRD_PSK, fp->psk_client);
	}
	gnutls_handshake_set_timeout(fp->tls, 0);
	gnutls_transport_set_ptr(fp->tls, fp);
	gnutls_transport_set_pull_function(fp->tls, fp_pull);
	gnutls_transport_set_push_function(fp->tls, fp_push);
	while ((r = gnutls_handshake(fp->tls)) == GNUTLS_E_AGAIN) {
		g_assert_cmpint(g_get_monotonic_time(), <, end);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(200);
	}
	return r;
}

/* TLS as a tunnel does it: TLS 1.3, ECDHE-PSK, the shared key */
static void fp_tls(struct fake_peer *fp, bool server)
{
	int r = fp_tls_prio(fp, server, VS_TUN_TLS_PRIORITY_PSK);

	g_assert_cmpstr(r ? gnutls_strerror(r) : NULL, ==, NULL);
}

static void fp_init(struct fake_peer *fp, GSocket *sock)
{
	memset(fp, 0, sizeof(*fp));
	fp->sock = sock;
	fp->out = g_byte_array_new();
	fp->wire = g_byte_array_new();
	vs_tun_decoder_init(&fp->dec);
	g_socket_set_blocking(fp->sock, FALSE);
}

/* Write what fp->out holds: inside TLS, or in clear for a version-1 peer */
static void fp_flush(struct fake_peer *fp)
{
	size_t off = 0;

	while (off < fp->out->len) {
		ssize_t n;

		if (!fp->tls) {
			fp_push(fp, fp->out->data, fp->out->len);
			break;
		}
		n = gnutls_record_send(fp->tls, fp->out->data + off, fp->out->len - off);
		if (n == GNUTLS_E_AGAIN)
			continue;	/* fp_push waits for room: not reached */
		if (n < 0) {
			fp->tls_err = (int)n;	/* the tunnel closed: the test sees it */
			break;
		}
		off += (size_t)n;
	}
	g_byte_array_set_size(fp->out, 0);
}

/* The next message from the socket, or false on EOF, error or timeout */
bool fp_recv(struct fake_peer *fp, struct vs_tun_msg *m, unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	for (;;) {
		ssize_t n;

		while (fp->rx_off < fp->rx_len) {
			size_t used = 0;
			enum vs_tun_err e = vs_tun_decoder_feed(&fp->dec, fp->rxbuf + fp->rx_off,
								fp->rx_len - fp->rx_off, &used, m);

			fp->rx_off += used;
			g_assert_cmpint(e, ==, VS_TUN_OK);
			if (m->type != VS_TUN_MSG_NONE)
				return true;
		}
		fp->rx_off = fp->rx_len = 0;
		if (fp->eof || g_get_monotonic_time() >= end)
			return false;
		if (fp->tls)
			n = gnutls_record_recv(fp->tls, fp->rxbuf, sizeof(fp->rxbuf));
		else
			n = fp_pull(fp, fp->rxbuf, sizeof(fp->rxbuf));
		if (n > 0) {
			fp->rx_len = (size_t)n;
			continue;
		}
		if (fp->tls ? n != GNUTLS_E_AGAIN : n == 0 || errno != EAGAIN) {
			fp->eof = true;
			fp->tls_err = fp->tls ? (int)n : 0;
			return false;
		}
		g_main_context_iteration(NULL, FALSE);
		g_usleep(200);
	}
}

void fp_send(struct fake_peer *fp, const struct vs_tun_msg *m)
{
	g_assert_cmpuint(vs_tun_encode(fp->out, m), >, 0);
	fp_flush(fp);
}

GByteArray *fp_seal(struct fake_peer *fp, const struct vs_tun_msg *m)
{
	GByteArray *rec;

	g_assert_nonnull(fp->tls);
	g_byte_array_set_size(fp->wire, 0);
	fp->capture = true;
	fp_send(fp, m);
	fp->capture = false;
	rec = g_byte_array_new();
	g_byte_array_append(rec, fp->wire->data, fp->wire->len);
	return rec;
}

void fp_send_raw(struct fake_peer *fp, const void *buf, size_t len)
{
	bool capture = fp->capture;

	fp->capture = false;
	fp_push(fp, buf, len);
	fp->capture = capture;
}

void fp_send_vm_open(struct fake_peer *fp, uint32_t id, uint64_t first_seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_OPEN };

	m.u.vm_open.stream_id = id;
	memcpy(m.u.vm_open.mac, VM_MAC, 6);
	g_strlcpy(m.u.vm_open.name, VM_NAME, sizeof(m.u.vm_open.name));
	m.u.vm_open.first_seq = first_seq;
	fp_send(fp, &m);
}

void fp_send_frame(struct fake_peer *fp, uint32_t id, uint64_t seq, enum vs_tun_origin origin)
{
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;

	frame_msg(&m, buf, id, seq, origin);
	fp_send(fp, &m);
}

/* The AUTH key of the fake's session, as a tunnel derives it */
static void fp_auth_key(struct fake_peer *fp, uint8_t key[VS_TUN_TLS_EXPORTER_LEN])
{
	uint8_t exporter[VS_TUN_TLS_EXPORTER_LEN];
	gsize len = VS_TUN_TLS_EXPORTER_LEN;
	GHmac *h;

	g_assert_cmpint(gnutls_prf_rfc5705(fp->tls, strlen(VS_TUN_TLS_EXPORTER_LABEL),
					   VS_TUN_TLS_EXPORTER_LABEL, 0, NULL, sizeof(exporter),
					   (char *)exporter), ==, 0);
	h = g_hmac_new(G_CHECKSUM_SHA256, th_psk, th_psk_len);
	g_hmac_update(h, exporter, sizeof(exporter));
	g_hmac_get_digest(h, key, &len);
	g_hmac_unref(h);
}

static void fp_handshake(struct fake_peer *fp, enum vs_tun_role role, const char *name,
			 uint32_t ext)
{
	uint8_t nonce[VS_TUN_NONCE_LEN];
	uint8_t key[VS_TUN_TLS_EXPORTER_LEN];
	struct vs_tun_msg m;

	fp_tls(fp, role == VS_TUN_ROLE_RESPONDER);
	fp_auth_key(fp, key);
	g_assert_true(vs_tun_random_nonce(nonce, NULL));
	g_assert_cmpint(vs_tun_auth_init(&fp->auth, role, key, sizeof(key), name, nonce), ==,
			VS_TUN_OK);
	fp->auth.my_ext = ext;
	vs_tun_auth_start(&fp->auth, fp->out);
	fp_flush(fp);
	while (fp->auth.state != VS_TUN_AUTH_AUTHENTICATED) {
		bool deliver = false;

		g_assert_true(fp_recv(fp, &m, DEADLINE_MS));
		g_assert_cmpint(vs_tun_auth_consume(&fp->auth, &m, fp->out, &deliver), ==,
				VS_TUN_OK);
		fp_flush(fp);
	}
}

void fp_v1_hello(struct fake_peer *fp, const char *name, enum vs_tun_role role)
{
	uint8_t nonce[VS_TUN_NONCE_LEN];

	g_assert_null(fp->tls);
	g_assert_true(vs_tun_random_nonce(nonce, NULL));
	g_assert_cmpint(vs_tun_auth_init(&fp->auth, role, th_psk, th_psk_len, name, nonce), ==,
			VS_TUN_OK);
	fp->auth.my_version = 1;
	fp->auth.my_compat = 1;
	vs_tun_auth_start(&fp->auth, fp->out);
	fp_flush(fp);
}

static GSocket *fp_dial(const char *src, guint16 port)
{
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(lo, port);
	GSocket *sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
				     G_SOCKET_PROTOCOL_TCP, NULL);

	if (src) {
		g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(src);
		g_autoptr(GSocketAddress) from = g_inet_socket_address_new(ia, 0);

		g_assert_true(g_socket_bind(sock, from, FALSE, NULL));
	}
	g_assert_true(g_socket_connect(sock, sa, NULL, NULL));
	return sock;
}

void fp_connect_raw_from(struct fake_peer *fp, const char *src, guint16 port)
{
	fp_init(fp, fp_dial(src, port));
}

void fp_connect_raw(struct fake_peer *fp, guint16 port)
{
	fp_connect_raw_from(fp, NULL, port);
}

void fp_connect_tls(struct fake_peer *fp, guint16 port)
{
	fp_connect_raw(fp, port);
	fp_tls(fp, false);
}

int fp_connect_tls_prio(struct fake_peer *fp, guint16 port, const char *prio)
{
	fp_connect_raw(fp, port);
	return fp_tls_prio(fp, false, prio);
}

void fp_connect(struct fake_peer *fp, const char *name, guint16 port)
{
	fp_connect_raw(fp, port);
	fp_handshake(fp, VS_TUN_ROLE_INITIATOR, name, 0);
}

void fp_connect_ext(struct fake_peer *fp, const char *name, guint16 port, uint32_t ext)
{
	fp_connect_raw(fp, port);
	fp_handshake(fp, VS_TUN_ROLE_INITIATOR, name, ext);
}

guint16 fp_listen(GSocket **listener)
{
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	*listener = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
				 G_SOCKET_PROTOCOL_TCP, NULL);
	g_assert_true(g_socket_bind(*listener, sa, TRUE, NULL));
	g_assert_true(g_socket_listen(*listener, NULL));
	g_socket_set_blocking(*listener, FALSE);
	bound = g_socket_get_local_address(*listener, NULL);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

void fp_accept_raw(struct fake_peer *fp, GSocket *listener)
{
	gint64 end = g_get_monotonic_time() + (gint64)DEADLINE_MS * 1000;
	GSocket *sock;

	while (!(sock = g_socket_accept(listener, NULL, NULL))) {
		g_assert_cmpint(g_get_monotonic_time(), <, end);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(200);
	}
	fp_init(fp, sock);
}

void fp_accept(struct fake_peer *fp, GSocket *listener, const char *name)
{
	fp_accept_ext(fp, listener, name, 0);
}

void fp_accept_ext(struct fake_peer *fp, GSocket *listener, const char *name, uint32_t ext)
{
	fp_accept_raw(fp, listener);
	fp_handshake(fp, VS_TUN_ROLE_RESPONDER, name, ext);
}

bool fp_recv_type(struct fake_peer *fp, enum vs_tun_type type, struct vs_tun_msg *m)
{
	while (fp_recv(fp, m, DEADLINE_MS))
		if (m->type == type)
			return true;
	return false;
}

void fp_open_stream(struct fake_peer *fp, uint32_t id, uint64_t first_seq, uint64_t want_next)
{
	struct vs_tun_msg m;

	fp_send_vm_open(fp, id, first_seq);
	g_assert_true(fp_recv_type(fp, VS_TUN_MSG_VM_ACCEPT, &m));
	g_assert_cmpuint(m.u.vm_accept.next_expected_seq, ==, want_next);
}

int fp_expect_error(struct fake_peer *fp, unsigned int ms)
{
	struct vs_tun_msg m;

	while (fp_recv(fp, &m, ms))
		if (m.type == VS_TUN_MSG_ERROR)
			return m.u.error.code;
	return -1;
}

bool fp_wait_eof(struct fake_peer *fp, unsigned int ms)
{
	struct vs_tun_msg m;

	while (fp_recv(fp, &m, ms))
		;
	return fp->eof;
}

void fp_close(struct fake_peer *fp)
{
	if (!fp->sock)
		return;
	g_socket_close(fp->sock, NULL);
	g_clear_object(&fp->sock);
	if (fp->tls)
		gnutls_deinit(fp->tls);
	fp->tls = NULL;
	if (fp->psk_client)
		gnutls_psk_free_client_credentials(fp->psk_client);
	if (fp->psk_server)
		gnutls_psk_free_server_credentials(fp->psk_server);
	g_byte_array_unref(fp->out);
	g_byte_array_unref(fp->wire);
	vs_tun_auth_clear(&fp->auth);
}
