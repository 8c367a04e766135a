/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane.h - lcore poll loops and their quiescence
 *
 * Theory of operation: each worker lcore loops over the port slots assigned
 * to it: uplink RX -> VM RX ring, VM TX ring -> uplink TX.  Ports are
 * published into a fixed slot array with release stores, and removed with
 * vs_dp_unpublish(), which waits on an RCU QSBR variable until every worker
 * has passed a quiescent point after the removal.  vs_dp_quiesce() gives
 * the same guarantee for a port whose device went away (destroy_device):
 * when it returns, no lcore is inside rte_vhost for it.
 *
 * Lock rule: a worker may be spinning inside rte_vhost on a virtqueue's
 * access_lock (rte_vhost_enqueue_burst() takes it with a blocking
 * rte_spinlock_lock() in DPDK 22.11), and until it gets the lock it passes
 * no quiescent point.  So no thread may wait for the workers (vs_dp_quiesce(),
 * vs_dp_unpublish()) while it holds, or while DPDK holds for it, an
 * access_lock.  DPDK's vhost thread holds every access_lock of a device
 * while it calls vring_state_changed, features_changed and the message
 * hooks for most requests (vhost_port.c lists them): those callbacks never
 * wait for a worker; a vring's state goes to the workers through
 * vs_dp_vring_state(), which does not wait.  Only destroy_device, which
 * DPDK calls without the lock, quiesces.
 *
 * Workers report a quiescent state once per loop and go offline while they
 * sleep, so a sleeping worker never delays a writer.  When a whole loop
 * finds no work, the worker backs off from a short spin to sleeps that
 * double up to idle_sleep_us; busy-poll mode never sleeps.
 */
#ifndef VS_DATAPLANE_H
#define VS_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

struct vs_vm;

#define VS_DP_BURST 32
/* a guest's TSO frame is cut into segments this many at a time: the most
 * it holds of the port's pool beyond its own chain (dp_tx_offload.c) */
#define VS_DP_TSO_ROUND	256
/* the most frames the lcore hands the uplink at once: a burst's, or a
 * TSO frame's segments (port.c sizes the pool for them) */
#define VS_DP_TX_OUT	(VS_DP_BURST + VS_DP_TSO_ROUND)

/**
 * vs_dp_init() - allocate the RCU variable and the slot array
 * @busy_poll:	never sleep
 * @idle_sleep_us: longest idle sleep
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_dp_init(bool busy_poll, unsigned int idle_sleep_us, GError **error);

/**
 * vs_dp_start() - launch one worker on every EAL worker lcore
 * @error:	set if there is no worker lcore
 *
 * Return: TRUE on success
 */
gboolean vs_dp_start(GError **error);

/**
 * vs_dp_stop() - stop and join the workers
 */
void vs_dp_stop(void);

/**
 * vs_dp_num_workers() - number of worker lcores
 *
 * Return: count (>= 1 after vs_dp_start())
 */
unsigned int vs_dp_num_workers(void);

/**
 * vs_dp_publish() - make a port visible to its worker
 * @vm:		port with slot and worker set
 */
void vs_dp_publish(struct vs_vm *vm);

/**
 * vs_dp_unpublish() - hide a port from the workers and wait for them
 * @vm:		port; when this returns no lcore references it
 */
void vs_dp_unpublish(struct vs_vm *vm);

/**
 * vs_dp_quiesce() - wait until every worker passed a quiescent point
 *
 * Call after changing published state (vid) that lcores read.  Never with
 * a virtqueue's access_lock held (the lock rule above): it would wait for
 * good for a worker spinning on that lock.
 */
void vs_dp_quiesce(void);

/**
 * vs_dp_vring_state() - tell the port's worker that a vring was enabled or
 * disabled (DPDK's vhost thread, from vring_state_changed)
 * @vm:		port
 * @vring:	vring index; 32 and above are never polled and ignored
 * @enable:	new state
 *
 * Does not wait for the worker: DPDK calls vring_state_changed with every
 * access_lock of the device held (the lock rule above).  Nothing needs the
 * wait: a worker that still uses the old mask for one pass reaches a
 * disabled vring through rte_vhost_enqueue_burst() and
 * rte_vhost_dequeue_burst(), which check the vring's enabled flag under its
 * lock and then move nothing, and through the TX stall check's lock-free
 * read of the avail index, whose guest memory a vring's state change does
 * not unmap (only SET_MEM_TABLE and the end of the device do; the latter
 * is destroy_device's quiescence).
 */
void vs_dp_vring_state(struct vs_vm *vm, unsigned int vring, bool enable);

/**
 * vs_dp_rx_ring_outstanding() - the entries of the guest's RX vring 0 that
 * the shim filled and the guest has not reposted (DPDK's vhost thread:
 * query-stats' rx-ring-outstanding-at-stop and -at-start, issue 16)
 * @vid:	the device
 * @size:	the vring's size (rte_vhost_get_vhost_vring())
 *
 * @size minus the free entries DPDK reports (rte_vhost_avail_entries()):
 * what the guest has not read, plus what it read and has not reposted yet
 * (a Linux guest reposts in batches of 32 and more).  DPDK reports 0 free
 * for a vring it disabled or has not translated, so such a ring reads as
 * full.  Takes the vring's access lock with a blocking spin: only where no
 * lcore can hold it and DPDK does not (destroy_device after the quiesce,
 * new_device before the port's vid is published; the lock rule above).
 *
 * Return: outstanding entries, 0..@size
 */
uint64_t vs_dp_rx_ring_outstanding(int vid, uint16_t size);

#endif /* VS_DATAPLANE_H */
