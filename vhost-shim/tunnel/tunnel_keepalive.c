/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_keepalive.c - a tunnel connection's keepalive and probe
 *
 * Theory of operation: a peer that vanishes without a reset (power loss, a
 * partition that drops packets) leaves its connections open and looking
 * ready; TCP alone notices only after tcp_retries2 (about 15 minutes), and
 * not at all while nothing is sent.  So every authenticated connection
 * runs one timer (docs/tunnel-protocol.md, section 7):
 *   - every byte received refreshes last_rx (tun_conn_on_readable());
 *   - idle for keepalive_ms (nothing received), the connection sends PING,
 *     again every keepalive_ms while it stays idle; the peer answers PONG,
 *     which is bytes received;
 *   - idle for keepalive_timeout_ms, it sends ERROR(TIMEOUT) and closes:
 *     an outgoing connection with streams reconnects (backoff) and resumes
 *     from the destination's next expected seq, an incoming one's streams
 *     get CLOSED and wait for the source to come back.
 * The socket also gets TCP_USER_TIMEOUT = keepalive_timeout_ms, so that
 * data that stays unacknowledged that long ends the connection in the
 * kernel too, even while the peer's PINGs still arrive.
 *
 * Probe: a peer that restarted and announces EXPECT on a new connection
 * says our outgoing connection to it may be dead although it looks ready.
 * tun_conn_probe() sends a PING at once; with nothing received within
 * MIN(keepalive_ms, TUN_PROBE_MAX_MS) the connection is closed and
 * redialled without waiting out the backoff.  A restarted peer's kernel
 * usually answers the PING with a reset, which closes it sooner.
 *
 * The timer is re-armed for the next deadline each time it fires, so it
 * costs one wakeup per keepalive_ms per idle connection and nothing per
 * message.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

#define TUN_PROBE_MAX_MS	1000

static gint64 ka_probe_wait_us(const struct vs_tun *t)
{
	return (gint64)MIN(t->keepalive_ms, TUN_PROBE_MAX_MS) * 1000;
}

static void ka_ping(struct tun_conn *c, gint64 now)
{
	vs_tun_encode_ping(c->out, ++c->ping_token);
	c->last_ping = now;
	tun_conn_flush(c);
}

static gboolean ka_timer_cb(gpointer data);

static void ka_arm(struct tun_conn *c, gint64 at, gint64 now)
{
	gint64 ms = (at - now + 999) / 1000;

	if (c->ka_timer)
		g_source_remove(c->ka_timer);
	c->ka_timer = g_timeout_add((guint)CLAMP(ms, 1, G_MAXINT), ka_timer_cb, c);
}

/* When the timer must look again: a PING due, the timeout, a probe's end */
static void ka_schedule(struct tun_conn *c, gint64 now)
{
	const struct vs_tun *t = c->tun;
	gint64 at = MIN(c->last_rx + (gint64)t->keepalive_timeout_ms * 1000,
			MAX(c->last_rx, c->last_ping) + (gint64)t->keepalive_ms * 1000);

	if (c->probe_at)
		at = MIN(at, c->probe_at + ka_probe_wait_us(t));
	ka_arm(c, at, now);
}

static gboolean ka_timer_cb(gpointer data)
{
	struct tun_conn *c = data;
	struct vs_tun *t = c->tun;
	gint64 now = g_get_monotonic_time();
	gint64 idle = now - c->last_rx;
	char why[96];

	c->ka_timer = 0;
	if (c->probe_at && c->last_rx < c->probe_at) {
		if (now - c->probe_at >= ka_probe_wait_us(t)) {
			t->stats.keepalive_timeouts++;
			if (c->peer)
				c->peer->backoff_ms = 0;	/* redial at once */
			g_snprintf(why, sizeof(why), "no answer to a probe within %" G_GINT64_FORMAT
				   " ms", ka_probe_wait_us(t) / 1000);
			tun_conn_close(c, VS_TUN_ERR_TIMEOUT, why);
			return G_SOURCE_REMOVE;
		}
	} else {
		c->probe_at = 0;
	}
	if (idle >= (gint64)t->keepalive_timeout_ms * 1000) {
		t->stats.keepalive_timeouts++;
		g_snprintf(why, sizeof(why), "nothing received for %u ms (keepalive)",
			   t->keepalive_timeout_ms);
		tun_conn_close(c, VS_TUN_ERR_TIMEOUT, why);
		return G_SOURCE_REMOVE;
	}
	if (idle >= (gint64)t->keepalive_ms * 1000 &&
	    now - c->last_ping >= (gint64)t->keepalive_ms * 1000)
		ka_ping(c, now);
	if (!c->dead)
		ka_schedule(c, now);
	return G_SOURCE_REMOVE;
}

void tun_keepalive_start(struct tun_conn *c)
{
	gint64 now = g_get_monotonic_time();

	c->last_rx = now;
	c->last_ping = now;
	ka_schedule(c, now);
}

void tun_keepalive_stop(struct tun_conn *c)
{
	if (c->ka_timer)
		g_source_remove(c->ka_timer);
	c->ka_timer = 0;
}

void tun_conn_probe(struct tun_conn *c)
{
	gint64 now = g_get_monotonic_time();

	if (!tun_conn_ready(c) || c->probe_at)
		return;
	vs_log(TUN, INFO, NULL, "connection %s (%s): probing it", c->desc, tun_conn_peer_name(c));
	c->probe_at = now;
	ka_ping(c, now);
	if (!c->dead)
		ka_schedule(c, now);
}

void tun_keepalive_socket(const struct vs_tun *t, GSocket *sock)
{
	g_autoptr(GError) err = NULL;

	if (!g_socket_set_option(sock, IPPROTO_TCP, TCP_USER_TIMEOUT,
				 (gint)t->keepalive_timeout_ms, &err))
		vs_log(TUN, WARNING, NULL, "TCP_USER_TIMEOUT: %s", err->message);
}
