/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_codec_conns.c - CONNS records: check, encode, read
 *
 * Theory of operation: see tunnel_conns.c (what CONNS is for, who sends
 * it) and docs/tunnel-protocol.md 3.14 (the layout).  A record is checked
 * field by field (vs_tun_conn_check()) on both sides: the encoder writes
 * no invalid one, the decoder (tunnel_decode.c) refuses a CONNS with any.
 */
#include <string.h>

#include "tunnel_codec_priv.h"
#include "tunnel_proto.h"

const char *vs_tun_conn_check(const struct vs_tun_conn *c)
{
	static const uint16_t no_tag[2];
	unsigned int i;

	if (c->af != VS_TUN_SRC_AF_INET && c->af != VS_TUN_SRC_AF_INET6)
		return "address family neither 4 nor 6";
	if (!vs_tun_source_addr_ok(c->af, c->vm_addr) || !vs_tun_source_addr_ok(c->af, c->peer_addr))
		return "an IPv4 address with bytes past its 4";
	if (c->n_tags > VS_TUN_CONN_MAX_TAGS)
		return "more VLAN tags than 2";
	for (i = c->n_tags; i < VS_TUN_CONN_MAX_TAGS; i++)
		if (memcmp(c->tags[i], no_tag, sizeof(no_tag)))
			return "an unused VLAN tag not zero";
	if (c->flags & ~VS_TUN_CONN_FLAGS)
		return "unknown flags";
	if (!tun_mac_ok(c->vm_mac))
		return "VM MAC is multicast or all zeroes";
	return NULL;
}

static void tun_conn_to_wire(const struct vs_tun_conn *c, struct vs_tun_wire_conn *w)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->af = c->af;
	w->n_tags = c->n_tags;
	w->flags = GUINT16_TO_BE(c->flags);
	memcpy(w->vm_addr, c->vm_addr, sizeof(w->vm_addr));
	memcpy(w->peer_addr, c->peer_addr, sizeof(w->peer_addr));
	w->vm_port = GUINT16_TO_BE(c->vm_port);
	w->peer_port = GUINT16_TO_BE(c->peer_port);
	memcpy(w->vm_mac, c->vm_mac, sizeof(w->vm_mac));
	memcpy(w->peer_mac, c->peer_mac, sizeof(w->peer_mac));
	for (i = 0; i < VS_TUN_CONN_MAX_TAGS; i++) {
		w->tags[i][0] = GUINT16_TO_BE(c->tags[i][0]);
		w->tags[i][1] = GUINT16_TO_BE(c->tags[i][1]);
	}
	w->vm_win = GUINT16_TO_BE(c->vm_win);
	w->peer_win = GUINT16_TO_BE(c->peer_win);
	w->vm_nxt = GUINT32_TO_BE(c->vm_nxt);
	w->vm_ack = GUINT32_TO_BE(c->vm_ack);
	w->peer_nxt = GUINT32_TO_BE(c->peer_nxt);
	w->peer_ack = GUINT32_TO_BE(c->peer_ack);
	w->vm_tsval = GUINT32_TO_BE(c->vm_tsval);
	w->peer_tsval = GUINT32_TO_BE(c->peer_tsval);
}

void vs_tun_conns_get(const struct vs_tun_msg *m, size_t i, struct vs_tun_conn *c)
{
	struct vs_tun_wire_conn w;
	unsigned int t;

	memcpy(&w, m->u.conns.recs + i * sizeof(w), sizeof(w));
	c->af = w.af;
	c->n_tags = w.n_tags;
	c->flags = GUINT16_FROM_BE(w.flags);
	memcpy(c->vm_addr, w.vm_addr, sizeof(c->vm_addr));
	memcpy(c->peer_addr, w.peer_addr, sizeof(c->peer_addr));
	c->vm_port = GUINT16_FROM_BE(w.vm_port);
	c->peer_port = GUINT16_FROM_BE(w.peer_port);
	memcpy(c->vm_mac, w.vm_mac, sizeof(c->vm_mac));
	memcpy(c->peer_mac, w.peer_mac, sizeof(c->peer_mac));
	for (t = 0; t < VS_TUN_CONN_MAX_TAGS; t++) {
		c->tags[t][0] = GUINT16_FROM_BE(w.tags[t][0]);
		c->tags[t][1] = GUINT16_FROM_BE(w.tags[t][1]);
	}
	c->vm_win = GUINT16_FROM_BE(w.vm_win);
	c->peer_win = GUINT16_FROM_BE(w.peer_win);
	c->vm_nxt = GUINT32_FROM_BE(w.vm_nxt);
	c->vm_ack = GUINT32_FROM_BE(w.vm_ack);
	c->peer_nxt = GUINT32_FROM_BE(w.peer_nxt);
	c->peer_ack = GUINT32_FROM_BE(w.peer_ack);
	c->vm_tsval = GUINT32_FROM_BE(w.vm_tsval);
	c->peer_tsval = GUINT32_FROM_BE(w.peer_tsval);
}

bool tun_conns_ok(const struct vs_tun_msg *m)
{
	size_t i;

	if (!m->u.conns.count || m->u.conns.count > VS_TUN_CONNS_MAX || !m->u.conns.recs)
		return false;
	for (i = 0; i < m->u.conns.count; i++) {
		struct vs_tun_conn c;

		vs_tun_conns_get(m, i, &c);
		if (vs_tun_conn_check(&c))
			return false;
	}
	return true;
}

size_t vs_tun_encode_conns(GByteArray *out, uint32_t stream_id, const struct vs_tun_conn *conns,
			   size_t n)
{
	struct vs_tun_wire_conn w[VS_TUN_CONNS_MAX];
	struct vs_tun_msg m = { .type = VS_TUN_MSG_CONNS };
	size_t i;

	if (!n || n > VS_TUN_CONNS_MAX)
		return 0;
	for (i = 0; i < n; i++)
		tun_conn_to_wire(&conns[i], &w[i]);
	m.u.conns.stream_id = stream_id;
	m.u.conns.count = (uint16_t)n;
	m.u.conns.recs = (const uint8_t *)w;
	return vs_tun_encode(out, &m);	/* checks every record */
}
