/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt_csum.h - finish the TCP and UDP checksums a guest left to the device
 *
 * Theory of operation: a guest that negotiated VIRTIO_NET_F_CSUM sends TCP
 * and UDP with VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum field holds the
 * folded pseudo-header sum (not inverted), and the device must sum from
 * the L4 header to the end of the packet and store the complement there.
 * DPDK (RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS) leaves that to the
 * application for TCP and UDP: it marks the mbuf RTE_MBUF_F_RX_L4_CKSUM_NONE
 * and keeps neither csum_start nor the header lengths.  The shim finishes
 * the sum in software before the uplink, so that every uplink, whatever
 * its offloads, carries complete frames (dataplane.c, dp_vm_to_uplink()).
 *
 * The frame is parsed here again: up to two VLAN tags, IPv4 (not a
 * fragment) or IPv6 (a bounded chain of hop-by-hop, routing and
 * destination-option headers, no fragment header), then TCP or UDP.  The
 * sum covers the L4 header and payload as the IP header's length says
 * (never Ethernet padding).  A UDP sum of 0 is sent as 0xffff (0 means
 * "no checksum" over IPv4, and is invalid over IPv6).
 *
 * Security model: the guest writes the frame; any length, any content.
 * Every read is bounds-checked against @len; a frame this cannot parse is
 * left as it is and reported, never read past.
 */
#ifndef VS_PKT_CSUM_H
#define VS_PKT_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * struct vs_pkt_l4 - where a frame's TCP or UDP header is
 * @l3:		offset of the IP header (after up to two VLAN tags)
 * @l4:		offset of the L4 header
 * @l4_len:	L4 header and payload, as the IP header's length says
 * @proto:	the L4 protocol (any: the caller checks)
 * @ipv6:	IPv6, else IPv4
 * @ipv6_routing: an IPv6 routing header precedes the L4 header (the
 *		pseudo-header's destination may then be another address)
 */
struct vs_pkt_l4 {
	size_t l3;
	size_t l4;
	size_t l4_len;
	uint8_t proto;
	bool ipv6;
	bool ipv6_routing;
};

/**
 * vs_pkt_l4_locate() - find the L4 header of an IPv4 or IPv6 frame
 * @frame:	the frame's first @avail bytes (contiguous)
 * @avail:	how many bytes may be read at @frame (at most @len)
 * @len:	the whole frame's length
 *
 * Every read stays within @avail; the IP header's lengths are checked
 * against @len, so a caller may pass only a frame's headers.
 *
 * Return: 0 and @l4 filled in; -1 for anything else (not IP, an IPv4 or
 * IPv6 fragment, an IPv6 header chain longer than pkt.c follows, a
 * header cut short, lengths the frame does not hold)
 */
int vs_pkt_l4_locate(const uint8_t *frame, size_t avail, size_t len, struct vs_pkt_l4 *l4);

/**
 * vs_pkt_pseudo_sum() - the TCP/UDP pseudo-header's sum (not folded)
 * @frame:	the frame (its IP header at @l4->l3 readable)
 * @l4:		from vs_pkt_l4_locate()
 * @l4_len:	the L4 length to sum in
 *
 * The addresses are the IP header's own (for IPv6 with a routing header
 * that is not the final destination: see @l4->ipv6_routing).
 */
uint32_t vs_pkt_pseudo_sum(const uint8_t *frame, const struct vs_pkt_l4 *l4, size_t l4_len);

/**
 * vs_pkt_l4_csum_complete() - store the TCP or UDP checksum of @frame
 * @frame:	the whole frame (contiguous)
 * @len:	its length
 *
 * Return: 0 when the checksum was stored; -1 when @frame is not a TCP or
 * UDP packet this can parse (left unchanged)
 */
int vs_pkt_l4_csum_complete(uint8_t *frame, size_t len);

/**
 * vs_pkt_csum_add() - one's complement sum of @len bytes at @p, added to
 * @sum (not folded; big-endian 16-bit words, an odd last byte padded)
 */
uint32_t vs_pkt_csum_add(uint32_t sum, const uint8_t *p, size_t len);

/* vs_pkt_csum_fold() - fold a sum to 16 bits (not inverted) */
uint16_t vs_pkt_csum_fold(uint32_t sum);

#endif /* VS_PKT_CSUM_H */
