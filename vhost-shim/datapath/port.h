/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port.h - a port's lifecycle: create it, tear it down
 *
 * Theory of operation: creating a port is an ordered sequence (a slot in
 * the registry, the mempool, the handover's rings, the uplink, the
 * registry entry, the dataplane, the vhost-user socket) and removal undoes
 * it in reverse; vs_vm_remove() is also the error path of vs_vm_add(), so
 * a half-built port is torn down by the same code as a full one.  The GLib
 * main loop thread owns both.  Finding ports is port_registry.h.
 */
#ifndef VS_PORT_H
#define VS_PORT_H

#include <gio/gio.h>

struct vs_vm;
struct vs_port_cfg;

/**
 * vs_vm_add() - create a port: mempool, uplink, vhost socket, dataplane
 * @pc:		configuration, consumed
 * @error:	set on failure, nothing is left behind
 *
 * Return: the port, or NULL
 */
struct vs_vm *vs_vm_add(struct vs_port_cfg *pc, GError **error);

/**
 * vs_vm_remove() - tear a port down; the guest sees its link go away
 * @vm:		port, freed
 */
void vs_vm_remove(struct vs_vm *vm);

/**
 * vs_vm_remove_all() - remove every port (shutdown)
 */
void vs_vm_remove_all(void);

#endif /* VS_PORT_H */
