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
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "log.h"
#include "pkt.h"
#include "util.h"
#include "vm.h"

/* Empty loops before the first sleep: keeps latency low under light load */
#define DP_IDLE_SPIN_LOOPS	64
#define DP_FIRST_SLEEP_US	16

static struct rte_rcu_qsbr *dp_qsbr;

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

static inline uint64_t dp_sum_len(struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	return bytes;
}

/*
 * dp_drop() - free frames and count them under @reason
 */
static inline void dp_drop(struct vs_vm *vm, struct rte_mbuf *m, enum vs_drop_reason reason)
{
	VS_STAT_ADD(vm->stats.drops[reason], 1);
	rte_pktmbuf_free(m);
}

/*
 * dp_dedup() - drop copies of frames already delivered in this window
 * @pkts:	burst, compacted in place
 * @n:		frames in @pkts
 *
 * Return: frames left
 */
static inline uint64_t dp_frame_hash(const struct rte_mbuf *m)
{
	/*
	 * A full 64-bit hash, not two CRC32Cs with different seeds: those
	 * differ by a constant for a given length, so two same-length frames
	 * collided with probability 2^-32, not 2^-64, and a frame seen only
	 * once was dropped as a "duplicate" (see vs_pkt_hash64()).
	 */
	return vs_pkt_hash64(rte_pktmbuf_mtod(m, const void *), rte_pktmbuf_data_len(m)) |
	       1;	/* 0: empty slot */
}

/* The bucket comes from the high half: bit 0 of the hash is always set,
 * so h % buckets would only ever pick the odd buckets */
static inline uint64_t *dp_dedup_bucket(struct vs_dp_dedup *d, uint64_t h)
{
	return &d->slot[((h >> 32) % (VS_DEDUP_SLOTS / 4)) * 4];
}

/*
 * dp_dedup_forget() - frames that passed dp_dedup() but were not delivered
 * after all (they go back to the buffer): they must pass again later
 */
static void dp_dedup_forget(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;
	unsigned int w;

	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);
		uint64_t *b = dp_dedup_bucket(vm->dedup, h);

		for (w = 0; w < 4; w++)
			if (b[w] == h)
				b[w] = 0;
	}
}

static uint16_t dp_dedup(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	struct vs_dp_dedup *d = vm->dedup;
	uint32_t epoch = __atomic_load_n(&vm->dedup_epoch, __ATOMIC_ACQUIRE);
	uint16_t i, kept = 0;

	if (d->epoch != epoch) {
		memset(d->slot, 0, sizeof(d->slot));
		d->epoch = epoch;
	}
	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);
		/* 4-way buckets, oldest way replaced: a copy is recognised as long
		 * as fewer than 4 newer frames landed in its bucket meanwhile */
		uint64_t *b = dp_dedup_bucket(d, h);
		unsigned int w;

		for (w = 0; w < 4 && b[w] != h; w++)
			;
		if (w < 4) {
			dp_drop(vm, pkts[i], VS_DROP_DUPLICATE);
			continue;
		}
		b[3] = b[2];
		b[2] = b[1];
		b[1] = b[0];
		b[0] = h;
		pkts[kept++] = pkts[i];
	}
	return kept;
}

static inline bool dp_dedup_on(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dedup_active, __ATOMIC_ACQUIRE) && vm->dedup;
}

/*
 * dp_deliver() - live frames from the uplink into the guest's RX ring
 *
 * In live mode a full guest ring drops (counted): that is what a NIC does.
 * Replayed frames never take this path.
 */
static void dp_deliver(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
		       struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = 0, i;
	uint32_t live = VS_DP_LIVE;
	bool dedup = dp_dedup_on(vm);

	if (dedup) {
		n = dp_dedup(vm, pkts, n);
		if (!n)
			return;
	}
	if (vid >= 0 && (enabled & (1u << VS_VRING_RX(q)))) {
		sent = rte_vhost_enqueue_burst(vid, VS_VRING_RX(q), pkts, n);
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
	 * lcore owns this LIVE -> REPLAY switch and the way back.  With
	 * buffering off a full ring drops (vm-ring-full), as a NIC's would.
	 */
	if (vid >= 0 && vm->policy.enabled &&
	    __atomic_compare_exchange_n(&vm->dp_mode, &live, VS_DP_REPLAY, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&vm->inject_done, true, __ATOMIC_RELEASE);
		if (dedup)	/* checked again when the replay delivers them */
			dp_dedup_forget(vm, &pkts[sent], n - sent);
		for (i = sent; i < n; i++)
			if (rte_ring_sp_enqueue(vm->held, pkts[i]))
				dp_drop(vm, pkts[i], VS_DROP_BUFFER_FULL);
		return;
	}
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
	 * Not rte_vhost_avail_entries(): it takes the ring's access lock, which
	 * DPDK's vhost thread holds while it calls destroy_device(), and that
	 * waits (vs_dp_quiesce()) for this lcore: a deadlock on GET_VRING_BASE.
	 */
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
 * uplink were full.
 *
 * Return: chains taken from the guest
 */
static unsigned int dp_vm_to_uplink(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	struct rte_mbuf *pkts[VS_DP_BURST];
	uint16_t n, sent, kept = 0, i, avail0, avail1, used, mtu = RTE_ETHER_MTU;
	uint32_t max_len;

	if (vid < 0 || !(enabled & (1u << VS_VRING_TX(q)))) {
		dp_tx_stalled_at[vm->slot][q] = 0;
		dp_tx_stall_polls[vm->slot][q] = 0;
		return 0;
	}
	if (rte_vhost_get_vring_base(vid, VS_VRING_TX(q), &avail0, &used))
		return 0;
	n = rte_vhost_dequeue_burst(vid, VS_VRING_TX(q), vm->pool, pkts, VS_DP_BURST);
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
	rte_eth_dev_get_mtu(vm->eth_port, &mtu);
	max_len = (uint32_t)mtu + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN;
	for (i = 0; i < n; i++) {
		uint32_t len = rte_pktmbuf_pkt_len(pkts[i]);

		if (len < RTE_ETHER_HDR_LEN)
			dp_drop(vm, pkts[i], VS_DROP_RUNT);
		else if (len > max_len)
			dp_drop(vm, pkts[i], VS_DROP_OVERSIZE);
		else
			pkts[kept++] = pkts[i];
	}
	sent = rte_eth_tx_burst(vm->eth_port, q, pkts, kept);
	VS_STAT_ADD(vm->stats.tx_pkts, sent);
	VS_STAT_ADD(vm->stats.tx_bytes, dp_sum_len(pkts, sent));
	if (sent < kept) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_FULL], kept - sent);
		rte_pktmbuf_free_bulk(&pkts[sent], kept - sent);
	}
	return (uint16_t)(avail1 - avail0) > n ? (uint16_t)(avail1 - avail0) : n;
}

static enum vs_pkt_class dp_classify(const struct vs_vm *vm, const struct rte_mbuf *m)
{
	return vs_pkt_classify(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			       vm->cfg->mac);
}

/*
 * dp_drop_oldest() - make room by dropping the oldest frame still in the
 * lcore's ring (drop-oldest overflow policy)
 *
 * Return: true if a frame was dropped
 */
static bool dp_drop_oldest(struct vs_vm *vm)
{
	struct vs_dp_buffer_acct *a = &vm->acct;
	struct rte_mbuf *old;
	enum vs_pkt_class c;

	if (rte_ring_mc_dequeue(vm->held, (void **)&old))
		return false;
	c = dp_classify(vm, old);
	if (c < VS_PKT_NUM_CLASSES && a->pkts[c]) {
		a->pkts[c]--;
		a->bytes[c] -= RTE_MIN(a->bytes[c], (uint64_t)rte_pktmbuf_pkt_len(old));
	}
	dp_drop(vm, old, VS_DROP_BUFFER_FULL);
	return true;
}

/*
 * dp_buffer() - append frames to the VM's buffer, in arrival order
 * @caps:	apply the per-class caps and policies (blackout, pause); off
 *		for straggler forwarding, where only the ring bounds it
 *
 * Invariant: a frame is either in vm->held or counted in exactly one drop
 * reason; nothing leaves this function silently.
 */
static void dp_buffer(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, bool caps)
{
	const struct vs_buf_policy *p = &vm->policy;
	struct vs_dp_buffer_acct *a = &vm->acct;
	uint32_t ep = __atomic_load_n(&vm->buf_episode, __ATOMIC_ACQUIRE);
	uint64_t total_pkts = 0, total_bytes = 0;
	uint16_t i;
	int c;

	if (ep != a->episode) {
		memset(a, 0, sizeof(*a));
		a->episode = ep;
	}
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		enum vs_pkt_class cls = dp_classify(vm, m);

		if (cls == VS_PKT_RUNT) {
			dp_drop(vm, m, VS_DROP_RUNT);
			continue;
		}
		if (cls == VS_PKT_OWN_MAC) {	/* never replay a VM its own frames */
			dp_drop(vm, m, VS_DROP_OWN_MAC);
			continue;
		}
		if (caps) {
			if (p->class_policy[cls] == VS_CLASS_DROP) {
				dp_drop(vm, m, VS_DROP_POLICY);
				continue;
			}
			while (a->pkts[cls] + 1 > p->max_pkts[cls] ||
			       a->bytes[cls] + len > p->max_bytes[cls]) {
				if (p->overflow != VS_OVERFLOW_DROP_OLDEST || !dp_drop_oldest(vm))
					break;
			}
			if (a->pkts[cls] + 1 > p->max_pkts[cls] ||
			    a->bytes[cls] + len > p->max_bytes[cls]) {
				dp_drop(vm, m, VS_DROP_BUFFER_FULL);
				continue;
			}
		}
		if (rte_ring_sp_enqueue(vm->held, m)) {
			dp_drop(vm, m, VS_DROP_BUFFER_FULL);
			continue;
		}
		a->pkts[cls]++;
		a->bytes[cls] += len;
		VS_STAT_ADD(vm->stats.buffered_pkts[cls], 1);
		VS_STAT_ADD(vm->stats.buffered_bytes[cls], len);
	}
	for (c = 0; c < VS_PKT_NUM_CLASSES; c++) {
		total_pkts += a->pkts[c];
		total_bytes += a->bytes[c];
	}
	if (total_pkts > VS_STAT_GET(vm->stats.buffer_peak_pkts))
		VS_STAT_SET(vm->stats.buffer_peak_pkts, total_pkts);
	if (total_bytes > VS_STAT_GET(vm->stats.buffer_peak_bytes))
		VS_STAT_SET(vm->stats.buffer_peak_bytes, total_bytes);
}

/*
 * dp_hold_live() - queue live frames behind a replay in progress
 */
static void dp_hold_live(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	unsigned int held;
	uint16_t i;

	if (!__atomic_load_n(&vm->live_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&vm->live_seen, true, __ATOMIC_RELEASE);
	held = rte_ring_sp_enqueue_burst(vm->held, (void **)pkts, n, NULL);
	VS_STAT_ADD(vm->stats.live_held_pkts, held);
	for (i = (uint16_t)held; i < n; i++)
		dp_drop(vm, pkts[i], VS_DROP_BUFFER_FULL);
}

/*
 * dp_flush_pending() - push the pending replay burst into the guest
 *
 * Return: true when nothing is pending any more
 */
static bool dp_flush_pending(struct vs_vm *vm, int vid)
{
	struct vs_dp_pending *pd = &vm->pending;
	uint16_t sent;

	if (!pd->n)
		return true;
	sent = rte_vhost_enqueue_burst(vid, VS_VRING_RX(0), &pd->pkts[pd->head], pd->n);
	if (sent) {
		VS_STAT_ADD(vm->stats.rx_pkts, sent);
		VS_STAT_ADD(vm->stats.rx_bytes, dp_sum_len(&pd->pkts[pd->head], sent));
		VS_STAT_ADD(vm->stats.replayed_pkts, sent);
		rte_pktmbuf_free_bulk(&pd->pkts[pd->head], sent);
		pd->head += sent;
		pd->n -= sent;
	}
	if (!pd->n)
		pd->head = 0;
	return pd->n == 0;	/* ring full: retry next loop, never drop */
}

/*
 * dp_replay() - deliver held frames ahead of live ones
 *
 * Order: the pending burst, then vm->inject (tunnelled or retained
 * frames, older than anything in held), then - once the main loop says
 * nothing more will be injected ahead - vm->held.  When all three are
 * empty the lcore itself switches the port to LIVE, so no frame can slip
 * between the last held one and the first live one.
 *
 * Return: frames moved
 */
static unsigned int dp_replay(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode)
{
	struct vs_dp_pending *pd = &vm->pending;
	unsigned int work = 0, rounds;
	uint16_t n;

	if (vid < 0 || !(enabled & (1u << VS_VRING_RX(0))))
		return 0;	/* keep everything until the device is back */
	for (rounds = 0; rounds < 4; rounds++) {
		if (!dp_flush_pending(vm, vid))
			break;
		n = (uint16_t)rte_ring_sc_dequeue_burst(vm->inject, (void **)pd->pkts,
							 RTE_DIM(pd->pkts), NULL);
		if (!n && mode == VS_DP_REPLAY &&
		    __atomic_load_n(&vm->inject_done, __ATOMIC_ACQUIRE))
			n = (uint16_t)rte_ring_mc_dequeue_burst(vm->held, (void **)pd->pkts,
								 RTE_DIM(pd->pkts), NULL);
		if (!n) {
			if (mode == VS_DP_REPLAY &&
			    __atomic_load_n(&vm->inject_done, __ATOMIC_ACQUIRE) &&
			    rte_ring_empty(vm->inject)) {
				__atomic_store_n(&vm->dp_mode, VS_DP_LIVE, __ATOMIC_RELEASE);
				__atomic_store_n(&vm->replay_finished, true, __ATOMIC_RELEASE);
			}
			break;
		}
		pd->head = 0;
		pd->n = dp_dedup_on(vm) ? dp_dedup(vm, pd->pkts, n) : n;
		work += n;
	}
	return work;
}

/*
 * dp_announce() - send a RARP for the VM's MAC on the uplink, as asked
 */
static void dp_announce(struct vs_vm *vm)
{
	uint32_t req = __atomic_load_n(&vm->announce_req, __ATOMIC_ACQUIRE);
	struct rte_mbuf *m;

	if (req == vm->announce_done)
		return;
	vm->announce_done = req;
	m = rte_pktmbuf_alloc(vm->pool);
	if (!m) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_NO_MEMORY], 1);
		return;
	}
	m->data_len = m->pkt_len = (uint32_t)vs_pkt_build_rarp(
		rte_pktmbuf_mtod(m, uint8_t *), vm->cfg->mac);
	if (rte_eth_tx_burst(vm->eth_port, 0, &m, 1) != 1)
		dp_drop(vm, m, VS_DROP_UPLINK_FULL);
}

/*
 * dp_adopt_held() - frames left in vm->held while the port is LIVE
 *
 * The main loop switches a port to LIVE after it has drained vm->held, but
 * this lcore may have read BUFFER just before and queued one more burst:
 * with nobody left to drain the ring, those frames would wait there for the
 * next migration and arrive late and out of order.  If the VM runs here
 * they are delivered first, as a short replay; if it does not, they are
 * dropped and counted under the reason the main loop counted the rest of
 * that buffer (held_drop_reason: peer-lost, buffer-expired, ...), so one
 * episode's frames all add up in one place.
 *
 * Return: the mode to go on with
 */
static uint32_t dp_adopt_held(struct vs_vm *vm, int vid)
{
	uint32_t live = VS_DP_LIVE;
	enum vs_drop_reason reason;
	struct rte_mbuf *m;

	if (vid >= 0) {
		if (__atomic_compare_exchange_n(&vm->dp_mode, &live, VS_DP_REPLAY, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&vm->inject_done, true, __ATOMIC_RELEASE);
			return VS_DP_REPLAY;
		}
		return live;	/* the main loop switched it meanwhile */
	}
	reason = (enum vs_drop_reason)__atomic_load_n(&vm->held_drop_reason, __ATOMIC_ACQUIRE);
	while (rte_ring_mc_dequeue(vm->held, (void **)&m) == 0)
		dp_drop(vm, m, reason);
	return VS_DP_LIVE;
}

/*
 * dp_drain_done() - answer the main loop's drain request (a barrier)
 *
 * The source's main loop asks for one when the destination reports live
 * traffic (LIVE_SEEN): every frame that reached this uplink before then
 * must be in the stream before the BARRIER that closes it.  Frames still
 * in the uplink's queues were not yet in vm->held, so this lcore empties
 * the queues first (dp_poll_port()), then records how far it has filled
 * vm->held; the main loop sends the barrier once it has taken the ring up
 * to that mark.
 */
#define DP_DRAIN_MAX_BURSTS	64	/* 2048 frames: more than an RX queue or a
					 * tap's backlog holds; bounds a flood */

static void dp_drain_done(struct vs_vm *vm, uint32_t req)
{
	__atomic_store_n(&vm->drain_mark, __atomic_load_n(&vm->held->prod.tail, __ATOMIC_ACQUIRE),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&vm->drain_done, req, __ATOMIC_RELEASE);
}

static unsigned int dp_poll_port(struct vs_vm *vm)
{
	int vid = __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE);
	uint32_t enabled = __atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE);
	uint32_t mode = __atomic_load_n(&vm->dp_mode, __ATOMIC_ACQUIRE);
	unsigned int work = 0;
	unsigned int bursts = 0;
	uint32_t drain;
	bool draining;
	uint16_t q;

	if (mode == VS_DP_BUFFER && vm->pending.n) {
		/* the device went away with a replay burst half delivered: the
		 * buffer behind it may be streamed elsewhere, so these cannot
		 * keep their place; count them */
		VS_STAT_ADD(vm->stats.drops[VS_DROP_VM_RING_FULL], vm->pending.n);
		rte_pktmbuf_free_bulk(&vm->pending.pkts[vm->pending.head], vm->pending.n);
		vm->pending.n = vm->pending.head = 0;
	}
	if (mode == VS_DP_LIVE && !rte_ring_empty(vm->held))
		mode = dp_adopt_held(vm, vid);
	if (mode == VS_DP_REPLAY || vm->pending.n || !rte_ring_empty(vm->inject))
		work += dp_replay(vm, vid, enabled, mode);
	mode = __atomic_load_n(&vm->dp_mode, __ATOMIC_ACQUIRE);
	dp_announce(vm);

	drain = __atomic_load_n(&vm->drain_req, __ATOMIC_ACQUIRE);
	draining = drain != __atomic_load_n(&vm->drain_done, __ATOMIC_RELAXED);
	for (q = 0; q < vm->cfg->queues; q++) {
		struct rte_mbuf *pkts[VS_DP_BURST];
		uint16_t n;

		do {	/* one burst, or all the queue holds when draining */
			n = rte_eth_rx_burst(vm->eth_port, q, pkts, VS_DP_BURST);
			if (!n)
				break;
			work += n;
			VS_STAT_ADD(vm->stats.uplink_rx_pkts, n);
			VS_STAT_ADD(vm->stats.uplink_rx_bytes, dp_sum_len(pkts, n));
			if (mode == VS_DP_BUFFER)
				dp_buffer(vm, pkts, n, !__atomic_load_n(&vm->buf_no_caps,
									 __ATOMIC_RELAXED));
			else if (mode == VS_DP_REPLAY)
				dp_hold_live(vm, pkts, n);
			else
				dp_deliver(vm, vid, enabled, q, pkts, n);
		} while (draining && n == VS_DP_BURST && ++bursts < DP_DRAIN_MAX_BURSTS);
		work += dp_vm_to_uplink(vm, vid, enabled, q);
	}
	if (draining)
		dp_drain_done(vm, drain);
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
	struct dp_port_list *ports = &dp_ports[worker];

	rte_rcu_qsbr_thread_register(dp_qsbr, tid);
	rte_rcu_qsbr_thread_online(dp_qsbr, tid);
	vs_log(DP, INFO, NULL, "worker %u running on lcore %u (%s)", worker, tid,
	       dp_busy_poll ? "busy-poll" : "adaptive sleep");

	while (!__atomic_load_n(&dp_stop_requested, __ATOMIC_RELAXED)) {
		unsigned int i, n, work = 0;

		n = __atomic_load_n(&ports->n, __ATOMIC_ACQUIRE);
		for (i = 0; i < n; i++) {
			struct vs_vm *vm = __atomic_load_n(&ports->vm[i], __ATOMIC_ACQUIRE);

			if (vm)
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
