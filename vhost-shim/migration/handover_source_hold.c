/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_source_hold.c - destination: the per-source barrier's main-loop
 * half (docs/dev/plan-per-source-barrier.md, section 2.5)
 *
 * Theory of operation: the lcore holds a source's first direct frames in
 * the window after the resume (dp_source_hold.h) only while the main loop
 * allows it: while the port's admitted stream negotiated the
 * source-barrier extension and source-barrier-ms is not 0
 * (ho_source_hold_update(), at each admission and whenever the stream
 * goes).  A stream that goes only stops new holds: a held source waits for
 * a barrier the source may still send after a reconnect, or for its time-out.
 *
 * SOURCE_BARRIER(X, S) from the source says every straggler of X has a
 * seq <= S and all of them are in the stream before it.  The tunnel has
 * delivered frames <= S to vs_ho_tun_frame() already (it checks
 * last_seq); they are in the replay queue or, once the pump moved them,
 * in the inject ring.  The barrier waits in a queue here (HO_SRC_REL_MAX)
 * until the replay queue holds no frame <= S (it is in seq order: its
 * head says), then goes to the lcore (vs_dp_source_release()), which
 * releases X once inject is empty.  The pump runs this after it moved the
 * replay queue into inject in its tick (ho_pump_source_releases()).
 *
 * A lying or flooding peer: a barrier is taken only while the barriers
 * taken this window stay within the SOURCE_DIRECT reports sent this window
 * (every barrier answers one report); the others are ignored and counted
 * (source-barriers-ignored), so a flood costs a compare each.  An early
 * barrier from the authenticated source can reorder only that source's
 * frames, the trust BARRIER and SOURCE_DIRECT already need.
 *
 * END is a barrier for every source: once the replay queue is empty, every
 * held source is released.  ABORT releases them at once (the VM will not
 * stay).  Both only if holds were allowed since the last such release
 * (src_hold_armed): with a peer that never negotiated the extension
 * nothing is held, and neither queues a release nor keeps the pump busy.
 * A new window (ho_dedup_open()) forgets what the last one queued.
 */
#include <string.h>

#include <glib.h>

#include "dp_source_hold.h"
#include "flow_key.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tunnel.h"
#include "util.h"
#include "vm.h"
#include "vhost-shim/tunnel_wire.h"

void ho_source_hold_update(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	bool on = ho->in && vm->policy.source_barrier_ms && vs_tun_in_source_barrier_ok(ho->in);

	vs_dp_source_hold_on(vm, on);
	ho->src_hold_armed = ho->src_hold_armed || on;
}

/* Every source is released (queued for the lcore): holds allowed from now
 * on arm END and ABORT again */
static void ho_source_released_all(struct vs_handover *ho, struct vs_vm *vm)
{
	ho->src_release_all_due = false;
	ho->src_hold_armed = __atomic_load_n(&vm->dp.hs.src_hold_on, __ATOMIC_RELAXED);
}

void ho_source_hold_window(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	ho->src_reports_window = 0;
	ho->src_barriers_window = 0;
	ho->src_rel_head = ho->src_rel_n = 0;
	ho->src_release_all_due = false;
	/* a stream of the last window that negotiated holds and went without
	 * END or ABORT arms this one no more: its holds end with its epoch
	 * (review 68, N2) */
	ho->src_hold_armed = __atomic_load_n(&vm->dp.hs.src_hold_on, __ATOMIC_RELAXED);
}

void ho_source_hold_end(struct vs_vm *vm)
{
	/* once the replay queue is empty */
	vm->ho->src_release_all_due = vm->ho->src_hold_armed;
}

void ho_source_hold_abort(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	ho->src_rel_head = ho->src_rel_n = 0;	/* all of them anyway */
	if (!ho->src_hold_armed) {
		ho->src_release_all_due = false;
		return;
	}
	if (vs_dp_source_release_all(vm)) {
		ho_source_released_all(ho, vm);
		return;
	}
	ho->src_release_all_due = true;
	ho_kick_pump();
}

bool ho_source_releases_wanted(const struct vs_vm *vm)
{
	return vm->ho->src_rel_n || vm->ho->src_release_all_due;
}

/* The replay queue holds no frame <= @last_seq (it is in seq order) */
static bool ho_tunnelled_through(const struct vs_handover *ho, uint64_t last_seq)
{
	const struct vs_tun_frame *f = g_queue_peek_head((GQueue *)&ho->replay_q);

	return !f || f->seq > last_seq;
}

void ho_pump_source_releases(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	while (ho->src_rel_n) {
		const struct ho_src_rel *e = &ho->src_rel[ho->src_rel_head];

		if (!ho_tunnelled_through(ho, e->last_seq) ||
		    !vs_dp_source_release(vm, e->af, e->addr))
			return;		/* the next tick */
		ho->src_rel_head = (ho->src_rel_head + 1) % HO_SRC_REL_MAX;
		ho->src_rel_n--;
	}
	if (ho->src_release_all_due && g_queue_is_empty(&ho->replay_q) &&
	    vs_dp_source_release_all(vm))
		ho_source_released_all(ho, vm);
}

void vs_ho_tun_source_barrier(void *opaque, struct vs_tun_in *in, const char *vm_name,
			      uint64_t last_seq, uint8_t af, const uint8_t addr[16])
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);
	struct vs_handover *ho;
	struct ho_src_rel *e;

	if (!vm || !vm->ho)
		return;
	ho = vm->ho;
	if (in != ho->in)	/* a stream no longer expected: as its BARRIER */
		return;
	VS_STAT_ADD(vm->stats.source_barriers_received, 1);
	if (ho->src_barriers_window >= ho->src_reports_window || ho->src_rel_n == HO_SRC_REL_MAX) {
		VS_STAT_ADD(vm->stats.source_barriers_ignored, 1);
		vs_log(MIG, DEBUG, vm->cfg->name,
		       "SOURCE_BARRIER ignored: %u taken for %u reports, %u waiting",
		       ho->src_barriers_window, ho->src_reports_window, ho->src_rel_n);
		return;
	}
	ho->src_barriers_window++;
	e = &ho->src_rel[(ho->src_rel_head + ho->src_rel_n++) % HO_SRC_REL_MAX];
	e->last_seq = last_seq;
	e->af = af == VS_TUN_SRC_AF_INET ? VS_FLOW_AF_INET : VS_FLOW_AF_INET6;
	memcpy(e->addr, addr, sizeof(e->addr));
	ho_kick_pump();
}
