/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - daemon and port configuration
 *
 * Theory of operation: the configuration is read once, from a GKeyFile and
 * the command line (the command line wins), validated completely, and is
 * immutable afterwards.  Ports added at runtime through the control socket
 * go through the same validation as --port, and the same check of what
 * they may reach (reach.h: socket-dir, uplink-drivers, uplink-interfaces).
 * Every key, with its type, range, default and field, is one row of the
 * table in config_keys.h; this header has the structs the keys fill in.
 *
 * Nothing here touches EAL, so all of it is unit-tested without DPDK.
 */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "enum.h"
#include "log.h"
#include "pkt.h"

/* Security consideration: names end up in file names, rte object names
 * (RTE_MEMPOOL_NAMESIZE is 26 with our prefix) and log lines. */
#define VS_NAME_MAX		15
#define VS_MAX_PORTS		64
#define VS_MAX_QUEUES		8
#define VS_DEFAULT_QUEUES	1
#define VS_DEFAULT_IDLE_SLEEP_US 2000
#define VS_MAX_IDLE_SLEEP_US	100000
#define VS_DEFAULT_MEMORY_MB	1024
#define VS_MIN_MEMORY_MB	64
#define VS_MAX_MEMORY_MB	(1024 * 1024)
#define VS_DEFAULT_FILE_PREFIX	"vhost-shim"
#define VS_DEFAULT_CONTROL_PATH	"/run/vhost-shim/control.sock"
/* What ports may reach (reach.h): the defaults of [daemon] socket-dir,
 * uplink-drivers and uplink-interfaces */
#define VS_DEFAULT_SOCKET_DIR		"/run/vhost-shim"
#define VS_DEFAULT_UPLINK_DRIVERS	"net_tap net_af_packet net_virtio_user pci"
#define VS_DEFAULT_UPLINK_INTERFACES	"*"
/* Control clients one user may have at once ([daemon] control-clients-per-uid) */
#define VS_DEFAULT_CTL_CLIENTS_PER_UID	16

enum vs_hugepages_mode {
	VS_HUGEPAGES_AUTO,	/* use them if /proc says some are free */
	VS_HUGEPAGES_YES,
	VS_HUGEPAGES_NO,
	VS_HUGEPAGES_NUM_MODES,
};
VS_ENUM_DECL(vs_hugepages_mode, enum vs_hugepages_mode);

/* Buffer defaults: a 2 s blackout at 8000 pps of UDP fits */
#define VS_DEFAULT_UDP_MAX_PKTS		16384
#define VS_DEFAULT_UDP_MAX_BYTES	(24u << 20)
#define VS_DEFAULT_TCP_MAX_PKTS		4096
#define VS_DEFAULT_TCP_MAX_BYTES	(8u << 20)
#define VS_DEFAULT_OTHER_MAX_PKTS	1024
#define VS_DEFAULT_OTHER_MAX_BYTES	(1u << 20)
#define VS_DEFAULT_HOLD_MS		10000
#define VS_DEFAULT_LINGER_MS		2000
#define VS_DEFAULT_REPLAY_HOLD_MS	300
/* Replay pace: percent of the frames' arrival rate (0: off, one burst) */
#define VS_DEFAULT_REPLAY_PACE_PCT	150	/* docs/migration.md: why */
#define VS_MIN_REPLAY_PACE_PCT		110	/* slower never catches up well */
#define VS_MAX_REPLAY_PACE_PCT		10000
#define VS_REPLAY_PACE_FLOOR_PPS	1000	/* before any arrival is seen */
/* The RX ring bound (docs/dev/plan-rx-ring-bound.md): the most entries of a
 * guest RX vring left filled and not reposted; 0 or MIN..MAX (32768:
 * virtio's largest ring).  At 48 a running Linux guest, which keeps up to
 * 32 entries read and not reposted, met it on every other burst of 32
 * (review 59): 64 leaves room for a whole burst.  0 (off) until the e2e
 * figures justify 64 */
#define VS_DEFAULT_RX_RING_BOUND	0
#define VS_MIN_RX_RING_BOUND		64
#define VS_MAX_RX_RING_BOUND		32768
/* Duplicate filter: a tunnelled and a direct frame are copies only if they
 * reached the network within this many ms of each other (docs/migration.md) */
#define VS_DEFAULT_DEDUP_WINDOW_MS	50
#define VS_MAX_DEDUP_WINDOW_MS		10000
/* Per-source barrier: how long the destination holds a source's direct
 * frames at most, waiting for its SOURCE_BARRIER (docs/migration.md "Order
 * per source"); 0 holds nothing */
#define VS_DEFAULT_SOURCE_BARRIER_MS	50
#define VS_MAX_SOURCE_BARRIER_MS	1000
/* Security consideration: caps bound per-VM memory; a frame costs one mbuf */
#define VS_MAX_BUFFER_PKTS		(1u << 20)
#define VS_MAX_BUFFER_BYTES		(1ull << 32)
#define VS_MAX_HOLD_MS			600000

enum vs_pkt_class_policy {
	VS_CLASS_BUFFER,	/* keep in order with the rest */
	VS_CLASS_DROP,		/* drop, counted as "policy" */
	VS_CLASS_NUM_POLICIES,
};
VS_ENUM_DECL(vs_pkt_class_policy, enum vs_pkt_class_policy);

enum vs_overflow_policy {
	VS_OVERFLOW_DROP_NEWEST,	/* tail drop: the buffer keeps the oldest */
	VS_OVERFLOW_DROP_OLDEST,	/* head drop: the buffer keeps the newest */
	VS_OVERFLOW_NUM_POLICIES,
};
VS_ENUM_DECL(vs_overflow_policy, enum vs_overflow_policy);

/* The names of a bool that reads "on"/"off" (buffer=on; "true"/"false" too) */
enum vs_on_off {
	VS_OFF,
	VS_ON,
	VS_ON_OFF_NUM,
};
VS_ENUM_DECL(vs_on_off, enum vs_on_off);

/* A port's vhost-user role, struct vs_port_cfg's "client" */
enum vs_port_mode {
	VS_PORT_MODE_SERVER,	/* QEMU connects to our socket */
	VS_PORT_MODE_CLIENT,	/* we connect to QEMU's, reconnecting */
	VS_PORT_NUM_MODES,
};
VS_ENUM_DECL(vs_port_mode, enum vs_port_mode);

/*
 * A port's announcements after a resume (datapath/learn.h, announce.h):
 * what it learns from the VM's TX and what it sends on the uplink
 */
enum vs_announce_mode {
	VS_ANNOUNCE_ALL,	/* learn; RARP per MAC and VLAN, GARP, NA */
	VS_ANNOUNCE_RARP,	/* one untagged RARP for the configured MAC */
	VS_ANNOUNCE_OFF,	/* nothing (the VM or the network does it) */
	VS_ANNOUNCE_NUM_MODES,
};
VS_ENUM_DECL(vs_announce_mode, enum vs_announce_mode);

/*
 * The virtio-net offloads a port offers the guest (datapath/vhost_port.c,
 * docs/configuration.md "offloads")
 */
enum vs_offloads {
	VS_OFFLOADS_OFF,	/* none: every frame the guest sends is complete */
	VS_OFFLOADS_ON,		/* checksum offload, host TSO, the guest's receive offloads */
	VS_OFFLOADS_DPDK,	/* on + HOST_UFO: what DPDK's vhost PMD offers (its
				 * VMs migrate in); a UFO datagram is dropped */
	VS_OFFLOADS_NUM,
};
VS_ENUM_DECL(vs_offloads, enum vs_offloads);

/*
 * A port's tcp-on-loss: what its VM's TCP peers get when the VM is gone for
 * good (docs/migration.md "Validated TCP resets").  The same values, in the
 * same order, as enum vs_flow_tcp_loss (policy/flow_rules.h)
 */
enum vs_tcp_on_loss {
	VS_TCP_ON_LOSS_DROP,	/* nothing: the peers time out */
	VS_TCP_ON_LOSS_RESET,	/* a RST each peer accepts */
	VS_TCP_ON_LOSS_NUM,
};
VS_ENUM_DECL(vs_tcp_on_loss, enum vs_tcp_on_loss);

/**
 * struct vs_buf_policy - what happens to a VM's frames while it cannot
 * receive them (blackout, pause), per class (UDP, TCP, other)
 * @enabled:	false: drop as not-ready, like a plain vhost backend
 * @max_pkts/@max_bytes: caps per class, indexed by enum vs_pkt_class
 * @class_policy: buffer or drop, per class
 * @overflow:	which frame to drop when a cap is reached
 * @hold_ms:	longest time frames are held before they expire
 * @linger_ms:	how long the source forwards stragglers after the resume
 * @replay_hold_ms: how long the destination holds live frames behind
 *		tunnelled ones that may still be in flight
 * @replay_pace_pct: a replay (and the live frames held behind it) reaches
 *		the guest at this percentage of the rate its frames arrived
 *		at, never slower than VS_REPLAY_PACE_FLOOR_PPS (1..109 count
 *		as VS_MIN_REPLAY_PACE_PCT: slower never catches up); 0: as fast as the
 *		guest's ring takes them
 * @rx_ring_bound: the most entries of each guest RX vring the lcore leaves
 *		filled and not reposted (a stopped guest's ring holds at most
 *		this many at its resume); the rest waits in held, in order;
 *		0: off (the whole ring).  Off with @enabled false
 * @dedup_window_ms: the duplicate filter takes a tunnelled and a direct
 *		frame for copies only if their arrival times (the source's,
 *		estimated in this host's clock, and this host's) are at most
 *		this far apart; 0: regardless of time (tunnelled frames of a
 *		peer that sends no arrival times are always compared so)
 * @source_barrier_ms: the destination holds a source's first direct frames
 *		at most this long, waiting for the source shim's SOURCE_BARRIER
 *		for it (every straggler of that source injected first); 0:
 *		holds nothing (a source's direct frames may then overtake its
 *		last stragglers)
 */
struct vs_buf_policy {
	bool enabled;
	uint32_t max_pkts[VS_PKT_NUM_CLASSES];
	uint64_t max_bytes[VS_PKT_NUM_CLASSES];
	enum vs_pkt_class_policy class_policy[VS_PKT_NUM_CLASSES];
	enum vs_overflow_policy overflow;
	uint32_t hold_ms;
	uint32_t linger_ms;
	uint32_t replay_hold_ms;
	uint32_t replay_pace_pct;
	uint32_t rx_ring_bound;
	uint32_t dedup_window_ms;
	uint32_t source_barrier_ms;
	uint32_t total_max_pkts;	/* 0: the class caps summed */
	uint64_t total_max_bytes;	/* 0: likewise */
};

/**
 * vs_buf_policy_init() - the defaults
 * @p:		policy to fill
 */
void vs_buf_policy_init(struct vs_buf_policy *p);

/**
 * vs_buf_policy_set() - set one key ("buffer", "udp-max-pkts", ...)
 * @p:		policy
 * @key:	key name, as in the config file and the control socket
 * @val:	value as text
 * @error:	set if the key is unknown or the value invalid (the message
 *		starts with the key's name)
 *
 * Return: TRUE on success
 */
gboolean vs_buf_policy_set(struct vs_buf_policy *p, const char *key, const char *val,
			   GError **error);

/**
 * vs_buf_policy_total_pkts() - frames the buffer can hold in all
 * @p:		policy
 *
 * Return: sum of the per-class packet caps of buffered classes
 */
uint32_t vs_buf_policy_total_pkts(const struct vs_buf_policy *p);

/**
 * struct vs_port_cfg - one VM port
 * @name:	short unique name, used in logs and the control socket
 * @socket_path: vhost-user unix socket
 * @client:	true: we connect to QEMU (reconnecting); false: QEMU connects
 *		(enum vs_port_mode names it)
 * @mac:	the VM's MAC address (its own frames are never replayed to it)
 * @uplink:	DPDK devargs of the uplink port, e.g. "net_tap0,iface=t0"
 * @queues:	queue pairs, on the vhost side and on the uplink
 * @mtu:	the largest IP packet it carries, VS_MIN_MTU..VS_MAX_MTU: set on
 *		the uplink, the bound of the guest's frames and of the tunnel's
 *		(vs_port_cfg_max_frame()), and what its mbufs are sized for
 * @vm_uuid:	the UUID of the VM it serves, canonical lower-case text, or
 *		NULL: with [discovery], the shim watches where that VM goes
 * @postcopy:	offer post-copy live migration (RTE_VHOST_USER_POSTCOPY_SUPPORT:
 *		QEMU's postcopy-ram; docs/migration.md, "Post-copy")
 * @offloads:	the offloads it offers the guest (vhost_port.c; the shim
 *		finishes the guest's checksums itself)
 * @tcp_on_loss: what its VM's TCP peers get when the VM is gone for good
 * @policy:	its buffer policy
 *
 * Every pointer here is the field of a key of config_keys.h:
 * vs_port_cfg_copy() and vs_port_cfg_free() go by the table.
 */
struct vs_port_cfg {
	char *name;
	char *socket_path;
	bool client;
	uint8_t mac[6];
	char *uplink;
	unsigned int queues;
	unsigned int mtu;
	char *vm_uuid;
	bool postcopy;
	enum vs_offloads offloads;
	enum vs_announce_mode announce;
	enum vs_tcp_on_loss tcp_on_loss;
	struct vs_buf_policy policy;
};

/*
 * [port] mtu: 68 (the smallest IPv4 MTU, RFC 791) to 9000 (the usual jumbo
 * MTU; with the Ethernet header and a VLAN tag it fits a tunnel FRAME,
 * VS_TUN_MAX_FRAME), default 1500.  QEMU offers a guest the MTU of its
 * host_mtu= (VIRTIO_NET_F_MTU); the port's must be at least that.
 */
#define VS_DEFAULT_MTU		1500
#define VS_MIN_MTU		68
#define VS_MAX_MTU		9000
/* what a frame has beyond its IP packet: an Ethernet header and one VLAN
 * tag (no FCS: vhost and the tunnel carry frames without it) */
#define VS_PORT_FRAME_OVERHEAD	(14 + 4)

/**
 * vs_port_cfg_max_frame() - the largest frame a port carries
 * @pc:		port
 *
 * Return: its MTU plus an Ethernet header and a VLAN tag: the bound of the
 * guest's frames to the uplink and of a tunnelled frame for it
 */
static inline unsigned int vs_port_cfg_max_frame(const struct vs_port_cfg *pc)
{
	return pc->mtu + VS_PORT_FRAME_OVERHEAD;
}

/**
 * struct vs_peer_cfg - another shim this one exchanges VMs with
 * @name:	its node name (what it says in its HELLO)
 * @address:	"host:port" of its tunnel listener
 */
struct vs_peer_cfg {
	char *name;
	char *address;
};

#define VS_MAX_PEERS		32
#define VS_DEFAULT_TUNNEL_PORT	7400
/* [tunnel] keepalive-ms, keepalive-timeout-ms: tunnel.h says why (main.c
 * checks that these are the tunnel's own defaults and limits) */
#define VS_DEFAULT_KEEPALIVE_MS		1000
#define VS_DEFAULT_KEEPALIVE_TIMEOUT_MS	5000
#define VS_MIN_KEEPALIVE_MS		10
#define VS_MAX_KEEPALIVE_MS		600000

/*
 * [migration] expect-timeout-ms: how long a destination armed with
 * migrate-expect waits for its VM.  It must outlast the longest pre-copy
 * (minutes for a large, busy VM), so it is not tied to hold-ms, which bounds
 * a buffer's age: default one hour, at most one day.
 */
#define VS_DEFAULT_EXPECT_TIMEOUT_MS	3600000u
#define VS_MIN_EXPECT_TIMEOUT_MS	1000u
#define VS_MAX_EXPECT_TIMEOUT_MS	86400000u

/*
 * [tunnel] tls: what authenticates the tunnel's TLS 1.3 sessions
 * (docs/configuration.md); every connection is TLS 1.3 either way
 */
enum vs_tls_mode {
	VS_TLS_NONE,		/* the pre-shared key (key-file), with ECDHE */
	VS_TLS_X509,		/* mutual x509 certificates from one CA */
	VS_TLS_NUM_MODES,
};
VS_ENUM_DECL(vs_tls_mode, enum vs_tls_mode);

/* The files of TLS mode; each defaults to a name in [tunnel] tls-dir */
enum vs_tls_file {
	VS_TLS_FILE_CA,		/* tls-ca, default ca-cert.pem */
	VS_TLS_FILE_CERT,	/* tls-cert, default server-cert.pem */
	VS_TLS_FILE_KEY,	/* tls-key, default server-key.pem */
	VS_TLS_FILE_CRL,	/* tls-crl, default ca-crl.pem, if it exists */
	VS_TLS_NUM_FILES,
};

#define VS_DEFAULT_TLS_DIR	"/etc/pki/vhost-shim"

/* [discovery]: the etcd registry (docs/configuration.md "Discovery") */
#define VS_DEFAULT_DISC_PREFIX		"/vhost-shim/"
#define VS_DEFAULT_DISC_TTL_S		10
#define VS_MIN_DISC_TTL_S		2
#define VS_MAX_DISC_TTL_S		3600
#define VS_DEFAULT_DISC_TIMEOUT_MS	2000
#define VS_MIN_DISC_TIMEOUT_MS		100
#define VS_MAX_DISC_TIMEOUT_MS		60000
/* Security consideration: endpoints and prefix end up in URLs and keys */
#define VS_MAX_DISC_ENDPOINTS		8
#define VS_MAX_DISC_PREFIX		64

/* A VM UUID in canonical text: 8-4-4-4-12 hex digits */
#define VS_UUID_LEN		36

/**
 * struct vs_cfg - the daemon's configuration
 *
 * Every pointer but the two lists is the field of a key of config_keys.h:
 * vs_cfg_free() goes by the table.
 */
struct vs_cfg {
	char *file_prefix;
	char *lcores;		/* EAL -l; default "0,1": main + one worker */
	unsigned int memory_mb;
	enum vs_hugepages_mode hugepages;
	char **extra_eal_args;	/* appended verbatim, NULL-terminated */
	bool busy_poll;
	unsigned int idle_sleep_us;
	char *control_path;
	char *control_group;	/* NULL: socket mode 0600 */
	unsigned int control_tcp_port;	/* removed: only 0 is valid (docs/hardening.md) */
	unsigned int control_clients_per_uid;	/* control clients of one user at once */
	char *socket_dir;	/* ports' sockets live directly in it (reach.h) */
	char *uplink_drivers;	/* allow-list of uplink drivers and keys (reach.h) */
	char *uplink_interfaces;	/* glob patterns of interface names (reach.h) */
	enum vs_log_level log_level;
	GPtrArray *ports;	/* of struct vs_port_cfg * */

	/* [tunnel] and [peer NAME] */
	char *node_name;	/* default: the host name */
	char *tunnel_listen;	/* "host:port"; NULL: no tunnel listener */
	char *key_file;		/* pre-shared key; required with a tunnel without x509 */
	bool auto_announce;	/* tell peers which VMs we expect */
	enum vs_tls_mode tls;
	char *tls_dir;		/* VS_DEFAULT_TLS_DIR unless set */
	char *tls_files[VS_TLS_NUM_FILES];	/* NULL: the default name in tls_dir */
	unsigned int keepalive_ms;	/* PING a connection idle this long */
	unsigned int keepalive_timeout_ms;	/* close one silent this long */
	GPtrArray *peers;	/* of struct vs_peer_cfg * */

	/* [discovery]: the etcd registry; off without etcd */
	char *etcd;		/* "URL,URL...": etcd's client URLs; NULL: off */
	char *disc_prefix;	/* keys live under it */
	char *disc_advertise;	/* "IP:port" peers dial; NULL: [tunnel] listen */
	unsigned int disc_ttl_s;	/* lease TTL of our keys */
	unsigned int disc_timeout_ms;	/* one etcd request, at most */
	char *etcd_ca;		/* CA of etcd's server certificate (https) */
	char *etcd_cert;	/* our client certificate for etcd, PEM */
	char *etcd_key;		/* its key */
	/* [migration] */
	unsigned int expect_timeout_ms;	/* an armed destination waits this long */
	/* [policy NAME] and --policy: the flow-policy rules of every port
	 * (flow_set.h); the control socket's policy-add/-del change it */
	struct vs_flow_set *flow_rules;
};

struct vs_flow_set;

#define VS_CFG_ERROR (vs_cfg_error_quark())
GQuark vs_cfg_error_quark(void);

/**
 * vs_cfg_new() - a configuration holding every default
 *
 * Return: new configuration, free with vs_cfg_free()
 */
struct vs_cfg *vs_cfg_new(void);
void vs_cfg_free(struct vs_cfg *cfg);
typedef struct vs_cfg vs_cfg;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_cfg, vs_cfg_free)

/**
 * vs_port_cfg_new() - a port configuration holding every default (no name,
 * socket, MAC or uplink yet)
 *
 * Return: new port configuration, free with vs_port_cfg_free()
 */
struct vs_port_cfg *vs_port_cfg_new(void);

/**
 * vs_port_cfg_copy() - a deep copy
 * @pc:		port configuration
 *
 * Return: new port configuration that shares nothing with @pc
 */
struct vs_port_cfg *vs_port_cfg_copy(const struct vs_port_cfg *pc);

void vs_port_cfg_free(struct vs_port_cfg *pc);
typedef struct vs_port_cfg vs_port_cfg;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_port_cfg, vs_port_cfg_free)

/**
 * vs_cfg_load_keyfile() - merge a GKeyFile's text into @cfg
 * @cfg:	configuration to update
 * @data:	file contents
 * @len:	length of @data
 * @error:	set on failure
 *
 * Return: TRUE on success; on failure @cfg may be partly updated
 */
gboolean vs_cfg_load_keyfile(struct vs_cfg *cfg, const char *data, gsize len,
			     GError **error);

/**
 * vs_port_cfg_parse_spec() - parse "name=..,socket=..,mac=..,uplink=..."
 * @spec:	the specification; uplink= must come last and takes the rest
 *		of the string, since devargs contain commas
 * @error:	set on failure
 *
 * Return: new port configuration, or NULL with @error set
 */
struct vs_port_cfg *vs_port_cfg_parse_spec(const char *spec, GError **error);

/**
 * vs_port_cfg_validate() - check one port's values
 * @pc:		port configuration
 * @error:	set on failure
 *
 * Return: TRUE if valid
 */
gboolean vs_port_cfg_validate(const struct vs_port_cfg *pc, GError **error);

/**
 * vs_cfg_add_port() - validate @pc and take ownership of it
 * @cfg:	configuration
 * @pc:		port, consumed on success and on failure
 * @error:	set on failure (invalid, duplicate name or socket, too many)
 *
 * Return: TRUE on success
 */
gboolean vs_cfg_add_port(struct vs_cfg *cfg, struct vs_port_cfg *pc, GError **error);

/**
 * vs_cfg_add_peer() - add a peer ("name=..,address=host:port" or pieces)
 * @cfg:	configuration
 * @name:	peer node name
 * @address:	host:port
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_cfg_add_peer(struct vs_cfg *cfg, const char *name, const char *address,
			 GError **error);

/**
 * vs_valid_node_name() - 1-63 characters of [A-Za-z0-9._-]
 * @name:	candidate
 *
 * Return: TRUE if valid
 */
gboolean vs_valid_node_name(const char *name);

/**
 * vs_valid_uuid() - canonical UUID text, 8-4-4-4-12 hex digits (either case)
 * @s:		candidate
 *
 * Return: TRUE if valid
 */
gboolean vs_valid_uuid(const char *s);

/**
 * vs_hostport_is_dialable() - "IP:port" or "[v6]:port" with a numeric
 * address that is not a wildcard (what the tunnel can dial)
 * @hostport:	text
 *
 * Return: TRUE if so
 */
gboolean vs_hostport_is_dialable(const char *hostport);

/**
 * vs_cfg_disc_endpoints() - [discovery] etcd as a list of URLs
 * @cfg:	configuration
 *
 * Return: NULL-terminated list (g_strfreev() it), NULL when etcd is unset
 */
char **vs_cfg_disc_endpoints(const struct vs_cfg *cfg);

/**
 * vs_cfg_disc_advertise() - the tunnel address [discovery] publishes:
 * advertise, else [tunnel] listen
 * @cfg:	configuration
 *
 * Return: "IP:port" (static, owned by @cfg), or NULL
 */
const char *vs_cfg_disc_advertise(const struct vs_cfg *cfg);

/**
 * vs_parse_hostport() - split "host:port" or "[v6]:port"
 * @s:		text
 * @host:	output, g_free it
 * @port:	output
 *
 * Return: TRUE if well-formed
 */
gboolean vs_parse_hostport(const char *s, char **host, guint16 *port);

/**
 * vs_cfg_add_policy() - add one flow-policy rule from its one-line form
 * (--policy "name=NAME KEY=VALUE ...", flow_syntax.h)
 * @cfg:	configuration
 * @line:	the rule
 * @error:	set when the rule is invalid or its name is taken
 *
 * Return: TRUE on success
 */
gboolean vs_cfg_add_policy(struct vs_cfg *cfg, const char *line, GError **error);

/**
 * vs_cfg_validate() - check the whole configuration
 * @cfg:	configuration
 * @error:	set on failure
 *
 * Return: TRUE if valid
 */
gboolean vs_cfg_validate(const struct vs_cfg *cfg, GError **error);

/**
 * vs_parse_mac() - parse "aa:bb:cc:dd:ee:ff"
 * @s:		string
 * @mac:	output
 *
 * Return: TRUE if @s is a well-formed unicast MAC address
 */
gboolean vs_parse_mac(const char *s, uint8_t mac[6]);

/**
 * vs_port_cfg_pci_address() - the PCI address an uplink names, if any
 * @pc:		port configuration
 *
 * Return: "DDDD:BB:DD.F" (g_free it), or NULL for a vdev uplink
 */
char *vs_port_cfg_pci_address(const struct vs_port_cfg *pc);

/**
 * vs_cfg_tls_file() - the path of one TLS file: its key if set, else its
 * default name in tls-dir
 * @cfg:	configuration
 * @which:	VS_TLS_FILE_*
 *
 * Return: the path (g_free it)
 */
char *vs_cfg_tls_file(const struct vs_cfg *cfg, enum vs_tls_file which);

/**
 * vs_cfg_tls_crl_optional() - is the CRL the default name in tls-dir,
 * used only when that file exists (as libvirt takes cacrl.pem), rather
 * than a tls-crl that must exist
 * @cfg:	configuration
 *
 * Return: true without tls-crl
 */
bool vs_cfg_tls_crl_optional(const struct vs_cfg *cfg);

/**
 * vs_cfg_build_eal_argv() - EAL arguments for this configuration
 * @cfg:	configuration
 * @argv0:	program name
 * @hugepages_free: free hugepages on this host (for VS_HUGEPAGES_AUTO)
 *
 * Return: NULL-terminated argv, free with g_strfreev()
 */
char **vs_cfg_build_eal_argv(const struct vs_cfg *cfg, const char *argv0,
			     unsigned long hugepages_free);

#endif /* VS_CONFIG_H */
