/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_ring_bound.c - how many frames the lcore offers a guest RX vring: the
 * RX ring bound and its idle valve (issue 16; docs/dev/plan-rx-ring-bound.md,
 * sections 3-5)
 *
 * Theory of operation: QEMU stops a guest's vCPUs before its vhost device
 * and starts the device before the vCPUs, so the lcore keeps filling the
 * RX ring of a guest that cannot read it; at the resume the guest's softirq
 * pushes the whole ring into its sockets before their readers run, and a
 * default socket buffer overflows (RcvbufErrors).  The port's
 * rx-ring-bound caps the entries of each RX vring the shim leaves filled
 * and not reposted: right before an enqueue of a burst with frames (never
 * on an idle poll) the lcore reads the vring's free entries (op
 * guest_ring_free, DPDK's rte_vhost_avail_entries(): avail->idx -
 * last_used_idx, under the vring's lock, which the enqueue takes right
 * after anyway), so
 *	outstanding = size - free	(filled and not read, or read and
 *					 not reposted yet)
 *	room = bound - outstanding	(0 at or beyond the bound)
 * and offers min(n, room) frames.  A running guest reposts in batches
 * (Linux: more than 32 free), so the count never under-states what sits
 * unread; a guest that keeps up never meets a bound of 48 or more.
 *
 * The valve: when room < n, a guest that has consumed everything the shim
 * published and re-armed its interrupt (op guest_ring_idle: used->idx ==
 * used_event, or the interrupt flag without EVENT_IDX) runs and waits for
 * data, perhaps for more free entries before it reposts (a refill
 * threshold above the bound): it gets one burst, up to min(n, free),
 * whatever the bound.  That burst moves used->idx past used_event, so a
 * stopped guest gets at most one burst beyond the bound and a waiting one
 * a burst per re-arm: no stall whatever the guest's refill policy.
 *
 * Off (the whole burst, no read): rx-ring-bound 0, buffering off (a frame
 * the bound refused would have nowhere to wait but a drop), the vring's
 * size unknown or not above the bound, a packed ring (the read means
 * something else there; never offered).  free == 0 means "unknown" (a
 * disabled or untranslated vring, which DPDK reports as no free entry)
 * as much as "full": the whole burst is offered and the enqueue decides.
 *
 * Back to LIVE without flapping: a replay that has delivered everything
 * switches the port back to LIVE only once RX vring 0 (the replay's) has
 * at most half the bound outstanding, or the guest is idle
 * (dp_ring_settled(), dp_replay.c); until then live frames queue in held
 * and go as room allows, so a guest hovering at the bound does not switch
 * the port on every burst.
 *
 * Counters (lcore): ring-bound-hits, the replay episodes the bound held
 * frames back in: each LIVE -> REPLAY switch of dp_deliver() it caused,
 * and any other replay (a migration's) in which it shortened an enqueue,
 * once (vm->dp.ring_bound_holding, cleared when the port goes LIVE again
 * or starts buffering); ring-bound-held-pkts (frames dp_deliver() sent to
 * held because of it); ring-bound-valve (bursts the valve let through).
 */
#include <linux/virtio_config.h>

#include <rte_common.h>

#include "config.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

/*
 * The bound that applies to RX queue @q of @vm now; @free and @outstanding:
 * the vring's free entries and size - free (read only if a bound applies)
 * Return: the bound; 0 when it is off or the free entries are unknown
 */
static uint32_t dp_ring_bound_now(struct vs_vm *vm, int vid, uint16_t q, uint16_t *free,
				  uint16_t *outstanding)
{
	uint32_t bound = vm->policy.rx_ring_bound;
	uint16_t size;

	if (!bound || !vm->policy.enabled || vid < 0 || q >= VS_MAX_QUEUES)
		return 0;
	size = __atomic_load_n(&vm->rx_ring_size[q], __ATOMIC_RELAXED);
	if (size <= bound ||
	    (__atomic_load_n(&vm->features, __ATOMIC_RELAXED) & (1ULL << VIRTIO_F_RING_PACKED)))
		return 0;
	*free = vs_dp_ops->guest_ring_free(vid, VS_VRING_RX(q));
	if (!*free)
		return 0;	/* unknown, or full: the enqueue decides */
	*outstanding = *free < size ? (uint16_t)(size - *free) : 0;
	return bound;
}

uint16_t dp_ring_offer(struct vs_vm *vm, int vid, uint16_t q, uint16_t n, bool *limited)
{
	uint16_t free = 0, outstanding = 0, room;
	uint32_t bound;

	*limited = false;
	if (!n)
		return n;
	bound = dp_ring_bound_now(vm, vid, q, &free, &outstanding);
	if (!bound)
		return n;
	room = bound > outstanding ? (uint16_t)(bound - outstanding) : 0;
	if (room >= n)
		return n;
	if (vs_dp_ops->guest_ring_idle(vid, VS_VRING_RX(q))) {
		VS_STAT_ADD(vm->stats.ring_bound_valve, 1);
		return RTE_MIN(n, free);
	}
	*limited = true;
	return room;
}

bool dp_ring_settled(struct vs_vm *vm, int vid)
{
	uint16_t free = 0, outstanding = 0;
	uint32_t bound = dp_ring_bound_now(vm, vid, 0, &free, &outstanding);

	return !bound || outstanding <= bound / 2 || vs_dp_ops->guest_ring_idle(vid, VS_VRING_RX(0));
}

void dp_ring_bound_hit(struct vs_vm *vm, unsigned int held, bool switched)
{
	if (switched || !vm->dp.ring_bound_holding) {
		vm->dp.ring_bound_holding = true;
		VS_STAT_ADD(vm->stats.ring_bound_hits, 1);
	}
	if (held)
		VS_STAT_ADD(vm->stats.ring_bound_held_pkts, held);
}
