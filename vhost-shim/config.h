/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config.h - daemon and port configuration
 *
 * Theory of operation: the configuration is read once, from a GKeyFile and
 * the command line (the command line wins), validated completely, and is
 * immutable afterwards.  Ports added at runtime through the control socket
 * go through the same vs_port_cfg_parse_spec()/validation as --port.
 *
 * Nothing here touches EAL, so all of it is unit-tested without DPDK.
 */
#ifndef VS_CONFIG_H
#define VS_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

/* Security consideration: names end up in file names, rte object names
 * (RTE_MEMPOOL_NAMESIZE is 26 with our prefix) and log lines. */
#define VS_NAME_MAX		15
#define VS_MAX_PORTS		64
#define VS_MAX_QUEUES		8
#define VS_DEFAULT_QUEUES	1
#define VS_DEFAULT_IDLE_SLEEP_US 1000
#define VS_MAX_IDLE_SLEEP_US	100000
#define VS_DEFAULT_MEMORY_MB	1024
#define VS_DEFAULT_FILE_PREFIX	"vhost-shim"
#define VS_DEFAULT_CONTROL_PATH	"/run/vhost-shim/control.sock"

enum vs_hugepages_mode {
	VS_HUGEPAGES_AUTO,	/* use them if /proc says some are free */
	VS_HUGEPAGES_YES,
	VS_HUGEPAGES_NO,
};

/**
 * struct vs_port_cfg - one VM port
 * @name:	short unique name, used in logs and the control socket
 * @socket_path: vhost-user unix socket
 * @client:	true: we connect to QEMU (reconnecting); false: QEMU connects
 * @mac:	the VM's MAC address (its own frames are never replayed to it)
 * @uplink:	DPDK devargs of the uplink port, e.g. "net_tap0,iface=t0"
 * @queues:	queue pairs, on the vhost side and on the uplink
 */
struct vs_port_cfg {
	char *name;
	char *socket_path;
	bool client;
	uint8_t mac[6];
	char *uplink;
	unsigned int queues;
};

/**
 * struct vs_cfg - the daemon's configuration
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
	int log_level;		/* enum vs_log_level */
	GPtrArray *ports;	/* of struct vs_port_cfg * */
};

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
