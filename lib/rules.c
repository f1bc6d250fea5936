/* Orchestration rules: see rules.h. Loading reads the main file and its
 * includes depth first, each through config.h so that every error has a
 * file, line, column and key path; then it builds the type index. */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "grow.h"
#include "paths.h"
#include "rules.h"
#include "template.h"

/* One exact type (or namespace) and the rules that take it, in firing
 * order. */
struct bucket {
	char *type;
	uint32_t *rules;
	size_t n, cap;
};

/* A hash table of buckets: open addressing, a power of two. */
struct index {
	struct bucket *b;
	size_t n;
};

struct rule_set {
	struct rule *rules;
	size_t n, cap;
	char **files;
	size_t nfiles;
	char **dirs;
	size_t ndirs;
	int64_t project_every_ms, project_timeout_ms;
	struct index exact;		/* "git:commit_pushed" */
	struct index space;		/* "git:*", by "git:" */
	uint32_t *glob_rules;		/* rules with any other glob in `on` */
	size_t nglob;
	size_t non;			/* on entries of all the rules */
	char *base;			/* the main file's folder, with a '/' */
};

/* ---- values with ${path} in them ---- */

static void
value_free(struct rule_value *v)
{
	free(v->text);
	expr_free(v->path);
	*v = (struct rule_value){0};
}

/* text as a value: a literal, or exactly "${PATH}". Interpolation inside
 * longer text is not supported: say so rather than pass "${" on. */
static int
value_parse(const char *text, size_t len, struct rule_value *v, char *why,
    size_t cap)
{
	int col;
	struct starry_err e;
	char *inner;

	*v = (struct rule_value){0};
	if (len >= 2 && (text[0] == '\'' || text[0] == '"') && text[len - 1] == text[0]) {
		v->text = strndup(text + 1, len - 2);
		if (v->text == NULL)
			goto oom;
		return 0;
	}
	v->text = strndup(text, len);
	if (v->text == NULL)
		goto oom;
	if (len >= 3 && strncmp(text, "${", 2) == 0 && text[len - 1] == '}') {
		inner = strndup(text + 2, len - 3);
		if (inner == NULL)
			goto oom;
		if (expr_compile(inner, &v->path, &col, &e) == -1 ||
		    !expr_is_path(v->path)) {
			snprintf(why, cap, "'%.200s': ${...} takes a path into the event%s%.700s",
			    v->text, v->path == NULL ? ": " : "",
			    v->path == NULL ? e.msg : "");
			free(inner);
			value_free(v);
			return -1;
		}
		free(inner);
		return 0;
	}
	if (strstr(v->text, "${") != NULL) {
		snprintf(why, cap, "'%s': a ${path} must be the whole value", v->text);
		value_free(v);
		return -1;
	}
	return 0;
oom:
	value_free(v);
	snprintf(why, cap, "out of memory");
	return -1;
}

/* ---- actions ---- */

static void
action_free(struct rule_action *a)
{
	value_free(&a->target);
	value_free(&a->id);
	for (size_t i = 0; i < a->nargs; i++)
		value_free(&a->args[i]);
	for (size_t i = 0; i < a->nenv; i++) {
		free(a->env_keys[i]);
		value_free(&a->env[i]);
	}
	free(a->args);
	free(a->env_keys);
	free(a->env);
	json_decref(a->payload);
	free(a->text);
}

/* Split s[0..len) at the commas outside quotes and brackets: the start
 * and length of each piece, white space trimmed. */
static int
split_args(const char *s, size_t len, const char **start, size_t *lens,
    size_t *n, char *why, size_t cap)
{
	size_t i, from = 0, depth = 0;
	char quote = 0;

	*n = 0;
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : ',';

		if (quote) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == quote)
				quote = 0;
			continue;
		}
		if (c == '\'' || c == '"')
			quote = c;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && depth > 0)
			depth--;
		else if (c == ',' && depth == 0) {
			size_t a = from, b = i;

			while (a < b && (s[a] == ' ' || s[a] == '\t'))
				a++;
			while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
				b--;
			if (*n == RULES_ACTION_MAX_ARGS + 1) {
				snprintf(why, cap, "more than %d arguments",
				    RULES_ACTION_MAX_ARGS);
				return -1;
			}
			start[*n] = s + a;
			lens[*n] = b - a;
			(*n)++;
			from = i + 1;
		}
	}
	if (quote) {
		snprintf(why, cap, "a quoted argument has no closing quote");
		return -1;
	}
	if (*n == 1 && lens[0] == 0)
		*n = 0;
	for (i = 0; i < *n; i++)
		if (lens[i] == 0) {
			snprintf(why, cap, "argument %zu is empty", i + 1);
			return -1;
		}
	return 0;
}

static bool
env_key_valid(const char *k, size_t len)
{
	if (len == 0 || !((k[0] >= 'A' && k[0] <= 'Z') ||
	    (k[0] >= 'a' && k[0] <= 'z') || k[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!((k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= 'a' && k[i] <= 'z') ||
		    (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
			return false;
	return true;
}

/* spawn's key=value arguments. */
static int
spawn_param(struct rule_action *a, const char *s, size_t len, char *why,
    size_t cap)
{
	const char *eq = memchr(s, '=', len);
	size_t klen;
	struct rule_value v;

	if (eq == NULL) {
		snprintf(why, cap, "spawn: '%.*s': expected KEY=VALUE after the template",
		    (int)len, s);
		return -1;
	}
	klen = (size_t)(eq - s);
	while (klen > 0 && (s[klen - 1] == ' ' || s[klen - 1] == '\t'))
		klen--;
	eq++;
	while (eq < s + len && (*eq == ' ' || *eq == '\t'))
		eq++;
	if (!env_key_valid(s, klen)) {
		snprintf(why, cap, "spawn: '%.*s' is not a valid name (letters, digits and _)",
		    (int)klen, s);
		return -1;
	}
	if (value_parse(eq, (size_t)(s + len - eq), &v, why, cap) == -1)
		return -1;
	if (klen == 2 && strncmp(s, "id", 2) == 0) {
		if (a->id.text != NULL) {
			value_free(&v);
			snprintf(why, cap, "spawn: id= is given twice");
			return -1;
		}
		if (v.path == NULL && !template_id_valid(v.text)) {
			snprintf(why, cap, "spawn: '%.200s' is not a valid agent id "
			    "(1 to 64 of letters, digits, '.', '_' and '-')", v.text);
			value_free(&v);
			return -1;
		}
		a->id = v;
	} else if (klen == 3 && strncmp(s, "arg", 3) == 0) {
		if (grow_for_one(&a->args, a->nargs, sizeof(*a->args)) == -1)
			goto oom;
		a->args[a->nargs++] = v;
	} else {
		if (grow_for_one(&a->env, a->nenv, sizeof(*a->env)) == -1 ||
		    grow_for_one(&a->env_keys, a->nenv, sizeof(*a->env_keys)) == -1 ||
		    (a->env_keys[a->nenv] = strndup(s, klen)) == NULL)
			goto oom;
		a->env[a->nenv++] = v;
	}
	return 0;
oom:
	value_free(&v);
	snprintf(why, cap, "out of memory");
	return -1;
}

static int
action_parse(const char *text, struct rule_action *a, char *why, size_t cap)
{
	const char *open = strchr(text, '('), *close;
	const char *start[RULES_ACTION_MAX_ARGS + 2];
	size_t lens[RULES_ACTION_MAX_ARGS + 2], n, vlen;
	static const char *const verbs[] = {"spawn", "stop", "emit", NULL};
	struct starry_err e;
	const char *hint;
	char verb[16];

	*a = (struct rule_action){0};
	if ((a->text = strdup(text)) == NULL) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	close = text + strlen(text);
	while (close > text && (close[-1] == ' ' || close[-1] == '\t' ||
	    close[-1] == '\n'))
		close--;
	if (open == NULL || close == text || close[-1] != ')') {
		snprintf(why, cap, "expected VERB(ARGUMENTS): spawn(TEMPLATE, ...), "
		    "stop(ID) or emit(TYPE[, PAYLOAD])");
		return -1;
	}
	close--;
	vlen = (size_t)(open - text);
	while (vlen > 0 && text[vlen - 1] == ' ')
		vlen--;
	snprintf(verb, sizeof(verb), "%.*s", (int)(vlen < 15 ? vlen : 15), text);
	if (strcmp(verb, "spawn") == 0 && vlen == 5)
		a->verb = RULE_SPAWN;
	else if (strcmp(verb, "stop") == 0 && vlen == 4)
		a->verb = RULE_STOP;
	else if (strcmp(verb, "emit") == 0 && vlen == 4)
		a->verb = RULE_EMIT;
	else {
		hint = config_suggest(verb, verbs);
		snprintf(why, cap, "unknown action '%.*s'%s%s%s (known: spawn, stop, emit)",
		    (int)(vlen > 32 ? 32 : vlen), text, hint ? " (did you mean '" : "",
		    hint ? hint : "", hint ? "'?)" : "");
		return -1;
	}
	if (split_args(open + 1, (size_t)(close - open - 1), start, lens, &n, why,
	    cap) == -1)
		return -1;
	if (n == 0) {
		snprintf(why, cap, "%s: expected %s", verb, a->verb == RULE_SPAWN ?
		    "a template" : a->verb == RULE_STOP ? "an agent id" :
		    "an event type");
		return -1;
	}
	if (value_parse(start[0], lens[0], &a->target, why, cap) == -1)
		return -1;
	switch (a->verb) {
	case RULE_SPAWN:
		if (a->target.path == NULL && !template_id_valid(a->target.text) &&
		    strchr(a->target.text, '/') == NULL) {
			snprintf(why, cap, "spawn: '%s' is not a template name", a->target.text);
			return -1;
		}
		for (size_t i = 1; i < n; i++)
			if (spawn_param(a, start[i], lens[i], why, cap) == -1)
				return -1;
		return 0;
	case RULE_STOP:
		if (n > 1) {
			snprintf(why, cap, "stop takes one agent id");
			return -1;
		}
		if (a->target.path == NULL && !template_id_valid(a->target.text)) {
			snprintf(why, cap, "stop: '%s' is not a valid agent id", a->target.text);
			return -1;
		}
		return 0;
	case RULE_EMIT:
		if (n > 2) {
			snprintf(why, cap, "emit takes a type and a payload");
			return -1;
		}
		if (a->target.path != NULL) {
			snprintf(why, cap, "emit: the type is written out, not a ${path}");
			return -1;
		}
		/* Check the type as the envelope does. */
		json_t *probe = event_create(a->target.text, NULL, NULL, &e);

		if (probe == NULL) {
			snprintf(why, cap, "emit: %.900s", e.msg);
			return -1;
		}
		json_decref(probe);
		if (n == 2) {
			json_error_t je;

			a->payload = json_loadb(start[1], lens[1], JSON_DECODE_ANY, &je);
			if (a->payload == NULL) {
				snprintf(why, cap, "emit: the payload is not JSON: %s (column %d of it)",
				    je.text, je.column);
				return -1;
			}
		}
		return 0;
	}
	return 0;
}

/* ---- loading ---- */

static void
rule_free(struct rule *r)
{
	free(r->name);
	free(r->file);
	for (size_t i = 0; i < r->non; i++)
		free(r->on[i]);
	free(r->on);
	expr_free(r->cond);
	action_free(&r->action);
	free(r->cron_text);
}

static void
index_free(struct index *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->b[i].type);
		free(ix->b[i].rules);
	}
	free(ix->b);
}

void
rules_free(struct rule_set *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (size_t i = 0; i < rs->ndirs; i++)
		free(rs->dirs[i]);
	free(rs->dirs);
	index_free(&rs->exact);
	index_free(&rs->space);
	free(rs->glob_rules);
	free(rs->base);
	free(rs);
}

static bool
type_is_glob(const char *t)
{
	return strpbrk(t, "*?[") != NULL;
}

/* An `on` entry: a type or a glob, no white space, at most 128 bytes. */
static int
check_on(const struct config_scope *s, const char *t, struct starry_err *err)
{
	if (*t == '\0')
		return config_fail(s, NULL, err, "an event type is empty");
	if (strlen(t) > EVENT_MAX_FIELD)
		return config_fail(s, NULL, err, "an event type is longer than %d bytes",
		    EVENT_MAX_FIELD);
	if (strpbrk(t, " \t\r\n") != NULL)
		return config_fail(s, NULL, err, "'%s': an event type has no white space", t);
	if (!type_is_glob(t) && strchr(t, ':') == NULL)
		return config_fail(s, NULL, err,
		    "'%s': an event type is NAMESPACE:NAME (or a glob such as 'git:*')", t);
	return 0;
}

static const char *const rule_keys[] = {
	"name", "description", "on", "if", "action", "debounce", "concurrency",
	"priority", "every", "cron", NULL,
};

/* file: as it was named; real: its real path. */
static int
load_rule(struct rule_set *rs, const struct config_scope *s, const char *file,
    const char *real, size_t nth, struct starry_err *err)
{
	struct rule r = {.priority = RULES_DEFAULT_PRIORITY};
	const char **on = NULL, *name = NULL, *cond = NULL, *action = NULL,
	    *cron = NULL;
	size_t non = 0;
	int64_t prio = RULES_DEFAULT_PRIORITY, conc = 0;
	char why[1024];
	int col, timers;
	struct config_scope at;

	if (config_check_keys(s, rule_keys, err) == -1)
		return -1;
	if (config_get_string(s, "name", CONFIG_OPTIONAL, &name, err) == -1 ||
	    config_get_string(s, "description", CONFIG_OPTIONAL, &(const char *){0},
	    err) == -1 ||
	    config_get_string_list(s, "on", CONFIG_ONE_OR_LIST, &on, &non, err) == -1 ||
	    config_get_string(s, "if", CONFIG_OPTIONAL, &cond, err) == -1 ||
	    config_get_string(s, "action", CONFIG_REQUIRED, &action, err) == -1 ||
	    config_get_duration(s, "debounce", CONFIG_OPTIONAL, &r.debounce_ms, err) == -1 ||
	    config_get_int(s, "concurrency", CONFIG_OPTIONAL, 1, RULES_MAX_CONCURRENCY,
	    &conc, err) == -1 ||
	    config_get_int(s, "priority", CONFIG_OPTIONAL, 0, EVENT_PRIORITY_MAX, &prio,
	    err) == -1 ||
	    config_get_duration(s, "every", CONFIG_OPTIONAL, &r.every_ms, err) == -1 ||
	    config_get_string(s, "cron", CONFIG_OPTIONAL, &cron, err) == -1)
		goto fail;
	timers = (non > 0) + (r.every_ms > 0 || json_object_get(s->node, "every")) +
	    (cron != NULL);
	if (timers != 1) {
		config_fail(s, NULL, err, timers == 0 ?
		    "a rule needs one of on (an event type), every or cron" :
		    "a rule takes only one of on, every and cron");
		goto fail;
	}
	if (json_object_get(s->node, "every") != NULL && r.every_ms < 1000) {
		config_fail(s, "every", err, "every must be at least 1s");
		goto fail;
	}
	if (cond != NULL && non == 0) {
		config_fail(s, "if", err, "a timer rule has no event for if to test");
		goto fail;
	}
	config_scope_member(s, "on", &at);
	for (size_t i = 0; i < non; i++) {
		struct config_scope el = at;

		if (json_is_array(at.node))
			config_scope_element(&at, i, &el);
		if (check_on(&el, on[i], err) == -1)
			goto fail;
	}
	if (cron != NULL) {
		if (cron_parse(cron, &r.cron, err) == -1) {
			snprintf(why, sizeof(why), "%.1000s", err->msg);
			config_fail(s, "cron", err, "%s", why);
			goto fail;
		}
		r.has_cron = true;
		if ((r.cron_text = strdup(cron)) == NULL)
			goto oom;
	}
	if (cond != NULL && expr_compile(cond, &r.cond, &col, err) == -1) {
		snprintf(why, sizeof(why), "%.1000s", err->msg);
		config_fail(s, "if", err, "%s", why);
		goto fail;
	}
	if (action_parse(action, &r.action, why, sizeof(why)) == -1) {
		config_fail(s, "action", err, "%s", why);
		goto fail;
	}
	if (r.action.id.path != NULL || r.action.target.path != NULL ||
	    r.action.nargs > 0 || r.action.nenv > 0) {
		bool uses_event = r.action.target.path != NULL || r.action.id.path != NULL;

		for (size_t i = 0; i < r.action.nargs; i++)
			uses_event |= r.action.args[i].path != NULL;
		for (size_t i = 0; i < r.action.nenv; i++)
			uses_event |= r.action.env[i].path != NULL;
		if (uses_event && non == 0) {
			config_fail(s, "action", err, "a timer rule has no event for ${...} to read");
			goto fail;
		}
	}
	r.concurrency = conc;
	r.priority = (int)prio;
	r.line = s->line;
	r.col = s->col;
	if ((r.file = strdup(file)) == NULL)
		goto oom;
	if (name != NULL) {
		if (*name == '\0' || strlen(name) > 128) {
			config_fail(s, "name", err, "a name is 1 to 128 bytes");
			goto fail;
		}
		for (size_t i = 0; i < rs->n; i++)
			if (strcmp(rs->rules[i].name, name) == 0) {
				config_fail(s, "name", err,
				    "the name '%s' is taken by the rule at %s:%d:%d", name,
				    rs->rules[i].file, rs->rules[i].line, rs->rules[i].col);
				goto fail;
			}
		r.name = strdup(name);
	} else {
		/* FILE#N, FILE from the main file's folder, so that x.yaml and
		 * rules/x.yaml do not make the same names. */
		const char *shown = real;

		if (strncmp(real, rs->base, strlen(rs->base)) == 0)
			shown = real + strlen(rs->base);
		if (asprintf(&r.name, "%s#%zu", shown, nth + 1) == -1)
			r.name = NULL;
	}
	if (r.name == NULL)
		goto oom;
	if (non > 0) {
		r.on = calloc(non, sizeof(*r.on));
		if (r.on == NULL)
			goto oom;
		for (r.non = 0; r.non < non; r.non++)
			if ((r.on[r.non] = strdup(on[r.non])) == NULL)
				goto oom;
	}
	if (rs->n == RULES_MAX) {
		config_fail(s, NULL, err, "more than %d rules", RULES_MAX);
		goto fail;
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 16;
		struct rule *p = realloc(rs->rules, cap * sizeof(*p));

		if (p == NULL)
			goto oom;
		rs->rules = p;
		rs->cap = cap;
	}
	r.index = rs->n;
	rs->rules[rs->n++] = r;
	free(on);
	return 0;
oom:
	starry_err_set(err, EX_OSERR, "out of memory");
fail:
	free(on);
	rule_free(&r);
	return -1;
}

static int load_file(struct rule_set *rs, const char *path, int depth,
    struct starry_err *err);

/* Add the folder of path to the folders to watch, once. */
static int
add_dir(struct rule_set *rs, const char *path, struct starry_err *err)
{
	char *copy = strdup(path), *dir, **dirs;

	if (copy == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	dir = dirname(copy);
	for (size_t i = 0; i < rs->ndirs; i++)
		if (strcmp(rs->dirs[i], dir) == 0) {
			free(copy);
			return 0;
		}
	dirs = realloc(rs->dirs, (rs->ndirs + 1) * sizeof(*dirs));
	if (dirs == NULL || (dirs[rs->ndirs] = strdup(dir)) == NULL) {
		if (dirs != NULL)
			rs->dirs = dirs;
		free(copy);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	rs->dirs = dirs;
	rs->ndirs++;
	free(copy);
	return 0;
}

/* The files an include names, globbed against dir. */
static int
load_includes(struct rule_set *rs, const struct config_scope *root,
    const char *dir, int depth, struct starry_err *err)
{
	const char **pats = NULL;
	size_t npats = 0;
	int rc = 0;

	if (config_get_string_list(root, "include", CONFIG_ONE_OR_LIST, &pats, &npats,
	    err) == -1)
		return -1;
	for (size_t i = 0; i < npats && rc == 0; i++) {
		char *pat = pats[i][0] == '/' ? strdup(pats[i]) :
		    starry_path_join(dir, pats[i]);
		glob_t g;
		int grc;

		if (pat == NULL) {
			rc = starry_err_set(err, EX_OSERR, "out of memory");
			break;
		}
		if (add_dir(rs, pat, err) == -1) {
			free(pat);
			rc = -1;
			break;
		}
		grc = glob(pat, GLOB_ERR, NULL, &g);
		if (grc == GLOB_NOMATCH && strpbrk(pats[i], "*?[") == NULL) {
			struct config_scope inc;

			config_scope_member(root, "include", &inc);
			rc = config_fail(&inc, NULL, err, "'%s': no such file", pats[i]);
		} else if (grc == GLOB_ABORTED && errno == ENOENT) {
			grc = GLOB_NOMATCH;	/* no folder yet: no files yet */
		} else if (grc != 0 && grc != GLOB_NOMATCH) {
			rc = starry_err_set(err, EX_NOINPUT, "%s: cannot read the folder of "
			    "include '%s'", config_name(root->doc), pats[i]);
		}
		for (size_t k = 0; grc == 0 && k < g.gl_pathc && rc == 0; k++) {
			struct config_scope inc;
			struct stat sb;

			/* A folder or a FIFO a glob happens to match is not a
			 * rules file (a FIFO would hold the load until written);
			 * one named outright is an error. */
			if (stat(g.gl_pathv[k], &sb) == -1 || !S_ISREG(sb.st_mode)) {
				if (strpbrk(pats[i], "*?[") != NULL)
					continue;	/* a dangling link too */
				config_scope_member(root, "include", &inc);
				rc = config_fail(&inc, NULL, err,
				    "'%s': not a regular file", pats[i]);
				break;
			}
			rc = load_file(rs, g.gl_pathv[k], depth + 1, err);
		}
		if (grc == 0)
			globfree(&g);
		free(pat);
	}
	free(pats);
	return rc;
}

static const char *const top_keys[] = {"include", "rules", "project", NULL};
static const char *const project_keys[] = {"every", "timeout", NULL};

static int
load_file(struct rule_set *rs, const char *path, int depth,
    struct starry_err *err)
{
	struct config_doc *doc = NULL;
	struct config_scope root, list, el, project;
	char real[PATH_MAX], *dir = NULL, **files;
	int rc = -1;

	if (depth > RULES_MAX_INCLUDE_DEPTH)
		return starry_err_set(err, EX_CONFIG,
		    "%s: includes nested more than %d deep (a loop?)", path,
		    RULES_MAX_INCLUDE_DEPTH);
	if (depth == 0 && add_dir(rs, path, err) == -1)
		return -1;
	if (realpath(path, real) == NULL)
		return starry_err_sys(err, errno == ENOENT ? EX_NOINPUT : EX_CONFIG,
		    "%s", path);
	if (add_dir(rs, real, err) == -1)
		return -1;
	if (depth == 0) {
		char *copy = strdup(real);

		if (copy == NULL || asprintf(&rs->base, "%s/", dirname(copy)) == -1) {
			free(copy);
			return starry_err_set(err, EX_OSERR, "out of memory");
		}
		free(copy);
	}
	for (size_t i = 0; i < rs->nfiles; i++)
		if (strcmp(rs->files[i], real) == 0)
			return 0;	/* included before: once is enough */
	files = realloc(rs->files, (rs->nfiles + 1) * sizeof(*files));
	if (files == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	rs->files = files;
	if ((rs->files[rs->nfiles] = strdup(real)) == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	rs->nfiles++;
	if (config_load_file(path, &doc, err) == -1)
		return -1;
	config_scope_root(doc, &root);
	if (!json_is_object(root.node)) {
		config_fail(&root, NULL, err, "expected a mapping with rules (and include)");
		goto out;
	}
	if (config_check_keys(&root, top_keys, err) == -1)
		goto out;
	if (depth == 0) {
		if (config_get_object(&root, "project", CONFIG_OPTIONAL, &project, err) == -1 ||
		    config_check_keys(&project, project_keys, err) == -1 ||
		    config_get_duration(&project, "every", CONFIG_OPTIONAL,
		    &rs->project_every_ms, err) == -1 ||
		    config_get_duration(&project, "timeout", CONFIG_OPTIONAL,
		    &rs->project_timeout_ms, err) == -1)
			goto out;
	} else if (json_object_get(root.node, "project") != NULL) {
		config_fail(&root, "project", err,
		    "project is set in the main rules file, not in an included one");
		goto out;
	}
	if ((dir = strdup(real)) == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto out;
	}
	if (load_includes(rs, &root, dirname(dir), depth, err) == -1)
		goto out;
	if (config_get_array(&root, "rules", CONFIG_OPTIONAL, &list, err) == -1)
		goto out;
	for (size_t i = 0; list.node != NULL && i < json_array_size(list.node); i++) {
		config_scope_element(&list, i, &el);
		if (!json_is_object(el.node)) {
			config_fail(&el, NULL, err, "a rule is a mapping (on, if, action, ...), not %s",
			    config_type_name(el.node));
			goto out;
		}
		if (load_rule(rs, &el, path, real, i, err) == -1)
			goto out;
	}
	rc = 0;
out:
	free(dir);
	config_doc_free(doc);
	return rc;
}

/* ---- the index ---- */

static uint64_t
hash_type(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

static struct bucket *
bucket_find(const struct index *ix, const char *type, size_t len)
{
	size_t mask = ix->n - 1, i;

	if (ix->n == 0)
		return NULL;
	for (i = hash_type(type, len) & mask; ix->b[i].type != NULL;
	    i = (i + 1) & mask)
		if (strlen(ix->b[i].type) == len &&
		    memcmp(ix->b[i].type, type, len) == 0)
			return &ix->b[i];
	return &ix->b[i];	/* the empty slot it would take */
}

/* Add rule to the bucket of key (len bytes) in ix; once per rule. */
static int
bucket_add(struct index *ix, const char *key, size_t len, uint32_t rule)
{
	struct bucket *b = bucket_find(ix, key, len);

	if (b->type == NULL && (b->type = strndup(key, len)) == NULL)
		return -1;
	if (b->n > 0 && b->rules[b->n - 1] == rule)
		return 0;	/* the same type twice in one rule */
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 2;
		uint32_t *p = realloc(b->rules, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		b->rules = p;
		b->cap = cap;
	}
	b->rules[b->n++] = rule;
	return 0;
}

/* Whether g is "NAMESPACE:*": its only special character the last. */
static bool
namespace_glob(const char *g)
{
	size_t n = strlen(g);

	return n >= 3 && g[n - 1] == '*' && g[n - 2] == ':' &&
	    strpbrk(g, "*?[") == g + n - 1;
}

static int
firing_order(const void *a, const void *b, void *arg)
{
	const struct rule *rules = arg;
	const struct rule *x = &rules[*(const uint32_t *)a];
	const struct rule *y = &rules[*(const uint32_t *)b];

	if (x->priority != y->priority)
		return x->priority - y->priority;
	return (x->index > y->index) - (x->index < y->index);
}

static int
build_index(struct rule_set *rs, struct starry_err *err)
{
	uint32_t *order = NULL;
	size_t ntypes = 0;
	int rc = -1;

	for (size_t i = 0; i < rs->n; i++)
		ntypes += rs->rules[i].non;
	rs->non = ntypes;
	for (rs->exact.n = 16; rs->exact.n < 2 * ntypes; rs->exact.n *= 2)
		;
	rs->space.n = rs->exact.n;
	rs->exact.b = calloc(rs->exact.n, sizeof(*rs->exact.b));
	rs->space.b = calloc(rs->space.n, sizeof(*rs->space.b));
	rs->glob_rules = calloc(rs->n + 1, sizeof(*rs->glob_rules));
	order = calloc(rs->n + 1, sizeof(*order));
	if (rs->exact.b == NULL || rs->space.b == NULL || rs->glob_rules == NULL ||
	    order == NULL)
		goto out;
	for (size_t i = 0; i < rs->n; i++)
		order[i] = (uint32_t)i;
	if (rs->n > 0)
		qsort_r(order, rs->n, sizeof(*order), firing_order, rs->rules);
	/* Taken in firing order, each bucket's list is in firing order. */
	for (size_t k = 0; k < rs->n; k++) {
		const struct rule *r = &rs->rules[order[k]];
		bool glob = false;

		for (size_t j = 0; j < r->non; j++) {
			const char *t = r->on[j];

			if (namespace_glob(t)) {
				if (bucket_add(&rs->space, t, strlen(t) - 1, order[k]) == -1)
					goto out;
			} else if (type_is_glob(t)) {
				glob = true;
			} else if (bucket_add(&rs->exact, t, strlen(t), order[k]) == -1) {
				goto out;
			}
		}
		if (glob)
			rs->glob_rules[rs->nglob++] = order[k];
	}
	rc = 0;
out:
	free(order);
	if (rc == -1)
		starry_err_set(err, EX_OSERR, "out of memory");
	return rc;
}

int
rules_load(const char *path, struct rule_set **out, struct starry_err *err)
{
	struct rule_set *rs = calloc(1, sizeof(*rs));

	if (rs == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	if (load_file(rs, path, 0, err) == -1 || build_index(rs, err) == -1) {
		rules_free(rs);
		return -1;
	}
	*out = rs;
	return 0;
}

size_t
rules_count(const struct rule_set *rs)
{
	return rs->n;
}

size_t
rules_timer_count(const struct rule_set *rs)
{
	size_t n = 0;

	for (size_t i = 0; i < rs->n; i++)
		n += rs->rules[i].on == NULL;
	return n;
}

const struct rule *
rules_get(const struct rule_set *rs, size_t i)
{
	return &rs->rules[i];
}

size_t
rules_file_count(const struct rule_set *rs)
{
	return rs->nfiles;
}

size_t
rules_dir_count(const struct rule_set *rs)
{
	return rs->ndirs;
}

const char *
rules_dir(const struct rule_set *rs, size_t i)
{
	return rs->dirs[i];
}

void
rules_projection(const struct rule_set *rs, int64_t *every_ms,
    int64_t *timeout_ms)
{
	*every_ms = rs->project_every_ms;
	*timeout_ms = rs->project_timeout_ms;
}

/* Whether one of r's other globs (not "NAMESPACE:*") takes type. */
static bool
glob_takes(const struct rule *r, const char *type)
{
	for (size_t j = 0; j < r->non; j++) {
		const char *g = r->on[j];

		if (type_is_glob(g) && !namespace_glob(g) && fnmatch(g, type, 0) == 0)
			return true;
	}
	return false;
}

size_t
rules_match_room(const struct rule_set *rs)
{
	return rs->non + 1;
}

size_t
rules_for_type(const struct rule_set *rs, const char *type, size_t len,
    uint32_t *out)
{
	const struct bucket *b = bucket_find(&rs->exact, type, len);
	size_t n = 0;

	if (b != NULL && b->type != NULL) {
		memcpy(out, b->rules, b->n * sizeof(*out));
		n = b->n;
	}
	/* "hal:*" and "hal:sensor:*" both take hal:sensor:temp. */
	for (size_t i = 0; i < len; i++) {
		if (type[i] != ':')
			continue;
		b = bucket_find(&rs->space, type, i + 1);
		if (b != NULL && b->type != NULL) {
			memcpy(out + n, b->rules, b->n * sizeof(*out));
			n += b->n;
		}
	}
	for (size_t ig = 0; ig < rs->nglob; ig++)
		if (glob_takes(&rs->rules[rs->glob_rules[ig]], type))
			out[n++] = rs->glob_rules[ig];
	/* Into firing order, each rule once: short lists, insertion sort. */
	for (size_t i = 1; i < n; i++) {
		uint32_t v = out[i];
		size_t j = i;

		while (j > 0 && firing_order(&out[j - 1], &v, rs->rules) > 0) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = v;
	}
	if (n > 1) {
		size_t w = 1;

		for (size_t i = 1; i < n; i++)
			if (out[i] != out[w - 1])
				out[w++] = out[i];
		n = w;
	}
	return n;
}

/* ---- action events ---- */

/* A value's text for the event: the literal, or the path's value (a
 * string's decoded text, any other JSON as written). */
static json_t *
value_json(const struct rule_value *v, struct expr_event *ev,
    struct starry_err *err)
{
	struct jvalue j;

	if (v->path == NULL)
		return json_string(v->text);
	if (ev == NULL || !expr_path_value(v->path, ev, &j) || j.kind == JSCAN_NULL)
		return starry_err_set(err, EX_DATAERR, "%s: the event has no value there",
		    v->text), NULL;
	if (j.kind == JSCAN_STRING) {
		json_t *str;
		char *buf = malloc(j.len + 1);
		long n;

		if (buf == NULL)
			return starry_err_set(err, EX_OSERR, "out of memory"), NULL;
		n = j.escaped ? jscan_unescape(j.p, j.len, buf, j.len + 1) :
		    (memcpy(buf, j.p, j.len), (long)j.len);
		str = n < 0 ? NULL : json_stringn(buf, (size_t)n);
		free(buf);
		return str;
	}
	return json_stringn(j.p, j.len);
}

json_t *
rule_action_event(const struct rule *r, const struct event_view *cause,
    struct expr_event *ev, struct starry_err *err)
{
	const struct rule_action *a = &r->action;
	struct event_origin origin = {.source = "starry-sched", .priority = r->priority};
	struct event_cause_buf cbuf;
	json_t *payload = NULL, *target = NULL, *v, *list;
	const char *type;

	if (cause != NULL && event_origin_from_cause(&origin, cause, &cbuf, err) == -1)
		return NULL;
	if (a->verb == RULE_EMIT) {
		payload = a->payload != NULL ? json_deep_copy(a->payload) : json_null();
		return event_create(a->target.text, payload, &origin, err);
	}
	if ((target = value_json(&a->target, ev, err)) == NULL)
		goto fail;
	payload = json_object();
	if (payload == NULL)
		goto oom;
	if (a->verb == RULE_STOP) {
		if (!template_id_valid(json_string_value(target))) {
			starry_err_set(err, EX_DATAERR, "stop: '%s' is not a valid agent id",
			    json_string_value(target));
			json_decref(target);
			goto fail;
		}
		json_object_set_new(payload, "id", target);
		type = "SPAWN:STOP_REQUEST";
	} else {
		/* A name from the event names a template of the config, never a
		 * file elsewhere. */
		if (a->target.path != NULL &&
		    !template_id_valid(json_string_value(target))) {
			starry_err_set(err, EX_DATAERR, "spawn: '%.200s' is not a template name",
			    json_string_value(target));
			json_decref(target);
			goto fail;
		}
		json_object_set_new(payload, "template", target);
		if (a->id.text != NULL) {
			if ((v = value_json(&a->id, ev, err)) == NULL)
				goto fail;
			if (!template_id_valid(json_string_value(v))) {
				starry_err_set(err, EX_DATAERR,
				    "spawn: '%s' is not a valid agent id", json_string_value(v));
				json_decref(v);
				goto fail;
			}
			json_object_set_new(payload, "id", v);
		}
		if (a->nargs > 0) {
			json_object_set_new(payload, "args", list = json_array());
			for (size_t i = 0; i < a->nargs; i++) {
				if ((v = value_json(&a->args[i], ev, err)) == NULL)
					goto fail;
				json_array_append_new(list, v);
			}
		}
		if (a->nenv > 0) {
			json_object_set_new(payload, "env", list = json_object());
			for (size_t i = 0; i < a->nenv; i++) {
				if ((v = value_json(&a->env[i], ev, err)) == NULL)
					goto fail;
				json_object_set_new(list, a->env_keys[i], v);
			}
		}
		type = "SPAWN:REQUEST";
	}
	json_object_set_new(payload, "rule", json_string(r->name));
	return event_create(type, payload, &origin, err);
oom:
	json_decref(target);
	starry_err_set(err, EX_OSERR, "out of memory");
fail:
	json_decref(payload);
	return NULL;
}
