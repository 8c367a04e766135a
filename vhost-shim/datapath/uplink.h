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

#define VS_UPLINK_RX_DESC 1024
#define VS_UPLINK_TX_DESC 1024

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

#endif /* VS_UPLINK_H */
