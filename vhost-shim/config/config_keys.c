/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_keys.c - the table of configuration keys and its one reader
 *
 * Theory of operation: see config_keys.h.  vs_cfg_key_set() is the only
 * code that turns a key's text into its field, whatever the text came
 * from (file, --port spec, option, control socket), so a key has one
 * range and one message.  Messages name the setting the way the caller
 * says it ("[daemon] memory-mb", "--memory-mb", "port vm1: queues"),
 * then the value, then what would have been accepted.
 *
 * Each row's field is declared with CFG_FIELD(), which fails the build
 * when the field's size is not the one the key's type writes.
 */
#include <string.h>

#include "config_keys.h"
#include "flow_syntax.h"
#include "vhost-shim/control_wire.h"

VS_ENUM_IMPL(vs_cfg_section, enum vs_cfg_section, VS_CFG_NUM_SECTIONS,
	     [VS_CFG_SECTION_DAEMON] = "daemon",
	     [VS_CFG_SECTION_TUNNEL] = "tunnel",
	     [VS_CFG_SECTION_DISCOVERY] = "discovery",
	     [VS_CFG_SECTION_MIGRATION] = "migration",
	     [VS_CFG_SECTION_PORT] = "port",
	     [VS_CFG_SECTION_POLICY] = "policy");

VS_ENUM_IMPL(vs_hugepages_mode, enum vs_hugepages_mode, VS_HUGEPAGES_NUM_MODES,
	     [VS_HUGEPAGES_AUTO] = "auto",
	     [VS_HUGEPAGES_YES] = "yes",
	     [VS_HUGEPAGES_NO] = "no");

VS_ENUM_IMPL(vs_pkt_class_policy, enum vs_pkt_class_policy, VS_CLASS_NUM_POLICIES,
	     [VS_CLASS_BUFFER] = "buffer",
	     [VS_CLASS_DROP] = "drop");

VS_ENUM_IMPL(vs_overflow_policy, enum vs_overflow_policy, VS_OVERFLOW_NUM_POLICIES,
	     [VS_OVERFLOW_DROP_NEWEST] = "drop-newest",
	     [VS_OVERFLOW_DROP_OLDEST] = "drop-oldest");

/* buffer=true and buffer=false have always been accepted too */
static const char *const cfg_on_off_aliases[] = { "true", "on", "false", "off", NULL };
VS_ENUM_IMPL_EXT(vs_on_off, enum vs_on_off, VS_ON_OFF_NUM, cfg_on_off_aliases, false,
		 [VS_OFF] = "off",
		 [VS_ON] = "on");

VS_ENUM_IMPL(vs_port_mode, enum vs_port_mode, VS_PORT_NUM_MODES,
	     [VS_PORT_MODE_SERVER] = "server",
	     [VS_PORT_MODE_CLIENT] = "client");

VS_ENUM_IMPL(vs_announce_mode, enum vs_announce_mode, VS_ANNOUNCE_NUM_MODES,
	     [VS_ANNOUNCE_ALL] = "all",
	     [VS_ANNOUNCE_RARP] = "rarp",
	     [VS_ANNOUNCE_OFF] = "off");
VS_ENUM_IMPL(vs_offloads, enum vs_offloads, VS_OFFLOADS_NUM,
	     [VS_OFFLOADS_OFF] = "off",
	     [VS_OFFLOADS_ON] = "on",
	     [VS_OFFLOADS_DPDK] = "dpdk");
VS_ENUM_IMPL(vs_tcp_on_loss, enum vs_tcp_on_loss, VS_TCP_ON_LOSS_NUM,
	     [VS_TCP_ON_LOSS_DROP] = "drop",
	     [VS_TCP_ON_LOSS_RESET] = "reset");

VS_ENUM_IMPL(vs_tls_mode, enum vs_tls_mode, VS_TLS_NUM_MODES,
	     [VS_TLS_NONE] = "none",
	     [VS_TLS_X509] = "x509");

/* offsetof(), and a build error if the field is not @size bytes */
#define CFG_FIELD(type, field, size) \
	(offsetof(type, field) + 0 * sizeof(char[sizeof(((type *)0)->field) == (size) ? 1 : -1]))

#define DAEMON(f, sz) .section = VS_CFG_SECTION_DAEMON, .offset = CFG_FIELD(struct vs_cfg, f, sz)
#define TUNNEL(f, sz) .section = VS_CFG_SECTION_TUNNEL, .offset = CFG_FIELD(struct vs_cfg, f, sz)
#define DISC(f, sz) .section = VS_CFG_SECTION_DISCOVERY, .offset = CFG_FIELD(struct vs_cfg, f, sz)
#define MIGRATION(f, sz) .section = VS_CFG_SECTION_MIGRATION, \
	.offset = CFG_FIELD(struct vs_cfg, f, sz)
#define PORT(f, sz) .section = VS_CFG_SECTION_PORT, .offset = CFG_FIELD(struct vs_port_cfg, f, sz)
#define POLICY(f, sz) .section = VS_CFG_SECTION_POLICY, \
	.offset = CFG_FIELD(struct vs_buf_policy, f, sz)

#define T_STR .type = VS_CFG_STR
#define T_PATH .type = VS_CFG_PATH
#define T_UINT(lo, hi) .type = VS_CFG_UINT, .min = (lo), .max = (hi)
#define T_U64(lo, hi) .type = VS_CFG_U64, .min = (lo), .max = (hi)
#define T_BOOL .type = VS_CFG_BOOL
#define T_SWITCH(e) .type = VS_CFG_SWITCH, .values = &e##_enum
#define T_ENUM(e) .type = VS_CFG_ENUM, .values = &e##_enum
#define T_ARGV .type = VS_CFG_ARGV
#define T_MAC .type = VS_CFG_MAC

#define SZ_PTR sizeof(char *)
#define SZ_UINT sizeof(unsigned int)
#define SZ_U64 sizeof(uint64_t)
#define SZ_BOOL sizeof(bool)
#define SZ_ENUM sizeof(int)

/* The keys of one traffic class; @cls is its vs_pkt_class name */
#define POLICY_CLASS(cls, c, pkts, bytes)						\
	{ .name = cls "-max-pkts", POLICY(max_pkts[c], SZ_UINT),			\
	  T_UINT(0, VS_MAX_BUFFER_PKTS), .dflt = (pkts),					\
	  .doc = "Most " cls " frames buffered per episode" },				\
	{ .name = cls "-max-bytes", POLICY(max_bytes[c], SZ_U64),			\
	  T_U64(0, VS_MAX_BUFFER_BYTES), .dflt = (bytes),					\
	  .doc = "Most bytes of " cls " frames buffered per episode" },			\
	{ .name = cls "-policy", POLICY(class_policy[c], SZ_ENUM),			\
	  T_ENUM(vs_pkt_class_policy), .dflt = VS_CLASS_BUFFER,				\
	  .doc = "Buffer " cls " frames, or drop them (counted as policy)" }

const struct vs_cfg_key vs_cfg_keys[] = {
	/* [daemon] */
	{ .name = "file-prefix", DAEMON(file_prefix, SZ_PTR), T_STR,
	  .dflt_str = VS_DEFAULT_FILE_PREFIX, .option = "file-prefix", .arg_name = "P",
	  .doc = "EAL instance prefix; distinct per daemon on one host" },
	{ .name = "lcores", DAEMON(lcores, SZ_PTR), T_STR, .dflt_str = "0,1",
	  .option = "lcores", .short_option = 'l', .arg_name = "LIST",
	  .doc = "EAL lcore list: first is the control lcore, the rest poll" },
	{ .name = "memory-mb", DAEMON(memory_mb, SZ_UINT), T_UINT(VS_MIN_MEMORY_MB, VS_MAX_MEMORY_MB),
	  .dflt = VS_DEFAULT_MEMORY_MB, .option = "memory-mb", .short_option = 'm',
	  .arg_name = "MB", .doc = "DPDK memory in MiB" },
	{ .name = "hugepages", DAEMON(hugepages, SZ_ENUM), T_ENUM(vs_hugepages_mode),
	  .dflt = VS_HUGEPAGES_AUTO, .option = "hugepages", .arg_name = "MODE",
	  .doc = "Hugepages: auto uses them when some are free" },
	{ .name = "eal-args", DAEMON(extra_eal_args, SZ_PTR), T_ARGV,
	  .option = "eal-args", .arg_name = "ARGS",
	  .doc = "Extra EAL arguments, shell-quoted (e.g. \"--single-file-segments\")" },
	{ .name = "busy-poll", DAEMON(busy_poll, SZ_BOOL), T_BOOL, .dflt = false,
	  .option = "busy-poll", .doc = "Never sleep when idle (benchmarks; takes a whole core)" },
	{ .name = "idle-sleep-us", DAEMON(idle_sleep_us, SZ_UINT),
	  T_UINT(0, VS_MAX_IDLE_SLEEP_US), .dflt = VS_DEFAULT_IDLE_SLEEP_US,
	  .option = "idle-sleep-us", .arg_name = "US",
	  .doc = "Longest sleep of an idle worker in microseconds" },
	{ .name = "control-socket", DAEMON(control_path, SZ_PTR), T_STR,
	  .dflt_str = VS_DEFAULT_CONTROL_PATH, .option = "control", .short_option = 's',
	  .arg_name = "PATH", .flags = VS_CFG_KEY_FILENAME, .doc = "Control socket path" },
	{ .name = "control-group", DAEMON(control_group, SZ_PTR), T_STR,
	  .dflt_doc = "root only, mode 0600", .option = "control-group", .arg_name = "GROUP",
	  .doc = "Group allowed to use the control socket (mode 0660)" },
	{ .name = "control-tcp-port", DAEMON(control_tcp_port, SZ_UINT), T_UINT(0, 65535),
	  .dflt = 0, .dflt_doc = "0, off", .option = "control-tcp-port", .arg_name = "PORT",
	  .doc = "Removed (any local user could reach it): only 0 is accepted" },
	{ .name = "control-clients-per-uid", DAEMON(control_clients_per_uid, SZ_UINT),
	  T_UINT(1, VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS),
	  .dflt = VS_DEFAULT_CTL_CLIENTS_PER_UID, .option = "control-clients-per-uid",
	  .arg_name = "N", .doc = "Control clients one user may have at once (root and the "
	  "daemon's user: no cap, and slots kept for them)" },
	{ .name = "socket-dir", DAEMON(socket_dir, SZ_PTR), T_PATH,
	  .dflt_str = VS_DEFAULT_SOCKET_DIR, .option = "socket-dir", .arg_name = "DIR",
	  .flags = VS_CFG_KEY_FILENAME,
	  .doc = "Ports' vhost-user sockets (and uplinks' socket paths) are files in it" },
	{ .name = "uplink-drivers", DAEMON(uplink_drivers, SZ_PTR), T_STR,
	  .dflt_str = VS_DEFAULT_UPLINK_DRIVERS, .option = "uplink-drivers", .arg_name = "LIST",
	  .doc = "Uplink drivers allowed, each with its safe keys (DRIVER or DRIVER:KEY,KEY)" },
	{ .name = "uplink-interfaces", DAEMON(uplink_interfaces, SZ_PTR), T_STR,
	  .dflt_str = VS_DEFAULT_UPLINK_INTERFACES, .option = "uplink-interfaces",
	  .arg_name = "GLOBS", .doc = "Interface names an uplink's iface= may name (globs)" },
	{ .name = "log-level", DAEMON(log_level, SZ_ENUM), T_ENUM(vs_log_level),
	  .dflt = VS_LOG_INFO, .option = "log-level", .arg_name = "LEVEL",
	  .doc = "Log level of every vhost-shim component" },

	/* [tunnel] */
	{ .name = "node-name", TUNNEL(node_name, SZ_PTR), T_STR, .dflt_doc = "host name",
	  .option = "node-name", .short_option = 'n', .arg_name = "NAME",
	  .doc = "This shim's name towards its peers" },
	{ .name = "listen", TUNNEL(tunnel_listen, SZ_PTR), T_STR, .dflt_doc = "no listener",
	  .option = "tunnel-listen", .short_option = 't', .arg_name = "HOST:PORT",
	  .doc = "Accept peer tunnels on HOST:PORT" },
	{ .name = "key-file", TUNNEL(key_file, SZ_PTR), T_STR, .option = "key-file",
	  .short_option = 'k', .arg_name = "FILE", .flags = VS_CFG_KEY_FILENAME,
	  .doc = "Pre-shared key for the tunnel (mode 0600)" },
	{ .name = "auto-announce", TUNNEL(auto_announce, SZ_BOOL), T_BOOL, .dflt = true,
	  .doc = "Tell peers which VMs we expect" },
	{ .name = "tls", TUNNEL(tls, SZ_ENUM), T_ENUM(vs_tls_mode), .dflt = VS_TLS_NONE,
	  .doc = "x509: certificates authenticate the tunnel's TLS 1.3 (none: the key-file)" },
	{ .name = "tls-dir", TUNNEL(tls_dir, SZ_PTR), T_PATH, .dflt_str = VS_DEFAULT_TLS_DIR,
	  .doc = "Directory of ca-cert.pem, server-cert.pem, server-key.pem, ca-crl.pem" },
	{ .name = "tls-ca", TUNNEL(tls_files[VS_TLS_FILE_CA], SZ_PTR), T_PATH,
	  .dflt_doc = "TLS-DIR/ca-cert.pem", .doc = "The CA certificate(s), PEM" },
	{ .name = "tls-cert", TUNNEL(tls_files[VS_TLS_FILE_CERT], SZ_PTR), T_PATH,
	  .dflt_doc = "TLS-DIR/server-cert.pem", .doc = "This host's certificate, PEM" },
	{ .name = "tls-key", TUNNEL(tls_files[VS_TLS_FILE_KEY], SZ_PTR), T_PATH,
	  .dflt_doc = "TLS-DIR/server-key.pem", .doc = "Its private key, PEM" },
	{ .name = "tls-crl", TUNNEL(tls_files[VS_TLS_FILE_CRL], SZ_PTR), T_PATH,
	  .dflt_doc = "TLS-DIR/ca-crl.pem if it exists",
	  .doc = "The CA's certificate revocation list, PEM (re-read on SIGHUP)" },
	{ .name = "keepalive-ms", TUNNEL(keepalive_ms, SZ_UINT),
	  T_UINT(VS_MIN_KEEPALIVE_MS, VS_MAX_KEEPALIVE_MS), .dflt = VS_DEFAULT_KEEPALIVE_MS,
	  .doc = "PING a tunnel connection that received nothing for this long" },
	{ .name = "keepalive-timeout-ms", TUNNEL(keepalive_timeout_ms, SZ_UINT),
	  T_UINT(VS_MIN_KEEPALIVE_MS, VS_MAX_KEEPALIVE_MS),
	  .dflt = VS_DEFAULT_KEEPALIVE_TIMEOUT_MS,
	  .doc = "Close one that received nothing for this long (more than keepalive-ms)" },

	/* [discovery]: the etcd registry (docs/configuration.md "Discovery") */
	{ .name = "etcd", DISC(etcd, SZ_PTR), T_STR, .dflt_doc = "off",
	  .option = "etcd", .arg_name = "URL,...",
	  .doc = "etcd client URLs (http:// or https://), comma-separated: register here" },
	{ .name = "prefix", DISC(disc_prefix, SZ_PTR), T_STR, .dflt_str = VS_DEFAULT_DISC_PREFIX,
	  .doc = "Key prefix of the registry, shared by the cluster" },
	{ .name = "advertise", DISC(disc_advertise, SZ_PTR), T_STR,
	  .dflt_doc = "[tunnel] listen", .doc = "The IP:port of our tunnel that peers dial" },
	{ .name = "ttl", DISC(disc_ttl_s, SZ_UINT), T_UINT(VS_MIN_DISC_TTL_S, VS_MAX_DISC_TTL_S),
	  .dflt = VS_DEFAULT_DISC_TTL_S,
	  .doc = "Lease TTL in seconds: keys of a host that died vanish after this long" },
	{ .name = "timeout-ms", DISC(disc_timeout_ms, SZ_UINT),
	  T_UINT(VS_MIN_DISC_TIMEOUT_MS, VS_MAX_DISC_TIMEOUT_MS),
	  .dflt = VS_DEFAULT_DISC_TIMEOUT_MS, .doc = "Longest wait for one etcd request" },
	{ .name = "etcd-ca", DISC(etcd_ca, SZ_PTR), T_PATH, .dflt_doc = "system CAs",
	  .doc = "CA certificate(s) of etcd's server certificate, PEM (https)" },
	{ .name = "etcd-cert", DISC(etcd_cert, SZ_PTR), T_PATH,
	  .doc = "Our client certificate for etcd (--client-cert-auth), PEM" },
	{ .name = "etcd-key", DISC(etcd_key, SZ_PTR), T_PATH, .doc = "Its private key, PEM" },
	/* [migration] */
	{ .name = "expect-timeout-ms", MIGRATION(expect_timeout_ms, SZ_UINT),
	  T_UINT(VS_MIN_EXPECT_TIMEOUT_MS, VS_MAX_EXPECT_TIMEOUT_MS),
	  .dflt = VS_DEFAULT_EXPECT_TIMEOUT_MS,
	  .doc = "How long an armed destination waits for its VM (the whole pre-copy)" },

	/* [port NAME] and --port */
	{ .name = "name", PORT(name, SZ_PTR), T_STR, .flags = VS_CFG_KEY_SPEC_ONLY,
	  .doc = "1-15 characters of [A-Za-z0-9_-]" },
	{ .name = "socket", PORT(socket_path, SZ_PTR), T_STR,
	  .doc = "vhost-user socket, an absolute path" },
	{ .name = "mode", PORT(client, SZ_BOOL), T_SWITCH(vs_port_mode), .dflt = false,
	  .doc = "server: QEMU connects; client: we connect, reconnecting" },
	{ .name = "mac", PORT(mac, 6), T_MAC, .doc = "The VM's unicast MAC" },
	{ .name = "uplink", PORT(uplink, SZ_PTR), T_STR, .doc = "DPDK devargs of the uplink" },
	{ .name = "queues", PORT(queues, SZ_UINT), T_UINT(1, VS_MAX_QUEUES),
	  .dflt = VS_DEFAULT_QUEUES, .doc = "Queue pairs" },
	{ .name = "mtu", PORT(mtu, SZ_UINT), T_UINT(VS_MIN_MTU, VS_MAX_MTU),
	  .dflt = VS_DEFAULT_MTU,
	  .doc = "MTU of the uplink and the guest (QEMU's host_mtu): frames up to it plus "
		 "18 bytes are carried, larger ones dropped as oversize" },
	{ .name = "vm-uuid", PORT(vm_uuid, SZ_PTR), T_STR,
	  .doc = "UUID of the VM it serves: [discovery] watches where it goes" },
	{ .name = "postcopy", PORT(postcopy, SZ_BOOL), T_SWITCH(vs_on_off), .dflt = true,
	  .doc = "Offer post-copy migration to QEMU (userfaultfd; needs CAP_SYS_PTRACE "
		 "when vm.unprivileged_userfaultfd is 0, else not offered); see "
		 "migration.md, Post-copy" },
	{ .name = "offloads", PORT(offloads, SZ_ENUM), T_ENUM(vs_offloads),
	  .dflt = VS_OFFLOADS_ON,
	  .doc = "on: checksum offload (the shim finishes the guest's TCP/UDP checksums) and "
		 "the guest's receive offloads; dpdk: also HOST_UFO, as DPDK's vhost PMD offers "
		 "(its VMs can migrate in; a UFO datagram is dropped); off: none" },
	{ .name = "announce", PORT(announce, SZ_ENUM), T_ENUM(vs_announce_mode),
	  .dflt = VS_ANNOUNCE_RARP,
	  .doc = "After a resume: all (RARP per learned MAC and VLAN, gratuitous ARP, "
		 "IPv6 NA), rarp (the configured MAC only) or off" },
	{ .name = "tcp-on-loss", PORT(tcp_on_loss, SZ_ENUM), T_ENUM(vs_tcp_on_loss),
	  .dflt = VS_TCP_ON_LOSS_DROP,
	  .doc = "reset: RST the VM's TCP peers when it is gone for good (hold-ms expired, "
		 "reset-flows); drop: let them time out" },

	/* The buffer policy: [port NAME], --port and set-buffer-policy */
	{ .name = "buffer", POLICY(enabled, SZ_BOOL), T_SWITCH(vs_on_off), .dflt = true,
	  .doc = "off: drop as not-ready, like a plain vhost backend" },
	POLICY_CLASS("udp", VS_PKT_UDP, VS_DEFAULT_UDP_MAX_PKTS, VS_DEFAULT_UDP_MAX_BYTES),
	POLICY_CLASS("tcp", VS_PKT_TCP, VS_DEFAULT_TCP_MAX_PKTS, VS_DEFAULT_TCP_MAX_BYTES),
	POLICY_CLASS("other", VS_PKT_OTHER, VS_DEFAULT_OTHER_MAX_PKTS,
		     VS_DEFAULT_OTHER_MAX_BYTES),
	{ .name = "overflow", POLICY(overflow, SZ_ENUM), T_ENUM(vs_overflow_policy),
	  .dflt = VS_OVERFLOW_DROP_NEWEST, .doc = "Which frame to drop when a cap is reached" },
	{ .name = "hold-ms", POLICY(hold_ms, SZ_UINT), T_UINT(1, VS_MAX_HOLD_MS),
	  .dflt = VS_DEFAULT_HOLD_MS, .doc = "Longest a buffer is held before it expires" },
	{ .name = "linger-ms", POLICY(linger_ms, SZ_UINT), T_UINT(0, VS_MAX_HOLD_MS),
	  .dflt = VS_DEFAULT_LINGER_MS,
	  .doc = "How long the source forwards stragglers after the resume" },
	{ .name = "replay-hold-ms", POLICY(replay_hold_ms, SZ_UINT), T_UINT(0, VS_MAX_HOLD_MS),
	  .dflt = VS_DEFAULT_REPLAY_HOLD_MS,
	  .doc = "How long the destination holds live frames behind tunnelled ones" },
	{ .name = "replay-pace-pct", POLICY(replay_pace_pct, SZ_UINT),
	  T_UINT(0, VS_MAX_REPLAY_PACE_PCT), .dflt = VS_DEFAULT_REPLAY_PACE_PCT,
	  .doc = "Pace of a replay, in percent of its frames' arrival rate (0: off; "
		 "below 110 counts as 110)" },
	{ .name = "rx-ring-bound", POLICY(rx_ring_bound, SZ_UINT),
	  T_UINT(VS_MIN_RX_RING_BOUND, VS_MAX_RX_RING_BOUND), .flags = VS_CFG_KEY_ZERO_OFF,
	  .dflt = VS_DEFAULT_RX_RING_BOUND,
	  .doc = "Most entries of a guest RX ring the shim leaves filled and not reposted; "
		 "the rest waits in order in the buffer (0: off, the whole ring)" },
	{ .name = "dedup-window-ms", POLICY(dedup_window_ms, SZ_UINT),
	  T_UINT(0, VS_MAX_DEDUP_WINDOW_MS), .dflt = VS_DEFAULT_DEDUP_WINDOW_MS,
	  .doc = "A tunnelled and a direct frame are copies only if they reached the network "
		 "this close in time (0: regardless of time)" },
	{ .name = "source-barrier-ms", POLICY(source_barrier_ms, SZ_UINT),
	  T_UINT(0, VS_MAX_SOURCE_BARRIER_MS), .dflt = VS_DEFAULT_SOURCE_BARRIER_MS,
	  .doc = "Longest the destination holds a source's direct frames waiting for its "
		 "SOURCE_BARRIER (0: holds nothing)" },
	{ .name = "total-max-pkts", POLICY(total_max_pkts, SZ_UINT),
	  T_UINT(0, VS_FLOW_MAX_TOTAL_PKTS), .dflt = 0, .dflt_doc = "the class caps summed",
	  .doc = "With [policy] rules: most frames buffered per episode, all rules together "
		 "(0: the class caps summed)" },
	{ .name = "total-max-bytes", POLICY(total_max_bytes, SZ_U64),
	  T_U64(0, VS_FLOW_MAX_TOTAL_BYTES), .dflt = 0, .dflt_doc = "the class caps summed",
	  .doc = "With [policy] rules: most bytes buffered per episode, all rules together "
		 "(0: the class caps summed)" },
};

const unsigned int vs_cfg_num_keys = G_N_ELEMENTS(vs_cfg_keys);

/* The enum fields the table writes as int */
static_assert(sizeof(enum vs_hugepages_mode) == sizeof(int) &&
	      sizeof(enum vs_log_level) == sizeof(int) &&
	      sizeof(enum vs_tls_mode) == sizeof(int) &&
	      sizeof(enum vs_announce_mode) == sizeof(int) &&
	      sizeof(enum vs_offloads) == sizeof(int) &&
	      sizeof(enum vs_pkt_class_policy) == sizeof(int) &&
	      sizeof(enum vs_overflow_policy) == sizeof(int) &&
	      sizeof(enum vs_tcp_on_loss) == sizeof(int), "enum fields are int-sized");

const struct vs_cfg_key *vs_cfg_key_find(enum vs_cfg_section section, const char *name)
{
	unsigned int i;

	for (i = 0; name && i < vs_cfg_num_keys; i++)
		if (vs_cfg_keys[i].section == section && !strcmp(vs_cfg_keys[i].name, name))
			return &vs_cfg_keys[i];
	return NULL;
}

static void *cfg_field(const struct vs_cfg_key *k, void *base)
{
	return (char *)base + k->offset;
}

/* GKeyFile's booleans: "true", "false", "1", "0" */
static int cfg_parse_bool(const char *s)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "false") || !strcmp(s, "0"))
		return 0;
	return -1;
}

/* The accepted values in prose (@help false: "a, b or c") or as --help
 * shows them (@help true: "a|b|c") */
static char *cfg_key_values(const struct vs_cfg_key *k, bool help)
{
	switch (k->type) {
	case VS_CFG_STR:
		return g_strdup("text");
	case VS_CFG_PATH:
		return g_strdup("an absolute path");
	case VS_CFG_UINT:
	case VS_CFG_U64:
		if (k->flags & VS_CFG_KEY_ZERO_OFF)
			return g_strdup_printf("0%s%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
					       help ? "|" : " or ", k->min, k->max);
		return g_strdup_printf("%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, k->min,
				       k->max);
	case VS_CFG_BOOL:
		return g_strdup(help ? "true|false" : "true or false");
	case VS_CFG_SWITCH:
	case VS_CFG_ENUM:
		return help ? vs_enum_describe(k->values, "|", "|")
			    : vs_enum_describe(k->values, ", ", " or ");
	case VS_CFG_ARGV:
		return g_strdup("shell-quoted words");
	case VS_CFG_MAC:
		return g_strdup("a unicast MAC address");
	case VS_CFG_NUM_TYPES:
		break;
	}
	return g_strdup("?");
}

char *vs_cfg_key_describe(const struct vs_cfg_key *k)
{
	return cfg_key_values(k, true);
}

char *vs_cfg_key_default_text(const struct vs_cfg_key *k)
{
	if (k->dflt_doc)
		return g_strdup(k->dflt_doc);
	switch (k->type) {
	case VS_CFG_STR:
	case VS_CFG_PATH:
		return g_strdup(k->dflt_str ? k->dflt_str : "none");
	case VS_CFG_UINT:
	case VS_CFG_U64:
		return g_strdup_printf("%" G_GUINT64_FORMAT, k->dflt);
	case VS_CFG_BOOL:
		return g_strdup(k->dflt ? "true" : "false");
	case VS_CFG_SWITCH:
	case VS_CFG_ENUM:
		return g_strdup(vs_enum_to_string(k->values, (int)k->dflt));
	case VS_CFG_ARGV:
	case VS_CFG_MAC:
	case VS_CFG_NUM_TYPES:
		break;
	}
	return g_strdup("none");
}

gboolean vs_cfg_key_set(const struct vs_cfg_key *k, void *base, const char *what,
			const char *text, GError **error)
{
	void *field = cfg_field(k, base);
	guint64 v = 0, lo;
	int e;

	switch (k->type) {
	case VS_CFG_PATH:
		if (text[0] != '/')
			break;
		/* fall through */
	case VS_CFG_STR:
		g_free(*(char **)field);
		*(char **)field = g_strdup(text);
		return TRUE;
	case VS_CFG_UINT:
	case VS_CFG_U64:
		/* VS_CFG_KEY_ZERO_OFF: 0, or min..max */
		lo = (k->flags & VS_CFG_KEY_ZERO_OFF) ? 0 : k->min;
		if (!g_ascii_string_to_unsigned(text, 10, lo, k->max, &v, NULL) || (v && v < k->min))
			break;
		if (k->type == VS_CFG_UINT)
			*(unsigned int *)field = (unsigned int)v;
		else
			*(uint64_t *)field = v;
		return TRUE;
	case VS_CFG_BOOL:
		e = cfg_parse_bool(text);
		if (e < 0)
			break;
		*(bool *)field = e;
		return TRUE;
	case VS_CFG_SWITCH:
	case VS_CFG_ENUM:
		e = vs_enum_from_string(k->values, text);
		if (e < 0)
			break;
		if (k->type == VS_CFG_SWITCH)
			*(bool *)field = e;
		else
			*(int *)field = e;
		return TRUE;
	case VS_CFG_ARGV: {
		char **words = NULL;

		/* "" is no words, which g_shell_parse_argv() calls an error */
		if (text[0] && !g_shell_parse_argv(text, NULL, &words, NULL))
			break;
		g_strfreev(*(char ***)field);
		*(char ***)field = words;
		return TRUE;
	}
	case VS_CFG_MAC: {
		uint8_t mac[6];

		if (!vs_parse_mac(text, mac))
			break;
		memcpy(field, mac, sizeof(mac));
		return TRUE;
	}
	case VS_CFG_NUM_TYPES:
		break;
	}
	if (k->type == VS_CFG_ARGV) {
		g_set_error(error, VS_CFG_ERROR, 0, "%s: '%s' cannot be split into words", what,
			    text);
	} else {
		g_autofree char *accepted = cfg_key_values(k, false);
		const char *prefix = "";

		if ((k->type == VS_CFG_UINT || k->type == VS_CFG_U64) &&
		    !(k->flags & VS_CFG_KEY_ZERO_OFF))
			prefix = "an integer in ";
		g_set_error(error, VS_CFG_ERROR, 0, "%s: '%s' is not %s%s", what, text, prefix,
			    accepted);
	}
	return FALSE;
}

void vs_cfg_section_init(enum vs_cfg_section section, void *base)
{
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		void *field = cfg_field(k, base);

		if (k->section != section)
			continue;
		switch (k->type) {
		case VS_CFG_STR:
		case VS_CFG_PATH:
			*(char **)field = g_strdup(k->dflt_str);
			break;
		case VS_CFG_UINT:
			*(unsigned int *)field = (unsigned int)k->dflt;
			break;
		case VS_CFG_U64:
			*(uint64_t *)field = k->dflt;
			break;
		case VS_CFG_BOOL:
		case VS_CFG_SWITCH:
			*(bool *)field = k->dflt;
			break;
		case VS_CFG_ENUM:
			*(int *)field = (int)k->dflt;
			break;
		case VS_CFG_ARGV:
			*(char ***)field = NULL;
			break;
		case VS_CFG_MAC:
			memset(field, 0, 6);
			break;
		case VS_CFG_NUM_TYPES:
			break;
		}
	}
}

/* Free (@dup false) or copy (@dup true) the pointers of @section's keys */
static void cfg_section_pointers(enum vs_cfg_section section, void *base, bool dup)
{
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		void *field = cfg_field(k, base);

		if (k->section != section)
			continue;
		if (k->type == VS_CFG_STR || k->type == VS_CFG_PATH) {
			char **s = field;

			if (dup)
				*s = g_strdup(*s);
			else
				g_clear_pointer(s, g_free);
		} else if (k->type == VS_CFG_ARGV) {
			char ***v = field;

			if (dup)
				*v = g_strdupv(*v);
			else
				g_clear_pointer(v, g_strfreev);
		}
	}
}

void vs_cfg_section_clear(enum vs_cfg_section section, void *base)
{
	cfg_section_pointers(section, base, false);
}

void vs_cfg_section_dup(enum vs_cfg_section section, void *base)
{
	cfg_section_pointers(section, base, true);
}

uint64_t vs_cfg_key_get_number(const struct vs_cfg_key *k, const void *base)
{
	const void *field = (const char *)base + k->offset;

	switch (k->type) {
	case VS_CFG_UINT:
		return *(const unsigned int *)field;
	case VS_CFG_U64:
		return *(const uint64_t *)field;
	case VS_CFG_BOOL:
	case VS_CFG_SWITCH:
		return *(const bool *)field;
	case VS_CFG_ENUM:
		return (uint64_t)*(const int *)field;
	case VS_CFG_STR:
	case VS_CFG_PATH:
	case VS_CFG_ARGV:
	case VS_CFG_MAC:
	case VS_CFG_NUM_TYPES:
		break;
	}
	return 0;
}

const char *vs_cfg_key_get_name(const struct vs_cfg_key *k, const void *base)
{
	return vs_enum_to_string(k->values, (int)vs_cfg_key_get_number(k, base));
}

gboolean vs_port_cfg_set(struct vs_port_cfg *pc, const char *key, const char *val,
			 GError **error)
{
	const struct vs_cfg_key *k = vs_cfg_key_find(VS_CFG_SECTION_PORT, key);
	void *base = pc;
	g_autofree char *what = g_strdup_printf("port %s: %s", pc->name ? pc->name : "?", key);

	if (!k) {
		k = vs_cfg_key_find(VS_CFG_SECTION_POLICY, key);
		base = &pc->policy;
	}
	if (!k) {
		g_set_error(error, VS_CFG_ERROR, 0, "%s: unknown key", what);
		return FALSE;
	}
	return vs_cfg_key_set(k, base, what, val, error);
}
