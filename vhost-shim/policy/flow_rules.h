/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_rules.h - flow-policy rules, and the compiled table lcores match with
 *
 * Theory of operation: a rule says what happens to the frames of some
 * flows while their VM cannot receive them (blackout, pause): `buffer`
 * them under the rule's own caps and priority, `hold` them (TCP, the same
 * with the connection's fate on loss decided by tcp-on-loss), or `drop`
 * them; and, after the VM resumed elsewhere, how long the frames its
 * sources still send to the old host ("stragglers") are tunnelled on:
 * until the rule's trigger fires or its time-out ends, then linger-ms
 * more (flow_src.h).
 *
 * Matching.  A rule matches on any of: source and destination prefix
 * (IPv4 or IPv6, one family per rule), IP protocol, source and destination
 * port ranges, the outermost VLAN id and the DSCP.  Absent fields match
 * anything.  A field a frame does not have (no well-formed IP header, no
 * ports in a later fragment, no tag) does not match a rule on that field
 * (flow_key.h says what counts as well formed).
 *
 * The most specific rule wins, in this total order (first difference
 * decides):
 *  1. more header bits pinned down: the sum of the source and destination
 *     prefix lengths, 8 for a protocol, 12 for a VLAN id, 6 for a DSCP, and
 *     16 - log2(size) for each port range (a single port: 16; 0-65535: 0),
 *     in 1/256 bits.  This extends "a subset is more specific": a rule whose
 *     every field is at least as narrow as another's never ranks below it.
 *  2. more fields given;
 *  3. the longer source prefix (a rule without one counts as -1);
 *  4. the longer destination prefix (likewise);
 *  5. the rule defined first (the lower id: ids count definitions).
 * After every configured rule come the three default rules, one per
 * class of vs_pkt_classify() (udp, tcp, other): today's per-class buffer
 * policy (struct vs_buf_policy), so a port without rules behaves as
 * before.  Every frame that is not a runt nor the VM's own thus has
 * exactly one rule.
 *
 * The compiled table.  vs_flow_rules_compile() checks a port's rules
 * against each other and the port's caps and builds a struct
 * vs_flow_table: one block, read-only from then on, that the lcores read
 * without locks.  The rules are in match order, and split into buckets by
 * (IP family, TCP/UDP/other), each the rules that can match such a frame,
 * so vs_flow_rules_match() scans at most VS_FLOW_MAX_RULES entries of a
 * few compares each, allocating nothing.
 *
 * Publishing (to be wired): the main loop compiles a new table when the
 * port's rules change, stores its pointer with a release store, waits
 * until every lcore has passed a quiescent point (the port's rte_rcu_qsbr,
 * as destroy_device does) and only then frees the old one.  An lcore loads
 * the pointer once per burst.  Per-rule state the lcore keeps (caps
 * accounting, counters) is indexed by slot and carried over to the new
 * table by rule id (vs_flow_rules_slot_map()), since the same rule can
 * sit in another slot of the new table.
 */
#ifndef VS_FLOW_RULES_H
#define VS_FLOW_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "config.h"
#include "flow_key.h"

/* Security consideration: matching cost and table size per port are bounded */
#define VS_FLOW_MAX_RULES	256
#define VS_FLOW_NUM_DEFAULTS	VS_PKT_NUM_CLASSES
#define VS_FLOW_MAX_SLOTS	(VS_FLOW_MAX_RULES + VS_FLOW_NUM_DEFAULTS)
#define VS_FLOW_NO_SLOT		UINT32_MAX
/* names: in logs, control replies and the stats; [A-Za-z0-9_.-] */
#define VS_FLOW_NAME_MAX	31
/* priorities 0 (lowest, the default) .. 7 */
#define VS_FLOW_PRIO_LEVELS	8
/*
 * A rule's linger-ms (stragglers still tunnelled after its switch) unless
 * the rule sets it: 0, but VS_FLOW_DEFAULT_DIRECT_LINGER_MS under the
 * trigger direct-arrival.  That trigger fires on one frame of the source
 * reaching the destination directly, which does not prove that the rest
 * do: frames already in flight on the old path, and a network that sends
 * some of the source's frames each way for a while (MLAG/ECMP peers whose
 * MAC tables sync with a delay) still reach the old host.  The cost: the
 * frames of those 500 ms that also reached the destination directly are
 * tunnelled too, and its duplicate filter removes them.
 */
#define VS_FLOW_DEFAULT_LINGER_MS 0
#define VS_FLOW_DEFAULT_DIRECT_LINGER_MS 500
/* the bytes a max-pkts reservation keeps per packet: a full-size frame
 * with two VLAN tags, without FCS (1514 + 8) */
#define VS_FLOW_RES_FRAME_BYTES	1522
/* ids of the default rules; configured rules have lower ids */
#define VS_FLOW_ID_DEFAULT_BASE	(UINT32_MAX - VS_FLOW_NUM_DEFAULTS + 1)
#define VS_FLOW_ID_DEFAULT(cls)	(VS_FLOW_ID_DEFAULT_BASE + (uint32_t)(cls))

/* Errors of rule checks, the compiler and the parser (flow_syntax.h) */
#define VS_FLOW_ERROR (vs_flow_error_quark())
GQuark vs_flow_error_quark(void);

/* What happens to a rule's frames while the VM cannot receive them */
enum vs_flow_action {
	VS_FLOW_ACT_BUFFER,	/* keep in order, under the rule's caps and priority */
	VS_FLOW_ACT_HOLD,	/* TCP: keep as buffer; on loss, tcp-on-loss applies */
	VS_FLOW_ACT_DROP,	/* drop, counted as "policy" under the rule */
	VS_FLOW_NUM_ACTIONS,
};

/* What ends the tunnelling of a source's stragglers before its time-out */
enum vs_flow_trigger {
	VS_FLOW_TRIG_NONE,		/* only the time-out */
	VS_FLOW_TRIG_TCP_SYN,		/* a new TCP connection (SYN) from the source */
	VS_FLOW_TRIG_SIP_REGISTER,	/* a SIP REGISTER from the source */
	VS_FLOW_TRIG_SIP_BYE_NEXT,	/* the first frame from the source after a SIP BYE */
	VS_FLOW_TRIG_DIRECT,		/* the destination reports the source reaches it directly */
	VS_FLOW_NUM_TRIGGERS,
};

/* What happens to the VM's TCP connections when it is lost for good */
enum vs_flow_tcp_loss {
	VS_FLOW_TCP_LOSS_DROP,	/* nothing: the peers time out */
	VS_FLOW_TCP_LOSS_RESET,	/* validated RSTs to the peers (tcp_ct.h) */
	VS_FLOW_NUM_TCP_LOSS,
};

extern const char *const vs_flow_action_names[VS_FLOW_NUM_ACTIONS];
extern const char *const vs_flow_trigger_names[VS_FLOW_NUM_TRIGGERS];
extern const char *const vs_flow_tcp_loss_names[VS_FLOW_NUM_TCP_LOSS];

/* struct vs_flow_match.fields */
#define VS_FLOW_M_SRC		(1u << 0)
#define VS_FLOW_M_DST		(1u << 1)
#define VS_FLOW_M_PROTO		(1u << 2)
#define VS_FLOW_M_SPORT		(1u << 3)
#define VS_FLOW_M_DPORT		(1u << 4)
#define VS_FLOW_M_VLAN		(1u << 5)
#define VS_FLOW_M_DSCP		(1u << 6)
#define VS_FLOW_M_CLASS		(1u << 7)	/* the default rules only */
/* fields that need a well-formed IP header */
#define VS_FLOW_M_L3		(VS_FLOW_M_SRC | VS_FLOW_M_DST | VS_FLOW_M_PROTO | \
				 VS_FLOW_M_SPORT | VS_FLOW_M_DPORT | VS_FLOW_M_DSCP)

/**
 * struct vs_flow_prefix - an address prefix
 * @af:		VS_FLOW_AF_INET or VS_FLOW_AF_INET6
 * @len:	prefix length, 0..32 or 0..128
 * @addr:	network byte order (IPv4: first 4 bytes); no bits set past @len
 */
struct vs_flow_prefix {
	enum vs_flow_af af;
	uint8_t len;
	uint8_t addr[16];
};

/**
 * struct vs_flow_match - what a rule matches
 * @fields:	VS_FLOW_M_*: the fields given; the others match anything
 * @src:	source prefix
 * @dst:	destination prefix (same family as @src when both are given)
 * @proto:	IP protocol
 * @dscp:	DSCP, 0..63
 * @vlan:	VLAN id of the outermost tag, 0..4095
 * @sport_lo:	source port range, inclusive
 * @sport_hi:	likewise
 * @dport_lo:	destination port range, inclusive
 * @dport_hi:	likewise
 * @cls:	the class of a default rule (VS_FLOW_M_CLASS)
 */
struct vs_flow_match {
	uint32_t fields;
	struct vs_flow_prefix src;
	struct vs_flow_prefix dst;
	uint8_t proto;
	uint8_t dscp;
	uint16_t vlan;
	uint16_t sport_lo;
	uint16_t sport_hi;
	uint16_t dport_lo;
	uint16_t dport_hi;
	enum vs_pkt_class cls;
};

/* struct vs_flow_rule.set: the optional keys given explicitly */
#define VS_FLOW_SET_PRIORITY	(1u << 0)
#define VS_FLOW_SET_MAX_PKTS	(1u << 1)
#define VS_FLOW_SET_MAX_BYTES	(1u << 2)
#define VS_FLOW_SET_LINGER	(1u << 3)
#define VS_FLOW_SET_TIMEOUT	(1u << 4)
#define VS_FLOW_SET_TRIGGER	(1u << 5)
#define VS_FLOW_SET_TCP_LOSS	(1u << 6)
#define VS_FLOW_SET_PORTS	(1u << 7)
#define VS_FLOW_SET_MATCH	(1u << 8)
#define VS_FLOW_SET_ACTION	(1u << 9)

/**
 * struct vs_flow_rule - one rule as configured (control plane only)
 * @name:	unique per rule set; not "default-*" (the default rules)
 * @id:		definition order, unique in a rule set: the final tie-break
 *		of the match order and the rule's identity across tables
 * @ports:	the ports it applies to (NULL-terminated), NULL: every port
 * @match:	what it matches
 * @action:	what happens to its frames while the VM cannot receive them
 * @set:	VS_FLOW_SET_*: which of the keys below were given
 * @priority:	0..7: under pressure, lower priorities lose first (flow_prio.h)
 * @max_pkts:	its own packet cap per episode (default: the port's total);
 *		given explicitly, also held in reserve against lower priorities,
 *		with room for as many frames of VS_FLOW_RES_FRAME_BYTES unless
 *		max-bytes is given too (flow_prio.h)
 * @max_bytes:	its own byte cap per episode (default: the port's total);
 *		given explicitly, also held in reserve
 * @linger_ms:	stragglers are tunnelled this much longer after the switch
 * @timeout_ms:	the switch happens this long after the resume at the latest
 *		(default: the port's linger-ms)
 * @trigger:	what switches a source earlier
 * @tcp_on_loss: what its TCP connections get when the VM is lost
 *		(default: the port's tcp-on-loss)
 */
struct vs_flow_rule {
	char name[VS_FLOW_NAME_MAX + 1];
	uint32_t id;
	char **ports;
	struct vs_flow_match match;
	enum vs_flow_action action;
	uint32_t set;
	uint8_t priority;
	uint32_t max_pkts;
	uint64_t max_bytes;
	uint32_t linger_ms;
	uint32_t timeout_ms;
	enum vs_flow_trigger trigger;
	enum vs_flow_tcp_loss tcp_on_loss;
};

/* struct vs_flow_port_opts.set */
#define VS_FLOW_POPT_TOTAL_PKTS		(1u << 0)
#define VS_FLOW_POPT_TOTAL_BYTES	(1u << 1)

/**
 * struct vs_flow_port_opts - a port's flow-policy keys (to be merged into
 * its struct vs_buf_policy when the policy is wired in)
 * @set:	VS_FLOW_POPT_*: which totals were given
 * @total_max_pkts: the VM's global packet cap per episode, all rules
 *		together (default: the three class caps summed)
 * @total_max_bytes: likewise in bytes
 * @tcp_on_loss: the default of every rule's tcp-on-loss
 */
struct vs_flow_port_opts {
	uint32_t set;
	uint64_t total_max_pkts;
	uint64_t total_max_bytes;
	enum vs_flow_tcp_loss tcp_on_loss;
};

/**
 * struct vs_flow_crule - a compiled rule (one slot of a table)
 * @fields:	VS_FLOW_M_*
 * @proto:	see struct vs_flow_match
 * @dscp:	likewise
 * @vlan:	likewise
 * @sport_lo:	likewise
 * @sport_hi:	likewise
 * @dport_lo:	likewise
 * @dport_hi:	likewise
 * @src_val:	source prefix, as two 64-bit words in memory order
 * @src_mask:	its mask
 * @dst_val:	destination prefix, likewise
 * @dst_mask:	its mask
 * @af:		the family the prefixes require (NONE: either)
 * @cls:	see struct vs_flow_match
 * @id:		rule id (VS_FLOW_ID_DEFAULT(cls) for a default rule)
 * @specificity: 1/256 bits pinned down (the first key of the order)
 * @action:	see struct vs_flow_rule
 * @priority:	likewise
 * @res_pkts:	packets held in reserve against lower priorities: max-pkts
 *		if given, else 0
 * @res_bytes:	bytes held in reserve: max-bytes if given, else max-pkts
 *		frames of VS_FLOW_RES_FRAME_BYTES if max-pkts is given (at most
 *		the total), else 0
 * @max_pkts:	its cap, always set (the port's total when not given)
 * @max_bytes:	likewise
 * @linger_ms:	always set
 * @timeout_ms:	always set
 * @trigger:	always set
 * @tcp_on_loss: always set
 * @tcp_loss_set: the rule set its own tcp-on-loss (else the port's
 *		applies: vs_flow_rules_tcp_loss())
 * @name:	the rule's name
 */
struct vs_flow_crule {
	/* what the matcher reads first: one cache line with the source */
	uint32_t fields;
	uint8_t proto;
	uint8_t dscp;
	uint16_t vlan;
	uint16_t sport_lo;
	uint16_t sport_hi;
	uint16_t dport_lo;
	uint16_t dport_hi;
	uint64_t src_val[2];
	uint64_t src_mask[2];
	uint64_t dst_val[2];
	uint64_t dst_mask[2];
	enum vs_flow_af af;
	enum vs_pkt_class cls;
	uint32_t id;
	uint32_t specificity;
	enum vs_flow_action action;
	uint8_t priority;
	uint32_t res_pkts;
	uint64_t res_bytes;
	uint32_t max_pkts;
	uint64_t max_bytes;
	uint32_t linger_ms;
	uint32_t timeout_ms;
	enum vs_flow_trigger trigger;
	enum vs_flow_tcp_loss tcp_on_loss;
	bool tcp_loss_set;
	char name[VS_FLOW_NAME_MAX + 1];
};

/* Buckets: no IP header; IPv4 x (TCP, UDP, other); IPv6 x (TCP, UDP, other) */
#define VS_FLOW_NUM_BUCKETS	7

/**
 * struct vs_flow_table - a port's compiled rules: immutable once built
 * @generation:	unique per compiled table (keys per-slot lcore state)
 * @n_user:	configured rules, slots 0..n_user-1 in match order
 * @n_rules:	@n_user + VS_FLOW_NUM_DEFAULTS; slot n_user + cls is the
 *		default rule of class cls
 * @total_pkts:	the VM's global packet cap per episode
 * @total_bytes: likewise in bytes
 * @tcp_loss_rules: some configured rule sets its own tcp-on-loss
 * @tcp_reset_rules: ... to reset
 * @bucket_n:	entries of each bucket
 * @bucket:	slots of the configured rules that can match a frame of the
 *		bucket, in match order
 * @by_id:	slots sorted by rule id (vs_flow_rules_slot())
 * @rules:	@n_rules compiled rules
 */
struct vs_flow_table {
	uint64_t generation;
	uint32_t n_user;
	uint32_t n_rules;
	uint64_t total_pkts;
	uint64_t total_bytes;
	bool tcp_loss_rules;
	bool tcp_reset_rules;
	uint16_t bucket_n[VS_FLOW_NUM_BUCKETS];
	uint16_t bucket[VS_FLOW_NUM_BUCKETS][VS_FLOW_MAX_RULES];
	uint16_t by_id[VS_FLOW_MAX_SLOTS];
	struct vs_flow_crule rules[];
};

/**
 * vs_flow_rule_new() - a rule with every default: match anything, buffer
 * @name:	its name (not checked here: vs_flow_rule_validate())
 *
 * Return: the rule; free with vs_flow_rule_free()
 */
struct vs_flow_rule *vs_flow_rule_new(const char *name);

/**
 * vs_flow_rule_free() - free a rule
 * @r:		the rule, or NULL
 */
void vs_flow_rule_free(struct vs_flow_rule *r);
typedef struct vs_flow_rule vs_flow_rule;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_flow_rule, vs_flow_rule_free)

/**
 * vs_flow_rule_copy() - a deep copy
 * @r:		rule
 *
 * Return: the copy; free with vs_flow_rule_free()
 */
struct vs_flow_rule *vs_flow_rule_copy(const struct vs_flow_rule *r);

/**
 * vs_flow_rule_validate() - check one rule on its own
 * @r:		rule
 * @error:	set, naming the rule, when it is inconsistent: ports with a
 *		protocol without ports, prefixes of two families, hold or
 *		tcp-on-loss=reset or trigger=tcp-syn on a rule that cannot
 *		match TCP, priority or caps with action=drop, a bad name
 *
 * Return: TRUE if valid
 */
gboolean vs_flow_rule_validate(const struct vs_flow_rule *r, GError **error);

/**
 * vs_flow_rule_equal() - same rule (every field, the ports in order)
 * @a:		rule
 * @b:		rule
 *
 * Return: true if equal
 */
bool vs_flow_rule_equal(const struct vs_flow_rule *a, const struct vs_flow_rule *b);

/**
 * vs_flow_rule_applies() - does @r apply to port @port
 * @r:		rule
 * @port:	port name; NULL: every rule applies
 *
 * Return: true if it does
 */
bool vs_flow_rule_applies(const struct vs_flow_rule *r, const char *port);

/**
 * vs_flow_rules_compile() - build a port's table
 * @rules:	the rule set (validated or not), ids unique
 * @n:		number of rules
 * @port:	the port: only rules that apply to it are compiled (NULL: all)
 * @defaults:	the port's buffer policy: the default rules, the time-out
 * @opts:	the port's flow-policy keys, NULL for their defaults
 * @error:	set when the rules are invalid, too many, or do not fit the
 *		port's caps (a rule's cap above the total, or reservations of
 *		higher priorities leaving nothing to a lower one)
 *
 * Return: the table (free with vs_flow_rules_free()), or NULL with @error
 */
struct vs_flow_table *vs_flow_rules_compile(struct vs_flow_rule *const *rules, guint n,
					    const char *port, const struct vs_buf_policy *defaults,
					    const struct vs_flow_port_opts *opts, GError **error);

/**
 * vs_flow_rules_free() - free a table; only once no lcore can hold it
 * (after the RCU grace period of its replacement)
 * @t:		the table, or NULL
 */
void vs_flow_rules_free(struct vs_flow_table *t);
typedef struct vs_flow_table vs_flow_table;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_flow_table, vs_flow_rules_free)

/**
 * vs_flow_rules_match() - the rule of a frame (lcore; no allocation)
 * @t:		table
 * @key:	the frame's key (vs_flow_key_parse())
 *
 * Return: the slot of the most specific matching rule (a default rule if
 * no configured one matches), VS_FLOW_NO_SLOT for a runt or an own frame
 */
uint32_t vs_flow_rules_match(const struct vs_flow_table *t, const struct vs_flow_key *key);

/**
 * vs_flow_rules_tcp_loss() - what a TCP connection's peer gets when the VM
 * is gone for good: the tcp-on-loss of the configured rule that matches
 * the connection's frames to the VM, if it set one, else the port's (lcore;
 * no allocation; tcp_ct.c's vs_tcp_ct_on_loss() builds the key)
 * @t:		table, or NULL
 * @key:	the connection's frames to the VM (source: the peer)
 * @port:	the port's tcp-on-loss
 *
 * Return: VS_FLOW_TCP_LOSS_DROP or VS_FLOW_TCP_LOSS_RESET
 */
enum vs_flow_tcp_loss vs_flow_rules_tcp_loss(const struct vs_flow_table *t,
					     const struct vs_flow_key *key,
					     enum vs_flow_tcp_loss port);

/**
 * vs_flow_rules_slot() - the slot of a rule id
 * @t:		table
 * @id:		rule id
 *
 * Return: its slot, VS_FLOW_NO_SLOT if the table has no such rule
 */
uint32_t vs_flow_rules_slot(const struct vs_flow_table *t, uint32_t id);

/**
 * vs_flow_rules_slot_map() - where each slot of @from is in @to, by id
 * @from:	old table
 * @to:		new table
 * @map:	output, @from->n_rules entries: a slot of @to or VS_FLOW_NO_SLOT
 */
void vs_flow_rules_slot_map(const struct vs_flow_table *from, const struct vs_flow_table *to,
			    uint32_t *map);

/**
 * vs_flow_rules_compare() - the match order of two compiled rules
 * @a:		rule
 * @b:		rule
 *
 * Return: < 0 if @a comes first (is more specific), > 0 if @b does, 0 only
 * for one rule (equal ids)
 */
int vs_flow_rules_compare(const struct vs_flow_crule *a, const struct vs_flow_crule *b);

#endif /* VS_FLOW_RULES_H */
