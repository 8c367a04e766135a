/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_flow_rules.c - flow policy rules on the lcore
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs.
 * --policy rules are compiled (t_rules()) and published to the port; UDP
 * frames to chosen destination ports then meet caps that cannot hold every
 * flow, and the test reads each rule's counters (t_rule_ctr()) to check
 * the high-priority rule's reservation, the refused bulk rule, action=drop
 * and what a new table does to the counters.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_flow.h"
#include "dp_handshake.h"
#include "flow_syntax.h"
#include "pkt.h"
#include "dp_harness.h"

/* A UDP frame to destination port @dport (t_frame()'s, with ports) */
static struct rte_mbuf *t_frame_dport(uint32_t seq, uint16_t dport)
{
	struct rte_mbuf *m = t_frame(seq, 64);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	p[34] = 0x30;			/* source port 12345 */
	p[35] = 0x39;
	p[36] = (uint8_t)(dport >> 8);
	p[37] = (uint8_t)dport;
	p[38] = 0;			/* UDP length: the rest */
	p[39] = 64 - 34;
	return m;
}

static void t_uplink_queue_dport(uint32_t first, uint32_t n, uint16_t dport)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_queue_push_tail(&t.rx, t_frame_dport(first + i, dport));
}

static struct vs_dp_flow_ctr t_rule_ctr(const struct vs_vm *vm, const char *name)
{
	const struct vs_flow_table *tab = vm->dp.flow->t;
	struct vs_dp_flow_ctr c;
	uint32_t i;

	for (i = 0; i < tab->n_rules; i++)
		if (!strcmp(tab->rules[i].name, name)) {
			vs_dp_flow_get_ctr(vm, i, &c);
			return c;
		}
	g_assert_not_reached();
}

/*
 * Flow policy: under caps that cannot hold both flows, the high-priority
 * rule's reservation keeps every one of its frames while the bulk rule is
 * refused (pressure) and counted under its rule; a rule with action=drop;
 * a table replaced mid-episode keeps the accounting (by rule id); a port
 * without rules keeps the class caps and counts under the default rules
 */
static void test_flow_rules(void)
{
	static const char *const rules[] = {
		"name=hi match=proto=udp,dport=5004 priority=7 max-pkts=20",
		"name=bulk match=proto=udp,dport=9000",
		"name=junk match=proto=udp,dport=7 action=drop",
		NULL,
	};
	static const char *const more[] = { "name=late match=proto=udp,dport=9001", NULL };
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_vm *vm = t_port_new();
	struct vs_dp_flow_ctr c;

	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	vm->policy.max_pkts[VS_PKT_TCP] = 5;
	vm->policy.max_pkts[VS_PKT_OTHER] = 5;	/* totals: 50 packets */
	t_rules(vm, set, rules);
	vs_dp_buffer_start(vm, true);
	t_uplink_queue_dport(1, 100, 9000);	/* bulk first: it fills what is not reserved */
	t_uplink_queue_dport(1001, 20, 5004);
	t_uplink_queue_dport(2001, 3, 7);
	t_poll(vm, 5);
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.matched, ==, 20);
	g_assert_cmpuint(c.buffered, ==, 20);
	g_assert_cmpuint(c.dropped, ==, 0);
	c = t_rule_ctr(vm, "bulk");
	g_assert_cmpuint(c.matched, ==, 100);
	g_assert_cmpuint(c.buffered, ==, 30);
	g_assert_cmpuint(c.dropped, ==, 70);
	c = t_rule_ctr(vm, "junk");
	g_assert_cmpuint(c.dropped, ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 70);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);

	/* a new table mid-episode: the counts stay, by rule id */
	t_rules(vm, set, more);
	t_uplink_queue_dport(3001, 5, 9001);
	t_uplink_queue_dport(3101, 1, 5004);	/* hi is at its own cap */
	t_poll(vm, 2);
	c = t_rule_ctr(vm, "late");
	g_assert_cmpuint(c.dropped, ==, 5);	/* the buffer is full */
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.buffered, ==, 20);
	g_assert_cmpuint(c.dropped, ==, 1);
	c = t_rule_ctr(vm, "bulk");
	g_assert_cmpuint(c.matched, ==, 100);	/* carried over */

	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 5);
	g_assert_cmpuint(t.got->len, ==, 50);
	t_check_accounting(vm, 0);

	/* the next episode starts from nothing */
	vs_dp_buffer_start(vm, true);
	t_uplink_queue_dport(4001, 10, 5004);
	t_poll(vm, 1);
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.buffered, ==, 30);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);

	/* a full guest ring (frames held behind a replay, against what held
	 * holds now): bulk keeps at most the totals less hi's reservation */
	vm = t_port_new();
	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	vm->policy.max_pkts[VS_PKT_TCP] = 5;
	vm->policy.max_pkts[VS_PKT_OTHER] = 5;
	{
		g_autoptr(vs_flow_set) set2 = vs_flow_set_new();
		unsigned int hi_got = 0;
		guint k;

		t_rules(vm, set2, rules);
		t.guest_room = 0;
		t_uplink_queue_dport(1, 100, 9000);
		t_uplink_queue_dport(1001, 20, 5004);
		t_poll(vm, 10);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
		g_assert_cmpuint(rte_ring_count(vm->dp.held), <=, 50);
		c = t_rule_ctr(vm, "hi");
		g_assert_cmpuint(c.buffered, ==, 20);
		g_assert_cmpuint(c.dropped, ==, 0);
		c = t_rule_ctr(vm, "bulk");	/* (held feeds the pending burst) */
		g_assert_cmpuint(c.dropped, >, 0);
		g_assert_cmpuint(c.buffered + c.dropped, ==, c.matched);
		t.guest_room = T_UNLIMITED;
		t_poll(vm, 5);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
		for (k = 0; k < t.got->len; k++)
			hi_got += g_array_index(t.got, uint32_t, k) > 1000;
		g_assert_cmpuint(hi_got, ==, 20);
		t_check_accounting(vm, 0);
	}
	t_port_free(vm);

	/* no rules: the class caps, counted under the default rules */
	vm = t_port_new();
	vm->policy.max_pkts[VS_PKT_UDP] = 10;
	{
		static const char *const none[] = { NULL };
		g_autoptr(vs_flow_set) empty = vs_flow_set_new();

		t_rules(vm, empty, none);
	}
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 25);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	c = t_rule_ctr(vm, "default-udp");
	g_assert_cmpuint(c.matched, ==, 25);
	g_assert_cmpuint(c.buffered, ==, 10);
	g_assert_cmpuint(c.dropped, ==, 15);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Review 59 finding 1, with a rule: the frames the RX ring bound refuses,
 * and the live ones behind them while the port is in the replay it
 * started, wait in held under the totals; a rule's action=drop, a
 * migration buffer's policy, does not drop them (the ring had room).  A
 * guest that reads 24 of the 32 frames of each poll: the ring (256) never
 * fills.  Without the fix (dp_hold_rules() without @waits) 144 of the 640
 * were dropped under the rule.
 */
static void test_flow_rules_ring_bound(void)
{
	static const char *const rules[] = {
		"name=junk match=proto=udp,dport=7 action=drop",
		NULL,
	};
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_vm *vm = t_port_new();
	uint16_t rx = VS_VRING_RX(0);
	uint32_t seq = 1;
	unsigned int i;

	t_rules(vm, set, rules);
	vm->policy.rx_ring_bound = 64;
	t.ring_on = true;
	for (i = 0; i < 20; i++) {
		t_uplink_queue_dport(seq, VS_DP_BURST, 7);
		seq += VS_DP_BURST;
		t_poll(vm, 1);
		t_guest_run(rx, 24);
	}
	for (i = 0; i < 100 && (t.got->len < seq - 1 || vs_dp_mode(vm) != VS_DP_LIVE); i++) {
		t_guest_run(rx, 24);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.ring_bound_hits, >, 0);
	g_assert_cmpuint(t_rule_ctr(vm, "junk").dropped, ==, 0);
	t_assert_run(0, 1, seq - 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/flow-rules", test_flow_rules);
	g_test_add_func("/dataplane/flow-rules/ring-bound-waits", test_flow_rules_ring_bound);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-flow-rules", add_tests);
}
