/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tunnel_auth.c - the tunnel's handshake, versions, first bytes and
 * key file (part of test-tunnel-proto)
 *
 * Theory of operation: handshakes run between two in-memory peers,
 * including a wrong key either way, reflection, replay and version
 * mismatches; a hand-built transcript pins the AUTH MAC.  The first bytes
 * of a connection tell TLS from a version-1 peer in clear; the key file is
 * checked for its length, its format and its permissions.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "tun_proto_util.h"

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

static void test_nonce(void)
{
	uint8_t a[VS_TUN_NONCE_LEN], b[VS_TUN_NONCE_LEN];

	g_assert_true(vs_tun_random_nonce(a, NULL));
	g_assert_true(vs_tun_random_nonce(b, NULL));
	g_assert_cmpint(memcmp(a, b, sizeof(a)), !=, 0);
}

void tp_add_auth_tests(void)
{
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
}
