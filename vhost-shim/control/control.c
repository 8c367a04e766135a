/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.c - QMP-compatible control socket: sessions, input, events
 *
 * Theory of operation: a GSocketService on the main loop accepts clients on
 * a unix socket (and optionally on loopback TCP).  Each client is a
 * struct vs_ctl_session with a non-blocking GSocket, one input source, an
 * output queue and, when the queue cannot be written at once, one output
 * source.  The main loop never blocks on a client.
 *
 * Input goes through three stages:
 *   1. the splitter (ctl_split_step(), control_split.c) finds where one
 *	JSON value ends by
 *	tracking brackets, strings and escapes byte by byte, without parsing
 *	and without relying on newlines (qemu.qmp sends none);
 *   2. the parser (vs_ctl_json_parse(), control_json.c) builds a JsonNode
 *	strictly;
 *   3. the dispatcher (ctl_execute(), control_dispatch.c) checks the QMP
 *	envelope, finds the command with bsearch(), checks the phase and the
 *	arguments against the table row, and calls the handler.
 * Every request gets exactly one reply, in order.  The reply is a
 * {"return": ...} or an {"error": ...}, plus the request's "id" whenever
 * the request was an object that had one.
 *
 * Resynchronisation after bad input (see docs/control-protocol.md):
 *   - a value that is complete but not valid JSON gets one error and is
 *     dropped; the next value starts after it;
 *   - a control byte other than TAB, CR, LF, or 0xFE/0xFF anywhere, or a CR
 *     or LF inside a string, is a lexical error: the partial value is
 *     dropped, one error is sent and the splitter starts afresh.  This is
 *     QMP's documented way for a client to reset the parser;
 *   - a value over VS_CTL_MAX_MSG_SIZE or VS_CTL_MAX_DEPTH gets its error
 *     at once; the rest of it is then skipped, tracked but not stored;
 *   - a stray '}' or ']' between values gets an error and is skipped.
 * Nothing a client sends closes its connection, except not reading its
 * replies (VS_CTL_MAX_OUTQ_BYTES).
 *
 * Security model: do not assume anything about what a client sends.  It
 * may be any bytes at any pace, values may be split anywhere, and a client
 * may never read.  Limits are in include/vhost-shim/control_wire.h.  The unix
 * socket is created mode 0600 (0660 with a group) and only starts listening
 * after its mode and group are set, so no connection is ever accepted with
 * looser permissions.
 *
 * Lifetime: a session is reference-counted.  The client list holds one
 * reference, and every callback takes one while it runs, because a reply or
 * an event may close a session (too much queued) while its own input is
 * being processed.  A closed session has closed == true and no sources.
 *
 * Files: this one holds the sessions (the output queue, replies, input)
 * and events, and owns the module state (ctl); the splitter is
 * control_split.c (pure: bytes in, events out, no socket); the parser
 * and serializer are in control_json.c, the dispatcher and the protocol's
 * own commands in control_dispatch.c, and the socket files, listeners and
 * vs_ctl_start()/vs_ctl_stop() in control_listen.c.  control_priv.h is
 * what they share.
 */
#include <stdarg.h>
#include <string.h>

#include <gio/gio.h>

#include "control.h"
#include "control_priv.h"
#include "log.h"

G_DEFINE_QUARK(vs-ctl-error-quark, vs_ctl_error)

#define VS_CTL_ERR_NAME(id, name) [VS_CTL_ERR_##id] = name,
VS_ENUM_IMPL(vs_ctl_error_class, enum vs_ctl_error_class, VS_CTL_NUM_ERROR_CLASSES,
	     VS_CTL_ERROR_CLASSES(VS_CTL_ERR_NAME));
#undef VS_CTL_ERR_NAME

/* Bytes read from a client at a time: a bound on work per callback */
#define CTL_READ_CHUNK		4096
/* Debug log lines carry JSON in pieces of this size (vs_log truncates) */
#define CTL_LOG_CHUNK		768

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

/* The module state (control_priv.h), owned by the main loop thread */
struct ctl_state ctl;

struct vs_ctl_session *ctl_session_ref(struct vs_ctl_session *s)
{
	s->refs++;
	return s;
}

void ctl_session_unref(struct vs_ctl_session *s)
{
	if (--s->refs)
		return;
	g_byte_array_unref(s->split.buf);
	g_byte_array_unref(s->outq);
	g_object_unref(s->conn);
	g_free(s);
}

const char *vs_ctl_session_name(const struct vs_ctl_session *s)
{
	return s->name;
}

void ctl_session_drop_source(GSource **src)
{
	if (*src) {
		g_source_destroy(*src);
		g_source_unref(*src);
		*src = NULL;
	}
}

void ctl_session_close(struct vs_ctl_session *s, enum vs_log_level level, const char *reason)
{
	if (s->closed)
		return;
	s->closed = true;
	vs_log_at(VS_LOGC_CTL, level, NULL, "%s disconnected: %s", s->name, reason);
	ctl_session_drop_source(&s->in_src);
	ctl_session_drop_source(&s->out_src);
	g_io_stream_close(G_IO_STREAM(s->conn), NULL, NULL);
	if (g_ptr_array_remove(ctl.clients, s))
		ctl_session_unref(s);
}

size_t ctl_session_queued(const struct vs_ctl_session *s)
{
	return s->outq->len - s->out_head;
}

static void ctl_session_arm_output(struct vs_ctl_session *s);

void ctl_session_flush(struct vs_ctl_session *s)
{
	while (!s->closed && ctl_session_queued(s)) {
		g_autoptr(GError) err = NULL;
		gssize n = g_socket_send(s->sock, (const char *)s->outq->data + s->out_head,
					 ctl_session_queued(s), NULL, &err);

		if (n < 0) {
			if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
				ctl_session_arm_output(s);
				break;
			}
			ctl_session_close(s, VS_LOG_INFO, err->message);
			return;
		}
		s->out_head += (size_t)n;
	}
	if (s->closed)
		return;
	if (!ctl_session_queued(s)) {
		g_byte_array_set_size(s->outq, 0);
		s->out_head = 0;
		ctl_session_drop_source(&s->out_src);
		if (s->eof) {
			ctl_session_close(s, VS_LOG_INFO, "end of input");
			return;
		}
	} else if (s->out_head > s->outq->len / 2) {
		g_byte_array_remove_range(s->outq, 0, s->out_head);
		s->out_head = 0;
	}
	/* input paused for back-pressure resumes once half the queue drained */
	if (!s->in_src && !s->eof && ctl_session_queued(s) <= VS_CTL_MAX_OUTQ_BYTES / 2)
		ctl_session_arm_input(s);
}

static gboolean ctl_session_out_cb(GSocket *sock, GIOCondition cond, gpointer opaque)
{
	g_autoptr(vs_ctl_session) s = ctl_session_ref(opaque);

	ctl_session_flush(s);
	return s->out_src ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void ctl_session_arm_output(struct vs_ctl_session *s)
{
	if (s->out_src || s->closed)
		return;
	s->out_src = g_socket_create_source(s->sock, G_IO_OUT, NULL);
	g_source_set_callback(s->out_src, G_SOURCE_FUNC(ctl_session_out_cb), s, NULL);
	g_source_attach(s->out_src, NULL);
}

/*
 * ctl_session_send() - queue one message (CRLF is added) and start writing it
 *
 * A client with more than VS_CTL_MAX_OUTQ_BYTES unread is disconnected:
 * the main loop cannot wait for it, and memory for it must stay bounded.
 */
static void ctl_session_send(struct vs_ctl_session *s, const char *msg, size_t len)
{
	if (s->closed)
		return;
	if (len + 2 > VS_CTL_MAX_OUTQ_BYTES - ctl_session_queued(s)) {
		g_autofree char *why = g_strdup_printf("not reading: over %u bytes queued",
						      VS_CTL_MAX_OUTQ_BYTES);

		ctl.counters.slow_clients_dropped++;
		ctl_session_close(s, VS_LOG_WARNING, why);
		return;
	}
	g_byte_array_append(s->outq, (const guint8 *)msg, len);
	g_byte_array_append(s->outq, (const guint8 *)"\r\n", 2);
	ctl_session_flush(s);
}

static void ctl_session_log_json(const struct vs_ctl_session *s, const char *dir,
				 const char *json)
{
	size_t len = strlen(json), off;

	for (off = 0; off < len; off += CTL_LOG_CHUNK)
		vs_log(CTL, DEBUG, NULL, "%s %s %.*s%s", s->name, dir,
		       (int)MIN((size_t)CTL_LOG_CHUNK, len - off), json + off,
		       len - off > CTL_LOG_CHUNK ? " \\" : "");
}

void ctl_session_send_node(struct vs_ctl_session *s, JsonNode *msg)
{
	g_autofree char *text = vs_ctl_json_to_string(msg);

	ctl_session_log_json(s, "->", text);
	ctl_session_send(s, text, strlen(text));
}

/*
 * ctl_error_node() - {"class": .., "desc": ..} for a GError
 */
static JsonNode *ctl_error_node(const GError *err)
{
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	enum vs_ctl_error_class cls = VS_CTL_ERR_GENERIC;

	if (err->domain == VS_CTL_ERROR && err->code >= 0 && err->code < VS_CTL_NUM_ERROR_CLASSES)
		cls = (enum vs_ctl_error_class)err->code;
	json_object_set_string_member(o, "class", vs_ctl_error_class_to_string(cls));
	json_object_set_string_member(o, "desc", err->message);
	json_node_take_object(n, o);
	return n;
}

/*
 * ctl_session_reply() - send {"return": @ret} or {"error": ..}, with @id
 * @s:		client
 * @id:		the request's "id", or NULL
 * @ret:	return value, consumed; NULL if @err
 * @err:	error, or NULL
 */
static void ctl_session_reply(struct vs_ctl_session *s, JsonNode *id, JsonNode *ret,
			      const GError *err)
{
	g_autoptr(JsonObject) o = json_object_new();
	g_autoptr(JsonNode) msg = json_node_new(JSON_NODE_OBJECT);

	if (err) {
		ctl.counters.errors++;
		json_object_set_member(o, "error", ctl_error_node(err));
	} else {
		json_object_set_member(o, "return", ret);
	}
	if (id)
		json_object_set_member(o, "id", json_node_copy(id));
	json_node_set_object(msg, o);
	ctl_session_send_node(s, msg);
}

static void ctl_session_reply_error(struct vs_ctl_session *s, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

static void ctl_session_reply_error(struct vs_ctl_session *s, const char *fmt, ...)
{
	g_autoptr(GError) err = NULL;
	va_list ap;

	va_start(ap, fmt);
	err = g_error_new_valist(VS_CTL_ERROR, VS_CTL_ERR_GENERIC, fmt, ap);
	va_end(ap);
	ctl_session_reply(s, NULL, NULL, err);
}

/* ------------------------------------------------------------------ */
/* Input: splitter -> parser -> dispatcher                              */
/* ------------------------------------------------------------------ */

/*
 * ctl_session_handle_message() - one complete value from the splitter
 */
static void ctl_session_handle_message(struct vs_ctl_session *s, const char *buf, size_t len)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) req = NULL;
	JsonNode *id = NULL, *ret;

	ctl.counters.requests++;
	req = vs_ctl_json_parse(buf, len, &err);
	if (!req) {
		ctl.counters.malformed++;
		vs_log(CTL, DEBUG, NULL, "%s <- %zu bytes: %s", s->name, len, err->message);
		ctl_session_reply(s, NULL, NULL, err);
		return;
	}
	{
		g_autofree char *text = vs_ctl_json_to_string(req);

		ctl_session_log_json(s, "<-", text);
	}
	if (JSON_NODE_HOLDS_OBJECT(req))
		id = json_object_get_member(json_node_get_object(req), "id");
	ret = ctl_execute(s, req, &err);
	ctl_session_reply(s, id, ret, err);
}

void ctl_session_feed(struct vs_ctl_session *s, const unsigned char *data, size_t len)
{
	struct ctl_split *sp = &s->split;

	while (len && !s->closed) {
		size_t used = 0;

		switch (ctl_split_step(sp, data, len, &used)) {
		case CTL_SPLIT_EV_MORE:
			break;
		case CTL_SPLIT_EV_MESSAGE:
			ctl_session_handle_message(s, (const char *)sp->buf->data, sp->buf->len);
			g_byte_array_set_size(sp->buf, 0);
			break;
		case CTL_SPLIT_EV_LEXICAL:
			ctl.counters.requests++;
			ctl.counters.malformed++;
			ctl_session_reply_error(s, "JSON parse error, invalid byte 0x%02x%s",
						sp->bad, sp->bad == '\n' || sp->bad == '\r' ?
						" (unterminated string)" : "");
			break;
		case CTL_SPLIT_EV_STRAY:
			ctl.counters.requests++;
			ctl.counters.malformed++;
			ctl_session_reply_error(s, "JSON parse error, stray '%c'", sp->bad);
			break;
		case CTL_SPLIT_EV_OVERSIZE:
			ctl.counters.requests++;
			ctl.counters.oversize++;
			ctl_session_reply_error(s, "JSON message too big: the limit is %u bytes",
						VS_CTL_MAX_MSG_SIZE);
			break;
		case CTL_SPLIT_EV_TOO_DEEP:
			ctl.counters.requests++;
			ctl.counters.too_deep++;
			ctl_session_reply_error(s, "JSON nesting depth limit exceeded: "
						"the limit is %u", VS_CTL_MAX_DEPTH);
			break;
		}
		data += used;
		len -= used;
	}
}

static gboolean ctl_session_in_cb(GSocket *sock, GIOCondition cond, gpointer opaque)
{
	g_autoptr(vs_ctl_session) s = ctl_session_ref(opaque);
	g_autoptr(GError) err = NULL;
	unsigned char buf[CTL_READ_CHUNK];
	gssize n;

	n = g_socket_receive(sock, (char *)buf, sizeof(buf), NULL, &err);
	if (n < 0) {
		if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return G_SOURCE_CONTINUE;
		ctl_session_close(s, VS_LOG_INFO, err->message);
		return G_SOURCE_REMOVE;
	}
	if (n == 0) {
		/* Half-closed: answer what came, then close (socat, scripts) */
		s->eof = true;
		ctl_session_drop_source(&s->in_src);
		if (s->split.state != CTL_SPLIT_IDLE)
			vs_log(CTL, DEBUG, NULL, "%s: incomplete request at end of input", s->name);
		ctl_session_flush(s);
		return G_SOURCE_REMOVE;
	}
	ctl_session_feed(s, buf, (size_t)n);
	if (s->closed || !s->in_src)
		return G_SOURCE_REMOVE;
	if (ctl_session_queued(s) > VS_CTL_MAX_OUTQ_BYTES / 2) {
		/* Back-pressure: stop reading until the client reads */
		ctl_session_drop_source(&s->in_src);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

void ctl_session_arm_input(struct vs_ctl_session *s)
{
	if (s->in_src || s->closed || s->eof)
		return;
	s->in_src = g_socket_create_source(s->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(s->in_src, G_SOURCE_FUNC(ctl_session_in_cb), s, NULL);
	g_source_attach(s->in_src, NULL);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

void vs_ctl_emit_event(const char *name, JsonNode *data)
{
	g_autoptr(JsonNode) owned = data;
	g_autoptr(JsonObject) o = NULL;
	g_autoptr(JsonNode) msg = NULL;
	g_autoptr(GPtrArray) targets = NULL;
	g_autofree char *text = NULL;
	JsonObject *ts;
	gint64 now;
	guint i;

	if (data && !JSON_NODE_HOLDS_OBJECT(data)) {
		vs_log(CTL, ERR, NULL, "event %s: data is not an object, not sent", name);
		return;
	}
	ctl.counters.events++;
	if (!ctl.running)
		return;

	now = g_get_real_time();
	o = json_object_new();
	json_object_set_string_member(o, "event", name);
	if (data)
		json_object_set_member(o, "data", g_steal_pointer(&owned));
	ts = json_object_new();
	json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
	json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
	json_object_set_object_member(o, "timestamp", ts);
	msg = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(msg, o);
	text = vs_ctl_json_to_string(msg);
	vs_log(CTL, DEBUG, NULL, "event %s", text);

	/* Sending may drop a slow client from ctl.clients: walk a copy */
	targets = g_ptr_array_new_with_free_func((GDestroyNotify)ctl_session_unref);
	for (i = 0; i < ctl.clients->len; i++) {
		struct vs_ctl_session *s = g_ptr_array_index(ctl.clients, i);

		if (s->negotiated)
			g_ptr_array_add(targets, ctl_session_ref(s));
	}
	for (i = 0; i < targets->len; i++)
		ctl_session_send(g_ptr_array_index(targets, i), text, strlen(text));
}

/* Rate-limit state of one (event, key) */
struct ctl_ratelimit {
	gint64 last_us;		/* monotonic time of the last event sent */
	uint64_t suppressed;	/* dropped since */
};

static gboolean ctl_ratelimit_expired(gpointer key, gpointer value, gpointer now)
{
	const struct ctl_ratelimit *rl = value;

	return *(const gint64 *)now - rl->last_us >= (gint64)VS_CTL_RATELIMIT_MS * 1000;
}

gboolean vs_ctl_emit_event_ratelimited(const char *name, const char *key, JsonNode *data)
{
	g_autoptr(JsonNode) owned = data;
	g_autofree char *hkey = g_strdup_printf("%s\n%s", name, key);
	gint64 now = g_get_monotonic_time();
	struct ctl_ratelimit *rl;

	if (data && !JSON_NODE_HOLDS_OBJECT(data)) {
		vs_log(CTL, ERR, NULL, "event %s: data is not an object, not sent", name);
		return FALSE;
	}
	if (!ctl.ratelimit)
		ctl.ratelimit = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rl = g_hash_table_lookup(ctl.ratelimit, hkey);
	if (rl && now - rl->last_us < (gint64)VS_CTL_RATELIMIT_MS * 1000) {
		rl->suppressed++;
		ctl.counters.events_suppressed++;
		return FALSE;
	}
	if (!rl) {
		/* Bounded memory: forget limits that no longer hold anything back
		 * (and, if that is not enough, all of them) */
		if (g_hash_table_size(ctl.ratelimit) >= VS_CTL_MAX_RATELIMIT_KEYS)
			g_hash_table_foreach_remove(ctl.ratelimit, ctl_ratelimit_expired, &now);
		if (g_hash_table_size(ctl.ratelimit) >= VS_CTL_MAX_RATELIMIT_KEYS)
			g_hash_table_remove_all(ctl.ratelimit);
		rl = g_new0(struct ctl_ratelimit, 1);
		g_hash_table_insert(ctl.ratelimit, g_steal_pointer(&hkey), rl);
	}
	if (!owned) {
		owned = json_node_new(JSON_NODE_OBJECT);
		json_node_take_object(owned, json_object_new());
	}
	json_object_set_int_member(json_node_get_object(owned), VS_CTL_EVENT_SUPPRESSED,
				   (gint64)rl->suppressed);
	rl->suppressed = 0;
	rl->last_us = now;
	vs_ctl_emit_event(name, g_steal_pointer(&owned));
	return TRUE;
}
