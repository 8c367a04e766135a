/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_keys.h - the table of configuration keys
 *
 * Theory of operation: every setting an operator can make is one row of
 * vs_cfg_keys[]: its name, the group it belongs to, its type and accepted
 * range, the field it sets, its default and one line of documentation.
 * That one row drives everything that reads or shows the setting:
 *   - the config file: [daemon], [tunnel], [discovery] and [port NAME] keys
 *     (vs_cfg_load_keyfile(), config.c);
 *   - --port specs (vs_port_cfg_parse_spec(), config.c);
 *   - the command-line options, generated from the rows that name one
 *     (vs_cfg_cmdline_group(), config_cmdline.c), so an option and its key
 *     accept the same values and refuse the others with the same message;
 *   - the defaults (vs_cfg_new(), vs_port_cfg_new(), vs_buf_policy_init());
 *   - freeing and copying (every pointer of struct vs_cfg and struct
 *     vs_port_cfg that is not a list is a key's field);
 *   - set-buffer-policy's argument schema and query-buffer-policy's reply
 *     (control_mig.c), from the rows of VS_CFG_SECTION_POLICY in order.
 * The values of enum-typed keys are the names of their enum's
 * VS_ENUM_IMPL() table (enum.h).  tests/unit/test_config.c sets every key
 * at its minimum, its maximum and one past each.
 *
 * What is not a single key stays where it was: cross-key checks
 * (vs_cfg_validate()), port validation (vs_port_cfg_validate()), and the
 * list-valued options --port and --peer.
 */
#ifndef VS_CONFIG_KEYS_H
#define VS_CONFIG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "config.h"
#include "enum.h"

/**
 * enum vs_cfg_section - which struct a key sets, and where it is written
 * @VS_CFG_SECTION_DAEMON: [daemon], struct vs_cfg
 * @VS_CFG_SECTION_TUNNEL: [tunnel], struct vs_cfg
 * @VS_CFG_SECTION_DISCOVERY: [discovery], struct vs_cfg (the etcd registry)
 * @VS_CFG_SECTION_MIGRATION: [migration], struct vs_cfg
 * @VS_CFG_SECTION_PORT: [port NAME] and --port, struct vs_port_cfg
 * @VS_CFG_SECTION_POLICY: [port NAME], --port and set-buffer-policy,
 *	struct vs_buf_policy (the port's buffer policy)
 */
enum vs_cfg_section {
	VS_CFG_SECTION_DAEMON,
	VS_CFG_SECTION_TUNNEL,
	VS_CFG_SECTION_DISCOVERY,
	VS_CFG_SECTION_MIGRATION,
	VS_CFG_SECTION_PORT,
	VS_CFG_SECTION_POLICY,
	VS_CFG_NUM_SECTIONS,
};
VS_ENUM_DECL(vs_cfg_section, enum vs_cfg_section);

/**
 * enum vs_cfg_type - what a key's text means and what field it sets
 * @VS_CFG_STR:	char *, any text (g_free()d when replaced)
 * @VS_CFG_PATH: char *, an absolute path
 * @VS_CFG_UINT: unsigned int, an integer in @min..@max
 * @VS_CFG_U64:	uint64_t, an integer in @min..@max
 * @VS_CFG_BOOL: bool, "true" or "false" ("1", "0"), as GKeyFile reads them
 * @VS_CFG_SWITCH: bool named by a two-value enum (@values): its first
 *	name is false, its second true ("off"/"on", "server"/"client")
 * @VS_CFG_ENUM: an enum field (int-sized): one of @values' names
 * @VS_CFG_ARGV: char **, shell-quoted words (g_shell_parse_argv())
 * @VS_CFG_MAC:	uint8_t[6], a unicast MAC address "aa:bb:cc:dd:ee:ff"
 */
enum vs_cfg_type {
	VS_CFG_STR,
	VS_CFG_PATH,
	VS_CFG_UINT,
	VS_CFG_U64,
	VS_CFG_BOOL,
	VS_CFG_SWITCH,
	VS_CFG_ENUM,
	VS_CFG_ARGV,
	VS_CFG_MAC,
	VS_CFG_NUM_TYPES,
};

/**
 * vs_cfg_section_is_daemon() - does @section set struct vs_cfg (a group of
 * its own in the file: [daemon], [tunnel], [discovery]) rather than a port
 * @section:	section
 *
 * Return: true if so
 */
static inline bool vs_cfg_section_is_daemon(enum vs_cfg_section section)
{
	return section <= VS_CFG_SECTION_MIGRATION;
}

/* Flags of a key */
#define VS_CFG_KEY_FILENAME	(1u << 0)	/* its option's value is a file name */
#define VS_CFG_KEY_SPEC_ONLY	(1u << 1)	/* --port only: a [port NAME] group names it */
#define VS_CFG_KEY_ZERO_OFF	(1u << 2)	/* UINT, U64: 0 (off) besides @min..@max */

/**
 * struct vs_cfg_key - one configuration key
 * @name:	key in the file, in --port specs and in set-buffer-policy
 * @section:	where it is written and which struct it sets
 * @type:	how its text is read
 * @offset:	of its field in the section's struct
 * @min, @max:	VS_CFG_UINT, VS_CFG_U64: accepted range (and 0 with
 *		VS_CFG_KEY_ZERO_OFF: "0 or 64..32768")
 * @values:	VS_CFG_SWITCH, VS_CFG_ENUM: the names
 * @dflt:	default of a number, bool or enum
 * @dflt_str:	default of a string (NULL: none)
 * @dflt_doc:	the default as --help says it, when that is not @dflt or
 *		@dflt_str (e.g. "host name"); NULL otherwise
 * @doc:	one line for --help
 * @option:	long command-line option without "--", NULL: none
 * @short_option: its one-letter form, 0: none
 * @arg_name:	--help's placeholder for the value ("MB")
 * @flags:	VS_CFG_KEY_*
 */
struct vs_cfg_key {
	const char *name;
	enum vs_cfg_section section;
	enum vs_cfg_type type;
	size_t offset;
	uint64_t min, max;
	const struct vs_enum *values;
	uint64_t dflt;
	const char *dflt_str;
	const char *dflt_doc;
	const char *doc;
	const char *option;
	char short_option;
	const char *arg_name;
	unsigned int flags;
};

/* The table, grouped by section; within a section in documentation order */
extern const struct vs_cfg_key vs_cfg_keys[];
extern const unsigned int vs_cfg_num_keys;

/**
 * vs_cfg_key_find() - the key called @name in @section
 * @section:	section
 * @name:	key name
 *
 * Return: the key, or NULL
 */
const struct vs_cfg_key *vs_cfg_key_find(enum vs_cfg_section section, const char *name);

/**
 * vs_cfg_key_set() - read @text as key @k's value into the struct at @base
 * @k:		key
 * @base:	the struct of @k's section
 * @what:	how the message names the setting ("[daemon] memory-mb",
 *		"--memory-mb", "port vm1: queues")
 * @text:	value as text
 * @error:	set if @text is not a valid value; the field is unchanged
 *
 * Return: TRUE on success
 */
gboolean vs_cfg_key_set(const struct vs_cfg_key *k, void *base, const char *what,
			const char *text, GError **error);

/**
 * vs_cfg_section_init() - put the default of every key of @section into @base
 * @section:	section
 * @base:	its struct; pointer fields must not own anything yet
 */
void vs_cfg_section_init(enum vs_cfg_section section, void *base);

/**
 * vs_cfg_section_clear() - free every string and word list of @section's
 * keys in @base and set them to NULL
 * @section:	section
 * @base:	its struct
 */
void vs_cfg_section_clear(enum vs_cfg_section section, void *base);

/**
 * vs_cfg_section_dup() - replace every string and word list of @section's
 * keys in @base by a copy of it (after a struct assignment)
 * @section:	section
 * @base:	its struct
 */
void vs_cfg_section_dup(enum vs_cfg_section section, void *base);

/**
 * vs_cfg_key_get_number() - the value of a number, bool or enum key
 * @k:		key of type UINT, U64, BOOL, SWITCH or ENUM
 * @base:	its section's struct
 *
 * Return: the value (false/true as 0/1)
 */
uint64_t vs_cfg_key_get_number(const struct vs_cfg_key *k, const void *base);

/**
 * vs_cfg_key_get_name() - the value of a SWITCH or ENUM key as its name
 * @k:		key of type SWITCH or ENUM
 * @base:	its section's struct
 *
 * Return: the name (static)
 */
const char *vs_cfg_key_get_name(const struct vs_cfg_key *k, const void *base);

/**
 * vs_cfg_key_describe() - the values a key accepts, for --help and docs
 * @k:		key
 *
 * Return: e.g. "64..1048576", "auto|yes|no", "true|false" (g_free it)
 */
char *vs_cfg_key_describe(const struct vs_cfg_key *k);

/**
 * vs_cfg_key_default_text() - a key's default as text, for --help
 * @k:		key
 *
 * Return: e.g. "1024", "auto", "none" (g_free it)
 */
char *vs_cfg_key_default_text(const struct vs_cfg_key *k);

/**
 * vs_port_cfg_set() - set one key of a port: a port key or a buffer-policy
 * key (the file's [port NAME] groups and --port specs)
 * @pc:		port
 * @key:	key name
 * @val:	value as text
 * @error:	set if the key is unknown or the value invalid
 *
 * Return: TRUE on success
 */
gboolean vs_port_cfg_set(struct vs_port_cfg *pc, const char *key, const char *val,
			 GError **error);

/*
 * The command line: an option for every key that names one, applied
 * after the config file is read, so that an option overrides its key.
 */
struct vs_cfg_cmdline;
typedef struct vs_cfg_cmdline vs_cfg_cmdline;

/**
 * vs_cfg_cmdline_new() - an empty command line
 *
 * Return: new command line, free with vs_cfg_cmdline_free()
 */
struct vs_cfg_cmdline *vs_cfg_cmdline_new(void);
void vs_cfg_cmdline_free(struct vs_cfg_cmdline *cl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(vs_cfg_cmdline, vs_cfg_cmdline_free)

/**
 * vs_cfg_cmdline_group() - the main option group: @head, one option per
 * key that has one (in table order), then @tail
 * @cl:		records the key options met while parsing; must outlive the
 *		group
 * @head, @tail: the program's other options (zero-terminated), may be NULL
 *
 * Return: a new group for g_option_context_set_main_group()
 */
GOptionGroup *vs_cfg_cmdline_group(struct vs_cfg_cmdline *cl, const GOptionEntry *head,
				   const GOptionEntry *tail);

/**
 * vs_cfg_cmdline_apply() - set the keys given on the command line, in the
 * order given
 * @cl:		command line, parsed
 * @cfg:	configuration (after the config file)
 * @error:	set on the first invalid value, named by its option
 *
 * Return: TRUE on success
 */
gboolean vs_cfg_cmdline_apply(const struct vs_cfg_cmdline *cl, struct vs_cfg *cfg,
			      GError **error);

#endif /* VS_CONFIG_KEYS_H */
