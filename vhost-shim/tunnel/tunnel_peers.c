/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_peers.c - the tunnel's peers: configuration, the outgoing
 * connection to each peer and its reconnect backoff, EXPECT
 * announcements, init, reload and shutdown
 *
 * Theory of operation: see tunnel.h and tunnel_priv.h.  vs_tun_new() takes
 * the peers and the listen address from its configuration (and
 * vs_tun_add_peer() more peers, vs_tun_peer_upsert() the peers the
 * registry names at run time); nothing connects until there is
 * something to send.  tun_peer_connect() opens a
 * peer's one outgoing connection (a stream or an EXPECT is waiting); a
 * failed connect, or the close of a connection that still has streams or
 * EXPECTs to carry, schedules another with exponential backoff from
 * VS_TUN_RECONNECT_MIN_MS to VS_TUN_RECONNECT_MAX_MS
 * (tun_peer_schedule_reconnect()).  The listener is tunnel_listen.c.
 *
 * Credentials (tunnel_tls.c) are loaded by vs_tun_new() and again by
 * vs_tun_reload(), from the paths kept in t->cred_cfg; each session keeps
 * the credentials it was made with.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"
#include "tunnel_tls.h"
#include "util.h"
#include "config.h"

struct tun_peer *tun_find_peer(const struct vs_tun *t, const char *name)
{
	guint i;

	for (i = 0; t->peers && i < t->peers->len; i++) {
		struct tun_peer *p = g_ptr_array_index(t->peers, i);

		if (!strcmp(p->name, name))
			return p;
	}
	return NULL;
}

bool vs_tun_has_peer(const struct vs_tun *t, const char *peer)
{
	return t && peer && tun_find_peer(t, peer) != NULL;
}

bool vs_tun_peer_connected(const struct vs_tun *t, const char *peer)
{
	struct tun_peer *p = tun_find_peer(t, peer);

	return p && tun_conn_ready(p->conn);
}

/* --- outgoing connections ----------------------------------------------- */

static gboolean tun_reconnect_cb(gpointer data)
{
	struct tun_peer *p = data;

	p->reconnect_timer = 0;
	tun_peer_connect(p);
	return G_SOURCE_REMOVE;
}

void tun_peer_schedule_reconnect(struct tun_peer *p)
{
	p->backoff_ms = p->backoff_ms ? MIN(p->backoff_ms * 2, VS_TUN_RECONNECT_MAX_MS)
				      : VS_TUN_RECONNECT_MIN_MS;
	if (!p->reconnect_timer)
		p->reconnect_timer = g_timeout_add(p->backoff_ms, tun_reconnect_cb, p);
}

void tun_peer_connect(struct tun_peer *p)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *addr = NULL;
	GSocket *sock;

	if (p->conn || p->reconnect_timer)
		return;
	sock = g_socket_new(g_socket_address_get_family(G_SOCKET_ADDRESS(p->addr)),
			    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &err);
	if (!sock) {
		vs_log(TUN, ERR, NULL, "peer %s: socket: %s", p->name, err->message);
		return;
	}
	g_socket_set_blocking(sock, FALSE);
	addr = g_inet_address_to_string(g_inet_socket_address_get_address(p->addr));
	{
		g_autofree char *desc = g_strdup_printf("to %s:%u", addr,
							g_inet_socket_address_get_port(p->addr));
		struct tun_conn *c;
		bool pending;

		pending = !g_socket_connect(sock, G_SOCKET_ADDRESS(p->addr), NULL, &err);
		if (pending && !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_PENDING)) {
			vs_log(TUN, WARNING, NULL, "peer %s: connect %s: %s", p->name, desc,
			       err->message);
			g_object_unref(sock);
			tun_peer_schedule_reconnect(p);
			return;
		}
		c = tun_conn_new(p->tun, sock, true, p, desc);
		p->tun->stats.connections_opened++;
		p->conn = c;
		if (pending)
			tun_conn_watch(c, false, true);	/* the connect's completion */
		else
			tun_sess_start(c);
	}
}

void vs_tun_announce_expect(struct vs_tun *t, const char *vm, const uint8_t mac[6])
{
	guint i, sent = 0;

	if (!t || !t->enabled)
		return;
	for (i = 0; i < t->peers->len; i++) {
		struct tun_peer *p = g_ptr_array_index(t->peers, i);

		/* the registry's peers learn of us through the registry */
		if (p->learned)
			continue;
		sent++;

		if (tun_conn_ready(p->conn)) {
			vs_tun_encode_expect(p->conn->out, mac, vm);
			tun_conn_flush(p->conn);
		} else {
			GByteArray *e = g_byte_array_new();

			vs_tun_encode_expect(e, mac, vm);
			g_queue_push_tail(&p->expects, e);
			tun_peer_connect(p);
		}
	}
	vs_log(TUN, INFO, vm, "announced as expected to %u peer(s)", sent);
}

/*
 * "IP:port" (or "localhost:port"); @any_port: port 0 is allowed, for a
 * listener that takes whatever port is free (the unit tests)
 */
GInetSocketAddress *tun_parse_addr(const char *text, bool any_port, GError **error)
{
	g_autofree char *host = NULL, *port1 = NULL;
	g_autoptr(GInetAddress) ia = NULL;
	guint16 port;

	/* vs_parse_hostport() takes ports 1..65535 */
	if (any_port && g_str_has_suffix(text, ":0"))
		port1 = g_strdup_printf("%.*s1", (int)(strlen(text) - 1), text);
	if (!vs_parse_hostport(port1 ? port1 : text, &host, &port)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "'%s' is not host:port", text);
		return NULL;
	}
	if (!strcmp(host, "localhost"))
		ia = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	else
		ia = g_inet_address_new_from_string(host);
	if (!ia) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			    "'%s': use a numeric IP address", text);
		return NULL;
	}
	return G_INET_SOCKET_ADDRESS(g_inet_socket_address_new(ia, port1 ? 0 : port));
}

static void tun_peer_free(gpointer data)
{
	struct tun_peer *p = data;

	if (p->reconnect_timer)
		g_source_remove(p->reconnect_timer);
	while (p->streams)
		vs_tun_stream_close(p->streams->data, false);
	g_queue_clear_full(&p->expects, (GDestroyNotify)g_byte_array_unref);
	g_clear_object(&p->addr);
	g_free(p->name);
	g_free(p);
}

gboolean vs_tun_add_peer(struct vs_tun *t, const char *name, const char *address,
			 GError **error)
{
	struct tun_peer *p;

	if (tun_find_peer(t, name)) {
		g_set_error(error, VS_TUN_ERROR, 0, "peer %s: configured twice", name);
		return FALSE;
	}
	p = g_new0(struct tun_peer, 1);
	p->tun = t;
	p->name = g_strdup(name);
	g_queue_init(&p->expects);
	p->addr = tun_parse_addr(address, false, error);
	if (!p->addr) {
		g_prefix_error(error, "peer %s: ", name);
		tun_peer_free(p);
		return FALSE;
	}
	g_ptr_array_add(t->peers, p);
	return TRUE;
}

/* A learned peer that nothing uses: no connection, stream, EXPECT or timer */
static bool tun_peer_idle(const struct tun_peer *p)
{
	return p->learned && !p->conn && !p->streams && !p->reconnect_timer &&
	       g_queue_is_empty((GQueue *)&p->expects);
}

gboolean vs_tun_peer_upsert(struct vs_tun *t, const char *name, const char *address,
			    GError **error)
{
	struct tun_peer *p = t ? tun_find_peer(t, name) : NULL;
	g_autoptr(GInetSocketAddress) addr = NULL;
	guint i, learned = 0;

	if (!t || !t->enabled) {
		g_set_error(error, VS_TUN_ERROR, 0, "peer %s: the tunnel is off", name);
		return FALSE;
	}
	addr = tun_parse_addr(address, false, error);
	if (!addr) {
		g_prefix_error(error, "peer %s: ", name);
		return FALSE;
	}
	if (p) {
		if (!g_inet_address_equal(g_inet_socket_address_get_address(p->addr),
					  g_inet_socket_address_get_address(addr)) ||
		    g_inet_socket_address_get_port(p->addr) != g_inet_socket_address_get_port(addr))
			vs_log(TUN, NOTICE, NULL, "peer %s: address %s from the registry", name,
			       address);
		g_object_unref(p->addr);
		p->addr = g_steal_pointer(&addr);
		p->strict_name = true;
		return TRUE;
	}
	for (i = 0; i < t->peers->len; i++)
		learned += ((struct tun_peer *)g_ptr_array_index(t->peers, i))->learned;
	for (i = t->peers->len; learned >= VS_TUN_MAX_LEARNED_PEERS && i-- > 0;)
		if (tun_peer_idle(g_ptr_array_index(t->peers, i))) {
			g_ptr_array_remove_index(t->peers, i);
			learned--;
		}
	if (learned >= VS_TUN_MAX_LEARNED_PEERS) {
		g_set_error(error, VS_TUN_ERROR, 0, "peer %s: %u learned peers are all busy", name,
			    VS_TUN_MAX_LEARNED_PEERS);
		return FALSE;
	}
	if (!vs_tun_add_peer(t, name, address, error))
		return FALSE;
	p = g_ptr_array_index(t->peers, t->peers->len - 1);
	p->learned = true;
	p->strict_name = true;
	vs_log(TUN, NOTICE, NULL, "peer %s at %s, from the registry", name, address);
	return TRUE;
}

guint16 vs_tun_listen_port(const struct vs_tun *t)
{
	g_autoptr(GSocketAddress) a = NULL;

	if (!t->listen_sock)
		return 0;
	a = g_socket_get_local_address(t->listen_sock, NULL);
	return a && G_IS_INET_SOCKET_ADDRESS(a)
		       ? g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a)) : 0;
}

struct vs_tun *vs_tun_new(const struct vs_tun_cfg *cfg, const struct vs_tun_ops *ops,
			  void *opaque, GError **error)
{
	g_autoptr(vs_tun) t = g_new0(struct vs_tun, 1);
	unsigned int i;

	t->ops = ops;
	t->opaque = opaque;
	t->peers = g_ptr_array_new_with_free_func(tun_peer_free);
	t->in_by_vm = g_hash_table_new(g_str_hash, g_str_equal);
	t->keepalive_ms = cfg->keepalive_ms ? cfg->keepalive_ms : VS_TUN_KEEPALIVE_MS;
	t->keepalive_timeout_ms = cfg->keepalive_timeout_ms ? cfg->keepalive_timeout_ms
							    : VS_TUN_KEEPALIVE_TIMEOUT_MS;
	if (t->keepalive_ms < VS_TUN_KEEPALIVE_MIN_MS ||
	    t->keepalive_timeout_ms > VS_TUN_KEEPALIVE_MAX_MS ||
	    t->keepalive_timeout_ms <= t->keepalive_ms) {
		g_set_error(error, VS_TUN_ERROR, 0,
			    "[tunnel] keepalive %u ms, timeout %u ms: want %u <= keepalive < "
			    "timeout <= %u", t->keepalive_ms, t->keepalive_timeout_ms,
			    VS_TUN_KEEPALIVE_MIN_MS, VS_TUN_KEEPALIVE_MAX_MS);
		return NULL;
	}
	if (!cfg->listen && !cfg->n_peers)
		return g_steal_pointer(&t);	/* no tunnel: migrations buffer locally only */
	g_strlcpy(t->node_name, cfg->node_name, sizeof(t->node_name));
	t->cred_cfg.key_file = g_strdup(cfg->key_file);
	t->cred_cfg.tls = cfg->tls;
	if (cfg->tls) {
		t->cred_cfg.tls_ca = g_strdup(cfg->tls_ca);
		t->cred_cfg.tls_cert = g_strdup(cfg->tls_cert);
		t->cred_cfg.tls_key = g_strdup(cfg->tls_key);
		t->cred_cfg.tls_crl = g_strdup(cfg->tls_crl);
		t->cred_cfg.tls_crl_optional = cfg->tls_crl_optional;
	}
	/* with x509 the key is optional; vs_cfg_validate() wants one or the other */
	t->creds = tun_creds_load(t, 1, error);
	if (!t->creds)
		return NULL;
	for (i = 0; i < cfg->n_peers; i++)
		if (!vs_tun_add_peer(t, cfg->peers[i].name, cfg->peers[i].address, error))
			return NULL;
	if (cfg->listen && !tun_listen(t, cfg->listen, error))
		return NULL;
	t->enabled = true;
	vs_log(TUN, NOTICE, NULL,
	       "tunnel: node %s, listening on %s, %u peer(s), TLS 1.3 with %s%s%s, keepalive "
	       "%u/%u ms", t->node_name, cfg->listen ? cfg->listen : "(none)", cfg->n_peers,
	       cfg->tls ? "certificates" : "a pre-shared key",
	       cfg->tls && cfg->key_file ? " and a pre-shared key" : "",
	       tun_creds_has_crl(t->creds) ? ", CRL" : "", t->keepalive_ms,
	       t->keepalive_timeout_ms);
	return g_steal_pointer(&t);
}

gboolean vs_tun_reload(struct vs_tun *t, GError **error)
{
	g_autoptr(GPtrArray) cut = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) victims = g_ptr_array_new();
	struct tun_creds *cr;
	unsigned int kept;
	GList *l;
	guint i;

	if (!t || !t->enabled)
		return TRUE;
	cr = tun_creds_load(t, tun_creds_generation(t->creds) + 1, error);
	if (!cr) {
		g_prefix_error(error, "reload refused, the credentials in use stay: ");
		return FALSE;
	}
	tun_creds_unref(t->creds);
	t->creds = cr;
	t->stats.reloads++;
	/*
	 * A peer the new CA or CRL no longer accepts is cut off now.  First
	 * the verdicts, then the closes: a close runs callbacks, and
	 * connections are freed only from idle callbacks, so the pointers
	 * stay good until this returns
	 */
	for (l = t->conns; l; l = l->next) {
		struct tun_conn *c = l->data;
		char why[320];

		if (!c->dead && !tun_sess_recheck(c, cr, why, sizeof(why))) {
			g_ptr_array_add(victims, c);
			g_ptr_array_add(cut, g_strdup(why));
		}
	}
	kept = g_list_length(t->conns) - victims->len;
	for (i = 0; i < victims->len; i++) {
		struct tun_conn *c = g_ptr_array_index(victims, i);

		if (c->dead)
			continue;
		t->stats.tls_failures++;
		c->refused = true;
		tun_conn_close(c, VS_TUN_ERR_AUTH_FAIL, g_ptr_array_index(cut, i));
	}
	vs_log(TUN, NOTICE, NULL, "credentials reloaded (generation %u): new connections use "
	       "them, %u established connection(s) keep theirs, %u cut off",
	       tun_creds_generation(cr), kept, victims->len);
	return TRUE;
}

void vs_tun_free(struct vs_tun *t)
{
	if (!t)
		return;
	while (t->conns)
		tun_conn_close(t->conns->data, VS_TUN_ERR_SHUTDOWN, "shutting down");
	tun_listen_stop(t);
	if (t->peers)
		g_ptr_array_unref(t->peers);
	g_hash_table_destroy(t->in_by_vm);	/* emptied by the connections' close */
	tun_creds_unref(t->creds);
	g_free(t->cred_cfg.key_file);
	g_free(t->cred_cfg.tls_ca);
	g_free(t->cred_cfg.tls_cert);
	g_free(t->cred_cfg.tls_key);
	g_free(t->cred_cfg.tls_crl);
	g_free(t);
}
