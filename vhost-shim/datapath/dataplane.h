/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dataplane.h - lcore poll loops and their quiescence
 *
 * Theory of operation: each worker lcore loops over the port slots assigned
 * to it: uplink RX -> VM RX ring, VM TX ring -> uplink TX.  Ports are
 * published into a fixed slot array with release stores, and removed with
 * vs_dp_unpublish(), which waits on an RCU QSBR variable until every worker
 * has passed a quiescent point after the removal.  vs_dp_quiesce() gives
 * the same guarantee for a port whose device went away (destroy_device,
 * vring disabled): when it returns, no lcore is inside rte_vhost for it.
 *
 * Workers report a quiescent state once per loop and go offline while they
 * sleep, so a sleeping worker never delays a writer.  When a whole loop
 * finds no work, the worker backs off from a short spin to sleeps that
 * double up to idle_sleep_us; busy-poll mode never sleeps.
 */
#ifndef VS_DATAPLANE_H
#define VS_DATAPLANE_H

#include <stdbool.h>

#include <gio/gio.h>

struct vs_vm;

#define VS_DP_BURST 32

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
 * Call after changing published state (vid, vring mask) that lcores read.
 */
void vs_dp_quiesce(void);

#endif /* VS_DATAPLANE_H */
