/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_transport.c - the tunnel transport (tunnel.h): two real
 * tunnels on loopback in one process and one GMainContext (the default)
 *
 * Theory of operation: tun_harness.h.  Each test builds "hosta" and
 * "hostb", each the other's peer, with a fake upper layer that records the
 * callbacks and keeps the frames; it drives the main loop until a
 * condition holds, with a deadline.  Real sockets, codec and handshake; no
 * EAL, no QEMU.  The protocol rules a peer must keep are
 * test_tunnel_rules.c.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "log.h"
#include "tun_harness.h"

/* --- tests ----------------------------------------------------------------- */

static void test_handshake(void)
{
	struct side a, b;
	struct vs_tun_stream *s;

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_nonnull(s);
	g_assert_null(vs_tun_stream_open(a.t, "nobody", VM_NAME, VM_MAC));
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	/* both sides announced the authenticated connection, once */
	g_assert_cmpuint(a.peers_up, ==, 1);
	g_assert_cmpuint(b.peers_up, ==, 1);
	g_assert_cmpstr(a.last_ports, ==, VM_NAME);
	g_assert_true(vs_tun_peer_connected(a.t, "hostb"));
	g_assert_cmpuint(b.opens, ==, 1);
	g_assert_nonnull(b.in);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->connections_opened, ==, 1);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->connections_accepted, ==, 1);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->auth_failures, ==, 0);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
	/* closing the tunnels ended the connections: PEER_LOST on both */
	g_assert_cmpuint(a.peers_down, ==, 1);
	g_assert_cmpuint(b.peers_down, ==, 1);
}

static bool auth_failed(void *t)
{
	return vs_tun_get_stats(t)->auth_failures > 0;
}

/*
 * Peers learned at run time (the [discovery] registry): hosta knows no
 * peer; hostb is added with vs_tun_peer_upsert() and takes a stream; a
 * registry entry naming "hostx" at hostb's address is refused when hostb
 * answers (the tunnel checks who answers, the registry only says where),
 * counted, and no stream goes there; an upsert moves a known peer
 */
static void test_learned_peer(void)
{
	struct vs_tun_cfg ca = { .node_name = "hosta", .listen = "127.0.0.1:0" };
	g_autoptr(GError) err = NULL;
	g_autofree char *bb = NULL;
	struct side a, b;
	struct vs_tun_stream *s, *x;

	side_init_cfg(&a, &ca);
	side_init(&b, "hostb", "127.0.0.1:0");
	bb = addr_of(&b);
	g_assert_false(vs_tun_has_peer(a.t, "hostb"));
	g_assert_false(vs_tun_peer_upsert(a.t, "hostb", "hostb.example:1", &err));
	g_clear_error(&err);
	g_assert_true(vs_tun_peer_upsert(a.t, "hostb", bb, &err));
	g_assert_no_error(err);
	g_assert_true(vs_tun_peer_upsert(a.t, "hostb", bb, &err));	/* again: no change */
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->auth_failures, ==, 0);
	/* no EXPECT broadcast to a learned peer: the registry tells it */
	vs_tun_announce_expect(a.t, VM_NAME, VM_MAC);
	run_for(200);
	g_assert_cmpuint(b.expects, ==, 0);
	/* the registry says hostx is at hostb's address: hostb answers */
	g_assert_true(vs_tun_peer_upsert(a.t, "hostx", bb, &err));
	x = vs_tun_stream_open(a.t, "hostx", "vm2", VM_MAC);
	g_assert_true(run_until(auth_failed, a.t, DEADLINE_MS));
	g_assert_false(vs_tun_stream_connected(x));
	g_assert_false(vs_tun_peer_connected(a.t, "hostx"));
	vs_tun_stream_close(x, false);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	side_fini(&b);
	drain_loop();
}

/* A peer with another key is refused at the handshake and counted */
static void test_wrong_key(void)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *other = g_build_filename(g_get_tmp_dir(), "vshim-tun-key2-XXXXXX", NULL);
	g_autofree char *ba = NULL;
	struct vs_tun_cfg cfg = { .node_name = "hostc", .listen = "127.0.0.1:0" };
	struct side a, b, c;
	struct vs_tun_stream *s;
	int fd = g_mkstemp_full(other, O_WRONLY, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "00112233445566778899aabbccddeeff\n", 33), ==, 33);
	close(fd);
	pair_init(&a, &b);
	cfg.key_file = other;
	side_init_cfg(&c, &cfg);
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, &err));
	s = vs_tun_stream_open(c.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(auth_failed, b.t, DEADLINE_MS));
	g_assert_false(vs_tun_stream_connected(s));
	g_assert_cmpuint(b.opens, ==, 0);
	g_assert_cmpuint(b.peers_up, ==, 0);
	g_assert_cmpuint(c.peers_up, ==, 0);
	vs_tun_stream_close(s, false);
	side_fini(&c);
	pair_fini(&a, &b);
	g_unlink(other);
}

/* A stream: frames in order, acks, no trim before commit, trim after */
static void test_stream_ack_trim(void)
{
	struct side a, b;
	struct vs_tun_stream *s;
	struct want_frames w = { &b, 200 };

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 200);
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	check_seqs(&b, 200);
	g_assert_cmpuint(b.dups, ==, 0);
	/* acked, but the VM does not run there yet: a rollback needs them */
	g_assert_cmpuint(vs_tun_stream_retained(s), ==, 200);
	/* RESUMED reaches the source's callbacks, which commit */
	vs_tun_in_send_resumed(b.in);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&a.out_events[VS_TUN_OUT_RESUMED], 1 }, DEADLINE_MS));
	vs_tun_stream_commit(s);
	g_assert_cmpuint(vs_tun_stream_retained(s), ==, 0);
	/* after commit every ack frees what it covers */
	push_frames(s, 10);
	g_assert_true(run_until(retained_none, s, DEADLINE_MS));
	check_seqs(&b, 210);
	/* END(last_seq) ends the stream at the destination */
	vs_tun_stream_close(s, true);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_END], 1 }, DEADLINE_MS));
	g_assert_cmpuint(b.in_event_seq[VS_TUN_IN_END], ==, 210);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_CLOSED], ==, 0);
	g_assert_null(b.in);
	pair_fini(&a, &b);
}

/*
 * The frame-times extension: offered by both, frames carry their age and the
 * destination gets each one's arrival in its own clock (one host here: the
 * same clock, so the estimate is the true arrival plus the fastest one-way
 * delay); a side that does not offer it gets plain FRAMEs (no time).
 */
static void test_frame_times(void)
{
	struct side a, b;
	struct vs_tun_stream *s;
	struct want_frames w = { &b, 3 };
	uint8_t buf[FRAME_LEN];
	int64_t at;
	unsigned int off;

	for (off = 0; off < 2; off++) {
		pair_init(&a, &b);
		if (off)
			vs_tun_set_frame_times(b.t, false);	/* a peer of before */
		s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
		g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
		at = g_get_monotonic_time() - 300000;	/* 300 ms ago */
		frame_fill(buf, 1);
		vs_tun_stream_push_at(s, VS_TUN_ORIGIN_BLACKOUT, buf, FRAME_LEN, at);
		frame_fill(buf, 2);
		vs_tun_stream_push(s, VS_TUN_ORIGIN_BLACKOUT, buf, FRAME_LEN);	/* no time */
		frame_fill(buf, 3);
		vs_tun_stream_push_at(s, VS_TUN_ORIGIN_STRAGGLER, buf, FRAME_LEN, at + 100000);
		g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
		check_seqs(&b, 3);
		if (off) {
			g_assert_cmpuint(b.timed, ==, 0);
		} else {
			g_assert_cmpuint(b.timed, ==, 2);
			/* the last one's estimate: its arrival, a little later at most */
			g_assert_cmpint(b.last_arrival_us, >=, at + 100000);
			g_assert_cmpint(b.last_arrival_us, <, at + 100000 + 20000);
		}
		vs_tun_stream_close(s, false);
		pair_fini(&a, &b);
	}
}

static bool got_direct(void *arg)
{
	return ((struct side *)arg)->source_directs > 0;
}

/*
 * The source-direct extension: offered by both, the destination's
 * SOURCE_DIRECT reaches the source's callback with the address; a source
 * that does not offer it (a peer of before) never gets one: the
 * destination does not send it.
 */
static void test_source_direct(void)
{
	static const uint8_t v4[16] = { 10, 77, 0, 11 };
	struct side a, b;
	struct vs_tun_stream *s;
	unsigned int off;

	for (off = 0; off < 2; off++) {
		pair_init(&a, &b);
		if (off)
			vs_tun_set_source_direct(a.t, false);	/* an older source */
		s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
		g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
		g_assert_nonnull(b.in);
		g_assert_cmpint(vs_tun_in_send_source_direct(b.in, VS_TUN_SRC_AF_INET, v4), ==,
				off ? VS_TUN_SEND_NEVER : VS_TUN_SEND_DONE);
		if (!off) {
			g_assert_true(run_until(got_direct, &a, DEADLINE_MS));
			g_assert_cmpuint(a.last_direct_af, ==, VS_TUN_SRC_AF_INET);
			g_assert_cmpmem(a.last_direct_addr, 16, v4, 16);
		} else {
			/* let anything that was sent arrive: nothing was */
			run_until(got_direct, &a, 200);
			g_assert_cmpuint(a.source_directs, ==, 0);
		}
		vs_tun_stream_close(s, false);
		pair_fini(&a, &b);
	}
}

static bool reopened(void *arg)
{
	struct side *b = arg;

	return b->opens >= 2 && b->in;
}

/*
 * A cut: the connection resets with frames retained at the source and
 * more pushed while it is down.  The source reconnects, VM_ACCEPT says
 * where the destination is, and every frame arrives once, in order.
 */
static void test_cut_resume(void)
{
	struct side a, b;
	struct vs_tun_stream *s;
	struct want_frames w = { &b, 50 };

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 50);
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	cut(out_conn(&a, "hostb"));
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	/* while it is down the source keeps pushing (it retains them) */
	push_frames(s, 50);
	g_assert_true(run_until(reopened, &b, DEADLINE_MS));
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	w.n = 100;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	check_seqs(&b, 100);
	g_assert_cmpuint(b.dups, ==, 0);
	/* it resumed at what the destination had: 51 */
	g_assert_cmpuint(s->acked, >=, 50);
	g_assert_cmpuint(a.out_events[VS_TUN_OUT_INTERRUPTED], ==, 1);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->reconnects, ==, 1);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_CLOSED], ==, 1);
	g_assert_cmpuint(a.peers_down, ==, 1);
	g_assert_cmpuint(a.peers_up, ==, 2);
	vs_tun_stream_close(s, false);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_ABORT], 1 }, DEADLINE_MS));
	pair_fini(&a, &b);
}

/*
 * The destination restarts before the commit (its receive state is gone:
 * next_expected 1 again): nothing was trimmed, so the source resends
 * everything from 1, and a rollback would still have every frame.
 */
static void test_cut_restarted_destination(void)
{
	struct side a, b;
	struct vs_tun_stream *s;
	struct want_frames w = { &b, 30 };

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 30);
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	/* "restart": forget what was received */
	g_array_set_size(b.seqs, 0);
	b.next_expected = 1;
	cut(out_conn(&a, "hostb"));
	g_assert_true(run_until(reopened, &b, DEADLINE_MS));
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	check_seqs(&b, 30);
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_stream_retained(s), ==, 30);
	{
		g_autoptr(GQueue) back = vs_tun_stream_take_back(s);

		g_assert_cmpuint(g_queue_get_length(back), ==, 30);
		g_queue_clear_full(back, g_free);
	}
	pair_fini(&a, &b);
}

struct backoff_watch {
	struct tun_peer *p;
	unsigned int seen[8];
	unsigned int n;
};

static bool backoff_changed(void *arg)
{
	struct backoff_watch *bw = arg;

	if (bw->p->backoff_ms && (!bw->n || bw->seen[bw->n - 1] != bw->p->backoff_ms))
		bw->seen[bw->n++] = bw->p->backoff_ms;
	return bw->n >= 4;
}

/*
 * Reconnect backoff: a peer that refuses connections is retried after
 * 100, 200, 400, 800 ms..., at most VS_TUN_RECONNECT_MAX_MS apart; once it
 * listens, the next attempt connects, and the backoff starts over.
 */
static void test_reconnect_backoff(void)
{
	g_autofree char *listen = NULL;
	struct side a, b;
	struct backoff_watch bw = { 0 };
	struct vs_tun_stream *s;
	unsigned int i, ms;
	gint64 t0;

	pair_init(&a, &b);
	listen = addr_of(&b);
	side_fini(&b);			/* hostb is down: connections refused */
	drain_loop();
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	bw.p = s->peer;
	t0 = g_get_monotonic_time();
	g_assert_true(run_until(backoff_changed, &bw, DEADLINE_MS));
	g_assert_cmpuint(bw.seen[0], ==, VS_TUN_RECONNECT_MIN_MS);
	for (i = 1; i < 4; i++)
		g_assert_cmpuint(bw.seen[i], ==, bw.seen[i - 1] * 2);
	/* 100 + 200 + 400 ms of waiting before the 4th failure at least */
	g_assert_cmpint(g_get_monotonic_time() - t0, >=, 700 * 1000);
	g_assert_false(vs_tun_stream_connected(s));
	/* the doubling stops at the cap */
	for (ms = bw.p->backoff_ms, i = 0; i < 6; i++)
		ms = MIN(ms * 2, VS_TUN_RECONNECT_MAX_MS);
	g_assert_cmpuint(ms, ==, VS_TUN_RECONNECT_MAX_MS);
	g_source_remove(bw.p->reconnect_timer);
	bw.p->reconnect_timer = 0;
	for (i = 0; i < 6; i++) {
		tun_peer_schedule_reconnect(bw.p);
		g_source_remove(bw.p->reconnect_timer);
		bw.p->reconnect_timer = 0;
	}
	g_assert_cmpuint(bw.p->backoff_ms, ==, VS_TUN_RECONNECT_MAX_MS);
	tun_peer_schedule_reconnect(bw.p);
	/* hostb comes back on the same port: the next attempt gets through */
	side_init(&b, "hostb", listen);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS + VS_TUN_RECONNECT_MAX_MS));
	g_assert_cmpuint(bw.p->backoff_ms, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->connections_opened, >=, 5);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/* --- keepalive ------------------------------------------------------------- */

/*
 * hosta and hostb with keepalive @ka ms and timeout @timeout ms; hosta
 * reaches hostb through @r (which can go silent), hostb reaches hosta
 * directly
 */
static void ka_pair(struct side *a, struct side *b, unsigned int ka, unsigned int timeout,
		    struct relay **r)
{
	struct vs_tun_cfg ca = { .node_name = "hosta", .listen = "127.0.0.1:0",
				 .keepalive_ms = ka, .keepalive_timeout_ms = timeout };
	struct vs_tun_cfg cb = ca;
	g_autofree char *via = NULL, *aa = NULL;

	cb.node_name = "hostb";
	side_init_cfg(a, &ca);
	side_init_cfg(b, &cb);
	*r = relay_new(vs_tun_listen_port(b->t));
	via = g_strdup_printf("127.0.0.1:%u", relay_port(*r));
	aa = addr_of(a);
	g_assert_true(vs_tun_add_peer(a->t, "hostb", via, NULL));
	g_assert_true(vs_tun_add_peer(b->t, "hosta", aa, NULL));
}

static void test_keepalive_config(void)
{
	g_autoptr(GError) err = NULL;
	struct vs_tun_cfg cfg = { .node_name = "hosta", .keepalive_ms = 1000,
				  .keepalive_timeout_ms = 1000 };
	struct vs_tun *t = vs_tun_new(&cfg, NULL, NULL, &err);

	g_assert_null(t);
	g_assert_nonnull(strstr(err->message, "keepalive"));
}

/* An idle connection lives on PING/PONG, well past the timeout */
static void test_keepalive_idle(void)
{
	struct side a, b;
	struct relay *r;
	struct vs_tun_stream *s;

	ka_pair(&a, &b, 50, 250, &r);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	run_for(1000);
	g_assert_true(vs_tun_stream_connected(s));
	g_assert_cmpuint(a.peers_down + b.peers_down, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->keepalive_timeouts, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->keepalive_timeouts, ==, 0);
	/* both sides pinged: 1000 / 50 ms, give or take */
	g_assert_cmpuint(out_conn(&a, "hostb")->ping_token, >=, 5);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
	relay_free(r);
}

/*
 * A silent partition (packets dropped, nothing closed) mid-stream: both
 * sides notice within the keepalive timeout, hosta reconnects once it
 * heals and resumes from hostb's next expected seq; every frame arrives
 * once, in order.
 */
static void test_keepalive_partition(void)
{
	struct want_frames w;
	struct vs_tun_stream *s;
	struct side a, b;
	struct relay *r;
	gint64 t0, dt;

	ka_pair(&a, &b, 100, 500, &r);
	w.sd = &b;
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 20);
	w.n = 20;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	relay_partition(r);
	t0 = g_get_monotonic_time();
	push_frames(s, 20);		/* into the void */
	g_assert_true(run_until(at_least, &(struct count_watch){
		&a.out_events[VS_TUN_OUT_INTERRUPTED], 1 }, DEADLINE_MS));
	dt = (g_get_monotonic_time() - t0) / 1000;
	relay_heal(r);
	g_test_message("silent partition detected after %" G_GINT64_FORMAT " ms", dt);
	g_assert_cmpint(dt, >=, 400);		/* not before the timeout... */
	g_assert_cmpint(dt, <, 500 + 400);	/* ...and soon after it */
	g_assert_nonnull(strstr(a.last_down_reason, "TIMEOUT"));
	g_assert_cmpuint(b.seqs->len, ==, 20);
	w.n = 40;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	check_seqs(&b, 40);
	g_assert_cmpuint(b.dups, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->keepalive_timeouts, ==, 1);
	/* hostb's side saw nothing either, and let its stream go */
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_CLOSED], 1 }, DEADLINE_MS));
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
	relay_free(r);
}

/*
 * The peer restarted behind a connection that still looks ready (no
 * reset, the timeout far away): its EXPECT, on a connection of its own,
 * makes hosta probe the old one, give up on it at once and redial.
 */
static void test_expect_probe(void)
{
	struct want_frames w;
	struct vs_tun_stream *s;
	struct side a, b;
	struct relay *r;
	gint64 t0, dt;

	ka_pair(&a, &b, 300, 60000, &r);
	w.sd = &b;
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	a.retry_stream = s;
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 10);
	w.n = 10;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	relay_partition(r);
	push_frames(s, 10);
	run_for(100);
	relay_heal(r);			/* new connections get through */
	g_assert_true(vs_tun_stream_connected(s));	/* it looks fine */
	t0 = g_get_monotonic_time();
	vs_tun_announce_expect(b.t, VM_NAME, VM_MAC);
	w.n = 20;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	dt = (g_get_monotonic_time() - t0) / 1000;
	g_test_message("stream back %" G_GINT64_FORMAT " ms after the EXPECT", dt);
	g_assert_cmpint(dt, <, 2000);
	check_seqs(&b, 20);
	g_assert_cmpuint(b.dups, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->keepalive_timeouts, ==, 1);
	g_assert_nonnull(strstr(a.last_down_reason, "probe"));
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
	relay_free(r);
}

/* --- backpressure ---------------------------------------------------------- */

/* MANY frames of BIG bytes: more than the output queue and the socket take */
#define MANY	2000
#define BIG	8192

/*
 * Stragglers pushed faster than the connection takes them wait in the
 * stream; a BARRIER asked for then goes behind the last of them, never
 * ahead.
 */
static void test_barrier_behind_queue(void)
{
	struct vs_tun_stream *s;
	struct side a, b;

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames_len(s, MANY, BIG);
	g_assert_cmpuint(s->send_seq, <, MANY);		/* some still wait for room */
	g_assert_cmpint(vs_tun_stream_barrier(s), ==, MANY);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_BARRIER], 1 }, 4 * DEADLINE_MS));
	g_assert_cmpuint(b.in_event_seq[VS_TUN_IN_BARRIER], ==, MANY);
	g_assert_cmpuint(b.in_event_frames[VS_TUN_IN_BARRIER], ==, MANY);
	check_seqs(&b, MANY);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/*
 * The stream ends (linger over) with frames still waiting for room: END
 * names the last frame pushed, the frames written to the connection
 * arrive, and close() returns how many never will, for the caller to
 * count.  Nothing is freed uncounted.
 */
static void test_close_counts_unsent(void)
{
	struct vs_tun_stream *s;
	struct side a, b;
	uint64_t lost, unsent;

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames_len(s, MANY, BIG);
	unsent = s->next_seq - s->send_seq;
	g_assert_cmpuint(unsent, >, 0);
	lost = vs_tun_stream_close(s, true);
	g_assert_cmpuint(lost, ==, unsent);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_END], 1 }, 4 * DEADLINE_MS));
	g_assert_cmpuint(b.in_event_seq[VS_TUN_IN_END], ==, MANY);
	check_seqs(&b, MANY - lost);
	g_test_message("%" PRIu64 " of %u frames delivered, %" PRIu64 " reported lost",
		       (uint64_t)MANY - lost, MANY, lost);
	pair_fini(&a, &b);

	/* the peer is down: everything not acknowledged is lost, and said so */
	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 10);
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	cut(out_conn(&a, "hostb"));
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	push_frames(s, 5);
	g_assert_cmpuint(vs_tun_stream_close(s, true), ==, 5);
	pair_fini(&a, &b);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_INFO);
	th_init();
	g_test_add_func("/tun/transport/handshake", test_handshake);
	g_test_add_func("/tun/transport/frame-times", test_frame_times);
	g_test_add_func("/tun/transport/source-direct", test_source_direct);
	g_test_add_func("/tun/transport/wrong-key", test_wrong_key);
	g_test_add_func("/tun/transport/learned-peer", test_learned_peer);
	g_test_add_func("/tun/transport/stream-ack-trim", test_stream_ack_trim);
	g_test_add_func("/tun/transport/cut-resume", test_cut_resume);
	g_test_add_func("/tun/transport/cut-restarted-destination",
			test_cut_restarted_destination);
	g_test_add_func("/tun/transport/reconnect-backoff", test_reconnect_backoff);
	g_test_add_func("/tun/stream/barrier-behind-queue", test_barrier_behind_queue);
	g_test_add_func("/tun/stream/close-counts-unsent", test_close_counts_unsent);
	g_test_add_func("/tun/keepalive/config", test_keepalive_config);
	g_test_add_func("/tun/keepalive/idle", test_keepalive_idle);
	g_test_add_func("/tun/keepalive/silent-partition", test_keepalive_partition);
	g_test_add_func("/tun/keepalive/expect-probe", test_expect_probe);
	rc = g_test_run();
	th_fini();
	return rc;
}
