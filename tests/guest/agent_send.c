/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent_send.c - the test guest agent's senders (commands "send" and "tcpsend")
 *
 * Theory of operation: each sender runs in a child forked by the control
 * command, so the agent's poll loop never blocks on sending; a child paces
 * UDP datagrams (agent-proto.h format) or writes a TCP stream, and reports
 * its progress and result in the shared page tx (struct tx_shared), which
 * "stats" reads.
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

int parse_addr(const char *ip, const char *port, struct sockaddr_in *sa)
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

void udp_send_child(struct sockaddr_in dst, uint64_t count, uint64_t pps,
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

void tcp_send_child(struct sockaddr_in dst, uint64_t bytes)
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
