/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dataplane.c - the lcore's half of a port on real rings and mbufs
 *
 * Theory of operation: EAL runs without hugepages, devices or shared files
 * (--no-huge --no-pci --in-memory), so mempools and rings are real and the
 * test runs in a second as any user that may mlock nothing.  The guest and
 * the uplink are fakes behind struct vs_dp_ops: the uplink hands out the
 * frames a test queued, the guest's RX ring takes as many frames per call
 * as the test allows and records their sequence numbers.  Each test drives
 * vs_dp_poll_port() the way a worker does, and the main loop's half
 * through dp_handshake.h, and checks the order of what the guest got and
 * that every frame the uplink gave is accounted for:
 *   uplink_rx = delivered + drops + in held, inject or the pending burst.
 *
 * This file: live forwarding, a port with fewer queues enabled than it has,
 * the uplink's own drop counters, and the duplicate filter.  Split by
 * concern (dp_harness.h shares the fakes): the replay's order
 * (test_dp_replay.c), the caps and the pace (test_dp_caps.c), flow rules
 * (test_dp_flow_rules.c), announcements (test_dp_announce.c).
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

static void test_live(void)
{
	struct vs_vm *vm = t_port_new();

	t_uplink_queue(1, 40);
	t_poll(vm, 2);
	t_assert_run(0, 1, 40);
	g_assert_cmpuint(vm->stats.uplink_rx_pkts, ==, 40);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A guest that enables fewer queue pairs than the port has: frames of an
 * uplink queue whose RX vring is off go to an enabled one, the same for a
 * given uplink queue, without a drop or a switch to REPLAY.
 */
static void test_multiqueue_fewer_enabled(void)
{
	struct vs_vm *vm = t_port_new();
	uint32_t rx0 = 1u << VS_VRING_RX(0), rx1 = 1u << VS_VRING_RX(1);
	uint32_t rx2 = 1u << VS_VRING_RX(2), rx3 = 1u << VS_VRING_RX(3);
	uint16_t q;

	for (q = 0; q < 4; q++)
		g_assert_cmpuint(dp_rx_queue(rx0, 4, q), ==, 0);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 0), ==, 0);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 1), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 2), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 3), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx1 | rx3, 4, 0), ==, 1);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx1 | rx2 | rx3, 4, 3), ==, 3);
	g_assert_cmpuint(dp_rx_queue(0, 4, 2), ==, 2);	/* none: unchanged */

	/* a 1-vCPU guest on a queues=4 port: queue pair 0 only */
	vm->cfg->queues = 4;
	t.rx_q = 2;
	t_uplink_queue(1, 40);
	t_poll(vm, 2);
	t_assert_run(0, 1, 40);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(0)], ==, 40);
	g_assert_cmpuint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	/* the guest enables pair 2 as well (ethtool -L): queue 2's own vring */
	vm->vring_enabled |= rx2 | 1u << VS_VRING_TX(2);
	t_uplink_queue(41, 10);
	t_poll(vm, 1);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(2)], ==, 10);
	t_assert_run(40, 41, 10);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

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
	t_clock_advance_us(100000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);

	/* the same, direct first: the tunnelled one arrived 100 ms after it */
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_clock_advance_us(100000);
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
	t_clock_advance_us(400000);
	t_inject_aged(vm, 4, 370000);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	/* just outside the window (51 ms apart): both */
	t_uplink_queue(5, 1);
	t_poll(vm, 1);
	t_clock_advance_us(51000);
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
	t_clock_advance_us(1000);
	t_uplink_queue(6, 1);		/* 101 ms after the middle one's arrival: */
	t_poll(vm, 1);			/* 1 ms after the newest's: its copy */
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	t_clock_advance_us(100000);
	t_uplink_queue(6, 1);		/* a new transmission 100 ms later */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 12);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);

	/* no arrival time (a peer without the extension): compared regardless
	 * of time, as before the times existed */
	t_inject_aged(vm, 7, -1);
	t_poll(vm, 1);
	t_clock_advance_us(100000);
	t_uplink_queue(7, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 13);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 4);

	/* dedup-window-ms 0: regardless of time */
	vm->policy.dedup_window_ms = 0;
	t_inject_aged(vm, 8, 0);
	t_poll(vm, 1);
	t_clock_advance_us(500000);
	t_uplink_queue(8, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 14);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 5);

	t_check_accounting(vm, 10);
	t_port_free(vm);
}

/* What the uplink dropped before the shim saw it is a shim counter too */
static void test_uplink_drops(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	t_poll(vm, 1);
	t.nombuf = 17;
	t.missed = 3;
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 17);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_MISSED], ==, 3);
	t.nombuf = 20;
	t_poll(vm, 1);		/* read every 100 ms, not every poll */
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 17);
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 20);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/live", test_live);
	g_test_add_func("/dataplane/multiqueue/fewer-enabled", test_multiqueue_fewer_enabled);
	g_test_add_func("/dataplane/dedup/origins", test_dedup_origins);
	g_test_add_func("/dataplane/dedup/times", test_dedup_times);
	g_test_add_func("/dataplane/uplink-drops", test_uplink_drops);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dataplane", add_tests);
}
