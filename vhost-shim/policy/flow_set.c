/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_set.c - the daemon's flow-policy rules
 *
 * Theory of operation: see flow_set.h.
 */
#include <string.h>

#include "flow_set.h"
#include "flow_syntax.h"

struct vs_flow_set *vs_flow_set_new(void)
{
	struct vs_flow_set *set = g_new0(struct vs_flow_set, 1);

	set->rules = g_ptr_array_new_with_free_func((GDestroyNotify)vs_flow_rule_free);
	return set;
}

void vs_flow_set_free(struct vs_flow_set *set)
{
	if (!set)
		return;
	g_ptr_array_unref(set->rules);
	g_free(set);
}

const struct vs_flow_rule *vs_flow_set_find(const struct vs_flow_set *set, const char *name)
{
	guint i;

	for (i = 0; i < set->rules->len; i++) {
		const struct vs_flow_rule *r = g_ptr_array_index(set->rules, i);

		if (!strcmp(r->name, name))
			return r;
	}
	return NULL;
}

gboolean vs_flow_set_add(struct vs_flow_set *set, struct vs_flow_rule *rule, GError **error)
{
	g_autoptr(vs_flow_rule) r = rule;

	if (!vs_flow_rule_validate(r, error))
		return FALSE;
	if (vs_flow_set_find(set, r->name)) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s exists already", r->name);
		return FALSE;
	}
	if (set->rules->len >= VS_FLOW_MAX_SET_RULES || set->next_id >= VS_FLOW_ID_DEFAULT_BASE) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: more than %d rules", r->name,
			    VS_FLOW_MAX_SET_RULES);
		return FALSE;
	}
	r->id = set->next_id++;
	g_ptr_array_add(set->rules, g_steal_pointer(&r));
	return TRUE;
}

gboolean vs_flow_set_del(struct vs_flow_set *set, const char *name, GError **error)
{
	guint i;

	for (i = 0; i < set->rules->len; i++) {
		const struct vs_flow_rule *r = g_ptr_array_index(set->rules, i);

		if (!strcmp(r->name, name)) {
			g_ptr_array_remove_index(set->rules, i);	/* keeps the order */
			return TRUE;
		}
	}
	g_set_error(error, VS_FLOW_ERROR, 0, "no policy named '%s'", name);
	return FALSE;
}

/*
 * set_get_string() - g_key_file_get_string() that never returns a value
 * together with an error: GLib 2.74 does both for a value ending in a lone
 * backslash (config.c's cfg_get_string() does the same; found again by
 * fuzz/fuzz_flow_rules.c)
 */
static char *set_get_string(GKeyFile *kf, const char *group, const char *key, GError **error)
{
	GError *err = NULL;
	char *val = g_key_file_get_string(kf, group, key, &err);

	if (err) {
		g_free(val);
		g_propagate_prefixed_error(error, err, "[%s] %s: ", group, key);
		return NULL;
	}
	return val;
}

gboolean vs_flow_set_load_keyfile(struct vs_flow_set *set, GKeyFile *kf, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	guint i, j;

	for (i = 0; groups[i]; i++) {
		const char *name = groups[i] + strlen(VS_FLOW_GROUP_PREFIX);
		g_autoptr(vs_flow_rule) r = NULL;
		g_auto(GStrv) keys = NULL;

		if (!g_str_has_prefix(groups[i], VS_FLOW_GROUP_PREFIX))
			continue;
		if (strlen(name) > VS_FLOW_NAME_MAX) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "[%s]: a policy name is at most %d characters", groups[i],
				    VS_FLOW_NAME_MAX);
			return FALSE;
		}
		r = vs_flow_rule_new(name);
		keys = g_key_file_get_keys(kf, groups[i], NULL, error);
		if (!keys)
			return FALSE;
		for (j = 0; keys[j]; j++) {
			g_autofree char *val = set_get_string(kf, groups[i], keys[j], error);

			if (!val)
				return FALSE;
			if (!vs_flow_syntax_set(r, keys[j], g_strstrip(val), error))
				return FALSE;
		}
		if (!vs_flow_set_add(set, g_steal_pointer(&r), error))
			return FALSE;
	}
	return TRUE;
}

struct vs_flow_table *vs_flow_set_compile(const struct vs_flow_set *set, const char *port,
					  const struct vs_buf_policy *defaults,
					  const struct vs_flow_port_opts *opts, GError **error)
{
	return vs_flow_rules_compile((struct vs_flow_rule *const *)set->rules->pdata,
				     set->rules->len, port, defaults, opts, error);
}
