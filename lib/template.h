/* Agent templates, the design layer (DESIGN sections 4 and 5): a template
 * file (YAML or JSON; starry's own form or an OpenStarry agent.json
 * manifest) loaded, validated and resolved into the frozen form an agent
 * runs from. A struct template owns everything it points to; its
 * json_t *resolved is a reference the struct holds (borrow it, or incref). */
#ifndef STARRY_TEMPLATE_H
#define STARRY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

enum template_driver {
	TEMPLATE_DRIVER_PROCESS,
	TEMPLATE_DRIVER_SANDBOX,
	TEMPLATE_DRIVER_DOCKER,
	TEMPLATE_DRIVER_WASM,
};

enum template_restart {
	TEMPLATE_RESTART_ALWAYS,
	TEMPLATE_RESTART_ON_FAILURE,
	TEMPLATE_RESTART_NEVER,
};

/* The names above as written in templates ("process", "on-failure"). */
const char *template_driver_name(enum template_driver d);
const char *template_restart_name(enum template_restart r);

struct template_plugin {
	char *name;
	char *path;		/* absolute and existing; NULL when not given */
};

/* Defaults of a runtime block (DESIGN section 4). */
#define TEMPLATE_BACKOFF_INITIAL_MS 1000
#define TEMPLATE_BACKOFF_MAX_MS     30000
#define TEMPLATE_BACKOFF_JITTER     0.2
#define TEMPLATE_HOLDDOWN_FAILURES  5
#define TEMPLATE_HOLDDOWN_WITHIN_MS (10 * 60 * 1000)
#define TEMPLATE_HOLDDOWN_FOR_MS    (5 * 60 * 1000)
#define TEMPLATE_STOP_TIMEOUT_MS    10000
#define TEMPLATE_HOLDDOWN_FAILURES_MAX 64	/* the supervisor remembers
						   no more failures */

struct template {
	char *name;		/* the template's name ("reviewer") */
	char *file;		/* absolute path of the file loaded */
	char *dir;		/* its folder, symbolic links resolved */
	char *id;		/* identity.id: the default agent id */
	bool manifest;		/* an OpenStarry manifest with no runtime block,
				   run under starry.yaml's agent_runner */
	char **argv;		/* runtime.command, NULL-terminated; argv[0]
				   with a '/' is absolute; "{manifest}" is
				   still in it (template_command fills it) */
	size_t argc;
	enum template_driver driver;
	enum template_restart restart;
	int64_t backoff_initial_ms, backoff_max_ms;
	double backoff_jitter;			/* 0 .. 1 */
	int64_t holddown_failures;		/* 0: never hold down */
	int64_t holddown_within_ms, holddown_for_ms;
	uint64_t limit_memory;			/* bytes; 0: none */
	int64_t limit_cpu_ms;			/* 0: none */
	int64_t limit_tokens;			/* 0: none */
	int64_t limit_nofile;			/* 0: none */
	int stop_signal;			/* SIGTERM by default */
	int64_t stop_timeout_ms;
	int64_t snapshot_every_ms;		/* 0: none */
	bool snapshot_restore;			/* handed its last snapshot at
						   start (STARRY_SNAPSHOT) */
	int ready_fd;				/* runtime.ready-fd; -1: none */
	bool network;				/* sandbox: keep the network */
	char **env;		/* runtime.env as "KEY=VALUE", NULL-terminated */
	size_t nenv;
	struct template_plugin *plugins;
	size_t nplugins;
	json_t *resolved;	/* the whole template as loaded, with runtime
				   filled in (defaults, agent_runner), plugin
				   paths and argv[0] made absolute: loading it
				   again gives the same struct */
};

/* What starry.yaml adds to loading: agent_runner, the argv that runs a
 * manifest ("{manifest}" in an element stands for the manifest's path).
 * NULL members mean "not configured". */
struct template_context {
	const char *const *agent_runner;	/* NULL-terminated, or NULL */
};

/* Load, validate and resolve the template in file. name is its name, or
 * NULL for the file's name without its extension. Errors are EX_CONFIG
 * in the form "FILE:LINE:COL: KEY.PATH: message" with a "did you mean"
 * for unknown keys in starry's own blocks (identity.id, plugins[N],
 * runtime and everything in it); EX_NOINPUT when the file cannot be read.
 * The OpenStarry blocks (cognition, capabilities, policy, memory, ...) and
 * other identity keys pass through unjudged. A manifest (no runtime) needs
 * identity.id, a non-empty plugins list, and ctx->agent_runner. A plugin
 * path is resolved against the template's folder and must exist. ${VAR}
 * expands from the environment in runtime.command and runtime.env. */
int template_load(const char *file, const char *name,
    const struct template_context *ctx, struct template **out,
    struct starry_err *err);
void template_free(struct template *t);

/* The argv to execute: argv with "{manifest}" in any element replaced by
 * manifest (the frozen template's path), then extra appended. A malloc'd
 * NULL-terminated array of malloc'd strings (free with template_argv_free),
 * or NULL on out of memory. */
char **template_command(const struct template *t, const char *manifest,
    char *const *extra, size_t nextra);
void template_argv_free(char **argv);

/* The resolved template as JSON text, pretty-printed, with a '\n'
 * (malloc'd). */
char *template_dump(const struct template *t, size_t *len);

/* Finding templates in a config folder's agents/ (STARRY_CONFIG/agents).
 * A name holding a '/' is a path to a file. Otherwise agents/NAME.yaml,
 * NAME.yml and NAME.json are tried; *path is malloc'd. Not found:
 * EX_NOINPUT "no template 'revewer' in DIR (did you mean 'reviewer'?)". */
int template_find(const char *config_dir, const char *name, char **path,
    struct starry_err *err);

/* Each template file in config_dir/agents, by name: fn gets its name and
 * path. A missing folder is no templates. Returns 0, or -1 with err (or
 * as fn's -1 leaves it). */
typedef int (*template_each_fn)(void *ctx, const char *name, const char *path);
int template_each(const char *config_dir, template_each_fn fn, void *ctx,
    struct starry_err *err);

/* Templates remembered as loaded, for a process that loads the same ones
 * again and again (the daemon, and the spare supervisors it forks). Load
 * is template_load of path as name, but while the file is unchanged (the
 * same inode, size, mode and times, by stat before the load) and its
 * plugins are still there, the template loaded before is returned again.
 * *out belongs to m: it lives until m is cleared, freed, or the same
 * name and path are loaded again. A failed load forgets them. Clear m
 * when ctx changes. */
struct template_memo;
struct template_memo *template_memo_new(void);
int template_memo_load(struct template_memo *m, const char *path,
    const char *name, const struct template_context *ctx,
    const struct template **out, struct starry_err *err);
void template_memo_clear(struct template_memo *m);
void template_memo_free(struct template_memo *m);

/* The cache of last valid versions (STARRY_HOME/templates.cache/NAME.json)
 * for degraded boot. Store writes the resolved JSON atomically; the path
 * of a cached template is malloc'd (it may not exist). */
int template_cache_store(const char *home, const struct template *t,
    struct starry_err *err);
char *template_cache_path(const char *home, const char *name);

/* Whether id can name an agent (and its folder): 1 to 64 of
 * [A-Za-z0-9._-], not starting with '.' or '-'. */
bool template_id_valid(const char *id);

/* A signal name ("TERM", "SIGTERM", "kill", or a number) to its number;
 * -1 when unknown. And back: "TERM" (a static string; NULL if unknown). */
int template_signal_number(const char *name);
const char *template_signal_name(int sig);

/* Added for starry.yaml (settings.c), which holds runtime blocks and
 * argvs of its own: the same rules, applied to part of another loaded
 * file so that errors point into it. s is a scope of that file's
 * config_doc (config.h). */
struct config_scope;

/* Validate the object at s as a runtime block (every key and value, as
 * template_load would), allowing also the keys in also (NULL-terminated,
 * or NULL) unjudged. Returns 0, or -1 with err (EX_CONFIG). */
int template_check_runtime(const struct config_scope *s,
    const char *const *also, struct starry_err *err);

/* The argv at key inside s, by runtime.command's rules: a non-empty list
 * of strings (a lone string is refused: an argv, never a shell string),
 * ${VAR} expanded in each element, the first not empty, and a relative
 * first element holding a '/' made absolute against dir (left as it is
 * when dir is NULL). *argv is NULL-terminated (free with
 * template_argv_free). Returns 0, or -1 with err (EX_CONFIG). */
int template_get_argv(const struct config_scope *s, const char *key,
    const char *dir, char ***argv, size_t *argc, struct starry_err *err);

/* template_load for a tree in memory (root is borrowed), such as an
 * infrastructure entry's template from starry.yaml: origin names it in
 * errors and becomes t->file; dir (which must exist) is the folder that
 * relative paths resolve against; name is required. */
int template_load_json(json_t *root, const char *name, const char *origin,
    const char *dir, const struct template_context *ctx,
    struct template **out, struct starry_err *err);

#endif
