/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_vhost_events.c - the vhost thread's events reach the main loop
 * thread only (vhost_events.c), without EAL: a GThread stands in for
 * DPDK's vhost thread and posts while the main loop is not running, as at
 * startup and shutdown; the order, the wake-up of a blocked loop, and what
 * stop and port removal drop.
 */
#include <string.h>

#include <glib.h>

#include "vhost_events.h"

struct seen {
	char name[32];
	unsigned int vring;
	GThread *thread;
};

static GArray *seen;			/* of struct seen */
static GThread *main_thread;
static const char *forget_on_first;	/* the handler removes this port */
static GMainLoop *quit_on_event;	/* the handler stops this loop */

static void t_handler(const struct vs_vhost_event *ev)
{
	struct seen s = { .vring = ev->vring, .thread = g_thread_self() };

	g_strlcpy(s.name, ev->name, sizeof(s.name));
	g_array_append_val(seen, s);
	if (forget_on_first && seen->len == 1)
		vs_vhost_events_forget(forget_on_first);
	if (quit_on_event)
		g_main_loop_quit(quit_on_event);
}

static void t_setup(void)
{
	seen = g_array_new(FALSE, TRUE, sizeof(struct seen));
	main_thread = g_thread_self();
	forget_on_first = NULL;
	quit_on_event = NULL;
	vs_vhost_events_start(NULL, t_handler);
}

static void t_teardown(void)
{
	vs_vhost_events_stop();
	g_array_free(seen, TRUE);
	seen = NULL;
}

static struct seen *t_seen(unsigned int i)
{
	return &g_array_index(seen, struct seen, i);
}

/* What the vhost thread does: post events, one per string "name:vring" */
struct poster {
	const char *const *events;
	unsigned int queued;
	GThread *self;
	GThread *invoked_on;	/* where g_main_context_invoke() ran its callback */
};

static bool t_post(const char *name, unsigned int vring)
{
	struct vs_vhost_event ev = { .type = VS_VHOST_EV_VRING_STATE, .vring = vring };

	g_strlcpy(ev.name, name, sizeof(ev.name));
	return vs_vhost_events_post(&ev);
}

static gboolean t_record_thread_cb(gpointer data)
{
	struct poster *p = data;

	p->invoked_on = g_thread_self();
	return G_SOURCE_REMOVE;
}

static gpointer t_poster_thread(gpointer data)
{
	struct poster *p = data;
	const char *const *e;

	p->self = g_thread_self();
	/* the defect this module removes: with nobody running the context,
	 * g_main_context_invoke() runs its callback right here */
	g_main_context_invoke(NULL, t_record_thread_cb, p);
	for (e = p->events; e && *e; e++) {
		g_auto(GStrv) kv = g_strsplit(*e, ":", 2);

		p->queued += t_post(kv[0], kv[1] ? (unsigned int)g_ascii_strtoull(kv[1], NULL, 10) : 0);
	}
	return NULL;
}

/* Post from another thread while the main loop is not running */
static void t_post_from_thread(struct poster *p)
{
	GThread *t = g_thread_new("vhost-events", t_poster_thread, p);

	g_thread_join(t);
	g_assert_true(p->invoked_on == p->self);	/* the test's premise */
	g_assert_true(p->invoked_on != main_thread);
}

/* Iterate the main context until @n events were handled (bounded) */
static void t_dispatch(unsigned int n)
{
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	while (seen->len < n && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, FALSE);
	/* and nothing more is pending */
	while (g_main_context_iteration(NULL, FALSE))
		;
}

/*
 * The defect: DPDK's vhost thread posts while the main loop does not run
 * (startup, or shutdown after g_main_loop_quit()).  The event waits for
 * the main thread, which handles it when it iterates the context.
 */
static void test_not_inline(void)
{
	static const char *const events[] = { "vm1:0", NULL };
	struct poster p = { .events = events };

	t_setup();
	t_post_from_thread(&p);
	g_assert_cmpuint(p.queued, ==, 1);
	g_assert_cmpuint(seen->len, ==, 0);	/* not run on the poster's thread */
	t_dispatch(1);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(t_seen(0)->name, ==, "vm1");
	g_assert_true(t_seen(0)->thread == main_thread);
	t_teardown();
}

/* The handover sees them in the order DPDK called back (features, then
 * destroy_device with logging on: the switchover) */
static void test_order(void)
{
	GPtrArray *ev = g_ptr_array_new_with_free_func(g_free);
	struct poster p;
	unsigned int i;

	for (i = 0; i < 100; i++)
		g_ptr_array_add(ev, g_strdup_printf("vm%u:%u", i % 3, i));
	g_ptr_array_add(ev, NULL);
	p = (struct poster){ .events = (const char *const *)ev->pdata };
	t_setup();
	t_post_from_thread(&p);
	g_assert_cmpuint(p.queued, ==, 100);
	t_dispatch(100);
	g_assert_cmpuint(seen->len, ==, 100);
	for (i = 0; i < 100; i++) {
		g_assert_cmpuint(t_seen(i)->vring, ==, i);
		g_assert_true(t_seen(i)->thread == main_thread);
	}
	t_teardown();
	g_ptr_array_free(ev, TRUE);
}

/* A running loop blocked in poll() wakes up for a post from another thread */
struct wake {
	GMainLoop *loop;
	GThread *poster;
	bool timed_out;
};

static gpointer t_late_poster_thread(gpointer data)
{
	g_usleep(20 * 1000);	/* the loop is asleep in poll() by now */
	t_post("vm1", 7);
	return NULL;
}

static gboolean t_start_poster_cb(gpointer data)
{
	struct wake *w = data;

	w->poster = g_thread_new("vhost-events", t_late_poster_thread, NULL);
	return G_SOURCE_REMOVE;
}

static gboolean t_timeout_cb(gpointer data)
{
	struct wake *w = data;

	w->timed_out = true;
	g_main_loop_quit(w->loop);
	return G_SOURCE_REMOVE;
}

static void test_wakeup(void)
{
	struct wake w = { .loop = g_main_loop_new(NULL, FALSE) };
	guint timeout;

	t_setup();
	quit_on_event = w.loop;		/* no timer wakes the loop but this one */
	g_idle_add(t_start_poster_cb, &w);
	timeout = g_timeout_add_seconds(5, t_timeout_cb, &w);
	g_main_loop_run(w.loop);
	g_thread_join(w.poster);
	g_assert_false(w.timed_out);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpuint(t_seen(0)->vring, ==, 7);
	g_assert_true(t_seen(0)->thread == main_thread);
	g_source_remove(timeout);
	g_main_loop_unref(w.loop);
	t_teardown();
}

/*
 * Shutdown: what is queued when the loop has returned is dropped, and so
 * is what comes after; nothing is handled, on any thread
 */
static void test_stop_drops(void)
{
	static const char *const events[] = { "vm1:0", "vm2:1", "vm1:2", NULL };
	static const char *const late[] = { "vm1:3", NULL };
	struct poster p = { .events = events };
	struct poster q = { .events = late };

	t_setup();
	t_post_from_thread(&p);
	g_assert_cmpuint(p.queued, ==, 3);
	g_assert_cmpuint(vs_vhost_events_stop(), ==, 3);
	t_post_from_thread(&q);
	g_assert_cmpuint(q.queued, ==, 0);
	while (g_main_context_iteration(NULL, FALSE))
		;
	g_assert_cmpuint(seen->len, ==, 0);
	g_assert_cmpuint(vs_vhost_events_stop(), ==, 0);	/* again: no-op */
	t_teardown();
}

/* Before start (no main loop yet to take them): dropped */
static void test_not_started(void)
{
	g_assert_false(t_post("vm1", 0));
	g_assert_cmpuint(vs_vhost_events_stop(), ==, 0);
}

/*
 * A removed port's queued events are dropped: none reaches a port added
 * later under the same name
 */
static void test_forget(void)
{
	static const char *const events[] = { "vm1:0", "vm2:1", "vm1:2", NULL };
	struct poster p = { .events = events };

	t_setup();
	t_post_from_thread(&p);
	g_assert_cmpuint(vs_vhost_events_forget("vm1"), ==, 2);
	g_assert_cmpuint(vs_vhost_events_forget("vm3"), ==, 0);
	t_dispatch(1);
	g_assert_cmpuint(seen->len, ==, 1);
	g_assert_cmpstr(t_seen(0)->name, ==, "vm2");
	t_teardown();
}

/* A handler that removes a port drops that port's events still queued
 * behind the one it handles */
static void test_forget_in_handler(void)
{
	static const char *const events[] = { "vm1:0", "vm2:1", "vm3:2", "vm2:3", NULL };
	struct poster p = { .events = events };

	t_setup();
	forget_on_first = "vm2";
	t_post_from_thread(&p);
	t_dispatch(2);
	g_assert_cmpuint(seen->len, ==, 2);
	g_assert_cmpstr(t_seen(0)->name, ==, "vm1");
	g_assert_cmpstr(t_seen(1)->name, ==, "vm3");
	t_teardown();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/vhost-events/not-inline", test_not_inline);
	g_test_add_func("/vhost-events/order", test_order);
	g_test_add_func("/vhost-events/wakeup", test_wakeup);
	g_test_add_func("/vhost-events/stop-drops", test_stop_drops);
	g_test_add_func("/vhost-events/not-started", test_not_started);
	g_test_add_func("/vhost-events/forget", test_forget);
	g_test_add_func("/vhost-events/forget-in-handler", test_forget_in_handler);
	return g_test_run();
}
