/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pkt_csum.c - vs_pkt_l4_csum_complete() (pkt_csum.h): the guest's
 * partial TCP/UDP checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM) finished as a
 * device would.  Each frame is built with its correct checksum computed
 * here the textbook way (pseudo-header and segment with the field zeroed,
 * RFC 1071), then given the field a Linux guest leaves (the folded
 * pseudo-header sum), completed, and compared.
 */
#include <stdbool.h>
#include <string.h>

#include <glib.h>

#include "pkt_csum.h"

#define MAC_DST "\x52\x54\x00\x00\x00\x02"
#define MAC_SRC "\x52\x54\x00\x00\x00\x01"

struct frame {
	uint8_t b[256];
	size_t len;
	size_t l3, l4, field;
	uint8_t proto;
	bool v6;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* the pseudo-header's sum (RFC 768, 793, 8200) */
static uint32_t pseudo_sum(const struct frame *f, size_t l4_len)
{
	uint8_t ph[40];
	size_t n;

	memset(ph, 0, sizeof(ph));
	if (f->v6) {
		memcpy(ph, f->b + f->l3 + 8, 32);
		put16(ph + 34, (uint16_t)l4_len);
		ph[39] = f->proto;
		n = 40;
	} else {
		memcpy(ph, f->b + f->l3 + 12, 8);
		ph[9] = f->proto;
		put16(ph + 10, (uint16_t)l4_len);
		n = 12;
	}
	return vs_pkt_csum_add(0, ph, n);
}

/* the frame's correct checksum, the textbook way */
static uint16_t reference_csum(struct frame *f, size_t l4_len)
{
	uint8_t save[2] = { f->b[f->field], f->b[f->field + 1] };
	uint16_t c;

	f->b[f->field] = f->b[f->field + 1] = 0;
	c = (uint16_t)~vs_pkt_csum_fold(pseudo_sum(f, l4_len) +
					  vs_pkt_csum_add(0, f->b + f->l4, l4_len));
	f->b[f->field] = save[0];
	f->b[f->field + 1] = save[1];
	if (f->proto == 17 && c == 0)
		c = 0xffff;
	return c;
}

/* what a Linux guest leaves in the field: the folded pseudo-header sum */
static void guest_partial(struct frame *f, size_t l4_len)
{
	put16(f->b + f->field, vs_pkt_csum_fold(pseudo_sum(f, l4_len)));
}

/*
 * Ethernet, @tags VLAN tags, IPv4 or IPv6 (with @hbh a hop-by-hop header),
 * TCP or UDP with @payload bytes of pattern
 */
static size_t build(struct frame *f, bool v6, unsigned int tags, bool hbh, uint8_t proto,
		    size_t payload)
{
	size_t off = 12, l4_len, i;

	memset(f, 0, sizeof(*f));
	memcpy(f->b, MAC_DST, 6);
	memcpy(f->b + 6, MAC_SRC, 6);
	for (i = 0; i < tags; i++, off += 4) {
		put16(f->b + off, i ? 0x8100 : 0x88a8);
		put16(f->b + off + 2, (uint16_t)(100 + i));
	}
	put16(f->b + off, v6 ? 0x86dd : 0x0800);
	f->l3 = off + 2;
	f->v6 = v6;
	f->proto = proto;
	l4_len = (proto == 6 ? 20 : 8) + payload;
	if (v6) {
		size_t ext = hbh ? 8 : 0;

		f->b[f->l3] = 0x60;
		put16(f->b + f->l3 + 4, (uint16_t)(ext + l4_len));
		f->b[f->l3 + 6] = hbh ? 0 : proto;
		f->b[f->l3 + 7] = 64;
		for (i = 0; i < 32; i++)
			f->b[f->l3 + 8 + i] = (uint8_t)(0x20 + i * 7);
		if (hbh) {
			f->b[f->l3 + 40] = proto;	/* next header; length 0: 8 bytes */
			f->b[f->l3 + 42] = 1;		/* PadN */
			f->b[f->l3 + 43] = 4;
		}
		f->l4 = f->l3 + 40 + ext;
	} else {
		f->b[f->l3] = 0x45;
		put16(f->b + f->l3 + 2, (uint16_t)(20 + l4_len));
		put16(f->b + f->l3 + 6, 0x4000);	/* DF */
		f->b[f->l3 + 8] = 64;
		f->b[f->l3 + 9] = proto;
		memcpy(f->b + f->l3 + 12, "\x0a\x4d\x00\x15\x0a\x4d\x00\x01", 8);
		f->l4 = f->l3 + 20;
	}
	put16(f->b + f->l4, 40000);
	put16(f->b + f->l4 + 2, 7000);
	if (proto == 6) {
		put16(f->b + f->l4 + 4, 0x1234);
		f->b[f->l4 + 12] = 0x50;
		f->b[f->l4 + 13] = 0x18;
		put16(f->b + f->l4 + 14, 512);
		f->field = f->l4 + 16;
	} else {
		put16(f->b + f->l4 + 4, (uint16_t)l4_len);
		f->field = f->l4 + 6;
	}
	for (i = 0; i < payload; i++)
		f->b[f->l4 + (proto == 6 ? 20 : 8) + i] = (uint8_t)(i * 13 + 1);
	f->len = f->l4 + l4_len;
	return l4_len;
}

static void check_completes(bool v6, unsigned int tags, bool hbh, uint8_t proto, size_t payload)
{
	struct frame f;
	size_t l4_len = build(&f, v6, tags, hbh, proto, payload);
	uint16_t want = reference_csum(&f, l4_len);

	guest_partial(&f, l4_len);
	g_assert_cmpint(vs_pkt_l4_csum_complete(f.b, f.len), ==, 0);
	g_assert_cmphex((f.b[f.field] << 8) | f.b[f.field + 1], ==, want);
}

static void test_complete(void)
{
	unsigned int tags;

	for (tags = 0; tags <= 2; tags++) {
		check_completes(false, tags, false, 17, 100);
		check_completes(false, tags, false, 17, 33);	/* odd length */
		check_completes(false, tags, false, 6, 0);
		check_completes(false, tags, false, 6, 150);
		check_completes(true, tags, false, 17, 100);
		check_completes(true, tags, true, 6, 77);
		check_completes(true, tags, true, 17, 1);
	}
}

/* padding after the IP packet (a short frame padded to 60 bytes) is not
 * summed */
static void test_padding_ignored(void)
{
	struct frame f;
	size_t l4_len = build(&f, false, 0, false, 17, 4);
	uint16_t want = reference_csum(&f, l4_len);

	guest_partial(&f, l4_len);
	g_assert_cmpuint(f.len, <, 60);
	memset(f.b + f.len, 0xee, 60 - f.len);
	g_assert_cmpint(vs_pkt_l4_csum_complete(f.b, 60), ==, 0);
	g_assert_cmphex((f.b[f.field] << 8) | f.b[f.field + 1], ==, want);
}

/* a UDP sum that comes out 0 is sent as 0xffff */
static void test_udp_zero(void)
{
	struct frame f;
	size_t l4_len = build(&f, false, 0, false, 17, 2);
	size_t last = f.l4 + 8;
	uint32_t s;

	/* choose the payload's word so that the complement is 0 */
	f.b[last] = f.b[last + 1] = 0;
	f.b[f.field] = f.b[f.field + 1] = 0;
	s = vs_pkt_csum_fold(pseudo_sum(&f, l4_len) + vs_pkt_csum_add(0, f.b + f.l4, l4_len));
	put16(f.b + last, (uint16_t)~s);
	g_assert_cmphex(reference_csum(&f, l4_len), ==, 0xffff);
	guest_partial(&f, l4_len);
	g_assert_cmpint(vs_pkt_l4_csum_complete(f.b, f.len), ==, 0);
	g_assert_cmphex((f.b[f.field] << 8) | f.b[f.field + 1], ==, 0xffff);
}

static void check_refused(const struct frame *f, size_t len)
{
	struct frame copy = *f;

	g_assert_cmpint(vs_pkt_l4_csum_complete(copy.b, len), ==, -1);
	g_assert_cmpmem(copy.b, sizeof(copy.b), f->b, sizeof(f->b));
}

/* what it cannot parse it leaves alone, and never reads past @len */
static void test_refused(void)
{
	struct frame f;
	size_t i;

	build(&f, false, 0, false, 17, 20);
	for (i = 0; i < f.len; i++)
		check_refused(&f, i);		/* every truncation */
	build(&f, false, 0, false, 17, 20);
	put16(f.b + f.l3 + 6, 0x2000);		/* MF: a fragment */
	check_refused(&f, f.len);
	put16(f.b + f.l3 + 6, 0x0010);		/* an offset */
	check_refused(&f, f.len);
	build(&f, false, 0, false, 1, 20);	/* ICMP */
	check_refused(&f, f.len);
	build(&f, false, 0, false, 17, 20);
	f.b[f.l3] = 0x44;			/* IHL 4 */
	check_refused(&f, f.len);
	build(&f, false, 0, false, 17, 20);
	put16(f.b + f.l3 + 2, 400);		/* longer than the frame */
	check_refused(&f, f.len);
	build(&f, true, 0, true, 6, 20);
	f.b[f.l3 + 6] = 44;			/* a fragment header */
	check_refused(&f, f.len);
	build(&f, true, 0, false, 6, 20);
	put16(f.b + f.l3 + 4, 10);		/* payload shorter than TCP's header */
	check_refused(&f, f.len);
	build(&f, false, 3, false, 17, 20);	/* 3 tags: more than we follow */
	check_refused(&f, f.len);
	build(&f, false, 0, false, 17, 20);
	put16(f.b + 12, 0x0806);		/* ARP */
	check_refused(&f, f.len);
}

/* a chain of IPv6 extension headers is bounded */
static void test_ipv6_ext_chain_bounded(void)
{
	struct frame f;
	unsigned int i;

	memset(&f, 0, sizeof(f));
	put16(f.b + 12, 0x86dd);
	f.b[14] = 0x60;
	put16(f.b + 18, 160);
	f.b[20] = 60;
	for (i = 0; i < 20; i++)
		f.b[54 + i * 8] = 60;		/* destination options, forever */
	f.len = 54 + 160;
	check_refused(&f, f.len);
}

/* RFC 1071's worked example (section 3), and an odd length */
static void test_sum_rfc1071(void)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t odd[] = { 0xab, 0xcd, 0x12 };

	g_assert_cmphex(vs_pkt_csum_fold(vs_pkt_csum_add(0, b, sizeof(b))), ==, 0xddf2);
	g_assert_cmphex(vs_pkt_csum_fold(vs_pkt_csum_add(0, odd, sizeof(odd))), ==, 0xbdcd);
}

/* an IPv6 UDP frame behind @n destination-option headers: completed up
 * to 7 of them, as far as the classifier (pkt.c) follows, refused at 8 */
static int ext_chain(unsigned int n)
{
	struct frame f;
	size_t at, i;

	memset(&f, 0, sizeof(f));
	put16(f.b + 12, 0x86dd);
	f.b[14] = 0x60;
	put16(f.b + 18, (uint16_t)(n * 8 + 8 + 4));
	f.b[20] = n ? 60 : 17;
	at = 54;
	for (i = 0; i < n; i++, at += 8)
		f.b[at] = i + 1 < n ? 60 : 17;
	put16(f.b + at + 4, 12);		/* UDP length */
	f.len = at + 12;
	g_assert_cmpuint(f.len, <=, sizeof(f.b));
	return vs_pkt_l4_csum_complete(f.b, f.len);
}

static void test_ipv6_ext_limit(void)
{
	unsigned int n;

	for (n = 0; n <= 7; n++)
		g_assert_cmpint(ext_chain(n), ==, 0);
	g_assert_cmpint(ext_chain(8), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pkt-csum/sum-rfc1071", test_sum_rfc1071);
	g_test_add_func("/pkt-csum/complete", test_complete);
	g_test_add_func("/pkt-csum/padding-ignored", test_padding_ignored);
	g_test_add_func("/pkt-csum/udp-zero", test_udp_zero);
	g_test_add_func("/pkt-csum/refused", test_refused);
	g_test_add_func("/pkt-csum/ipv6-ext-chain-bounded", test_ipv6_ext_chain_bounded);
	g_test_add_func("/pkt-csum/ipv6-ext-limit", test_ipv6_ext_limit);
	return g_test_run();
}
