/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_registry.c - the table of ports
 *
 * Theory of operation: see port_registry.h.  A port is in the table from
 * vs_port_registry_insert() to vs_port_registry_remove(); both take the
 * lock, so a vhost callback sees a port whole or not at all.  Lookups are
 * linear: VS_MAX_PORTS is small and nothing here is on the data path.
 */
#include <assert.h>
#include <string.h>

#include "config.h"
#include "port_registry.h"
#include "vm.h"

GMutex vs_vm_registry_lock;
static struct vs_vm *port_registry[VS_MAX_PORTS];

struct vs_vm *vs_vm_find_by_path_locked(const char *path)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (port_registry[i] && !strcmp(port_registry[i]->cfg->socket_path, path))
			return port_registry[i];
	return NULL;
}

struct vs_vm *vs_vm_slot_locked(unsigned int slot)
{
	return slot < VS_MAX_PORTS ? port_registry[slot] : NULL;
}

struct vs_vm *vs_vm_find_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (port_registry[i] && !strcmp(port_registry[i]->cfg->name, name))
			return port_registry[i];
	return NULL;
}

void vs_vm_foreach(void (*fn)(struct vs_vm *vm, void *opaque), void *opaque)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (port_registry[i])
			fn(port_registry[i], opaque);
}

unsigned int vs_vm_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < VS_MAX_PORTS; i++)
		n += port_registry[i] != NULL;
	return n;
}

gboolean vs_port_registry_reserve(const struct vs_port_cfg *pc, unsigned int *slot,
				  GError **error)
{
	unsigned int i;
	gboolean taken;

	g_mutex_lock(&vs_vm_registry_lock);
	for (i = 0; i < VS_MAX_PORTS && port_registry[i]; i++)
		;
	taken = vs_vm_find_by_name(pc->name) || vs_vm_find_by_path_locked(pc->socket_path);
	g_mutex_unlock(&vs_vm_registry_lock);
	if (i == VS_MAX_PORTS || taken) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    i == VS_MAX_PORTS ? "port %s: too many ports"
					      : "port %s: name or socket already in use", pc->name);
		return FALSE;
	}
	*slot = i;
	return TRUE;
}

void vs_port_registry_insert(struct vs_vm *vm)
{
	g_mutex_lock(&vs_vm_registry_lock);
	assert(vm->slot < VS_MAX_PORTS && !port_registry[vm->slot]);	/* reserved */
	port_registry[vm->slot] = vm;
	g_mutex_unlock(&vs_vm_registry_lock);
}

void vs_port_registry_remove(struct vs_vm *vm)
{
	g_mutex_lock(&vs_vm_registry_lock);
	if (vm->slot < VS_MAX_PORTS && port_registry[vm->slot] == vm)
		port_registry[vm->slot] = NULL;
	g_mutex_unlock(&vs_vm_registry_lock);
}
