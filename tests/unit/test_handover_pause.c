/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_pause.c - a pause (the device goes without dirty logging:
 * QMP stop, a guest reboot) while a replay runs, against the lcore
 *
 * Theory of operation: the harness of test-handover (ho_harness.h) with
 * the real lcore pass behind fakes (ho_lcore.h), called by the test
 * between the main loop's turns.  An arrival's replay has more tunnelled
 * frames than one pump tick moves (HO_PUMP_BUDGET, 512) when the device
 * goes: the lcore moves what was on its way to the guest (its pending
 * burst, inject) back to held's front (dp_requeue()); the rest waits in
 * the replay queue.  At the resume the guest must get them all in the
 * order they came, then the live frames buffered meanwhile (review 89, 2:
 * the pump went on filling inject in paused, and each poll's requeue put
 * that batch ahead of the one before: [T513.., T1..T512, live]; and what
 * was requeued at the pause came after the replay queue's rest).  The
 * same holds for an arrival after an expect that cut such a replay.
 * Review 90 of the first fix added the rest: the replay queue empty at
 * the pause (the usual case), a stream still open, the duplicate filter
 * across a pause, live frames on their way that must stay direct, the
 * lcore's answer before or after the resume's REPLAY, and
 * destroy_device's BUFFER before the main loop hears of it.  Each test
 * failed without its part of the fix (mid-arrival, expect-after: 513
 * first; twice: the live frames dropped as buffer-full once the pump had
 * moved the replay queue into held; vhost-thread-first: 21 first;
 * live-stays-direct: T_LIVE delivered twice; dedup-twin: frame 50 twice).
 */
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "handover.h"
#include "handover_priv.h"
#include "tun_harness.h"
#include "vm.h"
#include "ho_harness.h"
#include "ho_lcore.h"

#define T_TUNNELLED	1200	/* more than two pump ticks' worth: 1..1200 */
#define T_LIVE		5001	/* live frames: 5001.. (not copies of tunnelled ones) */

static bool t_inject_busy(void *arg)
{
	return !rte_ring_empty(((struct vs_vm *)arg)->dp.inject);
}

/* The device goes, no dirty logging: a pause, as destroy_device() tells */
static void t_pause(struct t_env *e)
{
	e->vm->vid = -1;
	vs_ho_device_gone_sync(e->vm);
	t_ho_vhost(e->vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_PAUSED);
}

/* The device comes back: the paused VM resumes here */
static void t_resume(struct t_env *e)
{
	e->vm->vid = 0;
	t_ho_vhost(e->vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
}

/* The lcore polls and the main loop turns for a while */
static void t_turn(struct t_env *e, unsigned int polls)
{
	unsigned int i;

	for (i = 0; i < polls; i++) {
		vs_dp_poll_port(e->vm);
		run_for(2);
	}
}

/*
 * An arrival of T_TUNNELLED frames; the replay starts, the guest reads
 * nothing: the first pump tick fills inject, the lcore takes a burst of
 * it into its pending burst; the rest waits in the replay queue
 */
static void t_arrival_stalled(struct t_env *e)
{
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, T_TUNNELLED);
	t_wait_frames(e, T_TUNNELLED);
	t_send_end(e, 1, T_TUNNELLED);
	t_budget = 0;
	t_resume(e);
	g_assert_true(run_until(t_inject_busy, e->vm, DEADLINE_MS));
	vs_dp_poll_port(e->vm);
	g_assert_cmpuint(e->vm->dp.pending.n, >, 0);
	g_assert_false(g_queue_is_empty(&e->vm->ho->replay_q));
}

/*
 * The guest reads again: everything reaches it, the port back to none;
 * the tunnel's frames 1..T_TUNNELLED in their order, then @after
 */
static void t_deliver_all(struct t_env *e, const uint64_t *after, unsigned int n)
{
	unsigned int i;

	t_budget = UINT32_MAX;
	for (i = 0; i < 500 && (t_got->len < T_TUNNELLED + n ||
				e->vm->mig.state != VS_MIG_STATE_NONE ||
				vs_dp_mode(e->vm) != VS_DP_LIVE); i++)
		t_turn(e, 1);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpint(vs_dp_mode(e->vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_got->len, ==, T_TUNNELLED + n);
	for (i = 0; i < T_TUNNELLED + n; i++) {
		uint64_t want = i < T_TUNNELLED ? 1 + i : after[i - T_TUNNELLED];

		if (g_array_index(t_got, uint64_t, i) != want)
			g_error("delivered #%u is frame %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
				i, g_array_index(t_got, uint64_t, i), want);
	}
	g_assert_cmpuint(rte_ring_count(e->vm->dp.held), ==, 0);
	g_assert_cmpuint(e->vm->stats.replayed_pkts, ==, T_TUNNELLED + n);
}

/* Live frames T_LIVE..T_LIVE+@n-1, in that order: @n of t_live_seq */
static uint64_t t_live_seq[64];

static const uint64_t *t_live(unsigned int n)
{
	unsigned int i;

	g_assert_cmpuint(n, <=, G_N_ELEMENTS(t_live_seq));
	for (i = 0; i < n; i++)
		t_live_seq[i] = T_LIVE + i;
	return t_live_seq;
}

/*
 * Review 89, 2: paused while the replay queue still holds more than a
 * pump tick's frames.  While paused the replay queue stays where it is
 * (no pump into inject that the lcore would only move back), and at the
 * resume what the lcore moved back goes first.
 */
static void test_pause_mid_arrival(void)
{
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 20);			/* paused: the lcore answers, time passes */
	g_assert_true(vs_dp_buffer_seen(e.vm));
	g_assert_false(g_queue_is_empty(&e.vm->ho->replay_q));
	g_assert_true(rte_ring_empty(e.vm->dp.inject));
	t_uplink(T_LIVE, 20);		/* buffered while paused */
	t_turn(&e, 1);
	t_resume(&e);
	t_uplink(T_LIVE + 20, 10);	/* held behind the replay */
	t_deliver_all(&e, t_live(30), 30);
	t_teardown(&e);
}

/*
 * Paused twice: the second pause comes while the replay of the first
 * resume is still delivering what the first pause moved back (the guest
 * took only part of it)
 */
static void test_pause_twice(void)
{
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_budget = 40;			/* a little of it reaches the guest */
	t_uplink(T_LIVE, 8);		/* held behind the replay */
	t_turn(&e, 3);
	g_assert_cmpuint(t_got->len, ==, 40);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_deliver_all(&e, t_live(8), 8);
	t_teardown(&e);
}

/* FRAME @seq of stream @id carrying frame number @num */
static void t_send_as(struct t_env *e, uint32_t id, uint64_t seq, uint64_t num,
		      enum vs_tun_origin origin)
{
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;

	frame_msg(&m, buf, id, seq, origin);
	frame_fill(buf, num);
	fp_send(&e->src, &m);
}

/* The new arrival's stream 2: seqs 1..3 carrying frames 2001..2003 */
static void t_second_arrival(struct t_env *e, uint64_t seen)
{
	unsigned int i;

	fp_open_stream(&e->src, 2, 1, 1);
	for (i = 0; i < 3; i++)
		t_send_as(e, 2, 1 + i, 2001 + i, VS_TUN_ORIGIN_BLACKOUT);
	t_wait_frames(e, seen + 3);
}

/*
 * Armed while paused mid-arrival (the VM leaves, and comes back with a
 * new migration): the earlier arrival's frames, the lcore's moved-back
 * ones first, then the new arrival's tunnelled frames, then what was held
 * here
 */
static void test_expect_after_pause(void)
{
	static const uint64_t after[] = { 2001, 2002, 2003, T_LIVE, T_LIVE + 1 };
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 5);
	t_arm(&e);
	t_turn(&e, 2);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	t_second_arrival(&e, T_TUNNELLED);
	t_uplink(T_LIVE, 2);
	t_turn(&e, 1);
	t_resume(&e);
	t_send_end(&e, 2, 3);		/* the source ends its stream after RESUMED */
	t_deliver_all(&e, after, G_N_ELEMENTS(after));
	t_teardown(&e);
}

/* The guest's frames are @first..@first+@n-1 then @after[0..@m-1] */
static void t_assert_got(uint64_t first, unsigned int n, const uint64_t *after, unsigned int m)
{
	unsigned int i;

	g_assert_cmpuint(t_got->len, ==, n + m);
	for (i = 0; i < n + m; i++) {
		uint64_t want = i < n ? first + i : after[i - n];

		if (g_array_index(t_got, uint64_t, i) != want)
			g_error("delivered #%u is frame %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
				i, g_array_index(t_got, uint64_t, i), want);
	}
}

/* The guest reads everything there is until the port is back to none */
static void t_drain(struct t_env *e, unsigned int want)
{
	unsigned int i;

	t_budget = UINT32_MAX;
	for (i = 0; i < 500 && (t_got->len < want || e->vm->mig.state != VS_MIG_STATE_NONE ||
				vs_dp_mode(e->vm) != VS_DP_LIVE); i++)
		t_turn(e, 1);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpint(vs_dp_mode(e->vm), ==, VS_DP_LIVE);
}

/*
 * An arrival of 100 frames whose replay the pump kept up with (the replay
 * queue empty, the lcore's pending burst and inject full of tunnelled
 * frames) when the pause comes: the usual case (review 90, 1)
 */
static void t_arrival_kept_up(struct t_env *e, bool end)
{
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, 100);
	t_wait_frames(e, 100);
	if (end)
		t_send_end(e, 1, 100);
	t_budget = 0;
	t_resume(e);
	g_assert_true(run_until(t_replay_q_empty, e->vm, DEADLINE_MS));
	vs_dp_poll_port(e->vm);
	g_assert_cmpuint(e->vm->dp.pending.n, >, 0);
}

/*
 * Review 90, 1(a): paused with the replay queue empty and the source's
 * stream still open; stragglers come during the pause and after the
 * resume: all of them after the frames the lcore moved back and before
 * the live frames held here (the replay goes on as the arrival's)
 */
static void test_stream_open(void)
{
	static const uint64_t after[] = { 101, 102, T_LIVE, T_LIVE + 1, T_LIVE + 2 };
	struct t_env e;

	t_setup(&e);
	t_arrival_kept_up(&e, false);
	t_pause(&e);
	g_assert_true(e.vm->ho->replay_cut);
	t_turn(&e, 5);
	t_uplink(T_LIVE, 3);
	t_turn(&e, 1);
	t_resume(&e);
	t_turn(&e, 3);
	t_send_frames(&e, 1, 101, 2);		/* stragglers after the resume */
	t_wait_frames(&e, 102);
	t_send_end(&e, 1, 102);
	t_drain(&e, 105);
	t_assert_got(1, 100, after, G_N_ELEMENTS(after));
	t_teardown(&e);
}

/*
 * Review 90, 1(b): expect-after with the replay queue empty at the pause:
 * the first arrival's frames still go ahead of the second's
 */
static void test_expect_after_kept_up(void)
{
	static const uint64_t after[] = { 2001, 2002, 2003, T_LIVE, T_LIVE + 1 };
	struct t_env e;

	t_setup(&e);
	t_arrival_kept_up(&e, true);
	t_pause(&e);
	t_turn(&e, 5);
	t_arm(&e);
	t_turn(&e, 2);
	t_second_arrival(&e, 100);
	t_uplink(T_LIVE, 2);
	t_turn(&e, 1);
	t_resume(&e);
	t_send_end(&e, 2, 3);
	t_drain(&e, 105);
	t_assert_got(1, 100, after, G_N_ELEMENTS(after));
	t_teardown(&e);
}

/*
 * Review 90, 1(c): frame 50 reached this host both ways (a switch
 * flooding the VM's MAC), tunnelled and, during the pause, directly.  The
 * tunnelled copy the lcore moved back stays a tunnelled one: the guest
 * gets one copy, the other counts as a duplicate.
 */
static void test_dedup_twin(void)
{
	struct t_env e;
	unsigned int i, n50 = 0;

	t_setup(&e);
	t_arrival_kept_up(&e, true);
	t_pause(&e);
	t_turn(&e, 5);
	t_uplink(50, 1);		/* the direct twin of tunnelled frame 50 */
	t_turn(&e, 1);
	t_resume(&e);
	t_drain(&e, 100);
	for (i = 0; i < t_got->len; i++)
		n50 += g_array_index(t_got, uint64_t, i) == 50;
	g_assert_cmpuint(n50, ==, 1);
	g_assert_cmpuint(t_got->len, ==, 100);
	g_assert_cmpuint(e.vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	t_teardown(&e);
}

/* An arrival of frames 1..10 resumed, replay-hold-ms 20 ms: the replay
 * closes inject on its own once live frames are seen and no BARRIER comes */
static void t_hold_expired_arrival(struct t_env *e)
{
	t_setup(e);
	e->vm->policy.replay_hold_ms = 20;
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, 10);
	t_wait_frames(e, 10);
	t_resume(e);
}

/* ... the guest reads 1..10, then nothing: 40 live frames are held behind
 * the replay, its hold window expires, and the lcore has live frames from
 * held on their way */
static void t_live_pending(struct t_env *e)
{
	t_turn(e, 3);
	g_assert_cmpuint(t_got->len, ==, 10);
	t_budget = 0;
	t_uplink(T_LIVE, 40);		/* held behind the replay: LIVE_SEEN */
	t_turn(e, 1);
	g_assert_true(run_until(t_inject_closed, e->vm, DEADLINE_MS));	/* hold expired */
	t_turn(e, 2);
	g_assert_cmpuint(e->vm->dp.pending.n, >, 0);
}

/* Stragglers @first..@first+@n-1 on stream 1 (seq = frame number) */
static void t_send_stragglers(struct t_env *e, uint64_t first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		t_send_as(e, 1, first + i, first + i, VS_TUN_ORIGIN_STRAGGLER);
}

/* Straggler frame @num (stream seq @seq) queued in the replay queue, as if
 * it arrived after the pump's last tick */
static void t_replay_q_push(struct t_env *e, uint64_t seq, uint64_t num)
{
	struct vs_tun_frame *f = g_malloc(sizeof(*f) + FRAME_LEN);

	f->seq = seq;
	f->origin = VS_TUN_ORIGIN_STRAGGLER;
	f->arrival_us = 0;
	f->len = FRAME_LEN;
	frame_fill(f->data, num);
	g_queue_push_tail(&e->vm->ho->replay_q, f);
	e->vm->ho->replay_q_bytes += FRAME_LEN;
}

/*
 * Review 90, 2: inject closed (replay-hold-ms gave up on the BARRIER),
 * the lcore delivering held's live frames, a straggler in the replay
 * queue when the pause comes.  The live frames the lcore had on their
 * way stay direct ones: a straggler copy of one of them, tunnelled after
 * the resume, is a duplicate, not a second delivery.
 */
static void test_live_stays_direct(void)
{
	unsigned int i, n = 0;
	struct t_env e;

	t_hold_expired_arrival(&e);
	t_live_pending(&e);
	t_send_stragglers(&e, 11, 4);
	t_wait_frames(&e, 14);
	t_turn(&e, 2);
	t_replay_q_push(&e, 14, 15);	/* since the last pump tick */
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_send_as(&e, 1, 15, T_LIVE, VS_TUN_ORIGIN_STRAGGLER);	/* a copy of live T_LIVE */
	t_wait_frames(&e, 15);
	t_send_end(&e, 1, 15);
	t_drain(&e, 10 + 5 + 40);
	for (i = 0; i < t_got->len; i++)
		n += g_array_index(t_got, uint64_t, i) == T_LIVE;
	g_assert_cmpuint(n, ==, 1);
	g_assert_cmpuint(t_got->len, ==, 10 + 5 + 40);
	t_teardown(&e);
}

/*
 * Review 90, 3: when the lcore answers the pause's requeue against the
 * resume: both device events in one main-loop dispatch, no poll between
 * them; the lcore's next poll comes as the transition to replaying is
 * logged (before the entry action: it moves the frames back), or only
 * after the resume (it finds REPLAY and keeps them where they are, ahead
 * of inject).  Either way the frames it had on the way go first.
 */
static struct vs_vm *t_hook_vm;
static bool t_hook_fired;

static void t_log_hook(const gchar *dom, GLogLevelFlags lvl, const gchar *msg, gpointer u)
{
	if (t_hook_vm && !t_hook_fired && strstr(msg, "-> replaying")) {
		t_hook_fired = true;
		vs_dp_poll_port(t_hook_vm);	/* the lcore, on its core, now */
	}
}

static void t_lcore_answers_in_resume(bool at_transition)
{
	struct t_env e;
	guint h;

	t_setup(&e);
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, T_TUNNELLED);
	t_wait_frames(&e, T_TUNNELLED);
	t_budget = 0;
	t_resume(&e);
	g_assert_true(run_until(t_inject_busy, e.vm, DEADLINE_MS));
	vs_dp_poll_port(e.vm);
	g_assert_false(g_queue_is_empty(&e.vm->ho->replay_q));
	t_hook_fired = false;
	h = g_log_set_handler("vhost-shim", G_LOG_LEVEL_MASK, t_log_hook, NULL);
	t_pause(&e);
	t_hook_vm = at_transition ? e.vm : NULL;	/* no lcore poll since the pause */
	t_resume(&e);
	t_hook_vm = NULL;
	g_log_remove_handler("vhost-shim", h);
	g_assert_true(t_hook_fired == at_transition);
	t_send_end(&e, 1, T_TUNNELLED);
	t_drain(&e, T_TUNNELLED);
	t_assert_got(1, T_TUNNELLED, NULL, 0);
	t_teardown(&e);
}

static void test_lcore_answers_before_replay(void)
{
	t_lcore_answers_in_resume(true);
}

static void test_lcore_answers_after_replay(void)
{
	t_lcore_answers_in_resume(false);
}

/*
 * Review 90, 4: destroy_device's vs_ho_device_gone_sync() (vhost thread)
 * stores BUFFER over a LIVE port whose main loop still pumps late
 * stragglers into inject (none after REPLAY_DONE, the stream still
 * admitted: its BARRIER never came); a pump tick lands before the main
 * loop handles the DESTROY event.  No batch overtakes another.
 */
static void test_vhost_thread_first(void)
{
	static const uint64_t live[] = { T_LIVE, T_LIVE + 1, T_LIVE + 2, T_LIVE + 3 };
	unsigned int i;
	struct t_env e;

	t_hold_expired_arrival(&e);
	t_uplink(T_LIVE, 4);
	t_run_to_state(&e, VS_MIG_STATE_NONE);	/* hold expired, replay done */
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_LIVE);
	t_assert_got(1, 10, live, 4);
	g_array_set_size(t_got, 0);
	t_budget = 0;
	t_send_frames(&e, 1, 11, 10);	/* late stragglers 11..20 */
	t_wait_frames(&e, 20);
	t_turn(&e, 2);			/* into inject, the lcore's pending burst */
	e.vm->vid = -1;
	vs_ho_device_gone_sync(e.vm);	/* vhost thread: BUFFER, requeue */
	vs_dp_poll_port(e.vm);
	t_send_frames(&e, 1, 21, 10);	/* 21..30, a pump tick before DESTROY */
	t_wait_frames(&e, 30);
	run_for(3);
	vs_dp_poll_port(e.vm);
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_PAUSED);
	t_turn(&e, 3);
	t_resume(&e);
	t_send_end(&e, 1, 30);
	t_drain(&e, 20);
	for (i = 0; i < 3; i++)
		t_turn(&e, 1);
	t_assert_got(11, 20, NULL, 0);
	t_teardown(&e);
}

/*
 * Review 91, 1: live-stays-direct's scenario; late stragglers 11..14 in
 * inject and 15 in the replay queue at the pause, the lcore's pending
 * burst live frames from held: the stragglers reach the guest in order
 */
static void test_late_straggler_order(void)
{
	unsigned int i;
	struct t_env e;
	int pos[16] = { 0 };

	t_hold_expired_arrival(&e);
	t_live_pending(&e);
	t_send_stragglers(&e, 11, 4);
	t_wait_frames(&e, 14);
	t_turn(&e, 2);
	t_replay_q_push(&e, 14, 15);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	t_send_end(&e, 1, 14);
	t_drain(&e, 10 + 5 + 40);
	for (i = 0; i < t_got->len; i++) {
		uint64_t v = g_array_index(t_got, uint64_t, i);
		if (v >= 11 && v <= 15)
			pos[v] = (int)i;
	}
	for (i = 11; i < 15; i++)
		if (pos[i] > pos[i + 1])
			g_error("straggler %u delivered after %u", i, i + 1);
	t_teardown(&e);
}

/*
 * Review 91, 2: the stream is cut during the pause (still admitted) and
 * reconnects after the resume: its stragglers still go before the live
 * frames held here
 */
static void test_stream_cut_in_pause(void)
{
	static const uint64_t after[] = { 101, 102, T_LIVE, T_LIVE + 1, T_LIVE + 2 };
	struct t_env e;

	t_setup(&e);
	t_arrival_kept_up(&e, false);
	t_pause(&e);
	fp_close(&e.src);
	drain_loop();
	g_assert_null(e.vm->ho->in);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_ADMITTED);
	t_turn(&e, 5);
	t_uplink(T_LIVE, 3);
	t_turn(&e, 1);
	t_resume(&e);
	t_turn(&e, 3);
	t_open_stream(&e, 2, 101);
	t_send_frames(&e, 2, 101, 2);
	t_wait_frames(&e, 102);
	t_send_end(&e, 2, 102);
	t_drain(&e, 105);
	t_assert_got(1, 100, after, G_N_ELEMENTS(after));
	t_teardown(&e);
}

/* the pump's loop, after it loaded a mode other than BUFFER */
static void t_pump_stale(struct vs_vm *vm, unsigned int max)
{
	struct vs_handover *ho = vm->ho;
	unsigned int i;

	for (i = 0; i < max && !g_queue_is_empty(&ho->replay_q); i++) {
		struct vs_tun_frame *f = g_queue_pop_head(&ho->replay_q);
		struct rte_mbuf *m = rte_pktmbuf_alloc(vm->pool);

		g_assert_nonnull(m);
		g_assert_nonnull(rte_pktmbuf_append(m, (uint16_t)f->len));
		memcpy(rte_pktmbuf_mtod(m, void *), f->data, f->len);
		vs_dp_arrival_set_age(m, -1);
		g_assert_cmpint(vs_dp_inject_put(vm, m), ==, 0);
		ho->replay_q_bytes -= f->len;
		g_free(f);
	}
}

/*
 * Review 91, 3: a pump batch that loaded LIVE before destroy_device's CAS
 * straddles the lcore's answer: the second requeue's frames go behind the
 * first's, which nobody took yet
 */
static void test_batch_straddles(void)
{
	struct t_env e;

	t_hold_expired_arrival(&e);
	t_uplink(T_LIVE, 4);
	t_run_to_state(&e, VS_MIG_STATE_NONE);
	g_assert_cmpint(vs_dp_mode(e.vm), ==, VS_DP_LIVE);
	g_array_set_size(t_got, 0);
	t_budget = 0;
	t_send_frames(&e, 1, 11, 10);	/* late stragglers 11..20 */
	t_wait_frames(&e, 20);
	t_turn(&e, 2);			/* into inject, the lcore's pending burst */
	/* the next tick's batch: 21..30 reach the replay queue; the pump
	 * loads LIVE, puts 21..25 ... */
	t_send_frames(&e, 1, 21, 10);
	t_wait_frames(&e, 30);
	/* (no tick ran: the pump is the test's here) */
	e.vm->vid = -1;
	vs_ho_device_gone_sync(e.vm);	/* vhost thread: BUFFER, requeue */
	vs_dp_poll_port(e.vm);		/* the lcore answers: 11..20 back */
	t_pump_stale(e.vm, 10);		/* ... the rest of its batch, 21..30 */
	vs_dp_poll_port(e.vm);		/* unasked requeue (mode BUFFER) */
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_PAUSED);
	t_turn(&e, 3);
	t_resume(&e);
	t_send_end(&e, 1, 30);
	t_drain(&e, 20);
	t_turn(&e, 3);
	t_assert_got(11, 20, NULL, 0);
	t_teardown(&e);
}

/*
 * Review 91, 4: the lcore loaded BUFFER at the top of its poll (paused),
 * then stalled across the resume and a pump tick; dp_requeue_wanted()
 * gets that stale mode (no new ticket) and must not move the pump's first
 * batch back
 */
static void test_stale_mode(void)
{
	struct t_env e;

	t_setup(&e);
	t_arrival_stalled(&e);
	t_pause(&e);
	t_turn(&e, 5);
	t_resume(&e);
	g_assert_true(run_until(t_inject_busy, e.vm, DEADLINE_MS));	/* one tick */
	if (dp_requeue_wanted(e.vm, VS_DP_BUFFER))	/* mode loaded before the resume */
		dp_requeue(e.vm);
	t_send_end(&e, 1, T_TUNNELLED);
	t_drain(&e, T_TUNNELLED);
	t_assert_got(1, T_TUNNELLED, NULL, 0);
	t_teardown(&e);
}

/*
 * Review 92, 2: a source streams only the tunnelled frames the lcore
 * moved back ahead of its replay queue; direct ones an earlier requeue
 * moved back follow the replay queue, as held's frames do.  B replays an
 * arrival, its guest slow: the lcore holds held's live frames on their
 * way (direct) when B pauses; at the resume the stragglers 11..14 go to
 * the lcore through inject first, the live ones still in held; 15 waits
 * in the replay queue; B migrates on to C.  C gets 11..15, then the live
 * frames in order.
 */
static void test_source_streams_tunnelled_first(void)
{
	struct fake_peer dst;
	struct vs_tun_msg m;
	unsigned int i, got = 0;
	uint64_t want[5 + 40];
	struct t_env e;
	GSocket *ls;

	t_hold_expired_arrival(&e);
	t_live_pending(&e);		/* live frames, from held */
	t_pause(&e);
	t_turn(&e, 3);
	g_assert_cmpuint(e.vm->dp.pending.n, ==, 0);
	t_resume(&e);
	t_send_stragglers(&e, 11, 4);
	t_wait_frames(&e, 14);
	run_for(5);			/* the pump: into inject, no lcore poll */
	vs_dp_poll_port(e.vm);		/* inject first: 11..14 on their way */
	g_assert_cmpuint(e.vm->dp.pending.n, ==, 4);
	t_replay_q_push(&e, 15, 15);	/* since the last pump tick */
	t_src_connected(&e, &dst, &ls, 0);	/* migrated on: the lcore's requeue */
	for (i = 0; i < 5; i++)
		want[i] = 11 + i;
	for (i = 0; i < 40; i++)
		want[5 + i] = T_LIVE + i;
	while (got < G_N_ELEMENTS(want) && fp_recv(&dst, &m, DEADLINE_MS)) {
		uint64_t num;

		if (m.type != VS_TUN_MSG_FRAME)
			continue;
		memcpy(&num, m.u.frame.data + 14, sizeof(num));
		if (num != want[got])
			g_error("C's frame #%u is %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT,
				got, num, want[got]);
		got++;
	}
	g_assert_cmpuint(got, ==, G_N_ELEMENTS(want));
	g_assert_true(g_queue_is_empty(&t_rx));
	vs_dp_set_ops(NULL);
	g_array_unref(t_got);
	t_src_disconnect(&e, &dst, ls);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover-pause"))
		return 1;
	g_test_add_func("/handover/pause/mid-arrival", test_pause_mid_arrival);
	g_test_add_func("/handover/pause/twice", test_pause_twice);
	g_test_add_func("/handover/pause/expect-after", test_expect_after_pause);
	g_test_add_func("/handover/pause/stream-open", test_stream_open);
	g_test_add_func("/handover/pause/expect-after-kept-up", test_expect_after_kept_up);
	g_test_add_func("/handover/pause/dedup-twin", test_dedup_twin);
	g_test_add_func("/handover/pause/live-stays-direct", test_live_stays_direct);
	g_test_add_func("/handover/pause/lcore-answers-before-replay",
			test_lcore_answers_before_replay);
	g_test_add_func("/handover/pause/lcore-answers-after-replay",
			test_lcore_answers_after_replay);
	g_test_add_func("/handover/pause/vhost-thread-first", test_vhost_thread_first);
	g_test_add_func("/handover/pause/late-straggler-order", test_late_straggler_order);
	g_test_add_func("/handover/pause/stream-cut", test_stream_cut_in_pause);
	g_test_add_func("/handover/pause/batch-straddles", test_batch_straddles);
	g_test_add_func("/handover/pause/stale-mode", test_stale_mode);
	g_test_add_func("/handover/pause/source-streams-tunnelled-first",
			test_source_streams_tunnelled_first);
	return t_ho_main_run();
}
