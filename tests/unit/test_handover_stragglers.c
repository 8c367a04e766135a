/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_handover_stragglers.c - the source's per-source straggler switch
 * (handover_stragglers.c) on a real port
 *
 * Theory of operation: the real handover and dataplane rings on EAL
 * without hugepages or devices (as test_handover.c), a port with the
 * default flow-policy rules (trigger direct, time-out = the port's
 * linger-ms; linger 0 after the switch, except where the default's 500 ms
 * is the point), and stragglers handed to
 * ho_straggler_admit() as the pump hands them.  Checked: a source the
 * destination reports as direct stops at once while another goes on; a
 * source stops at its time-out without a report; nothing is decided
 * outside forwarding; a report on another stream than the port's is
 * ignored; every refused straggler is counted (straggler-stopped).  And
 * the destination's lcore half (dp_direct.h): which frames note a source.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane.h"
#include "dp_handshake.h"
#include "dp_direct.h"
#include "dp_flow.h"
#include "dp_priv.h"
#include "flow_frames.h"
#include "handover.h"
#include "handover_priv.h"
#include "port_registry.h"
#include "tunnel_priv.h"
#include "util.h"
#include "vm.h"
#include "vhost-shim/tunnel_wire.h"

#define T_POOL_SIZE	1023
#define T_NAME		"vm1"

static struct rte_mempool *t_pool;

/* A port whose rules are the defaults, with linger-ms @rule_linger_ms
 * after a source's switch (UINT_MAX: the default's own) */
static struct vs_vm *t_port_rule_linger(unsigned int linger_ms, unsigned int rule_linger_ms)
{
	g_autoptr(GError) err = NULL;
	struct vs_flow_table *t;
	struct vs_vm *vm;
	uint32_t i;

	vm = g_new0(struct vs_vm, 1);
	vm->cfg = g_new0(struct vs_port_cfg, 1);
	vm->cfg->name = g_strdup(T_NAME);
	vm->cfg->socket_path = g_strdup("/nonexistent/vm1.sock");
	memcpy(vm->cfg->mac, ff_vm_mac, 6);
	vm->cfg->queues = 1;
	vm->cfg->mtu = VS_DEFAULT_MTU;
	vs_buf_policy_init(&vm->cfg->policy);
	vm->cfg->policy.linger_ms = linger_ms;
	vm->pool = t_pool;
	vm->vid = -1;
	g_assert_true(vs_ho_attach(vm, &err));
	g_assert_no_error(err);
	g_assert_true(vs_port_registry_reserve(vm->cfg, &vm->slot, &err));
	vs_port_registry_insert(vm);
	t = vs_dp_flow_compile(vm, NULL, &vm->policy, &err);
	g_assert_no_error(err);
	for (i = 0; rule_linger_ms != UINT_MAX && i < t->n_rules; i++)
		t->rules[i].linger_ms = rule_linger_ms;
	vs_dp_flow_install(vm, t);
	return vm;
}

/* ... with linger-ms 0 after a switch: a report stops its source at once */
static struct vs_vm *t_port(unsigned int linger_ms)
{
	return t_port_rule_linger(linger_ms, 0);
}

static void t_port_free(struct vs_vm *vm)
{
	vs_port_registry_remove(vm);
	vs_dp_flow_detach(vm);
	vs_ho_detach(vm);
	g_free(vm->cfg->name);
	g_free(vm->cfg->socket_path);
	g_free(vm->cfg);
	g_free(vm);
}

/* A UDP straggler from @src to the VM */
/* A UDP straggler from @src that reached the source @age_us ago (-1:
 * unknown): does the source tunnel it? */
static bool t_straggler_aged(struct vs_vm *vm, const char *src, int64_t age_us)
{
	uint8_t f[128];
	struct ff_spec s = { .src = src, .dst = "10.77.0.50", .proto = 17, .sport = 4000,
			     .dport = 5000, .pad_to = 60 };
	size_t n = ff_build(f, &s);

	return ho_straggler_admit(vm, f, (uint32_t)n, age_us);
}

static bool t_straggler(struct vs_vm *vm, const char *src)
{
	return t_straggler_aged(vm, src, 0);	/* arrived now */
}

static void t_report(struct vs_vm *vm, const char *src)
{
	uint8_t a[16];

	ff_addr(src, a);
	ho_stragglers_report_direct(vm, VS_FLOW_AF_INET, a);
	/* a report's time is rounded up to the next millisecond, a frame's
	 * down (in the frames' favour): the stragglers below come later */
	g_usleep(2 * 1000);
}

static uint64_t t_stopped(const struct vs_vm *vm)
{
	return vm->stats.ctl_drops[VS_DROP_STRAGGLER_STOPPED];
}

/* Two sources: the one reported stops at once, the other goes on */
static void test_direct_report_stops_one_source(void)
{
	struct vs_vm *vm = t_port(60000);

	ho_stragglers_begin(vm);
	g_assert_cmpuint(vm->ho->linger_timer, !=, 0);	/* the outer bound */
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	g_assert_true(t_straggler(vm, "10.77.0.12"));
	t_report(vm, "10.77.0.11");
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_true(t_straggler(vm, "10.77.0.12"));
	g_assert_cmpuint(t_stopped(vm), ==, 2);
	/* one report switches the source under each rule that can have it
	 * (the three default rules): counted per (source, rule) */
	g_assert_cmpuint(vm->stats.sources_switched, ==, 3);
	g_assert_cmpuint(vm->stats.sources_timed_out, ==, 0);
	t_report(vm, "10.77.0.12");
	g_assert_false(t_straggler(vm, "10.77.0.12"));
	g_assert_cmpuint(t_stopped(vm), ==, 3);
	g_assert_cmpuint(vm->stats.sources_switched, ==, 6);
	t_port_free(vm);
}

/* The default rules linger after a direct report (frames still on the
 * old path, MLAG/ECMP peers syncing): tunnelled for that long, then not */
static void test_default_linger_after_report(void)
{
	struct vs_vm *vm = t_port_rule_linger(60000, UINT_MAX);

	ho_stragglers_begin(vm);
	t_report(vm, "10.77.0.11");
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	g_usleep((VS_FLOW_DEFAULT_DIRECT_LINGER_MS + 30) * 1000);
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_cmpuint(t_stopped(vm), ==, 1);
	t_port_free(vm);
}

/* The report reaches the port through the tunnel's callback, and only for
 * the port's own stream */
static void test_report_through_callback(void)
{
	static const uint8_t a[16] = { 10, 77, 0, 11 };
	struct vs_vm *vm = t_port(60000);

	ho_stragglers_begin(vm);
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	/* another stream's (a migration before): ignored */
	vs_ho_tun_source_direct(NULL, (struct vs_tun_stream *)vm, T_NAME, VS_TUN_SRC_AF_INET, a);
	g_assert_cmpuint(vm->stats.direct_reports_received, ==, 0);
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	/* a port of another name: nothing */
	vs_ho_tun_source_direct(NULL, vm->ho->out, "vm9", VS_TUN_SRC_AF_INET, a);
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	vs_ho_tun_source_direct(NULL, vm->ho->out, T_NAME, VS_TUN_SRC_AF_INET, a);
	g_assert_cmpuint(vm->stats.direct_reports_received, ==, 1);
	g_usleep(2 * 1000);
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	t_port_free(vm);
}

/* No report: a source stops at its time-out (the port's linger-ms) */
static void test_timeout_stops_source(void)
{
	struct vs_vm *vm = t_port(40);

	ho_stragglers_begin(vm);
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	g_usleep(60 * 1000);
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_false(t_straggler(vm, "10.77.0.12"));	/* unseen so far: the same */
	g_assert_cmpuint(t_stopped(vm), ==, 2);
	g_assert_cmpuint(vm->stats.sources_timed_out, ==, 2);
	g_assert_cmpuint(vm->stats.sources_switched, ==, 0);
	t_port_free(vm);
}

/* A straggler that waited in held since before its source was reported
 * is still tunnelled; one that arrived after the report is not */
static void test_queued_before_report(void)
{
	struct vs_vm *vm = t_port(60000);

	ho_stragglers_begin(vm);
	g_usleep(30 * 1000);
	t_report(vm, "10.77.0.11");
	g_assert_true(t_straggler_aged(vm, "10.77.0.11", 20 * 1000));	/* arrived 20 ms ago */
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_cmpuint(t_stopped(vm), ==, 1);
	t_port_free(vm);
}

/* A straggler without an arrival time (put back into held from an earlier
 * hop's inject ring: old by definition) is tunnelled, not judged as
 * arrived now, even after its source stopped */
static void test_unknown_age_tunnelled(void)
{
	struct vs_vm *vm = t_port(60000);

	ho_stragglers_begin(vm);
	t_report(vm, "10.77.0.11");
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	g_assert_true(t_straggler_aged(vm, "10.77.0.11", -1));
	g_assert_cmpuint(t_stopped(vm), ==, 1);
	t_port_free(vm);
}

/* An mbuf holding a UDP frame from @src to @dst_mac */
static struct rte_mbuf *t_mbuf(const char *src, const uint8_t dst_mac[6])
{
	struct ff_spec s = { .src = src, .dst = "10.77.0.50", .proto = 17, .sport = 4000,
			     .dport = 5000, .pad_to = 60 };
	struct rte_mbuf *m = rte_pktmbuf_alloc(t_pool);
	uint8_t f[128];
	size_t n = ff_build(f, &s);

	g_assert_nonnull(m);
	memcpy(f, dst_mac, 6);
	memcpy(rte_pktmbuf_append(m, (uint16_t)n), f, n);
	return m;
}

/* The lcore notes @src's frame; how many notes the main loop can take */
static unsigned int t_note(struct vs_vm *vm, const char *src, const uint8_t dst_mac[6])
{
	struct rte_mbuf *m = t_mbuf(src, dst_mac);
	struct vs_dp_direct_note note;
	unsigned int n = 0;

	dp_direct_note(vm, &m, 1, rte_get_tsc_cycles(), VS_DP_LIVE, NULL);
	rte_pktmbuf_free(m);
	while (vs_dp_direct_take(vm, &note)) {
		uint8_t want[16];

		ff_addr(src, want);
		g_assert_cmpuint(note.af, ==, VS_FLOW_AF_INET);
		g_assert_cmpmem(note.addr, 16, want, 16);
		n++;
	}
	return n;
}

/*
 * Destination: while the window is open, each source whose unicast frames
 * to the VM arrive is noted once; broadcast proves nothing; nothing is
 * noted outside the window; a new window (the next migration) notes every
 * source again
 */
static void test_destination_notes(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct vs_vm *vm = t_port(60000);

	g_assert_cmpuint(t_note(vm, "10.77.0.31", ff_vm_mac), ==, 0);	/* closed */
	vs_dp_dedup_open(vm);
	g_assert_true(vs_dp_direct_window(vm));
	g_assert_cmpuint(t_note(vm, "10.77.0.31", bcast), ==, 0);
	g_assert_cmpuint(t_note(vm, "10.77.0.31", ff_vm_mac), ==, 1);
	g_assert_cmpuint(t_note(vm, "10.77.0.31", ff_vm_mac), ==, 0);	/* once */
	g_assert_cmpuint(t_note(vm, "10.77.0.32", ff_vm_mac), ==, 1);
	vs_dp_dedup_close(vm);
	g_assert_false(vs_dp_direct_window(vm));
	g_assert_cmpuint(t_note(vm, "10.77.0.33", ff_vm_mac), ==, 0);
	vs_dp_dedup_open(vm);
	g_assert_cmpuint(t_note(vm, "10.77.0.31", ff_vm_mac), ==, 1);	/* a new window */
	vs_dp_dedup_close(vm);
	t_port_free(vm);
}

/* A full queue: the source is noted again on a later frame, not lost */
static void test_destination_queue_full(void)
{
	struct vs_dp_direct_note note;
	struct vs_vm *vm = t_port(60000);
	char addr[32];
	unsigned int i;

	/*
	 * A fixed hash seed: with a random one, about 3 runs in 100 one of
	 * the 257 sources finds its 8 probes taken (notes are not reused
	 * within a window) and is not noted, which this test is not about
	 */
	vs_flow_src_init(&vm->dp.direct->notes, vm->dp.direct->slots, VS_DP_DIRECT_SLOTS, 1);
	vs_dp_dedup_open(vm);
	for (i = 0; i <= VS_DP_DIRECT_QUEUE; i++) {
		struct rte_mbuf *m;

		g_snprintf(addr, sizeof(addr), "10.1.%u.%u", i / 250, i % 250 + 1);
		m = t_mbuf(addr, ff_vm_mac);
		dp_direct_note(vm, &m, 1, rte_get_tsc_cycles(), VS_DP_LIVE, NULL);
		rte_pktmbuf_free(m);
	}
	/* the last one found the queue full: not noted */
	for (i = 0; vs_dp_direct_take(vm, &note); i++)
		;
	g_assert_cmpuint(i, ==, VS_DP_DIRECT_QUEUE);
	g_assert_cmpuint(t_note(vm, addr, ff_vm_mac), ==, 1);
	vs_dp_dedup_close(vm);
	t_port_free(vm);
}

/*
 * A note the queue still holds when its window closes (the stream ended
 * first: the notes are not taken without one) is never sent in the next
 * window, to the next migration's source: emptied when a window opens,
 * and a note the lcore stamped with an older epoch is skipped
 */
static void test_destination_stale_notes(void)
{
	struct vs_dp_direct_note note;
	struct vs_vm *vm = t_port(60000);
	struct rte_mbuf *m;

	ho_dedup_open(vm);
	m = t_mbuf("10.77.0.41", ff_vm_mac);
	dp_direct_note(vm, &m, 1, rte_get_tsc_cycles(), VS_DP_LIVE, NULL);
	rte_pktmbuf_free(m);
	ho_dedup_close(vm);		/* not taken: the stream had ended */
	ho_dedup_open(vm);		/* the VM is back: another migration */
	g_assert_false(vs_dp_direct_take(vm, &note));
	/* the lcore noted in the window that was, as the main loop opened
	 * the next one (the epoch changed after the queue was emptied) */
	m = t_mbuf("10.77.0.42", ff_vm_mac);
	dp_direct_note(vm, &m, 1, rte_get_tsc_cycles(), VS_DP_LIVE, NULL);
	rte_pktmbuf_free(m);
	vs_dp_dedup_open(vm);
	g_assert_false(vs_dp_direct_take(vm, &note));
	g_assert_cmpuint(t_note(vm, "10.77.0.42", ff_vm_mac), ==, 1);	/* noted anew */
	ho_dedup_close(vm);
	t_port_free(vm);
}

static gboolean t_never(gpointer data)
{
	g_assert_not_reached();
	return G_SOURCE_REMOVE;
}

/* An announcement step still pending from the VM's last arrival here */
static void t_announcing(struct vs_vm *vm)
{
	if (!vm->ho->announce_timer)
		vm->ho->announce_timer = g_timeout_add(60000, t_never, vm);
}

/*
 * The VM leaves (src-active, src-blackout) or is expected again
 * (dst-expecting): the announcement steps of its last arrival stop, or
 * they would move the switches, and its peers' frames, back here
 */
static void test_leaving_stops_announcing(void)
{
	struct vs_vm *vm = t_port(60000);

	t_announcing(vm);
	ho_feed(vm, VS_MIG_EV_LOG_ON);			/* src-active */
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_SRC_ACTIVE);
	g_assert_cmpuint(vm->ho->announce_timer, ==, 0);
	t_announcing(vm);
	ho_feed(vm, VS_MIG_EV_DEVICE_DOWN);		/* src-blackout */
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_SRC_BLACKOUT);
	g_assert_cmpuint(vm->ho->announce_timer, ==, 0);
	ho_feed(vm, VS_MIG_EV_HOLD_EXPIRED);		/* none */
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_NONE);
	t_announcing(vm);
	ho_feed(vm, VS_MIG_EV_EXPECT);			/* dst-expecting */
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_DST_EXPECTING);
	g_assert_cmpuint(vm->ho->announce_timer, ==, 0);
	t_port_free(vm);
}

/*
 * A report the stream cannot send now (its connection not ready: a
 * reconnect) stays queued for the next tick instead of being lost
 */
static void test_destination_unsent_note_kept(void)
{
	struct vs_tun_in down = { .conn = NULL };	/* a connection not ready */
	struct vs_dp_direct_note note;
	struct vs_vm *vm = t_port(60000);
	struct rte_mbuf *m;
	uint8_t want[16];

	ho_dedup_open(vm);
	m = t_mbuf("10.77.0.51", ff_vm_mac);
	dp_direct_note(vm, &m, 1, rte_get_tsc_cycles(), VS_DP_LIVE, NULL);
	rte_pktmbuf_free(m);
	vm->ho->in = &down;
	g_assert_true(ho_direct_wanted(vm));
	ho_direct_pump(vm);
	vm->ho->in = NULL;
	g_assert_cmpuint(vm->stats.direct_reports_sent, ==, 0);
	g_assert_true(vs_dp_direct_take(vm, &note));	/* still there */
	ff_addr("10.77.0.51", want);
	g_assert_cmpmem(note.addr, 16, want, 16);
	ho_dedup_close(vm);
	t_port_free(vm);
}

/*
 * Forwarding ends (LINGER_EXPIRED) with stragglers still in held (a slow
 * tunnel): those of a source already stopped count as straggler-stopped,
 * not peer-lost
 */
static void test_linger_end_counts_stopped(void)
{
	static const char *const src[] = { "10.77.0.11", "10.77.0.12" };
	struct vs_vm *vm = t_port(60000);
	unsigned int i;

	ho_feed(vm, VS_MIG_EV_LOG_ON);
	ho_feed(vm, VS_MIG_EV_DEVICE_DOWN);
	ho_feed(vm, VS_MIG_EV_PEER_RESUMED);
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_SRC_FORWARDING);
	/* no lcore here to hand back what it had (the blackout's start) */
	dp_requeue_answer(vm, vm->dp.hs.requeue_req);
	vs_dp_held_drop_all(vm, VS_DROP_PEER_LOST);	/* the blackout's, if any */
	VS_STAT_SET(vm->stats.ctl_drops[VS_DROP_PEER_LOST], 0);
	t_report(vm, "10.77.0.11");
	for (i = 0; i < G_N_ELEMENTS(src); i++) {
		struct rte_mbuf *m = t_mbuf(src[i], ff_vm_mac);

		vs_dp_arrival_set_age(m, 0);
		g_assert_cmpint(rte_ring_enqueue(vm->dp.held, m), ==, 0);
	}
	ho_feed(vm, VS_MIG_EV_LINGER_EXPIRED);
	g_assert_cmpint(vm->mig.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpuint(t_stopped(vm), ==, 1);
	g_assert_cmpuint(vm->stats.ctl_drops[VS_DROP_PEER_LOST], ==, 1);
	t_port_free(vm);
}

/* Outside forwarding nothing is decided; a new forwarding starts afresh */
static void test_only_while_forwarding(void)
{
	struct vs_vm *vm = t_port(60000);

	t_report(vm, "10.77.0.11");
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	ho_stragglers_begin(vm);
	t_report(vm, "10.77.0.11");
	g_assert_false(t_straggler(vm, "10.77.0.11"));
	ho_stragglers_end(vm);
	g_assert_cmpuint(vm->ho->linger_timer, ==, 0);
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	ho_stragglers_begin(vm);	/* the next migration: every source anew */
	g_assert_true(t_straggler(vm, "10.77.0.11"));
	g_assert_cmpuint(t_stopped(vm), ==, 1);
	t_port_free(vm);
}

int main(int argc, char **argv)
{
	char *eal_argv[] = { argv[0], "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry",
			     "--file-prefix", "vs-unit-ho-stragglers",
			     "-l", "0", NULL };
	char rundir[PATH_MAX];
	int ret;

	g_test_init(&argc, &argv, NULL);
	if (rte_eal_init((int)G_N_ELEMENTS(eal_argv) - 1, eal_argv) < 0) {
		printf("Bail out! EAL init failed (it needs no hugepages: --no-huge)\n");
		return 1;
	}
	t_pool = rte_pktmbuf_pool_create("t_pool", T_POOL_SIZE, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	g_assert_nonnull(t_pool);
	g_test_add_func("/handover/stragglers/direct-report-stops-one-source",
			test_direct_report_stops_one_source);
	g_test_add_func("/handover/stragglers/default-linger-after-report",
			test_default_linger_after_report);
	g_test_add_func("/handover/stragglers/report-through-callback",
			test_report_through_callback);
	g_test_add_func("/handover/stragglers/timeout", test_timeout_stops_source);
	g_test_add_func("/handover/stragglers/queued-before-report", test_queued_before_report);
	g_test_add_func("/handover/stragglers/unknown-age-tunnelled", test_unknown_age_tunnelled);
	g_test_add_func("/handover/stragglers/only-while-forwarding", test_only_while_forwarding);
	g_test_add_func("/handover/stragglers/destination-notes", test_destination_notes);
	g_test_add_func("/handover/stragglers/destination-queue-full", test_destination_queue_full);
	g_test_add_func("/handover/stragglers/destination-stale-notes", test_destination_stale_notes);
	g_test_add_func("/handover/stragglers/destination-unsent-note-kept",
			test_destination_unsent_note_kept);
	g_test_add_func("/handover/stragglers/linger-end-counts-stopped",
			test_linger_end_counts_stopped);
	g_test_add_func("/handover/stragglers/leaving-stops-announcing",
			test_leaving_stops_announcing);
	ret = g_test_run();
	rte_mempool_free(t_pool);
	g_strlcpy(rundir, rte_eal_get_runtime_dir(), sizeof(rundir));
	rte_eal_cleanup();
	rmdir(rundir);
	return ret;
}
