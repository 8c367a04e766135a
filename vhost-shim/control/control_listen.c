/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_listen.c - the control socket's listeners: socket files, accepting
 * clients, start and stop
 *
 * Theory of operation: vs_ctl_start() checks the command table and the
 * socket's directory, removes a stale socket file (one nobody answers on;
 * a live one, one another user owns or any other file is an error), then
 * binds, sets the group and mode, and only then listens, so no client ever
 * connects while the permissions are looser than asked.
 *
 * The socket is never writable by every user: its mode is 0600, or 0660
 * with a control group, and is not configurable.  What could still open it
 * to others is refused at startup: a directory that every user can write
 * to without the sticky bit (anyone could replace the socket with their
 * own), an existing socket file owned by another user (theirs, not a stale
 * one of ours), and a mode that did not stick after chmod().  Optionally it also listens on
 * loopback TCP (127.0.0.1 must work, ::1 may be missing).  All listeners
 * belong to one GSocketService on the main loop.
 *
 * An accepted client is refused with one error line past
 * VS_CTL_MAX_CLIENTS; otherwise it becomes a struct vs_ctl_session on
 * ctl.clients (its one reference), its input is armed and it is greeted.
 * From then on it belongs to the session code in control.c.
 *
 * vs_ctl_stop() closes every client and the listeners, and removes the
 * socket file only if it is still the one we created (same device and
 * inode), so a second daemon's socket is never taken away.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "control.h"
#include "control_priv.h"
#include "log.h"
#include "util.h"

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
	/* Not ours: another user's socket, maybe put there to be trusted */
	if (st.st_uid != geteuid()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "%s exists and belongs to uid %u, not to this daemon (uid %u): "
			    "refusing to replace it", path, (unsigned int)st.st_uid,
			    (unsigned int)geteuid());
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
	/* chmod() can be ignored (some FUSE file systems): check what we got */
	if ((st.st_mode & 07777) != mode || (gid != (gid_t)-1 && st.st_gid != gid)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
			    "%s: mode %04o group %u after chmod, wanted %04o: refusing to "
			    "listen", path, (unsigned int)(st.st_mode & 07777),
			    (unsigned int)st.st_gid, (unsigned int)mode);
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
