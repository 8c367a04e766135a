/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * disc_etcd.c - a small etcd v3 client: the JSON gateway over HTTP(S)
 *
 * Theory of operation: see disc_etcd.h.  Every request, unary or watch,
 * is one struct etcd_req: a SoupMessage sent with soup_session_send_async(),
 * whose reply body is read in chunks with g_input_stream_read_bytes_async()
 * (never soup_session_send_and_read_async(), which reads a body of any
 * size): a unary call collects the body up to VS_DISC_REPLY_MAX and parses
 * it at the end; a watch hands each complete line up as it arrives.
 *
 * Lifetimes: the client keeps a list of its requests.  Stopping a watch,
 * or freeing the client, *orphans* the request (its link to the client is
 * cut, its cancellable cancelled); libsoup still completes the pending
 * operation later, on the main loop, and the orphan's callback then only
 * frees it.  So nothing is called back after a stop or a free, and no
 * callback touches freed memory.  Each request holds a reference on the
 * session, which therefore outlives the client until the last one ends.
 *
 * Timeouts: a call's timer ends it at once (the caller gets the timeout)
 * and orphans it, instead of waiting for libsoup to finish the cancelled
 * operation: libsoup 3.2 (Debian 12) never finishes a request whose
 * client certificate etcd refused, cancelled or not ("code should not be
 * reached" in soup_connection_setup_message_io()).  Such an *abandoned*
 * request stays allocated until libsoup calls back, which may be never;
 * while ETCD_MAX_ABANDONED of them are pending in the process, new calls
 * fail at once without reaching libsoup, so the leak is bounded and the
 * failure is counted and logged (vs_etcd_abandoned()).
 *
 * Security model: etcd's replies are untrusted: bounded in size, parsed
 * by disc_value.c, and an error text from the server is truncated and
 * stripped of control characters before it reaches a log line.
 */
#include <string.h>

#include <libsoup/soup.h>

#include "disc_etcd.h"
#include "disc_value.h"

VS_ENUM_IMPL(vs_etcd_op, enum vs_etcd_op, VS_ETCD_NUM_OPS,
	     [VS_ETCD_OP_GRANT] = "grant",
	     [VS_ETCD_OP_KEEPALIVE] = "keepalive",
	     [VS_ETCD_OP_REVOKE] = "revoke",
	     [VS_ETCD_OP_PUT] = "put",
	     [VS_ETCD_OP_RANGE] = "range",
	     [VS_ETCD_OP_WATCH] = "watch");

static const char *const etcd_paths[VS_ETCD_NUM_OPS] = {
	[VS_ETCD_OP_GRANT] = "/v3/lease/grant",
	[VS_ETCD_OP_KEEPALIVE] = "/v3/lease/keepalive",
	[VS_ETCD_OP_REVOKE] = "/v3/lease/revoke",
	[VS_ETCD_OP_PUT] = "/v3/kv/put",
	[VS_ETCD_OP_RANGE] = "/v3/kv/range",
	[VS_ETCD_OP_WATCH] = "/v3/watch",
};

#define ETCD_READ_CHUNK		16384
/* Connections per client: one per watch (the ports' VMs) and a few calls */
#define ETCD_MAX_CONNS		256
/* The longest server text quoted in an error */
#define ETCD_ERRTEXT_MAX	160
/* Timed-out requests libsoup has not finished, in the process, beyond
 * which no new request is sent (see "Timeouts" above) */
#define ETCD_MAX_ABANDONED	32

/* Abandoned requests still pending in libsoup (main loop only) */
static unsigned int etcd_abandoned;

struct vs_etcd {
	SoupSession *session;
	char **endpoints;
	unsigned int n_endpoints;
	unsigned int cur;		/* the endpoint in use */
	unsigned int timeout_ms;
	GTlsCertificate *client_cert;	/* NULL: none */
	GList *reqs;			/* struct etcd_req *, in flight */
	struct vs_etcd_stats stats;
};

struct etcd_req {
	struct vs_etcd *e;		/* NULL: orphaned (stopped, or client freed) */
	GList *link;			/* in e->reqs */
	enum vs_etcd_op op;
	unsigned int endpoint;		/* the one it went to */
	SoupSession *session;		/* a reference */
	SoupMessage *msg;
	GCancellable *cancel;
	GInputStream *stream;
	GByteArray *buf;		/* unary: the body; watch: a partial line */
	guint timer;
	bool timed_out;
	bool abandoned;			/* ended by its timer, libsoup not done */
	bool unsent;			/* refused before libsoup (ETCD_MAX_ABANDONED) */
	bool got_line;			/* watch: the first line came */
	/* unary */
	vs_etcd_reply_cb cb;
	void *data;
	GDestroyNotify destroy;
	/* watch */
	vs_etcd_line_cb line_cb;
	vs_etcd_end_cb end_cb;
	void *wdata;
};

struct vs_etcd_watch {
	struct etcd_req req;
};

const struct vs_etcd_stats *vs_etcd_get_stats(const struct vs_etcd *e)
{
	return &e->stats;
}

unsigned int vs_etcd_abandoned(void)
{
	return etcd_abandoned;
}

const char *vs_etcd_endpoint(const struct vs_etcd *e)
{
	return e->endpoints[e->cur];
}

struct vs_etcd *vs_etcd_new(const struct vs_etcd_cfg *cfg, GError **error)
{
	g_autoptr(GTlsDatabase) db = NULL;
	struct vs_etcd *e;
	unsigned int i;

	if (!cfg->endpoints || !cfg->endpoints[0]) {
		g_set_error(error, VS_DISC_ERROR, 0, "no etcd endpoint");
		return NULL;
	}
	for (i = 0; cfg->endpoints[i]; i++)
		if (!g_uri_is_valid(cfg->endpoints[i], G_URI_FLAGS_NONE, NULL)) {
			g_set_error(error, VS_DISC_ERROR, 0, "etcd endpoint '%s' is not a URL",
				    cfg->endpoints[i]);
			return NULL;
		}
	if (cfg->ca) {
		db = g_tls_file_database_new(cfg->ca, error);
		if (!db) {
			g_prefix_error(error, "[discovery] etcd-ca %s: ", cfg->ca);
			return NULL;
		}
	}
	e = g_new0(struct vs_etcd, 1);
	if (cfg->cert) {
		e->client_cert = g_tls_certificate_new_from_files(cfg->cert, cfg->key, error);
		if (!e->client_cert) {
			g_prefix_error(error, "[discovery] etcd-cert %s, etcd-key %s: ", cfg->cert,
				       cfg->key ? cfg->key : "(none)");
			g_free(e);
			return NULL;
		}
	}
	e->endpoints = g_strdupv((char **)cfg->endpoints);
	e->n_endpoints = g_strv_length(e->endpoints);
	for (i = 0; i < e->n_endpoints; i++) {	/* "URL/" + "/v3/..." would be "//v3" */
		size_t n = strlen(e->endpoints[i]);

		while (n && e->endpoints[i][n - 1] == '/')
			e->endpoints[i][--n] = '\0';
	}
	e->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 2000;
	/* timeout 0: a watch is a reply that may stay silent for hours; each
	 * call has its own timer instead */
	e->session = soup_session_new_with_options("max-conns", ETCD_MAX_CONNS,
						   "max-conns-per-host", ETCD_MAX_CONNS,
						   "timeout", 0, "user-agent", "vhost-shim",
						   NULL);
	if (db)
		soup_session_set_tls_database(e->session, db);
	return e;
}

static void etcd_req_drop(struct etcd_req *r);

static void etcd_req_orphan(struct etcd_req *r)
{
	if (r->e) {
		r->e->reqs = g_list_delete_link(r->e->reqs, r->link);
		r->e = NULL;
		r->link = NULL;
	}
	if (r->timer) {
		g_source_remove(r->timer);
		r->timer = 0;
	}
	g_cancellable_cancel(r->cancel);
}

/* Free a request that no libsoup or GIO operation uses any more */
static void etcd_req_free(struct etcd_req *r)
{
	etcd_req_orphan(r);
	if (r->abandoned)
		etcd_abandoned--;
	if (r->destroy)
		r->destroy(r->data);
	g_clear_object(&r->stream);
	g_clear_object(&r->msg);
	g_clear_object(&r->cancel);
	g_clear_object(&r->session);
	if (r->buf)
		g_byte_array_unref(r->buf);
	g_free(r);
}

void vs_etcd_free(struct vs_etcd *e)
{
	if (!e)
		return;
	/* each request frees itself when libsoup completes its operation */
	while (e->reqs)
		etcd_req_drop(e->reqs->data);
	g_clear_object(&e->client_cert);
	g_object_unref(e->session);
	g_strfreev(e->endpoints);
	g_free(e);
}

/* A server's text as a log line may quote it: bounded, printable */
static char *etcd_clean_text(const char *s, size_t len)
{
	GString *out = g_string_new(NULL);
	size_t i;

	for (i = 0; i < len && out->len < ETCD_ERRTEXT_MAX; i++)
		g_string_append_c(out, g_ascii_isprint(s[i]) ? s[i] : '?');
	if (i < len)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

/* A transport failure: the calls that follow try the next endpoint */
static void etcd_failover(struct vs_etcd *e, unsigned int endpoint)
{
	if (e->n_endpoints > 1 && endpoint == e->cur) {
		e->cur = (e->cur + 1) % e->n_endpoints;
		e->stats.endpoint_switches++;
	}
}

/*
 * etcd_req_fail() - end @r with an error: count it, move to the next
 * endpoint if the transport failed, call back, free
 */
static void etcd_req_fail(struct etcd_req *r, GError *err, bool transport)
{
	struct vs_etcd *e = r->e;

	e->stats.failures[r->op]++;
	if (transport)
		etcd_failover(e, r->endpoint);
	etcd_req_orphan(r);
	if (r->op == VS_ETCD_OP_WATCH) {
		if (r->end_cb)
			r->end_cb(err, r->wdata);
	} else if (r->cb) {
		r->cb(NULL, err, r->data);
	}
	etcd_req_free(r);
}

/* Turn a GIO error into ours, naming the endpoint (a timed-out request is
 * an orphan by then: etcd_req_timeout_cb() reported it) */
static void etcd_req_fail_gio(struct etcd_req *r, const GError *gerr)
{
	g_autoptr(GError) err = NULL;

	err = g_error_new(gerr->domain, gerr->code, "%s%s: %s",
			  r->e->endpoints[r->endpoint], etcd_paths[r->op], gerr->message);
	etcd_req_fail(r, err, true);
}

/*
 * etcd_req_timeout_cb() - @data's time is up: end it now (see "Timeouts")
 * and leave it, orphaned, to libsoup, whose callback frees it if it ever
 * comes
 *
 * Return: G_SOURCE_REMOVE
 */
static gboolean etcd_req_timeout_cb(gpointer data)
{
	struct etcd_req *r = data;
	struct vs_etcd *e = r->e;
	g_autoptr(GError) err = NULL;

	r->timer = 0;
	r->timed_out = true;
	err = g_error_new(G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s%s: no answer in %u ms",
			  e->endpoints[r->endpoint], etcd_paths[r->op], e->timeout_ms);
	e->stats.failures[r->op]++;
	etcd_failover(e, r->endpoint);
	etcd_req_orphan(r);		/* cancels: libsoup normally finishes soon */
	r->abandoned = true;
	etcd_abandoned++;
	if (r->op == VS_ETCD_OP_WATCH) {
		if (r->end_cb)
			r->end_cb(err, r->wdata);
	} else if (r->cb) {
		r->cb(NULL, err, r->data);
	}
	if (r->destroy)
		r->destroy(r->data);
	r->cb = NULL;
	r->end_cb = NULL;
	r->line_cb = NULL;
	r->destroy = NULL;
	return G_SOURCE_REMOVE;
}

/* The whole body of a unary call (or of a failed watch) is here */
static void etcd_req_body_done(struct etcd_req *r)
{
	guint status = soup_message_get_status(r->msg);
	g_autoptr(GError) err = NULL;
	g_autoptr(JsonObject) o = NULL;
	struct vs_etcd *e = r->e;

	if (status != SOUP_STATUS_OK) {
		g_autofree char *text = etcd_clean_text((const char *)r->buf->data, r->buf->len);

		err = g_error_new(VS_DISC_ERROR, (int)status, "%s%s: HTTP %u: %s",
				  e->endpoints[r->endpoint], etcd_paths[r->op], status, text);
		/* 5xx: etcd is unavailable (no leader, shutting down) */
		etcd_req_fail(r, err, status >= 500);
		return;
	}
	if (r->op == VS_ETCD_OP_WATCH) {	/* a watch that ends by itself */
		err = g_error_new(VS_DISC_ERROR, 0, "%s%s: the stream ended",
				  e->endpoints[r->endpoint], etcd_paths[r->op]);
		etcd_req_fail(r, err, false);
		return;
	}
	o = vs_disc_parse_json((const char *)r->buf->data, r->buf->len, &err);
	if (!o) {
		g_prefix_error(&err, "%s%s: ", e->endpoints[r->endpoint], etcd_paths[r->op]);
		etcd_req_fail(r, err, false);
		return;
	}
	etcd_req_orphan(r);
	if (r->cb)
		r->cb(o, NULL, r->data);
	etcd_req_free(r);
}

/*
 * etcd_watch_lines() - hand every complete line of @r->buf up
 * Return: false if @r was freed (the layer above stopped it)
 */
static bool etcd_watch_lines(struct etcd_req *r)
{
	guint8 *nl;

	while (r->buf->len && (nl = memchr(r->buf->data, '\n', r->buf->len))) {
		size_t len = (size_t)(nl - r->buf->data);
		bool go_on = true;

		*nl = '\0';
		if (len) {
			if (!r->got_line && r->timer) {
				g_source_remove(r->timer);
				r->timer = 0;
			}
			r->got_line = true;
			go_on = r->line_cb((const char *)r->buf->data, len, r->wdata);
		}
		if (!go_on || !r->e)
			return false;	/* stopped from the callback: it is an orphan */
		g_byte_array_remove_range(r->buf, 0, (guint)len + 1);
	}
	return true;
}

static void etcd_req_read(struct etcd_req *r);

static void etcd_req_read_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct etcd_req *r = data;
	g_autoptr(GError) err = NULL;
	g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish(G_INPUT_STREAM(src), res, &err);
	bool streaming;
	gsize n = 0;
	const guint8 *p;

	if (!r->e) {		/* orphaned: a stop or a free came first */
		etcd_req_free(r);
		return;
	}
	if (!chunk) {
		etcd_req_fail_gio(r, err);
		return;
	}
	p = g_bytes_get_data(chunk, &n);
	if (!n) {		/* EOF */
		etcd_req_body_done(r);
		return;
	}
	r->e->stats.bytes_in[r->op] += n;
	streaming = r->op == VS_ETCD_OP_WATCH &&
		    soup_message_get_status(r->msg) == SOUP_STATUS_OK;
	if (r->buf->len + n > VS_DISC_REPLY_MAX) {
		g_autoptr(GError) big = g_error_new(VS_DISC_ERROR, 0,
						    "%s%s: %s over %u bytes",
						    r->e->endpoints[r->endpoint],
						    etcd_paths[r->op],
						    streaming ? "a watch line" : "a reply",
						    VS_DISC_REPLY_MAX);

		etcd_req_fail(r, big, false);
		return;
	}
	g_byte_array_append(r->buf, p, (guint)n);
	if (streaming && !etcd_watch_lines(r)) {
		etcd_req_free(r);
		return;
	}
	etcd_req_read(r);
}

static void etcd_req_read(struct etcd_req *r)
{
	g_input_stream_read_bytes_async(r->stream, ETCD_READ_CHUNK, G_PRIORITY_DEFAULT, r->cancel,
					etcd_req_read_cb, r);
}

static void etcd_req_sent_cb(GObject *src, GAsyncResult *res, gpointer data)
{
	struct etcd_req *r = data;
	g_autoptr(GError) err = NULL;
	GInputStream *stream = soup_session_send_finish(SOUP_SESSION(src), res, &err);

	if (!r->e) {
		g_clear_object(&stream);
		etcd_req_free(r);
		return;
	}
	if (!stream) {
		etcd_req_fail_gio(r, err);
		return;
	}
	r->stream = stream;
	etcd_req_read(r);
}

/* A request not sent (too many abandoned ones): fail it, from the main loop */
static gboolean etcd_req_refused_cb(gpointer data)
{
	struct etcd_req *r = data;
	g_autoptr(GError) err = g_error_new(VS_DISC_ERROR, 0,
		"%s%s: not sent: %u earlier requests never ended after their timeout "
		"(libsoup 3.2 does not end a request whose client certificate etcd refused: "
		"check etcd-cert against etcd's --trusted-ca-file, and restart)",
		r->e->endpoints[r->endpoint], etcd_paths[r->op], etcd_abandoned);

	r->timer = 0;
	etcd_req_fail(r, err, false);
	return G_SOURCE_REMOVE;
}

/* Stop @r without a callback: free it if libsoup never had it, else orphan */
static void etcd_req_drop(struct etcd_req *r)
{
	if (r->unsent)
		etcd_req_free(r);
	else
		etcd_req_orphan(r);	/* freed when libsoup lets go of it */
}

static struct etcd_req *etcd_req_start(struct vs_etcd *e, struct etcd_req *r, enum vs_etcd_op op,
				       JsonObject *body)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	g_autofree char *url = g_strconcat(e->endpoints[e->cur], etcd_paths[op], NULL);
	g_autoptr(GBytes) bytes = NULL;
	gsize len = 0;
	char *text;

	json_node_take_object(root, body);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, &len);
	bytes = g_bytes_new_take(text, len);
	r->e = e;
	r->op = op;
	r->endpoint = e->cur;
	r->session = g_object_ref(e->session);
	r->cancel = g_cancellable_new();
	r->buf = g_byte_array_new();
	r->msg = soup_message_new(SOUP_METHOD_POST, url);
	e->reqs = g_list_prepend(e->reqs, r);
	r->link = e->reqs;
	e->stats.requests[op]++;
	if (!r->msg) {	/* checked at vs_etcd_new(): cannot happen */
		g_autoptr(GError) err = g_error_new(VS_DISC_ERROR, 0, "bad URL %s", url);

		etcd_req_fail(r, err, false);
		return NULL;
	}
	if (etcd_abandoned >= ETCD_MAX_ABANDONED) {	/* not sent: fails on the main loop */
		r->unsent = true;
		r->timer = g_timeout_add(0, etcd_req_refused_cb, r);
		return r;
	}
	soup_message_set_request_body_from_bytes(r->msg, "application/json", bytes);
	if (e->client_cert)
		soup_message_set_tls_client_certificate(r->msg, e->client_cert);
	e->stats.bytes_out[op] += len;
	r->timer = g_timeout_add(e->timeout_ms, etcd_req_timeout_cb, r);
	soup_session_send_async(e->session, r->msg, G_PRIORITY_DEFAULT, r->cancel,
				etcd_req_sent_cb, r);
	return r;
}

void vs_etcd_call(struct vs_etcd *e, enum vs_etcd_op op, JsonObject *body, vs_etcd_reply_cb cb,
		  void *data, GDestroyNotify destroy)
{
	struct etcd_req *r = g_new0(struct etcd_req, 1);

	r->cb = cb;
	r->data = data;
	r->destroy = destroy;
	etcd_req_start(e, r, op, body);
}

struct vs_etcd_watch *vs_etcd_watch_start(struct vs_etcd *e, JsonObject *body,
					  vs_etcd_line_cb line_cb, vs_etcd_end_cb end_cb,
					  void *data)
{
	struct vs_etcd_watch *w = g_new0(struct vs_etcd_watch, 1);

	w->req.line_cb = line_cb;
	w->req.end_cb = end_cb;
	w->req.wdata = data;
	/* a NULL return means it failed at once and freed itself: the end
	 * callback has run; the caller's handle must not be used */
	return etcd_req_start(e, &w->req, VS_ETCD_OP_WATCH, body) ? w : NULL;
}

void vs_etcd_watch_stop(struct vs_etcd_watch *w)
{
	if (w)
		etcd_req_drop(&w->req);
}
