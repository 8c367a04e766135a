/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * enum.h - one way to name the values of an enum
 *
 * Theory of operation: every enum whose values appear as text (in the
 * configuration, on the control socket, in log lines, in DPDK telemetry)
 * has exactly one string table, defined with VS_ENUM_IMPL() next to the
 * code that owns the enum and declared with VS_ENUM_DECL() next to the
 * enum.  The macro defines the table, checks at build time that it has one
 * entry per value (a new value without a name fails the build), and the
 * two conversions:
 *
 *	VS_ENUM_DECL(vs_mig_state, enum vs_mig_state);		(header)
 *	VS_ENUM_IMPL(vs_mig_state, enum vs_mig_state, VS_MIG_NUM_STATES,
 *		     [VS_MIG_STATE_NONE] = "none", ...);		(source)
 *
 *	vs_mig_state_to_string(VS_MIG_STATE_NONE)	-> "none"
 *	vs_mig_state_from_string("none")		-> VS_MIG_STATE_NONE
 *	vs_mig_state_from_string("bogus")		-> -1
 *	vs_mig_state_enum				-> the table, for
 *		generic code: configuration keys, control-socket schemas
 *
 * The entries may be positional or designated ([VALUE] = "name", which
 * says which name goes with which value); an enum whose values do not
 * start at 0 (enum vs_log_level) leaves the lower ones without a name.
 * VS_ENUM_IMPL_EXT() adds other accepted spellings and case-insensitive
 * matching for the few tables that have always accepted them; the
 * canonical name is the one printed.  Unit tests (tests/unit/test_enum.c)
 * check that every named value converts back to itself.
 *
 * Pure C with GLib: no EAL.
 */
#ifndef VS_ENUM_H
#define VS_ENUM_H

#include <assert.h>
#include <stdbool.h>

#include <glib.h>

/**
 * struct vs_enum - the names of one enum's values
 * @type:	the C type, for messages ("enum vs_mig_state")
 * @names:	indexed by value; NULL for a value without a name
 * @n:		number of entries in @names (the sentinel: VS_..._NUM_...)
 * @aliases:	other spellings, pairs { "alias", "canonical name" } ended
 *		by NULL, or NULL
 * @nocase:	compare names and aliases ignoring ASCII case
 */
struct vs_enum {
	const char *type;
	const char *const *names;
	unsigned int n;
	const char *const *aliases;
	bool nocase;
};

/**
 * vs_enum_to_string() - the name of a value
 * @e:		the enum's table
 * @val:	value
 *
 * Return: its name, or "?" for a value out of range or without a name
 */
const char *vs_enum_to_string(const struct vs_enum *e, int val);

/**
 * vs_enum_from_string() - the value of a name (or of an alias)
 * @e:		the enum's table
 * @s:		text, may be NULL
 *
 * Return: the value, or -1 if @s names none
 */
int vs_enum_from_string(const struct vs_enum *e, const char *s);

/**
 * vs_enum_describe() - the accepted names, for messages and --help
 * @e:		the enum's table
 * @sep:	separator, e.g. "|" or ", "
 * @last_sep:	separator before the last name, e.g. "|" or " or "
 *
 * Return: "a, b or c" in value order, without aliases (g_free it)
 */
char *vs_enum_describe(const struct vs_enum *e, const char *sep, const char *last_sep);

/* Declares the table and the conversions of enum type @type */
#define VS_ENUM_DECL(name, ctype)				\
	extern const struct vs_enum name##_enum;		\
	const char *name##_to_string(ctype val);			\
	int name##_from_string(const char *s)

/*
 * Defines them (use it at file scope, followed by ';'): @count is the number of values (the enum's sentinel), the
 * rest the names in value order or designated.  @aliases (a NULL-ended
 * array of pairs, or NULL) and @nocase as in struct vs_enum.
 */
#define VS_ENUM_IMPL_EXT(name, ctype, count, aliases_, nocase_, ...)		\
	static const char *const name##_names[] = { __VA_ARGS__ };		\
	const struct vs_enum name##_enum = {					\
		.type = #ctype, .names = name##_names, .n = (count),		\
		.aliases = (aliases_), .nocase = (nocase_),			\
	};									\
	const char *name##_to_string(ctype val)					\
	{									\
		return vs_enum_to_string(&name##_enum, (int)val);		\
	}									\
	int name##_from_string(const char *s)					\
	{									\
		return vs_enum_from_string(&name##_enum, s);			\
	}									\
	static_assert(G_N_ELEMENTS(name##_names) == (count),			\
		      #name ": one name per value of " #ctype)

#define VS_ENUM_IMPL(name, ctype, count, ...) \
	VS_ENUM_IMPL_EXT(name, ctype, count, NULL, false, __VA_ARGS__)

#endif /* VS_ENUM_H */
