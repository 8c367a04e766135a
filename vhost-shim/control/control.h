/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control.h - QMP-compatible control socket: server, dispatcher, commands
 *
 * Theory of operation: control.c is the protocol layer (with
 * control_json.c, control_dispatch.c and control_listen.c; control_priv.h
 * says which part is where).  It listens on a unix socket from the GLib
 * main loop, gives each client a slot of its user's, greets it, splits the
 * byte stream into JSON values, parses them with its own strict parser,
 * checks the request envelope and the arguments against the command table,
 * calls the handler and queues the reply.  It knows nothing about ports:
 * the table, vs_ctl_cmds[] in control_cmds.c, is found at link time, so the
 * unit test links the real table against stubs of port.c and runs without EAL.
 *
 * A command is one row of the table: its name, its handler, its flags and
 * its argument schema.  The dispatcher checks all of that in one place
 * before the handler runs, so a handler sees only arguments of the right
 * type and every required one.  To add commands (say migration ones), add
 * rows to vs_ctl_cmds[] in name order (vs_ctl_start() refuses an unsorted
 * table) and put the handlers in their own file.
 *
 * Handlers set a GError and return NULL on failure; the dispatcher turns
 * that into the error reply and nobody else reports it.  The error class is
 * the GError code when the domain is VS_CTL_ERROR, GenericError otherwise.
 *
 * Threads: everything here runs on the main loop thread, including
 * vs_ctl_emit_event().  Other threads post to it through a GSource attached
 * to the main context, as datapath/vhost_events.c does, never with
 * g_main_context_invoke(): that runs the callback on the calling thread
 * whenever the main loop is not running (startup, shutdown).
 */
#ifndef VS_CONTROL_H
#define VS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "config.h"
#include "enum.h"
#include "vhost-shim/control_wire.h"

#define VS_CTL_ERROR (vs_ctl_error_quark())
GQuark vs_ctl_error_quark(void);

/* The error classes' names, as in replies: "GenericError"... (control.c) */
VS_ENUM_DECL(vs_ctl_error_class, enum vs_ctl_error_class);

/* One client connection, as handlers see it */
struct vs_ctl_session;

/**
 * enum vs_ctl_arg_type - JSON type an argument must have
 * @VS_CTL_ARG_STR:	string
 * @VS_CTL_ARG_INT:	integer (no fraction, no exponent) within min..max
 * @VS_CTL_ARG_BOOL:	true or false
 * @VS_CTL_ARG_ENUM:	one of the names of @values (not their aliases)
 * @VS_CTL_ARG_STR_LIST: array of strings
 */
enum vs_ctl_arg_type {
	VS_CTL_ARG_STR,
	VS_CTL_ARG_INT,
	VS_CTL_ARG_BOOL,
	VS_CTL_ARG_ENUM,
	VS_CTL_ARG_STR_LIST,
};

/**
 * struct vs_ctl_arg - one argument of a command
 * @name:	member name in "arguments"; NULL ends the list
 * @type:	expected JSON type
 * @required:	missing is an error
 * @values:	VS_CTL_ARG_ENUM: the enum whose names are accepted
 * @min, @max:	VS_CTL_ARG_INT: accepted range (both 0: any integer)
 */
struct vs_ctl_arg {
	const char *name;
	enum vs_ctl_arg_type type;
	bool required;
	const struct vs_enum *values;
	int64_t min, max;
};

/**
 * typedef vs_ctl_handler_fn - run one command
 * @s:		the client that sent it
 * @args:	its arguments, already checked against the schema; never NULL
 * @error:	set on failure; the class comes from the code if the domain
 *		is VS_CTL_ERROR
 *
 * Return: the "return" value (new reference), or NULL with @error set
 */
typedef JsonNode *(*vs_ctl_handler_fn)(struct vs_ctl_session *s, JsonObject *args,
				       GError **error);

/*
 * Flags of a command.
 * VS_CTL_CMD_NEGOTIATION: runs only before capabilities are negotiated
 *	(qmp_capabilities); every other command runs only after.
 * VS_CTL_CMD_MUTATES: changes daemon state; logged at info level with the
 *	client's name, so the log tells who did what.
 */
#define VS_CTL_CMD_NEGOTIATION	(1u << 0)
#define VS_CTL_CMD_MUTATES	(1u << 1)

/**
 * struct vs_ctl_cmd - one row of the command table
 * @name:	command name, QMP style ("query-ports")
 * @handler:	what runs it
 * @flags:	VS_CTL_CMD_*
 * @args:	argument schema, ended by a row with a NULL name; NULL: none
 * @args_fn:	instead of @args, a schema built once at run time from
 *		another table (set-buffer-policy's, from the configuration
 *		keys); the same on every call
 */
struct vs_ctl_cmd {
	const char *name;
	vs_ctl_handler_fn handler;
	unsigned int flags;
	const struct vs_ctl_arg *args;
	const struct vs_ctl_arg *(*args_fn)(void);
};

/**
 * vs_ctl_cmd_args() - a command's argument schema
 * @cmd:	command
 *
 * Return: @cmd->args, or what @cmd->args_fn builds; NULL: no arguments
 */
const struct vs_ctl_arg *vs_ctl_cmd_args(const struct vs_ctl_cmd *cmd);

/* The table, sorted by strcmp() of the names (control_cmds.c) */
extern const struct vs_ctl_cmd vs_ctl_cmds[];
extern const size_t vs_ctl_num_cmds;

/**
 * vs_ctl_start() - listen on the control socket
 * @cfg:	the daemon's configuration, which must outlive the control
 *		socket: control-socket (a stale socket there is replaced, a
 *		live one or any other file is an error), control-group (may
 *		connect, socket mode 0660; none: 0600),
 *		control-clients-per-uid; port-add checks ports against it
 *		(vs_ctl_config())
 * @error:	set on failure; nothing is left listening
 *
 * Refuses a socket directory that others can write to unless it has the
 * sticky bit (as /tmp does), since they could replace the socket.
 *
 * Return: TRUE on success
 */
gboolean vs_ctl_start(const struct vs_cfg *cfg, GError **error);

/**
 * vs_ctl_config() - the configuration the control socket was started with
 *
 * Return: it, or NULL when the control socket is not running
 */
const struct vs_cfg *vs_ctl_config(void);

/**
 * vs_ctl_stop() - close every client and the listener, remove the socket file
 */
void vs_ctl_stop(void);

/**
 * vs_ctl_emit_event() - send an event to every negotiated client
 * @name:	event name, upper case ("PORT_ADDED")
 * @data:	JSON object with the event's details, consumed; NULL: none
 */
void vs_ctl_emit_event(const char *name, JsonNode *data);

/**
 * vs_ctl_emit_event_ratelimited() - like vs_ctl_emit_event(), at most one
 * per VS_CTL_RATELIMIT_MS for each (@name, @key)
 * @name:	event name
 * @key:	what the limit is per, e.g. the port name
 * @data:	JSON object or NULL, consumed.  A sent event's data carries
 *		"suppressed": how many were dropped since the previous one.
 *
 * Return: TRUE if the event was sent (FALSE: suppressed, or @data was not
 * an object), so that a caller whose data is a delta ("dropped since the
 * last event") knows whether to start counting afresh
 */
gboolean vs_ctl_emit_event_ratelimited(const char *name, const char *key, JsonNode *data);

/**
 * vs_ctl_session_name() - how logs name a client ("client 3")
 * @s:		session
 *
 * Return: a string owned by @s
 */
const char *vs_ctl_session_name(const struct vs_ctl_session *s);

/* Argument getters for handlers: the dispatcher has checked the types */
const char *vs_ctl_arg_str(JsonObject *args, const char *name, const char *dflt);
int64_t vs_ctl_arg_int(JsonObject *args, const char *name, int64_t dflt);
bool vs_ctl_arg_bool(JsonObject *args, const char *name, bool dflt);

/**
 * vs_ctl_return_empty() - the return value of a command that returns nothing
 *
 * Return: a new empty JSON object node
 */
JsonNode *vs_ctl_return_empty(void);

/* Protocol commands, implemented in control_dispatch.c, listed in the table */
JsonNode *vs_ctl_cmd_qmp_capabilities(struct vs_ctl_session *s, JsonObject *args,
				      GError **error);
JsonNode *vs_ctl_cmd_query_commands(struct vs_ctl_session *s, JsonObject *args,
				    GError **error);
JsonNode *vs_ctl_cmd_query_control_stats(struct vs_ctl_session *s, JsonObject *args,
					 GError **error);
JsonNode *vs_ctl_cmd_query_version(struct vs_ctl_session *s, JsonObject *args,
				   GError **error);

/**
 * vs_ctl_json_parse() - parse one JSON value strictly (RFC 8259, plus QMP's
 * single-quoted strings)
 * @buf:	text, not NUL-terminated; at most VS_CTL_MAX_MSG_SIZE bytes
 * @len:	its length
 * @error:	set on failure, message "JSON parse error, ..."
 *
 * Rejects nesting deeper than VS_CTL_MAX_DEPTH, invalid UTF-8, lone
 * surrogates, \u0000 and anything after the value but whitespace.
 *
 * Return: the value, or NULL
 */
JsonNode *vs_ctl_json_parse(const char *buf, size_t len, GError **error);

/**
 * vs_ctl_json_to_string() - serialize as QMP does: ASCII only (\uXXXX
 * escapes), ", " and ": " separators, members in insertion order
 * @node:	value
 *
 * Return: new string, g_free() it
 */
char *vs_ctl_json_to_string(JsonNode *node);

#endif /* VS_CONTROL_H */
