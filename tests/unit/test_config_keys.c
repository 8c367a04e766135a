/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_config_keys.c - the configuration's key table (config_keys.h)
 *
 * Theory of operation: one table, vs_cfg_keys[], describes every setting:
 * its section, type, range, default, option and message.  These tests walk
 * the table: each key accepts its limits and refuses one past them with
 * the same message from the file and from the command line, the defaults
 * are the documented ones, the generated options override the file in
 * command-line order, and docs/configuration.md (G_TEST_SRCDIR) names every
 * key and option.
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "config_keys.h"
#include "flow_set.h"
#include "log.h"

/* A struct of @k's section holding every default, and its base pointer */
struct key_env {
	struct vs_cfg *cfg;
	struct vs_port_cfg *pc;
	void *base;
};

static void key_env_init(struct key_env *env, const struct vs_cfg_key *k)
{
	env->cfg = vs_cfg_new();
	env->pc = vs_port_cfg_new();
	env->base = &env->pc->policy;
	switch (k->section) {
	case VS_CFG_SECTION_DAEMON:
	case VS_CFG_SECTION_TUNNEL:
	case VS_CFG_SECTION_DISCOVERY:
	case VS_CFG_SECTION_MIGRATION:
		env->base = env->cfg;
		break;
	case VS_CFG_SECTION_PORT:
		env->base = env->pc;
		break;
	case VS_CFG_SECTION_POLICY:
	case VS_CFG_NUM_SECTIONS:
		break;
	}
}

static void key_env_clear(struct key_env *env)
{
	g_clear_pointer(&env->cfg, vs_cfg_free);
	g_clear_pointer(&env->pc, vs_port_cfg_free);
}

/* @text is accepted for @k, and reads back as @want (numbers, enums) */
static void key_accepts(const struct vs_cfg_key *k, const char *text, uint64_t want)
{
	struct key_env env;
	g_autoptr(GError) err = NULL;

	key_env_init(&env, k);
	if (!vs_cfg_key_set(k, env.base, k->name, text, &err))
		g_error("%s: '%s' refused: %s", k->name, text, err->message);
	if (k->type != VS_CFG_STR && k->type != VS_CFG_PATH && k->type != VS_CFG_ARGV &&
	    k->type != VS_CFG_MAC)
		g_assert_cmpuint(vs_cfg_key_get_number(k, env.base), ==, want);
	key_env_clear(&env);
}

/* @text is refused for @k with a message that names the setting, quotes
 * @text and contains @needle; the field keeps its default */
static void key_refuses(const struct vs_cfg_key *k, const char *text, const char *needle)
{
	struct key_env env;
	g_autoptr(GError) err = NULL;
	g_autofree char *what = g_strdup_printf("[test] %s", k->name);
	g_autofree char *quoted = g_strdup_printf("'%s'", text);
	uint64_t before;

	key_env_init(&env, k);
	before = vs_cfg_key_get_number(k, env.base);
	if (vs_cfg_key_set(k, env.base, what, text, &err))
		g_error("%s: '%s' accepted", k->name, text);
	g_assert_nonnull(err);
	g_assert_true(g_str_has_prefix(err->message, what));
	if (!strstr(err->message, quoted) || !strstr(err->message, needle))
		g_error("%s: message '%s' lacks %s or '%s'", k->name, err->message, quoted, needle);
	g_assert_cmpuint(vs_cfg_key_get_number(k, env.base), ==, before);
	key_env_clear(&env);
}

/* Every key: its minimum and maximum, and one past each */
static void test_keys_limits(void)
{
	unsigned int i, v;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		g_autofree char *range = NULL;

		switch (k->type) {
		case VS_CFG_UINT:
		case VS_CFG_U64: {
			g_autofree char *lo = g_strdup_printf("%" G_GUINT64_FORMAT, k->min);
			g_autofree char *hi = g_strdup_printf("%" G_GUINT64_FORMAT, k->max);
			g_autofree char *above = g_strdup_printf("%" G_GUINT64_FORMAT, k->max + 1);
			g_autofree char *below = k->min ? g_strdup_printf("%" G_GUINT64_FORMAT,
									  k->min - 1)
							: g_strdup("-1");

			if (k->flags & VS_CFG_KEY_ZERO_OFF) {	/* 0 | min..max */
				g_assert_cmpuint(k->min, >, 1);
				range = g_strdup_printf("0 or %s..%s", lo, hi);
				key_accepts(k, "0", 0);
				key_refuses(k, "1", range);
			} else {
				range = g_strdup_printf("an integer in %s..%s", lo, hi);
			}
			key_accepts(k, lo, k->min);
			key_accepts(k, hi, k->max);
			key_refuses(k, above, range);
			key_refuses(k, below, range);
			key_refuses(k, "12x", range);
			key_refuses(k, "", range);
			break;
		}
		case VS_CFG_BOOL:
			key_accepts(k, "true", 1);
			key_accepts(k, "false", 0);
			key_accepts(k, "1", 1);
			key_accepts(k, "0", 0);
			key_refuses(k, "yes", "true or false");
			key_refuses(k, "TRUE", "true or false");
			break;
		case VS_CFG_SWITCH:
		case VS_CFG_ENUM:
			g_assert_nonnull(k->values);
			for (v = 0; v < k->values->n; v++)
				if (k->values->names[v])
					key_accepts(k, k->values->names[v], v);
			range = vs_enum_describe(k->values, ", ", " or ");
			key_refuses(k, "bogus", range);
			key_refuses(k, "", range);
			break;
		case VS_CFG_PATH:
			key_accepts(k, "/an/absolute/path", 0);
			key_refuses(k, "relative/path", "an absolute path");
			key_refuses(k, "", "an absolute path");
			break;
		case VS_CFG_ARGV:
			key_accepts(k, "--a 'b c'", 0);
			key_accepts(k, "", 0);
			key_refuses(k, "'unterminated", "cannot be split into words");
			break;
		case VS_CFG_MAC:
			key_accepts(k, "52:54:00:00:00:01", 0);
			key_refuses(k, "01:00:5e:00:00:01", "unicast MAC");
			key_refuses(k, "52:54:00:00:00", "unicast MAC");
			break;
		case VS_CFG_STR:
			key_accepts(k, "", 0);
			key_accepts(k, "any text at all", 0);
			break;
		case VS_CFG_NUM_TYPES:
			g_assert_not_reached();
		}
	}
}

/* The rows themselves: unique names and options, sane ranges and defaults */
static void test_keys_table(void)
{
	unsigned int i, j;

	g_assert_cmpuint(vs_cfg_num_keys, >, 0);
	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];

		g_assert_nonnull(k->name);
		g_assert_nonnull(k->doc);
		g_assert_cmpuint(k->section, <, VS_CFG_NUM_SECTIONS);
		g_assert_true(vs_cfg_key_find(k->section, k->name) == k);
		if (k->type == VS_CFG_UINT || k->type == VS_CFG_U64) {
			g_assert_cmpuint(k->min, <=, k->max);
			if (!(k->flags & VS_CFG_KEY_ZERO_OFF) || k->dflt)
				g_assert_cmpuint(k->dflt, >=, k->min);
			g_assert_cmpuint(k->dflt, <=, k->max);
			if (k->type == VS_CFG_UINT)
				g_assert_cmpuint(k->max, <=, G_MAXUINT);
		}
		if (k->type == VS_CFG_SWITCH)
			g_assert_cmpuint(k->values->n, ==, 2);
		if (k->type == VS_CFG_SWITCH || k->type == VS_CFG_ENUM)
			g_assert_cmpstr(vs_enum_to_string(k->values, (int)k->dflt), !=, "?");
		if (k->type == VS_CFG_PATH && k->dflt_str)
			g_assert_cmpint(k->dflt_str[0], ==, '/');
		/* options set a daemon, tunnel or discovery key (ports have --port) */
		if (k->option || k->short_option)
			g_assert_true(vs_cfg_section_is_daemon(k->section));
		for (j = 0; j < i; j++) {
			const struct vs_cfg_key *o = &vs_cfg_keys[j];

			/* a port group takes port and policy keys: one namespace */
			if (o->section == k->section ||
			    (o->section >= VS_CFG_SECTION_PORT && k->section >= VS_CFG_SECTION_PORT))
				g_assert_cmpstr(o->name, !=, k->name);
			if (k->option && o->option)
				g_assert_cmpstr(o->option, !=, k->option);
			if (k->short_option)
				g_assert_cmpint(o->short_option, !=, k->short_option);
		}
	}
	/* the class keys are named after the classes */
	for (i = 0; i < VS_PKT_NUM_CLASSES; i++) {
		g_autofree char *pkts = g_strdup_printf("%s-max-pkts", vs_pkt_class_to_string(i));
		g_autofree char *bytes = g_strdup_printf("%s-max-bytes", vs_pkt_class_to_string(i));
		g_autofree char *policy = g_strdup_printf("%s-policy", vs_pkt_class_to_string(i));

		g_assert_nonnull(vs_cfg_key_find(VS_CFG_SECTION_POLICY, pkts));
		g_assert_nonnull(vs_cfg_key_find(VS_CFG_SECTION_POLICY, bytes));
		g_assert_nonnull(vs_cfg_key_find(VS_CFG_SECTION_POLICY, policy));
	}
}

/* The table's defaults are the documented ones */
static void test_keys_defaults(void)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_new();
	const struct vs_buf_policy *p = &pc->policy;
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		const void *base = vs_cfg_section_is_daemon(k->section) ? (const void *)cfg
				   : k->section == VS_CFG_SECTION_PORT ? (const void *)pc
				   : (const void *)p;

		if (k->type == VS_CFG_STR || k->type == VS_CFG_PATH) {
			const char *got = *(char *const *)(const void *)((const char *)base +
									 k->offset);

			if (k->dflt_str)
				g_assert_cmpstr(got, ==, k->dflt_str);
		} else if (k->type != VS_CFG_ARGV && k->type != VS_CFG_MAC) {
			g_assert_cmpuint(vs_cfg_key_get_number(k, base), ==, k->dflt);
		}
	}
	/* docs/configuration.md */
	g_assert_cmpstr(cfg->lcores, ==, "0,1");
	g_assert_cmpuint(cfg->memory_mb, ==, 1024);
	g_assert_cmpint(cfg->hugepages, ==, VS_HUGEPAGES_AUTO);
	g_assert_cmpuint(cfg->idle_sleep_us, ==, 2000);
	g_assert_cmpstr(cfg->control_path, ==, "/run/vhost-shim/control.sock");
	g_assert_null(cfg->control_group);
	g_assert_cmpuint(cfg->control_tcp_port, ==, 0);
	g_assert_cmpuint(cfg->control_clients_per_uid, ==, 16);
	g_assert_cmpstr(cfg->socket_dir, ==, "/run/vhost-shim");
	g_assert_cmpstr(cfg->uplink_drivers, ==, "net_tap net_af_packet net_virtio_user pci");
	g_assert_cmpstr(cfg->uplink_interfaces, ==, "*");
	g_assert_cmpint(cfg->log_level, ==, VS_LOG_INFO);
	g_assert_cmpstr(cfg->node_name, ==, g_get_host_name());
	g_assert_null(cfg->tunnel_listen);
	g_assert_true(cfg->auto_announce);
	g_assert_cmpint(cfg->tls, ==, VS_TLS_NONE);
	g_assert_cmpuint(cfg->keepalive_ms, ==, 1000);
	g_assert_cmpuint(cfg->keepalive_timeout_ms, ==, 5000);
	g_assert_false(pc->client);
	g_assert_cmpuint(pc->queues, ==, 1);
	g_assert_true(p->enabled);
	g_assert_cmpuint(p->max_pkts[VS_PKT_UDP], ==, 16384);
	g_assert_cmpuint(p->max_bytes[VS_PKT_UDP], ==, 24u << 20);
	g_assert_cmpuint(p->max_pkts[VS_PKT_TCP], ==, 4096);
	g_assert_cmpuint(p->max_bytes[VS_PKT_TCP], ==, 8u << 20);
	g_assert_cmpuint(p->max_pkts[VS_PKT_OTHER], ==, 1024);
	g_assert_cmpuint(p->max_bytes[VS_PKT_OTHER], ==, 1u << 20);
	for (i = 0; i < VS_PKT_NUM_CLASSES; i++)
		g_assert_cmpint(p->class_policy[i], ==, VS_CLASS_BUFFER);
	g_assert_cmpint(p->overflow, ==, VS_OVERFLOW_DROP_NEWEST);
	g_assert_cmpuint(p->hold_ms, ==, 10000);
	g_assert_cmpuint(p->linger_ms, ==, 2000);
	g_assert_cmpuint(p->replay_hold_ms, ==, 300);
	g_assert_cmpuint(p->rx_ring_bound, ==, 0);	/* off until measured */
}

/* rx-ring-bound: 0 (off) or 64..32768, default 0, from a file and from a
 * --port spec, with the one message */
static void test_key_rx_ring_bound(void)
{
	const struct vs_cfg_key *k = vs_cfg_key_find(VS_CFG_SECTION_POLICY, "rx-ring-bound");
	static const char file[] = "[port vm1]\nsocket=/s\nmac=52:54:00:00:00:01\n"
				   "uplink=x\nrx-ring-bound=64\n";
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(vs_port_cfg) pc = NULL;
	const struct vs_port_cfg *file_pc;
	g_autoptr(GError) err = NULL;
	g_autofree char *help = NULL;

	g_assert_nonnull(k);
	g_assert_true(k->flags & VS_CFG_KEY_ZERO_OFF);
	g_assert_cmpuint(k->min, ==, 64);
	g_assert_cmpuint(k->max, ==, 32768);
	g_assert_cmpuint(k->dflt, ==, 0);
	help = vs_cfg_key_describe(k);
	g_assert_cmpstr(help, ==, "0|64..32768");	/* its limits: test_keys_limits() */

	g_assert_true(vs_cfg_load_keyfile(cfg, file, strlen(file), &err));
	g_assert_no_error(err);
	g_assert_cmpuint(cfg->ports->len, ==, 1);
	file_pc = g_ptr_array_index(cfg->ports, 0);
	g_assert_cmpuint(file_pc->policy.rx_ring_bound, ==, 64);
	pc = vs_port_cfg_parse_spec("name=vm2,socket=/s,mac=52:54:00:00:00:02,"
				    "rx-ring-bound=256,uplink=x", &err);
	g_assert_no_error(err);
	g_assert_cmpuint(pc->policy.rx_ring_bound, ==, 256);
	g_clear_pointer(&pc, vs_port_cfg_free);
	pc = vs_port_cfg_parse_spec("name=vm2,socket=/s,mac=52:54:00:00:00:02,"
				    "rx-ring-bound=48,uplink=x", &err);
	g_assert_null(pc);
	g_assert_cmpstr(err->message, ==, "port vm2: rx-ring-bound: '48' is not 0 or 64..32768");
}

/* The part of a message after the setting's name */
static const char *msg_body(const GError *err)
{
	const char *p = strstr(err->message, ": '");

	g_assert_nonnull(p);
	return p;
}

/* A value one past the key's range, or no value of its type */
static char *bad_value(const struct vs_cfg_key *k)
{
	if (k->type == VS_CFG_UINT || k->type == VS_CFG_U64)
		return g_strdup_printf("%" G_GUINT64_FORMAT, k->max + 1);
	if (k->type == VS_CFG_PATH)
		return g_strdup("relative");
	if (k->type == VS_CFG_ARGV)
		return g_strdup("'x");
	if (k->type == VS_CFG_MAC)
		return g_strdup("ff:ff:ff:ff:ff:ff");
	return g_strdup("bogus");
}

/* A command line parsed with the generated options; @cl records it */
static gboolean parse_cmdline(struct vs_cfg_cmdline *cl, const char *const *args, GError **error)
{
	g_autoptr(GOptionContext) octx = g_option_context_new(NULL);
	g_auto(GStrv) argv = g_new0(char *, g_strv_length((char **)args) + 2);
	int argc = 0;
	char **argvp;
	gboolean ok;

	argv[argc++] = g_strdup("vhost-shim");
	for (; *args; args++)
		argv[argc++] = g_strdup(*args);
	argvp = g_memdup2(argv, sizeof(char *) * (argc + 1));	/* GLib permutes it */
	g_option_context_set_main_group(octx, vs_cfg_cmdline_group(cl, NULL, NULL));
	ok = g_option_context_parse(octx, &argc, &argvp, error);
	g_free(argvp);
	return ok;
}

/*
 * One message per key: a bad value says the same thing from the file and
 * from the command line (or a --port spec), only the name differs
 */
static void test_keys_one_message(void)
{
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		g_autofree char *bad = bad_value(k);
		g_autoptr(GError) file_err = NULL, other_err = NULL;
		g_autoptr(vs_cfg) cfg = vs_cfg_new();
		g_autofree char *text = NULL;

		if (k->type == VS_CFG_STR)
			continue;	/* any text */
		if (vs_cfg_section_is_daemon(k->section)) {
			g_autoptr(vs_cfg_cmdline) cl = vs_cfg_cmdline_new();
			g_autoptr(vs_cfg) cfg2 = vs_cfg_new();
			g_autofree char *opt = NULL;
			const char *args[2] = { NULL, NULL };

			text = g_strdup_printf("[%s]\n%s=%s\n", vs_cfg_section_to_string(k->section),
					       k->name, bad);
			g_assert_false(vs_cfg_load_keyfile(cfg, text, strlen(text), &file_err));
			g_assert_true(g_str_has_prefix(file_err->message, "["));
			if (!k->option || k->type == VS_CFG_BOOL)
				continue;
			opt = g_strdup_printf("--%s=%s", k->option, bad);
			args[0] = opt;
			g_assert_true(parse_cmdline(cl, args, &other_err));
			g_assert_false(vs_cfg_cmdline_apply(cl, cfg2, &other_err));
			g_assert_true(g_str_has_prefix(other_err->message, "--"));
		} else {
			g_autoptr(vs_port_cfg) pc = NULL;
			g_autofree char *spec = g_strdup_printf(
				"name=vm1,socket=/s,mac=52:54:00:00:00:01,%s=%s,uplink=x", k->name, bad);

			if (k->flags & VS_CFG_KEY_SPEC_ONLY)
				continue;
			text = g_strdup_printf("[port vm1]\n%s=%s\n", k->name, bad);
			g_assert_false(vs_cfg_load_keyfile(cfg, text, strlen(text), &file_err));
			pc = vs_port_cfg_parse_spec(spec, &other_err);
			g_assert_null(pc);
			/* both name the port the same way */
			g_assert_cmpstr(file_err->message, ==, other_err->message);
		}
		g_assert_cmpstr(msg_body(file_err), ==, msg_body(other_err));
	}
}

/* Options override the file, in command-line order; short forms work */
static void test_cmdline(void)
{
	static const char *const args[] = {
		"-m", "128", "--busy-poll", "--hugepages", "no", "-l", "0-3",
		"--log-level=WARN", "-s", "/tmp/c.sock", "--control-tcp-port", "65535",
		"-n", "hosta", "-t", "127.0.0.1:7400", "-k", "/k", "--eal-args", "--a 'b c'",
		"--memory-mb", "256", NULL,
	};
	static const char file[] = "[daemon]\nmemory-mb=512\nidle-sleep-us=7\nlcores=0\n";
	g_autoptr(vs_cfg_cmdline) cl = vs_cfg_cmdline_new();
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;

	g_assert_true(parse_cmdline(cl, args, &err));
	g_assert_no_error(err);
	g_assert_true(vs_cfg_load_keyfile(cfg, file, strlen(file), &err));
	g_assert_true(vs_cfg_cmdline_apply(cl, cfg, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(cfg->memory_mb, ==, 256);	/* the last one */
	g_assert_cmpuint(cfg->idle_sleep_us, ==, 7);	/* the file's */
	g_assert_true(cfg->busy_poll);
	g_assert_cmpint(cfg->hugepages, ==, VS_HUGEPAGES_NO);
	g_assert_cmpstr(cfg->lcores, ==, "0-3");
	g_assert_cmpint(cfg->log_level, ==, VS_LOG_WARNING);
	g_assert_cmpstr(cfg->control_path, ==, "/tmp/c.sock");
	g_assert_cmpuint(cfg->control_tcp_port, ==, 65535);	/* read, then refused: */
	g_assert_false(vs_cfg_validate(cfg, &err));
	g_assert_nonnull(strstr(err->message, "the TCP control listener was removed"));
	g_clear_error(&err);
	cfg->control_tcp_port = 0;
	g_assert_cmpstr(cfg->node_name, ==, "hosta");
	g_assert_cmpstr(cfg->tunnel_listen, ==, "127.0.0.1:7400");
	g_assert_cmpstr(cfg->key_file, ==, "/k");
	g_assert_cmpuint(g_strv_length(cfg->extra_eal_args), ==, 2);
	g_assert_cmpstr(cfg->extra_eal_args[1], ==, "b c");
	g_assert_true(vs_cfg_validate(cfg, &err));

	/* the option's range is the key's: 63 was accepted before the table */
	{
		static const char *const low[] = { "-m", "63", NULL };
		g_autoptr(vs_cfg_cmdline) cl2 = vs_cfg_cmdline_new();

		g_assert_true(parse_cmdline(cl2, low, &err));
		g_assert_false(vs_cfg_cmdline_apply(cl2, cfg, &err));
		g_assert_cmpstr(err->message, ==, "--memory-mb: '63' is not an integer in 64..1048576");
	}
}

/* docs/configuration.md names every key and every option */
static void test_keys_documented(void)
{
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "..", "docs",
						      "configuration.md", NULL);
	g_autofree char *doc = NULL;
	g_autoptr(GError) err = NULL;
	unsigned int i;

	g_file_get_contents(path, &doc, NULL, &err);
	g_assert_no_error(err);
	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		g_autofree char *code = g_strdup_printf("`%s`", k->name);
		g_autofree char *bold = g_strdup_printf("**%s**", k->name);
		g_autofree char *set = g_strdup_printf("\n%s=", k->name);
		g_autofree char *opt = k->option ? g_strdup_printf("--%s", k->option) : NULL;

		if (!strstr(doc, code) && !strstr(doc, bold) && !strstr(doc, set))
			g_error("key %s is not in %s", k->name, path);
		if (opt && !strstr(doc, opt))
			g_error("option %s is not in %s", opt, path);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/keys/table", test_keys_table);
	g_test_add_func("/config/keys/limits", test_keys_limits);
	g_test_add_func("/config/keys/defaults", test_keys_defaults);
	g_test_add_func("/config/keys/rx-ring-bound", test_key_rx_ring_bound);
	g_test_add_func("/config/keys/one-message", test_keys_one_message);
	g_test_add_func("/config/keys/documented", test_keys_documented);
	g_test_add_func("/config/cmdline", test_cmdline);
	return g_test_run();
}
