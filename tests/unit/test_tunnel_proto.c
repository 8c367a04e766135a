/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_proto.c - tunnel codec: encoder, golden vectors, limits
 * (with test_tunnel_decode.c, test_tunnel_auth.c and
 * test_tunnel_per_source.c: test-tunnel-proto)
 *
 * Theory of operation: every message type is encoded, decoded and encoded
 * again (the encoding is canonical, so equal bytes mean equal fields);
 * every limit is hit at its maximum and one past it; four golden byte
 * vectors pin the wire format.  The streaming decoder's tests are
 * test_tunnel_decode.c; the handshake's, the versions', the first bytes'
 * and the key file's are test_tunnel_auth.c; SOURCE_DIRECT's and
 * SOURCE_BARRIER's are test_tunnel_per_source.c; their shared helpers are
 * tun_proto_util.c.  main() registers every test in the order the paths
 * have always had.
 */
#include <string.h>

#include <glib.h>

#include "tun_proto_util.h"

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
		g_assert_cmpuint(out.u.hello.ext, ==, VS_TUN_HELLO_EXT_FRAME_TIMES);
		g_byte_array_set_size(b, 0);
		vs_tun_encode(b, &m[16]);	/* FRAME_TIMES */
		g_assert_cmpint(decode1(b, &out), ==, VS_TUN_OK);
		g_assert_cmpuint(out.u.frame.seq, ==, 18);
		g_assert_cmpuint(out.u.frame.age_us, ==, 0xfffffffeu);
		g_assert_cmpuint(out.u.frame.sent_us, ==, 0x8000000000000001ull);
		g_assert_cmpmem(out.u.frame.data, out.u.frame.len, frame_bytes, 61);
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
	g_assert_cmpuint(vs_tun_encode_hello_ext(b, VS_TUN_ROLE_RESPONDER, m[0].u.hello.nonce,
						 "host-b.example", VS_TUN_HELLO_EXT_FRAME_TIMES), >, 0);
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
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 42, 18, VS_TUN_ORIGIN_STRAGGLER, 0xfffffffeu,
						   0x8000000000000001ull, frame_bytes, 61), ==,
			 VS_TUN_HDR_LEN + 25 + 61);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 42, VS_TUN_SRC_AF_INET6,
						     m[17].u.source_direct.addr), ==,
			 VS_TUN_HDR_LEN + 21);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 42, 17, VS_TUN_SRC_AF_INET,
						      m[18].u.source_barrier.addr), ==,
			 VS_TUN_HDR_LEN + 29);
	{
		struct vs_tun_conn c;

		sample_conn(&c);
		g_assert_cmpuint(vs_tun_encode_conns(b, 42, &c, 1), ==, VS_TUN_HDR_LEN + 6 + 88);
	}
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

/* FRAME_TIMES: FRAME's fields, the age and the sender's clock */
static void test_golden_frame_times(void)
{
	static const char want[] =
		"0000002b 11 00 0000"		/* len 43, FRAME_TIMES */
		"00000007"			/* stream 7 */
		"0102030405060708"		/* seq */
		"01"				/* origin: straggler */
		"00001388"			/* age: 5000 us */
		"0000000102030405"		/* sent: the sender's clock, us */
		"ffffffffffff 525400000001 0806";	/* the frame: an ARP header */
	static const uint8_t eth[14] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0, 0, 1, 0x08, 0x06,
	};
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_frame_times(b, 7, 0x0102030405060708ull,
						   VS_TUN_ORIGIN_STRAGGLER, 5000, 0x102030405ull,
						   eth, 14), ==, 47);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_FRAME_TIMES);
	g_assert_cmpuint(m.u.frame.stream_id, ==, 7);
	g_assert_cmpuint(m.u.frame.seq, ==, 0x0102030405060708ull);
	g_assert_cmpuint(m.u.frame.origin, ==, VS_TUN_ORIGIN_STRAGGLER);
	g_assert_cmpuint(m.u.frame.age_us, ==, 5000);
	g_assert_cmpuint(m.u.frame.sent_us, ==, 0x102030405ull);
	g_assert_cmpmem(m.u.frame.data, m.u.frame.len, eth, 14);
	/* the encoder refuses what the decoder would */
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 0, 1, 0, 0, 0, eth, 14), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 1, 0, 0, 0, 0, eth, 14), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 1, 1, 2, 0, 0, eth, 14), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 1, 1, 0, 0, 0, eth, 13), ==, 0);
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 1, 1, 0, 0, 0, frame_bytes,
						   VS_TUN_MAX_FRAME + 1), ==, 0);
	g_assert_cmpuint(b->len, ==, 47);
}

/* HELLO with the frame-times extension: "01 00" after the name */
static void test_golden_hello_ext(void)
{
	static const char want[] =
		"00000036 01 00 0000  56534854 0002 0002 00"
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"06 6e6f64652d61"
		"01 00";
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	uint8_t nonce[VS_TUN_NONCE_LEN];
	struct vs_tun_msg m;
	unsigned int i;

	for (i = 0; i < VS_TUN_NONCE_LEN; i++)
		nonce[i] = (uint8_t)i;
	g_assert_cmpuint(vs_tun_encode_hello_ext(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a",
						 VS_TUN_HELLO_EXT_FRAME_TIMES), ==, w->len);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.hello.ext, ==, VS_TUN_HELLO_EXT_FRAME_TIMES);
	/* without it (a version-2 peer of before): no extension */
	g_byte_array_set_size(b, 0);
	vs_tun_encode_hello(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a");
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.hello.ext, ==, 0);
	/* an extension we do not know is refused by the encoder */
	g_assert_cmpuint(vs_tun_encode_hello_ext(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a", 1u << 7),
			 ==, 0);
}

/* ---- limits: the maximum, and one past it ------------------------------ */

static void test_frame_max(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;

	g_assert_cmpuint(vs_tun_encode_frame(b, 1, 1, 0, frame_bytes, VS_TUN_MAX_FRAME), ==,
			 VS_TUN_MAX_WIRE - 12);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.frame.len, ==, VS_TUN_MAX_FRAME);
	g_assert_cmpmem(m.u.frame.data, m.u.frame.len, frame_bytes, VS_TUN_MAX_FRAME);
	/* the largest message: a maximal FRAME_TIMES */
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_frame_times(b, 1, 1, 0, 7, 8, frame_bytes,
						   VS_TUN_MAX_FRAME), ==, VS_TUN_MAX_WIRE);
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

/* The extension list: unknown items skipped, a known one only with its
 * length, an item that runs past the body ends the list (a later version's
 * use of the area), all within VS_TUN_HELLO_EXT_MAX */
static void test_hello_ext_items(void)
{
	static const struct {
		const char *ext;
		uint32_t want;
	} cases[] = {
		{ "0100", VS_TUN_HELLO_EXT_FRAME_TIMES },
		{ "0703aabbcc 0100", VS_TUN_HELLO_EXT_FRAME_TIMES },	/* unknown first */
		{ "0100 0700", VS_TUN_HELLO_EXT_FRAME_TIMES },
		{ "0101ff", 0 },			/* frame-times with a value */
		{ "07050102 0100", 0 },			/* runs past: the list ends */
		{ "01", 0 },				/* half an item header */
		{ "0000 0000 0100", VS_TUN_HELLO_EXT_FRAME_TIMES },
		{ "0200", VS_TUN_HELLO_EXT_SOURCE_DIRECT },
		{ "0100 0200", VS_TUN_HELLO_EXT_FRAME_TIMES | VS_TUN_HELLO_EXT_SOURCE_DIRECT },
		{ "0201ff 0100", VS_TUN_HELLO_EXT_FRAME_TIMES },	/* source-direct with a value */
		{ "0300", VS_TUN_HELLO_EXT_SOURCE_BARRIER },
		{ "0301ff 0200", VS_TUN_HELLO_EXT_SOURCE_DIRECT },	/* source-barrier with a value */
	};
	unsigned int i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		GByteArray *body = hello_body(VS_TUN_MAGIC, 1, 1, "a", 0);
		g_autoptr(GByteArray) e = hex(cases[i].ext);
		GByteArray *b;
		struct vs_tun_msg m;

		g_byte_array_append(body, e->data, e->len);
		b = raw_msg(VS_TUN_MSG_HELLO, body);
		g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
		g_assert_cmpuint(m.u.hello.ext, ==, cases[i].want);
		g_byte_array_unref(b);
		g_byte_array_unref(body);
	}
}

/* FRAME_TIMES: the fixed part, the frame's bounds, the largest message */
static void test_frame_times_limits(void)
{
	GByteArray *b;

	/* frame_times_body(): FRAME's fields, then age and sent */
#define FT_BODY(stream, seq, origin, len) ({					\
		GByteArray *fb = g_byte_array_new();				\
		uint8_t o = (origin);						\
		put_be(fb, (stream), 4);					\
		put_be(fb, (seq), 8);						\
		g_byte_array_append(fb, &o, 1);					\
		put_be(fb, 1234, 4);						\
		put_be(fb, 99, 8);						\
		g_byte_array_append(fb, frame_bytes, (guint)(len));		\
		fb; })
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 1, 0, VS_TUN_MAX_FRAME), VS_TUN_OK);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 1, 0, VS_TUN_MAX_FRAME + 1),
		   VS_TUN_ERR_TOO_LARGE);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 1, 0, VS_TUN_MIN_FRAME), VS_TUN_OK);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 1, 0, VS_TUN_MIN_FRAME - 1),
		   VS_TUN_ERR_RUNT_FRAME);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(0, 1, 0, 14), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 0, 0, 14), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_FRAME_TIMES, FT_BODY(1, 1, 2, 14), VS_TUN_ERR_BAD_FIELD);
#undef FT_BODY
	/* shorter than the fixed part (a FRAME's body sent as FRAME_TIMES) */
	check_body(VS_TUN_MSG_FRAME_TIMES, frame_body(1, 1, 0, 11), VS_TUN_ERR_BAD_LENGTH);
	/* the largest message is a maximal FRAME_TIMES; a FRAME stays at 9233 */
	g_assert_cmpuint(VS_TUN_MAX_MSG, ==, 4 + 25 + VS_TUN_MAX_FRAME);
	check_body(VS_TUN_MSG_FRAME, frame_body(1, 1, 0, VS_TUN_MAX_FRAME + 12),
		   VS_TUN_ERR_TOO_LARGE);
	b = raw(VS_TUN_MAX_MSG + 1, VS_TUN_MSG_FRAME_TIMES, 0, 0, NULL, 0);
	assert_decode_err(b, VS_TUN_ERR_TOO_LARGE);
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

/* ---- odds and ends ------------------------------------------------------ */

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
	g_assert_cmpint(VS_TUN_MSG_FRAME_TIMES, ==, 17);
	g_assert_cmpint(VS_TUN_MSG_SOURCE_DIRECT, ==, 18);
	g_assert_cmpint(VS_TUN_EXT_SOURCE_DIRECT, ==, 2);
	g_assert_cmpint(VS_TUN_MSG_SOURCE_BARRIER, ==, 19);
	g_assert_cmpint(VS_TUN_EXT_SOURCE_BARRIER, ==, 3);
	g_assert_cmpint(VS_TUN_MSG_CONNS, ==, 20);
	g_assert_cmpint(VS_TUN_EXT_TCP_CONNS, ==, 4);
	g_assert_cmpint(VS_TUN_NUM_TYPES, ==, 21);
	g_assert_cmpint(VS_TUN_ERR_INTERNAL, ==, 20);
	g_assert_cmpint(VS_TUN_MAX_MSG, ==, 9245);
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
	g_test_add_func("/tun/golden/frame-times", test_golden_frame_times);
	g_test_add_func("/tun/golden/hello-ext", test_golden_hello_ext);
	tp_add_per_source_tests();
	tp_add_conns_tests();
	tp_add_decode_tests();
	g_test_add_func("/tun/limits/frame-max", test_frame_max);
	g_test_add_func("/tun/limits/frame-max-plus-one", test_frame_max_plus_one);
	g_test_add_func("/tun/limits/frame-min", test_frame_min);
	g_test_add_func("/tun/limits/msg-max", test_msg_max);
	g_test_add_func("/tun/limits/node-name", test_node_name_max);
	g_test_add_func("/tun/limits/vm-name", test_vm_name_max);
	g_test_add_func("/tun/limits/error-text", test_error_text_max);
	g_test_add_func("/tun/limits/hello-ext", test_hello_ext_max);
	g_test_add_func("/tun/limits/hello-ext-items", test_hello_ext_items);
	g_test_add_func("/tun/limits/frame-times", test_frame_times_limits);
	g_test_add_func("/tun/limits/seq", test_seq_limits);
	tp_add_auth_tests();
	g_test_add_func("/tun/tables", test_tables);
	return g_test_run();
}
