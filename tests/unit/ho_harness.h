/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_harness.h - what the handover's unit tests share
 *
 * Theory of operation: the real handover (handover*.c) and dataplane
 * (rings, modes; no lcore polls) on EAL without hugepages or devices, as
 * the dataplane's tests run it (main() starts EAL, the pool t_pool and
 * the tunnel harness, th_init()), and a real tunnel whose upward
 * callbacks are the handover's (vs_ho_tun_*()), as main.c wires them.  A
 * struct t_env is that tunnel, one port (VM_NAME, no device yet: the VM
 * runs at the source) and the source, a scripted peer (tun_harness.h's
 * struct fake_peer) that does the real handshake, opens a stream for the
 * port and sends frames.  t_env_fini() checks every mbuf came back.
 */
#ifndef VS_HO_HARNESS_H
#define VS_HO_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "tun_harness.h"
#include "vhost_events.h"
#include "vm.h"

#define T_POOL_SIZE	8191

/* The mbufs' pool, created by t_ho_main_init() with T_POOL_SIZE mbufs */
extern struct rte_mempool *t_pool;

/*
 * t_ho_main_init() - a handover test's start: g_test_init(), EAL without
 * hugepages or devices (file prefix @prefix), t_pool and the tunnel
 * harness (th_init())
 *
 * Return: false (after a TAP "Bail out!") if EAL did not start
 */
bool t_ho_main_init(int *argc, char ***argv, const char *prefix);

/* t_ho_main_run() - run the registered tests, then undo t_ho_main_init()
 * (the tunnel harness, t_pool, EAL and its runtime directory)
 * Return: g_test_run()'s */
int t_ho_main_run(void);

struct t_env {
	struct vs_tun *tun;
	struct vs_vm *vm;
	struct fake_peer src;
};

/* A tunnel on 127.0.0.1 and port VM_NAME with @hold_ms, attached to the
 * handover, which gives up an expectation after @expect_timeout_ms */
void t_env_init(struct t_env *e, unsigned int hold_ms, unsigned int expect_timeout_ms);
void t_env_fini(struct t_env *e);
/* Arm the port, as migrate-expect does, and the lcore's answer to it */
void t_arm(struct t_env *e);
/* The source dials, opens stream @id for the port and is accepted */
void t_open_stream(struct t_env *e, uint32_t id, uint64_t want_next);
/* The source sends frames first..first+n-1 on stream @id */
void t_send_frames(struct t_env *e, uint32_t id, uint64_t first, unsigned int n);
/* Wait until the port saw @n frames (received or discarded) */
void t_wait_frames(struct t_env *e, uint64_t n);
/* run_until() condition: the port's (@arg) migration state is NONE */
bool t_state_none(void *arg);
/* DPDK's vhost thread reports @type for the port; @logging: the frontend
 * asked for dirty-page logging (VHOST_F_LOG_ALL: a migration's pre-copy) */
void t_ho_vhost(struct vs_vm *vm, enum vs_vhost_event_type type, bool logging);
/* The source's switchover: pre-copy (log-on), then the device goes (blackout),
 * and the lcore's requeue that follows (dp_requeue()) */
void t_src_blackout(struct t_env *e);
/* The source in its blackout with its stream accepted by @dst, a scripted
 * destination listening on *@ls that offers the HELLO extensions @ext:
 * VM_ACCEPT of everything from the stream's first seq */
void t_src_connected(struct t_env *e, struct fake_peer *dst, GSocket **ls, uint32_t ext);
/* ... and its end: the destination, its listener, then t_env_fini() */
void t_src_disconnect(struct t_env *e, struct fake_peer *dst, GSocket *ls);

#endif /* VS_HO_HARNESS_H */
