/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_cmds.c - the control socket's command table and port commands
 *
 * Theory of operation: vs_ctl_cmds[] is the one list of commands.  Each row
 * names the handler and declares the arguments; control.c checks the phase,
 * the argument names, types, enum values and integer ranges before any
 * handler here runs, so handlers only check what a schema cannot express
 * (a MAC address, whether a port exists).  Rows are sorted by name for
 * bsearch(), which vs_ctl_start() verifies.  Commands of other modules
 * (migration...) are added as rows here with their handlers in their own
 * files.
 *
 * Counters are written by lcores (and some by the main loop), one writer
 * each, and must never be written by anyone else.  So stats-reset does not
 * zero them: it snapshots them into a per-port baseline kept here, and
 * query-stats reports current minus baseline.  A reset is therefore
 * best-effort: frames counted while the snapshot is taken may land on
 * either side of it.  Gauges (peaks, last durations) are reported as they
 * are and are not reset.
 */
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "control_mig.h"
#include "control_policy.h"
#include "disc_daemon.h"
#include "log.h"
#include "pkt.h"
#include "reach.h"
#include "stats.h"
#include "util.h"
#include "vm.h"

/* ------------------------------------------------------------------ */
/* Counters                                                             */
/* ------------------------------------------------------------------ */

/* The snapshot copies the struct as an array of counters */
static_assert(sizeof(struct vs_port_stats) % sizeof(uint64_t) == 0,
	      "struct vs_port_stats holds uint64_t counters only");
static_assert(G_N_ELEMENTS(((struct vs_port_stats *)0)->buffered_pkts) == VS_PKT_NUM_CLASSES,
	      "buffered_pkts is indexed by enum vs_pkt_class");


#define CTL_STATS_WORDS (sizeof(struct vs_port_stats) / sizeof(uint64_t))

/**
 * struct ctl_baseline - counters of a port at its last stats-reset
 * @vm:		the port it was taken of: a port re-created under the same
 *		name is another port, with counters from zero
 * @snap:	the snapshot
 */
struct ctl_baseline {
	const struct vs_vm *vm;
	struct vs_port_stats snap;
};

static GHashTable *ctl_baselines;	/* port name -> struct ctl_baseline */

static void ctl_stats_snapshot(const struct vs_vm *vm, struct vs_port_stats *out)
{
	const uint64_t *src = (const uint64_t *)&vm->stats;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < CTL_STATS_WORDS; i++)
		dst[i] = VS_STAT_GET(src[i]);
}

static const struct vs_port_stats *ctl_baseline_of(const struct vs_vm *vm)
{
	struct ctl_baseline *b = ctl_baselines ? g_hash_table_lookup(ctl_baselines, vm->cfg->name)
					       : NULL;

	return b && b->vm == vm ? &b->snap : NULL;
}

static void ctl_baseline_forget(const char *name)
{
	if (ctl_baselines)
		g_hash_table_remove(ctl_baselines, name);
}

/*
 * ctl_counter() - a counter as reported: current minus baseline; a counter
 * below its baseline was restarted under us and is reported as it is
 */
static uint64_t ctl_counter(const struct vs_port_stats *cur, const struct vs_port_stats *base,
			    size_t off)
{
	uint64_t c = *(const uint64_t *)((const char *)cur + off);
	uint64_t b = base ? *(const uint64_t *)((const char *)base + off) : 0;

	return c >= b ? c - b : c;
}

static void ctl_add_class_counters(JsonObject *o, const char *name,
				   const struct vs_port_stats *cur,
				   const struct vs_port_stats *base, size_t off)
{
	JsonObject *by_class = json_object_new();
	unsigned int c;

	for (c = 0; c < VS_PKT_NUM_CLASSES; c++)
		json_object_set_int_member(by_class, vs_pkt_class_to_string(c),
					   (gint64)ctl_counter(cur, base,
							       off + c * sizeof(uint64_t)));
	json_object_set_object_member(o, name, by_class);
}

static JsonNode *ctl_port_stats(const struct vs_vm *vm)
{
	const struct vs_port_stats *base = ctl_baseline_of(vm);
	struct vs_port_stats cur;
	JsonObject *o = json_object_new(), *drops = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	size_t i;

	ctl_stats_snapshot(vm, &cur);
	json_object_set_string_member(o, "name", vm->cfg->name);
	for (i = 0; i < vs_num_stat_fields; i++) {
		const struct vs_stat_field *f = &vs_stat_fields[i];

		json_object_set_int_member(o, f->name,
					   (gint64)ctl_counter(&cur, f->gauge ? NULL : base,
							       f->off));
	}
	for (i = 0; i < VS_DROP_NUM_REASONS; i++) {
		size_t lcore = offsetof(struct vs_port_stats, drops) + i * sizeof(uint64_t);
		size_t mainloop = offsetof(struct vs_port_stats, ctl_drops) + i * sizeof(uint64_t);

		json_object_set_int_member(drops, vs_drop_reason_to_string(i),
					   (gint64)(ctl_counter(&cur, base, lcore) +
						    ctl_counter(&cur, base, mainloop)));
	}
	json_object_set_object_member(o, "drops", drops);
	ctl_add_class_counters(o, "buffered-pkts", &cur, base,
			       offsetof(struct vs_port_stats, buffered_pkts));
	ctl_add_class_counters(o, "buffered-bytes", &cur, base,
			       offsetof(struct vs_port_stats, buffered_bytes));
	json_object_set_member(o, "policy-rules", vs_ctl_policy_stats(vm));
	json_node_take_object(n, o);
	return n;
}

/* ------------------------------------------------------------------ */
/* Port commands                                                        */
/* ------------------------------------------------------------------ */

static struct vs_vm *ctl_find_port(const char *name, GError **error)
{
	struct vs_vm *vm = vs_vm_find_by_name(name);

	if (!vm)
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_DEVICE_NOT_FOUND,
			    "Port '%s' not found", name);
	return vm;
}

static void ctl_emit_port_event(const char *event, const char *name)
{
	JsonNode *data = json_node_new(JSON_NODE_OBJECT);
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "port", name);
	json_node_take_object(data, o);
	vs_ctl_emit_event(event, data);
}

static void ctl_port_info_cb(struct vs_vm *vm, void *opaque)
{
	const struct vs_port_cfg *pc = vm->cfg;
	JsonObject *o = json_object_new();
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", pc->mac[0], pc->mac[1],
		 pc->mac[2], pc->mac[3], pc->mac[4], pc->mac[5]);
	json_object_set_string_member(o, "name", pc->name);
	json_object_set_string_member(o, "socket", pc->socket_path);
	json_object_set_string_member(o, "mode", vs_port_mode_to_string(pc->client));
	json_object_set_string_member(o, "mac", mac);
	json_object_set_string_member(o, "uplink", pc->uplink);
	json_object_set_int_member(o, "queues", pc->queues);
	json_object_set_int_member(o, "mtu", pc->mtu);
	json_object_set_string_member(o, "tcp-on-loss", vs_tcp_on_loss_to_string(pc->tcp_on_loss));
	/* vid is published by the vhost thread with a release store */
	if (__atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE) >= 0) {
		uint64_t features = __atomic_load_n(&vm->features, __ATOMIC_RELAXED);
		char hex[19];

		json_object_set_string_member(o, "state", "running");
		snprintf(hex, sizeof(hex), "0x%" PRIx64, features);
		json_object_set_string_member(o, "features", hex);
		json_object_set_string_member(o, "ring", features & (1ULL << VIRTIO_F_RING_PACKED)
							 ? "packed" : "split");
		if (__atomic_load_n(&vm->guest_mtu, __ATOMIC_RELAXED))
			json_object_set_int_member(o, "guest-mtu",
						   __atomic_load_n(&vm->guest_mtu, __ATOMIC_RELAXED));
	} else {
		json_object_set_string_member(o, "state", "waiting");
	}
	vs_ctl_mig_add_identity(vm, o);	/* while it expects a migration */
	json_array_add_object_element(opaque, o);
}

static JsonNode *ctl_cmd_query_ports(struct vs_ctl_session *s, JsonObject *args,
				     GError **error)
{
	JsonArray *a = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_ARRAY);

	vs_vm_foreach(ctl_port_info_cb, a);
	json_node_take_array(n, a);
	return n;
}

static void ctl_port_stats_cb(struct vs_vm *vm, void *opaque)
{
	json_array_add_element(opaque, ctl_port_stats(vm));
}

static JsonNode *ctl_cmd_query_stats(struct vs_ctl_session *s, JsonObject *args,
				     GError **error)
{
	const char *port = vs_ctl_arg_str(args, "port", NULL);
	JsonArray *a;
	JsonNode *n;

	if (port) {
		struct vs_vm *vm = ctl_find_port(port, error);

		if (!vm)
			return NULL;
		a = json_array_new();
		ctl_port_stats_cb(vm, a);
	} else {
		a = json_array_new();
		vs_vm_foreach(ctl_port_stats_cb, a);
	}
	n = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(n, a);
	return n;
}

static void ctl_stats_reset_cb(struct vs_vm *vm, void *opaque)
{
	struct ctl_baseline *b = g_new0(struct ctl_baseline, 1);

	b->vm = vm;
	ctl_stats_snapshot(vm, &b->snap);
	g_hash_table_replace(ctl_baselines, g_strdup(vm->cfg->name), b);
}

static gboolean ctl_baseline_is_stale(gpointer name, gpointer value, gpointer opaque)
{
	const struct ctl_baseline *b = value;

	return vs_vm_find_by_name(name) != b->vm;
}

static JsonNode *ctl_cmd_stats_reset(struct vs_ctl_session *s, JsonObject *args,
				     GError **error)
{
	const char *port = vs_ctl_arg_str(args, "port", NULL);

	if (!ctl_baselines)
		ctl_baselines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* Ports removed by other means leave baselines behind: drop them */
	g_hash_table_foreach_remove(ctl_baselines, ctl_baseline_is_stale, NULL);
	if (port) {
		struct vs_vm *vm = ctl_find_port(port, error);

		if (!vm)
			return NULL;
		ctl_stats_reset_cb(vm, NULL);
	} else {
		vs_vm_foreach(ctl_stats_reset_cb, NULL);
	}
	return vs_ctl_return_empty();
}

static JsonNode *ctl_cmd_port_add(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_new();	/* the defaults of --port */
	const char *mac = vs_ctl_arg_str(args, "mac", "");
	const char *mode = vs_ctl_arg_str(args, "mode", NULL);
	const char *tcp_on_loss = vs_ctl_arg_str(args, "tcp-on-loss", NULL);
	g_autofree char *name = NULL;

	pc->name = g_strdup(vs_ctl_arg_str(args, "name", ""));
	pc->socket_path = g_strdup(vs_ctl_arg_str(args, "socket", ""));
	pc->uplink = g_strdup(vs_ctl_arg_str(args, "uplink", ""));
	if (mode)	/* the schema has checked the name */
		pc->client = vs_port_mode_from_string(mode) == VS_PORT_MODE_CLIENT;
	pc->queues = (unsigned int)vs_ctl_arg_int(args, "queues", pc->queues);
	pc->mtu = (unsigned int)vs_ctl_arg_int(args, "mtu", pc->mtu);
	if (json_object_has_member(args, "announce"))	/* the schema has checked the name */
		pc->announce = vs_announce_mode_from_string(vs_ctl_arg_str(args, "announce", "all"));
	if (tcp_on_loss)	/* the schema has checked the name */
		pc->tcp_on_loss = (enum vs_tcp_on_loss)vs_tcp_on_loss_from_string(tcp_on_loss);
	if (!vs_parse_mac(mac, pc->mac)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Parameter 'mac' expects a unicast MAC address such as "
			    "52:54:00:12:34:56");
		return NULL;
	}
	if (!vs_port_cfg_validate(pc, error))
		return NULL;
	/* the same allow-lists as the config file's ports (reach.h) */
	if (!vs_ctl_config()) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "port-add: the daemon has no configuration to check ports against");
		return NULL;
	}
	if (!vs_reach_check_port(vs_ctl_config(), pc, error))
		return NULL;
	if (vs_vm_find_by_name(pc->name)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "Port '%s' already exists",
			    pc->name);
		return NULL;
	}
	name = g_strdup(pc->name);
	if (!vs_vm_add(g_steal_pointer(&pc), error))
		return NULL;
	ctl_baseline_forget(name);
	ctl_emit_port_event(VS_CTL_EVENT_PORT_ADDED, name);
	return vs_ctl_return_empty();
}

static JsonNode *ctl_cmd_port_del(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	g_autofree char *name = g_strdup(vs_ctl_arg_str(args, "name", ""));
	struct vs_vm *vm = ctl_find_port(name, error);

	if (!vm)
		return NULL;
	vs_vm_remove(vm);
	ctl_baseline_forget(name);
	ctl_emit_port_event(VS_CTL_EVENT_PORT_DELETED, name);
	return vs_ctl_return_empty();
}

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

static const struct vs_ctl_arg ctl_args_port_add[] = {
	{ .name = "name", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "socket", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "mac", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "uplink", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "mode", .type = VS_CTL_ARG_ENUM, .values = &vs_port_mode_enum },
	{ .name = "queues", .type = VS_CTL_ARG_INT, .min = 1, .max = VS_MAX_QUEUES },
	{ .name = "mtu", .type = VS_CTL_ARG_INT, .min = VS_MIN_MTU, .max = VS_MAX_MTU },
	{ .name = "announce", .type = VS_CTL_ARG_ENUM, .values = &vs_announce_mode_enum },
	{ .name = "tcp-on-loss", .type = VS_CTL_ARG_ENUM, .values = &vs_tcp_on_loss_enum },
	{ .name = NULL },
};

static const struct vs_ctl_arg ctl_args_name[] = {
	{ .name = "name", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = NULL },
};

static const struct vs_ctl_arg ctl_args_opt_port[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR },
	{ .name = NULL },
};

static const struct vs_ctl_arg ctl_args_capabilities[] = {
	{ .name = "enable", .type = VS_CTL_ARG_STR_LIST },
	{ .name = NULL },
};

/* Rows of the table; a schema built at run time goes in args_fn */
#define CTL_CMD(n, h, f, a) { .name = (n), .handler = (h), .flags = (f), .args = (a) }
#define CTL_CMD_FN(n, h, f, fn) { .name = (n), .handler = (h), .flags = (f), .args_fn = (fn) }

/* Sorted by name (strcmp): vs_ctl_start() refuses to run otherwise */
const struct vs_ctl_cmd vs_ctl_cmds[] = {
	CTL_CMD("migrate-cancel", vs_ctl_cmd_migrate_cancel, VS_CTL_CMD_MUTATES,
		vs_ctl_args_mig_port),
	CTL_CMD("migrate-expect", vs_ctl_cmd_migrate_expect, VS_CTL_CMD_MUTATES,
		vs_ctl_args_mig_expect),
	CTL_CMD("migrate-set-peer", vs_ctl_cmd_migrate_set_peer, VS_CTL_CMD_MUTATES,
		vs_ctl_args_mig_set_peer),
	CTL_CMD("policy-add", vs_ctl_cmd_policy_add, VS_CTL_CMD_MUTATES, vs_ctl_args_policy_add),
	CTL_CMD("policy-del", vs_ctl_cmd_policy_del, VS_CTL_CMD_MUTATES, vs_ctl_args_policy_del),
	CTL_CMD(VS_CTL_CMD_PORT_ADD, ctl_cmd_port_add, VS_CTL_CMD_MUTATES, ctl_args_port_add),
	CTL_CMD(VS_CTL_CMD_PORT_DEL, ctl_cmd_port_del, VS_CTL_CMD_MUTATES, ctl_args_name),
	CTL_CMD(VS_CTL_CMD_QMP_CAPABILITIES, vs_ctl_cmd_qmp_capabilities,
		VS_CTL_CMD_NEGOTIATION, ctl_args_capabilities),
	CTL_CMD("query-buffer-policy", vs_ctl_cmd_query_buffer_policy, 0, vs_ctl_args_mig_port),
	CTL_CMD(VS_CTL_CMD_QUERY_COMMANDS, vs_ctl_cmd_query_commands, 0, NULL),
	CTL_CMD(VS_CTL_CMD_QUERY_CONTROL_STATS, vs_ctl_cmd_query_control_stats, 0, NULL),
	CTL_CMD("query-discovery", vs_ctl_cmd_query_discovery, 0, NULL),
	CTL_CMD("query-migration", vs_ctl_cmd_query_migration, 0, vs_ctl_args_mig_opt_port),
	CTL_CMD("query-peers", vs_ctl_cmd_query_peers, 0, NULL),
	CTL_CMD("query-policy", vs_ctl_cmd_query_policy, 0, vs_ctl_args_query_policy),
	CTL_CMD(VS_CTL_CMD_QUERY_PORTS, ctl_cmd_query_ports, 0, NULL),
	CTL_CMD(VS_CTL_CMD_QUERY_STATS, ctl_cmd_query_stats, 0, ctl_args_opt_port),
	CTL_CMD(VS_CTL_CMD_QUERY_VERSION, vs_ctl_cmd_query_version, 0, NULL),
	CTL_CMD("reset-flows", vs_ctl_cmd_reset_flows, VS_CTL_CMD_MUTATES, vs_ctl_args_mig_port),
	CTL_CMD_FN("set-buffer-policy", vs_ctl_cmd_set_buffer_policy, VS_CTL_CMD_MUTATES,
		vs_ctl_args_set_buffer_policy),
	CTL_CMD(VS_CTL_CMD_STATS_RESET, ctl_cmd_stats_reset, VS_CTL_CMD_MUTATES,
		ctl_args_opt_port),
};

const size_t vs_ctl_num_cmds = G_N_ELEMENTS(vs_ctl_cmds);
