/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_tail_harness.h - what the replay-tail tests share: a migration's
 * replay in front of an overloaded guest, polled to its hand-over and
 * through its tail
 *
 * Theory of operation: a scenario on the fakes of dp_harness.h, on real
 * rings and mbufs (docs/dev/plan-replay-end-under-overload.md, sections 2
 * and 9, with the changes of its review, section 12).  Its state is a
 * struct t_tail: the port, the next live frame and how many arrive (and,
 * with t.ring_on, how many the guest reads) before each poll, how many
 * frames of each kind the migration owes the guest, and where the
 * hand-over must come (need, slack).  t_tail_begin() sets up plan test 1's
 * replay (100 buffered, 50 tunnelled, 20 held behind it, inject_close);
 * t_step() is one poll with its arrivals; t_to_handover() polls until the
 * replay reports finished (vs_dp_replay_finished()) and checks the
 * hand-over came at the mark: never before tl->need frames left, at the
 * latest one take after.  t_assert_tail() checks it left a tail (mode
 * still REPLAY, frames still held), t_drain_live() lets that tail drain
 * to LIVE, and t_check_stream() checks the order and the count of what
 * the guest got.  t_take_rest() and t_new_replay() are a new episode's and
 * a new replay's steps after a hand-over.
 *
 * The overload (review 12.4): guest_room applies per enqueue call, and a
 * round whose pending burst emptied enqueues again, so a replay at
 * guest_room 8 (T_ROOM) delivers about 10.7 frames a poll; 16 live frames
 * arrive before each poll (T_LIVE).  Frame numbers give the order the
 * guest must see (t_rank()): tunnelled 1001.., buffered 1.., held behind
 * the replay before inject_close 2001.., live after it 3001..; frames of
 * T_HIGH and above (stragglers, a new episode's, a new replay's) are
 * checked by their position.
 *
 * Its tests: test_dp_replay_tail.c (the plan's section 9) and
 * test_dp_replay_tail_race.c (review 12's missing tests).
 */
#ifndef VS_DP_TAIL_HARNESS_H
#define VS_DP_TAIL_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "vm.h"
#include "dp_harness.h"

#define T_ROOM		8	/* guest_room: frames per enqueue call */
#define T_LIVE		16	/* live frames before each poll: > ~10.7 delivered */
#define T_POLLS		600	/* polls a replay may take to reach its mark */
#define T_BOUND		64	/* rx-ring-bound (test_dp_ring_bound.c's) */
#define T_HIGH		50000	/* frames from here on: checked by position */
#define T_STRAGGLER	90001
#define T_NEW_EPISODE	50001
#define T_NEW_INJECT	70001

/* One replay scenario's state */
struct t_tail {
	struct vs_vm *vm;
	uint32_t live;		/* the next live frame (3001..) */
	uint32_t per_poll;	/* live frames queued before each poll */
	uint32_t read;		/* t.ring_on: frames the guest reads before each poll */
	uint32_t n_tun;		/* tunnelled frames, 1001.. */
	uint32_t n_buf;		/* buffered before the replay, 1.. */
	uint32_t n_mid;		/* held behind it before inject_close, 2001.. */
	unsigned int need;	/* t.got->len once everything up to the mark left */
	unsigned int slack;	/* frames the mark may lie beyond need */
	uint64_t taken;		/* frames of the stream the test took from held */
	unsigned int handover_at;	/* t.got->len at the first finished poll */
};

/* The place of @seq in the order the guest must see; below T_HIGH only */
uint32_t t_rank(uint32_t seq);
/* Where @seq is in what the guest got; -1 if it never came */
int t_index_of(uint32_t seq);
/* The entries of RX vring 0 the shim filled and the guest has not reposted */
uint32_t t_outstanding(void);
/* The guest got the stream's frames (below T_HIGH) in its order, none
 * twice, and every one it did not get was counted as buffer-full */
void t_check_stream(const struct t_tail *tl);
/* A port for these tests: @max_udp frames of UDP held at most */
struct vs_vm *t_tail_port(uint32_t max_udp);
/* @per_poll live frames queued (and, t.ring_on, the guest reads), one poll */
void t_step(struct t_tail *tl);

/*
 * t_tail_begin() - plan test 1's start: 100 buffered (1..100), 50
 * tunnelled (1001..1050), the replay starts and delivers inject; 20 live
 * frames go behind (2001..2020, the poll's replay step runs before its
 * uplink read); then inject_close (unless !@close).  T_LIVE frames arrive
 * before each poll from then on.  need = 170: the migration's frames
 */
void t_tail_begin(struct t_tail *tl, struct vs_vm *vm, bool close);

/*
 * t_to_handover() - poll (t_step()) until the replay reports finished:
 * never before tl->need frames left, and never later than the take that
 * crossed the mark (with @at_need: the frames left by delivery, so
 * got->len >= need)
 * Return: the polls it took
 */
unsigned int t_to_handover(struct t_tail *tl, bool at_need);

/* The hand-over just came: finished, mode REPLAY, frames still held,
 * replays-left-held @replays */
void t_assert_tail(const struct t_tail *tl, uint64_t replays);
/* No more arrivals: poll until LIVE; everything left, finished */
void t_drain_live(struct t_tail *tl);

/*
 * t_take_rest() - take all of held (the main loop's way,
 * vs_dp_held_take()): the frames the guest did not get, in order: the
 * stream's, continuing where t.got stops, then T_NEW_EPISODE..+@n_new-1
 * Return: frames taken
 */
unsigned int t_take_rest(struct t_tail *tl, uint32_t n_new);

/*
 * t_new_replay() - a new replay after a tail: finished never before its
 * inject_close (the old end and mark do not leak), then at its own mark.
 * @n_inject tunnelled frames (T_NEW_INJECT..) go first; @stall polls with
 * live frames before inject_close; @replays: replays-left-held then
 */
void t_new_replay(struct t_tail *tl, uint32_t n_inject, unsigned int stall,
		  uint64_t replays);

#endif /* VS_DP_TAIL_HARNESS_H */
