/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel.h - the authenticated TCP tunnel between shims (transport)
 *
 * Theory of operation: each shim listens on one TCP address and connects
 * to peers named in its configuration.  A connection is a TLS 1.3 session
 * (a pre-shared key with ECDHE, or x509 certificates: tunnel_tls.h) that
 * carries the messages of include/vhost-shim/tunnel_wire.h (codec:
 * tunnel_proto.h); after a mutual HMAC handshake bound to that session it
 * multiplexes one *stream* per migrating VM.
 *
 * One struct vs_tun is one such endpoint (the daemon keeps one; the unit
 * test runs two in one process).  It knows nothing of ports, VMs or
 * counters beyond its own: everything it has to say upward goes through
 * the table of callbacks (struct vs_tun_ops) given to vs_tun_new(), the
 * pattern of rte_vhost_device_ops.  The daemon's table is the handover's
 * functions (handover.h) plus main.c's peer events (control socket).
 *
 * Source side: the handover opens an outgoing stream when it knows the
 * destination (at migration start, before the blackout), pushes frames in
 * order, and the stream keeps every frame until the destination has acked
 * it *and* reported the VM running (RESUMED).  If the connection breaks it
 * reconnects and resends from the destination's next expected sequence
 * number, so frames are neither lost nor duplicated.  On rollback the
 * frames come back to the handover in order (vs_tun_stream_take_back()).
 *
 * Destination side: a VM_OPEN is accepted only if the stream_open
 * callback says so; frames go to the frame callback in order, duplicates
 * (seq below next expected) included, which the callback drops and counts.
 *
 * Rules the transport enforces itself (docs/tunnel-protocol.md, 2 and 5):
 * a peer sends only the message types of its direction (the side that
 * dials is the source); one stream per VM (another peer's VM_OPEN is BUSY,
 * the same peer's replaces its old stream); a resume the destination
 * cannot serve is SEQ; VM_ACCEPT within what the source can send, ACKs of
 * frames sent, BARRIER not ahead of the frames, END not below them.  A
 * peer that breaks one gets ERROR(PROTOCOL) and is disconnected, with one
 * log line and a count (protocol_errors).
 *
 * Before authentication a connection holds one of a few pre-authentication
 * slots: VS_TUN_PREAUTH_PER_SOURCE per remote address, VS_TUN_PREAUTH_MAX
 * in all for addresses that are not a configured peer's (the oldest is
 * closed to make room), and VS_TUN_PREAUTH_DEADLINE_MS to authenticate.
 * So connections that never authenticate cannot keep a real peer out.
 *
 * All of it runs on the GLib main loop (the global default context);
 * nothing here blocks.  Memory is bounded by the senders' buffer caps plus
 * twice VS_TUN_SEND_QUEUE_MAX per connection: whatever a peer makes us
 * queue (PONG, ACK, VM_REJECT...) counts, and a peer that does not read
 * is closed (slow_readers).
 */
#ifndef VS_TUNNEL_H
#define VS_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "vhost-shim/tunnel_wire.h"

struct vs_tun;
struct vs_tun_stream;
struct vs_tun_in;
struct vs_tun_conn;

typedef struct vs_tun vs_tun;

/* Security consideration: per-connection memory for unsent bytes */
#define VS_TUN_SEND_QUEUE_MAX	(4u << 20)

/*
 * SOURCE_BARRIERs a stream holds while they wait for their frames: the
 * handover asks at most one per source it was told about
 * (VS_DP_DIRECT_SLOTS, 1024, per migration); more are refused
 */
#define VS_TUN_SOURCE_BARRIERS_MAX	1024
#define VS_TUN_RECONNECT_MIN_MS	100
#define VS_TUN_RECONNECT_MAX_MS	2000

/*
 * Security consideration: connections that have not authenticated yet.
 * Each remote address may run VS_TUN_PREAUTH_PER_SOURCE handshakes at a
 * time (a peer needs one; more are refused at once).  Addresses that are
 * not a configured peer's share VS_TUN_PREAUTH_MAX slots, the oldest
 * handshake making room for a new one, so a flood from many addresses
 * delays a real peer's handshake (of milliseconds) only while it keeps
 * all of them busy; a configured peer's own address is never counted
 * there.  An accepted connection has VS_TUN_PREAUTH_DEADLINE_MS to
 * finish TLS and HELLO/AUTH: one round trip for TLS 1.3 and one for
 * HELLO/AUTH take milliseconds between hosts, and 2 s still allows for a
 * main loop stalled on a loaded host; an idle connection holds its slot
 * no longer.  Our own connections get VS_TUN_CONNECT_DEADLINE_MS, which
 * includes the TCP connect.  Authenticated incoming connections are
 * capped at VS_TUN_AUTHED_MAX.
 */
#define VS_TUN_PREAUTH_PER_SOURCE	4
#define VS_TUN_PREAUTH_MAX		32
#define VS_TUN_PREAUTH_DEADLINE_MS	2000
#define VS_TUN_CONNECT_DEADLINE_MS	5000
#define VS_TUN_AUTHED_MAX		64
/*
 * Keepalive defaults (tunnel_keepalive.c).  A silent peer is detected
 * within 5 s, half the default hold-ms (10 s), so that a source whose
 * destination is behind a partition still has the other half to
 * reconnect and resume before its buffer expires; 5 intervals tolerate a
 * main loop stalled for ~4 s (a loaded host) without a false alarm.  A
 * PING costs 16 bytes a second on an idle connection.
 */
#define VS_TUN_KEEPALIVE_MS		1000
#define VS_TUN_KEEPALIVE_TIMEOUT_MS	5000
#define VS_TUN_KEEPALIVE_MIN_MS		10
#define VS_TUN_KEEPALIVE_MAX_MS		600000

/* A frame the source keeps until it is acked and committed */
struct vs_tun_frame {
	uint64_t seq;
	uint8_t origin;		/* VS_TUN_ORIGIN_* */
	int64_t arrival_us;	/* when it reached the network, in this host's
				 * g_get_monotonic_time(); 0: unknown */
	uint32_t len;
	uint8_t data[];
};

/* --- upward: the callbacks ------------------------------------------------- */

/**
 * enum vs_tun_in_event - what happens to an incoming stream (destination)
 * @VS_TUN_IN_BARRIER:	BARRIER(seq): every straggler the source had when
 *			it saw LIVE_SEEN has a seq <= seq, and was sent
 * @VS_TUN_IN_END:	END(seq): the source stopped forwarding; the stream
 *			is gone (no CLOSED follows)
 * @VS_TUN_IN_ABORT:	ABORT: the migration failed, the VM runs at the
 *			source; the stream is gone (no CLOSED follows)
 * @VS_TUN_IN_CLOSED:	its connection is gone, or a reconnecting source
 *			replaced it; the source may resume on a new stream
 */
enum vs_tun_in_event {
	VS_TUN_IN_BARRIER,
	VS_TUN_IN_END,
	VS_TUN_IN_ABORT,
	VS_TUN_IN_CLOSED,
	VS_TUN_IN_NUM_EVENTS
};

/**
 * enum vs_tun_out_event - what happens to an outgoing stream (source)
 * @VS_TUN_OUT_RESUMED:	RESUMED: the VM runs at the destination
 * @VS_TUN_OUT_LIVE_SEEN: LIVE_SEEN: the destination holds live frames
 *			until our BARRIER
 * @VS_TUN_OUT_REJECTED: VM_REJECT: the destination refused the stream
 *			(the reason is given); it keeps its frames, and asks
 *			again when that peer sends EXPECT for the VM
 * @VS_TUN_OUT_INTERRUPTED: its connection broke while the stream still had
 *			frames to deliver or was not committed; it reconnects
 *			and resumes by itself
 */
enum vs_tun_out_event {
	VS_TUN_OUT_RESUMED,
	VS_TUN_OUT_LIVE_SEEN,
	VS_TUN_OUT_REJECTED,
	VS_TUN_OUT_INTERRUPTED,
	VS_TUN_OUT_NUM_EVENTS
};

/**
 * struct vs_tun_peer_event - an authenticated connection came or went
 * @up:		true: authenticated (PEER_CONNECTED); false: gone (PEER_LOST)
 * @peer:	the peer's authenticated node name
 * @address:	the other end's "IP:port"
 * @outgoing:	we dialled
 * @ports:	the VMs whose streams it carries, NULL-terminated, maybe empty
 * @reason:	why it went (NULL when @up)
 */
struct vs_tun_peer_event {
	bool up;
	const char *peer;
	const char *address;
	bool outgoing;
	const char *const *ports;
	const char *reason;
};

/**
 * struct vs_tun_ops - how the tunnel calls upward (main loop, from inside
 * the tunnel's own callbacks: none may free the tunnel)
 * @stream_open: destination: a peer opens a stream (VM_OPEN) for @vm with
 *	@mac; return VS_TUN_REJECT_NONE and set *@next_expected (the first
 *	seq not received yet, >= 1) to accept, or a reason, with @error set
 *	to one line for the log, to refuse.  @in identifies the stream in the
 *	other calls and in vs_tun_in_send_*() until END, ABORT or CLOSED.
 * @frame:	destination: a FRAME of @in, in order; seq below the
 *	accepted next_expected is a resend the callback drops and counts
 * @in_event:	destination: @in had @ev; @seq is BARRIER's or END's
 * @out_event:	source: stream @s of @vm had @ev; @reason for REJECTED
 *	(VS_TUN_REJECT_NONE for a reason this version does not know)
 * @expect:	automatic mode: @peer says it is the destination of @vm (MAC
 *	@mac); return false if it is wrong (a VM of that name here has
 *	another MAC: port names are local to each host), which the tunnel
 *	counts and logs; an EXPECT for a VM not here is no error (EXPECTs go
 *	to every peer): return true
 * @peer_event: a connection was authenticated, or an authenticated one
 *	is gone; a PEER_LOST always follows a PEER_CONNECTED of the same one
 * @source_direct: source: SOURCE_DIRECT on stream @s of @vm: frames from
 *	the address @addr (@af: enum vs_tun_src_af, checked) now reach the
 *	destination directly.  May be NULL (ignored).
 * @source_barrier: destination: SOURCE_BARRIER on @in: every straggler
 *	from @addr (@af, checked) the source will send has a seq <=
 *	@last_seq, and every frame <= @last_seq has come (through @frame)
 *	before it; the stream goes on.  May be NULL (ignored).
 * @conns:	destination: CONNS on @in: @n (1..VS_TUN_CONNS_MAX) of the
 *	VM's TCP connections as the source knew them (each record checked by
 *	vs_tun_conn_check(); the VM's MAC is the callee's to check).  May be
 *	NULL (ignored).
 */
struct vs_tun_ops {
	enum vs_tun_reject (*stream_open)(void *opaque, struct vs_tun_in *in, const char *vm,
					  const uint8_t mac[6], const char *peer,
					  uint64_t *next_expected, GError **error);
	void (*frame)(void *opaque, struct vs_tun_in *in, const char *vm, uint64_t seq,
		      uint8_t origin, const uint8_t *data, uint32_t len);
	void (*in_event)(void *opaque, struct vs_tun_in *in, const char *vm,
			 enum vs_tun_in_event ev, uint64_t seq);
	void (*out_event)(void *opaque, struct vs_tun_stream *s, const char *vm,
			  enum vs_tun_out_event ev, enum vs_tun_reject reason);
	bool (*expect)(void *opaque, const char *vm, const uint8_t mac[6], const char *peer);
	void (*peer_event)(void *opaque, const struct vs_tun_peer_event *ev);
	void (*source_direct)(void *opaque, struct vs_tun_stream *s, const char *vm,
			      uint8_t af, const uint8_t addr[16]);
	void (*source_barrier)(void *opaque, struct vs_tun_in *in, const char *vm,
			       uint64_t last_seq, uint8_t af, const uint8_t addr[16]);
	void (*conns)(void *opaque, struct vs_tun_in *in, const char *vm,
		      const struct vs_tun_conn *conns, size_t n);
};

/* --- the endpoint ---------------------------------------------------------- */

/**
 * struct vs_tun_peer_cfg - a peer shim
 * @name:	its node name
 * @address:	"IP:port" of its listener ("localhost" is 127.0.0.1)
 */
struct vs_tun_peer_cfg {
	const char *name;
	const char *address;
};

/**
 * struct vs_tun_cfg - what vs_tun_new() needs (copied; main.c fills it
 * from [tunnel] and [peer NAME])
 * @node_name:	our name towards peers
 * @listen:	"IP:port" to accept peers on, NULL for none; port 0 takes
 *		any free port (vs_tun_listen_port())
 * @key_file:	pre-shared key file, NULL for none (x509 only)
 * @tls:	x509: certificates authenticate the TLS sessions (else the
 *		pre-shared key does)
 * @tls_ca/@tls_cert/@tls_key: its files, with @tls
 * @tls_crl:	with @tls, a CRL of the CA, NULL for none
 * @tls_crl_optional: @tls_crl is used only if it exists (the default name
 *		in tls-dir), checked again at each reload
 * @peers/@n_peers: the peers
 * @keepalive_ms: PING a connection idle this long (0: VS_TUN_KEEPALIVE_MS)
 * @keepalive_timeout_ms: close one silent this long (0:
 *		VS_TUN_KEEPALIVE_TIMEOUT_MS); more than @keepalive_ms
 */
struct vs_tun_cfg {
	const char *node_name;
	const char *listen;
	const char *key_file;
	bool tls;
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_crl;
	bool tls_crl_optional;
	const struct vs_tun_peer_cfg *peers;
	unsigned int n_peers;
	unsigned int keepalive_ms;
	unsigned int keepalive_timeout_ms;
};

/**
 * vs_tun_new() - load the key or the TLS credentials, start listening
 * @cfg:	configuration; without a listener or a peer, nothing is loaded
 *		and the tunnel is idle (migrations buffer locally only)
 * @ops:	callbacks, kept (static storage)
 * @opaque:	their first argument
 * @error:	set on failure
 *
 * Return: the tunnel, or NULL with @error set
 */
struct vs_tun *vs_tun_new(const struct vs_tun_cfg *cfg, const struct vs_tun_ops *ops,
			  void *opaque, GError **error);

/**
 * vs_tun_free() - close every connection (ERROR(SHUTDOWN)), free the
 * streams, peers and listener
 * @t:		tunnel, or NULL
 */
void vs_tun_free(struct vs_tun *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_tun, vs_tun_free)

/**
 * vs_tun_reload() - read the key file, or the CA, CRL, certificate and key,
 * again (SIGHUP): new connections use them, established ones keep the
 * credentials they were made with, except that with certificates a peer
 * whose certificate no longer verifies (revoked by the new CRL, or from
 * a CA no longer trusted) is disconnected, with one log line each
 * @t:		tunnel, or NULL (nothing to do)
 * @error:	set, and the credentials in use left alone, if the new ones
 *		are refused (the same checks as at startup)
 *
 * Return: TRUE on success, and without a tunnel
 */
gboolean vs_tun_reload(struct vs_tun *t, GError **error);

/**
 * vs_tun_add_peer() - configure one more peer
 * @t:		tunnel
 * @name:	its node name, not configured yet
 * @address:	"IP:port"
 * @error:	set if the address does not parse or the name is taken
 *
 * Return: TRUE on success
 */
gboolean vs_tun_add_peer(struct vs_tun *t, const char *name, const char *address,
			 GError **error);

/* Security consideration: peers learned at run time (vs_tun_peer_upsert()) */
#define VS_TUN_MAX_LEARNED_PEERS	1024

/**
 * vs_tun_peer_upsert() - a peer learned at run time (the [discovery]
 * registry): add it, or give a known peer this address for its next
 * connection.  On the connections we open to such a peer, the peer must
 * authenticate as @name (HELLO, and the certificate with tls=x509), or the
 * connection is refused and counted (auth_failures): the registry says
 * where to dial, the tunnel decides who answers.  A peer added here gets
 * no EXPECT (vs_tun_announce_expect() goes to configured peers).  Beyond
 * VS_TUN_MAX_LEARNED_PEERS, an idle learned peer (no connection, stream
 * or EXPECT) makes room.
 * @t:		tunnel, with a listener or peers (enabled)
 * @name:	node name
 * @address:	"IP:port"
 * @error:	set if the tunnel is off, the address does not parse, or no
 *		learned peer is idle
 *
 * Return: TRUE on success
 */
gboolean vs_tun_peer_upsert(struct vs_tun *t, const char *name, const char *address,
			    GError **error);

/**
 * vs_tun_listen_port() - the port the listener is bound to
 * @t:		tunnel
 *
 * Return: the port, 0 without a listener
 */
guint16 vs_tun_listen_port(const struct vs_tun *t);

/**
 * vs_tun_has_peer() - is @peer a configured peer name
 * @t:		tunnel, or NULL
 * @peer:	name
 *
 * Return: true if known
 */
bool vs_tun_has_peer(const struct vs_tun *t, const char *peer);

/**
 * vs_tun_announce_expect() - tell every configured peer (not those learned
 * from the registry) "VM @vm comes to me"
 * @t:		tunnel
 * @vm:		VM name
 * @mac:	its MAC
 */
void vs_tun_announce_expect(struct vs_tun *t, const char *vm, const uint8_t mac[6]);

/* --- source side (tunnel_stream.c) --- */

/**
 * vs_tun_stream_open() - open an outgoing stream for a VM to @peer;
 * VM_OPEN goes out now or once the connection is up (it is opened if need
 * be)
 * @t:		tunnel
 * @peer:	configured peer name
 * @vm:		the VM's name (copied)
 * @mac:	its MAC (copied)
 *
 * Return: the stream, or NULL if @peer is not configured
 */
struct vs_tun_stream *vs_tun_stream_open(struct vs_tun *t, const char *peer, const char *vm,
					 const uint8_t mac[6]);

/**
 * vs_tun_stream_can_push() - should the pump push more frames now
 * @s:		stream
 *
 * Return: true if the destination accepted the stream and the
 * connection's output queue is below VS_TUN_SEND_QUEUE_MAX
 */
bool vs_tun_stream_can_push(const struct vs_tun_stream *s);

/**
 * vs_tun_stream_push() - append one frame (copied) with the next sequence
 * number, retain it and send it as soon as the connection takes it
 * @s:		stream
 * @origin:	VS_TUN_ORIGIN_*
 * @data:	frame
 * @len:	its bytes, VS_TUN_MIN_FRAME..VS_TUN_MAX_FRAME
 */
void vs_tun_stream_push(struct vs_tun_stream *s, uint8_t origin, const void *data, uint32_t len);

/**
 * vs_tun_stream_push_at() - vs_tun_stream_push() of a frame whose arrival
 * time is known
 * @s:		stream
 * @origin:	VS_TUN_ORIGIN_*
 * @data:	frame
 * @len:	its length
 * @arrival_us:	when it reached this host, in g_get_monotonic_time()
 *		units (0: unknown); its age goes with it to a peer that
 *		offered frame-times
 */
void vs_tun_stream_push_at(struct vs_tun_stream *s, uint8_t origin, const void *data,
			   uint32_t len, int64_t arrival_us);

/**
 * vs_tun_stream_commit() - the VM runs at the destination (RESUMED): from
 * now on acked frames are freed, since no rollback can need them
 * @s:		stream
 */
void vs_tun_stream_commit(struct vs_tun_stream *s);

/**
 * vs_tun_stream_barrier() - send BARRIER with the last sequence number
 * pushed, right behind that frame: at once if every frame pushed is in the
 * connection's output queue, otherwise as soon as they are (a BARRIER
 * never overtakes a straggler waiting for room).  Only if the stream is
 * accepted on a ready connection.
 * @s:		stream
 *
 * Return: that sequence number (0: none yet), or -1 if nothing will be
 * sent (the destination repeats LIVE_SEEN on the next connection)
 */
int64_t vs_tun_stream_barrier(struct vs_tun_stream *s);

/**
 * vs_tun_stream_take_back() - rollback: send ABORT, free the stream
 * @s:		stream, freed
 *
 * Return: every retained frame (struct vs_tun_frame *, seq order; the
 * caller owns the queue and the frames)
 */
GQueue *vs_tun_stream_take_back(struct vs_tun_stream *s);

/**
 * vs_tun_stream_close() - end the stream and free it with its frames
 * @s:		stream, freed
 * @send_end:	send END (migration done), otherwise ABORT
 *
 * Return: the frames pushed that the destination will not deliver, for
 * the caller to count as dropped: with @send_end on a stream accepted on a
 * ready connection, those not written to the connection yet (the tunnel
 * was slower than the traffic); with @send_end otherwise, every frame it
 * has not acknowledged; without @send_end (ABORT: it drops them all),
 * every frame still retained
 */
uint64_t vs_tun_stream_close(struct vs_tun_stream *s, bool send_end);

/**
 * vs_tun_stream_retained() - frames the stream still holds
 * @s:		stream, or NULL
 *
 * Return: count; 0 without a stream
 */
uint64_t vs_tun_stream_retained(const struct vs_tun_stream *s);

/**
 * vs_tun_stream_connected() - is the stream accepted on a live,
 * authenticated connection
 * @s:		stream, or NULL
 *
 * Return: true if so
 */
bool vs_tun_stream_connected(const struct vs_tun_stream *s);

/**
 * vs_tun_stream_retry() - @peer announced (EXPECT) that it is the
 * destination of the stream's VM: if it refused the stream earlier, ask
 * again, and if the connection is down waiting for its backoff, reconnect
 * now.  A restarted destination refuses a stream it is not re-armed for
 * yet; its EXPECT says it is armed now.
 * @s:		outgoing stream
 * @peer:	authenticated name of the peer that sent EXPECT
 *
 * Return: false if @s goes to another peer (nothing done)
 */
bool vs_tun_stream_retry(struct vs_tun_stream *s, const char *peer);

/**
 * struct vs_tun_stats - tunnel-wide counters (main loop)
 */
struct vs_tun_stats {
	uint64_t connections_accepted;
	uint64_t connections_opened;
	uint64_t auth_failures;		/* peers refused by the handshake, TLS included */
	uint64_t tls_failures;		/* of those, refused by TLS (certificate, handshake) */
	uint64_t handshake_timeouts;	/* of those, not done within the deadline */
	uint64_t tls_record_errors;	/* records that did not verify after the handshake:
					 * changed, spliced in or replayed on the way */
	uint64_t version_refusals;	/* peers that speak another protocol version (v1) */
	uint64_t preauth_refused;	/* accepted, closed at once: their address had
					 * VS_TUN_PREAUTH_PER_SOURCE handshakes running */
	uint64_t preauth_evicted;	/* handshakes closed to make room for a newer one */
	uint64_t authed_refused;	/* authenticated beyond VS_TUN_AUTHED_MAX */
	uint64_t slow_readers;		/* closed: the peer did not read what we queued */
	uint64_t reloads;		/* credentials reloaded (vs_tun_reload()) */
	uint64_t protocol_errors;
	uint64_t streams_rejected;
	uint64_t reconnects;
	uint64_t send_queue_full;
	uint64_t expects_refused;	/* EXPECTs the layer above found wrong */
	uint64_t keepalive_timeouts;	/* connections closed as silent */
	uint64_t frame_times_rejected;	/* FRAME_TIMES whose time was not believed
					 * (tunnel_clock.c): delivered untimed */
};

/**
 * vs_tun_get_stats() - the tunnel's counters
 * @t:		tunnel
 *
 * Return: them, owned by @t
 */
const struct vs_tun_stats *vs_tun_get_stats(const struct vs_tun *t);

/**
 * vs_tun_peer_connected() - is there an authenticated connection to @peer
 * @t:		tunnel
 * @peer:	peer name
 *
 * Return: true if up
 */
bool vs_tun_peer_connected(const struct vs_tun *t, const char *peer);

/* --- destination side (tunnel_stream.c) --- */

/**
 * vs_tun_in_send_resumed() - tell the source the VM runs here (RESUMED);
 * nothing is sent if the stream's connection is not ready
 * @in:		incoming stream
 */
void vs_tun_in_send_resumed(struct vs_tun_in *in);

/**
 * vs_tun_in_frame_arrival_us() - inside the frame callback: when the frame
 * reached the source's network, estimated in this host's clock
 * @in:		the stream the callback got
 *
 * The source's shim sends it only if both HELLOs offered the frame-times
 * extension (docs/tunnel-protocol.md 3.11): the frame's age at the source
 * and the source's clock when it sent it; the offset between the clocks
 * is the smallest (receipt - sent) the connection has seen in the last
 * 30 to 60 s that another sample within 5 ms confirms, whichever stream it
 * was on (tunnel_clock.c), so queueing on the way only makes one frame's
 * estimate later than it was, not the next ones' once a second fast frame
 * confirmed the fastest, and one far-ahead sent time only its own frame's.
 * A resent frame already received gets no time.
 *
 * Return: g_get_monotonic_time() units, or 0 if the frame came without
 * times or with times not believed (counted: frame_times_rejected)
 */
int64_t vs_tun_in_frame_arrival_us(const struct vs_tun_in *in);

/**
 * vs_tun_set_frame_times() - offer the frame-times HELLO extension on the
 * connections made from now on (default: on); tests play an older peer
 * @t:		tunnel
 * @on:		offer it
 */
void vs_tun_set_frame_times(struct vs_tun *t, bool on);

/**
 * vs_tun_in_send_live_seen() - tell the source live frames reached the VM
 * here (LIVE_SEEN), so it sends a BARRIER after its stragglers; nothing is
 * sent if the stream's connection is not ready
 * @in:		incoming stream
 */
void vs_tun_in_send_live_seen(struct vs_tun_in *in);

/* What became of a message its caller may offer again */
enum vs_tun_send_result {
	VS_TUN_SEND_NEVER = -1,	/* the peer cannot take it (an extension it lacks) */
	VS_TUN_SEND_LATER = 0,	/* not now: the connection not ready, or its queue full */
	VS_TUN_SEND_DONE = 1,	/* queued */
};

/**
 * vs_tun_in_send_source_direct() - tell the source that frames from @addr
 * now reach the VM here directly (SOURCE_DIRECT), so it stops tunnelling
 * that source's stragglers (docs/migration.md)
 * @in:		incoming stream
 * @af:		enum vs_tun_src_af
 * @addr:	16 bytes, an IPv4 address in the first 4 and the rest zero
 *
 * Sent only on a ready connection whose two HELLOs offered the
 * source-direct extension: an older source never gets it (it tunnels
 * until its linger-ms, as before); and only while the connection's output
 * queue is below VS_TUN_SEND_QUEUE_MAX.
 *
 * Return: VS_TUN_SEND_DONE if it was queued; VS_TUN_SEND_LATER if not
 * now (the connection is not ready, or its queue is full): the caller
 * keeps it; VS_TUN_SEND_NEVER if the peer cannot take it
 */
enum vs_tun_send_result vs_tun_in_send_source_direct(struct vs_tun_in *in, uint8_t af,
						     const uint8_t addr[16]);

/**
 * vs_tun_set_source_direct() - offer the source-direct HELLO extension on
 * the connections made from now on (default: on); tests play an older peer
 * @t:		tunnel
 * @on:		offer it
 */
void vs_tun_set_source_direct(struct vs_tun *t, bool on);

/**
 * vs_tun_set_source_barrier() - offer the source-barrier HELLO extension on
 * the connections made from now on (default: on; off plays an older
 * peer); offered only together with source-direct
 * @t:		tunnel
 * @on:		offer it
 */
void vs_tun_set_source_barrier(struct vs_tun *t, bool on);

/**
 * vs_tun_stream_source_barrier_ok() - may @s carry SOURCE_BARRIER now
 * @s:		outgoing stream, or NULL
 *
 * Return: true if it is accepted on a ready connection whose two HELLOs
 * offered source-barrier
 */
bool vs_tun_stream_source_barrier_ok(const struct vs_tun_stream *s);

/**
 * vs_tun_stream_source_barrier() - tell the destination that the
 * stragglers from @addr end here (SOURCE_BARRIER, docs/tunnel-protocol.md
 * 3.13): it goes to the connection right behind the last frame pushed so
 * far, never ahead of one still waiting for room, and follows the resent
 * frames if the connection goes before it is written
 * @s:		outgoing stream, or NULL (-1)
 * @af:		enum vs_tun_src_af
 * @addr:	16 bytes, an IPv4 address in the first 4 and the rest zero
 *
 * Return: the seq it names (the last frame pushed, 0 if none), or -1 if
 * it cannot go: not vs_tun_stream_source_barrier_ok(), a bad address, or
 * VS_TUN_SOURCE_BARRIERS_MAX already waiting
 */
int64_t vs_tun_stream_source_barrier(struct vs_tun_stream *s, uint8_t af, const uint8_t addr[16]);

/**
 * vs_tun_in_source_barrier_ok() - did both HELLOs of @in's connection offer
 * source-barrier (so the source may send SOURCE_BARRIER on it)
 * @in:		incoming stream, or NULL
 *
 * Return: true if so and the connection is ready
 */
bool vs_tun_in_source_barrier_ok(const struct vs_tun_in *in);

/**
 * vs_tun_set_tcp_conns() - offer the tcp-conns HELLO extension on the
 * connections made from now on (default: on; tests turn it off to play an
 * older peer)
 * @t:		tunnel
 * @on:		offer it
 */
void vs_tun_set_tcp_conns(struct vs_tun *t, bool on);

/**
 * vs_tun_stream_conns_ok() - can @s carry CONNS now: the destination
 * accepted it, on a connection whose two HELLOs offered tcp-conns
 * @s:		outgoing stream, or NULL
 *
 * Return: true if so
 */
bool vs_tun_stream_conns_ok(const struct vs_tun_stream *s);

/**
 * vs_tun_stream_conns() - give the stream the VM's TCP connections to send
 * as CONNS (tunnel_conns.c): a copy, replacing any earlier one, written on
 * this connection and again on every later one the stream is accepted on
 * @s:		outgoing stream
 * @conns:	records; invalid ones (vs_tun_conn_check()) are left out
 * @n:		number of @conns
 *
 * Return: records kept; 0 if vs_tun_stream_conns_ok() is false (nothing kept)
 */
size_t vs_tun_stream_conns(struct vs_tun_stream *s, const struct vs_tun_conn *conns, size_t n);

#endif /* VS_TUNNEL_H */
