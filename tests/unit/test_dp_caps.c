/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_caps.c - the buffer's caps and the replay's pace
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs,
 * with the fake clock where time matters.  An episode's buffer has caps
 * (frames, bytes, the pool's share) and a policy for what it drops when
 * full (the newest or the oldest); the caps also hold for frames queued
 * behind a replay and for the mini-replay of a full guest ring.  The
 * replay is paced against the arrival rate the lcore measured, which
 * counts frames the tunnel brings too.  Every test checks that each frame
 * is delivered or counted as a drop.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"

/* The caps of an episode, drop-newest and drop-oldest, and a new episode */
static void test_caps(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = 10;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 25);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 15);
	g_assert_cmpuint(vm->stats.buffer_peak_pkts, ==, 10);

	/* the same episode: buffer_start with caps keeps it */
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(100, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 16);

	/* drop-oldest keeps the newest 10 */
	vm->policy.overflow = VS_OVERFLOW_DROP_OLDEST;
	t_uplink_queue(200, 12);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 28);

	t_replay_now(vm);
	t_poll(vm, 3);
	t_assert_run(0, 202, 10);
	t_check_accounting(vm, 0);

	/* no caps (straggler forwarding): only the ring bounds it */
	vs_dp_buffer_start(vm, false);
	t_uplink_queue(300, 40);
	t_poll(vm, 2);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 40);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 28);

	/* a class the policy drops */
	vs_dp_buffer_start(vm, true);	/* from no caps: a new episode */
	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	t_uplink_queue(400, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Frames held behind a replay obey the caps, counted against what held
 * holds now: a replay stalled on a silent tunnel cannot take the pool.
 */
static void test_caps_behind_replay(void)
{
	struct vs_vm *vm = t_port_new();
	unsigned int avail0 = rte_mempool_avail_count(t_pool);

	vm->policy.max_pkts[VS_PKT_UDP] = 50;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 30);
	t_poll(vm, 1);
	vs_dp_replay_start(vm);			/* inject not closed: held waits */
	t_uplink_queue(100, 4000);		/* a flood meanwhile */
	t_poll(vm, 200);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 20);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 3980);
	/* the pool keeps every mbuf beyond the caps for the replay path */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), >=, avail0 - 50);
	t_check_accounting(vm, 0);

	/* drop-oldest: the newest 50 are kept */
	vm->policy.overflow = VS_OVERFLOW_DROP_OLDEST;
	t_uplink_queue(5000, 60);
	t_poll(vm, 3);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);
	vs_dp_inject_close(vm);
	t_poll(vm, 10);
	t_assert_run(0, 5010, 50);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);

	/* a class the policy does not buffer is not held either */
	vs_dp_replay_start(vm);
	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	t_uplink_queue(6000, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The ring-full mini-replay obeys the caps too */
static void test_caps_ring_full(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	t.guest_room = 0;
	t_uplink_queue(1, 1000);
	t_poll(vm, 40);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	g_assert_cmpuint(rte_ring_count(vm->dp.held) + vm->dp.pending.n, <=, 40 + 32);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), <=, 40);
	t_check_accounting(vm, 0);
	t.guest_room = T_UNLIMITED;
	t_poll(vm, 5);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	/* delivered in order, gaps where the caps dropped */
	for (guint i = 1; i < t.got->len; i++)
		g_assert_cmpuint(g_array_index(t.got, uint32_t, i), >,
				 g_array_index(t.got, uint32_t, i - 1));
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A paced replay on the fake clock: R = the floor while no frame arrives,
 * pace% of the arrival rate once they do, a bucket of 4 ms (at least one
 * burst); it completes, in order.
 */
static void test_pace(void)
{
	struct vs_vm *vm = t_port_new();
	guint n, ms;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	t_inject(vm, 1, 200);
	t_replay_now(vm);
	for (ms = 0; ms < 100; ms++) {		/* 100 ms, polled every 100 us */
		t_poll(vm, 1);
		for (n = 0; n < 10; n++) {
			t_clock_advance_us(100);
			t_poll(vm, 1);
		}
	}
	/* the floor, 1000 pps: 100 frames in 100 ms, and the first burst */
	g_assert_cmpuint(t.got->len, >=, 100);
	g_assert_cmpuint(t.got->len, <=, 100 + VS_DP_BURST);
	g_assert_cmpuint(vm->stats.replay_rate_pps, ==, VS_REPLAY_PACE_FLOOR_PPS);
	t_replay_finish(vm, 100);
	t_assert_run(0, 1, 200);

	/* 800 frames arriving at 4000 pps, buffered */
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 1000, 800, 250);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 3900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 4100);
	/* the replay, with frames still arriving at 4000 pps (held behind
	 * it): 150%, 6000 pps, so 600 frames in 100 ms, plus a bucket */
	t_replay_now(vm);
	n = t.got->len;
	for (ms = 0; ms < 400; ms++) {		/* 100 ms in steps of 250 us */
		t_uplink_queue(5000 + ms, 1);
		t_clock_advance_us(250);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.replay_rate_pps, >=, 5800);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 6200);
	g_assert_cmpuint(t.got->len - n, >=, 560);
	g_assert_cmpuint(t.got->len - n, <=, 620 + 6200 * 4 / 1000);
	t_replay_finish(vm, 250);
	t_assert_run(200, 1000, 800);
	t_assert_run(1000, 5000, 400);
	t_check_accounting(vm, 200);

	/* off: one burst, as fast as the ring takes it */
	vm->policy.replay_pace_pct = 0;
	t_inject(vm, 5000, 200);
	t_replay_now(vm);
	t_poll(vm, 3);
	g_assert_true(vs_dp_replay_finished(vm));
	t_port_free(vm);
}

/*
 * A backlog whose traffic stopped before the resume (a paused VM whose
 * sender went quiet, a burst during a blackout): the replay goes at pace%
 * of the rate those frames arrived at, the fastest window of the last
 * stretch of traffic (not its slow tail), not at the floor.  Before: 20000 frames buffered in 0.2 s were replayed
 * at 1000 pps, 20 s (bench/replay).
 */
static void test_pace_after_quiet(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 1, 800, 250);		/* 200 ms at 4000 pps, buffered */
	t_arrive(vm, 801, 10, 10000);		/* a tail: 10 frames at 100 pps */
	t_poll_every(vm, 1000, 1000);		/* then 1 s of silence */
	g_assert_cmpuint(vm->stats.arrival_rate_pps, ==, 0);	/* the gauge: now */
	t_replay_now(vm);
	t_poll_every(vm, 400, 250);		/* 100 ms in steps of 250 us */
	/* 150% of 4000: 6000 pps, 600 frames in 100 ms plus a bucket */
	g_assert_cmpuint(vm->stats.replay_rate_pps, >=, 5800);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 6200);
	g_assert_cmpuint(t.got->len, >=, 560);
	g_assert_cmpuint(t.got->len, <=, 620 + 6200 * 4 / 1000);
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 810);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A guest that was handed 2000 pps live, then stopped while a flood
 * arrived at 8000 pps, then quiet: the replay goes at the fastest rate
 * the guest was handed on this host, 2000 pps, not at 150% of the
 * flood's 8000 (CI run 11, e2e isolation: 2000 frames replayed at 12000
 * pps into a default guest that had been stopped; it lost 5 in its
 * socket).  Failed before the fix: replay-rate-pps 12000.
 */
static void test_pace_paused_flood(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	t_arrive(vm, 1, 600, 500);		/* 300 ms at 2000 pps, live */
	g_assert_cmpuint(t.got->len, ==, 600);
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 601, 1000, 125);		/* 125 ms at 8000 pps, buffered */
	t_poll_every(vm, 1000, 1000);		/* then 1 s of silence */
	t_replay_now(vm);
	t_poll_every(vm, 400, 250);		/* 100 ms in steps of 250 us */
	g_test_message("replay-rate-pps %" G_GUINT64_FORMAT, vm->stats.replay_rate_pps);
	g_assert_cmpuint(vm->stats.replay_rate_pps, >=, 1900);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 2100);
	/* 200 frames in 100 ms plus a bucket (one burst) */
	g_assert_cmpuint(t.got->len - 600, >=, 180);
	g_assert_cmpuint(t.got->len - 600, <=, 220 + VS_DP_BURST);
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 1600);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Review 65, F1 (fails on 24b7056 on purpose): as paused-flood, but the
 * guest's ring was full for one poll every 50 ms while it was handed
 * 2000 pps live (an ordinary guest at its pace: the rest of that burst
 * went to held and a replay of the lcore's own took it).  Every 100 ms
 * window then saw REPLAY and none counts, so live-peak-pps stays 0 and the
 * flood is replayed at 150% of 8000 as if the guest had never received:
 * the guests that fill their ring, the slow ones, escape the cap.
 */
static void test_pace_paused_flood_ring_full(void)
{
	struct vs_vm *vm = t_port_new();
	guint n;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	for (n = 0; n < 600; n++) {		/* 300 ms at 2000 pps, live */
		t_uplink_queue(1 + n, 1);
		t_clock_advance_us(500);
		t.guest_budget = n % 100 == 50 ? 0 : T_UNLIMITED;	/* full: 1 poll / 50 ms */
		t_poll(vm, 1);
	}
	t.guest_budget = T_UNLIMITED;
	for (n = 0; n < 20; n++) {		/* the last mini-replay ends */
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(t.got->len, ==, 600);
	g_assert_cmpuint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 601, 1000, 125);		/* 125 ms at 8000 pps, buffered */
	t_poll_every(vm, 1000, 1000);		/* then 1 s of silence */
	t_replay_now(vm);
	t_poll_every(vm, 400, 250);
	g_test_message("live-peak-pps %" G_GUINT64_FORMAT ", replay-rate-pps %" G_GUINT64_FORMAT,
		       vm->stats.live_peak_pps, vm->stats.replay_rate_pps);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 2100);
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 1600);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * replay-delivered-pps (review 83, S2): what the replay got into the
 * guest per 100 ms window, not what the pace allowed.  A backlog of 400
 * frames replayed while frames go on arriving at 2000 pps (pace 150%:
 * 3000 pps) to a guest that takes one frame every other 500 us poll
 * (1000 pps): the gauge says about 1000 while the pace says 3000.  Within
 * the default caps (held peaks at 800).  Then live frames only: 0.
 */
static void test_pace_delivered_rate(void)
{
	struct vs_vm *vm = t_port_new();
	guint n;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 1, 400, 500);		/* 200 ms at 2000 pps, buffered */
	t_replay_now(vm);
	for (n = 0; n < 800; n++) {		/* 400 ms more, the guest at 1000 pps */
		t_uplink_queue(401 + n, 1);
		t_clock_advance_us(500);
		t.guest_budget = n % 2 ? 0 : 1;
		t_poll(vm, 1);
	}
	g_test_message("replay-rate-pps %" G_GUINT64_FORMAT ", replay-delivered-pps %" G_GUINT64_FORMAT,
		       vm->stats.replay_rate_pps, vm->stats.replay_delivered_pps);
	g_assert_cmpuint(vm->stats.replay_rate_pps, >=, 2900);
	g_assert_cmpuint(vm->stats.replay_delivered_pps, >=, 950);
	g_assert_cmpuint(vm->stats.replay_delivered_pps, <=, 1050);
	t.guest_budget = T_UNLIMITED;
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 1200);
	for (n = 0; n < 500; n++) {		/* 250 ms live, without a replay */
		t_uplink_queue(1201 + n, 1);
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(vm->stats.replay_delivered_pps, ==, 0);
	g_assert_cmpuint(vm->stats.live_peak_pps, >=, 1900);
	t_assert_run(1200, 1201, 500);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Review 65, F2: one frame handed live (an ARP, a ping) is all this
 * guest was ever seen to take, so its quiet backlog, which arrived at
 * 10000 pps while it was stopped, goes at the floor (1000 pps), not at
 * 150% of its arrival (15000 pps, the behaviour before the cap, which the
 * review's version of this test asserted).  A decision, not an accident:
 * nothing shows that this guest takes more, and a default guest that
 * cannot loses the backlog in its socket (isolation: 5 of 2000 at 12000
 * pps); the cost is time, 1 s per 1000 frames, while nothing else waits
 * (quiet: frames that arrive lift the pace to 150% of their rate).
 */
static void test_pace_quiet_after_ping(void)
{
	struct vs_vm *vm = t_port_new();
	guint ms;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	for (ms = 0; ms < 300; ms++) {		/* one frame live, at 150 ms */
		if (ms == 150)
			t_uplink_queue(1, 1);
		t_clock_advance_us(1000);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(t.got->len, ==, 1);
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 2, 1000, 100);		/* 100 ms at 10000 pps, buffered */
	t_poll_every(vm, 1000, 1000);		/* then 1 s of silence */
	t_replay_now(vm);
	t_poll_every(vm, 40, 250);
	g_test_message("live-peak-pps %" G_GUINT64_FORMAT ", replay-rate-pps %" G_GUINT64_FORMAT,
		       vm->stats.live_peak_pps, vm->stats.replay_rate_pps);
	g_assert_cmpuint(vm->stats.live_peak_pps, ==, 10);
	g_assert_cmpuint(vm->stats.replay_rate_pps, ==, VS_REPLAY_PACE_FLOOR_PPS);
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 1001);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

#define T_LEAK_N 1000	/* frames */
#define T_LEAK_Q 340	/* ms of quiet: a window closes at the replay's last poll but one */
/*
 * Review 65, F3 (fails on 24b7056 on purpose): a guest never handed a
 * frame live, one replay of a quiet backlog.  The window that closes at a
 * poll still in REPLAY is excluded and reset; the next poll delivers the
 * replay's last burst and switches to LIVE, and its window, LIVE at every
 * poll's end, counts that burst as "handed live": live-peak-pps > 0 from a
 * replay alone (migration.md: "a replay's windows do not count"), and
 * the next quiet backlog of this never-live guest is capped (here at the
 * floor) instead of "paced by the arrival alone".
 */
static void test_pace_replay_leaks_into_taken(void)
{
	struct vs_vm *vm = t_port_new();
	guint n, ms, polls = 0;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	vs_dp_buffer_start(vm, true);
	for (n = 0; n < T_LEAK_N; n++) {	/* 100 ms of arrivals, buffered */
		t_uplink_queue(1 + n, 1);
		t_clock_advance_us(100000 / T_LEAK_N);
		t_poll(vm, 1);
	}
	for (ms = 0; ms < T_LEAK_Q; ms++) {	/* quiet */
		t_clock_advance_us(1000);
		t_poll(vm, 1);
	}
	t_replay_now(vm);
	while (!vs_dp_replay_finished(vm)) {	/* an lcore that polls every 4 ms */
		t_clock_advance_us(4000);
		t_poll(vm, 1);
		polls++;
	}
	t_poll_every(vm, 300, 1000);		/* nothing arrives: windows close */
	g_test_message("replay-rate-pps %" G_GUINT64_FORMAT ", %u polls, live-peak-pps %" G_GUINT64_FORMAT,
		       vm->stats.replay_rate_pps, polls, vm->stats.live_peak_pps);
	g_assert_cmpuint(t.got->len, ==, T_LEAK_N);
	g_assert_cmpuint(vm->stats.live_peak_pps, ==, 0);	/* nothing was handed live */
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Review 63: the remembered rate is the fastest window of a stretch that
 * never ends while some frame arrives every 100 ms.  Here a tunnel
 * catch-up (20000 frames in 50 ms: a migration's backlog streamed at TCP
 * speed) opens the stretch, a 20 pps trickle keeps it going for 4 s, 40 of
 * those frames are buffered, and the traffic stops.  The backlog arrived at
 * 20 pps, yet the replay is paced at 150% of the catch-up's window
 * (migration.md: "the rate the backlog itself arrived at").
 * (failed before the fix: replay-rate-pps 197314 <= 6000; before 8522e2a the floor, 1000)
 */
static void test_pace_stale_burst(void)
{
	struct vs_vm *vm = t_port_new();
	guint ms;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	for (ms = 0; ms < 50; ms++) {		/* 20000 tunnelled frames in 50 ms */
		__atomic_fetch_add(&vm->stats.tunnel_rx_frames, 400, __ATOMIC_RELAXED);
		t_clock_advance_us(1000);
		t_poll(vm, 1);
	}
	t_arrive(vm, 1, 40, 50000);		/* 2 s at 20 pps, live */
	vs_dp_buffer_start(vm, true);
	t_arrive(vm, 41, 40, 50000);		/* 2 s at 20 pps, buffered */
	t_poll_every(vm, 1000, 1000);		/* then 1 s of silence */
	t_replay_now(vm);
	t_clock_advance_us(250);
	t_poll(vm, 1);
	g_test_message("replay-rate-pps %" G_GUINT64_FORMAT, vm->stats.replay_rate_pps);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 6000);
	t_replay_finish(vm, 250);
	t_assert_run(0, 1, 80);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* Frames the tunnel brings count in the arrival rate (stragglers, and
 * the blackout's frames at the destination); a flood that brings every
 * frame both ways does not double it */
static void test_pace_tunnel_arrivals(void)
{
	struct vs_vm *vm = t_port_new();
	unsigned int n;

	t_clock_fake();
	for (n = 0; n < 500; n++) {		/* 250 ms at 2000 frames/s */
		__atomic_fetch_add(&vm->stats.tunnel_rx_frames, 1, __ATOMIC_RELAXED);
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 1900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 2100);

	for (n = 0; n < 500; n++) {
		__atomic_fetch_add(&vm->stats.tunnel_rx_frames, 1, __ATOMIC_RELAXED);
		t_uplink_queue(n, 1);
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 1900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 2100);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/caps", test_caps);
	g_test_add_func("/dataplane/caps/behind-replay", test_caps_behind_replay);
	g_test_add_func("/dataplane/caps/ring-full", test_caps_ring_full);
	g_test_add_func("/dataplane/pace", test_pace);
	g_test_add_func("/dataplane/pace/tunnel-arrivals", test_pace_tunnel_arrivals);
	g_test_add_func("/dataplane/pace/stale-burst", test_pace_stale_burst);
	g_test_add_func("/dataplane/pace/after-quiet", test_pace_after_quiet);
	g_test_add_func("/dataplane/pace/paused-flood", test_pace_paused_flood);
	g_test_add_func("/dataplane/pace/paused-flood-ring-full", test_pace_paused_flood_ring_full);
	g_test_add_func("/dataplane/pace/quiet-after-ping", test_pace_quiet_after_ping);
	g_test_add_func("/dataplane/pace/delivered-rate", test_pace_delivered_rate);
	g_test_add_func("/dataplane/pace/replay-leaks-into-taken", test_pace_replay_leaks_into_taken);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-caps", add_tests);
}
