/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pkt.c - frame classifier: every class, every truncation point;
 * the duplicate filter's frame hash
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "pkt.h"

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static const uint8_t peer_mac[6] = { 0x52, 0x54, 0, 0, 0, 9 };

/* Build an Ethernet frame: dst=vm, src=@src, @vlans tags, @type, @l3 */
static size_t build(uint8_t *f, const uint8_t *src, int vlans, uint16_t type,
		    const uint8_t *l3, size_t l3len)
{
	size_t off = 12;
	int i;

	memcpy(f, vm_mac, 6);
	memcpy(f + 6, src, 6);
	for (i = 0; i < vlans; i++) {
		f[off] = 0x81;
		f[off + 1] = 0x00;
		f[off + 2] = 0;
		f[off + 3] = 10;
		off += 4;
	}
	f[off] = type >> 8;
	f[off + 1] = type & 0xff;
	off += 2;
	memcpy(f + off, l3, l3len);
	return off + l3len;
}

static void ipv4(uint8_t *h, uint8_t proto)
{
	memset(h, 0, 28);
	h[0] = 0x45;
	h[9] = proto;
}

static void test_classes(void)
{
	uint8_t f[256], l3[128];
	size_t n;

	ipv4(l3, 17);
	n = build(f, peer_mac, 0, 0x0800, l3, 28);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
	ipv4(l3, 6);
	n = build(f, peer_mac, 0, 0x0800, l3, 40);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_TCP);
	ipv4(l3, 1);
	n = build(f, peer_mac, 0, 0x0800, l3, 28);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
	n = build(f, peer_mac, 0, 0x0806, l3, 28);	/* ARP */
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
	ipv4(l3, 17);
	n = build(f, peer_mac, 2, 0x0800, l3, 28);	/* QinQ */
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
	n = build(f, peer_mac, 3, 0x0800, l3, 28);	/* too many tags */
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
	n = build(f, vm_mac, 0, 0x0800, l3, 28);	/* VM's own frame */
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OWN_MAC);
	l3[0] = 0x65;					/* bad IP version */
	n = build(f, peer_mac, 0, 0x0800, l3, 28);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
}

static void test_ipv6(void)
{
	uint8_t f[256], l3[128];
	size_t n;

	memset(l3, 0, sizeof(l3));
	l3[0] = 0x60;
	l3[6] = 17;
	n = build(f, peer_mac, 0, 0x86dd, l3, 48);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
	l3[6] = 0;		/* hop-by-hop, then TCP */
	l3[40] = 6;
	l3[41] = 0;
	n = build(f, peer_mac, 0, 0x86dd, l3, 60);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_TCP);
	l3[6] = 44;		/* fragment header, then UDP */
	l3[40] = 17;
	n = build(f, peer_mac, 0, 0x86dd, l3, 60);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
	l3[41] = 255;		/* (hop-by-hop) length pointing far beyond the frame */
	l3[6] = 0;
	n = build(f, peer_mac, 0, 0x86dd, l3, 60);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
}

static void test_ipv6_ext_limit(void)
{
	uint8_t f[512], l3[400];
	size_t n, i;

	memset(l3, 0, sizeof(l3));
	l3[0] = 0x60;
	l3[6] = 60;
	/* VS_PKT_MAX_IPV6_EXT - 1 destination-options headers, then UDP: accepted */
	for (i = 0; i < VS_PKT_MAX_IPV6_EXT; i++)
		l3[40 + i * 8] = (i + 1 < VS_PKT_MAX_IPV6_EXT - 1) ? 60 : 17;
	n = build(f, peer_mac, 0, 0x86dd, l3, 40 + VS_PKT_MAX_IPV6_EXT * 8 + 8);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
	/* one more than the limit: OTHER */
	for (i = 0; i < VS_PKT_MAX_IPV6_EXT + 1; i++)
		l3[40 + i * 8] = (i < VS_PKT_MAX_IPV6_EXT) ? 60 : 17;
	n = build(f, peer_mac, 0, 0x86dd, l3, 40 + VS_PKT_MAX_IPV6_EXT * 8 + 8);
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_OTHER);
}

/* Every prefix of a valid frame classifies without reading past @len */
static void test_truncation(void)
{
	uint8_t l3[64], f[128];
	size_t n, len;

	ipv4(l3, 17);
	n = build(f, peer_mac, 2, 0x0800, l3, 28);
	for (len = 0; len <= n; len++) {
		g_autofree uint8_t *copy = g_memdup2(f, len ? len : 1);
		enum vs_pkt_class c = vs_pkt_classify(copy, len, vm_mac);

		if (len < VS_PKT_ETH_HLEN)
			g_assert_cmpint(c, ==, VS_PKT_RUNT);
		else if (len < n - 8)
			g_assert_cmpint(c, ==, VS_PKT_OTHER);
	}
	g_assert_cmpint(vs_pkt_classify(f, n, vm_mac), ==, VS_PKT_UDP);
}

static void test_rarp(void)
{
	uint8_t f[60];

	g_assert_cmpuint(vs_pkt_build_rarp(f, vm_mac), ==, 60);
	g_assert_cmpuint(f[0], ==, 0xff);
	g_assert_cmpmem(f + 6, 6, vm_mac, 6);
	g_assert_cmpuint(f[12], ==, 0x80);
	g_assert_cmpuint(f[13], ==, 0x35);
	g_assert_cmpuint(f[21], ==, 3);
	g_assert_cmpint(vs_pkt_classify(f, 60, peer_mac), ==, VS_PKT_OTHER);
}

/* A datagram of migration-udp's traffic (tests/lib/proto.py) in an
 * Ethernet frame: same length for every seq, 142 bytes */
#define UDP_FRAME_LEN 142
static void udp_frame(uint8_t *f, uint64_t seq, uint64_t send_ns)
{
	uint8_t l3[UDP_FRAME_LEN - 14] = { 0 };	/* ipv4() writes only the header */
	unsigned int i;

	ipv4(l3, 17);
	l3[3] = sizeof(l3);
	l3[4] = seq >> 8;		/* IP ID */
	l3[5] = seq;
	l3[10] = seq * 7;		/* header and UDP checksums change too */
	l3[11] = seq >> 3;
	l3[26] = ~seq;
	l3[27] = seq >> 5;
	for (i = 0; i < 8; i++) {	/* seq and send_ns, network order */
		l3[36 + i] = seq >> (56 - 8 * i);
		l3[44 + i] = send_ns >> (56 - 8 * i);
	}
	for (i = 52; i < sizeof(l3); i++)
		l3[i] = (uint8_t)(seq * 31 + i - 52);
	build(f, peer_mac, 0, 0x0800, l3, sizeof(l3));
}

static int cmp_u64(gconstpointer a, gconstpointer b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * 2^18 different frames of one length (a minute of migration-udp): no two
 * share a 64-bit hash.  Two CRC32Cs paired into 64 bits carry only 32
 * bits for a given length: about 8 collisions expected here.
 */
static void test_hash64_distinct(void)
{
	const unsigned int n = 1u << 18;
	g_autofree uint64_t *h = g_new(uint64_t, n);
	uint64_t send_ns = 1234567890123ULL;
	uint8_t f[UDP_FRAME_LEN];
	unsigned int i;

	for (i = 0; i < n; i++) {
		send_ns += 150000 + (uint64_t)g_test_rand_int_range(0, 100000);
		udp_frame(f, i, send_ns);
		h[i] = vs_pkt_hash64(f, sizeof(f));
	}
	qsort(h, n, sizeof(*h), cmp_u64);
	for (i = 1; i < n; i++)
		g_assert_cmphex(h[i], !=, h[i - 1]);
}

/*
 * Not affine over GF(2), as any CRC (whatever its seed) is: for frames
 * a, b, c of one length, an affine hash has H(a^b^c) == H(a)^H(b)^H(c),
 * and that is what let the two halves of the old hash depend on each other.
 */
static void test_hash64_not_affine(void)
{
	uint8_t a[UDP_FRAME_LEN], b[UDP_FRAME_LEN], c[UDP_FRAME_LEN], x[UDP_FRAME_LEN];
	unsigned int t, i;

	for (t = 0; t < 16; t++) {
		udp_frame(a, t, 1000 + t);
		udp_frame(b, t + 1, 2000 + t);
		udp_frame(c, t + 2, 3000 + t);
		for (i = 0; i < sizeof(x); i++)
			x[i] = a[i] ^ b[i] ^ c[i];
		g_assert_cmphex(vs_pkt_hash64(x, sizeof(x)), !=,
				vs_pkt_hash64(a, sizeof(a)) ^ vs_pkt_hash64(b, sizeof(b)) ^
					vs_pkt_hash64(c, sizeof(c)));
	}
}

/* Every byte counts, the tail and the length included */
static void test_hash64_every_bit(void)
{
	uint8_t f[UDP_FRAME_LEN + 1];
	uint64_t h0;
	unsigned int bit;

	udp_frame(f, 21276, 4260000000ULL);
	f[UDP_FRAME_LEN] = 0;
	h0 = vs_pkt_hash64(f, UDP_FRAME_LEN);
	for (bit = 0; bit < UDP_FRAME_LEN * 8; bit++) {
		f[bit / 8] ^= 1u << (bit % 8);
		g_assert_cmphex(vs_pkt_hash64(f, UDP_FRAME_LEN), !=, h0);
		f[bit / 8] ^= 1u << (bit % 8);
	}
	g_assert_cmphex(vs_pkt_hash64(f, UDP_FRAME_LEN), ==, h0);
	g_assert_cmphex(vs_pkt_hash64(f, UDP_FRAME_LEN + 1), !=, h0);
	g_assert_cmphex(vs_pkt_hash64(f, 0), !=, vs_pkt_hash64(f, 1));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pkt/classes", test_classes);
	g_test_add_func("/pkt/ipv6", test_ipv6);
	g_test_add_func("/pkt/limits/ipv6-ext", test_ipv6_ext_limit);
	g_test_add_func("/pkt/truncation", test_truncation);
	g_test_add_func("/pkt/rarp", test_rarp);
	g_test_add_func("/pkt/hash64/distinct", test_hash64_distinct);
	g_test_add_func("/pkt/hash64/not-affine", test_hash64_not_affine);
	g_test_add_func("/pkt/hash64/every-bit", test_hash64_every_bit);
	return g_test_run();
}
