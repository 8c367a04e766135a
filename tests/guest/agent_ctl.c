/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * agent_ctl.c - the test guest agent's control channel (UDP port VSHIM_PORT_CTL)
 *
 * Theory of operation: one text request datagram, one text reply datagram
 * (agent-proto.h lists the commands).  A request "#<id> ..." is answered
 * once: the reply is kept in a small cache (REPLAY_SLOTS) and a repeated id
 * gets the same reply again without running the command twice, so the host
 * may retry a lost datagram safely.  Replies are built in an sbuf, cut at
 * CTL_REPLY_MAX bytes (one datagram).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define CTL_REPLY_MAX 65000
#define REPLAY_SLOTS 8

struct replay {
	char id[40];
	char *reply;
	size_t len;
};

struct sockaddr_storage ctl_from_addr;
socklen_t ctl_from_len;
static uint64_t g_ctl_requests;
static struct replay replays[REPLAY_SLOTS];
static unsigned replay_next;

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

/*
 * "kfile NAME": the text of one of the guest kernel's network counter files,
 * for a test that must place a frame the agent never received (which layer
 * dropped it).  Only the files below, by short name; the reply is cut at
 * CTL_REPLY_MAX like any other.
 */
static const char *const kfiles[][2] = {
	{ "snmp", "/proc/net/snmp" },		/* Ip, Icmp, Tcp, Udp MIBs */
	{ "netstat", "/proc/net/netstat" },	/* TcpExt, IpExt */
	{ "dev", "/proc/net/dev" },		/* per interface rx/tx, errs, drop */
	{ "softnet", "/proc/net/softnet_stat" },	/* per CPU backlog drops */
	{ "udp", "/proc/net/udp" },		/* per socket rx queue and drops */
};

static void cmd_kfile(struct sbuf *b, char **argv, int argc)
{
	char buf[4096];
	const char *path = NULL;
	size_t n;
	FILE *f;

	for (size_t i = 0; argc == 2 && i < sizeof(kfiles) / sizeof(kfiles[0]); i++)
		if (!strcmp(argv[1], kfiles[i][0]))
			path = kfiles[i][1];
	if (!path) {
		sb_printf(b, "err usage: kfile snmp|netstat|dev|softnet|udp");
		return;
	}
	f = fopen(path, "r");
	if (!f) {
		sb_printf(b, "err %s: %s", path, strerror(errno));
		return;
	}
	while ((n = fread(buf, 1, sizeof(buf) - 1, f)) > 0) {
		buf[n] = 0;
		sb_printf(b, "%s", buf);
	}
	fclose(f);
}

/*
 * "nicstats": eth0's driver statistics (what `ethtool -S eth0` prints; for
 * virtio-net the per-queue packets, drops, kicks), one "name value" a line,
 * read with the ETHTOOL_GSSET_INFO, ETHTOOL_GSTRINGS and ETHTOOL_GSTATS
 * ioctls (the guest has no ethtool binary).
 */
static void cmd_nicstats(struct sbuf *b)
{
	struct {
		struct ethtool_sset_info hdr;
		uint32_t len;
	} sset = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ull << ETH_SS_STATS } };
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *vals = NULL;
	struct ifreq ifr;
	uint32_t n;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	ifr.ifr_data = (void *)&sset;
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) < 0 || !sset.hdr.sset_mask) {
		sb_printf(b, "err ETHTOOL_GSSET_INFO: %s", strerror(errno));
		goto out;
	}
	n = sset.len;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	vals = calloc(1, sizeof(*vals) + (size_t)n * sizeof(uint64_t));
	if (!names || !vals) {
		sb_printf(b, "err no memory");
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	ifr.ifr_data = (void *)names;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		sb_printf(b, "err ETHTOOL_GSTRINGS: %s", strerror(errno));
		goto out;
	}
	vals->cmd = ETHTOOL_GSTATS;
	vals->n_stats = n;
	ifr.ifr_data = (void *)vals;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		sb_printf(b, "err ETHTOOL_GSTATS: %s", strerror(errno));
		goto out;
	}
	for (uint32_t i = 0; i < n && i < vals->n_stats; i++)
		sb_printf(b, "%.*s %" PRIu64 "\n", ETH_GSTRING_LEN,
			  (const char *)names->data + (size_t)i * ETH_GSTRING_LEN,
			  (uint64_t)vals->data[i]);
out:
	free(names);
	free(vals);
	if (fd >= 0)
		close(fd);
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

/*
 * "channels [N]": eth0's combined channel count (for virtio-net the queue
 * pairs the guest uses; `ethtool -l eth0`) with ETHTOOL_GCHANNELS, set to
 * N first with ETHTOOL_SCHANNELS when given (`ethtool -L eth0 combined N`:
 * the driver tells the device through its control queue, and QEMU enables
 * or disables the vhost-user vrings).  Reply "combined CUR max MAX" as of
 * after the change, or "err ...".
 */
static void cmd_channels(struct sbuf *b, char **argv, int argc)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	uint64_t want = 0;
	int fd;

	if (argc > 2 || (argc == 2 && (parse_u64(argv[1], &want) || want == 0))) {
		sb_printf(b, "err usage: channels [N] (N>0)");
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	ifr.ifr_data = (void *)&ch;
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		sb_printf(b, "err ETHTOOL_GCHANNELS: %s", strerror(errno));
		goto out;
	}
	if (argc == 2) {
		ch.cmd = ETHTOOL_SCHANNELS;
		ch.combined_count = (uint32_t)want;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			sb_printf(b, "err ETHTOOL_SCHANNELS %" PRIu64 " (max %u): %s", want,
				  ch.max_combined, strerror(errno));
			goto out;
		}
		memset(&ch, 0, sizeof(ch));
		ch.cmd = ETHTOOL_GCHANNELS;
		if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
			sb_printf(b, "err ETHTOOL_GCHANNELS: %s", strerror(errno));
			goto out;
		}
	}
	sb_printf(b, "combined %u max %u", ch.combined_count, ch.max_combined);
out:
	if (fd >= 0)
		close(fd);
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

void handle_ctl(int fd, char *req, size_t reqlen)
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
	else if (!strcmp(argv[0], "kfile"))
		cmd_kfile(&b, argv, argc);
	else if (!strcmp(argv[0], "nicstats") && argc == 1)
		cmd_nicstats(&b);
	else if (!strcmp(argv[0], "channels"))
		cmd_channels(&b, argv, argc);
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
