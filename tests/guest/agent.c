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
 * Built statically (build-guest.sh): gcc -static -O2 -Wall -Werror -o agent
 *   agent.c agent_udp.c agent_tcp.c agent_send.c agent_ctl.c
 * Prints "VSHIM-GUEST-READY" on stdout once all sockets listen.
 *
 * Theory of operation: main() binds the three sockets and polls them in one
 * thread, handing each ready socket to its service: agent_udp.c (the UDP
 * sink), agent_ctl.c (control requests), agent_tcp.c (the TCP sink);
 * agent.h says what they share.
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

struct tx_shared *tx;
uint64_t start_us;

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_us(void)
{
	return now_ns() / 1000;
}

void die(const char *what)
{
	fprintf(stderr, "agent: %s: %s\n", what, strerror(errno));
	exit(1);
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
	struct pollfd pfd[4 + MAX_TCP_CONNS];
	int one = 1, sink, sink2, ctl, lfd;

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
	sink2 = udp_socket(VSHIM_PORT_UDP_SINK2, rcvbuf_env());
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
		pfd[n++] = (struct pollfd){ .fd = sink2, .events = POLLIN };
		for (int i = 0; i < MAX_TCP_CONNS; i++) {
			if (conns[i].fd >= 0) {
				map[n - 4] = i;
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
		if (pfd[3].revents)
			udp_sink_drain(sink2, buf);
		for (int j = 4; j < n; j++)
			if (pfd[j].revents)
				tcp_read(&conns[map[j - 4]], buf);
	}
}
