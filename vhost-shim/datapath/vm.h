/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vm.h - one VM port: vhost-user socket + uplink + counters
 *
 * Theory of operation: struct vs_vm is the unit everything else hangs off.
 * The GLib main loop thread creates and destroys ports (vs_vm_add(),
 * vs_vm_remove(), port.c) and keeps them in the registry
 * (port_registry.c).  The vhost event thread finds them by socket path in
 * its callbacks, under vs_vm_registry_lock, and changes only the fields
 * documented as "vhost thread".  The owning lcore reads the published
 * fields with acquire loads and writes only the dataplane counters.
 *
 * Lifetime: a port is visible to lcores only between vs_dp_publish() and
 * vs_dp_unpublish(); the latter waits (RCU) until no lcore can still hold
 * the pointer, and only then is the port freed.
 */
#ifndef VS_VM_H
#define VS_VM_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "config.h"
#include "dp_handshake.h"
#include "migration.h"
#include "stats.h"

struct rte_mempool;
struct vs_handover;
struct vs_uplink_watch;

/**
 * struct vs_vm - one VM port
 * @cfg:	immutable configuration (owned)
 * @slot:	index in the registry and the dataplane slot array
 * @worker:	index of the dataplane worker that polls this port
 * @eth_port:	DPDK port id of the uplink
 * @pool:	mbufs for this port only: a VM that buffers or floods can
 *		exhaust its own pool, never another VM's
 * @vid:	vhost device id, -1 while no device is ready (vhost thread
 *		writes with release, lcore reads with acquire)
 * @vring_enabled: bitmask of enabled vrings (vhost thread writes)
 * @dev_queues:	queue pairs the guest negotiated, <= cfg->queues
 * @features:	negotiated virtio features (vhost thread writes)
 * @guest_mtu:	the MTU QEMU gave the guest (host_mtu=, VIRTIO_NET_F_MTU
 *		negotiated), 0 if none: vhost thread writes at new_device,
 *		relaxed; query-ports shows it
 * @rx_ring_size: the size of each queue pair's guest RX vring (vhost
 *		thread writes, relaxed, at new_device before vid and at a
 *		vring's enable; 0: not known): the ring the bound of
 *		docs/dev/plan-rx-ring-bound.md is measured against
 * @frontends:	vhost-user connections (QEMU) on the port's socket now: the
 *		vhost thread counts them (new_connection, destroy_connection),
 *		the main loop reads (atomics).  0 in a blackout: the source QEMU
 *		is gone, so the VM will not resume from it
 * @postcopy_offered: the socket was registered with post-copy support
 *		(set before it exists; the vhost thread refuses POSTCOPY_ADVISE
 *		and POSTCOPY_LISTEN on a port without it)
 * @stats:	counters, see stats.h for the writer rules
 * @mig:	the migration state machine (main loop)
 * @policy:	buffering policy (main loop writes, lcore reads)
 * @dp:		the lcore's buffer and its handshake with the main loop
 * @ho:		migration state beyond the state machine (main loop)
 * @uplink_watch: net_tap kernel drop watch (main loop; NULL for others)
 * @vhost_registered, @uplink_open: what vs_vm_remove() must undo (port.c)
 */
struct vs_vm {
	struct vs_port_cfg *cfg;
	unsigned int slot;
	unsigned int worker;
	uint16_t eth_port;
	struct rte_mempool *pool;

	int vid;
	uint32_t vring_enabled;
	unsigned int dev_queues;
	uint64_t features;
	uint16_t guest_mtu;
	uint16_t rx_ring_size[VS_MAX_QUEUES];
	int frontends;
	bool postcopy_offered;

	struct vs_port_stats stats;

	/* Migration and buffering */
	struct vs_mig mig;		/* main loop */
	struct vs_buf_policy policy;	/* main loop writes, lcore reads */
	struct vs_dp_port dp;		/* lcore <-> main loop: dp_handshake.h */
	struct vs_handover *ho;		/* main loop only */

	struct vs_uplink_watch *uplink_watch;	/* main loop */
	bool vhost_registered;
	bool uplink_open;
};

/*
 * The port registry (find, walk, count: port_registry.h) and the port
 * lifecycle (add, remove: port.h), for the users of struct vs_vm
 */
#include "port.h"
#include "port_registry.h"

#endif /* VS_VM_H */
