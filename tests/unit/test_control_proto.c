/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control_proto.c - control socket: the splitter and the JSON layer
 *
 * Theory of operation: no socket and no session.  The splitter
 * (control_split.c) is fed the same input whole and in pieces of every
 * size, and must report the same events; the JSON parser and serializer
 * take valid and invalid documents, and their limits (nesting depth,
 * size) are hit exactly and one past.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "control.h"
#include "control_priv.h"
#include "ctl_harness.h"
#include "log.h"
#include "util.h"
#include "vm.h"

/* ------------------------------------------------------------------ */
/* Splitter (control_split.c), without a session                         */
/* ------------------------------------------------------------------ */

/* Split @in fed @chunk bytes at a time; each event as "EV:value" */
static char *split_all(const char *in, size_t len, size_t chunk)
{
	struct ctl_split sp = { .buf = g_byte_array_new() };
	GString *out = g_string_new(NULL);
	size_t off = 0;

	while (off < len) {
		size_t n = MIN(chunk, len - off), used = 0;
		const unsigned char *p = (const unsigned char *)in + off;

		while (n) {
			enum ctl_split_event ev = ctl_split_step(&sp, p, n, &used);

			switch (ev) {
			case CTL_SPLIT_EV_MORE:
				break;
			case CTL_SPLIT_EV_MESSAGE:
				g_string_append_printf(out, "M:%.*s|", (int)sp.buf->len,
						       (const char *)sp.buf->data);
				g_byte_array_set_size(sp.buf, 0);
				break;
			case CTL_SPLIT_EV_LEXICAL:
				g_string_append_printf(out, "L:%02x|", sp.bad);
				break;
			case CTL_SPLIT_EV_STRAY:
				g_string_append_printf(out, "S:%c|", sp.bad);
				break;
			case CTL_SPLIT_EV_OVERSIZE:
				g_string_append(out, "O|");
				break;
			case CTL_SPLIT_EV_TOO_DEEP:
				g_string_append(out, "D|");
				break;
			}
			p += used;
			n -= used;
			off += used;
		}
	}
	g_byte_array_unref(sp.buf);
	return g_string_free(out, FALSE);
}

static void test_split(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "{\"a\": [1, \"]}\"]} ", "M:{\"a\": [1, \"]}\"]}|" },
		{ "42 true\n'x\\'y' ", "M:42|M:true|M:'x\\'y'|" },
		{ "] {}", "S:]|M:{}|" },
		{ "{\x01\x02} {}", "L:01|S:}|M:{}|" },	/* one error per run */
		{ "[\"a\n] {}", "L:0a|S:]|M:{}|" },	/* no CR/LF inside a string */
		{ "\xff{}", "L:ff|M:{}|" },
	};
	size_t i, chunk;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		for (chunk = 1; chunk <= strlen(cases[i].in); chunk++) {
			g_autofree char *got = split_all(cases[i].in, strlen(cases[i].in), chunk);

			if (strcmp(got, cases[i].want))
				g_error("'%s' in pieces of %zu: got %s, want %s", cases[i].in, chunk,
					got, cases[i].want);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Parser and serializer                                                */
/* ------------------------------------------------------------------ */

static void test_json_valid(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "{}", "{}" },
		{ " [ ] ", "[]" },
		{ "{\"a\":1,\"b\":[true,false,null],\"c\":\"x\"}",
		  "{\"a\": 1, \"b\": [true, false, null], \"c\": \"x\"}" },
		{ "{'a': 'it\\'s'}", "{\"a\": \"it's\"}" },
		{ "\"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\"",
		  "\"\\u00e9\\ud83d\\ude00/\\b\\f\\n\\r\\t\"" },
		{ "\"\xc3\xa9\"", "\"\\u00e9\"" },
		{ "-0", "0" },
		{ "9223372036854775807", "9223372036854775807" },
		{ "-9223372036854775808", "-9223372036854775808" },
		{ "9223372036854775808", "9.223372036854776e+18" },
		{ "1.5", "1.5" },
		{ "1.0", "1.0" },
		{ "0.1", "0.1" },
		{ "1e3", "1000.0" },
		{ "-2.5E-3", "-0.0025" },
		{ "\"\x7f\"", "\"\\u007f\"" },
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) n = vs_ctl_json_parse(cases[i].in, strlen(cases[i].in), &err);
		g_autofree char *s = NULL;

		if (!n)
			g_error("rejected %s: %s", cases[i].in, err->message);
		s = vs_ctl_json_to_string(n);
		g_assert_cmpstr(s, ==, cases[i].out);
	}
}

static void test_json_invalid(void)
{
	static const char *const cases[] = {
		"", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "{1:2}",
		"01", "1.", ".5", "+1", "0x10", "1e", "-", "NaN", "Infinity", "nul", "truex",
		"1e999", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"", "\"\\ud800\"",
		"\"\\udc00\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "\"\xff\"", "\"\xc3\x28\"",
		"{\"a\":1} {\"b\":2}", "{\"a\":/*c*/1}", "[1 2]", "{\"a\":1}x",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) n = vs_ctl_json_parse(cases[i], strlen(cases[i]), &err);

		if (n)
			g_error("accepted invalid JSON '%s'", cases[i]);
		g_assert_error(err, VS_CTL_ERROR, VS_CTL_ERR_GENERIC);
		g_assert_true(g_str_has_prefix(err->message, "JSON parse error, "));
	}
}

/* Nesting: the limit parses, one past it does not */
static void test_json_depth(void)
{
	unsigned int depth;

	for (depth = VS_CTL_MAX_DEPTH; depth <= VS_CTL_MAX_DEPTH + 1; depth++) {
		g_autoptr(GString) s = g_string_new(NULL);
		g_autoptr(GError) err = NULL;
		g_autoptr(JsonNode) n = NULL;
		unsigned int i;

		for (i = 0; i < depth; i++)
			g_string_append(s, i % 2 ? "[" : "{\"a\":");
		for (i = depth; i-- > 0;)
			g_string_append(s, i % 2 ? "]" : "}");
		/* odd depths end in "{"a":" + "}": make the innermost a value */
		g_string_replace(s, ":}", ":0}", 1);
		g_string_replace(s, ":[]", ":[0]", 1);
		n = vs_ctl_json_parse(s->str, s->len, &err);
		if (depth <= VS_CTL_MAX_DEPTH) {
			g_assert_no_error(err);
			g_assert_nonnull(n);
		} else {
			g_assert_null(n);
			g_assert_nonnull(strstr(err->message, "nesting depth"));
		}
	}
}

static void test_json_size(void)
{
	g_autofree char *buf = g_malloc(VS_CTL_MAX_MSG_SIZE + 1);
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) n = NULL;

	memset(buf, ' ', VS_CTL_MAX_MSG_SIZE + 1);
	buf[0] = '1';
	n = vs_ctl_json_parse(buf, VS_CTL_MAX_MSG_SIZE, &err);
	g_assert_no_error(err);
	g_assert_nonnull(n);
	g_clear_pointer(&n, json_node_unref);
	n = vs_ctl_json_parse(buf, VS_CTL_MAX_MSG_SIZE + 1, &err);
	g_assert_null(n);
	g_assert_nonnull(strstr(err->message, "too big"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_ERR);

	g_test_add_func("/control/split", test_split);
	g_test_add_func("/control/json/valid", test_json_valid);
	g_test_add_func("/control/json/invalid", test_json_invalid);
	g_test_add_func("/control/json/limits/depth", test_json_depth);
	g_test_add_func("/control/json/limits/size", test_json_size);
	return g_test_run();
}
