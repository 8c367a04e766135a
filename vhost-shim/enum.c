/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * enum.c - the conversions behind VS_ENUM_IMPL()
 *
 * Theory of operation: see enum.h.  Tables are small (at most a few dozen
 * names) and looked up on the control path only, so a linear search is
 * enough; nothing here allocates except vs_enum_describe().
 */
#include <string.h>

#include "enum.h"

const char *vs_enum_to_string(const struct vs_enum *e, int val)
{
	if (val < 0 || (unsigned int)val >= e->n || !e->names[val])
		return "?";
	return e->names[val];
}

static bool enum_eq(const struct vs_enum *e, const char *a, const char *b)
{
	return e->nocase ? !g_ascii_strcasecmp(a, b) : !strcmp(a, b);
}

static int enum_lookup(const struct vs_enum *e, const char *s)
{
	unsigned int i;

	for (i = 0; i < e->n; i++)
		if (e->names[i] && enum_eq(e, e->names[i], s))
			return (int)i;
	return -1;
}

int vs_enum_from_string(const struct vs_enum *e, const char *s)
{
	const char *const *a;
	int v;

	if (!s)
		return -1;
	v = enum_lookup(e, s);
	for (a = e->aliases; v < 0 && a && a[0] && a[1]; a += 2)
		if (enum_eq(e, a[0], s))
			v = enum_lookup(e, a[1]);
	return v;
}

char *vs_enum_describe(const struct vs_enum *e, const char *sep, const char *last_sep)
{
	GString *s = g_string_new(NULL);
	unsigned int i, left = 0;

	for (i = 0; i < e->n; i++)
		left += e->names[i] != NULL;
	for (i = 0; i < e->n; i++) {
		if (!e->names[i])
			continue;
		if (s->len)
			g_string_append(s, left == 1 ? last_sep : sep);
		g_string_append(s, e->names[i]);
		left--;
	}
	return g_string_free(s, FALSE);
}
