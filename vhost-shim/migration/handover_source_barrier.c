/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_source_barrier.c - source: SOURCE_BARRIER(X, S) once every
 * straggler of X read from the uplink is in the stream (the per-source
 * barrier's source half, docs/dev/plan-per-source-barrier.md, section 2.3)
 *
 * Theory of operation: the destination reports a source X (SOURCE_DIRECT)
 * when X's first frame reaches the VM there directly, and holds X's
 * direct frames (dp_source_hold.h) until this shim's SOURCE_BARRIER(X, S)
 * says: every frame of X this shim had read when the report came is in
 * the stream at or before frame S, or was dropped and counted.  Those
 * stragglers may still wait in the uplink's RX queues, in held, or in the
 * replay queue (frames tunnelled to this host by the one before, not
 * replayed when the VM left again: ho_pump_to_tunnel() streams them first).
 * So a report takes a drain ticket (vs_dp_drain_request(): the lcore
 * answers once every uplink queue gave what it held at the request, with
 * how far it had filled held then), which also marks the replay queue's
 * end (replay_q_taken + its length), and the barrier goes once the
 * ticket is REACHED, the pump took held past the lcore's mark, each frame
 * pushed by ho_pump_to_tunnel() or dropped, counted, by
 * ho_straggler_admit(), and took the replay queue past its mark
 * (review 69, F1).  Frames the host before still sends after the report
 * are not covered: the guarantee is this host's, one hop.
 * vs_tun_stream_source_barrier() then queues it behind the last frame
 * pushed, and the tunnel writes it right behind that frame.
 *
 *   report(X) ----> waits, no ticket -----> ticketed --REACHED--> sent
 *                   (one ticket out at a      |
 *                    a time: the next one     +--HO_BARRIER_WAIT_MAX_US
 *                    when it is answered)         after the report: abandoned
 *
 * One ticket at a time: a new ticket restarts the lcore's drain counts,
 * so a ticket per report, under many reports, would keep every one of them
 * from being answered.  Reports that come while a ticket is out wait for
 * the next one, taken once it is answered (or given up after
 * HO_BARRIER_WAIT_MAX_US).  A later answer also answers an earlier ticket
 * (vs_dp_drain_state()), the replay BARRIER's included, so the two share
 * the lcore's drain; the replay BARRIER's may wait one drain more.
 *
 * Only while forwarding, on a stream whose connection negotiated the
 * source-barrier extension (vs_tun_stream_source_barrier_ok()).  Bounds:
 * at most HO_SRC_BARRIER_MAX reports wait (the destination reports a
 * source once a window); beyond that, or when a barrier could not go
 * within HO_BARRIER_WAIT_MAX_US of its report (the destination has timed
 * the source out by then: source-barrier-ms, 50 by default), the report
 * is abandoned, counted (source-barriers-abandoned) and logged at debug.
 * A barrier without the drain's guarantee would be a lie: none goes by a
 * fallback.  The stream's end (END, a rollback's ABORT, the port's
 * removal) abandons those still waiting, counted: END is a barrier for
 * every source at the destination.
 *
 * Main loop only: the reports come from the tunnel, the pump runs here.
 */
#include <string.h>

#include <glib.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "util.h"
#include "vm.h"

/* One report waiting for its barrier */
struct ho_src_barrier {
	uint8_t af;		/* VS_TUN_SRC_AF_*, as the report had it */
	uint8_t addr[16];
	bool ticketed;		/* @ticket is its drain's */
	uint32_t ticket;
	uint64_t q_mark;	/* replay_q_taken to reach */
	gint64 reported_at;
};

static void ho_source_barrier_abandon(struct vs_vm *vm, struct ho_src_barrier *b,
				      const char *why)
{
	VS_STAT_ADD(vm->stats.source_barriers_abandoned, 1);
	vs_log(MIG, DEBUG, vm->cfg->name, "SOURCE_BARRIER abandoned: %s", why);
	g_free(b);
}

void ho_source_barrier_report(struct vs_vm *vm, uint8_t af, const uint8_t addr[16])
{
	struct vs_handover *ho = vm->ho;
	struct ho_src_barrier *b;

	if (vm->mig.state != VS_MIG_STATE_SRC_FORWARDING || !vs_tun_stream_source_barrier_ok(ho->out))
		return;		/* the destination holds nothing for it */
	b = g_new0(struct ho_src_barrier, 1);
	if (g_queue_get_length(&ho->src_bar) >= HO_SRC_BARRIER_MAX) {
		ho_source_barrier_abandon(vm, b, "too many reports wait");
		return;
	}
	b->af = af;
	memcpy(b->addr, addr, sizeof(b->addr));
	b->reported_at = g_get_monotonic_time();
	g_queue_push_tail(&ho->src_bar, b);
	ho_kick_pump();
}

bool ho_source_barriers_wanted(const struct vs_vm *vm)
{
	return !g_queue_is_empty(&vm->ho->src_bar);
}

void ho_source_barriers_forget(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	struct ho_src_barrier *b;

	/* each report is sent or abandoned, counted (review 69, N4) */
	while ((b = g_queue_pop_head(&ho->src_bar)))
		ho_source_barrier_abandon(vm, b, "the stream ended");
	ho->src_bar_ticket_out = false;
}

/* Every frame read before the ticket is in the stream (or dropped, counted) */
static bool ho_source_barrier_reached(const struct vs_vm *vm, uint32_t ticket, uint64_t q_mark)
{
	return (int64_t)(vm->ho->replay_q_taken - q_mark) >= 0 &&
	       vs_dp_drain_state(vm, ticket) == VS_DP_DRAIN_REACHED;
}

/* The reports that wait without a ticket share a new one, if none is out */
static void ho_source_barrier_ticket(struct vs_vm *vm, gint64 now)
{
	struct vs_handover *ho = vm->ho;
	struct ho_src_barrier *b;
	GList *l;

	if (ho->src_bar_ticket_out &&
	    !ho_source_barrier_reached(vm, ho->src_bar_ticket, ho->src_bar_q_mark) &&
	    now - ho->src_bar_ticket_at < HO_BARRIER_WAIT_MAX_US)
		return;
	ho->src_bar_ticket_out = false;
	b = g_queue_peek_tail(&ho->src_bar);
	if (!b || b->ticketed)
		return;
	ho->src_bar_ticket = vs_dp_drain_request(vm);
	ho->src_bar_q_mark = ho->replay_q_taken + g_queue_get_length(&ho->replay_q);
	ho->src_bar_ticket_out = true;
	ho->src_bar_ticket_at = now;
	/* the unticketed ones are the newest: from the tail */
	for (l = ho->src_bar.tail; l && !((struct ho_src_barrier *)l->data)->ticketed; l = l->prev) {
		b = l->data;
		b->ticketed = true;
		b->ticket = ho->src_bar_ticket;
		b->q_mark = ho->src_bar_q_mark;
	}
}

void ho_pump_source_barriers(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	gint64 now = g_get_monotonic_time();
	struct ho_src_barrier *b;

	if (!ho->out) {
		ho_source_barriers_forget(vm);
		return;
	}
	ho_source_barrier_ticket(vm, now);
	while ((b = g_queue_peek_head(&ho->src_bar))) {
		if (b->ticketed && ho_source_barrier_reached(vm, b->ticket, b->q_mark) &&
		    vs_tun_stream_source_barrier(ho->out, b->af, b->addr) >= 0) {
			VS_STAT_ADD(vm->stats.source_barriers_sent, 1);
			g_free(g_queue_pop_head(&ho->src_bar));
		} else if (now - b->reported_at >= HO_BARRIER_WAIT_MAX_US) {
			g_queue_pop_head(&ho->src_bar);
			ho_source_barrier_abandon(vm, b, b->ticketed ?
						  "the uplink's backlog was not in the stream in time" :
						  "no drain ticket in time");
		} else {
			return;		/* in report order: the next tick */
		}
	}
}
