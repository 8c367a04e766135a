/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * port.c - port lifecycle
 *
 * Theory of operation: see port.h.  Removal order matters: first the port
 * leaves the registry (so vhost callbacks can no longer find it), then the
 * lcores (RCU), then the vhost socket is unregistered (which may run
 * destroy_device for it, finding nothing to do) and the vhost events it
 * posted before and the main loop did not handle yet are dropped
 * (vhost_events.h), and only then are the uplink and the mempool freed.
 */
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dataplane.h"
#include "dp_flow.h"
#include "handover.h"
#include "log.h"
#include "port.h"
#include "port_pool.h"
#include "port_registry.h"
#include "uplink.h"
#include "vhost_port.h"
#include "vm.h"

#define PORT_MBUF_CACHE 256

/* the largest frame a guest hands over as TSO: a 64 KiB IP packet, two
 * VLAN tags */
#define PORT_TSO_FRAME_MAX	(RTE_ETHER_HDR_LEN + 2 * RTE_VLAN_HLEN + 65535 + 40)

/*
 * port_tso_extra() - mbufs a guest's TSO burst holds at once when the port
 * offers host TSO (dp_tx_offload.c): a burst of VS_DP_BURST frames, each
 * a chain of the pool's mbufs as DPDK's dequeue copies it, and one round
 * of segments cut from them before the uplink takes them (review 77 F2:
 * without it a TSO burst took about 1300 mbufs from the slack that the
 * replay and the uplink's RX need)
 */
static unsigned int port_tso_extra(const struct vs_port_cfg *pc)
{
	unsigned int room = vs_port_mbuf_data_room(pc) - RTE_PKTMBUF_HEADROOM;

	if (pc->offloads == VS_OFFLOADS_OFF)
		return 0;
	return VS_DP_BURST * ((PORT_TSO_FRAME_MAX + room - 1) / room) + VS_DP_TX_OUT;
}

/*
 * port_pool_size() - mbufs a port needs: both rings full on every queue,
 * one burst in flight each way, a TSO burst, plus slack for the mempool
 * caches.
 */
static unsigned int port_pool_size(const struct vs_port_cfg *pc)
{
	return pc->queues * (VS_UPLINK_RX_DESC + VS_UPLINK_TX_DESC + 2 * VS_DP_BURST) +
	       port_tso_extra(pc) + 2 * PORT_MBUF_CACHE + 1024 + vs_ho_pool_extra(pc);
}

struct vs_vm *vs_vm_add(struct vs_port_cfg *pc, GError **error)
{
	struct vs_flow_table *flow;
	struct vs_vm *vm;
	char pool_name[RTE_MEMPOOL_NAMESIZE];
	unsigned int slot;

	if (!vs_port_cfg_validate(pc, error) || !vs_port_registry_reserve(pc, &slot, error)) {
		vs_port_cfg_free(pc);
		return NULL;
	}
	vm = g_new0(struct vs_vm, 1);
	vm->cfg = pc;
	vm->slot = slot;
	vm->worker = slot % vs_dp_num_workers();
	vm->vid = -1;
	/* Only this thread adds ports, so the slot stays free; the port enters
	 * the registry only when its uplink works, so vhost callbacks never see
	 * a half-built port. */

	snprintf(pool_name, sizeof(pool_name), "vs_mp_%s", pc->name);
	vm->pool = rte_pktmbuf_pool_create(pool_name, port_pool_size(pc), PORT_MBUF_CACHE, 0,
					   vs_port_mbuf_data_room(pc), rte_socket_id());
	if (!vm->pool) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
			    "port %s: cannot allocate %u mbufs of %u bytes (raise memory-mb?)",
			    pc->name, port_pool_size(pc), vs_port_mbuf_data_room(pc));
		goto fail;
	}
	if (!vs_ho_attach(vm, error))
		goto fail;
	/* before the port is published: vs_dp_flow_install() need not wait */
	flow = vs_dp_flow_compile(vm, vs_dp_flow_rules(), &vm->policy, error);
	if (!flow)
		goto fail;
	vs_dp_flow_install(vm, flow);
	if (!vs_uplink_open(pc->name, pc->uplink, pc->queues, pc->mtu, vm->pool, &vm->eth_port,
			    error))
		goto fail;
	vm->uplink_open = true;
	/* the drain's depth of each RX queue (dataplane.c), fixed while open */
	vs_uplink_rx_table(vm->eth_port, pc->queues, &vm->dp.uplink_driver, vm->dp.uplink_rx_desc);
	vm->uplink_watch = vs_uplink_watch_new(pc->name, vm->eth_port,
					       &vm->dp.uplink_kernel_missed);

	vs_port_registry_insert(vm);
	vs_dp_publish(vm);
	if (!vs_vhost_port_register(vm, error))
		goto fail;
	vs_log(MAIN, NOTICE, pc->name, "port added: socket %s, mac %02x:%02x:%02x:%02x:%02x:%02x, "
	       "worker %u", pc->socket_path, pc->mac[0], pc->mac[1], pc->mac[2], pc->mac[3],
	       pc->mac[4], pc->mac[5], vm->worker);
	return vm;

fail:
	vs_vm_remove(vm);
	return NULL;
}

void vs_vm_remove(struct vs_vm *vm)
{
	vs_port_registry_remove(vm);
	vs_dp_unpublish(vm);
	vs_vhost_port_unregister(vm);
	vs_uplink_watch_free(vm->uplink_watch);
	if (vm->uplink_open)
		vs_uplink_close(vm->cfg->name, vm->eth_port);
	vs_ho_detach(vm);
	vs_dp_flow_detach(vm);
	rte_mempool_free(vm->pool);
	vs_log(MAIN, NOTICE, vm->cfg->name, "port removed");
	vs_port_cfg_free(vm->cfg);
	g_free(vm);
}

static void port_remove_cb(struct vs_vm *vm, void *opaque)
{
	vs_vm_remove(vm);
}

void vs_vm_remove_all(void)
{
	vs_vm_foreach(port_remove_cb, NULL);
}
