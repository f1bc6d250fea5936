/* The `if` language of orchestration rules (DESIGN section 4; the whole
 * language is in orchestration.yaml(5)). An expression is compiled once,
 * at load, into a flat program; evaluating it reads the event's text in
 * place (jvalue.h), never allocates, and nests no deeper than
 * EXPR_MAX_DEPTH, so it always terminates. An expr owns its program,
 * literals and regexes; evaluation borrows the event and the scratch. */
#ifndef STARRY_EXPR_H
#define STARRY_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "event.h"
#include "jvalue.h"

#define EXPR_MAX_LEN       4096		/* bytes of expression text */
#define EXPR_MAX_DEPTH     32		/* nesting of (), !, [] and calls */
#define EXPR_MAX_NODES     1024		/* operands and operators */
#define EXPR_REGEX_MAX_LEN 256		/* bytes of a matches() pattern */
#define EXPR_REGEX_MAX_SIZE 2000	/* a pattern's size once its counted
					   repetitions ({m,n}) are expanded */
#define EXPR_MATCH_MAX     4096	/* bytes of a string matches() reads:
					   a longer one does not match */

struct expr;

/* Compile text. Returns 0 and *out, or -1 with err (EX_CONFIG) whose
 * message reads "column N: ..." and *col that column (1-based bytes; 0
 * when the error is not at a place, as for out of memory). */
int expr_compile(const char *text, struct expr **out, int *col,
    struct starry_err *err);
void expr_free(struct expr *e);
/* The text it was compiled from. */
const char *expr_text(const struct expr *e);

/* What an expression reads: an event's line, already scanned and valid
 * (event_scan_line), and its payload's text inside it. Names resolve in
 * the payload first, then in the envelope. The top-level members of both
 * are indexed by the first lookup that needs them, so that the rules
 * tried on one event scan it once: set it up with expr_event_init, use
 * it for one event only. */
#define EXPR_INDEX_MAX 32	/* members indexed; more are scanned for */
struct expr_member {
	const char *key;	/* raw, inside the quotes */
	size_t keylen;
	bool escaped;
	struct jvalue value;
};
struct expr_index {
	int n;			/* -1: not built yet */
	bool partial;		/* more members than EXPR_INDEX_MAX */
	struct expr_member m[EXPR_INDEX_MAX];
};
struct expr_event {
	const char *line;
	size_t len;
	const struct event_view *view;	/* its scan: the routing fields */
	const char *payload;
	size_t payload_len;
	struct expr_index index[2];	/* the payload's, the envelope's */
	char number[2][24];		/* timestamp and priority as text */
};
/* view: the line's scan (event_scan_line), borrowed for as long as ev is
 * used; its routing fields are read from it, not from the line. */
void expr_event_init(struct expr_event *ev, const char *line, size_t len,
    const struct event_view *view);

/* Room to decode escaped strings of lines up to max_line bytes, made once
 * and reused for every evaluation (malloc'd; NULL on out of memory). */
struct expr_scratch;
struct expr_scratch *expr_scratch_new(size_t max_line);
void expr_scratch_free(struct expr_scratch *s);

/* Whether the expression holds for the event. */
bool expr_eval(const struct expr *e, struct expr_event *ev,
    struct expr_scratch *s);

/* Whether the expression is one path and nothing else ("payload.sha"),
 * and that path's value in ev (false when the event lacks it). */
bool expr_is_path(const struct expr *e);
bool expr_path_value(const struct expr *e, struct expr_event *ev,
    struct jvalue *out);

/* For explanations: each path the expression reads, in order, as written
 * ("payload.branch", "files[0]"), with the JSON text of its value in the
 * event (value NULL when the event has none). */
typedef void expr_path_fn(void *ctx, const char *path, const char *value,
    size_t len);
void expr_each_path(const struct expr *e, struct expr_event *ev,
    expr_path_fn *fn, void *ctx);

#endif
