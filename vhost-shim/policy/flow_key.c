/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_key.c - flow key of a frame, and the trigger events it carries
 *
 * Theory of operation: see flow_key.h.  The walk over the Ethernet, VLAN
 * and IP headers is pkt.c's, step for step, so that the class agrees with
 * vs_pkt_classify(); the extra fields are filled in only where every byte
 * they come from is inside the frame and the IP lengths are consistent.
 * Offsets are size_t and every access is written as "is there room for N
 * more bytes at off" (flow_room()), which cannot overflow.
 */
#include <stdbool.h>
#include <string.h>

#include "flow_key.h"

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8

static inline int flow_room(size_t len, size_t off, size_t need)
{
	return len >= off && len - off >= need;
}

static inline uint16_t flow_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t flow_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* pkt.c's pkt_l4(): the buffer class of an IP protocol */
static enum vs_pkt_class flow_class(uint8_t proto)
{
	if (proto == VS_IPPROTO_UDP)
		return VS_PKT_UDP;
	if (proto == VS_IPPROTO_TCP)
		return VS_PKT_TCP;
	return VS_PKT_OTHER;
}

/*
 * flow_l4() - ports and TCP fields of the L4 header at @off
 * @l4_len:	L4 bytes according to the IP header (validated by the caller
 *		against the frame's wire length)
 *
 * Only called for a first (or unfragmented) datagram.
 */
static void flow_l4(const uint8_t *f, size_t len, size_t off, size_t l4_len,
		    struct vs_flow_key *k)
{
	size_t hlen;

	switch (k->proto) {
	case VS_IPPROTO_UDP:
		hlen = 8;
		break;
	case VS_IPPROTO_SCTP:
		hlen = 12;
		break;
	case VS_IPPROTO_TCP:
		if (!flow_room(len, off, 20))
			return;
		hlen = (size_t)(f[off + 12] >> 4) * 4;
		if (hlen < 20)
			return;
		break;
	default:
		return;
	}
	/* the whole header (TCP: with its options) in the frame and the datagram */
	if (!flow_room(len, off, hlen) || l4_len < hlen)
		return;
	k->sport = flow_be16(f + off);
	k->dport = flow_be16(f + off + 2);
	k->payload_off = (uint32_t)(off + hlen);
	k->payload_len = (uint32_t)(l4_len - hlen);
	k->flags |= VS_FLOW_KEY_PORTS;
	if (k->proto == VS_IPPROTO_TCP) {
		k->seq = flow_be32(f + off + 4);
		k->ack = flow_be32(f + off + 8);
		k->tcp_flags = f[off + 13];
		k->win = flow_be16(f + off + 14);
		k->flags |= VS_FLOW_KEY_TCP;
	}
}

static void flow_ipv4(const uint8_t *f, size_t len, size_t wire_len, size_t off,
		      struct vs_flow_key *k)
{
	size_t ihl, total;
	uint16_t frag;

	if (!flow_room(len, off, 20) || (f[off] >> 4) != 4)
		return;				/* pkt.c: OTHER */
	k->cls = flow_class(f[off + 9]);
	ihl = (size_t)(f[off] & 0x0f) * 4;
	total = flow_be16(f + off + 2);
	if (ihl < 20 || !flow_room(len, off, ihl) || total < ihl || total > wire_len - off)
		return;				/* malformed: the class only */
	k->af = VS_FLOW_AF_INET;
	k->proto = f[off + 9];
	k->dscp = f[off + 1] >> 2;
	memcpy(k->src, f + off + 12, 4);
	memcpy(k->dst, f + off + 16, 4);
	k->l3_off = (uint32_t)off;
	k->l4_off = (uint32_t)(off + ihl);
	k->l4_len = (uint32_t)(total - ihl);
	k->flags |= VS_FLOW_KEY_L3;
	frag = flow_be16(f + off + 6);
	if (frag & 0x3fff) {			/* MF or an offset */
		k->flags |= VS_FLOW_KEY_FRAG;
		if (frag & 0x1fff)
			return;			/* not the first: no L4 header */
	}
	flow_l4(f, len, off + ihl, total - ihl, k);
}

static void flow_ipv6(const uint8_t *f, size_t len, size_t wire_len, size_t off,
		      struct vs_flow_key *k)
{
	size_t l3 = off, plen;
	bool later_fragment = false, fragment = false;
	uint8_t next;
	unsigned int i;

	if (!flow_room(len, off, 40))
		return;
	next = f[off + 6];
	off += 40;
	/* pkt.c's pkt_ipv6(), step for step */
	for (i = 0; i < VS_PKT_MAX_IPV6_EXT; i++) {
		switch (next) {
		case 0:		/* hop-by-hop */
		case 43:	/* routing */
		case 60:	/* destination options */
			if (!flow_room(len, off, 2))
				return;
			next = f[off];
			off += 8 + (size_t)f[off + 1] * 8;
			continue;
		case 44:	/* fragment: 8 bytes, any fragment counts */
			if (!flow_room(len, off, 8))
				return;
			next = f[off];
			fragment = true;
			if (flow_be16(f + off + 2) >> 3)
				later_fragment = true;
			off += 8;
			continue;
		default:
			break;
		}
		break;
	}
	if (i == VS_PKT_MAX_IPV6_EXT || off > len)
		return;				/* pkt.c: OTHER */
	k->cls = flow_class(next);

	plen = flow_be16(f + l3 + 4);
	if ((f[l3] >> 4) != 6 || plen > wire_len - l3 - 40 || off - l3 - 40 > plen)
		return;				/* malformed: the class only */
	k->af = VS_FLOW_AF_INET6;
	k->proto = next;
	k->dscp = (uint8_t)(((f[l3] & 0x0f) << 4 | f[l3 + 1] >> 4) >> 2);
	memcpy(k->src, f + l3 + 8, 16);
	memcpy(k->dst, f + l3 + 24, 16);
	k->l3_off = (uint32_t)l3;
	k->l4_off = (uint32_t)off;
	k->l4_len = (uint32_t)(plen - (off - l3 - 40));
	k->flags |= VS_FLOW_KEY_L3;
	if (fragment)
		k->flags |= VS_FLOW_KEY_FRAG;
	if (!later_fragment)
		flow_l4(f, len, off, k->l4_len, k);
}

enum vs_pkt_class vs_flow_key_parse(const uint8_t *f, size_t len, size_t wire_len,
				    const uint8_t vm_mac[6], struct vs_flow_key *k)
{
	size_t off = 12;
	uint16_t type;
	unsigned int tags = 0;

	memset(k, 0, sizeof(*k));
	if (wire_len < len)
		wire_len = len;
	if (len < VS_PKT_ETH_HLEN)
		return k->cls = VS_PKT_RUNT;
	k->cls = VS_PKT_OTHER;

	type = flow_be16(f + off);
	while ((type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ) &&
	       tags < VS_PKT_MAX_VLAN_TAGS) {
		if (!flow_room(len, off, 6))
			break;
		if (!tags) {
			k->vlan = flow_be16(f + off + 2) & 0x0fff;
			k->flags |= VS_FLOW_KEY_VLAN;
		}
		off += 4;
		type = flow_be16(f + off);
		tags++;
	}
	k->n_tags = (uint8_t)tags;
	off += 2;

	if (type == ETHERTYPE_IPV4)
		flow_ipv4(f, len, wire_len, off, k);
	else if (type == ETHERTYPE_IPV6)
		flow_ipv6(f, len, wire_len, off, k);
	/* the VM's own frames: their fields too (the TCP tracker reads them) */
	if (!memcmp(f + 6, vm_mac, 6))
		k->cls = VS_PKT_OWN_MAC;
	return k->cls;
}

/*
 * flow_sip_request() - does @p start a SIP request line for @method
 *
 * "METHOD SP Request-URI SP SIP/2.0 CRLF" (RFC 3261 7.1), searched in at
 * most VS_FLOW_SIP_LINE_MAX bytes.
 */
static bool flow_sip_request(const uint8_t *p, size_t n, const char *method)
{
	static const char version[] = " SIP/2.0\r\n";
	size_t ml = strlen(method), vl = sizeof(version) - 1, i;

	if (n > VS_FLOW_SIP_LINE_MAX)
		n = VS_FLOW_SIP_LINE_MAX;
	/* method, SP, a Request-URI of at least one byte, the version */
	if (n < ml + 2 + vl || memcmp(p, method, ml) || p[ml] != ' ')
		return false;
	for (i = ml + 1; i + 1 < n; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n')
			return i + 2 >= ml + 2 + vl && !memcmp(p + i + 2 - vl, version, vl);
	}
	return false;
}

unsigned int vs_flow_key_events(const struct vs_flow_key *k, const uint8_t *f, size_t len)
{
	unsigned int ev = 0;
	size_t n;

	if ((k->flags & VS_FLOW_KEY_TCP) &&
	    (k->tcp_flags & (VS_TCP_SYN | VS_TCP_ACK | VS_TCP_RST)) == VS_TCP_SYN)
		ev |= VS_FLOW_EV_TCP_SYN;
	if (!(k->flags & VS_FLOW_KEY_PORTS) ||
	    (k->proto != VS_IPPROTO_UDP && k->proto != VS_IPPROTO_TCP) ||
	    k->payload_off > len)
		return ev;
	n = len - k->payload_off;
	if (n > k->payload_len)
		n = k->payload_len;
	if (flow_sip_request(f + k->payload_off, n, "REGISTER"))
		ev |= VS_FLOW_EV_SIP_REGISTER;
	else if (flow_sip_request(f + k->payload_off, n, "BYE"))
		ev |= VS_FLOW_EV_SIP_BYE;
	return ev;
}
