/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_priv.h - what the files of the control socket share, and nobody else
 *
 * Theory of operation: the protocol layer of the control socket (control.h)
 * is one module in five files, cut along its stages:
 *
 *   control.c		sessions: the output queue and replies, input
 *			(splitter -> parser -> dispatcher), events; owns
 *			the module state, ctl
 *   control_split.c	the splitter: where one JSON value ends (pure)
 *   control_json.c	the strict JSON parser and the QMP-style serializer
 *   control_dispatch.c	envelope and argument checks, the handler contract,
 *			and the protocol's own commands (qmp_capabilities,
 *			query-version, query-commands, query-control-stats)
 *   control_listen.c	the socket file and listener, accepting a client
 *			(its slot, ctl_admit(); greeting), vs_ctl_start()
 *			and vs_ctl_stop()
 *
 * Command handlers (control_cmds.c, control_mig.c) include control.h only:
 * nothing here is for them.  Everything here runs on the main loop thread,
 * which owns ctl and every session.
 */
#ifndef VS_CONTROL_PRIV_H
#define VS_CONTROL_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "control.h"
#include "log.h"

/**
 * enum ctl_split_state - where the splitter is
 * @CTL_SPLIT_IDLE:	between values: whitespace is skipped
 * @CTL_SPLIT_VALUE: inside an object, an array or a top-level string
 * @CTL_SPLIT_BARE:	inside a top-level number or literal (ends at a delimiter)
 */
enum ctl_split_state {
	CTL_SPLIT_IDLE,
	CTL_SPLIT_VALUE,
	CTL_SPLIT_BARE,
};

/**
 * struct ctl_split - splitter state of one client
 * @buf:	bytes of the current value (empty while skipping)
 * @state:	enum ctl_split_state
 * @depth:	open objects and arrays (keeps counting while skipping)
 * @quote:	inside a string: its quote character; 0 outside
 * @escape:	the previous byte was a backslash inside a string
 * @skipping:	the value broke a limit, was answered, and is being skipped
 * @quiet:	reset by a lexical error and nothing but whitespace since:
 *		a run of bad bytes gets one error, not one per byte
 * @bad:	the byte that caused CTL_SPLIT_EV_LEXICAL or CTL_SPLIT_EV_STRAY
 */
struct ctl_split {
	GByteArray *buf;
	enum ctl_split_state state;
	uint64_t depth;
	char quote;
	bool escape;
	bool skipping;
	bool quiet;
	unsigned char bad;
};

/**
 * enum ctl_split_event - why ctl_split_step() stopped
 * @CTL_SPLIT_EV_MORE:	input used up, no complete value yet
 * @CTL_SPLIT_EV_MESSAGE:	sp->buf holds one complete value
 * @CTL_SPLIT_EV_LEXICAL:	invalid byte: value dropped, splitter reset
 * @CTL_SPLIT_EV_STRAY:	'}' or ']' between values, skipped
 * @CTL_SPLIT_EV_OVERSIZE:	value over VS_CTL_MAX_MSG_SIZE, now being skipped
 * @CTL_SPLIT_EV_TOO_DEEP:	value over VS_CTL_MAX_DEPTH, now being skipped
 */
enum ctl_split_event {
	CTL_SPLIT_EV_MORE,
	CTL_SPLIT_EV_MESSAGE,
	CTL_SPLIT_EV_LEXICAL,
	CTL_SPLIT_EV_STRAY,
	CTL_SPLIT_EV_OVERSIZE,
	CTL_SPLIT_EV_TOO_DEEP,
};

/* --- control_split.c: the splitter --- */

/**
 * ctl_split_reset() - forget the current value: the state between values
 * @sp:		splitter (@sp->quiet and @sp->bad are kept)
 */
void ctl_split_reset(struct ctl_split *sp);

/**
 * ctl_split_step() - consume input until something happens
 * @sp:		splitter
 * @data:	input
 * @len:	bytes of input
 * @used:	bytes consumed, set on return
 *
 * Return: what happened (CTL_SPLIT_EV_MORE: all of @data consumed)
 */
enum ctl_split_event ctl_split_step(struct ctl_split *sp, const unsigned char *data, size_t len,
				    size_t *used);

/**
 * struct ctl_counters - control-plane error and traffic counters (main
 * loop only), reported by query-control-stats
 */
struct ctl_counters {
	uint64_t clients_accepted;
	uint64_t clients_rejected;	/* over VS_CTL_MAX_CLIENTS, or no shared slot left */
	uint64_t clients_rejected_uid;	/* over control-clients-per-uid */
	uint64_t slow_clients_dropped;	/* over VS_CTL_MAX_OUTQ_BYTES */
	uint64_t requests;		/* complete values received */
	uint64_t errors;		/* error replies, any reason */
	uint64_t malformed;		/* not JSON: lexical or syntax error */
	uint64_t oversize;		/* over VS_CTL_MAX_MSG_SIZE */
	uint64_t too_deep;		/* over VS_CTL_MAX_DEPTH */
	uint64_t invalid;		/* JSON, but not a valid request */
	uint64_t unknown_commands;
	uint64_t events;		/* events emitted */
	uint64_t events_suppressed;	/* by the rate limit */
};

/**
 * struct vs_ctl_session - one client
 * @refs:	references: the client list, running callbacks
 * @name:	"client N", for logs
 * @conn:	the GIO connection (owns @sock)
 * @sock:	non-blocking socket
 * @in_src:	input source, NULL while input is paused or finished
 * @out_src:	output source, NULL while the queue is empty or writable
 * @outq:	bytes not yet written, from @out_head on
 * @split:	input splitter
 * @uid:	the client's user (SO_PEERCRED at connect()); (uid_t)-1: unknown
 * @privileged:	@uid is root or the daemon's user: may take a reserved slot,
 *		no per-user cap
 * @negotiated:	qmp_capabilities succeeded: commands and events flow
 * @eof:	the client finished sending: close once @outq is written
 * @closed:	disconnected and off the client list
 */
struct vs_ctl_session {
	unsigned int refs;
	char name[32];
	GSocketConnection *conn;
	GSocket *sock;
	GSource *in_src;
	GSource *out_src;
	GByteArray *outq;
	size_t out_head;
	struct ctl_split split;
	uid_t uid;
	bool privileged;
	bool negotiated;
	bool eof;
	bool closed;
};

/**
 * struct ctl_state - the control socket's state, one instance (ctl, in
 * control.c), owned by the main loop thread
 * @running:	vs_ctl_start() succeeded and vs_ctl_stop() has not run
 * @cfg:	the daemon's configuration (vs_ctl_start()); NULL when not running
 * @service:	the listener (control_listen.c)
 * @path:	the unix socket's path
 * @dev:	device of the socket file we created
 * @ino:	inode of the socket file we created
 * @clients:	struct vs_ctl_session *, one reference each
 * @next_id:	number of the last client accepted, for names
 * @counters:	reported by query-control-stats
 * @ratelimit:	"NAME\nKEY" -> struct ctl_ratelimit (control.c)
 */
struct ctl_state {
	bool running;
	const struct vs_cfg *cfg;
	GSocketService *service;
	char *path;
	dev_t dev;
	ino_t ino;
	GPtrArray *clients;
	uint64_t next_id;
	struct ctl_counters counters;
	GHashTable *ratelimit;
};

extern struct ctl_state ctl;

/* --- control.c: sessions --- */

/**
 * ctl_session_ref() - take a reference on a session
 * @s:		session
 *
 * Return: @s
 */
struct vs_ctl_session *ctl_session_ref(struct vs_ctl_session *s);

/**
 * ctl_session_unref() - drop a reference; the last one frees the session
 * @s:		session, closed already if this is the last reference
 */
void ctl_session_unref(struct vs_ctl_session *s);

typedef struct vs_ctl_session vs_ctl_session;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_ctl_session, ctl_session_unref)

/**
 * ctl_session_close() - disconnect a client: one log line, then it is gone
 * @s:		session; the caller must hold a reference if it uses @s after
 * @level:	log level of the line
 * @reason:	why, for the log
 */
void ctl_session_close(struct vs_ctl_session *s, enum vs_log_level level, const char *reason);

/**
 * ctl_session_drop_source() - destroy and forget a session's source
 * @src:	its in_src or out_src; NULL afterwards
 */
void ctl_session_drop_source(GSource **src);

/**
 * ctl_session_feed() - run received bytes through the splitter and
 * dispatch every complete value; stops early if the session closes
 * meanwhile (what the input callback does with what it read)
 * @s:		session
 * @data:	bytes received
 * @len:	their number
 */
void ctl_session_feed(struct vs_ctl_session *s, const unsigned char *data, size_t len);

/**
 * ctl_session_queued() - bytes of replies and events not written yet
 * @s:		session
 *
 * Return: the count
 */
size_t ctl_session_queued(const struct vs_ctl_session *s);

/**
 * ctl_session_flush() - write what the socket takes now; arm the output
 * source for the rest.  May close @s (write error, or finished after EOF).
 * @s:		session
 */
void ctl_session_flush(struct vs_ctl_session *s);

/**
 * ctl_session_arm_input() - start reading from a client (no-op while
 * reading already, or once it is closed or finished sending)
 * @s:		session
 */
void ctl_session_arm_input(struct vs_ctl_session *s);

/**
 * ctl_session_send_node() - serialize one message, log it at debug level
 * and queue it; may close @s (see ctl_session_send() in control.c)
 * @s:		session
 * @msg:	message, not consumed
 */
void ctl_session_send_node(struct vs_ctl_session *s, JsonNode *msg);

/* --- control_listen.c: slots --- */

/**
 * enum ctl_admit - whether a new client gets a slot
 * @CTL_ADMIT_OK:	yes
 * @CTL_ADMIT_FULL:	no: VS_CTL_MAX_CLIENTS clients already
 * @CTL_ADMIT_SHARED_FULL: no: an unprivileged client, and the slots that are
 *			not reserved for root and the daemon's user are taken
 * @CTL_ADMIT_UID_FULL:	no: the user has control-clients-per-uid clients
 */
enum ctl_admit {
	CTL_ADMIT_OK,
	CTL_ADMIT_FULL,
	CTL_ADMIT_SHARED_FULL,
	CTL_ADMIT_UID_FULL,
};

/**
 * ctl_admit() - may one more client of @uid connect, given ctl.clients
 * @uid:	its user
 * @privileged:	@uid is root or the daemon's user
 * @per_uid:	control-clients-per-uid
 *
 * Return: CTL_ADMIT_OK, or why not
 */
enum ctl_admit ctl_admit(uid_t uid, bool privileged, unsigned int per_uid);

/* --- control_dispatch.c: dispatcher and protocol commands --- */

/**
 * ctl_execute() - run one request
 * @s:		client
 * @req:	the parsed request (any JSON value)
 * @error:	set on failure, with the class to reply with
 *
 * Return: the return value, or NULL with @error set
 */
JsonNode *ctl_execute(struct vs_ctl_session *s, JsonNode *req, GError **error);

/**
 * ctl_version_node() - the version object of the greeting and query-version
 *
 * Return: a new JSON object node
 */
JsonNode *ctl_version_node(void);

#endif /* VS_CONTROL_PRIV_H */
