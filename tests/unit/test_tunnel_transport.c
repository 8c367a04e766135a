/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_transport.c - the tunnel transport (tunnel.h), two real
 * tunnels on loopback in one process and one GMainContext (the default)
 *
 * Theory of operation: each test builds two struct vs_tun, "hosta" and
 * "hostb", sharing a pre-shared key, each listening on 127.0.0.1 at a port
 * the kernel picks and knowing the other as a peer.  Above each is a fake
 * upper layer (struct side) that records every callback the tunnel makes
 * and plays a destination's handover: it accepts streams for one VM
 * ("vm1", VM_MAC) and keeps the frames it gets.  The tests drive the main
 * loop until a condition holds (run_until()), with a deadline, so a bug
 * fails a check instead of hanging.  Real sockets, real codec, real
 * handshake; no EAL, no QEMU.  White-box where a test needs to reach a
 * connection (tunnel_priv.h), e.g. to cut it.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

#define VM_NAME		"vm1"
#define FRAME_LEN	64
#define DEADLINE_MS	5000

static const uint8_t VM_MAC[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };

/* One tunnel and the fake upper layer above it */
struct side {
	const char *name;
	struct vs_tun *t;
	/* destination: what stream_open answers */
	enum vs_tun_reject verdict;
	uint64_t next_expected;		/* first seq not received (the handover's) */
	struct vs_tun_in *in;
	unsigned int opens;
	GArray *seqs;			/* uint64_t: every new frame, in arrival order */
	uint64_t dups;
	bool frame_bad;			/* a frame's bytes did not match its seq */
	unsigned int in_events[VS_TUN_IN_NUM_EVENTS];
	uint64_t in_event_seq[VS_TUN_IN_NUM_EVENTS];
	/* source */
	unsigned int out_events[VS_TUN_OUT_NUM_EVENTS];
	enum vs_tun_reject last_reject;
	/* automatic mode */
	unsigned int expects;
	bool expect_answer;
	/* peers */
	unsigned int peers_up, peers_down;
	char last_ports[64];
};

static char *key_path;

/* --- the fake upper layer -------------------------------------------------- */

static enum vs_tun_reject cb_stream_open(void *opaque, struct vs_tun_in *in, const char *vm,
					 const uint8_t mac[6], const char *peer,
					 uint64_t *next_expected, GError **error)
{
	struct side *sd = opaque;

	sd->opens++;
	if (strcmp(vm, VM_NAME)) {
		g_set_error(error, VS_TUN_ERROR, 0, "no port %s", vm);
		return VS_TUN_REJECT_UNKNOWN_VM;
	}
	if (sd->verdict != VS_TUN_REJECT_NONE) {
		g_set_error(error, VS_TUN_ERROR, 0, "refused by the test");
		return sd->verdict;
	}
	sd->in = in;
	*next_expected = sd->next_expected;
	return VS_TUN_REJECT_NONE;
}

static void frame_fill(uint8_t *buf, uint64_t seq)
{
	memset(buf, 0, FRAME_LEN);
	memcpy(buf, VM_MAC, 6);
	memcpy(buf + 14, &seq, sizeof(seq));
	buf[FRAME_LEN - 1] = (uint8_t)(seq * 7);
}

static void cb_frame(void *opaque, struct vs_tun_in *in, const char *vm, uint64_t seq,
		     uint8_t origin, const uint8_t *data, uint32_t len)
{
	struct side *sd = opaque;
	uint8_t want[FRAME_LEN];

	if (seq < sd->next_expected) {
		sd->dups++;
		return;
	}
	frame_fill(want, seq);
	if (len != FRAME_LEN || memcmp(data, want, FRAME_LEN) || seq != sd->next_expected)
		sd->frame_bad = true;
	sd->next_expected = seq + 1;
	g_array_append_val(sd->seqs, seq);
}

static void cb_in_event(void *opaque, struct vs_tun_in *in, const char *vm,
			enum vs_tun_in_event ev, uint64_t seq)
{
	struct side *sd = opaque;

	sd->in_events[ev]++;
	sd->in_event_seq[ev] = seq;
	if (ev != VS_TUN_IN_BARRIER && sd->in == in)
		sd->in = NULL;
}

static void cb_out_event(void *opaque, struct vs_tun_stream *s, const char *vm,
			 enum vs_tun_out_event ev, enum vs_tun_reject reason)
{
	struct side *sd = opaque;

	sd->out_events[ev]++;
	if (ev == VS_TUN_OUT_REJECTED)
		sd->last_reject = reason;
}

static bool cb_expect(void *opaque, const char *vm, const uint8_t mac[6], const char *peer)
{
	struct side *sd = opaque;

	sd->expects++;
	return sd->expect_answer;
}

static void cb_peer_event(void *opaque, const struct vs_tun_peer_event *ev)
{
	struct side *sd = opaque;
	g_autofree char *ports = g_strjoinv(",", (char **)ev->ports);

	if (ev->up)
		sd->peers_up++;
	else
		sd->peers_down++;
	g_strlcpy(sd->last_ports, ports, sizeof(sd->last_ports));
}

static const struct vs_tun_ops test_ops = {
	.stream_open = cb_stream_open,
	.frame = cb_frame,
	.in_event = cb_in_event,
	.out_event = cb_out_event,
	.expect = cb_expect,
	.peer_event = cb_peer_event,
};

/* --- the fixture ----------------------------------------------------------- */

static void side_init(struct side *sd, const char *name, const char *listen)
{
	g_autoptr(GError) err = NULL;
	const struct vs_tun_cfg cfg = {
		.node_name = name,
		.listen = listen,
		.key_file = key_path,
	};

	memset(sd, 0, sizeof(*sd));
	sd->name = name;
	sd->next_expected = 1;
	sd->expect_answer = true;
	sd->seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	sd->t = vs_tun_new(&cfg, &test_ops, sd, &err);
	g_assert_no_error(err);
	g_assert_nonnull(sd->t);
}

static void side_fini(struct side *sd)
{
	vs_tun_free(sd->t);
	sd->t = NULL;
	g_array_unref(sd->seqs);
}

static char *addr_of(struct side *sd)
{
	return g_strdup_printf("127.0.0.1:%u", vs_tun_listen_port(sd->t));
}

/* hosta and hostb, each the other's peer */
static void pair_init(struct side *a, struct side *b)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *aa = NULL, *ba = NULL;

	side_init(a, "hosta", "127.0.0.1:0");
	side_init(b, "hostb", "127.0.0.1:0");
	aa = addr_of(a);
	ba = addr_of(b);
	g_assert_true(vs_tun_add_peer(a->t, "hostb", ba, &err));
	g_assert_true(vs_tun_add_peer(b->t, "hosta", aa, &err));
	g_assert_no_error(err);
}

/* Let the connections freed from idle callbacks go */
static void drain_loop(void)
{
	gint64 end = g_get_monotonic_time() + 50 * 1000;

	while (g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE);
}

static void pair_fini(struct side *a, struct side *b)
{
	side_fini(a);
	side_fini(b);
	drain_loop();
}

typedef bool (*cond_fn)(void *arg);

/* Run the default main context until @cond holds or @ms pass */
static bool run_until(cond_fn cond, void *arg, unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (!cond(arg)) {
		if (g_get_monotonic_time() >= end)
			return false;
		g_main_context_iteration(NULL, FALSE);
		if (!cond(arg))
			g_usleep(200);
	}
	return true;
}

static void run_for(unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(200);
	}
}

static bool stream_connected(void *arg)
{
	return vs_tun_stream_connected(arg);
}

static bool stream_down(void *arg)
{
	return !vs_tun_stream_connected(arg);
}

struct count_watch {
	const unsigned int *counter;
	unsigned int n;
};

static bool at_least(void *arg)
{
	const struct count_watch *cw = arg;

	return *cw->counter >= cw->n;
}

struct want_frames {
	struct side *sd;
	guint n;
};

static bool got_frames(void *arg)
{
	struct want_frames *w = arg;

	return w->sd->seqs->len >= w->n;
}

static bool acked_all(void *arg)
{
	struct vs_tun_stream *s = arg;

	return s->acked + 1 == s->next_seq;
}

static bool retained_none(void *arg)
{
	return vs_tun_stream_retained(arg) == 0;
}

static void push_frames(struct vs_tun_stream *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint8_t buf[FRAME_LEN];

		frame_fill(buf, s->next_seq);
		vs_tun_stream_push(s, VS_TUN_ORIGIN_BLACKOUT, buf, FRAME_LEN);
	}
}

/* Every seq 1..@n received once, in order, with the right bytes */
static void check_seqs(struct side *sd, uint64_t n)
{
	guint i;

	g_assert_false(sd->frame_bad);
	g_assert_cmpuint(sd->seqs->len, ==, n);
	for (i = 0; i < sd->seqs->len; i++)
		g_assert_cmpuint(g_array_index(sd->seqs, uint64_t, i), ==, i + 1);
}

/* The connection hosta dialled to hostb */
static struct tun_conn *out_conn(struct side *a)
{
	return tun_find_peer(a->t, "hostb")->conn;
}

/* Cut a connection as a reset would: both ends see it go */
static void cut(struct tun_conn *c)
{
	g_assert_nonnull(c);
	shutdown(g_socket_get_fd(c->sock), SHUT_RDWR);
}

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
	memset(&c, 0, sizeof(c));
	c.seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	cfg.key_file = other;
	c.t = vs_tun_new(&cfg, &test_ops, &c, &err);
	g_assert_no_error(err);
	ba = addr_of(&b);
	g_assert_true(vs_tun_add_peer(c.t, "hostb", ba, &err));
	s = vs_tun_stream_open(c.t, "hostb", VM_NAME, VM_MAC);
	run_for(400);
	g_assert_false(vs_tun_stream_connected(s));
	g_assert_cmpuint(b.opens, ==, 0);
	g_assert_cmpuint(b.peers_up, ==, 0);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->auth_failures, >=, 1);
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
	cut(out_conn(&a));
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
	cut(out_conn(&a));
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

static char *make_key(void)
{
	g_autofree char *path = g_build_filename(g_get_tmp_dir(), "vshim-tun-key-XXXXXX", NULL);
	int fd = g_mkstemp_full(path, O_WRONLY, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
			      65), ==, 65);
	close(fd);
	return g_steal_pointer(&path);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_ERR);
	key_path = make_key();
	g_test_add_func("/tun/transport/handshake", test_handshake);
	g_test_add_func("/tun/transport/wrong-key", test_wrong_key);
	g_test_add_func("/tun/transport/stream-ack-trim", test_stream_ack_trim);
	g_test_add_func("/tun/transport/cut-resume", test_cut_resume);
	g_test_add_func("/tun/transport/cut-restarted-destination",
			test_cut_restarted_destination);
	g_test_add_func("/tun/transport/reconnect-backoff", test_reconnect_backoff);
	rc = g_test_run();
	g_unlink(key_path);
	g_free(key_path);
	return rc;
}
