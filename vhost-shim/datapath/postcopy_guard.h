/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * postcopy_guard.h - keep a post-copy guest's missing pages off the worker
 *
 * Theory of operation.  In post-copy the destination VM runs while its
 * RAM is still on the source.  DPDK registers the guest's memory with a
 * userfaultfd (POSTCOPY_LISTEN, SET_MEM_TABLE), so the first touch of a
 * page that has not arrived blocks the touching thread until QEMU fetched
 * it from the source: for a millisecond on this host, for a round trip
 * across a network, and for good if the source died (a failed post-copy).
 * Every touch of guest memory the shim makes goes through DPDK on the
 * port's worker lcore (the RX enqueue and the replay, the TX dequeue, the
 * ring reads of the bound and the stall check), and that worker polls
 * other VMs' ports too: before this guard, one failed post-copy stopped
 * every VM of its worker for good (docs/migration.md, "Post-copy fails").
 *
 * The guard answers one question before each of those touches, without
 * touching: are the pages DPDK is about to read or write resident?  A
 * page of a shared guest mapping that has not arrived is not in the
 * memfd's page cache, and mincore() says so without faulting (it reads
 * the page cache, not the page tables).  So, per split vring (a packed
 * ring is never offered):
 *  - the ring's own pages (descriptor table, avail ring, used ring) are
 *    checked first; nothing else is read before they are resident;
 *  - then the chains DPDK would take next, in avail order from its
 *    last_avail_idx: each descriptor's buffer, and an indirect table and
 *    its buffers.  Only the leading chains whose every page is resident
 *    are "ready"; the caller offers DPDK no more frames than those chains
 *    hold (RX: by the same reservation rule DPDK uses, one chain per frame
 *    or, with mergeable buffers, as many as the frame needs; TX: one chain
 *    per frame).  The frames not offered wait as behind a full ring: in
 *    order, in the buffer, within its caps.
 * Each missing page found is handed to the guard's fetchers: a few
 * threads of their own that fault the page in through the same
 * (registered) mapping with madvise(MADV_POPULATE_READ), so QEMU is asked
 * for it at once instead of waiting for its background stream.  A fetcher
 * blocks in the kernel, not the worker.  In a failed post-copy it blocks
 * until the userfaultfd is gone: QEMU holds a copy (DPDK sent it at
 * ADVISE), so until the lost VM's QEMU exits and DPDK, destroying the
 * device, unmaps the memory and closes its own; the fetcher then gets an
 * error: MADV_POPULATE_READ reports a range that has gone instead of
 * raising SIGSEGV, which a plain read would.  Fetchers are never joined:
 * the guard's owner drops its reference and a fetcher frees the shared
 * queue when it leaves last.
 *
 * The walk is DPDK 22.11's (fill_vec_buf_split(), map_one_desc(),
 * reserve_avail_buf_split()): the same refusals, so that what the guard
 * calls ready is exactly what DPDK touches; and it is bounded: at most
 * VS_PCG_PAGE_BUDGET pages per check, resident or not, so a guest's
 * 4 GiB descriptor costs the worker no more than a legitimate ring.
 *
 * On hugetlbfs-backed guests mincore() reports this process's huge page
 * mappings, not the page cache: a page QEMU placed reads as missing
 * until a fetcher maps it (immediately, without QEMU).  Safe, slower, and
 * the counters count those pages too.
 *
 * Residency is monotonic while the guard is on (QEMU does not discard
 * the destination's pages after LISTEN; it inhibits the balloon), so
 * resident pages are remembered in a small direct-mapped cache and the
 * common case, a guest reusing its RX buffers, costs a few compares.
 *
 * What this does not cover: a guest that rewrites a descriptor between
 * the check and DPDK's read can point DPDK at a page that is missing
 * (the worker then waits for it, as before the guard: a hostile guest in
 * post-copy can stall its worker for as long as a page takes); a memory
 * table that changes while post-copy runs (memory hotplug) makes the
 * translations stale, so the port is held back (mincore() fails on an
 * unmapped range) until POSTCOPY_END switches the guard off.
 *
 * Threads: the check and the cache belong to the port's worker lcore,
 * or to DPDK's vhost thread while no lcore can use the device (before
 * new_device publishes its vid, after destroy_device quiesced the
 * lcores); with @cache false any thread may check (no cache, no fetch).  Requests reach the fetchers through a mutex the worker only
 * tries (pthread_mutex_trylock): it never waits for a fetcher.
 */
#ifndef VS_POSTCOPY_GUARD_H
#define VS_POSTCOPY_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_ring.h>

/* guest memory regions the guard translates with (DPDK's, copied) */
#define VS_PCG_MAX_REGIONS	8

struct vs_pcg_region {
	uint64_t gpa;		/* guest physical start */
	uint64_t size;
	uint64_t hva;		/* where this process has it mapped */
};

/**
 * struct vs_pcg_vring - one split vring as DPDK translated it
 * @desc, @avail, @used:	host addresses of its three parts
 * @size:			entries (a power of two)
 * @last_avail:			DPDK's next entry to take
 */
struct vs_pcg_vring {
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t size;
	uint16_t last_avail;
};

/* how many pages a check found missing before it stops looking */
#define VS_PCG_MAX_MISSING	16
/* the residency cache's slots (a power of two) */
#define VS_PCG_CACHE_SLOTS	1024
/* fetcher threads per guard */
#define VS_PCG_FETCHERS		4
/* pages one check may look at (cache hits included): a legitimate RX
 * check of 256 chains of jumbo frames needs about 1024 */
#define VS_PCG_PAGE_BUDGET	1024

struct vs_pcg_fetchq;

/**
 * struct vs_pcg - a post-copy device's guard (one per device, while on)
 * @regions, @nregions:	guest memory, for translating descriptors
 * @cache:		page addresses known resident (0: empty slot)
 * @fetchq:		the fetchers' queue (shared with them)
 * @page_requests:	missing pages handed to the fetchers (lcore)
 */
struct vs_pcg {
	struct vs_pcg_region regions[VS_PCG_MAX_REGIONS];
	unsigned int nregions;
	uintptr_t cache[VS_PCG_CACHE_SLOTS];
	struct vs_pcg_fetchq *fetchq;
	uint64_t page_requests;
};

/**
 * vs_pcg_new() - a guard over @nregions regions, with its fetchers
 * @fetch:	start fetcher threads (false: unit tests of the check alone)
 *
 * Return: the guard, or NULL (too many regions, or no memory)
 */
struct vs_pcg *vs_pcg_new(const struct vs_pcg_region *regions, unsigned int nregions,
			  bool fetch);

/* vs_pcg_free() - drop the guard; blocked fetchers are left to leave */
void vs_pcg_free(struct vs_pcg *g);

/**
 * vs_pcg_translate() - host address of guest physical @gpa
 * @len:	in: bytes wanted; out: bytes contiguous from there (<= in)
 *
 * Return: 0 when @gpa is in no region
 */
uintptr_t vs_pcg_translate(const struct vs_pcg *g, uint64_t gpa, uint64_t *len);

/**
 * vs_pcg_range_resident() - are the pages of [@va, @va + @len) resident?
 * @cache:	use and fill the residency cache, and ask the fetchers for
 *		the missing pages (the worker); false on any other thread
 */
bool vs_pcg_range_resident(struct vs_pcg *g, uintptr_t va, uint64_t len, bool cache);

/**
 * vs_pcg_vring_resident() - are @r's descriptor table, avail and used
 * rings resident (nothing of the ring is read before this is true)
 */
bool vs_pcg_vring_resident(struct vs_pcg *g, const struct vs_pcg_vring *r, bool cache);

/**
 * vs_pcg_avail_entries() - the entries DPDK may take from @r now (what
 * the guest made available, at most the ring's size)
 */
uint16_t vs_pcg_avail_entries(const struct vs_pcg_vring *r);

/**
 * vs_pcg_chains_ready() - the leading available chains of @r that DPDK
 * can take without touching a missing page (the TX dequeue: it reads
 * every buffer of a chain)
 * @max:	look at no more than this many
 *
 * @r must be resident (vs_pcg_vring_resident()).  Chains are read as
 * DPDK 22.11's fill_vec_buf_split() reads them; one DPDK refuses (a loop,
 * a descriptor out of its table, an indirect table larger than the ring,
 * memory in no region, more than 256 pieces) ends the count and is
 * counted itself: DPDK stops there without touching its buffers, and the
 * caller's stall accounting sees it.  At most VS_PCG_PAGE_BUDGET pages
 * are looked at; a chain beyond that is not ready.
 *
 * Return: the number of leading ready chains (0..@max)
 */
uint16_t vs_pcg_chains_ready(struct vs_pcg *g, const struct vs_pcg_vring *r, uint16_t max);

/**
 * vs_pcg_rx_frames_ready() - how many of @n frames (lengths @frame_len)
 * the RX enqueue can take from @r without DPDK touching a missing page
 * @mergeable:	VIRTIO_NET_F_MRG_RXBUF: a frame takes chains until their
 *		lengths cover it and its header; else one chain per frame
 * @hdr:	the virtio-net header's size
 *
 * Chains are reserved as DPDK reserves them, and only the bytes DPDK
 * writes into them (the frame and its header) are checked; the walk
 * stops at the first frame that does not fit in ready chains.  A chain
 * DPDK refuses (or one too small without mergeable buffers) ends the
 * count with its frame included: DPDK stops at that frame, writing
 * nothing into it.
 */
uint16_t vs_pcg_rx_frames_ready(struct vs_pcg *g, const struct vs_pcg_vring *r,
				const uint32_t *frame_len, uint16_t n, bool mergeable,
				uint32_t hdr);

/* vs_pcg_fetches_pending() - requests the fetchers have not taken yet
 * (tests) */
unsigned int vs_pcg_fetches_pending(struct vs_pcg *g);

#endif /* VS_POSTCOPY_GUARD_H */
