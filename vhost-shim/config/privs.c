/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * privs.c - capabilities the uplinks need, and those the process has
 *
 * Theory of operation: see privs.h.  The requirements below were measured
 * by running the daemon as an unprivileged user with setpriv(1) and each
 * subset of capabilities (docs/hardening.md, "Least privilege"):
 *
 *   net_tap        CAP_NET_ADMIN: TUNSETIFF creates the tap, and the PMD
 *                  configures it (flags, MAC, qdiscs) over ioctl/netlink;
 *                  a tap pre-created for the user does not help.
 *   net_af_packet  CAP_NET_RAW for the AF_PACKET socket, and CAP_NET_ADMIN
 *                  because starting the ethdev restores the MAC address
 *                  and promiscuous mode (SIOCSIFHWADDR, SIOCSIFFLAGS).
 *   net_virtio_user  nothing: a unix socket, file permissions decide.
 *
 * EAL itself needs none with --no-huge (IOVA as VA, runtime directory
 * under $XDG_RUNTIME_DIR).  Drivers are matched by the vdev name prefix,
 * the way the vdev bus matches them, including the eth_ aliases.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privs.h"

#define CAP_BIT(c) ((vs_caps)1 << (c))

static const struct {
	const char *prefix;
	vs_caps caps;
} priv_uplinks[] = {
	{ "net_tap", CAP_BIT(CAP_NET_ADMIN) },
	{ "eth_tap", CAP_BIT(CAP_NET_ADMIN) },
	{ "net_af_packet", CAP_BIT(CAP_NET_RAW) | CAP_BIT(CAP_NET_ADMIN) },
	{ "eth_af_packet", CAP_BIT(CAP_NET_RAW) | CAP_BIT(CAP_NET_ADMIN) },
	{ "net_virtio_user", 0 },
	{ "virtio_user", 0 },
};

#define PRIV_NAME(c) [c] = #c
static const char *const priv_names[] = {
	PRIV_NAME(CAP_CHOWN), PRIV_NAME(CAP_DAC_OVERRIDE), PRIV_NAME(CAP_DAC_READ_SEARCH),
	PRIV_NAME(CAP_FOWNER), PRIV_NAME(CAP_FSETID), PRIV_NAME(CAP_KILL),
	PRIV_NAME(CAP_SETGID), PRIV_NAME(CAP_SETUID), PRIV_NAME(CAP_SETPCAP),
	PRIV_NAME(CAP_LINUX_IMMUTABLE), PRIV_NAME(CAP_NET_BIND_SERVICE),
	PRIV_NAME(CAP_NET_BROADCAST), PRIV_NAME(CAP_NET_ADMIN), PRIV_NAME(CAP_NET_RAW),
	PRIV_NAME(CAP_IPC_LOCK), PRIV_NAME(CAP_IPC_OWNER), PRIV_NAME(CAP_SYS_MODULE),
	PRIV_NAME(CAP_SYS_RAWIO), PRIV_NAME(CAP_SYS_CHROOT), PRIV_NAME(CAP_SYS_PTRACE),
	PRIV_NAME(CAP_SYS_PACCT), PRIV_NAME(CAP_SYS_ADMIN), PRIV_NAME(CAP_SYS_BOOT),
	PRIV_NAME(CAP_SYS_NICE), PRIV_NAME(CAP_SYS_RESOURCE), PRIV_NAME(CAP_SYS_TIME),
	PRIV_NAME(CAP_SYS_TTY_CONFIG), PRIV_NAME(CAP_MKNOD), PRIV_NAME(CAP_LEASE),
	PRIV_NAME(CAP_AUDIT_WRITE), PRIV_NAME(CAP_AUDIT_CONTROL), PRIV_NAME(CAP_SETFCAP),
	PRIV_NAME(CAP_MAC_OVERRIDE), PRIV_NAME(CAP_MAC_ADMIN), PRIV_NAME(CAP_SYSLOG),
	PRIV_NAME(CAP_WAKE_ALARM), PRIV_NAME(CAP_BLOCK_SUSPEND), PRIV_NAME(CAP_AUDIT_READ),
#ifdef CAP_CHECKPOINT_RESTORE
	PRIV_NAME(CAP_PERFMON), PRIV_NAME(CAP_BPF), PRIV_NAME(CAP_CHECKPOINT_RESTORE),
#endif
};

/* Every capability the kernel headers we were built with know of */
#define PRIV_ALL (CAP_BIT(CAP_LAST_CAP + 1) - 1)

vs_caps vs_priv_uplink_caps(const char *devargs)
{
	size_t i;

	if (!devargs)
		return 0;
	for (i = 0; i < G_N_ELEMENTS(priv_uplinks); i++)
		if (g_str_has_prefix(devargs, priv_uplinks[i].prefix))
			return priv_uplinks[i].caps;
	return 0;
}

gboolean vs_priv_effective(vs_caps *caps)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return FALSE;
	*caps = (vs_caps)data[1].effective << 32 | data[0].effective;
	return TRUE;
}

char *vs_priv_caps_to_string(vs_caps caps)
{
	GString *s = g_string_new(NULL);
	unsigned int c;

	for (c = 0; c < 64; c++) {
		if (!(caps & CAP_BIT(c)))
			continue;
		if (s->len)
			g_string_append_c(s, ' ');
		if (c < G_N_ELEMENTS(priv_names) && priv_names[c])
			g_string_append(s, priv_names[c]);
		else
			g_string_append_printf(s, "capability %u", c);
	}
	if (!s->len)
		g_string_append(s, "none");
	return g_string_free(s, FALSE);
}

char *vs_priv_uplink_hint(const char *devargs, vs_caps have)
{
	vs_caps need = vs_priv_uplink_caps(devargs);
	g_autofree char *missing = NULL, *all = NULL;
	size_t len;

	if (!(need & ~have))
		return NULL;
	missing = vs_priv_caps_to_string(need & ~have);
	all = vs_priv_caps_to_string(need);
	len = strcspn(devargs, ",");
	return g_strdup_printf("%.*s needs %s, and this process lacks %s "
			       "(see \"Least privilege\" in docs/hardening.md)",
			       (int)len, devargs, all, missing);
}

char *vs_priv_describe_self(void)
{
	g_autofree char *caps = NULL;
	struct passwd pw, *pwr = NULL;
	struct group gr, *grr = NULL;
	char pbuf[1024], gbuf[1024];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	vs_caps have = 0;

	if (!vs_priv_effective(&have))
		caps = g_strdup_printf("unknown (%s)", g_strerror(errno));
	else if ((have & PRIV_ALL) == PRIV_ALL)
		caps = g_strdup("all");
	else
		caps = vs_priv_caps_to_string(have);
	if (getpwuid_r(uid, &pw, pbuf, sizeof(pbuf), &pwr))
		pwr = NULL;
	if (getgrgid_r(gid, &gr, gbuf, sizeof(gbuf), &grr))
		grr = NULL;
	return g_strdup_printf("uid %u (%s), gid %u (%s), capabilities: %s", (unsigned int)uid,
			       pwr ? pwr->pw_name : "?", (unsigned int)gid,
			       grr ? grr->gr_name : "?", caps);
}
