/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_lcore.c - the real lcore pass behind fakes (ho_lcore.h)
 */
#include <string.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_handshake.h"
#include "dp_priv.h"
#include "handover.h"
#include "handover_priv.h"
#include "tun_harness.h"
#include "vm.h"
#include "ho_harness.h"
#include "ho_lcore.h"

uint32_t t_budget;	/* frames the guest's ring still takes */
GArray *t_got;		/* uint64_t number of each frame delivered */
GQueue t_rx = G_QUEUE_INIT;	/* struct rte_mbuf *: the uplink's */

/* A frame's number: frame_fill()'s, at offset 14 */
static uint64_t t_num(struct rte_mbuf *m)
{
	uint64_t n;

	memcpy(&n, rte_pktmbuf_mtod_offset(m, uint8_t *, 14), sizeof(n));
	return n;
}

static uint16_t t_guest_enqueue(int vid, uint16_t vring, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i, take = (uint16_t)MIN((uint32_t)n, t_budget);

	for (i = 0; i < take; i++) {
		uint64_t num = t_num(pkts[i]);

		g_array_append_val(t_got, num);
	}
	t_budget -= take;
	return take;	/* the caller frees them */
}

static uint16_t t_uplink_rx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t i = 0;

	while (i < n && !g_queue_is_empty(&t_rx))
		pkts[i++] = g_queue_pop_head(&t_rx);
	return i;
}

static uint16_t t_uplink_tx(uint16_t port, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

static unsigned int t_guest_tx(struct vs_vm *vm, int vid, uint32_t enabled, uint16_t q)
{
	return 0;
}

static int t_uplink_drops(uint16_t port, uint64_t *nombuf, uint64_t *missed)
{
	*nombuf = *missed = 0;
	return 0;
}

static uint64_t t_tsc(void)
{
	return rte_get_tsc_cycles();
}

static uint16_t t_ring_free(int vid, uint16_t vring)
{
	return 256;
}

static bool t_ring_idle(int vid, uint16_t vring)
{
	return true;
}

static uint32_t t_uplink_depth(const struct vs_vm *vm, uint16_t q)
{
	return 1024;
}

static const struct vs_dp_ops t_ops = {
	.guest_enqueue = t_guest_enqueue,
	.uplink_rx = t_uplink_rx,
	.uplink_tx = t_uplink_tx,
	.guest_tx = t_guest_tx,
	.uplink_drops = t_uplink_drops,
	.tsc = t_tsc,
	.guest_ring_free = t_ring_free,
	.guest_ring_idle = t_ring_idle,
	.uplink_depth = t_uplink_depth,
};

/* The uplink receives frames @first..@first+@n-1 */
void t_uplink(uint64_t first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);

		g_assert_nonnull(m);
		g_assert_nonnull(rte_pktmbuf_append(m, FRAME_LEN));
		frame_fill(rte_pktmbuf_mtod(m, uint8_t *), first + i);
		g_queue_push_tail(&t_rx, m);
	}
}

bool t_inject_closed(void *arg)
{
	return vs_dp_inject_closed((struct vs_vm *)arg);
}

bool t_state_replaying(void *arg)
{
	return ((struct vs_vm *)arg)->mig.state == VS_MIG_STATE_REPLAYING;
}

bool t_replay_q_empty(void *arg)
{
	return g_queue_is_empty(&((struct vs_vm *)arg)->ho->replay_q);
}

/* The port, its device up here (not yet told to the handover), the fakes */
void t_setup(struct t_env *e)
{
	t_env_init(e, 10000, 60000);
	e->vm->policy.replay_pace_pct = 0;	/* as fast as the guest takes */
	e->vm->policy.rx_ring_bound = 0;
	e->vm->policy.replay_hold_ms = 60000;
	e->vm->vring_enabled = (1u << VS_VRING_RX(0)) | (1u << VS_VRING_TX(0));
	e->vm->dev_queues = 1;
	t_got = g_array_new(FALSE, FALSE, sizeof(uint64_t));
	t_budget = UINT32_MAX;
	vs_dp_set_ops(&t_ops);
}

void t_teardown(struct t_env *e)
{
	g_assert_true(g_queue_is_empty(&t_rx));
	e->vm->vid = -1;
	t_env_fini(e);
	vs_dp_set_ops(NULL);
	g_array_unref(t_got);
}

/* END of stream @id after @last_seq */
void t_send_end(struct t_env *e, uint32_t id, uint64_t last_seq)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_END };

	m.u.stream_seq.stream_id = id;
	m.u.stream_seq.last_seq = last_seq;
	fp_send(&e->src, &m);
}

/* The lcore polls and the main loop turns until the port is @state */
void t_run_to_state(struct t_env *e, enum vs_mig_state state)
{
	unsigned int i;

	for (i = 0; i < 200 && e->vm->mig.state != state; i++) {
		vs_dp_poll_port(e->vm);
		run_for(2);
	}
	g_assert_cmpint(e->vm->mig.state, ==, state);
}

