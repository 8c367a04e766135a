/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow_syntax.c - the rule syntax: every key and field, limits and
 * one past them, clear errors, the canonical form, [policy NAME] groups
 */
#include <string.h>

#include <glib.h>

#include "flow_rules.h"
#include "flow_set.h"
#include "flow_syntax.h"

static struct vs_flow_rule *parse_ok(const char *line)
{
	g_autoptr(GError) err = NULL;
	struct vs_flow_rule *r = vs_flow_syntax_parse_line(line, &err);

	g_assert_no_error(err);
	g_assert_nonnull(r);
	return r;
}

static void expect_error(const char *line, const char *needle)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_flow_rule) r = vs_flow_syntax_parse_line(line, &err);

	g_assert_null(r);
	g_assert_nonnull(err);
	if (!strstr(err->message, needle))
		g_error("'%s': the message '%s' does not say '%s'", line, err->message, needle);
}

static void test_fields(void)
{
	g_autoptr(vs_flow_rule) r = parse_ok(
		"name=voip port=vm1,vm2 match=src=10.0.0.0/8,dst=192.0.2.7,proto=udp,"
		"sport=10000-20000,dport=5060,vlan=100,dscp=ef action=buffer priority=7 "
		"max-pkts=4096 max-bytes=1000000 linger-ms=3000 trigger=sip-register "
		"timeout-ms=5000");
	/* tcp-on-loss may not go with dscp (flow_rules.c): on its own rule */
	g_autoptr(vs_flow_rule) r2 = parse_ok("name=nfs match=proto=tcp tcp-on-loss=drop");
	const struct vs_flow_match *m = &r->match;

	g_assert_cmpstr(r->name, ==, "voip");
	g_assert_cmpstr(r->ports[0], ==, "vm1");
	g_assert_cmpstr(r->ports[1], ==, "vm2");
	g_assert_null(r->ports[2]);
	g_assert_cmpuint(m->fields, ==, VS_FLOW_M_SRC | VS_FLOW_M_DST | VS_FLOW_M_PROTO |
			 VS_FLOW_M_SPORT | VS_FLOW_M_DPORT | VS_FLOW_M_VLAN | VS_FLOW_M_DSCP);
	g_assert_cmpint(m->src.af, ==, VS_FLOW_AF_INET);
	g_assert_cmpuint(m->src.len, ==, 8);
	g_assert_cmpuint(m->src.addr[0], ==, 10);
	g_assert_cmpuint(m->dst.len, ==, 32);
	g_assert_cmpuint(m->dst.addr[3], ==, 7);
	g_assert_cmpuint(m->proto, ==, 17);
	g_assert_cmpuint(m->sport_lo, ==, 10000);
	g_assert_cmpuint(m->sport_hi, ==, 20000);
	g_assert_cmpuint(m->dport_lo, ==, 5060);
	g_assert_cmpuint(m->dport_hi, ==, 5060);
	g_assert_cmpuint(m->vlan, ==, 100);
	g_assert_cmpuint(m->dscp, ==, 46);
	g_assert_cmpint(r->action, ==, VS_FLOW_ACT_BUFFER);
	g_assert_cmpuint(r->priority, ==, 7);
	g_assert_cmpuint(r->max_pkts, ==, 4096);
	g_assert_cmpuint(r->max_bytes, ==, 1000000);
	g_assert_cmpuint(r->linger_ms, ==, 3000);
	g_assert_cmpuint(r->timeout_ms, ==, 5000);
	g_assert_cmpint(r->trigger, ==, VS_FLOW_TRIG_SIP_REGISTER);
	g_assert_cmpint(r2->tcp_on_loss, ==, VS_FLOW_TCP_LOSS_DROP);
	g_assert_true(r2->set & VS_FLOW_SET_TCP_LOSS);
}

static void test_defaults(void)
{
	g_autoptr(vs_flow_rule) r = parse_ok("name=x match=any");

	g_assert_cmpuint(r->match.fields, ==, 0);
	g_assert_cmpuint(r->set, ==, VS_FLOW_SET_MATCH);
	g_assert_null(r->ports);
	g_assert_cmpint(r->action, ==, VS_FLOW_ACT_BUFFER);
	g_assert_cmpuint(r->priority, ==, 0);
	g_assert_cmpint(r->trigger, ==, VS_FLOW_TRIG_DIRECT);
	g_assert_cmpuint(r->linger_ms, ==, VS_FLOW_DEFAULT_LINGER_MS);
}

static void test_values(void)
{
	static const struct {
		const char *dscp;
		uint8_t v;
	} dscps[] = {
		{ "0", 0 }, { "63", 63 }, { "ef", 46 }, { "va", 44 }, { "le", 1 }, { "cs0", 0 },
		{ "cs7", 56 }, { "af11", 10 }, { "af43", 38 }, { "af21", 18 },
	};
	static const struct {
		const char *proto;
		uint8_t v;
	} protos[] = {
		{ "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 }, { "sctp", 132 },
		{ "0", 0 }, { "255", 255 }, { "47", 47 },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(dscps); i++) {
		g_autofree char *line = g_strdup_printf("name=d match=dscp=%s", dscps[i].dscp);
		g_autoptr(vs_flow_rule) r = parse_ok(line);

		g_assert_cmpuint(r->match.dscp, ==, dscps[i].v);
	}
	for (i = 0; i < G_N_ELEMENTS(protos); i++) {
		g_autofree char *line = g_strdup_printf("name=p match=proto=%s", protos[i].proto);
		g_autoptr(vs_flow_rule) r = parse_ok(line);

		g_assert_cmpuint(r->match.proto, ==, protos[i].v);
	}
	{
		g_autoptr(vs_flow_rule) r = parse_ok("name=v6 match=src=2001:db8::/32,dst=::1");

		g_assert_cmpint(r->match.src.af, ==, VS_FLOW_AF_INET6);
		g_assert_cmpuint(r->match.src.len, ==, 32);
		g_assert_cmpuint(r->match.dst.len, ==, 128);
		g_assert_cmpuint(r->match.dst.addr[15], ==, 1);
	}
	{
		/* blanks and tabs between keys, in any order */
		g_autoptr(vs_flow_rule) r = parse_ok("  action=drop\tmatch=vlan=0   name=t  ");

		g_assert_cmpint(r->action, ==, VS_FLOW_ACT_DROP);
		g_assert_cmpuint(r->match.fields, ==, VS_FLOW_M_VLAN);
	}
}

/* The largest value of each bounded key is taken, one more is refused */
static void test_limits(void)
{
	g_autofree char *name31 = g_strnfill(31, 'n');
	g_autofree char *name32 = g_strnfill(32, 'n');
	g_autofree char *ok_name = g_strdup_printf("name=%s match=any", name31);
	g_autofree char *long_name = g_strdup_printf("name=%s match=any", name32);
	g_autoptr(GString) line = g_string_new("name=l match=any");
	static const char *const ok[] = {
		"name=a match=src=10.0.0.1/32 priority=7",
		"name=a match=src=::/128",
		"name=a match=proto=tcp,dport=65535 action=hold",
		"name=a match=vlan=4095,dscp=63",
		"name=a match=any max-pkts=3145728 max-bytes=12884901888",
		"name=a match=any linger-ms=600000 timeout-ms=600000",
		"name=a match=any max-pkts=1 max-bytes=1 linger-ms=0 timeout-ms=0",
	};
	static const char *const bad[][2] = {
		{ "name=a match=src=10.0.0.1/33", "is not an address or prefix" },
		{ "name=a match=src=::/129", "is not an address or prefix" },
		{ "name=a match=dport=65536", "is not a port or range" },
		{ "name=a match=vlan=4096", "is not a VLAN id (0-4095)" },
		{ "name=a match=dscp=64", "is not a DSCP" },
		{ "name=a match=proto=256", "is not a protocol" },
		{ "name=a match=any priority=8", "priority: '8' is not valid (0-7)" },
		{ "name=a match=any max-pkts=3145729", "(1-3145728)" },
		{ "name=a match=any max-pkts=0", "(1-3145728)" },
		{ "name=a match=any max-bytes=12884901889", "(1-12884901888)" },
		{ "name=a match=any linger-ms=600001", "(0-600000 ms)" },
		{ "name=a match=any timeout-ms=600001", "(0-600000 ms)" },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(ok); i++)
		vs_flow_rule_free(parse_ok(ok[i]));
	for (i = 0; i < G_N_ELEMENTS(bad); i++)
		expect_error(bad[i][0], bad[i][1]);
	vs_flow_rule_free(parse_ok(ok_name));
	expect_error(long_name, "name longer than 31 characters");

	/* VS_FLOW_LINE_MAX bytes, and one more */
	while (line->len < VS_FLOW_LINE_MAX)
		g_string_append_c(line, ' ');
	vs_flow_rule_free(parse_ok(line->str));
	g_string_append_c(line, ' ');
	expect_error(line->str, "longer than 4096 bytes");
}

static void test_errors(void)
{
	static const char *const cases[][2] = {
		{ "match=any", "name=NAME is required" },
		{ "name=a", "match= is required (match=any matches every frame)" },
		{ "name=a match=any name=b", "name given twice" },
		{ "name=a match=any match=any", "policy a: match given twice" },
		{ "name=a match=any colour=red", "policy a: unknown key 'colour' (match, action" },
		{ "name=a match=any action", "policy a: 'action' is not KEY=VALUE" },
		{ "name=a match=any =x", "is not KEY=VALUE" },
		{ "name=a match=any action=keep", "policy a: action: 'keep' is not valid (buffer, hold or drop)" },
		{ "name=a match=any trigger=sip", "(none, tcp-syn, sip-register, sip-bye-next or direct-arrival)" },
		{ "name=a match=any tcp-on-loss=rst", "tcp-on-loss: 'rst' is not valid (drop or reset)" },
		{ "name=a match=colour=red", "policy a: match: unknown field 'colour'" },
		{ "name=a match=src=10.0.0.0/8,src=11.0.0.0/8", "match: src given twice" },
		{ "name=a match=src", "'src' is not FIELD=VALUE" },
		{ "name=a match=", "match: empty (use match=any" },
		{ "name=a match=,", "'' is not FIELD=VALUE" },
		{ "name=a match=src=10.0.0.1/8", "'10.0.0.1/8' has address bits set past /8" },
		{ "name=a match=src=2001:db8::1/64", "has address bits set past /64" },
		{ "name=a match=src=fe80::1%eth0", "is not an address or prefix" },
		{ "name=a match=src=10.0.0.0/8,dst=2001:db8::/32", "src and dst are of different address families" },
		{ "name=a match=dport=10-5", "'10-5' is not a port or range" },
		{ "name=a match=dport=-5", "is not a port or range" },
		{ "name=a match=dport=5-", "is not a port or range" },
		{ "name=a match=sport=+5", "is not a port or range" },
		{ "name=a match=proto=icmp,dport=80", "ports need proto tcp, udp or sctp (or no proto), not 1" },
		{ "name=a match=proto=udp action=hold", "action=hold is for TCP: add proto=tcp" },
		{ "name=a match=any action=hold", "action=hold is for TCP" },
		{ "name=a match=proto=udp tcp-on-loss=reset", "tcp-on-loss=reset on a rule that matches no TCP" },
		{ "name=a match=proto=udp trigger=tcp-syn", "trigger=tcp-syn on a rule that matches no TCP" },
		{ "name=a match=any action=drop priority=3", "mean nothing with action=drop" },
		{ "name=a match=any action=drop max-pkts=3", "mean nothing with action=drop" },
		{ "name=default-udp match=any", "does not start with 'default-'" },
		{ "name=a/b match=any", "1-31 characters of [A-Za-z0-9_.-]" },
		{ "name= match=any", "1-31 characters" },
		{ "name=a match=any port=", "is not a list of 1-64 port names" },
		{ "name=a match=any port=vm1,,vm2", "is not a list of" },
		{ "name=a match=any port=vm1,vm1", "port vm1 named twice" },
		{ "name=a match=any port=a.b", "is not a list of" },
		{ "name=a match=any port=sixteen-chars-xx", "is not a list of" },
		{ "name=a match=any priority=07x", "priority: '07x' is not valid" },
		{ "name=a match=any priority=-1", "priority: '-1' is not valid" },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++)
		expect_error(cases[i][0], cases[i][1]);
}

/* A key that fails leaves the rule as it was; a key is taken once */
static void test_set(void)
{
	g_autoptr(vs_flow_rule) r = vs_flow_rule_new("k");
	g_autoptr(vs_flow_rule) before = NULL;
	g_autoptr(GError) err = NULL;

	g_assert_true(vs_flow_syntax_set(r, "port", "vm1", NULL));
	g_assert_true(vs_flow_syntax_set(r, "match", "src=10.0.0.0/8", NULL));
	before = vs_flow_rule_copy(r);
	g_assert_false(vs_flow_syntax_set(r, "priority", "9", &err));
	g_assert_true(vs_flow_rule_equal(r, before));
	g_clear_error(&err);
	g_assert_false(vs_flow_syntax_set(r, "port", "vm2", &err));
	g_assert_cmpstr(err->message, ==, "policy k: port given twice");
	g_assert_true(vs_flow_rule_equal(r, before));
	g_clear_error(&err);
	g_assert_false(vs_flow_syntax_set(r, "name", "x", &err));
	g_assert_nonnull(strstr(err->message, "unknown key 'name'"));
}

/* format(parse(line)) is canonical, and parses back to an equal rule */
static void test_round_trip(void)
{
	static const char *const lines[][2] = {
		{ "name=a match=any", "name=a match=any" },
		{ "trigger=none tcp-on-loss=drop name=b match=proto=6,dport=80-80,src=10.0.0.0/8 "
		  "action=hold",
		  "name=b match=src=10.0.0.0/8,proto=tcp,dport=80 action=hold trigger=none "
		  "tcp-on-loss=drop" },
		{ "name=c port=x,y match=dst=2001:DB8:0:0::/64,dscp=af41,vlan=7,proto=132,sport=1-2 "
		  "priority=2 max-bytes=9 max-pkts=8 linger-ms=1 timeout-ms=2",
		  "name=c port=x,y match=dst=2001:db8::/64,proto=sctp,sport=1-2,vlan=7,dscp=34 "
		  "priority=2 max-pkts=8 max-bytes=9 timeout-ms=2 linger-ms=1" },
		{ "name=e match=proto=99", "name=e match=proto=99" },
		{ "name=d match=src=0.0.0.0/0 action=drop trigger=sip-bye-next",
		  "name=d match=src=0.0.0.0/0 action=drop trigger=sip-bye-next" },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(lines); i++) {
		g_autoptr(vs_flow_rule) r = parse_ok(lines[i][0]);
		g_autofree char *text = vs_flow_syntax_format(r);
		g_autoptr(vs_flow_rule) again = NULL;
		g_autofree char *text2 = NULL;

		g_assert_cmpstr(text, ==, lines[i][1]);
		again = parse_ok(text);
		g_assert_true(vs_flow_rule_equal(r, again));
		text2 = vs_flow_syntax_format(again);
		g_assert_cmpstr(text2, ==, text);
	}
}

static void test_keyfile(void)
{
	static const char conf[] =
		"[daemon]\nlog-level=info\n"
		"[policy voip]\nmatch=proto=udp,dport=10000-20000\npriority=7\nmax-pkts=4096\n"
		"trigger=sip-register\n"
		"[port vm1]\nsocket=/tmp/x\n"
		"[policy bulk]\nport=vm1\nmatch=src=192.0.2.0/24\naction=drop\n";
	static const char *const bad[][2] = {
		{ "[policy a]\nmatch=any\npriority=x\n", "policy a: priority: 'x' is not valid" },
		{ "[policy a]\nname=b\nmatch=any\n", "policy a: unknown key 'name'" },
		{ "[policy a]\npriority=1\n", "policy a: match= is required" },
		{ "[policy a]\nmatch=any\n[policy a]\naction=drop\n", "" },
		{ "[policy default-x]\nmatch=any\n", "does not start with 'default-'" },
		{ "[policy aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\nmatch=any\n",
		  "a policy name is at most 31 characters" },
		/* GLib 2.74 returns this value and an error: the error wins */
		{ "[policy a]\nmatch=dport=1\\\n", "[policy a] match: Key file contains key" },
	};
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(GError) err = NULL;
	const struct vs_flow_rule *r;
	unsigned int i;

	g_assert_true(g_key_file_load_from_data(kf, conf, sizeof(conf) - 1, 0, NULL));
	g_assert_true(vs_flow_set_load_keyfile(set, kf, &err));
	g_assert_no_error(err);
	g_assert_cmpuint(set->rules->len, ==, 2);
	r = vs_flow_set_find(set, "voip");
	g_assert_nonnull(r);
	g_assert_cmpuint(r->id, ==, 0);
	g_assert_cmpuint(r->priority, ==, 7);
	g_assert_cmpint(r->trigger, ==, VS_FLOW_TRIG_SIP_REGISTER);
	r = vs_flow_set_find(set, "bulk");
	g_assert_cmpuint(r->id, ==, 1);
	g_assert_cmpstr(r->ports[0], ==, "vm1");
	g_assert_cmpint(r->action, ==, VS_FLOW_ACT_DROP);
	/* a name is unique in a set */
	g_assert_false(vs_flow_set_add(set, parse_ok("name=bulk match=any"), &err));
	g_assert_cmpstr(err->message, ==, "policy bulk exists already");

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GKeyFile) k2 = g_key_file_new();
		g_autoptr(vs_flow_set) s2 = vs_flow_set_new();
		g_autoptr(GError) e2 = NULL;

		/* GKeyFile merges a repeated group: one rule, keys of both */
		g_assert_true(g_key_file_load_from_data(k2, bad[i][0], strlen(bad[i][0]), 0, NULL));
		if (!*bad[i][1]) {
			g_assert_true(vs_flow_set_load_keyfile(s2, k2, NULL));
			g_assert_cmpuint(s2->rules->len, ==, 1);
			continue;
		}
		g_assert_false(vs_flow_set_load_keyfile(s2, k2, &e2));
		if (!strstr(e2->message, bad[i][1]))
			g_error("'%s' does not say '%s'", e2->message, bad[i][1]);
	}
}

static void test_port_opts(void)
{
	struct vs_flow_port_opts o = { 0 };
	g_autoptr(GError) err = NULL;

	g_assert_true(vs_flow_syntax_port_opt(&o, "total-max-pkts", "3145728", NULL));
	g_assert_true(vs_flow_syntax_port_opt(&o, "total-max-bytes", "1", NULL));
	g_assert_true(vs_flow_syntax_port_opt(&o, "tcp-on-loss", "reset", NULL));
	g_assert_cmpuint(o.set, ==, VS_FLOW_POPT_TOTAL_PKTS | VS_FLOW_POPT_TOTAL_BYTES);
	g_assert_cmpuint(o.total_max_pkts, ==, 3145728);
	g_assert_cmpint(o.tcp_on_loss, ==, VS_FLOW_TCP_LOSS_RESET);
	g_assert_false(vs_flow_syntax_port_opt(&o, "total-max-pkts", "3145729", &err));
	g_assert_cmpstr(err->message, ==, "total-max-pkts: '3145729' is not an integer in 1..3145728");
	g_clear_error(&err);
	g_assert_false(vs_flow_syntax_port_opt(&o, "total-max-bytes", "0", &err));
	g_clear_error(&err);
	g_assert_false(vs_flow_syntax_port_opt(&o, "tcp-on-loss", "maybe", &err));
	g_clear_error(&err);
	g_assert_false(vs_flow_syntax_port_opt(&o, "reserve", "1", &err));
	g_assert_nonnull(strstr(err->message, "unknown key 'reserve'"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flow-syntax/fields", test_fields);
	g_test_add_func("/flow-syntax/defaults", test_defaults);
	g_test_add_func("/flow-syntax/values", test_values);
	g_test_add_func("/flow-syntax/limits", test_limits);
	g_test_add_func("/flow-syntax/errors", test_errors);
	g_test_add_func("/flow-syntax/set", test_set);
	g_test_add_func("/flow-syntax/round-trip", test_round_trip);
	g_test_add_func("/flow-syntax/keyfile", test_keyfile);
	g_test_add_func("/flow-syntax/port-opts", test_port_opts);
	return g_test_run();
}
