/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel.c - the tunnel transport: connections and message dispatch
 *
 * Theory of operation: see tunnel.h.  Connections are non-blocking GSockets
 * driven by GLib sources on the main loop.  A connection goes through its
 * phases once (enum tun_conn_phase): an outgoing one connects, an
 * accepted one has its first bytes sniffed (tunnel_listen.c), then the
 * TLS 1.3 handshake runs (tunnel_session.c), and once TLS is up every
 * byte goes through it (tunnel_io.c).  Inside TLS each connection has a
 * decoder and a handshake (tunnel_proto.h) and an output queue: our own
 * frames stop at VS_TUN_SEND_QUEUE_MAX, which is backpressure (the source
 * stops draining its buffer), never a drop; replies the peer asks for
 * (PONG, ACK, VM_REJECT...) go on top, and a queue past twice that is a
 * peer that does not read: it is closed before another of its messages
 * is handled (slow_readers).
 *
 * Peers: every configured peer has at most one outgoing connection, opened
 * on demand (a stream or an EXPECT to send) and re-opened with exponential
 * backoff while there is something to send.  Incoming connections are
 * accepted from anyone who completes TLS with the pre-shared key, or with
 * tls=x509 presents a certificate from our CA naming the node it claims
 * to be (tunnel_tls.h), and then the HELLO/AUTH handshake inside TLS;
 * they carry streams for VMs this shim expects (the stream_open callback
 * decides).
 *
 * Outgoing streams keep every frame until it is acked and the destination
 * reported the VM running.  After a reconnect, VM_OPEN is sent again and
 * the destination's VM_ACCEPT says where to resume.
 *
 * Security model: nothing of the tunnel protocol is read before TLS is up,
 * and nothing but HELLO/AUTH before the peer has proven the AUTH key; a
 * record that TLS does not verify, or a peer that breaks the protocol,
 * ends the connection with one log line and a counter.  Peer names come
 * from the authenticated HELLO.
 *
 * Files: this one has the connections (handshake, output queue, read,
 * close) and the dispatch of decoded messages; the peers, their reconnect
 * backoff, the listener, init and shutdown are tunnel_peers.c; the streams
 * themselves (retain, flush, trim, take back, close; the destination's
 * replies) are tunnel_stream.c.
 * tunnel_priv.h is what they share.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"
#include "tunnel_tls.h"
#include "util.h"

#define TUN_READ_CHUNK		 16384	/* a TLS record */
/* bytes decrypted per callback (records may be small, one frame each):
 * then others get the loop (more_src) */
#define TUN_READ_BUDGET		 (256 * 1024)
#define TUN_QUEUE_HARD_MAX	 (2 * VS_TUN_SEND_QUEUE_MAX)

static const char *const tun_phase_names[TUN_NUM_PHASES] = {
	[TUN_PHASE_CONNECTING] = "connecting",
	[TUN_PHASE_SNIFFING] = "sniffing",
	[TUN_PHASE_TLS] = "tls-handshake",
	[TUN_PHASE_UP] = "tls-up",
};
static_assert(G_N_ELEMENTS(tun_phase_names) == TUN_NUM_PHASES, "phase names");

const struct vs_tun_stats *vs_tun_get_stats(const struct vs_tun *t)
{
	return &t->stats;
}

bool tun_conn_ready(const struct tun_conn *c)
{
	return c && !c->dead && c->auth.state == VS_TUN_AUTH_AUTHENTICATED;
}

bool tun_conn_transport_up(const struct tun_conn *c)
{
	return c->phase == TUN_PHASE_UP && c->sess && !c->sess->broken;
}

void tun_conn_set_phase(struct tun_conn *c, enum tun_conn_phase next)
{
	/* phases only move forward; an accepted connection never connects */
	assert(next > c->phase && next < TUN_NUM_PHASES &&
	       !(next == TUN_PHASE_SNIFFING && c->initiator));
	vs_log(TUN, DEBUG, NULL, "connection %s: %s -> %s", c->desc, tun_phase_names[c->phase],
	       tun_phase_names[next]);
	c->phase = next;
}

static void tun_src_drop(GSource **src)
{
	if (!*src)
		return;
	g_source_destroy(*src);
	g_source_unref(*src);
	*src = NULL;
}

void tun_conn_watch(struct tun_conn *c, bool in, bool out)
{
	if (c->dead)
		return;
	if (in && !c->in_src)
		c->in_src = tun_io_watch(c, G_IO_IN);
	else if (!in)
		tun_src_drop(&c->in_src);
	if (out && !c->out_src)
		c->out_src = tun_io_watch(c, G_IO_OUT);
	else if (!out)
		tun_src_drop(&c->out_src);
}

/* --- output ---------------------------------------------------------------- */

void tun_conn_flush(struct tun_conn *c)
{
	if (!tun_conn_transport_up(c))
		return;		/* the TLS handshake flushes when it is done */
	while (!c->dead && c->out->len) {
		g_autoptr(GError) err = NULL;
		gssize n = tun_io_send(c, c->out->len, &err);

		if (n < 0) {
			if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				break;
			tun_conn_close(c, VS_TUN_OK, err->message);
			return;
		}
		g_byte_array_remove_range(c->out, 0, (guint)n);
	}
	if (c->dead)
		return;
	if (c->out->len && !c->out_src)
		c->out_src = tun_io_watch(c, G_IO_OUT);
}

static gboolean tun_flush_soon_cb(gpointer data)
{
	struct tun_conn *c = data;

	g_source_unref(c->flush_src);
	c->flush_src = NULL;
	tun_conn_flush(c);
	return G_SOURCE_REMOVE;
}

void tun_conn_flush_soon(struct tun_conn *c)
{
	if (c->dead || c->flush_src)
		return;
	c->flush_src = g_idle_source_new();
	g_source_set_priority(c->flush_src, G_PRIORITY_DEFAULT);
	g_source_set_callback(c->flush_src, tun_flush_soon_cb, c, NULL);
	g_source_attach(c->flush_src, NULL);
}

/*
 * On the way out: what the socket takes now of the queue, ERROR last, and
 * nothing more (best effort: a peer that does not read gets nothing)
 */
static void tun_conn_flush_last(struct tun_conn *c)
{
	while (c->out->len) {
		gssize n = tun_io_send(c, c->out->len, NULL);

		if (n <= 0)
			break;
		g_byte_array_remove_range(c->out, 0, (guint)n);
	}
}

size_t tun_conn_queued(const struct tun_conn *c)
{
	return c ? c->out->len : 0;
}

/* --- message handling ----------------------------------------------------- */

const char *tun_conn_peer_name(const struct tun_conn *c)
{
	return c->auth.peer_name[0] ? c->auth.peer_name : c->desc;
}

void tun_conn_protocol_error(struct tun_conn *c, const char *fmt, ...)
{
	g_autofree char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	c->tun->stats.protocol_errors++;
	tun_conn_close(c, VS_TUN_ERR_PROTOCOL, why);
}

/*
 * PEER_CONNECTED / PEER_LOST.  A connection is announced once its HELLO/AUTH
 * handshake (inside TLS, with tls=x509) has succeeded, in either direction;
 * one refused at the handshake never is (auth_failures counts it), so a
 * PEER_LOST always follows a PEER_CONNECTED of the same connection.
 */
static void tun_conn_announce(struct tun_conn *c, bool up, const char *reason)
{
	g_autoptr(GPtrArray) ports = g_ptr_array_new();
	const char *addr = strchr(c->desc, ' ');
	GHashTableIter it;
	gpointer v;
	GList *l;

	/* outgoing: the streams waiting for or using this peer's connection */
	if (c->peer && c->peer->conn == c)
		for (l = c->peer->streams; l; l = l->next)
			g_ptr_array_add(ports, ((struct vs_tun_stream *)l->data)->vm_name);
	/* incoming: the streams the peer opened on it */
	g_hash_table_iter_init(&it, c->in_streams);
	while (g_hash_table_iter_next(&it, NULL, &v))
		g_ptr_array_add(ports, ((struct vs_tun_in *)v)->vm_name);
	g_ptr_array_add(ports, NULL);
	{
		const struct vs_tun_peer_event ev = {
			.up = up,
			.peer = tun_conn_peer_name(c),
			.address = addr ? addr + 1 : c->desc,
			.outgoing = c->initiator,
			.ports = (const char *const *)ports->pdata,
			.reason = reason,
		};

		c->tun->ops->peer_event(c->tun->opaque, &ev);
	}
}

static void tun_conn_authenticated(struct tun_conn *c)
{
	GList *l;
	GByteArray *e;

	if (c->handshake_timer) {
		g_source_remove(c->handshake_timer);
		c->handshake_timer = 0;
	}
	/* a peer learned from the registry is the node it was named as */
	if (c->peer && c->peer->strict_name && strcmp(c->auth.peer_name, c->peer->name)) {
		char why[160];

		g_snprintf(why, sizeof(why), "dialled %s (from the registry), answered by %s",
			   c->peer->name, c->auth.peer_name);
		c->tun->stats.auth_failures++;
		tun_conn_close(c, VS_TUN_ERR_AUTH_FAIL, why);
		return;
	}
	if (!tun_slot_release(c, true)) {
		char why[96];

		g_snprintf(why, sizeof(why), "%d authenticated connections already",
			   VS_TUN_AUTHED_MAX);
		tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
		return;
	}
	vs_log(TUN, NOTICE, NULL, "peer %s authenticated (%s, %s)", c->auth.peer_name, c->desc,
	       c->initiator ? "outgoing" : "incoming");
	tun_keepalive_start(c);
	/* here, for both directions: the first moment the peer's name is proven */
	c->announced = true;
	tun_conn_announce(c, true, NULL);
	if (!c->peer)
		return;
	if (strcmp(c->auth.peer_name, c->peer->name))
		vs_log(TUN, WARNING, NULL, "peer %s calls itself %s", c->peer->name,
		       c->auth.peer_name);
	c->peer->backoff_ms = 0;
	while ((e = g_queue_pop_head(&c->peer->expects))) {
		g_byte_array_append(c->out, e->data, e->len);
		g_byte_array_unref(e);
	}
	for (l = c->peer->streams; l; l = l->next) {
		struct vs_tun_stream *s = l->data;

		s->open_sent = false;
		s->opened = false;
		tun_stream_send_open(s);
	}
	tun_conn_flush(c);
}

static void tun_conn_handle(struct tun_conn *c, const struct vs_tun_msg *m)
{
	enum vs_tun_dir dir;
	bool deliver = false;
	enum vs_tun_err err = vs_tun_auth_consume(&c->auth, m, c->out, &deliver);

	if (err == VS_TUN_ERR_BAD_VERSION && m->type == VS_TUN_MSG_HELLO &&
	    m->u.hello.version < VS_TUN_COMPAT_VERSION) {
		char how[VS_TUN_ERRMSG_MAX + 16];

		/* an older shim inside TLS (x509 mode of version 1) */
		g_snprintf(how, sizeof(how), "its HELLO: %s", vs_tun_auth_errmsg(&c->auth));
		tun_conn_refuse_version(c, m->u.hello.version, true, how);
		return;
	}
	if (err) {
		c->tun->stats.auth_failures++;
		tun_conn_close(c, err, vs_tun_auth_errmsg(&c->auth));
		return;
	}
	if (m->type == VS_TUN_MSG_HELLO) {
		char why[160];

		/* our AUTH is queued but not sent: refuse before it goes out */
		if (!tun_tls_peer_named(c, c->auth.peer_name, why, sizeof(why))) {
			c->tun->stats.auth_failures++;
			c->tun->stats.tls_failures++;
			tun_conn_close(c, VS_TUN_ERR_AUTH_FAIL, why);
			return;
		}
	}
	if (!deliver) {
		if (c->auth.state == VS_TUN_AUTH_AUTHENTICATED && m->type == VS_TUN_MSG_AUTH)
			tun_conn_authenticated(c);
		if (!c->dead)
			tun_conn_flush(c);
		return;
	}
	/*
	 * Streams are opened by the side that dialled (the source), so on a
	 * connection we dialled the peer sends only dst -> src types, and on
	 * one we accepted only src -> dst types (tunnel-protocol.md, 2)
	 */
	dir = vs_tun_type_dir(m->type);
	if (dir != VS_TUN_DIR_BOTH &&
	    dir != (c->initiator ? VS_TUN_DIR_DST_TO_SRC : VS_TUN_DIR_SRC_TO_DST)) {
		tun_conn_protocol_error(c, "%s on a connection %s", vs_tun_type_name(m->type),
					c->initiator ? "we dialled" : "we accepted");
		return;
	}
	/* FRAME_TIMES only where both HELLOs offered frame-times (3.11) */
	if (m->type == VS_TUN_MSG_FRAME_TIMES &&
	    !(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_FRAME_TIMES)) {
		tun_conn_protocol_error(c, "FRAME_TIMES without the frame-times extension");
		return;
	}
	/* SOURCE_DIRECT likewise, only where both offered source-direct */
	if (m->type == VS_TUN_MSG_SOURCE_DIRECT &&
	    !(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_SOURCE_DIRECT)) {
		tun_conn_protocol_error(c, "SOURCE_DIRECT without the source-direct extension");
		return;
	}
	/* SOURCE_BARRIER likewise, only where both offered source-barrier */
	if (m->type == VS_TUN_MSG_SOURCE_BARRIER &&
	    !(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_SOURCE_BARRIER)) {
		tun_conn_protocol_error(c, "SOURCE_BARRIER without the source-barrier extension");
		return;
	}
	/* CONNS likewise, only where both offered tcp-conns */
	if (m->type == VS_TUN_MSG_CONNS &&
	    !(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_TCP_CONNS)) {
		tun_conn_protocol_error(c, "CONNS without the tcp-conns extension");
		return;
	}
	switch (m->type) {
	case VS_TUN_MSG_ERROR:
		vs_log(TUN, WARNING, NULL, "peer %s: ERROR %s: %s", tun_conn_peer_name(c),
		       vs_tun_err_str(m->u.error.code), m->u.error.text);
		tun_conn_close(c, VS_TUN_OK, "peer sent ERROR");
		return;
	case VS_TUN_MSG_VM_OPEN:
	case VS_TUN_MSG_FRAME:
	case VS_TUN_MSG_FRAME_TIMES:
	case VS_TUN_MSG_ABORT:
	case VS_TUN_MSG_END:
	case VS_TUN_MSG_BARRIER:
	case VS_TUN_MSG_SOURCE_BARRIER:
	case VS_TUN_MSG_CONNS:
		tun_in_handle(c, m);
		break;
	case VS_TUN_MSG_VM_ACCEPT:
	case VS_TUN_MSG_VM_REJECT:
	case VS_TUN_MSG_ACK:
	case VS_TUN_MSG_RESUMED:
	case VS_TUN_MSG_LIVE_SEEN:
	case VS_TUN_MSG_SOURCE_DIRECT:
		tun_stream_handle(c, m);
		break;
	case VS_TUN_MSG_EXPECT:
		/* the layer above checks the VM and its MAC */
		if (!c->tun->ops->expect(c->tun->opaque, m->u.expect.name, m->u.expect.mac,
					 c->auth.peer_name)) {
			c->tun->stats.expects_refused++;
			/* once per connection: a peer cannot flood the log */
			if (!c->expect_refused_logged)
				vs_log(TUN, WARNING, m->u.expect.name,
				       "EXPECT from %s refused: another VM's MAC (counted in "
				       "expects-refused; not logged again on this connection)",
				       c->auth.peer_name);
			c->expect_refused_logged = true;
		}
		break;
	case VS_TUN_MSG_PING:
		vs_tun_encode_pong(c->out, m->u.ping.token);
		tun_conn_flush(c);
		break;
	case VS_TUN_MSG_PONG:
		break;		/* it arrived: that is all the keepalive needs */
	case VS_TUN_MSG_NONE:
	case VS_TUN_MSG_HELLO:
	case VS_TUN_MSG_AUTH:
	case VS_TUN_NUM_TYPES:
		break;		/* the handshake keeps these (deliver is false) */
	}
}

static void tun_send_acks(struct tun_conn *c)
{
	GHashTableIter it;
	gpointer v;

	if (c->dead)
		return;
	g_hash_table_iter_init(&it, c->in_streams);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct vs_tun_in *in = v;

		if (in->ack_due) {
			vs_tun_encode_ack(c->out, in->stream_id, in->next_expected - 1);
			in->ack_due = false;
		}
	}
	tun_conn_flush(c);
}

/*
 * Security: every message may queue a reply (PONG, ACK, VM_REJECT,
 * ERROR...).  Our own frames stop at VS_TUN_SEND_QUEUE_MAX (plus one), so
 * a queue twice that long is a peer that sends and never reads: close it
 * before it fills our memory, and before another of its messages is
 * handled.
 */
static bool tun_conn_slow_reader(struct tun_conn *c)
{
	char why[96];

	if (tun_conn_queued(c) <= TUN_QUEUE_HARD_MAX)
		return false;
	c->tun->stats.slow_readers++;
	g_snprintf(why, sizeof(why), "the peer does not read: %zu bytes queued",
		   tun_conn_queued(c));
	tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
	return true;
}

/* Decode what TLS gave us and handle it, message by message */
static void tun_conn_feed(struct tun_conn *c, const uint8_t *buf, size_t n)
{
	size_t off = 0;

	while (off < n && !c->dead) {
		struct vs_tun_msg m;
		size_t used = 0;
		enum vs_tun_err e;

		if (tun_conn_slow_reader(c))
			return;
		e = vs_tun_decoder_feed(&c->dec, buf + off, n - off, &used, &m);
		off += used;
		if (e) {
			c->tun->stats.protocol_errors++;
			tun_conn_close(c, e, vs_tun_decoder_errmsg(&c->dec));
			return;
		}
		if (m.type != VS_TUN_MSG_NONE)
			tun_conn_handle(c, &m);
	}
}

static gboolean tun_more_cb(gpointer data)
{
	struct tun_conn *c = data;

	g_source_unref(c->more_src);
	c->more_src = NULL;
	tun_conn_on_readable(c);
	return G_SOURCE_REMOVE;
}

gboolean tun_conn_on_readable(struct tun_conn *c)
{
	static uint8_t buf[TUN_READ_CHUNK];
	size_t budget = TUN_READ_BUDGET;

	if (c->dead)
		return G_SOURCE_CONTINUE;
	switch (c->phase) {
	case TUN_PHASE_CONNECTING:
		return G_SOURCE_CONTINUE;	/* not watched: a connect in flight */
	case TUN_PHASE_SNIFFING:
		tun_conn_sniff(c);
		return G_SOURCE_CONTINUE;
	case TUN_PHASE_TLS:
		tun_sess_handshake(c);
		return G_SOURCE_CONTINUE;
	case TUN_PHASE_UP:
	case TUN_NUM_PHASES:
		break;
	}
	while (!c->dead && budget) {
		g_autoptr(GError) err = NULL;
		gssize n;

		if (tun_conn_slow_reader(c))
			return G_SOURCE_CONTINUE;
		n = tun_io_recv(c, buf, sizeof(buf), &err);
		if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			break;
		if (n < 0) {
			/* a TLS record that did not verify, or the peer's alert */
			c->refused = c->sess->broken;
			tun_conn_close(c, VS_TUN_OK, err->message);
			return G_SOURCE_CONTINUE;	/* the source is destroyed by close */
		}
		if (n == 0) {
			enum vs_tun_err e = vs_tun_decoder_eof(&c->dec);

			tun_conn_close(c, VS_TUN_OK,
				       e ? vs_tun_decoder_errmsg(&c->dec) : "closed by peer");
			return G_SOURCE_CONTINUE;
		}
		budget -= MIN(budget, (size_t)n);
		tun_conn_feed(c, buf, (size_t)n);
	}
	if (c->dead)
		return G_SOURCE_CONTINUE;
	tun_send_acks(c);
	/* GnuTLS may hold records it read ahead: poll() does not see them */
	if (!c->dead && !c->more_src && tun_io_pending(c)) {
		c->more_src = g_idle_source_new();
		g_source_set_callback(c->more_src, tun_more_cb, c, NULL);
		g_source_attach(c->more_src, NULL);
	}
	return G_SOURCE_CONTINUE;
}

gboolean tun_conn_on_writable(struct tun_conn *c)
{
	GList *l;

	tun_src_drop(&c->out_src);
	if (c->dead)
		return G_SOURCE_REMOVE;
	switch (c->phase) {
	case TUN_PHASE_CONNECTING: {
		g_autoptr(GError) err = NULL;

		if (!g_socket_check_connect_result(c->sock, &err)) {
			tun_conn_close(c, VS_TUN_OK, err->message);
			return G_SOURCE_REMOVE;
		}
		tun_sess_start(c);		/* TCP is up: TLS next */
		return G_SOURCE_REMOVE;
	}
	case TUN_PHASE_SNIFFING:
		return G_SOURCE_REMOVE;		/* not watched for output */
	case TUN_PHASE_TLS:
		tun_sess_handshake(c);
		return G_SOURCE_REMOVE;
	case TUN_PHASE_UP:
	case TUN_NUM_PHASES:
		break;
	}
	tun_conn_flush(c);
	/* room again: streams may send what they held back */
	if (!c->dead && c->peer && !c->out->len)
		for (l = c->peer->streams; l; l = l->next)
			tun_stream_flush(l->data);
	return G_SOURCE_REMOVE;
}

static gboolean tun_handshake_timeout_cb(gpointer data)
{
	struct tun_conn *c = data;

	char why[96];

	c->handshake_timer = 0;
	c->tun->stats.auth_failures++;
	c->tun->stats.handshake_timeouts++;
	g_snprintf(why, sizeof(why), "handshake not done within %d ms (%s)",
		   c->initiator ? VS_TUN_CONNECT_DEADLINE_MS : VS_TUN_PREAUTH_DEADLINE_MS,
		   tun_phase_names[c->phase]);
	tun_conn_close(c, VS_TUN_ERR_TIMEOUT, why);
	return G_SOURCE_REMOVE;
}

static void tun_conn_free(struct tun_conn *c)
{
	g_byte_array_unref(c->out);
	g_hash_table_destroy(c->in_streams);
	tun_sess_free(c);
	g_object_unref(c->sock);
	g_free(c);
}

static gboolean tun_conn_free_idle_cb(gpointer data)
{
	tun_conn_free(data);
	return G_SOURCE_REMOVE;
}

void tun_conn_close(struct tun_conn *c, enum vs_tun_err code, const char *why)
{
	struct tun_peer *p = c->peer;
	struct vs_tun *t = c->tun;

	if (c->dead)
		return;
	if (code && tun_conn_transport_up(c)) {
		/*
		 * Before authentication nothing queued matters but the ERROR:
		 * an AUTH queued for a peer refused after its HELLO stays
		 * here (what GnuTLS holds already, a prefix, must go)
		 */
		if (c->auth.state != VS_TUN_AUTH_AUTHENTICATED)
			g_byte_array_set_size(c->out, (guint)MIN(c->out->len,
								 c->sess->send_pending));
		vs_tun_encode_error(c->out, code, why);
		tun_conn_flush_last(c);
	}
	c->dead = true;
	vs_log_at(VS_LOGC_TUN, code || c->refused ? VS_LOG_WARNING : VS_LOG_NOTICE, NULL,
		  "connection %s (%s) closed: %s%s%s", c->desc, tun_conn_peer_name(c),
		  code ? vs_tun_err_str(code) : "", code ? ": " : "", why);
	/*
	 * Every way an authenticated connection ends (EOF, reset, write or
	 * protocol error, the peer's ERROR, shutdown) comes through here:
	 * announce it before the streams and the peer's name are cleared
	 */
	if (c->announced) {
		g_autofree char *reason = g_strdup_printf("%s%s%s", code ? vs_tun_err_str(code) : "",
							  code ? ": " : "", why);

		c->announced = false;
		tun_conn_announce(c, false, reason);
	}
	tun_src_drop(&c->in_src);
	tun_src_drop(&c->out_src);
	tun_src_drop(&c->more_src);
	tun_src_drop(&c->flush_src);
	tun_slot_release(c, false);
	if (c->handshake_timer)
		g_source_remove(c->handshake_timer);
	c->handshake_timer = 0;
	tun_keepalive_stop(c);
	g_socket_close(c->sock, NULL);
	vs_tun_auth_clear(&c->auth);
	g_hash_table_remove_all(c->in_streams);	/* CLOSED events */
	t->conns = g_list_remove(t->conns, c);
	if (p && p->conn == c) {
		GList *l, *next;

		p->conn = NULL;
		for (l = p->streams; l; l = next) {
			struct vs_tun_stream *s = l->data;

			next = l->next;		/* the callback may close the stream */
			s->opened = s->open_sent = false;
			if (s->acked + 1 < s->next_seq || !s->committed)
				t->ops->out_event(t->opaque, s, s->vm_name, VS_TUN_OUT_INTERRUPTED,
						  VS_TUN_REJECT_NONE);
		}
		if (p->streams || !g_queue_is_empty(&p->expects)) {
			t->stats.reconnects++;
			tun_peer_schedule_reconnect(p);
		}
	}
	/* we may be inside one of this connection's callbacks: free later */
	g_idle_add(tun_conn_free_idle_cb, c);
}

bool tun_conn_start_auth(struct tun_conn *c, const uint8_t *key, size_t key_len)
{
	uint8_t nonce[VS_TUN_NONCE_LEN];
	g_autoptr(GError) err = NULL;

	if (!vs_tun_random_nonce(nonce, &err) ||
	    vs_tun_auth_init(&c->auth, c->initiator ? VS_TUN_ROLE_INITIATOR : VS_TUN_ROLE_RESPONDER,
			     key, key_len, c->tun->node_name, nonce) != VS_TUN_OK) {
		g_autofree char *why = g_strdup_printf("cannot start a handshake: %s",
						       err ? err->message
							   : vs_tun_auth_errmsg(&c->auth));

		tun_conn_close(c, VS_TUN_ERR_INTERNAL, why);
		return false;
	}
	/* no source-barrier without source-direct: no report, no barrier */
	c->auth.my_ext = (c->tun->no_frame_times ? 0 : VS_TUN_HELLO_EXT_FRAME_TIMES) |
			 (c->tun->no_source_direct ? 0 : VS_TUN_HELLO_EXT_SOURCE_DIRECT) |
			 (c->tun->no_source_direct || c->tun->no_source_barrier
				  ? 0 : VS_TUN_HELLO_EXT_SOURCE_BARRIER) |
			 (c->tun->no_tcp_conns ? 0 : VS_TUN_HELLO_EXT_TCP_CONNS);
	vs_tun_auth_start(&c->auth, c->out);
	return true;
}

void tun_conn_refuse_version(struct tun_conn *c, unsigned int version, bool tell,
			     const char *how)
{
	char why[VS_TUN_ERRMSG_MAX + 200];

	c->tun->stats.version_refusals++;
	if (tell && tun_conn_transport_up(c)) {
		/* what the older shim logs: its own side of the story */
		vs_tun_encode_error(c->out, VS_TUN_ERR_BAD_VERSION, VS_TUN_V1_REFUSAL_TEXT);
		tun_conn_flush_last(c);
	}
	g_snprintf(why, sizeof(why),
		   "peer speaks tunnel protocol v%u (%s); this shim speaks v%d only: upgrade "
		   "vhost-shim on both hosts before migrating between them (docs/tunnel-protocol.md, "
		   "\"Versions\")", version, how, VS_TUN_VERSION);
	tun_conn_close(c, VS_TUN_OK, why);
}

/*
 * A new connection: an outgoing one connecting (its caller starts TLS once
 * TCP is up), an accepted one sniffing its first bytes.  Its handshake
 * deadline covers TLS and HELLO/AUTH together.
 */
struct tun_conn *tun_conn_new(struct vs_tun *t, GSocket *sock, bool initiator,
			      struct tun_peer *peer, const char *desc)
{
	struct tun_conn *c = g_new0(struct tun_conn, 1);

	c->tun = t;
	c->sock = sock;
	c->initiator = initiator;
	c->peer = peer;
	c->phase = TUN_PHASE_CONNECTING;
	c->out = g_byte_array_new();
	c->in_streams = g_hash_table_new_full(NULL, NULL, NULL, tun_in_free);
	g_strlcpy(c->desc, desc, sizeof(c->desc));
	vs_tun_decoder_init(&c->dec);
	g_socket_set_blocking(sock, FALSE);
	tun_keepalive_socket(t, sock);
	c->handshake_timer = g_timeout_add(initiator ? VS_TUN_CONNECT_DEADLINE_MS
						     : VS_TUN_PREAUTH_DEADLINE_MS,
					   tun_handshake_timeout_cb, c);
	t->conns = g_list_prepend(t->conns, c);
	if (!initiator) {
		tun_conn_set_phase(c, TUN_PHASE_SNIFFING);
		tun_conn_watch(c, true, false);
	}
	return c;
}
