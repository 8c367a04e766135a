/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_harness.h - what the dataplane's unit tests share
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
 *
 * The guest's RX ring behaves towards its caller as DPDK 22.11's
 * rte_vhost_enqueue_burst() does: it takes the vring's access lock
 * (t.vring_lock) with a blocking spin, then refuses every frame if the
 * device disabled the vring (t.vring_disabled).  In a single-threaded test
 * the lock is always free; test_dp_quiesce.c holds it from the test thread,
 * as DPDK's vhost thread does while it handles a message, to catch a worker
 * spinning on it.
 *
 * Each RX vring is also a ring of t.ring_size[v] entries (256), as a Linux
 * guest keeps it (docs/dev/plan-rx-ring-bound.md, section 8): the shim
 * fills free entries (t.unread), the guest reads them when it runs
 * (t_guest_run(); nothing while t.stopped) and posts them again only when
 * more than t.refill_above (32, Linux's NAPI budget / 2) wait (t.unposted);
 * when it finds nothing more to read it re-arms its interrupt (used_event
 * = used->idx with t.event_idx, else VRING_AVAIL_F_NO_INTERRUPT cleared).
 * A frame takes t.entries_per_frame entries (1; more: a mergeable-buffer
 * guest's jumbo frames), and t.unread, t.unposted count entries.
 * guest_ring_free reports size - unread - unposted (DPDK's avail->idx -
 * last_used_idx; 0 for a disabled vring) under the vring's lock;
 * guest_ring_idle, the valve, whether the guest re-armed.  The ring limits
 * the enqueue only with t.ring_on, so t.guest_room and t.guest_budget keep
 * their meaning and the tests that predate it are unchanged; without it,
 * guest_ring_free reports what the test set in t.ring_free.  Both ops
 * count their calls (t.ring_free_calls, t.ring_idle_calls).
 *
 * The uplink has a FIFO per queue: t.rx is queue t.rx_q's (0 unless a test
 * moves it), t.rxq[q] every other queue's (t_uplink_queue_on()); a burst
 * takes what its queue holds, up to what was asked.  uplink_depth, the
 * drain's bound of a queue, answers t.depth[q] (T_UPLINK_DEPTH, what
 * rte_eth_rx_queue_setup() is given, unless the test set it) and counts
 * its calls (t.depth_calls).
 *
 * The guest's TX ring hands out the frames a test queued in t.guest
 * and sends them as dp_vm_to_uplink() does (tracked by the TCP table, then
 * on the uplink).
 *
 * The tests are split by concern into binaries of their own (test_dataplane.c,
 * test_dp_replay.c, test_dp_caps.c, test_dp_flow_rules.c, test_dp_announce.c,
 * test_dp_dedup.c, test_dp_tcp.c, test_dp_quiesce.c, test_dp_drain.c,
 * test_dp_source_hold.c, test_dp_replay_tail.c, test_dp_replay_tail_race.c);
 * each one's main() is
 * t_main(), which starts EAL, creates the pool t_pool, installs the fakes
 * and runs the tests it registers, or t_main_with_worker(), which also runs
 * the real worker loop on an lcore of its own.  t_port_new() resets the
 * fakes' state t, and t_port_free() checks every mbuf came back.
 */
#ifndef VS_DP_HARNESS_H
#define VS_DP_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_spinlock.h>

#include "dataplane.h"
#include "dp_priv.h"
#include "flow_set.h"
#include "vm.h"

#define T_POOL_SIZE	8191
#define T_MAX_FRAMES	20000
#define T_UNLIMITED	UINT32_MAX
#define T_VRINGS	8	/* the fake device's vrings: four queue pairs */
#define T_RING_SIZE	256	/* a guest RX ring's entries (QEMU's default) */
#define T_UPLINK_QUEUES	VS_MAX_QUEUES
#define T_UPLINK_DEPTH	1024	/* uplink_depth's default: VS_UPLINK_RX_DESC */

extern struct rte_mempool *t_pool;
extern const uint8_t t_vm_mac[6];
extern const uint8_t t_peer_mac[6];

/* The fake uplink's and guest's state, reset by t_port_new() */
struct t_state {
	GQueue rx;			/* struct rte_mbuf *, handed out in order */
	uint64_t tx;			/* frames sent on the uplink */
	uint32_t guest_room;		/* frames the guest's ring takes per call */
	uint32_t guest_budget;		/* frames it takes in all (T_UNLIMITED) */
	GArray *got;			/* uint32_t seq of each frame delivered */
	uint64_t nombuf, missed;	/* the uplink's own drop counters */
	bool stats_fail;		/* the uplink's stats read fails */
	uint16_t rx_q;			/* the uplink queue t.rx's frames come on */
	GQueue rxq[T_UPLINK_QUEUES];	/* the other queues' frames, in order */
	uint32_t depth[T_UPLINK_QUEUES];	/* uplink_depth's answer (0: T_UPLINK_DEPTH) */
	unsigned int depth_calls[T_UPLINK_QUEUES];	/* uplink_depth called */
	bool rx_any_q;			/* review59: every uplink queue takes the
					 * next burst of t.rx (one flow per burst) */
	uint32_t vring_frames[T_VRINGS];	/* frames enqueued per guest RX vring */
	rte_spinlock_t vring_lock[T_VRINGS];	/* DPDK's access_lock of each vring */
	bool vring_disabled[T_VRINGS];	/* the device's own flag, under vring_lock */
	int enqueue_waiting;		/* the enqueue or guest_ring_free spins on a
					 * vring_lock (atomic) */
	GQueue guest;			/* struct rte_mbuf *: the VM's frames, in order */
	bool fake_clock;		/* the lcore reads now, not the TSC */
	uint64_t now;			/* the fake clock, in TSC cycles */
	GPtrArray *sent;		/* GBytes of each frame sent, if set;
					 * t_port_free() frees it */
	/* the guest's RX rings, per vring (see above) */
	bool ring_on;			/* the ring limits the enqueue */
	uint16_t ring_size[T_VRINGS];	/* T_RING_SIZE */
	uint32_t unread[T_VRINGS];	/* filled by the shim, not read */
	uint32_t unposted[T_VRINGS];	/* read, not posted again */
	uint32_t refill_above;		/* the guest posts when more wait (32) */
	uint32_t entries_per_frame;	/* a frame's buffers (1; more: mergeable
					 * buffers and frames above one's size) */
	bool stopped;			/* the guest's vCPUs do not run */
	bool event_idx;			/* VIRTIO_RING_F_EVENT_IDX (true) */
	uint16_t used[T_VRINGS];	/* used->idx: entries the shim published */
	uint16_t used_event[T_VRINGS];	/* used->idx when the guest re-armed */
	bool no_interrupt[T_VRINGS];	/* VRING_AVAIL_F_NO_INTERRUPT */
	uint16_t ring_free[T_VRINGS];	/* guest_ring_free's answer without ring_on */
	unsigned int ring_free_calls[T_VRINGS];	/* guest_ring_free called */
	unsigned int ring_idle_calls[T_VRINGS];	/* guest_ring_idle called */
	/* called once, by the next uplink_rx, before it hands out frames: the
	 * main loop's move between the lcore's reads of one poll */
	void (*before_rx)(void *arg);
	void *before_rx_arg;
};

extern struct t_state t;

/* The sequence number a t_frame() carries */
uint32_t t_seq_of(struct rte_mbuf *m);
/* The guest runs on RX vring @vring: reads up to @n frames, posts its
 * buffers again past t.refill_above, re-arms when it found nothing more.
 * Return: frames read (0 while t.stopped) */
uint32_t t_guest_run(uint16_t vring, uint32_t n);
/* The fake clock from now on, starting at the TSC's value */
void t_clock_fake(void);
void t_clock_advance_us(uint64_t us);

/* An IPv4 UDP frame to the VM carrying @seq at offset 42 */
struct rte_mbuf *t_frame(uint32_t seq, uint16_t len);
/* Tunnel a frame that reached the source @age_us ago (< 0: no time) */
void t_inject_aged(struct vs_vm *vm, uint32_t seq, int64_t age_us);
/* The uplink hands out frames first..first+n-1 */
void t_uplink_queue(uint32_t first, uint32_t n);
/* ... on its queue @q */
void t_uplink_queue_on(uint16_t q, uint32_t first, uint32_t n);
/* Frames waiting in uplink queue @q */
unsigned int t_uplink_waiting(uint16_t q);
/* Frames first..first+n-1 come through the tunnel */
void t_inject(struct vs_vm *vm, uint32_t first, uint32_t n);
/* Compile @lines (--policy rules) for @vm and publish the table */
void t_rules(struct vs_vm *vm, struct vs_flow_set *set, const char *const *lines);

/* A port on t_pool with one queue, its vrings enabled, the fakes reset */
struct vs_vm *t_port_new(void);
/* Every drop counted, of every reason */
uint64_t t_drops(const struct vs_vm *vm);
/* uplink_rx = delivered + counted drops + in flight, a held source's frames
 * too (dp_source_hold.h; frames the test injected count as received too:
 * @injected) */
void t_check_accounting(const struct vs_vm *vm, uint64_t injected);
/* Free the port (unpublished, if it was) and check every mbuf came back to
 * t_pool and the port's TCP table is gone */
void t_port_free(struct vs_vm *vm);
/* vs_dp_poll_port() @times; Return: the work it reported */
unsigned int t_poll(struct vs_vm *vm, unsigned int times);
/* On the fake clock: @steps times, advance @us and poll once */
void t_poll_every(struct vs_vm *vm, unsigned int steps, uint64_t us);
/* @n frames first..first+n-1 arrive on the uplink, one every @us, each polled */
void t_arrive(struct vs_vm *vm, uint32_t first, uint32_t n, uint64_t us);
/* The main loop's replay of a buffer with nothing more to inject */
void t_replay_now(struct vs_vm *vm);
/* Poll every @us of the fake clock until the replay has finished and the
 * port is LIVE: everything delivered, the frames held behind its mark too */
void t_replay_finish(struct vs_vm *vm, uint64_t us);
/* the guest got exactly first..first+n-1 at t.got[at..] */
void t_assert_run(unsigned int at, uint32_t first, uint32_t n);

/*
 * t_main() - a test binary's main(): EAL (its --file-prefix vs-unit-@name),
 * t_pool and the fakes, then @add_tests registers the tests and they run
 * Return: g_test_run()'s, or 1 if EAL did not start
 */
int t_main(int argc, char **argv, const char *name, void (*add_tests)(void));

/*
 * t_main_with_worker() - as t_main(), with a worker lcore besides the main
 * one on which vs_dp_start() runs the real worker loop (sleeping when idle);
 * a port the test publishes (vs_dp_publish()) is polled there
 * Return: g_test_run()'s, or 1 if EAL or the worker did not start
 */
int t_main_with_worker(int argc, char **argv, const char *name, void (*add_tests)(void));

#endif /* VS_DP_HARNESS_H */
