/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fake_etcd.h - a tiny etcd v3 JSON gateway in the test's own process
 *
 * Theory of operation: a SoupServer on 127.0.0.1 serving the six calls
 * the discovery module uses (lease grant, keepalive, revoke; kv put,
 * range; watch as a chunked stream of JSON lines), over an in-memory
 * store with revisions, leases (expired by timers, or at once by
 * fake_etcd_expire()) and an event history, so that a watch from a past
 * revision replays what it missed, as etcd does.  Tests also write keys
 * behind the client's back (fake_etcd_put_raw()), stop and restart it,
 * and count the requests it served.  Mocks only what a unit test of pure
 * logic needs; the end-to-end test runs the real etcd.
 */
#ifndef VS_FAKE_ETCD_H
#define VS_FAKE_ETCD_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

struct fake_etcd;

/* Listen on 127.0.0.1 (any free port); its URL is fake_etcd_url() */
struct fake_etcd *fake_etcd_new(void);
void fake_etcd_free(struct fake_etcd *f);
const char *fake_etcd_url(const struct fake_etcd *f);

/* Stop answering: close the listener and every watch stream */
void fake_etcd_stop(struct fake_etcd *f);
/* Listen again on the same port */
void fake_etcd_start(struct fake_etcd *f);

/* A key's value (NULL if absent) and lease */
GBytes *fake_etcd_get(struct fake_etcd *f, const char *key, int64_t *lease);
/* Write a key as any client could, @lease 0: none; raises the events */
void fake_etcd_put_raw(struct fake_etcd *f, const char *key, const void *value, size_t len,
		       int64_t lease);
/* A lease with @ttl seconds, as a grant would give */
int64_t fake_etcd_grant(struct fake_etcd *f, int64_t ttl);
/* Expire a lease now: its keys are deleted (events) */
void fake_etcd_expire(struct fake_etcd *f, int64_t lease);
/* Forget every lease without deleting keys (etcd lost its leases) */
void fake_etcd_forget_leases(struct fake_etcd *f);
/* Requests served on @path ("/v3/kv/put"...), and watch streams open */
unsigned int fake_etcd_requests(const struct fake_etcd *f, const char *path);
unsigned int fake_etcd_watchers(const struct fake_etcd *f);

#endif /* VS_FAKE_ETCD_H */
