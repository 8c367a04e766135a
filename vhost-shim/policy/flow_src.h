/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_src.h - per-source straggler switching
 *
 * Theory of operation: after a VM resumed at the destination, frames its
 * peers still send to the old host ("stragglers") are tunnelled to the
 * destination.  The port's linger-ms after the resume ends that for all
 * sources at once (the outer bound, handover_stragglers.c); here it stops
 * earlier, per source and rule: each (source address, rule) has an entry
 * whose state says whether that source's stragglers are still tunnelled.
 *
 *   WAITING  --trigger fires------------------------> LINGERING
 *   WAITING  --SIP BYE (trigger sip-bye-next)-------> ARMED
 *   ARMED    --the next frame from the source-------> LINGERING
 *   WAITING, ARMED --time-out (resume + timeout-ms)--> LINGERING
 *   LINGERING --linger-ms after the switch----------> STOPPED
 *
 *  - WAITING:   stragglers are tunnelled; the rule's trigger is awaited.
 *  - ARMED:     (sip-bye-next) a BYE was seen; still tunnelled.
 *  - LINGERING: the switch happened (trigger or time-out); stragglers are
 *               still tunnelled for linger-ms, for frames already under
 *               way on the old path.
 *  - STOPPED:   stragglers of this source are no longer tunnelled (the
 *               caller drops and counts them).
 * A source's last straggler is thus tunnelled at the latest at
 * resume + timeout-ms + linger-ms (with the default rules, the port's
 * linger-ms).  The frame that fires a trigger is itself still tunnelled (it
 * reached the old host and has nowhere else to go); the switch applies
 * to the frames after it.
 *
 * Events: the frame's own events (vs_flow_key_events(): TCP SYN, SIP
 * REGISTER, SIP BYE) and reports from elsewhere (VS_FLOW_EV_DIRECT: the
 * destination saw this source's traffic arrive directly).  Only the rule's
 * own trigger counts: a SYN switches nothing under trigger=sip-register.
 * The destination side keeps a table too, with vs_flow_src_note_direct(),
 * to report each source once.
 *
 * Transitions are one table (flow_src.c), changed only by one setter;
 * an event the table does not allow returns -EINVAL and changes nothing.
 * Times are the caller's monotonic milliseconds.
 *
 * Bounds: the table is a caller-provided array of a power-of-two size,
 * open addressing with at most VS_FLOW_SRC_PROBE probes: O(1) per frame,
 * no allocation, one owner: the thread that tunnels the VM's stragglers
 * and receives the reports, the main loop (handover_stragglers.c; the
 * lcore only queues stragglers in the held ring).
 * Ageing: an entry that can be rebuilt without changing any verdict is
 * reused when a new source needs its place: WAITING (rebuilt identical),
 * ARMED (rebuilt WAITING: the source is tunnelled longer, never less), and
 * any entry past its own final deadline (rebuilt STOPPED).  A LINGERING or
 * STOPPED entry before that deadline is kept, and so is a destination's
 * note (vs_flow_src_note_direct()).  A source that finds no place is
 * "untracked": its stragglers are tunnelled until
 * resume + timeout-ms + linger-ms, as today, and its triggers are not
 * seen; stats.untracked counts it (not exported by query-stats).
 */
#ifndef VS_FLOW_SRC_H
#define VS_FLOW_SRC_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_key.h"
#include "flow_rules.h"

/* Security consideration: probes per lookup, and the table size (entries) */
#define VS_FLOW_SRC_PROBE	8
#define VS_FLOW_SRC_MIN_SIZE	VS_FLOW_SRC_PROBE
#define VS_FLOW_SRC_MAX_SIZE	(1u << 16)
#define VS_FLOW_SRC_DEFAULT_SIZE 1024

enum vs_flow_src_state {
	VS_FLOW_SRC_FREE,	/* an unused slot */
	VS_FLOW_SRC_WAITING,
	VS_FLOW_SRC_ARMED,
	VS_FLOW_SRC_LINGERING,
	VS_FLOW_SRC_STOPPED,
	VS_FLOW_SRC_NUM_STATES,
};

enum vs_flow_src_event {
	VS_FLOW_SRC_EV_PACKET,		/* a frame from the source, no trigger in it */
	VS_FLOW_SRC_EV_ARM,		/* a SIP BYE, under trigger=sip-bye-next */
	VS_FLOW_SRC_EV_FIRE,		/* the rule's trigger */
	VS_FLOW_SRC_EV_TIMEOUT,		/* resume + timeout-ms passed */
	VS_FLOW_SRC_EV_LINGER_END,	/* switch + linger-ms passed */
	VS_FLOW_SRC_NUM_EVENTS,
};

extern const char *const vs_flow_src_state_names[VS_FLOW_SRC_NUM_STATES];
extern const char *const vs_flow_src_event_names[VS_FLOW_SRC_NUM_EVENTS];

/* What to do with a straggler */
enum vs_flow_src_verdict {
	VS_FLOW_SRC_TUNNEL,	/* forward it to the destination */
	VS_FLOW_SRC_STOP,	/* its source was switched: drop and count it */
};

/**
 * struct vs_flow_src_entry - one (source, rule)
 * @addr:	source address (as in struct vs_flow_key)
 * @rule_id:	the rule's id (VS_FLOW_SRC_NOTE_ID: a destination-side note)
 * @af:		address family
 * @state:	enum vs_flow_src_state
 * @switch_ms:	when it switched (LINGERING, STOPPED)
 * @stop_ms:	when it stops (LINGERING, STOPPED): switch_ms + linger-ms
 * @end_ms:	resume + timeout-ms + linger-ms: STOPPED by then whatever happens
 * @last_ms:	last use, for the choice of an entry to reuse
 */
struct vs_flow_src_entry {
	uint8_t addr[16];
	uint32_t rule_id;
	uint8_t af;
	uint8_t state;
	uint64_t switch_ms;
	uint64_t stop_ms;
	uint64_t end_ms;
	uint64_t last_ms;
};

#define VS_FLOW_SRC_NOTE_ID	UINT32_MAX

/**
 * struct vs_flow_src_stats - counters (the table's owner alone: the
 * source's main loop, or the destination's lcore for its notes)
 * @created:	entries made
 * @reused:	entries reused for another source (ageing)
 * @untracked:	stragglers of sources that found no entry
 * @fired:	switches by trigger
 * @timeouts:	switches by time-out
 * @stopped:	entries that reached STOPPED
 * @tunnelled:	stragglers with the verdict TUNNEL
 * @refused:	stragglers with the verdict STOP
 * @illegal:	events the transition table refused
 */
struct vs_flow_src_stats {
	uint64_t created;
	uint64_t reused;
	uint64_t untracked;
	uint64_t fired;
	uint64_t timeouts;
	uint64_t stopped;
	uint64_t tunnelled;
	uint64_t refused;
	uint64_t illegal;
};

/**
 * struct vs_flow_src - one VM's per-source table
 * @slots:	caller-provided entries
 * @mask:	number of entries - 1
 * @seed:	hash seed (random per table: a peer cannot aim collisions)
 * @resume_ms:	when forwarding began (vs_flow_src_begin())
 * @stats:	counters
 */
struct vs_flow_src {
	struct vs_flow_src_entry *slots;
	uint32_t mask;
	uint64_t seed;
	uint64_t resume_ms;
	struct vs_flow_src_stats stats;
};

/**
 * vs_flow_src_init() - set a table up over caller memory
 * @t:		table
 * @slots:	entries, a power of two of them
 *		(VS_FLOW_SRC_MIN_SIZE..VS_FLOW_SRC_MAX_SIZE)
 * @n:		number of entries
 * @seed:	hash seed
 *
 * Return: 0, or -EINVAL if @n is not an allowed size
 */
int vs_flow_src_init(struct vs_flow_src *t, struct vs_flow_src_entry *slots, uint32_t n,
		     uint64_t seed);

/**
 * vs_flow_src_begin() - forwarding begins (the VM resumed elsewhere):
 * every entry is forgotten
 * @t:		table
 * @now_ms:	the time of the resume
 */
void vs_flow_src_begin(struct vs_flow_src *t, uint64_t now_ms);

/**
 * vs_flow_src_straggler() - the verdict for one straggler
 * @t:		table
 * @rule:	the frame's rule (vs_flow_rules_match())
 * @key:	the frame's key; sources are per IP address (a frame without
 *		an IP header shares one entry per rule)
 * @events:	the frame's events (vs_flow_key_events())
 * @now_ms:	when the frame reached this host (now, if it is not known)
 *
 * Time-outs due are applied first; the verdict is taken; then the frame's
 * events are applied (so a frame that fires the trigger is tunnelled).
 * A frame is judged by when it arrived: one that arrived before its
 * source's stop_ms and waited in a queue (the held ring, behind a slow
 * tunnel) is tunnelled even if the source stopped meanwhile.
 *
 * Return: VS_FLOW_SRC_TUNNEL or VS_FLOW_SRC_STOP
 */
enum vs_flow_src_verdict vs_flow_src_straggler(struct vs_flow_src *t,
					       const struct vs_flow_crule *rule,
					       const struct vs_flow_key *key, unsigned int events,
					       uint64_t now_ms);

/**
 * vs_flow_src_report() - an event about a source seen elsewhere (e.g. the
 * destination's report that it arrives directly)
 * @t:		table
 * @rule:	the rule the source's frames match
 * @af:		address family
 * @addr:	source address (16 bytes, IPv4 in the first 4)
 * @events:	VS_FLOW_EV_* bits
 * @now_ms:	now
 */
void vs_flow_src_report(struct vs_flow_src *t, const struct vs_flow_crule *rule,
			enum vs_flow_af af, const uint8_t addr[16], unsigned int events,
			uint64_t now_ms);

/**
 * vs_flow_src_state() - a source's state (tests, query commands)
 * @t:		table
 * @rule_id:	rule id
 * @af:		address family
 * @addr:	source address
 *
 * Return: its state, VS_FLOW_SRC_FREE if it has no entry
 */
enum vs_flow_src_state vs_flow_src_state(const struct vs_flow_src *t, uint32_t rule_id,
					 enum vs_flow_af af, const uint8_t addr[16]);

/**
 * vs_flow_src_transition() - the transition table
 * @from:	state (not FREE)
 * @ev:		event
 *
 * Return: the new state, or -EINVAL if @ev is not allowed in @from
 */
int vs_flow_src_transition(enum vs_flow_src_state from, enum vs_flow_src_event ev);

/**
 * vs_flow_src_note_direct() - destination side: remember that a source's
 * frames arrived directly, to report it once
 * @t:		the destination's table for the VM
 * @af:		address family
 * @addr:	source address
 * @now_ms:	now
 *
 * Notes are never reused for another source until vs_flow_src_begin():
 * at most one report per source, and at most the table's size of them,
 * per window.  A source that finds no place is not reported (counted
 * untracked): the old host switches it by its time-out.
 *
 * Return: true the first time a source is seen: report it to the old host
 */
bool vs_flow_src_note_direct(struct vs_flow_src *t, enum vs_flow_af af, const uint8_t addr[16],
			     uint64_t now_ms);

#endif /* VS_FLOW_SRC_H */
