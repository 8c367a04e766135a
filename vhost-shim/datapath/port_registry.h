/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_registry.h - the table of ports: find them, walk them, count them
 *
 * Theory of operation: VS_MAX_PORTS slots, each empty or holding one
 * struct vs_vm (vm.h).  The GLib main loop thread is the only writer: it
 * reserves a slot for a port being built (vs_port_registry_reserve()),
 * inserts the port once it works and removes it first thing when it goes
 * (port.c); it reads without the lock.  The vhost event thread reads under
 * vs_vm_registry_lock (vhost_port.c): a port it finds stays in the table,
 * and its fields documented as "vhost thread" stay valid, until it drops
 * the lock.  Lcores never look here: they see the ports the dataplane
 * published.
 *
 * Nothing here touches EAL: the unit tests and the fuzzers link this file
 * as it is, with the lifecycle (port.c) stubbed (tests/stubs/).
 */
#ifndef VS_PORT_REGISTRY_H
#define VS_PORT_REGISTRY_H

#include <gio/gio.h>

struct vs_vm;
struct vs_port_cfg;

/* Held by the vhost thread in callbacks, and by the main loop when it
 * changes the table */
extern GMutex vs_vm_registry_lock;

/**
 * vs_port_registry_reserve() - pick a free slot for a new port, whose name
 * and socket path no port has
 * @pc:		the new port's configuration
 * @slot:	output: the slot; it stays free until vs_port_registry_insert(),
 *		since only the main loop thread adds ports
 * @error:	set if the table is full or the name or socket is taken
 *		(G_IO_ERROR_EXISTS)
 *
 * Return: TRUE on success
 */
gboolean vs_port_registry_reserve(const struct vs_port_cfg *pc, unsigned int *slot,
				  GError **error);

/**
 * vs_port_registry_insert() - make a port visible in its slot (vm->slot,
 * from vs_port_registry_reserve())
 * @vm:		port
 */
void vs_port_registry_insert(struct vs_vm *vm);

/**
 * vs_port_registry_remove() - take a port out of the table; no vhost
 * callback finds it afterwards (no-op if it was never inserted)
 * @vm:		port
 */
void vs_port_registry_remove(struct vs_vm *vm);

/**
 * vs_vm_find_by_name() - look a port up (main loop thread)
 * @name:	port name
 *
 * Return: the port or NULL
 */
struct vs_vm *vs_vm_find_by_name(const char *name);

/**
 * vs_vm_find_by_path_locked() - look a port up by vhost socket path
 * @path:	socket path; caller holds vs_vm_registry_lock
 *
 * Return: the port or NULL
 */
struct vs_vm *vs_vm_find_by_path_locked(const char *path);

/**
 * vs_vm_slot_locked() - the port in a registry slot
 * @slot:	0..VS_MAX_PORTS-1; caller holds vs_vm_registry_lock
 *
 * Return: the port or NULL
 */
struct vs_vm *vs_vm_slot_locked(unsigned int slot);

/**
 * vs_vm_foreach() - call @fn for each port in slot order (main loop
 * thread); @fn may remove the port it is given
 * @fn:		callback
 * @opaque:	passed to @fn
 */
void vs_vm_foreach(void (*fn)(struct vs_vm *vm, void *opaque), void *opaque);

/**
 * vs_vm_count() - number of ports
 *
 * Return: count
 */
unsigned int vs_vm_count(void);

#endif /* VS_PORT_REGISTRY_H */
