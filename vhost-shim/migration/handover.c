/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover.c - migration actions: buffer, tunnel, replay, announce
 * (handover_announce.c)
 *
 * Theory of operation: see handover.h for the threads and the pump; see
 * docs/migration.md for the sequence on each host.  In short:
 *
 *   source                                   destination
 *   LOG_ON       -> SRC_ACTIVE: open stream  EXPECT -> DST_EXPECTING:
 *   DEVICE_DOWN  -> SRC_BLACKOUT: buffer,      accept the stream, hold
 *                   stream frames, keep them   frames (tunnel + local)
 *                                            DEVICE_UP -> REPLAYING:
 *   PEER_RESUMED <-------------------------    RESUMED, RARP, inject
 *                -> SRC_FORWARDING: free        tunnelled frames first,
 *                   acked, forward stragglers   then local ones, then live
 *   linger       -> NONE: END ------------->  REPLAY_DONE -> NONE
 *
 *   rollback: SRC_BLACKOUT + DEVICE_UP -> REPLAYING: ABORT the stream,
 *   take the retained frames back, replay them locally before the ring.
 *
 * Invariant (no silent loss): every frame the lcore accepted into the
 * buffer ends up delivered to the VM (here or at the destination) or
 * counted in exactly one drop reason.
 *
 * Entry actions: ho_feed() gives the event to the state machine
 * (migration.c) and, if it was accepted, runs the entry action of the
 * state now current: ho_entry_for() returns one function per enum
 * vs_mig_state from a switch without a default, so a state without one
 * fails the build (-Wswitch).
 * Each gets the old state and the event, since what entering a state does
 * depends on where it came from (none after src-forwarding completes a
 * migration, after dst-expecting disarms, after hold-expired drops the
 * buffer).  Then the pump and the BUFFER_OVERFLOW watch are kicked.
 *
 * Beside the state, four small typed states (handover_priv.h documents
 * each value and transition):
 *  - the replay's phase (enum ho_replay_phase, one writer:
 *    ho_replay_feed()): an arrival's replay starts tunnel-open; a live
 *    frame behind it sends LIVE_SEEN (live-seen); BARRIER or END, or
 *    replay-hold-ms without them (after LIVE_SEEN, or after the resume
 *    while no stream is connected), make it tunnel-done, and the inject
 *    ring closes once the replay queue is empty.  A replay of local frames (pause,
 *    rollback) starts tunnel-done.
 *  - the destination's claim on its incoming stream (enum ho_in_state):
 *    admitted from the stream's acceptance until ho_in_forget(); an
 *    admitted stream that was cut may reconnect in any state.
 *  - the source's pending BARRIER (enum ho_barrier), from LIVE_SEEN until
 *    the pump sends it.
 *  - replay_on: a replay the lcore has not finished (it may outlast
 *    replaying).
 *
 * Files: this one has the mode switches, timers, the entry actions of
 * each state and the API of handover.h; the stragglers (linger-ms, the
 * per-source switch, the destination's direct reports) are
 * handover_stragglers.c; the BUFFER_OVERFLOW watch is
 * handover_overflow.c; the
 * pump, which moves frames between rings, the tunnel and the replay queue,
 * is handover_pump.c; the tunnel's callbacks are handover_tun.c; the TCP
 * table's export and import (CONNS) are handover_conns.c; a rollback's
 * frames back into the replay queue, in order, are handover_rollback.c; a
 * port armed while its device runs resumes once its lcore saw the
 * buffering start (handover_resume.c).  handover_priv.h is what they share.
 */
#include <inttypes.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_vhost.h>

#include "config.h"
#include "dp_source_hold.h"
#include "dp_tcp.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "pkt.h"
#include "tunnel.h"
#include "util.h"
#include "vhost_port.h"
#include "vm.h"
#include "vhost-shim/tunnel_wire.h"

#define HO_INJECT_RING_SIZE	4096

static vs_ho_event_cb ho_event_cb;
static vs_ho_state_cb ho_state_cb;
struct vs_tun *ho_tun;
static unsigned int ho_expect_timeout_ms = VS_DEFAULT_EXPECT_TIMEOUT_MS;

void vs_ho_set_expect_timeout(unsigned int ms)
{
	ho_expect_timeout_ms = ms ? ms : VS_DEFAULT_EXPECT_TIMEOUT_MS;
}

void vs_ho_set_event_cb(vs_ho_event_cb cb)
{
	ho_event_cb = cb;
}

void vs_ho_set_state_cb(vs_ho_state_cb cb)
{
	ho_state_cb = cb;
}

void vs_ho_set_tunnel(struct vs_tun *t)
{
	ho_tun = t;
}

bool ho_emit_event(const char *event, struct vs_vm *vm, JsonObject *data)
{
	if (ho_event_cb)
		return ho_event_cb(event, vm, data);
	json_object_unref(data);
	return false;
}

bool ho_has_event_cb(void)
{
	return ho_event_cb != NULL;
}

bool ho_emit(struct vs_vm *vm, const char *event, JsonObject *data)
{
	if (!data)
		data = json_object_new();
	json_object_set_string_member(data, "port", vm->cfg->name);
	return ho_emit_event(event, vm, data);
}

/* --- lcore mode switches ----------------------------------------------- */

static void ho_start_buffering(struct vs_vm *vm, bool caps)
{
	if (!vm->policy.enabled) {
		vs_dp_set_live(vm);	/* the "no buffering" baseline */
		return;
	}
	vs_dp_buffer_start(vm, caps);
}

void vs_ho_device_gone_sync(struct vs_vm *vm)
{
	if (vm->policy.enabled)
		vs_dp_device_gone(vm);
}

/*
 * ho_start_replay() - the VM runs: frames in replay_q, then the held ring, then
 * live.  @complete: nothing more will be added to replay_q ahead of held.
 */
static void ho_start_replay(struct vs_vm *vm, bool complete)
{
	vm->ho->replay_on = true;	/* until the lcore finished it (the pump) */
	if (!vm->policy.enabled && g_queue_is_empty(&vm->ho->replay_q) &&
	    vs_dp_held_empty(vm)) {
		vs_dp_replay_skip(vm);	/* baseline: nothing held, nothing to order */
		return;
	}
	ho_replay_feed(vm, complete ? HO_REPLAY_IN_START_LOCAL : HO_REPLAY_IN_START_ARRIVAL);
	vm->ho->live_seen_at = 0;
	vs_dp_replay_start(vm);
	ho_shrink_start(vm);	/* catch-up-us */
}

static void ho_drop_replay_q(struct vs_vm *vm, enum vs_drop_reason reason, bool count)
{
	struct vs_handover *ho = vm->ho;
	struct vs_tun_frame *f;

	while ((f = g_queue_pop_head(&ho->replay_q))) {
		if (count)
			VS_STAT_ADD(vm->stats.ctl_drops[reason], 1);
		ho->replay_q_taken++;
		g_free(f);
	}
	ho->replay_q_bytes = 0;
}

/* --- timers ---------------------------------------------------------------- */

static void ho_clear_timer(guint *id)
{
	if (*id) {
		g_source_remove(*id);
		*id = 0;
	}
}

static gboolean ho_hold_expired_cb(gpointer data)
{
	struct vs_vm *vm = data;

	vm->ho->hold_timer = 0;
	ho_feed(vm, VS_MIG_EV_HOLD_EXPIRED);
	return G_SOURCE_REMOVE;
}

/*
 * An armed destination waits for its VM for the whole pre-copy, however
 * long it takes (minutes for a large, busy VM): only expect-timeout-ms ends
 * the wait, never hold-ms, which bounds how long a buffer is held.
 */
static gboolean ho_expect_expired_cb(gpointer data)
{
	struct vs_vm *vm = data;
	struct vs_handover *ho = vm->ho;
	gint64 armed_ms = (g_get_monotonic_time() - ho->armed_at) / 1000;
	JsonObject *d;

	ho->expect_timer = 0;
	VS_STAT_ADD(vm->stats.expect_timeouts, 1);
	vs_log(MIG, WARNING, vm->cfg->name,
	       "armed for %" G_GINT64_FORMAT " ms without the VM arriving "
	       "(expect-timeout-ms %u): disarmed", armed_ms, ho_expect_timeout_ms);
	ho_feed(vm, VS_MIG_EV_EXPECT_EXPIRED);
	d = json_object_new();
	json_object_set_int_member(d, "armed-ms", armed_ms);
	ho_emit(vm, "MIGRATION_EXPECT_EXPIRED", d);
	return G_SOURCE_REMOVE;
}

static void ho_arm_expect_timer(struct vs_vm *vm)
{
	ho_clear_timer(&vm->ho->expect_timer);
	vm->ho->armed_at = g_get_monotonic_time();
	vm->ho->expect_timer = g_timeout_add(ho_expect_timeout_ms, ho_expect_expired_cb, vm);
}

void ho_in_forget(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (ho->in || ho->in_state != HO_IN_NONE)
		vs_log(MIG, INFO, vm->cfg->name,
		       "incoming stream forgotten: frames it still brings are discarded");
	ho->in = NULL;
	ho->in_state = HO_IN_NONE;
	ho_source_hold_update(vm);	/* no new holds */
}

/* --- state entry actions --------------------------------------------------- */

static void ho_open_stream(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (ho->out || !ho->peer)
		return;
	ho->barrier = HO_BARRIER_NONE;	/* a new stream: no LIVE_SEEN yet */
	ho->out = vs_tun_stream_open(ho_tun, ho->peer, vm->cfg->name, vm->cfg->mac);
}

/*
 * END: frames the destination will never get (pushed but not written to
 * the connection when the tunnel was slower than the traffic, or not
 * acknowledged by a peer that is gone) are peer-lost.  ABORT: every path
 * that aborts a stream with frames counts them itself (hold expired), or
 * has none (cancelled in pre-copy), or removes the port.
 */
static void ho_close_stream(struct vs_vm *vm, bool send_end)
{
	ho_source_barriers_forget(vm);	/* END: a barrier for every source */
	ho_conns_forget(vm);
	if (vm->ho->out) {
		uint64_t lost = vs_tun_stream_close(vm->ho->out, send_end);

		if (send_end)
			VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_PEER_LOST], lost);
		vm->ho->out = NULL;
	}
}

/*
 * Entry actions, one function per state (ho_entry_for()).  Each runs after
 * the state machine accepted @ev and moved from @old to the state it is
 * named after, which may be @old itself (the table of migration.c lets
 * some events leave the state as it is): a function that must act only
 * when the state is really entered checks @old itself.  @now is the
 * transition's time (g_get_monotonic_time()).
 */
typedef void (*ho_entry_fn)(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
			    gint64 now);

/* none, from src-forwarding: the migration is over, the VM runs elsewhere */
static void ho_end_forwarding(struct vs_vm *vm)
{
	/* stragglers the destination never acked and cannot get any more
	 * (peer down, or restarted and refusing), and those still queued
	 * behind a slow tunnel: counted */
	ho_close_stream(vm, true);
	vs_dp_set_no_caps(vm, false);
	vs_dp_held_drop_all(vm, VS_DROP_PEER_LOST);
	ho_emit(vm, "MIGRATION_COMPLETED", NULL);
	g_clear_pointer(&vm->ho->peer, g_free);
	vs_dp_learn_forget(vm);	/* the VM runs elsewhere: not announced from here */
}

/* none, after hold-ms: the buffer is dropped, every frame counted */
static void ho_drop_expired_buffer(struct vs_vm *vm, enum vs_mig_state old)
{
	struct vs_handover *ho = vm->ho;
	/* streaming to a destination we cannot reach: whether the VM resumed
	 * there is unknown */
	bool vm_unknown = ho->out && !vs_tun_stream_connected(ho->out);
	/*
	 * A blackout whose source QEMU is still connected is a migration
	 * still under way (a final stage longer than hold-ms): the VM may yet
	 * resume at the destination.  Only a QEMU gone means a VM gone.
	 */
	bool qemu_alive = old == VS_MIG_STATE_SRC_BLACKOUT &&
			  __atomic_load_n(&vm->frontends, __ATOMIC_ACQUIRE) > 0;

	vs_dp_held_drop_all(vm, vm_unknown ? VS_DROP_PEER_LOST : VS_DROP_BUFFER_EXPIRED);
	if (ho->out) {
		uint64_t n = vs_tun_stream_retained(ho->out);

		VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_PEER_LOST], n);
		ho_close_stream(vm, false);
	}
	ho_drop_replay_q(vm, VS_DROP_BUFFER_EXPIRED, true);
	vs_log(MIG, WARNING, vm->cfg->name, "buffer held for %u ms: dropped", vm->policy.hold_ms);
	/*
	 * The VM did not come back: its TCP peers are reset where tcp-on-loss
	 * says so (dp_tcp.h).  Not when it may run at an unreachable
	 * destination: resetting a live VM's connections is worse than leaving
	 * a lost VM's to time out.
	 */
	if (!vm_unknown && !qemu_alive)
		vs_dp_tcp_reset(vm);
	else if (vs_dp_tcp_may_reset(vm))
		vs_log(MIG, WARNING, vm->cfg->name, "TCP peers not reset: %s",
		       vm_unknown ? "the destination is unreachable, the VM may run there"
				  : "its QEMU is still connected, the migration may yet complete");
}

/*
 * none, from dst-expecting: cancelled, the source rolled back, or
 * expect-timeout-ms passed: the source still has every frame it streamed
 * (nothing is freed before RESUMED) and delivers them (rollback) or
 * counts them (its hold-ms).  Whatever the stream still brings is not
 * injected behind live frames.
 */
static void ho_disarm(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	ho_in_forget(vm);
	ho_conns_drop_pending(vm);	/* the VM is elsewhere: never reset from here */
	VS_STAT_ADD(vm->stats.tunnel_frames_discarded, g_queue_get_length(&ho->replay_q));
	ho_drop_replay_q(vm, VS_DROP_POLICY, false);
	/* a VM that runs here (armed while its device ran: handover_resume.c)
	 * gets what held holds, in order, as the lcore's own replay once
	 * BUFFER is left below (review 88, M1) */
	if (__atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE) < 0)
		vs_dp_held_drop_all(vm, VS_DROP_NOT_READY);
	g_clear_pointer(&ho->expect_from, g_free);
}

static void ho_enter_none(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
			  gint64 now)
{
	struct vs_handover *ho = vm->ho;

	ho_clear_timer(&ho->hold_timer);
	ho->replay_cut = false;	/* the replay queue is gone, or not cut */
	if (old == VS_MIG_STATE_SRC_FORWARDING)
		ho_stragglers_drop_held(vm);	/* while the table still decides */
	ho_stragglers_end(vm);
	if (old == VS_MIG_STATE_SRC_FORWARDING) {
		ho_end_forwarding(vm);
	} else if (ev == VS_MIG_EV_HOLD_EXPIRED) {
		ho_drop_expired_buffer(vm, old);
	} else if (old == VS_MIG_STATE_DST_EXPECTING) {
		ho_disarm(vm);
	} else if (old == VS_MIG_STATE_REPLAYING) {
		ho_emit(vm, "REPLAY_DONE", json_object_new());
		g_clear_pointer(&ho->expect_from, g_free);
	} else if (old == VS_MIG_STATE_SRC_ACTIVE) {
		ho_close_stream(vm, false);	/* migration cancelled in pre-copy */
	}
	/*
	 * After a replay the lcore has switched itself to LIVE already, or
	 * still drains the live frames held behind it (the tail), or has
	 * gone back to REPLAY for a full guest ring (dp_deliver_live()):
	 * a REPLAY nobody else ends is the lcore's, and LIVE stored over it
	 * would let live frames overtake what it holds (review 81, 12.1).
	 * So only BUFFER is left from here: every other way out of a
	 * migration state leaves BUFFER, or a REPLAY the lcore ends.
	 */
	if (old != VS_MIG_STATE_NONE &&
	    !(old == VS_MIG_STATE_REPLAYING && ev == VS_MIG_EV_REPLAY_DONE) &&
	    !ho->replay_on)	/* a replay that outlived replaying ends itself */
		vs_dp_leave_buffer(vm);
	if (vs_ho_replay_running(vm))	/* a tail again: catch-up-us samples it */
		ho_shrink_start(vm);
}

static void ho_enter_paused(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
			    gint64 now)
{
	struct vs_handover *ho = vm->ho;

	if (old == VS_MIG_STATE_PAUSED)
		return;
	ho_cut_replay(vm);
	ho->replay_on = false;	/* buffering takes the replay's frames */
	ho_start_buffering(vm, true);
	ho->t_down = now;
	ho->hold_timer = g_timeout_add(vm->policy.hold_ms, ho_hold_expired_cb, vm);
}

static void ho_enter_src_active(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
				gint64 now)
{
	if (old == VS_MIG_STATE_SRC_ACTIVE)
		return;
	ho_announce_stop(vm);	/* the VM leaves: announced here no more */
	/* leaving: no copies to filter here, once the replay of the last
	 * arrival (if still on) is done */
	if (old == VS_MIG_STATE_REPLAYING)
		ho_dedup_close_later(vm);
	else
		ho_dedup_close(vm);
	VS_STAT_ADD(vm->stats.migrations_out, 1);
	ho_open_stream(vm);	/* before the blackout, if we know where */
	ho_emit(vm, "MIGRATION_STARTED", NULL);
}

static void ho_enter_src_blackout(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
				  gint64 now)
{
	struct vs_handover *ho = vm->ho;

	if (old == VS_MIG_STATE_SRC_BLACKOUT)
		return;
	ho_announce_stop(vm);
	/* a replay still on (migrated on in its course) ends: the lcore
	 * puts what it had on the way back in front of held */
	ho->replay_on = false;
	ho->replay_cut = false;	/* the stream or a rollback takes them now */
	ho_start_buffering(vm, true);
	ho->t_down = now;
	ho->hold_timer = g_timeout_add(vm->policy.hold_ms, ho_hold_expired_cb, vm);
	ho_open_stream(vm);
	/* the VM's TX has stopped: its TCP table is as complete as it gets */
	ho_conns_export_begin(vm);
	ho_emit(vm, "BLACKOUT_STARTED", NULL);
}

/*
 * src-forwarding again: the table keeps it on log-off, device-down and
 * peer-resumed.  The migration was committed once, on the first RESUMED
 * (blackout measured, stream committed, linger-ms armed, the event sent):
 * none of that is repeated.  A second RESUMED is the destination's answer
 * to a stream that reconnected (vs_ho_tun_open() sends it to a stream
 * accepted outside dst-expecting).  log-off is QEMU clearing its features:
 * nothing to do.  device-down: vs_ho_device_gone_sync() started a capped
 * buffering episode, but stragglers still go to the tunnel uncapped.
 */
static void ho_forwarding_again(struct vs_vm *vm, enum vs_mig_event ev)
{
	switch (ev) {
	case VS_MIG_EV_PEER_RESUMED:
		vs_log(MIG, INFO, vm->cfg->name,
		       "RESUMED again (its stream reconnected): already forwarding");
		break;
	case VS_MIG_EV_DEVICE_DOWN:
		vs_dp_set_no_caps(vm, true);
		break;
	case VS_MIG_EV_LOG_OFF:
	case VS_MIG_EV_LOG_ON:
	case VS_MIG_EV_DEVICE_UP:
	case VS_MIG_EV_EXPECT:
	case VS_MIG_EV_CANCEL:
	case VS_MIG_EV_PEER_ABORT:
	case VS_MIG_EV_REPLAY_DONE:
	case VS_MIG_EV_LINGER_EXPIRED:
	case VS_MIG_EV_HOLD_EXPIRED:
	case VS_MIG_EV_EXPECT_EXPIRED:
	case VS_MIG_NUM_EVENTS:
		break;
	}
}

static void ho_enter_src_forwarding(struct vs_vm *vm, enum vs_mig_state old,
				    enum vs_mig_event ev, gint64 now)
{
	struct vs_handover *ho = vm->ho;
	JsonObject *d;

	if (old == VS_MIG_STATE_SRC_FORWARDING) {
		ho_forwarding_again(vm, ev);
		return;
	}
	ho_clear_timer(&ho->hold_timer);
	VS_STAT_SET(vm->stats.last_blackout_us, (uint64_t)(now - ho->t_down));
	vs_dp_set_no_caps(vm, true);
	if (ho->out)
		vs_tun_stream_commit(ho->out);
	ho_stragglers_begin(vm);	/* linger-ms, and each source's switch */
	d = json_object_new();
	json_object_set_int_member(d, "blackout-us", (gint64)(now - ho->t_down));
	ho_emit(vm, "VM_RESUMED_AT_DESTINATION", d);
}

static void ho_enter_dst_expecting(struct vs_vm *vm, enum vs_mig_state old,
				   enum vs_mig_event ev, gint64 now)
{
	struct vs_handover *ho = vm->ho;

	if (old == VS_MIG_STATE_DST_EXPECTING) {
		if (ev == VS_MIG_EV_EXPECT)	/* re-armed: the expectation lasts again */
			ho_arm_expect_timer(vm);
		return;
	}
	ho_dedup_close(vm);
	ho_announce_stop(vm);
	if (old == VS_MIG_STATE_SRC_FORWARDING) {
		ho_close_stream(vm, true);
		ho_stragglers_end(vm);
	}
	ho_cut_replay(vm);	/* the earlier arrival's frames go first */
	ho_start_buffering(vm, true);
	/* buffering takes a replay's frames that outlived replaying, as in
	 * paused and src-blackout: a cancel in the resume's wait must leave
	 * BUFFER (review 89, 1) */
	ho->replay_on = false;
	/* what the VM used while it ran here before (if it did) may be stale:
	 * announce only what it shows it uses after it arrives */
	vs_dp_learn_forget(vm);
	/* a new migration: a stream of an earlier one must not feed it (its
	 * seqs start at 1 again); frames of it already queued are older than
	 * any of the new one's, and are replayed first */
	ho_in_forget(vm);
	ho_conns_drop_pending(vm);
	ho->in_next_seq = 1;	/* sequence numbers start at 1 */
	ho->t_down = now;
	ho_clear_timer(&ho->hold_timer);
	ho_arm_expect_timer(vm);
	vs_tun_announce_expect(ho_tun, vm->cfg->name, vm->cfg->mac);
	ho_emit(vm, "MIGRATION_EXPECTED", NULL);
}

static void ho_enter_replaying(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev,
			       gint64 now)
{
	struct vs_handover *ho = vm->ho;

	if (old == VS_MIG_STATE_REPLAYING)
		return;
	ho_clear_timer(&ho->hold_timer);
	ho->t_up = now;
	ho->t_first_replay = 0;
	ho->replayed_at_up = VS_STAT_GET(vm->stats.replayed_pkts);
	if (old == VS_MIG_STATE_SRC_BLACKOUT) {
		JsonObject *d = json_object_new();

		VS_STAT_ADD(vm->stats.rollbacks, 1);
		VS_STAT_SET(vm->stats.last_blackout_us, (uint64_t)(now - ho->t_down));
		ho_take_back(vm);
		ho_start_replay(vm, true);
		json_object_set_int_member(d, "frames", (gint64)g_queue_get_length(&ho->replay_q));
		ho_emit(vm, "MIGRATION_ROLLED_BACK", d);
	} else if (old == VS_MIG_STATE_DST_EXPECTING) {
		VS_STAT_ADD(vm->stats.migrations_in, 1);
		ho_dedup_open(vm);
		/* an armed destination waits (bounded) for the source's stream
		 * even if it is not up yet: a cut tunnel reconnects */
		ho_start_replay(vm, false);
		if (ho->in)
			vs_tun_in_send_resumed(ho->in);
		ho_announce(vm);
		ho_emit(vm, "VM_RESUMED", NULL);
	} else {	/* PAUSED: an ordinary resume */
		/* an arrival cut by the pause, its stream admitted, goes on
		 * as an arrival: stragglers ahead of held (review 90, 1) */
		ho_start_replay(vm, !(ho->in_state == HO_IN_ADMITTED &&
				      ho->replay_phase != HO_REPLAY_TUNNEL_DONE));
	}
}

/*
 * The entry action of @state.  No default: a state added to enum
 * vs_mig_state without a case here fails the build (-Wswitch, -Werror).
 *
 * Return: the function, or NULL for a value outside the enum
 */
static ho_entry_fn ho_entry_for(enum vs_mig_state state)
{
	switch (state) {
	case VS_MIG_STATE_NONE:
		return ho_enter_none;
	case VS_MIG_STATE_PAUSED:
		return ho_enter_paused;
	case VS_MIG_STATE_SRC_ACTIVE:
		return ho_enter_src_active;
	case VS_MIG_STATE_SRC_BLACKOUT:
		return ho_enter_src_blackout;
	case VS_MIG_STATE_SRC_FORWARDING:
		return ho_enter_src_forwarding;
	case VS_MIG_STATE_DST_EXPECTING:
		return ho_enter_dst_expecting;
	case VS_MIG_STATE_REPLAYING:
		return ho_enter_replaying;
	case VS_MIG_NUM_STATES:
		break;
	}
	return NULL;
}

static void ho_enter(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev)
{
	ho_entry_fn fn = ho_entry_for(vm->mig.state);

	/* the expectation is over, however it ended */
	if (old == VS_MIG_STATE_DST_EXPECTING && vm->mig.state != VS_MIG_STATE_DST_EXPECTING) {
		ho_clear_timer(&vm->ho->expect_timer);
		ho_clear_timer(&vm->ho->resume_timer);	/* handover_resume.c */
	}
	if (!fn) {	/* cannot happen: vs_mig_event() only moves to a state */
		vs_log(MIG, ERR, vm->cfg->name, "state %d out of range: no entry action",
		       (int)vm->mig.state);
		return;
	}
	fn(vm, old, ev, g_get_monotonic_time());
	if (ho_needs_pump(vm))
		ho_kick_pump();
	/* every state but NONE may fill a buffer: watch for overflows */
	if (vm->mig.state != VS_MIG_STATE_NONE)
		ho_kick_overflow_watch();
}

void ho_feed(struct vs_vm *vm, enum vs_mig_event ev)
{
	g_autoptr(GError) err = NULL;
	enum vs_mig_state old;

	if (!vs_mig_event(&vm->mig, ev, &old, &err)) {
		vs_log(MIG, WARNING, vm->cfg->name, "ignored: %s", err->message);
		return;
	}
	ho_enter(vm, old, ev);
	if (ho_state_cb)
		ho_state_cb(vm, old, ev);
}

/* --- public API ------------------------------------------------------------ */

void vs_ho_vhost_event(struct vs_vm *vm, const struct vs_vhost_event *ev)
{
	bool logging = RTE_VHOST_NEED_LOG(ev->features);

	switch (ev->type) {
	case VS_VHOST_EV_FEATURES:
		if (logging && vm->mig.state != VS_MIG_STATE_SRC_ACTIVE)
			ho_feed(vm, VS_MIG_EV_LOG_ON);
		else if (!logging)
			ho_feed(vm, VS_MIG_EV_LOG_OFF);
		break;
	case VS_VHOST_EV_NEW_DEVICE:
		ho_emit(vm, "PORT_UP", NULL);
		ho_feed(vm, VS_MIG_EV_DEVICE_UP);
		break;
	case VS_VHOST_EV_DESTROY_DEVICE:
		ho_emit(vm, "PORT_DOWN", NULL);
		/* destroy_device with LOG_ALL on is the switchover */
		if (logging && (vm->mig.state == VS_MIG_STATE_NONE ||
				vm->mig.state == VS_MIG_STATE_REPLAYING))
			ho_feed(vm, VS_MIG_EV_LOG_ON);
		ho_feed(vm, VS_MIG_EV_DEVICE_DOWN);
		break;
	case VS_VHOST_EV_VRING_STATE:
	case VS_VHOST_NUM_EVENT_TYPES:
		break;
	}
}

gboolean vs_ho_expect(struct vs_vm *vm, const char *peer, GError **error)
{
	if (peer && !vs_tun_has_peer(ho_tun, peer)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown peer '%s'", peer);
		return FALSE;
	}
	if (vs_mig_next(vm->mig.state, VS_MIG_EV_EXPECT) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			    "port %s cannot expect a migration in state %s", vm->cfg->name,
			    vs_mig_state_to_string(vm->mig.state));
		return FALSE;
	}
	g_free(vm->ho->expect_from);
	vm->ho->expect_from = g_strdup(peer);
	ho_feed(vm, VS_MIG_EV_EXPECT);
	/*
	 * Armed while the VM already runs here: a destination shim restarted
	 * during the blackout, whose QEMU reconnected (vhost-user reconnect)
	 * before the hook armed it again.  No new_device() will come, so
	 * resume now: wait for the source's stream (bounded by replay-hold-ms)
	 * and replay it ahead of live frames, instead of holding the VM's
	 * frames until the expectation expires.  Not in this callback:
	 * handover_resume.c waits for the lcore to see the buffering start.
	 */
	if (vm->mig.state == VS_MIG_STATE_DST_EXPECTING &&
	    __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE) >= 0)
		ho_resume_running(vm);	/* once the lcore saw BUFFER (12.9, N2) */
	return TRUE;
}

gboolean vs_ho_set_peer(struct vs_vm *vm, const char *peer, GError **error)
{
	if (!vs_tun_has_peer(ho_tun, peer)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown peer '%s'", peer);
		return FALSE;
	}
	g_free(vm->ho->peer);
	vm->ho->peer = g_strdup(peer);
	vs_log(MIG, INFO, vm->cfg->name, "destination peer: %s", peer);
	/* Already migrating: open the stream now, the buffer streams as it fills */
	if (vm->mig.state == VS_MIG_STATE_SRC_ACTIVE || vm->mig.state == VS_MIG_STATE_SRC_BLACKOUT) {
		bool had_stream = vm->ho->out != NULL;

		ho_open_stream(vm);
		if (!had_stream && vm->mig.state == VS_MIG_STATE_SRC_BLACKOUT)
			ho_conns_export_begin(vm);	/* the TCP table goes with it */
		ho_kick_pump();
	}
	return TRUE;
}

void vs_ho_cancel(struct vs_vm *vm)
{
	if (vm->mig.state == VS_MIG_STATE_SRC_ACTIVE)
		ho_close_stream(vm, false);
	g_clear_pointer(&vm->ho->peer, g_free);
	ho_feed(vm, VS_MIG_EV_CANCEL);
}

const char *vs_ho_peer_name(const struct vs_vm *vm)
{
	return vm->ho ? vm->ho->peer : NULL;
}

uint64_t vs_ho_buffered_now(const struct vs_vm *vm)
{
	uint64_t n = vs_dp_buffered_now(vm);

	if (vm->ho) {
		n += g_queue_get_length((GQueue *)&vm->ho->replay_q);
		if (vm->ho->out && vm->mig.state == VS_MIG_STATE_SRC_BLACKOUT)
			n += vs_tun_stream_retained(vm->ho->out);
	}
	return n;
}

gboolean vs_ho_attach(struct vs_vm *vm, GError **error)
{
	uint32_t held = rte_align32pow2(RTE_MAX(vs_buf_policy_total_pkts(&vm->cfg->policy) + 1,
						 1024u));

	vm->policy = vm->cfg->policy;
	vm->mig.who = vm->cfg->name;
	vm->mig.state = VS_MIG_STATE_NONE;
	if (!vs_dp_port_init(vm, held, HO_INJECT_RING_SIZE, error))
		return FALSE;
	vm->ho = g_new0(struct vs_handover, 1);
	vm->ho->vm = vm;
	g_queue_init(&vm->ho->replay_q);
	vm->ho->conns_in = g_array_new(FALSE, FALSE, sizeof(struct vs_tcp_ct_entry));
	vm->ho->conns_in_idx = ho_conns_index_new();
	return TRUE;
}

unsigned int vs_ho_pool_extra(const struct vs_port_cfg *pc)
{
	/* the destination's per-source hold takes its frames from the pool
	 * too (review 63, F6) */
	return vs_buf_policy_total_pkts(&pc->policy) + HO_INJECT_RING_SIZE + VS_DP_HOLD_FRAMES +
	       64;
}

void vs_ho_detach(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (ho) {
		ho_clear_timer(&ho->hold_timer);
		ho_clear_timer(&ho->expect_timer);
		ho_clear_timer(&ho->resume_timer);
		ho_clear_timer(&ho->shrink_timer);
		ho_stragglers_free(ho);
		ho_announce_stop(vm);
		ho_clear_timer(&ho->dedup_timer);
		ho_close_stream(vm, false);
		ho_drop_replay_q(vm, VS_DROP_NOT_READY, false);
		g_free(ho->peer);
		g_free(ho->expect_from);
		g_array_unref(ho->conns_in);
		g_hash_table_unref(ho->conns_in_idx);
		g_free(ho);
		vm->ho = NULL;
	}
	vs_dp_port_fini(vm);
}
