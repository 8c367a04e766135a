/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * learn.h - the addresses a VM transmits from: MACs, VLANs, IPv4, IPv6
 *
 * Theory of operation: after a migration the network must learn that the
 * VM is reachable through the destination's uplink.  A RARP for the port's
 * configured MAC, untagged, is not enough for a VM that uses a second MAC
 * (macvlan, a nested guest), a VLAN trunk, or IPv6: a VLAN-aware switch
 * re-learns only the native VLAN, and IPv6 neighbours keep their cache
 * until they probe.  So the lcore that owns a port watches the VM's TX and
 * records, per port:
 *  - every source MAC, with the VLAN it was sent on (the outermost 802.1Q
 *    tag, or untagged): up to VS_LEARN_MAX_L2 (MAC, VLAN) pairs.  From
 *    every frame: the uplink's switch learns every source MAC the port
 *    sends from, frames the VM bridges included, so a RARP per pair only
 *    restores what the switch knew before the migration;
 *  - the IPv4 and IPv6 addresses the VM shows it owns, with the MAC and
 *    VLAN it last showed it from: up to VS_LEARN_MAX_IP addresses.  An IP
 *    packet's source address proves nothing (a router, NAT or VPN VM
 *    forwards other hosts' packets, and announcing their addresses would
 *    pull those hosts' traffic to the VM), so addresses are learned from
 *    neighbour discovery only, which a router never forwards:
 *     - ARP request, or gratuitous ARP reply (sender and target protocol
 *       addresses equal) (Ethernet/IPv4): the sender protocol address, if
 *       the sender hardware address is the frame's source MAC; not a
 *       probe's 0.0.0.0 (RFC 5227: a probe claims nothing).  Not a plain
 *       reply: it answers for the address asked about, and a VM doing
 *       proxy ARP answers with its own MAC for other hosts' addresses
 *       (the later rounds would send the VM their traffic).  A VM that
 *       only answers is learned from its next request (Linux sends one
 *       within seconds to confirm a neighbour it answered);
 *     - ICMPv6 (next header 58 right after the IPv6 header, hop limit 255
 *       as RFC 4861 requires of neighbour discovery): a Neighbour
 *       Advertisement's target, a Neighbour Solicitation's source unless
 *       it is :: (duplicate address detection claims nothing yet), a
 *       Router Solicitation's source unless it is ::, and a Router
 *       Advertisement's source.  Link-local addresses are learned:
 *       every IPv6 neighbour caches them, and a router's link-local is
 *       its hosts' next hop.
 *    An address is announced with the flags the VM advertised for it
 *    (@na_flags: Router, Override of its last NA for it); one first seen
 *    in an NS or RA gets Override, and Router if its (MAC, VLAN) sent a
 *    Router Advertisement (the VM routes), which also sets Router on every
 *    IPv6 address of that (MAC, VLAN) learned before.  Only then are the
 *    flags known (@na_flags_known): an address seen in an NS or RS alone
 *    gets no NA, because an NA with Router clear for a router's address
 *    makes the hosts that receive it drop their default route through it
 *    (RFC 4861 7.2.5: Linux clears NTF_ROUTER) until its next RA, and
 *    Router set for a host's would make them route through it.  Its MAC
 *    does not change in a migration, so the RARP for its (MAC, VLAN)
 *    moves the switches and the neighbour caches stay right.
 * Entries not seen for age_ms are aged out; a full table evicts its least
 * recently seen entry; vs_learn_forget() empties it when the VM leaves the
 * host.  What is learned is announced at the resume on the announcement
 * schedule (dp_announce(): RARP per MAC and VLAN, gratuitous ARP per IPv4
 * address, unsolicited Neighbour Advertisement per IPv6 address), and
 * every learned MAC counts as the VM's own in the buffer (its frames are
 * never replayed to it) until it ages: vs_learn_has_mac() checks the age
 * itself, as entries are dropped from the table only at an announce.
 *
 * Threads: the table is private to the lcore that owns the port (it sees
 * the TX, it builds the announcements, it classifies buffered frames), so
 * the hot path takes no lock and does no atomic read-modify-write.  The
 * only words other threads read are the counts in @shown, stored by the
 * lcore with relaxed atomics (a count a frame old is fine for display).
 *
 * Cost: a frame from the (MAC, VLAN) it came from last time (the common
 * case) is two compares against the last hit and a look at its EtherType
 * (and, for IPv6, its next header and hop limit); an ARP or neighbour
 * discovery message scans at most VS_LEARN_MAX_L2 + VS_LEARN_MAX_IP
 * entries.
 *
 * Security model: the guest chooses what it sends, so it chooses what is
 * announced; it could send the same frames (gratuitous ARPs, NAs) itself.
 * The table is bounded; a guest that cycles through source addresses
 * evicts only its own entries.  Multicast, broadcast, all-zero and
 * unspecified sources are not learned; a frame we cannot parse is learned
 * from as far as it parses (never an error).  VLAN ids are 12 bits by
 * construction; VID 4095 is reserved (IEEE 802.1Q) and a frame tagged with
 * it teaches nothing.  Frames with an outer 802.1ad (QinQ) tag are not
 * learned: the announcements carry one tag.
 */
#ifndef VS_LEARN_H
#define VS_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps, per port: (MAC, VLAN) pairs, and IPv4 + IPv6 addresses together */
#define VS_LEARN_MAX_L2		16
#define VS_LEARN_MAX_IP		32
/* An entry not seen for this long is forgotten (a bridge's default ageing) */
#define VS_LEARN_DEFAULT_AGE_MS	300000u
/* The VLAN of an untagged frame */
#define VS_LEARN_UNTAGGED	0xffffu
/* VID 4095: reserved by IEEE 802.1Q, never learned nor announced */
#define VS_LEARN_VID_RESERVED	4095u
/* Neighbour Advertisement flags, as in the NA's first flags byte */
#define VS_LEARN_NA_ROUTER	0x80u
#define VS_LEARN_NA_OVERRIDE	0x20u

/**
 * enum vs_learn_family - address family of a learned IP address
 * @VS_LEARN_IPV4: 4 bytes
 * @VS_LEARN_IPV6: 16 bytes
 */
enum vs_learn_family {
	VS_LEARN_IPV4,
	VS_LEARN_IPV6,
};

/**
 * struct vs_learn_l2 - a source MAC and the VLAN it was sent on
 * @seen_ms:	when it was last seen (the caller's clock)
 * @mac:	source MAC
 * @vlan:	VLAN id (1-4094) of the outermost 802.1Q tag, or VS_LEARN_UNTAGGED
 * @router:	it sent a Router Advertisement (since it was learned)
 */
struct vs_learn_l2 {
	uint64_t seen_ms;
	uint8_t mac[6];
	uint16_t vlan;
	bool router;
};

/**
 * struct vs_learn_ip - an IP address the VM showed it owns
 * @seen_ms:	when it was last seen
 * @addr:	the address (IPv4: the first 4 bytes)
 * @mac:	the source MAC it was last sent from
 * @vlan:	the VLAN it was sent on (part of the key: one address may be
 *		used on two VLANs)
 * @family:	enum vs_learn_family
 * @na_flags:	IPv6: VS_LEARN_NA_ROUTER, VS_LEARN_NA_OVERRIDE as the VM
 *		advertised them (see the theory of operation); IPv4: 0
 * @na_flags_known: IPv6: the VM sent an NA for it, or an RA from its (MAC,
 *		VLAN): only then is it announced with an NA; IPv4: false
 */
struct vs_learn_ip {
	uint64_t seen_ms;
	uint8_t addr[16];
	uint8_t mac[6];
	uint16_t vlan;
	uint8_t family;
	uint8_t na_flags;
	bool na_flags_known;
};

/**
 * struct vs_learn - one port's table (lcore-private but for the counts)
 * @age_ms:	ageing time
 * @n_l2:	entries in @l2 (lcore only)
 * @n_ip:	entries in @ip (lcore only)
 * @shown:	(MAC, VLAN) pairs, IPv4 and IPv6 addresses: relaxed atomic
 *		stores by the lcore, read by vs_learn_count() on any thread
 * @last_l2, @last_ip: index of the last hit (a guess, checked)
 * @l2:		(MAC, VLAN) pairs
 * @ip:		addresses
 */
struct vs_learn {
	uint64_t age_ms;
	uint32_t n_l2, n_ip;
	uint32_t shown[3];
	uint32_t last_l2, last_ip;
	struct vs_learn_l2 l2[VS_LEARN_MAX_L2];
	struct vs_learn_ip ip[VS_LEARN_MAX_IP];
};

/**
 * struct vs_learn_delta - what one call changed, for the port's counters
 * @learned:	new entries
 * @evicted:	entries dropped to make room (the table was full)
 * @aged:	entries forgotten because they were not seen for age_ms
 */
struct vs_learn_delta {
	uint32_t learned;
	uint32_t evicted;
	uint32_t aged;
};

/**
 * vs_learn_init() - an empty table
 * @t:		table
 * @age_ms:	ageing time (0: VS_LEARN_DEFAULT_AGE_MS)
 */
void vs_learn_init(struct vs_learn *t, uint64_t age_ms);

/**
 * vs_learn_forget() - forget every entry (the VM left the host), keeping
 * the ageing time
 * @t:		table
 */
void vs_learn_forget(struct vs_learn *t);

/**
 * vs_learn_frame() - learn the addresses one frame the VM sent shows
 * it uses (see the theory of operation)
 * @t:		table
 * @frame:	frame bytes (the first segment)
 * @len:	bytes at @frame
 * @now_ms:	the caller's clock, milliseconds, monotonic
 * @d:		changes are added to it
 */
void vs_learn_frame(struct vs_learn *t, const uint8_t *frame, size_t len, uint64_t now_ms,
		    struct vs_learn_delta *d);

/**
 * vs_learn_expire() - forget the entries not seen for age_ms
 * @t:		table
 * @now_ms:	the caller's clock
 * @d:		changes are added to it (aged)
 */
void vs_learn_expire(struct vs_learn *t, uint64_t now_ms, struct vs_learn_delta *d);

/**
 * vs_learn_has_mac() - is @mac one the VM sent from (on any VLAN)
 * @t:		table
 * @mac:	a MAC
 * @now_ms:	the caller's clock
 *
 * Return: true if a (MAC, VLAN) entry has it, seen within age_ms
 */
bool vs_learn_has_mac(const struct vs_learn *t, const uint8_t mac[6], uint64_t now_ms);

/**
 * vs_learn_count() - entries of a kind, for display (any thread)
 * @t:		table
 * @what:	0: (MAC, VLAN) pairs; 4: IPv4 addresses; 6: IPv6 addresses
 *
 * Return: the count, a relaxed snapshot
 */
uint32_t vs_learn_count(const struct vs_learn *t, unsigned int what);

#endif /* VS_LEARN_H */
