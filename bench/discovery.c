/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * discovery.c - bench/discovery: what one migration costs the cluster, as
 * the cluster grows, with the etcd registry and with the EXPECT broadcast
 * (no DPDK, no QEMU: registrations, watches and announcements only)
 *
 * Theory of operation: N simulated hosts in this one process, on the GLib
 * main loop, each the real module a shim runs:
 *   registry  N registry clients (discovery.h) against one real etcd, each
 *             registered (node key under a lease) and watching the UUID of
 *             the one VM it runs.  A migration of host S's VM to host D:
 *             D calls vs_disc_expect(U), which writes vm/U; S's watch sees
 *             it and resolves D's node key (the time until S knows is the
 *             "learn" time); then D's expectation ends (revoke) and S
 *             forgets.  Counted over all N clients, keepalives left out
 *             (they are periodic per host, one every ttl/3, whatever
 *             migrates): requests, JSON bytes, watch events delivered, and
 *             how many hosts did anything.
 *   broadcast N tunnels (tunnel.h) on 127.0.0.1 with one pre-shared key;
 *             each destination has the N-1 others as [peer]s, as the
 *             broadcast needs.  A migration to host D: D announces the VM
 *             (vs_tun_announce_expect()), which connects to every peer
 *             that it has no connection to yet and sends each an EXPECT;
 *             S knows when its EXPECT arrives.  Counted: connections
 *             opened and EXPECTs sent, those refused (a host that
 *             announced before holds N-1 connections, over the listener's
 *             limit of 64 in all, and refuses the next destination's), the
 *             time until S knew and until the last peer did.  Each migration goes to a
 *             destination that has not announced before, as in a cluster
 *             where VMs land anywhere (its connections are new).
 * Output: one JSON object per run on stdout; bench/discovery/run makes the
 * table of docs/benchmarks.md.
 *
 * Usage: bench-discovery registry ETCD-URL N MIGRATIONS
 *        bench-discovery broadcast N MIGRATIONS
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "config.h"
#include "discovery.h"
#include "log.h"
#include "tunnel.h"

#define BENCH_TTL_S	60	/* keepalives every 20 s: little background */
#define DEADLINE_US	(30 * G_USEC_PER_SEC)

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };

typedef bool (*cond_fn)(void *arg);

static bool spin_until(cond_fn cond, void *arg)
{
	gint64 end = g_get_monotonic_time() + DEADLINE_US;

	while (!cond(arg)) {
		if (g_get_monotonic_time() > end)
			return false;
		g_main_context_iteration(NULL, TRUE);
	}
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, unsigned int n, double p)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n ? v[(unsigned int)((n - 1) * p + 0.5)] : 0;
}

/* --- registry ------------------------------------------------------------ */

struct rhost {
	unsigned int i;
	struct vs_disc *d;
	char name[32];
	char uuid[VS_UUID_LEN + 1];
	char dest[VS_DISC_NODE_MAX + 1];	/* what its watch says now */
	uint64_t events;			/* destination callbacks */
};

static struct rhost *rhosts;
static unsigned int n_hosts;

static void r_dest_cb(void *opaque, const char *uuid, const struct vs_disc_node *node)
{
	struct rhost *h = opaque;

	g_strlcpy(h->dest, node->name, sizeof(h->dest));
	h->events++;
}

static void r_gone_cb(void *opaque, const char *uuid, const char *node)
{
	struct rhost *h = opaque;

	h->dest[0] = '\0';
	h->events++;
}

static const struct vs_disc_ops r_ops = {
	.destination = r_dest_cb,
	.destination_gone = r_gone_cb,
};

/* Totals over every host, keepalives left out */
struct rtotals {
	uint64_t requests, bytes, watch_events, events;
	unsigned int busy_hosts;	/* hosts with any non-keepalive request or event */
};

static void r_host_sums(const struct rhost *h, uint64_t *req, uint64_t *bytes, uint64_t *ev)
{
	const struct vs_etcd_stats *es = vs_disc_get_etcd_stats(h->d);
	unsigned int op;

	*req = *bytes = 0;
	for (op = 0; op < VS_ETCD_NUM_OPS; op++) {
		if (op == VS_ETCD_OP_KEEPALIVE)
			continue;
		*req += es->requests[op];
		*bytes += es->bytes_out[op] + es->bytes_in[op];
	}
	*ev = vs_disc_get_stats(h->d)->watch_events + h->events;
}

static uint64_t *snap_req, *snap_bytes, *snap_ev;

static void r_snapshot(void)
{
	unsigned int i;

	for (i = 0; i < n_hosts; i++)
		r_host_sums(&rhosts[i], &snap_req[i], &snap_bytes[i], &snap_ev[i]);
}

static void r_since(struct rtotals *t)
{
	unsigned int i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n_hosts; i++) {
		uint64_t req, bytes, ev;

		r_host_sums(&rhosts[i], &req, &bytes, &ev);
		t->requests += req - snap_req[i];
		t->bytes += bytes - snap_bytes[i];
		t->watch_events += vs_disc_get_stats(rhosts[i].d)->watch_events;
		if (req != snap_req[i] || ev != snap_ev[i])
			t->busy_hosts++;
	}
}

static bool all_ready(void *arg)
{
	unsigned int i;

	for (i = 0; i < n_hosts; i++) {
		const struct vs_etcd_stats *es = vs_disc_get_etcd_stats(rhosts[i].d);

		/* registered, and its watch stream requested after its first read */
		if (!vs_disc_registered(rhosts[i].d) || !es->requests[VS_ETCD_OP_WATCH])
			return false;
	}
	return true;
}

static const char *want_dest;

static bool src_knows(void *arg)
{
	return !strcmp(((struct rhost *)arg)->dest, want_dest);
}

static int bench_registry(const char *url, unsigned int n, unsigned int migrations)
{
	const char *urls[2] = { url, NULL };
	g_autofree double *learn = g_new0(double, migrations);
	g_autofree double *forget = g_new0(double, migrations);
	uint64_t req = 0, bytes = 0, watch_events = 0, busy = 0, busy_max = 0;
	uint64_t start_req = 0, start_bytes = 0;
	gint64 t0;
	unsigned int i, m;

	n_hosts = n;
	rhosts = g_new0(struct rhost, n);
	snap_req = g_new0(uint64_t, n);
	snap_bytes = g_new0(uint64_t, n);
	snap_ev = g_new0(uint64_t, n);
	t0 = g_get_monotonic_time();
	for (i = 0; i < n; i++) {
		struct rhost *h = &rhosts[i];
		g_autofree char *addr = g_strdup_printf("127.0.0.1:%u", 20000 + i);
		struct vs_disc_cfg c = {
			.endpoints = urls,
			.prefix = "/bench/",
			.node_name = h->name,
			.address = addr,
			.ttl_s = BENCH_TTL_S,
			.timeout_ms = 10000,
		};
		GError *err = NULL;

		h->i = i;
		g_snprintf(h->name, sizeof(h->name), "host%04u", i);
		g_snprintf(h->uuid, sizeof(h->uuid), "00000000-0000-4000-8000-%012u", i);
		h->d = vs_disc_new(&c, &r_ops, h, &err);
		if (!h->d) {
			fprintf(stderr, "bench-discovery: %s\n", err->message);
			return 1;
		}
		vs_disc_watch(h->d, h->uuid);
	}
	if (!spin_until(all_ready, NULL)) {
		fprintf(stderr, "bench-discovery: %u hosts not ready in 30 s\n", n);
		return 1;
	}
	g_usleep(200000);
	for (i = 0; i < n; i++) {
		uint64_t r, b, e;

		r_host_sums(&rhosts[i], &r, &b, &e);
		start_req += r;
		start_bytes += b;
	}
	fprintf(stderr, "registry: %u hosts registered and watching in %.1f s\n", n,
		(double)(g_get_monotonic_time() - t0) / 1e6);
	for (m = 0; m < migrations; m++) {
		struct rhost *src = &rhosts[(m * 7919u) % n];
		struct rhost *dst = &rhosts[(src->i + 1 + m % (n - 1)) % n];
		struct rtotals t;
		gint64 a, b, c;
		uint64_t we0 = 0;

		for (i = 0; i < n; i++)
			we0 += vs_disc_get_stats(rhosts[i].d)->watch_events;
		r_snapshot();
		a = g_get_monotonic_time();
		vs_disc_expect(dst->d, src->uuid);
		want_dest = dst->name;
		if (!spin_until(src_knows, src)) {
			fprintf(stderr, "bench-discovery: %s never learned %s\n", src->name, dst->name);
			return 1;
		}
		b = g_get_monotonic_time();
		vs_disc_expect_end(dst->d, src->uuid);
		want_dest = "";
		if (!spin_until(src_knows, src)) {
			fprintf(stderr, "bench-discovery: %s never forgot %s\n", src->name, dst->name);
			return 1;
		}
		c = g_get_monotonic_time();
		/* the last replies (the revoke's) */
		for (i = 0; i < 20; i++)
			g_main_context_iteration(NULL, FALSE);
		r_since(&t);
		learn[m] = (double)(b - a) / 1000.0;
		forget[m] = (double)(c - b) / 1000.0;
		req += t.requests;
		bytes += t.bytes;
		watch_events += t.watch_events - we0;
		busy += t.busy_hosts;
		busy_max = MAX(busy_max, t.busy_hosts);
	}
	printf("{\"mode\": \"registry\", \"hosts\": %u, \"migrations\": %u, "
	       "\"startup_requests_per_host\": %.1f, \"startup_bytes_per_host\": %.0f, "
	       "\"requests_per_migration\": %.1f, \"bytes_per_migration\": %.0f, "
	       "\"watch_events_per_migration\": %.1f, \"hosts_involved_per_migration\": %.1f, "
	       "\"hosts_involved_max\": %" PRIu64 ", \"learn_ms_p50\": %.2f, \"learn_ms_p95\": %.2f, "
	       "\"forget_ms_p50\": %.2f}\n",
	       n, migrations, (double)start_req / n, (double)start_bytes / n,
	       (double)req / migrations, (double)bytes / migrations,
	       (double)watch_events / migrations, (double)busy / migrations, busy_max,
	       pct(learn, migrations, 0.5), pct(learn, migrations, 0.95),
	       pct(forget, migrations, 0.5));
	fflush(stdout);
	for (i = 0; i < n; i++)
		vs_disc_free(rhosts[i].d);
	return 0;
}

/* --- broadcast ----------------------------------------------------------- */

struct bhost {
	unsigned int i;
	struct vs_tun *t;
	char name[32];
	unsigned int expects;	/* EXPECTs received */
};

static struct bhost *bhosts;
static unsigned int expects_total;

static enum vs_tun_reject b_open(void *opaque, struct vs_tun_in *in, const char *vm,
				 const uint8_t mac[6], const char *peer, uint64_t *next,
				 GError **error)
{
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bench: no streams");
	return VS_TUN_REJECT_UNKNOWN_VM;
}

static void b_frame(void *opaque, struct vs_tun_in *in, const char *vm, uint64_t seq,
		    uint8_t origin, const uint8_t *data, uint32_t len)
{
}

static void b_in_event(void *opaque, struct vs_tun_in *in, const char *vm,
		       enum vs_tun_in_event ev, uint64_t seq)
{
}

static void b_out_event(void *opaque, struct vs_tun_stream *s, const char *vm,
			enum vs_tun_out_event ev, enum vs_tun_reject reason)
{
}

static bool b_expect(void *opaque, const char *vm, const uint8_t mac[6], const char *peer)
{
	struct bhost *h = opaque;

	h->expects++;
	expects_total++;
	return true;
}

static void b_peer_event(void *opaque, const struct vs_tun_peer_event *ev)
{
}

static const struct vs_tun_ops b_ops = {
	.stream_open = b_open,
	.frame = b_frame,
	.in_event = b_in_event,
	.out_event = b_out_event,
	.expect = b_expect,
	.peer_event = b_peer_event,
};

static unsigned int b_want;
static struct bhost *b_src;
static unsigned int b_src_want;

static bool b_src_knows(void *arg)
{
	return b_src->expects >= b_src_want;
}

static gint64 b_last_progress;
static unsigned int b_last_total;

/* every peer has its EXPECT, or none came for a second (refused) */
static bool b_all_know(void *arg)
{
	gint64 now = g_get_monotonic_time();

	if (expects_total != b_last_total) {
		b_last_total = expects_total;
		b_last_progress = now;
	}
	return expects_total >= b_want || now - b_last_progress > G_USEC_PER_SEC;
}

static int bench_broadcast(unsigned int n, unsigned int migrations)
{
	g_autofree char *key = g_build_filename(g_get_tmp_dir(), "vshim-bench-key-XXXXXX", NULL);
	g_autofree double *learn = g_new0(double, migrations);
	g_autofree double *all = g_new0(double, migrations);
	uint64_t conns = 0, msgs = 0, refused = 0;
	unsigned int i, m;
	int fd = g_mkstemp(key);

	if (fd < 0 || write(fd, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
			    65) != 65) {
		fprintf(stderr, "bench-discovery: cannot write %s\n", key);
		return 1;
	}
	close(fd);
	bhosts = g_new0(struct bhost, n);
	for (i = 0; i < n; i++) {
		struct bhost *h = &bhosts[i];
		struct vs_tun_cfg c = {
			.listen = "127.0.0.1:0",
			.key_file = key,
			.keepalive_ms = 300000,		/* no PINGs during the run */
			.keepalive_timeout_ms = 600000,
		};
		GError *err = NULL;

		h->i = i;
		g_snprintf(h->name, sizeof(h->name), "host%04u", i);
		c.node_name = h->name;
		h->t = vs_tun_new(&c, &b_ops, h, &err);
		if (!h->t) {
			fprintf(stderr, "bench-discovery: %s\n", err->message);
			return 1;
		}
	}
	for (m = 0; m < migrations; m++) {
		struct bhost *dst = &bhosts[(m * 7919u + 1) % n];
		uint64_t opened = vs_tun_get_stats(dst->t)->connections_opened;
		gint64 a, b, c;

		/* the broadcast's precondition: every other host is a [peer] */
		for (i = 0; i < n; i++) {
			g_autofree char *addr = NULL;

			if (&bhosts[i] == dst || vs_tun_has_peer(dst->t, bhosts[i].name))
				continue;
			addr = g_strdup_printf("127.0.0.1:%u", vs_tun_listen_port(bhosts[i].t));
			if (!vs_tun_add_peer(dst->t, bhosts[i].name, addr, NULL))
				return 1;
		}
		b_src = &bhosts[(dst->i + 1) % n];
		b_src_want = b_src->expects + 1;
		b_want = expects_total + n - 1;
		a = g_get_monotonic_time();
		vs_tun_announce_expect(dst->t, "vm1", vm_mac);
		if (!spin_until(b_src_knows, NULL)) {
			fprintf(stderr, "bench-discovery: %s never got the EXPECT\n", b_src->name);
			return 1;
		}
		b = g_get_monotonic_time();
		b_last_total = expects_total;
		b_last_progress = b;
		spin_until(b_all_know, NULL);
		c = expects_total >= b_want ? g_get_monotonic_time() : b_last_progress;
		learn[m] = (double)(b - a) / 1000.0;
		all[m] = (double)(c - a) / 1000.0;
		conns += vs_tun_get_stats(dst->t)->connections_opened - opened;
		msgs += n - 1;
		/* a host that announced before holds N-1 connections: over the
		 * listener's limit (64 in all), it refuses the next destination */
		refused += b_want - MIN(expects_total, b_want);
	}
	printf("{\"mode\": \"broadcast\", \"hosts\": %u, \"migrations\": %u, "
	       "\"connections_per_migration\": %.1f, \"expects_per_migration\": %.1f, "
	       "\"expects_refused\": %" PRIu64 ", "
	       "\"learn_ms_p50\": %.2f, \"learn_ms_p95\": %.2f, \"all_ms_p50\": %.2f}\n",
	       n, migrations, (double)conns / migrations, (double)msgs / migrations, refused,
	       pct(learn, migrations, 0.5), pct(learn, migrations, 0.95),
	       pct(all, migrations, 0.5));
	fflush(stdout);
	for (i = 0; i < n; i++)
		vs_tun_free(bhosts[i].t);
	g_unlink(key);
	return 0;
}

int main(int argc, char **argv)
{
	vs_log_set_level(VS_LOG_ERR);
	if (argc == 5 && !strcmp(argv[1], "registry"))
		return bench_registry(argv[2], (unsigned int)atoi(argv[3]),
				      (unsigned int)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "broadcast"))
		return bench_broadcast((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]));
	fprintf(stderr, "usage: bench-discovery registry ETCD-URL N MIGRATIONS\n"
			"       bench-discovery broadcast N MIGRATIONS\n");
	return 2;
}
