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
 *    VS_DP_TSO_ROUND at a time (a round is allocated at once, appended to
 *    the burst for the uplink, which is flushed when full), then frees the
 *    chain.
 *
 * Only TCP is cut.  DPDK 22.11 marks a UFO frame (HOST_UFO, offered with
 * offloads=dpdk only, for VMs from dpdk-testpmd) the same way: it is
 * dropped as oversize (the guest sent a datagram larger than the MTU as
 * one frame).  A frame whose segments would not fit the MTU (an MSS
 * larger than the MTU allows) is dropped as oversize; one whose headers
 * the cutter refuses (pkt_tso.h, "Security model") or that would take
 * more than VS_TSO_MAX_SEGS segments as guest-malformed; a round the pool
 * has no mbufs for as no-memory (the rounds before it went out).  Each
 * drop is one frame of the guest's, counted once.
 *
 * Counters: tso-frames (frames cut), tso-segments (frames they became);
 * tx-pkts counts frames on the wire, vm-tx-pkts the guest's frames, and
 * uplink-full the frames on the wire the uplink did not take, so that
 * vm-tx-pkts - tso-frames + tso-segments = tx-pkts + the TX drops.
 *
 * Time: a 64 KiB frame took 14 us to cut at an MSS of 1448 and 35 us at
 * 256 (review 77, this machine); a guest sending at Linux's smallest MSS
 * (48) makes a burst of 32 frames cost the lcore a few milliseconds, and
 * the uplink gets up to 43712 frames from one burst of the guest's ring.
 */
#include <string.h>

#include <rte_mbuf.h>

#include "dp_priv.h"
#include "dp_tcp.h"
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

void dp_tx_flush(struct vs_vm *vm, struct vs_dp_tx_out *o)
{
	uint16_t n = (uint16_t)o->n, sent;

	o->n = 0;
	if (!n)
		return;
	dp_learn(vm, o->pkts, n);	/* announce=all: the addresses it uses */
	dp_tcp_track(vm, o->pkts, n, VS_TCP_CT_FROM_VM);
	sent = vs_dp_ops->uplink_tx(vm->eth_port, o->q, o->pkts, n);
	VS_STAT_ADD(vm->stats.tx_pkts, sent);
	VS_STAT_ADD(vm->stats.tx_bytes, dp_sum_len(o->pkts, sent));
	if (sent < n) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_UPLINK_FULL], n - sent);
		rte_pktmbuf_free_bulk(&o->pkts[sent], n - sent);
	}
}

/* dp_tx_cut() - segments [@first, @first + @n) of @m (plan @t) into @segs */
static bool dp_tx_cut(const struct vs_pkt_tso *t, const uint8_t *hdr, struct rte_mbuf *m,
		      unsigned int first, unsigned int n, struct rte_mbuf **segs)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		size_t plen = vs_pkt_tso_seg_payload(t, first + i);
		uint8_t *seg = (uint8_t *)rte_pktmbuf_append(segs[i], (uint16_t)(t->hdr_len + plen));
		const void *payload;

		/* the data room holds the port's largest frame (port_pool.h), a
		 * segment is no larger (dp_tx_segment() checked it against
		 * max_len), and the plan checked the lengths against the
		 * chain's: neither fails */
		if (!seg)
			return false;
		memcpy(seg, hdr, t->hdr_len);
		if (plen) {	/* a read of 0 bytes at a chain's end walks off it */
			payload = rte_pktmbuf_read(m, (uint32_t)(t->hdr_len +
							(size_t)(first + i) * t->mss),
						   (uint32_t)plen, seg + t->hdr_len);
			if (!payload)
				return false;
			if (payload != seg + t->hdr_len)
				memcpy(seg + t->hdr_len, payload, plen);
		}
		vs_pkt_tso_fix(t, seg, first + i);
	}
	return true;
}

/*
 * dp_tx_cut_short() - no mbufs for the next round of @m's segments: the
 * frame is one no-memory drop; the @sent segments of the rounds before it
 * went to the uplink and count as tso-segments, so that vm-tx-pkts -
 * tso-frames + tso-segments = tx-pkts + the TX side's drops still holds
 */
static void dp_tx_cut_short(struct vs_vm *vm, struct rte_mbuf *m, unsigned int sent)
{
	VS_STAT_ADD(vm->stats.tso_segments, sent);
	dp_drop(vm, m, VS_DROP_NO_MEMORY);
}

void dp_tx_segment(struct vs_vm *vm, struct rte_mbuf *m, uint16_t mtu, uint32_t max_len,
		   struct vs_dp_tx_out *o)
{
	uint8_t hdr_copy[DP_TSO_HDR_MAX];
	uint32_t len = rte_pktmbuf_pkt_len(m);
	uint32_t avail = RTE_MIN(len, (uint32_t)DP_TSO_HDR_MAX);
	const uint8_t *hdr = rte_pktmbuf_read(m, 0, avail, hdr_copy);
	struct vs_pkt_tso t;
	unsigned int first, n;
	int rc;

	rc = hdr ? vs_pkt_tso_plan(hdr, avail, len, m->tso_segsz, &t) : -1;
	if (rc == -3) {		/* UFO: not cut, and larger than the MTU */
		dp_drop(vm, m, VS_DROP_OVERSIZE);
		return;
	}
	if (rc) {
		dp_drop(vm, m, VS_DROP_GUEST_MALFORMED);
		return;
	}
	/* the largest segment: its IP packet must fit the MTU, and the frame
	 * the limit a plain frame of the guest's has (a QinQ frame's two tags
	 * count: review 79) */
	if (t.hdr_len - t.at.l3 + RTE_MIN((size_t)t.mss, t.payload) > mtu ||
	    t.hdr_len + RTE_MIN((size_t)t.mss, t.payload) > max_len) {
		dp_drop(vm, m, VS_DROP_OVERSIZE);
		return;
	}
	for (first = 0; first < t.segs; first += n) {
		n = RTE_MIN(t.segs - first, (unsigned int)VS_DP_TSO_ROUND);
		if (o->n + n > VS_DP_TX_OUT)
			dp_tx_flush(vm, o);
		if (rte_pktmbuf_alloc_bulk(vm->pool, &o->pkts[o->n], n)) {
			dp_tx_cut_short(vm, m, first);
			return;
		}
		if (!dp_tx_cut(&t, hdr, m, first, n, &o->pkts[o->n])) {
			rte_pktmbuf_free_bulk(&o->pkts[o->n], n);
			dp_tx_cut_short(vm, m, first);
			return;
		}
		o->n += n;
	}
	VS_STAT_ADD(vm->stats.tso_frames, 1);
	VS_STAT_ADD(vm->stats.tso_segments, t.segs);
	rte_pktmbuf_free(m);
}
