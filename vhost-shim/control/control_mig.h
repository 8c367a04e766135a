/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_mig.h - migration and buffer-policy commands (control_mig.c),
 * rows of vs_ctl_cmds[] in control_cmds.c
 */
#ifndef VS_CONTROL_MIG_H
#define VS_CONTROL_MIG_H

#include "control.h"

extern const struct vs_ctl_arg vs_ctl_args_mig_port[];		/* port */
extern const struct vs_ctl_arg vs_ctl_args_mig_opt_port[];	/* [port] */
extern const struct vs_ctl_arg vs_ctl_args_mig_expect[];	/* port, [peer, vm-uuid, vm-name] */
extern const struct vs_ctl_arg vs_ctl_args_mig_set_peer[];	/* port, peer */
/* port, then every buffer-policy key of the configuration (config_keys.h) */
const struct vs_ctl_arg *vs_ctl_args_set_buffer_policy(void);

JsonNode *vs_ctl_cmd_migrate_expect(struct vs_ctl_session *s, JsonObject *args, GError **error);
JsonNode *vs_ctl_cmd_migrate_set_peer(struct vs_ctl_session *s, JsonObject *args,
				      GError **error);
JsonNode *vs_ctl_cmd_migrate_cancel(struct vs_ctl_session *s, JsonObject *args, GError **error);
JsonNode *vs_ctl_cmd_query_migration(struct vs_ctl_session *s, JsonObject *args,
				     GError **error);
JsonNode *vs_ctl_cmd_query_buffer_policy(struct vs_ctl_session *s, JsonObject *args,
					 GError **error);
JsonNode *vs_ctl_cmd_set_buffer_policy(struct vs_ctl_session *s, JsonObject *args,
				       GError **error);
JsonNode *vs_ctl_cmd_reset_flows(struct vs_ctl_session *s, JsonObject *args, GError **error);
JsonNode *vs_ctl_cmd_query_peers(struct vs_ctl_session *s, JsonObject *args, GError **error);

struct vs_vm;
struct vs_tun;

/**
 * vs_ctl_mig_set_tunnel() - the tunnel query-peers reports on (main.c's)
 * @t:		tunnel, or NULL (query-peers reports zeroes)
 */
void vs_ctl_mig_set_tunnel(const struct vs_tun *t);

/**
 * vs_ctl_mig_add_identity() - add "vm-uuid" and "vm-name" of the VM that
 * @vm expects (migrate-expect), each only if given, to @o
 * @vm:		port
 * @o:		query-migration or query-ports entry, or MIGRATION_EXPECTED data
 */
void vs_ctl_mig_add_identity(const struct vs_vm *vm, JsonObject *o);

#endif /* VS_CONTROL_MIG_H */
