/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_daemon.c - the daemon's [discovery] glue
 *
 * Theory of operation: the registry client (discovery.h) knows VM UUIDs
 * and node names; the daemon knows ports.  This file maps one to the
 * other, on the main loop:
 *   - destination: when a port is armed (DST_EXPECTING, by migrate-expect)
 *     with a vm-uuid, the expectation is registered; when the port leaves
 *     DST_EXPECTING and REPLAYING (the VM arrived and was replayed, cancel,
 *     timeout) or disappears, it ends.  The handover tells us every state
 *     change (vs_ho_set_state_cb()).
 *   - source: each port watches the UUID of the VM it serves: its
 *     configured vm-uuid, else the vm-uuid of the migration that brought
 *     the VM here (learned when DST_EXPECTING becomes REPLAYING, forgotten
 *     when the VM leaves again: SRC_FORWARDING -> NONE).  A destination the
 *     registry names is added to the tunnel (vs_tun_peer_upsert(): the
 *     peer must then authenticate as that node) and becomes the port's
 *     peer (vs_ho_learn_peer()); a withdrawn one is forgotten while no
 *     migration uses it (vs_ho_forget_peer()).
 * Ports come and go through port-add and port-del without telling us: a
 * sweep every DD_SWEEP_MS (and every state change) reconciles our table
 * with the port registry, by port pointer, so a port re-created under the
 * same name is a new port.
 *
 * Security: the registry chooses addresses, not identities: every tunnel
 * connection is TLS 1.3 and the peer must authenticate as the node name the
 * registry gave (strict_name).  docs/hardening.md says what a registry
 * writer can and cannot do.
 */
#include <string.h>

#include "config.h"
#include "disc_daemon.h"
#include "discovery.h"
#include "handover.h"
#include "log.h"
#include "migration.h"
#include "port_registry.h"
#include "tunnel.h"
#include "vm.h"

#define DD_SWEEP_MS	1000

static_assert(VS_UUID_LEN == VS_MIG_VM_UUID_LEN, "one UUID length");

/* What we do for one port */
struct dd_port {
	const struct vs_vm *vm;			/* identity: a new port is a new entry */
	char name[VS_NAME_MAX + 1];
	char watching[VS_UUID_LEN + 1];		/* passed to vs_disc_watch(), "" none */
	char learned[VS_UUID_LEN + 1];		/* UUID of the VM that migrated here */
	char expecting[VS_UUID_LEN + 1];	/* passed to vs_disc_expect(), "" none */
};

static struct {
	struct vs_disc *d;
	struct vs_tun *tun;
	GHashTable *ports;		/* name -> struct dd_port * */
	guint sweep_timer;
	uint64_t peers_learned;
	uint64_t peers_refused;
} dd;

/* @s, lower-cased into @out[VS_UUID_LEN + 1]; "" if not a UUID */
static void dd_canon_uuid(const char *s, char *out)
{
	unsigned int i;

	out[0] = '\0';
	if (!s || !vs_valid_uuid(s))
		return;
	for (i = 0; i < VS_UUID_LEN; i++)
		out[i] = g_ascii_tolower(s[i]);
	out[VS_UUID_LEN] = '\0';
}

/* --- registry -> ports ----------------------------------------------------- */

static void dd_apply_destination(struct dd_port *p, const struct vs_disc_node *node)
{
	struct vs_vm *vm = vs_vm_find_by_name(p->name);
	g_autoptr(GError) err = NULL;

	if (!vm || vm != p->vm)
		return;
	if (!vs_ho_learn_peer(vm, node->name, &err))
		vs_log(DISC, WARNING, p->name, "destination %s not taken: %s", node->name,
		       err->message);
}

static void dd_destination_cb(void *opaque, const char *uuid, const struct vs_disc_node *node)
{
	g_autoptr(GError) err = NULL;
	GHashTableIter it;
	gpointer v;

	if (!vs_tun_peer_upsert(dd.tun, node->name, node->address, &err)) {
		dd.peers_refused++;
		vs_log(DISC, WARNING, NULL, "VM %s: destination %s refused: %s", uuid, node->name,
		       err->message);
		return;
	}
	dd.peers_learned++;
	g_hash_table_iter_init(&it, dd.ports);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct dd_port *p = v;

		if (!strcmp(p->watching, uuid))
			dd_apply_destination(p, node);
	}
}

static void dd_destination_gone_cb(void *opaque, const char *uuid, const char *node)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, dd.ports);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct dd_port *p = v;
		struct vs_vm *vm = vs_vm_find_by_name(p->name);

		if (!strcmp(p->watching, uuid) && vm && vm == p->vm)
			vs_ho_forget_peer(vm, node);
	}
}

static const struct vs_disc_ops dd_ops = {
	.destination = dd_destination_cb,
	.destination_gone = dd_destination_gone_cb,
};

/* --- ports -> registry ----------------------------------------------------- */

/* Watch what @p's VM is: its configured UUID, else the one it came with */
static void dd_reconcile(struct dd_port *p)
{
	char want[VS_UUID_LEN + 1];
	const struct vs_disc_node *dest;

	dd_canon_uuid(p->vm->cfg->vm_uuid, want);
	if (!want[0])
		g_strlcpy(want, p->learned, sizeof(want));
	if (!strcmp(want, p->watching))
		return;
	if (p->watching[0])
		vs_disc_unwatch(dd.d, p->watching);
	p->watching[0] = '\0';
	if (!want[0] || !vs_disc_watch(dd.d, want))
		return;
	g_strlcpy(p->watching, want, sizeof(p->watching));
	dest = vs_disc_destination(dd.d, want);	/* another port watched it already */
	if (dest)
		dd_apply_destination(p, dest);
}

static void dd_port_free(gpointer data)
{
	struct dd_port *p = data;

	if (p->watching[0])
		vs_disc_unwatch(dd.d, p->watching);
	if (p->expecting[0])
		vs_disc_expect_end(dd.d, p->expecting);
	g_free(p);
}

static struct dd_port *dd_port_get(struct vs_vm *vm)
{
	struct dd_port *p = g_hash_table_lookup(dd.ports, vm->cfg->name);

	if (p && p->vm != vm) {		/* removed and re-created since the last sweep */
		g_hash_table_remove(dd.ports, vm->cfg->name);
		p = NULL;
	}
	if (!p) {
		p = g_new0(struct dd_port, 1);
		p->vm = vm;
		g_strlcpy(p->name, vm->cfg->name, sizeof(p->name));
		g_hash_table_insert(dd.ports, p->name, p);
	}
	return p;
}

static void dd_state_cb(struct vs_vm *vm, enum vs_mig_state old, enum vs_mig_event ev)
{
	struct dd_port *p;
	enum vs_mig_state now = vm->mig.state;

	if (!dd.d)
		return;
	p = dd_port_get(vm);
	if (now == VS_MIG_STATE_DST_EXPECTING && ev == VS_MIG_EV_EXPECT) {
		char uuid[VS_UUID_LEN + 1];

		dd_canon_uuid(vm->mig.vm_uuid, uuid);
		if (uuid[0] && strcmp(uuid, p->expecting)) {
			if (p->expecting[0])
				vs_disc_expect_end(dd.d, p->expecting);
			p->expecting[0] = '\0';
			if (vs_disc_expect(dd.d, uuid))
				g_strlcpy(p->expecting, uuid, sizeof(p->expecting));
		}
	}
	/* the VM arrived: it is ours now, and where it goes next is watched */
	if (old == VS_MIG_STATE_DST_EXPECTING && now == VS_MIG_STATE_REPLAYING && p->expecting[0])
		g_strlcpy(p->learned, p->expecting, sizeof(p->learned));
	if (now != VS_MIG_STATE_DST_EXPECTING && now != VS_MIG_STATE_REPLAYING &&
	    p->expecting[0]) {
		vs_disc_expect_end(dd.d, p->expecting);
		p->expecting[0] = '\0';
	}
	/* the VM left */
	if (old == VS_MIG_STATE_SRC_FORWARDING && now == VS_MIG_STATE_NONE)
		p->learned[0] = '\0';
	dd_reconcile(p);
}

static void dd_sweep_port(struct vs_vm *vm, void *opaque)
{
	dd_reconcile(dd_port_get(vm));
}

static gboolean dd_sweep_cb(gpointer data)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, dd.ports);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct dd_port *p = v;

		if (vs_vm_find_by_name(p->name) != p->vm)
			g_hash_table_iter_remove(&it);	/* port-del */
	}
	vs_vm_foreach(dd_sweep_port, NULL);
	return G_SOURCE_CONTINUE;
}

/* --- start, stop, query ---------------------------------------------------- */

/* "sha256:HEX" of the DER of our tunnel certificate, or NULL */
static char *dd_fingerprint(const struct vs_cfg *cfg)
{
	g_autofree char *path = vs_cfg_tls_file(cfg, VS_TLS_FILE_CERT);
	g_autoptr(GTlsCertificate) cert = NULL;
	g_autoptr(GByteArray) der = NULL;
	g_autofree char *hex = NULL;

	if (cfg->tls != VS_TLS_X509)
		return NULL;
	cert = g_tls_certificate_new_from_file(path, NULL);
	if (!cert)
		return NULL;	/* the tunnel refused to start already */
	g_object_get(cert, "certificate", &der, NULL);
	if (!der)
		return NULL;
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, der->data, der->len);
	return g_strconcat("sha256:", hex, NULL);
}

gboolean vs_disc_daemon_start(const struct vs_cfg *cfg, struct vs_tun *tun, GError **error)
{
	g_auto(GStrv) endpoints = vs_cfg_disc_endpoints(cfg);
	g_autofree char *fpr = NULL;
	struct vs_disc_cfg dc;

	if (!endpoints)
		return TRUE;
	fpr = dd_fingerprint(cfg);
	dc = (struct vs_disc_cfg){
		.endpoints = (const char *const *)endpoints,
		.prefix = cfg->disc_prefix,
		.node_name = cfg->node_name,
		.address = vs_cfg_disc_advertise(cfg),
		.tls = cfg->tls == VS_TLS_X509,
		.fingerprint = fpr,
		.ttl_s = cfg->disc_ttl_s,
		.timeout_ms = cfg->disc_timeout_ms,
		.etcd_ca = cfg->etcd_ca,
		.etcd_cert = cfg->etcd_cert,
		.etcd_key = cfg->etcd_key,
	};
	dd.d = vs_disc_new(&dc, &dd_ops, NULL, error);
	if (!dd.d)
		return FALSE;
	dd.tun = tun;
	dd.ports = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dd_port_free);
	vs_ho_set_state_cb(dd_state_cb);
	dd.sweep_timer = g_timeout_add(DD_SWEEP_MS, dd_sweep_cb, NULL);
	dd_sweep_cb(NULL);
	return TRUE;
}

void vs_disc_daemon_stop(void)
{
	if (!dd.d)
		return;
	vs_ho_set_state_cb(NULL);
	g_source_remove(dd.sweep_timer);
	g_hash_table_destroy(dd.ports);	/* unwatch, end the expectations */
	g_clear_pointer(&dd.d, vs_disc_free);
	memset(&dd, 0, sizeof(dd));
}

JsonNode *vs_ctl_cmd_query_discovery(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	JsonObject *o, *c;
	JsonArray *ports;
	GHashTableIter it;
	gpointer v;

	if (!dd.d) {
		o = json_object_new();
		json_object_set_boolean_member(o, "enabled", FALSE);
		json_node_take_object(n, o);
		return n;
	}
	o = vs_disc_describe(dd.d);
	c = json_object_get_object_member(o, "counters");
	json_object_set_int_member(c, "peers-learned", (gint64)dd.peers_learned);
	json_object_set_int_member(c, "peers-refused", (gint64)dd.peers_refused);
	ports = json_array_new();
	g_hash_table_iter_init(&it, dd.ports);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct dd_port *p = v;
		JsonObject *po = json_object_new();

		json_object_set_string_member(po, "port", p->name);
		if (p->watching[0])
			json_object_set_string_member(po, "watching", p->watching);
		if (p->expecting[0])
			json_object_set_string_member(po, "expecting", p->expecting);
		json_array_add_object_element(ports, po);
	}
	json_object_set_array_member(o, "ports", ports);
	json_node_take_object(n, o);
	return n;
}
