/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_harness.c - the fake uplink and guest of the dataplane's unit tests
 *
 * Theory of operation: see dp_harness.h.  The fakes are the functions of
 * struct vs_dp_ops; they read and write the state t the tests set up.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "dp_priv.h"
#include "dp_source_hold.h"
#include "dp_tcp.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "pkt.h"
#include "vm.h"
#include "dp_harness.h"

struct rte_mempool *t_pool;
const uint8_t t_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t t_peer_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

/* --- fake uplink and guest ------------------------------------------------ */

struct t_state t;

uint32_t t_seq_of(struct rte_mbuf *m)
{
	uint32_t seq;

	memcpy(&seq, rte_pktmbuf_mtod_offset(m, uint8_t *, 42), sizeof(seq));
	return seq;
}

/* The free entries of RX vring @vring's ring (t.ring_on) */
static uint32_t t_ring_free_now(uint16_t vring)
{
	return t.ring_size[vring] - t.unread[vring] - t.unposted[vring];
}

/*
 * The guest's RX ring, as DPDK's rte_vhost_enqueue_burst() treats its
 * caller: the vring's access lock, taken with a blocking spin (a worker
 * that finds it held waits inside its poll), then nothing taken if the
 * device disabled the vring
 */
static uint16_t t_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i, take = 0;

	g_assert_cmpint(vid, ==, 0);
	g_assert_cmpuint(vring % 2, ==, 0);	/* an RX vring */
	g_assert_cmpuint(vring, <, T_VRINGS);
	__atomic_store_n(&t.enqueue_waiting, 1, __ATOMIC_RELEASE);
	rte_spinlock_lock(&t.vring_lock[vring]);
	__atomic_store_n(&t.enqueue_waiting, 0, __ATOMIC_RELEASE);
	if (!t.vring_disabled[vring])
		take = (uint16_t)MIN((uint32_t)n, MIN(t.guest_room, t.guest_budget));
	if (t.ring_on) {	/* each frame takes t.entries_per_frame entries */
		take = (uint16_t)MIN((uint32_t)take, t_ring_free_now(vring) / t.entries_per_frame);
		t.unread[vring] += take * t.entries_per_frame;
		t.used[vring] = (uint16_t)(t.used[vring] + take * t.entries_per_frame);
	}
	for (i = 0; i < take; i++) {
		uint32_t seq = t_seq_of(pkts[i]);

		g_array_append_val(t.got, seq);
	}
	if (t.guest_budget != T_UNLIMITED)
		t.guest_budget -= take;
	t.vring_frames[vring] += take;
	rte_spinlock_unlock(&t.vring_lock[vring]);
	return take;
}

/* Uplink queue @q's frames: t.rx for t.rx_q (any queue with t.rx_any_q),
 * else t.rxq[q] */
static GQueue *t_uplink_fifo(uint16_t q)
{
	g_assert_cmpuint(q, <, T_UPLINK_QUEUES);
	return q == t.rx_q || t.rx_any_q ? &t.rx : &t.rxq[q];
}

static uint16_t t_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	GQueue *fifo = t_uplink_fifo(q);
	void (*before)(void *) = t.before_rx;
	uint16_t i;

	if (before) {
		t.before_rx = NULL;
		before(t.before_rx_arg);
	}
	for (i = 0; i < n && !g_queue_is_empty(fifo); i++)
		pkts[i] = g_queue_pop_head(fifo);
	return i;
}

unsigned int t_uplink_waiting(uint16_t q)
{
	return g_queue_get_length(t_uplink_fifo(q));
}

static uint32_t t_uplink_depth(const struct vs_vm *vm, uint16_t q)
{
	g_assert_cmpuint(q, <, T_UPLINK_QUEUES);
	t.depth_calls[q]++;
	return t.depth[q] ? t.depth[q] : T_UPLINK_DEPTH;
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

/* The VM's frames (t.guest) go out as dp_vm_to_uplink() sends them: tracked, sent */
static unsigned int t_guest_tx(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	struct rte_mbuf *pkts[VS_DP_BURST];
	uint16_t n = 0, sent;

	while (n < VS_DP_BURST && !g_queue_is_empty(&t.guest))
		pkts[n++] = g_queue_pop_head(&t.guest);
	if (!n)
		return 0;
	dp_tcp_track(vm, pkts, n, VS_TCP_CT_FROM_VM);
	sent = vs_dp_ops->uplink_tx(vm->eth_port, q, pkts, n);
	g_assert_cmpuint(sent, ==, n);
	return n;
}

static int t_uplink_drops(uint16_t port, uint64_t *nombuf, uint64_t *missed)
{
	if (t.stats_fail)
		return -EIO;
	*nombuf = t.nombuf;
	*missed = t.missed;
	return 0;
}

static uint64_t t_tsc(void)
{
	return t.fake_clock ? t.now : rte_get_tsc_cycles();
}

/* The fake clock from now on, starting at the TSC's value */
void t_clock_fake(void)
{
	t.now = rte_get_tsc_cycles();
	t.fake_clock = true;
}

void t_clock_advance_us(uint64_t us)
{
	t.now += us * rte_get_tsc_hz() / 1000000;
}

/* The guest's RX ring's free entries, as rte_vhost_avail_entries() reports
 * them: under the vring's access lock, taken with a blocking spin (flagged
 * in t.enqueue_waiting meanwhile, as the enqueue's); 0 for a
 * disabled vring.  Without t.ring_on: what the test set in t.ring_free */
static uint16_t t_guest_ring_free(int vid, uint16_t vring)
{
	uint16_t free;

	g_assert_cmpint(vid, ==, 0);
	g_assert_cmpuint(vring % 2, ==, 0);	/* an RX vring */
	g_assert_cmpuint(vring, <, T_VRINGS);
	__atomic_store_n(&t.enqueue_waiting, 1, __ATOMIC_RELEASE);
	rte_spinlock_lock(&t.vring_lock[vring]);
	__atomic_store_n(&t.enqueue_waiting, 0, __ATOMIC_RELEASE);
	if (!t.ring_on)
		free = t.ring_free[vring];
	else
		free = t.vring_disabled[vring] ? 0 : (uint16_t)t_ring_free_now(vring);
	t.ring_free_calls[vring]++;
	rte_spinlock_unlock(&t.vring_lock[vring]);
	return free;
}

/* The valve: has the guest read everything published and re-armed?  No
 * lock (DPDK's reads of the ring are lock-free); false without t.ring_on */
static bool t_guest_ring_idle(int vid, uint16_t vring)
{
	g_assert_cmpint(vid, ==, 0);
	g_assert_cmpuint(vring % 2, ==, 0);
	g_assert_cmpuint(vring, <, T_VRINGS);
	t.ring_idle_calls[vring]++;
	if (!t.ring_on)
		return false;
	if (t.event_idx)
		return t.used[vring] == t.used_event[vring];
	return !t.no_interrupt[vring];
}

/*
 * The guest runs (a Linux guest's NAPI poll, drivers/net/virtio_net.c):
 * reads what the shim filled, posts the buffers again once more than
 * t.refill_above wait, and re-arms its interrupt when it found nothing
 * more (used_event = what it consumed); while it still finds frames it
 * polls with the interrupt off.  used_event then keeps its last value (a
 * guest before 2021; later ones write 0, which the valve reads the same
 * way unless used->idx is 0)
 */
uint32_t t_guest_run(uint16_t vring, uint32_t n)
{
	uint32_t took;

	g_assert_cmpuint(vring % 2, ==, 0);
	g_assert_cmpuint(vring, <, T_VRINGS);
	if (t.stopped)
		return 0;
	took = MIN(n, t.unread[vring]);
	t.unread[vring] -= took;
	t.unposted[vring] += took;
	if (t.unposted[vring] > t.refill_above)
		t.unposted[vring] = 0;
	if (!t.unread[vring]) {
		t.used_event[vring] = t.used[vring];
		t.no_interrupt[vring] = false;
	} else {
		t.no_interrupt[vring] = true;
	}
	return took;
}

static const struct vs_dp_ops t_ops = {
	.guest_enqueue = t_guest_enqueue,
	.uplink_rx = t_uplink_rx,
	.uplink_tx = t_uplink_tx,
	.guest_tx = t_guest_tx,
	.uplink_drops = t_uplink_drops,
	.tsc = t_tsc,
	.guest_ring_free = t_guest_ring_free,
	.guest_ring_idle = t_guest_ring_idle,
	.uplink_depth = t_uplink_depth,
};

/* --- frames and ports ------------------------------------------------------ */

/* An IPv4 UDP frame to the VM carrying @seq at offset 42 */
struct rte_mbuf *t_frame(uint32_t seq, uint16_t len)
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

/* Tunnel a frame that reached the source @age_us ago (< 0: no time) */
void t_inject_aged(struct vs_vm *vm, uint32_t seq, int64_t age_us)
{
	struct rte_mbuf *m = t_frame(seq, 64);

	vs_dp_arrival_set_age(m, age_us);
	g_assert_cmpint(vs_dp_inject_put(vm, m), ==, 0);
}

void t_uplink_queue(uint32_t first, uint32_t n)
{
	t_uplink_queue_on(t.rx_q, first, n);
}

void t_uplink_queue_on(uint16_t q, uint32_t first, uint32_t n)
{
	GQueue *fifo = t_uplink_fifo(q);
	uint32_t i;

	for (i = 0; i < n; i++)
		g_queue_push_tail(fifo, t_frame(first + i, 64));
}

void t_inject(struct vs_vm *vm, uint32_t first, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		g_assert_cmpint(vs_dp_inject_put(vm, t_frame(first + i, 64)), ==, 0);
}

struct vs_vm *t_port_new(void)
{
	static unsigned int serial;
	struct vs_vm *vm = g_new0(struct vs_vm, 1);
	g_autoptr(GError) err = NULL;
	unsigned int i;

	vm->cfg = g_new0(struct vs_port_cfg, 1);
	vm->cfg->name = g_strdup_printf("t%u", serial++);
	memcpy(vm->cfg->mac, t_vm_mac, 6);
	vm->cfg->queues = 1;
	vm->cfg->mtu = VS_DEFAULT_MTU;
	vm->dev_queues = 1;
	vs_buf_policy_init(&vm->policy);
	vm->policy.replay_pace_pct = 0;	/* tests of order; pacing: test_pace() */
	vm->pool = t_pool;
	vm->vid = 0;
	vm->vring_enabled = 1u << VS_VRING_RX(0) | 1u << VS_VRING_TX(0);
	for (i = 0; i < T_VRINGS / 2; i++)
		vm->rx_ring_size[i] = T_RING_SIZE;
	g_assert_true(vs_dp_port_init(vm, 1024, 256, &err));
	g_assert_no_error(err);

	memset(&t, 0, sizeof(t));
	g_queue_init(&t.rx);
	for (i = 0; i < T_UPLINK_QUEUES; i++)
		g_queue_init(&t.rxq[i]);
	g_queue_init(&t.guest);
	for (i = 0; i < T_VRINGS; i++) {
		rte_spinlock_init(&t.vring_lock[i]);
		t.ring_size[i] = T_RING_SIZE;
	}
	t.refill_above = 32;
	t.event_idx = true;
	t.entries_per_frame = 1;
	t.got = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	t.guest_room = T_UNLIMITED;
	t.guest_budget = T_UNLIMITED;
	t.fake_clock = false;
	return vm;
}

uint64_t t_drops(const struct vs_vm *vm)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < VS_DROP_NUM_REASONS; i++)
		n += vm->stats.drops[i] + vm->stats.ctl_drops[i];
	return n;
}

/* uplink_rx = delivered + counted drops + in flight, a held source's frames
 * too (dp_source_hold.h; frames the test injected count as received too:
 * @injected) */
void t_check_accounting(const struct vs_vm *vm, uint64_t injected)
{
	g_assert_cmpuint(vm->stats.uplink_rx_pkts + injected, ==,
			 vm->stats.rx_pkts + t_drops(vm) + vs_dp_buffered_now(vm) +
			 (vm->dp.hold ? vm->dp.hold->n : 0));
	g_assert_cmpuint(vm->stats.rx_pkts, ==, t.got->len);
}

void t_port_free(struct vs_vm *vm)
{
	struct rte_mbuf *m;
	unsigned int q;

	vs_dp_unpublish(vm);		/* a worker's port; else a no-op */
	vs_dp_port_fini(vm);
	g_assert_null(vm->dp.tcp);
	vs_dp_flow_detach(vm);
	while ((m = g_queue_pop_head(&t.rx)))
		rte_pktmbuf_free(m);
	for (q = 0; q < T_UPLINK_QUEUES; q++)
		while ((m = g_queue_pop_head(&t.rxq[q])))
			rte_pktmbuf_free(m);
	while ((m = g_queue_pop_head(&t.guest)))
		rte_pktmbuf_free(m);
	g_array_free(t.got, TRUE);
	g_clear_pointer(&t.sent, g_ptr_array_unref);
	g_free(vm->cfg->name);
	g_free(vm->cfg);
	g_free(vm);
	/* every mbuf came back: nothing leaked, nothing freed twice */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, T_POOL_SIZE);
}

unsigned int t_poll(struct vs_vm *vm, unsigned int times)
{
	unsigned int i, work = 0;

	for (i = 0; i < times; i++)
		work += vs_dp_poll_port(vm);
	return work;
}

void t_poll_every(struct vs_vm *vm, unsigned int steps, uint64_t us)
{
	while (steps--) {
		t_clock_advance_us(us);
		t_poll(vm, 1);
	}
}

void t_arrive(struct vs_vm *vm, uint32_t first, uint32_t n, uint64_t us)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		t_uplink_queue(first + i, 1);
		t_clock_advance_us(us);
		t_poll(vm, 1);
	}
}

void t_replay_now(struct vs_vm *vm)
{
	vs_dp_replay_start(vm);
	vs_dp_inject_close(vm);
}

void t_replay_finish(struct vs_vm *vm, uint64_t us)
{
	/* finished alone comes at the replay's mark, with live frames perhaps
	 * still held behind it (its tail): the callers mean all delivered */
	while (!vs_dp_replay_finished(vm) || vs_dp_mode(vm) != VS_DP_LIVE)
		t_poll_every(vm, 1, us);
}

/* the guest got exactly first..first+n-1 at t.got[at..] */
void t_assert_run(unsigned int at, uint32_t first, uint32_t n)
{
	uint32_t i;

	g_assert_cmpuint(t.got->len, >=, at + n);
	for (i = 0; i < n; i++)
		g_assert_cmpuint(g_array_index(t.got, uint32_t, at + i), ==, first + i);
}

/* Compile @lines (--policy rules) for @vm and publish the table */
void t_rules(struct vs_vm *vm, struct vs_flow_set *set, const char *const *lines)
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

/* --- main ------------------------------------------------------------------ */

/* "--lcores=0@(cpus),1@(cpus)": a worker lcore on whatever CPUs we may use */
static char *t_lcores_arg(void)
{
	g_autoptr(GString) cpus = g_string_new(NULL);
	cpu_set_t set;
	int i;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set))
				g_string_append_printf(cpus, "%s%d", cpus->len ? "," : "", i);
	if (!cpus->len)
		g_string_append(cpus, "0");
	return g_strdup_printf("--lcores=0@(%s),1@(%s)", cpus->str, cpus->str);
}

/* t_main()'s and t_main_with_worker()'s: a worker lcore if @with_worker */
static int t_run(int argc, char **argv, const char *name, void (*add_tests)(void),
		 bool with_worker)
{
	g_autofree char *prefix = g_strdup_printf("vs-unit-%s", name);
	g_autofree char *lcores = with_worker ? t_lcores_arg() : g_strdup("-l0");
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", prefix, lcores, NULL };
	g_autoptr(GError) err = NULL;
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
	/* adaptive sleep: an idle worker sleeps offline, one in a poll is online */
	if (with_worker && (!vs_dp_init(false, 1000, &err) || !vs_dp_start(&err))) {
		printf("Bail out! %s\n", err->message);
		return 1;
	}

	add_tests();
	ret = g_test_run();
	if (with_worker)
		vs_dp_stop();
	rte_mempool_free(t_pool);
	/* EAL leaves its (empty, with --no-shconf) runtime directory behind */
	g_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
	rte_eal_cleanup();
	rmdir(rundir);
	return ret;
}

int t_main(int argc, char **argv, const char *name, void (*add_tests)(void))
{
	return t_run(argc, argv, name, add_tests, false);
}

int t_main_with_worker(int argc, char **argv, const char *name, void (*add_tests)(void))
{
	return t_run(argc, argv, name, add_tests, true);
}
