/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_listen.c - the control socket's listener: the socket file,
 * accepting clients (with their slots), start and stop
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
 * one of ours), and a mode that did not stick after chmod().  There is no
 * TCP listener: it had no access control (any local user could connect,
 * and TCP has no peer credentials for the per-user limit below), so it was
 * removed (docs/hardening.md says why it was not given authentication).
 *
 * Slots: an accepted client gets a slot or is refused with one error line
 * and closed.  Its user comes from the kernel (SO_PEERCRED, taken at
 * connect()).  Root and the daemon's own user ("privileged": the libvirt
 * hook runs as root) may use any of the VS_CTL_MAX_CLIENTS slots; all
 * other users together at most VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS
 * of them, and one user at most [daemon] control-clients-per-uid, so no
 * member of the control group can lock the hook out.  ctl_admit() decides;
 * an admitted client becomes a struct vs_ctl_session on ctl.clients (its
 * one reference), its input is armed and it is greeted.  From then on it
 * belongs to the session code in control.c.
 *
 * vs_ctl_stop() closes every client and the listener, and removes the
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

/*
 * ctl_peer_uid() - the client's user and process, from SO_PEERCRED (which
 * a unix socket always has); (uid_t)-1 if the kernel did not say
 */
static uid_t ctl_peer_uid(GSocket *sock, pid_t *pid)
{
	g_autoptr(GCredentials) cred = g_socket_get_credentials(sock, NULL);

	*pid = 0;
	if (!cred)
		return (uid_t)-1;
	*pid = g_credentials_get_unix_pid(cred, NULL);
	return g_credentials_get_unix_user(cred, NULL);
}

enum ctl_admit ctl_admit(uid_t uid, bool privileged, unsigned int per_uid)
{
	unsigned int i, shared = 0, mine = 0;

	if (ctl.clients->len >= VS_CTL_MAX_CLIENTS)
		return CTL_ADMIT_FULL;
	if (privileged)
		return CTL_ADMIT_OK;
	for (i = 0; i < ctl.clients->len; i++) {
		const struct vs_ctl_session *s = g_ptr_array_index(ctl.clients, i);

		if (s->privileged)
			continue;
		shared++;
		mine += s->uid == uid;
	}
	if (shared >= VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS)
		return CTL_ADMIT_SHARED_FULL;
	if (mine >= per_uid)
		return CTL_ADMIT_UID_FULL;
	return CTL_ADMIT_OK;
}

/*
 * ctl_refuse() - tell a refused client why instead of greeting it (best
 * effort: a new connection's buffer is empty), close it, count and log it
 */
static void ctl_refuse(GSocketConnection *conn, enum ctl_admit why, uint64_t id,
		       const char *peer, uid_t uid, unsigned int per_uid)
{
	GSocket *sock = g_socket_connection_get_socket(conn);
	g_autofree char *desc = NULL;
	g_autofree char *msg = NULL;

	switch (why) {
	case CTL_ADMIT_UID_FULL:
		desc = g_strdup_printf("Too many clients of uid %u: the limit is %u per user",
				       (unsigned int)uid, per_uid);
		ctl.counters.clients_rejected_uid++;
		break;
	case CTL_ADMIT_SHARED_FULL:
		desc = g_strdup_printf("Too many clients: the limit is %u, of which %u are kept "
				       "for root and the daemon's user", VS_CTL_MAX_CLIENTS,
				       VS_CTL_RESERVED_CLIENTS);
		ctl.counters.clients_rejected++;
		break;
	case CTL_ADMIT_FULL:
	case CTL_ADMIT_OK:	/* never called with it */
		desc = g_strdup_printf("Too many clients: the limit is %u", VS_CTL_MAX_CLIENTS);
		ctl.counters.clients_rejected++;
		break;
	}
	msg = g_strdup_printf("{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}\r\n",
			      desc);
	vs_log(CTL, WARNING, NULL, "client %" PRIu64 " rejected (%s): %s", id, peer, desc);
	g_socket_send(sock, msg, strlen(msg), NULL, NULL);
	g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
}

static gboolean ctl_incoming_cb(GSocketService *service, GSocketConnection *conn,
				GObject *source, gpointer opaque)
{
	GSocket *sock = g_socket_connection_get_socket(conn);
	const unsigned int per_uid = ctl.cfg->control_clients_per_uid;
	struct vs_ctl_session *s;
	g_autoptr(vs_ctl_session) hold = NULL;
	g_autoptr(JsonNode) greeting = NULL;
	char peer[64];
	uint64_t id = ++ctl.next_id;
	pid_t pid;
	uid_t uid = ctl_peer_uid(sock, &pid);
	bool privileged = uid == 0 || uid == geteuid();
	enum ctl_admit admit;

	snprintf(peer, sizeof(peer), "pid %ld, uid %ld", (long)pid,
		 uid == (uid_t)-1 ? -1L : (long)uid);
	g_socket_set_blocking(sock, FALSE);
	admit = ctl_admit(uid, privileged, per_uid);
	if (admit != CTL_ADMIT_OK) {
		ctl_refuse(conn, admit, id, peer, uid, per_uid);
		return TRUE;
	}

	s = g_new0(struct vs_ctl_session, 1);
	s->refs = 1;	/* the client list's */
	snprintf(s->name, sizeof(s->name), "client %" PRIu64, id);
	s->conn = g_object_ref(conn);
	s->sock = sock;
	s->outq = g_byte_array_new();
	s->split.buf = g_byte_array_new();
	s->uid = uid;
	s->privileged = privileged;
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

gboolean vs_ctl_start(const struct vs_cfg *cfg, GError **error)
{
	const char *path = cfg->control_path, *group = cfg->control_group;
	const unsigned int per_uid = cfg->control_clients_per_uid;
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
	if (per_uid < 1 || per_uid > VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "control-clients-per-uid %u is not in 1..%u", per_uid,
			    VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS);
		return FALSE;
	}
	if (!ctl_check_dir(path, error) || !ctl_clear_stale(path, error))
		return FALSE;
	sock = ctl_listen_unix(path, group, error);
	if (!sock)
		return FALSE;

	service = g_socket_service_new();
	if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(service), sock, NULL, error)) {
		g_socket_listener_close(G_SOCKET_LISTENER(service));
		unlink(path);
		return FALSE;
	}
	g_signal_connect(service, "incoming", G_CALLBACK(ctl_incoming_cb), NULL);

	memset(&ctl.counters, 0, sizeof(ctl.counters));
	ctl.clients = g_ptr_array_new();
	ctl.cfg = cfg;
	ctl.path = g_strdup(path);
	ctl.service = g_steal_pointer(&service);
	ctl.running = true;
	g_socket_service_start(ctl.service);
	vs_log(CTL, NOTICE, NULL, "listening on %s (mode %s%s): %u clients, at most %u per "
	       "user but root and uid %u", path, group ? "0660, group " : "0600",
	       group ? group : "", VS_CTL_MAX_CLIENTS, per_uid, (unsigned int)geteuid());
	return TRUE;
}

const struct vs_cfg *vs_ctl_config(void)
{
	return ctl.cfg;
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
	ctl.cfg = NULL;
	ctl.running = false;
}
