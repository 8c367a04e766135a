/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_daemon.h - the daemon's [discovery] glue (disc_daemon.c): ports,
 * handover and tunnel on one side, the registry client on the other
 */
#ifndef VS_DISC_DAEMON_H
#define VS_DISC_DAEMON_H

#include <glib.h>

#include "control.h"

struct vs_cfg;
struct vs_tun;

/**
 * vs_disc_daemon_start() - with [discovery] etcd=, register this node and
 * follow the ports' migrations (nothing without it)
 * @cfg:	the configuration
 * @tun:	the tunnel peers are added to
 * @error:	set if the registry cannot be set up (TLS files)
 *
 * Return: TRUE on success, and when [discovery] is off
 */
gboolean vs_disc_daemon_start(const struct vs_cfg *cfg, struct vs_tun *tun, GError **error);

/**
 * vs_disc_daemon_stop() - revoke our keys (bounded wait), stop watching;
 * before the ports and the tunnel go
 */
void vs_disc_daemon_stop(void);

/* query-discovery (docs/control-protocol.md), a row of vs_ctl_cmds[] */
JsonNode *vs_ctl_cmd_query_discovery(struct vs_ctl_session *s, JsonObject *args, GError **error);

#endif /* VS_DISC_DAEMON_H */
