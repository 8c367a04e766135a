/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_source_hold.c - the destination's per-source hold (dp_source_hold.h):
 * a source's direct frames wait for its release, and reach the guest after
 * every tunnelled frame injected before the release, in their own order
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs,
 * a port whose duplicate filter's window is open (the VM resumed here) and
 * whose main loop allows holds (hs.src_hold_on), on the fake clock.  Frames
 * carry their source in the IPv4 source address 10.0.0.HOST (frame_from());
 * the main loop's half is played with vs_dp_source_release() and the
 * handshake's calls, the lcore's with t_poll().  Each test checks what the
 * guest got, in order (t_assert_run()), the hold's counters, that every
 * frame is accounted for (t_check_accounting(): held frames count as in
 * flight) and that every mbuf came back (t_port_free()).  One test runs
 * the real worker loop on a second lcore (t_main_with_worker(); the other
 * tests' ports are never published, so it does not poll them) against the
 * test thread as the main loop.
 * docs/dev/plan-per-source-barrier.md, sections 2.2 and 3, is the rule
 * under test.
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_direct.h"
#include "dp_handshake.h"
#include "dp_source_hold.h"
#include "flow_key.h"
#include "pkt.h"
#include "dp_harness.h"

#define X	11	/* the source that switched: 10.0.0.11 */
#define Z	12	/* another one */

/* An IPv4 UDP frame to the VM from 10.0.0.@host, carrying @seq */
static struct rte_mbuf *frame_from(uint32_t seq, uint8_t host)
{
	struct rte_mbuf *m = t_frame(seq, 64);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	p[26] = 10;
	p[27] = 0;
	p[28] = 0;
	p[29] = host;
	return m;
}

/* The uplink hands out @n frames of 10.0.0.@host, first..first+n-1 */
static void queue_from(uint8_t host, uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_queue_push_tail(&t.rx, frame_from(first + i, host));
}

/* The main loop releases 10.0.0.@host */
static bool release(struct vs_vm *vm, uint8_t host)
{
	uint8_t addr[16] = { 10, 0, 0, host };

	return vs_dp_source_release(vm, VS_FLOW_AF_INET, addr);
}

/* A port in a window, holds allowed, on the fake clock */
static struct vs_vm *hold_port(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	vs_dp_source_hold_on(vm, true);
	return vm;
}

static unsigned int held_now(const struct vs_vm *vm)
{
	return vm->dp.hold->n;
}

/* X's frames wait for the release, then follow what was injected before it */
static void test_hold_then_barrier(void)
{
	struct vs_vm *vm = hold_port();

	queue_from(X, 1, 5);
	t_poll(vm, 3);
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(held_now(vm), ==, 5);
	g_assert_cmpuint(vm->stats.source_held_pkts, ==, 5);
	g_assert_cmpuint(vm->stats.source_held_now, ==, 5);
	t_check_accounting(vm, 0);

	t_inject(vm, 100, 3);
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 8);
	t_assert_run(0, 100, 3);
	t_assert_run(3, 1, 5);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(vm->stats.source_held_now, ==, 0);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 1);
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 0);
	g_assert_cmpuint(vm->stats.source_barrier_timeouts, ==, 0);
	/* released: X's next frames go at once */
	queue_from(X, 6, 2);
	t_poll(vm, 1);
	t_assert_run(8, 6, 2);
	t_check_accounting(vm, 3);
	t_port_free(vm);
}

/* A source noted before holds were allowed, and frames without a unicast
 * IP header, go at once while X waits */
static void test_other_sources(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *bcast;

	t_clock_fake();
	vs_dp_dedup_open(vm);
	queue_from(Z, 10, 1);		/* noted, not held: holds are off */
	t_poll(vm, 1);
	t_assert_run(0, 10, 1);
	vs_dp_source_hold_on(vm, true);
	queue_from(X, 1, 1);
	queue_from(Z, 11, 1);
	queue_from(X, 2, 1);
	bcast = frame_from(12, Z);	/* broadcast: no evidence, never held */
	memset(rte_pktmbuf_mtod(bcast, uint8_t *), 0xff, 6);
	g_queue_push_tail(&t.rx, bcast);
	t_poll(vm, 2);
	g_assert_cmpuint(t.got->len, ==, 3);
	t_assert_run(1, 11, 2);
	g_assert_cmpuint(held_now(vm), ==, 2);
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	t_assert_run(3, 1, 2);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The release waits until inject and the pending burst are delivered */
static void test_inject_first(void)
{
	struct vs_vm *vm = hold_port();
	unsigned int polls;

	queue_from(X, 1, 5);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 5);
	t.guest_room = 1;		/* the guest takes one frame a call */
	t_inject(vm, 100, 32);
	g_assert_true(release(vm, X));
	for (polls = 0; polls < 200 && t.got->len < 37; polls++) {
		t_poll(vm, 1);
		/* X never ahead of an injected frame */
		if (t.got->len && g_array_index(t.got, uint32_t, t.got->len - 1) < 100)
			g_assert_cmpuint(t.got->len, >, 32);
	}
	g_assert_cmpuint(t.got->len, ==, 37);
	t_assert_run(0, 100, 32);
	t_assert_run(32, 1, 5);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 1);
	t_check_accounting(vm, 32);
	t_port_free(vm);
}

/* Without a release, X goes at source-barrier-ms, and is not held again */
static void test_timeout(void)
{
	struct vs_vm *vm = hold_port();

	g_assert_cmpuint(vm->policy.source_barrier_ms, ==, VS_DEFAULT_SOURCE_BARRIER_MS);
	queue_from(X, 1, 3);
	t_poll(vm, 1);
	t_clock_advance_us(49 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(held_now(vm), ==, 3);
	t_clock_advance_us(1000);
	t_poll(vm, 1);
	t_assert_run(0, 1, 3);
	g_assert_cmpuint(vm->stats.source_barrier_timeouts, ==, 1);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 0);
	queue_from(X, 4, 2);
	t_poll(vm, 1);
	t_assert_run(3, 4, 2);
	g_assert_cmpuint(held_now(vm), ==, 0);
	/* a late release finds no slot */
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.source_barriers_unmatched, ==, 1);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The frame that finds the hold full releases its source, in order */
static void test_overflow(void)
{
	struct vs_vm *vm = hold_port();
	unsigned int polls;

	queue_from(X, 1, VS_DP_HOLD_FRAMES + 1);
	for (polls = 0; polls < 100 && t.got->len < VS_DP_HOLD_FRAMES + 1; polls++)
		t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, VS_DP_HOLD_FRAMES + 1);
	t_assert_run(0, 1, VS_DP_HOLD_FRAMES + 1);
	g_assert_cmpuint(vm->stats.source_hold_overflow, ==, 1);
	g_assert_cmpuint(vm->stats.source_held_pkts, ==, VS_DP_HOLD_FRAMES);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * The overflow releases X into a ring that fills (the port switches to
 * REPLAY there): X's frames after it in the same burst go behind, not to
 * the room the guest makes meanwhile (review 63, F2: they went with the
 * mode read before the burst, LIVE, straight into the ring, ahead of X's
 * frames in held)
 */
static void test_overflow_ring_full(void)
{
	const uint32_t all = VS_DP_HOLD_FRAMES + 8;
	struct vs_vm *vm = hold_port();
	unsigned int polls;

	queue_from(X, 1, VS_DP_HOLD_FRAMES);
	for (polls = 0; polls < 100 && held_now(vm) < VS_DP_HOLD_FRAMES; polls++)
		t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, VS_DP_HOLD_FRAMES);
	g_assert_cmpuint(t.got->len, ==, 0);
	t.guest_room = 10;		/* the guest takes 10 frames a call */
	queue_from(X, VS_DP_HOLD_FRAMES + 1, 8);	/* one burst, the first overflows */
	for (polls = 0; polls < 1000 && t.got->len < all; polls++)
		t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, all);
	t_assert_run(0, 1, all);
	g_assert_cmpuint(vm->stats.source_hold_overflow, ==, 1);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void close_window(void *vm)
{
	vs_dp_dedup_close(vm);
}

/*
 * The window closes after the hold's poll read it open and before the
 * uplink's burst: X's next frame follows its held ones (review 63, F1:
 * the note saw the window closed, looked for no slot and delivered it
 * first, 3, 1, 2)
 */
static void test_window_closes_mid_poll(void)
{
	struct vs_vm *vm = hold_port();

	queue_from(X, 1, 2);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 2);
	queue_from(X, 3, 1);
	t.before_rx = close_window;
	t.before_rx_arg = vm;
	t_poll(vm, 2);
	g_assert_cmpuint(t.got->len, ==, 3);
	t_assert_run(0, 1, 3);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(vm->stats.source_held_now, ==, 0);
	/* released by the window's end, not by a barrier (review 63, F8) */
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 1);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * review 68: X's own SOURCE_BARRIER and then END's release of every
 * source reach the lcore in the same poll (the pump queues both in one
 * tick when the replay queue is empty).  X was released by its barrier:
 * source-barrier-releases, not source-hold-ends ("released without a
 * barrier of their own", control-protocol.md).  Fails: release_all wins.
 */
static void test_barrier_then_end_counted(void)
{
	struct vs_vm *vm = hold_port();

	queue_from(X, 1, 2);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 2);
	g_assert_true(release(vm, X));
	g_assert_true(vs_dp_source_release_all(vm));
	t_poll(vm, 1);
	t_assert_run(0, 1, 2);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 1);
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* VS_DP_HOLD_SOURCES sources at once: the next one is not held */
static void test_slots_full(void)
{
	struct vs_vm *vm = hold_port();
	unsigned int i;

	for (i = 0; i <= VS_DP_HOLD_SOURCES; i++)
		queue_from((uint8_t)(20 + i), 1 + i, 1);
	t_poll(vm, 3);
	g_assert_cmpuint(held_now(vm), ==, VS_DP_HOLD_SOURCES);
	g_assert_cmpuint(t.got->len, ==, 1);
	t_assert_run(0, 1 + VS_DP_HOLD_SOURCES, 1);
	g_assert_cmpuint(vm->stats.source_hold_full, ==, 1);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* A held frame whose tunnelled copy was injected during the hold: one copy */
static void test_dedup_held_copy(void)
{
	struct vs_vm *vm = hold_port();
	struct rte_mbuf *copy;

	queue_from(X, 1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 1);
	copy = frame_from(1, X);
	vs_dp_arrival_set_age(copy, 0);
	g_assert_cmpint(vs_dp_inject_put(vm, copy), ==, 0);
	g_assert_true(release(vm, X));
	t_poll(vm, 2);
	g_assert_cmpuint(t.got->len, ==, 1);
	t_assert_run(0, 1, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	g_assert_cmpuint(held_now(vm), ==, 0);
	t_check_accounting(vm, 1);
	t_port_free(vm);
}

/* In a replay, X is diverted too (live_seen set) and released behind it */
static void test_replay_mode(void)
{
	struct vs_vm *vm = hold_port();

	vs_dp_replay_start(vm);
	queue_from(X, 1, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 3);
	g_assert_true(vs_dp_live_seen(vm));
	t_inject(vm, 100, 2);
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	/* released into held, behind the replay that is not over */
	t_assert_run(0, 100, 2);
	g_assert_cmpuint(t.got->len, ==, 2);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 3);
	vs_dp_inject_close(vm);
	t_poll(vm, 2);
	t_assert_run(2, 1, 3);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	t_check_accounting(vm, 2);
	t_port_free(vm);
}

/* A new window releases every source; a release of the old one is skipped */
static void test_epoch(void)
{
	struct vs_vm *vm = hold_port();

	queue_from(X, 1, 2);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 2);
	g_assert_true(release(vm, X));	/* of this window, read after the next */
	vs_dp_dedup_open(vm);
	queue_from(X, 3, 2);		/* noted again in the new window: held */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	t_assert_run(0, 1, 2);
	g_assert_cmpuint(held_now(vm), ==, 2);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 0);
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 1);	/* the new window */
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	t_assert_run(2, 3, 2);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 1);
	/* the window closes: a source held then goes at once */
	queue_from(Z, 10, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 1);
	vs_dp_dedup_close(vm);
	t_poll(vm, 1);
	t_assert_run(4, 10, 1);
	g_assert_cmpuint(held_now(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A release the main loop queued in the window before, read by the lcore
 * only after it held the same source in the new one (the lcore's RX half
 * played by hand between two polls, as it runs concurrently): skipped
 */
static void test_stale_release(void)
{
	struct vs_vm *vm = hold_port();
	struct rte_mbuf *m = frame_from(1, X);
	uint8_t slot[1];

	g_assert_true(release(vm, X));	/* window 1: X not held (yet) */
	vs_dp_dedup_open(vm);
	vm->stats.uplink_rx_pkts++;
	g_assert_cmpuint(dp_direct_note(vm, &m, 1, t.now, VS_DP_LIVE, slot), ==, 1);
	g_assert_cmpuint(dp_source_hold_divert(vm, vm->vid, vm->vring_enabled, VS_DP_LIVE, 0,
					       &m, 1, slot), ==, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 1);
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(vm->stats.source_barriers_unmatched, ==, 0);
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	t_assert_run(0, 1, 1);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* A release for a source not held is counted, nothing else; release-all */
static void test_unmatched(void)
{
	struct vs_vm *vm = hold_port();
	unsigned int i;

	g_assert_true(release(vm, Z));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.source_barriers_unmatched, ==, 1);
	queue_from(X, 1, 1);
	queue_from(Z, 2, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 2);
	g_assert_true(vs_dp_source_release_all(vm));
	t_poll(vm, 1);
	t_assert_run(0, 1, 2);
	/* END's or ABORT's release is not a barrier's (review 63, F8) */
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 0);
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 2);
	/* the queue is bounded: the lcore has not read it */
	for (i = 0; i < VS_DP_RELEASE_QUEUE; i++)
		g_assert_true(release(vm, Z));
	g_assert_false(release(vm, Z));
	t_poll(vm, 1);
	g_assert_true(release(vm, Z));
	t_poll(vm, 1);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The device went away during the hold: X's frames go into held, in order,
 * behind what held had, and nothing new is held in BUFFER */
static void test_buffer_requeue(void)
{
	struct vs_vm *vm = hold_port();
	struct rte_mbuf *m[8];
	unsigned int n, i;

	queue_from(X, 1, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 3);
	vs_dp_buffer_start(vm, true);
	queue_from(X, 4, 1);
	queue_from(Z, 5, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 0);
	g_assert_cmpuint(vm->stats.source_hold_ends, ==, 1);	/* the device went */
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, 0);
	t_check_accounting(vm, 0);
	n = vs_dp_held_take(vm, m, RTE_DIM(m));
	g_assert_cmpuint(n, ==, 5);
	for (i = 0; i < n; i++) {
		g_assert_cmpuint(t_seq_of(m[i]), ==, i + 1);
		rte_pktmbuf_free(m[i]);
	}
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_port_free(vm);
}

/* Holds off (the stream did not negotiate it), or source-barrier-ms 0, or
 * no window: nothing held */
static void test_hold_off(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	queue_from(X, 1, 2);
	t_poll(vm, 1);
	t_assert_run(0, 1, 2);
	vs_dp_dedup_open(vm);		/* a new window: X is new again */
	vs_dp_source_hold_on(vm, true);
	vm->policy.source_barrier_ms = 0;
	queue_from(X, 3, 2);
	t_poll(vm, 1);
	t_assert_run(2, 3, 2);
	vm->policy.source_barrier_ms = VS_DEFAULT_SOURCE_BARRIER_MS;
	vs_dp_dedup_close(vm);
	queue_from(Z, 5, 1);
	t_poll(vm, 1);
	t_assert_run(4, 5, 1);
	g_assert_cmpuint(vm->stats.source_held_pkts, ==, 0);
	/* hold off while X is held: X keeps waiting for its barrier */
	vs_dp_dedup_open(vm);
	queue_from(X, 6, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 1);
	vs_dp_source_hold_on(vm, false);
	queue_from(X, 7, 1);
	queue_from(Z, 8, 1);		/* new in this window, not held now */
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 2);
	t_assert_run(5, 8, 1);
	g_assert_true(release(vm, X));
	t_poll(vm, 1);
	t_assert_run(6, 6, 2);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * The handoff under a real worker (t_main_with_worker()): the test thread
 * plays the main loop, injecting each source's stragglers and then
 * releasing it, while the worker polls the port; every source's held
 * frames must reach the guest after every frame injected before its
 * release (the release read before inject, dp_source_hold.h).  The fake
 * clock does not move, so nothing times out.
 */
#define T_STRESS_SOURCES	30	/* held at once: within VS_DP_HOLD_SOURCES */
#define T_STRESS_HELD		10	/* direct frames of each */
#define T_STRESS_INJECTED	40	/* stragglers of each, injected before its release */
#define T_STRESS_TUNNEL		1000000u	/* first seq of the tunnelled frames */
#define T_STRESS_DEADLINE_US	(10 * G_USEC_PER_SEC)

static void test_worker_inject_release(void)
{
	struct vs_vm *vm = hold_port();
	const uint64_t total = T_STRESS_SOURCES * (T_STRESS_HELD + T_STRESS_INJECTED);
	unsigned int pos[T_STRESS_SOURCES][2] = { { 0 } };	/* first held, last injected */
	gint64 deadline;
	unsigned int r, j, i;

	for (r = 0; r < T_STRESS_SOURCES; r++)
		queue_from((uint8_t)(100 + r), r * 1000, T_STRESS_HELD);
	vs_dp_publish(vm);		/* the worker's from here on */
	deadline = g_get_monotonic_time() + T_STRESS_DEADLINE_US;
	while (__atomic_load_n(&vm->stats.source_held_pkts, __ATOMIC_RELAXED) <
	       T_STRESS_SOURCES * T_STRESS_HELD && g_get_monotonic_time() < deadline)
		g_usleep(100);
	g_assert_cmpuint(__atomic_load_n(&vm->stats.source_held_pkts, __ATOMIC_RELAXED), ==,
			 T_STRESS_SOURCES * T_STRESS_HELD);
	for (r = 0; r < T_STRESS_SOURCES; r++) {
		for (j = 0; j < T_STRESS_INJECTED; j++) {
			struct rte_mbuf *m = t_frame(T_STRESS_TUNNEL + r * 1000 + j, 64);

			while (vs_dp_inject_put(vm, m) && g_get_monotonic_time() < deadline)
				g_usleep(10);
		}
		while (!release(vm, (uint8_t)(100 + r)) && g_get_monotonic_time() < deadline)
			g_usleep(10);
	}
	while (__atomic_load_n(&vm->stats.rx_pkts, __ATOMIC_RELAXED) < total &&
	       g_get_monotonic_time() < deadline)
		g_usleep(100);
	vs_dp_unpublish(vm);		/* the test's again, quiesced */
	g_assert_cmpuint(t.got->len, ==, total);
	for (i = 0; i < t.got->len; i++) {
		uint32_t seq = g_array_index(t.got, uint32_t, i);

		r = (seq >= T_STRESS_TUNNEL ? seq - T_STRESS_TUNNEL : seq) / 1000;
		g_assert_cmpuint(r, <, T_STRESS_SOURCES);
		if (seq >= T_STRESS_TUNNEL)
			pos[r][1] = i;
		else if (seq % 1000 == 0)
			pos[r][0] = i;
	}
	/* inject is FIFO: every source's stragglers, and those of the sources
	 * released before it, are ahead of its first held frame */
	for (r = 0; r < T_STRESS_SOURCES; r++)
		for (j = 0; j <= r; j++)
			g_assert_cmpuint(pos[j][1], <, pos[r][0]);
	g_assert_cmpuint(vm->stats.source_barrier_releases, ==, T_STRESS_SOURCES);
	g_assert_cmpuint(vm->stats.source_barrier_timeouts, ==, 0);
	t_check_accounting(vm, T_STRESS_SOURCES * T_STRESS_INJECTED);
	t_port_free(vm);
}

/*
 * Review 63 F3: the device goes away while X is held.  X's frames went into
 * held as dp_held_put() alone takes them: not counted buffered-pkts, and
 * past the class policy (udp: drop) that every other frame of this episode
 * meets in dp_buffer().  Where a live frame would go now is dp_buffer():
 * X's frames are dropped by policy like Z's.
 * (failed before the fix: X's 3 frames sat in held, 0 policy drops)
 */
static void test_device_gone_class_policy(void)
{
	struct vs_vm *vm = hold_port();

	queue_from(X, 1, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 3);
	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	vs_dp_device_gone(vm);
	queue_from(Z, 4, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(held_now(vm), ==, 0);
	t_check_accounting(vm, 0);
	g_assert_cmpuint(vm->stats.buffered_pkts[VS_PKT_UDP], ==, vs_dp_buffered_now(vm));
	g_assert_cmpuint(vs_dp_buffered_now(vm), ==, 0);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/source-hold/hold-then-barrier", test_hold_then_barrier);
	g_test_add_func("/dataplane/source-hold/device-gone-class-policy", test_device_gone_class_policy);
	g_test_add_func("/dataplane/source-hold/other-sources", test_other_sources);
	g_test_add_func("/dataplane/source-hold/inject-first", test_inject_first);
	g_test_add_func("/dataplane/source-hold/timeout", test_timeout);
	g_test_add_func("/dataplane/source-hold/overflow", test_overflow);
	g_test_add_func("/dataplane/source-hold/overflow-ring-full", test_overflow_ring_full);
	g_test_add_func("/dataplane/source-hold/window-closes-mid-poll",
			test_window_closes_mid_poll);
	g_test_add_func("/dataplane/source-hold/barrier-then-end-counted",
			test_barrier_then_end_counted);
	g_test_add_func("/dataplane/source-hold/slots-full", test_slots_full);
	g_test_add_func("/dataplane/source-hold/dedup-held-copy", test_dedup_held_copy);
	g_test_add_func("/dataplane/source-hold/replay-mode", test_replay_mode);
	g_test_add_func("/dataplane/source-hold/epoch", test_epoch);
	g_test_add_func("/dataplane/source-hold/stale-release", test_stale_release);
	g_test_add_func("/dataplane/source-hold/unmatched", test_unmatched);
	g_test_add_func("/dataplane/source-hold/buffer-requeue", test_buffer_requeue);
	g_test_add_func("/dataplane/source-hold/hold-off", test_hold_off);
	g_test_add_func("/dataplane/source-hold/worker-inject-release",
			test_worker_inject_release);
}

int main(int argc, char **argv)
{
	return t_main_with_worker(argc, argv, "dp-source-hold", add_tests);
}
