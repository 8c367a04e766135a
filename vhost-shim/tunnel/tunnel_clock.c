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
 * (since_us moves on by half a window, whenever the samples come), the
 * current one and the one before, and the estimate is the smaller of
 * their minima.  So a sample counts for at least half a window and never
 * for a whole one, two clocks that drift apart (tens of ppm) are followed
 * instead of accumulating, and a connection without a sample for a whole
 * window starts over from its next ones.  (A half-window that began at
 * the first sample after the previous one ended let a sample count for up
 * to 1.5 windows.)
 *
 * Glitches: a plain minimum believes its smallest sample, so one sample
 * whose sent_us is far ahead (a peer whose clock glitched, a bug) would
 * set every frame's time wrong for as long as it stays in the window, and
 * the first sample of a connection is as likely to be that one as any.
 * So the minimum is taken over confirmed samples only: a sample is
 * confirmed when another one of the window is within VS_TUN_CLOCK_NEAR_US
 * (5 ms, a tenth of the duplicate filter's default window) of it, before
 * or after it.  Honest samples crowd at the bottom (every frame that did
 * not queue is one), so the smallest of them is confirmed by the next
 * fast frame; a lone sample far below them never is, and moves the
 * estimate by nothing (within 5 ms of the others: by at most 5 ms).  What
 * makes low samples for real (the peer's clock stepped ahead, a faster
 * path, an estimate that began with queued frames) makes them again, so
 * the new level is the estimate at its second sample within 5 ms of
 * another.  A step back (every sample higher, which is what queueing
 * looks like) is followed when the old level leaves the window: within
 * 60 s of its last sample.  This is robustness against glitches, not
 * against a hostile peer: two far-ahead samples within 5 ms of each other
 * are a confirmed estimate, as a clock step is.
 *
 * Until a sample is confirmed, it is believed for its own frame only: a
 * frame whose sample is below the estimate, or that came with no estimate
 * at all, is placed as if it had not queued (receipt minus its age), which
 * is what the plain minimum did with a new smallest sample.  So no frame is
 * left untimed for want of confirmation: when our main loop stalled and
 * then read a batch of frames at once, their samples fall from one to the
 * next (a queue draining), each below the one before, and each is timed
 * (no earlier than it arrived, no later than its receipt).  A frame whose
 * sample is above the estimate is placed back by the difference (it
 * queued on the way).  The price: one fast sample followed only by frames
 * that each queued more than 5 ms longer is not believed for them (they
 * are placed late by their queueing, as if there were no fast one) until
 * a second fast sample confirms it; the plain minimum believed it at once.
 *
 * A half-window keeps only what can still become its minimum: its
 * smallest confirmed sample, and up to VS_TUN_CLOCK_LONE_MAX unconfirmed
 * ones below it, in the order they came: the smallest, and the newest
 * (a sample smaller than one kept takes the largest one's place, any other
 * the oldest one's but the smallest's, so a few far-ahead samples, each
 * alone, do not keep the honest ones out).  A new sample confirms the ones
 * of either half-window within 5 ms of it, and they confirm it; a
 * confirmed sample stays in its own half-window, so it leaves the estimate
 * on time.
 *
 * Security: sent_us and age_us are the peer's.  A bogus pair changes only
 * the times of its own connection's frames (all of one authenticated
 * peer), and a time that cannot be right is not believed: a frame that
 * came more than VS_TUN_FRAME_LATE_MAX_US later than the estimate, older
 * than VS_TUN_FRAME_AGE_MAX_US, or older than our clock.  The caller
 * counts those (frame-times-rejected).  Every int64_t is a possible
 * sample (sent_us is any 64-bit value): no value marks "none", and
 * differences are computed with overflow checks.
 */
#include <string.h>

#include "tunnel_priv.h"

#define TUN_CLOCK_HALF_US	(VS_TUN_CLOCK_WINDOW_US / 2)

/* Are @a and @b within VS_TUN_CLOCK_NEAR_US of each other (any values) */
static bool tun_clock_near(int64_t a, int64_t b)
{
	int64_t d;

	if (__builtin_sub_overflow(a, b, &d))
		return false;
	return d >= -VS_TUN_CLOCK_NEAR_US && d <= VS_TUN_CLOCK_NEAR_US;
}

/* @sample_us of @h is confirmed */
static void tun_clock_confirm(struct tun_clock_half *h, int64_t sample_us)
{
	if (!h->has_confirmed || sample_us < h->confirmed_min_us) {
		h->confirmed_min_us = sample_us;
		h->has_confirmed = true;
	}
}

/* Forget the unconfirmed sample @i of @h (the others keep their order) */
static void tun_clock_lone_remove(struct tun_clock_half *h, unsigned int i)
{
	memmove(&h->lone_us[i], &h->lone_us[i + 1], (h->n_lone - i - 1) * sizeof(h->lone_us[0]));
	h->n_lone--;
}

/*
 * A new @sample_us and @h's samples: those of its lone ones within 5 ms of
 * it are confirmed (no longer lone).  Return: true if any sample of @h is
 * within 5 ms of it (the new sample is confirmed)
 */
static bool tun_clock_pair(struct tun_clock_half *h, int64_t sample_us)
{
	bool paired = h->has_confirmed && tun_clock_near(h->confirmed_min_us, sample_us);
	unsigned int i = 0;

	while (i < h->n_lone) {
		if (tun_clock_near(h->lone_us[i], sample_us)) {
			tun_clock_confirm(h, h->lone_us[i]);
			tun_clock_lone_remove(h, i);
			paired = true;
		} else {
			i++;
		}
	}
	return paired;
}

/*
 * Keep an unconfirmed @sample_us in @h if it could become its minimum.
 * When the slots are full, it takes the largest one's if it is smaller;
 * else the oldest one's but the smallest's: far-ahead samples, each
 * alone (a clock that glitches now and then), are the smallest, and must
 * not keep out the honest ones, which the next fast frame confirms
 */
static void tun_clock_keep_lone(struct tun_clock_half *h, int64_t sample_us)
{
	unsigned int i, top = 0, low = 0;

	if (h->has_confirmed && sample_us >= h->confirmed_min_us)
		return;
	if (h->n_lone == VS_TUN_CLOCK_LONE_MAX) {
		for (i = 1; i < VS_TUN_CLOCK_LONE_MAX; i++) {
			if (h->lone_us[i] > h->lone_us[top])
				top = i;
			if (h->lone_us[i] < h->lone_us[low])
				low = i;
		}
		/* the largest if @sample_us is smaller, else the oldest but the smallest */
		if (sample_us < h->lone_us[top])
			tun_clock_lone_remove(h, top);
		else
			tun_clock_lone_remove(h, low == 0 ? 1 : 0);
	}
	h->lone_us[h->n_lone++] = sample_us;
}

/* Move the half-windows on to @now_us: none left, or our clock went back:
 * start over, with a half-window from @now_us */
static void tun_clock_advance(struct tun_clock *k, int64_t now_us)
{
	int64_t since;

	if (k->started && !__builtin_sub_overflow(now_us, k->since_us, &since) && since >= 0 &&
	    since < 2 * TUN_CLOCK_HALF_US) {
		if (since >= TUN_CLOCK_HALF_US) {
			k->prev = k->cur;
			k->cur = (struct tun_clock_half){ 0 };
			k->since_us += TUN_CLOCK_HALF_US;
		}
		return;
	}
	*k = (struct tun_clock){ .started = true, .since_us = now_us };
}

/* tun_clock_sample() - take one (receipt - sent) at @now_us */
static void tun_clock_sample(struct tun_clock *k, int64_t now_us, int64_t sample_us)
{
	bool paired;

	tun_clock_advance(k, now_us);
	paired = tun_clock_pair(&k->prev, sample_us);
	paired = tun_clock_pair(&k->cur, sample_us) || paired;
	if (paired)
		tun_clock_confirm(&k->cur, sample_us);
	else
		tun_clock_keep_lone(&k->cur, sample_us);
}

bool tun_clock_offset(const struct tun_clock *k, int64_t *offset_us)
{
	const struct tun_clock_half *a = &k->cur, *b = &k->prev;

	if (!a->has_confirmed || (b->has_confirmed && b->confirmed_min_us < a->confirmed_min_us))
		a = b;
	if (!a->has_confirmed)
		return false;
	*offset_us = a->confirmed_min_us;
	return true;
}

int64_t tun_clock_arrival(struct tun_clock *k, int64_t now_us, uint64_t sent_us,
			  uint32_t age_us)
{
	int64_t sample = (int64_t)((uint64_t)now_us - sent_us), offset, late = 0, age;

	tun_clock_sample(k, now_us, sample);
	/* how much later than the fastest this one came (none: it is the
	 * fastest so far, or an unconfirmed one), plus its age */
	if (tun_clock_offset(k, &offset) && sample > offset &&
	    (__builtin_sub_overflow(sample, offset, &late) || late > VS_TUN_FRAME_LATE_MAX_US))
		return 0;
	age = late + (int64_t)age_us;
	if (age > VS_TUN_FRAME_AGE_MAX_US || age >= now_us)
		return 0;
	return now_us - age;
}
