/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_replay_tail_race.c - a new replay against the end of a tail,
 * and the replays whose mark the lcore must take all the same: review 12's
 * missing tests
 *
 * Theory of operation: the scenario of dp_tail_harness.h (the overload,
 * the frame numbers, the hand-over's checks) on the fakes of dp_harness.h
 * (docs/dev/plan-replay-end-under-overload.md, section 12; the plan's
 * section 9 tests are in test_dp_replay_tail.c).  An end the lcore
 * decides for an older replay is never reported for a newer one, and a
 * newer one is never LIVE before its own end (12.2: race-new-replay); a
 * replay started without a new episode gets its own mark, after a tail
 * (12.7: no-new-episode) or over the lcore's own replay
 * (own-then-replay-*); the mark covers the live frames held while a
 * backlog in inject drained (12.8: close-with-backlog).
 *
 * race-new-replay is the one test with two threads: the lcore is a GLib
 * thread that only polls (t_m2_lcore()), and this thread is the main loop,
 * which starts the new replay at random times of the old one's tail.  EAL
 * pinned the main thread to one CPU (-l0) and a new thread inherits that,
 * so the lcore thread resets its affinity to every CPU first, or the two
 * would take turns instead of racing.  Between rounds the lcore is parked
 * (t_m2_park()) and this thread polls in its place.
 *
 * Each test says what it pins; as in test_dp_replay_tail.c, the ones that
 * wait for a hand-over fail on the code before the lcore's mark
 * (review 12.5).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"
#include "dp_tail_harness.h"

/* --- review 12's missing tests ------------------------------------------- */

/*
 * M2 (review 12.2): the lcore (a thread that polls) against the main
 * loop's vs_dp_buffer_start() + vs_dp_replay_start() at random times of a
 * replay with a tail (guest_room 2, 200 live frames behind 40 held): right
 * after it reported finished (the hand-over), right where the last frame
 * left (the CAS REPLAY -> LIVE), or anywhere (perhaps at the mark).  The
 * new replay is never reported finished before its own inject_close, and
 * never LIVE while its inject is open (checked by the lcore thread after
 * each poll that started and ended inside the open window, and by the
 * main loop three polls after the start); after its inject_close it ends
 * (finished and LIVE).  Up to T_M2_ROUNDS rounds or T_M2_SECONDS.  On the
 * implementation with either end site's generation check removed (the
 * hand-over tagged with the current generation, or the CAS site without
 * its check and its REPLAY put back) this failed within 20 to 8400
 * rounds (fin_bad, and for the CAS site live_bad and mode_bad too).
 */
struct t_m2 {
	struct vs_vm *vm;
	int run;		/* main: 1 poll, 0 park, -1 exit */
	unsigned int park_req;	/* main: a park asked for */
	unsigned int park_ack;	/* lcore: the last park it honoured */
	unsigned int polls;	/* lcore: polls done */
	unsigned int open;	/* main: the round whose new replay's inject is open */
	unsigned int live_bad;	/* lcore: LIVE seen inside an open window */
};

static gpointer t_m2_lcore(gpointer data)
{
	struct t_m2 *r = data;
	long cpus = sysconf(_SC_NPROCESSORS_CONF), i;
	cpu_set_t set;

	/* EAL pinned the main thread (-l0), and a new thread inherits it: off
	 * that CPU, or the two threads take turns instead of racing */
	CPU_ZERO(&set);
	for (i = 0; i < cpus && i < CPU_SETSIZE; i++)
		CPU_SET(i, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (;;) {
		int run = __atomic_load_n(&r->run, __ATOMIC_ACQUIRE);
		unsigned int open;

		if (run < 0)
			break;
		if (!run) {
			__atomic_store_n(&r->park_ack, __atomic_load_n(&r->park_req, __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
			g_thread_yield();
			continue;
		}
		open = __atomic_load_n(&r->open, __ATOMIC_ACQUIRE);
		vs_dp_poll_port(r->vm);
		if (open && __atomic_load_n(&r->open, __ATOMIC_ACQUIRE) == open &&
		    vs_dp_mode(r->vm) == VS_DP_LIVE)
			__atomic_fetch_add(&r->live_bad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&r->polls, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void t_m2_park(struct t_m2 *r)
{
	unsigned int token = r->park_req + 1;

	__atomic_store_n(&r->run, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&r->park_req, token, __ATOMIC_RELEASE);
	while (__atomic_load_n(&r->park_ack, __ATOMIC_ACQUIRE) != token)
		g_thread_yield();
}

static unsigned int t_m2_polls(struct t_m2 *r)
{
	return __atomic_load_n(&r->polls, __ATOMIC_ACQUIRE);
}

static void t_spin(unsigned int n)
{
	while (n--)
		__asm__ volatile("" ::: "memory");
}

#define T_M2_ROUNDS	20000
#define T_M2_SECONDS	3

static void test_race_new_replay(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_m2 r = { .vm = vm };
	unsigned int round, done = 0, fin_bad = 0, mode_bad = 0, stuck = 0, acted_tail = 0;
	unsigned int variants[3] = { 0 };
	gint64 start = g_get_monotonic_time();
	uint32_t base = 1;
	GThread *lcore;

	t.guest_room = 2;	/* a tail of ~100 polls: the main loop sees it */
	lcore = g_thread_new("lcore", t_m2_lcore, &r);
	t_m2_park(&r);
	for (round = 1; round <= T_M2_ROUNDS &&
			g_get_monotonic_time() - start < T_M2_SECONDS * G_USEC_PER_SEC;
	     round++) {
		unsigned int variant = g_random_int_range(0, 3), p0, spins;
		gint64 until;

		/* parked: this thread is the lcore (the setup of test 1, smaller) */
		vs_dp_buffer_start(vm, true);
		t_uplink_queue(base, 40);
		vs_dp_poll_port(vm);
		vs_dp_poll_port(vm);
		vs_dp_replay_start(vm);
		vs_dp_inject_close(vm);
		t_uplink_queue(base + 40, 200);	/* read 32 a poll during the replay */
		base += 240;
		g_assert_false(vs_dp_replay_finished(vm));

		__atomic_store_n(&r.run, 1, __ATOMIC_RELEASE);
		variants[variant]++;
		if (variant == 2) {	/* anywhere: perhaps before the mark */
			p0 = t_m2_polls(&r) + g_random_int_range(0, 48);
			while (t_m2_polls(&r) < p0)
				g_thread_yield();
			t_spin(g_random_int_range(0, 2000));
		} else if (variant == 1) {	/* where the last frame left: the CAS */
			for (spins = 0; spins < 100000000 && vs_dp_buffered_now(vm) &&
					vs_dp_mode(vm) == VS_DP_REPLAY;
			     spins++)
				if (!(spins & 1023))
					g_thread_yield();
			if (vs_dp_replay_finished(vm) && vs_dp_mode(vm) == VS_DP_REPLAY)
				acted_tail++;
			t_spin(g_random_int_range(0, 200));
		} else {
			while (!vs_dp_replay_finished(vm))
				g_thread_yield();
			if (vs_dp_mode(vm) == VS_DP_REPLAY)
				acted_tail++;
			t_spin(g_random_int_range(0, 3000));
		}
		vs_dp_buffer_start(vm, true);
		vs_dp_replay_start(vm);
		__atomic_store_n(&r.open, round, __ATOMIC_RELEASE);
		p0 = t_m2_polls(&r);
		while (t_m2_polls(&r) < p0 + 3) {
			if (vs_dp_replay_finished(vm))
				fin_bad++;
			g_thread_yield();
		}
		if (vs_dp_replay_finished(vm))
			fin_bad++;
		if (vs_dp_mode(vm) != VS_DP_REPLAY)
			mode_bad++;
		__atomic_store_n(&r.open, 0, __ATOMIC_RELEASE);
		vs_dp_inject_close(vm);
		until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
		while ((!vs_dp_replay_finished(vm) || vs_dp_mode(vm) != VS_DP_LIVE) &&
		       g_get_monotonic_time() < until)
			g_thread_yield();
		if (!vs_dp_replay_finished(vm) || vs_dp_mode(vm) != VS_DP_LIVE)
			stuck++;
		t_m2_park(&r);
		done++;
		if (fin_bad || mode_bad || stuck || r.live_bad)
			break;
	}
	__atomic_store_n(&r.run, -1, __ATOMIC_RELEASE);
	g_thread_join(lcore);
	g_test_message("%u rounds (%u after the hand-over, %u at the tail's end, %u anywhere; "
		       "%u acted on a tail) in %.2f s: finished early %u, not REPLAY %u, "
		       "LIVE in the window %u, stuck %u; replays-left-held %" PRIu64 ", polls %u",
		       done, variants[0], variants[1], variants[2], acted_tail,
		       (g_get_monotonic_time() - start) / 1e6, fin_bad, mode_bad, r.live_bad,
		       stuck, vm->stats.replays_left_held, r.polls);
	g_assert_cmpuint(fin_bad, ==, 0);
	g_assert_cmpuint(mode_bad, ==, 0);
	g_assert_cmpuint(r.live_bad, ==, 0);
	g_assert_cmpuint(stuck, ==, 0);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * M3 (review 12.7): a new replay without a new episode (buffering off:
 * no vs_dp_buffer_start() in between) while the tail drains, live frames
 * flowing: not over before its inject_close, then over at its own mark
 * (the old tail's state does not suppress it), a second replays-left-held
 */
static void test_no_new_episode(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl;

	t_tail_begin(&tl, vm, true);
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	t_new_replay(&tl, 5, 10, 2);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 55);
	t_port_free(vm);
}

/*
 * M5 (review 12.8): inject_close while inject still holds 200 frames and
 * live frames keep arriving: the mark is taken when inject is first found
 * empty, so it covers the live frames held while inject drained; the
 * replay is over only after them
 */
static void test_close_with_backlog(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .n_tun = 200, .n_buf = 20,
			     .per_poll = T_LIVE };
	unsigned int i, drained = 0, before = 0;

	t.guest_room = T_ROOM;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 20);
	t_poll(vm, 1);
	t_inject(vm, 1001, 200);
	t_replay_now(vm);
	/* inject drains (10.7 a poll), live frames go behind */
	for (i = 0; i < T_POLLS && t.got->len < 200; i++) {
		t_step(&tl);
		g_assert_false(vs_dp_replay_finished(vm));
	}
	drained = i;
	before = tl.live - 3001 - T_LIVE;	/* held before the poll that emptied it */
	tl.need = 220 + before;
	g_test_message("inject emptied in poll %u: %u live frames held before it", drained,
		       before);
	t_to_handover(&tl, true);
	g_test_message("finished at got %u: the mark covered %u to %u live frames", t.got->len,
		       before, before + T_LIVE);
	t_assert_run(0, 1001, 200);
	t_assert_run(200, 1, 20);
	t_assert_run(220, 3001, before);	/* all of them before the end */
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_check_stream(&tl);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 200);
	t_port_free(vm);
}

/*
 * Review 12.7, the lcore's own replay (a full ring, LIVE -> REPLAY) when
 * the main loop starts one without a new episode: it gets its mark too,
 * whether the lcore polls between vs_dp_replay_start() and
 * vs_dp_inject_close() or not (t_replay_now(): both at once; the main
 * loop's pump may close inject before the lcore's next poll too).  An own
 * replay needs buffering on, so in the daemon a new episode usually comes
 * first (vs_dp_buffer_start()); tests start replays without one.
 */
static void t_own_then_replay(bool poll_between)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .per_poll = T_LIVE };
	unsigned int i;

	t.guest_room = T_ROOM;
	tl.per_poll = VS_DP_BURST;	/* a backlog: takes of a whole burst */
	for (i = 0; i < 10; i++)
		t_step(&tl);
	tl.per_poll = T_LIVE;
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);	/* the lcore's own */
	g_assert_cmpuint(rte_ring_count(vm->dp.held), >, 100);
	g_assert_true(dp_own_replay_now(vm));
	vs_dp_replay_start(vm);
	if (poll_between)
		t_step(&tl);
	vs_dp_inject_close(vm);
	/* the mark: when the burst on its way left (at most 4 polls at 8 a
	 * call), before that poll's uplink read */
	tl.need = t.got->len + vm->dp.pending.n + rte_ring_count(vm->dp.held);
	tl.slack = 5 * T_LIVE;
	t_to_handover(&tl, true);
	t_assert_tail(&tl, 1);
	t_drain_live(&tl);
	t_check_stream(&tl);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

static void test_own_then_replay_polled(void)
{
	t_own_then_replay(true);
}

static void test_own_then_replay_now(void)
{
	t_own_then_replay(false);
}

/*
 * A replay that ended with held empty (its mark taken, then the CAS to
 * LIVE), then an own replay of the lcore's (a full ring), then the episode
 * moves while the mode is still REPLAY (vs_dp_device_gone() bumps it
 * before the vid goes): the own replay is no longer "own", and the old
 * replay's mark, reached long ago, must not end that replay a second time
 * with a tail (review 85, N1: a false replays-left-held, a false
 * last-replay-left-held).
 */
static void test_ended_empty_then_own_replay(void)
{
	struct vs_vm *vm = t_tail_port(1000);
	struct t_tail tl = { .vm = vm, .live = 3001, .per_poll = 0 };
	unsigned int i;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 20);
	t_poll(vm, 1);
	t_replay_now(vm);
	t.guest_room = T_UNLIMITED;
	for (i = 0; i < 100 && vs_dp_mode(vm) != VS_DP_LIVE; i++)
		t_poll(vm, 1);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_true(vs_dp_replay_finished(vm));
	g_assert_cmpuint(vm->stats.replays_left_held, ==, 0);

	t.guest_room = T_ROOM;		/* a full ring: the lcore's own replay */
	tl.per_poll = VS_DP_BURST;
	for (i = 0; i < 10; i++)
		t_step(&tl);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	g_assert_true(dp_own_replay_now(vm));
	g_assert_cmpuint(rte_ring_count(vm->dp.held), >, 0);

	vs_dp_device_gone(vm);		/* the episode moves, REPLAY stays */
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	for (i = 0; i < 5; i++)
		t_step(&tl);
	g_assert_cmpuint(vm->stats.replays_left_held, ==, 0);
	g_assert_cmpuint(vs_dp_replay_end_left(vm), ==, 0);

	vs_dp_buffer_start(vm, true);	/* the main loop's answer to the device-down */
	t_poll(vm, 1);
	vs_dp_held_drop_all(vm, VS_DROP_NOT_READY);
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/replay-tail/race-new-replay", test_race_new_replay);
	g_test_add_func("/dataplane/replay-tail/no-new-episode", test_no_new_episode);
	g_test_add_func("/dataplane/replay-tail/close-with-backlog", test_close_with_backlog);
	g_test_add_func("/dataplane/replay-tail/own-then-replay-polled",
			test_own_then_replay_polled);
	g_test_add_func("/dataplane/replay-tail/own-then-replay-now", test_own_then_replay_now);
	g_test_add_func("/dataplane/replay-tail/ended-empty-then-own-replay",
			test_ended_empty_then_own_replay);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-replay-tail-race", add_tests);
}
