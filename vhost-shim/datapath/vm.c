/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm.c - port registry and lifecycle
 *
 * Theory of operation: see vm.h.  Creating a port is an ordered sequence
 * (mempool, uplink, slot, dataplane, vhost socket) and removal undoes it in
 * reverse; vs_vm_remove() is also the error path of vs_vm_add(), so a
 * half-built port is torn down by the same code as a full one.
 *
 * Removal order matters: first the port leaves the registry (so vhost
 * callbacks can no longer find it), then the lcores (RCU), then the vhost
 * socket is unregistered (which may run destroy_device for it, finding
 * nothing to do), and only then are the uplink and the mempool freed.
 */
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane.h"
#include "handover.h"
#include "log.h"
#include "uplink.h"
#include "vhost_port.h"
#include "vm.h"

#define VM_MBUF_CACHE 256

GMutex vs_vm_registry_lock;
static struct vs_vm *vm_registry[VS_MAX_PORTS];

struct vs_vm *vs_vm_find_by_path_locked(const char *path)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (vm_registry[i] && !strcmp(vm_registry[i]->cfg->socket_path, path))
			return vm_registry[i];
	return NULL;
}

struct vs_vm *vs_vm_slot_locked(unsigned int slot)
{
	return slot < VS_MAX_PORTS ? vm_registry[slot] : NULL;
}

struct vs_vm *vs_vm_find_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (vm_registry[i] && !strcmp(vm_registry[i]->cfg->name, name))
			return vm_registry[i];
	return NULL;
}

void vs_vm_foreach(void (*fn)(struct vs_vm *vm, void *opaque), void *opaque)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (vm_registry[i])
			fn(vm_registry[i], opaque);
}

unsigned int vs_vm_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < VS_MAX_PORTS; i++)
		n += vm_registry[i] != NULL;
	return n;
}

/*
 * vm_pool_size() - mbufs a port needs: both rings full on every queue, one
 * burst in flight each way, plus slack for the mempool caches.
 */
static unsigned int vm_pool_size(const struct vs_port_cfg *pc)
{
	return pc->queues * (VS_UPLINK_RX_DESC + VS_UPLINK_TX_DESC + 2 * VS_DP_BURST) +
	       2 * VM_MBUF_CACHE + 1024 + vs_ho_pool_extra(pc);
}

struct vs_vm *vs_vm_add(struct vs_port_cfg *pc, GError **error)
{
	struct vs_vm *vm;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	unsigned int slot;

	if (!vs_port_cfg_validate(pc, error)) {
		vs_port_cfg_free(pc);
		return NULL;
	}
	g_mutex_lock(&vs_vm_registry_lock);
	for (slot = 0; slot < VS_MAX_PORTS && vm_registry[slot]; slot++)
		;
	if (vs_vm_find_by_name(pc->name) || vs_vm_find_by_path_locked(pc->socket_path) ||
	    slot == VS_MAX_PORTS) {
		g_mutex_unlock(&vs_vm_registry_lock);
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    slot == VS_MAX_PORTS ? "port %s: too many ports"
						 : "port %s: name or socket already in use",
			    pc->name);
		vs_port_cfg_free(pc);
		return NULL;
	}
	vm = g_new0(struct vs_vm, 1);
	vm->cfg = pc;
	vm->slot = slot;
	vm->worker = slot % vs_dp_num_workers();
	vm->vid = -1;
	/* Only this thread adds ports, so the slot stays free; the port enters
	 * the registry only when its uplink works, so vhost callbacks never see
	 * a half-built port. */
	g_mutex_unlock(&vs_vm_registry_lock);

	snprintf(pool_name, sizeof(pool_name), "vs_mp_%s", pc->name);
	vm->pool = rte_pktmbuf_pool_create(pool_name, vm_pool_size(pc), VM_MBUF_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (!vm->pool) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
			    "port %s: cannot allocate %u mbufs (raise memory-mb?)", pc->name,
			    vm_pool_size(pc));
		goto fail;
	}
	if (!vs_ho_attach(vm, error))
		goto fail;
	if (!vs_uplink_open(pc->name, pc->uplink, pc->queues, vm->pool, &vm->eth_port, error))
		goto fail;
	vm->uplink_open = true;

	g_mutex_lock(&vs_vm_registry_lock);
	vm_registry[slot] = vm;
	g_mutex_unlock(&vs_vm_registry_lock);
	vs_dp_publish(vm);
	if (!vs_vhost_port_register(vm, error))
		goto fail;
	vs_log(MAIN, NOTICE, pc->name, "port added: socket %s, mac %02x:%02x:%02x:%02x:%02x:%02x, "
	       "worker %u", pc->socket_path, pc->mac[0], pc->mac[1], pc->mac[2], pc->mac[3],
	       pc->mac[4], pc->mac[5], vm->worker);
	return vm;

fail:
	vs_vm_remove(vm);
	return NULL;
}

void vs_vm_remove(struct vs_vm *vm)
{
	g_mutex_lock(&vs_vm_registry_lock);
	if (vm_registry[vm->slot] == vm)
		vm_registry[vm->slot] = NULL;
	g_mutex_unlock(&vs_vm_registry_lock);

	vs_dp_unpublish(vm);
	vs_vhost_port_unregister(vm);
	if (vm->uplink_open)
		vs_uplink_close(vm->cfg->name, vm->eth_port);
	vs_ho_detach(vm);
	rte_mempool_free(vm->pool);
	vs_log(MAIN, NOTICE, vm->cfg->name, "port removed");
	vs_port_cfg_free(vm->cfg);
	g_free(vm);
}

void vs_vm_remove_all(void)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (vm_registry[i])
			vs_vm_remove(vm_registry[i]);
}

void vs_vm_vhost_event(const struct vs_vhost_event *ev)
{
	struct vs_vm *vm = vs_vm_find_by_name(ev->name);

	if (!vm)
		return;		/* removed meanwhile */
	vs_ho_vhost_event(vm, ev);
}
