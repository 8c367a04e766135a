/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_pump.c - the handover's pump: frames from the lcore's held ring
 * into the tunnel (source), from the replay queue into the inject ring
 * (destination, or the source after a rollback), and the replay's end
 *
 * Theory of operation: the lcore never touches a socket or the heap, and
 * the main loop never touches a virtqueue; between them are two rings per
 * port (handover.h): the held ring, which the lcore fills during a blackout,
 * and the inject ring, which it drains into the guest ahead of live frames.
 * The pump is one main-loop timer (HO_PUMP_INTERVAL_MS) that runs while
 * any port needs it (ho_needs_pump()) and stops itself when none does.
 * Each tick moves at most HO_PUMP_BUDGET frames per port and direction,
 * so one busy VM cannot starve the main loop:
 *  - source, SRC_BLACKOUT or SRC_FORWARDING with a stream: the held ring ->
 *    the outgoing stream, while the tunnel's send window takes frames,
 *    and the BARRIER that answers LIVE_SEEN once the lcore has emptied
 *    the uplink's queues and the stream has everything they held;
 *    a straggler of a source already switched is dropped and counted
 *    instead (handover_stragglers.c);
 *  - destination, while the duplicate filter's window is open: the
 *    sources the lcore saw arrive directly -> SOURCE_DIRECT reports;
 *  - otherwise: the replay queue -> the inject ring, while the ring and the
 *    pool have room (a full ring or a busy pool waits for the next tick,
 *    it never drops), then the replay's bookkeeping: the first-replay
 *    timestamp, the LIVE_SEEN barrier that orders stragglers before live
 *    frames, the replay-hold-ms bound on a silent tunnel, and
 *    REPLAY_DONE once the lcore has injected everything;
 *  - destination, then: the SOURCE_BARRIERs whose frames have all left the
 *    replay queue -> the lcore's releases (handover_source_hold.c).
 */
#include <inttypes.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_flow.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "tunnel_proto.h"
#include "util.h"
#include "vm.h"

#define HO_PUMP_INTERVAL_MS	1
#define HO_PUMP_BUDGET		512	/* frames per VM per tick */

static guint ho_pump_source;

bool ho_needs_pump(const struct vs_vm *vm)
{
	switch (vm->mig.state) {
	case VS_MIG_STATE_SRC_BLACKOUT:
	case VS_MIG_STATE_SRC_FORWARDING:
		return vm->ho->out != NULL;
	case VS_MIG_STATE_REPLAYING:
		return true;
	case VS_MIG_STATE_PAUSED:
		/* the replay queue waits for the resume: pumped into inject,
		 * the lcore would move each batch back to held's front, ahead
		 * of the one before (review 89, 2; handover_rollback.c) */
		return false;
	default:
		return (!g_queue_is_empty(&vm->ho->replay_q) || vm->ho->replay_on) &&
		       vm->mig.state != VS_MIG_STATE_DST_EXPECTING;
	}
}

/*
 * Source: frames from held -> tunnel stream, as fast as the tunnel takes
 * them (all of held, or only the frames the lcore moved back to its
 * front: @requeued)
 */
static void ho_pump_held(struct vs_vm *vm, uint8_t origin, bool requeued)
{
	struct vs_handover *ho = vm->ho;
	unsigned int i;

	for (i = 0; i < HO_PUMP_BUDGET && vs_tun_stream_can_push(ho->out); i++) {
		struct rte_mbuf *m;
		uint8_t copy[VS_TUN_MAX_FRAME];
		const void *data;
		uint32_t len;
		int64_t age;

		if (!(requeued ? vs_dp_held_take_requeued(vm, &m, 1) : vs_dp_held_take(vm, &m, 1)))
			break;
		len = rte_pktmbuf_pkt_len(m);
		if (len > sizeof(copy)) {	/* cannot happen: one mbuf per frame */
			VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_OVERSIZE], 1);
			rte_pktmbuf_free(m);
			continue;
		}
		data = rte_pktmbuf_read(m, 0, len, copy);
		age = vs_dp_arrival_age_us(m);
		/* a straggler that reached us after its source was switched:
		 * dropped, counted */
		if (origin == VS_TUN_ORIGIN_STRAGGLER && !ho_straggler_admit(vm, data, len, age)) {
			rte_pktmbuf_free(m);
			continue;
		}
		vs_tun_stream_push_at(ho->out, origin, data, len,
				      age < 0 ? 0 : g_get_monotonic_time() - age);
		VS_STAT_ADD(vm->stats.tunnel_tx_frames, 1);
		VS_STAT_ADD(vm->stats.tunnel_tx_bytes, len);
		if (origin == VS_TUN_ORIGIN_STRAGGLER) {
			VS_STAT_ADD(vm->stats.stragglers_forwarded, 1);
			vs_dp_flow_count_straggler(vm, data, len, len);
		}
		rte_pktmbuf_free(m);
	}
}

/*
 * Source: what the port holds -> tunnel stream, oldest first: the frames
 * of a replay that were on their way to the guest when the VM left again
 * (the lcore moved them back to held's front: taken from the replay
 * queue before the frames it still holds, review 72 F1), then the replay
 * queue (tunnelled frames a replay had not injected: migrated on while
 * replaying its last arrival, or stragglers of that arrival still
 * coming), then the rest of held (what the lcore buffered since)
 */
void ho_pump_to_tunnel(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	unsigned int i;
	uint8_t origin = vm->mig.state == VS_MIG_STATE_SRC_FORWARDING ? VS_TUN_ORIGIN_STRAGGLER
								       : VS_TUN_ORIGIN_BLACKOUT;

	if (!g_queue_is_empty(&ho->replay_q)) {
		ho_pump_held(vm, origin, true);
		if (vs_dp_held_requeued_left(vm))
			return;
	}
	for (i = 0; i < HO_PUMP_BUDGET && !g_queue_is_empty(&ho->replay_q) &&
		    vs_tun_stream_can_push(ho->out); i++) {
		struct vs_tun_frame *f = g_queue_pop_head(&ho->replay_q);

		ho->replay_q_bytes -= f->len;
		ho->replay_q_taken++;
		vs_tun_stream_push_at(ho->out, origin, f->data, f->len, f->arrival_us);
		VS_STAT_ADD(vm->stats.tunnel_tx_frames, 1);
		VS_STAT_ADD(vm->stats.tunnel_tx_bytes, f->len);
		g_free(f);
	}
	if (!g_queue_is_empty(&ho->replay_q))
		return;
	ho_pump_held(vm, origin, false);
}

void ho_request_barrier(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	/*
	 * One drain per BARRIER: the first LIVE_SEEN fixes which frames the
	 * BARRIER must follow.  A repeated one while it waits (a peer's
	 * resend) would take a newer ticket, which restarts the lcore's
	 * counts; a peer repeating it faster than a queue's depth drains
	 * would keep every BARRIER on the fallback (review 58, F3).
	 */
	if (ho->barrier == HO_BARRIER_PENDING) {
		vs_log(MIG, DEBUG, vm->cfg->name,
		       "live traffic reported again: the barrier already waits for its drain");
		return;
	}
	ho->barrier_drain = vs_dp_drain_request(vm);
	/* frames of an earlier arrival still to pass on were read before
	 * LIVE_SEEN too: the BARRIER goes behind them (as a SOURCE_BARRIER
	 * does, review 69 F1) */
	ho->barrier_q_mark = ho->replay_q_taken + g_queue_get_length(&ho->replay_q);
	ho->barrier = HO_BARRIER_PENDING;
	ho->barrier_asked_at = g_get_monotonic_time();
	ho_kick_pump();
}

/*
 * Source: the BARRIER goes out once everything the uplink had received
 * when LIVE_SEEN came is in the stream.  The lcore answers the drain
 * request with how far it had filled held once every uplink queue gave
 * what it held at the request (dp_handshake.c, the drain); held being
 * taken past that point means every frame up to there was taken (streamed
 * here, or dropped and counted): vs_dp_drain_state().  The replay queue
 * (an earlier arrival's frames still to pass on) must be streamed past
 * where it ended at LIVE_SEEN as well (barrier_q_mark).  After
 * HO_BARRIER_WAIT_MAX_US without that it goes anyway, logged and counted
 * (barriers-unanswered; -lcore when the lcore had not answered).
 */
static void ho_pump_barrier(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	enum vs_dp_drain_state st;
	int64_t seq;

	if (ho->barrier != HO_BARRIER_PENDING)
		return;
	st = vs_dp_drain_state(vm, ho->barrier_drain);
	if (st == VS_DP_DRAIN_REACHED && (int64_t)(ho->replay_q_taken - ho->barrier_q_mark) < 0)
		st = VS_DP_DRAIN_ANSWERED;	/* the replay queue is not past it yet */
	if (st != VS_DP_DRAIN_REACHED &&
	    g_get_monotonic_time() - ho->barrier_asked_at < HO_BARRIER_WAIT_MAX_US)
		return;
	ho->barrier = HO_BARRIER_NONE;
	seq = vs_tun_stream_barrier(ho->out);
	if (seq < 0) {
		/* not sent, and not counted as sent (review 58, F2) */
		vs_log(MIG, WARNING, vm->cfg->name,
		       "barrier not sent: the tunnel's connection is not ready");
		return;
	}
	if (st != VS_DP_DRAIN_REACHED) {
		/* sent without the guarantee: counted, and why (the lcore could
		 * not read an uplink queue's depth in time, or the stream did
		 * not take the backlog) */
		VS_STAT_ADD(vm->stats.barriers_unanswered, 1);
		if (st == VS_DP_DRAIN_PENDING)
			VS_STAT_ADD(vm->stats.barriers_unanswered_lcore, 1);
		vs_log(MIG, WARNING, vm->cfg->name,
		       "barrier sent after seq %" PRId64 " by the %d ms fallback, without %s: "
		       "stragglers may follow live frames", seq, HO_BARRIER_WAIT_MAX_US / 1000,
		       st == VS_DP_DRAIN_ANSWERED ? "the stream taking the backlog (the uplink's, "
						    "or the replay queue's)"
				: "an answer from the lcore");
		return;
	}
	vs_log(MIG, INFO, vm->cfg->name,
	       "destination sees live traffic: barrier after seq %" PRId64
	       " (uplink queues emptied into the stream, %" PRId64 " ms)", seq,
	       (g_get_monotonic_time() - ho->barrier_asked_at) / 1000);
}

/* --- the replay's phase (enum ho_replay_phase) --------------------------- */

VS_ENUM_IMPL(ho_replay_phase, enum ho_replay_phase, HO_REPLAY_NUM_PHASES,
	     [HO_REPLAY_TUNNEL_OPEN] = "tunnel-open",
	     [HO_REPLAY_LIVE_SEEN] = "live-seen",
	     [HO_REPLAY_TUNNEL_DONE] = "tunnel-done");

VS_ENUM_IMPL(ho_replay_input, enum ho_replay_input, HO_REPLAY_NUM_INPUTS,
	     [HO_REPLAY_IN_START_ARRIVAL] = "start-arrival",
	     [HO_REPLAY_IN_START_LOCAL] = "start-local",
	     [HO_REPLAY_IN_LIVE_SEEN] = "live-seen",
	     [HO_REPLAY_IN_HOLD_EXPIRED] = "hold-expired",
	     [HO_REPLAY_IN_STREAM_DONE] = "stream-done",
	     [HO_REPLAY_IN_NO_STREAM] = "no-stream");

enum ho_replay_phase ho_replay_next(enum ho_replay_phase cur, enum ho_replay_input in)
{
	switch (in) {
	case HO_REPLAY_IN_START_ARRIVAL:
		return HO_REPLAY_TUNNEL_OPEN;
	case HO_REPLAY_IN_START_LOCAL:
	case HO_REPLAY_IN_STREAM_DONE:
	case HO_REPLAY_IN_NO_STREAM:
		return HO_REPLAY_TUNNEL_DONE;
	case HO_REPLAY_IN_LIVE_SEEN:
		return cur == HO_REPLAY_TUNNEL_OPEN ? HO_REPLAY_LIVE_SEEN : cur;
	case HO_REPLAY_IN_HOLD_EXPIRED:
		return cur == HO_REPLAY_LIVE_SEEN ? HO_REPLAY_TUNNEL_DONE : cur;
	case HO_REPLAY_NUM_INPUTS:
		break;
	}
	return cur;
}

void ho_replay_feed(struct vs_vm *vm, enum ho_replay_input in)
{
	struct vs_handover *ho = vm->ho;
	enum ho_replay_phase next = ho_replay_next(ho->replay_phase, in);

	if (next != ho->replay_phase)
		vs_log(MIG, DEBUG, vm->cfg->name, "replay: %s -> %s (%s)",
		       ho_replay_phase_to_string(ho->replay_phase),
		       ho_replay_phase_to_string(next), ho_replay_input_to_string(in));
	ho->replay_phase = next;
}

/* Replay: replay_q -> the inject ring, as fast as the guest takes it */
static void ho_pump_to_inject(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	unsigned int i;

	/* the port buffers (destroy_device's store comes before the main loop
	 * hears of it): the lcore would only move these back to held's front,
	 * each batch ahead of the one before (review 90, 4) */
	if (vs_dp_mode(vm) == VS_DP_BUFFER)
		return;

	for (i = 0; i < HO_PUMP_BUDGET && !g_queue_is_empty(&ho->replay_q); i++) {
		struct vs_tun_frame *f = g_queue_peek_head(&ho->replay_q);
		struct rte_mbuf *m;

		if (vs_dp_inject_full(vm))
			break;
		m = rte_pktmbuf_alloc(vm->pool);
		if (!m)
			break;		/* pool busy: retry next tick, never drop */
		if (!rte_pktmbuf_append(m, (uint16_t)f->len)) {
			rte_pktmbuf_free(m);
			VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_OVERSIZE], 1);
		} else {
			memcpy(rte_pktmbuf_mtod(m, void *), f->data, f->len);
			/* the duplicate filter compares it with direct frames by
			 * when it reached the network (unknown: any time) */
			vs_dp_arrival_set_age(m, f->arrival_us ? g_get_monotonic_time() -
						 f->arrival_us : -1);
			if (vs_dp_inject_put(vm, m)) {
				rte_pktmbuf_free(m);
				break;
			}
		}
		g_queue_pop_head(&ho->replay_q);
		ho->replay_q_bytes -= f->len;
		g_free(f);
	}
}

bool vs_ho_replay_running(const struct vs_vm *vm)
{
	/* not the lcore's own replays after the tail (review 85, SF2) */
	/* a tail drains in none, and on in a pre-copy (src-active); a pause
	 * or a blackout takes it into a buffer again (reviews 87 2, 88 L4) */
	return vm->mig.state == VS_MIG_STATE_REPLAYING ||
	       ((vm->mig.state == VS_MIG_STATE_NONE || vm->mig.state == VS_MIG_STATE_SRC_ACTIVE) &&
		vm->ho && vm->ho->tail_left && !vs_dp_held_reached(vm, vm->ho->tail_mark));
}

void ho_shrink_sample(struct vs_vm *vm, gint64 now)
{
	struct vs_handover *ho = vm->ho;
	uint64_t backlog = vs_ho_buffered_now(vm);
	bool closed = vs_dp_inject_closed(vm);

	if (ho->shrink_up != ho->t_up || closed != ho->shrink_closed) {
		/* a new replay, or its close: a window starts here */
		ho->shrink_up = ho->t_up;
		ho->shrink_closed = closed;
		ho->shrink_measured = false;
	} else if (closed && now - ho->shrink_t0 >= VS_HO_SHRINK_WINDOW_MS * 1000 / 2) {
		/* a window closes, the next starts */
		ho->shrink_pps = ((int64_t)ho->shrink_b0 - (int64_t)backlog) * 1000000 /
				 (now - ho->shrink_t0);
		ho->shrink_measured = true;
	} else {
		return;
	}
	ho->shrink_t0 = now;
	ho->shrink_b0 = backlog;
}

static gboolean ho_shrink_cb(gpointer data)
{
	struct vs_vm *vm = data;

	if (!vs_ho_replay_running(vm)) {
		vm->ho->shrink_timer = 0;
		return G_SOURCE_REMOVE;
	}
	ho_shrink_sample(vm, g_get_monotonic_time());
	return G_SOURCE_CONTINUE;
}

void ho_shrink_start(struct vs_vm *vm)
{
	ho_shrink_sample(vm, g_get_monotonic_time());	/* a new window */
	if (!vm->ho->shrink_timer)
		vm->ho->shrink_timer = g_timeout_add(VS_HO_SHRINK_WINDOW_MS, ho_shrink_cb, vm);
}

bool vs_ho_backlog_shrink(const struct vs_vm *vm, int64_t *pps)
{
	const struct vs_handover *ho = vm->ho;

	*pps = ho ? ho->shrink_pps : 0;
	return ho && ho->shrink_measured && ho->shrink_up == ho->t_up;
}

static void ho_pump_replay(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	uint64_t replayed = VS_STAT_GET(vm->stats.replayed_pkts);
	gint64 now = g_get_monotonic_time();

	if (!ho_take_back_cut(vm))
		return;		/* the lcore has not answered the cut's requeue */
	ho_pump_to_inject(vm);

	if (!ho->t_first_replay && replayed > ho->replayed_at_up) {
		ho->t_first_replay = now;
		VS_STAT_SET(vm->stats.last_resume_to_first_replay_us, (uint64_t)(now - ho->t_up));
	}
	/* Order stragglers before live frames: ask the source for a barrier */
	if (ho->replay_phase != HO_REPLAY_TUNNEL_DONE && vs_dp_live_seen(vm)) {
		if (ho->replay_phase == HO_REPLAY_TUNNEL_OPEN) {
			ho_replay_feed(vm, HO_REPLAY_IN_LIVE_SEEN);
			ho->live_seen_at = now;
			if (ho->in)
				vs_tun_in_send_live_seen(ho->in);
		} else if (now - ho->live_seen_at >= (gint64)vm->policy.replay_hold_ms * 1000) {
			/* a silent tunnel must not stall live traffic */
			VS_STAT_ADD(vm->stats.hold_window_expired, 1);
			vs_log(MIG, WARNING, vm->cfg->name,
			       "replay hold window (%u ms) expired: live frames go first",
			       vm->policy.replay_hold_ms);
			ho_replay_feed(vm, HO_REPLAY_IN_HOLD_EXPIRED);
		}
	}
	/* a broken stream may come back: after LIVE_SEEN the hold window
	 * above bounds the wait (a stream that comes back within it is asked
	 * for its BARRIER again: vs_ho_tun_open(); review 72 F3: a cut came
	 * to end it at once when the first live frame came more than
	 * replay-hold-ms after the resume), and before it, without any
	 * stream, replay-hold-ms after the resume ends it */
	if (ho->replay_phase == HO_REPLAY_TUNNEL_OPEN && !ho->in && ho->replay_on &&
	    now - ho->t_up >= (gint64)vm->policy.replay_hold_ms * 1000)
		ho_replay_feed(vm, HO_REPLAY_IN_NO_STREAM);
	if (ho->replay_phase == HO_REPLAY_TUNNEL_DONE && g_queue_is_empty(&ho->replay_q))
		vs_dp_inject_close(vm);

	if (ho->replay_on && vs_dp_replay_finished(vm)) {
		uint64_t left = vs_dp_replay_end_left(vm);

		ho->replay_on = false;
		VS_STAT_SET(vm->stats.last_resume_to_last_replay_us, (uint64_t)(now - ho->t_up));
		/* a guest slower than its traffic: live frames still held
		 * behind the replay drain as its tail (dp_replay.c) */
		VS_STAT_SET(vm->stats.last_replay_left_held, left);
		ho->tail_left = left;	/* the dedup window waits for it */
		ho->tail_mark = vs_dp_held_mark(vm);	/* ... and catch-up-us */
		if (left)
			vs_log(MIG, INFO, vm->cfg->name,
			       "replay done after %" PRIu64 " ms with %" PRIu64
			       " live frames still held behind it: the guest reads"
			       " less than its traffic; they drain in order",
			       (uint64_t)(now - ho->t_up) / 1000, left);
		if (vm->mig.state == VS_MIG_STATE_REPLAYING) {
			ho_feed(vm, VS_MIG_EV_REPLAY_DONE);
		} else {
			/* migrated on (or that migration cancelled) during the
			 * replay: it is done all the same */
			JsonObject *d = json_object_new();

			json_object_set_string_member(d, "port", vm->cfg->name);
			ho_emit_event("REPLAY_DONE", vm, d);
			g_clear_pointer(&ho->expect_from, g_free);
		}
	}
}

static void ho_pump_one(struct vs_vm *vm, void *opaque)
{
	bool *busy = opaque;

	if (!vm->ho)
		return;
	if (ho_direct_wanted(vm)) {	/* destination: sources seen directly */
		*busy = true;
		ho_direct_pump(vm);
	}
	if (ho_needs_pump(vm)) {
		*busy = true;
		if ((vm->mig.state == VS_MIG_STATE_SRC_BLACKOUT ||
		     vm->mig.state == VS_MIG_STATE_SRC_FORWARDING) && vm->ho->out) {
			ho_pump_to_tunnel(vm);
			ho_pump_barrier(vm);
		} else
			ho_pump_replay(vm);
	}
	/* source: after held went into the stream this tick */
	if (ho_source_barriers_wanted(vm)) {
		*busy = true;
		ho_pump_source_barriers(vm);
	}
	/* destination: after the replay queue went into inject this tick */
	if (ho_source_releases_wanted(vm)) {
		*busy = true;
		ho_pump_source_releases(vm);
	}
	/* the TCP table: the source's copy into the stream, the
	 * destination's records into the lcore */
	if (ho_conns_wanted(vm)) {
		*busy = true;
		ho_pump_conns(vm);
	}
}

static gboolean ho_pump_cb(gpointer data)
{
	bool busy = false;

	vs_vm_foreach(ho_pump_one, &busy);
	if (!busy) {
		ho_pump_source = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

void ho_kick_pump(void)
{
	if (!ho_pump_source)
		ho_pump_source = g_timeout_add(HO_PUMP_INTERVAL_MS, ho_pump_cb, NULL);
}
