/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uplink.c - hot-plug and configure the uplink ethdev
 *
 * Theory of operation: see uplink.h.  Promiscuous mode is requested because
 * the uplink carries frames for the VM's MAC, not for the port's own; PMDs
 * that cannot do it (net_tap delivers everything anyway) are fine.  The
 * port's MTU is the uplink's (rxmode.mtu; a driver that cannot take it
 * fails the port, except net_tap: uplink_tap_mtu()).
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "log.h"
#include "privs.h"
#include "uplink.h"

static void uplink_detach(uint16_t port_id)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port_id, &info) == 0 && info.device) {
		struct rte_device *dev = info.device;

		rte_eth_dev_close(port_id);
		rte_dev_remove(dev);
	} else {
		rte_eth_dev_close(port_id);
	}
}

/*
 * uplink_tap_deepen() - give a net_tap uplink's kernel queue
 * VS_UPLINK_TAP_QLEN frames
 *
 * The kernel queue of a tap is what absorbs the time its reader is away:
 * txqueuelen frames (1000 by default, 45 ms at 22000 pps).  A worker lcore
 * that shares its core with other busy threads was measured away for 47
 * and 130 ms on a 2-core host; a NIC's RX ring gives the same slack with
 * VS_UPLINK_RX_DESC descriptors.  A queue the operator already made
 * longer is left alone.
 */
static void uplink_tap_deepen(const char *who, const struct rte_eth_dev_info *info)
{
	struct ifreq ifr;
	int fd;

	if (!info->driver_name || strcmp(info->driver_name, "net_tap") || !info->if_index)
		return;
	memset(&ifr, 0, sizeof(ifr));
	if (!if_indextoname(info->if_index, ifr.ifr_name))
		return;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (ioctl(fd, SIOCGIFTXQLEN, &ifr) == 0 && ifr.ifr_qlen < VS_UPLINK_TAP_QLEN) {
		int was = ifr.ifr_qlen;

		ifr.ifr_qlen = VS_UPLINK_TAP_QLEN;
		if (ioctl(fd, SIOCSIFTXQLEN, &ifr))
			vs_log(MAIN, WARNING, who, "uplink tap %s: txqueuelen %d kept: %s",
			       ifr.ifr_name, was, g_strerror(errno));
		else
			vs_log(MAIN, INFO, who, "uplink tap %s: txqueuelen %d -> %d", ifr.ifr_name,
			       was, VS_UPLINK_TAP_QLEN);
	}
	close(fd);
}

/*
 * uplink_tap_mtu() - a net_tap uplink's MTU over what its driver takes
 *
 * DPDK 22.11's net_tap says it receives frames of at most 1522 bytes
 * (dev_info max_rx_pktlen), so ethdev refuses any MTU over 1504 for it,
 * though it reads a frame of any size into one mbuf large enough (the
 * port's pool, vs_port_mbuf_data_room()).  The tap interface's MTU, which
 * the kernel's bridge checks before it hands the tap a frame, is set here
 * instead, as the driver's own mtu_set does (SIOCSIFMTU): frames up to
 * the port's MTU reach the guest.  The driver's own MTU stays 1500, and
 * its transmit refuses frames over it: the guest's larger frames are
 * dropped before it, counted oversize (dataplane.c), and the log says so.
 *
 * Return: TRUE if the interface has @mtu
 */
static gboolean uplink_tap_mtu(const char *who, const struct rte_eth_dev_info *info,
			       unsigned int mtu, GError **error)
{
	struct ifreq ifr;
	int fd, err = 0;

	memset(&ifr, 0, sizeof(ifr));
	if (!info->if_index || !if_indextoname(info->if_index, ifr.ifr_name)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink: net_tap interface %u not found to set mtu %u",
			    info->if_index, mtu);
		return FALSE;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ifr.ifr_mtu = (int)mtu;
	if (fd < 0 || ioctl(fd, SIOCSIFMTU, &ifr))
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "uplink tap %s: mtu %u: %s",
			    ifr.ifr_name, mtu, g_strerror(err));
		return FALSE;
	}
	vs_log(MAIN, WARNING, who, "uplink tap %s: mtu %u set on the interface; DPDK's net_tap "
	       "sends frames of at most %u bytes, the guest's larger ones are dropped (oversize)",
	       ifr.ifr_name, mtu, RTE_ETHER_MAX_VLAN_FRAME_LEN);
	return TRUE;
}

static gboolean uplink_open(const char *who, const char *devargs, unsigned int queues,
			    unsigned int mtu, struct rte_mempool *pool, uint16_t *port_id,
			    GError **error)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	g_autofree char *devname = g_strdup(devargs);
	char *comma = strchr(devname, ',');
	bool tap_mtu = false;
	uint16_t pid, q;
	int rc;

	if (comma)
		*comma = '\0';
	rc = rte_dev_probe(devargs);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink '%s': probe failed: %s", devargs, rte_strerror(-rc));
		return FALSE;
	}
	if (rte_eth_dev_get_port_by_name(devname, &pid)) {
		/* PCI devices are named by address: try the devargs' first word */
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink '%s': probed, but no ethdev named '%s'", devargs, devname);
		rte_eal_hotplug_remove("vdev", devname);
		return FALSE;
	}
	if (rte_eth_dev_info_get(pid, &info) ||
	    queues > info.max_rx_queues || queues > info.max_tx_queues) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink '%s': %u queues requested, driver %s supports %u/%u",
			    devargs, queues, info.driver_name ? info.driver_name : "?",
			    info.max_rx_queues, info.max_tx_queues);
		goto fail;
	}
	memset(&conf, 0, sizeof(conf));
	conf.rxmode.mtu = mtu;		/* ethdev checks it against the driver's limits */
	if (info.driver_name && !strcmp(info.driver_name, "net_tap") &&
	    mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN > info.max_rx_pktlen) {
		conf.rxmode.mtu = RTE_ETHER_MTU;	/* uplink_tap_mtu() */
		tap_mtu = true;
	}
	rc = rte_eth_dev_configure(pid, queues, queues, &conf);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink '%s': configure failed (mtu %u; driver %s: %u to %u, frames "
			    "of at most %u bytes): %s", devargs, conf.rxmode.mtu, info.driver_name,
			    info.min_mtu, info.max_mtu, info.max_rx_pktlen, rte_strerror(-rc));
		goto fail;
	}
	for (q = 0; q < queues; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, VS_UPLINK_RX_DESC, rte_eth_dev_socket_id(pid),
					    NULL, pool);
		if (!rc)
			rc = rte_eth_tx_queue_setup(pid, q, VS_UPLINK_TX_DESC,
						    rte_eth_dev_socket_id(pid), NULL);
		if (rc) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
				    "uplink '%s': queue %u setup failed: %s", devargs, q,
				    rte_strerror(-rc));
			goto fail;
		}
	}
	rc = rte_eth_dev_start(pid);
	if (rc) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "uplink '%s': start failed: %s", devargs, rte_strerror(-rc));
		goto fail;
	}
	uplink_tap_deepen(who, &info);
	if (tap_mtu && !uplink_tap_mtu(who, &info, mtu, error))
		goto fail;
	rc = rte_eth_promiscuous_enable(pid);
	if (rc && rc != -ENOTSUP)
		vs_log(MAIN, WARNING, who, "uplink %s: promiscuous mode: %s", devname,
		       rte_strerror(-rc));
	vs_log(MAIN, INFO, who, "uplink %s up: driver %s, port %u, %u queue(s), mtu %u", devname,
	       info.driver_name, pid, queues, mtu);
	*port_id = pid;
	return TRUE;

fail:
	uplink_detach(pid);
	return FALSE;
}

gboolean vs_uplink_open(const char *who, const char *devargs, unsigned int queues,
			unsigned int mtu, struct rte_mempool *pool, uint16_t *port_id,
			GError **error)
{
	GError *err = NULL;
	g_autofree char *hint = NULL;
	vs_caps have;

	if (uplink_open(who, devargs, queues, mtu, pool, port_id, &err))
		return TRUE;
	if (vs_priv_effective(&have))
		hint = vs_priv_uplink_hint(devargs, have);
	if (hint) {
		g_set_error(error, err->domain, err->code, "%s; %s", err->message, hint);
		g_error_free(err);
		return FALSE;
	}
	g_propagate_error(error, err);
	return FALSE;
}

void vs_uplink_close(const char *who, uint16_t port_id)
{
	char name[RTE_ETH_NAME_MAX_LEN] = "?";

	rte_eth_dev_get_name_by_port(port_id, name);
	rte_eth_dev_stop(port_id);
	uplink_detach(port_id);
	vs_log(MAIN, INFO, who, "uplink %s closed", name);
}

/*
 * The kernel drop watch of a net_tap uplink (see uplink.h): a main-loop
 * timer reads the tap's tx_dropped from sysfs by its interface index (the
 * name is looked up each time: a tap can be renamed) and publishes what
 * it dropped since the watch began.  The first good read is the baseline,
 * so drops from before the port opened (a persistent tap) are not counted;
 * a counter that goes backwards (the interface was recreated) starts a new
 * baseline.  The first failure is logged, once until a read succeeds.
 */
#define UPLINK_WATCH_MS	100

struct vs_uplink_watch {
	char *who;
	unsigned int if_index;
	uint64_t *out;		/* atomic: main stores, lcore loads */
	uint64_t last, total;	/* tx_dropped at the last read, growth since the first */
	bool have_base, failing;
	guint timer;
};

static int uplink_tap_tx_dropped(unsigned int if_index, uint64_t *dropped)
{
	char ifname[IF_NAMESIZE], path[64 + IF_NAMESIZE], buf[32];
	ssize_t n;
	int fd;

	if (!if_indextoname(if_index, ifname))
		return -errno;
	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/tx_dropped", ifname);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	*dropped = strtoull(buf, NULL, 10);
	return 0;
}

static gboolean uplink_watch_cb(gpointer data)
{
	struct vs_uplink_watch *w = data;
	uint64_t now = 0;
	int rc = uplink_tap_tx_dropped(w->if_index, &now);

	if (rc) {
		if (!w->failing)
			vs_log(MAIN, WARNING, w->who, "uplink tap (ifindex %u): cannot read its kernel "
			       "drops, uplink-missed misses them until it can: %s", w->if_index,
			       g_strerror(-rc));
		w->failing = true;
		return G_SOURCE_CONTINUE;
	}
	w->failing = false;
	if (w->have_base && now >= w->last)
		w->total += now - w->last;
	w->have_base = true;	/* else the first read, or a new interface */
	w->last = now;
	__atomic_store_n(w->out, w->total, __ATOMIC_RELAXED);
	return G_SOURCE_CONTINUE;
}

struct vs_uplink_watch *vs_uplink_watch_new(const char *who, uint16_t port_id, uint64_t *out)
{
	struct rte_eth_dev_info info;
	struct vs_uplink_watch *w;

	if (rte_eth_dev_info_get(port_id, &info) || !info.driver_name ||
	    strcmp(info.driver_name, "net_tap") || !info.if_index)
		return NULL;
	w = g_new0(struct vs_uplink_watch, 1);
	w->who = g_strdup(who);
	w->if_index = info.if_index;
	w->out = out;
	uplink_watch_cb(w);	/* the baseline */
	w->timer = g_timeout_add(UPLINK_WATCH_MS, uplink_watch_cb, w);
	return w;
}

void vs_uplink_watch_free(struct vs_uplink_watch *w)
{
	if (!w)
		return;
	if (w->timer)
		g_source_remove(w->timer);
	g_free(w->who);
	g_free(w);
}
