/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow_prio.c - priority under pressure: rule caps, reservations,
 * exact accounting, head eviction and release, table swaps mid-episode
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "flow_prio.h"
#include "flow_set.h"
#include "flow_syntax.h"

static struct vs_flow_table *compile(const char *const *lines, guint n, uint64_t total_pkts,
				     uint64_t total_bytes)
{
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_flow_port_opts o = { 0 };
	g_autoptr(GError) err = NULL;
	struct vs_flow_table *t;
	struct vs_buf_policy p;
	guint i;

	vs_buf_policy_init(&p);
	if (total_pkts) {
		o.set |= VS_FLOW_POPT_TOTAL_PKTS;
		o.total_max_pkts = total_pkts;
	}
	if (total_bytes) {
		o.set |= VS_FLOW_POPT_TOTAL_BYTES;
		o.total_max_bytes = total_bytes;
	}
	for (i = 0; i < n; i++)
		g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(lines[i], NULL), NULL));
	t = vs_flow_set_compile(set, NULL, &p, &o, &err);
	g_assert_no_error(err);
	return t;
}

static uint32_t slot_of(const struct vs_flow_table *t, const char *name)
{
	uint32_t s;

	for (s = 0; s < t->n_rules; s++)
		if (!strcmp(t->rules[s].name, name))
			return s;
	g_assert_not_reached();
}

/* The accounting's invariants, recomputed from scratch */
static void check_acct(const struct vs_flow_acct *a, const struct vs_flow_table *t)
{
	uint64_t up[VS_FLOW_PRIO_LEVELS] = { 0 }, ub[VS_FLOW_PRIO_LEVELS] = { 0 };
	uint64_t pkts = a->orphan_pkts, bytes = a->orphan_bytes;
	uint32_t s;

	g_assert_cmpuint(a->generation, ==, t->generation);
	for (s = 0; s < t->n_rules; s++) {
		const struct vs_flow_crule *r = &t->rules[s];

		pkts += a->rule_pkts[s];
		bytes += a->rule_bytes[s];
		if (r->res_pkts > a->rule_pkts[s])
			up[r->priority] += r->res_pkts - a->rule_pkts[s];
		if (r->res_bytes > a->rule_bytes[s])
			ub[r->priority] += r->res_bytes - a->rule_bytes[s];
	}
	for (; s < VS_FLOW_MAX_SLOTS; s++)
		g_assert_cmpuint(a->rule_pkts[s], ==, 0);
	g_assert_cmpuint(a->pkts, ==, pkts);
	g_assert_cmpuint(a->bytes, ==, bytes);
	g_assert_cmpmem(a->unres_pkts, sizeof(up), up, sizeof(up));
	g_assert_cmpmem(a->unres_bytes, sizeof(ub), ub, sizeof(ub));
}

static void test_rule_caps(void)
{
	static const char *const lines[] = {
		"name=small match=dport=1 max-pkts=3 max-bytes=250",
		"name=gone match=dport=2 action=drop",
	};
	g_autoptr(vs_flow_table) t = compile(lines, 2, 0, 0);
	uint32_t small = slot_of(t, "small"), gone = slot_of(t, "gone");
	struct vs_flow_acct a;

	vs_flow_prio_reset(&a, t);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, small, 100), ==, VS_FLOW_ADMIT);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, small, 100), ==, VS_FLOW_ADMIT);
	/* 300 bytes > 250 */
	g_assert_cmpint(vs_flow_prio_admit(&a, t, small, 100), ==, VS_FLOW_DROP_RULE_CAP);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, small, 50), ==, VS_FLOW_ADMIT);
	/* 4 packets > 3 */
	g_assert_cmpint(vs_flow_prio_admit(&a, t, small, 0), ==, VS_FLOW_DROP_RULE_CAP);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, gone, 60), ==, VS_FLOW_DROP_POLICY);
	g_assert_cmpuint(a.pkts, ==, 3);
	g_assert_cmpuint(a.bytes, ==, 250);
	check_acct(&a, t);
	g_assert_cmpstr(vs_flow_verdict_names[VS_FLOW_DROP_PRESSURE], ==, "pressure");
}

/*
 * The scenario: a VoIP rule at 2000 pps and bulk traffic at 20000
 * pps through one blackout, with caps that cannot hold both: VoIP loses
 * nothing, every bulk drop is counted under the bulk rule.
 */
static void test_voip_vs_bulk(void)
{
	static const char *const lines[] = {
		"name=voip match=proto=udp,dport=10000-20000 priority=7 max-pkts=4096",
		"name=bulk match=proto=udp,dport=9000",
	};
	g_autoptr(vs_flow_table) t = compile(lines, 2, 8000, 0);
	uint32_t voip = slot_of(t, "voip"), bulk = slot_of(t, "bulk");
	uint64_t got[2] = { 0 }, drops[2][VS_FLOW_NUM_VERDICTS] = { { 0 } };
	struct vs_flow_acct a;
	unsigned int ms, i;

	vs_flow_prio_reset(&a, t);
	for (ms = 0; ms < 1500; ms++) {			/* a 1.5 s blackout */
		for (i = 0; i < 22; i++) {
			bool v = i % 11 == 0;		/* 2 VoIP, 20 bulk per ms */
			enum vs_flow_verdict d = vs_flow_prio_admit(&a, t, v ? voip : bulk,
								    v ? 214 : 1400);

			if (d == VS_FLOW_ADMIT)
				got[v]++;
			else
				drops[v][d]++;
		}
	}
	check_acct(&a, t);
	g_assert_cmpuint(got[1], ==, 3000);		/* every VoIP frame */
	g_assert_cmpuint(drops[1][VS_FLOW_DROP_PRESSURE] + drops[1][VS_FLOW_DROP_RULE_CAP], ==, 0);
	/* bulk takes what VoIP does not hold in reserve */
	g_assert_cmpuint(got[0], ==, 8000 - 4096);
	g_assert_cmpuint(drops[0][VS_FLOW_DROP_PRESSURE], ==, 30000 - (8000 - 4096));
	g_assert_cmpuint(a.rule_pkts[bulk] + drops[0][VS_FLOW_DROP_PRESSURE], ==, 30000);
	/* what VoIP did not use stays unused: 1096 packets */
	g_assert_cmpuint(a.unres_pkts[7], ==, 4096 - 3000);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, bulk, 60), ==, VS_FLOW_DROP_PRESSURE);
}

/* Run @n arrivals of @seq (rule slots, with @mask selecting which rules
 * send), and return how many each rule got admitted */
static void run(const struct vs_flow_table *t, const uint32_t *seq, const uint32_t *lens,
		unsigned int n, unsigned int mask, uint64_t *got)
{
	struct vs_flow_acct a;
	unsigned int i;

	memset(got, 0, sizeof(*got) * t->n_rules);
	vs_flow_prio_reset(&a, t);
	for (i = 0; i < n; i++) {
		if (!(mask & (1u << seq[i])))
			continue;
		if (vs_flow_prio_admit(&a, t, seq[i], lens[i]) == VS_FLOW_ADMIT)
			got[seq[i]]++;
		if (i % 97 == 0)
			check_acct(&a, t);
	}
	check_acct(&a, t);
}

/*
 * The guarantee of flow_prio.h: what a rule with reservations gets does
 * not depend on the traffic of lower priorities (when the reservations of
 * its priority and above fit the totals).
 */
static void test_lower_priorities_cannot_take(void)
{
	static const char *const lines[] = {
		"name=high match=dport=1 priority=7 max-pkts=300 max-bytes=200000",
		/* 500 packets, and room for 500 frames of 1522 bytes */
		"name=mid match=dport=2 priority=4 max-pkts=500",
		"name=mid2 match=dport=3 priority=4 max-pkts=200 max-bytes=300000",
		"name=low match=dport=4 priority=2",
	};
	g_autoptr(GRand) rnd = g_rand_new_with_seed(7);
	g_autoptr(vs_flow_table) t = compile(lines, 4, 1200, 2000000);
	uint32_t seq[6000], lens[6000];
	uint64_t all[VS_FLOW_MAX_SLOTS], some[VS_FLOW_MAX_SLOTS];
	uint32_t hi = slot_of(t, "high"), mid = slot_of(t, "mid"), mid2 = slot_of(t, "mid2");
	uint32_t low = slot_of(t, "low"), udp = t->n_user + VS_PKT_UDP;
	unsigned int round, i;

	for (round = 0; round < 30; round++) {
		unsigned int everyone = (1u << hi) | (1u << mid) | (1u << mid2) | (1u << low) |
					(1u << udp);

		for (i = 0; i < G_N_ELEMENTS(seq); i++) {
			static const uint32_t weights[] = { 1, 2, 2, 4, 6 };
			uint32_t slots[5] = { hi, mid, mid2, low, udp }, x = 0, w, j;

			w = (uint32_t)g_rand_int_range(rnd, 0, 15);
			for (j = 0; j < 5; j++) {
				x += weights[j];
				if (w < x)
					break;
			}
			seq[i] = slots[j < 5 ? j : 4];
			lens[i] = (uint32_t)g_rand_int_range(rnd, 60, 1500);
		}
		run(t, seq, lens, G_N_ELEMENTS(seq), everyone, all);
		/* without the priority-2 and default (0) traffic: mid and high unchanged */
		run(t, seq, lens, G_N_ELEMENTS(seq), (1u << hi) | (1u << mid) | (1u << mid2), some);
		g_assert_cmpuint(all[hi], ==, some[hi]);
		g_assert_cmpuint(all[mid], ==, some[mid]);
		g_assert_cmpuint(all[mid2], ==, some[mid2]);
		/* high alone: unchanged */
		run(t, seq, lens, G_N_ELEMENTS(seq), 1u << hi, some);
		g_assert_cmpuint(all[hi], ==, some[hi]);
		/* and the low ones did get something: the test is not vacuous */
		g_assert_cmpuint(all[low] + all[udp], >, 0);
	}
}

/* max-bytes alone reserves no packets: lower priorities can take them */
static void test_bytes_only(void)
{
	static const char *const lines[] = {
		"name=high match=dport=1 priority=7 max-bytes=1000",
		"name=low match=dport=2",
	};
	g_autoptr(vs_flow_table) t = compile(lines, 2, 10, 0);
	uint32_t hi = slot_of(t, "high"), low = slot_of(t, "low");
	struct vs_flow_acct a;
	unsigned int i;

	g_assert_cmpuint(t->rules[hi].res_pkts, ==, 0);
	g_assert_cmpuint(t->rules[hi].res_bytes, ==, 1000);
	vs_flow_prio_reset(&a, t);
	for (i = 0; i < 10; i++)
		g_assert_cmpint(vs_flow_prio_admit(&a, t, low, 60), ==, VS_FLOW_ADMIT);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, hi, 60), ==, VS_FLOW_DROP_PRESSURE);
	check_acct(&a, t);
}

static void test_evict_release(void)
{
	static const char *const lines[] = {
		"name=high match=dport=1 priority=5 max-pkts=10",
		"name=low match=dport=2",
	};
	g_autoptr(vs_flow_table) t = compile(lines, 2, 20, 0);
	uint32_t hi = slot_of(t, "high"), low = slot_of(t, "low");
	struct vs_flow_acct a, before;
	unsigned int i;

	vs_flow_prio_reset(&a, t);
	for (i = 0; i < 10; i++)
		g_assert_cmpint(vs_flow_prio_admit(&a, t, low, 100), ==, VS_FLOW_ADMIT);
	/* the other 10 are high's */
	g_assert_cmpint(vs_flow_prio_admit(&a, t, low, 100), ==, VS_FLOW_DROP_PRESSURE);
	/* drop-oldest: a low head may go for a frame of low or high, a high head only for high */
	g_assert_true(vs_flow_prio_may_evict(t, low, 0));
	g_assert_true(vs_flow_prio_may_evict(t, hi, 0));
	g_assert_false(vs_flow_prio_may_evict(t, low, 5));
	g_assert_true(vs_flow_prio_may_evict(t, hi, 5));

	/* admit then release: back to exactly where it was */
	before = a;
	g_assert_cmpint(vs_flow_prio_admit(&a, t, hi, 333), ==, VS_FLOW_ADMIT);
	vs_flow_prio_release(&a, t, t->rules[hi].id, 333);
	g_assert_cmpmem(&a, sizeof(a), &before, sizeof(before));
	/* evicting a low head makes room for exactly one low frame */
	vs_flow_prio_release(&a, t, t->rules[low].id, 100);
	check_acct(&a, t);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, low, 100), ==, VS_FLOW_ADMIT);
	g_assert_cmpint(vs_flow_prio_admit(&a, t, low, 100), ==, VS_FLOW_DROP_PRESSURE);
	/* a release with nothing to release (an earlier episode's frame) */
	vs_flow_prio_reset(&a, t);
	before = a;
	vs_flow_prio_release(&a, t, t->rules[low].id, 100);
	vs_flow_prio_release(&a, t, 12345, 100);
	g_assert_cmpmem(&a, sizeof(a), &before, sizeof(before));
}

static void test_rebase(void)
{
	static const char *const v1[] = {
		"name=a match=dport=1 priority=6 max-pkts=50",
		"name=b match=dport=2 priority=3 max-pkts=40",
		"name=c match=dport=3",
	};
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(vs_flow_table) t1 = NULL, t2 = NULL;
	struct vs_flow_port_opts o = { .set = VS_FLOW_POPT_TOTAL_PKTS, .total_max_pkts = 200 };
	struct vs_buf_policy p;
	struct vs_flow_acct a;
	uint32_t a1, b1, c1, i;
	uint64_t pkts, bytes;

	vs_buf_policy_init(&p);
	for (i = 0; i < 3; i++)
		g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(v1[i], NULL), NULL));
	t1 = vs_flow_set_compile(set, NULL, &p, &o, NULL);
	a1 = slot_of(t1, "a");
	b1 = slot_of(t1, "b");
	c1 = slot_of(t1, "c");
	vs_flow_prio_reset(&a, t1);
	for (i = 0; i < 20; i++) {
		g_assert_cmpint(vs_flow_prio_admit(&a, t1, a1, 10), ==, VS_FLOW_ADMIT);
		g_assert_cmpint(vs_flow_prio_admit(&a, t1, b1, 20), ==, VS_FLOW_ADMIT);
		g_assert_cmpint(vs_flow_prio_admit(&a, t1, c1, 30), ==, VS_FLOW_ADMIT);
	}
	pkts = a.pkts;
	bytes = a.bytes;

	/* b deleted, d added before everything: every slot moves */
	g_assert_true(vs_flow_set_del(set, "b", NULL));
	g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(
		"name=d match=src=10.0.0.0/8,dport=1 priority=7 max-pkts=30", NULL), NULL));
	t2 = vs_flow_set_compile(set, NULL, &p, &o, NULL);
	vs_flow_prio_rebase(&a, t1, t2);
	check_acct(&a, t2);
	g_assert_cmpuint(a.pkts, ==, pkts);
	g_assert_cmpuint(a.bytes, ==, bytes);
	g_assert_cmpuint(a.orphan_pkts, ==, 20);
	g_assert_cmpuint(a.orphan_bytes, ==, 400);
	g_assert_cmpuint(a.rule_pkts[slot_of(t2, "a")], ==, 20);
	g_assert_cmpuint(a.rule_pkts[slot_of(t2, "c")], ==, 20);
	g_assert_cmpuint(a.rule_pkts[slot_of(t2, "d")], ==, 0);
	g_assert_cmpuint(a.unres_pkts[7], ==, 30);
	g_assert_cmpuint(a.unres_pkts[6], ==, 30);
	/* b's frames leave (evicted) by id: from the orphans */
	vs_flow_prio_release(&a, t2, t1->rules[b1].id, 20);
	check_acct(&a, t2);
	g_assert_cmpuint(a.orphan_pkts, ==, 19);
	g_assert_cmpuint(a.pkts, ==, pkts - 1);
	/* the new rule's reservation holds: 200 - 59 used - 30 (a) - 30 (d) */
	for (i = 0; i < 81; i++)
		g_assert_cmpint(vs_flow_prio_admit(&a, t2, slot_of(t2, "c"), 1), ==, VS_FLOW_ADMIT);
	g_assert_cmpint(vs_flow_prio_admit(&a, t2, slot_of(t2, "c"), 1), ==, VS_FLOW_DROP_PRESSURE);
	for (i = 0; i < 30; i++)
		g_assert_cmpint(vs_flow_prio_admit(&a, t2, slot_of(t2, "d"), 1), ==, VS_FLOW_ADMIT);
	check_acct(&a, t2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flow-prio/rule-caps", test_rule_caps);
	g_test_add_func("/flow-prio/voip-vs-bulk", test_voip_vs_bulk);
	g_test_add_func("/flow-prio/lower-cannot-take", test_lower_priorities_cannot_take);
	g_test_add_func("/flow-prio/bytes-only", test_bytes_only);
	g_test_add_func("/flow-prio/evict-release", test_evict_release);
	g_test_add_func("/flow-prio/rebase", test_rebase);
	return g_test_run();
}
