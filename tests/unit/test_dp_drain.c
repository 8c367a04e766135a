/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_drain.c - the drain under load: when the lcore answers a drain
 * ticket (the source's BARRIER waits for it), and that every frame waiting
 * in the uplink's queues when the ticket was taken is below the mark
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs,
 * a port buffering without caps (the source in its blackout or forwarding
 * stragglers) whose held ring is deep enough for a flood, and a "pump"
 * that takes everything from held between polls, as the main loop streams
 * it, recording each frame's position in held (held_taken before it plus
 * one).  Frames queued before a ticket carry sequence numbers below
 * T_FLOOD, the flood's after it at or above: the answer's mark
 * (drain_mark, held_put when the lcore answered) must be at or beyond the
 * position of every frame of the first kind.  docs/dev/plan-rx-ring-bound.md
 * section 10 is the rule under test: per queue, settled by a short burst
 * or by reading the queue's depth since the ticket, with a budget of
 * DP_DRAIN_MAX_BURSTS bursts per queue and poll.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "uplink.h"
#include "dp_harness.h"

#define T_FLOOD		1000000u	/* the flood's first sequence number */
#define T_HELD_DEEP	8192		/* held: a poll's flood and more */

/* What the pump saw: positions in held, and the frames queued before a
 * ticket (seq < T_FLOOD) */
struct t_pump {
	uint64_t pos;			/* frames taken so far */
	uint64_t before_max_pos;	/* the last position of a seq < T_FLOOD */
	uint64_t before_n;		/* frames with seq < T_FLOOD taken */
};

/* A port that buffers without caps, its held ring T_HELD_DEEP deep */
static struct vs_vm *t_port_deep(void)
{
	struct vs_vm *vm = t_port_new();
	g_autoptr(GError) err = NULL;

	vs_dp_port_fini(vm);
	g_assert_true(vs_dp_port_init(vm, T_HELD_DEEP, 256, &err));
	g_assert_no_error(err);
	vs_dp_buffer_start(vm, false);
	return vm;
}

/* The main loop streams everything held holds, in order */
static void t_pump_all(struct vs_vm *vm, struct t_pump *p)
{
	struct rte_mbuf *m[64];
	unsigned int n, i;

	while ((n = vs_dp_held_take(vm, m, G_N_ELEMENTS(m)))) {
		for (i = 0; i < n; i++) {
			p->pos++;
			if (t_seq_of(m[i]) < T_FLOOD) {
				p->before_max_pos = p->pos;
				p->before_n++;
			}
		}
		rte_pktmbuf_free_bulk(m, n);
	}
}

static bool t_answered(const struct vs_vm *vm, uint32_t ticket)
{
	return vs_dp_drain_state(vm, ticket) != VS_DP_DRAIN_PENDING;
}

static uint64_t t_mark(const struct vs_vm *vm)
{
	return __atomic_load_n(&vm->dp.hs.drain_mark, __ATOMIC_ACQUIRE);
}

/* Nothing dropped, and every frame the uplink gave was taken or is held */
static void t_check_all_taken(const struct vs_vm *vm, const struct t_pump *p)
{
	g_assert_cmpuint(t_drops(vm), ==, 0);
	g_assert_cmpuint(vm->stats.uplink_rx_pkts, ==, p->pos + vs_dp_buffered_now(vm));
}

/*
 * A short burst settles the queue: 100 frames are read and the ticket
 * answered in the first poll, with all 100 below the mark.
 */
static void test_short_burst_settles(void)
{
	struct vs_vm *vm = t_port_deep();
	struct t_pump p = { 0 };
	uint32_t ticket;

	t_uplink_queue(1, 100);
	ticket = vs_dp_drain_request(vm);
	t_poll(vm, 1);
	g_assert_true(t_answered(vm, ticket));
	g_assert_cmpuint(t_mark(vm), ==, 100);
	t_pump_all(vm, &p);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);
	g_assert_cmpuint(p.before_n, ==, 100);
	t_check_all_taken(vm, &p);
	t_port_free(vm);
}

/*
 * Exactly k bursts of 32, then nothing: a queue that gave only full bursts
 * may hold more, so the ticket is answered by the poll whose burst comes
 * back short (the same poll for a few bursts; the next one when the k
 * bursts used up the poll's budget), and every frame is below the mark.
 */
static void t_exact(unsigned int bursts, unsigned int polls_max)
{
	struct vs_vm *vm = t_port_deep();
	struct t_pump p = { 0 };
	uint32_t n = bursts * VS_DP_BURST, ticket;
	unsigned int polls = 0;

	t.depth[0] = VS_UPLINK_TAP_QLEN;	/* more than the frames */
	t_uplink_queue(1, n);
	ticket = vs_dp_drain_request(vm);
	while (!t_answered(vm, ticket) && polls < 5) {
		t_poll(vm, 1);
		polls++;
	}
	g_assert_true(t_answered(vm, ticket));
	g_assert_cmpuint(polls, <=, polls_max);
	g_assert_cmpuint(t_mark(vm), ==, n);
	t_pump_all(vm, &p);
	g_assert_cmpuint(p.before_n, ==, n);
	g_assert_cmpuint(p.before_max_pos, <=, t_mark(vm));
	t_check_all_taken(vm, &p);
	t_port_free(vm);
}

static void test_exact_burst(void)
{
	t_exact(3, 1);
	t_exact(64, 2);		/* DP_DRAIN_MAX_BURSTS */
}

/*
 * review 50's flood (f5d0af7): 2048 new frames before every poll, which
 * each poll can read; the queue had a backlog of 3000 when the ticket was
 * taken (the lcore was away), and can hold 4096.  The ticket is answered
 * within 3 polls (once queue 0 gave 4096 frames since it), with the whole
 * backlog below the mark; after the answer a poll reads one burst again
 * (the drain is closed, review 50's B2).
 */
static void test_flood_settles_by_depth(void)
{
	struct vs_vm *vm = t_port_deep();
	struct t_pump p = { 0 };
	uint32_t ticket, seq = T_FLOOD;
	uint64_t mark = 0, rx;
	unsigned int i, answered_at = 0;

	t.depth[0] = VS_UPLINK_TAP_QLEN;
	t_uplink_queue(1, 3000);
	ticket = vs_dp_drain_request(vm);
	for (i = 1; i <= 200 && !answered_at; i++) {
		t_uplink_queue(seq, 2048);
		seq += 2048;
		t_poll(vm, 1);
		if (t_answered(vm, ticket)) {
			answered_at = i;
			mark = t_mark(vm);
		}
		t_pump_all(vm, &p);
	}
	g_assert_cmpuint(answered_at, >=, 1);
	g_assert_cmpuint(answered_at, <=, 3);
	g_assert_cmpuint(mark, >=, 3000);	/* one queue: position == seq */
	g_assert_cmpuint(p.before_n, ==, 3000);
	g_assert_cmpuint(p.before_max_pos, <=, mark);
	g_assert_cmpuint(t.depth_calls[0], ==, 1);	/* once per ticket */
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);

	rx = vm->stats.uplink_rx_pkts;
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.uplink_rx_pkts - rx, ==, VS_DP_BURST);
	t_pump_all(vm, &p);
	t_check_all_taken(vm, &p);
	t_port_free(vm);
}

/*
 * The budget is per queue: queue 0 flooded (2048 a poll, 4096 deep, a
 * backlog of 1000 at the ticket), queue 1 holding 300.  Queue 1 is read
 * empty in the first poll with its own budget, and the answer comes when
 * queue 0 gave 4096 since the ticket; every frame of either queue that
 * waited at the ticket is below the mark.
 */
static void test_per_queue_budget(void)
{
	struct vs_vm *vm = t_port_deep();
	struct t_pump p = { 0 };
	uint32_t ticket, seq = T_FLOOD;
	uint64_t mark = 0;
	unsigned int i, answered_at = 0;

	vm->cfg->queues = 2;
	vm->dev_queues = 2;
	t.depth[0] = VS_UPLINK_TAP_QLEN;
	t_uplink_queue_on(0, 1, 1000);
	t_uplink_queue_on(1, 5001, 300);
	ticket = vs_dp_drain_request(vm);
	for (i = 1; i <= 10 && !answered_at; i++) {
		t_uplink_queue_on(0, seq, 2048);
		seq += 2048;
		t_poll(vm, 1);
		if (i == 1)
			g_assert_cmpuint(t_uplink_waiting(1), ==, 0);
		if (t_answered(vm, ticket)) {
			answered_at = i;
			mark = t_mark(vm);
		}
		t_pump_all(vm, &p);
	}
	g_assert_cmpuint(answered_at, ==, 2);	/* 4096 of queue 0 by then */
	g_assert_cmpuint(p.before_n, ==, 1300);
	g_assert_cmpuint(p.before_max_pos, <=, mark);
	g_assert_cmpuint(t.depth_calls[0], ==, 1);
	g_assert_cmpuint(t.depth_calls[1], ==, 1);
	t_check_all_taken(vm, &p);
	t_port_free(vm);
}

/*
 * A second ticket while the first is open restarts the counts: its answer
 * must cover the frames queued up to its own time.  Under the flood of
 * test_flood_settles_by_depth() the first would settle in the second poll;
 * the second ticket, taken after the first poll, is answered only when
 * queue 0 gave 4096 since it (the third poll), and the first with it.
 */
static void test_superseded_restarts(void)
{
	struct vs_vm *vm = t_port_deep();
	struct t_pump p = { 0 };
	uint32_t a, b;
	uint64_t before_b;

	t.depth[0] = VS_UPLINK_TAP_QLEN;
	t_uplink_queue(1, 3000);
	a = vs_dp_drain_request(vm);
	t_uplink_queue(3001, 2048);
	t_poll(vm, 1);
	g_assert_false(t_answered(vm, a));
	t_pump_all(vm, &p);

	before_b = 3000 + 2048;		/* queued before b: all below T_FLOOD */
	b = vs_dp_drain_request(vm);
	t_uplink_queue(T_FLOOD, 2048);
	t_poll(vm, 1);
	g_assert_false(t_answered(vm, a));	/* a alone would be settled */
	g_assert_false(t_answered(vm, b));
	t_pump_all(vm, &p);
	t_uplink_queue(T_FLOOD + 2048, 2048);
	t_poll(vm, 1);
	g_assert_true(t_answered(vm, b));
	g_assert_true(t_answered(vm, a));
	g_assert_cmpuint(t_mark(vm), >=, before_b);
	g_assert_cmpuint(t.depth_calls[0], ==, 2);	/* once per ticket */
	t_pump_all(vm, &p);
	g_assert_cmpuint(p.before_n, ==, before_b);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_REACHED);
	t_check_all_taken(vm, &p);
	t_port_free(vm);
}

/*
 * The depth per uplink kind (vs_uplink_rx_depth(), pure): a tap's
 * txqueuelen, whatever its PMD says of descriptors (VS_UPLINK_TAP_QLEN if
 * unread); a PMD's count when it counts (0: empty); else the queue's
 * descriptors, VS_UPLINK_RX_DESC if unknown.  Without a tap the ticket
 * carries no txqueuelen, and no ioctl is made.
 */
static void test_depth_per_kind(void)
{
	struct vs_vm *vm;

	g_assert_cmpuint(vs_uplink_rx_depth("net_tap", 4096, 1024, -ENOTSUP), ==, 4096);
	g_assert_cmpuint(vs_uplink_rx_depth("net_tap", 10000, 512, 7), ==, 10000);
	g_assert_cmpuint(vs_uplink_rx_depth("net_tap", -1, 512, -ENOTSUP), ==, VS_UPLINK_TAP_QLEN);
	g_assert_cmpuint(vs_uplink_rx_depth("net_ixgbe", -1, 512, 200), ==, 200);
	g_assert_cmpuint(vs_uplink_rx_depth("net_ixgbe", 4096, 512, 0), ==, 0);
	g_assert_cmpuint(vs_uplink_rx_depth("net_af_packet", -1, 512, -ENOTSUP), ==, 512);
	g_assert_cmpuint(vs_uplink_rx_depth("net_af_packet", -1, 0, -ENOTSUP), ==,
			 VS_UPLINK_RX_DESC);
	g_assert_cmpuint(vs_uplink_rx_depth(NULL, 4096, 0, -EINVAL), ==, VS_UPLINK_RX_DESC);
	/* no ethdev 0 here: nothing to read */
	g_assert_cmpint(vs_uplink_tap_qlen(0, NULL), ==, -1);
	g_assert_cmpint(vs_uplink_tap_qlen(0, "net_af_packet"), ==, -1);
	g_assert_cmpint(vs_uplink_tap_qlen(0, "net_tap"), ==, -1);

	vm = t_port_new();
	vs_dp_drain_request(vm);
	g_assert_cmpint(vm->dp.hs.drain_qlen, ==, -1);
	t_port_free(vm);
}

/* --- the ticket counter (review 58) -------------------------------------- */

/*
 * The ticket counter wraps (uint32_t drain_req; vs_dp_port's drain_ticket
 * starts at 0): the ticket 0 that follows UINT32_MAX is a new ticket, with
 * its own depths (review 58, F4: it was taken for the one the lcore already
 * served, so the first full burst settled the queue with 3000 - 32 frames
 * of the ticket's time still queued).
 */
static void test_drain_ticket_wrap(void)
{
	struct vs_vm *vm = t_port_deep();
	uint32_t ticket;

	t.depth[0] = VS_UPLINK_TAP_QLEN;
	vm->dp.hs.drain_req = UINT32_MAX;
	vm->dp.hs.drain_done = UINT32_MAX;
	t_uplink_queue(1, 3000);
	ticket = vs_dp_drain_request(vm);
	g_assert_cmpuint(ticket, ==, 0);
	t_poll(vm, 1);
	g_test_message("ticket 0: answered %d, mark %" PRIu64 ", depth asked %u times",
		       t_answered(vm, ticket), t_mark(vm), t.depth_calls[0]);
	g_assert_cmpuint(t.depth_calls[0], ==, 1);	/* its own depth */
	if (t_answered(vm, ticket))
		g_assert_cmpuint(t_mark(vm), >=, 3000);
	t_poll(vm, 200);
	{
		struct t_pump p = { 0 };

		t_pump_all(vm, &p);
	}
	t_port_free(vm);
}


static void add_tests(void)
{
	g_test_add_func("/dataplane/drain/short-burst-settles", test_short_burst_settles);
	g_test_add_func("/dataplane/drain/exact-burst", test_exact_burst);
	g_test_add_func("/dataplane/drain/depth-per-kind", test_depth_per_kind);
	g_test_add_func("/dataplane/drain/flood-settles-by-depth", test_flood_settles_by_depth);
	g_test_add_func("/dataplane/drain/per-queue-budget", test_per_queue_budget);
	g_test_add_func("/dataplane/drain/superseded-restarts", test_superseded_restarts);
	g_test_add_func("/dataplane/drain/ticket-wrap", test_drain_ticket_wrap);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-drain", add_tests);
}
