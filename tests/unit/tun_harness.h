/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tun_harness.h - what the tunnel transport's unit tests share
 *
 * Theory of operation: a test builds real tunnels (struct vs_tun) on
 * 127.0.0.1, each at a port the kernel picks, sharing a pre-shared key
 * (th_key_path), with a fake upper layer (struct side) that records every
 * callback and plays a destination's handover for one VM (VM_NAME,
 * VM_MAC).  A hostile or scripted peer is a struct fake_peer: a socket
 * with its own GnuTLS session (the shared key, TLS 1.3 with ECDHE-PSK, as
 * a tunnel does) that does the real HELLO/AUTH handshake with the pure
 * codec (tunnel_proto.h) inside it, and then sends whatever the test
 * wants: messages, or raw bytes on the socket (a record changed, forged
 * or replayed, a version-1 HELLO in clear).  th_log_*() keep the log
 * lines of the code under test, for tests that check what it says.  Everything
 * runs on the default GMainContext; run_until() iterates it until a
 * condition holds or a deadline passes, so a bug fails a check instead of
 * hanging the test.  White-box where a test needs it (tunnel_priv.h).
 */
#ifndef VS_TUN_HARNESS_H
#define VS_TUN_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include <gio/gio.h>
#include <gnutls/gnutls.h>

#include "tunnel.h"
#include "tunnel_priv.h"
#include "tunnel_proto.h"

#define VM_NAME		"vm1"
#define FRAME_LEN	64
#define DEADLINE_MS	5000

extern const uint8_t VM_MAC[6];
extern char *th_key_path;		/* the shared key file (th_init()) */
extern uint8_t th_psk[VS_TUN_PSK_MAX];	/* its key */
extern size_t th_psk_len;

/* One tunnel and the fake upper layer above it */
struct side {
	const char *name;
	struct vs_tun *t;
	/* destination: what stream_open answers */
	enum vs_tun_reject verdict;
	uint64_t next_expected;		/* first seq not received (the handover's) */
	struct vs_tun_in *in;
	unsigned int opens;
	GArray *seqs;			/* uint64_t: every new frame, in arrival order */
	uint64_t dups;
	bool frame_bad;			/* a frame's bytes did not match its seq */
	uint64_t timed;			/* new frames that came with an arrival time */
	int64_t last_arrival_us;	/* the last new frame's (0: none) */
	unsigned int in_events[VS_TUN_IN_NUM_EVENTS];
	uint64_t in_event_seq[VS_TUN_IN_NUM_EVENTS];
	guint in_event_frames[VS_TUN_IN_NUM_EVENTS];	/* frames got by then */
	/* source */
	unsigned int out_events[VS_TUN_OUT_NUM_EVENTS];
	unsigned int source_directs;	/* SOURCE_DIRECTs received */
	uint8_t last_direct_af;
	uint8_t last_direct_addr[16];
	/* destination: SOURCE_BARRIERs received, and the last one's */
	unsigned int source_barriers;
	unsigned int want_barriers;	/* a test waits for this many */
	uint64_t last_barrier_seq;
	guint last_barrier_frames;	/* frames got by then */
	uint8_t last_barrier_af;
	uint8_t last_barrier_addr[16];
	enum vs_tun_reject last_reject;
	/* automatic mode: EXPECTs are taken for VM_MAC only, and ask
	 * @retry_stream (if set) to try again, as the handover does */
	unsigned int expects;
	uint8_t last_expect_mac[6];
	struct vs_tun_stream *retry_stream;
	/* peers */
	unsigned int peers_up, peers_down;
	char last_ports[64];
	char last_down_reason[128];
};

/* side_init() - a tunnel named @name, listening on @listen, with a fresh fake layer */
void side_init(struct side *sd, const char *name, const char *listen);
/* side_init_cfg() - the same from a whole configuration (the shared key file
 * unless it has one, or tls) */
void side_init_cfg(struct side *sd, struct vs_tun_cfg *cfg);
void side_fini(struct side *sd);
/* addr_of() - "127.0.0.1:PORT" of @sd's listener (g_free it) */
char *addr_of(struct side *sd);
/* pair_init() - "hosta" and "hostb", each the other's peer */
void pair_init(struct side *a, struct side *b);
/* pair_init_ka() - the same with keepalive @ka ms and timeout @timeout ms */
void pair_init_ka(struct side *a, struct side *b, unsigned int ka, unsigned int timeout);
void pair_fini(struct side *a, struct side *b);
/* drain_loop() - run the loop 50 ms: connections are freed from idle callbacks */
void drain_loop(void);

typedef bool (*cond_fn)(void *arg);
/* run_until() - iterate the default context until @cond(@arg) or @ms pass */
bool run_until(cond_fn cond, void *arg, unsigned int ms);
/* run_for() - iterate the default context for @ms */
void run_for(unsigned int ms);

bool stream_connected(void *arg);	/* struct vs_tun_stream * */
bool stream_down(void *arg);		/* struct vs_tun_stream * */
bool acked_all(void *arg);		/* struct vs_tun_stream * */
bool retained_none(void *arg);		/* struct vs_tun_stream * */

struct count_watch {
	const unsigned int *counter;
	unsigned int n;
};
bool at_least(void *arg);		/* struct count_watch * */

struct want_frames {
	struct side *sd;
	guint n;
};
bool got_frames(void *arg);		/* struct want_frames * */

/* frame_fill() - the FRAME_LEN bytes of frame @seq, as the fake layer checks them */
void frame_fill(uint8_t *buf, uint64_t seq);
/* frame_msg() - FRAME @seq of stream @id from @origin, its bytes
 * (frame_fill()) in @buf, which must outlive @m */
void frame_msg(struct vs_tun_msg *m, uint8_t buf[FRAME_LEN], uint32_t id, uint64_t seq,
	       enum vs_tun_origin origin);
/* push_frames() - push @n frames (the next seqs) into @s */
void push_frames(struct vs_tun_stream *s, unsigned int n);
/* push_frames_len() - the same, @len bytes each (>= FRAME_LEN; zeroes
 * after the first FRAME_LEN) */
void push_frames_len(struct vs_tun_stream *s, unsigned int n, uint32_t len);
/* check_seqs() - @sd got every seq 1..@n once, in order, with the right bytes */
void check_seqs(struct side *sd, uint64_t n);
/* out_conn() - the connection @a dialled to @peer */
struct tun_conn *out_conn(struct side *a, const char *peer);
/* cut() - reset @c as a cable pull would not: both ends see it go */
void cut(struct tun_conn *c);

/* th_init() - write the shared key file; th_fini() removes it */
void th_init(void);
void th_fini(void);

/* --- log lines -------------------------------------------------------------- */

/* th_log_clear() - forget the log lines kept so far */
void th_log_clear(void);
/* th_log_find() - the first line kept since th_log_clear() holding @needle, or NULL */
const char *th_log_find(const char *needle);

/* --- a scripted peer (tun_fake.c) -------------------------------------------- */

struct fake_peer {
	GSocket *sock;
	gnutls_session_t tls;			/* NULL: a version-1 peer in clear */
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
	bool capture;				/* records go to @wire, not the socket */
	GByteArray *wire;
	int tls_err;				/* why the session ended (EOF: 0) */
	struct vs_tun_decoder dec;
	struct vs_tun_auth auth;
	GByteArray *out;
	bool eof;
	uint8_t rxbuf[16384];
	size_t rx_len, rx_off;
};

/* fp_connect() - dial @port as node @name: TLS, then HELLO/AUTH */
void fp_connect(struct fake_peer *fp, const char *name, guint16 port);
/* fp_connect_ext() - the same, offering the HELLO extensions @ext
 * (VS_TUN_HELLO_EXT_*) */
void fp_connect_ext(struct fake_peer *fp, const char *name, guint16 port, uint32_t ext);
/* fp_connect_tls() - dial @port and complete TLS only (nothing sent inside) */
void fp_connect_tls(struct fake_peer *fp, guint16 port);
/* fp_connect_tls_prio() - dial @port and try TLS with the shared key under
 * GnuTLS priority string @prio; the handshake's result (0 or a GnuTLS error) */
int fp_connect_tls_prio(struct fake_peer *fp, guint16 port, const char *prio);
/* fp_connect_raw() - dial @port, no TLS, nothing sent */
void fp_connect_raw(struct fake_peer *fp, guint16 port);
/* fp_connect_raw_from() - the same from @src (a 127.0.0.0/8 address) */
void fp_connect_raw_from(struct fake_peer *fp, const char *src, guint16 port);
/* fp_listen() - a listener for a tunnel to dial; returns its port */
guint16 fp_listen(GSocket **listener);
/* fp_accept() - take the tunnel's connection on @listener, as node @name, and
 * complete TLS and HELLO/AUTH */
void fp_accept(struct fake_peer *fp, GSocket *listener, const char *name);
/* fp_accept_ext() - the same, offering the HELLO extensions @ext */
void fp_accept_ext(struct fake_peer *fp, GSocket *listener, const char *name, uint32_t ext);
/* fp_accept_raw() - take the tunnel's connection on @listener, no TLS */
void fp_accept_raw(struct fake_peer *fp, GSocket *listener);
/* fp_v1_hello() - play a version-1 shim in clear: send its HELLO as node @name */
void fp_v1_hello(struct fake_peer *fp, const char *name, enum vs_tun_role role);
/* fp_send() - send one message (inside TLS if the peer has it) */
void fp_send(struct fake_peer *fp, const struct vs_tun_msg *m);
/* fp_seal() - the TLS record(s) that would carry @m, not sent (g_byte_array_unref) */
GByteArray *fp_seal(struct fake_peer *fp, const struct vs_tun_msg *m);
/* fp_send_raw() - put @len bytes on the socket as they are */
void fp_send_raw(struct fake_peer *fp, const void *buf, size_t len);
/* fp_send_vm_open() - VM_OPEN of stream @id for VM_NAME and VM_MAC, from @first_seq */
void fp_send_vm_open(struct fake_peer *fp, uint32_t id, uint64_t first_seq);
/* fp_open_stream() - fp_send_vm_open(), then wait for VM_ACCEPT and check
 * that it resumes at @want_next */
void fp_open_stream(struct fake_peer *fp, uint32_t id, uint64_t first_seq, uint64_t want_next);
/* fp_send_frame() - FRAME @seq of stream @id from @origin (frame_msg()) */
void fp_send_frame(struct fake_peer *fp, uint32_t id, uint64_t seq, enum vs_tun_origin origin);
/* fp_recv() - the next message the tunnel sent, running the loop meanwhile;
 * false on EOF, a TLS error (fp->tls_err) or timeout */
bool fp_recv(struct fake_peer *fp, struct vs_tun_msg *m, unsigned int ms);
/* fp_recv_type() - the next message of @type, skipping others (such as
 * ACKs); false as fp_recv() */
bool fp_recv_type(struct fake_peer *fp, enum vs_tun_type type, struct vs_tun_msg *m);
/* fp_expect_error() - skip messages until an ERROR; its code, or -1 */
int fp_expect_error(struct fake_peer *fp, unsigned int ms);
/* fp_wait_eof() - run the loop until the tunnel closed the connection */
bool fp_wait_eof(struct fake_peer *fp, unsigned int ms);
void fp_close(struct fake_peer *fp);

/* --- an in-process TCP relay that can go silent ---------------------------- */

/*
 * struct relay - forwards every connection it accepts to 127.0.0.1:@target,
 * both ways.  relay_partition() makes it a silent partition: the bytes of
 * every connection open now, and of every one accepted until
 * relay_heal(), are read and dropped, and nothing is closed, as a network
 * that loses packets.  Connections accepted after relay_heal() forward
 * again (those of the partition stay dead).
 */
struct relay;
struct relay *relay_new(guint16 target);
guint16 relay_port(const struct relay *r);
void relay_partition(struct relay *r);
void relay_heal(struct relay *r);
void relay_free(struct relay *r);

#endif /* VS_TUN_HARNESS_H */
