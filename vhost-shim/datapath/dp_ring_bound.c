/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_ring_bound.c - how many frames the lcore offers a guest RX vring: the
 * RX ring bound and its valves (issue 16; docs/dev/plan-rx-ring-bound.md,
 * sections 3-5)
 *
 * Theory of operation: QEMU stops a guest's vCPUs before its vhost device
 * and starts the device before the vCPUs, so the lcore keeps filling the
 * RX ring of a guest that cannot read it; at the resume the guest's softirq
 * pushes the whole ring into its sockets before their readers run, and a
 * default socket buffer overflows (RcvbufErrors).  The port's
 * rx-ring-bound caps the entries of the RX vring the shim leaves filled
 * and not reposted: right before an enqueue of a burst with frames the
 * lcore reads the vring's free entries (op guest_ring_free, DPDK's
 * rte_vhost_avail_entries(): avail->idx - last_used_idx, under the vring's
 * lock, which the enqueue takes right after anyway), so
 *	outstanding = size - free	(filled and not read, or read and
 *					 not reposted yet)
 *	room = bound + extra - outstanding	(0 at or beyond it)
 * and offers min(n, room) frames.  A running guest reposts in batches
 * (Linux: more than 32 free), so the count never under-states what sits
 * unread; a guest that keeps up (at most 32 read and not reposted before
 * a burst of 32) never meets a bound of 64 (the smallest accepted) or more.
 *
 * One RX vring only: the bound applies while the guest has exactly one RX
 * vring enabled, vring 0 (the one a replay delivers to).  With more, every
 * burst goes as without the bound (counted: ring-bound-multiqueue): a
 * replay of the lcore's own would move the flows of the other vrings to
 * vring 0, and the bound must never move a flow.
 *
 * The frames it refuses wait in held exactly as behind a full ring
 * (dp_hold_ring_full(): a replay of the lcore's own), in order, within the
 * buffer caps but never dropped by a class policy or a rule's drop action
 * (that policy is for a migration's buffer: vm->dp.ring_bound_holding);
 * the replay then takes held before inject (dp_replay.c), as held's
 * frames reached this host before anything injected since.
 *
 * The valves, so that no guest stalls at the bound whatever its refill
 * policy, when room < n:
 *  - idle: a guest that has consumed everything the shim published and
 *    re-armed its interrupt (op guest_ring_idle: used->idx == used_event,
 *    or the interrupt flag without EVENT_IDX) waits for data, perhaps for
 *    more free entries before it reposts: it gets one burst, up to
 *    min(n, free).  That burst moves used->idx past used_event, so a
 *    stopped guest gets at most one burst beyond the bound and a waiting
 *    one a burst per re-arm;
 *  - timed: a guest that polls with its interrupt off and reposts only
 *    past more free entries than the bound leaves looks, from here,
 *    exactly like a stopped one: nothing it writes changes.  Once the
 *    offers have been refused for DP_RING_VALVE_MS without the guest
 *    reposting (free above what the last offer left), one burst goes
 *    anyway, and the next waits twice as long (up to
 *    DP_RING_VALVE_MAX_MS): a guest stopped for 1 s with its device
 *    running gets 2 bursts beyond the bound, one stopped for less than
 *    200 ms none.  A guest that reposts after such a burst has shown
 *    it needs the entries: they are added to the bound for this port
 *    (rb.extra, up to the ring's size), so the timed valve is needed once,
 *    not at every refill.
 * Both count in ring-bound-valve.
 *
 * Lock-free reads (finding 8 of review 59): guest_ring_idle reads
 * used->idx, which only this lcore writes (it owns the queue: never stale
 * to itself), and used_event or the avail flags, which the guest writes
 * (aligned 16-bit loads: never torn, at worst stale).  The guest moves
 * used_event only up to the last used entry it has seen, so a stale value
 * is one it had already passed: equal to used->idx only if the guest was
 * idle at that used->idx, which it still is unless it re-armed since
 * (then it is idle too).  So a stale read answers "not idle" for a guest
 * that just became idle - a late offer, retried at the next poll, and the
 * timed valve still opens - or "idle" for one that was idle when it was
 * written: one burst, at most min(n, free) <= VS_DP_BURST, beyond the
 * bound, after which used->idx has moved past it.  The free entries and
 * the timed valve's clock are read under the vring's lock and from the
 * lcore's own TSC: no torn state.  Never a stall, never more than one
 * burst beyond the bound per valve.
 *
 * Off (the whole burst, no read): rx-ring-bound 0, buffering off (a frame
 * the bound refused would have nowhere to wait but a drop), more than one
 * RX vring, the vring's size unknown or not above the bound, a packed ring
 * (the read means something else there; never offered).  free == 0 means
 * "unknown" (a disabled or untranslated vring, which DPDK reports as no
 * free entry) as much as "full": the whole burst is offered and the
 * enqueue decides.
 *
 * Back to LIVE without flapping: a replay that has delivered everything
 * switches the port back to LIVE only once RX vring 0 has at most half the
 * bound outstanding, or the guest is idle (dp_ring_settled(), dp_replay.c);
 * until then live frames queue in held and go as room allows.  With
 * nothing left to deliver that check reads the ring right after an offer,
 * then in one idle poll of DP_RING_SETTLE_POLLS only (and the worker
 * sleeps between idle polls): not the vring's lock at every idle poll.
 *
 * Counters (lcore): ring-bound-hits, the replay episodes the bound held
 * frames back in: each LIVE -> REPLAY switch of dp_deliver_live() it caused,
 * and any other replay (a migration's) in which it shortened an enqueue,
 * once (vm->dp.ring_bound_holding, cleared when the port goes LIVE again
 * or starts buffering); ring-bound-held-pkts (frames dp_deliver_live() sent to
 * held because of it); ring-bound-valve (bursts the valves let through);
 * ring-bound-multiqueue (bursts offered without it, more than one RX
 * vring).
 */
#include <linux/virtio_config.h>

#include <rte_common.h>
#include <rte_cycles.h>

#include "config.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

/*
 * The timed valve's first wait, and its longest: longer than a guest's
 * vCPUs are normally stopped with its device running (QEMU's stop and
 * cont, a migration's switchover: milliseconds), so a stopped guest
 * rarely gets its burst; a polling guest with a refill threshold above
 * the bound waits this long once, and the bound then fits it.
 */
#define DP_RING_VALVE_MS	200
#define DP_RING_VALVE_MAX_MS	800
#define DP_RING_SETTLE_POLLS	8	/* idle settle checks: one in this many polls */

/* The even bits: every guest RX vring (VS_VRING_RX()) */
#define DP_RX_VRINGS		0x55555555u

/*
 * Does the bound apply to RX queue @q of @vm now (no ring read)?
 * @size:	set to the vring's size when it does
 * @mq:		count a burst offered without it for want of one RX vring
 */
static uint32_t dp_ring_bound_applies(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
				      uint16_t *size, bool mq)
{
	uint32_t bound = vm->policy.rx_ring_bound;

	if (!bound || !vm->policy.enabled || vid < 0)
		return 0;
	if (q != 0 || (enabled & DP_RX_VRINGS) != 1u << VS_VRING_RX(0)) {
		if (mq)
			VS_STAT_ADD(vm->stats.ring_bound_multiqueue, 1);
		return 0;
	}
	*size = __atomic_load_n(&vm->rx_ring_size[0], __ATOMIC_RELAXED);
	if (*size <= bound ||
	    (__atomic_load_n(&vm->features, __ATOMIC_RELAXED) & (1ULL << VIRTIO_F_RING_PACKED)))
		return 0;
	return bound;
}

/*
 * The bound that applies to RX queue @q of @vm now; @free and @outstanding:
 * the vring's free entries and size - free (read only if a bound applies)
 * Return: the bound, with what the guest proved it needs above it; 0 when
 * it is off or the free entries are unknown
 */
static uint32_t dp_ring_bound_now(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
				  uint16_t *free, uint16_t *outstanding, bool mq)
{
	struct vs_dp_ring_bound *rb = &vm->dp.rb;
	uint16_t size = 0;
	uint32_t bound = dp_ring_bound_applies(vm, vid, enabled, q, &size, mq);

	if (!bound)
		return 0;
	*free = vs_dp_ops->guest_ring_free(vid, VS_VRING_RX(q));
	if (!*free)
		return 0;	/* unknown, or full: the enqueue decides */
	*outstanding = *free < size ? (uint16_t)(size - *free) : 0;
	if (*free > rb->free_after) {	/* the guest reposted since */
		if (rb->fired)	/* after a timed valve: it needed them */
			rb->extra = (uint16_t)RTE_MIN((uint32_t)rb->extra + rb->fired,
						      (uint32_t)size - 1 - bound);
		rb->fired = 0;
		rb->stuck_since = 0;
	}
	return bound + rb->extra;
}

/* What an offer of @offer frames at @free free entries leaves */
static uint16_t dp_ring_offered(struct vs_dp_ring_bound *rb, uint16_t free, uint16_t offer)
{
	rb->free_after = free > offer ? (uint16_t)(free - offer) : 0;
	return offer;
}

/*
 * The timed valve: refused offers for rb->wait with no repost
 * Return: true when one burst goes now
 */
static bool dp_ring_timed_valve(struct vs_dp_ring_bound *rb)
{
	uint64_t now = vs_dp_ops->tsc(), ms = rte_get_tsc_hz() / 1000;

	if (!rb->stuck_since) {
		rb->stuck_since = now;
		rb->wait = ms * DP_RING_VALVE_MS;
		return false;
	}
	if (now - rb->stuck_since < rb->wait)
		return false;
	rb->stuck_since = now;
	rb->wait = RTE_MIN(rb->wait * 2, ms * DP_RING_VALVE_MAX_MS);
	return true;
}

uint16_t dp_ring_offer(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q, uint16_t n,
		       bool *limited)
{
	struct vs_dp_ring_bound *rb = &vm->dp.rb;
	uint16_t free = 0, outstanding = 0, room, offer;
	uint32_t bound;

	*limited = false;
	if (!n)
		return n;
	bound = dp_ring_bound_now(vm, vid, enabled, q, &free, &outstanding, true);
	if (!bound)
		return n;
	rb->settle_polls = 0;	/* the next settle check reads the ring */
	room = bound > outstanding ? (uint16_t)RTE_MIN(bound - outstanding, 0xffffu) : 0;
	if (room >= n) {
		rb->stuck_since = 0;
		return dp_ring_offered(rb, free, n);
	}
	if (vs_dp_ops->guest_ring_idle(vid, VS_VRING_RX(q))) {
		VS_STAT_ADD(vm->stats.ring_bound_valve, 1);
		return dp_ring_offered(rb, free, RTE_MIN(n, free));
	}
	if (dp_ring_timed_valve(rb)) {
		VS_STAT_ADD(vm->stats.ring_bound_valve, 1);
		offer = RTE_MIN(n, free);
		rb->fired = (uint16_t)RTE_MIN((uint32_t)rb->fired + offer, 0xffffu);
		return dp_ring_offered(rb, free, offer);
	}
	*limited = true;
	return dp_ring_offered(rb, free, room);
}

bool dp_ring_settled(struct vs_vm *vm, int vid, uint32_t enabled)
{
	struct vs_dp_ring_bound *rb = &vm->dp.rb;
	uint16_t free = 0, outstanding = 0, size = 0;
	uint32_t bound;

	if (!dp_ring_bound_applies(vm, vid, enabled, 0, &size, false))
		return true;
	if (rb->settle_polls++ % DP_RING_SETTLE_POLLS)
		return false;	/* read again later: not at every idle poll */
	bound = dp_ring_bound_now(vm, vid, enabled, 0, &free, &outstanding, false);
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
