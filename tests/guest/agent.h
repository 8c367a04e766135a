/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent.h - what the files of the test guest's agent share
 *
 * Theory of operation: the agent (agent.c's main()) is one single-threaded
 * poll loop over the sockets of its three services, one file each: the UDP
 * sink (agent_udp.c: per stream accounting, the arrival timeline), the TCP
 * sink (agent_tcp.c) and the control channel (agent_ctl.c: text commands,
 * their replies and the replay cache).  The senders of the "send" and
 * "tcpsend" commands (agent_send.c) are forked children that report through
 * the shared page tx.  The counters below are the services' state that the
 * control channel reports ("stats") and resets ("reset").  Wire format:
 * agent-proto.h.
 */
#ifndef VSHIM_AGENT_H
#define VSHIM_AGENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agent-proto.h"

#define MAX_TCP_CONNS 8
#define RX_BUF 65536

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

/* The UDP sink's (agent_udp.c) */
extern struct stream streams[VSHIM_MAX_STREAMS];
extern uint64_t g_bad_magic, g_short, g_bad_stream;
/* The TCP sink's (agent_tcp.c) */
extern struct tcp_conn conns[MAX_TCP_CONNS];
extern struct tcp_sink tcps;
/* The senders' page, shared with the children (agent_send.c, mapped by main()) */
extern struct tx_shared *tx;
/* When the agent started (agent.c) */
extern uint64_t start_us;
/* Where the control request being answered came from (agent_ctl.c) */
extern struct sockaddr_storage ctl_from_addr;
extern socklen_t ctl_from_len;

/* agent.c */
uint64_t now_ns(void);
uint64_t now_us(void);
void die(const char *what);

/* agent_udp.c */
void stream_reset(struct stream *s);
void udp_sink_drain(int fd, uint8_t *buf);
uint64_t stream_lost_since_first(const struct stream *s);
uint64_t stream_lost(const struct stream *s);

/* agent_tcp.c */
void tcp_accept(int lfd);
void tcp_read(struct tcp_conn *c, uint8_t *buf);

/* agent_send.c */
int parse_addr(const char *ip, const char *port, struct sockaddr_in *sa);
void udp_send_child(struct sockaddr_in dst, uint64_t count, uint64_t pps,
		    uint32_t stream, size_t size, uint64_t start_seq);
void tcp_send_child(struct sockaddr_in dst, uint64_t bytes);

/* agent_ctl.c: answer the request @req (@reqlen bytes, room for one more)
 * on the control socket @fd */
void handle_ctl(int fd, char *req, size_t reqlen);

#endif /* VSHIM_AGENT_H */
