/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_replay_tail.c - a migration's replay ends at its mark while its
 * guest is overloaded; the frames behind the mark drain as the tail
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs
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
 * the RX ring bound off and on.  An end the lcore decides for an older
 * replay is never reported for a newer one, and a newer one is never LIVE
 * before its own end (12.2); a replay started without a new episode gets
 * its own mark (12.7); the mark covers the live frames held while a
 * backlog in inject drained (12.8).
 *
 * The overload (review 12.4): guest_room applies per enqueue call, and a
 * round whose pending burst emptied enqueues again, so a replay at
 * guest_room 8 delivers about 10.7 frames a poll; 16 live frames arrive
 * before each poll (T_LIVE).  Frame numbers give the order the guest must
 * see (t_rank()): tunnelled 1001.., buffered 1.., held behind the replay
 * before inject_close 2001.., live after it 3001..; frames of 50000 and
 * above (stragglers, a new episode's, a new replay's) are checked by
 * their position.
 *
 * Each test says what it pins.  Before the lcore's mark (dp_replay.c) the
 * replay ended only when held was empty: every test that waits for the
 * hand-over fails on that code for that reason alone (review 12.5), with
 * "got->len <= tl->need + VS_DP_BURST" (the replay went past its mark
 * without finishing) or the poll limit.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"

#define T_ROOM		8	/* guest_room: frames per enqueue call */
#define T_LIVE		16	/* live frames before each poll: > ~10.7 delivered */
#define T_POLLS		600	/* polls a replay may take to reach its mark */
#define T_BOUND		64	/* rx-ring-bound (test_dp_ring_bound.c's) */
#define T_HIGH		50000	/* frames from here on: checked by position */
#define T_STRAGGLER	90001
#define T_NEW_EPISODE	50001
#define T_NEW_INJECT	70001

/* One replay scenario's state */
struct t_tail {
	struct vs_vm *vm;
	uint32_t live;		/* the next live frame (3001..) */
	uint32_t per_poll;	/* live frames queued before each poll */
	uint32_t read;		/* t.ring_on: frames the guest reads before each poll */
	uint32_t n_tun;		/* tunnelled frames, 1001.. */
	uint32_t n_buf;		/* buffered before the replay, 1.. */
	uint32_t n_mid;		/* held behind it before inject_close, 2001.. */
	unsigned int need;	/* t.got->len once everything up to the mark left */
	unsigned int slack;	/* frames the mark may lie beyond need */
	uint64_t taken;		/* frames of the stream the test took from held */
	unsigned int handover_at;	/* t.got->len at the first finished poll */
};

/* The place of @seq in the order the guest must see; below T_HIGH only */
static uint32_t t_rank(uint32_t seq)
{
	if (seq >= 1001 && seq <= 1999)
		return seq - 1001;		/* tunnelled: 0.. */
	if (seq >= 1 && seq <= 999)
		return 1000 + seq;		/* buffered: 1001.. */
	return seq;				/* held 2001.., live 3001.. */
}

/* Where @seq is in what the guest got; -1 if it never came */
static int t_index_of(uint32_t seq)
{
	guint i;

	for (i = 0; i < t.got->len; i++)
		if (g_array_index(t.got, uint32_t, i) == seq)
			return (int)i;
	return -1;
}

/* The entries of RX vring 0 the shim filled and the guest has not reposted */
static uint32_t t_outstanding(void)
{
	return t.unread[VS_VRING_RX(0)] + t.unposted[VS_VRING_RX(0)];
}

/*
 * The guest got the stream's frames (below T_HIGH) in its order, none
 * twice, and every one it did not get was counted as buffer-full
 */
static void t_check_stream(const struct t_tail *tl)
{
	uint64_t stream = tl->n_tun + tl->n_buf + tl->n_mid + (tl->live - 3001), got = 0;
	uint32_t last = 0;
	bool first = true;
	guint i;

	for (i = 0; i < t.got->len; i++) {
		uint32_t seq = g_array_index(t.got, uint32_t, i);

		if (seq >= T_HIGH)
			continue;
		if (!first && t_rank(seq) <= last)
			g_test_message("out of order at %u: %u after rank %u", i, seq, last);
		g_assert_true(first || t_rank(seq) > last);
		first = false;
		last = t_rank(seq);
		got++;
	}
	g_assert_cmpuint(got + tl->vm->stats.drops[VS_DROP_BUFFER_FULL] + tl->taken, ==, stream);
	g_assert_cmpuint(t_drops(tl->vm), ==, tl->vm->stats.drops[VS_DROP_BUFFER_FULL]);
}

/* A port for these tests: @max_udp frames of UDP held at most */
static struct vs_vm *t_tail_port(uint32_t max_udp)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = max_udp;
	vm->policy.max_bytes[VS_PKT_UDP] = (uint64_t)max_udp * 1514;
	return vm;
}

/* @per_poll live frames queued (and, t.ring_on, the guest reads), one poll */
static void t_step(struct t_tail *tl)
{
	if (tl->per_poll) {
		t_uplink_queue(tl->live, tl->per_poll);
		tl->live += tl->per_poll;
	}
	if (t.ring_on)
		t_guest_run(VS_VRING_RX(0), tl->read);
	t_poll(tl->vm, 1);
	if (t.ring_on)
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND);
}

/*
 * Plan test 1's start: 100 buffered (1..100), 50 tunnelled (1001..1050),
 * the replay starts and delivers inject; 20 live frames go behind
 * (2001..2020, the poll's replay step runs before its uplink read); then
 * inject_close (unless !@close).  T_LIVE frames arrive before each poll
 * from then on.  need = 170: the migration's frames
 */
static void t_tail_begin(struct t_tail *tl, struct vs_vm *vm, bool close)
{
	unsigned int i;

	memset(tl, 0, sizeof(*tl));
	tl->vm = vm;
	tl->live = 3001;
	tl->n_tun = 50;
	tl->n_buf = 100;
	tl->n_mid = 20;
	if (!t.ring_on)
		t.guest_room = T_ROOM;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 100);
	t_poll(vm, 4);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 100);
	t_inject(vm, 1001, 50);
	vs_dp_replay_start(vm);
	for (i = 0; i < 100 && (t.got->len < 50 || vm->dp.pending.n); i++)
		t_step(tl);
	t_assert_run(0, 1001, 50);
	g_assert_cmpuint(t.got->len, ==, 50);
	g_assert_false(vs_dp_replay_finished(vm));
	t_uplink_queue(2001, 20);
	t_step(tl);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 120);
	g_assert_cmpuint(t.got->len, ==, 50);
	if (close)
		vs_dp_inject_close(vm);
	tl->need = 170;
	tl->per_poll = T_LIVE;
}

/*
 * Poll (t_step()) until the replay reports finished: never before
 * tl->need frames left, and never later than the take that crossed the
 * mark (with @at_need: the frames left by delivery, so got->len >= need)
 * Return: the polls it took
 */
static unsigned int t_to_handover(struct t_tail *tl, bool at_need)
{
	unsigned int i;

	for (i = 0; i < T_POLLS; i++) {
		t_step(tl);
		if (!vs_dp_replay_finished(tl->vm)) {
			/* past the mark by more than a take: it should have ended */
			g_assert_cmpuint(t.got->len, <=, tl->need + VS_DP_BURST + tl->slack);
			continue;
		}
		if (at_need)
			g_assert_cmpuint(t.got->len, >=, tl->need);
		tl->handover_at = t.got->len;
		return i + 1;
	}
	g_test_message("not finished after %u polls: got %u, held %u, mode %d", T_POLLS,
		       t.got->len, rte_ring_count(tl->vm->dp.held), vs_dp_mode(tl->vm));
	g_assert_true(vs_dp_replay_finished(tl->vm));
	return i;
}

/* The hand-over just came: finished, mode REPLAY, frames still held */
static void t_assert_tail(const struct t_tail *tl, uint64_t replays)
{
	g_assert_true(vs_dp_replay_finished(tl->vm));
	g_assert_cmpint(vs_dp_mode(tl->vm), ==, VS_DP_REPLAY);
	g_assert_false(vs_dp_held_empty(tl->vm));
	g_assert_cmpuint(tl->vm->stats.replays_left_held, ==, replays);
	/* review 12.3: the tail is not made an own replay */
	g_assert_false(dp_own_replay_now(tl->vm));
}

/* No more arrivals: poll until LIVE; everything left, finished */
static void t_drain_live(struct t_tail *tl)
{
	unsigned int i;

	tl->per_poll = 0;
	for (i = 0; i < 4000 && vs_dp_mode(tl->vm) != VS_DP_LIVE; i++)
		t_step(tl);
	g_assert_cmpint(vs_dp_mode(tl->vm), ==, VS_DP_LIVE);
	g_assert_true(vs_dp_replay_finished(tl->vm));
	g_assert_cmpuint(vs_dp_buffered_now(tl->vm), ==, 0);
}

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
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
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
 * Take all of held (the main loop's way, vs_dp_held_take()): the frames
 * the guest did not get, in order: the stream's, continuing where t.got
 * stops, then T_NEW_EPISODE..+@n_new-1
 * Return: frames taken
 */
static unsigned int t_take_rest(struct t_tail *tl, uint32_t n_new)
{
	uint32_t last = g_array_index(t.got, uint32_t, t.got->len - 1), want_new = 0;
	struct rte_mbuf *m[VS_DP_BURST];
	unsigned int taken = 0, n, i;

	g_assert_cmpuint(last, >=, 3001);	/* the tail's frames came last */
	while ((n = vs_dp_held_take(tl->vm, m, VS_DP_BURST))) {
		for (i = 0; i < n; i++) {
			uint32_t seq = t_seq_of(m[i]);

			if (last + 1 < tl->live) {
				g_assert_cmpuint(seq, ==, ++last);
				tl->taken++;
			} else
				g_assert_cmpuint(seq, ==, T_NEW_EPISODE + want_new++);
		}
		rte_pktmbuf_free_bulk(m, n);
		taken += n;
	}
	g_assert_cmpuint(last, ==, tl->live - 1);
	g_assert_cmpuint(want_new, ==, n_new);
	return taken;
}

/*
 * A new replay after a tail: finished never before its inject_close (the
 * old end and mark do not leak), then at its own mark.  @n_inject
 * tunnelled frames (T_NEW_INJECT..) go first; @stall polls with live
 * frames before inject_close; @replays: replays-left-held then
 */
static void t_new_replay(struct t_tail *tl, uint32_t n_inject, unsigned int stall,
			 uint64_t replays)
{
	struct vs_vm *vm = tl->vm;
	unsigned int at = t.got->len, pending = vm->dp.pending.n, i;

	t_inject(vm, T_NEW_INJECT, n_inject);
	vs_dp_replay_start(vm);
	tl->per_poll = T_LIVE;
	for (i = 0; i < stall; i++) {
		t_step(tl);
		g_assert_false(vs_dp_replay_finished(vm));
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	/* the burst on its way, then the new tunnelled frames; held waits */
	g_assert_cmpuint(t.got->len, ==, at + pending + n_inject);
	if (n_inject)
		t_assert_run(at + pending, T_NEW_INJECT, n_inject);
	g_assert_cmpuint(vm->dp.pending.n, ==, 0);
	vs_dp_inject_close(vm);
	tl->need = t.got->len + rte_ring_count(vm->dp.held);
	t_to_handover(tl, true);
	t_assert_tail(tl, replays);
	t_drain_live(tl);
	t_check_stream(tl);
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

/* --- review 12's missing tests ------------------------------------------- */

/*
 * M2 (review 12.2): the lcore (a thread that polls) against the main
 * loop's vs_dp_buffer_start() + vs_dp_replay_start() at random times of a
 * replay with a tail (guest_room 2, 200 live frames behind 40 held): right
 * after it reported finished (the hand-over), right where the last frame
 * left (the CAS REPLAY -> LIVE), or anywhere (perhaps at the mark).  The
 * new replay is never reported finished before its own inject_close, and
 * never LIVE while its inject is open (checked by the lcore thread after
 * each poll that started and ended inside the open window, and by the
 * main loop three polls after the start); after its inject_close it ends
 * (finished and LIVE).  Up to T_M2_ROUNDS rounds or T_M2_SECONDS.  On the
 * implementation with either end site's generation check removed (the
 * hand-over tagged with the current generation, or the CAS site without
 * its check and its REPLAY put back) this failed within 20 to 8400
 * rounds (fin_bad, and for the CAS site live_bad and mode_bad too).
 */
struct t_m2 {
	struct vs_vm *vm;
	int run;		/* main: 1 poll, 0 park, -1 exit */
	unsigned int park_req;	/* main: a park asked for */
	unsigned int park_ack;	/* lcore: the last park it honoured */
	unsigned int polls;	/* lcore: polls done */
	unsigned int open;	/* main: the round whose new replay's inject is open */
	unsigned int live_bad;	/* lcore: LIVE seen inside an open window */
};

static gpointer t_m2_lcore(gpointer data)
{
	struct t_m2 *r = data;
	long cpus = sysconf(_SC_NPROCESSORS_CONF), i;
	cpu_set_t set;

	/* EAL pinned the main thread (-l0), and a new thread inherits it: off
	 * that CPU, or the two threads take turns instead of racing */
	CPU_ZERO(&set);
	for (i = 0; i < cpus && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (;;) {
		int run = __atomic_load_n(&r->run, __ATOMIC_ACQUIRE);
		unsigned int open;

		if (run < 0)
			break;
		if (!run) {
			__atomic_store_n(&r->park_ack, __atomic_load_n(&r->park_req, __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
			g_thread_yield();
			continue;
		}
		open = __atomic_load_n(&r->open, __ATOMIC_ACQUIRE);
		vs_dp_poll_port(r->vm);
		if (open && __atomic_load_n(&r->open, __ATOMIC_ACQUIRE) == open &&
		    vs_dp_mode(r->vm) == VS_DP_LIVE)
			__atomic_fetch_add(&r->live_bad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->polls, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void t_m2_park(struct t_m2 *r)
{
	unsigned int token = r->park_req + 1;

	__atomic_store_n(&r->run, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&r->park_req, token, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r->park_ack, __ATOMIC_ACQUIRE) != token)
		g_thread_yield();
}

static unsigned int t_m2_polls(struct t_m2 *r)
{
	return __atomic_load_n(&r->polls, __ATOMIC_ACQUIRE);
}

static void t_spin(unsigned int n)
{
	while (n--)
		__asm__ volatile("" ::: "memory");
}

#define T_M2_ROUNDS	20000
#define T_M2_SECONDS	3

static void test_race_new_replay(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_m2 r = { .vm = vm };
	unsigned int round, done = 0, fin_bad = 0, mode_bad = 0, stuck = 0, acted_tail = 0;
	unsigned int variants[3] = { 0 };
	gint64 start = g_get_monotonic_time();
	uint32_t base = 1;
	GThread *lcore;

	t.guest_room = 2;	/* a tail of ~100 polls: the main loop sees it */
	lcore = g_thread_new("lcore", t_m2_lcore, &r);
	t_m2_park(&r);
	for (round = 1; round <= T_M2_ROUNDS &&
			g_get_monotonic_time() - start < T_M2_SECONDS * G_USEC_PER_SEC;
	     round++) {
		unsigned int variant = g_random_int_range(0, 3), p0, spins;
		gint64 until;

		/* parked: this thread is the lcore (the setup of test 1, smaller) */
		vs_dp_buffer_start(vm, true);
		t_uplink_queue(base, 40);
		vs_dp_poll_port(vm);
		vs_dp_poll_port(vm);
		vs_dp_replay_start(vm);
		vs_dp_inject_close(vm);
		t_uplink_queue(base + 40, 200);	/* read 32 a poll during the replay */
		base += 240;
		g_assert_false(vs_dp_replay_finished(vm));

		__atomic_store_n(&r.run, 1, __ATOMIC_RELEASE);
		variants[variant]++;
		if (variant == 2) {	/* anywhere: perhaps before the mark */
			p0 = t_m2_polls(&r) + g_random_int_range(0, 48);
			while (t_m2_polls(&r) < p0)
				g_thread_yield();
			t_spin(g_random_int_range(0, 2000));
		} else if (variant == 1) {	/* where the last frame left: the CAS */
			for (spins = 0; spins < 100000000 && vs_dp_buffered_now(vm) &&
					vs_dp_mode(vm) == VS_DP_REPLAY;
			     spins++)
				if (!(spins & 1023))
					g_thread_yield();
			if (vs_dp_replay_finished(vm) && vs_dp_mode(vm) == VS_DP_REPLAY)
				acted_tail++;
			t_spin(g_random_int_range(0, 200));
		} else {
			while (!vs_dp_replay_finished(vm))
				g_thread_yield();
			if (vs_dp_mode(vm) == VS_DP_REPLAY)
				acted_tail++;
			t_spin(g_random_int_range(0, 3000));
		}
		vs_dp_buffer_start(vm, true);
		vs_dp_replay_start(vm);
		__atomic_store_n(&r.open, round, __ATOMIC_RELEASE);
		p0 = t_m2_polls(&r);
		while (t_m2_polls(&r) < p0 + 3) {
			if (vs_dp_replay_finished(vm))
				fin_bad++;
			g_thread_yield();
		}
		if (vs_dp_replay_finished(vm))
			fin_bad++;
		if (vs_dp_mode(vm) != VS_DP_REPLAY)
			mode_bad++;
		__atomic_store_n(&r.open, 0, __ATOMIC_RELEASE);
		vs_dp_inject_close(vm);
		until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
		while ((!vs_dp_replay_finished(vm) || vs_dp_mode(vm) != VS_DP_LIVE) &&
		       g_get_monotonic_time() < until)
			g_thread_yield();
		if (!vs_dp_replay_finished(vm) || vs_dp_mode(vm) != VS_DP_LIVE)
			stuck++;
		t_m2_park(&r);
		done++;
		if (fin_bad || mode_bad || stuck || r.live_bad)
			break;
	}
	__atomic_store_n(&r.run, -1, __ATOMIC_RELEASE);
	g_thread_join(lcore);
	g_test_message("%u rounds (%u after the hand-over, %u at the tail's end, %u anywhere; "
		       "%u acted on a tail) in %.2f s: finished early %u, not REPLAY %u, "
		       "LIVE in the window %u, stuck %u; replays-left-held %" PRIu64 ", polls %u",
		       done, variants[0], variants[1], variants[2], acted_tail,
		       (g_get_monotonic_time() - start) / 1e6, fin_bad, mode_bad, r.live_bad,
		       stuck, vm->stats.replays_left_held, r.polls);
	g_assert_cmpuint(fin_bad, ==, 0);
	g_assert_cmpuint(mode_bad, ==, 0);
	g_assert_cmpuint(r.live_bad, ==, 0);
	g_assert_cmpuint(stuck, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * M3 (review 12.7): a new replay without a new episode (buffering off:
 * no vs_dp_buffer_start() in between) while the tail drains, live frames
 * flowing: not over before its inject_close, then over at its own mark
 * (the old tail's state does not suppress it), a second replays-left-held
 */
static void test_no_new_episode(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;

	t_tail_begin(&tl, vm, true);
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	t_new_replay(&tl, 5, 10, 2);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 55);
	t_port_free(vm);
}

/*
 * M5 (review 12.8): inject_close while inject still holds 200 frames and
 * live frames keep arriving: the mark is taken when inject is first found
 * empty, so it covers the live frames held while inject drained; the
 * replay is over only after them
 */
static void test_close_with_backlog(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .n_tun = 200, .n_buf = 20,
			     .per_poll = T_LIVE };
	unsigned int i, drained = 0, before = 0;

	t.guest_room = T_ROOM;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 20);
	t_poll(vm, 1);
	t_inject(vm, 1001, 200);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	/* inject drains (10.7 a poll), live frames go behind */
	for (i = 0; i < T_POLLS && t.got->len < 200; i++) {
		t_step(&tl);
		g_assert_false(vs_dp_replay_finished(vm));
	}
	drained = i;
	before = tl.live - 3001 - T_LIVE;	/* held before the poll that emptied it */
	tl.need = 220 + before;
	g_test_message("inject emptied in poll %u: %u live frames held before it", drained,
		       before);
	t_to_handover(&tl, true);
	g_test_message("finished at got %u: the mark covered %u to %u live frames", t.got->len,
		       before, before + T_LIVE);
	t_assert_run(0, 1001, 200);
	t_assert_run(200, 1, 20);
	t_assert_run(220, 3001, before);	/* all of them before the end */
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_check_stream(&tl);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 200);
	t_port_free(vm);
}

/*
 * Review 12.7, the lcore's own replay (a full ring, LIVE -> REPLAY) when
 * the main loop starts one without a new episode: it gets its mark too,
 * whether the lcore polls between vs_dp_replay_start() and
 * vs_dp_inject_close() or not (t_replay_now(): both at once; the main
 * loop's pump may close inject before the lcore's next poll too).  An own
 * replay needs buffering on, so in the daemon a new episode usually comes
 * first (vs_dp_buffer_start()); tests start replays without one.
 */
static void t_own_then_replay(bool poll_between)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .per_poll = T_LIVE };
	unsigned int i;

	t.guest_room = T_ROOM;
	tl.per_poll = VS_DP_BURST;	/* a backlog: takes of a whole burst */
	for (i = 0; i < 10; i++)
		t_step(&tl);
	tl.per_poll = T_LIVE;
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);	/* the lcore's own */
	g_assert_cmpuint(rte_ring_count(vm->dp.held), >, 100);
	g_assert_true(dp_own_replay_now(vm));
	vs_dp_replay_start(vm);
	if (poll_between)
		t_step(&tl);
	vs_dp_inject_close(vm);
	/* the mark: when the burst on its way left (at most 4 polls at 8 a
	 * call), before that poll's uplink read */
	tl.need = t.got->len + vm->dp.pending.n + rte_ring_count(vm->dp.held);
	tl.slack = 5 * T_LIVE;
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_check_stream(&tl);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void test_own_then_replay_polled(void)
{
	t_own_then_replay(true);
}

static void test_own_then_replay_now(void)
{
	t_own_then_replay(false);
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
	g_test_add_func("/dataplane/replay-tail/race-new-replay", test_race_new_replay);
	g_test_add_func("/dataplane/replay-tail/no-new-episode", test_no_new_episode);
	g_test_add_func("/dataplane/replay-tail/close-with-backlog", test_close_with_backlog);
	g_test_add_func("/dataplane/replay-tail/own-then-replay-polled",
			test_own_then_replay_polled);
	g_test_add_func("/dataplane/replay-tail/own-then-replay-now", test_own_then_replay_now);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-replay-tail", add_tests);
}
