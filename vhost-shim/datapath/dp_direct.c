/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_direct.c - destination: which sources reach the VM directly
 *
 * Theory of operation: see dp_direct.h.  The lcore half runs only while
 * the duplicate filter's window is open, and then costs a MAC compare per
 * frame and, for unicast frames to the VM, a flow-key parse and a lookup
 * in a table of a bounded number of probes.  A source new in the window
 * may be held from its first frame (dp_source_hold.h): the note says
 * which frames of a burst belong to a held source, so the frame is parsed
 * once for both.
 */
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dp_direct.h"
#include "dp_priv.h"
#include "dp_source_hold.h"
#include "flow_key.h"
#include "vm.h"

struct vs_dp_direct *vs_dp_direct_new(void)
{
	struct vs_dp_direct *d = g_new0(struct vs_dp_direct, 1);

	vs_flow_src_init(&d->notes, d->slots, VS_DP_DIRECT_SLOTS,
			 (uint64_t)g_random_int() << 32 | g_random_int());
	return d;
}

/* Whether @m is a unicast IP frame to the VM, and its @key: only such a
 * frame says where its source sends it */
static bool dp_direct_source(const struct vs_vm *vm, struct rte_mbuf *m, struct vs_flow_key *key)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);

	if (len < 6 || memcmp(frame, vm->cfg->mac, 6))
		return false;
	vs_flow_key_parse(frame, len, rte_pktmbuf_pkt_len(m), vm->cfg->mac, key);
	return key->flags & VS_FLOW_KEY_L3;
}

/* The frame's held source's slot, VS_DP_HOLD_NONE if it is not held */
static uint8_t dp_direct_one(struct vs_vm *vm, struct vs_dp_direct *d, struct rte_mbuf *m,
			     uint64_t now_ms, uint64_t tsc, bool find, bool may_hold)
{
	uint32_t head = d->head;
	struct vs_dp_direct_note *note;
	struct vs_flow_key key;
	uint8_t slot;

	if (!dp_direct_source(vm, m, &key))
		return VS_DP_HOLD_NONE;
	/* held since its note: every later frame of it is held too */
	slot = find ? dp_source_hold_find(vm, (uint8_t)key.af, key.src) : VS_DP_HOLD_NONE;
	if (slot != VS_DP_HOLD_NONE)
		return slot;
	/* full: not noted now, so a later frame of the source notes it */
	if (head - __atomic_load_n(&d->tail, __ATOMIC_ACQUIRE) >= VS_DP_DIRECT_QUEUE)
		return VS_DP_HOLD_NONE;
	if (!vs_flow_src_note_direct(&d->notes, key.af, key.src, now_ms))
		return VS_DP_HOLD_NONE;
	note = &d->q[head & (VS_DP_DIRECT_QUEUE - 1)];
	note->epoch = d->epoch;
	note->af = (uint8_t)key.af;
	memcpy(note->addr, key.src, sizeof(note->addr));
	__atomic_store_n(&d->head, head + 1, __ATOMIC_RELEASE);
	/* the source is new in this window: hold it from this frame on */
	return may_hold ? dp_source_hold_begin(vm, note->af, note->addr, d->epoch, tsc)
			: VS_DP_HOLD_NONE;
}

/*
 * The window is closed: nothing is noted and no hold begins, but a source
 * held from before keeps its frames' order.  The window may close between
 * the hold's poll, which read it open and kept the source, and this burst
 * (review 63, F1): the burst's frames of a held source go into the hold
 * behind its others, and the next poll releases them all, in order.
 */
static uint16_t dp_direct_still_held(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
				     uint8_t *slot)
{
	struct vs_flow_key key;
	uint16_t i, held = 0;

	if (!dp_source_hold_busy(vm))
		return 0;
	for (i = 0; i < n; i++) {
		if (!dp_direct_source(vm, pkts[i], &key))
			continue;
		slot[i] = dp_source_hold_find(vm, (uint8_t)key.af, key.src);
		held += slot[i] != VS_DP_HOLD_NONE;
	}
	return held;
}

uint16_t dp_direct_note(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, uint64_t tsc,
			uint32_t mode, uint8_t *slot)
{
	struct vs_dp_direct *d = vm->dp.direct;
	uint64_t now_ms = tsc / (rte_get_tsc_hz() / 1000 ? rte_get_tsc_hz() / 1000 : 1);
	bool may_hold = slot && dp_source_hold_may_begin(vm, mode);
	uint16_t i, held = 0;
	uint32_t epoch;

	if (slot)
		memset(slot, VS_DP_HOLD_NONE, n);
	if (!d || !__atomic_load_n(&vm->dp.hs.dedup_active, __ATOMIC_ACQUIRE))
		return slot ? dp_direct_still_held(vm, pkts, n, slot) : 0;
	epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	if (epoch != d->epoch) {	/* a new window: every source is new again */
		vs_flow_src_begin(&d->notes, now_ms);
		d->epoch = epoch;
	}
	for (i = 0; i < n; i++) {
		uint8_t s = dp_direct_one(vm, d, pkts[i], now_ms, tsc, slot != NULL, may_hold);

		if (s != VS_DP_HOLD_NONE) {
			slot[i] = s;
			held++;
		}
	}
	return held;
}

bool vs_dp_direct_peek(struct vs_vm *vm, struct vs_dp_direct_note *out)
{
	struct vs_dp_direct *d = vm->dp.direct;
	bool found = false;
	uint32_t epoch;
	uint32_t head;
	uint32_t tail;

	if (!d)
		return false;
	epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	head = __atomic_load_n(&d->head, __ATOMIC_ACQUIRE);
	for (tail = d->tail; tail != head && !found; ) {
		*out = d->q[tail & (VS_DP_DIRECT_QUEUE - 1)];
		found = out->epoch == epoch;
		if (!found)
			tail++;
	}
	if (tail != d->tail)		/* another window's notes: never sent */
		__atomic_store_n(&d->tail, tail, __ATOMIC_RELEASE);
	return found;
}

void vs_dp_direct_commit(struct vs_vm *vm)
{
	struct vs_dp_direct *d = vm->dp.direct;

	if (d && d->tail != __atomic_load_n(&d->head, __ATOMIC_ACQUIRE))
		__atomic_store_n(&d->tail, d->tail + 1, __ATOMIC_RELEASE);
}

bool vs_dp_direct_take(struct vs_vm *vm, struct vs_dp_direct_note *out)
{
	if (!vs_dp_direct_peek(vm, out))
		return false;
	vs_dp_direct_commit(vm);
	return true;
}

void vs_dp_direct_flush(struct vs_vm *vm)
{
	struct vs_dp_direct *d = vm->dp.direct;

	if (d)
		__atomic_store_n(&d->tail, __atomic_load_n(&d->head, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELEASE);
}

bool vs_dp_direct_window(const struct vs_vm *vm)
{
	return vm->dp.direct && __atomic_load_n(&vm->dp.hs.dedup_active, __ATOMIC_ACQUIRE);
}
