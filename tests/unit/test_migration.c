/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_migration.c - the migration state machine against what
 * docs/migration.md promises
 *
 * Theory of operation: the scenarios below are written from the
 * documentation, not from the transition table: each is a sequence of
 * events (docs/migration.md, "Signals") with the state the docs say the
 * port is in after each one ("State machine", "Sequence", "Rollback",
 * "Destination restarted during the blackout", "Arming").  They run
 * against the real table, so the two can disagree.  Where they do and an
 * issue tracks it, the scenario names the issue: it is then an expected
 * failure (TAP "# TODO"), and a failure once it passes, so that the mark
 * goes when the table is fixed.  The table itself is not copied here: the
 * all-pairs test checks only the contract of vs_mig_event() (an accepted
 * event moves to vs_mig_next(), a refused one is an error and changes
 * nothing), for every pair.
 */
#include <string.h>

#include <glib.h>

#include "migration.h"

/**
 * struct mig_scenario - a documented sequence
 * @path:	test path
 * @doc:	what docs/migration.md says, in short
 * @steps:	"STATE | EVENT STATE | EVENT STATE ...": the state to start
 *		from, then each event and the state the docs promise after it
 * @issue:	0, or the issue tracking a known disagreement with the table
 */
struct mig_scenario {
	const char *path;
	const char *doc;
	const char *steps;
	unsigned int issue;
};

static const struct mig_scenario mig_scenarios[] = {
	{ "/mig/doc/source/success",
	  "Sequence: log-on opens src-active, the switchover (device-down with logging) "
	  "buffers in src-blackout, RESUMED moves to src-forwarding for linger-ms",
	  "none | device-up none | log-on src-active | device-down src-blackout | "
	  "peer-resumed src-forwarding | linger-expired none", 0 },
	{ "/mig/doc/source/stragglers-after-log-off",
	  "Sequence: the source forwards stragglers until linger-ms ends, whatever QEMU "
	  "does with dirty logging meanwhile",
	  "none | log-on src-active | device-down src-blackout | peer-resumed src-forwarding | "
	  "log-off src-forwarding | device-down src-forwarding | linger-expired none", 0 },
	{ "/mig/doc/source/rollback",
	  "Rollback: device-up on the source in src-blackout replays its buffer",
	  "none | log-on src-active | device-down src-blackout | device-up replaying | "
	  "log-off replaying | replay-done none", 0 },
	{ "/mig/doc/source/cancelled-in-pre-copy",
	  "Signals: log-off is the end of logging; a migration cancelled before the "
	  "switchover leaves the VM running live",
	  "none | log-on src-active | log-off none", 0 },
	{ "/mig/doc/source/blackout-expires",
	  "Destination restarted: the source keeps its buffer for hold-ms, then drops it "
	  "(peer-lost) and forwards live again",
	  "none | log-on src-active | device-down src-blackout | hold-expired none", 0 },
	{ "/mig/doc/destination/resume",
	  "Sequence: migrate-expect arms dst-expecting, new_device() replays, replay-done "
	  "goes live",
	  "none | expect dst-expecting | device-up replaying | replay-done none", 0 },
	{ "/mig/doc/destination/re-armed",
	  "migrate-expect again on an armed port: the expectation starts over",
	  "none | expect dst-expecting | expect dst-expecting | device-up replaying", 0 },
	{ "/mig/doc/destination/long-pre-copy",
	  "State machine: an armed destination stays armed for the whole pre-copy; hold-ms "
	  "(a buffer's age) does not end the expectation, only expect-timeout-ms does",
	  "none | expect dst-expecting | log-on dst-expecting | log-off dst-expecting | "
	  "device-up replaying | replay-done none", 0 },
	{ "/mig/doc/destination/expect-expires",
	  "Arming: expect-timeout-ms passed without the VM: disarmed",
	  "none | expect dst-expecting | expect-expired none", 0 },
	{ "/mig/doc/destination/cancel",
	  "migrate-cancel disarms the destination",
	  "none | expect dst-expecting | cancel none", 0 },
	{ "/mig/doc/destination/source-rolled-back",
	  "Rollback: the destination drops its copy when the source aborts",
	  "none | expect dst-expecting | peer-abort none", 0 },
	{ "/mig/doc/destination/restarted-qemu-first",
	  "Destination restarted: QEMU reconnects to the new process before it is "
	  "re-armed; migrate-expect then resumes at once (device-up) and replays",
	  "none | device-up none | expect dst-expecting | device-up replaying | "
	  "replay-done none", 0 },
	{ "/mig/doc/pause/resume",
	  "State machine: device-down without logging buffers in paused; device-up after a "
	  "pause replays",
	  "none | device-up none | device-down paused | device-up replaying | replay-done none", 0 },
	{ "/mig/doc/pause/expires",
	  "Arming: without arming the source still buffers; after hold-ms the buffer expires",
	  "none | device-down paused | hold-expired none", 0 },
	{ "/mig/doc/pause/then-migrated-in",
	  "Arming: migrate-expect arms a port whatever it did before",
	  "none | device-down paused | expect dst-expecting", 0 },
	{ "/mig/doc/back-to-back/migrated-back-while-forwarding",
	  "A->B->A: the VM comes back to a source still forwarding its stragglers",
	  "none | log-on src-active | device-down src-blackout | peer-resumed src-forwarding | "
	  "expect dst-expecting | device-up replaying | replay-done none", 0 },
	{ "/mig/doc/back-to-back/migrated-on-while-replaying",
	  "Signals: log-on is a migration starting and src-active is entered on log-on; the "
	  "switchover with logging on is src-blackout.  Here the migration starts while the "
	  "port still replays the previous one (within linger-ms of arriving): A->B->C",
	  "none | expect dst-expecting | device-up replaying | log-on src-active | "
	  "device-down src-blackout | peer-resumed src-forwarding", 0 },
	{ "/mig/doc/back-to-back/migrated-on-while-lingering",
	  "The same on the destination of A->B->A: B still replays A's stragglers when the "
	  "VM leaves again",
	  "none | expect dst-expecting | device-up replaying | peer-resumed replaying | "
	  "log-on src-active | device-down src-blackout", 0 },
};

static enum vs_mig_state mig_parse_state(const char *s)
{
	int v = vs_mig_state_from_string(s);

	if (v < 0)
		g_error("scenario: no state '%s'", s);
	return (enum vs_mig_state)v;
}

/*
 * run_scenario() - feed the events, compare each state with the promised one
 *
 * Return: NULL if every step matched, else what differed (g_free it)
 */
static char *run_scenario(const char *steps)
{
	g_auto(GStrv) parts = g_strsplit(steps, "|", -1);
	struct vs_mig m = { .who = "doc" };
	unsigned int i;

	m.state = mig_parse_state(g_strstrip(parts[0]));
	for (i = 1; parts[i]; i++) {
		g_auto(GStrv) ev_state = g_strsplit(g_strstrip(parts[i]), " ", 2);
		g_autoptr(GError) err = NULL;
		enum vs_mig_state want, before = m.state;
		int ev;

		g_assert_nonnull(ev_state[0]);
		g_assert_nonnull(ev_state[1]);
		ev = vs_mig_event_from_string(ev_state[0]);
		if (ev < 0)
			g_error("scenario: no event '%s'", ev_state[0]);
		want = mig_parse_state(ev_state[1]);
		if (!vs_mig_event(&m, ev, NULL, &err))
			return g_strdup_printf("step %u: %s in %s refused (%s), the docs say -> %s", i,
					       ev_state[0], vs_mig_state_to_string(before),
					       err->message, ev_state[1]);
		if (m.state != want)
			return g_strdup_printf("step %u: %s in %s -> %s, the docs say -> %s", i,
					       ev_state[0], vs_mig_state_to_string(before),
					       vs_mig_state_to_string(m.state), ev_state[1]);
	}
	return NULL;
}

static void test_scenario(gconstpointer data)
{
	const struct mig_scenario *sc = data;
	g_autofree char *diff = run_scenario(sc->steps);

	if (g_test_verbose())
		g_test_message("%s: %s", sc->doc, sc->steps);
	if (!sc->issue) {
		if (diff)
			g_test_fail_printf("%s (%s)", diff, sc->doc);
		return;
	}
	if (diff)	/* known: the expected failure */
		g_test_incomplete_printf("issue %u: %s", sc->issue, diff);
	else
		g_test_fail_printf("passes now: remove the mark of issue %u from this scenario",
				   sc->issue);
}

/* vs_mig_event()'s contract for every pair, without a copy of the table */
static void test_all_pairs(void)
{
	int s, e, nlegal = 0;

	for (s = 0; s < VS_MIG_NUM_STATES; s++) {
		for (e = 0; e < VS_MIG_NUM_EVENTS; e++) {
			struct vs_mig m = { .who = "t", .state = s };
			g_autoptr(GError) err = NULL;
			int next = vs_mig_next(s, e);
			enum vs_mig_state old;
			gboolean ok = vs_mig_event(&m, e, &old, &err);

			g_assert_cmpint(old, ==, s);
			if (next >= 0) {
				nlegal++;
				g_assert_true(ok);
				g_assert_no_error(err);
				g_assert_cmpint(m.state, ==, next);
				g_assert_cmpuint(m.transitions, ==, next != s);
			} else {
				g_assert_false(ok);
				g_assert_error(err, VS_MIG_ERROR, 0);
				g_assert_cmpint(m.state, ==, s);	/* unchanged */
				g_assert_cmpuint(m.transitions, ==, 0);
			}
		}
	}
	/* no state is a dead end: every state has a way out */
	for (s = 0; s < VS_MIG_NUM_STATES; s++) {
		bool out = false;

		for (e = 0; e < VS_MIG_NUM_EVENTS; e++)
			out |= vs_mig_next(s, e) >= 0 && vs_mig_next(s, e) != s;
		g_assert_true(out);
	}
	g_assert_cmpint(nlegal, >, 0);
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

/* migrate-expect's vm-uuid/vm-name last as long as the expectation */
static void test_expect_identity(void)
{
	static const enum vs_mig_event ends[] = {
		VS_MIG_EV_DEVICE_UP, VS_MIG_EV_CANCEL, VS_MIG_EV_EXPECT_EXPIRED,
		VS_MIG_EV_PEER_ABORT,
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

/*
 * hold-ms bounds a buffer's age, not an expectation: a destination armed
 * for a pre-copy longer than 2 x hold-ms lost the whole blackout (issue 15)
 */
static void test_expect_no_hold_expiry(void)
{
	g_assert_cmpint(vs_mig_next(VS_MIG_STATE_DST_EXPECTING, VS_MIG_EV_HOLD_EXPIRED), ==, -1);
	g_assert_cmpint(vs_mig_next(VS_MIG_STATE_DST_EXPECTING, VS_MIG_EV_EXPECT_EXPIRED), ==,
			VS_MIG_STATE_NONE);
	/* only an armed port has an expectation to expire */
	for (int s = 0; s < VS_MIG_NUM_STATES; s++)
		if (s != VS_MIG_STATE_DST_EXPECTING)
			g_assert_cmpint(vs_mig_next(s, VS_MIG_EV_EXPECT_EXPIRED), ==, -1);
}

static void test_out_of_range(void)
{
	g_assert_cmpint(vs_mig_next(VS_MIG_NUM_STATES, 0), ==, -1);
	g_assert_cmpint(vs_mig_next(0, VS_MIG_NUM_EVENTS), ==, -1);
}

/*
 * catch-up-us (review 83, S2): once measured, how fast the backlog really
 * shrank, not the pace: a default guest reading 85% of 22000 pps under a
 * 150% pace showed 769 ms while its backlog did not shrink
 */
static void test_catch_up(void)
{
	/* nothing held: caught up */
	g_assert_cmpuint(vs_mig_catch_up_us(0, 22000, 33000, -3300, true), ==, 0);
	/* not measured yet: the pace says 10000 frames at 33000 - 22000 pps */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 22000, 33000, 0, false), ==, 909090);
	/* measured: it grew (the guest takes 18700 of 22000 pps): never */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 22000, 33000, -3300, true), ==, UINT32_MAX);
	/* measured, standing still (a stalled guest, nothing arriving): never */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 0, 33000, 0, true), ==, UINT32_MAX);
	/* measured, it shrinks by 4000 pps: 10000 / 4000 s, whatever the rates */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 22000, 33000, 4000, true), ==, 2500000);
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 40000, 0, 4000, true), ==, 2500000);
	/* the pace is not above the arrival: never */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 22000, 22000, 0, false), ==, UINT32_MAX);
	/* unpaced, not measured: as fast as the ring takes it */
	g_assert_cmpuint(vs_mig_catch_up_us(10000, 22000, 0, 0, false), ==, 0);
	/* saturates: 2^40 frames at 1 pps */
	g_assert_cmpuint(vs_mig_catch_up_us(1ULL << 40, 1, 0, 1, true), ==, UINT32_MAX);
}

int main(int argc, char **argv)
{
	size_t i;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/mig/table/all-pairs", test_all_pairs);
	for (i = 0; i < G_N_ELEMENTS(mig_scenarios); i++)
		g_test_add_data_func(mig_scenarios[i].path, &mig_scenarios[i], test_scenario);
	g_test_add_func("/mig/destination/identity", test_expect_identity);
	g_test_add_func("/mig/destination/no-hold-expiry", test_expect_no_hold_expiry);
	g_test_add_func("/mig/out-of-range", test_out_of_range);
	g_test_add_func("/mig/catch-up", test_catch_up);
	return g_test_run();
}
