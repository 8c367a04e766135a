/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost_events.h - what DPDK's vhost thread saw, handed to the main loop
 *
 * Theory of operation: the vhost callbacks (vhost_port.c) run on DPDK's
 * vhost event thread, and the port's state machine belongs to the main
 * loop thread.  A callback posts a struct vs_vhost_event here (a copy,
 * under a mutex); one GSource attached to the main loop's context
 * dispatches the queued events, in the order they were posted, on the
 * thread that iterates that context, and on no other.
 *
 * Why not g_main_context_invoke(), which they used to go through: it runs
 * the callback at once, on the calling thread, whenever that thread can
 * acquire the context, that is whenever the main loop is not running:
 * before g_main_loop_run() (a client-mode port connecting at startup) and
 * after it returned (shutdown).  The handover then ran on the vhost thread
 * while the main thread added ports or freed them and their handover.  A
 * GSource is never dispatched by the thread that attached or woke it, only
 * by the context's owner.
 *
 * Lifetime: vs_vhost_events_start() before the first port exists,
 * vs_vhost_events_stop() as soon as the main loop has returned, before
 * any port is removed (main.c).  An event posted outside that window is
 * dropped (freed; no handler sees it), and so is every event still queued
 * at stop: the ports are going, and nothing they would have done matters.
 * Removing a port drops its queued events (vs_vhost_events_forget()), so
 * an event never reaches a later port of the same name.  An event names
 * its port and holds no pointer to it: the handler looks the port up on
 * the main loop thread, the registry's only writer (port_registry.h).
 *
 * No EAL: the unit tests link this file as it is (tests/unit/test_vhost_events.c).
 */
#ifndef VS_VHOST_EVENTS_H
#define VS_VHOST_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "enum.h"

enum vs_vhost_event_type {
	VS_VHOST_EV_NEW_DEVICE,
	VS_VHOST_EV_DESTROY_DEVICE,
	VS_VHOST_EV_FEATURES,
	VS_VHOST_EV_VRING_STATE,
	VS_VHOST_NUM_EVENT_TYPES
};
/* Names: the DPDK callbacks: new_device, destroy_device, features_changed,
 * vring_state_changed */
VS_ENUM_DECL(vs_vhost_event_type, enum vs_vhost_event_type);

/**
 * struct vs_vhost_event - what the vhost thread saw, for the main loop
 * @name:	port name (the port may be gone when this is handled)
 * @type:	what happened
 * @features:	negotiated features at the time of the event
 * @vring:	vring index (VRING_STATE)
 * @enable:	new vring state (VRING_STATE)
 */
struct vs_vhost_event {
	char name[32];
	enum vs_vhost_event_type type;
	uint64_t features;
	unsigned int vring;
	int enable;
};

/* Called on the context's thread for each event, in the order posted */
typedef void vs_vhost_event_handler(const struct vs_vhost_event *ev);

/**
 * vs_vhost_events_start() - take events from now on, for @handler
 * @ctx:	the main loop's context (NULL: the global default one)
 * @handler:	called for each event by the thread that iterates @ctx
 *
 * Call it once (again only after vs_vhost_events_stop()).
 */
void vs_vhost_events_start(GMainContext *ctx, vs_vhost_event_handler *handler);

/**
 * vs_vhost_events_post() - queue an event for the main loop (any thread)
 * @ev:		the event, copied; never handled before this returns
 *
 * Return: true if queued, false if dropped (not started, or stopped)
 */
bool vs_vhost_events_post(const struct vs_vhost_event *ev);

/**
 * vs_vhost_events_forget() - drop the queued events of a port being removed
 * (the context's thread)
 * @name:	port name
 *
 * Return: how many were dropped
 */
unsigned int vs_vhost_events_forget(const char *name);

/**
 * vs_vhost_events_stop() - take no more events, drop the queued ones (the
 * context's thread, once it no longer runs the loop); no-op if not started
 *
 * Return: how many queued events were dropped
 */
unsigned int vs_vhost_events_stop(void);

#endif /* VS_VHOST_EVENTS_H */
