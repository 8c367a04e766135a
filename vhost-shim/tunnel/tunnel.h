/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel.h - the authenticated TCP tunnel between shims (transport)
 *
 * Theory of operation: each shim listens on one TCP address and connects
 * to peers named in its configuration.  A connection carries the messages
 * of include/vhost-shim/tunnel_wire.h (codec: tunnel_proto.h); after a mutual
 * HMAC handshake it multiplexes one *stream* per migrating VM.
 *
 * Source side: handover.c opens an outgoing stream when it knows the
 * destination (at migration start, before the blackout), pushes frames in
 * order, and the stream keeps every frame until the destination has acked
 * it *and* reported the VM running (RESUMED).  If the connection breaks it
 * reconnects and resends from the destination's next expected sequence
 * number, so frames are neither lost nor duplicated.  On rollback the
 * frames come back to handover.c in order (vs_tun_stream_take_back()).
 *
 * Destination side: a VM_OPEN is accepted only for a VM handover.c
 * expects (vs_ho_tun_open()); frames go to vs_ho_tun_frame() in order,
 * duplicates (seq below next expected) are dropped and counted.
 *
 * All of it runs on the GLib main loop; nothing here blocks.  Memory is
 * bounded by the senders' buffer caps plus VS_TUN_SEND_QUEUE_MAX per
 * connection.
 */
#ifndef VS_TUNNEL_H
#define VS_TUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

struct vs_cfg;
struct vs_vm;
struct vs_tun_stream;
struct vs_tun_in;

/* Security consideration: per-connection memory for unsent bytes */
#define VS_TUN_SEND_QUEUE_MAX	(4u << 20)
#define VS_TUN_RECONNECT_MIN_MS	100
#define VS_TUN_RECONNECT_MAX_MS	2000

/* A frame the source keeps until it is acked and committed */
struct vs_tun_frame {
	uint64_t seq;
	uint8_t origin;		/* VS_TUN_ORIGIN_* */
	uint32_t len;
	uint8_t data[];
};

/**
 * vs_tun_init() - load the key and the TLS credentials, start listening
 * @cfg:	daemon configuration ([tunnel], [peer NAME])
 * @error:	set on failure
 *
 * Return: TRUE on success (also when no tunnel is configured)
 */
gboolean vs_tun_init(const struct vs_cfg *cfg, GError **error);
void vs_tun_fini(void);

/**
 * vs_tun_has_peer() - is @peer a configured peer name
 * @peer:	name
 *
 * Return: true if known
 */
bool vs_tun_has_peer(const char *peer);

/**
 * vs_tun_announce_expect() - tell every configured peer "VM @vm comes to me"
 * @vm:		VM name
 * @mac:	its MAC
 */
void vs_tun_announce_expect(const char *vm, const uint8_t mac[6]);

/* --- source side (tunnel_stream.c) --- */

/**
 * vs_tun_stream_open() - open an outgoing stream for @vm to @peer; VM_OPEN
 * goes out now or once the connection is up (it is opened if need be)
 * @peer:	configured peer name
 * @vm:		the migrating VM (its name and MAC are copied)
 *
 * Return: the stream, or NULL if @peer is not configured
 */
struct vs_tun_stream *vs_tun_stream_open(const char *peer, struct vs_vm *vm);

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
 * vs_tun_stream_commit() - the VM runs at the destination (RESUMED): from
 * now on acked frames are freed, since no rollback can need them
 * @s:		stream
 */
void vs_tun_stream_commit(struct vs_tun_stream *s);

/**
 * vs_tun_stream_barrier() - send BARRIER with the last sequence number
 * sent, if the stream is open on a ready connection
 * @s:		stream
 *
 * Return: that sequence number (0: none yet), or -1 if nothing was sent
 * (the destination repeats LIVE_SEEN on the next connection)
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
 */
void vs_tun_stream_close(struct vs_tun_stream *s, bool send_end);

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
	uint64_t protocol_errors;
	uint64_t streams_rejected;
	uint64_t reconnects;
	uint64_t send_queue_full;
};

const struct vs_tun_stats *vs_tun_get_stats(void);

/**
 * vs_tun_peer_connected() - is there an authenticated connection to @peer
 * @peer:	peer name
 *
 * Return: true if up
 */
bool vs_tun_peer_connected(const char *peer);

/* --- destination side (tunnel_stream.c) --- */

/**
 * vs_tun_in_send_resumed() - tell the source the VM runs here (RESUMED);
 * nothing is sent if the stream's connection is not ready
 * @in:		incoming stream
 */
void vs_tun_in_send_resumed(struct vs_tun_in *in);

/**
 * vs_tun_in_send_live_seen() - tell the source live frames reached the VM
 * here (LIVE_SEEN), so it sends a BARRIER after its stragglers; nothing is
 * sent if the stream's connection is not ready
 * @in:		incoming stream
 */
void vs_tun_in_send_live_seen(struct vs_tun_in *in);

/* --- implemented by handover_tun.c, called by the tunnel (main loop) --- */

/**
 * vs_ho_tun_open() - a peer opens a stream for a VM: do we expect it?
 * @vm_name:	VM name from VM_OPEN
 * @mac:	its MAC from VM_OPEN (must match the port's)
 * @peer:	authenticated peer name
 * @in:		the tunnel's stream, for replies
 * @next_expected: output: first sequence number not yet received
 * @error:	set with the reason on refusal
 *
 * Return: true to accept
 */
bool vs_ho_tun_open(const char *vm_name, const uint8_t mac[6], const char *peer,
		    struct vs_tun_in *in, uint64_t *next_expected, GError **error);
/* A new frame (seq == next expected), in order */
void vs_ho_tun_frame(const char *vm_name, uint64_t seq, uint8_t origin, const uint8_t *data,
		     uint32_t len);
/* ABORT, BARRIER or END from the source (VS_TUN_MSG_*) */
void vs_ho_tun_in_msg(const char *vm_name, int msg_type);
/* the connection carrying @in is gone */
void vs_ho_tun_in_closed(const char *vm_name, struct vs_tun_in *in);
/* RESUMED, LIVE_SEEN or VM_REJECT for our outgoing stream */
void vs_ho_tun_out_msg(const char *vm_name, int msg_type);
/* automatic mode: @peer says it is the destination of @vm_name */
void vs_ho_tun_expect(const char *vm_name, const char *peer);
/*
 * a connection to or from @peer was authenticated (@up) or, having been
 * authenticated, is gone (@reason); @address is the other end's "IP:port",
 * @ports the VMs whose streams it carries (NULL-terminated, may be empty).
 * Becomes the PEER_CONNECTED / PEER_LOST control event.
 */
void vs_ho_tun_peer_event(bool up, const char *peer, const char *address, bool outgoing,
			  const char *const *ports, const char *reason);

#endif /* VS_TUNNEL_H */
