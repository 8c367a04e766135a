/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_ct.h - bounded tracking of a VM's TCP connections, for validated resets
 *
 * Theory of operation: when a VM is lost for good (a post-copy migration
 * that failed after the switchover, a held segment that expired because
 * the VM never resumed, an operator's reset-flows), and its rule says
 * tcp-on-loss=reset, the shim sends each remote peer a RST the peer will
 * accept, instead of leaving it to time out.  vhost-shim sees both
 * directions of every connection of its VMs, so it can know what the peer
 * expects.
 *
 * Per connection (VM address and port, peer address and port) it keeps:
 *  - vm_nxt:   the end of what the VM sent (seq + length, SYN and FIN
 *              counting one), the largest seen;
 *  - peer_ack: the largest acknowledgement the peer sent.  That is the
 *              peer's RCV.NXT for the VM's data, the one sequence number a
 *              RST must carry to be accepted (RFC 5961 3.2: a RST that is
 *              in the window but not exact draws a challenge ACK instead).
 *              An acknowledgement beyond vm_nxt (of data the VM never sent,
 *              RFC 793's "ACK of something not yet sent") is not taken,
 *              and counted (bad_ack): a forged ACK cannot move it;
 *  - vm_ack, peer_nxt, the windows, the last timestamps (RFC 7323), and
 *    the MACs and VLAN tags the frames carried, to build frames the
 *    network delivers like the VM's own.
 * "Largest" is in sequence space, modulo 2^32 (RFC 1982 serial
 * arithmetic), so it survives wrap-around.
 *
 * vs_tcp_ct_plan() says what to send a peer:
 *  - RST, seq = peer_ack, when the peer's acknowledgement is known and
 *    covers everything the VM sent (peer_ack == vm_nxt), or the peer
 *    answered since our last solicitation (its answer is its RCV.NXT);
 *  - SOLICIT, when no acknowledgement from the peer was seen, or the VM
 *    sent more than the peer acknowledged (the peer's RCV.NXT is then
 *    somewhere between): an ACK whose sequence number is half the sequence
 *    space away from the peer's window draws the peer's duplicate ACK
 *    (RFC 793 3.9, RFC 5961 4), which this table then records; at most
 *    VS_TCP_CT_MAX_SOLICITS times;
 *  - after those, a RST with the best value known, or NONE if none is;
 *  - NONE for a closed connection (a RST seen, or both FINs acknowledged).
 * tcp_reset.h builds the frames.
 *
 * The table travels with the VM (docs/migration.md): when the blackout
 * begins, vs_tcp_ct_export() copies the live connections out (the lcore,
 * into a buffer of the main loop's, dp_tcp.h); the destination's lcore
 * merges them with vs_tcp_ct_import(): a connection it already tracks
 * keeps its own entry (its numbers are newer), a new one takes a slot as
 * a new connection does (the same bounds, counted as full if none), with
 * what it had on the source except what belongs to the source's own
 * resets (solicitations made, a fresh ACK since one).
 *
 * Bounds: a caller-provided array of a power-of-two size, open addressing
 * with at most VS_TCP_CT_PROBE probes, a hash seeded per table (a peer
 * cannot aim collisions at one bucket); a new connection takes a free
 * slot, else a closed one, else the least recently used one idle longer
 * than idle-ms, else it is not tracked (counted: full).  One owner (the
 * lcore that sees the VM's frames); no allocation.
 */
#ifndef VS_TCP_CT_H
#define VS_TCP_CT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_key.h"
#include "flow_rules.h"

/* Security consideration: probes per lookup, table size, solicitations */
#define VS_TCP_CT_PROBE		8
#define VS_TCP_CT_MIN_SIZE	VS_TCP_CT_PROBE
#define VS_TCP_CT_MAX_SIZE	(1u << 20)
#define VS_TCP_CT_DEFAULT_SIZE	4096
#define VS_TCP_CT_DEFAULT_IDLE_MS (15u * 60 * 1000)
#define VS_TCP_CT_MAX_SOLICITS	2

/* Serial-number comparison of sequence numbers (RFC 1982) */
#define VS_SEQ_LT(a, b)		((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define VS_SEQ_GT(a, b)		VS_SEQ_LT(b, a)
#define VS_SEQ_LEQ(a, b)	(!VS_SEQ_GT(a, b))

/* Which way a segment went */
enum vs_tcp_ct_dir {
	VS_TCP_CT_FROM_PEER,	/* uplink -> VM */
	VS_TCP_CT_FROM_VM,	/* VM -> uplink */
};

/* struct vs_tcp_ct_entry.flags */
#define VS_TCP_CT_VM_SEQ	(1u << 0)	/* vm_nxt is valid */
#define VS_TCP_CT_VM_ACK	(1u << 1)	/* vm_ack is valid */
#define VS_TCP_CT_PEER_SEQ	(1u << 2)	/* peer_nxt is valid */
#define VS_TCP_CT_PEER_ACK	(1u << 3)	/* peer_ack is valid */
#define VS_TCP_CT_VM_FIN	(1u << 4)
#define VS_TCP_CT_PEER_FIN	(1u << 5)
#define VS_TCP_CT_RST		(1u << 6)	/* reset by either side: closed */
#define VS_TCP_CT_FRESH_ACK	(1u << 7)	/* a peer ACK since our last solicitation */
#define VS_TCP_CT_VM_TS		(1u << 8)	/* vm_tsval is valid */
#define VS_TCP_CT_PEER_TS	(1u << 9)	/* peer_tsval is valid */
/* What an exported connection carries: not RST (closed ones stay), not
 * FRESH_ACK (the source's solicitations) */
#define VS_TCP_CT_EXPORT_FLAGS	(VS_TCP_CT_VM_SEQ | VS_TCP_CT_VM_ACK | VS_TCP_CT_PEER_SEQ | \
				 VS_TCP_CT_PEER_ACK | VS_TCP_CT_VM_FIN | VS_TCP_CT_PEER_FIN | \
				 VS_TCP_CT_VM_TS | VS_TCP_CT_PEER_TS)

/**
 * struct vs_tcp_ct_entry - one connection
 * @vm_addr:	the VM's address (IPv4 in the first 4 bytes)
 * @peer_addr:	the peer's address
 * @vm_mac:	the VM's MAC, as the frames carry it
 * @peer_mac:	the MAC the VM's frames go to (the peer or its router)
 * @tags:	VLAN tags (TPID, TCI) as the VM's frames carried them
 * @n_tags:	number of @tags
 * @af:		address family; VS_FLOW_AF_NONE: a free slot
 * @solicits:	solicitations built
 * @on_loss:	enum vs_flow_tcp_loss: the port's when its last segment
 *		passed (a rule's own decides at the reset: vs_tcp_ct_on_loss())
 * @flags:	VS_TCP_CT_*
 * @vm_port:	the VM's port
 * @peer_port:	the peer's port
 * @vm_win:	the VM's last window field
 * @peer_win:	the peer's last window field
 * @vm_nxt:	the end of the VM's data (largest)
 * @vm_ack:	the VM's acknowledgement (largest)
 * @peer_nxt:	the end of the peer's data (largest)
 * @peer_ack:	the peer's acknowledgement (largest, never beyond @vm_nxt)
 * @vm_tsval:	the VM's last TSval
 * @peer_tsval:	the peer's last TSval
 * @last_ms:	last segment seen
 */
struct vs_tcp_ct_entry {
	uint8_t vm_addr[16];
	uint8_t peer_addr[16];
	uint8_t vm_mac[6];
	uint8_t peer_mac[6];
	uint16_t tags[VS_PKT_MAX_VLAN_TAGS][2];
	uint8_t n_tags;
	uint8_t af;
	uint8_t solicits;
	uint8_t on_loss;
	uint16_t flags;
	uint16_t vm_port;
	uint16_t peer_port;
	uint16_t vm_win;
	uint16_t peer_win;
	uint32_t vm_nxt;
	uint32_t vm_ack;
	uint32_t peer_nxt;
	uint32_t peer_ack;
	uint32_t vm_tsval;
	uint32_t peer_tsval;
	uint64_t last_ms;
};

/**
 * struct vs_tcp_ct_stats - counters (lcore writes, main loop reads)
 * @created:	connections tracked
 * @reused:	slots taken over from closed or idle connections
 * @aged:	of @reused, those taken from a connection idle for idle-ms
 * @full:	segments of connections that found no slot
 * @bad_ack:	peer acknowledgements beyond what the VM sent, ignored
 * @closed:	connections seen closing (RST, both FINs acknowledged)
 * @imported:	connections taken from another host's table (vs_tcp_ct_import())
 */
struct vs_tcp_ct_stats {
	uint64_t created;
	uint64_t reused;
	uint64_t aged;
	uint64_t full;
	uint64_t bad_ack;
	uint64_t closed;
	uint64_t imported;
};

/**
 * struct vs_tcp_ct - one VM's connection table
 * @slots:	caller-provided entries
 * @mask:	number of entries - 1
 * @seed:	hash seed
 * @idle_ms:	a connection idle this long may give its slot away
 * @stats:	counters
 */
struct vs_tcp_ct {
	struct vs_tcp_ct_entry *slots;
	uint32_t mask;
	uint64_t seed;
	uint64_t idle_ms;
	struct vs_tcp_ct_stats stats;
};

/* What to send the peer of a connection */
enum vs_tcp_ct_plan {
	VS_TCP_CT_PLAN_NONE,	/* nothing: closed, or nothing known */
	VS_TCP_CT_PLAN_RST,	/* a RST with seq = peer_ack */
	VS_TCP_CT_PLAN_SOLICIT,	/* an out-of-window ACK, to learn peer_ack */
	VS_TCP_CT_NUM_PLANS,
};

extern const char *const vs_tcp_ct_plan_names[VS_TCP_CT_NUM_PLANS];

/**
 * vs_tcp_ct_init() - set a table up over caller memory
 * @ct:		table
 * @slots:	entries, a power of two (VS_TCP_CT_MIN_SIZE..VS_TCP_CT_MAX_SIZE)
 * @n:		number of entries
 * @seed:	hash seed
 * @idle_ms:	idle time after which a connection may give its slot away
 *
 * Return: 0, or -EINVAL if @n is not an allowed size
 */
int vs_tcp_ct_init(struct vs_tcp_ct *ct, struct vs_tcp_ct_entry *slots, uint32_t n,
		   uint64_t seed, uint64_t idle_ms);

/**
 * vs_tcp_ct_on_loss() - what the connection's peer gets when the VM is gone
 * for good: the tcp-on-loss of the most specific configured rule of @rules
 * that matches its frames to the VM (source the peer; its addresses, ports
 * and outer VLAN) and sets its own, else the port's (@e->on_loss)
 * @e:		connection
 * @rules:	the port's table now, or NULL
 *
 * Return: VS_FLOW_TCP_LOSS_DROP or VS_FLOW_TCP_LOSS_RESET
 */
enum vs_flow_tcp_loss vs_tcp_ct_on_loss(const struct vs_tcp_ct_entry *e,
					const struct vs_flow_table *rules);

/**
 * vs_tcp_ct_update() - record one TCP segment
 * @ct:		table
 * @key:	the frame's key; ignored unless it has VS_FLOW_KEY_TCP
 * @frame:	the frame's bytes (MACs, tags, TCP options are read from it)
 * @len:	bytes contiguous at @frame
 * @dir:	which way it went
 * @on_loss:	the port's tcp-on-loss
 * @now_ms:	now
 *
 * Return: the connection's entry, or NULL if it is not tracked
 */
struct vs_tcp_ct_entry *vs_tcp_ct_update(struct vs_tcp_ct *ct, const struct vs_flow_key *key,
					 const uint8_t *frame, size_t len,
					 enum vs_tcp_ct_dir dir, enum vs_flow_tcp_loss on_loss,
					 uint64_t now_ms);

/**
 * vs_tcp_ct_lookup() - a connection's entry
 * @ct:		table
 * @af:		address family
 * @vm_addr:	the VM's address
 * @vm_port:	the VM's port
 * @peer_addr:	the peer's address
 * @peer_port:	the peer's port
 *
 * Return: the entry, or NULL
 */
struct vs_tcp_ct_entry *vs_tcp_ct_lookup(const struct vs_tcp_ct *ct, enum vs_flow_af af,
					 const uint8_t vm_addr[16], uint16_t vm_port,
					 const uint8_t peer_addr[16], uint16_t peer_port);

/**
 * vs_tcp_ct_next() - iterate over the tracked connections
 * @ct:		table
 * @cursor:	0 to start; advanced past the entry returned
 *
 * Return: the next entry in use, or NULL at the end
 */
struct vs_tcp_ct_entry *vs_tcp_ct_next(const struct vs_tcp_ct *ct, uint32_t *cursor);

/* What vs_tcp_ct_import() did with a connection */
enum vs_tcp_ct_import {
	VS_TCP_CT_IMPORTED,	/* a new entry */
	VS_TCP_CT_KEPT,		/* already tracked: the entry stays, each of its
				 * numbers the later of the two */
	VS_TCP_CT_NO_SLOT,	/* no slot (counted: full) */
	VS_TCP_CT_INVALID,	/* no address family, too many tags, or closed */
};

/**
 * vs_tcp_ct_export() - copy the live connections (not closed) out
 * @ct:		table
 * @out:	room for @max entries
 * @max:	at most this many (the table's size holds them all)
 *
 * Return: entries copied, each with only VS_TCP_CT_EXPORT_FLAGS and no
 * solicitation
 */
uint32_t vs_tcp_ct_export(const struct vs_tcp_ct *ct, struct vs_tcp_ct_entry *out, uint32_t max);

/**
 * vs_tcp_ct_import() - merge one connection of another table (see the
 * theory of operation)
 * @ct:		table
 * @e:		the connection (its flags outside VS_TCP_CT_EXPORT_FLAGS are
 *		dropped)
 * @on_loss:	the port's tcp-on-loss
 * @now_ms:	now: the connection's last_ms (it is as fresh as a new one)
 *
 * Return: what was done
 */
enum vs_tcp_ct_import vs_tcp_ct_import(struct vs_tcp_ct *ct, const struct vs_tcp_ct_entry *e,
				       enum vs_flow_tcp_loss on_loss, uint64_t now_ms);

/**
 * vs_tcp_ct_plan() - what to send the peer of @e now
 * @e:		connection
 *
 * Return: the plan (see the theory of operation)
 */
enum vs_tcp_ct_plan vs_tcp_ct_plan(const struct vs_tcp_ct_entry *e);

/**
 * vs_tcp_ct_closed() - has @e closed
 * @e:		connection
 *
 * Return: true after a RST, or both FINs acknowledged both ways
 */
bool vs_tcp_ct_closed(const struct vs_tcp_ct_entry *e);

#endif /* VS_TCP_CT_H */
