/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_handshake.h - the lcore <-> main-loop handshake of one port: mode,
 * buffering episode, replay, drain, announce, duplicate filter
 *
 * Theory of operation: the lcore that owns a port never touches a socket,
 * a timer or the heap; the GLib main loop never touches a virtqueue.  They
 * meet in struct vs_dp_port (vm->dp): two rings and a handful of shared
 * words.  Every shared word is documented below with its writers, its
 * readers and the memory order that publishes it, and is reached only
 * through the functions of this header (main loop, vhost thread:
 * dp_handshake.c) and of dp_buffer.c, dp_replay.c and the drain's half in
 * dp_handshake.c (lcore).
 *
 *   vm->dp.held    the lcore's buffer: frames from the uplink, in arrival
 *                  order (BUFFER), live frames behind a replay (REPLAY).
 *                  One producer, the lcore; consumers: the lcore (replay,
 *                  drop-oldest) and the main loop (the pump to the tunnel,
 *                  draining a buffer that expired), hence multi-consumer.
 *   vm->dp.inject  frames the main loop wants delivered ahead of held
 *                  (tunnelled, or a stream's retained copy on rollback).
 *                  One producer, the main loop; one consumer, the lcore.
 *
 * The rings' own positions are DPDK's business: the handshake keeps its
 * own counters of what went into held and what came out (held_put,
 * held_taken), which the drain barrier compares.
 *
 * A replay, as the lcore runs it: the pending burst (a burst the guest's
 * ring did not take whole), then inject, then - once the main loop has
 * closed inject (inject_done) - held; when all three are empty it sets the
 * mode back to LIVE itself, so no live frame can pass the last held one.
 * A replay the main loop started is over for the migration earlier, at
 * its mark: once what held held when inject was first found empty after
 * inject_done has left (vs_dp_replay_finished()).  A guest that reads
 * less than its traffic's rate keeps live frames queued behind that mark
 * for as long as the traffic lasts; they drain as the tail, mode still
 * REPLAY, in the same order, and the lcore still switches to LIVE itself.
 */
#ifndef VS_DP_HANDSHAKE_H
#define VS_DP_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "config.h"
#include "flow_prio.h"
#include "learn.h"
#include "pkt.h"
#include "stats.h"

struct rte_mbuf;
struct rte_ring;
struct vs_vm;

/**
 * enum vs_dp_mode - what the owning lcore does with frames from the uplink
 * @VS_DP_LIVE:	deliver to the guest (drop as not-ready without a device)
 * @VS_DP_BUFFER: classify, apply the caps, append to held in order
 * @VS_DP_REPLAY: deliver inject, then (once inject_done) held, then switch
 *		itself to LIVE; new frames queue behind in held
 */
enum vs_dp_mode {
	VS_DP_LIVE,
	VS_DP_BUFFER,
	VS_DP_REPLAY,
};

/* Lcore-private accounting of the frames accepted in a buffering episode */
struct vs_dp_buffer_acct {
	uint32_t episode;		/* hs.episode seen last */
	uint64_t pkts[VS_PKT_NUM_CLASSES];	/* accepted this episode, by class */
	uint64_t bytes[VS_PKT_NUM_CLASSES];
};

/**
 * enum vs_dp_origin - where a frame delivered to the guest came from, for
 * the duplicate filter
 * @VS_DP_ORIGIN_DIRECT: this host's uplink (live, or held)
 * @VS_DP_ORIGIN_TUNNEL: the tunnel (inject)
 */
enum vs_dp_origin {
	VS_DP_ORIGIN_DIRECT,
	VS_DP_ORIGIN_TUNNEL,
	VS_DP_NUM_ORIGINS,
};

/* A burst the guest's RX ring did not take whole (a replay never drops it) */
struct vs_dp_pending {
	struct rte_mbuf *pkts[32];
	uint16_t head, n;
	enum vs_dp_origin origin;
};

/*
 * Where a replay the main loop started ends for the migration (lcore only,
 * dp_replay.c): at its mark, held_put when the lcore first found inject
 * empty after inject_done.  Frames held after that are the tail.
 */
struct vs_dp_replay_mark {
	uint32_t gen;		/* hs.replay_gen these belong to */
	bool taken;		/* @pos was taken for @gen */
	bool ended;		/* @gen's replay ended at its mark: the rest
				 * is a tail, drained as before */
	uint64_t pos;		/* held_put then */
};

struct vs_dp_dedup;
struct vs_dp_direct;
struct vs_dp_flow;
struct vs_dp_source_hold;
struct vs_dp_tcp;

/**
 * struct vs_dp_handshake - the words shared by the lcore and the main loop
 *
 * "main" is the GLib main loop thread; "vhost" is DPDK's vhost event
 * thread (destroy_device); "lcore" is the worker that owns the port.
 * Stores that publish are release, loads that consume are acquire, unless
 * a field says relaxed (and why that is enough).
 *
 * @mode:	enum vs_dp_mode.  main stores any mode (release); vhost
 *		CASes LIVE -> BUFFER (device gone); lcore CASes LIVE -> REPLAY
 *		(guest ring full, frames left in held) and REPLAY -> LIVE
 *		when a replay is complete (a CAS: a BUFFER the main loop or
 *		the vhost thread stored meanwhile stays; a REPLAY the main
 *		loop started meanwhile, seen by @replay_gen, is put back).
 *		When the main loop leaves a migration it stores LIVE only
 *		over BUFFER: a REPLAY it no longer tracks is the lcore's to
 *		end (vs_dp_leave_buffer()).  That put-back assumes the main
 *		loop does not start a replay and store LIVE (a skip) in one
 *		go; it never does.  lcore loads it (acquire)
 *		once per poll and again after a replay step.
 * @episode:	main/vhost add 1 (release) to start a buffering episode;
 *		lcore loads (acquire) and restarts its caps' accounting when
 *		it changes.  no_caps and held_drop_reason are stored before
 *		the bump, so the lcore sees the episode's values with it.
 * @no_caps:	main/vhost (relaxed: read together with a mode or episode
 *		change, or a straggler-forwarding switch where a frame or two
 *		capped either way is harmless); lcore reads.  BUFFER mode
 *		bounded by the ring only (straggler forwarding).
 * @held_drop_reason: enum vs_drop_reason.  main stores (release) the reason
 *		it counted its last drain of held under (peer-lost, expired)
 *		before draining, and not-ready with a new episode; lcore loads
 *		(acquire) it for frames it finds in held after that drain.
 * @inject_done: main stores true (release) once nothing more will be put
 *		into inject ahead of held in this replay, false (release) when
 *		a replay starts; lcore stores true when it starts a replay of
 *		its own (ring full, adopted frames), after its CAS of @mode:
 *		a replay start of main's on a running device comes after the
 *		lcore answered the BUFFER before it (@requeue_req), never between
 *		the two (handover_resume.c; review 85, N2).  lcore loads
 *		(acquire): everything main put into inject before is visible
 *		then.
 * @live_seen:	lcore stores true (release) when it held a live frame behind
 *		a replay; main reads (acquire) and clears it (relaxed, before
 *		the release store of @mode that starts the next replay).
 * @replay_gen: main adds 1 (release) when it starts a replay
 *		(vs_dp_replay_start(): after @inject_done's store, before the
 *		mode's) or skips one; lcore loads it (acquire) before its load
 *		of @inject_done, and tags the replay's end with it.
 * @replay_end_left: lcore stores (relaxed, published by the release
 *		store of @replay_end_gen) the frames held behind the replay's
 *		mark when it ended there (its tail), 0 when it ended empty.
 * @replay_end_gen: lcore stores (release) the @replay_gen it loaded when
 *		it ends that replay: after its REPLAY -> LIVE, or at the
 *		replay's mark with frames still held behind it (the tail:
 *		dp_replay.c); vs_dp_replay_skip() stores the new @replay_gen.
 *		main reads (acquire): the replay started last is over when
 *		the two are equal, so an end the lcore decided for an earlier
 *		replay is never taken for the new one's (review 81, 12.2).
 * @announce_req: main adds 1 (release) per announcement wanted; lcore
 *		compares with its private announce_done and sends one round
 *		per change (dp_announce.c: a RARP, or with announce=all a RARP
 *		per learned MAC and VLAN, a GARP per IPv4, an NA per IPv6).
 * @learn_forget_req: main adds 1 (release) when the VM left the host (or
 *		a migration in starts): the lcore compares with its private
 *		learn_forget_done and empties its address table (learn.h)
 *		before it serves an announce request or learns again; it
 *		loads @announce_req first, then this, so a forget asked
 *		before an announce is served before it
 * @drain_req:	main adds 1 (release) to ask the lcore to empty the uplink's
 *		RX queues into held; the value is the request's ticket.
 * @drain_qlen:	main stores (relaxed) a net_tap uplink's txqueuelen, read
 *		at the ticket (-1: another driver, or unknown), before the
 *		release add of @drain_req that publishes it; lcore loads it
 *		(relaxed) after its acquire load of @drain_req, when it first
 *		sees the ticket (the queue's depth, vs_uplink_rx_depth()).  It
 *		may see a later ticket's value for an earlier one: the same
 *		queue's length, read later.
 * @drain_mark:	lcore: held_put when it served @drain_done (relaxed store,
 *		published by the release store of @drain_done).  Served means
 *		every uplink queue settled for the ticket since the lcore first
 *		saw it: a burst came back short, or the queue gave as many frames
 *		as it could hold then (dataplane.c, the drain).
 * @drain_done:	lcore stores the last ticket served (release); main loads
 *		it (acquire), then @drain_mark, then @held_taken.
 * @held_put:	lcore only (sole producer of held): frames enqueued into
 *		held, stored (release) after the enqueue.
 * @held_taken:	every consumer of held adds what it dequeued (release),
 *		after the dequeue; main compares it with @drain_mark.
 * @held_pkts, @held_bytes: what held holds now, by class (a runt or a
 *		frame from the VM's own MAC counts as other).  The lcore adds
 *		what it enqueues, every consumer subtracts what it dequeued
 *		(relaxed atomics: only the lcore decides on them, and a take it
 *		does not see yet can only make it stricter).  The caps of
 *		frames held behind a replay are checked against these.
 * @requeue_req: main/vhost add 1 (release) after switching to BUFFER in
 *		a new episode: a ticket.  lcore loads it (acquire; then
 *		@mode, which shows that BUFFER or a later store), moves the
 *		frames still on their way to the guest (pending burst,
 *		inject) to the front of held if the mode is BUFFER, and
 *		answers the ticket it loaded in @requeue_done.
 * @requeue_done: lcore stores (release) the @requeue_req it answered.
 *		While the two differ, main takes nothing from held
 *		(vs_dp_held_take()), so the order it streams in is the
 *		order the guest would have seen.  Equal, loaded by main
 *		(acquire, vs_dp_buffer_seen()), they are also the lcore's
 *		answer to the episode: everything it did before, an own
 *		replay's switch among it, happened before main's next
 *		stores (handover_resume.c).  A ticket, not a flag: a flag
 *		the lcore cleared after loading a stale true could erase a
 *		newer episode's request stored in between (review 88, L2);
 *		an answer to an older ticket leaves a newer one open.
 * @requeue_end: lcore stores, before @requeue_done (whose release
 *		publishes it): the held position (counted as @held_put
 *		counts; a frame's put position is its take position, held
 *		being FIFO) just past the frames it moved back (dp_requeue()'s
 *		layout: tunnelled ones first, then direct ones)
 * @requeue_tunnel_end: lcore stores with @requeue_end: the end of the
 *		tunnelled frames leading them (its pending burst if that came
 *		from inject, inject, and an earlier requeue's untaken
 *		tunnelled frames ahead of both), which are older than the
 *		replay queue's (vs_dp_held_take_requeued())
 * @dedup_active: main stores (release) while tunnelled and direct frames
 *		may overlap; lcore loads (acquire) per burst.
 * @dedup_epoch: main adds 1 (release) when a new window opens; lcore loads
 *		(acquire) and forgets what it recorded for an older window.
 * @src_hold_on: main stores (release) true while the port's admitted stream
 *		negotiated source-barrier and source-barrier-ms > 0, false when
 *		it goes (vs_dp_source_hold_on()); lcore loads (acquire) when a
 *		source is first noted in a window, to decide whether to hold it
 *		(dp_source_hold.h; a held source stays held when it turns false).
 */
struct vs_dp_handshake {
	uint32_t mode;
	uint32_t episode;
	bool no_caps;
	uint32_t held_drop_reason;
	bool inject_done;
	bool live_seen;
	uint32_t replay_gen;
	uint32_t replay_end_gen;
	uint64_t replay_end_left;
	uint32_t announce_req;
	uint32_t learn_forget_req;
	uint32_t drain_req;
	int32_t drain_qlen;
	uint32_t drain_done;
	uint64_t drain_mark;
	uint64_t held_put;
	uint64_t held_taken;
	uint64_t held_pkts[3];
	uint64_t held_bytes[3];
	uint32_t requeue_req;
	uint32_t requeue_done;
	uint64_t requeue_end;
	uint64_t requeue_tunnel_end;
	bool dedup_active;
	uint32_t dedup_epoch;
	bool src_hold_on;
};

/**
 * struct vs_dp_port - a port's buffering state (vm->dp)
 * @hs:		the shared words above
 * @held:	lcore ring (see the theory of operation)
 * @inject:	main loop -> lcore ring
 * @acct:	lcore only: the caps' accounting of the episode
 * @pending:	lcore only: a burst the guest's RX ring has not taken yet
 * @pace:	lcore only: the replay's pace (dp_replay.c)
 * @stats_at, @rx_nombuf, @rx_missed: lcore only: the uplink's own drop
 *		counters at the last read (vs_dp_poll_port())
 * @uplink_kernel_missed: main loop stores (relaxed), lcore loads: what the
 *		host kernel dropped on its way to a net_tap uplink
 *		(vs_uplink_watch_new()); @rx_kernel_missed: lcore only, its value
 *		at the last read
 * @rx_last:	lcore only: frames the last pass received (uplink-gap-max-us)
 * @rx_polled_at: lcore only: when it last polled the uplink
 *		(uplink-gap-max-us)
 * @rx_emptied_at: lcore only: when a poll last left the uplink's queues
 *		empty (the slack of the next burst's arrival times,
 *		dp_stamp_arrival())
 * @announce_done: lcore only: announce requests served
 * @learn_forget_done: lcore only: forget requests served
 * @learn:	lcore only (but for its counts): the addresses the VM
 *		transmits from (learn.h), with announce=all
 * @dedup:	lcore only (allocated and freed by the main loop while no
 *		lcore sees the port)
 * @flow:	the port's flow-policy table and counters: main stores
 *		(release), lcore loads (acquire) once per burst (dp_flow.h)
 * @facct:	lcore only: the rules' caps accounting of the episode
 * @tcp:	TCP connection table and reset requests (dp_tcp.h), allocated
 *		and freed like @dedup
 * @hold:	destination: sources' direct frames held for their barrier
 *		(dp_source_hold.h): lcore only but for its release queue;
 *		allocated and freed like @dedup
 * @drain_ticket, @drain_begun, @drain_settled, @drain_read, @drain_depth:
 *		lcore only: the drain ticket it serves (the last it saw; begun
 *		until it is answered), a bit per uplink
 *		queue settled for it, the frames read from each queue since it
 *		first saw it, and how many each could hold then (the op
 *		uplink_depth); restarted by a newer ticket (dp_drain_begin())
 * @uplink_driver, @uplink_rx_desc: main, before the port is published
 *		(vs_uplink_rx_table()), read-only after: the uplink's PMD name
 *		and each RX queue's descriptors, for the drain's depth
 *		(vs_uplink_rx_depth())
 */
/* Lcore-private: the arrival rate and the replay's token bucket */
struct vs_dp_pace {
	uint64_t win_tsc;		/* start of the current rate window */
	uint64_t win_frames;		/* frames the uplink received in it */
	uint64_t win_tun;		/* frames the tunnel brought in it */
	uint64_t prev_pps;		/* rate of the window before */
	uint64_t busy_pps;		/* fastest uplink window of the last stretch
					 * of traffic in this buffering episode */
	uint32_t busy_episode;		/* hs.episode busy_pps belongs to */
	bool quiet;			/* the window before saw no uplink frame */
	uint64_t tun_seen;		/* stats.tunnel_rx_frames counted so far */
	uint64_t live_at_win;		/* stats.rx_pkts - replayed_pkts at the
					 * window's start (their fastest window:
					 * stats.live_peak_pps) */
	uint64_t replayed_at_win;	/* stats.replayed_pkts then (their rate in
					 * the last window: replay_delivered_pps) */
	uint64_t tsc;			/* last refill of the bucket */
	double credit;			/* frames the replay may deliver now */
};

/*
 * Lcore-private: the RX ring bound's timed valve and settle check
 * (dp_ring_bound.c); zero while the bound has never held anything back
 */
struct vs_dp_ring_bound {
	uint64_t stuck_since;		/* TSC of the first refused offer (or the
					 * last timed valve) since the guest last
					 * reposted; 0: not stuck */
	uint64_t wait;			/* TSC cycles the next timed valve waits */
	uint32_t settle_polls;		/* dp_ring_settled() calls since an offer */
	uint16_t free_after;		/* free entries left by the last offer */
	uint16_t fired;			/* frames the timed valve let through
					 * since the guest last reposted */
	uint16_t extra;			/* entries above the bound the guest
					 * proved it needs (learned) */
};

struct vs_dp_port {
	struct vs_dp_handshake hs;
	struct vs_dp_pace pace;
	uint64_t stats_at;		/* lcore: TSC of the last uplink stats read */
	uint64_t rx_polled_at;		/* lcore: TSC of the last uplink poll */
	uint64_t rx_emptied_at;		/* lcore: ... of the last that emptied it */
	uint64_t rx_nombuf, rx_missed;	/* lcore: uplink counters then */
	uint64_t uplink_kernel_missed;	/* main stores: net_tap kernel drops (uplink.h) */
	uint64_t rx_kernel_missed;	/* lcore: uplink_kernel_missed then */
	unsigned int rx_last;		/* lcore: frames the last pass received */
	struct rte_ring *held;
	struct rte_ring *inject;
	struct vs_dp_buffer_acct acct;
	struct vs_dp_pending pending;
	bool ring_bound_holding;	/* lcore: the RX ring bound held frames
					 * back in this replay (dp_ring_bound.c) */
	struct vs_dp_ring_bound rb;	/* lcore: the bound's valves */
	bool own_replay;		/* lcore: it started this replay itself
					 * (ring full, bound, adopted held) */
	uint32_t own_replay_episode;	/* lcore: hs.episode at that switch */
	uint32_t own_replay_gen;	/* lcore: hs.replay_gen then */
	struct vs_dp_replay_mark mark;	/* lcore: where the main loop's
					 * replay ends (dp_replay.c) */
	uint32_t requeue_answered;	/* lcore: the last requeue_done it stored */
	uint32_t requeue_ticket;	/* lcore: the requeue_req this poll loaded */
	uint32_t announce_done;
	uint32_t learn_forget_done;
	struct vs_dp_dedup *dedup;
	struct vs_dp_direct *direct;	/* destination: sources seen directly */
	struct vs_dp_source_hold *hold;	/* destination: held for their barrier */
	struct vs_dp_flow *flow;
	struct vs_flow_acct facct;
	struct vs_learn learn;
	struct vs_dp_tcp *tcp;
	uint32_t drain_ticket;
	bool drain_begun;
	uint32_t drain_settled;
	uint32_t drain_read[VS_MAX_QUEUES];
	uint32_t drain_depth[VS_MAX_QUEUES];
	const char *uplink_driver;
	uint16_t uplink_rx_desc[VS_MAX_QUEUES];
};

/**
 * enum vs_dp_drain_state - how far a drain request (a barrier) got
 * @VS_DP_DRAIN_PENDING: the lcore has not served the request yet
 * @VS_DP_DRAIN_ANSWERED: it emptied the uplink's queues into held, but
 *		held has not been taken up to that point yet
 * @VS_DP_DRAIN_REACHED: every frame that was in held then has been taken
 */
enum vs_dp_drain_state {
	VS_DP_DRAIN_PENDING,
	VS_DP_DRAIN_ANSWERED,
	VS_DP_DRAIN_REACHED,
};

/* --- life cycle (main loop, while no lcore sees the port) --- */

/**
 * vs_dp_port_init() - create a port's rings and duplicate filter
 * @vm:		port, not yet published
 * @held_size:	entries of held (a power of two)
 * @inject_size: entries of inject (a power of two)
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_dp_port_init(struct vs_vm *vm, uint32_t held_size, uint32_t inject_size,
			 GError **error);

/**
 * vs_dp_port_fini() - free the rings and every frame still in them
 * @vm:		port that no lcore can see any more
 */
void vs_dp_port_fini(struct vs_vm *vm);

/* --- mode and episodes (main loop; vs_dp_device_gone(): vhost thread) --- */

/**
 * vs_dp_mode() - the port's current mode
 * @vm:		port
 *
 * Return: enum vs_dp_mode
 */
enum vs_dp_mode vs_dp_mode(const struct vs_vm *vm);

/**
 * vs_dp_set_live() - back to live delivery; frames left in held are the
 * lcore's to deliver first or to drop (see dp_adopt_held())
 * @vm:		port
 */
void vs_dp_set_live(struct vs_vm *vm);

/**
 * vs_dp_leave_buffer() - back to live delivery if the port buffers: a
 * replay the lcore runs (its own, or a migration's tail, mode REPLAY with
 * nobody else to end it) ends itself, since a LIVE stored over it would let
 * the rest of a poll's live frames overtake what it still holds (review
 * 81, 12.1)
 * @vm:		port
 */
void vs_dp_leave_buffer(struct vs_vm *vm);

/**
 * vs_dp_buffer_start() - start buffering, a new episode unless the port
 * already buffers with caps since its device went away
 * @vm:		port
 * @caps:	apply the caps and class policies (false: ring size only)
 */
void vs_dp_buffer_start(struct vs_vm *vm, bool caps);

/**
 * vs_dp_device_gone() - the device went away: buffer from now on, in a new
 * episode, unless the main loop already set another mode (vhost thread)
 * @vm:		port
 */
void vs_dp_device_gone(struct vs_vm *vm);

/**
 * vs_dp_buffer_seen() - has the lcore answered the last buffering episode:
 * seen BUFFER and moved the frames that were on their way to the guest to
 * held's front (@requeue_done caught up with @requeue_req)
 * @vm:		port
 *
 * Return: true once it has (or when no episode asked it to: buffering off,
 * or vs_dp_buffer_start() found the port buffering already and the lcore
 * answered that episode); everything the lcore did before its answer is
 * visible to the caller then
 */
bool vs_dp_buffer_seen(const struct vs_vm *vm);

/**
 * vs_dp_set_no_caps() - switch the caps of the current episode off (straggler
 * forwarding) or back on
 * @vm:		port
 * @no_caps:	true: held is bounded by its size only
 */
void vs_dp_set_no_caps(struct vs_vm *vm, bool no_caps);

/**
 * vs_dp_replay_start() - deliver inject, then held, then live frames
 * @vm:		port
 */
void vs_dp_replay_start(struct vs_vm *vm);

/**
 * vs_dp_replay_skip() - a resume with nothing to replay: live at once,
 * and the replay counts as finished
 * @vm:		port
 */
void vs_dp_replay_skip(struct vs_vm *vm);

/**
 * vs_dp_inject_close() - nothing more goes into inject ahead of held
 * @vm:		port
 */
void vs_dp_inject_close(struct vs_vm *vm);

/**
 * vs_dp_inject_closed() - has inject been closed for this replay
 * @vm:		port
 *
 * Return: true once vs_dp_inject_close() was called (or the lcore started
 * a replay of its own)
 */
bool vs_dp_inject_closed(const struct vs_vm *vm);

/**
 * vs_dp_live_seen() - did the lcore hold a live frame behind this replay
 * @vm:		port
 *
 * Return: true if it did
 */
bool vs_dp_live_seen(const struct vs_vm *vm);

/**
 * vs_dp_replay_finished() - is the replay the main loop started last over
 * @vm:		port
 *
 * Over: every frame it owed the guest - the pending burst, what was
 * injected, and what held held when the lcore first found inject empty
 * after inject_done (the mark) - has left (delivered, or counted as a
 * drop).  Live frames held behind the mark may still drain then, with
 * the mode still REPLAY (a guest that reads less than its traffic's
 * rate: the tail, dp_replay.c); the lcore switches to LIVE when they
 * have.  Without such frames the replay ends with that switch, as it
 * always did.
 *
 * Return: true once it is
 */
bool vs_dp_replay_finished(const struct vs_vm *vm);

/**
 * vs_dp_replay_end_left() - the frames left held behind the replay started
 * last when it ended at its mark (its tail; 0 if it ended with held empty)
 * @vm:		port
 *
 * Return: count, valid once vs_dp_replay_finished()
 */
uint64_t vs_dp_replay_end_left(const struct vs_vm *vm);

/**
 * vs_dp_held_mark() - held's put position now: every frame in held was put
 * before it (counted as @held_put counts)
 * @vm:		port
 *
 * Return: the position, for vs_dp_held_reached()
 */
uint64_t vs_dp_held_mark(const struct vs_vm *vm);

/**
 * vs_dp_held_reached() - have the frames held before @mark all left held
 * (delivered, streamed or counted as drops)
 * @vm:		port
 * @mark:	from vs_dp_held_mark()
 *
 * Return: true once held_taken passed @mark
 */
bool vs_dp_held_reached(const struct vs_vm *vm, uint64_t mark);

/* --- requests (main loop) --- */

/**
 * vs_dp_announce() - ask the lcore to announce the VM on its uplink (one
 * round: see @announce_req)
 * @vm:		port
 */
void vs_dp_announce(struct vs_vm *vm);

/**
 * vs_dp_learn_forget() - ask the lcore to forget the addresses it learned
 * from the VM's TX (see @learn_forget_req): the VM left, and what it used
 * here must not be announced when it comes back
 * @vm:		port
 */
void vs_dp_learn_forget(struct vs_vm *vm);

/**
 * vs_dp_drain_request() - ask the lcore to empty the uplink's RX queues
 * into held and to mark how far it filled held then
 * @vm:		port
 *
 * Return: the request's ticket, for vs_dp_drain_state()
 */
uint32_t vs_dp_drain_request(struct vs_vm *vm);

/**
 * vs_dp_drain_state() - how far the drain request @ticket got
 * @vm:		port
 * @ticket:	from vs_dp_drain_request(); the answer to a later request
 *		answers it too (against the later, stricter mark)
 *
 * Return: enum vs_dp_drain_state
 */
enum vs_dp_drain_state vs_dp_drain_state(const struct vs_vm *vm, uint32_t ticket);

/* --- the rings (main loop) --- */

/**
 * vs_dp_held_take() - take frames from held, oldest first
 * @vm:		port
 * @pkts:	output; the caller owns the frames
 * @n:		room in @pkts
 *
 * Return: frames taken; 0 also while the lcore moves the frames that were
 * on their way to the guest back to the front of held (try again later)
 */
unsigned int vs_dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n);

/**
 * vs_dp_held_take_requeued() - take, from held, only the tunnelled frames
 * the lcore moved back to its front at the start of a buffering episode
 * (a replay's frames on their way to the guest: its pending burst if it
 * came from inject, the inject ring; and those of an earlier requeue
 * nobody took yet), oldest first.  They were taken from the replay queue
 * before the frames it still holds, so they go first: the source streams
 * them ahead of it (review 72 F1), a rollback and a cut replay put them
 * at its head (handover_rollback.c).  The direct frames moved back (a
 * burst the lcore had taken from held) stay in held, behind them, and go
 * after the replay queue, as held's frames do (review 92, 2).
 * @vm:		port
 * @pkts:	output; the caller owns the frames
 * @n:		room in @pkts
 *
 * Return: frames taken (0: none left of them, or the lcore still moves
 * them: vs_dp_held_requeued_left() tells)
 */
unsigned int vs_dp_held_take_requeued(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n);

/**
 * vs_dp_held_requeued_left() - are some of the tunnelled frames the lcore
 * moved back to the front of held (or is it moving them) still there
 * @vm:		port
 *
 * Return: true if so
 */
bool vs_dp_held_requeued_left(const struct vs_vm *vm);

/**
 * vs_dp_held_drop_all() - drop everything in held, counted (main loop
 * counters) under @reason; a burst the lcore puts there behind this drain
 * is counted under the same reason
 * @vm:		port
 * @reason:	drop reason
 */
void vs_dp_held_drop_all(struct vs_vm *vm, enum vs_drop_reason reason);

/**
 * vs_dp_held_empty() - is held empty
 * @vm:		port
 *
 * Return: true if no frame is in held
 */
bool vs_dp_held_empty(const struct vs_vm *vm);

/**
 * vs_dp_inject_put() - queue one frame for delivery ahead of held
 * @vm:		port
 * @m:		frame; on success the lcore owns it
 *
 * Return: 0, or -ENOBUFS if inject is full (the caller keeps @m)
 */
int vs_dp_inject_put(struct vs_vm *vm, struct rte_mbuf *m);

/**
 * vs_dp_inject_full() - has inject no room for one more frame
 * @vm:		port
 *
 * Return: true if it is full
 */
bool vs_dp_inject_full(const struct vs_vm *vm);

/**
 * vs_dp_buffered_now() - frames in the port's rings and pending burst
 * @vm:		port
 *
 * Return: a snapshot (the lcore may be moving frames meanwhile)
 */
uint64_t vs_dp_buffered_now(const struct vs_vm *vm);

/* --- duplicate filter (main loop) --- */

/**
 * vs_dp_dedup_open() - start a new window of the duplicate filter
 * @vm:		port
 */
void vs_dp_dedup_open(struct vs_vm *vm);

/**
 * vs_dp_dedup_close() - stop filtering
 * @vm:		port
 */
void vs_dp_dedup_close(struct vs_vm *vm);

/**
 * vs_dp_arrival_init() - register the mbuf field that holds a frame's
 * arrival time (once; vs_dp_port_init() calls it)
 *
 * Return: true on success, false if DPDK has no room for the field
 */
bool vs_dp_arrival_init(void);

/**
 * vs_dp_arrival_age_us() - how long ago a frame reached this host's uplink
 * @m:		a frame taken from held
 *
 * Return: microseconds, or -1 if the frame has no arrival time or is older
 * than VS_DP_ARRIVAL_AGE_MAX_US
 */
int64_t vs_dp_arrival_age_us(struct rte_mbuf *m);

/**
 * vs_dp_arrival_set_age() - give a frame to inject an arrival time in the
 * lcore's clock: @age_us microseconds ago
 * @m:		frame
 * @age_us:	its age; < 0 or over VS_DP_ARRIVAL_AGE_MAX_US (an hour): unknown
 *		(the filter compares it regardless of time)
 */
void vs_dp_arrival_set_age(struct rte_mbuf *m, int64_t age_us);

#endif /* VS_DP_HANDSHAKE_H */
