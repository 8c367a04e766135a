/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * announce.c - RARP, gratuitous ARP and unsolicited Neighbour Advertisement
 *
 * Theory of operation: see announce.h.  Each builder writes the Ethernet
 * header (and tag) with ann_eth(), then its payload, then pads.
 */
#include <stdbool.h>
#include <string.h>

#include "announce.h"
#include "learn.h"

#define ETHERTYPE_ARP	0x0806
#define ETHERTYPE_RARP	0x8035
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ICMPV6_NA	136
#define IPPROTO_ICMPV6_	58

static inline void ann_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* 0 and VS_LEARN_UNTAGGED: no tag */
static inline bool ann_tagged(uint16_t vlan)
{
	return vlan != 0 && vlan != VS_LEARN_UNTAGGED;
}

/* A VID a frame may carry: 1-4094 (4095 is reserved), or no tag */
static inline bool ann_vlan_ok(uint16_t vlan)
{
	return !ann_tagged(vlan) || vlan < VS_LEARN_VID_RESERVED;
}

/*
 * ann_eth() - destination, source, the tag if any and @type
 *
 * Return: the offset of the payload (14, tagged 18)
 */
static size_t ann_eth(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t vlan,
		      uint16_t type)
{
	size_t off = 12;

	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	if (ann_tagged(vlan)) {
		ann_put16(buf + 12, ETHERTYPE_VLAN);
		ann_put16(buf + 14, vlan);	/* priority 0, DEI 0 */
		off = 16;
	}
	ann_put16(buf + off, type);
	return off + 2;
}

/* The minimum frame: 60 bytes, and the tag on top of it */
static size_t ann_min_len(uint16_t vlan)
{
	return ann_tagged(vlan) ? 64 : 60;
}

static const uint8_t ann_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ARP and RARP over Ethernet/IPv4 */
static size_t ann_arp(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan,
		      uint16_t type, uint16_t op, const uint8_t spa[4], const uint8_t tha[6],
		      const uint8_t tpa[4])
{
	size_t len = ann_min_len(vlan), off;

	if (room < len || !ann_vlan_ok(vlan))
		return 0;
	memset(buf, 0, len);
	off = ann_eth(buf, ann_bcast, mac, vlan, type);
	ann_put16(buf + off, 1);		/* hardware: Ethernet */
	ann_put16(buf + off + 2, 0x0800);	/* protocol: IPv4 */
	buf[off + 4] = 6;
	buf[off + 5] = 4;
	ann_put16(buf + off + 6, op);
	memcpy(buf + off + 8, mac, 6);		/* sender hardware address */
	memcpy(buf + off + 14, spa, 4);		/* sender protocol address */
	memcpy(buf + off + 18, tha, 6);		/* target hardware address */
	memcpy(buf + off + 24, tpa, 4);		/* target protocol address */
	return len;
}

size_t vs_announce_rarp(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan)
{
	static const uint8_t zero[4];

	/* op 3, request reverse: "who has @mac" with our own MAC as target */
	return ann_arp(buf, room, mac, vlan, ETHERTYPE_RARP, 3, zero, mac, zero);
}

size_t vs_announce_garp(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan,
			const uint8_t ip[4])
{
	static const uint8_t zero[6];

	/* op 1, request, sender = target = @ip: RFC 5227 ARP Announcement */
	return ann_arp(buf, room, mac, vlan, ETHERTYPE_ARP, 1, ip, zero, ip);
}

/* One's complement sum of @len bytes (even) added to @sum */
static uint32_t ann_sum(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	return sum;
}

size_t vs_announce_na(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan,
		      const uint8_t ip6[16], uint8_t flags)
{
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	const uint16_t icmp_len = 24 + 8;	/* NA + target link-layer address option */
	size_t len = (ann_tagged(vlan) ? 18 : 14) + 40 + icmp_len, off;
	uint8_t *ip, *icmp;
	uint32_t sum;

	if (room < len || !ann_vlan_ok(vlan))
		return 0;
	memset(buf, 0, len);
	off = ann_eth(buf, all_nodes_mac, mac, vlan, ETHERTYPE_IPV6);
	ip = buf + off;
	ip[0] = 0x60;				/* version 6, class 0, flow 0 */
	ann_put16(ip + 4, icmp_len);
	ip[6] = IPPROTO_ICMPV6_;
	ip[7] = 255;				/* hop limit: RFC 4861 requires it */
	memcpy(ip + 8, ip6, 16);		/* source: the address itself */
	memcpy(ip + 24, all_nodes, 16);
	icmp = ip + 40;
	icmp[0] = ICMPV6_NA;
	/* Router and Override as asked; never Solicited (RFC 4861 7.2.6) */
	icmp[4] = flags & (VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	memcpy(icmp + 8, ip6, 16);		/* target */
	icmp[24] = 2;				/* option: target link-layer address */
	icmp[25] = 1;				/* length in units of 8 bytes */
	memcpy(icmp + 26, mac, 6);

	/* pseudo-header: source, destination, length, next header */
	sum = ann_sum(0, ip + 8, 32);
	sum += icmp_len + IPPROTO_ICMPV6_;
	sum = ann_sum(sum, icmp, icmp_len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ann_put16(icmp + 2, (uint16_t)~sum);
	return len;
}
