/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wire format shared by the guest agent (tests/guest/agent.c) and the host
 * side test library (tests/lib/proto.py mirrors these definitions; keep both
 * in sync).
 *
 * UDP data datagram (port VSHIM_PORT_UDP_SINK in the guest, any port on the
 * host for guest->host traffic):
 *
 *   offset size field
 *   0      4    magic    VSHIM_MAGIC ("VSHM"), network byte order
 *   4      4    stream   0..VSHIM_MAX_STREAMS-1, network byte order
 *   8      8    seq      0,1,2,... per stream, network byte order
 *   16     8    send_ns  sender's CLOCK_MONOTONIC in ns, network byte order
 *                        (only comparable with other datagrams of the same
 *                        sender)
 *   24     n    payload  byte i = (seq * 31 + i) & 0xff, n >= 0
 *
 * TCP streams (guest port VSHIM_PORT_TCP_SINK, or guest->host via the
 * "tcpsend" control command): byte k of a connection = k % VSHIM_TCP_MOD.
 *
 * Control (UDP port VSHIM_PORT_CTL): one text request datagram -> one text
 * reply datagram.  A request may start with "#<id> " (id: up to 32 chars
 * without spaces); the reply then starts with the same "#<id> " and a
 * repeated id within the agent's small replay cache is answered from the
 * cache without executing the command again (safe retries).  Commands:
 *
 *   ping                                   -> pong
 *   stats                                  -> one-line JSON object
 *   reset                                  -> ok
 *   send IP PORT COUNT PPS STREAM SIZE [START_SEQ]
 *                                          -> ok (sending happens afterwards)
 *   tcpsend IP PORT BYTES                  -> ok (sending happens afterwards)
 *   timeline STREAM OFFSET                 -> "tl STREAM OFFSET N TOTAL" then
 *        N entries separated by spaces; the first is "ARRIVAL_US,SEQ", each
 *        further one "DELTA_US,DELTA_SEQ" relative to the previous entry
 *        (DELTA_SEQ may be negative).
 *   kfile snmp|netstat|dev|softnet|udp    -> the text of /proc/net/snmp,
 *        /proc/net/netstat, /proc/net/dev, /proc/net/softnet_stat or
 *        /proc/net/udp (the guest kernel's counters)
 *   nicstats                               -> eth0's `ethtool -S` counters,
 *        one "name value" a line
 *   channels [N]                           -> "combined CUR max MAX": eth0's
 *        combined channel count (queue pairs), set to N first if given
 *        (what `ethtool -L eth0 combined N` does)
 *   anything else                          -> "err ..."
 */
#ifndef VSHIM_AGENT_PROTO_H
#define VSHIM_AGENT_PROTO_H

#include <stdint.h>

#define VSHIM_MAGIC 0x5653484dU

#define VSHIM_PORT_UDP_SINK 7000
#define VSHIM_PORT_CTL 7001
#define VSHIM_PORT_TCP_SINK 7002
/* a second UDP sink socket, the same accounting: a flow that must not share
 * its socket buffer with another (test_policy.py: a high-priority flow beside
 * a 20000 pps bulk one, as an application would give each service its own) */
#define VSHIM_PORT_UDP_SINK2 7003

#define VSHIM_MAX_STREAMS 16
#define VSHIM_TCP_MOD 251

/* Duplicate detection window per stream (power of two). */
#define VSHIM_DUP_WINDOW (1u << 20)
/* Timeline entries recorded per stream (the first ones after a reset). */
#define VSHIM_TIMELINE_MAX 200000
/* Maximum size of a timeline reply datagram. */
#define VSHIM_TIMELINE_CHUNK 1400

struct vshim_hdr {
	uint32_t magic;
	uint32_t stream;
	uint64_t seq;
	uint64_t send_ns;
} __attribute__((packed));

#define VSHIM_HDR_LEN 24

static inline uint8_t vshim_payload_byte(uint64_t seq, uint64_t i)
{
	return (uint8_t)((seq * 31u + i) & 0xffu);
}

#endif
