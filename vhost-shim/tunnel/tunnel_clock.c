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
 * The minimum is a windowed one, over the last VS_TUN_CLOCK_WINDOW_US or
 * a little less: two half-windows, the current one's minimum and the one
 * before, and the estimate is the smaller of the two.  So two clocks that
 * drift apart (tens of ppm) are followed instead of accumulating, and a
 * connection idle for a whole window starts over from its next sample.
 *
 * Security: sent_us and age_us are the peer's.  A bogus pair changes only
 * the times of its own connection's frames (all of one authenticated
 * peer), and a time that cannot be right is not believed: a frame that
 * came more than VS_TUN_FRAME_LATE_MAX_US later than the fastest, older
 * than VS_TUN_FRAME_AGE_MAX_US, or older than our clock.  The caller
 * counts those (frame-times-rejected).
 */
#include "tunnel_priv.h"

/* tun_clock_sample() - one (receipt - sent) at @now_us */
static void tun_clock_sample(struct tun_clock *k, int64_t now_us, int64_t sample_us)
{
	int64_t since = now_us - k->since_us;

	if (!k->have || since < 0 || since >= VS_TUN_CLOCK_WINDOW_US) {
		k->min_us = sample_us;		/* nothing within a window */
		k->have_prev = false;
		k->since_us = now_us;
		k->have = true;
	} else if (since >= VS_TUN_CLOCK_WINDOW_US / 2) {
		k->prev_min_us = k->min_us;	/* a new half-window */
		k->have_prev = true;
		k->min_us = sample_us;
		k->since_us = now_us;
	} else if (sample_us < k->min_us) {
		k->min_us = sample_us;
	}
}

int64_t tun_clock_offset(const struct tun_clock *k)
{
	return k->have_prev && k->prev_min_us < k->min_us ? k->prev_min_us : k->min_us;
}

int64_t tun_clock_arrival(struct tun_clock *k, int64_t now_us, uint64_t sent_us,
			  uint32_t age_us)
{
	int64_t sample = (int64_t)((uint64_t)now_us - sent_us), late, age;

	tun_clock_sample(k, now_us, sample);
	/* how much later than the fastest this one came, plus its age */
	if (__builtin_sub_overflow(sample, tun_clock_offset(k), &late) ||
	    late > VS_TUN_FRAME_LATE_MAX_US)
		return 0;
	age = late + (int64_t)age_us;
	if (age > VS_TUN_FRAME_AGE_MAX_US || age >= now_us)
		return 0;
	return now_us - age;
}
