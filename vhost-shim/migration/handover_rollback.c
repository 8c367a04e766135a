/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_rollback.c - a rollback's frames: what the source had taken out
 * of its buffer comes back, in order, ahead of what it still holds
 *
 * Theory of operation: a migration that rolls back (migrate_cancel, a
 * failed switchover: device-up in src-blackout) replays locally what the
 * VM missed.  Some of it left the port's rings: the stream kept every frame
 * it was given (vs_tun_stream_take_back() returns them and sends ABORT),
 * and, when the VM had arrived here shortly before (A -> B -> A, A -> B ->
 * C rolled back), the lcore had moved the frames its replay was
 * delivering back to held's front (dp_requeue()), where the replay would
 * now find them after the replay queue.  ho_take_back() puts both back
 * into the replay queue's head, oldest first: the stream's (the replay
 * queue's oldest and held's, streamed in that order), then the moved-back
 * ones the stream had not taken, then the rest of the replay queue.  The
 * local replay then injects the replay queue before held.
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "tunnel.h"
#include "vm.h"

/*
 * Rollback: the frames the lcore moved back to held's front at the
 * blackout (a replay's frames on their way to the guest) and the stream
 * had not taken, copied into @into in order (review 73 R1: left in held,
 * the local replay delivered them after the replay queue, which is newer)
 */
static void ho_take_requeued(struct vs_vm *vm, GQueue *into)
{
	gint64 now = g_get_monotonic_time();
	struct rte_mbuf *m;

	while (vs_dp_held_take_requeued(vm, &m, 1)) {
		uint32_t len = rte_pktmbuf_pkt_len(m);
		struct vs_tun_frame *f = g_malloc(sizeof(*f) + len);
		const void *data = rte_pktmbuf_read(m, 0, len, f->data);
		int64_t age = vs_dp_arrival_age_us(m);

		if (data != f->data)
			memcpy(f->data, data, len);
		f->seq = 0;	/* never streamed */
		f->origin = VS_TUN_ORIGIN_BLACKOUT;
		f->arrival_us = age < 0 ? 0 : now - age;
		f->len = len;
		g_queue_push_tail(into, f);
		rte_pktmbuf_free(m);
	}
}

/*
 * Rollback: the frames the stream kept come back, ahead of the ring, and
 * ahead of what the replay queue still holds: an earlier arrival's frames
 * not streamed yet are newer than those it streamed first (review 72 F2:
 * appended, they came after them), and newer than those the lcore moved
 * back to held's front that the stream had not taken yet (review 73 R1).
 * The order: the stream's, those, the replay queue.  The head of the
 * replay queue then carries this stream's seqs (from 1) or none, not the
 * incoming stream's: ho_tunnelled_through() reads them as the incoming
 * one's, which can only make a held source wait longer (review 73 L2).
 */
void ho_take_back(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	g_autoptr(GQueue) back = NULL;
	struct vs_tun_frame *f;

	ho_source_barriers_forget(vm);
	ho_conns_forget(vm);
	if (ho->out) {
		back = vs_tun_stream_take_back(ho->out);	/* sends ABORT */
		ho->out = NULL;
	}
	if (!back)
		back = g_queue_new();
	ho_take_requeued(vm, back);
	while ((f = g_queue_pop_tail(back))) {
		ho->replay_q_bytes += f->len;
		g_queue_push_head(&ho->replay_q, f);
	}
}
