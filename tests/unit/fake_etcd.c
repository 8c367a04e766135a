/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fake_etcd.c - a tiny etcd v3 JSON gateway for the unit tests
 *
 * Theory of operation: see fake_etcd.h.  Replies follow what etcd 3.4's
 * gateway writes (checked against the real one): 64-bit integers as
 * strings, zero values left out, keys and values in base64, a keepalive
 * of an unknown lease answered without TTL, an unknown lease on put or
 * revoke answered 404 with gRPC code 5.
 */
#include <inttypes.h>
#include <string.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "fake_etcd.h"

struct fe_kv {
	GBytes *value;
	int64_t lease;
	int64_t create_rev, mod_rev;
};

struct fe_event {
	char *key;
	GBytes *value;		/* NULL: delete */
	int64_t lease;
	int64_t rev;
};

struct fe_watcher {
	struct fake_etcd *f;
	SoupServerMessage *msg;
	char *key;
};

struct fake_etcd {
	SoupServer *server;
	guint16 port;
	char *url;
	int64_t rev;
	int64_t next_lease;
	GHashTable *kvs;	/* key -> struct fe_kv * */
	GHashTable *leases;	/* int64 id -> guint timer (0: none) */
	GPtrArray *history;	/* struct fe_event * */
	GList *watchers;	/* struct fe_watcher * */
	GHashTable *counts;	/* path -> count */
	GPtrArray *old_servers;	/* stopped ones: their streams may still end */
};

static void fe_kv_free(gpointer p)
{
	struct fe_kv *kv = p;

	g_bytes_unref(kv->value);
	g_free(kv);
}

static void fe_event_free(gpointer p)
{
	struct fe_event *e = p;

	g_free(e->key);
	if (e->value)
		g_bytes_unref(e->value);
	g_free(e);
}

static char *fe_i64(int64_t v)
{
	return g_strdup_printf("%" PRId64, v);
}

static JsonObject *fe_header(struct fake_etcd *f)
{
	JsonObject *h = json_object_new();
	g_autofree char *r = fe_i64(f->rev);

	json_object_set_string_member(h, "cluster_id", "1");
	json_object_set_string_member(h, "revision", r);
	return h;
}

static char *fe_text(JsonObject *o)
{
	g_autoptr(JsonGenerator) g = json_generator_new();
	g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(n, o);
	json_generator_set_root(g, n);
	return json_generator_to_data(g, NULL);
}

static JsonObject *fe_kv_json(const char *key, GBytes *value, int64_t lease, int64_t mod)
{
	JsonObject *o = json_object_new();
	g_autofree char *k = g_base64_encode((const guchar *)key, strlen(key));
	g_autofree char *m = fe_i64(mod);

	json_object_set_string_member(o, "key", k);
	json_object_set_string_member(o, "mod_revision", m);
	if (value && g_bytes_get_size(value)) {
		g_autofree char *v = g_base64_encode(g_bytes_get_data(value, NULL),
						     g_bytes_get_size(value));

		json_object_set_string_member(o, "value", v);
	}
	if (lease) {
		g_autofree char *l = fe_i64(lease);

		json_object_set_string_member(o, "lease", l);
	}
	return o;
}

/* One watch line for @e to every watcher of its key */
static void fe_watch_send(struct fe_watcher *w, const struct fe_event *e)
{
	JsonObject *res = json_object_new();
	JsonObject *top = json_object_new();
	JsonArray *evs = json_array_new();
	JsonObject *ev = json_object_new();
	g_autofree char *text = NULL;
	g_autofree char *line = NULL;
	g_autofree char *r = fe_i64(e->rev);
	JsonObject *h = json_object_new();

	json_object_set_string_member(h, "revision", r);
	if (!e->value)
		json_object_set_string_member(ev, "type", "DELETE");
	json_object_set_object_member(ev, "kv", fe_kv_json(e->key, e->value, e->lease, e->rev));
	json_array_add_object_element(evs, ev);
	json_object_set_object_member(res, "header", h);
	json_object_set_array_member(res, "events", evs);
	json_object_set_object_member(top, "result", res);
	text = fe_text(top);
	line = g_strconcat(text, "\n", NULL);
	soup_message_body_append(soup_server_message_get_response_body(w->msg), SOUP_MEMORY_COPY,
				 line, strlen(line));
	soup_server_message_unpause(w->msg);
}

static void fe_event(struct fake_etcd *f, const char *key, GBytes *value, int64_t lease)
{
	struct fe_event *e = g_new0(struct fe_event, 1);
	GList *l;

	e->key = g_strdup(key);
	e->value = value ? g_bytes_ref(value) : NULL;
	e->lease = lease;
	e->rev = f->rev;
	g_ptr_array_add(f->history, e);
	for (l = f->watchers; l; l = l->next) {
		struct fe_watcher *w = l->data;

		if (!strcmp(w->key, key))
			fe_watch_send(w, e);
	}
}

static void fe_put(struct fake_etcd *f, const char *key, GBytes *value, int64_t lease)
{
	struct fe_kv *kv = g_hash_table_lookup(f->kvs, key);

	f->rev++;
	if (!kv) {
		kv = g_new0(struct fe_kv, 1);
		kv->create_rev = f->rev;
		g_hash_table_insert(f->kvs, g_strdup(key), kv);
	} else {
		g_bytes_unref(kv->value);
	}
	kv->value = g_bytes_ref(value);
	kv->lease = lease;
	kv->mod_rev = f->rev;
	fe_event(f, key, value, lease);
}

static void fe_delete(struct fake_etcd *f, const char *key)
{
	if (!g_hash_table_remove(f->kvs, key))
		return;
	f->rev++;
	fe_event(f, key, NULL, 0);
}

void fake_etcd_expire(struct fake_etcd *f, int64_t lease)
{
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *gone = g_ptr_array_new_with_free_func(g_free);
	gpointer timer;
	guint i;

	if (!g_hash_table_lookup_extended(f->leases, &lease, NULL, &timer))
		return;
	if (GPOINTER_TO_UINT(timer))
		g_source_remove(GPOINTER_TO_UINT(timer));
	g_hash_table_remove(f->leases, &lease);
	g_hash_table_iter_init(&it, f->kvs);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (((struct fe_kv *)v)->lease == lease)
			g_ptr_array_add(gone, g_strdup(k));
	for (i = 0; i < gone->len; i++)
		fe_delete(f, g_ptr_array_index(gone, i));
	g_ptr_array_unref(gone);
}

struct fe_lease_timer {
	struct fake_etcd *f;
	int64_t id;
};

static gboolean fe_lease_expired_cb(gpointer data)
{
	struct fe_lease_timer *t = data;

	g_hash_table_replace(t->f->leases, g_memdup2(&t->id, sizeof(t->id)), GUINT_TO_POINTER(0));
	fake_etcd_expire(t->f, t->id);
	return G_SOURCE_REMOVE;
}

static void fe_lease_arm(struct fake_etcd *f, int64_t id, int64_t ttl)
{
	struct fe_lease_timer *t = g_new0(struct fe_lease_timer, 1);
	gpointer old;
	guint timer;

	if (g_hash_table_lookup_extended(f->leases, &id, NULL, &old) && GPOINTER_TO_UINT(old))
		g_source_remove(GPOINTER_TO_UINT(old));
	t->f = f;
	t->id = id;
	timer = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)ttl * 1000, fe_lease_expired_cb, t,
				   g_free);
	g_hash_table_replace(f->leases, g_memdup2(&id, sizeof(id)), GUINT_TO_POINTER(timer));
}

int64_t fake_etcd_grant(struct fake_etcd *f, int64_t ttl)
{
	int64_t id = ++f->next_lease;

	fe_lease_arm(f, id, ttl);
	return id;
}

void fake_etcd_forget_leases(struct fake_etcd *f)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, f->leases);
	while (g_hash_table_iter_next(&it, NULL, &v))
		if (GPOINTER_TO_UINT(v))
			g_source_remove(GPOINTER_TO_UINT(v));
	g_hash_table_remove_all(f->leases);
}

static int64_t fe_get_i64(JsonObject *o, const char *m)
{
	JsonNode *n = o ? json_object_get_member(o, m) : NULL;

	if (!n)
		return 0;
	if (json_node_get_value_type(n) == G_TYPE_STRING)
		return g_ascii_strtoll(json_node_get_string(n), NULL, 10);
	return json_node_get_int(n);
}

static char *fe_get_b64(JsonObject *o, const char *m, gsize *len)
{
	const char *s = o && json_object_has_member(o, m) ? json_object_get_string_member(o, m)
							 : "";

	return (char *)g_base64_decode(s, len);
}

static void fe_reply(SoupServerMessage *msg, guint status, JsonObject *o)
{
	g_autofree char *text = fe_text(o);

	soup_server_message_set_status(msg, status, NULL);
	soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_COPY, text,
					 strlen(text));
}

static void fe_not_found(SoupServerMessage *msg)
{
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, "error", "etcdserver: requested lease not found");
	json_object_set_string_member(o, "message", "etcdserver: requested lease not found");
	json_object_set_int_member(o, "code", 5);
	fe_reply(msg, 404, o);
}

static void fe_watcher_free(struct fe_watcher *w)
{
	g_signal_handlers_disconnect_by_data(w->msg, w);
	g_object_unref(w->msg);
	g_free(w->key);
	g_free(w);
}

static void fe_watcher_gone_cb(SoupServerMessage *msg, gpointer data)
{
	struct fe_watcher *w = data;

	w->f->watchers = g_list_remove(w->f->watchers, w);
	fe_watcher_free(w);
}

static void fe_watch(struct fake_etcd *f, SoupServerMessage *msg, JsonObject *req)
{
	JsonObject *cr = json_object_has_member(req, "create_request")
				 ? json_object_get_object_member(req, "create_request") : NULL;
	gsize klen = 0;
	g_autofree char *key = fe_get_b64(cr, "key", &klen);
	int64_t start = fe_get_i64(cr, "start_revision");
	struct fe_watcher *w = g_new0(struct fe_watcher, 1);
	JsonObject *res = json_object_new(), *top = json_object_new();
	g_autofree char *text = NULL, *line = NULL;
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	guint i;

	w->f = f;
	w->msg = g_object_ref(msg);
	w->key = g_strndup(key, klen);
	soup_server_message_set_status(msg, 200, NULL);
	soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
	soup_message_headers_set_content_type(h, "application/json", NULL);
	json_object_set_object_member(res, "header", fe_header(f));
	json_object_set_boolean_member(res, "created", TRUE);
	json_object_set_object_member(top, "result", res);
	text = fe_text(top);
	line = g_strconcat(text, "\n", NULL);
	soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
				 line, strlen(line));
	f->watchers = g_list_prepend(f->watchers, w);
	g_signal_connect(msg, "finished", G_CALLBACK(fe_watcher_gone_cb), w);
	g_signal_connect(msg, "disconnected", G_CALLBACK(fe_watcher_gone_cb), w);
	for (i = 0; start && i < f->history->len; i++) {
		const struct fe_event *e = g_ptr_array_index(f->history, i);

		if (e->rev >= start && !strcmp(e->key, w->key))
			fe_watch_send(w, e);
	}
}

static void fe_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
		       GHashTable *query, gpointer data)
{
	struct fake_etcd *f = data;
	g_autoptr(GBytes) body = soup_message_body_flatten(soup_server_message_get_request_body(msg));
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *req, *o = json_object_new();
	gpointer n;

	n = g_hash_table_lookup(f->counts, path);
	g_hash_table_replace(f->counts, g_strdup(path), GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
	if (!json_parser_load_from_data(p, g_bytes_get_data(body, NULL),
					(gssize)g_bytes_get_size(body), NULL) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
		json_object_set_string_member(o, "error", "bad request");
		fe_reply(msg, 400, o);
		return;
	}
	req = json_node_get_object(json_parser_get_root(p));
	if (!strcmp(path, "/v3/watch")) {
		json_object_unref(o);
		fe_watch(f, msg, req);
		return;
	}
	json_object_set_object_member(o, "header", fe_header(f));
	if (!strcmp(path, "/v3/lease/grant")) {
		int64_t ttl = fe_get_i64(req, "TTL");
		g_autofree char *id = fe_i64(fake_etcd_grant(f, ttl));
		g_autofree char *t = fe_i64(ttl);

		json_object_set_string_member(o, "ID", id);
		json_object_set_string_member(o, "TTL", t);
	} else if (!strcmp(path, "/v3/lease/keepalive")) {
		int64_t id = fe_get_i64(req, "ID");
		JsonObject *r = o;
		g_autofree char *ids = fe_i64(id);

		o = json_object_new();
		json_object_set_string_member(r, "ID", ids);
		if (g_hash_table_contains(f->leases, &id)) {
			fe_lease_arm(f, id, 10);
			json_object_set_string_member(r, "TTL", "10");
		}
		json_object_set_object_member(o, "result", r);
	} else if (!strcmp(path, "/v3/lease/revoke")) {
		int64_t id = fe_get_i64(req, "ID");

		if (!g_hash_table_contains(f->leases, &id)) {
			json_object_unref(o);
			fe_not_found(msg);
			return;
		}
		fake_etcd_expire(f, id);
	} else if (!strcmp(path, "/v3/kv/put")) {
		int64_t lease = fe_get_i64(req, "lease");
		gsize klen = 0, vlen = 0;
		g_autofree char *k = fe_get_b64(req, "key", &klen);
		g_autofree char *v = fe_get_b64(req, "value", &vlen);
		g_autoptr(GBytes) value = g_bytes_new(v, vlen);
		g_autofree char *key = g_strndup(k, klen);

		if (lease && !g_hash_table_contains(f->leases, &lease)) {
			json_object_unref(o);
			fe_not_found(msg);
			return;
		}
		fe_put(f, key, value, lease);
	} else if (!strcmp(path, "/v3/kv/range")) {
		gsize klen = 0;
		g_autofree char *k = fe_get_b64(req, "key", &klen);
		g_autofree char *key = g_strndup(k, klen);
		struct fe_kv *kv = g_hash_table_lookup(f->kvs, key);

		if (kv) {
			JsonArray *a = json_array_new();

			json_array_add_object_element(a, fe_kv_json(key, kv->value, kv->lease,
								    kv->mod_rev));
			json_object_set_array_member(o, "kvs", a);
			json_object_set_string_member(o, "count", "1");
		}
	} else {
		json_object_set_string_member(o, "error", "not found");
		fe_reply(msg, 404, o);
		return;
	}
	fe_reply(msg, 200, o);
}

void fake_etcd_start(struct fake_etcd *f)
{
	g_autoptr(GError) err = NULL;
	GSList *uris;

	g_assert_true(soup_server_listen_local(f->server, f->port, SOUP_SERVER_LISTEN_IPV4_ONLY,
					       &err));
	g_assert_no_error(err);
	uris = soup_server_get_uris(f->server);
	f->port = (guint16)g_uri_get_port(uris->data);
	g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
	g_free(f->url);
	f->url = g_strdup_printf("http://127.0.0.1:%u", f->port);
}

void fake_etcd_stop(struct fake_etcd *f)
{
	GList *l;

	soup_server_disconnect(f->server);
	/* a dead etcd drops its streams too */
	for (l = f->watchers; l; l = l->next) {
		struct fe_watcher *w = l->data;

		soup_message_body_complete(soup_server_message_get_response_body(w->msg));
		soup_server_message_unpause(w->msg);
	}
	g_ptr_array_add(f->old_servers, f->server);
	f->server = soup_server_new("server-header", "fake-etcd", NULL);
	soup_server_add_handler(f->server, NULL, fe_handler, f, NULL);
}

struct fake_etcd *fake_etcd_new(void)
{
	struct fake_etcd *f = g_new0(struct fake_etcd, 1);

	f->kvs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fe_kv_free);
	f->leases = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	f->history = g_ptr_array_new_with_free_func(fe_event_free);
	f->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	f->old_servers = g_ptr_array_new_with_free_func(g_object_unref);
	f->next_lease = 0x1000;
	f->server = soup_server_new("server-header", "fake-etcd", NULL);
	soup_server_add_handler(f->server, NULL, fe_handler, f, NULL);
	fake_etcd_start(f);
	return f;
}

void fake_etcd_free(struct fake_etcd *f)
{
	gint64 end;

	fake_etcd_forget_leases(f);
	soup_server_disconnect(f->server);
	for (guint i = 0; i < f->old_servers->len; i++)
		soup_server_disconnect(g_ptr_array_index(f->old_servers, i));
	/* let the connections the clients closed finish here too */
	end = g_get_monotonic_time() + 200 * 1000;
	while (g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	while (f->watchers) {
		struct fe_watcher *w = f->watchers->data;

		f->watchers = g_list_delete_link(f->watchers, f->watchers);
		fe_watcher_free(w);
	}
	g_object_unref(f->server);
	g_ptr_array_unref(f->old_servers);
	g_hash_table_destroy(f->kvs);
	g_hash_table_destroy(f->leases);
	g_ptr_array_unref(f->history);
	g_hash_table_destroy(f->counts);
	g_free(f->url);
	g_free(f);
}

const char *fake_etcd_url(const struct fake_etcd *f)
{
	return f->url;
}

GBytes *fake_etcd_get(struct fake_etcd *f, const char *key, int64_t *lease)
{
	struct fe_kv *kv = g_hash_table_lookup(f->kvs, key);

	if (lease)
		*lease = kv ? kv->lease : 0;
	return kv ? g_bytes_ref(kv->value) : NULL;
}

void fake_etcd_put_raw(struct fake_etcd *f, const char *key, const void *value, size_t len,
		       int64_t lease)
{
	g_autoptr(GBytes) v = g_bytes_new(value, len);

	fe_put(f, key, v, lease);
}

unsigned int fake_etcd_requests(const struct fake_etcd *f, const char *path)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(f->counts, path));
}

unsigned int fake_etcd_watchers(const struct fake_etcd *f)
{
	return g_list_length(f->watchers);
}
