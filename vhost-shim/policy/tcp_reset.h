/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_reset.h - the frames of a validated reset: RST and solicitation
 *
 * Theory of operation: tcp_ct.h decides, per tracked connection, whether
 * its peer gets a RST (sequence number = the peer's own latest
 * acknowledgement, so an RFC 5961 peer accepts it) or first a
 * solicitation (an ACK outside the peer's window, which the peer answers
 * with a duplicate ACK carrying its RCV.NXT).  This builds those frames,
 * as the VM would send them: Ethernet with the VM's MAC as the source and
 * the VLAN tags its frames carried, IPv4 (DF, TTL 64, id 0) or IPv6 (hop
 * limit 64), and a TCP header with correct checksums, into a buffer the
 * caller provides (an mbuf's data room).  Frames shorter than the Ethernet
 * minimum are padded with zeros to VS_TCP_RESET_MIN_FRAME.
 *
 *  - RST: seq = peer_ack; with RST|ACK and ack = the VM's own latest
 *    acknowledgement when it is known (as the VM's stack would send it),
 *    else the end of the peer's data if known, else a bare RST.  Window 0,
 *    no options: RFC 7323 5.2 exempts a RST from the timestamp check.
 *  - Solicitation: ACK, seq = (peer_ack if known, else the end of the VM's
 *    data) + 2^31, the point of the sequence space farthest from any
 *    window the peer can have (2^30 at most, RFC 7323), ack = the VM's last
 *    acknowledgement; with a timestamp option when the connection uses
 *    them (TSval the VM's last one, TSecr the peer's last one), because
 *    some stacks drop a segment without one (RFC 7323 3.2) instead of
 *    answering it.  Each call counts one solicitation on the entry.
 *
 * Nothing is allocated; the checksum routine is exported for the tests.
 */
#ifndef VS_TCP_RESET_H
#define VS_TCP_RESET_H

#include <stddef.h>
#include <stdint.h>

#include "tcp_ct.h"

/* Ethernet minimum without the FCS */
#define VS_TCP_RESET_MIN_FRAME	60
/* Longest frame built: 2 tags, IPv6, TCP with a timestamp option */
#define VS_TCP_RESET_MAX_FRAME	(14 + 4 * VS_PKT_MAX_VLAN_TAGS + 40 + 20 + 12)

/**
 * vs_tcp_reset_csum() - Internet checksum (RFC 1071) of @len bytes, folded
 * and complemented, starting from a partial sum
 * @data:	bytes
 * @len:	their number (an odd last byte is padded with zero)
 * @sum:	partial sum of earlier data (e.g. a pseudo-header), host order
 *
 * Return: the checksum, in network byte order once stored big-endian
 */
uint16_t vs_tcp_reset_csum(const uint8_t *data, size_t len, uint32_t sum);

/**
 * vs_tcp_reset_build_rst() - the RST for the peer of @e
 * @e:		connection (vs_tcp_ct_plan() said RST, or the caller gives up
 *		soliciting); uses peer_ack as the sequence number
 * @buf:	output
 * @size:	bytes at @buf
 *
 * Return: the frame's length, 0 if @size is too small or @e has no
 * acknowledgement from the peer
 */
size_t vs_tcp_reset_build_rst(const struct vs_tcp_ct_entry *e, uint8_t *buf, size_t size);

/**
 * vs_tcp_reset_build_solicit() - the out-of-window ACK that draws the
 * peer's acknowledgement; counts one solicitation on @e
 * @e:		connection
 * @buf:	output
 * @size:	bytes at @buf
 *
 * Return: the frame's length, 0 if @size is too small (@e unchanged then)
 */
size_t vs_tcp_reset_build_solicit(struct vs_tcp_ct_entry *e, uint8_t *buf, size_t size);

#endif /* VS_TCP_RESET_H */
