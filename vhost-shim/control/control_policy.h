/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_policy.h - flow-policy commands (control_policy.c), rows of
 * vs_ctl_cmds[] in control_cmds.c
 */
#ifndef VS_CONTROL_POLICY_H
#define VS_CONTROL_POLICY_H

#include "control.h"

struct vs_vm;

extern const struct vs_ctl_arg vs_ctl_args_policy_add[];	/* rule */
extern const struct vs_ctl_arg vs_ctl_args_policy_del[];	/* name */
extern const struct vs_ctl_arg vs_ctl_args_query_policy[];	/* [port] */

JsonNode *vs_ctl_cmd_policy_add(struct vs_ctl_session *s, JsonObject *args, GError **error);
JsonNode *vs_ctl_cmd_policy_del(struct vs_ctl_session *s, JsonObject *args, GError **error);
JsonNode *vs_ctl_cmd_query_policy(struct vs_ctl_session *s, JsonObject *args, GError **error);

/**
 * vs_ctl_policy_stats() - a port's per-rule counters, in match order
 * @vm:		the port
 *
 * Return: a JSON array of {name, matched, buffered, dropped, stragglers}
 */
JsonNode *vs_ctl_policy_stats(const struct vs_vm *vm);

#endif /* VS_CONTROL_POLICY_H */
