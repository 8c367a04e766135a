/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_direct.h - destination: which sources reach the VM directly
 *
 * Theory of operation: after a VM resumed here, its peers' frames still
 * reach the old host for a while ("stragglers", tunnelled to us) until
 * the network learns the VM's new place.  The old host stops tunnelling
 * a source's stragglers once we tell it that source's frames arrive here
 * directly (SOURCE_DIRECT, docs/migration.md; the default trigger of
 * flow_src.h).  This module is how we notice.
 *
 * While the duplicate filter's window is open (hs.dedup_active: from the
 * resume until 200 ms after the source ends its stream, or linger-ms +
 * hold-ms without an END, and in 200 ms steps longer while a paced replay
 * is on: while stragglers may come) the lcore looks at each frame the
 * uplink brings: a unicast frame to the VM's MAC with a well-formed IP
 * header is evidence that its source reaches us directly.  Broadcast and
 * multicast are not (a switch sends them to both hosts).  The lcore
 * notes each source once per window (vs_flow_src_note_direct() on a table
 * it owns, forgotten when a new window opens: hs.dedup_epoch) and hands
 * new ones to the main loop through a single-producer single-consumer
 * queue: the lcore writes an entry, then publishes @head (release); the
 * main loop reads entries below @head (acquire), then publishes @tail.
 * When the queue is full the lcore does not note the source, so one of
 * its next frames notes it again: nothing is lost, only later.
 *
 * Each note carries the epoch of the window it was made in.  The queue
 * outlives a window (the main loop takes notes only while it has a
 * stream to send them on, and the window lasts past the stream's END),
 * so a note left from one window must never be sent in the next, to
 * another migration's source: the main loop empties the queue when a
 * window opens (vs_dp_direct_flush(), before the new epoch), and
 * vs_dp_direct_peek() skips a note of another epoch (one the lcore made
 * while the epoch changed).
 *
 * The main loop (the handover's pump) takes the notes with
 * vs_dp_direct_peek() and, once sent, vs_dp_direct_commit(), and sends
 * them to the source shim.
 */
#ifndef VS_DP_DIRECT_H
#define VS_DP_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_src.h"

struct vs_vm;
struct rte_mbuf;

/* Security consideration: per port, sources noted per window and queued */
#define VS_DP_DIRECT_SLOTS	1024
#define VS_DP_DIRECT_QUEUE	256	/* a power of two */

/**
 * struct vs_dp_direct_note - a source that reaches the VM directly
 * @epoch:	the window's hs.dedup_epoch when it was noted
 * @af:		VS_FLOW_AF_INET or VS_FLOW_AF_INET6
 * @addr:	its address (IPv4 in the first 4 bytes, the rest zero)
 */
struct vs_dp_direct_note {
	uint32_t epoch;
	uint8_t af;
	uint8_t addr[16];
};

/**
 * struct vs_dp_direct - a port's notes (vm->dp.direct)
 * @epoch:	lcore: the hs.dedup_epoch its table belongs to
 * @notes:	lcore: the sources noted in this window
 * @slots:	@notes' entries
 * @head:	lcore writes (release), main loop reads (acquire)
 * @pad_:	@head and @tail on cache lines of their own (each side
 *		writes one of them per note)
 * @tail:	main loop writes (release), lcore reads (acquire)
 * @q:		the queue: entries @tail..@head-1 (mod VS_DP_DIRECT_QUEUE)
 */
struct vs_dp_direct {
	uint32_t epoch;
	struct vs_flow_src notes;
	struct vs_flow_src_entry slots[VS_DP_DIRECT_SLOTS];
	uint32_t head;
	uint8_t pad_[128 - sizeof(uint32_t)];
	uint32_t tail;
	struct vs_dp_direct_note q[VS_DP_DIRECT_QUEUE];
};

/**
 * vs_dp_direct_new() - a port's empty notes (main loop, port creation)
 *
 * Return: the notes, to free with g_free()
 */
struct vs_dp_direct *vs_dp_direct_new(void);

/**
 * dp_direct_note() - lcore: note the sources of @pkts, frames the uplink
 * brought, while the window is open, and say which frames belong to a
 * held source (dp_source_hold.h): one held already, or one noted now while
 * holds are allowed (dp_source_hold_may_begin())
 * @vm:		port
 * @pkts:	frames
 * @n:		how many (at most VS_DP_BURST)
 * @tsc:	now
 * @mode:	the mode the poll read
 * @slot:	output: each frame's held source's slot, VS_DP_HOLD_NONE if
 *		not held; NULL: nothing is held
 *
 * Return: frames of held sources
 */
uint16_t dp_direct_note(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, uint64_t tsc,
			uint32_t mode, uint8_t *slot);

/**
 * vs_dp_direct_peek() - main loop: the oldest note of the current window,
 * left in the queue (notes of another window before it are dropped)
 * @vm:		port
 * @out:	the note
 *
 * Return: false if there is none
 */
bool vs_dp_direct_peek(struct vs_vm *vm, struct vs_dp_direct_note *out);

/**
 * vs_dp_direct_commit() - main loop: remove the note vs_dp_direct_peek()
 * returned (it was sent)
 * @vm:		port
 */
void vs_dp_direct_commit(struct vs_vm *vm);

/**
 * vs_dp_direct_take() - main loop: peek and commit in one
 * @vm:		port
 * @out:	the note
 *
 * Return: false if there is none
 */
bool vs_dp_direct_take(struct vs_vm *vm, struct vs_dp_direct_note *out);

/**
 * vs_dp_direct_flush() - main loop: forget every queued note (a window
 * opens: what an earlier window noted is not this migration's)
 * @vm:		port
 */
void vs_dp_direct_flush(struct vs_vm *vm);

/**
 * vs_dp_direct_window() - main loop: is the window open (the lcore notes)
 * @vm:		port
 *
 * Return: true while it is
 */
bool vs_dp_direct_window(const struct vs_vm *vm);

#endif /* VS_DP_DIRECT_H */
