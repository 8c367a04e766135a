/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow_key.c - flow keys of frames: fields, malformed headers, every
 * truncation, agreement with vs_pkt_classify(), trigger events
 *
 * Frames are copied into heap blocks of exactly their length before they
 * are parsed, so valgrind (tools/sanitize.sh) and ASan report a read of
 * even one byte past the end.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "flow_frames.h"
#include "flow_key.h"
#include "pkt.h"

/* Parse an exactly-sized copy of @len bytes, check the class against pkt.c */
static enum vs_pkt_class parse_exact(const uint8_t *f, size_t len, size_t wire_len,
				     struct vs_flow_key *k)
{
	g_autofree uint8_t *copy = g_malloc(len ? len : 1);
	enum vs_pkt_class c;

	memcpy(copy, f, len);
	c = vs_flow_key_parse(copy, len, wire_len, ff_vm_mac, k);
	g_assert_cmpint(c, ==, k->cls);
	g_assert_cmpint(c, ==, vs_pkt_classify(copy, len, ff_vm_mac));
	/* fields only under their flags */
	if (!(k->flags & VS_FLOW_KEY_L3))
		g_assert_cmpint(k->af, ==, VS_FLOW_AF_NONE);
	if (k->flags & VS_FLOW_KEY_TCP)
		g_assert_true(k->flags & VS_FLOW_KEY_PORTS);
	if (k->flags & VS_FLOW_KEY_PORTS)
		g_assert_true(k->flags & VS_FLOW_KEY_L3);
	return c;
}

static void test_ipv4_fields(void)
{
	static const char payload[] = "hello";
	struct ff_spec s = { .src = "192.0.2.10", .dst = "10.1.2.3", .proto = 17, .sport = 5004,
			     .dport = 40000, .dscp = 46, .payload = payload, .plen = 5,
			     .pad_to = 60 };
	struct vs_flow_key k;
	uint8_t f[256], a[16];
	size_t n = ff_build(f, &s);

	g_assert_cmpuint(n, ==, 60);		/* 14 + 20 + 8 + 5, padded */
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3 | VS_FLOW_KEY_PORTS);
	g_assert_cmpint(k.af, ==, VS_FLOW_AF_INET);
	ff_addr("192.0.2.10", a);
	g_assert_cmpmem(k.src, 16, a, 16);
	ff_addr("10.1.2.3", a);
	g_assert_cmpmem(k.dst, 16, a, 16);
	g_assert_cmpuint(k.proto, ==, 17);
	g_assert_cmpuint(k.dscp, ==, 46);
	g_assert_cmpuint(k.sport, ==, 5004);
	g_assert_cmpuint(k.dport, ==, 40000);
	g_assert_cmpuint(k.l3_off, ==, 14);
	g_assert_cmpuint(k.l4_off, ==, 34);
	g_assert_cmpuint(k.payload_off, ==, 42);
	/* the IP length, not the Ethernet padding */
	g_assert_cmpuint(k.payload_len, ==, 5);
	g_assert_cmpuint(k.l4_len, ==, 13);

	s.proto = 6;
	s.tcp_flags = VS_TCP_ACK | VS_TCP_PSH;
	s.seq = 0xfffffff0;
	s.ack = 0x12345678;
	s.win = 512;
	n = ff_build(f, &s);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_TCP);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3 | VS_FLOW_KEY_PORTS | VS_FLOW_KEY_TCP);
	g_assert_cmpuint(k.seq, ==, 0xfffffff0);
	g_assert_cmpuint(k.ack, ==, 0x12345678);
	g_assert_cmpuint(k.win, ==, 512);
	g_assert_cmpuint(k.tcp_flags, ==, VS_TCP_ACK | VS_TCP_PSH);
	g_assert_cmpuint(k.payload_len, ==, 5);

	s.proto = 132;		/* SCTP: ports */
	n = ff_build(f, &s);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OTHER);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3 | VS_FLOW_KEY_PORTS);
	g_assert_cmpuint(k.dport, ==, 40000);

	s.proto = 1;		/* ICMP: no ports */
	n = ff_build(f, &s);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OTHER);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3);
	g_assert_cmpuint(k.proto, ==, 1);
}

static void test_vlan(void)
{
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 1,
			     .dport = 2, .n_tags = 2, .vids = { 0x2064, 7 } };
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n = ff_build(f, &s);

	/* QinQ: the outer tag's id, without its PCP (0x2000) */
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_VLAN);
	g_assert_cmpuint(k.vlan, ==, 100);
	g_assert_cmpuint(k.n_tags, ==, 2);
	g_assert_cmpuint(k.dport, ==, 2);

	/* a third tag: pkt.c gives up, and so do we */
	memmove(f + 16, f + 12, n - 12);
	ff_be16(f + 12, 0x8100);
	ff_be16(f + 14, 5);
	g_assert_cmpint(parse_exact(f, n + 4, n + 4, &k), ==, VS_PKT_OTHER);
	g_assert_false(k.flags & VS_FLOW_KEY_L3);

	/* untagged */
	s.n_tags = 0;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_false(k.flags & VS_FLOW_KEY_VLAN);
}

static void test_ipv4_malformed(void)
{
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 1,
			     .dport = 2, .plen = 0 };
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n = ff_build(f, &s);

	/* IHL 4: the class (pkt.c does not look at the IHL) but no fields */
	f[14] = 0x44;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
	/* IHL 15: 60 bytes of header in a 42-byte frame */
	f[14] = 0x4f;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
	/* IHL 6 with a total length that still holds it: options skipped */
	n = ff_build(f, &s);
	memmove(f + 38, f + 34, 8);
	memset(f + 34, 1, 4);			/* 4 NOP options */
	f[14] = 0x46;
	ff_be16(f + 16, 32);
	g_assert_cmpint(parse_exact(f, n + 4, n + 4, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
	g_assert_cmpuint(k.l4_off, ==, 38);
	g_assert_cmpuint(k.dport, ==, 2);

	/* total length beyond the frame; below the header */
	n = ff_build(f, &s);
	ff_be16(f + 16, 29);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
	ff_be16(f + 16, 19);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(k.flags, ==, 0);
	/* ... but within the wire length of a segmented frame: fields kept */
	ff_be16(f + 16, 1400);
	parse_exact(f, n, 14 + 1400, &k);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
	g_assert_cmpuint(k.payload_len, ==, 1400 - 28);

	/* a UDP length field is not trusted: the IP length is */
	n = ff_build(f, &s);
	ff_be16(f + 38, 9000);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(k.payload_len, ==, 0);

	/* TCP with a data offset below 5, or beyond the datagram */
	s.proto = 6;
	n = ff_build(f, &s);
	f[34 + 12] = 0x40;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_TCP);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3);
	f[34 + 12] = 0x60;
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3);
}

static void test_ipv4_fragments(void)
{
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 1,
			     .dport = 5060, .plen = 0 };
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n = ff_build(f, &s);

	ff_be16(f + 20, 0x2000);		/* MF, offset 0: the first fragment */
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_FRAG);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
	ff_be16(f + 20, 0x0001);		/* offset 8: a later one */
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_FRAG);
	g_assert_false(k.flags & VS_FLOW_KEY_PORTS);
	g_assert_true(k.flags & VS_FLOW_KEY_L3);
	ff_be16(f + 20, 0x4000);		/* DF only: not a fragment */
	parse_exact(f, n, n, &k);
	g_assert_false(k.flags & VS_FLOW_KEY_FRAG);
}

/* IPv6 with @n_ext extension headers of type @ext before UDP */
static size_t build_v6_ext(uint8_t *f, unsigned int n_ext, uint8_t ext, uint8_t ext_len8)
{
	struct ff_spec s = { .v6 = true, .src = "2001:db8::1", .dst = "2001:db8::2",
			     .proto = 17, .sport = 7, .dport = 9 };
	size_t n = ff_build(f, &s), hl = 8 + (size_t)ext_len8 * 8, l4 = 54;
	unsigned int i;

	if (!n_ext)
		return n;
	memmove(f + l4 + n_ext * hl, f + l4, 8);
	for (i = 0; i < n_ext; i++) {
		uint8_t *h = f + l4 + i * hl;

		memset(h, 0, hl);
		h[0] = i + 1 < n_ext ? ext : 17;
		h[1] = ext == 44 ? 0 : ext_len8;
	}
	f[20] = ext;
	ff_be16(f + 18, (uint16_t)(n_ext * hl + 8));
	return n + n_ext * hl;
}

static void test_ipv6(void)
{
	struct ff_spec s = { .v6 = true, .src = "2001:db8::1", .dst = "2001:db8:1::5",
			     .proto = 6, .sport = 443, .dport = 50000, .dscp = 34,
			     .tcp_flags = VS_TCP_SYN, .seq = 7 };
	struct vs_flow_key k;
	uint8_t f[2048], a[16];
	size_t n = ff_build(f, &s);
	unsigned int i;

	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_TCP);
	g_assert_cmpint(k.af, ==, VS_FLOW_AF_INET6);
	ff_addr("2001:db8:1::5", a);
	g_assert_cmpmem(k.dst, 16, a, 16);
	g_assert_cmpuint(k.dscp, ==, 34);
	g_assert_cmpuint(k.sport, ==, 443);
	g_assert_cmpuint(k.seq, ==, 7);

	/* hop-by-hop, routing, destination options: skipped to UDP */
	for (i = 0; i < 3; i++) {
		static const uint8_t ext[3] = { 0, 43, 60 };

		n = build_v6_ext(f, 2, ext[i], 1);
		g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
		g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
		g_assert_cmpuint(k.l4_off, ==, 54 + 2 * 16);
		g_assert_cmpuint(k.dport, ==, 9);
		g_assert_cmpuint(k.payload_len, ==, 0);
	}
	/* fragment header: first fragment has ports, a later one not */
	n = build_v6_ext(f, 1, 44, 0);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_FRAG);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
	ff_be16(f + 54 + 2, 8 << 3);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_false(k.flags & VS_FLOW_KEY_PORTS);

	/* the longest chain pkt.c accepts, and one more */
	n = build_v6_ext(f, VS_PKT_MAX_IPV6_EXT - 1, 60, 0);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
	n = build_v6_ext(f, VS_PKT_MAX_IPV6_EXT, 60, 0);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OTHER);
	g_assert_cmpuint(k.flags, ==, 0);
	/* a "loop": every header names hop-by-hop as the next, forever */
	n = build_v6_ext(f, 20, 0, 0);
	for (i = 0; i < 20; i++)
		f[54 + i * 8] = 0;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OTHER);
	/* a header length pointing far past the frame */
	n = build_v6_ext(f, 1, 60, 0);
	f[55] = 255;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OTHER);

	/* payload length beyond the frame, or shorter than the chain */
	n = build_v6_ext(f, 1, 60, 0);
	ff_be16(f + 18, 200);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
	ff_be16(f + 18, 4);
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
	/* version 4 under the IPv6 ethertype: pkt.c says UDP; no fields */
	n = build_v6_ext(f, 0, 0, 0);
	f[14] = 0x40;
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_UDP);
	g_assert_cmpuint(k.flags, ==, 0);
}

/* Every prefix of each frame: in bounds, class as pkt.c, fields monotone */
static void test_truncation(void)
{
	static const char sip[] = "REGISTER sip:example.com SIP/2.0\r\nVia: x\r\n";
	struct ff_spec specs[] = {
		{ .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 1, .dport = 5060,
		  .n_tags = 2, .payload = sip, .plen = sizeof(sip) - 1 },
		{ .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 6, .sport = 1, .dport = 2,
		  .ts = true, .tcp_flags = VS_TCP_SYN },
		{ .v6 = true, .src = "2001:db8::1", .dst = "2001:db8::2", .proto = 6,
		  .sport = 1, .dport = 2, .n_tags = 1 },
	};
	uint8_t f[512];
	size_t i, len;

	for (i = 0; i < G_N_ELEMENTS(specs); i++) {
		size_t n = ff_build(f, &specs[i]);
		struct vs_flow_key whole, k;

		parse_exact(f, n, n, &whole);
		for (len = 0; len <= n; len++) {
			g_autofree uint8_t *copy = g_memdup2(f, len ? len : 1);

			parse_exact(copy, len, len, &k);
			g_assert_true((k.flags & ~whole.flags) == 0);
			vs_flow_key_events(&k, copy, len);
		}
		/* the first segment cut short, the wire length whole */
		for (len = 14; len < n; len++) {
			parse_exact(f, len, n, &k);
			g_assert_true((k.flags & ~whole.flags) == 0);
			vs_flow_key_events(&k, f, len);
		}
	}
}

/* Random frames and random mutations of valid ones */
static void test_random(void)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(20);
	struct ff_spec s = { .v6 = false, .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17,
			     .sport = 1, .dport = 2, .n_tags = 1 };
	uint8_t base[256], f[256];
	unsigned int i, j;

	for (i = 0; i < 20000; i++) {
		struct vs_flow_key k;
		size_t n;

		s.v6 = i & 1;
		s.src = s.v6 ? "2001:db8::1" : "192.0.2.1";
		s.dst = s.v6 ? "2001:db8::2" : "10.0.0.1";
		s.proto = (i & 2) ? 6 : 17;
		s.n_tags = (int)(i % 3);
		n = ff_build(base, &s);
		memcpy(f, base, n);
		for (j = 0; j < 1 + i % 4; j++)
			f[g_rand_int_range(rnd, 12, (gint32)n)] = (uint8_t)g_rand_int(rnd);
		n = (size_t)g_rand_int_range(rnd, 0, (gint32)n + 1);
		parse_exact(f, n, n, &k);
		vs_flow_key_events(&k, f, n);
	}
}

static void test_events(void)
{
	static const char reg[] = "REGISTER sips:ss2.biloxi.example.com SIP/2.0\r\nVia: x\r\n";
	static const char bye[] = "BYE sip:alice@pc33.atlanta.example.com SIP/2.0\r\n";
	static const char notsip[] = "REGISTER sip:x HTTP/1.1\r\n";
	static const char lower[] = "register sip:x SIP/2.0\r\n";
	static const char nouri[] = "BYE  SIP/2.0\r\n";
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .sport = 5060,
			     .dport = 5060, .payload = reg, .plen = sizeof(reg) - 1 };
	struct vs_flow_key k;
	uint8_t f[512];
	size_t n = ff_build(f, &s);

	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, VS_FLOW_EV_SIP_REGISTER);
	/* the request line cut before its CRLF */
	g_assert_cmpuint(vs_flow_key_events(&k, f, k.payload_off + 40), ==, 0);
	s.payload = bye;
	s.plen = sizeof(bye) - 1;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, VS_FLOW_EV_SIP_BYE);
	/* over TCP too, IPv6 too */
	s.proto = 6;
	s.v6 = true;
	s.src = "2001:db8::1";
	s.dst = "2001:db8::2";
	s.tcp_flags = VS_TCP_ACK;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, VS_FLOW_EV_SIP_BYE);
	s.payload = notsip;
	s.plen = sizeof(notsip) - 1;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, 0);
	s.payload = lower;
	s.plen = sizeof(lower) - 1;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, 0);
	s.payload = nouri;
	s.plen = sizeof(nouri) - 1;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, 0);

	/* SYN: a new connection; SYN|ACK and SYN|RST are not */
	s.plen = 0;
	s.tcp_flags = VS_TCP_SYN;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, VS_FLOW_EV_TCP_SYN);
	s.tcp_flags = VS_TCP_SYN | VS_TCP_ACK;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, 0);
	s.tcp_flags = VS_TCP_SYN | VS_TCP_RST;
	n = ff_build(f, &s);
	parse_exact(f, n, n, &k);
	g_assert_cmpuint(vs_flow_key_events(&k, f, n), ==, 0);
}

/* Runts and the VM's own frames: as pkt.c */
static void test_verdicts(void)
{
	struct ff_spec s = { .src = "192.0.2.1", .dst = "10.0.0.1", .proto = 17, .from_vm = true };
	struct vs_flow_key k;
	uint8_t f[256];
	size_t n = ff_build(f, &s);

	/* the VM's own frame: OWN_MAC, with its fields (for the TCP tracker) */
	g_assert_cmpint(parse_exact(f, n, n, &k), ==, VS_PKT_OWN_MAC);
	g_assert_cmpuint(k.flags, ==, VS_FLOW_KEY_L3 | VS_FLOW_KEY_PORTS);
	g_assert_cmpint(parse_exact(f, 13, 13, &k), ==, VS_PKT_RUNT);
	g_assert_cmpint(parse_exact(f, 0, 0, &k), ==, VS_PKT_RUNT);
	/* a wire length below the contiguous length counts as the latter */
	s.from_vm = false;
	n = ff_build(f, &s);
	g_assert_cmpint(parse_exact(f, n, 0, &k), ==, VS_PKT_UDP);
	g_assert_true(k.flags & VS_FLOW_KEY_PORTS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/flow-key/ipv4", test_ipv4_fields);
	g_test_add_func("/flow-key/vlan", test_vlan);
	g_test_add_func("/flow-key/ipv4-malformed", test_ipv4_malformed);
	g_test_add_func("/flow-key/ipv4-fragments", test_ipv4_fragments);
	g_test_add_func("/flow-key/ipv6", test_ipv6);
	g_test_add_func("/flow-key/truncation", test_truncation);
	g_test_add_func("/flow-key/random", test_random);
	g_test_add_func("/flow-key/events", test_events);
	g_test_add_func("/flow-key/verdicts", test_verdicts);
	return g_test_run();
}
