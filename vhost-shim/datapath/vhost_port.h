/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_port.h - the VM side: a vhost-user socket per port, via rte_vhost
 *
 * Theory of operation: we use rte_vhost directly (not net_vhost) because
 * the migration logic needs its callbacks: new_device, destroy_device,
 * vring_state_changed and features_changed.  They run on DPDK's vhost event
 * thread.  They do the minimum that must happen synchronously (publish or
 * retract the device for the lcores, and quiesce them before DPDK may unmap
 * guest memory: destroy_device only, the others run under the device's
 * vring locks and never wait for an lcore, vhost_port.c) and post everything
 * else as a struct vs_vhost_event (vhost_events.h), which only the main loop
 * thread dispatches, later, to the handover (vs_ho_vhost_event()) if the
 * port still exists; never on the vhost thread, not even while the main
 * loop is not running.  Ports are found through the registry
 * (port_registry.h); creating and removing them (port.c) calls
 * vs_vhost_port_register() and vs_vhost_port_unregister(), never the other
 * way round.  Events are taken from vs_vhost_port_events_start() to
 * vs_vhost_port_events_stop() (main.c), and dropped outside that window.
 */
#ifndef VS_VHOST_PORT_H
#define VS_VHOST_PORT_H

#include <gio/gio.h>

#include "vhost_events.h"

struct vs_vm;

/**
 * vs_vhost_port_register() - create the vhost-user socket of a port
 * @vm:		port
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_vhost_port_register(struct vs_vm *vm, GError **error);

/**
 * vs_vhost_port_unregister() - close the socket and any connection on it,
 * and drop the port's vhost events not handled yet
 * @vm:		port, already hidden from the registry and the lcores
 */
void vs_vhost_port_unregister(struct vs_vm *vm);

/**
 * vs_vhost_port_events_start() - the main loop thread takes the vhost
 * thread's events from now on (before the first port is added)
 */
void vs_vhost_port_events_start(void);

/**
 * vs_vhost_port_events_stop() - the vhost thread's events are dropped from
 * now on (once the main loop has returned, before the ports are removed)
 */
void vs_vhost_port_events_stop(void);

#endif /* VS_VHOST_PORT_H */
