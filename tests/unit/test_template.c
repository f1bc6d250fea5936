/* lib/template: both forms of a template (starry's own and an OpenStarry
 * manifest run under agent_runner), every default, the errors with their
 * places, the resolved form loading back to the same struct, finding and
 * caching templates, ids and signals, and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "template.h"

struct fixture {
	char dir[PATH_MAX];	/* the temporary folder, real path; the cwd */
	char *old_cwd;
};

static struct fixture *F;

static const char *const runner[] = {
	"openstarry", "start", "--manifest", "{manifest}", NULL
};
static const struct template_context with_runner = { runner };
static const struct template_context no_runner = { NULL };

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *tmp = getenv("TMPDIR");
	char *real;

	snprintf(f->dir, sizeof f->dir, "%s/test_template.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	if ((real = realpath(f->dir, NULL)) == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s", real);
	free(real);
	f->old_cwd = getcwd(NULL, 0);
	if (chdir(f->dir) < 0 || mkdir("agents", 0755) < 0 ||
	    mkdir("plugins", 0755) < 0 || mkdir("plugins/git-tools", 0755) < 0)
		return -1;
	setenv("TPL_TEST_LEVEL", "debug", 1);
	unsetenv("TPL_TEST_UNSET");
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
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static struct template *
load_ok_ctx(const char *path, const char *text,
    const struct template_context *ctx)
{
	struct starry_err err = { 0 };
	struct template *t = NULL;

	if (text != NULL)
		write_file(path, text);
	if (template_load(path, NULL, ctx, &t, &err) < 0)
		fail_msg("load of %s failed: %s", path, err.msg);
	assert_non_null(t);
	return t;
}

static struct template *
load_ok(const char *path, const char *text)
{
	return load_ok_ctx(path, text, &with_runner);
}

static void
assert_refused_ctx(const char *text, const struct template_context *ctx,
    const char *expected)
{
	struct starry_err err = { 0 };
	struct template *t = (struct template *)1;

	write_file("agents/t.yaml", text);
	assert_int_equal(template_load("agents/t.yaml", NULL, ctx, &t, &err), -1);
	assert_null(t);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, expected);
}

static void
assert_refused(const char *text, const char *expected)
{
	assert_refused_ctx(text, &with_runner, expected);
}

/* In the fixture's folder: "DIR/rel" (static buffer). */
static const char *
in_dir(const char *rel)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof buf, "%s/%s", F->dir, rel);
	return buf;
}

static const char reviewer_yaml[] =
    "identity: {id: code-reviewer-agent, name: Code reviewer}\n"
    "plugins: [{name: git-tools, path: ../plugins/git-tools}]\n"
    "runtime:\n"
    "  command: [share/starry/agents/reviewer.sh, --level, \"${TPL_TEST_LEVEL}\"]\n"
    "  driver: sandbox\n"
    "  restart: always\n"
    "  backoff: {initial: 1500ms, max: 1m, jitter: 0.5}\n"
    "  holddown: {failures: 7, within: 10m, for: 2h}\n"
    "  limits: {memory: 256M, cpu: 60s, tokens: 100000, nofile: 1024}\n"
    "  stop: {signal: sigint, timeout: 0s}\n"
    "  snapshot: {every: 15m}\n"
    "  env: {LOG_LEVEL: info, DEPTH: 3, VERBOSE: true, RATIO: 0.25, "
    "PRICE: \"$$5 ${TPL_TEST_LEVEL}\"}\n"
    "  ready-fd: 3\n"
    "  network: true\n"
    "cognition: {model: local}\n";

/* ---- the two forms ------------------------------------------------------- */

static void
test_a_full_starry_template_fills_every_field(void **state)
{
	struct template *t = load_ok("agents/reviewer.yaml", reviewer_yaml);
	char plugin[PATH_MAX + 64], argv0[PATH_MAX + 64];

	(void)state;
	snprintf(plugin, sizeof plugin, "%s/plugins/git-tools", F->dir);
	snprintf(argv0, sizeof argv0, "%s/agents/share/starry/agents/reviewer.sh",
	    F->dir);
	assert_string_equal(t->name, "reviewer");
	assert_string_equal(t->file, in_dir("agents/reviewer.yaml"));
	assert_string_equal(t->dir, in_dir("agents"));
	assert_string_equal(t->id, "code-reviewer-agent");
	assert_false(t->manifest);
	assert_int_equal(t->argc, 3);
	assert_string_equal(t->argv[0], argv0);
	assert_string_equal(t->argv[1], "--level");
	assert_string_equal(t->argv[2], "debug");
	assert_null(t->argv[3]);
	assert_int_equal(t->driver, TEMPLATE_DRIVER_SANDBOX);
	assert_int_equal(t->restart, TEMPLATE_RESTART_ALWAYS);
	assert_int_equal(t->backoff_initial_ms, 1500);
	assert_int_equal(t->backoff_max_ms, 60000);
	assert_true(t->backoff_jitter == 0.5);
	assert_int_equal(t->holddown_failures, 7);
	assert_int_equal(t->holddown_within_ms, 600000);
	assert_int_equal(t->holddown_for_ms, 7200000);
	assert_int_equal(t->limit_memory, 256u << 20);
	assert_int_equal(t->limit_cpu_ms, 60000);
	assert_int_equal(t->limit_tokens, 100000);
	assert_int_equal(t->limit_nofile, 1024);
	assert_int_equal(t->stop_signal, SIGINT);
	assert_int_equal(t->stop_timeout_ms, 0);
	assert_int_equal(t->snapshot_every_ms, 900000);
	assert_int_equal(t->ready_fd, 3);
	assert_true(t->network);
	/* Sorted by name; numbers and booleans as JSON writes them. */
	assert_int_equal(t->nenv, 5);
	assert_string_equal(t->env[0], "DEPTH=3");
	assert_string_equal(t->env[1], "LOG_LEVEL=info");
	assert_string_equal(t->env[2], "PRICE=$5 debug");
	assert_string_equal(t->env[3], "RATIO=0.25");
	assert_string_equal(t->env[4], "VERBOSE=true");
	assert_null(t->env[5]);
	assert_int_equal(t->nplugins, 1);
	assert_string_equal(t->plugins[0].name, "git-tools");
	assert_string_equal(t->plugins[0].path, plugin);
	template_free(t);
}

static void
test_a_minimal_template_gets_every_default(void **state)
{
	struct template *t = load_ok("agents/mini.json",
	    "{\"identity\": {\"id\": \"mini\"}, "
	    "\"runtime\": {\"command\": [\"sleep\", \"1\"]}}");
	json_t *rt;
	char *s;

	(void)state;
	assert_string_equal(t->argv[0], "sleep");	/* no '/': PATH's */
	assert_int_equal(t->driver, TEMPLATE_DRIVER_PROCESS);
	assert_int_equal(t->restart, TEMPLATE_RESTART_ON_FAILURE);
	assert_int_equal(t->backoff_initial_ms, TEMPLATE_BACKOFF_INITIAL_MS);
	assert_int_equal(t->backoff_max_ms, TEMPLATE_BACKOFF_MAX_MS);
	assert_true(t->backoff_jitter == TEMPLATE_BACKOFF_JITTER);
	assert_int_equal(t->holddown_failures, TEMPLATE_HOLDDOWN_FAILURES);
	assert_int_equal(t->holddown_within_ms, TEMPLATE_HOLDDOWN_WITHIN_MS);
	assert_int_equal(t->holddown_for_ms, TEMPLATE_HOLDDOWN_FOR_MS);
	assert_int_equal(t->limit_memory, 0);
	assert_int_equal(t->limit_cpu_ms, 0);
	assert_int_equal(t->limit_tokens, 0);
	assert_int_equal(t->limit_nofile, 0);
	assert_int_equal(t->stop_signal, SIGTERM);
	assert_int_equal(t->stop_timeout_ms, TEMPLATE_STOP_TIMEOUT_MS);
	assert_int_equal(t->snapshot_every_ms, 0);
	assert_int_equal(t->ready_fd, -1);
	assert_false(t->network);
	assert_int_equal(t->nenv, 0);
	assert_int_equal(t->nplugins, 0);
	/* The defaults are written out in the resolved form. */
	rt = json_object_get(t->resolved, "runtime");
	s = json_dumps(rt, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s,
	    "{\"backoff\":{\"initial\":\"1s\",\"jitter\":0.20000000000000001,\"max\":\"30s\"},"
	    "\"command\":[\"sleep\",\"1\"],\"driver\":\"process\",\"env\":{},"
	    "\"holddown\":{\"failures\":5,\"for\":\"5m\",\"within\":\"10m\"},"
	    "\"limits\":{\"cpu\":\"0s\",\"memory\":0,\"nofile\":0,\"tokens\":0},"
	    "\"network\":false,\"restart\":\"on-failure\","
	    "\"snapshot\":{\"every\":\"0s\",\"restore\":false},"
	    "\"stop\":{\"signal\":\"TERM\",\"timeout\":\"10s\"}}");
	free(s);
	template_free(t);
}

/* A realistic OpenStarry agent.json. */
static const char manifest_json[] =
    "{\n"
    "  \"identity\": {\n"
    "    \"id\": \"research-agent\",\n"
    "    \"name\": \"Research assistant\",\n"
    "    \"description\": \"Finds and summarises papers\",\n"
    "    \"version\": \"1.2.0\"\n"
    "  },\n"
    "  \"cognition\": {\n"
    "    \"provider\": \"gemini-oauth\",\n"
    "    \"model\": \"gemini-2.0-flash\",\n"
    "    \"temperature\": 0.7,\n"
    "    \"maxTokens\": 8192,\n"
    "    \"reasoning\": {\"mode\": \"react\", \"maxLoops\": 12}\n"
    "  },\n"
    "  \"capabilities\": {\n"
    "    \"tools\": [\"fs.read\", \"web.fetch\", \"agent.start\"],\n"
    "    \"allowedPaths\": [\"/srv/papers\"]\n"
    "  },\n"
    "  \"plugins\": [\n"
    "    {\"name\": \"@openstarry-plugin/provider-gemini-oauth\"},\n"
    "    {\"name\": \"git-tools\", \"path\": \"../plugins/git-tools\",\n"
    "     \"config\": {\"remote\": \"origin\", \"depth\": 1, \"x\": null}}\n"
    "  ],\n"
    "  \"policy\": {\n"
    "    \"maxConcurrentTools\": 2,\n"
    "    \"toolTimeout\": 30000,\n"
    "    \"pain\": {\"threshold\": 3, \"rate\": 0.5}\n"
    "  },\n"
    "  \"memory\": {\"slidingWindowSize\": 5, \"persist\": true},\n"
    "  \"guide\": \"research-guide\",\n"
    "  \"x-anything\": [1, \"two\", {\"three\": [3]}]\n"
    "}\n";

static void
test_a_manifest_runs_under_agent_runner_and_passes_untouched(void **state)
{
	struct template *t = load_ok("agents/agent.json", manifest_json);
	json_t *orig = json_loads(manifest_json, 0, NULL), *copy;
	char plugin[PATH_MAX + 64];

	(void)state;
	assert_true(t->manifest);
	assert_string_equal(t->id, "research-agent");
	assert_int_equal(t->argc, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(t->argv[i], runner[i]);
	assert_int_equal(t->nplugins, 2);
	assert_string_equal(t->plugins[0].name,
	    "@openstarry-plugin/provider-gemini-oauth");
	assert_null(t->plugins[0].path);
	snprintf(plugin, sizeof plugin, "%s/plugins/git-tools", F->dir);
	assert_string_equal(t->plugins[1].path, plugin);
	/* The resolved form is the file, plus runtime and the plugin path. */
	copy = json_deep_copy(t->resolved);
	assert_non_null(json_object_get(copy, "runtime"));
	json_object_del(copy, "runtime");
	json_object_set_new(json_array_get(json_object_get(orig, "plugins"), 1),
	    "path", json_string(plugin));
	assert_true(json_equal(copy, orig));
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    json_object_get(t->resolved, "runtime"), "command"), 3)),
	    "{manifest}");
	json_decref(copy);
	json_decref(orig);
	template_free(t);
}

static void
test_a_manifest_needs_agent_runner_plugins_and_an_id(void **state)
{
	(void)state;
	assert_refused_ctx("identity: {id: a}\nplugins: [{name: p}]\n",
	    &no_runner,
	    "agents/t.yaml:1:1: runtime: no runtime block, and starry.yaml "
	    "sets no agent_runner");
	assert_refused_ctx("identity: {id: a}\nplugins: [{name: p}]\n", NULL,
	    "agents/t.yaml:1:1: runtime: no runtime block, and starry.yaml "
	    "sets no agent_runner");
	assert_refused("identity: {id: a}\ncognition: {}\n",
	    "agents/t.yaml:1:1: plugins: no runtime block, so this is an "
	    "OpenStarry manifest, which needs a non-empty plugins list");
	assert_refused("identity: {id: a}\nplugins: []\n",
	    "agents/t.yaml:2:1: plugins: no runtime block, so this is an "
	    "OpenStarry manifest, which needs a non-empty plugins list");
	assert_refused("identity: {name: a}\nplugins: [{name: p}]\n",
	    "agents/t.yaml:1:1: identity.id: missing required key");
	assert_refused("plugins: [{name: p}]\n",
	    "agents/t.yaml:1:1: identity: missing required key");
}

/* ---- the resolved form loads back to the same struct ------------------------ */

static void
assert_same_template(const struct template *a, const struct template *b)
{
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->dir, b->dir);
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->argc, b->argc);
	for (size_t i = 0; i <= a->argc; i++)
		if (a->argv[i] != NULL || b->argv[i] != NULL)
			assert_string_equal(a->argv[i], b->argv[i]);
	assert_int_equal(a->driver, b->driver);
	assert_int_equal(a->restart, b->restart);
	assert_int_equal(a->backoff_initial_ms, b->backoff_initial_ms);
	assert_int_equal(a->backoff_max_ms, b->backoff_max_ms);
	assert_true(a->backoff_jitter == b->backoff_jitter);
	assert_int_equal(a->holddown_failures, b->holddown_failures);
	assert_int_equal(a->holddown_within_ms, b->holddown_within_ms);
	assert_int_equal(a->holddown_for_ms, b->holddown_for_ms);
	assert_int_equal(a->limit_memory, b->limit_memory);
	assert_int_equal(a->limit_cpu_ms, b->limit_cpu_ms);
	assert_int_equal(a->limit_tokens, b->limit_tokens);
	assert_int_equal(a->limit_nofile, b->limit_nofile);
	assert_int_equal(a->stop_signal, b->stop_signal);
	assert_int_equal(a->stop_timeout_ms, b->stop_timeout_ms);
	assert_int_equal(a->snapshot_every_ms, b->snapshot_every_ms);
	assert_int_equal(a->ready_fd, b->ready_fd);
	assert_int_equal(a->network, b->network);
	assert_int_equal(a->nenv, b->nenv);
	for (size_t i = 0; i < a->nenv; i++)
		assert_string_equal(a->env[i], b->env[i]);
	assert_int_equal(a->nplugins, b->nplugins);
	for (size_t i = 0; i < a->nplugins; i++) {
		assert_string_equal(a->plugins[i].name, b->plugins[i].name);
		if (a->plugins[i].path || b->plugins[i].path)
			assert_string_equal(a->plugins[i].path, b->plugins[i].path);
	}
	assert_true(json_equal(a->resolved, b->resolved));
}

static void
round_trip(const char *file, const char *text)
{
	struct template *a = load_ok(file, text), *b;
	char *dump;
	size_t len;

	dump = template_dump(a, &len);
	assert_non_null(dump);
	assert_int_equal(strlen(dump), len);
	assert_int_equal(dump[len - 1], '\n');
	write_file("agents/frozen.json", dump);
	free(dump);
	/* The environment changes; the frozen template does not. */
	setenv("TPL_TEST_LEVEL", "changed", 1);
	{
		struct starry_err err = { 0 };

		b = NULL;
		if (template_load("agents/frozen.json", a->name, &no_runner, &b,
		    &err) < 0)
			fail_msg("reload failed: %s", err.msg);
	}
	setenv("TPL_TEST_LEVEL", "debug", 1);
	assert_false(b->manifest);
	assert_same_template(a, b);
	template_free(a);
	template_free(b);
}

static void
test_the_resolved_form_loads_back_the_same(void **state)
{
	(void)state;
	round_trip("agents/reviewer.yaml", reviewer_yaml);
	round_trip("agents/agent.json", manifest_json);
	round_trip("agents/mini.yaml",
	    "identity: {id: mini}\nruntime: {command: [./x, \"$HOME\"], "
	    "stop: {signal: 40, timeout: 1d}, backoff: {initial: 2m}, "
	    "limits: {memory: 1000}}\n");
}

static void
test_an_absent_backoff_bound_follows_the_given_one(void **state)
{
	struct template *t;

	(void)state;
	t = load_ok("agents/b.yaml",
	    "identity: {id: b}\nruntime: {command: [x], backoff: {initial: 2m}}\n");
	assert_int_equal(t->backoff_initial_ms, 120000);
	assert_int_equal(t->backoff_max_ms, 120000);
	template_free(t);
	t = load_ok("agents/b.yaml",
	    "identity: {id: b}\nruntime: {command: [x], backoff: {max: 250ms}}\n");
	assert_int_equal(t->backoff_initial_ms, 250);
	assert_int_equal(t->backoff_max_ms, 250);
	template_free(t);
}

/* ---- errors ------------------------------------------------------------------ */

static void
test_errors_name_the_file_line_column_and_key(void **state)
{
	(void)state;
	assert_refused(
	    "identity: {id: code-reviewer-agent}\n"
	    "runtime:\n"
	    "  command: [x]\n"
	    "  driver: process\n"
	    "\n"
	    "\n"
	    "  restart: sometimes\n",
	    "agents/t.yaml:7:3: runtime.restart: expected one of always, "
	    "on-failure, never");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  restrat: always\n",
	    "agents/t.yaml:4:3: runtime.restrat: unknown key; did you mean "
	    "'restart'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  backoff: {inital: 1s}\n",
	    "agents/t.yaml:4:13: runtime.backoff.inital: unknown key; did you "
	    "mean 'initial'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  stop: {signl: TERM}\n",
	    "agents/t.yaml:4:10: runtime.stop.signl: unknown key; did you mean "
	    "'signal'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  limits: {memroy: 1M}\n",
	    "agents/t.yaml:4:12: runtime.limits.memroy: unknown key; did you "
	    "mean 'memory'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  readyfd: 3\n",
	    "agents/t.yaml:4:3: runtime.readyfd: unknown key; did you mean "
	    "'ready-fd'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  holddown: {failures: 1, within: 1m, fro: 1m}\n",
	    "agents/t.yaml:4:39: runtime.holddown.fro: unknown key; did you "
	    "mean 'for'?");
	assert_refused("identity: {id: a}\nruntime:\n  command: [x]\n"
	    "  snapshot: {evry: 1m}\n",
	    "agents/t.yaml:4:14: runtime.snapshot.evry: unknown key; did you "
	    "mean 'every'?");
}

static void
test_each_runtime_value_is_checked(void **state)
{
	(void)state;
	assert_refused("identity: {id: a}\nruntime: {command: \"x --y\"}\n",
	    "agents/t.yaml:2:11: runtime.command: expected a list of strings "
	    "(an argv, never a shell string), got a string");
	assert_refused("identity: {id: a}\nruntime: {command: []}\n",
	    "agents/t.yaml:2:11: runtime.command: expected a non-empty list of "
	    "strings (an argv)");
	assert_refused("identity: {id: a}\nruntime: {driver: process}\n",
	    "agents/t.yaml:2:1: runtime.command: missing required key");
	assert_refused("identity: {id: a}\nruntime: {command: [\"\", y]}\n",
	    "agents/t.yaml:2:21: runtime.command[0]: empty command name");
	assert_refused("identity: {id: a}\nruntime: {command: [x, 3]}\n",
	    "agents/t.yaml:2:24: runtime.command[1]: expected a string, got an "
	    "integer");
	assert_refused("identity: {id: a}\nruntime: {command: [x, \"${TPL_TEST_UNSET}\"]}\n",
	    "agents/t.yaml:2:24: runtime.command[1]: variable 'TPL_TEST_UNSET' "
	    "is not set");
	assert_refused("identity: {id: a}\nruntime: {command: [\"${TPL_TEST_UNSET:-}\"]}\n",
	    "agents/t.yaml:2:21: runtime.command[0]: empty command name");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "env: {A: \"${TPL_TEST_UNSET}\"}}\n",
	    "agents/t.yaml:2:31: runtime.env.A: variable 'TPL_TEST_UNSET' is "
	    "not set");
	assert_refused("identity: {id: a}\nruntime: {command: [x], env: {A: [1]}}\n",
	    "agents/t.yaml:2:31: runtime.env.A: expected a string, a number or "
	    "a boolean, got a list");
	assert_refused("identity: {id: a}\nruntime: {command: [x], env: {A-B: 1}}\n",
	    "agents/t.yaml:2:31: runtime.env.A-B: invalid variable name (use "
	    "letters, digits and '_', not starting with a digit)");
	assert_refused("identity: {id: a}\nruntime: {command: [x], driver: vm}\n",
	    "agents/t.yaml:2:25: runtime.driver: expected one of process, "
	    "sandbox, docker, wasm");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "backoff: {initial: 10s, max: 5s}}\n",
	    "agents/t.yaml:2:49: runtime.backoff.max: must be at least "
	    "backoff.initial (10s)");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "backoff: {initial: 0s}}\n",
	    "agents/t.yaml:2:35: runtime.backoff.initial: must be longer than 0s");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "backoff: {jitter: 1.5}}\n",
	    "agents/t.yaml:2:35: runtime.backoff.jitter: expected a number from "
	    "0 to 1, got 1.5");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "holddown: {within: 0s}}\n",
	    "agents/t.yaml:2:36: runtime.holddown.within: must be longer than 0s");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "holddown: {failures: -1}}\n",
	    "agents/t.yaml:2:36: runtime.holddown.failures: expected an integer "
	    "from 0 to 64, got -1");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "stop: {signal: TERMINATE}}\n",
	    "agents/t.yaml:2:32: runtime.stop.signal: unknown signal 'TERMINATE' "
	    "(use a name such as TERM, INT, HUP, or a number from 1 to 64)");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "stop: {signal: 65}}\n",
	    "agents/t.yaml:2:32: runtime.stop.signal: expected an integer from "
	    "1 to 64, got 65");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "stop: {timeout: 10}}\n",
	    "agents/t.yaml:2:32: runtime.stop.timeout: invalid duration '10': "
	    "add a unit (ms, s, m, h or d), e.g. '10s'");
	assert_refused("identity: {id: a}\nruntime: {command: [x], ready-fd: 2}\n",
	    "agents/t.yaml:2:25: runtime.ready-fd: expected an integer from 3 "
	    "to 255, got 2");
	assert_refused("identity: {id: a}\nruntime: {command: [x], network: yes}\n",
	    "agents/t.yaml:2:25: runtime.network: expected true or false, got "
	    "'yes' (a string in YAML 1.2)");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "limits: {memory: 2.5G}}\n",
	    "agents/t.yaml:2:34: runtime.limits.memory: invalid size '2.5G': use "
	    "whole numbers, e.g. '1536M' rather than '1.5G'");
	assert_refused("identity: {id: a}\nruntime: {command: [x], "
	    "limits: {memory: 9000000T}}\n",
	    "agents/t.yaml:2:34: runtime.limits.memory: too large");
	assert_refused("identity: {id: a}\nruntime: null\n",
	    "agents/t.yaml:2:1: runtime: expected an object, got null");
	assert_refused("identity: {id: a}\nruntime: [command]\n",
	    "agents/t.yaml:2:1: runtime: expected an object, got a list");
}

static void
test_identity_and_plugins_are_checked(void **state)
{
	(void)state;
	assert_refused("identity: {id: \"no spaces\"}\nruntime: {command: [x]}\n",
	    "agents/t.yaml:1:12: identity.id: invalid agent id 'no spaces' (1 "
	    "to 64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-')");
	assert_refused("identity: {id: ..}\nruntime: {command: [x]}\n",
	    "agents/t.yaml:1:12: identity.id: invalid agent id '..' (1 to 64 of "
	    "A-Z a-z 0-9 . _ -, not starting with '.' or '-')");
	assert_refused("identity: {id: \"\"}\nruntime: {command: [x]}\n",
	    "agents/t.yaml:1:12: identity.id: invalid agent id '' (1 to 64 of "
	    "A-Z a-z 0-9 . _ -, not starting with '.' or '-')");
	assert_refused("identity: {id: 42}\nruntime: {command: [x]}\n",
	    "agents/t.yaml:1:12: identity.id: expected a string, got an integer");
	assert_refused("identity: code-reviewer\nruntime: {command: [x]}\n",
	    "agents/t.yaml:1:1: identity: expected an object, got a string");
	assert_refused("identity: {id: a}\nplugins: {name: p}\n",
	    "agents/t.yaml:2:1: plugins: expected a list, got an object");
	assert_refused("identity: {id: a}\nplugins: [git-tools]\n",
	    "agents/t.yaml:2:11: plugins[0]: expected an object with a name, "
	    "got a string");
	assert_refused("identity: {id: a}\nplugins: [{path: .}]\n",
	    "agents/t.yaml:2:11: plugins[0].name: missing required key");
	assert_refused("identity: {id: a}\nplugins: [{name: \"\"}]\n",
	    "agents/t.yaml:2:12: plugins[0].name: empty plugin name");
	assert_refused("identity: {id: a}\nplugins:\n  - name: p\n"
	    "    path: ../plugins/nope\n",
	    "agents/t.yaml:4:5: plugins[0].path: ../plugins/nope: No such file "
	    "or directory");
	assert_refused("identity: {id: a}\nplugins: [{name: p, path: \"\"}]\n",
	    "agents/t.yaml:2:21: plugins[0].path: empty path");
	assert_refused("- identity\n",
	    "agents/t.yaml:1:1: expected an object (identity, plugins, runtime, "
	    "...), got a list");
}

static void
test_a_missing_file_is_noinput(void **state)
{
	struct starry_err err = { 0 };
	struct template *t = (struct template *)1;

	(void)state;
	assert_int_equal(template_load("agents/none.yaml", NULL, &with_runner,
	    &t, &err), -1);
	assert_null(t);
	assert_int_equal(err.code, EX_NOINPUT);
	assert_string_equal(err.msg,
	    "agents/none.yaml: No such file or directory");
}

/* ---- paths ---------------------------------------------------------------------- */

static void
test_paths_resolve_against_the_real_folder(void **state)
{
	struct template *t;
	char want[PATH_MAX + 64];

	(void)state;
	/* A folder reached through a symbolic link is its real one. */
	assert_int_equal(mkdir("real", 0755), 0);
	assert_int_equal(mkdir("real/tools", 0755), 0);
	assert_int_equal(symlink("real", "link"), 0);
	t = load_ok("link/a.yaml",
	    "identity: {id: a}\n"
	    "plugins: [{name: t, path: tools}, {name: up, path: ../plugins/../agents},"
	    " {name: abs, path: /}]\n"
	    "runtime: {command: [./bin/../run.sh, ./x]}\n");
	assert_string_equal(t->dir, in_dir("real"));
	assert_string_equal(t->file, in_dir("real/a.yaml"));
	assert_string_equal(t->name, "a");
	assert_string_equal(t->plugins[0].path, in_dir("real/tools"));
	/* Escaping the folder with ../ is fine when the target exists. */
	assert_string_equal(t->plugins[1].path, in_dir("agents"));
	assert_string_equal(t->plugins[2].path, "/");
	snprintf(want, sizeof want, "%s/real/bin/../run.sh", F->dir);
	assert_string_equal(t->argv[0], want);
	assert_string_equal(t->argv[1], "./x");
	template_free(t);
	/* A runner's relative first element resolves the same way. */
	{
		static const char *const rel[] = { "bin/run", "{manifest}", NULL };
		static const struct template_context ctx = { rel };

		t = load_ok_ctx("agents/m.yaml",
		    "identity: {id: m}\nplugins: [{name: p}]\n", &ctx);
		snprintf(want, sizeof want, "%s/agents/bin/run", F->dir);
		assert_string_equal(t->argv[0], want);
		template_free(t);
	}
}

/* ---- template_command ------------------------------------------------------------- */

static void
test_command_fills_manifest_and_appends_extra(void **state)
{
	static const char *const r[] = {
		"run", "--manifest={manifest}", "{manifest}:{manifest}", "{manifes}",
		NULL
	};
	static const struct template_context ctx = { r };
	char *const extra[] = { "--debug", "" };
	struct template *t;
	char **argv;

	(void)state;
	t = load_ok_ctx("agents/m.yaml",
	    "identity: {id: m}\nplugins: [{name: p}]\n", &ctx);
	argv = template_command(t, "/h/agents/m/template.json", extra, 2);
	assert_non_null(argv);
	assert_string_equal(argv[0], "run");
	assert_string_equal(argv[1], "--manifest=/h/agents/m/template.json");
	assert_string_equal(argv[2],
	    "/h/agents/m/template.json:/h/agents/m/template.json");
	assert_string_equal(argv[3], "{manifes}");
	assert_string_equal(argv[4], "--debug");
	assert_string_equal(argv[5], "");
	assert_null(argv[6]);
	template_argv_free(argv);
	argv = template_command(t, NULL, NULL, 0);
	assert_string_equal(argv[1], "--manifest={manifest}");
	assert_null(argv[4]);
	template_argv_free(argv);
	template_free(t);
}

/* ---- finding ------------------------------------------------------------------------ */

struct seen {
	char text[1024];
	int stop_at;
	int calls;
};

static int
collect(void *ctx, const char *name, const char *path)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);
	const char *base = strrchr(path, '/') + 1;

	snprintf(s->text + n, sizeof s->text - n, "%s=%s ", name, base);
	return ++s->calls == s->stop_at ? -1 : 0;
}

static void
test_each_lists_templates_by_name(void **state)
{
	struct starry_err err = { 0 };
	struct seen s = { .stop_at = -1 };

	(void)state;
	write_file("agents/reviewer.yaml", "{}");
	write_file("agents/reviewer.json", "{}");
	write_file("agents/b.json", "{}");
	write_file("agents/a.yml", "{}");
	write_file("agents/.hidden.yaml", "{}");
	write_file("agents/notes.txt", "{}");
	write_file("agents/.yaml", "{}");
	write_file("agents/backup.yaml~", "{}");
	assert_int_equal(mkdir("agents/dir.yaml", 0755), 0);
	assert_int_equal(symlink("nowhere", "agents/dangling.yaml"), 0);
	assert_int_equal(template_each(".", collect, &s, &err), 0);
	assert_string_equal(s.text,
	    "a=a.yml b=b.json reviewer=reviewer.yaml ");
	/* fn's -1 stops the walk. */
	memset(&s, 0, sizeof s);
	s.stop_at = 2;
	assert_int_equal(template_each(".", collect, &s, &err), -1);
	assert_int_equal(s.calls, 2);
	/* No agents folder: no templates. */
	memset(&s, 0, sizeof s);
	assert_int_equal(template_each("plugins", collect, &s, &err), 0);
	assert_int_equal(s.calls, 0);
}

static void
test_find_tries_the_extensions_and_suggests(void **state)
{
	struct starry_err err = { 0 };
	char *path = NULL;

	(void)state;
	write_file("agents/reviewer.json", "{}");
	write_file("agents/writer.yml", "{}");
	assert_int_equal(template_find(".", "reviewer", &path, &err), 0);
	assert_string_equal(path, "./agents/reviewer.json");
	free(path);
	write_file("agents/reviewer.yaml", "{}");
	assert_int_equal(template_find(".", "reviewer", &path, &err), 0);
	assert_string_equal(path, "./agents/reviewer.yaml");
	free(path);
	assert_int_equal(template_find(".", "writer", &path, &err), 0);
	assert_string_equal(path, "./agents/writer.yml");
	free(path);
	assert_int_equal(template_find(".", "revewer", &path, &err), -1);
	assert_null(path);
	assert_int_equal(err.code, EX_NOINPUT);
	assert_string_equal(err.msg,
	    "no template 'revewer' in ./agents (did you mean 'reviewer'?)");
	assert_int_equal(template_find(".", "zzzzzz", &path, &err), -1);
	assert_string_equal(err.msg, "no template 'zzzzzz' in ./agents");
	assert_int_equal(template_find(".", "..", &path, &err), -1);
	assert_int_equal(template_find(".", "", &path, &err), -1);
	/* A name with a '/' is a path. */
	assert_int_equal(template_find("/nonexistent", "./agents/writer.yml",
	    &path, &err), 0);
	assert_string_equal(path, "./agents/writer.yml");
	free(path);
	assert_int_equal(template_find(".", "agents/none.yaml", &path, &err), -1);
	assert_string_equal(err.msg, "agents/none.yaml: No such file or directory");
	assert_int_equal(template_find(".", "agents/", &path, &err), -1);
	assert_int_equal(err.code, EX_NOINPUT);
}

/* ---- the cache ------------------------------------------------------------------------ */

static void
test_cache_store_writes_the_resolved_json_privately(void **state)
{
	struct starry_err err = { 0 };
	struct template *t = load_ok("agents/reviewer.yaml", reviewer_yaml);
	char *path = template_cache_path("home", "reviewer"), *dump, buf[65536];
	struct stat st;
	ssize_t n;
	int fd;

	(void)state;
	assert_string_equal(path, "home/templates.cache/reviewer.json");
	assert_int_equal(template_cache_store("home", t, &err), 0);
	assert_int_equal(stat("home/templates.cache", &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	dump = template_dump(t, NULL);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, dump);
	free(dump);
	/* Stored again: replaced. */
	assert_int_equal(template_cache_store("home", t, &err), 0);
	free(path);
	/* A name that cannot be a file name is refused. */
	free(t->name);
	t->name = strdup("../evil");
	assert_int_equal(template_cache_store("home", t, &err), -1);
	assert_int_equal(err.code, EX_DATAERR);
	template_free(t);
}

/* ---- ids and signals ----------------------------------------------------------------------- */

static void
test_agent_ids(void **state)
{
	char long_id[80];

	(void)state;
	assert_true(template_id_valid("code-reviewer-agent"));
	assert_true(template_id_valid("a"));
	assert_true(template_id_valid("A_1.b-c"));
	assert_true(template_id_valid("a.."));
	assert_true(template_id_valid("_x"));
	assert_false(template_id_valid(NULL));
	assert_false(template_id_valid(""));
	assert_false(template_id_valid("."));
	assert_false(template_id_valid(".."));
	assert_false(template_id_valid(".hidden"));
	assert_false(template_id_valid("-rf"));
	assert_false(template_id_valid("a/b"));
	assert_false(template_id_valid("a b"));
	assert_false(template_id_valid("caf\xc3\xa9"));
	assert_false(template_id_valid("a\n"));
	memset(long_id, 'x', 64);
	long_id[64] = '\0';
	assert_true(template_id_valid(long_id));
	long_id[64] = 'x';
	long_id[65] = '\0';
	assert_false(template_id_valid(long_id));
}

static void
test_signal_names_and_numbers(void **state)
{
	static const char *const names[] = {
		"TERM", "INT", "HUP", "QUIT", "KILL", "USR1", "USR2", "ALRM",
		"CONT", "STOP", "WINCH", NULL
	};

	(void)state;
	assert_int_equal(template_signal_number("TERM"), SIGTERM);
	assert_int_equal(template_signal_number("SIGTERM"), SIGTERM);
	assert_int_equal(template_signal_number("sigterm"), SIGTERM);
	assert_int_equal(template_signal_number("kill"), SIGKILL);
	assert_int_equal(template_signal_number("Usr1"), SIGUSR1);
	assert_int_equal(template_signal_number("15"), 15);
	assert_int_equal(template_signal_number("1"), 1);
	assert_int_equal(template_signal_number("64"), 64);
	assert_int_equal(template_signal_number("0"), -1);
	assert_int_equal(template_signal_number("65"), -1);
	assert_int_equal(template_signal_number("015"), -1);
	assert_int_equal(template_signal_number("0015"), -1);
	assert_int_equal(template_signal_number("-9"), -1);
	assert_int_equal(template_signal_number("9x"), -1);
	assert_int_equal(template_signal_number(""), -1);
	assert_int_equal(template_signal_number("SIG"), -1);
	assert_int_equal(template_signal_number("SIGSIGTERM"), -1);
	assert_int_equal(template_signal_number(NULL), -1);
	for (size_t i = 0; names[i] != NULL; i++) {
		int sig = template_signal_number(names[i]);

		assert_true(sig > 0);
		assert_string_equal(template_signal_name(sig), names[i]);
	}
	assert_null(template_signal_name(0));
	assert_null(template_signal_name(40));
	assert_string_equal(template_driver_name(TEMPLATE_DRIVER_WASM), "wasm");
	assert_string_equal(template_restart_name(TEMPLATE_RESTART_ON_FAILURE),
	    "on-failure");
}

/* ---- other entry points ---------------------------------------------------------------------- */

static void
test_load_json_and_check_runtime(void **state)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;
	struct config_scope root, entry;
	struct template *t = NULL;
	static const char *const also[] = { "name", NULL };
	const char *text = "- name: bus\n  command: [bin/bus, serve]\n"
	    "  restart: alwys\n";
	json_t *j;

	(void)state;
	j = json_pack("{s:{s:s},s:{s:[s,s],s:i}}", "identity", "id", "bus",
	    "runtime", "command", "bin/bus", "serve", "ready-fd", 3);
	assert_int_equal(template_load_json(j, "bus", "starry.yaml", "agents",
	    &no_runner, &t, &err), 0);
	assert_string_equal(t->name, "bus");
	assert_string_equal(t->file, "starry.yaml");
	assert_string_equal(t->dir, in_dir("agents"));
	assert_int_equal(t->ready_fd, 3);
	assert_string_equal(t->argv[0], in_dir("agents/bin/bus"));
	template_free(t);
	json_object_set_new(json_object_get(j, "runtime"), "restart",
	    json_string("later"));
	assert_int_equal(template_load_json(j, "bus", "starry.yaml", "agents",
	    &no_runner, &t, &err), -1);
	assert_string_equal(err.msg, "starry.yaml:11:5: runtime.restart: "
	    "expected one of always, on-failure, never");
	json_decref(j);

	assert_int_equal(config_load_buffer("s.yaml", text, strlen(text), &doc,
	    &err), 0);
	config_scope_root(doc, &root);
	config_scope_element(&root, 0, &entry);
	assert_int_equal(template_check_runtime(&entry, also, &err), -1);
	assert_string_equal(err.msg, "s.yaml:3:3: [0].restart: expected one of "
	    "always, on-failure, never");
	config_doc_free(doc);
	text = "- name: bus\n  command: [bin/bus, serve]\n  nmae: x\n";
	assert_int_equal(config_load_buffer("s.yaml", text, strlen(text), &doc,
	    &err), 0);
	config_scope_root(doc, &root);
	config_scope_element(&root, 0, &entry);
	assert_int_equal(template_check_runtime(&entry, also, &err), -1);
	assert_string_equal(err.msg,
	    "s.yaml:3:3: [0].nmae: unknown key; did you mean 'name'?");
	assert_int_equal(template_check_runtime(&entry, NULL, &err), -1);
	assert_string_equal(err.msg,
	    "s.yaml:1:3: [0].name: unknown key; expected one of command, driver, "
	    "restart, backoff, holddown, limits, stop, snapshot, env, ready-fd, "
	    "network");
	config_doc_free(doc);
}

/* ---- hostile input ------------------------------------------------------------------------------ */

static void
test_hostile_input_is_refused_cleanly(void **state)
{
	struct starry_err err = { 0 };
	struct template *t = NULL;
	size_t big = CONFIG_MAX_BYTES + 16, i;
	char *text;
	FILE *fp;

	(void)state;
	/* Larger than a configuration file may be. */
	fp = fopen("agents/huge.yaml", "w");
	assert_non_null(fp);
	fputs("identity: {id: a}\nx: \"", fp);
	for (i = 0; i < big; i++)
		fputc('a', fp);
	fputs("\"\n", fp);
	fclose(fp);
	assert_int_equal(template_load("agents/huge.yaml", NULL, &with_runner,
	    &t, &err), -1);
	assert_null(t);
	assert_int_equal(err.code, EX_CONFIG);
	assert_non_null(strstr(err.msg, "larger than the limit"));
	/* Nested deeper than allowed, inside a pass-through block. */
	text = malloc(4096);
	strcpy(text, "identity: {id: a}\nruntime: {command: [x]}\ncognition: ");
	for (i = 0; i < 100; i++)
		strcat(text, "[");
	for (i = 0; i < 100; i++)
		strcat(text, "]");
	strcat(text, "\n");
	write_file("agents/deep.yaml", text);
	assert_int_equal(template_load("agents/deep.yaml", NULL, &with_runner,
	    &t, &err), -1);
	assert_non_null(strstr(err.msg, "nested more than 64 levels deep"));
	free(text);
	/* Deep but allowed: passes through untouched and reloads the same. */
	text = malloc(4096);
	strcpy(text, "identity: {id: a}\nruntime: {command: [x]}\npolicy: ");
	for (i = 0; i < 60; i++)
		strcat(text, "{a: ");
	strcat(text, "1");
	for (i = 0; i < 60; i++)
		strcat(text, "}");
	strcat(text, "\n");
	round_trip("agents/deep.yaml", text);
	free(text);
	/* Not a template at all. */
	assert_refused("\"just a string\"\n",
	    "agents/t.yaml:1:1: expected an object (identity, plugins, runtime, "
	    "...), got a string");
	assert_refused("identity: {id: a\n",
	    "agents/t.yaml:2:1: did not find expected ',' or '}' (while parsing "
	    "a flow mapping at 1:11)");
	/* An empty file is an empty object: no identity. */
	assert_refused("", "agents/t.yaml:1:1: identity: missing required key");
	/* A long odd id is cut short in the message. */
	text = malloc(400);
	strcpy(text, "identity: {id: \"");
	for (i = 0; i < 300; i++)
		strcat(text, "x");
	strcat(text, "\"}\nruntime: {command: [x]}\n");
	write_file("agents/t.yaml", text);
	assert_int_equal(template_load("agents/t.yaml", NULL, &with_runner, &t,
	    &err), -1);
	assert_true(strlen(err.msg) < 300);
	assert_non_null(strstr(err.msg, "x...' (1 to 64"));
	free(text);
	/* Many plugins, each resolved. */
	text = malloc(200000);
	strcpy(text, "identity: {id: a}\nruntime: {command: [x]}\nplugins:\n");
	for (i = 0; i < 2000; i++)
		strcat(text, "  - {name: git, path: ../plugins/git-tools}\n");
	t = load_ok("agents/many.yaml", text);
	assert_int_equal(t->nplugins, 2000);
	assert_string_equal(t->plugins[1999].path, in_dir("plugins/git-tools"));
	template_free(t);
	free(text);
}

/* ---- templates remembered ------------------------------------------------------------ */

static void
test_a_memo_gives_the_same_template_while_the_file_is_unchanged(void **state)
{
	struct template_memo *m = template_memo_new();
	struct starry_err err = { 0 };
	const struct template *a, *b;

	(void)state;
	assert_non_null(m);
	write_file("agents/w.yaml", "identity: {id: one}\n"
	    "plugins: [{name: git, path: ../plugins/git-tools}]\n"
	    "runtime: {command: [x]}\n");
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &a, &err), 0);
	assert_string_equal(a->id, "one");
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &b, &err), 0);
	assert_ptr_equal(a, b);
	/* Another name for the same file is another template. */
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "other",
	    &with_runner, &b, &err), 0);
	assert_true(a != b);
	assert_string_equal(b->name, "other");
	/* Rewritten in place. */
	write_file("agents/w.yaml", "identity: {id: two}\n"
	    "plugins: [{name: git, path: ../plugins/git-tools}]\n"
	    "runtime: {command: [x, y]}\n");
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &a, &err), 0);
	assert_string_equal(a->id, "two");
	/* A plugin gone: loaded again, and refused as a load refuses it. */
	assert_int_equal(rmdir("plugins/git-tools"), 0);
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &a, &err), -1);
	assert_null(a);
	assert_int_equal(err.code, EX_CONFIG);
	assert_non_null(strstr(err.msg, "plugins[0].path"));
	assert_int_equal(mkdir("plugins/git-tools", 0755), 0);
	/* Made invalid: forgotten, and the error is the load's. */
	write_file("agents/w.yaml", "identity: {id: one}\nruntime: {comand: [x]}\n");
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &a, &err), -1);
	assert_non_null(strstr(err.msg, "did you mean 'command'"));
	/* Gone: EX_NOINPUT. */
	assert_int_equal(unlink("agents/w.yaml"), 0);
	assert_int_equal(template_memo_load(m, "agents/w.yaml", "w", &with_runner,
	    &a, &err), -1);
	assert_int_equal(err.code, EX_NOINPUT);
	/* Cleared, it loads afresh. */
	write_file("agents/w.yaml", "identity: {id: three}\nruntime: {command: [x]}\n");
	template_memo_clear(m);
	assert_int_equal(template_memo_load(m, "agents/w.yaml", NULL, &with_runner,
	    &a, &err), 0);
	assert_string_equal(a->name, "w");
	assert_string_equal(a->id, "three");
	template_memo_free(m);
	template_memo_free(NULL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_a_full_starry_template_fills_every_field),
		T(test_a_minimal_template_gets_every_default),
		T(test_a_manifest_runs_under_agent_runner_and_passes_untouched),
		T(test_a_manifest_needs_agent_runner_plugins_and_an_id),
		T(test_the_resolved_form_loads_back_the_same),
		T(test_an_absent_backoff_bound_follows_the_given_one),
		T(test_errors_name_the_file_line_column_and_key),
		T(test_each_runtime_value_is_checked),
		T(test_identity_and_plugins_are_checked),
		T(test_a_missing_file_is_noinput),
		T(test_paths_resolve_against_the_real_folder),
		T(test_command_fills_manifest_and_appends_extra),
		T(test_each_lists_templates_by_name),
		T(test_find_tries_the_extensions_and_suggests),
		T(test_cache_store_writes_the_resolved_json_privately),
		T(test_agent_ids),
		T(test_signal_names_and_numbers),
		T(test_load_json_and_check_runtime),
		T(test_hostile_input_is_refused_cleanly),
		T(test_a_memo_gives_the_same_template_while_the_file_is_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
