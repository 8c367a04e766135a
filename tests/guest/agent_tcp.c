/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent_tcp.c - the test guest agent's TCP sink (port VSHIM_PORT_TCP_SINK)
 *
 * Theory of operation: up to MAX_TCP_CONNS connections at once, each read
 * as it becomes ready; byte k of a connection must be k % VSHIM_TCP_MOD
 * (agent-proto.h).  struct tcp_sink counts connections, bytes, corrupted
 * bytes and the largest gap between reads, for the "stats" command.
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

struct tcp_conn conns[MAX_TCP_CONNS];
struct tcp_sink tcps;

void tcp_accept(int lfd)
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

void tcp_read(struct tcp_conn *c, uint8_t *buf)
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
