/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uplink.h - the port towards the vswitch: any DPDK ethdev
 *
 * Theory of operation: the uplink is given as DPDK devargs and hot-plugged
 * with rte_dev_probe(), so net_tap (a kernel bridge), net_af_packet (an
 * existing interface or veth), net_virtio_user (an OVS-DPDK vhost-user
 * port) and NIC PMDs (a PCI address) all go through one path.  Each VM port
 * owns its uplink exclusively: queue q of the uplink pairs with queue pair
 * q of the VM.  The mbuf pool is per port too (see vm.h).
 */
#ifndef VS_UPLINK_H
#define VS_UPLINK_H

#include <stdint.h>

#include <gio/gio.h>

struct rte_mempool;
struct vs_uplink_watch;

#define VS_UPLINK_RX_DESC 1024
#define VS_UPLINK_TX_DESC 1024
/* A net_tap uplink's kernel queue (its txqueuelen), see uplink.c */
#define VS_UPLINK_TAP_QLEN 4096

/**
 * vs_uplink_open() - probe, configure and start an uplink
 * @who:	port name, for logs
 * @devargs:	DPDK devargs
 * @queues:	rx/tx queue pairs
 * @pool:	mbuf pool for RX
 * @port_id:	output: the ethdev port id
 * @error:	set on failure; the device is detached again
 *
 * Return: TRUE on success
 */
gboolean vs_uplink_open(const char *who, const char *devargs, unsigned int queues,
			struct rte_mempool *pool, uint16_t *port_id, GError **error);

/**
 * vs_uplink_close() - stop, close and detach an uplink
 * @who:	port name, for logs
 * @port_id:	ethdev port id
 */
void vs_uplink_close(const char *who, uint16_t port_id);

/**
 * vs_uplink_watch_new() - count what the host kernel drops on its way to a
 *	net_tap uplink
 * @who:	port name, for logs
 * @port_id:	ethdev port id
 * @out:	where to publish the count (main loop stores, relaxed; the
 *		lcore adds its growth to uplink-missed)
 *
 * DPDK's net_tap reports no imissed: when the shim's lcore does not read
 * the tap for longer than its kernel queue (txqueuelen frames) lasts, the
 * kernel drops what the bridge sends to it and counts it only as the tap
 * interface's tx_dropped.  That counter also has frames the shim would
 * not have delivered (flooded frames for other MACs), so uplink-missed is
 * an upper bound of the VM's frames lost there.  Read every 100 ms on the
 * main loop (sysfs of the daemon's network namespace), never on the lcore.
 *
 * Return: the watch, or NULL for a driver other than net_tap
 */
struct vs_uplink_watch *vs_uplink_watch_new(const char *who, uint16_t port_id, uint64_t *out);

/** vs_uplink_watch_free() - stop and free a watch (NULL is fine) */
void vs_uplink_watch_free(struct vs_uplink_watch *w);

#endif /* VS_UPLINK_H */
