/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_migration.c - every legal and every illegal transition
 *
 * The expected table is written out again here as text, independently of
 * the C table, so a typo in either shows up as a failure.
 */
#include <string.h>

#include <glib.h>

#include "migration.h"

static const char *const legal[] = {
	"none log-on src-active",
	"none log-off none",
	"none device-up none",
	"none device-down paused",
	"none expect dst-expecting",
	"none cancel none",
	"paused device-up replaying",
	"paused device-down paused",
	"paused log-off paused",
	"paused hold-expired none",
	"paused expect dst-expecting",
	"paused cancel paused",
	"src-active log-on src-active",
	"src-active log-off none",
	"src-active device-up src-active",
	"src-active device-down src-blackout",
	"src-active cancel src-active",
	"src-blackout log-on src-blackout",
	"src-blackout log-off src-blackout",
	"src-blackout device-up replaying",
	"src-blackout device-down src-blackout",
	"src-blackout peer-resumed src-forwarding",
	"src-blackout hold-expired none",
	"src-blackout cancel src-blackout",
	"src-forwarding log-off src-forwarding",
	"src-forwarding device-down src-forwarding",
	"src-forwarding device-up none",
	"src-forwarding peer-resumed src-forwarding",
	"src-forwarding linger-expired none",
	"src-forwarding expect dst-expecting",
	"src-forwarding cancel none",
	"dst-expecting log-on dst-expecting",
	"dst-expecting log-off dst-expecting",
	"dst-expecting device-up replaying",
	"dst-expecting device-down dst-expecting",
	"dst-expecting expect dst-expecting",
	"dst-expecting cancel none",
	"dst-expecting peer-abort none",
	"dst-expecting hold-expired none",
	"replaying log-off replaying",
	"replaying device-up replaying",
	"replaying device-down paused",
	"replaying peer-resumed replaying",
	"replaying peer-abort replaying",
	"replaying replay-done none",
	"replaying cancel replaying",
};

static const char *expected_next(int s, int e)
{
	g_autofree char *prefix = g_strdup_printf("%s %s ", vs_mig_state_to_string(s),
						  vs_mig_event_to_string(e));
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(legal); i++)
		if (g_str_has_prefix(legal[i], prefix))
			return legal[i] + strlen(prefix);
	return NULL;
}

static void test_all_pairs(void)
{
	int s, e, nlegal = 0;

	for (s = 0; s < VS_MIG_NUM_STATES; s++) {
		for (e = 0; e < VS_MIG_NUM_EVENTS; e++) {
			struct vs_mig m = { .who = "t", .state = s };
			g_autoptr(GError) err = NULL;
			const char *want = expected_next(s, e);
			enum vs_mig_state old;
			gboolean ok = vs_mig_event(&m, e, &old, &err);

			g_assert_cmpint(old, ==, s);
			if (want) {
				nlegal++;
				if (!ok)
					g_error("%s %s rejected: %s", vs_mig_state_to_string(s),
						vs_mig_event_to_string(e), err->message);
				g_assert_cmpstr(vs_mig_state_to_string(m.state), ==, want);
			} else {
				if (ok)
					g_error("%s %s accepted (-> %s)", vs_mig_state_to_string(s),
						vs_mig_event_to_string(e), vs_mig_state_to_string(m.state));
				g_assert_error(err, VS_MIG_ERROR, 0);
				g_assert_cmpint(m.state, ==, s);	/* unchanged */
				g_assert_cmpint(vs_mig_next(s, e), ==, -1);
			}
		}
	}
	g_assert_cmpint(nlegal, ==, G_N_ELEMENTS(legal));
}

static void run(struct vs_mig *m, const enum vs_mig_event *evs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		g_autoptr(GError) err = NULL;

		if (!vs_mig_event(m, evs[i], NULL, &err))
			g_error("step %zu: %s", i, err->message);
	}
}

static void test_source_success(void)
{
	static const enum vs_mig_event evs[] = {
		VS_MIG_EV_DEVICE_UP, VS_MIG_EV_LOG_ON, VS_MIG_EV_DEVICE_DOWN,
		VS_MIG_EV_PEER_RESUMED, VS_MIG_EV_LINGER_EXPIRED,
	};
	struct vs_mig m = { .who = "src" };

	run(&m, evs, G_N_ELEMENTS(evs));
	g_assert_cmpint(m.state, ==, VS_MIG_STATE_NONE);
	g_assert_cmpuint(m.transitions, ==, 4);
}

static void test_source_rollback(void)
{
	static const enum vs_mig_event evs[] = {
		VS_MIG_EV_LOG_ON, VS_MIG_EV_DEVICE_DOWN, VS_MIG_EV_DEVICE_UP,
		VS_MIG_EV_LOG_OFF, VS_MIG_EV_REPLAY_DONE,
	};
	struct vs_mig m = { .who = "src" };

	run(&m, evs, 3);
	g_assert_cmpint(m.state, ==, VS_MIG_STATE_REPLAYING);
	run(&m, evs + 3, 2);
	g_assert_cmpint(m.state, ==, VS_MIG_STATE_NONE);
}

static void test_destination(void)
{
	static const enum vs_mig_event evs[] = {
		VS_MIG_EV_EXPECT, VS_MIG_EV_DEVICE_UP, VS_MIG_EV_REPLAY_DONE,
	};
	struct vs_mig m = { .who = "dst" };

	run(&m, evs, G_N_ELEMENTS(evs));
	g_assert_cmpint(m.state, ==, VS_MIG_STATE_NONE);
}

/* migrate-expect's vm-uuid/vm-name last as long as the expectation */
static void test_expect_identity(void)
{
	static const enum vs_mig_event ends[] = {
		VS_MIG_EV_DEVICE_UP, VS_MIG_EV_CANCEL, VS_MIG_EV_HOLD_EXPIRED,
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(ends); i++) {
		struct vs_mig m = { .who = "dst" };

		g_strlcpy(m.vm_uuid, "6c3f1a2e-8d4b-4f7a-9e21-0b5d7c9a4e11", sizeof(m.vm_uuid));
		g_strlcpy(m.vm_name, "web-01", sizeof(m.vm_name));
		run(&m, (const enum vs_mig_event[]){ VS_MIG_EV_EXPECT, VS_MIG_EV_EXPECT }, 2);
		g_assert_cmpint(m.state, ==, VS_MIG_STATE_DST_EXPECTING);
		g_assert_cmpstr(m.vm_name, ==, "web-01");	/* a re-arm keeps it */
		run(&m, &ends[i], 1);
		g_assert_cmpint(m.state, !=, VS_MIG_STATE_DST_EXPECTING);
		g_assert_cmpstr(m.vm_uuid, ==, "");
		g_assert_cmpstr(m.vm_name, ==, "");
	}
}

static void test_pause_resume(void)
{
	static const enum vs_mig_event evs[] = {
		VS_MIG_EV_DEVICE_UP, VS_MIG_EV_DEVICE_DOWN, VS_MIG_EV_DEVICE_UP,
	};
	struct vs_mig m = { .who = "p" };

	run(&m, evs, G_N_ELEMENTS(evs));
	g_assert_cmpint(m.state, ==, VS_MIG_STATE_REPLAYING);
}

static void test_out_of_range(void)
{
	g_assert_cmpint(vs_mig_next(VS_MIG_NUM_STATES, 0), ==, -1);
	g_assert_cmpint(vs_mig_next(0, VS_MIG_NUM_EVENTS), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mig/table/all-pairs", test_all_pairs);
	g_test_add_func("/mig/source/success", test_source_success);
	g_test_add_func("/mig/source/rollback", test_source_rollback);
	g_test_add_func("/mig/destination/resume", test_destination);
	g_test_add_func("/mig/destination/identity", test_expect_identity);
	g_test_add_func("/mig/pause-resume", test_pause_resume);
	g_test_add_func("/mig/out-of-range", test_out_of_range);
	return g_test_run();
}
