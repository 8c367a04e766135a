/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_decode.c - tunnel decoder and sequence check
 *
 * Theory of operation: see tunnel_proto.h.  struct vs_tun_decoder is fed
 * whatever recv() returned, split anywhere.  It checks a message's length
 * against the type table (tun_types, tunnel_codec.c) as soon as the 8
 * header bytes are in, before buffering the body, so a peer cannot make us
 * hold more than VS_TUN_MAX_WIRE bytes or wait for a body that cannot be
 * valid.  A message that arrives whole is parsed where it lies, without a
 * copy.  Body parsing then goes through a cursor (struct tun_rd) whose only
 * accessor asks "are there n more bytes", written as n > len - off with
 * off <= len always, which cannot overflow.  Field values are checked with
 * the encoder's predicates (tunnel_codec_priv.h).  The first violation
 * kills the decoder for good, with an enum vs_tun_err and a one-line
 * description that the caller logs once.
 *
 * vs_tun_seq_check() is the destination's rule for a FRAME's sequence
 * number once it is decoded: new, duplicate (a resend) or gap.
 *
 * vs_tun_sniff() looks at the first bytes a peer sent, before any TLS:
 * a TLS ClientHello, a version-1 HELLO in clear (refused with a clear
 * error, docs/tunnel-protocol.md "Versions"), or neither.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "tunnel_codec_priv.h"
#include "tunnel_proto.h"

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
	/* Extensions, bounded on their own (max_body only bounds name +
	 * extension together): (tag, len, value) items; unknown tags skipped */
	if (rd_left(r) > VS_TUN_HELLO_EXT_MAX)
		return tun_dec_fail(d, VS_TUN_ERR_TOO_LARGE,
				    "HELLO: %zu extension bytes, at most %d", rd_left(r),
				    VS_TUN_HELLO_EXT_MAX);
	m->u.hello.ext = 0;
	while (rd_left(r)) {
		const uint8_t *tl = rd_take(r, 2);

		/* an item that runs past the body ends the list: a peer of a
		 * later version may use the area otherwise; so is a known tag
		 * with another length ignored */
		if (!tl || !rd_take(r, tl[1]))
			break;
		if (tl[0] == VS_TUN_EXT_FRAME_TIMES && !tl[1])
			m->u.hello.ext |= VS_TUN_HELLO_EXT_FRAME_TIMES;
		else if (tl[0] == VS_TUN_EXT_SOURCE_DIRECT && !tl[1])
			m->u.hello.ext |= VS_TUN_HELLO_EXT_SOURCE_DIRECT;
		else if (tl[0] == VS_TUN_EXT_SOURCE_BARRIER && !tl[1])
			m->u.hello.ext |= VS_TUN_HELLO_EXT_SOURCE_BARRIER;
		else if (tl[0] == VS_TUN_EXT_TCP_CONNS && !tl[1])
			m->u.hello.ext |= VS_TUN_HELLO_EXT_TCP_CONNS;
	}
	r->off = r->len;
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
	const char *what = m->type == VS_TUN_MSG_FRAME ? "FRAME" : "FRAME_TIMES";
	size_t n;
	enum vs_tun_err err;

	if (m->type == VS_TUN_MSG_FRAME) {
		struct vs_tun_wire_frame f;

		rd_fixed(r, &f, sizeof(f));
		m->u.frame.stream_id = GUINT32_FROM_BE(f.stream_id);
		m->u.frame.seq = GUINT64_FROM_BE(f.seq);
		m->u.frame.origin = f.origin;
		m->u.frame.age_us = 0;
		m->u.frame.sent_us = 0;
	} else {	/* the type's min_body: the fixed part is there */
		struct vs_tun_wire_frame_times f;

		rd_fixed(r, &f, sizeof(f));
		m->u.frame.stream_id = GUINT32_FROM_BE(f.stream_id);
		m->u.frame.seq = GUINT64_FROM_BE(f.seq);
		m->u.frame.origin = f.origin;
		m->u.frame.age_us = GUINT32_FROM_BE(f.age_us);
		m->u.frame.sent_us = GUINT64_FROM_BE(f.sent_us);
	}
	if ((err = rd_stream(d, what, m->u.frame.stream_id)) ||
	    (err = rd_seq(d, what, m->u.frame.seq, false)))
		return err;
	if (m->u.frame.origin >= VS_TUN_NUM_ORIGINS)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "%s: origin %u unknown", what,
				    m->u.frame.origin);
	n = rd_left(r);
	if (n < VS_TUN_MIN_FRAME)
		return tun_dec_fail(d, VS_TUN_ERR_RUNT_FRAME,
				    "%s: %zu bytes, shorter than an Ethernet header", what, n);
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

/*
 * CONNS: the count must say exactly the records the body holds, and every
 * record must be valid (vs_tun_conn_check()): nothing is guessed, one bad
 * record refuses the message.  The records stay in the decoder's bytes
 * (vs_tun_conns_get() reads them).
 */
static enum vs_tun_err tun_parse_conns(struct vs_tun_decoder *d, struct tun_rd *r,
				       struct vs_tun_msg *m)
{
	struct vs_tun_wire_conns h;
	size_t left, i;
	enum vs_tun_err err;

	rd_fixed(r, &h, sizeof(h));
	m->u.conns.stream_id = GUINT32_FROM_BE(h.stream_id);
	m->u.conns.count = GUINT16_FROM_BE(h.count);
	if ((err = rd_stream(d, "CONNS", m->u.conns.stream_id)))
		return err;
	left = rd_left(r);
	if (!m->u.conns.count || m->u.conns.count > VS_TUN_CONNS_MAX)
		return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "CONNS: count %u outside 1..%d",
				    m->u.conns.count, VS_TUN_CONNS_MAX);
	if (left != (size_t)m->u.conns.count * sizeof(struct vs_tun_wire_conn))
		return tun_dec_fail(d, VS_TUN_ERR_BAD_LENGTH,
				    "CONNS: %zu bytes of records for a count of %u (%zu each)",
				    left, m->u.conns.count, sizeof(struct vs_tun_wire_conn));
	m->u.conns.recs = rd_take(r, left);
	/* vs_tun_conns_get() reads the records from here on */
	for (i = 0; i < m->u.conns.count; i++) {
		struct vs_tun_conn c;
		const char *why;

		vs_tun_conns_get(m, i, &c);
		if ((why = vs_tun_conn_check(&c)))
			return tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD, "CONNS: record %zu: %s", i,
					    why);
	}
	return VS_TUN_OK;
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
	m->type = type;		/* for the parsers that serve two types */
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
	case VS_TUN_MSG_FRAME_TIMES:
		err = tun_parse_frame(d, &r, m);
		break;
	case VS_TUN_MSG_ACK:
		rd_fixed(&r, &ss, sizeof(ss));
		m->u.ack.stream_id = GUINT32_FROM_BE(ss.stream_id);
		m->u.ack.seq = GUINT64_FROM_BE(ss.seq);
		if (!(err = rd_stream(d, what, m->u.ack.stream_id)))
			err = rd_seq(d, what, m->u.ack.seq, true);
		break;
	case VS_TUN_MSG_SOURCE_DIRECT: {
		struct vs_tun_wire_source_direct sd;

		rd_fixed(&r, &sd, sizeof(sd));
		m->u.source_direct.stream_id = GUINT32_FROM_BE(sd.stream_id);
		m->u.source_direct.af = sd.af;
		memcpy(m->u.source_direct.addr, sd.addr, sizeof(sd.addr));
		if ((err = rd_stream(d, what, m->u.source_direct.stream_id)))
			break;
		/* Security: a family we do not know, or an IPv4 address with
		 * bytes set past its 4, is a broken peer: nothing is guessed */
		if (!vs_tun_source_addr_ok(sd.af, sd.addr))
			err = tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD,
					   "SOURCE_DIRECT: address family %u unknown, or an "
					   "IPv4 address with bytes past its 4", sd.af);
		break;
	}
	case VS_TUN_MSG_SOURCE_BARRIER: {
		struct vs_tun_wire_source_barrier sb;

		rd_fixed(&r, &sb, sizeof(sb));
		m->u.source_barrier.stream_id = GUINT32_FROM_BE(sb.stream_id);
		m->u.source_barrier.last_seq = GUINT64_FROM_BE(sb.last_seq);
		m->u.source_barrier.af = sb.af;
		memcpy(m->u.source_barrier.addr, sb.addr, sizeof(sb.addr));
		if ((err = rd_stream(d, what, m->u.source_barrier.stream_id)) ||
		    (err = rd_seq(d, what, m->u.source_barrier.last_seq, true)))
			break;
		/* Security: as SOURCE_DIRECT's address, nothing is guessed */
		if (!vs_tun_source_addr_ok(sb.af, sb.addr))
			err = tun_dec_fail(d, VS_TUN_ERR_BAD_FIELD,
					   "SOURCE_BARRIER: address family %u unknown, or an "
					   "IPv4 address with bytes past its 4", sb.af);
		break;
	}
	case VS_TUN_MSG_CONNS:
		err = tun_parse_conns(d, &r, m);
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

/*
 * Security model: the bytes are the first ones a stranger sent.  Each byte
 * is judged as soon as it is there, so that anything else is refused at its
 * first wrong byte, and nothing past VS_TUN_SNIFF_LEN is looked at.
 */
enum vs_tun_sniff vs_tun_sniff(const uint8_t *buf, size_t len)
{
	static const uint8_t v1[VS_TUN_SNIFF_LEN] = {
		0, 0, 0, 0,		/* len: checked below */
		VS_TUN_MSG_HELLO, 0, 0, 0,	/* type, flags, reserved */
		(uint8_t)(VS_TUN_MAGIC >> 24), (uint8_t)(VS_TUN_MAGIC >> 16),
		(uint8_t)(VS_TUN_MAGIC >> 8), (uint8_t)VS_TUN_MAGIC,
	};
	size_t i, n = MIN(len, (size_t)VS_TUN_SNIFF_LEN);

	if (!n)
		return VS_TUN_SNIFF_MORE;
	if (buf[0] == VS_TUN_TLS_RECORD_HANDSHAKE)
		return n < 2 ? VS_TUN_SNIFF_MORE
			     : buf[1] == VS_TUN_TLS_RECORD_VERSION_MAJOR ? VS_TUN_SNIFF_TLS
									 : VS_TUN_SNIFF_OTHER;
	/* a HELLO's len is VS_TUN_HELLO_MIN_MSG..VS_TUN_HELLO_MAX_MSG (< 256) */
	for (i = 0; i < n; i++) {
		bool ok = i < 3 ? buf[i] == 0
			  : i == 3 ? buf[i] >= VS_TUN_HELLO_MIN_MSG && buf[i] <= VS_TUN_HELLO_MAX_MSG
				   : buf[i] == v1[i];

		if (!ok)
			return VS_TUN_SNIFF_OTHER;
	}
	return n == VS_TUN_SNIFF_LEN ? VS_TUN_SNIFF_V1 : VS_TUN_SNIFF_MORE;
}

const char *vs_tun_sniff_str(enum vs_tun_sniff s)
{
	switch (s) {
	case VS_TUN_SNIFF_MORE:
		return "undecided";
	case VS_TUN_SNIFF_TLS:
		return "TLS";
	case VS_TUN_SNIFF_V1:
		return "tunnel protocol v1 in clear";
	case VS_TUN_SNIFF_OTHER:
	case VS_TUN_NUM_SNIFFS:
		break;
	}
	return "neither TLS nor the tunnel protocol";
}
