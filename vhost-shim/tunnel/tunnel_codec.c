/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_codec.c - tunnel codec: names, the message table, encoders
 *
 * Theory of operation: see tunnel_proto.h; the wire format is tunnel.h and
 * docs/tunnel-protocol.md.  The decoder is tunnel_decode.c and the
 * handshake tunnel_auth.c.
 *
 * One table (tun_types) says, per message type, its name, the direction it
 * travels and the smallest and largest body it can have; the decoder
 * checks every header against it (tunnel_codec_priv.h).  The encoder
 * validates a message with the same predicates the decoder uses
 * (tun_body_len()), so whatever we send, a peer of the same version
 * accepts.  A message that fails them is refused whole: an encoder returns
 * 0 and writes nothing.  Writing goes through a cursor (struct tun_wr) over
 * a buffer that tun_body_len() sized exactly, and asserts it filled it.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "tunnel_codec_priv.h"
#include "tunnel_proto.h"
#include "util.h"

G_DEFINE_QUARK(vs-tun-error-quark, vs_tun_error)

static_assert(VS_TUN_VM_NAME_MAX == VS_NAME_MAX, "a VM name on the wire is a port name");

#define TUN_FIXED(nm, d, size) { .name = nm, .dir = d, .min_body = size, .max_body = size }
#define TUN_VAR(nm, d, lo, hi) { .name = nm, .dir = d, .min_body = lo, .max_body = hi }

const struct tun_type_info tun_types[VS_TUN_NUM_TYPES] = {
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
	[VS_TUN_MSG_FRAME_TIMES] = TUN_VAR("FRAME_TIMES", VS_TUN_DIR_SRC_TO_DST,
					   sizeof(struct vs_tun_wire_frame_times),
					   sizeof(struct vs_tun_wire_frame_times) +
					   VS_TUN_MAX_FRAME),
	[VS_TUN_MSG_SOURCE_DIRECT] = TUN_FIXED("SOURCE_DIRECT", VS_TUN_DIR_DST_TO_SRC,
					       sizeof(struct vs_tun_wire_source_direct)),
	[VS_TUN_MSG_SOURCE_BARRIER] = TUN_FIXED("SOURCE_BARRIER", VS_TUN_DIR_SRC_TO_DST,
						sizeof(struct vs_tun_wire_source_barrier)),
	[VS_TUN_MSG_CONNS] = TUN_VAR("CONNS", VS_TUN_DIR_SRC_TO_DST,
				     sizeof(struct vs_tun_wire_conns) +
				     sizeof(struct vs_tun_wire_conn),
				     sizeof(struct vs_tun_wire_conns) +
				     VS_TUN_CONNS_MAX * sizeof(struct vs_tun_wire_conn)),
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

bool tun_name_chars_ok(const char *s, size_t n, bool allow_dot)
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

bool tun_mac_ok(const uint8_t *mac)
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

/* ---- Encoding ---------------------------------------------------------- */

/* Body size of a valid message; 0 (no valid body is empty) if invalid */
static size_t tun_body_len(const struct vs_tun_msg *m)
{
	size_t n;

	switch (m->type) {
	case VS_TUN_MSG_HELLO:
		if (m->u.hello.role >= VS_TUN_NUM_ROLES || !vs_tun_node_name_valid(m->u.hello.name))
			return 0;
		if (m->u.hello.ext & ~VS_TUN_HELLO_EXT_ALL)
			return 0;
		return sizeof(struct vs_tun_wire_hello) + strlen(m->u.hello.name) +
		       (m->u.hello.ext & VS_TUN_HELLO_EXT_FRAME_TIMES ? 2 : 0) +
		       (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_DIRECT ? 2 : 0) +
		       (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_BARRIER ? 2 : 0) +
		       (m->u.hello.ext & VS_TUN_HELLO_EXT_TCP_CONNS ? 2 : 0);
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
	case VS_TUN_MSG_FRAME_TIMES:
		n = m->u.frame.len;
		if (!m->u.frame.stream_id || !tun_seq_ok(m->u.frame.seq, false) ||
		    m->u.frame.origin >= VS_TUN_NUM_ORIGINS || !m->u.frame.data ||
		    n < VS_TUN_MIN_FRAME || n > VS_TUN_MAX_FRAME)
			return 0;
		return sizeof(struct vs_tun_wire_frame_times) + n;
	case VS_TUN_MSG_ACK:
		if (!m->u.ack.stream_id || !tun_seq_ok(m->u.ack.seq, true))
			return 0;
		return sizeof(struct vs_tun_wire_stream_seq);
	case VS_TUN_MSG_SOURCE_DIRECT:
		if (!m->u.source_direct.stream_id ||
		    !vs_tun_source_addr_ok(m->u.source_direct.af, m->u.source_direct.addr))
			return 0;
		return sizeof(struct vs_tun_wire_source_direct);
	case VS_TUN_MSG_SOURCE_BARRIER:
		if (!m->u.source_barrier.stream_id ||
		    !tun_seq_ok(m->u.source_barrier.last_seq, true) ||
		    !vs_tun_source_addr_ok(m->u.source_barrier.af, m->u.source_barrier.addr))
			return 0;
		return sizeof(struct vs_tun_wire_source_barrier);
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
	case VS_TUN_MSG_CONNS:
		if (!m->u.conns.stream_id || !tun_conns_ok(m))
			return 0;
		return sizeof(struct vs_tun_wire_conns) +
		       (size_t)m->u.conns.count * sizeof(struct vs_tun_wire_conn);
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
		if (m->u.hello.ext & VS_TUN_HELLO_EXT_FRAME_TIMES) {
			static const uint8_t ft[2] = { VS_TUN_EXT_FRAME_TIMES, 0 };

			wr_put(&w, ft, sizeof(ft));
		}
		if (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_DIRECT) {
			static const uint8_t sd[2] = { VS_TUN_EXT_SOURCE_DIRECT, 0 };

			wr_put(&w, sd, sizeof(sd));
		}
		if (m->u.hello.ext & VS_TUN_HELLO_EXT_SOURCE_BARRIER) {
			static const uint8_t sb[2] = { VS_TUN_EXT_SOURCE_BARRIER, 0 };

			wr_put(&w, sb, sizeof(sb));
		}
		if (m->u.hello.ext & VS_TUN_HELLO_EXT_TCP_CONNS) {
			static const uint8_t tc[2] = { VS_TUN_EXT_TCP_CONNS, 0 };

			wr_put(&w, tc, sizeof(tc));
		}
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
	case VS_TUN_MSG_FRAME_TIMES: {
		struct vs_tun_wire_frame_times f = {
			.stream_id = GUINT32_TO_BE(m->u.frame.stream_id),
			.seq = GUINT64_TO_BE(m->u.frame.seq),
			.origin = m->u.frame.origin,
			.age_us = GUINT32_TO_BE(m->u.frame.age_us),
			.sent_us = GUINT64_TO_BE(m->u.frame.sent_us),
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
	case VS_TUN_MSG_SOURCE_DIRECT: {
		struct vs_tun_wire_source_direct sd = {
			.stream_id = GUINT32_TO_BE(m->u.source_direct.stream_id),
			.af = m->u.source_direct.af,
		};

		memcpy(sd.addr, m->u.source_direct.addr, sizeof(sd.addr));
		wr_put(&w, &sd, sizeof(sd));
		break;
	}
	case VS_TUN_MSG_SOURCE_BARRIER: {
		struct vs_tun_wire_source_barrier sb = {
			.stream_id = GUINT32_TO_BE(m->u.source_barrier.stream_id),
			.last_seq = GUINT64_TO_BE(m->u.source_barrier.last_seq),
			.af = m->u.source_barrier.af,
		};

		memcpy(sb.addr, m->u.source_barrier.addr, sizeof(sb.addr));
		wr_put(&w, &sb, sizeof(sb));
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
	case VS_TUN_MSG_CONNS: {
		struct vs_tun_wire_conns h = {
			.stream_id = GUINT32_TO_BE(m->u.conns.stream_id),
			.count = GUINT16_TO_BE(m->u.conns.count),
		};

		wr_put(&w, &h, sizeof(h));
		wr_put(&w, m->u.conns.recs, m->u.conns.count * sizeof(struct vs_tun_wire_conn));
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

size_t vs_tun_encode_hello_ext(GByteArray *out, enum vs_tun_role role,
			       const uint8_t nonce[VS_TUN_NONCE_LEN], const char *name,
			       uint32_t ext)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_HELLO };

	m.u.hello.version = VS_TUN_VERSION;
	m.u.hello.compat_version = VS_TUN_COMPAT_VERSION;
	m.u.hello.role = (uint8_t)role;
	m.u.hello.ext = ext;
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

size_t vs_tun_encode_frame_times(GByteArray *out, uint32_t stream_id, uint64_t seq,
				 enum vs_tun_origin origin, uint32_t age_us, uint64_t sent_us,
				 const uint8_t *frame, size_t len)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_FRAME_TIMES };

	m.u.frame.stream_id = stream_id;
	m.u.frame.seq = seq;
	m.u.frame.origin = (uint8_t)origin;
	m.u.frame.data = frame;
	m.u.frame.len = len;
	m.u.frame.age_us = age_us;
	m.u.frame.sent_us = sent_us;
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

size_t vs_tun_encode_source_direct(GByteArray *out, uint32_t stream_id, uint8_t af,
				   const uint8_t addr[16])
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_SOURCE_DIRECT };

	m.u.source_direct.stream_id = stream_id;
	m.u.source_direct.af = af;
	memcpy(m.u.source_direct.addr, addr, sizeof(m.u.source_direct.addr));
	return vs_tun_encode(out, &m);
}

size_t vs_tun_encode_source_barrier(GByteArray *out, uint32_t stream_id, uint64_t last_seq,
				    uint8_t af, const uint8_t addr[16])
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_SOURCE_BARRIER };

	m.u.source_barrier.stream_id = stream_id;
	m.u.source_barrier.last_seq = last_seq;
	m.u.source_barrier.af = af;
	memcpy(m.u.source_barrier.addr, addr, sizeof(m.u.source_barrier.addr));
	return vs_tun_encode(out, &m);
}

bool vs_tun_source_addr_ok(uint8_t af, const uint8_t addr[16])
{
	static const uint8_t zero[12];

	if (af == VS_TUN_SRC_AF_INET)
		return !memcmp(addr + 4, zero, sizeof(zero));
	return af == VS_TUN_SRC_AF_INET6;
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
