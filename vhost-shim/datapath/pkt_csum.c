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

/* the L4 protocol, offset and length of an IPv6 packet at @off, or -1 */
static int csum_ipv6(const uint8_t *f, size_t len, size_t off, uint8_t *proto, size_t *l4,
		     size_t *l4_len)
{
	size_t payload, at, ext = 0;
	uint8_t next;
	unsigned int i;

	if (len < off + 40)
		return -1;
	payload = be16(f + off + 4);
	next = f[off + 6];
	at = off + 40;
	/* at most MAX_IPV6_EXT - 1 headers before TCP or UDP, as pkt.c */
	for (i = 0;; i++) {
		size_t hl;

		if (i == MAX_IPV6_EXT)
			return -1;
		if (next == PROTO_TCP || next == PROTO_UDP)
			break;
		if (next != 0 && next != 43 && next != 60)	/* hop-by-hop, routing, dst opts */
			return -1;				/* a fragment, ESP, ...: not ours */
		if (len < at + 8)
			return -1;
		hl = ((size_t)f[at + 1] + 1) * 8;
		next = f[at];
		at += hl;
		ext += hl;
	}
	if (ext > payload || len < off + 40 + payload)
		return -1;
	*proto = next;
	*l4 = at;
	*l4_len = payload - ext;
	return 0;
}

/* the L4 protocol, offset and length of an IPv4 packet at @off, or -1 */
static int csum_ipv4(const uint8_t *f, size_t len, size_t off, uint8_t *proto, size_t *l4,
		     size_t *l4_len)
{
	size_t ihl, total;

	if (len < off + 20 || (f[off] >> 4) != 4)
		return -1;
	ihl = (size_t)(f[off] & 0x0f) * 4;
	total = be16(f + off + 2);
	if (ihl < 20 || total < ihl || len < off + total)
		return -1;
	if (be16(f + off + 6) & 0x3fff)		/* MF or an offset: a fragment */
		return -1;
	*proto = f[off + 9];
	*l4 = off + ihl;
	*l4_len = total - ihl;
	return 0;
}

int vs_pkt_l4_csum_complete(uint8_t *f, size_t len)
{
	size_t off = ETH_HLEN, l4, l4_len, field;
	unsigned int tags = 0;
	uint16_t type, csum;
	uint8_t proto;

	if (len < ETH_HLEN)
		return -1;
	type = be16(f + 12);
	while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) && tags < MAX_VLAN_TAGS) {
		if (len < off + 4)
			return -1;
		type = be16(f + off + 2);
		off += 4;
		tags++;
	}
	if (type == ETHERTYPE_IPV4) {
		if (csum_ipv4(f, len, off, &proto, &l4, &l4_len))
			return -1;
	} else if (type == ETHERTYPE_IPV6) {
		if (csum_ipv6(f, len, off, &proto, &l4, &l4_len))
			return -1;
	} else {
		return -1;
	}
	if (proto == PROTO_TCP && l4_len >= 20)
		field = l4 + 16;
	else if (proto == PROTO_UDP && l4_len >= 8)
		field = l4 + 6;
	else
		return -1;
	/* the field holds the pseudo-header's sum: it is summed with the rest */
	csum = (uint16_t)~vs_pkt_csum_fold(vs_pkt_csum_add(0, f + l4, l4_len));
	if (proto == PROTO_UDP && csum == 0)
		csum = 0xffff;
	f[field] = (uint8_t)(csum >> 8);
	f[field + 1] = (uint8_t)csum;
	return 0;
}
