/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * discovery.c - the registry client: our node key, the keepalive, the
 * expectations (destination side), counters and query-discovery
 *
 * Theory of operation: see discovery.h; disc_priv.h for how requests name
 * what they are for.  Our node key and each VM key go through the same
 * small state machine (enum disc_reg_state): IDLE -> GRANTING (a lease of
 * ttl seconds) -> PUTTING (the key under it) -> UP; a failure goes back
 * to IDLE with a retry timer (backoff VS_DISC_RETRY_MIN_MS..MAX_MS), and
 * a VM key waits in IDLE until our node key is UP, so that a source never
 * sees an expectation whose node it cannot resolve.  One keepalive timer,
 * every ttl/3 seconds, renews every lease that is UP; a keepalive answered
 * with TTL 0 means etcd has let the lease go (expired during a partition,
 * or lost): the key is registered again while we still want it.  The end
 * of an expectation revokes its lease, which deletes its key at once.
 *
 * Nothing here waits for etcd: the callers (migrate-expect, the handover)
 * only start requests.  Reachability is what the last request said: the
 * first failure after a success is logged at once, later ones at most
 * every VS_DISC_LOG_INTERVAL_US with how many there were, and the first
 * success after failures is logged and restarts the watches that wait.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "disc_priv.h"
#include "log.h"

VS_ENUM_IMPL(disc_reg_state, enum disc_reg_state, DISC_REG_NUM_STATES,
	     [DISC_REG_IDLE] = "idle",
	     [DISC_REG_GRANTING] = "granting",
	     [DISC_REG_PUTTING] = "putting",
	     [DISC_REG_UP] = "registered");

/* --- shared helpers (disc_priv.h) --------------------------------------- */

struct disc_ctx *disc_ctx_new(struct vs_disc *d, const char *uuid, uint64_t serial)
{
	struct disc_ctx *c = g_new0(struct disc_ctx, 1);

	c->d = d;
	if (uuid)
		g_strlcpy(c->uuid, uuid, sizeof(c->uuid));
	c->serial = serial;
	return c;
}

unsigned int disc_backoff(unsigned int *backoff_ms)
{
	*backoff_ms = *backoff_ms ? MIN(*backoff_ms * 2, VS_DISC_RETRY_MAX_MS)
				  : VS_DISC_RETRY_MIN_MS;
	return *backoff_ms;
}

void disc_note(struct vs_disc *d, const GError *error, const char *what)
{
	gint64 now = g_get_monotonic_time();

	if (!error) {
		if (!d->reachable) {
			vs_log(DISC, NOTICE, NULL, "etcd %s answers again (%" PRIu64
			       " failed request(s) not logged)", vs_etcd_endpoint(d->etcd),
			       d->fails_unlogged);
			d->reachable = true;
			d->fails_unlogged = 0;
			disc_watch_kick(d);
		}
		return;
	}
	d->stats.unreachable++;
	g_snprintf(d->last_error, sizeof(d->last_error), "%s: %s", what, error->message);
	if (d->reachable || now - d->last_fail_log >= VS_DISC_LOG_INTERVAL_US) {
		g_autofree char *more = d->fails_unlogged ? g_strdup_printf(
			" (and %" PRIu64 " more failures since the last line)", d->fails_unlogged)
			: NULL;

		vs_log(DISC, WARNING, NULL, "etcd: %s failed: %s%s; explicit arming still works",
		       what, error->message, more ? more : "");
		d->last_fail_log = now;
		d->fails_unlogged = 0;
	} else {
		d->fails_unlogged++;
	}
	d->reachable = false;
}

void disc_log_limited(struct vs_disc *d, const char *fmt, ...)
{
	static gint64 last;
	gint64 now = g_get_monotonic_time();
	g_autofree char *msg = NULL;
	va_list ap;

	if (last && now - last < VS_DISC_LOG_INTERVAL_US)
		return;
	last = now;
	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	vs_log(DISC, WARNING, NULL, "%s", msg);
}

/* --- requests ------------------------------------------------------------ */

/* The serial of the revokes vs_disc_free() waits for (others: 0) */
#define DISC_SHUTDOWN_REVOKE	UINT64_MAX

static void disc_call(struct vs_disc *d, enum vs_etcd_op op, JsonObject *body,
		      vs_etcd_reply_cb cb, struct disc_ctx *ctx)
{
	vs_etcd_call(d->etcd, op, body, cb, ctx, g_free);
}

static JsonObject *disc_lease_body(int64_t id)
{
	JsonObject *o = json_object_new();
	g_autofree char *s = g_strdup_printf("%" PRId64, id);

	json_object_set_string_member(o, "ID", s);
	return o;
}

static void disc_grant(struct vs_disc *d, vs_etcd_reply_cb cb, struct disc_ctx *ctx)
{
	JsonObject *o = json_object_new();

	json_object_set_int_member(o, "TTL", d->ttl_s);
	disc_call(d, VS_ETCD_OP_GRANT, o, cb, ctx);
}

static void disc_put(struct vs_disc *d, const char *key, const char *value, int64_t lease,
		     vs_etcd_reply_cb cb, struct disc_ctx *ctx)
{
	JsonObject *o = json_object_new();
	g_autofree char *k = vs_disc_b64(key);
	g_autofree char *v = vs_disc_b64(value);
	g_autofree char *l = g_strdup_printf("%" PRId64, lease);

	json_object_set_string_member(o, "key", k);
	json_object_set_string_member(o, "value", v);
	json_object_set_string_member(o, "lease", l);
	disc_call(d, VS_ETCD_OP_PUT, o, cb, ctx);
}

static void disc_revoke_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;

	/* a lease that is already gone is what we wanted */
	if (error && !g_error_matches(error, VS_DISC_ERROR, 404))
		disc_note(c->d, error, "revoking a lease");
	else
		disc_note(c->d, NULL, NULL);
	if (c->serial == DISC_SHUTDOWN_REVOKE)
		c->d->revokes_pending--;
}

/* @shutdown: vs_disc_free() waits for this one */
static void disc_revoke_ext(struct vs_disc *d, int64_t lease, bool shutdown)
{
	disc_call(d, VS_ETCD_OP_REVOKE, disc_lease_body(lease), disc_revoke_cb,
		  disc_ctx_new(d, NULL, shutdown ? DISC_SHUTDOWN_REVOKE : 0));
	if (shutdown)
		d->revokes_pending++;
}

static void disc_revoke(struct vs_disc *d, int64_t lease)
{
	disc_revoke_ext(d, lease, false);
}

/* The lease of a grant reply, or 0 with the failure noted */
static int64_t disc_granted(struct vs_disc *d, JsonObject *reply, const GError *error,
			    const char *what)
{
	g_autoptr(GError) err = NULL;
	int64_t id = 0, ttl = 0;

	if (error) {
		disc_note(d, error, what);
		return 0;
	}
	if (!vs_disc_parse_lease(reply, &id, &ttl, &err) || !id || !ttl) {
		if (!err)
			err = g_error_new(VS_DISC_ERROR, 0, "lease grant without ID or TTL");
		d->stats.invalid_values++;
		disc_note(d, err, what);
		return 0;
	}
	disc_note(d, NULL, NULL);
	return id;
}

/* --- our node key ---------------------------------------------------------- */

static void disc_node_register(struct vs_disc *d);
static void disc_exp_register(struct disc_exp *e);

static gboolean disc_node_retry_cb(gpointer data)
{
	struct vs_disc *d = data;

	d->node.retry_timer = 0;
	disc_node_register(d);
	return G_SOURCE_REMOVE;
}

static void disc_node_failed(struct vs_disc *d)
{
	d->node.state = DISC_REG_IDLE;
	d->node.lease = 0;
	if (!d->node.retry_timer)
		d->node.retry_timer = g_timeout_add(disc_backoff(&d->node.backoff_ms),
						    disc_node_retry_cb, d);
}

/* Expectations that waited for our node key */
static void disc_exps_kick(struct vs_disc *d)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->exps);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct disc_exp *e = v;

		if (e->reg.state == DISC_REG_IDLE && !e->reg.retry_timer)
			disc_exp_register(e);
	}
}

static void disc_node_put_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;

	if (error) {
		disc_note(d, error, "writing our node key");
		disc_node_failed(d);
		return;
	}
	disc_note(d, NULL, NULL);
	d->node.state = DISC_REG_UP;
	d->node.backoff_ms = 0;
	d->stats.node_registrations++;
	vs_log(DISC, NOTICE, NULL, "registered as %snode/%s -> %s (lease %" PRIx64 ", ttl %u s)",
	       d->prefix, d->self.name, d->self.address, (uint64_t)d->node.lease, d->ttl_s);
	disc_exps_kick(d);
}

static void disc_node_grant_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	g_autofree char *key = NULL, *value = NULL;
	int64_t id = disc_granted(d, reply, error, "granting our node's lease");

	if (!id) {
		disc_node_failed(d);
		return;
	}
	d->node.lease = id;
	d->node.state = DISC_REG_PUTTING;
	key = vs_disc_key(d->prefix, "node", d->self.name);
	value = vs_disc_node_value(&d->self);
	disc_put(d, key, value, id, disc_node_put_cb, disc_ctx_new(d, NULL, 0));
}

static void disc_node_register(struct vs_disc *d)
{
	d->node.state = DISC_REG_GRANTING;
	disc_grant(d, disc_node_grant_cb, disc_ctx_new(d, NULL, 0));
}

/* --- expectations ---------------------------------------------------------- */

static struct disc_exp *disc_exp_find(struct vs_disc *d, const struct disc_ctx *c)
{
	struct disc_exp *e = g_hash_table_lookup(d->exps, c->uuid);

	return e && e->serial == c->serial ? e : NULL;
}

static gboolean disc_exp_retry_cb(gpointer data)
{
	struct disc_exp *e = data;

	e->reg.retry_timer = 0;
	disc_exp_register(e);
	return G_SOURCE_REMOVE;
}

static void disc_exp_failed(struct vs_disc *d, struct disc_exp *e)
{
	d->stats.expect_failures++;
	e->reg.state = DISC_REG_IDLE;
	if (e->reg.lease)
		disc_revoke(d, e->reg.lease);	/* a retry grants a new one */
	e->reg.lease = 0;
	if (!e->reg.retry_timer)
		e->reg.retry_timer = g_timeout_add(disc_backoff(&e->reg.backoff_ms),
						   disc_exp_retry_cb, e);
}

static void disc_exp_put_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	struct disc_exp *e = disc_exp_find(d, c);

	disc_note(d, error, "writing a VM key");
	if (!e)
		return;		/* ended meanwhile: its lease is revoked */
	if (error) {
		disc_exp_failed(d, e);
		return;
	}
	e->reg.state = DISC_REG_UP;
	e->reg.backoff_ms = 0;
	d->stats.expect_registrations++;
	vs_log(DISC, INFO, NULL, "expecting VM %s: %svm/%s -> %s", e->uuid, d->prefix, e->uuid,
	       d->self.name);
}

static void disc_exp_grant_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	struct disc_exp *e = disc_exp_find(d, c);
	g_autofree char *key = NULL, *value = NULL;
	int64_t id = disc_granted(d, reply, error, "granting a VM key's lease");

	if (!e) {		/* ended while the grant was in flight */
		if (id)
			disc_revoke(d, id);
		return;
	}
	if (!id) {
		disc_exp_failed(d, e);
		return;
	}
	e->reg.lease = id;
	e->reg.state = DISC_REG_PUTTING;
	key = vs_disc_key(d->prefix, "vm", e->uuid);
	value = vs_disc_vm_value(d->self.name);
	disc_put(d, key, value, id, disc_exp_put_cb, disc_ctx_new(d, e->uuid, e->serial));
}

static void disc_exp_register(struct disc_exp *e)
{
	struct vs_disc *d = e->d;

	if (d->node.state != DISC_REG_UP) {
		e->reg.state = DISC_REG_IDLE;	/* disc_exps_kick() when it is */
		return;
	}
	e->reg.state = DISC_REG_GRANTING;
	disc_grant(d, disc_exp_grant_cb, disc_ctx_new(d, e->uuid, e->serial));
}

static void disc_exp_free(gpointer data)
{
	struct disc_exp *e = data;

	if (e->reg.retry_timer)
		g_source_remove(e->reg.retry_timer);
	g_free(e);
}

bool vs_disc_expect(struct vs_disc *d, const char *uuid)
{
	struct disc_exp *e = g_hash_table_lookup(d->exps, uuid);

	if (e) {
		e->refs++;
		return true;
	}
	if (g_hash_table_size(d->exps) >= VS_DISC_MAX_ENTRIES) {
		disc_log_limited(d, "etcd: %u expectations already: VM %s not registered",
				 VS_DISC_MAX_ENTRIES, uuid);
		return false;
	}
	e = g_new0(struct disc_exp, 1);
	e->d = d;
	g_strlcpy(e->uuid, uuid, sizeof(e->uuid));
	e->serial = ++d->next_serial;
	e->refs = 1;
	g_hash_table_insert(d->exps, e->uuid, e);
	disc_exp_register(e);
	return true;
}

void vs_disc_expect_end(struct vs_disc *d, const char *uuid)
{
	struct disc_exp *e = g_hash_table_lookup(d->exps, uuid);

	if (!e || --e->refs)
		return;
	/* revoking the lease deletes the key; a grant in flight is revoked
	 * when it comes back (disc_exp_grant_cb() finds no expectation) */
	if (e->reg.lease) {
		disc_revoke(d, e->reg.lease);
		d->stats.expect_revocations++;
		vs_log(DISC, INFO, NULL, "expectation of VM %s ended: %svm/%s revoked", uuid,
		       d->prefix, uuid);
	}
	g_hash_table_remove(d->exps, uuid);
}

bool vs_disc_expect_registered(const struct vs_disc *d, const char *uuid)
{
	const struct disc_exp *e = g_hash_table_lookup(d->exps, uuid);

	return e && e->reg.state == DISC_REG_UP;
}

/* --- keepalive ------------------------------------------------------------- */

static void disc_ka_node_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	g_autoptr(GError) err = NULL;
	int64_t id = 0, ttl = 0;

	if (error) {
		disc_note(d, error, "renewing our node's lease");
		return;
	}
	if (!vs_disc_parse_lease(reply, &id, &ttl, &err)) {
		d->stats.invalid_values++;
		disc_note(d, err, "renewing our node's lease");
		return;
	}
	disc_note(d, NULL, NULL);
	if (ttl || d->node.state != DISC_REG_UP || id != d->node.lease)
		return;
	d->stats.leases_lost++;
	vs_log(DISC, WARNING, NULL, "etcd let our node's lease %" PRIx64 " go: registering again",
	       (uint64_t)id);
	disc_node_register(d);
}

static void disc_ka_exp_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	struct disc_exp *e = disc_exp_find(d, c);
	g_autoptr(GError) err = NULL;
	int64_t id = 0, ttl = 0;

	if (error) {
		disc_note(d, error, "renewing a VM key's lease");
		return;
	}
	if (!vs_disc_parse_lease(reply, &id, &ttl, &err)) {
		d->stats.invalid_values++;
		disc_note(d, err, "renewing a VM key's lease");
		return;
	}
	disc_note(d, NULL, NULL);
	if (ttl || !e || e->reg.state != DISC_REG_UP || id != e->reg.lease)
		return;
	d->stats.leases_lost++;
	vs_log(DISC, WARNING, NULL, "etcd let the lease of VM %s go: registering it again",
	       e->uuid);
	e->reg.lease = 0;
	disc_exp_register(e);
}

static gboolean disc_keepalive_cb(gpointer data)
{
	struct vs_disc *d = data;
	GHashTableIter it;
	gpointer v;

	if (d->node.state == DISC_REG_UP)
		disc_call(d, VS_ETCD_OP_KEEPALIVE, disc_lease_body(d->node.lease), disc_ka_node_cb,
			  disc_ctx_new(d, NULL, 0));
	g_hash_table_iter_init(&it, d->exps);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct disc_exp *e = v;

		if (e->reg.state == DISC_REG_UP)
			disc_call(d, VS_ETCD_OP_KEEPALIVE, disc_lease_body(e->reg.lease),
				  disc_ka_exp_cb, disc_ctx_new(d, e->uuid, e->serial));
	}
	return G_SOURCE_CONTINUE;
}

/* --- the client ------------------------------------------------------------ */

struct vs_disc *vs_disc_new(const struct vs_disc_cfg *cfg, const struct vs_disc_ops *ops,
			    void *opaque, GError **error)
{
	const struct vs_etcd_cfg ec = {
		.endpoints = cfg->endpoints,
		.timeout_ms = cfg->timeout_ms,
		.ca = cfg->etcd_ca,
		.cert = cfg->etcd_cert,
		.key = cfg->etcd_key,
	};
	struct vs_etcd *etcd = vs_etcd_new(&ec, error);
	struct vs_disc *d;

	if (!etcd)
		return NULL;
	d = g_new0(struct vs_disc, 1);
	d->etcd = etcd;
	d->ops = ops;
	d->opaque = opaque;
	d->prefix = g_strdup(cfg->prefix);
	g_strlcpy(d->self.name, cfg->node_name, sizeof(d->self.name));
	g_strlcpy(d->self.address, cfg->address, sizeof(d->self.address));
	g_strlcpy(d->self.tls, cfg->tls ? "x509" : "none", sizeof(d->self.tls));
	if (cfg->fingerprint)
		g_strlcpy(d->self.fingerprint, cfg->fingerprint, sizeof(d->self.fingerprint));
	d->ttl_s = MAX(cfg->ttl_s, 2u);
	d->reachable = true;
	d->exps = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, disc_exp_free);
	d->watches = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, disc_watch_free);
	d->keepalive_timer = g_timeout_add(d->ttl_s * 1000 / 3, disc_keepalive_cb, d);
	vs_log(DISC, NOTICE, NULL, "registry: etcd %s, prefix %s, node %s at %s, ttl %u s",
	       vs_etcd_endpoint(etcd), d->prefix, d->self.name, d->self.address, d->ttl_s);
	disc_node_register(d);
	return d;
}

void vs_disc_free(struct vs_disc *d)
{
	GHashTableIter it;
	gpointer v;

	if (!d)
		return;
	g_source_remove(d->keepalive_timer);
	if (d->node.retry_timer)
		g_source_remove(d->node.retry_timer);
	g_hash_table_remove_all(d->watches);
	/* our keys vanish now rather than a TTL later: revoke, and wait for
	 * the answers (each request times out by itself) */
	if (d->node.lease)
		disc_revoke_ext(d, d->node.lease, true);
	g_hash_table_iter_init(&it, d->exps);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct disc_exp *e = v;

		if (e->reg.lease)
			disc_revoke_ext(d, e->reg.lease, true);
	}
	while (d->revokes_pending)
		g_main_context_iteration(NULL, TRUE);
	g_hash_table_destroy(d->exps);
	g_hash_table_destroy(d->watches);
	vs_etcd_free(d->etcd);
	g_free(d->prefix);
	g_free(d);
}

bool vs_disc_registered(const struct vs_disc *d)
{
	return d->node.state == DISC_REG_UP;
}

const struct vs_disc_stats *vs_disc_get_stats(const struct vs_disc *d)
{
	return &d->stats;
}

const struct vs_etcd_stats *vs_disc_get_etcd_stats(const struct vs_disc *d)
{
	return vs_etcd_get_stats(d->etcd);
}

static void disc_set_u64(JsonObject *o, const char *name, uint64_t v)
{
	json_object_set_int_member(o, name, (gint64)v);
}

JsonObject *vs_disc_describe(const struct vs_disc *d)
{
	const struct vs_disc_stats *s = &d->stats;
	const struct vs_etcd_stats *es = vs_etcd_get_stats(d->etcd);
	JsonObject *o = json_object_new();
	JsonObject *c = json_object_new();
	JsonObject *req = json_object_new();
	JsonArray *exps = json_array_new();
	GHashTableIter it;
	uint64_t total = 0, failed = 0, out = 0, in = 0;
	gpointer v;
	unsigned int i;

	json_object_set_boolean_member(o, "enabled", TRUE);
	json_object_set_string_member(o, "endpoint", vs_etcd_endpoint(d->etcd));
	json_object_set_boolean_member(o, "reachable", d->reachable);
	json_object_set_string_member(o, "prefix", d->prefix);
	json_object_set_string_member(o, "node", d->self.name);
	json_object_set_string_member(o, "address", d->self.address);
	json_object_set_string_member(o, "registration", disc_reg_state_to_string(d->node.state));
	if (d->last_error[0])
		json_object_set_string_member(o, "last-error", d->last_error);
	g_hash_table_iter_init(&it, d->exps);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct disc_exp *e = v;
		JsonObject *eo = json_object_new();

		json_object_set_string_member(eo, "vm-uuid", e->uuid);
		json_object_set_string_member(eo, "state", disc_reg_state_to_string(e->reg.state));
		json_array_add_object_element(exps, eo);
	}
	json_object_set_array_member(o, "expectations", exps);
	json_object_set_array_member(o, "watches", disc_watch_describe(d));
	for (i = 0; i < VS_ETCD_NUM_OPS; i++) {
		total += es->requests[i];
		failed += es->failures[i];
		out += es->bytes_out[i];
		in += es->bytes_in[i];
		disc_set_u64(req, vs_etcd_op_to_string(i), es->requests[i]);
	}
	disc_set_u64(c, "requests", total);
	disc_set_u64(c, "request-failures", failed);
	disc_set_u64(c, "bytes-out", out);
	disc_set_u64(c, "bytes-in", in);
	disc_set_u64(c, "endpoint-switches", es->endpoint_switches);
	disc_set_u64(c, "requests-abandoned", vs_etcd_abandoned());
	disc_set_u64(c, "node-registrations", s->node_registrations);
	disc_set_u64(c, "leases-lost", s->leases_lost);
	disc_set_u64(c, "expect-registrations", s->expect_registrations);
	disc_set_u64(c, "expect-failures", s->expect_failures);
	disc_set_u64(c, "expect-revocations", s->expect_revocations);
	disc_set_u64(c, "watch-events", s->watch_events);
	disc_set_u64(c, "watch-restarts", s->watch_restarts);
	disc_set_u64(c, "destinations-resolved", s->destinations_resolved);
	disc_set_u64(c, "destinations-forgotten", s->destinations_forgotten);
	disc_set_u64(c, "stale-ignored", s->stale_ignored);
	disc_set_u64(c, "invalid-values", s->invalid_values);
	json_object_set_object_member(o, "counters", c);
	json_object_set_object_member(o, "requests-by-op", req);
	return o;
}
