/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_reset.c - build RSTs and solicitations for a VM's TCP peers
 *
 * Theory of operation: see tcp_reset.h.  Headers are written byte by
 * byte in network order, so nothing depends on the host's byte order or
 * on the alignment of @buf.
 */
#include <string.h>

#include "tcp_reset.h"

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd

static inline void rst_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rst_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One's-complement sum of 16-bit big-endian words, not folded */
static uint32_t rst_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
		if (sum & 0x80000000u)		/* fold early: no overflow for any length */
			sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

uint16_t vs_tcp_reset_csum(const uint8_t *data, size_t len, uint32_t sum)
{
	sum = rst_sum(data, len, sum);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* What varies between a RST and a solicitation */
struct rst_seg {
	uint32_t seq;
	uint32_t ack;
	uint8_t flags;
	uint16_t win;
	bool ts;
	uint32_t tsval;
	uint32_t tsecr;
};

/*
 * rst_build() - Ethernet + IP + TCP from the VM to the peer of @e
 *
 * Return: frame length, or 0 if @size is too small
 */
static size_t rst_build(const struct vs_tcp_ct_entry *e, const struct rst_seg *s, uint8_t *buf,
			size_t size)
{
	size_t tcp_len = s->ts ? 32 : 20, ip_len = e->af == VS_FLOW_AF_INET ? 20 : 40;
	size_t off = 12, l3, l4, n;
	uint8_t *t;
	uint32_t sum;
	unsigned int i;

	n = 14 + 4 * (size_t)e->n_tags + ip_len + tcp_len;
	if (e->af == VS_FLOW_AF_NONE || e->n_tags > VS_PKT_MAX_VLAN_TAGS ||
	    size < (n < VS_TCP_RESET_MIN_FRAME ? VS_TCP_RESET_MIN_FRAME : n))
		return 0;
	memset(buf, 0, n < VS_TCP_RESET_MIN_FRAME ? VS_TCP_RESET_MIN_FRAME : n);
	memcpy(buf, e->peer_mac, 6);
	memcpy(buf + 6, e->vm_mac, 6);
	for (i = 0; i < e->n_tags; i++, off += 4) {
		rst_be16(buf + off, e->tags[i][0]);
		rst_be16(buf + off + 2, e->tags[i][1]);
	}
	rst_be16(buf + off, e->af == VS_FLOW_AF_INET ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
	l3 = off + 2;
	l4 = l3 + ip_len;

	t = buf + l4;
	rst_be16(t, e->vm_port);
	rst_be16(t + 2, e->peer_port);
	rst_be32(t + 4, s->seq);
	rst_be32(t + 8, s->ack);
	t[12] = (uint8_t)((tcp_len / 4) << 4);
	t[13] = s->flags;
	rst_be16(t + 14, s->win);
	if (s->ts) {
		t[20] = 1;		/* NOP */
		t[21] = 1;		/* NOP */
		t[22] = 8;		/* timestamps */
		t[23] = 10;
		rst_be32(t + 24, s->tsval);
		rst_be32(t + 28, s->tsecr);
	}

	if (e->af == VS_FLOW_AF_INET) {
		uint8_t *ip = buf + l3;

		ip[0] = 0x45;
		rst_be16(ip + 2, (uint16_t)(ip_len + tcp_len));
		ip[6] = 0x40;		/* DF */
		ip[8] = 64;		/* TTL */
		ip[9] = VS_IPPROTO_TCP;
		memcpy(ip + 12, e->vm_addr, 4);
		memcpy(ip + 16, e->peer_addr, 4);
		rst_be16(ip + 10, vs_tcp_reset_csum(ip, 20, 0));
		sum = rst_sum(ip + 12, 8, 0);
	} else {
		uint8_t *ip = buf + l3;

		ip[0] = 0x60;
		rst_be16(ip + 4, (uint16_t)tcp_len);
		ip[6] = VS_IPPROTO_TCP;
		ip[7] = 64;		/* hop limit */
		memcpy(ip + 8, e->vm_addr, 16);
		memcpy(ip + 24, e->peer_addr, 16);
		sum = rst_sum(ip + 8, 32, 0);
	}
	/* pseudo-header: addresses (above), protocol, TCP length */
	sum += VS_IPPROTO_TCP + (uint32_t)tcp_len;
	rst_be16(t + 16, vs_tcp_reset_csum(t, tcp_len, sum));
	return n < VS_TCP_RESET_MIN_FRAME ? VS_TCP_RESET_MIN_FRAME : n;
}

size_t vs_tcp_reset_build_rst(const struct vs_tcp_ct_entry *e, uint8_t *buf, size_t size)
{
	struct rst_seg s = { .flags = VS_TCP_RST };

	if (!(e->flags & VS_TCP_CT_PEER_ACK))
		return 0;
	s.seq = e->peer_ack;
	if (e->flags & VS_TCP_CT_VM_ACK) {
		s.ack = e->vm_ack;
		s.flags |= VS_TCP_ACK;
	} else if (e->flags & VS_TCP_CT_PEER_SEQ) {
		s.ack = e->peer_nxt;
		s.flags |= VS_TCP_ACK;
	}
	return rst_build(e, &s, buf, size);
}

size_t vs_tcp_reset_build_solicit(struct vs_tcp_ct_entry *e, uint8_t *buf, size_t size)
{
	struct rst_seg s = { .flags = VS_TCP_ACK, .win = e->vm_win };
	size_t n;

	if (e->flags & VS_TCP_CT_PEER_ACK)
		s.seq = e->peer_ack + 0x80000000u;
	else
		s.seq = e->vm_nxt + 0x80000000u;
	if (e->flags & VS_TCP_CT_VM_ACK)
		s.ack = e->vm_ack;
	else if (e->flags & VS_TCP_CT_PEER_SEQ)
		s.ack = e->peer_nxt;
	if ((e->flags & (VS_TCP_CT_VM_TS | VS_TCP_CT_PEER_TS)) ==
	    (VS_TCP_CT_VM_TS | VS_TCP_CT_PEER_TS)) {
		s.ts = true;
		s.tsval = e->vm_tsval;
		s.tsecr = e->peer_tsval;
	}
	n = rst_build(e, &s, buf, size);
	if (n) {
		if (e->solicits < UINT8_MAX)
			e->solicits++;
		e->flags &= (uint16_t)~VS_TCP_CT_FRESH_ACK;
	}
	return n;
}
