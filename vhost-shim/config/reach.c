/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reach.c - what a port may reach: its socket path and its uplink's devargs
 *
 * Theory of operation: see reach.h.  The table below is the whole
 * knowledge of which devargs keys are safe.  A key is there when it only
 * shapes the device the port already owns (queue counts, ring sizes, its
 * MAC, its interface name); it is left out when it makes the driver open,
 * create or redirect something else as the daemon's user: a file
 * (net_pcap's tx_pcap= writes any file), another host interface's traffic
 * (net_tap's remote= mirrors a NIC into the tap with tc rules), a kernel
 * device (net_virtio_user's path= may name /dev/vhost-net or a vDPA
 * device, hence its path is a socket in socket-dir; its interface_name=
 * names the tap of that vhost-kernel backend).  Drivers that are not in
 * the table (net_pcap, net_ring, net_bonding, net_memif...) are refused
 * unless the administrator lists them with their keys, and the values of
 * such keys are tokens without '/', so they never name a path.
 *
 * Device names: DPDK's vdev bus picks the first driver whose name is a
 * prefix of the device name, so "net_tap0" and "net_tap_vm1" are net_tap.
 * A device name is accepted as DRIVER + [A-Za-z0-9_-]* for an allowed
 * DRIVER; no other DPDK 22.11 vdev driver's name starts with the name of
 * one in the table, so the suffix cannot select another driver.  A PCI
 * address (DDDD:BB:DD.F or BB:DD.F) is the entry "pci"; it has no keys by
 * default, because PCI devargs are specific to each NIC's PMD.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "reach.h"
#include "util.h"

/**
 * enum reach_val - what the value of a devargs key must be
 * @REACH_VAL_IFNAME:	an interface name matching uplink-interfaces
 * @REACH_VAL_SOCKET:	a socket path in socket-dir (vs_reach_check_socket())
 * @REACH_VAL_MAC:	a MAC address aa:bb:cc:dd:ee:ff
 * @REACH_VAL_TAP_MAC:	a MAC address or "fixed" (net_tap)
 * @REACH_VAL_UINT:	a decimal integer up to the key's @max
 * @REACH_VAL_BOOL:	0 or 1
 * @REACH_VAL_TOKEN:	1-VS_REACH_MAX_TOKEN of [A-Za-z0-9_.:-] (keys the
 *			administrator added: never a path)
 */
enum reach_val {
	REACH_VAL_IFNAME,
	REACH_VAL_SOCKET,
	REACH_VAL_MAC,
	REACH_VAL_TAP_MAC,
	REACH_VAL_UINT,
	REACH_VAL_BOOL,
	REACH_VAL_TOKEN,
};

struct reach_key {
	const char *name;
	enum reach_val type;
	uint64_t max;		/* REACH_VAL_UINT */
};

struct reach_driver {
	const char *name;
	const struct reach_key *keys;	/* ended by a NULL name */
};

/* net_tap: the tap it creates (TUNSETIFF) and its MAC.  Not remote= (tc
 * rules that mirror another interface into the tap and back), not
 * persist= (interfaces left behind) */
static const struct reach_key reach_tap_keys[] = {
	{ "iface", REACH_VAL_IFNAME, 0 },
	{ "mac", REACH_VAL_TAP_MAC, 0 },
	{ NULL, 0, 0 },
};

/* net_af_packet: the interface it binds to (that is the uplink: it sees
 * and sends every frame of it, so uplink-interfaces bounds it), queues and
 * the kernel ring's sizes (bounded: the ring is kernel memory) */
static const struct reach_key reach_af_packet_keys[] = {
	{ "iface", REACH_VAL_IFNAME, 0 },
	{ "qpairs", REACH_VAL_UINT, VS_MAX_QUEUES },
	{ "blocksz", REACH_VAL_UINT, 1u << 20 },
	{ "framesz", REACH_VAL_UINT, 1u << 16 },
	{ "framecnt", REACH_VAL_UINT, 1u << 16 },
	{ "qdisc_bypass", REACH_VAL_BOOL, 0 },
	{ NULL, 0, 0 },
};

/* net_virtio_user: a vhost-user socket in socket-dir (a path elsewhere
 * could be /dev/vhost-net or /dev/vhost-vdpa-N: other backends), whether
 * it listens there (server=1), and the virtio device's own shape.  Not
 * interface_name= (the tap of the vhost-kernel backend) */
static const struct reach_key reach_virtio_user_keys[] = {
	{ "path", REACH_VAL_SOCKET, 0 },
	{ "server", REACH_VAL_BOOL, 0 },
	{ "queues", REACH_VAL_UINT, VS_MAX_QUEUES },
	{ "cq", REACH_VAL_BOOL, 0 },
	{ "queue_size", REACH_VAL_UINT, 32768 },
	{ "mac", REACH_VAL_MAC, 0 },
	{ "mrg_rxbuf", REACH_VAL_BOOL, 0 },
	{ "in_order", REACH_VAL_BOOL, 0 },
	{ "packed_vq", REACH_VAL_BOOL, 0 },
	{ "vectorized", REACH_VAL_BOOL, 0 },
	{ "speed", REACH_VAL_UINT, 1000000 },
	{ NULL, 0, 0 },
};

/* net_null (benchmarks, tests): no host resource at all */
static const struct reach_key reach_null_keys[] = {
	{ "size", REACH_VAL_UINT, 65535 },
	{ "copy", REACH_VAL_BOOL, 0 },
	{ "no-rx", REACH_VAL_BOOL, 0 },
	{ NULL, 0, 0 },
};

/* net_vhost (benchmarks): a vhost-user socket in socket-dir */
static const struct reach_key reach_vhost_keys[] = {
	{ "iface", REACH_VAL_SOCKET, 0 },
	{ "queues", REACH_VAL_UINT, VS_MAX_QUEUES },
	{ "client", REACH_VAL_BOOL, 0 },
	{ NULL, 0, 0 },
};

static const struct reach_key reach_no_keys[] = {
	{ NULL, 0, 0 },
};

/* The drivers vhost-shim knows how to restrict; the default allow-list
 * (VS_DEFAULT_UPLINK_DRIVERS) names the first four */
static const struct reach_driver reach_drivers[] = {
	{ "net_tap", reach_tap_keys },
	{ "net_af_packet", reach_af_packet_keys },
	{ "net_virtio_user", reach_virtio_user_keys },
	{ "pci", reach_no_keys },
	{ "net_null", reach_null_keys },
	{ "net_vhost", reach_vhost_keys },
};

/**
 * struct reach_entry - one word of uplink-drivers
 * @name:	driver name, or "pci"
 * @known:	its row of reach_drivers[], or NULL
 * @keys:	the keys the word names (DRIVER:KEY,KEY), or NULL: @known's
 */
struct reach_entry {
	char *name;
	const struct reach_driver *known;
	char **keys;
};

static void reach_entry_clear(struct reach_entry *e)
{
	g_free(e->name);
	g_strfreev(e->keys);
}

static const struct reach_driver *reach_driver_find(const char *name)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(reach_drivers); i++)
		if (!strcmp(reach_drivers[i].name, name))
			return &reach_drivers[i];
	return NULL;
}

static const struct reach_key *reach_key_find(const struct reach_key *keys, const char *name)
{
	for (; keys && keys->name; keys++)
		if (!strcmp(keys->name, name))
			return keys;
	return NULL;
}

static bool reach_all_of(const char *s, const char *alphabet)
{
	return *s && strspn(s, alphabet) == strlen(s);
}

#define REACH_DRIVER_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"
#define REACH_KEY_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
#define REACH_TOKEN_CHARS REACH_KEY_CHARS ".:"
#define REACH_IFNAME_CHARS REACH_KEY_CHARS "."
#define REACH_GLOB_CHARS REACH_IFNAME_CHARS "*?"

/* The words of a list key (uplink-drivers, uplink-interfaces) */
static char **reach_words(const char *text)
{
	g_auto(GStrv) raw = g_strsplit_set(text ? text : "", " \t", -1);
	g_autoptr(GStrvBuilder) b = g_strv_builder_new();
	char **w;

	for (w = raw; *w; w++)
		if (**w)
			g_strv_builder_add(b, *w);
	return g_strv_builder_end(b);
}

/*
 * reach_parse_drivers() - uplink-drivers as entries
 *
 * Return: the entries (free with reach_entries_free()), NULL on error
 */
static GArray *reach_parse_drivers(const char *text, GError **error)
{
	g_auto(GStrv) words = reach_words(text);
	g_autoptr(GArray) out = g_array_new(FALSE, TRUE, sizeof(struct reach_entry));
	char **w;

	g_array_set_clear_func(out, (GDestroyNotify)reach_entry_clear);
	for (w = words; *w; w++) {
		struct reach_entry e = { 0 };
		const char *colon = strchr(*w, ':');
		guint i;

		e.name = colon ? g_strndup(*w, colon - *w) : g_strdup(*w);
		e.known = reach_driver_find(e.name);
		if (colon)
			e.keys = g_strsplit(colon + 1, ",", -1);
		g_array_append_val(out, e);	/* owns e's strings from here */
		if (!reach_all_of(e.name, REACH_DRIVER_CHARS)) {
			g_set_error(error, VS_CFG_ERROR, 0, "[daemon] uplink-drivers: '%s' is not "
				    "a driver name (lower-case letters, digits, '_')", *w);
			return NULL;
		}
		if (!e.known && !colon) {
			g_set_error(error, VS_CFG_ERROR, 0, "[daemon] uplink-drivers: '%s' is not a "
				    "driver vhost-shim knows the safe keys of (net_tap, net_af_packet, "
				    "net_virtio_user, pci, net_null, net_vhost); list its keys "
				    "yourself as %s:KEY,KEY (values are then plain tokens)", *w, *w);
			return NULL;
		}
		for (i = 0; e.keys && e.keys[i]; i++) {
			/* "DRIVER:" is the driver with no keys at all */
			if (!e.keys[i][0] && !e.keys[1])
				break;
			if (!reach_all_of(e.keys[i], REACH_KEY_CHARS)) {
				g_set_error(error, VS_CFG_ERROR, 0, "[daemon] uplink-drivers: '%s': "
					    "'%s' is not a key name ([A-Za-z0-9_-])", *w, e.keys[i]);
				return NULL;
			}
		}
		for (i = 0; i + 1 < out->len; i++)
			if (!strcmp(g_array_index(out, struct reach_entry, i).name, e.name)) {
				g_set_error(error, VS_CFG_ERROR, 0, "[daemon] uplink-drivers: %s is "
					    "listed twice", e.name);
				return NULL;
			}
	}
	return g_steal_pointer(&out);
}

/* Is @key allowed by @e; its value type in *@type */
static bool reach_entry_key(const struct reach_entry *e, const char *key,
			    const struct reach_key **type)
{
	static const struct reach_key token = { "", REACH_VAL_TOKEN, 0 };
	const struct reach_key *k = e->known ? reach_key_find(e->known->keys, key) : NULL;

	if (e->keys) {
		if (!g_strv_contains((const char *const *)e->keys, key) || !*key)
			return false;
		*type = k ? k : &token;
		return true;
	}
	*type = k;
	return k != NULL;
}

/* The keys @e allows: "iface, mac", or "none" */
static char *reach_entry_keys(const struct reach_entry *e)
{
	g_autoptr(GString) s = g_string_new(NULL);
	const struct reach_key *k;
	size_t i;

	if (e->keys) {
		for (i = 0; e->keys[i]; i++)
			if (*e->keys[i])
				g_string_append_printf(s, "%s%s", s->len ? ", " : "", e->keys[i]);
	} else {
		for (k = e->known->keys; k->name; k++)
			g_string_append_printf(s, "%s%s", s->len ? ", " : "", k->name);
	}
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* "net_tap (iface, mac), pci (none)", or only the names */
static char *reach_entries_describe(GArray *entries, bool keys)
{
	g_autoptr(GString) s = g_string_new(NULL);
	guint i;

	for (i = 0; i < entries->len; i++) {
		const struct reach_entry *e = &g_array_index(entries, struct reach_entry, i);
		g_autofree char *k = keys ? reach_entry_keys(e) : NULL;

		g_string_append_printf(s, "%s%s", i ? ", " : "", e->name);
		if (keys)
			g_string_append_printf(s, " (%s)", k);
	}
	if (!entries->len)
		g_string_append(s, "none");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

char *vs_reach_describe_drivers(const struct vs_cfg *cfg)
{
	g_autoptr(GArray) entries = reach_parse_drivers(cfg->uplink_drivers, NULL);

	return entries ? reach_entries_describe(entries, true)
		       : g_strdup("(invalid uplink-drivers)");
}

/*
 * reach_normalised() - an absolute path with no empty, "." or ".."
 * component and no trailing '/'
 */
static bool reach_normalised(const char *p)
{
	g_auto(GStrv) parts = NULL;
	size_t i;

	if (p[0] != '/' || !p[1])
		return false;
	parts = g_strsplit(p + 1, "/", -1);
	for (i = 0; parts[i]; i++)
		if (!*parts[i] || !strcmp(parts[i], ".") || !strcmp(parts[i], ".."))
			return false;
	return true;
}

/* @p made lexically normal, as far as it can be ("/a//b/./c" -> "/a/b/c") */
static char *reach_normalise(const char *p)
{
	g_auto(GStrv) parts = g_strsplit(p, "/", -1);
	g_autoptr(GPtrArray) keep = g_ptr_array_new();
	GString *s = g_string_new(NULL);
	size_t i;

	for (i = 0; parts[i]; i++) {
		if (!*parts[i] || !strcmp(parts[i], "."))
			continue;
		if (!strcmp(parts[i], "..")) {
			if (keep->len)
				g_ptr_array_remove_index(keep, keep->len - 1);
			continue;
		}
		g_ptr_array_add(keep, parts[i]);
	}
	for (i = 0; i < keep->len; i++)
		g_string_append_printf(s, "/%s", (const char *)g_ptr_array_index(keep, i));
	if (!s->len)
		g_string_append_c(s, '/');
	return g_string_free(s, FALSE);
}

gboolean vs_reach_check_cfg(const struct vs_cfg *cfg, GError **error)
{
	g_autoptr(GArray) entries = NULL;
	g_auto(GStrv) globs = NULL;
	char **g;

	if (!cfg->socket_dir || !reach_normalised(cfg->socket_dir) ||
	    strlen(cfg->socket_dir) > VS_REACH_MAX_PATH - 2) {
		g_set_error(error, VS_CFG_ERROR, 0, "[daemon] socket-dir '%s': an absolute "
			    "directory other than /, without '.', '..', '//' or a trailing '/', "
			    "shorter than %d bytes", cfg->socket_dir ? cfg->socket_dir : "",
			    VS_REACH_MAX_PATH - 1);
		return FALSE;
	}
	entries = reach_parse_drivers(cfg->uplink_drivers, error);
	if (!entries)
		return FALSE;
	globs = reach_words(cfg->uplink_interfaces);
	for (g = globs; *g; g++)
		if (!reach_all_of(*g, REACH_GLOB_CHARS) || strlen(*g) > 64) {
			g_set_error(error, VS_CFG_ERROR, 0, "[daemon] uplink-interfaces: '%s' is not "
				    "a pattern of interface names ([A-Za-z0-9_.-], '*' and '?')", *g);
			return FALSE;
		}
	return TRUE;
}

gboolean vs_reach_check_socket(const struct vs_cfg *cfg, const char *path, bool listen,
			       GError **error)
{
	size_t dlen = strlen(cfg->socket_dir);
	g_autofree char *control = reach_normalise(cfg->control_path ? cfg->control_path : "");
	const char *base;
	struct stat st, cst;

	if (strlen(path) > VS_REACH_MAX_PATH) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is longer than %d bytes", path,
			    VS_REACH_MAX_PATH);
		return FALSE;
	}
	if (strncmp(path, cfg->socket_dir, dlen) || path[dlen] != '/') {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is outside socket-dir %s", path,
			    cfg->socket_dir);
		return FALSE;
	}
	base = path + dlen + 1;
	if (!*base || strchr(base, '/') || !strcmp(base, ".") || !strcmp(base, "..")) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s: must be a file directly in "
			    "socket-dir %s (no subdirectory, '.' or '..')", path, cfg->socket_dir);
		return FALSE;
	}
	if (!strcmp(path, control)) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is the control socket", path);
		return FALSE;
	}
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return TRUE;
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s: %s", path, g_strerror(errno));
		return FALSE;
	}
	if (S_ISLNK(st.st_mode)) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is a symbolic link: refused, it "
			    "could lead outside socket-dir", path);
		return FALSE;
	}
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s exists and is not a socket", path);
		return FALSE;
	}
	/* the same socket under another name (a bind mount, a hard link) */
	if (!stat(control, &cst) && cst.st_dev == st.st_dev && cst.st_ino == st.st_ino) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is the control socket", path);
		return FALSE;
	}
	if (listen && st.st_uid != geteuid()) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s belongs to uid %u, not to this "
			    "daemon (uid %u)", path, (unsigned int)st.st_uid,
			    (unsigned int)geteuid());
		return FALSE;
	}
	return TRUE;
}

static bool reach_is_mac(const char *v)
{
	unsigned int i;

	if (strlen(v) != 17)
		return false;
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? v[i] != ':' : !g_ascii_isxdigit(v[i]))
			return false;
	return true;
}

static bool reach_iface_allowed(const struct vs_cfg *cfg, const char *v)
{
	g_auto(GStrv) globs = reach_words(cfg->uplink_interfaces);
	char **g;

	for (g = globs; *g; g++)
		if (g_pattern_match_simple(*g, v))
			return true;
	return false;
}

/* One key's value against its type; @error says what was expected */
static gboolean reach_check_value(const struct vs_cfg *cfg, const struct reach_key *k,
				  const char *key, const char *v, GError **error)
{
	guint64 n;

	switch (k->type) {
	case REACH_VAL_IFNAME:
		if (!reach_all_of(v, REACH_IFNAME_CHARS) || strlen(v) > VS_REACH_MAX_IFNAME ||
		    !strcmp(v, ".") || !strcmp(v, "..")) {
			g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' is not an interface name "
				    "(1-%d of [A-Za-z0-9_.-])", key, v, VS_REACH_MAX_IFNAME);
			return FALSE;
		}
		if (!reach_iface_allowed(cfg, v)) {
			g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' matches none of "
				    "uplink-interfaces (%s)", key, v, cfg->uplink_interfaces);
			return FALSE;
		}
		return TRUE;
	case REACH_VAL_SOCKET:
		if (!vs_reach_check_socket(cfg, v, false, error)) {
			g_prefix_error(error, "%s: ", key);
			return FALSE;
		}
		return TRUE;
	case REACH_VAL_MAC:
	case REACH_VAL_TAP_MAC:
		if (reach_is_mac(v) || (k->type == REACH_VAL_TAP_MAC && !strcmp(v, "fixed")))
			return TRUE;
		g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' is not a MAC address%s", key, v,
			    k->type == REACH_VAL_TAP_MAC ? " or 'fixed'" : "");
		return FALSE;
	case REACH_VAL_UINT:
		if (strlen(v) <= 10 && reach_all_of(v, "0123456789") &&
		    g_ascii_string_to_unsigned(v, 10, 0, k->max, &n, NULL))
			return TRUE;
		g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' is not an integer in 0..%" G_GUINT64_FORMAT,
			    key, v, k->max);
		return FALSE;
	case REACH_VAL_BOOL:
		if (!strcmp(v, "0") || !strcmp(v, "1"))
			return TRUE;
		g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' is not 0 or 1", key, v);
		return FALSE;
	case REACH_VAL_TOKEN:
		if (reach_all_of(v, REACH_TOKEN_CHARS) && strlen(v) <= VS_REACH_MAX_TOKEN)
			return TRUE;
		g_set_error(error, VS_CFG_ERROR, 0, "%s='%s' is not 1-%d of [A-Za-z0-9_.:-] "
			    "(keys added in uplink-drivers take plain tokens, never paths)", key, v,
			    VS_REACH_MAX_TOKEN);
		return FALSE;
	}
	return FALSE;
}

/* The entry of @entries that device name @dev selects, or NULL */
static const struct reach_entry *reach_match_device(GArray *entries, const char *devargs,
						    const char *dev)
{
	const struct reach_entry *best = NULL;
	struct vs_port_cfg pci = { .uplink = (char *)devargs };	/* read-only use */
	g_autofree char *addr = vs_port_cfg_pci_address(&pci);
	guint i;

	for (i = 0; i < entries->len; i++) {
		const struct reach_entry *e = &g_array_index(entries, struct reach_entry, i);
		size_t n = strlen(e->name);

		if (!strcmp(e->name, "pci")) {
			if (addr)
				return e;
			continue;
		}
		if (strncmp(dev, e->name, n) || (dev[n] && !reach_all_of(dev + n, REACH_KEY_CHARS)))
			continue;
		if (!best || n > strlen(best->name))
			best = e;
	}
	return best;
}

gboolean vs_reach_check_uplink(const struct vs_cfg *cfg, const char *devargs, GError **error)
{
	g_autoptr(GArray) entries = reach_parse_drivers(cfg->uplink_drivers, error);
	g_auto(GStrv) words = NULL;
	const struct reach_entry *e;
	size_t i;

	if (!entries)
		return FALSE;
	if (strlen(devargs) > VS_REACH_MAX_DEVARGS) {
		g_set_error(error, VS_CFG_ERROR, 0, "uplink: longer than %d bytes",
			    VS_REACH_MAX_DEVARGS);
		return FALSE;
	}
	words = g_strsplit(devargs, ",", -1);	/* "" gives no words at all */
	e = words[0] ? reach_match_device(entries, devargs, words[0]) : NULL;
	if (!e || strlen(words[0]) > 63) {
		g_autofree char *allowed = reach_entries_describe(entries, false);

		g_set_error(error, VS_CFG_ERROR, 0, "uplink '%s': device '%s' is not of an "
			    "allowed driver (uplink-drivers: %s)", devargs,
			    words[0] ? words[0] : "", allowed);
		return FALSE;
	}
	for (i = 1; words[i]; i++) {
		const char *eq = strchr(words[i], '=');
		g_autofree char *key = eq ? g_strndup(words[i], eq - words[i]) : g_strdup(words[i]);
		const struct reach_key *k = NULL;
		g_autoptr(GError) err = NULL;

		if (!reach_entry_key(e, key, &k)) {
			g_autofree char *allowed = reach_entry_keys(e);

			g_set_error(error, VS_CFG_ERROR, 0, "uplink '%s': key '%s' is not allowed "
				    "for %s (allowed: %s)", devargs, key, e->name, allowed);
			return FALSE;
		}
		if (!eq || !eq[1]) {
			g_set_error(error, VS_CFG_ERROR, 0, "uplink '%s': key '%s' needs a value",
				    devargs, key);
			return FALSE;
		}
		if (!reach_check_value(cfg, k, key, eq + 1, &err)) {
			g_set_error(error, VS_CFG_ERROR, 0, "uplink '%s': %s", devargs,
				    err->message);
			return FALSE;
		}
	}
	/* a key given twice: DPDK would take one of them, we do not guess which */
	for (i = 1; words[i]; i++) {
		size_t j, n = strcspn(words[i], "=");

		for (j = 1; j < i; j++)
			if (strcspn(words[j], "=") == n && !strncmp(words[i], words[j], n)) {
				g_set_error(error, VS_CFG_ERROR, 0, "uplink '%s': key '%.*s' is given "
					    "twice", devargs, (int)n, words[i]);
				return FALSE;
			}
	}
	return TRUE;
}

gboolean vs_reach_check_port(const struct vs_cfg *cfg, const struct vs_port_cfg *pc,
			     GError **error)
{
	if (!vs_reach_check_socket(cfg, pc->socket_path, !pc->client, error) ||
	    !vs_reach_check_uplink(cfg, pc->uplink, error)) {
		g_prefix_error(error, "port %s: ", pc->name);
		return FALSE;
	}
	return TRUE;
}

/* The daemon's configuration, for vs_reach_clear_stale() */
static const struct vs_cfg *reach_cfg;

void vs_reach_set_cfg(const struct vs_cfg *cfg)
{
	reach_cfg = cfg;
}

gboolean vs_reach_clear_stale(const char *path, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	vs_autoclose int fd = -1;
	struct stat st;

	if (!reach_cfg) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s: no socket-dir configured, "
			    "nothing is removed", path);
		return FALSE;
	}
	if (!vs_reach_check_socket(reach_cfg, path, true, error))
		return FALSE;
	if (lstat(path, &st))
		return TRUE;	/* nothing there (checked: ENOENT) */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket: %s", g_strerror(errno));
		return FALSE;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);	/* <= VS_REACH_MAX_PATH: checked */
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s is in use by a running process",
			    path);
		return FALSE;
	}
	if (errno != ECONNREFUSED) {
		g_set_error(error, VS_CFG_ERROR, 0, "socket %s: %s", path, g_strerror(errno));
		return FALSE;
	}
	if (unlink(path) && errno != ENOENT) {
		g_set_error(error, VS_CFG_ERROR, 0, "cannot remove stale socket %s: %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}
