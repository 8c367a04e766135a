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

#include <stddef.h>
#include <stdint.h>

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
