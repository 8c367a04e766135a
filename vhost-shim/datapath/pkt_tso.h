/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pkt_tso.h - cut a guest's TCP segmentation offload frame into segments
 *
 * Theory of operation: a guest that negotiated VIRTIO_NET_F_HOST_TSO4/6
 * hands the device one TCP frame of up to 64 KiB with gso_size (the MSS)
 * and VIRTIO_NET_HDR_F_NEEDS_CSUM, and expects the wire to carry what its
 * own stack would have sent without the offload.  DPDK
 * (RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS) marks such a frame
 * RTE_MBUF_F_RX_LRO with tso_segsz = gso_size and leaves the cutting to
 * the application (dp_tx_offload.c).  DPDK's own rte_gso does TCP over
 * IPv4 only; this does both, as Linux's tcp_gso_segment() does:
 *
 *  - every segment carries a copy of the frame's headers (Ethernet, up to
 *    two VLAN tags, IPv4 with its options or IPv6 with its extension
 *    headers, TCP with its options: timestamps are the same in each);
 *  - segment i carries payload bytes [i * mss, (i + 1) * mss), the last
 *    one what is left;
 *  - the IPv4 total length and header checksum, or the IPv6 payload
 *    length, are those of the segment; the IPv4 ID is the frame's plus i;
 *  - the TCP sequence number is the frame's plus i * mss; FIN and PSH stay
 *    on the last segment only, CWR on the first only;
 *  - the TCP checksum is computed whole (pseudo-header and segment),
 *    whatever the guest left in the field.
 *
 * The caller (dp_tx_offload.c) owns the bytes: vs_pkt_tso_plan() reads the
 * frame's headers, then for each segment the caller copies the headers
 * and that segment's payload into a buffer and vs_pkt_tso_fix() rewrites
 * the copy.  Pure C, no DPDK: unit-tested in tests/unit/test_pkt_tso.c.
 *
 * Security model: the guest writes the frame, gso_size included.  Every
 * read is bounds-checked; a frame that is not TCP over IPv4/IPv6 as
 * pkt_csum.c parses it, with an IPv6 routing header (its pseudo-header
 * would need the final destination), with SYN, RST or URG set (Linux
 * never hands those to TSO; copied to every segment they would turn one
 * descriptor into hundreds of SYNs or resets), an MSS of 0, or one that
 * cuts it into more than VS_TSO_MAX_SEGS segments (a hostile guest's MSS
 * of 1 would make 64k frames of one) is refused, and the caller drops it,
 * counted.
 */
#ifndef VS_PKT_TSO_H
#define VS_PKT_TSO_H

#include <stddef.h>
#include <stdint.h>

#include "pkt_csum.h"

/* at most this many segments from one frame: a 64 KiB frame cut at the
 * smallest MSS Linux sends (TCP_MIN_SND_MSS, 48 bytes: a peer may
 * advertise that little) */
#define VS_TSO_MAX_SEGS	1366

/**
 * struct vs_pkt_tso - how a frame is cut
 * @at:		its IP and TCP headers' places (pkt_csum.h)
 * @hdr_len:	bytes of headers copied to every segment (Ethernet to the
 *		end of the TCP options)
 * @payload:	TCP payload bytes, at @hdr_len in the frame
 * @mss:	payload bytes per segment (the last may carry fewer)
 * @segs:	segments (at least 1: a frame without payload is one)
 */
struct vs_pkt_tso {
	struct vs_pkt_l4 at;
	size_t hdr_len;
	size_t payload;
	uint16_t mss;
	unsigned int segs;
};

/**
 * vs_pkt_tso_plan() - read a TSO frame's headers and plan its segments
 * @frame:	the frame's first @avail bytes (its headers must be there)
 * @avail:	bytes readable at @frame
 * @len:	the whole frame's length
 * @mss:	the guest's gso_size
 * @t:		filled in
 *
 * Return: 0; -1 when the frame cannot be cut (not TCP or UDP over
 * IPv4/IPv6, an IPv6 routing header, SYN, RST or URG, headers beyond
 * @avail, @mss of 0); -2 when it would take more than VS_TSO_MAX_SEGS
 * segments; -3 when it is UDP (a UFO frame: not cut)
 */
int vs_pkt_tso_plan(const uint8_t *frame, size_t avail, size_t len, uint16_t mss,
		    struct vs_pkt_tso *t);

/* vs_pkt_tso_seg_payload() - payload bytes of segment @i (< @t->segs) */
size_t vs_pkt_tso_seg_payload(const struct vs_pkt_tso *t, unsigned int i);

/**
 * vs_pkt_tso_fix() - make a copy of the headers into segment @i
 * @t:		the plan
 * @seg:	@t->hdr_len bytes of the frame's headers, followed by the
 *		segment's vs_pkt_tso_seg_payload() payload bytes
 * @i:		which segment (< @t->segs)
 */
void vs_pkt_tso_fix(const struct vs_pkt_tso *t, uint8_t *seg, unsigned int i);

#endif /* VS_PKT_TSO_H */
