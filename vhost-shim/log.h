/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log.h - one logging API for every thread
 *
 * Theory of operation: the daemon logs through rte_log (log-rte.c) so that
 * our lines, DPDK's vhost/EAL lines and GLib's messages share one sink and
 * one set of per-component levels (user.vhostshim.{main,ctl,dp,mig,tun,disc}).
 * rte_log works before rte_eal_init() and on lcores.  Unit tests link
 * log-glib.c instead, which needs no EAL.
 *
 * Lines are prefixed with the port (VM) name when there is one.  Nothing is
 * logged per packet: the dataplane counts, and logs state changes only.
 */
#ifndef VS_LOG_H
#define VS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "enum.h"

enum vs_log_level {
	VS_LOG_ERR = 4,		/* same numbers as RTE_LOG_ERR ... */
	VS_LOG_WARNING = 5,
	VS_LOG_NOTICE = 6,
	VS_LOG_INFO = 7,
	VS_LOG_DEBUG = 8,
};
/* Names: err, warning, notice, info, debug (also error, warn; any case) */
VS_ENUM_DECL(vs_log_level, enum vs_log_level);

enum vs_log_component {
	VS_LOGC_MAIN,
	VS_LOGC_CTL,
	VS_LOGC_DP,
	VS_LOGC_MIG,
	VS_LOGC_TUN,
	VS_LOGC_DISC,
	VS_LOGC_NUM,
};
/* Names: main, ctl, dp, mig, tun, disc (the rte_log types user.vhostshim.NAME) */
VS_ENUM_DECL(vs_log_component, enum vs_log_component);

/**
 * vs_log_at() - log one line
 * @comp:	component, selects the rte_log type
 * @level:	severity
 * @who:	port/VM name to prefix, or NULL
 * @fmt:	printf format, without trailing newline
 */
void vs_log_at(enum vs_log_component comp, enum vs_log_level level,
	       const char *who, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * vs_log_would() - would vs_log_at() log at this level (to skip formatting
 * work for a line nobody sees)
 * @comp:	component
 * @level:	severity
 *
 * Return: true if it would
 */
bool vs_log_would(enum vs_log_component comp, enum vs_log_level level);

/**
 * vs_log_set_level() - set the level of every vhost-shim component
 * @level:	new level
 */
void vs_log_set_level(enum vs_log_level level);

/**
 * vs_log_install_glib_writer() - route g_log/g_warning into vs_log
 */
void vs_log_install_glib_writer(void);

#define vs_log(comp, lvl, who, ...) vs_log_at(VS_LOGC_##comp, VS_LOG_##lvl, who, __VA_ARGS__)

#endif /* VS_LOG_H */
