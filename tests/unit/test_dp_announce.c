/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_announce.c - the lcore's announcements of the VM
 *
 * Theory of operation: the fakes of dp_harness.h, on real rings and mbufs;
 * the fake uplink keeps every frame it sent (t.sent) so a test compares
 * them byte for byte.  Announce requests are served, not queued;
 * announce=all announces the addresses the guest's TX taught, on its
 * VLANs, until they age out; announce=rarp and off.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "announce.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "pkt.h"
#include "dp_harness.h"

static void test_announce(void)
{
	struct vs_vm *vm = t_port_new();

	t_poll(vm, 1);
	g_assert_cmpuint(t.tx, ==, 0);
	vs_dp_announce(vm);
	vs_dp_announce(vm);
	t_poll(vm, 2);
	g_assert_cmpuint(t.tx, ==, 1);	/* requests served, not queued */
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.tx, ==, 2);
	t_port_free(vm);
}

/*
 * A frame the guest sent from @src on @vlan (0: untagged) that shows it
 * owns @ip: its ARP request (IPv4), its Neighbour Solicitation (IPv6)
 */
static struct rte_mbuf *t_guest_frame(const uint8_t *src, uint16_t vlan, const uint8_t *ip,
				      size_t iplen)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	size_t off = 12;
	uint8_t *p;

	g_assert_nonnull(m);
	g_assert_nonnull(rte_pktmbuf_append(m, 90));
	p = rte_pktmbuf_mtod(m, uint8_t *);
	memset(p, 0, 90);
	memcpy(p, t_peer_mac, 6);
	memcpy(p + 6, src, 6);
	if (vlan) {
		p[12] = 0x81;
		p[14] = (uint8_t)(vlan >> 8);
		p[15] = (uint8_t)vlan;
		off = 16;
	}
	p += off;
	if (iplen == 4) {
		static const uint8_t arp[8] = { 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4 };

		memcpy(p, arp, sizeof(arp));
		p[9] = 1;			/* request */
		memcpy(p + 10, src, 6);		/* sender hardware address */
		memcpy(p + 16, ip, 4);		/* sender protocol address */
	} else {
		p[0] = 0x86;
		p[1] = 0xdd;
		p[2] = 0x60;
		p[2 + 6] = 58;			/* ICMPv6 */
		p[2 + 7] = 255;			/* hop limit */
		memcpy(p + 2 + 8, ip, 16);	/* source */
		p[2 + 40] = 135;		/* Neighbour Solicitation */
		p[2 + 48] = 0xfd;		/* target: someone else */
	}
	return m;
}

/* t_guest_frame()'s IPv6 one made the guest's ICMPv6 @type (134 RA, 136 NA
 * for @ip with @flags) */
static struct rte_mbuf *t_guest_nd(const uint8_t *src, uint16_t vlan, const uint8_t *ip,
				   uint8_t type, uint8_t flags)
{
	struct rte_mbuf *m = t_guest_frame(src, vlan, ip, 16);
	uint8_t *icmp = rte_pktmbuf_mtod(m, uint8_t *) + (vlan ? 18 : 14) + 40;

	icmp[0] = type;
	icmp[4] = flags;
	if (type == 136)
		memcpy(icmp + 8, ip, 16);	/* target */
	return m;
}

static void t_sent_is(unsigned int i, const uint8_t *want, size_t len)
{
	gsize got_len;
	const uint8_t *got = g_bytes_get_data(g_ptr_array_index(t.sent, i), &got_len);

	g_assert_cmpmem(got, got_len, want, len);
}

/*
 * announce=all: what the guest's TX taught is announced, byte for byte, on
 * its VLANs; a learned MAC is the VM's own in the buffer; entries age out;
 * announce=rarp and off
 */
static void test_announce_learned(void)
{
	static const uint8_t mac2[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x99 };
	static const uint8_t ip4[4] = { 10, 0, 0, 5 };
	static const uint8_t ip6[16] = { 0xfd, 0, [13] = 0x64, [15] = 2 };
	static const char *const rules[] = { "name=any match=proto=udp", NULL };
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *tx[3];
	uint8_t want[VS_ANNOUNCE_MAX_FRAME];
	size_t len;

	t.sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	t_clock_fake();
	tx[0] = t_guest_frame(t_vm_mac, 0, ip4, 4);
	tx[1] = t_guest_frame(mac2, 100, ip6, 16);
	tx[2] = t_guest_nd(mac2, 100, ip6, 136, 0x20);	/* its NA: Override */
	dp_learn(vm, tx, 3);
	rte_pktmbuf_free_bulk(tx, 3);
	g_assert_cmpuint(vm->stats.addrs_learned, ==, 4);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 0), ==, 2);

	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 4);
	g_assert_cmpuint(vm->stats.announce_frames, ==, 4);
	len = vs_announce_rarp(want, sizeof(want), t_vm_mac, VS_LEARN_UNTAGGED);
	t_sent_is(0, want, len);
	len = vs_announce_rarp(want, sizeof(want), mac2, 100);
	t_sent_is(1, want, len);
	len = vs_announce_garp(want, sizeof(want), t_vm_mac, VS_LEARN_UNTAGGED, ip4);
	t_sent_is(2, want, len);
	len = vs_announce_na(want, sizeof(want), mac2, 100, ip6, VS_LEARN_NA_OVERRIDE);
	t_sent_is(3, want, len);

	/* a frame from the second MAC, flooded back while buffering: own */
	vs_dp_buffer_start(vm, true);
	g_queue_push_tail(&t.rx, t_guest_frame(mac2, 100, ip6, 16));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_OWN_MAC], ==, 1);
	/* the same on a port with flow rules (dp_buffer_rules) */
	t_rules(vm, set, rules);
	g_queue_push_tail(&t.rx, t_guest_frame(mac2, 100, ip6, 16));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_OWN_MAC], ==, 2);
	vs_dp_set_live(vm);

	/* the VM left (or a migration in starts): forgotten, only the
	 * configured MAC's RARP and MAC are left */
	vs_dp_learn_forget(vm);
	g_ptr_array_set_size(t.sent, 0);
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 0), ==, 0);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 4), ==, 0);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 6), ==, 0);
	vs_dp_buffer_start(vm, true);
	g_queue_push_tail(&t.rx, t_guest_frame(mac2, 100, ip6, 16));
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_OWN_MAC], ==, 2);	/* not own any more */
	vs_dp_held_drop_all(vm, VS_DROP_POLICY);
	vs_dp_set_live(vm);
	/* learned again */
	tx[0] = t_guest_frame(mac2, 100, ip6, 16);
	dp_learn(vm, tx, 1);
	rte_pktmbuf_free(tx[0]);
	g_assert_cmpuint(vm->stats.addrs_learned, ==, 6);

	/* aged out: only the configured MAC's RARP is left */
	t_clock_advance_us((uint64_t)(VS_LEARN_DEFAULT_AGE_MS + 1) * 1000);
	g_ptr_array_set_size(t.sent, 0);
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	g_assert_cmpuint(vm->stats.addrs_aged, ==, 2);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 6), ==, 0);

	/* rarp: no learning, the configured MAC only; off: nothing */
	vm->cfg->announce = VS_ANNOUNCE_RARP;
	tx[0] = t_guest_frame(mac2, 7, ip4, 4);
	dp_learn(vm, tx, 1);
	rte_pktmbuf_free(tx[0]);
	g_assert_cmpuint(vm->stats.addrs_learned, ==, 6);
	g_ptr_array_set_size(t.sent, 0);
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	vm->cfg->announce = VS_ANNOUNCE_OFF;
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);
	g_ptr_array_unref(t.sent);
	t.sent = NULL;
	t_port_free(vm);
}

/*
 * The NA keeps what the VM advertised: learned from its own NA with Router
 * and Override (and Solicited, which an unsolicited NA never carries), it
 * goes out with Router and Override
 */
static void test_announce_router(void)
{
	static const uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct vs_vm *vm = t_port_new();
	uint8_t want[VS_ANNOUNCE_MAX_FRAME], *p;
	struct rte_mbuf *tx;
	size_t len;

	t.sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	t_clock_fake();
	tx = t_guest_frame(t_vm_mac, 0, ip6, 16);	/* an NS: make it an NA */
	p = rte_pktmbuf_mtod(tx, uint8_t *) + 14 + 40;
	p[0] = 136;
	p[4] = 0xe0;					/* Router, Solicited, Override */
	memcpy(p + 8, ip6, 16);				/* target */
	dp_learn(vm, &tx, 1);
	rte_pktmbuf_free(tx);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 6), ==, 1);

	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 2);		/* RARP, NA */
	len = vs_announce_na(want, sizeof(want), t_vm_mac, VS_LEARN_UNTAGGED, ip6,
			     VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	t_sent_is(1, want, len);
	g_assert_cmphex(want[14 + 40 + 4], ==, 0xa0);
	g_ptr_array_unref(t.sent);
	t.sent = NULL;
	t_port_free(vm);
}

/*
 * Review B, A1: an IPv6 address seen only in the VM's NS (or RS) is not
 * announced with an NA: whether the VM routes is unknown, and an NA with
 * Router clear for a router's address makes Linux hosts drop their
 * default route through it.  The RARP moves its MAC.  Once the VM sent
 * an RA from that (MAC, VLAN), the NA goes out, with Router.
 */
static void test_announce_flags_unknown(void)
{
	static const uint8_t ll6[16] = { 0xfe, 0x80, [15] = 1 };
	struct vs_vm *vm = t_port_new();
	uint8_t want[VS_ANNOUNCE_MAX_FRAME];
	struct rte_mbuf *tx;
	size_t len;

	t.sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	t_clock_fake();
	tx = t_guest_frame(t_vm_mac, 0, ll6, 16);	/* its NS */
	dp_learn(vm, &tx, 1);
	rte_pktmbuf_free(tx);
	g_assert_cmpuint(vs_learn_count(&vm->dp.learn, 6), ==, 1);
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 1);		/* the RARP only */
	len = vs_announce_rarp(want, sizeof(want), t_vm_mac, VS_LEARN_UNTAGGED);
	t_sent_is(0, want, len);

	tx = t_guest_nd(t_vm_mac, 0, ll6, 134, 0);	/* its RA */
	dp_learn(vm, &tx, 1);
	rte_pktmbuf_free(tx);
	g_ptr_array_set_size(t.sent, 0);
	vs_dp_announce(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(t.sent->len, ==, 2);		/* RARP, NA */
	len = vs_announce_na(want, sizeof(want), t_vm_mac, VS_LEARN_UNTAGGED, ll6,
			     VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	t_sent_is(1, want, len);
	g_ptr_array_unref(t.sent);
	t.sent = NULL;
	t_port_free(vm);
}

static void add_tests(void)
{
	g_test_add_func("/dataplane/announce", test_announce);
	g_test_add_func("/dataplane/announce-learned", test_announce_learned);
	g_test_add_func("/dataplane/announce-router", test_announce_router);
	g_test_add_func("/dataplane/announce-flags-unknown", test_announce_flags_unknown);
}

int main(int argc, char **argv)
{
	return t_main(argc, argv, "dp-announce", add_tests);
}
