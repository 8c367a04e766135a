/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_dedup.c - the destination's duplicate filter (lcore)
 *
 * Theory of operation: see struct vs_dp_dedup in dp_priv.h: two tables,
 * one per origin, a frame is checked against the other origin's only, and
 * a match removes the entry it matched.  The main
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

/* The bucket comes from the high half: bit 0 of the hash is always set,
 * so h % buckets would only ever pick the odd buckets */
static inline uint64_t *dp_dedup_bucket(struct vs_dp_dedup *d, enum vs_dp_origin origin,
					uint64_t h)
{
	return &d->slot[origin][((h >> 32) % (VS_DEDUP_SLOTS / 4)) * 4];
}

/* Forget one entry @h of a bucket, if it is there; the newer ones move up */
static bool dp_dedup_take(uint64_t *b, uint64_t h)
{
	unsigned int w;

	for (w = 0; w < 4 && b[w] != h; w++)
		;
	if (w == 4)
		return false;
	for (; w < 3; w++)
		b[w] = b[w + 1];
	b[3] = 0;
	return true;
}

void dp_dedup_forget(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		     enum vs_dp_origin origin)
{
	uint16_t i;

	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);

		dp_dedup_take(dp_dedup_bucket(vm->dp.dedup, origin, h), h);
	}
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
		d->epoch = epoch;
	}
	for (i = 0; i < n; i++) {
		uint64_t h = dp_frame_hash(pkts[i]);
		/* 4-way buckets, oldest way replaced: a copy is recognised as long
		 * as fewer than 4 newer frames landed in its bucket meanwhile */
		uint64_t *b;

		if (dp_dedup_take(dp_dedup_bucket(d, other, h), h)) {
			dp_drop(vm, pkts[i], VS_DROP_DUPLICATE);
			continue;
		}
		b = dp_dedup_bucket(d, origin, h);
		b[3] = b[2];
		b[2] = b[1];
		b[1] = b[0];
		b[0] = h;
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
