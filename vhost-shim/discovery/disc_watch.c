/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_watch.c - the source side of discovery: watch the VM keys of our
 * VMs, resolve the node they name, hand the destination up
 *
 * Theory of operation: a watch (struct disc_watch) reads its key once
 * (RANGING: the value and the store's revision R), applies what it read,
 * then opens etcd's watch stream from R + 1 (WATCHING), so no change
 * between the read and the stream is missed and none is seen twice.
 * Every change goes through disc_watch_apply():
 *   - a delete, or a value we do not follow: forget the destination;
 *   - a put without a lease: stale (a key that never expires is no live
 *     expectation), not followed;
 *   - a put naming us: the VM comes here, we are not its source: forget;
 *   - a put naming node X: read PREFIX node/X; if it exists under a lease
 *     and its value is valid, X at its address is the destination.
 * Each change bumps the watch's generation; a node read that comes back
 * after a newer change is dropped, so the last change always wins.
 *
 * A stream that ends (etcd restarted, the connection broke, a line we
 * refuse, etcd cancelled it after a compaction) is set up again after a
 * backoff, starting with a new read: whatever happened meanwhile is
 * applied as one change.  When etcd answers again after failures
 * (disc_note()), waiting watches are restarted at once.
 */
#include <inttypes.h>
#include <string.h>

#include "disc_priv.h"
#include "log.h"

VS_ENUM_IMPL(disc_watch_state, enum disc_watch_state, DISC_WATCH_NUM_STATES,
	     [DISC_WATCH_RANGING] = "reading",
	     [DISC_WATCH_WATCHING] = "watching",
	     [DISC_WATCH_WAITING] = "retrying");

static struct disc_watch *disc_watch_find(struct vs_disc *d, const struct disc_ctx *c)
{
	struct disc_watch *w = g_hash_table_lookup(d->watches, c->uuid);

	return w && w->serial == c->serial ? w : NULL;
}

static void disc_watch_stop_stream(struct disc_watch *w)
{
	vs_etcd_watch_stop(w->w);
	w->w = NULL;
}

void disc_watch_free(gpointer data)
{
	struct disc_watch *w = data;

	disc_watch_stop_stream(w);
	if (w->retry_timer)
		g_source_remove(w->retry_timer);
	g_free(w);
}

static gboolean disc_watch_retry_cb(gpointer data)
{
	struct disc_watch *w = data;

	w->retry_timer = 0;
	disc_watch_begin(w);
	return G_SOURCE_REMOVE;
}

/* The stream or a read failed: read and watch again after a backoff */
static void disc_watch_retry(struct disc_watch *w)
{
	disc_watch_stop_stream(w);
	w->state = DISC_WATCH_WAITING;
	w->d->stats.watch_restarts++;
	if (!w->retry_timer)
		w->retry_timer = g_timeout_add(disc_backoff(&w->backoff_ms), disc_watch_retry_cb, w);
}

void disc_watch_kick(struct vs_disc *d)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->watches);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct disc_watch *w = v;

		if (w->state == DISC_WATCH_WAITING && w->retry_timer) {
			g_source_remove(w->retry_timer);
			w->retry_timer = 0;
			disc_watch_begin(w);
		}
	}
}

static void disc_watch_forget(struct disc_watch *w)
{
	char node[VS_DISC_NODE_MAX + 1];

	if (!w->have_dest)
		return;
	w->have_dest = false;
	g_strlcpy(node, w->dest.name, sizeof(node));
	w->d->stats.destinations_forgotten++;
	vs_log(DISC, INFO, NULL, "VM %s: destination %s forgotten", w->uuid, node);
	if (w->d->ops && w->d->ops->destination_gone)
		w->d->ops->destination_gone(w->d->opaque, w->uuid, node);
}

/* The node key of a VM key's node came back */
static void disc_watch_node_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	struct disc_watch *w = disc_watch_find(d, c);
	g_autoptr(GError) err = NULL;
	struct vs_disc_kv *kv = NULL;
	struct vs_disc_node node;
	int64_t rev;

	disc_note(d, error, "reading a node key");
	if (!w || w->gen != c->gen)
		return;		/* unwatched, or the VM key changed since */
	if (error) {
		disc_watch_retry(w);	/* read it all again */
		return;
	}
	if (!vs_disc_parse_range(reply, &rev, &kv, &err)) {
		d->stats.invalid_values++;
		disc_log_limited(d, "etcd: node key %s: %s", c->node, err->message);
		disc_watch_forget(w);
		return;
	}
	if (!kv || !kv->lease) {
		d->stats.stale_ignored++;
		disc_log_limited(d, "VM %s: node %s has %s: stale, not followed", w->uuid, c->node,
				 kv ? "a node key without a lease" : "no live node key");
		vs_disc_kv_free(kv);
		disc_watch_forget(w);
		return;
	}
	if (!vs_disc_parse_node_value(c->node, g_bytes_get_data(kv->value, NULL),
				      g_bytes_get_size(kv->value), &node, &err)) {
		d->stats.invalid_values++;
		disc_log_limited(d, "VM %s: node key of %s refused: %s", w->uuid, c->node,
				 err->message);
		vs_disc_kv_free(kv);
		disc_watch_forget(w);
		return;
	}
	vs_disc_kv_free(kv);
	w->have_dest = true;
	w->dest = node;
	d->stats.destinations_resolved++;
	vs_log(DISC, INFO, NULL, "VM %s goes to %s at %s", w->uuid, node.name, node.address);
	if (d->ops && d->ops->destination)
		d->ops->destination(d->opaque, w->uuid, &node);
}

/* One change of the VM key (or its value when the watch starts; NULL: none) */
static void disc_watch_apply(struct disc_watch *w, const struct vs_disc_kv *kv)
{
	struct vs_disc *d = w->d;
	g_autoptr(GError) err = NULL;
	g_autofree char *key = NULL;
	char node[VS_DISC_NODE_MAX + 1];
	struct disc_ctx *c;
	JsonObject *o;

	w->gen++;
	if (!kv || kv->deleted) {
		disc_watch_forget(w);
		return;
	}
	if (!kv->lease) {
		d->stats.stale_ignored++;
		disc_log_limited(d, "VM %s: its key has no lease: stale, not followed", w->uuid);
		disc_watch_forget(w);
		return;
	}
	if (!vs_disc_parse_vm_value(g_bytes_get_data(kv->value, NULL), g_bytes_get_size(kv->value),
				    node, &err)) {
		d->stats.invalid_values++;
		disc_log_limited(d, "VM %s: key refused: %s", w->uuid, err->message);
		disc_watch_forget(w);
		return;
	}
	if (!strcmp(node, d->self.name)) {
		disc_watch_forget(w);	/* it comes here */
		return;
	}
	c = disc_ctx_new(d, w->uuid, w->serial);
	c->gen = w->gen;
	g_strlcpy(c->node, node, sizeof(c->node));
	key = vs_disc_key(d->prefix, "node", node);
	o = json_object_new();
	{
		g_autofree char *k = vs_disc_b64(key);

		json_object_set_string_member(o, "key", k);
	}
	vs_etcd_call(d->etcd, VS_ETCD_OP_RANGE, o, disc_watch_node_cb, c, g_free);
}

static bool disc_watch_line_cb(const char *line, size_t len, void *data)
{
	struct disc_watch *w = data;
	struct vs_disc *d = w->d;
	g_autoptr(GError) err = NULL;
	struct vs_disc_watch_msg m;
	uint64_t serial = w->serial;
	char uuid[VS_UUID_LEN + 1];
	guint i;

	if (!vs_disc_parse_watch_line(line, len, &m, &err)) {
		d->stats.invalid_values++;
		disc_log_limited(d, "VM %s: watch stream refused: %s", w->uuid, err->message);
		w->w = NULL;	/* returning false frees the stream */
		disc_watch_retry(w);
		return false;
	}
	if (m.canceled || m.compact_revision) {
		vs_log(DISC, INFO, NULL, "VM %s: etcd cancelled the watch (compacted at %" PRId64
		       "): watching again", w->uuid, m.compact_revision);
		vs_disc_watch_msg_clear(&m);
		w->w = NULL;
		disc_watch_retry(w);
		return false;
	}
	if (m.created)
		w->backoff_ms = 0;
	g_strlcpy(uuid, w->uuid, sizeof(uuid));
	for (i = 0; i < m.events->len; i++) {
		const struct vs_disc_kv *kv = g_ptr_array_index(m.events, i);
		g_autofree char *key = vs_disc_key(d->prefix, "vm", uuid);

		d->stats.watch_events++;
		if (strcmp(kv->key, key)) {	/* we asked for that one key */
			d->stats.invalid_values++;
			continue;
		}
		w->revision = MAX(w->revision, kv->mod_revision);
		disc_watch_apply(w, kv);
	}
	vs_disc_watch_msg_clear(&m);
	/* the callbacks may not unwatch (discovery.h): @w is still there */
	g_assert(g_hash_table_lookup(d->watches, uuid) == w && w->serial == serial);
	return true;
}

static void disc_watch_end_cb(const GError *error, void *data)
{
	struct disc_watch *w = data;

	w->w = NULL;		/* the etcd client frees it */
	disc_note(w->d, error, "watching a VM key");
	disc_watch_retry(w);
}

static void disc_watch_range_cb(JsonObject *reply, const GError *error, void *data)
{
	struct disc_ctx *c = data;
	struct vs_disc *d = c->d;
	struct disc_watch *w = disc_watch_find(d, c);
	g_autoptr(GError) err = NULL;
	g_autofree char *key = NULL, *k64 = NULL, *rev = NULL;
	struct vs_disc_kv *kv = NULL;
	JsonObject *o, *cr;
	int64_t revision;

	disc_note(d, error, "reading a VM key");
	if (!w)
		return;
	if (error) {
		disc_watch_retry(w);
		return;
	}
	if (!vs_disc_parse_range(reply, &revision, &kv, &err)) {
		d->stats.invalid_values++;
		disc_log_limited(d, "etcd: VM key %s: %s", w->uuid, err->message);
		disc_watch_retry(w);
		return;
	}
	w->revision = revision;
	disc_watch_apply(w, kv);
	vs_disc_kv_free(kv);
	key = vs_disc_key(d->prefix, "vm", w->uuid);
	k64 = vs_disc_b64(key);
	rev = g_strdup_printf("%" PRId64, revision + 1);
	cr = json_object_new();
	json_object_set_string_member(cr, "key", k64);
	json_object_set_string_member(cr, "start_revision", rev);
	o = json_object_new();
	json_object_set_object_member(o, "create_request", cr);
	w->state = DISC_WATCH_WATCHING;
	w->w = vs_etcd_watch_start(d->etcd, o, disc_watch_line_cb, disc_watch_end_cb, w);
}

void disc_watch_begin(struct disc_watch *w)
{
	struct vs_disc *d = w->d;
	g_autofree char *key = vs_disc_key(d->prefix, "vm", w->uuid);
	g_autofree char *k64 = vs_disc_b64(key);
	JsonObject *o = json_object_new();

	w->state = DISC_WATCH_RANGING;
	json_object_set_string_member(o, "key", k64);
	vs_etcd_call(d->etcd, VS_ETCD_OP_RANGE, o, disc_watch_range_cb,
		     disc_ctx_new(d, w->uuid, w->serial), g_free);
}

bool vs_disc_watch(struct vs_disc *d, const char *uuid)
{
	struct disc_watch *w = g_hash_table_lookup(d->watches, uuid);

	if (w) {
		w->refs++;
		return true;
	}
	if (g_hash_table_size(d->watches) >= VS_DISC_MAX_ENTRIES) {
		disc_log_limited(d, "etcd: %u watches already: VM %s not watched",
				 VS_DISC_MAX_ENTRIES, uuid);
		return false;
	}
	w = g_new0(struct disc_watch, 1);
	w->d = d;
	g_strlcpy(w->uuid, uuid, sizeof(w->uuid));
	w->serial = ++d->next_serial;
	w->refs = 1;
	g_hash_table_insert(d->watches, w->uuid, w);
	vs_log(DISC, INFO, NULL, "watching where VM %s goes", uuid);
	disc_watch_begin(w);
	return true;
}

void vs_disc_unwatch(struct vs_disc *d, const char *uuid)
{
	struct disc_watch *w = g_hash_table_lookup(d->watches, uuid);

	if (w && !--w->refs)
		g_hash_table_remove(d->watches, uuid);
}

const struct vs_disc_node *vs_disc_destination(const struct vs_disc *d, const char *uuid)
{
	const struct disc_watch *w = g_hash_table_lookup(d->watches, uuid);

	return w && w->have_dest ? &w->dest : NULL;
}

JsonArray *disc_watch_describe(const struct vs_disc *d)
{
	JsonArray *a = json_array_new();
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, d->watches);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct disc_watch *w = v;
		JsonObject *o = json_object_new();

		json_object_set_string_member(o, "vm-uuid", w->uuid);
		json_object_set_string_member(o, "state", disc_watch_state_to_string(w->state));
		if (w->have_dest) {
			json_object_set_string_member(o, "destination", w->dest.name);
			json_object_set_string_member(o, "address", w->dest.address);
			if (w->dest.fingerprint[0])
				json_object_set_string_member(o, "fingerprint", w->dest.fingerprint);
		}
		json_array_add_object_element(a, o);
	}
	return a;
}
