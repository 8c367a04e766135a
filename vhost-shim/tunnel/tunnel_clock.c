/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_clock.c - a FRAME_TIMES's arrival in our clock: the offset
 * between a peer's clock and ours, one estimate per connection
 *
 * Theory of operation: a FRAME_TIMES says when its frame reached the
 * source's network as (sent_us - age_us) in the source's clock.  In ours
 * that is (sent_us - age_us + offset), where offset is the difference of
 * the clocks.  Each FRAME_TIMES gives a sample (receipt - sent_us): the
 * offset plus that message's one-way delay, which is the fastest delay
 * plus whatever queueing it met (our output queue, the kernels, a slow
 * link).  The smallest sample is the offset plus the fastest delay, so an
 * estimate based on it is late by at most that fastest delay (well under
 * a millisecond on a data-centre link) and immune to queueing: a queued
 * message only has a larger sample.
 *
 * The estimate belongs to the connection, not to a stream: every stream
 * of a peer shares its connection, so a stream whose frames all waited
 * behind another stream's backlog (two VMs migrating at once, every
 * stream resending after a reconnect) still gets the offset that the
 * other stream's fast frames measured.  A new connection starts a new
 * estimate: the peer may have restarted (after a reboot its monotonic
 * clock has another origin).
 *
 * The minimum is a windowed one, over the last 30 to 60 s
 * (VS_TUN_CLOCK_WINDOW_US): two half-windows that start at fixed times
 * (since_us, moved on by half a window), the current one's minimum and
 * the one before, and the estimate is the smaller of the two.  So a
 * sample counts for at least half a window and never for a whole one,
 * two clocks that drift apart (tens of ppm) are followed instead of
 * accumulating, and a connection without a sample for a window starts
 * over from its next one.
 *
 * Outliers: a minimum believes its smallest sample, so one sample whose
 * sent_us is far ahead (a buggy or hostile peer, a glitch) would set the
 * times of every frame wrong while it stays in the window.  So a sample
 * more than VS_TUN_CLOCK_STEP_MAX_US (5 ms, a tenth of the duplicate
 * filter's default window) below the estimate is refused: its frame has
 * no time and the estimate does not move.  What makes such samples for
 * real (the peer's clock moved ahead, a faster path, an estimate that
 * began with a delayed sample) makes every later sample low, at one
 * level; so a run of VS_TUN_CLOCK_CONFIRM_SAMPLES (3) refused samples
 * within 5 ms of the run's smallest and within half a window starts the
 * estimate over from that smallest.  A genuine change is adopted at its
 * third sample, and at the latest when no sample at the old level has
 * come for a window (60 s); a single outlier moves the estimate by at
 * most 5 ms.  A sample above the estimate is harmless: it lowers nothing,
 * and only the window lets the estimate rise (a peer clock that moved
 * back is followed within 60 s).
 *
 * Security: sent_us and age_us are the peer's.  A bogus pair changes only
 * the times of its own connection's frames (all of one authenticated
 * peer), and a time that cannot be right is not believed: a refused
 * sample (above), a frame that came more than VS_TUN_FRAME_LATE_MAX_US
 * later than the fastest, older than VS_TUN_FRAME_AGE_MAX_US, or older
 * than our clock.  The caller counts those (frame-times-rejected).
 */
#include "tunnel_priv.h"

#define TUN_CLOCK_HALF_US	(VS_TUN_CLOCK_WINDOW_US / 2)
#define TUN_CLOCK_NONE		INT64_MAX	/* a half-window without samples */

/* Is @a more than VS_TUN_CLOCK_STEP_MAX_US below @b (any values) */
static bool tun_clock_far_below(int64_t a, int64_t b)
{
	int64_t d;

	return a < b && (__builtin_sub_overflow(b, a, &d) || d > VS_TUN_CLOCK_STEP_MAX_US);
}

/* Start the estimate over from @sample_us, at @now_us */
static void tun_clock_restart(struct tun_clock *k, int64_t now_us, int64_t sample_us)
{
	k->have = true;
	k->since_us = now_us;
	k->min_us = sample_us;
	k->prev_min_us = TUN_CLOCK_NONE;
	k->run = 0;
}

/* Move the half-windows on to @now_us; none left with a sample: no estimate */
static void tun_clock_advance(struct tun_clock *k, int64_t now_us)
{
	int64_t since = now_us - k->since_us;

	if (since >= TUN_CLOCK_HALF_US && since < 2 * TUN_CLOCK_HALF_US) {
		k->prev_min_us = k->min_us;
		k->min_us = TUN_CLOCK_NONE;
		k->since_us += TUN_CLOCK_HALF_US;
	} else if (since < 0 || since >= 2 * TUN_CLOCK_HALF_US) {
		k->have = false;
	}
	if (k->min_us == TUN_CLOCK_NONE && k->prev_min_us == TUN_CLOCK_NONE)
		k->have = false;
}

/* A sample far below the estimate: true if it completes a run (adopted) */
static bool tun_clock_confirm(struct tun_clock *k, int64_t now_us, int64_t sample_us)
{
	if (k->run && now_us - k->run_since_us < TUN_CLOCK_HALF_US &&
	    !tun_clock_far_below(sample_us, k->run_min_us) &&
	    !tun_clock_far_below(k->run_min_us, sample_us)) {
		k->run++;
		if (sample_us < k->run_min_us)
			k->run_min_us = sample_us;
	} else {
		k->run = 1;		/* another level: an outlier, or a new run */
		k->run_since_us = now_us;
		k->run_min_us = sample_us;
	}
	if (k->run < VS_TUN_CLOCK_CONFIRM_SAMPLES)
		return false;
	tun_clock_restart(k, now_us, k->run_min_us);
	return true;
}

/* tun_clock_sample() - take one (receipt - sent) at @now_us: false if refused */
static bool tun_clock_sample(struct tun_clock *k, int64_t now_us, int64_t sample_us)
{
	if (k->have)
		tun_clock_advance(k, now_us);
	if (!k->have) {
		tun_clock_restart(k, now_us, sample_us);
		return true;
	}
	if (tun_clock_far_below(sample_us, tun_clock_offset(k)))
		return tun_clock_confirm(k, now_us, sample_us);
	if (sample_us < k->min_us)
		k->min_us = sample_us;
	return true;
}

int64_t tun_clock_offset(const struct tun_clock *k)
{
	return k->prev_min_us < k->min_us ? k->prev_min_us : k->min_us;
}

int64_t tun_clock_arrival(struct tun_clock *k, int64_t now_us, uint64_t sent_us,
			  uint32_t age_us)
{
	int64_t sample = (int64_t)((uint64_t)now_us - sent_us), late, age;

	if (!tun_clock_sample(k, now_us, sample))
		return 0;
	/* how much later than the fastest this one came, plus its age */
	if (__builtin_sub_overflow(sample, tun_clock_offset(k), &late) ||
	    late > VS_TUN_FRAME_LATE_MAX_US)
		return 0;
	age = late + (int64_t)age_us;
	if (age > VS_TUN_FRAME_AGE_MAX_US || age >= now_us)
		return 0;
	return now_us - age;
}
