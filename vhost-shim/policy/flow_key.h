/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * flow_key.h - the header fields a flow rule can match on, from one frame
 *
 * Theory of operation: vs_flow_key_parse() reads an Ethernet frame the way
 * vs_pkt_classify() (pkt.c) does, and in the same pass extracts what the
 * flow-policy rules (flow_rules.h), the per-source straggler state
 * (flow_src.h) and the TCP connection tracker (tcp_ct.h) need: the
 * outermost VLAN id, the IP family, addresses, protocol and DSCP, the
 * ports, TCP's sequence, acknowledgement, window and flags, and where the
 * L4 payload is.
 *
 * Its class (UDP, TCP, OTHER, RUNT, OWN_MAC) is always exactly what
 * vs_pkt_classify() says for the same bytes: the default rules (today's
 * per-class caps) depend on it, and tests/unit/test_flow_key.c and
 * fuzz/fuzz_flow.c check it on every input.  A frame from the VM's own
 * MAC is OWN_MAC, as there, but its fields are filled in all the same
 * (the TCP tracker reads the VM's own segments).  The fields beyond the class
 * are stricter: a header that is not well formed yields no fields, so a
 * rule on addresses, protocol or ports never matches it:
 *  - IPv4: version 4, IHL >= 5, the whole header in the frame, and a total
 *    length between the header's and the frame's (Ethernet padding after
 *    the datagram is allowed; a length beyond the frame is not).
 *  - IPv6: version 6, a payload length that fits in the frame, and the
 *    extension-header chain (hop-by-hop, routing, destination options,
 *    fragment; at most VS_PKT_MAX_IPV6_EXT of them, as pkt.c) inside it.
 *  - Ports: only in a first (or the only) fragment, with the whole UDP
 *    (8 bytes), SCTP (12) or TCP header (data offset 5..15, all of it
 *    inside the datagram) present.  A later fragment has no ports and
 *    matches only rules without port constraints.
 *
 * Lengths: @len is what is contiguous at @frame (an mbuf's first
 * segment); @wire_len is the frame's whole length.  Header fields are read
 * only from the first @len bytes; IP length fields are checked against
 * @wire_len, so a datagram whose payload continues in a second segment
 * still has its fields, and TCP's sequence arithmetic uses the lengths the
 * IP header gives, never the Ethernet padding.
 *
 * Security model: frames come from the network or a guest; any length,
 * any content.  Every read is bounds-checked against @len with arithmetic
 * that cannot overflow (pkt.c's "room for N more bytes at off"); chains
 * are bounded by named constants.  Nothing is allocated, so this runs on
 * an lcore per frame.
 */
#ifndef VS_FLOW_KEY_H
#define VS_FLOW_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

/* IP family of a key or a prefix */
enum vs_flow_af {
	VS_FLOW_AF_NONE,	/* no (well-formed) IP header */
	VS_FLOW_AF_INET,
	VS_FLOW_AF_INET6,
	VS_FLOW_NUM_AF,
};

/* struct vs_flow_key.flags: which fields are valid */
#define VS_FLOW_KEY_VLAN	(1u << 0)	/* @vlan: the frame carries a tag */
#define VS_FLOW_KEY_L3		(1u << 1)	/* @af, addresses, @proto, @dscp, @l4_len */
#define VS_FLOW_KEY_FRAG	(1u << 2)	/* an IP fragment (first or later) */
#define VS_FLOW_KEY_PORTS	(1u << 3)	/* @sport, @dport, @payload_off/@payload_len */
#define VS_FLOW_KEY_TCP		(1u << 4)	/* @seq, @ack, @win, @tcp_flags */

/* TCP header flags (struct vs_flow_key.tcp_flags) */
#define VS_TCP_FIN	0x01
#define VS_TCP_SYN	0x02
#define VS_TCP_RST	0x04
#define VS_TCP_PSH	0x08
#define VS_TCP_ACK	0x10

#define VS_IPPROTO_ICMP		1
#define VS_IPPROTO_TCP		6
#define VS_IPPROTO_UDP		17
#define VS_IPPROTO_ICMPV6	58
#define VS_IPPROTO_SCTP		132

/**
 * struct vs_flow_key - what one frame says about its flow
 * @src:	source address, network byte order: an IPv4 address in the
 *		first 4 bytes, the rest zero (valid with VS_FLOW_KEY_L3)
 * @dst:	destination address, likewise
 * @cls:	exactly vs_pkt_classify()'s verdict for the same bytes
 * @af:		IP family (VS_FLOW_AF_NONE without VS_FLOW_KEY_L3)
 * @flags:	VS_FLOW_KEY_*: which of the fields below are valid
 * @proto:	IP protocol (IPv6: after the extension headers)
 * @dscp:	differentiated services code point, 0..63
 * @n_tags:	VLAN tags before the ethertype (0..VS_PKT_MAX_VLAN_TAGS)
 * @tcp_flags:	VS_TCP_* flags of a TCP segment
 * @vlan:	VLAN id (12 bits) of the outermost tag
 * @sport:	source port, host byte order
 * @dport:	destination port, host byte order
 * @win:	TCP window field (unscaled), host byte order
 * @seq:	TCP sequence number, host byte order
 * @ack:	TCP acknowledgement number (meaningful with VS_TCP_ACK)
 * @l3_off:	offset of the IP header
 * @l4_off:	offset of the L4 header
 * @l4_len:	L4 bytes (header and payload) according to the IP header
 * @payload_off: offset of the L4 payload (may be beyond the first segment)
 * @payload_len: L4 payload bytes according to the IP header
 */
struct vs_flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	enum vs_pkt_class cls;
	enum vs_flow_af af;
	uint8_t flags;
	uint8_t proto;
	uint8_t dscp;
	uint8_t n_tags;
	uint8_t tcp_flags;
	uint16_t vlan;
	uint16_t sport;
	uint16_t dport;
	uint16_t win;
	uint32_t seq;
	uint32_t ack;
	uint32_t l3_off;
	uint32_t l4_off;
	uint32_t l4_len;
	uint32_t payload_off;
	uint32_t payload_len;
};

/**
 * vs_flow_key_parse() - extract the flow key of a frame
 * @frame:	frame bytes
 * @len:	bytes contiguous at @frame
 * @wire_len:	the frame's whole length (>= @len; a smaller value counts
 *		as @len)
 * @vm_mac:	the VM's MAC: a frame *from* it is VS_PKT_OWN_MAC
 * @key:	output, completely written
 *
 * Return: @key->cls, the frame's class as vs_pkt_classify() gives it
 */
enum vs_pkt_class vs_flow_key_parse(const uint8_t *frame, size_t len, size_t wire_len,
				    const uint8_t vm_mac[6], struct vs_flow_key *key);

/* Events a frame carries, for the straggler triggers (flow_src.h) */
#define VS_FLOW_EV_TCP_SYN	(1u << 0)	/* a TCP SYN without ACK: a new connection */
#define VS_FLOW_EV_SIP_REGISTER	(1u << 1)	/* a SIP REGISTER request */
#define VS_FLOW_EV_SIP_BYE	(1u << 2)	/* a SIP BYE request */
#define VS_FLOW_EV_DIRECT	(1u << 3)	/* reported: the source reaches the VM directly */

/*
 * Security consideration: a SIP request line is looked for in at most this
 * many bytes of a UDP or TCP payload (RFC 3261 sets no limit; real request
 * lines are a URI long, far below it)
 */
#define VS_FLOW_SIP_LINE_MAX	512

/**
 * vs_flow_key_events() - the trigger events one frame carries
 * @key:	the frame's key (vs_flow_key_parse())
 * @frame:	the frame's bytes
 * @len:	bytes contiguous at @frame
 *
 * A SIP request is recognised when a UDP or TCP payload starts with the
 * method ("REGISTER" or "BYE", case-sensitive as RFC 3261 says), a space,
 * and its first line, within VS_FLOW_SIP_LINE_MAX bytes, ends in
 * " SIP/2.0" and CRLF.  A SIP message that does not start a TCP segment is
 * not seen; the rule's time-out covers that case.
 *
 * Return: VS_FLOW_EV_* bits (never VS_FLOW_EV_DIRECT, which is reported,
 * not seen in a frame)
 */
unsigned int vs_flow_key_events(const struct vs_flow_key *key, const uint8_t *frame, size_t len);

#endif /* VS_FLOW_KEY_H */
