/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_etcd.h - a small etcd v3 client: the JSON gateway over HTTP(S)
 *
 * Theory of operation: etcd serves its gRPC API as JSON over HTTP/1.1 at
 * /v3/... (the grpc-gateway; etcd 3.4 and later).  A unary call is one
 * POST whose reply is one JSON object; a watch is one POST whose reply is
 * a stream of JSON objects, one per line, for as long as the watch lasts.
 * Both go through libsoup's asynchronous API on the GLib main loop, so
 * nothing here blocks: each call ends in its callback, with the reply or
 * an error, exactly once, unless the call is cancelled (vs_etcd_free(),
 * vs_etcd_watch_stop()), after which nothing is called back.
 *
 * Endpoints: the client uses one URL at a time; a call that fails at the
 * transport (no connection, a timeout, a 5xx status) moves it to the next
 * for the calls that follow.  The failed call is not retried here: the
 * layer above knows whether it still matters.
 *
 * TLS: https URLs verify etcd's certificate against etcd-ca (or the
 * system's CAs), and present our client certificate when one is
 * configured, as etcd's --client-cert-auth wants.
 *
 * Bounds: a reply or a watch line over VS_DISC_REPLY_MAX ends the call or
 * the watch with an error; each call has a timeout; a watch has one until
 * its first line (etcd's "created"), none after.
 */
#ifndef VS_DISC_ETCD_H
#define VS_DISC_ETCD_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "enum.h"

/* What a request does, for its counters */
enum vs_etcd_op {
	VS_ETCD_OP_GRANT,	/* /v3/lease/grant */
	VS_ETCD_OP_KEEPALIVE,	/* /v3/lease/keepalive */
	VS_ETCD_OP_REVOKE,	/* /v3/lease/revoke */
	VS_ETCD_OP_PUT,		/* /v3/kv/put */
	VS_ETCD_OP_RANGE,	/* /v3/kv/range */
	VS_ETCD_OP_WATCH,	/* /v3/watch */
	VS_ETCD_NUM_OPS,
};
VS_ENUM_DECL(vs_etcd_op, enum vs_etcd_op);

/**
 * struct vs_etcd_cfg - what vs_etcd_new() needs (copied)
 * @endpoints:	"http://HOST:PORT" or "https://...", NULL-terminated, >= 1
 * @timeout_ms:	the longest wait for one call (a watch: for its first line)
 * @ca:		CA file for https, NULL: the system's
 * @cert, @key:	our client certificate and key, PEM, or NULL
 */
struct vs_etcd_cfg {
	const char *const *endpoints;
	unsigned int timeout_ms;
	const char *ca;
	const char *cert;
	const char *key;
};

/**
 * struct vs_etcd_stats - counters of one client (main loop)
 * @requests:	calls and watches started, by op
 * @failures:	of those, ended by an error (not by a cancel), by op
 * @bytes_out:	JSON bytes sent in request bodies, by op
 * @bytes_in:	JSON bytes received in replies and watch streams, by op
 * @endpoint_switches: moves to the next endpoint after a failure
 */
struct vs_etcd_stats {
	uint64_t requests[VS_ETCD_NUM_OPS];
	uint64_t failures[VS_ETCD_NUM_OPS];
	uint64_t bytes_out[VS_ETCD_NUM_OPS];
	uint64_t bytes_in[VS_ETCD_NUM_OPS];
	uint64_t endpoint_switches;
};

struct vs_etcd;
struct vs_etcd_watch;
typedef struct vs_etcd vs_etcd;

/**
 * typedef vs_etcd_reply_cb - a call ended
 * @reply:	the reply object (borrowed), or NULL on failure
 * @error:	why it failed, or NULL
 * @data:	the call's data
 */
typedef void (*vs_etcd_reply_cb)(JsonObject *reply, const GError *error, void *data);

/**
 * typedef vs_etcd_line_cb - a watch delivered one line (JSON text)
 * @line:	the line, without its newline, NUL-terminated
 * @len:	its bytes
 * @data:	the watch's data
 *
 * Return: false to end the watch (it is stopped; its end callback is
 * not called)
 */
typedef bool (*vs_etcd_line_cb)(const char *line, size_t len, void *data);

/**
 * typedef vs_etcd_end_cb - a watch ended by itself (etcd closed it, the
 * connection broke, a line was too long, no first line in time); the
 * watch is freed when this returns: forget its handle here
 * @error:	why
 * @data:	the watch's data
 */
typedef void (*vs_etcd_end_cb)(const GError *error, void *data);

/**
 * vs_etcd_new() - a client
 * @cfg:	configuration
 * @error:	set if the TLS files cannot be loaded or an URL is invalid
 *
 * Return: the client, or NULL
 */
struct vs_etcd *vs_etcd_new(const struct vs_etcd_cfg *cfg, GError **error);

/**
 * vs_etcd_free() - cancel every call and watch (none calls back) and free
 * @e:		client, or NULL
 */
void vs_etcd_free(struct vs_etcd *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_etcd, vs_etcd_free)

/**
 * vs_etcd_call() - POST one unary request
 * @e:		client
 * @op:		which (its path and counters)
 * @body:	the request object, consumed
 * @cb:		called once when it ends (not after vs_etcd_free())
 * @data:	its argument
 * @destroy:	frees @data after @cb, or when the call is cancelled; may be NULL
 */
void vs_etcd_call(struct vs_etcd *e, enum vs_etcd_op op, JsonObject *body, vs_etcd_reply_cb cb,
		  void *data, GDestroyNotify destroy);

/**
 * vs_etcd_watch_start() - POST a watch request and stream its reply
 * @e:		client
 * @body:	the request object ({"create_request": ...}), consumed
 * @line_cb:	each line, in order
 * @end_cb:	once, when it ends by itself
 * @data:	their argument (not freed by the watch)
 *
 * Return: the watch; stop it with vs_etcd_watch_stop()
 */
struct vs_etcd_watch *vs_etcd_watch_start(struct vs_etcd *e, JsonObject *body,
					  vs_etcd_line_cb line_cb, vs_etcd_end_cb end_cb,
					  void *data);

/**
 * vs_etcd_watch_stop() - cancel a watch: no callback after this
 * @w:		watch, or NULL; freed
 */
void vs_etcd_watch_stop(struct vs_etcd_watch *w);

/**
 * vs_etcd_abandoned() - requests of this process that timed out and that
 * libsoup has not finished yet (disc_etcd.c, "Timeouts"); at
 * ETCD_MAX_ABANDONED, new requests fail without being sent
 *
 * Return: their number
 */
unsigned int vs_etcd_abandoned(void);

/**
 * vs_etcd_endpoint() - the URL in use now
 * @e:		client
 *
 * Return: the URL (owned by @e)
 */
const char *vs_etcd_endpoint(const struct vs_etcd *e);

/**
 * vs_etcd_get_stats() - the client's counters
 * @e:		client
 *
 * Return: them (owned by @e)
 */
const struct vs_etcd_stats *vs_etcd_get_stats(const struct vs_etcd *e);

#endif /* VS_DISC_ETCD_H */
