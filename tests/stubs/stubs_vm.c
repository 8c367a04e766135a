/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stubs_vm.c - vm.c replaced for the control-socket unit test
 * (tests/unit/test_control.c) and fuzz_control: ports are plain structs in
 * a table, nothing touches EAL
 *
 * Theory of operation: vs_vm_add() validates like the real one and fails
 * for the uplink "fail", so the error path of port-add is reachable; the
 * port's buffer policy starts as its configuration's, as vs_ho_attach()
 * makes it in the daemon.  The fuzz target calls vs_vm_remove_all() before
 * each run, so no state leaks from one input to the next.
 */
#include <string.h>

#include <gio/gio.h>

#include "config.h"
#include "vm.h"

GMutex vs_vm_registry_lock;
static struct vs_vm *stub_vms[VS_MAX_PORTS];

struct vs_vm *vs_vm_add(struct vs_port_cfg *pc, GError **error)
{
	struct vs_vm *vm;
	unsigned int slot;

	if (!vs_port_cfg_validate(pc, error)) {
		vs_port_cfg_free(pc);
		return NULL;
	}
	if (!strcmp(pc->uplink, "fail")) {	/* how a test makes the uplink fail */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "port %s: cannot open uplink 'fail'", pc->name);
		vs_port_cfg_free(pc);
		return NULL;
	}
	for (slot = 0; slot < VS_MAX_PORTS && stub_vms[slot]; slot++)
		;
	if (slot == VS_MAX_PORTS) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "port %s: too many ports",
			    pc->name);
		vs_port_cfg_free(pc);
		return NULL;
	}
	vm = g_new0(struct vs_vm, 1);
	vm->cfg = pc;
	vm->slot = slot;
	vm->vid = -1;
	vm->policy = pc->policy;
	stub_vms[slot] = vm;
	return vm;
}

void vs_vm_remove(struct vs_vm *vm)
{
	stub_vms[vm->slot] = NULL;
	vs_port_cfg_free(vm->cfg);
	g_free(vm);
}

void vs_vm_remove_all(void)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (stub_vms[i])
			vs_vm_remove(stub_vms[i]);
}

struct vs_vm *vs_vm_find_by_name(const char *name)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (stub_vms[i] && !strcmp(stub_vms[i]->cfg->name, name))
			return stub_vms[i];
	return NULL;
}

void vs_vm_foreach(void (*fn)(struct vs_vm *vm, void *opaque), void *opaque)
{
	unsigned int i;

	for (i = 0; i < VS_MAX_PORTS; i++)
		if (stub_vms[i])
			fn(stub_vms[i], opaque);
}

unsigned int vs_vm_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < VS_MAX_PORTS; i++)
		n += stub_vms[i] != NULL;
	return n;
}
