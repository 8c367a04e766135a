/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_disc.c - what the [discovery] registry may do to a port's
 * migration: name its destination, or withdraw it
 *
 * Theory of operation: the registry plays the part of the EXPECT broadcast
 * (vs_ho_tun_expect()) without the broadcast: when the destination of a VM
 * writes its key, the source's glue (disc_daemon.c) adds that node to the
 * tunnel and calls vs_ho_learn_peer(), which sets the destination as
 * migrate-set-peer does and, if our stream was refused by that peer
 * before it was armed, asks again.  When the key goes away (the
 * expectation ended, its lease expired), vs_ho_forget_peer() forgets the
 * destination, but only while no migration uses it: a stream in flight
 * belongs to the migration, which ends it itself (a destination revokes
 * its key when the VM has arrived and been replayed, while the source
 * still forwards stragglers).
 */
#include <string.h>

#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "vm.h"

gboolean vs_ho_learn_peer(struct vs_vm *vm, const char *peer, GError **error)
{
	if (!vs_ho_set_peer(vm, peer, error))
		return FALSE;
	if (vm->ho->out)
		vs_tun_stream_retry(vm->ho->out, peer);
	return TRUE;
}

bool vs_ho_forget_peer(struct vs_vm *vm, const char *peer)
{
	struct vs_handover *ho = vm->ho;

	if (!ho || !ho->peer || strcmp(ho->peer, peer) || ho->out ||
	    (vm->mig.state != VS_MIG_STATE_NONE && vm->mig.state != VS_MIG_STATE_PAUSED))
		return false;
	g_clear_pointer(&ho->peer, g_free);
	vs_log(MIG, INFO, vm->cfg->name, "destination peer %s withdrawn by the registry", peer);
	return true;
}
