/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_rollback.c - a rollback's frames, and a paused replay's: what
 * had been taken out of the buffer comes back, in order, ahead of what it
 * still holds
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
 *
 * A pause (the device gone without dirty logging: QMP stop, a reboot)
 * during a replay is the same without a stream: the lcore moves the
 * replay's frames on their way back to held's front, the replay queue's
 * rest waits where it is (ho_needs_pump(): no pump into inject in paused,
 * whose frames the lcore would only move back, each poll's batch ahead of
 * the one before: review 89, 2), and the resume puts the moved-back ones
 * at the replay queue's head if the replay had not closed inject
 * (ho_cut_replay(); ho_take_back_cut(), by the pump's first tick once
 * the lcore answered the requeue).  So does the arrival after an expect
 * that cut a replay (from paused, or from none with a replay that
 * outlived replaying): the earlier arrival's frames, then the new one's.
 * And the pump never fills inject while the port buffers, whatever the
 * state (destroy_device stores BUFFER before the main loop hears of it:
 * review 90, 4).
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "vm.h"

#define HO_CUT_WAIT_MAX_US	1000000	/* an lcore stalled longer: go on */

/*
 * Rollback: the frames the lcore moved back to held's front at the
 * blackout (a replay's frames on their way to the guest) and the stream
 * had not taken (a resume after a pause: at the pause), copied into @into
 * in order (review 73 R1: left in held,
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

/* @back's frames, in order, at the replay queue's head */
static void ho_push_back(struct vs_vm *vm, GQueue *back)
{
	struct vs_handover *ho = vm->ho;
	struct vs_tun_frame *f;

	while ((f = g_queue_pop_tail(back))) {
		ho->replay_q_bytes += f->len;
		g_queue_push_head(&ho->replay_q, f);
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

	ho_source_barriers_forget(vm);
	ho_conns_forget(vm);
	if (ho->out) {
		back = vs_tun_stream_take_back(ho->out);	/* sends ABORT */
		ho->out = NULL;
	}
	if (!back)
		back = g_queue_new();
	ho_take_requeued(vm, back);
	ho_push_back(vm, back);
}

void ho_cut_replay(struct vs_vm *vm)
{
	/*
	 * The tunnelled frames the lcore had on the way (its pending burst
	 * if that came from inject, and inject: a replay's, or late
	 * stragglers pumped after it) are older than whatever the replay
	 * queue holds or the stream still brings; the lcore tells where
	 * they end (requeue_tunnel_end).  A burst it had taken from held
	 * (past inject_done, or a tail) stays at held's front, its place, a
	 * direct frame (live frames are not made tunnelled ones, which the
	 * duplicate filter would compare with direct frames; an arrival's
	 * tunnelled frames go ahead of a tail's: review 81, 12.9).  Whether
	 * a replay ran does not tell (review 90, 1, 2 and 4).
	 */
	vm->ho->replay_cut = true;
}

bool ho_take_back_cut(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	g_autoptr(GQueue) back = NULL;

	if (!ho->replay_cut)
		return true;
	/*
	 * The lcore answers a requeue at its next poll, device or not.  Until
	 * it has, the frames may still be on their way to held's front (or it
	 * finds the new REPLAY first and keeps them where they are, ahead of
	 * inject: then nothing is moved back); the pump waits, inject stays
	 * open, and the lcore takes nothing from held meanwhile (review 90,
	 * 3).  An lcore stalled beyond HO_CUT_WAIT_MAX_US: go on, logged.
	 */
	if (!vs_dp_buffer_seen(vm)) {
		if (g_get_monotonic_time() - ho->t_up < HO_CUT_WAIT_MAX_US)
			return false;
		vs_log(MIG, WARNING, vm->cfg->name,
		       "the lcore did not see the buffering start within %d ms: frames on "
		       "their way to the guest then may come after the replay queue's",
		       HO_CUT_WAIT_MAX_US / 1000);
	}
	ho->replay_cut = false;
	back = g_queue_new();
	ho_take_requeued(vm, back);
	ho_push_back(vm, back);
	return true;
}
