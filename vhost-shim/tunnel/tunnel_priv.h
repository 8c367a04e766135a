/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_priv.h - what the files of the tunnel transport share, and nobody
 * else
 *
 * Theory of operation: the transport of tunnel.h is one module in a few
 * files.  tunnel.c has the connections (handshake, read, write, close)
 * and dispatches every decoded message; tunnel_peers.c has the peers
 * (connect, reconnect backoff), the listener, init and shutdown;
 * tunnel_keepalive.c the keepalive (PING/PONG, timeout, probe).
 * tunnel_stream.c has the streams: the source's outgoing stream (retain,
 * flush, trim, take back, close) and the destination's incoming ones,
 * with the stream rules of both.  tunnel_io.c moves a connection's bytes,
 * through TLS or the plain socket, and tunnel_tls.c runs the TLS handshake
 * (tunnel_tls.h).  All run on the main loop thread, which owns each
 * struct vs_tun and everything it points to; every connection, peer and
 * stream points back at its tunnel, the only state there is.
 *
 * Lifetimes: a peer lives from vs_tun_add_peer() to vs_tun_free(); a
 * connection until tun_conn_close() (freed from an idle callback, since
 * the close may run inside one of its own callbacks); an outgoing stream
 * from vs_tun_stream_open() to vs_tun_stream_take_back() or
 * vs_tun_stream_close(), across reconnects; an incoming stream until
 * ABORT, END or the close of its connection (tun_in_free()).
 */
#ifndef VS_TUNNEL_PRIV_H
#define VS_TUNNEL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

#include "tunnel.h"
#include "tunnel_proto.h"

struct tun_conn;
struct tun_tls;
struct tun_tls_op;

struct tun_peer {
	struct vs_tun *tun;
	char *name;
	GInetSocketAddress *addr;
	struct tun_conn *conn;		/* outgoing, NULL when down */
	guint reconnect_timer;
	unsigned int backoff_ms;
	GList *streams;			/* struct vs_tun_stream * using this peer */
	GQueue expects;			/* EXPECT messages (GByteArray *) to send */
	bool learned;			/* added by vs_tun_peer_upsert(), not
					 * configured: no EXPECT broadcast to it */
	bool strict_name;		/* address from vs_tun_peer_upsert(): the
					 * peer must authenticate as @name */
};

struct tun_conn {
	struct vs_tun *tun;
	GSocket *sock;
	GSource *in_src, *out_src;
	bool initiator;
	bool connected;			/* TCP connected */
	bool dead;
	struct tun_peer *peer;		/* outgoing connections only */
	GIOStream *tls;			/* TLS mode: the session, once its handshake is done */
	struct tun_tls_op *tls_op;	/* TLS handshake in flight, else NULL */
	struct vs_tun_decoder dec;
	struct vs_tun_auth auth;
	GByteArray *out;
	guint handshake_timer;
	guint ka_timer;			/* keepalive (tunnel_keepalive.c) */
	gint64 last_rx;			/* monotonic us: last bytes received */
	gint64 last_ping;		/* monotonic us: last PING sent */
	gint64 probe_at;		/* a probe's PING went then; 0: none */
	uint64_t ping_token;
	GHashTable *in_streams;		/* stream id -> struct vs_tun_in */
	bool announced;			/* PEER_CONNECTED sent: PEER_LOST on close */
	bool expect_refused_logged;	/* one log line per connection */
	char desc[96];
};

struct vs_tun_stream {
	char vm_name[VS_TUN_VM_NAME_MAX + 1];
	uint8_t mac[6];
	struct tun_peer *peer;
	uint32_t stream_id;
	GQueue frames;			/* retained struct vs_tun_frame *, seq order,
					 * consecutive seqs */
	GList *unsent;			/* the node of frames with seq send_seq, NULL
					 * if all were written: flush starts there */
	uint64_t next_seq;		/* seq of the next pushed frame */
	uint64_t send_seq;		/* next seq to transmit */
	uint64_t acked;
	bool opened;			/* VM_ACCEPT received on peer->conn */
	bool open_sent;
	bool committed;			/* RESUMED received */
	bool rejected;
	bool barrier_due;		/* BARRIER(barrier_seq) waits for its frames */
	uint64_t barrier_seq;
};

struct vs_tun_in {
	struct tun_conn *conn;
	uint32_t stream_id;
	char vm_name[VS_TUN_VM_NAME_MAX + 1];
	uint64_t next_expected;		/* 1 + the last seq received */
	bool ack_due;
	bool ended;			/* END or ABORT: no CLOSED event */
	bool opening;			/* inside stream_open: replies wait */
	bool resumed_due;		/* RESUMED asked for while opening */
	bool live_seen_due;		/* LIVE_SEEN asked for while opening */
};


/* One tunnel endpoint (tunnel.h): all the state the transport has */
struct vs_tun {
	const struct vs_tun_ops *ops;
	void *opaque;			/* the callbacks' first argument */
	bool enabled;
	char node_name[VS_TUN_NODE_NAME_MAX + 1];
	uint8_t psk[VS_TUN_PSK_MAX];
	size_t psk_len;
	struct tun_tls *tls;		/* tls=x509: credentials, else NULL */
	unsigned int keepalive_ms;	/* PING after this long without input */
	unsigned int keepalive_timeout_ms; /* ERROR(TIMEOUT) after this long */
	GSocket *listen_sock;
	GSource *listen_src;
	GPtrArray *peers;		/* struct tun_peer * */
	GList *conns;			/* struct tun_conn * */
	GHashTable *in_by_vm;		/* VM name -> its one struct vs_tun_in */
	uint32_t next_stream_id;
	struct vs_tun_stats stats;
};

/* --- tunnel.c: connections --- */

/**
 * tun_conn_close() - close @c once: send ERROR(@code) if the transport is
 * up and @code is not VS_TUN_OK, log one line with @why, tell the streams,
 * schedule a reconnect if its peer still has something to send
 * @c:		connection (freed later, from an idle callback)
 * @code:	why, for the peer and the log
 * @why:	text for the log
 */
void tun_conn_close(struct tun_conn *c, enum vs_tun_err code, const char *why);

/**
 * tun_conn_peer_name() - the peer's authenticated name, or the connection's
 * description before the handshake
 * @c:		connection
 *
 * Return: a string owned by @c
 */
const char *tun_conn_peer_name(const struct tun_conn *c);

/**
 * tun_conn_protocol_error() - the peer broke a stream rule: count it
 * (protocol_errors), send ERROR(PROTOCOL) and close
 * @c:		connection
 * @fmt:	why, printf-style, for the peer and the log
 */
void tun_conn_protocol_error(struct tun_conn *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/**
 * tun_conn_start_auth() - the transport is up: start the HELLO/AUTH
 * handshake keyed by @key and read the connection; closes @c on failure
 * @c:		connection
 * @key:	the AUTH key: the pre-shared key, or one derived from TLS
 * @key_len:	its bytes, VS_TUN_PSK_MIN..VS_TUN_PSK_MAX
 *
 * Return: true on success
 */
bool tun_conn_start_auth(struct tun_conn *c, const uint8_t *key, size_t key_len);

/**
 * tun_conn_transport_up() - can bytes go out on @c: TCP connected and,
 * in TLS mode, the TLS handshake done
 * @c:		connection
 *
 * Return: true if so
 */
bool tun_conn_transport_up(const struct tun_conn *c);

/**
 * tun_conn_on_readable() - bytes (or EOF) to read on @c
 * @c:		connection
 *
 * Return: G_SOURCE_CONTINUE
 */
gboolean tun_conn_on_readable(struct tun_conn *c);

/**
 * tun_conn_on_writable() - @c can take bytes (or its connect completed)
 * @c:		connection
 *
 * Return: G_SOURCE_REMOVE (the output source is re-created when needed)
 */
gboolean tun_conn_on_writable(struct tun_conn *c);

/**
 * tun_find_peer() - a configured peer by name
 * @t:		tunnel
 * @name:	peer name
 *
 * Return: the peer, or NULL if none has that name
 */
struct tun_peer *tun_find_peer(const struct vs_tun *t, const char *name);

/**
 * tun_conn_ready() - may streams use this connection
 * @c:		connection, or NULL
 *
 * Return: true if it is alive and authenticated
 */
bool tun_conn_ready(const struct tun_conn *c);

/**
 * tun_conn_flush() - write what the socket takes of @c's output queue now,
 * and wait for it to be writable for the rest; may close @c
 * @c:		connection
 */
void tun_conn_flush(struct tun_conn *c);

/**
 * tun_conn_queued() - bytes waiting in a connection's output queue
 * @c:		connection, or NULL
 *
 * Return: bytes; 0 without a connection
 */
size_t tun_conn_queued(const struct tun_conn *c);

/**
 * tun_conn_new() - a new connection, TCP-connected or connecting, on the
 * list of connections with its handshake timer running; without TLS its
 * HELLO is queued (the caller flushes), with TLS the caller starts the TLS
 * handshake once TCP is up
 * @t:		tunnel
 * @sock:	the socket, which the connection takes
 * @initiator:	we connected (true) or accepted (false)
 * @peer:	the configured peer we connected to, NULL if accepted
 * @desc:	"to addr:port" or "from addr:port", for the logs
 *
 * Return: the connection, or NULL if it was closed at once (a handshake
 * could not start: logged, and freed from an idle callback)
 */
struct tun_conn *tun_conn_new(struct vs_tun *t, GSocket *sock, bool initiator,
			      struct tun_peer *peer, const char *desc);

/* --- tunnel_peers.c: peers, listener, init --- */

/**
 * tun_peer_connect() - open the outgoing connection to @p, unless it is
 * open or a reconnect is already scheduled; a failure schedules one
 * @p:		peer
 */
void tun_peer_connect(struct tun_peer *p);

/**
 * tun_peer_schedule_reconnect() - double @p's backoff (from
 * VS_TUN_RECONNECT_MIN_MS, up to VS_TUN_RECONNECT_MAX_MS) and, unless one
 * is pending, schedule tun_peer_connect() after it
 * @p:		peer
 */
void tun_peer_schedule_reconnect(struct tun_peer *p);

/* --- tunnel_keepalive.c: keepalive and probe --- */

/**
 * tun_keepalive_start() - @c is authenticated: PING it when idle, close it
 * with ERROR(TIMEOUT) when nothing arrives for keepalive_timeout_ms
 * @c:		connection
 */
void tun_keepalive_start(struct tun_conn *c);

/**
 * tun_keepalive_stop() - @c closes: stop its timer
 * @c:		connection
 */
void tun_keepalive_stop(struct tun_conn *c);

/**
 * tun_conn_probe() - is @c really alive: PING it now, and close it
 * (redialling at once if it is ours) unless something arrives soon
 * @c:		connection, ready
 */
void tun_conn_probe(struct tun_conn *c);

/**
 * tun_keepalive_socket() - TCP_USER_TIMEOUT = keepalive_timeout_ms on @sock
 * @t:		tunnel
 * @sock:	a connection's socket
 */
void tun_keepalive_socket(const struct vs_tun *t, GSocket *sock);

/* --- tunnel_io.c: a connection's bytes, through TLS or the socket --- */

/**
 * tun_io_send() - write what the transport takes now, never blocking
 * @c:		connection
 * @buf:	bytes
 * @len:	their number
 * @error:	G_IO_ERROR_WOULD_BLOCK when nothing fits now
 *
 * Return: bytes written, or -1 with @error set
 */
gssize tun_io_send(struct tun_conn *c, const void *buf, size_t len, GError **error);

/**
 * tun_io_recv() - read what is there, never blocking
 * @c:		connection
 * @buf:	room
 * @len:	its size
 * @error:	G_IO_ERROR_WOULD_BLOCK when nothing is there
 *
 * Return: bytes read, 0 at the end of the stream, or -1 with @error set
 */
gssize tun_io_recv(struct tun_conn *c, void *buf, size_t len, GError **error);

/**
 * tun_io_watch() - a source, attached to the default context, that calls
 * tun_conn_on_readable() (G_IO_IN) or tun_conn_on_writable() (G_IO_OUT)
 * @c:		connection
 * @cond:	G_IO_IN or G_IO_OUT
 *
 * Return: the source (the caller destroys and unrefs it)
 */
GSource *tun_io_watch(struct tun_conn *c, GIOCondition cond);

/* --- tunnel_stream.c: streams --- */

/**
 * tun_stream_send_open() - send VM_OPEN, resuming after the last acked
 * frame, if the connection is ready and it was not sent on it yet
 * @s:		outgoing stream
 */
void tun_stream_send_open(struct vs_tun_stream *s);

/**
 * tun_peer_find_stream() - an outgoing stream of @p by id
 * @p:		peer, or NULL
 * @id:		stream id
 *
 * Return: the stream, or NULL (it may have been closed meanwhile)
 */
struct vs_tun_stream *tun_peer_find_stream(struct tun_peer *p, uint32_t id);

/**
 * tun_stream_trim() - free the frames the destination acked, once it
 * reported the VM running (until then a rollback needs them all)
 * @s:		outgoing stream
 */
void tun_stream_trim(struct vs_tun_stream *s);

/**
 * tun_stream_flush() - queue the frames not yet sent on the connection, up
 * to VS_TUN_SEND_QUEUE_MAX, once the destination accepted the stream
 * @s:		outgoing stream
 */
void tun_stream_flush(struct vs_tun_stream *s);

/**
 * tun_stream_first_seq() - the lowest seq the source can still send: its
 * oldest retained frame, or its next unassigned seq if it holds none
 * @s:		outgoing stream
 *
 * Return: that seq (>= 1)
 */
uint64_t tun_stream_first_seq(const struct vs_tun_stream *s);

/**
 * tun_stream_handle() - source: a dst -> src stream message (VM_ACCEPT,
 * VM_REJECT, ACK, RESUMED, LIVE_SEEN) on a connection we dialled; checks
 * it against the stream's state, may close @c
 * @c:		connection
 * @m:		message
 */
void tun_stream_handle(struct tun_conn *c, const struct vs_tun_msg *m);

/**
 * tun_in_handle() - destination: a src -> dst stream message (VM_OPEN,
 * FRAME, BARRIER, END, ABORT) on a connection we accepted; checks it
 * against the stream's state, may close @c
 * @c:		connection
 * @m:		message
 */
void tun_in_handle(struct tun_conn *c, const struct vs_tun_msg *m);

/**
 * tun_in_free() - destroy notifier of a connection's incoming streams:
 * tells the callbacks the stream is gone (unless it ended properly), frees it
 * @data:	struct vs_tun_in
 */
void tun_in_free(gpointer data);

#endif /* VS_TUNNEL_PRIV_H */
