/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uplink_depth.c - how many frames an uplink RX queue can hold, for the
 * source's drain (dataplane.c)
 *
 * Theory of operation: a drain ticket is answered once every RX queue of
 * the uplink has given, since the lcore first saw the ticket, either a
 * short burst or as many frames as the queue could hold then (its depth):
 * the queue is FIFO, so every frame that waited in it at the ticket has
 * been read by then, however fast new ones come.  The depth depends on the
 * uplink's kind (vs_uplink_rx_depth(), pure): net_tap has no ring of its
 * own, the kernel's queue of the tap is txqueuelen frames, which an
 * operator may change while the port is open, so the main loop reads it at
 * each ticket (vs_uplink_tap_qlen()); a PMD that counts its filled
 * descriptors (rte_eth_rx_queue_count()) is asked by the lcore when it
 * first sees the ticket; any other is bounded by its descriptors, read
 * once after the port opened (vs_uplink_rx_table()).  Apart from the
 * uplink's setup (uplink.c) so that the unit tests link it with the lcore.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "uplink.h"

static bool uplink_is_tap(const char *driver)
{
	return driver && !strcmp(driver, "net_tap");
}

uint32_t vs_uplink_rx_depth(const char *driver, int txqueuelen, uint16_t nb_desc, int count_rc)
{
	if (uplink_is_tap(driver))
		return txqueuelen > 0 ? (uint32_t)txqueuelen : VS_UPLINK_TAP_QLEN;
	if (count_rc >= 0)
		return (uint32_t)count_rc;
	return nb_desc ? nb_desc : VS_UPLINK_RX_DESC;
}

void vs_uplink_rx_table(uint16_t port_id, unsigned int queues, const char **driver,
			uint16_t *nb_desc)
{
	struct rte_eth_dev_info info;
	struct rte_eth_rxq_info qinfo;
	unsigned int q;

	*driver = rte_eth_dev_info_get(port_id, &info) == 0 ? info.driver_name : NULL;
	for (q = 0; q < queues; q++) {
		memset(&qinfo, 0, sizeof(qinfo));
		nb_desc[q] = rte_eth_rx_queue_info_get(port_id, (uint16_t)q, &qinfo) == 0 ?
			     qinfo.nb_desc : 0;
	}
}

int vs_uplink_tap_qlen(uint16_t port_id, const char *driver)
{
	struct rte_eth_dev_info info;
	struct ifreq ifr;
	int fd, qlen = -1;

	if (!uplink_is_tap(driver) || rte_eth_dev_info_get(port_id, &info) || !info.if_index)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(info.if_index, ifr.ifr_name))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (ioctl(fd, SIOCGIFTXQLEN, &ifr) == 0)
		qlen = ifr.ifr_qlen;
	close(fd);
	return qlen;
}
