/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_quiesce.c - a worker spinning on a vring's lock, and who may wait
 * for it (dataplane.h, "Lock rule")
 *
 * Theory of operation: EAL runs without hugepages or devices, with one
 * worker lcore, and vs_dp_start() runs the real worker loop on it.  The
 * guest's RX ring is a fake that behaves as DPDK 22.11's
 * rte_vhost_enqueue_burst() does towards its caller: it takes the vring's
 * access lock with a blocking rte_spinlock_lock(), then refuses the frames
 * if the vring is disabled.  The test thread plays DPDK's vhost thread
 * handling a message with every vring lock of the device held (as
 * vhost_user_msg_handler() does for SET_VRING_ENABLE) while the uplink
 * hands the worker frames for the VM, so the worker ends up spinning on
 * that lock inside its poll, where it passes no quiescent point.  Then:
 *  - vs_dp_quiesce() does not return until the lock is released: the
 *    deadlock vring_state_changed had when it quiesced;
 *  - vs_dp_vring_state(), what vring_state_changed calls now, returns.
 * A wait that never returns is bounded by a deadline (the lock is then
 * released, so the test fails instead of hanging).
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_spinlock.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "vm.h"

#define T_POOL_SIZE	1023
#define T_VRINGS	2	/* one queue pair */
#define T_HAZARD_MS	300	/* how long a wait must last to count as stuck */
#define T_DEADLINE_MS	5000	/* how long a wait that must return may take */

static struct rte_mempool *t_pool;
static const uint8_t t_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* The fake device's vrings, as DPDK keeps them: a lock and an enabled flag */
static struct {
	rte_spinlock_t access_lock[T_VRINGS];
	bool enabled[T_VRINGS];		/* read under access_lock */
	int frames_due;			/* frames the uplink still hands out */
	int spinning;			/* the worker waits for an access_lock */
	unsigned int delivered;
} t;

static uint16_t t_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t took = 0;

	g_assert_cmpuint(vring, <, T_VRINGS);
	__atomic_store_n(&t.spinning, 1, __ATOMIC_RELEASE);
	rte_spinlock_lock(&t.access_lock[vring]);
	__atomic_store_n(&t.spinning, 0, __ATOMIC_RELEASE);
	if (t.enabled[vring]) {
		took = n;
		t.delivered += n;
	}
	rte_spinlock_unlock(&t.access_lock[vring]);
	return took;
}

static uint16_t t_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i;

	for (i = 0; i < n && __atomic_load_n(&t.frames_due, __ATOMIC_ACQUIRE) > 0; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
		uint8_t *p;

		if (!m || !rte_pktmbuf_append(m, 64)) {
			rte_pktmbuf_free(m);
			break;
		}
		p = rte_pktmbuf_mtod(m, uint8_t *);
		memset(p, 0, 64);
		memcpy(p, t_vm_mac, 6);
		p[6] = 0x52;
		p[12] = 0x08;		/* IPv4 */
		p[14] = 0x45;
		p[17] = 50;
		p[22] = 64;
		p[23] = 17;		/* UDP */
		*vs_dp_arrival(m) = 0;
		pkts[i] = m;
		__atomic_fetch_sub(&t.frames_due, 1, __ATOMIC_RELEASE);
	}
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
	return rte_get_tsc_cycles();
}

static const struct vs_dp_ops t_ops = {
	.guest_enqueue = t_guest_enqueue,
	.uplink_rx = t_uplink_rx,
	.uplink_tx = t_uplink_tx,
	.guest_tx = t_guest_tx,
	.uplink_drops = t_uplink_drops,
	.tsc = t_tsc,
};

/* --- the vhost thread's side ---------------------------------------------- */

static void t_lock_all(void)
{
	unsigned int i;

	for (i = 0; i < T_VRINGS; i++)
		rte_spinlock_lock(&t.access_lock[i]);
}

static void t_unlock_all(void)
{
	unsigned int i;

	for (i = 0; i < T_VRINGS; i++)
		rte_spinlock_unlock(&t.access_lock[i]);
}

/* A call made on a thread of its own, so that the test can see it not return */
struct t_call {
	void (*fn)(struct vs_vm *vm);
	struct vs_vm *vm;
	GMutex lock;
	GCond cond;
	bool done;
};

static gpointer t_call_thread(gpointer data)
{
	struct t_call *c = data;

	c->fn(c->vm);
	g_mutex_lock(&c->lock);
	c->done = true;
	g_cond_signal(&c->cond);
	g_mutex_unlock(&c->lock);
	return NULL;
}

/* Start @fn(@vm); return whether it returned within @ms */
static bool t_call_within(struct t_call *c, GThread **th, unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * G_TIME_SPAN_MILLISECOND;
	bool done;

	*th = g_thread_new("vhost-events", t_call_thread, c);
	g_mutex_lock(&c->lock);
	while (!c->done && g_cond_wait_until(&c->cond, &c->lock, end))
		;
	done = c->done;
	g_mutex_unlock(&c->lock);
	return done;
}

/* --- a port with the worker spinning on its vring's lock ------------------ */

static struct vs_vm *t_port_new(void)
{
	struct vs_vm *vm = g_new0(struct vs_vm, 1);
	g_autoptr(GError) err = NULL;
	unsigned int i;

	vm->cfg = g_new0(struct vs_port_cfg, 1);
	vm->cfg->name = g_strdup("q0");
	memcpy(vm->cfg->mac, t_vm_mac, 6);
	vm->cfg->queues = 1;
	vm->dev_queues = 1;
	vs_buf_policy_init(&vm->policy);
	vm->pool = t_pool;
	vm->vid = 0;
	vm->worker = 0;
	vm->slot = 0;
	vm->vring_enabled = 1u << VS_VRING_RX(0) | 1u << VS_VRING_TX(0);
	g_assert_true(vs_dp_port_init(vm, 1024, 256, &err));
	g_assert_no_error(err);
	for (i = 0; i < T_VRINGS; i++) {
		rte_spinlock_init(&t.access_lock[i]);
		t.enabled[i] = true;
	}
	t.delivered = 0;
	return vm;
}

static void t_port_free(struct vs_vm *vm)
{
	vs_dp_unpublish(vm);
	vs_dp_port_fini(vm);
	vs_dp_flow_detach(vm);
	g_free(vm->cfg->name);
	g_free(vm->cfg);
	g_free(vm);
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, T_POOL_SIZE);
}

/*
 * The vhost thread holds every vring lock (a message being handled), then
 * the uplink has frames for the VM: the worker enters the guest's enqueue
 * and spins there
 */
static struct vs_vm *t_worker_spinning(void)
{
	struct vs_vm *vm = t_port_new();
	gint64 end = g_get_monotonic_time() + T_DEADLINE_MS * G_TIME_SPAN_MILLISECOND;

	t_lock_all();
	vs_dp_publish(vm);
	__atomic_store_n(&t.frames_due, 8, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&t.spinning, __ATOMIC_ACQUIRE)) {
		if (g_get_monotonic_time() > end) {
			t_unlock_all();
			g_error("the worker never reached the guest's enqueue");
		}
		g_usleep(1000);
	}
	return vm;
}

/* Let the worker go, and wait until it left the enqueue */
static void t_release(void)
{
	t_unlock_all();
	while (__atomic_load_n(&t.spinning, __ATOMIC_ACQUIRE) ||
	       __atomic_load_n(&t.frames_due, __ATOMIC_ACQUIRE) > 0)
		g_usleep(1000);
}

/* --- tests ----------------------------------------------------------------- */

static void t_quiesce(struct vs_vm *vm)
{
	vs_dp_quiesce();
}

static void t_disable_rx(struct vs_vm *vm)
{
	/* what vring_state_changed(vid, 0, 0) does: DPDK disabled the vring
	 * under its lock, then calls us, still under it */
	t.enabled[VS_VRING_RX(0)] = false;
	vs_dp_vring_state(vm, VS_VRING_RX(0), false);
}

/*
 * The hazard: waiting for the worker while the vring locks are held never
 * ends, for the worker waits for the lock.  It ends once they are released.
 */
static void test_quiesce_under_lock_waits(void)
{
	struct t_call c = { .fn = t_quiesce };
	struct vs_vm *vm = t_worker_spinning();
	GThread *th;
	bool returned;

	c.vm = vm;
	returned = t_call_within(&c, &th, T_HAZARD_MS);
	g_assert_true(__atomic_load_n(&t.spinning, __ATOMIC_ACQUIRE));
	t_release();
	g_thread_join(th);
	vs_dp_quiesce();			/* the worker's last poll is seen */
	g_assert_false(returned);		/* it waited while the lock was held */
	g_assert_true(c.done);			/* and returned after */
	g_assert_cmpuint(t.delivered, ==, 8);
	t_port_free(vm);
}

/*
 * vring_state_changed's work, under the same locks, with the worker
 * spinning: it returns, and once the locks are gone the worker refuses the
 * disabled vring as DPDK does.
 */
static void test_vring_disable_under_lock_returns(void)
{
	struct t_call c = { .fn = t_disable_rx };
	struct vs_vm *vm = t_worker_spinning();
	GThread *th;
	bool returned;

	c.vm = vm;
	returned = t_call_within(&c, &th, T_DEADLINE_MS);
	g_assert_true(__atomic_load_n(&t.spinning, __ATOMIC_ACQUIRE));	/* still */
	t_release();
	g_thread_join(th);
	vs_dp_quiesce();			/* no lock held: returns */
	g_assert_true(returned);
	g_assert_cmpuint(__atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE) &
			 1u << VS_VRING_RX(0), ==, 0);
	g_assert_cmpuint(t.delivered, ==, 0);	/* the spinning burst was refused */

	/* enabling is the same store the other way */
	t_lock_all();
	t.enabled[VS_VRING_RX(0)] = true;
	vs_dp_vring_state(vm, VS_VRING_RX(0), true);
	t_unlock_all();
	g_assert_cmpuint(__atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE) &
			 1u << VS_VRING_RX(0), !=, 0);
	t_port_free(vm);
}

/* Vrings beyond the 32 a mask holds are never polled: ignored */
static void test_vring_beyond_mask(void)
{
	g_autofree struct vs_vm *vm = g_new0(struct vs_vm, 1);

	vm->vring_enabled = 3;
	vs_dp_vring_state(vm, 32, false);
	vs_dp_vring_state(vm, 40, true);
	g_assert_cmpuint(vm->vring_enabled, ==, 3);
}

/* "--lcores=0@(cpus),1@(cpus)": a worker lcore on whatever CPUs we may use */
static char *t_lcores_arg(void)
{
	GString *cpus = g_string_new(NULL);
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

int main(int argc, char **argv)
{
	g_autofree char *lcores = t_lcores_arg();
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", "vs-unit-dp-quiesce", lcores, NULL };
	g_autoptr(GError) err = NULL;
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
	if (!vs_dp_init(false, 1000, &err) || !vs_dp_start(&err)) {
		printf("Bail out! %s\n", err->message);
		return 1;
	}

	g_test_add_func("/dp-quiesce/hazard/quiesce-under-vring-lock-waits",
			test_quiesce_under_lock_waits);
	g_test_add_func("/dp-quiesce/vring-disable-under-vring-lock-returns",
			test_vring_disable_under_lock_returns);
	g_test_add_func("/dp-quiesce/vring-beyond-mask", test_vring_beyond_mask);
	ret = g_test_run();

	vs_dp_stop();
	rte_mempool_free(t_pool);
	rte_eal_cleanup();
	return ret;
}
