/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * control_dispatch.c - the control socket's dispatcher and protocol commands
 *
 * Theory of operation: ctl_execute() takes one parsed request from a
 * session (control.c) and holds it to QMP's rules in one place, before
 * any handler runs:
 *   1. it must be an object whose members are "execute" (a string),
 *	"arguments" (an object) and "id" (anything), and nothing else;
 *   2. the command is found in the sorted table vs_ctl_cmds[] with
 *	bsearch() (vs_ctl_start() refuses an unsorted table);
 *   3. the phase must allow it: before qmp_capabilities only commands
 *	flagged VS_CTL_CMD_NEGOTIATION run, after it only the others;
 *   4. "arguments" is checked against the row's schema: every member in
 *	schema order (missing, then type, enum value or integer range), then
 *	any member the schema does not have, as QEMU orders its errors;
 *   5. the handler runs and must return a value or set an error, never
 *	both and never neither (ctl_run_handler() logs a breach and replies
 *	with an error of its own).
 * Each refusal in steps 1-4 sets a GError with the class to reply with and
 * bumps one counter (invalid or unknown_commands); a handler's error comes
 * back the same way.  The session turns it into the reply, so it is
 * reported once.
 *
 * The protocol's own commands (qmp_capabilities, query-version,
 * query-commands, query-control-stats) and the argument getters that
 * handlers use are here too: they know the session and the counters,
 * which the handlers in control_cmds.c and control_mig.c do not.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "control.h"
#include "control_priv.h"
#include "log.h"

/* ------------------------------------------------------------------ */
/* Dispatcher                                                           */
/* ------------------------------------------------------------------ */

static int ctl_cmd_cmp(const void *key, const void *row)
{
	return strcmp(key, ((const struct vs_ctl_cmd *)row)->name);
}

static const struct vs_ctl_cmd *ctl_find_cmd(const char *name)
{
	return bsearch(name, vs_ctl_cmds, vs_ctl_num_cmds, sizeof(vs_ctl_cmds[0]), ctl_cmd_cmp);
}

const struct vs_ctl_arg *vs_ctl_cmd_args(const struct vs_ctl_cmd *cmd)
{
	return cmd->args_fn ? cmd->args_fn() : cmd->args;
}

static bool ctl_node_is(JsonNode *n, GType type)
{
	return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == type;
}

/*
 * ctl_check_arg() - check one present argument against its schema row
 *
 * Return: TRUE if it conforms
 */
static gboolean ctl_check_arg(const struct vs_ctl_arg *a, JsonNode *v, GError **error)
{
	static const char *const type_names[] = {
		[VS_CTL_ARG_STR] = "string", [VS_CTL_ARG_INT] = "integer",
		[VS_CTL_ARG_BOOL] = "boolean", [VS_CTL_ARG_ENUM] = "string",
		[VS_CTL_ARG_STR_LIST] = "array",
	};
	bool ok = false;

	switch (a->type) {
	case VS_CTL_ARG_STR:
	case VS_CTL_ARG_ENUM:
		ok = ctl_node_is(v, G_TYPE_STRING);
		break;
	case VS_CTL_ARG_INT:
		ok = ctl_node_is(v, G_TYPE_INT64);
		break;
	case VS_CTL_ARG_BOOL:
		ok = ctl_node_is(v, G_TYPE_BOOLEAN);
		break;
	case VS_CTL_ARG_STR_LIST:
		ok = JSON_NODE_HOLDS_ARRAY(v);
		break;
	}
	if (!ok) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Invalid parameter type for '%s', expected: %s", a->name,
			    type_names[a->type]);
		return FALSE;
	}

	if (a->type == VS_CTL_ARG_ENUM) {
		const char *s = json_node_get_string(v);
		unsigned int i;

		/* the canonical names only: no alias, no other case */
		for (i = 0; a->values && i < a->values->n; i++)
			if (a->values->names[i] && !strcmp(a->values->names[i], s))
				return TRUE;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "Parameter '%s' does not accept value '%s'", a->name, s);
		return FALSE;
	}
	if (a->type == VS_CTL_ARG_INT && (a->min || a->max)) {
		gint64 i = json_node_get_int(v);

		if (i < a->min || i > a->max) {
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter '%s' expects an integer in %" G_GINT64_FORMAT
				    "..%" G_GINT64_FORMAT, a->name, (gint64)a->min, (gint64)a->max);
			return FALSE;
		}
	}
	if (a->type == VS_CTL_ARG_STR_LIST) {
		JsonArray *arr = json_node_get_array(v);
		guint i;

		for (i = 0; i < json_array_get_length(arr); i++) {
			if (!ctl_node_is(json_array_get_element(arr, i), G_TYPE_STRING)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "Invalid parameter type for '%s[%u]', expected: string",
					    a->name, i);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/*
 * ctl_check_args() - check "arguments" against a command's schema, in
 * the order QEMU does: each schema member in turn (missing, then type),
 * then any member the schema does not have
 *
 * Return: TRUE if the handler may run
 */
static gboolean ctl_check_args(const struct vs_ctl_cmd *cmd, JsonObject *args, GError **error)
{
	const struct vs_ctl_arg *schema = vs_ctl_cmd_args(cmd);
	const struct vs_ctl_arg *a;
	GList *members, *l;
	gboolean ok = TRUE;

	for (a = schema; a && a->name; a++) {
		JsonNode *v = json_object_get_member(args, a->name);

		if (!v) {
			if (a->required) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "Parameter '%s' is missing", a->name);
				return FALSE;
			}
			continue;
		}
		if (!ctl_check_arg(a, v, error))
			return FALSE;
	}

	members = json_object_get_members(args);
	for (l = members; l && ok; l = l->next) {
		for (a = schema; a && a->name; a++)
			if (!strcmp(a->name, l->data))
				break;
		if (!a || !a->name) {
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter '%s' is unexpected", (const char *)l->data);
			ok = FALSE;
		}
	}
	g_list_free(members);
	return ok;
}

/*
 * ctl_check_envelope() - QMP's rules for the request object itself
 * @req:	the request
 * @name:	set to the command name
 * @error:	set if the request is not a valid QMP command
 *
 * Return: TRUE if valid
 */
static gboolean ctl_check_envelope(JsonObject *req, const char **name, GError **error)
{
	GList *members = json_object_get_members(req), *l;
	gboolean ok = TRUE;

	*name = NULL;
	for (l = members; l && ok; l = l->next) {
		const char *m = l->data;
		JsonNode *v = json_object_get_member(req, m);

		if (!strcmp(m, "execute")) {
			if (!ctl_node_is(v, G_TYPE_STRING)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "QMP input member 'execute' must be a string");
				ok = FALSE;
			} else {
				*name = json_node_get_string(v);
			}
		} else if (!strcmp(m, "arguments")) {
			if (!JSON_NODE_HOLDS_OBJECT(v)) {
				g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
					    "QMP input member 'arguments' must be an object");
				ok = FALSE;
			}
		} else if (strcmp(m, "id")) {
			/* includes "exec-oob": we never offer the oob capability */
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "QMP input member '%s' is unexpected", m);
			ok = FALSE;
		}
	}
	g_list_free(members);
	if (ok && !*name) {
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "QMP input lacks member 'execute'");
		ok = FALSE;
	}
	return ok;
}

/*
 * ctl_run_handler() - call a command's handler and hold it to its contract
 * (a value or an error, never both, never neither)
 *
 * Return: the return value, or NULL with @error set
 */
static JsonNode *ctl_run_handler(struct vs_ctl_session *s, const struct vs_ctl_cmd *cmd,
				 JsonObject *args, GError **error)
{
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonNode) ret = cmd->handler(s, args, &err);

	if (!ret && !err) {
		vs_log(CTL, ERR, NULL, "%s: %s returned no value and no error", s->name,
		       cmd->name);
		g_set_error(&err, VS_CTL_ERROR, VS_CTL_ERR_GENERIC, "Internal error in %s",
			    cmd->name);
	} else if (ret && err) {
		vs_log(CTL, ERR, NULL, "%s: %s returned a value and an error", s->name,
		       cmd->name);
		g_clear_error(&err);
	}
	if (cmd->flags & VS_CTL_CMD_MUTATES)
		vs_log(CTL, INFO, NULL, "%s: %s: %s", s->name, cmd->name, err ? "failed" : "done");
	if (err) {
		g_propagate_error(error, g_steal_pointer(&err));
		return NULL;
	}
	return g_steal_pointer(&ret);
}

JsonNode *ctl_execute(struct vs_ctl_session *s, JsonNode *req, GError **error)
{
	g_autoptr(JsonObject) no_args = NULL;
	const struct vs_ctl_cmd *cmd;
	const char *name;
	JsonObject *obj, *args;
	JsonNode *argn;

	if (!JSON_NODE_HOLDS_OBJECT(req)) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
			    "QMP input must be a JSON object");
		return NULL;
	}
	obj = json_node_get_object(req);
	if (!ctl_check_envelope(obj, &name, error)) {
		ctl.counters.invalid++;
		return NULL;
	}

	cmd = ctl_find_cmd(name);
	if (!s->negotiated && !(cmd && (cmd->flags & VS_CTL_CMD_NEGOTIATION))) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "Expecting capabilities negotiation with '%s'",
			    VS_CTL_CMD_QMP_CAPABILITIES);
		return NULL;
	}
	if (!cmd) {
		ctl.counters.unknown_commands++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "The command %s has not been found", name);
		return NULL;
	}
	if (s->negotiated && (cmd->flags & VS_CTL_CMD_NEGOTIATION)) {
		ctl.counters.invalid++;
		g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_COMMAND_NOT_FOUND,
			    "Capabilities negotiation is already complete, command ignored");
		return NULL;
	}

	argn = json_object_get_member(obj, "arguments");
	if (argn) {
		args = json_node_get_object(argn);
	} else {
		no_args = json_object_new();
		args = no_args;
	}
	if (!ctl_check_args(cmd, args, error)) {
		ctl.counters.invalid++;
		return NULL;
	}

	return ctl_run_handler(s, cmd, args, error);
}

/* ------------------------------------------------------------------ */
/* Protocol commands                                                    */
/* ------------------------------------------------------------------ */

JsonNode *vs_ctl_return_empty(void)
{
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	json_node_take_object(n, json_object_new());
	return n;
}

JsonNode *vs_ctl_cmd_qmp_capabilities(struct vs_ctl_session *s, JsonObject *args,
				      GError **error)
{
	JsonNode *enable = json_object_get_member(args, "enable");
	guint i;

	for (i = 0; enable && i < json_array_get_length(json_node_get_array(enable)); i++) {
		const char *cap = json_array_get_string_element(json_node_get_array(enable), i);

		if (!strcmp(cap, VS_CTL_CAP_OOB))
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Capability '%s' not available", cap);
		else
			g_set_error(error, VS_CTL_ERROR, VS_CTL_ERR_GENERIC,
				    "Parameter 'enable[%u]' does not accept value '%s'", i, cap);
		return NULL;
	}
	s->negotiated = true;
	vs_log(CTL, DEBUG, NULL, "%s: capabilities negotiated", s->name);
	return vs_ctl_return_empty();
}

JsonNode *ctl_version_node(void)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "qemu");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "micro");
	json_builder_add_int_value(b, VS_CTL_VERSION_MICRO);
	json_builder_set_member_name(b, "minor");
	json_builder_add_int_value(b, VS_CTL_VERSION_MINOR);
	json_builder_set_member_name(b, "major");
	json_builder_add_int_value(b, VS_CTL_VERSION_MAJOR);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "package");
	json_builder_add_string_value(b, VS_CTL_PACKAGE);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

JsonNode *vs_ctl_cmd_query_version(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	return ctl_version_node();
}

JsonNode *vs_ctl_cmd_query_commands(struct vs_ctl_session *s, JsonObject *args, GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	size_t i;

	json_builder_begin_array(b);
	for (i = 0; i < vs_ctl_num_cmds; i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "name");
		json_builder_add_string_value(b, vs_ctl_cmds[i].name);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	return json_builder_get_root(b);
}

JsonNode *vs_ctl_cmd_query_control_stats(struct vs_ctl_session *s, JsonObject *args,
					 GError **error)
{
	const struct ctl_counters *c = &ctl.counters;
	uint64_t privileged = 0;
	JsonObject *o = json_object_new(), *per_uid = json_object_new();
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);
	size_t i;

	for (i = 0; i < ctl.clients->len; i++) {
		const struct vs_ctl_session *cs = g_ptr_array_index(ctl.clients, i);
		char uid[24];

		snprintf(uid, sizeof(uid), "%ld", cs->uid == (uid_t)-1 ? -1L : (long)cs->uid);
		privileged += cs->privileged;
		json_object_set_int_member(per_uid, uid,
					   json_object_get_int_member_with_default(per_uid, uid, 0) + 1);
	}
	{
		const struct {
			const char *name;
			uint64_t value;
		} rows[] = {
			{ "clients", ctl.clients->len },
			{ "clients-privileged", privileged },
			{ "clients-accepted", c->clients_accepted },
			{ "clients-rejected", c->clients_rejected },
			{ "clients-rejected-per-uid", c->clients_rejected_uid },
			{ "slow-clients-dropped", c->slow_clients_dropped },
			{ "requests", c->requests },
			{ "errors", c->errors },
			{ "malformed", c->malformed },
			{ "oversize", c->oversize },
			{ "too-deep", c->too_deep },
			{ "invalid", c->invalid },
			{ "unknown-commands", c->unknown_commands },
			{ "events", c->events },
			{ "events-suppressed", c->events_suppressed },
		};

		for (i = 0; i < G_N_ELEMENTS(rows); i++)
			json_object_set_int_member(o, rows[i].name, (gint64)rows[i].value);
	}
	json_object_set_object_member(o, "clients-per-uid", per_uid);
	json_node_take_object(n, o);
	return n;
}

const char *vs_ctl_arg_str(JsonObject *args, const char *name, const char *dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_STRING) ? json_node_get_string(v) : dflt;
}

int64_t vs_ctl_arg_int(JsonObject *args, const char *name, int64_t dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_INT64) ? json_node_get_int(v) : dflt;
}

bool vs_ctl_arg_bool(JsonObject *args, const char *name, bool dflt)
{
	JsonNode *v = json_object_get_member(args, name);

	return v && ctl_node_is(v, G_TYPE_BOOLEAN) ? json_node_get_boolean(v) : dflt;
}
