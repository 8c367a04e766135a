/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt.h - classify Ethernet frames for the blackout buffer
 *
 * Theory of operation: the buffer treats UDP, TCP and everything else
 * differently (separate caps and policies), and never replays a VM its own
 * frames.  The classifier looks at the first bytes of a frame only: up to
 * two VLAN tags, then IPv4 (any fragment of a UDP/TCP datagram counts as
 * that protocol) or IPv6 (skipping a bounded number of extension headers).
 *
 * Security model: frames come from the network; any length, any content.
 * Every read is bounds-checked against @len; anything we cannot parse is
 * OTHER, never an error, except frames shorter than an Ethernet header.
 *
 * vs_pkt_hash64() hashes a whole frame for the destination's duplicate
 * filter.
 */
#ifndef VS_PKT_H
#define VS_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "enum.h"

enum vs_pkt_class {
	VS_PKT_UDP,
	VS_PKT_TCP,
	VS_PKT_OTHER,
	VS_PKT_NUM_CLASSES,
	/* not buffer classes: verdicts */
	VS_PKT_RUNT = VS_PKT_NUM_CLASSES,
	VS_PKT_OWN_MAC,
};

#define VS_PKT_ETH_HLEN		14
#define VS_PKT_MAX_VLAN_TAGS	2
/* Security consideration: a chain of IPv6 extension headers is bounded */
#define VS_PKT_MAX_IPV6_EXT	8

/* Names of the buffer classes: udp, tcp, other (VS_PKT_NUM_CLASSES of them) */
VS_ENUM_DECL(vs_pkt_class, enum vs_pkt_class);

/**
 * vs_pkt_classify() - what kind of frame this is
 * @frame:	frame bytes (the first segment is enough for any header
 *		chain we look at; shorter input just means OTHER)
 * @len:	bytes available at @frame
 * @vm_mac:	the VM's MAC: a frame *from* it is VS_PKT_OWN_MAC
 *
 * Return: a buffer class, VS_PKT_RUNT or VS_PKT_OWN_MAC
 */
enum vs_pkt_class vs_pkt_classify(const uint8_t *frame, size_t len, const uint8_t vm_mac[6]);

/**
 * vs_pkt_build_rarp() - a RARP "request reverse" announcing @mac, as QEMU
 * sends for self-announce, so switches learn the VM's new location
 * @buf:	output, at least 60 bytes
 * @mac:	the VM's MAC
 *
 * Return: frame length (60)
 */
size_t vs_pkt_build_rarp(uint8_t *buf, const uint8_t mac[6]);

/**
 * vs_pkt_hash64() - 64-bit hash of a frame's bytes, for the destination's
 * duplicate filter (dataplane.c): two different frames must not collide
 * @frame:	frame bytes
 * @len:	bytes at @frame
 *
 * Not a CRC: CRCs are affine over GF(2), so two CRC32Cs of the same bytes
 * with different seeds differ by a constant that depends only on the
 * length.  Paired into 64 bits they carried 32, of which the bucket index
 * used 11: in a dedup window of 7000 same-length UDP frames about one in
 * 250 windows dropped a frame seen only once as a "duplicate" (the
 * likely cause of one datagram lost in migration-udp under ASan).  This is MurmurHash3's
 * 64-bit mixing, word by word; every bit of the result depends on every
 * input bit.
 *
 * Return: the hash
 */
uint64_t vs_pkt_hash64(const void *frame, size_t len);

#endif /* VS_PKT_H */
