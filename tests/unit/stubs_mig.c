/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stubs_mig.c - handover.c and tunnel.c replaced for the control-socket
 * unit test: migration commands parse and dispatch, and report what a port
 * without any migration reports.
 */
#include <string.h>

#include <gio/gio.h>

#include "handover.h"
#include "tunnel.h"
#include "vm.h"

static const struct vs_tun_stats stub_tun_stats;

gboolean vs_ho_expect(struct vs_vm *vm, const char *peer, GError **error)
{
	if (peer && strcmp(peer, "hostb")) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown peer '%s'", peer);
		return FALSE;
	}
	return TRUE;
}

gboolean vs_ho_set_peer(struct vs_vm *vm, const char *peer, GError **error)
{
	return vs_ho_expect(vm, peer, error);
}

void vs_ho_cancel(struct vs_vm *vm)
{
}

const char *vs_ho_peer_name(const struct vs_vm *vm)
{
	return NULL;
}

uint64_t vs_ho_buffered_now(const struct vs_vm *vm)
{
	return 0;
}

const struct vs_tun_stats *vs_tun_get_stats(void)
{
	return &stub_tun_stats;
}
