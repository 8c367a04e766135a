/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_harness.c - fixtures of the tunnel transport's unit tests
 *
 * Theory of operation: see tun_harness.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tun_harness.h"
#include "tunnel_tls.h"

const uint8_t VM_MAC[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
char *th_key_path;
uint8_t th_psk[VS_TUN_PSK_MAX];
size_t th_psk_len;

/* --- log lines -------------------------------------------------------------- */

static GPtrArray *th_log_lines;
static GLogFunc th_log_next;		/* GTest's handler */

/* Keep every line of the code under test; show them only with --verbose */
static void th_log_handler(const char *domain, GLogLevelFlags level, const char *msg,
			   gpointer data)
{
	if (th_log_lines)
		g_ptr_array_add(th_log_lines, g_strdup(msg));
	if (g_test_verbose() || (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
					  G_LOG_LEVEL_WARNING)))
		th_log_next(domain, level, msg, data);
}

void th_log_clear(void)
{
	g_ptr_array_set_size(th_log_lines, 0);
}

const char *th_log_find(const char *needle)
{
	guint i;

	for (i = 0; i < th_log_lines->len; i++)
		if (strstr(g_ptr_array_index(th_log_lines, i), needle))
			return g_ptr_array_index(th_log_lines, i);
	return NULL;
}

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

void frame_fill(uint8_t *buf, uint64_t seq)
{
	memset(buf, 0, FRAME_LEN);
	memcpy(buf, VM_MAC, 6);
	memcpy(buf + 14, &seq, sizeof(seq));
	buf[FRAME_LEN - 1] = (uint8_t)(seq * 7);
}

void frame_msg(struct vs_tun_msg *m, uint8_t buf[FRAME_LEN], uint32_t id, uint64_t seq,
	       enum vs_tun_origin origin)
{
	memset(m, 0, sizeof(*m));
	frame_fill(buf, seq);
	m->type = VS_TUN_MSG_FRAME;
	m->u.frame.stream_id = id;
	m->u.frame.seq = seq;
	m->u.frame.origin = (uint8_t)origin;
	m->u.frame.data = buf;
	m->u.frame.len = FRAME_LEN;
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
	if (len < FRAME_LEN || memcmp(data, want, FRAME_LEN) || seq != sd->next_expected)
		sd->frame_bad = true;
	sd->next_expected = seq + 1;
	sd->last_arrival_us = vs_tun_in_frame_arrival_us(in);
	sd->timed += !!sd->last_arrival_us;
	g_array_append_val(sd->seqs, seq);
}

static void cb_in_event(void *opaque, struct vs_tun_in *in, const char *vm,
			enum vs_tun_in_event ev, uint64_t seq)
{
	struct side *sd = opaque;

	sd->in_events[ev]++;
	sd->in_event_seq[ev] = seq;
	sd->in_event_frames[ev] = sd->seqs->len;
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

static void cb_source_direct(void *opaque, struct vs_tun_stream *s, const char *vm,
			     uint8_t af, const uint8_t addr[16])
{
	struct side *sd = opaque;

	sd->source_directs++;
	sd->last_direct_af = af;
	memcpy(sd->last_direct_addr, addr, 16);
}

static void cb_source_barrier(void *opaque, struct vs_tun_in *in, const char *vm,
			      uint64_t last_seq, uint8_t af, const uint8_t addr[16])
{
	struct side *sd = opaque;

	sd->source_barriers++;
	sd->last_barrier_seq = last_seq;
	sd->last_barrier_frames = sd->seqs->len;
	sd->last_barrier_af = af;
	memcpy(sd->last_barrier_addr, addr, 16);
}

static bool cb_expect(void *opaque, const char *vm, const uint8_t mac[6], const char *peer)
{
	struct side *sd = opaque;

	sd->expects++;
	memcpy(sd->last_expect_mac, mac, 6);
	if (strcmp(vm, VM_NAME))
		return true;		/* not here: not an error */
	if (memcmp(mac, VM_MAC, 6))
		return false;
	if (sd->retry_stream)
		vs_tun_stream_retry(sd->retry_stream, peer);
	return true;
}

static void cb_peer_event(void *opaque, const struct vs_tun_peer_event *ev)
{
	struct side *sd = opaque;
	g_autofree char *ports = g_strjoinv(",", (char **)ev->ports);

	if (ev->up) {
		sd->peers_up++;
	} else {
		sd->peers_down++;
		g_strlcpy(sd->last_down_reason, ev->reason ? ev->reason : "",
			  sizeof(sd->last_down_reason));
	}
	g_strlcpy(sd->last_ports, ports, sizeof(sd->last_ports));
}

static const struct vs_tun_ops test_ops = {
	.stream_open = cb_stream_open,
	.frame = cb_frame,
	.in_event = cb_in_event,
	.out_event = cb_out_event,
	.expect = cb_expect,
	.peer_event = cb_peer_event,
	.source_direct = cb_source_direct,
	.source_barrier = cb_source_barrier,
};

/* --- the fixture ----------------------------------------------------------- */

void side_init_cfg(struct side *sd, struct vs_tun_cfg *cfg)
{
	g_autoptr(GError) err = NULL;

	memset(sd, 0, sizeof(*sd));
	sd->name = cfg->node_name;
	sd->next_expected = 1;
	sd->seqs = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	if (!cfg->key_file && !cfg->tls)
		cfg->key_file = th_key_path;
	sd->t = vs_tun_new(cfg, &test_ops, sd, &err);
	g_assert_no_error(err);
	g_assert_nonnull(sd->t);
}

void side_init(struct side *sd, const char *name, const char *listen)
{
	struct vs_tun_cfg cfg = {
		.node_name = name,
		.listen = listen,
	};

	side_init_cfg(sd, &cfg);
}

void side_fini(struct side *sd)
{
	vs_tun_free(sd->t);
	sd->t = NULL;
	g_array_unref(sd->seqs);
}

char *addr_of(struct side *sd)
{
	return g_strdup_printf("127.0.0.1:%u", vs_tun_listen_port(sd->t));
}

/* hosta and hostb, each the other's peer */
void pair_init_ka(struct side *a, struct side *b, unsigned int ka, unsigned int timeout)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *aa = NULL, *ba = NULL;
	struct vs_tun_cfg ca = { .node_name = "hosta", .listen = "127.0.0.1:0",
				 .keepalive_ms = ka, .keepalive_timeout_ms = timeout };
	struct vs_tun_cfg cb = ca;

	cb.node_name = "hostb";
	side_init_cfg(a, &ca);
	side_init_cfg(b, &cb);
	aa = addr_of(a);
	ba = addr_of(b);
	g_assert_true(vs_tun_add_peer(a->t, "hostb", ba, &err));
	g_assert_true(vs_tun_add_peer(b->t, "hosta", aa, &err));
	g_assert_no_error(err);
}

void pair_init(struct side *a, struct side *b)
{
	pair_init_ka(a, b, 0, 0);
}

/* Let the connections freed from idle callbacks go */
void drain_loop(void)
{
	gint64 end = g_get_monotonic_time() + 50 * 1000;

	while (g_get_monotonic_time() < end)
		g_main_context_iteration(NULL, FALSE);
}

void pair_fini(struct side *a, struct side *b)
{
	side_fini(a);
	side_fini(b);
	drain_loop();
}

/* Run the default main context until @cond holds or @ms pass */
bool run_until(cond_fn cond, void *arg, unsigned int ms)
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

void run_for(unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(200);
	}
}

bool stream_connected(void *arg)
{
	return vs_tun_stream_connected(arg);
}

bool stream_down(void *arg)
{
	return !vs_tun_stream_connected(arg);
}

bool at_least(void *arg)
{
	const struct count_watch *cw = arg;

	return *cw->counter >= cw->n;
}

bool got_frames(void *arg)
{
	struct want_frames *w = arg;

	return w->sd->seqs->len >= w->n;
}

bool acked_all(void *arg)
{
	struct vs_tun_stream *s = arg;

	return s->acked + 1 == s->next_seq;
}

bool retained_none(void *arg)
{
	return vs_tun_stream_retained(arg) == 0;
}

void push_frames_len(struct vs_tun_stream *s, unsigned int n, uint32_t len)
{
	g_autofree uint8_t *buf = g_malloc0(len);
	unsigned int i;

	g_assert_cmpuint(len, >=, FRAME_LEN);
	for (i = 0; i < n; i++) {
		frame_fill(buf, s->next_seq);
		vs_tun_stream_push(s, VS_TUN_ORIGIN_STRAGGLER, buf, len);
	}
}

void push_frames(struct vs_tun_stream *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint8_t buf[FRAME_LEN];

		frame_fill(buf, s->next_seq);
		vs_tun_stream_push(s, VS_TUN_ORIGIN_BLACKOUT, buf, FRAME_LEN);
	}
}

/* Every seq 1..@n received once, in order, with the right bytes */
void check_seqs(struct side *sd, uint64_t n)
{
	guint i;

	g_assert_false(sd->frame_bad);
	g_assert_cmpuint(sd->seqs->len, ==, n);
	for (i = 0; i < sd->seqs->len; i++)
		g_assert_cmpuint(g_array_index(sd->seqs, uint64_t, i), ==, i + 1);
}

/* The connection hosta dialled to hostb */
struct tun_conn *out_conn(struct side *a, const char *peer)
{
	return tun_find_peer(a->t, peer)->conn;
}

/* Cut a connection as a reset would: both ends see it go */
void cut(struct tun_conn *c)
{
	g_assert_nonnull(c);
	shutdown(g_socket_get_fd(c->sock), SHUT_RDWR);
}

void th_init(void)
{
	g_autofree char *path = g_build_filename(g_get_tmp_dir(), "vshim-tun-key-XXXXXX", NULL);
	int fd = g_mkstemp_full(path, O_WRONLY, 0600);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(write(fd, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
			      65), ==, 65);
	close(fd);
	th_key_path = g_steal_pointer(&path);
	g_assert_true(vs_tun_load_psk(th_key_path, th_psk, &th_psk_len, NULL));
	th_log_lines = g_ptr_array_new_with_free_func(g_free);
	th_log_next = g_log_set_default_handler(th_log_handler, NULL);
}

void th_fini(void)
{
	g_unlink(th_key_path);
	g_clear_pointer(&th_key_path, g_free);
}


/* --- an in-process TCP relay that can go silent ---------------------------- */

struct relay_pair {
	struct relay *r;
	GSocket *sock[2];
	GSource *src[2];
	bool silent;
};

struct relay {
	GSocket *ls;
	GSource *ls_src;
	guint16 target;
	bool partitioned;
	GList *pairs;
};

static void relay_pair_free(struct relay_pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (p->src[i]) {
			g_source_destroy(p->src[i]);
			g_source_unref(p->src[i]);
		}
		g_socket_close(p->sock[i], NULL);
		g_object_unref(p->sock[i]);
	}
	p->r->pairs = g_list_remove(p->r->pairs, p);
	g_free(p);
}

static gboolean relay_readable_cb(GSocket *sock, GIOCondition cond, gpointer data)
{
	struct relay_pair *p = data;
	int from = sock == p->sock[0] ? 0 : 1;
	char buf[65536];
	gssize n = g_socket_receive(sock, buf, sizeof(buf), NULL, NULL);
	gsize off = 0;

	if (n <= 0) {
		/* EOF or reset: pass it on (a silent pair passes nothing) */
		if (!p->silent)
			shutdown(g_socket_get_fd(p->sock[!from]), SHUT_RDWR);
		g_source_unref(p->src[from]);	/* returning REMOVE destroys it */
		p->src[from] = NULL;
		if (!p->src[!from])
			relay_pair_free(p);
		return G_SOURCE_REMOVE;
	}
	while (!p->silent && off < (gsize)n) {
		/* the other side is a tunnel on this loop: small tests fit */
		gssize w = g_socket_send(p->sock[!from], buf + off, (gsize)n - off, NULL, NULL);

		if (w <= 0)
			break;
		off += (gsize)w;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean relay_accept_cb(GSocket *ls, GIOCondition cond, gpointer data)
{
	struct relay *r = data;
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(lo, r->target);
	struct relay_pair *p;
	GSocket *in = g_socket_accept(ls, NULL, NULL);
	int i;

	if (!in)
		return G_SOURCE_CONTINUE;
	p = g_new0(struct relay_pair, 1);
	p->r = r;
	p->silent = r->partitioned;
	p->sock[0] = in;
	p->sock[1] = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
				  G_SOCKET_PROTOCOL_TCP, NULL);
	g_assert_true(g_socket_connect(p->sock[1], sa, NULL, NULL));
	for (i = 0; i < 2; i++) {
		p->src[i] = g_socket_create_source(p->sock[i], G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
		g_source_set_callback(p->src[i], (GSourceFunc)(void (*)(void))relay_readable_cb,
				      p, NULL);
		g_source_attach(p->src[i], NULL);
	}
	r->pairs = g_list_prepend(r->pairs, p);
	return G_SOURCE_CONTINUE;
}

struct relay *relay_new(guint16 target)
{
	struct relay *r = g_new0(struct relay, 1);

	r->target = target;
	fp_listen(&r->ls);
	r->ls_src = g_socket_create_source(r->ls, G_IO_IN, NULL);
	g_source_set_callback(r->ls_src, (GSourceFunc)(void (*)(void))relay_accept_cb, r, NULL);
	g_source_attach(r->ls_src, NULL);
	return r;
}

guint16 relay_port(const struct relay *r)
{
	g_autoptr(GSocketAddress) a = g_socket_get_local_address(r->ls, NULL);

	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a));
}

void relay_partition(struct relay *r)
{
	GList *l;

	r->partitioned = true;
	for (l = r->pairs; l; l = l->next)
		((struct relay_pair *)l->data)->silent = true;
}

void relay_heal(struct relay *r)
{
	r->partitioned = false;
}

void relay_free(struct relay *r)
{
	while (r->pairs)
		relay_pair_free(r->pairs->data);
	g_source_destroy(r->ls_src);
	g_source_unref(r->ls_src);
	g_socket_close(r->ls, NULL);
	g_object_unref(r->ls);
	g_free(r);
}
