/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_tun.c - the tunnel's callbacks into the handover
 *
 * Theory of operation: the tunnel (tunnel.h) calls these through its
 * table of callbacks (struct vs_tun_ops, which main.c fills with them) on
 * the main loop, for what arrives on its streams; each looks the VM up by
 * name, since a port may have been removed meanwhile (then the call does
 * nothing).  The tunnel's peer events go to main.c, not here.
 *
 * Destination: vs_ho_tun_open() admits a stream only for a port that
 * expects a migration (from that peer, if one was named) and whose MAC
 * matches, or one whose stream broke and may resume; it answers with the
 * first sequence number not yet received, so a reconnect neither loses
 * nor repeats a frame.  vs_ho_tun_frame() appends frames to the replay
 * queue, bounded by the buffer policy's caps; a frame beyond them is
 * counted as BUFFER_FULL, a repeat as a tunnel duplicate, one larger than
 * the port carries (its MTU, vs_port_cfg_max_frame()) as OVERSIZE, never
 * silently lost.  ABORT rolls the expectation back, BARRIER/END let the replay
 * finish the tunnelled frames and move on to live ones.  A frame of a
 * stream that is no longer the port's (its expectation ended by timeout,
 * cancel or ABORT, it ENDed, or a new expectation began) is discarded and
 * counted (tunnel-frames-discarded), never injected behind live frames.
 * SOURCE_BARRIER, and whether the lcore may hold a source's direct frames
 * for it, are handover_source_hold.c's.
 *
 * Source: RESUMED commits the migration (PEER_RESUMED); LIVE_SEEN asks
 * the pump for a BARRIER, sent once the lcore has emptied the uplink's
 * queues and the stream has all they held, so stragglers reach the guest
 * before live frames.  An EXPECT (automatic
 * mode) for a port with that name *and MAC* (port names are local to each
 * host) names the destination of a VM, as migrate-set-peer does, and
 * re-opens a stream that peer refused (a destination restarted during the
 * blackout refuses it until it is armed again).
 */
#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "config.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "tunnel_proto.h"
#include "util.h"
#include "vm.h"
#include "vhost-shim/tunnel_wire.h"

/* --- tunnel callbacks ------------------------------------------------------ */

enum vs_tun_reject vs_ho_tun_open(void *opaque, struct vs_tun_in *in, const char *vm_name,
				  const uint8_t mac[6], const char *peer,
				  uint64_t *next_expected, GError **error)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);

	if (!vm) {
		g_set_error(error, VS_TUN_ERROR, 0, "no port %s", vm_name);
		return VS_TUN_REJECT_UNKNOWN_VM;
	}
	if (memcmp(mac, vm->cfg->mac, 6)) {
		g_set_error(error, VS_TUN_ERROR, 0, "port %s: MAC does not match", vm_name);
		return VS_TUN_REJECT_MAC_MISMATCH;
	}
	/* A broken stream may reconnect during the replay or after it */
	if (vm->mig.state != VS_MIG_STATE_DST_EXPECTING &&
	    vm->mig.state != VS_MIG_STATE_REPLAYING && vm->ho->in_state == HO_IN_NONE) {
		g_set_error(error, VS_TUN_ERROR, 0,
			    "port %s: not expecting a migration (state %s)", vm_name,
			    vs_mig_state_to_string(vm->mig.state));
		return VS_TUN_REJECT_NOT_EXPECTED;
	}
	if (vm->ho->expect_from && strcmp(vm->ho->expect_from, peer)) {
		g_set_error(error, VS_TUN_ERROR, 0, "port %s: expecting it from %s, not %s",
			    vm_name, vm->ho->expect_from, peer);
		return VS_TUN_REJECT_NOT_EXPECTED;
	}
	vm->ho->in = in;
	vm->ho->in_state = HO_IN_ADMITTED;
	ho_source_hold_update(vm);	/* holds start with the window */
	*next_expected = vm->ho->in_next_seq;
	vs_log(MIG, INFO, vm->cfg->name, "stream from %s accepted, next seq %" PRIu64, peer,
	       vm->ho->in_next_seq);
	if (vm->mig.state != VS_MIG_STATE_DST_EXPECTING)
		vs_tun_in_send_resumed(in);	/* it may have missed it */
	if (vm->ho->replay_phase == HO_REPLAY_LIVE_SEEN)
		vs_tun_in_send_live_seen(in);	/* live frames wait for its barrier */
	if (ho_direct_wanted(vm))
		ho_kick_pump();		/* direct sources noted while it was away */
	return VS_TUN_REJECT_NONE;
}

void vs_ho_tun_frame(void *opaque, struct vs_tun_in *in, const char *vm_name, uint64_t seq,
		     uint8_t origin, const uint8_t *data, uint32_t len)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);
	struct vs_handover *ho;
	struct vs_tun_frame *f;

	if (!vm || !vm->ho)
		return;
	ho = vm->ho;
	/*
	 * A stream that is no longer this port's (its expectation ended:
	 * timeout, cancel, ABORT; or a new one began): its frames would land
	 * behind live ones, or in another migration's sequence space.  The
	 * source still has them until RESUMED, and counts them if they are
	 * lost: discarded here, counted, never injected.
	 */
	if (in != ho->in) {
		VS_STAT_ADD(vm->stats.tunnel_frames_discarded, 1);
		return;
	}
	if (seq < ho->in_next_seq) {
		VS_STAT_ADD(vm->stats.tunnel_duplicates, 1);
		return;
	}
	ho->in_next_seq = seq + 1;
	VS_STAT_ADD(vm->stats.tunnel_rx_frames, 1);
	VS_STAT_ADD(vm->stats.tunnel_rx_bytes, len);
	/* Larger than the port carries (its MTU, vs_port_cfg_max_frame()):
	 * the guest could not have sent or received it here; refused as the
	 * guest's own oversized frames are, counted */
	if (len > vs_port_cfg_max_frame(vm->cfg)) {
		VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_OVERSIZE], 1);
		return;
	}
	/* Bounded like the local buffer: the caps of all classes together */
	if (g_queue_get_length(&ho->replay_q) >= vs_buf_policy_total_pkts(&vm->policy)) {
		VS_STAT_ADD(vm->stats.ctl_drops[VS_DROP_BUFFER_FULL], 1);
		return;
	}
	f = g_malloc(sizeof(*f) + len);
	f->seq = seq;
	f->origin = origin;
	f->arrival_us = vs_tun_in_frame_arrival_us(in);
	f->len = len;
	memcpy(f->data, data, len);
	g_queue_push_tail(&ho->replay_q, f);
	ho->replay_q_bytes += len;
	if (vm->mig.state != VS_MIG_STATE_DST_EXPECTING)
		ho_kick_pump();
}

void vs_ho_tun_in_event(void *opaque, struct vs_tun_in *in, const char *vm_name,
			enum vs_tun_in_event ev, uint64_t seq)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);

	if (!vm || !vm->ho)
		return;
	/*
	 * BARRIER, END or ABORT of a stream the port forgot (its expectation
	 * ended, or a new one began) is not about the migration under way:
	 * an old ABORT must not roll a new expectation back, nor an old END
	 * end its stream.
	 */
	if (in != vm->ho->in && ev != VS_TUN_IN_CLOSED) {
		vs_log(MIG, INFO, vm->cfg->name, "%s of a stream no longer expected: ignored",
		       ev == VS_TUN_IN_ABORT ? "ABORT" : ev == VS_TUN_IN_END ? "END" : "BARRIER");
		return;
	}
	switch (ev) {
	case VS_TUN_IN_ABORT:
		ho_source_hold_abort(vm);
		ho_in_forget(vm);
		ho_feed(vm, VS_MIG_EV_PEER_ABORT);
		break;
	case VS_TUN_IN_BARRIER:
		ho_replay_feed(vm, HO_REPLAY_IN_STREAM_DONE);
		ho_kick_pump();
		break;
	case VS_TUN_IN_END:
		ho_replay_feed(vm, HO_REPLAY_IN_STREAM_DONE);
		ho_source_hold_end(vm);		/* a barrier for every source */
		ho_in_forget(vm);
		/* the last tunnelled frame may still be on its way to the
		 * guest: close the window once the pump has pushed it */
		ho_dedup_close_later(vm);
		ho_kick_pump();
		break;
	case VS_TUN_IN_CLOSED:
		if (vm->ho->in == in) {
			vm->ho->in = NULL;
			ho_source_hold_update(vm);	/* no new holds */
		}
		break;
	case VS_TUN_IN_NUM_EVENTS:
		break;
	}
}

void vs_ho_tun_out_event(void *opaque, struct vs_tun_stream *s, const char *vm_name,
			 enum vs_tun_out_event ev, enum vs_tun_reject reason)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);

	if (!vm || !vm->ho)
		return;
	switch (ev) {
	case VS_TUN_OUT_RESUMED:
		ho_feed(vm, VS_MIG_EV_PEER_RESUMED);
		break;
	case VS_TUN_OUT_LIVE_SEEN:
		/* everything received before this point goes out before the
		 * barrier: what the lcore queued since the last tick, and what
		 * still waits in the uplink's queues (ho_pump_barrier()) */
		if (vm->ho->out) {
			if (vm->mig.state == VS_MIG_STATE_SRC_FORWARDING ||
			    vm->mig.state == VS_MIG_STATE_SRC_BLACKOUT) {
				ho_request_barrier(vm);
			} else {
				vs_tun_stream_barrier(vm->ho->out);
			}
		}
		break;
	case VS_TUN_OUT_REJECTED:
		/*
		 * Nothing to do now: the stream keeps every frame (the tunnel
		 * logged and counted the refusal).  An EXPECT from that peer
		 * asks again (vs_ho_tun_expect()); otherwise the frames are
		 * counted when the migration ends (peer-lost: the stream is not
		 * connected) or rolled back and replayed here.
		 */
		break;
	case VS_TUN_OUT_INTERRUPTED:
		VS_STAT_ADD(vm->stats.tunnel_reconnects, 1);
		break;
	case VS_TUN_OUT_NUM_EVENTS:
		break;
	}
}

bool vs_ho_tun_expect(void *opaque, const char *vm_name, const uint8_t mac[6], const char *peer)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);
	g_autoptr(GError) err = NULL;

	if (!vm)
		return true;	/* EXPECTs go to every peer: not ours */
	/* port names are local to each host: another host's "vm1" is not ours */
	if (memcmp(mac, vm->cfg->mac, 6)) {
		vs_log(MIG, INFO, vm_name,
		       "EXPECT from %s ignored: MAC %02x:%02x:%02x:%02x:%02x:%02x is not the port's",
		       peer, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
		return false;
	}
	if (!vs_ho_set_peer(vm, peer, &err)) {
		vs_log(MIG, WARNING, vm_name, "EXPECT from %s ignored: %s", peer, err->message);
		return true;	/* as before: logged, not a wrong EXPECT */
	}
	/* our stream may have been refused by @peer before it was (re-)armed,
	 * e.g. restarted during the blackout: it is armed now, ask again */
	if (vm->ho->out)
		vs_tun_stream_retry(vm->ho->out, peer);
	return true;
}
