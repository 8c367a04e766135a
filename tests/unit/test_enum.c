/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_enum.c - the enum <-> string helper (enum.h) and every table made
 * with it that links without EAL: each named value converts to its name
 * and back, names are unique, unknown text is -1
 */
#include <string.h>

#include <glib.h>

#include "config.h"
#include "config_keys.h"
#include "enum.h"
#include "log.h"
#include "migration.h"
#include "pkt.h"
#include "stats.h"
#include "vhost_events.h"

/* A sparse enum with aliases, as enum vs_log_level is */
enum tenum {
	TENUM_A = 1,
	TENUM_B = 3,
	TENUM_NUM = 4,
};
VS_ENUM_DECL(tenum, enum tenum);
static const char *const tenum_aliases[] = { "alpha", "a", "beta", "b", NULL };
VS_ENUM_IMPL_EXT(tenum, enum tenum, TENUM_NUM, tenum_aliases, true,
		 [TENUM_A] = "a",
		 [TENUM_B] = "b");

static void test_helper(void)
{
	g_autofree char *help = vs_enum_describe(&tenum_enum, "|", "|");
	g_autofree char *prose = vs_enum_describe(&tenum_enum, ", ", " or ");

	g_assert_cmpstr(tenum_to_string(TENUM_A), ==, "a");
	g_assert_cmpstr(tenum_to_string(TENUM_B), ==, "b");
	g_assert_cmpstr(tenum_to_string(0), ==, "?");		/* no name */
	g_assert_cmpstr(tenum_to_string(TENUM_NUM), ==, "?");	/* out of range */
	g_assert_cmpstr(tenum_to_string(-1), ==, "?");
	g_assert_cmpint(tenum_from_string("a"), ==, TENUM_A);
	g_assert_cmpint(tenum_from_string("B"), ==, TENUM_B);	/* nocase */
	g_assert_cmpint(tenum_from_string("Alpha"), ==, TENUM_A);	/* alias */
	g_assert_cmpint(tenum_from_string("beta"), ==, TENUM_B);
	g_assert_cmpint(tenum_from_string("c"), ==, -1);
	g_assert_cmpint(tenum_from_string(""), ==, -1);
	g_assert_cmpint(tenum_from_string(NULL), ==, -1);
	g_assert_cmpstr(help, ==, "a|b");
	g_assert_cmpstr(prose, ==, "a or b");
	g_assert_cmpstr(tenum_enum.type, ==, "enum tenum");
}

/* Every table: names round-trip, are unique, and aliases lead to names */
static void check_table(gconstpointer data)
{
	const struct vs_enum *e = data;
	const char *const *a;
	unsigned int i, j, named = 0;

	for (i = 0; i < e->n; i++) {
		if (!e->names[i])
			continue;
		named++;
		g_assert_cmpstr(e->names[i], !=, "");
		g_assert_cmpstr(vs_enum_to_string(e, (int)i), ==, e->names[i]);
		g_assert_cmpint(vs_enum_from_string(e, e->names[i]), ==, i);
		for (j = 0; j < i; j++)
			if (e->names[j])
				g_assert_cmpstr(e->names[i], !=, e->names[j]);
	}
	g_assert_cmpuint(named, >=, 1);
	g_assert_cmpint(vs_enum_from_string(e, "no such name"), ==, -1);
	g_assert_cmpstr(vs_enum_to_string(e, (int)e->n), ==, "?");
	for (a = e->aliases; a && a[0]; a += 2)
		g_assert_cmpint(vs_enum_from_string(e, a[0]), ==, vs_enum_from_string(e, a[1]));
}

static void test_log_level(void)
{
	g_assert_cmpint(vs_log_level_from_string("err"), ==, VS_LOG_ERR);
	g_assert_cmpint(vs_log_level_from_string("error"), ==, VS_LOG_ERR);
	g_assert_cmpint(vs_log_level_from_string("WARN"), ==, VS_LOG_WARNING);
	g_assert_cmpint(vs_log_level_from_string("Debug"), ==, VS_LOG_DEBUG);
	g_assert_cmpint(vs_log_level_from_string("loud"), ==, -1);
	g_assert_cmpstr(vs_log_level_to_string(VS_LOG_NOTICE), ==, "notice");
}

/* The names other programs see: a change here is a protocol change */
static void test_wire_names(void)
{
	g_assert_cmpstr(vs_mig_state_to_string(VS_MIG_STATE_DST_EXPECTING), ==, "dst-expecting");
	g_assert_cmpstr(vs_mig_event_to_string(VS_MIG_EV_PEER_RESUMED), ==, "peer-resumed");
	g_assert_cmpstr(vs_drop_reason_to_string(VS_DROP_NOT_READY), ==, "not-ready");
	g_assert_cmpstr(vs_drop_reason_to_string(VS_DROP_GUEST_MALFORMED), ==, "guest-malformed");
	g_assert_cmpstr(vs_pkt_class_to_string(VS_PKT_OTHER), ==, "other");
	g_assert_cmpint(vs_on_off_from_string("true"), ==, VS_ON);
	g_assert_cmpint(vs_on_off_from_string("false"), ==, VS_OFF);
	g_assert_cmpint(vs_port_mode_from_string("client"), ==, VS_PORT_MODE_CLIENT);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		const struct vs_enum *e;
	} tables[] = {
		{ "vs_mig_state", &vs_mig_state_enum },
		{ "vs_mig_event", &vs_mig_event_enum },
		{ "vs_drop_reason", &vs_drop_reason_enum },
		{ "vs_pkt_class", &vs_pkt_class_enum },
		{ "vs_log_level", &vs_log_level_enum },
		{ "vs_log_component", &vs_log_component_enum },
		{ "vs_hugepages_mode", &vs_hugepages_mode_enum },
		{ "vs_pkt_class_policy", &vs_pkt_class_policy_enum },
		{ "vs_overflow_policy", &vs_overflow_policy_enum },
		{ "vs_on_off", &vs_on_off_enum },
		{ "vs_port_mode", &vs_port_mode_enum },
		{ "vs_tls_mode", &vs_tls_mode_enum },
		{ "vs_cfg_section", &vs_cfg_section_enum },
		{ "vs_vhost_event_type", &vs_vhost_event_type_enum },
		{ "tenum", &tenum_enum },
	};
	size_t i;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/enum/helper", test_helper);
	g_test_add_func("/enum/log-level", test_log_level);
	g_test_add_func("/enum/wire-names", test_wire_names);
	for (i = 0; i < G_N_ELEMENTS(tables); i++) {
		g_autofree char *path = g_strdup_printf("/enum/table/%s", tables[i].name);

		g_test_add_data_func(path, tables[i].e, check_table);
	}
	return g_test_run();
}
