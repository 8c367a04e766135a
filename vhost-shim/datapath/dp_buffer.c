/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_buffer.c - the lcore's buffer, replay and drain, and the
 * main loop's half of the handshake (dp_handshake.h)
 *
 * Theory of operation: see dp_handshake.h for the rings and the shared
 * words, and who writes what.  The lcore half:
 *  - BUFFER: dp_buffer() classifies each frame, applies the class policy
 *    and the caps of the episode, and appends it to held; on a port with
 *    flow-policy rules (dp_flow.h) each frame's rule decides instead:
 *    its action, its own caps and the priorities under the VM's totals
 *    (flow_prio.h, dp_rules.c), tail drop only;
 *  - REPLAY: dp_replay() delivers the pending burst, then inject, then
 *    (once inject_done) held, and switches the port back to LIVE itself;
 *    meanwhile dp_hold_live() queues new frames behind, in held;
 *  - LIVE with a full guest ring: dp_hold_ring_full() starts a replay of
 *    the lcore's own (the rest of the burst waits in held, in order);
 *  - a new buffering episode while frames were on their way to the guest
 *    (a switchover during a replay): dp_requeue() puts the pending burst
 *    and inject back in front of held, in order, so they are streamed or
 *    replayed with the rest instead of being dropped;
 *  - LIVE with frames in held (a burst queued behind the main loop's last
 *    drain): dp_adopt_held();
 *  - drain (barrier) requests, served once per poll (announce requests:
 *    dp_announce.c).
 *
 * Invariant (no silent loss): a frame the lcore takes from the uplink is
 * delivered, in held, in the pending burst, or counted in exactly one drop
 * reason.
 */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_direct.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "log.h"
#include "pkt.h"
#include "vm.h"

static enum vs_pkt_class dp_classify(const struct vs_vm *vm, const struct rte_mbuf *m)
{
	return vs_pkt_classify(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			       vm->cfg->mac);
}

/* The class a frame's caps are counted under: runts and the VM's own
 * frames (delivered behind a replay, never buffered) count as other */
static enum vs_pkt_class dp_cap_class(const struct vs_vm *vm, const struct rte_mbuf *m)
{
	enum vs_pkt_class c = dp_classify(vm, m);

	return c < VS_PKT_NUM_CLASSES ? c : VS_PKT_OTHER;
}

/* --- held: our own positions and contents, no ring internals -------------- */

static void dp_held_count(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n, bool add)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	unsigned int i;

	for (i = 0; i < n; i++) {
		enum vs_pkt_class c = dp_cap_class(vm, pkts[i]);
		uint64_t len = rte_pktmbuf_pkt_len(pkts[i]);

		if (add) {
			__atomic_fetch_add(&hs->held_pkts[c], 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&hs->held_bytes[c], len, __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_sub(&hs->held_pkts[c], 1, __ATOMIC_RELAXED);
			__atomic_fetch_sub(&hs->held_bytes[c], len, __ATOMIC_RELAXED);
		}
	}
}

/* lcore: the sole producer (dp_priv.h) */
unsigned int dp_held_put(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int put;

	/* counted first: a consumer that takes them at once must not
	 * subtract what was never added */
	dp_held_count(vm, pkts, n, true);
	put = rte_ring_sp_enqueue_burst(vm->dp.held, (void **)pkts, n, NULL);
	if (put < n)
		dp_held_count(vm, &pkts[put], n - put, false);
	if (put)
		__atomic_store_n(&vm->dp.hs.held_put,
				 __atomic_load_n(&vm->dp.hs.held_put, __ATOMIC_RELAXED) + put,
				 __ATOMIC_RELEASE);
	return put;
}

/* any consumer */
static unsigned int dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int got = rte_ring_mc_dequeue_burst(vm->dp.held, (void **)pkts, n, NULL);

	if (got) {
		dp_held_count(vm, pkts, got, false);
		__atomic_fetch_add(&vm->dp.hs.held_taken, got, __ATOMIC_RELEASE);
	}
	return got;
}

/* Would one more frame of @c, @len bytes, exceed a cap of what held holds */
static bool dp_held_over(const struct vs_vm *vm, enum vs_pkt_class c, uint32_t len)
{
	const struct vs_dp_handshake *hs = &vm->dp.hs;

	return __atomic_load_n(&hs->held_pkts[c], __ATOMIC_RELAXED) + 1 > vm->policy.max_pkts[c] ||
	       __atomic_load_n(&hs->held_bytes[c], __ATOMIC_RELAXED) + len >
		       vm->policy.max_bytes[c];
}

/* --- lcore: buffering ------------------------------------------------------ */

/*
 * dp_drop_oldest() - make room by dropping the oldest frame still in held
 * (drop-oldest overflow policy)
 *
 * Return: true if a frame was dropped
 */
static bool dp_drop_oldest(struct vs_vm *vm)
{
	struct vs_dp_buffer_acct *a = &vm->dp.acct;
	struct rte_mbuf *old;
	enum vs_pkt_class c;

	if (!dp_held_take(vm, &old, 1))
		return false;
	c = dp_classify(vm, old);
	if (c < VS_PKT_NUM_CLASSES && a->pkts[c]) {
		a->pkts[c]--;
		a->bytes[c] -= RTE_MIN(a->bytes[c], (uint64_t)rte_pktmbuf_pkt_len(old));
	}
	dp_drop(vm, old, VS_DROP_BUFFER_FULL);
	return true;
}

/*
 * Invariant: a frame is either in held or counted in exactly one drop
 * reason; nothing leaves this function silently.
 */
void dp_buffer(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	struct vs_dp_flow *f = __atomic_load_n(&vm->dp.flow, __ATOMIC_ACQUIRE);
	bool rules = f && f->t->n_user;
	uint32_t dslot;	/* the default rules' first slot */
	bool caps = !__atomic_load_n(&vm->dp.hs.no_caps, __ATOMIC_RELAXED);
	const struct vs_buf_policy *p = &vm->policy;
	struct vs_dp_buffer_acct *a = &vm->dp.acct;
	uint32_t ep = __atomic_load_n(&vm->dp.hs.episode, __ATOMIC_ACQUIRE);
	uint64_t total_pkts = 0, total_bytes = 0;
	uint16_t i;
	int c;

	if (ep != a->episode) {
		memset(a, 0, sizeof(*a));
		a->episode = ep;
		if (f)
			dp_flow_sync(vm, f, true);
	} else if (f) {
		dp_flow_sync(vm, f, false);
	}
	dslot = f ? f->t->n_user : 0;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		enum vs_pkt_class cls;

		if (rules) {
			if (!dp_buffer_rules(vm, f, m, caps, &cls))
				continue;
			goto buffered;
		}
		/* no rules: today's per-class caps, counted under the default rules */
		cls = dp_classify(vm, m);

		if (cls == VS_PKT_RUNT) {
			dp_drop(vm, m, VS_DROP_RUNT);
			continue;
		}
		/* never replay a VM its own frames, from any MAC it uses */
		if (cls == VS_PKT_OWN_MAC || dp_learned_own(vm, m)) {
			dp_drop(vm, m, VS_DROP_OWN_MAC);
			continue;
		}
		if (caps && f)
			dp_flow_inc(&f->ctr[dslot + cls].matched);
		if (caps) {
			if (p->class_policy[cls] == VS_CLASS_DROP) {
				if (f)
					dp_flow_inc(&f->ctr[dslot + cls].dropped);
				dp_drop(vm, m, VS_DROP_POLICY);
				continue;
			}
			/* the episode's frames, and whatever held still holds
			 * (frames requeued from an earlier episode) */
			while (a->pkts[cls] + 1 > p->max_pkts[cls] ||
			       a->bytes[cls] + len > p->max_bytes[cls] || dp_held_over(vm, cls, len)) {
				if (p->overflow != VS_OVERFLOW_DROP_OLDEST || !dp_drop_oldest(vm))
					break;
			}
			if (a->pkts[cls] + 1 > p->max_pkts[cls] ||
			    a->bytes[cls] + len > p->max_bytes[cls] || dp_held_over(vm, cls, len)) {
				if (f)
					dp_flow_inc(&f->ctr[dslot + cls].dropped);
				dp_drop(vm, m, VS_DROP_BUFFER_FULL);
				continue;
			}
		}
		if (!dp_held_put(vm, &m, 1)) {
			if (caps && f)
				dp_flow_inc(&f->ctr[dslot + cls].dropped);
			dp_drop(vm, m, VS_DROP_BUFFER_FULL);
			continue;
		}
		if (caps && f)
			dp_flow_inc(&f->ctr[dslot + cls].buffered);
buffered:
		a->pkts[cls]++;
		a->bytes[cls] += len;
		VS_STAT_ADD(vm->stats.buffered_pkts[cls], 1);
		VS_STAT_ADD(vm->stats.buffered_bytes[cls], len);
	}
	for (c = 0; c < VS_PKT_NUM_CLASSES; c++) {
		total_pkts += a->pkts[c];
		total_bytes += a->bytes[c];
	}
	if (total_pkts > VS_STAT_GET(vm->stats.buffer_peak_pkts))
		VS_STAT_SET(vm->stats.buffer_peak_pkts, total_pkts);
	if (total_bytes > VS_STAT_GET(vm->stats.buffer_peak_bytes))
		VS_STAT_SET(vm->stats.buffer_peak_bytes, total_bytes);
}

/*
 * dp_hold() - frames that must wait behind a replay, appended to held
 * within the buffer caps (class policy, per-class packets and bytes, the
 * overflow policy; on a port with rules, dp_hold_rules()), counted against
 * what held holds now: a replay that
 * waits for a slow guest or a silent tunnel cannot take every mbuf of the
 * pool, and the pump always finds mbufs for the frames that go ahead.
 *
 * Return: frames held
 */
static unsigned int dp_hold(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	struct vs_dp_flow *f = __atomic_load_n(&vm->dp.flow, __ATOMIC_ACQUIRE);
	const struct vs_buf_policy *p = &vm->policy;
	unsigned int held = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		enum vs_pkt_class c;

		if (f && f->t->n_user) {	/* by rule and priority (dp_rules.c) */
			held += dp_hold_rules(vm, f, m);
			continue;
		}
		c = dp_cap_class(vm, m);

		if (p->class_policy[c] == VS_CLASS_DROP) {
			dp_drop(vm, m, VS_DROP_POLICY);
			continue;
		}
		while (dp_held_over(vm, c, len) && p->overflow == VS_OVERFLOW_DROP_OLDEST &&
		       dp_drop_oldest(vm))
			;
		if (dp_held_over(vm, c, len) || !dp_held_put(vm, &m, 1)) {
			dp_drop(vm, m, VS_DROP_BUFFER_FULL);
			continue;
		}
		held++;
	}
	return held;
}

void dp_hold_live(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	if (!__atomic_load_n(&vm->dp.hs.live_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&vm->dp.hs.live_seen, true, __ATOMIC_RELEASE);
	VS_STAT_ADD(vm->stats.live_held_pkts, dp_hold(vm, pkts, n));
}

bool dp_hold_ring_full(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, bool dedup)
{
	uint32_t live = VS_DP_LIVE;

	if (!vm->policy.enabled ||
	    !__atomic_compare_exchange_n(&vm->dp.hs.mode, &live, VS_DP_REPLAY, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return false;
	__atomic_store_n(&vm->dp.hs.inject_done, true, __ATOMIC_RELEASE);
	if (dedup)	/* checked again when the replay delivers them */
		dp_dedup_forget(vm, pkts, n, VS_DP_ORIGIN_DIRECT);
	dp_hold(vm, pkts, n);
	return true;
}

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
 * The bucket holds DP_PACE_BURST_MS worth of tokens, at least one burst,
 * so an lcore that slept in between catches up by that much only.
 * The backlog shrinks at R - r: a catch-up of backlog / ((pace - 1) r).
 */
#define DP_RATE_WINDOW_MS	100
#define DP_RATE_MIN_MS		10
#define DP_PACE_BURST_MS	4

static uint64_t dp_arrival_pps(const struct vs_vm *vm, uint64_t now)
{
	const struct vs_dp_pace *pc = &vm->dp.pace;
	uint64_t hz = rte_get_tsc_hz(), dt = now - pc->win_tsc, cur = 0;

	if (dt >= hz / 1000 * DP_RATE_MIN_MS)	/* the window under way, once it means something */
		cur = RTE_MAX(pc->win_frames, pc->win_tun) * hz / dt;
	return RTE_MAX(pc->prev_pps, cur);
}

void dp_rate_account(struct vs_vm *vm, unsigned int n, uint64_t now)
{
	struct vs_dp_pace *pc = &vm->dp.pace;
	uint64_t hz = rte_get_tsc_hz(), dt = now - pc->win_tsc;
	uint64_t tun = VS_STAT_GET(vm->stats.tunnel_rx_frames);

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
	/* a window that ended long ago says nothing about the last one */
	pc->prev_pps = dt < 2 * hz / 1000 * DP_RATE_WINDOW_MS
			       ? RTE_MAX(pc->win_frames, pc->win_tun) * hz / dt : 0;
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
	uint64_t now, rate;
	double burst;

	if (!pct)
		return want;
	pct = RTE_MAX(pct, (uint32_t)VS_MIN_REPLAY_PACE_PCT);
	now = vs_dp_ops->tsc();
	rate = RTE_MAX((uint64_t)VS_REPLAY_PACE_FLOOR_PPS, dp_arrival_pps(vm, now) * pct / 100);
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
 * dp_flush_pending() - push the pending replay burst into the guest
 *
 * Return: true when nothing is pending any more
 */
static bool dp_flush_pending(struct vs_vm *vm, int vid)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	uint16_t sent, allowed;

	if (!pd->n)
		return true;
	allowed = dp_pace(vm, pd->n);
	if (!allowed)
		return false;	/* paced: the bucket refills by the next poll */
	sent = vs_dp_ops->guest_enqueue(vid, VS_VRING_RX(0), &pd->pkts[pd->head], allowed);
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
 * Order: the pending burst, then inject (tunnelled or retained frames,
 * older than anything in held), then - once the main loop says nothing
 * more will be injected ahead - held.  When all three are empty the lcore
 * itself switches the port to LIVE, so no frame can slip between the last
 * held one and the first live one.
 */
unsigned int dp_replay(struct vs_vm *vm, int vid, uint32_t enabled, uint32_t mode)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	struct vs_dp_handshake *hs = &vm->dp.hs;
	unsigned int work = 0, rounds;
	uint16_t n;

	if (vid < 0 || !(enabled & (1u << VS_VRING_RX(0))))
		return 0;	/* keep everything until the device is back */
	for (rounds = 0; rounds < 4; rounds++) {
		if (!dp_flush_pending(vm, vid))
			break;
		pd->origin = VS_DP_ORIGIN_TUNNEL;
		n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)pd->pkts,
							 RTE_DIM(pd->pkts), NULL);
		if (!n && mode == VS_DP_REPLAY &&
		    __atomic_load_n(&hs->inject_done, __ATOMIC_ACQUIRE)) {
			/*
			 * inject again: the main loop may have put its last
			 * burst there between the read above and its store of
			 * inject_done, which the acquire load made visible.
			 * Only once inject is empty after inject_done may held,
			 * which is newer, go.
			 */
			n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)pd->pkts,
								 RTE_DIM(pd->pkts), NULL);
			if (!n) {
				pd->origin = VS_DP_ORIGIN_DIRECT;
				n = (uint16_t)dp_held_take(vm, pd->pkts, RTE_DIM(pd->pkts));
			}
			if (!n) {	/* both empty after inject_done: done */
				uint32_t replay = VS_DP_REPLAY;

				/* a CAS: the main loop may have switched the
				 * port to BUFFER meanwhile (device gone) */
				if (__atomic_compare_exchange_n(&hs->mode, &replay, VS_DP_LIVE,
								false, __ATOMIC_ACQ_REL,
								__ATOMIC_ACQUIRE))
					__atomic_store_n(&hs->replay_finished, true,
							 __ATOMIC_RELEASE);
			}
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
static void dp_requeue_put(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	unsigned int put = dp_held_put(vm, pkts, n);
	uint16_t i;

	for (i = (uint16_t)put; i < n; i++)
		dp_drop(vm, pkts[i], VS_DROP_BUFFER_FULL);
}

void dp_requeue(struct vs_vm *vm)
{
	struct vs_dp_pending *pd = &vm->dp.pending;
	unsigned int before = rte_ring_count(vm->dp.held), moved = 0, i;
	struct rte_mbuf *burst[VS_DP_BURST];
	uint16_t n;

	if (pd->n) {
		if (dp_dedup_on(vm))	/* they were not delivered */
			dp_dedup_forget(vm, &pd->pkts[pd->head], pd->n, pd->origin);
		dp_requeue_put(vm, &pd->pkts[pd->head], pd->n);
		moved += pd->n;
		pd->n = pd->head = 0;
	}
	while ((n = (uint16_t)rte_ring_sc_dequeue_burst(vm->dp.inject, (void **)burst,
							 RTE_DIM(burst), NULL))) {
		dp_requeue_put(vm, burst, n);
		moved += n;
	}
	/* what held had goes behind them: rotate it once */
	for (i = 0; moved && i < before; i += n) {
		n = (uint16_t)dp_held_take(vm, burst, RTE_MIN(RTE_DIM(burst), before - i));
		if (!n)
			break;	/* the main loop dropped them meanwhile */
		dp_requeue_put(vm, burst, n);
	}
	/* the main loop may take from held again */
	__atomic_store_n(&vm->dp.hs.requeue, false, __ATOMIC_RELEASE);
}

bool dp_requeue_wanted(struct vs_vm *vm, uint32_t mode)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	bool asked = __atomic_load_n(&hs->requeue, __ATOMIC_ACQUIRE);

	if (asked)	/* mode was stored before: BUFFER, or a later one */
		mode = __atomic_load_n(&hs->mode, __ATOMIC_ACQUIRE);
	if (mode != VS_DP_BUFFER) {
		/* a replay again already: its frames stay on their way */
		if (asked)
			__atomic_store_n(&hs->requeue, false, __ATOMIC_RELEASE);
		return false;
	}
	return asked || vm->dp.pending.n || !rte_ring_empty(vm->dp.inject);
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
			return VS_DP_REPLAY;
		}
		return live;	/* the main loop switched it meanwhile */
	}
	reason = (enum vs_drop_reason)__atomic_load_n(&hs->held_drop_reason, __ATOMIC_ACQUIRE);
	while (dp_held_take(vm, &m, 1))
		dp_drop(vm, m, reason);
	return VS_DP_LIVE;
}

/* --- lcore: drain (the announce is in dp_announce.c) ----------------------- */

/*
 * The source's main loop asks for a drain when the destination reports
 * live traffic (LIVE_SEEN): every frame that reached this uplink before
 * then must be in the stream before the BARRIER that closes it.  Frames
 * still in the uplink's queues were not yet in held, so the lcore empties
 * the queues first (vs_dp_poll_port()), then records how far it has filled
 * held; the main loop sends the barrier once held was taken up to that
 * mark (vs_dp_drain_state()).
 */
bool dp_drain_wanted(struct vs_vm *vm, uint32_t *ticket)
{
	*ticket = __atomic_load_n(&vm->dp.hs.drain_req, __ATOMIC_ACQUIRE);
	return *ticket != __atomic_load_n(&vm->dp.hs.drain_done, __ATOMIC_RELAXED);
}

void dp_drain_done(struct vs_vm *vm, uint32_t ticket)
{
	__atomic_store_n(&vm->dp.hs.drain_mark,
			 __atomic_load_n(&vm->dp.hs.held_put, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
	__atomic_store_n(&vm->dp.hs.drain_done, ticket, __ATOMIC_RELEASE);
}

/* --- main loop (and the vhost thread) ------------------------------------- */

gboolean vs_dp_port_init(struct vs_vm *vm, uint32_t held_size, uint32_t inject_size,
			 GError **error)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "vs_held_%s", vm->cfg->name);
	vm->dp.held = rte_ring_create(name, held_size, SOCKET_ID_ANY, RING_F_SP_ENQ);
	snprintf(name, sizeof(name), "vs_inj_%s", vm->cfg->name);
	vm->dp.inject = rte_ring_create(name, inject_size, SOCKET_ID_ANY,
					RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!vs_dp_arrival_init()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
			    "port %s: cannot register the mbuf arrival-time field: %s",
			    vm->cfg->name, rte_strerror(rte_errno));
		return FALSE;
	}
	if (!vm->dp.held || !vm->dp.inject) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
			    "port %s: cannot allocate buffer rings (%u entries)", vm->cfg->name,
			    held_size);
		return FALSE;
	}
	vm->dp.dedup = g_new0(struct vs_dp_dedup, 1);
	vm->dp.direct = vs_dp_direct_new();
	vs_learn_init(&vm->dp.learn, 0);
	if (!vs_dp_tcp_init(vm, VS_TCP_CT_DEFAULT_SIZE, VS_TCP_CT_DEFAULT_IDLE_MS)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVAL,
			    "port %s: cannot set up its TCP connection table", vm->cfg->name);
		return FALSE;
	}
	return TRUE;
}

void vs_dp_port_fini(struct vs_vm *vm)
{
	struct vs_dp_port *dp = &vm->dp;
	struct rte_mbuf *m;

	while (dp->held && rte_ring_dequeue(dp->held, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (dp->inject && rte_ring_dequeue(dp->inject, (void **)&m) == 0)
		rte_pktmbuf_free(m);
	if (dp->pending.n)
		rte_pktmbuf_free_bulk(&dp->pending.pkts[dp->pending.head], dp->pending.n);
	dp->pending.n = 0;
	rte_ring_free(dp->held);
	rte_ring_free(dp->inject);
	dp->held = dp->inject = NULL;
	g_clear_pointer(&dp->dedup, g_free);
	g_clear_pointer(&dp->direct, g_free);
	vs_dp_tcp_fini(vm);
}

enum vs_dp_mode vs_dp_mode(const struct vs_vm *vm)
{
	return (enum vs_dp_mode)__atomic_load_n(&vm->dp.hs.mode, __ATOMIC_ACQUIRE);
}

void vs_dp_set_live(struct vs_vm *vm)
{
	__atomic_store_n(&vm->dp.hs.mode, VS_DP_LIVE, __ATOMIC_RELEASE);
}

/* A new buffering episode: the lcore restarts its caps, and leftovers of
 * it are not-ready until the main loop drains it for a reason */
static void dp_new_episode(struct vs_vm *vm, bool no_caps)
{
	__atomic_store_n(&vm->dp.hs.no_caps, no_caps, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->dp.hs.held_drop_reason, VS_DROP_NOT_READY, __ATOMIC_RELAXED);
	__atomic_fetch_add(&vm->dp.hs.episode, 1, __ATOMIC_RELEASE);
}

void vs_dp_buffer_start(struct vs_vm *vm, bool caps)
{
	/* already buffering with caps since destroy_device: same episode */
	if (caps && vs_dp_mode(vm) == VS_DP_BUFFER &&
	    !__atomic_load_n(&vm->dp.hs.no_caps, __ATOMIC_RELAXED))
		return;
	dp_new_episode(vm, !caps);
	__atomic_store_n(&vm->dp.hs.mode, VS_DP_BUFFER, __ATOMIC_RELEASE);
	/* a replay may have been under way: its frames go back into held */
	__atomic_store_n(&vm->dp.hs.requeue, true, __ATOMIC_RELEASE);
}

void vs_dp_device_gone(struct vs_vm *vm)
{
	uint32_t live = VS_DP_LIVE;

	dp_new_episode(vm, false);
	if (__atomic_compare_exchange_n(&vm->dp.hs.mode, &live, VS_DP_BUFFER, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		__atomic_store_n(&vm->dp.hs.requeue, true, __ATOMIC_RELEASE);
	/* in REPLAY the main loop's vs_dp_buffer_start() follows (device-down) */
}

void vs_dp_set_no_caps(struct vs_vm *vm, bool no_caps)
{
	__atomic_store_n(&vm->dp.hs.no_caps, no_caps, __ATOMIC_RELAXED);
}

void vs_dp_replay_start(struct vs_vm *vm)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;

	__atomic_store_n(&hs->inject_done, false, __ATOMIC_RELEASE);
	__atomic_store_n(&hs->live_seen, false, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->replay_finished, false, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->mode, VS_DP_REPLAY, __ATOMIC_RELEASE);
}

void vs_dp_replay_skip(struct vs_vm *vm)
{
	__atomic_store_n(&vm->dp.hs.mode, VS_DP_LIVE, __ATOMIC_RELEASE);
	__atomic_store_n(&vm->dp.hs.replay_finished, true, __ATOMIC_RELEASE);
}

void vs_dp_inject_close(struct vs_vm *vm)
{
	if (!__atomic_load_n(&vm->dp.hs.inject_done, __ATOMIC_RELAXED))
		__atomic_store_n(&vm->dp.hs.inject_done, true, __ATOMIC_RELEASE);
}

bool vs_dp_inject_closed(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.inject_done, __ATOMIC_ACQUIRE);
}

bool vs_dp_live_seen(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.live_seen, __ATOMIC_ACQUIRE);
}

bool vs_dp_replay_finished(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.replay_finished, __ATOMIC_ACQUIRE);
}

void vs_dp_announce(struct vs_vm *vm)
{
	__atomic_fetch_add(&vm->dp.hs.announce_req, 1, __ATOMIC_RELEASE);
}

void vs_dp_learn_forget(struct vs_vm *vm)
{
	__atomic_fetch_add(&vm->dp.hs.learn_forget_req, 1, __ATOMIC_RELEASE);
}

uint32_t vs_dp_drain_request(struct vs_vm *vm)
{
	return __atomic_add_fetch(&vm->dp.hs.drain_req, 1, __ATOMIC_RELEASE);
}

/* Positions are 64-bit counts: they do not wrap in practice, and are
 * compared by difference anyway */
enum vs_dp_drain_state vs_dp_drain_state(const struct vs_vm *vm, uint32_t ticket)
{
	const struct vs_dp_handshake *hs = &vm->dp.hs;
	uint64_t mark, taken;

	if (__atomic_load_n(&hs->drain_done, __ATOMIC_ACQUIRE) != ticket)
		return VS_DP_DRAIN_PENDING;
	mark = __atomic_load_n(&hs->drain_mark, __ATOMIC_RELAXED);
	taken = __atomic_load_n(&hs->held_taken, __ATOMIC_ACQUIRE);
	return (int64_t)(taken - mark) >= 0 ? VS_DP_DRAIN_REACHED : VS_DP_DRAIN_ANSWERED;
}

unsigned int vs_dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
{
	if (__atomic_load_n(&vm->dp.hs.requeue, __ATOMIC_ACQUIRE))
		return 0;	/* frames still go to the front: wait */
	return dp_held_take(vm, pkts, n);
}

void vs_dp_held_drop_all(struct vs_vm *vm, enum vs_drop_reason reason)
{
	struct rte_mbuf *m;

	/* a burst the lcore queues behind this drain is counted the same way */
	__atomic_store_n(&vm->dp.hs.held_drop_reason, reason, __ATOMIC_RELEASE);
	while (dp_held_take(vm, &m, 1)) {
		VS_STAT_ADD(vm->stats.ctl_drops[reason], 1);
		rte_pktmbuf_free(m);
	}
}

bool vs_dp_held_empty(const struct vs_vm *vm)
{
	return rte_ring_empty(vm->dp.held);
}

int vs_dp_inject_put(struct vs_vm *vm, struct rte_mbuf *m)
{
	return rte_ring_sp_enqueue(vm->dp.inject, m) ? -ENOBUFS : 0;
}

bool vs_dp_inject_full(const struct vs_vm *vm)
{
	return rte_ring_full(vm->dp.inject);
}

uint64_t vs_dp_buffered_now(const struct vs_vm *vm)
{
	return rte_ring_count(vm->dp.held) + rte_ring_count(vm->dp.inject) +
	       __atomic_load_n(&vm->dp.pending.n, __ATOMIC_RELAXED);
}
