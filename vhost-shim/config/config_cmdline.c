/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * config_cmdline.c - command-line options generated from the key table
 *
 * Theory of operation: every key of config_keys.c that names an option
 * becomes a GOptionEntry of the main group, documented from its row
 * ("DOC (VALUES; default D)").  GLib calls cmdline_option_cb() for each
 * one met; the callback only records the key and the text, because the
 * config file, which the command line overrides, is read after the
 * options are parsed (its path is an option too).  vs_cfg_cmdline_apply()
 * then sets them with vs_cfg_key_set(), the same reader as the file's, so
 * an option accepts what its key accepts and refuses the rest with the
 * key's message, named by the option ("--memory-mb: '12' is not an
 * integer in 64..1048576").  A bool key's option takes no value: it sets
 * true (--busy-poll).
 */
#include <string.h>

#include "config_keys.h"

/* One option met on the command line */
struct cmdline_set {
	const struct vs_cfg_key *key;
	char *text;
};

struct vs_cfg_cmdline {
	GArray *sets;		/* of struct cmdline_set, in command-line order */
	GArray *entries;	/* of GOptionEntry, zero-terminated */
	GPtrArray *strings;	/* what the entries point to */
};

static void cmdline_set_clear(gpointer p)
{
	struct cmdline_set *set = p;

	g_free(set->text);
}

struct vs_cfg_cmdline *vs_cfg_cmdline_new(void)
{
	struct vs_cfg_cmdline *cl = g_new0(struct vs_cfg_cmdline, 1);

	cl->sets = g_array_new(FALSE, TRUE, sizeof(struct cmdline_set));
	g_array_set_clear_func(cl->sets, cmdline_set_clear);
	cl->entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
	cl->strings = g_ptr_array_new_with_free_func(g_free);
	return cl;
}

void vs_cfg_cmdline_free(struct vs_cfg_cmdline *cl)
{
	if (!cl)
		return;
	g_array_unref(cl->sets);
	g_array_unref(cl->entries);
	g_ptr_array_unref(cl->strings);
	g_free(cl);
}

/* The key whose option GLib names "--long" or "-s" */
static const struct vs_cfg_key *cmdline_find(const char *option_name)
{
	unsigned int i;

	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];

		if (!k->option)
			continue;
		if (g_str_has_prefix(option_name, "--") && !strcmp(option_name + 2, k->option))
			return k;
		if (option_name[0] == '-' && option_name[1] && option_name[1] == k->short_option &&
		    !option_name[2])
			return k;
	}
	return NULL;
}

static gboolean cmdline_option_cb(const gchar *option_name, const gchar *value, gpointer data,
				  GError **error)
{
	struct vs_cfg_cmdline *cl = data;
	struct cmdline_set set = { .key = cmdline_find(option_name) };

	if (!set.key) {		/* GLib only calls us for our own entries */
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
			    "%s: not a configuration key", option_name);
		return FALSE;
	}
	set.text = g_strdup(set.key->type == VS_CFG_BOOL ? "true" : value);
	g_array_append_val(cl->sets, set);
	return TRUE;
}

static const char *cmdline_keep(struct vs_cfg_cmdline *cl, char *s)
{
	g_ptr_array_add(cl->strings, s);
	return s;
}

static void cmdline_add_entries(struct vs_cfg_cmdline *cl, const GOptionEntry *entries)
{
	for (; entries && entries->long_name; entries++)
		g_array_append_vals(cl->entries, entries, 1);
}

GOptionGroup *vs_cfg_cmdline_group(struct vs_cfg_cmdline *cl, const GOptionEntry *head,
				   const GOptionEntry *tail)
{
	GOptionGroup *group = g_option_group_new("vhost-shim", "Options", "Show the options",
						 cl, NULL);
	unsigned int i;

	g_array_set_size(cl->entries, 0);
	cmdline_add_entries(cl, head);
	for (i = 0; i < vs_cfg_num_keys; i++) {
		const struct vs_cfg_key *k = &vs_cfg_keys[i];
		g_autofree char *dflt = vs_cfg_key_default_text(k);
		g_autofree char *values = vs_cfg_key_describe(k);
		GOptionEntry e = {
			.long_name = k->option,
			.short_name = k->short_option,
			.arg = G_OPTION_ARG_CALLBACK,
			.arg_data = (gpointer)cmdline_option_cb,
			.arg_description = k->arg_name,
		};

		if (!k->option)
			continue;
		if (k->type == VS_CFG_BOOL) {
			e.flags |= G_OPTION_FLAG_NO_ARG;
			e.description = cmdline_keep(cl, g_strdup_printf("%s (sets %s=true)",
									 k->doc, k->name));
		} else {
			if (k->flags & VS_CFG_KEY_FILENAME)
				e.flags |= G_OPTION_FLAG_FILENAME;
			if (k->type == VS_CFG_UINT || k->type == VS_CFG_U64 ||
			    k->type == VS_CFG_SWITCH || k->type == VS_CFG_ENUM)
				e.description = cmdline_keep(cl, g_strdup_printf(
					"%s (%s; default %s)", k->doc, values, dflt));
			else
				e.description = cmdline_keep(cl, g_strdup_printf(
					"%s (default %s)", k->doc, dflt));
		}
		g_array_append_val(cl->entries, e);
	}
	cmdline_add_entries(cl, tail);
	g_option_group_add_entries(group, (const GOptionEntry *)(void *)cl->entries->data);
	return group;
}

/* The struct of a daemon, tunnel or discovery key (the only ones with options) */
static void *cmdline_base(const struct vs_cfg_key *k, struct vs_cfg *cfg)
{
	return vs_cfg_section_is_daemon(k->section) ? cfg : NULL;
}

gboolean vs_cfg_cmdline_apply(const struct vs_cfg_cmdline *cl, struct vs_cfg *cfg,
			      GError **error)
{
	guint i;

	for (i = 0; i < cl->sets->len; i++) {
		const struct cmdline_set *set = &g_array_index(cl->sets, struct cmdline_set, i);
		g_autofree char *what = g_strdup_printf("--%s", set->key->option);
		void *base = cmdline_base(set->key, cfg);

		if (!base) {
			g_set_error(error, VS_CFG_ERROR, 0, "%s: not a daemon or tunnel key", what);
			return FALSE;
		}
		if (!vs_cfg_key_set(set->key, base, what, set->text, error))
			return FALSE;
	}
	return TRUE;
}
