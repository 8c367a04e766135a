/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-shim test guest agent: the workload of the tiny TCG test guest.
 *
 *   UDP 7000  sink: per stream counters (lost, reordered, duplicated,
 *             corrupted, max inter-arrival gap) and an arrival timeline.
 *   UDP 7001  control: one text request -> one text reply (agent-proto.h).
 *   TCP 7002  sink: verifies byte k == k % 251, counts bytes and read gaps.
 *
 * Sending (control commands "send" and "tcpsend") happens in forked
 * children that report progress through a shared memory page.
 *
 * Built statically: gcc -static -O2 -Wall -Werror -o agent agent.c
 * Prints "VSHIM-GUEST-READY" on stdout once all sockets listen.
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

#include "agent-proto.h"

#define MAX_TCP_CONNS 8
#define RX_BUF 65536
#define CTL_REPLY_MAX 65000
#define REPLAY_SLOTS 8

struct tl_ent {
	uint64_t us;
	uint64_t seq;
};

struct stream {
	int active;            /* saw at least one valid datagram since reset */
	uint64_t received;     /* valid datagrams, duplicates included */
	uint64_t unique;       /* distinct seqs seen (within the window) */
	uint64_t duplicated;
	uint64_t reordered;
	uint64_t too_old;      /* seq older than the dup window (also reordered) */
	uint64_t corrupted;    /* good header, bad payload */
	uint64_t bytes;        /* payload+header bytes of valid datagrams */
	uint64_t highest;
	uint64_t first_seq;
	uint64_t first_us, last_us;
	uint64_t max_gap_us, max_gap_seq, max_gap_end_us;
	uint64_t *bitmap;      /* VSHIM_DUP_WINDOW bits, slot = seq % window */
	struct tl_ent *tl;
	uint32_t tl_n;
	uint64_t tl_dropped;
};

struct tcp_conn {
	int fd;
	uint64_t off;
	uint64_t last_us;
	int got_data;
};

struct tcp_sink {
	uint64_t connections, closed, bytes, corrupted, max_gap_us, last_conn_bytes;
};

/* Shared with the sender children. */
struct tx_shared {
	uint64_t udp_runs, udp_active, udp_sent, udp_errors, udp_done;
	uint64_t tcp_runs, tcp_active, tcp_sent, tcp_errors, tcp_done;
	uint64_t tcp_last_bytes;
};

struct replay {
	char id[40];
	char *reply;
	size_t len;
};

static struct stream streams[VSHIM_MAX_STREAMS];
static struct tcp_conn conns[MAX_TCP_CONNS];
static struct tcp_sink tcps;
static struct tx_shared *tx;
static uint64_t g_bad_magic, g_short, g_bad_stream, g_ctl_requests;
static uint64_t start_us;
static struct replay replays[REPLAY_SLOTS];
static unsigned replay_next;
static struct sockaddr_storage ctl_from_addr;
static socklen_t ctl_from_len;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_us(void)
{
	return now_ns() / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "agent: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ------------------------------------------------------------------ */
/* UDP sink                                                            */
/* ------------------------------------------------------------------ */

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

static void stream_reset(struct stream *s)
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

static void udp_sink_drain(int fd, uint8_t *buf)
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
static uint64_t stream_lost_since_first(const struct stream *s)
{
	uint64_t expect;

	if (!s->active || s->highest < s->first_seq)
		return 0;
	expect = s->highest - s->first_seq + 1;
	return expect > s->unique ? expect - s->unique : 0;
}

static uint64_t stream_lost(const struct stream *s)
{
	/* Sequences start at 0: everything up to highest not seen is lost. */
	uint64_t expect;

	if (!s->active)
		return 0;
	expect = s->highest + 1;
	return expect > s->unique ? expect - s->unique : 0;
}

/* ------------------------------------------------------------------ */
/* TCP sink                                                            */
/* ------------------------------------------------------------------ */

static void tcp_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		int i;

		if (fd < 0)
			return;
		for (i = 0; i < MAX_TCP_CONNS; i++)
			if (conns[i].fd < 0)
				break;
		if (i == MAX_TCP_CONNS) {
			close(fd);
			continue;
		}
		conns[i].fd = fd;
		conns[i].off = 0;
		conns[i].got_data = 0;
		conns[i].last_us = 0;
		tcps.connections++;
	}
}

static void tcp_close(struct tcp_conn *c)
{
	close(c->fd);
	c->fd = -1;
	tcps.closed++;
	tcps.last_conn_bytes = c->off;
}

static void tcp_read(struct tcp_conn *c, uint8_t *buf)
{
	for (int rounds = 0; rounds < 64; rounds++) {
		ssize_t n = read(c->fd, buf, RX_BUF);
		uint64_t t = now_us();
		uint32_t expect;

		if (n == 0) {
			tcp_close(c);
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				tcp_close(c);
			return;
		}
		if (c->got_data) {
			uint64_t gap = t - c->last_us;

			if (gap > tcps.max_gap_us)
				tcps.max_gap_us = gap;
		}
		c->got_data = 1;
		c->last_us = t;
		expect = (uint32_t)(c->off % VSHIM_TCP_MOD);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != expect)
				tcps.corrupted++;
			if (++expect == VSHIM_TCP_MOD)
				expect = 0;
		}
		c->off += (uint64_t)n;
		tcps.bytes += (uint64_t)n;
	}
}

/* ------------------------------------------------------------------ */
/* Senders (children)                                                  */
/* ------------------------------------------------------------------ */

static int parse_addr(const char *ip, const char *port, struct sockaddr_in *sa)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*end || p == 0 || p > 65535)
		return -1;
	sa->sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

static void udp_send_child(struct sockaddr_in dst, uint64_t count, uint64_t pps,
			   uint32_t stream, size_t size, uint64_t start_seq)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint8_t *buf = malloc(size);
	uint64_t t0, period_ns;
	int sndbuf = 4 << 20;

	if (fd < 0 || !buf)
		_exit(1);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	period_ns = 1000000000ull / pps;
	if (period_ns == 0)
		period_ns = 1;
	t0 = now_ns();
	for (uint64_t i = 0; i < count; i++) {
		uint64_t deadline = t0 + i * period_ns;
		uint64_t seq = start_seq + i;
		uint64_t t = now_ns();
		struct vshim_hdr h;
		uint8_t b;

		if (t < deadline) {
			struct timespec ts = {
				.tv_sec = (time_t)(deadline / 1000000000ull),
				.tv_nsec = (long)(deadline % 1000000000ull),
			};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		h.magic = htonl(VSHIM_MAGIC);
		h.stream = htonl(stream);
		h.seq = htobe64(seq);
		h.send_ns = htobe64(now_ns());
		memcpy(buf, &h, VSHIM_HDR_LEN);
		b = vshim_payload_byte(seq, 0);
		for (size_t j = VSHIM_HDR_LEN; j < size; j++)
			buf[j] = b++;
		if (sendto(fd, buf, size, 0, (struct sockaddr *)&dst, sizeof(dst)) == (ssize_t)size)
			__atomic_add_fetch(&tx->udp_sent, 1, __ATOMIC_RELAXED);
		else
			__atomic_add_fetch(&tx->udp_errors, 1, __ATOMIC_RELAXED);
	}
	close(fd);
	__atomic_add_fetch(&tx->udp_done, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&tx->udp_active, 1, __ATOMIC_RELAXED);
	_exit(0);
}

static void tcp_send_child(struct sockaddr_in dst, uint64_t bytes)
{
	static uint8_t pat[65536 + VSHIM_TCP_MOD];
	struct timeval tv = { .tv_sec = 20 };
	uint64_t off = 0;
	int fd, ok = 0;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i % VSHIM_TCP_MOD);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		goto out;
	while (off < bytes) {
		size_t chunk = bytes - off > 65536 ? 65536 : (size_t)(bytes - off);
		ssize_t n = send(fd, pat + off % VSHIM_TCP_MOD, chunk, MSG_NOSIGNAL);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			goto out;
		}
		off += (uint64_t)n;
		__atomic_add_fetch(&tx->tcp_sent, (uint64_t)n, __ATOMIC_RELAXED);
	}
	/* Wait for the peer to close so that everything was delivered. */
	shutdown(fd, SHUT_WR);
	{
		char c[256];

		while (read(fd, c, sizeof(c)) > 0)
			;
	}
	ok = 1;
out:
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&tx->tcp_last_bytes, off, __ATOMIC_RELAXED);
	if (ok)
		__atomic_add_fetch(&tx->tcp_done, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&tx->tcp_errors, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&tx->tcp_active, 1, __ATOMIC_RELAXED);
	_exit(ok ? 0 : 1);
}

/* ------------------------------------------------------------------ */
/* Control                                                             */
/* ------------------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b->len += (size_t)n;
	if (b->len > b->cap - 1)
		b->len = b->cap - 1;
}

/*
 * The guest kernel's own drop counters, so that a test can tell a frame the
 * backend never delivered from one the guest dropped: "Udp:" InErrors and
 * RcvbufErrors of /proc/net/snmp, and eth0's rx_dropped.
 */
static void kernel_drop_counters(uint64_t *udp_in_errors, uint64_t *udp_rcvbuf_errors,
				 uint64_t *rx_dropped)
{
	char line[1024], names[1024] = "";
	FILE *f;

	*udp_in_errors = *udp_rcvbuf_errors = *rx_dropped = 0;
	f = fopen("/proc/net/snmp", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *save_n, *save_v, *n, *v;

		if (strncmp(line, "Udp:", 4))
			continue;
		if (!names[0]) {		/* the header line comes first */
			snprintf(names, sizeof(names), "%s", line);
			continue;
		}
		n = strtok_r(names, " \n", &save_n);
		v = strtok_r(line, " \n", &save_v);
		while (n && v) {
			if (!strcmp(n, "InErrors"))
				*udp_in_errors = strtoull(v, NULL, 10);
			else if (!strcmp(n, "RcvbufErrors"))
				*udp_rcvbuf_errors = strtoull(v, NULL, 10);
			n = strtok_r(NULL, " \n", &save_n);
			v = strtok_r(NULL, " \n", &save_v);
		}
		break;
	}
	if (f)
		fclose(f);
	f = fopen("/sys/class/net/eth0/statistics/rx_dropped", "r");
	if (f) {
		if (fscanf(f, "%" SCNu64, rx_dropped) != 1)
			*rx_dropped = 0;
		fclose(f);
	}
}

/*
 * The kernel's IPv6 UDP counters (/proc/net/snmp6, "Name value" lines):
 * datagrams delivered to a socket, and to a port without one; 0 without
 * IPv6.  Tests that send datagrams the agent does not read count them so.
 */
static void kernel_udp6_counters(uint64_t *in_datagrams, uint64_t *no_ports)
{
	char name[64];
	unsigned long long v;
	FILE *f = fopen("/proc/net/snmp6", "r");

	*in_datagrams = *no_ports = 0;
	while (f && fscanf(f, "%63s %llu", name, &v) == 2) {
		if (!strcmp(name, "Udp6InDatagrams"))
			*in_datagrams = v;
		else if (!strcmp(name, "Udp6NoPorts"))
			*no_ports = v;
	}
	if (f)
		fclose(f);
}

static void cmd_stats(struct sbuf *b)
{
	int first = 1;
	uint64_t udp_in_errors, udp_rcvbuf_errors, rx_dropped, udp6_in, udp6_no_ports;

	kernel_drop_counters(&udp_in_errors, &udp_rcvbuf_errors, &rx_dropped);
	kernel_udp6_counters(&udp6_in, &udp6_no_ports);
	sb_printf(b, "{\"now_us\":%" PRIu64 ",\"uptime_us\":%" PRIu64, now_us(), now_us() - start_us);
	sb_printf(b, ",\"kernel\":{\"udp_in_errors\":%" PRIu64 ",\"udp_rcvbuf_errors\":%" PRIu64
		  ",\"rx_dropped\":%" PRIu64 ",\"udp6_in_datagrams\":%" PRIu64
		  ",\"udp6_no_ports\":%" PRIu64 "}", udp_in_errors, udp_rcvbuf_errors, rx_dropped,
		  udp6_in, udp6_no_ports);
	sb_printf(b, ",\"bad_magic\":%" PRIu64 ",\"short\":%" PRIu64 ",\"bad_stream\":%" PRIu64
		  ",\"ctl_requests\":%" PRIu64, g_bad_magic, g_short, g_bad_stream, g_ctl_requests);
	sb_printf(b, ",\"streams\":{");
	for (int i = 0; i < VSHIM_MAX_STREAMS; i++) {
		struct stream *s = &streams[i];

		if (!s->active && !s->corrupted)
			continue;
		sb_printf(b, "%s\"%d\":{\"received\":%" PRIu64 ",\"unique\":%" PRIu64
			  ",\"lost\":%" PRIu64 ",\"lost_since_first\":%" PRIu64 ",\"reordered\":%" PRIu64 ",\"duplicated\":%" PRIu64
			  ",\"corrupted\":%" PRIu64 ",\"too_old\":%" PRIu64 ",\"bytes\":%" PRIu64
			  ",\"first_seq\":%" PRIu64 ",\"highest_seq\":%" PRIu64
			  ",\"first_us\":%" PRIu64 ",\"last_us\":%" PRIu64
			  ",\"max_gap_us\":%" PRIu64 ",\"max_gap_seq\":%" PRIu64
			  ",\"max_gap_end_us\":%" PRIu64 ",\"timeline\":%u,\"timeline_dropped\":%" PRIu64 "}",
			  first ? "" : ",", i, s->received, s->unique, stream_lost(s),
			  stream_lost_since_first(s), s->reordered,
			  s->duplicated, s->corrupted, s->too_old, s->bytes, s->first_seq,
			  s->highest, s->first_us, s->last_us, s->max_gap_us, s->max_gap_seq,
			  s->max_gap_end_us, s->tl_n, s->tl_dropped);
		first = 0;
	}
	{
		int active = 0;

		for (int i = 0; i < MAX_TCP_CONNS; i++)
			active += conns[i].fd >= 0;
		sb_printf(b, "},\"tcp\":{\"connections\":%" PRIu64 ",\"active\":%d,\"closed\":%" PRIu64
			  ",\"bytes\":%" PRIu64 ",\"corrupted\":%" PRIu64 ",\"max_gap_us\":%" PRIu64
			  ",\"last_conn_bytes\":%" PRIu64 "}",
			  tcps.connections, active, tcps.closed, tcps.bytes, tcps.corrupted,
			  tcps.max_gap_us, tcps.last_conn_bytes);
	}
	sb_printf(b, ",\"tx\":{\"udp_runs\":%" PRIu64 ",\"udp_active\":%" PRIu64
		  ",\"udp_sent\":%" PRIu64 ",\"udp_errors\":%" PRIu64 ",\"udp_done\":%" PRIu64
		  ",\"tcp_runs\":%" PRIu64 ",\"tcp_active\":%" PRIu64 ",\"tcp_sent\":%" PRIu64
		  ",\"tcp_errors\":%" PRIu64 ",\"tcp_done\":%" PRIu64 ",\"tcp_last_bytes\":%" PRIu64 "}}",
		  __atomic_load_n(&tx->udp_runs, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->udp_active, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->udp_sent, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->udp_errors, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->udp_done, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_runs, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_active, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_sent, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_errors, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_done, __ATOMIC_RELAXED),
		  __atomic_load_n(&tx->tcp_last_bytes, __ATOMIC_RELAXED));
}

static void cmd_reset(struct sbuf *b)
{
	for (int i = 0; i < VSHIM_MAX_STREAMS; i++)
		stream_reset(&streams[i]);
	memset(&tcps, 0, sizeof(tcps));
	for (int i = 0; i < MAX_TCP_CONNS; i++)
		conns[i].got_data = 0;
	g_bad_magic = g_short = g_bad_stream = g_ctl_requests = 0;
	tx->udp_runs = tx->udp_sent = tx->udp_errors = tx->udp_done = 0;
	tx->tcp_runs = tx->tcp_sent = tx->tcp_errors = tx->tcp_done = tx->tcp_last_bytes = 0;
	sb_printf(b, "ok");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !*s)
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

static void cmd_send(struct sbuf *b, char **argv, int argc)
{
	struct sockaddr_in dst;
	uint64_t count, pps, stream, size, start = 0;
	pid_t pid;

	if (argc < 7 || argc > 8 || parse_addr(argv[1], argv[2], &dst) ||
	    parse_u64(argv[3], &count) || parse_u64(argv[4], &pps) || pps == 0 ||
	    parse_u64(argv[5], &stream) || stream >= VSHIM_MAX_STREAMS ||
	    parse_u64(argv[6], &size) || size < VSHIM_HDR_LEN || size > 65507 ||
	    (argc == 8 && parse_u64(argv[7], &start))) {
		sb_printf(b, "err usage: send IP PORT COUNT PPS STREAM SIZE [START_SEQ]"
			  " (PPS>0, %d<=SIZE<=65507, STREAM<%d)", VSHIM_HDR_LEN, VSHIM_MAX_STREAMS);
		return;
	}
	__atomic_add_fetch(&tx->udp_runs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tx->udp_active, 1, __ATOMIC_RELAXED);
	pid = fork();
	if (pid == 0)
		udp_send_child(dst, count, pps, (uint32_t)stream, (size_t)size, start);
	if (pid < 0) {
		__atomic_sub_fetch(&tx->udp_active, 1, __ATOMIC_RELAXED);
		sb_printf(b, "err fork: %s", strerror(errno));
		return;
	}
	sb_printf(b, "ok");
}

static void cmd_tcpsend(struct sbuf *b, char **argv, int argc)
{
	struct sockaddr_in dst;
	uint64_t bytes;
	pid_t pid;

	if (argc != 4 || parse_addr(argv[1], argv[2], &dst) || parse_u64(argv[3], &bytes)) {
		sb_printf(b, "err usage: tcpsend IP PORT BYTES");
		return;
	}
	__atomic_add_fetch(&tx->tcp_runs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&tx->tcp_active, 1, __ATOMIC_RELAXED);
	pid = fork();
	if (pid == 0)
		tcp_send_child(dst, bytes);
	if (pid < 0) {
		__atomic_sub_fetch(&tx->tcp_active, 1, __ATOMIC_RELAXED);
		sb_printf(b, "err fork: %s", strerror(errno));
		return;
	}
	sb_printf(b, "ok");
}

static void cmd_timeline(struct sbuf *b, char **argv, int argc)
{
	uint64_t stream, off;
	struct stream *s;
	size_t hdr_room = 64, start_len;
	uint32_t n = 0;
	char ent[64];

	if (argc != 3 || parse_u64(argv[1], &stream) || stream >= VSHIM_MAX_STREAMS ||
	    parse_u64(argv[2], &off)) {
		sb_printf(b, "err usage: timeline STREAM OFFSET");
		return;
	}
	s = &streams[stream];
	/* Entries first into a scratch area after the header room. */
	start_len = b->len;
	b->len += hdr_room;
	for (uint64_t i = off; i < s->tl_n; i++) {
		int len;

		if (i == off)
			len = snprintf(ent, sizeof(ent), " %" PRIu64 ",%" PRIu64, s->tl[i].us,
				       s->tl[i].seq);
		else
			len = snprintf(ent, sizeof(ent), " %" PRIu64 ",%" PRId64,
				       s->tl[i].us - s->tl[i - 1].us,
				       (int64_t)(s->tl[i].seq - s->tl[i - 1].seq));
		if (b->len - start_len + (size_t)len > VSHIM_TIMELINE_CHUNK)
			break;
		memcpy(b->p + b->len, ent, (size_t)len);
		b->len += (size_t)len;
		n++;
	}
	{
		char head[64];
		int hl = snprintf(head, sizeof(head), "tl %" PRIu64 " %" PRIu64 " %u %u", stream, off,
				  n, s->tl_n);
		size_t body = b->len - start_len - hdr_room;

		memmove(b->p + start_len + (size_t)hl, b->p + start_len + hdr_room, body);
		memcpy(b->p + start_len, head, (size_t)hl);
		b->len = start_len + (size_t)hl + body;
	}
}

static void handle_ctl(int fd, char *req, size_t reqlen)
{
	static char out[CTL_REPLY_MAX];
	struct sbuf b = { out, 0, sizeof(out) };
	char id[40] = "";
	char *argv[16];
	int argc = 0;
	char *p = req, *tok, *save;

	req[reqlen] = 0;
	while (reqlen && (req[reqlen - 1] == '\n' || req[reqlen - 1] == '\r'))
		req[--reqlen] = 0;
	g_ctl_requests++;
	if (p[0] == '#') {
		size_t k = strcspn(p, " ");

		if (k >= sizeof(id))
			k = sizeof(id) - 1;
		memcpy(id, p, k);
		id[k] = 0;
		p += strcspn(p, " ");
		for (unsigned i = 0; i < REPLAY_SLOTS; i++) {
			if (replays[i].reply && !strcmp(replays[i].id, id)) {
				sendto(fd, replays[i].reply, replays[i].len, 0,
				       (struct sockaddr *)&ctl_from_addr, ctl_from_len);
				return;
			}
		}
		sb_printf(&b, "%s ", id);
	}
	for (tok = strtok_r(p, " \t", &save); tok && argc < 16; tok = strtok_r(NULL, " \t", &save))
		argv[argc++] = tok;
	if (argc == 0)
		sb_printf(&b, "err empty request");
	else if (!strcmp(argv[0], "ping"))
		sb_printf(&b, "pong");
	else if (!strcmp(argv[0], "stats") && argc == 1)
		cmd_stats(&b);
	else if (!strcmp(argv[0], "reset") && argc == 1)
		cmd_reset(&b);
	else if (!strcmp(argv[0], "send"))
		cmd_send(&b, argv, argc);
	else if (!strcmp(argv[0], "tcpsend"))
		cmd_tcpsend(&b, argv, argc);
	else if (!strcmp(argv[0], "timeline"))
		cmd_timeline(&b, argv, argc);
	else
		sb_printf(&b, "err unknown command '%s'", argv[0]);

	sendto(fd, out, b.len, 0, (struct sockaddr *)&ctl_from_addr, ctl_from_len);
	if (id[0]) {
		struct replay *r = &replays[replay_next++ % REPLAY_SLOTS];

		free(r->reply);
		r->reply = malloc(b.len);
		if (r->reply) {
			memcpy(r->reply, out, b.len);
			r->len = b.len;
			snprintf(r->id, sizeof(r->id), "%s", id);
		}
	}
}

/* ------------------------------------------------------------------ */

/* VSHIM_RCVBUF (init, from vshim.rcvbuf=): 0 if unset or not a number */
static int rcvbuf_env(void)
{
	const char *v = getenv("VSHIM_RCVBUF");
	char *end;
	long n;

	if (!v)
		return 0;
	n = strtol(v, &end, 10);
	return *end || n <= 0 || n > (1L << 30) ? 0 : (int)n;
}

static int udp_socket(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	if (fd < 0)
		die("socket");
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind udp");
	return fd;
}

int main(void)
{
	static uint8_t buf[RX_BUF + 1];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(VSHIM_PORT_TCP_SINK) };
	struct pollfd pfd[3 + MAX_TCP_CONNS];
	int one = 1, sink, ctl, lfd;

	signal(SIGCHLD, SIG_IGN); /* children are reaped automatically */
	signal(SIGPIPE, SIG_IGN);
	start_us = now_us();
	tx = mmap(NULL, sizeof(*tx), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tx == MAP_FAILED)
		die("mmap");
	memset(tx, 0, sizeof(*tx));
	for (int i = 0; i < MAX_TCP_CONNS; i++)
		conns[i].fd = -1;

	/* the kernel's default receive buffer, as an application that does
	 * not tune it (a burst the guest cannot absorb shows up as
	 * RcvbufErrors, guest stats "kernel"), unless the test asked for a
	 * tuned guest (vshim.rcvbuf=, see init) */
	sink = udp_socket(VSHIM_PORT_UDP_SINK, rcvbuf_env());
	ctl = udp_socket(VSHIM_PORT_CTL, 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0)
		die("socket tcp");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0)
		die("bind/listen tcp");

	printf("VSHIM-GUEST-READY\n");
	fflush(stdout);

	for (;;) {
		int n = 0, map[MAX_TCP_CONNS];

		pfd[n++] = (struct pollfd){ .fd = sink, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_TCP_CONNS; i++) {
			if (conns[i].fd >= 0) {
				map[n - 3] = i;
				pfd[n++] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
			}
		}
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents)
			udp_sink_drain(sink, buf);
		if (pfd[1].revents) {
			for (int k = 0; k < 16; k++) {
				ctl_from_len = sizeof(ctl_from_addr);
				ssize_t r = recvfrom(ctl, buf, RX_BUF, MSG_DONTWAIT,
						     (struct sockaddr *)&ctl_from_addr, &ctl_from_len);
				if (r < 0)
					break;
				handle_ctl(ctl, (char *)buf, (size_t)r);
			}
		}
		if (pfd[2].revents)
			tcp_accept(lfd);
		for (int j = 3; j < n; j++)
			if (pfd[j].revents)
				tcp_read(&conns[map[j - 3]], buf);
	}
}
