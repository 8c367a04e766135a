/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_priv.h - what the files of the discovery module share, and nobody
 * else
 *
 * Theory of operation: discovery.c has the client itself, our node key,
 * the lease keepalive and the expectations (destination side);
 * disc_watch.c has the watches and the resolution of destinations (source
 * side).  Both run on the main loop, which owns struct vs_disc.
 *
 * Requests in flight carry a struct disc_ctx naming what they are for by
 * UUID and serial number, never by pointer: an expectation or a watch that
 * ended (and was freed) while its request was in flight is simply not
 * found when the reply comes, and a new one for the same UUID has another
 * serial.  The etcd client frees the context, called back or not.
 */
#ifndef VS_DISC_PRIV_H
#define VS_DISC_PRIV_H

#include "config.h"
#include "discovery.h"

/**
 * enum disc_reg_state - a key we write (our node key, a VM key)
 * @DISC_REG_IDLE:	not written: waiting for a retry, or (a VM key) for
 *			our node key to be written first
 * @DISC_REG_GRANTING:	lease grant in flight
 * @DISC_REG_PUTTING:	put in flight
 * @DISC_REG_UP:	written under a live lease, renewed by the keepalive
 */
enum disc_reg_state {
	DISC_REG_IDLE,
	DISC_REG_GRANTING,
	DISC_REG_PUTTING,
	DISC_REG_UP,
	DISC_REG_NUM_STATES,
};
VS_ENUM_DECL(disc_reg_state, enum disc_reg_state);

/**
 * enum disc_watch_state - a watched VM key
 * @DISC_WATCH_RANGING:	reading the key's value and revision
 * @DISC_WATCH_WATCHING: the watch stream is open (from that revision on)
 * @DISC_WATCH_WAITING:	failed: waiting for a retry
 */
enum disc_watch_state {
	DISC_WATCH_RANGING,
	DISC_WATCH_WATCHING,
	DISC_WATCH_WAITING,
	DISC_WATCH_NUM_STATES,
};
VS_ENUM_DECL(disc_watch_state, enum disc_watch_state);

/* A key we write: our node key (serial 0) or a VM key */
struct disc_reg {
	enum disc_reg_state state;
	int64_t lease;			/* 0: none */
	guint retry_timer;
	unsigned int backoff_ms;
};

/* An expectation of a VM here: its VM key */
struct disc_exp {
	struct vs_disc *d;
	char uuid[VS_UUID_LEN + 1];
	uint64_t serial;
	unsigned int refs;
	struct disc_reg reg;
};

/* A VM we watch */
struct disc_watch {
	struct vs_disc *d;
	char uuid[VS_UUID_LEN + 1];
	uint64_t serial;
	unsigned int refs;
	enum disc_watch_state state;
	struct vs_etcd_watch *w;	/* DISC_WATCH_WATCHING */
	int64_t revision;		/* the last revision applied */
	uint64_t gen;			/* bumped by every change of the key */
	bool have_dest;
	struct vs_disc_node dest;
	guint retry_timer;
	unsigned int backoff_ms;
};

struct vs_disc {
	struct vs_etcd *etcd;
	const struct vs_disc_ops *ops;
	void *opaque;
	char *prefix;
	struct vs_disc_node self;
	unsigned int ttl_s;
	struct disc_reg node;		/* our node key */
	GHashTable *exps;		/* uuid -> struct disc_exp * */
	GHashTable *watches;		/* uuid -> struct disc_watch * */
	guint keepalive_timer;
	uint64_t next_serial;
	bool reachable;			/* the last request succeeded */
	gint64 last_fail_log;		/* monotonic us */
	uint64_t fails_unlogged;
	unsigned int revokes_pending;	/* vs_disc_free() waits for them */
	char last_error[200];
	struct vs_disc_stats stats;
};

/* The request context (see above) */
struct disc_ctx {
	struct vs_disc *d;
	char uuid[VS_UUID_LEN + 1];	/* "" for our node key */
	uint64_t serial;
	uint64_t gen;
	char node[VS_DISC_NODE_MAX + 1];
};

/**
 * disc_ctx_new() - a context for a request about @uuid
 * @d:		client
 * @uuid:	UUID, or NULL for our node key
 * @serial:	the serial of the expectation or watch
 *
 * Return: new context, freed by the etcd client with g_free()
 */
struct disc_ctx *disc_ctx_new(struct vs_disc *d, const char *uuid, uint64_t serial);

/**
 * disc_note() - a request ended: keep track of reachability, count and
 * log a failure (rate-limited)
 * @d:		client
 * @error:	the failure, or NULL for a success
 * @what:	what the request was for, for the log line
 */
void disc_note(struct vs_disc *d, const GError *error, const char *what);

/**
 * disc_log_limited() - a warning about the registry's contents, at most
 * one line per VS_DISC_LOG_INTERVAL_US (the counters count them all)
 * @d:		client
 * @fmt:	printf-style
 */
void disc_log_limited(struct vs_disc *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/**
 * disc_backoff() - the next retry delay of @backoff_ms, updated
 * @backoff_ms:	0 before the first retry
 *
 * Return: delay in ms
 */
unsigned int disc_backoff(unsigned int *backoff_ms);

/* --- disc_watch.c --- */

/**
 * disc_watch_free() - stop and free a watch (the hash table's destroy)
 * @data:	struct disc_watch *
 */
void disc_watch_free(gpointer data);

/**
 * disc_watch_begin() - read the key, then watch it from that revision
 * @w:		watch
 */
void disc_watch_begin(struct disc_watch *w);

/**
 * disc_watch_kick() - etcd answers again: restart the watches waiting
 * for a retry now instead of at the end of their backoff
 * @d:		client
 */
void disc_watch_kick(struct vs_disc *d);

/**
 * disc_watch_describe() - the watches, for vs_disc_describe()
 * @d:		client
 *
 * Return: a new JSON array
 */
JsonArray *disc_watch_describe(const struct vs_disc *d);

#endif /* VS_DISC_PRIV_H */
