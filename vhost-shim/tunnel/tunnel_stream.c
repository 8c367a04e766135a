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
 *     drop: vs_tun_stream_can_push() tells the pump to stop).  The queue
 *     goes to the socket at the next turn of the main loop, so a tick's
 *     frames share TLS records instead of one record each.  It starts
 *     at s->unsent, the first frame not written, so a push costs O(1)
 *     however many frames are retained (a blackout keeps them all); only
 *     VM_ACCEPT, which moves send_seq back, looks it up again.  A frame
 *     with an arrival time goes as FRAME_TIMES (its age now, our clock)
 *     when both HELLOs offered frame-times, else as a FRAME;
 *   - barrier: BARRIER(S) goes to the output queue behind frame S, the
 *     last pushed when it was asked for (after the frames written in the
 *     same flush), so it never overtakes a straggler that still waits for
 *     room; SOURCE_BARRIERs likewise, each right behind its own S and
 *     ahead of S + 1 (tunnel_per_source.c);
 *   - trim: a frame is freed only once it is acked *and* the destination
 *     reported the VM running (commit), because a rollback before that
 *     needs every frame back;
 *   - reconnect: tunnel.c clears opened/open_sent when the connection
 *     goes; on the next one VM_OPEN goes again and VM_ACCEPT's next
 *     expected seq says where to resend from, so frames are neither lost
 *     nor duplicated;
 *   - take back (rollback): ABORT, and all retained frames go back to
 *     the opener in order for local replay; close: END (or ABORT) and
 *     free, and the count of frames the destination will not get, for the
 *     opener to count as dropped.
 *
 * An incoming stream (struct vs_tun_in) belongs to its connection in
 * tunnel.c; here are only the destination's replies on it (RESUMED,
 * LIVE_SEEN) and its destroy notifier, which tells the callbacks it is gone,
 * and a FRAME_TIMES's arrival in our clock (tun_in_arrival(), estimated per
 * connection by tunnel_clock.c).
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

/* --- streams (source side) ------------------------------------------------ */

uint64_t tun_stream_first_seq(const struct vs_tun_stream *s)
{
	const struct vs_tun_frame *f = g_queue_peek_head((GQueue *)&s->frames);

	return f ? f->seq : s->next_seq;
}

void tun_stream_send_open(struct vs_tun_stream *s)
{
	struct tun_conn *c = s->peer->conn;
	uint64_t first = tun_stream_first_seq(s);

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

/*
 * Point s->unsent at the frame with seq send_seq (after VM_ACCEPT moved
 * send_seq).  Seqs in s->frames are consecutive, so it is the
 * (send_seq - head)th node; walk from the nearer end.
 */
static void tun_stream_seek(struct vs_tun_stream *s)
{
	const struct vs_tun_frame *head = g_queue_peek_head(&s->frames);
	uint64_t n = g_queue_get_length(&s->frames);
	uint64_t i;
	GList *l;

	/* send_seq is within head..next_seq: tun_stream_accepted() checked it */
	if (!head || s->send_seq < head->seq || s->send_seq - head->seq >= n) {
		s->unsent = NULL;	/* nothing left to write: send_seq == next_seq */
		return;
	}
	i = s->send_seq - head->seq;
	if (i <= n / 2)
		for (l = s->frames.head; i--; l = l->next)
			;
	else
		for (l = s->frames.tail, i = n - 1 - i; i--; l = l->prev)
			;
	s->unsent = l;
}

/*
 * One frame on the wire: with its age and our clock if the peer offered
 * frame-times and the frame has an arrival time, else as a FRAME
 */
static void tun_stream_encode(struct tun_conn *c, struct vs_tun_stream *s,
			      const struct vs_tun_frame *f)
{
	gint64 now = g_get_monotonic_time();

	if ((c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_FRAME_TIMES) && f->arrival_us) {
		gint64 age = now > f->arrival_us ? now - f->arrival_us : 0;

		vs_tun_encode_frame_times(c->out, s->stream_id, f->seq, f->origin,
					  (uint32_t)MIN(age, (gint64)UINT32_MAX), (uint64_t)now,
					  f->data, f->len);
		return;
	}
	vs_tun_encode_frame(c->out, s->stream_id, f->seq, f->origin, f->data, f->len);
}

void tun_stream_flush(struct vs_tun_stream *s)
{
	struct tun_conn *c = s->peer->conn;
	GList *l;

	if (!s->opened || !tun_conn_ready(c))
		return;
	tun_stream_flush_conns(c, s);	/* ahead of the frames: no order among them */
	for (l = s->unsent; l; l = l->next) {
		struct vs_tun_frame *f = l->data;

		if (tun_conn_queued(c) >= VS_TUN_SEND_QUEUE_MAX) {
			c->tun->stats.send_queue_full++;
			break;
		}
		/* SOURCE_BARRIERs behind the frames written, ahead of this one */
		tun_stream_flush_source_barriers(c, s);
		tun_stream_encode(c, s, f);
		s->send_seq = f->seq + 1;
	}
	s->unsent = l;
	if (s->barrier_due && s->send_seq > s->barrier_seq) {
		vs_tun_encode_barrier(c->out, s->stream_id, s->barrier_seq);
		s->barrier_due = false;
	}
	/* and those behind the last frame written */
	tun_stream_flush_source_barriers(c, s);
	/* the frames of this main-loop turn together, in full TLS records */
	tun_conn_flush_soon(c);
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
	g_queue_init(&s->src_barriers);
	g_queue_init(&s->src_barriers_written);
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
		/* the peer may have restarted behind a connection that still
		 * looks ready (no reset seen): make sure it answers */
		tun_conn_probe(p->conn);
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
	vs_tun_stream_push_at(s, origin, data, len, 0);
}

void vs_tun_stream_push_at(struct vs_tun_stream *s, uint8_t origin, const void *data,
			   uint32_t len, int64_t arrival_us)
{
	struct vs_tun_frame *f = g_malloc(sizeof(*f) + len);

	f->seq = s->next_seq++;
	f->origin = origin;
	f->arrival_us = arrival_us;
	f->len = len;
	memcpy(f->data, data, len);
	g_queue_push_tail(&s->frames, f);
	if (!s->unsent)
		s->unsent = s->frames.tail;	/* seq >= send_seq: not written */
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
	/* behind every frame pushed so far, even those still waiting for
	 * room in the output queue: tun_stream_flush() sends it after them */
	s->barrier_seq = s->next_seq - 1;
	s->barrier_due = true;
	tun_stream_flush(s);
	return (int64_t)s->barrier_seq;
}

static void tun_stream_free(struct vs_tun_stream *s)
{
	s->peer->streams = g_list_remove(s->peer->streams, s);
	g_queue_clear_full(&s->frames, g_free);
	tun_stream_free_source_barriers(s);
	tun_stream_free_conns(s);
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

uint64_t vs_tun_stream_close(struct vs_tun_stream *s, bool send_end)
{
	struct tun_conn *c = s->peer->conn;
	uint64_t lost;

	if (s->open_sent && tun_conn_ready(c)) {
		if (send_end)
			vs_tun_encode_end(c->out, s->stream_id, s->next_seq - 1);
		else
			vs_tun_encode_abort(c->out, s->stream_id);
		tun_conn_flush(c);
	}
	if (!send_end)
		lost = vs_tun_stream_retained(s);	/* the destination drops them all */
	else if (s->opened && tun_conn_ready(c))
		lost = s->next_seq - s->send_seq;	/* never written to the connection */
	else
		lost = s->next_seq - 1 - MIN(s->acked, s->next_seq - 1);
	vs_log(TUN, INFO, s->vm_name, "stream %u closed (%s), %" PRIu64 " frames pushed, %" PRIu64
	       " the destination will not get", s->stream_id, send_end ? "end" : "abort",
	       s->next_seq - 1, lost);
	tun_stream_free(s);
	return lost;
}

/* --- streams (destination side) ------------------------------------------ */

static void tun_in_send(struct vs_tun_in *in, enum vs_tun_type type)
{
	struct tun_conn *c = in->conn;

	if (in->opening) {
		/* inside stream_open: after our VM_ACCEPT, never before it */
		if (type == VS_TUN_MSG_RESUMED)
			in->resumed_due = true;
		else
			in->live_seen_due = true;
		return;
	}
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

	if (g_hash_table_lookup(t->in_by_vm, in->vm_name) == in)
		g_hash_table_remove(t->in_by_vm, in->vm_name);
	if (!in->ended)
		t->ops->in_event(t->opaque, in, in->vm_name, VS_TUN_IN_CLOSED, 0);
	g_free(in);
}

/* --- stream messages (source side) ----------------------------------------- */

/* The stream id of a stream message (tunnel.c hands over no other type) */
static uint32_t tun_msg_stream_id(const struct vs_tun_msg *m)
{
	switch (m->type) {
	case VS_TUN_MSG_VM_OPEN:
		return m->u.vm_open.stream_id;
	case VS_TUN_MSG_VM_ACCEPT:
		return m->u.vm_accept.stream_id;
	case VS_TUN_MSG_VM_REJECT:
		return m->u.vm_reject.stream_id;
	case VS_TUN_MSG_FRAME:
	case VS_TUN_MSG_FRAME_TIMES:
		return m->u.frame.stream_id;
	case VS_TUN_MSG_ACK:
		return m->u.ack.stream_id;
	case VS_TUN_MSG_BARRIER:
	case VS_TUN_MSG_END:
		return m->u.stream_seq.stream_id;
	case VS_TUN_MSG_SOURCE_DIRECT:
		return m->u.source_direct.stream_id;
	case VS_TUN_MSG_SOURCE_BARRIER:
		return m->u.source_barrier.stream_id;
	case VS_TUN_MSG_CONNS:
		return m->u.conns.stream_id;
	default:
		return m->u.stream.stream_id;	/* RESUMED, LIVE_SEEN, ABORT */
	}
}

/*
 * VM_ACCEPT: resume at the destination's next expected seq.  Security:
 * it must lie in first..next_seq, what we can still send: beyond
 * next_seq the peer claims frames never assigned, below our oldest
 * retained frame it asks for frames we no longer have (it should have
 * refused with SEQ).  Either way, nothing sent from here could be right.
 */
static void tun_stream_accepted(struct tun_conn *c, struct vs_tun_stream *s, uint64_t next)
{
	uint64_t first = tun_stream_first_seq(s);

	if (next < first || next > s->next_seq) {
		tun_conn_protocol_error(c, "stream %u: VM_ACCEPT resumes at %" PRIu64
					", outside %" PRIu64 "..%" PRIu64, s->stream_id, next,
					first, s->next_seq);
		return;
	}
	s->opened = true;
	/*
	 * The peer's next expected seq is what it really has.  A
	 * destination restarted since it acked (receive state lost) asks
	 * again from 1: before commit nothing was trimmed, so every frame
	 * is still here, and a stale, higher acked would let the commit
	 * free frames the new instance never got.  After commit acked
	 * frames are gone, and a destination that lacks them refuses (SEQ).
	 */
	if (!s->committed || next > s->acked)
		s->acked = next - 1;
	s->send_seq = next;
	tun_stream_resend_source_barriers(s, next);
	s->conns_next = 0;	/* every CONNS again on this connection */
	tun_stream_seek(s);
	vs_log(TUN, INFO, s->vm_name, "stream %u accepted by %s, resend from %" PRIu64,
	       s->stream_id, c->peer->name, s->send_seq);
	tun_stream_trim(s);
	tun_stream_flush(s);
}

void tun_stream_handle(struct tun_conn *c, const struct vs_tun_msg *m)
{
	struct vs_tun *t = c->tun;
	struct vs_tun_stream *s = tun_peer_find_stream(c->peer, tun_msg_stream_id(m));
	bool answer = m->type == VS_TUN_MSG_VM_ACCEPT || m->type == VS_TUN_MSG_VM_REJECT;

	if (!s)
		return;		/* closed meanwhile */
	/* an answer comes once per VM_OPEN; the rest only once accepted */
	if (answer ? !s->open_sent || s->opened || s->rejected : !s->opened) {
		tun_conn_protocol_error(c, "stream %u: %s %s", s->stream_id,
					vs_tun_type_name(m->type),
					answer ? "answers no VM_OPEN" : "before VM_ACCEPT");
		return;
	}
	switch (m->type) {
	case VS_TUN_MSG_VM_ACCEPT:
		tun_stream_accepted(c, s, m->u.vm_accept.next_expected_seq);
		break;
	case VS_TUN_MSG_VM_REJECT:
		s->rejected = true;
		vs_log(TUN, WARNING, s->vm_name, "stream %u refused by %s: %s", s->stream_id,
		       c->peer->name, vs_tun_reject_str(m->u.vm_reject.reason));
		t->ops->out_event(t->opaque, s, s->vm_name, VS_TUN_OUT_REJECTED,
				  m->u.vm_reject.reason < VS_TUN_NUM_REJECTS
					  ? (enum vs_tun_reject)m->u.vm_reject.reason
					  : VS_TUN_REJECT_NONE);
		break;
	case VS_TUN_MSG_ACK:
		/* Security: acking a frame not sent would free it unsent */
		if (m->u.ack.seq >= s->send_seq) {
			tun_conn_protocol_error(c, "stream %u: ACK %" PRIu64 " of a frame not sent",
						s->stream_id, m->u.ack.seq);
			return;
		}
		if (m->u.ack.seq > s->acked)
			s->acked = m->u.ack.seq;
		tun_stream_trim(s);
		tun_stream_acked_source_barriers(s);
		break;
	case VS_TUN_MSG_RESUMED:
		t->ops->out_event(t->opaque, s, s->vm_name, VS_TUN_OUT_RESUMED, VS_TUN_REJECT_NONE);
		break;
	case VS_TUN_MSG_LIVE_SEEN:
		t->ops->out_event(t->opaque, s, s->vm_name, VS_TUN_OUT_LIVE_SEEN,
				  VS_TUN_REJECT_NONE);
		break;
	case VS_TUN_MSG_SOURCE_DIRECT:
		if (t->ops->source_direct)
			t->ops->source_direct(t->opaque, s, s->vm_name, m->u.source_direct.af,
					      m->u.source_direct.addr);
		break;
	default:
		break;		/* tunnel.c sends no other type here */
	}
}

/* --- stream messages (destination side) ------------------------------------ */

static void tun_in_refuse(struct tun_conn *c, uint32_t id, const char *vm,
			  enum vs_tun_reject reason, const char *why)
{
	c->tun->stats.streams_rejected++;
	vs_log(TUN, WARNING, vm, "stream %u from %s refused (%s): %s", id, tun_conn_peer_name(c),
	       vs_tun_reject_str(reason), why);
	vs_tun_encode_vm_reject(c->out, id, reason);
	tun_conn_flush(c);
}

/*
 * VM_OPEN.  One stream per VM: a second one from another peer is BUSY (it
 * would share the sequence numbers, and the real source's frames would be
 * dropped as duplicates); one from the same authenticated peer is that
 * source reconnecting, and replaces its old stream, whose connection may
 * be half dead.  The layer above decides the rest and says where to
 * resume; a source whose oldest frame is beyond that has lost frames the
 * destination lacks: SEQ.
 */
static void tun_in_open(struct tun_conn *c, const struct vs_tun_msg *m)
{
	struct vs_tun *t = c->tun;
	const char *vm = m->u.vm_open.name;
	uint32_t id = m->u.vm_open.stream_id;
	g_autoptr(GError) err = NULL;
	enum vs_tun_reject reason;
	struct vs_tun_in *in, *old;
	uint64_t next = 1;

	if (g_hash_table_lookup(c->in_streams, GUINT_TO_POINTER(id))) {
		tun_conn_protocol_error(c, "stream id %u reused", id);
		return;
	}
	old = g_hash_table_lookup(t->in_by_vm, vm);
	if (old && strcmp(tun_conn_peer_name(old->conn), tun_conn_peer_name(c))) {
		g_autofree char *why = g_strdup_printf("fed by a stream from %s",
						       tun_conn_peer_name(old->conn));

		tun_in_refuse(c, id, vm, VS_TUN_REJECT_BUSY, why);
		return;
	}
	if (old) {
		vs_log(TUN, NOTICE, vm, "stream %u from %s replaces its stream %u (%s)", id,
		       tun_conn_peer_name(c), old->stream_id, old->conn->desc);
		/* CLOSED for the old one, and it leaves in_by_vm */
		g_hash_table_remove(old->conn->in_streams, GUINT_TO_POINTER(old->stream_id));
	}
	in = g_new0(struct vs_tun_in, 1);
	in->conn = c;
	in->stream_id = id;
	g_strlcpy(in->vm_name, vm, sizeof(in->vm_name));
	in->opening = true;
	reason = t->ops->stream_open(t->opaque, in, in->vm_name, m->u.vm_open.mac,
				     tun_conn_peer_name(c), &next, &err);
	in->opening = false;
	if (reason == VS_TUN_REJECT_NONE && m->u.vm_open.first_seq > next) {
		reason = VS_TUN_REJECT_SEQ;
		g_set_error(&err, VS_TUN_ERROR, 0, "the source resumes at %" PRIu64
			    ", frames %" PRIu64 "..%" PRIu64 " are lost", m->u.vm_open.first_seq,
			    next, m->u.vm_open.first_seq - 1);
		/* the layer above took @in: it is gone */
		t->ops->in_event(t->opaque, in, in->vm_name, VS_TUN_IN_CLOSED, 0);
	}
	if (reason != VS_TUN_REJECT_NONE) {
		tun_in_refuse(c, id, vm, reason, err ? err->message : "no reason given");
		g_free(in);
		return;
	}
	in->next_expected = next;
	g_hash_table_insert(c->in_streams, GUINT_TO_POINTER(id), in);
	g_hash_table_insert(t->in_by_vm, in->vm_name, in);
	vs_tun_encode_vm_accept(c->out, id, next);
	if (in->resumed_due)
		vs_tun_encode_resumed(c->out, id);
	if (in->live_seen_due)
		vs_tun_encode_live_seen(c->out, id);
	tun_conn_flush(c);
}

/*
 * When a new FRAME_TIMES's frame reached the source's network, in our
 * clock (tunnel_clock.c: one estimate per connection); a time not believed
 * is unknown, and counted.  Not for a resent frame already received: the
 * layer above drops it (tunnel-duplicates)
 */
static int64_t tun_in_arrival(struct tun_conn *c, const struct vs_tun_msg *m)
{
	int64_t arrival = tun_clock_arrival(&c->clock, g_get_monotonic_time(),
					    m->u.frame.sent_us, m->u.frame.age_us);

	if (!arrival)
		c->tun->stats.frame_times_rejected++;
	return arrival;
}

int64_t vs_tun_in_frame_arrival_us(const struct vs_tun_in *in)
{
	return in->frame_arrival_us;
}

void vs_tun_set_frame_times(struct vs_tun *t, bool on)
{
	t->no_frame_times = !on;
}

static void tun_in_frame(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m)
{
	switch (vs_tun_seq_check(in->next_expected, m->u.frame.seq)) {
	case VS_TUN_SEQ_GAP:
		tun_conn_protocol_error(c, "stream %u: FRAME %" PRIu64 ", expected %" PRIu64,
					in->stream_id, m->u.frame.seq, in->next_expected);
		return;
	case VS_TUN_SEQ_NEW:
		in->next_expected = m->u.frame.seq + 1;
		in->frame_arrival_us = m->type == VS_TUN_MSG_FRAME_TIMES ? tun_in_arrival(c, m) : 0;
		break;
	case VS_TUN_SEQ_DUPLICATE:
		/* dropped above: its times are not a sample of the clock, nor
		 * counted as rejected (docs/control-protocol.md, query-peers) */
		in->frame_arrival_us = 0;
		break;
	}
	/* the callback counts and drops duplicates itself */
	c->tun->ops->frame(c->tun->opaque, in, in->vm_name, m->u.frame.seq, m->u.frame.origin,
			   m->u.frame.data, (uint32_t)m->u.frame.len);
	in->ack_due = true;
}

/*
 * BARRIER(S), END(last), ABORT.  Security: every frame <= S was sent
 * before the BARRIER on this connection (or received before it), so S
 * beyond what arrived breaks the order it promises; END may not claim
 * fewer frames than arrived.  END beyond what arrived is legal: the
 * source gave up on those (it counts them).
 */
static void tun_in_msg(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m)
{
	struct vs_tun *t = c->tun;
	uint64_t received = in->next_expected - 1;
	uint64_t seq = m->type == VS_TUN_MSG_ABORT ? 0 : m->u.stream_seq.last_seq;
	enum vs_tun_in_event ev = m->type == VS_TUN_MSG_BARRIER ? VS_TUN_IN_BARRIER
				  : m->type == VS_TUN_MSG_END	  ? VS_TUN_IN_END
								  : VS_TUN_IN_ABORT;

	if (ev == VS_TUN_IN_BARRIER && seq > received) {
		tun_conn_protocol_error(c, "stream %u: BARRIER %" PRIu64 " ahead of frame %" PRIu64,
					in->stream_id, seq, received);
		return;
	}
	if (ev == VS_TUN_IN_END && seq < received) {
		tun_conn_protocol_error(c, "stream %u: END %" PRIu64 " below frame %" PRIu64
					" received", in->stream_id, seq, received);
		return;
	}
	if (ev == VS_TUN_IN_END && seq > received)
		vs_log(TUN, INFO, in->vm_name, "stream %u: END %" PRIu64 ": frames %" PRIu64
		       "..%" PRIu64 " never came (the source counts them)", in->stream_id, seq,
		       received + 1, seq);
	if (ev != VS_TUN_IN_BARRIER) {
		in->ended = true;	/* no CLOSED event: it ended properly */
		g_hash_table_steal(c->in_streams, GUINT_TO_POINTER(in->stream_id));
	}
	t->ops->in_event(t->opaque, in, in->vm_name, ev, seq);
	if (ev != VS_TUN_IN_BARRIER)
		tun_in_free(in);
}

void tun_in_handle(struct tun_conn *c, const struct vs_tun_msg *m)
{
	uint32_t id = tun_msg_stream_id(m);
	struct vs_tun_in *in;

	if (m->type == VS_TUN_MSG_VM_OPEN) {
		tun_in_open(c, m);
		return;
	}
	in = g_hash_table_lookup(c->in_streams, GUINT_TO_POINTER(id));
	if (!in) {
		/* BARRIER, SOURCE_BARRIER, CONNS, END or ABORT of a stream already
		 * gone (replaced by the same source's newer one, or refused)
		 * is harmless */
		if (m->type == VS_TUN_MSG_FRAME || m->type == VS_TUN_MSG_FRAME_TIMES)
			tun_conn_protocol_error(c, "stream %u: FRAME on a stream that is not open",
						id);
		return;
	}
	if (m->type == VS_TUN_MSG_FRAME || m->type == VS_TUN_MSG_FRAME_TIMES)
		tun_in_frame(c, in, m);
	else if (m->type == VS_TUN_MSG_SOURCE_BARRIER)
		tun_in_source_barrier(c, in, m);	/* not tun_in_msg(): the stream goes on */
	else if (m->type == VS_TUN_MSG_CONNS)
		tun_in_conns(c, in, m);			/* likewise */
	else
		tun_in_msg(c, in, m);
}
