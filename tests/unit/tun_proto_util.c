/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_proto_util.c - what the tunnel codec's tests share: sample
 * messages of every type, hand-built bytes, one-shot and split decoding
 *
 * Theory of operation: test_tunnel_proto.c (encoder, golden vectors,
 * limits), test_tunnel_decode.c (the streaming decoder) and
 * test_tunnel_auth.c (handshake, versions, first bytes, key file) are one
 * test binary, test-tunnel-proto; these helpers build its inputs and check
 * its outputs.  Each asserts with GTest; none keeps state between tests
 * (frame_bytes is filled once by main()).
 */
#include <string.h>

#include <glib.h>

#include "tun_proto_util.h"

const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
const uint8_t key1[32] = "0123456789abcdef0123456789abcdef";
const uint8_t key2[32] = "0123456789abcdef0123456789abcdeX";


GByteArray *hex(const char *s)
{
	GByteArray *b = g_byte_array_new();

	for (; *s; s++) {
		int hi, lo;
		uint8_t v;

		if (g_ascii_isspace(*s))
			continue;
		hi = g_ascii_xdigit_value(s[0]);
		lo = g_ascii_xdigit_value(s[1]);
		g_assert_cmpint(hi, >=, 0);
		g_assert_cmpint(lo, >=, 0);
		v = (uint8_t)(hi << 4 | lo);
		g_byte_array_append(b, &v, 1);
		s++;
	}
	return b;
}

void put_be(GByteArray *b, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		uint8_t c = (uint8_t)(v >> (8 * bytes));

		g_byte_array_append(b, &c, 1);
	}
}

/* A message built by hand, for what the encoder refuses to produce */
GByteArray *raw(uint32_t len, uint8_t type, uint8_t flags, uint16_t reserved,
		       const uint8_t *body, size_t body_len)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, len, 4);
	g_byte_array_append(b, &type, 1);
	g_byte_array_append(b, &flags, 1);
	put_be(b, reserved, 2);
	if (body_len)
		g_byte_array_append(b, body, (guint)body_len);
	return b;
}

/* Well-formed header around @body */
GByteArray *raw_msg(uint8_t type, const GByteArray *body)
{
	return raw(4 + body->len, type, 0, 0, body->data, body->len);
}

/* Decode exactly one message that fills @b, in one feed */
enum vs_tun_err decode1(const GByteArray *b, struct vs_tun_msg *m)
{
	static struct vs_tun_decoder d;
	enum vs_tun_err err;
	size_t used;

	vs_tun_decoder_init(&d);
	err = vs_tun_decoder_feed(&d, b->data, b->len, &used, m);
	if (err) {
		g_assert_cmpstr(vs_tun_decoder_errmsg(&d), !=, "");
		if (g_test_verbose())
			g_test_message("%s: %s", vs_tun_err_str(err), vs_tun_decoder_errmsg(&d));
		return err;
	}
	g_assert_cmpuint(used, ==, b->len);
	g_assert_cmpint(m->type, !=, VS_TUN_MSG_NONE);
	return VS_TUN_OK;
}

void assert_decode_err(GByteArray *b, enum vs_tun_err want)
{
	struct vs_tun_msg m;

	g_assert_cmpstr(vs_tun_err_str(decode1(b, &m)), ==, vs_tun_err_str(want));
	g_byte_array_unref(b);
}

uint8_t frame_bytes[VS_TUN_MAX_FRAME + 64];

void init_frame_bytes(void)
{
	size_t i;

	for (i = 0; i < sizeof(frame_bytes); i++)
		frame_bytes[i] = (uint8_t)(i * 7 + 3);
}

/* One CONNS record: IPv4, one VLAN tag, every number valid */
void sample_conn(struct vs_tun_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->af = VS_TUN_SRC_AF_INET;
	c->n_tags = 1;
	c->flags = VS_TUN_CONN_FLAGS & ~(VS_TUN_CONN_VM_FIN | VS_TUN_CONN_PEER_FIN);
	memcpy(c->vm_addr, (const uint8_t[]){ 10, 0, 0, 2 }, 4);
	memcpy(c->peer_addr, (const uint8_t[]){ 192, 0, 2, 5 }, 4);
	c->vm_port = 5001;
	c->peer_port = 40000;
	memcpy(c->vm_mac, vm_mac, 6);
	memcpy(c->peer_mac, (const uint8_t[]){ 0x02, 0, 0, 0, 0, 0x99 }, 6);
	c->tags[0][0] = 0x8100;
	c->tags[0][1] = 0x0064;
	c->vm_win = 502;
	c->peer_win = 65535;
	c->vm_nxt = 0xfffffff0u;	/* about to wrap */
	c->vm_ack = 0x10;
	c->peer_nxt = 0x11;
	c->peer_ack = 0xffffffe0u;
	c->vm_tsval = 0x01020304u;
	c->peer_tsval = 0xa0b0c0d0u;
}

const uint8_t *sample_conn_wire(void)
{
	static uint8_t wire[sizeof(struct vs_tun_wire_conn)];
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_conn c;

	sample_conn(&c);
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==,
			 VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_conns) + sizeof(wire));
	memcpy(wire, b->data + VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_conns), sizeof(wire));
	return wire;
}

/* One valid message of every type */
size_t sample_msgs(struct vs_tun_msg *m)
{
	size_t n = 0, i;

	memset(m, 0, sizeof(*m) * VS_TUN_NUM_TYPES);
	m[n].type = VS_TUN_MSG_HELLO;
	m[n].u.hello.version = VS_TUN_VERSION;
	m[n].u.hello.compat_version = VS_TUN_COMPAT_VERSION;
	m[n].u.hello.role = VS_TUN_ROLE_RESPONDER;
	for (i = 0; i < VS_TUN_NONCE_LEN; i++)
		m[n].u.hello.nonce[i] = (uint8_t)(0xa0 + i);
	m[n].u.hello.ext = VS_TUN_HELLO_EXT_FRAME_TIMES;
	strcpy(m[n++].u.hello.name, "host-b.example");
	m[n].type = VS_TUN_MSG_AUTH;
	memset(m[n++].u.auth.mac, 0x5a, VS_TUN_MAC_LEN);
	m[n].type = VS_TUN_MSG_VM_OPEN;
	m[n].u.vm_open.stream_id = 42;
	memcpy(m[n].u.vm_open.mac, vm_mac, 6);
	strcpy(m[n].u.vm_open.name, "vm_1-a");
	m[n++].u.vm_open.first_seq = 1;
	m[n].type = VS_TUN_MSG_VM_ACCEPT;
	m[n].u.vm_accept.stream_id = 42;
	m[n++].u.vm_accept.next_expected_seq = 17;
	m[n].type = VS_TUN_MSG_VM_REJECT;
	m[n].u.vm_reject.stream_id = 43;
	m[n++].u.vm_reject.reason = VS_TUN_REJECT_BUSY;
	m[n].type = VS_TUN_MSG_FRAME;
	m[n].u.frame.stream_id = 42;
	m[n].u.frame.seq = 17;
	m[n].u.frame.origin = VS_TUN_ORIGIN_BLACKOUT;
	m[n].u.frame.data = frame_bytes;
	m[n++].u.frame.len = 60;
	m[n].type = VS_TUN_MSG_ACK;
	m[n].u.ack.stream_id = 42;
	m[n++].u.ack.seq = 17;
	m[n].type = VS_TUN_MSG_RESUMED;
	m[n++].u.stream.stream_id = 42;
	m[n].type = VS_TUN_MSG_LIVE_SEEN;
	m[n++].u.stream.stream_id = 42;
	m[n].type = VS_TUN_MSG_BARRIER;
	m[n].u.stream_seq.stream_id = 42;
	m[n++].u.stream_seq.last_seq = 99;
	m[n].type = VS_TUN_MSG_ABORT;
	m[n++].u.stream.stream_id = 0xffffffffu;
	m[n].type = VS_TUN_MSG_END;
	m[n].u.stream_seq.stream_id = 42;
	m[n++].u.stream_seq.last_seq = VS_TUN_SEQ_MAX;
	m[n].type = VS_TUN_MSG_EXPECT;
	memcpy(m[n].u.expect.mac, vm_mac, 6);
	strcpy(m[n++].u.expect.name, "web01");
	m[n].type = VS_TUN_MSG_PING;
	m[n++].u.ping.token = 0x0123456789abcdefull;
	m[n].type = VS_TUN_MSG_PONG;
	m[n++].u.ping.token = 0xfedcba9876543210ull;
	m[n].type = VS_TUN_MSG_ERROR;
	m[n].u.error.code = VS_TUN_ERR_SHUTDOWN;
	strcpy(m[n++].u.error.text, "shutting down");
	m[n].type = VS_TUN_MSG_FRAME_TIMES;
	m[n].u.frame.stream_id = 42;
	m[n].u.frame.seq = 18;
	m[n].u.frame.origin = VS_TUN_ORIGIN_STRAGGLER;
	m[n].u.frame.age_us = 0xfffffffeu;
	m[n].u.frame.sent_us = 0x8000000000000001ull;
	m[n].u.frame.data = frame_bytes;
	m[n++].u.frame.len = 61;
	m[n].type = VS_TUN_MSG_SOURCE_DIRECT;
	m[n].u.source_direct.stream_id = 42;
	m[n].u.source_direct.af = VS_TUN_SRC_AF_INET6;
	for (i = 0; i < 16; i++)
		m[n].u.source_direct.addr[i] = (uint8_t)(0x20 + i);
	n++;
	m[n].type = VS_TUN_MSG_SOURCE_BARRIER;
	m[n].u.source_barrier.stream_id = 42;
	m[n].u.source_barrier.last_seq = 17;
	m[n].u.source_barrier.af = VS_TUN_SRC_AF_INET;
	m[n].u.source_barrier.addr[0] = 10;
	m[n].u.source_barrier.addr[3] = 9;
	n++;
	m[n].type = VS_TUN_MSG_CONNS;
	m[n].u.conns.stream_id = 42;
	m[n].u.conns.count = 1;
	m[n].u.conns.recs = sample_conn_wire();
	n++;
	g_assert_cmpuint(n, ==, VS_TUN_NUM_TYPES - 1);
	return n;
}

/* Every type, twice, in one byte stream */
GByteArray *sample_stream(size_t *count)
{
	struct vs_tun_msg m[VS_TUN_NUM_TYPES];
	GByteArray *b = g_byte_array_new();
	size_t n = sample_msgs(m), i, rep;

	for (rep = 0; rep < 2; rep++)
		for (i = 0; i < n; i++)
			g_assert_cmpuint(vs_tun_encode(b, &m[i]), >, 0);
	*count = 2 * n;
	return b;
}

/*
 * Feed @s cut at the sorted positions @cuts; re-encode every message and
 * check the result equals @s (the encoding is canonical).
 */
void decode_split(const GByteArray *s, const size_t *cuts, size_t ncuts, size_t count)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) again = g_byte_array_new();
	size_t prev = 0, k, msgs = 0;

	vs_tun_decoder_init(&d);
	for (k = 0; k <= ncuts; k++) {
		size_t end = k < ncuts ? cuts[k] : s->len;
		const uint8_t *p = s->data + prev;
		size_t len = end - prev;

		while (len) {
			struct vs_tun_msg m;
			size_t used;

			g_assert_cmpint(vs_tun_decoder_feed(&d, p, len, &used, &m), ==, VS_TUN_OK);
			g_assert_cmpuint(used, <=, len);
			p += used;
			len -= used;
			if (m.type) {
				g_assert_cmpuint(vs_tun_encode(again, &m), >, 0);
				msgs++;
			} else {
				g_assert_cmpuint(len, ==, 0);
			}
		}
		prev = end;
	}
	g_assert_cmpint(vs_tun_decoder_eof(&d), ==, VS_TUN_OK);
	g_assert_cmpuint(msgs, ==, count);
	g_assert_cmpuint(d.msgs, ==, count);
	g_assert_cmpmem(again->data, again->len, s->data, s->len);
}

/* ---- message bodies built by hand (decoder and limits) ------------------ */

GByteArray *hello_body(uint32_t magic, uint8_t role, uint8_t name_len,
		       const char *name, size_t ext)
{
	GByteArray *b = g_byte_array_new();
	uint8_t nonce[32];
	size_t i;

	memset(nonce, 0x11, sizeof(nonce));
	put_be(b, magic, 4);
	put_be(b, 1, 2);
	put_be(b, 1, 2);
	g_byte_array_append(b, &role, 1);
	g_byte_array_append(b, nonce, 32);
	g_byte_array_append(b, &name_len, 1);
	g_byte_array_append(b, (const uint8_t *)name, (guint)strlen(name));
	for (i = 0; i < ext; i++)
		g_byte_array_append(b, (const uint8_t *)"E", 1);
	return b;
}

GByteArray *vm_open_body(uint32_t stream, const uint8_t *mac, uint8_t name_len,
			 const char *name, uint64_t seq, bool with_seq)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, stream, 4);
	g_byte_array_append(b, mac, 6);
	g_byte_array_append(b, &name_len, 1);
	g_byte_array_append(b, (const uint8_t *)name, (guint)strlen(name));
	if (with_seq)
		put_be(b, seq, 8);
	return b;
}

GByteArray *stream_seq_body(uint32_t stream, uint64_t seq)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, stream, 4);
	put_be(b, seq, 8);
	return b;
}

GByteArray *frame_body(uint32_t stream, uint64_t seq, uint8_t origin, size_t len)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, stream, 4);
	put_be(b, seq, 8);
	g_byte_array_append(b, &origin, 1);
	g_byte_array_append(b, frame_bytes, (guint)len);
	return b;
}

void check_body(uint8_t type, GByteArray *body, enum vs_tun_err want)
{
	assert_decode_err(raw_msg(type, body), want);
	g_byte_array_unref(body);
}
