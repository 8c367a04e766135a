/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_source_hold.c - destination: a source's direct frames held until its
 * stragglers are in (the per-source barrier)
 *
 * Theory of operation: see dp_source_hold.h (what is held, for how long,
 * the release queue and why inject must be read after it).  The lcore half
 * costs nothing while no source is held and the release queue is empty
 * (one acquire load and a compare per poll); while some are, a linear
 * lookup over at most VS_DP_HOLD_SOURCES slots per unicast IP frame in the
 * window, and a pass over the held frames per source released.
 */
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_priv.h"
#include "dp_source_hold.h"
#include "vm.h"

/* --- lcore ---------------------------------------------------------------- */

bool dp_source_hold_may_begin(struct vs_vm *vm, uint32_t mode)
{
	return vm->dp.hold && mode != VS_DP_BUFFER && vm->policy.source_barrier_ms &&
	       __atomic_load_n(&vm->dp.hs.src_hold_on, __ATOMIC_ACQUIRE);
}

static bool hold_src_is(const struct vs_dp_hold_src *s, uint8_t af, const uint8_t *addr)
{
	return s->in_use && s->af == af && !memcmp(s->addr, addr, sizeof(s->addr));
}

uint8_t dp_source_hold_find(const struct vs_vm *vm, uint8_t af, const uint8_t *addr)
{
	const struct vs_dp_source_hold *h = vm->dp.hold;
	unsigned int i, seen;

	if (!h)
		return VS_DP_HOLD_NONE;
	for (i = 0, seen = 0; seen < h->n_src && i < VS_DP_HOLD_SOURCES; i++) {
		if (!h->src[i].in_use)
			continue;
		if (hold_src_is(&h->src[i], af, addr))
			return (uint8_t)i;
		seen++;
	}
	return VS_DP_HOLD_NONE;
}

uint8_t dp_source_hold_begin(struct vs_vm *vm, uint8_t af, const uint8_t *addr,
			     uint32_t epoch, uint64_t tsc)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	struct vs_dp_hold_src *s;
	unsigned int i;

	for (i = 0; i < VS_DP_HOLD_SOURCES && h->src[i].in_use; i++)
		;
	if (i == VS_DP_HOLD_SOURCES) {	/* today's gap for this one */
		VS_STAT_ADD(vm->stats.source_hold_full, 1);
		return VS_DP_HOLD_NONE;
	}
	s = &h->src[i];
	memset(s, 0, sizeof(*s));
	s->in_use = true;
	s->af = af;
	memcpy(s->addr, addr, sizeof(s->addr));
	s->epoch = epoch;
	s->first_tsc = tsc;
	h->n_src++;
	return (uint8_t)i;
}

/*
 * A released source's frames go where a live frame would go now: to the
 * guest (LIVE), behind the replay (REPLAY), into the buffer (BUFFER: the
 * device went away) through dp_buffer(), its class policy, caps and
 * counts, as any frame the uplink gives then (review 63, F3: they went
 * into held directly, past the policy and the caps)
 */
static void hold_deliver(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
			 struct rte_mbuf **pkts, uint16_t n)
{
	uint32_t mode = vs_dp_mode(vm);

	if (mode == VS_DP_BUFFER) {
		dp_buffer(vm, pkts, n);
	} else if (mode == VS_DP_REPLAY) {
		dp_hold_live(vm, pkts, n);
	} else {
		dp_deliver_live(vm, vid, enabled, q, pkts, n);
	}
}

/*
 * Release slot @k: its frames leave the hold in arrival order, by runs of
 * one uplink queue (each run to the guest queue that queue maps to), and
 * the other sources' frames close up behind; the slot is free again
 */
static void hold_release(struct vs_vm *vm, int vid, uint32_t enabled, uint8_t k)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	struct rte_mbuf *run[VS_DP_BURST];
	uint16_t i, kept = 0, n = 0;
	uint8_t run_q = 0;

	for (i = 0; i < h->n; i++) {
		if (h->who[i] != k) {
			h->pkts[kept] = h->pkts[i];
			h->who[kept] = h->who[i];
			h->q[kept++] = h->q[i];
			continue;
		}
		if (n && (h->q[i] != run_q || n == VS_DP_BURST)) {
			hold_deliver(vm, vid, enabled, run_q, run, n);
			n = 0;
		}
		run_q = h->q[i];
		run[n++] = h->pkts[i];
	}
	if (n)
		hold_deliver(vm, vid, enabled, run_q, run, n);
	h->n = kept;
	h->src[k].in_use = false;
	h->n_src--;
	VS_STAT_SET(vm->stats.source_held_now, kept);
}

uint16_t dp_source_hold_divert(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode,
			       uint16_t q, struct rte_mbuf **pkts, uint16_t n,
			       const uint8_t *slot)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	uint16_t i, left = 0, held = 0;

	for (i = 0; i < n; i++) {
		uint8_t k = slot[i];

		/* not held, or released by an overflow earlier in this burst */
		if (k >= VS_DP_HOLD_SOURCES || !h->src[k].in_use) {
			pkts[left++] = pkts[i];
			continue;
		}
		if (h->n == VS_DP_HOLD_FRAMES) {
			/*
			 * Full: this source goes now, its held frames, then
			 * this one.  Frames of the burst before it that are not
			 * held are delivered after them: other sources, whose
			 * order with this one's is not kept anyway.
			 */
			VS_STAT_ADD(vm->stats.source_hold_overflow, 1);
			hold_release(vm, vid, enabled, k);
			hold_deliver(vm, vid, enabled, q, &pkts[i], 1);
			continue;
		}
		h->pkts[h->n] = pkts[i];
		h->who[h->n] = k;
		h->q[h->n++] = (uint8_t)q;
		held++;
	}
	if (held) {
		VS_STAT_ADD(vm->stats.source_held_pkts, held);
		VS_STAT_SET(vm->stats.source_held_now, h->n);
		/* as dp_hold_live(): the replay's BARRIER must not wait on them */
		if (mode == VS_DP_REPLAY && !__atomic_load_n(&vm->dp.hs.live_seen, __ATOMIC_RELAXED))
			__atomic_store_n(&vm->dp.hs.live_seen, true, __ATOMIC_RELEASE);
	}
	return left;
}

/* Read the main loop's releases (dp_source_hold.h: head acquire, then the
 * entries, then tail release); an entry of another window is skipped */
static void hold_take_releases(struct vs_vm *vm, uint32_t epoch)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	uint32_t head = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	uint32_t tail = h->tail;
	unsigned int i;

	for (; tail != head; tail++) {
		const struct vs_dp_release *r = &h->rel[tail & (VS_DP_RELEASE_QUEUE - 1)];
		bool matched = false;

		if (r->epoch != epoch)
			continue;
		for (i = 0; i < VS_DP_HOLD_SOURCES; i++) {
			struct vs_dp_hold_src *s = &h->src[i];

			if (s->in_use && s->epoch == epoch &&
			    (!r->af || hold_src_is(s, r->af, r->addr))) {
				/* its own barrier, if that came first,
				 * is what released it (review 68, N1) */
				if (!s->release)
					s->release_all = !r->af;
				s->release = true;
				matched = true;
			}
		}
		if (!matched && r->af)
			VS_STAT_ADD(vm->stats.source_barriers_unmatched, 1);
	}
	__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
}

uint32_t dp_source_hold_poll(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	uint64_t now, limit;
	uint32_t epoch;
	bool active, injected;
	uint8_t k;

	if (!h || (!h->n_src && h->tail == __atomic_load_n(&h->head, __ATOMIC_ACQUIRE)))
		return mode;
	active = __atomic_load_n(&vm->dp.hs.dedup_active, __ATOMIC_ACQUIRE);
	epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	hold_take_releases(vm, epoch);
	/* only now, after the releases' acquire: every frame the main loop put
	 * into inject before a release it published has been delivered */
	injected = !vm->dp.pending.n && rte_ring_empty(vm->dp.inject);
	now = vs_dp_ops->tsc();
	limit = (uint64_t)vm->policy.source_barrier_ms * rte_get_tsc_hz() / 1000;
	for (k = 0; h->n_src && k < VS_DP_HOLD_SOURCES; k++) {
		struct vs_dp_hold_src *s = &h->src[k];

		if (!s->in_use)
			continue;
		if (!active || s->epoch != epoch || mode == VS_DP_BUFFER) {
			/* the window is over, or the device went away */
			VS_STAT_ADD(vm->stats.source_hold_ends, 1);
		} else if (s->release && injected) {
			if (s->release_all)	/* END or ABORT */
				VS_STAT_ADD(vm->stats.source_hold_ends, 1);
			else
				VS_STAT_ADD(vm->stats.source_barrier_releases, 1);
		} else if (now - s->first_tsc >= limit) {
			VS_STAT_ADD(vm->stats.source_barrier_timeouts, 1);
		} else {
			continue;
		}
		hold_release(vm, vid, enabled, k);
	}
	return vs_dp_mode(vm);
}

/* --- main loop ------------------------------------------------------------ */

struct vs_dp_source_hold *vs_dp_source_hold_new(void)
{
	return g_new0(struct vs_dp_source_hold, 1);
}

void vs_dp_source_hold_free(struct vs_dp_source_hold *h)
{
	if (!h)
		return;
	if (h->n)
		rte_pktmbuf_free_bulk(h->pkts, h->n);
	g_free(h);
}

void vs_dp_source_hold_on(struct vs_vm *vm, bool on)
{
	__atomic_store_n(&vm->dp.hs.src_hold_on, on, __ATOMIC_RELEASE);
}

static bool hold_release_put(struct vs_vm *vm, uint8_t af, const uint8_t *addr)
{
	struct vs_dp_source_hold *h = vm->dp.hold;
	struct vs_dp_release *r;
	uint32_t head;

	if (!h)
		return true;	/* nothing is ever held */
	head = h->head;		/* the main loop is its only writer */
	if (head - __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) >= VS_DP_RELEASE_QUEUE)
		return false;
	r = &h->rel[head & (VS_DP_RELEASE_QUEUE - 1)];
	r->epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_RELAXED);
	r->af = af;
	if (addr)
		memcpy(r->addr, addr, sizeof(r->addr));
	else
		memset(r->addr, 0, sizeof(r->addr));
	__atomic_store_n(&h->head, head + 1, __ATOMIC_RELEASE);
	return true;
}

bool vs_dp_source_release(struct vs_vm *vm, uint8_t af, const uint8_t *addr)
{
	return hold_release_put(vm, af, addr);
}

bool vs_dp_source_release_all(struct vs_vm *vm)
{
	return hold_release_put(vm, 0, NULL);
}
