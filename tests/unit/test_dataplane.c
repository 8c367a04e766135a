/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dataplane.c - the lcore's half of a port on real rings and mbufs
 *
 * Theory of operation: EAL runs without hugepages, devices or shared files
 * (--no-huge --no-pci --in-memory), so mempools and rings are real and the
 * test runs in a second as any user that may mlock nothing.  The guest and
 * the uplink are fakes behind struct vs_dp_ops: the uplink hands out the
 * frames a test queued, the guest's RX ring takes as many frames per call
 * as the test allows and records their sequence numbers.  Each test drives
 * vs_dp_poll_port() the way a worker does, and the main loop's half
 * through dp_handshake.h, and checks the order of what the guest got and
 * that every frame the uplink gave is accounted for:
 *   uplink_rx = delivered + drops + in held, inject or the pending burst.
 */
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "announce.h"
#include "dataplane.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "pkt.h"
#include "vm.h"

#define T_POOL_SIZE	8191
#define T_MAX_FRAMES	20000
#define T_UNLIMITED	UINT32_MAX

static struct rte_mempool *t_pool;
static const uint8_t t_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t t_peer_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

/* --- fake uplink and guest ------------------------------------------------ */

static struct {
	GQueue rx;			/* struct rte_mbuf *, handed out in order */
	uint64_t tx;			/* frames sent on the uplink */
	uint32_t guest_room;		/* frames the guest's ring takes per call */
	uint32_t guest_budget;		/* frames it takes in all (T_UNLIMITED) */
	GArray *got;			/* uint32_t seq of each frame delivered */
	uint64_t nombuf, missed;	/* the uplink's own drop counters */
	uint16_t rx_q;			/* the uplink queue t.rx's frames come on */
	uint32_t vring_frames[8];	/* frames enqueued per guest RX vring */
	bool fake_clock;		/* the lcore reads now, not the TSC */
	uint64_t now;			/* the fake clock, in TSC cycles */
	GPtrArray *sent;		/* GBytes of each frame sent, if set */
} t;

static uint32_t t_seq_of(struct rte_mbuf *m)
{
	uint32_t seq;

	memcpy(&seq, rte_pktmbuf_mtod_offset(m, uint8_t *, 42), sizeof(seq));
	return seq;
}

static uint16_t t_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i, take = (uint16_t)MIN((uint32_t)n, MIN(t.guest_room, t.guest_budget));

	g_assert_cmpint(vid, ==, 0);
	g_assert_cmpuint(vring % 2, ==, 0);	/* an RX vring */
	g_assert_cmpuint(vring, <, G_N_ELEMENTS(t.vring_frames));
	for (i = 0; i < take; i++) {
		uint32_t seq = t_seq_of(pkts[i]);

		g_array_append_val(t.got, seq);
	}
	if (t.guest_budget != T_UNLIMITED)
		t.guest_budget -= take;
	t.vring_frames[vring] += take;
	return take;
}

static uint16_t t_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	if (q != t.rx_q)
		return 0;
	for (i = 0; i < n && !g_queue_is_empty(&t.rx); i++)
		pkts[i] = g_queue_pop_head(&t.rx);
	return i;
}

static uint16_t t_uplink_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	for (i = 0; t.sent && i < n; i++)
		g_ptr_array_add(t.sent, g_bytes_new(rte_pktmbuf_mtod(pkts[i], const void *),
						    rte_pktmbuf_data_len(pkts[i])));
	rte_pktmbuf_free_bulk(pkts, n);
	t.tx += n;
	return n;
}

static unsigned int t_guest_tx(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	return 0;
}

static int t_uplink_drops(uint16_t port, uint64_t *nombuf, uint64_t *missed)
{
	*nombuf = t.nombuf;
	*missed = t.missed;
	return 0;
}

static uint64_t t_tsc(void)
{
	return t.fake_clock ? t.now : rte_get_tsc_cycles();
}

/* The fake clock from now on, starting at the TSC's value */
static void t_clock_fake(void)
{
	t.now = rte_get_tsc_cycles();
	t.fake_clock = true;
}

static void t_clock_advance_us(uint64_t us)
{
	t.now += us * rte_get_tsc_hz() / 1000000;
}

static const struct vs_dp_ops t_ops = {
	.guest_enqueue = t_guest_enqueue,
	.uplink_rx = t_uplink_rx,
	.uplink_tx = t_uplink_tx,
	.guest_tx = t_guest_tx,
	.uplink_drops = t_uplink_drops,
	.tsc = t_tsc,
};

/* --- frames and ports ------------------------------------------------------ */

/* An IPv4 UDP frame to the VM carrying @seq at offset 42 */
static struct rte_mbuf *t_frame(uint32_t seq, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	uint8_t *p;

	g_assert_nonnull(m);
	g_assert_cmpuint(len, >=, 46);
	g_assert_nonnull(rte_pktmbuf_append(m, len));
	p = rte_pktmbuf_mtod(m, uint8_t *);
	memset(p, 0, len);
	memcpy(p, t_vm_mac, 6);
	memcpy(p + 6, t_peer_mac, 6);
	p[12] = 0x08;			/* IPv4 */
	p[14] = 0x45;
	p[16] = (uint8_t)((len - 14) >> 8);
	p[17] = (uint8_t)(len - 14);
	p[22] = 64;
	p[23] = 17;			/* UDP */
	memcpy(p + 42, &seq, sizeof(seq));
	*vs_dp_arrival(m) = 0;		/* no arrival time (a tunnelled frame of a peer
					 * that sends none); uplink_rx stamps its own */
	return m;
}

static void t_uplink_queue(uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_queue_push_tail(&t.rx, t_frame(first + i, 64));
}

static void t_inject(struct vs_vm *vm, uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_assert_cmpint(vs_dp_inject_put(vm, t_frame(first + i, 64)), ==, 0);
}

static struct vs_vm *t_port_new(void)
{
	static unsigned int serial;
	struct vs_vm *vm = g_new0(struct vs_vm, 1);
	g_autoptr(GError) err = NULL;

	vm->cfg = g_new0(struct vs_port_cfg, 1);
	vm->cfg->name = g_strdup_printf("t%u", serial++);
	memcpy(vm->cfg->mac, t_vm_mac, 6);
	vm->cfg->queues = 1;
	vs_buf_policy_init(&vm->policy);
	vm->policy.replay_pace_pct = 0;	/* tests of order; pacing: test_pace() */
	vm->pool = t_pool;
	vm->vid = 0;
	vm->vring_enabled = 1u << VS_VRING_RX(0) | 1u << VS_VRING_TX(0);
	g_assert_true(vs_dp_port_init(vm, 1024, 256, &err));
	g_assert_no_error(err);

	memset(&t, 0, sizeof(t));
	g_queue_init(&t.rx);
	t.got = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	t.guest_room = T_UNLIMITED;
	t.guest_budget = T_UNLIMITED;
	t.fake_clock = false;
	return vm;
}

static uint64_t t_drops(const struct vs_vm *vm)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < VS_DROP_NUM_REASONS; i++)
		n += vm->stats.drops[i] + vm->stats.ctl_drops[i];
	return n;
}

/* uplink_rx = delivered + counted drops + in flight (frames the test
 * injected count as received too: @injected) */
static void t_check_accounting(const struct vs_vm *vm, uint64_t injected)
{
	g_assert_cmpuint(vm->stats.uplink_rx_pkts + injected, ==,
			 vm->stats.rx_pkts + t_drops(vm) + vs_dp_buffered_now(vm));
	g_assert_cmpuint(vm->stats.rx_pkts, ==, t.got->len);
}

static void t_port_free(struct vs_vm *vm)
{
	struct rte_mbuf *m;

	vs_dp_port_fini(vm);
	vs_dp_flow_detach(vm);
	while ((m = g_queue_pop_head(&t.rx)))
		rte_pktmbuf_free(m);
	g_array_free(t.got, TRUE);
	g_free(vm->cfg->name);
	g_free(vm->cfg);
	g_free(vm);
	/* every mbuf came back: nothing leaked, nothing freed twice */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, T_POOL_SIZE);
}

static unsigned int t_poll(struct vs_vm *vm, unsigned int times)
{
	unsigned int i, work = 0;

	for (i = 0; i < times; i++)
		work += vs_dp_poll_port(vm);
	return work;
}

/* the guest got exactly first..first+n-1 at t.got[at..] */
static void t_assert_run(unsigned int at, uint32_t first, uint32_t n)
{
	uint32_t i;

	g_assert_cmpuint(t.got->len, >=, at + n);
	for (i = 0; i < n; i++)
		g_assert_cmpuint(g_array_index(t.got, uint32_t, at + i), ==, first + i);
}

/* --- tests ----------------------------------------------------------------- */

static void test_live(void)
{
	struct vs_vm *vm = t_port_new();

	t_uplink_queue(1, 40);
	t_poll(vm, 2);
	t_assert_run(0, 1, 40);
	g_assert_cmpuint(vm->stats.uplink_rx_pkts, ==, 40);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * A replay delivers the pending burst, then inject, then held, then the
 * live frames that arrived meanwhile, in that order, with a guest that
 * takes few frames at a time; held waits until inject is closed.
 */
static void test_order(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1000, 100);		/* blackout: local frames */
	t_poll(vm, 4);
	g_assert_cmpuint(t.got->len, ==, 0);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 100);

	t_inject(vm, 1, 50);			/* tunnelled: older */
	t.guest_room = 7;
	vs_dp_replay_start(vm);
	t_uplink_queue(5000, 30);		/* live, during the replay */
	t_poll(vm, 20);
	/* inject delivered, held waits for inject_done, live frames behind */
	t_assert_run(0, 1, 50);
	g_assert_cmpuint(t.got->len, ==, 50);
	g_assert_true(vs_dp_live_seen(vm));
	g_assert_false(vs_dp_replay_finished(vm));
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);

	t_inject(vm, 51, 10);			/* a late tunnelled burst */
	vs_dp_inject_close(vm);
	t_poll(vm, 100);
	t_assert_run(0, 1, 60);
	t_assert_run(60, 1000, 100);
	t_assert_run(160, 5000, 30);
	g_assert_true(vs_dp_replay_finished(vm));
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(vm->stats.replayed_pkts, ==, 190);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 30);

	t.guest_room = T_UNLIMITED;
	t_uplink_queue(6000, 5);		/* live again */
	t_poll(vm, 1);
	t_assert_run(190, 6000, 5);
	t_check_accounting(vm, 60);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_port_free(vm);
}

/* A replay waits while the device is gone; nothing is dropped meanwhile */
static void test_replay_without_device(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 10);
	t_poll(vm, 1);
	vm->vid = -1;
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 5);
	g_assert_cmpuint(t.got->len, ==, 0);
	vm->vid = 0;
	t_poll(vm, 5);
	t_assert_run(0, 1, 10);
	g_assert_true(vs_dp_replay_finished(vm));
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The caps of an episode, drop-newest and drop-oldest, and a new episode */
static void test_caps(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = 10;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 25);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 15);
	g_assert_cmpuint(vm->stats.buffer_peak_pkts, ==, 10);

	/* the same episode: buffer_start with caps keeps it */
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(100, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 16);

	/* drop-oldest keeps the newest 10 */
	vm->policy.overflow = VS_OVERFLOW_DROP_OLDEST;
	t_uplink_queue(200, 12);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 28);

	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	t_assert_run(0, 202, 10);
	t_check_accounting(vm, 0);

	/* no caps (straggler forwarding): only the ring bounds it */
	vs_dp_buffer_start(vm, false);
	t_uplink_queue(300, 40);
	t_poll(vm, 2);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 40);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 28);

	/* a class the policy drops */
	vs_dp_buffer_start(vm, true);	/* from no caps: a new episode */
	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	t_uplink_queue(400, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* A UDP frame to destination port @dport (t_frame()'s, with ports) */
static struct rte_mbuf *t_frame_dport(uint32_t seq, uint16_t dport)
{
	struct rte_mbuf *m = t_frame(seq, 64);
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

	p[34] = 0x30;			/* source port 12345 */
	p[35] = 0x39;
	p[36] = (uint8_t)(dport >> 8);
	p[37] = (uint8_t)dport;
	p[38] = 0;			/* UDP length: the rest */
	p[39] = 64 - 34;
	return m;
}

static void t_uplink_queue_dport(uint32_t first, uint32_t n, uint16_t dport)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_queue_push_tail(&t.rx, t_frame_dport(first + i, dport));
}

/* Compile @lines (--policy rules) for @vm and publish the table */
static void t_rules(struct vs_vm *vm, struct vs_flow_set *set, const char *const *lines)
{
	g_autoptr(GError) err = NULL;
	struct vs_flow_table *tab;

	for (; *lines; lines++) {
		struct vs_flow_rule *r = vs_flow_syntax_parse_line(*lines, &err);

		g_assert_no_error(err);
		g_assert_true(vs_flow_set_add(set, r, &err));
	}
	tab = vs_dp_flow_compile(vm, set, &vm->policy, &err);
	g_assert_no_error(err);
	vs_dp_flow_install(vm, tab);
}

static struct vs_dp_flow_ctr t_rule_ctr(const struct vs_vm *vm, const char *name)
{
	const struct vs_flow_table *tab = vm->dp.flow->t;
	struct vs_dp_flow_ctr c;
	uint32_t i;

	for (i = 0; i < tab->n_rules; i++)
		if (!strcmp(tab->rules[i].name, name)) {
			vs_dp_flow_get_ctr(vm, i, &c);
			return c;
		}
	g_assert_not_reached();
}

/*
 * Flow policy: under caps that cannot hold both flows, the high-priority
 * rule's reservation keeps every one of its frames while the bulk rule is
 * refused (pressure) and counted under its rule; a rule with action=drop;
 * a table replaced mid-episode keeps the accounting (by rule id); a port
 * without rules keeps the class caps and counts under the default rules
 */
static void test_flow_rules(void)
{
	static const char *const rules[] = {
		"name=hi match=proto=udp,dport=5004 priority=7 max-pkts=20",
		"name=bulk match=proto=udp,dport=9000",
		"name=junk match=proto=udp,dport=7 action=drop",
		NULL,
	};
	static const char *const more[] = { "name=late match=proto=udp,dport=9001", NULL };
	g_autoptr(vs_flow_set) set = vs_flow_set_new();
	struct vs_vm *vm = t_port_new();
	struct vs_dp_flow_ctr c;

	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	vm->policy.max_pkts[VS_PKT_TCP] = 5;
	vm->policy.max_pkts[VS_PKT_OTHER] = 5;	/* totals: 50 packets */
	t_rules(vm, set, rules);
	vs_dp_buffer_start(vm, true);
	t_uplink_queue_dport(1, 100, 9000);	/* bulk first: it fills what is not reserved */
	t_uplink_queue_dport(1001, 20, 5004);
	t_uplink_queue_dport(2001, 3, 7);
	t_poll(vm, 5);
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.matched, ==, 20);
	g_assert_cmpuint(c.buffered, ==, 20);
	g_assert_cmpuint(c.dropped, ==, 0);
	c = t_rule_ctr(vm, "bulk");
	g_assert_cmpuint(c.matched, ==, 100);
	g_assert_cmpuint(c.buffered, ==, 30);
	g_assert_cmpuint(c.dropped, ==, 70);
	c = t_rule_ctr(vm, "junk");
	g_assert_cmpuint(c.dropped, ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 70);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);

	/* a new table mid-episode: the counts stay, by rule id */
	t_rules(vm, set, more);
	t_uplink_queue_dport(3001, 5, 9001);
	t_uplink_queue_dport(3101, 1, 5004);	/* hi is at its own cap */
	t_poll(vm, 2);
	c = t_rule_ctr(vm, "late");
	g_assert_cmpuint(c.dropped, ==, 5);	/* the buffer is full */
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.buffered, ==, 20);
	g_assert_cmpuint(c.dropped, ==, 1);
	c = t_rule_ctr(vm, "bulk");
	g_assert_cmpuint(c.matched, ==, 100);	/* carried over */

	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 5);
	g_assert_cmpuint(t.got->len, ==, 50);
	t_check_accounting(vm, 0);

	/* the next episode starts from nothing */
	vs_dp_buffer_start(vm, true);
	t_uplink_queue_dport(4001, 10, 5004);
	t_poll(vm, 1);
	c = t_rule_ctr(vm, "hi");
	g_assert_cmpuint(c.buffered, ==, 30);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);

	/* a full guest ring (frames held behind a replay, against what held
	 * holds now): bulk keeps at most the totals less hi's reservation */
	vm = t_port_new();
	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	vm->policy.max_pkts[VS_PKT_TCP] = 5;
	vm->policy.max_pkts[VS_PKT_OTHER] = 5;
	{
		g_autoptr(vs_flow_set) set2 = vs_flow_set_new();
		unsigned int hi_got = 0;
		guint k;

		t_rules(vm, set2, rules);
		t.guest_room = 0;
		t_uplink_queue_dport(1, 100, 9000);
		t_uplink_queue_dport(1001, 20, 5004);
		t_poll(vm, 10);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
		g_assert_cmpuint(rte_ring_count(vm->dp.held), <=, 50);
		c = t_rule_ctr(vm, "hi");
		g_assert_cmpuint(c.buffered, ==, 20);
		g_assert_cmpuint(c.dropped, ==, 0);
		c = t_rule_ctr(vm, "bulk");	/* (held feeds the pending burst) */
		g_assert_cmpuint(c.dropped, >, 0);
		g_assert_cmpuint(c.buffered + c.dropped, ==, c.matched);
		t.guest_room = T_UNLIMITED;
		t_poll(vm, 5);
		g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
		for (k = 0; k < t.got->len; k++)
			hi_got += g_array_index(t.got, uint32_t, k) > 1000;
		g_assert_cmpuint(hi_got, ==, 20);
		t_check_accounting(vm, 0);
	}
	t_port_free(vm);

	/* no rules: the class caps, counted under the default rules */
	vm = t_port_new();
	vm->policy.max_pkts[VS_PKT_UDP] = 10;
	{
		static const char *const none[] = { NULL };
		g_autoptr(vs_flow_set) empty = vs_flow_set_new();

		t_rules(vm, empty, none);
	}
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 25);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 10);
	c = t_rule_ctr(vm, "default-udp");
	g_assert_cmpuint(c.matched, ==, 25);
	g_assert_cmpuint(c.buffered, ==, 10);
	g_assert_cmpuint(c.dropped, ==, 15);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * Drain (the source's barrier): the lcore empties the uplink's queue in one
 * poll, beyond one burst, then marks held; the mark is reached once held
 * was taken up to it, not before.
 */
static void test_drain(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *m[64];
	uint32_t ticket;
	unsigned int got;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 10);
	t_poll(vm, 1);
	ticket = vs_dp_drain_request(vm);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_PENDING);
	t_uplink_queue(11, 200);		/* more than one burst */
	t_poll(vm, 1);
	g_assert_cmpuint(g_queue_get_length(&t.rx), ==, 0);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	t_uplink_queue(211, 5);			/* after the mark */
	t_poll(vm, 1);

	got = vs_dp_held_take(vm, m, 64);
	g_assert_cmpuint(got, ==, 64);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	rte_pktmbuf_free_bulk(m, got);
	while ((got = vs_dp_held_take(vm, m, 1)) && t_seq_of(m[0]) < 209)
		rte_pktmbuf_free(m[0]);
	g_assert_cmpuint(got, ==, 1);
	rte_pktmbuf_free(m[0]);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	g_assert_cmpuint(vs_dp_held_take(vm, m, 1), ==, 1);
	g_assert_cmpuint(t_seq_of(m[0]), ==, 210);	/* the last before the mark */
	rte_pktmbuf_free(m[0]);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);

	/* a second request supersedes the first */
	ticket = vs_dp_drain_request(vm);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_PENDING);
	t_poll(vm, 1);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_ANSWERED);
	vs_dp_held_drop_all(vm, VS_DROP_PEER_LOST);
	g_assert_cmpint(vs_dp_drain_state(vm, ticket), ==, VS_DP_DRAIN_REACHED);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_PEER_LOST], ==, 5);
	t_port_free(vm);
}

/* A full guest ring in live mode: the rest waits in held, in order */
static void test_ring_full(void)
{
	struct vs_vm *vm = t_port_new();

	t.guest_room = 5;
	t_uplink_queue(1, 32);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	t_uplink_queue(33, 10);
	t_poll(vm, 30);
	t_assert_run(0, 1, 42);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 0);

	/* buffering off: a full ring drops, as a NIC's would */
	vm->policy.enabled = false;
	t.guest_room = 0;
	t_uplink_queue(100, 4);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_VM_RING_FULL], ==, 4);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* Frames left in held while LIVE: replayed first if the VM runs, else
 * dropped under the reason of the main loop's last drain */
static void test_adopt(void)
{
	struct vs_vm *vm = t_port_new();

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 3);
	t_poll(vm, 1);
	vs_dp_held_drop_all(vm, VS_DROP_BUFFER_EXPIRED);
	t_uplink_queue(4, 2);		/* a burst the lcore queued behind the drain */
	t_poll(vm, 1);
	vm->vid = -1;
	vs_dp_set_live(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_EXPIRED], ==, 2);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_BUFFER_EXPIRED], ==, 3);

	vm->vid = 0;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(10, 4);
	t_poll(vm, 1);
	vs_dp_set_live(vm);
	t_uplink_queue(20, 2);
	t_poll(vm, 3);
	t_assert_run(0, 10, 4);
	t_assert_run(4, 20, 2);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * The switchover during a replay: the burst on its way to the guest
 * (pending), what inject still holds and held go back into the buffer in
 * that order, nothing dropped, and the main loop takes nothing from held
 * before the lcore has put them there.
 */
static void test_switchover_in_flight(void)
{
	struct vs_vm *vm = t_port_new();
	struct rte_mbuf *m[64];
	unsigned int got, i;

	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1000, 20);		/* local frames of the blackout */
	t_poll(vm, 1);
	t_inject(vm, 1, 40);			/* tunnelled */
	vs_dp_replay_start(vm);
	t.guest_room = 4;
	t.guest_budget = 4;
	t_poll(vm, 1);		/* 4 delivered, 28 pending: the guest stops */
	g_assert_cmpuint(t.got->len, ==, 4);
	g_assert_cmpuint(vm->dp.pending.n, ==, 28);
	t_uplink_queue(2000, 5);		/* live, behind the replay */
	t_poll(vm, 1);

	vm->vid = -1;				/* destroy_device */
	vs_dp_device_gone(vm);			/* LIVE only: REPLAY stays */
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	vs_dp_buffer_start(vm, true);		/* the main loop: device-down */
	g_assert_cmpuint(vs_dp_held_take(vm, m, 1), ==, 0);	/* not yet */
	t_uplink_queue(3000, 3);		/* the blackout's own frames */
	t_poll(vm, 1);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	t_check_accounting(vm, 40);

	/* the order the guest would have seen: 5..40, 1000.., 2000.., 3000.. */
	got = 0;
	while ((i = vs_dp_held_take(vm, &m[0], 1))) {
		uint32_t seq = t_seq_of(m[0]);
		uint32_t want = got < 36 ? 5 + got : got < 56 ? 1000 + got - 36 :
				 got < 61 ? 2000 + got - 56 : 3000 + got - 61;

		g_assert_cmpuint(seq, ==, want);
		rte_pktmbuf_free(m[0]);
		got++;
	}
	g_assert_cmpuint(got, ==, 64);
	t_port_free(vm);
}

/*
 * Inject leftovers at the end of an episode (frames the main loop put
 * there after the replay ended, or a replay the device left) are not left
 * behind: the next episode takes them into the buffer, and the main loop's
 * drain of the buffer counts them.
 */
static void test_inject_leftovers(void)
{
	struct vs_vm *vm = t_port_new();

	vm->vid = -1;
	t_inject(vm, 1, 7);			/* LIVE, no device: they wait */
	t_poll(vm, 2);
	g_assert_cmpuint(rte_ring_count(vm->dp.inject), ==, 7);
	vs_dp_device_gone(vm);
	t_poll(vm, 1);
	g_assert_cmpuint(rte_ring_count(vm->dp.inject), ==, 0);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 7);
	vs_dp_held_drop_all(vm, VS_DROP_BUFFER_EXPIRED);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_BUFFER_EXPIRED], ==, 7);
	t_check_accounting(vm, 7);
	t_port_free(vm);
}

/*
 * Frames held behind a replay obey the caps, counted against what held
 * holds now: a replay stalled on a silent tunnel cannot take the pool.
 */
static void test_caps_behind_replay(void)
{
	struct vs_vm *vm = t_port_new();
	unsigned int avail0 = rte_mempool_avail_count(t_pool);

	vm->policy.max_pkts[VS_PKT_UDP] = 50;
	vs_dp_buffer_start(vm, true);
	t_uplink_queue(1, 30);
	t_poll(vm, 1);
	vs_dp_replay_start(vm);			/* inject not closed: held waits */
	t_uplink_queue(100, 4000);		/* a flood meanwhile */
	t_poll(vm, 200);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);
	g_assert_cmpuint(vm->stats.live_held_pkts, ==, 20);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_BUFFER_FULL], ==, 3980);
	/* the pool keeps every mbuf beyond the caps for the replay path */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), >=, avail0 - 50);
	t_check_accounting(vm, 0);

	/* drop-oldest: the newest 50 are kept */
	vm->policy.overflow = VS_OVERFLOW_DROP_OLDEST;
	t_uplink_queue(5000, 60);
	t_poll(vm, 3);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 50);
	vs_dp_inject_close(vm);
	t_poll(vm, 10);
	t_assert_run(0, 5010, 50);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);

	/* a class the policy does not buffer is not held either */
	vs_dp_replay_start(vm);
	vm->policy.class_policy[VS_PKT_UDP] = VS_CLASS_DROP;
	t_uplink_queue(6000, 3);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_POLICY], ==, 3);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* The ring-full mini-replay obeys the caps too */
static void test_caps_ring_full(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.max_pkts[VS_PKT_UDP] = 40;
	t.guest_room = 0;
	t_uplink_queue(1, 1000);
	t_poll(vm, 40);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_REPLAY);
	g_assert_cmpuint(rte_ring_count(vm->dp.held) + vm->dp.pending.n, <=, 40 + 32);
	g_assert_cmpuint(rte_ring_count(vm->dp.held), <=, 40);
	t_check_accounting(vm, 0);
	t.guest_room = T_UNLIMITED;
	t_poll(vm, 5);
	g_assert_cmpint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	/* delivered in order, gaps where the caps dropped */
	for (guint i = 1; i < t.got->len; i++)
		g_assert_cmpuint(g_array_index(t.got, uint32_t, i), >,
				 g_array_index(t.got, uint32_t, i - 1));
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/*
 * The race issue 16 found: the lcore reads inject (empty), the main loop
 * puts its last burst there and closes inject, the lcore reads inject_done
 * and takes held: held frames before tunnelled ones.  Two threads, many
 * rounds; a tunnelled frame must always come before every held one.
 */
struct t_race {
	struct vs_vm *vm;
	volatile int round;		/* main: the round under way, -1: stop */
	volatile int done;		/* lcore: the last round it finished */
};

static gpointer t_race_lcore(gpointer data)
{
	struct t_race *r = data;
	int seen = 0;

	for (;;) {
		int round = __atomic_load_n(&r->round, __ATOMIC_ACQUIRE);

		if (round < 0)
			break;
		if (round == seen) {
			g_thread_yield();	/* the machine may have fewer cores than threads */
			continue;
		}
		while (!vs_dp_replay_finished(r->vm))
			vs_dp_poll_port(r->vm);
		seen = round;
		__atomic_store_n(&r->done, round, __ATOMIC_RELEASE);
	}
	return NULL;
}

#define T_RACE_ROUNDS	2000

static void test_race_inject_held(void)
{
	struct vs_vm *vm = t_port_new();
	struct t_race r = { .vm = vm };
	struct rte_mbuf *tun[2];
	GThread *lcore;
	int round, spin;

	lcore = g_thread_new("lcore", t_race_lcore, &r);
	for (round = 1; round <= T_RACE_ROUNDS; round++) {
		guint at = t.got->len;

		vs_dp_buffer_start(vm, true);
		t_uplink_queue((uint32_t)round * 10 + 5, 2);	/* held: newer */
		vs_dp_poll_port(vm);	/* the lcore thread polls only in a round */
		g_assert_cmpuint(rte_ring_count(vm->dp.held), ==, 2);
		tun[0] = t_frame((uint32_t)round * 10, 64);	/* tunnelled: older */
		tun[1] = t_frame((uint32_t)round * 10 + 1, 64);
		vs_dp_replay_start(vm);
		__atomic_store_n(&r.round, round, __ATOMIC_RELEASE);
		/* the pump: the last tunnelled frames, then inject_done */
		for (spin = g_random_int_range(0, 2000); spin > 0; spin--)
			__asm__ volatile("" ::: "memory");
		g_assert_cmpint(vs_dp_inject_put(vm, tun[0]), ==, 0);
		g_assert_cmpint(vs_dp_inject_put(vm, tun[1]), ==, 0);
		vs_dp_inject_close(vm);
		while (__atomic_load_n(&r.done, __ATOMIC_ACQUIRE) != round)
			g_thread_yield();
		g_assert_cmpuint(t.got->len, ==, at + 4);
		t_assert_run(at, (uint32_t)round * 10, 2);
		t_assert_run(at + 2, (uint32_t)round * 10 + 5, 2);
	}
	__atomic_store_n(&r.round, -1, __ATOMIC_RELEASE);
	g_thread_join(lcore);
	t_check_accounting(vm, 2 * T_RACE_ROUNDS);
	t_port_free(vm);
}

/*
 * A guest that enables fewer queue pairs than the port has: frames of an
 * uplink queue whose RX vring is off go to an enabled one, the same for a
 * given uplink queue, without a drop or a switch to REPLAY.
 */
static void test_multiqueue_fewer_enabled(void)
{
	struct vs_vm *vm = t_port_new();
	uint32_t rx0 = 1u << VS_VRING_RX(0), rx1 = 1u << VS_VRING_RX(1);
	uint32_t rx2 = 1u << VS_VRING_RX(2), rx3 = 1u << VS_VRING_RX(3);
	uint16_t q;

	for (q = 0; q < 4; q++)
		g_assert_cmpuint(dp_rx_queue(rx0, 4, q), ==, 0);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 0), ==, 0);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 1), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 2), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx2, 4, 3), ==, 2);
	g_assert_cmpuint(dp_rx_queue(rx1 | rx3, 4, 0), ==, 1);
	g_assert_cmpuint(dp_rx_queue(rx0 | rx1 | rx2 | rx3, 4, 3), ==, 3);
	g_assert_cmpuint(dp_rx_queue(0, 4, 2), ==, 2);	/* none: unchanged */

	/* a 1-vCPU guest on a queues=4 port: queue pair 0 only */
	vm->cfg->queues = 4;
	t.rx_q = 2;
	t_uplink_queue(1, 40);
	t_poll(vm, 2);
	t_assert_run(0, 1, 40);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(0)], ==, 40);
	g_assert_cmpuint(vs_dp_mode(vm), ==, VS_DP_LIVE);
	g_assert_cmpuint(t_drops(vm), ==, 0);
	/* the guest enables pair 2 as well (ethtool -L): queue 2's own vring */
	vm->vring_enabled |= rx2 | 1u << VS_VRING_TX(2);
	t_uplink_queue(41, 10);
	t_poll(vm, 1);
	g_assert_cmpuint(t.vring_frames[VS_VRING_RX(2)], ==, 10);
	t_assert_run(40, 41, 10);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

/* What the uplink dropped before the shim saw it is a shim counter too */
static void test_uplink_drops(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	t_poll(vm, 1);
	t.nombuf = 17;
	t.missed = 3;
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 17);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_MISSED], ==, 3);
	t.nombuf = 20;
	t_poll(vm, 1);		/* read every 100 ms, not every poll */
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 17);
	t_clock_advance_us(110 * 1000);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_UPLINK_NO_MBUF], ==, 20);
	t_port_free(vm);
}

/*
 * A paced replay on the fake clock: R = the floor while no frame arrives,
 * pace% of the arrival rate once they do, a bucket of 4 ms (at least one
 * burst); it completes, in order.
 */
static void test_pace(void)
{
	struct vs_vm *vm = t_port_new();
	guint n, ms;

	t_clock_fake();
	vm->policy.replay_pace_pct = 150;
	t_inject(vm, 1, 200);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	for (ms = 0; ms < 100; ms++) {		/* 100 ms, polled every 100 us */
		t_poll(vm, 1);
		for (n = 0; n < 10; n++) {
			t_clock_advance_us(100);
			t_poll(vm, 1);
		}
	}
	/* the floor, 1000 pps: 100 frames in 100 ms, and the first burst */
	g_assert_cmpuint(t.got->len, >=, 100);
	g_assert_cmpuint(t.got->len, <=, 100 + VS_DP_BURST);
	g_assert_cmpuint(vm->stats.replay_rate_pps, ==, VS_REPLAY_PACE_FLOOR_PPS);
	while (!vs_dp_replay_finished(vm)) {
		t_clock_advance_us(100);
		t_poll(vm, 1);
	}
	t_assert_run(0, 1, 200);

	/* 800 frames arriving at 4000 pps, buffered */
	vs_dp_buffer_start(vm, true);
	for (n = 0; n < 800; n++) {
		t_uplink_queue(1000 + n, 1);
		t_clock_advance_us(250);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 3900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 4100);
	/* the replay, with frames still arriving at 4000 pps (held behind
	 * it): 150%, 6000 pps, so 600 frames in 100 ms, plus a bucket */
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	n = t.got->len;
	for (ms = 0; ms < 400; ms++) {		/* 100 ms in steps of 250 us */
		t_uplink_queue(5000 + ms, 1);
		t_clock_advance_us(250);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.replay_rate_pps, >=, 5800);
	g_assert_cmpuint(vm->stats.replay_rate_pps, <=, 6200);
	g_assert_cmpuint(t.got->len - n, >=, 560);
	g_assert_cmpuint(t.got->len - n, <=, 620 + 6200 * 4 / 1000);
	while (!vs_dp_replay_finished(vm)) {
		t_clock_advance_us(250);
		t_poll(vm, 1);
	}
	t_assert_run(200, 1000, 800);
	t_assert_run(1000, 5000, 400);
	t_check_accounting(vm, 200);

	/* off: one burst, as fast as the ring takes it */
	vm->policy.replay_pace_pct = 0;
	t_inject(vm, 5000, 200);
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
	t_poll(vm, 3);
	g_assert_true(vs_dp_replay_finished(vm));
	t_port_free(vm);
}

/* Frames the tunnel brings count in the arrival rate (stragglers, and
 * the blackout's frames at the destination); a flood that brings every
 * frame both ways does not double it */
static void test_pace_tunnel_arrivals(void)
{
	struct vs_vm *vm = t_port_new();
	unsigned int n;

	t_clock_fake();
	for (n = 0; n < 500; n++) {		/* 250 ms at 2000 frames/s */
		__atomic_fetch_add(&vm->stats.tunnel_rx_frames, 1, __ATOMIC_RELAXED);
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 1900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 2100);

	for (n = 0; n < 500; n++) {
		__atomic_fetch_add(&vm->stats.tunnel_rx_frames, 1, __ATOMIC_RELAXED);
		t_uplink_queue(n, 1);
		t_clock_advance_us(500);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.arrival_rate_pps, >=, 1900);
	g_assert_cmpuint(vm->stats.arrival_rate_pps, <=, 2100);
	t_check_accounting(vm, 0);
	t_port_free(vm);
}

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
	tx[2] = t_guest_frame(mac2, 100, ip6, 16);
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

int main(int argc, char **argv)
{
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", "vs-unit-dataplane",
			     "-l", "0", NULL };
	char rundir[PATH_MAX];
	int ret;

	g_test_init(&argc, &argv, NULL);
	if (rte_eal_init((int)G_N_ELEMENTS(eal_argv) - 1, eal_argv) < 0) {
		printf("Bail out! EAL init failed (it needs no hugepages: --no-huge)\n");
		return 1;
	}
	t_pool = rte_pktmbuf_pool_create("t_pool", T_POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	g_assert_nonnull(t_pool);
	vs_dp_set_ops(&t_ops);

	g_test_add_func("/dataplane/live", test_live);
	g_test_add_func("/dataplane/order/pending-inject-held-live", test_order);
	g_test_add_func("/dataplane/order/replay-waits-for-device", test_replay_without_device);
	g_test_add_func("/dataplane/caps", test_caps);
	g_test_add_func("/dataplane/flow-rules", test_flow_rules);
	g_test_add_func("/dataplane/drain", test_drain);
	g_test_add_func("/dataplane/ring-full", test_ring_full);
	g_test_add_func("/dataplane/adopt-held", test_adopt);
	g_test_add_func("/dataplane/switchover/in-flight-burst", test_switchover_in_flight);
	g_test_add_func("/dataplane/switchover/inject-leftovers", test_inject_leftovers);
	g_test_add_func("/dataplane/announce", test_announce);
	g_test_add_func("/dataplane/announce-learned", test_announce_learned);
	g_test_add_func("/dataplane/announce-router", test_announce_router);
	g_test_add_func("/dataplane/caps/behind-replay", test_caps_behind_replay);
	g_test_add_func("/dataplane/caps/ring-full", test_caps_ring_full);
	g_test_add_func("/dataplane/race/inject-held", test_race_inject_held);
	g_test_add_func("/dataplane/multiqueue/fewer-enabled", test_multiqueue_fewer_enabled);
	g_test_add_func("/dataplane/uplink-drops", test_uplink_drops);
	g_test_add_func("/dataplane/pace", test_pace);
	g_test_add_func("/dataplane/pace/tunnel-arrivals", test_pace_tunnel_arrivals);
	ret = g_test_run();
	rte_mempool_free(t_pool);
	/* EAL leaves its (empty, with --no-shconf) runtime directory behind */
	g_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
	rte_eal_cleanup();
	rmdir(rundir);
	return ret;
}
