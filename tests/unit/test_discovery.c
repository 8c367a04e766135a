/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_discovery.c - the [discovery] registry: values (pure), and the
 * client against a fake etcd in this process (tests/unit/fake_etcd.c)
 *
 * Each client test runs two registry clients, "hosta" (the destination)
 * and "hostb" (the source), on the default main context with the fake
 * etcd, and spins the context until what it waits for happens (bounded).
 * The end-to-end test (tests/e2e/test_discovery.py) runs the real etcd.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "disc_etcd.h"
#include "discovery.h"
#include "disc_value.h"
#include "fake_etcd.h"

#define UUID	"9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"
#define PREFIX	"/vst/"

/* --- values (pure) ---------------------------------------------------------- */

static void test_value_node(void)
{
	struct vs_disc_node n = { .name = "hosta", .address = "10.0.0.1:7400", .tls = "x509",
				  .fingerprint = "sha256:00ff" }, out;
	g_autofree char *v = vs_disc_node_value(&n);
	g_autoptr(GError) err = NULL;
	g_autofree char *big = NULL;
	static const char *const bad[] = {
		"{\"node\":\"hostb\",\"address\":\"10.0.0.1:7400\"}",	/* another node */
		"{\"node\":\"hosta\",\"address\":\"0.0.0.0:7400\"}",	/* wildcard */
		"{\"node\":\"hosta\",\"address\":\"evil.example:7400\"}",	/* a name */
		"{\"node\":\"hosta\",\"address\":\"10.0.0.1\"}",		/* no port */
		"{\"node\":\"hosta\",\"address\":\"10.0.0.1:0\"}",
		"{\"node\":\"hosta\",\"address\":\"10.0.0.1:7400\",\"tls\":\"psk\"}",
		"{\"node\":\"hosta\",\"address\":\"10.0.0.1:7400\",\"fingerprint\":\"a b\"}",
		"{\"node\":\"hosta\",\"address\":7400}",
		"{\"node\":[],\"address\":\"10.0.0.1:7400\"}",
		"[\"hosta\"]", "not json", "",
	};
	unsigned int i;

	g_assert_true(vs_disc_parse_node_value("hosta", v, strlen(v), &out, &err));
	g_assert_no_error(err);
	g_assert_cmpstr(out.address, ==, "10.0.0.1:7400");
	g_assert_cmpstr(out.tls, ==, "x509");
	g_assert_cmpstr(out.fingerprint, ==, "sha256:00ff");
	{
		const char *v6 = "{\"node\":\"hosta\",\"address\":\"[::1]:7400\"}";

		g_assert_true(vs_disc_parse_node_value("hosta", v6, strlen(v6), &out, NULL));
	}
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_error(&err);
		g_assert_false(vs_disc_parse_node_value("hosta", bad[i], strlen(bad[i]), &out, &err));
		g_assert_nonnull(err);
	}
	/* VS_DISC_VALUE_MAX, then one more: padded with blanks */
	big = g_strdup_printf("{\"node\":\"hosta\",\"address\":\"10.0.0.1:7400\"%*s}",
			      (int)(VS_DISC_VALUE_MAX - 42), "");
	g_assert_cmpuint(strlen(big), ==, VS_DISC_VALUE_MAX);
	g_assert_true(vs_disc_parse_node_value("hosta", big, strlen(big), &out, NULL));
	g_free(big);
	big = g_strdup_printf("{\"node\":\"hosta\",\"address\":\"10.0.0.1:7400\"%*s}",
			      (int)(VS_DISC_VALUE_MAX - 41), "");
	g_assert_false(vs_disc_parse_node_value("hosta", big, strlen(big), &out, NULL));
	/* a NUL inside the value */
	g_assert_false(vs_disc_parse_node_value("hosta", "{\"node\":\"hosta\"}\0x", 18, &out, NULL));
}

static void test_value_vm(void)
{
	g_autofree char *v = vs_disc_vm_value("hostb");
	char node[VS_DISC_NODE_MAX + 1];

	g_assert_true(vs_disc_parse_vm_value(v, strlen(v), node, NULL));
	g_assert_cmpstr(node, ==, "hostb");
	g_assert_false(vs_disc_parse_vm_value("{\"node\":\"a b\"}", 14, node, NULL));
	g_assert_false(vs_disc_parse_vm_value("{\"node\":1}", 10, node, NULL));
	g_assert_false(vs_disc_parse_vm_value("{}", 2, node, NULL));
	{
		g_autofree char *key = vs_disc_key("/p/", "vm", UUID);

		g_assert_cmpstr(key, ==, "/p/vm/" UUID);
	}
}

static void watch_ok(const char *line, bool created, unsigned int events)
{
	g_autoptr(GError) err = NULL;
	struct vs_disc_watch_msg m;

	g_assert_true(vs_disc_parse_watch_line(line, strlen(line), &m, &err));
	g_assert_no_error(err);
	g_assert_cmpint(m.created, ==, created);
	g_assert_cmpuint(m.events->len, ==, events);
	vs_disc_watch_msg_clear(&m);
}

static void watch_bad(const char *line)
{
	g_autoptr(GError) err = NULL;
	struct vs_disc_watch_msg m;

	g_assert_false(vs_disc_parse_watch_line(line, strlen(line), &m, &err));
	g_assert_nonnull(err);
	g_assert_null(m.events);
}

static void test_value_watch(void)
{
	GString *many = g_string_new("{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[");
	struct vs_disc_watch_msg m;
	unsigned int i;

	/* as etcd 3.4's gateway writes them */
	watch_ok("{\"result\":{\"header\":{\"cluster_id\":\"1\",\"revision\":\"2\"},\"created\":true}}",
		 true, 0);
	watch_ok("{\"result\":{\"header\":{\"revision\":\"3\"},\"events\":[{\"kv\":{\"key\":"
		 "\"dm0vdTE=\",\"create_revision\":\"3\",\"mod_revision\":\"3\",\"version\":\"1\","
		 "\"value\":\"aG9zdGI=\",\"lease\":\"2324035828413282573\"}}]}}", false, 1);
	watch_ok("{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"type\":\"DELETE\","
		 "\"kv\":{\"key\":\"dm0vdTE=\",\"mod_revision\":\"4\"}}]}}", false, 1);
	{
		const char *del = "{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":"
				  "[{\"type\":\"DELETE\",\"kv\":{\"key\":\"dm0vdTE=\"}}]}}";

		g_assert_true(vs_disc_parse_watch_line(del, strlen(del), &m, NULL));
	}
	g_assert_true(((struct vs_disc_kv *)g_ptr_array_index(m.events, 0))->deleted);
	g_assert_cmpstr(((struct vs_disc_kv *)g_ptr_array_index(m.events, 0))->key, ==, "vm/u1");
	vs_disc_watch_msg_clear(&m);
	watch_bad("{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}");
	watch_bad("{\"result\":{\"header\":{\"revision\":\"x\"}}}");
	watch_bad("{\"result\":{\"events\":[]}}");
	watch_bad("{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"type\":\"PUTT\","
		  "\"kv\":{\"key\":\"dm0=\"}}]}}");
	watch_bad("{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":"
		  "\"!!!!\"}}]}}");
	watch_bad("{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":"
		  "\"AA==\"}}]}}");	/* a key "\0" */
	watch_bad("{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{}}]}}");
	watch_bad("{\"result\":{\"header\":{\"revision\":\"4\"},\"created\":{}}}x");
	watch_bad("[]");
	/* VS_DISC_EVENTS_MAX events, then one more */
	for (i = 0; i < VS_DISC_EVENTS_MAX; i++)
		g_string_append_printf(many, "%s{\"kv\":{\"key\":\"dm0vdTE=\"}}", i ? "," : "");
	g_string_append(many, "]}}");
	watch_ok(many->str, false, VS_DISC_EVENTS_MAX);
	g_string_truncate(many, many->len - 3);
	g_string_append(many, ",{\"kv\":{\"key\":\"dm0vdTE=\"}}]}}");
	watch_bad(many->str);
	g_string_free(many, TRUE);
}

#define J(text) vs_disc_parse_json(text, strlen(text), NULL)

static void test_value_replies(void)
{
	g_autoptr(JsonObject) range = J(
		"{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"bm9kZS9h\",\"value\":"
		"\"eyJ4IjoxfQ==\",\"lease\":\"12\",\"mod_revision\":\"6\"}],\"count\":\"1\"}");
	g_autoptr(JsonObject) none = J("{\"header\":{\"revision\":\"7\"}}");
	g_autoptr(JsonObject) ka = J("{\"result\":{\"header\":{\"revision\":\"2\"},\"ID\":\"12345\"}}");
	g_autoptr(JsonObject) grant = J("{\"header\":{},\"ID\":\"77\",\"TTL\":\"10\"}");
	struct vs_disc_kv *kv = NULL;
	int64_t rev, id, ttl;

	g_assert_nonnull(range);
	g_assert_true(vs_disc_parse_range(range, &rev, &kv, NULL));
	g_assert_cmpint(rev, ==, 7);
	g_assert_cmpstr(kv->key, ==, "node/a");
	g_assert_cmpint(kv->lease, ==, 12);
	g_assert_cmpuint(g_bytes_get_size(kv->value), ==, 7);
	vs_disc_kv_free(kv);
	g_assert_true(vs_disc_parse_range(none, &rev, &kv, NULL));
	g_assert_null(kv);
	/* keepalive of an unknown lease: no TTL */
	g_assert_true(vs_disc_parse_lease(ka, &id, &ttl, NULL));
	g_assert_cmpint(id, ==, 12345);
	g_assert_cmpint(ttl, ==, 0);
	g_assert_true(vs_disc_parse_lease(grant, &id, &ttl, NULL));
	g_assert_cmpint(id, ==, 77);
	g_assert_cmpint(ttl, ==, 10);
	/* VS_DISC_REPLY_MAX and one more */
	{
		g_autofree char *big = g_malloc(VS_DISC_REPLY_MAX + 2);
		g_autoptr(JsonObject) ok = NULL, too = NULL;

		memset(big, ' ', VS_DISC_REPLY_MAX + 1);
		memcpy(big, "{}", 2);
		ok = vs_disc_parse_json(big, VS_DISC_REPLY_MAX, NULL);
		g_assert_nonnull(ok);
		too = vs_disc_parse_json(big, VS_DISC_REPLY_MAX + 1, NULL);
		g_assert_null(too);
	}
}

/* --- the client against the fake etcd -------------------------------------- */

struct peer_log {
	char dest[VS_DISC_NODE_MAX + 1];	/* the last destination, "" none */
	char addr[VS_DISC_ADDR_MAX + 1];
	unsigned int resolved, gone;
};

static void log_dest_cb(void *opaque, const char *uuid, const struct vs_disc_node *node)
{
	struct peer_log *l = opaque;

	g_strlcpy(l->dest, node->name, sizeof(l->dest));
	g_strlcpy(l->addr, node->address, sizeof(l->addr));
	l->resolved++;
}

static void log_gone_cb(void *opaque, const char *uuid, const char *node)
{
	struct peer_log *l = opaque;

	g_assert_cmpstr(node, ==, l->dest);
	l->dest[0] = '\0';
	l->gone++;
}

static const struct vs_disc_ops log_ops = {
	.destination = log_dest_cb,
	.destination_gone = log_gone_cb,
};

static struct vs_disc *client(const char *const *endpoints, const char *name, const char *addr,
			      struct peer_log *log)
{
	struct vs_disc_cfg c = {
		.endpoints = endpoints,
		.prefix = PREFIX,
		.node_name = name,
		.address = addr,
		.ttl_s = 2,
		.timeout_ms = 1000,
	};
	g_autoptr(GError) err = NULL;
	struct vs_disc *d = vs_disc_new(&c, &log_ops, log, &err);

	g_assert_no_error(err);
	return d;
}

/* Is @key in the fake etcd (its lease in *@lease) */
static bool has_key(struct fake_etcd *f, const char *key, int64_t *lease)
{
	g_autoptr(GBytes) v = fake_etcd_get(f, key, lease);

	return v != NULL;
}

typedef bool (*cond_fn)(void *arg);

/* Spin the main loop until @cond holds; false after @ms */
static bool spin_until(cond_fn cond, void *arg, unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (!cond(arg)) {
		if (g_get_monotonic_time() > end)
			return false;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(500);
	}
	return true;
}

static void spin_for(unsigned int ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;

	while (g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(500);
	}
}

static bool registered(void *d)
{
	return vs_disc_registered(d);
}

static bool has_dest(void *l)
{
	return ((struct peer_log *)l)->dest[0] != '\0';
}

static bool no_dest(void *l)
{
	return ((struct peer_log *)l)->dest[0] == '\0';
}

struct fixture {
	struct fake_etcd *f;
	const char *urls[2];
	struct peer_log la, lb;
	struct vs_disc *a, *b;		/* a: destination, b: source */
};

static void fx_setup(struct fixture *fx, gconstpointer data)
{
	memset(fx, 0, sizeof(*fx));
	fx->f = fake_etcd_new();
	fx->urls[0] = fake_etcd_url(fx->f);
	fx->a = client(fx->urls, "hosta", "127.0.0.1:7401", &fx->la);
	fx->b = client(fx->urls, "hostb", "127.0.0.1:7402", &fx->lb);
	g_assert_true(spin_until(registered, fx->a, 3000));
	g_assert_true(spin_until(registered, fx->b, 3000));
}

static void fx_teardown(struct fixture *fx, gconstpointer data)
{
	vs_disc_free(fx->a);
	vs_disc_free(fx->b);
	spin_for(50);
	fake_etcd_free(fx->f);
}

static void test_register(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GBytes) v = NULL;
	struct vs_disc_node n;
	int64_t lease;

	v = fake_etcd_get(fx->f, PREFIX "node/hosta", &lease);
	g_assert_nonnull(v);
	g_assert_cmpint(lease, !=, 0);
	g_assert_true(vs_disc_parse_node_value("hosta", g_bytes_get_data(v, NULL),
					       g_bytes_get_size(v), &n, NULL));
	g_assert_cmpstr(n.address, ==, "127.0.0.1:7401");
	g_assert_cmpstr(n.tls, ==, "none");
	g_assert_cmpuint(vs_disc_get_stats(fx->a)->node_registrations, ==, 1);
	/* the keepalive renews it (ttl 2 s: every 666 ms) */
	spin_for(1500);
	g_assert_cmpuint(vs_disc_get_etcd_stats(fx->a)->requests[VS_ETCD_OP_KEEPALIVE], >=, 1);
	g_assert_cmpuint(vs_disc_get_etcd_stats(fx->a)->failures[VS_ETCD_OP_KEEPALIVE], ==, 0);
}

/* A migration: b watches, a expects, b learns a; a's expectation ends, b forgets */
static void test_migration(struct fixture *fx, gconstpointer data)
{
	const struct vs_etcd_stats *ea = vs_disc_get_etcd_stats(fx->a);
	uint64_t grants = ea->requests[VS_ETCD_OP_GRANT], puts = ea->requests[VS_ETCD_OP_PUT];
	int64_t lease;

	g_assert_true(vs_disc_watch(fx->b, UUID));
	spin_for(100);
	g_assert_true(vs_disc_expect(fx->a, UUID));
	g_assert_true(spin_until(has_dest, &fx->lb, 3000));
	g_assert_cmpstr(fx->lb.dest, ==, "hosta");
	g_assert_cmpstr(fx->lb.addr, ==, "127.0.0.1:7401");
	g_assert_nonnull(vs_disc_destination(fx->b, UUID));
	g_assert_true(vs_disc_expect_registered(fx->a, UUID));
	g_assert_true(has_key(fx->f, PREFIX "vm/" UUID, &lease));
	g_assert_cmpint(lease, !=, 0);
	/* the destination's lease is not its node's */
	{
		int64_t node_lease;
		g_autoptr(GBytes) nv = fake_etcd_get(fx->f, PREFIX "node/hosta", &node_lease);

		g_assert_cmpint(node_lease, !=, lease);
	}
	g_assert_cmpuint(ea->requests[VS_ETCD_OP_GRANT] - grants, ==, 1);
	g_assert_cmpuint(ea->requests[VS_ETCD_OP_PUT] - puts, ==, 1);
	/* a does not follow its own expectation */
	g_assert_true(vs_disc_watch(fx->a, UUID));
	spin_for(200);
	g_assert_cmpuint(fx->la.resolved, ==, 0);
	vs_disc_unwatch(fx->a, UUID);
	vs_disc_expect_end(fx->a, UUID);
	g_assert_true(spin_until(no_dest, &fx->lb, 3000));
	g_assert_cmpuint(fx->lb.gone, ==, 1);
	g_assert_false(has_key(fx->f, PREFIX "vm/" UUID, NULL));
	g_assert_cmpuint(vs_disc_get_stats(fx->a)->expect_revocations, ==, 1);
	g_assert_cmpuint(vs_disc_get_stats(fx->b)->destinations_resolved, ==, 1);
}

/* The key was there before the watch: the first read finds it */
static void test_existing(struct fixture *fx, gconstpointer data)
{
	g_assert_true(vs_disc_expect(fx->a, UUID));
	spin_for(200);
	g_assert_true(vs_disc_expect_registered(fx->a, UUID));
	g_assert_true(vs_disc_watch(fx->b, UUID));
	g_assert_true(spin_until(has_dest, &fx->lb, 3000));
	g_assert_cmpstr(fx->lb.dest, ==, "hosta");
	/* counted expectations: one key for two */
	g_assert_true(vs_disc_expect(fx->a, UUID));
	vs_disc_expect_end(fx->a, UUID);
	spin_for(200);
	g_assert_true(has_key(fx->f, PREFIX "vm/" UUID, NULL));
	g_assert_cmpstr(fx->lb.dest, ==, "hosta");
	vs_disc_expect_end(fx->a, UUID);
	g_assert_true(spin_until(no_dest, &fx->lb, 3000));
}

#define RAW(fx, key, text, lease) \
	fake_etcd_put_raw((fx)->f, PREFIX key, text, strlen(text), lease)

/* Keys that are not followed: no lease, a node without a live key, a node
 * key without a lease, a malformed value; each counted, no destination */
static void test_stale(struct fixture *fx, gconstpointer data)
{
	const struct vs_disc_stats *s = vs_disc_get_stats(fx->b);
	int64_t l = fake_etcd_grant(fx->f, 30);

	g_assert_true(vs_disc_watch(fx->b, UUID));
	spin_for(100);
	RAW(fx, "vm/" UUID, "{\"node\":\"hosta\"}", 0);		/* no lease */
	spin_for(200);
	g_assert_cmpuint(s->stale_ignored, ==, 1);
	RAW(fx, "vm/" UUID, "{\"node\":\"ghost\"}", l);		/* a dead node */
	spin_for(200);
	g_assert_cmpuint(s->stale_ignored, ==, 2);
	RAW(fx, "node/ghost", "{\"node\":\"ghost\",\"address\":\"127.0.0.1:9\"}", 0);
	RAW(fx, "vm/" UUID, "{\"node\":\"ghost\"}", l);		/* node key without lease */
	spin_for(200);
	g_assert_cmpuint(s->stale_ignored, ==, 3);
	RAW(fx, "node/ghost", "{\"node\":\"other\",\"address\":\"127.0.0.1:9\"}", l);
	RAW(fx, "vm/" UUID, "{\"node\":\"ghost\"}", l);		/* node value for another */
	spin_for(200);
	g_assert_cmpuint(s->invalid_values, ==, 1);
	RAW(fx, "vm/" UUID, "{\"node\":", l);			/* not JSON */
	spin_for(200);
	g_assert_cmpuint(s->invalid_values, ==, 2);
	RAW(fx, "vm/" UUID, "{\"node\":\"hostb\"}", l);		/* ourselves */
	spin_for(200);
	g_assert_cmpuint(fx->lb.resolved, ==, 0);
	/* and a good one is still followed */
	RAW(fx, "node/ghost", "{\"node\":\"ghost\",\"address\":\"127.0.0.1:9\"}", l);
	RAW(fx, "vm/" UUID, "{\"node\":\"ghost\"}", l);
	g_assert_true(spin_until(has_dest, &fx->lb, 3000));
	g_assert_cmpstr(fx->lb.addr, ==, "127.0.0.1:9");
	/* its lease expires: both keys go, the destination is forgotten */
	fake_etcd_expire(fx->f, l);
	g_assert_true(spin_until(no_dest, &fx->lb, 3000));
}

static bool resolved_twice(void *l)
{
	return ((struct peer_log *)l)->resolved >= 2;
}

/* etcd lets the expectation's lease go: the key disappears, the source
 * forgets; the destination, still expecting, registers it again */
static void test_lease_expiry(struct fixture *fx, gconstpointer data)
{
	int64_t lease;

	g_assert_true(vs_disc_watch(fx->b, UUID));
	g_assert_true(vs_disc_expect(fx->a, UUID));
	g_assert_true(spin_until(has_dest, &fx->lb, 3000));
	g_assert_true(has_key(fx->f, PREFIX "vm/" UUID, &lease));
	fake_etcd_expire(fx->f, lease);
	g_assert_true(spin_until(no_dest, &fx->lb, 3000));
	g_assert_true(spin_until(resolved_twice, &fx->lb, 5000));
	g_assert_cmpuint(vs_disc_get_stats(fx->a)->leases_lost, ==, 1);
	g_assert_cmpuint(vs_disc_get_stats(fx->b)->destinations_forgotten, ==, 1);
	vs_disc_expect_end(fx->a, UUID);
	g_assert_true(spin_until(no_dest, &fx->lb, 3000));
}

static bool reg_again(void *d)
{
	return vs_disc_get_stats(d)->node_registrations >= 2 && vs_disc_registered(d);
}

/* etcd down: every request fails and is counted, nothing blocks; etcd
 * back: the expectation is registered, the watch set up again, the
 * destination found */
static void test_etcd_down(struct fixture *fx, gconstpointer data)
{
	const struct vs_disc_stats *sa = vs_disc_get_stats(fx->a);
	gint64 t0;

	g_assert_true(vs_disc_watch(fx->b, UUID));
	spin_for(100);
	fake_etcd_stop(fx->f);
	t0 = g_get_monotonic_time();
	g_assert_true(vs_disc_expect(fx->a, UUID));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10000);	/* did not wait */
	spin_for(1500);
	g_assert_cmpuint(sa->expect_failures, >=, 1);
	g_assert_cmpuint(sa->unreachable, >=, 1);
	g_assert_false(vs_disc_expect_registered(fx->a, UUID));
	g_assert_cmpuint(vs_disc_get_stats(fx->b)->watch_restarts, >=, 1);
	g_assert_cmpuint(fx->lb.resolved, ==, 0);
	/* etcd comes back with its store (and leases) */
	fake_etcd_start(fx->f);
	g_assert_true(spin_until(has_dest, &fx->lb, 8000));
	g_assert_cmpstr(fx->lb.dest, ==, "hosta");
	g_assert_true(vs_disc_expect_registered(fx->a, UUID));
	/* etcd lost every lease: keepalives say so, keys are written again */
	fake_etcd_forget_leases(fx->f);
	g_assert_true(spin_until(reg_again, fx->a, 5000));
	g_assert_cmpuint(sa->leases_lost, >=, 1);
}

/* Two endpoints, the first dead: calls move to the second */
static void test_failover(void)
{
	struct fake_etcd *f = fake_etcd_new();
	const char *urls[3] = { "http://127.0.0.1:1", fake_etcd_url(f), NULL };
	struct peer_log l = { 0 };
	struct vs_disc *d = client(urls, "hostc", "127.0.0.1:7403", &l);

	g_assert_true(spin_until(registered, d, 5000));
	g_assert_cmpuint(vs_disc_get_etcd_stats(d)->endpoint_switches, >=, 1);
	g_assert_cmpuint(vs_disc_get_stats(d)->unreachable, >=, 1);
	vs_disc_free(d);
	spin_for(50);
	/* vs_disc_free() revoked our node's lease: the key is gone at once */
	g_assert_false(has_key(f, PREFIX "node/hostc", NULL));
	fake_etcd_free(f);
}


/* What a call's callback saw */
struct call_log {
	unsigned int calls;
	int code;		/* G_IO_ERROR_* of its error, -1: none */
	gint64 at;		/* when, monotonic us */
};

static void call_log_cb(JsonObject *reply, const GError *error, void *data)
{
	struct call_log *l = data;

	l->calls++;
	l->code = error && error->domain == G_IO_ERROR ? error->code : -1;
	l->at = g_get_monotonic_time();
}

static bool called(void *l)
{
	return ((struct call_log *)l)->calls > 0;
}

static bool none_abandoned(void *unused)
{
	return vs_etcd_abandoned() == 0;
}

/* An etcd that accepts connections and never answers: the call ends by its
 * timer, at once, once, as a counted timeout; libsoup then finishes the
 * cancelled request and the abandoned gauge returns to 0 (libsoup 3.2 does
 * not when etcd refused our client certificate: the e2e test's TLS phase) */
static void test_timeout(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	g_autofree char *url = NULL;
	const char *urls[2] = { NULL, NULL };
	struct vs_etcd_cfg cfg = { .endpoints = urls, .timeout_ms = 300 };
	struct call_log l = { 0 };
	g_autoptr(GError) err = NULL;
	struct vs_etcd *e;
	gint64 t0;

	g_assert_cmpint(fd, >=, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(fd, 8), ==, 0);	/* never accept()ed: no answer */
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &len), ==, 0);
	url = g_strdup_printf("http://127.0.0.1:%u", ntohs(sa.sin_port));
	urls[0] = url;
	e = vs_etcd_new(&cfg, &err);
	g_assert_no_error(err);
	t0 = g_get_monotonic_time();
	vs_etcd_call(e, VS_ETCD_OP_GRANT, json_object_new(), call_log_cb, &l, NULL);
	g_assert_true(spin_until(called, &l, 3000));
	g_assert_cmpint(l.code, ==, G_IO_ERROR_TIMED_OUT);
	g_assert_cmpint(l.at - t0, >=, 290 * 1000);
	g_assert_cmpint(l.at - t0, <, 1500 * 1000);
	g_assert_cmpuint(vs_etcd_get_stats(e)->failures[VS_ETCD_OP_GRANT], ==, 1);
	g_assert_true(spin_until(none_abandoned, NULL, 3000));
	spin_for(300);
	g_assert_cmpuint(l.calls, ==, 1);
	vs_etcd_free(e);
	spin_for(50);
	close(fd);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/disc/value/node", test_value_node);
	g_test_add_func("/disc/value/vm", test_value_vm);
	g_test_add_func("/disc/value/watch-lines", test_value_watch);
	g_test_add_func("/disc/value/replies", test_value_replies);
	g_test_add("/disc/etcd/register", struct fixture, NULL, fx_setup, test_register,
		   fx_teardown);
	g_test_add("/disc/etcd/migration", struct fixture, NULL, fx_setup, test_migration,
		   fx_teardown);
	g_test_add("/disc/etcd/existing-key", struct fixture, NULL, fx_setup, test_existing,
		   fx_teardown);
	g_test_add("/disc/etcd/stale-and-invalid", struct fixture, NULL, fx_setup, test_stale,
		   fx_teardown);
	g_test_add("/disc/etcd/lease-expiry", struct fixture, NULL, fx_setup, test_lease_expiry,
		   fx_teardown);
	g_test_add("/disc/etcd/down-and-back", struct fixture, NULL, fx_setup, test_etcd_down,
		   fx_teardown);
	g_test_add_func("/disc/etcd/failover", test_failover);
	g_test_add_func("/disc/etcd/timeout", test_timeout);
	return g_test_run();
}
