/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * postcopy_guard.c - residency checks of a post-copy guest's rings and
 * buffers, and the fetchers that fault missing pages in
 *
 * Theory of operation: see postcopy_guard.h.  Nothing here dereferences
 * guest memory before mincore() said its page is resident; the fetchers
 * only madvise() it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "postcopy_guard.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22	/* Linux 5.14 */
#endif

#define PCG_PAGE	4096u
#define PCG_PAGE_MASK	(~(uintptr_t)(PCG_PAGE - 1))
/* pages one mincore() call looks at */
#define PCG_VEC		64
/* DPDK's BUF_VECTOR_MAX: a chain of more buffer pieces is refused */
#define PCG_BUF_VECTOR_MAX	256
/* requests the fetchers' queue holds; beyond it a request waits for the
 * next check to find the page missing again */
#define PCG_QUEUE	64

/*
 * The fetchers' queue.  Shared by the guard (through vs_pcg) and its
 * fetcher threads; whoever drops the last reference frees it.
 */
struct vs_pcg_fetchq {
	pthread_mutex_t lock;
	pthread_cond_t more;
	uintptr_t page[PCG_QUEUE];
	unsigned int head, n;
	uintptr_t busy[VS_PCG_FETCHERS];	/* the page each fetcher is on */
	unsigned int started;
	bool stop;
	unsigned int refs;
};

static void fetchq_put(struct vs_pcg_fetchq *q)
{
	bool last;

	pthread_mutex_lock(&q->lock);
	last = --q->refs == 0;
	pthread_mutex_unlock(&q->lock);
	if (last) {
		pthread_cond_destroy(&q->more);
		pthread_mutex_destroy(&q->lock);
		free(q);
	}
}

/*
 * Fault @page in through this process's mapping of it, blocking this
 * thread until it arrived.  MADV_POPULATE_READ goes through the page
 * fault path (the userfaultfd, so QEMU fetches the page) and returns an
 * error for a range that is not mapped any more; kernels before 5.14
 * lack it (EINVAL), and process_vm_readv() of our own memory takes the
 * same path with the same property (EFAULT, no signal).
 */
static void fetch_page(uintptr_t page)
{
	unsigned char byte;
	struct iovec local = { .iov_base = &byte, .iov_len = 1 };
	struct iovec remote = { .iov_base = (void *)page, .iov_len = 1 };

	if (madvise((void *)page, PCG_PAGE, MADV_POPULATE_READ) == 0 || errno != EINVAL)
		return;
	(void)process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

static void *fetcher_main(void *arg)
{
	struct vs_pcg_fetchq *q = arg;
	unsigned int me;

	pthread_mutex_lock(&q->lock);
	me = q->started++;
	for (;;) {
		uintptr_t page;

		while (!q->n && !q->stop)
			pthread_cond_wait(&q->more, &q->lock);
		if (q->stop)
			break;
		page = q->page[q->head];
		q->head = (q->head + 1) % PCG_QUEUE;
		q->n--;
		q->busy[me] = page;
		pthread_mutex_unlock(&q->lock);
		fetch_page(page);	/* may block for good: a failed post-copy */
		pthread_mutex_lock(&q->lock);
		q->busy[me] = 0;
	}
	pthread_mutex_unlock(&q->lock);
	fetchq_put(q);
	return NULL;
}

/* the worker's request: never waits for the lock (a fetcher holds it
 * only to take a page); a request lost here is made again by the next
 * check that finds the page missing */
static void fetch_request(struct vs_pcg *g, uintptr_t page)
{
	struct vs_pcg_fetchq *q = g->fetchq;
	unsigned int i;

	if (!q || pthread_mutex_trylock(&q->lock))
		return;
	/* asked already: queued, or a fetcher is on it */
	for (i = 0; i < VS_PCG_FETCHERS; i++)
		if (q->busy[i] == page)
			goto out;
	for (i = 0; i < q->n; i++)
		if (q->page[(q->head + i) % PCG_QUEUE] == page)
			break;
	if (i == q->n && q->n < PCG_QUEUE) {
		q->page[(q->head + q->n) % PCG_QUEUE] = page;
		q->n++;
		g->page_requests++;
		pthread_cond_signal(&q->more);
	}
out:
	pthread_mutex_unlock(&q->lock);
}

unsigned int vs_pcg_fetches_pending(struct vs_pcg *g)
{
	unsigned int n;

	if (!g->fetchq)
		return 0;
	pthread_mutex_lock(&g->fetchq->lock);
	n = g->fetchq->n;
	pthread_mutex_unlock(&g->fetchq->lock);
	return n;
}

static struct vs_pcg_fetchq *fetchq_start(void)
{
	struct vs_pcg_fetchq *q = calloc(1, sizeof(*q));
	pthread_attr_t attr;
	unsigned int i;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	q->refs = 1;			/* the guard's */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < VS_PCG_FETCHERS; i++) {
		pthread_t t;

		pthread_mutex_lock(&q->lock);
		q->refs++;
		pthread_mutex_unlock(&q->lock);
		if (pthread_create(&t, &attr, fetcher_main, q)) {
			pthread_mutex_lock(&q->lock);
			q->refs--;
			pthread_mutex_unlock(&q->lock);
			break;
		}
		pthread_setname_np(t, "vs-pc-fetch");
	}
	pthread_attr_destroy(&attr);
	if (!i) {			/* no thread: the check still works */
		fetchq_put(q);
		return NULL;
	}
	return q;
}

struct vs_pcg *vs_pcg_new(const struct vs_pcg_region *regions, unsigned int nregions,
			  bool fetch)
{
	struct vs_pcg *g;

	if (nregions > VS_PCG_MAX_REGIONS)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	memcpy(g->regions, regions, nregions * sizeof(*regions));
	g->nregions = nregions;
	if (fetch)
		g->fetchq = fetchq_start();
	return g;
}

void vs_pcg_free(struct vs_pcg *g)
{
	if (!g)
		return;
	if (g->fetchq) {
		pthread_mutex_lock(&g->fetchq->lock);
		g->fetchq->stop = true;
		pthread_cond_broadcast(&g->fetchq->more);
		pthread_mutex_unlock(&g->fetchq->lock);
		fetchq_put(g->fetchq);
	}
	free(g);
}

uintptr_t vs_pcg_translate(const struct vs_pcg *g, uint64_t gpa, uint64_t *len)
{
	unsigned int i;

	for (i = 0; i < g->nregions; i++) {
		const struct vs_pcg_region *r = &g->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size) {
			uint64_t room = r->size - (gpa - r->gpa);

			if (*len > room)
				*len = room;
			return (uintptr_t)(r->hva + (gpa - r->gpa));
		}
	}
	return 0;
}

static unsigned int cache_slot(uintptr_t page)
{
	return (unsigned int)((page / PCG_PAGE) * 0x9E3779B1u) & (VS_PCG_CACHE_SLOTS - 1);
}

bool vs_pcg_range_resident(struct vs_pcg *g, uintptr_t va, uint64_t len, bool cache)
{
	uintptr_t page = va & PCG_PAGE_MASK, end;
	unsigned int missing = 0;
	bool all = true;

	if (!len)
		return true;
	if (va + len < va)
		return false;
	end = va + len;
	while (page < end) {
		unsigned char vec[PCG_VEC];
		unsigned int i, npages = 0;

		/* the run of pages not known resident, starting here */
		if (cache && g->cache[cache_slot(page)] == page) {
			page += PCG_PAGE;
			continue;
		}
		while (npages < PCG_VEC && page + (uintptr_t)npages * PCG_PAGE < end)
			npages++;
		if (mincore((void *)page, (size_t)npages * PCG_PAGE, vec))
			return false;	/* not mapped (a stale table): never ready */
		for (i = 0; i < npages; i++) {
			uintptr_t p = page + (uintptr_t)i * PCG_PAGE;

			if (vec[i] & 1) {
				if (cache)
					g->cache[cache_slot(p)] = p;
				continue;
			}
			all = false;
			if (!cache)
				return false;
			fetch_request(g, p);
			if (++missing >= VS_PCG_MAX_MISSING)
				return false;
		}
		page += (uintptr_t)npages * PCG_PAGE;
	}
	return all;
}

bool vs_pcg_vring_resident(struct vs_pcg *g, const struct vs_pcg_vring *r, bool cache)
{
	bool ok;

	if (!r->desc || !r->avail || !r->used || !r->size)
		return false;
	/* all three looked at, so that one check asks for every missing page */
	ok = vs_pcg_range_resident(g, (uintptr_t)r->desc, (uint64_t)r->size * sizeof(*r->desc),
				   cache);
	/* flags, idx, ring[size], used_event */
	ok = vs_pcg_range_resident(g, (uintptr_t)r->avail, 4 + 2 * (uint64_t)r->size + 2, cache) &&
	     ok;
	/* flags, idx, ring[size], avail_event */
	ok = vs_pcg_range_resident(g, (uintptr_t)r->used,
				   4 + sizeof(struct vring_used_elem) * (uint64_t)r->size + 2,
				   cache) && ok;
	return ok;
}

/*
 * One walk's state: the pages it may still look at (cache hits count:
 * a resident 4 GiB descriptor must not cost a million compares), and the
 * bytes of the current chain DPDK may touch that are still to check.
 */
struct pcg_walk {
	unsigned int budget;
	uint64_t chain_left;
};

/* [va, va + len) resident, within the walk's budget (which it charges) */
static bool walk_resident(struct vs_pcg *g, struct pcg_walk *w, uintptr_t va, uint64_t len)
{
	uint64_t pages;

	if (!len)
		return true;
	pages = ((va + len - 1) / PCG_PAGE) - (va / PCG_PAGE) + 1;
	if (pages > w->budget) {
		w->budget = 0;
		return false;
	}
	w->budget -= (unsigned int)pages;
	return vs_pcg_range_resident(g, va, len, true);
}

/*
 * One descriptor's buffer, as DPDK's map_one_desc() splits it (a vector
 * per region it crosses, at most BUF_VECTOR_MAX per chain).  Only the
 * first chain_left bytes of the chain are checked: what DPDK may write
 * of a frame (RX), or all of it (TX).
 */
static bool buffer_resident(struct vs_pcg *g, struct pcg_walk *w, uint64_t gpa, uint64_t len,
			    unsigned int *vecs, bool *bad)
{
	while (len) {
		uint64_t part = len;
		uintptr_t va = vs_pcg_translate(g, gpa, &part);

		if (!va || ++*vecs > PCG_BUF_VECTOR_MAX) {
			*bad = true;	/* DPDK refuses the chain, touching no buffer */
			return true;
		}
		if (w->chain_left) {
			uint64_t check = part < w->chain_left ? part : w->chain_left;

			if (!walk_resident(g, w, va, check))
				return false;
			w->chain_left -= check;
		}
		gpa += part;
		len -= part;
	}
	return true;
}

/*
 * One chain from avail entry @at, as DPDK 22.11's fill_vec_buf_split()
 * reads it: the head must be in the table; only the head may be
 * INDIRECT (its table of len / 16 entries, at most the ring's size, read
 * whole: it must be resident and, here, contiguous); at most as many
 * descriptors as the table has, each next inside it; the length summed in
 * 32 bits as DPDK sums it.  *bad is set where DPDK refuses the chain.
 *
 * Return: false when a page DPDK would touch is missing (or the walk's
 * budget ran out)
 */
static bool chain_ready(struct vs_pcg *g, struct pcg_walk *w, const struct vs_pcg_vring *r,
			uint16_t at, uint64_t cap, uint32_t *len, bool *bad)
{
	const struct vring_desc *table = r->desc;
	uint32_t nr = r->size, cnt = 0, sum = 0;
	uint16_t idx = r->avail->ring[at & (r->size - 1)];
	unsigned int vecs = 0;

	w->chain_left = cap;
	if (idx >= r->size) {
		*bad = true;
		return true;
	}
	if (table[idx].flags & VRING_DESC_F_INDIRECT) {
		uint64_t dlen = table[idx].len, part = dlen;
		uintptr_t va;

		nr = (uint32_t)(dlen / sizeof(struct vring_desc));
		if (nr > r->size || !(va = vs_pcg_translate(g, table[idx].addr, &part))) {
			*bad = true;
			return true;
		}
		/* a table DPDK would copy from several regions: not followed
		 * here; held back until POSTCOPY_END (no guest's allocator
		 * makes one) */
		if (part < dlen || !walk_resident(g, w, va, dlen))
			return false;
		table = (const struct vring_desc *)va;
		idx = 0;
	}
	for (;;) {
		struct vring_desc d;

		if (idx >= nr || cnt++ >= nr) {
			*bad = true;
			return true;
		}
		d = table[idx];
		sum += d.len;
		if (!buffer_resident(g, w, d.addr, d.len, &vecs, bad))
			return false;
		if (*bad)
			return true;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	*len = sum;
	return true;
}

/* more available than the ring holds is the guest's error; DPDK refuses
 * it too */
uint16_t vs_pcg_avail_entries(const struct vs_pcg_vring *r)
{
	uint16_t n = (uint16_t)(__atomic_load_n(&r->avail->idx, __ATOMIC_ACQUIRE) - r->last_avail);

	return n > r->size ? r->size : n;
}

uint16_t vs_pcg_chains_ready(struct vs_pcg *g, const struct vs_pcg_vring *r, uint16_t max)
{
	struct pcg_walk w = { .budget = VS_PCG_PAGE_BUDGET };
	uint16_t n = vs_pcg_avail_entries(r), i;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		uint32_t len = 0;
		bool bad = false;

		if (!chain_ready(g, &w, r, (uint16_t)(r->last_avail + i), UINT64_MAX, &len, &bad))
			break;
		if (bad)
			return i + 1;
	}
	return i;
}

uint16_t vs_pcg_rx_frames_ready(struct vs_pcg *g, const struct vs_pcg_vring *r,
				const uint32_t *frame_len, uint16_t n, bool mergeable,
				uint32_t hdr)
{
	struct pcg_walk w = { .budget = VS_PCG_PAGE_BUDGET };
	uint16_t avail = vs_pcg_avail_entries(r), c = 0, f;

	for (f = 0; f < n; f++) {
		uint64_t need = (uint64_t)frame_len[f] + hdr;
		uint32_t got = 0;

		/* DPDK's reservation: chains until they cover the frame and
		 * its header (one chain without mergeable buffers); it writes
		 * no more than that into them */
		do {
			uint32_t len = 0;
			bool bad = false;

			if (c == avail ||
			    !chain_ready(g, &w, r, (uint16_t)(r->last_avail + c), need - got, &len,
					 &bad))
				return f;
			c++;
			if (bad)
				return f + 1;	/* DPDK stops at it, touching nothing */
			got = len >= need - got ? (uint32_t)need : got + len;
		} while (mergeable && got < need);
		if (got < need)
			return f + 1;	/* too small: DPDK refuses it, the stall shows */
	}
	return n;
}
