/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_postcopy.c - a post-copy device's guard, as DPDK's vhost sees it
 *
 * Theory of operation: see dp_postcopy.h and postcopy_guard.h.
 *
 * Memory ordering: the vhost thread fills a device's slot (the guard, the
 * port, on) before new_device publishes the vid with a release store, and
 * the lcores load the vid with acquire before they call a hook with it;
 * it empties the slot only after destroy_device quiesced them.  `on` goes
 * false at POSTCOPY_END while lcores run (a relaxed flag: a check more or
 * less is harmless).  notify_off is shared: the vhost thread sets bits
 * before the vid is published, the lcore clears them.
 */
#include <stdlib.h>

#include <linux/virtio_net.h>
#include <rte_mbuf.h>
#include <rte_vhost.h>

#include "dp_postcopy.h"
#include "log.h"
#include "postcopy_guard.h"
#include "stats.h"
#include "util.h"
#include "vm.h"

/* frames one RX check looks at (a burst is 32) */
#define DP_PCG_MAX_FRAMES	64

struct dp_pcg_dev {
	struct vs_pcg *g;
	struct vs_vm *vm;
	bool listening;		/* DPDK accepted POSTCOPY_LISTEN (vhost thread) */
	bool on;
	uint32_t notify_off;	/* vrings whose notifications are still on */
	uint64_t waits;		/* checks that held frames or chains back */
	uint64_t waits_seen, requests_seen;
};

static struct dp_pcg_dev dp_pcg_devs[RTE_MAX_VHOST_DEVICE];

static struct dp_pcg_dev *dp_pcg_dev(int vid)
{
	struct dp_pcg_dev *d;

	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE)
		return NULL;
	d = &dp_pcg_devs[vid];
	return d->g && __atomic_load_n(&d->on, __ATOMIC_RELAXED) ? d : NULL;
}

void vs_dp_pcg_device_up(struct vs_vm *vm, int vid)
{
	struct vs_pcg_region regions[VS_PCG_MAX_REGIONS];
	struct rte_vhost_memory *mem = NULL;
	struct dp_pcg_dev *d;
	unsigned int i;

	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE || !dp_pcg_devs[vid].listening)
		return;
	d = &dp_pcg_devs[vid];
	vs_pcg_free(d->g);	/* a device that came up twice */
	d->g = NULL;
	if (rte_vhost_get_mem_table(vid, &mem) || !mem) {
		vs_log(MAIN, WARNING, vm->cfg->name,
		       "post-copy: no memory table, the worker is not guarded from missing pages");
		return;
	}
	if (mem->nregions > VS_PCG_MAX_REGIONS) {
		vs_log(MAIN, WARNING, vm->cfg->name,
		       "post-copy: %u memory regions (at most %u guarded): the worker is not "
		       "guarded from missing pages", mem->nregions, VS_PCG_MAX_REGIONS);
		free(mem);
		return;
	}
	for (i = 0; i < mem->nregions; i++) {
		regions[i].gpa = mem->regions[i].guest_phys_addr;
		regions[i].size = mem->regions[i].size;
		regions[i].hva = mem->regions[i].host_user_addr;
	}
	d->g = vs_pcg_new(regions, mem->nregions, true);
	free(mem);
	if (!d->g) {
		vs_log(MAIN, WARNING, vm->cfg->name,
		       "post-copy: cannot allocate the guard: the worker is not guarded");
		return;
	}
	d->vm = vm;
	d->notify_off = 0;
	d->waits = d->waits_seen = d->requests_seen = 0;
	__atomic_store_n(&d->on, true, __ATOMIC_RELAXED);
	vs_log(MAIN, INFO, vm->cfg->name,
	       "post-copy: the worker touches only resident guest pages until POSTCOPY_END "
	       "(%u regions)", i);
}

void vs_dp_pcg_device_down(int vid)
{
	struct dp_pcg_dev *d;

	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE)
		return;
	d = &dp_pcg_devs[vid];
	__atomic_store_n(&d->on, false, __ATOMIC_RELAXED);
	vs_pcg_free(d->g);
	d->g = NULL;
	d->vm = NULL;
}

void vs_dp_pcg_listening(int vid, bool listening)
{
	if (vid >= 0 && vid < RTE_MAX_VHOST_DEVICE)
		dp_pcg_devs[vid].listening = listening;
}

/*
 * POSTCOPY_END (DPDK takes no vring lock for it): every page is here.  The
 * notifications new_device left on go off now: a ring the lcore never
 * checked (an RX ring no frame came for) would keep them on otherwise.
 */
void vs_dp_pcg_end(int vid)
{
	struct dp_pcg_dev *d;
	uint32_t pending;
	unsigned int vring;

	if (vid < 0 || vid >= RTE_MAX_VHOST_DEVICE)
		return;
	d = &dp_pcg_devs[vid];
	d->listening = false;
	__atomic_store_n(&d->on, false, __ATOMIC_RELAXED);
	if (!d->g)
		return;
	pending = __atomic_exchange_n(&d->notify_off, 0, __ATOMIC_RELAXED);
	for (vring = 0; vring < 32; vring++)
		if (pending & (1u << vring))
			rte_vhost_enable_guest_notification(vid, (uint16_t)vring, 0);
}

static bool dp_pcg_vring(int vid, uint16_t vring, struct vs_pcg_vring *r)
{
	struct rte_vhost_vring vr;
	uint16_t last_used;

	if (rte_vhost_get_vhost_vring(vid, vring, &vr) ||
	    rte_vhost_get_vring_base(vid, vring, &r->last_avail, &last_used))
		return false;
	r->desc = vr.desc;
	r->avail = vr.avail;
	r->used = vr.used;
	r->size = (uint16_t)vr.size;
	return r->size && !(r->size & (r->size - 1));
}

bool vs_dp_pcg_vring_resident_now(int vid, uint16_t vring)
{
	struct dp_pcg_dev *d = dp_pcg_dev(vid);
	struct vs_pcg_vring r;

	if (!d)
		return true;
	return dp_pcg_vring(vid, vring, &r) && vs_pcg_vring_resident(d->g, &r, false);
}

void vs_dp_pcg_defer_notify_off(int vid, uint16_t vring)
{
	struct dp_pcg_dev *d = dp_pcg_dev(vid);

	if (d && vring < 32)
		__atomic_fetch_or(&d->notify_off, 1u << vring, __ATOMIC_RELAXED);
}

/* the guard's counters, into the port's stats (the lcore) */
static void dp_pcg_account(struct dp_pcg_dev *d)
{
	if (d->waits != d->waits_seen) {
		VS_STAT_ADD(d->vm->stats.postcopy_waits, d->waits - d->waits_seen);
		d->waits_seen = d->waits;
	}
	if (d->g->page_requests != d->requests_seen) {
		VS_STAT_ADD(d->vm->stats.postcopy_page_requests,
			    d->g->page_requests - d->requests_seen);
		d->requests_seen = d->g->page_requests;
	}
}

/* the lcore: the ring's own pages; the notifications new_device left on */
static bool dp_pcg_ring(struct dp_pcg_dev *d, int vid, uint16_t vring, struct vs_pcg_vring *r)
{
	bool ok = dp_pcg_vring(vid, vring, r) && vs_pcg_vring_resident(d->g, r, true);

	if (ok && vring < 32 &&
	    (__atomic_load_n(&d->notify_off, __ATOMIC_RELAXED) & (1u << vring))) {
		__atomic_fetch_and(&d->notify_off, ~(1u << vring), __ATOMIC_RELAXED);
		rte_vhost_enable_guest_notification(vid, vring, 0);
	}
	return ok;
}

bool vs_dp_pcg_ring_ok(int vid, uint16_t vring)
{
	struct dp_pcg_dev *d = dp_pcg_dev(vid);
	struct vs_pcg_vring r;
	bool ok;

	if (!d)
		return true;
	ok = dp_pcg_ring(d, vid, vring, &r);
	dp_pcg_account(d);
	return ok;
}

uint16_t vs_dp_pcg_rx_allow(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	struct dp_pcg_dev *d = dp_pcg_dev(vid);
	uint32_t frame_len[DP_PCG_MAX_FRAMES];
	uint64_t features = 0;
	struct vs_pcg_vring r;
	uint16_t i, fit = 0;

	if (!d)
		return n;
	if (n > DP_PCG_MAX_FRAMES)
		n = DP_PCG_MAX_FRAMES;
	if (n && dp_pcg_ring(d, vid, vring, &r)) {
		rte_vhost_get_negotiated_features(vid, &features);
		for (i = 0; i < n; i++)
			frame_len[i] = rte_pktmbuf_pkt_len(pkts[i]);
		/* the header DPDK writes: 12 bytes with mergeable buffers or
		 * virtio 1.0, else 10; 12 is never less than it */
		fit = vs_pcg_rx_frames_ready(d->g, &r, frame_len, n,
					     features & (1ULL << VIRTIO_NET_F_MRG_RXBUF),
					     sizeof(struct virtio_net_hdr_mrg_rxbuf));
	}
	if (fit < n)
		d->waits++;
	dp_pcg_account(d);
	return fit;
}

uint16_t vs_dp_pcg_tx_allow(int vid, uint16_t vring, uint16_t n)
{
	struct dp_pcg_dev *d = dp_pcg_dev(vid);
	struct vs_pcg_vring r;
	uint16_t k = 0, want = 0;

	if (!d)
		return n;
	if (dp_pcg_ring(d, vid, vring, &r)) {
		want = vs_pcg_avail_entries(&r);
		if (want > n)
			want = n;
		k = vs_pcg_chains_ready(d->g, &r, want);
	} else {
		want = 1;	/* the ring itself is missing */
	}
	if (k < want)
		d->waits++;
	dp_pcg_account(d);
	return k;
}
