/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stubs_mig.c - handover.c and tunnel.c replaced for the control-socket
 * unit test and fuzz_control: migration commands parse and dispatch;
 * migrate-expect and migrate-cancel drive the real state machine, nothing
 * else migrates.
 */
#include <string.h>

#include <gio/gio.h>

#include "control.h"
#include "control_mig.h"
#include "disc_daemon.h"
#include "handover.h"
#include "migration.h"
#include "tunnel.h"
#include "vm.h"

static const struct vs_tun_stats stub_tun_stats;

static gboolean stub_peer_ok(const char *peer, GError **error)
{
	if (peer && strcmp(peer, "hostb")) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown peer '%s'", peer);
		return FALSE;
	}
	return TRUE;
}

/*
 * The state machine is the real one (migration.c): armed ports read
 * dst-expecting, and MIGRATION_EXPECTED is sent as main.c's
 * main_ho_event_cb() sends it, with the identity given to migrate-expect.
 */
gboolean vs_ho_expect(struct vs_vm *vm, const char *peer, GError **error)
{
	enum vs_mig_state old;

	if (!stub_peer_ok(peer, error))
		return FALSE;
	if (vs_mig_next(vm->mig.state, VS_MIG_EV_EXPECT) < 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_BUSY,
			    "port %s cannot expect a migration in state %s", vm->cfg->name,
			    vs_mig_state_to_string(vm->mig.state));
		return FALSE;
	}
	vs_mig_event(&vm->mig, VS_MIG_EV_EXPECT, &old, NULL);
	if (old != VS_MIG_STATE_DST_EXPECTING) {
		JsonObject *o = json_object_new();
		JsonNode *n = json_node_new(JSON_NODE_OBJECT);

		json_object_set_string_member(o, "port", vm->cfg->name);
		vs_ctl_mig_add_identity(vm, o);
		json_node_take_object(n, o);
		vs_ctl_emit_event("MIGRATION_EXPECTED", n);
	}
	return TRUE;
}

gboolean vs_ho_set_peer(struct vs_vm *vm, const char *peer, GError **error)
{
	return stub_peer_ok(peer, error);
}

void vs_ho_cancel(struct vs_vm *vm)
{
	vs_mig_event(&vm->mig, VS_MIG_EV_CANCEL, NULL, NULL);
}

const char *vs_ho_peer_name(const struct vs_vm *vm)
{
	return NULL;
}

uint64_t vs_ho_buffered_now(const struct vs_vm *vm)
{
	return 0;
}

bool vs_ho_replay_running(const struct vs_vm *vm)
{
	return vm->mig.state == VS_MIG_STATE_REPLAYING;
}

bool vs_ho_backlog_shrink(const struct vs_vm *vm, int64_t *pps)
{
	*pps = 0;
	return false;
}

const struct vs_tun_stats *vs_tun_get_stats(const struct vs_tun *t)
{
	return &stub_tun_stats;
}

/* [discovery] is off in the unit tests: query-discovery says so */
JsonNode *vs_ctl_cmd_query_discovery(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_object_set_boolean_member(o, "enabled", FALSE);
	json_node_take_object(n, o);
	return n;
}
