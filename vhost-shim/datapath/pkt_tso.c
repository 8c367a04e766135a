/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt_tso.c - cut a guest's TCP segmentation offload frame into segments
 *
 * Theory of operation: see pkt_tso.h.
 */
#include "pkt_tso.h"

#define PROTO_TCP	6
#define PROTO_UDP	17
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_PSH		0x08
#define TCP_URG		0x20
#define TCP_CWR		0x80

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

int vs_pkt_tso_plan(const uint8_t *f, size_t avail, size_t len, uint16_t mss,
		    struct vs_pkt_tso *t)
{
	size_t thl;

	if (!mss || vs_pkt_l4_locate(f, avail, len, &t->at))
		return -1;
	if (t->at.proto == PROTO_UDP)
		return -3;
	if (t->at.proto != PROTO_TCP || t->at.ipv6_routing || t->at.l4_len < 20 ||
	    avail < t->at.l4 + 20)
		return -1;
	if (f[t->at.l4 + 13] & (TCP_SYN | TCP_RST | TCP_URG))
		return -1;
	thl = (size_t)(f[t->at.l4 + 12] >> 4) * 4;
	if (thl < 20 || thl > t->at.l4_len || avail < t->at.l4 + thl)
		return -1;
	t->hdr_len = t->at.l4 + thl;
	t->payload = t->at.l4_len - thl;
	t->mss = mss;
	t->segs = t->payload ? (unsigned int)((t->payload + mss - 1) / mss) : 1;
	if (t->segs > VS_TSO_MAX_SEGS)
		return -2;
	return 0;
}

size_t vs_pkt_tso_seg_payload(const struct vs_pkt_tso *t, unsigned int i)
{
	size_t from = (size_t)i * t->mss;

	if (from >= t->payload)
		return 0;
	return t->payload - from < t->mss ? t->payload - from : t->mss;
}

void vs_pkt_tso_fix(const struct vs_pkt_tso *t, uint8_t *seg, unsigned int i)
{
	size_t plen = vs_pkt_tso_seg_payload(t, i), l3 = t->at.l3, l4 = t->at.l4;
	size_t l4_len = t->hdr_len - l4 + plen;
	uint8_t *tcp = seg + l4;
	uint16_t csum;

	if (t->at.ipv6) {
		put16(seg + l3 + 4, (uint16_t)(t->hdr_len - l3 - 40 + plen));
	} else {
		size_t ihl = (size_t)(seg[l3] & 0x0f) * 4;

		put16(seg + l3 + 2, (uint16_t)(t->hdr_len - l3 + plen));
		put16(seg + l3 + 4, (uint16_t)(be16(seg + l3 + 4) + i));
		put16(seg + l3 + 10, 0);
		put16(seg + l3 + 10, (uint16_t)~vs_pkt_csum_fold(vs_pkt_csum_add(0, seg + l3, ihl)));
	}
	put32(tcp + 4, be32(tcp + 4) + (uint32_t)i * t->mss);
	if (i + 1 < t->segs)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i)
		tcp[13] &= (uint8_t)~TCP_CWR;
	put16(tcp + 16, 0);
	csum = (uint16_t)~vs_pkt_csum_fold(vs_pkt_csum_add(vs_pkt_pseudo_sum(seg, &t->at, l4_len),
							   tcp, l4_len));
	put16(tcp + 16, csum);
}
