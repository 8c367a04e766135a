/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_per_source.c - the per-source messages on a VM's stream:
 * SOURCE_DIRECT (destination -> source) and SOURCE_BARRIER (source ->
 * destination), and the HELLO extensions that offer them
 *
 * Theory of operation (docs/tunnel-protocol.md 3.12, 3.13; docs/migration.md,
 * "Per-source straggler switching" and "Order per source"):
 *   - SOURCE_DIRECT: the destination reports that frames from one source
 *     address now reach the VM there directly; sent at once, on a ready
 *     connection whose two HELLOs offered source-direct, while its output
 *     queue has room (vs_tun_in_send_source_direct()).
 *   - SOURCE_BARRIER: the source's answer once it has streamed every
 *     straggler of that address it had read.  It names the last frame
 *     pushed into the stream when it was asked for (S), and goes to the
 *     connection right behind frame S, never ahead of a frame still
 *     waiting for room: each stream keeps a FIFO of barriers
 *     (vs_tun_stream_source_barrier()), and tun_stream_flush() writes
 *     those whose frames are written (tun_stream_flush_source_barriers())
 *     ahead of each frame it writes and after the last, so each goes
 *     right behind its S and ahead of S + 1, even when S + 1.. waited
 *     for room with S and are written in the same turn (review 63 F5).
 *     A barrier not written when the connection goes stays, and follows
 *     the frames resent on the next one (VM_ACCEPT moves send_seq back).
 *     A written one is kept until the destination acks a frame after it
 *     (it then has the barrier too: same connection, in order); a
 *     VM_ACCEPT that resumes at or before that frame queues it again,
 *     ahead of the unwritten ones, so one written into the output queue
 *     but lost with its connection is resent (review 53 R1).  A
 *     destination may then get a barrier twice (it arrived, frame S + 1
 *     did not): the first releases the source, the copy uses one of the
 *     destination's barriers per report (handover_source_hold.c).  At
 *     most VS_TUN_SOURCE_BARRIERS_MAX written ones are kept (a
 *     destination that reports and never acks: the oldest are given up,
 *     review 69 F2).  A connection without the extension (a peer
 *     restarted as an older version) gets none of them.
 *   - The destination checks S as BARRIER's (every frame <= S came
 *     before it, so S beyond what arrived is ERROR(PROTOCOL)), and hands
 *     it up (ops->source_barrier); the stream stays open.
 *   - source-barrier is offered only with source-direct (no report, no
 *     barrier), by default (vs_tun_set_source_barrier(): tests turn it
 *     off to play an older peer); the source's handover sends it
 *     (handover_source_barrier.c), the destination's honours it
 *     (handover_source_hold.c).
 */
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

/* One barrier waiting for its frames (struct vs_tun_stream.src_barriers) */
struct tun_src_barrier {
	uint64_t seq;		/* the last frame pushed before it (0: none) */
	uint8_t af;		/* enum vs_tun_src_af */
	uint8_t addr[16];
};

static bool tun_conn_has_ext(const struct tun_conn *c, uint32_t ext)
{
	return tun_conn_ready(c) && (c->auth.my_ext & c->auth.peer_ext & ext);
}

/* --- SOURCE_DIRECT (destination side) ------------------------------------- */

enum vs_tun_send_result vs_tun_in_send_source_direct(struct vs_tun_in *in, uint8_t af,
						     const uint8_t addr[16])
{
	struct tun_conn *c = in->conn;

	if (in->opening || !tun_conn_ready(c))
		return VS_TUN_SEND_LATER;
	/* an older peer never gets it: it did not offer the extension */
	if (!(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_SOURCE_DIRECT))
		return VS_TUN_SEND_NEVER;
	/* a source that does not read: the report waits, the queue is bounded */
	if (tun_conn_queued(c) >= VS_TUN_SEND_QUEUE_MAX)
		return VS_TUN_SEND_LATER;
	if (!vs_tun_encode_source_direct(c->out, in->stream_id, af, addr))
		return VS_TUN_SEND_NEVER;	/* a bad af or address: cannot happen */
	tun_conn_flush(c);
	return VS_TUN_SEND_DONE;
}

void vs_tun_set_source_direct(struct vs_tun *t, bool on)
{
	t->no_source_direct = !on;
}

/* --- SOURCE_BARRIER (source side) ------------------------------------------ */

void vs_tun_set_source_barrier(struct vs_tun *t, bool on)
{
	t->no_source_barrier = !on;
}

bool vs_tun_stream_source_barrier_ok(const struct vs_tun_stream *s)
{
	return s && s->opened && tun_conn_has_ext(s->peer->conn, VS_TUN_HELLO_EXT_SOURCE_BARRIER);
}

int64_t vs_tun_stream_source_barrier(struct vs_tun_stream *s, uint8_t af, const uint8_t addr[16])
{
	struct tun_src_barrier *b;
	uint64_t seq;

	/* _ok() first: it is what takes NULL */
	if (!vs_tun_stream_source_barrier_ok(s) || !vs_tun_source_addr_ok(af, addr) ||
	    g_queue_get_length(&s->src_barriers) >= VS_TUN_SOURCE_BARRIERS_MAX)
		return -1;
	seq = s->next_seq - 1;
	/* behind every frame pushed so far, even those still waiting for
	 * room in the output queue: tun_stream_flush() writes it after them */
	b = g_new(struct tun_src_barrier, 1);
	b->seq = seq;
	b->af = af;
	memcpy(b->addr, addr, sizeof(b->addr));
	g_queue_push_tail(&s->src_barriers, b);
	tun_stream_flush(s);
	return (int64_t)seq;
}

void tun_stream_flush_source_barriers(struct tun_conn *c, struct vs_tun_stream *s)
{
	bool on = tun_conn_has_ext(c, VS_TUN_HELLO_EXT_SOURCE_BARRIER);
	struct tun_src_barrier *b;

	while ((b = g_queue_peek_head(&s->src_barriers)) && b->seq < s->send_seq) {
		/* a connection without the extension gets none (the
		 * destination times the source out instead) */
		g_queue_pop_head(&s->src_barriers);
		if (on) {
			vs_tun_encode_source_barrier(c->out, s->stream_id, b->seq, b->af, b->addr);
			g_queue_push_tail(&s->src_barriers_written, b);
			/* a destination that never acks keeps no more than
			 * this many for a resend: the oldest is given up (it
			 * times its source out; review 69, F2) */
			if (g_queue_get_length(&s->src_barriers_written) >
			    VS_TUN_SOURCE_BARRIERS_MAX)
				g_free(g_queue_pop_head(&s->src_barriers_written));
		} else {
			g_free(b);
		}
	}
}

void tun_stream_free_source_barriers(struct vs_tun_stream *s)
{
	g_queue_clear_full(&s->src_barriers, g_free);
	g_queue_clear_full(&s->src_barriers_written, g_free);
}

/*
 * A barrier is written behind its frame S and ahead of S + 1 on the same
 * connection (tun_stream_flush() writes the due ones ahead of each frame;
 * a requeued one too: it is written before the resend passes S + 1), so
 * a destination that has S + 1 has the barrier
 */
void tun_stream_acked_source_barriers(struct vs_tun_stream *s)
{
	struct tun_src_barrier *b;

	while ((b = g_queue_peek_head(&s->src_barriers_written)) && b->seq < s->acked)
		g_free(g_queue_pop_head(&s->src_barriers_written));
}

void tun_stream_resend_source_barriers(struct vs_tun_stream *s, uint64_t next)
{
	struct tun_src_barrier *b;

	/* S + 1 < next: S + 1 arrived, so did the barrier (above) */
	while ((b = g_queue_peek_head(&s->src_barriers_written)) && b->seq + 1 < next)
		g_free(g_queue_pop_head(&s->src_barriers_written));
	/* the rest may be lost: again, oldest first, ahead of the unwritten */
	while ((b = g_queue_pop_tail(&s->src_barriers_written)))
		g_queue_push_head(&s->src_barriers, b);
}

/* --- SOURCE_BARRIER (destination side) ------------------------------------- */

bool vs_tun_in_source_barrier_ok(const struct vs_tun_in *in)
{
	return in && tun_conn_has_ext(in->conn, VS_TUN_HELLO_EXT_SOURCE_BARRIER);
}

/*
 * Security: as BARRIER, every frame <= S was sent before it on this
 * connection (or received before it), so S beyond what arrived breaks the
 * order it promises.  The address was checked by the decoder.
 */
void tun_in_source_barrier(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m)
{
	struct vs_tun *t = c->tun;
	uint64_t received = in->next_expected - 1;
	uint64_t seq = m->u.source_barrier.last_seq;

	if (seq > received) {
		tun_conn_protocol_error(c, "stream %u: SOURCE_BARRIER %" PRIu64 " ahead of frame %"
					PRIu64, in->stream_id, seq, received);
		return;
	}
	if (t->ops->source_barrier)
		t->ops->source_barrier(t->opaque, in, in->vm_name, seq, m->u.source_barrier.af,
				       m->u.source_barrier.addr);
}
