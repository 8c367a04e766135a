/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_value.c - the registry's keys and values, and etcd's JSON replies
 *
 * Theory of operation: see disc_value.h.  Every parser here takes bytes
 * that anyone with write access to the registry (or a man in the middle
 * of a plain-http etcd) chose, checks sizes before it allocates, and
 * either returns a complete, checked result or an error: nothing is
 * half-filled on failure.
 */
#include <string.h>

#include "config.h"
#include "disc_value.h"

G_DEFINE_QUARK(vs-disc-error-quark, vs_disc_error)

/* Security consideration: the longest key we decode; ours are < 150 bytes */
#define DISC_KEY_MAX	512

void vs_disc_kv_free(struct vs_disc_kv *kv)
{
	if (!kv)
		return;
	g_free(kv->key);
	if (kv->value)
		g_bytes_unref(kv->value);
	g_free(kv);
}

void vs_disc_watch_msg_clear(struct vs_disc_watch_msg *m)
{
	if (m->events)
		g_ptr_array_unref(m->events);
	memset(m, 0, sizeof(*m));
}

char *vs_disc_key(const char *prefix, const char *kind, const char *id)
{
	return g_strdup_printf("%s%s/%s", prefix, kind, id);
}

char *vs_disc_b64(const char *s)
{
	return g_base64_encode((const guchar *)s, strlen(s));
}

static char *disc_json_text(JsonBuilder *b)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_builder_get_root(b);

	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

char *vs_disc_node_value(const struct vs_disc_node *n)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "node");
	json_builder_add_string_value(b, n->name);
	json_builder_set_member_name(b, "address");
	json_builder_add_string_value(b, n->address);
	json_builder_set_member_name(b, "tls");
	json_builder_add_string_value(b, n->tls[0] ? n->tls : "none");
	if (n->fingerprint[0]) {
		json_builder_set_member_name(b, "fingerprint");
		json_builder_add_string_value(b, n->fingerprint);
	}
	json_builder_end_object(b);
	return disc_json_text(b);
}

char *vs_disc_vm_value(const char *node)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "node");
	json_builder_add_string_value(b, node);
	json_builder_end_object(b);
	return disc_json_text(b);
}

JsonObject *vs_disc_parse_json(const char *data, size_t len, GError **error)
{
	g_autoptr(JsonParser) p = NULL;
	JsonNode *root;

	if (len > VS_DISC_REPLY_MAX) {
		g_set_error(error, VS_DISC_ERROR, 0, "reply of %zu bytes (at most %u)", len,
			    VS_DISC_REPLY_MAX);
		return NULL;
	}
	/* json-glib stops at a NUL within @len: refuse one instead */
	if (memchr(data, '\0', len)) {
		g_set_error(error, VS_DISC_ERROR, 0, "reply holds a NUL byte");
		return NULL;
	}
	p = json_parser_new_immutable();
	if (!json_parser_load_from_data(p, data, (gssize)len, error))
		return NULL;
	root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		g_set_error(error, VS_DISC_ERROR, 0, "reply is not a JSON object");
		return NULL;
	}
	return json_object_ref(json_node_get_object(root));
}

/* A string member, or NULL if absent or of another type */
static const char *disc_str(JsonObject *o, const char *member)
{
	JsonNode *n = json_object_get_member(o, member);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

/* A boolean member, FALSE if absent or of another type (never a
 * g_critical() on peer input, as json_object_get_boolean_member() is) */
static gboolean disc_bool(JsonObject *o, const char *member)
{
	JsonNode *n = json_object_get_member(o, member);

	if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN)
		return FALSE;
	return json_node_get_boolean(n);
}

/* An object member, or NULL */
static JsonObject *disc_obj(JsonObject *o, const char *member)
{
	JsonNode *n = json_object_get_member(o, member);

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

gboolean vs_disc_json_int(JsonObject *o, const char *member, int64_t dflt, int64_t *out)
{
	JsonNode *n = json_object_get_member(o, member);
	gint64 v;

	*out = dflt;
	if (!n)
		return TRUE;
	if (!JSON_NODE_HOLDS_VALUE(n))
		return FALSE;
	if (json_node_get_value_type(n) == G_TYPE_INT64) {
		*out = json_node_get_int(n);
		return TRUE;
	}
	if (json_node_get_value_type(n) != G_TYPE_STRING)
		return FALSE;
	if (!g_ascii_string_to_signed(json_node_get_string(n), 10, G_MININT64, G_MAXINT64, &v,
				      NULL))
		return FALSE;
	*out = v;
	return TRUE;
}

/* The object of a value: bounded, JSON, an object */
static JsonObject *disc_value_object(const void *data, size_t len, GError **error)
{
	if (len > VS_DISC_VALUE_MAX) {
		g_set_error(error, VS_DISC_ERROR, 0, "value of %zu bytes (at most %u)", len,
			    VS_DISC_VALUE_MAX);
		return NULL;
	}
	return vs_disc_parse_json(data, len, error);
}

/* Copy @s into @dst[@size] if it fits */
static gboolean disc_copy(char *dst, size_t size, const char *s)
{
	return s && g_strlcpy(dst, s, size) < size;
}

static gboolean disc_fingerprint_valid(const char *s)
{
	size_t n = strlen(s);

	return n <= VS_DISC_FPR_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:") == n;
}

gboolean vs_disc_parse_node_value(const char *name, const void *data, size_t len,
				  struct vs_disc_node *out, GError **error)
{
	g_autoptr(JsonObject) o = disc_value_object(data, len, error);
	struct vs_disc_node n = { 0 };
	const char *node, *addr, *tls, *fpr;

	if (!o)
		return FALSE;
	node = disc_str(o, "node");
	addr = disc_str(o, "address");
	tls = disc_str(o, "tls");
	fpr = disc_str(o, "fingerprint");
	if (!node || strcmp(node, name) || !vs_valid_node_name(node)) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"node\" is not %s", name);
		return FALSE;
	}
	if (!addr || !vs_hostport_is_dialable(addr) ||
	    !disc_copy(n.address, sizeof(n.address), addr)) {
		g_set_error(error, VS_DISC_ERROR, 0,
			    "\"address\" is not a numeric IP:port that can be dialled");
		return FALSE;
	}
	if (tls && strcmp(tls, "none") && strcmp(tls, "x509")) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"tls\" is not none or x509");
		return FALSE;
	}
	if (fpr && !disc_fingerprint_valid(fpr)) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"fingerprint\" is not sha256:HEX");
		return FALSE;
	}
	disc_copy(n.name, sizeof(n.name), node);
	disc_copy(n.tls, sizeof(n.tls), tls ? tls : "none");
	if (fpr)
		disc_copy(n.fingerprint, sizeof(n.fingerprint), fpr);
	*out = n;
	return TRUE;
}

gboolean vs_disc_parse_vm_value(const void *data, size_t len, char node[VS_DISC_NODE_MAX + 1],
				GError **error)
{
	g_autoptr(JsonObject) o = disc_value_object(data, len, error);
	const char *n;

	if (!o)
		return FALSE;
	n = disc_str(o, "node");
	if (!n || !vs_valid_node_name(n)) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"node\" is not a node name");
		return FALSE;
	}
	g_strlcpy(node, n, VS_DISC_NODE_MAX + 1);
	return TRUE;
}

/*
 * disc_b64_field() - decode a base64 member, bounded by @max decoded
 * bytes; g_base64_decode() skips bytes outside the alphabet, so the text
 * is checked first
 */
static GBytes *disc_b64_field(JsonObject *o, const char *member, size_t max, GError **error)
{
	const char *s = disc_str(o, member);
	size_t n;
	gsize out_len = 0;
	guchar *out;

	if (!s) {
		if (!json_object_has_member(o, member))
			return g_bytes_new(NULL, 0);	/* proto3: an empty value is left out */
		g_set_error(error, VS_DISC_ERROR, 0, "\"%s\" is not a string", member);
		return NULL;
	}
	n = strlen(s);
	if (n > (max + 2) / 3 * 4 || n % 4 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n ||
	    (strchr(s, '=') && strspn(strchr(s, '='), "=") != strlen(strchr(s, '=')))) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"%s\" is not base64 of at most %zu bytes",
			    member, max);
		return NULL;
	}
	out = g_base64_decode(s, &out_len);
	return g_bytes_new_take(out, out_len);
}

/* One mvccpb.KeyValue object; @deleted from the event's type */
static struct vs_disc_kv *disc_parse_kv(JsonObject *o, bool deleted, GError **error)
{
	g_autoptr(GBytes) key = disc_b64_field(o, "key", DISC_KEY_MAX, error);
	g_autoptr(GBytes) value = NULL;
	struct vs_disc_kv *kv;
	gsize klen = 0;
	const char *k;

	if (!key)
		return NULL;
	k = g_bytes_get_data(key, &klen);
	if (!klen || memchr(k, '\0', klen)) {
		g_set_error(error, VS_DISC_ERROR, 0, "empty key, or a key with a NUL byte");
		return NULL;
	}
	if (!deleted) {
		value = disc_b64_field(o, "value", VS_DISC_VALUE_MAX, error);
		if (!value)
			return NULL;
	}
	kv = g_new0(struct vs_disc_kv, 1);
	kv->key = g_strndup(k, klen);
	kv->value = g_steal_pointer(&value);
	kv->deleted = deleted;
	if (!vs_disc_json_int(o, "lease", 0, &kv->lease) ||
	    !vs_disc_json_int(o, "mod_revision", 0, &kv->mod_revision)) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"lease\" or \"mod_revision\" is not an integer");
		vs_disc_kv_free(kv);
		return NULL;
	}
	return kv;
}

static gboolean disc_header_revision(JsonObject *reply, int64_t *revision, GError **error)
{
	JsonObject *h = disc_obj(reply, "header");

	if (!h || !vs_disc_json_int(h, "revision", 0, revision)) {
		g_set_error(error, VS_DISC_ERROR, 0, "no header revision");
		return FALSE;
	}
	return TRUE;
}

gboolean vs_disc_parse_range(JsonObject *reply, int64_t *revision, struct vs_disc_kv **kv,
			     GError **error)
{
	JsonNode *kvs = json_object_get_member(reply, "kvs");
	JsonArray *a;

	*kv = NULL;
	if (!disc_header_revision(reply, revision, error))
		return FALSE;
	if (!kvs)
		return TRUE;	/* no such key */
	if (!JSON_NODE_HOLDS_ARRAY(kvs)) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"kvs\" is not an array");
		return FALSE;
	}
	a = json_node_get_array(kvs);
	if (!json_array_get_length(a))
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(json_array_get_element(a, 0))) {
		g_set_error(error, VS_DISC_ERROR, 0, "\"kvs\" holds a non-object");
		return FALSE;
	}
	*kv = disc_parse_kv(json_array_get_object_element(a, 0), false, error);
	return *kv != NULL;
}

static const char *disc_error_text(JsonObject *o)
{
	const char *m = disc_str(o, "message");

	return m ? m : disc_str(o, "error") ? disc_str(o, "error") : "unknown error";
}

gboolean vs_disc_parse_watch_line(const char *line, size_t len, struct vs_disc_watch_msg *out,
				  GError **error)
{
	g_autoptr(JsonObject) o = vs_disc_parse_json(line, len, error);
	JsonObject *r, *err;
	JsonNode *evs;
	guint i, n;

	memset(out, 0, sizeof(*out));
	if (!o)
		return FALSE;
	err = disc_obj(o, "error");
	if (err || (json_object_has_member(o, "error") && !disc_obj(o, "result"))) {
		g_set_error(error, VS_DISC_ERROR, 0, "watch: %s", err ? disc_error_text(err)
								     : disc_error_text(o));
		return FALSE;
	}
	r = disc_obj(o, "result");
	if (!r) {
		g_set_error(error, VS_DISC_ERROR, 0, "watch: no \"result\"");
		return FALSE;
	}
	if (!disc_header_revision(r, &out->revision, error) ||
	    !vs_disc_json_int(r, "compact_revision", 0, &out->compact_revision))
		return FALSE;
	out->created = disc_bool(r, "created");
	out->canceled = disc_bool(r, "canceled");
	out->events = g_ptr_array_new_with_free_func((GDestroyNotify)vs_disc_kv_free);
	evs = json_object_get_member(r, "events");
	if (!evs)
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY(evs) ||
	    (n = json_array_get_length(json_node_get_array(evs))) > VS_DISC_EVENTS_MAX) {
		g_set_error(error, VS_DISC_ERROR, 0, "watch: \"events\" is not an array of at most %u",
			    VS_DISC_EVENTS_MAX);
		vs_disc_watch_msg_clear(out);
		return FALSE;
	}
	for (i = 0; i < n; i++) {
		JsonNode *e = json_array_get_element(json_node_get_array(evs), i);
		JsonObject *kvo = JSON_NODE_HOLDS_OBJECT(e) ? disc_obj(json_node_get_object(e), "kv")
							    : NULL;
		const char *type = kvo ? disc_str(json_node_get_object(e), "type") : NULL;
		struct vs_disc_kv *kv;

		/* proto3 leaves PUT (0) out */
		if (!kvo || (type && strcmp(type, "PUT") && strcmp(type, "DELETE"))) {
			g_set_error(error, VS_DISC_ERROR, 0, "watch: event %u is malformed", i);
			vs_disc_watch_msg_clear(out);
			return FALSE;
		}
		kv = disc_parse_kv(kvo, type && !strcmp(type, "DELETE"), error);
		if (!kv) {
			vs_disc_watch_msg_clear(out);
			return FALSE;
		}
		g_ptr_array_add(out->events, kv);
	}
	return TRUE;
}

gboolean vs_disc_parse_lease(JsonObject *reply, int64_t *id, int64_t *ttl, GError **error)
{
	JsonObject *r = disc_obj(reply, "result");

	if (!r)
		r = reply;
	if (!vs_disc_json_int(r, "ID", 0, id) || !vs_disc_json_int(r, "TTL", 0, ttl)) {
		g_set_error(error, VS_DISC_ERROR, 0, "lease reply: \"ID\" or \"TTL\" is not an integer");
		return FALSE;
	}
	if (*ttl < 0)
		*ttl = 0;	/* -1: expired */
	return TRUE;
}
