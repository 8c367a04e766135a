/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_direct.c - destination: which sources reach the VM directly
 *
 * Theory of operation: see dp_direct.h.  The lcore half runs only while
 * the duplicate filter's window is open, and then costs a MAC compare per
 * frame and, for unicast frames to the VM, a flow-key parse and a lookup
 * in a table of a bounded number of probes.
 */
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dp_direct.h"
#include "dp_priv.h"
#include "flow_key.h"
#include "vm.h"

struct vs_dp_direct *vs_dp_direct_new(void)
{
	struct vs_dp_direct *d = g_new0(struct vs_dp_direct, 1);

	vs_flow_src_init(&d->notes, d->slots, VS_DP_DIRECT_SLOTS,
			 (uint64_t)g_random_int() << 32 | g_random_int());
	return d;
}

static void dp_direct_one(struct vs_vm *vm, struct vs_dp_direct *d, struct rte_mbuf *m,
			  uint64_t now_ms)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	uint32_t head = d->head;
	struct vs_dp_direct_note *note;
	struct vs_flow_key key;

	/* only a unicast frame to the VM says where its source sends it */
	if (len < 6 || memcmp(frame, vm->cfg->mac, 6))
		return;
	vs_flow_key_parse(frame, len, rte_pktmbuf_pkt_len(m), vm->cfg->mac, &key);
	if (!(key.flags & VS_FLOW_KEY_L3))
		return;
	/* full: not noted now, so a later frame of the source notes it */
	if (head - __atomic_load_n(&d->tail, __ATOMIC_ACQUIRE) >= VS_DP_DIRECT_QUEUE)
		return;
	if (!vs_flow_src_note_direct(&d->notes, key.af, key.src, now_ms))
		return;
	note = &d->q[head & (VS_DP_DIRECT_QUEUE - 1)];
	note->epoch = d->epoch;
	note->af = (uint8_t)key.af;
	memcpy(note->addr, key.src, sizeof(note->addr));
	__atomic_store_n(&d->head, head + 1, __ATOMIC_RELEASE);
}

void dp_direct_note(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, uint64_t tsc)
{
	struct vs_dp_direct *d = vm->dp.direct;
	uint64_t now_ms = tsc / (rte_get_tsc_hz() / 1000 ? rte_get_tsc_hz() / 1000 : 1);
	uint32_t epoch;
	uint16_t i;

	if (!d || !__atomic_load_n(&vm->dp.hs.dedup_active, __ATOMIC_ACQUIRE))
		return;
	epoch = __atomic_load_n(&vm->dp.hs.dedup_epoch, __ATOMIC_ACQUIRE);
	if (epoch != d->epoch) {	/* a new window: every source is new again */
		vs_flow_src_begin(&d->notes, now_ms);
		d->epoch = epoch;
	}
	for (i = 0; i < n; i++)
		dp_direct_one(vm, d, pkts[i], now_ms);
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
