/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pkt_tso.c - vs_pkt_tso_plan() and vs_pkt_tso_fix() (pkt_tso.h): a
 * guest's TSO frame cut as Linux's tcp_gso_segment() cuts it.  Each frame
 * is built here with a payload of distinct bytes; its segments are made
 * as dp_tx_offload.c makes them (headers copied, payload slice copied,
 * fixed), then checked against what the wire needs: lengths, IPv4 IDs
 * and header checksums, sequence numbers, flags, TCP checksums verified
 * here the textbook way (RFC 1071 over pseudo-header and segment), and
 * the payloads put back together equal to the frame's.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pkt_tso.h"

#define FLAGS_ALL	0x80 | 0x10 | 0x08 | 0x01	/* CWR ACK PSH FIN */

struct tso_frame {
	uint8_t *b;
	size_t len;
	size_t l3, l4, thl, hdr_len, payload;
	bool v6;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* RFC 1071, written out again here rather than taken from pkt_csum.c */
static uint16_t rfc1071(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < alen; i += 2)
		sum += get16(a + i);
	for (i = 0; i + 1 < blen; i += 2)
		sum += get16(b + i);
	if (blen & 1)
		sum += (uint32_t)b[blen - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * build() - a TSO frame: @tags VLAN tags, IPv4 (with @ip_opt option
 * bytes) or IPv6 (with @ext bytes of hop-by-hop options), TCP with 12
 * bytes of options (a timestamp), @payload bytes of payload
 */
static struct tso_frame build(bool v6, unsigned int tags, size_t ip_opt, size_t ext,
			      size_t payload, uint8_t flags)
{
	struct tso_frame f = { .v6 = v6, .thl = 32, .payload = payload };
	size_t off, i, iplen;
	uint8_t *p;

	f.len = 14 + 4 * tags + (v6 ? 40 + ext : 20 + ip_opt) + f.thl + payload;
	f.b = g_malloc0(f.len);
	p = f.b;
	memcpy(p, "\x52\x54\x00\x00\x00\x02\x52\x54\x00\x00\x00\x01", 12);
	off = 12;
	for (i = 0; i < tags; i++) {
		put16(p + off, i == 0 && tags == 2 ? 0x88a8 : 0x8100);
		put16(p + off + 2, (uint16_t)(100 + i));
		off += 4;
	}
	put16(p + off, v6 ? 0x86dd : 0x0800);
	f.l3 = off + 2;
	if (v6) {
		p[f.l3] = 0x60;
		put16(p + f.l3 + 4, (uint16_t)(ext + f.thl + payload));
		p[f.l3 + 6] = ext ? 0 : 6;
		p[f.l3 + 7] = 64;
		for (i = 0; i < 32; i++)
			p[f.l3 + 8 + i] = (uint8_t)(0x20 + i);
		if (ext) {
			p[f.l3 + 40] = 6;
			p[f.l3 + 41] = (uint8_t)(ext / 8 - 1);
			p[f.l3 + 42] = 1;	/* PadN */
			p[f.l3 + 43] = (uint8_t)(ext - 4);
		}
		f.l4 = f.l3 + 40 + ext;
	} else {
		iplen = 20 + ip_opt;
		p[f.l3] = (uint8_t)(0x40 | iplen / 4);
		put16(p + f.l3 + 2, (uint16_t)(iplen + f.thl + payload));
		put16(p + f.l3 + 4, 0xfff0);	/* the ID wraps within the frame */
		put16(p + f.l3 + 6, 0x4000);	/* DF */
		p[f.l3 + 8] = 64;
		p[f.l3 + 9] = 6;
		memcpy(p + f.l3 + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		for (i = 20; i < iplen; i++)
			p[f.l3 + i] = 1;	/* NOP options */
		f.l4 = f.l3 + iplen;
	}
	put16(p + f.l4, 40000);
	put16(p + f.l4 + 2, 5201);
	memcpy(p + f.l4 + 4, "\xff\xff\xf0\x00", 4);	/* the sequence wraps too */
	memcpy(p + f.l4 + 8, "\x00\x00\x10\x00", 4);
	p[f.l4 + 12] = (uint8_t)(f.thl / 4) << 4;
	p[f.l4 + 13] = flags;
	put16(p + f.l4 + 14, 512);
	put16(p + f.l4 + 16, 0x1234);	/* whatever the guest left: recomputed */
	memcpy(p + f.l4 + 20, "\x01\x01\x08\x0a\x00\x00\x00\x07\x00\x00\x00\x09", 12);
	f.hdr_len = f.l4 + f.thl;
	for (i = 0; i < payload; i++)
		p[f.hdr_len + i] = (uint8_t)(i * 7 + i / 251);
	return f;
}

/* segment @i as dp_tx_offload.c makes it: headers, payload slice, fix */
static uint8_t *make_segment(const struct tso_frame *f, const struct vs_pkt_tso *t,
			     unsigned int i, size_t *len)
{
	size_t plen = vs_pkt_tso_seg_payload(t, i);
	uint8_t *s = g_malloc(t->hdr_len + plen + 1);

	memcpy(s, f->b, t->hdr_len);
	memcpy(s + t->hdr_len, f->b + t->hdr_len + (size_t)i * t->mss, plen);
	vs_pkt_tso_fix(t, s, i);
	*len = t->hdr_len + plen;
	return s;
}

/* cut @f at @mss and check every segment */
static void check_cut(const struct tso_frame *f, uint16_t mss, size_t avail)
{
	struct vs_pkt_tso t;
	uint8_t *joined = g_malloc(f->payload + 1);
	size_t at = 0, expect_segs;
	unsigned int i;

	g_assert_cmpint(vs_pkt_tso_plan(f->b, avail, f->len, mss, &t), ==, 0);
	expect_segs = f->payload ? (f->payload + mss - 1) / mss : 1;
	g_assert_cmpuint(t.segs, ==, expect_segs);
	g_assert_cmpuint(t.hdr_len, ==, f->hdr_len);
	g_assert_cmpuint(t.payload, ==, f->payload);
	for (i = 0; i < t.segs; i++) {
		size_t len, plen = vs_pkt_tso_seg_payload(&t, i), l4_len = f->thl + plen;
		uint8_t *s = make_segment(f, &t, i, &len), ph[40] = { 0 };
		uint8_t flags = f->b[f->l4 + 13];
		bool last = i + 1 == t.segs;

		g_assert_cmpuint(plen, ==, last ? f->payload - (size_t)i * mss : mss);
		/* the VLAN tags and addresses are the frame's */
		g_assert_cmpmem(s, f->l3, f->b, f->l3);
		if (f->v6) {
			g_assert_cmpuint(get16(s + f->l3 + 4), ==, f->l4 - f->l3 - 40 + l4_len);
			memcpy(ph, s + f->l3 + 8, 32);
			put16(ph + 34, (uint16_t)l4_len);
			ph[39] = 6;
			g_assert_cmphex(rfc1071(ph, 40, s + f->l4, l4_len), ==, 0xffff);
		} else {
			size_t ihl = (size_t)(s[f->l3] & 0x0f) * 4;

			g_assert_cmpuint(get16(s + f->l3 + 2), ==, len - f->l3);
			g_assert_cmphex(get16(s + f->l3 + 4), ==, (uint16_t)(0xfff0 + i));
			g_assert_cmphex(get16(s + f->l3 + 6), ==, 0x4000);
			g_assert_cmphex(rfc1071(NULL, 0, s + f->l3, ihl), ==, 0xffff);
			memcpy(ph, s + f->l3 + 12, 8);
			ph[9] = 6;
			put16(ph + 10, (uint16_t)l4_len);
			g_assert_cmphex(rfc1071(ph, 12, s + f->l4, l4_len), ==, 0xffff);
		}
		g_assert_cmphex(get32(s + f->l4 + 4), ==, (uint32_t)(0xfffff000u + i * (uint32_t)mss));
		if (!last)
			flags &= (uint8_t)~0x09;	/* FIN and PSH on the last only */
		if (i)
			flags &= (uint8_t)~0x80;	/* CWR on the first only */
		g_assert_cmphex(s[f->l4 + 13], ==, flags);
		/* the options, the ports, the ACK, the window: the frame's */
		g_assert_cmpmem(s + f->l4, 4, f->b + f->l4, 4);
		g_assert_cmpmem(s + f->l4 + 8, 5, f->b + f->l4 + 8, 5);
		g_assert_cmpmem(s + f->l4 + 14, 2, f->b + f->l4 + 14, 2);
		g_assert_cmpmem(s + f->l4 + 20, f->thl - 20, f->b + f->l4 + 20, f->thl - 20);
		memcpy(joined + at, s + t.hdr_len, plen);
		at += plen;
		g_free(s);
	}
	g_assert_cmpuint(at, ==, f->payload);
	g_assert_cmpmem(joined, at, f->b + f->hdr_len, f->payload);
	g_free(joined);
}

static void test_ipv4(void)
{
	struct tso_frame f = build(false, 0, 0, 0, 10000, FLAGS_ALL);

	check_cut(&f, 1448, f.len);
	check_cut(&f, 1000, f.len);	/* a multiple: the last segment is whole */
	g_free(f.b);
	f = build(false, 1, 12, 0, 65535 - 20 - 12 - 32, 0x10);	/* the largest, options */
	check_cut(&f, 1448, f.len);
	check_cut(&f, 536, f.len);
	g_free(f.b);
}

static void test_ipv6(void)
{
	struct tso_frame f = build(true, 0, 0, 0, 20000, FLAGS_ALL);

	check_cut(&f, 1428, f.len);
	g_free(f.b);
	f = build(true, 2, 0, 16, 3001, 0x18);	/* QinQ, a hop-by-hop header */
	check_cut(&f, 1212, f.len);
	g_free(f.b);
}

/* the caller may hand only the headers (the rest in other mbufs) */
static void test_headers_only(void)
{
	struct tso_frame f = build(false, 1, 0, 0, 9000, 0x18);
	struct vs_pkt_tso t;

	check_cut(&f, 1448, f.hdr_len);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.hdr_len - 1, f.len, 1448, &t), ==, -1);
	g_free(f.b);
}

static void test_small(void)
{
	struct tso_frame f = build(false, 0, 0, 0, 0, 0x11);	/* no payload: one */

	check_cut(&f, 1448, f.len);
	g_free(f.b);
	f = build(true, 0, 0, 0, 100, 0x18);	/* smaller than the MSS: one */
	check_cut(&f, 1448, f.len);
	g_free(f.b);
}

static void test_refused(void)
{
	struct tso_frame f = build(false, 0, 0, 0, 65000, 0x10);
	struct vs_pkt_tso t;

	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 0, &t), ==, -1);
	/* a hostile MSS would make a frame per byte; Linux's smallest (48)
	 * is cut, one below it is not */
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1, &t), ==, -2);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 47, &t), ==, -2);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 48, &t), ==, 0);
	g_assert_cmpuint(t.segs, ==, (65000 + 47) / 48);
	g_assert_cmpuint(t.segs, <=, VS_TSO_MAX_SEGS);
	/* UDP (a UFO frame): told apart */
	f.b[f.l3 + 9] = 17;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -3);
	f.b[f.l3 + 9] = 1;	/* ICMP */
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	f.b[f.l3 + 9] = 6;
	/* SYN, RST, URG: never in a TSO frame */
	f.b[f.l4 + 13] = 0x12;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	f.b[f.l4 + 13] = 0x14;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	f.b[f.l4 + 13] = 0x30;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	f.b[f.l4 + 13] = 0x10;
	/* a TCP header longer than the packet */
	put16(f.b + f.l3 + 2, 20 + 24);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	/* a data offset below 5 words */
	put16(f.b + f.l3 + 2, (uint16_t)(20 + 32 + 65000));
	f.b[f.l4 + 12] = 0x40;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	/* a fragment */
	f.b[f.l4 + 12] = 0x80;
	put16(f.b + f.l3 + 6, 0x2000);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	/* a frame shorter than its IP length */
	put16(f.b + f.l3 + 6, 0x4000);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len - 1, f.len - 1, 1448, &t), ==, -1);
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, 0);
	g_free(f.b);

	/* IPv6 with a routing header: the pseudo-header would need its final
	 * destination */
	f = build(true, 0, 0, 16, 3000, 0x10);
	f.b[f.l3 + 6] = 43;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, -1);
	f.b[f.l3 + 6] = 0;
	g_assert_cmpint(vs_pkt_tso_plan(f.b, f.len, f.len, 1448, &t), ==, 0);
	g_free(f.b);
}

/* any bytes, any lengths: never a read past what it was given (ASan) */
static void test_garbage(void)
{
	struct vs_pkt_tso t;
	unsigned int round;

	for (round = 0; round < 20000; round++) {
		size_t len = (size_t)g_test_rand_int_range(0, 200), i;
		uint8_t *b = g_malloc(len + 1);

		for (i = 0; i < len; i++)
			b[i] = (uint8_t)g_test_rand_int();
		if (len > 13 && round % 2)
			put16(b + 12, round % 4 == 1 ? 0x0800 : 0x86dd);
		if (len > 14 && round % 2)
			b[14] = round % 4 == 1 ? 0x45 : 0x60;
		if (!vs_pkt_tso_plan(b, len, len, (uint16_t)g_test_rand_int_range(1, 2000), &t)) {
			g_assert_cmpuint(t.hdr_len + t.payload, <=, len);
			g_assert_cmpuint(t.segs, >=, 1);
		}
		g_free(b);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pkt-tso/ipv4", test_ipv4);
	g_test_add_func("/pkt-tso/ipv6", test_ipv6);
	g_test_add_func("/pkt-tso/headers-only", test_headers_only);
	g_test_add_func("/pkt-tso/small", test_small);
	g_test_add_func("/pkt-tso/refused", test_refused);
	g_test_add_func("/pkt-tso/garbage", test_garbage);
	return g_test_run();
}
