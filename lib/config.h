/* Configuration (DESIGN 4): YAML or JSON loaded into one jansson tree with
 * each node's line:col, and checks whose errors read "FILE:L:C: path: msg".
 * A config_doc owns tree and places; json_t * in or out is always BORROWED. */
/* So: a json_t * from here lives until config_doc_free() and must not be
 * decref'd; const char * outputs are borrowed the same way; char * and
 * arrays filled in are malloc'd for the caller to free. Places describe
 * the tree as loaded: a node the caller replaces has none. */
#ifndef STARRY_CONFIG_H
#define STARRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

/* Limits: a larger file, deeper nesting (the root is level 1), more nodes
 * (aliases expanded), more nodes or string bytes copied by aliases are all
 * refused; a key path longer than CONFIG_PATH_MAX is cut short with "...". */
#define CONFIG_MAX_BYTES       (16u * 1024 * 1024)
#define CONFIG_MAX_DEPTH       64
#define CONFIG_MAX_NODES       (1u << 18)
#define CONFIG_MAX_ALIAS_NODES (1u << 16)
#define CONFIG_MAX_ALIAS_BYTES (16u * 1024 * 1024)
#define CONFIG_PATH_MAX        256

struct config_doc;

/* Load a file (its path is the name in messages) or a buffer named name
 * ("<stdin>", "test.yaml"). One document only; a file with no document,
 * or whose only node is an empty plain scalar, loads as an empty object.
 * Scalars follow the YAML 1.2 core schema; .inf/.nan and integers beyond
 * int64 are refused; anchors and aliases work, an alias being a copy.
 * Returns 0 and *doc, or -1 with err: EX_CONFIG for anything about the
 * content, EX_NOINPUT when the file cannot be read, EX_OSERR on ENOMEM. */
int config_load_file(const char *path, struct config_doc **doc,
    struct starry_err *err);
int config_load_buffer(const char *name, const char *buf, size_t len,
    struct config_doc **doc, struct starry_err *err);
void config_doc_free(struct config_doc *doc);

/* The root node (borrowed) and the name given at load. */
json_t *config_root(const struct config_doc *doc);
const char *config_name(const struct config_doc *doc);

/* Where a node of the loaded tree starts (1-based). true, false and null
 * are jansson singletons with no place of their own, so ask for them
 * through their container with config_where_member/_element. All return
 * 0, or -1 when the doc does not know the node (not from this doc). */
int config_where(const struct config_doc *doc, const json_t *node,
    int *line, int *col);
int config_where_member(const struct config_doc *doc, const json_t *object,
    const char *key, int *line, int *col);	/* the member's value */
int config_where_key(const struct config_doc *doc, const json_t *object,
    const char *key, int *line, int *col);	/* the member's key */
int config_where_element(const struct config_doc *doc, const json_t *array,
    size_t index, int *line, int *col);

/* A node being validated and the key path that reached it. Scopes are
 * plain values on the caller's stack; node is borrowed, and NULL when an
 * optional block is absent (then every key in it reads as absent). line:col
 * is where errors about the node point: a member's key (as in DESIGN's
 * "reviewer.yaml:7:3: runtime.restart: ..."), a list element itself, or,
 * when absent, the nearest present parent. */
struct config_scope {
	const struct config_doc *doc;
	json_t *node;
	int line, col;
	char path[CONFIG_PATH_MAX];	/* "runtime.backoff", "plugins[2]" */
};

/* The root scope (path ""); a member or element of a scope. */
void config_scope_root(const struct config_doc *doc, struct config_scope *out);
void config_scope_member(const struct config_scope *s, const char *key,
    struct config_scope *out);
void config_scope_element(const struct config_scope *s, size_t index,
    struct config_scope *out);

/* Fail at key inside s (at the member's key when it is there, else at
 * s), or at s itself when key is NULL: fills err with EX_CONFIG and
 * "NAME:LINE:COL: PATH: message" and returns -1. For callers' own checks
 * (an unknown driver, an expression that does not compile). */
int config_fail(const struct config_scope *s, const char *key,
    struct starry_err *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Unknown keys are errors: every key of the object s must be in allowed
 * (NULL-terminated). The error points at the key and suggests the
 * nearest allowed one ("did you mean 'restart'?"). 0 when s is absent. */
int config_check_keys(const struct config_scope *s, const char *const *allowed,
    struct starry_err *err);
/* The allowed key nearest to key, or NULL: edit distance 0 or 1 first,
 * then one a prefix of the other (3 characters at least), then distance 2
 * (always less than key's length); the first in allowed wins a tie. */
const char *config_suggest(const char *key, const char *const *allowed);

/* Flags for the getters. An absent key, or one whose value is null, is
 * fine unless CONFIG_REQUIRED; then *out is left as it was, so set the
 * default first. CONFIG_ONE_OR_LIST lets a string list be a lone string. */
#define CONFIG_OPTIONAL    0
#define CONFIG_REQUIRED    1
#define CONFIG_ONE_OR_LIST 2

/* Getters: the value at key inside object s, or s itself when key is
 * NULL (for list elements). Each returns 0, or -1 with err in the shape
 * above when the value is missing (and required) or wrong. */
int config_get_string(const struct config_scope *s, const char *key, int flags,
    const char **out, struct starry_err *err);
/* The string with ${VAR} expanded from the environment (malloc'd). */
int config_get_string_env(const struct config_scope *s, const char *key,
    int flags, char **out, struct starry_err *err);
int config_get_int(const struct config_scope *s, const char *key, int flags,
    int64_t min, int64_t max, int64_t *out, struct starry_err *err);
/* An integer or a real. */
int config_get_number(const struct config_scope *s, const char *key, int flags,
    double min, double max, double *out, struct starry_err *err);
int config_get_bool(const struct config_scope *s, const char *key, int flags,
    bool *out, struct starry_err *err);
/* One of choices (NULL-terminated): *out is its index. */
int config_get_enum(const struct config_scope *s, const char *key, int flags,
    const char *const *choices, int *out, struct starry_err *err);
/* A duration string ("1h30m"), in ms. */
int config_get_duration(const struct config_scope *s, const char *key,
    int flags, int64_t *ms, struct starry_err *err);
/* A size string ("64K") or a non-negative integer (bytes). */
int config_get_size(const struct config_scope *s, const char *key, int flags,
    uint64_t *bytes, struct starry_err *err);
/* A list of strings: *items is a malloc'd NULL-terminated array of
 * borrowed strings (free the array only), *n its length; absent -> NULL, 0. */
int config_get_string_list(const struct config_scope *s, const char *key,
    int flags, const char ***items, size_t *n, struct starry_err *err);
/* An object or a list, as a scope for the next level; absent -> a scope
 * whose node is NULL. */
int config_get_object(const struct config_scope *s, const char *key, int flags,
    struct config_scope *out, struct starry_err *err);
int config_get_array(const struct config_scope *s, const char *key, int flags,
    struct config_scope *out, struct starry_err *err);

/* How a node's type reads in a message: "an object", "a list", "a
 * string", "an integer", "a number", "a boolean", "null". */
const char *config_type_name(const json_t *v);

/* Parsers for configuration and command-line values; errors are EX_CONFIG
 * with a message naming the text ("invalid duration '5x': ...").
 * Durations: whole numbers with units d, h, m, s, ms, largest first, each
 * once ("250ms", "30s", "1h30m"); a bare number is refused (add a unit),
 * as are signs, fractions and spaces. Sizes: a whole number of bytes
 * with an optional K, M, G, T (powers of 1024; "k", "KB", "KiB" alike).
 * Both refuse overflow. */
int config_parse_duration(const char *text, int64_t *ms,
    struct starry_err *err);
int config_parse_size(const char *text, uint64_t *bytes,
    struct starry_err *err);

/* Expand ${VAR} and ${VAR:-default} (the default when VAR is unset or
 * empty; it is literal text up to the first '}'); "$$" is one '$', and a
 * '$' before anything else stays as it is. An unset variable with no
 * default, a bad name and an unterminated "${" are errors (EX_CONFIG).
 * *out is malloc'd. config_expand takes the variables from lookup (which
 * returns NULL for unset), config_expand_env from the environment. */
typedef const char *config_lookup_fn(const char *name, void *arg);
int config_expand(const char *text, config_lookup_fn *lookup, void *arg,
    char **out, struct starry_err *err);
int config_expand_env(const char *text, char **out, struct starry_err *err);

#endif
