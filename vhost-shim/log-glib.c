/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log-glib.c - vs_log backend for unit tests and tools, without EAL
 *
 * Theory of operation: forwards to g_log so GTest captures and filters
 * the lines.  Levels below the configured one are dropped here.
 */
#include <stdio.h>

#include <glib.h>

#include "log.h"

static enum vs_log_level log_glib_level = VS_LOG_NOTICE;

void vs_log_at(enum vs_log_component comp, enum vs_log_level level,
	       const char *who, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > log_glib_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	g_log("vhost-shim", level <= VS_LOG_WARNING ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_DEBUG,
	      "%d %s%s%s", (int)comp, who ? who : "", who ? ": " : "", msg);
}

bool vs_log_would(enum vs_log_component comp, enum vs_log_level level)
{
	(void)comp;
	return level <= log_glib_level;
}

void vs_log_set_level(enum vs_log_level level)
{
	log_glib_level = level;
}

void vs_log_install_glib_writer(void)
{
}
