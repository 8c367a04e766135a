/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * stats.c - names of the counters
 *
 * Theory of operation: the string table (enum.h) is generated from the
 * same X-macro as the enum, so the two cannot drift apart; the field table lists every
 * scalar counter once, for the control socket and DPDK telemetry, and a
 * static_assert fails the build when a counter is added to the struct but
 * not to the table.
 */
#include <assert.h>

#include "pkt.h"
#include "stats.h"

#define VS_DROP_NAME(id, name) [VS_DROP_##id] = name,
VS_ENUM_IMPL(vs_drop_reason, enum vs_drop_reason, VS_DROP_NUM_REASONS,
	     VS_DROP_REASONS(VS_DROP_NAME));
#undef VS_DROP_NAME

#define VS_STAT_COUNTER(name, field) { name, offsetof(struct vs_port_stats, field), false }
#define VS_STAT_GAUGE(name, field) { name, offsetof(struct vs_port_stats, field), true }

const struct vs_stat_field vs_stat_fields[] = {
	VS_STAT_COUNTER("uplink-rx-pkts", uplink_rx_pkts),
	VS_STAT_COUNTER("uplink-rx-bytes", uplink_rx_bytes),
	VS_STAT_COUNTER("rx-pkts", rx_pkts),
	VS_STAT_COUNTER("rx-bytes", rx_bytes),
	VS_STAT_COUNTER("vm-tx-pkts", vm_tx_pkts),
	VS_STAT_COUNTER("tso-frames", tso_frames),
	VS_STAT_COUNTER("tso-segments", tso_segments),
	VS_STAT_COUNTER("tx-pkts", tx_pkts),
	VS_STAT_COUNTER("tx-bytes", tx_bytes),
	VS_STAT_GAUGE("buffer-peak-pkts", buffer_peak_pkts),
	VS_STAT_GAUGE("buffer-peak-bytes", buffer_peak_bytes),
	VS_STAT_COUNTER("replayed-pkts", replayed_pkts),
	VS_STAT_COUNTER("live-held-pkts", live_held_pkts),
	VS_STAT_COUNTER("replays-left-held", replays_left_held),
	VS_STAT_COUNTER("source-held-pkts", source_held_pkts),
	VS_STAT_COUNTER("source-barrier-releases", source_barrier_releases),
	VS_STAT_COUNTER("source-barrier-timeouts", source_barrier_timeouts),
	VS_STAT_COUNTER("source-hold-overflow", source_hold_overflow),
	VS_STAT_COUNTER("source-hold-full", source_hold_full),
	VS_STAT_COUNTER("source-barriers-unmatched", source_barriers_unmatched),
	VS_STAT_COUNTER("source-hold-ends", source_hold_ends),
	VS_STAT_GAUGE("source-held-now", source_held_now),
	VS_STAT_COUNTER("ring-bound-hits", ring_bound_hits),
	VS_STAT_COUNTER("ring-bound-held-pkts", ring_bound_held_pkts),
	VS_STAT_COUNTER("ring-bound-valve", ring_bound_valve),
	VS_STAT_COUNTER("ring-bound-multiqueue", ring_bound_multiqueue),
	VS_STAT_COUNTER("tunnel-tx-frames", tunnel_tx_frames),
	VS_STAT_COUNTER("tunnel-tx-bytes", tunnel_tx_bytes),
	VS_STAT_COUNTER("tunnel-rx-frames", tunnel_rx_frames),
	VS_STAT_COUNTER("tunnel-rx-bytes", tunnel_rx_bytes),
	VS_STAT_COUNTER("tunnel-duplicates", tunnel_duplicates),
	VS_STAT_COUNTER("tunnel-reconnects", tunnel_reconnects),
	VS_STAT_COUNTER("stragglers-forwarded", stragglers_forwarded),
	VS_STAT_COUNTER("sources-switched", sources_switched),
	VS_STAT_COUNTER("sources-timed-out", sources_timed_out),
	VS_STAT_COUNTER("direct-reports-sent", direct_reports_sent),
	VS_STAT_COUNTER("direct-reports-received", direct_reports_received),
	VS_STAT_COUNTER("announces-sent", announces_sent),
	VS_STAT_COUNTER("hold-window-expired", hold_window_expired),
	VS_STAT_COUNTER("barriers-unanswered", barriers_unanswered),
	VS_STAT_COUNTER("barriers-unanswered-lcore", barriers_unanswered_lcore),
	VS_STAT_COUNTER("source-barriers-received", source_barriers_received),
	VS_STAT_COUNTER("source-barriers-ignored", source_barriers_ignored),
	VS_STAT_COUNTER("source-barriers-sent", source_barriers_sent),
	VS_STAT_COUNTER("source-barriers-abandoned", source_barriers_abandoned),
	VS_STAT_COUNTER("expect-timeouts", expect_timeouts),
	VS_STAT_COUNTER("tunnel-frames-discarded", tunnel_frames_discarded),
	VS_STAT_COUNTER("migrations-out", migrations_out),
	VS_STAT_COUNTER("migrations-in", migrations_in),
	VS_STAT_COUNTER("rollbacks", rollbacks),
	VS_STAT_COUNTER("addrs-learned", addrs_learned),
	VS_STAT_COUNTER("addrs-evicted", addrs_evicted),
	VS_STAT_COUNTER("addrs-aged", addrs_aged),
	VS_STAT_COUNTER("announce-frames", announce_frames),
	VS_STAT_GAUGE("last-blackout-us", last_blackout_us),
	VS_STAT_GAUGE("last-resume-to-first-replay-us", last_resume_to_first_replay_us),
	VS_STAT_GAUGE("last-resume-to-last-replay-us", last_resume_to_last_replay_us),
	VS_STAT_GAUGE("last-replay-left-held", last_replay_left_held),
	VS_STAT_GAUGE("tcp-ct-entries", tcp_ct_entries),
	VS_STAT_COUNTER("tcp-ct-evicted", tcp_ct_evicted),
	VS_STAT_COUNTER("tcp-ct-aged", tcp_ct_aged),
	VS_STAT_COUNTER("tcp-ct-full", tcp_ct_full),
	VS_STAT_COUNTER("tcp-ct-bad-acks", tcp_ct_bad_acks),
	VS_STAT_COUNTER("tcp-ct-exported", tcp_ct_exported),
	VS_STAT_COUNTER("tcp-ct-imported", tcp_ct_imported),
	VS_STAT_COUNTER("tcp-ct-import-refused", tcp_ct_import_refused),
	VS_STAT_COUNTER("resets-sent", resets_sent),
	VS_STAT_COUNTER("challenges-sent", challenges_sent),
	VS_STAT_GAUGE("arrival-rate-pps", arrival_rate_pps),
	VS_STAT_GAUGE("replay-rate-pps", replay_rate_pps),
	VS_STAT_GAUGE("replay-delivered-pps", replay_delivered_pps),
	VS_STAT_GAUGE("live-peak-pps", live_peak_pps),
	VS_STAT_GAUGE("poll-max-us", poll_max_us),
	VS_STAT_GAUGE("uplink-gap-max-us", uplink_gap_max_us),
	VS_STAT_COUNTER("postcopy-waits", postcopy_waits),
	VS_STAT_COUNTER("postcopy-page-requests", postcopy_page_requests),
	VS_STAT_GAUGE("rx-ring-outstanding-at-stop", rx_ring_outstanding_at_stop),
	VS_STAT_GAUGE("rx-ring-outstanding-at-start", rx_ring_outstanding_at_start),
};

const unsigned int vs_num_stat_fields = sizeof(vs_stat_fields) / sizeof(vs_stat_fields[0]);

/* A new counter in stats.h must appear on the control socket: add it to
 * vs_stat_fields[] (and to docs/control-protocol.md) */
static_assert(sizeof(struct vs_port_stats) ==
	      sizeof(uint64_t) * (sizeof(vs_stat_fields) / sizeof(vs_stat_fields[0]) + 2 * VS_DROP_NUM_REASONS +
				  2 * VS_PKT_NUM_CLASSES),
	      "every field of struct vs_port_stats is listed in vs_stat_fields[]");
