/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_replay_tail.c - the main loop's half of a replay that ends
 * at its mark with live frames still held behind it (the tail)
 *
 * Theory of operation: the harness of test-handover (ho_harness.h: the real
 * handover and dataplane, no lcore, a scripted source on a real tunnel).
 * The test plays the lcore by hand: it empties inject, puts frames into
 * held (dp_held_put()) and ends the replay at its mark as dp_replay_mark()
 * does, by storing the replay's generation into replay_end_gen with the
 * mode left at REPLAY.  What the main loop must then do (docs/dev/
 * plan-replay-end-under-overload.md, sections 8, 7 and review 12.1):
 *  - REPLAY_DONE, state none, the gauge last-replay-left-held, and the
 *    mode left at REPLAY: the lcore ends it when held is empty;
 *  - never store LIVE over that REPLAY afterwards, even when a migration
 *    starts and is cancelled (log-on, log-off), since live frames would
 *    then overtake the held ones;
 *  - keep the duplicate filter's window open until the frames held when
 *    it would have closed have left held.
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "handover.h"
#include "handover_priv.h"
#include "migration.h"
#include "tun_harness.h"
#include "vm.h"
#include "ho_harness.h"

static bool t_replay_q_empty(void *arg)
{
	return g_queue_is_empty(&((struct vs_vm *)arg)->ho->replay_q);
}

static bool t_inject_closed(void *arg)
{
	return vs_dp_inject_closed((struct vs_vm *)arg);
}

static bool t_dedup_closed(void *arg)
{
	return !__atomic_load_n(&((struct vs_vm *)arg)->dp.hs.dedup_active, __ATOMIC_ACQUIRE);
}

/* The lcore: what the main loop injected is delivered (freed here) */
static void t_lcore_take_inject(struct vs_vm *vm)
{
	struct rte_mbuf *m;

	while (rte_ring_sc_dequeue(vm->dp.inject, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

/* The lcore: @n live frames held behind the replay */
static void t_lcore_hold(struct vs_vm *vm, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
		uint8_t frame[60] = { 0x02 };	/* to a unicast MAC */

		frame[12] = 0x08;		/* IPv4 ethertype, body zero: other */
		frame[59] = (uint8_t)i;
		g_assert_nonnull(m);
		g_assert_nonnull(rte_pktmbuf_append(m, sizeof(frame)));
		memcpy(rte_pktmbuf_mtod(m, void *), frame, sizeof(frame));
		g_assert_cmpuint(dp_held_put(vm, &m, 1), ==, 1);
	}
}

/* The lcore ends the replay at its mark: finished, mode still REPLAY */
static void t_lcore_end_at_mark(struct vs_vm *vm)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;

	__atomic_store_n(&hs->replay_end_left, rte_ring_count(vm->dp.held), __ATOMIC_RELAXED);
	__atomic_store_n(&hs->replay_end_gen, __atomic_load_n(&hs->replay_gen, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELEASE);
}

/* The lcore delivers up to @max of the tail's frames (freed here) */
static unsigned int t_lcore_deliver_held(struct vs_vm *vm, unsigned int max)
{
	struct rte_mbuf *m;
	unsigned int n = 0;

	dp_requeue_answer(vm, vm->dp.hs.requeue_req);	/* as dp_requeue() */
	while (n < max && vs_dp_held_take(vm, &m, 1)) {
		rte_pktmbuf_free(m);
		n++;
	}
	return n;
}

/* The lcore drains the tail: held's frames delivered (freed here) */
static unsigned int t_lcore_drain_held(struct vs_vm *vm)
{
	return t_lcore_deliver_held(vm, UINT_MAX);
}

/* An arrival whose source ends its stream: replaying, inject closed */
static void t_arrive_and_end(struct t_env *e)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_END };

	t_env_init(e, 10000, 60000);
	e->vm->policy.replay_hold_ms = 60000;
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, 3);
	t_wait_frames(e, 3);
	e->vm->vid = 0;			/* the VM runs here */
	t_ho_vhost(e->vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	g_assert_true(run_until(t_replay_q_empty, e->vm, DEADLINE_MS));
	m.u.stream_seq.stream_id = 1;
	m.u.stream_seq.last_seq = 3;
	fp_send(&e->src, &m);
	g_assert_true(run_until(t_inject_closed, e->vm, DEADLINE_MS));
	t_lcore_take_inject(e->vm);
	g_assert_false(vs_dp_replay_finished(e->vm));
}

/*
 * The replay ended at its mark with 5 live frames behind it: REPLAY_DONE,
 * none, last-replay-left-held 5, catch-up still running, mode REPLAY.
 * Then a migration starts and is cancelled (log-on, log-off): the mode
 * stays REPLAY (it was stored LIVE over the tail: review 81, 12.1).  Once
 * the tail drained, frames the lcore holds again (its own replay) are not
 * the migration's.
 */
static void test_done_with_held(void)
{
	struct t_env e;

	t_arrive_and_end(&e);
	t_lcore_hold(e.vm, 5);
	run_for(100);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);	/* not at the mark */
	t_lcore_end_at_mark(e.vm);
	g_assert_true(run_until(t_state_none, e.vm, DEADLINE_MS));
	g_assert_false(e.vm->ho->replay_on);
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_REPLAY);
	g_assert_cmpuint(e.vm->stats.last_replay_left_held, ==, 5);
	g_assert_true(vs_ho_replay_running(e.vm));	/* catch-up-us estimates */

	t_ho_vhost(e.vm, VS_VHOST_EV_FEATURES, true);	/* pre-copy to the next host */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_ACTIVE);
	/* a pre-copy out does not stop the tail draining (review 88, L4) */
	g_assert_true(vs_ho_replay_running(e.vm));
	t_ho_vhost(e.vm, VS_VHOST_EV_FEATURES, false);	/* ... cancelled */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_REPLAY);
	g_assert_true(vs_ho_replay_running(e.vm));	/* the tail again */

	g_assert_cmpuint(t_lcore_drain_held(e.vm), ==, 5);
	g_assert_false(vs_ho_replay_running(e.vm));
	/* the lcore's own replay after the tail (a full ring) is not the
	 * migration's: catch-up-us stays the measured value (review 85, SF2) */
	t_lcore_hold(e.vm, 3);
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_REPLAY);
	g_assert_false(vs_ho_replay_running(e.vm));
	g_assert_cmpuint(t_lcore_drain_held(e.vm), ==, 3);
	t_env_fini(&e);
}

/*
 * catch-up-us measures how fast the backlog shrinks (review 83 S2, review
 * 87 1): every way in and out counts, sampled a window apart (the timer's
 * samples are driven by hand here: ho_shrink_sample()).  The tail of 20
 * grows by 10 in the first 100 ms (never), then loses 15 in the next
 * (150 pps: 15 left, 100 ms); a sample within half a window keeps the
 * last window's rate.  Before the first window: not measured.
 */
static void test_catch_up_measured(void)
{
	struct t_env e;
	gint64 t0;
	int64_t pps = 0;

	t_arrive_and_end(&e);
	t_lcore_hold(e.vm, 20);
	t_lcore_end_at_mark(e.vm);
	g_assert_true(run_until(t_state_none, e.vm, DEADLINE_MS));
	g_assert_true(vs_ho_replay_running(e.vm));
	g_assert_cmpuint(e.vm->ho->shrink_timer, !=, 0);	/* sampling */
	g_source_remove(e.vm->ho->shrink_timer);		/* by hand from here */
	e.vm->ho->shrink_timer = 0;
	e.vm->ho->shrink_up = 0;
	g_assert_cmpuint(vs_ho_buffered_now(e.vm), ==, 20);
	t0 = g_get_monotonic_time();
	ho_shrink_sample(e.vm, t0);			/* opens a window */
	g_assert_false(vs_ho_backlog_shrink(e.vm, &pps));
	ho_shrink_sample(e.vm, t0 + 49999);		/* not half of one */
	g_assert_false(vs_ho_backlog_shrink(e.vm, &pps));
	t_lcore_hold(e.vm, 10);
	ho_shrink_sample(e.vm, t0 + 100000);
	g_assert_true(vs_ho_backlog_shrink(e.vm, &pps));
	g_assert_cmpint(pps, ==, -100);
	g_assert_cmpuint(vs_mig_catch_up_us(30, 50, 3000, pps, true), ==, UINT32_MAX);
	g_assert_cmpuint(t_lcore_deliver_held(e.vm, 15), ==, 15);
	ho_shrink_sample(e.vm, t0 + 140000);		/* the last whole one stays */
	g_assert_true(vs_ho_backlog_shrink(e.vm, &pps));
	g_assert_cmpint(pps, ==, -100);
	ho_shrink_sample(e.vm, t0 + 200000);
	g_assert_true(vs_ho_backlog_shrink(e.vm, &pps));
	g_assert_cmpint(pps, ==, 150);
	g_assert_cmpuint(vs_mig_catch_up_us(15, 50, 3000, pps, true), ==, 100000);
	g_assert_cmpuint(t_lcore_drain_held(e.vm), ==, 15);
	g_assert_false(vs_ho_replay_running(e.vm));
	t_env_fini(&e);
}

/*
 * Without frames behind the mark the lcore ends with LIVE, as before:
 * last-replay-left-held 0, and the port LIVE after REPLAY_DONE.
 */
static void test_done_without_held(void)
{
	struct t_env e;
	uint32_t replay = VS_DP_REPLAY;

	t_arrive_and_end(&e);
	g_assert_true(__atomic_compare_exchange_n(&e.vm->dp.hs.mode, &replay, VS_DP_LIVE, false,
						  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	t_lcore_end_at_mark(e.vm);
	g_assert_true(run_until(t_state_none, e.vm, DEADLINE_MS));
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(e.vm->stats.last_replay_left_held, ==, 0);
	t_env_fini(&e);
}

/*
 * The duplicate filter's window outlasts the tail: 200 ms after END it
 * would close, but frames held then still wait; it closes at the first
 * recheck after they left held, not before.
 */
static void test_dedup_window_outlasts_tail(void)
{
	struct t_env e;

	t_arrive_and_end(&e);
	t_lcore_hold(e.vm, 4);
	t_lcore_end_at_mark(e.vm);
	g_assert_true(run_until(t_state_none, e.vm, DEADLINE_MS));
	run_for(600);		/* END + 200 ms, and two rechecks */
	g_assert_false(t_dedup_closed(e.vm));
	g_assert_cmpuint(t_lcore_drain_held(e.vm), ==, 4);
	g_assert_true(run_until(t_dedup_closed, e.vm, 1000));
	t_env_fini(&e);
}

/*
 * A stale end: the lcore's end of a replay (its generation) that lands
 * after the main loop started another is not the new one's end.
 */
static void test_stale_end_ignored(void)
{
	struct t_env e;
	uint32_t old_gen;

	t_arrive_and_end(&e);
	old_gen = __atomic_load_n(&e.vm->dp.hs.replay_gen, __ATOMIC_ACQUIRE);
	vs_dp_buffer_start(e.vm, true);
	vs_dp_replay_start(e.vm);
	__atomic_store_n(&e.vm->dp.hs.replay_end_gen, old_gen, __ATOMIC_RELEASE);
	g_assert_false(vs_dp_replay_finished(e.vm));
	t_lcore_end_at_mark(e.vm);
	g_assert_true(vs_dp_replay_finished(e.vm));
	t_env_fini(&e);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover-replay-tail"))
		return 1;
	g_test_add_func("/handover/replay-tail/done-with-held", test_done_with_held);
	g_test_add_func("/handover/replay-tail/done-without-held", test_done_without_held);
	g_test_add_func("/handover/replay-tail/catch-up-measured", test_catch_up_measured);
	g_test_add_func("/handover/replay-tail/dedup-window-outlasts-tail",
			test_dedup_window_outlasts_tail);
	g_test_add_func("/handover/replay-tail/stale-end-ignored", test_stale_end_ignored);
	return t_ho_main_run();
}
