/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_tcp.h - a port's TCP connection table on its lcore, and the
 * validated resets the main loop asks for when the VM is gone for good
 *
 * Theory of operation: the lcore that owns a port sees both directions of
 * every TCP connection of its VM: the guest's TX on its way to the uplink
 * and the uplink's RX on its way to the guest (whatever the mode: live,
 * buffered or dropped, the segment says what the peer sent).  It records
 * each segment in the port's connection table (policy/tcp_ct.h: bounded,
 * aged, one owner, no allocation), tagged with the port's tcp-on-loss.
 *
 * When the VM is gone for good (handover.c: its held frames expired after
 * hold-ms; control: reset-flows), the main loop asks for a reset with
 * vs_dp_tcp_reset(): one counter, @reset_req, that it increments (release)
 * and the lcore compares with its private @reset_done, as the announce
 * does (dp_handshake.h).  No lock, no ring: the table is the lcore's alone.
 * The lcore then walks the table, for the connections whose tcp-on-loss is
 * reset, and sends each peer on the uplink (queue 0) what vs_tcp_ct_plan()
 * says:
 *  - a RST whose sequence number is the peer's latest acknowledgement
 *    (counted: resets-sent), after which the connection counts as closed;
 *  - or, where the peer's acknowledgement is not known or does not cover
 *    what the VM sent, an out-of-window ACK (counted: challenges-sent)
 *    that draws the peer's duplicate ACK; its answer comes in on the
 *    uplink like any segment and is recorded, and DP_TCP_SOLICIT_WAIT_MS
 *    later the lcore walks the table again and sends the RST (at most
 *    VS_TCP_CT_MAX_SOLICITS solicitations per connection, then the best
 *    value known or nothing: tcp_ct.h).
 * A new request while a walk is pending starts the walk at once.  An mbuf
 * the pool cannot give, or a frame the uplink does not take, is counted
 * (no-memory, uplink-full) and that connection is tried again at the next
 * walk if it still has solicitations left, else given up.
 *
 * The table travels with the VM (docs/migration.md, "Validated TCP
 * resets"), through two more handshakes of the same kind, each with a
 * buffer the main loop owns and the lcore writes or reads only while a
 * request is outstanding:
 *  - export (source, at the blackout): vs_dp_tcp_export_start() sets
 *    @export_buf (room for the whole table) and adds 1 to @export_req
 *    (release); the lcore copies the live connections into it
 *    (vs_tcp_ct_export()), stores @export_n, then @export_done = the
 *    request (release); vs_dp_tcp_export_take() loads @export_done
 *    (acquire) and, once it matches, has the copy;
 *  - import (destination, on CONNS): vs_dp_tcp_import() fills @import_buf
 *    and adds 1 to @import_req (release), only while no request is
 *    outstanding (vs_dp_tcp_import_busy()); the lcore merges them
 *    (vs_tcp_ct_import(): tcp-ct-imported, tcp-ct-full), then stores
 *    @import_done (release).
 * A port whose lcore never polls (none assigned) never answers: the
 * buffers stay with the port until vs_dp_tcp_fini(), when no lcore sees
 * it, so the lcore never writes freed memory.
 *
 * The table's counters are the lcore's (struct vs_tcp_ct_stats); it
 * copies them into the port's stats (relaxed stores, one writer) after
 * every burst it recorded: tcp-ct-entries, tcp-ct-evicted, tcp-ct-aged,
 * tcp-ct-full, tcp-ct-bad-acks, tcp-ct-imported.
 */
#ifndef VS_DP_TCP_H
#define VS_DP_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "tcp_ct.h"

struct rte_mbuf;
struct vs_vm;

/* How long the lcore waits for the peers' answers to its solicitations */
#define DP_TCP_SOLICIT_WAIT_MS	100

/**
 * struct vs_dp_tcp - a port's TCP tracking (vm->dp.tcp)
 * @reset_req:	main adds 1 (release) per reset wanted; lcore loads (acquire)
 * @reset_done:	lcore only: requests served
 * @walk_due:	lcore only: solicitations are out, walk again at @walk_tsc
 * @walk_tsc:	lcore only: vs_dp_ops->tsc() of the next walk
 * @export_req:	main adds 1 (release) per snapshot wanted
 * @export_done: lcore stores (release) the request it served
 * @export_seen: lcore only: the last request served
 * @export_n:	entries in @export_buf (lcore writes before @export_done)
 * @export_buf:	main's, room for the whole table; the lcore's to write
 *		while @export_done != @export_req
 * @import_req:	main adds 1 (release) per batch in @import_buf
 * @import_done: lcore stores (release) the request it served
 * @import_seen: lcore only: the last request served
 * @import_n:	entries in @import_buf (main writes before @import_req)
 * @import_cap:	main only: room in @import_buf
 * @import_buf:	main's; the lcore's to read while @import_done != @import_req
 * @ct:		lcore only: the table
 * @slots:	its entries
 */
struct vs_dp_tcp {
	uint32_t reset_req;
	uint32_t reset_done;
	uint32_t export_req;
	uint32_t export_done;
	uint32_t export_seen;
	uint32_t export_n;
	struct vs_tcp_ct_entry *export_buf;
	uint32_t import_req;
	uint32_t import_done;
	uint32_t import_seen;
	uint32_t import_n;
	uint32_t import_cap;
	struct vs_tcp_ct_entry *import_buf;
	bool walk_due;
	uint64_t walk_tsc;
	struct vs_tcp_ct ct;
	struct vs_tcp_ct_entry slots[];
};

/**
 * vs_dp_tcp_init() - give a port its connection table (main loop, before
 * any lcore sees the port)
 * @vm:		port
 * @entries:	table size, a power of two (VS_TCP_CT_MIN_SIZE..VS_TCP_CT_MAX_SIZE)
 * @idle_ms:	a connection idle this long may give its slot away
 *
 * Return: TRUE, or FALSE if @entries is not an allowed size
 */
gboolean vs_dp_tcp_init(struct vs_vm *vm, uint32_t entries, uint64_t idle_ms);

/**
 * vs_dp_tcp_fini() - free the table (main loop, no lcore sees the port)
 * @vm:		port
 */
void vs_dp_tcp_fini(struct vs_vm *vm);

/**
 * vs_dp_tcp_reset() - ask the lcore to reset the peers of the VM's tracked
 * connections whose tcp-on-loss is reset (main loop)
 * @vm:		port
 */
void vs_dp_tcp_reset(struct vs_vm *vm);

/**
 * vs_dp_tcp_may_reset() - may vs_dp_tcp_reset() reset any peer: the port's
 * tcp-on-loss is reset, or a configured rule of the port says reset (main
 * loop)
 * @vm:		port
 *
 * Return: true if so
 */
bool vs_dp_tcp_may_reset(const struct vs_vm *vm);

/**
 * vs_dp_tcp_export_start() - ask the lcore for a copy of the live
 * connections (main loop)
 * @vm:		port
 *
 * Return: true if asked; false without a table, or while the last request
 * is not served
 */
bool vs_dp_tcp_export_start(struct vs_vm *vm);

/**
 * vs_dp_tcp_export_take() - the copy, once the lcore made it (main loop)
 * @vm:		port
 * @n:		entries
 *
 * Return: the entries (the port's: valid until the next
 * vs_dp_tcp_export_start() or vs_dp_tcp_fini()), or NULL while the
 * request is not served or none was made
 */
const struct vs_tcp_ct_entry *vs_dp_tcp_export_take(struct vs_vm *vm, uint32_t *n);

/**
 * vs_dp_tcp_import_busy() - is an import not served yet (main loop)
 * @vm:		port
 *
 * Return: true if so (vs_dp_tcp_import() would refuse)
 */
bool vs_dp_tcp_import_busy(const struct vs_vm *vm);

/**
 * vs_dp_tcp_import() - hand the lcore connections to merge into its table
 * (main loop)
 * @vm:		port
 * @e:		entries (copied)
 * @n:		number of @e
 *
 * Return: true if handed; false without a table, or while busy
 */
bool vs_dp_tcp_import(struct vs_vm *vm, const struct vs_tcp_ct_entry *e, uint32_t n);

/* --- lcore ---------------------------------------------------------------- */

/**
 * dp_tcp_track() - record the TCP segments of a burst
 * @vm:		port
 * @pkts:	frames (not consumed)
 * @n:		number of frames
 * @dir:	VS_TCP_CT_FROM_VM (guest TX) or VS_TCP_CT_FROM_PEER (uplink RX)
 */
void dp_tcp_track(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, enum vs_tcp_ct_dir dir);

/**
 * dp_tcp_reset_poll() - serve an export or import request, then a reset
 * request, or walk again for the answers to solicitations, when due
 * @vm:		port
 *
 * Return: frames sent
 */
unsigned int dp_tcp_reset_poll(struct vs_vm *vm);

#endif /* VS_DP_TCP_H */
