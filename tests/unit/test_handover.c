/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover.c - the destination's handover, driven alone: how long an
 * armed port waits, and what becomes of its incoming stream when the wait
 * ends
 *
 * Theory of operation: the real handover (handover*.c) and dataplane
 * (rings, modes; no lcore polls in these tests) on EAL without hugepages
 * or devices, as test_dataplane.c runs it, and a real tunnel whose upward
 * callbacks are the handover's (vs_ho_tun_*()), as main.c wires them: the
 * environment is ho_harness.h's.  The source is a scripted peer
 * (tun_harness.h's struct fake_peer) that does the real handshake, opens a
 * stream for the port and sends frames.  Each
 * test arms the port with vs_ho_expect(), as migrate-expect does, and
 * checks the state machine, the counters and the replay queue after the
 * expectation ends: frames of a stream whose expectation is over are
 * discarded and counted (tunnel-frames-discarded), never queued for
 * injection (issue 15: a destination that disarmed itself after
 * 2 x hold-ms kept its stream and injected late frames among live ones).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_vhost.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "handover.h"
#include "handover_priv.h"
#include "port_registry.h"
#include "tun_harness.h"
#include "port_pool.h"
#include "vhost_port.h"
#include "vm.h"
#include "ho_harness.h"

/*
 * hold-ms bounds a buffer's age, not an expectation: a port armed with
 * hold-ms 50 still expects its VM, and holds the tunnelled frames, long
 * after 2 x hold-ms.  expect-timeout-ms ends the wait, counted, and the
 * stream's later frames are discarded (counted), never queued.
 */
static void test_expect_outlasts_hold(void)
{
	struct t_env e;

	t_env_init(&e, 50, 1000);
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, 10);
	t_wait_frames(&e, 10);
	run_for(400);			/* 8 x hold-ms */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 10);
	g_assert_cmpuint(e.vm->stats.expect_timeouts, ==, 0);

	/* expect-timeout-ms (1000 ms from the arming) ends it */
	g_assert_true(run_until(t_state_none, e.vm, 3000));
	g_assert_cmpuint(e.vm->stats.expect_timeouts, ==, 1);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 0);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 10);
	g_assert_null(e.vm->ho->in);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_NONE);

	/* the source, still in its blackout, streams on: nothing is queued */
	t_send_frames(&e, 1, 11, 5);
	t_wait_frames(&e, 25);
	g_assert_cmpuint(e.vm->stats.tunnel_rx_frames, ==, 10);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 15);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 0);
	g_assert_true(vs_dp_mode(e.vm) == VS_DP_LIVE);
	t_env_fini(&e);
}

/* migrate-expect again on an armed port starts expect-timeout-ms over */
static void test_rearm_restarts_timeout(void)
{
	struct t_env e;

	t_env_init(&e, 50, 1000);
	t_arm(&e);
	run_for(700);
	t_arm(&e);
	run_for(700);			/* 1400 ms after the first arming */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	g_assert_cmpuint(e.vm->stats.expect_timeouts, ==, 0);
	g_assert_true(run_until(t_state_none, e.vm, 3000));
	g_assert_cmpuint(e.vm->stats.expect_timeouts, ==, 1);
	t_env_fini(&e);
}

/* migrate-cancel (the hook's release): the same, without a timeout */
static void test_cancel_forgets_stream(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, 8);
	t_wait_frames(&e, 8);
	vs_ho_cancel(e.vm);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 8);
	t_send_frames(&e, 1, 9, 4);
	t_wait_frames(&e, 20);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 12);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 0);
	g_assert_cmpuint(e.vm->stats.expect_timeouts, ==, 0);

	/* armed again (a new migration): the old stream does not feed it */
	t_arm(&e);
	t_send_frames(&e, 1, 13, 3);
	t_wait_frames(&e, 23);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 15);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 0);
	/* nor does its ABORT roll the new expectation back */
	{
		struct vs_tun_msg m = { .type = VS_TUN_MSG_ABORT };

		m.u.stream.stream_id = 1;
		fp_send(&e.src, &m);
	}
	run_for(200);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	t_env_fini(&e);
}

/* A stream that reconnects while the port is armed is still its stream */
static void test_reconnect_keeps_stream(void)
{
	struct t_env e;

	t_env_init(&e, 50, 60000);
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, 6);
	t_wait_frames(&e, 6);
	fp_close(&e.src);
	drain_loop();
	t_open_stream(&e, 2, 7);	/* resumes where the port is */
	t_send_frames(&e, 2, 7, 4);
	t_wait_frames(&e, 10);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 0);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 10);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	t_env_fini(&e);
}

static bool t_replay_q_empty(void *arg)
{
	return g_queue_is_empty(&((struct vs_vm *)arg)->ho->replay_q);
}

/*
 * Back to back: the VM arrived (replaying the source's frames, the source
 * still forwarding stragglers) and is migrated on at once.  log-on is a
 * migration starting whatever the port does (issue 15: it was refused in
 * replaying, and the switchover then looked like a pause); the replay goes
 * on in src-active, the tunnelled frames still reach the inject ring, and
 * the switchover that follows is src-blackout.
 */
static void test_migrated_on_while_replaying(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, 6);
	t_wait_frames(&e, 6);
	e.vm->vid = 0;			/* the VM runs here */
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	t_ho_vhost(e.vm, VS_VHOST_EV_FEATURES, true);	/* pre-copy to the next host */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_ACTIVE);
	g_assert_true(e.vm->ho->replay_on);
	/* stragglers of the arrival still come and are still replayed */
	t_send_frames(&e, 1, 7, 4);
	t_wait_frames(&e, 10);
	g_assert_true(run_until(t_replay_q_empty, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 0);
	g_assert_cmpuint(e.vm->stats.migrations_out, ==, 1);
	/* the switchover: a blackout, not a pause */
	e.vm->vid = -1;
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, true);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_BLACKOUT);
	g_assert_false(e.vm->ho->replay_on);
	g_assert_true(vs_dp_mode(e.vm) == VS_DP_BUFFER);
	t_env_fini(&e);
}

/*
 * hold-ms runs out in a blackout (tcp-on-loss=reset).  With the source
 * QEMU still connected the migration may yet complete (a final stage
 * longer than hold-ms): the buffer is dropped, the VM's TCP peers are not
 * reset.  With no QEMU connected the VM is gone: they are.
 */
static void test_hold_expired_resets(void)
{
	unsigned int qemu;

	for (qemu = 0; qemu <= 1; qemu++) {
		struct t_env e;

		t_env_init(&e, 200, 60000);
		e.vm->cfg->tcp_on_loss = VS_TCP_ON_LOSS_RESET;
		g_assert_nonnull(e.vm->dp.tcp);		/* vs_ho_attach() made it */
		e.vm->frontends = 1;
		e.vm->vid = 0;
		t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
		t_ho_vhost(e.vm, VS_VHOST_EV_FEATURES, true);
		g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_ACTIVE);
		e.vm->vid = -1;
		t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, true);
		g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_BLACKOUT);
		e.vm->frontends = (int)qemu;
		g_assert_true(run_until(t_state_none, e.vm, DEADLINE_MS));
		g_assert_cmpuint(e.vm->dp.tcp->reset_req, ==, qemu ? 0 : 1);
		t_env_fini(&e);
	}
}

/* --- the replay's phase (enum ho_replay_phase) ----------------------------- */

/*
 * The transitions the phase's documentation promises, written as the
 * scenarios they come from (not a copy of ho_replay_next()'s switch).
 */
static void test_replay_phase_transitions(void)
{
	static const struct {
		enum ho_replay_phase from;
		enum ho_replay_input in;
		enum ho_replay_phase to;
	} t[] = {
		/* an arrival starts open, whatever an earlier replay left */
		{ HO_REPLAY_TUNNEL_DONE, HO_REPLAY_IN_START_ARRIVAL, HO_REPLAY_TUNNEL_OPEN },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_START_ARRIVAL, HO_REPLAY_TUNNEL_OPEN },
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_START_ARRIVAL, HO_REPLAY_TUNNEL_OPEN },
		/* a resume after a pause, a rollback: nothing tunnelled to await */
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_START_LOCAL, HO_REPLAY_TUNNEL_DONE },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_START_LOCAL, HO_REPLAY_TUNNEL_DONE },
		/* the first live frame asks the source for its barrier, once */
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_LIVE_SEEN, HO_REPLAY_LIVE_SEEN },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_LIVE_SEEN, HO_REPLAY_LIVE_SEEN },
		/* once the tunnel is done, live frames change nothing */
		{ HO_REPLAY_TUNNEL_DONE, HO_REPLAY_IN_LIVE_SEEN, HO_REPLAY_TUNNEL_DONE },
		/* replay-hold-ms bounds the wait for the barrier, after LIVE_SEEN only */
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_HOLD_EXPIRED, HO_REPLAY_TUNNEL_OPEN },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_HOLD_EXPIRED, HO_REPLAY_TUNNEL_DONE },
		{ HO_REPLAY_TUNNEL_DONE, HO_REPLAY_IN_HOLD_EXPIRED, HO_REPLAY_TUNNEL_DONE },
		/* BARRIER or END ends the tunnelled part whenever it comes */
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_STREAM_DONE, HO_REPLAY_TUNNEL_DONE },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_STREAM_DONE, HO_REPLAY_TUNNEL_DONE },
		{ HO_REPLAY_TUNNEL_DONE, HO_REPLAY_IN_STREAM_DONE, HO_REPLAY_TUNNEL_DONE },
		/* and so does a stream that never (re)connects */
		{ HO_REPLAY_TUNNEL_OPEN, HO_REPLAY_IN_NO_STREAM, HO_REPLAY_TUNNEL_DONE },
		{ HO_REPLAY_LIVE_SEEN, HO_REPLAY_IN_NO_STREAM, HO_REPLAY_TUNNEL_DONE },
	};
	unsigned int i;
	int v;

	for (i = 0; i < G_N_ELEMENTS(t); i++) {
		enum ho_replay_phase got = ho_replay_next(t[i].from, t[i].in);

		if (got != t[i].to)
			g_error("%s --%s--> %s, not %s", ho_replay_phase_to_string(t[i].from),
				ho_replay_input_to_string(t[i].in), ho_replay_phase_to_string(got),
				ho_replay_phase_to_string(t[i].to));
	}
	/* every phase and input has a name (the debug log line) */
	for (v = 0; v < HO_REPLAY_NUM_PHASES; v++)
		g_assert_cmpstr(ho_replay_phase_to_string(v), !=, "?");
	for (v = 0; v < HO_REPLAY_NUM_INPUTS; v++)
		g_assert_cmpstr(ho_replay_input_to_string(v), !=, "?");
}

/* Skip messages from the tunnel until one of @type; fail if none comes */
static void t_expect_msg(struct t_env *e, enum vs_tun_type type)
{
	struct vs_tun_msg m = { 0 };

	while (fp_recv(&e->src, &m, DEADLINE_MS) && m.type != type)
		;
	g_assert_cmpint(m.type, ==, type);
}

static bool t_phase_done(void *arg)
{
	return ((struct vs_vm *)arg)->ho->replay_phase == HO_REPLAY_TUNNEL_DONE;
}

static bool t_phase_live_seen(void *arg)
{
	return ((struct vs_vm *)arg)->ho->replay_phase == HO_REPLAY_LIVE_SEEN;
}

/* The VM arrives (new_device in dst-expecting), its stream admitted */
static void t_arrive(struct t_env *e, unsigned int frames)
{
	t_arm(e);
	t_open_stream(e, 1, 1);
	t_send_frames(e, 1, 1, frames);
	t_wait_frames(e, frames);
	g_assert_cmpint(e->vm->ho->in_state, ==, HO_IN_ADMITTED);
	e->vm->vid = 0;			/* the VM runs here */
	t_ho_vhost(e->vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	t_expect_msg(e, VS_TUN_MSG_RESUMED);
}

/* The lcore held a live frame behind the replay (dp_handshake.h) */
static void t_lcore_live_seen(struct vs_vm *vm)
{
	__atomic_store_n(&vm->dp.hs.live_seen, true, __ATOMIC_RELEASE);
}

/*
 * An arrival: tunnel-open at the resume; a live frame sends LIVE_SEEN
 * (live-seen), again to a stream that reconnects; the BARRIER makes it
 * tunnel-done.
 */
static void test_replay_phase_arrival(void)
{
	struct t_env e;
	struct vs_tun_msg m = { .type = VS_TUN_MSG_BARRIER };

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 60000;
	t_arrive(&e, 3);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	run_for(50);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);

	t_lcore_live_seen(e.vm);
	g_assert_true(run_until(t_phase_live_seen, e.vm, DEADLINE_MS));
	t_expect_msg(&e, VS_TUN_MSG_LIVE_SEEN);

	/* cut: the admitted stream resumes, and is asked for its barrier again */
	fp_close(&e.src);
	drain_loop();
	g_assert_null(e.vm->ho->in);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_ADMITTED);
	t_open_stream(&e, 2, 4);
	t_expect_msg(&e, VS_TUN_MSG_RESUMED);
	t_expect_msg(&e, VS_TUN_MSG_LIVE_SEEN);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_LIVE_SEEN);

	m.u.stream_seq.stream_id = 2;
	m.u.stream_seq.last_seq = 3;
	fp_send(&e.src, &m);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 0);
	t_env_fini(&e);
}

/* No BARRIER within replay-hold-ms of LIVE_SEEN: live frames go first, counted */
static void test_replay_phase_hold_expired(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 200;
	t_arrive(&e, 2);
	t_lcore_live_seen(e.vm);
	g_assert_true(run_until(t_phase_live_seen, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	t_env_fini(&e);
}

/* No stream at all: replay-hold-ms after the resume, the tunnel is done */
static void test_replay_phase_no_stream(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 200;
	t_arm(&e);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_NONE);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	t_env_fini(&e);
}

/* A resume after a pause replays local frames only: done from the start */
static void test_replay_phase_local_resume(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	e.vm->vid = -1;
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_PAUSED);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_DONE);
	t_env_fini(&e);
}

/* BARRIER of stream @id, or END (@end) */
static void t_send_stream_seq(struct t_env *e, bool end, uint32_t id, uint64_t last_seq)
{
	struct vs_tun_msg m = { .type = end ? VS_TUN_MSG_END : VS_TUN_MSG_BARRIER };

	m.u.stream_seq.stream_id = id;
	m.u.stream_seq.last_seq = last_seq;
	fp_send(&e->src, &m);
}

static bool t_inject_closed(void *arg)
{
	return vs_dp_inject_closed((struct vs_vm *)arg);
}

/*
 * The source's BARRIER came while the port was still armed (it answered a
 * LIVE_SEEN of an earlier arrival, or a cut stream's retry): the phase was
 * tunnel-done before the resume.  The resume opens it again: stragglers
 * may still come, the inject ring stays open, and the lcore's first live
 * frame asks for a barrier again.
 */
static void test_replay_phase_barrier_before_resume(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 60000;
	t_arm(&e);
	t_open_stream(&e, 1, 1);
	t_send_frames(&e, 1, 1, 3);
	t_wait_frames(&e, 3);
	t_send_stream_seq(&e, false, 1, 3);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);

	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	t_expect_msg(&e, VS_TUN_MSG_RESUMED);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	g_assert_true(run_until(t_replay_q_empty, e.vm, DEADLINE_MS));
	run_for(50);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	g_assert_false(vs_dp_inject_closed(e.vm));

	t_lcore_live_seen(e.vm);
	g_assert_true(run_until(t_phase_live_seen, e.vm, DEADLINE_MS));
	t_expect_msg(&e, VS_TUN_MSG_LIVE_SEEN);
	g_assert_false(vs_dp_inject_closed(e.vm));
	t_send_stream_seq(&e, false, 1, 3);
	g_assert_true(run_until(t_inject_closed, e.vm, DEADLINE_MS));
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_DONE);
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	t_env_fini(&e);
}

/* END during the replay: tunnel-done, the stream forgotten, the ring closed */
static void test_replay_phase_end(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 60000;
	t_arrive(&e, 3);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	g_assert_true(run_until(t_replay_q_empty, e.vm, DEADLINE_MS));
	run_for(50);
	g_assert_false(vs_dp_inject_closed(e.vm));
	t_send_stream_seq(&e, true, 1, 3);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	g_assert_true(run_until(t_inject_closed, e.vm, DEADLINE_MS));
	g_assert_null(e.vm->ho->in);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_NONE);
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	g_assert_cmpuint(e.vm->stats.tunnel_frames_discarded, ==, 0);
	t_env_fini(&e);
}

/*
 * A stream accepted, then cut, and not back: what counts is that none is
 * connected now (still admitted: it may come back), so replay-hold-ms
 * after the resume the tunnel is done and the ring closes.
 */
static void test_replay_phase_stream_cut(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	/* long enough that the arrival and the cut fit in it on a loaded
	 * machine (300 ms did not, twice) */
	e.vm->policy.replay_hold_ms = 1500;
	t_arrive(&e, 2);
	fp_close(&e.src);
	drain_loop();
	g_assert_null(e.vm->ho->in);
	g_assert_cmpint(e.vm->ho->in_state, ==, HO_IN_ADMITTED);
	g_assert_false(vs_dp_inject_closed(e.vm));
	g_assert_true(run_until(t_inject_closed, e.vm, DEADLINE_MS));
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_DONE);
	/* not before replay-hold-ms from the resume */
	g_assert_cmpint(g_get_monotonic_time() - e.vm->ho->t_up, >=, 1500 * 1000);
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 0);
	t_env_fini(&e);
}

/* --- the source ------------------------------------------------------------ */

static unsigned int t_ev_resumed_at_dst, t_ev_rolled_back;

static bool t_count_events(const char *event, struct vs_vm *vm, void *obj)
{
	if (!strcmp(event, "VM_RESUMED_AT_DESTINATION"))
		t_ev_resumed_at_dst++;
	else if (!strcmp(event, "MIGRATION_ROLLED_BACK"))
		t_ev_rolled_back++;
	json_object_unref(obj);
	return true;
}

/*
 * Rollback: the VM resumes at the source in its blackout.  The replay is of
 * local frames only: tunnel-done from the start, whatever phase the port
 * was left in, and the inject ring closes at once (nothing tunnelled).
 */
static void test_replay_phase_rollback(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	vs_ho_set_event_cb(t_count_events);
	t_ev_rolled_back = 0;
	t_src_blackout(&e);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_OPEN);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, true);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_TUNNEL_DONE);
	g_assert_true(run_until(t_inject_closed, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.rollbacks, ==, 1);
	g_assert_cmpuint(t_ev_rolled_back, ==, 1);
	vs_ho_set_event_cb(NULL);
	t_env_fini(&e);
}

/*
 * RESUMED twice: the tunnel cut while the source forwarded stragglers, its
 * stream reconnected, and the destination (which accepts an admitted
 * stream in any state) sent RESUMED again; QEMU's LOG_OFF and another
 * device-down come too.  The migration is committed once: one
 * VM_RESUMED_AT_DESTINATION, one linger timer (removed with the port: it
 * must not fire on freed memory), the blackout as measured at the first
 * RESUMED.  A device-down starts a capped episode in the dataplane
 * (vs_ho_device_gone_sync()): stragglers still go to the tunnel uncapped.
 */
static void test_src_forwarding_again(void)
{
	struct t_env e;
	uint64_t blackout;
	guint linger;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.linger_ms = 60000;
	vs_ho_set_event_cb(t_count_events);
	t_ev_resumed_at_dst = 0;
	t_src_blackout(&e);
	run_for(20);
	ho_feed(e.vm, VS_MIG_EV_PEER_RESUMED);	/* as vs_ho_tun_out_event(RESUMED) */
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_FORWARDING);
	g_assert_cmpuint(t_ev_resumed_at_dst, ==, 1);
	linger = e.vm->ho->linger_timer;
	g_assert_cmpuint(linger, !=, 0);
	blackout = e.vm->stats.last_blackout_us;
	g_assert_cmpuint(blackout, >=, 20000);
	g_assert_true(e.vm->dp.hs.no_caps);

	run_for(50);
	ho_feed(e.vm, VS_MIG_EV_PEER_RESUMED);
	t_ho_vhost(e.vm, VS_VHOST_EV_FEATURES, false);	/* log-off */
	vs_ho_device_gone_sync(e.vm);
	g_assert_false(e.vm->dp.hs.no_caps);
	t_ho_vhost(e.vm, VS_VHOST_EV_DESTROY_DEVICE, true);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_FORWARDING);
	g_assert_true(e.vm->dp.hs.no_caps);
	g_assert_cmpuint(t_ev_resumed_at_dst, ==, 1);
	g_assert_cmpuint(e.vm->ho->linger_timer, ==, linger);
	g_assert_cmpuint(e.vm->stats.last_blackout_us, ==, blackout);

	/* the port goes before linger-ms: no timer of it is left */
	vs_ho_set_event_cb(NULL);
	t_env_fini(&e);
	g_assert_null(g_main_context_find_source_by_id(NULL, linger));
}

/*
 * The addresses learned from the VM's TX are forgotten when the VM has
 * left (src-forwarding -> none: its stragglers' window is over) and when a
 * migration in starts (dst-expecting), not while the VM may still run here
 * (a blackout, a rollback): a VM that comes back is not announced with
 * what it used before it left.
 */
static uint32_t t_forget_reqs(const struct t_env *e)
{
	return __atomic_load_n(&e->vm->dp.hs.learn_forget_req, __ATOMIC_ACQUIRE);
}

static void test_learn_forgotten(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.linger_ms = 60000;
	t_src_blackout(&e);
	g_assert_cmpuint(t_forget_reqs(&e), ==, 0);
	ho_feed(e.vm, VS_MIG_EV_PEER_RESUMED);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_SRC_FORWARDING);
	g_assert_cmpuint(t_forget_reqs(&e), ==, 0);	/* stragglers: still its MACs */
	ho_feed(e.vm, VS_MIG_EV_LINGER_EXPIRED);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpuint(t_forget_reqs(&e), ==, 1);
	t_arm(&e);
	g_assert_cmpuint(t_forget_reqs(&e), ==, 2);
	ho_feed(e.vm, VS_MIG_EV_CANCEL);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);

	/* a rollback: the VM never left */
	t_src_blackout(&e);
	e.vm->vid = 0;
	t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, true);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
	g_assert_cmpuint(t_forget_reqs(&e), ==, 2);
	e.vm->vid = -1;
	t_env_fini(&e);
}

/*
 * A port's MTU bounds the frames its tunnel takes (issue 18): at mtu 1500
 * and 9000 a frame of the port's largest size (the MTU, an Ethernet header
 * and a VLAN tag) is queued and replayed whole, in one mbuf of a pool
 * sized as the port's (vs_port_mbuf_data_room()); one byte more is
 * refused, counted oversize, and the stream goes on behind it.
 */
static void test_tunnel_frame_follows_mtu(void)
{
	static const unsigned int mtus[] = { VS_DEFAULT_MTU, VS_MAX_MTU };
	static uint8_t big[VS_TUN_MAX_FRAME];
	size_t t;

	for (t = 0; t < G_N_ELEMENTS(mtus); t++) {
		struct vs_port_cfg pc = { .mtu = mtus[t] };
		const uint32_t max = vs_port_cfg_max_frame(&pc);
		const uint32_t lens[] = { max, max + 1, FRAME_LEN };
		char name[RTE_MEMPOOL_NAMESIZE];
		struct rte_mempool *pool;
		struct rte_mbuf *m[4];
		struct t_env e;
		unsigned int n, i;

		/* the data room: DPDK's default up to 1500, the frame above */
		snprintf(name, sizeof(name), "t_mtu_%u", mtus[t]);
		pool = rte_pktmbuf_pool_create(name, 63, 0, 0, vs_port_mbuf_data_room(&pc),
					       SOCKET_ID_ANY);
		g_assert_nonnull(pool);
		g_assert_cmpuint(rte_pktmbuf_data_room_size(pool), ==,
				 mtus[t] == VS_DEFAULT_MTU ? RTE_MBUF_DEFAULT_BUF_SIZE
							   : RTE_PKTMBUF_HEADROOM + max);

		t_env_init(&e, 1000, 10000);
		e.vm->cfg->mtu = mtus[t];
		e.vm->pool = pool;
		t_arm(&e);
		t_open_stream(&e, 1, 1);
		for (i = 0; i < G_N_ELEMENTS(lens); i++) {
			struct vs_tun_msg msg;

			memset(big, 0, sizeof(big));
			memcpy(big, VM_MAC, 6);
			big[lens[i] - 1] = (uint8_t)(i + 1);	/* the last byte arrives */
			memset(&msg, 0, sizeof(msg));
			msg.type = VS_TUN_MSG_FRAME;
			msg.u.frame.stream_id = 1;
			msg.u.frame.seq = i + 1;
			msg.u.frame.origin = VS_TUN_ORIGIN_BLACKOUT;
			msg.u.frame.data = big;
			msg.u.frame.len = lens[i];
			fp_send(&e.src, &msg);
		}
		t_wait_frames(&e, G_N_ELEMENTS(lens));
		g_assert_cmpuint(e.vm->stats.ctl_drops[VS_DROP_OVERSIZE], ==, 1);
		g_assert_cmpuint(g_queue_get_length(&e.vm->ho->replay_q), ==, 2);

		/* the VM arrives: both are injected, each in one mbuf */
		e.vm->vid = 0;
		t_ho_vhost(e.vm, VS_VHOST_EV_NEW_DEVICE, false);
		g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
		g_assert_true(run_until(t_replay_q_empty, e.vm, DEADLINE_MS));
		n = rte_ring_dequeue_burst(e.vm->dp.inject, (void **)m, G_N_ELEMENTS(m), NULL);
		g_assert_cmpuint(n, ==, 2);
		g_assert_cmpuint(rte_pktmbuf_pkt_len(m[0]), ==, max);
		g_assert_cmpuint(m[0]->nb_segs, ==, 1);
		g_assert_cmpuint(rte_pktmbuf_mtod(m[0], uint8_t *)[max - 1], ==, 1);
		g_assert_cmpuint(rte_pktmbuf_pkt_len(m[1]), ==, FRAME_LEN);
		g_assert_cmpuint(rte_pktmbuf_mtod(m[1], uint8_t *)[FRAME_LEN - 1], ==, 3);
		g_assert_cmpuint(e.vm->stats.ctl_drops[VS_DROP_OVERSIZE], ==, 1);
		rte_pktmbuf_free_bulk(m, n);
		e.vm->vid = -1;
		e.vm->pool = t_pool;
		t_env_fini(&e);
		g_assert_cmpuint(rte_mempool_avail_count(pool), ==, 63);
		rte_mempool_free(pool);
	}
}

/*
 * Review 72 F3: the stream cut right after LIVE_SEEN, the first live frame
 * having come more than replay-hold-ms after the resume: the replay ended
 * at once (no stream, replay-hold-ms after the resume), uncounted, and a
 * stream back within the hold window was not asked for its BARRIER.  Now
 * the window from LIVE_SEEN bounds the wait: the stream comes back, is
 * asked again (LIVE_SEEN), and its BARRIER ends the phase, nothing
 * counted as expired.
 */
static void test_cut_after_live_seen_waits(void)
{
	struct t_env e;

	t_env_init(&e, 10000, 60000);
	e.vm->policy.replay_hold_ms = 300;
	t_arrive(&e, 3);
	e.vm->ho->t_up -= 400 * 1000;	/* the first live frame came late */
	t_lcore_live_seen(e.vm);
	g_assert_true(run_until(t_phase_live_seen, e.vm, DEADLINE_MS));
	t_expect_msg(&e, VS_TUN_MSG_LIVE_SEEN);
	fp_close(&e.src);		/* a blip, 0 ms into the 300 ms hold */
	drain_loop();
	run_for(20);
	/* still waiting for the BARRIER (it has 280 ms left) */
	g_assert_cmpint(e.vm->ho->replay_phase, ==, HO_REPLAY_LIVE_SEEN);
	t_open_stream(&e, 2, 4);
	t_expect_msg(&e, VS_TUN_MSG_RESUMED);
	t_expect_msg(&e, VS_TUN_MSG_LIVE_SEEN);
	t_send_stream_seq(&e, false, 2, 3);
	g_assert_true(run_until(t_phase_done, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.hold_window_expired, ==, 0);
	t_env_fini(&e);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover"))
		return 1;

	g_test_add_func("/handover/expect/outlasts-hold-ms", test_expect_outlasts_hold);
	g_test_add_func("/handover/tunnel/frame-follows-mtu", test_tunnel_frame_follows_mtu);
	g_test_add_func("/handover/announce/learn-forgotten", test_learn_forgotten);
	g_test_add_func("/handover/expect/re-arm", test_rearm_restarts_timeout);
	g_test_add_func("/handover/expect/cancel", test_cancel_forgets_stream);
	g_test_add_func("/handover/expect/reconnect", test_reconnect_keeps_stream);
	g_test_add_func("/handover/back-to-back/migrated-on-while-replaying",
			test_migrated_on_while_replaying);
	g_test_add_func("/handover/replay-phase/transitions", test_replay_phase_transitions);
	g_test_add_func("/handover/replay-phase/arrival", test_replay_phase_arrival);
	g_test_add_func("/handover/replay-phase/cut-after-live-seen-waits",
			test_cut_after_live_seen_waits);
	g_test_add_func("/handover/replay-phase/hold-expired", test_replay_phase_hold_expired);
	g_test_add_func("/handover/replay-phase/no-stream", test_replay_phase_no_stream);
	g_test_add_func("/handover/replay-phase/local-resume", test_replay_phase_local_resume);
	g_test_add_func("/handover/replay-phase/barrier-before-resume",
			test_replay_phase_barrier_before_resume);
	g_test_add_func("/handover/replay-phase/end", test_replay_phase_end);
	g_test_add_func("/handover/replay-phase/stream-cut", test_replay_phase_stream_cut);
	g_test_add_func("/handover/replay-phase/rollback", test_replay_phase_rollback);
	g_test_add_func("/handover/src/hold-expired-resets", test_hold_expired_resets);
	g_test_add_func("/handover/src/forwarding-again", test_src_forwarding_again);
	return t_ho_main_run();
}
