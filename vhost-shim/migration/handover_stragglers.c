/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_stragglers.c - stragglers: per-source switching at the source,
 * within the per-VM linger-ms bound; the destination's direct reports
 *
 * Theory of operation: after the VM resumed at the destination, frames
 * its peers still send here ("stragglers") are tunnelled to it.  Each
 * source stops being tunnelled on its own (flow_src.h): when its rule's
 * trigger fires, by default "this source's frames now reach the
 * destination directly", or when the rule's time-out ends (resume +
 * timeout-ms, by default the port's linger-ms), and then the rule's own
 * linger-ms later (default 500 ms under direct-arrival, flow_rules.h:
 * one direct frame does not prove the rest go direct).  A straggler of
 * a stopped source is dropped and counted (drop reason
 * straggler-stopped), never silently.
 *
 *   source                                      destination
 *   SRC_FORWARDING entered: linger timer,       resume: the duplicate
 *     the per-source table begins (resume)        filter's window opens
 *   pump, per straggler:                        lcore: a unicast frame to
 *     ho_straggler_admit(): rule, events,         the VM from a source not
 *     verdict TUNNEL (pushed) or STOP             noted yet (dp_direct.h)
 *     (dropped, counted)                        pump: ho_direct_pump()
 *   SOURCE_DIRECT <---------------------------    sends SOURCE_DIRECT once
 *     vs_ho_tun_source_direct(): a DIRECT         per source and window
 *     report to each rule with trigger direct
 *     whose source prefix holds the address
 *   linger timer: LINGER_EXPIRED (the outer bound: the stream ENDs,
 *     whatever each source's state)
 *
 * The destination's window: from the resume until 200 ms after the
 * source ENDs its stream (or linger-ms + hold-ms, and in 200 ms steps
 * longer while a paced replay is on)
 * frames may come both ways: the duplicate filter runs, and the lcore
 * notes the sources it sees arrive directly (ho_dedup_open() and its
 * closing below).
 *
 * Threads: everything here runs on the main loop, which tunnels the
 * stragglers (the pump) and receives the reports (the tunnel): it owns
 * the per-source table, so no ring is needed between them.  The lcore
 * only puts stragglers into held, as before.
 *
 * Bounds: one table of VS_FLOW_SRC_DEFAULT_SIZE entries per port, made on
 * the first forwarding and kept; O(1) per straggler; a report touches at
 * most every rule of the port's table once.  A source whose frames carry
 * no IP header shares one entry per rule and switches by its time-out.
 * A destination without the source-direct extension never reports: its
 * sources switch by their time-out, which is today's per-VM linger-ms.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "dp_direct.h"
#include "dp_flow.h"
#include "flow_key.h"
#include "flow_src.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "util.h"
#include "vm.h"
#include "vhost-shim/tunnel_wire.h"

static uint64_t ho_now_ms(void)
{
	return (uint64_t)g_get_monotonic_time() / 1000;
}

/* The flow_src counters that are port counters too, added as they move */
static void ho_src_sync(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	const struct vs_flow_src_stats *st = &ho->src->stats;

	VS_STAT_ADD(vm->stats.sources_switched, st->fired - ho->src_fired_seen);
	VS_STAT_ADD(vm->stats.sources_timed_out, st->timeouts - ho->src_timeouts_seen);
	ho->src_fired_seen = st->fired;
	ho->src_timeouts_seen = st->timeouts;
}

static gboolean ho_linger_expired_cb(gpointer data)
{
	struct vs_vm *vm = data;

	vm->ho->linger_timer = 0;
	ho_feed(vm, VS_MIG_EV_LINGER_EXPIRED);
	return G_SOURCE_REMOVE;
}

void ho_stragglers_begin(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (!ho->src) {
		ho->src = g_new0(struct vs_flow_src, 1);
		ho->src_slots = g_new0(struct vs_flow_src_entry, VS_FLOW_SRC_DEFAULT_SIZE);
		vs_flow_src_init(ho->src, ho->src_slots, VS_FLOW_SRC_DEFAULT_SIZE,
				 (uint64_t)g_random_int() << 32 | g_random_int());
	}
	vs_flow_src_begin(ho->src, ho_now_ms());
	ho->src_fired_seen = ho->src->stats.fired;
	ho->src_timeouts_seen = ho->src->stats.timeouts;
	ho->src_on = true;
	if (ho->linger_timer)		/* armed once, never twice */
		g_source_remove(ho->linger_timer);
	ho->linger_timer = g_timeout_add(vm->policy.linger_ms, ho_linger_expired_cb, vm);
}

void ho_stragglers_end(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	ho->src_on = false;
	if (ho->linger_timer) {
		g_source_remove(ho->linger_timer);
		ho->linger_timer = 0;
	}
}

void ho_stragglers_free(struct vs_handover *ho)
{
	if (ho->linger_timer) {
		g_source_remove(ho->linger_timer);
		ho->linger_timer = 0;
	}
	g_clear_pointer(&ho->src, g_free);
	g_clear_pointer(&ho->src_slots, g_free);
}

bool ho_straggler_admit(struct vs_vm *vm, const uint8_t *frame, uint32_t len,
			int64_t age_us)
{
	int64_t arrival_us = g_get_monotonic_time() - (age_us > 0 ? age_us : 0);
	uint64_t arrival = arrival_us > 0 ? (uint64_t)arrival_us / 1000 : 0;
	struct vs_handover *ho = vm->ho;
	const struct vs_dp_flow *f = vm->dp.flow;
	enum vs_flow_src_verdict v;
	struct vs_flow_key key;
	uint32_t slot;

	if (!ho->src_on || !f)
		return true;
	/* no arrival time: a frame put back into held from an earlier hop's
	 * inject ring, or older than the stamps reach; old either way, so
	 * never judged as arrived now (which would favour dropping it) */
	if (age_us < 0)
		return true;
	vs_flow_key_parse(frame, len, len, vm->cfg->mac, &key);
	slot = vs_flow_rules_match(f->t, &key);
	if (slot == VS_FLOW_NO_SLOT)	/* a runt or the VM's own: as before */
		return true;
	/* judged by when it reached us (flow_src.h): it may have waited in
	 * held since before its source stopped.  Rounded down, and a
	 * report's time up: a frame of the same millisecond as the report
	 * is tunnelled, never lost */
	v = vs_flow_src_straggler(ho->src, &f->t->rules[slot], &key,
				  vs_flow_key_events(&key, frame, len), arrival);
	ho_src_sync(vm);
	if (v == VS_FLOW_SRC_TUNNEL)
		return true;
	VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_STRAGGLER_STOPPED], 1);
	return false;
}

void ho_stragglers_drop_held(struct vs_vm *vm)
{
	uint8_t copy[VS_TUN_MAX_FRAME];
	struct rte_mbuf *m;

	if (!vm->ho->src_on)
		return;
	while (vs_dp_held_take(vm, &m, 1)) {
		uint32_t len = rte_pktmbuf_pkt_len(m);
		const void *data = len <= sizeof(copy) ? rte_pktmbuf_read(m, 0, len, copy) : NULL;

		/* a stopped source's: counted straggler-stopped by the verdict */
		if (!data || ho_straggler_admit(vm, data, len, vs_dp_arrival_age_us(m)))
			VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_PEER_LOST], 1);
		rte_pktmbuf_free(m);
	}
}

/* Can frames from @addr match @r (its family and source prefix)? */
static bool ho_rule_holds_source(const struct vs_flow_crule *r, enum vs_flow_af af,
				 const uint8_t addr[16])
{
	uint64_t a[2];

	if (r->af != VS_FLOW_AF_NONE && r->af != af)
		return false;
	if (!(r->fields & VS_FLOW_M_SRC))
		return true;
	memcpy(a, addr, sizeof(a));
	return (a[0] & r->src_mask[0]) == r->src_val[0] &&
	       (a[1] & r->src_mask[1]) == r->src_val[1];
}

void ho_stragglers_report_direct(struct vs_vm *vm, enum vs_flow_af af, const uint8_t addr[16])
{
	struct vs_handover *ho = vm->ho;
	const struct vs_dp_flow *f = vm->dp.flow;
	uint64_t now = ((uint64_t)g_get_monotonic_time() + 999) / 1000;	/* rounded up */
	uint32_t s;

	if (!ho->src_on || !f)
		return;		/* not forwarding (any more): nothing to switch */
	for (s = 0; s < f->t->n_rules; s++) {
		const struct vs_flow_crule *r = &f->t->rules[s];

		if (r->trigger == VS_FLOW_TRIG_DIRECT && ho_rule_holds_source(r, af, addr))
			vs_flow_src_report(ho->src, r, af, addr, VS_FLOW_EV_DIRECT, now);
	}
	ho_src_sync(vm);
}

void vs_ho_tun_source_direct(void *opaque, struct vs_tun_stream *s, const char *vm_name,
			     uint8_t af, const uint8_t addr[16])
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);
	char text[INET6_ADDRSTRLEN];

	if (!vm || !vm->ho || s != vm->ho->out)
		return;		/* removed, or another migration's stream */
	VS_STAT_ADD(vm->stats.direct_reports_received, 1);
	if (vs_log_would(VS_LOGC_MIG, VS_LOG_DEBUG)) {	/* no formatting per report otherwise */
		if (!inet_ntop(af == VS_TUN_SRC_AF_INET ? AF_INET : AF_INET6, addr, text,
			       sizeof(text)))
			g_strlcpy(text, "?", sizeof(text));
		vs_log(MIG, DEBUG, vm->cfg->name, "source %s reaches the destination directly",
		       text);
	}
	ho_stragglers_report_direct(vm, af == VS_TUN_SRC_AF_INET ? VS_FLOW_AF_INET
								  : VS_FLOW_AF_INET6, addr);
	ho_source_barrier_report(vm, af, addr);	/* after: its stragglers stop */
}

/* --- destination: the window in which stragglers may come --------------- */

/*
 * The destination may get a frame twice while frames come both through the
 * tunnel and over its uplink (a switch flooding the VM's MAC to both
 * hosts during the switchover): the lcore filters copies from the resume
 * until 200 ms after the source ends its stream (ho_dedup_close_later()),
 * or linger-ms + hold-ms; either way not before a paced replay is done.
 */
static gboolean ho_dedup_close_cb(gpointer data);

void ho_dedup_open(struct vs_vm *vm)
{
	ho_source_hold_window(vm);
	if (!vm->policy.enabled)	/* the baseline filters nothing */
		return;
	vs_dp_direct_flush(vm);		/* an earlier window's notes: not ours */
	vs_dp_dedup_open(vm);
	vm->ho->dedup_tail_marked = false;
	vm->ho->tail_left = 0;
	if (vm->ho->dedup_timer)
		g_source_remove(vm->ho->dedup_timer);
	vm->ho->dedup_timer = g_timeout_add(vm->policy.linger_ms + vm->policy.hold_ms,
					    ho_dedup_close_cb, vm);
}

void ho_dedup_close(struct vs_vm *vm)
{
	vs_dp_dedup_close(vm);
	if (vm->ho->dedup_timer) {
		g_source_remove(vm->ho->dedup_timer);
		vm->ho->dedup_timer = 0;
	}
}

#define HO_DEDUP_RECHECK_MS	200

/*
 * A replay that ended at its mark with live frames still held behind it
 * (a guest slower than its traffic: the tail, dp_replay.c): direct frames
 * in it may have had their tunnelled copies delivered, so the window lasts
 * until the frames held when it would have closed have left held.  Bounded
 * by what held held then; a guest that never reads keeps it open, as
 * replaying did.
 */
static bool ho_dedup_tail_left(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (!ho->dedup_tail_marked) {
		if (!ho->tail_left || vs_dp_held_reached(vm, ho->tail_mark))
			return false;	/* no tail, or drained: an own replay
					 * of the lcore's after it is none */
		ho->dedup_tail_marked = true;
		ho->dedup_tail_mark = vs_dp_held_mark(vm);
	}
	return !vs_dp_held_reached(vm, ho->dedup_tail_mark);
}

static gboolean ho_dedup_close_cb(gpointer data)
{
	struct vs_vm *vm = data;

	/*
	 * A paced replay may still hold tunnelled frames, or direct ones
	 * behind them, whose copies went the other way: the window lasts
	 * until the replay is done (bounded: the replay ends, or the state
	 * machine leaves replaying).  So does a pause: the tunnelled frames
	 * the lcore moved back wait for the next replay (replay_cut; bounded
	 * by hold-ms; review 90, 1(c)).
	 */
	if (vm->mig.state == VS_MIG_STATE_REPLAYING || vm->ho->replay_on || vm->ho->replay_cut ||
	    !g_queue_is_empty(&vm->ho->replay_q) || ho_dedup_tail_left(vm)) {
		vm->ho->dedup_timer = g_timeout_add(HO_DEDUP_RECHECK_MS, ho_dedup_close_cb, vm);
		return G_SOURCE_REMOVE;
	}
	vm->ho->dedup_timer = 0;
	vs_dp_dedup_close(vm);
	return G_SOURCE_REMOVE;
}

void ho_dedup_close_later(struct vs_vm *vm)
{
	vm->ho->dedup_tail_marked = false;	/* a mark taken before END: too early */
	if (vm->ho->dedup_timer)
		g_source_remove(vm->ho->dedup_timer);
	vm->ho->dedup_timer = g_timeout_add(200, ho_dedup_close_cb, vm);
}

bool ho_direct_wanted(const struct vs_vm *vm)
{
	return vm->ho->in && vs_dp_direct_window(vm);
}

void ho_direct_pump(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	struct vs_dp_direct_note note;
	unsigned int i;

	/* without a stream, or while it cannot send, the notes wait in the
	 * queue (it is bounded: the lcore notes no more while it is full);
	 * a note leaves it once sent, or if the source can never take it */
	for (i = 0; i < VS_DP_DIRECT_QUEUE && ho->in && vs_dp_direct_peek(vm, &note); i++) {
		uint8_t af = note.af == VS_FLOW_AF_INET ? VS_TUN_SRC_AF_INET : VS_TUN_SRC_AF_INET6;
		enum vs_tun_send_result r = vs_tun_in_send_source_direct(ho->in, af, note.addr);

		if (r == VS_TUN_SEND_LATER)
			break;		/* the next tick, or the stream's return */
		vs_dp_direct_commit(vm);
		if (r == VS_TUN_SEND_DONE) {
			VS_STAT_ADD(vm->stats.direct_reports_sent, 1);
			ho->src_reports_window++;	/* a barrier may answer it */
		}
	}
}
