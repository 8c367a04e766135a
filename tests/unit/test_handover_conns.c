/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_conns.c - the VM's TCP table travels with it
 * (handover_conns.c): the source's copy into the stream as CONNS, the
 * destination's records into its lcore's table
 *
 * Theory of operation: the handover's harness (ho_harness.h: the real
 * handover and dataplane, no lcore polls, a real tunnel whose upward
 * callbacks are the handover's, the other side a scripted peer).  The
 * lcore's part is played by hand: dp_tcp_track() records the VM's
 * segments, dp_tcp_reset_poll() serves the main loop's requests (export,
 * import, reset) as vs_dp_poll_port() does.
 */
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_tcp.h"
#include "flow_frames.h"
#include "handover.h"
#include "handover_priv.h"
#include "tun_harness.h"
#include "tunnel_priv.h"
#include "vm.h"
#include "ho_harness.h"

#define VM_IP	"10.77.0.50"

/* One record of the VM's connection to 192.0.2.@host:@port */
static void t_conn(struct vs_tun_conn *c, const uint8_t mac[6], uint8_t host, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	c->af = VS_TUN_SRC_AF_INET;
	ff_addr(VM_IP, c->vm_addr);
	memcpy(c->peer_addr, (const uint8_t[]){ 192, 0, 2, host }, 4);
	c->vm_port = 5001;
	c->peer_port = port;
	memcpy(c->vm_mac, mac, 6);
	memcpy(c->peer_mac, (const uint8_t[]){ 0x02, 0, 0, 0, 0, 0x99 }, 6);
	c->flags = VS_TUN_CONN_VM_SEQ | VS_TUN_CONN_PEER_ACK | VS_TUN_CONN_VM_ACK;
	c->vm_nxt = c->peer_ack = 0xfffffff0u;
	c->vm_ack = 77;
}

static void t_send_conns(struct t_env *e, const struct vs_tun_conn *c, size_t n)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m = { .type = VS_TUN_MSG_CONNS };

	/* the records as the encoder lays them out, sent the fake peer's way */
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, c, n), >, 0);
	m.u.conns.stream_id = 1;
	m.u.conns.count = (uint16_t)n;
	m.u.conns.recs = b->data + VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_conns);
	fp_send(&e->src, &m);
}

static bool t_refused(void *arg)
{
	return ((struct t_env *)arg)->vm->stats.tcp_ct_import_refused > 0;
}

static bool t_one_waits(void *arg)
{
	return ((struct t_env *)arg)->vm->ho->conns_in->len == 1;
}

static bool t_none_waits(void *arg)
{
	struct vs_vm *vm = ((struct t_env *)arg)->vm;

	return vm->ho->conns_in->len == 0 && vs_dp_tcp_import_busy(vm);
}

/* The VM resumes here (its device comes up): replaying */
static void t_resume(struct t_env *e)
{
	e->vm->vid = 0;
	t_ho_vhost(e->vm, VS_VHOST_EV_NEW_DEVICE, false);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_REPLAYING);
}

/*
 * Destination: the records of the port's MAC wait for the VM to arrive,
 * then go to the lcore; another MAC's are refused; a CONNS that comes
 * while the lcore has not served the last waits, and follows once it has
 */
static void test_dst_import(void)
{
	static const uint8_t other[6] = { 0x02, 0x66, 0x66, 0x66, 0x66, 0x66 };
	struct vs_tun_conn c[3];
	struct t_env e;

	t_env_init(&e, 1000, 5000);
	t_arm(&e);
	fp_connect_ext(&e.src, "hosta", vs_tun_listen_port(e.tun), VS_TUN_HELLO_EXT_TCP_CONNS);
	fp_open_stream(&e.src, 1, 1, 1);
	t_conn(&c[0], VM_MAC, 5, 40000);
	t_conn(&c[1], other, 5, 40001);
	t_conn(&c[2], VM_MAC, 6, 40002);
	t_send_conns(&e, c, 3);
	g_assert_true(run_until(t_refused, &e, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 1);
	/* the VM has not arrived: they wait */
	g_assert_cmpuint(e.vm->ho->conns_in->len, ==, 2);
	g_assert_false(vs_dp_tcp_import_busy(e.vm));
	t_resume(&e);
	/* handed at the next tick: the lcore has no request outstanding */
	g_assert_true(run_until(t_none_waits, &e, DEADLINE_MS));
	/* another while the lcore has not served it: waits */
	t_conn(&c[0], VM_MAC, 7, 40003);
	t_send_conns(&e, c, 1);
	g_assert_true(run_until(t_one_waits, &e, DEADLINE_MS));
	dp_tcp_reset_poll(e.vm);		/* the lcore: 2 imported */
	g_assert_cmpuint(e.vm->stats.tcp_ct_imported, ==, 2);
	g_assert_true(run_until(t_none_waits, &e, DEADLINE_MS));	/* the pump hands it */
	dp_tcp_reset_poll(e.vm);
	g_assert_cmpuint(e.vm->stats.tcp_ct_imported, ==, 3);
	g_assert_cmpuint(e.vm->stats.tcp_ct_entries, ==, 3);
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 1);
	t_env_fini(&e);
}

/* Everything sent so far on the source's connection was handled: a
 * frame sent behind it has arrived */
static void t_sync(struct t_env *e)
{
	t_send_frames(e, 1, 1, 1);
	t_wait_frames(e, 1);
}

/*
 * Review 74 M2: a reconnect before the VM arrived resends the whole copy
 * (tunnel_conns.c: "a copy is harmless"); conns_in kept both copies, and
 * the second one's records past the table's size were counted as refused
 * (tcp-ct-import-refused: "more than the table holds waiting"), though
 * every connection was in.  Now each connection waits once.
 */
static void test_dst_resend_not_refused(void)
{
	struct vs_tun_conn c[VS_TUN_CONNS_MAX];
	struct t_env e;
	size_t room, n, i, k;

	t_env_init(&e, 1000, 5000);
	t_arm(&e);
	room = (size_t)e.vm->dp.tcp->ct.mask + 1;
	n = room / 2 + 64;
	fp_connect_ext(&e.src, "hosta", vs_tun_listen_port(e.tun), VS_TUN_HELLO_EXT_TCP_CONNS);
	fp_open_stream(&e.src, 1, 1, 1);
	for (k = 0; k < 2; k++)		/* the copy, then the copy again (resend) */
		for (i = 0; i < n; i += VS_TUN_CONNS_MAX) {
			size_t j, m = MIN(n - i, (size_t)VS_TUN_CONNS_MAX);

			for (j = 0; j < m; j++)
				t_conn(&c[j], VM_MAC, (uint8_t)(1 + (i + j) / 30000),
				       (uint16_t)(20000 + (i + j) % 30000));
			t_send_conns(&e, c, m);
		}
	t_sync(&e);
	/* failed before the fix: 128 refused, every one of them a duplicate */
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 0);
	g_assert_cmpuint(e.vm->ho->conns_in->len, ==, n);	/* each once */
	t_env_fini(&e);
}

/* Records first..first+n-1 of the VM's connections, in CONNS of 64 */
static void t_send_range(struct t_env *e, size_t first, size_t n)
{
	struct vs_tun_conn c[VS_TUN_CONNS_MAX];
	size_t i;

	for (i = first; i < first + n; i += VS_TUN_CONNS_MAX) {
		size_t j, m = MIN(first + n - i, (size_t)VS_TUN_CONNS_MAX);

		for (j = 0; j < m; j++)
			t_conn(&c[j], VM_MAC, (uint8_t)(1 + (i + j) / 30000),
			       (uint16_t)(20000 + (i + j) % 30000));
		t_send_conns(e, c, m);
	}
}

/*
 * Review 74 M2: the connection is cut after the first 1500 records of a copy
 * of 3000 (a table of 4096); the stream is accepted again and the whole
 * copy is resent (tunnel_conns.c: "a copy is harmless").  conns_in holds
 * 1500 + 3000 > 4096: records 2596..2999 of the resent copy are refused,
 * and they were never in the first part: 404 connections of the VM never
 * reach the table, which has room for them.
 */
static void test_dst_resend_after_cut(void)
{
	struct t_env e;
	size_t n = 3000, part = 1500;

	t_env_init(&e, 1000, 5000);
	t_arm(&e);
	g_assert_cmpuint((size_t)e.vm->dp.tcp->ct.mask + 1, <, n + part);
	fp_connect_ext(&e.src, "hosta", vs_tun_listen_port(e.tun), VS_TUN_HELLO_EXT_TCP_CONNS);
	fp_open_stream(&e.src, 1, 1, 1);
	t_send_range(&e, 0, part);	/* then the cut */
	t_send_range(&e, 0, n);		/* the resend on the next connection */
	t_sync(&e);
	g_assert_cmpuint(e.vm->ho->conns_in->len, ==, n);
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 0);
	t_resume(&e);
	g_assert_true(run_until(t_none_waits, &e, DEADLINE_MS));
	dp_tcp_reset_poll(e.vm);
	/* every distinct record reached the table (imported, or no slot:
	 * tcp-ct-full); failed before the fix: 404 short, counted as refused */
	g_assert_cmpuint(e.vm->stats.tcp_ct_imported + e.vm->stats.tcp_ct_full, ==, n);
	t_env_fini(&e);
}

/* Destination: a migration cancelled before the VM arrived drops what
 * waits: the VM runs elsewhere, its peers are never reset from here */
static void test_dst_cancelled(void)
{
	struct vs_tun_conn c;
	struct t_env e;

	t_env_init(&e, 1000, 5000);
	t_arm(&e);
	fp_connect_ext(&e.src, "hosta", vs_tun_listen_port(e.tun), VS_TUN_HELLO_EXT_TCP_CONNS);
	fp_open_stream(&e.src, 1, 1, 1);
	t_conn(&c, VM_MAC, 5, 40000);
	t_send_conns(&e, &c, 1);
	g_assert_true(run_until(t_one_waits, &e, DEADLINE_MS));
	vs_ho_cancel(e.vm);
	g_assert_cmpint(e.vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpuint(e.vm->ho->conns_in->len, ==, 0);
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 1);
	g_assert_false(vs_dp_tcp_import_busy(e.vm));
	dp_tcp_reset_poll(e.vm);
	g_assert_cmpuint(e.vm->stats.tcp_ct_imported, ==, 0);
	t_env_fini(&e);
}

/* Destination: CONNS from a source that did not offer tcp-conns is a
 * protocol error, as any message of an extension not negotiated */
static void test_dst_not_negotiated(void)
{
	struct vs_tun_conn c;
	struct t_env e;

	t_env_init(&e, 1000, 5000);
	t_arm(&e);
	fp_connect_ext(&e.src, "hosta", vs_tun_listen_port(e.tun), 0);
	fp_open_stream(&e.src, 1, 1, 1);
	t_conn(&c, VM_MAC, 5, 40000);
	t_send_conns(&e, &c, 1);
	g_assert_cmpint(fp_expect_error(&e.src, DEADLINE_MS), ==, VS_TUN_ERR_PROTOCOL);
	g_assert_cmpuint(e.vm->stats.tcp_ct_import_refused, ==, 0);
	g_assert_cmpuint(e.vm->ho->conns_in->len, ==, 0);
	t_env_fini(&e);
}

/* The VM's segment to 192.0.2.5:40000 through the lcore's tracking */
static void t_vm_segment(struct vs_vm *vm)
{
	struct ff_spec s = { .src = VM_IP, .dst = "192.0.2.5", .from_vm = true, .proto = 6,
			     .sport = 5001, .dport = 40000, .tcp_flags = VS_TCP_ACK,
			     .seq = 0xfffffff0u, .ack = 77, .plen = 32, .pad_to = 60 };
	static const uint8_t payload[32];
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	uint8_t f[256];
	size_t n;

	s.payload = payload;
	n = ff_build(f, &s);
	memcpy(f + 6, VM_MAC, 6);		/* the port's VM */
	g_assert_nonnull(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	dp_tcp_track(vm, &m, 1, VS_TCP_CT_FROM_VM);
	rte_pktmbuf_free(m);
}

static bool t_exported(void *arg)
{
	return ((struct vs_vm *)arg)->stats.tcp_ct_exported > 0;
}

/*
 * Source: the blackout asks the lcore for its table; once it answered,
 * the pump gives it to the accepted stream, and the destination reads
 * CONNS with the connection as the lcore had it
 */
static void test_src_export(void)
{
	struct fake_peer dst = { 0 };
	struct vs_tun_conn got;
	struct vs_tun_msg m;
	struct t_env e;
	GSocket *ls;

	t_env_init(&e, 5000, 5000);
	t_vm_segment(e.vm);
	t_src_connected(&e, &dst, &ls, VS_TUN_HELLO_EXT_TCP_CONNS);
	g_assert_true(e.vm->ho->conns_out);	/* asked, not answered */
	g_assert_cmpuint(e.vm->stats.tcp_ct_exported, ==, 0);
	dp_tcp_reset_poll(e.vm);		/* the lcore answers */
	g_assert_true(run_until(t_exported, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.tcp_ct_exported, ==, 1);
	g_assert_false(e.vm->ho->conns_out);
	g_assert_true(fp_recv_type(&dst, VS_TUN_MSG_CONNS, &m));
	g_assert_cmpuint(m.u.conns.count, ==, 1);
	vs_tun_conns_get(&m, 0, &got);
	g_assert_cmpmem(got.vm_mac, 6, VM_MAC, 6);
	g_assert_cmpuint(got.peer_port, ==, 40000);
	g_assert_cmpuint(got.vm_nxt, ==, 0x10);	/* 0xfffffff0 + 32, wrapped */
	g_assert_true(got.flags & VS_TUN_CONN_VM_SEQ);
	g_assert_false(got.flags & VS_TUN_CONN_PEER_ACK);
	t_src_disconnect(&e, &dst, ls);
}

/* Source: the peer named only in the blackout: the copy goes with the
 * stream that opens then */
static void test_src_peer_in_blackout(void)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_ACCEPT }, open;
	g_autofree char *addr = NULL;
	g_autoptr(GError) err = NULL;
	struct fake_peer dst = { 0 };
	struct t_env e;
	GSocket *ls;

	t_env_init(&e, 5000, 5000);
	t_vm_segment(e.vm);
	addr = g_strdup_printf("127.0.0.1:%u", fp_listen(&ls));
	g_assert_true(vs_tun_add_peer(e.tun, "hostc", addr, &err));
	t_src_blackout(&e);
	g_assert_null(e.vm->ho->out);
	g_assert_false(e.vm->ho->conns_out);
	g_assert_true(vs_ho_set_peer(e.vm, "hostc", &err));
	g_assert_nonnull(e.vm->ho->out);
	g_assert_true(e.vm->ho->conns_out);
	fp_accept_ext(&dst, ls, "hostc", VS_TUN_HELLO_EXT_TCP_CONNS);
	g_assert_true(fp_recv_type(&dst, VS_TUN_MSG_VM_OPEN, &open));
	m.u.vm_accept.stream_id = open.u.vm_open.stream_id;
	m.u.vm_accept.next_expected_seq = open.u.vm_open.first_seq;
	fp_send(&dst, &m);
	dp_tcp_reset_poll(e.vm);
	g_assert_true(run_until(t_exported, e.vm, DEADLINE_MS));
	g_assert_true(fp_recv_type(&dst, VS_TUN_MSG_CONNS, &m));
	g_assert_cmpuint(m.u.conns.count, ==, 1);
	t_src_disconnect(&e, &dst, ls);
}

static bool t_gave_up(void *arg)
{
	return !((struct vs_vm *)arg)->ho->conns_out;
}

/* Source: a destination without tcp-conns gets none, and the wait ends */
static void test_src_not_negotiated(void)
{
	struct fake_peer dst = { 0 };
	struct t_env e;
	GSocket *ls;

	t_env_init(&e, 5000, 5000);
	t_vm_segment(e.vm);
	t_src_connected(&e, &dst, &ls, 0);
	dp_tcp_reset_poll(e.vm);
	g_assert_true(run_until(t_gave_up, e.vm, DEADLINE_MS));
	g_assert_cmpuint(e.vm->stats.tcp_ct_exported, ==, 0);
	t_src_disconnect(&e, &dst, ls);
}

int main(int argc, char **argv)
{
	if (!t_ho_main_init(&argc, &argv, "vs-unit-handover-conns"))
		return 1;
	g_test_add_func("/handover/conns/dst-import", test_dst_import);
	g_test_add_func("/handover/conns/dst-cancelled", test_dst_cancelled);
	g_test_add_func("/handover/conns/dst-resend-after-cut", test_dst_resend_after_cut);
	g_test_add_func("/handover/conns/dst-resend-not-refused", test_dst_resend_not_refused);
	g_test_add_func("/handover/conns/dst-not-negotiated", test_dst_not_negotiated);
	g_test_add_func("/handover/conns/src-export", test_src_export);
	g_test_add_func("/handover/conns/src-not-negotiated", test_src_not_negotiated);
	g_test_add_func("/handover/conns/src-peer-in-blackout", test_src_peer_in_blackout);
	return t_ho_main_run();
}
