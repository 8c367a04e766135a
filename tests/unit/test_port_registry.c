/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_port_registry.c - the table of ports (port_registry.c), without EAL:
 * slots, uniqueness of names and socket paths, the limit, lookups, walking
 * while removing
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "vm.h"

static struct vs_vm *reg_port(const char *name, const char *path)
{
	g_autoptr(GError) err = NULL;
	struct vs_vm *vm = g_new0(struct vs_vm, 1);

	vm->cfg = vs_port_cfg_new();
	vm->cfg->name = g_strdup(name);
	vm->cfg->socket_path = g_strdup(path);
	g_assert_true(vs_port_registry_reserve(vm->cfg, &vm->slot, &err));
	g_assert_no_error(err);
	vs_port_registry_insert(vm);
	return vm;
}

static void reg_free(struct vs_vm *vm, void *opaque)
{
	unsigned int *n = opaque;

	vs_port_registry_remove(vm);
	vs_port_cfg_free(vm->cfg);
	g_free(vm);
	if (n)
		(*n)++;
}

static void test_find(void)
{
	struct vs_vm *a = reg_port("vm1", "/run/a.sock");
	struct vs_vm *b = reg_port("vm2", "/run/b.sock");
	unsigned int removed = 0;

	g_assert_cmpuint(vs_vm_count(), ==, 2);
	g_assert_true(vs_vm_find_by_name("vm2") == b);
	g_assert_null(vs_vm_find_by_name("vm3"));
	g_mutex_lock(&vs_vm_registry_lock);
	g_assert_true(vs_vm_find_by_path_locked("/run/a.sock") == a);
	g_assert_null(vs_vm_find_by_path_locked("/run/c.sock"));
	g_assert_true(vs_vm_slot_locked(a->slot) == a);
	g_assert_null(vs_vm_slot_locked(VS_MAX_PORTS));
	g_mutex_unlock(&vs_vm_registry_lock);

	/* a removed port leaves its slot to the next one */
	reg_free(a, NULL);
	g_assert_null(vs_vm_find_by_name("vm1"));
	a = reg_port("vm3", "/run/c.sock");
	g_assert_cmpuint(a->slot, ==, 0);

	vs_vm_foreach(reg_free, &removed);	/* removing while walking */
	g_assert_cmpuint(removed, ==, 2);
	g_assert_cmpuint(vs_vm_count(), ==, 0);
}

static void check_refused(const char *name, const char *path, const char *needle)
{
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_new();
	g_autoptr(GError) err = NULL;
	unsigned int slot = 12345;

	pc->name = g_strdup(name);
	pc->socket_path = g_strdup(path);
	g_assert_false(vs_port_registry_reserve(pc, &slot, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_assert_nonnull(strstr(err->message, needle));
	g_assert_cmpuint(slot, ==, 12345);
}

static void test_unique_and_limit(void)
{
	unsigned int i;

	reg_port("vm0", "/run/vm0.sock");
	check_refused("vm0", "/run/other.sock", "name or socket already in use");
	check_refused("other", "/run/vm0.sock", "name or socket already in use");
	for (i = 1; i < VS_MAX_PORTS; i++) {
		g_autofree char *name = g_strdup_printf("vm%u", i);
		g_autofree char *path = g_strdup_printf("/run/vm%u.sock", i);

		reg_port(name, path);
	}
	g_assert_cmpuint(vs_vm_count(), ==, VS_MAX_PORTS);
	check_refused("one-too-many", "/run/x.sock", "too many ports");
	vs_vm_foreach(reg_free, NULL);
	g_assert_cmpuint(vs_vm_count(), ==, 0);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/port-registry/find", test_find);
	g_test_add_func("/port-registry/unique-and-limit", test_unique_and_limit);
	return g_test_run();
}
