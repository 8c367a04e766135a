/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_events.c - the vhost thread's events, queued for the main loop
 *
 * Theory of operation: see vhost_events.h.  The queue and the source's
 * pointer live under events_lock; the vhost thread holds it only to
 * append and to wake the context (g_main_context_wakeup() is thread-safe
 * and takes no lock of GLib's that the main thread holds while it takes
 * events_lock: GLib calls prepare and check with the context unlocked).
 * The source is ready whenever the queue is not empty.  A post that comes
 * between prepare and the poll wakes the poll, so the next check sees it.
 * Dispatch takes the events one at a time, each with the lock taken and
 * released again, so a handler that removes a port (vs_vhost_events_forget())
 * drops that port's events which are still queued.  It handles at most
 * those queued when it started, so a vhost thread that keeps posting
 * cannot hold the main loop.
 */
#include <assert.h>
#include <string.h>

#include "log.h"
#include "vhost_events.h"

VS_ENUM_IMPL(vs_vhost_event_type, enum vs_vhost_event_type, VS_VHOST_NUM_EVENT_TYPES,
	     [VS_VHOST_EV_NEW_DEVICE] = "new_device",
	     [VS_VHOST_EV_DESTROY_DEVICE] = "destroy_device",
	     [VS_VHOST_EV_FEATURES] = "features_changed",
	     [VS_VHOST_EV_VRING_STATE] = "vring_state_changed");

static GMutex events_lock;
static GQueue events_pending = G_QUEUE_INIT;	/* of struct vs_vhost_event *; lock */
static GSource *events_source;			/* NULL when not taking events; lock */
static GMainContext *events_ctx;		/* ref'd while events_source; lock */
static vs_vhost_event_handler *events_handler;	/* the context's thread */

static gboolean events_ready(void)
{
	gboolean ready;

	g_mutex_lock(&events_lock);
	ready = !g_queue_is_empty(&events_pending);
	g_mutex_unlock(&events_lock);
	return ready;
}

static gboolean events_prepare(GSource *source, gint *timeout)
{
	*timeout = -1;
	return events_ready();
}

static gboolean events_check(GSource *source)
{
	return events_ready();
}

static gboolean events_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	guint n;

	g_mutex_lock(&events_lock);
	n = g_queue_get_length(&events_pending);
	g_mutex_unlock(&events_lock);
	while (n--) {
		struct vs_vhost_event *ev;

		g_mutex_lock(&events_lock);
		ev = g_queue_pop_head(&events_pending);
		g_mutex_unlock(&events_lock);
		if (!ev)	/* forgotten meanwhile */
			break;
		events_handler(ev);
		g_free(ev);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs events_funcs = {
	.prepare = events_prepare,
	.check = events_check,
	.dispatch = events_dispatch,
};

void vs_vhost_events_start(GMainContext *ctx, vs_vhost_event_handler *handler)
{
	GSource *source = g_source_new(&events_funcs, sizeof(GSource));

	ctx = g_main_context_ref(ctx ? ctx : g_main_context_default());
	g_source_set_name(source, "vhost-events");
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	events_handler = handler;
	/* only this thread dispatches it: attached before it is published */
	g_source_attach(source, ctx);
	g_mutex_lock(&events_lock);
	assert(!events_source);
	events_ctx = ctx;
	events_source = source;
	g_mutex_unlock(&events_lock);
}

bool vs_vhost_events_post(const struct vs_vhost_event *ev)
{
	struct vs_vhost_event *copy = g_memdup2(ev, sizeof(*ev));

	g_mutex_lock(&events_lock);
	if (!events_source) {
		g_mutex_unlock(&events_lock);
		g_free(copy);
		return false;
	}
	g_queue_push_tail(&events_pending, copy);
	/* under the lock: stop cannot unref the context meanwhile */
	g_main_context_wakeup(events_ctx);
	g_mutex_unlock(&events_lock);
	return true;
}

unsigned int vs_vhost_events_forget(const char *name)
{
	unsigned int n = 0;
	GList *l, *next;

	g_mutex_lock(&events_lock);
	for (l = events_pending.head; l; l = next) {
		struct vs_vhost_event *ev = l->data;

		next = l->next;
		if (!strcmp(ev->name, name)) {
			g_queue_delete_link(&events_pending, l);
			g_free(ev);
			n++;
		}
	}
	g_mutex_unlock(&events_lock);
	if (n)
		vs_log(MAIN, DEBUG, name, "port removed: %u vhost event(s) dropped", n);
	return n;
}

unsigned int vs_vhost_events_stop(void)
{
	GQueue dropped = G_QUEUE_INIT;
	GMainContext *ctx;
	GSource *source;
	unsigned int n;

	g_mutex_lock(&events_lock);
	source = g_steal_pointer(&events_source);
	ctx = g_steal_pointer(&events_ctx);
	dropped = events_pending;
	g_queue_init(&events_pending);
	g_mutex_unlock(&events_lock);
	if (!source)
		return 0;
	g_source_destroy(source);
	g_source_unref(source);
	g_main_context_unref(ctx);
	n = g_queue_get_length(&dropped);
	g_queue_clear_full(&dropped, g_free);
	if (n)
		vs_log(MAIN, INFO, NULL, "shutdown: %u vhost event(s) dropped", n);
	return n;
}
