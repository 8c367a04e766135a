/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_conns.c - CONNS: the VM's TCP connection table, source ->
 * destination on the VM's stream, and the tcp-conns HELLO extension
 *
 * Theory of operation (docs/tunnel-protocol.md 3.14; docs/migration.md,
 * "Validated TCP resets"): the destination learns a VM's TCP connections
 * from the VM's own segments only, so a VM that never sends there (lost
 * right after a post-copy switchover) would leave it nothing to reset.
 * The source's handover therefore hands its table, as it stood when the
 * blackout began, to the stream (vs_tun_stream_conns()); the stream keeps
 * that copy and writes it as CONNS messages of at most VS_TUN_CONNS_MAX
 * records each:
 *   - on every connection the destination accepts the stream on, ahead
 *     of the frames (tun_stream_flush()), while the output queue has room
 *     (the rest waits for the next flush, as frames do).  A reconnect
 *     writes them all again from the first: the destination merges, and
 *     a connection it already knows keeps its own entry, so a copy is
 *     harmless;
 *   - only where both HELLOs offered tcp-conns; a connection without it
 *     gets none (the destination then knows what the VM tells it only).
 * The destination's decoder refuses a CONNS whose count does not match
 * its length or with any invalid record (tunnel_decode.c,
 * vs_tun_conn_check()); an admitted stream's CONNS goes up
 * (ops->conns), which checks the VM's MAC against the port's own.
 */
#include <string.h>

#include "log.h"
#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

/* --- source: the stream's copy ---------------------------------------------- */

void vs_tun_set_tcp_conns(struct vs_tun *t, bool on)
{
	t->no_tcp_conns = !on;
}

bool vs_tun_stream_conns_ok(const struct vs_tun_stream *s)
{
	return s && s->opened && tun_conn_ready(s->peer->conn) &&
	       (s->peer->conn->auth.my_ext & s->peer->conn->auth.peer_ext &
		VS_TUN_HELLO_EXT_TCP_CONNS);
}

size_t vs_tun_stream_conns(struct vs_tun_stream *s, const struct vs_tun_conn *conns, size_t n)
{
	size_t i, kept = 0;

	if (!vs_tun_stream_conns_ok(s))
		return 0;
	g_free(s->conns);
	s->conns = g_new(struct vs_tun_conn, n ? n : 1);
	for (i = 0; i < n; i++)
		if (!vs_tun_conn_check(&conns[i]))
			s->conns[kept++] = conns[i];
	s->n_conns = kept;
	s->conns_next = 0;
	tun_stream_flush(s);
	return kept;
}

void tun_stream_flush_conns(struct tun_conn *c, struct vs_tun_stream *s)
{
	if (!(c->auth.my_ext & c->auth.peer_ext & VS_TUN_HELLO_EXT_TCP_CONNS)) {
		s->conns_next = s->n_conns;	/* an older peer: none */
		return;
	}
	while (s->conns_next < s->n_conns && tun_conn_queued(c) < VS_TUN_SEND_QUEUE_MAX) {
		size_t k = MIN(s->n_conns - s->conns_next, (size_t)VS_TUN_CONNS_MAX);

		vs_tun_encode_conns(c->out, s->stream_id, s->conns + s->conns_next, k);
		s->conns_next += k;
	}
}

void tun_stream_free_conns(struct vs_tun_stream *s)
{
	g_clear_pointer(&s->conns, g_free);
	s->n_conns = s->conns_next = 0;
}

/* --- destination ------------------------------------------------------------ */

void tun_in_conns(struct tun_conn *c, struct vs_tun_in *in, const struct vs_tun_msg *m)
{
	struct vs_tun *t = c->tun;
	struct vs_tun_conn conns[VS_TUN_CONNS_MAX];
	size_t i;

	if (!t->ops->conns)
		return;
	/* count <= VS_TUN_CONNS_MAX, every record checked: the decoder */
	for (i = 0; i < m->u.conns.count; i++)
		vs_tun_conns_get(m, i, &conns[i]);
	t->ops->conns(t->opaque, in, in->vm_name, conns, m->u.conns.count);
}
