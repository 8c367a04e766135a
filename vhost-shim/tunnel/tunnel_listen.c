/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_listen.c - the tunnel's listener: pre-authentication slots and
 * the first bytes of an accepted connection
 *
 * Theory of operation: an accepted connection is a stranger until its TLS
 * handshake and HELLO/AUTH are done, and it holds a pre-authentication
 * slot until then (tunnel.h, VS_TUN_PREAUTH_*):
 *   - per remote address, VS_TUN_PREAUTH_PER_SOURCE handshakes at a time;
 *     one more is closed as soon as it is accepted (preauth_refused);
 *   - the addresses that are not a configured peer's share
 *     VS_TUN_PREAUTH_MAX slots; when they are full, the oldest of those
 *     handshakes is closed to make room for the new one
 *     (preauth_evicted).  A configured peer's address is never counted
 *     there, so no flood from elsewhere can take a peer's slots;
 *   - VS_TUN_PREAUTH_DEADLINE_MS to finish (tunnel.c's handshake timer).
 * Once authenticated the connection leaves its slot; authenticated
 * incoming connections are capped at VS_TUN_AUTHED_MAX.  Refusals and
 * evictions are logged at most once a second, with the count of those
 * not logged, so that a flood cannot flood the log.
 *
 * Sniffing: a version-2 peer opens with a TLS ClientHello, a version-1
 * shim in pre-shared-key mode with its HELLO in clear.  The first bytes
 * (up to VS_TUN_SNIFF_LEN, read off the socket into c->first, which the
 * TLS session then reads first) tell them apart (vs_tun_sniff()).  A
 * version-1 peer is answered in its own protocol, ERROR(BAD_VERSION) in
 * clear with a text that says to upgrade, so that both sides log why;
 * anything else is closed.  Waiting for more bytes consumes them, so a
 * peer that sends one byte and stops only waits for its deadline.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"
#include "tunnel_tls.h"

/* --- slots ------------------------------------------------------------------ */

/* A refusal or an eviction: one log line a second at most */
static void listen_log_refusal(struct vs_tun *t, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void listen_log_refusal(struct vs_tun *t, const char *fmt, ...)
{
	gint64 now = g_get_monotonic_time();
	g_autofree char *text = NULL;
	va_list ap;

	if (t->refusal_logged_at && now - t->refusal_logged_at < G_USEC_PER_SEC) {
		t->refusals_unlogged++;
		return;
	}
	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	vs_log(TUN, WARNING, NULL, "%s (%" G_GUINT64_FORMAT " more not logged in the last "
	       "second; counted in query-peers)", text, t->refusals_unlogged);
	t->refusal_logged_at = now;
	t->refusals_unlogged = 0;
}

static unsigned int slot_count(const struct vs_tun *t, const char *src)
{
	return GPOINTER_TO_UINT(g_hash_table_lookup(t->preauth_by_src, src));
}

static void slot_set(struct vs_tun *t, const char *src, unsigned int n)
{
	if (n)
		g_hash_table_insert(t->preauth_by_src, g_strdup(src), GUINT_TO_POINTER(n));
	else
		g_hash_table_remove(t->preauth_by_src, src);
}

bool tun_slot_release(struct tun_conn *c, bool authed)
{
	struct vs_tun *t = c->tun;

	if (c->preauth) {
		c->preauth = false;
		slot_set(t, c->src, slot_count(t, c->src) - 1);
		if (!c->known_src)
			t->n_preauth--;
	}
	if (authed && !c->initiator) {
		if (t->n_authed_in >= VS_TUN_AUTHED_MAX) {
			t->stats.authed_refused++;
			return false;
		}
		t->n_authed_in++;
		c->authed_slot = true;
	} else if (!authed && c->authed_slot) {
		t->n_authed_in--;
		c->authed_slot = false;
	}
	return true;
}

/* Is @a a configured peer's address */
static bool listen_known_src(const struct vs_tun *t, GInetAddress *a)
{
	guint i;

	for (i = 0; i < t->peers->len; i++) {
		const struct tun_peer *p = g_ptr_array_index(t->peers, i);

		if (g_inet_address_equal(g_inet_socket_address_get_address(p->addr), a))
			return true;
	}
	return false;
}

/* Make room: close the oldest handshake from an address that is not a peer's */
static void listen_evict(struct vs_tun *t, const char *why_new)
{
	struct tun_conn *old = NULL;
	GList *l;

	for (l = t->conns; l; l = l->next) {	/* newest first: the last one wins */
		struct tun_conn *c = l->data;

		if (c->preauth && !c->known_src && !c->dead)
			old = c;
	}
	if (!old)
		return;
	t->stats.preauth_evicted++;
	listen_log_refusal(t, "connection %s closed to make room for %s: %d handshakes from "
			   "addresses that are not a peer's", old->desc, why_new,
			   VS_TUN_PREAUTH_MAX);
	tun_conn_close(old, VS_TUN_ERR_TIMEOUT, "pre-authentication slots full");
}

/* "a.b.c.d" for an IPv4-mapped IPv6 address, else its text */
static GInetAddress *listen_plain_addr(GInetAddress *a)
{
	g_autofree char *text = g_inet_address_to_string(a);

	if (g_inet_address_get_family(a) == G_SOCKET_FAMILY_IPV6 &&
	    g_str_has_prefix(text, "::ffff:") && strchr(text, '.'))
		return g_inet_address_new_from_string(text + strlen("::ffff:"));
	return g_object_ref(a);
}

static gboolean listen_accept_cb(GSocket *ls, GIOCondition cond, gpointer data)
{
	struct vs_tun *t = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GSocketAddress) ra = NULL;
	g_autoptr(GInetAddress) ia = NULL;
	g_autofree char *ip = NULL, *desc = NULL;
	GSocket *s = g_socket_accept(ls, NULL, &err);
	struct tun_conn *c;
	bool known;

	if (!s)
		return G_SOURCE_CONTINUE;
	ra = g_socket_get_remote_address(s, NULL);
	if (!ra || !G_IS_INET_SOCKET_ADDRESS(ra)) {
		g_socket_close(s, NULL);
		g_object_unref(s);
		return G_SOURCE_CONTINUE;
	}
	ia = listen_plain_addr(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(ra)));
	ip = g_inet_address_to_string(ia);
	desc = g_strdup_printf("from %s:%u", ip,
			       g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(ra)));
	known = listen_known_src(t, ia);
	if (slot_count(t, ip) >= VS_TUN_PREAUTH_PER_SOURCE) {
		t->stats.preauth_refused++;
		listen_log_refusal(t, "connection %s refused: %d handshakes from %s running",
				   desc, VS_TUN_PREAUTH_PER_SOURCE, ip);
		g_socket_close(s, NULL);
		g_object_unref(s);
		return G_SOURCE_CONTINUE;
	}
	if (!known && t->n_preauth >= VS_TUN_PREAUTH_MAX)
		listen_evict(t, desc);
	t->stats.connections_accepted++;
	c = tun_conn_new(t, s, false, NULL, desc);
	c->preauth = true;
	c->known_src = known;
	g_strlcpy(c->src, ip, sizeof(c->src));
	slot_set(t, ip, slot_count(t, ip) + 1);
	if (!known)
		t->n_preauth++;
	return G_SOURCE_CONTINUE;
}

gboolean tun_listen(struct vs_tun *t, const char *listen, GError **error)
{
	g_autoptr(GInetSocketAddress) la = tun_parse_addr(listen, true, error);
	g_autoptr(GSocket) ls = NULL;

	if (!la)
		return FALSE;
	ls = g_socket_new(g_socket_address_get_family(G_SOCKET_ADDRESS(la)),
			  G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
	if (!ls)
		goto fail;
	/* room for a burst of connections while the loop is busy */
	g_socket_set_listen_backlog(ls, 128);
	if (!g_socket_bind(ls, G_SOCKET_ADDRESS(la), TRUE, error) || !g_socket_listen(ls, error))
		goto fail;
	g_socket_set_blocking(ls, FALSE);
	t->preauth_by_src = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	t->listen_sock = g_steal_pointer(&ls);
	t->listen_src = g_socket_create_source(t->listen_sock, G_IO_IN, NULL);
	g_source_set_callback(t->listen_src, (GSourceFunc)(void (*)(void))listen_accept_cb, t,
			      NULL);
	g_source_attach(t->listen_src, NULL);
	return TRUE;
fail:
	g_prefix_error(error, "tunnel listen %s: ", listen);
	return FALSE;
}

void tun_listen_stop(struct vs_tun *t)
{
	if (t->listen_src) {
		g_source_destroy(t->listen_src);
		g_source_unref(t->listen_src);
		t->listen_src = NULL;
	}
	if (t->listen_sock) {
		g_socket_close(t->listen_sock, NULL);
		g_clear_object(&t->listen_sock);
	}
	g_clear_pointer(&t->preauth_by_src, g_hash_table_destroy);
}

/* --- the first bytes ---------------------------------------------------------- */

/*
 * A version-1 shim: tell it in its own protocol (ERROR in clear), then
 * read what else it sent, so that the close is a FIN and not a reset that
 * could make its kernel drop our ERROR before it is read.
 */
static void listen_refuse_v1(struct tun_conn *c)
{
	g_autoptr(GByteArray) err = g_byte_array_new();
	char sink[512];
	int fd = g_socket_get_fd(c->sock);

	vs_tun_encode_error(err, VS_TUN_ERR_BAD_VERSION, VS_TUN_V1_REFUSAL_TEXT);
	if (send(fd, err->data, err->len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		vs_log(TUN, DEBUG, NULL, "connection %s: ERROR not sent: %s", c->desc,
		       g_strerror(errno));
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	shutdown(fd, SHUT_WR);
	tun_conn_refuse_version(c, 1, false, "its HELLO came in clear, without TLS");
}

void tun_conn_sniff(struct tun_conn *c)
{
	g_autoptr(GError) err = NULL;
	gssize n = g_socket_receive(c->sock, (char *)c->first + c->first_len,
				    sizeof(c->first) - c->first_len, NULL, &err);
	char why[160];

	if (n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
		return;
	if (n <= 0) {
		g_snprintf(why, sizeof(why), "%s after %zu bytes, before any handshake",
			   n < 0 ? err->message : "closed", c->first_len);
		tun_conn_close(c, VS_TUN_OK, why);
		return;
	}
	c->first_len += (size_t)n;
	c->last_rx = g_get_monotonic_time();
	switch (vs_tun_sniff(c->first, c->first_len)) {
	case VS_TUN_SNIFF_MORE:
		return;		/* consumed: the socket is readable only with more */
	case VS_TUN_SNIFF_TLS:
		c->first_off = 0;	/* GnuTLS reads these first */
		tun_sess_start(c);
		return;
	case VS_TUN_SNIFF_V1:
		listen_refuse_v1(c);
		return;
	case VS_TUN_SNIFF_OTHER:
	case VS_TUN_NUM_SNIFFS:
		break;
	}
	c->tun->stats.auth_failures++;
	c->tun->stats.tls_failures++;
	g_snprintf(why, sizeof(why), "not a tunnel peer: its first bytes (%02x %02x ...) are %s",
		   c->first[0], c->first_len > 1 ? c->first[1] : 0,
		   vs_tun_sniff_str(VS_TUN_SNIFF_OTHER));
	tun_conn_close(c, VS_TUN_OK, why);
}
