/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_rules.c - the lcore's half of the flow policy: a buffered frame's
 * rule, its admission under the caps by priority, the per-rule counters
 *
 * Theory of operation: dp_buffer() (dp_buffer.c) hands each frame of a
 * port with configured rules to dp_buffer_rules(): its flow key is parsed
 * once (vs_flow_key_parse(), whose class is vs_pkt_classify()'s), its rule
 * matched in the table the lcore loaded for the burst (dp_flow.h), and it
 * is admitted by vs_flow_prio_admit() (flow_prio.h) against the rule's own
 * caps and the VM's totals less what higher priorities hold in reserve,
 * and against what held holds now.  A refused frame is counted under one
 * drop reason and under its rule.  dp_flow_sync() keys the accounting
 * (vm->dp.facct, lcore only) to the table in force.
 *
 * Frames held behind a replay (a full guest ring, live frames behind a
 * replay: dp_hold()) are bounded by what held holds now, not by an
 * episode: dp_hold_rules() admits a frame while held, with it, stays
 * within the VM's totals less everything the rules of higher priority
 * reserve (the reservations in full: what they hold now is not tracked
 * per rule), so a lower priority keeps at most total - reservations above
 * it there, and the higher ones always find their reservation free.
 * Frames the RX ring bound holds back (dp_ring_bound.c) wait under those
 * totals whatever their rule's action: a rule that drops is a migration
 * buffer's policy, not a reason to lose what the ring had room for.
 */
#include <rte_mbuf.h>

#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

/* Frames held holds now, all classes */
static uint64_t dp_held_total(const struct vs_vm *vm)
{
	const struct vs_dp_handshake *hs = &vm->dp.hs;
	uint64_t n = 0;
	int c;

	for (c = 0; c < VS_PKT_NUM_CLASSES; c++)
		n += __atomic_load_n(&hs->held_pkts[c], __ATOMIC_RELAXED);
	return n;
}

/* dp_priv.h */
bool dp_hold_rules(struct vs_vm *vm, struct vs_dp_flow *f, struct rte_mbuf *m, bool waits)
{
	const struct vs_flow_table *t = f->t;
	const struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	uint64_t bytes = 0;
	const struct vs_flow_crule *r;
	struct vs_flow_key key;
	uint32_t slot;
	int c;

	vs_flow_key_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m), len,
			  vm->cfg->mac, &key);
	slot = vs_flow_rules_match(t, &key);
	if (slot == VS_FLOW_NO_SLOT)	/* a runt or our own: held as other, as today */
		slot = t->n_user + VS_PKT_OTHER;
	r = &t->rules[slot];
	dp_flow_inc(&f->ctr[slot].matched);
	if (r->action == VS_FLOW_ACT_DROP && !waits) {
		dp_flow_inc(&f->ctr[slot].dropped);
		dp_drop(vm, m, VS_DROP_POLICY);
		return false;
	}
	for (c = 0; c < VS_PKT_NUM_CLASSES; c++)
		bytes += __atomic_load_n(&hs->held_bytes[c], __ATOMIC_RELAXED);
	if (dp_held_total(vm) + 1 + f->res_above_pkts[r->priority] > t->total_pkts ||
	    bytes + len + f->res_above_bytes[r->priority] > t->total_bytes ||
	    !dp_held_put(vm, &m, 1)) {
		dp_flow_inc(&f->ctr[slot].dropped);
		dp_drop(vm, m, VS_DROP_BUFFER_FULL);
		return false;
	}
	dp_flow_inc(&f->ctr[slot].buffered);
	return true;
}

/* dp_priv.h */
void dp_flow_sync(struct vs_vm *vm, const struct vs_dp_flow *f, bool new_episode)
{
	struct vs_flow_acct *fa = &vm->dp.facct;

	if (new_episode)
		vs_flow_prio_reset(fa, f->t);
	else if (fa->generation != f->t->generation && fa->generation == f->prev_generation)
		vs_flow_prio_rebase_map(fa, f->prev_map, f->prev_n, f->t);
	else if (fa->generation != f->t->generation)
		vs_flow_prio_rebase_map(fa, NULL, VS_FLOW_MAX_SLOTS, f->t);
}

/* dp_priv.h */
bool dp_buffer_rules(struct vs_vm *vm, struct vs_dp_flow *f, struct rte_mbuf *m, bool caps,
		     enum vs_pkt_class *cls)
{
	const struct vs_flow_table *t = f->t;
	uint32_t len = rte_pktmbuf_pkt_len(m);
	enum vs_flow_verdict v = VS_FLOW_ADMIT;
	struct vs_flow_key key;
	uint32_t slot;

	*cls = vs_flow_key_parse(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
				 len, vm->cfg->mac, &key);
	if (*cls == VS_PKT_RUNT) {
		dp_drop(vm, m, VS_DROP_RUNT);
		return false;
	}
	/* never replay a VM its own frames, from any MAC it sent from */
	if (*cls == VS_PKT_OWN_MAC || dp_learned_own(vm, m)) {
		dp_drop(vm, m, VS_DROP_OWN_MAC);
		return false;
	}
	slot = vs_flow_rules_match(t, &key);
	if (caps) {
		dp_flow_inc(&f->ctr[slot].matched);
		v = vs_flow_prio_admit(&vm->dp.facct, t, slot, len);
		/* frames requeued from an earlier episode count too: what held
		 * holds now stays within the totals the pool was sized for */
		if (v == VS_FLOW_ADMIT && dp_held_total(vm) + 1 > t->total_pkts) {
			vs_flow_prio_release(&vm->dp.facct, t, t->rules[slot].id, len);
			v = VS_FLOW_DROP_PRESSURE;
		}
	}
	if (v == VS_FLOW_ADMIT && dp_held_put(vm, &m, 1)) {
		if (caps)
			dp_flow_inc(&f->ctr[slot].buffered);
		return true;
	}
	if (v == VS_FLOW_ADMIT && caps)	/* the ring is full: give it back */
		vs_flow_prio_release(&vm->dp.facct, t, t->rules[slot].id, len);
	/* (a frame refused above was never admitted, or was given back) */
	if (caps)
		dp_flow_inc(&f->ctr[slot].dropped);
	dp_drop(vm, m, v == VS_FLOW_DROP_POLICY ? VS_DROP_POLICY : VS_DROP_BUFFER_FULL);
	return false;
}
