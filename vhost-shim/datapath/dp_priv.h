/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_priv.h - what the lcore's files share (dataplane.c, dp_buffer.c,
 * dp_replay.c, dp_dedup.c, ...), and the seam the dataplane unit test uses
 *
 * Theory of operation: the lcore's half of a port is split by concern:
 * dataplane.c has the workers, the live path and the guest's TX;
 * dp_buffer.c held, its caps and the frames that wait behind a replay;
 * dp_replay.c the replay, its pace and the requeue; dp_handshake.c the
 * main loop's half of the handshake (dp_handshake.h) and the drain;
 * dp_announce.c what the VM's TX teaches and the announcements;
 * dp_dedup.c the duplicate filter; dp_direct.c the sources seen directly,
 * and dp_source_hold.c their first frames held for their barrier.  Every call that reaches the guest or
 * the uplink goes through struct vs_dp_ops, so that
 * tests/unit/test_dataplane.c can drive vs_dp_poll_port() on real rings
 * and mbufs with a fake guest and uplink.
 */
#ifndef VS_DP_PRIV_H
#define VS_DP_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include "dataplane.h"
#include "dp_source_hold.h"
#include "stats.h"
#include "util.h"
#include "vm.h"

/**
 * struct vs_dp_ops - the lcore's calls into the guest and the uplink
 * @guest_enqueue: rte_vhost_enqueue_burst(): copies, returns how many the
 *		guest's RX ring took (the caller still owns every mbuf)
 * @uplink_rx:	rte_eth_rx_burst()
 * @uplink_tx:	rte_eth_tx_burst(): the unsent tail stays the caller's
 * @guest_tx:	one burst from the guest's TX ring to the uplink; returns
 *		the chains taken
 * @uplink_drops: the uplink's own counters of frames it dropped before the
 *		shim saw them: no mbuf to receive into (rx_nombuf), queue full
 *		(imissed); returns 0 or -errno
 * @guest_ring_free: rte_vhost_avail_entries(): the buffers the guest posted
 *		on an RX vring that the shim has not filled (avail->idx -
 *		last_used_idx); 0 also for a vring DPDK has disabled or not
 *		translated.  Takes the vring's access lock with a blocking spin,
 *		as the enqueue does: never from a callback that holds it
 * @guest_ring_idle: has the guest consumed every entry the shim published
 *		on an RX vring and re-armed its interrupt?  With
 *		VIRTIO_RING_F_EVENT_IDX: used->idx == used_event; without it:
 *		VRING_AVAIL_F_NO_INTERRUPT clear.  Lock-free reads of the ring
 *		(rte_vhost_get_vhost_vring()'s pointers, as the TX stall check);
 *		false when the ring is not known.  The valve of the RX ring
 *		bound (docs/dev/plan-rx-ring-bound.md, section 3)
 * @uplink_depth: an upper bound of the frames uplink queue @q holds now
 *		(vs_uplink_rx_depth(): a tap's txqueuelen, the PMD's count of
 *		filled descriptors, or the queue's descriptors).  Called by the
 *		lcore once per queue when it first sees a drain ticket: the
 *		queue is FIFO, so once it gave that many frames, every frame
 *		that waited in it then has been read (dataplane.c, the drain)
 */
struct vs_dp_ops {
	uint16_t (*guest_enqueue)(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n);
	uint16_t (*uplink_rx)(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n);
	uint16_t (*uplink_tx)(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n);
	unsigned int (*guest_tx)(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q);
	int (*uplink_drops)(uint16_t port, uint64_t *nombuf, uint64_t *missed);
	uint64_t (*tsc)(void);		/* the lcore's clock: rates, pacing, stats reads */
	uint16_t (*guest_ring_free)(int vid, uint16_t vring);
	bool (*guest_ring_idle)(int vid, uint16_t vring);
	uint32_t (*uplink_depth)(const struct vs_vm *vm, uint16_t q);
};

/* The ops in use: the DPDK ones unless a test replaced them */
extern const struct vs_dp_ops *vs_dp_ops;

/**
 * vs_dp_set_ops() - replace the guest and uplink calls (unit tests)
 * @ops:	table, or NULL for the DPDK ones; must outlive its use
 */
void vs_dp_set_ops(const struct vs_dp_ops *ops);

/**
 * vs_dp_poll_port() - one pass of the owning lcore over a port: replay,
 * announce, uplink RX (with a drain if asked), guest TX
 * @vm:		a published port
 *
 * Return: frames moved (0: nothing to do)
 */
unsigned int vs_dp_poll_port(struct vs_vm *vm);

/* --- dataplane.c helpers shared by the lcore's files --- */

static inline uint64_t dp_sum_len(struct rte_mbuf **pkts, uint16_t n)
{
	uint64_t bytes = 0;
	uint16_t i;

	for (i = 0; i < n; i++)
		bytes += rte_pktmbuf_pkt_len(pkts[i]);
	return bytes;
}

/* vhost vring numbering: even = guest RX (our enqueue), odd = guest TX */
#define VS_VRING_RX(q) ((q) * 2)
#define VS_VRING_TX(q) ((q) * 2 + 1)

/**
 * dp_rx_queue() - the guest RX queue for the frames of uplink queue @q
 * @enabled:	the vrings the guest enabled (bit per vring index)
 * @nq:		queue pairs of the port
 * @q:		uplink queue the frames came from
 *
 * A guest may enable fewer queue pairs than the port has (a 1-vCPU Linux
 * guest on a queues=4 port uses one; ethtool -L changes it).  Frames of an
 * uplink queue whose RX vring is off go to the (q mod k)-th enabled one of
 * the k enabled, so a flow (which the uplink keeps on one queue) stays on
 * one guest queue, in order, while the enabled set does not change.
 *
 * Return: @q if its RX vring is enabled or none is, else an enabled queue
 */
uint16_t dp_rx_queue(uint32_t enabled, uint16_t nq, uint16_t q);

/**
 * dp_deliver_live() - live frames from the uplink into the guest's RX ring
 * (LIVE mode): through the duplicate filter while it is on; what a full
 * ring does not take is held behind a replay of the lcore's own (with
 * buffering on) or dropped, counted
 * @vm:		port
 * @vid:	vhost device id (< 0: none, dropped as not-ready)
 * @enabled:	enabled vrings
 * @q:		the uplink queue the frames came from
 * @pkts:	frames, all consumed
 * @n:		number of frames
 */
void dp_deliver_live(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q,
		     struct rte_mbuf **pkts, uint16_t n);

/**
 * dp_ring_offer() - how many of @n frames to offer guest RX queue @q now:
 * the RX ring bound and its valve (dp_ring_bound.c)
 * @vm:		port
 * @vid:	its device
 * @enabled:	the vrings the guest enabled (the bound applies with one RX
 *		vring only, vring 0)
 * @q:		guest queue pair (RX vring VS_VRING_RX(@q))
 * @n:		frames ready for it
 * @limited:	set to true when the bound, not the valve, made the offer
 *		smaller than @n (the caller counts a hit with
 *		dp_ring_bound_hit() if the enqueue then took the whole offer)
 *
 * Reads the vring's free entries (guest_ring_free: the vring's lock, as
 * the enqueue) only when the bound is on and @n > 0.
 *
 * Return: frames to offer, 0..@n (0: none now)
 */
uint16_t dp_ring_offer(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q, uint16_t n,
		       bool *limited);

/**
 * dp_ring_settled() - may a replay that delivered everything end (REPLAY
 * -> LIVE)?  Not while the bound applies to RX vring 0 and more than half
 * of it is outstanding there, unless the guest is idle (the valve's test)
 * @vm:		port
 * @vid:	its device
 * @enabled:	the vrings the guest enabled
 *
 * Reads the ring right after an offer, else in one call of
 * DP_RING_SETTLE_POLLS (false in the others).
 *
 * Return: true when the bound is off or the ring has drained enough
 */
bool dp_ring_settled(struct vs_vm *vm, int vid, uint32_t enabled);

/**
 * dp_ring_bound_hit() - the bound held frames back: count it
 * @vm:		port
 * @held:	frames it sent to held (ring-bound-held-pkts)
 * @switched:	it switched the port LIVE -> REPLAY (always a new hit); else
 *		a shortened replay enqueue, a hit only for the first in the
 *		replay episode
 */
void dp_ring_bound_hit(struct vs_vm *vm, unsigned int held, bool switched);

/*
 * dp_drop() - free a frame and count it (lcore counters) under @reason
 */
static inline void dp_drop(struct vs_vm *vm, struct rte_mbuf *m, enum vs_drop_reason reason)
{
	VS_STAT_ADD(vm->stats.drops[reason], 1);
	rte_pktmbuf_free(m);
}

/* --- dp_tx_offload.c (lcore): the guest's transmit offloads --- */

/**
 * dp_tx_csum() - finish the TCP/UDP checksum the guest left to the device
 * (VIRTIO_NET_F_CSUM: pkt_csum.h)
 *
 * Return: false when the frame needs a checksum the shim cannot finish
 * (DPDK saw TCP, UDP or SCTP where pkt_csum.c finds no TCP or UDP, a
 * chained mbuf, a GSO frame that is not TSO): the caller drops it as
 * guest-malformed, rather than send a checksum every receiver discards
 * without a trace
 */
bool dp_tx_csum(struct rte_mbuf *m);

/* dp_tx_is_tso() - whether @m is a guest's GSO frame (DPDK marks TSO and
 * UFO ones RX_LRO with the guest's gso_size) */
static inline bool dp_tx_is_tso(const struct rte_mbuf *m)
{
	return (m->ol_flags & RTE_MBUF_F_RX_LRO) && m->tso_segsz;
}

/**
 * struct vs_dp_tx_out - frames on their way from a guest's TX queue to
 * the uplink (dataplane.c's dp_vm_to_uplink(), on the lcore's stack)
 * @pkts:	the frames, in the guest's order
 * @n:		how many
 * @q:		the uplink queue they go to
 */
struct vs_dp_tx_out {
	struct rte_mbuf *pkts[VS_DP_TX_OUT];
	unsigned int n;
	uint16_t q;
};

/**
 * dp_tx_flush() - send @o's frames on the uplink, learned and tracked
 * first (dp_learn(), dp_tcp_track()); what the uplink does not take is
 * counted uplink-full, per frame on the wire
 */
void dp_tx_flush(struct vs_vm *vm, struct vs_dp_tx_out *o);

/* dp_tx_put() - append @m to @o, flushing @o first when it is full */
static inline void dp_tx_put(struct vs_vm *vm, struct vs_dp_tx_out *o, struct rte_mbuf *m)
{
	if (o->n == VS_DP_TX_OUT)
		dp_tx_flush(vm, o);
	o->pkts[o->n++] = m;
}

/**
 * dp_tx_segment() - cut a guest's TSO frame into frames whose IP packets
 * take at most @mtu bytes and which take at most @max_len (pkt_tso.h),
 * append them to @o (flushing it as it fills), and free the frame
 * @vm:		port (its pool gives the segments' mbufs)
 * @m:		the frame (dp_tx_is_tso(); any chain of mbufs)
 * @mtu:	the uplink's MTU
 * @max_len:	the largest frame the guest may send (MTU, Ethernet header,
 *		one VLAN tag: what the port's mbufs hold, port_pool.h)
 * @o:		where the segments go
 *
 * Segments are allocated VS_DP_TSO_ROUND at a time.  A frame that cannot
 * be cut is one counted drop: oversize (an MSS the MTU cannot carry, or
 * a UFO frame), guest-malformed (headers pkt_tso.c refuses, more than
 * VS_TSO_MAX_SEGS segments) or no-memory (no mbufs for a round: the
 * rounds already sent stay sent).
 */
void dp_tx_segment(struct vs_vm *vm, struct rte_mbuf *m, uint16_t mtu, uint32_t max_len,
		   struct vs_dp_tx_out *o);

/* --- dp_buffer.c (lcore): held, its caps, frames behind a replay --- */

/**
 * dp_held_put() - append frames to held, counted by class (lcore: the
 * sole producer)
 * @vm:		port
 * @pkts:	frames
 * @n:		number of frames
 *
 * Return: frames enqueued (the first ones); the caller owns the rest
 */
unsigned int dp_held_put(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n);

/**
 * dp_held_take() - take frames from the front of held, counted by class
 * (any consumer: the lcore's replay and drop-oldest, the main loop)
 * @vm:		port
 * @pkts:	output: the frames, now the caller's
 * @n:		at most this many
 *
 * Return: frames taken
 */
unsigned int dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n);

/* One writer (the lcore): a plain increment, published relaxed */
static inline void dp_flow_inc(uint64_t *c)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/**
 * dp_buffer() - append frames to held in arrival order (BUFFER mode)
 * @vm:		port
 * @pkts:	frames, all consumed (held or counted)
 * @n:		number of frames
 *
 * The caps and class policies apply unless the episode has none
 * (straggler forwarding), where only held's size bounds it.
 */
void dp_buffer(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n);

/**
 * dp_hold_live() - queue live frames behind a replay in progress
 * @vm:		port
 * @pkts:	frames, all consumed
 * @n:		number of frames
 */
void dp_hold_live(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n);

/**
 * dp_hold_ring_full() - the guest's ring, or the RX ring bound, did not
 * take a live burst whole: switch to a replay of our own and keep the rest
 * in order in held
 * @vm:		port
 * @pkts:	the frames the guest did not take
 * @n:		number of them
 * @dedup:	the filter passed them (they must pass again when delivered)
 * @bounded:	the bound refused them, not a full ring: they wait within
 *		the caps but no class policy or rule drops them, and the
 *		switch counts as a hit (dp_ring_bound_hit())
 * @held:	set to how many of them went to held (the rest were dropped
 *		by the caps or, without @bounded, the class policy)
 *
 * A port that left LIVE since the caller read its mode (the main loop
 * switched it to BUFFER: destroy_device, a migration) takes them as that
 * mode would: behind a replay, or buffered; never ahead of held.
 *
 * Return: true if the frames were consumed; false if the port does not
 * buffer (the caller drops them)
 */
bool dp_hold_ring_full(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, bool dedup,
		       bool bounded, unsigned int *held);

/**
 * dp_own_replay() - the lcore switched the port LIVE -> REPLAY itself (a
 * full ring, the RX ring bound, held adopted): its replay takes held
 * before inject (dp_replay.c)
 * @vm:		port
 */
void dp_own_replay(struct vs_vm *vm);

/**
 * dp_own_replay_now() - is the port's replay one the lcore started itself,
 * in the buffering episode it is in (a new episode makes it the main
 * loop's)?
 * @vm:		port
 *
 * Return: true for the lcore's own replay
 */
bool dp_own_replay_now(const struct vs_vm *vm);

/* --- dp_rules.c (lcore): the flow policy's rules --- */

struct vs_dp_flow;

/**
 * dp_flow_sync() - key the rules' caps accounting to @f's table
 * @vm:		port
 * @f:		the wrapper loaded for this burst
 * @new_episode: a buffering episode starts: nothing admitted yet
 *
 * A table that replaced the one the accounting is keyed to keeps its
 * counts by rule id; after two changes unseen, every admitted frame stays
 * counted as an orphan.
 */
void dp_flow_sync(struct vs_vm *vm, const struct vs_dp_flow *f, bool new_episode);

/**
 * dp_hold_rules() - one frame of a port with rules that must wait behind
 * a replay (dp_hold()), admitted against what held holds now
 * @vm:		port
 * @f:		the wrapper loaded for this burst
 * @m:		the frame, consumed: into held, or dropped and counted
 * @waits:	the RX ring bound holds it back: a drop action does not
 *		apply (the totals do)
 *
 * Return: true if @m went into held
 */
bool dp_hold_rules(struct vs_vm *vm, struct vs_dp_flow *f, struct rte_mbuf *m, bool waits);

/**
 * dp_buffer_rules() - one frame of a port with rules, in BUFFER mode
 * @vm:		port
 * @f:		the wrapper loaded for this burst
 * @m:		the frame, consumed: into held, or dropped and counted
 * @caps:	false while stragglers are forwarded (held's size bounds them)
 * @cls:	output: the frame's class
 *
 * Return: true if @m went into held
 */
bool dp_buffer_rules(struct vs_vm *vm, struct vs_dp_flow *f, struct rte_mbuf *m, bool caps,
		     enum vs_pkt_class *cls);

/* --- dp_replay.c (lcore): the replay, its pace, requeue --- */

/**
 * dp_replay() - deliver pending, inject, then held, ahead of live frames
 * @vm:		port
 * @vid:	vhost device id (< 0: none)
 * @enabled:	enabled vrings
 * @mode:	the mode this poll read
 *
 * Return: frames moved
 */
unsigned int dp_replay(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode);

/**
 * dp_adopt_held() - frames left in held while the port is LIVE: replay
 * them first if the VM runs here, else drop them counted
 * @vm:		port
 * @vid:	vhost device id
 *
 * Return: the mode to go on with
 */
uint32_t dp_adopt_held(struct vs_vm *vm, int vid);

/**
 * dp_requeue() - a new buffering episode began while frames were on their
 * way to the guest: the pending burst and inject go to the front of held,
 * ahead of what held had, tunnelled ones first (dp_replay.c has the
 * layout), so the buffer keeps the order the guest would have seen
 * (beyond held's size: buffer-full)
 * @vm:		port in BUFFER mode
 */
void dp_requeue(struct vs_vm *vm);

/**
 * dp_requeue_wanted() - must the lcore run dp_requeue() this poll
 * @vm:		port
 * @mode:	the mode this poll read
 *
 * Return: true if it must (dp_requeue() then answers the ticket this
 * loaded); false, and a ticket loaded with a mode other than BUFFER
 * answered, otherwise
 */
bool dp_requeue_wanted(struct vs_vm *vm, uint32_t mode);

/**
 * dp_held_requeued() - how many of the frames the lcore moved back to
 * held's front are still there (@tunnelled: of the tunnelled ones leading
 * them); lcore, or main after the requeue's answer
 * @vm:		port
 * @tunnelled:	count only up to hs.requeue_tunnel_end
 *
 * Return: the count
 */
uint64_t dp_held_requeued(const struct vs_vm *vm, bool tunnelled);

/**
 * dp_requeue_answer() - answer the buffering episode's requeue ticket
 * @ticket (hs.requeue_done): the main loop may take from held again, and
 * vs_dp_buffer_seen() is true unless a newer ticket was asked since
 * @vm:		port
 * @ticket:	the hs.requeue_req the lcore loaded
 */
void dp_requeue_answer(struct vs_vm *vm, uint32_t ticket);

/**
 * dp_rate_account() - frames arrived for this VM (the replay's pace is a
 * multiple of their rate)
 * @vm:		port
 * @n:		frames received from the uplink (0: none, the clock moved)
 * @now:	vs_dp_ops->tsc()
 */
void dp_rate_account(struct vs_vm *vm, unsigned int n, uint64_t now);

/* --- dp_handshake.c (lcore's half of the drain) --- */

/**
 * dp_drain_wanted() - is a drain request waiting
 * @vm:		port
 * @ticket:	set to the request's ticket
 *
 * Return: true if the lcore must empty the uplink's queues this poll
 */
bool dp_drain_wanted(struct vs_vm *vm, uint32_t *ticket);

/**
 * dp_drain_begin() - the lcore sees drain ticket @ticket in a poll: if it
 * is newer than the one it serves, restart the counts (nothing settled,
 * nothing read, each queue's depth asked of the op uplink_depth)
 * @vm:		port
 * @ticket:	from dp_drain_wanted()
 */
void dp_drain_begin(struct vs_vm *vm, uint32_t ticket);

/**
 * dp_drain_settled() - is uplink queue @q settled for the open ticket
 * @vm:		port
 * @q:		uplink queue
 *
 * Return: true if it is (it is then read as usual, a burst a poll)
 */
bool dp_drain_settled(const struct vs_vm *vm, uint16_t q);

/**
 * dp_drain_count() - a burst of @n frames read from uplink queue @q while
 * the ticket is open: settles the queue if the burst was short (it was
 * empty then) or the queue gave its depth since the ticket
 * @vm:		port
 * @q:		uplink queue, not settled yet
 * @n:		frames the burst returned (asked: VS_DP_BURST)
 *
 * Return: true if @q is settled now
 */
bool dp_drain_count(struct vs_vm *vm, uint16_t q, uint16_t n);

/**
 * dp_drain_all_settled() - is every uplink queue settled for the open ticket
 * @vm:		port
 *
 * Return: true if the ticket may be answered (dp_drain_done())
 */
bool dp_drain_all_settled(const struct vs_vm *vm);

/**
 * dp_drain_done() - answer a drain request, once every queue settled
 * @vm:		port
 * @ticket:	from dp_drain_wanted()
 */
void dp_drain_done(struct vs_vm *vm, uint32_t ticket);


/* --- dp_source_hold.c (lcore): a source's direct frames held for its
 * barrier (dp_source_hold.h) --- */

/**
 * dp_source_hold_busy() - does the port hold a source now
 * @vm:		port
 *
 * Return: true while some source's frames are held: a burst must be looked
 * at for them even if the window closed since the hold's poll
 */
static inline bool dp_source_hold_busy(const struct vs_vm *vm)
{
	return vm->dp.hold && vm->dp.hold->n_src;
}

/**
 * dp_source_hold_may_begin() - may a source noted now be held: the hold
 * exists, the main loop allows holds (hs.src_hold_on), source-barrier-ms
 * is not 0 and the port does not buffer
 * @vm:		port
 * @mode:	the mode this poll read
 *
 * Return: true if dp_source_hold_begin() may be called for this burst
 */
bool dp_source_hold_may_begin(struct vs_vm *vm, uint32_t mode);

/**
 * dp_source_hold_find() - the slot that holds a source
 * @vm:		port
 * @af:		VS_FLOW_AF_INET or VS_FLOW_AF_INET6
 * @addr:	16 bytes
 *
 * Return: the slot, or VS_DP_HOLD_NONE
 */
uint8_t dp_source_hold_find(const struct vs_vm *vm, uint8_t af, const uint8_t *addr);

/**
 * dp_source_hold_begin() - hold a source noted for the first time in this
 * window (every slot taken: not held, counted source-hold-full)
 * @vm:		port
 * @af:		its family
 * @addr:	its address, 16 bytes
 * @epoch:	the window (hs.dedup_epoch)
 * @tsc:	now: its time-out runs from here
 *
 * Return: its slot, or VS_DP_HOLD_NONE
 */
uint8_t dp_source_hold_begin(struct vs_vm *vm, uint8_t af, const uint8_t *addr,
			     uint32_t epoch, uint64_t tsc);

/**
 * dp_source_hold_divert() - move the frames of a burst that belong to held
 * sources into the hold, in order (REPLAY: sets hs.live_seen, as a frame
 * held behind the replay would); a frame that finds the hold full
 * releases its source at once, its held frames first
 * @vm:		port
 * @vid:	vhost device id
 * @enabled:	enabled vrings
 * @mode:	the mode this poll read
 * @q:		the uplink queue of the burst
 * @pkts:	the burst, compacted in place
 * @n:		frames in @pkts
 * @slot:	each frame's slot from dp_direct_note() (VS_DP_HOLD_NONE: not held)
 *
 * Return: frames left in @pkts, to deliver as usual, in the mode the port
 * has after it (vs_dp_mode(): an overflow's release may have switched it)
 */
uint16_t dp_source_hold_divert(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode,
			       uint16_t q, struct rte_mbuf **pkts, uint16_t n,
			       const uint8_t *slot);

/**
 * dp_source_hold_poll() - once a poll, before the uplink is read: take the
 * main loop's releases, and deliver the sources released (by their
 * barrier once inject and the pending burst are empty; at once by a time-
 * out, a closed or new window, or BUFFER mode)
 * @vm:		port
 * @vid:	vhost device id
 * @enabled:	enabled vrings
 * @mode:	the mode this poll read (after the replay step)
 *
 * Return: the mode to go on with (a delivery may have started a replay)
 */
uint32_t dp_source_hold_poll(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode);

/* --- dp_announce.c (lcore) --- */

/**
 * dp_announce() - forget the learned addresses if the main loop asked, then
 * announce the VM on the uplink if it asked: a RARP for its MAC, or
 * (announce=all) what dp_learn() learned
 * @vm:		port
 */
void dp_announce(struct vs_vm *vm);

/**
 * dp_learn() - learn the source addresses of frames the VM sent (announce=all)
 * @vm:		port
 * @pkts:	frames on their way to the uplink (not consumed)
 * @n:		number of frames
 */
void dp_learn(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n);

/**
 * dp_learned_own() - is a frame from the uplink from a MAC the VM sent from
 * @vm:		port
 * @m:		frame (at least an Ethernet header: not a runt)
 *
 * Return: true if announce=all learned its source MAC
 */
bool dp_learned_own(const struct vs_vm *vm, const struct rte_mbuf *m);

/* --- dp_dedup.c (lcore) --- */

/*
 * Duplicate filter of the destination, lcore only.  The only copies a
 * migration creates are a frame that reached the VM through the tunnel and
 * the same frame received directly by this host (a switch flooding the
 * VM's MAC to both hosts during the switchover): one transmission that
 * reached both hosts at about the same time.  So each origin's delivered
 * frames are recorded in a table of their own (64-bit hash over the whole
 * frame and the frame's arrival time, 4-way set-associative buckets): a
 * tunnelled frame is looked up only among the direct ones and vice versa,
 * and only an entry whose arrival time is within the port's
 * dedup-window-ms of the frame's matches (the closest one); an entry that
 * matched is forgotten, so one copy cancels exactly one frame.  A frame
 * recorded but then not delivered (held for a replay, or dropped: a full
 * ring with buffering off, no device) is forgotten too (dp_dedup_forget()),
 * so its other copy still reaches the VM.
 *
 * Arrival times are intervals in the lcore's TSC (struct vs_dp_arrival in
 * the mbuf): a direct frame's latest is the TSC of the poll that received
 * it, its slack the time since the port's previous poll (capped at
 * VS_DP_ARRIVAL_SLACK_MAX_MS), because the frame reached the uplink's
 * queue somewhere in between: after an lcore stall a whole burst gets one
 * stamp, late by up to the stall, and its interval still holds the truth.
 * A tunnelled frame's time is the source's arrival time estimated in this
 * host's clock (handover_tun.c), slack 0 (the wire has no slack: the
 * source's own stall is not known here).  Two intervals are as far apart
 * as the gap between them (0 if they overlap), and the window applies to
 * that gap.  A frame of unknown time (0: a source's shim that sends none,
 * or a time not believed) is compared regardless of time, but an entry
 * with a known time within the window is preferred to one with an unknown
 * time, and of unknown ones the newest is taken.
 *
 * Two frames of the same origin are never compared: byte-identical repeats
 * (health checks, VRRP adverts, BPDUs) are legitimate, and so is a repeat
 * that reached the source in the blackout and this host directly 100 ms
 * later: its arrival times are too far apart.  A full bucket forgets its
 * oldest entry (a copy may then pass); two different frames would need
 * equal 64-bit hashes to be mistaken for each other.  Byte-identical
 * frames share one bucket: of N > 4 identical frames tunnelled, at most
 * the 4 newest can cancel a flooded copy (the others reach the guest as
 * duplicates, never as losses).
 */
#define VS_DEDUP_SLOTS 65536	/* per origin: 3.25 MiB a port, touched only in a migration */
#define VS_DEDUP_WAYS 4		/* entries per bucket */
struct vs_dp_dedup_entry {
	uint64_t hash;			/* 0: empty */
	uint64_t tsc;			/* arrival (latest), 0: unknown */
	uint64_t slack;			/* it may have been this much earlier */
};
/*
 * A bucket belongs to the window (epoch) that last wrote it: one of an
 * older window is empty, and is cleared when it is first touched, so a new
 * window costs nothing up front (a wipe of the whole table stalled the
 * lcore for a millisecond or two at every resume)
 */
struct vs_dp_dedup_bucket {
	uint32_t epoch;
	struct vs_dp_dedup_entry way[VS_DEDUP_WAYS];
};
struct vs_dp_dedup {
	uint32_t epoch;			/* hs.dedup_epoch seen last */
	struct vs_dp_dedup_bucket bucket[VS_DP_NUM_ORIGINS][VS_DEDUP_SLOTS / VS_DEDUP_WAYS];
};

/*
 * A direct frame's slack is at most this: a stall longer than a second is
 * not tolerated beyond it (the frames of the stall's first part can then
 * miss their copies), so that a stall does not make the window a second
 * wide for legitimate repeats (VRRP adverts, health checks at 1 s)
 */
#define VS_DP_ARRIVAL_SLACK_MAX_MS	1000

/*
 * Ages beyond this are unknown: no migration's frame is that old, and the
 * conversions between microseconds and TSC cycles cannot overflow below it
 * (vs_dp_arrival_set_age() takes a peer's value)
 */
#define VS_DP_ARRIVAL_AGE_MAX_US	(3600LL * 1000 * 1000)

/* The mbuf field of a frame's arrival (dp_dedup.c registers it) */
struct vs_dp_arrival {
	uint64_t tsc;			/* latest possible arrival; 0: unknown */
	uint64_t slack;			/* TSC cycles it may have been earlier */
	uint32_t held_class;		/* while in held: the class its caps count
					 * it under (dp_buffer.c), so taking it
					 * needs no second parse of its headers */
};

/* Offset of the mbuf field that holds a frame's arrival (dp_dedup.c) */
extern int vs_dp_arrival_off;

/*
 * vs_dp_arrival() - a frame's arrival time: the TSC when this host's uplink
 * handed it over (or the source's, estimated in this clock); 0: unknown
 */
static inline uint64_t *vs_dp_arrival(struct rte_mbuf *m)
{
	return &RTE_MBUF_DYNFIELD(m, vs_dp_arrival_off, struct vs_dp_arrival *)->tsc;
}

/* vs_dp_arrival_slack() - how much earlier than vs_dp_arrival() it may have been */
static inline uint64_t *vs_dp_arrival_slack(struct rte_mbuf *m)
{
	return &RTE_MBUF_DYNFIELD(m, vs_dp_arrival_off, struct vs_dp_arrival *)->slack;
}

/* vs_dp_arrival_stamp() - set a frame's arrival: @tsc (0: unknown), @slack before it */
static inline void vs_dp_arrival_stamp(struct rte_mbuf *m, uint64_t tsc, uint64_t slack)
{
	*vs_dp_arrival(m) = tsc;
	*vs_dp_arrival_slack(m) = tsc ? slack : 0;
}

/**
 * dp_dedup_on() - is the duplicate filter active
 * @vm:		port
 *
 * Return: true while the main loop keeps a window open
 */
bool dp_dedup_on(struct vs_vm *vm);

/**
 * dp_dedup() - drop the frames of @origin that are copies of frames of
 * the other origin delivered in this window; record the others
 * @vm:		port
 * @pkts:	burst, compacted in place
 * @n:		frames in @pkts
 * @origin:	where the burst came from
 *
 * Return: frames left
 */
uint16_t dp_dedup(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		  enum vs_dp_origin origin);

/**
 * dp_dedup_forget() - frames that passed dp_dedup() but were not delivered
 * after all (they go back to the buffer): they must pass again later
 * @vm:		port
 * @pkts:	frames
 * @n:		number of frames
 * @origin:	the origin dp_dedup() recorded them under
 */
void dp_dedup_forget(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n,
		     enum vs_dp_origin origin);

#endif /* VS_DP_PRIV_H */
