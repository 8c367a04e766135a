/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_frames.h - frames for the flow-policy unit tests, written field by
 * field from the RFCs' header layouts (not with the code under test)
 */
#ifndef VS_TEST_FLOW_FRAMES_H
#define VS_TEST_FLOW_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

static const uint8_t ff_vm_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t ff_peer_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x09 };

/**
 * struct ff_spec - one frame
 * @v6:		IPv6 (else IPv4)
 * @src:	source address text
 * @dst:	destination address text
 * @from_vm:	source MAC = the VM's (else the peer's, to the VM)
 * @n_tags:	VLAN tags (802.1Q), ids in @vids
 * @vids:	VLAN ids
 * @dscp:	DSCP
 * @proto:	IP protocol
 * @sport:	source port (UDP, TCP, SCTP)
 * @dport:	destination port
 * @tcp_flags:	TCP flags
 * @seq:	TCP sequence number
 * @ack:	TCP acknowledgement number
 * @win:	TCP window
 * @ts:		add a TCP timestamp option (NOP NOP TS)
 * @tsval:	its TSval
 * @tsecr:	its TSecr
 * @payload:	L4 payload
 * @plen:	its length
 * @pad_to:	pad the frame with zeros to this length (Ethernet minimum)
 */
struct ff_spec {
	bool v6;
	const char *src;
	const char *dst;
	bool from_vm;
	int n_tags;
	uint16_t vids[2];
	uint8_t dscp;
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint32_t seq;
	uint32_t ack;
	uint16_t win;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
	const void *payload;
	size_t plen;
	size_t pad_to;
};

static inline void ff_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void ff_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Build the frame into @f (at least 256 + plen bytes); returns its length */
static inline size_t ff_build(uint8_t *f, const struct ff_spec *s)
{
	size_t off = 12, l3, l4, l4len;
	int i;

	memcpy(f, s->from_vm ? ff_peer_mac : ff_vm_mac, 6);
	memcpy(f + 6, s->from_vm ? ff_vm_mac : ff_peer_mac, 6);
	for (i = 0; i < s->n_tags; i++, off += 4) {
		ff_be16(f + off, 0x8100);
		ff_be16(f + off + 2, s->vids[i]);
	}
	ff_be16(f + off, s->v6 ? 0x86dd : 0x0800);
	l3 = off + 2;
	l4 = l3 + (s->v6 ? 40 : 20);

	switch (s->proto) {
	case 6:
		l4len = (s->ts ? 32 : 20) + s->plen;
		memset(f + l4, 0, s->ts ? 32 : 20);
		ff_be16(f + l4, s->sport);
		ff_be16(f + l4 + 2, s->dport);
		ff_be32(f + l4 + 4, s->seq);
		ff_be32(f + l4 + 8, s->ack);
		f[l4 + 12] = (uint8_t)((s->ts ? 8 : 5) << 4);
		f[l4 + 13] = s->tcp_flags;
		ff_be16(f + l4 + 14, s->win);
		if (s->ts) {
			f[l4 + 20] = 1;
			f[l4 + 21] = 1;
			f[l4 + 22] = 8;
			f[l4 + 23] = 10;
			ff_be32(f + l4 + 24, s->tsval);
			ff_be32(f + l4 + 28, s->tsecr);
		}
		if (s->plen)
			memcpy(f + l4 + (s->ts ? 32 : 20), s->payload, s->plen);
		break;
	case 17:
		l4len = 8 + s->plen;
		ff_be16(f + l4, s->sport);
		ff_be16(f + l4 + 2, s->dport);
		ff_be16(f + l4 + 4, (uint16_t)l4len);
		ff_be16(f + l4 + 6, 0);
		if (s->plen)
			memcpy(f + l4 + 8, s->payload, s->plen);
		break;
	case 132:
		l4len = 12 + s->plen;
		memset(f + l4, 0, 12);
		ff_be16(f + l4, s->sport);
		ff_be16(f + l4 + 2, s->dport);
		if (s->plen)
			memcpy(f + l4 + 12, s->payload, s->plen);
		break;
	default:
		l4len = s->plen;
		if (s->plen)
			memcpy(f + l4, s->payload, s->plen);
		break;
	}

	if (s->v6) {
		memset(f + l3, 0, 40);
		f[l3] = (uint8_t)(0x60 | s->dscp >> 2);
		f[l3 + 1] = (uint8_t)((s->dscp & 3) << 6);
		ff_be16(f + l3 + 4, (uint16_t)l4len);
		f[l3 + 6] = s->proto;
		f[l3 + 7] = 64;
		g_assert_cmpint(inet_pton(AF_INET6, s->src, f + l3 + 8), ==, 1);
		g_assert_cmpint(inet_pton(AF_INET6, s->dst, f + l3 + 24), ==, 1);
	} else {
		memset(f + l3, 0, 20);
		f[l3] = 0x45;
		f[l3 + 1] = (uint8_t)(s->dscp << 2);
		ff_be16(f + l3 + 2, (uint16_t)(20 + l4len));
		f[l3 + 8] = 64;
		f[l3 + 9] = s->proto;
		g_assert_cmpint(inet_pton(AF_INET, s->src, f + l3 + 12), ==, 1);
		g_assert_cmpint(inet_pton(AF_INET, s->dst, f + l3 + 16), ==, 1);
	}
	off = l4 + l4len;
	if (off < s->pad_to) {
		memset(f + off, 0, s->pad_to - off);
		off = s->pad_to;
	}
	return off;
}

/* 16 bytes of an address as struct vs_flow_key holds it */
static inline void ff_addr(const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	if (strchr(text, ':'))
		g_assert_cmpint(inet_pton(AF_INET6, text, out), ==, 1);
	else
		g_assert_cmpint(inet_pton(AF_INET, text, out), ==, 1);
}

#endif /* VS_TEST_FLOW_FRAMES_H */
