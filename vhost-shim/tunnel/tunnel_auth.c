/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_auth.c - tunnel handshake, pre-shared key file, nonces
 *
 * Theory of operation: see tunnel_proto.h for the contract and
 * docs/tunnel-protocol.md for the transcript.  struct vs_tun_auth is the
 * handshake of one connection: HELLO each way, then AUTH each way, then a
 * gate that hands the caller every other message only once the peer has
 * proven it holds the pre-shared key.  The AUTH is HMAC-SHA256 over a
 * transcript in which every variable item is length-prefixed; it is
 * compared in constant time, and secrets on the stack are wiped after use.
 *
 * The handshake has one setter, auth_set_state(), checked against
 * auth_next[][] and logged as "OLD -> NEW".  Its errors are not logged
 * here: the caller reads vs_tun_auth_errmsg() and logs once.
 *
 * The key file and the nonces are here too, so that everything secret is
 * in one file: vs_tun_load_psk() refuses a key file anyone else can read
 * and never echoes its content, and vs_tun_random_nonce() reads the
 * kernel's CSPRNG.
 *
 * Security model: everything vs_tun_auth_consume() sees comes from the
 * network, before or after authentication.  A peer's HELLO is checked
 * field by field (versions, role, nonce, name) before it is used, nothing
 * but HELLO/AUTH/ERROR is accepted before AUTHENTICATED, and no peer
 * input asserts, aborts or logs an error here.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "tunnel_proto.h"
#include "util.h"

const char *const vs_tun_auth_state_names[VS_TUN_AUTH_NUM_STATES] = {
	[VS_TUN_AUTH_INIT] = "init",
	[VS_TUN_AUTH_HELLO_SENT] = "hello-sent",
	[VS_TUN_AUTH_AUTH_SENT] = "auth-sent",
	[VS_TUN_AUTH_AUTHENTICATED] = "authenticated",
	[VS_TUN_AUTH_FAILED] = "failed",
};
static_assert(G_N_ELEMENTS(vs_tun_auth_state_names) == VS_TUN_AUTH_NUM_STATES, "state names");

/* ---- Handshake --------------------------------------------------------- */

/* Allowed transitions; every state may fail */
static const bool auth_next[VS_TUN_AUTH_NUM_STATES][VS_TUN_AUTH_NUM_STATES] = {
	[VS_TUN_AUTH_INIT] = {
		[VS_TUN_AUTH_HELLO_SENT] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_HELLO_SENT] = {
		[VS_TUN_AUTH_AUTH_SENT] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_AUTH_SENT] = {
		[VS_TUN_AUTH_AUTHENTICATED] = true,
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_AUTHENTICATED] = {
		[VS_TUN_AUTH_FAILED] = true,
	},
	[VS_TUN_AUTH_FAILED] = {
		[VS_TUN_AUTH_FAILED] = true,
	},
};

static const char *auth_state_name(unsigned int state)
{
	return state < VS_TUN_AUTH_NUM_STATES ? vs_tun_auth_state_names[state] : "?";
}

/* The only setter of a->state */
static void auth_set_state(struct vs_tun_auth *a, enum vs_tun_auth_state next)
{
	enum vs_tun_auth_state old = a->state;

	/* only this file decides transitions: an illegal one is our bug */
	assert(old < VS_TUN_AUTH_NUM_STATES && next < VS_TUN_AUTH_NUM_STATES);
	assert(auth_next[old][next]);
	a->state = next;
	if (old != next)
		vs_log(TUN, DEBUG, a->peer_name[0] ? a->peer_name : NULL, "handshake: %s -> %s",
		       auth_state_name(old), auth_state_name(next));
}

static enum vs_tun_err auth_fail(struct vs_tun_auth *a, enum vs_tun_err err,
				 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum vs_tun_err auth_fail(struct vs_tun_auth *a, enum vs_tun_err err,
				 const char *fmt, ...)
{
	va_list ap;

	a->err = err;
	va_start(ap, fmt);
	g_vsnprintf(a->errmsg, sizeof(a->errmsg), fmt, ap);
	va_end(ap);
	auth_set_state(a, VS_TUN_AUTH_FAILED);
	return err;
}

static const char *auth_role_name(unsigned int role)
{
	return role == VS_TUN_ROLE_INITIATOR ? "initiator" : "responder";
}

/* Append a length-prefixed name to the MAC input */
static size_t auth_put_name(uint8_t *p, const char *name)
{
	size_t n = strlen(name);

	p[0] = (uint8_t)n;
	memcpy(p + 1, name, n);
	return 1 + n;
}

static size_t auth_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/*
 * The AUTH of one side, as docs/tunnel-protocol.md defines it:
 *   HMAC-SHA256(psk, u8 20 || "vhost-shim tunnel v1" || u8 sender_role ||
 *               sender_nonce[32] || receiver_nonce[32] ||
 *               u8 len || sender_name || u8 len || receiver_name ||
 *               be16 sender_version || be16 sender_compat ||
 *               be16 receiver_version || be16 receiver_compat)
 * Every variable item is length-prefixed, so no two transcripts share an
 * input.  The role byte stops a reflected AUTH, the names stop a node being
 * used as an oracle for itself across sessions (peer name != ours), the
 * receiver's fresh nonce stops replay, the versions stop a downgrade.
 * @mine: true for our AUTH, false for the one we expect from the peer.
 */
static void auth_mac(const struct vs_tun_auth *a, bool mine, uint8_t mac[VS_TUN_MAC_LEN])
{
	uint8_t in[1 + VS_TUN_AUTH_LABEL_LEN + 1 + 2 * VS_TUN_NONCE_LEN +
		   2 * (1 + VS_TUN_NODE_NAME_MAX) + 4 * 2];
	size_t off = 0;
	gsize mac_len = VS_TUN_MAC_LEN;
	GHmac *h;

	in[off++] = VS_TUN_AUTH_LABEL_LEN;
	memcpy(in + off, VS_TUN_AUTH_LABEL, VS_TUN_AUTH_LABEL_LEN);
	off += VS_TUN_AUTH_LABEL_LEN;
	/* the peer's role is the opposite of ours (checked on its HELLO) */
	in[off++] = (uint8_t)(mine ? a->role : !a->role);
	memcpy(in + off, mine ? a->my_nonce : a->peer_nonce, VS_TUN_NONCE_LEN);
	off += VS_TUN_NONCE_LEN;
	memcpy(in + off, mine ? a->peer_nonce : a->my_nonce, VS_TUN_NONCE_LEN);
	off += VS_TUN_NONCE_LEN;
	off += auth_put_name(in + off, mine ? a->my_name : a->peer_name);
	off += auth_put_name(in + off, mine ? a->peer_name : a->my_name);
	off += auth_put_be16(in + off, mine ? a->my_version : a->peer_version);
	off += auth_put_be16(in + off, mine ? a->my_compat : a->peer_compat);
	off += auth_put_be16(in + off, mine ? a->peer_version : a->my_version);
	off += auth_put_be16(in + off, mine ? a->peer_compat : a->my_compat);
	assert(off <= sizeof(in));

	h = g_hmac_new(G_CHECKSUM_SHA256, a->psk, a->psk_len);
	g_hmac_update(h, in, off);
	g_hmac_get_digest(h, mac, &mac_len);
	g_hmac_unref(h);
	assert(mac_len == VS_TUN_MAC_LEN);
}

/* Compare secrets without a data-dependent early exit */
static bool auth_equal_ct(const uint8_t *x, const uint8_t *y, size_t n)
{
	volatile uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}

enum vs_tun_err vs_tun_auth_init(struct vs_tun_auth *a, enum vs_tun_role role,
				 const uint8_t *psk, size_t psk_len, const char *my_name,
				 const uint8_t nonce[VS_TUN_NONCE_LEN])
{
	memset(a, 0, sizeof(*a));
	a->state = VS_TUN_AUTH_INIT;
	a->role = role;
	a->my_version = VS_TUN_VERSION;
	a->my_compat = VS_TUN_COMPAT_VERSION;
	if (role >= VS_TUN_NUM_ROLES)
		return auth_fail(a, VS_TUN_ERR_BAD_FIELD, "role %u unknown", (unsigned int)role);
	if (!psk || psk_len < VS_TUN_PSK_MIN || psk_len > VS_TUN_PSK_MAX)
		return auth_fail(a, VS_TUN_ERR_BAD_KEY, "pre-shared key of %zu bytes, needs %d..%d",
				 psk ? psk_len : 0, VS_TUN_PSK_MIN, VS_TUN_PSK_MAX);
	if (!vs_tun_node_name_valid(my_name))
		return auth_fail(a, VS_TUN_ERR_BAD_NAME,
				 "node name must be 1-%d characters of [A-Za-z0-9._-]",
				 VS_TUN_NODE_NAME_MAX);
	memcpy(a->psk, psk, psk_len);
	a->psk_len = psk_len;
	g_strlcpy(a->my_name, my_name, sizeof(a->my_name));
	memcpy(a->my_nonce, nonce, VS_TUN_NONCE_LEN);
	return VS_TUN_OK;
}

enum vs_tun_err vs_tun_auth_start(struct vs_tun_auth *a, GByteArray *out)
{
	struct vs_tun_msg m = { .type = VS_TUN_MSG_HELLO };

	if (a->state == VS_TUN_AUTH_FAILED)
		return a->err;
	if (a->state != VS_TUN_AUTH_INIT)
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "HELLO already sent");
	m.u.hello.version = a->my_version;
	m.u.hello.compat_version = a->my_compat;
	m.u.hello.role = (uint8_t)a->role;
	m.u.hello.ext = a->my_ext;
	memcpy(m.u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN);
	g_strlcpy(m.u.hello.name, a->my_name, sizeof(m.u.hello.name));
	if (!vs_tun_encode(out, &m))	/* init validated every field */
		return auth_fail(a, VS_TUN_ERR_INTERNAL, "cannot encode our HELLO");
	auth_set_state(a, VS_TUN_AUTH_HELLO_SENT);
	return VS_TUN_OK;
}

static enum vs_tun_err auth_peer_hello(struct vs_tun_auth *a, const struct vs_tun_msg *m,
				       GByteArray *out)
{
	uint16_t pv = m->u.hello.version, pc = m->u.hello.compat_version;
	uint8_t mac[VS_TUN_MAC_LEN];
	size_t n;

	if (pc > pv)
		return auth_fail(a, VS_TUN_ERR_BAD_VERSION,
				 "peer '%s' announces compat_version %u above its version %u",
				 m->u.hello.name, pc, pv);
	if (pv < a->my_compat || a->my_version < pc)
		return auth_fail(a, VS_TUN_ERR_BAD_VERSION,
				 "peer '%s' speaks versions %u..%u, we speak %u..%u",
				 m->u.hello.name, pc, pv, a->my_compat, a->my_version);
	if (m->u.hello.role >= VS_TUN_NUM_ROLES)
		return auth_fail(a, VS_TUN_ERR_BAD_FIELD, "peer role %u unknown", m->u.hello.role);
	if (m->u.hello.role == a->role)
		return auth_fail(a, VS_TUN_ERR_REFLECTED, "peer '%s' claims our role (%s)",
				 m->u.hello.name, auth_role_name(a->role));
	if (!memcmp(m->u.hello.nonce, a->my_nonce, VS_TUN_NONCE_LEN))
		return auth_fail(a, VS_TUN_ERR_REFLECTED, "peer HELLO echoes our nonce");
	if (!vs_tun_node_name_valid(m->u.hello.name))
		return auth_fail(a, VS_TUN_ERR_BAD_NAME, "peer node name invalid");
	if (!strcmp(m->u.hello.name, a->my_name))
		return auth_fail(a, VS_TUN_ERR_REFLECTED,
				 "peer uses our own node name '%s': node names must be unique",
				 a->my_name);

	a->peer_version = pv;
	a->peer_compat = pc;
	a->peer_ext = m->u.hello.ext;
	a->version = MIN(pv, a->my_version);
	memcpy(a->peer_nonce, m->u.hello.nonce, VS_TUN_NONCE_LEN);
	g_strlcpy(a->peer_name, m->u.hello.name, sizeof(a->peer_name));

	auth_mac(a, true, mac);
	n = vs_tun_encode_auth(out, mac);
	explicit_bzero(mac, sizeof(mac));
	if (!n)
		return auth_fail(a, VS_TUN_ERR_INTERNAL, "cannot encode our AUTH");
	auth_set_state(a, VS_TUN_AUTH_AUTH_SENT);
	return VS_TUN_OK;
}

static enum vs_tun_err auth_peer_auth(struct vs_tun_auth *a, const struct vs_tun_msg *m)
{
	uint8_t want[VS_TUN_MAC_LEN];
	bool ok;

	auth_mac(a, false, want);
	ok = auth_equal_ct(want, m->u.auth.mac, VS_TUN_MAC_LEN);
	explicit_bzero(want, sizeof(want));
	if (!ok)
		return auth_fail(a, VS_TUN_ERR_AUTH_FAIL,
				 "AUTH from '%s' does not verify: wrong pre-shared key?",
				 a->peer_name);
	auth_set_state(a, VS_TUN_AUTH_AUTHENTICATED);
	return VS_TUN_OK;
}

enum vs_tun_err vs_tun_auth_consume(struct vs_tun_auth *a, const struct vs_tun_msg *msg,
				    GByteArray *out, bool *deliver)
{
	enum vs_tun_type t = msg->type;

	*deliver = false;
	if (a->state == VS_TUN_AUTH_FAILED)
		return a->err;
	/* a peer's last words, e.g. BAD_VERSION, are worth logging */
	if (t == VS_TUN_MSG_ERROR) {
		*deliver = true;
		return VS_TUN_OK;
	}
	switch (a->state) {
	case VS_TUN_AUTH_INIT:
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "%s received before our HELLO was sent",
				 vs_tun_type_name(t));
	case VS_TUN_AUTH_HELLO_SENT:
		if (t == VS_TUN_MSG_HELLO)
			return auth_peer_hello(a, msg, out);
		break;
	case VS_TUN_AUTH_AUTH_SENT:
		if (t == VS_TUN_MSG_AUTH)
			return auth_peer_auth(a, msg);
		break;
	case VS_TUN_AUTH_AUTHENTICATED:
		if (t == VS_TUN_MSG_HELLO || t == VS_TUN_MSG_AUTH)
			return auth_fail(a, VS_TUN_ERR_UNEXPECTED,
					 "%s after the handshake", vs_tun_type_name(t));
		*deliver = true;
		return VS_TUN_OK;
	case VS_TUN_AUTH_FAILED:
	case VS_TUN_AUTH_NUM_STATES:
		break;
	}
	if (t == VS_TUN_MSG_HELLO || t == VS_TUN_MSG_AUTH)
		return auth_fail(a, VS_TUN_ERR_UNEXPECTED, "%s out of order (state %s)",
				 vs_tun_type_name(t), auth_state_name(a->state));
	return auth_fail(a, VS_TUN_ERR_NOT_AUTHENTICATED, "%s before the handshake completed",
			 vs_tun_type_name(t));
}

const char *vs_tun_auth_errmsg(const struct vs_tun_auth *a)
{
	return a->errmsg;
}

void vs_tun_auth_clear(struct vs_tun_auth *a)
{
	explicit_bzero(a->psk, sizeof(a->psk));
	explicit_bzero(a->my_nonce, sizeof(a->my_nonce));
	explicit_bzero(a->peer_nonce, sizeof(a->peer_nonce));
	a->psk_len = 0;
	if (a->state != VS_TUN_AUTH_FAILED)
		auth_fail(a, VS_TUN_ERR_SHUTDOWN, "handshake state cleared");
}

/* ---- Key file and nonces ----------------------------------------------- */

/* Decode hex @text (already trimmed) into @psk; never echoes the text */
static gboolean psk_parse_hex(const char *path, const char *text, size_t n,
			      uint8_t *psk, size_t *len, GError **error)
{
	size_t i;

	if (n < 2 * VS_TUN_PSK_MIN || n > 2 * VS_TUN_PSK_MAX || n % 2) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: %zu hex digits, needs an even number in %d..%d "
			    "(e.g. openssl rand -hex 32)", path, n, 2 * VS_TUN_PSK_MIN,
			    2 * VS_TUN_PSK_MAX);
		return FALSE;
	}
	for (i = 0; i < n; i += 2) {
		int hi = g_ascii_xdigit_value(text[i]);
		int lo = g_ascii_xdigit_value(text[i + 1]);

		if (hi < 0 || lo < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
				    "tunnel key %s: not hexadecimal (character %zu)", path,
				    hi < 0 ? i + 1 : i + 2);
			return FALSE;
		}
		psk[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return TRUE;
}

static gboolean psk_read(const char *path, char *text, size_t size, size_t *n, GError **error)
{
	vs_autoclose int fd = -1;
	struct stat st;

	/* O_NONBLOCK: a FIFO must not hang us before fstat() refuses it */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY, "tunnel key %s: %s",
			    path, g_strerror(errno));
		return FALSE;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: not a regular file", path);
		return FALSE;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
			    "tunnel key %s: accessible by group or others (mode %04o); "
			    "run: chmod 600 %s", path, (unsigned int)(st.st_mode & 07777), path);
		return FALSE;
	}
	*n = 0;
	for (;;) {
		ssize_t r = read(fd, text + *n, size - *n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY, "tunnel key %s: %s",
				    path, g_strerror(errno));
			return FALSE;
		}
		if (r == 0)
			break;
		*n += (size_t)r;
		if (*n == size) {	/* size is VS_TUN_PSK_FILE_MAX + 1 */
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_BAD_KEY,
				    "tunnel key %s: larger than %d bytes", path,
				    VS_TUN_PSK_FILE_MAX);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean vs_tun_load_psk(const char *path, uint8_t *psk, size_t *len, GError **error)
{
	char text[VS_TUN_PSK_FILE_MAX + 1];
	size_t n = 0, start = 0, end;
	gboolean ok = FALSE;

	*len = 0;
	if (psk_read(path, text, sizeof(text), &n, error)) {
		end = n;
		while (start < end && g_ascii_isspace(text[start]))
			start++;
		while (end > start && g_ascii_isspace(text[end - 1]))
			end--;
		ok = psk_parse_hex(path, text + start, end - start, psk, len, error);
	}
	explicit_bzero(text, sizeof(text));
	if (!ok) {
		explicit_bzero(psk, VS_TUN_PSK_MAX);
		*len = 0;
	}
	return ok;
}

gboolean vs_tun_random_nonce(uint8_t *nonce, GError **error)
{
	size_t off = 0;

	while (off < VS_TUN_NONCE_LEN) {
		ssize_t r = getrandom(nonce + off, VS_TUN_NONCE_LEN - off, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			g_set_error(error, VS_TUN_ERROR, VS_TUN_ERR_INTERNAL, "getrandom: %s",
				    g_strerror(errno));
			return FALSE;
		}
		off += (size_t)r;
	}
	return TRUE;
}
