/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control.c - control socket: conversations, limits, events
 *
 * Theory of operation: the fixture and the test client are
 * ctl_harness.h's (the real control socket, stub ports); the socket file,
 * client slots and vshimctl are test_control_socket.c's, the splitter and
 * the JSON layer test_control_proto.c's, the command table and the port
 * commands test_control_cmds.c's.  Here: whole conversations from golden
 * files, a session's limits (a client that half-closes still gets its
 * answers, a slow client, one that does not read), and the events
 * broadcast to clients (their lines normalised as the golden files' are).
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

	g_test_add_func("/control/socket/eof", test_eof);
	g_test_add_func("/control/limits/slow-client", test_slow_client);
	g_test_add_func("/control/limits/backpressure", test_backpressure);
	g_test_add_func("/control/events/broadcast", test_events);
	g_test_add_func("/control/events/ratelimit", test_ratelimit);
	return g_test_run();
}
