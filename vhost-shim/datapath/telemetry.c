/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * telemetry.c - the /vhost_shim telemetry endpoints
 *
 * Theory of operation: see telemetry.h.  Counters are reported raw (a
 * control-socket stats-reset does not affect them), as DPDK's own ethdev
 * telemetry does.
 */
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "dp_flow.h"
#include "migration.h"
#include "stats.h"
#include "telemetry.h"
#include "util.h"
#include "vm.h"

/*
 * DPDK accepts only [A-Za-z0-9_] in dict keys (rte_tel_data_add_dict_*
 * refuses others): the control socket's "rx-pkts" is "rx_pkts" here.
 */
static void tel_key(char *out, size_t size, const char *prefix, const char *name)
{
	char *p;

	snprintf(out, size, "%s%s", prefix, name);
	for (p = out; *p; p++)
		if (*p == '-')
			*p = '_';
}

static int tel_ports_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	unsigned int i;

	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	g_mutex_lock(&vs_vm_registry_lock);
	for (i = 0; i < VS_MAX_PORTS; i++) {
		struct vs_vm *vm = vs_vm_slot_locked(i);

		if (vm)
			rte_tel_data_add_array_string(d, vm->cfg->name);
	}
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

static int tel_stats_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	const struct vs_port_stats *s;
	struct vs_vm *vm;
	unsigned int i;

	if (!params || !*params)
		return -1;	/* usage: /vhost_shim/stats,<port> */
	g_mutex_lock(&vs_vm_registry_lock);
	vm = vs_vm_find_by_name(params);
	if (!vm) {
		g_mutex_unlock(&vs_vm_registry_lock);
		return -1;
	}
	s = &vm->stats;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "migration_state", vs_mig_state_to_string(vm->mig.state));
	for (i = 0; i < vs_num_stat_fields; i++) {
		char name[48];

		tel_key(name, sizeof(name), "", vs_stat_fields[i].name);
		rte_tel_data_add_dict_u64(d, name,
					  VS_STAT_GET(*(const uint64_t *)((const char *)s +
									 vs_stat_fields[i].off)));
	}
	for (i = 0; i < VS_DROP_NUM_REASONS; i++) {
		char name[48];

		tel_key(name, sizeof(name), "drop_", vs_drop_reason_to_string(i));
		rte_tel_data_add_dict_u64(d, name, VS_STAT_GET(s->drops[i]) +
						   VS_STAT_GET(s->ctl_drops[i]));
	}
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

/* One rule's counters as a dict of /vhost_shim/policy */
static void tel_rule_cb(const char *name, const struct vs_dp_flow_ctr *c, void *opaque)
{
	struct rte_tel_data *d = opaque, *r = rte_tel_data_alloc();
	char key[48];
	char *p;

	if (!r)
		return;
	rte_tel_data_start_dict(r);
	rte_tel_data_add_dict_u64(r, "matched", c->matched);
	rte_tel_data_add_dict_u64(r, "buffered", c->buffered);
	rte_tel_data_add_dict_u64(r, "dropped", c->dropped);
	rte_tel_data_add_dict_u64(r, "stragglers", c->stragglers);
	tel_key(key, sizeof(key), "", name);
	for (p = key; *p; p++)	/* a rule name may have '.', too */
		if (*p == '.')
			*p = '_';
	if (rte_tel_data_add_dict_container(d, key, r, 0))
		rte_tel_data_free(r);	/* more than DPDK's 256 entries */
}

static int tel_policy_cb(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct vs_vm *vm;

	if (!params || !*params)
		return -1;	/* usage: /vhost_shim/policy,<port> */
	g_mutex_lock(&vs_vm_registry_lock);
	vm = vs_vm_find_by_name(params);
	if (!vm) {
		g_mutex_unlock(&vs_vm_registry_lock);
		return -1;
	}
	rte_tel_data_start_dict(d);
	vs_dp_flow_foreach_ctr(vm, tel_rule_cb, d);
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

int vs_telemetry_register(void)
{
	if (rte_telemetry_register_cmd("/vhost_shim/ports", tel_ports_cb,
				       "Lists the vhost-shim ports. Takes no parameters") ||
	    rte_telemetry_register_cmd("/vhost_shim/stats", tel_stats_cb,
				       "Counters of one vhost-shim port. Parameters: port name") ||
	    rte_telemetry_register_cmd("/vhost_shim/policy", tel_policy_cb,
				       "Flow-policy rule counters of one vhost-shim port. "
				       "Parameters: port name"))
		return -1;
	return 0;
}
