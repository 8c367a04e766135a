/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_proto.c - tunnel codec, decoder and handshake
 *
 * Theory of operation: see tunnel_proto.h; the wire format is tunnel.h and
 * docs/tunnel-protocol.md.
 *
 * One table (tun_types) says, per message type, its name, the direction it
 * travels and the smallest and largest body it can have.  The decoder
 * checks a message's length against that table as soon as the 8 header
 * bytes are in, before buffering the body, so a peer cannot make us hold
 * more than VS_TUN_MAX_WIRE bytes or wait for a body that cannot be valid.
 * Body parsing then goes through a cursor (struct tun_rd) whose only
 * accessor asks "are there n more bytes", written as n > len - off with
 * off <= len always, which cannot overflow.  The encoder validates a
 * message with the same predicates the decoder uses, so whatever we send,
 * a peer of the same version accepts.
 *
 * The handshake (struct vs_tun_auth) has one setter, auth_set_state(),
 * checked against auth_next[][] and logged as "OLD -> NEW".  Its errors are
 * not logged here: the caller reads vs_tun_auth_errmsg() and logs once.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tunnel_proto.h"
#include "util.h"

G_DEFINE_QUARK(vs-tun-error-quark, vs_tun_error)

static_assert(VS_TUN_VM_NAME_MAX == VS_NAME_MAX, "a VM name on the wire is a port name");

/**
 * struct tun_type_info - static facts about one message type
 * @name:	for log lines
 * @dir:	who sends it
 * @min_body:	smallest body (variable parts empty)
 * @max_body:	largest body
 */
struct tun_type_info {
	const char *name;
	enum vs_tun_dir dir;
	size_t min_body;
	size_t max_body;
};

#define TUN_FIXED(nm, d, size) { .name = nm, .dir = d, .min_body = size, .max_body = size }
#define TUN_VAR(nm, d, lo, hi) { .name = nm, .dir = d, .min_body = lo, .max_body = hi }

static const struct tun_type_info tun_types[VS_TUN_NUM_TYPES] = {
	[VS_TUN_MSG_NONE] = TUN_FIXED("NONE", VS_TUN_DIR_BOTH, 0),
	[VS_TUN_MSG_HELLO] = TUN_VAR("HELLO", VS_TUN_DIR_BOTH, sizeof(struct vs_tun_wire_hello),
				     sizeof(struct vs_tun_wire_hello) + VS_TUN_NODE_NAME_MAX +
				     VS_TUN_HELLO_EXT_MAX),
	[VS_TUN_MSG_AUTH] = TUN_FIXED("AUTH", VS_TUN_DIR_BOTH, sizeof(struct vs_tun_wire_auth)),
	[VS_TUN_MSG_VM_OPEN] = TUN_VAR("VM_OPEN", VS_TUN_DIR_SRC_TO_DST,
				       sizeof(struct vs_tun_wire_vm_open) +
				       sizeof(struct vs_tun_wire_seq),
				       sizeof(struct vs_tun_wire_vm_open) + VS_TUN_VM_NAME_MAX +
				       sizeof(struct vs_tun_wire_seq)),
	[VS_TUN_MSG_VM_ACCEPT] = TUN_FIXED("VM_ACCEPT", VS_TUN_DIR_DST_TO_SRC,
					   sizeof(struct vs_tun_wire_stream_seq)),
	[VS_TUN_MSG_VM_REJECT] = TUN_FIXED("VM_REJECT", VS_TUN_DIR_DST_TO_SRC,
					   sizeof(struct vs_tun_wire_vm_reject)),
	[VS_TUN_MSG_FRAME] = TUN_VAR("FRAME", VS_TUN_DIR_SRC_TO_DST,
				     sizeof(struct vs_tun_wire_frame),
				     sizeof(struct vs_tun_wire_frame) + VS_TUN_MAX_FRAME),
	[VS_TUN_MSG_ACK] = TUN_FIXED("ACK", VS_TUN_DIR_DST_TO_SRC,
				     sizeof(struct vs_tun_wire_stream_seq)),
	[VS_TUN_MSG_RESUMED] = TUN_FIXED("RESUMED", VS_TUN_DIR_DST_TO_SRC,
					 sizeof(struct vs_tun_wire_stream)),
	[VS_TUN_MSG_LIVE_SEEN] = TUN_FIXED("LIVE_SEEN", VS_TUN_DIR_DST_TO_SRC,
					   sizeof(struct vs_tun_wire_stream)),
	[VS_TUN_MSG_BARRIER] = TUN_FIXED("BARRIER", VS_TUN_DIR_SRC_TO_DST,
					 sizeof(struct vs_tun_wire_stream_seq)),
	[VS_TUN_MSG_ABORT] = TUN_FIXED("ABORT", VS_TUN_DIR_SRC_TO_DST,
				       sizeof(struct vs_tun_wire_stream)),
	[VS_TUN_MSG_END] = TUN_FIXED("END", VS_TUN_DIR_SRC_TO_DST,
				     sizeof(struct vs_tun_wire_stream_seq)),
	[VS_TUN_MSG_EXPECT] = TUN_VAR("EXPECT", VS_TUN_DIR_BOTH,
				      sizeof(struct vs_tun_wire_expect),
				      sizeof(struct vs_tun_wire_expect) + VS_TUN_VM_NAME_MAX),
	[VS_TUN_MSG_PING] = TUN_FIXED("PING", VS_TUN_DIR_BOTH, sizeof(struct vs_tun_wire_token)),
	[VS_TUN_MSG_PONG] = TUN_FIXED("PONG", VS_TUN_DIR_BOTH, sizeof(struct vs_tun_wire_token)),
	[VS_TUN_MSG_ERROR] = TUN_VAR("ERROR", VS_TUN_DIR_BOTH, sizeof(struct vs_tun_wire_error),
				     sizeof(struct vs_tun_wire_error) + VS_TUN_ERROR_TEXT_MAX),
};
static_assert(G_N_ELEMENTS(tun_types) == VS_TUN_NUM_TYPES, "type table");
/* The frame is the largest body; every other one fits well below it */
static_assert(sizeof(struct vs_tun_wire_hello) + VS_TUN_NODE_NAME_MAX + VS_TUN_HELLO_EXT_MAX <
	      sizeof(struct vs_tun_wire_frame) + VS_TUN_MAX_FRAME, "HELLO within MAX_MSG");
static_assert(sizeof(struct vs_tun_wire_error) + VS_TUN_ERROR_TEXT_MAX <
	      sizeof(struct vs_tun_wire_frame) + VS_TUN_MAX_FRAME, "ERROR within MAX_MSG");

static const char *const tun_err_names[VS_TUN_NUM_ERRS] = {
	[VS_TUN_OK] = "OK",
	[VS_TUN_ERR_BAD_LENGTH] = "BAD_LENGTH",
	[VS_TUN_ERR_TOO_LARGE] = "TOO_LARGE",
	[VS_TUN_ERR_BAD_TYPE] = "BAD_TYPE",
	[VS_TUN_ERR_RESERVED] = "RESERVED",
	[VS_TUN_ERR_TRUNCATED_BODY] = "TRUNCATED_BODY",
	[VS_TUN_ERR_BAD_MAGIC] = "BAD_MAGIC",
	[VS_TUN_ERR_BAD_VERSION] = "BAD_VERSION",
	[VS_TUN_ERR_BAD_NAME] = "BAD_NAME",
	[VS_TUN_ERR_BAD_FIELD] = "BAD_FIELD",
	[VS_TUN_ERR_RUNT_FRAME] = "RUNT_FRAME",
	[VS_TUN_ERR_TRUNCATED_STREAM] = "TRUNCATED_STREAM",
	[VS_TUN_ERR_UNEXPECTED] = "UNEXPECTED",
	[VS_TUN_ERR_NOT_AUTHENTICATED] = "NOT_AUTHENTICATED",
	[VS_TUN_ERR_AUTH_FAIL] = "AUTH_FAIL",
	[VS_TUN_ERR_REFLECTED] = "REFLECTED",
	[VS_TUN_ERR_BAD_KEY] = "BAD_KEY",
	[VS_TUN_ERR_PROTOCOL] = "PROTOCOL",
	[VS_TUN_ERR_SHUTDOWN] = "SHUTDOWN",
	[VS_TUN_ERR_TIMEOUT] = "TIMEOUT",
	[VS_TUN_ERR_INTERNAL] = "INTERNAL",
};
static_assert(G_N_ELEMENTS(tun_err_names) == VS_TUN_NUM_ERRS, "error names");

static const char *const tun_reject_names[VS_TUN_NUM_REJECTS] = {
	[0] = "UNKNOWN",
	[VS_TUN_REJECT_UNKNOWN_VM] = "UNKNOWN_VM",
	[VS_TUN_REJECT_NOT_EXPECTED] = "NOT_EXPECTED",
	[VS_TUN_REJECT_BUSY] = "BUSY",
	[VS_TUN_REJECT_MAC_MISMATCH] = "MAC_MISMATCH",
	[VS_TUN_REJECT_SEQ] = "SEQ",
	[VS_TUN_REJECT_NO_RESOURCES] = "NO_RESOURCES",
};
static_assert(G_N_ELEMENTS(tun_reject_names) == VS_TUN_NUM_REJECTS, "reject names");

const char *const vs_tun_auth_state_names[VS_TUN_AUTH_NUM_STATES] = {
	[VS_TUN_AUTH_INIT] = "init",
	[VS_TUN_AUTH_HELLO_SENT] = "hello-sent",
	[VS_TUN_AUTH_AUTH_SENT] = "auth-sent",
	[VS_TUN_AUTH_AUTHENTICATED] = "authenticated",
	[VS_TUN_AUTH_FAILED] = "failed",
};
static_assert(G_N_ELEMENTS(vs_tun_auth_state_names) == VS_TUN_AUTH_NUM_STATES, "state names");

const char *vs_tun_err_str(unsigned int err)
{
	return err < VS_TUN_NUM_ERRS ? tun_err_names[err] : "UNKNOWN";
}

const char *vs_tun_type_name(unsigned int type)
{
	return type < VS_TUN_NUM_TYPES ? tun_types[type].name : "UNKNOWN";
}

enum vs_tun_dir vs_tun_type_dir(unsigned int type)
{
	return type < VS_TUN_NUM_TYPES ? tun_types[type].dir : VS_TUN_DIR_BOTH;
}

const char *vs_tun_reject_str(unsigned int reason)
{
	return reason < VS_TUN_NUM_REJECTS ? tun_reject_names[reason] : "UNKNOWN";
}

/* ---- Field predicates, shared by encoder and decoder ------------------- */

static bool tun_name_chars_ok(const char *s, size_t n, bool allow_dot)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!g_ascii_isalnum(c) && c != '-' && c != '_' && !(allow_dot && c == '.'))
			return false;
	}
	return true;
}

bool vs_tun_node_name_valid(const char *name)
{
	size_t n = name ? strnlen(name, VS_TUN_NODE_NAME_MAX + 1) : 0;

	return n >= 1 && n <= VS_TUN_NODE_NAME_MAX && tun_name_chars_ok(name, n, true);
}

bool vs_tun_vm_name_valid(const char *name)
{
	size_t n = name ? strnlen(name, VS_TUN_VM_NAME_MAX + 1) : 0;

	return n >= 1 && n <= VS_TUN_VM_NAME_MAX && tun_name_chars_ok(name, n, false);
}

/* A VM's MAC: unicast (I/G bit clear) and not all zeroes */
static bool tun_mac_ok(const uint8_t *mac)
{
	static const uint8_t zero[VS_TUN_ETH_ALEN];

	return !(mac[0] & 1) && memcmp(mac, zero, VS_TUN_ETH_ALEN) != 0;
}

static bool tun_text_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

static inline bool tun_seq_ok(uint64_t seq, bool allow_zero)
{
	return (allow_zero || seq != 0) && seq <= VS_TUN_SEQ_MAX;
}

/* ---- Encoding ---------------------------------------------------------- */

/* Body size of a valid message; 0 (no valid body is empty) if invalid */
static size_t tun_body_len(const struct vs_tun_msg *m)
{
	size_t n;

	switch (m->type) {
	case VS_TUN_MSG_HELLO:
		if (m->u.hello.role >= VS_TUN_NUM_ROLES || !vs_tun_node_name_valid(m->u.hello.name))
			return 0;
		return sizeof(struct vs_tun_wire_hello) + strlen(m->u.hello.name);
	case VS_TUN_MSG_AUTH:
		return sizeof(struct vs_tun_wire_auth);
	case VS_TUN_MSG_VM_OPEN:
		if (!m->u.vm_open.stream_id || !tun_mac_ok(m->u.vm_open.mac) ||
		    !vs_tun_vm_name_valid(m->u.vm_open.name) ||
		    !tun_seq_ok(m->u.vm_open.first_seq, false))
			return 0;
		return sizeof(struct vs_tun_wire_vm_open) + strlen(m->u.vm_open.name) +
		       sizeof(struct vs_tun_wire_seq);
	case VS_TUN_MSG_VM_ACCEPT:
		if (!m->u.vm_accept.stream_id || !tun_seq_ok(m->u.vm_accept.next_expected_seq, false))
			return 0;
		return sizeof(struct vs_tun_wire_stream_seq);
	case VS_TUN_MSG_VM_REJECT:
		return m->u.vm_reject.stream_id ? sizeof(struct vs_tun_wire_vm_reject) : 0;
	case VS_TUN_MSG_FRAME:
		n = m->u.frame.len;
		if (!m->u.frame.stream_id || !tun_seq_ok(m->u.frame.seq, false) ||
		    m->u.frame.origin >= VS_TUN_NUM_ORIGINS || !m->u.frame.data ||
		    n < VS_TUN_MIN_FRAME || n > VS_TUN_MAX_FRAME)
			return 0;
		return sizeof(struct vs_tun_wire_frame) + n;
	case VS_TUN_MSG_ACK:
		if (!m->u.ack.stream_id || !tun_seq_ok(m->u.ack.seq, true))
			return 0;
		return sizeof(struct vs_tun_wire_stream_seq);
	case VS_TUN_MSG_RESUMED:
	case VS_TUN_MSG_LIVE_SEEN:
	case VS_TUN_MSG_ABORT:
		return m->u.stream.stream_id ? sizeof(struct vs_tun_wire_stream) : 0;
	case VS_TUN_MSG_BARRIER:
	case VS_TUN_MSG_END:
		if (!m->u.stream_seq.stream_id || !tun_seq_ok(m->u.stream_seq.last_seq, true))
			return 0;
		return sizeof(struct vs_tun_wire_stream_seq);
	case VS_TUN_MSG_EXPECT:
		if (!tun_mac_ok(m->u.expect.mac) || !vs_tun_vm_name_valid(m->u.expect.name))
			return 0;
		return sizeof(struct vs_tun_wire_expect) + strlen(m->u.expect.name);
	case VS_TUN_MSG_PING:
	case VS_TUN_MSG_PONG:
		return sizeof(struct vs_tun_wire_token);
	case VS_TUN_MSG_ERROR:
		n = strnlen(m->u.error.text, sizeof(m->u.error.text));
		if (n > VS_TUN_ERROR_TEXT_MAX || !tun_text_ok(m->u.error.text, n))
			return 0;
		return sizeof(struct vs_tun_wire_error) + n;
	case VS_TUN_MSG_NONE:
	case VS_TUN_NUM_TYPES:
		break;
	}
	return 0;
}

size_t vs_tun_encoded_len(const struct vs_tun_msg *msg)
{
	size_t body = tun_body_len(msg);

	return body ? VS_TUN_HDR_LEN + body : 0;
}

/* Cursor over an output buffer that tun_body_len() has sized exactly */
struct tun_wr {
	uint8_t *p;
	size_t off;
};

static void wr_put(struct tun_wr *w, const void *src, size_t n)
{
	memcpy(w->p + w->off, src, n);
	w->off += n;
}

static void tun_write(uint8_t *buf, size_t total, const struct vs_tun_msg *m)
{
	struct tun_wr w = { .p = buf };
	struct vs_tun_wire_hdr hdr = {
		.len = GUINT32_TO_BE((uint32_t)(total - VS_TUN_LEN_FIELD)),
		.type = (uint8_t)m->type,
	};

	wr_put(&w, &hdr, sizeof(hdr));
	switch (m->type) {
	case VS_TUN_MSG_HELLO: {
		struct vs_tun_wire_hello h = {
			.magic = GUINT32_TO_BE(VS_TUN_MAGIC),
			.version = GUINT16_TO_BE(m->u.hello.version),
			.compat_version = GUINT16_TO_BE(m->u.hello.compat_version),
			.role = m->u.hello.role,
			.name_len = (uint8_t)strlen(m->u.hello.name),
		};

		memcpy(h.nonce, m->u.hello.nonce, VS_TUN_NONCE_LEN);
		wr_put(&w, &h, sizeof(h));
		wr_put(&w, m->u.hello.name, h.name_len);
		break;
	}
	case VS_TUN_MSG_AUTH:
		wr_put(&w, m->u.auth.mac, VS_TUN_MAC_LEN);
		break;
	case VS_TUN_MSG_VM_OPEN: {
		struct vs_tun_wire_vm_open o = {
			.stream_id = GUINT32_TO_BE(m->u.vm_open.stream_id),
			.name_len = (uint8_t)strlen(m->u.vm_open.name),
		};
		struct vs_tun_wire_seq s = { .seq = GUINT64_TO_BE(m->u.vm_open.first_seq) };

		memcpy(o.mac, m->u.vm_open.mac, VS_TUN_ETH_ALEN);
		wr_put(&w, &o, sizeof(o));
		wr_put(&w, m->u.vm_open.name, o.name_len);
		wr_put(&w, &s, sizeof(s));
		break;
	}
	case VS_TUN_MSG_VM_ACCEPT: {
		struct vs_tun_wire_stream_seq ss = {
			.stream_id = GUINT32_TO_BE(m->u.vm_accept.stream_id),
			.seq = GUINT64_TO_BE(m->u.vm_accept.next_expected_seq),
		};

		wr_put(&w, &ss, sizeof(ss));
		break;
	}
	case VS_TUN_MSG_VM_REJECT: {
		struct vs_tun_wire_vm_reject r = {
			.stream_id = GUINT32_TO_BE(m->u.vm_reject.stream_id),
			.reason = GUINT16_TO_BE(m->u.vm_reject.reason),
		};

		wr_put(&w, &r, sizeof(r));
		break;
	}
	case VS_TUN_MSG_FRAME: {
		struct vs_tun_wire_frame f = {
			.stream_id = GUINT32_TO_BE(m->u.frame.stream_id),
			.seq = GUINT64_TO_BE(m->u.frame.seq),
			.origin = m->u.frame.origin,
		};

		wr_put(&w, &f, sizeof(f));
		wr_put(&w, m->u.frame.data, m->u.frame.len);
		break;
	}
	case VS_TUN_MSG_ACK: {
		struct vs_tun_wire_stream_seq ss = {
			.stream_id = GUINT32_TO_BE(m->u.ack.stream_id),
			.seq = GUINT64_TO_BE(m->u.ack.seq),
		};

		wr_put(&w, &ss, sizeof(ss));
		break;
	}
	case VS_TUN_MSG_RESUMED:
	case VS_TUN_MSG_LIVE_SEEN:
	case VS_TUN_MSG_ABORT: {
		struct vs_tun_wire_stream s = { .stream_id = GUINT32_TO_BE(m->u.stream.stream_id) };

		wr_put(&w, &s, sizeof(s));
		break;
	}
	case VS_TUN_MSG_BARRIER:
	case VS_TUN_MSG_END: {
		struct vs_tun_wire_stream_seq ss = {
			.stream_id = GUINT32_TO_BE(m->u.stream_seq.stream_id),
			.seq = GUINT64_TO_BE(m->u.stream_seq.last_seq),
		};

		wr_put(&w, &ss, sizeof(ss));
		break;
	}
	case VS_TUN_MSG_EXPECT: {
		struct vs_tun_wire_expect e = { .name_len = (uint8_t)strlen(m->u.expect.name) };

		memcpy(e.mac, m->u.expect.mac, VS_TUN_ETH_ALEN);
		wr_put(&w, &e, sizeof(e));
		wr_put(&w, m->u.expect.name, e.name_len);
		break;
	}
	case VS_TUN_MSG_PING:
	case VS_TUN_MSG_PONG: {
		struct vs_tun_wire_token t = { .token = GUINT64_TO_BE(m->u.ping.token) };

		wr_put(&w, &t, sizeof(t));
		break;
	}
	case VS_TUN_MSG_ERROR: {
		struct vs_tun_wire_error e = {
			.code = GUINT16_TO_BE(m->u.error.code),
			.text_len = (uint8_t)strnlen(m->u.error.text, VS_TUN_ERROR_TEXT_MAX),
		};

		wr_put(&w, &e, sizeof(e));
		wr_put(&w, m->u.error.text, e.text_len);
		break;
	}
	case VS_TUN_MSG_NONE:
	case VS_TUN_NUM_TYPES:
		break;
	}
	/* tun_body_len() and this switch describe the same layout */
	assert(w.off == total);
}

size_t vs_tun_encode_buf(uint8_t *buf, size_t size, const struct vs_tun_msg *msg)
{
	size_t total = vs_tun_encoded_len(msg);

	if (!total || total > size)
		return 0;
	tun_write(buf, total, msg);
	return total;
}

size_t vs_tun_encode(GByteArray *out, const struct vs_tun_msg *msg)
{
	size_t total = vs_tun_encoded_len(msg);
	size_t old = out->len;

	if (!total)
		return 0;
	/* total <= VS_TUN_MAX_WIRE: the guint conversion cannot truncate */
	g_byte_array_set_size(out, old + (guint)total);
	tun_write(out->data + old, total, msg);
	return total;
}

size_t vs_tun_encode_frame_head(uint8_t *head, uint32_t stream_id, uint64_t seq,
				uint8_t origin, size_t frame_len)
{
	struct vs_tun_wire_hdr hdr = { .type = VS_TUN_MSG_FRAME };
	struct vs_tun_wire_frame f = {
		.stream_id = GUINT32_TO_BE(stream_id),
		.seq = GUINT64_TO_BE(seq),
		.origin = origin,
	};

	if (!stream_id || !tun_seq_ok(seq, false) || origin >= VS_TUN_NUM_ORIGINS ||
	    frame_len < VS_TUN_MIN_FRAME || frame_len > VS_TUN_MAX_FRAME)
		return 0;
	hdr.len = GUINT32_TO_BE((uint32_t)(VS_TUN_FRAME_HEAD_LEN - VS_TUN_LEN_FIELD + frame_len));
	memcpy(head, &hdr, sizeof(hdr));
	memcpy(head + sizeof(hdr), &f, sizeof(f));
	return VS_TUN_FRAME_HEAD_LEN;
}

/* Copy a name into a fixed field; false if it cannot fit (the encoder then
 * refuses it through the validity check anyway) */
static bool tun_copy_name(char *dst, size_t size, const char *src)
{
	return src && g_strlcpy(dst, src, size) < size;
}

size_t vs_tun_encode_hello(GByteArray *out, enum vs_tun_role role,
			   const uint8_t nonce[VS_TUN_NONCE_LEN], const char *name)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_HELLO };

	m.u.hello.version = VS_TUN_VERSION;
	m.u.hello.compat_version = VS_TUN_COMPAT_VERSION;
	m.u.hello.role = (uint8_t)role;
	memcpy(m.u.hello.nonce, nonce, VS_TUN_NONCE_LEN);
	if (!tun_copy_name(m.u.hello.name, sizeof(m.u.hello.name), name))
		return 0;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_auth(GByteArray *out, const uint8_t mac[VS_TUN_MAC_LEN])
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_AUTH };

	memcpy(m.u.auth.mac, mac, VS_TUN_MAC_LEN);
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_vm_open(GByteArray *out, uint32_t stream_id,
			     const uint8_t mac[VS_TUN_ETH_ALEN], const char *name,
			     uint64_t first_seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_OPEN };

	m.u.vm_open.stream_id = stream_id;
	memcpy(m.u.vm_open.mac, mac, VS_TUN_ETH_ALEN);
	m.u.vm_open.first_seq = first_seq;
	if (!tun_copy_name(m.u.vm_open.name, sizeof(m.u.vm_open.name), name))
		return 0;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_vm_accept(GByteArray *out, uint32_t stream_id, uint64_t next_expected_seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_ACCEPT };

	m.u.vm_accept.stream_id = stream_id;
	m.u.vm_accept.next_expected_seq = next_expected_seq;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_vm_reject(GByteArray *out, uint32_t stream_id, enum vs_tun_reject reason)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_REJECT };

	m.u.vm_reject.stream_id = stream_id;
	m.u.vm_reject.reason = (uint16_t)reason;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_frame(GByteArray *out, uint32_t stream_id, uint64_t seq,
			   enum vs_tun_origin origin, const uint8_t *frame, size_t len)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_FRAME };

	m.u.frame.stream_id = stream_id;
	m.u.frame.seq = seq;
	m.u.frame.origin = (uint8_t)origin;
	m.u.frame.data = frame;
	m.u.frame.len = len;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_ack(GByteArray *out, uint32_t stream_id, uint64_t seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_ACK };

	m.u.ack.stream_id = stream_id;
	m.u.ack.seq = seq;
	return vs_tun_encode(out, &m);
}

static size_t tun_encode_stream(GByteArray *out, enum vs_tun_type type, uint32_t stream_id)
{
	struct vs_tun_msg m = { .type = type };

	m.u.stream.stream_id = stream_id;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_resumed(GByteArray *out, uint32_t stream_id)
{
	return tun_encode_stream(out, VS_TUN_MSG_RESUMED, stream_id);
}

size_t vs_tun_encode_live_seen(GByteArray *out, uint32_t stream_id)
{
	return tun_encode_stream(out, VS_TUN_MSG_LIVE_SEEN, stream_id);
}

size_t vs_tun_encode_abort(GByteArray *out, uint32_t stream_id)
{
	return tun_encode_stream(out, VS_TUN_MSG_ABORT, stream_id);
}

static size_t tun_encode_stream_seq(GByteArray *out, enum vs_tun_type type,
				    uint32_t stream_id, uint64_t seq)
{
	struct vs_tun_msg m = { .type = type };

	m.u.stream_seq.stream_id = stream_id;
	m.u.stream_seq.last_seq = seq;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_barrier(GByteArray *out, uint32_t stream_id, uint64_t last_seq_before_barrier)
{
	return tun_encode_stream_seq(out, VS_TUN_MSG_BARRIER, stream_id, last_seq_before_barrier);
}

size_t vs_tun_encode_end(GByteArray *out, uint32_t stream_id, uint64_t last_seq)
{
	return tun_encode_stream_seq(out, VS_TUN_MSG_END, stream_id, last_seq);
}

size_t vs_tun_encode_expect(GByteArray *out, const uint8_t mac[VS_TUN_ETH_ALEN], const char *name)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_EXPECT };

	memcpy(m.u.expect.mac, mac, VS_TUN_ETH_ALEN);
	if (!tun_copy_name(m.u.expect.name, sizeof(m.u.expect.name), name))
		return 0;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_ping(GByteArray *out, uint64_t token)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_PING };

	m.u.ping.token = token;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_pong(GByteArray *out, uint64_t token)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_PONG };

	m.u.ping.token = token;
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_error(GByteArray *out, enum vs_tun_err code, const char *text)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_ERROR };
	size_t i;

	m.u.error.code = (uint16_t)code;
	if (text)
		g_strlcpy(m.u.error.text, text, sizeof(m.u.error.text));
	for (i = 0; m.u.error.text[i]; i++)
		if (m.u.error.text[i] < 0x20 || m.u.error.text[i] > 0x7e)
			m.u.error.text[i] = '?';
	return vs_tun_encode(out, &m);
}

/* ---- Decoding ---------------------------------------------------------- */

/*
 * Security model: the bytes come from a TCP peer, authenticated or not.
 * Do not assume any field holds a sensible value: the header length is
 * checked against VS_TUN_MAX_MSG and the type's body range before anything
 * is buffered, and every inner length against both its named maximum and
 * the bytes left in the body.
 */

static enum vs_tun_err tun_dec_fail(struct vs_tun_decoder *d, enum vs_tun_err err,
				    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum vs_tun_err tun_dec_fail(struct vs_tun_decoder *d, enum vs_tun_err err,
				    const char *fmt, ...)
{
	va_list ap;

	d->err = err;
	va_start(ap, fmt);
	g_vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* Cursor over one message body; invariant: off <= len */
struct tun_rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/* The next @n bytes, or NULL (cursor unchanged) if fewer are left */
static const uint8_t *rd_take(struct tun_rd *r, size_t n)
{
	const uint8_t *p;

	if (n > r->len - r->off)
		return NULL;
	p = r->p + r->off;
	r->off += n;
	return p;
}

/* A fixed part the type's minimum body length guarantees is there */
static void rd_fixed(struct tun_rd *r, void *dst, size_t n)
{
	const uint8_t *p = rd_take(r, n);

	assert(p);	/* tun_check_hdr() enforced min_body */
	memcpy(dst, p, n);
}

static size_t rd_left(const struct tun_rd *r)
{
	return r->len - r->off;
}

/* A length-prefixed name: @n bytes, 1..@max, from the node or VM alphabet */
static enum vs_tun_err rd_name(struct vs_tun_decoder *d, struct tun_rd *r, const char *what,
			       size_t n, size_t max, bool node, char *out)
{
	const uint8_t *p;

	if (n == 0 || n > max)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_NAME, "%s: name length %zu outside 1..%zu",
				    what, n, max);
	p = rd_take(r, n);
	if (!p)
		return tun_dec_fail(d, VS_TUN_ERR_TRUNCATED_BODY,
				    "%s: name of %zu bytes runs past the body (%zu left)",
				    what, n, rd_left(r));
	if (!tun_name_chars_ok((const char *)p, n, node))
		return tun_dec_fail(d, VS_TUN_ERR_BAD_NAME, "%s: name has characters outside %s",
				    what, node ? "[A-Za-z0-9._-]" : "[A-Za-z0-9_-]");
	memcpy(out, p, n);
	out[n] = '\0';
	return VS_TUN_OK;
}

static enum vs_tun_err rd_end(struct vs_tun_decoder *d, const struct tun_rd *r, const char *what)
{
	if (rd_left(r))
		return tun_dec_fail(d, VS_TUN_ERR_BAD_LENGTH, "%s: %zu trailing bytes after the body",
				    what, rd_left(r));
	return VS_TUN_OK;
}

static enum vs_tun_err rd_stream(struct vs_tun_decoder *d, const char *what, uint32_t id)
{
	if (!id)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "%s: stream_id 0 is reserved", what);
	return VS_TUN_OK;
}

static enum vs_tun_err rd_seq(struct vs_tun_decoder *d, const char *what, uint64_t seq,
			      bool allow_zero)
{
	if (!tun_seq_ok(seq, allow_zero))
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "%s: seq %" G_GUINT64_FORMAT
				    " outside %d..2^63-1", what, seq, allow_zero ? 0 : 1);
	return VS_TUN_OK;
}

static enum vs_tun_err rd_mac(struct vs_tun_decoder *d, const char *what, const uint8_t *mac)
{
	if (!tun_mac_ok(mac))
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD,
				    "%s: VM MAC is multicast or all zeroes", what);
	return VS_TUN_OK;
}

/*
 * Validate a complete header at @p; on success *total is the size of the
 * whole message (<= VS_TUN_MAX_WIRE).
 */
static enum vs_tun_err tun_check_hdr(struct vs_tun_decoder *d, const uint8_t *p, size_t *total)
{
	struct vs_tun_wire_hdr h;
	const struct tun_type_info *ti;
	uint32_t len;
	size_t body;

	*total = 0;
	memcpy(&h, p, sizeof(h));
	len = GUINT32_FROM_BE(h.len);
	if (len < VS_TUN_MIN_MSG)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_LENGTH, "header length %" G_GUINT32_FORMAT
				    " below %d", len, VS_TUN_MIN_MSG);
	if (len > VS_TUN_MAX_MSG)
		return tun_dec_fail(d, VS_TUN_ERR_TOO_LARGE, "header length %" G_GUINT32_FORMAT
				    " above VS_TUN_MAX_MSG (%zu)", len, VS_TUN_MAX_MSG);
	if (h.type == VS_TUN_MSG_NONE || h.type >= VS_TUN_NUM_TYPES)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_TYPE, "unknown message type %u", h.type);
	ti = &tun_types[h.type];
	if (h.flags || h.reserved)
		return tun_dec_fail(d, VS_TUN_ERR_RESERVED, "%s: flags 0x%02x, reserved 0x%04x: "
				    "must be zero", ti->name, h.flags, GUINT16_FROM_BE(h.reserved));
	body = len - VS_TUN_MIN_MSG;
	if (body < ti->min_body)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_LENGTH, "%s: body of %zu bytes, needs %zu",
				    ti->name, body, ti->min_body);
	if (body > ti->max_body) {
		/* a fixed-size type of another size is malformed, not large */
		enum vs_tun_err err = ti->min_body == ti->max_body ? VS_TUN_ERR_BAD_LENGTH :
				      VS_TUN_ERR_TOO_LARGE;

		return tun_dec_fail(d, err, "%s: body of %zu bytes, at most %zu",
				    ti->name, body, ti->max_body);
	}
	*total = VS_TUN_LEN_FIELD + (size_t)len;
	return VS_TUN_OK;
}

static enum vs_tun_err tun_parse_hello(struct vs_tun_decoder *d, struct tun_rd *r,
				       struct vs_tun_msg *m)
{
	struct vs_tun_wire_hello h;
	enum vs_tun_err err;

	rd_fixed(r, &h, sizeof(h));
	if (GUINT32_FROM_BE(h.magic) != VS_TUN_MAGIC)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_MAGIC, "HELLO: magic 0x%08" PRIx32
				    " is not \"VSHT\": not a vhost-shim tunnel peer",
				    GUINT32_FROM_BE(h.magic));
	if (h.role >= VS_TUN_NUM_ROLES)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "HELLO: role %u unknown", h.role);
	m->u.hello.version = GUINT16_FROM_BE(h.version);
	m->u.hello.compat_version = GUINT16_FROM_BE(h.compat_version);
	m->u.hello.role = h.role;
	memcpy(m->u.hello.nonce, h.nonce, VS_TUN_NONCE_LEN);
	err = rd_name(d, r, "HELLO", h.name_len, VS_TUN_NODE_NAME_MAX, true, m->u.hello.name);
	if (err)
		return err;
	/* Extension bytes of a later version: skipped, but bounded on their own
	 * (max_body only bounds name + extension together) */
	if (rd_left(r) > VS_TUN_HELLO_EXT_MAX)
		return tun_dec_fail(d, VS_TUN_ERR_TOO_LARGE,
				    "HELLO: %zu extension bytes, at most %d", rd_left(r),
				    VS_TUN_HELLO_EXT_MAX);
	return VS_TUN_OK;
}

static enum vs_tun_err tun_parse_vm_open(struct vs_tun_decoder *d, struct tun_rd *r,
					 struct vs_tun_msg *m)
{
	struct vs_tun_wire_vm_open o;
	struct vs_tun_wire_seq s;
	const uint8_t *p;
	enum vs_tun_err err;

	rd_fixed(r, &o, sizeof(o));
	m->u.vm_open.stream_id = GUINT32_FROM_BE(o.stream_id);
	memcpy(m->u.vm_open.mac, o.mac, VS_TUN_ETH_ALEN);
	err = rd_name(d, r, "VM_OPEN", o.name_len, VS_TUN_VM_NAME_MAX, false, m->u.vm_open.name);
	if (err)
		return err;
	p = rd_take(r, sizeof(s));
	if (!p)
		return tun_dec_fail(d, VS_TUN_ERR_TRUNCATED_BODY,
				    "VM_OPEN: first_seq runs past the body");
	memcpy(&s, p, sizeof(s));
	m->u.vm_open.first_seq = GUINT64_FROM_BE(s.seq);
	if ((err = rd_end(d, r, "VM_OPEN")) ||
	    (err = rd_stream(d, "VM_OPEN", m->u.vm_open.stream_id)) ||
	    (err = rd_mac(d, "VM_OPEN", m->u.vm_open.mac)))
		return err;
	return rd_seq(d, "VM_OPEN", m->u.vm_open.first_seq, false);
}

static enum vs_tun_err tun_parse_frame(struct vs_tun_decoder *d, struct tun_rd *r,
				       struct vs_tun_msg *m)
{
	struct vs_tun_wire_frame f;
	size_t n;
	enum vs_tun_err err;

	rd_fixed(r, &f, sizeof(f));
	m->u.frame.stream_id = GUINT32_FROM_BE(f.stream_id);
	m->u.frame.seq = GUINT64_FROM_BE(f.seq);
	m->u.frame.origin = f.origin;
	if ((err = rd_stream(d, "FRAME", m->u.frame.stream_id)) ||
	    (err = rd_seq(d, "FRAME", m->u.frame.seq, false)))
		return err;
	if (f.origin >= VS_TUN_NUM_ORIGINS)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "FRAME: origin %u unknown", f.origin);
	n = rd_left(r);
	if (n < VS_TUN_MIN_FRAME)
		return tun_dec_fail(d, VS_TUN_ERR_RUNT_FRAME,
				    "FRAME: %zu bytes, shorter than an Ethernet header", n);
	/* n <= VS_TUN_MAX_FRAME: the type's max_body */
	m->u.frame.data = rd_take(r, n);
	m->u.frame.len = n;
	return VS_TUN_OK;
}

static enum vs_tun_err tun_parse_error(struct vs_tun_decoder *d, struct tun_rd *r,
				       struct vs_tun_msg *m)
{
	struct vs_tun_wire_error e;
	const uint8_t *p;
	size_t i;

	rd_fixed(r, &e, sizeof(e));
	m->u.error.code = GUINT16_FROM_BE(e.code);
	if (e.text_len > VS_TUN_ERROR_TEXT_MAX)
		return tun_dec_fail(d, VS_TUN_ERR_TOO_LARGE, "ERROR: text of %u bytes, at most %d",
				    e.text_len, VS_TUN_ERROR_TEXT_MAX);
	p = rd_take(r, e.text_len);
	if (!p)
		return tun_dec_fail(d, VS_TUN_ERR_TRUNCATED_BODY,
				    "ERROR: text of %u bytes runs past the body", e.text_len);
	/* The peer is going away: keep its code, make the text safe to log */
	for (i = 0; i < e.text_len; i++)
		m->u.error.text[i] = (p[i] >= 0x20 && p[i] <= 0x7e) ? (char)p[i] : '?';
	m->u.error.text[e.text_len] = '\0';
	return rd_end(d, r, "ERROR");
}

/* Parse the body of a message whose header tun_check_hdr() accepted */
static enum vs_tun_err tun_parse(struct vs_tun_decoder *d, const uint8_t *p, size_t total,
				 struct vs_tun_msg *m)
{
	struct tun_rd r = { .p = p + VS_TUN_HDR_LEN, .len = total - VS_TUN_HDR_LEN };
	enum vs_tun_type type = p[VS_TUN_LEN_FIELD];
	const char *what = tun_types[type].name;
	struct vs_tun_wire_stream_seq ss;
	struct vs_tun_wire_stream s;
	enum vs_tun_err err = VS_TUN_OK;

	memset(m, 0, sizeof(*m));
	switch (type) {
	case VS_TUN_MSG_HELLO:
		err = tun_parse_hello(d, &r, m);
		break;
	case VS_TUN_MSG_AUTH:
		rd_fixed(&r, m->u.auth.mac, VS_TUN_MAC_LEN);
		break;
	case VS_TUN_MSG_VM_OPEN:
		err = tun_parse_vm_open(d, &r, m);
		break;
	case VS_TUN_MSG_VM_ACCEPT:
		rd_fixed(&r, &ss, sizeof(ss));
		m->u.vm_accept.stream_id = GUINT32_FROM_BE(ss.stream_id);
		m->u.vm_accept.next_expected_seq = GUINT64_FROM_BE(ss.seq);
		if (!(err = rd_stream(d, what, m->u.vm_accept.stream_id)))
			err = rd_seq(d, what, m->u.vm_accept.next_expected_seq, false);
		break;
	case VS_TUN_MSG_VM_REJECT: {
		struct vs_tun_wire_vm_reject rj;

		rd_fixed(&r, &rj, sizeof(rj));
		m->u.vm_reject.stream_id = GUINT32_FROM_BE(rj.stream_id);
		m->u.vm_reject.reason = GUINT16_FROM_BE(rj.reason);
		err = rd_stream(d, what, m->u.vm_reject.stream_id);
		break;
	}
	case VS_TUN_MSG_FRAME:
		err = tun_parse_frame(d, &r, m);
		break;
	case VS_TUN_MSG_ACK:
		rd_fixed(&r, &ss, sizeof(ss));
		m->u.ack.stream_id = GUINT32_FROM_BE(ss.stream_id);
		m->u.ack.seq = GUINT64_FROM_BE(ss.seq);
		if (!(err = rd_stream(d, what, m->u.ack.stream_id)))
			err = rd_seq(d, what, m->u.ack.seq, true);
		break;
	case VS_TUN_MSG_RESUMED:
	case VS_TUN_MSG_LIVE_SEEN:
	case VS_TUN_MSG_ABORT:
		rd_fixed(&r, &s, sizeof(s));
		m->u.stream.stream_id = GUINT32_FROM_BE(s.stream_id);
		err = rd_stream(d, what, m->u.stream.stream_id);
		break;
	case VS_TUN_MSG_BARRIER:
	case VS_TUN_MSG_END:
		rd_fixed(&r, &ss, sizeof(ss));
		m->u.stream_seq.stream_id = GUINT32_FROM_BE(ss.stream_id);
		m->u.stream_seq.last_seq = GUINT64_FROM_BE(ss.seq);
		if (!(err = rd_stream(d, what, m->u.stream_seq.stream_id)))
			err = rd_seq(d, what, m->u.stream_seq.last_seq, true);
		break;
	case VS_TUN_MSG_EXPECT: {
		struct vs_tun_wire_expect e;

		rd_fixed(&r, &e, sizeof(e));
		memcpy(m->u.expect.mac, e.mac, VS_TUN_ETH_ALEN);
		if ((err = rd_name(d, &r, what, e.name_len, VS_TUN_VM_NAME_MAX, false,
				   m->u.expect.name)) ||
		    (err = rd_end(d, &r, what)))
			break;
		err = rd_mac(d, what, m->u.expect.mac);
		break;
	}
	case VS_TUN_MSG_PING:
	case VS_TUN_MSG_PONG: {
		struct vs_tun_wire_token t;

		rd_fixed(&r, &t, sizeof(t));
		m->u.ping.token = GUINT64_FROM_BE(t.token);
		break;
	}
	case VS_TUN_MSG_ERROR:
		err = tun_parse_error(d, &r, m);
		break;
	case VS_TUN_MSG_NONE:
	case VS_TUN_NUM_TYPES:
		/* tun_check_hdr() refused these */
		assert(0);
		break;
	}
	if (err) {
		memset(m, 0, sizeof(*m));	/* type NONE: nothing half-parsed leaks */
		return err;
	}
	/* Fixed-size types: tun_check_hdr() made min == max == the body */
	m->type = type;
	d->msgs++;
	return VS_TUN_OK;
}

void vs_tun_decoder_init(struct vs_tun_decoder *d)
{
	d->err = VS_TUN_OK;
	d->errmsg[0] = '\0';
	d->in_body = false;
	d->have = 0;
	d->need = VS_TUN_HDR_LEN;
	d->msgs = 0;
}

enum vs_tun_err vs_tun_decoder_feed(struct vs_tun_decoder *d, const void *data, size_t len,
				    size_t *consumed, struct vs_tun_msg *msg)
{
	const uint8_t *in = data;
	size_t off = 0, total = 0;

	*consumed = 0;
	msg->type = VS_TUN_MSG_NONE;
	if (d->err)
		return d->err;

	/* Whole message at the start of @data and nothing buffered: no copy */
	if (!d->have && len >= VS_TUN_HDR_LEN) {
		if (tun_check_hdr(d, in, &total))
			return d->err;
		if (len >= total) {
			*consumed = total;
			return tun_parse(d, in, total, msg);
		}
	}

	while (off < len) {
		/* d->have < d->need <= sizeof(d->buf) here */
		size_t take = MIN(len - off, d->need - d->have);

		memcpy(d->buf + d->have, in + off, take);
		d->have += take;
		off += take;
		if (d->have < d->need)
			break;
		if (!d->in_body) {
			if (tun_check_hdr(d, d->buf, &total)) {
				*consumed = off;
				return d->err;
			}
			d->in_body = true;
			d->need = total;
			if (d->have < d->need)
				continue;
		}
		*consumed = off;
		total = d->need;
		d->have = 0;
		d->need = VS_TUN_HDR_LEN;
		d->in_body = false;
		/* d->buf stays untouched until the next feed: msg may point into it */
		return tun_parse(d, d->buf, total, msg);
	}
	*consumed = off;
	return VS_TUN_OK;
}

enum vs_tun_err vs_tun_decoder_eof(struct vs_tun_decoder *d)
{
	if (d->err)
		return d->err;
	if (!d->have)
		return VS_TUN_OK;
	if (d->in_body)
		return tun_dec_fail(d, VS_TUN_ERR_TRUNCATED_STREAM,
				    "connection closed after %zu of %zu bytes of a %s",
				    d->have, d->need, vs_tun_type_name(d->buf[VS_TUN_LEN_FIELD]));
	return tun_dec_fail(d, VS_TUN_ERR_TRUNCATED_STREAM,
			    "connection closed after %zu of %d header bytes", d->have,
			    VS_TUN_HDR_LEN);
}

const char *vs_tun_decoder_errmsg(const struct vs_tun_decoder *d)
{
	return d->errmsg;
}

enum vs_tun_seq_verdict vs_tun_seq_check(uint64_t next_expected, uint64_t seq)
{
	if (seq < next_expected)
		return VS_TUN_SEQ_DUPLICATE;
	return seq == next_expected ? VS_TUN_SEQ_NEW : VS_TUN_SEQ_GAP;
}

/* ---- Handshake --------------------------------------------------------- */

/* Allowed transitions; every state may fail */
static const bool auth_next[VS_TUN_AUTH_NUM_STATES][VS_TUN_AUTH_NUM_STATES] = {
	[VS_TUN_AUTH_INIT] = {
		[VS_TUN_AUTH_HELLO_SENT] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_HELLO_SENT] = {
		[VS_TUN_AUTH_AUTH_SENT] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_AUTH_SENT] = {
		[VS_TUN_AUTH_AUTHENTICATED] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_AUTHENTICATED] = {
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_FAILED] = {
		[VS_TUN_AUTH_FAILED] = true,
	},
};

static const char *auth_state_name(unsigned int state)
{
	return state < VS_TUN_AUTH_NUM_STATES ? vs_tun_auth_state_names[state] : "?";
}

/* The only setter of a->state */
static void auth_set_state(struct vs_tun_auth *a, enum vs_tun_auth_state next)
{
	enum vs_tun_auth_state old = a->state;

	/* only this file decides transitions: an illegal one is our bug */
	assert(old < VS_TUN_AUTH_NUM_STATES && next < VS_TUN_AUTH_NUM_STATES);
	assert(auth_next[old][next]);
	a->state = next;
	if (old != next)
		vs_log(TUN, DEBUG, a->peer_name[0] ? a->peer_name : NULL, "handshake: %s -> %s",
		       auth_state_name(old), auth_state_name(next));
}

static enum vs_tun_err auth_fail(struct vs_tun_auth *a, enum vs_tun_err err,
				 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum vs_tun_err auth_fail(struct vs_tun_auth *a, enum vs_tun_err err,
				 const char *fmt, ...)
{
	va_list ap;

	a->err = err;
	va_start(ap, fmt);
	g_vsnprintf(a->errmsg, sizeof(a->errmsg), fmt, ap);
	va_end(ap);
	auth_set_state(a, VS_TUN_AUTH_FAILED);
	return err;
}

static const char *auth_role_name(unsigned int role)
{
	return role == VS_TUN_ROLE_INITIATOR ? "initiator" : "responder";
}

/* Append a length-prefixed name to the MAC input */
static size_t auth_put_name(uint8_t *p, const char *name)
{
	size_t n = strlen(name);

	p[0] = (uint8_t)n;
	memcpy(p + 1, name, n);
	return 1 + n;
}

static size_t auth_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/*
 * The AUTH of one side, as docs/tunnel-protocol.md defines it:
 *   HMAC-SHA256(psk, u8 20 || "vhost-shim tunnel v1" || u8 sender_role ||
 *               sender_nonce[32] || receiver_nonce[32] ||
 *               u8 len || sender_name || u8 len || receiver_name ||
 *               be16 sender_version || be16 sender_compat ||
 *               be16 receiver_version || be16 receiver_compat)
 * Every variable item is length-prefixed, so no two transcripts share an
 * input.  The role byte stops a reflected AUTH, the names stop a node being
 * used as an oracle for itself across sessions (peer name != ours), the
 * receiver's fresh nonce stops replay, the versions stop a downgrade.
 * @mine: true for our AUTH, false for the one we expect from the peer.
 */
static void auth_mac(const struct vs_tun_auth *a, bool mine, uint8_t mac[VS_TUN_MAC_LEN])
{
	uint8_t in[1 + VS_TUN_AUTH_LABEL_LEN + 1 + 2 * VS_TUN_NONCE_LEN +
		   2 * (1 + VS_TUN_NODE_NAME_MAX) + 4 * 2];
	size_t off = 0;
	gsize mac_len = VS_TUN_MAC_LEN;
	GHmac *h;

	in[off++] = VS_TUN_AUTH_LABEL_LEN;
	memcpy(in + off, VS_TUN_AUTH_LABEL, VS_TUN_AUTH_LABEL_LEN);
	off += VS_TUN_AUTH_LABEL_LEN;
	/* the peer's role is the opposite of ours (checked on its HELLO) */
	in[off++] = (uint8_t)(mine ? a->role : !a->role);
	memcpy(in + off, mine ? a->my_nonce : a->peer_nonce, VS_TUN_NONCE_LEN);
	off += VS_TUN_NONCE_LEN;
	memcpy(in + off, mine ? a->peer_nonce : a->my_nonce, VS_TUN_NONCE_LEN);
	off += VS_TUN_NONCE_LEN;
	off += auth_put_name(in + off, mine ? a->my_name : a->peer_name);
	off += auth_put_name(in + off, mine ? a->peer_name : a->my_name);
	off += auth_put_be16(in + off, mine ? a->my_version : a->peer_version);
	off += auth_put_be16(in + off, mine ? a->my_compat : a->peer_compat);
	off += auth_put_be16(in + off, mine ? a->peer_version : a->my_version);
	off += auth_put_be16(in + off, mine ? a->peer_compat : a->my_compat);
	assert(off <= sizeof(in));

	h = g_hmac_new(G_CHECKSUM_SHA256, a->psk, a->psk_len);
	g_hmac_update(h, in, off);
	g_hmac_get_digest(h, mac, &mac_len);
	g_hmac_unref(h);
	assert(mac_len == VS_TUN_MAC_LEN);
}

/* Compare secrets without a data-dependent early exit */
static bool auth_equal_ct(const uint8_t *x, const uint8_t *y, size_t n)
{
	volatile uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}

enum vs_tun_err vs_tun_auth_init(struct vs_tun_auth *a, enum vs_tun_role role,
				 const uint8_t *psk, size_t psk_len, const char *my_name,
				 const uint8_t nonce[VS_TUN_NONCE_LEN])
{
	memset(a, 0, sizeof(*a));
	a->state = VS_TUN_AUTH_INIT;
	a->role = role;
	a->my_version = VS_TUN_VERSION;
	a->my_compat = VS_TUN_COMPAT_VERSION;
	if (role >= VS_TUN_NUM_ROLES)
		return auth_fail(a, VS_TUN_ERR_BAD_FIELD, "role %u unknown", (unsigned int)role);
	if (!psk || psk_len < VS_TUN_PSK_MIN || psk_len > VS_TUN_PSK_MAX)
		return auth_fail(a, VS_TUN_ERR_BAD_KEY, "pre-shared key of %zu bytes, needs %d..%d",
				 psk ? psk_len : 0, VS_TUN_PSK_MIN, VS_TUN_PSK_MAX);
	if (!vs_tun_node_name_valid(my_name))
		return auth_fail(a, VS_TUN_ERR_BAD_NAME,
				 "node name must be 1-%d characters of [A-Za-z0-9._-]",
				 VS_TUN_NODE_NAME_MAX);
	memcpy(a->psk, psk, psk_len);
	a->psk_len = psk_len;
	g_strlcpy(a->my_name, my_name, sizeof(a->my_name));
	memcpy(a->my_nonce, nonce, VS_TUN_NONCE_LEN);
	return VS_TUN_OK;
}

enum vs_tun_err vs_tun_auth_start(struct vs_tun_auth *a, GByteArray *out)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_HELLO };

	if (a->state == VS_TUN_AUTH_FAILED)
		return a->err;
	if (a->state != VS_TUN_AUTH_INIT)
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "HELLO already sent");
	m.u.hello.version = a->my_version;
	m.u.hello.compat_version = a->my_compat;
	m.u.hello.role = (uint8_t)a->role;
	memcpy(m.u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN);
	g_strlcpy(m.u.hello.name, a->my_name, sizeof(m.u.hello.name));
	if (!vs_tun_encode(out, &m))	/* init validated every field */
		return auth_fail(a, VS_TUN_ERR_INTERNAL, "cannot encode our HELLO");
	auth_set_state(a, VS_TUN_AUTH_HELLO_SENT);
	return VS_TUN_OK;
}

static enum vs_tun_err auth_peer_hello(struct vs_tun_auth *a, const struct vs_tun_msg *m,
				       GByteArray *out)
{
	uint16_t pv = m->u.hello.version, pc = m->u.hello.compat_version;
	uint8_t mac[VS_TUN_MAC_LEN];
	size_t n;

	if (pc > pv)
		return auth_fail(a, VS_TUN_ERR_BAD_VERSION,
				 "peer '%s' announces compat_version %u above its version %u",
				 m->u.hello.name, pc, pv);
	if (pv < a->my_compat || a->my_version < pc)
		return auth_fail(a, VS_TUN_ERR_BAD_VERSION,
				 "peer '%s' speaks versions %u..%u, we speak %u..%u",
				 m->u.hello.name, pc, pv, a->my_compat, a->my_version);
	if (m->u.hello.role >= VS_TUN_NUM_ROLES)
		return auth_fail(a, VS_TUN_ERR_BAD_FIELD, "peer role %u unknown", m->u.hello.role);
	if (m->u.hello.role == a->role)
		return auth_fail(a, VS_TUN_ERR_REFLECTED, "peer '%s' claims our role (%s)",
				 m->u.hello.name, auth_role_name(a->role));
	if (!memcmp(m->u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN))
		return auth_fail(a, VS_TUN_ERR_REFLECTED, "peer HELLO echoes our nonce");
	if (!vs_tun_node_name_valid(m->u.hello.name))
		return auth_fail(a, VS_TUN_ERR_BAD_NAME, "peer node name invalid");
	if (!strcmp(m->u.hello.name, a->my_name))
		return auth_fail(a, VS_TUN_ERR_REFLECTED,
				 "peer uses our own node name '%s': node names must be unique",
				 a->my_name);

	a->peer_version = pv;
	a->peer_compat = pc;
	a->version = MIN(pv, a->my_version);
	memcpy(a->peer_nonce, m->u.hello.nonce, VS_TUN_NONCE_LEN);
	g_strlcpy(a->peer_name, m->u.hello.name, sizeof(a->peer_name));

	auth_mac(a, true, mac);
	n = vs_tun_encode_auth(out, mac);
	explicit_bzero(mac, sizeof(mac));
	if (!n)
		return auth_fail(a, VS_TUN_ERR_INTERNAL, "cannot encode our AUTH");
	auth_set_state(a, VS_TUN_AUTH_AUTH_SENT);
	return VS_TUN_OK;
}

static enum vs_tun_err auth_peer_auth(struct vs_tun_auth *a, const struct vs_tun_msg *m)
{
	uint8_t want[VS_TUN_MAC_LEN];
	bool ok;

	auth_mac(a, false, want);
	ok = auth_equal_ct(want, m->u.auth.mac, VS_TUN_MAC_LEN);
	explicit_bzero(want, sizeof(want));
	if (!ok)
		return auth_fail(a, VS_TUN_ERR_AUTH_FAIL,
				 "AUTH from '%s' does not verify: wrong pre-shared key?",
				 a->peer_name);
	auth_set_state(a, VS_TUN_AUTH_AUTHENTICATED);
	return VS_TUN_OK;
}

enum vs_tun_err vs_tun_auth_consume(struct vs_tun_auth *a, const struct vs_tun_msg *msg,
				    GByteArray *out, bool *deliver)
{
	enum vs_tun_type t = msg->type;

	*deliver = false;
	if (a->state == VS_TUN_AUTH_FAILED)
		return a->err;
	/* a peer's last words, e.g. BAD_VERSION, are worth logging */
	if (t == VS_TUN_MSG_ERROR) {
		*deliver = true;
		return VS_TUN_OK;
	}
	switch (a->state) {
	case VS_TUN_AUTH_INIT:
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "%s received before our HELLO was sent",
				 vs_tun_type_name(t));
	case VS_TUN_AUTH_HELLO_SENT:
		if (t == VS_TUN_MSG_HELLO)
			return auth_peer_hello(a, msg, out);
		break;
	case VS_TUN_AUTH_AUTH_SENT:
		if (t == VS_TUN_MSG_AUTH)
			return auth_peer_auth(a, msg);
		break;
	case VS_TUN_AUTH_AUTHENTICATED:
		if (t == VS_TUN_MSG_HELLO || t == VS_TUN_MSG_AUTH)
			return auth_fail(a, VS_TUN_ERR_UNEXPECTED,
					 "%s after the handshake", vs_tun_type_name(t));
		*deliver = true;
		return VS_TUN_OK;
	case VS_TUN_AUTH_FAILED:
	case VS_TUN_AUTH_NUM_STATES:
		break;
	}
	if (t == VS_TUN_MSG_HELLO || t == VS_TUN_MSG_AUTH)
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "%s out of order (state %s)",
				 vs_tun_type_name(t), auth_state_name(a->state));
	return auth_fail(a, VS_TUN_ERR_NOT_AUTHENTICATED, "%s before the handshake completed",
			 vs_tun_type_name(t));
}

const char *vs_tun_auth_errmsg(const struct vs_tun_auth *a)
{
	return a->errmsg;
}

void vs_tun_auth_clear(struct vs_tun_auth *a)
{
	explicit_bzero(a->psk, sizeof(a->psk));
	explicit_bzero(a->my_nonce, sizeof(a->my_nonce));
	explicit_bzero(a->peer_nonce, sizeof(a->peer_nonce));
	a->psk_len = 0;
	if (a->state != VS_TUN_AUTH_FAILED)
		auth_fail(a, VS_TUN_ERR_SHUTDOWN, "handshake state cleared");
}

/* ---- Key file and nonces ----------------------------------------------- */

/* Decode hex @text (already trimmed) into @psk; never echoes the text */
static gboolean psk_parse_hex(const char *path, const char *text, size_t n,
			      uint8_t *psk, size_t *len, GError **error)
{
	size_t i;

	if (n < 2 * VS_TUN_PSK_MIN || n > 2 * VS_TUN_PSK_MAX || n % 2) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: %zu hex digits, needs an even number in %d..%d "
			    "(e.g. openssl rand -hex 32)", path, n, 2 * VS_TUN_PSK_MIN,
			    2 * VS_TUN_PSK_MAX);
		return FALSE;
	}
	for (i = 0; i < n; i += 2) {
		int hi = g_ascii_xdigit_value(text[i]);
		int lo = g_ascii_xdigit_value(text[i + 1]);

		if (hi < 0 || lo < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
				    "tunnel key %s: not hexadecimal (character %zu)", path,
				    hi < 0 ? i + 1 : i + 2);
			return FALSE;
		}
		psk[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return TRUE;
}

static gboolean psk_read(const char *path, char *text, size_t size, size_t *n, GError **error)
{
	vs_autoclose int fd = -1;
	struct stat st;

	/* O_NONBLOCK: a FIFO must not hang us before fstat() refuses it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY, "tunnel key %s: %s",
			    path, g_strerror(errno));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: not a regular file", path);
		return FALSE;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: accessible by group or others (mode %04o); "
			    "run: chmod 600 %s", path, (unsigned int)(st.st_mode & 07777), path);
		return FALSE;
	}
	*n = 0;
	for (;;) {
		ssize_t r = read(fd, text + *n, size - *n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY, "tunnel key %s: %s",
				    path, g_strerror(errno));
			return FALSE;
		}
		if (r == 0)
			break;
		*n += (size_t)r;
		if (*n == size) {	/* size is VS_TUN_PSK_FILE_MAX + 1 */
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
				    "tunnel key %s: larger than %d bytes", path,
				    VS_TUN_PSK_FILE_MAX);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean vs_tun_load_psk(const char *path, uint8_t *psk, size_t *len, GError **error)
{
	char text[VS_TUN_PSK_FILE_MAX + 1];
	size_t n = 0, start = 0, end;
	gboolean ok = FALSE;

	*len = 0;
	if (psk_read(path, text, sizeof(text), &n, error)) {
		end = n;
		while (start < end && g_ascii_isspace(text[start]))
			start++;
		while (end > start && g_ascii_isspace(text[end - 1]))
			end--;
		ok = psk_parse_hex(path, text + start, end - start, psk, len, error);
	}
	explicit_bzero(text, sizeof(text));
	if (!ok) {
		explicit_bzero(psk, VS_TUN_PSK_MAX);
		*len = 0;
	}
	return ok;
}

gboolean vs_tun_random_nonce(uint8_t *nonce, GError **error)
{
	size_t off = 0;

	while (off < VS_TUN_NONCE_LEN) {
		ssize_t r = getrandom(nonce + off, VS_TUN_NONCE_LEN - off, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_INTERNAL, "getrandom: %s",
				    g_strerror(errno));
			return FALSE;
		}
		off += (size_t)r;
	}
	return TRUE;
}
