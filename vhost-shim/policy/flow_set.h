/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_set.h - the daemon's flow-policy rules: add, delete, load, compile
 *
 * Theory of operation: one rule set holds every configured rule, for all
 * ports (a rule's port= key restricts it to some).  Rules come from the
 * config file's [policy NAME] groups, the command line and, later, the
 * control socket's policy-add/policy-del; each gets the next id when it
 * is added, so ids count definitions: the last tie-break of the match
 * order (flow_rules.h), and the identity of a rule across compiled tables.
 * Names are unique.  The set belongs to the main loop; what lcores see is
 * a table compiled from it per port (vs_flow_set_compile()).
 */
#ifndef VS_FLOW_SET_H
#define VS_FLOW_SET_H

#include <glib.h>

#include "flow_rules.h"

/* Security consideration: rules for all ports together */
#define VS_FLOW_MAX_SET_RULES	(4 * VS_FLOW_MAX_RULES)
#define VS_FLOW_GROUP_PREFIX	"policy "

/**
 * struct vs_flow_set - every configured rule
 * @rules:	struct vs_flow_rule *, in definition order
 * @next_id:	id of the next rule added
 */
struct vs_flow_set {
	GPtrArray *rules;
	uint32_t next_id;
};

/**
 * vs_flow_set_new() - an empty rule set
 *
 * Return: the set; free with vs_flow_set_free()
 */
struct vs_flow_set *vs_flow_set_new(void);

/**
 * vs_flow_set_free() - free a rule set and its rules
 * @set:	the set, or NULL
 */
void vs_flow_set_free(struct vs_flow_set *set);
typedef struct vs_flow_set vs_flow_set;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_flow_set, vs_flow_set_free)

/**
 * vs_flow_set_add() - check a rule and add it with the next id
 * @set:	rule set
 * @r:		rule, consumed (on failure too)
 * @error:	set when the rule is invalid, its name is taken, or the set is
 *		full
 *
 * Return: TRUE on success
 */
gboolean vs_flow_set_add(struct vs_flow_set *set, struct vs_flow_rule *r, GError **error);

/**
 * vs_flow_set_del() - remove a rule
 * @set:	rule set
 * @name:	its name
 * @error:	set when there is no such rule
 *
 * Return: TRUE on success
 */
gboolean vs_flow_set_del(struct vs_flow_set *set, const char *name, GError **error);

/**
 * vs_flow_set_find() - a rule by name
 * @set:	rule set
 * @name:	its name
 *
 * Return: the rule, owned by @set, or NULL
 */
const struct vs_flow_rule *vs_flow_set_find(const struct vs_flow_set *set, const char *name);

/**
 * vs_flow_set_load_keyfile() - add the rule of every [policy NAME] group
 * @set:	rule set
 * @kf:		the config file; other groups are left alone
 * @error:	set on the first bad group (naming it)
 *
 * Return: TRUE on success; on failure the groups before the bad one are in
 * @set
 */
gboolean vs_flow_set_load_keyfile(struct vs_flow_set *set, GKeyFile *kf, GError **error);

/**
 * vs_flow_set_compile() - compile the rules of one port
 * @set:	rule set
 * @port:	port name
 * @defaults:	the port's buffer policy
 * @opts:	the port's flow-policy keys, NULL for their defaults
 * @error:	set on failure (vs_flow_rules_compile())
 *
 * Return: the table, or NULL with @error set
 */
struct vs_flow_table *vs_flow_set_compile(const struct vs_flow_set *set, const char *port,
					  const struct vs_buf_policy *defaults,
					  const struct vs_flow_port_opts *opts, GError **error);

#endif /* VS_FLOW_SET_H */
