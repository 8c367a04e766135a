/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_mig.c - control-socket commands for migrations and buffering
 *
 * Theory of operation: thin handlers between the control socket and
 * handover.c.  The orchestrator (or the libvirt hook, or vshimctl) arms
 * each side explicitly:
 *   destination: migrate-expect {port, peer?, vm-uuid?, vm-name?}
 *                (before the migration)
 *   source:      migrate-set-peer {port, peer}  (before the blackout)
 * or, in automatic mode, only the destination is armed and it announces
 * itself to its peers.  query-migration reports the state machine and the
 * figures of the last migration; set-buffer-policy changes caps at runtime
 * (and republishes the port's flow-policy table, whose default rules they
 * are); reset-flows resets the TCP peers of a VM that is gone for good.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "config_keys.h"
#include "control.h"
#include "control_mig.h"
#include "dp_flow.h"
#include "dp_tcp.h"
#include "handover.h"
#include "migration.h"
#include "tunnel.h"
#include "util.h"
#include "vm.h"

const struct vs_ctl_arg vs_ctl_args_mig_port[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR, .required = true },
	{ 0 },
};

const struct vs_ctl_arg vs_ctl_args_mig_opt_port[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR },
	{ 0 },
};

const struct vs_ctl_arg vs_ctl_args_mig_expect[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "peer", .type = VS_CTL_ARG_STR },
	{ .name = "vm-uuid", .type = VS_CTL_ARG_STR },
	{ .name = "vm-name", .type = VS_CTL_ARG_STR },
	{ 0 },
};

const struct vs_ctl_arg vs_ctl_args_mig_set_peer[] = {
	{ .name = "port", .type = VS_CTL_ARG_STR, .required = true },
	{ .name = "peer", .type = VS_CTL_ARG_STR, .required = true },
	{ 0 },
};

/* Room for set-buffer-policy's schema: port, the policy keys, the end */
#define CMIG_POLICY_ARGS_MAX	32

/*
 * cmig_policy_arg() - the schema row of one buffer-policy key: integers
 * with the key's range, names of the key's enum.  A key that also takes 0
 * (VS_CFG_KEY_ZERO_OFF) gets 0..max here; vs_buf_policy_set() refuses the
 * gap below its minimum with the configuration's message
 */
static struct vs_ctl_arg cmig_policy_arg(const struct vs_cfg_key *k)
{
	struct vs_ctl_arg a = { .name = k->name };

	switch (k->type) {
	case VS_CFG_UINT:
	case VS_CFG_U64:
		a.type = VS_CTL_ARG_INT;
		a.min = (k->flags & VS_CFG_KEY_ZERO_OFF) ? 0 : (int64_t)k->min;
		a.max = (int64_t)k->max;
		break;
	case VS_CFG_SWITCH:
	case VS_CFG_ENUM:
		a.type = VS_CTL_ARG_ENUM;
		a.values = k->values;
		break;
	case VS_CFG_BOOL:
		a.type = VS_CTL_ARG_BOOL;
		break;
	case VS_CFG_STR:
	case VS_CFG_PATH:
	case VS_CFG_ARGV:
	case VS_CFG_MAC:
	case VS_CFG_NUM_TYPES:
		a.type = VS_CTL_ARG_STR;
		break;
	}
	return a;
}

/*
 * set-buffer-policy's schema, built once from the configuration keys of
 * VS_CFG_SECTION_POLICY in table order, so the control socket accepts the
 * keys, ranges and names of the config file
 */
const struct vs_ctl_arg *vs_ctl_args_set_buffer_policy(void)
{
	static struct vs_ctl_arg args[CMIG_POLICY_ARGS_MAX];
	static gsize built;

	if (g_once_init_enter(&built)) {
		unsigned int i, n = 0;

		args[n++] = (struct vs_ctl_arg){ .name = "port", .type = VS_CTL_ARG_STR,
						 .required = true };
		for (i = 0; i < vs_cfg_num_keys; i++) {
			if (vs_cfg_keys[i].section != VS_CFG_SECTION_POLICY)
				continue;
			assert(n < CMIG_POLICY_ARGS_MAX - 1);
			args[n++] = cmig_policy_arg(&vs_cfg_keys[i]);
		}
		g_once_init_leave(&built, 1);
	}
	return args;
}

static struct vs_vm *cmig_port(JsonObject *args, GError **error)
{
	const char *name = vs_ctl_arg_str(args, "port", NULL);
	struct vs_vm *vm = name ? vs_vm_find_by_name(name) : NULL;

	if (!vm)
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_DEVICE_NOT_FOUND, "no port '%s'",
			    name ? name : "");
	return vm;
}

/* 1..VS_MIG_VM_NAME_MAX bytes of UTF-8, printable characters only */
static gboolean cmig_vm_name_valid(const char *s)
{
	size_t len = strlen(s);
	const char *p;

	if (len == 0 || len > VS_MIG_VM_NAME_MAX || !g_utf8_validate(s, (gssize)len, NULL))
		return FALSE;
	for (p = s; *p; p = g_utf8_next_char(p))
		if (!g_unichar_isprint(g_utf8_get_char(p)))
			return FALSE;
	return TRUE;
}

void vs_ctl_mig_add_identity(const struct vs_vm *vm, JsonObject *o)
{
	if (vm->mig.vm_uuid[0])
		json_object_set_string_member(o, "vm-uuid", vm->mig.vm_uuid);
	if (vm->mig.vm_name[0])
		json_object_set_string_member(o, "vm-name", vm->mig.vm_name);
}

/*
 * migrate-expect {port, peer?, vm-uuid?, vm-name?}: the VM's identity is
 * stored before the port is armed, so that MIGRATION_EXPECTED (emitted
 * while arming) carries it, and put back if arming fails.  A re-arm
 * replaces it; leaving dst-expecting clears it (vs_mig_event()).
 */
JsonNode *vs_ctl_cmd_migrate_expect(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	const char *uuid = vs_ctl_arg_str(args, "vm-uuid", NULL);
	const char *name = vs_ctl_arg_str(args, "vm-name", NULL);
	char old_uuid[sizeof(((struct vs_mig *)0)->vm_uuid)];
	char old_name[sizeof(((struct vs_mig *)0)->vm_name)];
	struct vs_vm *vm;

	if (uuid && !vs_valid_uuid(uuid)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Parameter 'vm-uuid' expects a UUID such as "
			    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d");
		return NULL;
	}
	if (name && !cmig_vm_name_valid(name)) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Parameter 'vm-name' expects 1-%d bytes of printable UTF-8",
			    VS_MIG_VM_NAME_MAX);
		return NULL;
	}
	vm = cmig_port(args, error);
	if (!vm)
		return NULL;
	memcpy(old_uuid, vm->mig.vm_uuid, sizeof(old_uuid));
	memcpy(old_name, vm->mig.vm_name, sizeof(old_name));
	g_strlcpy(vm->mig.vm_uuid, uuid ? uuid : "", sizeof(vm->mig.vm_uuid));
	g_strlcpy(vm->mig.vm_name, name ? name : "", sizeof(vm->mig.vm_name));
	for (char *c = vm->mig.vm_uuid; *c; c++)	/* canonical: lower case */
		*c = g_ascii_tolower(*c);
	if (!vs_ho_expect(vm, vs_ctl_arg_str(args, "peer", NULL), error)) {
		memcpy(vm->mig.vm_uuid, old_uuid, sizeof(old_uuid));
		memcpy(vm->mig.vm_name, old_name, sizeof(old_name));
		return NULL;
	}
	return vs_ctl_return_empty();
}

JsonNode *vs_ctl_cmd_migrate_set_peer(struct vs_ctl_session *s, JsonObject *args,
				      GError **error)
{
	struct vs_vm *vm = cmig_port(args, error);

	if (!vm || !vs_ho_set_peer(vm, vs_ctl_arg_str(args, "peer", NULL), error))
		return NULL;
	return vs_ctl_return_empty();
}

JsonNode *vs_ctl_cmd_migrate_cancel(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	struct vs_vm *vm = cmig_port(args, error);

	if (!vm)
		return NULL;
	vs_ho_cancel(vm);
	return vs_ctl_return_empty();
}

/*
 * reset-flows {port}: the VM is being destroyed; its TCP peers whose
 * connection's tcp-on-loss is reset get a RST they accept (dp_tcp.h), sent
 * by the port's lcore right after this returns.  The reply names the
 * port's tcp-on-loss: with drop, nothing is sent but to the peers of
 * connections a rule with tcp-on-loss=reset matches.
 */
JsonNode *vs_ctl_cmd_reset_flows(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	struct vs_vm *vm = cmig_port(args, error);
	JsonObject *o;
	JsonNode *n;

	if (!vm)
		return NULL;
	vs_log(CTL, INFO, vm->cfg->name, "reset-flows: TCP peers reset (tcp-on-loss %s%s)",
	       vs_tcp_on_loss_to_string(vm->cfg->tcp_on_loss),
	       vs_dp_tcp_may_reset(vm) && vm->cfg->tcp_on_loss != VS_TCP_ON_LOSS_RESET
		       ? "; rules say reset for some" : "");
	vs_dp_tcp_reset(vm);
	o = json_object_new();
	json_object_set_string_member(o, "tcp-on-loss",
				      vs_tcp_on_loss_to_string(vm->cfg->tcp_on_loss));
	n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, o);
	return n;
}

/*
 * The replay's catch-up time: while one runs, what is left of the backlog
 * over the rate it shrinks at, sampled every 100 ms (vs_ho_backlog_shrink(),
 * vs_mig_catch_up_us()); otherwise the last one's, measured (resume to
 * its end: the last frame held before its mark).  A replay runs while
 * replaying, and also while the frames held behind a finished one still
 * drain (mode REPLAY in none: its tail, dp_replay.c): a backlog is left
 * then, which the estimate says.
 */
static uint64_t cmig_catch_up_us(const struct vs_vm *vm, uint64_t backlog)
{
	const struct vs_port_stats *st = &vm->stats;
	int64_t shrink = 0;
	bool measured;

	if (!vs_ho_replay_running(vm))
		return VS_STAT_GET(st->last_resume_to_last_replay_us);
	measured = vs_ho_backlog_shrink(vm, &shrink);
	return vs_mig_catch_up_us(backlog, VS_STAT_GET(st->arrival_rate_pps),
				  VS_STAT_GET(st->replay_rate_pps), shrink, measured);
}

static void cmig_add_migration(struct vs_vm *vm, void *opaque)
{
	JsonArray *arr = opaque;
	JsonObject *o = json_object_new();
	const struct vs_port_stats *st = &vm->stats;
	const char *peer = vs_ho_peer_name(vm);
	uint64_t backlog = vs_ho_buffered_now(vm);	/* read once (review 88, L5) */

	json_object_set_string_member(o, "port", vm->cfg->name);
	json_object_set_string_member(o, "state", vs_mig_state_to_string(vm->mig.state));
	if (peer)
		json_object_set_string_member(o, "peer", peer);
	vs_ctl_mig_add_identity(vm, o);
	json_object_set_int_member(o, "buffered-now", (gint64)backlog);
	json_object_set_int_member(o, "migrations-out", (gint64)VS_STAT_GET(st->migrations_out));
	json_object_set_int_member(o, "migrations-in", (gint64)VS_STAT_GET(st->migrations_in));
	json_object_set_int_member(o, "rollbacks", (gint64)VS_STAT_GET(st->rollbacks));
	json_object_set_int_member(o, "last-blackout-us", (gint64)VS_STAT_GET(st->last_blackout_us));
	json_object_set_int_member(o, "resume-to-first-replay-us",
				   (gint64)VS_STAT_GET(st->last_resume_to_first_replay_us));
	json_object_set_int_member(o, "resume-to-last-replay-us",
				   (gint64)VS_STAT_GET(st->last_resume_to_last_replay_us));
	json_object_set_int_member(o, "arrival-rate-pps", (gint64)VS_STAT_GET(st->arrival_rate_pps));
	json_object_set_int_member(o, "replay-rate-pps", (gint64)VS_STAT_GET(st->replay_rate_pps));
	json_object_set_int_member(o, "catch-up-us", (gint64)cmig_catch_up_us(vm, backlog));
	json_object_set_int_member(o, "transitions", vm->mig.transitions);
	/* what the next resume announces (datapath/learn.h) */
	json_object_set_string_member(o, "announce", vs_announce_mode_to_string(vm->cfg->announce));
	json_object_set_int_member(o, "learned-macs", vs_learn_count(&vm->dp.learn, 0));
	json_object_set_int_member(o, "learned-ipv4", vs_learn_count(&vm->dp.learn, 4));
	json_object_set_int_member(o, "learned-ipv6", vs_learn_count(&vm->dp.learn, 6));
	json_array_add_object_element(arr, o);
}

JsonNode *vs_ctl_cmd_query_migration(struct vs_ctl_session *s, JsonObject *args,
				     GError **error)
{
	JsonArray *arr = json_array_new();
	JsonNode *n = json_node_new(JSON_NODE_ARRAY);

	if (json_object_has_member(args, "port")) {
		struct vs_vm *vm = cmig_port(args, error);

		if (!vm) {
			json_array_unref(arr);
			json_node_free(n);
			return NULL;
		}
		cmig_add_migration(vm, arr);
	} else {
		vs_vm_foreach(cmig_add_migration, arr);
	}
	json_node_take_array(n, arr);
	return n;
}

/* Every buffer-policy key and its value, in table order: names or integers */
static JsonNode *cmig_policy_json(const struct vs_buf_policy *p)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];

		if (k->section != VS_CFG_SECTION_POLICY)
			continue;
		if (k->type == VS_CFG_SWITCH || k->type == VS_CFG_ENUM)
			json_object_set_string_member(o, k->name, vs_cfg_key_get_name(k, p));
		else
			json_object_set_int_member(o, k->name, (gint64)vs_cfg_key_get_number(k, p));
	}
	json_node_take_object(n, o);
	return n;
}

JsonNode *vs_ctl_cmd_query_buffer_policy(struct vs_ctl_session *s, JsonObject *args,
					 GError **error)
{
	struct vs_vm *vm = cmig_port(args, error);

	return vm ? cmig_policy_json(&vm->policy) : NULL;
}

/*
 * set-buffer-policy {port, KEY: VALUE...}: all or nothing; the schema has
 * checked types and ranges, vs_buf_policy_set() the rest.  The lcore reads
 * each field with a plain load; fields are naturally aligned, so it sees
 * the old or the new value of each field, never a torn one.
 */
JsonNode *vs_ctl_cmd_set_buffer_policy(struct vs_ctl_session *s, JsonObject *args,
				       GError **error)
{
	struct vs_vm *vm = cmig_port(args, error);
	const struct vs_cfg *cfg = vs_ctl_config();
	struct vs_flow_table *t;
	g_autoptr(GError) err = NULL;
	struct vs_buf_policy p;
	GList *members, *l;

	if (!vm)
		return NULL;
	p = vm->policy;
	members = json_object_get_members(args);
	for (l = members; l; l = l->next) {
		JsonNode *v = json_object_get_member(args, l->data);
		g_autofree char *text = NULL;

		if (!strcmp(l->data, "port"))
			continue;
		if (json_node_get_value_type(v) == G_TYPE_STRING)
			text = g_strdup(json_node_get_string(v));
		else
			text = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(v));
		if (!vs_buf_policy_set(&p, l->data, text, error)) {
			g_list_free(members);
			return NULL;
		}
	}
	g_list_free(members);
	/* the default flow rules are the per-class settings: the port's
	 * rules must still fit its caps (dp_flow.h) */
	t = vs_dp_flow_compile(vm, cfg ? cfg->flow_rules : NULL, &p, &err);
	if (!t) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "%s", err->message);
		return NULL;
	}
	vm->policy = p;
	vs_dp_flow_install(vm, t);
	return cmig_policy_json(&vm->policy);
}

static const struct vs_tun *cmig_tun;

void vs_ctl_mig_set_tunnel(const struct vs_tun *t)
{
	cmig_tun = t;
}

JsonNode *vs_ctl_cmd_query_peers(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	static const struct vs_tun_stats none;
	const struct vs_tun_stats *ts = cmig_tun ? vs_tun_get_stats(cmig_tun) : &none;
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_int_member(o, "connections-accepted", (gint64)ts->connections_accepted);
	json_object_set_int_member(o, "connections-opened", (gint64)ts->connections_opened);
	json_object_set_int_member(o, "auth-failures", (gint64)ts->auth_failures);
	json_object_set_int_member(o, "tls-failures", (gint64)ts->tls_failures);
	json_object_set_int_member(o, "protocol-errors", (gint64)ts->protocol_errors);
	json_object_set_int_member(o, "streams-rejected", (gint64)ts->streams_rejected);
	json_object_set_int_member(o, "reconnects", (gint64)ts->reconnects);
	json_object_set_int_member(o, "send-queue-full", (gint64)ts->send_queue_full);
	json_object_set_int_member(o, "expects-refused", (gint64)ts->expects_refused);
	json_object_set_int_member(o, "keepalive-timeouts", (gint64)ts->keepalive_timeouts);
	json_object_set_int_member(o, "handshake-timeouts", (gint64)ts->handshake_timeouts);
	json_object_set_int_member(o, "tls-record-errors", (gint64)ts->tls_record_errors);
	json_object_set_int_member(o, "version-refusals", (gint64)ts->version_refusals);
	json_object_set_int_member(o, "preauth-refused", (gint64)ts->preauth_refused);
	json_object_set_int_member(o, "preauth-evicted", (gint64)ts->preauth_evicted);
	json_object_set_int_member(o, "authed-refused", (gint64)ts->authed_refused);
	json_object_set_int_member(o, "slow-readers", (gint64)ts->slow_readers);
	json_object_set_int_member(o, "credential-reloads", (gint64)ts->reloads);
	json_object_set_int_member(o, "frame-times-rejected", (gint64)ts->frame_times_rejected);
	json_node_take_object(n, o);
	return n;
}
