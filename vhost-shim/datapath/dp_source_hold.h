/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_source_hold.h - destination: a source's direct frames held until its
 * stragglers are in (the per-source barrier)
 *
 * Theory of operation: after a VM resumed here, a peer ("source") X may
 * switch to the new path while its last frames to the old host are still
 * on their way through the tunnel ("stragglers").  Delivered as they come,
 * X's first direct frames would overtake them.  The source shim knows
 * when every straggler of X it read is in the stream: it then sends
 * SOURCE_BARRIER(X, S) behind frame S (docs/tunnel-protocol.md 3.13).
 * This module holds X's direct frames until the main loop has put every
 * tunnelled frame up to S into inject and tells the lcore to release X,
 * and the lcore has delivered them; then X's held frames follow, in their
 * order (docs/dev/plan-per-source-barrier.md, section 0).
 *
 *   lcore     first unicast IP frame from X in the window (dp_direct.c
 *             notes it, once per window): take a slot for X, divert X's
 *             frames into the hold (in arrival order, all sources in one
 *             array) instead of delivering them
 *   main      SOURCE_BARRIER(X, S) came and no frame <= S is left to
 *             inject: vs_dp_source_release(X) (a release queue, below)
 *   lcore     the release seen, inject and the pending burst empty: X's
 *             held frames go where a live frame would go now (delivered
 *             in LIVE, behind the replay in REPLAY, into held in BUFFER)
 *
 * Nothing is ever dropped for the hold.  A source is held at most once a
 * window and at most source-barrier-ms (the time-out, from its first held
 * frame; it does not wait for inject: a busy tunnel must not hold X for
 * ever); VS_DP_HOLD_SOURCES sources at once (beyond: not held,
 * source-hold-full) and VS_DP_HOLD_FRAMES frames in all (the frame that
 * finds it full releases its own source at once, its held frames first:
 * source-hold-overflow).  A closed window, a new window (hs.dedup_epoch)
 * or BUFFER mode (the device went away) releases every source at once,
 * at the next poll: frames of a held source that arrive before it, the
 * window already closed, join the hold behind the others (dp_direct.c
 * looks them up while any source is held), and the frames after an
 * overflow's release go in the mode that release left (it may have filled
 * the guest's ring and started a replay).  Releases without a barrier of
 * the source's own (END, ABORT, the window, BUFFER) count as
 * source-hold-ends; source-held-now is the hold's frames now.
 * hs.src_hold_on (main loop: the admitted stream negotiated the
 * extension, and source-barrier-ms > 0) only gates new holds: a held
 * source keeps waiting for a barrier that may come after a reconnect.
 *
 * Why "inject empty" is enough (the ordering rule): the main loop puts
 * every frame <= S into inject (rte_ring_sp_enqueue(): a release store of
 * the ring's producer tail) before its release store of the release
 * queue's @head.  The lcore loads @head (acquire), and only then looks at
 * inject and the pending burst: empty then means every frame <= S went
 * through the pending burst and was delivered (dp_replay() never drops
 * one).  The lcore must read the queue before it looks at inject, never
 * the other way round.
 *
 * The release queue (main -> lcore) is single-producer single-consumer,
 * as the drain ticket and dp_direct.h's notes: the main loop writes an
 * entry, then publishes @head (release); the lcore loads @head (acquire),
 * reads the entries below it, then publishes @tail (release); the main
 * loop loads @tail (acquire) to see the room.  Each entry carries the
 * window's hs.dedup_epoch, read by the main loop (its only writer) when
 * it queued the entry; the lcore skips an entry of another window, so a
 * window's leftovers never release a source of the next one and the
 * queue needs no flush.  af 0 releases every source.
 *
 * Everything else is the lcore's only: the slots, the held frames, their
 * count.  The main loop allocates the hold at port creation and frees it,
 * with its frames, when no lcore sees the port (vs_dp_port_fini()).
 */
#ifndef VS_DP_SOURCE_HOLD_H
#define VS_DP_SOURCE_HOLD_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct vs_vm;

/* Security consideration: per port, held at once (mbufs of its own pool) */
#define VS_DP_HOLD_SOURCES	32	/* sources */
#define VS_DP_HOLD_FRAMES	512	/* frames, all sources together */
#define VS_DP_RELEASE_QUEUE	64	/* main -> lcore entries, a power of two */
#define VS_DP_HOLD_NONE		0xff	/* dp_direct_note(): a frame not held */

/**
 * struct vs_dp_hold_src - one held source (lcore only)
 * @in_use:	the slot holds a source
 * @release:	a release came for it: release once inject is empty
 * @release_all:	... END's or ABORT's, for every source (af 0): counted
 *		source-hold-ends, not source-barrier-releases
 * @af, @addr:	the source (VS_FLOW_AF_INET: IPv4 in the first 4 bytes)
 * @epoch:	hs.dedup_epoch when the hold began
 * @first_tsc:	when its first frame was held: the time-out runs from here
 * @n:		its frames in the hold
 */
struct vs_dp_hold_src {
	bool in_use;
	bool release;
	bool release_all;
	uint8_t af;
	uint8_t addr[16];
	uint32_t epoch;
	uint64_t first_tsc;
	uint16_t n;
};

/**
 * struct vs_dp_release - a main loop's release of a held source
 * @epoch:	the window it belongs to (hs.dedup_epoch)
 * @af:		the source's family; 0: every source
 * @addr:	the source
 */
struct vs_dp_release {
	uint32_t epoch;
	uint8_t af;
	uint8_t addr[16];
};

/**
 * struct vs_dp_source_hold - a port's hold (vm->dp.hold)
 * @src:	lcore: the slots
 * @n_src:	lcore: slots in use
 * @pkts:	lcore: the held frames of every source, in arrival order
 * @who:	lcore: each frame's slot
 * @q:		lcore: each frame's uplink queue (the guest queue it goes to)
 * @n:		lcore: frames held
 * @head:	main writes an entry, then @head (release); lcore loads (acquire)
 * @pad_:	@head and @tail on cache lines of their own
 * @tail:	lcore writes (release) after reading the entries; main loads
 *		(acquire)
 * @rel:	the release queue: entries @tail..@head-1 (mod VS_DP_RELEASE_QUEUE)
 */
struct vs_dp_source_hold {
	struct vs_dp_hold_src src[VS_DP_HOLD_SOURCES];
	unsigned int n_src;
	struct rte_mbuf *pkts[VS_DP_HOLD_FRAMES];
	uint8_t who[VS_DP_HOLD_FRAMES];
	uint8_t q[VS_DP_HOLD_FRAMES];
	uint16_t n;
	uint32_t head;
	uint8_t pad_[128 - sizeof(uint32_t)];
	uint32_t tail;
	struct vs_dp_release rel[VS_DP_RELEASE_QUEUE];
};

/* --- main loop --- */

/**
 * vs_dp_source_hold_new() - a port's empty hold (port creation)
 *
 * Return: the hold; vs_dp_source_hold_free() frees it
 */
struct vs_dp_source_hold *vs_dp_source_hold_new(void);

/**
 * vs_dp_source_hold_free() - free a hold and its frames (no lcore sees
 * the port)
 * @h:		the hold, or NULL
 */
void vs_dp_source_hold_free(struct vs_dp_source_hold *h);

/**
 * vs_dp_source_hold_on() - may the lcore begin new holds (hs.src_hold_on):
 * the admitted stream negotiated source-barrier and source-barrier-ms > 0
 * @vm:		port
 * @on:		true to hold from now on
 */
void vs_dp_source_hold_on(struct vs_vm *vm, bool on);

/**
 * vs_dp_source_release() - release source @af/@addr of the current window
 * once the lcore finds inject empty; every frame the caller put into
 * inject before must be one the source's frames may follow
 * @vm:		port
 * @af:		VS_FLOW_AF_INET or VS_FLOW_AF_INET6 (0: every source)
 * @addr:	16 bytes (IPv4 in the first 4, the rest zero)
 *
 * A release for a source the lcore does not hold (never held, timed out,
 * or released by a closed window) is counted source-barriers-unmatched.
 *
 * Return: false if the release queue is full (try again later)
 */
bool vs_dp_source_release(struct vs_vm *vm, uint8_t af, const uint8_t *addr);

/**
 * vs_dp_source_release_all() - as vs_dp_source_release(), for every source
 * held in the current window (END: a barrier for every source)
 * @vm:		port
 *
 * Return: false if the release queue is full (try again later)
 */
bool vs_dp_source_release_all(struct vs_vm *vm);

#endif /* VS_DP_SOURCE_HOLD_H */
