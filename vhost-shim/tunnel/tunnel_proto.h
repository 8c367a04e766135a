/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_proto.h - tunnel codec and handshake (pure: bytes in, messages out)
 *
 * Theory of operation: this is the part of the tunnel that needs neither a
 * socket nor DPDK, so that all of it is unit-tested byte by byte.
 *
 *  - Encoders turn a struct vs_tun_msg (or the arguments of one message)
 *    into wire bytes (include/vhost-shim/tunnel_wire.h), appended to a
 *    GByteArray or written to a caller's buffer.  They refuse (return 0,
 *    write nothing) a message that a decoder would reject, so a bug here
 *    cannot make the peer hang up.
 *  - struct vs_tun_decoder is fed whatever TLS decrypted, split anywhere,
 *    and hands back one complete, validated message at a time.  The first
 *    violation kills it for good: the caller sends ERROR and closes.
 *  - struct vs_tun_auth is the handshake: HELLO each way, then AUTH each
 *    way, and a gate that refuses every other message until the peer has
 *    proven it holds the AUTH key (derived from the TLS session it runs in).
 *  - vs_tun_sniff() tells a TLS ClientHello from a version-1 HELLO sent in
 *    clear, before any TLS.
 *
 * The caller (the GIO tunnel) owns sockets, TLS, timers, randomness for
 * nonces (vs_tun_random_nonce()) and the key file (vs_tun_load_psk()).
 *
 * Files: names and encoders are in tunnel_codec.c, the decoder, vs_tun_sniff()
 * and vs_tun_seq_check() in tunnel_decode.c (tunnel_codec_priv.h is what those
 * two share), and the handshake, the key file and nonces in tunnel_auth.c.
 * This header is the interface of all three.
 *
 * Security model: everything a decoder or vs_tun_auth_consume() sees comes
 * from the network before or after authentication, and an authenticated
 * peer may still be buggy.  No field is trusted: every length, count and
 * enum is checked against the named limits in tunnel.h with arithmetic that
 * cannot overflow, and nothing here asserts, aborts or logs an error on
 * peer input; it returns an enum vs_tun_err and a one-line description for
 * the caller to log once.
 */
#ifndef VS_TUNNEL_PROTO_H
#define VS_TUNNEL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "vhost-shim/tunnel_wire.h"

/* Security consideration: 128 bits of key at least; longer than an
 * HMAC-SHA256 block (64 bytes) would be hashed first and adds nothing. */
#define VS_TUN_PSK_MIN		16
#define VS_TUN_PSK_MAX		64
/* Security consideration: a key file is read up to this size, so pointing
 * the option at /dev/zero or a log file cannot exhaust memory */
#define VS_TUN_PSK_FILE_MAX	4096

/* Room for one line of error description, NUL included */
#define VS_TUN_ERRMSG_MAX	160

#define VS_TUN_ERROR (vs_tun_error_quark())
GQuark vs_tun_error_quark(void);

/* Who may send a message type on a stream (the session layer checks it) */
enum vs_tun_dir {
	VS_TUN_DIR_BOTH,	/* handshake, EXPECT, PING/PONG, ERROR */
	VS_TUN_DIR_SRC_TO_DST,	/* VM_OPEN, FRAME(_TIMES), BARRIER, ABORT, END,
				 * SOURCE_BARRIER, CONNS */
	VS_TUN_DIR_DST_TO_SRC,	/* VM_ACCEPT/REJECT, ACK, RESUMED, LIVE_SEEN,
				 * SOURCE_DIRECT */
};

/* HELLO extensions a shim knows, as bits of vs_tun_msg.u.hello.ext */
#define VS_TUN_HELLO_EXT_FRAME_TIMES	(1u << VS_TUN_EXT_FRAME_TIMES)
#define VS_TUN_HELLO_EXT_SOURCE_DIRECT	(1u << VS_TUN_EXT_SOURCE_DIRECT)
#define VS_TUN_HELLO_EXT_SOURCE_BARRIER	(1u << VS_TUN_EXT_SOURCE_BARRIER)
#define VS_TUN_HELLO_EXT_TCP_CONNS	(1u << VS_TUN_EXT_TCP_CONNS)
#define VS_TUN_HELLO_EXT_ALL		(VS_TUN_HELLO_EXT_FRAME_TIMES | \
					 VS_TUN_HELLO_EXT_SOURCE_DIRECT | \
					 VS_TUN_HELLO_EXT_SOURCE_BARRIER | \
					 VS_TUN_HELLO_EXT_TCP_CONNS)

/**
 * struct vs_tun_msg - one decoded (or to-be-encoded) message
 * @type:	enum vs_tun_type; VS_TUN_MSG_NONE when the decoder has none
 * @u:		the body of @type; names and text are NUL-terminated copies
 *
 * @u.frame.data points into the decoder's buffer or into the bytes the
 * caller passed to vs_tun_decoder_feed(): it is valid until the next
 * vs_tun_decoder_feed() or vs_tun_decoder_init() on that decoder, and only
 * while the caller's bytes are unchanged.  Copy the frame to keep it.  When
 * encoding, it is the caller's frame.
 */
struct vs_tun_msg {
	enum vs_tun_type type;
	union {
		struct {
			uint16_t version;
			uint16_t compat_version;
			uint8_t role;		/* enum vs_tun_role */
			uint8_t nonce[VS_TUN_NONCE_LEN];
			char name[VS_TUN_NODE_NAME_MAX + 1];
			uint32_t ext;		/* VS_TUN_HELLO_EXT_* the sender offers */
		} hello;
		struct {
			uint8_t mac[VS_TUN_MAC_LEN];
		} auth;
		struct {
			uint32_t stream_id;
			uint8_t mac[VS_TUN_ETH_ALEN];
			char name[VS_TUN_VM_NAME_MAX + 1];
			uint64_t first_seq;
		} vm_open;
		struct {
			uint32_t stream_id;
			uint64_t next_expected_seq;
		} vm_accept;
		struct {
			uint32_t stream_id;
			uint16_t reason;	/* enum vs_tun_reject, or unknown */
		} vm_reject;
		struct {
			uint32_t stream_id;
			uint64_t seq;
			uint8_t origin;		/* enum vs_tun_origin */
			const uint8_t *data;
			size_t len;
			/* FRAME_TIMES only (FRAME: 0) */
			uint32_t age_us;
			uint64_t sent_us;
		} frame;
		struct {
			uint32_t stream_id;
			uint64_t seq;
		} ack;
		/* RESUMED, LIVE_SEEN, ABORT */
		struct {
			uint32_t stream_id;
		} stream;
		/* BARRIER: last_seq_before_barrier; END: last_seq */
		struct {
			uint32_t stream_id;
			uint64_t last_seq;
		} stream_seq;
		struct {
			uint8_t mac[VS_TUN_ETH_ALEN];
			char name[VS_TUN_VM_NAME_MAX + 1];
		} expect;
		struct {
			uint32_t stream_id;
			uint8_t af;		/* enum vs_tun_src_af */
			uint8_t addr[16];
		} source_direct;
		struct {
			uint32_t stream_id;
			uint64_t last_seq;	/* 0: no frame before it */
			uint8_t af;		/* enum vs_tun_src_af */
			uint8_t addr[16];
		} source_barrier;
		/* CONNS: @count records in the wire layout (struct
		 * vs_tun_wire_conn) at @recs, read with vs_tun_conns_get();
		 * like a frame's data, it points into the decoder's bytes
		 * (decoded) or the caller's (to encode) */
		struct {
			uint32_t stream_id;
			uint16_t count;
			const uint8_t *recs;
		} conns;
		/* PING, PONG */
		struct {
			uint64_t token;
		} ping;
		struct {
			uint16_t code;		/* enum vs_tun_err, or unknown */
			char text[VS_TUN_ERROR_TEXT_MAX + 1];
		} error;
	} u;
};

/**
 * vs_tun_err_str() - name of an error code
 * @err:	enum vs_tun_err, or any ERROR code received from a peer
 *
 * Return: a static string such as "BAD_LENGTH"; "UNKNOWN" if out of range
 */
const char *vs_tun_err_str(unsigned int err);

/**
 * vs_tun_type_name() - name of a message type
 * @type:	enum vs_tun_type or any header byte
 *
 * Return: a static string such as "FRAME"; "UNKNOWN" if out of range
 */
const char *vs_tun_type_name(unsigned int type);

/**
 * vs_tun_type_dir() - who may send a message type
 * @type:	enum vs_tun_type
 *
 * Return: its direction; VS_TUN_DIR_BOTH for types not on a stream
 */
enum vs_tun_dir vs_tun_type_dir(unsigned int type);

/**
 * vs_tun_reject_str() - name of a VM_REJECT reason
 * @reason:	enum vs_tun_reject or any received value
 *
 * Return: a static string such as "UNKNOWN_VM"; "UNKNOWN" if out of range
 */
const char *vs_tun_reject_str(unsigned int reason);

/**
 * vs_tun_node_name_valid() - check a node (host) name for HELLO
 * @name:	NUL-terminated string, may be NULL
 *
 * Return: true if 1..VS_TUN_NODE_NAME_MAX characters of [A-Za-z0-9._-]
 */
bool vs_tun_node_name_valid(const char *name);

/**
 * vs_tun_vm_name_valid() - check a VM (port) name for VM_OPEN/EXPECT
 * @name:	NUL-terminated string, may be NULL
 *
 * Return: true if 1..VS_TUN_VM_NAME_MAX characters of [A-Za-z0-9_-]
 */
bool vs_tun_vm_name_valid(const char *name);

/**
 * vs_tun_source_addr_ok() - check a SOURCE_DIRECT or SOURCE_BARRIER address
 * @af:		enum vs_tun_src_af, or any received value
 * @addr:	16 bytes
 *
 * Return: true if @af is known and, for IPv4, bytes 4..15 are zero
 */
bool vs_tun_source_addr_ok(uint8_t af, const uint8_t addr[16]);

/* ---- Encoding ---------------------------------------------------------- */

/**
 * vs_tun_encoded_len() - wire size of a message
 * @msg:	message; every field is checked as a decoder would
 *
 * Return: bytes including the header, or 0 if @msg is not a valid message
 */
size_t vs_tun_encoded_len(const struct vs_tun_msg *msg);

/**
 * vs_tun_encode_buf() - encode a message into a caller's buffer
 * @buf:	output
 * @size:	bytes available at @buf
 * @msg:	message
 *
 * Return: bytes written, or 0 (nothing written) if @msg is invalid or
 * does not fit in @size
 */
size_t vs_tun_encode_buf(uint8_t *buf, size_t size, const struct vs_tun_msg *msg);

/**
 * vs_tun_encode() - append a message to a byte array
 * @out:	output, grown as needed
 * @msg:	message
 *
 * Return: bytes appended, or 0 (nothing appended) if @msg is invalid
 */
size_t vs_tun_encode(GByteArray *out, const struct vs_tun_msg *msg);

/**
 * vs_tun_encode_frame_head() - header and fixed part of a FRAME, so that the
 * caller can send the frame bytes from where they are (writev) without a copy
 * @head:	output, VS_TUN_FRAME_HEAD_LEN bytes
 * @stream_id:	stream, not 0
 * @seq:	1..VS_TUN_SEQ_MAX
 * @origin:	enum vs_tun_origin
 * @frame_len:	VS_TUN_MIN_FRAME..VS_TUN_MAX_FRAME bytes that follow
 *
 * Return: VS_TUN_FRAME_HEAD_LEN, or 0 (nothing written) if an argument is
 * out of range
 */
size_t vs_tun_encode_frame_head(uint8_t *head, uint32_t stream_id, uint64_t seq,
				uint8_t origin, size_t frame_len);

/*
 * One helper per message type: each builds the struct vs_tun_msg and calls
 * vs_tun_encode().  Return: bytes appended to @out, or 0 (nothing appended)
 * if an argument is out of range.
 */
size_t vs_tun_encode_hello(GByteArray *out, enum vs_tun_role role,
			   const uint8_t nonce[VS_TUN_NONCE_LEN], const char *name);
/* HELLO with the extensions of @ext (VS_TUN_HELLO_EXT_*) */
size_t vs_tun_encode_hello_ext(GByteArray *out, enum vs_tun_role role,
			       const uint8_t nonce[VS_TUN_NONCE_LEN], const char *name,
			       uint32_t ext);
size_t vs_tun_encode_auth(GByteArray *out, const uint8_t mac[VS_TUN_MAC_LEN]);
size_t vs_tun_encode_vm_open(GByteArray *out, uint32_t stream_id,
			     const uint8_t mac[VS_TUN_ETH_ALEN], const char *name,
			     uint64_t first_seq);
size_t vs_tun_encode_vm_accept(GByteArray *out, uint32_t stream_id, uint64_t next_expected_seq);
size_t vs_tun_encode_vm_reject(GByteArray *out, uint32_t stream_id, enum vs_tun_reject reason);
size_t vs_tun_encode_frame(GByteArray *out, uint32_t stream_id, uint64_t seq,
			   enum vs_tun_origin origin, const uint8_t *frame, size_t len);

/**
 * vs_tun_encode_frame_times() - append a FRAME_TIMES (only to a peer whose
 * HELLO offered VS_TUN_HELLO_EXT_FRAME_TIMES)
 * @out:	buffer to append to
 * @stream_id:	stream, != 0
 * @seq:	1..VS_TUN_SEQ_MAX
 * @origin:	blackout or straggler
 * @age_us:	microseconds from the frame's arrival here to @sent_us
 * @sent_us:	our monotonic clock now, in microseconds
 * @frame:	the frame
 * @len:	VS_TUN_MIN_FRAME..VS_TUN_MAX_FRAME
 *
 * Return: bytes appended, 0 (nothing appended) if an argument is invalid
 */
size_t vs_tun_encode_frame_times(GByteArray *out, uint32_t stream_id, uint64_t seq,
				 enum vs_tun_origin origin, uint32_t age_us, uint64_t sent_us,
				 const uint8_t *frame, size_t len);
size_t vs_tun_encode_ack(GByteArray *out, uint32_t stream_id, uint64_t seq);
size_t vs_tun_encode_resumed(GByteArray *out, uint32_t stream_id);
size_t vs_tun_encode_live_seen(GByteArray *out, uint32_t stream_id);

/**
 * vs_tun_encode_source_direct() - append a SOURCE_DIRECT (only to a peer
 * whose HELLO offered VS_TUN_HELLO_EXT_SOURCE_DIRECT)
 * @out:	buffer
 * @stream_id:	the stream (not 0)
 * @af:		enum vs_tun_src_af
 * @addr:	16 bytes; an IPv4 address in the first 4, the rest zero
 *
 * Return: bytes appended, 0 if a field is invalid (nothing appended)
 */
size_t vs_tun_encode_source_direct(GByteArray *out, uint32_t stream_id, uint8_t af,
				   const uint8_t addr[16]);

/**
 * vs_tun_encode_source_barrier() - append a SOURCE_BARRIER (only to a peer
 * whose HELLO offered VS_TUN_HELLO_EXT_SOURCE_BARRIER)
 * @out:	buffer
 * @stream_id:	the stream (not 0)
 * @last_seq:	seq of the last frame pushed before it, 0..VS_TUN_SEQ_MAX
 * @af:		enum vs_tun_src_af
 * @addr:	16 bytes; an IPv4 address in the first 4, the rest zero
 *
 * Return: bytes appended, 0 if a field is invalid (nothing appended)
 */
size_t vs_tun_encode_source_barrier(GByteArray *out, uint32_t stream_id, uint64_t last_seq,
				    uint8_t af, const uint8_t addr[16]);

/**
 * struct vs_tun_conn - one record of a CONNS, in host byte order (the
 * fields of struct vs_tun_wire_conn, which documents them)
 */
struct vs_tun_conn {
	uint8_t af;
	uint8_t n_tags;
	uint16_t flags;
	uint8_t vm_addr[16];
	uint8_t peer_addr[16];
	uint16_t vm_port;
	uint16_t peer_port;
	uint8_t vm_mac[6];
	uint8_t peer_mac[6];
	uint16_t tags[VS_TUN_CONN_MAX_TAGS][2];
	uint16_t vm_win;
	uint16_t peer_win;
	uint32_t vm_nxt;
	uint32_t vm_ack;
	uint32_t peer_nxt;
	uint32_t peer_ack;
	uint32_t vm_tsval;
	uint32_t peer_tsval;
};

/**
 * vs_tun_conn_check() - is a CONNS record valid: af 4 or 6 with an IPv4
 * address's bytes past its 4 zero (both addresses), at most
 * VS_TUN_CONN_MAX_TAGS tags and the unused ones zero, no flag outside
 * VS_TUN_CONN_FLAGS, a unicast VM MAC that is not all zeroes
 * @c:		record
 *
 * Return: NULL if valid, else what is wrong (a static string)
 */
const char *vs_tun_conn_check(const struct vs_tun_conn *c);

/**
 * vs_tun_encode_conns() - append a CONNS of @n records (only to a peer
 * whose HELLO offered VS_TUN_HELLO_EXT_TCP_CONNS)
 * @out:	buffer
 * @stream_id:	the stream (not 0)
 * @conns:	records, each valid (vs_tun_conn_check())
 * @n:		1..VS_TUN_CONNS_MAX
 *
 * Return: bytes appended, 0 if a field is invalid (nothing appended)
 */
size_t vs_tun_encode_conns(GByteArray *out, uint32_t stream_id, const struct vs_tun_conn *conns,
			   size_t n);

/**
 * vs_tun_conns_get() - record @i of a decoded CONNS
 * @m:		a CONNS the decoder returned (every record checked)
 * @i:		0..m->u.conns.count - 1
 * @c:		the record, host byte order
 */
void vs_tun_conns_get(const struct vs_tun_msg *m, size_t i, struct vs_tun_conn *c);

size_t vs_tun_encode_barrier(GByteArray *out, uint32_t stream_id, uint64_t last_seq_before_barrier);
size_t vs_tun_encode_abort(GByteArray *out, uint32_t stream_id);
size_t vs_tun_encode_end(GByteArray *out, uint32_t stream_id, uint64_t last_seq);
size_t vs_tun_encode_expect(GByteArray *out, const uint8_t mac[VS_TUN_ETH_ALEN],
			    const char *name);
size_t vs_tun_encode_ping(GByteArray *out, uint64_t token);
size_t vs_tun_encode_pong(GByteArray *out, uint64_t token);

/**
 * vs_tun_encode_error() - append an ERROR message; unlike the other
 * helpers it never refuses: @text is cut to VS_TUN_ERROR_TEXT_MAX bytes and
 * bytes outside printable ASCII become '?', because this is what a shim
 * sends on its way out, often with a peer-influenced description
 * @out:	output
 * @code:	enum vs_tun_err
 * @text:	description, may be NULL
 *
 * Return: bytes appended
 */
size_t vs_tun_encode_error(GByteArray *out, enum vs_tun_err code, const char *text);

/* ---- Decoding ---------------------------------------------------------- */

/**
 * struct vs_tun_decoder - incremental message decoder of one connection
 * @err:	VS_TUN_OK while usable; the first error, for good, otherwise
 * @errmsg:	one-line description of @err
 * @in_body:	the header in @buf is validated, @need is the message size
 * @have:	bytes of the current message in @buf
 * @need:	bytes of the current message (the header until @in_body)
 * @msgs:	messages decoded so far
 * @buf:	the current message, when it arrives in pieces
 */
struct vs_tun_decoder {
	enum vs_tun_err err;
	char errmsg[VS_TUN_ERRMSG_MAX];
	bool in_body;
	size_t have;
	size_t need;
	uint64_t msgs;
	uint8_t buf[VS_TUN_MAX_WIRE];
};

/**
 * vs_tun_decoder_init() - (re)start a decoder on a new connection
 * @d:		decoder
 */
void vs_tun_decoder_init(struct vs_tun_decoder *d);

/**
 * vs_tun_decoder_feed() - consume bytes up to the end of one message
 * @d:		decoder
 * @data:	bytes received, any amount, split anywhere
 * @len:	bytes at @data
 * @consumed:	output: bytes of @data used; less than @len only when a
 *		message is returned (call again with the rest) or on error
 * @msg:	output: the message, or type VS_TUN_MSG_NONE if @data ended
 *		before one was complete (see struct vs_tun_msg for how long
 *		@msg->u.frame.data stays valid)
 *
 * Loop: while (len) { err = feed(d, p, len, &n, &msg); p += n; len -= n;
 * if (err) close; if (msg.type) handle(&msg); }
 *
 * Return: VS_TUN_OK, or the error that killed the decoder (every later call
 * returns it again); vs_tun_decoder_errmsg() describes it
 */
enum vs_tun_err vs_tun_decoder_feed(struct vs_tun_decoder *d, const void *data, size_t len,
				    size_t *consumed, struct vs_tun_msg *msg);

/**
 * vs_tun_decoder_eof() - the peer closed its side: is that clean?
 * @d:		decoder; killed with VS_TUN_ERR_TRUNCATED_STREAM if a message
 *		was cut short
 *
 * Return: VS_TUN_OK at a message boundary, otherwise the decoder's error
 */
enum vs_tun_err vs_tun_decoder_eof(struct vs_tun_decoder *d);

/**
 * vs_tun_decoder_errmsg() - description of the decoder's error
 * @d:		decoder
 *
 * Return: a one-line string owned by @d; "" while there is no error
 */
const char *vs_tun_decoder_errmsg(const struct vs_tun_decoder *d);

/* ---- Sequence numbers -------------------------------------------------- */

enum vs_tun_seq_verdict {
	VS_TUN_SEQ_NEW,		/* seq == next expected: deliver, advance */
	VS_TUN_SEQ_DUPLICATE,	/* seq < next expected: a resend, drop it */
	VS_TUN_SEQ_GAP,		/* seq > next expected: protocol error */
};

/**
 * vs_tun_seq_check() - what a destination does with a FRAME's seq
 * @next_expected: the stream's next expected seq (>= 1)
 * @seq:	the FRAME's seq
 *
 * Return: the verdict (TCP keeps order, so a gap is a sender bug)
 */
enum vs_tun_seq_verdict vs_tun_seq_check(uint64_t next_expected, uint64_t seq);

/* ---- The first bytes of a connection ------------------------------------ */

/**
 * enum vs_tun_sniff - what a connection's first bytes are
 * @VS_TUN_SNIFF_MORE:	too few bytes to tell; nothing seen so far rules
 *			either out (wait for more, up to VS_TUN_SNIFF_LEN)
 * @VS_TUN_SNIFF_TLS:	a TLS handshake record (0x16 0x03): version 2
 * @VS_TUN_SNIFF_V1:	a version-1 HELLO in clear (length, type HELLO,
 *			flags and reserved 0, magic): an old shim
 * @VS_TUN_SNIFF_OTHER:	neither
 */
enum vs_tun_sniff {
	VS_TUN_SNIFF_MORE,
	VS_TUN_SNIFF_TLS,
	VS_TUN_SNIFF_V1,
	VS_TUN_SNIFF_OTHER,
	VS_TUN_NUM_SNIFFS
};

/**
 * vs_tun_sniff() - tell a TLS ClientHello from a version-1 HELLO in clear
 * @buf:	the first bytes the peer sent
 * @len:	their number; bytes past VS_TUN_SNIFF_LEN are ignored
 *
 * Return: the verdict; a longer prefix of the same bytes never changes a
 * verdict other than VS_TUN_SNIFF_MORE
 */
enum vs_tun_sniff vs_tun_sniff(const uint8_t *buf, size_t len);

/**
 * vs_tun_sniff_str() - a verdict for log lines
 * @s:		verdict
 *
 * Return: a static string
 */
const char *vs_tun_sniff_str(enum vs_tun_sniff s);

/* ---- Handshake --------------------------------------------------------- */

/**
 * enum vs_tun_auth_state - where a connection is in the handshake
 * @VS_TUN_AUTH_INIT:	initialised; vs_tun_auth_start() sends our HELLO.
 *	No peer message is accepted yet.
 * @VS_TUN_AUTH_HELLO_SENT: our HELLO is out; only the peer's HELLO (or an
 *	ERROR) is accepted.  Its version, role, nonce and name are checked.
 * @VS_TUN_AUTH_AUTH_SENT: the peer's HELLO was good and our AUTH is out;
 *	only the peer's AUTH (or an ERROR) is accepted.
 * @VS_TUN_AUTH_AUTHENTICATED: the peer's AUTH verified.  Every message
 *	except HELLO and AUTH goes to the caller.
 * @VS_TUN_AUTH_FAILED:	terminal; every call returns the stored error and
 *	the caller closes the connection.
 */
enum vs_tun_auth_state {
	VS_TUN_AUTH_INIT,
	VS_TUN_AUTH_HELLO_SENT,
	VS_TUN_AUTH_AUTH_SENT,
	VS_TUN_AUTH_AUTHENTICATED,
	VS_TUN_AUTH_FAILED,
	VS_TUN_AUTH_NUM_STATES
};

extern const char *const vs_tun_auth_state_names[VS_TUN_AUTH_NUM_STATES];

/**
 * struct vs_tun_auth - handshake state of one connection
 * @state:	change it only through the module's setter
 * @err:	why the state is FAILED
 * @errmsg:	one-line description of @err
 * @role:	our role: initiator if we opened the connection
 * @my_version: version we announce (VS_TUN_VERSION; tests may set another
 *		before vs_tun_auth_start() to play an older or newer peer)
 * @my_compat:	compat_version we announce (VS_TUN_COMPAT_VERSION)
 * @version:	negotiated: min(ours, peer's); valid once AUTHENTICATED
 * @psk/@psk_len: the pre-shared key; wiped by vs_tun_auth_clear()
 * @my_nonce/@my_name: what our HELLO carries
 * @peer_nonce/@peer_name/@peer_version/@peer_compat: from the peer's HELLO;
 *		@peer_name is authenticated only once AUTHENTICATED
 * @my_ext:	HELLO extensions we offer (VS_TUN_HELLO_EXT_*; 0 after init,
 *		set it before vs_tun_auth_start())
 * @peer_ext:	the extensions the peer's HELLO offered
 */
struct vs_tun_auth {
	enum vs_tun_auth_state state;
	enum vs_tun_err err;
	char errmsg[VS_TUN_ERRMSG_MAX];
	enum vs_tun_role role;
	uint16_t my_version;
	uint16_t my_compat;
	uint16_t version;
	uint8_t psk[VS_TUN_PSK_MAX];
	size_t psk_len;
	uint8_t my_nonce[VS_TUN_NONCE_LEN];
	char my_name[VS_TUN_NODE_NAME_MAX + 1];
	uint8_t peer_nonce[VS_TUN_NONCE_LEN];
	char peer_name[VS_TUN_NODE_NAME_MAX + 1];
	uint16_t peer_version;
	uint16_t peer_compat;
	uint32_t my_ext;
	uint32_t peer_ext;
};

/**
 * vs_tun_auth_init() - prepare the handshake of one connection
 * @a:		state, overwritten
 * @role:	VS_TUN_ROLE_INITIATOR if we connected, else RESPONDER
 * @psk:	pre-shared key, VS_TUN_PSK_MIN..VS_TUN_PSK_MAX bytes (copied)
 * @psk_len:	bytes at @psk
 * @my_name:	our node name (vs_tun_node_name_valid())
 * @nonce:	VS_TUN_NONCE_LEN fresh random bytes (vs_tun_random_nonce());
 *		a parameter so that tests are deterministic.  Never reuse one.
 *
 * Return: VS_TUN_OK; VS_TUN_ERR_BAD_KEY, VS_TUN_ERR_BAD_NAME or
 * VS_TUN_ERR_BAD_FIELD (role) with @a FAILED if an argument is unusable
 */
enum vs_tun_err vs_tun_auth_init(struct vs_tun_auth *a, enum vs_tun_role role,
				 const uint8_t *psk, size_t psk_len, const char *my_name,
				 const uint8_t nonce[VS_TUN_NONCE_LEN]);

/**
 * vs_tun_auth_start() - send our HELLO: INIT -> HELLO_SENT
 * @a:		state
 * @out:	our HELLO is appended here
 *
 * Return: VS_TUN_OK, or VS_TUN_ERR_UNEXPECTED if not in INIT (nothing sent)
 */
enum vs_tun_err vs_tun_auth_start(struct vs_tun_auth *a, GByteArray *out);

/**
 * vs_tun_auth_consume() - pass every decoded message through the handshake
 * @a:		state
 * @msg:	a message from the peer
 * @out:	our AUTH is appended here when @msg is the peer's HELLO
 * @deliver:	output: true if the caller must handle @msg itself (any
 *		message but HELLO/AUTH once AUTHENTICATED, and a peer's ERROR
 *		at any time, so it can be logged before closing)
 *
 * The peer's HELLO is accepted if its magic was right (decoder), its role
 * is the opposite of ours, its nonce and name differ from ours, and
 * peer.version >= my_compat and my_version >= peer.compat_version
 * (peer.compat_version <= peer.version).  Its AUTH is compared in constant
 * time with HMAC-SHA256(psk, transcript) as in docs/tunnel-protocol.md.
 *
 * Return: VS_TUN_OK, or the error that moved @a to FAILED (BAD_VERSION,
 * REFLECTED, AUTH_FAIL, UNEXPECTED, NOT_AUTHENTICATED); described by
 * vs_tun_auth_errmsg()
 */
enum vs_tun_err vs_tun_auth_consume(struct vs_tun_auth *a, const struct vs_tun_msg *msg,
				    GByteArray *out, bool *deliver);

/**
 * vs_tun_auth_errmsg() - description of the handshake's error
 * @a:		state
 *
 * Return: a one-line string owned by @a; "" while there is no error
 */
const char *vs_tun_auth_errmsg(const struct vs_tun_auth *a);

/**
 * vs_tun_auth_clear() - wipe the key and nonces; @a is FAILED afterwards
 * @a:		state
 */
void vs_tun_auth_clear(struct vs_tun_auth *a);

/**
 * vs_tun_load_psk() - read the tunnel's pre-shared key file
 * @path:	file holding the key as hexadecimal digits (upper or lower
 *		case), surrounding whitespace ignored: 32..128 digits, an
 *		even number, e.g. from `openssl rand -hex 32`
 * @psk:	output, VS_TUN_PSK_MAX bytes
 * @len:	output: key bytes (VS_TUN_PSK_MIN..VS_TUN_PSK_MAX)
 * @error:	why the key is refused: unreadable, not a regular file,
 *		accessible by group or others (chmod 600), larger than
 *		VS_TUN_PSK_FILE_MAX, not hex, too short or too long
 *
 * Return: TRUE on success; FALSE with @error set and @psk wiped
 */
gboolean vs_tun_load_psk(const char *path, uint8_t *psk, size_t *len, GError **error);

/**
 * vs_tun_random_nonce() - fill a HELLO nonce from the kernel's CSPRNG
 * @nonce:	output, VS_TUN_NONCE_LEN bytes
 * @error:	set if getrandom() fails
 *
 * Return: TRUE on success
 */
gboolean vs_tun_random_nonce(uint8_t *nonce, GError **error);

#endif /* VS_TUNNEL_PROTO_H */
