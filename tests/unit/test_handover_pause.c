/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_pause.c - a pause (the device goes without dirty logging:
 * QMP stop, a guest reboot) while a replay runs, against the lcore
 *
 * Theory of operation: the harness of test-handover (ho_harness.h) with
 * the real lcore pass behind fakes (ho_lcore.h), called by the test
 * between the main loop's turns.  An arrival's replay has more tunnelled
 * frames than one pump tick moves (HO_PUMP_BUDGET, 512) when the device
 * goes: the lcore moves what was on its way to the guest (its pending
 * burst, inject) back to held's front (dp_requeue()); the rest waits in
 * the replay queue.  At the resume the guest must get them all in the
 * order they came, then the live frames buffered meanwhile (review 89, 2:
 * the pump went on filling inject in paused, and each poll's requeue put
 * that batch ahead of the one before: [T513.., T1..T512, live]; and what
 * was requeued at the pause came after the replay queue's rest).  The
 * same holds for an arrival after an expect that cut such a replay.
 * Each test fails without its part of the fix (mid-arrival: 513 first;
 * twice: the live frames dropped as buffer-full once the pump had moved
 * the replay queue into held; expect-after: 513 first).
 */
#include <glib.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "handover.h"
#include "handover_priv.h"
#include "tun_harness.h"
#include "vm.h"
#include "ho_harness.h"
#include "ho_lcore.h"

#define T_TUNNELLED	1200	/* more than two pump ticks' worth: 1..1200 */
#define T_LIVE		5001	/* live frames: 5001.. (not copies of tunnelled ones) */

static bool t_inject_busy(void *arg)
{
	return !rte_ring_empty(((struct vs_vm *)arg)->dp.inject);
}

/* The device goes, no dirty logging: a pause, as destroy_device() tells */
static void t_pause(struct t_env *e)
{
	e->vm->vid = -1;
	vs_ho_device_gone_sync(e->vm);
	t_ho_vhost(e->vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_PAUSED);
}

/* The device comes back: the paused VM resumes here */
static void t_resume(struct t_env *e)
{
	e->vm->vid = 0;
	t_ho_vhost(e->vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
}

/* The lcore polls and the main loop turns for a while */
static void t_turn(struct t_env *e, unsigned int polls)
{
	unsigned int i;

	for (i = 0; i < polls; i++) {
		vs_dp_poll_port(e->vm);
		run_for(2);
	}
}

/*
 * An arrival of T_TUNNELLED frames; the replay starts, the guest reads
 * nothing: the first pump tick fills inject, the lcore takes a burst of
 * it into its pending burst; the rest waits in the replay queue
 */
static void t_arrival_stalled(struct t_env *e)
{
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, T_TUNNELLED);
	t_wait_frames(e, T_TUNNELLED);
	t_send_end(e, 1, T_TUNNELLED);
	t_budget = 0;
	t_resume(e);
	g_assert_true(run_until(t_inject_busy, e->vm, DEADLINE_MS));
	vs_dp_poll_port(e->vm);
	g_assert_cmpuint(e->vm->dp.pending.n, >, 0);
	g_assert_false(g_queue_is_empty(&e->vm->ho->replay_q));
}

/*
 * The guest reads again: everything reaches it, the port back to none;
 * the tunnel's frames 1..T_TUNNELLED in their order, then @after
 */
static void t_deliver_all(struct t_env *e, const uint64_t *after, unsigned int n)
{
	unsigned int i;

	t_budget = UINT32_MAX;
	for (i = 0; i < 500 && (t_got->len < T_TUNNELLED + n ||
				e->vm->mig.state != VS_MIG_STATE_NONE ||
				vs_dp_mode(e->vm) != VS_DP_LIVE); i++)
		t_turn(e, 1);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpint(vs_dp_mode(e->vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_got->len, ==, T_TUNNELLED + n);
	for (i = 0; i < T_TUNNELLED + n; i++) {
		uint64_t want = i < T_TUNNELLED ? 1 + i : after[i - T_TUNNELLED];

		if (g_array_index(t_got, uint64_t, i) != want)
			g_error("delivered #%u is frame %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
				i, g_array_index(t_got, uint64_t, i), want);
	}
	g_assert_cmpuint(rte_ring_count(e->vm->dp.held), ==, 0);
	g_assert_cmpuint(e->vm->stats.replayed_pkts, ==, T_TUNNELLED + n);
}

/* Live frames T_LIVE..T_LIVE+@n-1, in that order: @n of t_live_seq */
static uint64_t t_live_seq[64];

static const uint64_t *t_live(unsigned int n)
{
	unsigned int i;

	g_assert_cmpuint(n, <=, G_N_ELEMENTS(t_live_seq));
	for (i = 0; i < n; i++)
		t_live_seq[i] = T_LIVE + i;
	return t_live_seq;
}

/*
 * Review 89, 2: paused while the replay queue still holds more than a
 * pump tick's frames.  While paused the replay queue stays where it is
 * (no pump into inject that the lcore would only move back), and at the
 * resume what the lcore moved back goes first.
 */
static void test_pause_mid_arrival(void)
{
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 20);			/* paused: the lcore answers, time passes */
	g_assert_true(vs_dp_buffer_seen(e.vm));
	g_assert_false(g_queue_is_empty(&e.vm->ho->replay_q));
	g_assert_true(rte_ring_empty(e.vm->dp.inject));
	t_uplink(T_LIVE, 20);		/* buffered while paused */
	t_turn(&e, 1);
	t_resume(&e);
	t_uplink(T_LIVE + 20, 10);	/* held behind the replay */
	t_deliver_all(&e, t_live(30), 30);
	t_teardown(&e);
}

/*
 * Paused twice: the second pause comes while the replay of the first
 * resume is still delivering what the first pause moved back (the guest
 * took only part of it)
 */
static void test_pause_twice(void)
{
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_budget = 40;			/* a little of it reaches the guest */
	t_uplink(T_LIVE, 8);		/* held behind the replay */
	t_turn(&e, 3);
	g_assert_cmpuint(t_got->len, ==, 40);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_deliver_all(&e, t_live(8), 8);
	t_teardown(&e);
}

/*
 * Armed while paused mid-arrival (the VM leaves, and comes back with a
 * new migration): the earlier arrival's frames, the lcore's moved-back
 * ones first, then the new arrival's tunnelled frames, then what was held
 * here
 */
static void test_expect_after_pause(void)
{
	static const uint64_t after[] = { 1, 2, 3, T_LIVE, T_LIVE + 1 };	/* stream 2's 1..3 */
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 5);
	t_arm(&e);
	t_turn(&e, 2);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	fp_open_stream(&e.src, 2, 1, 1);
	t_send_frames(&e, 2, 1, 3);
	t_wait_frames(&e, T_TUNNELLED + 3);
	t_uplink(T_LIVE, 2);
	t_turn(&e, 1);
	t_resume(&e);
	t_send_end(&e, 2, 3);		/* the source ends its stream after RESUMED */
	t_deliver_all(&e, after, G_N_ELEMENTS(after));
	t_teardown(&e);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover-pause"))
		return 1;
	g_test_add_func("/handover/pause/mid-arrival", test_pause_mid_arrival);
	g_test_add_func("/handover/pause/twice", test_pause_twice);
	g_test_add_func("/handover/pause/expect-after", test_expect_after_pause);
	return t_ho_main_run();
}
