/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tunnel_tls_id.c - which node a tunnel certificate names
 *
 * Theory of operation: the identity rule of tunnel_tls.h as pure functions
 * on strings, so that the unit tests pin it without certificates: the DNS
 * subjectAltNames decide when there are any (RFC 6125), the subject CN
 * only when there are none, names compare ASCII case-insensitively, and
 * nothing is a wildcard.  tunnel_tls.c feeds them what GnuTLS extracts from
 * a certificate (gnutls_x509_crt_get_dn3(), an RFC 4514 string, and the
 * DNS subjectAltNames).
 *
 * Security model: the DN and the names come from a certificate the CA
 * signed, but the CA may sign for other purposes too, so they are parsed
 * as untrusted text: bounded by VS_TUN_TLS_DN_MAX, escapes undone
 * (RFC 4514 "\," and "\2C"), a value with an escaped NUL or two CNs
 * names nobody, and a malformed DN names nobody.  Nothing here logs,
 * asserts or aborts on its input.
 */
#include <string.h>

#include <glib.h>

#include "tunnel_tls.h"

/* Does the attribute type @type (@len bytes) mean "common name" */
static bool tls_id_is_cn(const char *type, size_t len)
{
	return (len == 2 && !g_ascii_strncasecmp(type, "CN", 2)) ||
	       (len == 7 && !strncmp(type, "2.5.4.3", 7));
}

/*
 * Read one attribute value at @p up to an unescaped ',' or '+' into @val.
 * Return: the separator or the end of the string, or NULL if malformed
 * (a dangling backslash, an escaped NUL)
 */
static const char *tls_id_read_value(const char *p, GString *val)
{
	while (*p && *p != ',' && *p != '+') {
		if (*p != '\\') {
			g_string_append_c(val, *p++);
			continue;
		}
		if (g_ascii_isxdigit(p[1]) && g_ascii_isxdigit(p[2])) {
			int byte = g_ascii_xdigit_value(p[1]) << 4 | g_ascii_xdigit_value(p[2]);

			if (!byte)
				return NULL;	/* "host\00evil" would pass for "host" */
			g_string_append_c(val, (char)byte);
			p += 3;
			continue;
		}
		if (!p[1])
			return NULL;
		g_string_append_c(val, p[1]);
		p += 2;
	}
	return p;
}

char *vs_tun_tls_dn_common_name(const char *dn)
{
	g_autofree char *found = NULL;
	const char *p = dn;

	if (!dn || strnlen(dn, VS_TUN_TLS_DN_MAX + 1) > VS_TUN_TLS_DN_MAX)
		return NULL;
	while (*p) {
		g_autoptr(GString) val = g_string_new(NULL);
		const char *type, *end;
		size_t type_len;

		while (*p == ' ')
			p++;
		type = p;
		while (*p && *p != '=' && *p != ',' && *p != '+')
			p++;
		if (*p != '=' || p == type)
			return NULL;	/* an attribute without "TYPE=" */
		type_len = (size_t)(p - type);
		end = tls_id_read_value(p + 1, val);
		if (!end)
			return NULL;
		if (tls_id_is_cn(type, type_len)) {
			if (found)
				return NULL;	/* two CNs: which one? neither */
			found = g_string_free(g_steal_pointer(&val), FALSE);
		}
		p = *end ? end + 1 : end;
	}
	return g_steal_pointer(&found);
}

bool vs_tun_tls_names_match(const char *cn, const char *const *dns_names, const char *name)
{
	size_t i;

	if (!name || !name[0])
		return false;
	if (dns_names && dns_names[0]) {
		for (i = 0; dns_names[i]; i++)
			if (!g_ascii_strcasecmp(dns_names[i], name))
				return true;
		return false;	/* RFC 6125: with DNS names, the CN does not count */
	}
	return cn && !g_ascii_strcasecmp(cn, name);
}
