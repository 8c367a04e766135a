/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_flow.c - libFuzzer target for the flow-policy frame path:
 * vs_flow_key_parse(), vs_flow_key_events(), vs_flow_rules_match(),
 * vs_tcp_ct_update() and the reset frames (vhost-shim/policy/)
 *
 * Theory of operation: the input is one frame, of any length, copied
 * into a heap block of exactly that length (a read one byte past it is an
 * ASan report).  Checked:
 *  - the class is vs_pkt_classify()'s, for the whole frame and for cuts;
 *  - the key's fields are consistent with its flags, and every offset it
 *    reports as inside the frame is; bytes after @len change nothing;
 *  - a cut frame never has a field the whole frame lacks;
 *  - the matcher returns a rule of the table, the same as a plain scan
 *    over a fixed rule set, and no rule for runts and own frames;
 *  - the frame, fed to a connection table as coming from the peer and
 *    from the VM, yields RST and solicitation frames that fit
 *    VS_TCP_RESET_MAX_FRAME, parse back as TCP from the VM's address and
 *    port to the peer's with the planned sequence number, and whose IP
 *    and TCP checksums verify (recomputed here, RFC 1071).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flow_key.h"
#include "flow_rules.h"
#include "flow_set.h"
#include "flow_syntax.h"
#include "fuzz_common.h"
#include "pkt.h"
#include "tcp_ct.h"
#include "tcp_reset.h"

static const uint8_t fuzz_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Rules over every field, so that the matcher's paths are all reached */
static const char *const fuzz_rules[] = {
	"name=host match=src=10.0.0.1",
	"name=net8 match=src=10.0.0.0/8",
	"name=dst6 match=dst=fe80::/10,proto=udp",
	"name=src6 match=src=fe80::1/128",
	"name=sip match=proto=udp,dport=5060-5061",
	"name=web match=proto=tcp,dport=80 action=hold tcp-on-loss=reset",
	"name=rtp match=sport=10000-20000",
	"name=vlan10 match=vlan=10",
	"name=ef match=dscp=ef",
	"name=icmp match=proto=icmp action=drop",
	"name=any4 match=src=0.0.0.0/0,vlan=1",
};

static struct vs_flow_set *fuzz_set;
static struct vs_flow_table *fuzz_table;
static const struct vs_flow_rule *fuzz_by_slot[G_N_ELEMENTS(fuzz_rules)];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vs_buf_policy p;
	guint i, j;

	fuzz_quiet_logs();
	vs_buf_policy_init(&p);
	fuzz_set = vs_flow_set_new();
	for (i = 0; i < G_N_ELEMENTS(fuzz_rules); i++)
		if (!vs_flow_set_add(fuzz_set, vs_flow_syntax_parse_line(fuzz_rules[i], NULL), NULL))
			abort();
	fuzz_table = vs_flow_set_compile(fuzz_set, NULL, &p, NULL, NULL);
	if (!fuzz_table || fuzz_table->n_user != G_N_ELEMENTS(fuzz_rules))
		abort();
	for (i = 0; i < fuzz_table->n_user; i++)
		for (j = 0; j < fuzz_set->rules->len; j++)
			if (((struct vs_flow_rule *)fuzz_set->rules->pdata[j])->id ==
			    fuzz_table->rules[i].id)
				fuzz_by_slot[i] = fuzz_set->rules->pdata[j];
	return 0;
}

static bool ref_prefix(const struct vs_flow_prefix *p, enum vs_flow_af af, const uint8_t *a)
{
	unsigned int i;

	if (af != p->af)
		return false;
	for (i = 0; i < p->len; i++)
		if ((a[i / 8] ^ p->addr[i / 8]) & (0x80u >> (i % 8)))
			return false;
	return true;
}

/* flow_rules.h's match semantics, read independently */
static bool ref_match(const struct vs_flow_rule *r, const struct vs_flow_key *k)
{
	const struct vs_flow_match *m = &r->match;

	if ((m->fields & VS_FLOW_M_VLAN) && (!(k->flags & VS_FLOW_KEY_VLAN) || k->vlan != m->vlan))
		return false;
	if (!(m->fields & VS_FLOW_M_L3))
		return true;
	if (!(k->flags & VS_FLOW_KEY_L3))
		return false;
	if ((m->fields & VS_FLOW_M_SRC) && !ref_prefix(&m->src, k->af, k->src))
		return false;
	if ((m->fields & VS_FLOW_M_DST) && !ref_prefix(&m->dst, k->af, k->dst))
		return false;
	if ((m->fields & VS_FLOW_M_PROTO) && k->proto != m->proto)
		return false;
	if ((m->fields & VS_FLOW_M_DSCP) && k->dscp != m->dscp)
		return false;
	if ((m->fields & (VS_FLOW_M_SPORT | VS_FLOW_M_DPORT)) && !(k->flags & VS_FLOW_KEY_PORTS))
		return false;
	if ((m->fields & VS_FLOW_M_SPORT) && (k->sport < m->sport_lo || k->sport > m->sport_hi))
		return false;
	return !(m->fields & VS_FLOW_M_DPORT) || (k->dport >= m->dport_lo && k->dport <= m->dport_hi);
}

static enum vs_pkt_class parse_exact(const uint8_t *f, size_t n, size_t wire,
				     struct vs_flow_key *k)
{
	uint8_t *copy = fuzz_dup_exact(f, n);
	enum vs_pkt_class c = vs_flow_key_parse(copy, n, wire, fuzz_vm_mac, k);

	FUZZ_CHECK(c == k->cls, "returned %d, key says %d", (int)c, (int)k->cls);
	FUZZ_CHECK(c == vs_pkt_classify(copy, n, fuzz_vm_mac), "class %d, pkt.c says %d", (int)c,
		   (int)vs_pkt_classify(copy, n, fuzz_vm_mac));
	vs_flow_key_events(k, copy, n);
	free(copy);
	return c;
}

static void check_key(const struct vs_flow_key *k, size_t len, size_t wire)
{
	FUZZ_CHECK(k->n_tags <= VS_PKT_MAX_VLAN_TAGS, "%u tags", k->n_tags);
	FUZZ_CHECK(!!(k->flags & VS_FLOW_KEY_VLAN) == (k->n_tags > 0), "VLAN flag, %u tags",
		   k->n_tags);
	FUZZ_CHECK(!(k->flags & VS_FLOW_KEY_TCP) || (k->flags & VS_FLOW_KEY_PORTS), "TCP w/o ports");
	FUZZ_CHECK(!(k->flags & VS_FLOW_KEY_PORTS) || (k->flags & VS_FLOW_KEY_L3), "ports w/o IP");
	FUZZ_CHECK(!(k->flags & VS_FLOW_KEY_FRAG) || (k->flags & VS_FLOW_KEY_L3), "frag w/o IP");
	if (!(k->flags & VS_FLOW_KEY_L3)) {
		FUZZ_CHECK(k->af == VS_FLOW_AF_NONE, "family without IP");
		return;
	}
	FUZZ_CHECK(k->af == VS_FLOW_AF_INET || k->af == VS_FLOW_AF_INET6, "family %d", (int)k->af);
	FUZZ_CHECK(k->l3_off >= VS_PKT_ETH_HLEN && k->l4_off > k->l3_off && k->l4_off <= len,
		   "offsets l3 %u l4 %u in %zu bytes", k->l3_off, k->l4_off, len);
	FUZZ_CHECK(k->l4_len <= wire - k->l4_off, "L4 length %u past the wire length %zu",
		   k->l4_len, wire);
	FUZZ_CHECK(k->dscp < 64, "DSCP %u", k->dscp);
	if (k->flags & VS_FLOW_KEY_PORTS) {
		FUZZ_CHECK(k->payload_off >= k->l4_off + 8 && k->payload_off <= len,
			   "payload at %u (L4 at %u) in %zu bytes", k->payload_off, k->l4_off, len);
		FUZZ_CHECK(k->payload_len == k->l4_len - (k->payload_off - k->l4_off),
			   "payload length %u", k->payload_len);
	}
}

/* RFC 1071 over a pseudo-header and a segment */
static uint16_t ref_csum2(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < na; i += 2)
		sum += (uint64_t)a[i] << 8 | a[i + 1];
	for (i = 0; i < nb; i += 2)
		sum += (uint64_t)b[i] << 8 | (i + 1 < nb ? b[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A built frame: the connection's, with the planned sequence number, checksums good */
static void check_built(const struct vs_tcp_ct_entry *e, const uint8_t *f, size_t n,
			uint32_t seq, uint8_t flags)
{
	uint8_t *copy = fuzz_dup_exact(f, n), ph[40] = { 0 };
	const uint8_t *ip, *tcp;
	struct vs_flow_key k;
	size_t tl;

	FUZZ_CHECK(n >= 60 && n <= VS_TCP_RESET_MAX_FRAME, "frame of %zu bytes", n);
	FUZZ_CHECK(vs_flow_key_parse(copy, n, n, e->vm_mac, &k) == VS_PKT_OWN_MAC,
		   "not the VM's own frame");
	FUZZ_CHECK(k.flags & VS_FLOW_KEY_TCP, "built frame is not TCP (flags %x)", k.flags);
	FUZZ_CHECK(k.af == (enum vs_flow_af)e->af && !memcmp(k.src, e->vm_addr, 16) &&
		   !memcmp(k.dst, e->peer_addr, 16) && k.sport == e->vm_port &&
		   k.dport == e->peer_port, "addresses or ports");
	FUZZ_CHECK(k.seq == seq && k.tcp_flags == flags, "seq %u flags %x, wanted %u %x", k.seq,
		   k.tcp_flags, seq, flags);
	FUZZ_CHECK(k.n_tags == e->n_tags, "%u tags, %u recorded", k.n_tags, e->n_tags);
	ip = copy + k.l3_off;
	tcp = copy + k.l4_off;
	tl = k.l4_len;
	if (k.af == VS_FLOW_AF_INET) {
		FUZZ_CHECK(ref_csum2(ip, 20, NULL, 0) == 0, "IPv4 header checksum");
		memcpy(ph, ip + 12, 8);
		ph[9] = 6;
		ph[10] = (uint8_t)(tl >> 8);
		ph[11] = (uint8_t)tl;
		FUZZ_CHECK(ref_csum2(ph, 12, tcp, tl) == 0, "TCP checksum (IPv4)");
	} else {
		memcpy(ph, ip + 8, 32);
		ph[34] = (uint8_t)(tl >> 8);
		ph[35] = (uint8_t)tl;
		ph[39] = 6;
		FUZZ_CHECK(ref_csum2(ph, 40, tcp, tl) == 0, "TCP checksum (IPv6)");
	}
	free(copy);
}

static void fuzz_ct(const uint8_t *f, size_t n, const struct vs_flow_key *k)
{
	static struct vs_tcp_ct_entry slots[16];
	struct vs_tcp_ct ct;
	struct vs_tcp_ct_entry *e[2];
	unsigned int i;

	if (vs_tcp_ct_init(&ct, slots, 16, fuzz_hash(f, n), 1000))
		abort();
	e[0] = vs_tcp_ct_update(&ct, k, f, n, VS_TCP_CT_FROM_PEER, VS_FLOW_TCP_LOSS_RESET, 1);
	e[1] = vs_tcp_ct_update(&ct, k, f, n, VS_TCP_CT_FROM_VM, VS_FLOW_TCP_LOSS_RESET, 2);
	FUZZ_CHECK(!e[0] || (k->flags & VS_FLOW_KEY_TCP), "tracked a non-TCP frame");
	for (i = 0; i < 2; i++) {
		uint8_t *buf;
		size_t len;

		if (!e[i])
			continue;
		buf = malloc(VS_TCP_RESET_MAX_FRAME);
		if (!buf)
			abort();
		len = vs_tcp_reset_build_rst(e[i], buf, VS_TCP_RESET_MAX_FRAME);
		FUZZ_CHECK(!len == !(e[i]->flags & VS_TCP_CT_PEER_ACK), "RST of %zu bytes", len);
		if (len)
			check_built(e[i], buf, len, e[i]->peer_ack,
				    (e[i]->flags & (VS_TCP_CT_VM_ACK | VS_TCP_CT_PEER_SEQ)) ?
				    VS_TCP_RST | VS_TCP_ACK : VS_TCP_RST);
		len = vs_tcp_reset_build_solicit(e[i], buf, VS_TCP_RESET_MAX_FRAME);
		FUZZ_CHECK(len, "no solicitation");
		check_built(e[i], buf, len, ((e[i]->flags & VS_TCP_CT_PEER_ACK) ? e[i]->peer_ack :
					     e[i]->vm_nxt) + 0x80000000u, VS_TCP_ACK);
		vs_tcp_ct_plan(e[i]);
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vs_flow_key whole, k;
	struct fuzz_rng rng;
	uint8_t *padded;
	uint32_t slot, want = VS_FLOW_NO_SLOT, i;

	parse_exact(data, size, size, &whole);
	check_key(&whole, size, size);

	/* bytes past the frame change nothing */
	padded = malloc(size + 64);
	if (!padded)
		abort();
	memcpy(padded, data, size);
	memset(padded + size, 0xa5, 64);
	vs_flow_key_parse(padded, size, size, fuzz_vm_mac, &k);
	FUZZ_CHECK(!memcmp(&k, &whole, sizeof(k)), "trailing bytes change the key");
	free(padded);

	/* a longer wire (the rest in another segment): the class stays */
	parse_exact(data, size, size + 1500, &k);
	check_key(&k, size, size + 1500);

	/* cuts never gain a field */
	if (size > VS_PKT_ETH_HLEN) {
		fuzz_rng_seed(&rng, fuzz_hash(data, size));
		for (i = 0; i < 4; i++) {
			size_t cut = VS_PKT_ETH_HLEN + fuzz_rng_next(&rng) % (size - VS_PKT_ETH_HLEN);

			parse_exact(data, cut, cut, &k);
			check_key(&k, cut, cut);
			FUZZ_CHECK(!(k.flags & ~whole.flags), "%zu of %zu bytes: flags %x, whole %x",
				   cut, size, k.flags, whole.flags);
		}
	}

	/* the matcher against a plain scan */
	slot = vs_flow_rules_match(fuzz_table, &whole);
	if (whole.cls >= VS_PKT_NUM_CLASSES) {
		FUZZ_CHECK(slot == VS_FLOW_NO_SLOT, "a rule (%u) for class %d", slot, (int)whole.cls);
	} else {
		for (i = 0; i < fuzz_table->n_user && want == VS_FLOW_NO_SLOT; i++)
			if (ref_match(fuzz_by_slot[i], &whole))
				want = i;
		if (want == VS_FLOW_NO_SLOT)
			want = fuzz_table->n_user + (uint32_t)whole.cls;
		FUZZ_CHECK(slot == want, "matched slot %u, a plain scan %u", slot, want);
	}

	fuzz_ct(data, size, &whole);
	return 0;
}
