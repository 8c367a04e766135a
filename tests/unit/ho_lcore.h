/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_lcore.h - the real lcore pass behind fakes, for the handover's tests
 * that need the lcore's side of an interleaving (ho_harness.h's
 * environment, EAL without devices)
 *
 * Theory of operation: the test calls vs_dp_poll_port() itself between
 * the main loop's turns (run_for(), run_until()), so every order of
 * events between the lcore and the main loop is the test's choice.  The
 * fakes behind the dataplane's seam (struct vs_dp_ops): a guest whose RX
 * ring takes t_budget frames in all and records each one's number in
 * t_got, an uplink that hands out the mbufs queued in t_rx (t_uplink()),
 * rings that are always idle and roomy.  Frames carry their number where
 * frame_fill() puts it: the tunnel's frames 1.., live ones T_LIVE0.. by
 * convention.
 */
#ifndef VS_HO_LCORE_H
#define VS_HO_LCORE_H

#include <stdint.h>

#include <glib.h>

#include "ho_harness.h"

#define T_LIVE0		1001	/* live frames' numbers: 1001.. (the tunnel's: 1..) */

extern uint32_t t_budget;	/* frames the guest's ring still takes */
extern GArray *t_got;		/* uint64_t number of each frame delivered */
extern GQueue t_rx;		/* struct rte_mbuf *: the uplink's */

/* The port, its device up here (not yet told to the handover), the fakes */
void t_setup(struct t_env *e);
/* ... and its end: t_rx must be empty */
void t_teardown(struct t_env *e);
/* The uplink receives frames @first..@first+@n-1 */
void t_uplink(uint64_t first, unsigned int n);
/* END of stream @id after @last_seq */
void t_send_end(struct t_env *e, uint32_t id, uint64_t last_seq);
/* The lcore polls and the main loop turns until the port is @state */
void t_run_to_state(struct t_env *e, enum vs_mig_state state);
/* run_until() conditions on the port @arg */
bool t_inject_closed(void *arg);
bool t_state_replaying(void *arg);
bool t_replay_q_empty(void *arg);

#endif /* VS_HO_LCORE_H */
