/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_flow_rules.c - libFuzzer target for the flow-policy rule syntax and
 * compiler (vhost-shim/policy/flow_syntax.c, flow_set.c, flow_rules.c)
 *
 * Theory of operation: the input is text, used three ways.
 *  1. The whole text up to its first NUL, and each of its first lines, as
 *     a one-line rule (vs_flow_syntax_parse_line()).  A rule that parses
 *     is valid, formats to a line that parses back to an equal rule, and
 *     that line formats to itself; it compiles, or says why.
 *  2. The whole text as a config file: vs_flow_set_load_keyfile() over
 *     its [policy NAME] groups; every rule in the set is valid and round
 *     trips; the set compiles for a port named in it, and for all ports,
 *     or says why.  A compiled table is checked: rules in strictly
 *     increasing match order, the default rules last, buckets holding
 *     only rules of the table in order, ids found by vs_flow_rules_slot().
 *  3. Each line as "key=value" through vs_flow_syntax_set() on a fresh
 *     rule and vs_flow_syntax_port_opt(): a key that fails leaves the rule
 *     as it was.
 * Everywhere: success if and only if no GError, and errors have a message.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow_rules.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "fuzz_common.h"

#define FUZZ_FLOW_MAX_LINES	8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static void check_error(gboolean ok, const GError *err, const char *what)
{
	FUZZ_CHECK(ok == (err == NULL), "%s returned %d with error %s", what, ok,
		   err ? err->message : "(none)");
	if (err)
		FUZZ_CHECK(err->message && err->message[0], "%s: empty error message", what);
}

static void check_table(const struct vs_flow_table *t)
{
	uint32_t i, b;

	FUZZ_CHECK(t->n_rules == t->n_user + VS_FLOW_NUM_DEFAULTS && t->n_user <= VS_FLOW_MAX_RULES,
		   "%u rules, %u configured", t->n_rules, t->n_user);
	for (i = 0; i + 1 < t->n_user; i++)
		FUZZ_CHECK(vs_flow_rules_compare(&t->rules[i], &t->rules[i + 1]) < 0,
			   "rules %u and %u out of order", i, i + 1);
	for (i = 0; i < VS_FLOW_NUM_DEFAULTS; i++)
		FUZZ_CHECK(t->rules[t->n_user + i].id == VS_FLOW_ID_DEFAULT(i), "default rule %u", i);
	for (i = 0; i < t->n_rules; i++) {
		const struct vs_flow_crule *c = &t->rules[i];

		FUZZ_CHECK(vs_flow_rules_slot(t, c->id) == i, "id %u not at slot %u", c->id, i);
		FUZZ_CHECK(c->priority < VS_FLOW_PRIO_LEVELS && c->max_pkts >= c->res_pkts &&
			   c->max_bytes >= c->res_bytes && c->max_pkts <= t->total_pkts &&
			   c->max_bytes <= t->total_bytes, "rule %s: caps", c->name);
	}
	for (b = 0; b < VS_FLOW_NUM_BUCKETS; b++) {
		FUZZ_CHECK(t->bucket_n[b] <= t->n_user, "bucket %u: %u entries", b, t->bucket_n[b]);
		for (i = 0; i < t->bucket_n[b]; i++) {
			FUZZ_CHECK(t->bucket[b][i] < t->n_user, "bucket %u: slot %u", b,
				   t->bucket[b][i]);
			FUZZ_CHECK(!i || t->bucket[b][i] > t->bucket[b][i - 1], "bucket %u order", b);
		}
	}
}

static void check_round_trip(const struct vs_flow_rule *r)
{
	g_autofree char *text = vs_flow_syntax_format(r);
	g_autoptr(vs_flow_rule) again = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *text2 = NULL;

	FUZZ_CHECK(vs_flow_rule_validate(r, &err), "a rule that parsed is invalid: %s",
		   err->message);
	again = vs_flow_syntax_parse_line(text, &err);
	FUZZ_CHECK(again, "'%s' does not parse back: %s", text, err->message);
	again->id = r->id;
	FUZZ_CHECK(vs_flow_rule_equal(r, again), "'%s' parses to another rule", text);
	text2 = vs_flow_syntax_format(again);
	FUZZ_CHECK(!strcmp(text, text2), "'%s' formats as '%s'", text, text2);
}

static void fuzz_line(const char *line)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_flow_rule) r = vs_flow_syntax_parse_line(line, &err);
	g_autoptr(vs_flow_table) t = NULL;
	struct vs_buf_policy p;

	check_error(r != NULL, err, "vs_flow_syntax_parse_line()");
	if (!r)
		return;
	check_round_trip(r);
	vs_buf_policy_init(&p);
	t = vs_flow_rules_compile(&r, 1, NULL, &p, NULL, &err);
	check_error(t != NULL, err, "vs_flow_rules_compile()");
	if (t) {
		FUZZ_CHECK(t->n_user == 1, "%u rules from one", t->n_user);
		check_table(t);
	}
}

static void fuzz_keyfile(const char *text, size_t len)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(GError) err = NULL;
	const char *port = NULL;
	struct vs_buf_policy p;
	gboolean ok;
	guint i, pass;

	if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, NULL))
		return;
	ok = vs_flow_set_load_keyfile(set, kf, &err);
	check_error(ok, err, "vs_flow_set_load_keyfile()");
	g_clear_error(&err);
	for (i = 0; i < set->rules->len; i++) {
		const struct vs_flow_rule *r = g_ptr_array_index(set->rules, i);

		check_round_trip(r);
		FUZZ_CHECK(r->id == i, "rule %u has id %u", i, r->id);
		if (!port && r->ports)
			port = r->ports[0];
	}
	vs_buf_policy_init(&p);
	for (pass = 0; pass < 2; pass++) {
		g_autoptr(vs_flow_table) t = vs_flow_set_compile(set, pass ? port : NULL, &p, NULL,
								 &err);

		check_error(t != NULL, err, "vs_flow_set_compile()");
		g_clear_error(&err);
		if (t)
			check_table(t);
	}
}

static void fuzz_key(const char *line)
{
	g_autoptr(vs_flow_rule) r = vs_flow_rule_new("k");
	g_autoptr(vs_flow_rule) before = NULL;
	g_autoptr(GError) err = NULL;
	struct vs_flow_port_opts o = { 0 };
	g_autofree char *key = g_strdup(line);
	char *eq = strchr(key, '=');
	gboolean ok;

	if (!eq)
		return;
	*eq = '\0';
	before = vs_flow_rule_copy(r);
	ok = vs_flow_syntax_set(r, key, eq + 1, &err);
	check_error(ok, err, "vs_flow_syntax_set()");
	if (!ok)
		FUZZ_CHECK(vs_flow_rule_equal(r, before), "a failed key changed the rule");
	g_clear_error(&err);
	ok = vs_flow_syntax_port_opt(&o, key, eq + 1, &err);
	check_error(ok, err, "vs_flow_syntax_port_opt()");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);
	g_auto(GStrv) lines = NULL;
	guint i;

	fuzz_line(text);
	fuzz_keyfile((const char *)data, size);
	lines = g_strsplit(text, "\n", FUZZ_FLOW_MAX_LINES + 1);
	for (i = 0; lines[i] && i < FUZZ_FLOW_MAX_LINES; i++) {
		fuzz_line(lines[i]);
		fuzz_key(lines[i]);
	}
	return 0;
}
