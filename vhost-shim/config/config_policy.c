/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_policy.c - the per-port buffer policy: defaults and keys
 *
 * Theory of operation: a vs_buf_policy says what a port buffers while its
 * VM cannot take frames (a pause or a migration): per traffic class (UDP,
 * TCP, other) whether to buffer and up to how many packets and bytes, what
 * to drop when a cap is reached, and how long frames may be held
 * (hold-ms), forwarded as stragglers (linger-ms) or kept behind tunnelled
 * ones (replay-hold-ms).  vs_buf_policy_init() fills in the documented
 * defaults; vs_buf_policy_set() applies one "key=value" from a config
 * file group, a --port spec or the control socket's buffer-policy command,
 * with the same range checks everywhere (docs/configuration.md).  The keys,
 * their ranges and defaults are rows of config_keys.c's table.
 */
#include <string.h>

#include "config.h"
#include "config_keys.h"

void vs_buf_policy_init(struct vs_buf_policy *p)
{
	memset(p, 0, sizeof(*p));
	vs_cfg_section_init(VS_CFG_SECTION_POLICY, p);
}

uint32_t vs_buf_policy_total_pkts(const struct vs_buf_policy *p)
{
	uint32_t n = 0;
	int c;

	for (c = 0; c < VS_PKT_NUM_CLASSES; c++)
		if (p->class_policy[c] == VS_CLASS_BUFFER)
			n += p->max_pkts[c];
	return n;
}

gboolean vs_buf_policy_set(struct vs_buf_policy *p, const char *key, const char *val,
			   GError **error)
{
	const struct vs_cfg_key *k = vs_cfg_key_find(VS_CFG_SECTION_POLICY, key);

	if (!k) {
		g_set_error(error, VS_CFG_ERROR, 0, "unknown key '%s'", key);
		return FALSE;
	}
	return vs_cfg_key_set(k, p, key, val, error);
}
