/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_priv.h - what handover.c, handover_pump.c and handover_tun.c
 * share, and nobody else
 *
 * Theory of operation: the handover is one module in three files.
 * handover.c runs the state machine's entry actions and the public API of
 * handover.h; handover_pump.c moves frames between the lcore's rings, the
 * tunnel and the replay queue; handover_tun.c holds the callbacks the tunnel
 * makes (vs_ho_tun_*(), declared in handover.h), which turn tunnel messages
 * into migration events and frames into the replay queue.  All run on the
 * main loop thread, which owns every struct vs_handover.
 */
#ifndef VS_HANDOVER_PRIV_H
#define VS_HANDOVER_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "migration.h"

struct vs_vm;
struct vs_tun_stream;
struct vs_tun_in;

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
	bool in_ended;			/* END or BARRIER received */
	bool in_resumable;		/* a stream was accepted in this migration
					 * and not ended: a reconnect may resume it */
	guint expect_timer;		/* destination: expect-timeout-ms */
	gint64 armed_at;		/* destination: last migrate-expect */
	bool live_seen_sent;
	bool barrier_wanted;		/* source: LIVE_SEEN came, BARRIER not sent */
	gint64 barrier_asked_at;
	uint32_t barrier_drain;		/* the vm->drain_req it waits for */
	gint64 live_seen_at;
	bool replay_on;			/* a replay started and the lcore has not
					 * finished it (it may outlast REPLAYING:
					 * migrated on meanwhile, src-active) */
	GQueue replay_q;		/* struct vs_tun_frame *, to inject in order */
	uint64_t replay_q_bytes;
	gint64 t_down, t_up;
	uint64_t replayed_at_up;	/* stats.replayed_pkts at resume */
	bool first_replay_seen;
	guint hold_timer, linger_timer;
	unsigned int announce_step;
	guint announce_timer;
	guint dedup_timer;
	uint64_t overflow_reported;	/* buffer-full drops at the last
					 * BUFFER_OVERFLOW event sent */
};

/* --- handover.c --- */

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
 * ho_dedup_close_later() - stop filtering duplicate frames in a moment,
 * once the pump pushed the last tunnelled frame
 * @vm:		port
 */
void ho_dedup_close_later(struct vs_vm *vm);

/* --- handover_pump.c --- */

/**
 * ho_needs_pump() - has @vm frames for the pump to move, or a replay to
 * finish
 * @vm:		port with a handover
 *
 * Return: true if the pump must run for it
 */
bool ho_needs_pump(const struct vs_vm *vm);

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

#endif /* VS_HANDOVER_PRIV_H */
