/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_postcopy.h - a post-copy device's guard, as DPDK's vhost sees it
 *
 * Theory of operation: postcopy_guard.h says what the guard checks and
 * why.  This file ties it to a vhost device: the port's message hook
 * marks the vid listening once DPDK accepted POSTCOPY_LISTEN (its
 * post-handler, vhost_port.c), new_device
 * then builds the device's guard from DPDK's memory table (before the
 * lcores see the vid), POSTCOPY_END switches it off, and destroy_device
 * frees it after the lcores quiesced.  The lcore's hooks take a vid (the
 * dataplane's ops do) and cost one load when no guard is on.
 *
 * Lcore hooks, before DPDK touches the guest:
 *  - vs_dp_pcg_rx_allow(): how many of the frames the RX enqueue may be
 *    offered (0: hold them, as behind a full ring);
 *  - vs_dp_pcg_tx_allow(): how many chains the TX dequeue may take;
 *  - vs_dp_pcg_ring_ok(): may the ring's indices be read (the RX ring
 *    bound's reads).
 * The guard's counters go to the port's stats: `postcopy-waits` (an RX
 * check that offered fewer frames than it was asked, a TX check that
 * allowed fewer chains than were available, or found the ring itself
 * missing) and `postcopy-page-requests`.
 *
 * A TX check that allows nothing skips the dequeue, and with it the RARP
 * DPDK injects there after QEMU's SEND_RARP (a guest without
 * GUEST_ANNOUNCE): it goes out with the first chain that is ready, or at
 * POSTCOPY_END; the shim's own announcements (announce.h) do not wait.
 */
#ifndef VS_DP_POSTCOPY_H
#define VS_DP_POSTCOPY_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mbuf;
struct vs_vm;

/* new_device, before vid is published: a guard if the port listens */
void vs_dp_pcg_device_up(struct vs_vm *vm, int vid);
/* destroy_device, after the lcores quiesced */
void vs_dp_pcg_device_down(int vid);
/* DPDK accepted POSTCOPY_LISTEN on @vid (true); the connection ended or
 * was reused (false): a device that comes up while listening is guarded */
void vs_dp_pcg_listening(int vid, bool listening);
/* POSTCOPY_END: every page is here, the guard steps aside */
void vs_dp_pcg_end(int vid);
/* the vhost thread: is vring @vring resident (true without a guard) */
bool vs_dp_pcg_vring_resident_now(int vid, uint16_t vring);
/* new_device: turn the guest's notifications off for @vring once its
 * ring is resident (the lcore does it) */
void vs_dp_pcg_defer_notify_off(int vid, uint16_t vring);

uint16_t vs_dp_pcg_rx_allow(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n);
uint16_t vs_dp_pcg_tx_allow(int vid, uint16_t vring, uint16_t n);
bool vs_dp_pcg_ring_ok(int vid, uint16_t vring);

#endif /* VS_DP_POSTCOPY_H */
