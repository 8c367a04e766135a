/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_conns.c - the CONNS codec (the VM's TCP connections, source
 * -> destination) and the tcp-conns HELLO extension (part of
 * test-tunnel-proto)
 *
 * Theory of operation: one record has a golden byte vector (the one in
 * docs/tunnel-protocol.md 3.14), decoded back to its fields; a full
 * message (VS_TUN_CONNS_MAX records) round-trips; the decoder refuses,
 * with the error the document names, a count that does not match the
 * length, a count of 0 or over the bound, and each invalid field of a
 * record, and the encoder refuses to write any of them.
 */
#include <string.h>

#include <glib.h>

#include "tun_proto_util.h"

/* A CONNS body: stream, count, then the records of @c (wire layout) */
static GByteArray *conns_body(uint32_t stream, uint16_t count, const struct vs_tun_conn *c,
			      size_t n)
{
	g_autoptr(GByteArray) enc = g_byte_array_new();
	GByteArray *b = g_byte_array_new();
	size_t i;

	put_be(b, stream, 4);
	put_be(b, count, 2);
	for (i = 0; i < n; i++) {
		/* each record as the encoder writes it; a bad one by hand below */
		g_byte_array_set_size(enc, 0);
		g_assert_cmpuint(vs_tun_encode_conns(enc, 1, &c[i], 1), >, 0);
		g_byte_array_append(b, enc->data + VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_conns),
				    sizeof(struct vs_tun_wire_conn));
	}
	return b;
}

/* The golden record: every field where the document says */
static void test_golden_conns(void)
{
	static const char want[] =
		"00000062 14 00 0000"			/* len 98, CONNS */
		"00000007 0001"				/* stream 7, 1 record */
		"04 01 030f"				/* IPv4, 1 tag, flags */
		"0a000002 000000000000000000000000"	/* VM 10.0.0.2 */
		"c0000205 000000000000000000000000"	/* peer 192.0.2.5 */
		"1389 9c40"				/* ports 5001, 40000 */
		"525400123456 020000000099"		/* VM MAC, peer MAC */
		"8100 0064 0000 0000"			/* tag 802.1Q VLAN 100 */
		"01f6 ffff"				/* windows */
		"fffffff0 00000010 00000011 ffffffe0"	/* vm_nxt vm_ack peer_nxt peer_ack */
		"01020304 a0b0c0d0";			/* TSvals */
	g_autoptr(GByteArray) w = hex(want);
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_conn c, got;
	struct vs_tun_msg m;

	sample_conn(&c);
	g_assert_cmpuint(vs_tun_encode_conns(b, 7, &c, 1), ==, w->len);
	g_assert_cmpmem(b->data, b->len, w->data, w->len);
	g_assert_cmpint(decode1(w, &m), ==, VS_TUN_OK);
	g_assert_cmpint(m.type, ==, VS_TUN_MSG_CONNS);
	g_assert_cmpuint(m.u.conns.stream_id, ==, 7);
	g_assert_cmpuint(m.u.conns.count, ==, 1);
	vs_tun_conns_get(&m, 0, &got);
	g_assert_cmpmem(&got, sizeof(got), &c, sizeof(c));
	g_assert_cmpint(vs_tun_type_dir(VS_TUN_MSG_CONNS), ==, VS_TUN_DIR_SRC_TO_DST);
}

/* VS_TUN_CONNS_MAX records, IPv6 and IPv4 mixed, fit one message */
static void test_conns_max(void)
{
	struct vs_tun_conn c[VS_TUN_CONNS_MAX + 1], got;
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_msg m;
	size_t i, len;

	for (i = 0; i <= VS_TUN_CONNS_MAX; i++) {
		sample_conn(&c[i]);
		c[i].peer_port = (uint16_t)(1000 + i);
		if (i & 1) {
			c[i].af = VS_TUN_SRC_AF_INET6;
			memset(c[i].peer_addr, 0x20 + (int)i, 16);
			c[i].n_tags = 0;
			c[i].tags[0][0] = c[i].tags[0][1] = 0;
		}
	}
	len = vs_tun_encode_conns(b, 3, c, VS_TUN_CONNS_MAX);
	g_assert_cmpuint(len, ==, VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_conns) +
				  VS_TUN_CONNS_MAX * sizeof(struct vs_tun_wire_conn));
	g_assert_cmpuint(len, <=, VS_TUN_MAX_WIRE);
	g_assert_cmpint(decode1(b, &m), ==, VS_TUN_OK);
	g_assert_cmpuint(m.u.conns.count, ==, VS_TUN_CONNS_MAX);
	for (i = 0; i < VS_TUN_CONNS_MAX; i++) {
		vs_tun_conns_get(&m, i, &got);
		g_assert_cmpmem(&got, sizeof(got), &c[i], sizeof(c[i]));
	}
	/* one more is not one message: the encoder refuses, nothing appended */
	g_byte_array_set_size(b, 0);
	g_assert_cmpuint(vs_tun_encode_conns(b, 3, c, VS_TUN_CONNS_MAX + 1), ==, 0);
	g_assert_cmpuint(vs_tun_encode_conns(b, 3, c, 0), ==, 0);
	g_assert_cmpuint(vs_tun_encode_conns(b, 0, c, 1), ==, 0);
	g_assert_cmpuint(b->len, ==, 0);
}

/* Count and length must agree, within 1..VS_TUN_CONNS_MAX */
static void test_conns_count(void)
{
	struct vs_tun_conn c[2];
	GByteArray *body;

	sample_conn(&c[0]);
	sample_conn(&c[1]);
	c[1].peer_port = 1;
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 2, c, 2), VS_TUN_OK);
	check_body(VS_TUN_MSG_CONNS, conns_body(0, 2, c, 2), VS_TUN_ERR_BAD_FIELD); /* stream 0 */
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 1, c, 2), VS_TUN_ERR_BAD_LENGTH);
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 3, c, 2), VS_TUN_ERR_BAD_LENGTH);
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 0, c, 1), VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_CONNS, conns_body(1, VS_TUN_CONNS_MAX + 1, c, 1),
		   VS_TUN_ERR_BAD_FIELD);
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 0xffff, c, 1), VS_TUN_ERR_BAD_FIELD);
	/* no record at all: below the smallest body */
	check_body(VS_TUN_MSG_CONNS, conns_body(1, 1, c, 0), VS_TUN_ERR_BAD_LENGTH);
	/* a record cut short, a byte past the last */
	body = conns_body(1, 2, c, 2);
	g_byte_array_set_size(body, body->len - 1);
	check_body(VS_TUN_MSG_CONNS, body, VS_TUN_ERR_BAD_LENGTH);
	body = conns_body(1, 2, c, 2);
	g_byte_array_append(body, (const uint8_t *)"", 1);
	check_body(VS_TUN_MSG_CONNS, body, VS_TUN_ERR_BAD_LENGTH);
}

/* Offsets of a record's fields, after the 6 bytes of stream and count */
#define REC(off)	(6 + (off))
#define R_AF		REC(0)
#define R_TAGS_N	REC(1)
#define R_FLAGS		REC(2)
#define R_VM_ADDR	REC(4)
#define R_PEER_ADDR	REC(20)
#define R_VM_MAC	REC(40)
#define R_TAGS		REC(52)

/* One byte of a valid one-record body changed: refused with BAD_FIELD */
static void t_bad_byte(size_t off, uint8_t v)
{
	struct vs_tun_conn c;
	GByteArray *body;

	sample_conn(&c);
	body = conns_body(1, 1, &c, 1);
	g_assert_cmpuint(off, <, body->len);
	body->data[off] = v;
	check_body(VS_TUN_MSG_CONNS, body, VS_TUN_ERR_BAD_FIELD);
}

/* Every invalid field of a record refuses the message, and the encoder
 * writes none of them */
static void test_conns_bad_record(void)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	struct vs_tun_conn c;

	t_bad_byte(R_AF, 0);
	t_bad_byte(R_AF, 5);
	t_bad_byte(R_AF, 0xff);
	t_bad_byte(R_VM_ADDR + 4, 1);		/* IPv4 with bytes past its 4 */
	t_bad_byte(R_PEER_ADDR + 15, 1);
	t_bad_byte(R_TAGS_N, 3);		/* more tags than 2 */
	t_bad_byte(R_TAGS_N, 0xff);
	t_bad_byte(R_TAGS + 4, 0x81);		/* the unused second tag not zero */
	t_bad_byte(R_FLAGS + 1, 0x40);		/* RST: not a record's flag */
	t_bad_byte(R_FLAGS + 1, 0x80);		/* FRESH_ACK: the source's own */
	t_bad_byte(R_FLAGS, 0x80);		/* an unknown bit */
	t_bad_byte(R_VM_MAC, 0x01);		/* multicast */

	sample_conn(&c);
	c.af = 5;
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==, 0);
	sample_conn(&c);
	c.n_tags = 3;
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==, 0);
	sample_conn(&c);
	c.flags |= 1u << 6;
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==, 0);
	sample_conn(&c);
	memset(c.vm_mac, 0, 6);
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==, 0);
	g_assert_nonnull(vs_tun_conn_check(&c));
	sample_conn(&c);
	c.vm_addr[5] = 1;
	g_assert_cmpuint(vs_tun_encode_conns(b, 1, &c, 1), ==, 0);
	g_assert_cmpuint(b->len, ==, 0);
	/* a bad record among good ones refuses all of them */
	{
		struct vs_tun_conn two[2];

		sample_conn(&two[0]);
		sample_conn(&two[1]);
		two[1].af = 0;
		g_assert_cmpuint(vs_tun_encode_conns(b, 1, two, 2), ==, 0);
	}
}

/* An all-zero VM MAC is no VM's */
static void test_conns_zero_mac(void)
{
	struct vs_tun_conn c;
	GByteArray *body;

	sample_conn(&c);
	body = conns_body(1, 1, &c, 1);
	memset(body->data + R_VM_MAC, 0, 6);
	check_body(VS_TUN_MSG_CONNS, body, VS_TUN_ERR_BAD_FIELD);
}

void tp_add_conns_tests(void)
{
	g_test_add_func("/tun/golden/conns", test_golden_conns);
	g_test_add_func("/tun/limits/conns-max", test_conns_max);
	g_test_add_func("/tun/limits/conns-count", test_conns_count);
	g_test_add_func("/tun/limits/conns-bad-record", test_conns_bad_record);
	g_test_add_func("/tun/limits/conns-zero-mac", test_conns_zero_mac);
}
