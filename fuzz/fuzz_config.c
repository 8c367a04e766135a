/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config.c - libFuzzer target for the configuration parsers (config.c)
 *
 * Theory of operation: the input is text, used three ways.
 *  1. As a whole GKeyFile: vs_cfg_load_keyfile(), then vs_cfg_validate()
 *     and, for a valid configuration, vs_cfg_build_eal_argv() as
 *     --check-config does.  Every port that got into the configuration
 *     must pass vs_port_cfg_validate(), names and sockets must be unique,
 *     and the EAL argv must be well-formed.
 *  2. Each line (the first 8) and the whole text up to its first NUL as a
 *     --port spec: vs_port_cfg_parse_spec().  A spec that parses must
 *     validate; one that does not must say why.
 *  3. Each line through the small helpers the parsers are built from
 *     (vs_parse_mac(), vs_parse_hostport(), vs_valid_node_name(),
 *     vs_log_level_from_string(), vs_buf_policy_set() on "key=value"),
 *     and as a --policy rule (vs_cfg_add_policy()).
 * [policy NAME] groups: every rule that got into the configuration passed
 * vs_flow_rule_validate(), names and ids are unique, and its one-line form
 * (vs_flow_syntax_format()) parses back to an equal rule; a configuration
 * that validates compiles for each of its ports.
 * Everywhere: TRUE/non-NULL if and only if no GError, and the error has a
 * message (GLib itself aborts the run, through fuzz_quiet_logs(), if a
 * GError is set twice).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "fuzz_common.h"

#define FUZZ_CFG_MAX_LINES	8

static void cfg_check_error(gboolean ok, const GError *err, const char *what)
{
	FUZZ_CHECK(ok == (err == NULL), "%s returned %d with error %s", what, ok,
		   err ? err->message : "(none)");
	if (err)
		FUZZ_CHECK(err->message && err->message[0], "%s: empty error message", what);
}

static void cfg_check_port(const struct vs_port_cfg *pc, const char *what)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *pci = NULL;

	FUZZ_CHECK(vs_port_cfg_validate(pc, &err), "%s: accepted port fails validation: %s",
		   what, err->message);
	FUZZ_CHECK(vs_buf_policy_total_pkts(&pc->policy) <= VS_PKT_NUM_CLASSES * VS_MAX_BUFFER_PKTS,
		   "%s: buffer caps above the limits", what);
	FUZZ_CHECK(pc->policy.hold_ms >= 1 && pc->policy.hold_ms <= VS_MAX_HOLD_MS,
		   "%s: hold-ms %u", what, pc->policy.hold_ms);
	pci = vs_port_cfg_pci_address(pc);
	if (pci)
		FUZZ_CHECK(strlen(pci) == 12, "%s: PCI address '%s' from uplink '%s'", what, pci,
			   pc->uplink);
}

/* Every rule in the set is valid, unique, and survives its text form */
static void cfg_check_rules(const struct vs_flow_set *set)
{
	guint i, j;

	FUZZ_CHECK(set->rules->len <= VS_FLOW_MAX_SET_RULES, "%u rules", set->rules->len);
	for (i = 0; i < set->rules->len; i++) {
		const struct vs_flow_rule *r = g_ptr_array_index(set->rules, i);
		g_autoptr(GError) err = NULL;
		g_autofree char *line = vs_flow_syntax_format(r);
		g_autoptr(vs_flow_rule) back = vs_flow_syntax_parse_line(line, &err);

		FUZZ_CHECK(vs_flow_rule_validate(r, NULL), "rule %s accepted but invalid", r->name);
		FUZZ_CHECK(back, "rule %s: its line '%s' does not parse: %s", r->name, line,
			   err ? err->message : "?");
		back->id = r->id;
		FUZZ_CHECK(vs_flow_rule_equal(r, back), "rule %s: '%s' parses to another rule",
			   r->name, line);
		for (j = 0; j < i; j++) {
			const struct vs_flow_rule *o = g_ptr_array_index(set->rules, j);

			FUZZ_CHECK(strcmp(r->name, o->name) && r->id != o->id,
				   "duplicate rule %s", r->name);
		}
	}
}

static void cfg_keyfile(const char *data, size_t size)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;
	gboolean ok;
	guint i, j;

	ok = vs_cfg_load_keyfile(cfg, data, size, &err);
	cfg_check_error(ok, err, "vs_cfg_load_keyfile");
	/* On failure @cfg may be partly updated, but it must still be freeable
	 * and every port in it was validated on the way in */
	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);

		cfg_check_port(pc, "keyfile port");
		for (j = 0; j < i; j++) {
			const struct vs_port_cfg *o = g_ptr_array_index(cfg->ports, j);

			FUZZ_CHECK(strcmp(pc->name, o->name), "duplicate port name '%s'", pc->name);
			FUZZ_CHECK(strcmp(pc->socket_path, o->socket_path), "duplicate socket '%s'",
				   pc->socket_path);
		}
	}
	FUZZ_CHECK(cfg->peers->len <= VS_MAX_PEERS, "%u peers", cfg->peers->len);
	FUZZ_CHECK(cfg->ports->len <= VS_MAX_PORTS, "%u ports", cfg->ports->len);
	cfg_check_rules(cfg->flow_rules);
	if (!ok)
		return;

	g_clear_error(&err);
	ok = vs_cfg_validate(cfg, &err);
	cfg_check_error(ok, err, "vs_cfg_validate");
	if (ok) {
		g_auto(GStrv) argv = vs_cfg_build_eal_argv(cfg, "vhost-shim", 0);
		g_auto(GStrv) argv_huge = vs_cfg_build_eal_argv(cfg, "vhost-shim", 1024);

		FUZZ_CHECK(argv && argv[0] && !strcmp(argv[0], "vhost-shim"), "EAL argv");
		FUZZ_CHECK(argv_huge && argv_huge[0], "EAL argv with hugepages");
		FUZZ_CHECK(g_strv_length(argv) >= 5, "EAL argv of %u words", g_strv_length(argv));
		FUZZ_CHECK(vs_valid_node_name(cfg->node_name), "node name '%s'", cfg->node_name);
		for (i = 0; i < cfg->ports->len; i++) {
			const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);
			g_autoptr(GError) cerr = NULL;
			g_autoptr(vs_flow_table) t = vs_flow_set_compile(cfg->flow_rules, pc->name,
									 &pc->policy, NULL, &cerr);

			FUZZ_CHECK(t, "port %s: valid configuration, rules do not compile: %s",
				   pc->name, cerr ? cerr->message : "?");
		}
	}
}

static void cfg_policy_line(struct vs_cfg *cfg, const char *line)
{
	g_autoptr(GError) err = NULL;
	gboolean ok = vs_cfg_add_policy(cfg, line, &err);

	cfg_check_error(ok, err, "vs_cfg_add_policy");
}

static void cfg_spec(const char *spec, const char *what)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(spec, &err);

	cfg_check_error(pc != NULL, err, what);
	if (pc)
		cfg_check_port(pc, what);
}

static void cfg_helpers(const char *line)
{
	g_autofree char *host = NULL;
	const char *eq = strchr(line, '=');
	guint16 port = 0;
	uint8_t mac[6];
	int level;

	if (vs_parse_mac(line, mac)) {
		char back[18];

		FUZZ_CHECK(!(mac[0] & 1) && strlen(line) == 17, "MAC '%s' accepted", line);
		/* the text was that MAC, nothing else */
		snprintf(back, sizeof(back), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
		FUZZ_CHECK(!g_ascii_strcasecmp(back, line), "MAC '%s' read as %s", line, back);
	}
	if (vs_parse_hostport(line, &host, &port))
		FUZZ_CHECK(host && port >= 1, "host:port '%s'", line);
	else
		FUZZ_CHECK(!host, "host:port '%s' refused but host set", line);
	if (vs_valid_node_name(line))
		FUZZ_CHECK(strlen(line) >= 1 && strlen(line) <= 63, "node name '%s'", line);
	level = vs_log_level_from_string(line);
	FUZZ_CHECK(level == -1 || (level >= VS_LOG_ERR && level <= VS_LOG_DEBUG), "level %d",
		   level);
	if (eq) {
		g_autofree char *key = g_strndup(line, (gsize)(eq - line));
		g_autoptr(GError) err = NULL;
		struct vs_buf_policy p;
		gboolean ok;

		vs_buf_policy_init(&p);
		ok = vs_buf_policy_set(&p, key, eq + 1, &err);
		cfg_check_error(ok, err, "vs_buf_policy_set");
		FUZZ_CHECK(p.hold_ms >= 1 && p.hold_ms <= VS_MAX_HOLD_MS, "hold-ms %u", p.hold_ms);
		for (level = 0; level < VS_PKT_NUM_CLASSES; level++)
			FUZZ_CHECK(p.max_pkts[level] <= VS_MAX_BUFFER_PKTS &&
				   p.max_bytes[level] <= VS_MAX_BUFFER_BYTES, "caps");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autofree char *text = g_strndup((const char *)data, size);	/* up to a NUL */
	g_autoptr(vs_cfg) pcfg = vs_cfg_new();
	g_auto(GStrv) lines = NULL;
	unsigned int i;

	cfg_keyfile((const char *)data, size);
	cfg_spec(text, "spec");
	lines = g_strsplit(text, "\n", FUZZ_CFG_MAX_LINES + 1);
	for (i = 0; lines[i] && i < FUZZ_CFG_MAX_LINES; i++) {
		cfg_spec(lines[i], "spec line");
		cfg_helpers(lines[i]);
		cfg_policy_line(pcfg, lines[i]);
	}
	cfg_check_rules(pcfg->flow_rules);
	return 0;
}
