/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * discovery.h - peer discovery through an etcd registry
 *
 * Theory of operation: a shim that has [discovery] etcd= keeps three kinds
 * of state in etcd, each under a lease so that it vanishes with the shim
 * (disc_value.h has the keys and values):
 *   - its node key, PREFIX node/NAME -> where its tunnel listens, from
 *     start to exit, renewed every TTL/3;
 *   - on a destination, one VM key per expectation, PREFIX vm/UUID -> NAME,
 *     under a lease of its own, from migrate-expect until the expectation
 *     ends (the VM arrived and was replayed, cancel, timeout), when the
 *     lease is revoked;
 *   - nothing as a source: it *watches* PREFIX vm/UUID of each VM it runs,
 *     and when a destination writes that key it reads the destination's
 *     node key and hands it up (struct vs_disc_ops), before the blackout.
 * So a migration costs the same few requests whatever the size of the
 * cluster: the destination's grant, put and revoke, and one event plus one
 * read at the one source that watches that VM.
 *
 * What is followed: a VM key is followed only if it has a lease (a key
 * that never expires is not a live expectation), names another node, and
 * that node has a live node key (its lease not expired) with a valid
 * value.  Otherwise the source forgets the destination it had for that VM.
 * The registry only says where to dial; the tunnel authenticates the peer
 * and checks that it is the node named (docs/hardening.md).
 *
 * Faults: every request failure is counted and logged (one line when etcd
 * stops answering, at most one every 10 s after that, one when it answers
 * again); registrations and watches are retried with backoff as long as
 * they matter; nothing here blocks, and nothing waits for etcd: explicit
 * arming never depends on it.  A lease that etcd reports gone (keepalive
 * TTL 0: expired during a partition, or etcd lost it) is granted anew and
 * its key written again, for as long as our side still wants it.
 *
 * Everything runs on the GLib main loop (the default context).
 */
#ifndef VS_DISCOVERY_H
#define VS_DISCOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "disc_etcd.h"
#include "disc_value.h"

struct vs_disc;
typedef struct vs_disc vs_disc;

/* Security consideration: most VM keys one shim registers or watches */
#define VS_DISC_MAX_ENTRIES	1024
/* Retries of a failed registration or watch: from MIN, doubling, to MAX */
#define VS_DISC_RETRY_MIN_MS	200
#define VS_DISC_RETRY_MAX_MS	5000
/* At most one log line per this long while etcd fails */
#define VS_DISC_LOG_INTERVAL_US	(10 * G_USEC_PER_SEC)

/**
 * struct vs_disc_cfg - what vs_disc_new() needs (copied)
 * @endpoints:	etcd client URLs, NULL-terminated
 * @prefix:	the cluster's key prefix, "/.../"
 * @node_name:	our node name
 * @address:	our tunnel's "IP:port", as peers dial it
 * @tls:	our tunnel runs x509 TLS
 * @fingerprint: "sha256:HEX" of our tunnel certificate, or NULL
 * @ttl_s:	lease TTL in seconds (>= 2)
 * @timeout_ms:	longest wait for one request
 * @etcd_ca, @etcd_cert, @etcd_key: TLS towards etcd, each may be NULL
 */
struct vs_disc_cfg {
	const char *const *endpoints;
	const char *prefix;
	const char *node_name;
	const char *address;
	bool tls;
	const char *fingerprint;
	unsigned int ttl_s;
	unsigned int timeout_ms;
	const char *etcd_ca;
	const char *etcd_cert;
	const char *etcd_key;
};

/**
 * struct vs_disc_ops - how discovery calls upward (main loop; neither may
 * call vs_disc_unwatch(), vs_disc_expect_end() or vs_disc_free())
 * @destination: a VM we watch goes to @node (validated, live); called
 *	again when the key changes
 * @destination_gone: the VM's key is gone (the expectation ended or its
 *	lease expired) or names nothing we follow any more; @node is the
 *	destination we had
 */
struct vs_disc_ops {
	void (*destination)(void *opaque, const char *uuid, const struct vs_disc_node *node);
	void (*destination_gone)(void *opaque, const char *uuid, const char *node);
};

/**
 * struct vs_disc_stats - counters (main loop); the requests themselves are
 * counted by the etcd client (struct vs_etcd_stats)
 * @node_registrations: our node key written (start, and after a lost lease)
 * @leases_lost:	leases etcd reported gone while we still wanted them
 * @expect_registrations: VM keys written for expectations
 * @expect_failures:	failed attempts to write one (grant or put)
 * @expect_revocations:	expectation leases revoked at their end
 * @watch_events:	watch events received
 * @watch_restarts:	watches that ended and were set up again
 * @destinations_resolved: destinations handed up
 * @destinations_forgotten: destinations withdrawn
 * @stale_ignored:	VM keys not followed: no lease, or their node has no
 *			live node key
 * @invalid_values:	keys, values or replies refused as malformed
 * @unreachable:	requests that failed (etcd down, timeout, refused)
 */
struct vs_disc_stats {
	uint64_t node_registrations;
	uint64_t leases_lost;
	uint64_t expect_registrations;
	uint64_t expect_failures;
	uint64_t expect_revocations;
	uint64_t watch_events;
	uint64_t watch_restarts;
	uint64_t destinations_resolved;
	uint64_t destinations_forgotten;
	uint64_t stale_ignored;
	uint64_t invalid_values;
	uint64_t unreachable;
};

/**
 * vs_disc_new() - start: register our node (asynchronously)
 * @cfg:	configuration
 * @ops:	callbacks (static storage)
 * @opaque:	their first argument
 * @error:	set if the configuration is unusable (TLS files)
 *
 * Return: the registry client, or NULL
 */
struct vs_disc *vs_disc_new(const struct vs_disc_cfg *cfg, const struct vs_disc_ops *ops,
			    void *opaque, GError **error);

/**
 * vs_disc_free() - revoke our leases (waiting up to the request timeout,
 * iterating the default main context), stop every watch, free
 * @d:		registry client, or NULL
 */
void vs_disc_free(struct vs_disc *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_disc, vs_disc_free)

/**
 * vs_disc_expect() - destination: an expectation of VM @uuid began here;
 * write its VM key (counted: two expectations of one VM, one key)
 * @d:		registry client
 * @uuid:	canonical lower-case UUID
 *
 * Return: false if @d has VS_DISC_MAX_ENTRIES expectations already
 */
bool vs_disc_expect(struct vs_disc *d, const char *uuid);

/**
 * vs_disc_expect_end() - one expectation of @uuid ended; the last one
 * revokes the key's lease
 * @d:		registry client
 * @uuid:	as given to vs_disc_expect()
 */
void vs_disc_expect_end(struct vs_disc *d, const char *uuid);

/**
 * vs_disc_watch() - source: watch where VM @uuid goes (counted)
 * @d:		registry client
 * @uuid:	canonical lower-case UUID
 *
 * Return: false if @d has VS_DISC_MAX_ENTRIES watches already
 */
bool vs_disc_watch(struct vs_disc *d, const char *uuid);

/**
 * vs_disc_unwatch() - one watcher of @uuid is gone; the last one stops the
 * watch (no callback for it after this)
 * @d:		registry client
 * @uuid:	as given to vs_disc_watch()
 */
void vs_disc_unwatch(struct vs_disc *d, const char *uuid);

/**
 * vs_disc_destination() - where VM @uuid goes, as far as we know
 * @d:		registry client
 * @uuid:	a watched UUID
 *
 * Return: the destination (owned by @d), or NULL
 */
const struct vs_disc_node *vs_disc_destination(const struct vs_disc *d, const char *uuid);

/**
 * vs_disc_registered() - is our node key written, under a live lease
 * @d:		registry client
 *
 * Return: true if so
 */
bool vs_disc_registered(const struct vs_disc *d);

/**
 * vs_disc_expect_registered() - is the VM key of expectation @uuid written
 * @d:		registry client
 * @uuid:	UUID
 *
 * Return: true if so
 */
bool vs_disc_expect_registered(const struct vs_disc *d, const char *uuid);

/**
 * vs_disc_get_stats() - the counters
 * @d:		registry client
 *
 * Return: them (owned by @d)
 */
const struct vs_disc_stats *vs_disc_get_stats(const struct vs_disc *d);

/**
 * vs_disc_get_etcd_stats() - the etcd client's counters (requests, bytes)
 * @d:		registry client
 *
 * Return: them (owned by @d)
 */
const struct vs_etcd_stats *vs_disc_get_etcd_stats(const struct vs_disc *d);

/**
 * vs_disc_describe() - the state and counters, for query-discovery
 * (docs/control-protocol.md)
 * @d:		registry client
 *
 * Return: a new JSON object
 */
JsonObject *vs_disc_describe(const struct vs_disc *d);

#endif /* VS_DISCOVERY_H */
