/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tcp_ct.c - a VM's TCP connections: table, ageing, sequence tracking
 *
 * Theory of operation: see tcp_ct.h.  Every field of a segment comes from
 * struct vs_flow_key (bounds-checked by flow_key.c); the MACs, VLAN tags
 * and TCP options are read here from the frame, each read checked
 * against @len.
 */
#include <errno.h>
#include <string.h>

#include "flow_rules.h"
#include "tcp_ct.h"

const char *const vs_tcp_ct_plan_names[VS_TCP_CT_NUM_PLANS] = {
	[VS_TCP_CT_PLAN_NONE] = "none",
	[VS_TCP_CT_PLAN_RST] = "rst",
	[VS_TCP_CT_PLAN_SOLICIT] = "solicit",
};

int vs_tcp_ct_init(struct vs_tcp_ct *ct, struct vs_tcp_ct_entry *slots, uint32_t n,
		   uint64_t seed, uint64_t idle_ms)
{
	if (n < VS_TCP_CT_MIN_SIZE || n > VS_TCP_CT_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	memset(ct, 0, sizeof(*ct));
	memset(slots, 0, sizeof(*slots) * n);
	ct->slots = slots;
	ct->mask = n - 1;
	ct->seed = seed;
	ct->idle_ms = idle_ms;
	return 0;
}

static inline uint64_t ct_fmix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint32_t ct_hash(const struct vs_tcp_ct *ct, uint8_t af, const uint8_t vm[16],
			uint16_t vm_port, const uint8_t peer[16], uint16_t peer_port)
{
	uint64_t a[4], h;

	memcpy(a, vm, 16);
	memcpy(a + 2, peer, 16);
	h = ct_fmix64(ct->seed ^ ((uint64_t)vm_port << 24 | (uint64_t)peer_port << 8 | af));
	h = ct_fmix64(h ^ a[0]);
	h = ct_fmix64(h ^ a[1]);
	h = ct_fmix64(h ^ a[2]);
	h = ct_fmix64(h ^ a[3]);
	return (uint32_t)h & ct->mask;
}

static inline bool ct_is(const struct vs_tcp_ct_entry *e, uint8_t af, const uint8_t vm[16],
			 uint16_t vm_port, const uint8_t peer[16], uint16_t peer_port)
{
	return e->af == af && e->vm_port == vm_port && e->peer_port == peer_port &&
	       !memcmp(e->vm_addr, vm, 16) && !memcmp(e->peer_addr, peer, 16);
}

struct vs_tcp_ct_entry *vs_tcp_ct_lookup(const struct vs_tcp_ct *ct, enum vs_flow_af af,
					 const uint8_t vm[16], uint16_t vm_port,
					 const uint8_t peer[16], uint16_t peer_port)
{
	uint32_t h, i;

	if (af == VS_FLOW_AF_NONE)
		return NULL;
	h = ct_hash(ct, (uint8_t)af, vm, vm_port, peer, peer_port);
	for (i = 0; i < VS_TCP_CT_PROBE; i++) {
		struct vs_tcp_ct_entry *e = &ct->slots[(h + i) & ct->mask];

		if (ct_is(e, (uint8_t)af, vm, vm_port, peer, peer_port))
			return e;
	}
	return NULL;
}

bool vs_tcp_ct_closed(const struct vs_tcp_ct_entry *e)
{
	const uint16_t fins = VS_TCP_CT_VM_FIN | VS_TCP_CT_PEER_FIN | VS_TCP_CT_VM_SEQ |
			      VS_TCP_CT_PEER_SEQ | VS_TCP_CT_VM_ACK | VS_TCP_CT_PEER_ACK;

	if (e->flags & VS_TCP_CT_RST)
		return true;
	return (e->flags & fins) == fins && e->peer_ack == e->vm_nxt && e->vm_ack == e->peer_nxt;
}

/* 0 free, 1 closed, 2 idle (LRU among them), 3 keep */
static unsigned int ct_reuse_rank(const struct vs_tcp_ct *ct, const struct vs_tcp_ct_entry *e,
				  uint64_t now_ms)
{
	if (e->af == VS_FLOW_AF_NONE)
		return 0;
	if (vs_tcp_ct_closed(e))
		return 1;
	if (now_ms >= e->last_ms && now_ms - e->last_ms >= ct->idle_ms)
		return 2;
	return 3;
}

static struct vs_tcp_ct_entry *ct_place(struct vs_tcp_ct *ct, uint8_t af, const uint8_t vm[16],
					uint16_t vm_port, const uint8_t peer[16],
					uint16_t peer_port, uint64_t now_ms)
{
	uint32_t h = ct_hash(ct, af, vm, vm_port, peer, peer_port), i;
	struct vs_tcp_ct_entry *best = NULL;
	unsigned int best_rank = 3;

	for (i = 0; i < VS_TCP_CT_PROBE && best_rank; i++) {
		struct vs_tcp_ct_entry *e = &ct->slots[(h + i) & ct->mask];
		unsigned int rank = ct_reuse_rank(ct, e, now_ms);

		if (rank < best_rank || (rank == best_rank && rank < 3 && best &&
					 e->last_ms < best->last_ms)) {
			best = e;
			best_rank = rank;
		}
	}
	if (!best)
		return NULL;
	if (best->af == VS_FLOW_AF_NONE)
		ct->stats.created++;
	else
		ct->stats.reused++;
	if (best_rank == 2)
		ct->stats.aged++;
	memset(best, 0, sizeof(*best));
	best->af = af;
	memcpy(best->vm_addr, vm, 16);
	memcpy(best->peer_addr, peer, 16);
	best->vm_port = vm_port;
	best->peer_port = peer_port;
	return best;
}

/*
 * ct_tsval() - the TSval of a segment's timestamp option (RFC 7323), if
 * the whole option region is in the frame
 *
 * Return: true and *@tsval if the segment carries one
 */
static bool ct_tsval(const struct vs_flow_key *k, const uint8_t *f, size_t len, uint32_t *tsval)
{
	size_t off = (size_t)k->l4_off + 20, end = k->payload_off;

	if (end > len)
		return false;
	while (off < end) {
		uint8_t kind = f[off];

		if (kind == 0)			/* end of options */
			return false;
		if (kind == 1) {		/* NOP */
			off++;
			continue;
		}
		if (end - off < 2 || f[off + 1] < 2 || f[off + 1] > end - off)
			return false;		/* malformed */
		if (kind == 8 && f[off + 1] == 10) {
			*tsval = (uint32_t)f[off + 2] << 24 | (uint32_t)f[off + 3] << 16 |
				 (uint32_t)f[off + 4] << 8 | f[off + 5];
			return true;
		}
		off += f[off + 1];
	}
	return false;
}

/* Record the MACs and tags of a frame the way the VM would send it */
static void ct_learn_l2(struct vs_tcp_ct_entry *e, const struct vs_flow_key *k,
			const uint8_t *f, size_t len, enum vs_tcp_ct_dir dir)
{
	unsigned int i;

	memcpy(e->vm_mac, dir == VS_TCP_CT_FROM_VM ? f + 6 : f, 6);
	memcpy(e->peer_mac, dir == VS_TCP_CT_FROM_VM ? f : f + 6, 6);
	e->n_tags = 0;
	for (i = 0; i < k->n_tags && 12 + 4 * (size_t)i + 4 <= len; i++) {
		e->tags[i][0] = (uint16_t)(f[12 + 4 * i] << 8 | f[13 + 4 * i]);
		e->tags[i][1] = (uint16_t)(f[14 + 4 * i] << 8 | f[15 + 4 * i]);
		e->n_tags++;
	}
}

/* Keep the larger of *@cur and @v in sequence space, *@cur valid if @flag is set */
static void ct_advance(uint32_t *cur, uint16_t *flags, uint16_t flag, uint32_t v)
{
	if (!(*flags & flag) || VS_SEQ_GT(v, *cur)) {
		*cur = v;
		*flags |= flag;
	}
}

enum vs_flow_tcp_loss vs_tcp_ct_on_loss(const struct vs_tcp_ct_entry *e,
					const struct vs_flow_table *rules)
{
	struct vs_flow_key k;

	if (!rules || !rules->tcp_loss_rules)
		return (enum vs_flow_tcp_loss)e->on_loss;
	/* the connection's frames to the VM, as the rules match them: its
	 * tuple and outer VLAN (learned from the VM's frames too); no DSCP, a
	 * per-segment mark a rule with tcp-on-loss cannot match */
	memset(&k, 0, sizeof(k));
	memcpy(k.src, e->peer_addr, sizeof(k.src));
	memcpy(k.dst, e->vm_addr, sizeof(k.dst));
	k.af = (enum vs_flow_af)e->af;
	k.cls = VS_PKT_TCP;
	k.proto = VS_IPPROTO_TCP;
	k.flags = VS_FLOW_KEY_L3 | VS_FLOW_KEY_PORTS | VS_FLOW_KEY_TCP;
	k.sport = e->peer_port;
	k.dport = e->vm_port;
	if (e->n_tags) {
		k.vlan = e->tags[0][1] & 0x0fff;
		k.flags |= VS_FLOW_KEY_VLAN;
	}
	return vs_flow_rules_tcp_loss(rules, &k, (enum vs_flow_tcp_loss)e->on_loss);
}

struct vs_tcp_ct_entry *vs_tcp_ct_update(struct vs_tcp_ct *ct, const struct vs_flow_key *k,
					 const uint8_t *f, size_t len,
					 enum vs_tcp_ct_dir dir, enum vs_flow_tcp_loss on_loss,
					 uint64_t now_ms)
{
	bool from_vm = dir == VS_TCP_CT_FROM_VM;
	const uint8_t *vm = from_vm ? k->src : k->dst, *peer = from_vm ? k->dst : k->src;
	uint16_t vm_port = from_vm ? k->sport : k->dport, peer_port = from_vm ? k->dport : k->sport;
	struct vs_tcp_ct_entry *e;
	uint32_t end, tsval;
	bool was_closed, ts;

	if (!(k->flags & VS_FLOW_KEY_TCP) || !(k->flags & VS_FLOW_KEY_L3) || len < 12)
		return NULL;
	e = vs_tcp_ct_lookup(ct, k->af, vm, vm_port, peer, peer_port);
	if (!e) {
		if (k->tcp_flags & VS_TCP_RST)
			return NULL;		/* nothing to track */
		e = ct_place(ct, (uint8_t)k->af, vm, vm_port, peer, peer_port, now_ms);
		if (!e) {
			ct->stats.full++;
			return NULL;
		}
	} else if ((k->tcp_flags & (VS_TCP_SYN | VS_TCP_ACK)) == VS_TCP_SYN) {
		/* a new connection on the same ports: start over */
		e->flags = 0;
		e->solicits = 0;
	}
	was_closed = vs_tcp_ct_closed(e);
	e->last_ms = now_ms;
	e->on_loss = (uint8_t)on_loss;
	/* where a RST goes: learned from the VM's own frames only (a peer's
	 * segment may be forged on the promiscuous uplink: review 70); an
	 * entry is made by the VM's frame, so it always has them */
	if (from_vm)
		ct_learn_l2(e, k, f, len, dir);

	end = k->seq + k->payload_len + !!(k->tcp_flags & VS_TCP_SYN) +
	      !!(k->tcp_flags & VS_TCP_FIN);
	ts = ct_tsval(k, f, len, &tsval);
	if (from_vm) {
		ct_advance(&e->vm_nxt, &e->flags, VS_TCP_CT_VM_SEQ, end);
		if (k->tcp_flags & VS_TCP_ACK)
			ct_advance(&e->vm_ack, &e->flags, VS_TCP_CT_VM_ACK, k->ack);
		e->vm_win = k->win;
		if (k->tcp_flags & VS_TCP_FIN)
			e->flags |= VS_TCP_CT_VM_FIN;
		if (ts) {
			e->vm_tsval = tsval;
			e->flags |= VS_TCP_CT_VM_TS;
		}
	} else {
		ct_advance(&e->peer_nxt, &e->flags, VS_TCP_CT_PEER_SEQ, end);
		if (k->tcp_flags & VS_TCP_ACK) {
			if ((e->flags & VS_TCP_CT_VM_SEQ) && VS_SEQ_GT(k->ack, e->vm_nxt)) {
				ct->stats.bad_ack++;
			} else {
				ct_advance(&e->peer_ack, &e->flags, VS_TCP_CT_PEER_ACK, k->ack);
				e->flags |= VS_TCP_CT_FRESH_ACK;
			}
		}
		e->peer_win = k->win;
		if (k->tcp_flags & VS_TCP_FIN)
			e->flags |= VS_TCP_CT_PEER_FIN;
		if (ts) {
			e->peer_tsval = tsval;
			e->flags |= VS_TCP_CT_PEER_TS;
		}
	}
	if (k->tcp_flags & VS_TCP_RST)
		e->flags |= VS_TCP_CT_RST;
	if (!was_closed && vs_tcp_ct_closed(e))
		ct->stats.closed++;
	return e;
}

struct vs_tcp_ct_entry *vs_tcp_ct_next(const struct vs_tcp_ct *ct, uint32_t *cursor)
{
	while ((uint64_t)*cursor <= ct->mask) {
		struct vs_tcp_ct_entry *e = &ct->slots[(*cursor)++];

		if (e->af != VS_FLOW_AF_NONE)
			return e;
	}
	return NULL;
}

enum vs_tcp_ct_plan vs_tcp_ct_plan(const struct vs_tcp_ct_entry *e)
{
	bool acked = e->flags & VS_TCP_CT_PEER_ACK;

	if (e->af == VS_FLOW_AF_NONE || vs_tcp_ct_closed(e))
		return VS_TCP_CT_PLAN_NONE;
	if (acked && (!(e->flags & VS_TCP_CT_VM_SEQ) || e->peer_ack == e->vm_nxt ||
		      (e->solicits && (e->flags & VS_TCP_CT_FRESH_ACK))))
		return VS_TCP_CT_PLAN_RST;
	if (e->solicits < VS_TCP_CT_MAX_SOLICITS && (e->flags & (VS_TCP_CT_VM_SEQ | VS_TCP_CT_PEER_SEQ)))
		return VS_TCP_CT_PLAN_SOLICIT;
	return acked ? VS_TCP_CT_PLAN_RST : VS_TCP_CT_PLAN_NONE;
}

uint32_t vs_tcp_ct_export(const struct vs_tcp_ct *ct, struct vs_tcp_ct_entry *out, uint32_t max)
{
	const struct vs_tcp_ct_entry *e;
	uint32_t cursor = 0, n = 0;

	while (n < max && (e = vs_tcp_ct_next(ct, &cursor))) {
		if (vs_tcp_ct_closed(e))
			continue;
		out[n] = *e;
		out[n].flags &= VS_TCP_CT_EXPORT_FLAGS;
		out[n].solicits = 0;
		n++;
	}
	return n;
}

/*
 * An imported copy of a connection the table already tracks: each number
 * takes the later of the two (modulo 2^32), so neither side's older view
 * wins.  Ours may be newer (the VM sent here since it arrived) or older
 * (A -> B -> A: A kept its entry from before the VM left, and B's copy
 * has what the VM sent at B; review 74 M1: A's stale number won, and its
 * RST fell outside the peer's window).  Where the VM's and the peer's
 * frames go (MACs, tags) stays ours: learned from the VM's frames here.
 */
static void ct_merge(struct vs_tcp_ct_entry *own, const struct vs_tcp_ct_entry *e)
{
	if (e->flags & VS_TCP_CT_VM_SEQ) {
		if (!(own->flags & VS_TCP_CT_VM_SEQ) || VS_SEQ_GT(e->vm_nxt, own->vm_nxt))
			own->vm_win = e->vm_win;
		ct_advance(&own->vm_nxt, &own->flags, VS_TCP_CT_VM_SEQ, e->vm_nxt);
	}
	if (e->flags & VS_TCP_CT_VM_ACK)
		ct_advance(&own->vm_ack, &own->flags, VS_TCP_CT_VM_ACK, e->vm_ack);
	if (e->flags & VS_TCP_CT_PEER_SEQ) {
		if (!(own->flags & VS_TCP_CT_PEER_SEQ) || VS_SEQ_GT(e->peer_nxt, own->peer_nxt))
			own->peer_win = e->peer_win;
		ct_advance(&own->peer_nxt, &own->flags, VS_TCP_CT_PEER_SEQ, e->peer_nxt);
	}
	/* never beyond what the VM sent, as for a segment (bad_ack) */
	if ((e->flags & VS_TCP_CT_PEER_ACK) &&
	    !((own->flags & VS_TCP_CT_VM_SEQ) && VS_SEQ_GT(e->peer_ack, own->vm_nxt)))
		ct_advance(&own->peer_ack, &own->flags, VS_TCP_CT_PEER_ACK, e->peer_ack);
	if ((e->flags & VS_TCP_CT_VM_TS) && !(own->flags & VS_TCP_CT_VM_TS)) {
		own->vm_tsval = e->vm_tsval;
		own->flags |= VS_TCP_CT_VM_TS;
	}
	if ((e->flags & VS_TCP_CT_PEER_TS) && !(own->flags & VS_TCP_CT_PEER_TS)) {
		own->peer_tsval = e->peer_tsval;
		own->flags |= VS_TCP_CT_PEER_TS;
	}
	own->flags |= e->flags & (VS_TCP_CT_VM_FIN | VS_TCP_CT_PEER_FIN);
}

enum vs_tcp_ct_import vs_tcp_ct_import(struct vs_tcp_ct *ct, const struct vs_tcp_ct_entry *e,
				       enum vs_flow_tcp_loss on_loss, uint64_t now_ms)
{
	struct vs_tcp_ct_entry *slot;

	if ((e->af != VS_FLOW_AF_INET && e->af != VS_FLOW_AF_INET6) ||
	    e->n_tags > VS_PKT_MAX_VLAN_TAGS || vs_tcp_ct_closed(e))
		return VS_TCP_CT_INVALID;
	slot = vs_tcp_ct_lookup(ct, (enum vs_flow_af)e->af, e->vm_addr, e->vm_port, e->peer_addr,
				e->peer_port);
	if (slot) {
		ct_merge(slot, e);
		return VS_TCP_CT_KEPT;
	}
	slot = ct_place(ct, e->af, e->vm_addr, e->vm_port, e->peer_addr, e->peer_port, now_ms);
	if (!slot) {
		ct->stats.full++;
		return VS_TCP_CT_NO_SLOT;
	}
	*slot = *e;
	slot->flags &= VS_TCP_CT_EXPORT_FLAGS;
	slot->solicits = 0;
	slot->on_loss = (uint8_t)on_loss;
	slot->last_ms = now_ms;
	ct->stats.imported++;
	return VS_TCP_CT_IMPORTED;
}
