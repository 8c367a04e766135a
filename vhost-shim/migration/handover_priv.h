/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_priv.h - what the handover's files share, and nobody else
 *
 * Theory of operation: the handover is one module in several files.
 * handover.c runs the state machine's entry actions and the public API of
 * handover.h; handover_pump.c moves frames between the lcore's rings, the
 * tunnel and the replay queue, and owns the replay's phase;
 * handover_overflow.c reports buffer-full drops (BUFFER_OVERFLOW);
 * handover_stragglers.c forwards stragglers source by source within
 * linger-ms and reports the sources that arrive directly;
 * handover_disc.c is the [discovery] glue; handover_tun.c holds the
 * callbacks the tunnel makes (vs_ho_tun_*(), declared in handover.h),
 * which turn tunnel messages into migration events and frames into the
 * replay queue; handover_source_hold.c is the destination's half of the
 * per-source barrier.  All run on the
 * main loop thread, which owns every struct vs_handover.
 */
#ifndef VS_HANDOVER_PRIV_H
#define VS_HANDOVER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "enum.h"
#include "flow_key.h"
#include "migration.h"

struct vs_vm;
struct vs_flow_src;
struct vs_flow_src_entry;
struct vs_tun_stream;
struct vs_tun_in;

/**
 * enum ho_replay_phase - how far the tunnelled part of a replay is
 * (vm->ho->replay_phase; main loop only)
 * @HO_REPLAY_TUNNEL_OPEN: tunnelled frames may still come (an arrival's
 *	replay, from the resume on); the lcore has held no live frame behind
 *	the replay yet.  The zero value: a new port starts here.
 * @HO_REPLAY_LIVE_SEEN: the lcore held a live frame behind the replay:
 *	LIVE_SEEN went to the source (and goes again to a stream that
 *	reconnects), whose BARRIER or END is awaited, replay-hold-ms at most
 * @HO_REPLAY_TUNNEL_DONE: no tunnelled frame is awaited any more: once the
 *	replay queue is empty the inject ring closes and the lcore finishes
 *	the replay, then live frames flow
 * @HO_REPLAY_NUM_PHASES: sentinel
 *
 * Transitions (ho_replay_next(), one input each; see handover_pump.c):
 *   any        --START_ARRIVAL-->  TUNNEL_OPEN   dst-expecting -> replaying
 *   any        --START_LOCAL---->  TUNNEL_DONE   resume after a pause, rollback
 *   TUNNEL_OPEN --LIVE_SEEN----->  LIVE_SEEN     the lcore saw a live frame
 *   LIVE_SEEN  --HOLD_EXPIRED--->  TUNNEL_DONE   no BARRIER within replay-hold-ms
 *   any        --STREAM_DONE---->  TUNNEL_DONE   BARRIER or END received
 *   any        --NO_STREAM------>  TUNNEL_DONE   no stream connected now,
 *                                                replay-hold-ms after the resume
 * Any other input leaves the phase as it is.  A replay of the baseline (no
 * buffering, nothing held) starts no phase: the lcore skips it.
 */
enum ho_replay_phase {
	HO_REPLAY_TUNNEL_OPEN,
	HO_REPLAY_LIVE_SEEN,
	HO_REPLAY_TUNNEL_DONE,
	HO_REPLAY_NUM_PHASES
};
VS_ENUM_DECL(ho_replay_phase, enum ho_replay_phase);

/**
 * enum ho_replay_input - what moves a replay's phase (ho_replay_next())
 * @HO_REPLAY_IN_START_ARRIVAL: a replay of an arrival starts, its source's
 *	stream still to come or to finish
 * @HO_REPLAY_IN_START_LOCAL: a replay of local frames only starts (resume
 *	after a pause, rollback): complete from the start
 * @HO_REPLAY_IN_LIVE_SEEN: the lcore held a live frame behind the replay
 * @HO_REPLAY_IN_HOLD_EXPIRED: replay-hold-ms passed since LIVE_SEEN went out
 * @HO_REPLAY_IN_STREAM_DONE: the source's BARRIER or END came
 * @HO_REPLAY_IN_NO_STREAM: replay-hold-ms after the resume, no stream is
 *	connected now (none came, or it was cut and has not reconnected;
 *	vm->ho->in is NULL, whatever vm->ho->in_state says)
 * @HO_REPLAY_NUM_INPUTS: sentinel
 */
enum ho_replay_input {
	HO_REPLAY_IN_START_ARRIVAL,
	HO_REPLAY_IN_START_LOCAL,
	HO_REPLAY_IN_LIVE_SEEN,
	HO_REPLAY_IN_HOLD_EXPIRED,
	HO_REPLAY_IN_STREAM_DONE,
	HO_REPLAY_IN_NO_STREAM,
	HO_REPLAY_NUM_INPUTS
};
VS_ENUM_DECL(ho_replay_input, enum ho_replay_input);

/**
 * enum ho_in_state - the destination's claim on an incoming stream
 * (vm->ho->in_state)
 * @HO_IN_NONE: no stream of this migration (none accepted yet, or it
 *	ended or was forgotten): outside dst-expecting and replaying a
 *	stream is refused
 * @HO_IN_ADMITTED: a stream was accepted for this migration and neither
 *	ended nor was forgotten; vm->ho->in is it while it is connected, NULL
 *	while it is cut: a reconnect may resume it, in any state
 * @HO_IN_NUM_STATES: sentinel
 *
 * NONE -> ADMITTED when vs_ho_tun_open() accepts a stream; ADMITTED ->
 * NONE in ho_in_forget(): END, ABORT, dst-expecting left for none
 * (cancel, peer-abort, expect-expired), a new expectation.  The resume
 * (dst-expecting -> replaying) keeps it admitted: the replay awaits it.
 */
enum ho_in_state {
	HO_IN_NONE,
	HO_IN_ADMITTED,
	HO_IN_NUM_STATES
};

/**
 * enum ho_barrier - the source's answer to LIVE_SEEN (vm->ho->barrier)
 * @HO_BARRIER_NONE: no BARRIER to send
 * @HO_BARRIER_PENDING: LIVE_SEEN came: the pump sends the BARRIER once the
 *	lcore drained the uplink's queues into the stream (barrier_drain) and
 *	the replay queue is streamed past its end then (barrier_q_mark), or
 *	after HO_BARRIER_WAIT_MAX_US
 * @HO_BARRIER_NUM_STATES: sentinel
 *
 * NONE -> PENDING in ho_request_barrier(); PENDING -> NONE when the pump
 * sends it, or when a new outgoing stream opens.
 */
enum ho_barrier {
	HO_BARRIER_NONE,
	HO_BARRIER_PENDING,
	HO_BARRIER_NUM_STATES
};

/* Source: a BARRIER or SOURCE_BARRIER whose drain the lcore has not
 * answered (or the stream has not taken held up to its mark) in this
 * long: the BARRIER goes anyway, counted; a SOURCE_BARRIER is abandoned */
#define HO_BARRIER_WAIT_MAX_US	100000

/* Source: reports waiting for their SOURCE_BARRIER
 * (handover_source_barrier.c): at most this many (the destination reports
 * a source once a window; VS_DP_DIRECT_SLOTS notes); more are abandoned */
#define HO_SRC_BARRIER_MAX	1024

/* Destination: SOURCE_BARRIERs waiting for the replay queue
 * (handover_source_hold.c): at most this many; more are ignored, counted */
#define HO_SRC_REL_MAX	64

/* One of them: release @addr once no frame <= @last_seq waits to be injected */
struct ho_src_rel {
	uint64_t last_seq;
	uint8_t af;			/* enum vs_flow_af */
	uint8_t addr[16];
};

/**
 * struct vs_handover - migration state of one port beyond the state
 * machine (vm->ho, main loop only)
 */
struct vs_handover {
	struct vs_vm *vm;
	char *peer;			/* source: where the VM goes */
	char *expect_from;		/* destination: only this peer (NULL: any) */
	struct vs_tun_stream *out;	/* source stream */
	struct vs_tun_in *in;		/* destination stream (owned by tunnel) */
	uint64_t in_next_seq;		/* destination: first seq not received */
	enum ho_in_state in_state;	/* destination: may @in (re)connect */
	guint expect_timer;		/* destination: expect-timeout-ms */
	gint64 armed_at;		/* destination: last migrate-expect */
	guint resume_timer;		/* destination, armed while its device
					 * runs: the resume waits for the lcore
					 * (handover_resume.c) */
	gint64 resume_asked_at;		/* ... since then */
	int resume_vid;			/* ... for this device */
	enum ho_barrier barrier;	/* source: LIVE_SEEN came, BARRIER not sent */
	gint64 barrier_asked_at;
	uint32_t barrier_drain;		/* the vm->drain_req it waits for */
	uint64_t barrier_q_mark;	/* ... and the replay_q_taken to reach */
	gint64 live_seen_at;		/* replay: LIVE_SEEN sent (HO_REPLAY_LIVE_SEEN) */
	enum ho_replay_phase replay_phase;
	bool replay_on;			/* a replay started and the lcore has not
					 * finished it (it may outlast REPLAYING:
					 * migrated on meanwhile, src-active) */
	bool replay_cut;		/* a buffering episode (paused, dst-expecting)
					 * began: the tunnelled frames the lcore
					 * moved back go ahead of replay_q at the
					 * next replay (handover_rollback.c) */
	GQueue replay_q;		/* struct vs_tun_frame *, to inject in order */
	uint64_t replay_q_bytes;
	gint64 t_down, t_up;
	uint64_t replayed_at_up;	/* stats.replayed_pkts at resume */
	gint64 t_first_replay;		/* first replayed frame seen since t_up, or 0 */
	/* catch-up-us: how fast the backlog shrinks, sampled every
	 * VS_HO_SHRINK_WINDOW_MS while a replay runs (ho_shrink_sample()) */
	guint shrink_timer;
	gint64 shrink_up;		/* the t_up of the replay measured */
	bool shrink_closed;		/* inject was closed at the window's start */
	bool shrink_measured;		/* @shrink_pps is a whole window's */
	gint64 shrink_t0;		/* the window's start */
	uint64_t shrink_b0;		/* vs_ho_buffered_now() then */
	int64_t shrink_pps;		/* frames per second it shrank by (< 0: grew) */
	guint hold_timer, linger_timer;
	/* source: per-source straggler switching (handover_stragglers.c) */
	bool src_on;			/* forwarding stragglers: @src decides */
	struct vs_flow_src *src;	/* made on the first forwarding */
	struct vs_flow_src_entry *src_slots;
	uint64_t src_fired_seen;	/* src->stats already added to the port's */
	uint64_t src_timeouts_seen;
	/* source: per-source barriers (handover_source_barrier.c) */
	uint64_t replay_q_taken;	/* frames taken from replay_q into the
					 * stream (ho_pump_to_tunnel()) or
					 * dropped, counted, ever */
	GQueue src_bar;			/* reports waiting, in arrival order */
	uint32_t src_bar_ticket;	/* the drain ticket out for them */
	uint64_t src_bar_q_mark;	/* ... and replay_q_taken to reach */
	bool src_bar_ticket_out;
	gint64 src_bar_ticket_at;
	unsigned int announce_step;
	guint announce_timer;
	guint dedup_timer;
	uint64_t tail_left;		/* frames held behind the last replay's
					 * mark (last-replay-left-held) */
	uint64_t tail_mark;		/* held's put position at its REPLAY_DONE:
					 * the tail has drained once held passed it */
	bool dedup_tail_marked;		/* the window's close waits for a tail: */
	uint64_t dedup_tail_mark;	/* held's put position then (stragglers.c) */
	uint64_t overflow_reported;	/* buffer-full drops at the last
					 * BUFFER_OVERFLOW event sent */
	/* destination: per-source barriers (handover_source_hold.c) */
	unsigned int src_reports_window;	/* SOURCE_DIRECTs sent this window */
	unsigned int src_barriers_window;	/* SOURCE_BARRIERs taken this window */
	struct ho_src_rel src_rel[HO_SRC_REL_MAX];	/* a FIFO */
	unsigned int src_rel_head, src_rel_n;
	bool src_release_all_due;	/* END: release every source once
					 * the replay queue is empty */
	bool src_hold_armed;		/* holds were allowed since the last
					 * release of every source: END and
					 * ABORT have something to release */
	/* the TCP table's journey (handover_conns.c) */
	bool conns_out;			/* source: a copy asked for, not sent yet */
	GArray *conns_in;		/* destination: struct vs_tcp_ct_entry
					 * waiting for the lcore's import */
	GHashTable *conns_in_idx;	/* ... each connection once: its 4-tuple
					 * -> index + 1 (a resent copy replaces) */
};

/* --- handover.c (and the window functions of handover_stragglers.c) --- */

/* The tunnel streams go through (vs_ho_set_tunnel()), or NULL */
extern struct vs_tun *ho_tun;

/**
 * ho_feed() - feed an event to @vm's state machine and run the entry
 * actions of the state it moves to; an event the state does not take is
 * logged and ignored
 * @vm:		port
 * @ev:		event
 */
void ho_feed(struct vs_vm *vm, enum vs_mig_event ev);

/**
 * ho_in_forget() - destination: the incoming stream is no longer this
 * port's (the expectation is over, or a new one starts): frames it still
 * brings are discarded and counted (tunnel-frames-discarded), never
 * injected, and it may not resume
 * @vm:		port
 */
void ho_in_forget(struct vs_vm *vm);

/**
 * ho_resume_running() - destination, armed while its device runs: feed
 * DEVICE_UP once the port's lcore has answered the buffering episode that
 * dst-expecting started (vs_dp_buffer_seen()): at once if it has, else
 * from a short timer, bounded (handover_resume.c)
 * @vm:		port in dst-expecting
 */
void ho_resume_running(struct vs_vm *vm);

/**
 * ho_take_back() - rollback: the stream's frames (ABORT sent, the stream
 * freed) and the lcore's moved-back ones, into the replay queue's head, in
 * order (handover_rollback.c)
 * @vm:		port
 */
void ho_take_back(struct vs_vm *vm);

/**
 * ho_cut_replay() - a buffering episode begins (paused, dst-expecting):
 * the tunnelled frames the lcore moves back will go ahead of the replay
 * queue at the next replay (handover_rollback.c)
 * @vm:		port
 */
void ho_cut_replay(struct vs_vm *vm);

/**
 * ho_take_back_cut() - the replay after a cut one (a resume after a pause,
 * an arrival), from the pump: the lcore's moved-back frames into the
 * replay queue's head, ahead of what it still holds, in order, once the
 * lcore answered the requeue (handover_rollback.c)
 * @vm:		port replaying
 *
 * Return: false while the pump must wait for the lcore (nothing into
 * inject, inject not closed), true otherwise
 */
bool ho_take_back_cut(struct vs_vm *vm);

/**
 * ho_emit_event() - send a control event through the handover's event
 * callback (main.c)
 * @event:	event name
 * @vm:		the port it is about, or NULL (a peer event)
 * @data:	JSON object, consumed
 *
 * Return: false if it was not sent (rate-limited, or no callback)
 */
bool ho_emit_event(const char *event, struct vs_vm *vm, JsonObject *data);

/**
 * ho_emit() - send a control event about @vm (its "port" member added)
 * @vm:		port
 * @event:	event name
 * @data:	JSON object, consumed, or NULL for an empty one
 *
 * Return: false if the event was not sent (rate-limited, or no listener)
 */
bool ho_emit(struct vs_vm *vm, const char *event, JsonObject *data);

/**
 * ho_has_event_cb() - has anyone asked for the handover's events
 *
 * Return: true if vs_ho_set_event_cb() set a callback
 */
bool ho_has_event_cb(void);

/**
 * ho_announce() - destination, at the resume: announce the VM now and at
 * the next steps (handover_announce.c)
 * @vm:		port
 */
void ho_announce(struct vs_vm *vm);

/**
 * ho_announce_stop() - the VM leaves (or the port goes): no more steps
 * @vm:		port
 */
void ho_announce_stop(struct vs_vm *vm);

/**
 * ho_dedup_open() - destination, at the resume: the window in which
 * frames may come both ways opens (the duplicate filter, and the notes of
 * sources that arrive directly), until the source ENDs, or linger-ms +
 * hold-ms (handover_stragglers.c)
 * @vm:		port
 */
void ho_dedup_open(struct vs_vm *vm);

/**
 * ho_dedup_close() - the window closes now
 * @vm:		port
 */
void ho_dedup_close(struct vs_vm *vm);

/**
 * ho_dedup_close_later() - stop filtering duplicate frames in a moment,
 * once the pump pushed the last tunnelled frame
 * @vm:		port
 */
void ho_dedup_close_later(struct vs_vm *vm);

/* --- handover_pump.c --- */

/**
 * ho_replay_next() - the phase a replay moves to (enum ho_replay_phase
 * documents the transitions); pure
 * @cur:	current phase
 * @in:		what happened
 *
 * Return: the new phase (@cur if @in does not move it)
 */
enum ho_replay_phase ho_replay_next(enum ho_replay_phase cur, enum ho_replay_input in);

/**
 * ho_replay_feed() - move @vm's replay phase (the only writer of
 * vm->ho->replay_phase); logs a change at debug level
 * @vm:		port with a handover
 * @in:		what happened
 */
void ho_replay_feed(struct vs_vm *vm, enum ho_replay_input in);

/**
 * ho_needs_pump() - has @vm frames for the pump to move, or a replay to
 * finish
 * @vm:		port with a handover
 *
 * Return: true if the pump must run for it
 */
bool ho_needs_pump(const struct vs_vm *vm);

/**
 * ho_shrink_start() - a replay starts: sample its backlog every
 * VS_HO_SHRINK_WINDOW_MS for as long as it runs (vs_ho_replay_running(),
 * its tail included), for catch-up-us (vs_ho_backlog_shrink())
 * @vm:		port
 */
void ho_shrink_start(struct vs_vm *vm);

/**
 * ho_shrink_sample() - one sample: a new replay, or inject's close, opens
 * a window; one at least half a window old closes it (the rate is then
 * the backlog's change over it) and opens the next
 * @vm:		port
 * @now:	g_get_monotonic_time()
 */
void ho_shrink_sample(struct vs_vm *vm, gint64 now);

/**
 * ho_kick_pump() - start the pump timer unless it runs; it stops itself
 * once no VM has frames to move
 */
void ho_kick_pump(void);

/**
 * ho_pump_to_tunnel() - source: move frames from the lcore's held ring
 * to the outgoing stream, as many as the tunnel takes (a budget per call)
 * @vm:		port, with an outgoing stream
 */
void ho_pump_to_tunnel(struct vs_vm *vm);

/**
 * ho_request_barrier() - source: LIVE_SEEN came; the pump sends the BARRIER
 * once the lcore has emptied the uplink's queues into the held ring and the
 * pump has streamed the held ring up to that point
 */
void ho_request_barrier(struct vs_vm *vm);

/* --- handover_stragglers.c --- */

/**
 * ho_stragglers_begin() - source: the VM resumed at the destination:
 * every source's stragglers are tunnelled from now, each until its switch
 * (flow_src.h), all until linger-ms (LINGER_EXPIRED)
 * @vm:		port entering src-forwarding
 */
void ho_stragglers_begin(struct vs_vm *vm);

/**
 * ho_stragglers_end() - source: forwarding is over (or never began): the
 * linger timer is cleared, the table no longer decides
 * @vm:		port
 */
void ho_stragglers_end(struct vs_vm *vm);

/**
 * ho_stragglers_free() - free what begin made (port removal)
 * @ho:		the port's handover
 */
void ho_stragglers_free(struct vs_handover *ho);

/**
 * ho_stragglers_drop_held() - source, forwarding ends (LINGER_EXPIRED):
 * the stragglers still in held are dropped, those of sources already
 * stopped counted as straggler-stopped, the others as peer-lost
 * @vm:		port in src-forwarding
 */
void ho_stragglers_drop_held(struct vs_vm *vm);

/**
 * ho_straggler_admit() - source: tunnel this straggler, or drop it (its
 * source was switched: counted as straggler-stopped)
 * @vm:		port in src-forwarding
 * @frame:	the frame
 * @len:	its length
 * @age_us:	how long ago it reached this host; a frame is judged by
 *		when it arrived, not when its turn came (< 0: unknown, i.e.
 *		old: tunnelled, its source's state neither read nor changed)
 *
 * Return: true to tunnel it
 */
bool ho_straggler_admit(struct vs_vm *vm, const uint8_t *frame, uint32_t len,
			int64_t age_us);

/**
 * ho_stragglers_report_direct() - source: the destination reports that
 * frames from @addr reach it directly: the trigger of every rule with
 * trigger=direct whose frames can come from @addr
 * @vm:		port
 * @af:		VS_FLOW_AF_INET or VS_FLOW_AF_INET6
 * @addr:	the address (16 bytes)
 */
void ho_stragglers_report_direct(struct vs_vm *vm, enum vs_flow_af af, const uint8_t addr[16]);

/**
 * ho_direct_wanted() - destination: may the lcore note sources for a
 * stream that can take the reports (the pump runs for them)
 * @vm:		port with a handover
 *
 * Return: true while it may
 */
bool ho_direct_wanted(const struct vs_vm *vm);

/**
 * ho_direct_pump() - destination: report the sources the lcore noted
 * (SOURCE_DIRECT), each once per window
 * @vm:		port with a handover
 */
void ho_direct_pump(struct vs_vm *vm);

/* --- handover_source_hold.c (destination) --- */

/**
 * ho_source_hold_update() - let the lcore hold sources' direct frames while
 * the admitted stream negotiated source-barrier and source-barrier-ms > 0
 * (at its admission, and when it goes)
 * @vm:		port with a handover
 */
void ho_source_hold_update(struct vs_vm *vm);

/**
 * ho_source_hold_window() - a window opens: forget the last one's reports,
 * barriers and releases
 * @vm:		port with a handover
 */
void ho_source_hold_window(struct vs_vm *vm);

/**
 * ho_source_hold_end() - END: every source is released once the replay
 * queue is empty
 * @vm:		port with a handover
 */
void ho_source_hold_end(struct vs_vm *vm);

/**
 * ho_source_hold_abort() - ABORT: every source is released now
 * @vm:		port with a handover
 */
void ho_source_hold_abort(struct vs_vm *vm);

/**
 * ho_source_releases_wanted() - do barriers wait for the replay queue
 * @vm:		port with a handover
 *
 * Return: true while ho_pump_source_releases() has work
 */
bool ho_source_releases_wanted(const struct vs_vm *vm);

/**
 * ho_pump_source_releases() - pass on to the lcore, in order, the barriers
 * whose frames have all left the replay queue (after the pump moved it
 * into inject this tick); the rest wait for the next tick
 * @vm:		port with a handover
 */
void ho_pump_source_releases(struct vs_vm *vm);

/* --- handover_source_barrier.c (source) --- */

/**
 * ho_source_barrier_report() - the destination reported @addr: send its
 * SOURCE_BARRIER once its stragglers read so far are in the stream (only
 * while forwarding on a stream that negotiated source-barrier)
 * @vm:		port with a handover
 * @af:		VS_TUN_SRC_AF_INET or VS_TUN_SRC_AF_INET6
 * @addr:	16 bytes, as the report had them
 */
void ho_source_barrier_report(struct vs_vm *vm, uint8_t af, const uint8_t addr[16]);

/**
 * ho_source_barriers_wanted() - do reports wait for their barrier
 * @vm:		port with a handover
 *
 * Return: true while ho_pump_source_barriers() has work
 */
bool ho_source_barriers_wanted(const struct vs_vm *vm);

/**
 * ho_pump_source_barriers() - send, in report order, the barriers whose
 * drain is reached (after the pump moved held into the stream this tick);
 * abandon those older than HO_BARRIER_WAIT_MAX_US; take a drain ticket for
 * the reports without one, if none is out
 * @vm:		port with a handover
 */
void ho_pump_source_barriers(struct vs_vm *vm);

/**
 * ho_source_barriers_forget() - the stream goes: its reports wait no more
 * @vm:		port with a handover
 */
void ho_source_barriers_forget(struct vs_vm *vm);

/* --- handover_overflow.c --- */

/**
 * ho_kick_overflow_watch() - start the BUFFER_OVERFLOW watch unless it
 * runs; it stops itself once no port buffers and every drop was reported
 */
void ho_kick_overflow_watch(void);

/* --- handover_conns.c --- */

struct vs_tcp_ct_entry;
struct vs_tun_conn;

/**
 * ho_conn_to_wire() - a table entry as a CONNS record
 * @e:		entry (af INET or INET6)
 * @c:		record
 */
void ho_conn_to_wire(const struct vs_tcp_ct_entry *e, struct vs_tun_conn *c);

/**
 * ho_conn_from_wire() - a CONNS record (checked) as a table entry
 * @c:		record
 * @e:		entry
 */
void ho_conn_from_wire(const struct vs_tun_conn *c, struct vs_tcp_ct_entry *e);

/**
 * ho_conns_export_begin() - source, the blackout begins: ask the lcore for
 * a copy of the TCP table, for the stream (if there is one)
 * @vm:		port with a handover
 */
void ho_conns_export_begin(struct vs_vm *vm);

/**
 * ho_conns_wanted() - a copy to send, or records to import, wait
 * @vm:		port with a handover
 *
 * Return: true while ho_pump_conns() has work
 */
bool ho_conns_wanted(const struct vs_vm *vm);

/**
 * ho_pump_conns() - send the lcore's copy once the stream takes CONNS;
 * hand the received records to the lcore once it served the last import
 * @vm:		port with a handover
 */
void ho_pump_conns(struct vs_vm *vm);

/**
 * ho_conns_drop_pending() - destination: the VM did not arrive (the
 * expectation ended, or a new one begins): the records waiting for it are
 * dropped, counted as refused
 * @vm:		port with a handover
 */
void ho_conns_drop_pending(struct vs_vm *vm);

/**
 * ho_conns_index_new() - the destination's index of the records waiting,
 * by connection (vs_handover.conns_in_idx)
 *
 * Return: an empty table
 */
GHashTable *ho_conns_index_new(void);

/**
 * ho_conns_forget() - the stream goes: its copy is not sent
 * @vm:		port with a handover
 */
void ho_conns_forget(struct vs_vm *vm);

#endif /* VS_HANDOVER_PRIV_H */
