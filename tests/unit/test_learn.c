/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_learn.c - the table of a VM's addresses (learn.c: what is learned
 * and from what, the Router flag, VLAN ids, the bounds, ageing, eviction,
 * forgetting) and the announcement frames (announce.c:
 * byte-exact RARP, gratuitous ARP and Neighbour Advertisement, tagged and
 * untagged, lengths and the ICMPv6 checksum)
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "announce.h"
#include "learn.h"
#include "pkt.h"

static const uint8_t mac1[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static const uint8_t mac2[6] = { 0x52, 0x54, 0, 0, 0, 2 };

/* A frame from @src on @vlan (0: untagged) of @type with @l3 */
static size_t frame(uint8_t *f, const uint8_t *src, uint16_t vlan, uint16_t type,
		    const uint8_t *l3, size_t l3len)
{
	size_t off = 12;

	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	if (vlan) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[14] = (uint8_t)(vlan >> 8);
		f[15] = (uint8_t)vlan;
		off = 16;
	}
	f[off] = (uint8_t)(type >> 8);
	f[off + 1] = (uint8_t)type;
	memcpy(f + off + 2, l3, l3len);
	return off + 2 + l3len;
}

/* An IPv4 packet from @a: its source proves nothing, never learned */
static size_t ip4_frame(uint8_t *f, const uint8_t *src, uint16_t vlan, const uint8_t a[4])
{
	uint8_t h[20] = { 0x45 };

	memcpy(h + 12, a, 4);
	return frame(f, src, vlan, 0x0800, h, sizeof(h));
}

/* An IPv6 packet from @a, UDP: its source proves nothing, never learned */
static size_t ip6_frame(uint8_t *f, const uint8_t *src, uint16_t vlan, const uint8_t a[16])
{
	uint8_t h[48] = { 0x60, [6] = 17, [7] = 255 };

	memcpy(h + 8, a, 16);
	return frame(f, src, vlan, 0x86dd, h, sizeof(h));
}

/* An ARP @op from @src, sender hardware address @sha, sender IP @spa */
static size_t arp_frame(uint8_t *f, const uint8_t *src, uint16_t vlan, uint16_t op,
			const uint8_t sha[6], const uint8_t spa[4])
{
	uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 0 };

	arp[7] = (uint8_t)op;
	memcpy(arp + 8, sha, 6);
	memcpy(arp + 14, spa, 4);
	return frame(f, src, vlan, 0x0806, arp, sizeof(arp));
}

/* A gratuitous ARP reply from @src for @spa (target protocol address @spa) */
static size_t arp_gratuitous_reply(uint8_t *f, const uint8_t *src, uint16_t vlan,
				   const uint8_t spa[4])
{
	size_t n = arp_frame(f, src, vlan, 2, src, spa);

	memcpy(f + n - 4, spa, 4);	/* tpa: the last field */
	return n;
}

/* The VM's ARP request from @src for @spa: what owning @spa looks like */
static size_t arp_own(uint8_t *f, const uint8_t *src, uint16_t vlan, const uint8_t spa[4])
{
	return arp_frame(f, src, vlan, 1, src, spa);
}

/*
 * ICMPv6 neighbour discovery @type (134 RA, 135 NS, 136 NA) from @ipsrc,
 * with @target (NS, NA) and @flags (the NA's, the RA's) at hop limit @hops
 */
static size_t nd_frame(uint8_t *f, const uint8_t *src, uint16_t vlan, uint8_t type,
		       const uint8_t ipsrc[16], const uint8_t *target, uint8_t flags,
		       uint8_t hops)
{
	uint8_t h[40 + 24] = { 0x60, [6] = 58 };

	h[7] = hops;
	memcpy(h + 8, ipsrc, 16);
	h[40] = type;
	h[44] = flags;
	if (target)
		memcpy(h + 48, target, 16);
	return frame(f, src, vlan, 0x86dd, h, sizeof(h));
}

/* The VM's NS from @a: what owning @a looks like */
static size_t ns_own(uint8_t *f, const uint8_t *src, uint16_t vlan, const uint8_t a[16])
{
	static const uint8_t other[16] = { 0xfd, 0, [15] = 0x77 };

	return nd_frame(f, src, vlan, 135, a, other, 0, 255);
}

static const struct vs_learn_ip *find_ip(const struct vs_learn *t, const uint8_t *a, size_t n)
{
	uint32_t i;

	for (i = 0; i < t->n_ip; i++)
		if (!memcmp(t->ip[i].addr, a, n))
			return &t->ip[i];
	return NULL;
}

static void test_learn_kinds(void)
{
	static const uint8_t a4[4] = { 10, 0, 0, 5 }, arp_ip[4] = { 10, 0, 1, 7 };
	static const uint8_t a6[16] = { 0xfd, 0, [13] = 0x64, [15] = 2 };
	struct vs_learn_delta d = { 0 };
	const struct vs_learn_ip *e;
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	g_assert_cmpuint(t.age_ms, ==, VS_LEARN_DEFAULT_AGE_MS);
	n = arp_gratuitous_reply(f, mac1, 0, a4);
	vs_learn_frame(&t, f, n, 1, &d);
	n = ns_own(f, mac2, 100, a6);
	vs_learn_frame(&t, f, n, 2, &d);
	n = arp_own(f, mac1, 0, arp_ip);		/* a request */
	vs_learn_frame(&t, f, n, 3, &d);
	/* the same again: nothing new */
	vs_learn_frame(&t, f, n, 4, &d);

	g_assert_cmpuint(d.learned, ==, 5);	/* 2 (MAC, VLAN) + 3 addresses */
	g_assert_cmpuint(d.evicted, ==, 0);
	g_assert_cmpuint(vs_learn_count(&t, 0), ==, 2);
	g_assert_cmpuint(vs_learn_count(&t, 4), ==, 2);
	g_assert_cmpuint(vs_learn_count(&t, 6), ==, 1);
	g_assert_true(vs_learn_has_mac(&t, mac1, 0));
	g_assert_true(vs_learn_has_mac(&t, mac2, 0));
	g_assert_cmpuint(t.l2[1].vlan, ==, 100);
	g_assert_cmpuint(t.l2[0].vlan, ==, VS_LEARN_UNTAGGED);
	e = find_ip(&t, a6, 16);
	g_assert_nonnull(e);
	g_assert_cmpuint(e->family, ==, VS_LEARN_IPV6);
	g_assert_cmpuint(e->vlan, ==, 100);
	g_assert_cmpuint(e->na_flags, ==, VS_LEARN_NA_OVERRIDE);
	g_assert_cmpmem(e->mac, 6, mac2, 6);
	e = find_ip(&t, arp_ip, 4);
	g_assert_nonnull(e);
	g_assert_cmpuint(e->seen_ms, ==, 4);
	g_assert_cmpuint(e->na_flags, ==, 0);
}

/*
 * Only what shows the VM owns an address teaches it: not the source of
 * packets it may only forward (a router, NAT or VPN VM), not an ARP
 * probe, not an ARP on behalf of another MAC, not DAD, not neighbour
 * discovery that crossed a router (hop limit below 255)
 */
static void test_learn_ownership(void)
{
	static const uint8_t fwd4[4] = { 198, 51, 100, 7 }, zero4[4], own4[4] = { 10, 0, 0, 9 };
	static const uint8_t fwd6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x42 };
	static const uint8_t own6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 1, [15] = 1 };
	static const uint8_t ll6[16] = { 0xfe, 0x80, [15] = 9 }, unspec[16];
	static const uint8_t mcast6[16] = { 0xff, 0x02, [15] = 1 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	/* forwarded packets: the MAC (the switch learns it too), no address */
	n = ip4_frame(f, mac1, 0, fwd4);
	vs_learn_frame(&t, f, n, 1, &d);
	n = ip6_frame(f, mac1, 0, fwd6);
	vs_learn_frame(&t, f, n, 1, &d);
	/* an ARP probe (RFC 5227: sender 0.0.0.0) */
	n = arp_frame(f, mac1, 0, 1, mac1, zero4);
	vs_learn_frame(&t, f, n, 1, &d);
	/* an ARP whose sender hardware address is not the frame's source */
	n = arp_frame(f, mac1, 0, 1, mac2, own4);
	vs_learn_frame(&t, f, n, 1, &d);
	/* RARP's op 3 in an ARP frame: not a claim */
	n = arp_frame(f, mac1, 0, 3, mac1, own4);
	vs_learn_frame(&t, f, n, 1, &d);
	/* duplicate address detection: NS from :: */
	n = nd_frame(f, mac1, 0, 135, unspec, own6, 0, 255);
	vs_learn_frame(&t, f, n, 1, &d);
	/* an NA that crossed a router (hop limit 254), an NA for a multicast */
	n = nd_frame(f, mac1, 0, 136, own6, own6, 0x20, 254);
	vs_learn_frame(&t, f, n, 1, &d);
	n = nd_frame(f, mac1, 0, 136, own6, mcast6, 0x20, 255);
	vs_learn_frame(&t, f, n, 1, &d);
	/* an NA cut before its target is complete */
	n = nd_frame(f, mac1, 0, 136, own6, own6, 0x20, 255);
	vs_learn_frame(&t, f, n - 1, 1, &d);
	g_assert_cmpuint(t.n_ip, ==, 0);
	g_assert_cmpuint(t.n_l2, ==, 1);

	/* what does show ownership: an NA's target (not its source), an NS's
	 * source, link-local included */
	n = nd_frame(f, mac1, 0, 136, ll6, own6, 0x20, 255);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_nonnull(find_ip(&t, own6, 16));
	g_assert_null(find_ip(&t, ll6, 16));
	n = ns_own(f, mac1, 0, ll6);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_nonnull(find_ip(&t, ll6, 16));
	/* a Router Solicitation's source, not ::; a truncated one teaches nothing */
	n = nd_frame(f, mac1, 0, 133, unspec, NULL, 0, 255);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_cmpuint(t.n_ip, ==, 2);
	n = nd_frame(f, mac1, 0, 133, fwd6, NULL, 0, 255);
	vs_learn_frame(&t, f, 14 + 40 + 7, 2, &d);
	g_assert_cmpuint(t.n_ip, ==, 2);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_cmpuint(t.n_ip, ==, 3);
	g_assert_nonnull(find_ip(&t, fwd6, 16));	/* it is the VM's now */
	n = arp_own(f, mac1, 0, own4);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_nonnull(find_ip(&t, own4, 4));
	g_assert_cmpuint(t.n_ip, ==, 4);
	g_assert_null(find_ip(&t, fwd4, 4));
}

/*
 * The Router flag: kept as the VM advertised it.  An NA's flags are the
 * entry's (Router, Override; never Solicited); a Router Advertisement from
 * a (MAC, VLAN) makes its IPv6 addresses, known and to come, routers'
 */
static void test_learn_router(void)
{
	static const uint8_t ll6[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t g6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t h6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t p6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 3 };
	static const uint8_t o6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 4 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	/* an NA with Router, Solicited and Override: R and O kept */
	n = nd_frame(f, mac1, 0, 136, g6, g6, 0xe0, 255);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(find_ip(&t, g6, 16)->na_flags, ==,
			 VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	/* a proxy's NA (Override clear) stays without Override */
	n = nd_frame(f, mac1, 0, 136, g6, p6, 0x00, 255);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(find_ip(&t, p6, 16)->na_flags, ==, 0);
	/* the VM's later NA is what counts */
	n = nd_frame(f, mac1, 0, 136, g6, g6, 0x20, 255);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(find_ip(&t, g6, 16)->na_flags, ==, VS_LEARN_NA_OVERRIDE);

	/* mac2 on VLAN 5: an address from an NS, then an RA */
	n = ns_own(f, mac2, 5, h6);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_cmpuint(find_ip(&t, h6, 16)->na_flags, ==, VS_LEARN_NA_OVERRIDE);
	n = nd_frame(f, mac2, 5, 134, ll6, NULL, 0, 255);
	vs_learn_frame(&t, f, n, 3, &d);
	g_assert_cmpuint(find_ip(&t, h6, 16)->na_flags, ==,
			 VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	g_assert_cmpuint(find_ip(&t, ll6, 16)->na_flags, ==,
			 VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	n = ns_own(f, mac2, 5, o6);			/* after the RA */
	vs_learn_frame(&t, f, n, 4, &d);
	g_assert_cmpuint(find_ip(&t, o6, 16)->na_flags, ==,
			 VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	/* mac1's addresses did not become a router's */
	g_assert_cmpuint(find_ip(&t, g6, 16)->na_flags, ==, VS_LEARN_NA_OVERRIDE);
	g_assert_cmpuint(find_ip(&t, p6, 16)->na_flags, ==, 0);
}

/*
 * Review B, A1: the NA flags are known from the VM's own NA for the
 * address, or an RA from its (MAC, VLAN), before or after; an address seen
 * only in an NS or RS has unknown flags (it gets no NA: dp_announce.c)
 */
static void test_learn_flags_known(void)
{
	static const uint8_t ll6[16] = { 0xfe, 0x80, [15] = 1 };
	static const uint8_t g6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t h6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	static const uint8_t r6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 3 };
	static const uint8_t a4[4] = { 10, 0, 0, 5 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	n = ns_own(f, mac1, 0, g6);
	vs_learn_frame(&t, f, n, 1, &d);
	n = nd_frame(f, mac1, 0, 133, h6, NULL, 0, 255);	/* an RS */
	vs_learn_frame(&t, f, n, 1, &d);
	n = arp_own(f, mac1, 0, a4);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_false(find_ip(&t, g6, 16)->na_flags_known);
	g_assert_false(find_ip(&t, h6, 16)->na_flags_known);
	g_assert_false(find_ip(&t, a4, 4)->na_flags_known);
	/* its NA for g6: g6's flags known, h6's still not */
	n = nd_frame(f, mac1, 0, 136, g6, g6, 0x20, 255);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_true(find_ip(&t, g6, 16)->na_flags_known);
	g_assert_false(find_ip(&t, h6, 16)->na_flags_known);
	/* a later NS keeps them known */
	n = ns_own(f, mac1, 0, g6);
	vs_learn_frame(&t, f, n, 3, &d);
	g_assert_true(find_ip(&t, g6, 16)->na_flags_known);

	/* mac2: an NS, then an RA from it: known, Router; then one after */
	n = ns_own(f, mac2, 0, r6);
	vs_learn_frame(&t, f, n, 4, &d);
	g_assert_false(find_ip(&t, r6, 16)->na_flags_known);
	n = nd_frame(f, mac2, 0, 134, ll6, NULL, 0, 255);
	vs_learn_frame(&t, f, n, 5, &d);
	g_assert_true(find_ip(&t, r6, 16)->na_flags_known);
	g_assert_true(find_ip(&t, ll6, 16)->na_flags_known);
	g_assert_cmpuint(find_ip(&t, r6, 16)->na_flags, ==,
			 VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
	/* mac1's h6 did not become known by mac2's RA */
	g_assert_false(find_ip(&t, h6, 16)->na_flags_known);
}

/*
 * Review B, A2: a plain ARP reply proves nothing (proxy ARP: the VM's MAC
 * as sender hardware address, the proxied host's as sender protocol
 * address); a request, or a gratuitous reply, from the same address does
 */
static void test_learn_arp_reply(void)
{
	static const uint8_t proxied[4] = { 10, 0, 0, 77 }, own[4] = { 10, 0, 0, 2 };
	static const uint8_t g4[4] = { 10, 0, 0, 3 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	n = arp_frame(f, mac1, 0, 2, mac1, proxied);	/* a reply (tpa 0.0.0.0) */
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(t.n_ip, ==, 0);
	g_assert_cmpuint(t.n_l2, ==, 1);		/* the MAC is the VM's */
	n = arp_own(f, mac1, 0, own);			/* its request */
	vs_learn_frame(&t, f, n, 2, &d);
	n = arp_gratuitous_reply(f, mac1, 0, g4);
	vs_learn_frame(&t, f, n, 3, &d);
	g_assert_cmpuint(t.n_ip, ==, 2);
	g_assert_nonnull(find_ip(&t, own, 4));
	g_assert_nonnull(find_ip(&t, g4, 4));
	g_assert_null(find_ip(&t, proxied, 4));
}

/* VID 4095 is reserved: a frame tagged with it teaches nothing */
static void test_learn_vlan(void)
{
	static const uint8_t a4[4] = { 10, 0, 0, 5 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 0);
	n = arp_own(f, mac1, 4095, a4);
	vs_learn_frame(&t, f, n, 1, &d);
	n = arp_own(f, mac1, 0xf000 | 4095, a4);	/* PCP 7, DEI 1 */
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(d.learned, ==, 0);
	g_assert_cmpuint(t.n_l2 + t.n_ip, ==, 0);
	/* 4094 is a VLAN; the priority bits are not part of the id */
	n = arp_own(f, mac1, 0xe000 | 4094, a4);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(t.n_l2, ==, 1);
	g_assert_cmpuint(t.l2[0].vlan, ==, 4094);
	g_assert_cmpuint(t.ip[0].vlan, ==, 4094);
}

/* The VM left: everything forgotten, the counts too; learning goes on */
static void test_learn_forget(void)
{
	static const uint8_t a4[4] = { 10, 0, 0, 5 };
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 1234);
	n = arp_own(f, mac1, 7, a4);
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(vs_learn_count(&t, 4), ==, 1);
	vs_learn_forget(&t);
	g_assert_cmpuint(t.n_l2 + t.n_ip, ==, 0);
	g_assert_cmpuint(vs_learn_count(&t, 0) + vs_learn_count(&t, 4), ==, 0);
	g_assert_false(vs_learn_has_mac(&t, mac1, 0));
	g_assert_cmpuint(t.age_ms, ==, 1234);
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_cmpuint(t.n_l2 + t.n_ip, ==, 2);
	g_assert_cmpuint(d.learned, ==, 4);
}

/* Sources that are never learned, and frames cut anywhere */
static void test_learn_ignored(void)
{
	static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 }, zero_mac[6];
	static const uint8_t bad4[][4] = { { 0, 0, 0, 0 }, { 127, 0, 0, 1 },
					   { 224, 0, 0, 1 }, { 255, 255, 255, 255 } };
	static const uint8_t bad6[][16] = { { 0 }, { [15] = 1 }, { 0xff, 0x02, [15] = 1 } };
	static const uint8_t a6[16] = { 0xfe, 0x80, [15] = 9 };
	struct vs_learn_delta d = { 0 };
	uint8_t f[128], qinq[4] = { 0, 10, 0x08, 0x00 };
	struct vs_learn t;
	size_t n, cut;
	unsigned int i;

	vs_learn_init(&t, 1000);
	n = arp_own(f, mcast, 0, bad4[0]);
	vs_learn_frame(&t, f, n, 1, &d);
	n = arp_own(f, zero_mac, 0, bad4[0]);
	vs_learn_frame(&t, f, n, 1, &d);
	n = frame(f, mac1, 0, 0x88a8, qinq, sizeof(qinq));	/* QinQ */
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(d.learned, ==, 0);
	for (i = 0; i < G_N_ELEMENTS(bad4); i++) {
		n = arp_own(f, mac1, 0, bad4[i]);
		vs_learn_frame(&t, f, n, 1, &d);
	}
	for (i = 0; i < G_N_ELEMENTS(bad6); i++) {
		n = ns_own(f, mac1, 0, bad6[i]);
		vs_learn_frame(&t, f, n, 1, &d);
	}
	g_assert_cmpuint(d.learned, ==, 1);	/* the MAC only */
	g_assert_cmpuint(t.n_ip, ==, 0);

	/* a link-local address on VLAN 7, cut at every length: never read past */
	vs_learn_init(&t, 1000);
	memset(&d, 0, sizeof(d));
	n = ns_own(f, mac2, 7, a6);
	for (cut = 0; cut < n; cut++) {
		g_autofree uint8_t *copy = g_memdup2(f, cut ? cut : 1);

		vs_learn_frame(&t, copy, cut, 1, &d);
	}
	g_assert_cmpuint(t.n_ip, ==, 0);	/* ICMPv6 header never complete */
	g_assert_cmpuint(t.n_l2, ==, 1);	/* from 18 bytes on */
	vs_learn_frame(&t, f, n, 1, &d);
	g_assert_cmpuint(t.n_ip, ==, 1);
	/* a priority tag (VLAN 0) is the native VLAN */
	n = nd_frame(f, mac2, 0xe000, 135, a6, a6, 0, 255);	/* PCP 7, VID 0 */
	vs_learn_frame(&t, f, n, 2, &d);
	g_assert_cmpuint(t.l2[1].vlan, ==, VS_LEARN_UNTAGGED);
	g_assert_cmpuint(t.ip[1].vlan, ==, VS_LEARN_UNTAGGED);
}

/* The bounds: a full table evicts its least recently seen entry */
static void test_learn_bound(void)
{
	struct vs_learn_delta d = { 0 };
	uint8_t f[128], mac[6], a[4] = { 10, 1, 0, 0 };
	struct vs_learn t;
	unsigned int i;
	size_t n;

	vs_learn_init(&t, 1000000);
	memcpy(mac, mac1, 6);
	for (i = 0; i < 100; i++) {
		mac[5] = (uint8_t)i;
		a[3] = (uint8_t)i;
		n = arp_own(f, mac, 0, a);
		vs_learn_frame(&t, f, n, 10 + i, &d);
		/* the keeper, seen all along, must survive */
		mac[5] = 200;
		a[3] = 200;
		n = arp_own(f, mac, 0, a);
		vs_learn_frame(&t, f, n, 10 + i, &d);
	}
	g_assert_cmpuint(t.n_l2, ==, VS_LEARN_MAX_L2);
	g_assert_cmpuint(t.n_ip, ==, VS_LEARN_MAX_IP);
	g_assert_cmpuint(d.learned, ==, 202);
	g_assert_cmpuint(d.evicted, ==, 202 - VS_LEARN_MAX_L2 - VS_LEARN_MAX_IP);
	g_assert_cmpuint(d.aged, ==, 0);
	g_assert_true(vs_learn_has_mac(&t, mac, 0));	/* the keeper */
	mac[5] = 99;
	g_assert_true(vs_learn_has_mac(&t, mac, 0));
	mac[5] = 100 - (VS_LEARN_MAX_L2 - 1);		/* the oldest kept */
	g_assert_true(vs_learn_has_mac(&t, mac, 0));
	mac[5]--;					/* the oldest went first */
	g_assert_false(vs_learn_has_mac(&t, mac, 0));
	a[3] = 200;
	g_assert_nonnull(find_ip(&t, a, 4));
	a[3] = 100 - (VS_LEARN_MAX_IP - 1);
	g_assert_nonnull(find_ip(&t, a, 4));
	a[3]--;
	g_assert_null(find_ip(&t, a, 4));
	g_assert_cmpuint(vs_learn_count(&t, 0), ==, VS_LEARN_MAX_L2);
	g_assert_cmpuint(vs_learn_count(&t, 4), ==, VS_LEARN_MAX_IP);
	g_assert_cmpuint(vs_learn_count(&t, 6), ==, 0);
}

/* Ageing: not seen for age_ms, forgotten; a full table reuses an aged slot */
static void test_learn_ageing(void)
{
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct vs_learn_delta d = { 0 };
	uint8_t f[128], mac[6];
	struct vs_learn t;
	unsigned int i;
	size_t n;

	vs_learn_init(&t, 100);
	n = ns_own(f, mac1, 5, a6);
	vs_learn_frame(&t, f, n, 1000, &d);
	vs_learn_expire(&t, 1100, &d);		/* exactly age_ms: kept */
	g_assert_cmpuint(d.aged, ==, 0);
	vs_learn_frame(&t, f, n, 1090, &d);	/* seen again */
	vs_learn_expire(&t, 1190, &d);
	g_assert_cmpuint(t.n_l2, ==, 1);
	vs_learn_expire(&t, 1191, &d);
	g_assert_cmpuint(d.aged, ==, 2);
	g_assert_cmpuint(t.n_l2 + t.n_ip, ==, 0);
	g_assert_cmpuint(vs_learn_count(&t, 0) + vs_learn_count(&t, 6), ==, 0);
	g_assert_false(vs_learn_has_mac(&t, mac1, 0));

	/* full of old entries: a new one takes an aged slot, counted as aged */
	memset(&d, 0, sizeof(d));
	memcpy(mac, mac1, 6);
	for (i = 0; i < VS_LEARN_MAX_L2; i++) {
		mac[5] = (uint8_t)i;
		n = frame(f, mac, 0, 0x9000, f, 0);
		vs_learn_frame(&t, f, n, 2000, &d);
	}
	mac[5] = 200;
	n = frame(f, mac, 0, 0x9000, f, 0);
	vs_learn_frame(&t, f, n, 5000, &d);
	g_assert_cmpuint(d.learned, ==, VS_LEARN_MAX_L2 + 1);
	g_assert_cmpuint(d.evicted, ==, 0);
	g_assert_cmpuint(d.aged, ==, 1);
	g_assert_true(vs_learn_has_mac(&t, mac, 5000));
}

/*
 * Review B, A4: ageing is lazy (vs_learn_expire() runs at an announce), but
 * a MAC not seen for age_ms is not the VM's own any more (a MAC used once
 * would make another host's frames own-mac drops in every blackout)
 */
static void test_learn_has_mac_ageing(void)
{
	struct vs_learn_delta d = { 0 };
	struct vs_learn t;
	uint8_t f[128];
	size_t n;

	vs_learn_init(&t, 100);
	n = frame(f, mac1, 0, 0x9000, f, 0);
	vs_learn_frame(&t, f, n, 1000, &d);
	g_assert_true(vs_learn_has_mac(&t, mac1, 1000));
	g_assert_true(vs_learn_has_mac(&t, mac1, 1100));	/* exactly age_ms */
	g_assert_false(vs_learn_has_mac(&t, mac1, 1101));
	g_assert_cmpuint(t.n_l2, ==, 1);			/* still in the table */
	vs_learn_frame(&t, f, n, 1200, &d);			/* seen again */
	g_assert_true(vs_learn_has_mac(&t, mac1, 1201));
}

/* The announcement frames, byte for byte */
static void test_rarp(void)
{
	static const uint8_t want_tagged[64] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1,
		0x81, 0x00, 0x00, 0x64, 0x80, 0x35,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x03,
		0x52, 0x54, 0, 0, 0, 1, 0, 0, 0, 0,
		0x52, 0x54, 0, 0, 0, 1, 0, 0, 0, 0,
	};
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME], old[60];

	/* untagged: exactly the RARP the shim always sent (pkt.c) */
	g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED), ==, 60);
	g_assert_cmpuint(vs_pkt_build_rarp(old, mac1), ==, 60);
	g_assert_cmpmem(buf, 60, old, 60);
	g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, 0), ==, 60);
	g_assert_cmpmem(buf, 60, old, 60);
	g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, 100), ==, 64);
	g_assert_cmpmem(buf, 64, want_tagged, 64);
	g_assert_cmpuint(vs_announce_rarp(buf, 63, mac1, 100), ==, 0);
	g_assert_cmpuint(vs_announce_rarp(buf, 59, mac1, VS_LEARN_UNTAGGED), ==, 0);
}

static void test_garp(void)
{
	static const uint8_t ip[4] = { 192, 0, 2, 10 };
	static const uint8_t want[60] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 2,
		0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01,
		0x52, 0x54, 0, 0, 0, 2, 192, 0, 2, 10,
		0, 0, 0, 0, 0, 0, 192, 0, 2, 10,
	};
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME];

	g_assert_cmpuint(vs_announce_garp(buf, sizeof(buf), mac2, VS_LEARN_UNTAGGED, ip), ==, 60);
	g_assert_cmpmem(buf, 60, want, 60);
	memset(buf, 0xaa, sizeof(buf));
	g_assert_cmpuint(vs_announce_garp(buf, sizeof(buf), mac2, 4094, ip), ==, 64);
	g_assert_cmpmem(buf, 12, want, 12);
	g_assert_cmpuint(buf[12], ==, 0x81);
	g_assert_cmpuint(buf[13], ==, 0x00);
	g_assert_cmpuint(buf[14], ==, 0x0f);
	g_assert_cmpuint(buf[15], ==, 0xfe);
	g_assert_cmpmem(buf + 16, 48, want + 12, 48);
}

/* Reference vectors computed independently (Python, struct and a
 * one's-complement sum over the pseudo-header) */
static void test_na(void)
{
	static const char want_tagged[] =
		"3333000000015254000000018100006486dd6000000000203afffd0000000000000000"
		"00000000640002ff0200000000000000000000000000018800097d20000000fd000000"
		"0000000000000000006400020201525400000001";
	static const uint8_t ip6[16] = { 0xfd, 0, [13] = 0x64, [15] = 2 };
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME + 4], want[90];
	uint32_t sum = 0;
	size_t i, n;

	for (i = 0; i < sizeof(want); i++) {
		unsigned int b;

		g_assert_true(sscanf(want_tagged + 2 * i, "%2x", &b) == 1);
		want[i] = (uint8_t)b;
	}
	memset(buf, 0xaa, sizeof(buf));
	n = vs_announce_na(buf, sizeof(buf), mac1, 100, ip6, VS_LEARN_NA_OVERRIDE);
	g_assert_cmpuint(n, ==, 90);
	g_assert_cmpmem(buf, 90, want, 90);
	g_assert_cmpuint(buf[90], ==, 0xaa);	/* nothing written past the frame */
	/* untagged: the same without the tag */
	n = vs_announce_na(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED, ip6, VS_LEARN_NA_OVERRIDE);
	g_assert_cmpuint(n, ==, 86);
	g_assert_cmpmem(buf, 12, want, 12);
	g_assert_cmpmem(buf + 12, 74, want + 16, 74);
	/* the checksum verifies: pseudo-header + ICMPv6 sums to 0xffff */
	for (i = 0; i < 32; i += 2)
		sum += (uint32_t)(buf[22 + i] << 8 | buf[23 + i]);
	sum += 32 + 58;
	for (i = 0; i < 32; i += 2)
		sum += (uint32_t)(buf[54 + i] << 8 | buf[55 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	g_assert_cmphex(sum, ==, 0xffff);
	g_assert_cmpuint(buf[21], ==, 255);	/* hop limit */
	g_assert_cmpuint(vs_announce_na(buf, 85, mac1, VS_LEARN_UNTAGGED, ip6, 0), ==, 0);
	g_assert_cmpuint(vs_announce_na(buf, 89, mac1, 100, ip6, 0), ==, 0);
}

/* ICMPv6 checksum of an untagged NA at @buf: 0xffff when it verifies */
static uint32_t na_sum(const uint8_t *buf)
{
	uint32_t sum = 32 + 58;
	size_t i;

	for (i = 0; i < 32; i += 2)
		sum += (uint32_t)(buf[22 + i] << 8 | buf[23 + i]);
	for (i = 0; i < 32; i += 2)
		sum += (uint32_t)(buf[54 + i] << 8 | buf[55 + i]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The NA carries Router and Override as asked, never Solicited */
static void test_na_router(void)
{
	static const uint8_t ip6[16] = { 0xfe, 0x80, [15] = 1 };
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME];

	g_assert_cmpuint(vs_announce_na(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED, ip6,
					VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE), ==, 86);
	g_assert_cmphex(buf[54 + 4], ==, 0xa0);
	g_assert_cmphex(na_sum(buf), ==, 0xffff);
	g_assert_cmpuint(vs_announce_na(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED, ip6, 0xff), ==,
			 86);
	g_assert_cmphex(buf[54 + 4], ==, 0xa0);		/* S and the rest: not ours to set */
	g_assert_cmphex(na_sum(buf), ==, 0xffff);
	g_assert_cmpuint(vs_announce_na(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED, ip6, 0), ==, 86);
	g_assert_cmphex(buf[54 + 4], ==, 0x00);		/* a proxy's: no Override */
	g_assert_cmphex(na_sum(buf), ==, 0xffff);
}

/* VLAN ids a frame may carry: 1-4094 tagged, 0 and untagged plain */
static void test_announce_vlan(void)
{
	static const uint8_t ip[4] = { 192, 0, 2, 10 }, ip6[16] = { 0xfd, [15] = 1 };
	static const uint16_t bad[] = { 4095, 4096, 0x8064, 0xfffe };
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME];
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, bad[i]), ==, 0);
		g_assert_cmpuint(vs_announce_garp(buf, sizeof(buf), mac1, bad[i], ip), ==, 0);
		g_assert_cmpuint(vs_announce_na(buf, sizeof(buf), mac1, bad[i], ip6, 0), ==, 0);
	}
	g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, 4094), ==, 64);
	g_assert_cmphex(buf[14] << 8 | buf[15], ==, 4094);
	g_assert_cmpuint(vs_announce_rarp(buf, sizeof(buf), mac1, 1), ==, 64);
	g_assert_cmpuint(vs_announce_garp(buf, sizeof(buf), mac1, 0, ip), ==, 60);
	g_assert_cmpuint(vs_announce_na(buf, sizeof(buf), mac1, VS_LEARN_UNTAGGED, ip6, 0), ==, 86);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/learn/kinds", test_learn_kinds);
	g_test_add_func("/learn/ownership", test_learn_ownership);
	g_test_add_func("/learn/router", test_learn_router);
	g_test_add_func("/learn/na-flags-known", test_learn_flags_known);
	g_test_add_func("/learn/arp-reply", test_learn_arp_reply);
	g_test_add_func("/learn/vlan-reserved", test_learn_vlan);
	g_test_add_func("/learn/forget", test_learn_forget);
	g_test_add_func("/learn/ignored", test_learn_ignored);
	g_test_add_func("/learn/bound", test_learn_bound);
	g_test_add_func("/learn/ageing", test_learn_ageing);
	g_test_add_func("/learn/has-mac-ageing", test_learn_has_mac_ageing);
	g_test_add_func("/announce/rarp", test_rarp);
	g_test_add_func("/announce/garp", test_garp);
	g_test_add_func("/announce/na", test_na);
	g_test_add_func("/announce/na-router", test_na_router);
	g_test_add_func("/announce/vlan", test_announce_vlan);
	return g_test_run();
}
