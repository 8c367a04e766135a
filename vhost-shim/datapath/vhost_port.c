/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_port.c - rte_vhost registration and device callbacks
 *
 * Theory of operation: see vhost_port.h.
 *
 * Security model: the guest (through QEMU) controls the rings and the
 * negotiated features.  rte_vhost validates descriptors; we never parse a
 * descriptor ourselves.  We do not trust the number of vrings the frontend
 * set up: the lcores only use queue pairs below min(configured, negotiated).
 *
 * Callback rules (DPDK 22.11): destroy_device() must not return while an
 * lcore may still touch the device, because DPDK answers GET_VRING_BASE
 * right after it without taking the vring lock; so it clears vid, then
 * quiesces the lcores (RCU).  It may wait: DPDK calls it with no
 * virtqueue access_lock held (below).  No other callback waits for an
 * lcore (vs_dp_quiesce()), because DPDK calls them with every access_lock
 * of the device held, and a busy lcore spins on one of those inside
 * rte_vhost_enqueue_burst() without passing a quiescent point: a deadlock
 * of the vhost thread and the lcore (dataplane.h, "Lock rule").  Where,
 * in DPDK's lib/vhost/ (line numbers of v22.11.11, Debian 12's
 * libdpdk-dev, then of v22.11 where they differ):
 *  - vhost_user_msg_handler() (vhost_user.c:2974 / 2963) takes every
 *    access_lock with vhost_user_lock_all_queue_pairs() (3066 / 3050;
 *    rte_spinlock_lock() at 2949 / 2938) for SET_FEATURES,
 *    SET_PROTOCOL_FEATURES, SET_OWNER, SET_MEM_TABLE, SET_LOG_BASE,
 *    SET_LOG_FD, SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR, SET_VRING_ENABLE,
 *    SEND_RARP, NET_SET_MTU and SET_SLAVE_REQ_FD (3049-3064 / 3033-3048),
 *    and releases them at 3181 / 3165.  In between it calls
 *    pre_msg_handle (3078 / 3062), the request's handler, post_msg_handle
 *    (3130 / 3114) and vring_state_changed through
 *    vhost_user_notify_queue_state() (3175 / 3159 -> 256) for each vring
 *    whose readiness changed; SET_VRING_ENABLE's handler (2161 / 2157)
 *    sets vq->enabled before that (2181 / 2177).  The handlers of
 *    SET_VRING_CALL (1789 / 1788) and SET_VRING_KICK (2052 / 2051) call
 *    vring_state_changed(0) themselves, and SET_FEATURES's calls
 *    features_changed (363), all under those locks.
 *  - rte_vhost_enqueue_burst() (virtio_net.c:1604 / 1598) ->
 *    virtio_dev_rx() takes the vring's access_lock with
 *    rte_spinlock_lock() (1570 / 1564): it spins until it gets it;
 *    rte_vhost_dequeue_burst() (3231 / 3229) only tries it
 *    (rte_spinlock_trylock(), 3259 / 3257) and else returns 0.
 *  - destroy_device comes from vhost_destroy_device_notify() (vhost.c:713,
 *    the call at 723 / 722), at GET_VRING_BASE (vhost_user.c:2091 / 2090)
 *    and RESET_OWNER (278), which take no lock ("we don't lock all queues
 *    on VHOST_USER_GET_VRING_BASE", 3042 / 3026), and when the connection
 *    ends (socket.c:322 / 320, after the handler released the locks;
 *    vhost.c:739 / 738).  new_device comes after the unlock (3194 / 3177).
 *
 * Checksum offload and host TSO are offered (below, VHOST_OFFLOADS_ON):
 * the lcore finishes the guest's partial checksums and cuts its TSO frames
 * into MTU-sized ones before the uplink (dp_tx_offload.c), so every frame
 * the shim carries or buffers still fits one mbuf (sized for the port's
 * MTU, port_pool.h); only a TSO frame arrives as a chain, and is cut at
 * once.  VIRTIO_NET_F_MTU stays offered (DPDK's default): QEMU's
 * host_mtu= reaches the guest, and new_device notes it.
 * Packed rings are not offered: the lcore's TX stall check reads the split
 * ring's avail index (on a packed ring that address holds the driver's
 * event-suppression flags, and the check counted millions of bogus
 * guest-malformed drops), so a guest that asks for them (packed=on) runs
 * on split rings.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <rte_vhost.h>

#include "dataplane.h"
#include "dp_postcopy.h"
#include "handover.h"
#include "log.h"
#include "port_registry.h"
#include "reach.h"
#include "vhost_port.h"
#include "vm.h"

/*
 * What a port never offers: the legacy GSO bit (with which a pre-1.0
 * Linux or FreeBSD guest turns on every GSO type at once, UFO included,
 * which the shim does not cut) and packed rings (the TX stall check reads
 * the split ring).
 *
 * offloads=on (the default): checksum offload (CSUM: the guest leaves
 * TCP/UDP checksums partial and the shim finishes them, pkt_csum.h), TCP
 * segmentation offload (HOST_TSO4/6: the shim cuts the guest's 64 KiB
 * frames, pkt_tso.h) with HOST_ECN, and the guest's receive offloads
 * (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO: what the guest
 * accepts; the shim never sends it more than a checked, MTU-sized frame,
 * with a zero header).
 * offloads=dpdk: also HOST_UFO, which makes the set what DPDK's vhost PMD
 * offers (dpdk-testpmd; host TSO only with its tso=1) but the GSO bit,
 * which a virtio 1.0 Linux guest does not ack, so that its VMs can
 * migrate in (QEMU refuses a destination that lacks a feature the guest
 * negotiated; Linux acks HOST_UFO) and back out (the guest keeps the
 * features it negotiated there).  Not in `on`: a Linux guest older than
 * 4.14 (RHEL 7's 3.10) sends a UDP datagram larger than the MTU as one UFO
 * frame instead of IP fragments, which the shim does not cut: it is
 * dropped as `oversize`.
 * offloads=off: none of these.
 */
#define VHOST_NEVER_OFFERED	((1ULL << VIRTIO_NET_F_GSO) | (1ULL << VIRTIO_F_RING_PACKED))
#define VHOST_OFFLOADS_ON                                                           \
	((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) |          \
	 (1ULL << VIRTIO_NET_F_HOST_TSO4) | (1ULL << VIRTIO_NET_F_HOST_TSO6) |      \
	 (1ULL << VIRTIO_NET_F_HOST_ECN) |                                          \
	 (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) |    \
	 (1ULL << VIRTIO_NET_F_GUEST_ECN) | (1ULL << VIRTIO_NET_F_GUEST_UFO))
#define VHOST_OFFLOADS_DPDK	(VHOST_OFFLOADS_ON | (1ULL << VIRTIO_NET_F_HOST_UFO))

/* the features a port with @mode does not offer */
static uint64_t vhost_features_withheld(enum vs_offloads mode)
{
	uint64_t offered = mode == VS_OFFLOADS_DPDK ? VHOST_OFFLOADS_DPDK :
			   mode == VS_OFFLOADS_ON ? VHOST_OFFLOADS_ON : 0;

	return VHOST_NEVER_OFFERED | (VHOST_OFFLOADS_DPDK & ~offered);
}

/*
 * On the main loop thread (vhost_events.h): hand the event to the
 * handover if the port is still there.  Removing a port drops its queued
 * events (vs_vhost_port_unregister()), so the lookup finds the port the
 * event was posted for; it is looked up rather than remembered because
 * only this thread may rely on a port staying (port_registry.h).
 */
static void vhost_event_handler(const struct vs_vhost_event *ev)
{
	struct vs_vm *vm = vs_vm_find_by_name(ev->name);

	if (vm)		/* else removed meanwhile */
		vs_ho_vhost_event(vm, ev);
}

/* an event names its port whole: forget and the lookup compare names */
static_assert(sizeof(((struct vs_vhost_event *)NULL)->name) > VS_NAME_MAX, "port name fits");

/*
 * Called on the vhost thread, under vs_vm_registry_lock: the main loop
 * handles it later, never this thread (vhost_events.h).  Dropped when
 * the main loop no longer takes events (shutdown): the port is going.
 */
static void vhost_post_event(const struct vs_vm *vm, enum vs_vhost_event_type type,
			     unsigned int vring, int enable)
{
	struct vs_vhost_event ev = {
		.type = type,
		.features = __atomic_load_n(&vm->features, __ATOMIC_RELAXED),
		.vring = vring,
		.enable = enable,
	};

	g_strlcpy(ev.name, vm->cfg->name, sizeof(ev.name));
	if (!vs_vhost_events_post(&ev))
		vs_log(MAIN, DEBUG, vm->cfg->name, "%s not handled: shutting down",
		       vs_vhost_event_type_to_string(type));
}

static struct vs_vm *vhost_lookup_locked(int vid)
{
	char path[PATH_MAX];

	if (rte_vhost_get_ifname(vid, path, sizeof(path)))
		return NULL;
	return vs_vm_find_by_path_locked(path);
}

/*
 * The entries of RX vring 0 the shim filled that the guest has not
 * reposted (vs_dp_rx_ring_outstanding()): how full the guest's ring was
 * when its device stopped or started (issue 16, docs/migration.md).  Takes
 * the vring's lock: only where neither DPDK nor an lcore may hold it.  A
 * device without vring 0 leaves the gauge as it was.
 */
static void vhost_measure_rx_ring(struct vs_vm *vm, int vid, uint64_t *gauge)
{
	struct rte_vhost_vring vr;

	if (rte_vhost_get_vhost_vring(vid, 0, &vr) || !vr.size)
		return;
	/* post-copy: a missing page would block this (DPDK's) thread */
	if (!vs_dp_pcg_vring_resident_now(vid, 0))
		return;
	__atomic_store_n(gauge, vs_dp_rx_ring_outstanding(vid, vr.size), __ATOMIC_RELAXED);
}

/*
 * Remember the size of RX vring @vring (even) for the lcore
 * (vm->rx_ring_size; rte_vhost_get_vhost_vring() takes no lock)
 */
static void vhost_note_rx_ring_size(struct vs_vm *vm, int vid, uint16_t vring)
{
	struct rte_vhost_vring vr;

	if (vring % 2 || vring / 2 >= VS_MAX_QUEUES || rte_vhost_get_vhost_vring(vid, vring, &vr))
		return;
	__atomic_store_n(&vm->rx_ring_size[vring / 2], vr.size, __ATOMIC_RELAXED);
}

/*
 * vhost_note_guest_mtu() - the MTU QEMU gave the guest (its host_mtu=,
 * VHOST_USER_NET_SET_MTU, which DPDK keeps once VIRTIO_NET_F_MTU is
 * negotiated; DPDK offers the bit): one larger than the port's lets the
 * guest send frames the port drops as oversize, which the log says
 */
static void vhost_note_guest_mtu(struct vs_vm *vm, int vid)
{
	uint16_t mtu = 0;

	if (rte_vhost_get_mtu(vid, &mtu))
		mtu = 0;		/* not negotiated: the guest chooses */
	__atomic_store_n(&vm->guest_mtu, mtu, __ATOMIC_RELAXED);
	if (mtu > vm->cfg->mtu)
		vs_log(MAIN, WARNING, vm->cfg->name,
		       "the guest's MTU is %u (QEMU's host_mtu), the port's %u: its frames "
		       "over %u bytes are dropped (oversize); set the port's mtu", mtu,
		       vm->cfg->mtu, vs_port_cfg_max_frame(vm->cfg));
}

static int vhost_new_device_cb(int vid)
{
	struct vs_vm *vm;
	uint64_t features = 0;
	unsigned int vrings, q;

	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	if (!vm) {
		g_mutex_unlock(&vs_vm_registry_lock);
		vs_log(MAIN, ERR, NULL, "new_device for unknown socket (vid %d)", vid);
		return -1;
	}
	rte_vhost_get_negotiated_features(vid, &features);
	vrings = rte_vhost_get_vring_num(vid);
	/* post-copy: the guard, before vid (dp_postcopy.h) */
	vs_dp_pcg_device_up(vm, vid);
	/* before vid (release): the lcores ignore the vrings beyond it */
	__atomic_store_n(&vm->dev_queues, MIN(vrings / 2, vm->cfg->queues), __ATOMIC_RELAXED);
	/* We poll: ask the guest not to kick us for every TX frame */
	for (q = 0; q < vrings; q++) {
		/* it writes the used ring: in post-copy, once that is here */
		if (vs_dp_pcg_vring_resident_now(vid, (uint16_t)q))
			rte_vhost_enable_guest_notification(vid, q, 0);
		else
			vs_dp_pcg_defer_notify_off(vid, (uint16_t)q);
		vhost_note_rx_ring_size(vm, vid, (uint16_t)q);	/* before vid, too */
	}
	__atomic_store_n(&vm->features, features, __ATOMIC_RELAXED);
	vhost_note_guest_mtu(vm, vid);
	__atomic_store_n(&vm->stats.poll_max_us, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->stats.uplink_gap_max_us, 0, __ATOMIC_RELAXED);
	/* before vid: no lcore enqueues yet, and DPDK released the locks */
	vhost_measure_rx_ring(vm, vid, &vm->stats.rx_ring_outstanding_at_start);
	__atomic_store_n(&vm->vid, vid, __ATOMIC_RELEASE);
	vs_log(MAIN, INFO, vm->cfg->name,
	       "device up: vid %d, %u vrings, %u queue pair(s) used, features 0x%" PRIx64, vid,
	       vrings, vm->dev_queues, features);
	vhost_post_event(vm, VS_VHOST_EV_NEW_DEVICE, 0, 0);
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

static void vhost_destroy_device_cb(int vid)
{
	struct vs_vm *vm;

	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	if (vm && __atomic_load_n(&vm->vid, __ATOMIC_RELAXED) == vid) {
		vs_ho_device_gone_sync(vm);
		__atomic_store_n(&vm->vid, -1, __ATOMIC_RELEASE);
		/* Invariant: no lcore touches guest memory after we return */
		vs_dp_quiesce();
		/* no lcore holds the vring's lock now, and DPDK holds none here */
		vhost_measure_rx_ring(vm, vid, &vm->stats.rx_ring_outstanding_at_stop);
		vs_log(MAIN, INFO, vm->cfg->name, "device down: vid %d%s", vid,
		       RTE_VHOST_NEED_LOG(vm->features) ? " (dirty logging on)" : "");
		vhost_post_event(vm, VS_VHOST_EV_DESTROY_DEVICE, 0, 0);
	}
	/* no lcore uses vid now (quiesced above, or it was never the port's) */
	vs_dp_pcg_device_down(vid);
	g_mutex_unlock(&vs_vm_registry_lock);
}

/*
 * DPDK holds every access_lock of the device here (the callback rules
 * above), so this must not wait for an lcore.  It used to call
 * vs_dp_quiesce() on a disable: a guest that enabled fewer queue pairs
 * (ethtool -L) or a SET_VRING_CALL/KICK on a running ring, with frames
 * arriving for the VM, left the lcore spinning in rte_vhost_enqueue_burst()
 * on a lock this thread held while this thread waited for the lcore's
 * quiescent state: both stuck for good, and every port of that lcore and
 * every vhost-user socket with them (found by reading DPDK, reproduced on
 * the worker loop by tests/unit/test_dp_quiesce.c).  The lcores read the mask once per
 * pass; DPDK refuses a disabled vring under its lock (vs_dp_vring_state()).
 * The registry lock is safe to take here: no holder of it waits for an
 * lcore except destroy_device, on this same thread and without the locks.
 */
static int vhost_vring_state_changed_cb(int vid, uint16_t vring, int enable)
{
	struct vs_vm *vm;

	if (vring >= 32)	/* beyond VS_MAX_QUEUES pairs: never polled */
		return 0;
	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	if (vm) {
		/* the device's vrings as of now: a frontend may add some after
		 * new_device (the lcores ignore the bits beyond dev_queues) */
		if (enable) {
			__atomic_store_n(&vm->dev_queues,
					 MIN(rte_vhost_get_vring_num(vid) / 2, vm->cfg->queues),
					 __ATOMIC_RELAXED);
			vhost_note_rx_ring_size(vm, vid, vring);
		}
		vs_dp_vring_state(vm, vring, enable);
		vs_log(MAIN, DEBUG, vm->cfg->name, "vring %u %s", vring,
		       enable ? "enabled" : "disabled");
	}
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

/* Called under every access_lock of the device (SET_FEATURES): no wait
 * for an lcore here (the callback rules above) */
static int vhost_features_changed_cb(int vid, uint64_t features)
{
	struct vs_vm *vm;

	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	if (vm) {
		uint64_t old = __atomic_exchange_n(&vm->features, features, __ATOMIC_RELAXED);

		if (RTE_VHOST_NEED_LOG(old) != RTE_VHOST_NEED_LOG(features))
			vs_log(MAIN, INFO, vm->cfg->name, "dirty logging %s",
			       RTE_VHOST_NEED_LOG(features) ? "on: migration started"
							    : "off");
		vhost_post_event(vm, VS_VHOST_EV_FEATURES, 0, 0);
	}
	g_mutex_unlock(&vs_vm_registry_lock);
	return 0;
}

/*
 * The post-copy phases (docs/migration.md, "Post-copy").  DPDK handles
 * POSTCOPY_ADVISE, POSTCOPY_LISTEN and POSTCOPY_END itself and tells no
 * device callback, so the port watches the messages go by: the
 * vhost-user request is the first 32-bit word of every message (the wire
 * format), and the hook never handles one.
 * The post-handler marks the vid listening once DPDK accepted LISTEN, so
 * that the device that comes up next gets a guard keeping missing pages
 * off the worker (dp_postcopy.h); END switches the guard off.
 */
#define VHOST_USER_REQ_POSTCOPY_ADVISE	28
#define VHOST_USER_REQ_POSTCOPY_LISTEN	29
#define VHOST_USER_REQ_POSTCOPY_END	30

/* pre_msg_handle: DPDK calls it under every access_lock of the device for
 * most requests (the callback rules above); the post-copy ones it watches
 * take no lock, and it never waits for an lcore */
static enum rte_vhost_msg_result vhost_msg_watch_cb(int vid, void *msg)
{
	static const char *const what[] = {
		[VHOST_USER_REQ_POSTCOPY_ADVISE - VHOST_USER_REQ_POSTCOPY_ADVISE] =
			"post-copy advised: DPDK registers the VM's memory with userfaultfd",
		[VHOST_USER_REQ_POSTCOPY_LISTEN - VHOST_USER_REQ_POSTCOPY_ADVISE] =
			"post-copy listening: the VM runs here while its memory arrives",
		[VHOST_USER_REQ_POSTCOPY_END - VHOST_USER_REQ_POSTCOPY_ADVISE] =
			"post-copy ended: all of the VM's memory is here",
	};
	uint32_t req;
	struct vs_vm *vm;

	memcpy(&req, msg, sizeof(req));
	if (req < VHOST_USER_REQ_POSTCOPY_ADVISE || req > VHOST_USER_REQ_POSTCOPY_END)
		return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	/*
	 * DPDK opens a userfaultfd at ADVISE whatever the port offered: a
	 * frontend that sends it to a port that did not offer post-copy (a
	 * hostile one, or one that ignored the feature bits) is refused, and
	 * DPDK closes its connection
	 */
	if (req != VHOST_USER_REQ_POSTCOPY_END && (!vm || !vm->postcopy_offered)) {
		vs_log(MAIN, WARNING, vm ? vm->cfg->name : NULL,
		       "post-copy message %u refused (vid %d): the port did not offer post-copy",
		       req, vid);
		g_mutex_unlock(&vs_vm_registry_lock);
		return RTE_VHOST_MSG_RESULT_ERR;
	}
	vs_log(MAIN, INFO, vm ? vm->cfg->name : NULL, "%s (vid %d)",
	       what[req - VHOST_USER_REQ_POSTCOPY_ADVISE], vid);
	if (req == VHOST_USER_REQ_POSTCOPY_END)
		vs_dp_pcg_end(vid);
	g_mutex_unlock(&vs_vm_registry_lock);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

/* post_msg_handle: DPDK calls it only when its own handler did not fail,
 * so LISTEN marks the vid listening once DPDK accepted it */
static enum rte_vhost_msg_result vhost_msg_done_cb(int vid, void *msg)
{
	uint32_t req;

	memcpy(&req, msg, sizeof(req));
	if (req == VHOST_USER_REQ_POSTCOPY_LISTEN)
		vs_dp_pcg_listening(vid, true);
	return RTE_VHOST_MSG_RESULT_NOT_HANDLED;
}

static const struct rte_vhost_user_extern_ops vhost_msg_watch = {
	.pre_msg_handle = vhost_msg_watch_cb,
	.post_msg_handle = vhost_msg_done_cb,
};

/*
 * A frontend connection opened or closed: count it on its port.
 *
 * When the port's last frontend goes, its vrings go with it, but DPDK
 * tells no vring_state_changed(0) for them (the connection's end calls
 * destroy_device, then frees the device).  The enabled mask is cleared
 * then, else the next connection inherits it: a guest that now enables
 * one queue pair of two would find the uplink's second queue still sent
 * to a vring it never enabled (drops, or DPDK's "invalid virtqueue idx").
 * Not on any close: a second frontend on the socket (a same-host
 * migration's) may still use them.  No lcore is waited for: the device
 * is gone (vid -1, quiesced by destroy_device) and nothing enqueues.
 */
static void vhost_count_frontend(int vid, int delta)
{
	struct vs_vm *vm;

	g_mutex_lock(&vs_vm_registry_lock);
	vm = vhost_lookup_locked(vid);
	if (vm && __atomic_add_fetch(&vm->frontends, delta, __ATOMIC_RELEASE) <= 0 &&
	    delta < 0) {
		__atomic_store_n(&vm->vring_enabled, 0, __ATOMIC_RELEASE);
		vs_log(MAIN, DEBUG, vm->cfg->name, "last frontend gone: every vring disabled");
	}
	g_mutex_unlock(&vs_vm_registry_lock);
}

static int vhost_new_connection_cb(int vid)
{
	vs_dp_pcg_listening(vid, false);	/* a vid DPDK reuses */
	if (rte_vhost_extern_callback_register(vid, &vhost_msg_watch, NULL))
		vs_log(MAIN, WARNING, NULL, "vid %d: cannot watch its post-copy messages", vid);
	vhost_count_frontend(vid, 1);
	return 0;
}

static void vhost_destroy_connection_cb(int vid)
{
	vs_dp_pcg_listening(vid, false);
	vhost_count_frontend(vid, -1);
}

static const struct rte_vhost_device_ops vhost_ops = {
	.new_connection = vhost_new_connection_cb,
	.destroy_connection = vhost_destroy_connection_cb,
	.new_device = vhost_new_device_cb,
	.destroy_device = vhost_destroy_device_cb,
	.vring_state_changed = vhost_vring_state_changed_cb,
	.features_changed = vhost_features_changed_cb,
};

/*
 * Can this process create a userfaultfd, as DPDK does at POSTCOPY_ADVISE?
 * With vm.unprivileged_userfaultfd=0 it needs CAP_SYS_PTRACE (the packaged
 * unit keeps CAP_NET_ADMIN only).  Offering post-copy without it would let
 * QEMU start a post-copy migration that the destination then fails at
 * ADVISE; not offering it makes QEMU refuse postcopy-ram up front.
 */
static bool vhost_userfaultfd_usable(int *err)
{
#ifdef __NR_userfaultfd
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		*err = errno;
		return false;
	}
	close(fd);
	return true;
#else
	*err = ENOSYS;
	return false;
#endif
}

gboolean vs_vhost_port_register(struct vs_vm *vm, GError **error)
{
	const char *path = vm->cfg->socket_path;
	uint64_t flags = RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS;

	bool postcopy = false;
	int uffd_err = 0;

	if (vm->cfg->postcopy) {
		postcopy = vhost_userfaultfd_usable(&uffd_err);
		if (postcopy)
			flags |= RTE_VHOST_USER_POSTCOPY_SUPPORT; /* migration.md, "Post-copy" */
		else
			vs_log(MAIN, WARNING, vm->cfg->name,
			       "post-copy not offered: userfaultfd: %s (needs CAP_SYS_PTRACE "
			       "or vm.unprivileged_userfaultfd=1)", g_strerror(uffd_err));
	}
	vm->postcopy_offered = postcopy;	/* before the socket exists */
	if (vm->cfg->client) {
		flags |= RTE_VHOST_USER_CLIENT;		/* reconnects every second */
	} else if (!vs_reach_clear_stale(path, error)) {
		/* only a stale socket of ours, in socket-dir, is removed (reach.h):
		 * never the control socket, a live one or anything else.  This
		 * must fail before rte_vhost_driver_register(): its unregister
		 * unlink()s a server path, whatever is there. */
		return FALSE;
	}
	if (rte_vhost_driver_register(path, flags)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot register vhost-user socket %s", path);
		return FALSE;
	}
	vm->vhost_registered = true;
	if (rte_vhost_driver_disable_features(path, vhost_features_withheld(vm->cfg->offloads)) ||
	    rte_vhost_driver_callback_register(path, &vhost_ops) ||
	    rte_vhost_driver_start(path)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			    "cannot start vhost-user socket %s (directory missing?)", path);
		return FALSE;
	}
	vs_log(MAIN, INFO, vm->cfg->name, "vhost-user socket %s (%s mode%s)", path,
	       vs_port_mode_to_string(vm->cfg->client),
	       postcopy ? ", post-copy offered" : "");
	return TRUE;
}

void vs_vhost_port_unregister(struct vs_vm *vm)
{
	if (!vm->vhost_registered)
		return;
	/* unlink()s a server socket itself: no second unlink() here, which
	 * could remove whatever took the path since */
	rte_vhost_driver_unregister(vm->cfg->socket_path);
	vm->vhost_registered = false;
	/* no callback posts for it any more (it left the registry, and the
	 * unregister waited for callbacks in progress): what they posted
	 * must not reach a later port of this name */
	vs_vhost_events_forget(vm->cfg->name);
}

void vs_vhost_port_events_start(void)
{
	vs_vhost_events_start(NULL, vhost_event_handler);
}

void vs_vhost_port_events_stop(void)
{
	vs_vhost_events_stop();
}
