/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_stream.c - tunnel streams: the source's outgoing stream, the
 * destination's replies
 *
 * Theory of operation: see tunnel.h.  An outgoing stream (struct
 * vs_tun_stream) belongs to its opener (the handover), from vs_tun_stream_open() to
 * vs_tun_stream_take_back() or vs_tun_stream_close(), and outlives the
 * connections of its peer.  It numbers the frames pushed into it from 1
 * and retains every one of them in order:
 *   - flush: once the destination accepted the stream (VM_ACCEPT), frames
 *     from send_seq on go to the connection's output queue, up to
 *     VS_TUN_SEND_QUEUE_MAX; the rest wait for room (backpressure, never a
 *     drop: vs_tun_stream_can_push() tells the pump to stop);
 *   - trim: a frame is freed only once it is acked *and* the destination
 *     reported the VM running (commit), because a rollback before that
 *     needs every frame back;
 *   - reconnect: tunnel.c clears opened/open_sent when the connection
 *     goes; on the next one VM_OPEN goes again and VM_ACCEPT's next
 *     expected seq says where to resend from, so frames are neither lost
 *     nor duplicated;
 *   - take back (rollback): ABORT, and all retained frames go back to
 *     the opener in order for local replay; close: END (or ABORT) and free.
 *
 * An incoming stream (struct vs_tun_in) belongs to its connection in
 * tunnel.c; here are only the destination's replies on it (RESUMED,
 * LIVE_SEEN) and its destroy notifier, which tells the callbacks it is gone.
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

/* --- streams (source side) ------------------------------------------------ */

void tun_stream_send_open(struct vs_tun_stream *s)
{
	struct tun_conn *c = s->peer->conn;
	uint64_t first = s->acked + 1;

	if (!tun_conn_ready(c) || s->open_sent || s->rejected)
		return;
	vs_tun_encode_vm_open(c->out, s->stream_id, s->mac, s->vm_name, first);
	s->open_sent = true;
	tun_conn_flush(c);
}

struct vs_tun_stream *tun_peer_find_stream(struct tun_peer *p, uint32_t id)
{
	GList *l;

	for (l = p ? p->streams : NULL; l; l = l->next) {
		struct vs_tun_stream *s = l->data;

		if (s->stream_id == id)
			return s;
	}
	return NULL;
}

void tun_stream_trim(struct vs_tun_stream *s)
{
	struct vs_tun_frame *f;

	if (!s->committed)
		return;		/* until the VM runs there, rollback needs them */
	while ((f = g_queue_peek_head(&s->frames)) && f->seq <= s->acked)
		g_free(g_queue_pop_head(&s->frames));
}

void tun_stream_flush(struct vs_tun_stream *s)
{
	struct tun_conn *c = s->peer->conn;
	GList *l;

	if (!s->opened || !tun_conn_ready(c))
		return;
	for (l = s->frames.head; l; l = l->next) {
		struct vs_tun_frame *f = l->data;

		if (f->seq < s->send_seq)
			continue;
		if (tun_conn_queued(c) >= VS_TUN_SEND_QUEUE_MAX) {
			c->tun->stats.send_queue_full++;
			break;
		}
		vs_tun_encode_frame(c->out, s->stream_id, f->seq, f->origin, f->data, f->len);
		s->send_seq = f->seq + 1;
	}
	tun_conn_flush(c);
}

struct vs_tun_stream *vs_tun_stream_open(struct vs_tun *t, const char *peer, const char *vm,
					 const uint8_t mac[6])
{
	struct tun_peer *p = tun_find_peer(t, peer);
	struct vs_tun_stream *s;

	if (!p)
		return NULL;
	s = g_new0(struct vs_tun_stream, 1);
	g_strlcpy(s->vm_name, vm, sizeof(s->vm_name));
	memcpy(s->mac, mac, 6);
	s->peer = p;
	s->stream_id = ++t->next_stream_id ? t->next_stream_id : ++t->next_stream_id;
	s->next_seq = 1;
	s->send_seq = 1;
	g_queue_init(&s->frames);
	p->streams = g_list_append(p->streams, s);
	vs_log(TUN, INFO, s->vm_name, "stream %u to %s", s->stream_id, p->name);
	if (tun_conn_ready(p->conn))
		tun_stream_send_open(s);
	else
		tun_peer_connect(p);
	return s;
}

bool vs_tun_stream_connected(const struct vs_tun_stream *s)
{
	return s && s->opened && tun_conn_ready(s->peer->conn);
}

/*
 * A refusal holds for the peer as it was when it refused: a destination
 * shim restarted during the blackout (lost its "expect" state) refuses the
 * resumed stream with NOT_EXPECTED until its hook arms it again, and then
 * announces EXPECT.  So an EXPECT from the stream's peer clears the
 * refusal and sends VM_OPEN again; VM_ACCEPT then says where to resume.
 * A VM_OPEN still unanswered is left alone (its answer decides).
 */
bool vs_tun_stream_retry(struct vs_tun_stream *s, const char *peer)
{
	struct tun_peer *p = s->peer;

	if (strcmp(p->name, peer))
		return false;
	if (s->rejected) {
		vs_log(TUN, INFO, s->vm_name, "stream %u: %s now expects the VM, asking again",
		       s->stream_id, p->name);
		s->rejected = false;
		s->open_sent = false;
	}
	if (tun_conn_ready(p->conn)) {
		tun_stream_send_open(s);
	} else if (!p->conn && p->reconnect_timer) {
		/* it just reached us: it is up, no need to sit out the backoff */
		g_source_remove(p->reconnect_timer);
		p->reconnect_timer = 0;
		p->backoff_ms = 0;
		tun_peer_connect(p);
	}
	return true;
}

bool vs_tun_stream_can_push(const struct vs_tun_stream *s)
{
	return vs_tun_stream_connected(s) && tun_conn_queued(s->peer->conn) < VS_TUN_SEND_QUEUE_MAX;
}

void vs_tun_stream_push(struct vs_tun_stream *s, uint8_t origin, const void *data, uint32_t len)
{
	struct vs_tun_frame *f = g_malloc(sizeof(*f) + len);

	f->seq = s->next_seq++;
	f->origin = origin;
	f->len = len;
	memcpy(f->data, data, len);
	g_queue_push_tail(&s->frames, f);
	tun_stream_flush(s);
}

uint64_t vs_tun_stream_retained(const struct vs_tun_stream *s)
{
	return s ? g_queue_get_length((GQueue *)&s->frames) : 0;
}

void vs_tun_stream_commit(struct vs_tun_stream *s)
{
	s->committed = true;
	tun_stream_trim(s);
}

int64_t vs_tun_stream_barrier(struct vs_tun_stream *s)
{
	struct tun_conn *c = s->peer->conn;

	if (!s->opened || !tun_conn_ready(c))
		return -1;
	vs_tun_encode_barrier(c->out, s->stream_id, s->send_seq - 1);
	tun_conn_flush(c);
	return (int64_t)(s->send_seq - 1);
}

static void tun_stream_free(struct vs_tun_stream *s)
{
	s->peer->streams = g_list_remove(s->peer->streams, s);
	g_queue_clear_full(&s->frames, g_free);
	g_free(s);
}

GQueue *vs_tun_stream_take_back(struct vs_tun_stream *s)
{
	GQueue *q = g_queue_new();
	struct tun_conn *c = s->peer->conn;

	if (s->open_sent && tun_conn_ready(c)) {
		vs_tun_encode_abort(c->out, s->stream_id);
		tun_conn_flush(c);
	}
	/* every frame is still here: nothing is trimmed before commit */
	*q = s->frames;
	g_queue_init(&s->frames);
	vs_log(TUN, INFO, s->vm_name, "stream %u aborted: %u frames back for local replay",
	       s->stream_id, g_queue_get_length(q));
	tun_stream_free(s);
	return q;
}

void vs_tun_stream_close(struct vs_tun_stream *s, bool send_end)
{
	struct tun_conn *c = s->peer->conn;

	if (s->open_sent && tun_conn_ready(c)) {
		if (send_end)
			vs_tun_encode_end(c->out, s->stream_id, s->next_seq - 1);
		else
			vs_tun_encode_abort(c->out, s->stream_id);
		tun_conn_flush(c);
	}
	vs_log(TUN, INFO, s->vm_name, "stream %u closed (%s), %" PRIu64 " frames sent",
	       s->stream_id, send_end ? "end" : "abort", s->next_seq - 1);
	tun_stream_free(s);
}

/* --- streams (destination side) ------------------------------------------ */

static void tun_in_send(struct vs_tun_in *in, enum vs_tun_type type)
{
	struct tun_conn *c = in->conn;

	if (!tun_conn_ready(c))
		return;
	if (type == VS_TUN_MSG_RESUMED)
		vs_tun_encode_resumed(c->out, in->stream_id);
	else
		vs_tun_encode_live_seen(c->out, in->stream_id);
	tun_conn_flush(c);
}

void vs_tun_in_send_resumed(struct vs_tun_in *in)
{
	tun_in_send(in, VS_TUN_MSG_RESUMED);
}

void vs_tun_in_send_live_seen(struct vs_tun_in *in)
{
	tun_in_send(in, VS_TUN_MSG_LIVE_SEEN);
}

void tun_in_free(gpointer data)
{
	struct vs_tun_in *in = data;
	struct vs_tun *t = in->conn->tun;

	if (in->vm_name[0])
		t->ops->in_event(t->opaque, in, in->vm_name, VS_TUN_IN_CLOSED, 0);
	g_free(in);
}
