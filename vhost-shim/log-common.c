/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * log-common.c - names shared by both log backends
 *
 * Theory of operation: pure string tables (enum.h), so the config parser
 * and the unit tests can use them without EAL.  Level names are matched
 * in any case and "error" and "warn" are accepted too, as they always
 * were; the canonical names are printed.
 */
#include "log.h"

static const char *const log_level_aliases[] = { "error", "err", "warn", "warning", NULL };

VS_ENUM_IMPL_EXT(vs_log_level, enum vs_log_level, VS_LOG_DEBUG + 1, log_level_aliases, true,
		 [VS_LOG_ERR] = "err",
		 [VS_LOG_WARNING] = "warning",
		 [VS_LOG_NOTICE] = "notice",
		 [VS_LOG_INFO] = "info",
		 [VS_LOG_DEBUG] = "debug");

VS_ENUM_IMPL(vs_log_component, enum vs_log_component, VS_LOGC_NUM,
	     [VS_LOGC_MAIN] = "main",
	     [VS_LOGC_CTL] = "ctl",
	     [VS_LOGC_DP] = "dp",
	     [VS_LOGC_MIG] = "mig",
	     [VS_LOGC_TUN] = "tun",
	     [VS_LOGC_DISC] = "disc");
