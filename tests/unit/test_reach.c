/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_reach.c - what a port may reach (reach.c): the uplink allow-list,
 * socket paths in socket-dir, and the one removal of a stale socket
 *
 * Theory of operation: each case builds a configuration whose socket-dir
 * is a fresh temporary directory, so the socket checks see real files:
 * sockets bound here (live while listening, stale once closed), a
 * symbolic link, a regular file, a hard link to the control socket.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "config.h"
#include "reach.h"

struct env {
	char *dir;
	char *control;
	struct vs_cfg *cfg;
};

static void env_init(struct env *e)
{
	e->dir = g_dir_make_tmp("vs-reach-XXXXXX", NULL);
	g_assert_nonnull(e->dir);
	e->control = g_build_filename(e->dir, "control.sock", NULL);
	e->cfg = vs_cfg_new();
	g_free(e->cfg->socket_dir);
	e->cfg->socket_dir = g_strdup(e->dir);
	g_free(e->cfg->control_path);
	e->cfg->control_path = g_strdup(e->control);
}

/* Remove what the test left in the directory, then the directory */
static void env_clear(struct env *e)
{
	g_autoptr(GDir) d = g_dir_open(e->dir, 0, NULL);
	const char *name;

	while ((name = g_dir_read_name(d))) {
		g_autofree char *p = g_build_filename(e->dir, name, NULL);

		g_assert_cmpint(unlink(p), ==, 0);
	}
	g_assert_cmpint(g_rmdir(e->dir), ==, 0);
	vs_cfg_free(e->cfg);
	g_free(e->control);
	g_free(e->dir);
}

/* A unix socket bound at @path, listening if @listen (else stale once closed) */
static int bind_at(const char *path, bool listen_too)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
	if (listen_too)
		g_assert_cmpint(listen(fd, 1), ==, 0);
	return fd;
}

static void uplink_ok(const struct vs_cfg *cfg, const char *devargs)
{
	g_autoptr(GError) err = NULL;

	if (!vs_reach_check_uplink(cfg, devargs, &err))
		g_error("'%s' refused: %s", devargs, err->message);
}

static void uplink_bad(const struct vs_cfg *cfg, const char *devargs, const char *needle)
{
	g_autoptr(GError) err = NULL;

	if (vs_reach_check_uplink(cfg, devargs, &err))
		g_error("'%s' accepted", devargs);
	if (!strstr(err->message, needle))
		g_error("'%s': '%s' does not say '%s'", devargs, err->message, needle);
}

/* The default allow-list: each driver's keys, and what it leaves out */
static void test_default_drivers(void)
{
	struct env e;
	g_autofree char *sw = NULL, *s = NULL;

	env_init(&e);
	sw = g_build_filename(e.dir, "sw.sock", NULL);
	uplink_ok(e.cfg, "net_tap0");
	uplink_ok(e.cfg, "net_tap0,iface=vsh-vm1,mac=52:54:00:00:00:01");
	uplink_ok(e.cfg, "net_tap_vm1-0,iface=vm1-0,mac=fixed");
	uplink_ok(e.cfg, "net_af_packet0,iface=veth0.10,qpairs=8,blocksz=1048576,framesz=65536,"
		  "framecnt=65536,qdisc_bypass=0");
	s = g_strdup_printf("net_virtio_user0,path=%s,server=1,queues=8,cq=1,queue_size=32768,"
			    "mac=52:54:00:00:00:02,mrg_rxbuf=0,in_order=1,packed_vq=1,vectorized=0,"
			    "speed=100000", sw);
	uplink_ok(e.cfg, s);
	uplink_ok(e.cfg, "0000:03:00.0");
	uplink_ok(e.cfg, "03:00.1");

	uplink_bad(e.cfg, "net_pcap0,tx_pcap=/etc/shadow", "not of an allowed driver");
	uplink_bad(e.cfg, "net_pcap0", "not of an allowed driver");
	uplink_bad(e.cfg, "eth_tap0,iface=x", "not of an allowed driver");	/* DPDK alias */
	uplink_bad(e.cfg, "net_null0", "not of an allowed driver");
	uplink_bad(e.cfg, "vdev:net_tap0", "not of an allowed driver");
	uplink_bad(e.cfg, "net_tap0;x,iface=a", "not of an allowed driver");
	uplink_bad(e.cfg, "", "not of an allowed driver");
	uplink_bad(e.cfg, "net_tap0,remote=eth0", "key 'remote' is not allowed for net_tap "
		   "(allowed: iface, mac)");
	uplink_bad(e.cfg, "net_tap0,persist=1", "key 'persist'");
	uplink_bad(e.cfg, "net_tap0,iface=a,,mac=fixed", "key '' is not allowed");
	uplink_bad(e.cfg, "net_tap0,iface=", "key 'iface' needs a value");
	uplink_bad(e.cfg, "net_tap0,iface=a,iface=a", "given twice");
	uplink_bad(e.cfg, "net_tap0,iface=a b", "not an interface name");
	uplink_bad(e.cfg, "net_tap0,iface=..", "not an interface name");
	uplink_bad(e.cfg, "net_tap0,iface=[a", "not an interface name");
	uplink_bad(e.cfg, "net_tap0,mac=52:54:00:00:00:0g", "not a MAC address or 'fixed'");
	uplink_bad(e.cfg, "net_af_packet0,qpairs=9", "not an integer in 0..8");
	uplink_bad(e.cfg, "net_af_packet0,framecnt=65537", "0..65536");
	uplink_bad(e.cfg, "net_af_packet0,qpairs=-1", "0..8");
	uplink_bad(e.cfg, "net_af_packet0,qpairs=0x1", "0..8");
	uplink_bad(e.cfg, "net_af_packet0,qdisc_bypass=2", "not 0 or 1");
	uplink_bad(e.cfg, "net_virtio_user0,path=/dev/vhost-net", "outside socket-dir");
	uplink_bad(e.cfg, "net_virtio_user0,path=/dev/vhost-vdpa-0", "outside socket-dir");
	uplink_bad(e.cfg, "net_virtio_user0,interface_name=tap0", "key 'interface_name'");
	uplink_bad(e.cfg, "0000:03:00.0,fw_path=/lib", "key 'fw_path' is not allowed for pci "
		   "(allowed: none)");
	uplink_bad(e.cfg, "0000:03:00", "not of an allowed driver");
	env_clear(&e);
}

/* Limits: each at its maximum and one past it */
static void test_limits(void)
{
	struct env e;
	g_autofree char *pad = NULL, *s = NULL;
	g_autofree char *name = NULL;

	env_init(&e);
	uplink_ok(e.cfg, "net_tap0,iface=abcdefghijklmno");		/* 15 */
	uplink_bad(e.cfg, "net_tap0,iface=abcdefghijklmnop", "1-15");	/* 16 */
	/* devargs: 512 bytes, then 513 */
	pad = g_strnfill(VS_REACH_MAX_DEVARGS - strlen("net_tap0,iface=a"), '0');
	s = g_strdup_printf("net_tap%s,iface=a", pad);	/* a long device name: 63 at most */
	uplink_bad(e.cfg, s, "not of an allowed driver");
	g_clear_pointer(&s, g_free);
	name = g_strnfill(63 - strlen("net_tap"), '1');
	s = g_strdup_printf("net_tap%s", name);
	uplink_ok(e.cfg, s);
	g_clear_pointer(&s, g_free);
	s = g_strdup_printf("net_tap%s1", name);
	uplink_bad(e.cfg, s, "not of an allowed driver");
	g_clear_pointer(&s, g_free);
	g_free(pad);
	pad = g_strnfill(VS_REACH_MAX_DEVARGS - strlen("net_tap0,iface=a,mac=fixed"), ',');
	s = g_strdup_printf("net_tap0,iface=a%s,mac=fixed", pad);	/* empty keys */
	g_assert_cmpuint(strlen(s), ==, VS_REACH_MAX_DEVARGS);
	uplink_bad(e.cfg, s, "key '' is not allowed");
	g_clear_pointer(&s, g_free);
	s = g_strdup_printf("net_tap0,iface=a%s,,mac=fixed", pad);
	uplink_bad(e.cfg, s, "longer than 512 bytes");
	env_clear(&e);
}

/* Entries DRIVER:KEY,KEY; uplink-interfaces; the syntax of both */
static void test_admin_entries(void)
{
	struct env e;
	g_autoptr(GError) err = NULL;
	g_autofree char *tok = NULL, *s = NULL;
	static const struct {
		const char *drivers, *needle;
	} bad[] = {
		{ "net_tpa", "not a driver vhost-shim knows" },
		{ "net_pcap", "list its keys yourself as net_pcap:KEY,KEY" },
		{ "Net_Tap", "not a driver name" },
		{ "net_tap net_tap:iface", "listed twice" },
		{ "net_tap:iface=x", "not a key name" },
		{ "net_tap:a,,b", "'' is not a key name" },
	};
	size_t i;

	env_init(&e);
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_free(e.cfg->uplink_drivers);
		e.cfg->uplink_drivers = g_strdup(bad[i].drivers);
		g_assert_false(vs_reach_check_cfg(e.cfg, &err));
		if (!strstr(err->message, bad[i].needle))
			g_error("'%s': '%s' does not say '%s'", bad[i].drivers, err->message,
				bad[i].needle);
		g_clear_error(&err);
	}
	g_free(e.cfg->uplink_drivers);
	e.cfg->uplink_drivers = g_strdup("net_tap:iface net_ring:nodeaction fail:\tpci:devargs_x");
	g_assert_true(vs_reach_check_cfg(e.cfg, &err));
	uplink_ok(e.cfg, "net_tap1,iface=a");
	uplink_bad(e.cfg, "net_tap1,mac=fixed", "key 'mac' is not allowed for net_tap "
		   "(allowed: iface)");	/* narrowed */
	uplink_ok(e.cfg, "net_ring0,nodeaction=r0:0:CREATE");
	uplink_bad(e.cfg, "net_ring0,nodeaction=/etc/x", "plain tokens, never paths");
	tok = g_strnfill(VS_REACH_MAX_TOKEN, 'x');
	s = g_strdup_printf("net_ring0,nodeaction=%s", tok);
	uplink_ok(e.cfg, s);
	g_clear_pointer(&s, g_free);
	s = g_strdup_printf("net_ring0,nodeaction=%sx", tok);
	uplink_bad(e.cfg, s, "1-64 of");
	uplink_ok(e.cfg, "fail");
	uplink_bad(e.cfg, "fail,x=1", "(allowed: none)");
	uplink_ok(e.cfg, "0000:03:00.0,devargs_x=1");
	{
		g_autofree char *d = vs_reach_describe_drivers(e.cfg);

		g_assert_cmpstr(d, ==, "net_tap (iface), net_ring (nodeaction), fail (none), "
			       "pci (devargs_x)");
	}

	g_free(e.cfg->uplink_interfaces);
	e.cfg->uplink_interfaces = g_strdup("vsh-* vm?-up");
	g_assert_true(vs_reach_check_cfg(e.cfg, &err));
	uplink_ok(e.cfg, "net_tap1,iface=vsh-web01");
	uplink_ok(e.cfg, "net_tap1,iface=vm7-up");
	uplink_bad(e.cfg, "net_tap1,iface=eth0", "matches none of uplink-interfaces "
		   "(vsh-* vm?-up)");
	g_free(e.cfg->uplink_interfaces);
	e.cfg->uplink_interfaces = g_strdup("eth/0");
	g_assert_false(vs_reach_check_cfg(e.cfg, &err));
	g_assert_nonnull(strstr(err->message, "uplink-interfaces"));
	g_clear_error(&err);

	/* socket-dir must be a normal absolute directory */
	{
		static const char *const dirs[] = { "/", "rel", "/a/", "/a//b", "/a/./b", "/a/..",
						    "" };

		for (i = 0; i < G_N_ELEMENTS(dirs); i++) {
			g_free(e.cfg->socket_dir);
			e.cfg->socket_dir = g_strdup(dirs[i]);
			g_assert_false(vs_reach_check_cfg(e.cfg, &err));
			g_assert_nonnull(strstr(err->message, "socket-dir"));
			g_clear_error(&err);
		}
		g_free(e.cfg->socket_dir);
		e.cfg->socket_dir = g_strdup(e.dir);
	}
	env_clear(&e);
}

static void socket_bad(const struct vs_cfg *cfg, const char *path, bool listen_too,
		       const char *needle)
{
	g_autoptr(GError) err = NULL;

	if (vs_reach_check_socket(cfg, path, listen_too, &err))
		g_error("socket '%s' accepted", path);
	if (!strstr(err->message, needle))
		g_error("'%s': '%s' does not say '%s'", path, err->message, needle);
}

/* Socket paths: in socket-dir, not the control socket, nothing but a socket */
static void test_sockets(void)
{
	struct env e;
	g_autoptr(GError) err = NULL;
	g_autofree char *ok = NULL, *lnk = NULL, *file = NULL, *stale = NULL, *alias = NULL;
	g_autofree char *p = NULL, *longest = NULL;
	int ctl_fd, fd;

	env_init(&e);
	ok = g_build_filename(e.dir, "vm1.sock", NULL);
	lnk = g_build_filename(e.dir, "link.sock", NULL);
	file = g_build_filename(e.dir, "file.sock", NULL);
	stale = g_build_filename(e.dir, "stale.sock", NULL);
	alias = g_build_filename(e.dir, "alias.sock", NULL);
	ctl_fd = bind_at(e.control, true);
	g_assert_cmpint(symlink(stale, lnk), ==, 0);
	g_assert_true(g_file_set_contents(file, "", 0, NULL));
	close(bind_at(stale, false));
	g_assert_cmpint(link(e.control, alias), ==, 0);	/* the control socket, renamed */

	g_assert_true(vs_reach_check_socket(e.cfg, ok, true, &err));	/* nothing there */
	g_assert_true(vs_reach_check_socket(e.cfg, stale, true, &err));
	socket_bad(e.cfg, e.control, true, "is the control socket");
	socket_bad(e.cfg, e.control, false, "is the control socket");
	socket_bad(e.cfg, alias, false, "is the control socket");
	socket_bad(e.cfg, lnk, false, "is a symbolic link");
	socket_bad(e.cfg, file, false, "exists and is not a socket");
	socket_bad(e.cfg, "/tmp/vm1.sock", false, "outside socket-dir");
	p = g_strdup_printf("%s/../vm1.sock", e.dir);
	socket_bad(e.cfg, p, false, "directly in socket-dir");
	g_clear_pointer(&p, g_free);
	p = g_strdup_printf("%s/./vm1.sock", e.dir);
	socket_bad(e.cfg, p, false, "directly in socket-dir");
	g_clear_pointer(&p, g_free);
	p = g_strdup_printf("%s/", e.dir);
	socket_bad(e.cfg, p, false, "directly in socket-dir");
	g_clear_pointer(&p, g_free);
	p = g_strdup_printf("%s2/vm1.sock", e.dir);	/* a sibling with the same prefix */
	socket_bad(e.cfg, p, false, "outside socket-dir");
	/* the longest path sun_path holds, and one more byte */
	longest = g_strdup_printf("%s/%0*d", e.dir, (int)(VS_REACH_MAX_PATH - strlen(e.dir) - 1),
				  0);
	g_assert_cmpuint(strlen(longest), ==, VS_REACH_MAX_PATH);
	g_assert_true(vs_reach_check_socket(e.cfg, longest, true, &err));
	g_clear_pointer(&p, g_free);
	p = g_strdup_printf("%s0", longest);
	socket_bad(e.cfg, p, false, "longer than 107 bytes");

	/* another user's socket: fine to connect to, not to listen at */
	if (!geteuid()) {
		g_assert_cmpint(chown(stale, 4242, (gid_t)-1), ==, 0);
		g_assert_true(vs_reach_check_socket(e.cfg, stale, false, &err));
		socket_bad(e.cfg, stale, true, "belongs to uid 4242");
		g_assert_cmpint(chown(stale, 0, (gid_t)-1), ==, 0);
	}
	fd = bind_at(ok, true);
	close(fd);
	close(ctl_fd);
	env_clear(&e);
}

/* vs_reach_clear_stale(): removes a stale socket of ours, nothing else */
static void test_clear_stale(void)
{
	struct env e;
	g_autoptr(GError) err = NULL;
	g_autofree char *live = NULL, *stale = NULL, *file = NULL, *absent = NULL;
	int ctl_fd, live_fd;

	env_init(&e);
	live = g_build_filename(e.dir, "live.sock", NULL);
	stale = g_build_filename(e.dir, "stale.sock", NULL);
	file = g_build_filename(e.dir, "file.sock", NULL);
	absent = g_build_filename(e.dir, "absent.sock", NULL);
	ctl_fd = bind_at(e.control, true);
	live_fd = bind_at(live, true);
	close(bind_at(stale, false));
	g_assert_true(g_file_set_contents(file, "x", 1, NULL));

	/* no configuration set: nothing is ever removed */
	vs_reach_set_cfg(NULL);
	g_assert_false(vs_reach_clear_stale(stale, &err));
	g_assert_nonnull(strstr(err->message, "no socket-dir configured"));
	g_clear_error(&err);
	g_assert_true(g_file_test(stale, G_FILE_TEST_EXISTS));

	vs_reach_set_cfg(e.cfg);
	g_assert_true(vs_reach_clear_stale(absent, &err));
	g_assert_true(vs_reach_clear_stale(stale, &err));
	g_assert_false(g_file_test(stale, G_FILE_TEST_EXISTS));	/* removed */
	g_assert_false(vs_reach_clear_stale(live, &err));
	g_assert_nonnull(strstr(err->message, "in use by a running process"));
	g_clear_error(&err);
	g_assert_false(vs_reach_clear_stale(e.control, &err));
	g_assert_nonnull(strstr(err->message, "is the control socket"));
	g_clear_error(&err);
	g_assert_false(vs_reach_clear_stale(file, &err));
	g_clear_error(&err);
	g_assert_false(vs_reach_clear_stale("/tmp/x.sock", &err));
	g_clear_error(&err);
	/* left alone, all of them */
	g_assert_true(g_file_test(live, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(e.control, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(file, G_FILE_TEST_EXISTS));
	/* the control socket stale (its daemon gone): still never removed */
	close(ctl_fd);
	g_assert_false(vs_reach_clear_stale(e.control, &err));
	g_clear_error(&err);
	g_assert_true(g_file_test(e.control, G_FILE_TEST_EXISTS));
	if (!geteuid()) {	/* another user's stale socket */
		close(bind_at(stale, false));
		g_assert_cmpint(chown(stale, 4242, (gid_t)-1), ==, 0);
		g_assert_false(vs_reach_clear_stale(stale, &err));
		g_assert_nonnull(strstr(err->message, "belongs to uid 4242"));
		g_clear_error(&err);
		g_assert_true(g_file_test(stale, G_FILE_TEST_EXISTS));
	}
	vs_reach_set_cfg(NULL);
	close(live_fd);
	env_clear(&e);
}

/* The configuration's ports go through the same checks (vs_cfg_validate()) */
static void test_config_ports(void)
{
	struct env e;
	g_autoptr(GError) err = NULL;
	g_autofree char *spec = NULL, *text = NULL;

	env_init(&e);
	spec = g_strdup_printf("name=vm1,socket=%s/vm1.sock,mac=52:54:00:00:00:01,"
			       "uplink=net_tap0,iface=t0,remote=eth0", e.dir);
	g_assert_true(vs_cfg_add_port(e.cfg, vs_port_cfg_parse_spec(spec, &err), &err));
	g_assert_false(vs_cfg_validate(e.cfg, &err));
	g_assert_cmpstr(err->message, ==, "port vm1: uplink 'net_tap0,iface=t0,remote=eth0': key "
			"'remote' is not allowed for net_tap (allowed: iface, mac)");
	g_clear_error(&err);
	g_ptr_array_set_size(e.cfg->ports, 0);

	/* [port NAME] before [daemon]: checked with the whole [daemon] known */
	text = g_strdup_printf("[port vm1]\nsocket=%s/vm1.sock\nmac=52:54:00:00:00:01\n"
			       "uplink=net_null0\n[daemon]\nuplink-drivers=net_null\n", e.dir);
	g_assert_true(vs_cfg_load_keyfile(e.cfg, text, strlen(text), &err));
	g_assert_true(vs_cfg_validate(e.cfg, &err));
	g_assert_no_error(err);
	g_ptr_array_set_size(e.cfg->ports, 0);
	g_free(e.cfg->socket_dir);
	e.cfg->socket_dir = g_strdup("/run/vhost-shim-elsewhere");
	g_assert_true(vs_cfg_load_keyfile(e.cfg, text, strlen(text), &err));
	g_assert_false(vs_cfg_validate(e.cfg, &err));
	g_assert_nonnull(strstr(err->message, "is outside socket-dir /run/vhost-shim-elsewhere"));
	g_clear_error(&err);
	g_free(e.cfg->socket_dir);
	e.cfg->socket_dir = g_strdup(e.dir);
	env_clear(&e);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/reach/uplink/default-drivers", test_default_drivers);
	g_test_add_func("/reach/uplink/limits", test_limits);
	g_test_add_func("/reach/uplink/admin-entries", test_admin_entries);
	g_test_add_func("/reach/socket/paths", test_sockets);
	g_test_add_func("/reach/socket/clear-stale", test_clear_stale);
	g_test_add_func("/reach/config-ports", test_config_ports);
	return g_test_run();
}
