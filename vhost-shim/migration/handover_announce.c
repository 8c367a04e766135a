/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_announce.c - the destination's announcements of the VM
 *
 * Theory of operation: when the VM resumes here after a migration
 * (replaying entered from dst-expecting, handover.c) we announce it
 * (RARP, or GARP/NA for the addresses it uses: the port's "announce"
 * key, vs_dp_announce()) at about the times QEMU re-announces it, so
 * that switches learn its new place even if the guest's own
 * announcements are lost: steps at 0, 50, 200 and 450 ms after the
 * resume, each timer arming the next.
 *
 * The steps stop when the VM leaves again (src-active, src-blackout,
 * dst-expecting: ho_announce_stop()): an announcement sent after the VM
 * migrated on would move the switches back to a host the VM no longer
 * runs on, and its peers' frames with them (where the old host's
 * per-source switching, told they arrive directly, drops them).
 *
 * Threads: main loop only.  Bounds: at most one timer per port.
 */
#include <glib.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "util.h"
#include "vm.h"

/* QEMU re-announces at about 0, 50, 200, 450, 800 ms: we announce with it */
static const unsigned int ho_announce_ms[] = { 0, 50, 200, 450 };

static gboolean ho_announce_cb(gpointer data)
{
	struct vs_vm *vm = data;
	struct vs_handover *ho = vm->ho;

	vs_dp_announce(vm);
	VS_STAT_ADD(vm->stats.announces_sent, 1);
	ho->announce_timer = 0;
	if (++ho->announce_step < G_N_ELEMENTS(ho_announce_ms))
		ho->announce_timer = g_timeout_add(ho_announce_ms[ho->announce_step] -
						   ho_announce_ms[ho->announce_step - 1],
						   ho_announce_cb, vm);
	return G_SOURCE_REMOVE;
}

void ho_announce(struct vs_vm *vm)
{
	if (vm->cfg->announce == VS_ANNOUNCE_OFF)	/* the port's "announce" key */
		return;
	ho_announce_stop(vm);
	vm->ho->announce_step = 0;
	ho_announce_cb(vm);
}

void ho_announce_stop(struct vs_vm *vm)
{
	if (vm->ho->announce_timer) {
		g_source_remove(vm->ho->announce_timer);
		vm->ho->announce_timer = 0;
	}
}
