/* lib/tracker: arbitration between hooks and the poller, hysteresis and
 * pane generations, on a clock the test moves by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

struct log {
	struct track_change c[32];
	struct track_view view[32];
	size_t n;
};

static void
record(void *ctx, const struct track_change *c)
{
	struct log *l = ctx;

	assert_true(l->n < 32);
	l->c[l->n] = *c;
	l->view[l->n] = c->pane->view;
	l->n++;
}

static struct signatures sigs;

static const struct sig_agent *
claude(void)
{
	return signatures_find(&sigs, "claude");
}

static int
setup(void **state)
{
	static const char y[] = "agents: {claude: {name: Claude Code}}\n";
	struct starry_err err;

	(void)state;
	memset(&sigs, 0, sizeof sigs);
	return signatures_load_buffer(&sigs, "t.yaml", y, sizeof y - 1, &err);
}

static int
teardown(void **state)
{
	(void)state;
	signatures_free(&sigs);
	return 0;
}

/* One scan of one pane %1 (pid) that the poller sees in state st. */
static void
scan(struct tracker *t, int64_t now, pid_t pid, enum pane_state st,
    uint64_t hash, struct log *l)
{
	struct pane_verdict v = {0};
	struct track_seen s = {
		.id = "%1", .pid = pid, .session = "work", .target = "work:0.0",
		.verdict = &v, .screen_hash = hash,
	};

	v.agent = claude();
	v.presence = PRESENCE_MANAGED;
	v.evidence = EVIDENCE_HEURISTIC;
	v.state = st;
	v.attention = pane_state_attention(st);
	v.confidence = 0.95;
	snprintf(v.reason, sizeof v.reason, "screen says %s",
	    pane_state_name(st));
	assert_int_equal(tracker_scan(t, now, &s, 1, record, l), 0);
}

static void
hook(struct tracker *t, int64_t now, const char *event, int64_t at,
    struct log *l)
{
	json_t *payload = json_pack("{s:s}", "hook_event_name", event);
	struct hook_meaning m;

	assert_int_equal(hook_meaning("claude", payload, &m), 0);
	assert_int_equal(tracker_hook(t, now, "%1", "claude", "s1", &m, NULL, at,
	    record, l), 0);
	json_decref(payload);
}

/* A hook of session sess saying title (rank PROMPT or RENAME). */
static void
titled_hook(struct tracker *t, int64_t now, const char *event,
    const char *sess, enum title_rank r, const char *title, struct log *l)
{
	json_t *payload = json_pack("{s:s}", "hook_event_name", event);
	struct session_title st = {0};
	struct hook_meaning m;

	if (title != NULL)
		title_offer(&st, r, title, strlen(title));
	assert_int_equal(hook_meaning("claude", payload, &m), 0);
	assert_int_equal(tracker_hook(t, now, "%1", "claude", sess, &m, &st,
	    now, record, l), 0);
	json_decref(payload);
}

static const struct track_view *
last(const struct log *l)
{
	assert_true(l->n > 0);
	return &l->view[l->n - 1];
}

static void
test_a_fresh_hook_wins_goes_stale_and_is_promoted_again(void **state)
{
	struct tracker t;
	struct log l = {0};

	(void)state;
	tracker_init(&t);
	scan(&t, 1000, 42, PANE_IDLE, 1, &l);
	assert_int_equal(last(&l)->state, PANE_IDLE);
	assert_int_equal(last(&l)->evidence, EVIDENCE_HEURISTIC);
	hook(&t, 2000, "UserPromptSubmit", 2000, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	assert_int_equal(last(&l)->evidence, EVIDENCE_DETERMINISTIC);
	/* Still fresh at 3 s: the poller's idle does not count. */
	scan(&t, 5000, 42, PANE_IDLE, 1, &l);
	assert_int_equal(l.n, 2);
	/* Stale: the poller takes over (its idle has held long enough). */
	tracker_tick(&t, 5001, record, &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(last(&l)->state, PANE_IDLE);
	assert_int_equal(last(&l)->evidence, EVIDENCE_HEURISTIC);
	/* One fresh event re-promotes it at once. */
	hook(&t, 9000, "PreToolUse", 9000, &l);
	assert_int_equal(l.n, 4);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	assert_int_equal(last(&l)->evidence, EVIDENCE_DETERMINISTIC);
	/* Stop: idle, and the user should look. */
	hook(&t, 9500, "Stop", 9500, &l);
	assert_int_equal(last(&l)->state, PANE_IDLE);
	assert_int_equal(last(&l)->attention, ATTENTION_FINISHED);
	tracker_free(&t);
}

static void
test_a_session_title_once_bound_is_the_panes_until_the_session_changes(void **state)
{
	struct tracker t;
	struct log l = {0};
	struct pane_verdict v = {0};
	struct track_seen s = {
		.id = "%1", .pid = 42, .session = "work", .target = "work:0.0",
		.verdict = &v, .screen_hash = 1,
	};

	(void)state;
	tracker_init(&t);
	v.agent = claude();
	v.state = PANE_IDLE;
	snprintf(v.title, sizeof v.title, "from the pane");
	assert_int_equal(tracker_scan(&t, 1000, &s, 1, record, &l), 0);
	assert_string_equal(last(&l)->title, "from the pane");
	assert_int_equal(last(&l)->title_from, TITLE_PANE);
	/* The handshake: the session's prompt is the title now. */
	titled_hook(&t, 2000, "UserPromptSubmit", "s1", TITLE_PROMPT,
	    "Fix the parser", &l);
	assert_string_equal(last(&l)->title, "Fix the parser");
	assert_int_equal(last(&l)->title_from, TITLE_PROMPT);
	/* A later prompt is not the session's title; a rename is. */
	titled_hook(&t, 2100, "UserPromptSubmit", "s1", TITLE_PROMPT,
	    "and the tests", &l);
	assert_string_equal(t.v[0].view.title, "Fix the parser");
	titled_hook(&t, 2200, "Stop", "s1", TITLE_RENAME, "parser", &l);
	assert_string_equal(last(&l)->title, "parser");
	/* Stale hooks: the title stays the session's. */
	assert_int_equal(tracker_scan(&t, 9000, &s, 1, record, &l), 0);
	assert_int_equal(t.v[0].view.evidence, EVIDENCE_HEURISTIC);
	assert_string_equal(t.v[0].view.title, "parser");
	/* The agent gone from the screen with no SessionEnd, its hooks
	 * stale: a shell has no session title. */
	v.agent = NULL;
	assert_int_equal(tracker_scan(&t, 9050, &s, 1, record, &l), 0);
	assert_string_equal(t.v[0].view.title, "");
	assert_int_equal(t.v[0].view.title_from, TITLE_NONE);
	v.agent = claude();
	assert_int_equal(tracker_scan(&t, 9060, &s, 1, record, &l), 0);
	/* Another session in the pane starts afresh. */
	titled_hook(&t, 9100, "SessionStart", "s2", TITLE_NONE, NULL, &l);
	assert_string_equal(last(&l)->title, "from the pane");
	titled_hook(&t, 9200, "UserPromptSubmit", "s2", TITLE_PROMPT,
	    "Second session", &l);
	assert_string_equal(last(&l)->title, "Second session");
	/* Its end takes its title away. */
	titled_hook(&t, 9300, "SessionEnd", "s2", TITLE_RENAME, "late", &l);
	assert_string_equal(last(&l)->title, "from the pane");
	tracker_free(&t);
}

static void
test_the_screen_wins_over_a_hook_that_says_running(void **state)
{
	struct tracker t;
	struct log l = {0};

	(void)state;
	tracker_init(&t);
	hook(&t, 1000, "PreToolUse", 1000, &l);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	scan(&t, 1500, 42, PANE_WAITING_APPROVAL, 7, &l);
	assert_int_equal(last(&l)->state, PANE_WAITING_APPROVAL);
	assert_int_equal(last(&l)->attention, ATTENTION_APPROVAL);
	assert_int_equal(last(&l)->evidence, EVIDENCE_DETERMINISTIC);
	assert_non_null(strstr(last(&l)->reason, "the screen shows an "
	    "approval"));
	/* A hook of a later event wins again. */
	hook(&t, 2000, "PostToolUse", 2000, &l);
	scan(&t, 2100, 42, PANE_RUNNING, 8, &l);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	/* An event older than the last is passed over. */
	hook(&t, 2200, "Stop", 1500, &l);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	tracker_free(&t);
}

static void
test_idle_only_after_a_stable_window_and_running_needs_output(void **state)
{
	struct tracker t;
	struct log l = {0};

	(void)state;
	tracker_init(&t);
	scan(&t, 1000, 42, PANE_RUNNING, 1, &l);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	/* A moment of idle between two tool calls does not flap. */
	scan(&t, 2000, 42, PANE_IDLE, 2, &l);
	assert_int_equal(l.n, 1);
	scan(&t, 2500, 42, PANE_RUNNING, 3, &l);
	scan(&t, 3000, 42, PANE_IDLE, 4, &l);
	tracker_tick(&t, 4499, record, &l);
	assert_int_equal(l.n, 1);
	tracker_tick(&t, 4500, record, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(last(&l)->state, PANE_IDLE);
	assert_int_equal(t.v[0].since, 4500);
	/* Running with a screen that has not changed for 8 s is doubted. */
	scan(&t, 5000, 42, PANE_RUNNING, 5, &l);
	assert_true(last(&l)->confidence > 0.9);
	scan(&t, 14000, 42, PANE_RUNNING, 5, &l);
	assert_true(t.v[0].view.confidence < 0.5);
	assert_non_null(strstr(t.v[0].view.reason, "no output for 9 s"));
	tracker_free(&t);
}

static void
test_a_reused_pane_id_is_a_new_generation_and_a_gone_pane_a_tombstone(
    void **state)
{
	struct tracker t;
	struct log l = {0};

	(void)state;
	tracker_init(&t);
	scan(&t, 1000, 42, PANE_RUNNING, 1, &l);
	hook(&t, 1100, "PreToolUse", 1100, &l);
	/* %1 now belongs to another process: the old one is tombstoned and
	 * its hook state does not carry over. */
	scan(&t, 2000, 77, PANE_IDLE, 2, &l);
	assert_true(l.n >= 3);
	assert_true(l.c[l.n - 2].tombstoned);
	assert_int_equal(l.c[l.n - 2].generation, 1);
	assert_false(l.c[l.n - 1].tombstoned);
	assert_int_equal(l.c[l.n - 1].generation, 2);
	assert_int_equal(last(&l)->evidence, EVIDENCE_HEURISTIC);
	assert_int_equal(last(&l)->state, PANE_IDLE);
	/* Gone from the scan: tombstoned. */
	assert_int_equal(tracker_scan(&t, 3000, NULL, 0, record, &l), 0);
	assert_true(l.c[l.n - 1].tombstoned);
	assert_int_equal(l.c[l.n - 1].generation, 2);
	assert_int_equal(t.n, 0);
	tracker_free(&t);
}

/* The same in session sess. */
static int
hook_rc_in(struct tracker *t, int64_t now, const char *event,
    const char *sess, int64_t at, struct log *l)
{
	json_t *payload = json_pack("{s:s}", "hook_event_name", event);
	struct hook_meaning m;
	int rc;

	assert_int_equal(hook_meaning("claude", payload, &m), 0);
	rc = tracker_hook(t, now, "%1", "claude", sess, &m, NULL, at, record,
	    l);
	json_decref(payload);
	return rc;
}

/* A hook event for %1 of session s1 made at at, taken at now:
 * tracker_hook's result. */
static int
hook_rc(struct tracker *t, int64_t now, const char *event, int64_t at,
    struct log *l)
{
	return hook_rc_in(t, now, event, "s1", at, l);
}

static void
test_a_tombstone_keeps_late_hook_events_off_panes_they_are_not_of(
    void **state)
{
	struct tracker t;
	struct log l = {0};
	size_t n;

	(void)state;
	tracker_init(&t);
	scan(&t, 1000, 42, PANE_RUNNING, 1, &l);
	hook(&t, 1100, "PreToolUse", 1100, &l);
	scan(&t, 2000, 77, PANE_IDLE, 2, &l);
	n = l.n;
	/* The old generation's events, made while a scan still saw it, or
	 * in its session before the new one was seen, taken after: not the
	 * new generation's. */
	assert_int_equal(hook_rc(&t, 2100, "Stop", 1000, &l), 1);
	assert_int_equal(hook_rc(&t, 2100, "Stop", 1900, &l), 1);
	assert_int_equal(l.n, n);
	assert_int_equal(t.v[0].view.evidence, EVIDENCE_HEURISTIC);
	assert_int_equal(t.v[0].hook_at, 0);
	/* Another session's, made before the new one was seen: the new
	 * generation's own first event. */
	assert_int_equal(hook_rc_in(&t, 2150, "SessionStart", "s2", 1950, &l),
	    0);
	assert_int_equal(last(&l)->evidence, EVIDENCE_DETERMINISTIC);
	assert_string_equal(t.v[0].hook_session, "s2");
	/* One made after is. */
	assert_int_equal(hook_rc(&t, 2200, "UserPromptSubmit", 2200, &l), 0);
	assert_int_equal(last(&l)->state, PANE_RUNNING);
	assert_int_equal(l.c[l.n - 1].generation, 2);
	/* Gone: a late event makes no pane. */
	assert_int_equal(tracker_scan(&t, 3000, NULL, 0, record, &l), 0);
	n = l.n;
	assert_int_equal(hook_rc(&t, 3100, "Stop", 2950, &l), 1);
	assert_int_equal(hook_rc(&t, 3000 + TRACK_TOMBSTONE_MS,
	    "PreToolUse", 3000 + TRACK_TOMBSTONE_MS, &l), 1);
	assert_int_equal(t.n, 0);
	assert_int_equal(l.n, n);
	/* Its grace over, the tombstone is forgotten: the id is a pane's
	 * again (tmux gives ids anew when its server starts again). */
	assert_int_equal(hook_rc(&t, 3001 + TRACK_TOMBSTONE_MS, "PreToolUse",
	    3001 + TRACK_TOMBSTONE_MS, &l), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.ndead, 0);
	tracker_free(&t);
}

static void
test_hook_events_mean_what_they_say(void **state)
{
	static const struct {
		const char *json;
		enum pane_state state;
		enum pane_attention attention;
	} cases[] = {
		{"{\"hook_event_name\":\"PermissionRequest\"}",
		    PANE_WAITING_APPROVAL, ATTENTION_APPROVAL},
		{"{\"hook_event_name\":\"Notification\",\"notification_type\":"
		    "\"permission_prompt\"}", PANE_WAITING_APPROVAL,
		    ATTENTION_APPROVAL},
		{"{\"hook_event_name\":\"Notification\",\"notification_type\":"
		    "\"idle_prompt\"}", PANE_IDLE, ATTENTION_INPUT},
		{"{\"hook_event_name\":\"Notification\",\"message\":\"Claude "
		    "needs your permission to use Bash\"}",
		    PANE_WAITING_APPROVAL, ATTENTION_APPROVAL},
		{"{\"hook_event_name\":\"StopFailure\"}", PANE_ERROR,
		    ATTENTION_ERROR},
		{"{\"type\":\"agent-turn-complete\",\"turn-id\":\"1\"}",
		    PANE_IDLE, ATTENTION_FINISHED},
		{"{\"hook_event_name\":\"SomethingNew\"}", PANE_UNKNOWN,
		    ATTENTION_NONE},
	};
	struct hook_meaning m;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);

		assert_int_equal(hook_meaning("claude", j, &m), 0);
		assert_int_equal(m.state, cases[i].state);
		assert_int_equal(m.attention, cases[i].attention);
		json_decref(j);
	}
	{
		json_t *j = json_pack("{s:s}", "hook_event_name", "SessionEnd");

		assert_int_equal(hook_meaning("claude", j, &m), 0);
		assert_true(m.gone);
		json_decref(j);
		j = json_pack("{s:i}", "hook_event_name", 3);
		assert_int_equal(hook_meaning("claude", j, &m), -1);
		json_decref(j);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_fresh_hook_wins_goes_stale_and_is_promoted_again),
		cmocka_unit_test(test_a_session_title_once_bound_is_the_panes_until_the_session_changes),
		cmocka_unit_test(test_the_screen_wins_over_a_hook_that_says_running),
		cmocka_unit_test(test_idle_only_after_a_stable_window_and_running_needs_output),
		cmocka_unit_test(test_a_reused_pane_id_is_a_new_generation_and_a_gone_pane_a_tombstone),
		cmocka_unit_test(test_a_tombstone_keeps_late_hook_events_off_panes_they_are_not_of),
		cmocka_unit_test(test_hook_events_mean_what_they_say),
	};

	return cmocka_run_group_tests_name("tracker", tests, setup, teardown);
}
