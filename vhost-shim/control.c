/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.c - QMP-compatible control socket: transport, parser, dispatcher
 *
 * Theory of operation: a GSocketService on the main loop accepts clients on
 * a unix socket (and optionally on loopback TCP).  Each client is a
 * struct vs_ctl_session with a non-blocking GSocket, one input source, an
 * output queue and, when the queue cannot be written at once, one output
 * source.  The main loop never blocks on a client.
 *
 * Input goes through three stages:
 *   1. the splitter (ctl_split_step()) finds where one JSON value ends by
 *	tracking brackets, strings and escapes byte by byte, without parsing
 *	and without relying on newlines (qemu.qmp sends none);
 *   2. the parser (vs_ctl_json_parse()) builds a JsonNode strictly;
 *   3. the dispatcher (ctl_execute()) checks the QMP envelope, finds the
 *	command with bsearch(), checks the phase and the arguments against
 *	the table row, and calls the handler.
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
 * may never read.  Limits are in include/vhost-shim/control.h.  The unix
 * socket is created mode 0600 (0660 with a group) and only starts listening
 * after its mode and group are set, so no connection is ever accepted with
 * looser permissions.
 *
 * Lifetime: a session is reference-counted.  The client list holds one
 * reference, and every callback takes one while it runs, because a reply or
 * an event may close a session (too much queued) while its own input is
 * being processed.  A closed session has closed == true and no sources.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "control.h"
#include "log.h"
#include "util.h"

G_DEFINE_QUARK(vs-ctl-error-quark, vs_ctl_error)

static const char *const ctl_error_class_names[VS_CTL_NUM_ERROR_CLASSES] = {
#define VS_CTL_ERR_NAME(id, name) [VS_CTL_ERR_##id] = name,
	VS_CTL_ERROR_CLASSES(VS_CTL_ERR_NAME)
#undef VS_CTL_ERR_NAME
};

/* Bytes read from a client at a time: a bound on work per callback */
#define CTL_READ_CHUNK		4096
/* Debug log lines carry JSON in pieces of this size (vs_log truncates) */
#define CTL_LOG_CHUNK		768

/* ------------------------------------------------------------------ */
/* JSON parser                                                          */
/* ------------------------------------------------------------------ */

struct ctl_json_in {
	const char *p;
	const char *end;
	unsigned int depth;
	GError **error;
};

static JsonNode *ctl_json_value(struct ctl_json_in *in);

/*
 * ctl_json_fail() - set the parse error; callers return NULL right after
 */
static void ctl_json_fail(struct ctl_json_in *in, const char *what)
{
	g_set_error(in->error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "JSON parse error, %s", what);
}

static void ctl_json_skip_ws(struct ctl_json_in *in)
{
	while (in->p < in->end &&
	       (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
		in->p++;
}

static int ctl_json_hex4(const char *p)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		int d = g_ascii_xdigit_value(p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * ctl_json_unicode_escape() - the character of a \uXXXX escape (the "\u"
 * is consumed already), combining a surrogate pair
 *
 * Return: the character, or 0 with the error set
 */
static gunichar ctl_json_unicode_escape(struct ctl_json_in *in)
{
	int hi, lo;

	if (in->end - in->p < 4 || (hi = ctl_json_hex4(in->p)) < 0) {
		ctl_json_fail(in, "invalid \\u escape in string");
		return 0;
	}
	in->p += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		ctl_json_fail(in, "lone surrogate in \\u escape");
		return 0;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		if (!hi)
			ctl_json_fail(in, "\\u0000 is not supported");
		return (gunichar)hi;
	}
	if (in->end - in->p < 6 || in->p[0] != '\\' || in->p[1] != 'u' ||
	    (lo = ctl_json_hex4(in->p + 2)) < 0xdc00 || lo > 0xdfff) {
		ctl_json_fail(in, "lone surrogate in \\u escape");
		return 0;
	}
	in->p += 6;
	return 0x10000 + (((gunichar)hi - 0xd800) << 10) + ((gunichar)lo - 0xdc00);
}

/*
 * ctl_json_string() - parse a string starting at its opening quote
 *
 * Return: the string (UTF-8, g_free it), or NULL with the error set
 */
static char *ctl_json_string(struct ctl_json_in *in)
{
	g_autoptr(GString) s = g_string_new(NULL);
	char quote = *in->p++;

	for (;;) {
		unsigned char c;

		if (in->p >= in->end) {
			ctl_json_fail(in, "unterminated string");
			return NULL;
		}
		c = (unsigned char)*in->p++;
		if (c == (unsigned char)quote)
			break;
		if (c < 0x20) {
			ctl_json_fail(in, "control character in string");
			return NULL;
		}
		if (c != '\\') {
			g_string_append_c(s, (char)c);
			continue;
		}
		if (in->p >= in->end) {
			ctl_json_fail(in, "unterminated string");
			return NULL;
		}
		c = (unsigned char)*in->p++;
		switch (c) {
		case '"': case '\'': case '\\': case '/':
			g_string_append_c(s, (char)c);
			break;
		case 'b': g_string_append_c(s, '\b'); break;
		case 'f': g_string_append_c(s, '\f'); break;
		case 'n': g_string_append_c(s, '\n'); break;
		case 'r': g_string_append_c(s, '\r'); break;
		case 't': g_string_append_c(s, '\t'); break;
		case 'u': {
			gunichar u = ctl_json_unicode_escape(in);

			if (!u)
				return NULL;
			g_string_append_unichar(s, u);
			break;
		}
		default:
			ctl_json_fail(in, "invalid escape sequence in string");
			return NULL;
		}
	}
	if (!g_utf8_validate_len(s->str, s->len, NULL)) {
		ctl_json_fail(in, "invalid UTF-8 in string");
		return NULL;
	}
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/*
 * ctl_json_number() - parse a number (RFC 8259 grammar); integers that fit in
 * int64 become G_TYPE_INT64, everything else a finite double
 */
static JsonNode *ctl_json_number(struct ctl_json_in *in)
{
	const char *start = in->p, *p = in->p;
	g_autofree char *tok = NULL;
	bool is_int = true;
	JsonNode *n;

	if (p < in->end && *p == '-')
		p++;
	if (p < in->end && *p == '0') {
		p++;
	} else if (p < in->end && *p >= '1' && *p <= '9') {
		while (p < in->end && g_ascii_isdigit(*p))
			p++;
	} else {
		ctl_json_fail(in, "invalid number");
		return NULL;
	}
	if (p < in->end && *p == '.') {
		is_int = false;
		if (++p >= in->end || !g_ascii_isdigit(*p)) {
			ctl_json_fail(in, "invalid number");
			return NULL;
		}
		while (p < in->end && g_ascii_isdigit(*p))
			p++;
	}
	if (p < in->end && (*p == 'e' || *p == 'E')) {
		is_int = false;
		if (++p < in->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= in->end || !g_ascii_isdigit(*p)) {
			ctl_json_fail(in, "invalid number");
			return NULL;
		}
		while (p < in->end && g_ascii_isdigit(*p))
			p++;
	}
	if (p < in->end && (g_ascii_isalnum(*p) || *p == '.' || *p == '-' || *p == '+')) {
		ctl_json_fail(in, "invalid number");
		return NULL;
	}
	tok = g_strndup(start, p - start);
	in->p = p;
	if (is_int) {
		gint64 v;

		errno = 0;
		v = g_ascii_strtoll(tok, NULL, 10);
		if (!errno) {
			n = json_node_new(JSON_NODE_VALUE);
			json_node_set_int(n, v);
			return n;
		}
	}
	{
		double d = g_ascii_strtod(tok, NULL);

		if (!isfinite(d)) {
			ctl_json_fail(in, "number out of range");
			return NULL;
		}
		n = json_node_new(JSON_NODE_VALUE);
		json_node_set_double(n, d);
		return n;
	}
}

static JsonNode *ctl_json_literal(struct ctl_json_in *in)
{
	static const struct {
		const char *word;
		int kind;	/* 0 null, 1 true, 2 false */
	} words[] = { { "null", 0 }, { "true", 1 }, { "false", 2 } };
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(words); i++) {
		size_t len = strlen(words[i].word);
		JsonNode *n;

		if ((size_t)(in->end - in->p) < len || memcmp(in->p, words[i].word, len))
			continue;
		if ((size_t)(in->end - in->p) > len && g_ascii_isalnum(in->p[len]))
			continue;
		in->p += len;
		if (words[i].kind == 0)
			return json_node_new(JSON_NODE_NULL);
		n = json_node_new(JSON_NODE_VALUE);
		json_node_set_boolean(n, words[i].kind == 1);
		return n;
	}
	ctl_json_fail(in, g_ascii_isalpha(*in->p) ? "invalid literal" : "expecting value");
	return NULL;
}

static bool ctl_json_enter(struct ctl_json_in *in)
{
	if (++in->depth > VS_CTL_MAX_DEPTH) {
		g_set_error(in->error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "JSON nesting depth limit exceeded: the limit is %u", VS_CTL_MAX_DEPTH);
		return false;
	}
	return true;
}

static JsonNode *ctl_json_object(struct ctl_json_in *in)
{
	g_autoptr(JsonObject) obj = json_object_new();
	JsonNode *n;

	if (!ctl_json_enter(in))
		return NULL;
	in->p++;	/* '{' */
	ctl_json_skip_ws(in);
	if (in->p < in->end && *in->p == '}') {
		in->p++;
		goto done;
	}
	for (;;) {
		g_autofree char *key = NULL;
		JsonNode *v;

		ctl_json_skip_ws(in);
		if (in->p >= in->end || (*in->p != '"' && *in->p != '\'')) {
			ctl_json_fail(in, "object key must be a string");
			return NULL;
		}
		key = ctl_json_string(in);
		if (!key)
			return NULL;
		ctl_json_skip_ws(in);
		if (in->p >= in->end || *in->p != ':') {
			ctl_json_fail(in, "expecting ':' after object key");
			return NULL;
		}
		in->p++;
		v = ctl_json_value(in);
		if (!v)
			return NULL;
		json_object_set_member(obj, key, v);	/* a repeated key: last wins */
		ctl_json_skip_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == '}') {
			in->p++;
			break;
		}
		ctl_json_fail(in, "expecting ',' or '}' in object");
		return NULL;
	}
done:
	in->depth--;
	n = json_node_new(JSON_NODE_OBJECT);
	json_node_take_object(n, g_steal_pointer(&obj));
	return n;
}

static JsonNode *ctl_json_array(struct ctl_json_in *in)
{
	g_autoptr(JsonArray) arr = json_array_new();
	JsonNode *n;

	if (!ctl_json_enter(in))
		return NULL;
	in->p++;	/* '[' */
	ctl_json_skip_ws(in);
	if (in->p < in->end && *in->p == ']') {
		in->p++;
		goto done;
	}
	for (;;) {
		JsonNode *v = ctl_json_value(in);

		if (!v)
			return NULL;
		json_array_add_element(arr, v);
		ctl_json_skip_ws(in);
		if (in->p < in->end && *in->p == ',') {
			in->p++;
			continue;
		}
		if (in->p < in->end && *in->p == ']') {
			in->p++;
			break;
		}
		ctl_json_fail(in, "expecting ',' or ']' in array");
		return NULL;
	}
done:
	in->depth--;
	n = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(n, g_steal_pointer(&arr));
	return n;
}

static JsonNode *ctl_json_value(struct ctl_json_in *in)
{
	ctl_json_skip_ws(in);
	if (in->p >= in->end) {
		ctl_json_fail(in, "expecting value");
		return NULL;
	}
	switch (*in->p) {
	case '{':
		return ctl_json_object(in);
	case '[':
		return ctl_json_array(in);
	case '"':
	case '\'': {
		char *s = ctl_json_string(in);
		JsonNode *n;

		if (!s)
			return NULL;
		n = json_node_new(JSON_NODE_VALUE);
		json_node_set_string(n, s);
		g_free(s);
		return n;
	}
	case '-':
	case '0' ... '9':
		return ctl_json_number(in);
	default:
		return ctl_json_literal(in);
	}
}

JsonNode *vs_ctl_json_parse(const char *buf, size_t len, GError **error)
{
	struct ctl_json_in in = { .p = buf, .end = buf + len, .error = error };
	g_autoptr(JsonNode) n = NULL;

	if (len > VS_CTL_MAX_MSG_SIZE) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "JSON message too big: the limit is %u bytes", VS_CTL_MAX_MSG_SIZE);
		return NULL;
	}
	n = ctl_json_value(&in);
	if (!n)
		return NULL;
	ctl_json_skip_ws(&in);
	if (in.p != in.end) {
		ctl_json_fail(&in, "unexpected data after value");
		return NULL;
	}
	return g_steal_pointer(&n);
}

/* ------------------------------------------------------------------ */
/* JSON serializer                                                      */
/* ------------------------------------------------------------------ */

static void ctl_json_append_string(GString *out, const char *s)
{
	const char *p = s;

	g_string_append_c(out, '"');
	while (*p) {
		gunichar c = g_utf8_get_char_validated(p, -1);

		if (c == (gunichar)-1 || c == (gunichar)-2) {
			/* Not ours to fix, but the output must stay valid */
			g_string_append(out, "\\ufffd");
			p++;
			continue;
		}
		p = g_utf8_next_char(p);
		switch (c) {
		case '"': g_string_append(out, "\\\""); break;
		case '\\': g_string_append(out, "\\\\"); break;
		case '\b': g_string_append(out, "\\b"); break;
		case '\f': g_string_append(out, "\\f"); break;
		case '\n': g_string_append(out, "\\n"); break;
		case '\r': g_string_append(out, "\\r"); break;
		case '\t': g_string_append(out, "\\t"); break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				g_string_append_c(out, (char)c);
			} else if (c < 0x10000) {
				g_string_append_printf(out, "\\u%04x", c);
			} else {
				c -= 0x10000;
				g_string_append_printf(out, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
						       0xdc00 + (c & 0x3ff));
			}
		}
	}
	g_string_append_c(out, '"');
}

/*
 * ctl_json_append_double() - the shortest text that reads back as @d, and that
 * still reads as a number with a fraction (so 1.0 stays 1.0)
 */
static void ctl_json_append_double(GString *out, double d)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		char fmt[8];

		snprintf(fmt, sizeof(fmt), "%%.%dg", prec);
		g_ascii_formatd(buf, sizeof(buf), fmt, d);
		if (g_ascii_strtod(buf, NULL) == d)
			break;
	}
	g_string_append(out, buf);
	if (!strpbrk(buf, ".eE"))
		g_string_append(out, ".0");
}

static void ctl_json_append(GString *out, JsonNode *n)
{
	switch (json_node_get_node_type(n)) {
	case JSON_NODE_OBJECT: {
		JsonObject *o = json_node_get_object(n);
		GList *members = json_object_get_members(o), *l;

		g_string_append_c(out, '{');
		for (l = members; l; l = l->next) {
			if (l != members)
				g_string_append(out, ", ");
			ctl_json_append_string(out, l->data);
			g_string_append(out, ": ");
			ctl_json_append(out, json_object_get_member(o, l->data));
		}
		g_string_append_c(out, '}');
		g_list_free(members);
		break;
	}
	case JSON_NODE_ARRAY: {
		JsonArray *a = json_node_get_array(n);
		guint i, len = json_array_get_length(a);

		g_string_append_c(out, '[');
		for (i = 0; i < len; i++) {
			if (i)
				g_string_append(out, ", ");
			ctl_json_append(out, json_array_get_element(a, i));
		}
		g_string_append_c(out, ']');
		break;
	}
	case JSON_NODE_VALUE:
		switch (json_node_get_value_type(n)) {
		case G_TYPE_INT64:
			g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(n));
			break;
		case G_TYPE_DOUBLE:
			ctl_json_append_double(out, json_node_get_double(n));
			break;
		case G_TYPE_BOOLEAN:
			g_string_append(out, json_node_get_boolean(n) ? "true" : "false");
			break;
		case G_TYPE_STRING:
			ctl_json_append_string(out, json_node_get_string(n));
			break;
		default:
			g_string_append(out, "null");
		}
		break;
	case JSON_NODE_NULL:
		g_string_append(out, "null");
		break;
	}
}

char *vs_ctl_json_to_string(JsonNode *node)
{
	GString *out = g_string_new(NULL);

	ctl_json_append(out, node);
	return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* Splitter: where does the next JSON value end?                        */
/* ------------------------------------------------------------------ */

/**
 * enum ctl_split_state - where the splitter is
 * @CTL_SPLIT_IDLE:	between values: whitespace is skipped
 * @CTL_SPLIT_VALUE: inside an object, an array or a top-level string
 * @CTL_SPLIT_BARE:	inside a top-level number or literal (ends at a delimiter)
 */
enum ctl_split_state {
	CTL_SPLIT_IDLE,
	CTL_SPLIT_VALUE,
	CTL_SPLIT_BARE,
};

/**
 * enum ctl_split_event - why ctl_split_step() stopped
 * @CTL_SPLIT_EV_MORE:	input used up, no complete value yet
 * @CTL_SPLIT_EV_MESSAGE:	sp->buf holds one complete value
 * @CTL_SPLIT_EV_LEXICAL:	invalid byte: value dropped, splitter reset
 * @CTL_SPLIT_EV_STRAY:	'}' or ']' between values, skipped
 * @CTL_SPLIT_EV_OVERSIZE:	value over VS_CTL_MAX_MSG_SIZE, now being skipped
 * @CTL_SPLIT_EV_TOO_DEEP:	value over VS_CTL_MAX_DEPTH, now being skipped
 */
enum ctl_split_event {
	CTL_SPLIT_EV_MORE,
	CTL_SPLIT_EV_MESSAGE,
	CTL_SPLIT_EV_LEXICAL,
	CTL_SPLIT_EV_STRAY,
	CTL_SPLIT_EV_OVERSIZE,
	CTL_SPLIT_EV_TOO_DEEP,
};

/**
 * struct ctl_split - splitter state of one client
 * @buf:	bytes of the current value (empty while skipping)
 * @state:	enum ctl_split_state
 * @depth:	open objects and arrays (keeps counting while skipping)
 * @quote:	inside a string: its quote character; 0 outside
 * @escape:	the previous byte was a backslash inside a string
 * @skipping:	the value broke a limit, was answered, and is being skipped
 * @quiet:	reset by a lexical error and nothing but whitespace since:
 *		a run of bad bytes gets one error, not one per byte
 * @bad:	the byte that caused CTL_SPLIT_EV_LEXICAL or CTL_SPLIT_EV_STRAY
 */
struct ctl_split {
	GByteArray *buf;
	enum ctl_split_state state;
	uint64_t depth;
	char quote;
	bool escape;
	bool skipping;
	bool quiet;
	unsigned char bad;
};

static void ctl_split_reset(struct ctl_split *sp)
{
	g_byte_array_set_size(sp->buf, 0);
	sp->state = CTL_SPLIT_IDLE;
	sp->depth = 0;
	sp->quote = 0;
	sp->escape = false;
	sp->skipping = false;
}

static bool ctl_split_is_lexical_error(const struct ctl_split *sp, unsigned char c)
{
	if (c == 0xfe || c == 0xff)	/* never in UTF-8: QMP's reset byte */
		return true;
	if (c == '\n' || c == '\r')	/* a string cannot span lines */
		return sp->quote != 0;
	return c < 0x20 && c != '\t';
}

static bool ctl_split_is_delimiter(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || strchr("{}[],:\"'", c);
}

/*
 * ctl_split_append() - keep one byte of the current value
 *
 * Return: false if that makes the value too big (the caller reports it;
 * from then on the value is skipped)
 */
static bool ctl_split_append(struct ctl_split *sp, unsigned char c)
{
	if (sp->skipping)
		return true;
	if (sp->buf->len >= VS_CTL_MAX_MSG_SIZE) {
		g_byte_array_set_size(sp->buf, 0);
		sp->skipping = true;
		return false;
	}
	g_byte_array_append(sp->buf, &c, 1);
	return true;
}

/*
 * ctl_split_step() - consume input until something happens
 * @sp:		splitter
 * @data:	input
 * @len:	bytes of input
 * @used:	bytes consumed, set on return
 *
 * Return: what happened (CTL_SPLIT_EV_MORE: all of @data consumed)
 */
static enum ctl_split_event ctl_split_step(struct ctl_split *sp, const unsigned char *data,
					   size_t len, size_t *used)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = data[i];

		if (ctl_split_is_lexical_error(sp, c)) {
			bool report = sp->state == CTL_SPLIT_IDLE ? !sp->quiet : !sp->skipping;

			ctl_split_reset(sp);
			sp->quiet = true;
			if (report) {
				sp->bad = c;
				*used = i + 1;
				return CTL_SPLIT_EV_LEXICAL;
			}
			continue;
		}

		if (sp->state == CTL_SPLIT_BARE && ctl_split_is_delimiter(c)) {
			/* A number or literal ends here; the delimiter belongs to
			 * what follows, so it is looked at again below, as IDLE */
			if (!sp->skipping) {
				sp->state = CTL_SPLIT_IDLE;
				*used = i;
				return CTL_SPLIT_EV_MESSAGE;
			}
			ctl_split_reset(sp);
		}

		switch (sp->state) {
		case CTL_SPLIT_IDLE:
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
				continue;
			sp->quiet = false;
			if (c == '}' || c == ']') {
				sp->bad = c;
				*used = i + 1;
				return CTL_SPLIT_EV_STRAY;
			}
			g_byte_array_append(sp->buf, &c, 1);
			if (c == '{' || c == '[') {
				sp->state = CTL_SPLIT_VALUE;
				sp->depth = 1;
			} else if (c == '"' || c == '\'') {
				sp->state = CTL_SPLIT_VALUE;
				sp->quote = (char)c;
			} else {
				sp->state = CTL_SPLIT_BARE;
			}
			continue;

		case CTL_SPLIT_BARE:
			if (!ctl_split_append(sp, c)) {
				*used = i + 1;
				return CTL_SPLIT_EV_OVERSIZE;
			}
			continue;

		case CTL_SPLIT_VALUE: {
			bool complete = false;

			if (sp->quote) {
				if (sp->escape) {
					sp->escape = false;
				} else if (c == '\\') {
					sp->escape = true;
				} else if (c == (unsigned char)sp->quote) {
					sp->quote = 0;
					complete = !sp->depth;
				}
			} else if (c == '{' || c == '[') {
				if (++sp->depth > VS_CTL_MAX_DEPTH && !sp->skipping) {
					g_byte_array_set_size(sp->buf, 0);
					sp->skipping = true;
					*used = i + 1;
					return CTL_SPLIT_EV_TOO_DEEP;
				}
			} else if (c == '}' || c == ']') {
				complete = !--sp->depth;
			} else if (c == '"' || c == '\'') {
				sp->quote = (char)c;
			}

			if (!ctl_split_append(sp, c)) {
				*used = i + 1;
				if (complete)	/* the limit fell on the last byte */
					ctl_split_reset(sp);
				return CTL_SPLIT_EV_OVERSIZE;
			}
			if (!complete)
				continue;
			if (sp->skipping) {	/* answered already */
				ctl_split_reset(sp);
				continue;
			}
			sp->state = CTL_SPLIT_IDLE;
			*used = i + 1;
			return CTL_SPLIT_EV_MESSAGE;
		}
		}
	}
	*used = len;
	return CTL_SPLIT_EV_MORE;
}

/* ------------------------------------------------------------------ */
/* Sessions                                                             */
/* ------------------------------------------------------------------ */

/**
 * struct ctl_counters - control-plane error and traffic counters (main
 * loop only), reported by query-control-stats
 */
struct ctl_counters {
	uint64_t clients_accepted;
	uint64_t clients_rejected;	/* over VS_CTL_MAX_CLIENTS */
	uint64_t slow_clients_dropped;	/* over VS_CTL_MAX_OUTQ_BYTES */
	uint64_t requests;		/* complete values received */
	uint64_t errors;		/* error replies, any reason */
	uint64_t malformed;		/* not JSON: lexical or syntax error */
	uint64_t oversize;		/* over VS_CTL_MAX_MSG_SIZE */
	uint64_t too_deep;		/* over VS_CTL_MAX_DEPTH */
	uint64_t invalid;		/* JSON, but not a valid request */
	uint64_t unknown_commands;
	uint64_t events;		/* events emitted */
	uint64_t events_suppressed;	/* by the rate limit */
};

/**
 * struct vs_ctl_session - one client
 * @refs:	references: the client list, running callbacks
 * @name:	"client N", for logs
 * @conn:	the GIO connection (owns @sock)
 * @sock:	non-blocking socket
 * @in_src:	input source, NULL while input is paused or finished
 * @out_src:	output source, NULL while the queue is empty or writable
 * @outq:	bytes not yet written, from @out_head on
 * @split:	input splitter
 * @negotiated:	qmp_capabilities succeeded: commands and events flow
 * @eof:	the client finished sending: close once @outq is written
 * @closed:	disconnected and off the client list
 */
struct vs_ctl_session {
	unsigned int refs;
	char name[32];
	GSocketConnection *conn;
	GSocket *sock;
	GSource *in_src;
	GSource *out_src;
	GByteArray *outq;
	size_t out_head;
	struct ctl_split split;
	bool negotiated;
	bool eof;
	bool closed;
};

/* Everything below is owned by the main loop thread */
static struct {
	bool running;
	GSocketService *service;
	char *path;
	dev_t dev;		/* of the socket file we created */
	ino_t ino;
	GPtrArray *clients;	/* struct vs_ctl_session *, one reference each */
	uint64_t next_id;
	struct ctl_counters counters;
	GHashTable *ratelimit;	/* "NAME\nKEY" -> struct ctl_ratelimit */
} ctl;

static struct vs_ctl_session *ctl_session_ref(struct vs_ctl_session *s)
{
	s->refs++;
	return s;
}

static void ctl_session_unref(struct vs_ctl_session *s)
{
	if (--s->refs)
		return;
	g_byte_array_unref(s->split.buf);
	g_byte_array_unref(s->outq);
	g_object_unref(s->conn);
	g_free(s);
}

typedef struct vs_ctl_session vs_ctl_session;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_ctl_session, ctl_session_unref)

const char *vs_ctl_session_name(const struct vs_ctl_session *s)
{
	return s->name;
}

static void ctl_session_drop_source(GSource **src)
{
	if (*src) {
		g_source_destroy(*src);
		g_source_unref(*src);
		*src = NULL;
	}
}

/*
 * ctl_session_close() - disconnect a client: one log line, then it is gone
 * @s:		session; the caller must hold a reference if it uses @s after
 * @level:	log level of the line
 * @reason:	why, for the log
 */
static void ctl_session_close(struct vs_ctl_session *s, enum vs_log_level level,
			      const char *reason)
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

static size_t ctl_session_queued(const struct vs_ctl_session *s)
{
	return s->outq->len - s->out_head;
}

static void ctl_session_arm_input(struct vs_ctl_session *s);
static void ctl_session_arm_output(struct vs_ctl_session *s);

/*
 * ctl_session_flush() - write what the socket takes now; arm the output source
 * for the rest.  May close @s (write error, or finished after EOF).
 */
static void ctl_session_flush(struct vs_ctl_session *s)
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

static void ctl_session_send_node(struct vs_ctl_session *s, JsonNode *msg)
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
	unsigned int cls = VS_CTL_ERR_GENERIC;

	if (err->domain == VS_CTL_ERROR && err->code >= 0 && err->code < VS_CTL_NUM_ERROR_CLASSES)
		cls = (unsigned int)err->code;
	json_object_set_string_member(o, "class", ctl_error_class_names[cls]);
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
/* Dispatcher                                                           */
/* ------------------------------------------------------------------ */

static int ctl_cmd_cmp(const void *key, const void *row)
{
	return strcmp(key, ((const struct vs_ctl_cmd *)row)->name);
}

static const struct vs_ctl_cmd *ctl_find_cmd(const char *name)
{
	return bsearch(name, vs_ctl_cmds, vs_ctl_num_cmds, sizeof(vs_ctl_cmds[0]), ctl_cmd_cmp);
}

static bool ctl_node_is(JsonNode *n, GType type)
{
	return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

/*
 * ctl_check_arg() - check one present argument against its schema row
 *
 * Return: TRUE if it conforms
 */
static gboolean ctl_check_arg(const struct vs_ctl_arg *a, JsonNode *v, GError **error)
{
	static const char *const type_names[] = {
		[VS_CTL_ARG_STR] = "string", [VS_CTL_ARG_INT] = "integer",
		[VS_CTL_ARG_BOOL] = "boolean", [VS_CTL_ARG_ENUM] = "string",
		[VS_CTL_ARG_STR_LIST] = "array",
	};
	bool ok = false;

	switch (a->type) {
	case VS_CTL_ARG_STR:
	case VS_CTL_ARG_ENUM:
		ok = ctl_node_is(v, G_TYPE_STRING);
		break;
	case VS_CTL_ARG_INT:
		ok = ctl_node_is(v, G_TYPE_INT64);
		break;
	case VS_CTL_ARG_BOOL:
		ok = ctl_node_is(v, G_TYPE_BOOLEAN);
		break;
	case VS_CTL_ARG_STR_LIST:
		ok = JSON_NODE_HOLDS_ARRAY(v);
		break;
	}
	if (!ok) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Invalid parameter type for '%s', expected: %s", a->name,
			    type_names[a->type]);
		return FALSE;
	}

	if (a->type == VS_CTL_ARG_ENUM) {
		const char *s = json_node_get_string(v);
		const char *const *val;

		for (val = a->values; val && *val; val++)
			if (!strcmp(*val, s))
				return TRUE;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Parameter '%s' does not accept value '%s'", a->name, s);
		return FALSE;
	}
	if (a->type == VS_CTL_ARG_INT && (a->min || a->max)) {
		gint64 i = json_node_get_int(v);

		if (i < a->min || i > a->max) {
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter '%s' expects an integer in %" G_GINT64_FORMAT
				    "..%" G_GINT64_FORMAT, a->name, (gint64)a->min, (gint64)a->max);
			return FALSE;
		}
	}
	if (a->type == VS_CTL_ARG_STR_LIST) {
		JsonArray *arr = json_node_get_array(v);
		guint i;

		for (i = 0; i < json_array_get_length(arr); i++) {
			if (!ctl_node_is(json_array_get_element(arr, i), G_TYPE_STRING)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "Invalid parameter type for '%s[%u]', expected: string",
					    a->name, i);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/*
 * ctl_check_args() - check "arguments" against a command's schema, in
 * the order QEMU does: each schema member in turn (missing, then type),
 * then any member the schema does not have
 *
 * Return: TRUE if the handler may run
 */
static gboolean ctl_check_args(const struct vs_ctl_cmd *cmd, JsonObject *args, GError **error)
{
	const struct vs_ctl_arg *a;
	GList *members, *l;
	gboolean ok = TRUE;

	for (a = cmd->args; a && a->name; a++) {
		JsonNode *v = json_object_get_member(args, a->name);

		if (!v) {
			if (a->required) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "Parameter '%s' is missing", a->name);
				return FALSE;
			}
			continue;
		}
		if (!ctl_check_arg(a, v, error))
			return FALSE;
	}

	members = json_object_get_members(args);
	for (l = members; l && ok; l = l->next) {
		for (a = cmd->args; a && a->name; a++)
			if (!strcmp(a->name, l->data))
				break;
		if (!a || !a->name) {
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter '%s' is unexpected", (const char *)l->data);
			ok = FALSE;
		}
	}
	g_list_free(members);
	return ok;
}

/*
 * ctl_check_envelope() - QMP's rules for the request object itself
 * @req:	the request
 * @name:	set to the command name
 * @error:	set if the request is not a valid QMP command
 *
 * Return: TRUE if valid
 */
static gboolean ctl_check_envelope(JsonObject *req, const char **name, GError **error)
{
	GList *members = json_object_get_members(req), *l;
	gboolean ok = TRUE;

	*name = NULL;
	for (l = members; l && ok; l = l->next) {
		const char *m = l->data;
		JsonNode *v = json_object_get_member(req, m);

		if (!strcmp(m, "execute")) {
			if (!ctl_node_is(v, G_TYPE_STRING)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "QMP input member 'execute' must be a string");
				ok = FALSE;
			} else {
				*name = json_node_get_string(v);
			}
		} else if (!strcmp(m, "arguments")) {
			if (!JSON_NODE_HOLDS_OBJECT(v)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "QMP input member 'arguments' must be an object");
				ok = FALSE;
			}
		} else if (strcmp(m, "id")) {
			/* includes "exec-oob": we never offer the oob capability */
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "QMP input member '%s' is unexpected", m);
			ok = FALSE;
		}
	}
	g_list_free(members);
	if (ok && !*name) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "QMP input lacks member 'execute'");
		ok = FALSE;
	}
	return ok;
}

/*
 * ctl_run_handler() - call a command's handler and hold it to its contract
 * (a value or an error, never both, never neither)
 *
 * Return: the return value, or NULL with @error set
 */
static JsonNode *ctl_run_handler(struct vs_ctl_session *s, const struct vs_ctl_cmd *cmd,
				 JsonObject *args, GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) ret = cmd->handler(s, args, &err);

	if (!ret && !err) {
		vs_log(CTL, ERR, NULL, "%s: %s returned no value and no error", s->name,
		       cmd->name);
		g_set_error(&err, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "Internal error in %s",
			    cmd->name);
	} else if (ret && err) {
		vs_log(CTL, ERR, NULL, "%s: %s returned a value and an error", s->name,
		       cmd->name);
		g_clear_error(&err);
	}
	if (cmd->flags & VS_CTL_CMD_MUTATES)
		vs_log(CTL, INFO, NULL, "%s: %s: %s", s->name, cmd->name, err ? "failed" : "done");
	if (err) {
		g_propagate_error(error, g_steal_pointer(&err));
		return NULL;
	}
	return g_steal_pointer(&ret);
}

/*
 * ctl_execute() - run one request
 * @s:		client
 * @req:	the parsed request (any JSON value)
 * @error:	set on failure, with the class to reply with
 *
 * Return: the return value, or NULL with @error set
 */
static JsonNode *ctl_execute(struct vs_ctl_session *s, JsonNode *req, GError **error)
{
	g_autoptr(JsonObject) no_args = NULL;
	const struct vs_ctl_cmd *cmd;
	const char *name;
	JsonObject *obj, *args;
	JsonNode *argn;

	if (!JSON_NODE_HOLDS_OBJECT(req)) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "QMP input must be a JSON object");
		return NULL;
	}
	obj = json_node_get_object(req);
	if (!ctl_check_envelope(obj, &name, error)) {
		ctl.counters.invalid++;
		return NULL;
	}

	cmd = ctl_find_cmd(name);
	if (!s->negotiated && !(cmd && (cmd->flags & VS_CTL_CMD_NEGOTIATION))) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "Expecting capabilities negotiation with '%s'",
			    VS_CTL_CMD_QMP_CAPABILITIES);
		return NULL;
	}
	if (!cmd) {
		ctl.counters.unknown_commands++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "The command %s has not been found", name);
		return NULL;
	}
	if (s->negotiated && (cmd->flags & VS_CTL_CMD_NEGOTIATION)) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "Capabilities negotiation is already complete, command ignored");
		return NULL;
	}

	argn = json_object_get_member(obj, "arguments");
	if (argn) {
		args = json_node_get_object(argn);
	} else {
		no_args = json_object_new();
		args = no_args;
	}
	if (!ctl_check_args(cmd, args, error)) {
		ctl.counters.invalid++;
		return NULL;
	}

	return ctl_run_handler(s, cmd, args, error);
}

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

/*
 * ctl_session_feed() - run received bytes through the splitter and dispatch
 * every complete value; stops early if the session closes meanwhile
 */
static void ctl_session_feed(struct vs_ctl_session *s, const unsigned char *data, size_t len)
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

static void ctl_session_arm_input(struct vs_ctl_session *s)
{
	if (s->in_src || s->closed || s->eof)
		return;
	s->in_src = g_socket_create_source(s->sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
	g_source_set_callback(s->in_src, G_SOURCE_FUNC(ctl_session_in_cb), s, NULL);
	g_source_attach(s->in_src, NULL);
}

/* ------------------------------------------------------------------ */
/* Protocol commands                                                    */
/* ------------------------------------------------------------------ */

JsonNode *vs_ctl_return_empty(void)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(n, json_object_new());
	return n;
}

JsonNode *vs_ctl_cmd_qmp_capabilities(struct vs_ctl_session *s, JsonObject *args,
				      GError **error)
{
	JsonNode *enable = json_object_get_member(args, "enable");
	guint i;

	for (i = 0; enable && i < json_array_get_length(json_node_get_array(enable)); i++) {
		const char *cap = json_array_get_string_element(json_node_get_array(enable), i);

		if (!strcmp(cap, VS_CTL_CAP_OOB))
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Capability '%s' not available", cap);
		else
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter 'enable[%u]' does not accept value '%s'", i, cap);
		return NULL;
	}
	s->negotiated = true;
	vs_log(CTL, DEBUG, NULL, "%s: capabilities negotiated", s->name);
	return vs_ctl_return_empty();
}

static JsonNode *ctl_version_node(void)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "qemu");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "micro");
	json_builder_add_int_value(b, VS_CTL_VERSION_MICRO);
	json_builder_set_member_name(b, "minor");
	json_builder_add_int_value(b, VS_CTL_VERSION_MINOR);
	json_builder_set_member_name(b, "major");
	json_builder_add_int_value(b, VS_CTL_VERSION_MAJOR);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "package");
	json_builder_add_string_value(b, VS_CTL_PACKAGE);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

JsonNode *vs_ctl_cmd_query_version(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	return ctl_version_node();
}

JsonNode *vs_ctl_cmd_query_commands(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	size_t i;

	json_builder_begin_array(b);
	for (i = 0; i < vs_ctl_num_cmds; i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, vs_ctl_cmds[i].name);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	return json_builder_get_root(b);
}

JsonNode *vs_ctl_cmd_query_control_stats(struct vs_ctl_session *s, JsonObject *args,
					 GError **error)
{
	const struct ctl_counters *c = &ctl.counters;
	const struct {
		const char *name;
		uint64_t value;
	} rows[] = {
		{ "clients", ctl.clients->len },
		{ "clients-accepted", c->clients_accepted },
		{ "clients-rejected", c->clients_rejected },
		{ "slow-clients-dropped", c->slow_clients_dropped },
		{ "requests", c->requests },
		{ "errors", c->errors },
		{ "malformed", c->malformed },
		{ "oversize", c->oversize },
		{ "too-deep", c->too_deep },
		{ "invalid", c->invalid },
		{ "unknown-commands", c->unknown_commands },
		{ "events", c->events },
		{ "events-suppressed", c->events_suppressed },
	};
	JsonObject *o = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(rows); i++)
		json_object_set_int_member(o, rows[i].name, (gint64)rows[i].value);
	json_node_take_object(n, o);
	return n;
}

const char *vs_ctl_arg_str(JsonObject *args, const char *name, const char *dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_STRING) ? json_node_get_string(v) : dflt;
}

int64_t vs_ctl_arg_int(JsonObject *args, const char *name, int64_t dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_INT64) ? json_node_get_int(v) : dflt;
}

bool vs_ctl_arg_bool(JsonObject *args, const char *name, bool dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_BOOLEAN) ? json_node_get_boolean(v) : dflt;
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

void vs_ctl_emit_event_ratelimited(const char *name, const char *key, JsonNode *data)
{
	g_autoptr(JsonNode) owned = data;
	g_autofree char *hkey = g_strdup_printf("%s\n%s", name, key);
	gint64 now = g_get_monotonic_time();
	struct ctl_ratelimit *rl;

	if (data && !JSON_NODE_HOLDS_OBJECT(data)) {
		vs_log(CTL, ERR, NULL, "event %s: data is not an object, not sent", name);
		return;
	}
	if (!ctl.ratelimit)
		ctl.ratelimit = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	rl = g_hash_table_lookup(ctl.ratelimit, hkey);
	if (rl && now - rl->last_us < (gint64)VS_CTL_RATELIMIT_MS * 1000) {
		rl->suppressed++;
		ctl.counters.events_suppressed++;
		return;
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
}

/* ------------------------------------------------------------------ */
/* Listening                                                            */
/* ------------------------------------------------------------------ */

static void ctl_describe_peer(GSocketConnection *conn, char *buf, size_t size)
{
	GSocket *sock = g_socket_connection_get_socket(conn);
	g_autoptr(GSocketAddress) addr = NULL;

	if (g_socket_get_family(sock) == G_SOCKET_FAMILY_UNIX) {
		g_autoptr(GCredentials) cred = g_socket_get_credentials(sock, NULL);

		if (cred)
			snprintf(buf, size, "unix, pid %ld, uid %ld",
				 (long)g_credentials_get_unix_pid(cred, NULL),
				 (long)g_credentials_get_unix_user(cred, NULL));
		else
			snprintf(buf, size, "unix");
		return;
	}
	addr = g_socket_get_remote_address(sock, NULL);
	if (addr && G_IS_INET_SOCKET_ADDRESS(addr)) {
		GInetSocketAddress *in = G_INET_SOCKET_ADDRESS(addr);
		GInetAddress *ia = g_inet_socket_address_get_address(in);
		g_autofree char *ip = g_inet_address_to_string(ia);

		snprintf(buf, size, "tcp, %s port %u", ip, g_inet_socket_address_get_port(in));
	} else {
		snprintf(buf, size, "tcp");
	}
}

static gboolean ctl_incoming_cb(GSocketService *service, GSocketConnection *conn,
				GObject *source, gpointer opaque)
{
	GSocket *sock = g_socket_connection_get_socket(conn);
	struct vs_ctl_session *s;
	g_autoptr(vs_ctl_session) hold = NULL;
	g_autoptr(JsonNode) greeting = NULL;
	char peer[96];
	uint64_t id = ++ctl.next_id;

	ctl_describe_peer(conn, peer, sizeof(peer));
	g_socket_set_blocking(sock, FALSE);
	if (ctl.clients->len >= VS_CTL_MAX_CLIENTS) {
		g_autofree char *msg = g_strdup_printf("{\"error\": {\"class\": \"GenericError\", "
						      "\"desc\": \"Too many clients: the limit is "
						      "%u\"}}\r\n", VS_CTL_MAX_CLIENTS);

		ctl.counters.clients_rejected++;
		vs_log(CTL, WARNING, NULL, "client %" PRIu64 " rejected (%s): %u clients already",
		       id, peer, ctl.clients->len);
		/* best effort: the socket buffer of a new connection is empty */
		g_socket_send(sock, msg, strlen(msg), NULL, NULL);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
		return TRUE;
	}

	s = g_new0(struct vs_ctl_session, 1);
	s->refs = 1;	/* the client list's */
	snprintf(s->name, sizeof(s->name), "client %" PRIu64, id);
	s->conn = g_object_ref(conn);
	s->sock = sock;
	s->outq = g_byte_array_new();
	s->split.buf = g_byte_array_new();
	g_ptr_array_add(ctl.clients, s);
	ctl.counters.clients_accepted++;
	vs_log(CTL, INFO, NULL, "%s connected (%s)", s->name, peer);

	/* Sending may find the client gone and close it: keep @s until done */
	hold = ctl_session_ref(s);
	greeting = json_node_new(JSON_NODE_OBJECT);
	{
		JsonObject *o = json_object_new(), *qmp = json_object_new();

		json_object_set_member(qmp, "version", ctl_version_node());
		json_object_set_array_member(qmp, "capabilities", json_array_new());
		json_object_set_object_member(o, "QMP", qmp);
		json_node_take_object(greeting, o);
	}
	ctl_session_arm_input(hold);
	ctl_session_send_node(hold, greeting);
	return TRUE;
}

/*
 * ctl_check_dir() - the socket's directory must exist (it is created 0755
 * if not) and others must not be able to replace files in it
 */
static gboolean ctl_check_dir(const char *path, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct stat st;

	if (stat(dir, &st) && errno == ENOENT && g_mkdir_with_parents(dir, 0755)) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot create %s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	if (stat(dir, &st)) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", dir,
			    g_strerror(errno));
		return FALSE;
	}
	if (!S_ISDIR(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a directory",
			    dir);
		return FALSE;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "%s is writable by every user and not sticky: anyone could replace "
			    "the control socket", dir);
		return FALSE;
	}
	return TRUE;
}

/*
 * ctl_clear_stale() - remove a socket file nobody listens on any more; a
 * live socket or anything that is not a socket is left alone
 */
static gboolean ctl_clear_stale(const char *path, GError **error)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	vs_autoclose int fd = -1;
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return TRUE;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	if (!S_ISSOCK(st.st_mode)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS,
			    "%s exists and is not a socket", path);
		return FALSE;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "socket: %s",
			    g_strerror(errno));
		return FALSE;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);	/* length checked by the caller */
	if (!connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
			    "%s is in use by a running process", path);
		return FALSE;
	}
	if (errno != ECONNREFUSED) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
			    g_strerror(errno));
		return FALSE;
	}
	if (unlink(path) && errno != ENOENT) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    "cannot remove stale %s: %s", path, g_strerror(errno));
		return FALSE;
	}
	vs_log(CTL, INFO, NULL, "removed stale socket %s", path);
	return TRUE;
}

/*
 * ctl_listen_unix() - bind, set owner group and mode, and only then listen
 *
 * Return: the listening socket, or NULL
 */
static GSocket *ctl_listen_unix(const char *path, const char *group, GError **error)
{
	g_autoptr(GSocket) sock = NULL;
	g_autoptr(GSocketAddress) addr = NULL;
	gid_t gid = (gid_t)-1;
	mode_t mode;
	struct stat st;

	if (group) {
		struct group gr, *res = NULL;
		char buf[4096];

		if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) || !res) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "unknown group '%s'",
				    group);
			return NULL;
		}
		gid = gr.gr_gid;
	}
	sock = g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
			    error);
	if (!sock)
		return NULL;
	addr = g_unix_socket_address_new(path);
	if (!g_socket_bind(sock, addr, FALSE, error))
		return NULL;
	/* Nobody can connect before listen(): the mode is right before anyone can */
	mode = group ? 0660 : 0600;
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid)) || chmod(path, mode) ||
	    lstat(path, &st)) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", path,
			    g_strerror(errno));
		unlink(path);
		return NULL;
	}
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	g_socket_set_listen_backlog(sock, 16);
	if (!g_socket_listen(sock, error)) {
		unlink(path);
		return NULL;
	}
	return g_steal_pointer(&sock);
}

/*
 * ctl_listen_tcp() - loopback only: 127.0.0.1 must work, ::1 may be absent
 */
static gboolean ctl_listen_tcp(GSocketListener *l, int port, GError **error)
{
	static const char *const hosts[] = { "127.0.0.1", "::1" };
	size_t i;

	if (port < 1 || port > 65535) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "TCP port %d is not in 1..65535", port);
		return FALSE;
	}
	for (i = 0; i < G_N_ELEMENTS(hosts); i++) {
		g_autoptr(GSocketAddress) addr = g_inet_socket_address_new_from_string(hosts[i],
										       (guint)port);
		g_autoptr(GError) err = NULL;

		if (g_socket_listener_add_address(l, addr, G_SOCKET_TYPE_STREAM,
						  G_SOCKET_PROTOCOL_TCP, NULL, NULL, &err))
			continue;
		if (i == 0) {
			g_propagate_prefixed_error(error, g_steal_pointer(&err), "%s port %d: ",
						   hosts[i], port);
			return FALSE;
		}
		vs_log(CTL, INFO, NULL, "not listening on [%s]:%d: %s", hosts[i], port,
		       err->message);
	}
	return TRUE;
}

gboolean vs_ctl_start(const char *path, const char *group, int tcp_port, GError **error)
{
	g_autoptr(GSocketService) service = NULL;
	g_autoptr(GSocket) sock = NULL;
	size_t i;

	if (ctl.running) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "control socket already started");
		return FALSE;
	}
	for (i = 1; i < vs_ctl_num_cmds; i++) {
		if (strcmp(vs_ctl_cmds[i - 1].name, vs_ctl_cmds[i].name) >= 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "command table not sorted at '%s'", vs_ctl_cmds[i].name);
			return FALSE;
		}
	}
	if (!path || !*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "control socket path must be 1..107 bytes");
		return FALSE;
	}
	if (tcp_port < 0 || tcp_port > 65535) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "TCP port %d is not in 1..65535", tcp_port);
		return FALSE;
	}
	if (!ctl_check_dir(path, error) || !ctl_clear_stale(path, error))
		return FALSE;
	sock = ctl_listen_unix(path, group, error);
	if (!sock)
		return FALSE;

	service = g_socket_service_new();
	if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(service), sock, NULL, error) ||
	    (tcp_port && !ctl_listen_tcp(G_SOCKET_LISTENER(service), tcp_port, error))) {
		g_socket_listener_close(G_SOCKET_LISTENER(service));
		unlink(path);
		return FALSE;
	}
	g_signal_connect(service, "incoming", G_CALLBACK(ctl_incoming_cb), NULL);

	memset(&ctl.counters, 0, sizeof(ctl.counters));
	ctl.clients = g_ptr_array_new();
	ctl.path = g_strdup(path);
	ctl.service = g_steal_pointer(&service);
	ctl.running = true;
	g_socket_service_start(ctl.service);
	vs_log(CTL, NOTICE, NULL, "listening on %s (mode %s%s)", path,
	       group ? "0660, group " : "0600", group ? group : "");
	if (!tcp_port)
		vs_log(CTL, INFO, NULL, "no TCP listener");
	if (tcp_port)
		vs_log(CTL, WARNING, NULL, "also listening on localhost TCP port %d: any local "
		       "user can control this daemon", tcp_port);
	return TRUE;
}

void vs_ctl_stop(void)
{
	struct stat st;

	if (!ctl.running)
		return;
	g_socket_service_stop(ctl.service);
	g_socket_listener_close(G_SOCKET_LISTENER(ctl.service));
	g_clear_object(&ctl.service);
	while (ctl.clients->len) {
		g_autoptr(vs_ctl_session) s = ctl_session_ref(g_ptr_array_index(ctl.clients, 0));

		ctl_session_close(s, VS_LOG_INFO, "daemon stopping");
	}
	g_clear_pointer(&ctl.clients, g_ptr_array_unref);
	/* Remove the socket only if it is still the one we created */
	if (!lstat(ctl.path, &st) && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
		unlink(ctl.path);
	g_clear_pointer(&ctl.path, g_free);
	g_clear_pointer(&ctl.ratelimit, g_hash_table_unref);
	ctl.running = false;
}
