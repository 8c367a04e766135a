/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * privs.h - which Linux capabilities the daemon needs, and which it has
 *
 * Theory of operation: the daemon does not drop privileges itself.  Ports
 * are added at runtime (port-add on the control socket), and creating an
 * uplink then needs the same capabilities as at startup, so the process
 * keeps, for its whole life, exactly the set the operator grants (systemd
 * User= plus AmbientCapabilities=, see docs/hardening.md).  This module
 * only knows what each uplink driver needs (measured, not guessed: see the
 * table in docs/hardening.md), reads what the process has (capget(2), no
 * libcap), and turns the difference into one readable sentence for the
 * error that a failed uplink probe reports.  No EAL: unit-tested.
 */
#ifndef VS_PRIVS_H
#define VS_PRIVS_H

#include <stdint.h>

#include <glib.h>

/* A capability set: bit n is capability n (CAP_NET_ADMIN = 12, ...) */
typedef uint64_t vs_caps;

/**
 * vs_priv_uplink_caps() - capabilities an uplink driver needs
 * @devargs:	DPDK devargs of the uplink ("net_tap0,iface=x", ...)
 *
 * Return: the set; 0 for drivers that need none (net_virtio_user) and for
 * drivers we have not measured (PCI NICs, other vdevs)
 */
vs_caps vs_priv_uplink_caps(const char *devargs);

/**
 * vs_priv_effective() - the calling thread's effective capabilities
 * @caps:	output
 *
 * Return: TRUE, or FALSE if capget(2) failed (errno set)
 */
gboolean vs_priv_effective(vs_caps *caps);

/**
 * vs_priv_caps_to_string() - "CAP_NET_ADMIN CAP_NET_RAW", or "none"
 * @caps:	the set
 *
 * Return: a newly allocated string
 */
char *vs_priv_caps_to_string(vs_caps caps);

/**
 * vs_priv_uplink_hint() - why an uplink may have failed for lack of a
 * capability
 * @devargs:	DPDK devargs of the uplink
 * @have:	the process's effective capabilities
 *
 * Return: a newly allocated sentence naming the missing capabilities, or
 * NULL if @have holds all the driver needs
 */
char *vs_priv_uplink_hint(const char *devargs, vs_caps have);

/**
 * vs_priv_describe_self() - "uid 999 (vhost-shim), gid 995, capabilities
 * CAP_NET_ADMIN", for the startup log
 *
 * Return: a newly allocated string
 */
char *vs_priv_describe_self(void);

#endif /* VS_PRIVS_H */
