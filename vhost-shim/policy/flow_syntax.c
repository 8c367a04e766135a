/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_syntax.c - parse and format flow-policy rules
 *
 * Theory of operation: see flow_syntax.h.  Each key has one parser that
 * writes into a copy of the rule, so a failed key leaves the rule as it
 * was; the "set" bits of the rule record which keys were given (a key
 * given twice is refused, and the formatter writes exactly those keys).
 */
#include <arpa/inet.h>
#include <string.h>

#include "flow_syntax.h"

/* "%s: " prefixes of messages: the rule's name, or "policy" before it has one */
#define RULE(r)	((r)->name[0] ? (r)->name : "(unnamed)")

static gboolean syn_u64(const char *s, guint64 min, guint64 max, guint64 *out)
{
	return g_ascii_string_to_unsigned(s, 10, min, max, out, NULL);
}

/* "ADDR[/LEN]": IPv4 or IPv6, no host bits set past LEN */
static gboolean syn_prefix(const char *s, struct vs_flow_prefix *p, GError **error)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	guint64 len;
	unsigned int i, max;

	memset(p, 0, sizeof(*p));
	if (alen == 0 || alen >= sizeof(addr))
		goto bad;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, p->addr) == 1) {
		p->af = VS_FLOW_AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, p->addr) == 1) {
		p->af = VS_FLOW_AF_INET6;
		max = 128;
	} else {
		goto bad;
	}
	len = max;
	if (slash && !syn_u64(slash + 1, 0, max, &len))
		goto bad;
	p->len = (uint8_t)len;
	for (i = p->len; i < max; i++) {
		if (p->addr[i / 8] & (0x80u >> (i % 8))) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "'%s' has address bits set past /%u", s, p->len);
			return FALSE;
		}
	}
	return TRUE;
bad:
	g_set_error(error, VS_FLOW_ERROR, 0,
		    "'%s' is not an address or prefix (A.B.C.D[/0-32] or IPv6[/0-128])", s);
	return FALSE;
}

/* "N" or "N-M", 0..65535, N <= M */
static gboolean syn_range(const char *s, uint16_t *lo, uint16_t *hi, GError **error)
{
	g_autofree char *a = g_strdup(s);
	char *dash = strchr(a, '-');
	guint64 x, y;

	if (dash)
		*dash = '\0';
	if (!syn_u64(a, 0, 65535, &x) || (dash && !syn_u64(dash + 1, 0, 65535, &y)) ||
	    (dash && y < x)) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "'%s' is not a port or range (0-65535, or N-M with N <= M)", s);
		return FALSE;
	}
	*lo = (uint16_t)x;
	*hi = (uint16_t)(dash ? y : x);
	return TRUE;
}

static const struct {
	const char *name;
	uint8_t proto;
} syn_protos[] = {
	{ "tcp", VS_IPPROTO_TCP },
	{ "udp", VS_IPPROTO_UDP },
	{ "icmp", VS_IPPROTO_ICMP },
	{ "icmpv6", VS_IPPROTO_ICMPV6 },
	{ "sctp", VS_IPPROTO_SCTP },
};

static gboolean syn_proto(const char *s, uint8_t *proto, GError **error)
{
	guint64 v;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(syn_protos); i++) {
		if (!strcmp(s, syn_protos[i].name)) {
			*proto = syn_protos[i].proto;
			return TRUE;
		}
	}
	if (syn_u64(s, 0, 255, &v)) {
		*proto = (uint8_t)v;
		return TRUE;
	}
	g_set_error(error, VS_FLOW_ERROR, 0,
		    "'%s' is not a protocol (tcp, udp, icmp, icmpv6, sctp or 0-255)", s);
	return FALSE;
}

/* 0..63, or a name of RFC 2474/2597/3246/5865/8622 */
static gboolean syn_dscp(const char *s, uint8_t *dscp, GError **error)
{
	guint64 v;

	if (syn_u64(s, 0, 63, &v)) {
		*dscp = (uint8_t)v;
		return TRUE;
	}
	if (!strcmp(s, "ef")) {
		*dscp = 46;
		return TRUE;
	}
	if (!strcmp(s, "va")) {
		*dscp = 44;
		return TRUE;
	}
	if (!strcmp(s, "le")) {
		*dscp = 1;
		return TRUE;
	}
	if (s[0] == 'c' && s[1] == 's' && s[2] >= '0' && s[2] <= '7' && !s[3]) {
		*dscp = (uint8_t)((s[2] - '0') * 8);
		return TRUE;
	}
	if (s[0] == 'a' && s[1] == 'f' && s[2] >= '1' && s[2] <= '4' && s[3] >= '1' &&
	    s[3] <= '3' && !s[4]) {
		*dscp = (uint8_t)((s[2] - '0') * 8 + (s[3] - '0') * 2);
		return TRUE;
	}
	g_set_error(error, VS_FLOW_ERROR, 0,
		    "'%s' is not a DSCP (0-63, ef, va, le, cs0-cs7, af11-af43)", s);
	return FALSE;
}

static gboolean syn_match_field(struct vs_flow_match *m, const char *field, const char *val,
				GError **error)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} fields[] = {
		{ "src", VS_FLOW_M_SRC }, { "dst", VS_FLOW_M_DST }, { "proto", VS_FLOW_M_PROTO },
		{ "sport", VS_FLOW_M_SPORT }, { "dport", VS_FLOW_M_DPORT },
		{ "vlan", VS_FLOW_M_VLAN }, { "dscp", VS_FLOW_M_DSCP },
	};
	g_autoptr(GError) err = NULL;
	uint32_t bit = 0;
	guint64 v;
	gboolean ok;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(fields); i++)
		if (!strcmp(field, fields[i].name))
			bit = fields[i].bit;
	if (!bit) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "unknown field '%s' (src, dst, proto, sport, dport, vlan, dscp)", field);
		return FALSE;
	}
	if (m->fields & bit) {
		g_set_error(error, VS_FLOW_ERROR, 0, "%s given twice", field);
		return FALSE;
	}
	switch (bit) {
	case VS_FLOW_M_SRC:
		ok = syn_prefix(val, &m->src, &err);
		break;
	case VS_FLOW_M_DST:
		ok = syn_prefix(val, &m->dst, &err);
		break;
	case VS_FLOW_M_PROTO:
		ok = syn_proto(val, &m->proto, &err);
		break;
	case VS_FLOW_M_SPORT:
		ok = syn_range(val, &m->sport_lo, &m->sport_hi, &err);
		break;
	case VS_FLOW_M_DPORT:
		ok = syn_range(val, &m->dport_lo, &m->dport_hi, &err);
		break;
	case VS_FLOW_M_VLAN:
		ok = syn_u64(val, 0, 4095, &v);
		if (ok)
			m->vlan = (uint16_t)v;
		else
			g_set_error(&err, VS_FLOW_ERROR, 0, "'%s' is not a VLAN id (0-4095)", val);
		break;
	default:
		ok = syn_dscp(val, &m->dscp, &err);
		break;
	}
	if (!ok) {
		g_set_error(error, VS_FLOW_ERROR, 0, "%s: %s", field, err->message);
		return FALSE;
	}
	m->fields |= bit;
	return TRUE;
}

gboolean vs_flow_syntax_parse_match(const char *text, struct vs_flow_match *out, GError **error)
{
	struct vs_flow_match m = { 0 };
	g_auto(GStrv) items = NULL;
	guint i;

	if (!strcmp(text, "any")) {
		*out = m;
		return TRUE;
	}
	if (strlen(text) > VS_FLOW_LINE_MAX) {
		g_set_error(error, VS_FLOW_ERROR, 0, "longer than %d bytes", VS_FLOW_LINE_MAX);
		return FALSE;
	}
	items = g_strsplit(text, ",", -1);
	for (i = 0; items[i]; i++) {
		char *eq = strchr(items[i], '=');

		if (!eq || eq == items[i]) {
			g_set_error(error, VS_FLOW_ERROR, 0,
				    "'%s' is not FIELD=VALUE (or the whole match is 'any')",
				    items[i]);
			return FALSE;
		}
		*eq = '\0';
		if (!syn_match_field(&m, items[i], eq + 1, error))
			return FALSE;
	}
	if (!i) {
		g_set_error(error, VS_FLOW_ERROR, 0, "empty (use match=any to match every frame)");
		return FALSE;
	}
	*out = m;
	return TRUE;
}

static gboolean syn_enum(const char *val, const char *const *names, unsigned int n,
			 unsigned int *out)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(val, names[i])) {
			*out = i;
			return TRUE;
		}
	}
	return FALSE;
}

/* "NAME[,NAME...]": port names as [port NAME] groups have them */
static gboolean syn_ports(const char *val, char ***out, GError **error)
{
	g_auto(GStrv) names = g_strsplit(val, ",", -1);
	guint i, j;

	for (i = 0; names[i]; i++) {
		const char *p;

		if (i >= VS_FLOW_MAX_PORTS_PER_RULE || !*names[i] ||
		    strlen(names[i]) > VS_NAME_MAX)
			goto bad;
		for (p = names[i]; *p; p++)
			if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
				goto bad;
		for (j = 0; j < i; j++) {
			if (!strcmp(names[i], names[j])) {
				g_set_error(error, VS_FLOW_ERROR, 0, "port %s named twice", names[i]);
				return FALSE;
			}
		}
	}
	if (!i)
		goto bad;
	g_strfreev(*out);
	*out = g_steal_pointer(&names);
	return TRUE;
bad:
	g_set_error(error, VS_FLOW_ERROR, 0,
		    "'%s' is not a list of 1-%d port names (1-%d characters of [A-Za-z0-9_-])",
		    val, VS_FLOW_MAX_PORTS_PER_RULE, VS_NAME_MAX);
	return FALSE;
}

static const struct {
	const char *key;
	uint32_t bit;
} syn_keys[] = {
	{ "match", VS_FLOW_SET_MATCH },
	{ "action", VS_FLOW_SET_ACTION },
	{ "priority", VS_FLOW_SET_PRIORITY },
	{ "max-pkts", VS_FLOW_SET_MAX_PKTS },
	{ "max-bytes", VS_FLOW_SET_MAX_BYTES },
	{ "trigger", VS_FLOW_SET_TRIGGER },
	{ "timeout-ms", VS_FLOW_SET_TIMEOUT },
	{ "linger-ms", VS_FLOW_SET_LINGER },
	{ "tcp-on-loss", VS_FLOW_SET_TCP_LOSS },
	{ "port", VS_FLOW_SET_PORTS },
};

/* Parse @val for the key of @bit into @r */
static gboolean syn_set_bit(struct vs_flow_rule *r, uint32_t bit, const char *val, GError **error)
{
	unsigned int e;
	guint64 v;

	switch (bit) {
	case VS_FLOW_SET_MATCH:
		return vs_flow_syntax_parse_match(val, &r->match, error);
	case VS_FLOW_SET_ACTION:
		if (!syn_enum(val, vs_flow_action_names, VS_FLOW_NUM_ACTIONS, &e))
			break;
		r->action = (enum vs_flow_action)e;
		return TRUE;
	case VS_FLOW_SET_PRIORITY:
		if (!syn_u64(val, 0, VS_FLOW_PRIO_LEVELS - 1, &v))
			break;
		r->priority = (uint8_t)v;
		return TRUE;
	case VS_FLOW_SET_MAX_PKTS:
		if (!syn_u64(val, 1, VS_FLOW_MAX_TOTAL_PKTS, &v))
			break;
		r->max_pkts = (uint32_t)v;
		return TRUE;
	case VS_FLOW_SET_MAX_BYTES:
		if (!syn_u64(val, 1, VS_FLOW_MAX_TOTAL_BYTES, &v))
			break;
		r->max_bytes = v;
		return TRUE;
	case VS_FLOW_SET_TRIGGER:
		if (!syn_enum(val, vs_flow_trigger_names, VS_FLOW_NUM_TRIGGERS, &e))
			break;
		r->trigger = (enum vs_flow_trigger)e;
		return TRUE;
	case VS_FLOW_SET_TIMEOUT:
	case VS_FLOW_SET_LINGER:
		if (!syn_u64(val, 0, VS_MAX_HOLD_MS, &v))
			break;
		*(bit == VS_FLOW_SET_TIMEOUT ? &r->timeout_ms : &r->linger_ms) = (uint32_t)v;
		return TRUE;
	case VS_FLOW_SET_TCP_LOSS:
		if (!syn_enum(val, vs_flow_tcp_loss_names, VS_FLOW_NUM_TCP_LOSS, &e))
			break;
		r->tcp_on_loss = (enum vs_flow_tcp_loss)e;
		return TRUE;
	case VS_FLOW_SET_PORTS:
		return syn_ports(val, &r->ports, error);
	default:
		g_assert_not_reached();
	}
	g_set_error(error, VS_FLOW_ERROR, 0, "'%s' is not valid", val);
	return FALSE;
}

/* What a key accepts, for messages (g_free()) */
static char *syn_expected(uint32_t bit)
{
	switch (bit) {
	case VS_FLOW_SET_ACTION:
		return g_strdup(" (buffer, hold or drop)");
	case VS_FLOW_SET_PRIORITY:
		return g_strdup_printf(" (0-%d)", VS_FLOW_PRIO_LEVELS - 1);
	case VS_FLOW_SET_MAX_PKTS:
		return g_strdup_printf(" (1-%llu)", VS_FLOW_MAX_TOTAL_PKTS);
	case VS_FLOW_SET_MAX_BYTES:
		return g_strdup_printf(" (1-%llu)", VS_FLOW_MAX_TOTAL_BYTES);
	case VS_FLOW_SET_TRIGGER:
		return g_strdup(" (none, tcp-syn, sip-register, sip-bye-next or direct-arrival)");
	case VS_FLOW_SET_TIMEOUT:
	case VS_FLOW_SET_LINGER:
		return g_strdup_printf(" (0-%d ms)", VS_MAX_HOLD_MS);
	case VS_FLOW_SET_TCP_LOSS:
		return g_strdup(" (drop or reset)");
	default:
		return g_strdup("");
	}
}

gboolean vs_flow_syntax_set(struct vs_flow_rule *r, const char *key, const char *val,
			    GError **error)
{
	g_autoptr(vs_flow_rule) c = NULL;
	g_autoptr(GError) err = NULL;
	uint32_t bit = 0;
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(syn_keys); i++)
		if (!strcmp(key, syn_keys[i].key))
			bit = syn_keys[i].bit;
	if (!bit) {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "policy %s: unknown key '%s' (match, action, priority, max-pkts, "
			    "max-bytes, trigger, timeout-ms, linger-ms, tcp-on-loss, port)",
			    RULE(r), key);
		return FALSE;
	}
	if (r->set & bit) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: %s given twice", RULE(r), key);
		return FALSE;
	}
	c = vs_flow_rule_copy(r);
	if (!syn_set_bit(c, bit, val, &err)) {
		g_autofree char *expected = syn_expected(bit);

		g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: %s: %s%s", RULE(r), key,
			    err->message, expected);
		return FALSE;
	}
	c->set |= bit;
	g_strfreev(r->ports);
	*r = *c;
	c->ports = NULL;
	return TRUE;
}

struct vs_flow_rule *vs_flow_syntax_parse_line(const char *line, GError **error)
{
	g_autoptr(vs_flow_rule) r = vs_flow_rule_new(NULL);
	g_auto(GStrv) tokens = NULL;
	bool named = false;
	guint i;

	if (strlen(line) > VS_FLOW_LINE_MAX) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy: longer than %d bytes",
			    VS_FLOW_LINE_MAX);
		return NULL;
	}
	tokens = g_strsplit_set(line, " \t", -1);
	for (i = 0; tokens[i]; i++) {
		char *eq;

		if (!*tokens[i])
			continue;
		eq = strchr(tokens[i], '=');
		if (!eq || eq == tokens[i]) {
			g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: '%s' is not KEY=VALUE",
				    RULE(r), tokens[i]);
			return NULL;
		}
		*eq = '\0';
		if (!strcmp(tokens[i], "name")) {
			if (named) {
				g_set_error(error, VS_FLOW_ERROR, 0, "policy %s: name given twice",
					    RULE(r));
				return NULL;
			}
			if (strlen(eq + 1) > VS_FLOW_NAME_MAX) {
				g_set_error(error, VS_FLOW_ERROR, 0,
					    "policy: name longer than %d characters",
					    VS_FLOW_NAME_MAX);
				return NULL;
			}
			g_strlcpy(r->name, eq + 1, sizeof(r->name));
			named = true;
			continue;
		}
		if (!vs_flow_syntax_set(r, tokens[i], eq + 1, error))
			return NULL;
	}
	if (!named) {
		g_set_error(error, VS_FLOW_ERROR, 0, "policy: name=NAME is required");
		return NULL;
	}
	if (!vs_flow_rule_validate(r, error))
		return NULL;
	return g_steal_pointer(&r);
}

static void syn_format_prefix(GString *s, const char *field, const struct vs_flow_prefix *p)
{
	char buf[INET6_ADDRSTRLEN];

	inet_ntop(p->af == VS_FLOW_AF_INET ? AF_INET : AF_INET6, p->addr, buf, sizeof(buf));
	g_string_append_printf(s, "%s=%s/%u,", field, buf, p->len);
}

static void syn_format_range(GString *s, const char *field, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		g_string_append_printf(s, "%s=%u,", field, lo);
	else
		g_string_append_printf(s, "%s=%u-%u,", field, lo, hi);
}

static void syn_format_match(GString *s, const struct vs_flow_match *m)
{
	size_t i;

	g_string_append(s, " match=");
	if (!m->fields) {
		g_string_append(s, "any");
		return;
	}
	if (m->fields & VS_FLOW_M_SRC)
		syn_format_prefix(s, "src", &m->src);
	if (m->fields & VS_FLOW_M_DST)
		syn_format_prefix(s, "dst", &m->dst);
	if (m->fields & VS_FLOW_M_PROTO) {
		for (i = 0; i < G_N_ELEMENTS(syn_protos); i++)
			if (syn_protos[i].proto == m->proto)
				break;
		if (i < G_N_ELEMENTS(syn_protos))
			g_string_append_printf(s, "proto=%s,", syn_protos[i].name);
		else
			g_string_append_printf(s, "proto=%u,", m->proto);
	}
	if (m->fields & VS_FLOW_M_SPORT)
		syn_format_range(s, "sport", m->sport_lo, m->sport_hi);
	if (m->fields & VS_FLOW_M_DPORT)
		syn_format_range(s, "dport", m->dport_lo, m->dport_hi);
	if (m->fields & VS_FLOW_M_VLAN)
		g_string_append_printf(s, "vlan=%u,", m->vlan);
	if (m->fields & VS_FLOW_M_DSCP)
		g_string_append_printf(s, "dscp=%u,", m->dscp);
	g_string_truncate(s, s->len - 1);	/* the last ',' */
}

char *vs_flow_syntax_format(const struct vs_flow_rule *r)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(s, "name=%s", r->name);
	if (r->set & VS_FLOW_SET_PORTS) {
		g_autofree char *ports = g_strjoinv(",", r->ports);

		g_string_append_printf(s, " port=%s", ports);
	}
	if (r->set & VS_FLOW_SET_MATCH)
		syn_format_match(s, &r->match);
	if (r->set & VS_FLOW_SET_ACTION)
		g_string_append_printf(s, " action=%s", vs_flow_action_names[r->action]);
	if (r->set & VS_FLOW_SET_PRIORITY)
		g_string_append_printf(s, " priority=%u", r->priority);
	if (r->set & VS_FLOW_SET_MAX_PKTS)
		g_string_append_printf(s, " max-pkts=%u", r->max_pkts);
	if (r->set & VS_FLOW_SET_MAX_BYTES)
		g_string_append_printf(s, " max-bytes=%" G_GUINT64_FORMAT, r->max_bytes);
	if (r->set & VS_FLOW_SET_TRIGGER)
		g_string_append_printf(s, " trigger=%s", vs_flow_trigger_names[r->trigger]);
	if (r->set & VS_FLOW_SET_TIMEOUT)
		g_string_append_printf(s, " timeout-ms=%u", r->timeout_ms);
	if (r->set & VS_FLOW_SET_LINGER)
		g_string_append_printf(s, " linger-ms=%u", r->linger_ms);
	if (r->set & VS_FLOW_SET_TCP_LOSS)
		g_string_append_printf(s, " tcp-on-loss=%s", vs_flow_tcp_loss_names[r->tcp_on_loss]);
	return g_string_free(s, FALSE);
}

gboolean vs_flow_syntax_port_opt(struct vs_flow_port_opts *o, const char *key, const char *val,
				 GError **error)
{
	unsigned int e;
	guint64 v;

	if (!strcmp(key, "total-max-pkts")) {
		if (!syn_u64(val, 1, VS_FLOW_MAX_TOTAL_PKTS, &v))
			goto range;
		o->total_max_pkts = v;
		o->set |= VS_FLOW_POPT_TOTAL_PKTS;
	} else if (!strcmp(key, "total-max-bytes")) {
		if (!syn_u64(val, 1, VS_FLOW_MAX_TOTAL_BYTES, &v))
			goto range;
		o->total_max_bytes = v;
		o->set |= VS_FLOW_POPT_TOTAL_BYTES;
	} else if (!strcmp(key, "tcp-on-loss")) {
		if (!syn_enum(val, vs_flow_tcp_loss_names, VS_FLOW_NUM_TCP_LOSS, &e)) {
			g_set_error(error, VS_FLOW_ERROR, 0, "tcp-on-loss: '%s': drop or reset", val);
			return FALSE;
		}
		o->tcp_on_loss = (enum vs_flow_tcp_loss)e;
	} else {
		g_set_error(error, VS_FLOW_ERROR, 0,
			    "unknown key '%s' (total-max-pkts, total-max-bytes, tcp-on-loss)", key);
		return FALSE;
	}
	return TRUE;
range:
	g_set_error(error, VS_FLOW_ERROR, 0, "%s: '%s' is not an integer in 1..%llu", key, val,
		    !strcmp(key, "total-max-pkts") ? VS_FLOW_MAX_TOTAL_PKTS : VS_FLOW_MAX_TOTAL_BYTES);
	return FALSE;
}
