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
	vm->dev_queues = 4;
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
 * Review B, V1: the enabled mask outlives a connection (DPDK tells no
 * vring_state_changed(0) when it ends).  A guest that used two queue
 * pairs, then a new QEMU on the socket whose device has one: the bits of
 * pair 1 are stale.  The frames of uplink queue 1 go to the device's
 * vring 0, not to vring 2 which it does not have, with no drop and no
 * switch to REPLAY.
 */
static void test_multiqueue_stale_vrings(void)
{
	struct vs_vm *vm = t_port_new();

	vm->cfg->queues = 2;
	vm->dev_queues = 1;
	vm->vring_enabled = 0xf;	/* pairs 0 and 1, the last connection's */
	t.rx_q = 1;
	t_uplink_queue(1, 20);
	t_poll(vm, 2);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(1)], ==, 0);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(0)], ==, 20);
	t_assert_run(0, 1, 20);
	g_assert_cmpuint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
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

/*
 * A net_tap's kernel drops (published by the main loop's watch, uplink.h)
 * join uplink-missed by their growth, on the same 100 ms read, and a
 * failing ethdev stats read does not lose or repeat them
 */
static void test_uplink_kernel_drops(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	t_poll(vm, 1);
	t.missed = 2;
	__atomic_store_n(&vm->dp.uplink_kernel_missed, 40, __ATOMIC_RELAXED);
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_MISSED], ==, 42);
	__atomic_store_n(&vm->dp.uplink_kernel_missed, 45, __ATOMIC_RELAXED);
	t.stats_fail = true;
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_MISSED], ==, 47);
	t.stats_fail = false;
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_MISSED], ==, 47);
	t_port_free(vm);
}

/* uplink-gap-max-us: the time between a pass that received frames and
 * the next pass; not the time after an empty pass (the worker's idle
 * sleep) */
static void test_uplink_gap(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	t_poll(vm, 1);			/* nothing received */
	t_clock_advance_us(50 * 1000);	/* an idle sleep */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.uplink_gap_max_us, ==, 0);
	t_uplink_queue(1, 5);
	t_poll(vm, 1);			/* receives */
	t_clock_advance_us(30 * 1000);	/* off the CPU */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.uplink_gap_max_us, >=, 29 * 1000);
	g_assert_cmpuint(vm->stats.uplink_gap_max_us, <=, 31 * 1000);
	t_port_free(vm);
}

/* rx-ring-outstanding-at-stop/-at-start (issue 16): RX vring 0's size
 * minus the free entries guest_ring_free reports; never read by the lcore */
static void test_rx_ring_outstanding(void)
{
	struct vs_vm *vm = t_port_new();

	t_uplink_queue(1, 40);
	t_poll(vm, 2);
	t_assert_run(0, 1, 40);
	g_assert_cmpuint(t.ring_free_calls[VS_VRING_RX(0)], ==, 0);	/* not on the hot path */

	t.ring_free[VS_VRING_RX(0)] = 200;
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, 256), ==, 56);
	g_assert_cmpuint(t.ring_free_calls[VS_VRING_RX(0)], ==, 1);
	t.ring_free[VS_VRING_RX(0)] = 256;	/* the guest posted every entry */
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, 256), ==, 0);
	t.ring_free[VS_VRING_RX(0)] = 0;	/* full, or disabled: reads as full */
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, 256), ==, 256);
	t.ring_free[VS_VRING_RX(0)] = 300;	/* the guest's avail index is off */
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, 256), ==, 0);
	t.ring_free[VS_VRING_RX(1)] = 7;	/* queue 1's vring is not the one read */
	t.ring_free[VS_VRING_RX(0)] = 1000;
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, 1024), ==, 24);
	g_assert_cmpuint(t.ring_free_calls[VS_VRING_RX(1)], ==, 0);
	t_port_free(vm);
}

/* Offer frames first..first+n-1 to RX vring 0 through the op, as the
 * lcore does; Return: how many the ring took */
static uint16_t t_offer(uint32_t first, uint16_t n)
{
	struct rte_mbuf *pkts[T_RING_SIZE + 64];
	uint16_t i, took;

	g_assert_cmpuint(n, <=, G_N_ELEMENTS(pkts));
	for (i = 0; i < n; i++)
		pkts[i] = t_frame(first + i, 64);
	took = vs_dp_ops->guest_enqueue(0, VS_VRING_RX(0), pkts, n);
	rte_pktmbuf_free_bulk(pkts, n);	/* the enqueue copies */
	return took;
}

/* The harness's guest RX ring (dp_harness.h; plan-rx-ring-bound.md
 * section 8): what guest_ring_free and guest_ring_idle report as a guest
 * stops, runs, refills and re-arms */
static void test_fake_ring(void)
{
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);

	g_assert_cmpuint(vm->rx_ring_size[0], ==, T_RING_SIZE);
	t.ring_on = true;
	g_assert_true(vs_dp_ops->guest_ring_idle(0, rx));	/* armed, nothing published */
	/* a stopped guest: the ring fills up, then takes nothing */
	t.stopped = true;
	g_assert_cmpuint(t_offer(1, 200), ==, 200);
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, T_RING_SIZE), ==, 200);
	g_assert_false(vs_dp_ops->guest_ring_idle(0, rx));
	g_assert_cmpuint(t_offer(201, 100), ==, 56);
	g_assert_cmpuint(vs_dp_ops->guest_ring_free(0, rx), ==, 0);
	g_assert_cmpuint(t_guest_run(rx, 64), ==, 0);
	t_assert_run(0, 1, 256);
	/* it runs: reads 20 (not posted yet: 20 <= 32), then 40 (posted) */
	t.stopped = false;
	g_assert_cmpuint(t_guest_run(rx, 20), ==, 20);
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, T_RING_SIZE), ==, 256);
	g_assert_false(vs_dp_ops->guest_ring_idle(0, rx));	/* still polling */
	g_assert_cmpuint(t_guest_run(rx, 40), ==, 40);
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, T_RING_SIZE), ==, 196);
	/* reads the rest: 4 read and not posted stay outstanding; re-armed */
	g_assert_cmpuint(t_guest_run(rx, 1000), ==, 196);
	g_assert_cmpuint(t.unposted[rx], ==, 0);
	g_assert_cmpuint(t_guest_run(rx, 1000), ==, 0);
	g_assert_true(vs_dp_ops->guest_ring_idle(0, rx));
	g_assert_cmpuint(t_offer(257, 10), ==, 10);
	g_assert_false(vs_dp_ops->guest_ring_idle(0, rx));	/* published past used_event */
	g_assert_cmpuint(t_guest_run(rx, 1000), ==, 10);
	g_assert_cmpuint(vs_dp_rx_ring_outstanding(0, T_RING_SIZE), ==, 10);	/* 10 <= 32 */
	g_assert_true(vs_dp_ops->guest_ring_idle(0, rx));
	/* without EVENT_IDX the valve reads the interrupt flag */
	t.event_idx = false;
	g_assert_cmpuint(t_offer(267, 40), ==, 40);
	g_assert_true(vs_dp_ops->guest_ring_idle(0, rx));	/* not polling: flag clear */
	g_assert_cmpuint(t_guest_run(rx, 30), ==, 30);
	g_assert_false(vs_dp_ops->guest_ring_idle(0, rx));	/* polling: flag set */
	g_assert_cmpuint(t_guest_run(rx, 30), ==, 10);
	g_assert_true(vs_dp_ops->guest_ring_idle(0, rx));
	/* a disabled vring: DPDK reports no free entry, takes nothing */
	t.vring_disabled[rx] = true;
	g_assert_cmpuint(vs_dp_ops->guest_ring_free(0, rx), ==, 0);
	g_assert_cmpuint(t_offer(307, 1), ==, 0);
	t_assert_run(0, 1, 306);
	g_assert_cmpuint(t.ring_free_calls[rx], ==, 6);
	g_assert_cmpuint(t.ring_idle_calls[rx], ==, 9);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/live", test_live);
	g_test_add_func("/dataplane/multiqueue/fewer-enabled", test_multiqueue_fewer_enabled);
	g_test_add_func("/dataplane/multiqueue/stale-vrings", test_multiqueue_stale_vrings);
	g_test_add_func("/dataplane/uplink-drops", test_uplink_drops);
	g_test_add_func("/dataplane/uplink-drops/kernel", test_uplink_kernel_drops);
	g_test_add_func("/dataplane/uplink-gap", test_uplink_gap);
	g_test_add_func("/dataplane/rx-ring-outstanding", test_rx_ring_outstanding);
	g_test_add_func("/dataplane/fake-ring", test_fake_ring);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dataplane", add_tests);
}
