/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dp_quiesce.c - a worker spinning on a vring's lock, and who may wait
 * for it (dataplane.h, "Lock rule")
 *
 * Theory of operation: the fakes of dp_harness.h, EAL without hugepages or
 * devices, with one worker lcore on which vs_dp_start() runs the real
 * worker loop (t_main_with_worker()).  The harness's guest RX ring behaves
 * as DPDK 22.11's rte_vhost_enqueue_burst() does towards its caller: it
 * takes the vring's access lock (t.vring_lock) with a blocking
 * rte_spinlock_lock(), then refuses the frames if the device disabled the
 * vring (t.vring_disabled).  The test thread plays DPDK's vhost thread
 * handling a message with every vring lock of the device held (as
 * vhost_user_msg_handler() does for SET_VRING_ENABLE) while the uplink
 * hands the worker frames for the VM, so the worker ends up spinning on
 * that lock inside its poll, where it passes no quiescent point.  Then:
 *  - vs_dp_quiesce() does not return until the lock is released: the
 *    deadlock vring_state_changed had when it quiesced;
 *  - vs_dp_vring_state(), what vring_state_changed calls now, returns.
 * A wait that never returns is bounded by a deadline (the lock is then
 * released, so the test fails instead of hanging).  With the RX ring
 * bound on (rx-ring-bound) the worker spins first in guest_ring_free
 * (DPDK's rte_vhost_avail_entries() takes the same lock): both tests run
 * that way too.
 */
#include <stdbool.h>

#include <glib.h>
#include <rte_spinlock.h>

#include "dataplane.h"
#include "dp_priv.h"
#include "vm.h"
#include "dp_harness.h"

#define T_HAZARD_MS	300	/* how long a wait must last to count as stuck */
#define T_DEADLINE_MS	5000	/* how long a wait that must return may take */
#define T_FRAMES	8	/* what the uplink hands the worker: one burst */

/* --- the vhost thread's side ---------------------------------------------- */

static void t_lock_all(void)
{
	unsigned int i;

	for (i = 0; i < T_VRINGS; i++)
		rte_spinlock_lock(&t.vring_lock[i]);
}

static void t_unlock_all(void)
{
	unsigned int i;

	for (i = 0; i < T_VRINGS; i++)
		rte_spinlock_unlock(&t.vring_lock[i]);
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

/*
 * The vhost thread holds every vring lock (a message being handled), then
 * the uplink has frames for the VM: the worker enters the guest's enqueue
 * (@bound: guest_ring_free first, for the RX ring bound) and spins there
 */
static struct vs_vm *t_worker_spinning(bool bound)
{
	struct vs_vm *vm = t_port_new();
	gint64 end = g_get_monotonic_time() + T_DEADLINE_MS * G_TIME_SPAN_MILLISECOND;

	if (bound) {
		vm->policy.rx_ring_bound = 64;
		t.ring_on = true;
	}
	t_lock_all();
	t_uplink_queue(0, T_FRAMES);	/* the worker's from vs_dp_publish() on */
	vs_dp_publish(vm);
	while (!__atomic_load_n(&t.enqueue_waiting, __ATOMIC_ACQUIRE)) {
		if (g_get_monotonic_time() > end) {
			t_unlock_all();
			g_error("the worker never reached the guest's enqueue");
		}
		g_usleep(1000);
	}
	return vm;
}

/*
 * Let the worker go, and wait until it has the lock (it had taken every
 * frame off the uplink before it entered the enqueue); vs_dp_quiesce()
 * then waits for the rest of its poll
 */
static void t_release(void)
{
	t_unlock_all();
	while (__atomic_load_n(&t.enqueue_waiting, __ATOMIC_ACQUIRE))
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
	t.vring_disabled[VS_VRING_RX(0)] = true;
	vs_dp_vring_state(vm, VS_VRING_RX(0), false);
}

/*
 * The hazard: waiting for the worker while the vring locks are held never
 * ends, for the worker waits for the lock.  It ends once they are released.
 */
static void t_quiesce_under_lock_waits(bool bound)
{
	struct t_call c = { .fn = t_quiesce };
	struct vs_vm *vm = t_worker_spinning(bound);
	GThread *th;
	bool returned;

	c.vm = vm;
	returned = t_call_within(&c, &th, T_HAZARD_MS);
	g_assert_true(__atomic_load_n(&t.enqueue_waiting, __ATOMIC_ACQUIRE));
	t_release();
	g_thread_join(th);
	vs_dp_quiesce();			/* the worker's last poll is seen */
	g_assert_false(returned);		/* it waited while the lock was held */
	g_assert_true(c.done);			/* and returned after */
	g_assert_cmpuint(t.got->len, ==, T_FRAMES);
	g_assert_cmpuint(t.ring_free_calls[VS_VRING_RX(0)], ==, bound ? 1 : 0);
	t_port_free(vm);
}

static void test_quiesce_under_lock_waits(void)
{
	t_quiesce_under_lock_waits(false);
}

/* Test 12 of plan-rx-ring-bound.md: the same, the worker spinning in
 * guest_ring_free */
static void test_quiesce_under_lock_waits_bound(void)
{
	t_quiesce_under_lock_waits(true);
}

/*
 * vring_state_changed's work, under the same locks, with the worker
 * spinning: it returns, and once the locks are gone the worker refuses the
 * disabled vring as DPDK does.
 */
static void t_vring_disable_under_lock_returns(bool bound)
{
	struct t_call c = { .fn = t_disable_rx };
	struct vs_vm *vm = t_worker_spinning(bound);
	GThread *th;
	bool returned;

	c.vm = vm;
	returned = t_call_within(&c, &th, T_DEADLINE_MS);
	g_assert_true(__atomic_load_n(&t.enqueue_waiting, __ATOMIC_ACQUIRE));	/* still */
	t_release();
	g_thread_join(th);
	vs_dp_quiesce();			/* no lock held: returns */
	g_assert_true(returned);
	g_assert_cmpuint(__atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE) &
			 1u << VS_VRING_RX(0), ==, 0);
	g_assert_cmpuint(t.got->len, ==, 0);	/* the spinning burst was refused */

	/* enabling is the same store the other way */
	t_lock_all();
	t.vring_disabled[VS_VRING_RX(0)] = false;
	vs_dp_vring_state(vm, VS_VRING_RX(0), true);
	t_unlock_all();
	g_assert_cmpuint(__atomic_load_n(&vm->vring_enabled, __ATOMIC_ACQUIRE) &
			 1u << VS_VRING_RX(0), !=, 0);
	t_port_free(vm);
}

static void test_vring_disable_under_lock_returns(void)
{
	t_vring_disable_under_lock_returns(false);
}

/* The same with the bound on: the disabled vring reports no free entry
 * (unknown), the burst is offered whole and refused */
static void test_vring_disable_under_lock_returns_bound(void)
{
	t_vring_disable_under_lock_returns(true);
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

static void add_tests(void)
{
	g_test_add_func("/dp-quiesce/hazard/quiesce-under-vring-lock-waits",
			test_quiesce_under_lock_waits);
	g_test_add_func("/dp-quiesce/hazard/quiesce-under-vring-lock-waits/ring-bound",
			test_quiesce_under_lock_waits_bound);
	g_test_add_func("/dp-quiesce/vring-disable-under-vring-lock-returns",
			test_vring_disable_under_lock_returns);
	g_test_add_func("/dp-quiesce/vring-disable-under-vring-lock-returns/ring-bound",
			test_vring_disable_under_lock_returns_bound);
	g_test_add_func("/dp-quiesce/vring-beyond-mask", test_vring_beyond_mask);
}

int main(int argc, char **argv)
{
	return t_main_with_worker(argc, argv, "dp-quiesce", add_tests);
}
