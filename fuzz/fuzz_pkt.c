/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_pkt.c - libFuzzer target for vs_pkt_classify() (pkt.c)
 *
 * Theory of operation: the input is one frame, of any length.  It is
 * copied into a heap block of exactly that length, so a read of even one
 * byte past @len is an ASan heap-buffer-overflow.  Then the documented
 * contract is checked:
 *  - the verdict is UDP, TCP, OTHER, RUNT or OWN_MAC and nothing else;
 *  - RUNT if and only if the frame is shorter than an Ethernet header;
 *  - OWN_MAC whenever the source MAC is the VM's (for a non-runt frame),
 *    checked by classifying the frame a second time as its own sender's VM;
 *  - cutting the frame short can only lose information: a prefix of at
 *    least VS_PKT_ETH_HLEN bytes classifies as the whole frame does, or as
 *    OTHER (never UDP for a TCP frame, never TCP from garbage);
 *  - classification does not depend on the bytes after @len.
 * Finally the RARP announcement built for a MAC taken from the input must
 * classify as OTHER for another VM and as OWN_MAC for its own.
 *
 * The frame is also one the VM sent: vs_learn_frame() (learn.c) learns
 * from the exactly-sized copy, twice (the second time learns nothing new),
 * and its table stays within its caps, holds no multicast source MAC, and
 * every entry builds an announcement (announce.c) of the documented length
 * whose ICMPv6 checksum, for an NA, verifies, and which is never Solicited.
 *
 * The frame is also one the guest sent with its checksum left to the
 * device: vs_pkt_l4_csum_complete() (pkt_csum.c), on an exactly-sized
 * copy, answers 0 or -1; -1 leaves the frame unchanged; 0 changes at most
 * two bytes (the checksum field), and only in a frame the classifier
 * calls UDP or TCP (it follows no more than the classifier does); the
 * bytes after @len do not change its answer.
 *
 * The frame is also a TSO frame the guest handed over, with an MSS the
 * input chooses: vs_pkt_tso_plan() (pkt_tso.c), reading at most the
 * 512 header bytes dp_tx_offload.c gives it, plans only a frame the
 * classifier calls TCP, within the frame, in 1 to VS_TSO_MAX_SEGS
 * segments; each segment, built exactly sized as dp_tx_offload.c builds
 * it and fixed, parses again as TCP whose checksum verifies, and the
 * segments' payloads put together are the frame's.
 *
 * The same frame also goes through vs_pkt_hash64(), the dedup filter's
 * hash (dataplane.c), from the exactly-sized copy: it must not read past
 * @len, must not depend on the bytes after it, and must change when one
 * bit of the frame changes.  That last one is a guarantee, not a
 * likelihood: every step of the hash is a bijection of its state for a
 * fixed length (the word mix, the rotate-multiply-add, the final mix), so
 * two frames of one length differing in one 8-byte word never collide.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "announce.h"
#include "fuzz_common.h"
#include "learn.h"
#include "pkt.h"
#include "pkt_csum.h"
#include "pkt_tso.h"

static const uint8_t fuzz_vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* Classify @n bytes of @f from an exactly-sized copy */
static enum vs_pkt_class pkt_classify_exact(const uint8_t *f, size_t n, const uint8_t mac[6])
{
	uint8_t *copy = fuzz_dup_exact(f, n);
	enum vs_pkt_class c = vs_pkt_classify(copy, n, mac);

	free(copy);
	return c;
}

/* vs_pkt_hash64() of @n bytes of @f from an exactly-sized copy */
static uint64_t pkt_hash_exact(const uint8_t *f, size_t n)
{
	uint8_t *copy = fuzz_dup_exact(f, n);
	uint64_t h = vs_pkt_hash64(copy, n);

	free(copy);
	return h;
}

static void pkt_check_verdict(enum vs_pkt_class c, size_t len)
{
	FUZZ_CHECK(c == VS_PKT_UDP || c == VS_PKT_TCP || c == VS_PKT_OTHER || c == VS_PKT_RUNT ||
		   c == VS_PKT_OWN_MAC, "verdict %d out of range", (int)c);
	FUZZ_CHECK((c == VS_PKT_RUNT) == (len < VS_PKT_ETH_HLEN),
		   "verdict %d for a frame of %zu bytes", (int)c, len);
}

/* The ICMPv6 checksum of an NA built by vs_announce_na() verifies */
static bool pkt_na_sum_ok(const uint8_t *f, size_t len)
{
	size_t ip = len == 90 ? 18 : 14, i;
	uint32_t sum = 32 + 58;

	for (i = ip + 8; i < ip + 40; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	for (i = ip + 40; i < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Learn from the frame the VM sent; the table and its announcements */
static void pkt_learn(const uint8_t *data, size_t size)
{
	static struct vs_learn t;
	struct vs_learn_delta d = { 0 }, again = { 0 };
	uint8_t *copy = fuzz_dup_exact(data, size);
	uint8_t buf[VS_ANNOUNCE_MAX_FRAME];
	uint32_t i;
	size_t n;

	vs_learn_init(&t, 1000);
	vs_learn_frame(&t, copy, size, 1, &d);
	vs_learn_frame(&t, copy, size, 2, &again);
	free(copy);
	FUZZ_CHECK(d.learned <= 2 && !d.evicted && !d.aged, "one frame learned %u", d.learned);
	FUZZ_CHECK(!again.learned, "the same frame learned again");
	FUZZ_CHECK(t.n_l2 <= 1 && t.n_ip <= 1 && t.n_l2 <= VS_LEARN_MAX_L2, "table %u/%u",
		   t.n_l2, t.n_ip);
	for (i = 0; i < t.n_l2; i++) {
		FUZZ_CHECK(!(t.l2[i].mac[0] & 1), "multicast source learned");
		FUZZ_CHECK(t.l2[i].vlan == VS_LEARN_UNTAGGED ||
			   (t.l2[i].vlan >= 1 && t.l2[i].vlan <= 4094), "VLAN %u", t.l2[i].vlan);
		n = vs_announce_rarp(buf, sizeof(buf), t.l2[i].mac, t.l2[i].vlan);
		FUZZ_CHECK(n == (t.l2[i].vlan == VS_LEARN_UNTAGGED ? 60u : 64u), "RARP %zu", n);
	}
	for (i = 0; i < t.n_ip; i++) {
		const struct vs_learn_ip *e = &t.ip[i];

		if (e->family == VS_LEARN_IPV4) {
			n = vs_announce_garp(buf, sizeof(buf), e->mac, e->vlan, e->addr);
			FUZZ_CHECK(n == (e->vlan == VS_LEARN_UNTAGGED ? 60u : 64u), "GARP %zu", n);
		} else {
			FUZZ_CHECK(!(e->na_flags & ~(VS_LEARN_NA_ROUTER | VS_LEARN_NA_OVERRIDE)),
				   "NA flags %#x", e->na_flags);
			n = vs_announce_na(buf, sizeof(buf), e->mac, e->vlan, e->addr,
					   e->na_flags);
			FUZZ_CHECK(n == (e->vlan == VS_LEARN_UNTAGGED ? 86u : 90u), "NA %zu", n);
			FUZZ_CHECK(pkt_na_sum_ok(buf, n), "NA checksum");
			FUZZ_CHECK((buf[n - 32 + 4] & 0x40) == 0, "NA with Solicited");
		}
	}
	vs_learn_expire(&t, 2000, &d);
	FUZZ_CHECK(!t.n_l2 && !t.n_ip, "aged table not empty");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_rng rng;
	enum vs_pkt_class whole, own;
	uint8_t *padded;
	uint8_t rarp[60];
	uint64_t hash;
	unsigned int i;

	whole = pkt_classify_exact(data, size, fuzz_vm_mac);
	pkt_check_verdict(whole, size);
	pkt_learn(data, size);
	if (size >= 12 && !memcmp(data + 6, fuzz_vm_mac, 6))
		FUZZ_CHECK(whole == VS_PKT_OWN_MAC || size < VS_PKT_ETH_HLEN, "frame from the VM: %d",
			   (int)whole);

	/* The same frame, seen by the VM that sent it */
	if (size >= 12) {
		own = pkt_classify_exact(data, size, data + 6);
		pkt_check_verdict(own, size);
		FUZZ_CHECK(own == (size < VS_PKT_ETH_HLEN ? VS_PKT_RUNT : VS_PKT_OWN_MAC),
			   "own frame classified %d", (int)own);
	}

	/* Bytes after len must not matter: pad with their complement */
	padded = malloc(size + 64);
	if (!padded)
		abort();
	memcpy(padded, data, size);
	for (i = 0; i < 64; i++)
		padded[size + i] = (uint8_t)~(i * 37u);
	FUZZ_CHECK(vs_pkt_classify(padded, size, fuzz_vm_mac) == whole, "trailing bytes matter");

	/* The dedup hash: exact reads, trailing bytes ignored, one bit counts */
	hash = pkt_hash_exact(data, size);
	FUZZ_CHECK(vs_pkt_hash64(padded, size) == hash, "trailing bytes change the hash");
	if (size) {
		size_t bit = fuzz_hash(data, size) % (size * 8);

		padded[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		FUZZ_CHECK(pkt_hash_exact(padded, size) != hash,
			   "flipping bit %zu of %zu bytes leaves the hash", bit, size);
	}
	free(padded);

	/* Prefixes: the last byte cut, and a few cuts chosen by the input */
	if (size > VS_PKT_ETH_HLEN && whole != VS_PKT_OWN_MAC) {
		fuzz_rng_seed(&rng, fuzz_hash(data, size));
		for (i = 0; i < 6; i++) {
			size_t cut = i == 0 ? size - 1 :
				     VS_PKT_ETH_HLEN + fuzz_rng_next(&rng) % (size - VS_PKT_ETH_HLEN);
			enum vs_pkt_class c = pkt_classify_exact(data, cut, fuzz_vm_mac);

			pkt_check_verdict(c, cut);
			FUZZ_CHECK(c == whole || c == VS_PKT_OTHER,
				   "%zu of %zu bytes classify %d, the whole frame %d", cut, size,
				   (int)c, (int)whole);
		}
	}

	/* The guest's partial checksum, finished as the shim does on TX */
	{
		uint8_t *copy = fuzz_dup_exact(data, size);
		uint8_t *longer = malloc(size + 16);
		int rc = vs_pkt_l4_csum_complete(copy, size);
		size_t changed = 0;

		if (!longer)
			abort();
		FUZZ_CHECK(rc == 0 || rc == -1, "csum answer %d", rc);
		for (i = 0; i < size; i++)
			changed += copy[i] != data[i];
		FUZZ_CHECK(rc == 0 ? changed <= 2 : changed == 0,
			   "csum (%d) changed %zu bytes", rc, changed);
		if (rc == 0 && whole != VS_PKT_OWN_MAC)
			FUZZ_CHECK(whole == VS_PKT_UDP || whole == VS_PKT_TCP,
				   "csum finished for a frame classified %d", (int)whole);
		memcpy(longer, data, size);
		memset(longer + size, 0x5a, 16);
		FUZZ_CHECK(vs_pkt_l4_csum_complete(longer, size) == rc &&
			   !memcmp(longer, copy, size), "trailing bytes change the csum");
		free(longer);
		free(copy);
	}

	/* The guest's TSO frame, cut as the shim does on TX */
	{
		uint16_t mss = (uint16_t)(1 + fuzz_hash(data, size) % 2048);
		size_t avail = size < 512 ? size : 512, at = 0;
		struct vs_pkt_tso t;
		unsigned int seg;

		if (!vs_pkt_tso_plan(data, avail, size, mss, &t)) {
			FUZZ_CHECK(whole == VS_PKT_TCP || whole == VS_PKT_OWN_MAC,
				   "TSO planned for a frame classified %d", (int)whole);
			FUZZ_CHECK(t.hdr_len + t.payload <= size && t.hdr_len <= avail &&
				   t.segs >= 1 && t.segs <= VS_TSO_MAX_SEGS, "TSO plan out of bounds");
			for (seg = 0; seg < t.segs; seg++) {
				size_t plen = vs_pkt_tso_seg_payload(&t, seg), len = t.hdr_len + plen;
				uint8_t *b = malloc(len);
				struct vs_pkt_l4 l4;

				if (!b)
					abort();
				memcpy(b, data, t.hdr_len);
				memcpy(b + t.hdr_len, data + t.hdr_len + at, plen);
				vs_pkt_tso_fix(&t, b, seg);
				FUZZ_CHECK(!memcmp(b + t.hdr_len, data + t.hdr_len + at, plen),
					   "TSO segment %u's payload changed", seg);
				FUZZ_CHECK(!vs_pkt_l4_locate(b, len, len, &l4) && l4.proto == 6 &&
					   l4.l4_len == len - t.at.l4,
					   "TSO segment %u does not parse", seg);
				FUZZ_CHECK(vs_pkt_csum_fold(vs_pkt_csum_add(
					   vs_pkt_pseudo_sum(b, &l4, l4.l4_len), b + l4.l4, l4.l4_len)) ==
					   0xffff, "TSO segment %u's checksum", seg);
				at += plen;
				free(b);
			}
			FUZZ_CHECK(at == t.payload, "TSO segments carry %zu of %zu bytes", at,
				   t.payload);
		}
	}

	/* Our own announcement frame, for a MAC the input chooses */
	if (size >= 6) {
		uint8_t mac[6];

		memcpy(mac, data, 6);
		mac[0] &= 0xfe;		/* a VM's MAC is unicast */
		FUZZ_CHECK(vs_pkt_build_rarp(rarp, mac) == sizeof(rarp), "RARP length");
		FUZZ_CHECK(vs_pkt_classify(rarp, sizeof(rarp), mac) == VS_PKT_OWN_MAC, "RARP own");
		if (memcmp(mac, fuzz_vm_mac, 6))
			FUZZ_CHECK(vs_pkt_classify(rarp, sizeof(rarp), fuzz_vm_mac) == VS_PKT_OTHER,
				   "RARP for another VM");
	}
	return 0;
}
