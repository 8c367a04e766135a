/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.h - wire format of the control socket (QMP-compatible)
 *
 * Theory of operation: the control socket speaks the QEMU Machine Protocol
 * (QMP) as specified in QEMU's docs/interop/qmp-spec.rst, so that QEMU's
 * python qemu.qmp library, qmp-shell and libvirt-style clients work
 * unchanged.  The server greets, the client negotiates capabilities with
 * "qmp_capabilities", then sends {"execute": NAME, "arguments": {...},
 * "id": ANY} objects and gets {"return": ...} or {"error": {"class": ..,
 * "desc": ..}} back with the same "id"; events are pushed as {"event": ..,
 * "data": .., "timestamp": ..}.  Every message the server sends is one JSON
 * object in ASCII ending with CRLF.  docs/control-protocol.md is the
 * reference; this header holds the names and limits shared with the tests
 * and tools.
 *
 * This header depends on the C library only.
 */
#ifndef VHOST_SHIM_CONTROL_WIRE_H
#define VHOST_SHIM_CONTROL_WIRE_H

/* What the greeting and query-version report ("qemu" is QMP's key name) */
#define VS_CTL_VERSION_MAJOR	0
#define VS_CTL_VERSION_MINOR	1
#define VS_CTL_VERSION_MICRO	0
#define VS_CTL_PACKAGE		"vhost-shim 0.1.0"

/*
 * Security consideration: everything a client sends is untrusted, and the
 * socket may be reachable by a whole group.  Each limit below is enforced before the input is buffered, parsed
 * or answered, and each is tested at its value and one past it.
 *
 * VS_CTL_MAX_MSG_SIZE: bytes of one request, from its first to its last
 *	byte (the largest legitimate request, port-add, is under 1 KiB).  A
 *	longer request gets a GenericError at once and the rest of it is
 *	skipped without being buffered, so memory per client stays bounded.
 * VS_CTL_MAX_DEPTH: nesting of objects and arrays in one request (the
 *	top-level object counts as 1).  Bounds the recursion of the parser and
 *	of everything that walks the tree afterwards.
 * VS_CTL_MAX_CLIENTS: connections at once; the next one is told why and
 *	closed.  Bounds fds and per-client buffers.
 * VS_CTL_RESERVED_CLIENTS: of those, kept for root and the daemon's own
 *	user (the libvirt hook runs as root): other users together never
 *	hold more than VS_CTL_MAX_CLIENTS - VS_CTL_RESERVED_CLIENTS, and one
 *	user at most [daemon] control-clients-per-uid.
 * VS_CTL_MAX_OUTQ_BYTES: replies and events queued for one client that
 *	does not read them.  Past it the client is disconnected, because the
 *	main loop never blocks on a client.  Reading stops earlier, at half of
 *	it, so a client that pipelines requests is slowed down, not dropped.
 * VS_CTL_MAX_RATELIMIT_KEYS: distinct (event, key) pairs whose rate limit
 *	is remembered; the oldest entries are forgotten past it.
 */
#define VS_CTL_MAX_MSG_SIZE		(64u << 10)
#define VS_CTL_MAX_DEPTH		64u
#define VS_CTL_MAX_CLIENTS		64u
#define VS_CTL_RESERVED_CLIENTS		4u
#define VS_CTL_MAX_OUTQ_BYTES		(1u << 20)
#define VS_CTL_MAX_RATELIMIT_KEYS	1024u

/* A rate-limited event is sent at most once per this interval and key */
#define VS_CTL_RATELIMIT_MS		1000u

/*
 * Error classes, as QEMU names them.  The class is for programs and never
 * changes for a given failure; the "desc" is for people and may change.
 */
#define VS_CTL_ERROR_CLASSES(X)					\
	X(GENERIC, "GenericError")				\
	X(COMMAND_NOT_FOUND, "CommandNotFound")			\
	X(DEVICE_NOT_ACTIVE, "DeviceNotActive")			\
	X(DEVICE_NOT_FOUND, "DeviceNotFound")

enum vs_ctl_error_class {
#define VS_CTL_ERR_ENUM(id, name) VS_CTL_ERR_##id,
	VS_CTL_ERROR_CLASSES(VS_CTL_ERR_ENUM)
#undef VS_CTL_ERR_ENUM
	VS_CTL_NUM_ERROR_CLASSES
};

/* Capabilities the client may list in qmp_capabilities' "enable" */
#define VS_CTL_CAP_OOB			"oob"	/* known to QMP, never offered */

/* Commands */
#define VS_CTL_CMD_QMP_CAPABILITIES	"qmp_capabilities"
#define VS_CTL_CMD_QUERY_VERSION	"query-version"
#define VS_CTL_CMD_QUERY_COMMANDS	"query-commands"
#define VS_CTL_CMD_QUERY_CONTROL_STATS	"query-control-stats"
#define VS_CTL_CMD_QUERY_PORTS		"query-ports"
#define VS_CTL_CMD_QUERY_STATS		"query-stats"
#define VS_CTL_CMD_PORT_ADD		"port-add"
#define VS_CTL_CMD_PORT_DEL		"port-del"
#define VS_CTL_CMD_STATS_RESET		"stats-reset"

/* Events */
#define VS_CTL_EVENT_PORT_ADDED		"PORT_ADDED"
#define VS_CTL_EVENT_PORT_DELETED	"PORT_DELETED"

/* Member a rate-limited event carries: how many were not sent before it */
#define VS_CTL_EVENT_SUPPRESSED		"suppressed"

#endif /* VHOST_SHIM_CONTROL_WIRE_H */
