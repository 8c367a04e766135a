/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_proto_util.h - helpers of the tunnel codec's tests (tun_proto_util.c)
 *
 * Theory of operation: see tun_proto_util.c.  The four files of
 * test-tunnel-proto register their tests with tp_add_*_tests(), which
 * main() (test_tunnel_proto.c) calls in the order the paths were always
 * listed.
 */
#ifndef TUN_PROTO_UTIL_H
#define TUN_PROTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "tunnel_proto.h"

extern const uint8_t vm_mac[6];
extern const uint8_t key1[32];
extern const uint8_t key2[32];	/* key1 with its last byte changed */

/* A frame's bytes, up to past the maximum: the limit tests build bodies
 * up to VS_TUN_MAX_FRAME + 12 from them (init_frame_bytes()) */
extern uint8_t frame_bytes[VS_TUN_MAX_FRAME + 64];
void init_frame_bytes(void);

/* hex() - bytes from hex digits (blanks ignored); g_byte_array_unref it */
GByteArray *hex(const char *s);
/* put_be() - append the low @bytes bytes of @v, big-endian */
void put_be(GByteArray *b, uint64_t v, unsigned int bytes);
/* raw() - a message built by hand, for what the encoder refuses to produce */
GByteArray *raw(uint32_t len, uint8_t type, uint8_t flags, uint16_t reserved,
		const uint8_t *body, size_t body_len);
/* raw_msg() - a well-formed header around @body */
GByteArray *raw_msg(uint8_t type, const GByteArray *body);
/* decode1() - decode exactly one message that fills @b, in one feed;
 * Return: VS_TUN_OK or the decoder's error */
enum vs_tun_err decode1(const GByteArray *b, struct vs_tun_msg *m);
/* assert_decode_err() - @b (consumed) fails to decode with @want */
void assert_decode_err(GByteArray *b, enum vs_tun_err want);
/* sample_conn() - one valid CONNS record; sample_conn_wire(): in the wire
 * layout (static bytes) */
void sample_conn(struct vs_tun_conn *c);
const uint8_t *sample_conn_wire(void);
/* sample_msgs() - one valid message of every type into @m
 * (VS_TUN_NUM_TYPES entries); Return: how many */
size_t sample_msgs(struct vs_tun_msg *m);
/* sample_stream() - every type, twice, in one byte stream; @count: messages */
GByteArray *sample_stream(size_t *count);
/* decode_split() - feed @s cut at the sorted positions @cuts, re-encode
 * every message and check the result equals @s (the encoding is canonical) */
void decode_split(const GByteArray *s, const size_t *cuts, size_t ncuts, size_t count);

/* Bodies built by hand (g_byte_array_unref them), fields as on the wire */
GByteArray *hello_body(uint32_t magic, uint8_t role, uint8_t name_len, const char *name,
		       size_t ext);
GByteArray *vm_open_body(uint32_t stream, const uint8_t *mac, uint8_t name_len,
			 const char *name, uint64_t seq, bool with_seq);
GByteArray *stream_seq_body(uint32_t stream, uint64_t seq);
GByteArray *frame_body(uint32_t stream, uint64_t seq, uint8_t origin, size_t len);
/* check_body() - @body (consumed) of a @type message decodes to @want */
void check_body(uint8_t type, GByteArray *body, enum vs_tun_err want);

/* Registration, in the order of the test paths (test_tunnel_proto.c's main()) */
void tp_add_decode_tests(void);		/* test_tunnel_decode.c */
void tp_add_auth_tests(void);		/* test_tunnel_auth.c */
void tp_add_per_source_tests(void);	/* test_tunnel_per_source.c */
void tp_add_conns_tests(void);		/* test_tunnel_conns.c */

#endif /* TUN_PROTO_UTIL_H */
