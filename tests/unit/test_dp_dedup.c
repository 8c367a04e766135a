/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_dedup.c - the destination's duplicate filter on its lcore, and
 * the frames' arrival times it compares (dp_dedup.c)
 *
 * Theory of operation: the fakes of dp_harness.h (EAL without hugepages
 * or devices, real rings and mbufs, the guest and the uplink faked behind
 * struct vs_dp_ops), on its fake clock where a test needs one.  Tunnelled
 * frames are put into inject with the age the source would have sent
 * (vs_dp_arrival_set_age(), as handover_pump.c does), direct ones queued
 * on the fake uplink; each test drives vs_dp_poll_port() as a worker does
 * and counts what the guest got (t.got, its take-limit t.guest_room) and
 * what the filter dropped as `duplicate`.  The lcore polls a port
 * continuously, so a test that moves the clock polls once at the new time
 * (t_idle()) unless it means to model a stall: frames the uplink hands
 * over after a gap may have arrived anywhere in it.
 */
#include <stdint.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "dp_priv.h"
#include "vm.h"
#include "dp_harness.h"

/* Time passes and the lcore keeps polling: one poll at the new time */
static void t_idle(struct vs_vm *vm, uint64_t us)
{
	t_clock_advance_us(us);
	t_poll(vm, 1);
}

/* --- tests ----------------------------------------------------------------- */

/*
 * The duplicate filter: a tunnelled frame and the same frame received
 * directly are one frame; byte-identical repeats of one origin are not
 * copies; an entry that matched is forgotten.
 */
static void test_dedup_origins(void)
{
	struct vs_vm *vm = t_port_new();
	int i;

	vs_dp_dedup_open(vm);
	/* the same frame twice from the tunnel, then twice directly */
	t_inject(vm, 7, 1);
	t_inject(vm, 7, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	t_uplink_queue(7, 1);
	t_uplink_queue(7, 1);
	t_uplink_queue(7, 1);			/* a third: a legitimate repeat */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);
	g_assert_cmpuint(t.got->len, ==, 3);

	/* direct first, the tunnelled copy later */
	t_uplink_queue(8, 1);
	t_poll(vm, 1);
	t_inject(vm, 8, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);

	/* 20 identical frames of one origin: all delivered */
	for (i = 0; i < 20; i++) {
		t_uplink_queue(9, 1);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	g_assert_cmpuint(t.got->len, ==, 24);

	/* a new window forgets the old one; a closed one filters nothing */
	vs_dp_dedup_open(vm);
	t_inject(vm, 9, 1);
	t_poll(vm, 1);
	vs_dp_dedup_close(vm);
	t_uplink_queue(10, 1);
	t_inject(vm, 10, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	g_assert_cmpuint(t.got->len, ==, 27);
	t_check_accounting(vm, 5);
	t_port_free(vm);
}

/*
 * The duplicate filter compares arrival times: a byte-identical repeat that
 * reached the source in the blackout and this host directly 100 ms later is
 * a second transmission, not a copy; a flood copy (both hosts at once) is,
 * even when the tunnel delivers it late; a frame without an arrival time (a
 * peer without the frame-times extension) is compared regardless of time.
 */
/*
 * Review B, D5: a direct frame the filter recorded, then dropped (the
 * guest's ring full with buffering off, or no device), is forgotten: its
 * tunnelled copy is the only one the VM gets, and is delivered.
 */
static void test_dedup_dropped_forgotten(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.enabled = false;		/* a full ring drops */
	vs_dp_dedup_open(vm);
	t.guest_room = 0;
	t_uplink_queue(30, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_VM_RING_FULL], ==, 1);
	t.guest_room = T_UNLIMITED;
	t_inject(vm, 30, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);
	g_assert_cmpuint(t.got->len, ==, 1);
	g_assert_cmpuint(g_array_index(t.got, uint32_t, 0), ==, 30);

	/* no device: dropped as not-ready, forgotten the same */
	vm->vid = -1;
	t_uplink_queue(31, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_NOT_READY], ==, 1);
	vm->vid = 0;
	t_inject(vm, 31, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);
	g_assert_cmpuint(t.got->len, ==, 2);
	t_check_accounting(vm, 2);
	t_port_free(vm);
}

static void test_dedup_times(void)
{
	struct vs_vm *vm = t_port_new();

	g_assert_cmpuint(vm->policy.dedup_window_ms, ==, VS_DEFAULT_DEDUP_WINDOW_MS);
	t_clock_fake();
	vs_dp_dedup_open(vm);

	/* a repeat: tunnelled (arrived just now at the source), then the next
	 * transmission directly 100 ms later: both delivered */
	t_inject_aged(vm, 1, 0);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);

	/* the same, direct first: the tunnelled one arrived 100 ms after it */
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_inject_aged(vm, 2, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 4);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);

	/* a flood copy: both hosts at once: one delivered */
	t_inject_aged(vm, 3, 0);
	t_uplink_queue(3, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* a delayed tunnel copy: the direct one now, the tunnelled one 400 ms
	 * later but 400 ms old (it waited in the source's blackout buffer and a
	 * slow tunnel): 30 ms apart at the network, within the window */
	t_uplink_queue(4, 1);
	t_poll(vm, 1);
	t_idle(vm, 400000);
	t_inject_aged(vm, 4, 370000);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	/* just outside the window (51 ms apart): both */
	t_uplink_queue(5, 1);
	t_poll(vm, 1);
	t_idle(vm, 51000);
	t_inject_aged(vm, 5, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 8);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	/* the closest entry in time is the one a copy cancels: three repeats
	 * tunnelled 100 ms apart, then the flood copy of the middle one */
	t_inject_aged(vm, 6, 200000);
	t_inject_aged(vm, 6, 100000);
	t_inject_aged(vm, 6, 0);
	t_poll(vm, 1);
	t_idle(vm, 1000);
	t_uplink_queue(6, 1);		/* 101 ms after the middle one's arrival: */
	t_poll(vm, 1);			/* 1 ms after the newest's: its copy */
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	t_idle(vm, 100000);
	t_uplink_queue(6, 1);		/* a new transmission 100 ms later */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 12);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);

	/* no arrival time (a peer without the extension): compared regardless
	 * of time, as before the times existed */
	t_inject_aged(vm, 7, -1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(7, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 13);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 4);

	/* dedup-window-ms 0: regardless of time */
	vm->policy.dedup_window_ms = 0;
	t_inject_aged(vm, 8, 0);
	t_poll(vm, 1);
	t_idle(vm, 500000);
	t_uplink_queue(8, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 14);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 5);

	t_check_accounting(vm, 10);
	t_port_free(vm);
}

/*
 * A stalled lcore: frames that reached the uplink during a stall are
 * received in one burst after it and stamped with that poll's time, late
 * by up to the stall.  Their arrival is an interval back to the previous
 * poll, so a flood copy whose tunnelled twin reached the source early in
 * the stall is still recognised; the interval is at most
 * VS_DP_ARRIVAL_SLACK_MAX_MS long, so a stall longer than that does not
 * widen the window further.
 */
static void test_dedup_stall(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	t_poll(vm, 1);			/* the last poll before the stall */

	/* 200 ms stall; the frame reached both hosts 10 ms into it: the
	 * tunnelled copy says so (190 ms old), the direct one is stamped at
	 * the end of the stall, 190 ms late: one delivered */
	t_clock_advance_us(200000);
	t_inject_aged(vm, 1, 190000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* no stall (polled 1 ms before): a repeat 100 ms apart is not a copy */
	t_idle(vm, 100000);
	t_inject_aged(vm, 2, 100000);
	t_clock_advance_us(1000);
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* a 3 s stall: the direct frame's interval is the last second of it
	 * only; the tunnelled one reached the source 10 ms into the stall */
	t_idle(vm, 1000);
	t_clock_advance_us(3000000);
	t_inject_aged(vm, 3, 2990000);
	t_uplink_queue(3, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	/* ...and one within that second is a copy again */
	t_poll(vm, 1);
	t_clock_advance_us(3000000);
	t_inject_aged(vm, 4, 990000);
	t_uplink_queue(4, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	t_check_accounting(vm, 4);
	t_port_free(vm);
}

/*
 * An entry of unknown time matches a frame of any time, but a known time
 * within the window is a better match: a direct frame cancels the
 * tunnelled entry that reached the network with it, not an untimed one
 * that happens to be closer in the bucket; the untimed one is left for a
 * later copy.
 */
static void test_dedup_unknown_time(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	t_inject_aged(vm, 1, 2000);	/* known: 2 ms ago */
	t_inject_aged(vm, 1, -1);	/* unknown (newest in the bucket) */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);

	t_uplink_queue(1, 1);		/* the flood copy of the timed one */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	/* 100 ms later: outside the timed one's window (it is gone anyway),
	 * the untimed entry still matches it */
	t_idle(vm, 100000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);
	g_assert_cmpuint(t.got->len, ==, 2);

	/* the other way: a tunnelled frame without a time takes the newest
	 * direct entry, a timed one the closest timed entry */
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_inject_aged(vm, 2, 100000);	/* the first one's copy */
	t_poll(vm, 1);
	t_inject_aged(vm, 2, 100000);	/* no timed entry that old left */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	t_inject_aged(vm, 2, -1);	/* untimed: takes the other */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 4);
	g_assert_cmpuint(t.got->len, ==, 5);

	t_check_accounting(vm, 5);
	t_port_free(vm);
}

/*
 * Ages and TSC cycles convert without overflow: a hostile peer's age (any
 * int64) is unknown beyond VS_DP_ARRIVAL_AGE_MAX_US, exact up to it; a
 * frame held longer than that has an unknown age, not a wrapped one.
 */
static void test_arrival_age_limits(void)
{
	struct vs_vm *vm = t_port_new();
	uint64_t hz = rte_get_tsc_hz();
	struct rte_mbuf *m = t_frame(1, 64);

	t_clock_fake();
	t.now = 10 * 3600 * hz + 12345;		/* 10 h after the TSC's start */

	vs_dp_arrival_set_age(m, INT64_MAX);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, VS_DP_ARRIVAL_AGE_MAX_US + 1);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, (int64_t)UINT32_MAX * 4000);	/* no wrap either */
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, VS_DP_ARRIVAL_AGE_MAX_US);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, t.now - 3600 * hz);
	g_assert_cmpuint(*vs_dp_arrival_slack(m), ==, 0);
	vs_dp_arrival_set_age(m, 2000000);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, t.now - 2 * hz);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, 2000000);
	vs_dp_arrival_set_age(m, -1);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);

	/* ages from the TSC: 30 min exact; 3 h (whose µs product wraps a
	 * uint64 at any TSC rate over 1.7 GHz) unknown */
	vs_dp_arrival_stamp(m, t.now - 1800 * hz, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, 1800LL * 1000 * 1000);
	vs_dp_arrival_stamp(m, t.now - 3 * 3600 * hz, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);
	vs_dp_arrival_stamp(m, 1, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);
	rte_pktmbuf_free(m);

	/* end to end: a frame of a hostile age is untimed, not wrapped into
	 * some time that happens to match or miss */
	vs_dp_dedup_open(vm);
	t_inject_aged(vm, 9, INT64_MAX);
	t_poll(vm, 1);
	t_idle(vm, 500000);
	t_uplink_queue(9, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	t_check_accounting(vm, 1);
	t_port_free(vm);
}

/*
 * A new window does not wipe the table (review D3: 3 MiB cleared on the
 * lcore at every resume); a bucket an older window wrote is empty to the
 * new one, and one the new window wrote again holds only the new entries.
 */
static void test_dedup_old_window_buckets(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_dedup_open(vm);
	t_uplink_queue(40, 1);			/* window 1: 40 and 41 direct */
	t_uplink_queue(41, 1);
	t_uplink_queue(41, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 3);

	vs_dp_dedup_open(vm);			/* window 2 */
	t_inject(vm, 40, 1);			/* its bucket is window 1's: empty */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);
	t_uplink_queue(41, 1);			/* written again in window 2 */
	t_poll(vm, 1);
	t_inject(vm, 41, 1);			/* the copy of window 2's 41 */
	t_inject(vm, 41, 1);			/* window 1's two 41s are gone */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	t_check_accounting(vm, 3);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dp-dedup/origins", test_dedup_origins);
	g_test_add_func("/dp-dedup/times", test_dedup_times);
	g_test_add_func("/dp-dedup/dropped-forgotten", test_dedup_dropped_forgotten);
	g_test_add_func("/dp-dedup/stall", test_dedup_stall);
	g_test_add_func("/dp-dedup/unknown-time", test_dedup_unknown_time);
	g_test_add_func("/dp-dedup/age-limits", test_arrival_age_limits);
	g_test_add_func("/dp-dedup/old-window-buckets", test_dedup_old_window_buckets);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-dedup", add_tests);
}
