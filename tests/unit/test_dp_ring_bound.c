/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_ring_bound.c - the RX ring bound (rx-ring-bound, dp_ring_bound.c)
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs,
 * with the harness's guest ring (t.ring_on).  Plan tests (section 8 of
 * docs/dev/plan-rx-ring-bound.md): a stopped guest gets the bound and the
 * rest waits in held; a guest that keeps up never meets it; a refill
 * threshold above it is served by the valve; 0, a bound at or above the
 * ring's size and buffering off change nothing; no free entry reported
 * means unknown; frames of several entries overshoot by one burst at
 * most; a migration's paced replay fills a stopped guest's ring up to the
 * bound only; a guest hovering at the bound does not switch the port on
 * every burst.  Then review 59's tests (/dataplane/ring-bound/review/...),
 * each of which failed on ring3x: a pass of several bursts, two queues on
 * one vring, multiqueue, the duplicate filter's order, the smallest
 * bound, a class policy that drops, a polling guest with a refill
 * threshold above the bound, and the idle polls' reads.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"

/* --- the RX ring bound (docs/dev/plan-rx-ring-bound.md, section 8) -------- */

#define T_BOUND	64

/* The entries of RX vring 0 the shim filled and the guest has not reposted */
static uint32_t t_outstanding(void)
{
	return t.unread[VS_VRING_RX(0)] + t.unposted[VS_VRING_RX(0)];
}

/*
 * A stopped guest: the ring gets the bound's 64 frames, the rest waits in
 * held (the port in its own replay), nothing dropped; once the guest runs
 * everything comes in order and the ring never holds more than the bound
 */
static void test_ring_bound_stopped(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int i;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.stopped = true;
	t_uplink_queue(1, 300);
	t_poll(vm, 20);
	g_assert_cmpuint(t.got->len, ==, T_BOUND);
	t_assert_run(0, 1, T_BOUND);
	g_assert_cmpuint(t.unread[rx], ==, T_BOUND);
	g_assert_cmpuint(vs_dp_buffered_now(vm), ==, 300 - T_BOUND);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);
	/* the third burst met the bound; the rest queued behind it */
	g_assert_cmpuint(vm->stats.ring_bound_held_pkts, ==, VS_DP_BURST);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 300 - T_BOUND - VS_DP_BURST);
	g_assert_cmpuint(vm->stats.ring_bound_valve, ==, 0);
	t_check_accounting(vm, 0);

	/* it runs, 16 frames a poll: all of it, in order, never past the bound */
	t.stopped = false;
	for (i = 0; i < 200 && (t.got->len < 300 || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, 16);
		t_poll(vm, 1);
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND);
	}
	t_assert_run(0, 1, 300);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);	/* one episode */
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A guest that reads after every poll (Linux's refill rule) never meets
 * the bound: the port stays LIVE, and the free entries are read once per
 * burst with frames, never on an idle poll
 */
static void test_ring_bound_fast_guest(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1, n, bursts = 0;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	while (seq <= 10000) {
		n = MIN(VS_DP_BURST, 10001 - seq);
		t_uplink_queue(seq, n);
		seq += n;
		t_poll(vm, 1);
		bursts++;
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
		g_assert_cmpuint(t.ring_free_calls[rx], ==, bursts);
		t_poll(vm, 2);		/* idle polls read nothing */
		g_assert_cmpuint(t.ring_free_calls[rx], ==, bursts);
		t_guest_run(rx, T_RING_SIZE);
	}
	t_assert_run(0, 1, 10000);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_valve, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	g_assert_cmpuint(t.ring_idle_calls[rx], ==, 0);	/* never at the bound */
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* A guest that reposts only past @refill_above (more than the bound leaves
 * it): the valve lets a burst through each time it re-armed, so everything
 * arrives, in order, live; @event_idx false: the interrupt flag's valve */
static void t_ring_bound_refill(bool event_idx)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1;
	unsigned int i;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.refill_above = 80;
	t.event_idx = event_idx;
	while (seq <= 3000) {
		t_uplink_queue(seq, VS_DP_BURST);
		seq += VS_DP_BURST;
		t_poll(vm, 1);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
		g_assert_cmpuint(t_outstanding(), <=, t.refill_above + VS_DP_BURST);
		t_guest_run(rx, T_RING_SIZE);
	}
	t_assert_run(0, 1, seq - 1);
	g_assert_cmpuint(vm->stats.ring_bound_valve, >, 0);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);

	/*
	 * It stops right after re-arming: with EVENT_IDX one burst more (the
	 * enqueue moves used->idx past used_event), then the bound holds; the
	 * flag's valve stays open for a guest stopped with its interrupt on,
	 * so the ring fills as without the bound (the weaker valve: never
	 * worse than today)
	 */
	t.stopped = true;
	t_uplink_queue(seq, 200);
	t_poll(vm, 20);
	if (event_idx) {
		g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);
		g_assert_cmpuint(t_outstanding(), <=, MAX(T_BOUND, t.refill_above) + VS_DP_BURST);
	} else {
		g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
		g_assert_cmpuint(t.got->len, ==, seq - 1 + 200);	/* all in the ring */
	}
	t.stopped = false;
	for (i = 0; i < 100 && t.got->len < seq - 1 + 200; i++) {
		t_guest_run(rx, T_RING_SIZE);
		t_poll(vm, 1);
	}
	t_assert_run(0, 1, seq - 1 + 200);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void test_ring_bound_refill_threshold(void)
{
	t_ring_bound_refill(true);
	t_ring_bound_refill(false);
}

/* No free entry reported (a vring DPDK has not translated yet) while the
 * ring does take frames: unknown, not full: the bursts go whole */
static void test_ring_bound_unknown(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_free[rx] = 0;
	t_uplink_queue(1, 300);
	t_poll(vm, 10);
	t_assert_run(0, 1, 300);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t.ring_free_calls[rx], ==, 10);
	g_assert_cmpuint(t.ring_idle_calls[rx], ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* Mergeable buffers, frames of 3 entries: the bound counts entries and
 * offers frames, so one burst may overshoot by its extra entries; then it
 * holds, and everything comes in order */
static void test_ring_bound_mergeable(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	const uint32_t k = 3;
	unsigned int i;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.entries_per_frame = k;
	t.stopped = true;
	t_uplink_queue(1, 300);
	t_poll(vm, 20);
	g_assert_cmpuint(t.unread[rx], ==, VS_DP_BURST * k);	/* one burst: 96 > 64 */
	g_assert_cmpuint(t.unread[rx], <=, T_BOUND + (k - 1) * VS_DP_BURST);
	g_assert_cmpuint(t.got->len, ==, VS_DP_BURST);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t.stopped = false;
	for (i = 0; i < 400 && (t.got->len < 300 || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, 16 * k);
		t_poll(vm, 1);
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND + (k - 1) * VS_DP_BURST);
	}
	t_assert_run(0, 1, 300);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A migration's replay (250 tunnelled frames: inject holds 256) to a guest that does not run
 * yet (its device starts before its vCPUs): the ring gets the bound, the
 * rest waits in inject and the pending burst; once it runs the replay goes
 * at the pace and never deeper than the bound: min(pace, room), in order
 */
/*
 * A guest that hovers at the bound (32 frames arrive per poll for 150
 * polls, it runs in 2 polls of 5 and reads up to 100, then every poll):
 * the port goes back to LIVE only with at most half
 * the bound outstanding (or the guest idle), so it switches to REPLAY at
 * most once per 32 entries the guest drained; in order, nothing dropped
 */
static void test_ring_bound_hysteresis(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1, read = 0, read_at_switch = 0, live;
	unsigned int i, switches = 0, lives = 0;
	uint64_t rx_before;
	int mode, was = VS_DP_LIVE;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	for (i = 0; i < 2000 && (i < 150 || t.got->len < seq - 1 || was != VS_DP_LIVE); i++) {
		if (i < 150) {
			t_uplink_queue(seq, VS_DP_BURST);
			seq += VS_DP_BURST;
		}
		rx_before = vm->stats.rx_pkts - vm->stats.replayed_pkts;
		t_poll(vm, 1);
		live = (uint32_t)(vm->stats.rx_pkts - vm->stats.replayed_pkts - rx_before);
		mode = vs_dp_mode(vm);
		if (mode == VS_DP_REPLAY && was == VS_DP_LIVE) {
			if (switches++)	/* since the last one, half the bound drained */
				g_assert_cmpuint(read - read_at_switch, >=, T_BOUND / 2);
			read_at_switch = read;
		} else if (mode == VS_DP_LIVE && was == VS_DP_REPLAY) {
			/* the ring when the replay ended: before this poll's
			 * live frames */
			lives++;
			g_assert_true(t_outstanding() - live <= T_BOUND / 2 ||
				      (uint16_t)(t.used[rx] - live) == t.used_event[rx]);
		}
		was = mode;
		if (i >= 150 || i % 5 == 1 || i % 5 == 3)
			read += t_guest_run(rx, i < 150 ? 100 : 64);
	}
	g_assert_cmpuint(switches, >, 0);
	g_assert_cmpuint(lives, ==, switches);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	t_assert_run(0, 1, seq - 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

#define T_REPLAYED	250

static void test_ring_bound_replay(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t before;
	unsigned int i;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;	/* no arrivals: the floor, 1000 pps */
	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.stopped = true;
	t_inject(vm, 1, T_REPLAYED);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	for (i = 0; i < 1000; i++) {		/* 100 ms */
		t_clock_advance_us(100);
		t_poll(vm, 1);
	}
	t_assert_run(0, 1, T_BOUND);
	g_assert_cmpuint(t.got->len, ==, T_BOUND);
	g_assert_cmpuint(vs_dp_buffered_now(vm), ==, T_REPLAYED - T_BOUND);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);
	g_assert_cmpuint(vm->stats.ring_bound_held_pkts, ==, 0);	/* none came live */
	g_assert_false(vs_dp_replay_finished(vm));

	/* it runs, reading all it finds every 100 us: paced (the bucket holds
	 * 4 ms at 1000 pps: one burst), never past the bound */
	t.stopped = false;
	for (i = 0; i < 10000 && !vs_dp_replay_finished(vm); i++) {
		t_guest_run(rx, T_RING_SIZE);
		before = t.got->len;
		t_clock_advance_us(100);
		t_poll(vm, 1);
		g_assert_cmpuint(t.got->len - before, <=, VS_DP_BURST);
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND);
	}
	g_assert_true(vs_dp_replay_finished(vm));
	t_assert_run(0, 1, T_REPLAYED);
	/* the rest at 1000 pps after the first burst */
	g_assert_cmpuint(i, >=, (T_REPLAYED - T_BOUND - VS_DP_BURST) * 10);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, T_REPLAYED);
	t_port_free(vm);
}

/* --- review59: adversarial tests of the RX ring bound (ring3x) ----------- *
 * Each failed on ring3x at c2eb5af (a finding of review 59) and asserts
 * the correct behaviour since ring4 fixed it. */

/* The first index of t.got at which the sequence is not at+1, or t.got->len */
static unsigned int t_first_disorder(void)
{
	unsigned int i;

	for (i = 0; i < t.got->len; i++)
		if (g_array_index(t.got, uint32_t, i) != i + 1)
			return i;
	return i;
}

/*
 * R1: one pass that reads several bursts of the same uplink queue (the
 * drain loop of vs_dp_poll_port()) keeps the mode it read before the loop.
 * The first burst the bound refuses switches the port LIVE -> REPLAY and
 * its frames go to held; the next burst still goes through dp_deliver_live(),
 * whose dp_hold_ring_full() CAS now fails (the port is REPLAY, not LIVE),
 * and the "bounded" fallback enqueues it into the ring "as without the
 * bound": ahead of the held frames (same queue, same flow: reordered), past
 * the bound, and once the ring is full, dropped as vm-ring-full.
 * @bound: 64 (the finding) or 0 (what the code did before: compare)
 */
static void t_review_drain_pass(uint32_t bound)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int i, disorder;

	vm->policy.rx_ring_bound = bound;
	t.ring_on = true;
	t.stopped = true;
	t_uplink_queue(1, 300);
	vs_dp_drain_request(vm);	/* the pass reads every burst the queue has */
	t_poll(vm, 1);
	disorder = t_first_disorder();
	g_printerr("\n  bound %u, one drain pass of 300 frames to a stopped guest: ring %u "
		   "entries (got %u), first out of order at index %u (seq %u), held %" PRIu64 ", "
		   "vm-ring-full drops %" PRIu64 ", mode %d, hits %" PRIu64 "\n",
		   bound, t.unread[rx], t.got->len, disorder,
		   disorder < t.got->len ? g_array_index(t.got, uint32_t, disorder) : 0,
		   vs_dp_buffered_now(vm), vm->stats.drops[VS_DROP_VM_RING_FULL],
		   vs_dp_mode(vm), vm->stats.ring_bound_hits);
	if (bound)
		g_assert_cmpuint(t.unread[rx], <=, bound);
	g_assert_cmpuint(disorder, ==, t.got->len);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t.stopped = false;
	for (i = 0; i < 400 && (vs_dp_buffered_now(vm) || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, 16);
		t_poll(vm, 1);
	}
	disorder = t_first_disorder();
	g_printerr("  after the guest ran: got %u, first out of order at index %u, drops %" PRIu64
		   "\n", t.got->len, disorder, t_drops(vm));
	t_assert_run(0, 1, 300);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void test_review_drain_pass_bound(void)
{
	t_review_drain_pass(T_BOUND);
}

static void test_review_drain_pass_off(void)
{
	t_review_drain_pass(0);
}

/*
 * R1b: the same stale mode without a drain: a 1-vCPU guest (queue pair 0
 * only) on a queues=2 port, so both uplink queues map to RX vring 0
 * (dp_rx_queue()).  In the pass where uplink queue 0's burst meets the
 * bound and switches the port to REPLAY, queue 1's burst (read with the
 * mode of the pass: LIVE) is refused by the bound too, its CAS fails, and
 * the fallback enqueues it whole: the ring goes past the bound by a burst
 * per further queue, ahead of the frames held just before it.  (The two
 * queues carry different flows on a real uplink, so this one is the
 * bound's overshoot and an overall reorder, not a per-flow one.)
 */
static void test_review_two_queues_one_vring(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int disorder;

	vm->cfg->queues = 2;
	vm->dev_queues = 2;
	vm->vring_enabled = 1u << VS_VRING_RX(0) | 1u << VS_VRING_TX(0);
	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.rx_any_q = true;
	t.stopped = true;
	t_uplink_queue(1, 128);
	t_poll(vm, 2);		/* pass 1: 1..32, 33..64; pass 2: 65..96, 97..128 */
	disorder = t_first_disorder();
	g_printerr("\n  ring %u entries (bound %u), got %u, first out of order at index %u "
		   "(seq %u), held %" PRIu64 ", hits %" PRIu64 ", held-pkts %" PRIu64 "\n",
		   t.unread[rx], T_BOUND, t.got->len, disorder,
		   disorder < t.got->len ? g_array_index(t.got, uint32_t, disorder) : 0,
		   vs_dp_buffered_now(vm), vm->stats.ring_bound_hits,
		   vm->stats.ring_bound_held_pkts);
	g_assert_cmpuint(t.unread[rx], <=, T_BOUND);
	t.stopped = false;
	t_guest_run(rx, T_RING_SIZE);
	t_poll(vm, 3);
	t_guest_run(rx, T_RING_SIZE);
	t_poll(vm, 3);
	g_assert_cmpuint(t.got->len, ==, 128);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * R4: "no stall whatever the guest's refill policy" (dp_ring_bound.c)
 * held on ring3x only for a guest that re-arms its interrupt.  A guest
 * that polls with its interrupt off (a poll-mode driver; NAPI deferring
 * its IRQ) and reposts only past 80 free entries read the 64 the bound let
 * in, then waited for 17 more that the bound never offered: 536 of 600
 * sat in held, valve 0.  Now the timed valve lets one burst through after
 * DP_RING_VALVE_MS (200) of refused offers without a repost; the guest
 * reposts, and the bound grows by what it needed (rb.extra), so it does
 * not wait again.  A poll every ms (the fake clock).
 */
static void test_review_poll_mode_refill(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int i, stalled = 0;

	t_clock_fake();
	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.refill_above = 80;
	t.used_event[rx] = 0x8000;	/* never re-armed: used->idx never meets it here */
	t_uplink_queue(1, 600);
	for (i = 0; i < 1000 && (t.got->len < 600 || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		uint32_t before = t.got->len;

		t_clock_advance_us(1000);
		t_poll(vm, 1);
		stalled += t.got->len == before && t.got->len < 600;
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND + 2 * VS_DP_BURST);
		t_guest_run(rx, T_RING_SIZE);
		t.used_event[rx] = 0x8000;	/* it keeps polling, interrupt off */
		t.no_interrupt[rx] = true;
	}
	g_printerr("\n  600 frames, %u polls (1 ms each), %u without progress: the guest got %u, "
		   "%" PRIu64 " wait in held, valve %" PRIu64 ", mode %d\n", i, stalled, t.got->len,
		   vs_dp_buffered_now(vm), vm->stats.ring_bound_valve, vs_dp_mode(vm));
	t_assert_run(0, 1, 600);
	g_assert_cmpuint(vm->stats.ring_bound_valve, >=, 1);
	g_assert_cmpuint(stalled, <=, 220);	/* one wait of the timed valve */
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * R5: a port whose class policy drops a class during buffering
 * (udp-policy drop; the same with a rule that drops): the frames the bound
 * refuses go through dp_hold(), which drops them as policy, and so does
 * every live frame of that class while the port stays in its own replay
 * (the hysteresis lengthens it), although the ring has room for them
 * (ring3x: 144 of 640 dropped as policy).  Now they wait, within the caps,
 * and all 640 arrive in order, as with bound 0.  @bound: 64 or 0
 */
static void t_review_class_drop(uint32_t bound)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1;
	unsigned int i;

	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	vm->policy.rx_ring_bound = bound;
	t.ring_on = true;
	/* the guest reads 24 per poll while 32 arrive: it lags 8 a poll, so
	 * the ring (256) never fills in 20 polls (at most 160 + 32) */
	for (i = 0; i < 20; i++) {
		t_uplink_queue(seq, VS_DP_BURST);
		seq += VS_DP_BURST;
		t_poll(vm, 1);
		t_guest_run(rx, 24);
	}
	g_printerr("\n  bound %u, udp-policy drop, %u frames, guest reads 24 of 32 a poll: "
		   "delivered %u, dropped by policy %" PRIu64 " (vm-ring-full %" PRIu64
		   "), ring outstanding %u of 256, hits %" PRIu64 "\n", bound, seq - 1, t.got->len,
		   vm->stats.drops[VS_DROP_POLICY], vm->stats.drops[VS_DROP_VM_RING_FULL],
		   t.unread[rx] + t.unposted[rx], vm->stats.ring_bound_hits);
	g_assert_cmpuint(t_drops(vm), ==, 0);	/* the ring never filled */
	for (i = 0; i < 100 && (t.got->len < seq - 1 || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, 24);
		t_poll(vm, 1);
	}
	t_assert_run(0, 1, seq - 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void test_review_class_drop_bound(void)
{
	t_review_class_drop(T_BOUND);
}

static void test_review_class_drop_off(void)
{
	t_review_class_drop(0);
}

/*
 * R6: "a guest that keeps up never meets a bound of 48 or more"
 * (dp_ring_bound.c on ring3x) was false: at 48 the valve was needed on 50
 * of 100 bursts, and the polling guest's port switched 33 times.  The
 * smallest bound is 64 now (config test /config/keys/...: 48 refused);
 * at 64 neither guest meets it.  Below, ring3x's analysis at 48:  The fast-guest test (a guest that reads everything
 * after every poll) at the smallest bound the key accepts, 48: a Linux
 * guest keeps up to 32 read entries unposted, so every other burst finds
 * room for 16 of its 32 and needs the valve; a guest that reads as fast
 * but is still polling (interrupt off: NAPI not completed, or
 * napi_defer_hard_irqs) switches the port to its own replay instead
 */
static void t_review_fast_64(bool rearms)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1;

	vm->policy.rx_ring_bound = VS_MIN_RX_RING_BOUND;
	t.ring_on = true;
	while (seq <= 3200) {
		t_uplink_queue(seq, VS_DP_BURST);
		seq += VS_DP_BURST;
		t_poll(vm, 1);
		t_guest_run(rx, T_RING_SIZE);
		if (!rearms) {
			t.used_event[rx] = (uint16_t)(t.used[rx] - 1);
			t.no_interrupt[rx] = true;
		}
	}
	t_poll(vm, 2);
	t_guest_run(rx, T_RING_SIZE);
	t_poll(vm, 2);
	g_printerr("\n  bound 64, guest reads all after each poll%s: 100 bursts, valve %" PRIu64
		   ", ring-bound-hits %" PRIu64 ", guest_ring_idle reads %u, got %u\n",
		   rearms ? "" : " (interrupt off)", vm->stats.ring_bound_valve,
		   vm->stats.ring_bound_hits, t.ring_idle_calls[rx], t.got->len);
	g_assert_cmpuint(t.ring_idle_calls[rx], ==, 0);	/* never at the bound */
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
	t_port_free(vm);
}

static void test_review_fast_64(void)
{
	t_review_fast_64(true);
}

static void test_review_fast_64_polling(void)
{
	t_review_fast_64(false);
}

/*
 * R7: plan test 9 (its commit 7 is not on the branch).  The duplicate
 * filter's window is open (a destination after its migration replay:
 * stragglers still come through the tunnel).  The bound holds direct
 * frames 65..200 back (65..96 in the pending burst, the rest in held);
 * the tunnelled copy of 150 comes meanwhile.  The replay takes inject
 * before held (dp_replay()), so the copy of 150 goes ahead of 97..149,
 * which reached this host before it, and the direct 150 is then dropped
 * as its duplicate: each frame once, but out of order.  Bound 0: the ring
 * takes 1..200 in order, the copy is dropped.  @bound: 64 or 0
 */
static void t_review_dedup(uint32_t bound)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int disorder, i;

	vm->policy.rx_ring_bound = bound;
	t.ring_on = true;
	t.stopped = true;
	vs_dp_dedup_open(vm);
	t_uplink_queue(1, 200);
	t_poll(vm, 8);
	t_inject(vm, 150, 1);		/* a straggler: the copy of 150 */
	t_poll(vm, 1);
	t.stopped = false;
	for (i = 0; i < 100 && (vs_dp_buffered_now(vm) || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, T_RING_SIZE);
		t_poll(vm, 1);
	}
	disorder = t_first_disorder();
	g_printerr("\n  bound %u, dedup window open: got %u, duplicates dropped %" PRIu64
		   ", first out of order at index %u (seq %u)\n", bound, t.got->len,
		   vm->stats.drops[VS_DROP_DUPLICATE], disorder,
		   disorder < t.got->len ? g_array_index(t.got, uint32_t, disorder) : 0);
	t_assert_run(0, 1, 200);
	g_assert_cmpuint(t.got->len, ==, 200);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	t_check_accounting(vm, 1);
	vs_dp_dedup_close(vm);
	t_port_free(vm);
}

static void test_review_dedup_bound(void)
{
	t_review_dedup(T_BOUND);
}

static void test_review_dedup_off(void)
{
	t_review_dedup(0);
}

/*
 * R2: multi-queue (plan section 6 and test 8).  Uplink queue 1 -> guest
 * queue pair 1 (RX vring 2), whose vCPU does not run, while vCPU 0 reads
 * RX vring 0 after every poll.  On ring3x the bound on vring 2 switched
 * the port to its own replay, which delivers to RX vring 0 only: the
 * flow's later frames landed on vring 0 (576 of 640), its earlier ones sat
 * unread on vring 2, and the hysteresis (vring 0 only) let the port flap.
 * Now the bound applies only while the guest has one RX vring enabled:
 * here every burst goes to vring 2 as without the bound, counted in
 * ring-bound-multiqueue, and the rings are not even read.  (A ring that
 * fills up is the full-ring replay of bound 0, not the bound's: 192
 * frames keep clear of it.)
 */
static void test_review_multiqueue(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx0 = VS_VRING_RX(0), rx1 = VS_VRING_RX(1);
	unsigned int i;
	uint32_t seq = 1;

	vm->cfg->queues = 2;
	vm->dev_queues = 2;
	vm->vring_enabled = 0xf;
	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.rx_q = 1;
	for (i = 0; i < 6; i++) {
		t_uplink_queue(seq, VS_DP_BURST);
		seq += VS_DP_BURST;
		t_poll(vm, 1);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
		t_guest_run(rx0, T_RING_SIZE);	/* vCPU 0 runs, vCPU 1 does not */
	}
	t_poll(vm, 5);
	g_printerr("\n  queue 1's 192 frames: RX vring 2 got %u (unread %u), RX vring 0 got %u, "
		   "ring-bound-multiqueue %" PRIu64 "\n", t.vring_frames[rx1], t.unread[rx1],
		   t.vring_frames[rx0], vm->stats.ring_bound_multiqueue);
	g_assert_cmpuint(t.vring_frames[rx1], ==, 192);
	g_assert_cmpuint(t.vring_frames[rx0], ==, 0);
	g_assert_cmpuint(t.ring_free_calls[rx0] + t.ring_free_calls[rx1], ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
	g_assert_cmpuint(vm->stats.ring_bound_multiqueue, ==, 6);
	t_assert_run(0, 1, 192);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * R3: the theory comment (dp_ring_bound.c) says the free entries are read
 * "right before an enqueue of a burst with frames (never on an idle
 * poll)".  While the hysteresis kept the port REPLAY with nothing left to
 * deliver, dp_replay() called dp_ring_settled() on every poll, idle ones
 * included: a guest_ring_free (the vring's lock) per idle poll (10 in 10
 * on ring3x).  Now one idle poll in DP_RING_SETTLE_POLLS reads it.
 */
static void test_review_idle_poll_reads(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	unsigned int before;

	vm->policy.rx_ring_bound = T_BOUND;
	t.ring_on = true;
	t.stopped = true;
	t_uplink_queue(1, 100);
	t_poll(vm, 5);
	t.stopped = false;
	t_guest_run(rx, 40);		/* reposts 40: 24 unread, room for 40 */
	t_poll(vm, 1);			/* the 36 held ones go: 60 unread */
	g_assert_cmpuint(vs_dp_buffered_now(vm), ==, 0);
	before = t.ring_free_calls[rx];
	t_poll(vm, 10);			/* idle: no frame anywhere */
	g_printerr("\n  mode %d, 0 frames to deliver, 10 idle polls read the free entries %u "
		   "times\n", vs_dp_mode(vm), t.ring_free_calls[rx] - before);
	/* one read in DP_RING_SETTLE_POLLS (8) idle polls */
	g_assert_cmpuint(t.ring_free_calls[rx] - before, <=, 2);
	t.stopped = false;
	t_guest_run(rx, T_RING_SIZE);
	t_poll(vm, 2);
	t_assert_run(0, 1, 100);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/ring-bound/stopped-guest", test_ring_bound_stopped);
	g_test_add_func("/dataplane/ring-bound/fast-guest", test_ring_bound_fast_guest);
	g_test_add_func("/dataplane/ring-bound/refill-threshold", test_ring_bound_refill_threshold);
	g_test_add_func("/dataplane/ring-bound/hysteresis", test_ring_bound_hysteresis);
	g_test_add_func("/dataplane/ring-bound/unknown", test_ring_bound_unknown);
	g_test_add_func("/dataplane/ring-bound/replay", test_ring_bound_replay);
	g_test_add_func("/dataplane/ring-bound/mergeable", test_ring_bound_mergeable);
	/* review59: each failed on ring3x (its findings), fixed on ring4 */
	g_test_add_func("/dataplane/ring-bound/review/drain-pass-off", test_review_drain_pass_off);
	g_test_add_func("/dataplane/ring-bound/review/drain-pass-bound", test_review_drain_pass_bound);
	g_test_add_func("/dataplane/ring-bound/review/two-queues-one-vring",
			test_review_two_queues_one_vring);
	g_test_add_func("/dataplane/ring-bound/review/multiqueue", test_review_multiqueue);
	g_test_add_func("/dataplane/ring-bound/review/dedup-off", test_review_dedup_off);
	g_test_add_func("/dataplane/ring-bound/review/dedup-bound", test_review_dedup_bound);
	g_test_add_func("/dataplane/ring-bound/review/fast-64", test_review_fast_64);
	g_test_add_func("/dataplane/ring-bound/review/fast-64-polling", test_review_fast_64_polling);
	g_test_add_func("/dataplane/ring-bound/review/class-drop-off", test_review_class_drop_off);
	g_test_add_func("/dataplane/ring-bound/review/class-drop-bound",
			test_review_class_drop_bound);
	g_test_add_func("/dataplane/ring-bound/review/poll-mode-refill",
			test_review_poll_mode_refill);
	g_test_add_func("/dataplane/ring-bound/review/idle-poll-reads", test_review_idle_poll_reads);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-ring-bound", add_tests);
}
