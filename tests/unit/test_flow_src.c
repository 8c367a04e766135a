/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow_src.c - per-source straggler switching: the transition table,
 * triggers, time-outs and linger per source, table limits and ageing
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "flow_set.h"
#include "flow_src.h"
#include "flow_syntax.h"

/* One compiled rule from a line (the table is kept for its lifetime) */
struct one_rule {
	struct vs_flow_table *t;
	const struct vs_flow_crule *r;
};

static struct one_rule rule(const char *line)
{
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(GError) err = NULL;
	static uint32_t next_id;
	struct vs_buf_policy p;
	struct one_rule o;

	vs_buf_policy_init(&p);
	set->next_id = next_id++;	/* distinct ids, as in one rule set */
	g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(line, &err), &err));
	g_assert_no_error(err);
	o.t = vs_flow_set_compile(set, NULL, &p, NULL, &err);
	g_assert_no_error(err);
	o.r = &o.t->rules[0];
	return o;
}

static void key_from(struct vs_flow_key *k, const char *addr)
{
	memset(k, 0, sizeof(*k));
	k->flags = VS_FLOW_KEY_L3;
	k->af = VS_FLOW_AF_INET;
	g_assert_cmpint(inet_pton(AF_INET, addr, k->src), ==, 1);
}

static enum vs_flow_src_verdict straggle(struct vs_flow_src *t, const struct vs_flow_crule *r,
					 const char *addr, unsigned int ev, uint64_t now)
{
	struct vs_flow_key k;

	key_from(&k, addr);
	return vs_flow_src_straggler(t, r, &k, ev, now);
}

static enum vs_flow_src_state state_of(const struct vs_flow_src *t,
				       const struct vs_flow_crule *r, const char *addr)
{
	struct vs_flow_key k;

	key_from(&k, addr);
	return vs_flow_src_state(t, r->id, VS_FLOW_AF_INET, k.src);
}

static void report(struct vs_flow_src *t, const struct vs_flow_crule *r, const char *addr,
		   unsigned int ev, uint64_t now)
{
	struct vs_flow_key k;

	key_from(&k, addr);
	vs_flow_src_report(t, r, VS_FLOW_AF_INET, k.src, ev, now);
}

/* Every (state, event) pair against a list written from flow_src.h */
static void test_transitions(void)
{
	static const struct {
		enum vs_flow_src_state from;
		enum vs_flow_src_event ev;
		enum vs_flow_src_state to;
	} allowed[] = {
		{ VS_FLOW_SRC_WAITING, VS_FLOW_SRC_EV_PACKET, VS_FLOW_SRC_WAITING },
		{ VS_FLOW_SRC_WAITING, VS_FLOW_SRC_EV_ARM, VS_FLOW_SRC_ARMED },
		{ VS_FLOW_SRC_WAITING, VS_FLOW_SRC_EV_FIRE, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_WAITING, VS_FLOW_SRC_EV_TIMEOUT, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_ARMED, VS_FLOW_SRC_EV_PACKET, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_ARMED, VS_FLOW_SRC_EV_ARM, VS_FLOW_SRC_ARMED },
		{ VS_FLOW_SRC_ARMED, VS_FLOW_SRC_EV_FIRE, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_ARMED, VS_FLOW_SRC_EV_TIMEOUT, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_LINGERING, VS_FLOW_SRC_EV_PACKET, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_LINGERING, VS_FLOW_SRC_EV_ARM, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_LINGERING, VS_FLOW_SRC_EV_FIRE, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_LINGERING, VS_FLOW_SRC_EV_TIMEOUT, VS_FLOW_SRC_LINGERING },
		{ VS_FLOW_SRC_LINGERING, VS_FLOW_SRC_EV_LINGER_END, VS_FLOW_SRC_STOPPED },
		{ VS_FLOW_SRC_STOPPED, VS_FLOW_SRC_EV_PACKET, VS_FLOW_SRC_STOPPED },
		{ VS_FLOW_SRC_STOPPED, VS_FLOW_SRC_EV_ARM, VS_FLOW_SRC_STOPPED },
		{ VS_FLOW_SRC_STOPPED, VS_FLOW_SRC_EV_FIRE, VS_FLOW_SRC_STOPPED },
		{ VS_FLOW_SRC_STOPPED, VS_FLOW_SRC_EV_TIMEOUT, VS_FLOW_SRC_STOPPED },
	};
	int s, e;
	size_t i;

	for (s = 0; s < VS_FLOW_SRC_NUM_STATES; s++) {
		g_assert_nonnull(vs_flow_src_state_names[s]);
		for (e = 0; e < VS_FLOW_SRC_NUM_EVENTS; e++) {
			int want = -EINVAL;

			g_assert_nonnull(vs_flow_src_event_names[e]);
			for (i = 0; i < G_N_ELEMENTS(allowed); i++)
				if ((int)allowed[i].from == s && (int)allowed[i].ev == e)
					want = (int)allowed[i].to;
			g_assert_cmpint(vs_flow_src_transition((enum vs_flow_src_state)s,
							       (enum vs_flow_src_event)e), ==, want);
		}
	}
	g_assert_cmpint(vs_flow_src_transition(VS_FLOW_SRC_NUM_STATES, 0), ==, -EINVAL);
	g_assert_cmpint(vs_flow_src_transition(0, VS_FLOW_SRC_NUM_EVENTS), ==, -EINVAL);
}

static void test_init(void)
{
	struct vs_flow_src_entry slots[16];
	struct vs_flow_src t;

	g_assert_cmpint(vs_flow_src_init(&t, slots, 4, 1), ==, -EINVAL);
	g_assert_cmpint(vs_flow_src_init(&t, slots, 12, 1), ==, -EINVAL);
	g_assert_cmpint(vs_flow_src_init(&t, slots, VS_FLOW_SRC_MAX_SIZE * 2, 1), ==, -EINVAL);
	g_assert_cmpint(vs_flow_src_init(&t, slots, 16, 1), ==, 0);
}

/* trigger=none: today's behaviour, per source: tunnel until resume + timeout */
static void test_timeout(void)
{
	struct one_rule o = rule("name=r match=any trigger=none timeout-ms=1000");
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;

	g_assert_cmpint(vs_flow_src_init(&t, slots, 64, 42), ==, 0);
	vs_flow_src_begin(&t, 10000);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.1", 0, 10000), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, o.r, "192.0.2.1"), ==, VS_FLOW_SRC_WAITING);
	/* a source first seen late still gets the same deadline */
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.2", 0, 10999), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.1", 0, 10999), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.1", 0, 11000), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.3", 0, 11000), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.2", 0, 15000), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(state_of(&t, o.r, "192.0.2.2"), ==, VS_FLOW_SRC_STOPPED);
	g_assert_cmpuint(t.stats.timeouts, ==, 3);
	g_assert_cmpuint(t.stats.fired, ==, 0);
	g_assert_cmpuint(t.stats.tunnelled, ==, 3);
	g_assert_cmpuint(t.stats.refused, ==, 3);
	/* a new forwarding phase forgets everything */
	vs_flow_src_begin(&t, 20000);
	g_assert_cmpint(state_of(&t, o.r, "192.0.2.2"), ==, VS_FLOW_SRC_FREE);
	g_assert_cmpint(straggle(&t, o.r, "192.0.2.2", 0, 20000), ==, VS_FLOW_SRC_TUNNEL);
	vs_flow_rules_free(o.t);
}

/*
 * The per-source scenario: two sources switched to reach the
 * destination directly, one after 0.5 s, the other after 3 s; each
 * source's stragglers stop when its own direct arrival is reported, and
 * the rule's default linger-ms after it (frames still on the old path).
 */
static void test_direct_arrival(void)
{
	struct one_rule o = rule("name=r match=any timeout-ms=5000");
	const uint64_t linger = VS_FLOW_DEFAULT_DIRECT_LINGER_MS;
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;
	uint64_t ms;

	g_assert_cmpint(o.r->trigger, ==, VS_FLOW_TRIG_DIRECT);
	g_assert_cmpuint(o.r->linger_ms, ==, linger);
	vs_flow_src_init(&t, slots, 64, 7);
	vs_flow_src_begin(&t, 0);
	for (ms = 0; ms < 6000; ms += 10) {
		if (ms == 500)
			report(&t, o.r, "10.0.0.1", VS_FLOW_EV_DIRECT, ms);
		if (ms == 3000)
			report(&t, o.r, "10.0.0.2", VS_FLOW_EV_DIRECT, ms);
		g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, ms), ==,
				ms < 500 + linger ? VS_FLOW_SRC_TUNNEL : VS_FLOW_SRC_STOP);
		g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, ms), ==,
				ms < 3000 + linger ? VS_FLOW_SRC_TUNNEL : VS_FLOW_SRC_STOP);
	}
	g_assert_cmpuint(t.stats.fired, ==, 2);
	g_assert_cmpuint(t.stats.timeouts, ==, 0);
	/* other triggers' events do not count under direct-arrival */
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.3", VS_FLOW_EV_TCP_SYN | VS_FLOW_EV_SIP_REGISTER,
				 100), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.3"), ==, VS_FLOW_SRC_WAITING);
	/* a report with no event of the rule's creates nothing */
	report(&t, o.r, "10.0.0.4", VS_FLOW_EV_TCP_SYN, 100);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.4"), ==, VS_FLOW_SRC_FREE);
	vs_flow_rules_free(o.t);
}

static void test_linger(void)
{
	struct one_rule o = rule("name=r match=any linger-ms=200 timeout-ms=1000");
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;

	vs_flow_src_init(&t, slots, 64, 7);
	vs_flow_src_begin(&t, 1000);
	/* switched by the trigger at 1500: tunnelled until 1699 */
	report(&t, o.r, "10.0.0.1", VS_FLOW_EV_DIRECT, 1500);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.1"), ==, VS_FLOW_SRC_LINGERING);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 1699), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 1700), ==, VS_FLOW_SRC_STOP);
	/* switched by the time-out at 2000: tunnelled until 2199 */
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 2100), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.2"), ==, VS_FLOW_SRC_LINGERING);
	/* a trigger while lingering changes nothing */
	report(&t, o.r, "10.0.0.2", VS_FLOW_EV_DIRECT, 2150);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 2199), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 2200), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpuint(t.stats.timeouts, ==, 1);
	g_assert_cmpuint(t.stats.fired, ==, 1);
	vs_flow_rules_free(o.t);
}

/*
 * A frame is judged by when it reached the old host: one queued before its
 * source stopped (the held ring behind a slow tunnel) is still tunnelled
 * when its turn comes after the stop; one that arrived at or after it is not
 */
static void test_judged_by_arrival(void)
{
	struct one_rule o = rule("name=r match=any timeout-ms=1000 linger-ms=0");	/* trigger direct */
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;

	vs_flow_src_init(&t, slots, 64, 7);
	vs_flow_src_begin(&t, 0);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 100), ==, VS_FLOW_SRC_TUNNEL);
	report(&t, o.r, "10.0.0.1", VS_FLOW_EV_DIRECT, 500);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.1"), ==, VS_FLOW_SRC_STOPPED);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 499), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 500), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 450), ==, VS_FLOW_SRC_TUNNEL);
	/* the time-out likewise: stopped at 1000, a frame of 999 still goes */
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 1200), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 999), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 1000), ==, VS_FLOW_SRC_STOP);
	vs_flow_rules_free(o.t);
}

static void test_tcp_syn(void)
{
	struct one_rule o = rule("name=r match=proto=tcp trigger=tcp-syn timeout-ms=9000");
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;

	vs_flow_src_init(&t, slots, 64, 7);
	vs_flow_src_begin(&t, 0);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 10), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", VS_FLOW_EV_DIRECT, 20), ==, VS_FLOW_SRC_TUNNEL);
	/* the SYN itself is tunnelled: it has nowhere else to go */
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", VS_FLOW_EV_TCP_SYN, 30), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, o.r, "10.0.0.1"), ==, VS_FLOW_SRC_STOPPED);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.1", 0, 30), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "10.0.0.2", 0, 30), ==, VS_FLOW_SRC_TUNNEL);
	vs_flow_rules_free(o.t);
}

static void test_sip(void)
{
	struct one_rule reg = rule("name=r match=proto=udp trigger=sip-register timeout-ms=9000");
	struct one_rule bye = rule("name=b match=proto=udp trigger=sip-bye-next timeout-ms=9000");
	struct vs_flow_src_entry slots[64];
	struct vs_flow_src t;

	vs_flow_src_init(&t, slots, 64, 7);
	vs_flow_src_begin(&t, 0);
	g_assert_cmpint(straggle(&t, reg.r, "10.0.0.1", VS_FLOW_EV_SIP_BYE, 1), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, reg.r, "10.0.0.1", VS_FLOW_EV_SIP_REGISTER, 2), ==,
			VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, reg.r, "10.0.0.1", 0, 3), ==, VS_FLOW_SRC_STOP);

	/* BYE arms; a second BYE keeps it armed; the next frame switches */
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.1", VS_FLOW_EV_SIP_REGISTER, 1), ==,
			VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.1"), ==, VS_FLOW_SRC_WAITING);
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.1", VS_FLOW_EV_SIP_BYE, 2), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.1"), ==, VS_FLOW_SRC_ARMED);
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.1", VS_FLOW_EV_SIP_BYE, 3), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.1"), ==, VS_FLOW_SRC_ARMED);
	/* the first frame after the BYE: still tunnelled, then the switch */
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.1", 0, 4), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.1"), ==, VS_FLOW_SRC_STOPPED);
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.1", 0, 5), ==, VS_FLOW_SRC_STOP);
	/* the same source under another rule has its own entry */
	g_assert_cmpint(straggle(&t, reg.r, "10.0.0.2", 0, 5), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpint(straggle(&t, bye.r, "10.0.0.2", 0, 5), ==, VS_FLOW_SRC_TUNNEL);
	/* a BYE reported from elsewhere arms as well; a report is not a frame */
	report(&t, bye.r, "10.0.0.3", VS_FLOW_EV_SIP_BYE, 6);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.3"), ==, VS_FLOW_SRC_ARMED);
	report(&t, bye.r, "10.0.0.3", VS_FLOW_EV_DIRECT, 7);
	g_assert_cmpint(state_of(&t, bye.r, "10.0.0.3"), ==, VS_FLOW_SRC_ARMED);
	vs_flow_rules_free(reg.t);
	vs_flow_rules_free(bye.t);
}

/* A table of 8 slots (= one probe window): what is reused, what is kept */
static void test_full_table(void)
{
	struct one_rule o = rule("name=r match=any linger-ms=100 timeout-ms=1000");
	struct vs_flow_src_entry slots[8];
	struct vs_flow_src t;
	char addr[32];
	unsigned int i;

	vs_flow_src_init(&t, slots, 8, 7);
	vs_flow_src_begin(&t, 0);
	/* 8 sources switched by their trigger: kept until their deadline */
	for (i = 0; i < 8; i++) {
		g_snprintf(addr, sizeof(addr), "10.0.0.%u", i);
		report(&t, o.r, addr, VS_FLOW_EV_DIRECT, 10);
	}
	g_assert_cmpuint(t.stats.created, ==, 8);
	/* a ninth source is untracked: tunnelled until resume + 1000 + 100 */
	g_assert_cmpint(straggle(&t, o.r, "10.0.1.1", 0, 500), ==, VS_FLOW_SRC_TUNNEL);
	/* its trigger is not seen */
	g_assert_cmpint(straggle(&t, o.r, "10.0.1.1", VS_FLOW_EV_DIRECT, 1099), ==, VS_FLOW_SRC_TUNNEL);
	g_assert_cmpuint(t.stats.untracked, ==, 2);
	g_assert_cmpuint(t.stats.reused, ==, 0);
	for (i = 0; i < 8; i++) {
		g_snprintf(addr, sizeof(addr), "10.0.0.%u", i);
		g_assert_cmpint(state_of(&t, o.r, addr), !=, VS_FLOW_SRC_FREE);
	}
	/* past every deadline, they give their places away */
	g_assert_cmpint(straggle(&t, o.r, "10.0.1.1", 0, 1100), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpint(straggle(&t, o.r, "10.0.1.2", 0, 1100), ==, VS_FLOW_SRC_STOP);
	g_assert_cmpuint(t.stats.reused, ==, 2);
	g_assert_cmpuint(t.stats.untracked, ==, 2);
	g_assert_cmpint(state_of(&t, o.r, "10.0.1.2"), ==, VS_FLOW_SRC_STOPPED);

	/* WAITING entries are reused first (least recently used), then ARMED */
	vs_flow_src_begin(&t, 0);
	{
		struct one_rule b = rule("name=b match=any trigger=sip-bye-next timeout-ms=1000");

		for (i = 0; i < 7; i++) {
			g_snprintf(addr, sizeof(addr), "10.0.0.%u", i);
			straggle(&t, b.r, addr, i == 3 ? 0 : VS_FLOW_EV_SIP_BYE, 10 + i);
		}
		report(&t, b.r, "10.0.0.7", VS_FLOW_EV_SIP_BYE, 20);
		/* 10.0.0.3 is the only WAITING one: it goes first */
		straggle(&t, b.r, "10.0.2.1", 0, 30);
		g_assert_cmpint(state_of(&t, b.r, "10.0.0.3"), ==, VS_FLOW_SRC_FREE);
		g_assert_cmpint(state_of(&t, b.r, "10.0.2.1"), ==, VS_FLOW_SRC_WAITING);
		/* then the new WAITING one (it is the only one of its rank) */
		straggle(&t, b.r, "10.0.2.2", 0, 40);
		g_assert_cmpint(state_of(&t, b.r, "10.0.2.1"), ==, VS_FLOW_SRC_FREE);
		/* arm the new one too: every entry is ARMED now */
		straggle(&t, b.r, "10.0.2.2", VS_FLOW_EV_SIP_BYE, 41);
		/* all ARMED: the least recently used (10.0.0.0, at 10) goes */
		straggle(&t, b.r, "10.0.2.3", 0, 50);
		g_assert_cmpint(state_of(&t, b.r, "10.0.0.0"), ==, VS_FLOW_SRC_FREE);
		g_assert_cmpint(state_of(&t, b.r, "10.0.0.1"), ==, VS_FLOW_SRC_ARMED);
		vs_flow_rules_free(b.t);
	}
	vs_flow_rules_free(o.t);
}

/*
 * Random events against a model of one source without any table limits:
 * tunnelled iff now < min(trigger time + linger, resume + timeout + linger)
 * for the rule's own trigger (sip-bye-next: the frame after the BYE).
 */
static void test_model(void)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(99);
	const char *const lines[] = {
		"name=a match=any trigger=none timeout-ms=700 linger-ms=50",
		"name=b match=any trigger=tcp-syn timeout-ms=900 linger-ms=0",
		"name=c match=any trigger=direct-arrival timeout-ms=400 linger-ms=120",
		"name=d match=any trigger=sip-bye-next timeout-ms=800 linger-ms=30",
		"name=e match=any trigger=sip-register timeout-ms=600 linger-ms=10",
	};
	static const unsigned int evs[] = { 0, VS_FLOW_EV_TCP_SYN, VS_FLOW_EV_SIP_REGISTER,
					    VS_FLOW_EV_SIP_BYE, VS_FLOW_EV_DIRECT };
	struct vs_flow_src_entry slots[1024];
	struct vs_flow_src t;
	unsigned int li, src, step;

	vs_flow_src_init(&t, slots, 1024, 3);
	for (li = 0; li < G_N_ELEMENTS(lines); li++) {
		struct one_rule o = rule(lines[li]);

		for (src = 0; src < 40; src++) {
			uint64_t now = 0, sw = UINT64_MAX;
			bool armed = false;
			char addr[32];

			vs_flow_src_begin(&t, 0);
			g_snprintf(addr, sizeof(addr), "10.1.%u.%u", li, src);
			for (step = 0; step < 60; step++) {
				unsigned int ev = evs[g_rand_int_range(rnd, 0, 5)];
				bool is_report = g_rand_int_range(rnd, 0, 4) == 0;
				uint64_t deadline;
				bool fire = false;

				now += (uint64_t)g_rand_int_range(rnd, 0, 40);
				deadline = MIN(sw, (uint64_t)o.r->timeout_ms) + o.r->linger_ms;
				if (is_report) {
					report(&t, o.r, addr, ev, now);
				} else {
					g_assert_cmpint(straggle(&t, o.r, addr, ev, now), ==,
							now < deadline ? VS_FLOW_SRC_TUNNEL :
									 VS_FLOW_SRC_STOP);
					if (armed && !(ev & VS_FLOW_EV_SIP_BYE))
						fire = true;
				}
				switch (o.r->trigger) {
				case VS_FLOW_TRIG_TCP_SYN:
					fire |= ev == VS_FLOW_EV_TCP_SYN;
					break;
				case VS_FLOW_TRIG_SIP_REGISTER:
					fire |= ev == VS_FLOW_EV_SIP_REGISTER;
					break;
				case VS_FLOW_TRIG_DIRECT:
					fire |= ev == VS_FLOW_EV_DIRECT;
					break;
				case VS_FLOW_TRIG_SIP_BYE_NEXT:
					if (ev == VS_FLOW_EV_SIP_BYE && now < o.r->timeout_ms)
						armed = true;
					break;
				default:
					break;
				}
				if (fire && sw == UINT64_MAX && now < o.r->timeout_ms)
					sw = now;
			}
		}
		vs_flow_rules_free(o.t);
	}
}

static void test_note_direct(void)
{
	struct vs_flow_src_entry slots[16];
	struct vs_flow_src t;
	uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 0, 0, 2 };

	vs_flow_src_init(&t, slots, 16, 5);
	vs_flow_src_begin(&t, 0);
	g_assert_true(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, a, 1));
	g_assert_false(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, a, 2));
	g_assert_true(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, b, 3));
	g_assert_true(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET6, a, 3));
	g_assert_false(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, b, 4));
	vs_flow_src_begin(&t, 10);
	g_assert_true(vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, a, 11));
}

/*
 * A flood of sources: notes are never reused within a window, so no
 * source is reported twice and a window reports at most the table's size
 * of sources; the ones that find no place are counted, not reported
 */
static void test_note_direct_flood(void)
{
	struct vs_flow_src_entry slots[VS_FLOW_SRC_MIN_SIZE];
	unsigned int reported = 0, again = 0, i;
	struct vs_flow_src t;

	vs_flow_src_init(&t, slots, VS_FLOW_SRC_MIN_SIZE, 5);
	vs_flow_src_begin(&t, 0);
	for (i = 0; i < 200; i++) {
		uint8_t a[16] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };

		reported += vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, a, i);
	}
	g_assert_cmpuint(reported, ==, VS_FLOW_SRC_MIN_SIZE);
	g_assert_cmpuint(t.stats.untracked, ==, 200 - VS_FLOW_SRC_MIN_SIZE);
	g_assert_cmpuint(t.stats.reused, ==, 0);
	for (i = 0; i < 200; i++) {	/* their next frames: nothing more */
		uint8_t a[16] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };

		again += vs_flow_src_note_direct(&t, VS_FLOW_AF_INET, a, 1000 + i);
	}
	g_assert_cmpuint(again, ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flow-src/transitions", test_transitions);
	g_test_add_func("/flow-src/init", test_init);
	g_test_add_func("/flow-src/timeout", test_timeout);
	g_test_add_func("/flow-src/direct-arrival", test_direct_arrival);
	g_test_add_func("/flow-src/linger", test_linger);
	g_test_add_func("/flow-src/judged-by-arrival", test_judged_by_arrival);
	g_test_add_func("/flow-src/tcp-syn", test_tcp_syn);
	g_test_add_func("/flow-src/sip", test_sip);
	g_test_add_func("/flow-src/full-table", test_full_table);
	g_test_add_func("/flow-src/model", test_model);
	g_test_add_func("/flow-src/note-direct", test_note_direct);
	g_test_add_func("/flow-src/note-direct-flood", test_note_direct_flood);
	return g_test_run();
}
