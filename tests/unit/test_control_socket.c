/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_control_socket.c - control socket: the socket file, no TCP, client
 * slots (per user, with slots kept for root), vshimctl
 *
 * Theory of operation: the fixture and the test client are
 * ctl_harness.h's.  Clients of other users are real: a forked child
 * takes another uid (setresuid(), so the test needs root and skips
 * otherwise), connects, and passes each connected socket back over a
 * socketpair (SCM_RIGHTS); the kernel keeps the child's credentials on
 * the socket (SO_PEERCRED is taken at connect()), so the server sees a
 * client of that uid while this process reads and writes on it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "config.h"
#include "control.h"
#include "control_priv.h"
#include "ctl_harness.h"
#include "log.h"
#include "vm.h"

/* Configurations of start_at(): the control socket keeps a pointer to
 * the running one, so they are all freed at the end */
static GPtrArray *test_cfgs;

/* vs_ctl_start() at @path, control-clients-per-uid @per_uid */
static gboolean start_with(const char *path, unsigned int per_uid, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct vs_cfg *cfg = test_cfg_new(dir, path);

	cfg->control_clients_per_uid = per_uid;
	g_ptr_array_add(test_cfgs, cfg);
	return vs_ctl_start(cfg, error);
}

/* vs_ctl_start() at @path for @group (NULL: none) */
static gboolean start_at(const char *path, const char *group, GError **error)
{
	g_autofree char *dir = g_path_get_dirname(path);
	struct vs_cfg *cfg = test_cfg_new(dir, path);

	cfg->control_group = g_strdup(group);
	g_ptr_array_add(test_cfgs, cfg);
	return vs_ctl_start(cfg, error);
}

/* ------------------------------------------------------------------ */
/* The socket file                                                      */
/* ------------------------------------------------------------------ */

static void test_socket_mode(void)
{
	struct fixture f = { 0 };
	struct stat st;

	fixture_start(&f);
	g_assert_cmpint(lstat(f.path, &st), ==, 0);
	g_assert_true(S_ISSOCK(st.st_mode));
	g_assert_cmpint(st.st_mode & 07777, ==, 0600);	/* no group: owner only */
	fixture_stop(&f);
}

static void test_socket_dir(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-ctl-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "c.sock", NULL);
	g_autofree char *sub = g_build_filename(dir, "new", "deeper", NULL);
	g_autofree char *subpath = g_build_filename(sub, "c.sock", NULL);
	g_autoptr(GError) err = NULL;

	g_assert_cmpint(chmod(dir, 0777), ==, 0);
	g_assert_false(start_at(path, NULL, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
	g_clear_error(&err);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

	/* sticky, like /tmp: others cannot remove our socket */
	g_assert_cmpint(chmod(dir, 01777), ==, 0);
	g_assert_true(start_at(path, NULL, &err));
	g_assert_no_error(err);
	vs_ctl_stop();

	/* a missing directory is created */
	g_assert_cmpint(chmod(dir, 0755), ==, 0);
	g_assert_true(start_at(subpath, NULL, &err));
	g_assert_no_error(err);
	vs_ctl_stop();
	g_assert_cmpint(g_rmdir(sub), ==, 0);
	*strrchr(sub, '/') = 0;
	g_assert_cmpint(g_rmdir(sub), ==, 0);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static int bind_unix(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	return fd;
}

static void test_socket_existing(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-ctl-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "c.sock", NULL);
	g_autoptr(GError) err = NULL;
	int fd;

	/* a regular file is never removed */
	g_assert_true(g_file_set_contents(path, "x", 1, NULL));
	g_assert_false(start_at(path, NULL, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_EXISTS);
	g_clear_error(&err);
	g_assert_cmpint(unlink(path), ==, 0);

	/* a live socket is not stolen */
	fd = bind_unix(path);
	g_assert_cmpint(listen(fd, 1), ==, 0);
	g_assert_false(start_at(path, NULL, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
	g_clear_error(&err);
	close(fd);	/* now stale: the file stays, nobody listens */

	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_true(start_at(path, NULL, &err));
	g_assert_no_error(err);
	g_assert_false(start_at(path, NULL, &err));	/* twice */
	g_clear_error(&err);
	vs_ctl_stop();
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));

	g_assert_false(start_at(path, "no-such-group-here", &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
	g_clear_error(&err);
	/* control-clients-per-uid outside 1..60: refused, nothing listens */
	g_assert_false(start_with(path, 0, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&err);
	g_assert_false(start_with(path, VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS + 1, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
	g_clear_error(&err);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/*
 * Another user's socket at our path is refused, live or not: removing it
 * would let that user's file decide what a client trusts, and keeping
 * it would let them answer our clients
 */
static void test_socket_foreign_owner(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-ctl-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "c.sock", NULL);
	g_autoptr(GError) err = NULL;
	uid_t other = geteuid() == 65534 ? 65533 : 65534;
	int fd;

	fd = bind_unix(path);
	close(fd);	/* stale: nobody listens */
	if (chown(path, other, (gid_t)-1)) {
		g_test_skip("cannot chown a socket to another user (not root)");
		unlink(path);
		g_assert_cmpint(g_rmdir(dir), ==, 0);
		return;
	}
	g_assert_false(start_at(path, NULL, &err));
	g_assert_error(err, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
	g_assert_nonnull(strstr(err->message, "belongs to uid"));
	g_clear_error(&err);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));	/* left alone */

	/* the same stale socket, ours again: replaced */
	g_assert_cmpint(chown(path, geteuid(), (gid_t)-1), ==, 0);
	g_assert_true(start_at(path, NULL, &err));
	g_assert_no_error(err);
	vs_ctl_stop();
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_socket_group(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-ctl-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "c.sock", NULL);
	g_autoptr(GError) err = NULL;
	struct stat st;

	/* the group of gid 0 is "root" on Linux */
	if (!start_at(path, "root", &err)) {
		g_test_skip(err->message);
		g_assert_cmpint(g_rmdir(dir), ==, 0);
		return;
	}
	g_assert_cmpint(lstat(path, &st), ==, 0);
	g_assert_cmpint(st.st_gid, ==, 0);
	g_assert_cmpint(st.st_mode & 07777, ==, 0660);
	vs_ctl_stop();
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/*
 * There is no TCP listener any more: control-tcp-port other than 0 is a
 * configuration error, and even a configuration that bypasses validation
 * gets no listener on that port
 */
static void test_no_tcp(void)
{
	g_autofree char *dir = g_dir_make_tmp("vs-ctl-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "c.sock", NULL);
	g_autoptr(vs_cfg) cfg = test_cfg_new(dir, path);
	g_autoptr(GError) err = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	cfg->control_tcp_port = 4444;
	g_assert_false(vs_cfg_validate(cfg, &err));
	g_assert_nonnull(strstr(err->message, "control-tcp-port 4444: the TCP control listener "
				"was removed"));
	g_clear_error(&err);

	/* a free port: the kernel picks one, we release it */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sin, &len), ==, 0);
	close(fd);
	cfg->control_tcp_port = ntohs(sin.sin_port);
	g_assert_true(vs_ctl_start(cfg, &err));
	g_assert_no_error(err);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), ==, -1);
	g_assert_cmpint(errno, ==, ECONNREFUSED);
	close(fd);
	vs_ctl_stop();
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* At the limit every client is served; one past it is told and closed */
static void test_max_clients(void)
{
	struct fixture f = { 0 };
	struct tclient *c[VS_CTL_MAX_CLIENTS + 1];
	g_autofree char *line = NULL;
	unsigned int i;

	fixture_start(&f);
	for (i = 0; i < VS_CTL_MAX_CLIENTS; i++) {
		g_autofree char *greeting = NULL;

		c[i] = tc_connect(f.path);
		greeting = tc_line(c[i]);
		g_assert_true(g_str_has_prefix(greeting, "{\"QMP\": "));
	}
	c[i] = tc_connect(f.path);
	line = tc_line(c[i]);
	g_assert_cmpstr(line, ==, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Too many "
				  "clients: the limit is 64\"}}");
	g_assert_null(tc_line(c[i]));
	tc_free(c[i]);

	g_free(tc_cmd(c[0], "{\"execute\": \"qmp_capabilities\"}"));	/* greeting read */
	g_assert_cmpint(tc_control_stat(c[0], "clients-rejected"), ==, 1);
	g_assert_cmpint(tc_control_stat(c[0], "clients"), ==, VS_CTL_MAX_CLIENTS);
	tc_free(c[1]);
	tc_settle(c[0]);	/* the server sees the hang-up */
	g_assert_cmpint(tc_control_stat(c[0], "clients"), ==, VS_CTL_MAX_CLIENTS - 1);
	for (i = 0; i < VS_CTL_MAX_CLIENTS; i++)
		if (i != 1)
			tc_free(c[i]);
	fixture_stop(&f);
}

/* ------------------------------------------------------------------ */
/* Client slots per user                                                */
/* ------------------------------------------------------------------ */

/* Two users that are neither root nor this process's (uids need no
 * entry in /etc/passwd) */
#define TEST_UID_A	4242
#define TEST_UID_B	4243

/* Send @fd over @chan (SCM_RIGHTS).  Runs in the forked child: no GLib */
static int send_fd(int chan, int fd)
{
	char byte = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			    .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *c;

	memset(ctrl.buf, 0, sizeof(ctrl.buf));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(chan, &m, 0) == 1 ? 0 : -1;
}

/* A descriptor from @chan, or -1 if none has arrived yet */
static int recv_fd(int chan)
{
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.buf,
			    .msg_controllen = sizeof(ctrl.buf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(chan, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&m);
	g_assert_nonnull(c);
	g_assert_cmpint(c->cmsg_type, ==, SCM_RIGHTS);
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * connect_as() - @n clients of user @uid: a forked child takes the uid,
 * connects @n times, one at a time (a full backlog blocks it until the
 * server, iterated here meanwhile, accepts), and passes each connected
 * socket back
 *
 * Return: the clients, in the order they connected (g_ptr_array_unref())
 */
static GPtrArray *connect_as(const char *path, uid_t uid, unsigned int n)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)tc_free);
	gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;
	int sv[2], status;
	pid_t pid;

	g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
	pid = fork();
	g_assert_cmpint(pid, >=, 0);
	if (!pid) {
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		unsigned int i;

		close(sv[0]);
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, uid))
			_exit(2);
		strncpy(sun.sun_path, path, sizeof(sun.sun_path) - 1);
		for (i = 0; i < n; i++) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
			    send_fd(sv[1], fd))
				_exit(3);
			close(fd);
		}
		_exit(0);
	}
	close(sv[1]);
	while (out->len < n) {
		int fd = recv_fd(sv[0]);

		if (fd >= 0) {
			g_ptr_array_add(out, tc_connect_fd(fd));
			continue;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			g_error("the child of uid %u exited with %d after %u of %u connections",
				(unsigned int)uid, WEXITSTATUS(status), out->len, n);
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(200);
	}
	close(sv[0]);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return out;
}

static bool need_root(void)
{
	if (!geteuid())
		return true;
	g_test_skip("needs root: the other users' clients come from setresuid()");
	return false;
}

/* Let other users reach the fixture's socket (the test's doing, not the
 * daemon's: it never makes the socket looser than 0660) */
static void open_to_all(struct fixture *f)
{
	g_assert_cmpint(chmod(f->dir, 0755), ==, 0);
	g_assert_cmpint(chmod(f->path, 0666), ==, 0);
}

static void assert_greeted(struct tclient *c)
{
	g_autofree char *line = tc_line(c);

	g_assert_nonnull(line);
	g_assert_true(g_str_has_prefix(line, "{\"QMP\": "));
}

/* @c was refused with @desc instead of a greeting, and closed */
static void assert_refused(struct tclient *c, const char *desc)
{
	g_autofree char *line = tc_line(c);
	g_autofree char *want = g_strdup_printf("{\"error\": {\"class\": \"GenericError\", "
						"\"desc\": \"%s\"}}", desc);

	g_assert_cmpstr(line, ==, want);
	g_assert_null(tc_line(c));
}

static void per_uid_3(struct vs_cfg *cfg)
{
	cfg->control_clients_per_uid = 3;
}

/* One user gets control-clients-per-uid slots, other users theirs */
static void test_per_uid(void)
{
	struct fixture f = { 0 };
	g_autoptr(tclient) root = NULL;
	g_autoptr(GPtrArray) a = NULL;
	g_autoptr(GPtrArray) b = NULL;
	g_autoptr(GPtrArray) again = NULL;
	g_autofree char *stats = NULL;
	unsigned int i;

	if (!need_root())
		return;
	fixture_start_with(&f, per_uid_3);
	open_to_all(&f);
	a = connect_as(f.path, TEST_UID_A, 4);
	for (i = 0; i < 3; i++)
		assert_greeted(a->pdata[i]);
	assert_refused(a->pdata[3], "Too many clients of uid 4242: the limit is 3 per user");
	b = connect_as(f.path, TEST_UID_B, 3);	/* the cap is per user */
	for (i = 0; i < b->len; i++)
		assert_greeted(b->pdata[i]);
	root = tc_connect(f.path);
	tc_negotiate(root);
	g_assert_cmpint(tc_control_stat(root, "clients"), ==, 7);
	g_assert_cmpint(tc_control_stat(root, "clients-privileged"), ==, 1);
	g_assert_cmpint(tc_control_stat(root, "clients-rejected-per-uid"), ==, 1);
	g_assert_cmpint(tc_control_stat(root, "clients-rejected"), ==, 0);
	stats = tc_cmd(root, "{\"execute\": \"query-control-stats\"}");
	g_assert_nonnull(strstr(stats, "\"clients-per-uid\": {\"4242\": 3, \"4243\": 3, \"0\": 1}"));

	/* a slot given back can be taken again */
	g_ptr_array_remove_index(a, 0);
	tc_settle(root);	/* the server sees the hang-up */
	again = connect_as(f.path, TEST_UID_A, 1);
	assert_greeted(again->pdata[0]);
	g_assert_cmpint(tc_control_stat(root, "clients-accepted"), ==, 8);
	g_clear_pointer(&a, g_ptr_array_unref);
	g_clear_pointer(&b, g_ptr_array_unref);
	g_clear_pointer(&again, g_ptr_array_unref);
	g_clear_pointer(&root, tc_free);
	fixture_stop(&f);
}

static void per_uid_max(struct vs_cfg *cfg)
{
	cfg->control_clients_per_uid = VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS;
}

/*
 * However many clients other users open, root (the libvirt hook) still
 * gets VS_CTL_RESERVED_CLIENTS slots
 */
static void test_reserved(void)
{
	const unsigned int shared = VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS;
	struct fixture f = { 0 };
	g_autoptr(GPtrArray) a = NULL;
	g_autoptr(GPtrArray) b = NULL;
	g_autoptr(GPtrArray) root = g_ptr_array_new_with_free_func((GDestroyNotify)tc_free);
	g_autofree char *full = g_strdup_printf("Too many clients: the limit is %u, of which %u are "
						"kept for root and the daemon's user",
						VS_CTL_MAX_CLIENTS, VS_CTL_RESERVED_CLIENTS);
	g_autofree char *ret = NULL;
	struct tclient *extra;
	unsigned int i;

	if (!need_root())
		return;
	fixture_start_with(&f, per_uid_max);
	open_to_all(&f);
	a = connect_as(f.path, TEST_UID_A, shared + 1);
	for (i = 0; i < shared; i++)
		assert_greeted(a->pdata[i]);
	assert_refused(a->pdata[shared], full);
	b = connect_as(f.path, TEST_UID_B, 1);	/* no slot left for any other user */
	assert_refused(b->pdata[0], full);
	for (i = 0; i < VS_CTL_RESERVED_CLIENTS; i++) {
		g_ptr_array_add(root, tc_connect(f.path));
		assert_greeted(root->pdata[i]);
	}
	extra = tc_connect(f.path);	/* past VS_CTL_MAX_CLIENTS: root too */
	assert_refused(extra, "Too many clients: the limit is 64");
	tc_free(extra);

	ret = tc_cmd(root->pdata[0], "{\"execute\": \"qmp_capabilities\"}");
	g_assert_cmpstr(ret, ==, "{\"return\": {}}");
	g_assert_cmpint(tc_control_stat(root->pdata[0], "clients"), ==, VS_CTL_MAX_CLIENTS);
	g_assert_cmpint(tc_control_stat(root->pdata[0], "clients-privileged"), ==,
			VS_CTL_RESERVED_CLIENTS);
	g_assert_cmpint(tc_control_stat(root->pdata[0], "clients-rejected"), ==, 3);
	g_assert_cmpint(tc_control_stat(root->pdata[0], "clients-rejected-per-uid"), ==, 0);
	g_clear_pointer(&a, g_ptr_array_unref);
	g_clear_pointer(&b, g_ptr_array_unref);
	g_clear_pointer(&root, g_ptr_array_unref);
	fixture_stop(&f);
}

/* ctl_admit() alone, on made-up sessions: runs without root */
static void test_admit(void)
{
	static struct vs_ctl_session fake[VS_CTL_MAX_CLIENTS];
	const unsigned int shared = VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS;
	struct fixture f = { 0 };
	unsigned int i;

	fixture_start(&f);
	g_assert_cmpint(ctl_admit(1000, false, 16), ==, CTL_ADMIT_OK);
	for (i = 0; i < 16; i++) {
		fake[i].uid = 1000;
		g_ptr_array_add(ctl.clients, &fake[i]);
	}
	g_assert_cmpint(ctl_admit(1000, false, 16), ==, CTL_ADMIT_UID_FULL);	/* 16th + 1 */
	g_assert_cmpint(ctl_admit(1000, false, 17), ==, CTL_ADMIT_OK);
	g_assert_cmpint(ctl_admit(1001, false, 16), ==, CTL_ADMIT_OK);
	g_assert_cmpint(ctl_admit(0, true, 16), ==, CTL_ADMIT_OK);
	for (; i < shared; i++) {
		fake[i].uid = 2000 + i;
		g_ptr_array_add(ctl.clients, &fake[i]);
	}
	g_assert_cmpint(ctl_admit(3000, false, 16), ==, CTL_ADMIT_SHARED_FULL);
	g_assert_cmpint(ctl_admit(0, true, 16), ==, CTL_ADMIT_OK);
	for (; i < VS_CTL_MAX_CLIENTS - 1; i++) {
		fake[i].uid = 0;
		fake[i].privileged = true;
		g_ptr_array_add(ctl.clients, &fake[i]);
	}
	g_assert_cmpint(ctl_admit(0, true, 16), ==, CTL_ADMIT_OK);	/* the 64th */
	fake[i].privileged = true;
	g_ptr_array_add(ctl.clients, &fake[i]);
	g_assert_cmpint(ctl_admit(0, true, 16), ==, CTL_ADMIT_FULL);
	g_assert_cmpint(ctl_admit(3000, false, 16), ==, CTL_ADMIT_FULL);
	g_ptr_array_set_size(ctl.clients, 0);	/* not real sessions: nothing to close */
	fixture_stop(&f);
}

/* ------------------------------------------------------------------ */
/* vshimctl against this server                                         */
/* ------------------------------------------------------------------ */

struct run_result {
	bool done;
	int status;
	char *out;
	char *err;
};

static void run_done_cb(GObject *src, GAsyncResult *res, gpointer opaque)
{
	struct run_result *r = opaque;
	g_autoptr(GError) err = NULL;

	g_subprocess_communicate_utf8_finish(G_SUBPROCESS(src), res, &r->out, &r->err, &err);
	g_assert_no_error(err);
	r->status = g_subprocess_get_if_exited(G_SUBPROCESS(src)) ?
		    g_subprocess_get_exit_status(G_SUBPROCESS(src)) : -1;
	r->done = true;
}

/*
 * run_vshimctl() - run the tool while this process serves its requests
 *
 * Return: exit status; *out gets stdout (g_free it)
 */
static int run_vshimctl(const char *sock, char **out, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) err = NULL;
	struct run_result r = { 0 };
	gint64 deadline = g_get_monotonic_time() + TEST_TIMEOUT_US;
	const char *arg;
	va_list ap;

	/* the interpreter meson resolved (tests/meson.build says why), else python3 */
	g_ptr_array_add(argv, (gpointer)(g_getenv("VSHIM_PYTHON") ? g_getenv("VSHIM_PYTHON")
							   : "python3"));
	g_ptr_array_add(argv, (gpointer)g_getenv("VSHIMCTL"));
	g_ptr_array_add(argv, (gpointer)"-s");
	g_ptr_array_add(argv, (gpointer)sock);
	va_start(ap, out);
	while ((arg = va_arg(ap, const char *)))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	p = g_subprocess_newv((const char *const *)argv->pdata,
			      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
			      &err);
	g_assert_no_error(err);
	g_subprocess_communicate_utf8_async(p, NULL, NULL, run_done_cb, &r);
	while (!r.done) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(500);
	}
	if (g_test_verbose())
		g_printerr("vshimctl: %d\n%s%s", r.status, r.out, r.err);
	g_free(r.err);
	*out = r.out;
	return r.status;
}

/* An integer member of the JSON object @text (vshimctl --json output) */
static gint64 json_member_int(const char *text, const char *member)
{
	g_autoptr(JsonParser) p = json_parser_new();
	JsonNode *root;

	g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
	root = json_parser_get_root(p);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	return json_object_get_int_member(json_node_get_object(root), member);
}

static void test_vshimctl(void)
{
	struct fixture f = { 0 };
	g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL, *o5 = NULL;
	g_autofree char *o6 = NULL, *o7 = NULL, *o8 = NULL, *o9 = NULL;
	g_autofree char *o10 = NULL, *o11 = NULL, *o12 = NULL, *o13 = NULL;
	g_autofree char *o14 = NULL, *o15 = NULL, *o16 = NULL, *o17 = NULL;
	g_autofree char *nosock = NULL, *s7 = NULL;
	g_autofree char *uid_line = NULL;
	g_autofree char *python = g_find_program_in_path("python3");

	if (!g_getenv("VSHIMCTL") || !python) {
		g_test_skip("needs python3 and VSHIMCTL (run through meson test)");
		return;
	}
	fixture_start(&f);
	nosock = g_build_filename(f.dir, "nothing.sock", NULL);

	g_assert_cmpint(run_vshimctl(f.path, &o1, "--json", "version", NULL), ==, 0);
	g_assert_nonnull(strstr(o1, "\"package\": \"vhost-shim 0.1.0\""));
	s7 = g_build_filename(f.dir, "s7", NULL);	/* in socket-dir */
	g_assert_cmpint(run_vshimctl(f.path, &o2, "port-add", "vm7", "--socket", s7, "--mac",
				     "52:54:00:00:00:07", "--uplink", "net_null0", "--queues", "2",
				     "--tcp-on-loss", "reset", NULL), ==, 0);
	g_assert_cmpint(vs_vm_find_by_name("vm7")->cfg->tcp_on_loss, ==, VS_TCP_ON_LOSS_RESET);
	g_assert_cmpint(run_vshimctl(f.path, &o3, "ports", NULL), ==, 0);
	g_assert_nonnull(strstr(o3, "vm7"));
	g_assert_nonnull(strstr(o3, "52:54:00:00:00:07"));
	g_assert_nonnull(strstr(o3, "waiting"));
	g_assert_cmpint(run_vshimctl(f.path, &o4, "stats", "vm7", NULL), ==, 0);
	g_assert_nonnull(strstr(o4, "rx-pkts"));
	g_assert_cmpint(run_vshimctl(f.path, &o5, "port-del", "nope", NULL), ==, 1);
	g_assert_cmpint(run_vshimctl(f.path, &o6, "raw", "query-stats", "{\"port\": \"vm7\"}",
				     NULL), ==, 0);
	g_assert_nonnull(strstr(o6, "\"name\": \"vm7\""));
	/* expect --vm-uuid/--vm-name: checked by the daemon, shown by migration */
	g_assert_cmpint(run_vshimctl(f.path, &o10, "expect", "vm7", "--vm-uuid", "x", NULL), ==, 1);
	g_assert_cmpint(run_vshimctl(f.path, &o11, "expect", "vm7", "hostb", "--vm-uuid",
				     "6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11", "--vm-name", "web-01",
				     NULL), ==, 0);
	g_assert_cmpstr(vs_vm_find_by_name("vm7")->mig.vm_uuid, ==,
			"6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11");
	g_assert_cmpint(run_vshimctl(f.path, &o12, "migration", "vm7", NULL), ==, 0);
	g_assert_nonnull(strstr(o12, "dst-expecting"));
	g_assert_nonnull(strstr(o12, "web-01"));
	/* control-stats: this server's own counters, each run one more client */
	g_assert_cmpint(run_vshimctl(f.path, &o13, "control-stats", NULL), ==, 0);
	g_assert_nonnull(strstr(o13, "clients-accepted"));
	g_assert_nonnull(strstr(o13, "unknown-commands"));
	/* clients-per-uid, an object, as UID=N: this run is the only client */
	uid_line = g_strdup_printf("clients-per-uid        %u=1\n", (unsigned)getuid());
	g_assert_nonnull(strstr(o13, uid_line));
	g_assert_cmpint(run_vshimctl(f.path, &o14, "--json", "control-stats", NULL), ==, 0);
	g_assert_cmpint(run_vshimctl(f.path, &o15, "--json", "control-stats", NULL), ==, 0);
	g_assert_cmpint(json_member_int(o15, "clients-accepted"), ==,
			json_member_int(o14, "clients-accepted") + 1);
	/* the 11th vshimctl run on this server */
	g_assert_cmpint(json_member_int(o14, "clients-accepted"), ==, 11);
	/* reset-flows: the port's tcp-on-loss says what happens */
	g_assert_cmpint(run_vshimctl(f.path, &o16, "reset-flows", "vm7", NULL), ==, 0);
	g_assert_nonnull(strstr(o16, "vm7: TCP peers being reset"));
	g_assert_cmpint(run_vshimctl(f.path, &o17, "reset-flows", "nope", NULL), ==, 1);
	g_assert_cmpint(run_vshimctl(f.path, &o7, "no-such-subcommand", NULL), ==, 2);
	g_assert_cmpint(run_vshimctl(nosock, &o8, "version", NULL), ==, 3);
	g_assert_cmpint(run_vshimctl(f.path, &o9, "port-del", "vm7", NULL), ==, 0);
	g_assert_null(vs_vm_find_by_name("vm7"));
	fixture_stop(&f);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	vs_log_set_level(g_test_verbose() ? VS_LOG_DEBUG : VS_LOG_ERR);
	test_cfgs = g_ptr_array_new_with_free_func((GDestroyNotify)vs_cfg_free);

	g_test_add_func("/control/socket/mode", test_socket_mode);
	g_test_add_func("/control/socket/dir", test_socket_dir);
	g_test_add_func("/control/socket/existing", test_socket_existing);
	g_test_add_func("/control/socket/foreign-owner", test_socket_foreign_owner);
	g_test_add_func("/control/socket/group", test_socket_group);
	g_test_add_func("/control/socket/no-tcp", test_no_tcp);
	g_test_add_func("/control/limits/clients", test_max_clients);
	g_test_add_func("/control/limits/per-uid", test_per_uid);
	g_test_add_func("/control/limits/reserved", test_reserved);
	g_test_add_func("/control/limits/admit", test_admit);
	g_test_add_func("/control/vshimctl", test_vshimctl);
	rc = g_test_run();
	g_ptr_array_unref(test_cfgs);
	return rc;
}
