/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_tcp.c - a port's TCP table on its lcore and the validated resets
 *
 * Theory of operation: the fakes of dp_harness.h (EAL without hugepages
 * or devices, real mbufs, the guest and the uplink faked behind struct
 * vs_dp_ops).  The fake uplink hands out the peer's segments a test queued
 * (t.rx) and keeps a copy of every frame the lcore sends (t.sent); the fake
 * guest TX hands the VM's segments (t.guest) to dp_tcp_track() as
 * dp_vm_to_uplink() does and sends them.  Each test drives
 * vs_dp_poll_port() as a worker does, asks for a reset as the main loop
 * does (vs_dp_tcp_reset()), on a fake clock, and reads the RSTs and
 * solicitations back field by field.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dataplane.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "flow_frames.h"
#include "vm.h"
#include "dp_harness.h"

#define VM_IP		"10.0.0.2"
#define PEER_IP		"192.0.2.5"
#define VM_PORT		5001
#define PEER_PORT	40000

/* One TCP segment into an mbuf: from the VM (guest TX) or the peer */
static struct rte_mbuf *t_seg(bool from_vm, uint8_t flags, uint32_t seq, uint32_t ack,
			      size_t plen)
{
	static const uint8_t payload[1400];
	struct ff_spec s = { .src = from_vm ? VM_IP : PEER_IP, .dst = from_vm ? PEER_IP : VM_IP,
			     .from_vm = from_vm, .proto = 6,
			     .sport = from_vm ? VM_PORT : PEER_PORT,
			     .dport = from_vm ? PEER_PORT : VM_PORT,
			     .tcp_flags = flags, .seq = seq, .ack = ack, .win = 502,
			     .payload = payload, .plen = plen, .pad_to = 60 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	uint8_t f[2048];
	size_t n = ff_build(f, &s);

	g_assert_nonnull(m);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	return m;
}

static void t_peer(uint8_t flags, uint32_t seq, uint32_t ack, size_t plen)
{
	g_queue_push_tail(&t.rx, t_seg(false, flags, seq, ack, plen));
}

static void t_vm(uint8_t flags, uint32_t seq, uint32_t ack, size_t plen)
{
	g_queue_push_tail(&t.guest, t_seg(true, flags, seq, ack, plen));
}

/*
 * A port of the harness whose MAC is the one ff_build() gives the VM, with
 * @on_loss, every frame it sends kept (t.sent), on the fake clock at 1 s
 */
static struct vs_vm *t_tcp_port_new(enum vs_tcp_on_loss on_loss)
{
	struct vs_vm *vm = t_port_new();

	memcpy(vm->cfg->mac, ff_vm_mac, 6);
	vm->cfg->tcp_on_loss = on_loss;
	g_assert_nonnull(vm->dp.tcp);
	t.sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	t_clock_fake();
	t.now = rte_get_tsc_hz();
	return vm;
}

/* Every segment a test queued was polled, then t_port_free() */
static void t_tcp_port_free(struct vs_vm *vm)
{
	g_assert_true(g_queue_is_empty(&t.rx));
	g_assert_true(g_queue_is_empty(&t.guest));
	t_port_free(vm);
}

/* What a frame the lcore sent says, read from the RFCs' layouts */
struct t_tcp {
	uint8_t dst_mac[6], src_mac[6];
	char src[16], dst[16];
	uint16_t sport, dport, win;
	uint32_t seq, ack;
	uint8_t flags;
	bool csum_ok;
};

static uint32_t t_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* RFC 1071 over the pseudo-header and the segment: 0 when correct */
static uint16_t t_tcp_csum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 12; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	sum += 6 + (uint32_t)len;
	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(tcp[i] << 8 | tcp[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static struct t_tcp t_parse(unsigned int i)
{
	gsize len;
	const uint8_t *f;
	const uint8_t *ip, *tcp;
	struct t_tcp r;

	g_assert_cmpuint(i, <, t.sent->len);
	f = g_bytes_get_data(g_ptr_array_index(t.sent, i), &len);
	g_assert_cmpuint(len, >=, 54);
	g_assert_cmpuint(f[12], ==, 0x08);
	g_assert_cmpuint(f[13], ==, 0x00);
	ip = f + 14;
	g_assert_cmpuint(ip[9], ==, 6);
	tcp = ip + 20;
	memcpy(r.dst_mac, f, 6);
	memcpy(r.src_mac, f + 6, 6);
	g_snprintf(r.src, sizeof(r.src), "%u.%u.%u.%u", ip[12], ip[13], ip[14], ip[15]);
	g_snprintf(r.dst, sizeof(r.dst), "%u.%u.%u.%u", ip[16], ip[17], ip[18], ip[19]);
	r.sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
	r.dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
	r.seq = t_be32(tcp + 4);
	r.ack = t_be32(tcp + 8);
	r.flags = tcp[13];
	r.win = (uint16_t)(tcp[14] << 8 | tcp[15]);
	r.csum_ok = t_tcp_csum(ip, tcp, (size_t)(ip[2] << 8 | ip[3]) - 20) == 0;
	return r;
}

/* The frame goes from the VM's address and port to the peer's */
static void t_assert_to_peer(const struct t_tcp *r)
{
	g_assert_cmpmem(r->src_mac, 6, ff_vm_mac, 6);
	g_assert_cmpmem(r->dst_mac, 6, ff_peer_mac, 6);
	g_assert_cmpstr(r->src, ==, VM_IP);
	g_assert_cmpstr(r->dst, ==, PEER_IP);
	g_assert_cmpuint(r->sport, ==, VM_PORT);
	g_assert_cmpuint(r->dport, ==, PEER_PORT);
	g_assert_true(r->csum_ok);
}

/*
 * An established connection, seen from both sides (the peer connects to
 * the VM, each sends data the other acknowledges); the sequence numbers of
 * the VM's side wrap around 2^32 on the way.
 */
#define PEER_ISN	1000u
#define VM_ISN		0xfffffe00u

static void t_establish(struct vs_vm *vm)
{
	t_peer(VS_TCP_SYN, PEER_ISN, 0, 0);
	t_poll(vm, 1);
	t_vm(VS_TCP_SYN | VS_TCP_ACK, VM_ISN, PEER_ISN + 1, 0);
	t_poll(vm, 1);
	t_peer(VS_TCP_ACK, PEER_ISN + 1, VM_ISN + 1, 100);
	t_poll(vm, 1);
	t_vm(VS_TCP_ACK, VM_ISN + 1, PEER_ISN + 101, 1000);	/* crosses 2^32 */
	t_poll(vm, 1);
	t_peer(VS_TCP_ACK, PEER_ISN + 101, VM_ISN + 1001, 0);
	t_poll(vm, 1);
}

/* The lcore's reset walk, once: what it sent replaces t.sent */
static void t_reset_now(struct vs_vm *vm)
{
	g_ptr_array_set_size(t.sent, 0);
	vs_dp_tcp_reset(vm);
	t_poll(vm, 1);
}

/* Tracked from both directions; reset: one RST, seq = the peer's ACK */
static void test_rst_exact(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	struct t_tcp r;

	t_establish(vm);
	g_assert_cmpuint(t.sent->len, ==, 2);	/* the VM's own two segments */
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 1);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 0);
	g_ptr_array_set_size(t.sent, 0);

	t_poll(vm, 3);
	g_assert_cmpuint(t.sent->len, ==, 0);	/* nothing without a request */
	vs_dp_tcp_reset(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	r = t_parse(0);
	t_assert_to_peer(&r);
	g_assert_cmpuint(r.flags, ==, VS_TCP_RST | VS_TCP_ACK);
	g_assert_cmpuint(r.seq, ==, (uint32_t)(VM_ISN + 1001));
	g_assert_cmpuint(r.seq, ==, 0x1e9);	/* wrapped */
	g_assert_cmpuint(r.ack, ==, PEER_ISN + 101);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 1);
	g_assert_cmpuint(vm->stats.challenges_sent, ==, 0);

	/* reset once: later polls and requests send nothing more */
	t_clock_advance_us(1000 * 1000);
	t_poll(vm, 3);
	vs_dp_tcp_reset(vm);
	t_poll(vm, 3);
	g_assert_cmpuint(t.sent->len, ==, 1);
	t_tcp_port_free(vm);
}

/*
 * A segment of the connection from another MAC on the uplink (forged: the
 * uplink is promiscuous) does not move where the RST goes: the VM's own
 * frames say (review 70: the RST, with its exact number, went to the
 * forger's MAC)
 */
static void test_l2_from_vm(void)
{
	static const uint8_t forger[6] = { 0x02, 0x66, 0x66, 0x66, 0x66, 0x66 };
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	struct rte_mbuf *m;
	struct t_tcp r;

	t_establish(vm);
	m = t_seg(false, VS_TCP_ACK, PEER_ISN + 101, VM_ISN + 1001, 0);
	memcpy(rte_pktmbuf_mtod(m, uint8_t *) + 6, forger, 6);
	g_queue_push_tail(&t.rx, m);
	t_poll(vm, 1);
	t_reset_now(vm);
	g_assert_cmpuint(t.sent->len, ==, 1);
	r = t_parse(0);
	t_assert_to_peer(&r);
	t_tcp_port_free(vm);
}

/* tcp-on-loss=drop: tracked all the same, never reset */
static void test_drop(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_DROP);

	t_establish(vm);
	g_ptr_array_set_size(t.sent, 0);
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 1);
	/*
	 * UDP, a non-IP frame and a peer's tagged TCP SYN: none is tracked (a
	 * peer's segment only updates a connection the VM opened or answered:
	 * the uplink is promiscuous, and a flooded or forged segment must not
	 * make an entry whose RST the shim would send as another host)
	 */
	{
		struct ff_spec u = { .src = PEER_IP, .dst = VM_IP, .proto = 17, .sport = 53,
				     .dport = 53, .pad_to = 60 };
		struct ff_spec v = { .src = PEER_IP, .dst = VM_IP, .proto = 6, .n_tags = 1,
				     .vids = { 7 }, .sport = 1, .dport = 2,
				     .tcp_flags = VS_TCP_SYN, .pad_to = 60 };
		const struct ff_spec *specs[] = { &u, NULL, &v };
		unsigned int i;

		for (i = 0; i < G_N_ELEMENTS(specs); i++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
			uint8_t f[256] = { 0 };
			size_t n = 60;

			if (specs[i]) {
				n = ff_build(f, specs[i]);
			} else {	/* ARP's ethertype */
				f[12] = 0x08;
				f[13] = 0x06;
			}
			memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
			g_queue_push_tail(&t.rx, m);
		}
		t_poll(vm, 1);
		g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 1);
	}
	vs_dp_tcp_reset(vm);
	t_poll(vm, 3);
	t_clock_advance_us(1000 * 1000);
	t_poll(vm, 3);
	g_assert_cmpuint(t.sent->len, ==, 0);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 0);
	g_assert_cmpuint(vm->stats.challenges_sent, ==, 0);
	t_tcp_port_free(vm);
}

/*
 * A rule's own tcp-on-loss decides for the connections it matches (issue
 * 20: "only where the policy says tcp-on-loss=reset"), either way: a port
 * that drops, with a rule that resets this peer, resets it; a port that
 * resets, with a rule that drops it, does not; a rule for other peers
 * leaves the port's say
 */
static void test_rule_decides(void)
{
	static const char *const reset_peer[] = {
		"name=nfs match=src=" PEER_IP ",proto=tcp tcp-on-loss=reset", NULL };
	static const char *const drop_peer[] = {
		"name=keep match=src=" PEER_IP ",proto=tcp tcp-on-loss=drop", NULL };
	static const char *const other_peer[] = {
		"name=other match=src=198.51.100.0/24,proto=tcp tcp-on-loss=drop", NULL };
	static const struct {
		enum vs_tcp_on_loss port;
		const char *const *rules;
		unsigned int rsts;
	} cases[] = {
		{ VS_TCP_ON_LOSS_DROP, reset_peer, 1 },
		{ VS_TCP_ON_LOSS_RESET, drop_peer, 0 },
		{ VS_TCP_ON_LOSS_RESET, other_peer, 1 },
		{ VS_TCP_ON_LOSS_DROP, other_peer, 0 },
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(vs_flow_set) set = vs_flow_set_new();
		struct vs_vm *vm = t_tcp_port_new(cases[i].port);

		t_rules(vm, set, cases[i].rules);
		t_establish(vm);
		t_reset_now(vm);
		g_assert_cmpuint(t.sent->len, ==, cases[i].rsts);
		g_assert_cmpuint(vm->stats.resets_sent, ==, cases[i].rsts);
		if (cases[i].rsts) {
			struct t_tcp r = t_parse(0);

			t_assert_to_peer(&r);
			g_assert_cmpuint(r.flags, ==, VS_TCP_RST | VS_TCP_ACK);
			g_assert_cmpuint(r.seq, ==, (uint32_t)(VM_ISN + 1001));
		}
		g_assert_true(vs_dp_tcp_may_reset(vm) ==
			      (cases[i].port == VS_TCP_ON_LOSS_RESET || cases[i].rules == reset_peer));
		t_tcp_port_free(vm);
	}
}

/*
 * The rules in force when the resets go decide (review 70 F3: policy-del
 * of the reset rule after the VM fell silent, being destroyed, changed
 * nothing, since each segment had recorded its rule's tcp-on-loss)
 */
static void test_rule_deleted_still_resets(void)
{
	static const char *const reset_peer[] = {
		"name=nfs match=src=" PEER_IP ",proto=tcp tcp-on-loss=reset", NULL };
	static const char *const none[] = { NULL };
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	g_autoptr(vs_flow_set) set2 = vs_flow_set_new();
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_DROP);

	t_rules(vm, set, reset_peer);
	t_establish(vm);
	t_rules(vm, set2, none);		/* policy-del nfs */
	g_assert_false(vs_dp_tcp_may_reset(vm));
	t_reset_now(vm);
	g_assert_cmpuint(t.sent->len, ==, 0);	/* failed: 1 */
	t_tcp_port_free(vm);
}

/*
 * The VM sent more than the peer acknowledged: its RCV.NXT is unknown, so
 * first an ACK half the sequence space away; the peer's duplicate ACK
 * gives it, and the RST carries exactly that.
 */
static void test_solicit_answered(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	uint32_t rcv_nxt = VM_ISN + 1001 + 500;
	struct t_tcp r;

	t_establish(vm);
	t_vm(VS_TCP_ACK | VS_TCP_PSH, VM_ISN + 1001, PEER_ISN + 101, 1000);	/* unacked */
	t_poll(vm, 1);
	t_reset_now(vm);
	g_assert_cmpuint(t.sent->len, ==, 1);
	r = t_parse(0);
	t_assert_to_peer(&r);
	g_assert_cmpuint(r.flags, ==, VS_TCP_ACK);
	g_assert_cmpuint(r.seq, ==, (uint32_t)(VM_ISN + 1001 + 0x80000000u));
	g_assert_cmpuint(r.ack, ==, PEER_ISN + 101);
	g_assert_cmpuint(vm->stats.challenges_sent, ==, 1);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 0);

	/* not before the wait: the peer answers meanwhile */
	t_poll(vm, 2);
	g_assert_cmpuint(t.sent->len, ==, 1);
	t_peer(VS_TCP_ACK, PEER_ISN + 101, rcv_nxt, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	t_clock_advance_us(DP_TCP_SOLICIT_WAIT_MS * 1000);
	t_poll(vm, 2);
	g_assert_cmpuint(t.sent->len, ==, 2);
	r = t_parse(1);
	t_assert_to_peer(&r);
	g_assert_cmpuint(r.flags & VS_TCP_RST, ==, VS_TCP_RST);
	g_assert_cmpuint(r.seq, ==, rcv_nxt);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 1);
	g_assert_cmpuint(vm->stats.challenges_sent, ==, 1);
	t_clock_advance_us(1000 * 1000);
	t_poll(vm, 3);
	g_assert_cmpuint(t.sent->len, ==, 2);
	t_tcp_port_free(vm);
}

/*
 * No answer: VS_TCP_CT_MAX_SOLICITS solicitations, then the RST with the
 * best value known; a connection the peer never spoke on gets the
 * solicitations and then nothing (no value to send)
 */
static void test_solicit_unanswered(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	unsigned int i, solicits = 0, rsts = 0;

	t_establish(vm);
	t_vm(VS_TCP_ACK | VS_TCP_PSH, VM_ISN + 1001, PEER_ISN + 101, 1000);
	/* a second connection, the VM's SYN only */
	{
		struct ff_spec s = { .src = VM_IP, .dst = PEER_IP, .from_vm = true, .proto = 6,
				     .sport = 33000, .dport = 80, .tcp_flags = VS_TCP_SYN,
				     .seq = 7, .pad_to = 60 };
		struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
		uint8_t f[256];
		size_t n = ff_build(f, &s);

		memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
		g_queue_push_tail(&t.guest, m);
	}
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 2);
	g_ptr_array_set_size(t.sent, 0);

	vs_dp_tcp_reset(vm);
	for (i = 0; i < 10; i++) {
		t_poll(vm, 1);
		t_clock_advance_us(DP_TCP_SOLICIT_WAIT_MS * 1000);
	}
	for (i = 0; i < t.sent->len; i++) {
		struct t_tcp r = t_parse(i);

		if (r.flags & VS_TCP_RST) {
			rsts++;
			g_assert_cmpuint(r.sport, ==, VM_PORT);
			g_assert_cmpuint(r.seq, ==, (uint32_t)(VM_ISN + 1001));	/* best known */
		} else {
			solicits++;
		}
	}
	g_assert_cmpuint(solicits, ==, 2 * VS_TCP_CT_MAX_SOLICITS);
	g_assert_cmpuint(rsts, ==, 1);
	g_assert_cmpuint(vm->stats.challenges_sent, ==, 2 * VS_TCP_CT_MAX_SOLICITS);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 1);
	g_assert_false(vm->dp.tcp->walk_due);
	t_tcp_port_free(vm);
}

/* One SYN of a new connection, from the VM (guest TX) or from a peer */
static void t_syn(bool from_vm, uint16_t vm_port, uint16_t peer_port, uint32_t seq)
{
	struct ff_spec s = { .src = from_vm ? VM_IP : PEER_IP, .dst = from_vm ? PEER_IP : VM_IP,
			     .proto = 6, .sport = from_vm ? vm_port : peer_port,
			     .dport = from_vm ? peer_port : vm_port,
			     .tcp_flags = VS_TCP_SYN, .seq = seq, .pad_to = 60 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	uint8_t f[256];
	size_t n = ff_build(f, &s);

	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	g_queue_push_tail(from_vm ? &t.guest : &t.rx, m);
}

/*
 * Bounded: a flood of new connections the VM opens fills the table,
 * counted; a flood of segments from the network makes no entry at all
 */
static void test_bounds(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	uint64_t entries;
	unsigned int i;

	for (i = 0; i < VS_TCP_CT_DEFAULT_SIZE + 500; i++) {
		t_syn(false, (uint16_t)(5000 + i % 4), (uint16_t)(1024 + i / 4), i);
		if (g_queue_get_length(&t.rx) == VS_DP_BURST)
			t_poll(vm, 1);
	}
	t_poll(vm, 2);
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 0);
	g_assert_cmpuint(vm->stats.tcp_ct_full, ==, 0);

	for (i = 0; i < VS_TCP_CT_DEFAULT_SIZE + 500; i++) {
		t_syn(true, (uint16_t)(5000 + i % 4), (uint16_t)(1024 + i / 4), i);
		if (g_queue_get_length(&t.guest) == VS_DP_BURST)
			t_poll(vm, 1);
	}
	t_poll(vm, 2);
	entries = vm->stats.tcp_ct_entries;
	g_assert_cmpuint(vm->stats.tcp_ct_entries, <=, VS_TCP_CT_DEFAULT_SIZE);
	g_assert_cmpuint(vm->stats.tcp_ct_entries + vm->stats.tcp_ct_full, ==,
			 VS_TCP_CT_DEFAULT_SIZE + 500);
	g_assert_cmpuint(vm->stats.tcp_ct_full, >=, 500);
	g_assert_cmpuint(vm->stats.tcp_ct_aged, ==, 0);
	/* after idle-ms, new connections take the idle ones' slots */
	t_clock_advance_us(VS_TCP_CT_DEFAULT_IDLE_MS * 1000);
	for (i = 0; i < 64; i++) {
		t_syn(true, (uint16_t)(30000 + i), 80, i);
		if (g_queue_get_length(&t.guest) == VS_DP_BURST)
			t_poll(vm, 1);
	}
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_aged, >=, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_evicted, ==, vm->stats.tcp_ct_aged);
	g_assert_cmpuint(vm->stats.tcp_ct_aged + (vm->stats.tcp_ct_entries - entries), ==, 64);
	t_tcp_port_free(vm);
}

/*
 * The table travels with the VM: the source's lcore copies it out on
 * request, the destination's merges it in, and the destination then
 * resets the peer exactly as the source would have, though its VM never
 * sent a segment there.  Neither request is served before the lcore
 * polls, nor taken twice while outstanding.
 */
static void test_export_import(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	const struct vs_tcp_ct_entry *got;
	struct vs_tcp_ct_entry e;
	struct t_tcp r;
	uint32_t n = 99;

	g_assert_null(vs_dp_tcp_export_take(vm, &n));	/* none asked */
	t_establish(vm);
	g_assert_true(vs_dp_tcp_export_start(vm));
	g_assert_false(vs_dp_tcp_export_start(vm));	/* one at a time */
	g_assert_null(vs_dp_tcp_export_take(vm, &n));	/* not polled yet */
	t_poll(vm, 1);
	got = vs_dp_tcp_export_take(vm, &n);
	g_assert_nonnull(got);
	g_assert_cmpuint(n, ==, 1);
	e = got[0];
	g_assert_cmpuint(e.vm_nxt, ==, (uint32_t)(VM_ISN + 1001));
	g_assert_cmpuint(e.peer_ack, ==, (uint32_t)(VM_ISN + 1001));
	t_tcp_port_free(vm);

	/* the destination's port: its VM silent */
	vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	g_assert_false(vs_dp_tcp_import_busy(vm));
	g_assert_true(vs_dp_tcp_import(vm, &e, 1));
	g_assert_true(vs_dp_tcp_import_busy(vm));
	g_assert_false(vs_dp_tcp_import(vm, &e, 1));	/* busy: the caller keeps it */
	g_assert_cmpuint(vm->stats.tcp_ct_imported, ==, 0);
	t_poll(vm, 1);
	g_assert_false(vs_dp_tcp_import_busy(vm));
	g_assert_cmpuint(vm->stats.tcp_ct_imported, ==, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 1);
	/* the same again (a CONNS resent on a new connection): kept, not added */
	g_assert_true(vs_dp_tcp_import(vm, &e, 1));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_imported, ==, 1);
	g_assert_cmpuint(vm->stats.tcp_ct_entries, ==, 1);

	t_reset_now(vm);
	g_assert_cmpuint(t.sent->len, ==, 1);
	r = t_parse(0);
	t_assert_to_peer(&r);
	g_assert_cmpuint(r.flags, ==, VS_TCP_RST | VS_TCP_ACK);
	g_assert_cmpuint(r.seq, ==, (uint32_t)(VM_ISN + 1001));
	g_assert_cmpuint(r.ack, ==, PEER_ISN + 101);
	g_assert_cmpuint(vm->stats.resets_sent, ==, 1);
	t_tcp_port_free(vm);
}

/* A port no lcore polls never answers; its buffers go with the port */
static void test_export_unanswered(void)
{
	struct vs_vm *vm = t_tcp_port_new(VS_TCP_ON_LOSS_RESET);
	struct vs_tcp_ct_entry e = { .af = VS_FLOW_AF_INET };
	uint32_t n;

	g_assert_true(vs_dp_tcp_export_start(vm));
	g_assert_true(vs_dp_tcp_import(vm, &e, 1));
	g_assert_null(vs_dp_tcp_export_take(vm, &n));
	g_assert_true(vs_dp_tcp_import_busy(vm));
	t_tcp_port_free(vm);	/* vs_dp_tcp_fini() frees both */
}

static void add_tests(void)
{
	g_test_add_func("/dp-tcp/rst-exact", test_rst_exact);
	g_test_add_func("/dp-tcp/drop", test_drop);
	g_test_add_func("/dp-tcp/rule-decides", test_rule_decides);
	g_test_add_func("/dp-tcp/rule-deleted", test_rule_deleted_still_resets);
	g_test_add_func("/dp-tcp/l2-from-vm", test_l2_from_vm);
	g_test_add_func("/dp-tcp/solicit/answered", test_solicit_answered);
	g_test_add_func("/dp-tcp/solicit/unanswered", test_solicit_unanswered);
	g_test_add_func("/dp-tcp/bounds", test_bounds);
	g_test_add_func("/dp-tcp/export-import", test_export_import);
	g_test_add_func("/dp-tcp/export-unanswered", test_export_unanswered);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-tcp", add_tests);
}
