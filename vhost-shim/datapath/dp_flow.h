/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_flow.h - a port's compiled flow-policy table as the lcore sees it,
 * and the per-rule counters
 *
 * Theory of operation: the main loop owns the rule set (cfg->flow_rules,
 * flow_set.h) and compiles one table per port (flow_rules.h) when the
 * port is added, when a rule is added or deleted (policy-add,
 * policy-del) and when the port's buffer policy changes (the default
 * rules are its per-class settings).  A table is published wrapped in a
 * struct vs_dp_flow together with its per-rule counters:
 *  1. the main loop builds the new wrapper, with the slot map from the
 *     old table (by rule id) and the old table's generation;
 *  2. stores its pointer in vm->dp.flow with a release store;
 *  3. waits until every worker passed a quiescent point (vs_dp_quiesce(),
 *     the same RCU variable as port removal): from then on no lcore holds
 *     the old wrapper;
 *  4. adds the old counters into the new wrapper's carried counters (by
 *     rule id: a rule keeps its counts across tables; a deleted rule's
 *     are gone) and frees the old wrapper and table.
 * The lcore loads vm->dp.flow once per burst (acquire).  Its caps'
 * accounting (struct vs_flow_acct, flow_prio.h) is keyed to one table; when
 * it meets a newer one mid-episode it rebases the accounting with the
 * wrapper's slot map if the accounting is keyed to the table just
 * replaced, and otherwise (two changes within one of its bursts) keeps
 * every admitted frame as an orphan: still counted against the totals.
 *
 * Counters: @ctr is written by the owning lcore only (matched, buffered,
 * dropped: relaxed atomics, one writer), @stragglers by the main loop
 * only; @carried by the main loop only.  A reader adds the three.  A
 * reader on another thread (telemetry) holds a lock that the main loop
 * takes to replace or free a wrapper (vs_dp_flow_foreach_ctr()).
 *
 * A port whose table has no configured rule (n_user == 0) is buffered by
 * today's per-class code, unchanged (dp_buffer.c); its frames are still
 * counted under the default rules.
 */
#ifndef VS_DP_FLOW_H
#define VS_DP_FLOW_H

#include <stdint.h>

#include <glib.h>

#include "flow_rules.h"

struct vs_vm;
struct vs_flow_set;

/**
 * struct vs_dp_flow_ctr - one rule's counters on one port
 * @matched:	frames classified under it while the VM could not receive
 * @buffered:	of those, admitted to the buffer
 * @dropped:	of those, dropped (action drop, its caps, pressure, ring full)
 * @stragglers:	frames tunnelled to the destination after the resume
 */
struct vs_dp_flow_ctr {
	uint64_t matched;
	uint64_t buffered;
	uint64_t dropped;
	uint64_t stragglers;
};

/**
 * struct vs_dp_flow - a published table and its counters
 * @t:		the table (owned)
 * @prev_generation: generation of the table this one replaced (0: none)
 * @prev_n:	that table's n_rules
 * @prev_map:	per slot of that table: its slot here, or VS_FLOW_NO_SLOT
 * @ctr:	lcore-written counters, by slot
 * @stragglers:	main-loop-written straggler counts, by slot
 * @carried:	main loop: counts of earlier tables, by slot
 * @res_above_pkts: per priority: the packets every rule of a higher
 *		priority holds in reserve (frames held behind a replay)
 * @res_above_bytes: likewise in bytes
 */
struct vs_dp_flow {
	struct vs_flow_table *t;
	uint64_t prev_generation;
	uint32_t prev_n;
	uint32_t prev_map[VS_FLOW_MAX_SLOTS];
	struct vs_dp_flow_ctr ctr[VS_FLOW_MAX_SLOTS];
	uint64_t stragglers[VS_FLOW_MAX_SLOTS];
	struct vs_dp_flow_ctr carried[VS_FLOW_MAX_SLOTS];
	uint64_t res_above_pkts[VS_FLOW_PRIO_LEVELS];
	uint64_t res_above_bytes[VS_FLOW_PRIO_LEVELS];
};

/**
 * vs_dp_flow_install() - publish a new table for a port (main loop)
 * @vm:		the port
 * @t:		its new table, consumed
 *
 * Waits for the RCU grace period when it replaces a table (not on a port
 * no lcore sees yet).
 */
void vs_dp_flow_install(struct vs_vm *vm, struct vs_flow_table *t);

/**
 * vs_dp_flow_compile() - compile a port's table from a rule set
 * @vm:		the port
 * @set:	the rules
 * @policy:	the buffer policy the defaults come from (the port's, or
 *		one about to become it)
 * @error:	set when the rules do not compile for this port
 *
 * Return: the table, or NULL with @error set (naming the port)
 */
struct vs_flow_table *vs_dp_flow_compile(const struct vs_vm *vm, const struct vs_flow_set *set,
					 const struct vs_buf_policy *policy, GError **error);

/**
 * vs_dp_flow_detach() - free a port's table; only once no lcore sees the
 * port (after vs_dp_unpublish())
 * @vm:		the port
 */
void vs_dp_flow_detach(struct vs_vm *vm);

/**
 * vs_dp_flow_get_ctr() - a rule's counters on a port (main loop)
 * @vm:		the port
 * @slot:	the rule's slot in the port's current table
 * @out:	the counts since the port was added
 */
void vs_dp_flow_get_ctr(const struct vs_vm *vm, uint32_t slot, struct vs_dp_flow_ctr *out);

/**
 * vs_dp_flow_foreach_ctr() - every rule's counters on a port, in match
 * order, from any thread (the telemetry thread: under the wrapper's lock)
 * @vm:		the port (the caller keeps it alive: registry lock)
 * @fn:		called with the rule's name and counts
 * @opaque:	for @fn
 */
void vs_dp_flow_foreach_ctr(const struct vs_vm *vm,
			    void (*fn)(const char *name, const struct vs_dp_flow_ctr *c,
				       void *opaque), void *opaque);

/**
 * vs_dp_flow_set_rules() - the rule set ports compile their table from
 * when they are added (main.c: cfg->flow_rules; it outlives the ports)
 * @set:	the rules, or NULL: none
 */
void vs_dp_flow_set_rules(const struct vs_flow_set *set);

/**
 * vs_dp_flow_rules() - the rule set of vs_dp_flow_set_rules()
 *
 * Return: the set, or NULL
 */
const struct vs_flow_set *vs_dp_flow_rules(void);

/**
 * vs_dp_flow_count_straggler() - count a frame tunnelled after the resume
 * under its rule (main loop)
 * @vm:		the port
 * @frame:	the frame
 * @len:	its contiguous length
 * @wire_len:	its whole length
 */
void vs_dp_flow_count_straggler(struct vs_vm *vm, const uint8_t *frame, uint32_t len,
				uint32_t wire_len);

#endif /* VS_DP_FLOW_H */
