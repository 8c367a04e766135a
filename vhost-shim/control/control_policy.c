/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_policy.c - control-socket commands for the flow policy:
 * policy-add, policy-del, query-policy, and the per-rule counters of
 * query-stats
 *
 * Theory of operation: the rule set is the daemon's configuration's
 * (cfg->flow_rules, flow_set.h), loaded from [policy NAME] groups and
 * --policy; these commands change it at run time.  A change is all or
 * nothing: the candidate rule list is compiled for every port first
 * (against each port's buffer policy, flow_rules.h), and only if every
 * port accepts it is the set changed and each port's new table published
 * (vs_dp_flow_install(), which waits for the lcores' grace period).  A
 * rule is given in its one-line form, "name=NAME KEY=VALUE ..."
 * (flow_syntax.h), the same text as --policy.
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "control.h"
#include "control_policy.h"
#include "dp_flow.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "vm.h"

const struct vs_ctl_arg vs_ctl_args_policy_add[] = {
	{ .name = "rule", .type = VS_CTL_ARG_STR, .required = true },
	{ 0 },
};

const struct vs_ctl_arg vs_ctl_args_policy_del[] = {
	{ .name = "name", .type = VS_CTL_ARG_STR, .required = true },
	{ 0 },
};

const struct vs_ctl_arg vs_ctl_args_query_policy[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR },
	{ 0 },
};

static struct vs_flow_set *cpol_set(GError **error)
{
	const struct vs_cfg *cfg = vs_ctl_config();

	if (!cfg || !cfg->flow_rules) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "the daemon has no flow-policy rule set");
		return NULL;
	}
	return cfg->flow_rules;
}

/* The tables of a candidate rule list, one per port, compiled first */
struct cpol_compile {
	struct vs_flow_set *cand;	/* borrows the rules: freed without them */
	GPtrArray *vms;
	GPtrArray *tables;
	GError *error;
};

static void cpol_compile_cb(struct vs_vm *vm, void *opaque)
{
	struct cpol_compile *c = opaque;
	struct vs_flow_table *t;

	if (c->error)
		return;
	t = vs_dp_flow_compile(vm, c->cand, &vm->policy, &c->error);
	if (!t)
		return;
	g_ptr_array_add(c->vms, vm);
	g_ptr_array_add(c->tables, t);
}

/*
 * cpol_apply() - compile @rules for every port; on success publish them
 * (the caller then changes the set to match)
 */
static gboolean cpol_apply(GPtrArray *rules, GError **error)
{
	struct vs_flow_set cand = { .rules = rules };
	struct cpol_compile c = { .cand = &cand };
	guint i;

	c.vms = g_ptr_array_new();
	c.tables = g_ptr_array_new_with_free_func((GDestroyNotify)vs_flow_rules_free);
	vs_vm_foreach(cpol_compile_cb, &c);
	if (c.error) {
		g_propagate_error(error, c.error);
		g_ptr_array_unref(c.tables);
		g_ptr_array_unref(c.vms);
		return FALSE;
	}
	for (i = 0; i < c.vms->len; i++)
		vs_dp_flow_install(g_ptr_array_index(c.vms, i),
				   g_steal_pointer(&g_ptr_array_index(c.tables, i)));
	g_ptr_array_unref(c.tables);
	g_ptr_array_unref(c.vms);
	return TRUE;
}

static JsonNode *cpol_rule_json(const struct vs_flow_rule *r)
{
	g_autofree char *line = vs_flow_syntax_format(r);
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(o, "name", r->name);
	json_object_set_int_member(o, "id", r->id);
	json_object_set_string_member(o, "rule", line);
	json_node_take_object(n, o);
	return n;
}

JsonNode *vs_ctl_cmd_policy_add(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	struct vs_flow_set *set = cpol_set(error);
	g_autoptr(vs_flow_rule) r = NULL;
	g_autoptr(GPtrArray) cand = NULL;
	g_autoptr(GError) err = NULL;
	const char *line = vs_ctl_arg_str(args, "rule", "");
	const struct vs_flow_rule *added;

	if (!set)
		return NULL;
	r = vs_flow_syntax_parse_line(line, &err);
	if (!r) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "%s", err->message);
		return NULL;
	}
	if (vs_flow_set_find(set, r->name)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "policy %s exists already",
			    r->name);
		return NULL;
	}
	if (set->rules->len >= VS_FLOW_MAX_SET_RULES || set->next_id >= VS_FLOW_ID_DEFAULT_BASE) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "policy %s: more than %d rules",
			    r->name, VS_FLOW_MAX_SET_RULES);
		return NULL;
	}
	r->id = set->next_id;	/* the id vs_flow_set_add() gives it */
	cand = g_ptr_array_new();
	g_ptr_array_extend(cand, set->rules, NULL, NULL);
	g_ptr_array_add(cand, r);
	if (!cpol_apply(cand, &err)) {	/* the message names the port and the rule */
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "%s", err->message);
		return NULL;
	}
	if (!vs_flow_set_add(set, g_steal_pointer(&r), &err)) {	/* checked above */
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "%s", err->message);
		return NULL;
	}
	added = g_ptr_array_index(set->rules, set->rules->len - 1);
	return cpol_rule_json(added);
}

JsonNode *vs_ctl_cmd_policy_del(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	struct vs_flow_set *set = cpol_set(error);
	const char *name = vs_ctl_arg_str(args, "name", "");
	g_autoptr(GPtrArray) cand = NULL;
	g_autoptr(GError) err = NULL;
	guint i;

	if (!set)
		return NULL;
	if (!vs_flow_set_find(set, name)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "no policy named '%s'", name);
		return NULL;
	}
	cand = g_ptr_array_new();
	for (i = 0; i < set->rules->len; i++) {
		struct vs_flow_rule *r = g_ptr_array_index(set->rules, i);

		if (strcmp(r->name, name))
			g_ptr_array_add(cand, r);
	}
	if (!cpol_apply(cand, &err)) {	/* cannot happen: fewer rules always fit */
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "policy-del %s: %s", name,
			    err->message);
		return NULL;
	}
	vs_flow_set_del(set, name, NULL);
	return vs_ctl_return_empty();
}

/* One compiled rule, as query-policy shows a port's match order */
static JsonNode *cpol_crule_json(const struct vs_flow_crule *r, bool dflt)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_string_member(o, "name", r->name);
	json_object_set_boolean_member(o, "default", dflt);
	json_object_set_string_member(o, "action", vs_flow_action_names[r->action]);
	json_object_set_int_member(o, "priority", r->priority);
	json_object_set_int_member(o, "max-pkts", r->max_pkts);
	json_object_set_int_member(o, "max-bytes", (gint64)r->max_bytes);
	json_object_set_int_member(o, "reserved-pkts", r->res_pkts);
	json_object_set_int_member(o, "reserved-bytes", (gint64)r->res_bytes);
	json_object_set_int_member(o, "linger-ms", r->linger_ms);
	json_object_set_int_member(o, "timeout-ms", r->timeout_ms);
	json_object_set_string_member(o, "trigger", vs_flow_trigger_names[r->trigger]);
	json_node_take_object(n, o);
	return n;
}

/*
 * query-policy: every rule in definition order; with a port, also the
 * port's table: its rules in match order, the defaults last, with every
 * value in force, and the totals
 */
JsonNode *vs_ctl_cmd_query_policy(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	struct vs_flow_set *set = cpol_set(error);
	const char *port = vs_ctl_arg_str(args, "port", NULL);
	JsonObject *o;
	JsonArray *a;
	JsonNode *n;
	guint i;

	if (!set)
		return NULL;
	o = json_object_new();
	a = json_array_new();
	for (i = 0; i < set->rules->len; i++)
		json_array_add_element(a, cpol_rule_json(g_ptr_array_index(set->rules, i)));
	json_object_set_array_member(o, "rules", a);
	if (port) {
		struct vs_vm *vm = vs_vm_find_by_name(port);
		g_autoptr(vs_flow_table) t = NULL;
		g_autoptr(GError) err = NULL;

		if (!vm) {
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_DEVICE_NOT_FOUND,
				    "Port '%s' not found", port);
			json_object_unref(o);
			return NULL;
		}
		t = vs_dp_flow_compile(vm, set, &vm->policy, &err);
		if (!t) {	/* cannot happen: every change was compiled for it */
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "%s", err->message);
			json_object_unref(o);
			return NULL;
		}
		a = json_array_new();
		for (i = 0; i < t->n_rules; i++)
			json_array_add_element(a, cpol_crule_json(&t->rules[i], i >= t->n_user));
		json_object_set_string_member(o, "port", port);
		json_object_set_int_member(o, "total-max-pkts", (gint64)t->total_pkts);
		json_object_set_int_member(o, "total-max-bytes", (gint64)t->total_bytes);
		json_object_set_array_member(o, "match-order", a);
	}
	n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, o);
	return n;
}

JsonNode *vs_ctl_policy_stats(const struct vs_vm *vm)
{
	const struct vs_dp_flow *f = vm->dp.flow;
	JsonArray *a = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_ARRAY);
	uint32_t i;

	for (i = 0; f && i < f->t->n_rules; i++) {
		JsonObject *o = json_object_new();
		struct vs_dp_flow_ctr c;

		vs_dp_flow_get_ctr(vm, i, &c);
		json_object_set_string_member(o, "name", f->t->rules[i].name);
		json_object_set_int_member(o, "matched", (gint64)c.matched);
		json_object_set_int_member(o, "buffered", (gint64)c.buffered);
		json_object_set_int_member(o, "dropped", (gint64)c.dropped);
		json_object_set_int_member(o, "stragglers", (gint64)c.stragglers);
		json_array_add_object_element(a, o);
	}
	json_node_take_array(n, a);
	return n;
}
