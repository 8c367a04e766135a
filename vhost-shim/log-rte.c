/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log-rte.c - vs_log backend for the daemon, on top of rte_log
 *
 * Theory of operation: one rte_log type per component, registered by
 * constructors before main() so that even EAL start-up errors can be
 * reported through it.  GLib's structured log writer is redirected here too,
 * so a g_warning() from GIO lands in the same stream with the same levels.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <rte_log.h>

#include "log.h"

RTE_LOG_REGISTER(vs_logtype_main, user.vhostshim.main, INFO);
RTE_LOG_REGISTER(vs_logtype_ctl, user.vhostshim.ctl, INFO);
RTE_LOG_REGISTER(vs_logtype_dp, user.vhostshim.dp, INFO);
RTE_LOG_REGISTER(vs_logtype_mig, user.vhostshim.mig, INFO);
RTE_LOG_REGISTER(vs_logtype_tun, user.vhostshim.tun, INFO);
RTE_LOG_REGISTER(vs_logtype_disc, user.vhostshim.disc, INFO);

static int log_type(enum vs_log_component comp)
{
	switch (comp) {
	case VS_LOGC_CTL: return vs_logtype_ctl;
	case VS_LOGC_DP: return vs_logtype_dp;
	case VS_LOGC_MIG: return vs_logtype_mig;
	case VS_LOGC_TUN: return vs_logtype_tun;
	case VS_LOGC_DISC: return vs_logtype_disc;
	default: return vs_logtype_main;
	}
}

void vs_log_at(enum vs_log_component comp, enum vs_log_level level,
	       const char *who, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!rte_log_can_log(log_type(comp), level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (who)
		rte_log(level, log_type(comp), "vhost-shim %s: %s: %s\n",
			vs_log_component_to_string(comp), who, msg);
	else
		rte_log(level, log_type(comp), "vhost-shim %s: %s\n",
			vs_log_component_to_string(comp), msg);
}

bool vs_log_would(enum vs_log_component comp, enum vs_log_level level)
{
	return rte_log_can_log(log_type(comp), level);
}

void vs_log_set_level(enum vs_log_level level)
{
	rte_log_set_level_pattern("user.vhostshim.*", level);
}

static GLogWriterOutput log_glib_writer_cb(GLogLevelFlags flags, const GLogField *fields,
					   gsize n_fields, gpointer user_data)
{
	const char *domain = NULL, *message = NULL;
	enum vs_log_level level = VS_LOG_INFO;
	gsize i;

	for (i = 0; i < n_fields; i++) {
		if (!strcmp(fields[i].key, "MESSAGE"))
			message = fields[i].value;
		else if (!strcmp(fields[i].key, "GLIB_DOMAIN"))
			domain = fields[i].value;
	}
	if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
		level = VS_LOG_ERR;
	else if (flags & G_LOG_LEVEL_WARNING)
		level = VS_LOG_WARNING;
	else if (flags & G_LOG_LEVEL_DEBUG)
		level = VS_LOG_DEBUG;
	vs_log_at(VS_LOGC_MAIN, level, domain, "%s", message ? message : "(null)");
	return G_LOG_WRITER_HANDLED;
}

void vs_log_install_glib_writer(void)
{
	g_log_set_writer_func(log_glib_writer_cb, NULL, NULL);
}
