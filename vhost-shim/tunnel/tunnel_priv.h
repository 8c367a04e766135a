/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_priv.h - what the files of the tunnel transport share, and nobody
 * else
 *
 * Theory of operation: the transport of tunnel.h is one module in a few
 * files.  tunnel.c has the connections (phases, read, write, close)
 * and dispatches every decoded message; tunnel_peers.c has the peers
 * (connect, reconnect backoff), init, reload and shutdown;
 * tunnel_listen.c the listener, the pre-authentication slots and the
 * sniffing of a connection's first bytes; tunnel_keepalive.c the
 * keepalive (PING/PONG, timeout, probe).  tunnel_stream.c has the
 * streams: the source's outgoing stream (retain, flush, trim, take back,
 * close) and the destination's incoming ones, with the stream rules of
 * both; tunnel_clock.c a connection's estimate of its peer's clock (the
 * arrival times of FRAME_TIMES).  tunnel_io.c moves a connection's bytes through its TLS session,
 * tunnel_session.c runs the TLS handshake and tunnel_tls.c holds the
 * credentials (tunnel_tls.h).  All run on the main loop thread, which owns each
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
#include <gnutls/gnutls.h>

#include "tunnel.h"
#include "tunnel_proto.h"

struct tun_conn;
struct tun_creds;

/**
 * enum tun_conn_phase - where a connection's transport is (its one
 * setter, tun_conn_set_phase(), logs "OLD -> NEW" at debug level)
 * @TUN_PHASE_CONNECTING: outgoing: the TCP connect is in flight
 * @TUN_PHASE_SNIFFING: incoming: its first bytes are read to tell a TLS
 *	ClientHello from a version-1 HELLO in clear (vs_tun_sniff())
 * @TUN_PHASE_TLS: the TLS handshake is in flight (tunnel_session.c)
 * @TUN_PHASE_UP: TLS is up: the HELLO/AUTH handshake (c->auth) and then
 *	the streams run inside it
 */
enum tun_conn_phase {
	TUN_PHASE_CONNECTING,
	TUN_PHASE_SNIFFING,
	TUN_PHASE_TLS,
	TUN_PHASE_UP,
	TUN_NUM_PHASES
};

/*
 * One connection's TLS session (tunnel_session.c, tunnel_io.c).  GnuTLS
 * reads and writes the connection's socket itself, through tunnel_io.c's
 * pull and push functions, which also keep the peer's first bytes.
 */
struct tun_sess {
	gnutls_session_t s;
	struct tun_creds *creds;	/* those it was made with: a reference */
	bool up;			/* handshake done */
	bool broken;			/* a fatal TLS error: nothing more goes out */
	size_t send_pending;		/* bytes of c->out in a record send that
					 * returned GNUTLS_E_AGAIN (resumed with
					 * NULL, 0, as GnuTLS wants) */
	int io_errno;			/* errno of the last failed send or recv */
};

/* --- tunnel_clock.c: a FRAME_TIMES's arrival in our clock --- */

/* A frame that came this much later than the connection's fastest, or
 * whose arrival would be this old: its time is not believed (unknown: the
 * filter compares it regardless of time), and counted */
#define VS_TUN_FRAME_LATE_MAX_US	(600LL * 1000 * 1000)
#define VS_TUN_FRAME_AGE_MAX_US		(3600LL * 1000 * 1000)

/* A sample counts for the last 30 to 60 s: at least half of this, and
 * less than all of it (two half-windows that start at fixed times) */
#define VS_TUN_CLOCK_WINDOW_US		(60LL * 1000 * 1000)

/* Two samples this close confirm each other: the smallest confirmed
 * sample is the estimate, so one lone sample far below the others (a
 * peer clock glitch) moves it by at most this much */
#define VS_TUN_CLOCK_NEAR_US		(5LL * 1000)

/* Unconfirmed samples kept per half-window (the smallest ones below its
 * smallest confirmed sample) */
#define VS_TUN_CLOCK_LONE_MAX		4

/*
 * struct tun_clock_half - the samples of one half-window that matter
 * @has_confirmed: a sample in it was confirmed (another within
 *		VS_TUN_CLOCK_NEAR_US of it, in this half-window or the other)
 * @confirmed_min_us: the smallest of those
 * @n_lone:	how many of @lone_us are set
 * @lone_us:	unconfirmed samples below @confirmed_min_us (any, if none), in
 *		the order they came
 */
struct tun_clock_half {
	bool has_confirmed;
	int64_t confirmed_min_us;
	unsigned int n_lone;
	int64_t lone_us[VS_TUN_CLOCK_LONE_MAX];
};

/*
 * struct tun_clock - a connection's estimate of the peer's clock minus
 * ours (plus the fastest one-way delay): the smallest confirmed sample of
 * the last 30 to 60 s (zeroed: no sample yet)
 * @started:	@since_us is set
 * @since_us:	start of the current half-window (our clock)
 * @cur:	the current half-window's samples
 * @prev:	the one before it (ended at @since_us)
 */
struct tun_clock {
	bool started;
	int64_t since_us;
	struct tun_clock_half cur;
	struct tun_clock_half prev;
};

/**
 * tun_clock_offset() - the estimate as of the last sample taken
 * @k:		clock
 * @offset_us:	set to the estimate, if there is one
 *
 * Return: false if no sample of the window is confirmed (no estimate)
 */
bool tun_clock_offset(const struct tun_clock *k, int64_t *offset_us);

/**
 * tun_clock_arrival() - take a FRAME_TIMES's sample, and its frame's
 * arrival in our clock
 * @k:		the connection's clock
 * @now_us:	our monotonic clock, at receipt
 * @sent_us:	the message's sent_us (the peer's clock)
 * @age_us:	the message's age_us
 *
 * Return: the arrival (our monotonic clock, µs), 0 if not believed; a
 * sample below the estimate, or with none, is its own frame's offset (the
 * frame is placed as if it had not queued)
 */
int64_t tun_clock_arrival(struct tun_clock *k, int64_t now_us, uint64_t sent_us,
			  uint32_t age_us);

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
	GSource *more_src;		/* decrypted bytes wait in GnuTLS: read on */
	GSource *flush_src;		/* frames queued: write them at the next turn */
	bool initiator;
	enum tun_conn_phase phase;
	bool dead;
	bool refused;			/* closed for a TLS verdict: log a warning */
	struct tun_peer *peer;		/* outgoing connections only */
	struct tun_sess *sess;		/* from the TLS handshake on, else NULL */
	/* the peer's first bytes: sniffed before TLS (incoming), kept for
	 * the diagnosis of a failed handshake (outgoing) */
	uint8_t first[VS_TUN_SNIFF_LEN];
	size_t first_len;
	size_t first_off;		/* of them, handed to GnuTLS */
	/* incoming, until authenticated: a pre-authentication slot */
	bool preauth;
	bool known_src;			/* from a configured peer's address */
	char src[48];			/* the remote IP address */
	bool authed_slot;		/* incoming, authenticated: counted */
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
	struct tun_clock clock;		/* the peer's clock: its streams' FRAME_TIMES */
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
	GQueue src_barriers;		/* SOURCE_BARRIERs waiting for their frames,
					 * in order (tunnel_per_source.c) */
	GQueue src_barriers_written;	/* ... written, kept until a later frame
					 * is acked (a reconnect may lose them) */
	struct vs_tun_conn *conns;	/* CONNS to write (tunnel_conns.c) */
	size_t n_conns;
	size_t conns_next;		/* the first not written on this connection */
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
	int64_t frame_arrival_us;	/* the frame being delivered's (FRAME_TIMES,
					 * tunnel_clock.c); 0: unknown */
};


/* The files the credentials come from, kept for reloads (SIGHUP) */
struct tun_cred_cfg {
	char *key_file;			/* NULL: none (x509 only) */
	bool tls;			/* x509 */
	char *tls_ca, *tls_cert, *tls_key;
	char *tls_crl;			/* NULL: no CRL */
	bool tls_crl_optional;		/* only if the file exists (at each load) */
};

/* One tunnel endpoint (tunnel.h): all the state the transport has */
struct vs_tun {
	const struct vs_tun_ops *ops;
	void *opaque;			/* the callbacks' first argument */
	bool enabled;
	char node_name[VS_TUN_NODE_NAME_MAX + 1];
	struct tun_cred_cfg cred_cfg;
	struct tun_creds *creds;	/* for new connections; sessions hold their own */
	unsigned int keepalive_ms;	/* PING after this long without input */
	unsigned int keepalive_timeout_ms; /* ERROR(TIMEOUT) after this long */
	GSocket *listen_sock;
	GSource *listen_src;
	GPtrArray *peers;		/* struct tun_peer * */
	GList *conns;			/* struct tun_conn *, newest first */
	/* pre-authentication slots (tunnel_listen.c) */
	GHashTable *preauth_by_src;	/* remote IP -> handshakes running (GUINT) */
	unsigned int n_preauth;		/* of those, from unknown addresses */
	unsigned int n_authed_in;	/* incoming, authenticated */
	gint64 refusal_logged_at;	/* refusals are logged once a second */
	uint64_t refusals_unlogged;
	GHashTable *in_by_vm;		/* VM name -> its one struct vs_tun_in */
	uint32_t next_stream_id;
	bool no_frame_times;		/* do not offer the frame-times extension */
	bool no_source_direct;		/* do not offer the source-direct extension */
	bool no_tcp_conns;		/* do not offer tcp-conns */
	bool no_source_barrier;		/* do not offer source-barrier (tests:
					 * an older peer) */
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
 * tun_conn_set_phase() - the one setter of c->phase
 * @c:		connection
 * @next:	its new phase (phases only move forward)
 */
void tun_conn_set_phase(struct tun_conn *c, enum tun_conn_phase next);

/**
 * tun_conn_start_auth() - TLS is up: start the HELLO/AUTH handshake keyed
 * by @key inside it; closes @c on failure
 * @c:		connection
 * @key:	the AUTH key, derived from the TLS session
 * @key_len:	its bytes, VS_TUN_PSK_MIN..VS_TUN_PSK_MAX
 *
 * Return: true on success
 */
bool tun_conn_start_auth(struct tun_conn *c, const uint8_t *key, size_t key_len);

/**
 * tun_conn_transport_up() - can messages go out on @c: its TLS session is
 * up and intact
 * @c:		connection
 *
 * Return: true if so
 */
bool tun_conn_transport_up(const struct tun_conn *c);

/**
 * tun_conn_watch() - what @c waits for on its socket: input, output, or
 * both (a source is created or destroyed as needed)
 * @c:		connection
 * @in:		wait until readable
 * @out:	wait until writable
 */
void tun_conn_watch(struct tun_conn *c, bool in, bool out);

/*
 * The text of the ERROR(BAD_VERSION) an older shim gets, which it logs as
 * "peer ...: ERROR BAD_VERSION: <text>" (at most VS_TUN_ERROR_TEXT_MAX)
 */
#define VS_TUN_V1_REFUSAL_TEXT \
	"this peer speaks tunnel protocol v2 (TLS 1.3) only: upgrade vhost-shim here to " \
	"migrate to or from it"

/**
 * tun_conn_refuse_version() - the peer speaks tunnel protocol version
 * @version (1): one log line that says to upgrade, counted
 * (version_refusals), then close
 * @c:		connection
 * @version:	the peer's version
 * @tell:	send it ERROR(BAD_VERSION, VS_TUN_V1_REFUSAL_TEXT) inside TLS
 * @how:	how we know, for the log line
 */
void tun_conn_refuse_version(struct tun_conn *c, unsigned int version, bool tell,
			     const char *how);

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
 * tun_conn_flush_soon() - flush @c at the next turn of the main loop, so
 * that the frames pushed in this one (the pump pushes up to its budget
 * per tick) go out in full TLS records, not one record per frame
 * @c:		connection
 */
void tun_conn_flush_soon(struct tun_conn *c);

/**
 * tun_conn_queued() - bytes waiting in a connection's output queue
 * @c:		connection, or NULL
 *
 * Return: bytes; 0 without a connection
 */
size_t tun_conn_queued(const struct tun_conn *c);

/**
 * tun_conn_new() - a new connection on the list of connections, with its
 * handshake deadline running: an outgoing one in TUN_PHASE_CONNECTING
 * (the caller starts TLS once TCP is up), an accepted one in
 * TUN_PHASE_SNIFFING, reading its first bytes
 * @t:		tunnel
 * @sock:	the socket, which the connection takes
 * @initiator:	we connected (true) or accepted (false)
 * @peer:	the configured peer we connected to, NULL if accepted
 * @desc:	"to addr:port" or "from addr:port", for the logs
 *
 * Return: the connection
 */
struct tun_conn *tun_conn_new(struct vs_tun *t, GSocket *sock, bool initiator,
			      struct tun_peer *peer, const char *desc);

/* --- tunnel_listen.c: the listener, pre-authentication slots, sniffing --- */

/**
 * tun_listen() - listen on "IP:port" (port 0: any free port)
 * @t:		tunnel
 * @listen:	address
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean tun_listen(struct vs_tun *t, const char *listen, GError **error);

/**
 * tun_listen_stop() - close the listener
 * @t:		tunnel
 */
void tun_listen_stop(struct vs_tun *t);

/**
 * tun_conn_sniff() - an accepted connection's first bytes arrived: start
 * TLS for a ClientHello, refuse a version-1 peer with a clear ERROR in its
 * own protocol, close anything else; may close @c
 * @c:		connection in TUN_PHASE_SNIFFING
 */
void tun_conn_sniff(struct tun_conn *c);

/**
 * tun_slot_release() - @c leaves its pre-authentication slot (it is
 * authenticated or closing); it may take an authenticated one
 * @c:		connection
 * @authed:	it was authenticated: count it against VS_TUN_AUTHED_MAX
 *
 * Return: false if @authed and the authenticated connections are at their
 * cap (the caller closes @c)
 */
bool tun_slot_release(struct tun_conn *c, bool authed);

/* --- tunnel_peers.c: peers, init --- */

/**
 * tun_parse_addr() - "IP:port" or "localhost:port"
 * @text:	address
 * @any_port:	port 0 is allowed (a listener on any free port)
 * @error:	set if it does not parse
 *
 * Return: the address, or NULL
 */
GInetSocketAddress *tun_parse_addr(const char *text, bool any_port, GError **error);

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

/* --- tunnel_io.c: a connection's bytes, through its TLS session --- */

/**
 * tun_io_attach() - make @s read and write @c's socket (custom pull and
 * push functions, which keep the peer's first bytes in c->first and hand
 * GnuTLS those already sniffed first)
 * @c:		connection
 * @s:		its new session
 */
void tun_io_attach(struct tun_conn *c, gnutls_session_t s);

/**
 * tun_io_send() - encrypt and write what the socket takes now, never
 * blocking, from the start of c->out
 * @c:		connection whose session is up
 * @len:	bytes at the start of c->out to send (the first record of at
 *		most 16 KiB goes)
 * @error:	G_IO_ERROR_WOULD_BLOCK when nothing fits now
 *
 * Return: bytes of c->out sent (to be removed from it), or -1 with @error
 * set
 */
gssize tun_io_send(struct tun_conn *c, size_t len, GError **error);

/**
 * tun_io_recv() - decrypt what is there, never blocking
 * @c:		connection whose session is up
 * @buf:	room
 * @len:	its size
 * @error:	G_IO_ERROR_WOULD_BLOCK when nothing is there; a record that
 *		does not verify (changed, spliced in, replayed) is counted
 *		(tls_record_errors) and described here
 *
 * Return: bytes read, 0 at the end of the stream, or -1 with @error set
 */
gssize tun_io_recv(struct tun_conn *c, void *buf, size_t len, GError **error);

/**
 * tun_sess_alert_str() - a fatal alert the peer sent, in words, with what
 * it probably means (another key, our certificate refused...)
 * @c:		connection whose session received the alert
 *
 * Return: "alert Certificate is bad: it refused our certificate" (g_free it)
 */
char *tun_sess_alert_str(const struct tun_conn *c);

/**
 * tun_io_pending() - does GnuTLS hold decrypted bytes not read yet (the
 * socket will not say so)
 * @c:		connection
 *
 * Return: true if so
 */
bool tun_io_pending(const struct tun_conn *c);

/**
 * tun_io_watch() - a source on @c's socket, attached to the default
 * context, that calls tun_conn_on_readable() (G_IO_IN) or
 * tun_conn_on_writable() (G_IO_OUT)
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

/* --- tunnel_per_source.c --- */

/**
 * tun_stream_flush_source_barriers() - write, in order, the SOURCE_BARRIERs
 * of @s whose frames are written (called by tun_stream_flush())
 * @c:		@s's connection, ready
 * @s:		stream
 */
void tun_stream_flush_source_barriers(struct tun_conn *c, struct vs_tun_stream *s);

/* tun_stream_free_source_barriers() - free them all (the stream goes) */
void tun_stream_free_source_barriers(struct vs_tun_stream *s);

/**
 * tun_stream_acked_source_barriers() - forget the written SOURCE_BARRIERs
 * the destination has for sure: a frame after them is acked (on ACK)
 * @s:		stream, s->acked updated
 */
void tun_stream_acked_source_barriers(struct vs_tun_stream *s);

/**
 * tun_stream_resend_source_barriers() - a connection accepted the stream
 * from @next: the written SOURCE_BARRIERs it may lack (their frame, or the
 * one behind them, not received) are queued again, ahead of the unwritten
 * ones, to follow the resent frames (on VM_ACCEPT, before the flush)
 * @s:		stream
 * @next:	the destination's next expected seq
 */
void tun_stream_resend_source_barriers(struct vs_tun_stream *s, uint64_t next);

/**
 * tun_in_source_barrier() - destination: SOURCE_BARRIER on @in: checked
 * against the frames received, then ops->source_barrier
 * @c:		connection
 * @in:		the stream, open on @c
 * @m:		the message
 */
void tun_in_source_barrier(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m);

/**
 * tun_in_free() - destroy notifier of a connection's incoming streams:
 * tells the callbacks the stream is gone (unless it ended properly), frees it
 * @data:	struct vs_tun_in
 */
void tun_in_free(gpointer data);

/* --- CONNS (tunnel_conns.c) --------------------------------------------- */

/**
 * tun_stream_flush_conns() - write the stream's CONNS not written on this
 * connection yet, while the output queue has room (none to a peer without
 * tcp-conns)
 * @c:		the stream's ready connection
 * @s:		outgoing stream
 */
void tun_stream_flush_conns(struct tun_conn *c, struct vs_tun_stream *s);

/**
 * tun_stream_free_conns() - forget the stream's CONNS
 * @s:		outgoing stream
 */
void tun_stream_free_conns(struct vs_tun_stream *s);

/**
 * tun_in_conns() - a CONNS on an incoming stream: up to ops->conns
 * @c:		connection
 * @in:		the stream
 * @m:		the message (decoded and checked)
 */
void tun_in_conns(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m);

#endif /* VS_TUNNEL_PRIV_H */
