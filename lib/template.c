/* Agent templates: loading, validation and the frozen (resolved) form; see
 * template.h. A struct template owns its strings, arrays and one
 * reference to resolved; the config_doc a template is read from lives only
 * during the load. Zero, where a value may be 0:
 *   backoff.initial, holddown.within, holddown.for: more than 0 (a zero
 *     window or wait means nothing);
 *   backoff.max: at least backoff.initial; an absent bound follows a
 *     given one that passes its default (initial 1m alone: max 1m);
 *   stop.timeout: 0 allowed (the stop signal, then SIGKILL at once);
 *   holddown.failures, limits.*, snapshot.every: 0 means none.
 * In the resolved JSON every '$' of command and env is written "$$", so
 * loading it again expands nothing: the environment is frozen at load. */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "atomic.h"
#include "config.h"
#include "paths.h"
#include "template.h"

static const char *const driver_names[] = {
	"process", "sandbox", "docker", "wasm", NULL
};
static const char *const restart_names[] = {
	"always", "on-failure", "never", NULL
};

static const char *const runtime_keys[] = {
	"command", "driver", "restart", "backoff", "holddown", "limits",
	"stop", "snapshot", "env", "ready-fd", "network", NULL
};
static const char *const backoff_keys[] = { "initial", "max", "jitter", NULL };
static const char *const holddown_keys[] = { "failures", "within", "for", NULL };
static const char *const limits_keys[] = {
	"memory", "cpu", "tokens", "nofile", NULL
};
static const char *const stop_keys[] = { "signal", "timeout", NULL };
static const char *const snapshot_keys[] = { "every", "restore", NULL };

/* Template files in agents/, in the order template_find tries them. */
static const char *const template_exts[] = { ".yaml", ".yml", ".json", NULL };

#define MANIFEST_MARK "{manifest}"

const char *
template_driver_name(enum template_driver d)
{
	if ((unsigned)d >= sizeof driver_names / sizeof *driver_names - 1)
		return NULL;
	return driver_names[d];
}

const char *
template_restart_name(enum template_restart r)
{
	if ((unsigned)r >= sizeof restart_names / sizeof *restart_names - 1)
		return NULL;
	return restart_names[r];
}

/* ---- ids and signals ------------------------------------------------------ */

bool
template_id_valid(const char *id)
{
	size_t n;

	if (id == NULL || id[0] == '\0' || id[0] == '.' || id[0] == '-')
		return false;
	for (n = 0; id[n] != '\0'; n++) {
		if (n >= 64)
			return false;
		if (!isalnum((unsigned char)id[n]) && id[n] != '.' &&
		    id[n] != '_' && id[n] != '-')
			return false;
	}
	return true;
}

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT },
	{ "ILL", SIGILL }, { "TRAP", SIGTRAP }, { "ABRT", SIGABRT },
	{ "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU },
	{ "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
	{ "IO", SIGIO }, { "SYS", SIGSYS },
};
#define NSIGNALS (sizeof signal_table / sizeof *signal_table)

int
template_signal_number(const char *name)
{
	size_t i;
	int n = 0;

	if (name == NULL || *name == '\0')
		return -1;
	if (isdigit((unsigned char)name[0])) {
		for (i = 0; name[i] != '\0'; i++) {
			if (!isdigit((unsigned char)name[i]) || i >= 2)
				return -1;
			n = n * 10 + (name[i] - '0');
		}
		return n >= 1 && n <= 64 ? n : -1;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < NSIGNALS; i++)
		if (strcasecmp(name, signal_table[i].name) == 0)
			return signal_table[i].sig;
	return -1;
}

const char *
template_signal_name(int sig)
{
	for (size_t i = 0; i < NSIGNALS; i++)
		if (signal_table[i].sig == sig)
			return signal_table[i].name;
	return NULL;
}

/* ---- small helpers -------------------------------------------------------- */

void
template_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p != NULL; p++)
		free(*p);
	free(argv);
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->file);
	free(t->dir);
	free(t->id);
	template_argv_free(t->argv);
	template_argv_free(t->env);
	for (size_t i = 0; i < t->nplugins; i++) {
		free(t->plugins[i].name);
		free(t->plugins[i].path);
	}
	free(t->plugins);
	json_decref(t->resolved);
	free(t);
}

static void
template_defaults(struct template *t)
{
	t->driver = TEMPLATE_DRIVER_PROCESS;
	t->restart = TEMPLATE_RESTART_ON_FAILURE;
	t->backoff_initial_ms = TEMPLATE_BACKOFF_INITIAL_MS;
	t->backoff_max_ms = TEMPLATE_BACKOFF_MAX_MS;
	t->backoff_jitter = TEMPLATE_BACKOFF_JITTER;
	t->holddown_failures = TEMPLATE_HOLDDOWN_FAILURES;
	t->holddown_within_ms = TEMPLATE_HOLDDOWN_WITHIN_MS;
	t->holddown_for_ms = TEMPLATE_HOLDDOWN_FOR_MS;
	t->stop_signal = SIGTERM;
	t->stop_timeout_ms = TEMPLATE_STOP_TIMEOUT_MS;
	t->ready_fd = -1;
}

static int
nomem(struct starry_err *err)
{
	return starry_err_set(err, EX_OSERR, "out of memory");
}

/* dir/rel for a relative command or plugin path; leading "./" dropped. */
static char *
path_against(const char *dir, const char *rel)
{
	while (rel[0] == '.' && rel[1] == '/') {
		rel += 2;
		while (*rel == '/')
			rel++;
	}
	return starry_path_join(dir, *rel ? rel : ".");
}

/* text with every '$' doubled (malloc'd), so expansion gives text back. */
static char *
dollar_escape(const char *text)
{
	size_t n = 0, i, j;
	char *out;

	for (i = 0; text[i] != '\0'; i++)
		n += 1 + (text[i] == '$');
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = j = 0; text[i] != '\0'; i++) {
		out[j++] = text[i];
		if (text[i] == '$')
			out[j++] = '$';
	}
	out[j] = '\0';
	return out;
}

/* A duration in the largest unit that holds it exactly ("90s", "1500ms"),
 * as config_parse_duration reads it. */
static void
duration_text(int64_t ms, char *buf, size_t size)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	};

	if (ms == 0) {
		snprintf(buf, size, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (ms % units[i].ms == 0) {
			snprintf(buf, size, "%" PRId64 "%s", ms / units[i].ms,
			    units[i].unit);
			return;
		}
	snprintf(buf, size, "%" PRId64 "ms", ms);
}

/* ---- the runtime block ---------------------------------------------------- */

int
template_get_argv(const struct config_scope *s, const char *key,
    const char *dir, char ***argvp, size_t *argcp, struct starry_err *err)
{
	struct config_scope v, el;
	char **argv, *abs;
	size_t n, i;

	*argvp = NULL;
	*argcp = 0;
	config_scope_member(s, key, &v);
	if (v.node != NULL && json_is_string(v.node))
		return config_fail(&v, NULL, err, "expected a list of strings "
		    "(an argv, never a shell string), got a string");
	if (config_get_array(s, key, CONFIG_REQUIRED, &v, err) < 0)
		return -1;
	if ((n = json_array_size(v.node)) == 0)
		return config_fail(&v, NULL, err,
		    "expected a non-empty list of strings (an argv)");
	if ((argv = calloc(n + 1, sizeof *argv)) == NULL)
		return nomem(err);
	for (i = 0; i < n; i++) {
		config_scope_element(&v, i, &el);
		if (config_get_string_env(&el, NULL, CONFIG_REQUIRED, &argv[i],
		    err) < 0)
			goto fail;
	}
	config_scope_element(&v, 0, &el);
	if (argv[0][0] == '\0') {
		config_fail(&el, NULL, err, "empty command name");
		goto fail;
	}
	if (dir != NULL && argv[0][0] != '/' && strchr(argv[0], '/') != NULL) {
		if ((abs = path_against(dir, argv[0])) == NULL) {
			nomem(err);
			goto fail;
		}
		free(argv[0]);
		argv[0] = abs;
	}
	*argvp = argv;
	*argcp = n;
	return 0;
fail:
	template_argv_free(argv);
	return -1;
}

/* A duration at key of at least min_ms (0 or 1). */
static int
get_duration_min(const struct config_scope *s, const char *key, int64_t min_ms,
    int64_t *ms, struct starry_err *err)
{
	int64_t v = *ms;

	if (config_get_duration(s, key, CONFIG_OPTIONAL, &v, err) < 0)
		return -1;
	if (v < min_ms)
		return config_fail(s, key, err, "must be longer than 0s");
	*ms = v;
	return 0;
}

static int
read_backoff(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope b;
	bool has_initial, has_max;

	if (config_get_object(rt, "backoff", CONFIG_OPTIONAL, &b, err) < 0 ||
	    config_check_keys(&b, backoff_keys, err) < 0 ||
	    get_duration_min(&b, "initial", 1, &t->backoff_initial_ms, err) < 0 ||
	    get_duration_min(&b, "max", 1, &t->backoff_max_ms, err) < 0 ||
	    config_get_number(&b, "jitter", CONFIG_OPTIONAL, 0.0, 1.0,
	    &t->backoff_jitter, err) < 0)
		return -1;
	has_initial = b.node && json_object_get(b.node, "initial") &&
	    !json_is_null(json_object_get(b.node, "initial"));
	has_max = b.node && json_object_get(b.node, "max") &&
	    !json_is_null(json_object_get(b.node, "max"));
	if (t->backoff_max_ms >= t->backoff_initial_ms)
		return 0;
	if (has_initial && !has_max)
		t->backoff_max_ms = t->backoff_initial_ms;
	else if (has_max && !has_initial)
		t->backoff_initial_ms = t->backoff_max_ms;
	else {
		char text[32];

		duration_text(t->backoff_initial_ms, text, sizeof text);
		return config_fail(&b, "max", err,
		    "must be at least backoff.initial (%s)", text);
	}
	return 0;
}

static int
read_holddown(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope h;

	if (config_get_object(rt, "holddown", CONFIG_OPTIONAL, &h, err) < 0 ||
	    config_check_keys(&h, holddown_keys, err) < 0 ||
	    config_get_int(&h, "failures", CONFIG_OPTIONAL, 0,
	    TEMPLATE_HOLDDOWN_FAILURES_MAX, &t->holddown_failures, err) < 0 ||
	    get_duration_min(&h, "within", 1, &t->holddown_within_ms, err) < 0 ||
	    get_duration_min(&h, "for", 1, &t->holddown_for_ms, err) < 0)
		return -1;
	return 0;
}

static int
read_limits(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope l;

	if (config_get_object(rt, "limits", CONFIG_OPTIONAL, &l, err) < 0 ||
	    config_check_keys(&l, limits_keys, err) < 0 ||
	    config_get_size(&l, "memory", CONFIG_OPTIONAL, &t->limit_memory,
	    err) < 0)
		return -1;
	if (t->limit_memory > INT64_MAX)
		return config_fail(&l, "memory", err, "too large");
	if (get_duration_min(&l, "cpu", 0, &t->limit_cpu_ms, err) < 0 ||
	    config_get_int(&l, "tokens", CONFIG_OPTIONAL, 0, INT64_MAX,
	    &t->limit_tokens, err) < 0 ||
	    config_get_int(&l, "nofile", CONFIG_OPTIONAL, 0, INT32_MAX,
	    &t->limit_nofile, err) < 0)
		return -1;
	return 0;
}

static int
read_stop(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope st, v;
	const char *name;
	int64_t n;
	int sig;

	if (config_get_object(rt, "stop", CONFIG_OPTIONAL, &st, err) < 0 ||
	    config_check_keys(&st, stop_keys, err) < 0 ||
	    get_duration_min(&st, "timeout", 0, &t->stop_timeout_ms, err) < 0)
		return -1;
	config_scope_member(&st, "signal", &v);
	if (v.node == NULL || json_is_null(v.node))
		return 0;
	if (json_is_integer(v.node)) {
		if (config_get_int(&st, "signal", CONFIG_REQUIRED, 1, 64, &n,
		    err) < 0)
			return -1;
		t->stop_signal = (int)n;
		return 0;
	}
	if (!json_is_string(v.node))
		return config_fail(&v, NULL, err,
		    "expected a signal name such as TERM or a number, got %s",
		    config_type_name(v.node));
	name = json_string_value(v.node);
	if ((sig = template_signal_number(name)) < 0)
		return config_fail(&v, NULL, err,
		    "unknown signal '%.32s' (use a name such as TERM, INT, HUP, "
		    "or a number from 1 to 64)", name);
	t->stop_signal = sig;
	return 0;
}

static int
read_snapshot(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope sn;

	if (config_get_object(rt, "snapshot", CONFIG_OPTIONAL, &sn, err) < 0 ||
	    config_check_keys(&sn, snapshot_keys, err) < 0 ||
	    get_duration_min(&sn, "every", 0, &t->snapshot_every_ms, err) < 0)
		return -1;
	/* An agent that takes snapshots wants the last one back. */
	t->snapshot_restore = t->snapshot_every_ms > 0;
	return config_get_bool(&sn, "restore", CONFIG_OPTIONAL,
	    &t->snapshot_restore, err);
}

static bool
env_name_valid(const char *k)
{
	if (!isalpha((unsigned char)*k) && *k != '_')
		return false;
	for (; *k != '\0'; k++)
		if (!isalnum((unsigned char)*k) && *k != '_')
			return false;
	return true;
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One env value as text: strings ${VAR}-expanded, numbers and booleans
 * written as JSON writes them. */
static int
env_value(const struct config_scope *e, const char *key, char **out,
    struct starry_err *err)
{
	json_t *v = json_object_get(e->node, key);

	*out = NULL;
	if (json_is_string(v))
		return config_get_string_env(e, key, CONFIG_REQUIRED, out, err);
	if (json_is_number(v) || json_is_boolean(v)) {
		if ((*out = json_dumps(v, JSON_ENCODE_ANY)) == NULL)
			return nomem(err);
		return 0;
	}
	return config_fail(e, key, err,
	    "expected a string, a number or a boolean, got %s", config_type_name(v));
}

static int
read_env(const struct config_scope *rt, struct template *t,
    struct starry_err *err)
{
	struct config_scope e;
	const char *key;
	char *val, *kv;
	json_t *v;
	size_t n = 0;

	if (config_get_object(rt, "env", CONFIG_OPTIONAL, &e, err) < 0)
		return -1;
	if (e.node == NULL)
		return 0;
	if ((t->env = calloc(json_object_size(e.node) + 1, sizeof *t->env)) ==
	    NULL)
		return nomem(err);
	json_object_foreach(e.node, key, v) {
		if (!env_name_valid(key))
			return config_fail(&e, key, err, "invalid variable name "
			    "(use letters, digits and '_', not starting with a "
			    "digit)");
		if (env_value(&e, key, &val, err) < 0)
			return -1;
		kv = malloc(strlen(key) + strlen(val) + 2);
		if (kv == NULL) {
			free(val);
			return nomem(err);
		}
		sprintf(kv, "%s=%s", key, val);
		free(val);
		t->env[n++] = kv;
		t->nenv = n;
	}
	qsort(t->env, n, sizeof *t->env, cmp_strp);
	return 0;
}

/* The runtime block at rt into t (whose defaults are set). */
static int
runtime_read(const struct config_scope *rt, const char *const *also,
    const char *dir, struct template *t, struct starry_err *err)
{
	const char *allowed[64];
	size_t n = 0;
	int64_t fd = -1;
	int choice;

	for (size_t i = 0; runtime_keys[i] != NULL; i++)
		allowed[n++] = runtime_keys[i];
	for (size_t i = 0; also != NULL && also[i] != NULL && n < 63; i++)
		allowed[n++] = also[i];
	allowed[n] = NULL;
	if (rt->node == NULL || !json_is_object(rt->node))
		return config_fail(rt, NULL, err, "expected an object, got %s",
		    rt->node ? config_type_name(rt->node) : "nothing");
	if (config_check_keys(rt, allowed, err) < 0 ||
	    template_get_argv(rt, "command", dir, &t->argv, &t->argc, err) < 0)
		return -1;
	choice = (int)t->driver;
	if (config_get_enum(rt, "driver", CONFIG_OPTIONAL, driver_names,
	    &choice, err) < 0)
		return -1;
	t->driver = (enum template_driver)choice;
	choice = (int)t->restart;
	if (config_get_enum(rt, "restart", CONFIG_OPTIONAL, restart_names,
	    &choice, err) < 0)
		return -1;
	t->restart = (enum template_restart)choice;
	if (read_backoff(rt, t, err) < 0 || read_holddown(rt, t, err) < 0 ||
	    read_limits(rt, t, err) < 0 || read_stop(rt, t, err) < 0)
		return -1;
	if (read_snapshot(rt, t, err) < 0 || read_env(rt, t, err) < 0 ||
	    config_get_int(rt, "ready-fd", CONFIG_OPTIONAL, 3, 255, &fd,
	    err) < 0 ||
	    config_get_bool(rt, "network", CONFIG_OPTIONAL, &t->network,
	    err) < 0)
		return -1;
	t->ready_fd = (int)fd;
	return 0;
}

int
template_check_runtime(const struct config_scope *s, const char *const *also,
    struct starry_err *err)
{
	struct template *t = calloc(1, sizeof *t);
	int rc;

	if (t == NULL)
		return nomem(err);
	template_defaults(t);
	rc = runtime_read(s, also, NULL, t, err);
	template_free(t);
	return rc;
}

/* ---- identity and plugins -------------------------------------------------- */

static int
read_identity(const struct config_scope *root, struct template *t,
    struct starry_err *err)
{
	struct config_scope ident;
	const char *id = NULL;

	if (config_get_object(root, "identity", CONFIG_REQUIRED, &ident,
	    err) < 0 ||
	    config_get_string(&ident, "id", CONFIG_REQUIRED, &id, err) < 0)
		return -1;
	if (!template_id_valid(id))
		return config_fail(&ident, "id", err, "invalid agent id '%.64s%s' "
		    "(1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.' or '-')",
		    id, strlen(id) > 64 ? "..." : "");
	if ((t->id = strdup(id)) == NULL)
		return nomem(err);
	return 0;
}

static int
read_plugin(const struct config_scope *el, const char *dir,
    struct template_plugin *p, struct starry_err *err)
{
	const char *name = NULL, *path = NULL;
	char *joined, *real;

	if (el->node == NULL || !json_is_object(el->node))
		return config_fail(el, NULL, err,
		    "expected an object with a name, got %s", config_type_name(el->node));
	if (config_get_string(el, "name", CONFIG_REQUIRED, &name, err) < 0 ||
	    config_get_string(el, "path", CONFIG_OPTIONAL, &path, err) < 0)
		return -1;
	if (*name == '\0')
		return config_fail(el, "name", err, "empty plugin name");
	if ((p->name = strdup(name)) == NULL)
		return nomem(err);
	if (path == NULL)
		return 0;
	if (*path == '\0')
		return config_fail(el, "path", err, "empty path");
	joined = path[0] == '/' ? strdup(path) : path_against(dir, path);
	if (joined == NULL)
		return nomem(err);
	real = realpath(joined, NULL);
	free(joined);
	if (real == NULL)
		return config_fail(el, "path", err, "%.200s: %s", path,
		    strerror(errno));
	p->path = real;
	return 0;
}

static int
read_plugins(const struct config_scope *root, const char *dir,
    struct template *t, struct starry_err *err)
{
	struct config_scope pl, el;
	size_t n;

	if (config_get_array(root, "plugins", CONFIG_OPTIONAL, &pl, err) < 0)
		return -1;
	if (pl.node == NULL || (n = json_array_size(pl.node)) == 0)
		return 0;
	if ((t->plugins = calloc(n, sizeof *t->plugins)) == NULL)
		return nomem(err);
	for (size_t i = 0; i < n; i++) {
		config_scope_element(&pl, i, &el);
		t->nplugins = i + 1;
		if (read_plugin(&el, dir, &t->plugins[i], err) < 0)
			return -1;
	}
	return 0;
}

/* A manifest's argv: agent_runner, its first element made absolute the
 * way a command's is. */
static int
manifest_argv(const struct config_scope *root, const char *dir,
    const struct template_context *ctx, struct template *t,
    struct starry_err *err)
{
	const char *const *ar = ctx != NULL ? ctx->agent_runner : NULL;
	size_t n;

	if (json_array_size(json_object_get(root->node, "plugins")) == 0)
		return config_fail(root, "plugins", err, "no runtime block, so "
		    "this is an OpenStarry manifest, which needs a non-empty "
		    "plugins list");
	if (ar == NULL || ar[0] == NULL)
		return config_fail(root, "runtime", err, "no runtime block, and "
		    "starry.yaml sets no agent_runner");
	for (n = 0; ar[n] != NULL; n++)
		;
	if ((t->argv = calloc(n + 1, sizeof *t->argv)) == NULL)
		return nomem(err);
	t->argc = n;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 && ar[0][0] != '/' && strchr(ar[0], '/') != NULL)
			t->argv[0] = path_against(dir, ar[0]);
		else
			t->argv[i] = strdup(ar[i]);
		if (t->argv[i] == NULL)
			return nomem(err);
	}
	return 0;
}

/* ---- the resolved form -------------------------------------------------------- */

/* Set key in obj to v (taken); false when v is NULL or it fails. */
static bool
put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

static json_t *
duration_json(int64_t ms)
{
	char text[32];

	duration_text(ms, text, sizeof text);
	return json_string(text);
}

static json_t *
escaped_string(const char *s)
{
	char *e = dollar_escape(s);
	json_t *v = e != NULL ? json_string(e) : NULL;

	free(e);
	return v;
}

static json_t *
runtime_json(const struct template *t)
{
	json_t *rt = json_object(), *cmd = json_array(), *env = json_object();
	json_t *b = json_object(), *h = json_object(), *l = json_object();
	json_t *st = json_object(), *sn = json_object();
	const char *signame = template_signal_name(t->stop_signal);
	bool ok = rt && cmd && env && b && h && l && st && sn;

	for (size_t i = 0; ok && i < t->argc; i++)
		ok = json_array_append_new(cmd, escaped_string(t->argv[i])) == 0;
	for (size_t i = 0; ok && i < t->nenv; i++) {
		const char *eq = strchr(t->env[i], '=');
		char *key = strndup(t->env[i], (size_t)(eq - t->env[i]));

		ok = key != NULL && put(env, key, escaped_string(eq + 1));
		free(key);
	}
	ok = ok && put(b, "initial", duration_json(t->backoff_initial_ms)) &&
	    put(b, "max", duration_json(t->backoff_max_ms)) &&
	    put(b, "jitter", json_real(t->backoff_jitter)) &&
	    put(h, "failures", json_integer(t->holddown_failures)) &&
	    put(h, "within", duration_json(t->holddown_within_ms)) &&
	    put(h, "for", duration_json(t->holddown_for_ms)) &&
	    put(l, "memory", json_integer((json_int_t)t->limit_memory)) &&
	    put(l, "cpu", duration_json(t->limit_cpu_ms)) &&
	    put(l, "tokens", json_integer(t->limit_tokens)) &&
	    put(l, "nofile", json_integer(t->limit_nofile)) &&
	    put(st, "signal", signame ? json_string(signame) :
	    json_integer(t->stop_signal)) &&
	    put(st, "timeout", duration_json(t->stop_timeout_ms)) &&
	    put(sn, "every", duration_json(t->snapshot_every_ms)) &&
	    put(sn, "restore", json_boolean(t->snapshot_restore));
	if (ok && rt != NULL) {
		ok = put(rt, "command", json_incref(cmd)) &&
		    put(rt, "driver", json_string(template_driver_name(t->driver))) &&
		    put(rt, "restart",
		    json_string(template_restart_name(t->restart))) &&
		    put(rt, "backoff", json_incref(b)) &&
		    put(rt, "holddown", json_incref(h)) &&
		    put(rt, "limits", json_incref(l)) &&
		    put(rt, "stop", json_incref(st)) &&
		    put(rt, "snapshot", json_incref(sn)) &&
		    put(rt, "env", json_incref(env)) &&
		    (t->ready_fd < 0 ||
		    put(rt, "ready-fd", json_integer(t->ready_fd))) &&
		    put(rt, "network", json_boolean(t->network));
	}
	json_decref(cmd);
	json_decref(env);
	json_decref(b);
	json_decref(h);
	json_decref(l);
	json_decref(st);
	json_decref(sn);
	if (!ok) {
		json_decref(rt);
		return NULL;
	}
	return rt;
}

static json_t *
resolved_build(json_t *root, const struct template *t)
{
	json_t *copy = json_deep_copy(root), *pl, *el, *rt;

	if (copy == NULL)
		return NULL;
	pl = json_object_get(copy, "plugins");
	for (size_t i = 0; i < t->nplugins; i++) {
		el = json_array_get(pl, i);
		if (t->plugins[i].path != NULL &&
		    !put(el, "path", json_string(t->plugins[i].path)))
			goto fail;
	}
	if ((rt = runtime_json(t)) == NULL || !put(copy, "runtime", rt))
		goto fail;
	return copy;
fail:
	json_decref(copy);
	return NULL;
}

/* ---- loading -------------------------------------------------------------------- */

/* Everything after the file is read: doc's tree into a new template. */
static int
template_from_doc(struct config_doc *doc, const char *name, const char *file,
    const char *dir, const struct template_context *ctx,
    struct template **out, struct starry_err *err)
{
	struct config_scope root, rt;
	struct template *t;

	*out = NULL;
	config_scope_root(doc, &root);
	if (!json_is_object(root.node))
		return config_fail(&root, NULL, err, "expected an object "
		    "(identity, plugins, runtime, ...), got %s",
		    config_type_name(root.node));
	if ((t = calloc(1, sizeof *t)) == NULL)
		return nomem(err);
	template_defaults(t);
	if ((t->name = strdup(name)) == NULL || (t->file = strdup(file)) == NULL ||
	    (t->dir = strdup(dir)) == NULL) {
		nomem(err);
		goto fail;
	}
	if (read_identity(&root, t, err) < 0 ||
	    read_plugins(&root, dir, t, err) < 0)
		goto fail;
	if (json_object_get(root.node, "runtime") != NULL) {
		if (config_get_object(&root, "runtime", CONFIG_REQUIRED, &rt,
		    err) < 0 || runtime_read(&rt, NULL, dir, t, err) < 0)
			goto fail;
	} else {
		t->manifest = true;
		if (manifest_argv(&root, dir, ctx, t, err) < 0)
			goto fail;
	}
	if ((t->resolved = resolved_build(root.node, t)) == NULL) {
		nomem(err);
		goto fail;
	}
	*out = t;
	return 0;
fail:
	template_free(t);
	return -1;
}

/* The file's name without its folder and extension (malloc'd). */
static char *
name_of_file(const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	const char *dot = strrchr(base, '.');
	size_t n = dot != NULL && dot != base ? (size_t)(dot - base) :
	    strlen(base);

	return strndup(base, n);
}

int
template_load(const char *file, const char *name,
    const struct template_context *ctx, struct template **out,
    struct starry_err *err)
{
	char *real = NULL, *dir = NULL, *abs = NULL, *own_name = NULL, *slash;
	struct config_doc *doc = NULL;
	int rc = -1;

	*out = NULL;
	if (config_load_file(file, &doc, err) < 0)
		return -1;
	/* The folder is the real file's: a template linked into agents/
	 * finds its command and plugins beside its target. */
	if ((real = realpath(file, NULL)) == NULL) {
		starry_err_sys(err, EX_NOINPUT, "%s", file);
		goto out;
	}
	slash = strrchr(real, '/');
	if ((dir = slash == real ? strdup("/") :
	    strndup(real, (size_t)(slash - real))) == NULL) {
		nomem(err);
		goto out;
	}
	if (name == NULL && (name = own_name = name_of_file(file)) == NULL) {
		nomem(err);
		goto out;
	}
	if ((abs = strdup(real)) == NULL) {
		nomem(err);
		goto out;
	}
	rc = template_from_doc(doc, name, abs, dir, ctx, out, err);
out:
	config_doc_free(doc);
	free(real);
	free(dir);
	free(abs);
	free(own_name);
	return rc;
}

int
template_load_json(json_t *root, const char *name, const char *origin,
    const char *dir, const struct template_context *ctx,
    struct template **out, struct starry_err *err)
{
	struct config_doc *doc = NULL;
	char *text, *real;
	int rc;

	*out = NULL;
	if (name == NULL || origin == NULL || dir == NULL || root == NULL)
		return starry_err_set(err, EX_SOFTWARE,
		    "template_load_json: name, origin, dir and root are needed");
	if ((real = realpath(dir, NULL)) == NULL)
		return starry_err_sys(err, EX_NOINPUT, "%s", dir);
	/* Indented, so that a line:col in an error still means something. */
	text = json_dumps(root, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (text == NULL) {
		free(real);
		return nomem(err);
	}
	rc = config_load_buffer(origin, text, strlen(text), &doc, err);
	free(text);
	if (rc == 0)
		rc = template_from_doc(doc, name, origin, real, ctx, out, err);
	config_doc_free(doc);
	free(real);
	return rc;
}

/* ---- using a template ------------------------------------------------------------- */

/* s with every "{manifest}" replaced by manifest (malloc'd). */
static char *
replace_manifest(const char *s, const char *manifest)
{
	size_t mlen = strlen(MANIFEST_MARK), rlen = strlen(manifest), n = 0;
	const char *p, *q;
	char *out, *w;

	for (p = s; (q = strstr(p, MANIFEST_MARK)) != NULL; p = q + mlen)
		n++;
	if ((out = malloc(strlen(s) - n * mlen + n * rlen + 1)) == NULL)
		return NULL;
	w = out;
	for (p = s; (q = strstr(p, MANIFEST_MARK)) != NULL; p = q + mlen) {
		memcpy(w, p, (size_t)(q - p));
		w += q - p;
		memcpy(w, manifest, rlen);
		w += rlen;
	}
	strcpy(w, p);
	return out;
}

char **
template_command(const struct template *t, const char *manifest,
    char *const *extra, size_t nextra)
{
	char **argv = calloc(t->argc + nextra + 1, sizeof *argv);
	size_t i;

	if (argv == NULL)
		return NULL;
	for (i = 0; i < t->argc; i++) {
		argv[i] = manifest != NULL ? replace_manifest(t->argv[i], manifest) :
		    strdup(t->argv[i]);
		if (argv[i] == NULL)
			goto fail;
	}
	for (size_t j = 0; j < nextra; j++, i++)
		if ((argv[i] = strdup(extra[j])) == NULL)
			goto fail;
	return argv;
fail:
	template_argv_free(argv);
	return NULL;
}

char *
template_dump(const struct template *t, size_t *len)
{
	char *text = json_dumps(t->resolved, JSON_INDENT(2)), *out;
	size_t n;

	if (text == NULL)
		return NULL;
	n = strlen(text);
	if ((out = realloc(text, n + 2)) == NULL) {
		free(text);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return out;
}

/* ---- finding templates --------------------------------------------------------------- */

struct found {
	char *name;
	char *path;
	int rank;		/* index into template_exts */
};

static int
cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : x->rank - y->rank;
}

static void
found_free(struct found *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].path);
	}
	free(f);
}

/* The extension's rank when entry is a template file's name, else -1. */
static int
template_ext_rank(const char *entry)
{
	size_t n = strlen(entry), e;

	if (entry[0] == '.')
		return -1;
	for (int i = 0; template_exts[i] != NULL; i++) {
		e = strlen(template_exts[i]);
		if (n > e && strcmp(entry + n - e, template_exts[i]) == 0)
			return i;
	}
	return -1;
}

static bool
is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The templates in config_dir/agents, sorted by name, one per name. */
static int
templates_list(const char *config_dir, struct found **out, size_t *nout,
    struct starry_err *err)
{
	char *agents = starry_path_join(config_dir, "agents");
	struct found *list = NULL, *nl;
	size_t n = 0, cap = 0, k;
	struct dirent *de;
	DIR *d;
	int rank, rc = -1;

	*out = NULL;
	*nout = 0;
	if (agents == NULL)
		return nomem(err);
	if ((d = opendir(agents)) == NULL) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0 :
		    starry_err_sys(err, EX_NOINPUT, "%s", agents);
		free(agents);
		return rc;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				starry_err_sys(err, EX_IOERR, "%s", agents);
				goto out;
			}
			break;
		}
		if ((rank = template_ext_rank(de->d_name)) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nl = realloc(list, cap * sizeof *nl)) == NULL) {
				nomem(err);
				goto out;
			}
			list = nl;
		}
		list[n].rank = rank;
		list[n].name = strndup(de->d_name,
		    strlen(de->d_name) - strlen(template_exts[rank]));
		list[n].path = starry_path_join(agents, de->d_name);
		n++;
		if (list[n - 1].name == NULL || list[n - 1].path == NULL) {
			nomem(err);
			goto out;
		}
		if (!is_regular(list[n - 1].path)) {
			n--;
			free(list[n].name);
			free(list[n].path);
		}
	}
	if (n > 0)
		qsort(list, n, sizeof *list, cmp_found);
	/* A name found with two extensions is the one template_find takes. */
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && strcmp(list[k - 1].name, list[i].name) == 0) {
			free(list[i].name);
			free(list[i].path);
			continue;
		}
		list[k++] = list[i];
	}
	n = k;
	*out = list;
	*nout = n;
	list = NULL;
	n = 0;
	rc = 0;
out:
	found_free(list, n);
	closedir(d);
	free(agents);
	return rc;
}

int
template_each(const char *config_dir, template_each_fn fn, void *ctx,
    struct starry_err *err)
{
	struct found *list;
	size_t n;
	int rc = 0;

	if (templates_list(config_dir, &list, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (fn(ctx, list[i].name, list[i].path) < 0)
			rc = -1;
	found_free(list, n);
	return rc;
}

static int
not_found(const char *config_dir, const char *name, struct starry_err *err)
{
	struct found *list;
	const char **names;
	const char *near = NULL;
	size_t n;
	char *agents = starry_path_join(config_dir, "agents");

	if (agents == NULL)
		return nomem(err);
	if (templates_list(config_dir, &list, &n, err) < 0) {
		free(agents);
		return -1;
	}
	if ((names = calloc(n + 1, sizeof *names)) != NULL) {
		for (size_t i = 0; i < n; i++)
			names[i] = list[i].name;
		near = config_suggest(name, names);
	}
	if (near != NULL)
		starry_err_set(err, EX_NOINPUT,
		    "no template '%.128s' in %.512s (did you mean '%s'?)", name,
		    agents, near);
	else
		starry_err_set(err, EX_NOINPUT, "no template '%.128s' in %.512s",
		    name, agents);
	free(names);
	found_free(list, n);
	free(agents);
	return -1;
}

int
template_find(const char *config_dir, const char *name, char **path,
    struct starry_err *err)
{
	struct stat st;
	char *agents, *base, *p;

	*path = NULL;
	if (strchr(name, '/') != NULL) {
		if (stat(name, &st) < 0)
			return starry_err_sys(err, EX_NOINPUT, "%s", name);
		if (S_ISDIR(st.st_mode))
			return starry_err_set(err, EX_NOINPUT,
			    "%s: a folder, not a template file", name);
		if ((*path = strdup(name)) == NULL)
			return nomem(err);
		return 0;
	}
	if (name[0] == '\0' || name[0] == '.')
		return not_found(config_dir, name, err);
	if ((agents = starry_path_join(config_dir, "agents")) == NULL ||
	    (base = starry_path_join(agents, name)) == NULL) {
		free(agents);
		return nomem(err);
	}
	free(agents);
	for (int i = 0; template_exts[i] != NULL; i++) {
		if ((p = malloc(strlen(base) + strlen(template_exts[i]) + 1)) ==
		    NULL) {
			free(base);
			return nomem(err);
		}
		sprintf(p, "%s%s", base, template_exts[i]);
		if (is_regular(p)) {
			free(base);
			*path = p;
			return 0;
		}
		free(p);
	}
	free(base);
	return not_found(config_dir, name, err);
}

/* ---- the cache ------------------------------------------------------------------------ */

char *
template_cache_path(const char *home, const char *name)
{
	char *dir = starry_path_join(home, "templates.cache"), *file, *p;

	if (dir == NULL)
		return NULL;
	if ((file = malloc(strlen(name) + sizeof ".json")) == NULL) {
		free(dir);
		return NULL;
	}
	sprintf(file, "%s.json", name);
	p = starry_path_join(dir, file);
	free(dir);
	free(file);
	return p;
}

int
template_cache_store(const char *home, const struct template *t,
    struct starry_err *err)
{
	char *dir, *path = NULL, *text = NULL;
	size_t len;
	int rc = -1;

	/* The name becomes a file name: no '/', no hidden file. */
	if (!template_id_valid(t->name))
		return starry_err_set(err, EX_DATAERR,
		    "template name '%.128s' cannot name a cache file", t->name);
	if ((dir = starry_path_join(home, "templates.cache")) == NULL)
		return nomem(err);
	if (starry_mkdir_p(dir, 0700, err) < 0)
		goto out;
	if ((path = template_cache_path(home, t->name)) == NULL ||
	    (text = template_dump(t, &len)) == NULL) {
		nomem(err);
		goto out;
	}
	rc = atomic_write_file(path, text, len, 0600, err);
out:
	free(dir);
	free(path);
	free(text);
	return rc;
}

/* ---- templates remembered as loaded ---------------------------------------------------- */

struct template_memo_entry {
	char *name;			/* as given to template_load; "" for NULL */
	char *path;
	struct stat st;			/* the file as it stood before the load */
	struct template *t;
};

struct template_memo {
	struct template_memo_entry *v;
	size_t n, cap;
};

struct template_memo *
template_memo_new(void)
{
	return calloc(1, sizeof(struct template_memo));
}

void
template_memo_clear(struct template_memo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].path);
		template_free(m->v[i].t);
	}
	m->n = 0;
}

void
template_memo_free(struct template_memo *m)
{
	template_memo_clear(m);
	if (m != NULL)
		free(m->v);
	free(m);
}

static bool
same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size && a->st_mode == b->st_mode &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Its plugins are still there (a load would refuse it otherwise). */
static bool
plugins_present(const struct template *t)
{
	for (size_t i = 0; i < t->nplugins; i++)
		if (t->plugins[i].path != NULL && access(t->plugins[i].path, F_OK) < 0)
			return false;
	return true;
}

int
template_memo_load(struct template_memo *m, const char *path, const char *name,
    const struct template_context *ctx, const struct template **out,
    struct starry_err *err)
{
	struct template_memo_entry *e = NULL;
	struct template *t;
	struct stat st;

	*out = NULL;
	if (name == NULL)
		name = "";
	for (size_t i = 0; i < m->n && e == NULL; i++)
		if (strcmp(m->v[i].name, name) == 0 && strcmp(m->v[i].path, path) == 0)
			e = &m->v[i];
	/* Stat first: a change during the load shows at the next call. */
	if (stat(path, &st) < 0)
		return starry_err_sys(err, EX_NOINPUT, "%s", path);
	if (e != NULL && same_file_state(&e->st, &st) && plugins_present(e->t)) {
		*out = e->t;
		return 0;
	}
	if (template_load(path, name[0] ? name : NULL, ctx, &t, err) < 0) {
		if (e != NULL) {
			/* Gone bad: it is not remembered as it was. */
			free(e->name);
			free(e->path);
			template_free(e->t);
			*e = m->v[--m->n];
		}
		return -1;
	}
	if (e == NULL) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 8;
			struct template_memo_entry *v = realloc(m->v, cap * sizeof *v);

			if (v == NULL) {
				template_free(t);
				return nomem(err);
			}
			m->v = v;
			m->cap = cap;
		}
		e = &m->v[m->n];
		if ((e->name = strdup(name)) == NULL ||
		    (e->path = strdup(path)) == NULL) {
			free(e->name);
			template_free(t);
			return nomem(err);
		}
		m->n++;
	} else {
		template_free(e->t);
	}
	e->st = st;
	e->t = t;
	*out = t;
	return 0;
}
