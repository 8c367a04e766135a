/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_dedup.c - the destination's duplicate filter on its lcore, and
 * the frames' arrival times it compares (dp_dedup.c)
 *
 * Theory of operation: as test_dataplane.c, EAL without hugepages or
 * devices (--no-huge --no-pci --in-memory), real rings and mbufs, the guest
 * and the uplink faked behind struct vs_dp_ops, on a fake clock where a
 * test needs one.  Tunnelled frames are put into inject with the age the
 * source would have sent (vs_dp_arrival_set_age(), as handover_pump.c
 * does), direct ones queued on the fake uplink; each test drives
 * vs_dp_poll_port() as a worker does and counts what the guest got and
 * what the filter dropped as `duplicate`.  The lcore polls a port
 * continuously, so a test that moves the clock polls once at the new time
 * (t_idle()) unless it means to model a stall: frames the uplink hands
 * over after a gap may have arrived anywhere in it.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

#define T_POOL_SIZE	1023
#define T_UNLIMITED	UINT32_MAX

static struct rte_mempool *t_pool;
static const uint8_t t_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t t_peer_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

/* --- fake uplink and guest ------------------------------------------------ */

static struct {
	GQueue rx;			/* struct rte_mbuf *, handed out in order */
	GArray *got;			/* uint32_t seq of each frame delivered */
	uint32_t guest_room;		/* frames the guest's ring takes per call */
	bool fake_clock;		/* the lcore reads now, not the TSC */
	uint64_t now;			/* the fake clock, in TSC cycles */
} t;

static uint32_t t_seq_of(struct rte_mbuf *m)
{
	uint32_t seq;

	memcpy(&seq, rte_pktmbuf_mtod_offset(m, uint8_t *, 42), sizeof(seq));
	return seq;
}

static uint16_t t_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	g_assert_cmpint(vid, ==, 0);
	g_assert_cmpuint(vring, ==, VS_VRING_RX(0));
	n = (uint16_t)MIN((uint32_t)n, t.guest_room);
	for (i = 0; i < n; i++) {
		uint32_t seq = t_seq_of(pkts[i]);

		g_array_append_val(t.got, seq);
	}
	return n;
}

static uint16_t t_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n && !g_queue_is_empty(&t.rx); i++)
		pkts[i] = g_queue_pop_head(&t.rx);
	return i;
}

static uint16_t t_uplink_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

static unsigned int t_guest_tx(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	return 0;
}

static int t_uplink_drops(uint16_t port, uint64_t *nombuf, uint64_t *missed)
{
	*nombuf = 0;
	*missed = 0;
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

/* An IPv4 UDP frame to the VM carrying @seq at offset 42, no arrival time */
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
	vs_dp_arrival_stamp(m, 0, 0);	/* uplink_rx stamps its own */
	return m;
}

/* Tunnel a frame that reached the source @age_us ago (< 0: no time) */
static void t_inject_aged(struct vs_vm *vm, uint32_t seq, int64_t age_us)
{
	struct rte_mbuf *m = t_frame(seq, 64);

	vs_dp_arrival_set_age(m, age_us);
	g_assert_cmpint(vs_dp_inject_put(vm, m), ==, 0);
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
	vm->cfg->name = g_strdup_printf("d%u", serial++);
	memcpy(vm->cfg->mac, t_vm_mac, 6);
	vm->cfg->queues = 1;
	vm->dev_queues = 1;
	vs_buf_policy_init(&vm->policy);
	vm->policy.replay_pace_pct = 0;
	vm->pool = t_pool;
	vm->vid = 0;
	vm->vring_enabled = 1u << VS_VRING_RX(0) | 1u << VS_VRING_TX(0);
	g_assert_true(vs_dp_port_init(vm, 1024, 256, &err));
	g_assert_no_error(err);

	memset(&t, 0, sizeof(t));
	g_queue_init(&t.rx);
	t.got = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	t.guest_room = T_UNLIMITED;
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

/* Time passes and the lcore keeps polling: one poll at the new time */
static void t_idle(struct vs_vm *vm, uint64_t us)
{
	t_clock_advance_us(us);
	t_poll(vm, 1);
}

/* --- tests ----------------------------------------------------------------- */

/*
 * The duplicate filter: a tunnelled frame and the same frame received
 * directly are one frame; byte-identical repeats of one origin are not
 * copies; an entry that matched is forgotten.
 */
static void test_dedup_origins(void)
{
	struct vs_vm *vm = t_port_new();
	int i;

	vs_dp_dedup_open(vm);
	/* the same frame twice from the tunnel, then twice directly */
	t_inject(vm, 7, 1);
	t_inject(vm, 7, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	t_uplink_queue(7, 1);
	t_uplink_queue(7, 1);
	t_uplink_queue(7, 1);			/* a third: a legitimate repeat */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);
	g_assert_cmpuint(t.got->len, ==, 3);

	/* direct first, the tunnelled copy later */
	t_uplink_queue(8, 1);
	t_poll(vm, 1);
	t_inject(vm, 8, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);

	/* 20 identical frames of one origin: all delivered */
	for (i = 0; i < 20; i++) {
		t_uplink_queue(9, 1);
		t_poll(vm, 1);
	}
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	g_assert_cmpuint(t.got->len, ==, 24);

	/* a new window forgets the old one; a closed one filters nothing */
	vs_dp_dedup_open(vm);
	t_inject(vm, 9, 1);
	t_poll(vm, 1);
	vs_dp_dedup_close(vm);
	t_uplink_queue(10, 1);
	t_inject(vm, 10, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	g_assert_cmpuint(t.got->len, ==, 27);
	t_check_accounting(vm, 5);
	t_port_free(vm);
}

/*
 * The duplicate filter compares arrival times: a byte-identical repeat that
 * reached the source in the blackout and this host directly 100 ms later is
 * a second transmission, not a copy; a flood copy (both hosts at once) is,
 * even when the tunnel delivers it late; a frame without an arrival time (a
 * peer without the frame-times extension) is compared regardless of time.
 */
/*
 * Review B, D5: a direct frame the filter recorded, then dropped (the
 * guest's ring full with buffering off, or no device), is forgotten: its
 * tunnelled copy is the only one the VM gets, and is delivered.
 */
static void test_dedup_dropped_forgotten(void)
{
	struct vs_vm *vm = t_port_new();

	vm->policy.enabled = false;		/* a full ring drops */
	vs_dp_dedup_open(vm);
	t.guest_room = 0;
	t_uplink_queue(30, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_VM_RING_FULL], ==, 1);
	t.guest_room = T_UNLIMITED;
	t_inject(vm, 30, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);
	g_assert_cmpuint(t.got->len, ==, 1);
	g_assert_cmpuint(g_array_index(t.got, uint32_t, 0), ==, 30);

	/* no device: dropped as not-ready, forgotten the same */
	vm->vid = -1;
	t_uplink_queue(31, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_NOT_READY], ==, 1);
	vm->vid = 0;
	t_inject(vm, 31, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);
	g_assert_cmpuint(t.got->len, ==, 2);
	t_check_accounting(vm, 2);
	t_port_free(vm);
}

static void test_dedup_times(void)
{
	struct vs_vm *vm = t_port_new();

	g_assert_cmpuint(vm->policy.dedup_window_ms, ==, VS_DEFAULT_DEDUP_WINDOW_MS);
	t_clock_fake();
	vs_dp_dedup_open(vm);

	/* a repeat: tunnelled (arrived just now at the source), then the next
	 * transmission directly 100 ms later: both delivered */
	t_inject_aged(vm, 1, 0);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);

	/* the same, direct first: the tunnelled one arrived 100 ms after it */
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_inject_aged(vm, 2, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 4);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 0);

	/* a flood copy: both hosts at once: one delivered */
	t_inject_aged(vm, 3, 0);
	t_uplink_queue(3, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* a delayed tunnel copy: the direct one now, the tunnelled one 400 ms
	 * later but 400 ms old (it waited in the source's blackout buffer and a
	 * slow tunnel): 30 ms apart at the network, within the window */
	t_uplink_queue(4, 1);
	t_poll(vm, 1);
	t_idle(vm, 400000);
	t_inject_aged(vm, 4, 370000);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	/* just outside the window (51 ms apart): both */
	t_uplink_queue(5, 1);
	t_poll(vm, 1);
	t_idle(vm, 51000);
	t_inject_aged(vm, 5, 0);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 8);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	/* the closest entry in time is the one a copy cancels: three repeats
	 * tunnelled 100 ms apart, then the flood copy of the middle one */
	t_inject_aged(vm, 6, 200000);
	t_inject_aged(vm, 6, 100000);
	t_inject_aged(vm, 6, 0);
	t_poll(vm, 1);
	t_idle(vm, 1000);
	t_uplink_queue(6, 1);		/* 101 ms after the middle one's arrival: */
	t_poll(vm, 1);			/* 1 ms after the newest's: its copy */
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	t_idle(vm, 100000);
	t_uplink_queue(6, 1);		/* a new transmission 100 ms later */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 12);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);

	/* no arrival time (a peer without the extension): compared regardless
	 * of time, as before the times existed */
	t_inject_aged(vm, 7, -1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(7, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 13);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 4);

	/* dedup-window-ms 0: regardless of time */
	vm->policy.dedup_window_ms = 0;
	t_inject_aged(vm, 8, 0);
	t_poll(vm, 1);
	t_idle(vm, 500000);
	t_uplink_queue(8, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 14);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 5);

	t_check_accounting(vm, 10);
	t_port_free(vm);
}

/*
 * A stalled lcore: frames that reached the uplink during a stall are
 * received in one burst after it and stamped with that poll's time, late
 * by up to the stall.  Their arrival is an interval back to the previous
 * poll, so a flood copy whose tunnelled twin reached the source early in
 * the stall is still recognised; the interval is at most
 * VS_DP_ARRIVAL_SLACK_MAX_MS long, so a stall longer than that does not
 * widen the window further.
 */
static void test_dedup_stall(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	t_poll(vm, 1);			/* the last poll before the stall */

	/* 200 ms stall; the frame reached both hosts 10 ms into it: the
	 * tunnelled copy says so (190 ms old), the direct one is stamped at
	 * the end of the stall, 190 ms late: one delivered */
	t_clock_advance_us(200000);
	t_inject_aged(vm, 1, 190000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* no stall (polled 1 ms before): a repeat 100 ms apart is not a copy */
	t_idle(vm, 100000);
	t_inject_aged(vm, 2, 100000);
	t_clock_advance_us(1000);
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 3);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);

	/* a 3 s stall: the direct frame's interval is the last second of it
	 * only; the tunnelled one reached the source 10 ms into the stall */
	t_idle(vm, 1000);
	t_clock_advance_us(3000000);
	t_inject_aged(vm, 3, 2990000);
	t_uplink_queue(3, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 5);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	/* ...and one within that second is a copy again */
	t_poll(vm, 1);
	t_clock_advance_us(3000000);
	t_inject_aged(vm, 4, 990000);
	t_uplink_queue(4, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 6);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);

	t_check_accounting(vm, 4);
	t_port_free(vm);
}

/*
 * An entry of unknown time matches a frame of any time, but a known time
 * within the window is a better match: a direct frame cancels the
 * tunnelled entry that reached the network with it, not an untimed one
 * that happens to be closer in the bucket; the untimed one is left for a
 * later copy.
 */
static void test_dedup_unknown_time(void)
{
	struct vs_vm *vm = t_port_new();

	t_clock_fake();
	vs_dp_dedup_open(vm);
	t_inject_aged(vm, 1, 2000);	/* known: 2 ms ago */
	t_inject_aged(vm, 1, -1);	/* unknown (newest in the bucket) */
	t_poll(vm, 1);
	g_assert_cmpuint(t.got->len, ==, 2);

	t_uplink_queue(1, 1);		/* the flood copy of the timed one */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	/* 100 ms later: outside the timed one's window (it is gone anyway),
	 * the untimed entry still matches it */
	t_idle(vm, 100000);
	t_uplink_queue(1, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 2);
	g_assert_cmpuint(t.got->len, ==, 2);

	/* the other way: a tunnelled frame without a time takes the newest
	 * direct entry, a timed one the closest timed entry */
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_idle(vm, 100000);
	t_uplink_queue(2, 1);
	t_poll(vm, 1);
	t_inject_aged(vm, 2, 100000);	/* the first one's copy */
	t_poll(vm, 1);
	t_inject_aged(vm, 2, 100000);	/* no timed entry that old left */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 3);
	t_inject_aged(vm, 2, -1);	/* untimed: takes the other */
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 4);
	g_assert_cmpuint(t.got->len, ==, 5);

	t_check_accounting(vm, 5);
	t_port_free(vm);
}

/*
 * Ages and TSC cycles convert without overflow: a hostile peer's age (any
 * int64) is unknown beyond VS_DP_ARRIVAL_AGE_MAX_US, exact up to it; a
 * frame held longer than that has an unknown age, not a wrapped one.
 */
static void test_arrival_age_limits(void)
{
	struct vs_vm *vm = t_port_new();
	uint64_t hz = rte_get_tsc_hz();
	struct rte_mbuf *m = t_frame(1, 64);

	t_clock_fake();
	t.now = 10 * 3600 * hz + 12345;		/* 10 h after the TSC's start */

	vs_dp_arrival_set_age(m, INT64_MAX);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, VS_DP_ARRIVAL_AGE_MAX_US + 1);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, (int64_t)UINT32_MAX * 4000);	/* no wrap either */
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	vs_dp_arrival_set_age(m, VS_DP_ARRIVAL_AGE_MAX_US);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, t.now - 3600 * hz);
	g_assert_cmpuint(*vs_dp_arrival_slack(m), ==, 0);
	vs_dp_arrival_set_age(m, 2000000);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, t.now - 2 * hz);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, 2000000);
	vs_dp_arrival_set_age(m, -1);
	g_assert_cmpuint(*vs_dp_arrival(m), ==, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);

	/* ages from the TSC: 30 min exact; 3 h (whose µs product wraps a
	 * uint64 at any TSC rate over 1.7 GHz) unknown */
	vs_dp_arrival_stamp(m, t.now - 1800 * hz, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, 1800LL * 1000 * 1000);
	vs_dp_arrival_stamp(m, t.now - 3 * 3600 * hz, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);
	vs_dp_arrival_stamp(m, 1, 0);
	g_assert_cmpint(vs_dp_arrival_age_us(m), ==, -1);
	rte_pktmbuf_free(m);

	/* end to end: a frame of a hostile age is untimed, not wrapped into
	 * some time that happens to match or miss */
	vs_dp_dedup_open(vm);
	t_inject_aged(vm, 9, INT64_MAX);
	t_poll(vm, 1);
	t_idle(vm, 500000);
	t_uplink_queue(9, 1);
	t_poll(vm, 1);
	g_assert_cmpuint(vm->stats.drops[VS_DROP_DUPLICATE], ==, 1);
	t_check_accounting(vm, 1);
	t_port_free(vm);
}

int main(int argc, char **argv)
{
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", "vs-unit-dp-dedup",
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

	g_test_add_func("/dp-dedup/origins", test_dedup_origins);
	g_test_add_func("/dp-dedup/times", test_dedup_times);
	g_test_add_func("/dp-dedup/dropped-forgotten", test_dedup_dropped_forgotten);
	g_test_add_func("/dp-dedup/stall", test_dedup_stall);
	g_test_add_func("/dp-dedup/unknown-time", test_dedup_unknown_time);
	g_test_add_func("/dp-dedup/age-limits", test_arrival_age_limits);
	ret = g_test_run();
	rte_mempool_free(t_pool);
	/* EAL leaves its (empty, with --no-shconf) runtime directory behind */
	g_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
	rte_eal_cleanup();
	rmdir(rundir);
	return ret;
}
