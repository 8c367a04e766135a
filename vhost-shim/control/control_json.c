/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_json.c - the control socket's JSON: strict parser, QMP-style
 * serializer
 *
 * Theory of operation: the splitter (control.c) hands the parser one
 * complete value at a time, so vs_ctl_json_parse() works on a bounded
 * buffer and never has to wait for more input.  It is a recursive-descent
 * parser over a cursor (struct ctl_json_in) that builds json-glib nodes
 * directly: RFC 8259 plus QMP's single-quoted strings, nothing else.
 * Integers that fit in int64 stay integers, so the dispatcher can tell 1
 * from 1.0.  The first error stops it and says what was wrong ("JSON parse
 * error, ..."); the session replies with that and resynchronises.
 *
 * The serializer writes what QEMU writes: ASCII only (\uXXXX escapes,
 * surrogate pairs above the BMP), ", " and ": " separators, members in
 * insertion order, and doubles that read back exactly and keep a fraction.
 *
 * Security model: the text comes from any client that can connect.  Do not
 * assume it is valid, bounded or UTF-8.  The limits are those of
 * include/vhost-shim/control_wire.h: at most VS_CTL_MAX_MSG_SIZE bytes (checked
 * before anything is parsed) and VS_CTL_MAX_DEPTH levels of nesting
 * (checked on entering each object or array, so the recursion is bounded
 * too).  Invalid UTF-8, lone surrogates, \u0000, control characters in
 * strings, non-finite numbers and trailing bytes are errors, never
 * repaired.  Nothing here logs or asserts on client input.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "control.h"

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
