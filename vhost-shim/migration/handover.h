/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover.h - turns migration state changes into actions
 *
 * Theory of operation: the main loop owns every VM's struct vs_handover.
 * vhost events, control commands, tunnel messages and timers become
 * migration events (migration.h); each accepted transition runs the
 * actions of the state entered: switch the lcore's mode (LIVE, BUFFER,
 * REPLAY), open/commit/abort the tunnel stream, arm timers, emit control
 * events.  A 1 ms pump timer runs while any VM has frames to move:
 *   - source: lcore ring held (vm->dp) -> tunnel stream (copies; the mbufs go
 *     back to the VM's pool at once, so a long blackout costs heap memory
 *     bounded by the caps, not mbufs);
 *   - replay: retained or tunnelled frames -> the inject ring, paced by its
 *     free space, so a slow guest slows the replay instead of losing frames.
 *
 * The handover reaches the lcore only through dp_handshake.h (mode,
 * episodes, replay, drain, announce, the rings, the duplicate filter),
 * which documents who writes and reads each shared word.
 */
#ifndef VS_HANDOVER_H
#define VS_HANDOVER_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>

#include "migration.h"
#include "tunnel.h"

struct vs_vm;
struct vs_vhost_event;
struct vs_tun_conn;

/**
 * vs_ho_attach() - give a new port its rings and handover state
 * @vm:		port (pool allocated, not yet published)
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_ho_attach(struct vs_vm *vm, GError **error);

/**
 * vs_ho_pool_extra() - mbufs a port's pool needs for buffering and replay
 * @pc:		port configuration
 *
 * Return: number of mbufs on top of what the rings need
 */
struct vs_port_cfg;
unsigned int vs_ho_pool_extra(const struct vs_port_cfg *pc);

/**
 * vs_ho_detach() - free rings, frames and timers of a port that no lcore
 * can see any more
 * @vm:		port
 */
void vs_ho_detach(struct vs_vm *vm);

/**
 * vs_ho_vhost_event() - feed a vhost callback into the state machine
 * @vm:		port
 * @ev:		what the vhost thread saw
 */
void vs_ho_vhost_event(struct vs_vm *vm, const struct vs_vhost_event *ev);

/**
 * vs_ho_device_gone_sync() - vhost thread, in destroy_device(): start
 * buffering at once, before the main loop hears of it, so that no frame
 * falls into the gap (every device-down transition buffers anyway)
 * @vm:		port
 */
void vs_ho_device_gone_sync(struct vs_vm *vm);

/**
 * vs_ho_expect() - arm this host as the destination of @vm
 * @vm:		port (created before the migration, as libvirt does)
 * @peer:	the source's peer name, or NULL for any authenticated peer
 * @error:	set if the port cannot be armed now
 *
 * Return: TRUE on success
 */
gboolean vs_ho_expect(struct vs_vm *vm, const char *peer, GError **error);

/**
 * vs_ho_set_peer() - on the source: @vm will migrate to @peer
 * @vm:		port
 * @peer:	configured peer name
 * @error:	set if @peer is unknown
 *
 * Return: TRUE on success
 */
gboolean vs_ho_set_peer(struct vs_vm *vm, const char *peer, GError **error);

/**
 * vs_ho_cancel() - disarm: drop the expectation or the peer
 * @vm:		port
 */
void vs_ho_cancel(struct vs_vm *vm);

/**
 * vs_ho_peer_name() - the source's destination peer, if known
 * @vm:		port
 *
 * Return: name or NULL
 */
const char *vs_ho_peer_name(const struct vs_vm *vm);

/**
 * vs_ho_buffered_now() - frames held right now for @vm (lcore ring,
 * retained copies, frames waiting to be injected)
 * @vm:		port
 *
 * Return: count
 */
uint64_t vs_ho_buffered_now(const struct vs_vm *vm);

/**
 * vs_ho_replay_running() - does a migration's replay still deliver a
 * backlog to @vm: replaying, or the frames held behind its mark after it
 * ended (its tail: the data plane still in REPLAY with frames left)
 * @vm:		port
 *
 * Return: true if one does
 */
bool vs_ho_replay_running(const struct vs_vm *vm);

/**
 * vs_ho_backlog_shrink() - how fast the backlog of the replay under way
 * shrank in the last window: the change of vs_ho_buffered_now() over a
 * timer's period of about VS_HO_SHRINK_WINDOW_MS, since inject was
 * closed (before that, held waits behind the tunnel's frames)
 * @vm:		port whose replay runs (vs_ho_replay_running())
 * @pps:	output: frames per second the backlog shrank by (negative:
 *		it grew)
 *
 * Every way out of the backlog counts (delivered, a duplicate, a drop at
 * the caps) and every way in (live frames held behind, tunnelled frames,
 * stragglers): no rate of the ways in is subtracted from one of the ways
 * out (review 87, 1).  Sampled by the main loop's timer, not by readers,
 * so every client sees the same window (review 88, M2).
 *
 * Return: true if @pps is a window's of this replay
 */
#define VS_HO_SHRINK_WINDOW_MS 100
bool vs_ho_backlog_shrink(const struct vs_vm *vm, int64_t *pps);

/**
 * vs_ho_set_event_cb() - where migration events go (control socket)
 * @cb:		called with an event name, the VM (NULL for an event about a
 *		peer, not a port) and a JSON object (consumed); returns false
 *		if the event was not sent (BUFFER_OVERFLOW is rate-limited)
 */
typedef bool (*vs_ho_event_cb)(const char *event, struct vs_vm *vm, void *json_obj);
void vs_ho_set_event_cb(vs_ho_event_cb cb);

/**
 * vs_ho_set_state_cb() - who hears of every accepted state change of
 * every port, after its actions ran (main.c: the [discovery] glue)
 * @cb:		called with the port, its old state and the event; NULL: none
 */
typedef void (*vs_ho_state_cb)(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev);
void vs_ho_set_state_cb(vs_ho_state_cb cb);

/**
 * vs_ho_learn_peer() - the registry says @vm goes to @peer: make it the
 * destination, as migrate-set-peer does, and if @peer refused our stream
 * earlier (not armed yet), ask again (handover_disc.c)
 * @vm:		port
 * @peer:	a peer the tunnel knows
 * @error:	set if it does not
 *
 * Return: TRUE on success
 */
gboolean vs_ho_learn_peer(struct vs_vm *vm, const char *peer, GError **error);

/**
 * vs_ho_forget_peer() - the registry withdrew @peer as @vm's destination:
 * forget it, unless a migration is using it (handover_disc.c)
 * @vm:		port
 * @peer:	the destination withdrawn
 *
 * Return: true if it was forgotten
 */
bool vs_ho_forget_peer(struct vs_vm *vm, const char *peer);

/**
 * vs_ho_set_expect_timeout() - how long an armed destination waits for its
 * VM ([migration] expect-timeout-ms); applies to expectations armed after
 * the call
 * @ms:		milliseconds, > 0
 */
void vs_ho_set_expect_timeout(unsigned int ms);

/**
 * vs_ho_set_tunnel() - the tunnel that streams go through (main.c's)
 * @t:		tunnel, or NULL (no streams: every peer is unknown)
 */
void vs_ho_set_tunnel(struct vs_tun *t);

/*
 * The tunnel's callbacks (struct vs_tun_ops in tunnel.h, which documents
 * them), implemented by handover_tun.c; main.c puts them in the table it
 * gives vs_tun_new(), with its own peer_event.  @opaque is unused.
 */
enum vs_tun_reject vs_ho_tun_open(void *opaque, struct vs_tun_in *in, const char *vm_name,
				  const uint8_t mac[6], const char *peer,
				  uint64_t *next_expected, GError **error);
void vs_ho_tun_frame(void *opaque, struct vs_tun_in *in, const char *vm_name, uint64_t seq,
		     uint8_t origin, const uint8_t *data, uint32_t len);
void vs_ho_tun_in_event(void *opaque, struct vs_tun_in *in, const char *vm_name,
			enum vs_tun_in_event ev, uint64_t seq);
void vs_ho_tun_out_event(void *opaque, struct vs_tun_stream *s, const char *vm_name,
			 enum vs_tun_out_event ev, enum vs_tun_reject reason);

/**
 * vs_ho_tun_source_direct() - source: the destination reports that frames
 * from @addr reach it directly (SOURCE_DIRECT; handover_stragglers.c)
 * @opaque:	unused
 * @s:		the stream it came on (ignored unless it is the port's)
 * @vm_name:	port
 * @af:		enum vs_tun_src_af (checked by the decoder)
 * @addr:	the address, 16 bytes
 */
void vs_ho_tun_source_direct(void *opaque, struct vs_tun_stream *s, const char *vm_name,
			     uint8_t af, const uint8_t addr[16]);
/**
 * vs_ho_tun_source_barrier() - destination: SOURCE_BARRIER on @in: every
 * straggler from @addr has a seq <= @last_seq and has come
 * (handover_source_hold.c)
 * @opaque:	unused
 * @in:		the stream it came on (ignored unless it is the port's)
 * @vm_name:	port
 * @last_seq:	checked by the tunnel: received already
 * @af:		enum vs_tun_src_af (checked by the decoder)
 * @addr:	the address, 16 bytes
 */
void vs_ho_tun_source_barrier(void *opaque, struct vs_tun_in *in, const char *vm_name,
			      uint64_t last_seq, uint8_t af, const uint8_t addr[16]);
/**
 * vs_ho_tun_conns() - destination: CONNS on @in: the VM's TCP connections
 * as the source knew them, for the lcore's table (handover_conns.c)
 * @opaque:	unused
 * @in:		the stream it came on (refused unless it is the port's)
 * @vm_name:	port
 * @conns:	records (checked by the decoder, but for the VM's MAC)
 * @n:		number of @conns
 */
void vs_ho_tun_conns(void *opaque, struct vs_tun_in *in, const char *vm_name,
		     const struct vs_tun_conn *conns, size_t n);
bool vs_ho_tun_expect(void *opaque, const char *vm_name, const uint8_t mac[6],
		      const char *peer);

#endif /* VS_HANDOVER_H */
