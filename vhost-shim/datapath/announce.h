/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * announce.h - the frames that tell the network where a VM is now
 *
 * Theory of operation: after a resume the destination sends, on its
 * uplink, for every address the VM was seen using (learn.h):
 *  - a RARP "request reverse" per (MAC, VLAN), as QEMU's self-announce
 *    does, so that switches (and VLAN-aware bridges, per VLAN) move the
 *    MAC's forwarding entry to this port;
 *  - a gratuitous ARP per IPv4 address (an ARP request whose sender and
 *    target protocol addresses are the address, RFC 5227's ARP
 *    Announcement), so that IPv4 neighbours refresh their caches;
 *  - an unsolicited Neighbour Advertisement per IPv6 address (RFC 4861
 *    7.2.6: to ff02::1, hop limit 255, Solicited clear, Router and
 *    Override as the VM advertised them (learn.h), with a Target
 *    Link-Layer Address option), so that IPv6 neighbours update their
 *    caches without probing, and keep a router as a router (an NA with
 *    Router clear makes a host drop it from its default routers, RFC 4861
 *    7.2.5).
 * Each goes on the address's VLAN: tagged with one 802.1Q tag (priority 0)
 * when it was learned tagged.  VLAN ids 1-4094 are tagged; 0 and
 * VS_LEARN_UNTAGGED mean no tag; 4095 (reserved) and anything above is
 * refused (the builder writes nothing).  Frames are padded to the Ethernet minimum
 * (60 bytes untagged, 64 tagged, without FCS).  The builders are pure:
 * bytes in, bytes out.
 */
#ifndef VS_ANNOUNCE_H
#define VS_ANNOUNCE_H

#include <stddef.h>
#include <stdint.h>

/* The longest frame a builder writes: a tagged Neighbour Advertisement */
#define VS_ANNOUNCE_MAX_FRAME	90

/**
 * vs_announce_rarp() - a RARP announcing @mac
 * @buf:	output
 * @room:	bytes at @buf
 * @mac:	the MAC
 * @vlan:	VLAN id 1-4094, or VS_LEARN_UNTAGGED (or 0): no tag
 *
 * Return: frame length (60, tagged 64), 0 if @room is too small or @vlan
 * is not a VLAN id a frame may carry
 */
size_t vs_announce_rarp(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan);

/**
 * vs_announce_garp() - a gratuitous ARP (request) for @ip at @mac
 * @buf:	output
 * @room:	bytes at @buf
 * @mac:	the MAC the address is at
 * @vlan:	as for vs_announce_rarp()
 * @ip:		the IPv4 address, network order
 *
 * Return: frame length (60, tagged 64), 0 as for vs_announce_rarp()
 */
size_t vs_announce_garp(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan,
			const uint8_t ip[4]);

/**
 * vs_announce_na() - an unsolicited Neighbour Advertisement for @ip6 at @mac
 * @buf:	output
 * @room:	bytes at @buf
 * @mac:	the MAC the address is at (source and target link-layer address)
 * @vlan:	as for vs_announce_rarp()
 * @ip6:	the IPv6 address (target, and source of the packet)
 * @flags:	VS_LEARN_NA_ROUTER, VS_LEARN_NA_OVERRIDE (other bits ignored)
 *
 * Return: frame length (86, tagged 90), 0 as for vs_announce_rarp()
 */
size_t vs_announce_na(uint8_t *buf, size_t room, const uint8_t mac[6], uint16_t vlan,
		      const uint8_t ip6[16], uint8_t flags);

#endif /* VS_ANNOUNCE_H */
