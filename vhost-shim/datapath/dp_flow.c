/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_flow.c - publish a port's flow-policy table; per-rule counters
 *
 * Theory of operation: see dp_flow.h.  No EAL here: the one dataplane
 * call is vs_dp_quiesce() (dataplane.c; the control tests' stubs make it
 * a no-op), so the control socket's unit tests run this code as is.
 */
#include <string.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "flow_set.h"
#include "vm.h"

static const struct vs_flow_set *dp_flow_set;
/* Readers off the main loop (DPDK's telemetry thread) hold it while they
 * read a port's wrapper; the main loop holds it to replace or free one */
static GMutex dp_flow_lock;

void vs_dp_flow_set_rules(const struct vs_flow_set *set)
{
	dp_flow_set = set;
}

const struct vs_flow_set *vs_dp_flow_rules(void)
{
	return dp_flow_set;
}

struct vs_flow_table *vs_dp_flow_compile(const struct vs_vm *vm, const struct vs_flow_set *set,
					 const struct vs_buf_policy *policy, GError **error)
{
	struct vs_flow_table *t;

	if (set) {
		t = vs_flow_set_compile(set, vm->cfg->name, policy, NULL, error);
	} else {
		t = vs_flow_rules_compile(NULL, 0, vm->cfg->name, policy, NULL, error);
	}
	if (!t)
		g_prefix_error(error, "port %s: ", vm->cfg->name);
	return t;
}

static void dp_flow_ctr_add(struct vs_dp_flow_ctr *to, const struct vs_dp_flow_ctr *a)
{
	to->matched += a->matched;
	to->buffered += a->buffered;
	to->dropped += a->dropped;
	to->stragglers += a->stragglers;
}

/* The counts of @old's slot @s: carried, the lcore's, the main loop's */
static void dp_flow_sum(const struct vs_dp_flow *f, uint32_t s, struct vs_dp_flow_ctr *out)
{
	struct vs_dp_flow_ctr live = {
		.matched = __atomic_load_n(&f->ctr[s].matched, __ATOMIC_RELAXED),
		.buffered = __atomic_load_n(&f->ctr[s].buffered, __ATOMIC_RELAXED),
		.dropped = __atomic_load_n(&f->ctr[s].dropped, __ATOMIC_RELAXED),
		.stragglers = __atomic_load_n(&f->stragglers[s], __ATOMIC_RELAXED),
	};

	*out = f->carried[s];
	dp_flow_ctr_add(out, &live);
}

void vs_dp_flow_install(struct vs_vm *vm, struct vs_flow_table *t)
{
	struct vs_dp_flow *old = vm->dp.flow;
	struct vs_dp_flow *f = g_new0(struct vs_dp_flow, 1);
	uint32_t s;

	f->t = t;
	for (s = 0; s < t->n_rules; s++) {
		const struct vs_flow_crule *r = &t->rules[s];
		unsigned int l;

		if (r->action == VS_FLOW_ACT_DROP)
			continue;
		for (l = 0; l < r->priority; l++) {
			f->res_above_pkts[l] += r->res_pkts;
			f->res_above_bytes[l] += r->res_bytes;
		}
	}
	if (old) {
		f->prev_generation = old->t->generation;
		f->prev_n = old->t->n_rules;
		vs_flow_rules_slot_map(old->t, t, f->prev_map);
	}
	g_mutex_lock(&dp_flow_lock);
	__atomic_store_n(&vm->dp.flow, f, __ATOMIC_RELEASE);
	g_mutex_unlock(&dp_flow_lock);
	if (!old)
		return;
	/* not under the lock: a telemetry reader must never wait for lcores */
	vs_dp_quiesce();	/* no lcore holds @old from here on */
	g_mutex_lock(&dp_flow_lock);
	for (s = 0; s < old->t->n_rules; s++) {
		struct vs_dp_flow_ctr sum;

		if (f->prev_map[s] == VS_FLOW_NO_SLOT)
			continue;
		dp_flow_sum(old, s, &sum);
		dp_flow_ctr_add(&f->carried[f->prev_map[s]], &sum);
	}
	g_mutex_unlock(&dp_flow_lock);
	vs_flow_rules_free(old->t);
	g_free(old);
}

void vs_dp_flow_detach(struct vs_vm *vm)
{
	struct vs_dp_flow *f;

	g_mutex_lock(&dp_flow_lock);
	f = vm->dp.flow;
	vm->dp.flow = NULL;
	g_mutex_unlock(&dp_flow_lock);
	if (f) {
		vs_flow_rules_free(f->t);
		g_free(f);
	}
}

void vs_dp_flow_get_ctr(const struct vs_vm *vm, uint32_t slot, struct vs_dp_flow_ctr *out)
{
	const struct vs_dp_flow *f = vm->dp.flow;

	memset(out, 0, sizeof(*out));
	if (f && slot < f->t->n_rules)
		dp_flow_sum(f, slot, out);
}

void vs_dp_flow_foreach_ctr(const struct vs_vm *vm,
			    void (*fn)(const char *name, const struct vs_dp_flow_ctr *c,
				       void *opaque), void *opaque)
{
	const struct vs_dp_flow *f;
	uint32_t s;

	g_mutex_lock(&dp_flow_lock);
	f = vm->dp.flow;
	for (s = 0; f && s < f->t->n_rules; s++) {
		struct vs_dp_flow_ctr c;

		dp_flow_sum(f, s, &c);
		fn(f->t->rules[s].name, &c, opaque);
	}
	g_mutex_unlock(&dp_flow_lock);
}

void vs_dp_flow_count_straggler(struct vs_vm *vm, const uint8_t *frame, uint32_t len,
				uint32_t wire_len)
{
	struct vs_dp_flow *f = vm->dp.flow;
	struct vs_flow_key key;
	uint32_t slot;

	if (!f)
		return;
	vs_flow_key_parse(frame, len, wire_len, vm->cfg->mac, &key);
	slot = vs_flow_rules_match(f->t, &key);
	if (slot != VS_FLOW_NO_SLOT)	/* one writer; telemetry reads it */
		__atomic_store_n(&f->stragglers[slot], f->stragglers[slot] + 1, __ATOMIC_RELAXED);
}
