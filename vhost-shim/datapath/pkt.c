/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt.c - frame classifier and announcement frames
 *
 * Theory of operation: see pkt.h.  Offsets are size_t and every access is
 * written as "is there room for N more bytes at off", i.e.
 * (len < off || len - off < N), which cannot overflow.
 */
#include <string.h>

#include "pkt.h"

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8
#define ETHERTYPE_RARP	0x8035
#define IPPROTO_TCP_	6
#define IPPROTO_UDP_	17

VS_ENUM_IMPL(vs_pkt_class, enum vs_pkt_class, VS_PKT_NUM_CLASSES,
	     [VS_PKT_UDP] = "udp",
	     [VS_PKT_TCP] = "tcp",
	     [VS_PKT_OTHER] = "other");

static inline int pkt_room(size_t len, size_t off, size_t need)
{
	return len >= off && len - off >= need;
}

static inline uint16_t pkt_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static enum vs_pkt_class pkt_l4(uint8_t proto)
{
	if (proto == IPPROTO_UDP_)
		return VS_PKT_UDP;
	if (proto == IPPROTO_TCP_)
		return VS_PKT_TCP;
	return VS_PKT_OTHER;
}

static enum vs_pkt_class pkt_ipv6(const uint8_t *f, size_t len, size_t off)
{
	uint8_t next;
	unsigned int i;

	if (!pkt_room(len, off, 40))
		return VS_PKT_OTHER;
	next = f[off + 6];
	off += 40;
	for (i = 0; i < VS_PKT_MAX_IPV6_EXT; i++) {
		switch (next) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (!pkt_room(len, off, 2))
				return VS_PKT_OTHER;
			next = f[off];
			off += 8 + (size_t)f[off + 1] * 8;
			break;
		case 44:	/* fragment: 8 bytes, any fragment counts */
			if (!pkt_room(len, off, 8))
				return VS_PKT_OTHER;
			next = f[off];
			off += 8;
			break;
		default:
			/* a header chain longer than the frame is malformed */
			return off <= len ? pkt_l4(next) : VS_PKT_OTHER;
		}
	}
	return VS_PKT_OTHER;
}

enum vs_pkt_class vs_pkt_classify(const uint8_t *f, size_t len, const uint8_t vm_mac[6])
{
	size_t off = 12;
	uint16_t type;
	unsigned int tags = 0;

	if (len < VS_PKT_ETH_HLEN)
		return VS_PKT_RUNT;
	if (!memcmp(f + 6, vm_mac, 6))
		return VS_PKT_OWN_MAC;

	type = pkt_be16(f + off);
	while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) &&
	       tags < VS_PKT_MAX_VLAN_TAGS) {
		if (!pkt_room(len, off, 6))
			return VS_PKT_OTHER;
		off += 4;
		type = pkt_be16(f + off);
		tags++;
	}
	off += 2;

	if (type == ETHERTYPE_IPV4) {
		if (!pkt_room(len, off, 20) || (f[off] >> 4) != 4)
			return VS_PKT_OTHER;
		return pkt_l4(f[off + 9]);
	}
	if (type == ETHERTYPE_IPV6)
		return pkt_ipv6(f, len, off);
	return VS_PKT_OTHER;
}

size_t vs_pkt_build_rarp(uint8_t *buf, const uint8_t mac[6])
{
	static const uint8_t rarp_hdr[8] = {
		0x00, 0x01,	/* hardware: Ethernet */
		0x08, 0x00,	/* protocol: IPv4 */
		6, 4,		/* address lengths */
		0x00, 0x03,	/* op: request reverse */
	};

	memset(buf, 0, 60);
	memset(buf, 0xff, 6);		/* broadcast */
	memcpy(buf + 6, mac, 6);
	buf[12] = ETHERTYPE_RARP >> 8;
	buf[13] = ETHERTYPE_RARP & 0xff;
	memcpy(buf + 14, rarp_hdr, sizeof(rarp_hdr));
	memcpy(buf + 22, mac, 6);	/* sender hardware address */
	memcpy(buf + 32, mac, 6);	/* target hardware address */
	return 60;
}

static inline uint64_t pkt_rotl64(uint64_t x, unsigned int r)
{
	return (x << r) | (x >> (64 - r));
}

/* MurmurHash3's finaliser: every input bit flips each output bit with
 * probability close to 1/2 */
static inline uint64_t pkt_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static inline uint64_t pkt_mix_word(uint64_t k)
{
	k *= 0x87c37b91114253d5ULL;
	k = pkt_rotl64(k, 31);
	return k * 0x4cf5ad432745937fULL;
}

uint64_t vs_pkt_hash64(const void *frame, size_t len)
{
	const uint8_t *p = frame;
	uint64_t h = 0x5653484d5653484dULL, k;
	size_t off;

	for (off = 0; len - off >= 8; off += 8) {
		memcpy(&k, p + off, 8);
		h ^= pkt_mix_word(k);
		h = pkt_rotl64(h, 27) * 5 + 0x52dce729;
	}
	if (off < len) {
		k = 0;
		memcpy(&k, p + off, len - off);
		h ^= pkt_mix_word(k);
	}
	return pkt_fmix64(h ^ (uint64_t)len);
}
