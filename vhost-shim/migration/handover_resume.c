/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_resume.c - a port armed while its VM's device already runs
 * here: the resume waits until the lcore has seen the buffering episode
 *
 * Theory of operation: vs_ho_expect() on a port whose device runs (a
 * destination shim restarted during the blackout whose QEMU reconnected
 * before the hook armed it again; or a VM armed for while it still drains
 * the tail of its last arrival) resumes without a new_device(), which will
 * not come.  dst-expecting's entry action starts a buffering episode
 * (vs_dp_buffer_start(): a new episode, BUFFER, then a requeue ticket) and
 * DEVICE_UP starts the replay (vs_dp_replay_start(): inject_done false,
 * replay_gen + 1, REPLAY).  Everywhere else a device event, and the
 * lcore's polls, lie between the two; fed in one callback, both can land
 * before the lcore looks, and an lcore that never saw BUFFER
 *  - skips the requeue (dp_requeue_wanted() finds REPLAY): a tail's (or an
 *    own replay's) pending burst goes to the guest ahead of the new
 *    migration's frames, its held frames, which are older, after them
 *    (review 81, 12.9);
 *  - may be between the CAS LIVE -> REPLAY of a replay of its own
 *    (dp_hold_ring_full(), dp_adopt_held()) and the stores that follow it:
 *    its inject_done true lands on the new replay's false, and
 *    dp_own_replay() records the new replay_gen, so the main loop's replay
 *    looks like the lcore's own: no mark, held before inject under the RX
 *    ring bound (review 85, N2).
 * So DEVICE_UP waits for the lcore's answer to the episode, requeue_done
 * caught up with requeue_req (vs_dp_buffer_seen()), polled every
 * HO_RESUME_POLL_MS; the resume comes a poll of the lcore later, a
 * millisecond or two.
 *
 * Memory order: the main loop stores BUFFER, then adds 1 to requeue_req
 * (release).  The lcore answers that ticket only after loading it and
 * BUFFER after it (acquire), and after dp_requeue() (release); an answer
 * to an older ticket it loaded before leaves this one open (review 88,
 * L2: a flag cleared after a stale load erased it).  From its load of
 * BUFFER on,
 * its CASes LIVE -> REPLAY fail: an own replay it starts is one whose CAS
 * came first, and whose stores (inject_done, own_replay_gen and episode)
 * precede, in its program order, the poll where it answers.  The main
 * loop's acquire load of that answer orders vs_dp_replay_start() after
 * them: its inject_done false is the last store, and the lcore's
 * own_replay_gen is the old generation, so dp_own_replay_now() is false
 * for the new replay (N2 cannot happen).  And the answer says dp_requeue()
 * has put the pending burst and inject back at held's front, ahead of
 * what held held (vs_dp_poll_port() reloads the mode after it, so a
 * REPLAY loaded earlier in that poll does not take them out again): the
 * old frames reach the guest whole and in their order, behind the new
 * migration's tunnelled frames as everything held at an arrival does
 * (12.9's split cannot happen).
 *
 * vs_dp_buffer_start() that returns early (the port buffers with caps
 * already, since its device went away) asks a requeue all the same
 * (review 88, L1): the lcore answers it at its next poll, which it makes
 * whatever the device; no wait hangs on it.  Buffering off stores LIVE
 * and no requeue: no wait.
 *
 * Bounds: an lcore that does not answer within HO_RESUME_WAIT_MAX_MS
 * (above VS_MAX_IDLE_SLEEP_US, an idle worker's longest sleep: it is
 * stalled) gets the resume anyway, logged: the VM runs, and holding its
 * frames until expect-timeout-ms is worse than the race.  The wait ends
 * without a resume when the expectation does (ho_enter() clears the
 * timer: cancel, abort, expiry, DEVICE_UP from a new_device()), when the
 * port goes (vs_ho_detach()), or when the device went away meanwhile
 * (new_device() resumes it then).  Main loop only.
 */
#include <glib.h>

#include "dp_handshake.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "vm.h"

#define HO_RESUME_POLL_MS	1
#define HO_RESUME_WAIT_MAX_MS	1000

/*
 * Resume if the lcore answered (or gave up waiting for it)
 * Return: true when the wait is over, with or without a resume
 */
static bool ho_resume_try(struct vs_vm *vm)
{
	gint64 waited_ms = (g_get_monotonic_time() - vm->ho->resume_asked_at) / 1000;

	/* another device since (destroy and new_device queued behind this
	 * timer): its own events decide (review 88, L3) */
	if (vm->mig.state != VS_MIG_STATE_DST_EXPECTING ||
	    __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE) != vm->ho->resume_vid)
		return true;
	if (!vs_dp_buffer_seen(vm)) {
		if (waited_ms < HO_RESUME_WAIT_MAX_MS)
			return false;
		vs_log(MIG, WARNING, vm->cfg->name,
		       "the lcore did not see the buffering start within %d ms: resuming anyway "
		       "(frames on their way to the guest may be reordered)",
		       HO_RESUME_WAIT_MAX_MS);
	}
	vs_log(MIG, NOTICE, vm->cfg->name, "armed while its device runs: resuming now");
	ho_feed(vm, VS_MIG_EV_DEVICE_UP);
	return true;
}

static gboolean ho_resume_cb(gpointer data)
{
	struct vs_vm *vm = data;
	guint id = vm->ho->resume_timer;

	vm->ho->resume_timer = 0;	/* DEVICE_UP's ho_enter() clears it too */
	if (ho_resume_try(vm))
		return G_SOURCE_REMOVE;
	vm->ho->resume_timer = id;
	return G_SOURCE_CONTINUE;
}

void ho_resume_running(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;

	if (ho->resume_timer)
		return;		/* armed again while it waits: the wait goes on */
	ho->resume_asked_at = g_get_monotonic_time();
	ho->resume_vid = __atomic_load_n(&vm->vid, __ATOMIC_ACQUIRE);	/* >= 0 */
	if (!ho_resume_try(vm))
		ho->resume_timer = g_timeout_add(HO_RESUME_POLL_MS, ho_resume_cb, vm);
}
