/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tcp_ct.c - TCP tracking and validated resets: RST sequence numbers
 * from recorded segments (wrap-around included), forged ACKs, the
 * solicitation, closed connections, table bounds, and the frames byte for
 * byte against an independent computation (golden frames written with
 * Python's struct module, checksums per RFC 1071)
 */
#include <string.h>

#include <glib.h>

#include "flow_frames.h"
#include "tcp_ct.h"
#include "tcp_reset.h"

#define VM	"10.0.0.2"
#define PEER	"192.0.2.5"

/* RFC 1071 in its plainest form, over a concatenation */
static uint16_t ref_csum(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	g_autofree uint8_t *buf = g_malloc0(na + nb + 1);
	uint64_t sum = 0;
	size_t i;

	if (na)
		memcpy(buf, a, na);
	if (nb)
		memcpy(buf + na, b, nb);
	for (i = 0; i < na + nb; i += 2)
		sum += (uint64_t)buf[i] << 8 | buf[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The checksums of a built frame, recomputed: both must verify to 0 */
static void check_csums(const uint8_t *f, size_t len)
{
	size_t off = 12, l3;
	uint8_t ph[40];

	while ((f[off] << 8 | f[off + 1]) == 0x8100 || (f[off] << 8 | f[off + 1]) == 0x88a8)
		off += 4;
	l3 = off + 2;
	if (f[off] == 0x08) {
		size_t tl = (size_t)(f[l3 + 2] << 8 | f[l3 + 3]) - 20;

		g_assert_cmpuint(ref_csum(f + l3, 20, NULL, 0), ==, 0);
		memcpy(ph, f + l3 + 12, 8);
		ph[8] = 0;
		ph[9] = 6;
		ph[10] = (uint8_t)(tl >> 8);
		ph[11] = (uint8_t)tl;
		g_assert_cmpuint(ref_csum(ph, 12, f + l3 + 20, tl), ==, 0);
		g_assert_cmpuint(len, >=, l3 + 20 + tl);
	} else {
		size_t tl = (size_t)(f[l3 + 4] << 8 | f[l3 + 5]);

		memcpy(ph, f + l3 + 8, 32);
		memset(ph + 32, 0, 8);
		ph[34] = (uint8_t)(tl >> 8);
		ph[35] = (uint8_t)tl;
		ph[39] = 6;
		g_assert_cmpuint(ref_csum(ph, 40, f + l3 + 40, tl), ==, 0);
		g_assert_cmpuint(len, ==, l3 + 40 + tl);
	}
}

struct ct_fixture {
	struct vs_tcp_ct_entry slots[64];
	struct vs_tcp_ct ct;
};

/* One segment through the classifier into the table */
static struct vs_tcp_ct_entry *seg(struct vs_tcp_ct *ct, bool from_vm, uint8_t flags,
				   uint32_t seq, uint32_t ack, size_t plen, uint64_t now)
{
	static const uint8_t data[2000];
	struct ff_spec s = { .src = from_vm ? VM : PEER, .dst = from_vm ? PEER : VM,
			     .from_vm = from_vm, .proto = 6, .sport = from_vm ? 22 : 40000,
			     .dport = from_vm ? 40000 : 22, .tcp_flags = flags, .seq = seq,
			     .ack = ack, .win = from_vm ? 1000 : 2000, .payload = data,
			     .plen = plen, .pad_to = 60 };
	uint8_t f[2300];
	struct vs_flow_key k;
	size_t n = ff_build(f, &s);

	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	/* the VM's own frames classify as OWN_MAC, with their fields */
	return vs_tcp_ct_update(ct, &k, f, n, from_vm ? VS_TCP_CT_FROM_VM : VS_TCP_CT_FROM_PEER,
				VS_FLOW_TCP_LOSS_RESET, now);
}

static void setup(struct ct_fixture *fx, uint32_t n)
{
	g_assert_cmpint(vs_tcp_ct_init(&fx->ct, fx->slots, n, 0x1234, 60000), ==, 0);
}

static void test_init(void)
{
	struct vs_tcp_ct_entry slots[16];
	struct vs_tcp_ct ct;

	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, 4, 0, 0), <, 0);
	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, 24, 0, 0), <, 0);
	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, VS_TCP_CT_MAX_SIZE * 2, 0, 0), <, 0);
	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, 16, 0, 0), ==, 0);
}

/* A handshake, data both ways: the RST carries the peer's last ACK */
static void test_rst_seq(void)
{
	static const char golden[] =
		"5254000000095254000000010800450000280000400040066ec90a000002c000020500169c40"
		"000013ed000003e9501400002f9d0000000000000000";
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;
	uint8_t buf[VS_TCP_RESET_MAX_FRAME];
	g_autofree uint8_t *want = NULL;
	size_t n, wn;

	setup(&fx, 64);
	seg(&fx.ct, false, VS_TCP_SYN, 1000, 0, 0, 1);
	e = seg(&fx.ct, true, VS_TCP_SYN | VS_TCP_ACK, 5000, 1001, 0, 2);
	g_assert_nonnull(e);
	/* no ACK from the peer yet: solicit */
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_SOLICIT);
	seg(&fx.ct, false, VS_TCP_ACK, 1001, 5001, 0, 3);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	seg(&fx.ct, true, VS_TCP_ACK | VS_TCP_PSH, 5001, 1001, 100, 4);
	/* the VM sent 100 bytes the peer has not acknowledged: its RCV.NXT is unsure */
	g_assert_cmpuint(e->vm_nxt, ==, 5101);
	g_assert_cmpuint(e->peer_ack, ==, 5001);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_SOLICIT);
	seg(&fx.ct, false, VS_TCP_ACK, 1001, 5101, 0, 5);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	g_assert_cmpuint(e->on_loss, ==, VS_FLOW_TCP_LOSS_RESET);
	g_assert_cmpmem(e->vm_mac, 6, ff_vm_mac, 6);
	g_assert_cmpmem(e->peer_mac, 6, ff_peer_mac, 6);

	n = vs_tcp_reset_build_rst(e, buf, sizeof(buf));
	g_assert_cmpuint(n, ==, 60);
	check_csums(buf, n);
	want = g_malloc(sizeof(golden) / 2);
	for (wn = 0; wn < sizeof(golden) / 2; wn++) {
		char hex[3] = { golden[2 * wn], golden[2 * wn + 1], 0 };

		want[wn] = (uint8_t)strtoul(hex, NULL, 16);
	}
	g_assert_cmpmem(buf, n, want, wn);
	/* seq 5101 = 0x13ed, ack 1001, RST|ACK, window 0 */
	g_assert_cmpuint(buf[34 + 13], ==, VS_TCP_RST | VS_TCP_ACK);
	g_assert_cmpuint(fx.ct.stats.created, ==, 1);
}

/* Sequence numbers across 2^32 */
static void test_wrap(void)
{
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;
	uint8_t buf[VS_TCP_RESET_MAX_FRAME];
	size_t n;

	setup(&fx, 64);
	/* the VM sends 0x200 bytes from 0xffffff00: its data ends at 0x100 */
	e = seg(&fx.ct, true, VS_TCP_ACK, 0xffffff00u, 77, 0x100, 1);
	seg(&fx.ct, true, VS_TCP_ACK, 0x00000000u, 77, 0x100, 2);
	g_assert_cmpuint(e->vm_nxt, ==, 0x100);
	/* a retransmission of the first half does not move it back */
	seg(&fx.ct, true, VS_TCP_ACK, 0xffffff00u, 77, 0x100, 3);
	g_assert_cmpuint(e->vm_nxt, ==, 0x100);
	seg(&fx.ct, false, VS_TCP_ACK, 77, 0xffffff80u, 0, 4);
	g_assert_cmpuint(e->peer_ack, ==, 0xffffff80u);
	seg(&fx.ct, false, VS_TCP_ACK, 77, 0x00000100u, 0, 5);
	g_assert_cmpuint(e->peer_ack, ==, 0x100);
	/* an older ACK arriving late does not lower it */
	seg(&fx.ct, false, VS_TCP_ACK, 77, 0xffffff90u, 0, 6);
	g_assert_cmpuint(e->peer_ack, ==, 0x100);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	n = vs_tcp_reset_build_rst(e, buf, sizeof(buf));
	check_csums(buf, n);
	g_assert_cmpuint((uint32_t)buf[38] << 24 | buf[39] << 16 | buf[40] << 8 | buf[41], ==, 0x100);
	g_assert_cmpint(VS_SEQ_LT(0xffffffffu, 0), ==, 1);
	g_assert_cmpint(VS_SEQ_GT(0x7fffffffu, 0), ==, 1);
	g_assert_cmpint(VS_SEQ_GT(0x80000001u, 0), ==, 0);
}

/* An ACK of data the VM never sent is not taken */
static void test_forged_ack(void)
{
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;

	setup(&fx, 64);
	e = seg(&fx.ct, true, VS_TCP_ACK, 1000, 1, 50, 1);
	seg(&fx.ct, false, VS_TCP_ACK, 1, 1050, 0, 2);
	seg(&fx.ct, false, VS_TCP_ACK, 1, 1051, 0, 3);
	seg(&fx.ct, false, VS_TCP_ACK, 1, 0x80000000u, 0, 4);
	g_assert_cmpuint(e->peer_ack, ==, 1050);
	g_assert_cmpuint(fx.ct.stats.bad_ack, ==, 2);
	/* without the ACK flag the field means nothing */
	seg(&fx.ct, false, 0, 1, 1040, 0, 5);
	g_assert_cmpuint(e->peer_ack, ==, 1050);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
}

/* Nothing from the peer: the out-of-window ACK; its answer: the RST */
static void test_solicit(void)
{
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;
	uint8_t buf[VS_TCP_RESET_MAX_FRAME];
	size_t n;

	setup(&fx, 64);
	e = seg(&fx.ct, true, VS_TCP_ACK, 3000, 9000, 10, 1);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_SOLICIT);
	g_assert_cmpuint(vs_tcp_reset_build_rst(e, buf, sizeof(buf)), ==, 0);
	n = vs_tcp_reset_build_solicit(e, buf, sizeof(buf));
	g_assert_cmpuint(n, ==, 60);
	check_csums(buf, n);
	g_assert_cmpuint(buf[47], ==, VS_TCP_ACK);
	/* seq = 3010 + 2^31: as far from the peer's window as can be */
	g_assert_cmpuint((uint32_t)buf[38] << 24 | buf[39] << 16 | buf[40] << 8 | buf[41], ==,
			 3010u + 0x80000000u);
	g_assert_cmpuint((uint32_t)buf[42] << 24 | buf[43] << 16 | buf[44] << 8 | buf[45], ==, 9000);
	g_assert_cmpuint(e->solicits, ==, 1);
	/* the peer's duplicate ACK says it has only 3005: that is its RCV.NXT */
	seg(&fx.ct, false, VS_TCP_ACK, 9000, 3005, 0, 2);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	n = vs_tcp_reset_build_rst(e, buf, sizeof(buf));
	g_assert_cmpuint((uint32_t)buf[38] << 24 | buf[39] << 16 | buf[40] << 8 | buf[41], ==, 3005);

	/* a peer that never answers: VS_TCP_CT_MAX_SOLICITS, then nothing */
	setup(&fx, 64);
	e = seg(&fx.ct, true, VS_TCP_ACK, 3000, 9000, 10, 1);
	for (n = 0; n < VS_TCP_CT_MAX_SOLICITS; n++) {
		g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_SOLICIT);
		g_assert_cmpuint(vs_tcp_reset_build_solicit(e, buf, sizeof(buf)), >, 0);
	}
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_NONE);
	/* one whose old ACK is all there is: solicit, then the best value known */
	setup(&fx, 64);
	e = seg(&fx.ct, true, VS_TCP_ACK, 3000, 9000, 10, 1);
	seg(&fx.ct, false, VS_TCP_ACK, 9000, 3004, 0, 2);
	for (n = 0; n < VS_TCP_CT_MAX_SOLICITS; n++) {
		g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_SOLICIT);
		vs_tcp_reset_build_solicit(e, buf, sizeof(buf));
	}
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	g_assert_cmpuint(e->peer_ack, ==, 3004);
	/* too small a buffer: nothing built, nothing counted */
	g_assert_cmpuint(vs_tcp_reset_build_solicit(e, buf, 59), ==, 0);
	g_assert_cmpuint(e->solicits, ==, VS_TCP_CT_MAX_SOLICITS);
	g_assert_cmpuint(vs_tcp_reset_build_rst(e, buf, 59), ==, 0);
	g_assert_cmpuint(vs_tcp_reset_build_rst(e, buf, 60), ==, 60);
}

static void test_closed(void)
{
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;

	setup(&fx, 64);
	e = seg(&fx.ct, true, VS_TCP_ACK, 100, 500, 0, 1);
	seg(&fx.ct, false, VS_TCP_ACK, 500, 100, 0, 2);
	/* half-closed by the VM: still reset */
	seg(&fx.ct, true, VS_TCP_ACK | VS_TCP_FIN, 100, 500, 0, 3);
	seg(&fx.ct, false, VS_TCP_ACK, 500, 101, 0, 4);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	/* the peer's FIN, acknowledged: closed */
	seg(&fx.ct, false, VS_TCP_ACK | VS_TCP_FIN, 500, 101, 0, 5);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);
	seg(&fx.ct, true, VS_TCP_ACK, 101, 501, 0, 6);
	g_assert_true(vs_tcp_ct_closed(e));
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_NONE);
	g_assert_cmpuint(fx.ct.stats.closed, ==, 1);
	/* the same ports again, a new connection: tracked afresh */
	seg(&fx.ct, false, VS_TCP_SYN, 7000, 0, 0, 7);
	g_assert_false(vs_tcp_ct_closed(e));
	g_assert_cmpuint(e->flags, ==, VS_TCP_CT_PEER_SEQ);
	g_assert_cmpuint(e->peer_nxt, ==, 7001);
	/* a RST either way closes */
	seg(&fx.ct, true, VS_TCP_SYN | VS_TCP_ACK, 1, 7001, 0, 8);
	seg(&fx.ct, false, VS_TCP_RST, 7001, 0, 0, 9);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_NONE);
	g_assert_cmpuint(fx.ct.stats.closed, ==, 2);
	/* a RST for an unknown connection creates nothing */
	setup(&fx, 64);
	g_assert_null(seg(&fx.ct, false, VS_TCP_RST, 1, 0, 0, 10));
	g_assert_null(seg(&fx.ct, true, VS_TCP_RST | VS_TCP_ACK, 1, 0, 0, 10));
	g_assert_cmpuint(fx.ct.stats.created, ==, 0);
}

/* Entries per connection; a small table: full, closed and idle slots reused */
static void test_bounds(void)
{
	struct vs_tcp_ct_entry slots[8];
	struct vs_tcp_ct ct;
	struct vs_flow_key k;
	uint8_t f[256];
	unsigned int i;
	uint32_t cursor = 0, seen = 0;

	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, 8, 99, 1000), ==, 0);
	for (i = 0; i < 9; i++) {
		struct ff_spec s = { .src = PEER, .dst = VM, .proto = 6, .sport = (uint16_t)(1000 + i),
				     .dport = 22, .tcp_flags = VS_TCP_ACK, .seq = 1, .ack = 1 };
		size_t n = ff_build(f, &s);
		struct vs_tcp_ct_entry *e;

		vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
		e = vs_tcp_ct_update(&ct, &k, f, n, VS_TCP_CT_FROM_PEER, VS_FLOW_TCP_LOSS_DROP,
				     10 + i);
		if (i < 8)
			g_assert_nonnull(e);
		else
			g_assert_null(e);
	}
	g_assert_cmpuint(ct.stats.full, ==, 1);
	while (vs_tcp_ct_next(&ct, &cursor))
		seen++;
	g_assert_cmpuint(seen, ==, 8);
	/* one closes: its slot is taken by the next new connection */
	{
		struct ff_spec s = { .src = PEER, .dst = VM, .proto = 6, .sport = 1003, .dport = 22,
				     .tcp_flags = VS_TCP_RST, .seq = 1 };
		size_t n = ff_build(f, &s);
		uint8_t vm[16], peer[16];

		vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
		vs_tcp_ct_update(&ct, &k, f, n, VS_TCP_CT_FROM_PEER, VS_FLOW_TCP_LOSS_DROP, 20);
		s.sport = 2000;
		s.tcp_flags = VS_TCP_ACK;
		n = ff_build(f, &s);
		vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
		g_assert_nonnull(vs_tcp_ct_update(&ct, &k, f, n, VS_TCP_CT_FROM_PEER,
						  VS_FLOW_TCP_LOSS_DROP, 21));
		ff_addr(VM, vm);
		ff_addr(PEER, peer);
		g_assert_null(vs_tcp_ct_lookup(&ct, VS_FLOW_AF_INET, vm, 22, peer, 1003));
		g_assert_nonnull(vs_tcp_ct_lookup(&ct, VS_FLOW_AF_INET, vm, 22, peer, 2000));
		g_assert_cmpuint(ct.stats.reused, ==, 1);
		g_assert_cmpuint(ct.stats.aged, ==, 0);
		/* full again; after idle-ms, the least recently used one goes (1000, at 10) */
		s.sport = 2001;
		n = ff_build(f, &s);
		vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
		g_assert_null(vs_tcp_ct_update(&ct, &k, f, n, VS_TCP_CT_FROM_PEER,
					       VS_FLOW_TCP_LOSS_DROP, 1009));
		g_assert_nonnull(vs_tcp_ct_update(&ct, &k, f, n, VS_TCP_CT_FROM_PEER,
						  VS_FLOW_TCP_LOSS_DROP, 1010));
		g_assert_null(vs_tcp_ct_lookup(&ct, VS_FLOW_AF_INET, vm, 22, peer, 1000));
		g_assert_nonnull(vs_tcp_ct_lookup(&ct, VS_FLOW_AF_INET, vm, 22, peer, 1001));
		g_assert_cmpuint(ct.stats.reused, ==, 2);
		g_assert_cmpuint(ct.stats.aged, ==, 1);
	}
	/* no IP, not TCP: nothing */
	memset(&k, 0, sizeof(k));
	g_assert_null(vs_tcp_ct_update(&ct, &k, f, 60, VS_TCP_CT_FROM_PEER, 0, 1));
}

/* IPv6, QinQ tags, timestamps: the solicitation byte for byte */
static void test_ipv6_tags_ts(void)
{
	static const char golden[] =
		"52540000000952540000000188a800648100200786dd600000000020064020010db800000000"
		"000000000000000220010db800010000000000000000000501bbc350800001000000007780107210"
		"fd2800000101080a01020304a0b0c0d0";
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;
	struct vs_flow_key k;
	uint8_t f[512], buf[VS_TCP_RESET_MAX_FRAME], want[94];
	struct ff_spec s = { .v6 = true, .src = "2001:db8::2", .dst = "2001:db8:1::5",
			     .from_vm = true, .n_tags = 2, .vids = { 0x0064, 0x2007 }, .proto = 6,
			     .sport = 443, .dport = 50000, .tcp_flags = VS_TCP_ACK,
			     .seq = 0xfffffff0u, .ack = 0x77, .win = 29200, .ts = true,
			     .tsval = 0x01020304, .tsecr = 0x99, .plen = 0x110 };
	static const uint8_t data[0x110];
	size_t n, i;

	s.payload = data;
	setup(&fx, 64);
	n = ff_build(f, &s);
	ff_be16(f + 12, 0x88a8);		/* an 802.1ad outer tag */
	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	g_assert_cmpuint(k.n_tags, ==, 2);
	e = vs_tcp_ct_update(&fx.ct, &k, f, n, VS_TCP_CT_FROM_VM, VS_FLOW_TCP_LOSS_RESET, 1);
	g_assert_nonnull(e);
	g_assert_cmpuint(e->vm_nxt, ==, 0x100);
	g_assert_true(e->flags & VS_TCP_CT_VM_TS);
	/* the peer: seq 0x50 + 0x27 bytes, acks all, its own timestamp */
	s.src = "2001:db8:1::5";
	s.dst = "2001:db8::2";
	s.from_vm = false;
	s.sport = 50000;
	s.dport = 443;
	s.seq = 0x50;
	s.ack = 0x100;
	s.tsval = 0xa0b0c0d0;
	s.plen = 0x27;
	n = ff_build(f, &s);
	ff_be16(f + 12, 0x88a8);
	vs_flow_key_parse(f, n, n, ff_vm_mac, &k);
	g_assert_true(vs_tcp_ct_update(&fx.ct, &k, f, n, VS_TCP_CT_FROM_PEER,
				       VS_FLOW_TCP_LOSS_RESET, 2) == e);
	g_assert_cmpuint(e->peer_nxt, ==, 0x77);
	g_assert_cmpint(vs_tcp_ct_plan(e), ==, VS_TCP_CT_PLAN_RST);

	n = vs_tcp_reset_build_solicit(e, buf, sizeof(buf));
	g_assert_cmpuint(n, ==, sizeof(want));
	for (i = 0; i < sizeof(want); i++) {
		char hex[3] = { golden[2 * i], golden[2 * i + 1], 0 };

		want[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	g_assert_cmpmem(buf, n, want, sizeof(want));
	check_csums(buf, n);
	g_assert_cmpuint(n, <=, VS_TCP_RESET_MAX_FRAME);
	/* and the RST: no options, RST|ACK, seq 0x100 */
	n = vs_tcp_reset_build_rst(e, buf, sizeof(buf));
	g_assert_cmpuint(n, ==, 14 + 8 + 40 + 20);
	check_csums(buf, n);
	g_assert_cmpuint(buf[22 + 40 + 13], ==, VS_TCP_RST | VS_TCP_ACK);
}

/* Options in any shape: the timestamp is found, or nothing is read past them */
static void test_options(void)
{
	struct ct_fixture fx;
	struct vs_tcp_ct_entry *e;
	struct vs_flow_key k;
	uint8_t f[256];
	struct ff_spec s = { .src = VM, .dst = PEER, .from_vm = true, .proto = 6, .sport = 22,
			     .dport = 40000, .tcp_flags = VS_TCP_ACK, .seq = 1, .ts = true,
			     .tsval = 5 };
	static const uint8_t shapes[][12] = {
		{ 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0 },	/* NOP NOP TS: found */
		{ 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0, 0 },	/* NOP, TS, end: found */
		{ 0, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0 },	/* end of options first */
		{ 2, 0, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0 },	/* a length of 0 */
		{ 2, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 0 },	/* a length of 1 */
		{ 1, 1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0 },	/* TS running past the header */
		{ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 },		/* only NOPs */
		{ 8, 9, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0 },		/* TS with a wrong length */
		{ 3, 3, 7, 8, 10, 0, 0, 0, 5, 0, 0, 0 },	/* window scale, TS past the end */
		{ 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 1, 1 },	/* SACK-permitted, TS: found */
	};
	static const bool found[] = { true, true, false, false, false, false, false, false, false,
				      true };
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(shapes); i++) {
		size_t n = ff_build(f, &s);
		g_autofree uint8_t *copy = NULL;

		memcpy(f + 34 + 20, shapes[i], 12);
		copy = g_memdup2(f, n);
		setup(&fx, 64);
		vs_flow_key_parse(copy, n, n, ff_vm_mac, &k);
		e = vs_tcp_ct_update(&fx.ct, &k, copy, n, VS_TCP_CT_FROM_VM, 0, 1);
		g_assert_nonnull(e);
		g_assert_cmpint(!!(e->flags & VS_TCP_CT_VM_TS), ==, found[i]);
		if (found[i])
			g_assert_cmpuint(e->vm_tsval, ==, 5);
	}
}

/* Published vectors for the checksum routine */
static void test_checksum_vectors(void)
{
	/* RFC 1071 section 3: the sum of these words is ddf2 */
	static const uint8_t rfc1071[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	/* an IPv4 header with its checksum (b861) zeroed */
	static const uint8_t ip[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	g_autoptr(GRand) rnd = g_rand_new_with_seed(1071);
	uint8_t buf[1501];
	unsigned int i;

	g_assert_cmphex(vs_tcp_reset_csum(rfc1071, sizeof(rfc1071), 0), ==, (uint16_t)~0xddf2);
	g_assert_cmphex(vs_tcp_reset_csum(ip, sizeof(ip), 0), ==, 0xb861);
	g_assert_cmphex(vs_tcp_reset_csum(NULL, 0, 0), ==, 0xffff);
	/* odd lengths, long inputs: as the plain computation */
	for (i = 0; i < 200; i++) {
		size_t n = (size_t)g_rand_int_range(rnd, 0, sizeof(buf) + 1), j;

		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)g_rand_int(rnd);
		g_assert_cmphex(vs_tcp_reset_csum(buf, n, 0), ==, ref_csum(buf, n, NULL, 0));
	}
	/* a partial sum (a pseudo-header) carried in: as over the concatenation */
	for (i = 0; i < 200; i++) {
		size_t n = (size_t)g_rand_int_range(rnd, 0, sizeof(buf) + 1), j;
		uint8_t pre[12];
		uint32_t sum = 0;

		for (j = 0; j < sizeof(pre); j++)
			pre[j] = (uint8_t)g_rand_int(rnd);
		for (j = 0; j < n; j++)
			buf[j] = (uint8_t)(i & 1 ? 0xff : g_rand_int(rnd));
		for (j = 0; j < sizeof(pre); j += 2)
			sum += (uint32_t)(pre[j] << 8 | pre[j + 1]);
		g_assert_cmphex(vs_tcp_reset_csum(buf, n, sum), ==, ref_csum(pre, 12, buf, n));
	}
}

/* --- the table travels with the VM: export, import ------------------------- */

/*
 * The live connections go out (not the closed one), without the source's
 * solicitation state, and come in as they were: numbers across 2^32 kept,
 * the RST the destination builds byte for byte the one the source would
 */
static void test_export_import(void)
{
	struct ct_fixture src, dst;
	struct vs_tcp_ct_entry out[64], *a, *b;
	uint8_t f1[VS_TCP_RESET_MAX_FRAME], f2[VS_TCP_RESET_MAX_FRAME];
	uint32_t n, i;
	size_t l1, l2;

	setup(&src, 64);
	setup(&dst, 64);
	/* A: data across 2^32, the peer acknowledged all of it */
	a = seg(&src.ct, true, VS_TCP_ACK, 0xffffff00u, 77, 0x200, 1);
	seg(&src.ct, false, VS_TCP_ACK, 77, 0x100, 0, 2);
	g_assert_cmpuint(a->vm_nxt, ==, 0x100);
	a->solicits = 1;			/* the source's own state */
	g_assert_true(a->flags & VS_TCP_CT_FRESH_ACK);
	/* B: closed by a RST: not exported */
	{
		struct ff_spec s = { .src = VM, .dst = PEER, .from_vm = true, .proto = 6,
				     .sport = 23, .dport = 40000, .tcp_flags = VS_TCP_RST,
				     .seq = 9, .pad_to = 60 };
		uint8_t f[128];
		size_t len = ff_build(f, &s);
		struct vs_flow_key k;

		vs_flow_key_parse(f, len, len, ff_vm_mac, &k);
		s.tcp_flags = VS_TCP_ACK;
		len = ff_build(f, &s);
		vs_flow_key_parse(f, len, len, ff_vm_mac, &k);
		g_assert_nonnull(vs_tcp_ct_update(&src.ct, &k, f, len, VS_TCP_CT_FROM_VM,
						  VS_FLOW_TCP_LOSS_RESET, 3));
		s.tcp_flags = VS_TCP_RST;
		len = ff_build(f, &s);
		vs_flow_key_parse(f, len, len, ff_vm_mac, &k);
		g_assert_true(vs_tcp_ct_closed(vs_tcp_ct_update(&src.ct, &k, f, len,
								VS_TCP_CT_FROM_VM,
								VS_FLOW_TCP_LOSS_RESET, 4)));
	}
	n = vs_tcp_ct_export(&src.ct, out, G_N_ELEMENTS(out));
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(out[0].vm_port, ==, 22);
	g_assert_cmpuint(out[0].solicits, ==, 0);
	g_assert_cmpuint(out[0].flags & ~VS_TCP_CT_EXPORT_FLAGS, ==, 0);
	g_assert_cmpuint(vs_tcp_ct_export(&src.ct, out, 0), ==, 0);	/* bounded by max */

	g_assert_cmpint(vs_tcp_ct_import(&dst.ct, &out[0], VS_FLOW_TCP_LOSS_DROP, 500), ==,
			VS_TCP_CT_IMPORTED);
	g_assert_cmpuint(dst.ct.stats.imported, ==, 1);
	g_assert_cmpuint(dst.ct.stats.created, ==, 1);
	b = vs_tcp_ct_lookup(&dst.ct, VS_FLOW_AF_INET, a->vm_addr, 22, a->peer_addr, 40000);
	g_assert_nonnull(b);
	g_assert_cmpuint(b->vm_nxt, ==, 0x100);
	g_assert_cmpuint(b->peer_ack, ==, 0x100);
	g_assert_cmpuint(b->last_ms, ==, 500);
	g_assert_cmpuint(b->on_loss, ==, VS_FLOW_TCP_LOSS_DROP);	/* the port's here */
	g_assert_cmpuint(b->solicits, ==, 0);
	g_assert_false(b->flags & VS_TCP_CT_FRESH_ACK);
	g_assert_cmpint(vs_tcp_ct_plan(b), ==, VS_TCP_CT_PLAN_RST);
	l1 = vs_tcp_reset_build_rst(a, f1, sizeof(f1));
	l2 = vs_tcp_reset_build_rst(b, f2, sizeof(f2));
	g_assert_cmpuint(l1, >, 0);
	g_assert_cmpmem(f1, l1, f2, l2);
	/* the imported entry is tracked like any: a peer segment moves it */
	seg(&dst.ct, false, VS_TCP_ACK, 77, 0x100, 10, 501);
	g_assert_cmpuint(b->peer_nxt, ==, 77 + 10);
	for (i = 0; i < 64; i++)	/* one entry only */
		g_assert_true(&dst.slots[i] == b || dst.slots[i].af == VS_FLOW_AF_NONE);
}

/* A connection the destination already tracks keeps its own (newer) entry */
static void test_import_keeps_own(void)
{
	struct ct_fixture src, dst;
	struct vs_tcp_ct_entry out[4], *mine;
	uint32_t n;

	setup(&src, 64);
	setup(&dst, 64);
	seg(&src.ct, true, VS_TCP_ACK, 1000, 1, 100, 1);
	n = vs_tcp_ct_export(&src.ct, out, G_N_ELEMENTS(out));
	g_assert_cmpuint(n, ==, 1);
	/* the VM sent more at the destination already */
	mine = seg(&dst.ct, true, VS_TCP_ACK, 1100, 1, 50, 7);
	g_assert_cmpint(vs_tcp_ct_import(&dst.ct, &out[0], VS_FLOW_TCP_LOSS_RESET, 8), ==,
			VS_TCP_CT_KEPT);
	g_assert_cmpuint(mine->vm_nxt, ==, 1150);
	g_assert_cmpuint(mine->last_ms, ==, 7);
	g_assert_cmpuint(dst.ct.stats.imported, ==, 0);
	g_assert_cmpuint(dst.ct.stats.created, ==, 1);
}

/*
 * Review 74: A -> B -> A.  The VM's connections stay in A's table after it
 * left (nothing clears it; idle-ms only ranks a slot for reuse).  When the
 * VM comes back, B's copy (newer: the VM sent at B) must win over A's own
 * entry, which is older than the VM's departure: else a RST from A after a
 * loss carries A's stale sequence number (out of window at the peer, and
 * the entry is closed for good after that one RST).
 */
static void test_import_after_return(void)
{
	struct ct_fixture a, b;
	struct vs_tcp_ct_entry out[4], *e;
	uint32_t n;

	setup(&a, 64);
	setup(&b, 64);
	/* at A: the VM sent 1000..1100, the peer acknowledged it */
	seg(&a.ct, true, VS_TCP_ACK, 1000, 1, 100, 1);
	seg(&a.ct, false, VS_TCP_ACK, 1, 1100, 0, 2);
	/* A -> B: B imports A's table, the VM sends 1100..3100 at B, acked */
	n = vs_tcp_ct_export(&a.ct, out, G_N_ELEMENTS(out));
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpint(vs_tcp_ct_import(&b.ct, &out[0], VS_FLOW_TCP_LOSS_RESET, 3), ==,
			VS_TCP_CT_IMPORTED);
	seg(&b.ct, true, VS_TCP_ACK, 1100, 1, 1000, 4);
	seg(&b.ct, true, VS_TCP_ACK, 2100, 1, 1000, 5);
	e = seg(&b.ct, false, VS_TCP_ACK, 1, 3100, 0, 6);
	g_assert_cmpuint(e->vm_nxt, ==, 3100);
	/* B -> A (A's old entry still there): B's copy is the VM's latest */
	n = vs_tcp_ct_export(&b.ct, out, G_N_ELEMENTS(out));
	g_assert_cmpuint(n, ==, 1);
	vs_tcp_ct_import(&a.ct, &out[0], VS_FLOW_TCP_LOSS_RESET, 7);
	e = vs_tcp_ct_lookup(&a.ct, VS_FLOW_AF_INET, out[0].vm_addr, out[0].vm_port,
			     out[0].peer_addr, out[0].peer_port);
	g_assert_nonnull(e);
	g_assert_cmpuint(e->vm_nxt, ==, 3100);	/* fails: 1100, A's own from before */
	g_assert_cmpuint(e->peer_ack, ==, 3100);
}

/* Imports take slots as new connections do: full is full, and nothing
 * invalid gets in */
static void test_import_bounds(void)
{
	struct vs_tcp_ct_entry slots[8], e;
	struct vs_tcp_ct ct;
	unsigned int i, imported = 0;

	g_assert_cmpint(vs_tcp_ct_init(&ct, slots, 8, 5, 1000), ==, 0);
	memset(&e, 0, sizeof(e));
	e.af = VS_FLOW_AF_INET;
	ff_addr(VM, e.vm_addr);
	ff_addr(PEER, e.peer_addr);
	e.vm_port = 22;
	e.flags = VS_TCP_CT_VM_SEQ | VS_TCP_CT_PEER_ACK;
	for (i = 0; i < 9; i++) {
		e.peer_port = (uint16_t)(1000 + i);
		if (vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 10) == VS_TCP_CT_IMPORTED)
			imported++;
	}
	g_assert_cmpuint(imported, ==, 8);
	g_assert_cmpuint(ct.stats.full, ==, 1);
	g_assert_cmpuint(ct.stats.imported, ==, 8);
	e.peer_port = 2000;
	g_assert_cmpint(vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 11), ==,
			VS_TCP_CT_NO_SLOT);
	/* after idle-ms, the least recently used one gives its slot away */
	g_assert_cmpint(vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 1010), ==,
			VS_TCP_CT_IMPORTED);
	g_assert_cmpuint(ct.stats.aged, ==, 1);
	/* invalid: no family, too many tags, closed */
	e.peer_port = 3000;
	e.af = VS_FLOW_AF_NONE;
	g_assert_cmpint(vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 2000), ==,
			VS_TCP_CT_INVALID);
	e.af = VS_FLOW_AF_INET;
	e.n_tags = VS_PKT_MAX_VLAN_TAGS + 1;
	g_assert_cmpint(vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 2000), ==,
			VS_TCP_CT_INVALID);
	e.n_tags = 0;
	e.flags |= VS_TCP_CT_RST;
	g_assert_cmpint(vs_tcp_ct_import(&ct, &e, VS_FLOW_TCP_LOSS_RESET, 2000), ==,
			VS_TCP_CT_INVALID);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tcp-ct/init", test_init);
	g_test_add_func("/tcp-ct/rst-seq", test_rst_seq);
	g_test_add_func("/tcp-ct/wrap-around", test_wrap);
	g_test_add_func("/tcp-ct/forged-ack", test_forged_ack);
	g_test_add_func("/tcp-ct/solicit", test_solicit);
	g_test_add_func("/tcp-ct/closed", test_closed);
	g_test_add_func("/tcp-ct/bounds", test_bounds);
	g_test_add_func("/tcp-ct/ipv6-tags-ts", test_ipv6_tags_ts);
	g_test_add_func("/tcp-ct/options", test_options);
	g_test_add_func("/tcp-ct/checksum-vectors", test_checksum_vectors);
	g_test_add_func("/tcp-ct/export-import", test_export_import);
	g_test_add_func("/tcp-ct/import-keeps-own", test_import_keeps_own);
	g_test_add_func("/tcp-ct/import-after-return", test_import_after_return);
	g_test_add_func("/tcp-ct/import-bounds", test_import_bounds);
	return g_test_run();
}
