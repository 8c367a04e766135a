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
 * vring locks and never wait for an lcore, vhost_port.c) and post everything else to the GLib main loop as a
 * struct vs_vhost_event, where the handover takes it (vs_ho_vhost_event())
 * if the port still exists.  Ports are found through the registry
 * (port_registry.h); creating and removing them (port.c) calls the two
 * functions below, never the other way round.
 */
#ifndef VS_VHOST_PORT_H
#define VS_VHOST_PORT_H

#include <stdint.h>

#include <gio/gio.h>

struct vs_vm;

enum vs_vhost_event_type {
	VS_VHOST_EV_NEW_DEVICE,
	VS_VHOST_EV_DESTROY_DEVICE,
	VS_VHOST_EV_FEATURES,
	VS_VHOST_EV_VRING_STATE,
};

/**
 * struct vs_vhost_event - what the vhost thread saw, for the main loop
 * @name:	port name (the port may be gone when this is handled)
 * @type:	what happened
 * @features:	negotiated features at the time of the event
 * @vring:	vring index (VRING_STATE)
 * @enable:	new vring state (VRING_STATE)
 */
struct vs_vhost_event {
	char name[32];
	enum vs_vhost_event_type type;
	uint64_t features;
	unsigned int vring;
	int enable;
};

/**
 * vs_vhost_port_register() - create the vhost-user socket of a port
 * @vm:		port
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_vhost_port_register(struct vs_vm *vm, GError **error);

/**
 * vs_vhost_port_unregister() - close the socket and any connection on it
 * @vm:		port, already hidden from the registry and the lcores
 */
void vs_vhost_port_unregister(struct vs_vm *vm);

#endif /* VS_VHOST_PORT_H */
