/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stats.h - per-port counters
 *
 * Theory of operation: every counter has exactly one writer.  Dataplane
 * counters are written only by the lcore that owns the port; control-plane
 * counters only by the GLib main loop thread; the RX ring gauges only by
 * DPDK's vhost thread (its device callbacks).  Readers (control socket,
 * telemetry, shutdown summary) use VS_STAT_GET() and may see a snapshot that
 * is a few packets old, never a torn value.
 *
 * The drop reasons are a table, so that adding one updates the control
 * protocol, the telemetry endpoint and the docs from one place.
 */
#ifndef VS_STATS_H
#define VS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enum.h"
#include "pkt.h"

/* Why a frame was not delivered.  Names appear on the control socket. */
#define VS_DROP_REASONS(X)                                                            \
	X(NOT_READY, "not-ready")	    /* no device/vring, no buffering policy */ \
	X(VM_RING_FULL, "vm-ring-full")	    /* guest RX ring full in live mode */      \
	X(UPLINK_FULL, "uplink-full")	    /* uplink TX queue full */                 \
	X(OVERSIZE, "oversize")		    /* frame larger than the port accepts */   \
	X(RUNT, "runt")			    /* shorter than an Ethernet header */      \
	X(BUFFER_FULL, "buffer-full")	    /* blackout buffer caps reached */         \
	X(BUFFER_EXPIRED, "buffer-expired") /* held longer than hold-ms */             \
	X(POLICY, "policy")		    /* class configured to drop */             \
	X(OWN_MAC, "own-mac")		    /* VM's own frame, never replayed */       \
	X(PEER_LOST, "peer-lost")	    /* not tunnelled when linger expired */    \
	X(NO_MEMORY, "no-memory")	    /* mbuf allocation failed */              \
	X(DUPLICATE, "duplicate")	    /* same frame reached both hosts (flood) */ \
	X(GUEST_MALFORMED, "guest-malformed") /* TX chain dropped or refused by DPDK */ \
	X(UPLINK_NO_MBUF, "uplink-no-mbuf")   /* uplink had no mbuf to receive into */ \
	X(UPLINK_MISSED, "uplink-missed")     /* uplink RX queue overflowed */ \
	X(STRAGGLER_STOPPED, "straggler-stopped") /* its source was switched */

enum vs_drop_reason {
#define VS_DROP_ENUM(id, name) VS_DROP_##id,
	VS_DROP_REASONS(VS_DROP_ENUM)
#undef VS_DROP_ENUM
	VS_DROP_NUM_REASONS
};

VS_ENUM_DECL(vs_drop_reason, enum vs_drop_reason);

/**
 * struct vs_port_stats - counters of one port
 * @uplink_rx_pkts:	frames received from the uplink for this VM
 * @rx_pkts/@rx_bytes:	frames written into the VM's RX ring (live + replay)
 * @vm_tx_pkts:		frames the VM transmitted (dequeued from its TX ring)
 * @tx_pkts/@tx_bytes:	frames sent on the uplink
 * @drops:		drops by reason, in both directions, counted by the lcore
 * @ctl_drops:	drops by reason counted by the main loop (expiry, peer
 *		lost); a reader reports drops[i] + ctl_drops[i]
 * @idle_sleeps:	times the owning lcore slept (per port: its share)
 */
struct vs_port_stats {
	uint64_t uplink_rx_pkts;
	uint64_t uplink_rx_bytes;
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t vm_tx_pkts;
	uint64_t tso_frames;	/* guest TSO frames cut by the lcore (dp_tx_offload.c) */
	uint64_t tso_segments;	/* the frames they became */
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t drops[VS_DROP_NUM_REASONS];	/* lcore */
	uint64_t ctl_drops[VS_DROP_NUM_REASONS];	/* main loop */

	/* buffering (lcore) */
	uint64_t buffered_pkts[VS_PKT_NUM_CLASSES];	/* accepted into the buffer, by class */
	uint64_t buffered_bytes[VS_PKT_NUM_CLASSES];
	uint64_t buffer_peak_pkts;	/* most accepted in one episode */
	uint64_t buffer_peak_bytes;
	uint64_t replayed_pkts;		/* delivered ahead of live frames */
	uint64_t live_held_pkts;	/* live frames queued behind a replay */
	uint64_t replays_left_held;	/* migrations' replays that ended at their
					 * mark with live frames still held
					 * behind (the tail, dp_replay.c) */
	/* the per-source barrier's hold at the destination (lcore, dp_source_hold.c) */
	uint64_t source_held_pkts;	/* direct frames held for their source's barrier */
	uint64_t source_barrier_releases;	/* sources released by their barrier */
	uint64_t source_barrier_timeouts;	/* ... by source-barrier-ms instead */
	uint64_t source_hold_overflow;	/* ... early: the hold's frames were full */
	uint64_t source_hold_full;	/* sources not held: every slot taken */
	uint64_t source_barriers_unmatched;	/* barriers for a source not held */
	uint64_t source_hold_ends;	/* sources released without their own barrier:
					 * END, ABORT, the window's end, BUFFER */
	uint64_t source_held_now;	/* gauge: frames in the hold now */
	uint64_t ring_bound_hits;	/* times the RX ring bound held frames back */
	uint64_t ring_bound_held_pkts;	/* live frames it sent to held */
	uint64_t ring_bound_valve;	/* bursts its valves (idle, timed) let through */
	uint64_t ring_bound_multiqueue;	/* bursts offered without it: the guest
					 * has more than one RX vring enabled */

	/* migration (main loop) */
	uint64_t tunnel_tx_frames;
	uint64_t tunnel_tx_bytes;
	uint64_t tunnel_rx_frames;
	uint64_t tunnel_rx_bytes;
	uint64_t tunnel_duplicates;
	uint64_t tunnel_reconnects;
	uint64_t stragglers_forwarded;
	uint64_t sources_switched;	/* source: by their trigger (flow_src.h) */
	uint64_t sources_timed_out;	/* source: by their time-out */
	uint64_t direct_reports_sent;	/* destination: SOURCE_DIRECTs sent */
	uint64_t direct_reports_received;	/* source: SOURCE_DIRECTs received */
	uint64_t announces_sent;
	uint64_t hold_window_expired;
	uint64_t barriers_unanswered;	/* source: BARRIERs sent by the 100 ms fallback */
	uint64_t barriers_unanswered_lcore;	/* ... of them: the lcore had not answered */
	uint64_t source_barriers_received;	/* destination: SOURCE_BARRIERs taken */
	uint64_t source_barriers_ignored;	/* destination: refused (not reported, full) */
	uint64_t source_barriers_sent;	/* source: SOURCE_BARRIERs queued on the stream */
	uint64_t source_barriers_abandoned;	/* source: dropped unsent (no drain answer) */
	uint64_t expect_timeouts;	/* expect-timeout-ms passed while armed */
	uint64_t tunnel_frames_discarded;	/* of a stream no longer expected */
	uint64_t migrations_out;
	uint64_t migrations_in;
	uint64_t rollbacks;
	uint64_t last_blackout_us;	/* device down -> peer resumed/rollback */
	uint64_t last_resume_to_first_replay_us;
	uint64_t last_resume_to_last_replay_us;
	uint64_t last_replay_left_held;	/* frames held behind it at its end */

	/* announcements (lcore): learn.h, announce.h */
	uint64_t addrs_learned;		/* MAC/VLAN pairs and IPs learned from TX */
	uint64_t addrs_evicted;		/* dropped for room (the table was full) */
	uint64_t addrs_aged;		/* forgotten, not seen for the ageing time */
	uint64_t announce_frames;	/* RARP, GARP and NA frames sent */
	/* TCP connection tracking and validated resets (lcore, dp_tcp.h) */
	uint64_t tcp_ct_entries;	/* slots of the table in use */
	uint64_t tcp_ct_evicted;	/* slots taken over from closed or idle connections */
	uint64_t tcp_ct_aged;		/* of those, from connections idle for idle-ms */
	uint64_t tcp_ct_full;		/* segments of connections that found no slot */
	uint64_t tcp_ct_bad_acks;	/* peer ACKs of data the VM never sent, ignored */
	uint64_t tcp_ct_exported;	/* connections handed to the stream as CONNS (source) */
	uint64_t tcp_ct_imported;	/* connections taken from CONNS (destination lcore) */
	uint64_t tcp_ct_import_refused;	/* CONNS records of another MAC, or not admitted */
	uint64_t resets_sent;		/* validated RSTs sent to the VM's peers */
	uint64_t challenges_sent;	/* out-of-window ACKs drawing a peer's ACK */

	/* replay pacing (lcore) */
	uint64_t arrival_rate_pps;	/* frames for this VM reaching its uplink */
	uint64_t replay_rate_pps;	/* pace of the replay under way (0: none) */
	uint64_t replay_delivered_pps;	/* what a replay wrote into the guest in
					 * the last 100 ms window, per second */
	uint64_t live_peak_pps;		/* fastest 100 ms of live frames into the
					 * guest: caps a quiet backlog's replay */

	/* lcore time (lcore; reset at new_device) */
	uint64_t poll_max_us;		/* longest single pass over the port */
	uint64_t uplink_gap_max_us;	/* longest time the uplink went unread */

	/* post-copy guard (lcore, dp_postcopy.h) */
	uint64_t postcopy_waits;	/* checks that held a ring back: a page missing */
	uint64_t postcopy_page_requests;	/* missing pages handed to the fetchers */

	/* the guest's RX vring 0 (vhost thread, vhost_port.c): entries the
	 * shim filled that the guest had not reposted, at the last
	 * destroy_device (after the lcores quiesced) and new_device */
	uint64_t rx_ring_outstanding_at_stop;
	uint64_t rx_ring_outstanding_at_start;
};

/**
 * struct vs_stat_field - one scalar of struct vs_port_stats on the wire
 * @name:	member name in query-stats
 * @off:	offset in struct vs_port_stats
 * @gauge:	not a counter: reported as is, never reset
 */
struct vs_stat_field {
	const char *name;
	size_t off;
	bool gauge;
};

/* Every scalar counter of struct vs_port_stats, in reporting order; shared
 * by the control socket and the DPDK telemetry endpoint */
extern const struct vs_stat_field vs_stat_fields[];
extern const unsigned int vs_num_stat_fields;

#endif /* VS_STATS_H */
