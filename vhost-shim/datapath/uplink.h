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
 * vs_uplink_rx_depth() - (uplink_depth.c) an upper bound of the frames an uplink RX queue
 * holds, the source's drain's (dataplane.c: a queue that gave this many
 * frames since a ticket has given every frame that waited in it then)
 * @driver:	the PMD's name (rte_eth_dev_info's driver_name), or NULL
 * @txqueuelen:	net_tap: the tap's txqueuelen read at the ticket, <= 0 if
 *		unknown (VS_UPLINK_TAP_QLEN, what the shim set, then)
 * @nb_desc:	the queue's descriptors (rte_eth_rx_queue_info_get()), 0 if
 *		unknown (VS_UPLINK_RX_DESC, what the shim asked for, then)
 * @count_rc:	rte_eth_rx_queue_count() of the queue: its filled
 *		descriptors, or -errno (-ENOTSUP: the PMD does not count)
 *
 * net_tap: the kernel's queue of the tap, each queue of a multi-queue tap
 * txqueuelen long (the PMD has no ring of its own); a PMD that counts: the
 * count; any other: its descriptors.  Pure: no device is touched.
 *
 * Return: frames, >= 0
 */
uint32_t vs_uplink_rx_depth(const char *driver, int txqueuelen, uint16_t nb_desc, int count_rc);

/**
 * vs_uplink_rx_table() - what vs_uplink_rx_depth() needs of an uplink that
 * does not change while it is open (main loop, right after vs_uplink_open(),
 * before the port is published)
 * @port_id:	ethdev port id
 * @queues:	RX queues (at most VS_MAX_QUEUES)
 * @driver:	output: the PMD's name (a string of the driver's: it lives
 *		as long as the port), NULL if unknown
 * @nb_desc:	output, @queues entries: each queue's descriptors, 0 if the
 *		PMD does not say
 */
void vs_uplink_rx_table(uint16_t port_id, unsigned int queues, const char **driver,
			uint16_t *nb_desc);

/**
 * vs_uplink_tap_qlen() - a net_tap uplink's txqueuelen now (SIOCGIFTXQLEN;
 * main loop: an ioctl, one per drain ticket)
 * @port_id:	ethdev port id
 * @driver:	its PMD's name (vs_uplink_rx_table()), NULL if unknown
 *
 * Return: the queue's length, or -1 for another driver or if it cannot be
 * read
 */
int vs_uplink_tap_qlen(uint16_t port_id, const char *driver);

/**
 * vs_uplink_open() - probe, configure and start an uplink
 * @who:	port name, for logs
 * @devargs:	DPDK devargs
 * @queues:	rx/tx queue pairs
 * @mtu:	the port's MTU (rxmode.mtu; net_tap over 1504: set on its
 *		interface, uplink.c)
 * @pool:	mbuf pool for RX, its data room sized for @mtu
 * @port_id:	output: the ethdev port id
 * @error:	set on failure; the device is detached again
 *
 * Return: TRUE on success
 */
gboolean vs_uplink_open(const char *who, const char *devargs, unsigned int queues,
			unsigned int mtu, struct rte_mempool *pool, uint16_t *port_id,
			GError **error);

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
