/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_tcp.c - a port's TCP connection table on its lcore; validated resets
 *
 * Theory of operation: see dp_tcp.h.  Frames are parsed with
 * vs_flow_key_parse() (bounds-checked on the mbuf's first segment, IP
 * lengths against the whole frame), so a guest's or a peer's malformed
 * frame yields no TCP fields and is not recorded; nothing here can fail
 * on input.  The lcore's clock for the table's ageing is vs_dp_ops->tsc()
 * in milliseconds.
 */
#include <string.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>

#include "dp_flow.h"
#include "dp_priv.h"
#include "dp_tcp.h"
#include "flow_key.h"
#include "flow_rules.h"
#include "log.h"
#include "tcp_reset.h"
#include "vm.h"

/* The port option and the rules' action are the same values */
static_assert((int)VS_TCP_ON_LOSS_DROP == (int)VS_FLOW_TCP_LOSS_DROP &&
	      (int)VS_TCP_ON_LOSS_RESET == (int)VS_FLOW_TCP_LOSS_RESET &&
	      (int)VS_TCP_ON_LOSS_NUM == (int)VS_FLOW_NUM_TCP_LOSS,
	      "tcp-on-loss: port option and rule action agree");

/* --- main loop ------------------------------------------------------------ */

gboolean vs_dp_tcp_init(struct vs_vm *vm, uint32_t entries, uint64_t idle_ms)
{
	struct vs_dp_tcp *t;

	if (entries < VS_TCP_CT_MIN_SIZE || entries > VS_TCP_CT_MAX_SIZE ||
	    (entries & (entries - 1)))
		return FALSE;
	t = g_malloc0(sizeof(*t) + sizeof(t->slots[0]) * entries);
	/* a per-port random seed: a peer cannot aim collisions at one bucket */
	if (vs_tcp_ct_init(&t->ct, t->slots, entries,
			   (uint64_t)g_random_int() << 32 | g_random_int(), idle_ms)) {
		g_free(t);
		return FALSE;
	}
	vm->dp.tcp = t;
	return TRUE;
}

void vs_dp_tcp_fini(struct vs_vm *vm)
{
	if (vm->dp.tcp) {	/* no lcore sees the port: its buffers go too */
		g_free(vm->dp.tcp->export_buf);
		g_free(vm->dp.tcp->import_buf);
	}
	g_clear_pointer(&vm->dp.tcp, g_free);
}

bool vs_dp_tcp_export_start(struct vs_vm *vm)
{
	struct vs_dp_tcp *t = vm->dp.tcp;

	if (!t || __atomic_load_n(&t->export_done, __ATOMIC_ACQUIRE) != t->export_req)
		return false;
	if (!t->export_buf)	/* the table's size, set before any lcore saw it */
		t->export_buf = g_new(struct vs_tcp_ct_entry, (gsize)t->ct.mask + 1);
	__atomic_fetch_add(&t->export_req, 1, __ATOMIC_RELEASE);
	return true;
}

const struct vs_tcp_ct_entry *vs_dp_tcp_export_take(struct vs_vm *vm, uint32_t *n)
{
	struct vs_dp_tcp *t = vm->dp.tcp;

	if (!t || !t->export_req ||
	    __atomic_load_n(&t->export_done, __ATOMIC_ACQUIRE) != t->export_req)
		return NULL;
	*n = t->export_n;
	return t->export_buf;
}

bool vs_dp_tcp_import_busy(const struct vs_vm *vm)
{
	const struct vs_dp_tcp *t = vm->dp.tcp;

	return t && __atomic_load_n(&t->import_done, __ATOMIC_ACQUIRE) != t->import_req;
}

bool vs_dp_tcp_import(struct vs_vm *vm, const struct vs_tcp_ct_entry *e, uint32_t n)
{
	struct vs_dp_tcp *t = vm->dp.tcp;

	if (!t || vs_dp_tcp_import_busy(vm))
		return false;
	if (n > t->import_cap) {
		g_free(t->import_buf);
		t->import_buf = g_new(struct vs_tcp_ct_entry, n);
		t->import_cap = n;
	}
	if (n)
		memcpy(t->import_buf, e, sizeof(*e) * n);
	t->import_n = n;
	__atomic_fetch_add(&t->import_req, 1, __ATOMIC_RELEASE);
	return true;
}

bool vs_dp_tcp_may_reset(const struct vs_vm *vm)
{
	const struct vs_dp_flow *f = vm->dp.flow;	/* the main loop writes it */

	return vm->cfg->tcp_on_loss == VS_TCP_ON_LOSS_RESET || (f && f->t->tcp_reset_rules);
}

void vs_dp_tcp_reset(struct vs_vm *vm)
{
	if (vm->dp.tcp)
		__atomic_fetch_add(&vm->dp.tcp->reset_req, 1, __ATOMIC_RELEASE);
}

/* --- lcore ---------------------------------------------------------------- */

static uint64_t dp_tcp_now_ms(void)
{
	uint64_t hz = rte_get_tsc_hz() / 1000;

	return vs_dp_ops->tsc() / (hz ? hz : 1);
}

/* The table's counters into the port's (one writer: this lcore) */
static void dp_tcp_publish(struct vs_vm *vm, const struct vs_tcp_ct_stats *st)
{
	VS_STAT_SET(vm->stats.tcp_ct_entries, st->created);
	VS_STAT_SET(vm->stats.tcp_ct_evicted, st->reused);
	VS_STAT_SET(vm->stats.tcp_ct_aged, st->aged);
	VS_STAT_SET(vm->stats.tcp_ct_full, st->full);
	VS_STAT_SET(vm->stats.tcp_ct_bad_acks, st->bad_ack);
	VS_STAT_SET(vm->stats.tcp_ct_imported, st->imported);
}

/* Serve the main loop's export and import requests (dp_tcp.h) */
static void dp_tcp_serve(struct vs_vm *vm, struct vs_dp_tcp *t)
{
	uint32_t req = __atomic_load_n(&t->export_req, __ATOMIC_ACQUIRE), i;

	if (req != t->export_seen) {
		t->export_seen = req;
		t->export_n = vs_tcp_ct_export(&t->ct, t->export_buf, t->ct.mask + 1);
		__atomic_store_n(&t->export_done, req, __ATOMIC_RELEASE);
	}
	req = __atomic_load_n(&t->import_req, __ATOMIC_ACQUIRE);
	if (req != t->import_seen) {
		enum vs_flow_tcp_loss loss = (enum vs_flow_tcp_loss)vm->cfg->tcp_on_loss;
		uint64_t now_ms = dp_tcp_now_ms();

		t->import_seen = req;
		for (i = 0; i < t->import_n; i++)
			vs_tcp_ct_import(&t->ct, &t->import_buf[i], loss, now_ms);
		dp_tcp_publish(vm, &t->ct.stats);
		__atomic_store_n(&t->import_done, req, __ATOMIC_RELEASE);
	}
}

/*
 * dp_tcp_maybe() - can the frame be TCP at all: a cheap test before the
 * full parse, on the hot path of every frame.  Only frames that certainly
 * are not (not IP, or IPv4 of another protocol) are skipped; IPv6 and
 * tagged frames go to the parser.
 */
static inline bool dp_tcp_maybe(const uint8_t *f, uint32_t len)
{
	uint16_t et;

	if (len < 34)		/* Ethernet + the smallest IPv4 header */
		return false;
	et = (uint16_t)(f[12] << 8 | f[13]);
	if (et == 0x0800)
		return f[23] == VS_IPPROTO_TCP;
	return et == 0x86dd || et == 0x8100 || et == 0x88a8;	/* IPv6, 802.1Q, 802.1ad */
}

void dp_tcp_track(struct vs_vm *vm, struct rte_mbuf **pkts, uint16_t n, enum vs_tcp_ct_dir dir)
{
	struct vs_dp_tcp *t = vm->dp.tcp;
	enum vs_flow_tcp_loss port_loss;
	uint64_t now_ms = 0;
	bool any = false;
	uint16_t i;

	if (!t || !n)
		return;
	port_loss = (enum vs_flow_tcp_loss)vm->cfg->tcp_on_loss;
	for (i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
		struct vs_flow_key k;

		if (!dp_tcp_maybe(f, rte_pktmbuf_data_len(pkts[i])))
			continue;
		vs_flow_key_parse(f, rte_pktmbuf_data_len(pkts[i]), rte_pktmbuf_pkt_len(pkts[i]),
				  vm->cfg->mac, &k);
		if (!(k.flags & VS_FLOW_KEY_TCP))
			continue;
		if (dir == VS_TCP_CT_FROM_PEER) {
			/* the VM's own frame coming back on the uplink is not the peer's */
			if (k.cls == VS_PKT_OWN_MAC)
				continue;
			/*
			 * Only a unicast frame to the VM's MAC updates a
			 * connection, and only one the VM itself opened or
			 * answered: the uplink is promiscuous, so flooded
			 * frames of other hosts and forged ones would
			 * otherwise make entries whose RSTs the shim would
			 * send as those hosts (review of issue 20, F1)
			 */
			if (memcmp(f, vm->cfg->mac, 6) != 0 ||
			    !vs_tcp_ct_lookup(&t->ct, k.af, k.dst, k.dport, k.src, k.sport))
				continue;
		}
		if (!any) {
			now_ms = dp_tcp_now_ms();
			any = true;
		}
		vs_tcp_ct_update(&t->ct, &k, f, rte_pktmbuf_data_len(pkts[i]), dir, port_loss,
				 now_ms);
	}
	if (any)
		dp_tcp_publish(vm, &t->ct.stats);
}

/*
 * dp_tcp_send() - build one RST or solicitation for @e and send it
 *
 * Return: true if the uplink took it
 */
static bool dp_tcp_send(struct vs_vm *vm, struct vs_tcp_ct_entry *e, enum vs_tcp_ct_plan plan)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(vm->pool);
	size_t len;

	if (!m) {
		VS_STAT_ADD(vm->stats.drops[VS_DROP_NO_MEMORY], 1);
		return false;
	}
	if (plan == VS_TCP_CT_PLAN_RST)
		len = vs_tcp_reset_build_rst(e, rte_pktmbuf_mtod(m, uint8_t *),
					     rte_pktmbuf_tailroom(m));
	else
		len = vs_tcp_reset_build_solicit(e, rte_pktmbuf_mtod(m, uint8_t *),
						 rte_pktmbuf_tailroom(m));
	if (!len) {
		rte_pktmbuf_free(m);
		return false;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	if (vs_dp_ops->uplink_tx(vm->eth_port, 0, &m, 1) != 1) {
		dp_drop(vm, m, VS_DROP_UPLINK_FULL);
		return false;
	}
	return true;
}

/*
 * dp_tcp_walk() - one pass over the table: a RST or a solicitation to each
 * peer whose connection's tcp-on-loss is reset
 *
 * Return: frames sent; t->walk_due says whether solicitations are out
 */
static unsigned int dp_tcp_walk(struct vs_vm *vm, struct vs_dp_tcp *t)
{
	/* the rules in force now decide (review 70, F3) */
	const struct vs_dp_flow *flow = __atomic_load_n(&vm->dp.flow, __ATOMIC_ACQUIRE);
	const struct vs_flow_table *rules = flow ? flow->t : NULL;
	struct vs_tcp_ct_entry *e;
	uint32_t cursor = 0;
	unsigned int sent = 0, rsts = 0, solicits = 0;
	bool again = false;

	while ((e = vs_tcp_ct_next(&t->ct, &cursor))) {
		enum vs_tcp_ct_plan plan;

		if (vs_tcp_ct_on_loss(e, rules) != VS_FLOW_TCP_LOSS_RESET)
			continue;
		plan = vs_tcp_ct_plan(e);
		switch (plan) {
		case VS_TCP_CT_PLAN_NONE:
		case VS_TCP_CT_NUM_PLANS:
			break;
		case VS_TCP_CT_PLAN_RST:
			if (dp_tcp_send(vm, e, plan)) {
				sent++;
				rsts++;
				VS_STAT_ADD(vm->stats.resets_sent, 1);
				e->flags |= VS_TCP_CT_RST;	/* closed: never again */
				t->ct.stats.closed++;
			}
			break;
		case VS_TCP_CT_PLAN_SOLICIT:
			if (dp_tcp_send(vm, e, plan)) {
				sent++;
				solicits++;
				VS_STAT_ADD(vm->stats.challenges_sent, 1);
			} else if (e->solicits < UINT8_MAX) {
				e->solicits++;	/* a failed try uses one up: bounded */
			}
			again = true;
			break;
		}
	}
	if (sent)	/* once per walk: at most VS_TCP_CT_MAX_SOLICITS + 1 per request */
		vs_log(DP, INFO, vm->cfg->name,
		       "tcp-on-loss reset: %u RSTs and %u solicitations sent to the VM's TCP peers",
		       rsts, solicits);
	t->walk_due = again;
	if (again)
		t->walk_tsc = vs_dp_ops->tsc() + rte_get_tsc_hz() / 1000 * DP_TCP_SOLICIT_WAIT_MS;
	return sent;
}

unsigned int dp_tcp_reset_poll(struct vs_vm *vm)
{
	struct vs_dp_tcp *t = vm->dp.tcp;
	uint32_t req;

	if (!t)
		return 0;
	req = __atomic_load_n(&t->reset_req, __ATOMIC_ACQUIRE);
	/* after that load: an import the main loop asked for before this
	 * reset is seen (its request was released before the reset's), and
	 * merged before the walk */
	dp_tcp_serve(vm, t);
	if (req != t->reset_done) {
		t->reset_done = req;
		return dp_tcp_walk(vm, t);
	}
	if (t->walk_due && vs_dp_ops->tsc() >= t->walk_tsc)
		return dp_tcp_walk(vm, t);
	return 0;
}
