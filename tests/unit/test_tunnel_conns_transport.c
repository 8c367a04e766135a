/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_conns_transport.c - CONNS on a stream (tunnel_conns.c): the
 * copy the source's stream keeps, written on every connection the stream
 * is accepted on, in messages of at most VS_TUN_CONNS_MAX records, and to
 * no connection that did not negotiate tcp-conns
 *
 * Theory of operation: the tunnel harness (tun_harness.h): a real tunnel
 * ("hosta", the source) dials a scripted destination (struct fake_peer)
 * that offers the extensions a test chooses, accepts the stream and
 * reads what comes.
 */
#include <string.h>

#include <gio/gio.h>

#include "log.h"
#include "tun_harness.h"

/* @n records, each its own peer port */
static struct vs_tun_conn *t_conns(size_t n)
{
	struct vs_tun_conn *c = g_new0(struct vs_tun_conn, n);
	size_t i;

	for (i = 0; i < n; i++) {
		c[i].af = VS_TUN_SRC_AF_INET;
		memcpy(c[i].vm_addr, (const uint8_t[]){ 10, 0, 0, 2 }, 4);
		memcpy(c[i].peer_addr, (const uint8_t[]){ 192, 0, 2, 5 }, 4);
		c[i].vm_port = 22;
		c[i].peer_port = (uint16_t)(1000 + i);
		memcpy(c[i].vm_mac, VM_MAC, 6);
		c[i].flags = VS_TUN_CONN_VM_SEQ;
		c[i].vm_nxt = (uint32_t)i;
	}
	return c;
}

static uint32_t t_accept(struct fake_peer *f, uint64_t next)
{
	struct vs_tun_msg m;
	struct vs_tun_msg acc = { .type = VS_TUN_MSG_VM_ACCEPT };

	g_assert_true(fp_recv_type(f, VS_TUN_MSG_VM_OPEN, &m));
	acc.u.vm_accept.stream_id = m.u.vm_open.stream_id;
	acc.u.vm_accept.next_expected_seq = next;
	fp_send(f, &acc);
	return m.u.vm_open.stream_id;
}

/* Read CONNS until @want records came (in order), then a FRAME */
static void t_read_conns(struct fake_peer *f, size_t want, unsigned int *msgs)
{
	struct vs_tun_msg m;
	size_t got = 0;

	*msgs = 0;
	while (got < want) {
		g_assert_true(fp_recv(f, &m, DEADLINE_MS));
		g_assert_cmpint(m.type, ==, VS_TUN_MSG_CONNS);
		g_assert_cmpuint(m.u.conns.count, <=, VS_TUN_CONNS_MAX);
		for (size_t i = 0; i < m.u.conns.count; i++) {
			struct vs_tun_conn c;

			vs_tun_conns_get(&m, i, &c);
			g_assert_cmpuint(c.peer_port, ==, 1000 + got);
			got++;
		}
		(*msgs)++;
	}
	g_assert_cmpuint(got, ==, want);
}

/*
 * 150 connections: 3 CONNS (64, 64, 22) ahead of the frames; the
 * connection goes, and the next one the stream is accepted on gets them
 * all again; invalid records are left out
 */
static void test_conns_resent(void)
{
	g_autofree struct vs_tun_conn *c = t_conns(151);
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct vs_tun_msg m;
	unsigned int msgs;
	struct side a;
	GSocket *ls;

	side_init(&a, "hosta", "127.0.0.1:0");
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	g_assert_false(vs_tun_stream_conns_ok(s));
	g_assert_cmpuint(vs_tun_stream_conns(s, c, 150), ==, 0);	/* not accepted yet */
	fp_accept_ext(&f, ls, "hostb", VS_TUN_HELLO_EXT_TCP_CONNS);
	t_accept(&f, 1);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	g_assert_true(vs_tun_stream_conns_ok(s));
	c[150].af = 5;				/* left out */
	g_assert_cmpuint(vs_tun_stream_conns(s, c, 151), ==, 150);
	push_frames(s, 2);
	t_read_conns(&f, 150, &msgs);
	g_assert_cmpuint(msgs, ==, 3);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_FRAME, &m));
	g_assert_cmpuint(m.u.frame.seq, ==, 1);
	fp_close(&f);
	g_assert_true(run_until(stream_down, s, DEADLINE_MS));
	/* the next connection: every record again, then the frames resent */
	fp_accept_ext(&f, ls, "hostb", VS_TUN_HELLO_EXT_TCP_CONNS);
	t_accept(&f, 1);
	t_read_conns(&f, 150, &msgs);
	g_assert_true(fp_recv_type(&f, VS_TUN_MSG_FRAME, &m));
	g_assert_cmpuint(m.u.frame.seq, ==, 1);
	fp_close(&f);
	vs_tun_stream_close(s, false);
	side_fini(&a);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	drain_loop();
}

/* A destination without tcp-conns gets no CONNS: the frames come first */
static void test_conns_not_negotiated(void)
{
	g_autofree struct vs_tun_conn *c = t_conns(3);
	g_autofree char *addr = NULL;
	struct vs_tun_stream *s;
	struct fake_peer f;
	struct vs_tun_msg m;
	struct side a;
	GSocket *ls;

	side_init(&a, "hosta", "127.0.0.1:0");
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(a.t, "hostb", addr, NULL));
	s = vs_tun_stream_open(a.t, "hostb", VM_NAME, VM_MAC);
	fp_accept_ext(&f, ls, "hostb", 0);
	t_accept(&f, 1);
	g_assert_true(run_until(stream_connected, s, DEADLINE_MS));
	g_assert_false(vs_tun_stream_conns_ok(s));
	g_assert_cmpuint(vs_tun_stream_conns(s, c, 3), ==, 0);
	push_frames(s, 1);
	g_assert_true(fp_recv(&f, &m, DEADLINE_MS));
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_FRAME);
	fp_close(&f);
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
	g_test_add_func("/tun/transport/conns-resent", test_conns_resent);
	g_test_add_func("/tun/transport/conns-not-negotiated", test_conns_not_negotiated);
	rc = g_test_run();
	th_fini();
	return rc;
}
