/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane.c - lcore poll loops
 *
 * Theory of operation: see dataplane.h.  The ownership rules for mbufs
 * are the usual DPDK ones: after rte_eth_tx_burst() the unsent tail is
 * ours to free; rte_vhost_enqueue_burst() copies, so every mbuf we passed
 * is still ours afterwards.
 *
 * Memory ordering: lcores load vm->vid and vm->vring_enabled with acquire
 * semantics once per port per loop.  The vhost thread stores them with
 * release semantics and then calls vs_dp_quiesce(), so by the time
 * destroy_device() returns to DPDK (which then answers GET_VRING_BASE and
 * unmaps guest memory), no lcore is still using the old vid.
 */
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_vhost.h>

#include "dataplane.h"
#include "log.h"
#include "util.h"
#include "vm.h"

/* Empty loops before the first sleep: keeps latency low under light load */
#define DP_IDLE_SPIN_LOOPS	64
#define DP_FIRST_SLEEP_US	16

static struct rte_rcu_qsbr *dp_qsbr;
static struct vs_vm *dp_slots[VS_MAX_PORTS];
static unsigned int dp_worker_lcores[RTE_MAX_LCORE];
static unsigned int dp_nb_workers;
static bool dp_busy_poll;
static unsigned int dp_idle_sleep_us;
static volatile bool dp_stop_requested;

gboolean vs_dp_init(bool busy_poll, unsigned int idle_sleep_us, GError **error)
{
	size_t sz = rte_rcu_qsbr_get_memsize(RTE_MAX_LCORE);

	dp_busy_poll = busy_poll;
	dp_idle_sleep_us = idle_sleep_us;
	dp_qsbr = rte_zmalloc("vs_dp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (!dp_qsbr || rte_rcu_qsbr_init(dp_qsbr, RTE_MAX_LCORE)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot allocate the dataplane RCU variable");
		return FALSE;
	}
	return TRUE;
}

unsigned int vs_dp_num_workers(void)
{
	return dp_nb_workers ? dp_nb_workers : 1;
}

void vs_dp_publish(struct vs_vm *vm)
{
	__atomic_store_n(&dp_slots[vm->slot], vm, __ATOMIC_RELEASE);
}

void vs_dp_quiesce(void)
{
	if (dp_qsbr)
		rte_rcu_qsbr_synchronize(dp_qsbr, RTE_QSBR_THRID_INVALID);
}

void vs_dp_unpublish(struct vs_vm *vm)
{
	__atomic_store_n(&dp_slots[vm->slot], NULL, __ATOMIC_RELEASE);
	vs_dp_quiesce();
}

static inline uint64_t dp_sum_len(struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	return bytes;
}

/*
 * dp_uplink_to_vm() - one burst from the uplink into the guest's RX ring
 *
 * Return: frames received from the uplink
 */
static unsigned int dp_uplink_to_vm(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	struct rte_mbuf *pkts[VS_DP_BURST];
	uint16_t n, sent = 0;

	n = rte_eth_rx_burst(vm->eth_port, q, pkts, VS_DP_BURST);
	if (!n)
		return 0;
	VS_STAT_ADD(vm->stats.uplink_rx_pkts, n);
	VS_STAT_ADD(vm->stats.uplink_rx_bytes, dp_sum_len(pkts, n));

	if (vid >= 0 && (enabled & (1u << VS_VRING_RX(q)))) {
		sent = rte_vhost_enqueue_burst(vid, VS_VRING_RX(q), pkts, n);
		VS_STAT_ADD(vm->stats.rx_pkts, sent);
		VS_STAT_ADD(vm->stats.rx_bytes, dp_sum_len(pkts, sent));
		if (sent < n)
			VS_STAT_ADD(vm->stats.drops[VS_DROP_VM_RING_FULL], n - sent);
	} else {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_NOT_READY], n);
	}
	rte_pktmbuf_free_bulk(pkts, n);	/* enqueue copied them */
	return n;
}

/*
 * dp_vm_to_uplink() - one burst from the guest's TX ring to the uplink
 *
 * Return: frames taken from the guest
 */
static unsigned int dp_vm_to_uplink(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	struct rte_mbuf *pkts[VS_DP_BURST];
	uint16_t n, sent;

	if (vid < 0 || !(enabled & (1u << VS_VRING_TX(q))))
		return 0;
	n = rte_vhost_dequeue_burst(vid, VS_VRING_TX(q), vm->pool, pkts, VS_DP_BURST);
	if (!n)
		return 0;
	VS_STAT_ADD(vm->stats.vm_tx_pkts, n);
	sent = rte_eth_tx_burst(vm->eth_port, q, pkts, n);
	VS_STAT_ADD(vm->stats.tx_pkts, sent);
	VS_STAT_ADD(vm->stats.tx_bytes, dp_sum_len(pkts, sent));
	if (sent < n) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_FULL], n - sent);
		rte_pktmbuf_free_bulk(&pkts[sent], n - sent);
	}
	return n;
}

static unsigned int dp_poll_port(struct vs_vm *vm)
{
	int vid = __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE);
	uint32_t enabled = __atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE);
	unsigned int work = 0;
	uint16_t q;

	for (q = 0; q < vm->cfg->queues; q++) {
		work += dp_uplink_to_vm(vm, vid, enabled, q);
		work += dp_vm_to_uplink(vm, vid, enabled, q);
	}
	return work;
}

static void dp_sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

static int dp_worker_main(void *arg)
{
	unsigned int worker = (unsigned int)(uintptr_t)arg;
	unsigned int tid = rte_lcore_id();
	unsigned int idle_loops = 0, sleep_us = DP_FIRST_SLEEP_US;

	rte_rcu_qsbr_thread_register(dp_qsbr, tid);
	rte_rcu_qsbr_thread_online(dp_qsbr, tid);
	vs_log(DP, INFO, NULL, "worker %u running on lcore %u (%s)", worker, tid,
	       dp_busy_poll ? "busy-poll" : "adaptive sleep");

	while (!__atomic_load_n(&dp_stop_requested, __ATOMIC_RELAXED)) {
		unsigned int i, work = 0;

		for (i = 0; i < VS_MAX_PORTS; i++) {
			struct vs_vm *vm = __atomic_load_n(&dp_slots[i], __ATOMIC_ACQUIRE);

			if (vm && vm->worker == worker)
				work += dp_poll_port(vm);
		}
		rte_rcu_qsbr_quiescent(dp_qsbr, tid);

		if (work || dp_busy_poll) {
			idle_loops = 0;
			sleep_us = DP_FIRST_SLEEP_US;
			continue;
		}
		if (++idle_loops < DP_IDLE_SPIN_LOOPS)
			continue;
		/* Offline while asleep: writers need not wait for us */
		rte_rcu_qsbr_thread_offline(dp_qsbr, tid);
		dp_sleep_us(sleep_us);
		rte_rcu_qsbr_thread_online(dp_qsbr, tid);
		if (sleep_us < dp_idle_sleep_us)
			sleep_us = RTE_MIN(sleep_us * 2, dp_idle_sleep_us);
	}

	rte_rcu_qsbr_thread_offline(dp_qsbr, tid);
	rte_rcu_qsbr_thread_unregister(dp_qsbr, tid);
	return 0;
}

gboolean vs_dp_start(GError **error)
{
	unsigned int lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		dp_worker_lcores[dp_nb_workers] = lcore;
		if (rte_eal_remote_launch(dp_worker_main, (void *)(uintptr_t)dp_nb_workers,
					  lcore)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "cannot launch worker on lcore %u", lcore);
			vs_dp_stop();
			return FALSE;
		}
		dp_nb_workers++;
	}
	if (!dp_nb_workers) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVAL,
			    "no worker lcore: give at least two lcores, e.g. lcores=0,1");
		return FALSE;
	}
	return TRUE;
}

void vs_dp_stop(void)
{
	unsigned int i;

	__atomic_store_n(&dp_stop_requested, true, __ATOMIC_RELAXED);
	for (i = 0; i < dp_nb_workers; i++)
		rte_eal_wait_lcore(dp_worker_lcores[i]);
	dp_nb_workers = 0;
}
