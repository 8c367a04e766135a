/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ho_harness.c - the handover's unit tests' environment
 *
 * Theory of operation: see ho_harness.h.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_vhost.h>

#include "dp_handshake.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "handover.h"
#include "handover_priv.h"
#include "port_registry.h"
#include "tun_harness.h"
#include "vhost_events.h"
#include "vhost_port.h"
#include "vm.h"
#include "ho_harness.h"

struct rte_mempool *t_pool;

static void t_peer_event(void *opaque, const struct vs_tun_peer_event *ev)
{
}

/* main.c's table: the handover's callbacks, and a peer event of our own */
static const struct vs_tun_ops t_ops = {
	.stream_open = vs_ho_tun_open,
	.frame = vs_ho_tun_frame,
	.in_event = vs_ho_tun_in_event,
	.out_event = vs_ho_tun_out_event,
	.expect = vs_ho_tun_expect,
	.peer_event = t_peer_event,
	.source_direct = vs_ho_tun_source_direct,
	.source_barrier = vs_ho_tun_source_barrier,
	.conns = vs_ho_tun_conns,
};

void t_env_init(struct t_env *e, unsigned int hold_ms, unsigned int expect_timeout_ms)
{
	struct vs_tun_cfg cfg = { .node_name = "hostb", .listen = "127.0.0.1:0",
				  .key_file = th_key_path };
	g_autoptr(GError) err = NULL;
	struct vs_vm *vm;

	memset(e, 0, sizeof(*e));
	e->tun = vs_tun_new(&cfg, &t_ops, NULL, &err);
	g_assert_no_error(err);
	vs_ho_set_tunnel(e->tun);
	vs_ho_set_expect_timeout(expect_timeout_ms);

	vm = g_new0(struct vs_vm, 1);
	vm->cfg = g_new0(struct vs_port_cfg, 1);
	vm->cfg->name = g_strdup(VM_NAME);
	vm->cfg->socket_path = g_strdup("/nonexistent/vm1.sock");
	memcpy(vm->cfg->mac, VM_MAC, 6);
	vm->cfg->queues = 1;
	vm->cfg->mtu = VS_DEFAULT_MTU;
	vs_buf_policy_init(&vm->cfg->policy);
	vm->cfg->policy.hold_ms = hold_ms;
	vm->pool = t_pool;
	vm->vid = -1;			/* no device yet: the VM runs at the source */
	g_assert_true(vs_ho_attach(vm, &err));
	g_assert_no_error(err);
	g_assert_true(vs_port_registry_reserve(vm->cfg, &vm->slot, &err));
	vs_port_registry_insert(vm);
	e->vm = vm;
}

void t_env_fini(struct t_env *e)
{
	struct vs_vm *vm = e->vm;

	fp_close(&e->src);
	vs_port_registry_remove(vm);
	vs_ho_detach(vm);
	vs_ho_set_tunnel(NULL);
	vs_tun_free(e->tun);
	drain_loop();
	g_free(vm->cfg->name);
	g_free(vm->cfg->socket_path);
	g_free(vm->cfg);
	g_free(vm);
	/* every mbuf came back */
	g_assert_cmpuint(rte_mempool_avail_count(t_pool), ==, T_POOL_SIZE);
}

void t_arm(struct t_env *e)
{
	g_autoptr(GError) err = NULL;

	g_assert_true(vs_ho_expect(e->vm, NULL, &err));
	g_assert_no_error(err);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	/* the lcore's next poll, microseconds later: it answers the
	 * episode's requeue (dp_requeue()), which the replay that follows
	 * waits for (handover_rollback.c) */
	if (dp_requeue_wanted(e->vm, vs_dp_mode(e->vm)))
		dp_requeue(e->vm);
}

/* The source dials, opens stream @id for the port and is accepted */
void t_open_stream(struct t_env *e, uint32_t id, uint64_t want_next)
{
	fp_connect(&e->src, "hosta", vs_tun_listen_port(e->tun));
	fp_open_stream(&e->src, id, 1, want_next);
}

void t_send_frames(struct t_env *e, uint32_t id, uint64_t first, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		fp_send_frame(&e->src, id, first + i, VS_TUN_ORIGIN_BLACKOUT);
}

struct t_frames_seen {
	struct vs_vm *vm;
	uint64_t n;			/* tunnel-rx-frames + tunnel-frames-discarded
					 * (a frame counted in both: queued, then
					 * discarded with the queue, counts twice) */
};

static bool t_frames_seen(void *arg)
{
	struct t_frames_seen *w = arg;

	return w->vm->stats.tunnel_rx_frames + w->vm->stats.tunnel_frames_discarded >= w->n;
}

void t_wait_frames(struct t_env *e, uint64_t n)
{
	struct t_frames_seen w = { e->vm, n };

	g_assert_true(run_until(t_frames_seen, &w, DEADLINE_MS));
}

bool t_state_none(void *arg)
{
	return ((struct vs_vm *)arg)->mig.state == VS_MIG_STATE_NONE;
}

bool t_ho_main_init(int *argc, char ***argv, const char *prefix)
{
	char *eal_argv[] = { (*argv)[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", (char *)prefix, "-l", "0", NULL };

	g_test_init(argc, argv, NULL);
	if (rte_eal_init((int)G_N_ELEMENTS(eal_argv) - 1, eal_argv) < 0) {
		printf("Bail out! EAL init failed (it needs no hugepages: --no-huge)\n");
		return false;
	}
	t_pool = rte_pktmbuf_pool_create("t_pool", T_POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	g_assert_nonnull(t_pool);
	th_init();
	return true;
}

int t_ho_main_run(void)
{
	char rundir[PATH_MAX];
	int ret = g_test_run();

	th_fini();
	rte_mempool_free(t_pool);
	g_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
	rte_eal_cleanup();
	rmdir(rundir);
	return ret;
}

void t_ho_vhost(struct vs_vm *vm, enum vs_vhost_event_type type, bool logging)
{
	struct vs_vhost_event ev = { .type = type };

	g_strlcpy(ev.name, vm->cfg->name, sizeof(ev.name));
	if (logging)
		ev.features = 1ULL << VHOST_F_LOG_ALL;
	vs_ho_vhost_event(vm, &ev);
}

void t_src_blackout(struct t_env *e)
{
	t_ho_vhost(e->vm, VS_VHOST_EV_FEATURES, true);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_SRC_ACTIVE);
	e->vm->vid = -1;
	vs_ho_device_gone_sync(e->vm);	/* as vhost_port.c's destroy_device */
	t_ho_vhost(e->vm, VS_VHOST_EV_DESTROY_DEVICE, true);
	g_assert_cmpint(e->vm->mig.state, ==, VS_MIG_STATE_SRC_BLACKOUT);
	/* the lcore's next poll: a replay's frames on their way to the guest
	 * go back to held's front (dp_requeue()) */
	if (dp_requeue_wanted(e->vm, vs_dp_mode(e->vm)))
		dp_requeue(e->vm);
}

void t_src_connected(struct t_env *e, struct fake_peer *dst, GSocket **ls, uint32_t ext)
{
	g_autofree char *addr = g_strdup_printf("127.0.0.1:%u", fp_listen(ls));
	g_autoptr(GError) err = NULL;
	struct vs_tun_msg m = { .type = VS_TUN_MSG_VM_ACCEPT };
	struct vs_tun_msg open;

	g_assert_true(vs_tun_add_peer(e->tun, "hostc", addr, &err));
	g_assert_no_error(err);
	g_assert_true(vs_ho_set_peer(e->vm, "hostc", &err));
	g_assert_no_error(err);
	t_src_blackout(e);
	g_assert_nonnull(e->vm->ho->out);
	fp_accept_ext(dst, *ls, "hostc", ext);
	g_assert_true(fp_recv_type(dst, VS_TUN_MSG_VM_OPEN, &open));
	m.u.vm_accept.stream_id = open.u.vm_open.stream_id;
	m.u.vm_accept.next_expected_seq = open.u.vm_open.first_seq;
	fp_send(dst, &m);
	g_assert_true(run_until(stream_connected, e->vm->ho->out, DEADLINE_MS));
}

void t_src_disconnect(struct t_env *e, struct fake_peer *dst, GSocket *ls)
{
	fp_close(dst);
	g_socket_close(ls, NULL);
	g_object_unref(ls);
	t_env_fini(e);
}
