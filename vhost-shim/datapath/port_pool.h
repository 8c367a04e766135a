/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port_pool.h - the size of a port's mbufs
 *
 * Theory of operation: a port's mempool (port.c) holds mbufs that each
 * take a whole frame of the port, so every path that carries a frame (the
 * guest's, the uplink's, the tunnel's and the replay's) stays single
 * segment.  Kept out of port.h, which the EAL-free layers include through
 * vm.h: this needs DPDK's headers.
 */
#ifndef VS_PORT_POOL_H
#define VS_PORT_POOL_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf_core.h>

#include "config.h"

/**
 * vs_port_mbuf_data_room() - the data room of a port's mbufs
 * @pc:		port
 *
 * Every frame the port carries fits one mbuf (single segment): the
 * guest's (vhost dequeue), the uplink's (net_tap reads a frame into one
 * mbuf unless the queue scatters), and a replayed one (the inject path
 * appends it to one mbuf).  Up to a 1500-byte MTU that is DPDK's default
 * (RTE_MBUF_DEFAULT_BUF_SIZE, 2 KiB of data); above, the headroom plus
 * the port's largest frame (vs_port_cfg_max_frame()).
 *
 * Return: the data room for rte_pktmbuf_pool_create(), headroom included
 */
static inline uint16_t vs_port_mbuf_data_room(const struct vs_port_cfg *pc)
{
	return (uint16_t)(RTE_PKTMBUF_HEADROOM +
			  RTE_MAX(vs_port_cfg_max_frame(pc), (unsigned int)RTE_MBUF_DEFAULT_DATAROOM));
}

#endif /* VS_PORT_POOL_H */
