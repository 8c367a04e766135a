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
 * semantics once per port per loop, and use only the bits of the vrings
 * of the device's queue pairs (vm->dev_queues, stored before vid).  The
 * vhost thread stores them with release semantics; after clearing vid it
 * calls vs_dp_quiesce(), so by the time destroy_device() returns to DPDK
 * (which then answers GET_VRING_BASE and unmaps guest memory), no lcore
 * is still using the old vid.  A vring mask change is not waited for
 * (vs_dp_vring_state(): DPDK holds the vrings' access locks then, and a
 * lcore may be spinning on one inside rte_vhost_enqueue_burst()).
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_vhost.h>

#include "dataplane.h"
#include "dp_direct.h"
#include "dp_handshake.h"
#include "dp_postcopy.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "log.h"
#include "pkt.h"
#include "uplink.h"
#include "util.h"
#include "vm.h"

/* Empty loops before the first sleep: keeps latency low under light load */
#define DP_IDLE_SPIN_LOOPS	64
#define DP_FIRST_SLEEP_US	16

static struct rte_rcu_qsbr *dp_qsbr;

static unsigned int dp_vm_to_uplink(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q);

/* a post-copy guest is offered only the frames whose buffers are
 * resident (dp_postcopy.h); the rest wait as behind a full ring */
static uint16_t dp_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	n = vs_dp_pcg_rx_allow(vid, vring, pkts, n);
	return n ? rte_vhost_enqueue_burst(vid, vring, pkts, n) : 0;
}

static uint16_t dp_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_rx_burst(port, q, pkts, n);
}

static uint16_t dp_uplink_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	return rte_eth_tx_burst(port, q, pkts, n);
}

static int dp_uplink_drops_get(uint16_t port, uint64_t *nombuf, uint64_t *missed)
{
	struct rte_eth_stats st;
	int ret = rte_eth_stats_get(port, &st);

	if (ret)
		return ret;
	*nombuf = st.rx_nombuf;
	*missed = st.imissed;
	return 0;
}

static uint64_t dp_tsc(void)
{
	return rte_get_tsc_cycles();
}

static uint16_t dp_guest_ring_free(int vid, uint16_t vring)
{
	if (!vs_dp_pcg_ring_ok(vid, vring))
		return 0;	/* post-copy: the ring's page has not arrived */
	return rte_vhost_avail_entries(vid, vring);
}

/*
 * The valve's read (dp_priv.h, guest_ring_idle): no lock, the ring's
 * pointers as DPDK translated them, so it has the TX stall check's gap
 * (dp_tx_stall_check(): a SET_MEM_TABLE under way); split rings only (a
 * packed ring is never offered, vhost_port.c).  used_event is the entry
 * after the avail ring's last (virtio 1.1, 2.6.7.2).
 */
static bool dp_guest_ring_idle(int vid, uint16_t vring)
{
	struct rte_vhost_vring vr;
	uint64_t features = 0;
	uint16_t used_idx;

	if (!vs_dp_pcg_ring_ok(vid, vring) ||
	    rte_vhost_get_vhost_vring(vid, vring, &vr) || !vr.avail || !vr.used || !vr.size ||
	    rte_vhost_get_negotiated_features(vid, &features))
		return false;
	if (!(features & (1ULL << VIRTIO_RING_F_EVENT_IDX)))
		return !(__atomic_load_n(&vr.avail->flags, __ATOMIC_ACQUIRE) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	used_idx = __atomic_load_n(&vr.used->idx, __ATOMIC_RELAXED);
	return used_idx == __atomic_load_n(&vr.avail->ring[vr.size], __ATOMIC_ACQUIRE);
}

/*
 * The drain's bound of uplink queue @q (dp_priv.h, uplink_depth), when the
 * lcore first sees a ticket: the tap's txqueuelen the main loop read at
 * the ticket (hs.drain_qlen, published by the ticket's release add, which
 * the lcore loaded with acquire), the PMD's count of filled descriptors
 * (the lcore owns the queue; O(depth) for some PMDs, once per queue per
 * ticket), or the table of vs_uplink_rx_table().  Frames that arrive
 * between the ticket and this read only make the bound stricter.
 */
static uint32_t dp_uplink_depth(const struct vs_vm *vm, uint16_t q)
{
	int qlen = __atomic_load_n(&vm->dp.hs.drain_qlen, __ATOMIC_RELAXED);
	int count = rte_eth_rx_queue_count(vm->eth_port, q);

	return vs_uplink_rx_depth(vm->dp.uplink_driver, qlen,
				  q < VS_MAX_QUEUES ? vm->dp.uplink_rx_desc[q] : 0, count);
}

static const struct vs_dp_ops dp_dpdk_ops = {
	.guest_enqueue = dp_guest_enqueue,
	.uplink_rx = dp_uplink_rx,
	.uplink_tx = dp_uplink_tx,
	.guest_tx = dp_vm_to_uplink,
	.uplink_drops = dp_uplink_drops_get,
	.tsc = dp_tsc,
	.guest_ring_free = dp_guest_ring_free,
	.guest_ring_idle = dp_guest_ring_idle,
	.uplink_depth = dp_uplink_depth,
};

const struct vs_dp_ops *vs_dp_ops = &dp_dpdk_ops;

void vs_dp_set_ops(const struct vs_dp_ops *ops)
{
	g_assert(!ops || (ops->guest_enqueue && ops->uplink_rx && ops->uplink_tx &&
			  ops->guest_tx && ops->uplink_drops && ops->tsc &&
			  ops->guest_ring_free && ops->guest_ring_idle && ops->uplink_depth));
	vs_dp_ops = ops ? ops : &dp_dpdk_ops;
}

/*
 * The ports each worker polls, densely packed so that a poll loop touches
 * only its own ports.  Written by the main loop under dp_ports_lock; a
 * worker reads n and the entries with acquire loads and may, for one pass,
 * miss a port being added or see a port being moved twice: both harmless.
 * A removed port stays valid until vs_dp_unpublish()'s RCU grace period
 * has passed, so a worker still holding its pointer is safe.
 */
struct dp_port_list {
	unsigned int n;
	struct vs_vm *vm[VS_MAX_PORTS];
};
static struct dp_port_list dp_ports[RTE_MAX_LCORE];
static GMutex dp_ports_lock;
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
	struct dp_port_list *l = &dp_ports[vm->worker];
	unsigned int i;

	g_mutex_lock(&dp_ports_lock);
	for (i = 0; i < l->n && l->vm[i] != vm; i++)
		;
	if (i == l->n && l->n < VS_MAX_PORTS) {
		__atomic_store_n(&l->vm[l->n], vm, __ATOMIC_RELEASE);
		__atomic_store_n(&l->n, l->n + 1, __ATOMIC_RELEASE);
	}
	g_mutex_unlock(&dp_ports_lock);
}

void vs_dp_quiesce(void)
{
	if (dp_qsbr)
		rte_rcu_qsbr_synchronize(dp_qsbr, RTE_QSBR_THRID_INVALID);
}

uint64_t vs_dp_rx_ring_outstanding(int vid, uint16_t size)
{
	uint16_t free = vs_dp_ops->guest_ring_free(vid, VS_VRING_RX(0));

	/* the guest writes avail->idx: more free than the ring holds is its
	 * error, not a negative count */
	return free < size ? (uint64_t)(size - free) : 0;
}

void vs_dp_vring_state(struct vs_vm *vm, unsigned int vring, bool enable)
{
	if (vring >= 32)	/* beyond VS_MAX_QUEUES pairs: never polled */
		return;
	if (enable)
		__atomic_fetch_or(&vm->vring_enabled, 1u << vring, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&vm->vring_enabled, ~(1u << vring), __ATOMIC_RELEASE);
	/* no vs_dp_quiesce(): the caller's DPDK holds the vrings' locks
	 * (dataplane.h, "Lock rule") */
}

void vs_dp_unpublish(struct vs_vm *vm)
{
	struct dp_port_list *l = &dp_ports[vm->worker];
	unsigned int i, last;

	g_mutex_lock(&dp_ports_lock);
	for (i = 0; i < l->n && l->vm[i] != vm; i++)
		;
	if (i < l->n) {		/* the last entry takes its place */
		last = l->n - 1;
		__atomic_store_n(&l->vm[i], l->vm[last], __ATOMIC_RELEASE);
		__atomic_store_n(&l->vm[last], NULL, __ATOMIC_RELEASE);
		__atomic_store_n(&l->n, last, __ATOMIC_RELEASE);
	}
	g_mutex_unlock(&dp_ports_lock);
	vs_dp_quiesce();
}

uint16_t dp_rx_queue(uint32_t enabled, uint16_t nq, uint16_t q)
{
	uint16_t on = 0, i, k;

	if (enabled & (1u << VS_VRING_RX(q)))
		return q;
	for (i = 0; i < nq; i++)
		on += !!(enabled & (1u << VS_VRING_RX(i)));
	if (!on)
		return q;
	k = q % on;
	for (i = 0; i < nq; i++)
		if ((enabled & (1u << VS_VRING_RX(i))) && k-- == 0)
			return i;
	return q;	/* not reached */
}

/*
 * The frames' arrival time: the held ones' age goes on the tunnel, and the
 * duplicate filter compares it (dp_dedup.c).  A burst gets the TSC of the
 * poll that received it, and a slack back to the last poll that emptied
 * the uplink's queues (every queue gave less than VS_DP_BURST): its frames
 * reached the queue since then, so after a stall of the lcore, or behind a
 * backlog that took several polls to read (a deep net_tap queue), the
 * stamp is late by up to that time and the interval still holds the truth.
 */
static void dp_stamp_arrival(struct rte_mbuf **pkts, uint16_t n, uint64_t now, uint64_t slack)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		vs_dp_arrival_stamp(pkts[i], now, slack);
}

/* The slack of the frames a poll at @now receives (dp_stamp_arrival()) */
static uint64_t dp_arrival_slack(const struct vs_vm *vm, uint64_t now)
{
	uint64_t prev = vm->dp.rx_emptied_at;
	uint64_t max = rte_get_tsc_hz() / 1000 * VS_DP_ARRIVAL_SLACK_MAX_MS;

	if (!prev || now <= prev)
		return 0;
	return RTE_MIN(now - prev, max);
}

/*
 * In live mode a full guest ring drops (counted) unless the port buffers:
 * that is what a NIC does.  Replayed frames never take this path; a held
 * source's frames do, once released (dp_source_hold.c).  With the port's
 * rx-ring-bound the ring is offered only what the bound leaves room for
 * (dp_ring_offer(), dp_ring_bound.c); the rest waits in held exactly as
 * behind a full ring.
 */
void dp_deliver_live(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
		     struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0, offer, i;
	bool dedup = dp_dedup_on(vm), bounded = false;
	unsigned int held;

	if (dedup) {
		n = dp_dedup(vm, pkts, n, VS_DP_ORIGIN_DIRECT);
		if (!n)
			return;
	}
	q = dp_rx_queue(enabled, (uint16_t)vm->cfg->queues, q);
	if (vid >= 0 && (enabled & (1u << VS_VRING_RX(q)))) {
		offer = dp_ring_offer(vm, vid, enabled, q, n, &bounded);
		sent = offer ? vs_dp_ops->guest_enqueue(vid, VS_VRING_RX(q), pkts, offer) : 0;
		bounded = bounded && sent == offer;	/* else the ring was full anyway */
		VS_STAT_ADD(vm->stats.rx_pkts, sent);
		VS_STAT_ADD(vm->stats.rx_bytes, dp_sum_len(pkts, sent));
	}
	rte_pktmbuf_free_bulk(pkts, sent);	/* enqueue copied them */
	if (sent == n)
		return;
	/*
	 * The guest is slow: during a migration (dirty-page tracking), right
	 * after a replay (it takes a burst of replayed frames), or simply
	 * busy.  With buffering on, keep the rest in order and let the replay
	 * path deliver it before anything newer; it retries instead of
	 * dropping, bounded by the buffer caps (buffer-full beyond them).  The
	 * lcore owns this LIVE -> REPLAY switch and the way back; a port the
	 * main loop switched meanwhile takes them behind held too.  With
	 * buffering off a full ring drops (vm-ring-full), as a NIC's would.
	 */
	if (!dedup)	/* held frames carry their arrival time */
		dp_stamp_arrival(&pkts[sent], n - sent, vs_dp_ops->tsc(), 0);
	if (vid >= 0 && dp_hold_ring_full(vm, &pkts[sent], n - sent, dedup, bounded, &held))
		return;	/* the bound's hit counted there */
	/*
	 * Dropped: the filter must forget them, else their tunnelled copy,
	 * which the VM still needs, would be dropped as a duplicate.  Here
	 * when buffering is off (the bound is off then too), or without a
	 * device.
	 */
	if (dedup)
		dp_dedup_forget(vm, &pkts[sent], n - sent, VS_DP_ORIGIN_DIRECT);
	for (i = sent; i < n; i++)
		dp_drop(vm, pkts[i], vid >= 0 ? VS_DROP_VM_RING_FULL : VS_DROP_NOT_READY);
}

/*
 * Guest TX rings that DPDK refuses to advance, by slot and queue: the
 * avail index of the chain it stopped at, plus one (0: not stalled), and
 * how many polls in a row found it there.  Written only by the lcore that
 * owns the port.
 */
static uint32_t dp_tx_stalled_at[VS_MAX_PORTS][VS_MAX_QUEUES];
static uint8_t dp_tx_stall_polls[VS_MAX_PORTS][VS_MAX_QUEUES];

/*
 * Polls in a row that must find entries available and none consumed
 * before a ring counts as stalled.  One is not enough: the guest may
 * publish a chain between the burst that found none and the check that
 * reads its avail index, and the next burst takes that chain.
 */
#define VS_DP_STALL_POLLS	3

/*
 * dp_tx_stall_check() - count a TX ring that stopped at a chain DPDK refuses
 * @avail:	DPDK's last_avail_idx, unchanged by the burst that just got 0
 *
 * Security model: rte_vhost_dequeue_burst() (DPDK 22.11) neither consumes
 * nor reports a chain that loops, is longer than the ring, names a
 * descriptor or memory outside the tables, or has a bad indirect table: it
 * stops there on every call, so the guest's TX stays stuck until it resets
 * the ring.  Only that guest loses, but nothing in DPDK counts or logs it.
 * Entries available, nothing consumed and mbufs to spare, on
 * VS_DP_STALL_POLLS polls in a row, means exactly that case; it is counted
 * and logged once per episode (until the ring moves or the device goes
 * away).
 */
static void dp_tx_stall_check(struct vs_vm *vm, int vid, uint16_t q, uint16_t avail)
{
	uint32_t *at = &dp_tx_stalled_at[vm->slot][q];
	uint8_t *polls = &dp_tx_stall_polls[vm->slot][q];
	struct rte_vhost_vring vr;

	/*
	 * Not rte_vhost_avail_entries(): it takes the ring's access lock with
	 * a blocking rte_spinlock_lock(), so this lcore would stall behind every
	 * vhost-user message DPDK handles with the device's locks held (as
	 * rte_vhost_enqueue_burst() already does: bounded, since no callback
	 * waits for an lcore under those locks, dataplane.h "Lock rule"); and it
	 * counts from last_used_idx, not last_avail_idx.
	 *
	 * Known gap (not fixed): this read takes no lock, and DPDK 22.11 tells
	 * no callback when SET_MEM_TABLE replaces the memory of a running
	 * device: under the vring locks it unmaps the old regions
	 * (vhost_user.c:1313) before it retranslates the rings (1394), so a
	 * dequeue that lost its trylock to that message, then this read of the
	 * old avail pointer, can touch an unmapped page.  QEMU sends it on
	 * memory hotplug; no test does that.
	 */
	/* split rings only: a packed ring is never offered (vhost_port.c) */
	if (__atomic_load_n(&vm->features, __ATOMIC_RELAXED) & (1ULL << VIRTIO_F_RING_PACKED))
		return;
	if (*at == (uint32_t)avail + 1 || rte_vhost_get_vhost_vring(vid, VS_VRING_TX(q), &vr) ||
	    !vr.avail || __atomic_load_n(&vr.avail->idx, __ATOMIC_ACQUIRE) == avail ||
	    rte_mempool_avail_count(vm->pool) < VS_DP_BURST) {
		*polls = 0;
		return;
	}
	if (++*polls < VS_DP_STALL_POLLS)
		return;
	*polls = 0;
	*at = (uint32_t)avail + 1;
	VS_STAT_ADD(vm->stats.drops[VS_DROP_GUEST_MALFORMED], 1);
	vs_log(DP, WARNING, vm->cfg->name,
	       "TX queue %u stalled at avail index %u: DPDK refuses the guest's descriptor "
	       "chain there; the guest's TX is stuck until it resets the ring", q, avail);
}

/*
 * dp_vm_to_uplink() - one burst from the guest's TX ring to the uplink
 *
 * Chains that DPDK consumes without returning a frame (no bytes after the
 * virtio-net header, or a frame bigger than the mempool) are counted from
 * the move of its last_avail_idx.  Frames the uplink cannot carry are
 * dropped here and counted: net_tap, for one, stops a burst at the first
 * frame over its MTU, which would drop the valid frames behind it as if the
 * uplink were full.  A TSO frame becomes its segments (dp_tx_offload.c),
 * in the guest's order among the others; the frames go to the uplink
 * VS_DP_TX_OUT at a time at most.
 *
 * Return: chains taken from the guest
 */
static unsigned int dp_vm_to_uplink(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	struct rte_mbuf *pkts[VS_DP_BURST];
	struct vs_dp_tx_out out;
	uint16_t n, i, avail0, avail1, used, mtu = RTE_ETHER_MTU, want;
	uint32_t max_len;

	if (vid < 0 || !(enabled & (1u << VS_VRING_TX(q)))) {
		dp_tx_stalled_at[vm->slot][q] = 0;
		dp_tx_stall_polls[vm->slot][q] = 0;
		return 0;
	}
	if (rte_vhost_get_vring_base(vid, VS_VRING_TX(q), &avail0, &used))
		return 0;
	/* post-copy: only the chains whose pages are here (dp_postcopy.h);
	 * none is not a stall */
	want = vs_dp_pcg_tx_allow(vid, VS_VRING_TX(q), VS_DP_BURST);
	if (!want)
		return 0;
	n = rte_vhost_dequeue_burst(vid, VS_VRING_TX(q), vm->pool, pkts, want);
	if (rte_vhost_get_vring_base(vid, VS_VRING_TX(q), &avail1, &used))
		avail1 = avail0 + n;
	if ((uint16_t)(avail1 - avail0) > n)
		VS_STAT_ADD(vm->stats.drops[VS_DROP_GUEST_MALFORMED],
			    (uint16_t)(avail1 - avail0) - n);
	if (avail1 != avail0) {
		dp_tx_stalled_at[vm->slot][q] = 0;
		dp_tx_stall_polls[vm->slot][q] = 0;
	} else if (!n)
		dp_tx_stall_check(vm, vid, q, avail0);
	if (!n)
		return (uint16_t)(avail1 - avail0);
	VS_STAT_ADD(vm->stats.vm_tx_pkts, n);
	out.n = 0;
	out.q = q;
	rte_eth_dev_get_mtu(vm->eth_port, &mtu);
	max_len = (uint32_t)mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);

		if (len < RTE_ETHER_HDR_LEN)
			dp_drop(vm, m, VS_DROP_RUNT);
		else if (dp_tx_is_tso(m))	/* its segments join the burst */
			dp_tx_segment(vm, m, mtu, max_len, &out);
		else if (len > max_len)
			dp_drop(vm, m, VS_DROP_OVERSIZE);
		else if (!dp_tx_csum(m))
			dp_drop(vm, m, VS_DROP_GUEST_MALFORMED);
		else
			dp_tx_put(vm, &out, m);
	}
	dp_tx_flush(vm, &out);
	return (uint16_t)(avail1 - avail0) > n ? (uint16_t)(avail1 - avail0) : n;
}

/*
 * dp_uplink_drops() - count what the uplink dropped before the shim saw it
 *
 * Frames the uplink could not receive for want of an mbuf (the port's pool
 * is empty: a replay and a flood at once) or that overflowed its RX queue
 * never reach uplink_rx_pkts; they are counted here as drops
 * uplink-no-mbuf and uplink-missed, from the ethdev's own counters, read
 * every DP_UPLINK_STATS_MS by the lcore (their only writer).
 */
#define DP_UPLINK_STATS_MS	100

static void dp_uplink_drops(struct vs_vm *vm)
{
	struct vs_dp_port *dp = &vm->dp;
	uint64_t now = vs_dp_ops->tsc(), nombuf, missed, kernel;

	if (now - dp->stats_at < rte_get_tsc_hz() / 1000 * DP_UPLINK_STATS_MS)
		return;
	dp->stats_at = now;
	/* net_tap: what its kernel queue dropped (uplink.h, main loop reads) */
	kernel = __atomic_load_n(&dp->uplink_kernel_missed, __ATOMIC_RELAXED);
	if (kernel > dp->rx_kernel_missed)
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_MISSED], kernel - dp->rx_kernel_missed);
	dp->rx_kernel_missed = kernel;
	if (vs_dp_ops->uplink_drops(vm->eth_port, &nombuf, &missed))
		return;
	if (nombuf > dp->rx_nombuf)
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], nombuf - dp->rx_nombuf);
	if (missed > dp->rx_missed)
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_MISSED], missed - dp->rx_missed);
	dp->rx_nombuf = nombuf;	/* a reset of the ethdev's counters restarts */
	dp->rx_missed = missed;
}

/*
 * dp_uplink_gap() - the longest time the uplink went unread while frames
 * were arriving (gauge uplink-gap-max-us): measured only after a pass that
 * received frames, after which the worker does not sleep, so it is the
 * lcore's time off the CPU or in one long pass, never its idle sleep.  An
 * uplink whose queue holds less than that at the arrival rate dropped
 * frames (uplink-missed).
 */
static void dp_uplink_gap(struct vs_vm *vm, uint64_t now)
{
	uint64_t us;

	if (!vm->dp.rx_polled_at || now <= vm->dp.rx_polled_at)
		return;
	us = (now - vm->dp.rx_polled_at) * 1000000 / (rte_get_tsc_hz() ? rte_get_tsc_hz() : 1);
	if (us > __atomic_load_n(&vm->stats.uplink_gap_max_us, __ATOMIC_RELAXED))
		__atomic_store_n(&vm->stats.uplink_gap_max_us, us, __ATOMIC_RELAXED);
}

/*
 * While a drain ticket is open, each queue not settled for it yet may read
 * this many bursts in a poll (2048 frames), its own budget: one flooded
 * queue cannot starve the others' settling, and a poll costs at most
 * queues x 64 bursts.  Not a bound of what a queue holds (a tap's is
 * VS_UPLINK_TAP_QLEN, 4096, or more): a deeper queue settles by its depth
 * over several polls (dp_handshake.c, the drain).
 */
#define DP_DRAIN_MAX_BURSTS	64

/*
 * The vrings of the queue pairs the device has (vm->dev_queues, set by
 * new_device before it publishes vid).  A bit beyond them is stale: the
 * enabled mask outlives a connection that set it (vhost_port.c clears it
 * when the port's last frontend goes, but DPDK tells no callback of
 * RESET_OWNER), and a vring the device does not have must never be
 * enqueued to or polled.
 */
static uint32_t dp_device_vrings(const struct vs_vm *vm)
{
	unsigned int nq = __atomic_load_n(&vm->dev_queues, __ATOMIC_RELAXED);

	return nq >= 16 ? UINT32_MAX : (1u << (2 * nq)) - 1;
}

unsigned int vs_dp_poll_port(struct vs_vm *vm)
{
	int vid = __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE);
	uint32_t enabled = __atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE) &
			   dp_device_vrings(vm);
	uint32_t mode = vs_dp_mode(vm);
	unsigned int work = 0;
	unsigned int rx = 0;
	uint64_t now, slack;
	uint32_t drain;
	bool draining, emptied = true;
	uint16_t q;

	if (dp_requeue_wanted(vm, mode)) {
		dp_requeue(vm);
		/*
		 * BUFFER, or what the main loop stored after the answer: not
		 * the REPLAY loaded above, whose replay step would take the
		 * frames just moved back out of held into the pending burst,
		 * ahead of a replay the main loop starts next
		 * (handover_resume.c)
		 */
		mode = vs_dp_mode(vm);
	}
	dp_uplink_drops(vm);
	if (mode == VS_DP_LIVE && !rte_ring_empty(vm->dp.held))
		mode = dp_adopt_held(vm, vid);
	if (mode == VS_DP_REPLAY || vm->dp.pending.n || !rte_ring_empty(vm->dp.inject))
		work += dp_replay(vm, vid, enabled, mode);
	mode = dp_source_hold_poll(vm, vid, enabled, vs_dp_mode(vm));
	dp_announce(vm);
	work += dp_tcp_reset_poll(vm);

	draining = dp_drain_wanted(vm, &drain);
	if (draining)
		dp_drain_begin(vm, drain);
	now = vs_dp_ops->tsc();
	slack = dp_arrival_slack(vm, now);
	if (vm->dp.rx_last)
		dp_uplink_gap(vm, now);
	vm->dp.rx_polled_at = now;
	for (q = 0; q < vm->cfg->queues; q++) {
		struct rte_mbuf *pkts[VS_DP_BURST];
		uint8_t slot[VS_DP_BURST];	/* each frame's held source */
		/* one burst; while a drain ticket is open, until the queue
		 * settles for it or spent its own budget of the poll */
		bool unsettled = draining && !dp_drain_settled(vm, q);
		unsigned int bursts = 0;
		uint16_t n, held, left;

		do {
			n = vs_dp_ops->uplink_rx(vm->eth_port, q, pkts, VS_DP_BURST);
			if (unsettled && dp_drain_count(vm, q, n))
				unsettled = false;
			if (!n)
				break;
			/* per burst: an earlier one of this pass may have
			 * switched the port to REPLAY (a full ring, the RX
			 * ring bound), and this one then goes behind held */
			mode = vs_dp_mode(vm);
			work += n;
			rx += n;
			VS_STAT_ADD(vm->stats.uplink_rx_pkts, n);
			VS_STAT_ADD(vm->stats.uplink_rx_bytes, dp_sum_len(pkts, n));
			held = 0;
			if (mode != VS_DP_LIVE || dp_dedup_on(vm) || dp_source_hold_busy(vm)) {
				dp_stamp_arrival(pkts, n, now, slack);
				held = dp_direct_note(vm, pkts, n, now, mode, slot);
			}
			dp_tcp_track(vm, pkts, n, VS_TCP_CT_FROM_PEER);
			left = n;
			if (held) {	/* after the TCP table saw them all */
				left = dp_source_hold_divert(vm, vid, enabled, mode, q, pkts, n,
							     slot);
				/* an overflow's release may have filled the
				 * ring (REPLAY): the rest go behind it */
				mode = vs_dp_mode(vm);
			}
			if (!left)
				continue;	/* all held for their source's barrier */
			if (mode == VS_DP_BUFFER)
				dp_buffer(vm, pkts, left);
			else if (mode == VS_DP_REPLAY)
				dp_hold_live(vm, pkts, left);
			else
				dp_deliver_live(vm, vid, enabled, q, pkts, left);
		} while (unsettled && ++bursts < DP_DRAIN_MAX_BURSTS);
		if (n == VS_DP_BURST)
			emptied = false;	/* more may wait behind this burst */
		work += vs_dp_ops->guest_tx(vm, vid, enabled, q);
	}
	dp_rate_account(vm, rx, now);
	vm->dp.rx_last = rx;
	if (emptied)
		vm->dp.rx_emptied_at = now;
	if (draining && dp_drain_all_settled(vm))
		dp_drain_done(vm, drain);
	return work;
}

static void dp_sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* The longest single pass over a port (poll-max-us): what every other
 * port of the lcore waited behind it, e.g. a post-copy page fault */
static void dp_poll_time(struct vs_vm *vm, uint64_t cycles, uint64_t hz)
{
	uint64_t us = cycles * 1000000 / hz;

	if (us > __atomic_load_n(&vm->stats.poll_max_us, __ATOMIC_RELAXED))
		__atomic_store_n(&vm->stats.poll_max_us, us, __ATOMIC_RELAXED);
}

static int dp_worker_main(void *arg)
{
	unsigned int worker = (unsigned int)(uintptr_t)arg;
	unsigned int tid = rte_lcore_id();
	unsigned int idle_loops = 0, sleep_us = DP_FIRST_SLEEP_US;
	struct dp_port_list *ports = &dp_ports[worker];
	uint64_t hz = rte_get_tsc_hz() ? rte_get_tsc_hz() : 1;

	rte_rcu_qsbr_thread_register(dp_qsbr, tid);
	rte_rcu_qsbr_thread_online(dp_qsbr, tid);
	vs_log(DP, INFO, NULL, "worker %u running on lcore %u (%s)", worker, tid,
	       dp_busy_poll ? "busy-poll" : "adaptive sleep");

	while (!__atomic_load_n(&dp_stop_requested, __ATOMIC_RELAXED)) {
		unsigned int i, n, work = 0;

		n = __atomic_load_n(&ports->n, __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++) {
			struct vs_vm *vm = __atomic_load_n(&ports->vm[i], __ATOMIC_ACQUIRE);

			if (vm) {
				uint64_t t0 = rte_get_tsc_cycles();

				work += vs_dp_poll_port(vm);
				dp_poll_time(vm, rte_get_tsc_cycles() - t0, hz);
			}
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
