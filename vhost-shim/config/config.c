/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.c - parse and validate the configuration
 *
 * Theory of operation: a vs_cfg starts with every default filled in
 * (vs_cfg_new()), then the config file is merged (vs_cfg_load_keyfile()),
 * then command-line options override single values and add ports.  Finally
 * vs_cfg_validate() checks the whole thing once, so the rest of the daemon
 * can trust every value.  Errors name the file group and key, because that
 * is what an operator has to fix.
 *
 * Single keys (their types, ranges, defaults and fields) are the table of
 * config_keys.c; this file has what involves more than one key: groups,
 * ports, peers and the checks across keys.  The per-port buffer policy
 * (caps, hold times, overflow) is config_policy.c; the command line is
 * config_cmdline.c; the EAL command line built from a configuration is
 * config_eal.c.
 *
 * Config file layout (see docs/configuration.md):
 *   [daemon]  file-prefix, lcores, memory-mb, hugepages, eal-args,
 *             busy-poll, idle-sleep-us, control-socket, control-group,
 *             control-clients-per-uid, socket-dir, uplink-drivers,
 *             uplink-interfaces, log-level
 *   [port NAME]  socket, mode (server|client), mac, uplink, queues, mtu, vm-uuid,
 *             announce (all|rarp|off)
 *   [tunnel]  node-name, listen, key-file, auto-announce, tls (none|x509),
 *             tls-dir, tls-ca, tls-cert, tls-key, tls-crl, keepalive-ms,
 *             keepalive-timeout-ms
 *   [peer NAME]  address
 *   [discovery]  etcd, prefix, advertise, ttl, timeout-ms, etcd-ca,
 *             etcd-cert, etcd-key
 *   [policy NAME]  a flow-policy rule: match, action, priority, ...
 *             (flow_syntax.h); every port's rules must compile against
 *             its buffer policy (vs_cfg_validate())
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "config_keys.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "reach.h"

G_DEFINE_QUARK(vs-cfg-error-quark, vs_cfg_error)

#define PORT_GROUP_PREFIX "port "

static void cfg_peer_free(struct vs_peer_cfg *p)
{
	g_free(p->name);
	g_free(p->address);
	g_free(p);
}

struct vs_cfg *vs_cfg_new(void)
{
	struct vs_cfg *cfg = g_new0(struct vs_cfg, 1);

	vs_cfg_section_init(VS_CFG_SECTION_DAEMON, cfg);
	vs_cfg_section_init(VS_CFG_SECTION_TUNNEL, cfg);
	vs_cfg_section_init(VS_CFG_SECTION_DISCOVERY, cfg);
	vs_cfg_section_init(VS_CFG_SECTION_MIGRATION, cfg);
	/* the one default that is not a constant */
	g_free(cfg->node_name);
	cfg->node_name = g_strdup(g_get_host_name());
	cfg->ports = g_ptr_array_new_with_free_func((GDestroyNotify)vs_port_cfg_free);
	cfg->peers = g_ptr_array_new_with_free_func((GDestroyNotify)cfg_peer_free);
	cfg->flow_rules = vs_flow_set_new();
	return cfg;
}

struct vs_port_cfg *vs_port_cfg_new(void)
{
	struct vs_port_cfg *pc = g_new0(struct vs_port_cfg, 1);

	vs_cfg_section_init(VS_CFG_SECTION_PORT, pc);
	vs_buf_policy_init(&pc->policy);
	return pc;
}

struct vs_port_cfg *vs_port_cfg_copy(const struct vs_port_cfg *pc)
{
	struct vs_port_cfg *copy = g_new(struct vs_port_cfg, 1);

	*copy = *pc;
	vs_cfg_section_dup(VS_CFG_SECTION_PORT, copy);
	return copy;
}

void vs_port_cfg_free(struct vs_port_cfg *pc)
{
	if (!pc)
		return;
	vs_cfg_section_clear(VS_CFG_SECTION_PORT, pc);
	g_free(pc);
}

void vs_cfg_free(struct vs_cfg *cfg)
{
	if (!cfg)
		return;
	vs_cfg_section_clear(VS_CFG_SECTION_DAEMON, cfg);
	vs_cfg_section_clear(VS_CFG_SECTION_TUNNEL, cfg);
	vs_cfg_section_clear(VS_CFG_SECTION_DISCOVERY, cfg);
	vs_cfg_section_clear(VS_CFG_SECTION_MIGRATION, cfg);
	g_ptr_array_unref(cfg->ports);
	g_ptr_array_unref(cfg->peers);
	vs_flow_set_free(cfg->flow_rules);
	g_free(cfg);
}

/*
 * cfg_hex_field() - exactly @digits hex digits at @s (no sign, no blanks:
 * what sscanf("%x") would also take), their value in @val
 */
static gboolean cfg_hex_field(const char *s, unsigned int digits, unsigned int *val)
{
	unsigned int i, v = 0;

	for (i = 0; i < digits; i++) {
		if (!g_ascii_isxdigit(s[i]))
			return FALSE;
		v = v << 4 | (unsigned int)g_ascii_xdigit_value(s[i]);
	}
	*val = v;
	return TRUE;
}

gboolean vs_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b;
	int i;

	if (!s || strlen(s) != 17)
		return FALSE;
	for (i = 0; i < 6; i++) {
		if (!cfg_hex_field(s + 3 * i, 2, &b) || (i < 5 && s[3 * i + 2] != ':'))
			return FALSE;
		mac[i] = (uint8_t)b;
	}
	return !(mac[0] & 1);	/* multicast/broadcast cannot be a VM's MAC */
}

gboolean vs_valid_uuid(const char *s)
{
	size_t i;

	if (!s || strlen(s) != VS_UUID_LEN)
		return FALSE;
	for (i = 0; i < VS_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return FALSE;
		} else if (!g_ascii_isxdigit(s[i])) {
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean cfg_valid_name(const char *name)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > VS_NAME_MAX)
		return FALSE;
	for (i = 0; i < n; i++)
		if (!g_ascii_isalnum(name[i]) && name[i] != '-' && name[i] != '_')
			return FALSE;
	return TRUE;
}

gboolean vs_port_cfg_validate(const struct vs_port_cfg *pc, GError **error)
{
	static const uint8_t zero[6];

	if (!cfg_valid_name(pc->name)) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "port name '%s' is invalid: 1-%d characters of [A-Za-z0-9_-]",
			    pc->name ? pc->name : "", VS_NAME_MAX);
		return FALSE;
	}
	if (!pc->socket_path || pc->socket_path[0] != '/') {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "port %s: socket must be an absolute path", pc->name);
		return FALSE;
	}
	if (strlen(pc->socket_path) >= 108) {	/* sizeof(sun_path) */
		g_set_error(error, VS_CFG_ERROR, 0,
			    "port %s: socket path longer than 107 bytes", pc->name);
		return FALSE;
	}
	if (!memcmp(pc->mac, zero, 6)) {
		g_set_error(error, VS_CFG_ERROR, 0, "port %s: mac is required", pc->name);
		return FALSE;
	}
	if (!pc->uplink || !pc->uplink[0]) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "port %s: uplink (DPDK devargs) is required", pc->name);
		return FALSE;
	}
	if (pc->queues < 1 || pc->queues > VS_MAX_QUEUES) {
		g_set_error(error, VS_CFG_ERROR, 0, "port %s: queues must be 1..%d",
			    pc->name, VS_MAX_QUEUES);
		return FALSE;
	}
	if (pc->mtu < VS_MIN_MTU || pc->mtu > VS_MAX_MTU) {
		g_set_error(error, VS_CFG_ERROR, 0, "port %s: mtu must be %d..%d", pc->name,
			    VS_MIN_MTU, VS_MAX_MTU);
		return FALSE;
	}
	if (pc->vm_uuid && !vs_valid_uuid(pc->vm_uuid)) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "port %s: vm-uuid '%s' is not a UUID such as "
			    "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d", pc->name, pc->vm_uuid);
		return FALSE;
	}
	return TRUE;
}

struct vs_port_cfg *vs_port_cfg_parse_spec(const char *spec, GError **error)
{
	g_autoptr(vs_port_cfg) pc = vs_port_cfg_new();
	const char *p = spec;

	while (p && *p) {
		const char *eq = strchr(p, '=');
		const char *comma;
		g_autofree char *key = NULL;
		g_autofree char *val = NULL;

		if (!eq) {
			g_set_error(error, VS_CFG_ERROR, 0,
				    "port spec: expected key=value at '%s'", p);
			return NULL;
		}
		key = g_strndup(p, eq - p);
		if (!strcmp(key, "uplink")) {	/* takes the rest: devargs have commas */
			val = g_strdup(eq + 1);
			p = NULL;
		} else {
			comma = strchr(eq + 1, ',');
			val = comma ? g_strndup(eq + 1, comma - eq - 1) : g_strdup(eq + 1);
			p = comma ? comma + 1 : NULL;
		}
		if (!vs_port_cfg_set(pc, key, val, error))
			return NULL;
	}
	if (!vs_port_cfg_validate(pc, error))
		return NULL;
	return g_steal_pointer(&pc);
}

gboolean vs_cfg_add_port(struct vs_cfg *cfg, struct vs_port_cfg *pc_in, GError **error)
{
	g_autoptr(vs_port_cfg) pc = pc_in;
	guint i;

	if (!vs_port_cfg_validate(pc, error))
		return FALSE;
	if (cfg->ports->len >= VS_MAX_PORTS) {
		g_set_error(error, VS_CFG_ERROR, 0, "too many ports (max %d)", VS_MAX_PORTS);
		return FALSE;
	}
	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *o = g_ptr_array_index(cfg->ports, i);

		if (!strcmp(o->name, pc->name)) {
			g_set_error(error, VS_CFG_ERROR, 0, "port %s: duplicate name", pc->name);
			return FALSE;
		}
		if (!strcmp(o->socket_path, pc->socket_path)) {
			g_set_error(error, VS_CFG_ERROR, 0,
				    "port %s: socket %s is already used by port %s",
				    pc->name, pc->socket_path, o->name);
			return FALSE;
		}
	}
	g_ptr_array_add(cfg->ports, g_steal_pointer(&pc));
	return TRUE;
}

/*
 * cfg_get_string() - g_key_file_get_string() that never returns a value
 * together with an error: GLib 2.74 does both for a value ending in a lone
 * backslash (found by fuzz/fuzz_config.c)
 */
static char *cfg_get_string(GKeyFile *kf, const char *group, const char *key, GError **error)
{
	GError *err = NULL;
	char *val = g_key_file_get_string(kf, group, key, &err);

	if (err) {
		g_free(val);
		g_propagate_error(error, err);
		return NULL;
	}
	return val;
}

/*
 * cfg_load_key() - one key of [daemon], [tunnel], [discovery] or [migration]
 */
static gboolean cfg_load_key(struct vs_cfg *cfg, GKeyFile *kf, const char *group,
			     enum vs_cfg_section section, const char *key, GError **error)
{
	g_autofree char *val = cfg_get_string(kf, group, key, error);
	g_autofree char *what = g_strdup_printf("[%s] %s", group, key);
	const struct vs_cfg_key *k = vs_cfg_key_find(section, key);

	if (!val)
		return FALSE;
	if (!k && section == VS_CFG_SECTION_TUNNEL && !strcmp(key, "allow-cleartext")) {
		/* removed with tunnel protocol v2: say why, not just "unknown" */
		g_set_error(error, VS_CFG_ERROR, 0,
			    "%s: no longer exists: every tunnel connection is encrypted and "
			    "authenticated with TLS 1.3 now, with the pre-shared key or with "
			    "tls=x509 (docs/configuration.md, \"Tunnel security\"); remove the line",
			    what);
		return FALSE;
	}
	if (!k) {
		g_set_error(error, VS_CFG_ERROR, 0, "%s: unknown key", what);
		return FALSE;
	}
	return vs_cfg_key_set(k, cfg, what, g_strstrip(val), error);
}

gboolean vs_parse_hostport(const char *s, char **host, guint16 *port)
{
	const char *colon;
	guint64 p;

	if (!s || !*s)
		return FALSE;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return FALSE;
		colon = end + 1;
		*host = g_strndup(s + 1, end - s - 1);
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s || memchr(s, ':', colon - s))
			return FALSE;
		*host = g_strndup(s, colon - s);
	}
	if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &p, NULL)) {
		g_clear_pointer(host, g_free);
		return FALSE;
	}
	*port = (guint16)p;
	return TRUE;
}

gboolean vs_valid_node_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	return n >= 1 && n <= 63 &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

gboolean vs_cfg_add_peer(struct vs_cfg *cfg, const char *name, const char *address,
			 GError **error)
{
	g_autofree char *host = NULL;
	struct vs_peer_cfg *p;
	guint16 port;
	guint i;

	if (!vs_valid_node_name(name)) {
		g_set_error(error, VS_CFG_ERROR, 0, "peer name '%s': 1-63 of [A-Za-z0-9._-]",
			    name ? name : "");
		return FALSE;
	}
	if (!vs_parse_hostport(address, &host, &port)) {
		g_set_error(error, VS_CFG_ERROR, 0, "peer %s: address '%s' is not host:port", name,
			    address ? address : "");
		return FALSE;
	}
	if (cfg->peers->len >= VS_MAX_PEERS) {
		g_set_error(error, VS_CFG_ERROR, 0, "too many peers (max %d)", VS_MAX_PEERS);
		return FALSE;
	}
	for (i = 0; i < cfg->peers->len; i++)
		if (!strcmp(((struct vs_peer_cfg *)g_ptr_array_index(cfg->peers, i))->name, name)) {
			g_set_error(error, VS_CFG_ERROR, 0, "peer %s: duplicate", name);
			return FALSE;
		}
	p = g_new0(struct vs_peer_cfg, 1);
	p->name = g_strdup(name);
	p->address = g_strdup(address);
	g_ptr_array_add(cfg->peers, p);
	return TRUE;
}

/* The default file name (in tls-dir) of each TLS file (keys tls-ca...) */
static const char *const cfg_tls_default_names[VS_TLS_NUM_FILES] = {
	[VS_TLS_FILE_CA] = "ca-cert.pem",
	[VS_TLS_FILE_CERT] = "server-cert.pem",
	[VS_TLS_FILE_KEY] = "server-key.pem",
	[VS_TLS_FILE_CRL] = "ca-crl.pem",
};

char *vs_cfg_tls_file(const struct vs_cfg *cfg, enum vs_tls_file which)
{
	if (cfg->tls_files[which])
		return g_strdup(cfg->tls_files[which]);
	return g_build_filename(cfg->tls_dir ? cfg->tls_dir : VS_DEFAULT_TLS_DIR,
				cfg_tls_default_names[which], NULL);
}

char **vs_cfg_disc_endpoints(const struct vs_cfg *cfg)
{
	g_auto(GStrv) parts = NULL;
	GPtrArray *urls;
	guint i;

	if (!cfg->etcd)
		return NULL;
	parts = g_strsplit(cfg->etcd, ",", -1);
	urls = g_ptr_array_new();
	for (i = 0; parts[i]; i++) {
		char *u = g_strstrip(parts[i]);

		if (*u)
			g_ptr_array_add(urls, g_strdup(u));
	}
	g_ptr_array_add(urls, NULL);
	return (char **)g_ptr_array_free(urls, FALSE);
}

const char *vs_cfg_disc_advertise(const struct vs_cfg *cfg)
{
	return cfg->disc_advertise ? cfg->disc_advertise : cfg->tunnel_listen;
}

/* A numeric IPv4 or IPv6 address that is not the wildcard */
static bool cfg_host_is_dialable(const char *host)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return a4.s_addr != htonl(INADDR_ANY);
	return inet_pton(AF_INET6, host, &a6) == 1 && memcmp(&a6, &any6, sizeof(a6));
}

gboolean vs_hostport_is_dialable(const char *hostport)
{
	g_autofree char *host = NULL;
	guint16 port;

	return vs_parse_hostport(hostport, &host, &port) && cfg_host_is_dialable(host);
}

/*
 * cfg_disc_validate() - [discovery]: URLs that libsoup can use, a prefix
 * that is a key path, an address peers can dial (a numeric IP that is not
 * a wildcard: the tunnel dials numeric addresses only), a tunnel to
 * publish, TLS files in pairs
 */
static gboolean cfg_disc_validate(const struct vs_cfg *cfg, GError **error)
{
	g_auto(GStrv) urls = vs_cfg_disc_endpoints(cfg);
	const char *adv = vs_cfg_disc_advertise(cfg);
	const char *p;
	guint i;

	if (!cfg->etcd)
		return TRUE;
	if (!urls[0] || g_strv_length(urls) > VS_MAX_DISC_ENDPOINTS) {
		g_set_error(error, VS_CFG_ERROR, 0, "[discovery] etcd: 1-%d URLs, comma-separated",
			    VS_MAX_DISC_ENDPOINTS);
		return FALSE;
	}
	for (i = 0; urls[i]; i++) {
		g_autoptr(GUri) uri = g_uri_parse(urls[i], G_URI_FLAGS_NONE, NULL);
		const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;

		if (!uri || !scheme || (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
		    !g_uri_get_host(uri) || !*g_uri_get_host(uri) || g_uri_get_query(uri) ||
		    g_uri_get_userinfo(uri) || (*g_uri_get_path(uri) && strcmp(g_uri_get_path(uri), "/"))) {
			g_set_error(error, VS_CFG_ERROR, 0,
				    "[discovery] etcd: '%s' is not http://HOST:PORT or https://HOST:PORT",
				    urls[i]);
			return FALSE;
		}
	}
	if (!cfg->disc_prefix || cfg->disc_prefix[0] != '/' ||
	    strlen(cfg->disc_prefix) > VS_MAX_DISC_PREFIX ||
	    cfg->disc_prefix[strlen(cfg->disc_prefix) - 1] != '/') {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[discovery] prefix '%s': 1-%d bytes, starting and ending with '/'",
			    cfg->disc_prefix ? cfg->disc_prefix : "", VS_MAX_DISC_PREFIX);
		return FALSE;
	}
	for (p = cfg->disc_prefix; *p; p++)
		if (!g_ascii_isalnum(*p) && !strchr("/._-", *p)) {
			g_set_error(error, VS_CFG_ERROR, 0, "[discovery] prefix '%s': use [A-Za-z0-9/._-]",
				    cfg->disc_prefix);
			return FALSE;
		}
	if (!cfg->tunnel_listen) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[discovery] needs [tunnel] listen: peers resolved from the registry dial it");
		return FALSE;
	}
	if (!vs_hostport_is_dialable(adv)) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[discovery] advertise: '%s' is not a numeric IP:port that peers can dial "
			    "(set advertise= when [tunnel] listen is a wildcard)", adv);
		return FALSE;
	}
	if (!cfg->etcd_cert != !cfg->etcd_key) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[discovery] etcd-cert and etcd-key go together");
		return FALSE;
	}
	return TRUE;
}

bool vs_cfg_tls_crl_optional(const struct vs_cfg *cfg)
{
	return !cfg->tls_files[VS_TLS_FILE_CRL];
}

gboolean vs_cfg_load_keyfile(struct vs_cfg *cfg, const char *data, gsize len, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_auto(GStrv) groups = NULL;
	gsize i, j;

	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, error))
		return FALSE;
	groups = g_key_file_get_groups(kf, NULL);
	for (i = 0; groups[i]; i++) {
		g_auto(GStrv) keys = g_key_file_get_keys(kf, groups[i], NULL, error);

		if (!keys)
			return FALSE;
		if (!strcmp(groups[i], "daemon") || !strcmp(groups[i], "tunnel") ||
		    !strcmp(groups[i], "discovery") || !strcmp(groups[i], "migration")) {
			enum vs_cfg_section section = vs_cfg_section_from_string(groups[i]);

			for (j = 0; keys[j]; j++)
				if (!cfg_load_key(cfg, kf, groups[i], section, keys[j], error))
					return FALSE;
		} else if (g_str_has_prefix(groups[i], PORT_GROUP_PREFIX)) {
			g_autoptr(vs_port_cfg) pc = vs_port_cfg_new();

			pc->name = g_strdup(groups[i] + strlen(PORT_GROUP_PREFIX));
			for (j = 0; keys[j]; j++) {
				g_autofree char *val = cfg_get_string(kf, groups[i],
									     keys[j], error);

				if (!val)
					return FALSE;
				if (!strcmp(keys[j], "name")) {
					g_set_error(error, VS_CFG_ERROR, 0,
						    "[%s]: the name comes from the group", groups[i]);
					return FALSE;
				}
				if (!vs_port_cfg_set(pc, keys[j], g_strstrip(val), error))
					return FALSE;
			}
			if (!vs_cfg_add_port(cfg, g_steal_pointer(&pc), error))
				return FALSE;
		} else if (g_str_has_prefix(groups[i], VS_FLOW_GROUP_PREFIX)) {
			continue;	/* every [policy NAME] at once, below */
		} else if (g_str_has_prefix(groups[i], "peer ")) {
			g_autofree char *addr = cfg_get_string(kf, groups[i], "address", NULL);

			if (g_strv_length(keys) != 1 || !addr) {
				g_set_error(error, VS_CFG_ERROR, 0,
					    "[%s]: exactly one key, address=host:port", groups[i]);
				return FALSE;
			}
			if (!vs_cfg_add_peer(cfg, groups[i] + 5, g_strstrip(addr), error))
				return FALSE;
		} else {
			g_set_error(error, VS_CFG_ERROR, 0,
				    "unknown group [%s]: expected [daemon], [tunnel], [discovery], "
				    "[migration], [port NAME], [peer NAME] or [policy NAME]",
				    groups[i]);
			return FALSE;
		}
	}
	return vs_flow_set_load_keyfile(cfg->flow_rules, kf, error);
}

gboolean vs_cfg_add_policy(struct vs_cfg *cfg, const char *line, GError **error)
{
	struct vs_flow_rule *r = vs_flow_syntax_parse_line(line, error);

	return r && vs_flow_set_add(cfg->flow_rules, r, error);
}

/* Every port's rules compile against its buffer policy (flow_rules.h) */
static gboolean cfg_policy_validate(const struct vs_cfg *cfg, GError **error)
{
	guint i;

	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);
		g_autoptr(vs_flow_table) t = vs_flow_set_compile(cfg->flow_rules, pc->name,
								 &pc->policy, NULL, error);

		if (!t) {
			g_prefix_error(error, "port %s: ", pc->name);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean vs_cfg_validate(const struct vs_cfg *cfg, GError **error)
{
	guint i;

	const char *p;

	if (!cfg->file_prefix[0] || strlen(cfg->file_prefix) > 64) {
		g_set_error(error, VS_CFG_ERROR, 0, "file-prefix must be 1-64 characters");
		return FALSE;
	}
	/* DPDK accepts more, but the prefix ends up in paths: keep it tame */
	for (p = cfg->file_prefix; *p; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.') {
			g_set_error(error, VS_CFG_ERROR, 0, "file-prefix '%s': use [A-Za-z0-9._-]",
				    cfg->file_prefix);
			return FALSE;
		}
	if (!cfg->control_path || cfg->control_path[0] != '/' ||
	    strlen(cfg->control_path) >= 108) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "control-socket must be an absolute path shorter than 108 bytes");
		return FALSE;
	}
	if (cfg->control_tcp_port) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "control-tcp-port %u: the TCP control listener was removed, because "
			    "every local user could reach it; use the unix socket, with "
			    "control-group for other users (docs/hardening.md)",
			    cfg->control_tcp_port);
		return FALSE;
	}
	if (!vs_reach_check_cfg(cfg, error))
		return FALSE;
	/* what each port reaches is checked once the whole [daemon] is known */
	for (i = 0; i < cfg->ports->len; i++) {
		const struct vs_port_cfg *pc = g_ptr_array_index(cfg->ports, i);

		if (!vs_port_cfg_validate(pc, error) || !vs_reach_check_port(cfg, pc, error))
			return FALSE;
	}
	if (!vs_valid_node_name(cfg->node_name)) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[tunnel] node-name '%s': 1-63 of [A-Za-z0-9._-]", cfg->node_name);
		return FALSE;
	}
	if (cfg->tunnel_listen) {
		g_autofree char *host = NULL;
		guint16 port;

		if (!vs_parse_hostport(cfg->tunnel_listen, &host, &port)) {
			g_set_error(error, VS_CFG_ERROR, 0, "[tunnel] listen: '%s' is not host:port",
				    cfg->tunnel_listen);
			return FALSE;
		}
	}
	if (cfg->keepalive_timeout_ms <= cfg->keepalive_ms) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[tunnel] keepalive-timeout-ms %u must exceed keepalive-ms %u",
			    cfg->keepalive_timeout_ms, cfg->keepalive_ms);
		return FALSE;
	}
	if ((cfg->tunnel_listen || cfg->peers->len) && !cfg->key_file && cfg->tls == VS_TLS_NONE) {
		g_set_error(error, VS_CFG_ERROR, 0,
			    "[tunnel] key-file or tls=x509 is required when a tunnel or peers are "
			    "configured");
		return FALSE;
	}
	if (!cfg_policy_validate(cfg, error))
		return FALSE;
	return cfg_disc_validate(cfg, error);
}

char *vs_port_cfg_pci_address(const struct vs_port_cfg *pc)
{
	const char *s = pc->uplink;
	unsigned int dom = 0, bus, dev, fn;
	size_t len = strcspn(s, ",");	/* devargs: ADDRESS[,key=value...] */

	/* DDDD:BB:DD.F or BB:DD.F, hex digits only */
	if (len == 12) {
		if (!cfg_hex_field(s, 4, &dom) || s[4] != ':')
			return NULL;
		s += 5;
	} else if (len != 7) {
		return NULL;
	}
	if (!cfg_hex_field(s, 2, &bus) || s[2] != ':' || !cfg_hex_field(s + 3, 2, &dev) ||
	    s[5] != '.' || !cfg_hex_field(s + 6, 1, &fn))
		return NULL;
	return g_strdup_printf("%04x:%02x:%02x.%x", dom, bus, dev, fn);
}
