/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_prio.h - which frame a VM's buffer refuses when it runs full
 *
 * Theory of operation: while a VM cannot receive, its frames go into one
 * FIFO (the dataplane's ring), which the main loop drains concurrently (it
 * streams the buffer to the destination).  Caps count per buffering
 * episode, as today: what was admitted since the blackout or pause began.
 * Each frame is admitted or refused once, on arrival, by
 * vs_flow_prio_admit(), against
 *  1. its rule's own caps (max-pkts, max-bytes; the port's totals when
 *     not given): refused as VS_FLOW_DROP_RULE_CAP;
 *  2. the VM's global caps (total-max-pkts, total-max-bytes), less what
 *     rules of *higher* priority still hold in reserve: refused as
 *     VS_FLOW_DROP_PRESSURE.
 * A rule whose caps were given explicitly holds them in reserve against
 * every rule of lower priority: lower priorities are refused while
 *     admitted + this frame + unused reservations above > global cap
 * (in packets, and in bytes), where a rule's unused reservation is what
 * it holds minus what it admitted.  It holds max-pkts packets and
 * max-bytes bytes; given max-pkts alone, room for that many frames of
 * VS_FLOW_RES_FRAME_BYTES (at most the total); given max-bytes alone, no
 * packets.  So a rule with max-pkts at priority p, and frames of at most
 * VS_FLOW_RES_FRAME_BYTES, is refused only by its own caps, or when rules
 * at priority p or above filled the buffer: lower priorities cannot take
 * its share, as long as the reservations at p and above fit in the
 * totals (tests/unit/test_flow_prio.c checks it).  Rules at one priority
 * share what is left first come, first served; a rule without caps of
 * its own reserves nothing.  vs_flow_rules_compile() refuses rules whose
 * reservations leave nothing to a lower priority that has rules.
 *
 * Why reservations and not eviction.  Admission control never removes a
 * frame from the middle of the FIFO, so arrival order, and the exactness
 * of the accounting (every frame is counted once, as admitted or as one
 * drop reason, when it arrives) hold trivially.  Evicting an older
 * lower-priority frame instead would need tombstones in a ring another
 * thread is draining, and cannot recall a frame already streamed to the
 * destination.  The one eviction there is stays today's: with
 * overflow=drop-oldest the lcore may take the *head* of the FIFO (the
 * oldest frame, so the order of the rest is unchanged) to make room, and
 * now only if the head's priority is not above the arriving frame's
 * (vs_flow_prio_may_evict()); the head's rule id and priority travel with
 * the frame (an mbuf dynamic field, when wired) so that
 * vs_flow_prio_release() gives back exactly what it took.
 *
 * Threads: one struct vs_flow_acct per VM, owned by the lcore that
 * buffers the VM's frames; no locks, no allocation.  It is keyed to one
 * compiled table; when the lcore sees a new table (generation) mid-episode
 * it calls vs_flow_prio_rebase(), which moves each rule's counts to the
 * rule's slot in the new table and keeps those of deleted rules as
 * "orphans" (still counted in the totals, released by id as they leave).
 */
#ifndef VS_FLOW_PRIO_H
#define VS_FLOW_PRIO_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_rules.h"

/* What vs_flow_prio_admit() decided */
enum vs_flow_verdict {
	VS_FLOW_ADMIT,
	VS_FLOW_DROP_POLICY,	/* the rule's action is drop */
	VS_FLOW_DROP_RULE_CAP,	/* the rule's own caps are reached */
	VS_FLOW_DROP_PRESSURE,	/* the global caps, less the reservations above, are */
	VS_FLOW_NUM_VERDICTS,
};

extern const char *const vs_flow_verdict_names[VS_FLOW_NUM_VERDICTS];

/**
 * struct vs_flow_acct - one VM's buffer accounting for one episode
 * @generation:	the table the slots below refer to
 * @pkts:	frames admitted, all rules (orphans included)
 * @bytes:	their bytes
 * @unres_pkts:	per priority: packets the rules with reservations may still
 *		take (sum of cap - admitted)
 * @unres_bytes: likewise in bytes
 * @orphan_pkts: frames of rules no longer in the table
 * @orphan_bytes: their bytes
 * @rule_pkts:	per slot: frames admitted
 * @rule_bytes:	per slot: their bytes
 */
struct vs_flow_acct {
	uint64_t generation;
	uint64_t pkts;
	uint64_t bytes;
	uint64_t unres_pkts[VS_FLOW_PRIO_LEVELS];
	uint64_t unres_bytes[VS_FLOW_PRIO_LEVELS];
	uint64_t orphan_pkts;
	uint64_t orphan_bytes;
	uint64_t rule_pkts[VS_FLOW_MAX_SLOTS];
	uint64_t rule_bytes[VS_FLOW_MAX_SLOTS];
};

/**
 * vs_flow_prio_reset() - start an episode: nothing admitted
 * @a:		accounting
 * @t:		the table in force
 */
void vs_flow_prio_reset(struct vs_flow_acct *a, const struct vs_flow_table *t);

/**
 * vs_flow_prio_admit() - admit or refuse one frame, and account for it
 * @a:		accounting, keyed to @t
 * @t:		table
 * @slot:	the frame's rule (vs_flow_rules_match())
 * @len:	the frame's length
 *
 * Return: VS_FLOW_ADMIT (counted in @a), or the reason it is refused
 * (@a unchanged)
 */
enum vs_flow_verdict vs_flow_prio_admit(struct vs_flow_acct *a, const struct vs_flow_table *t,
					uint32_t slot, uint32_t len);

/**
 * vs_flow_prio_may_evict() - may a frame of rule @slot take the head of
 * the FIFO to make room (overflow=drop-oldest)
 * @t:		table
 * @slot:	the arriving frame's rule
 * @head_priority: the priority the head frame was admitted with
 *
 * Return: true if the head's priority is not above the arriving frame's
 */
bool vs_flow_prio_may_evict(const struct vs_flow_table *t, uint32_t slot, uint8_t head_priority);

/**
 * vs_flow_prio_release() - give back what an evicted frame took
 * @a:		accounting, keyed to @t
 * @t:		table
 * @id:		the rule id the frame was admitted under
 * @len:	its length
 */
void vs_flow_prio_release(struct vs_flow_acct *a, const struct vs_flow_table *t, uint32_t id,
			  uint32_t len);

/**
 * vs_flow_prio_rebase() - key the accounting to a new table, mid-episode
 * @a:		accounting, keyed to @from
 * @from:	the table it was keyed to
 * @to:		the new table
 */
void vs_flow_prio_rebase(struct vs_flow_acct *a, const struct vs_flow_table *from,
			 const struct vs_flow_table *to);

/**
 * vs_flow_prio_rebase_map() - vs_flow_prio_rebase() from a slot map, for
 * a caller that no longer has the old table (the lcore: dp_flow.h)
 * @a:		accounting, keyed to a table of @n_from rules
 * @map:	per old slot: its slot in @to or VS_FLOW_NO_SLOT; NULL: every
 *		old slot is gone (its frames become orphans)
 * @n_from:	slots of the old table (at most VS_FLOW_MAX_SLOTS are read)
 * @to:		the new table
 */
void vs_flow_prio_rebase_map(struct vs_flow_acct *a, const uint32_t *map, uint32_t n_from,
			     const struct vs_flow_table *to);

#endif /* VS_FLOW_PRIO_H */
