/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_io.c - a tunnel connection's bytes: through TLS or the socket
 *
 * Theory of operation: tunnel.c reads, writes and waits on a connection
 * without knowing whether it is TLS.  Before the TLS handshake is done
 * (c->tls NULL) and without TLS, the bytes go straight through the
 * non-blocking GSocket; afterwards through the GTlsConnection's pollable
 * streams, which encrypt and decrypt.  Neither ever blocks the main loop:
 * both report G_IO_ERROR_WOULD_BLOCK, and the sources fire when the
 * transport can move bytes again (for TLS, also when decrypted bytes wait
 * in its buffer).
 *
 * A socket source calls back with (GSocket *, GIOCondition, data) and a
 * pollable one with (GObject *, data): the four trampolines below turn
 * both into tun_conn_on_readable()/tun_conn_on_writable().
 */
#include <gio/gio.h>

#include "tunnel_priv.h"

gssize tun_io_send(struct tun_conn *c, const void *buf, size_t len, GError **error)
{
	if (c->tls)
		return g_pollable_output_stream_write_nonblocking(
			G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(c->tls)), buf, len,
			NULL, error);
	return g_socket_send(c->sock, buf, len, NULL, error);
}

gssize tun_io_recv(struct tun_conn *c, void *buf, size_t len, GError **error)
{
	if (c->tls)
		return g_pollable_input_stream_read_nonblocking(
			G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(c->tls)), buf, len,
			NULL, error);
	return g_socket_receive(c->sock, buf, len, NULL, error);
}

static gboolean io_socket_readable_cb(GSocket *sock, GIOCondition cond, gpointer data)
{
	return tun_conn_on_readable(data);
}

static gboolean io_socket_writable_cb(GSocket *sock, GIOCondition cond, gpointer data)
{
	return tun_conn_on_writable(data);
}

static gboolean io_stream_readable_cb(GObject *stream, gpointer data)
{
	return tun_conn_on_readable(data);
}

static gboolean io_stream_writable_cb(GObject *stream, gpointer data)
{
	return tun_conn_on_writable(data);
}

GSource *tun_io_watch(struct tun_conn *c, GIOCondition cond)
{
	bool in = cond & G_IO_IN;
	GSource *src;

	if (c->tls) {
		if (in)
			src = g_pollable_input_stream_create_source(
				G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(c->tls)), NULL);
		else
			src = g_pollable_output_stream_create_source(
				G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(c->tls)), NULL);
		g_source_set_callback(src, in ? (GSourceFunc)(void (*)(void))io_stream_readable_cb
					      : (GSourceFunc)(void (*)(void))io_stream_writable_cb,
				      c, NULL);
	} else {
		src = g_socket_create_source(c->sock, in ? G_IO_IN | G_IO_HUP | G_IO_ERR : G_IO_OUT,
					     NULL);
		g_source_set_callback(src, in ? (GSourceFunc)(void (*)(void))io_socket_readable_cb
					      : (GSourceFunc)(void (*)(void))io_socket_writable_cb,
				      c, NULL);
	}
	g_source_attach(src, NULL);
	return src;
}
