/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_dedup.c - the destination's duplicate filter (lcore), and the frames'
 * arrival times it compares
 *
 * Theory of operation: see struct vs_dp_dedup in dp_priv.h: two tables,
 * one per origin, a frame is checked against the other origin's only, a
 * match needs arrival times within the port's dedup-window-ms, and it
 * removes the entry it matched.  The main loop opens a window
 * (vs_dp_dedup_open(): a new epoch, active) when the VM resumes at the
 * destination and closes it once the source's stream ended; the lcore,
 * the table's only user, sees the new epoch and treats every bucket an
 * older window wrote as empty, clearing it when it first touches it.
 *
 * Arrival times live in an mbuf dynamic field (struct vs_dp_arrival): the
 * lcore stamps the frames it receives whenever it buffers or filters, with
 * the poll's TSC and a slack back to its previous poll (dataplane.c); the
 * main loop reads a held frame's age when it streams it to the tunnel
 * (vs_dp_arrival_age_us()) and stamps a tunnelled frame with the source's
 * arrival time before it injects it (vs_dp_arrival_set_age()).  Ages over
 * VS_DP_ARRIVAL_AGE_MAX_US are unknown both ways, and the conversions
 * between microseconds and TSC cycles cannot overflow.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "pkt.h"
#include "vm.h"

int vs_dp_arrival_off = -1;

bool vs_dp_arrival_init(void)
{
	static const struct rte_mbuf_dynfield desc = {
		.name = "vhost_shim_arrival",
		.size = sizeof(struct vs_dp_arrival),
		.align = __alignof__(struct vs_dp_arrival),
	};

	if (vs_dp_arrival_off < 0)	/* the same offset on every call */
		vs_dp_arrival_off = rte_mbuf_dynfield_register(&desc);
	return vs_dp_arrival_off >= 0;
}

/*
 * Conversions that cannot overflow: whole seconds and the rest apart, so
 * the largest product is (10^6 - 1) * hz, or (hz - 1) * 10^6, for ages up
 * to VS_DP_ARRIVAL_AGE_MAX_US (and TSC rates up to 10^13 Hz)
 */
static uint64_t dp_us_to_tsc(uint64_t us, uint64_t hz)
{
	return us / 1000000 * hz + us % 1000000 * hz / 1000000;
}

static uint64_t dp_tsc_to_us(uint64_t tsc, uint64_t hz)
{
	return tsc / hz * 1000000 + tsc % hz * 1000000 / hz;
}

int64_t vs_dp_arrival_age_us(struct rte_mbuf *m)
{
	uint64_t t = *vs_dp_arrival(m), now = vs_dp_ops->tsc(), hz = rte_get_tsc_hz(), us;

	if (!t || !hz)
		return -1;
	if (now <= t)
		return 0;
	us = dp_tsc_to_us(now - t, hz);
	return us > (uint64_t)VS_DP_ARRIVAL_AGE_MAX_US ? -1 : (int64_t)us;
}

void vs_dp_arrival_set_age(struct rte_mbuf *m, int64_t age_us)
{
	uint64_t now = vs_dp_ops->tsc(), ago;

	/* Security: @age_us may come from a peer (FRAME_TIMES): beyond the
	 * maximum it is unknown, and below it the product cannot overflow */
	if (age_us < 0 || age_us > VS_DP_ARRIVAL_AGE_MAX_US) {
		vs_dp_arrival_stamp(m, 0, 0);
		return;
	}
	ago = dp_us_to_tsc((uint64_t)age_us, rte_get_tsc_hz());
	vs_dp_arrival_stamp(m, now > ago ? now - ago : 1, 0);
}

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

/*
 * dp_dedup_bucket() - the ways of @origin's bucket for the hash @h, in the
 * current window: a bucket an older window wrote is cleared first
 *
 * The bucket comes from the high half: bit 0 of the hash is always set,
 * so h % buckets would only ever pick the odd buckets.
 */
static inline struct vs_dp_dedup_entry *dp_dedup_bucket(struct vs_dp_dedup *d,
							enum vs_dp_origin origin, uint64_t h)
{
	struct vs_dp_dedup_bucket *b =
		&d->bucket[origin][(h >> 32) % (VS_DEDUP_SLOTS / VS_DEDUP_WAYS)];

	if (b->epoch != d->epoch) {
		memset(b->way, 0, sizeof(b->way));
		b->epoch = d->epoch;
	}
	return b->way;
}

/*
 * dp_arrival_gap() - how far apart two arrivals are: the gap between
 * [@a - @a_slack, @a] and [@b - @b_slack, @b], 0 if they overlap
 */
static inline uint64_t dp_arrival_gap(uint64_t a, uint64_t a_slack, uint64_t b,
				      uint64_t b_slack)
{
	uint64_t a_early = a > a_slack ? a - a_slack : 0;
	uint64_t b_early = b > b_slack ? b - b_slack : 0;

	if (a < b_early)
		return b_early - a;
	if (b < a_early)
		return a_early - b;
	return 0;
}

/* How a dedup entry matches a frame: better ones first */
enum dp_dedup_match {
	DP_DEDUP_MATCH_TIMED,		/* both times known, within the window */
	DP_DEDUP_MATCH_UNTIMED,		/* a time unknown: any time matches */
	DP_DEDUP_MATCH_NONE,
};

/*
 * dp_dedup_take() - forget the entry of a bucket that is @h and closest in
 * time to the arrival @tsc (@slack before it), if one is within @window
 * (0: any time); an entry with a known time within the window is preferred
 * to one with an unknown time on either side, which matches any time (the
 * newest such); the newer ones move up
 *
 * Return: true if one was there
 */
static bool dp_dedup_take(struct vs_dp_dedup_entry *b, uint64_t h, uint64_t tsc,
			  uint64_t slack, uint64_t window)
{
	enum dp_dedup_match best_match = DP_DEDUP_MATCH_NONE;
	uint64_t best_gap = UINT64_MAX;
	unsigned int w, best = VS_DEDUP_WAYS;

	for (w = 0; w < VS_DEDUP_WAYS; w++) {
		enum dp_dedup_match match = DP_DEDUP_MATCH_TIMED;
		uint64_t gap = 0;

		if (b[w].hash != h)
			continue;
		if (!tsc || !b[w].tsc)
			match = window ? DP_DEDUP_MATCH_UNTIMED : DP_DEDUP_MATCH_TIMED;
		else if (window)
			gap = dp_arrival_gap(tsc, slack, b[w].tsc, b[w].slack);
		if (gap > window)
			continue;
		if (match < best_match || (match == best_match && gap < best_gap)) {
			best = w;
			best_match = match;
			best_gap = gap;
		}
	}
	if (best == VS_DEDUP_WAYS)
		return false;
	for (w = best; w + 1 < VS_DEDUP_WAYS; w++)
		b[w] = b[w + 1];
	memset(&b[VS_DEDUP_WAYS - 1], 0, sizeof(*b));
	return true;
}

static uint64_t dp_dedup_window(const struct vs_vm *vm)
{
	return (uint64_t)vm->policy.dedup_window_ms * rte_get_tsc_hz() / 1000;
}

void dp_dedup_forget(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		     enum vs_dp_origin origin)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);

		/* the entry dp_dedup() just recorded: same hash, same time */
		dp_dedup_take(dp_dedup_bucket(vm->dp.dedup, origin, h), h,
			      *vs_dp_arrival(pkts[i]), 0, 0);
	}
}

uint16_t dp_dedup(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		  enum vs_dp_origin origin)
{
	enum vs_dp_origin other = origin == VS_DP_ORIGIN_DIRECT ? VS_DP_ORIGIN_TUNNEL
								: VS_DP_ORIGIN_DIRECT;
	struct vs_dp_dedup *d = vm->dp.dedup;
	uint32_t epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	uint64_t window = dp_dedup_window(vm);
	uint16_t i, kept = 0;

	d->epoch = epoch;	/* the buckets of an older one are cleared as touched */
	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]), tsc = *vs_dp_arrival(pkts[i]);
		uint64_t slack = tsc ? *vs_dp_arrival_slack(pkts[i]) : 0;
		/* 4-way buckets, oldest way replaced: a copy is recognised as long
		 * as fewer than 4 newer frames landed in its bucket meanwhile */
		struct vs_dp_dedup_entry *b;

		if (dp_dedup_take(dp_dedup_bucket(d, other, h), h, tsc, slack, window)) {
			dp_drop(vm, pkts[i], VS_DROP_DUPLICATE);
			continue;
		}
		b = dp_dedup_bucket(d, origin, h);
		memmove(&b[1], &b[0], (VS_DEDUP_WAYS - 1) * sizeof(*b));
		b[0].hash = h;
		b[0].tsc = tsc;
		b[0].slack = slack;
		pkts[kept++] = pkts[i];
	}
	return kept;
}

bool dp_dedup_on(struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.dedup_active, __ATOMIC_ACQUIRE) && vm->dp.dedup;
}

/* --- main loop --------------------------------------------------------- */

void vs_dp_dedup_open(struct vs_vm *vm)
{
	__atomic_fetch_add(&vm->dp.hs.dedup_epoch, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->dp.hs.dedup_active, true, __ATOMIC_RELEASE);
}

void vs_dp_dedup_close(struct vs_vm *vm)
{
	__atomic_store_n(&vm->dp.hs.dedup_active, false, __ATOMIC_RELEASE);
}
