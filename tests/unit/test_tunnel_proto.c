/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_proto.c - tunnel codec, decoder, handshake and key file
 *
 * Theory of operation: every message type is encoded, decoded and encoded
 * again (the encoding is canonical, so equal bytes mean equal fields); a
 * stream of all of them is decoded under every split into two and three
 * pieces, byte by byte, and in random chunks; every limit is hit at its
 * maximum and one past it; two golden byte vectors pin the wire format and
 * a hand-built transcript pins the AUTH MAC.  Handshakes run between two
 * in-memory peers, including a wrong key either way, reflection, replay and
 * version mismatches.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tunnel_proto.h"

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t key1[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[32] = "0123456789abcdef0123456789abcdeX";

/* ---- helpers ----------------------------------------------------------- */

static GByteArray *hex(const char *s)
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

static void put_be(GByteArray *b, uint64_t v, unsigned int bytes)
{
	while (bytes--) {
		uint8_t c = (uint8_t)(v >> (8 * bytes));

		g_byte_array_append(b, &c, 1);
	}
}

/* A message built by hand, for what the encoder refuses to produce */
static GByteArray *raw(uint32_t len, uint8_t type, uint8_t flags, uint16_t reserved,
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
static GByteArray *raw_msg(uint8_t type, const GByteArray *body)
{
	return raw(4 + body->len, type, 0, 0, body->data, body->len);
}

/* Decode exactly one message that fills @b, in one feed */
static enum vs_tun_err decode1(const GByteArray *b, struct vs_tun_msg *m)
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

static void assert_decode_err(GByteArray *b, enum vs_tun_err want)
{
	struct vs_tun_msg m;

	g_assert_cmpstr(vs_tun_err_str(decode1(b, &m)), ==, vs_tun_err_str(want));
	g_byte_array_unref(b);
}

static uint8_t frame_bytes[VS_TUN_MAX_FRAME + 1];

static void init_frame_bytes(void)
{
	size_t i;

	for (i = 0; i < sizeof(frame_bytes); i++)
		frame_bytes[i] = (uint8_t)(i * 7 + 3);
}

/* One valid message of every type */
static size_t sample_msgs(struct vs_tun_msg *m)
{
	size_t n = 0, i;

	memset(m, 0, sizeof(*m) * VS_TUN_NUM_TYPES);
	m[n].type = VS_TUN_MSG_HELLO;
	m[n].u.hello.version = VS_TUN_VERSION;
	m[n].u.hello.compat_version = VS_TUN_COMPAT_VERSION;
	m[n].u.hello.role = VS_TUN_ROLE_RESPONDER;
	for (i = 0; i < VS_TUN_NONCE_LEN; i++)
		m[n].u.hello.nonce[i] = (uint8_t)(0xa0 + i);
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
	g_assert_cmpuint(n, ==, VS_TUN_NUM_TYPES - 1);
	return n;
}

/* Every type, twice, in one byte stream */
static GByteArray *sample_stream(size_t *count)
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
static void decode_split(const GByteArray *s, const size_t *cuts, size_t ncuts, size_t count)
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

/* ---- round trip -------------------------------------------------------- */

static void test_roundtrip(void)
{
	struct vs_tun_msg m[VS_TUN_NUM_TYPES];
	size_t n = sample_msgs(m), i;

	for (i = 0; i < n; i++) {
		g_autoptr(GByteArray) b = g_byte_array_new();
		g_autoptr(GByteArray) b2 = g_byte_array_new();
		struct vs_tun_msg out;
		size_t len = vs_tun_encode(b, &m[i]);

		g_assert_cmpuint(len, >, 0);
		g_assert_cmpuint(len, ==, b->len);
		g_assert_cmpuint(len, ==, vs_tun_encoded_len(&m[i]));
		g_assert_cmpuint(len, <=, VS_TUN_MAX_WIRE);
		g_assert_cmpint(decode1(b, &out), ==, VS_TUN_OK);
		g_assert_cmpint(out.type, ==, m[i].type);
		g_assert_cmpuint(vs_tun_encode(b2, &out), ==, len);
		g_assert_cmpmem(b2->data, b2->len, b->data, b->len);
	}
	/* field by field for a few, so canonical re-encoding is not all we trust */
	{
		g_autoptr(GByteArray) b = g_byte_array_new();
		struct vs_tun_msg out;

		vs_tun_encode(b, &m[2]);	/* VM_OPEN */
		g_assert_cmpint(decode1(b, &out), ==, VS_TUN_OK);
		g_assert_cmpuint(out.u.vm_open.stream_id, ==, 42);
		g_assert_cmpmem(out.u.vm_open.mac, 6, vm_mac, 6);
		g_assert_cmpstr(out.u.vm_open.name, ==, "vm_1-a");
		g_assert_cmpuint(out.u.vm_open.first_seq, ==, 1);
		g_byte_array_set_size(b, 0);
		vs_tun_encode(b, &m[5]);	/* FRAME */
		g_assert_cmpint(decode1(b, &out), ==, VS_TUN_OK);
		g_assert_cmpuint(out.u.frame.seq, ==, 17);
		g_assert_cmpuint(out.u.frame.origin, ==, VS_TUN_ORIGIN_BLACKOUT);
		g_assert_cmpmem(out.u.frame.data, out.u.frame.len, frame_bytes, 60);
		g_byte_array_set_size(b, 0);
		vs_tun_encode(b, &m[0]);	/* HELLO */
		g_assert_cmpint(decode1(b, &out), ==, VS_TUN_OK);
		g_assert_cmpstr(out.u.hello.name, ==, "host-b.example");
		g_assert_cmpmem(out.u.hello.nonce, 32, m[0].u.hello.nonce, 32);
		g_assert_cmpuint(out.u.hello.role, ==, VS_TUN_ROLE_RESPONDER);
	}
}

/* The per-type helpers produce what the generic encoder produces */
static void test_helpers(void)
{
	struct vs_tun_msg m[VS_TUN_NUM_TYPES];
	g_autoptr(GByteArray) a = g_byte_array_new();
	g_autoptr(GByteArray) b = g_byte_array_new();
	size_t n = sample_msgs(m), i;

	for (i = 0; i < n; i++)
		vs_tun_encode(a, &m[i]);
	g_assert_cmpuint(vs_tun_encode_hello(b, VS_TUN_ROLE_RESPONDER, m[0].u.hello.nonce,
					     "host-b.example"), >, 0);
	g_assert_cmpuint(vs_tun_encode_auth(b, m[1].u.auth.mac), >, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 42, vm_mac, "vm_1-a", 1), >, 0);
	g_assert_cmpuint(vs_tun_encode_vm_accept(b, 42, 17), >, 0);
	g_assert_cmpuint(vs_tun_encode_vm_reject(b, 43, VS_TUN_REJECT_BUSY), >, 0);
	g_assert_cmpuint(vs_tun_encode_frame(b, 42, 17, VS_TUN_ORIGIN_BLACKOUT, frame_bytes, 60),
			 ==, VS_TUN_FRAME_HEAD_LEN + 60);
	g_assert_cmpuint(vs_tun_encode_ack(b, 42, 17), >, 0);
	g_assert_cmpuint(vs_tun_encode_resumed(b, 42), >, 0);
	g_assert_cmpuint(vs_tun_encode_live_seen(b, 42), >, 0);
	g_assert_cmpuint(vs_tun_encode_barrier(b, 42, 99), >, 0);
	g_assert_cmpuint(vs_tun_encode_abort(b, 0xffffffffu), >, 0);
	g_assert_cmpuint(vs_tun_encode_end(b, 42, VS_TUN_SEQ_MAX), >, 0);
	g_assert_cmpuint(vs_tun_encode_expect(b, vm_mac, "web01"), >, 0);
	g_assert_cmpuint(vs_tun_encode_ping(b, 0x0123456789abcdefull), >, 0);
	g_assert_cmpuint(vs_tun_encode_pong(b, 0xfedcba9876543210ull), >, 0);
	g_assert_cmpuint(vs_tun_encode_error(b, VS_TUN_ERR_SHUTDOWN, "shutting down"), >, 0);
	g_assert_cmpmem(b->data, b->len, a->data, a->len);
}

static void test_encode_buf(void)
{
	struct vs_tun_msg m[VS_TUN_NUM_TYPES];
	g_autoptr(GByteArray) ref = g_byte_array_new();
	uint8_t buf[256], head[VS_TUN_FRAME_HEAD_LEN];
	size_t len;

	sample_msgs(m);
	len = vs_tun_encode(ref, &m[5]);	/* FRAME of 60 bytes */
	g_assert_cmpuint(vs_tun_encode_buf(buf, len - 1, &m[5]), ==, 0);
	g_assert_cmpuint(vs_tun_encode_buf(buf, len, &m[5]), ==, len);
	g_assert_cmpmem(buf, len, ref->data, ref->len);
	/* head + frame bytes sent separately = the same message */
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 42, 17, VS_TUN_ORIGIN_BLACKOUT, 60), ==,
			 VS_TUN_FRAME_HEAD_LEN);
	g_assert_cmpmem(head, sizeof(head), ref->data, VS_TUN_FRAME_HEAD_LEN);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 0, 17, 0, 60), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 1, 0, 0, 60), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 1, 1, 2, 60), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 1, 1, 0, 13), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 1, 1, 0, VS_TUN_MAX_FRAME), ==,
			 VS_TUN_FRAME_HEAD_LEN);
	g_assert_cmpuint(vs_tun_encode_frame_head(head, 1, 1, 0, VS_TUN_MAX_FRAME + 1), ==, 0);
}

/* The encoder refuses what a decoder would reject, and appends nothing */
static void test_encode_refuses(void)
{
	static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t zero[6];
	g_autoptr(GByteArray) b = g_byte_array_new();
	uint8_t nonce[32] = { 0 };
	struct vs_tun_msg m = { .type = VS_TUN_MSG_NONE };

	g_assert_cmpuint(vs_tun_encode(b, &m), ==, 0);
	m.type = VS_TUN_NUM_TYPES;
	g_assert_cmpuint(vs_tun_encode(b, &m), ==, 0);
	g_assert_cmpuint(vs_tun_encode_hello(b, 2, nonce, "a"), ==, 0);
	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce, ""), ==, 0);
	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce, "a/b"), ==, 0);
	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce, NULL), ==, 0);
	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce,
		"0123456789012345678901234567890123456789012345678901234567890123"), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 0, vm_mac, "vm", 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 1, mcast, "vm", 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 1, zero, "vm", 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 1, vm_mac, "vm.1", 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 1, vm_mac, "0123456789abcdef", 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_open(b, 1, vm_mac, "vm", 0), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_accept(b, 1, 0), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_accept(b, 1, (uint64_t)VS_TUN_SEQ_MAX + 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_vm_reject(b, 0, VS_TUN_REJECT_BUSY), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 2, frame_bytes, 60), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 0, NULL, 60), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, 13), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, VS_TUN_MAX_FRAME + 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_ack(b, 0, 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_ack(b, 1, UINT64_MAX), ==, 0);
	g_assert_cmpuint(vs_tun_encode_resumed(b, 0), ==, 0);
	g_assert_cmpuint(vs_tun_encode_barrier(b, 0, 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_end(b, 1, (uint64_t)VS_TUN_SEQ_MAX + 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_expect(b, mcast, "vm"), ==, 0);
	g_assert_cmpuint(vs_tun_encode_expect(b, vm_mac, ""), ==, 0);
	m.type = VS_TUN_MSG_ERROR;
	strcpy(m.u.error.text, "bell\a");
	g_assert_cmpuint(vs_tun_encode(b, &m), ==, 0);
	memset(m.u.error.text, 'x', sizeof(m.u.error.text));	/* no NUL at all */
	g_assert_cmpuint(vs_tun_encode(b, &m), ==, 0);
	g_assert_cmpuint(b->len, ==, 0);
	/* zero is a valid "none yet" for ACK, BARRIER and END */
	g_assert_cmpuint(vs_tun_encode_ack(b, 1, 0), >, 0);
	g_assert_cmpuint(vs_tun_encode_barrier(b, 1, 0), >, 0);
	g_assert_cmpuint(vs_tun_encode_end(b, 1, 0), >, 0);
}

static void test_encode_error_sanitized(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autofree char *longtext = g_strnfill(300, 'e');
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_error(b, VS_TUN_ERR_BAD_NAME, "bad\nname\x01\xff"), >, 0);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.error.code, ==, VS_TUN_ERR_BAD_NAME);
	g_assert_cmpstr(m.u.error.text, ==, "bad?name??");
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_error(b, VS_TUN_ERR_INTERNAL, longtext), ==,
			 VS_TUN_HDR_LEN + 3 + VS_TUN_ERROR_TEXT_MAX);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(strlen(m.u.error.text), ==, VS_TUN_ERROR_TEXT_MAX);
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_error(b, VS_TUN_ERR_INTERNAL, NULL), ==, VS_TUN_HDR_LEN + 3);
}

/* ---- golden vectors ---------------------------------------------------- */

static void test_golden_hello(void)
{
	static const char want[] =
		"00000034 01 00 0000"		/* len 52, HELLO, flags, reserved */
		"56534854"			/* "VSHT" */
		"0002 0002"			/* version 2, compat_version 2 */
		"00"				/* role: initiator */
		"000102030405060708090a0b0c0d0e0f"
		"101112131415161718191a1b1c1d1e1f"	/* nonce */
		"06 6e6f64652d61";		/* "node-a" */
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	uint8_t nonce[32];
	struct vs_tun_msg m;
	size_t i;

	for (i = 0; i < 32; i++)
		nonce[i] = (uint8_t)i;
	g_assert_cmpuint(vs_tun_encode_hello(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a"), ==, 56);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_HELLO);
	g_assert_cmpstr(m.u.hello.name, ==, "node-a");
}

static void test_golden_frame(void)
{
	static const char want[] =
		"0000001f 06 00 0000"		/* len 31, FRAME */
		"00000007"			/* stream 7 */
		"0102030405060708"		/* seq */
		"01"				/* origin: straggler */
		"ffffffffffff 525400000001 0806";	/* the frame: an ARP header */
	static const uint8_t eth[14] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x06,
	};
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_frame(b, 7, 0x0102030405060708ull,
					     VS_TUN_ORIGIN_STRAGGLER, eth, 14), ==, 35);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.frame.stream_id, ==, 7);
	g_assert_cmpuint(m.u.frame.seq, ==, 0x0102030405060708ull);
	g_assert_cmpuint(m.u.frame.origin, ==, VS_TUN_ORIGIN_STRAGGLER);
	g_assert_cmpmem(m.u.frame.data, m.u.frame.len, eth, 14);
}

/* ---- decoder ----------------------------------------------------------- */

static void test_split_every_byte(void)
{
	size_t count;
	g_autoptr(GByteArray) s = sample_stream(&count);
	g_autofree size_t *cuts = g_new(size_t, s->len);
	size_t i;

	for (i = 1; i < s->len; i++)
		cuts[i - 1] = i;
	decode_split(s, cuts, s->len - 1, count);
}

/* Every split into two and into three pieces */
static void test_split_all_cuts(void)
{
	size_t count, i, j, cuts[2];
	g_autoptr(GByteArray) s = sample_stream(&count);

	decode_split(s, NULL, 0, count);
	for (i = 0; i <= s->len; i++) {
		cuts[0] = i;
		decode_split(s, cuts, 1, count);
		for (j = i; j <= s->len; j++) {
			cuts[1] = j;
			decode_split(s, cuts, 2, count);
		}
	}
}

static void test_split_random(void)
{
	size_t count, iter;
	g_autoptr(GByteArray) s = sample_stream(&count);
	g_autofree size_t *cuts = g_new(size_t, s->len + 1);

	for (iter = 0; iter < 2000; iter++) {
		size_t n = 0, pos = 0;

		for (;;) {
			pos += (size_t)g_test_rand_int_range(0, 80);
			if (pos >= s->len)
				break;
			cuts[n++] = pos;
		}
		decode_split(s, cuts, n, count);
	}
}

/* A frame that arrives whole is not copied; one in pieces is, and both
 * point at the right bytes */
static void test_zero_copy(void)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;
	size_t used;

	vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, 100);
	vs_tun_decoder_init(&d);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data, b->len, &used, &m), ==, VS_TUN_OK);
	g_assert_true(m.u.frame.data == b->data + VS_TUN_FRAME_HEAD_LEN);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data, 50, &used, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(used, ==, 50);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_NONE);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data + 50, b->len - 50, &used, &m), ==,
			VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_FRAME);
	g_assert_true(m.u.frame.data == d.buf + VS_TUN_FRAME_HEAD_LEN);
	g_assert_cmpmem(m.u.frame.data, m.u.frame.len, frame_bytes, 100);
}

/* A message returned mid-chunk: the rest is left for the next call */
static void test_consumed(void)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;
	size_t used, first;

	first = vs_tun_encode_ping(b, 1);
	vs_tun_encode_pong(b, 1);
	vs_tun_decoder_init(&d);
	/* partial header, then the rest of both messages in one chunk */
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data, 3, &used, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(used, ==, 3);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data + 3, b->len - 3, &used, &m), ==,
			VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_PING);
	g_assert_cmpuint(used, ==, first - 3);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data + first, b->len - first, &used, &m), ==,
			VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_PONG);
	g_assert_cmpuint(used, ==, b->len - first);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data, 0, &used, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(used, ==, 0);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_NONE);
}

static void test_bad_header(void)
{
	static const uint8_t body[16];

	assert_decode_err(raw(0, VS_TUN_MSG_PING, 0, 0, NULL, 0), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(3, VS_TUN_MSG_PING, 0, 0, NULL, 0), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4, VS_TUN_MSG_PING, 0, 0, NULL, 0), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(0xffffffffu, VS_TUN_MSG_FRAME, 0, 0, NULL, 0), VS_TUN_ERR_TOO_LARGE);
	assert_decode_err(raw(12, 0, 0, 0, body, 8), VS_TUN_ERR_BAD_TYPE);
	assert_decode_err(raw(12, VS_TUN_NUM_TYPES, 0, 0, body, 8), VS_TUN_ERR_BAD_TYPE);
	assert_decode_err(raw(12, 255, 0, 0, body, 8), VS_TUN_ERR_BAD_TYPE);
	assert_decode_err(raw(12, VS_TUN_MSG_PING, 1, 0, body, 8), VS_TUN_ERR_RESERVED);
	assert_decode_err(raw(12, VS_TUN_MSG_PING, 0, 0x8000, body, 8), VS_TUN_ERR_RESERVED);
	/* fixed-size types of another size */
	assert_decode_err(raw(11, VS_TUN_MSG_PING, 0, 0, body, 7), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(13, VS_TUN_MSG_PING, 0, 0, body, 9), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4 + 11, VS_TUN_MSG_ACK, 0, 0, body, 11), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4 + 5, VS_TUN_MSG_RESUMED, 0, 0, body, 5), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4 + 33, VS_TUN_MSG_AUTH, 0, 0, body, 16), VS_TUN_ERR_BAD_LENGTH);
	/* below the fixed part of variable-size types */
	assert_decode_err(raw(4 + 12, VS_TUN_MSG_FRAME, 0, 0, body, 12), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4 + 2, VS_TUN_MSG_ERROR, 0, 0, body, 2), VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(4 + 6, VS_TUN_MSG_EXPECT, 0, 0, body, 6), VS_TUN_ERR_BAD_LENGTH);
}

/* The header is judged before the body arrives: no waiting for 4 GiB */
static void test_header_checked_early(void)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) b = raw(VS_TUN_MAX_MSG + 1, VS_TUN_MSG_FRAME, 0, 0, NULL, 0);
	g_autoptr(GByteArray) p = raw(4 + 100, VS_TUN_MSG_PING, 0, 0, NULL, 0);
	struct vs_tun_msg m;
	size_t used, i;

	vs_tun_decoder_init(&d);
	for (i = 0; i < 7; i++)
		g_assert_cmpint(vs_tun_decoder_feed(&d, b->data + i, 1, &used, &m), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_decoder_feed(&d, b->data + 7, 1, &used, &m), ==,
			VS_TUN_ERR_TOO_LARGE);
	vs_tun_decoder_init(&d);
	g_assert_cmpint(vs_tun_decoder_feed(&d, p->data, p->len, &used, &m), ==,
			VS_TUN_ERR_BAD_LENGTH);
}

static GByteArray *hello_body(uint32_t magic, uint8_t role, uint8_t name_len,
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

static GByteArray *vm_open_body(uint32_t stream, const uint8_t *mac, uint8_t name_len,
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

static GByteArray *stream_seq_body(uint32_t stream, uint64_t seq)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, stream, 4);
	put_be(b, seq, 8);
	return b;
}

static GByteArray *frame_body(uint32_t stream, uint64_t seq, uint8_t origin, size_t len)
{
	GByteArray *b = g_byte_array_new();

	put_be(b, stream, 4);
	put_be(b, seq, 8);
	g_byte_array_append(b, &origin, 1);
	g_byte_array_append(b, frame_bytes, (guint)len);
	return b;
}

static void check_body(uint8_t type, GByteArray *body, enum vs_tun_err want)
{
	assert_decode_err(raw_msg(type, body), want);
	g_byte_array_unref(body);
}

static void test_bad_fields(void)
{
	static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	static const uint8_t zero[6];
	const uint64_t big = (uint64_t)VS_TUN_SEQ_MAX + 1;
	GByteArray *b;

	check_body(VS_TUN_MSG_HELLO, hello_body(0x56534855, 0, 1, "a", 0), VS_TUN_ERR_BAD_MAGIC);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 2, 1, "a", 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 0, "", 0), VS_TUN_ERR_BAD_NAME);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 3, "a b", 0), VS_TUN_ERR_BAD_NAME);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 3, "a/b", 0), VS_TUN_ERR_BAD_NAME);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 3, "a.b", 0), VS_TUN_OK);

	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(0, vm_mac, 2, "vm", 1, true),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, mcast, 2, "vm", 1, true),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, zero, 2, "vm", 1, true),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 2, "vm", 0, true),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 2, "vm", big, true),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 3, "v.m", 1, true),
		   VS_TUN_ERR_BAD_NAME);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 0, "", 1, true),
		   VS_TUN_ERR_BAD_NAME);
	/* the name eats the seq: first_seq runs past the body */
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 10, "vmvmvmvmvm", 1, false),
		   VS_TUN_ERR_TRUNCATED_BODY);
	/* a name shorter than its bytes: trailing bytes */
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 2, "vmvmvm", 1, true),
		   VS_TUN_ERR_BAD_LENGTH);

	check_body(VS_TUN_MSG_VM_ACCEPT, stream_seq_body(0, 1), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_ACCEPT, stream_seq_body(1, 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_VM_ACCEPT, stream_seq_body(1, VS_TUN_SEQ_MAX), VS_TUN_OK);
	check_body(VS_TUN_MSG_VM_ACCEPT, stream_seq_body(1, big), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_ACK, stream_seq_body(0, 1), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_ACK, stream_seq_body(1, 0), VS_TUN_OK);
	check_body(VS_TUN_MSG_ACK, stream_seq_body(1, VS_TUN_SEQ_MAX), VS_TUN_OK);
	check_body(VS_TUN_MSG_ACK, stream_seq_body(1, big), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_ACK, stream_seq_body(1, UINT64_MAX), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_BARRIER, stream_seq_body(0, 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_BARRIER, stream_seq_body(1, big), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_END, stream_seq_body(0, 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_END, stream_seq_body(1, big), VS_TUN_ERR_BAD_FIELD);

	b = g_byte_array_new();
	put_be(b, 0, 4);
	check_body(VS_TUN_MSG_RESUMED, b, VS_TUN_ERR_BAD_FIELD);
	b = g_byte_array_new();
	put_be(b, 0, 4);
	check_body(VS_TUN_MSG_LIVE_SEEN, b, VS_TUN_ERR_BAD_FIELD);
	b = g_byte_array_new();
	put_be(b, 0, 4);
	check_body(VS_TUN_MSG_ABORT, b, VS_TUN_ERR_BAD_FIELD);
	b = g_byte_array_new();
	put_be(b, 0, 4);
	put_be(b, VS_TUN_REJECT_BUSY, 2);
	check_body(VS_TUN_MSG_VM_REJECT, b, VS_TUN_ERR_BAD_FIELD);
	b = g_byte_array_new();
	put_be(b, 9, 4);
	put_be(b, 0xbeef, 2);		/* unknown reasons are accepted */
	check_body(VS_TUN_MSG_VM_REJECT, b, VS_TUN_OK);

	check_body(VS_TUN_MSG_FRAME, frame_body(0, 1, 0, 60), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 0, 0, 60), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, big, 0, 60), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, VS_TUN_SEQ_MAX, 1, 60), VS_TUN_OK);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 2, 60), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0xff, 60), VS_TUN_ERR_BAD_FIELD);

	b = g_byte_array_new();
	g_byte_array_append(b, mcast, 6);
	g_byte_array_append(b, (const uint8_t *)"\x02vm", 3);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_ERR_BAD_FIELD);
	b = g_byte_array_new();
	g_byte_array_append(b, vm_mac, 6);
	g_byte_array_append(b, (const uint8_t *)"\x02vmX", 4);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_ERR_BAD_LENGTH);
	b = g_byte_array_new();
	g_byte_array_append(b, vm_mac, 6);
	g_byte_array_append(b, (const uint8_t *)"\x05vm", 3);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_ERR_TRUNCATED_BODY);
}

/* Inner lengths that run past the body, and streams that stop mid-message */
static void test_truncated(void)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) s = g_byte_array_new();
	struct vs_tun_msg m;
	GByteArray *b;
	size_t used, cut, first;

	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 10, "short", 0),
		   VS_TUN_ERR_TRUNCATED_BODY);
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, 11, "vm", 1, true),
		   VS_TUN_ERR_TRUNCATED_BODY);
	b = g_byte_array_new();
	put_be(b, 1, 2);
	g_byte_array_append(b, (const uint8_t *)"\x10oops", 5);
	check_body(VS_TUN_MSG_ERROR, b, VS_TUN_ERR_TRUNCATED_BODY);

	/* EOF: clean at a boundary, an error anywhere else */
	first = vs_tun_encode_ping(s, 5);
	vs_tun_encode_frame(s, 1, 1, 0, frame_bytes, 64);
	for (cut = 0; cut <= s->len; cut++) {
		enum vs_tun_err want = (cut == 0 || cut == first || cut == s->len) ?
				       VS_TUN_OK : VS_TUN_ERR_TRUNCATED_STREAM;
		size_t off = 0;

		vs_tun_decoder_init(&d);
		while (off < cut) {
			g_assert_cmpint(vs_tun_decoder_feed(&d, s->data + off, cut - off, &used, &m),
					==, VS_TUN_OK);
			off += used;
		}
		g_assert_cmpint(vs_tun_decoder_eof(&d), ==, want);
		if (want) {
			g_assert_nonnull(strstr(vs_tun_decoder_errmsg(&d), "closed"));
			/* dead for good */
			g_assert_cmpint(vs_tun_decoder_feed(&d, s->data, s->len, &used, &m), ==,
					want);
			g_assert_cmpuint(used, ==, 0);
		}
	}
}

static void test_dead_after_error(void)
{
	static struct vs_tun_decoder d;
	g_autoptr(GByteArray) bad = raw(12, 99, 0, 0, frame_bytes, 8);
	g_autoptr(GByteArray) good = g_byte_array_new();
	struct vs_tun_msg m;
	size_t used;

	vs_tun_encode_ping(good, 1);
	vs_tun_decoder_init(&d);
	g_assert_cmpint(vs_tun_decoder_feed(&d, bad->data, bad->len, &used, &m), ==,
			VS_TUN_ERR_BAD_TYPE);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_NONE);
	g_assert_cmpint(vs_tun_decoder_feed(&d, good->data, good->len, &used, &m), ==,
			VS_TUN_ERR_BAD_TYPE);
	g_assert_cmpuint(used, ==, 0);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_NONE);
	g_assert_cmpint(vs_tun_decoder_eof(&d), ==, VS_TUN_ERR_BAD_TYPE);
	g_assert_nonnull(strstr(vs_tun_decoder_errmsg(&d), "99"));
	vs_tun_decoder_init(&d);	/* a new connection */
	g_assert_cmpint(vs_tun_decoder_feed(&d, good->data, good->len, &used, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_PING);
}

/* Feed @len bytes in chunks; never crash, stop at the first error */
static enum vs_tun_err feed_garbage(const uint8_t *p, size_t len, size_t chunk)
{
	static struct vs_tun_decoder d;
	enum vs_tun_err err = VS_TUN_OK;

	vs_tun_decoder_init(&d);
	while (len) {
		struct vs_tun_msg m;
		size_t used;

		err = vs_tun_decoder_feed(&d, p, MIN(len, chunk), &used, &m);
		if (err)
			break;
		g_assert_cmpuint(used, <=, MIN(len, chunk));
		if (m.type == VS_TUN_MSG_FRAME) {
			g_assert_cmpuint(m.u.frame.len, >=, VS_TUN_MIN_FRAME);
			g_assert_cmpuint(m.u.frame.len, <=, VS_TUN_MAX_FRAME);
		}
		p += used;
		len -= used;
	}
	return err;
}

static void test_garbage(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc };
	size_t count, iter;
	g_autoptr(GByteArray) s = sample_stream(&count);
	uint8_t junk[4096];

	g_assert_cmpint(feed_garbage((const uint8_t *)http, sizeof(http) - 1, 64), ==,
			VS_TUN_ERR_TOO_LARGE);
	g_assert_cmpint(feed_garbage(tls, sizeof(tls), 64), ==, VS_TUN_ERR_TOO_LARGE);
	memset(junk, 0, sizeof(junk));
	g_assert_cmpint(feed_garbage(junk, sizeof(junk), 64), ==, VS_TUN_ERR_BAD_LENGTH);
	memset(junk, 0xff, sizeof(junk));
	g_assert_cmpint(feed_garbage(junk, sizeof(junk), 1), ==, VS_TUN_ERR_TOO_LARGE);

	/* random bytes, and a valid stream with random bytes flipped */
	for (iter = 0; iter < 3000; iter++) {
		g_autoptr(GByteArray) mut = g_byte_array_new();
		size_t i, flips = (size_t)g_test_rand_int_range(1, 6);

		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)g_test_rand_int_range(0, 256);
		(void)feed_garbage(junk, (size_t)g_test_rand_int_range(1, sizeof(junk)),
				   (size_t)g_test_rand_int_range(1, 300));
		g_byte_array_append(mut, s->data, s->len);
		for (i = 0; i < flips; i++)
			mut->data[g_test_rand_int_range(0, (gint32)mut->len)] =
				(uint8_t)g_test_rand_int_range(0, 256);
		(void)feed_garbage(mut->data, mut->len, (size_t)g_test_rand_int_range(1, 100));
	}
}

/* ---- limits: the maximum, and one past it ------------------------------ */

static void test_frame_max(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, VS_TUN_MAX_FRAME), ==,
			 VS_TUN_MAX_WIRE);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.frame.len, ==, VS_TUN_MAX_FRAME);
	g_assert_cmpmem(m.u.frame.data, m.u.frame.len, frame_bytes, VS_TUN_MAX_FRAME);
}

static void test_frame_max_plus_one(void)
{
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, VS_TUN_MAX_FRAME + 1),
		   VS_TUN_ERR_TOO_LARGE);
}

static void test_frame_min(void)
{
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, VS_TUN_MIN_FRAME), VS_TUN_OK);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, VS_TUN_MIN_FRAME - 1),
		   VS_TUN_ERR_RUNT_FRAME);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, 0), VS_TUN_ERR_RUNT_FRAME);
}

static void test_msg_max(void)
{
	/* header.len: at the maximum a FRAME is fine; one past, any type is refused */
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, VS_TUN_MAX_FRAME), VS_TUN_OK);
	assert_decode_err(raw(VS_TUN_MAX_MSG + 1, VS_TUN_MSG_FRAME, 0, 0, NULL, 0),
			  VS_TUN_ERR_TOO_LARGE);
	assert_decode_err(raw(VS_TUN_MAX_MSG + 1, VS_TUN_MSG_PING, 0, 0, NULL, 0),
			  VS_TUN_ERR_TOO_LARGE);
	assert_decode_err(raw(VS_TUN_MAX_MSG + 1, 200, 0, 0, NULL, 0), VS_TUN_ERR_TOO_LARGE);
	/* and the minimum, and one below */
	assert_decode_err(raw(VS_TUN_MIN_MSG, VS_TUN_MSG_RESUMED, 0, 0, NULL, 0),
			  VS_TUN_ERR_BAD_LENGTH);
	assert_decode_err(raw(VS_TUN_MIN_MSG - 1, VS_TUN_MSG_RESUMED, 0, 0, NULL, 0),
			  VS_TUN_ERR_BAD_LENGTH);
}

static void test_node_name_max(void)
{
	g_autofree char *max = g_strnfill(VS_TUN_NODE_NAME_MAX, 'n');
	g_autofree char *over = g_strnfill(VS_TUN_NODE_NAME_MAX + 1, 'n');
	g_autoptr(GByteArray) b = g_byte_array_new();
	uint8_t nonce[32] = { 0 };
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce, max), >, 0);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpstr(m.u.hello.name, ==, max);
	g_assert_cmpuint(vs_tun_encode_hello(b, 0, nonce, over), ==, 0);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, VS_TUN_NODE_NAME_MAX, max, 0),
		   VS_TUN_OK);
	check_body(VS_TUN_MSG_HELLO,
		   hello_body(VS_TUN_MAGIC, 0, VS_TUN_NODE_NAME_MAX + 1, over, 0),
		   VS_TUN_ERR_BAD_NAME);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 0, 255, max, 0),
		   VS_TUN_ERR_BAD_NAME);
	g_assert_true(vs_tun_node_name_valid(max));
	g_assert_false(vs_tun_node_name_valid(over));
}

static void test_vm_name_max(void)
{
	g_autofree char *max = g_strnfill(VS_TUN_VM_NAME_MAX, 'v');
	g_autofree char *over = g_strnfill(VS_TUN_VM_NAME_MAX + 1, 'v');
	GByteArray *b;

	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, VS_TUN_VM_NAME_MAX, max, 1, true),
		   VS_TUN_OK);
	/* a body longer than any VM_OPEN: refused from the header alone */
	check_body(VS_TUN_MSG_VM_OPEN,
		   vm_open_body(1, vm_mac, VS_TUN_VM_NAME_MAX + 1, over, 1, true),
		   VS_TUN_ERR_TOO_LARGE);
	/* a name_len one past the limit inside a plausible body */
	check_body(VS_TUN_MSG_VM_OPEN, vm_open_body(1, vm_mac, VS_TUN_VM_NAME_MAX + 1, "vm", 1, true),
		   VS_TUN_ERR_BAD_NAME);
	b = g_byte_array_new();
	g_byte_array_append(b, vm_mac, 6);
	g_byte_array_append(b, (const uint8_t *)"\x0f", 1);
	g_byte_array_append(b, (const uint8_t *)max, VS_TUN_VM_NAME_MAX);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_OK);
	b = g_byte_array_new();
	g_byte_array_append(b, vm_mac, 6);
	g_byte_array_append(b, (const uint8_t *)"\x10", 1);
	g_byte_array_append(b, (const uint8_t *)over, VS_TUN_VM_NAME_MAX + 1);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_ERR_TOO_LARGE);
	b = g_byte_array_new();
	g_byte_array_append(b, vm_mac, 6);
	g_byte_array_append(b, (const uint8_t *)"\x10vm", 3);
	check_body(VS_TUN_MSG_EXPECT, b, VS_TUN_ERR_BAD_NAME);
	g_assert_true(vs_tun_vm_name_valid(max));
	g_assert_false(vs_tun_vm_name_valid(over));
}

static void test_error_text_max(void)
{
	GByteArray *b;
	uint8_t n;

	b = g_byte_array_new();
	put_be(b, VS_TUN_ERR_TIMEOUT, 2);
	n = VS_TUN_ERROR_TEXT_MAX;
	g_byte_array_append(b, &n, 1);
	while (b->len < 3 + VS_TUN_ERROR_TEXT_MAX)
		g_byte_array_append(b, (const uint8_t *)"t", 1);
	check_body(VS_TUN_MSG_ERROR, b, VS_TUN_OK);

	b = g_byte_array_new();
	put_be(b, VS_TUN_ERR_TIMEOUT, 2);
	n = VS_TUN_ERROR_TEXT_MAX + 1;
	g_byte_array_append(b, &n, 1);
	while (b->len < 3 + VS_TUN_ERROR_TEXT_MAX + 1)
		g_byte_array_append(b, (const uint8_t *)"t", 1);
	check_body(VS_TUN_MSG_ERROR, b, VS_TUN_ERR_TOO_LARGE);

	/* a text_len past the limit inside a short body */
	b = g_byte_array_new();
	put_be(b, VS_TUN_ERR_TIMEOUT, 2);
	n = 200;
	g_byte_array_append(b, &n, 1);
	g_byte_array_append(b, (const uint8_t *)"tt", 2);
	check_body(VS_TUN_MSG_ERROR, b, VS_TUN_ERR_TOO_LARGE);
}

static void test_hello_ext_max(void)
{
	struct vs_tun_msg m;
	GByteArray *body = hello_body(VS_TUN_MAGIC, 1, 1, "a", VS_TUN_HELLO_EXT_MAX);
	GByteArray *b = raw_msg(VS_TUN_MSG_HELLO, body);

	/* a later version's extension is skipped */
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpstr(m.u.hello.name, ==, "a");
	g_byte_array_unref(b);
	g_byte_array_unref(body);
	check_body(VS_TUN_MSG_HELLO, hello_body(VS_TUN_MAGIC, 1, 1, "a", VS_TUN_HELLO_EXT_MAX + 1),
		   VS_TUN_ERR_TOO_LARGE);
	/* with the longest name, too */
	body = hello_body(VS_TUN_MAGIC, 1, VS_TUN_NODE_NAME_MAX,
			  "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
			  VS_TUN_HELLO_EXT_MAX);
	check_body(VS_TUN_MSG_HELLO, body, VS_TUN_OK);
	body = hello_body(VS_TUN_MAGIC, 1, VS_TUN_NODE_NAME_MAX,
			  "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn",
			  VS_TUN_HELLO_EXT_MAX + 1);
	check_body(VS_TUN_MSG_HELLO, body, VS_TUN_ERR_TOO_LARGE);
}

static void test_seq_limits(void)
{
	g_assert_cmpint(vs_tun_seq_check(1, 1), ==, VS_TUN_SEQ_NEW);
	g_assert_cmpint(vs_tun_seq_check(5, 4), ==, VS_TUN_SEQ_DUPLICATE);
	g_assert_cmpint(vs_tun_seq_check(5, 1), ==, VS_TUN_SEQ_DUPLICATE);
	g_assert_cmpint(vs_tun_seq_check(5, 6), ==, VS_TUN_SEQ_GAP);
	g_assert_cmpint(vs_tun_seq_check(VS_TUN_SEQ_MAX, VS_TUN_SEQ_MAX), ==, VS_TUN_SEQ_NEW);
	g_assert_cmpint(vs_tun_seq_check(1, VS_TUN_SEQ_MAX), ==, VS_TUN_SEQ_GAP);
}

/* ---- handshake ---------------------------------------------------------- */

struct peer {
	struct vs_tun_auth a;
	struct vs_tun_decoder d;
	GByteArray *out;	/* what this peer sent, not yet delivered */
	GPtrArray *delivered;	/* types handed to the caller, as pointers */
};

static void peer_init(struct peer *p, enum vs_tun_role role, const uint8_t *key,
		      const char *name, uint8_t nonce_byte)
{
	uint8_t nonce[VS_TUN_NONCE_LEN];

	memset(nonce, nonce_byte, sizeof(nonce));
	g_assert_cmpint(vs_tun_auth_init(&p->a, role, key, 32, name, nonce), ==, VS_TUN_OK);
	vs_tun_decoder_init(&p->d);
	p->out = g_byte_array_new();
	p->delivered = g_ptr_array_new();
}

static void peer_free(struct peer *p)
{
	vs_tun_auth_clear(&p->a);
	g_byte_array_unref(p->out);
	g_ptr_array_unref(p->delivered);
}

/* Deliver @bytes to @to: decode, pass through its handshake */
static enum vs_tun_err deliver(struct peer *to, const uint8_t *bytes, size_t len)
{
	while (len) {
		struct vs_tun_msg m;
		enum vs_tun_err err;
		size_t used;
		bool pass;

		err = vs_tun_decoder_feed(&to->d, bytes, len, &used, &m);
		g_assert_cmpint(err, ==, VS_TUN_OK);
		bytes += used;
		len -= used;
		if (!m.type)
			continue;
		err = vs_tun_auth_consume(&to->a, &m, to->out, &pass);
		if (err) {
			g_assert_false(pass);
			g_assert_cmpint(to->a.state, ==, VS_TUN_AUTH_FAILED);
			g_assert_cmpstr(vs_tun_auth_errmsg(&to->a), !=, "");
			if (g_test_verbose())
				g_test_message("%s: %s", vs_tun_err_str(err),
					       vs_tun_auth_errmsg(&to->a));
			return err;
		}
		if (pass)
			g_ptr_array_add(to->delivered, GUINT_TO_POINTER(m.type));
	}
	return VS_TUN_OK;
}

/* Move everything @from sent to @to */
static enum vs_tun_err pump(struct peer *from, struct peer *to)
{
	g_autoptr(GByteArray) b = g_byte_array_new();

	g_byte_array_append(b, from->out->data, from->out->len);
	g_byte_array_set_size(from->out, 0);
	return deliver(to, b->data, b->len);
}

static void handshake(struct peer *i, struct peer *r)
{
	g_assert_cmpint(vs_tun_auth_start(&i->a, i->out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r->a, r->out), ==, VS_TUN_OK);
	g_assert_cmpint(pump(i, r), ==, VS_TUN_OK);	/* HELLO -> r, r sends AUTH */
	g_assert_cmpint(pump(r, i), ==, VS_TUN_OK);	/* HELLO+AUTH -> i, i sends AUTH */
	g_assert_cmpint(pump(i, r), ==, VS_TUN_OK);
}

static void test_auth_ok(void)
{
	struct peer i, r;
	g_autoptr(GByteArray) b = g_byte_array_new();

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	handshake(&i, &r);
	g_assert_cmpint(i.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);
	g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);
	g_assert_cmpstr(i.a.peer_name, ==, "host-b");
	g_assert_cmpstr(r.a.peer_name, ==, "host-a");
	g_assert_cmpuint(i.a.version, ==, 2);
	g_assert_cmpuint(r.a.version, ==, 2);
	g_assert_cmpuint(i.delivered->len + r.delivered->len, ==, 0);
	/* now everything else goes to the caller */
	vs_tun_encode_ping(b, 7);
	vs_tun_encode_vm_open(b, 1, vm_mac, "vm1", 1);
	vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, 64);
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_OK);
	g_assert_cmpuint(r.delivered->len, ==, 3);
	g_assert_cmpuint(GPOINTER_TO_UINT(r.delivered->pdata[2]), ==, VS_TUN_MSG_FRAME);
	peer_free(&i);
	peer_free(&r);
}

/* Responder's HELLO and AUTH arrive byte by byte, interleaved with nothing */
static void test_auth_byte_by_byte(void)
{
	struct peer i, r;
	g_autoptr(GByteArray) b = g_byte_array_new();
	size_t k;

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_byte_array_append(b, r.out->data, r.out->len);
	g_byte_array_set_size(r.out, 0);
	for (k = 0; k < b->len; k++)
		g_assert_cmpint(deliver(&i, b->data + k, 1), ==, VS_TUN_OK);
	g_assert_cmpint(i.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);
	peer_free(&i);
	peer_free(&r);
}

/* The AUTH on the wire is exactly the MAC docs/tunnel-protocol.md defines */
static void test_auth_mac_input(void)
{
	/* initiator "host-a" (nonce 11..), responder "host-b" (nonce 22..) */
	static const char transcript[] =
		"14" "76686f73742d7368696d2074756e6e656c207631"	/* 20, label */
		"00"						/* sender role */
		"1111111111111111111111111111111111111111111111111111111111111111"
		"2222222222222222222222222222222222222222222222222222222222222222"
		"06" "686f73742d61"				/* "host-a" */
		"06" "686f73742d62"				/* "host-b" */
		"0002 0002 0002 0002";				/* versions */
	g_autoptr(GByteArray) in = hex(transcript);
	struct peer i, r;
	struct vs_tun_msg m;
	uint8_t mac[32];
	gsize mac_len = sizeof(mac);
	GHmac *h;
	size_t used;

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_byte_array_set_size(i.out, 0);
	g_assert_cmpint(pump(&r, &i), ==, VS_TUN_OK);	/* i answers with AUTH */

	h = g_hmac_new(G_CHECKSUM_SHA256, key1, sizeof(key1));
	g_hmac_update(h, in->data, in->len);
	g_hmac_get_digest(h, mac, &mac_len);
	g_hmac_unref(h);

	vs_tun_decoder_init(&i.d);
	g_assert_cmpint(vs_tun_decoder_feed(&i.d, i.out->data, i.out->len, &used, &m), ==,
			VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_AUTH);
	g_assert_cmpmem(m.u.auth.mac, 32, mac, 32);
	peer_free(&i);
	peer_free(&r);
}

static void test_auth_wrong_key(void)
{
	struct peer i, r;
	g_autoptr(GByteArray) iauth = g_byte_array_new();

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key2, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);	/* r: HELLO ok, sends AUTH */
	/* r's HELLO and AUTH reach i: i refuses r's AUTH */
	g_assert_cmpint(pump(&r, &i), ==, VS_TUN_ERR_AUTH_FAIL);
	g_assert_cmpint(i.a.state, ==, VS_TUN_AUTH_FAILED);
	/* i did answer r's HELLO with its AUTH before: r refuses it as well */
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_ERR_AUTH_FAIL);
	g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_FAILED);
	g_assert_nonnull(strstr(vs_tun_auth_errmsg(&r.a), "host-a"));
	peer_free(&i);
	peer_free(&r);

	/* the other way round: the responder holds the right key */
	peer_init(&i, VS_TUN_ROLE_INITIATOR, key2, "host-a", 0x33);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x44);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&r, &i), ==, VS_TUN_ERR_AUTH_FAIL);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_ERR_AUTH_FAIL);
	/* failed is terminal: even a correct-looking message gets the error */
	vs_tun_encode_ping(iauth, 1);
	g_assert_cmpint(deliver(&r, iauth->data, iauth->len), ==, VS_TUN_ERR_AUTH_FAIL);
	peer_free(&i);
	peer_free(&r);
}

static void test_auth_reflection(void)
{
	struct peer a, x;
	g_autoptr(GByteArray) hello = g_byte_array_new();
	g_autoptr(GByteArray) auth = g_byte_array_new();
	uint8_t nonce[32];

	/* a's own HELLO echoed back: same role and nonce */
	peer_init(&a, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	g_assert_cmpint(vs_tun_auth_start(&a.a, a.out), ==, VS_TUN_OK);
	g_byte_array_append(hello, a.out->data, a.out->len);
	g_assert_cmpint(deliver(&a, hello->data, hello->len), ==, VS_TUN_ERR_REFLECTED);
	peer_free(&a);

	/* role flipped, nonce still ours */
	peer_init(&a, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	g_assert_cmpint(vs_tun_auth_start(&a.a, a.out), ==, VS_TUN_OK);
	memset(nonce, 0x11, sizeof(nonce));
	g_byte_array_set_size(hello, 0);
	vs_tun_encode_hello(hello, VS_TUN_ROLE_RESPONDER, nonce, "host-x");
	g_assert_cmpint(deliver(&a, hello->data, hello->len), ==, VS_TUN_ERR_REFLECTED);
	peer_free(&a);

	/* a keyless attacker x answers a's HELLO, then reflects a's AUTH */
	peer_init(&a, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&x, VS_TUN_ROLE_RESPONDER, key2, "host-x", 0x99);
	g_assert_cmpint(vs_tun_auth_start(&a.a, a.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&x.a, x.out), ==, VS_TUN_OK);
	g_byte_array_set_size(a.out, 0);
	g_assert_cmpint(deliver(&a, x.out->data, x.out->len), ==, VS_TUN_OK);	/* x's HELLO */
	g_assert_cmpint(a.a.state, ==, VS_TUN_AUTH_AUTH_SENT);
	g_byte_array_append(auth, a.out->data, a.out->len);	/* a's AUTH */
	g_assert_cmpint(deliver(&a, auth->data, auth->len), ==, VS_TUN_ERR_AUTH_FAIL);
	peer_free(&a);
	peer_free(&x);
}

/*
 * A node that both connects and accepts must not serve as an oracle for
 * itself.  The attacker, without the key, opens session 2 to node a (a is
 * responder) and learns a's nonce n2; when a connects out (session 1, a is
 * initiator, nonce n1) the attacker answers with nonce n2, so a computes
 * MAC(init, n1, n2, a, X); in session 2 the attacker claims nonce n1 and
 * needs MAC(init, n1, n2, Y, a).  Equal only if X == Y == a's own name,
 * which a refuses.
 */
static void attack_cross_session(const char *claimed, enum vs_tun_err want1,
				 enum vs_tun_err want2)
{
	struct peer s1, s2;
	uint8_t n1[32], n2[32];
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GByteArray) mac1 = g_byte_array_new();

	peer_init(&s2, VS_TUN_ROLE_RESPONDER, key1, "host-a", 0x22);	/* n2 */
	peer_init(&s1, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);	/* n1 */
	memset(n1, 0x11, 32);
	memset(n2, 0x22, 32);
	g_assert_cmpint(vs_tun_auth_start(&s2.a, s2.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&s1.a, s1.out), ==, VS_TUN_OK);
	g_byte_array_set_size(s1.out, 0);
	/* session 1: attacker, as responder, echoes n2 */
	vs_tun_encode_hello(b, VS_TUN_ROLE_RESPONDER, n2, claimed);
	g_assert_cmpint(deliver(&s1, b->data, b->len), ==, want1);
	if (want1) {
		peer_free(&s1);
		peer_free(&s2);
		return;
	}
	g_byte_array_append(mac1, s1.out->data, s1.out->len);	/* a's AUTH, session 1 */
	/* session 2: attacker, as initiator with n1, replays that AUTH */
	g_byte_array_set_size(b, 0);
	vs_tun_encode_hello(b, VS_TUN_ROLE_INITIATOR, n1, claimed);
	g_byte_array_append(b, mac1->data, mac1->len);
	g_assert_cmpint(deliver(&s2, b->data, b->len), ==, want2);
	g_assert_cmpint(s2.a.state, !=, VS_TUN_AUTH_AUTHENTICATED);
	peer_free(&s1);
	peer_free(&s2);
}

static void test_auth_reflection_cross_session(void)
{
	/* claiming a's own name: refused at HELLO */
	attack_cross_session("host-a", VS_TUN_ERR_REFLECTED, VS_TUN_OK);
	/* any other name: the names bind the MAC to its sender */
	attack_cross_session("host-x", VS_TUN_OK, VS_TUN_ERR_AUTH_FAIL);
}

static void test_auth_replayed(void)
{
	struct peer i, r, r2;
	g_autoptr(GByteArray) rec = g_byte_array_new();

	/* session 1, recorded: everything the initiator sent */
	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_byte_array_append(rec, i.out->data, i.out->len);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&r, &i), ==, VS_TUN_OK);
	g_byte_array_append(rec, i.out->data, i.out->len);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);

	/* session 2: the same responder, a fresh nonce; the recording replayed */
	peer_init(&r2, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x23);
	g_assert_cmpint(vs_tun_auth_start(&r2.a, r2.out), ==, VS_TUN_OK);
	g_assert_cmpint(deliver(&r2, rec->data, rec->len), ==, VS_TUN_ERR_AUTH_FAIL);
	peer_free(&i);
	peer_free(&r);
	peer_free(&r2);
}

static void test_auth_msg_before_auth(void)
{
	struct peer i, r;
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GByteArray) frame = g_byte_array_new();
	struct vs_tun_msg m = { .type = VS_TUN_MSG_PING };
	bool pass = true;

	vs_tun_encode_frame(frame, 1, 1, 0, frame_bytes, 60);

	/* before any HELLO */
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_assert_cmpint(deliver(&r, frame->data, frame->len), ==, VS_TUN_ERR_NOT_AUTHENTICATED);
	peer_free(&r);

	/* after the HELLO, before the AUTH */
	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
	g_assert_cmpint(deliver(&r, frame->data, frame->len), ==, VS_TUN_ERR_NOT_AUTHENTICATED);
	g_assert_cmpuint(r.delivered->len, ==, 0);
	peer_free(&i);
	peer_free(&r);

	/* AUTH before HELLO; a second HELLO */
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	vs_tun_encode_auth(b, frame_bytes);
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_ERR_UNEXPECTED);
	peer_free(&r);
	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_byte_array_set_size(b, 0);
	g_byte_array_append(b, i.out->data, i.out->len);
	g_byte_array_append(b, i.out->data, i.out->len);
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_ERR_UNEXPECTED);
	peer_free(&i);
	peer_free(&r);

	/* HELLO or AUTH again after the handshake */
	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	handshake(&i, &r);
	g_byte_array_set_size(b, 0);
	vs_tun_encode_auth(b, frame_bytes);
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_ERR_UNEXPECTED);
	peer_free(&i);
	peer_free(&r);

	/* an ERROR is handed over in any state, so it can be logged */
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	g_byte_array_set_size(b, 0);
	vs_tun_encode_error(b, VS_TUN_ERR_BAD_VERSION, "we speak 2..2");
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_OK);
	g_assert_cmpuint(r.delivered->len, ==, 1);
	g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_HELLO_SENT);
	peer_free(&r);

	/* a peer message before our own HELLO went out */
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	g_assert_cmpint(vs_tun_auth_consume(&r.a, &m, r.out, &pass), ==, VS_TUN_ERR_UNEXPECTED);
	g_assert_false(pass);
	peer_free(&r);
}

static void test_auth_init_errors(void)
{
	struct vs_tun_auth a;
	uint8_t nonce[32] = { 0 };
	uint8_t key[VS_TUN_PSK_MAX + 1] = { 0 };
	g_autoptr(GByteArray) b = g_byte_array_new();

	g_assert_cmpint(vs_tun_auth_init(&a, 0, key, VS_TUN_PSK_MIN - 1, "a", nonce), ==,
			VS_TUN_ERR_BAD_KEY);
	g_assert_cmpint(a.state, ==, VS_TUN_AUTH_FAILED);
	g_assert_cmpint(vs_tun_auth_start(&a, b), ==, VS_TUN_ERR_BAD_KEY);
	g_assert_cmpuint(b->len, ==, 0);
	g_assert_cmpint(vs_tun_auth_init(&a, 0, key, VS_TUN_PSK_MAX + 1, "a", nonce), ==,
			VS_TUN_ERR_BAD_KEY);
	g_assert_cmpint(vs_tun_auth_init(&a, 0, NULL, 32, "a", nonce), ==, VS_TUN_ERR_BAD_KEY);
	g_assert_cmpint(vs_tun_auth_init(&a, 0, key, 32, "a b", nonce), ==, VS_TUN_ERR_BAD_NAME);
	g_assert_cmpint(vs_tun_auth_init(&a, 2, key, 32, "a", nonce), ==, VS_TUN_ERR_BAD_FIELD);
	g_assert_cmpint(vs_tun_auth_init(&a, 0, key, VS_TUN_PSK_MIN, "a", nonce), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_init(&a, 0, key, VS_TUN_PSK_MAX, "a", nonce), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&a, b), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&a, b), ==, VS_TUN_ERR_UNEXPECTED);
	vs_tun_auth_clear(&a);
	g_assert_cmpuint(a.psk_len, ==, 0);
	g_assert_cmpint(a.state, ==, VS_TUN_AUTH_FAILED);
}

/* Play a peer announcing @ver..@compat to a default responder */
static enum vs_tun_err version_try(uint16_t ver, uint16_t compat, uint16_t *negotiated)
{
	struct peer i, r;
	enum vs_tun_err err;

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	i.a.my_version = ver;
	i.a.my_compat = compat;
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	err = pump(&i, &r);
	if (!err) {
		g_assert_cmpint(pump(&r, &i), ==, VS_TUN_OK);
		g_assert_cmpint(pump(&i, &r), ==, VS_TUN_OK);
		g_assert_cmpint(r.a.state, ==, VS_TUN_AUTH_AUTHENTICATED);
		g_assert_cmpuint(i.a.version, ==, r.a.version);
		*negotiated = r.a.version;
	}
	peer_free(&i);
	peer_free(&r);
	return err;
}

static void test_version_incompatible(void)
{
	uint16_t v = 0;

	/* a newer peer that cannot talk to version 2 */
	g_assert_cmpint(version_try(3, 3, &v), ==, VS_TUN_ERR_BAD_VERSION);
	/* an older peer than our compat_version: version 1, frames in clear */
	g_assert_cmpint(version_try(1, 1, &v), ==, VS_TUN_ERR_BAD_VERSION);
	g_assert_cmpint(version_try(0, 0, &v), ==, VS_TUN_ERR_BAD_VERSION);
	/* nonsense: compat above version */
	g_assert_cmpint(version_try(2, 3, &v), ==, VS_TUN_ERR_BAD_VERSION);
	g_assert_cmpint(version_try(0xffff, 0xffff, &v), ==, VS_TUN_ERR_BAD_VERSION);
}

static void test_version_compatible(void)
{
	uint16_t v = 0;

	g_assert_cmpint(version_try(2, 2, &v), ==, VS_TUN_OK);
	g_assert_cmpuint(v, ==, 2);
	/* a newer peer that still speaks version 2 */
	g_assert_cmpint(version_try(3, 2, &v), ==, VS_TUN_OK);
	g_assert_cmpuint(v, ==, 2);
	g_assert_cmpint(version_try(3, 1, &v), ==, VS_TUN_OK);
	g_assert_cmpuint(v, ==, 2);
}

/* A man in the middle cannot rewrite the versions: they are in the MAC */
static void test_version_downgrade(void)
{
	struct peer i, r;
	struct vs_tun_msg m;
	g_autoptr(GByteArray) b = g_byte_array_new();
	size_t used;

	peer_init(&i, VS_TUN_ROLE_INITIATOR, key1, "host-a", 0x11);
	peer_init(&r, VS_TUN_ROLE_RESPONDER, key1, "host-b", 0x22);
	i.a.my_version = 3;
	g_assert_cmpint(vs_tun_auth_start(&i.a, i.out), ==, VS_TUN_OK);
	g_assert_cmpint(vs_tun_auth_start(&r.a, r.out), ==, VS_TUN_OK);
	/* rewrite i's HELLO: version 3 -> 2 */
	vs_tun_decoder_init(&i.d);
	g_assert_cmpint(vs_tun_decoder_feed(&i.d, i.out->data, i.out->len, &used, &m), ==,
			VS_TUN_OK);
	m.u.hello.version = 2;
	vs_tun_encode(b, &m);
	vs_tun_decoder_init(&i.d);
	g_byte_array_set_size(i.out, 0);
	g_assert_cmpint(deliver(&r, b->data, b->len), ==, VS_TUN_OK);
	g_assert_cmpint(pump(&r, &i), ==, VS_TUN_ERR_AUTH_FAIL);
	peer_free(&i);
	peer_free(&r);
}

/* ---- the first bytes: TLS or version 1 in clear ------------------------------ */

static void test_sniff(void)
{
	static const uint8_t client_hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	g_autoptr(GByteArray) v1 = g_byte_array_new();
	uint8_t nonce[VS_TUN_NONCE_LEN] = { 0 };
	struct vs_tun_auth a;
	uint8_t buf[VS_TUN_SNIFF_LEN];
	size_t n;

	g_assert_cmpint(vs_tun_sniff(client_hello, 0), ==, VS_TUN_SNIFF_MORE);
	g_assert_cmpint(vs_tun_sniff(client_hello, 1), ==, VS_TUN_SNIFF_MORE);
	for (n = 2; n <= sizeof(client_hello); n++)
		g_assert_cmpint(vs_tun_sniff(client_hello, n), ==, VS_TUN_SNIFF_TLS);
	memcpy(buf, client_hello, 2);
	buf[1] = 0x02;			/* not a TLS record version */
	g_assert_cmpint(vs_tun_sniff(buf, 2), ==, VS_TUN_SNIFF_OTHER);

	/* what a version-1 shim sends first, with the shortest and longest name */
	g_assert_cmpint(vs_tun_auth_init(&a, VS_TUN_ROLE_INITIATOR, key1, sizeof(key1), "a",
					 nonce), ==, VS_TUN_OK);
	a.my_version = a.my_compat = 1;
	vs_tun_auth_start(&a, v1);
	for (n = 0; n < VS_TUN_SNIFF_LEN; n++)
		g_assert_cmpint(vs_tun_sniff(v1->data, n), ==, VS_TUN_SNIFF_MORE);
	g_assert_cmpint(vs_tun_sniff(v1->data, VS_TUN_SNIFF_LEN), ==, VS_TUN_SNIFF_V1);
	g_assert_cmpint(vs_tun_sniff(v1->data, v1->len), ==, VS_TUN_SNIFF_V1);
	g_assert_cmpuint(v1->data[3], ==, VS_TUN_HELLO_MIN_MSG);
	/* each byte of the 12, wrong: refused at once */
	for (n = 0; n < VS_TUN_SNIFF_LEN; n++) {
		memcpy(buf, v1->data, sizeof(buf));
		buf[n] ^= n == 3 ? 0x80 : 0x01;
		g_assert_cmpint(vs_tun_sniff(buf, n + 1), ==, VS_TUN_SNIFF_OTHER);
		g_assert_cmpint(vs_tun_sniff(buf, sizeof(buf)), ==, VS_TUN_SNIFF_OTHER);
	}
	/* the HELLO lengths: the limits and one past each */
	memcpy(buf, v1->data, sizeof(buf));
	buf[3] = VS_TUN_HELLO_MAX_MSG;
	g_assert_cmpint(vs_tun_sniff(buf, sizeof(buf)), ==, VS_TUN_SNIFF_V1);
	buf[3] = VS_TUN_HELLO_MAX_MSG + 1;
	g_assert_cmpint(vs_tun_sniff(buf, sizeof(buf)), ==, VS_TUN_SNIFF_OTHER);
	buf[3] = VS_TUN_HELLO_MIN_MSG - 1;
	g_assert_cmpint(vs_tun_sniff(buf, sizeof(buf)), ==, VS_TUN_SNIFF_OTHER);
	/* a version-2 FRAME in clear (a splice) is neither */
	g_byte_array_set_size(v1, 0);
	vs_tun_encode_frame(v1, 1, 1, 0, frame_bytes, 64);
	g_assert_cmpint(vs_tun_sniff(v1->data, v1->len), ==, VS_TUN_SNIFF_OTHER);
	g_assert_cmpstr(vs_tun_sniff_str(VS_TUN_SNIFF_V1), ==, "tunnel protocol v1 in clear");
	vs_tun_auth_clear(&a);
}

/* ---- key file ----------------------------------------------------------- */

static char *psk_file(const char *dir, const char *content, size_t len, mode_t mode)
{
	static unsigned int n;
	char *path = g_strdup_printf("%s/key%u", dir, n++);

	g_assert_true(g_file_set_contents(path, content, (gssize)len, NULL));
	g_assert_cmpint(chmod(path, mode), ==, 0);
	return path;
}

static void psk_expect(const char *dir, const char *content, mode_t mode, size_t want_len)
{
	g_autofree char *path = psk_file(dir, content, strlen(content), mode);
	g_autoptr(GError) error = NULL;
	uint8_t psk[VS_TUN_PSK_MAX];
	size_t len = 99;
	gboolean ok = vs_tun_load_psk(path, psk, &len, &error);

	if (want_len) {
		g_assert_no_error(error);
		g_assert_true(ok);
		g_assert_cmpuint(len, ==, want_len);
	} else {
		g_assert_false(ok);
		g_assert_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY);
		g_assert_cmpuint(len, ==, 0);
		/* the key never leaks into the message */
		g_assert_null(strstr(error->message, "00112233"));
		if (g_test_verbose())
			g_test_message("%s", error->message);
	}
	g_unlink(path);
}

static void test_psk(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-tun-XXXXXX", NULL);
	g_autofree char *max = g_strnfill(2 * VS_TUN_PSK_MAX, 'a');
	g_autofree char *over = g_strnfill(2 * VS_TUN_PSK_MAX + 2, 'a');
	g_autofree char *huge = g_strnfill(VS_TUN_PSK_FILE_MAX + 1, ' ');
	g_autofree char *path = NULL;
	g_autoptr(GError) error = NULL;
	uint8_t psk[VS_TUN_PSK_MAX];
	size_t len;
	static const uint8_t want[16] = {
		0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
	};

	g_assert_nonnull(dir);
	path = psk_file(dir, "  00112233445566778899AABBccddeeff\n", 35, 0600);
	g_assert_true(vs_tun_load_psk(path, psk, &len, &error));
	g_assert_no_error(error);
	g_assert_cmpmem(psk, len, want, sizeof(want));
	g_unlink(path);

	psk_expect(dir, "00112233445566778899aabbccddeeff", 0400, 16);
	psk_expect(dir, max, 0600, VS_TUN_PSK_MAX);
	psk_expect(dir, over, 0600, 0);
	psk_expect(dir, "00112233445566778899aabbccddee", 0600, 0);	/* 15 bytes */
	psk_expect(dir, "00112233445566778899aabbccddeeff0", 0600, 0);	/* odd */
	psk_expect(dir, "00112233445566778899aabbccddeefg", 0600, 0);	/* not hex */
	psk_expect(dir, "00112233 445566778899aabbccddeeff", 0600, 0);	/* inner space */
	psk_expect(dir, "", 0600, 0);
	psk_expect(dir, "00112233445566778899aabbccddeeff", 0644, 0);	/* world */
	psk_expect(dir, "00112233445566778899aabbccddeeff", 0640, 0);	/* group */
	psk_expect(dir, "00112233445566778899aabbccddeeff", 0602, 0);	/* world-writable */
	psk_expect(dir, huge, 0600, 0);

	g_clear_error(&error);
	g_assert_false(vs_tun_load_psk(dir, psk, &len, &error));	/* a directory */
	g_assert_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY);
	g_clear_error(&error);
	g_free(path);
	path = g_strdup_printf("%s/missing", dir);
	g_assert_false(vs_tun_load_psk(path, psk, &len, &error));
	g_assert_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY);
	g_clear_error(&error);

	/* the message says what to do */
	g_free(path);
	path = psk_file(dir, "00112233445566778899aabbccddeeff", 32, 0644);
	g_assert_false(vs_tun_load_psk(path, psk, &len, &error));
	g_assert_nonnull(strstr(error->message, "chmod 600"));
	g_unlink(path);
	g_rmdir(dir);
}

/* ---- odds and ends ------------------------------------------------------ */

static void test_nonce(void)
{
	uint8_t a[VS_TUN_NONCE_LEN], b[VS_TUN_NONCE_LEN];

	g_assert_true(vs_tun_random_nonce(a, NULL));
	g_assert_true(vs_tun_random_nonce(b, NULL));
	g_assert_cmpint(memcmp(a, b, sizeof(a)), !=, 0);
}

static void test_tables(void)
{
	unsigned int i;

	for (i = 0; i < VS_TUN_NUM_ERRS; i++)
		g_assert_cmpstr(vs_tun_err_str(i), !=, "UNKNOWN");
	for (i = 1; i < VS_TUN_NUM_TYPES; i++)
		g_assert_cmpstr(vs_tun_type_name(i), !=, "UNKNOWN");
	for (i = 1; i < VS_TUN_NUM_REJECTS; i++)
		g_assert_cmpstr(vs_tun_reject_str(i), !=, "UNKNOWN");
	g_assert_cmpstr(vs_tun_err_str(VS_TUN_NUM_ERRS), ==, "UNKNOWN");
	g_assert_cmpstr(vs_tun_err_str(0xffff), ==, "UNKNOWN");
	g_assert_cmpstr(vs_tun_type_name(255), ==, "UNKNOWN");
	g_assert_cmpstr(vs_tun_reject_str(0xbeef), ==, "UNKNOWN");
	g_assert_cmpstr(vs_tun_err_str(VS_TUN_ERR_AUTH_FAIL), ==, "AUTH_FAIL");
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_FRAME), ==, VS_TUN_DIR_SRC_TO_DST);
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_ACK), ==, VS_TUN_DIR_DST_TO_SRC);
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_EXPECT), ==, VS_TUN_DIR_BOTH);
	g_assert_cmpint(vs_tun_type_dir(200), ==, VS_TUN_DIR_BOTH);
	/* wire values are frozen */
	g_assert_cmpint(VS_TUN_MSG_ERROR, ==, 16);
	g_assert_cmpint(VS_TUN_ERR_INTERNAL, ==, 20);
	g_assert_cmpint(VS_TUN_MAX_MSG, ==, 9233);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	init_frame_bytes();
	g_test_add_func("/tun/roundtrip/all-types", test_roundtrip);
	g_test_add_func("/tun/roundtrip/helpers", test_helpers);
	g_test_add_func("/tun/encode/buf-and-frame-head", test_encode_buf);
	g_test_add_func("/tun/encode/refuses-invalid", test_encode_refuses);
	g_test_add_func("/tun/encode/error-sanitized", test_encode_error_sanitized);
	g_test_add_func("/tun/golden/hello", test_golden_hello);
	g_test_add_func("/tun/golden/frame", test_golden_frame);
	g_test_add_func("/tun/decode/split-every-byte", test_split_every_byte);
	g_test_add_func("/tun/decode/split-all-two-and-three-piece", test_split_all_cuts);
	g_test_add_func("/tun/decode/split-random", test_split_random);
	g_test_add_func("/tun/decode/zero-copy", test_zero_copy);
	g_test_add_func("/tun/decode/consumed", test_consumed);
	g_test_add_func("/tun/decode/bad-header", test_bad_header);
	g_test_add_func("/tun/decode/header-checked-early", test_header_checked_early);
	g_test_add_func("/tun/decode/bad-fields", test_bad_fields);
	g_test_add_func("/tun/decode/truncated", test_truncated);
	g_test_add_func("/tun/decode/dead-after-error", test_dead_after_error);
	g_test_add_func("/tun/decode/garbage", test_garbage);
	g_test_add_func("/tun/limits/frame-max", test_frame_max);
	g_test_add_func("/tun/limits/frame-max-plus-one", test_frame_max_plus_one);
	g_test_add_func("/tun/limits/frame-min", test_frame_min);
	g_test_add_func("/tun/limits/msg-max", test_msg_max);
	g_test_add_func("/tun/limits/node-name", test_node_name_max);
	g_test_add_func("/tun/limits/vm-name", test_vm_name_max);
	g_test_add_func("/tun/limits/error-text", test_error_text_max);
	g_test_add_func("/tun/limits/hello-ext", test_hello_ext_max);
	g_test_add_func("/tun/limits/seq", test_seq_limits);
	g_test_add_func("/tun/auth/ok", test_auth_ok);
	g_test_add_func("/tun/auth/byte-by-byte", test_auth_byte_by_byte);
	g_test_add_func("/tun/auth/mac-input", test_auth_mac_input);
	g_test_add_func("/tun/auth/wrong-key", test_auth_wrong_key);
	g_test_add_func("/tun/auth/reflection", test_auth_reflection);
	g_test_add_func("/tun/auth/reflection-cross-session", test_auth_reflection_cross_session);
	g_test_add_func("/tun/auth/replayed-auth", test_auth_replayed);
	g_test_add_func("/tun/auth/msg-before-auth", test_auth_msg_before_auth);
	g_test_add_func("/tun/auth/init-errors", test_auth_init_errors);
	g_test_add_func("/tun/version/incompatible", test_version_incompatible);
	g_test_add_func("/tun/version/compatible", test_version_compatible);
	g_test_add_func("/tun/version/downgrade", test_version_downgrade);
	g_test_add_func("/tun/sniff", test_sniff);
	g_test_add_func("/tun/psk/load", test_psk);
	g_test_add_func("/tun/nonce/random", test_nonce);
	g_test_add_func("/tun/tables", test_tables);
	return g_test_run();
}
