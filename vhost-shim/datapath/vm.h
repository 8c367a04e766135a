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
#include "migration.h"
#include "stats.h"

struct rte_mempool;
struct rte_ring;
struct rte_mbuf;
struct vs_handover;

/**
 * enum vs_dp_mode - what the owning lcore does with frames from the uplink
 * @VS_DP_LIVE:	deliver to the guest (drop as not-ready without a device)
 * @VS_DP_BUFFER: classify, apply the caps, append to vm->held in order
 * @VS_DP_REPLAY: deliver vm->inject, then (once inject_done) vm->held,
 *		then switch itself to LIVE; new frames queue behind in held
 */
enum vs_dp_mode {
	VS_DP_LIVE,
	VS_DP_BUFFER,
	VS_DP_REPLAY,
};

/* Lcore-private accounting of the frames currently in the buffer */
struct vs_dp_buffer_acct {
	uint32_t episode;		/* vm->buf_episode seen last */
	uint64_t pkts[VS_PKT_NUM_CLASSES];	/* accepted this episode, by class */
	uint64_t bytes[VS_PKT_NUM_CLASSES];
};

/*
 * Duplicate filter of the destination, lcore only.  While frames can
 * reach the VM both through the tunnel and live (a switch flooding an
 * unknown MAC to both hosts), every frame delivered is hashed (64 bits over
 * the whole frame) into a 4-way set-associative table; a frame whose hash
 * is there already is a copy.  A full bucket forgets its oldest entry (a
 * copy may then pass); two different frames would need equal 64-bit hashes
 * to be mistaken for each other.
 */
#define VS_DEDUP_SLOTS 16384
struct vs_dp_dedup {
	uint32_t epoch;			/* vm->dedup_epoch seen last */
	uint64_t slot[VS_DEDUP_SLOTS];
};

/* A burst the guest's RX ring did not take yet (replay never drops) */
struct vs_dp_pending {
	struct rte_mbuf *pkts[32];
	uint16_t head, n;
};

/* vhost vring numbering: even = guest RX (our enqueue), odd = guest TX */
#define VS_VRING_RX(q) ((q) * 2)
#define VS_VRING_TX(q) ((q) * 2 + 1)

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
 * @stats:	counters, see stats.h for the writer rules
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

	struct vs_port_stats stats;

	/* Migration and buffering: see handover.h for who writes what */
	struct vs_mig mig;		/* main loop */
	struct vs_buf_policy policy;	/* main loop writes, lcore reads */
	uint32_t dp_mode;		/* enum vs_dp_mode, atomic */
	uint32_t buf_episode;		/* main bumps: lcore restarts its caps */
	bool buf_no_caps;		/* straggler forwarding: ring size only */
	bool inject_done;		/* main: nothing more goes ahead of held */
	bool live_seen;			/* lcore: held a live frame in REPLAY */
	bool replay_finished;		/* lcore: REPLAY -> LIVE done */
	uint32_t announce_req;		/* main bumps: lcore sends a RARP */
	uint32_t announce_done;		/* lcore: requests served */
	uint32_t drain_req;		/* main bumps: lcore empties its RX queues */
	uint32_t drain_done;		/* lcore: requests served, after drain_mark */
	uint32_t drain_mark;		/* lcore: vm->held's producer position then */
	uint32_t held_drop_reason;	/* main: enum vs_drop_reason of its last
					 * drain of vm->held, for frames the lcore
					 * queued behind it (dp_adopt_held()) */
	struct rte_ring *held;		/* lcore enqueues; main or lcore dequeue */
	struct rte_ring *inject;	/* main enqueues; lcore dequeues */
	struct vs_dp_buffer_acct acct;	/* lcore only */
	struct vs_dp_pending pending;	/* lcore only */
	bool dedup_active;		/* main: tunnel and uplink may overlap */
	uint32_t dedup_epoch;		/* main bumps when a new window opens */
	struct vs_dp_dedup *dedup;	/* lcore only (allocated by main) */
	struct vs_handover *ho;		/* main loop only */

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
