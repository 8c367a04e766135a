/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control_cmds.c - control socket: the command table, the port commands
 *
 * Theory of operation: the fixture and the test client are
 * ctl_harness.h's (the real control socket, stub ports).  The command
 * table is sorted and well formed (its handlers, enum values, integer
 * ranges); the port commands (stats and their reset, query-ports,
 * query-commands) answer from the stub ports.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "control.h"
#include "control_priv.h"
#include "ctl_harness.h"
#include "log.h"
#include "util.h"
#include "vm.h"

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

static void test_table(void)
{
	size_t i;

	g_assert_cmpuint(vs_ctl_num_cmds, >, 0);
	for (i = 0; i < vs_ctl_num_cmds; i++) {
		const struct vs_ctl_cmd *c = &vs_ctl_cmds[i];
		const struct vs_ctl_arg *a;

		g_assert_nonnull(c->handler);
		if (i)
			g_assert_cmpint(strcmp(vs_ctl_cmds[i - 1].name, c->name), <, 0);
		for (a = vs_ctl_cmd_args(c); a && a->name; a++) {
			if (a->type == VS_CTL_ARG_ENUM)
				g_assert_nonnull(a->values);
			if (a->type == VS_CTL_ARG_INT)
				g_assert_cmpint(a->min, <=, a->max);
		}
	}
}

/* A client that sends and half-closes still gets its answers */

/* ------------------------------------------------------------------ */
/* Port commands against stub ports                                     */
/* ------------------------------------------------------------------ */

static gint64 stat_of(struct tclient *c, const char *port, const char *member,
		      const char *sub)
{
	g_autofree char *req = g_strdup_printf("{\"execute\": \"query-stats\", \"arguments\": "
					       "{\"port\": \"%s\"}}", port);
	g_autofree char *reply = tc_cmd(c, req);
	g_autoptr(JsonNode) n = vs_ctl_json_parse(reply, strlen(reply), NULL);
	JsonArray *a = json_object_get_array_member(json_node_get_object(n), "return");
	JsonObject *o = json_array_get_object_element(a, 0);

	g_assert_cmpuint(json_array_get_length(a), ==, 1);
	if (sub)
		o = json_object_get_object_member(o, member);
	return json_object_get_int_member(o, sub ? sub : member);
}

static void test_stats_reset(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	struct vs_vm *vm1, *vm2;

	fixture_start(&f);
	vm1 = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,uplink=u1");
	vm2 = stub_port("name=vm2,socket=/s2,mac=52:54:00:00:00:02,uplink=u2");
	vm1->stats.rx_pkts = 10;
	vm1->stats.drops[VS_DROP_NOT_READY] = 3;
	vm1->stats.ctl_drops[VS_DROP_NOT_READY] = 4;
	vm1->stats.buffered_pkts[1] = 5;
	vm1->stats.last_blackout_us = 777;
	vm2->stats.rx_pkts = 20;
	c = tc_connect(f.path);
	tc_negotiate(c);

	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 10);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 7);
	g_assert_cmpint(stat_of(c, "vm1", "buffered-pkts", "tcp"), ==, 5);
	g_free(tc_cmd(c, "{\"execute\": \"stats-reset\", \"arguments\": {\"port\": \"vm1\"}}"));
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "buffered-pkts", "tcp"), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "last-blackout-us", NULL), ==, 777);	/* gauge */
	g_assert_cmpint(stat_of(c, "vm2", "rx-pkts", NULL), ==, 20);		/* other port */

	vm1->stats.rx_pkts += 6;
	vm1->stats.ctl_drops[VS_DROP_NOT_READY]++;
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 6);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 1);

	g_free(tc_cmd(c, "{\"execute\": \"stats-reset\"}"));
	g_assert_cmpint(stat_of(c, "vm2", "rx-pkts", NULL), ==, 0);

	/* a port re-created under the same name starts from its own zero */
	vs_vm_remove(vm1);
	vm1 = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,uplink=u1");
	vm1->stats.rx_pkts = 2;
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 2);

	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

static void test_query_ports_state(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autofree char *ret = NULL;
	struct vs_vm *vm;

	fixture_start(&f);
	vm = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,mode=client,queues=2,"
		       "mtu=9000,tcp-on-loss=reset,uplink=net_tap0,iface=t0");
	vm->vid = 0;
	vm->features = 0x170208000ULL;	/* a running port reports them (4737c9f) */
	vm->guest_mtu = 9000;		/* QEMU's host_mtu (VIRTIO_NET_F_MTU) */
	c = tc_connect(f.path);
	tc_negotiate(c);
	ret = tc_cmd(c, "{\"execute\": \"query-ports\"}");
	g_assert_cmpstr(ret, ==, "{\"return\": [{\"name\": \"vm1\", \"socket\": \"/s1\", \"mode\": "
				 "\"client\", \"mac\": \"52:54:00:00:00:01\", \"uplink\": "
				 "\"net_tap0,iface=t0\", \"queues\": 2, \"mtu\": 9000, "
				 "\"tcp-on-loss\": \"reset\", \"state\": \"running\", "
				 "\"features\": \"0x170208000\", \"ring\": \"split\", "
				 "\"guest-mtu\": 9000}]}");
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

/* query-commands lists every row of the table, in table order */
static void test_query_commands(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autoptr(GString) want = g_string_new("{\"return\": [");
	g_autofree char *ret = NULL;
	size_t i;

	fixture_start(&f);
	c = tc_connect(f.path);
	tc_negotiate(c);
	for (i = 0; i < vs_ctl_num_cmds; i++)
		g_string_append_printf(want, "%s{\"name\": \"%s\"}", i ? ", " : "",
				       vs_ctl_cmds[i].name);
	g_string_append(want, "]}");
	ret = tc_cmd(c, "{\"execute\": \"query-commands\"}");
	g_assert_cmpstr(ret, ==, want->str);
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_ERR);

	g_test_add_func("/control/table", test_table);
	g_test_add_func("/control/cmd/stats-reset", test_stats_reset);
	g_test_add_func("/control/cmd/query-ports", test_query_ports_state);
	g_test_add_func("/control/cmd/query-commands", test_query_commands);
	return g_test_run();
}
