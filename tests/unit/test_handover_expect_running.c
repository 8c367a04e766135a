/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_expect_running.c - a port armed while its device runs
 * (vs_ho_expect(): "armed while its device runs"), against the lcore
 *
 * Theory of operation: the harness of test-handover (ho_harness.h: the real
 * handover and dataplane, a scripted source on a real tunnel) with the
 * real lcore pass (vs_dp_poll_port()) behind fakes of its own (t_ops: a
 * guest that takes t_budget frames in all and records each one's number,
 * an uplink that hands out t_rx), called by the test between the main
 * loop's turns, so every interleaving is the test's choice.  Arming a port
 * whose device runs starts a buffering episode (BUFFER, requeue) and a
 * replay (REPLAY); if both land before the lcore saw BUFFER:
 *  - review 81, 12.9: dp_requeue_wanted() sees REPLAY and skips the
 *    requeue; the replay the lcore was draining (a tail) is split around
 *    the new migration's frames: its pending burst before them, its held
 *    frames after;
 *  - review 85, N2: an own replay of the lcore's (its CAS LIVE -> REPLAY,
 *    then its store of inject_done and dp_own_replay()) straddling them
 *    closes the new replay's inject and takes the replay for its own.
 * The resume waits for the lcore to answer the episode
 * (handover_resume.c); these tests fail without that wait.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
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

/*
 * The last arrival's replay ends at its mark with a tail (a guest slower
 * than its traffic): state none, mode REPLAY, frames 1033..1040 in the
 * pending burst (the guest's ring took none of them), 1041..1048 in held.
 */
static void t_tail(struct t_env *e)
{
	struct vs_vm *vm = e->vm;

	t_arm(e);
	t_open_stream(e, 1, 1);
	vm->vid = 0;
	t_ho_vhost(vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	t_budget = 0;				/* the guest reads nothing */
	t_uplink(T_LIVE0, 32);
	vs_dp_poll_port(vm);			/* held behind the replay */
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 32);
	t_send_end(e, 1, 0);			/* an empty stream ends */
	g_assert_true(run_until(t_inject_closed, vm, DEADLINE_MS));
	t_uplink(T_LIVE0 + 32, 8);
	vs_dp_poll_port(vm);			/* mark at 32; 1001.. pending */
	t_budget = 32;				/* it reads those 32 */
	t_uplink(T_LIVE0 + 40, 8);
	vs_dp_poll_port(vm);			/* past the mark: a tail */
	g_assert_true(vs_dp_replay_finished(vm));
	g_assert_true(run_until(t_state_none, vm, DEADLINE_MS));
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	g_assert_cmpuint(vm->dp.pending.n, ==, 8);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 8);
	g_assert_cmpuint(t_got->len, ==, 32);
}

/*
 * Review 81, 12.9: armed again while the tail drains, its device running.
 * The tail's frames reach the guest whole and in order, all of them
 * behind the new migration's tunnelled frames (an arrival's order:
 * tunnelled, then what was held here), none of those between them: not
 * the pending burst first and held after.
 */
static void test_tail_stays_whole(void)
{
	g_autoptr(GError) err = NULL;
	struct t_env e;
	unsigned int i;

	t_setup(&e);
	t_tail(&e);
	t_budget = 0;
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	g_assert_no_error(err);
	t_run_to_state(&e, VS_MIG_STATE_REPLAYING);
	/* the new migration's stream: frames 1..3, then END */
	fp_open_stream(&e.src, 2, 1, 1);
	t_send_frames(&e, 2, 1, 3);
	t_wait_frames(&e, 3);
	g_assert_true(run_until(t_replay_q_empty, e.vm, DEADLINE_MS));
	t_send_end(&e, 2, 3);
	g_assert_true(run_until(t_inject_closed, e.vm, DEADLINE_MS));
	t_budget = UINT32_MAX;
	for (i = 0; i < 100 && t_got->len < 32 + 3 + 16; i++) {
		vs_dp_poll_port(e.vm);
		run_for(1);
	}
	g_assert_cmpuint(t_got->len, ==, 32 + 3 + 16);
	for (i = 0; i < 32; i++)
		g_assert_cmpuint(g_array_index(t_got, uint64_t, i), ==, T_LIVE0 + i);
	for (i = 0; i < 3; i++)
		g_assert_cmpuint(g_array_index(t_got, uint64_t, 32 + i), ==, 1 + i);
	for (i = 0; i < 16; i++)
		g_assert_cmpuint(g_array_index(t_got, uint64_t, 35 + i), ==, T_LIVE0 + 32 + i);
	t_teardown(&e);
}

/*
 * Review 85, N2: the lcore starts a replay of its own (a full ring:
 * dp_hold_ring_full(), or held adopted: dp_adopt_held()) - its CAS LIVE ->
 * REPLAY - and the main loop arms the port before the lcore's stores that
 * follow (inject_done true, dp_own_replay()).  The test plays those two
 * steps of the lcore by hand, the rest of it runs.  The migration's
 * replay that starts then is the main loop's: its inject open until its
 * stream ends, not taken for the lcore's own.
 */
static void test_own_replay_straddles(void)
{
	g_autoptr(GError) err = NULL;
	uint32_t live = VS_DP_LIVE;
	struct t_env e;

	t_setup(&e);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_true(__atomic_compare_exchange_n(&e.vm->dp.hs.mode, &live, VS_DP_REPLAY, false,
						  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));	/* the main loop, meanwhile */
	g_assert_no_error(err);
	__atomic_store_n(&e.vm->dp.hs.inject_done, true, __ATOMIC_RELEASE);
	dp_own_replay(e.vm);
	t_run_to_state(&e, VS_MIG_STATE_REPLAYING);
	g_assert_false(vs_dp_inject_closed(e.vm));
	g_assert_false(dp_own_replay_now(e.vm));
	t_teardown(&e);
}

/*
 * The wait ends with the expectation: cancelled, no resume; with the
 * device gone, no resume either, new_device() will bring it.
 */
static void test_wait_ends(void)
{
	g_autoptr(GError) err = NULL;
	struct t_env e;

	t_setup(&e);
	e.vm->vid = 0;
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);	/* no poll yet */
	vs_ho_cancel(e.vm);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	vs_dp_poll_port(e.vm);
	run_for(20);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);

	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	e.vm->vid = -1;
	vs_ho_device_gone_sync(e.vm);
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	vs_dp_poll_port(e.vm);
	run_for(20);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	e.vm->vid = 0;				/* back: new_device() resumes */
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	t_teardown(&e);
}

/*
 * Cancelled while the resume waits, the VM running here (review 88, M1):
 * what the port buffered meanwhile is the running VM's, delivered in
 * order (the lcore's own replay once BUFFER is left), not dropped as
 * not-ready as for a VM that never arrived.
 */
static void t_cancel_keeps_held(bool outlived)
{
	g_autoptr(GError) err = NULL;
	struct t_env e;
	unsigned int i;

	t_setup(&e);
	e.vm->vid = 0;
	/* a replay that outlived replaying (migrated on, that migration
	 * cancelled): buffering takes its frames (review 89, 1) */
	e.vm->ho->replay_on = outlived;
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	t_uplink(1, 5);
	vs_dp_poll_port(e.vm);			/* answers, buffers 1..5 */
	g_assert_cmpuint(t_got->len, ==, 0);
	g_assert_cmpuint(rte_ring_count(e.vm->dp.held), ==, 5);
	vs_ho_cancel(e.vm);			/* before the resume's tick */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	for (i = 0; i < 5; i++)
		vs_dp_poll_port(e.vm);
	g_assert_cmpuint(e.vm->stats.ctl_drops[VS_DROP_NOT_READY], ==, 0);
	g_assert_cmpuint(e.vm->stats.drops[VS_DROP_NOT_READY], ==, 0);
	g_assert_cmpuint(t_got->len, ==, 5);
	for (i = 0; i < 5; i++)
		g_assert_cmpuint(g_array_index(t_got, uint64_t, i), ==, 1 + i);
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_LIVE);
	t_teardown(&e);
}

static void test_cancel_keeps_held(void)
{
	t_cancel_keeps_held(false);
}

static void test_cancel_after_outlived_replay(void)
{
	t_cancel_keeps_held(true);
}

/*
 * Review 88, L2: expect, cancel, expect within one lcore poll gap.  The
 * lcore loaded the first episode's request and the mode the cancel left
 * (LIVE), the second expect then stored BUFFER and asked again, and only
 * then the lcore answered what it had loaded.  That answer is to the
 * first request alone: the resume still waits for the lcore to see the
 * second episode's BUFFER (a flag cleared by that answer had erased the
 * second request, and the resume went ahead of the lcore).
 */
static void test_stale_answer(void)
{
	g_autoptr(GError) err = NULL;
	uint32_t first;
	struct t_env e;

	t_setup(&e);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	first = __atomic_load_n(&e.vm->dp.hs.requeue_req, __ATOMIC_ACQUIRE);
	vs_ho_cancel(e.vm);
	g_assert_cmpint(vs_dp_mode(e.vm), !=, VS_DP_BUFFER);
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	g_assert_no_error(err);
	dp_requeue_answer(e.vm, first);	/* the lcore's answer to what it loaded */
	g_assert_false(vs_dp_buffer_seen(e.vm));
	run_for(20);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	vs_dp_poll_port(e.vm);		/* its next poll answers the second */
	g_assert_true(vs_dp_buffer_seen(e.vm));
	t_run_to_state(&e, VS_MIG_STATE_REPLAYING);
	t_teardown(&e);
}

/* An lcore that never answers: the resume comes anyway, logged */
static void test_lcore_silent(void)
{
	g_autoptr(GError) err = NULL;
	struct t_env e;

	t_setup(&e);
	e.vm->vid = 0;
	th_log_clear();
	g_assert_true(vs_ho_expect(e.vm, NULL, &err));
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	run_for(100);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	g_assert_true(run_until(t_state_replaying, e.vm, 3000));
	g_assert_nonnull(th_log_find("resuming anyway"));
	t_teardown(&e);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover-expect-running"))
		return 1;
	g_test_add_func("/handover/expect-running/tail-stays-whole", test_tail_stays_whole);
	g_test_add_func("/handover/expect-running/own-replay-straddles",
			test_own_replay_straddles);
	g_test_add_func("/handover/expect-running/wait-ends", test_wait_ends);
	g_test_add_func("/handover/expect-running/cancel-keeps-held", test_cancel_keeps_held);
	g_test_add_func("/handover/expect-running/cancel-after-outlived-replay",
			test_cancel_after_outlived_replay);
	g_test_add_func("/handover/expect-running/lcore-silent", test_lcore_silent);
	g_test_add_func("/handover/expect-running/stale-answer", test_stale_answer);
	return t_ho_main_run();
}
