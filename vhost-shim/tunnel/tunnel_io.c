/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_io.c - a tunnel connection's bytes, through its TLS session
 *
 * Theory of operation: every connection's bytes go through GnuTLS (TLS
 * 1.3, tunnel_tls.h), which reads and writes the connection's socket
 * itself through the pull and push functions below: non-blocking recv()
 * and send(), EAGAIN passed back to GnuTLS as such, so nothing here ever
 * blocks the main loop.  The sources are plain socket sources; decrypted
 * bytes that GnuTLS already holds (it reads ahead) are not visible to
 * poll(), so tunnel.c asks tun_io_pending() before it waits again.
 *
 * The pull function serves first the bytes tunnel_listen.c sniffed off an
 * accepted connection before TLS started (c->first), and keeps the first
 * bytes of an outgoing one there, so that a handshake that fails because
 * a version-1 shim answered in clear can say so.
 *
 * Sending: GnuTLS wants a record send that returned GNUTLS_E_AGAIN to be
 * resumed with (NULL, 0) (it holds the record, encrypted); sess->send_pending
 * remembers how many bytes of c->out that record took, and they leave
 * c->out only once it is out.
 *
 * Receiving: after the handshake, a record that does not verify (a byte
 * changed on the way, a record spliced in by someone without the keys, an
 * old record replayed: its sequence number no longer matches) is fatal for
 * the session.  It is counted here (tls_record_errors) and described in
 * the error, which tunnel.c logs once as it closes the connection.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "tunnel_priv.h"

static ssize_t io_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tun_conn *c = ptr;
	ssize_t r;

	if (c->first_off < c->first_len) {
		size_t n = MIN(len, c->first_len - c->first_off);

		memcpy(buf, c->first + c->first_off, n);
		c->first_off += n;
		return (ssize_t)n;
	}
	r = recv(g_socket_get_fd(c->sock), buf, len, MSG_DONTWAIT);
	if (r < 0) {
		c->sess->io_errno = errno;
		gnutls_transport_set_errno(c->sess->s, errno);
		return -1;
	}
	if (r > 0) {
		size_t keep = MIN((size_t)r, sizeof(c->first) - c->first_len);

		/* an outgoing connection's first bytes: kept for a diagnosis */
		memcpy(c->first + c->first_len, buf, keep);
		c->first_len += keep;
		c->first_off = c->first_len;
		c->last_rx = g_get_monotonic_time();	/* keepalive: the peer lives */
	}
	return r;
}

static ssize_t io_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct tun_conn *c = ptr;
	ssize_t r = send(g_socket_get_fd(c->sock), buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (r < 0) {
		c->sess->io_errno = errno;
		gnutls_transport_set_errno(c->sess->s, errno);
	}
	return r;
}

void tun_io_attach(struct tun_conn *c, gnutls_session_t s)
{
	gnutls_transport_set_ptr(s, c);
	gnutls_transport_set_pull_function(s, io_pull);
	gnutls_transport_set_push_function(s, io_push);
}

/* A socket error's text (push/pull), or GnuTLS's own */
static const char *io_strerror(const struct tun_conn *c, int r)
{
	if ((r == GNUTLS_E_PUSH_ERROR || r == GNUTLS_E_PULL_ERROR) && c->sess->io_errno)
		return g_strerror(c->sess->io_errno);
	return gnutls_strerror(r);
}

gssize tun_io_send(struct tun_conn *c, size_t len, GError **error)
{
	struct tun_sess *sess = c->sess;
	ssize_t r;

	if (sess->send_pending)
		r = gnutls_record_send(sess->s, NULL, 0);
	else
		r = gnutls_record_send(sess->s, c->out->data, len);
	if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
		/* the record (at most 16 KiB of c->out) is GnuTLS's now */
		if (!sess->send_pending)
			sess->send_pending = MIN(len, gnutls_record_get_max_size(sess->s));
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "would block");
		return -1;
	}
	if (r < 0) {
		sess->broken = true;
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS send: %s", io_strerror(c, (int)r));
		return -1;
	}
	sess->send_pending = 0;
	return r;
}

/*
 * A fatal error on receive, after the handshake.  The socket's own errors
 * and the peer's alerts are what they say; the rest means a record that
 * is not what the peer's session sent.
 */
static bool io_record_error(int r)
{
	switch (r) {
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_MEMORY_ERROR:
	case GNUTLS_E_INTERNAL_ERROR:
		return false;
	default:
		return true;
	}
}

gssize tun_io_recv(struct tun_conn *c, void *buf, size_t len, GError **error)
{
	struct tun_sess *sess = c->sess;
	ssize_t r;

	for (;;) {
		r = gnutls_record_recv(sess->s, buf, len);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
					    "would block");
			return -1;
		}
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;	/* EOF without close_notify: our protocol ends itself */
		if (!gnutls_error_is_fatal((int)r))
			continue;	/* a warning alert, a rehandshake request: ignored */
		break;
	}
	sess->broken = true;
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		g_autofree char *alert = tun_sess_alert_str(c);
		bool authed = c->auth.state == VS_TUN_AUTH_AUTHENTICATED;

		/* TLS 1.3: a client learns that its certificate was refused
		 * only after its side of the handshake is done */
		if (!authed) {
			c->tun->stats.auth_failures++;
			c->tun->stats.tls_failures++;
		}
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS: the peer %s (%s)",
			    authed ? "ended the session" : "refused us", alert);
	} else if (io_record_error((int)r)) {
		c->tun->stats.tls_record_errors++;
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "TLS record rejected: %s (changed, spliced in or replayed on the way?)",
			    gnutls_strerror((int)r));
		/* tell the peer why, if it still listens: bad_record_mac */
		gnutls_alert_send_appropriate(sess->s, (int)r);
	} else {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "TLS receive: %s",
			    io_strerror(c, (int)r));
	}
	return -1;
}

bool tun_io_pending(const struct tun_conn *c)
{
	return c->sess && c->sess->up && !c->sess->broken &&
	       gnutls_record_check_pending(c->sess->s) > 0;
}

static gboolean io_socket_readable_cb(GSocket *sock, GIOCondition cond, gpointer data)
{
	return tun_conn_on_readable(data);
}

static gboolean io_socket_writable_cb(GSocket *sock, GIOCondition cond, gpointer data)
{
	return tun_conn_on_writable(data);
}

GSource *tun_io_watch(struct tun_conn *c, GIOCondition cond)
{
	bool in = cond & G_IO_IN;
	GSource *src = g_socket_create_source(c->sock, in ? G_IO_IN | G_IO_HUP | G_IO_ERR : G_IO_OUT,
					      NULL);

	g_source_set_callback(src, in ? (GSourceFunc)(void (*)(void))io_socket_readable_cb
				      : (GSourceFunc)(void (*)(void))io_socket_writable_cb,
			      c, NULL);
	g_source_attach(src, NULL);
	return src;
}
