/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_replay_tail.c - a migration's replay ends at its mark while its
 * guest is overloaded; the frames behind the mark drain as the tail
 *
 * Theory of operation: the scenario of dp_tail_harness.h (the overload,
 * the frame numbers, the hand-over's checks) on the fakes of dp_harness.h
 * (docs/dev/plan-replay-end-under-overload.md, sections 2 and 9, with the
 * changes of its review, section 12).  A replay the main loop started
 * (vs_dp_replay_start()) owes the guest its pending burst, what was
 * injected, and what held held when the lcore first found inject empty
 * after inject_done: the mark.  Once all of that has left held (delivered
 * through the pending burst, or counted as buffer-full by drop-oldest)
 * with held still non-empty, the replay is over for the main loop
 * (vs_dp_replay_finished(), replays-left-held + 1) while the mode stays
 * REPLAY: the rest - live frames queued behind the mark by a guest that
 * reads less than its traffic's rate - drains in the same order, and the
 * lcore still ends REPLAY -> LIVE itself once held and inject are empty.
 * The tail keeps the migration's order (review 12.3): a straggler
 * injected after the hand-over goes before the frames still held, with
 * the RX ring bound off and on.  A new episode or the device's going
 * while the tail drains loses nothing, drop-oldest reaches the mark
 * through its drops, and the RX ring bound never holds the hand-over
 * back.  These are the plan's section 9 tests; review 12's missing ones
 * (a new replay against the lcore's end, a replay without a new episode,
 * a backlog in inject at inject_close) are in test_dp_replay_tail_race.c.
 *
 * Each test says what it pins.  Before the lcore's mark (dp_replay.c) the
 * replay ended only when held was empty: every test that waits for the
 * hand-over fails on that code for that reason alone (review 12.5), with
 * "got->len <= tl->need + VS_DP_BURST" (the replay went past its mark
 * without finishing) or the poll limit.
 */
#include <inttypes.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"
#include "dp_tail_harness.h"

/* --- plan section 9, with review 12 --------------------------------------- */

/*
 * Test 1 (review 12.4's sizes): an overloaded guest (10.7 a poll against
 * 16 arriving, buffer-full at 300 held) ends the migration's replay at its
 * mark: never before the 170 frames it owed left, at the latest one take
 * after; then 1001..1050, 1..100, 2001..2020 came in order, the mode is
 * still REPLAY with frames held, replays-left-held 1.  Arrivals go on
 * (buffer-full; finished stays, one replay counted), then stop: the tail
 * drains to LIVE, everything in order but the counted buffer-full drops.
 */
static void test_ends_at_mark(void)
{
	struct vs_vm *vm = t_tail_port(300);
	struct t_tail tl;
	unsigned int polls, i;

	t_tail_begin(&tl, vm, true);
	polls = t_to_handover(&tl, true);
	g_test_message("hand-over after %u polls at got %u, held %u", polls, t.got->len,
		       rte_ring_count(vm->dp.held));
	t_assert_run(0, 1001, 50);
	t_assert_run(50, 1, 100);
	t_assert_run(150, 2001, 20);
	t_assert_run(170, 3001, t.got->len - 170);	/* no drop yet */
	t_assert_tail(&tl, 1);

	/* arrivals go on: held reaches its cap (buffer-full), the end stays */
	for (i = 0; i < 60; i++) {
		t_step(&tl);
		g_assert_true(vs_dp_replay_finished(vm));
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], >, 0);
	g_assert_cmpuint(vm->stats.replays_left_held, ==, 1);

	t_drain_live(&tl);
	t_assert_run(0, 1001, 50);
	t_assert_run(50, 1, 100);
	t_assert_run(150, 2001, 20);
	t_check_stream(&tl);
	g_assert_cmpuint(vm->stats.replays_left_held, ==, 1);
	t_check_accounting(vm, 50);
	t_port_free(vm);
}

/*
 * Test 1's variant: without inject_close the replay never ends, however
 * long live frames arrive (the mark waits for inject_done; passes before
 * the mark too)
 */
static void test_never_without_close(void)
{
	struct vs_vm *vm = t_tail_port(300);
	struct t_tail tl;
	unsigned int i;

	t_tail_begin(&tl, vm, false);
	for (i = 0; i < 200; i++) {
		t_step(&tl);
		g_assert_false(vs_dp_replay_finished(vm));
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	g_assert_cmpuint(t.got->len, ==, 50);	/* held waits for inject_done */
	g_assert_cmpuint(vm->stats.replays_left_held, ==, 0);
	t_check_accounting(vm, 50);
	t_port_free(vm);
}

/*
 * Test 2: the hand-over needs the pending burst empty.  20 held; a guest
 * that takes nothing: one take empties held up to the mark (20 taken, 20
 * pending) and live frames pile up behind, yet the replay is not over
 * for 50 polls (passes before the mark too).  The guest takes all it is
 * offered, one poll: over, frames still held.
 */
static void test_pending_first(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .n_buf = 20, .per_poll = 4 };
	unsigned int i;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 20);
	t_poll(vm, 1);
	t_replay_now(vm);
	t.guest_room = 0;
	for (i = 0; i < 50; i++) {
		t_step(&tl);
		g_assert_false(vs_dp_replay_finished(vm));
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(vm->dp.pending.n, ==, 20);
	g_assert_cmpuint(vm->dp.hs.held_taken, ==, 20);	/* up to the mark */
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 200);

	t.guest_room = T_UNLIMITED;
	tl.per_poll = 0;
	t_step(&tl);
	t_assert_run(0, 1, 20);
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_assert_run(0, 1, 20);
	t_assert_run(20, 3001, 200);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* Test 3's body: after the hand-over, a straggler (3 frames) goes right
 * after the burst on its way, before every frame still held */
static void t_straggler_after_end(struct t_tail *tl)
{
	struct vs_vm *vm = tl->vm;
	unsigned int at, pending, held;
	int idx;

	t_to_handover(tl, true);
	t_assert_tail(tl, 1);
	at = t.got->len;
	pending = vm->dp.pending.n;
	held = rte_ring_count(vm->dp.held);
	g_assert_cmpuint(held, >, 0);
	t_inject(vm, T_STRAGGLER, 3);
	t_drain_live(tl);
	idx = t_index_of(T_STRAGGLER);
	g_test_message("straggler at %d: got %u and %u pending at the inject, %u held",
		       idx, at, pending, held);
	g_assert_cmpint(idx, ==, (int)(at + pending));
	t_assert_run((unsigned int)idx, T_STRAGGLER, 3);
	/* the frames held then all came after it */
	g_assert_cmpuint(t.got->len - (unsigned int)idx - 3, >=, held);
	t_check_stream(tl);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 53);
}

/* Test 3, the RX ring bound off */
static void test_straggler_after_end(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;

	t_tail_begin(&tl, vm, true);
	t_straggler_after_end(&tl);
	t_port_free(vm);
}

/* Test 3, the RX ring bound on (review 12.3: no held-first in the tail):
 * the guest reads 8 a poll, the bound limits every offer */
static void test_straggler_after_end_bound(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t_tail_begin(&tl, vm, true);
	tl.read = T_ROOM;
	t_straggler_after_end(&tl);
	g_assert_cmpuint(vm->stats.ring_bound_hits, >, 0);
	t_port_free(vm);
}

/*
 * Test 4: a new episode while the tail drains, with a burst on its way:
 * the burst, then the rest of held, then the new episode's frames, in
 * that order (vs_dp_held_take()), nothing dropped.  Then a new replay with
 * live frames flowing: not over without inject_close, then over at its
 * own mark
 */
static void test_new_episode(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;
	unsigned int taken;

	t_tail_begin(&tl, vm, true);
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	g_assert_cmpuint(vm->dp.pending.n, >, 0);

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(T_NEW_EPISODE, 10);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_BUFFER);
	g_assert_cmpuint(vm->dp.pending.n, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 50);
	taken = t_take_rest(&tl, 10);
	g_test_message("held after the new episode: %u frames", taken);

	t_new_replay(&tl, 10, 10, 2);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	g_assert_cmpuint(vm->stats.uplink_rx_pkts + 60, ==,
			 vm->stats.rx_pkts + taken);	/* the rest came, but what was taken */
	t_port_free(vm);
}

/*
 * Test 5: the device goes while the tail drains: the mode stays REPLAY,
 * nothing is delivered or dropped (live frames wait in held); the
 * main loop's vs_dp_buffer_start() then has them requeued as in test 4
 */
static void test_device_gone(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;
	unsigned int at, i;
	uint64_t pending;

	t_tail_begin(&tl, vm, true);
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	at = t.got->len;
	pending = vm->dp.pending.n;
	g_assert_cmpuint(pending, >, 0);

	vm->vid = -1;
	vs_dp_device_gone(vm);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	tl.per_poll = 4;
	for (i = 0; i < 10; i++) {
		t_step(&tl);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	g_assert_cmpuint(t.got->len, ==, at);
	g_assert_cmpuint(vm->dp.pending.n, ==, pending);
	g_assert_cmpuint(t_drops(vm), ==, 0);

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(T_NEW_EPISODE, 10);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_BUFFER);
	g_assert_cmpuint(t.got->len, ==, at);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 50);
	t_take_rest(&tl, 10);
	t_port_free(vm);
}

/*
 * Test 6: drop-oldest with held at its cap (150 UDP, 32 arriving a poll,
 * the guest taking 4 a call): the mark is reached through the drops -
 * fewer than the 170 frames owed were delivered at the hand-over, the rest
 * counted as buffer-full -; the tail drains to LIVE in order, every
 * missing frame counted, the accounting balances
 */
static void test_drop_oldest(void)
{
	struct vs_vm *vm = t_tail_port(150);
	uint64_t full;
	struct t_tail tl;

	vm->policy.overflow = VS_OVERFLOW_DROP_OLDEST;
	t_tail_begin(&tl, vm, true);
	t.guest_room = 4;
	tl.per_poll = VS_DP_BURST;
	t_to_handover(&tl, false);
	full = vm->stats.drops[VS_DROP_BUFFER_FULL];
	g_test_message("hand-over at got %u, buffer-full %" PRIu64 ", held %u", t.got->len, full,
		       rte_ring_count(vm->dp.held));
	g_assert_cmpuint(t.got->len, <, tl.need);		/* not by delivery alone */
	g_assert_cmpuint(t.got->len + full, >=, tl.need);	/* by the drops */
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 150);	/* at its cap */
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_check_stream(&tl);
	t_check_accounting(vm, 50);
	t_port_free(vm);
}

/*
 * Test 7: the RX ring bound with an overloaded guest (reads 24 a poll, 40
 * arrive): the replay is over at its mark whatever the ring's fill (no
 * settle check on that path: more than half the bound outstanding then),
 * the ring never holds more than the bound, and a frame injected after
 * the hand-over comes before the frames still held (review 12.3: no
 * held-first in the tail)
 */
static void test_ring_bound_overloaded(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	unsigned int at, pending, held, polls;
	struct t_tail tl;
	uint64_t hits;
	int idx;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t_tail_begin(&tl, vm, true);
	tl.read = 24;
	tl.per_poll = 40;
	polls = t_to_handover(&tl, true);
	hits = vm->stats.ring_bound_hits;
	g_test_message("hand-over after %u polls: got %u, outstanding %u, ring-bound-hits %" PRIu64,
		       polls, t.got->len, t_outstanding(), hits);
	g_assert_cmpuint(t_outstanding(), >, T_BOUND / 2);	/* not settled */
	g_assert_cmpuint(hits, >, 0);
	t_assert_tail(&tl, 1);

	at = t.got->len;
	pending = vm->dp.pending.n;
	held = rte_ring_count(vm->dp.held);
	t_inject(vm, T_STRAGGLER, 1);
	t_step(&tl);
	t_step(&tl);
	t_drain_live(&tl);
	idx = t_index_of(T_STRAGGLER);
	g_test_message("straggler at %d: got %u and %u pending at the inject, %u held",
		       idx, at, pending, held);
	g_assert_cmpint(idx, ==, (int)(at + pending));
	g_assert_cmpuint(t.got->len - (unsigned int)idx - 1, >=, held);
	t_check_stream(&tl);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 51);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/replay-tail/ends-at-mark", test_ends_at_mark);
	g_test_add_func("/dataplane/replay-tail/never-without-close", test_never_without_close);
	g_test_add_func("/dataplane/replay-tail/pending-first", test_pending_first);
	g_test_add_func("/dataplane/replay-tail/straggler-after-end", test_straggler_after_end);
	g_test_add_func("/dataplane/replay-tail/straggler-after-end-bound",
			test_straggler_after_end_bound);
	g_test_add_func("/dataplane/replay-tail/new-episode", test_new_episode);
	g_test_add_func("/dataplane/replay-tail/device-gone", test_device_gone);
	g_test_add_func("/dataplane/replay-tail/drop-oldest", test_drop_oldest);
	g_test_add_func("/dataplane/replay-tail/ring-bound-overloaded", test_ring_bound_overloaded);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-replay-tail", add_tests);
}
