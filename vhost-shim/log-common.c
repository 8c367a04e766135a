/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log-common.c - level names shared by both log backends
 *
 * Theory of operation: pure string handling, so the config parser and the
 * unit tests can use it without EAL.
 */
#include <string.h>
#include <strings.h>

#include "log.h"

static const struct {
	const char *name;
	enum vs_log_level level;
} log_level_names[] = {
	{ "err", VS_LOG_ERR },	   { "error", VS_LOG_ERR },
	{ "warning", VS_LOG_WARNING }, { "warn", VS_LOG_WARNING },
	{ "notice", VS_LOG_NOTICE }, { "info", VS_LOG_INFO },
	{ "debug", VS_LOG_DEBUG },
};

int vs_log_parse_level(const char *s)
{
	size_t i;

	for (i = 0; s && i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++)
		if (!strcasecmp(s, log_level_names[i].name))
			return (int)log_level_names[i].level;
	return -1;
}
