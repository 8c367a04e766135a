/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * migration.c - the transition table
 *
 * Theory of operation: see migration.h.  The table lists every allowed
 * (state, event) pair; a missing entry is illegal.  Self-loops are listed
 * explicitly where an event is harmless (e.g. LOG_OFF during a blackout:
 * QEMU may clear dirty logging before or after it restarts a cancelled
 * migration's VM, so both orders must be accepted).
 */
#include <assert.h>

#include "log.h"
#include "migration.h"

G_DEFINE_QUARK(vs-mig-error-quark, vs_mig_error)

VS_ENUM_IMPL(vs_mig_state, enum vs_mig_state, VS_MIG_NUM_STATES,
	     [VS_MIG_STATE_NONE] = "none",
	     [VS_MIG_STATE_PAUSED] = "paused",
	     [VS_MIG_STATE_SRC_ACTIVE] = "src-active",
	     [VS_MIG_STATE_SRC_BLACKOUT] = "src-blackout",
	     [VS_MIG_STATE_SRC_FORWARDING] = "src-forwarding",
	     [VS_MIG_STATE_DST_EXPECTING] = "dst-expecting",
	     [VS_MIG_STATE_REPLAYING] = "replaying");

VS_ENUM_IMPL(vs_mig_event, enum vs_mig_event, VS_MIG_NUM_EVENTS,
	     [VS_MIG_EV_LOG_ON] = "log-on",
	     [VS_MIG_EV_LOG_OFF] = "log-off",
	     [VS_MIG_EV_DEVICE_UP] = "device-up",
	     [VS_MIG_EV_DEVICE_DOWN] = "device-down",
	     [VS_MIG_EV_EXPECT] = "expect",
	     [VS_MIG_EV_CANCEL] = "cancel",
	     [VS_MIG_EV_PEER_RESUMED] = "peer-resumed",
	     [VS_MIG_EV_PEER_ABORT] = "peer-abort",
	     [VS_MIG_EV_REPLAY_DONE] = "replay-done",
	     [VS_MIG_EV_LINGER_EXPIRED] = "linger-expired",
	     [VS_MIG_EV_HOLD_EXPIRED] = "hold-expired",
	     [VS_MIG_EV_EXPECT_EXPIRED] = "expect-expired");

/* 0 = illegal; otherwise next state + 1 */
#define T(next) ((next) + 1)
static const signed char mig_table[VS_MIG_NUM_STATES][VS_MIG_NUM_EVENTS] = {
	[VS_MIG_STATE_NONE] = {
		[VS_MIG_EV_LOG_ON] = T(VS_MIG_STATE_SRC_ACTIVE),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_PAUSED),
		[VS_MIG_EV_EXPECT] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_NONE),
	},
	[VS_MIG_STATE_PAUSED] = {
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_PAUSED),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_PAUSED),
		[VS_MIG_EV_HOLD_EXPIRED] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_EXPECT] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_PAUSED),
	},
	[VS_MIG_STATE_SRC_ACTIVE] = {
		[VS_MIG_EV_LOG_ON] = T(VS_MIG_STATE_SRC_ACTIVE),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_SRC_ACTIVE),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_SRC_BLACKOUT),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_SRC_ACTIVE),
	},
	[VS_MIG_STATE_SRC_BLACKOUT] = {
		[VS_MIG_EV_LOG_ON] = T(VS_MIG_STATE_SRC_BLACKOUT),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_SRC_BLACKOUT),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_SRC_BLACKOUT),
		[VS_MIG_EV_PEER_RESUMED] = T(VS_MIG_STATE_SRC_FORWARDING),
		[VS_MIG_EV_HOLD_EXPIRED] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_SRC_BLACKOUT),
	},
	[VS_MIG_STATE_SRC_FORWARDING] = {
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_SRC_FORWARDING),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_SRC_FORWARDING),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_PEER_RESUMED] = T(VS_MIG_STATE_SRC_FORWARDING),
		[VS_MIG_EV_LINGER_EXPIRED] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_EXPECT] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_NONE),
	},
	[VS_MIG_STATE_DST_EXPECTING] = {
		[VS_MIG_EV_LOG_ON] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_EXPECT] = T(VS_MIG_STATE_DST_EXPECTING),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_PEER_ABORT] = T(VS_MIG_STATE_NONE),
		/* not HOLD_EXPIRED: an armed destination waits for the whole
		 * pre-copy, which may take far longer than hold-ms */
		[VS_MIG_EV_EXPECT_EXPIRED] = T(VS_MIG_STATE_NONE),
	},
	[VS_MIG_STATE_REPLAYING] = {
		/* migrated on while still replaying the last arrival (A->B->C,
		 * or A->B->A within linger-ms): the replay goes on in src-active */
		[VS_MIG_EV_LOG_ON] = T(VS_MIG_STATE_SRC_ACTIVE),
		[VS_MIG_EV_LOG_OFF] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_DEVICE_UP] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_DEVICE_DOWN] = T(VS_MIG_STATE_PAUSED),
		[VS_MIG_EV_PEER_RESUMED] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_PEER_ABORT] = T(VS_MIG_STATE_REPLAYING),
		[VS_MIG_EV_REPLAY_DONE] = T(VS_MIG_STATE_NONE),
		[VS_MIG_EV_CANCEL] = T(VS_MIG_STATE_REPLAYING),
	},
};
#undef T

int vs_mig_next(enum vs_mig_state state, enum vs_mig_event ev)
{
	if ((unsigned int)state >= VS_MIG_NUM_STATES || (unsigned int)ev >= VS_MIG_NUM_EVENTS)
		return -1;
	return mig_table[state][ev] - 1;
}

gboolean vs_mig_event(struct vs_mig *m, enum vs_mig_event ev, enum vs_mig_state *old,
		      GError **error)
{
	int next = vs_mig_next(m->state, ev);

	if (old)
		*old = m->state;
	if (next < 0) {
		g_set_error(error, VS_MIG_ERROR, 0, "event %s is not allowed in state %s",
			    vs_mig_event_to_string(ev), vs_mig_state_to_string(m->state));
		return FALSE;
	}
	if ((enum vs_mig_state)next != m->state) {
		vs_log(MIG, NOTICE, m->who, "%s -> %s (%s)", vs_mig_state_to_string(m->state),
		       vs_mig_state_to_string(next), vs_mig_event_to_string(ev));
		/* the expectation is over (VM arrived, cancelled, expired) */
		if (m->state == VS_MIG_STATE_DST_EXPECTING) {
			m->vm_uuid[0] = '\0';
			m->vm_name[0] = '\0';
		}
		m->state = (enum vs_mig_state)next;
		m->transitions++;
	}
	return TRUE;
}

uint64_t vs_mig_catch_up_us(uint64_t backlog, uint64_t arrival_pps, uint64_t pace_pps,
			    int64_t shrink_pps, bool measured)
{
	uint64_t net;

	if (!backlog || (!measured && !pace_pps))
		return 0;
	if (measured) {
		if (shrink_pps <= 0)
			return UINT32_MAX;
		net = (uint64_t)shrink_pps;
	} else {
		if (pace_pps <= arrival_pps)
			return UINT32_MAX;
		net = pace_pps - arrival_pps;
	}
	return MIN(backlog * 1000000 / net, (uint64_t)UINT32_MAX);
}
