/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_dedup.c - the destination's duplicate filter (lcore)
 *
 * Theory of operation: see struct vs_dp_dedup in dp_priv.h: two tables,
 * one per origin, a frame is checked against the other origin's only, and
 * a match takes one frame off the entry it matched (an entry counts
 * byte-identical frames).  The main
 * loop opens a window (vs_dp_dedup_open(): a new epoch, active) when the VM
 * resumes at the destination and closes it once the source's stream ended;
 * the lcore, the table's only user, wipes the table when it sees a new
 * epoch.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "pkt.h"
#include "vm.h"

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

/* The bucket (its first way's index) comes from the high half: bit 0 of
 * the hash is always set, so h % buckets would only ever pick the odd
 * buckets */
static inline unsigned int dp_dedup_bucket(uint64_t h)
{
	return (unsigned int)((h >> 32) % (VS_DEDUP_SLOTS / 4)) * 4;
}

/* Take one frame @h off @origin's bucket, if it is there; an entry whose
 * count reaches 0 goes, the newer ones move up */
static bool dp_dedup_take(struct vs_dp_dedup *d, enum vs_dp_origin origin, uint64_t h)
{
	unsigned int b = dp_dedup_bucket(h), w;
	uint64_t *slot = &d->slot[origin][b];
	uint16_t *count = &d->count[origin][b];

	for (w = 0; w < 4 && slot[w] != h; w++)
		;
	if (w == 4)
		return false;
	if (--count[w] > 0)
		return true;
	for (; w < 3; w++) {
		slot[w] = slot[w + 1];
		count[w] = count[w + 1];
	}
	slot[3] = 0;
	count[3] = 0;
	return true;
}

/* Record one more frame @h of @origin: its entry counts it, or a new entry
 * goes first in the bucket and the oldest falls out */
static void dp_dedup_put(struct vs_dp_dedup *d, enum vs_dp_origin origin, uint64_t h)
{
	unsigned int b = dp_dedup_bucket(h), w;
	uint64_t *slot = &d->slot[origin][b];
	uint16_t *count = &d->count[origin][b];

	for (w = 0; w < 4; w++) {
		if (slot[w] == h) {
			if (count[w] < UINT16_MAX)
				count[w]++;
			return;
		}
	}
	for (w = 3; w > 0; w--) {
		slot[w] = slot[w - 1];
		count[w] = count[w - 1];
	}
	slot[0] = h;
	count[0] = 1;
}

void dp_dedup_forget(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		     enum vs_dp_origin origin)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		dp_dedup_take(vm->dp.dedup, origin, dp_frame_hash(pkts[i]));
}

uint16_t dp_dedup(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		  enum vs_dp_origin origin)
{
	enum vs_dp_origin other = origin == VS_DP_ORIGIN_DIRECT ? VS_DP_ORIGIN_TUNNEL
								: VS_DP_ORIGIN_DIRECT;
	struct vs_dp_dedup *d = vm->dp.dedup;
	uint32_t epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	uint16_t i, kept = 0;

	if (d->epoch != epoch) {
		memset(d->slot, 0, sizeof(d->slot));
		memset(d->count, 0, sizeof(d->count));
		d->epoch = epoch;
	}
	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);

		/* 4-way buckets, oldest entry replaced: a copy is recognised as
		 * long as fewer than 4 other hashes landed in its bucket since */
		if (dp_dedup_take(d, other, h)) {
			dp_drop(vm, pkts[i], VS_DROP_DUPLICATE);
			continue;
		}
		dp_dedup_put(d, origin, h);
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
