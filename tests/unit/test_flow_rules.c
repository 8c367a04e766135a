/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow_rules.c - rule matching: longest prefix, IPv6, port ranges,
 * VLAN, DSCP, the total order and its ties, the default rules, the
 * compiler's checks, and the bucketed matcher against a plain scan
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "flow_frames.h"
#include "flow_rules.h"
#include "flow_set.h"
#include "flow_syntax.h"

/* Compile rule lines (in definition order) for port "vm1" */
static struct vs_flow_table *compile_lines(const char *const *lines, guint n,
					   const struct vs_buf_policy *p, GError **error)
{
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_buf_policy def;
	guint i;

	if (!p) {
		vs_buf_policy_init(&def);
		p = &def;
	}
	for (i = 0; i < n; i++) {
		struct vs_flow_rule *r = vs_flow_syntax_parse_line(lines[i], error);

		if (!r || !vs_flow_set_add(set, r, error))
			return NULL;
	}
	return vs_flow_set_compile(set, "vm1", p, NULL, error);
}

static struct vs_flow_table *compile_ok(const char *const *lines, guint n)
{
	g_autoptr(GError) err = NULL;
	struct vs_flow_table *t = compile_lines(lines, n, NULL, &err);

	g_assert_no_error(err);
	return t;
}

/* The name of the rule a frame matches */
static const char *match_frame(const struct vs_flow_table *t, const struct ff_spec *s)
{
	struct vs_flow_key k;
	uint8_t f[512];
	size_t n = ff_build(f, s);
	uint32_t slot;

	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	slot = vs_flow_rules_match(t, &k);
	if (slot == VS_FLOW_NO_SLOT)
		return "(none)";
	g_assert_cmpuint(slot, <, t->n_rules);
	return t->rules[slot].name;
}

static const char *match_udp(const struct vs_flow_table *t, const char *src, const char *dst,
			     uint16_t sport, uint16_t dport)
{
	struct ff_spec s = { .v6 = strchr(src, ':') != NULL, .src = src, .dst = dst,
			     .proto = 17, .sport = sport, .dport = dport };

	return match_frame(t, &s);
}

/* The tcp-on-loss of a connection whose frames to the VM come from
 * @peer:@peer_port, the port saying @port */
static enum vs_flow_tcp_loss loss_of(const struct vs_flow_table *t, const char *peer,
				     uint16_t peer_port, enum vs_flow_tcp_loss port)
{
	bool v6 = strchr(peer, ':') != NULL;
	struct ff_spec s = { .v6 = v6, .src = peer, .dst = v6 ? "2001:db8::2" : "10.0.0.2",
			     .proto = 6, .sport = peer_port, .dport = 22, .tcp_flags = 0x10 };
	struct vs_flow_key k;
	uint8_t f[512];
	size_t n = ff_build(f, &s);

	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	return vs_flow_rules_tcp_loss(t, &k, port);
}

/*
 * A rule's own tcp-on-loss decides for the connections whose frames to the
 * VM it matches; elsewhere, and for a rule that did not set it, the
 * port's.  A rule with tcp-on-loss may not match dscp (a mark per segment,
 * which a forged one could flip: review 70)
 */
static void test_tcp_on_loss(void)
{
	static const char *const lines[] = {
		"name=nfs match=src=192.0.2.0/24,proto=tcp,sport=2049 tcp-on-loss=reset",
		"name=keep match=src=192.0.2.7,proto=tcp,sport=2049 tcp-on-loss=drop",
		"name=plain match=src=198.51.100.0/24,proto=tcp",
		"name=v6 match=src=2001:db8:5::/48,proto=tcp tcp-on-loss=reset",
	};
	static const char *const none[] = { "name=plain match=src=198.51.100.0/24,proto=tcp" };
	static const char *const dscp[] = { "name=ef match=proto=tcp,dscp=ef tcp-on-loss=reset" };
	g_autoptr(vs_flow_table) t = compile_ok(lines, 4);
	g_autoptr(vs_flow_table) u = compile_ok(none, 1);
	g_autoptr(vs_flow_table) refused = NULL;
	g_autoptr(GError) err = NULL;
	const enum vs_flow_tcp_loss D = VS_FLOW_TCP_LOSS_DROP, R = VS_FLOW_TCP_LOSS_RESET;

	g_assert_true(t->tcp_loss_rules);
	g_assert_true(t->tcp_reset_rules);
	g_assert_false(u->tcp_loss_rules);
	g_assert_cmpint(loss_of(t, "192.0.2.9", 2049, D), ==, R);
	g_assert_cmpint(loss_of(t, "192.0.2.9", 80, D), ==, D);	/* default-tcp: the port's */
	g_assert_cmpint(loss_of(t, "192.0.2.9", 80, R), ==, R);
	g_assert_cmpint(loss_of(t, "192.0.2.7", 2049, R), ==, D);	/* the most specific */
	g_assert_cmpint(loss_of(t, "198.51.100.1", 80, R), ==, R);	/* not set: the port's */
	g_assert_cmpint(loss_of(t, "198.51.100.1", 80, D), ==, D);
	g_assert_cmpint(loss_of(t, "2001:db8:5::9", 443, D), ==, R);
	g_assert_cmpint(loss_of(u, "198.51.100.1", 80, R), ==, R);
	g_assert_cmpint(loss_of(NULL, "198.51.100.1", 80, D), ==, D);
	refused = compile_lines(dscp, 1, NULL, &err);
	g_assert_null(refused);
	g_assert_nonnull(strstr(err->message, "tcp-on-loss on a rule that matches dscp"));
}

static void test_longest_prefix(void)
{
	static const char *const lines[] = {
		"name=eight match=src=10.0.0.0/8",
		"name=sixteen match=src=10.1.0.0/16",
		"name=twentyfour match=src=10.1.2.0/24",
		"name=host match=src=10.1.2.7",
	};
	static const char *const reversed[] = {
		"name=host match=src=10.1.2.7/32",
		"name=twentyfour match=src=10.1.2.0/24",
		"name=sixteen match=src=10.1.0.0/16",
		"name=eight match=src=10.0.0.0/8",
	};
	unsigned int pass;

	for (pass = 0; pass < 2; pass++) {
		g_autoptr(vs_flow_table) t = compile_ok(pass ? reversed : lines, 4);

		g_assert_cmpstr(match_udp(t, "10.1.2.7", "192.0.2.1", 1, 2), ==, "host");
		g_assert_cmpstr(match_udp(t, "10.1.2.3", "192.0.2.1", 1, 2), ==, "twentyfour");
		g_assert_cmpstr(match_udp(t, "10.1.9.9", "192.0.2.1", 1, 2), ==, "sixteen");
		g_assert_cmpstr(match_udp(t, "10.200.0.1", "192.0.2.1", 1, 2), ==, "eight");
		g_assert_cmpstr(match_udp(t, "11.0.0.1", "192.0.2.1", 1, 2), ==, "default-udp");
		g_assert_cmpstr(match_udp(t, "2001:db8::1", "2001:db8::2", 1, 2), ==,
				"default-udp");
	}
}

static void test_ipv6(void)
{
	static const char *const lines[] = {
		"name=all6 match=src=::/0",
		"name=doc match=src=2001:db8::/32",
		"name=site match=src=2001:db8:1::/48",
		"name=todst match=dst=2001:db8:ffff::/48,proto=udp",
		"name=all4 match=src=0.0.0.0/0",
	};
	g_autoptr(vs_flow_table) t = compile_ok(lines, G_N_ELEMENTS(lines));

	g_assert_cmpstr(match_udp(t, "2001:db8:1::9", "2001:db8::2", 1, 2), ==, "site");
	g_assert_cmpstr(match_udp(t, "2001:db8:2::9", "2001:db8::2", 1, 2), ==, "doc");
	g_assert_cmpstr(match_udp(t, "2001:db9::1", "2001:db8::2", 1, 2), ==, "all6");
	/* dst /48 + proto (56 bits) beats src /32 (32 bits) and src /48 (48) */
	g_assert_cmpstr(match_udp(t, "2001:db8:2::9", "2001:db8:ffff::1", 1, 2), ==, "todst");
	g_assert_cmpstr(match_udp(t, "2001:db8:1::9", "2001:db8:ffff::1", 1, 2), ==, "todst");
	/* an IPv4 /0 is for IPv4 only, the IPv6 /0 for IPv6 only */
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 2), ==, "all4");
	/* an IPv4-mapped address is IPv6 */
	g_assert_cmpstr(match_udp(t, "::ffff:10.0.0.1", "2001:db8::2", 1, 2), ==, "all6");
}

static void test_port_ranges(void)
{
	static const char *const lines[] = {
		"name=sip match=proto=udp,dport=5060",
		"name=sips match=proto=udp,dport=5060-5061",
		"name=high match=dport=1024-65535",
		"name=rtp-src match=proto=udp,sport=10000-19999",
	};
	g_autoptr(vs_flow_table) t = compile_ok(lines, G_N_ELEMENTS(lines));
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 6, .dport = 5060 };
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n;

	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 5060), ==, "sip");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 5061), ==, "sips");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 5062), ==, "high");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 1024), ==, "high");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 1023), ==, "default-udp");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 65535), ==, "high");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 1, 0), ==, "default-udp");
	/* sport 10000-19999 (8 + 2.7 bits) vs dport 1024-65535 (0.02 bits) */
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 10000, 2000), ==, "rtp-src");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 19999, 2000), ==, "rtp-src");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 20000, 2000), ==, "high");
	g_assert_cmpstr(match_udp(t, "192.0.2.1", "10.0.0.1", 9999, 80), ==, "default-udp");
	/* a rule on ports without a protocol: TCP, UDP, SCTP; not ICMP */
	g_assert_cmpstr(match_frame(t, &s), ==, "high");
	s.proto = 132;
	g_assert_cmpstr(match_frame(t, &s), ==, "high");
	s.proto = 1;
	g_assert_cmpstr(match_frame(t, &s), ==, "default-other");
	/* a later fragment has no ports */
	s.proto = 17;
	n = ff_build(f, &s);
	ff_be16(f + 20, 0x0010);
	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	g_assert_cmpstr(t->rules[vs_flow_rules_match(t, &k)].name, ==, "default-udp");
	ff_be16(f + 20, 0x2000);		/* the first one has */
	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	g_assert_cmpstr(t->rules[vs_flow_rules_match(t, &k)].name, ==, "sip");
}

static void test_vlan_dscp(void)
{
	static const char *const lines[] = {
		"name=v100 match=vlan=100",
		"name=voice match=dscp=ef",
		"name=voice100 match=vlan=100,dscp=46",
	};
	g_autoptr(vs_flow_table) t = compile_ok(lines, G_N_ELEMENTS(lines));
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .n_tags = 1,
			     .vids = { 100 } };
	uint8_t f[64];

	g_assert_cmpstr(match_frame(t, &s), ==, "v100");
	s.dscp = 46;
	g_assert_cmpstr(match_frame(t, &s), ==, "voice100");
	s.vids[0] = 0x6064;	/* PCP 3, VID 100: the PCP is not the id */
	g_assert_cmpstr(match_frame(t, &s), ==, "voice100");
	s.vids[0] = 101;
	g_assert_cmpstr(match_frame(t, &s), ==, "voice");
	s.n_tags = 0;
	g_assert_cmpstr(match_frame(t, &s), ==, "voice");
	s.v6 = true;
	s.src = "2001:db8::1";
	s.dst = "2001:db8::2";
	g_assert_cmpstr(match_frame(t, &s), ==, "voice");
	s.dscp = 0;
	g_assert_cmpstr(match_frame(t, &s), ==, "default-udp");

	/* a VLAN rule matches any frame on that VLAN, ARP included */
	{
		struct vs_flow_key k;

		memcpy(f, ff_vm_mac, 6);
		memcpy(f + 6, ff_peer_mac, 6);
		ff_be16(f + 12, 0x8100);
		ff_be16(f + 14, 100);
		ff_be16(f + 16, 0x0806);
		memset(f + 18, 0, 46);
		vs_flow_key_parse(f, 64, 64, ff_vm_mac, &k);
		g_assert_cmpstr(t->rules[vs_flow_rules_match(t, &k)].name, ==, "v100");
		ff_be16(f + 14, 7);
		vs_flow_key_parse(f, 64, 64, ff_vm_mac, &k);
		g_assert_cmpstr(t->rules[vs_flow_rules_match(t, &k)].name, ==, "default-other");
	}
}

/* The total order, tie by tie (flow_rules.h) */
static void test_order(void)
{
	/* 1. bits: src /24 (24) vs proto + one dport (8 + 16 = 24): a tie on
	 * bits, 2. more fields wins: proto+dport */
	static const char *const tie_bits[] = {
		"name=net match=src=192.0.2.0/24",
		"name=svc match=proto=udp,dport=53",
	};
	/* 3. equal bits and fields: the longer source prefix wins */
	static const char *const tie_fields[] = {
		"name=d match=src=10.0.0.0/8,dst=10.1.0.0/16",
		"name=s match=src=10.1.0.0/16,dst=10.0.0.0/8",
	};
	/* 5. everything equal: the rule defined first wins */
	static const char *const tie_all[] = {
		"name=first match=proto=udp,dport=1-2",
		"name=second match=proto=udp,dport=2-3",
	};
	static const char *const tie_all_rev[] = {
		"name=second match=proto=udp,dport=2-3",
		"name=first match=proto=udp,dport=1-2",
	};
	g_autoptr(vs_flow_table) a = compile_ok(tie_bits, 2);
	g_autoptr(vs_flow_table) b = compile_ok(tie_fields, 2);
	g_autoptr(vs_flow_table) c = compile_ok(tie_all, 2);
	g_autoptr(vs_flow_table) d = compile_ok(tie_all_rev, 2);

	g_assert_cmpuint(a->rules[0].specificity, ==, a->rules[1].specificity);
	g_assert_cmpstr(match_udp(a, "192.0.2.1", "10.0.0.1", 1, 53), ==, "svc");
	g_assert_cmpstr(match_udp(b, "10.1.0.1", "10.1.0.2", 1, 53), ==, "s");
	g_assert_cmpstr(match_udp(c, "10.1.0.1", "10.1.0.2", 1, 2), ==, "first");
	g_assert_cmpstr(match_udp(d, "10.1.0.1", "10.1.0.2", 1, 2), ==, "second");
	g_assert_cmpstr(c->rules[0].name, ==, "first");
	g_assert_cmpstr(d->rules[0].name, ==, "second");
}

/* ---- random rules: the order's properties, the matcher vs a plain scan ---- */

static void random_rule(GRand *rnd, struct vs_flow_rule *r, uint32_t id)
{
	struct vs_flow_match *m = &r->match;
	bool v6 = g_rand_boolean(rnd);
	unsigned int i;

	memset(m, 0, sizeof(*m));
	g_snprintf(r->name, sizeof(r->name), "r%u", id);
	r->id = id;
	r->set = VS_FLOW_SET_MATCH;
	if (g_rand_int_range(rnd, 0, 3) == 0) {
		m->fields |= VS_FLOW_M_SRC;
		m->src.af = v6 ? VS_FLOW_AF_INET6 : VS_FLOW_AF_INET;
		m->src.len = (uint8_t)g_rand_int_range(rnd, 0, v6 ? 129 : 33);
		/* few distinct addresses, so prefixes nest and collide */
		m->src.addr[0] = (uint8_t)g_rand_int_range(rnd, 10, 12);
		m->src.addr[1] = (uint8_t)g_rand_int_range(rnd, 0, 3);
		m->src.addr[3] = (uint8_t)g_rand_int_range(rnd, 0, 3);
		for (i = m->src.len; i < 128; i++)
			m->src.addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	}
	if (g_rand_int_range(rnd, 0, 4) == 0) {
		m->fields |= VS_FLOW_M_DST;
		m->dst.af = v6 ? VS_FLOW_AF_INET6 : VS_FLOW_AF_INET;
		m->dst.len = (uint8_t)g_rand_int_range(rnd, 0, 9);
		m->dst.addr[0] = (uint8_t)(m->dst.len ? 10 : 0);
	}
	if (g_rand_int_range(rnd, 0, 2) == 0) {
		static const uint8_t protos[4] = { 6, 17, 1, 132 };

		m->fields |= VS_FLOW_M_PROTO;
		m->proto = protos[g_rand_int_range(rnd, 0, 4)];
	}
	if ((!(m->fields & VS_FLOW_M_PROTO) || m->proto != 1) && g_rand_int_range(rnd, 0, 2) == 0) {
		m->fields |= VS_FLOW_M_DPORT;
		m->dport_lo = (uint16_t)g_rand_int_range(rnd, 0, 8);
		m->dport_hi = (uint16_t)(m->dport_lo + g_rand_int_range(rnd, 0, 8));
	}
	if ((!(m->fields & VS_FLOW_M_PROTO) || m->proto != 1) && g_rand_int_range(rnd, 0, 4) == 0) {
		m->fields |= VS_FLOW_M_SPORT;
		m->sport_lo = (uint16_t)g_rand_int_range(rnd, 0, 4);
		m->sport_hi = (uint16_t)(m->sport_lo + g_rand_int_range(rnd, 0, 60000));
	}
	if (g_rand_int_range(rnd, 0, 5) == 0) {
		m->fields |= VS_FLOW_M_VLAN;
		m->vlan = (uint16_t)g_rand_int_range(rnd, 0, 3);
	}
	if (g_rand_int_range(rnd, 0, 5) == 0) {
		m->fields |= VS_FLOW_M_DSCP;
		m->dscp = (uint8_t)g_rand_int_range(rnd, 0, 3);
	}
}

static void random_key(GRand *rnd, struct vs_flow_key *k)
{
	static const uint8_t protos[4] = { 6, 17, 1, 132 };

	memset(k, 0, sizeof(*k));
	k->cls = VS_PKT_OTHER;
	if (g_rand_int_range(rnd, 0, 3)) {
		k->flags |= VS_FLOW_KEY_VLAN;
		k->vlan = (uint16_t)g_rand_int_range(rnd, 0, 3);
	}
	if (g_rand_int_range(rnd, 0, 8) == 0)
		return;			/* no IP */
	k->flags |= VS_FLOW_KEY_L3;
	k->af = g_rand_boolean(rnd) ? VS_FLOW_AF_INET6 : VS_FLOW_AF_INET;
	k->src[0] = (uint8_t)g_rand_int_range(rnd, 10, 12);
	k->src[1] = (uint8_t)g_rand_int_range(rnd, 0, 3);
	k->src[3] = (uint8_t)g_rand_int_range(rnd, 0, 3);
	k->dst[0] = 10;
	k->dst[1] = (uint8_t)g_rand_int(rnd);
	if (k->af == VS_FLOW_AF_INET6) {
		k->src[15] = (uint8_t)g_rand_int_range(rnd, 0, 2);
	}
	k->proto = protos[g_rand_int_range(rnd, 0, 4)];
	k->cls = k->proto == 6 ? VS_PKT_TCP : k->proto == 17 ? VS_PKT_UDP : VS_PKT_OTHER;
	k->dscp = (uint8_t)g_rand_int_range(rnd, 0, 3);
	if (k->proto != 1 && g_rand_int_range(rnd, 0, 6)) {
		k->flags |= VS_FLOW_KEY_PORTS;
		k->sport = (uint16_t)g_rand_int_range(rnd, 0, 8);
		k->dport = (uint16_t)g_rand_int_range(rnd, 0, 18);
	}
}

static bool ref_prefix(const struct vs_flow_prefix *p, const struct vs_flow_key *k,
		       const uint8_t *addr)
{
	unsigned int i;

	if (k->af != p->af)
		return false;
	for (i = 0; i < p->len; i++)
		if ((addr[i / 8] ^ p->addr[i / 8]) & (0x80u >> (i % 8)))
			return false;
	return true;
}

/* An independent reading of the match semantics of flow_rules.h */
static bool ref_match(const struct vs_flow_rule *r, const struct vs_flow_key *k)
{
	const struct vs_flow_match *m = &r->match;

	if ((m->fields & VS_FLOW_M_VLAN) && (!(k->flags & VS_FLOW_KEY_VLAN) || k->vlan != m->vlan))
		return false;
	if ((m->fields & VS_FLOW_M_L3) && !(k->flags & VS_FLOW_KEY_L3))
		return false;
	if ((m->fields & VS_FLOW_M_SRC) && !ref_prefix(&m->src, k, k->src))
		return false;
	if ((m->fields & VS_FLOW_M_DST) && !ref_prefix(&m->dst, k, k->dst))
		return false;
	if ((m->fields & VS_FLOW_M_PROTO) && k->proto != m->proto)
		return false;
	if ((m->fields & VS_FLOW_M_DSCP) && k->dscp != m->dscp)
		return false;
	if ((m->fields & (VS_FLOW_M_SPORT | VS_FLOW_M_DPORT)) && !(k->flags & VS_FLOW_KEY_PORTS))
		return false;
	if ((m->fields & VS_FLOW_M_SPORT) && (k->sport < m->sport_lo || k->sport > m->sport_hi))
		return false;
	if ((m->fields & VS_FLOW_M_DPORT) && (k->dport < m->dport_lo || k->dport > m->dport_hi))
		return false;
	return true;
}

/* Header bits a rule pins, in floating point: the documented first key */
static double ref_bits(const struct vs_flow_match *m)
{
	double b = 0;

	if (m->fields & VS_FLOW_M_SRC)
		b += m->src.len;
	if (m->fields & VS_FLOW_M_DST)
		b += m->dst.len;
	if (m->fields & VS_FLOW_M_PROTO)
		b += 8;
	if (m->fields & VS_FLOW_M_VLAN)
		b += 12;
	if (m->fields & VS_FLOW_M_DSCP)
		b += 6;
	if (m->fields & VS_FLOW_M_SPORT)
		b += 16 - log2((double)m->sport_hi - m->sport_lo + 1);
	if (m->fields & VS_FLOW_M_DPORT)
		b += 16 - log2((double)m->dport_hi - m->dport_lo + 1);
	return b;
}

static void test_random_rules(void)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(42);
	struct vs_buf_policy p;
	unsigned int round;

	vs_buf_policy_init(&p);
	for (round = 0; round < 40; round++) {
		guint n = (guint)g_rand_int_range(rnd, 1, VS_FLOW_MAX_RULES + 1), i, j;
		g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func(
			(GDestroyNotify)vs_flow_rule_free);
		g_autoptr(GError) err = NULL;
		g_autoptr(vs_flow_table) t = NULL;
		const struct vs_flow_rule *by_slot[VS_FLOW_MAX_RULES] = { NULL };
		unsigned int frame;

		for (i = 0; i < n; i++) {
			struct vs_flow_rule *r = vs_flow_rule_new(NULL);

			/* ids not in slot order, so the id tie-break is exercised */
			random_rule(rnd, r, (i * 7919u) % 100003u);
			g_ptr_array_add(rules, r);
		}
		t = vs_flow_rules_compile((struct vs_flow_rule *const *)rules->pdata, n, NULL, &p,
					  NULL, &err);
		g_assert_no_error(err);
		g_assert_cmpuint(t->n_user, ==, n);

		/* the rule of each slot */
		for (i = 0; i < n; i++) {
			for (j = 0; j < n; j++)
				if (((struct vs_flow_rule *)rules->pdata[j])->id == t->rules[i].id)
					by_slot[i] = rules->pdata[j];
			g_assert_nonnull(by_slot[i]);
		}
		/* the order: strict, consistent with the documented first key */
		for (i = 0; i + 1 < n; i++)
			g_assert_cmpint(vs_flow_rules_compare(&t->rules[i], &t->rules[i + 1]), <, 0);
		for (i = 0; i < n; i++) {
			g_assert_cmpint(vs_flow_rules_compare(&t->rules[i], &t->rules[i]), ==, 0);
			for (j = i + 1; j < n && j < i + 8; j++) {
				g_assert_cmpint(vs_flow_rules_compare(&t->rules[j], &t->rules[i]), >, 0);
				/* a rule ranked first never pins clearly fewer bits */
				g_assert_cmpfloat(ref_bits(&by_slot[i]->match), >,
						  ref_bits(&by_slot[j]->match) - 0.05);
			}
		}

		/* the bucketed matcher gives the first match of a plain scan */
		for (frame = 0; frame < 2000; frame++) {
			struct vs_flow_key k;
			uint32_t got, want = VS_FLOW_NO_SLOT;

			random_key(rnd, &k);
			got = vs_flow_rules_match(t, &k);
			for (i = 0; i < n; i++) {
				if (ref_match(by_slot[i], &k)) {
					want = i;
					break;
				}
			}
			if (want == VS_FLOW_NO_SLOT)
				want = t->n_user + k.cls;
			g_assert_cmpuint(got, ==, want);
		}
	}
}

/* A rule narrower in every field than another always ranks before it */
static void test_subset_order(void)
{
	static const char *const pairs[][2] = {
		{ "match=src=10.1.0.0/16", "match=src=10.0.0.0/8" },
		{ "match=src=10.1.0.0/16,dport=80", "match=src=10.0.0.0/8,dport=80-81" },
		{ "match=proto=udp,dport=100-131", "match=dport=100-131" },
		{ "match=dport=100-131", "match=dport=100-132" },
		{ "match=vlan=5,dscp=0", "match=vlan=5" },
		{ "match=src=2001:db8::/33", "match=src=2001:db8::/32" },
		{ "match=dst=10.0.0.0/8,sport=0", "match=sport=0-65535" },
		{ "match=sport=0-65535", "match=any" },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(pairs); i++) {
		/* the wider one first, so the id tie-break cannot help */
		g_autofree char *wide = g_strdup_printf("name=wide %s", pairs[i][1]);
		g_autofree char *narrow = g_strdup_printf("name=narrow %s", pairs[i][0]);
		const char *const lines[] = { wide, narrow };
		g_autoptr(vs_flow_table) t = compile_ok(lines, 2);

		g_assert_cmpstr(t->rules[0].name, ==, "narrow");
	}
}

static void test_defaults(void)
{
	static const char *const none[] = { NULL };
	struct vs_buf_policy p;
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_flow_table) t = NULL;
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17 };
	const struct vs_flow_crule *c;
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n;

	vs_buf_policy_init(&p);
	p.class_policy[VS_PKT_OTHER] = VS_CLASS_DROP;
	p.max_pkts[VS_PKT_UDP] = 100;
	p.max_bytes[VS_PKT_TCP] = 5000;
	p.linger_ms = 1234;
	t = compile_lines(none, 0, &p, &err);
	g_assert_no_error(err);
	g_assert_cmpuint(t->n_user, ==, 0);
	g_assert_cmpuint(t->n_rules, ==, 3);
	c = &t->rules[VS_PKT_UDP];
	g_assert_cmpstr(c->name, ==, "default-udp");
	g_assert_cmpint(c->action, ==, VS_FLOW_ACT_BUFFER);
	g_assert_cmpuint(c->max_pkts, ==, 100);
	g_assert_cmpuint(c->timeout_ms, ==, 1234);
	g_assert_cmpint(c->trigger, ==, VS_FLOW_TRIG_DIRECT);
	g_assert_cmpuint(c->linger_ms, ==, VS_FLOW_DEFAULT_DIRECT_LINGER_MS);
	g_assert_cmpuint(c->res_pkts, ==, 0);
	g_assert_cmpuint(c->res_bytes, ==, 0);
	c = &t->rules[VS_PKT_TCP];
	g_assert_cmpstr(c->name, ==, "default-tcp");
	g_assert_cmpint(c->action, ==, VS_FLOW_ACT_HOLD);
	g_assert_cmpuint(c->max_bytes, ==, 5000);
	g_assert_cmpint(t->rules[VS_PKT_OTHER].action, ==, VS_FLOW_ACT_DROP);
	/* totals: the class caps summed */
	g_assert_cmpuint(t->total_pkts, ==, 100 + VS_DEFAULT_TCP_MAX_PKTS + VS_DEFAULT_OTHER_MAX_PKTS);

	g_assert_cmpstr(match_frame(t, &s), ==, "default-udp");
	s.proto = 6;
	g_assert_cmpstr(match_frame(t, &s), ==, "default-tcp");
	s.proto = 47;
	g_assert_cmpstr(match_frame(t, &s), ==, "default-other");
	/* a malformed header keeps pkt.c's class, so its default rule */
	s.proto = 17;
	n = ff_build(f, &s);
	f[14] = 0x43;
	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	g_assert_cmpstr(t->rules[vs_flow_rules_match(t, &k)].name, ==, "default-udp");
	/* runts and the VM's own frames have no rule */
	vs_flow_key_parse(f, 10, 10, ff_vm_mac, &k);
	g_assert_cmpuint(vs_flow_rules_match(t, &k), ==, VS_FLOW_NO_SLOT);
	s.from_vm = true;
	g_assert_cmpstr(match_frame(t, &s), ==, "(none)");
}

/*
 * A rule's linger-ms after its switch: as set; else 500 ms under the
 * trigger direct-arrival (one direct frame does not prove the rest go
 * direct: frames in flight, MLAG/ECMP peers syncing), 0 under the others
 */
static void test_compile_linger_defaults(void)
{
	static const char *const lines[] = {
		"name=direct match=proto=udp,dport=1000",
		"name=direct0 match=proto=udp,dport=1001 linger-ms=0",
		"name=syn match=proto=tcp trigger=tcp-syn",
		"name=syn700 match=proto=tcp,dport=1002 trigger=tcp-syn linger-ms=700",
	};
	static const uint32_t want[] = { VS_FLOW_DEFAULT_DIRECT_LINGER_MS, 0, 0, 700 };
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_flow_table) t = compile_lines(lines, G_N_ELEMENTS(lines), NULL, &err);
	guint i, j, seen = 0;

	g_assert_no_error(err);
	g_assert_cmpuint(VS_FLOW_DEFAULT_DIRECT_LINGER_MS, >, 0);
	for (i = 0; i < t->n_rules; i++)
		for (j = 0; j < G_N_ELEMENTS(lines); j++)
			if (strstr(lines[j], t->rules[i].name) == lines[j] + 5 &&
			    lines[j][5 + strlen(t->rules[i].name)] == ' ') {
				g_assert_cmpuint(t->rules[i].linger_ms, ==, want[j]);
				seen++;
			}
	g_assert_cmpuint(seen, ==, G_N_ELEMENTS(lines));
}

static void expect_compile_error(const char *const *lines, guint n, const char *needle)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(vs_flow_table) t = compile_lines(lines, n, NULL, &err);

	g_assert_null(t);
	g_assert_nonnull(err);
	if (!strstr(err->message, needle))
		g_error("'%s' does not say '%s'", err->message, needle);
}

static void test_compile_errors(void)
{
	static const char *const too_big[] = {
		"name=big match=any max-pkts=3000000",
	};
	static const char *const no_room[] = {
		"name=vip match=src=10.0.0.1 priority=7 max-pkts=21504",
		"name=bulk match=src=10.0.0.0/8 priority=3",
	};
	static const char *const room[] = {
		"name=vip match=src=10.0.0.1 priority=7 max-pkts=21503",
		"name=bulk match=src=10.0.0.0/8 priority=3",
	};
	g_autoptr(vs_flow_table) t = NULL;
	g_autoptr(GPtrArray) many = g_ptr_array_new_with_free_func(g_free);
	struct vs_buf_policy p;
	g_autoptr(GError) err = NULL;
	struct vs_flow_rule *r[2];
	unsigned int i;

	expect_compile_error(too_big, 1, "exceed the port's total-max-pkts 21504");
	/* the default rules at priority 0 are below vip too */
	expect_compile_error(no_room, 2, "leave nothing to priority 3");
	t = compile_ok(room, 2);

	/* VS_FLOW_MAX_RULES for one port, and one more */
	for (i = 0; i <= VS_FLOW_MAX_RULES; i++)
		g_ptr_array_add(many, g_strdup_printf("name=r%u match=dport=%u", i, i));
	g_clear_pointer(&t, vs_flow_rules_free);
	t = compile_ok((const char *const *)many->pdata, VS_FLOW_MAX_RULES);
	g_assert_cmpuint(t->n_user, ==, VS_FLOW_MAX_RULES);
	expect_compile_error((const char *const *)many->pdata, VS_FLOW_MAX_RULES + 1,
			     "more than 256 rules for port vm1");

	/* two rules with one id (not through a set) */
	vs_buf_policy_init(&p);
	r[0] = vs_flow_syntax_parse_line("name=a match=any", NULL);
	r[1] = vs_flow_syntax_parse_line("name=b match=any", NULL);
	g_clear_pointer(&t, vs_flow_rules_free);
	t = vs_flow_rules_compile(r, 2, NULL, &p, NULL, &err);
	g_assert_null(t);
	g_assert_nonnull(strstr(err->message, "same id 0"));
	vs_flow_rule_free(r[0]);
	vs_flow_rule_free(r[1]);
}

static void test_ports_and_slots(void)
{
	static const char *const lines[] = {
		"name=a port=vm1,vm2 match=src=10.0.0.0/8",
		"name=b port=vm2 match=src=10.1.0.0/16",
		"name=c match=dport=80",
	};
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(vs_flow_table) t1 = NULL, t2 = NULL, t3 = NULL;
	uint32_t map[VS_FLOW_MAX_SLOTS];
	struct vs_buf_policy p;
	guint i;

	vs_buf_policy_init(&p);
	for (i = 0; i < G_N_ELEMENTS(lines); i++)
		g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(lines[i], NULL), NULL));
	t1 = vs_flow_set_compile(set, "vm1", &p, NULL, NULL);
	t2 = vs_flow_set_compile(set, "vm2", &p, NULL, NULL);
	g_assert_cmpuint(t1->n_user, ==, 2);
	g_assert_cmpuint(t2->n_user, ==, 3);
	g_assert_cmpuint(t1->generation, !=, t2->generation);
	g_assert_cmpstr(match_udp(t1, "10.1.0.1", "10.9.9.9", 1, 2), ==, "a");
	g_assert_cmpstr(match_udp(t2, "10.1.0.1", "10.9.9.9", 1, 2), ==, "b");

	/* delete a, add d: slots move, ids stay */
	g_assert_true(vs_flow_set_del(set, "a", NULL));
	g_assert_false(vs_flow_set_del(set, "a", NULL));
	g_assert_true(vs_flow_set_add(set, vs_flow_syntax_parse_line(
		"name=d match=src=10.1.2.0/24", NULL), NULL));
	t3 = vs_flow_set_compile(set, "vm2", &p, NULL, NULL);
	vs_flow_rules_slot_map(t2, t3, map);
	for (i = 0; i < t2->n_rules; i++) {
		if (!strcmp(t2->rules[i].name, "a"))
			g_assert_cmpuint(map[i], ==, VS_FLOW_NO_SLOT);
		else
			g_assert_cmpstr(t3->rules[map[i]].name, ==, t2->rules[i].name);
	}
	g_assert_cmpuint(vs_flow_rules_slot(t3, 3), !=, VS_FLOW_NO_SLOT);
	g_assert_cmpuint(vs_flow_rules_slot(t3, 0), ==, VS_FLOW_NO_SLOT);
	g_assert_cmpstr(t3->rules[vs_flow_rules_slot(t3, VS_FLOW_ID_DEFAULT(VS_PKT_TCP))].name,
			==, "default-tcp");
}

/* Matching cost with VS_FLOW_MAX_RULES rules that all miss (-m perf) */
static void test_perf(void)
{
	g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(vs_flow_table) t = NULL;
	struct vs_flow_key k;
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 9,
			     .dport = 9 };
	uint8_t f[256];
	size_t n = ff_build(f, &s);
	guint64 t0, sum = 0;
	unsigned int i;

	for (i = 0; i < VS_FLOW_MAX_RULES; i++)
		g_ptr_array_add(lines, g_strdup_printf("name=r%u match=src=10.%u.0.0/16,proto=udp,"
						       "dport=%u-%u", i, i, 1000 + i, 2000 + i));
	t = compile_ok((const char *const *)lines->pdata, lines->len);
	t0 = (guint64)g_get_monotonic_time();
	for (i = 0; i < 1000000; i++) {
		vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
		sum += vs_flow_rules_match(t, &k);
	}
	g_test_minimized_result((double)((guint64)g_get_monotonic_time() - t0) / 1000.0,
				"parse + match, 256 rules all missing: %.1f ns per frame (sum %" G_GUINT64_FORMAT ")",
				(double)((guint64)g_get_monotonic_time() - t0) / 1000.0, sum);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flow-rules/longest-prefix", test_longest_prefix);
	g_test_add_func("/flow-rules/ipv6", test_ipv6);
	g_test_add_func("/flow-rules/port-ranges", test_port_ranges);
	g_test_add_func("/flow-rules/vlan-dscp", test_vlan_dscp);
	g_test_add_func("/flow-rules/order-ties", test_order);
	g_test_add_func("/flow-rules/subset-order", test_subset_order);
	g_test_add_func("/flow-rules/random-vs-scan", test_random_rules);
	g_test_add_func("/flow-rules/defaults", test_defaults);
	g_test_add_func("/flow-rules/tcp-on-loss", test_tcp_on_loss);
	g_test_add_func("/flow-rules/compile-errors", test_compile_errors);
	g_test_add_func("/flow-rules/compile-linger-defaults", test_compile_linger_defaults);
	g_test_add_func("/flow-rules/ports-and-slots", test_ports_and_slots);
	if (g_test_perf())
		g_test_add_func("/flow-rules/perf", test_perf);
	return g_test_run();
}
