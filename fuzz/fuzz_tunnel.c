/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_tunnel.c - libFuzzer target for the tunnel codec, handshake and
 * sniffer (tunnel_proto.h: tunnel_codec.c, tunnel_decode.c, tunnel_auth.c)
 *
 * Theory of operation: the input starts with a 5-byte prologue, then the
 * bytes under test:
 *   byte 0	flags: FUZZ_TUN_FORGE_AUTH, FUZZ_TUN_ENCODER
 *   bytes 1-4	seed of the chunk sizes (little endian)
 * fuzz/gen_corpus.py writes seeds in this layout.
 *
 * Decoder mode (the default) treats the bytes as what a peer sent:
 *  - decoder B gets them in one piece (the loop of vs_tun_decoder_feed()'s
 *    comment), decoder A in pieces whose sizes come from the seed, each
 *    piece in an exactly-sized heap block so that a read past it is caught;
 *    both must decode the same messages, stop at the same error with the
 *    same description, and agree at EOF;
 *  - every decoded message must re-encode to the bytes it was decoded from
 *    (except the two documented normalisations: HELLO extension bytes are
 *    dropped, ERROR text is made printable), decode again to the same
 *    struct, and the per-type helpers (vs_tun_encode_vm_open()...) and
 *    vs_tun_encode_frame_head() must produce the same bytes;
 *  - every message goes through a struct vs_tun_auth of each role, whose
 *    contract (tunnel_proto.h) is checked call by call.  A random AUTH
 *    never verifies, so with FUZZ_TUN_FORGE_AUTH the harness replaces the
 *    MAC of an AUTH that arrives when one is expected by the right one,
 *    computed by a mirror vs_tun_auth playing the peer: that MAC must
 *    verify, and what follows runs against an authenticated session.
 *
 * In decoder mode the bytes are also a connection's first bytes, as the
 * listener sniffs them before TLS (vs_tun_sniff(): a TLS ClientHello, a
 * version-1 HELLO in clear, or neither); see tun_check_sniff().  Since
 * version 2 the decoder and the handshake see what TLS decrypted: the
 * same bytes, in whatever pieces the records cut them into (the split
 * decoder), so they are fuzzed directly; the TLS records themselves are
 * GnuTLS's (fuzzed upstream).
 *
 * Encoder mode (FUZZ_TUN_ENCODER) builds a struct vs_tun_msg from the bytes
 * instead: type (1 byte), output room (2, LE), frame length (2, LE), the
 * frame, then raw bytes of the union (host layout).  The encoders
 * must refuse exactly what a decoder would refuse, write nothing when they
 * refuse, write exactly vs_tun_encoded_len() bytes otherwise, and what they
 * write must decode to a message that encodes to the same bytes.
 * vs_tun_encode_error() must accept any text.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "fuzz_common.h"
#include "tunnel_proto.h"

#define FUZZ_TUN_FORGE_AUTH	0x01
#define FUZZ_TUN_ENCODER	0x02
#define FUZZ_TUN_PROLOGUE	5

static const uint8_t fuzz_psk[32] = "vhost-shim fuzz pre-shared key!";
static const char fuzz_node_name[] = "hostA";

/* Three decoders of about 9 KiB each: static, initialised per input */
static struct vs_tun_decoder dec_whole, dec_split, dec_check;

struct tun_side {
	struct vs_tun_auth a;
	GByteArray *out;
	bool forge;
	uint64_t forged;	/* AUTHs replaced by the right MAC */
};

static struct tun_side sides[VS_TUN_NUM_ROLES];

/* FUZZ_TRACE=1 in the environment: one line per message, for a reproducer */
static bool fuzz_trace;

/* ---- Helpers ----------------------------------------------------------- */

static uint32_t tun_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void tun_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Decode exactly one message from @buf (an exactly-sized copy) with a fresh
 * decoder; the message must take all @n bytes.  @m->u.frame.data points
 * into the copy, which is returned in *@copy for the caller to free.
 */
static void tun_decode_one(const uint8_t *buf, size_t n, struct vs_tun_msg *m, uint8_t **copy)
{
	enum vs_tun_err err;
	size_t used = 0;

	*copy = fuzz_dup_exact(buf, n);
	vs_tun_decoder_init(&dec_check);
	err = vs_tun_decoder_feed(&dec_check, *copy, n, &used, m);
	FUZZ_CHECK(err == VS_TUN_OK, "our own encoding of %s does not decode: %s",
		   vs_tun_type_name(n > VS_TUN_LEN_FIELD ? buf[VS_TUN_LEN_FIELD] : 0),
		   vs_tun_decoder_errmsg(&dec_check));
	FUZZ_CHECK(m->type != VS_TUN_MSG_NONE && used == n, "decoded %zu of %zu bytes", used, n);
}

/* Two decoded messages are the same message (frame data compared by value) */
static bool tun_msg_equal(const struct vs_tun_msg *x, const struct vs_tun_msg *y)
{
	struct vs_tun_msg a = *x, b = *y;

	if (x->type != y->type)
		return false;
	if (x->type == VS_TUN_MSG_FRAME || x->type == VS_TUN_MSG_FRAME_TIMES) {
		if (x->u.frame.len != y->u.frame.len ||
		    memcmp(x->u.frame.data, y->u.frame.data, x->u.frame.len))
			return false;
		a.u.frame.data = b.u.frame.data = NULL;
	}
	if (x->type == VS_TUN_MSG_CONNS) {
		if (x->u.conns.count != y->u.conns.count ||
		    memcmp(x->u.conns.recs, y->u.conns.recs,
			   x->u.conns.count * sizeof(struct vs_tun_wire_conn)))
			return false;
		a.u.conns.recs = b.u.conns.recs = NULL;
	}
	/* the decoder zeroes the struct before it fills it: padding is 0 too */
	return !memcmp(&a, &b, sizeof(a));
}

/* The per-type helper must encode @m as vs_tun_encode() does */
static void tun_check_helper(const struct vs_tun_msg *m, const uint8_t *want, size_t n)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	size_t got = 0;

	switch (m->type) {
	case VS_TUN_MSG_HELLO:
		if (m->u.hello.version != VS_TUN_VERSION ||
		    m->u.hello.compat_version != VS_TUN_COMPAT_VERSION)
			return;		/* the helper always announces ours */
		got = vs_tun_encode_hello_ext(out, m->u.hello.role, m->u.hello.nonce,
					      m->u.hello.name, m->u.hello.ext);
		break;
	case VS_TUN_MSG_AUTH:
		got = vs_tun_encode_auth(out, m->u.auth.mac);
		break;
	case VS_TUN_MSG_VM_OPEN:
		got = vs_tun_encode_vm_open(out, m->u.vm_open.stream_id, m->u.vm_open.mac,
					    m->u.vm_open.name, m->u.vm_open.first_seq);
		break;
	case VS_TUN_MSG_VM_ACCEPT:
		got = vs_tun_encode_vm_accept(out, m->u.vm_accept.stream_id,
					      m->u.vm_accept.next_expected_seq);
		break;
	case VS_TUN_MSG_VM_REJECT:
		got = vs_tun_encode_vm_reject(out, m->u.vm_reject.stream_id, m->u.vm_reject.reason);
		break;
	case VS_TUN_MSG_FRAME: {
		uint8_t head[VS_TUN_FRAME_HEAD_LEN];

		FUZZ_CHECK(vs_tun_encode_frame_head(head, m->u.frame.stream_id, m->u.frame.seq,
						    m->u.frame.origin, m->u.frame.len) ==
			   VS_TUN_FRAME_HEAD_LEN && !memcmp(head, want, sizeof(head)),
			   "frame head differs from the FRAME encoding");
		got = vs_tun_encode_frame(out, m->u.frame.stream_id, m->u.frame.seq,
					  m->u.frame.origin, m->u.frame.data, m->u.frame.len);
		break;
	}
	case VS_TUN_MSG_FRAME_TIMES:
		got = vs_tun_encode_frame_times(out, m->u.frame.stream_id, m->u.frame.seq,
						m->u.frame.origin, m->u.frame.age_us,
						m->u.frame.sent_us, m->u.frame.data,
						m->u.frame.len);
		break;
	case VS_TUN_MSG_ACK:
		got = vs_tun_encode_ack(out, m->u.ack.stream_id, m->u.ack.seq);
		break;
	case VS_TUN_MSG_RESUMED:
		got = vs_tun_encode_resumed(out, m->u.stream.stream_id);
		break;
	case VS_TUN_MSG_LIVE_SEEN:
		got = vs_tun_encode_live_seen(out, m->u.stream.stream_id);
		break;
	case VS_TUN_MSG_SOURCE_DIRECT:
		got = vs_tun_encode_source_direct(out, m->u.source_direct.stream_id,
						  m->u.source_direct.af, m->u.source_direct.addr);
		break;
	case VS_TUN_MSG_SOURCE_BARRIER:
		got = vs_tun_encode_source_barrier(out, m->u.source_barrier.stream_id,
						   m->u.source_barrier.last_seq,
						   m->u.source_barrier.af, m->u.source_barrier.addr);
		break;
	case VS_TUN_MSG_CONNS: {
		struct vs_tun_conn c[VS_TUN_CONNS_MAX];
		size_t i;

		if (m->u.conns.count > VS_TUN_CONNS_MAX)
			return;		/* the encoder refused it already */
		for (i = 0; i < m->u.conns.count; i++)
			vs_tun_conns_get(m, i, &c[i]);
		got = vs_tun_encode_conns(out, m->u.conns.stream_id, c, m->u.conns.count);
		break;
	}
	case VS_TUN_MSG_ABORT:
		got = vs_tun_encode_abort(out, m->u.stream.stream_id);
		break;
	case VS_TUN_MSG_BARRIER:
		got = vs_tun_encode_barrier(out, m->u.stream_seq.stream_id, m->u.stream_seq.last_seq);
		break;
	case VS_TUN_MSG_END:
		got = vs_tun_encode_end(out, m->u.stream_seq.stream_id, m->u.stream_seq.last_seq);
		break;
	case VS_TUN_MSG_EXPECT:
		got = vs_tun_encode_expect(out, m->u.expect.mac, m->u.expect.name);
		break;
	case VS_TUN_MSG_PING:
		got = vs_tun_encode_ping(out, m->u.ping.token);
		break;
	case VS_TUN_MSG_PONG:
		got = vs_tun_encode_pong(out, m->u.ping.token);
		break;
	case VS_TUN_MSG_ERROR:
		got = vs_tun_encode_error(out, m->u.error.code, m->u.error.text);
		break;
	case VS_TUN_MSG_NONE:
	case VS_TUN_NUM_TYPES:
		return;
	}
	FUZZ_CHECK(got == n && out->len == n && !memcmp(out->data, want, n),
		   "helper for %s wrote %zu bytes, vs_tun_encode() %zu", vs_tun_type_name(m->type),
		   got, n);
}

/*
 * tun_check_roundtrip() - a decoded message re-encodes to its wire bytes
 * @m:		message from a decoder
 * @wire:	the bytes it was decoded from, or NULL if not known here
 * @n:		their count
 * @enc:	the canonical encoding is appended here
 */
static void tun_check_roundtrip(const struct vs_tun_msg *m, const uint8_t *wire, size_t n,
				GByteArray *enc)
{
	static uint8_t buf[VS_TUN_MAX_WIRE], want[VS_TUN_MAX_WIRE];
	g_autoptr(GByteArray) arr = g_byte_array_new();
	struct vs_tun_msg again;
	uint8_t *copy;
	size_t len, want_len, i;

	len = vs_tun_encode_buf(buf, sizeof(buf), m);
	FUZZ_CHECK(len >= VS_TUN_HDR_LEN, "decoded %s refused by the encoder",
		   vs_tun_type_name(m->type));
	FUZZ_CHECK(vs_tun_encoded_len(m) == len, "encoded_len %zu, encode_buf %zu",
		   vs_tun_encoded_len(m), len);
	FUZZ_CHECK(vs_tun_encode_buf(buf, len - 1, m) == 0, "encode_buf overflows its buffer");
	FUZZ_CHECK(vs_tun_encode(arr, m) == len && arr->len == len && !memcmp(arr->data, buf, len),
		   "vs_tun_encode and vs_tun_encode_buf differ");

	if (wire) {
		FUZZ_CHECK(n >= VS_TUN_HDR_LEN && n <= VS_TUN_MAX_WIRE, "message of %zu bytes", n);
		memcpy(want, wire, n);
		want_len = n;
		if (m->type == VS_TUN_MSG_HELLO) {
			/* extension items after the name: only the known ones are
			 * kept, and re-encoded canonically (frame-times: 01 00,
			 * then source-direct: 02 00, then source-barrier: 03 00,
			 * then tcp-conns: 04 00) */
			want_len = VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_hello) +
				   want[VS_TUN_HDR_LEN + offsetof(struct vs_tun_wire_hello, name_len)];
			FUZZ_CHECK(want_len <= n, "HELLO name past the message");
			if (m->u.hello.ext & VS_TUN_HELLO_EXT_FRAME_TIMES) {
				want[want_len++] = VS_TUN_EXT_FRAME_TIMES;
				want[want_len++] = 0;
			}
			if (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_DIRECT) {
				want[want_len++] = VS_TUN_EXT_SOURCE_DIRECT;
				want[want_len++] = 0;
			}
			if (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_BARRIER) {
				want[want_len++] = VS_TUN_EXT_SOURCE_BARRIER;
				want[want_len++] = 0;
			}
			if (m->u.hello.ext & VS_TUN_HELLO_EXT_TCP_CONNS) {
				want[want_len++] = VS_TUN_EXT_TCP_CONNS;
				want[want_len++] = 0;
			}
			tun_put_be32(want, (uint32_t)(want_len - VS_TUN_LEN_FIELD));
		} else if (m->type == VS_TUN_MSG_ERROR) {
			for (i = VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_error); i < n; i++)
				if (want[i] < 0x20 || want[i] > 0x7e)
					want[i] = '?';
		}
		FUZZ_CHECK(len == want_len && !memcmp(buf, want, len),
			   "%s of %zu bytes re-encodes to %zu different bytes",
			   vs_tun_type_name(m->type), n, len);
	}

	tun_decode_one(buf, len, &again, &copy);
	FUZZ_CHECK(tun_msg_equal(m, &again), "%s changes through encode and decode",
		   vs_tun_type_name(m->type));
	free(copy);
	tun_check_helper(m, buf, len);
	g_byte_array_append(enc, buf, (guint)len);
}

/* Read every frame (or CONNS record) byte, so ASan checks the whole range */
static void tun_touch_frame(const struct vs_tun_msg *m)
{
	volatile uint8_t sum = 0;
	size_t i;

	if (m->type == VS_TUN_MSG_CONNS) {
		FUZZ_CHECK(m->u.conns.recs && m->u.conns.count >= 1 &&
			   m->u.conns.count <= VS_TUN_CONNS_MAX, "CONNS of %u records",
			   m->u.conns.count);
		for (i = 0; i < m->u.conns.count * sizeof(struct vs_tun_wire_conn); i++)
			sum ^= m->u.conns.recs[i];
		(void)sum;
		return;
	}
	if (m->type != VS_TUN_MSG_FRAME && m->type != VS_TUN_MSG_FRAME_TIMES)
		return;
	FUZZ_CHECK(m->u.frame.data && m->u.frame.len >= VS_TUN_MIN_FRAME &&
		   m->u.frame.len <= VS_TUN_MAX_FRAME, "frame of %zu bytes", m->u.frame.len);
	for (i = 0; i < m->u.frame.len; i++)
		sum ^= m->u.frame.data[i];
	(void)sum;
}

/* ---- Handshake --------------------------------------------------------- */

/*
 * tun_forge_auth() - the AUTH the peer of @a would send: a mirror
 * vs_tun_auth with the peer's role, nonce, name and versions consumes our
 * HELLO and writes its AUTH
 */
static void tun_forge_auth(const struct vs_tun_auth *a, uint8_t mac[VS_TUN_MAC_LEN])
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct vs_tun_msg hello = { .type = VS_TUN_MSG_HELLO }, auth;
	struct vs_tun_auth peer;
	enum vs_tun_err err;
	bool deliver = true;
	uint8_t *copy;

	err = vs_tun_auth_init(&peer, a->role == VS_TUN_ROLE_INITIATOR ? VS_TUN_ROLE_RESPONDER :
			       VS_TUN_ROLE_INITIATOR, a->psk, a->psk_len, a->peer_name,
			       a->peer_nonce);
	FUZZ_CHECK(err == VS_TUN_OK, "mirror init: %s", vs_tun_auth_errmsg(&peer));
	peer.my_version = a->peer_version;
	peer.my_compat = a->peer_compat;
	FUZZ_CHECK(vs_tun_auth_start(&peer, out) == VS_TUN_OK, "mirror start");
	g_byte_array_set_size(out, 0);

	hello.u.hello.version = a->my_version;
	hello.u.hello.compat_version = a->my_compat;
	hello.u.hello.role = (uint8_t)a->role;
	memcpy(hello.u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN);
	g_strlcpy(hello.u.hello.name, a->my_name, sizeof(hello.u.hello.name));
	err = vs_tun_auth_consume(&peer, &hello, out, &deliver);
	/* what we accepted from the peer, the peer accepts from us */
	FUZZ_CHECK(err == VS_TUN_OK && !deliver && peer.state == VS_TUN_AUTH_AUTH_SENT,
		   "mirror refuses our HELLO: %s", vs_tun_auth_errmsg(&peer));
	tun_decode_one(out->data, out->len, &auth, &copy);
	free(copy);
	FUZZ_CHECK(auth.type == VS_TUN_MSG_AUTH, "mirror sent %s", vs_tun_type_name(auth.type));
	memcpy(mac, auth.u.auth.mac, VS_TUN_MAC_LEN);
	vs_tun_auth_clear(&peer);
}

static void tun_side_start(struct tun_side *s, enum vs_tun_role role, bool forge)
{
	uint8_t nonce[VS_TUN_NONCE_LEN];
	struct vs_tun_msg hello;
	uint8_t *copy;

	memset(nonce, role == VS_TUN_ROLE_INITIATOR ? 0x11 : 0x22, sizeof(nonce));
	if (!s->out)
		s->out = g_byte_array_new();
	g_byte_array_set_size(s->out, 0);
	s->forge = forge;
	s->forged = 0;
	FUZZ_CHECK(vs_tun_auth_init(&s->a, role, fuzz_psk, sizeof(fuzz_psk), fuzz_node_name,
				    nonce) == VS_TUN_OK, "auth init");
	FUZZ_CHECK(vs_tun_auth_start(&s->a, s->out) == VS_TUN_OK &&
		   s->a.state == VS_TUN_AUTH_HELLO_SENT, "auth start");
	tun_decode_one(s->out->data, s->out->len, &hello, &copy);
	free(copy);
	FUZZ_CHECK(hello.type == VS_TUN_MSG_HELLO && hello.u.hello.role == role &&
		   !strcmp(hello.u.hello.name, fuzz_node_name), "our HELLO");
	g_byte_array_set_size(s->out, 0);
}

static void tun_side_consume(struct tun_side *s, const struct vs_tun_msg *msg)
{
	struct vs_tun_auth *a = &s->a;
	enum vs_tun_auth_state prev = a->state;
	enum vs_tun_err prev_err = a->err, err;
	struct vs_tun_msg m = *msg;
	guint prev_out = s->out->len;
	bool deliver = true, forged = false;

	if (s->forge && m.type == VS_TUN_MSG_AUTH && prev == VS_TUN_AUTH_AUTH_SENT) {
		tun_forge_auth(a, m.u.auth.mac);
		forged = true;
		s->forged++;
	}
	err = vs_tun_auth_consume(a, &m, s->out, &deliver);

	if (prev == VS_TUN_AUTH_FAILED) {
		FUZZ_CHECK(err == prev_err && err != VS_TUN_OK && !deliver &&
			   a->state == VS_TUN_AUTH_FAILED && s->out->len == prev_out,
			   "a failed handshake changed");
		return;
	}
	FUZZ_CHECK((err != VS_TUN_OK) == (a->state == VS_TUN_AUTH_FAILED),
		   "returned %s in state %s", vs_tun_err_str(err),
		   vs_tun_auth_state_names[a->state]);
	if (err) {
		FUZZ_CHECK(!deliver && a->err == err && vs_tun_auth_errmsg(a)[0],
			   "failure without its description");
		FUZZ_CHECK(!forged, "the right AUTH MAC does not verify: %s", vs_tun_auth_errmsg(a));
		return;
	}
	if (deliver) {
		FUZZ_CHECK(m.type == VS_TUN_MSG_ERROR ||
			   (prev == VS_TUN_AUTH_AUTHENTICATED && m.type != VS_TUN_MSG_HELLO &&
			    m.type != VS_TUN_MSG_AUTH),
			   "%s delivered in state %s", vs_tun_type_name(m.type),
			   vs_tun_auth_state_names[prev]);
		FUZZ_CHECK(a->state == prev && s->out->len == prev_out, "delivery changed state");
		return;
	}
	if (m.type == VS_TUN_MSG_HELLO) {
		struct vs_tun_msg auth;
		uint8_t *copy;

		FUZZ_CHECK(prev == VS_TUN_AUTH_HELLO_SENT && a->state == VS_TUN_AUTH_AUTH_SENT,
			   "HELLO accepted in state %s", vs_tun_auth_state_names[prev]);
		FUZZ_CHECK(m.u.hello.role != a->role && strcmp(m.u.hello.name, a->my_name) &&
			   memcmp(m.u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN),
			   "reflected HELLO accepted");
		FUZZ_CHECK(m.u.hello.compat_version <= m.u.hello.version &&
			   m.u.hello.version >= a->my_compat &&
			   a->my_version >= m.u.hello.compat_version,
			   "HELLO %u..%u accepted by %u..%u", m.u.hello.compat_version,
			   m.u.hello.version, a->my_compat, a->my_version);
		FUZZ_CHECK(a->version == MIN(m.u.hello.version, a->my_version), "version %u",
			   a->version);
		tun_decode_one(s->out->data + prev_out, s->out->len - prev_out, &auth, &copy);
		free(copy);
		FUZZ_CHECK(auth.type == VS_TUN_MSG_AUTH, "answered HELLO with %s",
			   vs_tun_type_name(auth.type));
		return;
	}
	FUZZ_CHECK(m.type == VS_TUN_MSG_AUTH && prev == VS_TUN_AUTH_AUTH_SENT &&
		   a->state == VS_TUN_AUTH_AUTHENTICATED && s->out->len == prev_out,
		   "%s swallowed in state %s", vs_tun_type_name(m.type),
		   vs_tun_auth_state_names[prev]);
}

/* ---- Decoder mode ------------------------------------------------------ */

/* One message out of either decoder: checks, auth, canonical bytes */
static void tun_handle(const struct vs_tun_msg *m, const uint8_t *wire, size_t n,
		       GByteArray *enc, bool auth)
{
	unsigned int r;

	FUZZ_CHECK(m->type > VS_TUN_MSG_NONE && m->type < VS_TUN_NUM_TYPES, "type %d",
		   (int)m->type);
	tun_touch_frame(m);
	tun_check_roundtrip(m, wire, n, enc);
	if (!auth)
		return;
	for (r = 0; r < VS_TUN_NUM_ROLES; r++)
		tun_side_consume(&sides[r], m);
	if (fuzz_trace)
		fprintf(stderr, "fuzz_tunnel: %-9s initiator %-13s responder %-13s\n",
			vs_tun_type_name(m->type), vs_tun_auth_state_names[sides[0].a.state],
			vs_tun_auth_state_names[sides[1].a.state]);
}

/* The whole stream in one piece; every message is then decoded in place */
static void tun_decode_whole(const uint8_t *p, size_t len, GByteArray *enc)
{
	size_t off = 0;

	vs_tun_decoder_init(&dec_whole);
	while (off < len) {
		struct vs_tun_msg m;
		size_t used = 0;
		enum vs_tun_err err = vs_tun_decoder_feed(&dec_whole, p + off, len - off, &used, &m);

		FUZZ_CHECK(used <= len - off, "consumed %zu of %zu", used, len - off);
		if (err) {
			FUZZ_CHECK(m.type == VS_TUN_MSG_NONE && dec_whole.err == err &&
				   vs_tun_decoder_errmsg(&dec_whole)[0], "error %s", vs_tun_err_str(err));
			break;
		}
		if (m.type == VS_TUN_MSG_NONE) {
			FUZZ_CHECK(used == len - off, "no message, %zu bytes left", len - off - used);
		} else {
			tun_handle(&m, p + off, used, enc, false);
		}
		off += used;
	}
}

/* The same stream in seeded pieces, each in its own exactly-sized block */
static void tun_decode_split(const uint8_t *p, size_t len, uint32_t seed, GByteArray *enc)
{
	struct fuzz_rng rng;
	size_t off = 0;

	fuzz_rng_seed(&rng, seed);
	vs_tun_decoder_init(&dec_split);
	while (off < len && !dec_split.err) {
		size_t n = fuzz_chunk_len(&rng, len - off), pos = 0;
		uint8_t *chunk = fuzz_dup_exact(p + off, n);

		while (pos < n) {
			struct vs_tun_msg m;
			size_t used = 0;
			enum vs_tun_err err = vs_tun_decoder_feed(&dec_split, chunk + pos, n - pos,
								  &used, &m);

			FUZZ_CHECK(used <= n - pos, "consumed %zu of %zu", used, n - pos);
			pos += used;
			if (err)
				break;
			if (m.type == VS_TUN_MSG_NONE)
				FUZZ_CHECK(pos == n, "no message, %zu bytes left", n - pos);
			else
				tun_handle(&m, NULL, 0, enc, true);	/* before @chunk goes */
		}
		free(chunk);
		off += n;
	}
}

/*
 * The sniffer (vs_tun_sniff()) on the input as a connection's first bytes,
 * read from exactly-sized copies of each prefix: a verdict other than MORE
 * never changes with more bytes, bytes past VS_TUN_SNIFF_LEN do not count,
 * TLS is exactly 0x16 0x03, and it agrees with the decoder: a first
 * message that decodes as a HELLO is a version-1 HELLO to the sniffer,
 * and a version-1 verdict means the decoder found no fault in the first
 * VS_TUN_SNIFF_LEN bytes (no BAD_TYPE, RESERVED or BAD_MAGIC).
 */
static void tun_check_sniff(const uint8_t *p, size_t len)
{
	size_t n = MIN(len, (size_t)VS_TUN_SNIFF_LEN), k, used = 0;
	enum vs_tun_sniff settled = VS_TUN_SNIFF_MORE, v = VS_TUN_SNIFF_MORE;
	struct vs_tun_msg m;
	enum vs_tun_err err;

	for (k = 0; k <= n; k++) {
		uint8_t *copy = fuzz_dup_exact(p, k);

		v = vs_tun_sniff(copy, k);
		free(copy);
		FUZZ_CHECK(v < VS_TUN_NUM_SNIFFS, "verdict %d", (int)v);
		FUZZ_CHECK(settled == VS_TUN_SNIFF_MORE || v == settled,
			   "%s after %zu bytes, %s before", vs_tun_sniff_str(v), k,
			   vs_tun_sniff_str(settled));
		FUZZ_CHECK(v != VS_TUN_SNIFF_V1 || k == VS_TUN_SNIFF_LEN, "v1 after %zu bytes", k);
		if (v != VS_TUN_SNIFF_MORE)
			settled = v;
	}
	FUZZ_CHECK(vs_tun_sniff(p, len) == v, "bytes past %d count", VS_TUN_SNIFF_LEN);
	FUZZ_CHECK((n >= 2 && p[0] == VS_TUN_TLS_RECORD_HANDSHAKE &&
		    p[1] == VS_TUN_TLS_RECORD_VERSION_MAJOR) == (v == VS_TUN_SNIFF_TLS),
		   "TLS verdict %s", vs_tun_sniff_str(v));
	vs_tun_decoder_init(&dec_check);
	err = vs_tun_decoder_feed(&dec_check, p, len, &used, &m);
	if (!err && m.type == VS_TUN_MSG_HELLO)
		FUZZ_CHECK(v == VS_TUN_SNIFF_V1, "a HELLO sniffed as %s", vs_tun_sniff_str(v));
	if (v == VS_TUN_SNIFF_V1)
		FUZZ_CHECK(err != VS_TUN_ERR_BAD_TYPE && err != VS_TUN_ERR_RESERVED &&
			   err != VS_TUN_ERR_BAD_MAGIC && (err || m.type == VS_TUN_MSG_HELLO ||
							   m.type == VS_TUN_MSG_NONE),
			   "v1 verdict, decoder: %s, %s", vs_tun_err_str(err),
			   vs_tun_type_name(m.type));
}

static void tun_fuzz_decoder(const uint8_t *p, size_t len, uint32_t seed, bool forge)
{
	g_autoptr(GByteArray) enc_whole = g_byte_array_new();
	g_autoptr(GByteArray) enc_split = g_byte_array_new();
	struct vs_tun_msg m;
	enum vs_tun_err eof_whole, eof_split;
	size_t used = 1;
	unsigned int r;

	for (r = 0; r < VS_TUN_NUM_ROLES; r++)
		tun_side_start(&sides[r], r, forge);

	tun_check_sniff(p, len);
	tun_decode_whole(p, len, enc_whole);
	tun_decode_split(p, len, seed, enc_split);

	FUZZ_CHECK(dec_whole.msgs == dec_split.msgs, "%" G_GUINT64_FORMAT " messages in one "
		   "piece, %" G_GUINT64_FORMAT " in pieces", dec_whole.msgs, dec_split.msgs);
	FUZZ_CHECK(enc_whole->len == enc_split->len &&
		   (!enc_whole->len || !memcmp(enc_whole->data, enc_split->data, enc_whole->len)),
		   "the split changes the messages");
	FUZZ_CHECK(dec_whole.err == dec_split.err, "error %s in one piece, %s in pieces",
		   vs_tun_err_str(dec_whole.err), vs_tun_err_str(dec_split.err));
	FUZZ_CHECK(!strcmp(vs_tun_decoder_errmsg(&dec_whole), vs_tun_decoder_errmsg(&dec_split)),
		   "'%s' in one piece, '%s' in pieces", vs_tun_decoder_errmsg(&dec_whole),
		   vs_tun_decoder_errmsg(&dec_split));

	eof_whole = vs_tun_decoder_eof(&dec_whole);
	eof_split = vs_tun_decoder_eof(&dec_split);
	FUZZ_CHECK(eof_whole == eof_split && !strcmp(vs_tun_decoder_errmsg(&dec_whole),
						     vs_tun_decoder_errmsg(&dec_split)),
		   "EOF: %s in one piece, %s in pieces", vs_tun_err_str(eof_whole),
		   vs_tun_err_str(eof_split));
	if (eof_whole) {
		/* dead for good: feeding more returns the same error, takes nothing */
		FUZZ_CHECK(vs_tun_decoder_feed(&dec_whole, p, len, &used, &m) == eof_whole &&
			   used == 0 && m.type == VS_TUN_MSG_NONE, "a dead decoder decodes");
	}

	if (fuzz_trace)
		fprintf(stderr, "fuzz_tunnel: %" G_GUINT64_FORMAT " messages, %s%s%s\n",
			dec_split.msgs, vs_tun_err_str(dec_split.err),
			dec_split.err ? ": " : "", vs_tun_decoder_errmsg(&dec_split));
	for (r = 0; r < VS_TUN_NUM_ROLES; r++)
		vs_tun_auth_clear(&sides[r].a);
}

/* ---- Encoder mode ------------------------------------------------------ */

static void tun_fuzz_encoder(const uint8_t *p, size_t len)
{
	g_autoptr(GByteArray) arr = g_byte_array_new();
	g_autoptr(GByteArray) err_out = g_byte_array_new();
	struct vs_tun_msg m, dec;
	size_t size, flen, n, got, i;
	uint8_t *buf, *frame, *copy;
	char text[2 * VS_TUN_ERROR_TEXT_MAX + 1];

	if (len < 5)
		return;
	memset(&m, 0, sizeof(m));
	m.type = p[0] % (VS_TUN_NUM_TYPES + 1);
	size = (size_t)(p[1] | p[2] << 8) % (VS_TUN_MAX_WIRE + 64);
	flen = MIN((size_t)(p[3] | p[4] << 8) % (VS_TUN_MAX_FRAME + 16), len - 5);
	p += 5;
	len -= 5;
	/* the caller's frame: exactly as long as it says */
	frame = fuzz_dup_exact(p, flen);
	p += flen;
	len -= flen;
	n = MIN(len, sizeof(m.u));
	memcpy(&m.u, p, n);
	if (m.type == VS_TUN_MSG_FRAME || m.type == VS_TUN_MSG_FRAME_TIMES) {
		m.u.frame.data = frame;
		m.u.frame.len = flen;
	}
	if (m.type == VS_TUN_MSG_CONNS) {	/* the records are the frame's bytes */
		m.u.conns.recs = frame;
		m.u.conns.count = (uint16_t)MIN(m.u.conns.count,
						flen / sizeof(struct vs_tun_wire_conn));
	}

	vs_tun_type_name(m.type);
	vs_tun_type_dir(m.type);
	vs_tun_err_str(m.u.error.code);
	vs_tun_reject_str(m.u.vm_reject.reason);

	n = vs_tun_encoded_len(&m);
	buf = malloc(size ? size : 1);
	if (!buf)
		abort();
	memset(buf, 0xa5, size);
	got = vs_tun_encode_buf(buf, size, &m);
	FUZZ_CHECK(got == (n <= size ? n : 0), "encode_buf %zu, encoded_len %zu, room %zu",
		   got, n, size);
	if (!got)
		for (i = 0; i < size; i++)
			FUZZ_CHECK(buf[i] == 0xa5, "a refused message wrote byte %zu", i);

	g_byte_array_append(arr, (const guint8 *)"pre", 3);
	FUZZ_CHECK(vs_tun_encode(arr, &m) == n && arr->len == 3 + n, "vs_tun_encode");
	if (got)
		FUZZ_CHECK(!memcmp(arr->data + 3, buf, n), "encode and encode_buf differ");
	if (m.type == VS_TUN_MSG_FRAME && n) {
		uint8_t head[VS_TUN_FRAME_HEAD_LEN];

		FUZZ_CHECK(vs_tun_encode_frame_head(head, m.u.frame.stream_id, m.u.frame.seq,
						    m.u.frame.origin, m.u.frame.len) ==
			   VS_TUN_FRAME_HEAD_LEN && !memcmp(head, arr->data + 3, sizeof(head)),
			   "frame head");
	}
	if (n) {
		/* what we send, a peer of the same version accepts, canonically */
		FUZZ_CHECK(n >= VS_TUN_HDR_LEN && n <= VS_TUN_MAX_WIRE &&
			   tun_be32(arr->data + 3) == n - VS_TUN_LEN_FIELD, "header length");
		tun_decode_one(arr->data + 3, n, &dec, &copy);
		FUZZ_CHECK(dec.type == m.type, "%s decodes as %s", vs_tun_type_name(m.type),
			   vs_tun_type_name(dec.type));
		g_byte_array_set_size(err_out, 0);
		tun_check_roundtrip(&dec, arr->data + 3, n, err_out);
		free(copy);
	}

	/* ERROR never refuses, whatever the text */
	n = MIN(len, sizeof(text) - 1);
	memcpy(text, p, n);
	text[n] = '\0';
	g_byte_array_set_size(err_out, 0);
	got = vs_tun_encode_error(err_out, m.u.error.code, text);
	FUZZ_CHECK(got >= VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_error) &&
		   got == err_out->len, "ERROR refused");
	tun_decode_one(err_out->data, err_out->len, &dec, &copy);
	free(copy);
	FUZZ_CHECK(dec.type == VS_TUN_MSG_ERROR && dec.u.error.code == m.u.error.code,
		   "ERROR decodes as %s", vs_tun_type_name(dec.type));
	for (i = 0; text[i] && i < VS_TUN_ERROR_TEXT_MAX; i++)
		FUZZ_CHECK(dec.u.error.text[i] == (text[i] >= 0x20 && text[i] <= 0x7e ? text[i] : '?'),
			   "ERROR text byte %zu", i);
	FUZZ_CHECK(dec.u.error.text[i] == '\0', "ERROR text of %zu bytes", i);

	free(buf);
	free(frame);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	fuzz_trace = g_getenv("FUZZ_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags;
	uint32_t seed;

	if (size < FUZZ_TUN_PROLOGUE)
		return 0;
	flags = data[0];
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 |
	       (uint32_t)data[4] << 24;
	data += FUZZ_TUN_PROLOGUE;
	size -= FUZZ_TUN_PROLOGUE;
	if (flags & FUZZ_TUN_ENCODER)
		tun_fuzz_encoder(data, size);
	else
		tun_fuzz_decoder(data, size, seed, flags & FUZZ_TUN_FORGE_AUTH);
	return 0;
}
