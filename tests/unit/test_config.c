/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_config.c - configuration parsing and validation
 *
 * Theory of operation: each test builds a struct vs_cfg or vs_port_cfg
 * from a --port spec or a configuration file's text, then checks the
 * values, or the one error message a bad input gets, and what validation
 * and vs_cfg_build_eal_argv() make of it.  The key table itself (ranges,
 * defaults, messages, the generated command-line options, the docs) is
 * test_config_keys.c's.
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "config_keys.h"
#include "vhost-shim/tunnel_wire.h"
#include "flow_set.h"
#include "log.h"

static void test_defaults(void)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;

	g_assert_true(vs_cfg_validate(cfg, &err));
	g_assert_cmpstr(cfg->file_prefix, ==, VS_DEFAULT_FILE_PREFIX);
	g_assert_cmpuint(cfg->idle_sleep_us, ==, VS_DEFAULT_IDLE_SLEEP_US);
	g_assert_false(cfg->busy_poll);
	g_assert_cmpuint(cfg->ports->len, ==, 0);
}

static void test_spec_ok(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(
		"name=vm1,socket=/run/vm1.sock,mac=52:54:00:12:34:56,queues=2,mode=client,"
		"uplink=net_tap0,iface=t0,remote=br0", &err);

	g_assert_no_error(err);
	g_assert_nonnull(pc);
	g_assert_cmpstr(pc->name, ==, "vm1");
	g_assert_cmpstr(pc->socket_path, ==, "/run/vm1.sock");
	g_assert_cmpstr(pc->uplink, ==, "net_tap0,iface=t0,remote=br0");
	g_assert_cmpuint(pc->queues, ==, 2);
	g_assert_true(pc->client);
	g_assert_cmpuint(pc->mac[5], ==, 0x56);
}

static void test_spec_errors(void)
{
	static const char *const bad[] = {
		"socket=/a,mac=52:54:00:00:00:01,uplink=net_null0",		/* no name */
		"name=vm1,mac=52:54:00:00:00:01,uplink=net_null0",		/* no socket */
		"name=vm1,socket=rel,mac=52:54:00:00:00:01,uplink=net_null0",	/* relative */
		"name=vm1,socket=/a,uplink=net_null0",				/* no mac */
		"name=vm1,socket=/a,mac=01:00:5e:00:00:01,uplink=net_null0",	/* multicast */
		"name=vm1,socket=/a,mac=52:54:00:00:00:0,uplink=net_null0",	/* short mac */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01",			/* no uplink */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,queues=0,uplink=x",	/* queues min-1 */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,queues=9,uplink=x",	/* queues max+1 */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,mode=both,uplink=x",
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,colour=red,uplink=x",
		"name=a_name_too_long_,socket=/a,mac=52:54:00:00:00:01,uplink=x", /* 16 chars */
		"name=vm/1,socket=/a,mac=52:54:00:00:00:01,uplink=x",
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,garbage",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(bad[i], &err);

		if (pc)
			g_error("accepted bad spec '%s'", bad[i]);
		g_assert_nonnull(err);
		g_assert_cmpstr(err->message, !=, "");
	}
}

static void test_limits(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_port_cfg) max_name = vs_port_cfg_parse_spec(
		"name=a_name_15_chars,socket=/a,mac=52:54:00:00:00:01,queues=8,uplink=x", &err);

	g_assert_no_error(err);
	g_assert_nonnull(max_name);
	g_assert_cmpuint(strlen(max_name->name), ==, VS_NAME_MAX);
	g_assert_cmpuint(max_name->queues, ==, VS_MAX_QUEUES);
}

/*
 * mtu: 68..9000 (the IPv4 minimum, a jumbo frame's usual size), default
 * 1500; the largest frame a port carries is its MTU plus an Ethernet
 * header and one VLAN tag, the bound the dataplane and the tunnel apply
 */
static void test_mtu(void)
{
	static const char *const bad[] = {
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=67,uplink=x",	/* min-1 */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=9001,uplink=x",	/* max+1 */
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=0,uplink=x",
		"name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=jumbo,uplink=x",
	};
	static const struct {
		const char *spec;
		unsigned int mtu, max_frame;
	} good[] = {
		{ "name=vm1,socket=/a,mac=52:54:00:00:00:01,uplink=x", 1500, 1518 },
		{ "name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=68,uplink=x", 68, 86 },
		{ "name=vm1,socket=/a,mac=52:54:00:00:00:01,mtu=9000,uplink=x", 9000, 9018 },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(bad[i], &err);

		if (pc)
			g_error("accepted bad spec '%s'", bad[i]);
		g_assert_nonnull(strstr(err->message, "mtu"));
		g_assert_nonnull(strstr(err->message, "68..9000"));
	}
	for (i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(good[i].spec, &err);

		g_assert_no_error(err);
		g_assert_cmpuint(pc->mtu, ==, good[i].mtu);
		g_assert_cmpuint(vs_port_cfg_max_frame(pc), ==, good[i].max_frame);
	}
	/* a value set behind the parser's back (port-add) is checked too */
	{
		g_autoptr(GError) err = NULL;
		g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(good[0].spec, &err);

		pc->mtu = 9001;
		g_assert_false(vs_port_cfg_validate(pc, &err));
		g_assert_nonnull(strstr(err->message, "mtu must be 68..9000"));
	}
	/* the widest frame a port may have fits a tunnel FRAME */
	g_assert_cmpuint(VS_MAX_MTU + VS_PORT_FRAME_OVERHEAD, <=, VS_TUN_MAX_FRAME);
}

static const char keyfile[] =
	"[daemon]\n"
	"file-prefix=hostA\n"
	"lcores=0,1\n"
	"memory-mb=512\n"
	"hugepages=no\n"
	"busy-poll=true\n"
	"idle-sleep-us=250\n"
	"control-socket=/tmp/a.sock\n"
	"socket-dir=/tmp\n"
	"log-level=debug\n"
	"eal-args=--log-level=lib.vhost:debug\n"
	"\n"
	"[port vm1]\n"
	"socket=/tmp/vm1.sock\n"
	"mac=52:54:00:00:00:01\n"
	"uplink=net_tap0,iface=t0\n"
	"\n"
	"[port vm2]\n"
	"socket=/tmp/vm2.sock\n"
	"mode=client\n"
	"mac=52:54:00:00:00:02\n"
	"queues=2\n"
	"uplink=net_af_packet0,iface=veth0\n";

static void test_keyfile_ok(void)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;
	const struct vs_port_cfg *p2;

	g_assert_true(vs_cfg_load_keyfile(cfg, keyfile, strlen(keyfile), &err));
	g_assert_no_error(err);
	g_assert_true(vs_cfg_validate(cfg, &err));
	g_assert_cmpstr(cfg->file_prefix, ==, "hostA");
	g_assert_cmpuint(cfg->memory_mb, ==, 512);
	g_assert_cmpint(cfg->hugepages, ==, VS_HUGEPAGES_NO);
	g_assert_true(cfg->busy_poll);
	g_assert_cmpuint(cfg->idle_sleep_us, ==, 250);
	g_assert_cmpint(cfg->log_level, ==, VS_LOG_DEBUG);
	g_assert_cmpstr(cfg->extra_eal_args[0], ==, "--log-level=lib.vhost:debug");
	g_assert_cmpuint(cfg->ports->len, ==, 2);
	p2 = g_ptr_array_index(cfg->ports, 1);
	g_assert_cmpstr(p2->name, ==, "vm2");
	g_assert_true(p2->client);
	g_assert_cmpuint(p2->queues, ==, 2);
}

static void check_keyfile_error(const char *text, const char *needle)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;

	g_assert_false(vs_cfg_load_keyfile(cfg, text, strlen(text), &err) &&
		       vs_cfg_validate(cfg, &err));
	g_assert_nonnull(err);
	if (!strstr(err->message, needle))
		g_error("error '%s' does not mention '%s'", err->message, needle);
}

static void test_keyfile_errors(void)
{
	check_keyfile_error("[daemon]\nbogus=1\n", "bogus");
	check_keyfile_error("[daemon]\nmemory-mb=12\n", "memory-mb");
	check_keyfile_error("[daemon]\nhugepages=maybe\n", "hugepages");
	check_keyfile_error("[daemon]\nbusy-poll=perhaps\n", "busy-poll");
	check_keyfile_error("[daemon]\nidle-sleep-us=100001\n", "idle-sleep-us");
	check_keyfile_error("[daemon]\nlog-level=loud\n", "log-level");
	check_keyfile_error("[daemon]\nfile-prefix=a/b\n", "file-prefix");
	check_keyfile_error("[portvm1]\nsocket=/a\n", "unknown group");
	check_keyfile_error("[port vm1]\nsocket=/a\nmac=52:54:00:00:00:01\n", "uplink");
	check_keyfile_error("[port vm1]\nsocket=/a\nmac=52:54:00:00:00:01\nuplink=x\n"
			    "[port vm2]\nsocket=/a\nmac=52:54:00:00:00:02\nuplink=y\n",
			    "already used");
	check_keyfile_error("not a key file", "");
	/* the keepalive's timeout comes after its interval */
	check_keyfile_error("[tunnel]\nkeepalive-ms=5000\n", "keepalive-timeout-ms");
	check_keyfile_error("[tunnel]\nkeepalive-ms=2000\nkeepalive-timeout-ms=1000\n",
			    "must exceed keepalive-ms");
	check_keyfile_error("[tunnel]\nkeepalive-timeout-ms=5\n", "keepalive-timeout-ms");
	/* GLib returns a value *and* an error for a trailing backslash
	 * (fuzz/crashes-found/fuzz_config): it must be an error only */
	check_keyfile_error("[tunnel]\nnode-name=h\\\n", "");
	check_keyfile_error("[daemon]\nlcores=0\\\n", "");
	check_keyfile_error("[port vm1]\nsocket=/a\\\n", "");
}

#define POLICY_PORT "[port vm1]\nsocket=/run/vhost-shim/vm1.sock\nmac=52:54:00:00:00:01\n" \
	"uplink=net_tap0,iface=t0\nudp-max-pkts=3000\n"

/* [policy NAME] groups and --policy lines: one rule set, checked per port */
static void test_policy(void)
{
	static const char ok[] = POLICY_PORT
		"[policy voip]\nmatch=proto=udp,dport=5004\npriority=7\nmax-pkts=1000\n"
		"[policy bulk]\nmatch=proto=udp,dport=9000-9100\nport=vm1\n";
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;
	const struct vs_flow_rule *r;

	g_assert_true(vs_cfg_load_keyfile(cfg, ok, strlen(ok), &err));
	g_assert_no_error(err);
	g_assert_true(vs_cfg_add_policy(cfg, "name=dns match=proto=udp,dport=53 action=drop",
					&err));
	vs_cfg_validate(cfg, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(cfg->flow_rules->rules->len, ==, 3);
	r = vs_flow_set_find(cfg->flow_rules, "voip");
	g_assert_nonnull(r);
	g_assert_cmpuint(r->priority, ==, 7);
	g_assert_cmpuint(r->max_pkts, ==, 1000);
	r = vs_flow_set_find(cfg->flow_rules, "dns");
	g_assert_nonnull(r);
	g_assert_cmpint(r->action, ==, VS_FLOW_ACT_DROP);
	g_assert_cmpuint(r->id, ==, 2);	/* after the file's two */
	/* a name twice, from the file and the command line */
	g_assert_false(vs_cfg_add_policy(cfg, "name=voip match=any", &err));
	g_assert_nonnull(err);
	g_assert_nonnull(strstr(err->message, "exists"));

	check_keyfile_error("[policy a]\nmatch=proto=udp,dport=99999\n", "dport");
	check_keyfile_error("[policy a]\ncolour=red\n", "colour");
	check_keyfile_error("[policy a]\naction=drop\npriority=3\n", "a");
	check_keyfile_error("[policy default-udp]\nmatch=any\n", "default-udp");
	/* a rule's cap above what the port can hold: named by the port */
	check_keyfile_error(POLICY_PORT "[policy big]\nmatch=proto=udp\nmax-pkts=100000\n",
			    "port vm1");
	/* the same rule for another port only is fine */
	{
		static const char other[] = POLICY_PORT
			"[policy big]\nmatch=proto=udp\nmax-pkts=100000\nport=vm2\n";
		g_autoptr(vs_cfg) c2 = vs_cfg_new();
		g_autoptr(GError) e2 = NULL;

		g_assert_true(vs_cfg_load_keyfile(c2, other, strlen(other), &e2));
		g_assert_true(vs_cfg_validate(c2, &e2));
	}
	/* the port's totals: a rule's cap above them is refused, one below is
	 * compiled against them; 0 (the default) is the class caps summed */
	check_keyfile_error(POLICY_PORT "total-max-pkts=500\n"
			    "[policy voip]\nmatch=proto=udp\nmax-pkts=600\n",
			    "exceed the port's total-max-pkts 500");
	check_keyfile_error(POLICY_PORT "total-max-bytes=1000\n"
			    "[policy voip]\nmatch=proto=udp\nmax-bytes=1001\n",
			    "total-max-bytes 1000");
	check_keyfile_error(POLICY_PORT "total-max-pkts=3145729\n", "total-max-pkts");
	{
		static const char totals[] = POLICY_PORT "total-max-pkts=500\n"
			"total-max-bytes=100000\n[policy voip]\nmatch=proto=udp\nmax-pkts=400\n";
		g_autoptr(vs_cfg) c3 = vs_cfg_new();
		g_autoptr(GError) e3 = NULL;
		g_autoptr(vs_flow_table) t = NULL;
		const struct vs_port_cfg *pc;

		g_assert_true(vs_cfg_load_keyfile(c3, totals, strlen(totals), &e3));
		g_assert_true(vs_cfg_validate(c3, &e3));
		pc = g_ptr_array_index(c3->ports, 0);
		g_assert_cmpuint(pc->policy.total_max_pkts, ==, 500);
		t = vs_flow_set_compile(c3->flow_rules, pc->name, &pc->policy, NULL, &e3);
		g_assert_no_error(e3);
		g_assert_cmpuint(t->total_pkts, ==, 500);
		g_assert_cmpuint(t->total_bytes, ==, 100000);
	}
	{
		g_autoptr(vs_cfg) c4 = vs_cfg_new();
		g_autoptr(GError) e4 = NULL;
		g_autoptr(vs_flow_table) t = NULL;
		const struct vs_port_cfg *pc;

		g_assert_true(vs_cfg_load_keyfile(c4, POLICY_PORT, strlen(POLICY_PORT), &e4));
		pc = g_ptr_array_index(c4->ports, 0);
		t = vs_flow_set_compile(c4->flow_rules, pc->name, &pc->policy, NULL, &e4);
		g_assert_no_error(e4);
		g_assert_cmpuint(t->total_pkts, ==, 3000 + pc->policy.max_pkts[VS_PKT_TCP] +
							   pc->policy.max_pkts[VS_PKT_OTHER]);
	}
}

#define DISC_TUNNEL "[tunnel]\nlisten=127.0.0.1:7400\nkey-file=/k\n"

/* [discovery]: what vs_cfg_validate() refuses, and a port's vm-uuid */
static void test_discovery(void)
{
	static const char ok[] = DISC_TUNNEL "[discovery]\netcd=http://127.0.0.1:2379, "
				 "https://[::1]:2379/\nttl=5\n";
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) urls = NULL;
	g_autoptr(vs_port_cfg) pc = NULL;

	g_assert_true(vs_cfg_load_keyfile(cfg, ok, strlen(ok), &err));
	g_assert_true(vs_cfg_validate(cfg, &err));
	g_assert_no_error(err);
	urls = vs_cfg_disc_endpoints(cfg);
	g_assert_cmpuint(g_strv_length(urls), ==, 2);
	g_assert_cmpstr(urls[1], ==, "https://[::1]:2379/");
	g_assert_cmpstr(vs_cfg_disc_advertise(cfg), ==, "127.0.0.1:7400");
	g_assert_cmpstr(cfg->disc_prefix, ==, "/vhost-shim/");
	check_keyfile_error("[discovery]\netcd=http://127.0.0.1:2379\n", "[tunnel] listen");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=etcd:2379\n", "etcd");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=ftp://h:1\n", "etcd");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1/v3\n", "etcd");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://u:p@h:1\n", "etcd");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd= , \n", "1-8 URLs");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://a:1,http://a:2,http://a:3,"
			    "http://a:4,http://a:5,http://a:6,http://a:7,http://a:8,http://a:9\n",
			    "1-8 URLs");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\nprefix=vs/\n", "prefix");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\nprefix=/vs\n", "prefix");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\nprefix=/v s/\n", "prefix");
	check_keyfile_error("[tunnel]\nlisten=0.0.0.0:7400\nkey-file=/k\n"
			    "[discovery]\netcd=http://h:1\n", "advertise");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\n"
			    "advertise=host:7400\n", "advertise");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\netcd-cert=/c.pem\n",
			    "etcd-key");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\nttl=1\n", "ttl");
	check_keyfile_error(DISC_TUNNEL "[discovery]\netcd=http://h:1\netcd-ca=ca.pem\n",
			    "etcd-ca");
	/* vm-uuid: either case, validated */
	pc = vs_port_cfg_parse_spec("name=vm1,socket=/s,mac=52:54:00:00:00:01,"
				    "vm-uuid=9A8B7C6D-5e4f-4a3b-9c2d-1e0f9a8b7c6d,uplink=x", &err);
	g_assert_no_error(err);
	g_assert_cmpstr(pc->vm_uuid, ==, "9A8B7C6D-5e4f-4a3b-9c2d-1e0f9a8b7c6d");
	g_assert_null(vs_port_cfg_parse_spec("name=vm1,socket=/s,mac=52:54:00:00:00:01,"
					     "vm-uuid=9a8b7c6d5e4f4a3b9c2d1e0f9a8b7c6d,uplink=x",
					     &err));
	g_assert_nonnull(strstr(err->message, "vm-uuid"));
	g_clear_error(&err);
	vs_port_cfg_free(pc);
	/* postcopy: on unless turned off (docs/migration.md, "Post-copy") */
	pc = vs_port_cfg_parse_spec("name=vm1,socket=/s,mac=52:54:00:00:00:01,uplink=x", &err);
	g_assert_no_error(err);
	g_assert_true(pc->postcopy);
	vs_port_cfg_free(pc);
	pc = vs_port_cfg_parse_spec("name=vm1,socket=/s,mac=52:54:00:00:00:01,postcopy=off,"
				    "uplink=x", &err);
	g_assert_no_error(err);
	g_assert_false(pc->postcopy);
	vs_port_cfg_free(pc);
	g_assert_null(vs_port_cfg_parse_spec("name=vm1,socket=/s,mac=52:54:00:00:00:01,"
					     "postcopy=maybe,uplink=x", &err));
	g_assert_nonnull(strstr(err->message, "postcopy"));
	g_clear_error(&err);
	pc = NULL;
}

static void test_too_many_ports(void)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	unsigned int i;

	for (i = 0; i <= VS_MAX_PORTS; i++) {
		g_autoptr(GError) err = NULL;
		g_autofree char *spec = g_strdup_printf(
			"name=vm%u,socket=/s/%u,mac=52:54:00:00:01:%02x,uplink=net_null%u", i, i,
			i & 0xff, i);
		struct vs_port_cfg *pc = vs_port_cfg_parse_spec(spec, &err);

		g_assert_nonnull(pc);
		if (i < VS_MAX_PORTS) {
			g_assert_true(vs_cfg_add_port(cfg, pc, &err));
		} else {
			g_assert_false(vs_cfg_add_port(cfg, pc, &err));
			g_assert_nonnull(strstr(err->message, "too many"));
		}
	}
}

static gboolean argv_has(char **argv, const char *a, const char *b)
{
	for (; *argv; argv++)
		if (!strcmp(argv[0], a) && (!b || (argv[1] && !strcmp(argv[1], b))))
			return TRUE;
	return FALSE;
}

static void test_eal_argv(void)
{
	g_autoptr(vs_cfg) cfg = vs_cfg_new();
	g_autoptr(GError) err = NULL;
	g_auto(GStrv) nohuge = NULL, huge = NULL, pci = NULL;

	nohuge = vs_cfg_build_eal_argv(cfg, "vhost-shim", 0);
	g_assert_true(argv_has(nohuge, "--no-huge", NULL));
	g_assert_true(argv_has(nohuge, "-m", "1024"));
	g_assert_true(argv_has(nohuge, "--file-prefix", VS_DEFAULT_FILE_PREFIX));
	g_assert_true(argv_has(nohuge, "--no-pci", NULL));

	huge = vs_cfg_build_eal_argv(cfg, "vhost-shim", 128);
	g_assert_false(argv_has(huge, "--no-huge", NULL));
	g_assert_true(argv_has(huge, "--socket-mem", "1024"));

	cfg->hugepages = VS_HUGEPAGES_NO;
	g_strfreev(huge);
	huge = vs_cfg_build_eal_argv(cfg, "vhost-shim", 128);
	g_assert_true(argv_has(huge, "--no-huge", NULL));

	g_assert_true(vs_cfg_add_port(cfg, vs_port_cfg_parse_spec(
		"name=nic,socket=/s,mac=52:54:00:00:00:01,uplink=0000:03:00.1,rxq_pkt_len=1", &err),
		&err));
	pci = vs_cfg_build_eal_argv(cfg, "vhost-shim", 0);
	g_assert_false(argv_has(pci, "--no-pci", NULL));
	g_assert_true(argv_has(pci, "-a", "0000:03:00.1,rxq_pkt_len=1"));
}

/* Strict text: sscanf("%x") would also take a sign or blanks (found by fuzz_config) */
static void test_mac_and_pci_strict(void)
{
	static const char *bad_macs[] = {
		"52:54:00:00:00:-1", "52:54:00:00:00:+1", "52:54:00:00:00: 1",
		"52:54:00:00:00:1", "52-54-00-00-00-01", "01:54:00:00:00:01",
		"52:54:00:00:00:0g", "52:54:00:00:00:011",
	};
	static const struct { const char *uplink, *pci; } pci[] = {
		{ "0000:03:00.1", "0000:03:00.1" },
		{ "03:00.1,rxq_pkt_len=1", "0000:03:00.1" },
		{ "abcd:Ef:1f.7", "abcd:ef:1f.7" },
		{ "-7:00.0,x", NULL }, { "+7:00.0", NULL }, { " 7:00.0", NULL },
		{ "0000:-3:00.1", NULL }, { "3:00.1", NULL }, { "net_tap0,iface=x", NULL },
		{ "0000:03:00.10", NULL }, { "", NULL },
	};
	uint8_t mac[6];
	unsigned int i;

	g_assert_true(vs_parse_mac("52:54:00:Ab:cD:ff", mac));
	g_assert_cmpuint(mac[3], ==, 0xab);
	g_assert_cmpuint(mac[5], ==, 0xff);
	for (i = 0; i < G_N_ELEMENTS(bad_macs); i++)
		g_assert_false(vs_parse_mac(bad_macs[i], mac));
	for (i = 0; i < G_N_ELEMENTS(pci); i++) {
		struct vs_port_cfg pc = { .uplink = (char *)pci[i].uplink };
		g_autofree char *got = vs_port_cfg_pci_address(&pc);

		g_assert_cmpstr(got, ==, pci[i].pci);
	}
}

/* vs_port_cfg_copy() shares nothing: both copies free on their own */
static void test_port_copy(void)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_parse_spec(
		"name=vm1,socket=/s,mac=52:54:00:00:00:01,mode=client,queues=3,hold-ms=5,"
		"udp-policy=drop,uplink=net_tap0,iface=t0", &err);
	g_autoptr(vs_port_cfg) copy = NULL;

	g_assert_no_error(err);
	copy = vs_port_cfg_copy(pc);
	g_assert_true(copy->name != pc->name && copy->socket_path != pc->socket_path &&
		      copy->uplink != pc->uplink);
	g_assert_cmpstr(copy->name, ==, "vm1");
	g_assert_cmpstr(copy->socket_path, ==, "/s");
	g_assert_cmpstr(copy->uplink, ==, "net_tap0,iface=t0");
	g_assert_true(copy->client);
	g_assert_cmpuint(copy->queues, ==, 3);
	g_assert_cmpmem(copy->mac, 6, pc->mac, 6);
	g_assert_cmpmem(&copy->policy, sizeof(copy->policy), &pc->policy, sizeof(pc->policy));
	g_clear_pointer(&pc, vs_port_cfg_free);
	g_assert_cmpstr(copy->name, ==, "vm1");	/* still there */
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/spec/ok", test_spec_ok);
	g_test_add_func("/config/spec/errors", test_spec_errors);
	g_test_add_func("/config/limits/max", test_limits);
	g_test_add_func("/config/limits/too-many-ports", test_too_many_ports);
	g_test_add_func("/config/port/mtu", test_mtu);
	g_test_add_func("/config/keyfile/ok", test_keyfile_ok);
	g_test_add_func("/config/keyfile/errors", test_keyfile_errors);
	g_test_add_func("/config/discovery", test_discovery);
	g_test_add_func("/config/policy", test_policy);
	g_test_add_func("/config/eal-argv", test_eal_argv);
	g_test_add_func("/config/mac-and-pci-strict", test_mac_and_pci_strict);
	g_test_add_func("/config/port-copy", test_port_copy);
	return g_test_run();
}
