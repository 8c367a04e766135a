/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_prio.c - admission under the caps, by priority and reservation
 *
 * Theory of operation: see flow_prio.h.  Invariant, for every priority l:
 *   unres[l] = sum over the rules r at l of max(0, reserved_r - used_r)
 * (reserved_r: the caps r was given explicitly, 0 otherwise)
 * kept exact by recomputing a rule's contribution before and after each
 * change of its usage (prio_contrib()).
 */
#include <string.h>

#include "flow_prio.h"

const char *const vs_flow_verdict_names[VS_FLOW_NUM_VERDICTS] = {
	[VS_FLOW_ADMIT] = "admitted",
	[VS_FLOW_DROP_POLICY] = "policy",
	[VS_FLOW_DROP_RULE_CAP] = "rule-cap",
	[VS_FLOW_DROP_PRESSURE] = "pressure",
};

static inline uint64_t prio_sub0(uint64_t cap, uint64_t used)
{
	return cap > used ? cap - used : 0;
}

/* Remove (@sign < 0) or add slot @s's unused reservation to its level */
static void prio_contrib(struct vs_flow_acct *a, const struct vs_flow_table *t, uint32_t s,
			 int sign)
{
	const struct vs_flow_crule *r = &t->rules[s];
	uint64_t p = prio_sub0(r->res_pkts, a->rule_pkts[s]);
	uint64_t b = prio_sub0(r->res_bytes, a->rule_bytes[s]);

	if (sign < 0) {
		a->unres_pkts[r->priority] -= p;
		a->unres_bytes[r->priority] -= b;
	} else {
		a->unres_pkts[r->priority] += p;
		a->unres_bytes[r->priority] += b;
	}
}

void vs_flow_prio_reset(struct vs_flow_acct *a, const struct vs_flow_table *t)
{
	uint32_t s;

	memset(a, 0, sizeof(*a));
	a->generation = t->generation;
	for (s = 0; s < t->n_rules; s++)
		prio_contrib(a, t, s, +1);
}

enum vs_flow_verdict vs_flow_prio_admit(struct vs_flow_acct *a, const struct vs_flow_table *t,
					uint32_t slot, uint32_t len)
{
	const struct vs_flow_crule *r = &t->rules[slot];
	uint64_t above_p = 0, above_b = 0;
	unsigned int l;

	if (r->action == VS_FLOW_ACT_DROP)
		return VS_FLOW_DROP_POLICY;
	if (a->rule_pkts[slot] + 1 > r->max_pkts || a->rule_bytes[slot] + len > r->max_bytes)
		return VS_FLOW_DROP_RULE_CAP;
	for (l = r->priority + 1u; l < VS_FLOW_PRIO_LEVELS; l++) {
		above_p += a->unres_pkts[l];
		above_b += a->unres_bytes[l];
	}
	if (a->pkts + 1 + above_p > t->total_pkts || a->bytes + len + above_b > t->total_bytes)
		return VS_FLOW_DROP_PRESSURE;
	prio_contrib(a, t, slot, -1);
	a->rule_pkts[slot]++;
	a->rule_bytes[slot] += len;
	prio_contrib(a, t, slot, +1);
	a->pkts++;
	a->bytes += len;
	return VS_FLOW_ADMIT;
}

bool vs_flow_prio_may_evict(const struct vs_flow_table *t, uint32_t slot, uint8_t head_priority)
{
	return head_priority <= t->rules[slot].priority;
}

void vs_flow_prio_release(struct vs_flow_acct *a, const struct vs_flow_table *t, uint32_t id,
			  uint32_t len)
{
	uint32_t s = vs_flow_rules_slot(t, id);

	/* never below zero: a frame of an earlier episode released late */
	if (s != VS_FLOW_NO_SLOT && a->rule_pkts[s]) {
		prio_contrib(a, t, s, -1);
		a->rule_pkts[s]--;
		a->rule_bytes[s] -= len < a->rule_bytes[s] ? len : a->rule_bytes[s];
		prio_contrib(a, t, s, +1);
	} else if (a->orphan_pkts) {
		a->orphan_pkts--;
		a->orphan_bytes -= len < a->orphan_bytes ? len : a->orphan_bytes;
	} else {
		return;
	}
	a->pkts--;
	a->bytes -= len < a->bytes ? len : a->bytes;
}

void vs_flow_prio_rebase(struct vs_flow_acct *a, const struct vs_flow_table *from,
			 const struct vs_flow_table *to)
{
	uint32_t map[VS_FLOW_MAX_SLOTS];

	vs_flow_rules_slot_map(from, to, map);
	vs_flow_prio_rebase_map(a, map, from->n_rules, to);
}

void vs_flow_prio_rebase_map(struct vs_flow_acct *a, const uint32_t *map, uint32_t n_from,
			     const struct vs_flow_table *to)
{
	uint64_t pkts[VS_FLOW_MAX_SLOTS] = { 0 }, bytes[VS_FLOW_MAX_SLOTS] = { 0 };
	uint32_t s;

	for (s = 0; s < n_from && s < VS_FLOW_MAX_SLOTS; s++) {
		if (!map || map[s] == VS_FLOW_NO_SLOT || map[s] >= to->n_rules) {
			a->orphan_pkts += a->rule_pkts[s];
			a->orphan_bytes += a->rule_bytes[s];
		} else {
			pkts[map[s]] = a->rule_pkts[s];
			bytes[map[s]] = a->rule_bytes[s];
		}
	}
	memcpy(a->rule_pkts, pkts, sizeof(pkts));
	memcpy(a->rule_bytes, bytes, sizeof(bytes));
	memset(a->unres_pkts, 0, sizeof(a->unres_pkts));
	memset(a->unres_bytes, 0, sizeof(a->unres_bytes));
	for (s = 0; s < to->n_rules; s++)
		prio_contrib(a, to, s, +1);
	a->generation = to->generation;
}
