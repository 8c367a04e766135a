/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_tail_harness.c - the replay-tail tests' scenario: a migration's
 * replay in front of an overloaded guest, and the checks of its hand-over
 * and its tail
 *
 * Theory of operation: see dp_tail_harness.h, which also says what each
 * function does.  They work on the fakes' state t (dp_harness.h) and one
 * struct t_tail, and check with g_assert_*(), so a failure stops the test
 * that called them at the check that failed.
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"
#include "dp_tail_harness.h"

uint32_t t_rank(uint32_t seq)
{
	if (seq >= 1001 && seq <= 1999)
		return seq - 1001;		/* tunnelled: 0.. */
	if (seq >= 1 && seq <= 999)
		return 1000 + seq;		/* buffered: 1001.. */
	return seq;				/* held 2001.., live 3001.. */
}

int t_index_of(uint32_t seq)
{
	guint i;

	for (i = 0; i < t.got->len; i++)
		if (g_array_index(t.got, uint32_t, i) == seq)
			return (int)i;
	return -1;
}

uint32_t t_outstanding(void)
{
	return t.unread[VS_VRING_RX(0)] + t.unposted[VS_VRING_RX(0)];
}

void t_check_stream(const struct t_tail *tl)
{
	uint64_t stream = tl->n_tun + tl->n_buf + tl->n_mid + (tl->live - 3001), got = 0;
	uint32_t last = 0;
	bool first = true;
	guint i;

	for (i = 0; i < t.got->len; i++) {
		uint32_t seq = g_array_index(t.got, uint32_t, i);

		if (seq >= T_HIGH)
			continue;
		if (!first && t_rank(seq) <= last)
			g_test_message("out of order at %u: %u after rank %u", i, seq, last);
		g_assert_true(first || t_rank(seq) > last);
		first = false;
		last = t_rank(seq);
		got++;
	}
	g_assert_cmpuint(got + tl->vm->stats.drops[VS_DROP_BUFFER_FULL] + tl->taken, ==, stream);
	g_assert_cmpuint(t_drops(tl->vm), ==, tl->vm->stats.drops[VS_DROP_BUFFER_FULL]);
}

struct vs_vm *t_tail_port(uint32_t max_udp)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = max_udp;
	vm->policy.max_bytes[VS_PKT_UDP] = (uint64_t)max_udp * 1514;
	return vm;
}

void t_step(struct t_tail *tl)
{
	if (tl->per_poll) {
		t_uplink_queue(tl->live, tl->per_poll);
		tl->live += tl->per_poll;
	}
	if (t.ring_on)
		t_guest_run(VS_VRING_RX(0), tl->read);
	t_poll(tl->vm, 1);
	if (t.ring_on)
		g_assert_cmpuint(t_outstanding(), <=, T_BOUND);
}

void t_tail_begin(struct t_tail *tl, struct vs_vm *vm, bool close)
{
	unsigned int i;

	memset(tl, 0, sizeof(*tl));
	tl->vm = vm;
	tl->live = 3001;
	tl->n_tun = 50;
	tl->n_buf = 100;
	tl->n_mid = 20;
	if (!t.ring_on)
		t.guest_room = T_ROOM;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 100);
	t_poll(vm, 4);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 100);
	t_inject(vm, 1001, 50);
	vs_dp_replay_start(vm);
	for (i = 0; i < 100 && (t.got->len < 50 || vm->dp.pending.n); i++)
		t_step(tl);
	t_assert_run(0, 1001, 50);
	g_assert_cmpuint(t.got->len, ==, 50);
	g_assert_false(vs_dp_replay_finished(vm));
	t_uplink_queue(2001, 20);
	t_step(tl);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 120);
	g_assert_cmpuint(t.got->len, ==, 50);
	if (close)
		vs_dp_inject_close(vm);
	tl->need = 170;
	tl->per_poll = T_LIVE;
}

unsigned int t_to_handover(struct t_tail *tl, bool at_need)
{
	unsigned int i;

	for (i = 0; i < T_POLLS; i++) {
		t_step(tl);
		if (!vs_dp_replay_finished(tl->vm)) {
			/* past the mark by more than a take: it should have ended */
			g_assert_cmpuint(t.got->len, <=, tl->need + VS_DP_BURST + tl->slack);
			continue;
		}
		if (at_need)
			g_assert_cmpuint(t.got->len, >=, tl->need);
		tl->handover_at = t.got->len;
		return i + 1;
	}
	g_test_message("not finished after %u polls: got %u, held %u, mode %d", T_POLLS,
		       t.got->len, rte_ring_count(tl->vm->dp.held), vs_dp_mode(tl->vm));
	g_assert_true(vs_dp_replay_finished(tl->vm));
	return i;
}

void t_assert_tail(const struct t_tail *tl, uint64_t replays)
{
	g_assert_true(vs_dp_replay_finished(tl->vm));
	g_assert_cmpint(vs_dp_mode(tl->vm), ==, VS_DP_REPLAY);
	g_assert_false(vs_dp_held_empty(tl->vm));
	g_assert_cmpuint(tl->vm->stats.replays_left_held, ==, replays);
	/* review 12.3: the tail is not made an own replay */
	g_assert_false(dp_own_replay_now(tl->vm));
}

void t_drain_live(struct t_tail *tl)
{
	unsigned int i;

	tl->per_poll = 0;
	for (i = 0; i < 4000 && vs_dp_mode(tl->vm) != VS_DP_LIVE; i++)
		t_step(tl);
	g_assert_cmpint(vs_dp_mode(tl->vm), ==, VS_DP_LIVE);
	g_assert_true(vs_dp_replay_finished(tl->vm));
	g_assert_cmpuint(vs_dp_buffered_now(tl->vm), ==, 0);
}

unsigned int t_take_rest(struct t_tail *tl, uint32_t n_new)
{
	uint32_t last = g_array_index(t.got, uint32_t, t.got->len - 1), want_new = 0;
	struct rte_mbuf *m[VS_DP_BURST];
	unsigned int taken = 0, n, i;

	g_assert_cmpuint(last, >=, 3001);	/* the tail's frames came last */
	while ((n = vs_dp_held_take(tl->vm, m, VS_DP_BURST))) {
		for (i = 0; i < n; i++) {
			uint32_t seq = t_seq_of(m[i]);

			if (last + 1 < tl->live) {
				g_assert_cmpuint(seq, ==, ++last);
				tl->taken++;
			} else
				g_assert_cmpuint(seq, ==, T_NEW_EPISODE + want_new++);
		}
		rte_pktmbuf_free_bulk(m, n);
		taken += n;
	}
	g_assert_cmpuint(last, ==, tl->live - 1);
	g_assert_cmpuint(want_new, ==, n_new);
	return taken;
}

void t_new_replay(struct t_tail *tl, uint32_t n_inject, unsigned int stall,
		  uint64_t replays)
{
	struct vs_vm *vm = tl->vm;
	unsigned int at = t.got->len, pending = vm->dp.pending.n, i;

	t_inject(vm, T_NEW_INJECT, n_inject);
	vs_dp_replay_start(vm);
	tl->per_poll = T_LIVE;
	for (i = 0; i < stall; i++) {
		t_step(tl);
		g_assert_false(vs_dp_replay_finished(vm));
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	}
	/* the burst on its way, then the new tunnelled frames; held waits */
	g_assert_cmpuint(t.got->len, ==, at + pending + n_inject);
	if (n_inject)
		t_assert_run(at + pending, T_NEW_INJECT, n_inject);
	g_assert_cmpuint(vm->dp.pending.n, ==, 0);
	vs_dp_inject_close(vm);
	tl->need = t.got->len + rte_ring_count(vm->dp.held);
	t_to_handover(tl, true);
	t_assert_tail(tl, replays);
	t_drain_live(tl);
	t_check_stream(tl);
}
