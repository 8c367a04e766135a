/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_handshake.c - the main loop's half of a port's handshake with its
 * lcore (dp_handshake.h), and the drain request both halves serve
 *
 * Theory of operation: see dp_handshake.h for the rings and the shared
 * words, and who writes what.  The main loop (and the vhost thread) never
 * touch the guest or the uplink: they set up and free a port's rings,
 * switch its mode, start buffering episodes and replays, put frames into
 * inject and take them from held, and read how far the lcore got.  A
 * drain is the one request whose answer both halves write: the main loop
 * takes a ticket (vs_dp_drain_request()), the lcore answers it in the poll
 * where every uplink queue settled for it (dp_drain_wanted(),
 * dp_drain_begin(), dp_drain_count(), dp_drain_done(); the rule is below),
 * and the main loop compares the answer with what it took from held
 * (vs_dp_drain_state()).
 */
#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_direct.h"
#include "dp_source_hold.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "uplink.h"
#include "vm.h"

/* --- lcore: drain (the announce is in dp_announce.c) ----------------------- */

/*
 * The source's main loop asks for a drain when the destination reports
 * live traffic (LIVE_SEEN): every frame that reached this uplink before
 * then must be in the stream before the BARRIER that closes it.  Frames
 * still in the uplink's queues were not yet in held, so the lcore reads
 * them first (vs_dp_poll_port()), then records how far it has filled held;
 * the main loop sends the barrier once held was taken up to that mark
 * (vs_dp_drain_state()).
 *
 * When the frames of the ticket's time have all been read is decided per
 * queue, from the poll where the lcore first sees the ticket: a queue is
 * settled once a burst comes back short (it was empty at that moment) or
 * once it has given as many frames as it could hold then (its depth: the
 * queue is FIFO, so every frame that waited in it at the ticket has been
 * read, however fast new ones arrive).  The ticket is answered in the poll
 * where the last queue settles.  A queue that gives only full bursts under
 * a steady flood settles by its depth within ceil(depth / VS_DP_BURST) of
 * its own bursts, so the answer comes after a bounded number of polls
 * (review 50's B1: "wait for a poll that empties every queue" never came
 * under such a flood).  A newer ticket restarts the counts: its answer
 * must cover the frames up to its own time, and answers the older ones
 * with it.  All of it is the lcore's own state (struct vs_dp_port,
 * drain_*), but for the ticket (acquire) and the tap's txqueuelen the
 * main loop stored before it (hs.drain_qlen, read by the op uplink_depth).
 */
bool dp_drain_wanted(struct vs_vm *vm, uint32_t *ticket)
{
	*ticket = __atomic_load_n(&vm->dp.hs.drain_req, __ATOMIC_ACQUIRE);
	return *ticket != __atomic_load_n(&vm->dp.hs.drain_done, __ATOMIC_RELAXED);
}

void dp_drain_begin(struct vs_vm *vm, uint32_t ticket)
{
	struct vs_dp_port *dp = &vm->dp;
	uint16_t q, nq = (uint16_t)MIN(vm->cfg->queues, VS_MAX_QUEUES);

	/* drain_begun: a ticket that equals the last one served only after
	 * 2^32 tickets, or the port's first being 0, is a new one (review 58 F4) */
	if (dp->drain_begun && ticket == dp->drain_ticket)
		return;		/* the counts are this ticket's already */
	dp->drain_begun = true;
	dp->drain_ticket = ticket;
	dp->drain_settled = 0;
	for (q = 0; q < nq; q++) {
		dp->drain_read[q] = 0;
		dp->drain_depth[q] = vs_dp_ops->uplink_depth(vm, q);
	}
}

bool dp_drain_settled(const struct vs_vm *vm, uint16_t q)
{
	return q >= VS_MAX_QUEUES || (vm->dp.drain_settled & (1u << q));
}

bool dp_drain_count(struct vs_vm *vm, uint16_t q, uint16_t n)
{
	struct vs_dp_port *dp = &vm->dp;

	if (q >= VS_MAX_QUEUES)
		return true;
	dp->drain_read[q] += n;
	if (n < VS_DP_BURST || dp->drain_read[q] >= dp->drain_depth[q])
		dp->drain_settled |= 1u << q;
	return dp_drain_settled(vm, q);
}

bool dp_drain_all_settled(const struct vs_vm *vm)
{
	unsigned int nq = MIN(vm->cfg->queues, VS_MAX_QUEUES);
	uint32_t all = (1u << nq) - 1;

	return (vm->dp.drain_settled & all) == all;
}

void dp_drain_done(struct vs_vm *vm, uint32_t ticket)
{
	vm->dp.drain_begun = false;	/* the next ticket starts its own counts */
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
	vm->dp.hold = vs_dp_source_hold_new();
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
	g_clear_pointer(&dp->hold, vs_dp_source_hold_free);
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

/* A ticket for the lcore's requeue (@requeue_req): after the mode's store */
static void dp_requeue_ask(struct vs_vm *vm)
{
	__atomic_fetch_add(&vm->dp.hs.requeue_req, 1, __ATOMIC_RELEASE);
}

/* Is a requeue asked and not answered yet: frames may still go to held's
 * front.  acquire: the lcore's stores before its answer */
static bool dp_requeue_open(const struct vs_vm *vm)
{
	uint32_t done = __atomic_load_n(&vm->dp.hs.requeue_done, __ATOMIC_ACQUIRE);

	return done != __atomic_load_n(&vm->dp.hs.requeue_req, __ATOMIC_ACQUIRE);
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
	/* already buffering with caps since destroy_device: same episode;
	 * requeue all the same, so that its answer says the lcore saw BUFFER
	 * (destroy_device's CAS may not have stored its own requeue yet:
	 * review 88, L1; a requeue in BUFFER is idempotent) */
	if (caps && vs_dp_mode(vm) == VS_DP_BUFFER &&
	    !__atomic_load_n(&vm->dp.hs.no_caps, __ATOMIC_RELAXED)) {
		dp_requeue_ask(vm);
		return;
	}
	dp_new_episode(vm, !caps);
	__atomic_store_n(&vm->dp.hs.mode, VS_DP_BUFFER, __ATOMIC_RELEASE);
	/* a replay may have been under way: its frames go back into held */
	dp_requeue_ask(vm);
}

void vs_dp_device_gone(struct vs_vm *vm)
{
	uint32_t live = VS_DP_LIVE;

	dp_new_episode(vm, false);
	if (__atomic_compare_exchange_n(&vm->dp.hs.mode, &live, VS_DP_BUFFER, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		dp_requeue_ask(vm);
	/* in REPLAY the main loop's vs_dp_buffer_start() follows (device-down) */
}

bool vs_dp_buffer_seen(const struct vs_vm *vm)
{
	return !dp_requeue_open(vm);
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
	/*
	 * A new replay: an end the lcore decides for an older one is not its.
	 * After inject_done's store: an lcore that loads the new generation
	 * sees inject_done false or this replay's close, never the last
	 * one's (review 83, S1).
	 */
	__atomic_fetch_add(&hs->replay_gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&hs->mode, VS_DP_REPLAY, __ATOMIC_RELEASE);
}

void vs_dp_replay_skip(struct vs_vm *vm)
{
	struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t gen = __atomic_add_fetch(&hs->replay_gen, 1, __ATOMIC_RELEASE);

	__atomic_store_n(&hs->mode, VS_DP_LIVE, __ATOMIC_RELEASE);
	__atomic_store_n(&hs->replay_end_left, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hs->replay_end_gen, gen, __ATOMIC_RELEASE);
}

void vs_dp_leave_buffer(struct vs_vm *vm)
{
	uint32_t buffer = VS_DP_BUFFER;

	__atomic_compare_exchange_n(&vm->dp.hs.mode, &buffer, VS_DP_LIVE, false,
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
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
	const struct vs_dp_handshake *hs = &vm->dp.hs;

	return __atomic_load_n(&hs->replay_end_gen, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&hs->replay_gen, __ATOMIC_RELAXED);	/* main's own */
}

uint64_t vs_dp_replay_end_left(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.replay_end_left, __ATOMIC_RELAXED);	/* after end_gen */
}

uint64_t vs_dp_held_mark(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.held_put, __ATOMIC_ACQUIRE);
}

bool vs_dp_held_reached(const struct vs_vm *vm, uint64_t mark)
{
	return (int64_t)(__atomic_load_n(&vm->dp.hs.held_taken, __ATOMIC_ACQUIRE) - mark) >= 0;
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
	/*
	 * A tap's queue may have been resized since the port opened: its
	 * length now bounds what waits in it (one ioctl per ticket), and the
	 * release add below publishes it with the ticket.
	 */
	__atomic_store_n(&vm->dp.hs.drain_qlen,
			 vs_uplink_tap_qlen(vm->eth_port, vm->dp.uplink_driver), __ATOMIC_RELAXED);
	return __atomic_add_fetch(&vm->dp.hs.drain_req, 1, __ATOMIC_RELEASE);
}

/*
 * A later answer answers every earlier ticket too: the lcore serves the last
 * ticket it saw, and its mark, taken later, is the stricter one.  Tickets
 * are compared by difference (they wrap after 2^31 requests in flight,
 * which never are); positions are 64-bit counts: they do not wrap in
 * practice, and are compared by difference anyway.
 */
enum vs_dp_drain_state vs_dp_drain_state(const struct vs_vm *vm, uint32_t ticket)
{
	const struct vs_dp_handshake *hs = &vm->dp.hs;
	uint32_t done = __atomic_load_n(&hs->drain_done, __ATOMIC_ACQUIRE);
	uint64_t mark;

	if ((int32_t)(done - ticket) < 0)
		return VS_DP_DRAIN_PENDING;
	mark = __atomic_load_n(&hs->drain_mark, __ATOMIC_RELAXED);
	return vs_dp_held_reached(vm, mark) ? VS_DP_DRAIN_REACHED : VS_DP_DRAIN_ANSWERED;
}

unsigned int vs_dp_held_take(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
{
	if (dp_requeue_open(vm))
		return 0;	/* frames still go to the front: wait */
	return dp_held_take(vm, pkts, n);
}

/* How many of the frames moved back (@tunnelled: of the tunnelled ones
 * leading them) are still at held's front */
uint64_t dp_held_requeued(const struct vs_vm *vm, bool tunnelled)
{
	const struct vs_dp_handshake *hs = &vm->dp.hs;
	uint64_t end, taken;

	/* after the requeue's answer */
	end = __atomic_load_n(tunnelled ? &hs->requeue_tunnel_end : &hs->requeue_end,
			      __ATOMIC_RELAXED);
	taken = __atomic_load_n(&hs->held_taken, __ATOMIC_ACQUIRE);
	return (int64_t)(end - taken) > 0 ? end - taken : 0;
}

bool vs_dp_held_requeued_left(const struct vs_vm *vm)
{
	return dp_requeue_open(vm) || dp_held_requeued(vm, true) > 0;
}

unsigned int vs_dp_held_take_requeued(struct vs_vm *vm, struct rte_mbuf **pkts, unsigned int n)
{
	uint64_t left;

	if (dp_requeue_open(vm))
		return 0;	/* frames still go to the front: wait */
	left = dp_held_requeued(vm, true);
	return left ? dp_held_take(vm, pkts, (unsigned int)MIN((uint64_t)n, left)) : 0;
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
