/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * learn.c - the table of the addresses a VM transmits from
 *
 * Theory of operation: see learn.h.  Every read of the frame is checked
 * against its length with "is there room for N more bytes at off"
 * (len >= off && len - off >= N), which cannot overflow.
 */
#include <string.h>

#include "learn.h"

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_ARP	0x0806
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define ETHERTYPE_QINQ	0x88a8
#define IPPROTO_ICMPV6_	58
#define ICMPV6_RS	133
#define ICMPV6_RA	134
#define ICMPV6_NS	135
#define ICMPV6_NA	136
#define ARP_REQUEST	1
#define ARP_REPLY	2

static inline bool learn_room(size_t len, size_t off, size_t need)
{
	return len >= off && len - off >= need;
}

static inline uint16_t learn_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void learn_publish_counts(struct vs_learn *t)
{
	uint32_t n4 = 0, i;

	for (i = 0; i < t->n_ip; i++)
		n4 += t->ip[i].family == VS_LEARN_IPV4;
	__atomic_store_n(&t->shown[0], t->n_l2, __ATOMIC_RELAXED);
	__atomic_store_n(&t->shown[1], n4, __ATOMIC_RELAXED);
	__atomic_store_n(&t->shown[2], t->n_ip - n4, __ATOMIC_RELAXED);
}

void vs_learn_init(struct vs_learn *t, uint64_t age_ms)
{
	memset(t, 0, sizeof(*t));
	t->age_ms = age_ms ? age_ms : VS_LEARN_DEFAULT_AGE_MS;
}

void vs_learn_forget(struct vs_learn *t)
{
	t->n_l2 = t->n_ip = 0;
	t->last_l2 = t->last_ip = 0;
	learn_publish_counts(t);
}

/* Is an entry last seen at @seen too old at @now */
static inline bool learn_old(const struct vs_learn *t, uint64_t seen, uint64_t now)
{
	return now > seen && now - seen > t->age_ms;
}

/*
 * learn_l2() - (@mac, @vlan) seen at @now, added if new
 *
 * Return: its entry
 */
static struct vs_learn_l2 *learn_l2(struct vs_learn *t, const uint8_t mac[6], uint16_t vlan,
				    uint64_t now, struct vs_learn_delta *d)
{
	struct vs_learn_l2 *e;
	uint32_t i, victim = 0;

	if (t->last_l2 < t->n_l2) {
		e = &t->l2[t->last_l2];
		if (e->vlan == vlan && !memcmp(e->mac, mac, 6)) {
			e->seen_ms = now;
			return e;
		}
	}
	for (i = 0; i < t->n_l2; i++) {
		e = &t->l2[i];
		if (e->vlan == vlan && !memcmp(e->mac, mac, 6)) {
			e->seen_ms = now;
			t->last_l2 = i;
			return e;
		}
		if (e->seen_ms < t->l2[victim].seen_ms)
			victim = i;
	}
	if (t->n_l2 < VS_LEARN_MAX_L2) {
		victim = t->n_l2++;
	} else if (learn_old(t, t->l2[victim].seen_ms, now)) {
		d->aged++;
	} else {
		d->evicted++;
	}
	e = &t->l2[victim];
	memcpy(e->mac, mac, 6);
	e->vlan = vlan;
	e->router = false;
	e->seen_ms = now;
	t->last_l2 = victim;
	d->learned++;
	learn_publish_counts(t);
	return e;
}

/*
 * learn_ip() - @addr seen at @now from (@l2's MAC, VLAN), added if new
 * @na_flags:	IPv6: the flags of the VM's NA for it, or -1 (not an NA:
 *		Override, and Router if @l2 sent an RA, for a new entry; a
 *		known one keeps its own, plus Router if @l2 sent an RA)
 *
 * The flags are known (na_flags_known) once the VM sent an NA for the
 * address or an RA from its (MAC, VLAN); until then the address is not
 * announced with an NA (learn.h).
 */
static void learn_ip(struct vs_learn *t, enum vs_learn_family fam, const uint8_t *addr,
		     const struct vs_learn_l2 *l2, int na_flags, uint64_t now,
		     struct vs_learn_delta *d)
{
	const uint8_t *mac = l2->mac;
	uint16_t vlan = l2->vlan;
	size_t alen = fam == VS_LEARN_IPV4 ? 4 : 16;
	struct vs_learn_ip *e;
	uint32_t i, victim = 0;

	if (t->last_ip < t->n_ip) {
		e = &t->ip[t->last_ip];
		if (e->family == fam && e->vlan == vlan && !memcmp(e->addr, addr, alen))
			goto hit;
	}
	for (i = 0; i < t->n_ip; i++) {
		e = &t->ip[i];
		if (e->family == fam && e->vlan == vlan && !memcmp(e->addr, addr, alen)) {
			t->last_ip = i;
			goto hit;
		}
		if (e->seen_ms < t->ip[victim].seen_ms)
			victim = i;
	}
	if (t->n_ip < VS_LEARN_MAX_IP) {
		victim = t->n_ip++;
	} else if (learn_old(t, t->ip[victim].seen_ms, now)) {
		d->aged++;
	} else {
		d->evicted++;
	}
	e = &t->ip[victim];
	memset(e->addr, 0, sizeof(e->addr));
	memcpy(e->addr, addr, alen);
	memcpy(e->mac, mac, 6);
	e->family = (uint8_t)fam;
	e->vlan = vlan;
	e->na_flags = fam == VS_LEARN_IPV4 ? 0 : VS_LEARN_NA_OVERRIDE;
	e->na_flags_known = false;
	e->seen_ms = now;
	t->last_ip = victim;
	d->learned++;
	learn_publish_counts(t);
	goto flags;
hit:
	e->seen_ms = now;
	if (memcmp(e->mac, mac, 6))	/* the address moved to another MAC */
		memcpy(e->mac, mac, 6);
flags:
	if (fam == VS_LEARN_IPV4)
		return;
	if (na_flags >= 0) {
		e->na_flags = (uint8_t)na_flags & (VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE);
		e->na_flags_known = true;
	} else if (l2->router) {
		e->na_flags |= VS_LEARN_NA_ROUTER;
		e->na_flags_known = true;
	}
}

/* (@l2's MAC, VLAN) sent a Router Advertisement: the VM routes there */
static void learn_router(struct vs_learn *t, struct vs_learn_l2 *l2)
{
	uint32_t i;

	l2->router = true;
	for (i = 0; i < t->n_ip; i++)
		if (t->ip[i].family == VS_LEARN_IPV6 && t->ip[i].vlan == l2->vlan &&
		    !memcmp(t->ip[i].mac, l2->mac, 6)) {
			t->ip[i].na_flags |= VS_LEARN_NA_ROUTER;
			t->ip[i].na_flags_known = true;
		}
}

/* A unicast source MAC, not all zeroes */
static bool learn_mac_ok(const uint8_t *m)
{
	static const uint8_t zero[6];

	return !(m[0] & 1) && memcmp(m, zero, 6);
}

/* A unicast IPv4 source: not 0/8, 127/8, multicast, reserved, broadcast */
static bool learn_ip4_ok(const uint8_t *a)
{
	return a[0] != 0 && a[0] != 127 && a[0] < 224;
}

/* A unicast IPv6 source: not ::, ::1, multicast */
static bool learn_ip6_ok(const uint8_t *a)
{
	static const uint8_t zero[15];

	if (a[0] == 0xff)
		return false;
	return memcmp(a, zero, 15) || (a[15] != 0 && a[15] != 1);
}

/*
 * learn_arp() - an ARP request, or a gratuitous ARP reply (sender and
 * target protocol addresses equal): its sender protocol address, if its
 * sender hardware address is the frame's source MAC and it is not a
 * probe's 0.0.0.0.  Not a plain reply: it answers for the target of a
 * request, which a proxy ARP answers for another host (learn.h).
 */
static void learn_arp(struct vs_learn *t, const uint8_t *arp, size_t room,
		      const struct vs_learn_l2 *l2, uint64_t now, struct vs_learn_delta *d)
{
	uint16_t op;

	if (room < 28 || learn_be16(arp) != 1 || learn_be16(arp + 2) != ETHERTYPE_IPV4 ||
	    arp[4] != 6 || arp[5] != 4)
		return;
	op = learn_be16(arp + 6);
	if (op != ARP_REQUEST && !(op == ARP_REPLY && !memcmp(arp + 14, arp + 24, 4)))
		return;
	if (memcmp(arp + 8, l2->mac, 6) || !learn_ip4_ok(arp + 14))
		return;
	learn_ip(t, VS_LEARN_IPV4, arp + 14, l2, -1, now, d);
}

/*
 * learn_nd() - an IPv6 packet: what its neighbour discovery message, if it
 * is one, shows the VM owns (see the theory of operation in learn.h)
 */
static void learn_nd(struct vs_learn *t, const uint8_t *ip6, size_t room,
		     struct vs_learn_l2 *l2, uint64_t now, struct vs_learn_delta *d)
{
	const uint8_t *icmp = ip6 + 40;

	/* RFC 4861 6.1, 7.1: an RS has 8 bytes or more, an RA 16, an NS or
	 * NA 24 (with its target); hop limit 255 */
	if (room < 40 + 8 || (ip6[0] >> 4) != 6 || ip6[6] != IPPROTO_ICMPV6_ ||
	    ip6[7] != 255 || icmp[1] != 0)
		return;
	switch (icmp[0]) {
	case ICMPV6_RS:
		if (learn_ip6_ok(ip6 + 8))	/* not :: (no address yet) */
			learn_ip(t, VS_LEARN_IPV6, ip6 + 8, l2, -1, now, d);
		break;
	case ICMPV6_RA:
		if (room < 40 + 16)
			break;
		learn_router(t, l2);
		if (learn_ip6_ok(ip6 + 8))
			learn_ip(t, VS_LEARN_IPV6, ip6 + 8, l2, -1, now, d);
		break;
	case ICMPV6_NS:
		/* not :: (duplicate address detection) */
		if (room >= 40 + 24 && learn_ip6_ok(ip6 + 8))
			learn_ip(t, VS_LEARN_IPV6, ip6 + 8, l2, -1, now, d);
		break;
	case ICMPV6_NA:
		if (room >= 40 + 24 && learn_ip6_ok(icmp + 8))
			learn_ip(t, VS_LEARN_IPV6, icmp + 8, l2, icmp[4], now, d);
		break;
	default:
		break;
	}
}

void vs_learn_frame(struct vs_learn *t, const uint8_t *f, size_t len, uint64_t now,
		    struct vs_learn_delta *d)
{
	const uint8_t *mac = f + 6;
	uint16_t vlan = VS_LEARN_UNTAGGED, type;
	struct vs_learn_l2 *l2;
	size_t l3;

	if (len < 14 || !learn_mac_ok(mac))
		return;
	type = learn_be16(f + 12);
	if (type == ETHERTYPE_QINQ)
		return;		/* announcements carry one tag */
	l3 = 14;
	if (type == ETHERTYPE_VLAN) {
		if (!learn_room(len, 14, 4))
			return;
		vlan = learn_be16(f + 14) & 0x0fff;
		if (vlan == VS_LEARN_VID_RESERVED)
			return;
		if (vlan == 0)	/* priority tag: the native VLAN */
			vlan = VS_LEARN_UNTAGGED;
		type = learn_be16(f + 16);
		l3 = 18;
	}
	l2 = learn_l2(t, mac, vlan, now, d);

	switch (type) {
	case ETHERTYPE_ARP:
		learn_arp(t, f + l3, len - l3, l2, now, d);
		break;
	case ETHERTYPE_IPV6:
		learn_nd(t, f + l3, len - l3, l2, now, d);
		break;
	default:	/* IPv4 (a source address proves nothing), a second tag,
			 * not IP: the MAC and VLAN only */
		break;
	}
}

void vs_learn_expire(struct vs_learn *t, uint64_t now, struct vs_learn_delta *d)
{
	uint32_t i, k, before_l2 = t->n_l2, before_ip = t->n_ip;

	for (i = k = 0; i < t->n_l2; i++)
		if (!learn_old(t, t->l2[i].seen_ms, now))
			t->l2[k++] = t->l2[i];
	t->n_l2 = k;
	for (i = k = 0; i < t->n_ip; i++)
		if (!learn_old(t, t->ip[i].seen_ms, now))
			t->ip[k++] = t->ip[i];
	t->n_ip = k;
	if (t->n_l2 == before_l2 && t->n_ip == before_ip)
		return;
	d->aged += (before_l2 - t->n_l2) + (before_ip - t->n_ip);
	t->last_l2 = t->last_ip = 0;
	learn_publish_counts(t);
}

bool vs_learn_has_mac(const struct vs_learn *t, const uint8_t mac[6], uint64_t now)
{
	uint32_t i;

	/* ageing is lazy (vs_learn_expire() at an announce): an entry not
	 * seen for age_ms is not the VM's any more, whether or not it is
	 * still in the table */
	for (i = 0; i < t->n_l2; i++)
		if (!memcmp(t->l2[i].mac, mac, 6) && !learn_old(t, t->l2[i].seen_ms, now))
			return true;
	return false;
}

uint32_t vs_learn_count(const struct vs_learn *t, unsigned int what)
{
	if (what == 4)
		return __atomic_load_n(&t->shown[1], __ATOMIC_RELAXED);
	if (what == 6)
		return __atomic_load_n(&t->shown[2], __ATOMIC_RELAXED);
	return __atomic_load_n(&t->shown[0], __ATOMIC_RELAXED);
}
