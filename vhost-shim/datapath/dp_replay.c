/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_replay.c - the lcore's replay: its order, its pace, and the frames
 * that were on their way when a new buffering episode began
 *
 * Theory of operation: see dp_handshake.h for the rings and the shared
 * words, and who writes what.  The lcore half:
 *  - REPLAY: dp_replay() delivers the pending burst, then inject, then
 *    (once inject_done) held, and switches the port back to LIVE itself;
 *    meanwhile dp_hold_live() (dp_buffer.c) queues new frames behind, in
 *    held;
 *  - pace: the replay goes at a multiple of the rate the VM's frames
 *    arrive at (dp_rate_account(), dp_pace()), so the guest's stack is
 *    not handed the whole blackout as one burst; and no deeper than the
 *    port's RX ring bound lets the ring fill (dp_ring_offer(),
 *    dp_ring_bound.c): min(pace, room);
 *  - a new buffering episode while frames were on their way to the guest
 *    (a switchover during a replay): dp_requeue() puts the pending burst
 *    and inject back in front of held, in order, so they are streamed or
 *    replayed with the rest instead of being dropped;
 *  - LIVE with frames in held (a burst queued behind the main loop's last
 *    drain): dp_adopt_held().
 *
 * Invariant (no silent loss): a frame the replay takes is delivered, back
 * in held or the pending burst, or counted in exactly one drop reason.
 */
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "config.h"
#include "dataplane.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

/* --- lcore: the replay's pace ---------------------------------------------- */

/*
 * A replay delivered as fast as the guest's ring takes it arrives as one
 * burst at the shim's rate, far above the traffic's: a guest with default
 * socket buffers then drops the burst inside its own stack (issue 16: a
 * 5000 pps UDP stream, 48-499 datagrams lost per migration as
 * RcvbufErrors).  So the replay, and the live frames held behind it, are
 * paced: a token bucket fills at R = max(floor, pace% of the arrival
 * rate r) and a frame costs one token.  r is what reaches this VM on this
 * host: its uplink, in every mode (so it is known before a rollback's
 * replay), or the frames the tunnel brings (counted by the main loop as
 * they arrive: at the destination the blackout's frames, streamed as the
 * source buffered them, and the stragglers), whichever is larger.
 * When nothing arrives any more (a paused VM whose sender went quiet, a
 * burst inside a blackout), r is the fastest window of the last stretch
 * of uplink traffic (windows in a row that saw frames; not its slow tail)
 * within the current buffering episode: the rate the backlog itself
 * arrived at.  Only the uplink's frames and
 * only this episode's: a tunnel's catch-up (a backlog streamed at TCP
 * speed) or an old spike kept alive by a trickle must not become the
 * pace of a backlog that arrived slowly (review 63, F4).  While frames
 * arrive, r is theirs alone.  Otherwise the floor (without the memory,
 * 20000 frames buffered in 0.4 s were replayed at the floor, in 20 s:
 * bench/replay).
 * But a backlog that arrived while the guest was stopped (a pause, a
 * blackout) arrived faster than the guest may ever have read: a flood of
 * 8000 pps at a paused guest, replayed at 12000 pps, cost a default guest
 * 5 of 2000 datagrams in its socket (CI, e2e isolation).  So a quiet
 * backlog's R is also at most the fastest 100 ms window of live frames
 * (not replayed ones, which the pace shapes) this port has written into
 * its guest's RX rings (the gauge live-peak-pps), and at least
 * the floor: a guest seen taking only pings gets the floor.  A port that
 * never handed its guest a live frame is paced by the arrival alone
 * (bench/replay's new frontend).  While frames arrive the guest must take
 * r anyway, and the cap does not apply.
 * The bucket holds DP_PACE_BURST_MS worth of tokens, at least one burst,
 * so an lcore that slept in between catches up by that much only.
 * The backlog shrinks at R - r: a catch-up of backlog / ((pace - 1) r),
 * if the guest takes R.  What it took is measured per window too (the
 * gauge replay-delivered-pps); query-migration's catch-up-us measures the
 * backlog itself (vs_ho_backlog_shrink()).
 */
#define DP_RATE_WINDOW_MS	100
#define DP_RATE_MIN_MS		10
#define DP_PACE_BURST_MS	4

static uint64_t dp_arrival_pps(const struct vs_vm *vm, uint64_t now, bool *remembered)
{
	const struct vs_dp_pace *pc = &vm->dp.pace;
	uint64_t hz = rte_get_tsc_hz(), dt = now - pc->win_tsc, cur = 0;

	if (dt >= hz / 1000 * DP_RATE_MIN_MS)	/* the window under way, once it means something */
		cur = RTE_MAX(pc->win_frames, pc->win_tun) * hz / dt;
	cur = RTE_MAX(pc->prev_pps, cur);
	*remembered = !cur;
	return cur ? cur : pc->busy_pps;
}

void dp_rate_account(struct vs_vm *vm, unsigned int n, uint64_t now)
{
	struct vs_dp_pace *pc = &vm->dp.pace;
	uint64_t hz = rte_get_tsc_hz(), dt = now - pc->win_tsc, up, live, replayed, delivered;
	uint64_t tun = VS_STAT_GET(vm->stats.tunnel_rx_frames);
	uint32_t ep;

	/*
	 * The VM's frames that reach this host through the tunnel count too
	 * (the main loop counts them as they arrive): at the destination the
	 * blackout's frames and the stragglers come that way.  The larger of
	 * the two rates, not their sum: while a switch floods the VM's MAC to
	 * both hosts, every frame arrives both ways (and one copy is dropped
	 * as a duplicate).
	 */
	pc->win_frames += n;
	pc->win_tun += tun - pc->tun_seen;
	pc->tun_seen = tun;
	if (dt < hz / 1000 * DP_RATE_WINDOW_MS)
		return;
	ep = __atomic_load_n(&vm->dp.hs.episode, __ATOMIC_ACQUIRE);
	/* a window that ended long ago says nothing about the last one */
	pc->prev_pps = dt < 2 * hz / 1000 * DP_RATE_WINDOW_MS
			       ? RTE_MAX(pc->win_frames, pc->win_tun) * hz / dt : 0;
	up = dt < 2 * hz / 1000 * DP_RATE_WINDOW_MS ? pc->win_frames * hz / dt : 0;
	if (ep != pc->busy_episode) {	/* a new buffering episode: forget */
		pc->busy_episode = ep;
		pc->busy_pps = 0;
		pc->quiet = true;
	}
	if (up) {
		pc->busy_pps = pc->quiet ? up : RTE_MAX(pc->busy_pps, up);
		pc->quiet = false;
	} else {
		pc->quiet = true;
	}
	/*
	 * What the guest was handed live: every frame written into its rings
	 * but those a replay wrote (dp_flush_pending() counts them in both),
	 * which the pace itself shapes; both counters are this lcore's
	 */
	replayed = VS_STAT_GET(vm->stats.replayed_pkts);
	live = VS_STAT_GET(vm->stats.rx_pkts) - replayed;
	if (dt < 2 * hz / 1000 * DP_RATE_WINDOW_MS) {
		uint64_t live_pps = (live - pc->live_at_win) * hz / dt;

		if (live_pps > VS_STAT_GET(vm->stats.live_peak_pps))
			VS_STAT_SET(vm->stats.live_peak_pps, live_pps);
	}
	/*
	 * What the replay really got into the guest, not what the pace
	 * allowed: a guest slower than its traffic takes less (review 83,
	 * S2).  Over the whole window, however long the lcore stalled.
	 */
	delivered = (replayed - pc->replayed_at_win) * hz / dt;
	if (VS_STAT_GET(vm->stats.replay_delivered_pps) != delivered)
		VS_STAT_SET(vm->stats.replay_delivered_pps, delivered);
	pc->live_at_win = live;
	pc->replayed_at_win = replayed;
	pc->win_tsc = now;
	pc->win_frames = pc->win_tun = 0;
	VS_STAT_SET(vm->stats.arrival_rate_pps, pc->prev_pps);
}

/*
 * dp_pace() - how many of @want replayed frames may go now
 *
 * Return: @want when pacing is off, else what the bucket holds
 */
static uint16_t dp_pace(struct vs_vm *vm, uint16_t want)
{
	struct vs_dp_pace *pc = &vm->dp.pace;
	uint32_t pct = vm->policy.replay_pace_pct;
	uint64_t now, rate, peak;
	bool remembered;
	double burst;

	if (!pct)
		return want;
	pct = RTE_MAX(pct, (uint32_t)VS_MIN_REPLAY_PACE_PCT);
	now = vs_dp_ops->tsc();
	rate = dp_arrival_pps(vm, now, &remembered) * pct / 100;
	/* a quiet backlog: no faster than the guest has taken on this host */
	peak = VS_STAT_GET(vm->stats.live_peak_pps);	/* this lcore's own */
	if (remembered && peak)
		rate = RTE_MIN(rate, peak);
	rate = RTE_MAX((uint64_t)VS_REPLAY_PACE_FLOOR_PPS, rate);
	burst = (double)RTE_MAX((uint64_t)VS_DP_BURST, rate * DP_PACE_BURST_MS / 1000);
	pc->credit += (double)(now - pc->tsc) * (double)rate / (double)rte_get_tsc_hz();
	pc->tsc = now;
	if (pc->credit > burst)
		pc->credit = burst;
	if (VS_STAT_GET(vm->stats.replay_rate_pps) != rate)
		VS_STAT_SET(vm->stats.replay_rate_pps, rate);
	return pc->credit >= want ? want : (uint16_t)pc->credit;
}

/* --- lcore: replay --------------------------------------------------------- */

/*
 * dp_flush_pending() - push the pending replay burst into the guest, as
 * fast as the pace allows and as deep as the RX ring bound lets the ring
 * fill (dp_ring_offer(): min(pace, room))
 *
 * Return: true when nothing is pending any more
 */
static bool dp_flush_pending(struct vs_vm *vm, int vid, uint32_t enabled)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	uint16_t sent, allowed;
	bool bounded;

	if (!pd->n)
		return true;
	allowed = dp_pace(vm, pd->n);
	if (!allowed)
		return false;	/* paced: the bucket refills by the next poll */
	allowed = dp_ring_offer(vm, vid, enabled, 0, allowed, &bounded);
	if (!allowed) {
		dp_ring_bound_hit(vm, 0, false);
		return false;	/* bounded: the guest reposts, or re-arms */
	}
	sent = vs_dp_ops->guest_enqueue(vid, VS_VRING_RX(0), &pd->pkts[pd->head], allowed);
	if (bounded && sent == allowed)
		dp_ring_bound_hit(vm, 0, false);
	if (vm->policy.replay_pace_pct)
		vm->dp.pace.credit -= sent;
	if (sent) {
		VS_STAT_ADD(vm->stats.rx_pkts, sent);
		VS_STAT_ADD(vm->stats.rx_bytes, dp_sum_len(&pd->pkts[pd->head], sent));
		VS_STAT_ADD(vm->stats.replayed_pkts, sent);
		rte_pktmbuf_free_bulk(&pd->pkts[pd->head], sent);
		pd->head += sent;
		pd->n -= sent;
	}
	if (!pd->n)
		pd->head = 0;
	return pd->n == 0;	/* ring full: retry next loop, never drop */
}

/*
 * dp_held_first() - does held go before inject: in a replay the lcore
 * started itself (dp_own_replay_now()) because the RX ring bound held
 * frames back (vm->dp.ring_bound_holding).  Its frames reached this host
 * before anything the main loop injected since (a straggler's tunnelled
 * copy), which the duplicate filter then drops if held had it.  Not with
 * the bound off: a full ring's own replay keeps inject first, as before
 * the bound, so that a straggler (older than the direct frames that
 * arrive beside it) is not overtaken; which of the two orders is right
 * is known only to within a replay's length, and the per-source barrier
 * (plan-per-source-barrier.md) is what settles it.
 */
static bool dp_held_first(const struct vs_vm *vm)
{
	return vm->dp.ring_bound_holding && dp_own_replay_now(vm);
}

/*
 * dp_replay_publish_end() - replay @gen is over, @left frames held behind
 * it.  Only forward: a skip of the main loop's (vs_dp_replay_skip(), a
 * newer generation) stored between this lcore's load of the generation
 * and this store stays, or the port would wait in replaying for an end
 * that never comes again (review 85, SF1).
 */
static void dp_replay_publish_end(struct vs_vm *vm, uint32_t gen, uint64_t left)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t cur = __atomic_load_n(&hs->replay_end_gen, __ATOMIC_RELAXED);

	vm->dp.mark.gen = gen;		/* a later call ends @gen no more (review 85, N1) */
	vm->dp.mark.taken = vm->dp.mark.ended = true;
	while ((int32_t)(gen - cur) > 0) {
		__atomic_store_n(&hs->replay_end_left, left, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&hs->replay_end_gen, &cur, gen, false,
						__ATOMIC_RELEASE, __ATOMIC_RELAXED))
			break;
	}
}

/*
 * dp_replay_mark() - does the main loop's replay @gen end here, with frames
 * still held behind it
 *
 * Called where inject was found empty after inject_done with the pending
 * burst empty: every frame the migration owed the guest ahead of held is
 * gone.  The first time, the mark is held's put position then; once held
 * was taken past it (delivered through the pending burst, or counted as
 * buffer-full by drop-oldest or as duplicate by the filter) the frames
 * left in held arrived after it: live frames queued behind a replay that
 * a guest slower than its traffic never lets held empty for (CI,
 * 2026-12-07: a default guest under 22000 pps stayed in replaying for
 * the flood's 20 s).  The replay ends for the main loop (REPLAY_DONE)
 * while they drain as its tail, in the same order and at the same pace,
 * and the lcore still ends REPLAY itself when held and inject are empty.
 * Not for a replay the lcore started (own): nobody waits for its end.
 */
static void dp_replay_mark(struct vs_vm *vm, uint32_t gen)
{
	struct vs_dp_replay_mark *mk = &vm->dp.mark;
	struct vs_dp_handshake *hs = &vm->dp.hs;

	if (mk->gen != gen) {
		mk->gen = gen;
		mk->taken = mk->ended = false;
	}
	if (mk->ended || dp_own_replay_now(vm))
		return;
	if (!mk->taken) {
		mk->taken = true;
		mk->pos = __atomic_load_n(&hs->held_put, __ATOMIC_RELAXED);	/* own writes */
	}
	/* held_taken relaxed: a take not seen yet only delays the end */
	if ((int64_t)(__atomic_load_n(&hs->held_taken, __ATOMIC_RELAXED) - mk->pos) < 0 ||
	    rte_ring_empty(vm->dp.held))
		return;		/* empty: the end below, as ever */
	mk->ended = true;
	if (__atomic_load_n(&hs->replay_gen, __ATOMIC_ACQUIRE) != gen)
		return;		/* superseded: the new replay has its own mark */
	VS_STAT_ADD(vm->stats.replays_left_held, 1);
	dp_replay_publish_end(vm, gen,
			      __atomic_load_n(&hs->held_put, __ATOMIC_RELAXED) -
				      __atomic_load_n(&hs->held_taken, __ATOMIC_RELAXED));
}

/*
 * The next burst of a replay once inject_done: inject (tunnelled or
 * retained frames, older than anything in held), then held; held first
 * when dp_held_first().  Live frames held after a tunnelled copy arrived
 * still go ahead of it then.
 * Return: frames taken into pd->pkts (pd->origin set)
 */
static uint16_t dp_replay_next(struct vs_vm *vm, uint32_t gen)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	bool own = dp_held_first(vm);
	uint16_t n = 0;

	if (own) {
		pd->origin = VS_DP_ORIGIN_DIRECT;
		n = (uint16_t)dp_held_take(vm, pd->pkts, RTE_DIM(pd->pkts));
	}
	if (!n) {
		/*
		 * inject again: the main loop may have put its last burst
		 * there between the caller's read and its store of
		 * inject_done, which the acquire load made visible.  Only
		 * once inject is empty after inject_done may held, which is
		 * newer, go.
		 */
		pd->origin = VS_DP_ORIGIN_TUNNEL;
		n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)pd->pkts,
							 RTE_DIM(pd->pkts), NULL);
	}
	if (!n && !own) {
		dp_replay_mark(vm, gen);
		pd->origin = VS_DP_ORIGIN_DIRECT;
		n = (uint16_t)dp_held_take(vm, pd->pkts, RTE_DIM(pd->pkts));
	}
	return n;
}

/*
 * dp_replay_end() - held, inject and the pending burst are empty after
 * inject_done of replay @gen (or later): LIVE, by a CAS, since the main
 * loop may have switched the port to BUFFER meanwhile (device gone).  It
 * may also have started a new replay meanwhile, BUFFER then REPLAY in one
 * callback between this lcore's load of inject_done and its CAS (on a
 * running device: vs_ho_expect()): the CAS then took the new replay's
 * REPLAY, and the new @replay_gen says so; that replay is not over, so
 * REPLAY goes back (no frame was delivered in between: this lcore
 * delivers) and its end is not announced (review 81, 12.2).
 */
static void dp_replay_end(struct vs_vm *vm, uint32_t gen)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t replay = VS_DP_REPLAY, live = VS_DP_LIVE;

	if (!__atomic_compare_exchange_n(&hs->mode, &replay, VS_DP_LIVE, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	vm->dp.ring_bound_holding = false;
	vm->dp.own_replay = false;
	if (__atomic_load_n(&hs->replay_gen, __ATOMIC_ACQUIRE) == gen) {
		dp_replay_publish_end(vm, gen, 0);	/* after a tail: published already */
		return;
	}
	/* a later store of the main loop (BUFFER) stays */
	__atomic_compare_exchange_n(&hs->mode, &live, VS_DP_REPLAY, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/*
 * Order: the pending burst, then inject, then - once the main loop says
 * nothing more will be injected ahead - held (dp_replay_next(): held
 * first in the lcore's own replay under the RX ring bound).  When all three are empty the lcore
 * itself switches the port to LIVE, so no frame can slip between the last
 * held one and the first live one.
 */
unsigned int dp_replay(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	struct vs_dp_handshake *hs = &vm->dp.hs;
	unsigned int work = 0, rounds;
	uint32_t gen;
	uint16_t n;

	if (vid < 0 || !(enabled & (1u << VS_VRING_RX(0))))
		return 0;	/* keep everything until the device is back */
	/* before inject_done: the replay that inject_done closed is @gen or
	 * later (a replay the main loop started since the lcore's own one
	 * voids it: dp_own_replay_now(), 12.7) */
	gen = __atomic_load_n(&hs->replay_gen, __ATOMIC_ACQUIRE);
	for (rounds = 0; rounds < 4; rounds++) {
		if (!dp_flush_pending(vm, vid, enabled))
			break;
		n = 0;
		if (mode != VS_DP_REPLAY || !dp_held_first(vm)) {
			pd->origin = VS_DP_ORIGIN_TUNNEL;
			n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)pd->pkts,
								 RTE_DIM(pd->pkts), NULL);
		}
		if (!n && mode == VS_DP_REPLAY &&
		    __atomic_load_n(&hs->inject_done, __ATOMIC_ACQUIRE)) {
			n = dp_replay_next(vm, gen);
			if (!n && !dp_ring_settled(vm, vid, enabled))
				break;	/* the ring drains first (dp_ring_bound.c) */
			if (!n)		/* both empty after inject_done: done */
				dp_replay_end(vm, gen);
		}
		if (!n)
			break;
		pd->head = 0;
		pd->n = dp_dedup_on(vm) ? dp_dedup(vm, pd->pkts, n, pd->origin) : n;
		work += n;
	}
	return work;
}

/* Frames that were accepted already: only held's size bounds them */
static unsigned int dp_requeue_put(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	unsigned int put = dp_held_put(vm, pkts, n);
	uint16_t i;

	for (i = (uint16_t)put; i < n; i++)
		dp_drop(vm, pkts[i], VS_DROP_BUFFER_FULL);
	return put;
}

/* The next @k frames at held's front go to its back, in order */
static void dp_requeue_rotate(struct vs_vm *vm, uint64_t k)
{
	struct rte_mbuf *burst[VS_DP_BURST];
	uint64_t i;
	uint16_t n;

	for (i = 0; i < k; i += n) {
		n = (uint16_t)dp_held_take(vm, burst, (unsigned int)RTE_MIN((uint64_t)RTE_DIM(burst),
									   k - i));
		if (!n)
			break;	/* the main loop dropped them meanwhile */
		dp_requeue_put(vm, burst, n);
	}
}

/* The pending burst, not delivered, to held's back */
static void dp_requeue_pending(struct vs_vm *vm)
{
	struct vs_dp_pending *pd = &vm->dp.pending;

	if (!pd->n)
		return;
	if (dp_dedup_on(vm))	/* they were not delivered */
		dp_dedup_forget(vm, &pd->pkts[pd->head], pd->n, pd->origin);
	dp_requeue_put(vm, &pd->pkts[pd->head], pd->n);
	pd->n = pd->head = 0;
}

/*
 * The frames on their way to the guest go back to held's front, held's
 * frames behind them: every take from the front is put again at the back
 * (a rotation), so the order of the puts below is held's new order:
 *  - the tunnelled frames an earlier requeue moved back and nobody took
 *    yet (they are older than anything on the way now: review 91, 3);
 *  - the tunnelled frames on the way: the pending burst if it came from
 *    inject, then inject;
 *  - the direct frames an earlier requeue moved back;
 *  - the pending burst if it came from held (a replay past inject_done,
 *    a tail: inject then holds only stragglers the pump put there after
 *    it closed, which the lcore would have delivered ahead of held's
 *    next frames; review 91, 1);
 *  - the rest of held.
 * requeue_tunnel_end and requeue_end are where the tunnelled ones and all
 * of them end (held_put counts as held_taken does: a frame's put position
 * is its take position).  Nothing to move: nothing changes.
 */
void dp_requeue(struct vs_vm *vm)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	uint64_t before = rte_ring_count(vm->dp.held), old_all, old_tun, tun_end;
	bool direct = pd->n && pd->origin != VS_DP_ORIGIN_TUNNEL;
	struct rte_mbuf *burst[VS_DP_BURST];
	uint16_t n;

	if (pd->n || !rte_ring_empty(vm->dp.inject)) {
		old_all = RTE_MIN(dp_held_requeued(vm, false), before);
		old_tun = RTE_MIN(dp_held_requeued(vm, true), old_all);
		dp_requeue_rotate(vm, old_tun);
		if (!direct)
			dp_requeue_pending(vm);
		while ((n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)burst,
								 RTE_DIM(burst), NULL)))
			dp_requeue_put(vm, burst, n);
		tun_end = __atomic_load_n(&vm->dp.hs.held_put, __ATOMIC_RELAXED);
		dp_requeue_rotate(vm, old_all - old_tun);
		dp_requeue_pending(vm);		/* a direct one */
		__atomic_store_n(&vm->dp.hs.requeue_tunnel_end, tun_end, __ATOMIC_RELAXED);
		__atomic_store_n(&vm->dp.hs.requeue_end,
				 __atomic_load_n(&vm->dp.hs.held_put, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
		dp_requeue_rotate(vm, before - old_all);
	}
	/* the main loop may take from held again */
	dp_requeue_answer(vm, vm->dp.requeue_ticket);
}

void dp_requeue_answer(struct vs_vm *vm, uint32_t ticket)
{
	vm->dp.requeue_answered = ticket;
	__atomic_store_n(&vm->dp.hs.requeue_done, ticket, __ATOMIC_RELEASE);
}

bool dp_requeue_wanted(struct vs_vm *vm, uint32_t mode)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t ticket = __atomic_load_n(&hs->requeue_req, __ATOMIC_ACQUIRE);
	bool asked = ticket != vm->dp.requeue_answered;

	if (asked)	/* mode was stored before: BUFFER, or a later one */
		mode = __atomic_load_n(&hs->mode, __ATOMIC_ACQUIRE);
	if (mode != VS_DP_BUFFER) {
		/* a replay again already: its frames stay on their way; the
		 * answer is to this ticket only, a newer one stays open */
		if (asked)
			dp_requeue_answer(vm, ticket);
		return false;
	}
	vm->dp.requeue_ticket = ticket;
	if (asked)
		return true;
	if (!vm->dp.pending.n && rte_ring_empty(vm->dp.inject))
		return false;
	/* unasked: @mode was loaded at the poll's start, maybe before a
	 * resume whose replay the pump has fed since: that REPLAY is seen
	 * now (the pump fills inject only after it), and those frames stay
	 * on their way (review 91, 4); a LIVE stored since moves them too,
	 * for dp_adopt_held() (review 92, 5) */
	return __atomic_load_n(&hs->mode, __ATOMIC_ACQUIRE) != VS_DP_REPLAY;
}

/*
 * The main loop switches a port to LIVE after it has drained held, but
 * this lcore may have read BUFFER just before and queued one more burst:
 * with nobody left to drain the ring, those frames would wait there for the
 * next migration and arrive late and out of order.  If the VM runs here
 * they are delivered first, as a short replay; if it does not, they are
 * dropped and counted under the reason the main loop counted the rest of
 * that buffer (held_drop_reason: peer-lost, buffer-expired, ...), so one
 * episode's frames all add up in one place.
 */
uint32_t dp_adopt_held(struct vs_vm *vm, int vid)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t live = VS_DP_LIVE;
	enum vs_drop_reason reason;
	struct rte_mbuf *m;

	if (vid >= 0) {
		if (__atomic_compare_exchange_n(&hs->mode, &live, VS_DP_REPLAY, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&hs->inject_done, true, __ATOMIC_RELEASE);
			dp_own_replay(vm);
			return VS_DP_REPLAY;
		}
		return live;	/* the main loop switched it meanwhile */
	}
	reason = (enum vs_drop_reason)__atomic_load_n(&hs->held_drop_reason, __ATOMIC_ACQUIRE);
	while (dp_held_take(vm, &m, 1))
		dp_drop(vm, m, reason);
	return VS_DP_LIVE;
}
