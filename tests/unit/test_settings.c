/* lib/settings: starry.yaml's keys and defaults, the shipped file, each
 * infrastructure entry checked as a template on the spot (its errors
 * pointing into starry.yaml) and turned into a template that loads, and
 * the refusals. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "settings.h"
#include "template.h"

struct fixture {
	char dir[PATH_MAX];	/* the temporary folder, real path; the cwd */
	char shipped[PATH_MAX];	/* etc/starry of the source tree */
	char *old_cwd;
};

static struct fixture *F;

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	char *real;

	f->old_cwd = getcwd(NULL, 0);
	snprintf(f->shipped, sizeof f->shipped, "%s/etc/starry", f->old_cwd);
	snprintf(f->dir, sizeof f->dir, "%s/test_settings.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if ((real = realpath(f->dir, NULL)) == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s", real);
	free(real);
	if (chdir(f->dir) < 0 || mkdir("conf", 0755) < 0)
		return -1;
	setenv("SET_TEST_RUNNER", "openstarry", 1);
	unsetenv("SET_TEST_UNSET");
	F = f;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 32];

	if (chdir(f->old_cwd) < 0)
		return -1;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->old_cwd);
	free(f);
	F = NULL;
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static struct settings *
load_ok(const char *text)
{
	struct starry_err err = { 0 };
	struct settings *s = NULL;

	if (text != NULL)
		write_file("conf/starry.yaml", text);
	if (settings_load("conf", &s, &err) < 0)
		fail_msg("settings_load failed: %s", err.msg);
	assert_non_null(s);
	return s;
}

static void
assert_refused(const char *text, const char *expected)
{
	struct starry_err err = { 0 };
	struct settings *s = (struct settings *)1;

	write_file("conf/starry.yaml", text);
	assert_int_equal(settings_load("conf", &s, &err), -1);
	assert_null(s);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, expected);
}

static void
assert_json(json_t *j, const char *expected)
{
	char *s = json_dumps(j, JSON_COMPACT);

	assert_string_equal(s, expected);
	free(s);
}

/* ---- defaults and the shipped file ---------------------------------------- */

static void
test_a_missing_file_is_the_defaults(void **state)
{
	struct settings *s = load_ok(NULL);

	(void)state;
	assert_null(s->file);
	assert_null(s->agent_runner);
	assert_int_equal(s->ninfrastructure, 0);
	assert_null(s->master_template);
	assert_null(s->master_id);
	assert_int_equal(s->log_max, SETTINGS_LOG_MAX_DEFAULT);
	assert_int_equal(s->log_keep, SETTINGS_LOG_KEEP_DEFAULT);
	settings_free(s);
	/* An empty file too. */
	s = load_ok("# nothing yet\n");
	assert_string_equal(s->file, "conf/starry.yaml");
	assert_int_equal(s->ninfrastructure, 0);
	assert_int_equal(s->log_max, 1u << 20);
	settings_free(s);
}

static void
test_the_shipped_file_loads_and_its_entries_are_templates(void **state)
{
	struct starry_err err = { 0 };
	struct settings *s = NULL;
	struct template *t = NULL;

	(void)state;
	if (settings_load(F->shipped, &s, &err) < 0)
		fail_msg("%s: %s", F->shipped, err.msg);
	assert_null(s->agent_runner);
	assert_null(s->master_template);
	assert_int_equal(s->log_max, 1u << 20);
	assert_int_equal(s->log_keep, 3);
	assert_int_equal(s->ninfrastructure, 2);
	assert_string_equal(s->infrastructure[0].name, "bus");
	assert_json(s->infrastructure[0].template,
	    "{\"identity\":{\"id\":\"bus\"},\"runtime\":{\"command\":"
	    "[\"starry-bus\",\"serve\",\"--ready-fd\",\"3\"],\"ready-fd\":3,"
	    "\"restart\":\"always\"}}");
	assert_string_equal(s->infrastructure[1].name, "state");
	assert_json(s->infrastructure[1].template,
	    "{\"identity\":{\"id\":\"state\"},\"runtime\":{\"command\":"
	    "[\"sh\",\"-c\",\"starry-bus sub --ready-fd 3 | exec starry-state "
	    "append\"],\"ready-fd\":3,\"restart\":\"always\"}}");
	for (size_t i = 0; i < s->ninfrastructure; i++) {
		if (template_load_json(s->infrastructure[i].template,
		    s->infrastructure[i].name, "starry.yaml", F->shipped, NULL,
		    &t, &err) < 0)
			fail_msg("%s", err.msg);
		assert_string_equal(t->id, s->infrastructure[i].name);
		assert_int_equal(t->ready_fd, 3);
		assert_int_equal(t->restart, TEMPLATE_RESTART_ALWAYS);
		assert_false(t->manifest);
		template_free(t);
	}
	settings_free(s);
}

/* ---- every key ---------------------------------------------------------------- */

static const char full_yaml[] =
    "agent_runner: [\"${SET_TEST_RUNNER}\", start, --manifest, \"{manifest}\"]\n"
    "infrastructure:\n"
    "  - name: bus\n"
    "    command: [./bin/starry-bus, serve]\n"
    "    ready-fd: 3\n"
    "    restart: always\n"
    "    env: {LEVEL: \"${SET_TEST_RUNNER}\"}\n"
    "  - name: sched\n"
    "    command: [starry-sched, run]\n"
    "    backoff: {initial: 2s, max: 1m}\n"
    "    stop: {signal: INT, timeout: 5s}\n"
    "master: {template: orchestrator, id: master-1}\n"
    "logs: {max: 64K, keep: 0}\n";

static void
test_every_key_is_read(void **state)
{
	struct settings *s = load_ok(full_yaml);
	char want[PATH_MAX + 256];

	(void)state;
	assert_string_equal(s->file, "conf/starry.yaml");
	assert_string_equal(s->agent_runner[0], "openstarry");
	assert_string_equal(s->agent_runner[3], "{manifest}");
	assert_null(s->agent_runner[4]);
	assert_int_equal(s->ninfrastructure, 2);
	/* A relative command path is the config folder's; ${VAR} is kept for
	 * template_load to expand. */
	snprintf(want, sizeof want, "{\"identity\":{\"id\":\"bus\"},\"runtime\":"
	    "{\"command\":[\"%s/conf/bin/starry-bus\",\"serve\"],\"ready-fd\":3,"
	    "\"restart\":\"always\",\"env\":{\"LEVEL\":\"${SET_TEST_RUNNER}\"}}}",
	    F->dir);
	assert_json(s->infrastructure[0].template, want);
	assert_string_equal(s->infrastructure[1].name, "sched");
	assert_string_equal(s->master_template, "orchestrator");
	assert_string_equal(s->master_id, "master-1");
	assert_int_equal(s->log_max, 64 * 1024);
	assert_int_equal(s->log_keep, 0);
	settings_free(s);

	s = load_ok("master: orchestrator\n");
	assert_string_equal(s->master_template, "orchestrator");
	assert_null(s->master_id);
	settings_free(s);
	s = load_ok("agent_runner: [bin/run, \"{manifest}\"]\nmaster: {template: m}\n");
	snprintf(want, sizeof want, "%s/conf/bin/run", F->dir);
	assert_string_equal(s->agent_runner[0], want);
	assert_null(s->master_id);
	settings_free(s);
}

static void
test_an_entry_written_to_a_file_loads_as_a_template(void **state)
{
	struct settings *s = load_ok(full_yaml);
	struct starry_err err = { 0 };
	struct template *t = NULL;
	char *text;

	(void)state;
	text = json_dumps(s->infrastructure[1].template, JSON_INDENT(2));
	write_file("sched.json", text);
	free(text);
	if (template_load("sched.json", NULL, NULL, &t, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(t->id, "sched");
	assert_string_equal(t->argv[0], "starry-sched");
	assert_int_equal(t->backoff_initial_ms, 2000);
	assert_int_equal(t->backoff_max_ms, 60000);
	assert_int_equal(t->stop_signal, 2);
	assert_int_equal(t->stop_timeout_ms, 5000);
	template_free(t);
	if (template_load_json(s->infrastructure[0].template, "bus",
	    "starry.yaml", "conf", NULL, &t, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(t->env[0], "LEVEL=openstarry");
	template_free(t);
	settings_free(s);
}

static void
test_starry_json_when_there_is_no_yaml(void **state)
{
	struct settings *s;

	(void)state;
	write_file("conf/starry.json", "{\"master\": \"from-json\"}");
	s = load_ok(NULL);
	assert_string_equal(s->file, "conf/starry.json");
	assert_string_equal(s->master_template, "from-json");
	settings_free(s);
	/* The YAML file wins when both are there. */
	s = load_ok("master: from-yaml\n");
	assert_string_equal(s->master_template, "from-yaml");
	settings_free(s);
}

/* ---- refusals ------------------------------------------------------------------- */

static void
test_unknown_keys_are_refused_with_a_suggestion(void **state)
{
	(void)state;
	assert_refused("agent_runer: [x]\n",
	    "conf/starry.yaml:1:1: agent_runer: unknown key; did you mean "
	    "'agent_runner'?");
	assert_refused("logs: {max: 1M, kep: 3}\n",
	    "conf/starry.yaml:1:17: logs.kep: unknown key; did you mean 'keep'?");
	assert_refused("master: {templat: m}\n",
	    "conf/starry.yaml:1:10: master.templat: unknown key; did you mean "
	    "'template'?");
	assert_refused(
	    "infrastructure:\n"
	    "  - name: bus\n"
	    "    command: [starry-bus, serve]\n"
	    "    restrat: always\n",
	    "conf/starry.yaml:4:5: infrastructure[0].restrat: unknown key; did "
	    "you mean 'restart'?");
	assert_refused(
	    "infrastructure:\n"
	    "  - name: bus\n"
	    "    command: [starry-bus, serve]\n"
	    "    backoff: {intial: 1s}\n",
	    "conf/starry.yaml:4:15: infrastructure[0].backoff.intial: unknown "
	    "key; did you mean 'initial'?");
	assert_refused("colour: blue\n",
	    "conf/starry.yaml:1:1: colour: unknown key; expected one of "
	    "agent_runner, infrastructure, master, logs");
}

static void
test_agent_runner_is_an_argv(void **state)
{
	(void)state;
	assert_refused("agent_runner: \"openstarry start --manifest {manifest}\"\n",
	    "conf/starry.yaml:1:1: agent_runner: expected a list of strings (an "
	    "argv, never a shell string), got a string");
	assert_refused("agent_runner: []\n",
	    "conf/starry.yaml:1:1: agent_runner: expected a non-empty list of "
	    "strings (an argv)");
	assert_refused("agent_runner: [\"\"]\n",
	    "conf/starry.yaml:1:16: agent_runner[0]: empty command name");
	assert_refused("agent_runner: [x, {a: 1}]\n",
	    "conf/starry.yaml:1:19: agent_runner[1]: expected a string, got an "
	    "object");
	assert_refused("agent_runner: [\"${SET_TEST_UNSET}\"]\n",
	    "conf/starry.yaml:1:16: agent_runner[0]: variable 'SET_TEST_UNSET' "
	    "is not set");
}

static void
test_infrastructure_entries_are_checked(void **state)
{
	(void)state;
	assert_refused("infrastructure: {bus: x}\n",
	    "conf/starry.yaml:1:1: infrastructure: expected a list, got an "
	    "object");
	assert_refused("infrastructure: [bus]\n",
	    "conf/starry.yaml:1:18: infrastructure[0]: expected an object with a "
	    "name and a command, got a string");
	assert_refused("infrastructure:\n  - command: [x]\n",
	    "conf/starry.yaml:2:5: infrastructure[0].name: missing required key");
	assert_refused("infrastructure:\n  - name: bus\n",
	    "conf/starry.yaml:2:5: infrastructure[0].command: missing required "
	    "key");
	assert_refused("infrastructure:\n  - {name: ../bus, command: [x]}\n",
	    "conf/starry.yaml:2:6: infrastructure[0].name: invalid name '../bus' "
	    "(1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-')");
	assert_refused(
	    "infrastructure:\n"
	    "  - {name: bus, command: [a]}\n"
	    "  - {name: state, command: [b]}\n"
	    "  - {name: bus, command: [c]}\n",
	    "conf/starry.yaml:4:6: infrastructure[2].name: duplicate name 'bus' "
	    "(first at infrastructure[0])");
	assert_refused("infrastructure:\n  - {name: bus, command: \"starry-bus serve\"}\n",
	    "conf/starry.yaml:2:17: infrastructure[0].command: expected a list "
	    "of strings (an argv, never a shell string), got a string");
	assert_refused("infrastructure:\n  - {name: bus, command: [x], ready-fd: 1}\n",
	    "conf/starry.yaml:2:31: infrastructure[0].ready-fd: expected an "
	    "integer from 3 to 255, got 1");
	assert_refused("infrastructure:\n  - {name: bus, command: [x], "
	    "env: {A: \"${SET_TEST_UNSET}\"}}\n",
	    "conf/starry.yaml:2:37: infrastructure[0].env.A: variable "
	    "'SET_TEST_UNSET' is not set");
}

static void
test_master_and_logs_are_checked(void **state)
{
	(void)state;
	assert_refused("master: [a]\n",
	    "conf/starry.yaml:1:1: master: expected a template name or an "
	    "object {template, id}, got a list");
	assert_refused("master: \"\"\n",
	    "conf/starry.yaml:1:1: master: empty template name");
	assert_refused("master: {template: \"\"}\n",
	    "conf/starry.yaml:1:10: master.template: empty template name");
	assert_refused("master: {id: m}\n",
	    "conf/starry.yaml:1:1: master.template: missing required key");
	assert_refused("master: {template: m, id: -m}\n",
	    "conf/starry.yaml:1:23: master.id: invalid agent id '-m' (1 to 64 of "
	    "A-Z a-z 0-9 . _ -, not starting with '.' or '-')");
	assert_refused("logs: {keep: 101}\n",
	    "conf/starry.yaml:1:8: logs.keep: expected an integer from 0 to 100, "
	    "got 101");
	assert_refused("logs: {max: 0}\n",
	    "conf/starry.yaml:1:8: logs.max: must be more than 0 bytes");
	assert_refused("logs: {max: 1Q}\n",
	    "conf/starry.yaml:1:8: logs.max: invalid size '1Q': unknown unit "
	    "'Q' (use K, M, G or T, powers of 1024)");
	assert_refused("logs: 3\n",
	    "conf/starry.yaml:1:1: logs: expected an object, got an integer");
	assert_refused("[]\n",
	    "conf/starry.yaml:1:1: expected an object (agent_runner, "
	    "infrastructure, master, logs), got a list");
}

static void
test_an_unreadable_file_is_noinput(void **state)
{
	struct starry_err err = { 0 };
	struct settings *s = (struct settings *)1;

	(void)state;
	assert_int_equal(mkdir("conf/starry.yaml", 0755), 0);
	assert_int_equal(settings_load("conf", &s, &err), -1);
	assert_null(s);
	assert_true(err.code == EX_NOINPUT || err.code == EX_CONFIG);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_a_missing_file_is_the_defaults),
		T(test_the_shipped_file_loads_and_its_entries_are_templates),
		T(test_every_key_is_read),
		T(test_an_entry_written_to_a_file_loads_as_a_template),
		T(test_starry_json_when_there_is_no_yaml),
		T(test_unknown_keys_are_refused_with_a_suggestion),
		T(test_agent_runner_is_an_argv),
		T(test_infrastructure_entries_are_checked),
		T(test_master_and_logs_are_checked),
		T(test_an_unreadable_file_is_noinput),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
