/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_replay.c - the order of buffered, replayed and live frames
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs.
 * A migration's frames reach the guest in one order: the pending burst,
 * then what the tunnel injected, then what was held, then live traffic.
 * These tests drive the lcore (vs_dp_poll_port()) and the main loop's half
 * (dp_handshake.h) through that order: a replay that waits for the device,
 * the drain, a full guest ring, held frames adopted while LIVE, the
 * switchover with a burst in flight or injected frames left over, and the
 * main loop's inject racing the lcore's poll.  Each checks the sequence
 * numbers the guest got and that every frame is accounted for.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"

/*
 * A replay delivers the pending burst, then inject, then held, then the
 * live frames that arrived meanwhile, in that order, with a guest that
 * takes few frames at a time; held waits until inject is closed.
 */
static void test_order(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1000, 100);		/* blackout: local frames */
	t_poll(vm, 4);
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 100);

	t_inject(vm, 1, 50);			/* tunnelled: older */
	t.guest_room = 7;
	vs_dp_replay_start(vm);
	t_uplink_queue(5000, 30);		/* live, during the replay */
	t_poll(vm, 20);
	/* inject delivered, held waits for inject_done, live frames behind */
	t_assert_run(0, 1, 50);
	g_assert_cmpuint(t.got->len, ==, 50);
	g_assert_true(vs_dp_live_seen(vm));
	g_assert_false(vs_dp_replay_finished(vm));
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);

	t_inject(vm, 51, 10);			/* a late tunnelled burst */
	vs_dp_inject_close(vm);
	t_poll(vm, 100);
	t_assert_run(0, 1, 60);
	t_assert_run(60, 1000, 100);
	t_assert_run(160, 5000, 30);
	g_assert_true(vs_dp_replay_finished(vm));
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(vm->stats.replayed_pkts, ==, 190);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 30);

	t.guest_room = T_UNLIMITED;
	t_uplink_queue(6000, 5);		/* live again */
	t_poll(vm, 1);
	t_assert_run(190, 6000, 5);
	t_check_accounting(vm, 60);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_port_free(vm);
}

/* A replay waits while the device is gone; nothing is dropped meanwhile */
static void test_replay_without_device(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 10);
	t_poll(vm, 1);
	vm->vid = -1;
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 5);
	g_assert_cmpuint(t.got->len, ==, 0);
	vm->vid = 0;
	t_poll(vm, 5);
	t_assert_run(0, 1, 10);
	g_assert_true(vs_dp_replay_finished(vm));
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Drain (the source's barrier): the lcore empties the uplink's queue in one
 * poll, beyond one burst, then marks held; the mark is reached once held
 * was taken up to it, not before.
 */
static void test_drain(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *m[64];
	uint32_t ticket;
	unsigned int got;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 10);
	t_poll(vm, 1);
	ticket = vs_dp_drain_request(vm);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_PENDING);
	t_uplink_queue(11, 200);		/* more than one burst */
	t_poll(vm, 1);
	g_assert_cmpuint(g_queue_get_length(&t.rx), ==, 0);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	t_uplink_queue(211, 5);			/* after the mark */
	t_poll(vm, 1);

	got = vs_dp_held_take(vm, m, 64);
	g_assert_cmpuint(got, ==, 64);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	rte_pktmbuf_free_bulk(m, got);
	while ((got = vs_dp_held_take(vm, m, 1)) && t_seq_of(m[0]) < 209)
		rte_pktmbuf_free(m[0]);
	g_assert_cmpuint(got, ==, 1);
	rte_pktmbuf_free(m[0]);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpuint(vs_dp_held_take(vm, m, 1), ==, 1);
	g_assert_cmpuint(t_seq_of(m[0]), ==, 210);	/* the last before the mark */
	rte_pktmbuf_free(m[0]);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);

	/* a second request supersedes the first */
	ticket = vs_dp_drain_request(vm);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_PENDING);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	vs_dp_held_drop_all(vm, VS_DROP_PEER_LOST);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_PEER_LOST], ==, 5);
	t_port_free(vm);
}

/*
 * Two tickets taken before one poll: the poll answers both, and both
 * reach the later ticket's mark together (a per-source barrier's ticket
 * shares the drain with the replay's BARRIER and must not stay pending
 * because a later request came first).  A ticket taken after the answer
 * waits for a poll of its own.
 */
static void test_drain_superseded(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *m[16];
	uint32_t a, b, c;

	vs_dp_buffer_start(vm, true);
	a = vs_dp_drain_request(vm);
	t_uplink_queue(1, 4);			/* before the second ticket */
	b = vs_dp_drain_request(vm);
	t_uplink_queue(5, 6);
	g_assert_cmpint(vs_dp_drain_state(vm, a), ==, VS_DP_DRAIN_PENDING);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_PENDING);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_drain_state(vm, a), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_ANSWERED);

	/* both wait for B's mark, all ten frames, not A's four */
	g_assert_cmpuint(vs_dp_held_take(vm, m, 9), ==, 9);
	rte_pktmbuf_free_bulk(m, 9);
	g_assert_cmpint(vs_dp_drain_state(vm, a), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpuint(vs_dp_held_take(vm, m, 1), ==, 1);
	rte_pktmbuf_free(m[0]);
	g_assert_cmpint(vs_dp_drain_state(vm, a), ==, VS_DP_DRAIN_REACHED);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_REACHED);

	c = vs_dp_drain_request(vm);
	g_assert_cmpint(vs_dp_drain_state(vm, c), ==, VS_DP_DRAIN_PENDING);
	g_assert_cmpint(vs_dp_drain_state(vm, a), ==, VS_DP_DRAIN_REACHED);
	t_uplink_queue(11, 2);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_drain_state(vm, c), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpint(vs_dp_drain_state(vm, b), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpuint(vs_dp_held_take(vm, m, 16), ==, 2);
	rte_pktmbuf_free_bulk(m, 2);
	g_assert_cmpint(vs_dp_drain_state(vm, c), ==, VS_DP_DRAIN_REACHED);
	t_port_free(vm);
}

/* A full guest ring in live mode: the rest waits in held, in order; with
 * buffering off it drops.  @vm: a new port */
static void t_ring_full(struct vs_vm *vm)
{
	t.guest_room = 5;
	t_uplink_queue(1, 32);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	t_uplink_queue(33, 10);
	t_poll(vm, 30);
	t_assert_run(0, 1, 42);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);

	/* buffering off: a full ring drops, as a NIC's would */
	vm->policy.enabled = false;
	t.guest_room = 0;
	t_uplink_queue(100, 4);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_VM_RING_FULL], ==, 4);
	t_check_accounting(vm, 0);
}

static void test_ring_full(void)
{
	struct vs_vm *vm = t_port_new();

	t_ring_full(vm);
	t_port_free(vm);
}

/* rx-ring-bound 0 is today's behaviour (test_ring_full's), and so are a
 * bound at or above the ring's size and buffering off: nothing is read */
static void test_ring_bound_off(void)
{
	static const uint32_t bounds[] = { 0, T_RING_SIZE, 32768 };
	uint16_t rx = VS_VRING_RX(0);
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(bounds); i++) {
		struct vs_vm *vm = t_port_new();

		vm->policy.rx_ring_bound = bounds[i];
		t_ring_full(vm);	/* its buffering-off half: the bound is off too */
		g_assert_cmpuint(t.ring_free_calls[rx], ==, 0);
		g_assert_cmpuint(t.ring_idle_calls[rx], ==, 0);
		g_assert_cmpuint(vm->stats.ring_bound_hits, ==, 0);
		t_port_free(vm);
	}
	/* buffering off with a bound below the ring's size: off, nothing read */
	{
		struct vs_vm *vm = t_port_new();

		vm->policy.enabled = false;
		vm->policy.rx_ring_bound = 64;
		t.ring_on = true;
		t.stopped = true;
		t_uplink_queue(1, 300);
		t_poll(vm, 10);
		t_assert_run(0, 1, T_RING_SIZE);
		g_assert_cmpuint(vm->stats.drops[VS_DROP_VM_RING_FULL], ==, 300 - T_RING_SIZE);
		g_assert_cmpuint(t.ring_free_calls[rx], ==, 0);
		t_check_accounting(vm, 0);
		t_port_free(vm);
	}
}

/* Frames left in held while LIVE: replayed first if the VM runs, else
 * dropped under the reason of the main loop's last drain */
static void test_adopt(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 3);
	t_poll(vm, 1);
	vs_dp_held_drop_all(vm, VS_DROP_BUFFER_EXPIRED);
	t_uplink_queue(4, 2);		/* a burst the lcore queued behind the drain */
	t_poll(vm, 1);
	vm->vid = -1;
	vs_dp_set_live(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_EXPIRED], ==, 2);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_BUFFER_EXPIRED], ==, 3);

	vm->vid = 0;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(10, 4);
	t_poll(vm, 1);
	vs_dp_set_live(vm);
	t_uplink_queue(20, 2);
	t_poll(vm, 3);
	t_assert_run(0, 10, 4);
	t_assert_run(4, 20, 2);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * The switchover during a replay: the burst on its way to the guest
 * (pending), what inject still holds and held go back into the buffer in
 * that order, nothing dropped, and the main loop takes nothing from held
 * before the lcore has put them there.
 */
static void test_switchover_in_flight(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *m[64];
	unsigned int got, i;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1000, 20);		/* local frames of the blackout */
	t_poll(vm, 1);
	t_inject(vm, 1, 40);			/* tunnelled */
	vs_dp_replay_start(vm);
	t.guest_room = 4;
	t.guest_budget = 4;
	t_poll(vm, 1);		/* 4 delivered, 28 pending: the guest stops */
	g_assert_cmpuint(t.got->len, ==, 4);
	g_assert_cmpuint(vm->dp.pending.n, ==, 28);
	t_uplink_queue(2000, 5);		/* live, behind the replay */
	t_poll(vm, 1);

	vm->vid = -1;				/* destroy_device */
	vs_dp_device_gone(vm);			/* LIVE only: REPLAY stays */
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	vs_dp_buffer_start(vm, true);		/* the main loop: device-down */
	g_assert_cmpuint(vs_dp_held_take(vm, m, 1), ==, 0);	/* not yet */
	t_uplink_queue(3000, 3);		/* the blackout's own frames */
	t_poll(vm, 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 40);

	/* the order the guest would have seen: 5..40, 1000.., 2000.., 3000.. */
	got = 0;
	while ((i = vs_dp_held_take(vm, &m[0], 1))) {
		uint32_t seq = t_seq_of(m[0]);
		uint32_t want = got < 36 ? 5 + got : got < 56 ? 1000 + got - 36 :
				 got < 61 ? 2000 + got - 56 : 3000 + got - 61;

		g_assert_cmpuint(seq, ==, want);
		rte_pktmbuf_free(m[0]);
		got++;
	}
	g_assert_cmpuint(got, ==, 64);
	t_port_free(vm);
}

/*
 * Inject leftovers at the end of an episode (frames the main loop put
 * there after the replay ended, or a replay the device left) are not left
 * behind: the next episode takes them into the buffer, and the main loop's
 * drain of the buffer counts them.
 */
static void test_inject_leftovers(void)
{
	struct vs_vm *vm = t_port_new();

	vm->vid = -1;
	t_inject(vm, 1, 7);			/* LIVE, no device: they wait */
	t_poll(vm, 2);
	g_assert_cmpuint(rte_ring_count(vm->dp.inject), ==, 7);
	vs_dp_device_gone(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.inject), ==, 0);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 7);
	vs_dp_held_drop_all(vm, VS_DROP_BUFFER_EXPIRED);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_BUFFER_EXPIRED], ==, 7);
	t_check_accounting(vm, 7);
	t_port_free(vm);
}

/*
 * The race issue 16 found: the lcore reads inject (empty), the main loop
 * puts its last burst there and closes inject, the lcore reads inject_done
 * and takes held: held frames before tunnelled ones.  Two threads, many
 * rounds; a tunnelled frame must always come before every held one.
 */
struct t_race {
	struct vs_vm *vm;
	volatile int round;		/* main: the round under way, -1: stop */
	volatile int done;		/* lcore: the last round it finished */
};

static gpointer t_race_lcore(gpointer data)
{
	struct t_race *r = data;
	int seen = 0;

	for (;;) {
		int round = __atomic_load_n(&r->round, __ATOMIC_ACQUIRE);

		if (round < 0)
			break;
		if (round == seen) {
			g_thread_yield();	/* the machine may have fewer cores than threads */
			continue;
		}
		while (!vs_dp_replay_finished(r->vm))
			vs_dp_poll_port(r->vm);
		seen = round;
		__atomic_store_n(&r->done, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

#define T_RACE_ROUNDS	2000

static void test_race_inject_held(void)
{
	struct vs_vm *vm = t_port_new();
	struct t_race r = { .vm = vm };
	struct rte_mbuf *tun[2];
	GThread *lcore;
	int round, spin;

	lcore = g_thread_new("lcore", t_race_lcore, &r);
	for (round = 1; round <= T_RACE_ROUNDS; round++) {
		guint at = t.got->len;

		vs_dp_buffer_start(vm, true);
		t_uplink_queue((uint32_t)round * 10 + 5, 2);	/* held: newer */
		vs_dp_poll_port(vm);	/* the lcore thread polls only in a round */
		g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 2);
		tun[0] = t_frame((uint32_t)round * 10, 64);	/* tunnelled: older */
		tun[1] = t_frame((uint32_t)round * 10 + 1, 64);
		vs_dp_replay_start(vm);
		__atomic_store_n(&r.round, round, __ATOMIC_RELEASE);
		/* the pump: the last tunnelled frames, then inject_done */
		for (spin = g_random_int_range(0, 2000); spin > 0; spin--)
			__asm__ volatile("" ::: "memory");
		g_assert_cmpint(vs_dp_inject_put(vm, tun[0]), ==, 0);
		g_assert_cmpint(vs_dp_inject_put(vm, tun[1]), ==, 0);
		vs_dp_inject_close(vm);
		while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != round)
			g_thread_yield();
		g_assert_cmpuint(t.got->len, ==, at + 4);
		t_assert_run(at, (uint32_t)round * 10, 2);
		t_assert_run(at + 2, (uint32_t)round * 10 + 5, 2);
	}
	__atomic_store_n(&r.round, -1, __ATOMIC_RELEASE);
	g_thread_join(lcore);
	t_check_accounting(vm, 2 * T_RACE_ROUNDS);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/order/pending-inject-held-live", test_order);
	g_test_add_func("/dataplane/order/replay-waits-for-device", test_replay_without_device);
	g_test_add_func("/dataplane/drain", test_drain);
	g_test_add_func("/dataplane/drain-superseded", test_drain_superseded);
	g_test_add_func("/dataplane/ring-full", test_ring_full);
	g_test_add_func("/dataplane/ring-bound/off", test_ring_bound_off);
	g_test_add_func("/dataplane/adopt-held", test_adopt);
	g_test_add_func("/dataplane/switchover/in-flight-burst", test_switchover_in_flight);
	g_test_add_func("/dataplane/switchover/inject-leftovers", test_inject_leftovers);
	g_test_add_func("/dataplane/race/inject-held", test_race_inject_held);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-replay", add_tests);
}
