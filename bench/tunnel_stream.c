/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_stream.c - bench/tunnel-stream: what streaming a blackout costs
 * the main loop (the tunnel transport alone: no EAL, no QEMU)
 *
 * Theory of operation: two tunnels, "hosta" and "hostb", in this process on
 * 127.0.0.1, as in tests/unit/test_tunnel_transport.c.  hosta opens a
 * stream to hostb; hostb's layer above accepts it and counts the frames.
 * Nothing is committed, so hosta retains every frame, as a source does
 * during a blackout.  The pump is played by a 1 ms timer that pushes
 * frames into the stream as the handover's pump does (HO_PUMP_BUDGET per
 * tick while vs_tun_stream_can_push()), either as fast as the tunnel
 * takes them (burst) or at a fixed rate.  Measured:
 *   - push: the time spent in vs_tun_stream_push() per frame (mean, and
 *     the slowest 1 ms tick of pushes);
 *   - latency: a 1 ms "control" timer records how late it fires; its
 *     lateness is what a control-socket command or another VM would wait
 *     while the stream is busy (p50, p99, max);
 *   - the wall time until hostb has every frame.
 *
 * Usage: bench-tunnel-stream [FRAMES [PPS [LEN]]]
 *        (default 16384 frames at 50000 pps, then a burst; 100 bytes)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>

#include "log.h"
#include "tunnel.h"

#define PUMP_BUDGET	512	/* as HO_PUMP_BUDGET */
#define VM		"vm0"

static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };

struct bench {
	struct vs_tun *a, *b;
	struct vs_tun_stream *s;
	uint64_t received;
	uint64_t pushed, frames, pps;	/* pps 0: burst */
	uint32_t len;
	gint64 t_start, t_done;
	gint64 push_ns;			/* inside vs_tun_stream_push() */
	gint64 tick_max_ns;		/* the slowest tick's pushes */
	GArray *late_us;		/* the control timer's lateness */
	gint64 ctl_due;
	guint pump_id, ctl_id;
};

static enum vs_tun_reject b_open(void *opaque, struct vs_tun_in *in, const char *vm,
				 const uint8_t m[6], const char *peer, uint64_t *next,
				 GError **error)
{
	*next = 1;
	return VS_TUN_REJECT_NONE;
}

static void b_frame(void *opaque, struct vs_tun_in *in, const char *vm, uint64_t seq,
		    uint8_t origin, const uint8_t *data, uint32_t len)
{
	struct bench *bn = opaque;

	bn->received++;
	if (bn->received == bn->frames && !bn->t_done)
		bn->t_done = g_get_monotonic_time();
}

static void nop_in_event(void *o, struct vs_tun_in *in, const char *vm, enum vs_tun_in_event ev,
			 uint64_t seq)
{
}

static void nop_out_event(void *o, struct vs_tun_stream *s, const char *vm,
			  enum vs_tun_out_event ev, enum vs_tun_reject r)
{
}

static bool nop_expect(void *o, const char *vm, const uint8_t m[6], const char *peer)
{
	return false;
}

static void nop_peer_event(void *o, const struct vs_tun_peer_event *ev)
{
}

static const struct vs_tun_ops ops = {
	.stream_open = b_open,
	.frame = b_frame,
	.in_event = nop_in_event,
	.out_event = nop_out_event,
	.expect = nop_expect,
	.peer_event = nop_peer_event,
};

static gint64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The pump: one tick every 1 ms, as the handover's */
static gboolean pump_cb(gpointer data)
{
	struct bench *bn = data;
	uint8_t frame[9216];
	uint64_t due = bn->frames;
	gint64 t0 = now_ns(), t;
	unsigned int i;

	if (bn->pps) {
		gint64 el = g_get_monotonic_time() - bn->t_start;

		due = MIN(bn->frames, (uint64_t)(el * (gint64)bn->pps / 1000000) + 1);
	}
	memset(frame, 0, bn->len);
	memcpy(frame, mac, 6);
	for (i = 0; i < PUMP_BUDGET && bn->pushed < due && vs_tun_stream_can_push(bn->s); i++) {
		memcpy(frame + 14, &bn->pushed, sizeof(bn->pushed));
		vs_tun_stream_push(bn->s, 0, frame, bn->len);
		bn->pushed++;
	}
	t = now_ns() - t0;
	bn->push_ns += t;
	bn->tick_max_ns = MAX(bn->tick_max_ns, t);
	if (bn->pushed < bn->frames)
		return G_SOURCE_CONTINUE;
	bn->pump_id = 0;
	return G_SOURCE_REMOVE;
}

/* What another main-loop client sees: how late a 1 ms timer fires */
static gboolean ctl_cb(gpointer data)
{
	struct bench *bn = data;
	gint64 now = g_get_monotonic_time();
	gint64 late = now - bn->ctl_due;

	g_array_append_val(bn->late_us, late);
	bn->ctl_due = now + 1000;
	return G_SOURCE_CONTINUE;
}

static int cmp_i64(const void *x, const void *y)
{
	gint64 a = *(const gint64 *)x, b = *(const gint64 *)y;

	return a < b ? -1 : a > b;
}

static gint64 pct(GArray *a, double p)
{
	if (!a->len)
		return 0;
	return g_array_index(a, gint64, MIN(a->len - 1, (guint)(p * a->len)));
}

static void run(struct bench *bn, const char *label)
{
	gint64 deadline;

	bn->s = vs_tun_stream_open(bn->a, "hostb", VM, mac);
	while (!vs_tun_stream_connected(bn->s))
		g_main_context_iteration(NULL, TRUE);
	bn->received = bn->pushed = 0;
	bn->push_ns = bn->tick_max_ns = 0;
	bn->t_done = 0;
	bn->late_us = g_array_new(FALSE, FALSE, sizeof(gint64));
	bn->t_start = g_get_monotonic_time();
	bn->ctl_due = bn->t_start + 1000;
	bn->pump_id = g_timeout_add(1, pump_cb, bn);
	bn->ctl_id = g_timeout_add(1, ctl_cb, bn);
	deadline = bn->t_start + 300 * G_USEC_PER_SEC;
	while (bn->received < bn->frames && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	if (bn->pump_id)
		g_source_remove(bn->pump_id);
	g_source_remove(bn->ctl_id);
	bn->pump_id = bn->ctl_id = 0;
	g_array_sort(bn->late_us, cmp_i64);
	printf("%-18s %7" PRIu64 " frames  %8.1f ms to deliver  push %6.2f us/frame  "
	       "slowest tick %7.2f ms  control timer late p50 %5" G_GINT64_FORMAT
	       " us p99 %6" G_GINT64_FORMAT " us max %6" G_GINT64_FORMAT " us\n",
	       label, bn->received, (bn->t_done - bn->t_start) / 1000.0,
	       bn->pushed ? bn->push_ns / 1000.0 / bn->pushed : 0.0, bn->tick_max_ns / 1e6,
	       pct(bn->late_us, 0.5), pct(bn->late_us, 0.99), pct(bn->late_us, 1.0));
	fflush(stdout);
	g_array_unref(bn->late_us);
	vs_tun_stream_close(bn->s, false);
}

static char *write_key(void)
{
	g_autofree char *path = g_build_filename(g_get_tmp_dir(), "vshim-bench-key-XXXXXX", NULL);
	const char key[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
	int fd = g_mkstemp_full(path, O_WRONLY, 0600);

	if (fd < 0 || write(fd, key, sizeof(key) - 1) != (ssize_t)(sizeof(key) - 1))
		exit(1);
	close(fd);
	return g_steal_pointer(&path);
}

int main(int argc, char **argv)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *key = write_key();
	g_autofree char *addr = NULL;
	struct vs_tun_cfg ca = { .node_name = "hosta", .listen = "127.0.0.1:0", .key_file = key };
	struct vs_tun_cfg cb = ca;
	struct bench bn = { 0 };
	g_autofree char *label = NULL;

	bn.frames = argc > 1 ? strtoull(argv[1], NULL, 10) : 16384;
	bn.pps = argc > 2 ? strtoull(argv[2], NULL, 10) : 50000;
	bn.len = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 100;
	if (bn.len < 14 || bn.len > 9216 || !bn.frames) {
		fprintf(stderr, "usage: %s [FRAMES [PPS [LEN 14..9216]]]\n", argv[0]);
		return 2;
	}
	vs_log_set_level(VS_LOG_ERR);
	cb.node_name = "hostb";
	bn.a = vs_tun_new(&ca, &ops, &bn, &err);
	bn.b = bn.a ? vs_tun_new(&cb, &ops, &bn, &err) : NULL;
	if (!bn.b) {
		fprintf(stderr, "tunnel: %s\n", err->message);
		return 1;
	}
	addr = g_strdup_printf("127.0.0.1:%u", vs_tun_listen_port(bn.b));
	if (!vs_tun_add_peer(bn.a, "hostb", addr, &err)) {
		fprintf(stderr, "peer: %s\n", err->message);
		return 1;
	}
	printf("bench-tunnel-stream: %" PRIu64 " frames of %u bytes, retained (a blackout), "
	       "pump tick 1 ms, budget %d\n", bn.frames, bn.len, PUMP_BUDGET);
	if (bn.pps) {
		label = g_strdup_printf("at %" PRIu64 " pps", bn.pps);
		run(&bn, label);
	}
	bn.pps = 0;
	run(&bn, "burst");
	vs_tun_free(bn.a);
	vs_tun_free(bn.b);
	g_unlink(key);
	return 0;
}
