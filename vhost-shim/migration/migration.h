/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migration.h - per-VM migration state machine (pure: event in, state out)
 *
 * Theory of operation: a port's migration state changes only through
 * vs_mig_event(), which looks the (state, event) pair up in one transition
 * table, logs "vm: OLD -> NEW (event)" and returns an error for a pair the
 * table does not allow (the caller logs it and carries on: an unexpected
 * vhost-user sequence must never kill the daemon).  The states say what
 * the dataplane does with the VM's frames; handover.c turns a transition
 * into actions (buffer, tunnel, replay, announce).  Pure too: the replay's
 * catch-up estimate a port reports (vs_mig_catch_up_us()).
 *
 * Signals (see docs/migration.md):
 *   LOG_ON/LOG_OFF	features_changed() with/without VHOST_F_LOG_ALL
 *   DEVICE_DOWN	destroy_device(); with LOG_ALL on it is the switchover
 *   DEVICE_UP		new_device(): VM runs (destination resume, source
 *			rollback, or an ordinary resume after a pause)
 *   EXPECT		control: this host is the destination of the VM
 *   PEER_RESUMED	tunnel: the destination's VM runs
 *   PEER_ABORT		tunnel: the source rolled back
 *   REPLAY_DONE	dataplane delivered every held frame
 *   LINGER_EXPIRED/HOLD_EXPIRED  timers (straggler linger, buffer hold)
 *   EXPECT_EXPIRED	timer: [migration] expect-timeout-ms passed with the
 *			port armed and no VM arriving
 *   CANCEL		control: disarm
 */
#ifndef VS_MIGRATION_H
#define VS_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "enum.h"

/**
 * enum vs_mig_state - where a VM is in a migration
 * @VS_MIG_STATE_NONE:	no migration.  Frames are delivered live; without a
 *	device they are dropped (not-ready).
 * @VS_MIG_STATE_PAUSED: device stopped without dirty logging (pause,
 *	savevm).  Frames are buffered within the caps and delivered when the
 *	device comes back (REPLAYING) or dropped when hold-ms expires.
 * @VS_MIG_STATE_SRC_ACTIVE: dirty logging on: pre-copy in progress.  Still
 *	live; the tunnel to the destination is opened now, so that it is up
 *	before the blackout.  Entered from REPLAYING too (a migration that
 *	starts while the last arrival is still replayed): the replay goes on.
 * @VS_MIG_STATE_SRC_BLACKOUT: device stopped with dirty logging: the
 *	switchover.  Frames are buffered in order and streamed to the
 *	destination; the source keeps its copy until PEER_RESUMED.
 * @VS_MIG_STATE_SRC_FORWARDING: the destination runs the VM.  Frames still
 *	reaching this host (stragglers) are tunnelled until the linger expires.
 * @VS_MIG_STATE_DST_EXPECTING: armed as the destination.  Tunnelled frames
 *	and any local frames are held until the VM runs here.  It lasts the
 *	whole pre-copy, however long: only the VM arriving (DEVICE_UP), a
 *	cancel, the source's ABORT or expect-timeout-ms (EXPECT_EXPIRED)
 *	end it, never hold-ms.
 * @VS_MIG_STATE_REPLAYING: the VM runs; held frames (tunnelled, or local
 *	after a rollback or pause) go into its RX ring before live ones.
 */
enum vs_mig_state {
	VS_MIG_STATE_NONE,
	VS_MIG_STATE_PAUSED,
	VS_MIG_STATE_SRC_ACTIVE,
	VS_MIG_STATE_SRC_BLACKOUT,
	VS_MIG_STATE_SRC_FORWARDING,
	VS_MIG_STATE_DST_EXPECTING,
	VS_MIG_STATE_REPLAYING,
	VS_MIG_NUM_STATES
};

enum vs_mig_event {
	VS_MIG_EV_LOG_ON,
	VS_MIG_EV_LOG_OFF,
	VS_MIG_EV_DEVICE_UP,
	VS_MIG_EV_DEVICE_DOWN,
	VS_MIG_EV_EXPECT,
	VS_MIG_EV_CANCEL,
	VS_MIG_EV_PEER_RESUMED,
	VS_MIG_EV_PEER_ABORT,
	VS_MIG_EV_REPLAY_DONE,
	VS_MIG_EV_LINGER_EXPIRED,
	VS_MIG_EV_HOLD_EXPIRED,
	VS_MIG_EV_EXPECT_EXPIRED,
	VS_MIG_NUM_EVENTS
};

VS_ENUM_DECL(vs_mig_state, enum vs_mig_state);
VS_ENUM_DECL(vs_mig_event, enum vs_mig_event);

#define VS_MIG_ERROR (vs_mig_error_quark())
GQuark vs_mig_error_quark(void);

/* migrate-expect's vm-uuid (canonical text) and vm-name (bytes, UTF-8) */
#define VS_MIG_VM_UUID_LEN 36
#define VS_MIG_VM_NAME_MAX 255

/**
 * struct vs_mig - the state machine of one VM
 * @who:	VM name, for the log line
 * @state:	current state; change it only with vs_mig_event()
 * @transitions: number of state changes (tests, stats)
 * @vm_uuid, @vm_name: the incoming VM named by migrate-expect ("" when not
 *		given); set by the control command before it arms the port,
 *		cleared by vs_mig_event() when the port leaves dst-expecting
 */
struct vs_mig {
	const char *who;
	enum vs_mig_state state;
	unsigned int transitions;
	char vm_uuid[VS_MIG_VM_UUID_LEN + 1];
	char vm_name[VS_MIG_VM_NAME_MAX + 1];
};

/**
 * vs_mig_next() - look a transition up without taking it
 * @state:	current state
 * @ev:		event
 *
 * Return: the next state, or -1 if @ev is not allowed in @state
 */
int vs_mig_next(enum vs_mig_state state, enum vs_mig_event ev);

/**
 * vs_mig_event() - feed one event; the only setter of m->state
 * @m:		state machine
 * @ev:		event
 * @old:	output: state before the event (may be NULL)
 * @error:	set if @ev is illegal in the current state (state unchanged)
 *
 * Return: TRUE if the event was accepted (the state may be unchanged)
 */
gboolean vs_mig_event(struct vs_mig *m, enum vs_mig_event ev, enum vs_mig_state *old,
		      GError **error);

/**
 * vs_mig_catch_up_us() - how long until a replay under way has caught up
 * with live traffic (query-migration's catch-up-us)
 * @backlog:	frames still held for the guest
 * @arrival_pps: the rate new frames for the VM arrive at
 * @pace_pps:	the rate the replay's pace allows (0: unpaced)
 * @shrink_pps:	how fast the backlog shrank, measured over a window of the
 *		replay (negative: it grew)
 * @measured:	@shrink_pps is such a window's (else: none passed yet)
 *
 * Measured, the backlog goes at @shrink_pps, whatever the pace allows: a
 * guest slower than its traffic never catches up, however fast the pace
 * (review 83, S2).  Not measured yet, the pace less the arrival rate is
 * all there is (unpaced: as fast as the guest's ring takes it, 0).
 *
 * Return: microseconds; 0 with nothing held; UINT32_MAX (4294967295) when
 * the backlog does not shrink (or would take that long)
 */
uint64_t vs_mig_catch_up_us(uint64_t backlog, uint64_t arrival_pps, uint64_t pace_pps,
			    int64_t shrink_pps, bool measured);

#endif /* VS_MIGRATION_H */
