/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent_udp.c - the test guest agent's UDP sink (port VSHIM_PORT_UDP_SINK)
 *
 * Theory of operation: each valid datagram (agent-proto.h: magic, stream,
 * seq, send time, payload) is accounted in its stream: received, unique,
 * duplicated (a bitmap of the last VSHIM_DUP_WINDOW seqs), reordered, too
 * old, corrupted, the largest gap between arrivals, and an arrival timeline
 * for the "timeline" command.  Invalid datagrams only count (g_bad_magic,
 * g_short, g_bad_stream).  Loss is computed when asked (stream_lost*()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

struct stream streams[VSHIM_MAX_STREAMS];
uint64_t g_bad_magic, g_short, g_bad_stream;

static int bit_test(const uint64_t *bm, uint64_t seq)
{
	uint64_t slot = seq & (VSHIM_DUP_WINDOW - 1);

	return (bm[slot >> 6] >> (slot & 63)) & 1;
}

static void bit_set(uint64_t *bm, uint64_t seq)
{
	uint64_t slot = seq & (VSHIM_DUP_WINDOW - 1);

	bm[slot >> 6] |= 1ull << (slot & 63);
}

static void bit_clear(uint64_t *bm, uint64_t seq)
{
	uint64_t slot = seq & (VSHIM_DUP_WINDOW - 1);

	bm[slot >> 6] &= ~(1ull << (slot & 63));
}

void stream_reset(struct stream *s)
{
	uint64_t *bm = s->bitmap;
	struct tl_ent *tl = s->tl;

	memset(s, 0, sizeof(*s));
	s->bitmap = bm;
	s->tl = tl;
	if (bm)
		memset(bm, 0, VSHIM_DUP_WINDOW / 8);
}

static int payload_ok(const uint8_t *p, size_t n, uint64_t seq)
{
	uint8_t b = vshim_payload_byte(seq, 0);

	for (size_t i = 0; i < n; i++, b++)
		if (p[i] != b)
			return 0;
	return 1;
}

static void udp_sink_datagram(const uint8_t *buf, size_t len, uint64_t t_us)
{
	struct vshim_hdr h;
	struct stream *s;
	uint64_t seq;

	if (len < VSHIM_HDR_LEN) {
		g_short++;
		return;
	}
	memcpy(&h, buf, sizeof(h));
	if (ntohl(h.magic) != VSHIM_MAGIC) {
		g_bad_magic++;
		return;
	}
	if (ntohl(h.stream) >= VSHIM_MAX_STREAMS) {
		g_bad_stream++;
		return;
	}
	s = &streams[ntohl(h.stream)];
	seq = be64toh(h.seq);
	if (!payload_ok(buf + VSHIM_HDR_LEN, len - VSHIM_HDR_LEN, seq)) {
		s->corrupted++;
		return;
	}
	if (!s->bitmap) {
		s->bitmap = calloc(VSHIM_DUP_WINDOW / 64, sizeof(uint64_t));
		if (!s->bitmap)
			die("calloc bitmap");
	}
	if (!s->tl) {
		s->tl = malloc(sizeof(struct tl_ent) * VSHIM_TIMELINE_MAX);
		if (!s->tl)
			die("malloc timeline");
	}

	s->received++;
	s->bytes += len;
	if (!s->active) {
		s->active = 1;
		s->first_us = t_us;
		s->first_seq = seq;
		s->highest = seq;
		s->unique = 1;
		bit_set(s->bitmap, seq);
	} else {
		uint64_t gap = t_us - s->last_us;

		if (gap > s->max_gap_us) {
			s->max_gap_us = gap;
			s->max_gap_seq = seq;
			s->max_gap_end_us = t_us;
		}
		if (seq > s->highest) {
			uint64_t from = s->highest + 1;

			if (seq - s->highest >= VSHIM_DUP_WINDOW) {
				memset(s->bitmap, 0, VSHIM_DUP_WINDOW / 8);
			} else {
				for (uint64_t q = from; q < seq; q++)
					bit_clear(s->bitmap, q);
			}
			bit_set(s->bitmap, seq);
			s->highest = seq;
			s->unique++;
		} else if (s->highest - seq >= VSHIM_DUP_WINDOW) {
			/* Too old to tell; count it as reordered. */
			s->too_old++;
			s->reordered++;
			s->unique++;
		} else if (bit_test(s->bitmap, seq)) {
			s->duplicated++;
		} else {
			bit_set(s->bitmap, seq);
			s->reordered++;
			s->unique++;
		}
	}
	s->last_us = t_us;
	if (s->tl_n < VSHIM_TIMELINE_MAX) {
		s->tl[s->tl_n].us = t_us;
		s->tl[s->tl_n].seq = seq;
		s->tl_n++;
	} else {
		s->tl_dropped++;
	}
}

void udp_sink_drain(int fd, uint8_t *buf)
{
	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(fd, buf, RX_BUF, MSG_DONTWAIT);

		if (n < 0)
			return;
		udp_sink_datagram(buf, (size_t)n, now_us());
	}
}

/* Like stream_lost() but counting from the first seq received since the
 * last reset (for streams that were already flowing at the reset). */
uint64_t stream_lost_since_first(const struct stream *s)
{
	uint64_t expect;

	if (!s->active || s->highest < s->first_seq)
		return 0;
	expect = s->highest - s->first_seq + 1;
	return expect > s->unique ? expect - s->unique : 0;
}

uint64_t stream_lost(const struct stream *s)
{
	/* Sequences start at 0: everything up to highest not seen is lost. */
	uint64_t expect;

	if (!s->active)
		return 0;
	expect = s->highest + 1;
	return expect > s->unique ? expect - s->unique : 0;
}
