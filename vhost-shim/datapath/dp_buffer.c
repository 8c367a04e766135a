/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_buffer.c - the lcore's buffer: held, its caps, and the frames that
 * wait behind a replay
 *
 * Theory of operation: see dp_handshake.h for the rings and the shared
 * words, and who writes what.  held is the one ring both halves take from,
 * so every frame that goes in or out is counted by class here
 * (dp_held_put(), dp_held_take(): held_pkts, held_bytes, held_put,
 * held_taken), and the caps are checked against those counts:
 *  - BUFFER: dp_buffer() classifies each frame, applies the class policy
 *    and the caps of the episode, and appends it to held; on a port with
 *    flow-policy rules (dp_flow.h) each frame's rule decides instead:
 *    its action, its own caps and the priorities under the VM's totals
 *    (flow_prio.h, dp_rules.c), tail drop only;
 *  - REPLAY: dp_hold_live() queues new frames behind the replay, in held,
 *    within the caps of what held holds now (dp_replay.c delivers them);
 *  - LIVE with a full guest ring, or one filled up to the port's RX ring
 *    bound (dp_ring_bound.c): dp_hold_ring_full() starts a replay of the
 *    lcore's own (the rest of the burst waits in held, in order).
 *
 * Invariant (no silent loss): a frame the lcore takes from the uplink is
 * delivered, in held, in the pending burst, or counted in exactly one drop
 * reason.
 */
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_priv.h"
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

/*
 * The class is parsed once, when a frame goes in, and kept in the mbuf
 * (vs_dp_arrival.held_class) for when it comes out; the counters move once
 * per class per call, not per frame: a guest slower than its uplink sends
 * every frame through held, and four atomic operations and two parses per
 * frame were what made the shim slower than testpmd uplink -> VM.
 */
static void dp_held_count(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n, bool add)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint64_t pk[VS_PKT_NUM_CLASSES] = { 0 }, by[VS_PKT_NUM_CLASSES] = { 0 };
	unsigned int i, c;

	for (i = 0; i < n; i++) {
		struct vs_dp_arrival *a = RTE_MBUF_DYNFIELD(pkts[i], vs_dp_arrival_off,
							    struct vs_dp_arrival *);

		if (add)
			a->held_class = dp_cap_class(vm, pkts[i]);
		c = a->held_class < VS_PKT_NUM_CLASSES ? a->held_class : VS_PKT_OTHER;
		pk[c]++;
		by[c] += rte_pktmbuf_pkt_len(pkts[i]);
	}
	for (c = 0; c < VS_PKT_NUM_CLASSES; c++) {
		if (!pk[c])
			continue;
		if (add) {
			__atomic_fetch_add(&hs->held_pkts[c], pk[c], __ATOMIC_RELAXED);
			__atomic_fetch_add(&hs->held_bytes[c], by[c], __ATOMIC_RELAXED);
		} else {
			__atomic_fetch_sub(&hs->held_pkts[c], pk[c], __ATOMIC_RELAXED);
			__atomic_fetch_sub(&hs->held_bytes[c], by[c], __ATOMIC_RELAXED);
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

/* any consumer (dp_priv.h) */
unsigned int dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
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

	vm->dp.ring_bound_holding = false;	/* a new episode (dp_ring_bound.c) */
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
 * In a replay the RX ring bound held frames back in
 * (vm->dp.ring_bound_holding), no class policy or rule drops a frame: the
 * ring had room for it, so it waits, within the caps (dp_ring_bound.c).
 *
 * Return: frames held
 */
static unsigned int dp_hold(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n)
{
	struct vs_dp_flow *f = __atomic_load_n(&vm->dp.flow, __ATOMIC_ACQUIRE);
	const struct vs_buf_policy *p = &vm->policy;
	bool waits = vm->dp.ring_bound_holding;
	unsigned int held = 0;
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		enum vs_pkt_class c;

		if (f && f->t->n_user) {	/* by rule and priority (dp_rules.c) */
			held += dp_hold_rules(vm, f, m, waits);
			continue;
		}
		c = dp_cap_class(vm, m);

		if (p->class_policy[c] == VS_CLASS_DROP && !waits) {
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

bool dp_hold_ring_full(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, bool dedup,
		       bool bounded, unsigned int *held)
{
	uint32_t mode = VS_DP_LIVE;

	*held = 0;
	if (!vm->policy.enabled)
		return false;
	if (dedup)	/* checked again when the replay delivers them */
		dp_dedup_forget(vm, pkts, n, VS_DP_ORIGIN_DIRECT);
	if (__atomic_compare_exchange_n(&vm->dp.hs.mode, &mode, VS_DP_REPLAY, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&vm->dp.hs.inject_done, true, __ATOMIC_RELEASE);
		dp_own_replay(vm);
		if (bounded)	/* before dp_hold(): no policy drops them */
			vm->dp.ring_bound_holding = true;
		*held = dp_hold(vm, pkts, n);
		if (bounded)	/* the bound's switch: a hit */
			dp_ring_bound_hit(vm, *held, true);
		return true;
	}
	/* the main loop switched the port since the caller read LIVE: these
	 * frames go where that mode puts them, behind what held has */
	if (mode == VS_DP_BUFFER)
		dp_buffer(vm, pkts, n);
	else
		dp_hold_live(vm, pkts, n);
	return true;
}

void dp_own_replay(struct vs_vm *vm)
{
	vm->dp.own_replay = true;
	vm->dp.own_replay_episode = __atomic_load_n(&vm->dp.hs.episode, __ATOMIC_ACQUIRE);
	vm->dp.own_replay_gen = __atomic_load_n(&vm->dp.hs.replay_gen, __ATOMIC_ACQUIRE);
}

/* a new episode, or a replay the main loop started since (with buffering
 * off there is no new episode: review 83, B1), ends it */
bool dp_own_replay_now(const struct vs_vm *vm)
{
	return vm->dp.own_replay &&
	       vm->dp.own_replay_episode == __atomic_load_n(&vm->dp.hs.episode, __ATOMIC_ACQUIRE) &&
	       vm->dp.own_replay_gen == __atomic_load_n(&vm->dp.hs.replay_gen, __ATOMIC_ACQUIRE);
}
