/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_overflow.c - the BUFFER_OVERFLOW watch: buffer-full drops
 * reported to control clients
 *
 * Theory of operation: buffer-full drops are counted where they happen:
 * by the lcore (dataplane.c, the caps of the local buffer) and by the
 * main loop (handover_tun.c, the tunnelled replay queue).  The lcore must
 * never call into the control socket, so the main loop reports both: this
 * watch runs every HO_OVERFLOW_CHECK_MS while any port is in a migration
 * state or its lcore is not LIVE (the only times a buffer fills), and
 * compares the port's counter with its value at the last BUFFER_OVERFLOW
 * sent.  The event is rate-limited per port by the control socket
 * (main.c); one that was suppressed is offered again at the next tick, so
 * "dropped" always counts from the last event clients saw, and the watch
 * keeps running until every drop has been reported.  Cost: two relaxed
 * counter reads per port and tick, and no timer at all while nothing
 * buffers.  ho_enter() (handover.c) kicks it on entering any state but
 * none.
 */
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "util.h"
#include "vm.h"

#define HO_OVERFLOW_CHECK_MS	250

static guint ho_overflow_source;

static uint64_t ho_buffer_full_total(const struct vs_vm *vm)
{
	return VS_STAT_GET(vm->stats.drops[VS_DROP_BUFFER_FULL]) +
	       VS_STAT_GET(vm->stats.ctl_drops[VS_DROP_BUFFER_FULL]);
}

static void ho_overflow_check(struct vs_vm *vm, void *opaque)
{
	bool *busy = opaque;
	uint64_t total;
	JsonObject *d;

	if (!vm->ho)
		return;
	if (vm->mig.state != VS_MIG_STATE_NONE ||
	    vs_dp_mode(vm) != VS_DP_LIVE)
		*busy = true;
	total = ho_buffer_full_total(vm);
	if (total == vm->ho->overflow_reported)
		return;
	if (!ho_has_event_cb()) {	/* nobody to tell */
		vm->ho->overflow_reported = total;
		return;
	}
	d = json_object_new();
	json_object_set_int_member(d, "dropped", (gint64)(total - vm->ho->overflow_reported));
	json_object_set_int_member(d, "total", (gint64)total);
	if (ho_emit(vm, "BUFFER_OVERFLOW", d))
		vm->ho->overflow_reported = total;
	else
		*busy = true;		/* suppressed: offer it again next tick */
}

static gboolean ho_overflow_cb(gpointer data)
{
	bool busy = false;

	vs_vm_foreach(ho_overflow_check, &busy);
	if (!busy) {
		ho_overflow_source = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

void ho_kick_overflow_watch(void)
{
	if (!ho_overflow_source)
		ho_overflow_source = g_timeout_add(HO_OVERFLOW_CHECK_MS, ho_overflow_cb, NULL);
}
