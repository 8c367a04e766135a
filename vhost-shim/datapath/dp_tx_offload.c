/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_tx_offload.c - the guest's transmit offloads, finished before the
 * uplink (the owning lcore, from dataplane.c's dp_vm_to_uplink())
 *
 * Theory of operation: with offloads=on a guest leaves two jobs to the
 * device, and every uplink gets frames that need neither:
 *
 *  - checksum offload (VIRTIO_NET_F_CSUM): a TCP or UDP frame marked
 *    NEEDS_CSUM carries only the pseudo-header's sum; DPDK (compliant
 *    offload flags) marks it RTE_MBUF_F_RX_L4_CKSUM_NONE and dp_tx_csum()
 *    stores the sum (pkt_csum.h);
 *  - TCP segmentation offload (VIRTIO_NET_F_HOST_TSO4/6): the guest hands
 *    one TCP frame of up to 64 KiB with its MSS; DPDK copies it into a
 *    chain of the port's mbufs, marks it RTE_MBUF_F_RX_LRO with tso_segsz,
 *    and dp_tx_segment() cuts it into MTU-sized frames (pkt_tso.h), each a
 *    new single-segment mbuf of the port's pool with its checksums whole,
 *    then frees the chain.
 *
 * Only TCP is cut.  A UFO frame (HOST_UFO, offered with offloads=dpdk
 * only, for VMs from dpdk-testpmd) is RX_LRO without tso_segsz: it passes
 * only if it fits the MTU and then cannot be told from a whole one, so it
 * is dropped as guest-malformed, as a frame whose headers the cutter
 * refuses (pkt_tso.h, "Security model") is.  A frame whose segments would
 * not fit the MTU (an MSS larger than the MTU allows) is dropped as
 * oversize; one that would take more than VS_TSO_MAX_SEGS segments as
 * guest-malformed; a cut the pool has no mbufs for as no-memory.  Each
 * drop is one frame of the guest's, counted once.
 *
 * Counters: tso-frames (frames cut), tso-segments (frames they became);
 * tx-pkts counts frames on the wire, vm-tx-pkts the guest's frames.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "dp_priv.h"
#include "pkt_csum.h"
#include "pkt_tso.h"
#include "vm.h"

/* the most header bytes read to plan a cut: two VLAN tags, IPv6 with
 * extension headers or IPv4 with options, TCP with options */
#define DP_TSO_HDR_MAX	512

bool dp_tx_csum(struct rte_mbuf *m)
{
	/* a GSO frame that is not a TSO one (dp_tx_segment() takes those):
	 * DPDK marks its checksum missing even when it is whole, so it
	 * cannot be told apart */
	if (m->ol_flags & RTE_MBUF_F_RX_LRO)
		return false;
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_NONE)
		return true;
	if (!rte_pktmbuf_is_contiguous(m) ||
	    vs_pkt_l4_csum_complete(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m)))
		return false;
	m->ol_flags &= ~RTE_MBUF_F_RX_L4_CKSUM_MASK;
	return true;
}

bool dp_tx_is_tso(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_F_RX_LRO) && m->tso_segsz;
}

unsigned int dp_tx_segment(struct vs_vm *vm, struct rte_mbuf *m, uint32_t max_len,
			   struct rte_mbuf **out)
{
	uint8_t hdr_copy[DP_TSO_HDR_MAX];
	uint32_t len = rte_pktmbuf_pkt_len(m);
	uint32_t avail = RTE_MIN(len, (uint32_t)DP_TSO_HDR_MAX);
	const uint8_t *hdr = rte_pktmbuf_read(m, 0, avail, hdr_copy);
	struct vs_pkt_tso t;
	unsigned int i;
	int rc;

	rc = hdr ? vs_pkt_tso_plan(hdr, avail, len, m->tso_segsz, &t) : -1;
	if (rc) {
		dp_drop(vm, m, VS_DROP_GUEST_MALFORMED);
		return 0;
	}
	if (t.hdr_len + RTE_MIN((size_t)t.mss, t.payload) > max_len) {
		dp_drop(vm, m, VS_DROP_OVERSIZE);
		return 0;
	}
	if (rte_pktmbuf_alloc_bulk(vm->pool, out, t.segs)) {
		dp_drop(vm, m, VS_DROP_NO_MEMORY);
		return 0;
	}
	for (i = 0; i < t.segs; i++) {
		size_t plen = vs_pkt_tso_seg_payload(&t, i);
		uint8_t *seg = (uint8_t *)rte_pktmbuf_append(out[i], (uint16_t)(t.hdr_len + plen));
		const void *payload = NULL;

		/* the data room holds max_len (port_pool.h), and the plan checked
		 * the lengths against the chain's: neither fails */
		if (seg)
			payload = rte_pktmbuf_read(m, (uint32_t)(t.hdr_len + (size_t)i * t.mss),
						   (uint32_t)plen, seg + t.hdr_len);
		if (!payload) {
			rte_pktmbuf_free_bulk(out, t.segs);
			dp_drop(vm, m, VS_DROP_NO_MEMORY);
			return 0;
		}
		memcpy(seg, hdr, t.hdr_len);
		if (payload != seg + t.hdr_len)
			memcpy(seg + t.hdr_len, payload, plen);
		vs_pkt_tso_fix(&t, seg, i);
	}
	VS_STAT_ADD(vm->stats.tso_frames, 1);
	VS_STAT_ADD(vm->stats.tso_segments, t.segs);
	rte_pktmbuf_free(m);
	return t.segs;
}
