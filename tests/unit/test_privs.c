/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_privs.c - unit tests of privs.c: capabilities per uplink driver,
 * their names, the hint a failed uplink gets, the startup description
 *
 * The requirements themselves were measured by running the daemon without
 * them (tests/e2e/test_least_privilege.py); these tests pin the table.
 */
#include <linux/capability.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "privs.h"

#define BIT(c) ((vs_caps)1 << (c))

static void test_uplink_caps(void)
{
	g_assert_cmphex(vs_priv_uplink_caps("net_tap0,iface=vt1"), ==, BIT(CAP_NET_ADMIN));
	g_assert_cmphex(vs_priv_uplink_caps("net_tap12"), ==, BIT(CAP_NET_ADMIN));
	g_assert_cmphex(vs_priv_uplink_caps("eth_tap0,iface=x"), ==, BIT(CAP_NET_ADMIN));
	g_assert_cmphex(vs_priv_uplink_caps("net_af_packet0,iface=veth0"), ==,
			BIT(CAP_NET_RAW) | BIT(CAP_NET_ADMIN));
	g_assert_cmphex(vs_priv_uplink_caps("eth_af_packet1,iface=veth0"), ==,
			BIT(CAP_NET_RAW) | BIT(CAP_NET_ADMIN));
	g_assert_cmphex(vs_priv_uplink_caps("net_virtio_user0,path=/s,queues=1"), ==, 0);
	/* not measured: no claim */
	g_assert_cmphex(vs_priv_uplink_caps("0000:03:00.0"), ==, 0);
	g_assert_cmphex(vs_priv_uplink_caps("net_null0"), ==, 0);
	g_assert_cmphex(vs_priv_uplink_caps(""), ==, 0);
	g_assert_cmphex(vs_priv_uplink_caps(NULL), ==, 0);
}

static void test_names(void)
{
	g_autofree char *none = vs_priv_caps_to_string(0);
	g_autofree char *one = vs_priv_caps_to_string(BIT(CAP_NET_ADMIN));
	g_autofree char *two = vs_priv_caps_to_string(BIT(CAP_NET_RAW) | BIT(CAP_CHOWN));
	g_autofree char *high = vs_priv_caps_to_string(BIT(63));

	g_assert_cmpstr(none, ==, "none");
	g_assert_cmpstr(one, ==, "CAP_NET_ADMIN");
	g_assert_cmpstr(two, ==, "CAP_CHOWN CAP_NET_RAW");
	g_assert_cmpstr(high, ==, "capability 63");
}

static void test_hint(void)
{
	g_autofree char *tap = vs_priv_uplink_hint("net_tap0,iface=vt1", 0);
	g_autofree char *afp = vs_priv_uplink_hint("net_af_packet0,iface=v",
						   BIT(CAP_NET_RAW));
	g_autofree char *ok = vs_priv_uplink_hint("net_tap0,iface=vt1", BIT(CAP_NET_ADMIN));
	g_autofree char *vu = vs_priv_uplink_hint("net_virtio_user0,path=/s", 0);

	g_assert_nonnull(tap);
	g_assert_nonnull(strstr(tap, "net_tap0 needs CAP_NET_ADMIN"));
	g_assert_nonnull(strstr(tap, "lacks CAP_NET_ADMIN"));
	g_assert_null(strstr(tap, "iface"));	/* the driver, not the whole devargs */
	g_assert_nonnull(afp);
	g_assert_nonnull(strstr(afp, "lacks CAP_NET_ADMIN ("));
	g_assert_null(ok);
	g_assert_null(vu);
}

static void test_self(void)
{
	g_autofree char *self = vs_priv_describe_self();
	g_autofree char *uid = g_strdup_printf("uid %u (", (unsigned int)geteuid());
	vs_caps have = 0;

	g_assert_true(vs_priv_effective(&have));
	g_assert_true(g_str_has_prefix(self, uid));
	g_assert_nonnull(strstr(self, "capabilities: "));
	if ((have & (BIT(CAP_LAST_CAP + 1) - 1)) == BIT(CAP_LAST_CAP + 1) - 1)
		g_assert_true(g_str_has_suffix(self, "capabilities: all"));
	else
		g_assert_null(strstr(self, "capabilities: all"));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/privs/uplink-caps", test_uplink_caps);
	g_test_add_func("/privs/names", test_names);
	g_test_add_func("/privs/hint", test_hint);
	g_test_add_func("/privs/self", test_self);
	return g_test_run();
}
