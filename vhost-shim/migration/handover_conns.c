/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * handover_conns.c - the VM's TCP connection table travels with it: the
 * source's export into the stream, the destination's import from it
 *
 * Theory of operation (docs/migration.md, "Validated TCP resets"): the
 * destination resets the peers of a VM lost for good from its own table,
 * which learns connections from the VM's segments only; a VM that never
 * sends there (lost right after a post-copy switchover) would leave it
 * nothing to reset.  So:
 *  - source: when the blackout begins (the VM's TX has stopped: the table
 *    is as complete as it gets), or when the stream opens in it
 *    (migrate-set-peer or an EXPECT after it began),
 *    ho_conns_export_begin() asks the port's lcore for a copy of its live
 *    connections (vs_dp_tcp_export_start(), dp_tcp.h).  The pump (ho_pump_conns()) waits for the answer and for
 *    the stream to be accepted, then gives the records to the stream
 *    (vs_tun_stream_conns(): CONNS, tunnel_conns.c), counted in
 *    tcp-ct-exported; a stream whose connection did not negotiate
 *    tcp-conns gets none (logged).  The wait ends with the stream
 *    (ho_conns_forget()): an lcore that never answers costs nothing but
 *    the buffer, which stays the port's (dp_tcp.h).
 *  - destination: CONNS on the admitted stream (vs_ho_tun_conns()): a
 *    record whose VM MAC is not the port's is refused, as are the records
 *    of a stream no longer admitted and those beyond the table's size
 *    waiting (tcp-ct-import-refused); the others wait in @conns_in, each
 *    connection once (a resent copy's record replaces its first), until
 *    the VM has resumed here (the port left dst-expecting: a migration
 *    that is cancelled, aborted or times out before that leaves the VM
 *    elsewhere, and its connections must not be reset from here later:
 *    ho_conns_drop_pending(), counted as refused) and the lcore has
 *    served the last import (vs_dp_tcp_import()); then the pump hands
 *    them over.  The lcore merges them (tcp_ct.h): a connection it tracks
 *    already keeps its entry, each number the later of the two.
 */
#include <string.h>

#include <glib.h>

#include "dp_tcp.h"
#include "handover.h"
#include "handover_priv.h"
#include "log.h"
#include "tcp_ct.h"
#include "tunnel.h"
#include "tunnel_proto.h"
#include "util.h"
#include "vm.h"

/* The table's flags are the wire's (tunnel_wire.h) */
static_assert(VS_TCP_CT_VM_SEQ == VS_TUN_CONN_VM_SEQ && VS_TCP_CT_VM_ACK == VS_TUN_CONN_VM_ACK &&
	      VS_TCP_CT_PEER_SEQ == VS_TUN_CONN_PEER_SEQ &&
	      VS_TCP_CT_PEER_ACK == VS_TUN_CONN_PEER_ACK &&
	      VS_TCP_CT_VM_FIN == VS_TUN_CONN_VM_FIN && VS_TCP_CT_PEER_FIN == VS_TUN_CONN_PEER_FIN &&
	      VS_TCP_CT_VM_TS == VS_TUN_CONN_VM_TS && VS_TCP_CT_PEER_TS == VS_TUN_CONN_PEER_TS &&
	      VS_TCP_CT_EXPORT_FLAGS == VS_TUN_CONN_FLAGS, "CONNS flags are the table's");
static_assert(VS_PKT_MAX_VLAN_TAGS == VS_TUN_CONN_MAX_TAGS, "CONNS tags are the table's");

void ho_conn_to_wire(const struct vs_tcp_ct_entry *e, struct vs_tun_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->af = e->af == VS_FLOW_AF_INET ? VS_TUN_SRC_AF_INET : VS_TUN_SRC_AF_INET6;
	c->n_tags = e->n_tags;
	c->flags = e->flags & VS_TCP_CT_EXPORT_FLAGS;
	memcpy(c->vm_addr, e->vm_addr, sizeof(c->vm_addr));
	memcpy(c->peer_addr, e->peer_addr, sizeof(c->peer_addr));
	c->vm_port = e->vm_port;
	c->peer_port = e->peer_port;
	memcpy(c->vm_mac, e->vm_mac, sizeof(c->vm_mac));
	memcpy(c->peer_mac, e->peer_mac, sizeof(c->peer_mac));
	memcpy(c->tags, e->tags, sizeof(uint16_t) * 2 * MIN(e->n_tags, VS_TUN_CONN_MAX_TAGS));
	c->vm_win = e->vm_win;
	c->peer_win = e->peer_win;
	c->vm_nxt = e->vm_nxt;
	c->vm_ack = e->vm_ack;
	c->peer_nxt = e->peer_nxt;
	c->peer_ack = e->peer_ack;
	c->vm_tsval = e->vm_tsval;
	c->peer_tsval = e->peer_tsval;
}

void ho_conn_from_wire(const struct vs_tun_conn *c, struct vs_tcp_ct_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->af = c->af == VS_TUN_SRC_AF_INET ? VS_FLOW_AF_INET : VS_FLOW_AF_INET6;
	e->n_tags = c->n_tags;
	e->flags = c->flags & VS_TCP_CT_EXPORT_FLAGS;
	memcpy(e->vm_addr, c->vm_addr, sizeof(e->vm_addr));
	memcpy(e->peer_addr, c->peer_addr, sizeof(e->peer_addr));
	e->vm_port = c->vm_port;
	e->peer_port = c->peer_port;
	memcpy(e->vm_mac, c->vm_mac, sizeof(e->vm_mac));
	memcpy(e->peer_mac, c->peer_mac, sizeof(e->peer_mac));
	memcpy(e->tags, c->tags, sizeof(e->tags));
	e->vm_win = c->vm_win;
	e->peer_win = c->peer_win;
	e->vm_nxt = c->vm_nxt;
	e->vm_ack = c->vm_ack;
	e->peer_nxt = c->peer_nxt;
	e->peer_ack = c->peer_ack;
	e->vm_tsval = c->vm_tsval;
	e->peer_tsval = c->peer_tsval;
}

/* --- source ------------------------------------------------------------------ */

void ho_conns_export_begin(struct vs_vm *vm)
{
	if (!vm->ho->out || !vm->dp.tcp || vm->ho->conns_out)
		return;		/* nowhere to send it, no table, or asked already */
	if (!vs_dp_tcp_export_start(vm)) {
		vs_log(MIG, WARNING, vm->cfg->name,
		       "TCP connections not exported: the lcore has not served the last request");
		return;
	}
	vm->ho->conns_out = true;
}

/* The VM runs here (or ran: it may have been lost since) */
static bool ho_conns_vm_arrived(const struct vs_vm *vm)
{
	return vm->mig.state != VS_MIG_STATE_DST_EXPECTING;
}

bool ho_conns_wanted(const struct vs_vm *vm)
{
	return vm->ho->conns_out || (vm->ho->conns_in->len && ho_conns_vm_arrived(vm));
}

static void ho_pump_conns_out(struct vs_vm *vm)
{
	struct vs_handover *ho = vm->ho;
	const struct vs_tcp_ct_entry *e;
	g_autofree struct vs_tun_conn *c = NULL;
	uint32_t n = 0, i;
	size_t kept;

	if (!ho->out) {
		ho->conns_out = false;
		return;
	}
	e = vs_dp_tcp_export_take(vm, &n);
	if (!e)
		return;		/* the lcore has not answered yet */
	if (!vs_tun_stream_conns_ok(ho->out)) {
		if (vs_tun_stream_connected(ho->out)) {
			vs_log(MIG, WARNING, vm->cfg->name,
			       "TCP connections not sent: the destination does not take CONNS");
			ho->conns_out = false;
		}
		return;		/* else: until the destination accepts the stream */
	}
	ho->conns_out = false;
	c = g_new(struct vs_tun_conn, n ? n : 1);
	for (i = 0; i < n; i++)
		ho_conn_to_wire(&e[i], &c[i]);
	kept = vs_tun_stream_conns(ho->out, c, n);
	VS_STAT_ADD(vm->stats.tcp_ct_exported, kept);
	vs_log(MIG, INFO, vm->cfg->name, "%zu TCP connections sent to the destination (CONNS)",
	       kept);
}

void ho_conns_forget(struct vs_vm *vm)
{
	vm->ho->conns_out = false;
}

/* --- destination -------------------------------------------------------------- */

/* A connection, as the waiting records are indexed */
struct ho_conn_key {
	uint8_t af;
	uint8_t vm_addr[16];
	uint8_t peer_addr[16];
	uint16_t vm_port;
	uint16_t peer_port;
};

static guint ho_conn_key_hash(gconstpointer p)
{
	const uint8_t *b = p;
	guint h = 2166136261u;		/* FNV-1a */
	size_t i;

	for (i = 0; i < sizeof(struct ho_conn_key); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static gboolean ho_conn_key_equal(gconstpointer a, gconstpointer b)
{
	return !memcmp(a, b, sizeof(struct ho_conn_key));
}

GHashTable *ho_conns_index_new(void)
{
	return g_hash_table_new_full(ho_conn_key_hash, ho_conn_key_equal, g_free, NULL);
}

static void ho_conns_in_clear(struct vs_vm *vm)
{
	g_array_set_size(vm->ho->conns_in, 0);
	g_hash_table_remove_all(vm->ho->conns_in_idx);
}

static void ho_pump_conns_in(struct vs_vm *vm)
{
	GArray *in = vm->ho->conns_in;

	if (!in->len || !ho_conns_vm_arrived(vm) || vs_dp_tcp_import_busy(vm))
		return;
	if (vs_dp_tcp_import(vm, (const struct vs_tcp_ct_entry *)(void *)in->data, in->len))
		ho_conns_in_clear(vm);
}

/*
 * One record into the waiting ones: a connection already waiting takes
 * the newer record's place (the source resends its whole copy on every
 * connection the stream is accepted on: review 74 M2, the copies counted
 * against the bound and real connections were refused); a new one only
 * while fewer than @room wait.  Return: false if refused.
 */
static bool ho_conns_in_add(struct vs_vm *vm, const struct vs_tcp_ct_entry *e, size_t room)
{
	struct vs_handover *ho = vm->ho;
	struct ho_conn_key *k = g_new0(struct ho_conn_key, 1);
	gpointer idx;

	k->af = e->af;
	memcpy(k->vm_addr, e->vm_addr, sizeof(k->vm_addr));
	memcpy(k->peer_addr, e->peer_addr, sizeof(k->peer_addr));
	k->vm_port = e->vm_port;
	k->peer_port = e->peer_port;
	idx = g_hash_table_lookup(ho->conns_in_idx, k);
	if (idx) {
		g_array_index(ho->conns_in, struct vs_tcp_ct_entry, GPOINTER_TO_UINT(idx) - 1) = *e;
		g_free(k);
		return true;
	}
	if (ho->conns_in->len >= room) {
		g_free(k);
		return false;
	}
	g_array_append_val(ho->conns_in, *e);
	g_hash_table_insert(ho->conns_in_idx, k, GUINT_TO_POINTER(ho->conns_in->len));
	return true;
}

void ho_pump_conns(struct vs_vm *vm)
{
	ho_pump_conns_out(vm);
	ho_pump_conns_in(vm);
}

void ho_conns_drop_pending(struct vs_vm *vm)
{
	GArray *in = vm->ho->conns_in;

	if (!in->len)
		return;
	VS_STAT_ADD(vm->stats.tcp_ct_import_refused, in->len);
	vs_log(MIG, INFO, vm->cfg->name,
	       "%u TCP connections from the source dropped: the VM did not arrive", in->len);
	ho_conns_in_clear(vm);
}

void vs_ho_tun_conns(void *opaque, struct vs_tun_in *in, const char *vm_name,
		     const struct vs_tun_conn *conns, size_t n)
{
	struct vs_vm *vm = vs_vm_find_by_name(vm_name);
	uint64_t refused = 0;
	size_t i, room;

	if (!vm || !vm->ho)
		return;
	if (in != vm->ho->in || !vm->dp.tcp) {	/* a stream no longer expected */
		VS_STAT_ADD(vm->stats.tcp_ct_import_refused, n);
		return;
	}
	/* at most a table's worth waits for the lcore: a source cannot make
	 * this grow without bound */
	room = (size_t)vm->dp.tcp->ct.mask + 1;
	for (i = 0; i < n; i++) {
		struct vs_tcp_ct_entry e;

		/* Security: the VM's connections only, as its own frames would
		 * have made them (its MAC); a source cannot plant a RST for
		 * another host's connection through this port */
		if (memcmp(conns[i].vm_mac, vm->cfg->mac, 6)) {
			refused++;
			continue;
		}
		ho_conn_from_wire(&conns[i], &e);
		if (!ho_conns_in_add(vm, &e, room))
			refused++;
	}
	if (refused) {
		VS_STAT_ADD(vm->stats.tcp_ct_import_refused, refused);
		vs_log(MIG, WARNING, vm->cfg->name,
		       "CONNS: %" G_GUINT64_FORMAT " of %zu records refused (another MAC than "
		       "the port's, or more than its table holds)", refused, n);
	}
	ho_pump_conns_in(vm);
	if (ho_conns_wanted(vm))
		ho_kick_pump();		/* the rest when the lcore has served the last */
}
