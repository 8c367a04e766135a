/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl_harness.h - what the control socket's unit tests share
 *
 * Theory of operation: the real control socket (control*.c) runs on the
 * default GMainContext with the real port registry, port.c replaced by
 * tests/stubs/stubs_port.c (ports are plain structs, nothing touches EAL)
 * and handover.c and tunnel.c by tests/stubs/stubs_mig.c.  A fixture is a
 * control socket in a fresh temporary directory, which is also the
 * socket-dir that port-add holds ports to, with a configuration that
 * outlives it (struct fixture).  A test client (struct tclient) is a
 * non-blocking unix socket; waiting for a reply means iterating the main
 * context and reading whatever arrived, each wait bounded by
 * TEST_TIMEOUT_US so that a bug fails a check instead of hanging.
 */
#ifndef VS_CTL_HARNESS_H
#define VS_CTL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "config.h"
#include "vm.h"

/* Safety bound of each wait; VS_TEST_TIME_SCALE stretches it (valgrind) */
#define TEST_TIMEOUT_US	(10 * G_USEC_PER_SEC * test_time_scale())

/* Besides the defaults the fixture allows net_null and a driver "fail",
 * which the stub port fails to open (tests/stubs/stubs_port.c) */
#define TEST_UPLINK_DRIVERS VS_DEFAULT_UPLINK_DRIVERS " net_null fail:"

/**
 * test_time_scale() - VS_TEST_TIME_SCALE, at least 1
 *
 * Return: the factor
 */
gint64 test_time_scale(void);

/**
 * test_cfg_new() - a daemon configuration for a control socket at @path
 * whose ports live in @dir (socket-dir), uplinks TEST_UPLINK_DRIVERS
 * @dir:	socket-dir
 * @path:	control-socket
 *
 * Return: new configuration (vs_cfg_free() it)
 */
struct vs_cfg *test_cfg_new(const char *dir, const char *path);

/**
 * stub_port() - add a stub port from a --port spec (no reach check)
 * @spec:	the spec
 *
 * Return: the port
 */
struct vs_vm *stub_port(const char *spec);

/**
 * struct fixture - a control socket in a temporary directory
 * @dir:	the directory: socket-dir too; holds "link.sock" (a symbolic
 *		link out of it) and "file.sock" (a regular file)
 * @path:	the control socket, @dir/control.sock
 * @cfg:	its configuration
 */
struct fixture {
	char *dir;
	char *path;
	struct vs_cfg *cfg;
};

/* Start with the defaults (test_cfg_new()), or with @cfg's changes made
 * by @tweak (may be NULL) before the start */
void fixture_start(struct fixture *f);
void fixture_start_with(struct fixture *f, void (*tweak)(struct vs_cfg *cfg));
/* Stop, remove the ports, check the socket is gone, remove @dir */
void fixture_stop(struct fixture *f);

/**
 * struct tclient - a test client
 * @fd:		non-blocking socket
 * @in:		received, not yet consumed
 * @eof:	the server closed
 */
struct tclient {
	int fd;
	GString *in;
	bool eof;
};

void tc_free(struct tclient *c);
typedef struct tclient tclient;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(tclient, tc_free)

struct tclient *tc_connect_fd(int fd);
struct tclient *tc_connect(const char *path);
/* Let the server run once and take what it sent; true if anything happened */
bool tc_pump(struct tclient *c);
/* tc_pump(), or a short sleep if nothing happened */
void tc_idle(struct tclient *c);
/* Send @len bytes in pieces of @chunk, serving meanwhile */
void tc_send(struct tclient *c, const char *buf, size_t len, size_t chunk);
void tc_send_str(struct tclient *c, const char *s);
/* The next line without its CRLF (g_free it), NULL at end of stream */
char *tc_line(struct tclient *c);
/* The next line that is not an event */
char *tc_reply(struct tclient *c);
/* Send one request (LF added), return its reply */
char *tc_cmd(struct tclient *c, const char *json);
/* Read the greeting and run qmp_capabilities */
void tc_negotiate(struct tclient *c);
void tc_wait_eof(struct tclient *c);
/* Let the server run 50 ms: for "nothing more arrives" checks */
void tc_settle(struct tclient *c);
/* One integer member of a query-control-stats reply, through @c */
gint64 tc_control_stat(struct tclient *c, const char *name);

#endif /* VS_CTL_HARNESS_H */
