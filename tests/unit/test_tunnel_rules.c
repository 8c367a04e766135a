/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_rules.c - the stream rules of docs/tunnel-protocol.md that a
 * peer must keep, each enforced by the transport and tested here
 *
 * Theory of operation: tun_harness.h.  Real tunnels, and scripted peers
 * (struct fake_peer) that do the real handshake and then break a rule.
 */
#include <string.h>

#include <gio/gio.h>

#include "log.h"
#include "tun_harness.h"

/* --- scripted messages ------------------------------------------------------ */

/* VM_ACCEPT, ACK, BARRIER or END */
static void send_seq(struct fake_peer *fp, enum vs_tun_type type, uint32_t id, uint64_t seq)
{
	struct vs_tun_msg m = { .type = type };

	switch (type) {
	case VS_TUN_MSG_VM_ACCEPT:
		m.u.vm_accept.stream_id = id;
		m.u.vm_accept.next_expected_seq = seq;
		break;
	case VS_TUN_MSG_ACK:
		m.u.ack.stream_id = id;
		m.u.ack.seq = seq;
		break;
	default:
		m.u.stream_seq.stream_id = id;
		m.u.stream_seq.last_seq = seq;
		break;
	}
	fp_send(fp, &m);
}

/* RESUMED, LIVE_SEEN or ABORT */
static void send_stream(struct fake_peer *fp, enum vs_tun_type type, uint32_t id)
{
	struct vs_tun_msg m = { .type = type };

	m.u.stream.stream_id = id;
	fp_send(fp, &m);
}

static bool protocol_errors(void *t)
{
	return vs_tun_get_stats(t)->protocol_errors > 0;
}

/* --- tests ----------------------------------------------------------------- */

/*
 * VM_ACCEPT must resume inside first_seq..next unassigned seq, ACK only
 * what was sent: a destination that claims frames never sent, or asks for
 * frames already freed, is cut off with ERROR(PROTOCOL).
 */
static void test_accept_bounds(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct vs_tun_msg m;
	struct fake_peer f;
	GSocket *ls;
	struct side a;
	uint32_t id;

	side_init(&a, "hosta", "127.0.0.1:0");
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	push_frames(s, 5);			/* 1..5 retained, next unassigned 6 */

	/* one past the next unassigned seq: frames that were never sent */
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	g_assert_cmpuint(m.u.vm_open.first_seq, ==, 1);
	id = m.u.vm_open.stream_id;
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, id, 7);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	g_assert_false(vs_tun_stream_connected(s));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->protocol_errors, ==, 1);
	fp_close(&f);

	/* the bound itself: it has all five, nothing to resend */
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, id, 6);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	/* a second answer to the same VM_OPEN */
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, id, 6);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);

	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, id, 6);
	push_frames(s, 1);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_FRAME, &m));
	g_assert_cmpuint(m.u.frame.seq, ==, 6);
	/* commit, and ACK what was sent: every frame is freed */
	send_stream(&f, VS_TUN_MSG_RESUMED, id);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&a.out_events[VS_TUN_OUT_RESUMED], 1 }, DEADLINE_MS));
	vs_tun_stream_commit(s);
	send_seq(&f, VS_TUN_MSG_ACK, id, 6);
	g_assert_true(run_until(retained_none, s, DEADLINE_MS));
	/* an ACK of a frame not sent would free it unsent */
	send_seq(&f, VS_TUN_MSG_ACK, id, 7);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);

	/* below the oldest frame still held (7: none held) */
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	g_assert_cmpuint(m.u.vm_open.first_seq, ==, 7);
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, id, 5);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->protocol_errors, ==, 4);
	fp_close(&f);

	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

static bool rejected(void *arg)
{
	struct side *sd = arg;

	return sd->out_events[VS_TUN_OUT_REJECTED] > 0;
}

/*
 * After the commit the source frees what was acked.  A destination that
 * lost those frames (restarted, next_expected 1 again) cannot be fed from
 * the source's oldest frame on: VM_REJECT(SEQ), not a resend with a gap.
 */
static void test_reject_seq(void)
{
	struct want_frames w;
	struct vs_tun_stream *s;
	struct side a, b;

	pair_init(&a, &b);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 10);
	w = (struct want_frames){ &b, 10 };
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	vs_tun_in_send_resumed(b.in);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&a.out_events[VS_TUN_OUT_RESUMED], 1 }, DEADLINE_MS));
	vs_tun_stream_commit(s);
	g_assert_cmpuint(vs_tun_stream_retained(s), ==, 0);
	b.next_expected = 1;			/* "restarted" */
	g_array_set_size(b.seqs, 0);
	cut(out_conn(&a, "hostb"));
	g_assert_true(run_until(rejected, &a, DEADLINE_MS));
	g_assert_cmpint(a.last_reject, ==, VS_TUN_REJECT_SEQ);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->streams_rejected, ==, 1);
	g_assert_null(b.in);			/* taken back from the layer above */
	g_assert_cmpuint(b.seqs->len, ==, 0);
	vs_tun_stream_close(s, true);
	pair_fini(&a, &b);
}

/*
 * One stream per VM.  Another authenticated peer gets BUSY, and the real
 * source's frames all arrive.  The same peer (a source reconnecting while
 * its old connection is half dead) replaces its own stream.
 */
static void test_busy(void)
{
	g_autofree char *ba = NULL;
	struct vs_tun_stream *sa, *sc;
	struct want_frames w = { NULL, 40 };
	struct side a, b, c;
	struct fake_peer f;
	struct vs_tun_msg m;

	pair_init(&a, &b);
	w.sd = &b;
	side_init(&c, "hostc", "127.0.0.1:0");
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, NULL));
	sa = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, sa, DEADLINE_MS));
	push_frames(sa, 20);
	sc = vs_tun_stream_open(c.t, "hostb", VM_NAME, VM_MAC);
	push_frames(sc, 20);
	g_assert_true(run_until(rejected, &c, DEADLINE_MS));
	g_assert_cmpint(c.last_reject, ==, VS_TUN_REJECT_BUSY);
	g_assert_cmpuint(b.opens, ==, 1);	/* the layer above was not asked */
	push_frames(sa, 20);
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	check_seqs(&b, 40);
	g_assert_cmpuint(b.dups, ==, 0);

	/* "hosta" again, on a new connection: it replaces its own stream */
	fp_connect(&f, "hosta", vs_tun_listen_port(b.t));
	fp_send_vm_open(&f, 99, 1);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_ACCEPT, &m));
	g_assert_cmpuint(m.u.vm_accept.next_expected_seq, ==, 41);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_CLOSED], ==, 1);
	/* the old connection's next frame finds no stream: that connection
	 * goes, the real hosta reconnects and takes the VM back */
	push_frames(sa, 10);
	w.n = 50;
	g_assert_true(run_until(got_frames, &w, DEADLINE_MS));
	check_seqs(&b, 50);
	g_assert_cmpuint(b.dups, ==, 0);
	fp_close(&f);
	vs_tun_stream_close(sa, false);
	vs_tun_stream_close(sc, false);
	side_fini(&c);
	pair_fini(&a, &b);
}

static void fake_source(struct fake_peer *f, struct side *b, uint64_t want_next)
{
	fp_connect(f, "hosta", vs_tun_listen_port(b->t));
	fp_open_stream(f, 1, 1, want_next);
}

/*
 * BARRIER(S) promises that every frame <= S came before it; END(last) may
 * not claim fewer frames than arrived (more is the source giving up on
 * some, which it counts).
 */
static void test_barrier_end(void)
{
	struct fake_peer f;
	struct side b;
	uint64_t i;

	side_init(&b, "hostb", "127.0.0.1:0");
	fake_source(&f, &b, 1);
	for (i = 1; i <= 3; i++)
		fp_send_frame(&f, 1, i, VS_TUN_ORIGIN_BLACKOUT);
	send_seq(&f, VS_TUN_MSG_BARRIER, 1, 4);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	check_seqs(&b, 3);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_BARRIER], ==, 0);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_CLOSED], 1 }, DEADLINE_MS));

	fake_source(&f, &b, 4);
	send_seq(&f, VS_TUN_MSG_BARRIER, 1, 3);
	send_seq(&f, VS_TUN_MSG_END, 1, 2);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_BARRIER], ==, 1);
	g_assert_cmpuint(b.in_event_seq[VS_TUN_IN_BARRIER], ==, 3);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_END], ==, 0);

	fake_source(&f, &b, 4);
	send_seq(&f, VS_TUN_MSG_END, 1, 5);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_END], 1 }, DEADLINE_MS));
	g_assert_cmpuint(b.in_event_seq[VS_TUN_IN_END], ==, 5);
	g_assert_null(b.in);
	fp_close(&f);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 2);
	side_fini(&b);
	drain_loop();
}

/*
 * Streams are opened by the side that dials: on a connection a tunnel
 * accepted, dst -> src types are refused; on one it dialled, src -> dst
 * types are.
 */
static void test_direction(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct vs_tun_msg m;
	struct side a, b;
	GSocket *ls;

	/* a source sends a destination's message */
	side_init(&b, "hostb", "127.0.0.1:0");
	fake_source(&f, &b, 1);
	send_seq(&f, VS_TUN_MSG_ACK, 1, 0);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	fake_source(&f, &b, 1);
	send_stream(&f, VS_TUN_MSG_RESUMED, 1);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 2);

	/* a destination opens a stream, or sends a frame, towards its source */
	side_init(&a, "hosta", "127.0.0.1:0");
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	fp_send_vm_open(&f, 5, 1);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	fp_send_frame(&f, m.u.vm_open.stream_id, 1, VS_TUN_ORIGIN_BLACKOUT);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	g_assert_true(run_until(protocol_errors, a.t, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->protocol_errors, ==, 2);
	g_assert_cmpuint(a.opens, ==, 0);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	side_fini(&b);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

/*
 * FRAME_TIMES from a peer whose HELLO did not offer frame-times (the fake
 * peer's offers none): a protocol error, counted, the connection closed;
 * its times never reach the duplicate filter
 */
static void test_frame_times_unnegotiated(void)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_FRAME_TIMES };
	uint8_t buf[FRAME_LEN];
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	fake_source(&f, &b, 1);
	frame_fill(buf, 1);
	m.u.frame.stream_id = 1;
	m.u.frame.seq = 1;
	m.u.frame.origin = VS_TUN_ORIGIN_BLACKOUT;
	m.u.frame.data = buf;
	m.u.frame.len = FRAME_LEN;
	m.u.frame.age_us = 1000;
	m.u.frame.sent_us = 123456789;
	fp_send(&f, &m);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 1);
	g_assert_cmpuint(b.seqs->len, ==, 0);
	g_assert_cmpuint(b.timed, ==, 0);
	side_fini(&b);
	drain_loop();
}

/* FRAME_TIMES of frame @seq on stream @id: sent at @sent_us, @age_us old */
static void send_frame_times(struct fake_peer *fp, uint32_t id, uint64_t seq, uint64_t sent_us,
			     uint32_t age_us)
{
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;

	frame_msg(&m, buf, id, seq, VS_TUN_ORIGIN_BLACKOUT);
	m.type = VS_TUN_MSG_FRAME_TIMES;
	m.u.frame.age_us = age_us;
	m.u.frame.sent_us = sent_us;
	fp_send(fp, &m);
}

/* A source that offers frame-times, with stream @id open for VM_NAME */
static void fake_timed_source(struct fake_peer *f, struct side *b, uint32_t id,
			      uint64_t want_next)
{
	fp_connect_ext(f, "hosta", vs_tun_listen_port(b->t), VS_TUN_HELLO_EXT_FRAME_TIMES);
	fp_open_stream(f, id, want_next, want_next);
}

/* Wait until @b got @n new frames */
static void wait_frames(struct side *b, guint n)
{
	g_assert_true(run_until(got_frames, &(struct want_frames){ b, n }, DEADLINE_MS));
}

/*
 * The clocks' offset belongs to the connection, not to a stream: a stream
 * whose first frame waited behind another stream's backlog (here: written
 * 300 ms before it was sent, as a queued frame looks) gets the offset that
 * an earlier stream's fast frame measured, so its frame is placed 300 ms
 * back, where it reached the source's network, not at its receipt.
 */
static void test_frame_times_shared_clock(void)
{
	const int64_t skew = 1000LL * 1000 * 1000;	/* the source's clock: 1000 s ahead */
	int64_t before, after, sent1, got1;
	struct vs_tun_msg m;
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	fake_timed_source(&f, &b, 1, 1);
	/* two fast frames (one alone is believed for its own frame only:
	 * tunnel_clock.c) */
	sent1 = g_get_monotonic_time();
	send_frame_times(&f, 1, 1, (uint64_t)(sent1 + skew), 0);
	send_frame_times(&f, 1, 2, (uint64_t)(sent1 + skew), 0);
	wait_frames(&b, 2);
	got1 = g_get_monotonic_time();
	g_assert_cmpint(b.last_arrival_us, >=, sent1);
	g_assert_cmpint(b.last_arrival_us, <=, got1);
	send_seq(&f, VS_TUN_MSG_END, 1, 2);

	/* another stream on the same connection (another VM's, or this one's
	 * next), whose frame queued 300 ms behind a backlog on the way */
	fp_send_vm_open(&f, 2, 3);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_ACCEPT, &m));
	before = g_get_monotonic_time();
	send_frame_times(&f, 2, 3, (uint64_t)(before - 300000 + skew), 0);
	wait_frames(&b, 3);
	after = g_get_monotonic_time();
	/* its arrival: when it was written (before - 300 ms), late by at
	 * most the fast frames' delay; a per-stream minimum said "now" */
	g_assert_cmpint(b.last_arrival_us, >=, before - 300000);
	g_assert_cmpint(b.last_arrival_us, <=, after - 300000 + (got1 - sent1));
	g_assert_cmpuint(b.timed, ==, 3);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->frame_times_rejected, ==, 0);
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/*
 * Times that cannot be right are not believed and are counted: the frame
 * is delivered untimed (the duplicate filter compares it regardless of
 * time).  An age over an hour; a frame that came more than 600 s later
 * than the connection's fastest (a peer whose clock jumped, or lies).
 */
static void test_frame_times_rejected(void)
{
	const int64_t skew = -5000LL * 1000 * 1000;	/* 5000 s behind ours */
	struct fake_peer f;
	struct side b;
	int64_t now;

	side_init(&b, "hostb", "127.0.0.1:0");
	fake_timed_source(&f, &b, 1, 1);
	now = g_get_monotonic_time();
	send_frame_times(&f, 1, 1, (uint64_t)(now + skew), 1000);
	send_frame_times(&f, 1, 2, (uint64_t)(now + skew), 3601u * 1000 * 1000);
	send_frame_times(&f, 1, 3, (uint64_t)(now + skew), UINT32_MAX);
	send_frame_times(&f, 1, 4, (uint64_t)(now + skew - 601LL * 1000 * 1000), 0);
	send_frame_times(&f, 1, 5, (uint64_t)(now + skew), 2000);
	wait_frames(&b, 5);
	check_seqs(&b, 5);
	g_assert_cmpuint(b.timed, ==, 2);		/* 1 and 5 */
	g_assert_cmpuint(vs_tun_get_stats(b.t)->frame_times_rejected, ==, 3);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 0);
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/*
 * A resent frame already received (VS_TUN_SEQ_DUPLICATE) is dropped by the
 * layer above and counted there (tunnel-duplicates): its times are neither
 * a sample of the connection's clock nor counted as frame-times-rejected,
 * whatever they say (docs/control-protocol.md, query-peers).  Here frame 1
 * comes again an hour and more old, and frame 2 again sent 2^62 µs ahead:
 * nothing is counted, and frame 3 is timed as well as frame 1 was.
 */
static void test_frame_times_duplicate(void)
{
	const int64_t skew = 1000LL * 1000 * 1000;
	int64_t before, after;
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	fake_timed_source(&f, &b, 1, 1);
	before = g_get_monotonic_time();
	send_frame_times(&f, 1, 1, (uint64_t)(before + skew), 1000);
	send_frame_times(&f, 1, 2, (uint64_t)(before + skew), 1000);
	send_frame_times(&f, 1, 1, (uint64_t)(before + skew), UINT32_MAX);
	send_frame_times(&f, 1, 2, (uint64_t)(before + skew) + (1ull << 62), 1000);
	send_frame_times(&f, 1, 2, (uint64_t)(before + skew) + (1ull << 62) + 1, 1000);
	send_frame_times(&f, 1, 3, (uint64_t)(g_get_monotonic_time() + skew), 1000);
	wait_frames(&b, 3);
	after = g_get_monotonic_time();
	check_seqs(&b, 3);
	g_assert_cmpuint(b.dups, ==, 3);
	g_assert_cmpuint(b.timed, ==, 3);
	g_assert_cmpint(b.last_arrival_us, >=, before - 1000);
	g_assert_cmpint(b.last_arrival_us, <=, after - 1000);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->frame_times_rejected, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 0);
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/* The clock's estimate (it has one) */
static int64_t clock_offset(const struct tun_clock *k)
{
	int64_t offset = 0;

	g_assert_true(tun_clock_offset(k, &offset));
	return offset;
}

/*
 * The offset is a windowed minimum: a sample leaves the estimate once it
 * is a whole window (VS_TUN_CLOCK_WINDOW_US) old, so clocks that drift
 * apart are followed; a connection idle for a window starts over.  (The
 * glitches, the age bound and the extremes: test_tunnel_clock.c.)
 */
static void test_frame_times_window(void)
{
	const int64_t w = VS_TUN_CLOCK_WINDOW_US, t0 = 1000LL * 1000 * 1000;
	struct tun_clock k = { 0 };
	int64_t offset;

	/* sample = now - sent: 1000 (no estimate yet: its own frame's), then
	 * 1500, which confirms it (within VS_TUN_CLOCK_NEAR_US) */
	g_assert_cmpint(tun_clock_arrival(&k, t0, (uint64_t)(t0 - 1000), 0), ==, t0);
	g_assert_false(tun_clock_offset(&k, &offset));
	g_assert_cmpint(tun_clock_arrival(&k, t0 + w / 6, (uint64_t)(t0 + w / 6 - 1500), 0), ==,
			t0 + w / 6 - 500);
	g_assert_cmpint(clock_offset(&k), ==, 1000);
	/* a new half-window: the old minimum still counts */
	tun_clock_arrival(&k, t0 + w * 7 / 12, (uint64_t)(t0 + w * 7 / 12 - 1600), 0);
	g_assert_cmpint(clock_offset(&k), ==, 1000);
	/* the next: the first half-window's minimum is gone */
	tun_clock_arrival(&k, t0 + w * 7 / 6, (uint64_t)(t0 + w * 7 / 6 - 1700), 0);
	g_assert_cmpint(clock_offset(&k), ==, 1600);
	/* a smaller sample near the others is taken at once */
	tun_clock_arrival(&k, t0 + w * 7 / 6 + 1, (uint64_t)(t0 + w * 7 / 6 + 1 - 900), 0);
	g_assert_cmpint(clock_offset(&k), ==, 900);
	/* idle for over a window: the next samples alone */
	g_assert_cmpint(tun_clock_arrival(&k, t0 + 3 * w, (uint64_t)(t0 + 3 * w - 5000), 7), ==,
			t0 + 3 * w - 7);
	g_assert_false(tun_clock_offset(&k, &offset));
	g_assert_cmpint(tun_clock_arrival(&k, t0 + 3 * w + 1, (uint64_t)(t0 + 3 * w + 1 - 5000),
					  7), ==, t0 + 3 * w + 1 - 7);
	g_assert_cmpint(clock_offset(&k), ==, 5000);
	/* the limits: 600 s late, an hour old, older than our clock */
	g_assert_cmpint(tun_clock_arrival(&k, t0 + 3 * w + 2,
					  (uint64_t)(t0 + 3 * w + 2 - 5000 - 600LL * 1000 * 1000), 0),
			==, t0 + 3 * w + 2 - 600LL * 1000 * 1000);
	g_assert_cmpint(tun_clock_arrival(&k, t0 + 3 * w + 3,
					  (uint64_t)(t0 + 3 * w + 3 - 5001 - 600LL * 1000 * 1000), 0),
			==, 0);
	g_assert_cmpint(tun_clock_arrival(&k, t0 + 3 * w + 4, (uint64_t)(t0 + 3 * w + 4 - 5000),
					  3600u * 1000 * 1000 + 1), ==, 0);
	g_assert_cmpint(tun_clock_arrival(&k, 2000, (uint64_t)(2000 - 5000), 1000), ==, 1000);
	g_assert_cmpint(tun_clock_arrival(&k, 2000, (uint64_t)(2000 - 5000), 2000), ==, 0);
}

/*
 * SOURCE_DIRECT from a destination whose HELLO did not offer source-direct
 * (the fake peer offers no extension): ERROR(PROTOCOL), nothing reported
 */
static void test_source_direct_unnegotiated(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_msg m;
	struct fake_peer f;
	GSocket *ls;
	struct side a;
	struct vs_tun_stream *s;

	side_init(&a, "hosta", "127.0.0.1:0");
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept(&f, ls, "hostb");
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	send_seq(&f, VS_TUN_MSG_VM_ACCEPT, m.u.vm_open.stream_id, 1);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	memset(&m.u, 0, sizeof(m.u));
	m.type = VS_TUN_MSG_SOURCE_DIRECT;
	m.u.source_direct.stream_id = 1;
	m.u.source_direct.af = VS_TUN_SRC_AF_INET;
	m.u.source_direct.addr[0] = 10;
	fp_send(&f, &m);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->protocol_errors, ==, 1);
	g_assert_cmpuint(a.source_directs, ==, 0);
	fp_close(&f);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

/*
 * EXPECT carries the VM's MAC up; the layer above takes it only for its
 * port of that name and MAC, and the tunnel counts one with another MAC
 * (not one for a VM that is not here).  A refused stream is asked again
 * once the destination says EXPECT.
 */
static void test_expect_mac(void)
{
	static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x99 };
	struct vs_tun_stream *s;
	struct side a, b;

	pair_init(&a, &b);
	b.verdict = VS_TUN_REJECT_NOT_EXPECTED;
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	a.retry_stream = s;
	push_frames(s, 5);
	g_assert_true(run_until(rejected, &a, DEADLINE_MS));
	g_assert_cmpint(a.last_reject, ==, VS_TUN_REJECT_NOT_EXPECTED);
	g_assert_cmpuint(vs_tun_stream_retained(s), ==, 5);
	/* another host's "vm1": refused, counted, nothing asked again */
	vs_tun_announce_expect(b.t, VM_NAME, other);
	g_assert_true(run_until(at_least, &(struct count_watch){ &a.expects, 1 }, DEADLINE_MS));
	g_assert_cmpmem(a.last_expect_mac, 6, other, 6);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->expects_refused, ==, 1);
	run_for(100);
	g_assert_cmpuint(b.opens, ==, 1);
	/* a VM this host does not have: not an error (EXPECTs go to every peer) */
	vs_tun_announce_expect(b.t, "vm9", VM_MAC);
	g_assert_true(run_until(at_least, &(struct count_watch){ &a.expects, 2 }, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->expects_refused, ==, 1);
	/* ours: the stream is asked again and goes through */
	b.verdict = VS_TUN_REJECT_NONE;
	vs_tun_announce_expect(b.t, VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->expects_refused, ==, 1);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 5 }, DEADLINE_MS));
	check_seqs(&b, 5);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/*
 * A peer that sends and never reads (PINGs here, whose PONGs pile up)
 * is cut off, and counted, once twice VS_TUN_SEND_QUEUE_MAX waits for it:
 * replies count against the connection's output cap like everything else.
 */
static void test_peer_not_reading(void)
{
	g_autoptr(GByteArray) pings = g_byte_array_new();
	/* TCP_USER_TIMEOUT (the keepalive timeout) would end a connection
	 * whose peer reads nothing too, if it were slower (valgrind) */
	struct vs_tun_cfg cfg = { .node_name = "hostb", .listen = "127.0.0.1:0",
				  .keepalive_timeout_ms = 120000 };
	struct fake_peer f;
	struct side b;
	unsigned int i;
	size_t sent = 0;

	side_init_cfg(&b, &cfg);
	th_log_clear();
	fp_connect(&f, "hosta", vs_tun_listen_port(b.t));
	for (i = 0; i < 4096; i++)
		vs_tun_encode_ping(pings, i);
	/* fp_flush() waits for room, running the loop: b reads, queues PONGs */
	while (!f.tls_err && b.t->conns && sent < 4 * VS_TUN_SEND_QUEUE_MAX) {
		struct vs_tun_msg m = { .type = VS_TUN_MSG_PING };

		/* 4096 PINGs queued, then one more: all go, in records */
		g_byte_array_append(f.out, pings->data, pings->len);
		fp_send(&f, &m);
		sent += pings->len + 16;
	}
	g_assert_true(run_until(at_least, &(struct count_watch){
		(const unsigned int *)&b.peers_down, 1 }, DEADLINE_MS));
	g_assert_null(b.t->conns);	/* closed */
	g_test_message("cut off after %zu bytes of PINGs", sent);
	g_assert_cmpuint(sent, >=, 2 * VS_TUN_SEND_QUEUE_MAX);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->slow_readers, ==, 1);
	g_assert_nonnull(th_log_find("the peer does not read"));
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_INFO);
	th_init();
	g_test_add_func("/tun/rules/accept-bounds", test_accept_bounds);
	g_test_add_func("/tun/rules/reject-seq", test_reject_seq);
	g_test_add_func("/tun/rules/busy", test_busy);
	g_test_add_func("/tun/rules/barrier-end", test_barrier_end);
	g_test_add_func("/tun/rules/direction", test_direction);
	g_test_add_func("/tun/rules/frame-times-unnegotiated", test_frame_times_unnegotiated);
	g_test_add_func("/tun/rules/source-direct-unnegotiated", test_source_direct_unnegotiated);
	g_test_add_func("/tun/rules/frame-times-shared-clock", test_frame_times_shared_clock);
	g_test_add_func("/tun/rules/frame-times-rejected", test_frame_times_rejected);
	g_test_add_func("/tun/rules/frame-times-duplicate", test_frame_times_duplicate);
	g_test_add_func("/tun/rules/frame-times-window", test_frame_times_window);
	g_test_add_func("/tun/rules/expect-mac", test_expect_mac);
	g_test_add_func("/tun/rules/peer-not-reading", test_peer_not_reading);
	rc = g_test_run();
	th_fini();
	return rc;
}
