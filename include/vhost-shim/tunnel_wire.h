/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_wire.h - wire format of the shim-to-shim migration tunnel, version 2
 *
 * Theory of operation: two shims exchange a stream of messages over one TCP
 * connection, inside a TLS 1.3 session (version 2; version 1 sent them in
 * clear without TLS, or inside TLS with certificates).  Every message is a fixed 8-byte header (struct
 * vs_tun_wire_hdr) followed by a body whose layout depends on the type.  All
 * integers are unsigned and in network byte order (big-endian); there is no
 * padding and no alignment: the structs below are packed and their sizes are
 * pinned by static_assert, so they are the normative layout together with
 * docs/tunnel-protocol.md.  Variable-length fields (names, frame bytes,
 * error text) are length-prefixed or run to the end of the body; the fixed
 * parts before and after them are the structs named in each comment.
 *
 * The TLS session authenticates both ends (an external pre-shared key with
 * ECDHE, or certificates from one CA) and protects every byte after its
 * handshake: a record changed, spliced in or replayed on the way ends the
 * connection.  Inside it, the connection opens with a mutual HMAC-SHA256
 * handshake (HELLO, then AUTH, each way) keyed by the session's exporter,
 * which names the two nodes and binds them to this session; nothing else
 * is accepted before it completes.  Then the source shim opens one stream per migrating VM
 * (VM_OPEN/VM_ACCEPT) and sends numbered FRAMEs the destination acknowledges
 * cumulatively, so a broken connection resumes without loss or duplicates.
 *
 * This header is shared with tests and tools: it has no dependency beyond
 * the C library.  The codec and the handshake live in tunnel_proto.[ch].
 *
 * Security consideration: every length below is a hard limit that a
 * receiver enforces before it buffers or copies anything; a peer that
 * exceeds one is disconnected (see enum vs_tun_err).
 */
#ifndef VHOST_SHIM_TUNNEL_WIRE_H
#define VHOST_SHIM_TUNNEL_WIRE_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* "VSHT": first field of HELLO, tells a shim tunnel from anything else */
#define VS_TUN_MAGIC		0x56534854u
/*
 * Version this code speaks, and the oldest version it can talk to.  Version
 * 2 runs every connection inside TLS 1.3; version 1 sent frames in clear in
 * pre-shared-key mode, so a version-2 shim refuses it (docs/tunnel-protocol.md,
 * "Versions").
 */
#define VS_TUN_VERSION		2
#define VS_TUN_COMPAT_VERSION	2

/*
 * TLS (version 2): the identity of the external pre-shared key (RFC 8446,
 * 4.2.11; one key shared by the shims, so one identity), and the RFC 9266
 * "tls-exporter" channel binding that keys the AUTH.
 */
#define VS_TUN_TLS_PSK_IDENTITY		"vhost-shim"
#define VS_TUN_TLS_EXPORTER_LABEL	"EXPORTER-Channel-Binding"
#define VS_TUN_TLS_EXPORTER_LEN		32

/*
 * Telling the first bytes of a connection apart (vs_tun_sniff()): a TLS
 * ClientHello is a handshake record, 0x16 0x03 ...; a version-1 shim in
 * pre-shared-key mode opens with a HELLO in clear: a 4-byte length, type 1,
 * flags and reserved 0, then the magic.  VS_TUN_SNIFF_LEN bytes tell them
 * apart for certain.
 */
#define VS_TUN_TLS_RECORD_HANDSHAKE	0x16
#define VS_TUN_TLS_RECORD_VERSION_MAJOR	0x03
#define VS_TUN_SNIFF_LEN		12

#define VS_TUN_NONCE_LEN	32	/* HELLO nonce, fresh per connection */
#define VS_TUN_MAC_LEN		32	/* HMAC-SHA256 output */
#define VS_TUN_ETH_ALEN		6

/*
 * HMAC domain-separation label, first (length-prefixed) item of the AUTH
 * input; the "v1" names the construction, not the negotiated version.
 */
#define VS_TUN_AUTH_LABEL	"vhost-shim tunnel v1"
#define VS_TUN_AUTH_LABEL_LEN	20

/* Security consideration: names reach log lines and lookups, so they are
 * short and drawn from a small alphabet.  Node (host) names: [A-Za-z0-9._-];
 * VM names: [A-Za-z0-9_-], the port names of config.h (VS_NAME_MAX). */
#define VS_TUN_NODE_NAME_MAX	63
#define VS_TUN_VM_NAME_MAX	15

/*
 * Security consideration: a HELLO may carry up to this many bytes after the
 * node name.  Versions 1 and 2 send none and ignore them, so that a later
 * version can extend HELLO and still be understood well enough to negotiate
 * (or be refused with BAD_VERSION instead of BAD_LENGTH).
 */
#define VS_TUN_HELLO_EXT_MAX	64

/*
 * HELLO extensions: a list of (u8 tag, u8 len, len bytes) up to the end of
 * the body.  Unknown tags are skipped; an item that runs past the body is
 * TRUNCATED_BODY.  Each is a capability of its sender: both sides must send
 * it before either uses what it offers.
 * @VS_TUN_EXT_FRAME_TIMES: len 0: "send me FRAME_TIMES instead of FRAME"
 *		(the frames' arrival times, for the duplicate filter)
 * @VS_TUN_EXT_SOURCE_DIRECT: len 0: "I understand SOURCE_DIRECT" (the
 *		per-source straggler switch, docs/migration.md)
 * @VS_TUN_EXT_SOURCE_BARRIER: len 0: "I understand SOURCE_BARRIER" (the
 *		per-source order after that switch; offered only with
 *		source-direct)
 * @VS_TUN_EXT_TCP_CONNS: len 0: "I understand CONNS" (the VM's TCP
 *		connection table, for validated resets at the destination)
 */
#define VS_TUN_EXT_FRAME_TIMES	1
#define VS_TUN_EXT_SOURCE_DIRECT 2
#define VS_TUN_EXT_SOURCE_BARRIER 3
#define VS_TUN_EXT_TCP_CONNS	4

/*
 * Security consideration: the largest Ethernet frame (destination MAC to end
 * of payload, no FCS) a FRAME may carry.  9216 is the largest frame common
 * data-centre switches forward: a 9000-byte jumbo MTU plus the Ethernet
 * header and two VLAN tags fits with room to spare.  The vhost ports
 * negotiate no GSO/TSO/UFO (vhost_port.c), so no larger frame can reach a
 * buffer; anything bigger is a broken or hostile peer.  A receiver holds
 * each frame to its port's own limit too (its mtu plus 18 bytes, at most
 * 9018): a larger one is dropped and counted oversize, the stream goes on
 * (handover_tun.c).
 */
#define VS_TUN_MIN_FRAME	14	/* an Ethernet header */
#define VS_TUN_MAX_FRAME	9216

/* Security consideration: ERROR text is logged; it is short and printable */
#define VS_TUN_ERROR_TEXT_MAX	128

/*
 * Sequence numbers count one VM's frames from 1.  They stay below 2^63 so
 * that "next expected" (last + 1) and differences never overflow; 0 means
 * "none yet" where a field may be empty (ACK, BARRIER, END).
 */
#define VS_TUN_SEQ_MAX		INT64_MAX

/**
 * enum vs_tun_type - message types (header byte 4)
 * @VS_TUN_MSG_NONE:	not a wire value; "no message" in decoder output
 * @VS_TUN_MSG_HELLO:	both ways, first message: magic, versions, role,
 *			nonce, node name
 * @VS_TUN_MSG_AUTH:	both ways, after the peer's HELLO: HMAC proof of
 *			the pre-shared key
 * @VS_TUN_MSG_VM_OPEN:	source -> destination: start or resume a VM's stream
 * @VS_TUN_MSG_VM_ACCEPT: destination -> source: resend from next_expected_seq
 * @VS_TUN_MSG_VM_REJECT: destination -> source: no stream, with a reason
 * @VS_TUN_MSG_FRAME:	source -> destination: one buffered or straggler frame
 * @VS_TUN_MSG_ACK:	destination -> source: all seq <= this received
 * @VS_TUN_MSG_RESUMED:	destination -> source: the VM runs at the destination
 * @VS_TUN_MSG_LIVE_SEEN: destination -> source: first live frame seen here
 * @VS_TUN_MSG_BARRIER:	source -> destination: stragglers before LIVE_SEEN
 *			end at last_seq
 * @VS_TUN_MSG_ABORT:	source -> destination: migration failed, drop the copy
 * @VS_TUN_MSG_END:	source -> destination: straggler forwarding is over
 * @VS_TUN_MSG_EXPECT:	both ways: "I am the destination of this VM"
 * @VS_TUN_MSG_PING:	both ways: keepalive, answered by PONG
 * @VS_TUN_MSG_PONG:	both ways: echoes the PING token
 * @VS_TUN_MSG_ERROR:	both ways: error code and text, then the sender closes
 * @VS_TUN_MSG_FRAME_TIMES: source -> destination: FRAME with arrival times
 * @VS_TUN_MSG_SOURCE_DIRECT: destination -> source: frames from this source
 *			address now reach the destination directly
 * @VS_TUN_MSG_SOURCE_BARRIER: source -> destination: the stragglers of this
 *			source address the source will send end at last_seq
 * @VS_TUN_MSG_CONNS:	source -> destination: the VM's TCP connections, as
 *			the source's table knew them when the blackout began
 */
enum vs_tun_type {
	VS_TUN_MSG_NONE = 0,
	VS_TUN_MSG_HELLO = 1,
	VS_TUN_MSG_AUTH = 2,
	VS_TUN_MSG_VM_OPEN = 3,
	VS_TUN_MSG_VM_ACCEPT = 4,
	VS_TUN_MSG_VM_REJECT = 5,
	VS_TUN_MSG_FRAME = 6,
	VS_TUN_MSG_ACK = 7,
	VS_TUN_MSG_RESUMED = 8,
	VS_TUN_MSG_LIVE_SEEN = 9,
	VS_TUN_MSG_BARRIER = 10,
	VS_TUN_MSG_ABORT = 11,
	VS_TUN_MSG_END = 12,
	VS_TUN_MSG_EXPECT = 13,
	VS_TUN_MSG_PING = 14,
	VS_TUN_MSG_PONG = 15,
	VS_TUN_MSG_ERROR = 16,
	VS_TUN_MSG_FRAME_TIMES = 17,	/* only to a peer that sent VS_TUN_EXT_FRAME_TIMES */
	VS_TUN_MSG_SOURCE_DIRECT = 18,	/* only to a peer that sent VS_TUN_EXT_SOURCE_DIRECT */
	VS_TUN_MSG_SOURCE_BARRIER = 19,	/* only to a peer that sent VS_TUN_EXT_SOURCE_BARRIER */
	VS_TUN_MSG_CONNS = 20,		/* only to a peer that sent VS_TUN_EXT_TCP_CONNS */
	VS_TUN_NUM_TYPES
};

/* HELLO role: who opened the TCP connection */
enum vs_tun_role {
	VS_TUN_ROLE_INITIATOR = 0,
	VS_TUN_ROLE_RESPONDER = 1,
	VS_TUN_NUM_ROLES
};

/* FRAME origin: where the source shim got the frame */
enum vs_tun_origin {
	VS_TUN_ORIGIN_BLACKOUT = 0,	/* buffered while the VM was stopped */
	VS_TUN_ORIGIN_STRAGGLER = 1,	/* reached the source after the resume */
	VS_TUN_NUM_ORIGINS
};

/**
 * enum vs_tun_err - protocol errors, also the code of an ERROR message
 *
 * The values are part of the wire format (ERROR.code) and never change.  A
 * receiver accepts any code in an ERROR message, including ones it does not
 * know.  Every decoding error is fatal for the connection.
 */
enum vs_tun_err {
	VS_TUN_OK = 0,
	VS_TUN_ERR_BAD_LENGTH = 1,	/* header length impossible for the type */
	VS_TUN_ERR_TOO_LARGE = 2,	/* above VS_TUN_MAX_MSG or a field maximum */
	VS_TUN_ERR_BAD_TYPE = 3,	/* unknown message type */
	VS_TUN_ERR_RESERVED = 4,	/* flags or reserved field not zero */
	VS_TUN_ERR_TRUNCATED_BODY = 5,	/* an inner length runs past the body */
	VS_TUN_ERR_BAD_MAGIC = 6,	/* HELLO without "VSHT" */
	VS_TUN_ERR_BAD_VERSION = 7,	/* no common protocol version */
	VS_TUN_ERR_BAD_NAME = 8,	/* empty, too long, or bad characters */
	VS_TUN_ERR_BAD_FIELD = 9,	/* a value out of its range */
	VS_TUN_ERR_RUNT_FRAME = 10,	/* frame shorter than VS_TUN_MIN_FRAME */
	VS_TUN_ERR_TRUNCATED_STREAM = 11, /* connection closed inside a message */
	VS_TUN_ERR_UNEXPECTED = 12,	/* handshake message out of order */
	VS_TUN_ERR_NOT_AUTHENTICATED = 13, /* other message before the handshake */
	VS_TUN_ERR_AUTH_FAIL = 14,	/* the peer's AUTH does not verify */
	VS_TUN_ERR_REFLECTED = 15,	/* peer HELLO repeats our role/nonce/name */
	VS_TUN_ERR_BAD_KEY = 16,	/* local: pre-shared key unusable */
	VS_TUN_ERR_PROTOCOL = 17,	/* valid message breaking stream rules */
	VS_TUN_ERR_SHUTDOWN = 18,	/* the sender is shutting down */
	VS_TUN_ERR_TIMEOUT = 19,	/* handshake or keepalive timed out */
	VS_TUN_ERR_INTERNAL = 20,	/* the sender ran out of a resource */
	VS_TUN_NUM_ERRS
};

/* VM_REJECT reasons; a receiver accepts unknown values (treats as generic) */
enum vs_tun_reject {
	VS_TUN_REJECT_NONE = 0,		/* never sent: an accept (tunnel.h), or a
					 * received value this version does not know */
	VS_TUN_REJECT_UNKNOWN_VM = 1,	/* no port with this name here */
	VS_TUN_REJECT_NOT_EXPECTED = 2,	/* port exists, not armed as destination */
	VS_TUN_REJECT_BUSY = 3,		/* another stream feeds this VM */
	VS_TUN_REJECT_MAC_MISMATCH = 4,	/* name known, MAC differs */
	VS_TUN_REJECT_SEQ = 5,		/* first_seq beyond what was received */
	VS_TUN_REJECT_NO_RESOURCES = 6,	/* stream table or memory full */
	VS_TUN_NUM_REJECTS
};

/**
 * struct vs_tun_wire_hdr - starts every message
 * @len:	bytes after this field: 4 (type, flags, reserved) + body.
 *		VS_TUN_MIN_MSG <= len <= VS_TUN_MAX_MSG
 * @type:	enum vs_tun_type
 * @flags:	0 in versions 1 and 2
 * @reserved:	0
 */
struct vs_tun_wire_hdr {
	uint32_t len;
	uint8_t type;
	uint8_t flags;
	uint16_t reserved;
} __attribute__((packed));

/* Bytes of the header that @len does not count */
#define VS_TUN_LEN_FIELD	4
#define VS_TUN_HDR_LEN		8

/**
 * struct vs_tun_wire_hello - HELLO body, then name[name_len] (1..63 bytes),
 * then 0..VS_TUN_HELLO_EXT_MAX extension bytes (none in versions 1 and 2)
 * @magic:	VS_TUN_MAGIC
 * @version:	highest version the sender speaks
 * @compat_version: lowest version the sender can talk to
 * @role:	enum vs_tun_role
 * @nonce:	fresh random bytes, never reused
 * @name_len:	length of the sender's node name that follows
 */
struct vs_tun_wire_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t compat_version;
	uint8_t role;
	uint8_t nonce[VS_TUN_NONCE_LEN];
	uint8_t name_len;
} __attribute__((packed));

/* AUTH body: HMAC-SHA256 over the transcript, see docs/tunnel-protocol.md */
struct vs_tun_wire_auth {
	uint8_t mac[VS_TUN_MAC_LEN];
} __attribute__((packed));

/**
 * struct vs_tun_wire_vm_open - VM_OPEN body, then name[name_len] (1..15
 * bytes), then struct vs_tun_wire_seq (first_seq)
 * @stream_id:	chosen by the source, unique on this connection, not 0
 * @mac:	the VM's (unicast) MAC
 * @name_len:	length of the VM (port) name that follows
 */
struct vs_tun_wire_vm_open {
	uint32_t stream_id;
	uint8_t mac[VS_TUN_ETH_ALEN];
	uint8_t name_len;
} __attribute__((packed));

/* A bare sequence number: VM_OPEN's first_seq, after the name */
struct vs_tun_wire_seq {
	uint64_t seq;
} __attribute__((packed));

/**
 * struct vs_tun_wire_stream - RESUMED, LIVE_SEEN and ABORT body
 * @stream_id:	the stream (VM) the message is about
 */
struct vs_tun_wire_stream {
	uint32_t stream_id;
} __attribute__((packed));

/**
 * struct vs_tun_wire_stream_seq - VM_ACCEPT, ACK, BARRIER and END body
 * @stream_id:	the stream (VM) the message is about
 * @seq:	VM_ACCEPT: next_expected_seq (>= 1); ACK: cumulative, every
 *		seq <= it was received (0: none); BARRIER: last straggler
 *		seq sent before LIVE_SEEN arrived; END: last seq of the
 *		stream (0: none)
 */
struct vs_tun_wire_stream_seq {
	uint32_t stream_id;
	uint64_t seq;
} __attribute__((packed));

/**
 * struct vs_tun_wire_vm_reject - VM_REJECT body
 * @stream_id:	stream of the refused VM_OPEN
 * @reason:	enum vs_tun_reject
 */
struct vs_tun_wire_vm_reject {
	uint32_t stream_id;
	uint16_t reason;
} __attribute__((packed));

/**
 * struct vs_tun_wire_frame - FRAME body, then the frame (VS_TUN_MIN_FRAME ..
 * VS_TUN_MAX_FRAME bytes) up to the end of the body
 * @stream_id:	stream from VM_OPEN
 * @seq:	1..VS_TUN_SEQ_MAX, +1 per frame of the stream
 * @origin:	enum vs_tun_origin
 */
struct vs_tun_wire_frame {
	uint32_t stream_id;
	uint64_t seq;
	uint8_t origin;
} __attribute__((packed));

/**
 * struct vs_tun_wire_frame_times - FRAME_TIMES body, then the frame
 * (VS_TUN_MIN_FRAME .. VS_TUN_MAX_FRAME bytes) up to the end of the body
 * @stream_id:	stream from VM_OPEN
 * @seq:	1..VS_TUN_SEQ_MAX, +1 per frame of the stream
 * @origin:	enum vs_tun_origin
 * @age_us:	microseconds from the frame's arrival at the sender to @sent_us
 *		(saturates at 2^32 - 1)
 * @sent_us:	the sender's monotonic clock, in microseconds, when it wrote
 *		this message (any origin: only differences matter)
 */
struct vs_tun_wire_frame_times {
	uint32_t stream_id;
	uint64_t seq;
	uint8_t origin;
	uint32_t age_us;
	uint64_t sent_us;
} __attribute__((packed));

/* SOURCE_DIRECT and SOURCE_BARRIER address families (wire values, not AF_*) */
enum vs_tun_src_af {
	VS_TUN_SRC_AF_INET = 4,		/* IPv4: addr[0..3], addr[4..15] zero */
	VS_TUN_SRC_AF_INET6 = 6,	/* IPv6: addr[0..15] */
};

/**
 * struct vs_tun_wire_source_direct - SOURCE_DIRECT body
 * @stream_id:	the stream (VM) the report is about
 * @af:		enum vs_tun_src_af
 * @addr:	the source's IP address, network byte order
 */
struct vs_tun_wire_source_direct {
	uint32_t stream_id;
	uint8_t af;
	uint8_t addr[16];
} __attribute__((packed));

/**
 * struct vs_tun_wire_source_barrier - SOURCE_BARRIER body
 * @stream_id:	the stream (VM) the barrier is on
 * @last_seq:	seq of the last frame the source pushed before it (0: none)
 * @af:		enum vs_tun_src_af
 * @addr:	the source's IP address, network byte order (as SOURCE_DIRECT)
 */
struct vs_tun_wire_source_barrier {
	uint32_t stream_id;
	uint64_t last_seq;
	uint8_t af;
	uint8_t addr[16];
} __attribute__((packed));

/**
 * struct vs_tun_wire_conns - CONNS body, then @count struct vs_tun_wire_conn
 * @stream_id:	the stream (VM) whose connections these are
 * @count:	records that follow, 1..VS_TUN_CONNS_MAX
 */
struct vs_tun_wire_conns {
	uint32_t stream_id;
	uint16_t count;
} __attribute__((packed));

/* Security consideration: records per CONNS (a larger table takes several) */
#define VS_TUN_CONNS_MAX	64
/* VLAN tags a record may carry */
#define VS_TUN_CONN_MAX_TAGS	2

/* struct vs_tun_wire_conn.flags: which numbers are valid, what was seen */
#define VS_TUN_CONN_VM_SEQ	(1u << 0)	/* vm_nxt */
#define VS_TUN_CONN_VM_ACK	(1u << 1)	/* vm_ack */
#define VS_TUN_CONN_PEER_SEQ	(1u << 2)	/* peer_nxt */
#define VS_TUN_CONN_PEER_ACK	(1u << 3)	/* peer_ack */
#define VS_TUN_CONN_VM_FIN	(1u << 4)	/* the VM sent a FIN */
#define VS_TUN_CONN_PEER_FIN	(1u << 5)	/* the peer sent a FIN */
#define VS_TUN_CONN_VM_TS	(1u << 8)	/* vm_tsval */
#define VS_TUN_CONN_PEER_TS	(1u << 9)	/* peer_tsval */
#define VS_TUN_CONN_FLAGS	(VS_TUN_CONN_VM_SEQ | VS_TUN_CONN_VM_ACK | \
				 VS_TUN_CONN_PEER_SEQ | VS_TUN_CONN_PEER_ACK | \
				 VS_TUN_CONN_VM_FIN | VS_TUN_CONN_PEER_FIN | \
				 VS_TUN_CONN_VM_TS | VS_TUN_CONN_PEER_TS)

/**
 * struct vs_tun_wire_conn - one TCP connection of a CONNS (multi-byte
 * fields in network byte order, addresses as SOURCE_DIRECT's)
 * @af:		enum vs_tun_src_af, of both addresses
 * @n_tags:	VLAN tags the VM's frames carry, 0..VS_TUN_CONN_MAX_TAGS
 * @flags:	VS_TUN_CONN_*; no other bit
 * @vm_addr:	the VM's address
 * @peer_addr:	the peer's address
 * @vm_port:	the VM's TCP port
 * @peer_port:	the peer's TCP port
 * @vm_mac:	the VM's MAC (its frames' source)
 * @peer_mac:	where the VM's frames go (their destination)
 * @tags:	(TPID, TCI) of each tag, outermost first; unused ones zero
 * @vm_win:	the VM's last window field
 * @peer_win:	the peer's last window field
 * @vm_nxt:	the end of what the VM sent
 * @vm_ack:	the VM's acknowledgement
 * @peer_nxt:	the end of what the peer sent
 * @peer_ack:	the peer's acknowledgement
 * @vm_tsval:	the VM's last TSval
 * @peer_tsval:	the peer's last TSval
 */
struct vs_tun_wire_conn {
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
} __attribute__((packed));

/**
 * struct vs_tun_wire_expect - EXPECT body, then name[name_len] (1..15 bytes)
 * @mac:	the VM's (unicast) MAC
 * @name_len:	length of the VM name that follows
 */
struct vs_tun_wire_expect {
	uint8_t mac[VS_TUN_ETH_ALEN];
	uint8_t name_len;
} __attribute__((packed));

/* PING and PONG body: PONG echoes the token of the PING it answers */
struct vs_tun_wire_token {
	uint64_t token;
} __attribute__((packed));

/**
 * struct vs_tun_wire_error - ERROR body, then text[text_len] (0..128
 * printable ASCII bytes, no NUL)
 * @code:	enum vs_tun_err
 * @text_len:	length of the text that follows
 */
struct vs_tun_wire_error {
	uint16_t code;
	uint8_t text_len;
} __attribute__((packed));

/* The smallest and largest header.len of any message (a FRAME's largest is 9233) */
#define VS_TUN_MIN_MSG		(VS_TUN_HDR_LEN - VS_TUN_LEN_FIELD)
#define VS_TUN_MAX_MSG		(VS_TUN_HDR_LEN - VS_TUN_LEN_FIELD + \
				 sizeof(struct vs_tun_wire_frame_times) + VS_TUN_MAX_FRAME)
/* The largest message on the wire, header included */
#define VS_TUN_MAX_WIRE		(VS_TUN_LEN_FIELD + VS_TUN_MAX_MSG)
/* Header plus fixed FRAME part: what precedes the frame bytes */
#define VS_TUN_FRAME_HEAD_LEN	(VS_TUN_HDR_LEN + sizeof(struct vs_tun_wire_frame))
/* header.len of a HELLO: the shortest and the longest (name and extension) */
#define VS_TUN_HELLO_MIN_MSG	(VS_TUN_HDR_LEN - VS_TUN_LEN_FIELD + \
				 sizeof(struct vs_tun_wire_hello) + 1)
#define VS_TUN_HELLO_MAX_MSG	(VS_TUN_HDR_LEN - VS_TUN_LEN_FIELD + \
				 sizeof(struct vs_tun_wire_hello) + VS_TUN_NODE_NAME_MAX + \
				 VS_TUN_HELLO_EXT_MAX)

static_assert(sizeof(struct vs_tun_wire_hdr) == VS_TUN_HDR_LEN, "header size");
static_assert(offsetof(struct vs_tun_wire_hdr, type) == VS_TUN_LEN_FIELD, "header type");
static_assert(sizeof(struct vs_tun_wire_hello) == 42, "HELLO fixed part");
static_assert(offsetof(struct vs_tun_wire_hello, nonce) == 9, "HELLO nonce");
static_assert(sizeof(struct vs_tun_wire_auth) == 32, "AUTH size");
static_assert(sizeof(struct vs_tun_wire_vm_open) == 11, "VM_OPEN fixed part");
static_assert(sizeof(struct vs_tun_wire_seq) == 8, "seq size");
static_assert(sizeof(struct vs_tun_wire_stream) == 4, "stream size");
static_assert(sizeof(struct vs_tun_wire_stream_seq) == 12, "stream+seq size");
static_assert(sizeof(struct vs_tun_wire_vm_reject) == 6, "VM_REJECT size");
static_assert(sizeof(struct vs_tun_wire_frame) == 13, "FRAME fixed part");
static_assert(sizeof(struct vs_tun_wire_expect) == 7, "EXPECT fixed part");
static_assert(sizeof(struct vs_tun_wire_token) == 8, "PING/PONG size");
static_assert(sizeof(struct vs_tun_wire_error) == 3, "ERROR fixed part");
static_assert(sizeof(struct vs_tun_wire_frame_times) == 25, "FRAME_TIMES fixed part");
static_assert(sizeof(struct vs_tun_wire_source_direct) == 21, "SOURCE_DIRECT size");
static_assert(sizeof(struct vs_tun_wire_source_barrier) == 29, "SOURCE_BARRIER size");
static_assert(sizeof(struct vs_tun_wire_conns) == 6, "CONNS fixed part");
static_assert(sizeof(struct vs_tun_wire_conn) == 88, "CONNS record");
static_assert(sizeof(struct vs_tun_wire_conns) + VS_TUN_CONNS_MAX * sizeof(struct vs_tun_wire_conn) <=
	      VS_TUN_MAX_MSG - (VS_TUN_HDR_LEN - VS_TUN_LEN_FIELD), "a full CONNS within MAX_MSG");
static_assert(VS_TUN_MAX_MSG == 9245, "largest message: a maximal FRAME_TIMES");
static_assert(VS_TUN_HELLO_MIN_MSG == 47 && VS_TUN_HELLO_MAX_MSG == 173, "HELLO lengths");
static_assert(VS_TUN_SNIFF_LEN == VS_TUN_HDR_LEN + sizeof(uint32_t), "header + magic");
static_assert(sizeof(VS_TUN_AUTH_LABEL) - 1 == VS_TUN_AUTH_LABEL_LEN, "label length");
static_assert(VS_TUN_NODE_NAME_MAX <= UINT8_MAX && VS_TUN_VM_NAME_MAX <= UINT8_MAX &&
	      VS_TUN_ERROR_TEXT_MAX <= UINT8_MAX, "u8 length prefixes");

#endif /* VHOST_SHIM_TUNNEL_WIRE_H */
