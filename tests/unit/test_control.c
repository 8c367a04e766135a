/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control.c - control socket: protocol, limits, commands
 *
 * Theory of operation: the fixture and the test client are
 * ctl_harness.h's (the real control socket, stub ports); the socket file,
 * client slots and vshimctl are test_control_socket.c's.
 *
 * Golden files: tests/control/NAME.in holds request lines, sent on a fresh
 * connection as they are (plus LF), and NAME.out the lines expected back,
 * greeting first.  Each case runs twice: written at once, and written in
 * small pieces so that values are split at every possible place.  In both
 * files "%{N*TEXT}" stands for N copies of TEXT and "%{xHH}" for one raw
 * byte, "%{dir}" for the fixture's directory (its socket-dir, where its
 * control socket is "%{dir}/control.sock") and "%{uid}" for this
 * process's uid; a line of .in ending in "%{nonl}" is sent without its
 * LF; "<EOF>" in .out means the server closes.  Event timestamps are normalised to
 * "seconds": S, "microseconds": U.  VS_CTL_REGENERATE=1 rewrites the .out
 * files from what the server says (for a new case; review the diff).
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
/* Golden files                                                         */
/* ------------------------------------------------------------------ */

/* The running case's fixture directory, for %{dir} */
static const char *golden_dir;

/*
 * golden_expand() - replace %{N*TEXT}, %{xHH}, %{dir}, %{uid} and %{nonl}
 * @line:	one line of a golden file
 * @nonl:	set if the line ends in %{nonl}
 *
 * Return: the bytes (may contain NUL)
 */
static GString *golden_expand(const char *line, bool *nonl)
{
	GString *out = g_string_new(NULL);
	const char *p = line;

	*nonl = false;
	while (*p) {
		const char *end;

		if (p[0] != '%' || p[1] != '{') {
			g_string_append_c(out, *p++);
			continue;
		}
		end = strchr(p, '}');
		/* a '}' right after "*" is the TEXT itself: "%{3*}}" */
		if (end && end[-1] == '*')
			end++;
		g_assert_nonnull(end);
		if (!strncmp(p, "%{nonl}", 7)) {
			*nonl = true;
		} else if (!strncmp(p, "%{dir}", 6)) {
			g_string_append(out, golden_dir);
		} else if (!strncmp(p, "%{uid}", 6)) {
			g_string_append_printf(out, "%u", (unsigned int)geteuid());
		} else if (p[2] == 'x') {
			g_string_append_c(out, (char)strtoul(p + 3, NULL, 16));
		} else {
			char *star;
			unsigned long n = strtoul(p + 2, &star, 10), i;

			g_assert_cmpint(*star, ==, '*');
			for (i = 0; i < n; i++)
				g_string_append_len(out, star + 1, end - star - 1);
		}
		p = end + 1;
	}
	return out;
}

static char **golden_read(const char *name, const char *ext)
{
	g_autofree char *file = g_strdup_printf("%s.%s", name, ext);
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "control", file, NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) err = NULL;
	char **lines;
	size_t n;

	g_file_get_contents(path, &text, NULL, &err);
	g_assert_no_error(err);
	lines = g_strsplit(text, "\n", -1);
	n = g_strv_length(lines);
	if (n && !*lines[n - 1]) {	/* the file's final newline */
		g_free(lines[n - 1]);
		lines[n - 1] = NULL;
	}
	return lines;
}

static char *golden_normalise(const char *line)
{
	g_autoptr(GRegex) re = g_regex_new("\"seconds\": [0-9]+, \"microseconds\": [0-9]+",
					   0, 0, NULL);

	return g_regex_replace_literal(re, line, -1, 0,
				       "\"seconds\": S, \"microseconds\": U", 0, NULL);
}

/* What golden_regenerate() writes: the fixture's directory as %{dir} */
static char *golden_unexpand(const char *line)
{
	g_auto(GStrv) parts = g_strsplit(line, golden_dir, -1);

	return g_strjoinv("%{dir}", parts);
}

/*
 * golden_regenerate() - write what the server says to NAME.out, for a new
 * case or a deliberate change (VS_CTL_REGENERATE=1); review the diff
 */
static void golden_regenerate(struct tclient *c, const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.out", name);
	g_autofree char *path = g_test_build_filename(G_TEST_DIST, "control", file, NULL);
	g_autoptr(GString) out = g_string_new(NULL);
	g_autoptr(GError) err = NULL;

	for (;;) {
		g_autofree char *line = NULL, *norm = NULL;

		tc_settle(c);
		if (!memchr(c->in->str, '\n', c->in->len) && !c->eof)
			break;
		line = tc_line(c);
		if (!line) {
			g_string_append(out, "<EOF>\n");
			break;
		}
		norm = golden_normalise(line);
		{
			g_autofree char *generic = golden_unexpand(norm);

			g_string_append_printf(out, "%s\n", generic);
		}
	}
	g_file_set_contents(path, out->str, (gssize)out->len, &err);
	g_assert_no_error(err);
}

static char *tc_line_normalised(struct tclient *c)
{
	g_autofree char *line = tc_line(c);

	g_assert_nonnull(line);
	return golden_normalise(line);
}

static void golden_run(const char *name, size_t chunk)
{
	g_auto(GStrv) in = golden_read(name, "in");
	g_auto(GStrv) out = golden_read(name, "out");
	g_autoptr(GString) req = g_string_new(NULL);
	g_autoptr(tclient) c = NULL;
	struct fixture f = { 0 };
	size_t i;

	fixture_start(&f);
	golden_dir = f.dir;
	c = tc_connect(f.path);
	for (i = 0; in[i]; i++) {
		g_autoptr(GString) line = NULL;
		bool nonl;

		if (in[i][0] == '#')
			continue;
		line = golden_expand(in[i], &nonl);
		g_string_append_len(req, line->str, (gssize)line->len);
		if (!nonl)
			g_string_append_c(req, '\n');
	}
	tc_send(c, req->str, req->len, chunk);

	if (g_getenv("VS_CTL_REGENERATE")) {
		golden_regenerate(c, name);
		g_clear_pointer(&c, tc_free);
		fixture_stop(&f);
		return;
	}
	for (i = 0; out[i]; i++) {
		g_autofree char *got = NULL, *norm = NULL;
		g_autoptr(GString) want = NULL;
		bool nonl;

		if (!strcmp(out[i], "<EOF>")) {
			tc_wait_eof(c);
			g_assert_null(tc_line(c));
			continue;
		}
		want = golden_expand(out[i], &nonl);
		got = tc_line(c);
		if (!got)
			g_error("%s.out line %zu: connection closed, expected %.200s", name, i + 1,
				want->str);
		norm = golden_normalise(got);
		if (strcmp(norm, want->str))
			g_error("%s.out line %zu (chunk %zu):\nexpected %.500s\n     got %.500s",
				name, i + 1, chunk, want->str, norm);
	}
	tc_settle(c);
	if (c->in->len)
		g_error("%s: unexpected output after the last line: %.300s", name, c->in->str);
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

static void test_golden(gconstpointer data)
{
	golden_run(data, SIZE_MAX);	/* all at once */
	golden_run(data, 7);		/* split everywhere */
}

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

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

static void test_table(void)
{
	size_t i;

	g_assert_cmpuint(vs_ctl_num_cmds, >, 0);
	for (i = 0; i < vs_ctl_num_cmds; i++) {
		const struct vs_ctl_cmd *c = &vs_ctl_cmds[i];
		const struct vs_ctl_arg *a;

		g_assert_nonnull(c->handler);
		if (i)
			g_assert_cmpint(strcmp(vs_ctl_cmds[i - 1].name, c->name), <, 0);
		for (a = vs_ctl_cmd_args(c); a && a->name; a++) {
			if (a->type == VS_CTL_ARG_ENUM)
				g_assert_nonnull(a->values);
			if (a->type == VS_CTL_ARG_INT)
				g_assert_cmpint(a->min, <=, a->max);
		}
	}
}

/* A client that sends and half-closes still gets its answers */
static void test_eof(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autofree char *greeting = NULL, *r1 = NULL, *r2 = NULL;

	fixture_start(&f);
	c = tc_connect(f.path);
	tc_send_str(c, "{\"execute\": \"qmp_capabilities\"}{\"execute\": \"query-version\", "
		       "\"id\": 1}{\"execute\"");
	g_assert_cmpint(shutdown(c->fd, SHUT_WR), ==, 0);
	greeting = tc_line(c);
	r1 = tc_line(c);
	r2 = tc_line(c);
	g_assert_cmpstr(r1, ==, "{\"return\": {}}");
	g_assert_true(g_str_has_suffix(r2, "\"id\": 1}"));
	g_assert_null(tc_line(c));	/* the partial request is dropped */
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

static JsonNode *big_event_data(size_t len)
{
	g_autofree char *pad = g_malloc(len + 1);
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	JsonObject *o = json_object_new();

	memset(pad, 'p', len);
	pad[len] = 0;
	json_object_set_string_member(o, "pad", pad);
	json_node_take_object(n, o);
	return n;
}

/* A client that never reads is dropped once its queue is full */
static void test_slow_client(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) slow = NULL;
	g_autoptr(tclient) mon = NULL;
	unsigned int i;

	fixture_start(&f);
	slow = tc_connect(f.path);
	tc_negotiate(slow);
	mon = tc_connect(f.path);	/* not negotiated: gets no events */
	g_free(tc_line(mon));
	/* 4 MiB of events: more than the queue plus any socket buffer */
	for (i = 0; i < 512; i++) {
		vs_ctl_emit_event("TEST_FLOOD", big_event_data(8192));
		g_main_context_iteration(NULL, FALSE);
	}
	g_free(tc_cmd(mon, "{\"execute\": \"qmp_capabilities\"}"));
	g_assert_cmpint(tc_control_stat(mon, "slow-clients-dropped"), ==, 1);
	g_assert_cmpint(tc_control_stat(mon, "clients"), ==, 1);
	/* the slow client finds the end of the stream after what was sent */
	while (!slow->eof) {
		tc_idle(slow);
		g_string_truncate(slow->in, 0);
	}
	g_clear_pointer(&slow, tc_free);
	g_clear_pointer(&mon, tc_free);
	fixture_stop(&f);
}

/*
 * A client that pipelines many requests before reading is slowed down
 * (the server stops reading), not dropped, and gets every reply in order.
 */
static void test_backpressure(void)
{
	static const char req[] = "{\"execute\": \"query-version\", \"id\": 12345678}\n";
	const unsigned int total = 40000;	/* ~4 MiB of replies */
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autoptr(tclient) mon = NULL;
	unsigned int sent = 0, got = 0, stalls = 0;
	gint64 deadline = g_get_monotonic_time() + 6 * TEST_TIMEOUT_US;

	fixture_start(&f);
	c = tc_connect(f.path);
	tc_negotiate(c);
	mon = tc_connect(f.path);
	tc_negotiate(mon);

	/* Phase 1: send without reading until the server stops taking more */
	while (sent < total && stalls < 200) {
		if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)sizeof(req) - 1) {
			sent++;
			stalls = 0;
		} else {
			stalls++;
			g_main_context_iteration(NULL, FALSE);
		}
		if (!(sent % 64))
			g_main_context_iteration(NULL, FALSE);
	}
	g_assert_cmpuint(sent, <, total);	/* it did push back */
	g_assert_cmpint(tc_control_stat(mon, "slow-clients-dropped"), ==, 0);

	/* Phase 2: read everything, sending the rest as room appears */
	while (got < total) {
		char *nl;

		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (sent < total && send(c->fd, req, sizeof(req) - 1,
					 MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(req) - 1)
			sent++;
		tc_pump(c);
		g_assert_false(c->eof);
		while ((nl = memchr(c->in->str, '\n', c->in->len))) {
			g_assert_true(g_str_has_prefix(c->in->str, "{\"return\": "));
			g_string_erase(c->in, 0, nl - c->in->str + 1);
			got++;
		}
	}
	g_assert_cmpint(tc_control_stat(mon, "slow-clients-dropped"), ==, 0);
	g_clear_pointer(&c, tc_free);
	g_clear_pointer(&mon, tc_free);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static void test_events(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) a = NULL;
	g_autoptr(tclient) b = NULL;
	g_autofree char *ev = NULL, *ev2 = NULL, *ret = NULL;
	JsonNode *bad;

	fixture_start(&f);
	a = tc_connect(f.path);
	tc_negotiate(a);
	b = tc_connect(f.path);	/* negotiating: must not get events */
	g_free(tc_line(b));

	vs_ctl_emit_event("TEST_EVENT", NULL);
	ev = tc_line(a);
	g_assert_true(g_regex_match_simple("^\\{\"event\": \"TEST_EVENT\", \"timestamp\": "
					   "\\{\"seconds\": [0-9]+, \"microseconds\": [0-9]+\\}\\}$",
					   ev, 0, 0));
	/* data that is not an object is refused, and freed */
	bad = json_node_new(JSON_NODE_ARRAY);
	json_node_take_array(bad, json_array_new());
	vs_ctl_emit_event("TEST_BAD", bad);

	ret = tc_cmd(b, "{\"execute\": \"qmp_capabilities\"}");
	g_assert_cmpstr(ret, ==, "{\"return\": {}}");
	vs_ctl_emit_event("TEST_EVENT2", big_event_data(3));
	g_free(ev);
	ev = tc_line(a);
	ev2 = tc_line(b);
	g_assert_cmpstr(ev, ==, ev2);
	g_assert_true(g_str_has_prefix(ev, "{\"event\": \"TEST_EVENT2\", \"data\": "
					   "{\"pad\": \"ppp\"}, \"timestamp\": "));
	tc_settle(a);
	tc_settle(b);
	g_assert_cmpuint(a->in->len, ==, 0);	/* TEST_BAD was not sent */
	g_assert_cmpuint(b->in->len, ==, 0);
	g_clear_pointer(&a, tc_free);
	g_clear_pointer(&b, tc_free);
	fixture_stop(&f);
}

static JsonNode *obj_with(const char *key, const char *val)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	JsonObject *o = json_object_new();

	json_object_set_string_member(o, key, val);
	json_node_take_object(n, o);
	return n;
}

static void test_ratelimit(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autofree char *e1 = NULL, *e2 = NULL, *e3 = NULL;
	unsigned int i;

	fixture_start(&f);
	c = tc_connect(f.path);
	tc_negotiate(c);
	/* the return value says which were sent: BUFFER_OVERFLOW's "dropped"
	 * (handover.c) counts from the last one sent */
	for (i = 0; i < 3; i++)
		g_assert_cmpint(vs_ctl_emit_event_ratelimited("BUFFER_OVERFLOW", "vm1",
							      obj_with("port", "vm1")), ==, i == 0);
	g_assert_true(vs_ctl_emit_event_ratelimited("BUFFER_OVERFLOW", "vm2", NULL));
	g_assert_false(vs_ctl_emit_event_ratelimited("BUFFER_OVERFLOW", "vm1",
						     json_node_new(JSON_NODE_ARRAY)));
	e1 = tc_line_normalised(c);
	e2 = tc_line_normalised(c);
	g_assert_cmpstr(e1, ==, "{\"event\": \"BUFFER_OVERFLOW\", \"data\": {\"port\": \"vm1\", "
				"\"suppressed\": 0}, \"timestamp\": {\"seconds\": S, "
				"\"microseconds\": U}}");
	g_assert_cmpstr(e2, ==, "{\"event\": \"BUFFER_OVERFLOW\", \"data\": {\"suppressed\": 0}, "
				"\"timestamp\": {\"seconds\": S, \"microseconds\": U}}");
	tc_settle(c);
	g_assert_cmpuint(c->in->len, ==, 0);

	g_usleep((VS_CTL_RATELIMIT_MS + 100) * 1000);
	g_assert_true(vs_ctl_emit_event_ratelimited("BUFFER_OVERFLOW", "vm1",
						    obj_with("port", "vm1")));
	e3 = tc_line_normalised(c);
	g_assert_cmpstr(e3, ==, "{\"event\": \"BUFFER_OVERFLOW\", \"data\": {\"port\": \"vm1\", "
				"\"suppressed\": 2}, \"timestamp\": {\"seconds\": S, "
				"\"microseconds\": U}}");
	g_assert_cmpint(tc_control_stat(c, "events-suppressed"), ==, 2);
	g_assert_cmpint(tc_control_stat(c, "events"), ==, 3);
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------ */
/* Port commands against stub ports                                     */
/* ------------------------------------------------------------------ */

static gint64 stat_of(struct tclient *c, const char *port, const char *member,
		      const char *sub)
{
	g_autofree char *req = g_strdup_printf("{\"execute\": \"query-stats\", \"arguments\": "
					       "{\"port\": \"%s\"}}", port);
	g_autofree char *reply = tc_cmd(c, req);
	g_autoptr(JsonNode) n = vs_ctl_json_parse(reply, strlen(reply), NULL);
	JsonArray *a = json_object_get_array_member(json_node_get_object(n), "return");
	JsonObject *o = json_array_get_object_element(a, 0);

	g_assert_cmpuint(json_array_get_length(a), ==, 1);
	if (sub)
		o = json_object_get_object_member(o, member);
	return json_object_get_int_member(o, sub ? sub : member);
}

static void test_stats_reset(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	struct vs_vm *vm1, *vm2;

	fixture_start(&f);
	vm1 = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,uplink=u1");
	vm2 = stub_port("name=vm2,socket=/s2,mac=52:54:00:00:00:02,uplink=u2");
	vm1->stats.rx_pkts = 10;
	vm1->stats.drops[VS_DROP_NOT_READY] = 3;
	vm1->stats.ctl_drops[VS_DROP_NOT_READY] = 4;
	vm1->stats.buffered_pkts[1] = 5;
	vm1->stats.last_blackout_us = 777;
	vm2->stats.rx_pkts = 20;
	c = tc_connect(f.path);
	tc_negotiate(c);

	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 10);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 7);
	g_assert_cmpint(stat_of(c, "vm1", "buffered-pkts", "tcp"), ==, 5);
	g_free(tc_cmd(c, "{\"execute\": \"stats-reset\", \"arguments\": {\"port\": \"vm1\"}}"));
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "buffered-pkts", "tcp"), ==, 0);
	g_assert_cmpint(stat_of(c, "vm1", "last-blackout-us", NULL), ==, 777);	/* gauge */
	g_assert_cmpint(stat_of(c, "vm2", "rx-pkts", NULL), ==, 20);		/* other port */

	vm1->stats.rx_pkts += 6;
	vm1->stats.ctl_drops[VS_DROP_NOT_READY]++;
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 6);
	g_assert_cmpint(stat_of(c, "vm1", "drops", "not-ready"), ==, 1);

	g_free(tc_cmd(c, "{\"execute\": \"stats-reset\"}"));
	g_assert_cmpint(stat_of(c, "vm2", "rx-pkts", NULL), ==, 0);

	/* a port re-created under the same name starts from its own zero */
	vs_vm_remove(vm1);
	vm1 = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,uplink=u1");
	vm1->stats.rx_pkts = 2;
	g_assert_cmpint(stat_of(c, "vm1", "rx-pkts", NULL), ==, 2);

	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

static void test_query_ports_state(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autofree char *ret = NULL;
	struct vs_vm *vm;

	fixture_start(&f);
	vm = stub_port("name=vm1,socket=/s1,mac=52:54:00:00:00:01,mode=client,queues=2,"
		       "tcp-on-loss=reset,uplink=net_tap0,iface=t0");
	vm->vid = 0;
	vm->features = 0x170208000ULL;	/* a running port reports them (4737c9f) */
	c = tc_connect(f.path);
	tc_negotiate(c);
	ret = tc_cmd(c, "{\"execute\": \"query-ports\"}");
	g_assert_cmpstr(ret, ==, "{\"return\": [{\"name\": \"vm1\", \"socket\": \"/s1\", \"mode\": "
				 "\"client\", \"mac\": \"52:54:00:00:00:01\", \"uplink\": "
				 "\"net_tap0,iface=t0\", \"queues\": 2, \"tcp-on-loss\": \"reset\", "
				 "\"state\": \"running\", "
				 "\"features\": \"0x170208000\", \"ring\": \"split\"}]}");
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

/* query-commands lists every row of the table, in table order */
static void test_query_commands(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) c = NULL;
	g_autoptr(GString) want = g_string_new("{\"return\": [");
	g_autofree char *ret = NULL;
	size_t i;

	fixture_start(&f);
	c = tc_connect(f.path);
	tc_negotiate(c);
	for (i = 0; i < vs_ctl_num_cmds; i++)
		g_string_append_printf(want, "%s{\"name\": \"%s\"}", i ? ", " : "",
				       vs_ctl_cmds[i].name);
	g_string_append(want, "]}");
	ret = tc_cmd(c, "{\"execute\": \"query-commands\"}");
	g_assert_cmpstr(ret, ==, want->str);
	g_clear_pointer(&c, tc_free);
	fixture_stop(&f);
}

#define DO_TEST(name) g_test_add_data_func("/control/golden/" name, name, test_golden)

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_ERR);

	DO_TEST("greeting");
	DO_TEST("negotiation");
	DO_TEST("malformed");
	DO_TEST("too-big");
	DO_TEST("too-deep");
	DO_TEST("unknown-command");
	DO_TEST("envelope");
	DO_TEST("argument-types");
	DO_TEST("missing-argument");
	DO_TEST("non-object");
	DO_TEST("id-echo");
	DO_TEST("ports");
	DO_TEST("control-stats");
	DO_TEST("migrate-expect");
	DO_TEST("reset-flows");
	DO_TEST("buffer-policy");
	DO_TEST("port-reach");
	DO_TEST("discovery-off");
	DO_TEST("policy");

	g_test_add_func("/control/split", test_split);
	g_test_add_func("/control/json/valid", test_json_valid);
	g_test_add_func("/control/json/invalid", test_json_invalid);
	g_test_add_func("/control/json/limits/depth", test_json_depth);
	g_test_add_func("/control/json/limits/size", test_json_size);
	g_test_add_func("/control/table", test_table);
	g_test_add_func("/control/socket/eof", test_eof);
	g_test_add_func("/control/limits/slow-client", test_slow_client);
	g_test_add_func("/control/limits/backpressure", test_backpressure);
	g_test_add_func("/control/events/broadcast", test_events);
	g_test_add_func("/control/events/ratelimit", test_ratelimit);
	g_test_add_func("/control/cmd/stats-reset", test_stats_reset);
	g_test_add_func("/control/cmd/query-ports", test_query_ports_state);
	g_test_add_func("/control/cmd/query-commands", test_query_commands);
	return g_test_run();
}
