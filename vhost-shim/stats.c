/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stats.c - names of the counters
 *
 * Theory of operation: the string table is generated from the same X-macro
 * as the enum, so the two cannot drift apart.
 */
#include "stats.h"

const char *const vs_drop_reason_names[VS_DROP_NUM_REASONS] = {
#define VS_DROP_NAME(id, name) [VS_DROP_##id] = name,
	VS_DROP_REASONS(VS_DROP_NAME)
#undef VS_DROP_NAME
};
