/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_tx_offload.c - the guest's transmit offloads on real mbufs
 * (dp_tx_offload.c): a TSO frame as DPDK's dequeue hands it over (a chain
 * of the port's mbufs, RX_LRO, tso_segsz) cut into single-segment frames
 * whose bytes, lengths and checksums are checked here independently, and
 * every refusal counted once with no mbuf lost; the partial checksum path
 * (dp_tx_csum()).
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_harness.h"
#include "dp_priv.h"
#include "pkt_csum.h"
#include "pkt_tso.h"

#define MAX_LEN	1518	/* a 1500-byte MTU and one VLAN tag */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* an IPv4 (or IPv6) TCP frame with @payload bytes, a timestamp option */
static size_t build_tcp(uint8_t *b, bool v6, size_t payload)
{
	size_t l3 = 14, l4 = v6 ? 54 : 34, i;

	memset(b, 0, l4 + 32);
	memcpy(b, "\x52\x54\x00\x00\x00\x02\x52\x54\x00\x12\x34\x56", 12);
	if (v6) {
		b[12] = 0x86, b[13] = 0xdd;
		b[l3] = 0x60;
		b[l3 + 4] = (uint8_t)((32 + payload) >> 8), b[l3 + 5] = (uint8_t)(32 + payload);
		b[l3 + 6] = 6, b[l3 + 7] = 64;
		for (i = 0; i < 32; i++)
			b[l3 + 8 + i] = (uint8_t)i;
	} else {
		b[12] = 0x08;
		b[l3] = 0x45;
		b[l3 + 2] = (uint8_t)((52 + payload) >> 8), b[l3 + 3] = (uint8_t)(52 + payload);
		b[l3 + 8] = 64, b[l3 + 9] = 6;
		memcpy(b + l3 + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	}
	b[l4] = 0x9c, b[l4 + 1] = 0x40, b[l4 + 3] = 80;
	b[l4 + 7] = 1;
	b[l4 + 12] = 0x80, b[l4 + 13] = 0x18;	/* 8 words; ACK PSH */
	b[l4 + 14] = 0x02;
	memcpy(b + l4 + 20, "\x01\x01\x08\x0a\x00\x00\x00\x07\x00\x00\x00\x09", 12);
	for (i = 0; i < payload; i++)
		b[l4 + 32 + i] = (uint8_t)(i * 13 + i / 256);
	return l4 + 32 + payload;
}

/* @len bytes of @b as DPDK's dequeue hands a large frame over: a chain
 * of the pool's mbufs, @piece bytes in each */
static struct rte_mbuf *chain_of(const uint8_t *b, size_t len, size_t piece)
{
	struct rte_mbuf *head = NULL;
	size_t at;

	for (at = 0; at < len; at += piece) {
		size_t n = len - at < piece ? len - at : piece;
		struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);

		g_assert_nonnull(m);
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), b + at, n);
		if (!head)
			head = m;
		else
			g_assert_cmpint(rte_pktmbuf_chain(head, m), ==, 0);
	}
	return head;
}

static struct rte_mbuf *tso_chain(bool v6, size_t payload, uint16_t mss, uint8_t *frame,
				  size_t *len)
{
	struct rte_mbuf *m;

	*len = build_tcp(frame, v6, payload);
	m = chain_of(frame, *len, 1000);
	m->ol_flags = RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_NONE;
	m->tso_segsz = mss;
	return m;
}

/* the TCP checksum of a contiguous frame verifies (RFC 1071) */
static void assert_tcp_csum_ok(const uint8_t *f, size_t len)
{
	struct vs_pkt_l4 l4;

	g_assert_cmpint(vs_pkt_l4_locate(f, len, len, &l4), ==, 0);
	g_assert_cmphex(vs_pkt_csum_fold(vs_pkt_csum_add(vs_pkt_pseudo_sum(f, &l4, l4.l4_len),
							 f + l4.l4, l4.l4_len)), ==, 0xffff);
}

static void check_cut(bool v6)
{
	struct vs_vm *vm = t_port_new();
	static uint8_t frame[70000];
	struct rte_mbuf *out[VS_TSO_MAX_SEGS], *m;
	unsigned int avail = rte_mempool_avail_count(t_pool), n, i;
	size_t len, hdr = v6 ? 86 : 66, at = hdr;
	uint16_t mss = v6 ? 1420 : 1448;

	m = tso_chain(v6, 60000, mss, frame, &len);
	g_assert_cmpuint(m->nb_segs, >, 1);
	g_assert_true(dp_tx_is_tso(m));
	n = dp_tx_segment(vm, m, MAX_LEN, out);
	g_assert_cmpuint(n, ==, (60000 + mss - 1) / mss);
	g_assert_cmpuint(vm->stats.tso_frames, ==, 1);
	g_assert_cmpuint(vm->stats.tso_segments, ==, n);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	for (i = 0; i < n; i++) {
		const uint8_t *s = rte_pktmbuf_mtod(out[i], const uint8_t *);
		size_t slen = rte_pktmbuf_pkt_len(out[i]);

		g_assert_true(rte_pktmbuf_is_contiguous(out[i]));
		g_assert_cmpuint(slen, <=, MAX_LEN);
		g_assert_cmpuint(out[i]->ol_flags, ==, 0);
		g_assert_cmpmem(s, 14, frame, 14);
		assert_tcp_csum_ok(s, slen);
		g_assert_cmpmem(s + hdr, slen - hdr, frame + at, slen - hdr);
		at += slen - hdr;
	}
	g_assert_cmpuint(at, ==, len);
	rte_pktmbuf_free_bulk(out, n);
	/* the chain went back to the pool, the segments too */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, avail);
	t_port_free(vm);
}

static void test_cut_ipv4(void)
{
	check_cut(false);
}

static void test_cut_ipv6(void)
{
	check_cut(true);
}

/* every refusal: one drop under its reason, the chain freed */
static void test_refused(void)
{
	struct vs_vm *vm = t_port_new();
	static uint8_t frame[70000];
	struct rte_mbuf *out[VS_TSO_MAX_SEGS], *m, *hog[65536];
	unsigned int avail = rte_mempool_avail_count(t_pool), held = 0;
	size_t len;

	/* an MSS the MTU cannot carry */
	m = tso_chain(false, 9000, 1500, frame, &len);
	g_assert_cmpuint(dp_tx_segment(vm, m, MAX_LEN, out), ==, 0);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_OVERSIZE], ==, 1);
	/* a hostile MSS: 9000 segments */
	m = tso_chain(false, 9000, 1, frame, &len);
	g_assert_cmpuint(dp_tx_segment(vm, m, MAX_LEN, out), ==, 0);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_GUEST_MALFORMED], ==, 1);
	/* not TCP */
	m = tso_chain(false, 9000, 1448, frame, &len);
	rte_pktmbuf_mtod(m, uint8_t *)[23] = 17;
	g_assert_cmpuint(dp_tx_segment(vm, m, MAX_LEN, out), ==, 0);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_GUEST_MALFORMED], ==, 2);
	/* the headers cut short by the frame's end */
	m = chain_of(frame, 40, 1000);
	m->ol_flags = RTE_MBUF_F_RX_LRO;
	m->tso_segsz = 1448;
	g_assert_cmpuint(dp_tx_segment(vm, m, MAX_LEN, out), ==, 0);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_GUEST_MALFORMED], ==, 3);
	/* the pool cannot give the segments */
	m = tso_chain(false, 9000, 1448, frame, &len);
	while (held < G_N_ELEMENTS(hog) && (hog[held] = rte_pktmbuf_alloc(t_pool)))
		held++;
	g_assert_cmpuint(held, <, G_N_ELEMENTS(hog));
	g_assert_cmpuint(held, >=, 3);
	rte_pktmbuf_free_bulk(&hog[held - 3], 3);	/* room for 3 of 7 */
	held -= 3;
	g_assert_cmpuint(dp_tx_segment(vm, m, MAX_LEN, out), ==, 0);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_NO_MEMORY], ==, 1);
	rte_pktmbuf_free_bulk(hog, held);
	g_assert_cmpuint(vm->stats.tso_frames, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 5);
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, avail);
	t_port_free(vm);
}

/* the partial checksum (VIRTIO_NET_F_CSUM) is finished; what cannot be
 * finished is refused */
static void test_csum(void)
{
	uint8_t frame[200];
	struct rte_mbuf *m;
	struct vs_pkt_l4 l4;
	size_t len = build_tcp(frame, false, 100);

	g_assert_cmpint(vs_pkt_l4_locate(frame, len, len, &l4), ==, 0);
	/* the field a Linux guest leaves: the folded pseudo-header sum */
	{
		uint16_t ph = vs_pkt_csum_fold(vs_pkt_pseudo_sum(frame, &l4, l4.l4_len));

		frame[l4.l4 + 16] = (uint8_t)(ph >> 8);
		frame[l4.l4 + 17] = (uint8_t)ph;
	}
	m = chain_of(frame, len, 2000);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	g_assert_true(dp_tx_csum(m));
	g_assert_cmpuint(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, ==, 0);
	assert_tcp_csum_ok(rte_pktmbuf_mtod(m, uint8_t *), len);
	rte_pktmbuf_free(m);
	/* a whole one (no flag) is left alone */
	m = chain_of(frame, len, 2000);
	g_assert_true(dp_tx_csum(m));
	g_assert_cmpuint(get16(rte_pktmbuf_mtod(m, uint8_t *) + l4.l4 + 16), ==,
			 get16(frame + l4.l4 + 16));
	rte_pktmbuf_free(m);
	/* chained: refused */
	m = chain_of(frame, len, 100);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	g_assert_false(dp_tx_csum(m));
	rte_pktmbuf_free(m);
	/* a GSO frame without an MSS (UFO): refused, not a TSO frame */
	m = chain_of(frame, len, 2000);
	m->ol_flags = RTE_MBUF_F_RX_LRO | RTE_MBUF_F_RX_L4_CKSUM_NONE;
	g_assert_false(dp_tx_is_tso(m));
	g_assert_false(dp_tx_csum(m));
	rte_pktmbuf_free(m);
}

static void add_tests(void)
{
	g_test_add_func("/dp-tx-offload/cut-ipv4", test_cut_ipv4);
	g_test_add_func("/dp-tx-offload/cut-ipv6", test_cut_ipv6);
	g_test_add_func("/dp-tx-offload/refused", test_refused);
	g_test_add_func("/dp-tx-offload/csum", test_csum);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-tx-offload", add_tests);
}
