/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * reach.h - what a port may reach: its socket path and its uplink's devargs
 *
 * Theory of operation: a port names files and devices the daemon then
 * opens with its own privileges (root, or CAP_NET_ADMIN): a vhost-user
 * socket it creates (and removes when stale) or connects to, and a DPDK
 * device string whose driver and keys decide what is opened.  Whoever adds
 * a port (a control client such as the libvirt hook, or the config file)
 * must not reach further than the operator allowed, so both are checked
 * against [daemon] keys before anything is created:
 *
 *   socket-dir		vhost-user sockets, and every socket path in an
 *			uplink's devargs, are files directly in this
 *			directory: no subdirectory, no "." or "..", not a
 *			symbolic link, not the control socket, and if a file
 *			is there already it is a socket (of this daemon's
 *			user, for a socket the daemon itself listens on).
 *   uplink-drivers	the DPDK drivers an uplink may use, each with the
 *			devargs keys that are safe for it (reach.c's table
 *			says why each key is, or is not); a PCI address is
 *			the entry "pci".  An entry DRIVER:KEY,KEY names the
 *			keys itself (for a driver the table does not know,
 *			or to narrow one it knows); the values of keys the
 *			table does not know are plain tokens, never paths.
 *   uplink-interfaces	glob patterns of the interface names an uplink may
 *			name (net_tap's and net_af_packet's iface=).
 *
 * The same checks run for the file's [port NAME] groups and --port
 * (vs_cfg_validate()), and for port-add (control_cmds.c).  The one file
 * the daemon removes for a port, a stale socket at a server port's path,
 * is removed by vs_reach_clear_stale() only, which checks again.
 *
 * Security model: devargs and paths come from control clients.  Do not
 * assume they are well-formed: every key is looked up in the allow-list,
 * every value checked against its type, and anything else is refused with
 * a message naming the port, the value and what is accepted.
 *
 * No EAL: unit-tested (tests/unit/test_config.c) and fuzzed (fuzz_config).
 */
#ifndef VS_REACH_H
#define VS_REACH_H

#include <stdbool.h>

#include <glib.h>

#include "config.h"

/* Security consideration: sun_path holds 107 bytes and a NUL */
#define VS_REACH_MAX_PATH	107
/* An interface name: IFNAMSIZ (16) with its NUL */
#define VS_REACH_MAX_IFNAME	15
/* Longest devargs string (DPDK's own limit is far larger; ours are short) */
#define VS_REACH_MAX_DEVARGS	512
/* Longest value of a key the administrator added (a token, never a path) */
#define VS_REACH_MAX_TOKEN	64

/**
 * vs_reach_check_cfg() - check the [daemon] keys of this module:
 * socket-dir, uplink-drivers and uplink-interfaces
 * @cfg:	configuration
 * @error:	set on failure, naming the key
 *
 * Return: TRUE if valid
 */
gboolean vs_reach_check_cfg(const struct vs_cfg *cfg, GError **error);

/**
 * vs_reach_check_socket() - may a port use this socket path
 * @cfg:	configuration (socket-dir, control-socket)
 * @path:	the path
 * @listen:	the daemon listens there itself (a server port): an existing
 *		file must also belong to the daemon's user
 * @error:	set on failure: why, and what is accepted
 *
 * Return: TRUE if @path is a file directly in socket-dir, not the control
 * socket, and nothing but a socket (not a symbolic link) is there
 */
gboolean vs_reach_check_socket(const struct vs_cfg *cfg, const char *path, bool listen,
			       GError **error);

/**
 * vs_reach_check_uplink() - may a port use these devargs
 * @cfg:	configuration (uplink-drivers, uplink-interfaces, socket-dir)
 * @devargs:	DPDK devargs, "DEVICE[,KEY=VALUE...]"
 * @error:	set on failure: the driver or key refused, and what is allowed
 *
 * Return: TRUE if the device names an allowed driver (or is a PCI address
 * and "pci" is allowed) and every key is allowed for it with a valid value
 */
gboolean vs_reach_check_uplink(const struct vs_cfg *cfg, const char *devargs, GError **error);

/**
 * vs_reach_check_port() - vs_reach_check_socket() and vs_reach_check_uplink()
 * for one port; messages start with "port NAME: "
 * @cfg:	configuration
 * @pc:		the port, valid already (vs_port_cfg_validate())
 * @error:	set on failure
 *
 * Return: TRUE if the port stays within what @cfg allows
 */
gboolean vs_reach_check_port(const struct vs_cfg *cfg, const struct vs_port_cfg *pc,
			     GError **error);

/**
 * vs_reach_set_cfg() - the configuration vs_reach_clear_stale() checks
 * against (the daemon's, set once at startup before any port exists)
 * @cfg:	configuration, must outlive every port; NULL: none (then
 *		nothing is ever removed)
 */
void vs_reach_set_cfg(const struct vs_cfg *cfg);

/**
 * vs_reach_clear_stale() - make room for a server port's socket: remove a
 * stale socket (nobody listens) of the daemon's user at @path
 * @path:	the port's socket path
 * @error:	set if anything else is there (a live socket, another user's,
 *		not a socket) or @path fails vs_reach_check_socket()
 *
 * The only file the daemon ever removes for a port before using its path.
 *
 * Return: TRUE if @path is free now
 */
gboolean vs_reach_clear_stale(const char *path, GError **error);

/**
 * vs_reach_describe_drivers() - the allowed drivers and their keys, for
 * messages and docs: "net_tap (iface, mac), pci (no keys)"
 * @cfg:	configuration
 *
 * Return: new string (g_free it)
 */
char *vs_reach_describe_drivers(const struct vs_cfg *cfg);

#endif /* VS_REACH_H */
