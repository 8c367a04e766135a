/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stubs_port.c - port.c (the port lifecycle) replaced for the
 * control-socket unit tests (tests/unit/test_control*.c) and fuzz_control:
 * ports are plain structs, nothing touches EAL
 *
 * Theory of operation: the registry is the real one (port_registry.c):
 * a stub port takes a slot and enters the table as a real one does, so
 * names, socket paths and the port limit are checked by the daemon's own
 * code.  vs_vm_add() validates like the real one and fails for the uplink
 * "fail", so the error path of port-add is reachable; the port's buffer
 * policy starts as its configuration's, as vs_ho_attach() makes it in the
 * daemon, and its flow-policy table is compiled from vs_dp_flow_rules() as
 * port.c does (vs_dp_quiesce() has no lcores to wait for).  The fuzz target calls vs_vm_remove_all() before each run, so
 * no state leaks from one input to the next.
 */
#include <string.h>

#include <gio/gio.h>

#include "config.h"
#include "dataplane.h"
#include "dp_flow.h"
#include "dp_tcp.h"
#include "vm.h"

struct vs_vm *vs_vm_add(struct vs_port_cfg *pc, GError **error)
{
	struct vs_flow_table *t;
	struct vs_vm *vm;
	unsigned int slot;

	if (!vs_port_cfg_validate(pc, error) || !vs_port_registry_reserve(pc, &slot, error)) {
		vs_port_cfg_free(pc);
		return NULL;
	}
	if (!strcmp(pc->uplink, "fail")) {	/* how a test makes the uplink fail */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "port %s: cannot open uplink 'fail'", pc->name);
		vs_port_cfg_free(pc);
		return NULL;
	}
	vm = g_new0(struct vs_vm, 1);
	vm->cfg = pc;
	vm->slot = slot;
	vm->vid = -1;
	vm->policy = pc->policy;
	t = vs_dp_flow_compile(vm, vs_dp_flow_rules(), &vm->policy, error);
	if (!t) {
		vs_port_cfg_free(pc);
		g_free(vm);
		return NULL;
	}
	vs_dp_flow_install(vm, t);
	vs_port_registry_insert(vm);
	return vm;
}

/* No lcores here: nothing to wait for */
void vs_dp_quiesce(void)
{
}

void vs_vm_remove(struct vs_vm *vm)
{
	vs_port_registry_remove(vm);
	vs_dp_flow_detach(vm);
	vs_port_cfg_free(vm->cfg);
	g_free(vm);
}

static void stub_remove_cb(struct vs_vm *vm, void *opaque)
{
	vs_vm_remove(vm);
}

void vs_vm_remove_all(void)
{
	vs_vm_foreach(stub_remove_cb, NULL);
}

/* dp_tcp.c: reset-flows asks the lcore; no lcore here */
void vs_dp_tcp_reset(struct vs_vm *vm)
{
	(void)vm;
}

/* ... and no rules here: the port's tcp-on-loss alone */
bool vs_dp_tcp_may_reset(const struct vs_vm *vm)
{
	return vm->cfg->tcp_on_loss == VS_TCP_ON_LOSS_RESET;
}
