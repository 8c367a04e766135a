/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_clock.c - a connection's estimate of its peer's clock
 * (tunnel_clock.c), driven with scripted FRAME_TIMES samples
 *
 * Theory of operation: each test plays a peer whose clock reads ours plus
 * some offset, and frames that reached the peer's network at a known time
 * (ours), were sent some time later and received some delay after that.
 * The time tun_clock_arrival() gives a frame is compared with the truth:
 * the estimate is late by at most the fastest delay (100 µs here) when it
 * works, and the duplicate filter needs it within a few ms (TOLERANCE).
 * Only tun_clock_arrival() is used, so the same tests build against any
 * version of the estimator.
 */
#include <stdint.h>

#include <glib.h>

#include "tunnel_priv.h"

#define MS		1000LL
#define SEC		(1000LL * 1000)
#define T0		(1000 * SEC)		/* our clock when a test starts */
#define FAST		100LL			/* the fastest one-way delay, µs */
#define TOLERANCE	(5 * MS)		/* what the tests ask of a time */
#define PEER_AHEAD	(77 * SEC)		/* the peer's clock minus ours */

/*
 * A frame that reached the peer's network at @arrived, was sent at @sent
 * and received at @received (all our clock), by a peer whose clock reads
 * ours plus @ahead: the arrival the estimate gives it (0: none)
 */
static int64_t frame_at(struct tun_clock *k, int64_t ahead, int64_t arrived, int64_t sent,
			int64_t received)
{
	return tun_clock_arrival(k, received, (uint64_t)sent + (uint64_t)ahead,
				 (uint32_t)(sent - arrived));
}

/* An honest frame: 1 ms old when sent at @sent, received @delay later */
static int64_t honest_at(struct tun_clock *k, int64_t sent, int64_t delay)
{
	return frame_at(k, PEER_AHEAD, sent - MS, sent, sent + delay);
}

/* Two fast frames, then every other one queued 50 ms on the way */
static int64_t honest_delay(int i)
{
	return i >= 2 && i % 2 ? 50 * MS : FAST;
}

/* The frame was timed, and within TOLERANCE of @truth */
#define assert_timed_near(got, truth)                                           \
	do {                                                                    \
		int64_t got_ = (got), truth_ = (truth);                         \
		g_assert_cmpint(got_, !=, 0);                                   \
		g_assert_cmpint(got_, >=, truth_ - TOLERANCE);                  \
		g_assert_cmpint(got_, <=, truth_ + TOLERANCE);                  \
	} while (0)

/* A frame sent at @sent with @delay, timed near the truth (sent - 1 ms) */
#define assert_honest(k, sent, delay) assert_timed_near(honest_at(k, sent, delay), (sent) - MS)

/*
 * The first FRAME_TIMES of a connection says it was sent 30 s later than
 * it was (a glitch of the peer's clock, or a bug): it must not become the
 * connection's clock.  Its own frame is timed as if it had not queued (at
 * receipt minus its age: nothing contradicts it yet); the 100 honest frames
 * over the next 20 s are all timed within a few ms of the truth, a third of
 * them queued 30 ms on the way (from the third frame on: placed back).  The old
 * estimator believed the first sample, so every honest frame was placed
 * 30 s early for as long as it stayed in the window.
 */
static void test_outlier_first(void)
{
	struct tun_clock k = { 0 };
	int64_t t = T0;
	int i;

	g_assert_cmpint(frame_at(&k, PEER_AHEAD + 30 * SEC, t - MS, t, t + FAST), ==,
			t + FAST - MS);
	for (i = 0; i < 100; i++) {
		t += 200 * MS;
		assert_honest(&k, t, i % 3 == 2 ? 30 * MS : FAST);
	}
}

/*
 * One far-ahead sample in the middle of a connection (and one far behind):
 * the frames after it keep their times.  A frame that queued 50 ms on the
 * way is placed 50 ms back, so the estimate is still the honest one.
 */
static void test_outlier_middle(void)
{
	struct tun_clock k = { 0 };
	int64_t t = T0;
	int i;

	for (i = 0; i < 50; i++, t += 200 * MS)
		assert_honest(&k, t, FAST);
	/* 10 s ahead: its own frame, timed as if it had not queued */
	g_assert_cmpint(frame_at(&k, PEER_AHEAD + 10 * SEC, t - MS, t, t + FAST), ==,
			t + FAST - MS);
	t += 200 * MS;
	/* 10 s behind: looks like a frame that queued 10 s; changes nothing */
	frame_at(&k, PEER_AHEAD - 10 * SEC, t - MS, t, t + FAST);
	for (i = 0; i < 50; i++) {
		t += 200 * MS;
		assert_honest(&k, t, i % 2 ? 50 * MS : FAST);
	}
}

/*
 * Our main loop stalled for a while and then read, in one batch, 20
 * frames the peer had sent @gap apart: their samples fall by @gap from
 * one to the next (a queue draining, not an outlier).  All 20 are timed:
 * each between its truth and its receipt, and the estimate that follows
 * is right.  When the connection already had an estimate, all 20 are
 * placed where they were sent.
 */
static void drain_one(int64_t gap)
{
	int64_t t = T0, stall = 20 * gap, got, truth, received;
	struct tun_clock k = { 0 };
	int i;

	/* the connection's first frames */
	for (i = 0; i < 20; i++) {
		truth = t + i * gap - 50;
		received = t + stall + i;
		got = frame_at(&k, PEER_AHEAD, truth, truth + 50, received);
		g_assert_cmpint(got, !=, 0);
		g_assert_cmpint(got, >=, truth);
		g_assert_cmpint(got, <=, received - 50);
	}
	t += stall;
	for (i = 0; i < 10; i++) {
		t += 100 * MS;
		assert_honest(&k, t, FAST);
	}
	/* the same stall on a connection with an estimate */
	t += 100 * MS;
	for (i = 0; i < 20; i++) {
		truth = t + i * gap - 50;
		got = frame_at(&k, PEER_AHEAD, truth, truth + 50, t + stall + i);
		assert_timed_near(got, truth);
	}
}

static void test_queue_drain(void)
{
	drain_one(MS);
	drain_one(10 * MS);
	drain_one(100 * MS);
}

/*
 * The peer's clock steps for real and stays there.  Ahead (the samples
 * fall by 2 s): every frame keeps a right time, and the new level is the
 * estimate by the second sample at it (a frame queued 50 ms right after is
 * placed 50 ms back).  Behind (the samples rise by 2 s, which is what
 * queueing looks like): the old level leaves the estimate less than a
 * window (60 s) after its last sample, and then every frame is right again.
 */
static void test_step(void)
{
	struct tun_clock k = { 0 };
	int64_t t = T0, ahead = PEER_AHEAD, jitter, last_old;
	int i;

	for (i = 0; i < 100; i++, t += 100 * MS)
		assert_honest(&k, t, FAST + (i * 37 % 4) * MS);
	ahead += 2 * SEC;
	for (i = 0; i < 2; i++, t += 100 * MS)
		assert_timed_near(frame_at(&k, ahead, t - MS, t, t + FAST + i * MS), t - MS);
	for (i = 0; i < 100; i++, t += 100 * MS) {
		jitter = i % 5 ? (i * 37 % 4) * MS : 50 * MS;
		assert_timed_near(frame_at(&k, ahead, t - MS, t, t + FAST + jitter), t - MS);
	}
	/* behind: 2 s */
	last_old = t - 100 * MS;
	ahead -= 2 * SEC;
	for (i = 0; i < 1000; i++, t += 100 * MS) {
		jitter = i % 5 ? (i * 37 % 4) * MS : 50 * MS;
		if (t < last_old + 60 * SEC)
			frame_at(&k, ahead, t - MS, t, t + FAST + jitter);
		else
			assert_timed_near(frame_at(&k, ahead, t - MS, t, t + FAST + jitter), t - MS);
	}
}

/*
 * A sample counts for at least half a window (30 s) and less than a whole
 * one (60 s), wherever it falls: the half-windows start at fixed times.
 * The old estimator started a half-window at the first sample after the
 * previous one ended, so a sample could count for up to 90 s.
 */
static void test_window_age(void)
{
	struct tun_clock k = { 0 }, k2 = { 0 };
	const int64_t back = 1 * SEC;
	int64_t t;

	/* the fastest samples at T0; then the peer's clock steps 1 s back */
	assert_honest(&k, T0, FAST);
	assert_honest(&k, T0 + MS, FAST);
	t = T0 + 30 * SEC + 500 * MS;
	frame_at(&k, PEER_AHEAD - back, t - MS, t, t + FAST);
	frame_at(&k, PEER_AHEAD - back, t, t + MS, t + MS + FAST);
	/* 60 s after the first sample: it no longer counts */
	t = T0 + 60 * SEC + MS + 1;
	assert_timed_near(frame_at(&k, PEER_AHEAD - back, t - MS, t, t + FAST), t - MS);

	/* the first frames queued 40 ms; then fast ones, 29.9 s later */
	assert_timed_near(honest_at(&k2, T0, 40 * MS), T0 + 39 * MS);
	honest_at(&k2, T0 + MS, 40 * MS);
	t = T0 + 29 * SEC + 900 * MS;
	assert_honest(&k2, t, FAST);
	assert_honest(&k2, t + MS, FAST);
	/* the fast ones count 29.99 s later: a frame queued 20 ms is placed back */
	t += 29 * SEC + 990 * MS;
	assert_honest(&k2, t, 20 * MS);
}

/*
 * Samples at the ends of int64_t (a peer's sent_us is any 64-bit value):
 * the first sample INT64_MIN (sent 2^63 µs ahead) or INT64_MAX does not
 * become the estimate; a lone one in the middle changes nothing, its own
 * frame is timed as if it had not queued or not at all (INT64_MAX: later
 * than 600 s).  Two of them at the same level are a confirmed estimate
 * (what the estimator cannot tell from a clock step): the honest frames are
 * then left untimed, never timed wrong, until the window forgets them.
 */
static void test_extremes(void)
{
	const int64_t extremes[] = { INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX };
	struct tun_clock k;
	int64_t t;
	size_t e;
	int i;

	for (e = 0; e < G_N_ELEMENTS(extremes); e++) {
		/* the first sample: now - sent_us = extremes[e] */
		t = T0;
		k = (struct tun_clock){ 0 };
		tun_clock_arrival(&k, t, (uint64_t)t - (uint64_t)extremes[e], 1000);
		for (i = 0; i < 10; i++) {
			t += 100 * MS;
			assert_honest(&k, t, honest_delay(i));
		}
		/* a lone one in the middle */
		k = (struct tun_clock){ 0 };
		for (i = 0; i < 10; i++) {
			t += 100 * MS;
			assert_honest(&k, t, honest_delay(i));
		}
		t += 100 * MS;
		if (extremes[e] < 0)
			g_assert_cmpint(tun_clock_arrival(&k, t, (uint64_t)t - (uint64_t)extremes[e],
							  1000), ==, t - 1000);
		else
			g_assert_cmpint(tun_clock_arrival(&k, t, (uint64_t)t - (uint64_t)extremes[e],
							  1000), ==, 0);
		for (i = 0; i < 10; i++) {
			t += 100 * MS;
			assert_honest(&k, t, honest_delay(i));
		}
	}
	/* two at INT64_MIN: honest frames untimed (not 2^63 µs early) */
	t += 100 * MS;
	tun_clock_arrival(&k, t, (uint64_t)t - (uint64_t)INT64_MIN, 1000);
	tun_clock_arrival(&k, t + 1, (uint64_t)t + 1 - (uint64_t)INT64_MIN, 1000);
	for (i = 0; i < 10; i++) {
		t += 100 * MS;
		g_assert_cmpint(honest_at(&k, t, FAST), ==, 0);
	}
	/* a window later, the honest ones are the estimate again */
	t += 60 * SEC;
	for (i = 0; i < 10; i++) {
		t += 100 * MS;
		assert_honest(&k, t, honest_delay(i));
	}
}

/*
 * Ten minutes of frames every 20 ms, each queued 0 to 30 ms on the way
 * (a fixed pseudo-random sequence), and one in 250 sent "ahead" by 1 ms
 * to 100 s (a glitch): every honest frame after the first second is timed
 * within a few ms.
 */
static void test_jitter(void)
{
	GRand *r = g_rand_new_with_seed(20261206);
	struct tun_clock k = { 0 };
	int64_t t = T0, delay;
	int i;

	for (i = 0; i < 30000; i++, t += 20 * MS) {
		delay = FAST + g_rand_int_range(r, 0, 30 * MS);
		if (i % 250 == 125)
			frame_at(&k, PEER_AHEAD + g_rand_int_range(r, MS, 100 * SEC), t - MS, t,
				 t + delay);
		else if (i >= 50)
			assert_honest(&k, t, delay);
		else
			honest_at(&k, t, delay);
	}
	g_rand_free(r);
}

/*
 * A few far-ahead samples, each alone (a peer whose clock glitches now
 * and then), fill the half-window's slots for unconfirmed samples: they
 * must not keep the honest ones out, or the fastest honest sample is never
 * confirmed by the next fast frame and every frame that queued is placed
 * late by its queueing until the next half-window (up to 30 s).  Four at a
 * connection's start, then honest frames every 100 ms, every other one
 * queued 50 ms: from the third on, all are placed right.  The same four on
 * a connection with an estimate, then the peer's clock steps 2 s ahead:
 * the new level is the estimate by its second sample.
 */
static void test_lone_glitches(void)
{
	struct tun_clock k = { 0 };
	int64_t t = T0;
	int i;

	for (i = 0; i < VS_TUN_CLOCK_LONE_MAX; i++, t += 10 * MS)
		frame_at(&k, PEER_AHEAD + (i + 1) * SEC, t - MS, t, t + FAST);
	for (i = 0; i < 100; i++, t += 100 * MS) {
		if (i < 2)
			honest_at(&k, t, honest_delay(i));
		else
			assert_honest(&k, t, honest_delay(i));
	}

	k = (struct tun_clock){ 0 };
	t = T0;
	for (i = 0; i < 20; i++, t += 100 * MS)
		assert_honest(&k, t, FAST);
	for (i = 0; i < VS_TUN_CLOCK_LONE_MAX; i++, t += 10 * MS)
		frame_at(&k, PEER_AHEAD + (i + 10) * SEC, t - MS, t, t + FAST);
	for (i = 0; i < 100; i++, t += 100 * MS)
		assert_timed_near(frame_at(&k, PEER_AHEAD + 2 * SEC, t - MS, t,
					   t + honest_delay(i)), t - MS);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/tun/clock/outlier-first", test_outlier_first);
	g_test_add_func("/tun/clock/outlier-middle", test_outlier_middle);
	g_test_add_func("/tun/clock/queue-drain", test_queue_drain);
	g_test_add_func("/tun/clock/step", test_step);
	g_test_add_func("/tun/clock/window-age", test_window_age);
	g_test_add_func("/tun/clock/extremes", test_extremes);
	g_test_add_func("/tun/clock/jitter", test_jitter);
	g_test_add_func("/tun/clock/lone-glitches", test_lone_glitches);
	return g_test_run();
}
