/* lib/signatures and lib/panes: screens made ready for matching, rules in
 * order with their own windows of lines, a second file merged into the
 * first, titles, and the process tree of a real child. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "panes.h"
#include "signatures.h"

static void
load(struct signatures *s, const char *name, const char *yaml)
{
	struct starry_err err;

	if (signatures_load_buffer(s, name, yaml, strlen(yaml), &err) < 0)
		fail_msg("%s", err.msg);
}

static void
test_a_screen_loses_trailing_blanks_and_its_empty_bottom(void **state)
{
	static const char raw[] = "one  \r\n\ttwo\t\n\nthree \n  \n\n   ";
	struct screen sc;

	(void)state;
	assert_int_equal(screen_init(&sc, raw, sizeof raw - 1), 0);
	assert_string_equal(sc.text, "one\n\ttwo\n\nthree\n");
	assert_int_equal(sc.nlines, 4);
	assert_string_equal(screen_tail(&sc, 1), "three\n");
	assert_string_equal(screen_tail(&sc, 2), "\ttwo\n\nthree\n");
	assert_string_equal(screen_tail(&sc, 0), sc.text);
	assert_string_equal(screen_tail(&sc, 99), sc.text);
	screen_free(&sc);
	/* No newline at the end, a NUL inside, and nothing at all. */
	assert_int_equal(screen_init(&sc, "a\0b", 3), 0);
	assert_string_equal(sc.text, "a b\n");
	screen_free(&sc);
	assert_int_equal(screen_init(&sc, "", 0), 0);
	assert_string_equal(sc.text, "");
	assert_int_equal(sc.nlines, 0);
	assert_string_equal(screen_tail(&sc, 3), "");
	screen_free(&sc);
}

static const char two_rules[] =
	"agents:\n"
	"  bot:\n"
	"    name: Bot\n"
	"    lines: 2\n"
	"    otherwise: idle\n"
	"    states:\n"
	"      - {state: running, match: 'busy'}\n"
	"      - {state: waiting_approval, match: ['Allow\\?', 'Permit\\?'],\n"
	"         unless: 'answered', lines: 4}\n";

static enum pane_state
state_of(const struct signatures *s, const char *agent, const char *text)
{
	struct sig_verdict v;
	struct screen sc;

	assert_int_equal(screen_init(&sc, text, strlen(text)), 0);
	sig_agent_state(signatures_find(s, agent), &sc, &v);
	screen_free(&sc);
	return v.state;
}

static void
test_rules_go_in_order_each_in_its_own_lines(void **state)
{
	struct signatures s = {0};

	(void)state;
	load(&s, "a.yaml", two_rules);
	assert_int_equal(state_of(&s, "bot", "x\ny\nbusy\n"), PANE_RUNNING);
	/* busy is three lines up: past the agent's two. */
	assert_int_equal(state_of(&s, "bot", "busy\ny\nz\n"), PANE_IDLE);
	/* The approval rule looks at four. */
	assert_int_equal(state_of(&s, "bot", "Allow?\n1\n2\n3\n"),
	    PANE_WAITING_APPROVAL);
	assert_int_equal(state_of(&s, "bot", "Permit?\n1\n2\n3\n4\n"),
	    PANE_IDLE);
	assert_int_equal(state_of(&s, "bot", "Allow?\nanswered\n"), PANE_IDLE);
	/* The first rule wins when both match. */
	assert_int_equal(state_of(&s, "bot", "Allow?\nbusy\n"), PANE_RUNNING);
	signatures_free(&s);
}

static void
test_a_second_file_goes_first_and_adds(void **state)
{
	struct signatures s = {0};
	const struct sig_agent *a;
	struct starry_err err;
	static const char bad[] =
	    "agents: {bot: {states: [{state: idle, match: 'ok'}]}, x: 3}\n";

	(void)state;
	load(&s, "a.yaml", two_rules);
	load(&s, "b.yaml",
	    "wrappers: ['^ssh$']\n"
	    "agents:\n"
	    "  bot:\n"
	    "    process: {names: '^bot$'}\n"
	    "    states: [{state: error, match: 'busy'}]\n"
	    "  other: {name: Other, screen: 'OTHER'}\n");
	assert_int_equal(s.n, 2);
	a = signatures_find(&s, "bot");
	assert_string_equal(a->name, "Bot");
	assert_int_equal(a->nrules, 3);
	assert_int_equal(a->rules[0].state, PANE_ERROR);
	assert_int_equal(a->names.n, 1);
	assert_int_equal(state_of(&s, "bot", "busy\n"), PANE_ERROR);
	assert_string_equal(signatures_find(&s, "other")->name, "Other");
	assert_int_equal(signatures_find(&s, "other")->otherwise, PANE_UNKNOWN);
	assert_int_equal(s.wrappers.n, 1);
	/* A bad third file changes nothing. */
	assert_int_equal(signatures_load_buffer(&s, "c.yaml", bad, strlen(bad),
	    &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_non_null(strstr(err.msg, "c.yaml:1:55: agents.x: expected an "
	    "object"));
	assert_int_equal(signatures_find(&s, "bot")->nrules, 3);
	assert_null(signatures_find(&s, "x"));
	signatures_free(&s);
}

static void
test_the_title_is_the_last_group(void **state)
{
	struct signatures s = {0};
	const struct sig_agent *a;
	char buf[16];

	(void)state;
	load(&s, "t.yaml", "agents: {bot: {title: ['^(\\*|-) (.+)$', "
	    "'^whole$']}}\n");
	a = signatures_find(&s, "bot");
	assert_true(sig_agent_title(a, "* Fix the bug", buf, sizeof buf));
	assert_string_equal(buf, "Fix the bug");
	assert_true(sig_agent_title(a, "whole", buf, sizeof buf));
	assert_string_equal(buf, "whole");
	/* Cut to fit. */
	assert_true(sig_agent_title(a, "- a title far too long", buf,
	    sizeof buf));
	assert_string_equal(buf, "a title far too");
	assert_false(sig_agent_title(a, "hostname", buf, sizeof buf));
	signatures_free(&s);
}

/* A child named "botagent" under a child of ours: found two levels down
 * by its name; the same tree with no such signature is no agent. */
static void
test_the_agent_is_found_below_the_pane_process(void **state)
{
	struct signatures s = {0};
	struct proc_tab t;
	struct pane_verdict v;
	struct pane_input in = {0};
	int ready[2];
	char c;
	pid_t mid;

	(void)state;
	load(&s, "p.yaml", "agents: {bot: {process: {names: '^botagent$'}, "
	    "states: [{state: running, match: 'working'}]}}\n");
	assert_int_equal(pipe(ready), 0);
	if ((mid = fork()) == 0) {
		pid_t leaf;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((leaf = fork()) == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			prctl(PR_SET_NAME, "botagent");
			if (write(ready[1], "x", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(proc_tab_load(&t), 0);
	in.procs = &t;
	in.pid = mid;
	in.screen = "working\n";
	in.screen_len = 8;
	assert_int_equal(pane_classify(&s, &in, &v, NULL, NULL), 0);
	assert_non_null(v.agent);
	assert_string_equal(v.agent->key, "bot");
	assert_int_equal(v.state, PANE_RUNNING);
	assert_int_equal(v.presence, PRESENCE_MANAGED);
	assert_true(v.agent_pid != mid && v.agent_pid > 0);
	/* The pane's own process, with no agent under another pid. */
	in.pid = getpid();
	in.screen = "";
	in.screen_len = 0;
	signatures_free(&s);
	load(&s, "q.yaml", "agents: {bot: {process: {names: '^nothing$'}}}\n");
	assert_int_equal(pane_classify(&s, &in, &v, NULL, NULL), 0);
	assert_null(v.agent);
	assert_int_equal(v.presence, PRESENCE_UNMANAGED);
	proc_tab_free(&t);
	kill(mid, SIGKILL);
	waitpid(mid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	signatures_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_screen_loses_trailing_blanks_and_its_empty_bottom),
		cmocka_unit_test(test_rules_go_in_order_each_in_its_own_lines),
		cmocka_unit_test(test_a_second_file_goes_first_and_adds),
		cmocka_unit_test(test_the_title_is_the_last_group),
		cmocka_unit_test(test_the_agent_is_found_below_the_pane_process),
	};

	return cmocka_run_group_tests_name("signatures", tests, NULL, NULL);
}
