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
 * with the same range checks everywhere (docs/configuration.md).
 */
#include <string.h>

#include "config.h"

void vs_buf_policy_init(struct vs_buf_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->enabled = true;
	p->max_pkts[0] = VS_DEFAULT_UDP_MAX_PKTS;	/* VS_PKT_UDP */
	p->max_bytes[0] = VS_DEFAULT_UDP_MAX_BYTES;
	p->max_pkts[1] = VS_DEFAULT_TCP_MAX_PKTS;	/* VS_PKT_TCP */
	p->max_bytes[1] = VS_DEFAULT_TCP_MAX_BYTES;
	p->max_pkts[2] = VS_DEFAULT_OTHER_MAX_PKTS;	/* VS_PKT_OTHER */
	p->max_bytes[2] = VS_DEFAULT_OTHER_MAX_BYTES;
	p->overflow = VS_OVERFLOW_DROP_NEWEST;
	p->hold_ms = VS_DEFAULT_HOLD_MS;
	p->linger_ms = VS_DEFAULT_LINGER_MS;
	p->replay_hold_ms = VS_DEFAULT_REPLAY_HOLD_MS;
}

uint32_t vs_buf_policy_total_pkts(const struct vs_buf_policy *p)
{
	uint32_t n = 0;
	int c;

	for (c = 0; c < 3; c++)
		if (p->class_policy[c] == VS_CLASS_BUFFER)
			n += p->max_pkts[c];
	return n;
}

static gboolean cfg_parse_u64(const char *what, const char *s, guint64 min, guint64 max,
			      guint64 *out, GError **error)
{
	if (!g_ascii_string_to_unsigned(s, 10, min, max, out, NULL)) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "%s: '%s' is not an integer in %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
			    what, s, min, max);
		return FALSE;
	}
	return TRUE;
}

/* A time in ms: @min..VS_MAX_HOLD_MS */
static gboolean policy_parse_ms(const char *key, const char *val, unsigned int min,
				unsigned int *out, GError **error)
{
	guint64 v;

	if (!cfg_parse_u64(key, val, min, VS_MAX_HOLD_MS, &v, error))
		return FALSE;
	*out = (unsigned int)v;
	return TRUE;
}

gboolean vs_buf_policy_set(struct vs_buf_policy *p, const char *key, const char *val,
			   GError **error)
{
	static const char *const classes[3] = { "udp", "tcp", "other" };
	unsigned int u;
	int c;

	for (c = 0; c < 3; c++) {
		size_t cl = strlen(classes[c]);
		const char *rest;
		guint64 v;

		if (strncmp(key, classes[c], cl) || key[cl] != '-')
			continue;
		rest = key + cl + 1;
		if (!strcmp(rest, "max-pkts")) {
			if (!cfg_parse_u64(key, val, 0, VS_MAX_BUFFER_PKTS, &v, error))
				return FALSE;
			p->max_pkts[c] = (uint32_t)v;
			return TRUE;
		}
		if (!strcmp(rest, "max-bytes")) {
			if (!cfg_parse_u64(key, val, 0, VS_MAX_BUFFER_BYTES, &v, error))
				return FALSE;
			p->max_bytes[c] = v;
			return TRUE;
		}
		if (!strcmp(rest, "policy")) {
			if (!strcmp(val, "buffer")) {
				p->class_policy[c] = VS_CLASS_BUFFER;
			} else if (!strcmp(val, "drop")) {
				p->class_policy[c] = VS_CLASS_DROP;
			} else {
				g_set_error(error, VS_CFG_ERROR, 0, "%s: buffer or drop", key);
				return FALSE;
			}
			return TRUE;
		}
	}
	if (!strcmp(key, "buffer")) {
		if (!strcmp(val, "on") || !strcmp(val, "true")) {
			p->enabled = true;
		} else if (!strcmp(val, "off") || !strcmp(val, "false")) {
			p->enabled = false;
		} else {
			g_set_error(error, VS_CFG_ERROR, 0, "buffer: on or off");
			return FALSE;
		}
	} else if (!strcmp(key, "overflow")) {
		if (!strcmp(val, "drop-newest")) {
			p->overflow = VS_OVERFLOW_DROP_NEWEST;
		} else if (!strcmp(val, "drop-oldest")) {
			p->overflow = VS_OVERFLOW_DROP_OLDEST;
		} else {
			g_set_error(error, VS_CFG_ERROR, 0, "overflow: drop-newest or drop-oldest");
			return FALSE;
		}
	} else if (!strcmp(key, "hold-ms")) {
		if (!policy_parse_ms(key, val, 1, &u, error))
			return FALSE;
		p->hold_ms = u;
	} else if (!strcmp(key, "linger-ms")) {
		if (!policy_parse_ms(key, val, 0, &u, error))
			return FALSE;
		p->linger_ms = u;
	} else if (!strcmp(key, "replay-hold-ms")) {
		if (!policy_parse_ms(key, val, 0, &u, error))
			return FALSE;
		p->replay_hold_ms = u;
	} else {
		g_set_error(error, VS_CFG_ERROR, 0, "unknown key '%s'", key);
		return FALSE;
	}
	return TRUE;
}
