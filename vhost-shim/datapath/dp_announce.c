/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_announce.c - the lcore's half of the announcements: learning from the
 * VM's TX, and sending what it learned when the main loop asks
 *
 * Theory of operation: the main loop decides when to announce (at the
 * resume of an incoming VM, on QEMU's schedule: handover.c) and asks with
 * vs_dp_announce(); the lcore that owns the port serves the request at its
 * next poll (dp_announce()).  What it announces depends on the port's
 * "announce" key:
 *  - rarp: one untagged RARP for the configured MAC (QEMU's self-announce);
 *  - all: that RARP, then a RARP per (MAC, VLAN) the VM was seen sending
 *    from, a gratuitous ARP per IPv4 address and an unsolicited Neighbour
 *    Advertisement per IPv6 address whose Router flag is known (the VM's
 *    NA or RA showed it: learn.h), each on its VLAN;
 *  - off: nothing.
 * The table (learn.h) is this lcore's alone: dp_learn() fills it from the
 * guest's TX bursts (dataplane.c), dp_announce() reads it, and dp_buffer()
 * asks dp_learned_own() whether a frame from the uplink comes from one of
 * the VM's MACs (never replayed to it).  The main loop asks the lcore to
 * empty it (vs_dp_learn_forget()) when the VM has left the host and when a
 * migration in starts, so that a VM that comes back is not announced with
 * what it used here before it left (an address it may since have given
 * up); dp_announce() serves that request before an announce request.  No lock, no atomic read-modify-
 * write: the main loop only reads the table's counts (query-migration) and
 * the port's counters.
 *
 * A round is at most 1 + VS_LEARN_MAX_L2 + VS_LEARN_MAX_IP frames, sent in
 * bursts on uplink queue 0; a frame the pool or the uplink cannot take is
 * counted (no-memory, uplink-full) and the round goes on.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "announce.h"
#include "dataplane.h"
#include "dp_priv.h"
#include "learn.h"
#include "vm.h"

#define DP_ANNOUNCE_MAX	(1 + VS_LEARN_MAX_L2 + VS_LEARN_MAX_IP)

/* The lcore's clock in milliseconds: the table's ageing */
static uint64_t dp_now_ms(void)
{
	uint64_t hz = rte_get_tsc_hz() / 1000;

	return vs_dp_ops->tsc() / (hz ? hz : 1);
}

static void dp_learn_count(struct vs_vm *vm, const struct vs_learn_delta *d)
{
	if (d->learned)
		VS_STAT_ADD(vm->stats.addrs_learned, d->learned);
	if (d->evicted)
		VS_STAT_ADD(vm->stats.addrs_evicted, d->evicted);
	if (d->aged)
		VS_STAT_ADD(vm->stats.addrs_aged, d->aged);
}

void dp_learn(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	struct vs_learn_delta d = { 0 };
	uint64_t now;
	uint16_t i;

	if (vm->cfg->announce != VS_ANNOUNCE_ALL || !n)
		return;
	now = dp_now_ms();
	for (i = 0; i < n; i++)
		vs_learn_frame(&vm->dp.learn, rte_pktmbuf_mtod(pkts[i], const uint8_t *),
			       rte_pktmbuf_data_len(pkts[i]), now, &d);
	dp_learn_count(vm, &d);
}

bool dp_learned_own(const struct vs_vm *vm, const struct rte_mbuf *m)
{
	if (vm->cfg->announce != VS_ANNOUNCE_ALL || rte_pktmbuf_data_len(m) < 12)
		return false;
	return vs_learn_has_mac(&vm->dp.learn, rte_pktmbuf_mtod(m, const uint8_t *) + 6,
				dp_now_ms());
}

/* One frame of the round into @pkts[*n] (or counted as no-memory) */
static void dp_announce_add(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int *n,
			    const struct vs_learn_ip *ip, const uint8_t *mac, uint16_t vlan)
{
	struct rte_mbuf *m;
	uint8_t *buf;
	size_t len;

	if (*n >= DP_ANNOUNCE_MAX)
		return;
	m = rte_pktmbuf_alloc(vm->pool);
	if (!m) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_NO_MEMORY], 1);
		return;
	}
	buf = rte_pktmbuf_mtod(m, uint8_t *);
	if (!ip)
		len = vs_announce_rarp(buf, rte_pktmbuf_tailroom(m), mac, vlan);
	else if (ip->family == VS_LEARN_IPV4)
		len = vs_announce_garp(buf, rte_pktmbuf_tailroom(m), ip->mac, ip->vlan, ip->addr);
	else
		len = vs_announce_na(buf, rte_pktmbuf_tailroom(m), ip->mac, ip->vlan, ip->addr,
				     ip->na_flags);
	if (!len) {	/* an mbuf of less than 90 bytes: not a pool we create */
		dp_drop(vm, m, VS_DROP_NO_MEMORY);
		return;
	}
	m->data_len = m->pkt_len = (uint32_t)len;
	pkts[(*n)++] = m;
}

void dp_announce(struct vs_vm *vm)
{
	/*
	 * announce_req first: the main loop bumps learn_forget_req before
	 * announce_req (release), so an announce request this poll sees
	 * comes with every forget request made before it, and the table is
	 * emptied before that round.  Loaded the other way round, a forget
	 * and an announce made between the two loads served the announce
	 * with the table not yet forgotten.
	 */
	uint32_t req = __atomic_load_n(&vm->dp.hs.announce_req, __ATOMIC_ACQUIRE);
	uint32_t forget = __atomic_load_n(&vm->dp.hs.learn_forget_req, __ATOMIC_ACQUIRE);
	struct rte_mbuf *pkts[DP_ANNOUNCE_MAX];
	struct vs_learn *t = &vm->dp.learn;
	struct vs_learn_delta d = { 0 };
	unsigned int n = 0, sent = 0, i;

	if (forget != vm->dp.learn_forget_done) {
		vm->dp.learn_forget_done = forget;
		vs_learn_forget(t);
	}
	if (req == vm->dp.announce_done)
		return;
	vm->dp.announce_done = req;
	if (vm->cfg->announce == VS_ANNOUNCE_OFF)
		return;
	dp_announce_add(vm, pkts, &n, NULL, vm->cfg->mac, VS_LEARN_UNTAGGED);
	if (vm->cfg->announce == VS_ANNOUNCE_ALL) {
		vs_learn_expire(t, dp_now_ms(), &d);
		dp_learn_count(vm, &d);
		for (i = 0; i < t->n_l2; i++)
			if (t->l2[i].vlan != VS_LEARN_UNTAGGED ||
			    memcmp(t->l2[i].mac, vm->cfg->mac, 6))
				dp_announce_add(vm, pkts, &n, NULL, t->l2[i].mac, t->l2[i].vlan);
		for (i = 0; i < t->n_ip; i++)	/* an NA only with known flags (learn.h) */
			if (t->ip[i].family == VS_LEARN_IPV4 || t->ip[i].na_flags_known)
				dp_announce_add(vm, pkts, &n, &t->ip[i], NULL, 0);
	}
	while (sent < n) {
		uint16_t burst = (uint16_t)RTE_MIN(n - sent, (unsigned int)VS_DP_BURST);
		uint16_t took = vs_dp_ops->uplink_tx(vm->eth_port, 0, &pkts[sent], burst);

		VS_STAT_ADD(vm->stats.announce_frames, took);
		sent += took;
		if (took < burst)
			break;
	}
	for (i = sent; i < n; i++)
		dp_drop(vm, pkts[i], VS_DROP_UPLINK_FULL);
}
