/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt_csum.c - finish the TCP and UDP checksums a guest left to the device
 *
 * Theory of operation: see pkt_csum.h.
 */
#include "pkt_csum.h"

#define ETH_HLEN	14
#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8
#define PROTO_TCP	6
#define PROTO_UDP	17
#define MAX_VLAN_TAGS	2
#define MAX_IPV6_EXT	8

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t vs_pkt_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		sum += be16(p + i);
		if (sum & 0x80000000u)	/* keep the carries from overflowing */
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t vs_pkt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * csum_ipv6() - the L4 protocol, offset and length of an IPv6 packet at
 * @off: reads within @avail, lengths against @len; -1 when it is none of
 * ours
 */
static int csum_ipv6(const uint8_t *f, size_t avail, size_t len, size_t off,
		     struct vs_pkt_l4 *l4)
{
	size_t payload, at, ext = 0;
	uint8_t next;
	unsigned int i;

	if (avail < off + 40)
		return -1;
	payload = be16(f + off + 4);
	next = f[off + 6];
	at = off + 40;
	l4->ipv6_routing = false;
	/* at most MAX_IPV6_EXT - 1 headers before TCP or UDP, as pkt.c */
	for (i = 0;; i++) {
		size_t hl;

		if (i == MAX_IPV6_EXT)
			return -1;
		if (next == PROTO_TCP || next == PROTO_UDP)
			break;
		if (next != 0 && next != 43 && next != 60)	/* hop-by-hop, routing, dst opts */
			return -1;				/* a fragment, ESP, ...: not ours */
		if (avail < at + 8)
			return -1;
		if (next == 43)
			l4->ipv6_routing = true;
		hl = ((size_t)f[at + 1] + 1) * 8;
		next = f[at];
		at += hl;
		ext += hl;
	}
	if (ext > payload || len < off + 40 + payload)
		return -1;
	l4->proto = next;
	l4->l4 = at;
	l4->l4_len = payload - ext;
	return 0;
}

/* csum_ipv4() - the same for an IPv4 packet at @off (not a fragment) */
static int csum_ipv4(const uint8_t *f, size_t avail, size_t len, size_t off,
		     struct vs_pkt_l4 *l4)
{
	size_t ihl, total;

	if (avail < off + 20 || (f[off] >> 4) != 4)
		return -1;
	ihl = (size_t)(f[off] & 0x0f) * 4;
	total = be16(f + off + 2);
	if (ihl < 20 || total < ihl || len < off + total || avail < off + ihl)
		return -1;
	if (be16(f + off + 6) & 0x3fff)		/* MF or an offset: a fragment */
		return -1;
	l4->proto = f[off + 9];
	l4->l4 = off + ihl;
	l4->l4_len = total - ihl;
	l4->ipv6_routing = false;
	return 0;
}

int vs_pkt_l4_locate(const uint8_t *f, size_t avail, size_t len, struct vs_pkt_l4 *l4)
{
	size_t off = ETH_HLEN;
	unsigned int tags = 0;
	uint16_t type;

	if (avail > len || avail < ETH_HLEN)
		return -1;
	type = be16(f + 12);
	while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS) {
		if (avail < off + 4)
			return -1;
		type = be16(f + off + 2);
		off += 4;
		tags++;
	}
	l4->l3 = off;
	l4->ipv6 = type == ETHERTYPE_IPV6;
	if (type == ETHERTYPE_IPV4)
		return csum_ipv4(f, avail, len, off, l4);
	if (type == ETHERTYPE_IPV6)
		return csum_ipv6(f, avail, len, off, l4);
	return -1;
}

uint32_t vs_pkt_pseudo_sum(const uint8_t *f, const struct vs_pkt_l4 *l4, size_t l4_len)
{
	uint32_t sum;

	if (l4->ipv6)	/* source and destination: 32 bytes at 8 */
		sum = vs_pkt_csum_add(0, f + l4->l3 + 8, 32);
	else		/* 8 bytes at 12 */
		sum = vs_pkt_csum_add(0, f + l4->l3 + 12, 8);
	sum += l4->proto;
	sum += (uint32_t)(l4_len & 0xffff) + (uint32_t)(l4_len >> 16);
	return sum;
}

int vs_pkt_l4_csum_complete(uint8_t *f, size_t len)
{
	struct vs_pkt_l4 l4;
	size_t field;
	uint16_t csum;

	if (vs_pkt_l4_locate(f, len, len, &l4))
		return -1;
	if (l4.proto == PROTO_TCP && l4.l4_len >= 20)
		field = l4.l4 + 16;
	else if (l4.proto == PROTO_UDP && l4.l4_len >= 8)
		field = l4.l4 + 6;
	else
		return -1;
	/* the field holds the pseudo-header's sum: it is summed with the rest */
	csum = (uint16_t)~vs_pkt_csum_fold(vs_pkt_csum_add(0, f + l4.l4, l4.l4_len));
	if (l4.proto == PROTO_UDP && csum == 0)
		csum = 0xffff;
	f[field] = (uint8_t)(csum >> 8);
	f[field + 1] = (uint8_t)csum;
	return 0;
}
