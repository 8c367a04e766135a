/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_syntax.h - the text form of flow-policy rules
 *
 * Theory of operation: one rule is a set of keys.  The same keys, with the
 * same values and checks, are used
 *  - in a config file group `[policy NAME]` (vs_flow_syntax_load_keyfile()),
 *  - on one line, "name=NAME KEY=VALUE ..." separated by blanks, for the
 *    command line and the control socket (vs_flow_syntax_parse_line()),
 *  - one key at a time (vs_flow_syntax_set()): the entry point for a
 *    declarative key table.
 * vs_flow_syntax_format() writes a rule back as one line that parses to an
 * equal rule (the fuzz target checks it).
 *
 * Keys (docs/configuration.md, "Flow policy"):
 *   match=any | FIELD=VALUE[,FIELD=VALUE...]
 *      src=PREFIX dst=PREFIX   ADDR[/LEN], IPv4 or IPv6, no bits past LEN
 *      proto=tcp|udp|icmp|icmpv6|sctp|0..255
 *      sport=N[-M] dport=N[-M] 0..65535, N <= M
 *      vlan=0..4095  dscp=0..63|ef|le|va|cs0..cs7|af11..af43
 *   action=buffer|hold|drop    priority=0..7
 *   max-pkts=N  max-bytes=N    linger-ms=MS  timeout-ms=MS
 *   trigger=none|tcp-syn|sip-register|sip-bye-next|direct-arrival
 *   tcp-on-loss=drop|reset     port=NAME[,NAME...]
 * A key given twice is an error; so is an unknown key or field.  Errors
 * name the rule and the key, and say what was expected.
 *
 * Security model: the text comes from a config file, the command line or
 * the control socket (a local, authorised client, but still never trusted
 * to be well formed): any bytes, any length.  Nothing here aborts; every
 * number is range-checked; names and lists are bounded
 * (VS_FLOW_NAME_MAX, VS_FLOW_MAX_PORTS_PER_RULE, VS_FLOW_LINE_MAX).
 */
#ifndef VS_FLOW_SYNTAX_H
#define VS_FLOW_SYNTAX_H

#include <glib.h>

#include "flow_rules.h"

/* Security consideration: bounds on what one rule's text may hold */
#define VS_FLOW_LINE_MAX		4096
#define VS_FLOW_MAX_PORTS_PER_RULE	VS_MAX_PORTS
/* a rule's caps, and a port's totals, are at most the three class caps' maxima */
#define VS_FLOW_MAX_TOTAL_PKTS		(3ull * VS_MAX_BUFFER_PKTS)
#define VS_FLOW_MAX_TOTAL_BYTES		(3ull * VS_MAX_BUFFER_BYTES)

/**
 * vs_flow_syntax_set() - set one key of a rule
 * @r:		rule; its name is used in messages
 * @key:	key name ("match", "action", ...; not "name")
 * @val:	value text
 * @error:	set when the key is unknown, given twice, or its value invalid
 *
 * Return: TRUE on success; on failure @r is unchanged
 */
gboolean vs_flow_syntax_set(struct vs_flow_rule *r, const char *key, const char *val,
			    GError **error);

/**
 * vs_flow_syntax_parse_match() - parse a match= value
 * @text:	"any" or "FIELD=VALUE,..."
 * @m:		output
 * @error:	set on failure (names the field)
 *
 * Return: TRUE on success
 */
gboolean vs_flow_syntax_parse_match(const char *text, struct vs_flow_match *m, GError **error);

/**
 * vs_flow_syntax_parse_line() - parse "name=NAME KEY=VALUE ..."
 * @line:	the rule on one line, at most VS_FLOW_LINE_MAX bytes
 * @error:	set on failure
 *
 * The rule is checked on its own (vs_flow_rule_validate()); its id is 0
 * until a rule set assigns one.
 *
 * Return: the rule (vs_flow_rule_free()), or NULL with @error set
 */
struct vs_flow_rule *vs_flow_syntax_parse_line(const char *line, GError **error);

/**
 * vs_flow_syntax_format() - the rule as one line, keys in a fixed order,
 * only the keys that were given
 * @r:		rule
 *
 * Return: the line (g_free()); vs_flow_syntax_parse_line() of it gives a
 * rule equal to @r but for the id
 */
char *vs_flow_syntax_format(const struct vs_flow_rule *r);

/**
 * vs_flow_syntax_port_opt() - set one of a port's flow-policy keys:
 * total-max-pkts, total-max-bytes, tcp-on-loss
 * @o:		the port's options
 * @key:	key name
 * @val:	value text
 * @error:	set when the key is unknown or its value invalid
 *
 * Return: TRUE on success
 */
gboolean vs_flow_syntax_port_opt(struct vs_flow_port_opts *o, const char *key, const char *val,
				 GError **error);

#endif /* VS_FLOW_SYNTAX_H */
