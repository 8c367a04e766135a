/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_per_source.c - the per-source messages' codec: SOURCE_DIRECT,
 * SOURCE_BARRIER and the HELLO extensions that offer them (part of
 * test-tunnel-proto)
 *
 * Theory of operation: each message has a golden byte vector (the one in
 * docs/tunnel-protocol.md), decoded back to its fields; the encoder refuses
 * every field the decoder refuses; a body one byte short or long is
 * BAD_LENGTH, checked with the header.  A HELLO carrying every extension
 * this shim knows pins the order the encoder writes them in, and an
 * unknown item among them is still skipped.
 */
#include <string.h>

#include <glib.h>

#include "tun_proto_util.h"

static const uint8_t v4[16] = { 10, 77, 0, 11 };	/* 10.77.0.11 */

/* ---- SOURCE_DIRECT ----------------------------------------------------- */

/* SOURCE_DIRECT: the stream, the family, the address (16 bytes) */
static void test_golden_source_direct(void)
{
	static const char want[] =
		"00000019 12 00 0000"		/* len 25, SOURCE_DIRECT */
		"00000007"			/* stream 7 */
		"04"				/* IPv4 */
		"0a4d000b 000000000000000000000000";	/* 10.77.0.11 */
	uint8_t v6[16], bad[16];
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;
	unsigned int i;

	g_assert_cmpuint(vs_tun_encode_source_direct(b, 7, VS_TUN_SRC_AF_INET, v4), ==, 29);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_SOURCE_DIRECT);
	g_assert_cmpuint(m.u.source_direct.stream_id, ==, 7);
	g_assert_cmpuint(m.u.source_direct.af, ==, VS_TUN_SRC_AF_INET);
	g_assert_cmpmem(m.u.source_direct.addr, 16, v4, 16);
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_SOURCE_DIRECT), ==, VS_TUN_DIR_DST_TO_SRC);
	for (i = 0; i < 16; i++)
		v6[i] = (uint8_t)(0xf0 + i);
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 1, VS_TUN_SRC_AF_INET6, v6), ==, 29);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpmem(m.u.source_direct.addr, 16, v6, 16);
	/* the encoder refuses what the decoder would: no stream, an unknown
	 * family, an IPv4 address with a byte set past its 4 */
	memcpy(bad, v4, 16);
	bad[4] = 1;
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 0, VS_TUN_SRC_AF_INET, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 1, 5, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 1, 0, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_direct(b, 1, VS_TUN_SRC_AF_INET, bad), ==, 0);
	g_assert_cmpuint(b->len, ==, 0);
}

/* An address as on the wire: family, bytes 0..3 from @first, 4..14 zero,
 * byte 15 @last */
static void put_addr(GByteArray *b, uint8_t af, uint32_t first, uint8_t last)
{
	put_be(b, af, 1);
	put_be(b, first, 4);
	put_be(b, 0, 8);
	put_be(b, 0, 3);
	put_be(b, last, 1);
}

/* A SOURCE_DIRECT body: stream, family, address bytes 0..3 and 15, @extra more */
static GByteArray *sd_body(uint32_t stream, uint8_t af, uint32_t first, uint8_t last,
			   unsigned int extra)
{
	GByteArray *sb = g_byte_array_new();

	put_be(sb, stream, 4);
	put_addr(sb, af, first, last);
	while (extra--)
		put_be(sb, 0, 1);
	return sb;
}

/* SOURCE_DIRECT's body is fixed: one byte short or long is BAD_LENGTH;
 * its fields are checked */
static void test_source_direct_limits(void)
{

	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 4, 0x0a000001, 0, 0), VS_TUN_OK);
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 6, 0xfe800000, 1, 0), VS_TUN_OK);
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 4, 0x0a000001, 1, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* IPv4 with byte 15 set */
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 5, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* family 5 */
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 0, 0, 0, 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(0, 4, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* stream 0 */
	check_body(VS_TUN_MSG_SOURCE_DIRECT, sd_body(1, 4, 0x0a000001, 0, 1),
		   VS_TUN_ERR_BAD_LENGTH);		/* one byte long */
	{
		GByteArray *shortb = g_byte_array_new();

		put_be(shortb, 1, 4);
		put_be(shortb, 4, 1);
		put_be(shortb, 0x0a000001, 4);		/* 9 of 21 bytes */
		check_body(VS_TUN_MSG_SOURCE_DIRECT, shortb, VS_TUN_ERR_BAD_LENGTH);
	}
}

/* ---- SOURCE_BARRIER ---------------------------------------------------- */

/* SOURCE_BARRIER: the stream, the last seq before it, then the address as
 * SOURCE_DIRECT's */
static void test_golden_source_barrier(void)
{
	static const char want[] =
		"00000021 13 00 0000"		/* len 33, SOURCE_BARRIER */
		"00000007"			/* stream 7 */
		"000000000000002a"		/* last_seq 42 */
		"04"				/* IPv4 */
		"0a4d000b 000000000000000000000000";	/* 10.77.0.11 */
	uint8_t v6[16], bad[16];
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;
	unsigned int i;

	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 7, 42, VS_TUN_SRC_AF_INET, v4), ==, 37);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_SOURCE_BARRIER);
	g_assert_cmpuint(m.u.source_barrier.stream_id, ==, 7);
	g_assert_cmpuint(m.u.source_barrier.last_seq, ==, 42);
	g_assert_cmpuint(m.u.source_barrier.af, ==, VS_TUN_SRC_AF_INET);
	g_assert_cmpmem(m.u.source_barrier.addr, 16, v4, 16);
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_SOURCE_BARRIER), ==, VS_TUN_DIR_SRC_TO_DST);
	g_assert_cmpstr(vs_tun_type_name(VS_TUN_MSG_SOURCE_BARRIER), ==, "SOURCE_BARRIER");
	/* IPv6; last_seq 0 (no frame before it) and the largest seq */
	for (i = 0; i < 16; i++)
		v6[i] = (uint8_t)(0xf0 + i);
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, 0, VS_TUN_SRC_AF_INET6, v6), ==, 37);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.source_barrier.last_seq, ==, 0);
	g_assert_cmpmem(m.u.source_barrier.addr, 16, v6, 16);
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, VS_TUN_SEQ_MAX, VS_TUN_SRC_AF_INET6,
						      v6), ==, 37);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.source_barrier.last_seq, ==, VS_TUN_SEQ_MAX);
	/* the encoder refuses what the decoder would */
	memcpy(bad, v4, 16);
	bad[4] = 1;
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 0, 1, VS_TUN_SRC_AF_INET, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, (uint64_t)VS_TUN_SEQ_MAX + 1,
						      VS_TUN_SRC_AF_INET, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, 1, 5, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, 1, 0, v4), ==, 0);
	g_assert_cmpuint(vs_tun_encode_source_barrier(b, 1, 1, VS_TUN_SRC_AF_INET, bad), ==, 0);
	g_assert_cmpuint(b->len, ==, 0);
}

/* A SOURCE_BARRIER body: stream, seq, family, address bytes 0..3 and 15;
 * @extra bytes more, or (< 0) that many fewer */
static GByteArray *sb_body(uint32_t stream, uint64_t seq, uint8_t af, uint32_t first,
			   uint8_t last, int extra)
{
	GByteArray *sb = g_byte_array_new();

	put_be(sb, stream, 4);
	put_be(sb, seq, 8);
	put_addr(sb, af, first, last);
	for (; extra > 0; extra--)
		put_be(sb, 0, 1);
	if (extra < 0)
		g_byte_array_set_size(sb, sb->len + extra);
	return sb;
}

/* SOURCE_BARRIER's body is fixed (29 bytes); its fields are checked */
static void test_source_barrier_limits(void)
{
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 4, 0x0a000001, 0, 0), VS_TUN_OK);
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 0, 6, 0xfe800000, 1, 0), VS_TUN_OK);
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, VS_TUN_SEQ_MAX, 4, 0x0a000001, 0, 0),
		   VS_TUN_OK);
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(0, 42, 4, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* stream 0 */
	check_body(VS_TUN_MSG_SOURCE_BARRIER,
		   sb_body(1, (uint64_t)VS_TUN_SEQ_MAX + 1, 4, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* seq past 2^63 - 1 */
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 5, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* family 5 */
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 0, 0, 0, 0), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 4, 0x0a000001, 1, 0),
		   VS_TUN_ERR_BAD_FIELD);		/* IPv4 with byte 15 set */
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 4, 0x0a000001, 0, -1),
		   VS_TUN_ERR_BAD_LENGTH);		/* 28 bytes */
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sb_body(1, 42, 4, 0x0a000001, 0, 1),
		   VS_TUN_ERR_BAD_LENGTH);		/* 30 bytes */
	/* SOURCE_DIRECT's body sent as SOURCE_BARRIER */
	check_body(VS_TUN_MSG_SOURCE_BARRIER, sd_body(1, 4, 0x0a000001, 0, 0),
		   VS_TUN_ERR_BAD_LENGTH);
}

/* ---- HELLO with every extension ---------------------------------------- */

/* frame-times, source-direct, source-barrier, tcp-conns: "01 00 02 00 03 00
 * 04 00", in the order of their tags; an unknown item among them is skipped */
static void test_golden_hello_ext_all(void)
{
	static const char want[] =
		"0000003c 01 00 0000  56534854 0002 0002 00"
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"06 6e6f64652d61"
		"0100 0200 0300 0400";
	const uint32_t all = VS_TUN_HELLO_EXT_FRAME_TIMES | VS_TUN_HELLO_EXT_SOURCE_DIRECT |
			     VS_TUN_HELLO_EXT_SOURCE_BARRIER | VS_TUN_HELLO_EXT_TCP_CONNS;
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	g_autoptr(GByteArray) e = hex("0300 0703aabbcc 0400 0200 0100");
	GByteArray *body, *u;
	uint8_t nonce[VS_TUN_NONCE_LEN];
	struct vs_tun_msg m;
	unsigned int i;

	g_assert_cmpuint(all, ==, VS_TUN_HELLO_EXT_ALL);
	for (i = 0; i < VS_TUN_NONCE_LEN; i++)
		nonce[i] = (uint8_t)i;
	g_assert_cmpuint(vs_tun_encode_hello_ext(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a", all),
			 ==, w->len);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.hello.ext, ==, all);
	/* source-barrier alone (a peer may send it so; vhost-shim does not) */
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_hello_ext(b, VS_TUN_ROLE_INITIATOR, nonce, "node-a",
						 VS_TUN_HELLO_EXT_SOURCE_BARRIER), ==, w->len - 6);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.hello.ext, ==, VS_TUN_HELLO_EXT_SOURCE_BARRIER);
	/* any order, an unknown item among them */
	body = hello_body(VS_TUN_MAGIC, 1, 1, "a", 0);
	g_byte_array_append(body, e->data, e->len);
	u = raw_msg(VS_TUN_MSG_HELLO, body);
	g_assert_cmpint(decode1(u, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.hello.ext, ==, all);
	g_byte_array_unref(u);
	g_byte_array_unref(body);
}

void tp_add_per_source_tests(void)
{
	g_test_add_func("/tun/golden/source-direct", test_golden_source_direct);
	g_test_add_func("/tun/golden/source-barrier", test_golden_source_barrier);
	g_test_add_func("/tun/golden/hello-ext-all", test_golden_hello_ext_all);
	g_test_add_func("/tun/limits/source-direct", test_source_direct_limits);
	g_test_add_func("/tun/limits/source-barrier", test_source_barrier_limits);
}
