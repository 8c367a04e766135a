/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_control.c - libFuzzer target for the control socket: splitter,
 * JSON parser and serializer, envelope and argument checks, dispatcher and
 * the real command table (control.c, control_json.c, control_dispatch.c,
 * control_cmds.c, control_mig.c)
 *
 * Theory of operation: the control socket's files are linked as the
 * daemon links them; the target drives the session functions of
 * control_priv.h (ctl_session_feed(), ctl_session_flush()).  The input is
 * what a client sent, fed to ctl_session_feed() exactly as
 * ctl_session_in_cb() feeds received bytes, and the replies go through
 * the real ctl_session_send() into one end of a socketpair whose other end
 * the target reads.  No listener, no accept, no main loop: a run costs a
 * few syscalls.  The port registry is the real one; port.c, handover.c
 * and tunnel.c are the unit tests' stubs (tests/stubs/).  Events are not sent (the server is not "running"), so
 * the replies are deterministic.
 *
 * Cost: an input is a dozen requests or more, each parsed, dispatched and
 * answered with json-glib objects under ASan, so an execution costs far
 * more than one of the other targets.  Nothing is set up per input (the
 * session and its socketpair are reused); what is saved is repeated work
 * of the target itself: the replies are read once per run (or once the
 * server queues output), not after every request, and identical reply
 * lines are parsed back once (docs/hardening.md, fuzz_control).
 *
 * Each input runs on a fresh session in one piece and (every other input)
 * again in pieces whose sizes derive from the input, and the checks are:
 *  - the two runs write the same bytes (values may be split anywhere);
 *  - every request gets exactly one reply (ctl.counters.requests lines),
 *    each an ASCII line ending in CRLF that parses back as {"return": ..}
 *    or {"error": {"class": KNOWN, "desc": ..}}, plus "id" at most (a line
 *    is parsed back the first time it is seen; identical lines, which most
 *    replies are, reuse that verdict: see ctlfz_reply_seen());
 *  - independently, vs_ctl_json_parse() of the whole input returns a value
 *    or an error, never both or neither, and a value serializes to ASCII
 *    that parses again and serializes to the same text (a fixpoint);
 *  - a handler never breaks its contract (ctl_run_handler() logs it),
 *    and GLib never warns (fuzz_quiet_logs()).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "control_priv.h"
#include "dp_flow.h"
#include "flow_set.h"
#include "fuzz_common.h"
#include "vm.h"

/* The socket-dir of port-add's checks (fuzz/gen_corpus.py FUZZ_SOCKET_DIR) */
#define FZ_SOCKET_DIR	"/run/vhost-shim-fuzz"

/* The session persists across runs (reset each time) while it stays open */
static struct vs_ctl_session *fz_sess;
static int fz_peer = -1;	/* our end of the socketpair: replies arrive here */

/* vs_log ERR lines that mean a handler broke its contract */
static void ctlfz_log_cb(const gchar *domain, GLogLevelFlags level, const gchar *message,
			 gpointer opaque)
{
	if (strstr(message, " returned no value and no error") ||
	    strstr(message, " returned a value and an error") ||
	    strstr(message, "data is not an object"))
		fuzz_fail("control: %s", message);
	fuzz_glib_log_cb(domain, level, message, opaque);
}

static void ctlfz_session_new(void)
{
	struct vs_ctl_session *s;
	GError *err = NULL;
	GSocket *sock;
	int sv[2];

	FUZZ_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv),
		   "socketpair: %s", g_strerror(errno));
	sock = g_socket_new_from_fd(sv[0], &err);
	FUZZ_CHECK(sock, "GSocket: %s", err ? err->message : "?");
	g_socket_set_blocking(sock, FALSE);

	s = g_new0(struct vs_ctl_session, 1);
	s->refs = 2;	/* the client list's and ours: closing must not free it */
	snprintf(s->name, sizeof(s->name), "fuzz");
	s->conn = g_socket_connection_factory_create_connection(sock);
	g_object_unref(sock);
	s->sock = g_socket_connection_get_socket(s->conn);
	s->outq = g_byte_array_new();
	s->split.buf = g_byte_array_new();
	g_ptr_array_add(ctl.clients, s);
	fz_sess = s;
	fz_peer = sv[1];
}

static void ctlfz_session_drop(void)
{
	ctl_session_close(fz_sess, VS_LOG_DEBUG, "fuzz run over");
	ctl_session_unref(fz_sess);
	fz_sess = NULL;
	close(fz_peer);
	fz_peer = -1;
}

/* A fresh session: what a new connection would have, greeting aside */
static void ctlfz_session_reset(void)
{
	struct vs_ctl_session *s;

	if (fz_sess && fz_sess->closed)
		ctlfz_session_drop();
	if (!fz_sess)
		ctlfz_session_new();
	s = fz_sess;
	ctl_session_drop_source(&s->out_src);
	g_byte_array_set_size(s->outq, 0);
	s->out_head = 0;
	ctl_split_reset(&s->split);
	s->split.quiet = false;
	s->split.bad = 0;
	s->negotiated = false;
	s->eof = false;
	memset(&ctl.counters, 0, sizeof(ctl.counters));
	vs_vm_remove_all();
	/* policy-add/-del change the configuration's rules: none per run */
	g_ptr_array_set_size(ctl.cfg->flow_rules->rules, 0);
	ctl.cfg->flow_rules->next_id = 0;
}

/* Read what the server wrote, letting it write the rest of its queue */
static void ctlfz_drain(GString *out)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fz_peer, buf, sizeof(buf), 0);

		if (n > 0) {
			g_string_append_len(out, buf, n);
			continue;
		}
		FUZZ_CHECK(n == 0 || errno == EAGAIN, "recv: %s", g_strerror(errno));
		if (fz_sess->closed || !ctl_session_queued(fz_sess))
			break;
		ctl_session_flush(fz_sess);
	}
}

/*
 * ctlfz_run() - one client session
 * @seed:	0: the input in one piece; otherwise the seed of the pieces
 * @out:	what the server wrote
 *
 * Return: false if the server closed the session (too much unread output)
 */
static bool ctlfz_run(const uint8_t *data, size_t size, uint32_t seed, GString *out)
{
	struct fuzz_rng rng;
	size_t off = 0;

	ctlfz_session_reset();
	if (!seed) {
		ctl_session_feed(fz_sess, data, size);
		ctlfz_drain(out);
		return !fz_sess->closed;
	}
	fuzz_rng_seed(&rng, seed);
	while (off < size && !fz_sess->closed) {
		size_t n = fuzz_chunk_len(&rng, size - off);
		uint8_t *chunk = fuzz_dup_exact(data + off, n);

		ctl_session_feed(fz_sess, chunk, n);
		free(chunk);
		/* The socket takes the replies as they come; read them only once
		 * the server has to queue some (the socket is full), so the queue
		 * and its output source are exercised as in the whole run */
		if (ctl_session_queued(fz_sess))
			ctlfz_drain(out);
		off += n;
	}
	ctlfz_drain(out);
	return !fz_sess->closed;
}

static bool ctlfz_is_class(const char *cls)
{
	return vs_ctl_error_class_from_string(cls) >= 0;
}

/*
 * Reply lines already parsed back, with their verdict: replies repeat a
 * lot from one input to the next (the same parse errors, the version, the
 * same "id"), and the same bytes get the same verdict, so each distinct
 * line is parsed once.  Bounded: emptied at CTLFZ_SEEN_MAX lines.
 */
#define CTLFZ_SEEN_MAX		65536u

struct ctlfz_line {
	const char *p;
	size_t len;
};

static GHashTable *fz_seen;	/* struct ctlfz_line -> CTLFZ_REPLY_* */

enum { CTLFZ_REPLY_RETURN = 1, CTLFZ_REPLY_ERROR = 2 };

static guint ctlfz_line_hash(gconstpointer key)
{
	const struct ctlfz_line *l = key;

	return fuzz_hash((const uint8_t *)l->p, l->len);
}

static gboolean ctlfz_line_equal(gconstpointer a, gconstpointer b)
{
	const struct ctlfz_line *x = a, *y = b;

	return x->len == y->len && !memcmp(x->p, y->p, x->len);
}

/* The verdict of a line seen before, or 0 */
static unsigned int ctlfz_reply_seen(const char *p, size_t len)
{
	const struct ctlfz_line key = { .p = p, .len = len };

	return GPOINTER_TO_UINT(g_hash_table_lookup(fz_seen, &key));
}

static void ctlfz_reply_remember(const char *p, size_t len, unsigned int verdict)
{
	struct ctlfz_line *l = g_malloc(sizeof(*l) + len);

	if (g_hash_table_size(fz_seen) >= CTLFZ_SEEN_MAX)
		g_hash_table_remove_all(fz_seen);
	memcpy(l + 1, p, len);
	l->p = (const char *)(l + 1);
	l->len = len;
	g_hash_table_insert(fz_seen, l, GUINT_TO_POINTER(verdict));
}

/* One reply line of @len bytes (CRLF excluded), parsed back and checked */
static unsigned int ctlfz_check_reply(const char *p, size_t len, uint64_t line)
{
	g_autoptr(JsonNode) reply = NULL;
	g_autoptr(GError) err = NULL;
	JsonObject *o;

	reply = vs_ctl_json_parse(p, len, &err);
	FUZZ_CHECK(reply && JSON_NODE_HOLDS_OBJECT(reply), "reply %" G_GUINT64_FORMAT
		   " is not an object: %s", line, err ? err->message : "");
	o = json_node_get_object(reply);
	FUZZ_CHECK(json_object_has_member(o, "return") != json_object_has_member(o, "error"),
		   "neither return nor error");
	FUZZ_CHECK(json_object_get_size(o) == 1u + json_object_has_member(o, "id"),
		   "extra members");
	if (!json_object_has_member(o, "error"))
		return CTLFZ_REPLY_RETURN;
	{
		JsonObject *e = json_object_get_object_member(o, "error");

		FUZZ_CHECK(e && json_object_get_size(e) == 2 &&
			   ctlfz_is_class(json_object_get_string_member(e, "class")) &&
			   json_object_get_string_member(e, "desc")[0],
			   "malformed error");
	}
	return CTLFZ_REPLY_ERROR;
}

/*
 * Every line: ASCII, CRLF, one reply object.  Lines too long to parse back
 * (an "id" echoed with escapes) are counted in *@unchecked.
 * Return: the number of lines
 */
static uint64_t ctlfz_check_replies(const GString *out, uint64_t *errors, uint64_t *unchecked)
{
	const char *p = out->str, *end = out->str + out->len;
	uint64_t lines = 0;

	*errors = 0;
	*unchecked = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		unsigned int verdict;
		size_t len, i;

		FUZZ_CHECK(nl && nl > p && nl[-1] == '\r', "reply %" G_GUINT64_FORMAT
			   " does not end in CRLF", lines);
		len = (size_t)(nl - 1 - p);
		for (i = 0; i < len; i++)
			FUZZ_CHECK(p[i] >= 0x20 && p[i] <= 0x7e, "reply %" G_GUINT64_FORMAT
				   " has byte 0x%02x", lines, (unsigned char)p[i]);
		if (len <= VS_CTL_MAX_MSG_SIZE) {
			verdict = ctlfz_reply_seen(p, len);
			if (!verdict) {
				verdict = ctlfz_check_reply(p, len, lines);
				ctlfz_reply_remember(p, len, verdict);
			}
			*errors += verdict == CTLFZ_REPLY_ERROR;
		} else {
			++*unchecked;
		}
		lines++;
		p = nl + 1;
	}
	return lines;
}

/* The parser and the serializer agree: parse(to_string(v)) prints as v */
static void ctlfz_check_json(const uint8_t *data, size_t size)
{
	g_autoptr(GError) err = NULL, err2 = NULL;
	g_autoptr(JsonNode) node = vs_ctl_json_parse((const char *)data, size, &err);
	g_autoptr(JsonNode) again = NULL;
	g_autofree char *text = NULL, *text2 = NULL;
	size_t i, len;

	FUZZ_CHECK((node != NULL) == (err == NULL), "value and error");
	if (!node) {
		FUZZ_CHECK(g_str_has_prefix(err->message, "JSON ") && err->domain == VS_CTL_ERROR,
			   "parse error '%s'", err->message);
		return;
	}
	text = vs_ctl_json_to_string(node);
	len = strlen(text);
	for (i = 0; i < len; i++)
		FUZZ_CHECK(text[i] >= 0x20 && text[i] <= 0x7e, "serialized byte 0x%02x",
			   (unsigned char)text[i]);
	if (len > VS_CTL_MAX_MSG_SIZE)
		return;		/* escapes make it longer than a request may be */
	again = vs_ctl_json_parse(text, len, &err2);
	FUZZ_CHECK(again, "serialized value does not parse: %s: %s", err2->message, text);
	text2 = vs_ctl_json_to_string(again);
	FUZZ_CHECK(!strcmp(text, text2), "not a fixpoint: %s -> %s", text, text2);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vs_cfg *cfg = vs_cfg_new();	/* lives as long as the process */

	/* port-add checks ports against the daemon's configuration: a
	 * socket-dir that does not exist (so no path is ever found there and
	 * the accepted ports reach the stub), the default uplink drivers plus
	 * the stub's net_null and "fail" (gen_corpus.py FUZZ_SOCKET_DIR) */
	g_free(cfg->socket_dir);
	cfg->socket_dir = g_strdup(FZ_SOCKET_DIR);
	g_free(cfg->control_path);
	cfg->control_path = g_strdup(FZ_SOCKET_DIR "/control.sock");
	g_free(cfg->uplink_drivers);
	cfg->uplink_drivers = g_strdup(VS_DEFAULT_UPLINK_DRIVERS " net_null fail:");
	ctl.cfg = cfg;
	vs_dp_flow_set_rules(cfg->flow_rules);	/* as main.c does */
	fuzz_quiet_logs();
	g_log_set_handler("vhost-shim", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
			  ctlfz_log_cb, NULL);
	/* query-control-stats reads the client list; events stay unsent */
	ctl.clients = g_ptr_array_new();
	fz_seen = g_hash_table_new_full(ctlfz_line_hash, ctlfz_line_equal, g_free, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GString) whole = g_string_new(NULL);
	g_autoptr(GString) split = g_string_new(NULL);
	uint64_t lines, errors, unchecked, requests, errs;
	uint32_t hash;
	bool open_whole, open_split;

	ctlfz_check_json(data, size);

	open_whole = ctlfz_run(data, size, 0, whole);
	requests = ctl.counters.requests;
	errs = ctl.counters.errors;
	if (open_whole) {
		lines = ctlfz_check_replies(whole, &errors, &unchecked);
		FUZZ_CHECK(lines == requests, "%" G_GUINT64_FORMAT " replies to %" G_GUINT64_FORMAT
			   " requests", lines, requests);
		FUZZ_CHECK(errors <= errs && errs <= errors + unchecked,
			   "%" G_GUINT64_FORMAT " error replies, %" G_GUINT64_FORMAT " counted",
			   errors, errs);
	}

	/* Half of the inputs (chosen by their hash, so a crash reproduces) run
	 * again in pieces: that doubles the cost of an input, and the splitter
	 * is a small state machine next to what follows it */
	hash = fuzz_hash(data, size);
	if (hash & 0x100) {
		open_split = ctlfz_run(data, size, hash | 1, split);
		if (open_whole && open_split)
			FUZZ_CHECK(whole->len == split->len &&
				   !memcmp(whole->str, split->str, whole->len),
				   "the split changes the replies");
	}
	vs_vm_remove_all();
	return 0;
}
