/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_value.h - the registry's keys and values, and etcd's JSON replies
 *
 * Theory of operation: pure functions, no I/O, so the unit tests and a
 * fuzzer can feed them anything.  The registry (docs/migration.md,
 * "Arming through the registry") has two kinds of keys under a prefix
 * shared by the cluster:
 *   PREFIX node/NAME -> {"node":NAME,"address":"IP:port","tls":"none|x509",
 *                        "fingerprint":"sha256:HEX"}   (a shim, its lease)
 *   PREFIX vm/UUID   -> {"node":NAME}                   (an expectation)
 * etcd's JSON gateway carries keys and values in base64 and 64-bit
 * integers as strings; a watch answers with one JSON object per line.
 *
 * Security model: everything read from etcd is untrusted input (anyone
 * who can write the prefix writes it).  Values are bounded by
 * VS_DISC_VALUE_MAX, replies and watch lines by VS_DISC_REPLY_MAX; a
 * node value must name the node of its key, a valid node name and a
 * numeric, non-wildcard IP:port; anything else is refused with a
 * message, never trusted in part.  The registry only says where to dial:
 * the tunnel's own authentication decides who is at the other end.
 */
#ifndef VS_DISC_VALUE_H
#define VS_DISC_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

/* Security consideration: the largest value we read; ours are < 300 bytes */
#define VS_DISC_VALUE_MAX	1024
/* Security consideration: the largest reply or watch line we buffer */
#define VS_DISC_REPLY_MAX	(64u << 10)
/* Security consideration: most events taken from one watch message */
#define VS_DISC_EVENTS_MAX	64
#define VS_DISC_NODE_MAX	63	/* vs_valid_node_name() */
#define VS_DISC_ADDR_MAX	63	/* "[v6]:port" fits */
#define VS_DISC_FPR_MAX		80	/* "sha256:" + 64 hex digits */

#define VS_DISC_ERROR (vs_disc_error_quark())
GQuark vs_disc_error_quark(void);

/**
 * struct vs_disc_node - a shim as the registry describes it
 * @name:	its node name
 * @address:	"IP:port" of its tunnel listener
 * @tls:	"none" or "x509"
 * @fingerprint: "sha256:HEX" of its tunnel certificate, "" without TLS
 */
struct vs_disc_node {
	char name[VS_DISC_NODE_MAX + 1];
	char address[VS_DISC_ADDR_MAX + 1];
	char tls[8];
	char fingerprint[VS_DISC_FPR_MAX + 1];
};

/**
 * struct vs_disc_kv - one key of a range reply or a watch event
 * @key:	the key, decoded (NUL-terminated; a key with a NUL is refused)
 * @value:	the value, decoded (NULL for a delete)
 * @lease:	its lease ID, 0: none
 * @mod_revision: revision of its last change
 * @deleted:	a DELETE event
 */
struct vs_disc_kv {
	char *key;
	GBytes *value;
	int64_t lease;
	int64_t mod_revision;
	bool deleted;
};

void vs_disc_kv_free(struct vs_disc_kv *kv);

/**
 * struct vs_disc_watch_msg - one message of a watch stream
 * @created:	the watch is set up
 * @canceled:	etcd ended it (compaction, ...): watch again
 * @compact_revision: the revision it was compacted at, 0: none
 * @revision:	the header's revision
 * @events:	struct vs_disc_kv *, in order
 */
struct vs_disc_watch_msg {
	bool created;
	bool canceled;
	int64_t compact_revision;
	int64_t revision;
	GPtrArray *events;
};

void vs_disc_watch_msg_clear(struct vs_disc_watch_msg *m);

/**
 * vs_disc_key() - a registry key
 * @prefix:	the cluster's prefix ("/vhost-shim/")
 * @kind:	"node" or "vm"
 * @id:		node name or VM UUID
 *
 * Return: "PREFIX KIND/ID" (g_free it)
 */
char *vs_disc_key(const char *prefix, const char *kind, const char *id);

/**
 * vs_disc_node_value() - the value of our node key
 * @n:		our node
 *
 * Return: JSON text (g_free it)
 */
char *vs_disc_node_value(const struct vs_disc_node *n);

/**
 * vs_disc_parse_node_value() - read and check a node key's value
 * @name:	the node its key names
 * @data:	the value
 * @len:	its bytes
 * @out:	filled on success
 * @error:	set on failure: why the value is refused
 *
 * Return: TRUE if @data describes node @name with a dialable address
 */
gboolean vs_disc_parse_node_value(const char *name, const void *data, size_t len,
				  struct vs_disc_node *out, GError **error);

/**
 * vs_disc_vm_value() - the value of a VM key: the node that expects it
 * @node:	node name
 *
 * Return: JSON text (g_free it)
 */
char *vs_disc_vm_value(const char *node);

/**
 * vs_disc_parse_vm_value() - read and check a VM key's value
 * @data:	the value
 * @len:	its bytes
 * @node:	the node it names, on success
 * @error:	set on failure
 *
 * Return: TRUE on success
 */
gboolean vs_disc_parse_vm_value(const void *data, size_t len, char node[VS_DISC_NODE_MAX + 1],
				GError **error);

/**
 * vs_disc_b64() - base64 of a string, as the gateway wants keys and values
 * @s:		text
 *
 * Return: base64 text (g_free it)
 */
char *vs_disc_b64(const char *s);

/**
 * vs_disc_json_int() - a 64-bit integer member: the gateway writes them as
 * strings of digits, a JSON number is accepted too
 * @o:		object
 * @member:	member name
 * @dflt:	value when absent (proto3 leaves zero values out)
 * @out:	the value
 *
 * Return: FALSE if present but not an integer
 */
gboolean vs_disc_json_int(JsonObject *o, const char *member, int64_t dflt, int64_t *out);

/**
 * vs_disc_parse_json() - one reply or watch line, bounded, as a JSON object
 * @data:	text
 * @len:	its bytes, at most VS_DISC_REPLY_MAX
 * @error:	set if it is too big, not JSON or not an object
 *
 * Return: the object (json_object_unref() it), or NULL
 */
JsonObject *vs_disc_parse_json(const char *data, size_t len, GError **error);

/**
 * vs_disc_parse_range() - a /v3/kv/range reply
 * @reply:	the reply object
 * @revision:	the header's revision
 * @kv:		the key's entry (NULL if absent); only the first is used
 * @error:	set if malformed
 *
 * Return: TRUE on success
 */
gboolean vs_disc_parse_range(JsonObject *reply, int64_t *revision, struct vs_disc_kv **kv,
			     GError **error);

/**
 * vs_disc_parse_watch_line() - one line of a /v3/watch stream
 * @line:	the line (no newline)
 * @len:	its bytes
 * @out:	filled on success (vs_disc_watch_msg_clear() it)
 * @error:	set if malformed or an error message ({"error": ...})
 *
 * Return: TRUE on success
 */
gboolean vs_disc_parse_watch_line(const char *line, size_t len, struct vs_disc_watch_msg *out,
				  GError **error);

/**
 * vs_disc_parse_lease() - a /v3/lease/grant or /v3/lease/keepalive reply
 * (keepalive's is wrapped in {"result": ...})
 * @reply:	the reply object
 * @id:		the lease ID
 * @ttl:	its TTL in seconds; 0: the lease does not exist (any more)
 * @error:	set if malformed
 *
 * Return: TRUE on success
 */
gboolean vs_disc_parse_lease(JsonObject *reply, int64_t *id, int64_t *ttl, GError **error);

#endif /* VS_DISC_VALUE_H */
