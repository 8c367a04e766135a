/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_source_barrier.c - SOURCE_BARRIER in the tunnel: the source's
 * per-stream queue of barriers, the destination's callback, and the rules
 * a peer must keep (docs/tunnel-protocol.md 3.13)
 *
 * Theory of operation: tun_harness.h.  Two real tunnels on loopback for
 * what a source and a destination do together (a barrier arrives after the
 * frames it names, behind a full output queue and across a reconnect, and
 * only where both HELLOs offered source-barrier); a scripted peer (struct
 * fake_peer) for each rule the receiver enforces: not negotiated (also by
 * a peer that offered nothing), ahead of the frames received, the wrong
 * way.
 */
#include <string.h>

#include <gio/gio.h>

#include "log.h"
#include "tun_harness.h"

#define BOTH_EXT	(VS_TUN_HELLO_EXT_SOURCE_DIRECT | VS_TUN_HELLO_EXT_SOURCE_BARRIER)

static const uint8_t v4[16] = { 10, 77, 0, 11 };

/* --- two tunnels ------------------------------------------------------------ */

static bool got_barriers(void *arg)
{
	const struct side *sd = arg;

	return sd->source_barriers >= sd->want_barriers;
}

/* "hosta" and "hostb", each offering source-barrier as @a_on/@b_on say */
static void barrier_pair(struct side *a, struct side *b, bool a_on, bool b_on)
{
	pair_init(a, b);
	vs_tun_set_source_barrier(a->t, a_on);
	vs_tun_set_source_barrier(b->t, b_on);
}

/*
 * Both offer source-barrier: a barrier names the last frame pushed and
 * reaches the destination's callback after it, with its address; one
 * asked before any frame names 0.  Either side without it (an older peer,
 * or the default): -1, and nothing is sent.
 */
static void test_source_barrier(void)
{
	static const uint8_t v6[16] = { 0xfe, 0x80, [15] = 1 };
	struct vs_tun_stream *s;
	struct side a, b;
	unsigned int off;

	barrier_pair(&a, &b, true, true);
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	g_assert_true(vs_tun_stream_source_barrier_ok(s));
	g_assert_true(vs_tun_in_source_barrier_ok(b.in));
	g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET6, v6), ==, 0);
	push_frames(s, 5);
	g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4), ==, 5);
	b.want_barriers = 2;
	g_assert_true(run_until(got_barriers, &b, DEADLINE_MS));
	g_assert_cmpuint(b.last_barrier_seq, ==, 5);
	g_assert_cmpuint(b.last_barrier_frames, ==, 5);
	g_assert_cmpuint(b.last_barrier_af, ==, VS_TUN_SRC_AF_INET);
	g_assert_cmpmem(b.last_barrier_addr, 16, v4, 16);
	/* the stream goes on: a barrier is not an END */
	push_frames(s, 2);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 7 }, DEADLINE_MS));
	check_seqs(&b, 7);
	g_assert_nonnull(b.in);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_END], ==, 0);
	/* an address the codec refuses is refused here */
	g_assert_cmpint(vs_tun_stream_source_barrier(s, 5, v4), ==, -1);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);

	/* one side without it, or source-direct off: never sent */
	for (off = 0; off < 3; off++) {
		barrier_pair(&a, &b, off != 0, off != 1);
		if (off == 2)
			vs_tun_set_source_direct(a.t, false);	/* no report, no barrier */
		s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
		g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
		push_frames(s, 3);
		g_assert_false(vs_tun_stream_source_barrier_ok(s));
		g_assert_false(vs_tun_in_source_barrier_ok(b.in));
		g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4), ==, -1);
		g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 3 }, DEADLINE_MS));
		run_for(100);
		g_assert_cmpuint(b.source_barriers, ==, 0);
		g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 0);
		vs_tun_stream_close(s, false);
		pair_fini(&a, &b);
	}
	/* no stream at all, or none accepted yet: -1 */
	g_assert_cmpint(vs_tun_stream_source_barrier(NULL, VS_TUN_SRC_AF_INET, v4), ==, -1);
	barrier_pair(&a, &b, true, true);
	b.verdict = VS_TUN_REJECT_BUSY;
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4), ==, -1);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/* MANY frames of BIG bytes: more than the output queue and the socket take */
#define MANY	2000
#define BIG	8192

/*
 * A barrier asked for while frames still wait for room in the output queue
 * goes behind the last of them, never ahead; and one not written when the
 * connection goes follows the frames resent on the next one.
 */
static void test_source_barrier_backlog(void)
{
	struct vs_tun_stream *s;
	struct side a, b;
	unsigned int cut_it;

	for (cut_it = 0; cut_it < 2; cut_it++) {
		barrier_pair(&a, &b, true, true);
		s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
		g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
		push_frames_len(s, MANY, BIG);
		g_assert_cmpuint(s->send_seq, <, MANY);		/* some still wait for room */
		g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4), ==, MANY);
		if (cut_it) {
			cut(out_conn(&a, "hostb"));
			g_assert_true(run_until(stream_down, s, DEADLINE_MS));
		}
		b.want_barriers = 1;
		g_assert_true(run_until(got_barriers, &b, 4 * DEADLINE_MS));
		g_assert_cmpuint(b.last_barrier_seq, ==, MANY);
		g_assert_cmpuint(b.last_barrier_frames, ==, MANY);
		check_seqs(&b, MANY);
		g_assert_cmpuint(b.dups, ==, 0);
		g_assert_cmpuint(a.out_events[VS_TUN_OUT_INTERRUPTED], ==, cut_it);
		run_for(50);
		g_assert_cmpuint(b.source_barriers, ==, 1);	/* once */
		vs_tun_stream_close(s, false);
		pair_fini(&a, &b);
	}
}

/* --- a scripted peer ---------------------------------------------------------- */

/* The fake destination answers the VM_OPEN on its connection: resume at @next */
static uint32_t accept_stream(struct fake_peer *f, uint64_t next)
{
	struct vs_tun_msg m;
	struct vs_tun_msg acc = { .type = VS_TUN_MSG_VM_ACCEPT };

	g_assert_true(fp_recv_type(f, VS_TUN_MSG_VM_OPEN, &m));
	acc.u.vm_accept.stream_id = m.u.vm_open.stream_id;
	acc.u.vm_accept.next_expected_seq = next;
	fp_send(f, &acc);
	return m.u.vm_open.stream_id;
}

/*
 * Review 53 R1: a SOURCE_BARRIER written into the connection's output
 * queue, behind its frame, but not yet on the socket when the connection
 * goes, is lost with it unless kept: the destination (a fake that reads
 * nothing on the first connection) accepts the stream again from 1, and
 * the barrier must follow the resent frames, once.  A barrier whose next
 * frame the destination has received arrived too, and is not repeated.
 */
static void test_source_barrier_written_lost(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct vs_tun_msg m;
	struct side a;
	uint64_t last = 0, frames = 0, barrier_at = 0;
	unsigned int barriers = 0;
	int64_t named;
	GSocket *ls;

	side_init(&a, "hosta", "127.0.0.1:0");
	vs_tun_set_source_barrier(a.t, true);
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
	accept_stream(&f, 1);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	/* the fake reads nothing more: frames fill the socket, then the
	 * output queue; stop while every frame is in the queue */
	while (tun_conn_queued(out_conn(&a, "hostb")) == 0 && s->next_seq < MANY)
		push_frames_len(s, 1, BIG);
	g_assert_cmpuint(tun_conn_queued(out_conn(&a, "hostb")), >, 0);
	g_assert_cmpuint(s->send_seq, ==, s->next_seq);	/* none held back */
	named = vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4);
	g_assert_cmpint(named, ==, (int64_t)s->next_seq - 1);
	g_assert_cmpuint(g_queue_get_length(&s->src_barriers), ==, 0);	/* written */
	fp_close(&f);			/* gone, its input unread */
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	/* the next connection: the destination has nothing, resend from 1 */
	fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
	accept_stream(&f, 1);
	while (fp_recv(&f, &m, DEADLINE_MS)) {
		if (m.type == VS_TUN_MSG_FRAME) {
			g_assert_cmpuint(m.u.frame.seq, ==, last + 1);
			last = m.u.frame.seq;
			frames++;
		} else if (m.type == VS_TUN_MSG_SOURCE_BARRIER) {
			g_assert_cmpuint(m.u.source_barrier.last_seq, ==, (uint64_t)named);
			g_assert_cmpmem(m.u.source_barrier.addr, 16, v4, 16);
			barrier_at = last;
			barriers++;
		}
		if (barriers && last >= (uint64_t)named)
			break;
	}
	g_assert_cmpuint(frames, ==, (uint64_t)named);
	g_assert_cmpuint(barriers, ==, 1);
	g_assert_cmpuint(barrier_at, ==, (uint64_t)named);	/* right behind its frame */
	/* the frame after it acked: the destination has the barrier, and a
	 * third connection that resumes behind it gets no copy */
	push_frames(s, 1);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_FRAME, &m));
	g_assert_cmpuint(m.u.frame.seq, ==, (uint64_t)named + 1);
	{
		struct vs_tun_msg ack = { .type = VS_TUN_MSG_ACK };

		ack.u.ack.stream_id = s->stream_id;
		ack.u.ack.seq = (uint64_t)named + 1;
		fp_send(&f, &ack);
	}
	g_assert_true(run_until(acked_all, s, DEADLINE_MS));
	g_assert_cmpuint(g_queue_get_length(&s->src_barriers_written), ==, 0);
	fp_close(&f);
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
	accept_stream(&f, (uint64_t)named + 2);
	push_frames(s, 1);
	g_assert_true(fp_recv(&f, &m, DEADLINE_MS));
	while (m.type != VS_TUN_MSG_FRAME) {	/* ACKs, keepalives: no barrier */
		g_assert_cmpint(m.type, !=, VS_TUN_MSG_SOURCE_BARRIER);
		g_assert_true(fp_recv(&f, &m, DEADLINE_MS));
	}
	g_assert_cmpuint(m.u.frame.seq, ==, (uint64_t)named + 2);
	g_assert_false(fp_recv_type(&f, VS_TUN_MSG_SOURCE_BARRIER, &m));
	fp_close(&f);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

/* struct vs_tun_stream's acked has reached seq */
struct want_acked {
	const struct vs_tun_stream *s;
	uint64_t seq;
};

static bool acked_through(void *arg)
{
	const struct want_acked *w = arg;

	return w->s->acked >= w->seq;
}

/* @seq relative to @S, as "S-1", "S", "S+1" */
static void trace_seq(GString *trace, const char *fmt, uint64_t seq, uint64_t S)
{
	g_autofree char *rel = seq == S ? g_strdup("S")
					: g_strdup_printf("S%+" G_GINT64_FORMAT, (gint64)(seq - S));

	g_string_append_printf(trace, fmt, rel);
}

/*
 * The fake destination reads up to frame @until, and on until it has
 * seen @barriers SOURCE_BARRIERs (or a deadline): frames in order from
 * @last + 1; from frame @from on, frames and barriers go into @trace as
 * " S-1 S B(S) S+1 ...", relative to @S (ACKs, keepalives skipped).
 * Returns the last frame read.
 */
static uint64_t read_trace(struct fake_peer *f, GString *trace, uint64_t last, uint64_t from,
			   uint64_t S, uint64_t until, unsigned int barriers)
{
	unsigned int seen = 0;
	struct vs_tun_msg m;

	while ((last < until || seen < barriers) && fp_recv(f, &m, DEADLINE_MS)) {
		if (m.type == VS_TUN_MSG_FRAME) {
			g_assert_cmpuint(m.u.frame.seq, ==, last + 1);
			last = m.u.frame.seq;
			if (last >= from)
				trace_seq(trace, " %s", last, S);
		} else if (m.type == VS_TUN_MSG_SOURCE_BARRIER) {
			g_assert_cmpmem(m.u.source_barrier.addr, 16, v4, 16);
			trace_seq(trace, " B(%s)", m.u.source_barrier.last_seq, S);
			seen++;
		}
	}
	g_assert_cmpuint(last, >=, until);
	return last;
}

/*
 * Review 63 F5: a SOURCE_BARRIER goes right behind its frame S and ahead
 * of S + 1, even when S, S + 1 and S + 2 all wait for room in the output
 * queue and are written together once it drains.  The source frees a
 * written barrier once a frame after it is acked (the destination has it:
 * tun_stream_acked_source_barriers()), which holds only in that order: a
 * destination (a fake) that reads up to S + 1, acks it and goes must have
 * had the barrier, and the next connection, resuming at S + 2, brings no
 * copy.
 */
static void test_source_barrier_behind_its_frame(void)
{
	static const char *const want[] = {
		"S-1 S B(S) S+1 S+2",		/* read on */
		"S-1 S B(S) S+1 | S+2 S+3",	/* S + 1 acked, then a reconnect */
	};
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct side a;
	unsigned int cut_it;
	uint32_t id;
	uint64_t S, last;
	GSocket *ls;

	for (cut_it = 0; cut_it < 2; cut_it++) {
		g_autoptr(GString) trace = g_string_new(NULL);

		side_init(&a, "hosta", "127.0.0.1:0");
		vs_tun_set_source_barrier(a.t, true);
		g_free(addr);
		addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
		g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
		s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
		fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
		id = accept_stream(&f, 1);
		g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
		/* nothing runs the loop: the output queue fills, and the
		 * last frame pushed, S, waits for room */
		while (s->send_seq == s->next_seq && s->next_seq < MANY)
			push_frames_len(s, 1, BIG);
		S = s->next_seq - 1;
		g_assert_cmpuint(s->send_seq, ==, S);
		g_assert_cmpint(vs_tun_stream_source_barrier(s, VS_TUN_SRC_AF_INET, v4), ==,
				(int64_t)S);
		push_frames_len(s, 2, BIG);			/* S + 1, S + 2 wait too */
		g_assert_cmpuint(s->send_seq, ==, S);
		g_assert_cmpuint(g_queue_get_length(&s->src_barriers), ==, 1);
		last = read_trace(&f, trace, 0, S - 1, S, cut_it ? S + 1 : S + 2, !cut_it);
		if (cut_it) {
			struct vs_tun_msg ack = { .type = VS_TUN_MSG_ACK };

			ack.u.ack.stream_id = id;
			ack.u.ack.seq = S + 1;
			fp_send(&f, &ack);
			g_assert_true(run_until(acked_through, &(struct want_acked){ s, S + 1 },
						DEADLINE_MS));
			fp_close(&f);			/* gone, the rest unread */
			g_assert_true(run_until(stream_down, s, DEADLINE_MS));
			fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
			accept_stream(&f, S + 2);
			push_frames(s, 1);		/* S + 3 */
			g_string_append(trace, " |");
			read_trace(&f, trace, last, S + 2, S, S + 3, 0);
		}
		g_assert_cmpstr(trace->str + 1, ==, want[cut_it]);
		g_assert_cmpuint(g_queue_get_length(&s->src_barriers), ==, 0);
		fp_close(&f);
		vs_tun_stream_close(s, false);
		side_fini(&a);
		g_socket_close(ls, NULL);
		g_object_unref(ls);
		drain_loop();
	}
}

static void send_barrier(struct fake_peer *fp, uint32_t id, uint64_t last_seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_SOURCE_BARRIER };

	m.u.source_barrier.stream_id = id;
	m.u.source_barrier.last_seq = last_seq;
	m.u.source_barrier.af = VS_TUN_SRC_AF_INET;
	memcpy(m.u.source_barrier.addr, v4, 16);
	fp_send(fp, &m);
}

/* A fake source offering @ext opens stream 1 on @b, which has @want_next */
static void fake_source(struct fake_peer *f, struct side *b, uint32_t ext, uint64_t want_next)
{
	fp_connect_ext(f, "hosta", vs_tun_listen_port(b->t), ext);
	fp_open_stream(f, 1, 1, want_next);
}

/*
 * SOURCE_BARRIER where the two HELLOs did not both offer source-barrier
 * (the source's lacks it; then the destination's, its default):
 * ERROR(PROTOCOL), counted, nothing reaches the callback
 */
static void test_source_barrier_unnegotiated(void)
{
	struct fake_peer f;
	struct side b;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		side_init(&b, "hostb", "127.0.0.1:0");
		vs_tun_set_source_barrier(b.t, i == 0);
		fake_source(&f, &b, i == 0 ? VS_TUN_HELLO_EXT_SOURCE_DIRECT : BOTH_EXT, 1);
		fp_send_frame(&f, 1, 1, VS_TUN_ORIGIN_STRAGGLER);
		send_barrier(&f, 1, 1);
		g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
		fp_close(&f);
		g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 1);
		g_assert_cmpuint(b.source_barriers, ==, 0);
		side_fini(&b);
		drain_loop();
	}
}

/*
 * A source that offered no extension at all (an older one, or one that
 * lies) sends SOURCE_BARRIER anyway, to a destination that offers it: on
 * its open stream, or on one that is not open (which, negotiated, would be
 * ignored).  Either is refused as a message sent the wrong way is (here
 * an ACK from the source): ERROR(PROTOCOL), one protocol error counted,
 * the connection closed and its stream CLOSED, nothing reaching the
 * callback.  The log line tells which check refused it.
 */
static void test_source_barrier_no_extensions(void)
{
	static const struct {
		enum vs_tun_type type;
		uint32_t stream_id;
		const char *log;
	} cases[] = {
		{ VS_TUN_MSG_SOURCE_BARRIER, 1, "SOURCE_BARRIER without the source-barrier extension" },
		{ VS_TUN_MSG_SOURCE_BARRIER, 9, "SOURCE_BARRIER without the source-barrier extension" },
		{ VS_TUN_MSG_ACK, 1, "ACK on a connection we accepted" },	/* the reference */
	};
	struct fake_peer f;
	struct side b;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		side_init(&b, "hostb", "127.0.0.1:0");
		vs_tun_set_source_barrier(b.t, true);
		th_log_clear();
		fake_source(&f, &b, 0, 1);
		fp_send_frame(&f, 1, 1, VS_TUN_ORIGIN_STRAGGLER);
		if (cases[i].type == VS_TUN_MSG_SOURCE_BARRIER) {
			send_barrier(&f, cases[i].stream_id, 1);
		} else {
			struct vs_tun_msg m = { .type = cases[i].type };

			m.u.ack.stream_id = cases[i].stream_id;
			m.u.ack.seq = 1;
			fp_send(&f, &m);
		}
		g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
		g_assert_true(fp_wait_eof(&f, DEADLINE_MS));
		g_assert_true(run_until(at_least, &(struct count_watch){
			&b.in_events[VS_TUN_IN_CLOSED], 1 }, DEADLINE_MS));
		g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 1);
		g_assert_null(b.t->conns);
		check_seqs(&b, 1);
		g_assert_cmpuint(b.source_barriers, ==, 0);
		g_assert_nonnull(th_log_find(cases[i].log));
		fp_close(&f);
		side_fini(&b);
		drain_loop();
	}
}

/*
 * SOURCE_BARRIER(S) promises every frame <= S came before it, as BARRIER:
 * S beyond what arrived is ERROR(PROTOCOL); S up to it reaches the
 * callback and the stream stays open (unlike END).  One for a stream that
 * is not open on the connection is ignored, as BARRIER.
 */
static void test_source_barrier_ahead(void)
{
	struct fake_peer f;
	struct side b;
	uint64_t i;

	side_init(&b, "hostb", "127.0.0.1:0");
	vs_tun_set_source_barrier(b.t, true);
	fake_source(&f, &b, BOTH_EXT, 1);
	for (i = 1; i <= 3; i++)
		fp_send_frame(&f, 1, i, VS_TUN_ORIGIN_STRAGGLER);
	send_barrier(&f, 1, 4);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	check_seqs(&b, 3);
	g_assert_cmpuint(b.source_barriers, ==, 0);
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b.in_events[VS_TUN_IN_CLOSED], 1 }, DEADLINE_MS));

	fake_source(&f, &b, BOTH_EXT, 4);
	send_barrier(&f, 9, 1);			/* no such stream: ignored */
	send_barrier(&f, 1, 3);			/* == received */
	b.want_barriers = 1;
	g_assert_true(run_until(got_barriers, &b, DEADLINE_MS));
	g_assert_cmpuint(b.last_barrier_seq, ==, 3);
	g_assert_cmpuint(b.last_barrier_af, ==, VS_TUN_SRC_AF_INET);
	g_assert_cmpmem(b.last_barrier_addr, 16, v4, 16);
	send_barrier(&f, 1, 0);			/* below: allowed */
	fp_send_frame(&f, 1, 4, VS_TUN_ORIGIN_STRAGGLER);	/* still open */
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 4 }, DEADLINE_MS));
	check_seqs(&b, 4);
	g_assert_cmpuint(b.source_barriers, ==, 2);
	g_assert_nonnull(b.in);
	g_assert_cmpuint(b.in_events[VS_TUN_IN_END], ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->protocol_errors, ==, 1);
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/*
 * SOURCE_BARRIER goes source -> destination: one from the destination (on
 * a connection the source dialled), even with the extension offered, is
 * ERROR(PROTOCOL)
 */
static void test_source_barrier_direction(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct vs_tun_msg m;
	struct side a;
	GSocket *ls;

	side_init(&a, "hosta", "127.0.0.1:0");
	vs_tun_set_source_barrier(a.t, true);
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept_ext(&f, ls, "hostb", BOTH_EXT);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_OPEN, &m));
	send_barrier(&f, m.u.vm_open.stream_id, 0);
	g_assert_cmpint(fp_expect_error(&f, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	fp_close(&f);
	g_assert_cmpuint(vs_tun_get_stats(a.t)->protocol_errors, ==, 1);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_INFO);
	th_init();
	g_test_add_func("/tun/transport/source-barrier", test_source_barrier);
	g_test_add_func("/tun/transport/source-barrier-backlog", test_source_barrier_backlog);
	g_test_add_func("/tun/transport/source-barrier-written-lost",
			test_source_barrier_written_lost);
	g_test_add_func("/tun/transport/source-barrier-behind-its-frame",
			test_source_barrier_behind_its_frame);
	g_test_add_func("/tun/rules/source-barrier-unnegotiated", test_source_barrier_unnegotiated);
	g_test_add_func("/tun/rules/source-barrier-no-extensions",
			test_source_barrier_no_extensions);
	g_test_add_func("/tun/rules/source-barrier-ahead", test_source_barrier_ahead);
	g_test_add_func("/tun/rules/source-barrier-direction", test_source_barrier_direction);
	rc = g_test_run();
	th_fini();
	return rc;
}
