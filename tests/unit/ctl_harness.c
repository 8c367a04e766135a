/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_harness.c - what the control socket's unit tests share: the fixture
 * and the test client (theory of operation: ctl_harness.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "control.h"
#include "ctl_harness.h"
#include "dp_flow.h"
#include "vm.h"

gint64 test_time_scale(void)
{
	const char *v = g_getenv("VS_TEST_TIME_SCALE");
	gint64 n = v ? g_ascii_strtoll(v, NULL, 10) : 1;

	return n > 0 ? n : 1;
}

struct vs_vm *stub_port(const char *spec)
{
	g_autoptr(GError) err = NULL;
	struct vs_port_cfg *pc = vs_port_cfg_parse_spec(spec, &err);
	struct vs_vm *vm;

	g_assert_no_error(err);
	vm = vs_vm_add(pc, &err);
	g_assert_no_error(err);
	return vm;
}

/* ------------------------------------------------------------------ */
/* Server fixture and test client                                       */
/* ------------------------------------------------------------------ */

struct vs_cfg *test_cfg_new(const char *dir, const char *path)
{
	struct vs_cfg *cfg = vs_cfg_new();

	g_free(cfg->control_path);
	cfg->control_path = g_strdup(path);
	g_free(cfg->socket_dir);
	cfg->socket_dir = g_strdup(dir);
	g_free(cfg->uplink_drivers);
	cfg->uplink_drivers = g_strdup(TEST_UPLINK_DRIVERS);
	return cfg;
}

void fixture_start_with(struct fixture *f, void (*tweak)(struct vs_cfg *cfg))
{
	g_autoptr(GError) err = NULL;
	g_autofree char *link = NULL, *file = NULL;

	f->dir = g_dir_make_tmp("vs-ctl-XXXXXX", &err);
	g_assert_no_error(err);
	f->path = g_build_filename(f->dir, "control.sock", NULL);
	/* what port-add must refuse (tests/control/port-reach.in) */
	link = g_build_filename(f->dir, "link.sock", NULL);
	file = g_build_filename(f->dir, "file.sock", NULL);
	g_assert_cmpint(symlink("../outside.sock", link), ==, 0);
	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	f->cfg = test_cfg_new(f->dir, f->path);
	if (tweak)
		tweak(f->cfg);
	vs_dp_flow_set_rules(f->cfg->flow_rules);	/* as main.c does */
	g_assert_true(vs_ctl_start(f->cfg, &err));
	g_assert_no_error(err);
}

void fixture_start(struct fixture *f)
{
	fixture_start_with(f, NULL);
}

void fixture_stop(struct fixture *f)
{
	g_autofree char *link = g_build_filename(f->dir, "link.sock", NULL);
	g_autofree char *file = g_build_filename(f->dir, "file.sock", NULL);

	vs_ctl_stop();
	vs_vm_remove_all();
	vs_dp_flow_set_rules(NULL);
	g_assert_false(g_file_test(f->path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(unlink(link), ==, 0);
	g_assert_cmpint(unlink(file), ==, 0);
	g_assert_cmpint(g_rmdir(f->dir), ==, 0);
	g_clear_pointer(&f->cfg, vs_cfg_free);
	g_free(f->path);
	g_free(f->dir);
}

void tc_free(struct tclient *c)
{
	close(c->fd);
	g_string_free(c->in, TRUE);
	g_free(c);
}

struct tclient *tc_connect_fd(int fd)
{
	struct tclient *c = g_new0(struct tclient, 1);

	g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
	c->fd = fd;
	c->in = g_string_new(NULL);
	return c;
}

struct tclient *tc_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	return tc_connect_fd(fd);
}

/*
 * tc_pump() - let the server run once and take what it sent
 *
 * Return: true if anything happened
 */
bool tc_pump(struct tclient *c)
{
	bool busy = g_main_context_iteration(NULL, FALSE);
	char buf[65536];
	ssize_t n = -1;

	while (c && !c->eof && (n = recv(c->fd, buf, sizeof(buf), 0)) != 0) {
		if (n < 0) {
			if (errno == ECONNRESET)
				c->eof = true;
			else
				g_assert_cmpint(errno, ==, EAGAIN);
			break;
		}
		g_string_append_len(c->in, buf, n);
		busy = true;
	}
	if (c && !c->eof && n == 0)
		c->eof = busy = true;
	return busy;
}

void tc_idle(struct tclient *c)
{
	if (!tc_pump(c))
		g_usleep(200);
}

void tc_send(struct tclient *c, const char *buf, size_t len, size_t chunk)
{
	gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, buf + off, MIN(chunk, len - off), MSG_NOSIGNAL);

		if (n < 0) {
			g_assert_cmpint(errno, ==, EAGAIN);
			g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		} else {
			off += (size_t)n;
		}
		tc_pump(c);
	}
}

void tc_send_str(struct tclient *c, const char *s)
{
	tc_send(c, s, strlen(s), strlen(s));
}

/*
 * tc_line() - the next line, without its CRLF (which must be there)
 *
 * Return: the line (g_free it), or NULL at end of stream
 */
char *tc_line(struct tclient *c)
{
	gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;

	for (;;) {
		char *nl = memchr(c->in->str, '\n', c->in->len);

		if (nl) {
			size_t len = (size_t)(nl - c->in->str);
			char *line;

			g_assert_cmpuint(len, >, 0);
			g_assert_cmpint(nl[-1], ==, '\r');
			line = g_strndup(c->in->str, len - 1);
			g_string_erase(c->in, 0, (gssize)len + 1);
			return line;
		}
		if (c->eof) {
			g_assert_cmpuint(c->in->len, ==, 0);
			return NULL;
		}
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		tc_idle(c);
	}
}

/* The next line that is not an event */
char *tc_reply(struct tclient *c)
{
	for (;;) {
		char *line = tc_line(c);

		g_assert_nonnull(line);
		if (!g_str_has_prefix(line, "{\"event\": "))
			return line;
		g_free(line);
	}
}

char *tc_cmd(struct tclient *c, const char *json)
{
	g_autofree char *msg = g_strconcat(json, "\n", NULL);

	tc_send_str(c, msg);
	return tc_reply(c);
}

void tc_negotiate(struct tclient *c)
{
	g_autofree char *greeting = tc_line(c);
	g_autofree char *ret = NULL;

	g_assert_true(g_str_has_prefix(greeting, "{\"QMP\": "));
	ret = tc_cmd(c, "{\"execute\": \"qmp_capabilities\"}");
	g_assert_cmpstr(ret, ==, "{\"return\": {}}");
}

void tc_wait_eof(struct tclient *c)
{
	gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;

	while (!c->eof) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		tc_idle(c);
	}
}

/* Let the server run a while: for "nothing more arrives" checks */
void tc_settle(struct tclient *c)
{
	gint64 until = g_get_monotonic_time() + 50000;

	while (g_get_monotonic_time() < until)
		tc_idle(c);
}

/* One member of a query-control-stats reply, through client @c */
gint64 tc_control_stat(struct tclient *c, const char *name)
{
	g_autofree char *reply = tc_cmd(c, "{\"execute\": \"query-control-stats\"}");
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) n = vs_ctl_json_parse(reply, strlen(reply), &err);
	JsonObject *ret;

	g_assert_no_error(err);
	ret = json_object_get_object_member(json_node_get_object(n), "return");
	g_assert_true(json_object_has_member(ret, name));
	return json_object_get_int_member(ret, name);
}
