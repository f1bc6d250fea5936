/* Orchestration rules (DESIGN section 4; orchestration.yaml(5)): the file
 * and what it includes, loaded and checked into a rule set whose rules
 * are looked up by event type through an index, with their `if`
 * expressions and actions compiled. A rule_set owns its rules and
 * everything they point to; json_t * handed out are new references. */
#ifndef STARRY_RULES_H
#define STARRY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cron.h"
#include "diag.h"
#include "event.h"
#include "expr.h"

#define RULES_MAX_INCLUDE_DEPTH 8	/* an include of an include of ... */
#define RULES_MAX              100000	/* rules in a set */
#define RULES_ACTION_MAX_ARGS  64	/* key=value pairs of an action */
#define RULES_DEFAULT_PRIORITY 3
#define RULES_MAX_CONCURRENCY  1000	/* live agents a rule may count */

enum rule_verb { RULE_SPAWN, RULE_STOP, RULE_EMIT };

/* One argument of an action: literal text, or a path into the event
 * that caused it (`${payload.sha}`). */
struct rule_value {
	char *text;		/* the literal, or the path as written */
	struct expr *path;	/* NULL for a literal */
};

/* spawn(TEMPLATE, id=ID, arg=A, KEY=V...): the agent's id, its extra
 * arguments in order, and the rest as its environment. stop(ID).
 * emit(TYPE, PAYLOAD): payload is JSON, null when left out. */
struct rule_action {
	enum rule_verb verb;
	struct rule_value target;	/* template, agent id, event type */
	struct rule_value id;		/* spawn's id=, text NULL if none */
	struct rule_value *args;	/* spawn's arg=, in order */
	size_t nargs;
	char **env_keys;
	struct rule_value *env;
	size_t nenv;
	json_t *payload;		/* emit's (a reference held) */
	char *text;			/* as written */
};

struct rule {
	char *name;		/* given, or "FILE#N" (1-based in its file) */
	char *file;		/* where it was written */
	int line, col;
	char **on;		/* types and globs; NULL for a timer */
	size_t non;
	struct expr *cond;	/* NULL: no `if` */
	struct rule_action action;
	int64_t debounce_ms;	/* 0: none */
	int64_t concurrency;	/* 0: no bound */
	int priority;		/* of the events it makes; order of firing */
	int64_t every_ms;	/* a timer by interval; 0 if not */
	bool has_cron;
	struct cron_spec cron;
	char *cron_text;
	size_t index;		/* its place in the set */
};

struct rule_set;

/* Load path and its includes (globs relative to the including file's
 * folder; a file included twice counts once). A file that does not
 * exist is EX_NOINPUT; any error in any file is EX_CONFIG with
 * "FILE:LINE:COL: KEY.PATH: message". The project block: every and
 * timeout (ms), 0 when not given. */
int rules_load(const char *path, struct rule_set **out, struct starry_err *err);
void rules_free(struct rule_set *rs);

size_t rules_count(const struct rule_set *rs);
/* How many of them are timers (every or cron, no on). */
size_t rules_timer_count(const struct rule_set *rs);
const struct rule *rules_get(const struct rule_set *rs, size_t i);
/* How many files it was read from. */
size_t rules_file_count(const struct rule_set *rs);
/* The folders to watch for a change: those of the files read and those
 * that the include globs look in (a file may appear there later). */
size_t rules_dir_count(const struct rule_set *rs);
const char *rules_dir(const struct rule_set *rs, size_t i);
void rules_projection(const struct rule_set *rs, int64_t *every_ms,
    int64_t *timeout_ms);

/* The rules whose `on` takes type (NUL-terminated, len bytes), in firing
 * order (priority, then as written), each once: their indexes into out,
 * which has room for rules_match_room(rs) (a rule is found once for each
 * of its on entries that takes the type before duplicates go). Returns
 * how many. Exact types and "NAMESPACE:*" globs are found through hash
 * tables; other globs are tried one by one. */
size_t rules_match_room(const struct rule_set *rs);
size_t rules_for_type(const struct rule_set *rs, const char *type,
    size_t type_len, uint32_t *out);

/* The event an action makes (a new reference): SPAWN:REQUEST {template,
 * id, args, env, rule}, SPAWN:STOP_REQUEST {id, rule}, or the emitted
 * type with its payload. With a cause (an event, scanned as view, with
 * ev its text for ${...} paths) it continues the cause's trace (DESIGN
 * section 2); a timer's (cause NULL) starts a new one. NULL with err when
 * a value is not usable (a ${path} the event lacks names the rule). */
json_t *rule_action_event(const struct rule *r, const struct event_view *cause,
    struct expr_event *ev, struct starry_err *err);

#endif
