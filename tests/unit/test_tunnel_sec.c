/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_sec.c - what the tunnel's TLS layer and listener refuse
 *
 * Theory of operation: tun_harness.h.  A real tunnel on loopback, and
 * scripted peers that speak TLS 1.3 with the shared key and then put
 * bytes on the socket that no honest peer would: a record with one byte
 * changed, a record forged or spliced in without the keys, an old record
 * replayed; a version-1 shim in clear, or inside TLS; connections that
 * never authenticate, from one address and from many.  Each must be
 * refused, the connection closed, counted, logged once, and nothing it
 * carried delivered.
 */
#include <string.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "log.h"
#include "tun_harness.h"

/* --- scripted messages ------------------------------------------------------ */

/* A fake source with stream 1 for VM_NAME accepted by @b, and frame 1 in */
static void fake_source(struct fake_peer *f, struct side *b)
{
	struct vs_tun_msg m;

	fp_connect(f, "hosta", vs_tun_listen_port(b->t));
	fp_send_vm_open(f, 1, 1);
	g_assert_true(fp_recv_type(f, VS_TUN_MSG_VM_ACCEPT, &m));
	fp_send_frame(f, 1, 1, VS_TUN_ORIGIN_BLACKOUT);
	g_assert_true(run_until(got_frames, &(struct want_frames){ b, 1 }, DEADLINE_MS));
}

/* The connection is gone, counted as a TLS record error, frame 1 only in */
static void check_rejected(struct fake_peer *f, struct side *b, uint64_t errors)
{
	g_assert_true(fp_wait_eof(f, DEADLINE_MS));
	g_assert_true(run_until(at_least, &(struct count_watch){
		&b->in_events[VS_TUN_IN_CLOSED], (unsigned int)errors }, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(b->t)->tls_record_errors, ==, errors);
	g_assert_null(b->t->conns);
	check_seqs(b, 1);
	g_assert_cmpuint(b->dups, ==, 0);
	g_assert_nonnull(th_log_find("TLS record rejected"));
	fp_close(f);
	drain_loop();
}

/* --- tampered records ----------------------------------------------------- */

/* One byte of the FRAME's record changed on the way: refused, not delivered */
static void test_tamper_flipped(void)
{
	g_autoptr(GByteArray) rec = NULL;
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fake_source(&f, &b);
	frame_msg(&m, buf, 1, 2, VS_TUN_ORIGIN_BLACKOUT);
	rec = fp_seal(&f, &m);
	g_assert_cmpuint(rec->len, >, 5 + FRAME_LEN);
	rec->data[5 + 30] ^= 0x01;		/* inside the frame's bytes */
	fp_send_raw(&f, rec->data, rec->len);
	check_rejected(&f, &b, 1);
	side_fini(&b);
}

/*
 * Records spliced in by someone without the keys: one that looks like TLS
 * application data, and a FRAME in clear, as version 1 sent it
 */
static void test_tamper_spliced(void)
{
	g_autoptr(GByteArray) clear = g_byte_array_new();
	uint8_t forged[5 + 96] = { 0x17, 0x03, 0x03, 0x00, 96 };
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;
	struct fake_peer f;
	struct side b;
	size_t i;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fake_source(&f, &b);
	for (i = 5; i < sizeof(forged); i++)
		forged[i] = (uint8_t)(i * 37);
	fp_send_raw(&f, forged, sizeof(forged));
	check_rejected(&f, &b, 1);

	b.next_expected = 1;
	g_array_set_size(b.seqs, 0);
	fake_source(&f, &b);
	frame_msg(&m, buf, 1, 2, VS_TUN_ORIGIN_BLACKOUT);
	vs_tun_encode(clear, &m);
	fp_send_raw(&f, clear->data, clear->len);
	check_rejected(&f, &b, 2);
	side_fini(&b);
}

/* A record replayed: its sequence number is not the next one any more */
static void test_tamper_replayed(void)
{
	g_autoptr(GByteArray) rec = NULL;
	uint8_t buf[FRAME_LEN];
	struct vs_tun_msg m;
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fp_connect(&f, "hosta", vs_tun_listen_port(b.t));
	fp_send_vm_open(&f, 1, 1);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_VM_ACCEPT, &m));
	frame_msg(&m, buf, 1, 1, VS_TUN_ORIGIN_BLACKOUT);
	rec = fp_seal(&f, &m);
	fp_send_raw(&f, rec->data, rec->len);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 1 }, DEADLINE_MS));
	fp_send_raw(&f, rec->data, rec->len);	/* again, byte for byte */
	check_rejected(&f, &b, 1);
	side_fini(&b);
}

/* --- version 1 ---------------------------------------------------------------- */

static bool refused_v1(void *t)
{
	return vs_tun_get_stats(t)->version_refusals > 0;
}

/* A version-1 shim dials us in clear: ERROR(BAD_VERSION) in its protocol */
static void test_v1_initiator(void)
{
	struct vs_tun_msg m;
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fp_connect_raw(&f, vs_tun_listen_port(b.t));
	fp_v1_hello(&f, "hosta", VS_TUN_ROLE_INITIATOR);
	g_assert_true(fp_recv(&f, &m, DEADLINE_MS));
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_ERROR);
	g_assert_cmpint(m.u.error.code, ==, VS_TUN_ERR_BAD_VERSION);
	g_assert_cmpstr(m.u.error.text, ==, VS_TUN_V1_REFUSAL_TEXT);
	g_assert_true(fp_wait_eof(&f, DEADLINE_MS));
	g_assert_true(run_until(refused_v1, b.t, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->version_refusals, ==, 1);
	g_assert_nonnull(th_log_find("peer speaks tunnel protocol v1 (its HELLO came in clear"));
	g_assert_nonnull(th_log_find("upgrade vhost-shim on both hosts"));
	g_assert_null(b.t->conns);
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/* We dial a version-1 shim: it answers our ClientHello with its HELLO */
static void test_v1_responder(void)
{
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct side a;
	GSocket *ls;

	side_init(&a, "hosta", "127.0.0.1:0");
	th_log_clear();
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept_raw(&f, ls);
	fp_v1_hello(&f, "hostb", VS_TUN_ROLE_RESPONDER);
	g_assert_true(run_until(refused_v1, a.t, DEADLINE_MS));
	g_assert_nonnull(th_log_find("peer speaks tunnel protocol v1 (it answered our TLS "
				     "ClientHello with a HELLO in clear)"));
	g_assert_cmpuint(vs_tun_get_stats(a.t)->tls_failures, ==, 0);
	g_assert_false(vs_tun_stream_connected(s));
	fp_close(&f);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

/* A version-1 shim in x509 mode: TLS works, its HELLO says version 1 */
static void test_v1_inside_tls(void)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_HELLO };
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fp_connect_tls(&f, vs_tun_listen_port(b.t));
	m.u.hello.version = 1;
	m.u.hello.compat_version = 1;
	m.u.hello.role = VS_TUN_ROLE_INITIATOR;
	g_assert_true(vs_tun_random_nonce(m.u.hello.nonce, NULL));
	g_strlcpy(m.u.hello.name, "hosta", sizeof(m.u.hello.name));
	fp_send(&f, &m);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_ERROR, &m));
	g_assert_cmpint(m.u.error.code, ==, VS_TUN_ERR_BAD_VERSION);
	g_assert_cmpstr(m.u.error.text, ==, VS_TUN_V1_REFUSAL_TEXT);
	g_assert_true(run_until(refused_v1, b.t, DEADLINE_MS));
	g_assert_nonnull(th_log_find("peer speaks tunnel protocol v1 (its HELLO: "));
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

/* --- before authentication -------------------------------------------------- */

struct preauth_watch {
	struct vs_tun *t;
	unsigned int n;
};

static bool accepted(void *arg)
{
	struct preauth_watch *w = arg;

	return vs_tun_get_stats(w->t)->connections_accepted >= w->n;
}

/*
 * VS_TUN_PREAUTH_PER_SOURCE idle connections from one address are held,
 * one more is closed at once; a peer from its own address authenticates
 * and streams all the same
 */
static void test_preauth_per_source(void)
{
	struct fake_peer idle[VS_TUN_PREAUTH_PER_SOURCE + 1], f;
	struct side a, b;
	struct vs_tun_stream *s;
	unsigned int i;

	pair_init(&a, &b);
	th_log_clear();
	for (i = 0; i < G_N_ELEMENTS(idle); i++)
		fp_connect_raw_from(&idle[i], "127.0.0.2", vs_tun_listen_port(b.t));
	g_assert_true(fp_wait_eof(&idle[VS_TUN_PREAUTH_PER_SOURCE], DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->preauth_refused, ==, 1);
	g_assert_cmpuint(g_list_length(b.t->conns), ==, VS_TUN_PREAUTH_PER_SOURCE);
	g_assert_nonnull(th_log_find("handshakes from 127.0.0.2 running"));
	/* the real peer (127.0.0.1) is not held up */
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	push_frames(s, 20);
	g_assert_true(run_until(got_frames, &(struct want_frames){ &b, 20 }, DEADLINE_MS));
	check_seqs(&b, 20);
	/* a fake from the peer's own address too */
	fp_connect(&f, "hostc", vs_tun_listen_port(b.t));
	fp_close(&f);
	for (i = 0; i < G_N_ELEMENTS(idle); i++)
		fp_close(&idle[i]);
	vs_tun_stream_close(s, false);
	pair_fini(&a, &b);
}

/*
 * From many addresses: VS_TUN_PREAUTH_MAX slots, the oldest handshake
 * makes room.  A handshake from an unknown address still completes in the
 * middle of it (it is quicker than the flood), and one from a configured
 * peer's address is never counted there.
 */
static void test_preauth_total(void)
{
	struct fake_peer idle[VS_TUN_PREAUTH_MAX + 8], f;
	struct preauth_watch w;
	struct side b;
	unsigned int i;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	for (i = 0; i < G_N_ELEMENTS(idle); i++) {
		char src[16];

		g_snprintf(src, sizeof(src), "127.0.1.%u", i + 1);
		fp_connect_raw_from(&idle[i], src, vs_tun_listen_port(b.t));
		/* accepted one by one, in order */
		w = (struct preauth_watch){ b.t, i + 1 };
		g_assert_true(run_until(accepted, &w, DEADLINE_MS));
		g_assert_cmpuint(g_list_length(b.t->conns), ==,
				 MIN(i + 1, (unsigned int)VS_TUN_PREAUTH_MAX));
	}
	g_assert_cmpuint(vs_tun_get_stats(b.t)->preauth_evicted, ==, 8);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->preauth_refused, ==, 0);
	for (i = 0; i < 8; i++)		/* the oldest went */
		g_assert_true(fp_wait_eof(&idle[i], DEADLINE_MS));
	g_assert_nonnull(th_log_find("to make room for"));
	/* 127.0.0.1 is not a peer of b's here: it takes a slot, and wins it */
	fp_connect(&f, "hosta", vs_tun_listen_port(b.t));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->preauth_evicted, ==, 9);
	fp_close(&f);
	for (i = 0; i < G_N_ELEMENTS(idle); i++)
		fp_close(&idle[i]);
	side_fini(&b);
	drain_loop();
}

/* An idle connection, and one that sent one byte, go at the deadline */
static void test_preauth_deadline(void)
{
	struct fake_peer idle, one;
	struct side b;
	gint64 t0, ms;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	t0 = g_get_monotonic_time();
	fp_connect_raw(&idle, vs_tun_listen_port(b.t));
	fp_connect_raw_from(&one, "127.0.0.3", vs_tun_listen_port(b.t));
	fp_send_raw(&one, "\0", 1);
	g_assert_true(fp_wait_eof(&idle, VS_TUN_PREAUTH_DEADLINE_MS + 3000));
	g_assert_true(fp_wait_eof(&one, 1000));
	ms = (g_get_monotonic_time() - t0) / 1000;
	g_test_message("closed after %" G_GINT64_FORMAT " ms", ms);
	g_assert_cmpint(ms, >=, VS_TUN_PREAUTH_DEADLINE_MS - 50);
	g_assert_cmpint(ms, <, VS_TUN_PREAUTH_DEADLINE_MS + 2500);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->handshake_timeouts, ==, 2);
	g_assert_nonnull(th_log_find("handshake not done within 2000 ms (sniffing)"));
	fp_close(&idle);
	fp_close(&one);
	side_fini(&b);
	drain_loop();
}

/* Neither TLS nor tunnel protocol: closed at once, counted */
/*
 * TLS 1.2 with the right key: refused in the handshake (the exporter that
 * keys HELLO/AUTH is RFC 9266's only with TLS 1.3), counted, logged
 */
static bool tls_failed(gpointer t)
{
	return vs_tun_get_stats(t)->tls_failures >= 1;
}

static void test_version_tls12(void)
{
	struct fake_peer f;
	struct side b;
	int r;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	r = fp_connect_tls_prio(&f, vs_tun_listen_port(b.t),
				"NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-PSK:+PSK");
	g_test_message("TLS 1.2 client: %s", gnutls_strerror(r));
	g_assert_cmpint(r, <, 0);
	g_assert_true(run_until(tls_failed, b.t, DEADLINE_MS));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->tls_failures, ==, 1);
	g_assert_cmpuint(vs_tun_get_stats(b.t)->auth_failures, ==, 1);
	g_assert_null(b.t->conns);
	g_assert_nonnull(th_log_find("TLS handshake failed: A packet with illegal or unsupported version"));
	fp_close(&f);
	side_fini(&b);
	drain_loop();
}

static void test_sniff_garbage(void)
{
	struct fake_peer f;
	struct side b;

	side_init(&b, "hostb", "127.0.0.1:0");
	th_log_clear();
	fp_connect_raw(&f, vs_tun_listen_port(b.t));
	fp_send_raw(&f, "GET / HTTP/1.1\r\n\r\n", 18);
	g_assert_true(fp_wait_eof(&f, 1000));
	g_assert_cmpuint(vs_tun_get_stats(b.t)->tls_failures, ==, 1);
	g_assert_nonnull(th_log_find("not a tunnel peer: its first bytes (47 45 ...)"));
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
	g_test_add_func("/tun/sec/tamper/flipped-byte", test_tamper_flipped);
	g_test_add_func("/tun/sec/tamper/spliced", test_tamper_spliced);
	g_test_add_func("/tun/sec/tamper/replayed", test_tamper_replayed);
	g_test_add_func("/tun/sec/version/v1-initiator", test_v1_initiator);
	g_test_add_func("/tun/sec/version/v1-responder", test_v1_responder);
	g_test_add_func("/tun/sec/version/v1-inside-tls", test_v1_inside_tls);
	g_test_add_func("/tun/sec/version/tls12", test_version_tls12);
	g_test_add_func("/tun/sec/preauth/per-source", test_preauth_per_source);
	g_test_add_func("/tun/sec/preauth/total", test_preauth_total);
	g_test_add_func("/tun/sec/preauth/deadline", test_preauth_deadline);
	g_test_add_func("/tun/sec/sniff/garbage", test_sniff_garbage);
	rc = g_test_run();
	th_fini();
	return rc;
}
