/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_decode.c - the tunnel's streaming decoder (part of
 * test-tunnel-proto)
 *
 * Theory of operation: a stream of every message type is decoded under
 * every split into two and three pieces, byte by byte and in random
 * chunks, and re-encoded to the same bytes; headers and fields are checked
 * as early as the bytes allow, every malformed input is refused with its
 * error, and a decoder that failed stays failed.
 */
#include <string.h>

#include <glib.h>

#include "tun_proto_util.h"

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

void tp_add_decode_tests(void)
{
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
}
