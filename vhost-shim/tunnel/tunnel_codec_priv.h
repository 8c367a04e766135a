/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_codec_priv.h - what the tunnel encoder (tunnel_codec.c) and
 * decoder (tunnel_decode.c) share, and nobody else
 *
 * Theory of operation: whatever we send, a peer of the same version must
 * accept, so the encoder and the decoder check a message with the same
 * facts and predicates: the per-type table tun_types[] (name, direction,
 * smallest and largest body) and the field checks below.  Both are
 * defined once, in tunnel_codec.c.  Users of the codec include
 * tunnel_proto.h only.
 */
#ifndef VS_TUNNEL_CODEC_PRIV_H
#define VS_TUNNEL_CODEC_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunnel_proto.h"

/**
 * struct tun_type_info - static facts about one message type
 * @name:	for log lines
 * @dir:	who sends it
 * @min_body:	smallest body (variable parts empty)
 * @max_body:	largest body
 */
struct tun_type_info {
	const char *name;
	enum vs_tun_dir dir;
	size_t min_body;
	size_t max_body;
};

/* Per message type, indexed by enum vs_tun_type (tunnel_codec.c) */
extern const struct tun_type_info tun_types[VS_TUN_NUM_TYPES];

/**
 * tun_name_chars_ok() - are @n bytes of a name all from a name alphabet
 * @s:		the name, not necessarily NUL-terminated
 * @n:		bytes at @s
 * @allow_dot:	node names ([A-Za-z0-9._-]); VM names have no dot
 *
 * Return: true if every byte is allowed (the length is the caller's check)
 */
bool tun_name_chars_ok(const char *s, size_t n, bool allow_dot);

/**
 * tun_mac_ok() - is a VM's MAC usable: unicast (I/G bit clear) and not all
 * zeroes
 * @mac:	VS_TUN_ETH_ALEN bytes
 *
 * Return: true if usable
 */
bool tun_mac_ok(const uint8_t *mac);

/* A sequence number on the wire: 1..VS_TUN_SEQ_MAX, or 0 where allowed */
static inline bool tun_seq_ok(uint64_t seq, bool allow_zero)
{
	return (allow_zero || seq != 0) && seq <= VS_TUN_SEQ_MAX;
}

/**
 * tun_conns_ok() - are a CONNS's count (1..VS_TUN_CONNS_MAX) and every
 * record valid (vs_tun_conn_check()); tunnel_codec_conns.c
 * @m:		a CONNS, its records at m->u.conns.recs (wire layout)
 *
 * Return: true if so
 */
bool tun_conns_ok(const struct vs_tun_msg *m);

#endif /* VS_TUNNEL_CODEC_PRIV_H */
