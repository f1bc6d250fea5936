/* The signatures of AI coding agents (share/starry/signatures.yaml,
 * starry-signatures(5)): for each agent, the process names and command
 * lines that identify it, the screen text that identifies it, and the
 * screen patterns of each of its states, tried in order from the bottom
 * of the pane. Patterns are POSIX extended regular expressions, compiled
 * at load; matching allocates nothing. Strings are owned by the set. */
#ifndef STARRY_SIGNATURES_H
#define STARRY_SIGNATURES_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

enum pane_state {
	PANE_UNKNOWN,
	PANE_RUNNING,
	PANE_WAITING_INPUT,
	PANE_WAITING_APPROVAL,
	PANE_IDLE,
	PANE_ERROR,
	PANE_STATE_COUNT
};

/* What a pane needs from its user. */
enum pane_attention {
	ATTENTION_NONE,
	ATTENTION_APPROVAL,
	ATTENTION_INPUT,
	ATTENTION_ERROR,
	ATTENTION_FINISHED,
	ATTENTION_COUNT
};

const char *pane_state_name(enum pane_state s);
/* The index of name, or -1. */
int pane_state_parse(const char *name);
const char *pane_attention_name(enum pane_attention a);
/* What a state asks of the user when nothing says otherwise: approval,
 * input, error, or none. */
enum pane_attention pane_state_attention(enum pane_state s);

struct sig_pattern {
	regex_t re;
	char *text;		/* as written */
	char *where;		/* "FILE:LINE:COL" */
};

struct sig_list {
	struct sig_pattern *v;
	size_t n;
};

struct sig_rule {
	enum pane_state state;
	enum pane_attention attention;
	unsigned lines;		/* the last non-blank lines looked at; 0: all */
	struct sig_list match;	/* any of them */
	struct sig_list unless;	/* none of them, in the same lines */
};

struct sig_agent {
	char *key;		/* "claude" */
	char *name;		/* "Claude Code" */
	struct sig_list names;	/* a process name or argv[0]'s base name */
	struct sig_list args;	/* the command line, arguments joined by ' ' */
	struct sig_list weak;	/* names that count only with the screen */
	struct sig_list screen;	/* screen text that shows the agent */
	struct sig_list title;	/* the pane title: the last group (or the
				   whole match) is the title */
	struct sig_rule *rules;
	size_t nrules;
	unsigned lines;		/* default lines for rules */
	enum pane_state otherwise;	/* when no rule matches */
};

struct signatures {
	struct sig_agent *agents;
	size_t n;
	struct sig_list wrappers;	/* commands an agent can hide behind
					   (ssh): there the screen alone counts */
};

/* Add a file's agents to s (which starts zeroed): a new agent is added at
 * the end; one already there takes the new file's rules before its own,
 * and its lists of names and patterns grow. On error (EX_CONFIG with
 * "FILE:LINE:COL: path: message", EX_NOINPUT) s is as it was. */
int signatures_load(struct signatures *s, const char *path,
    struct starry_err *err);
int signatures_load_buffer(struct signatures *s, const char *name,
    const char *buf, size_t len, struct starry_err *err);
void signatures_free(struct signatures *s);

const struct sig_agent *signatures_find(const struct signatures *s,
    const char *key);

/* The first pattern of l that matches text (NUL-terminated), or NULL. */
const struct sig_pattern *sig_list_match(const struct sig_list *l,
    const char *text);

/* How a process shows an agent: by a name or its command line (strong),
 * by a weak name only (the screen must agree), or not at all. *why is
 * the pattern that matched. */
enum sig_proc { SIG_PROC_NONE, SIG_PROC_WEAK, SIG_PROC_STRONG };
enum sig_proc sig_agent_process(const struct sig_agent *a, const char *comm,
    const char *argv0, const char *cmdline, const struct sig_pattern **why);

/* A screen made ready for matching: lines with trailing blanks cut, the
 * blank lines at the bottom dropped; the start of each line kept so that
 * "the last N lines" is a pointer. */
struct screen {
	char *text;		/* NUL-terminated */
	size_t len;
	size_t *line;		/* offsets of the line starts */
	size_t nlines;
};
int screen_init(struct screen *sc, const char *raw, size_t len);
void screen_free(struct screen *sc);
/* The text from the last n lines that are not blank on (all for 0). */
const char *screen_tail(const struct screen *sc, unsigned n);

/* The state of a's screen: the first rule that matches, else the
 * agent's 'otherwise' state with no rule. */
struct sig_verdict {
	enum pane_state state;
	enum pane_attention attention;
	const struct sig_rule *rule;	/* NULL: no rule matched */
	const struct sig_pattern *pattern;
};
void sig_agent_state(const struct sig_agent *a, const struct screen *sc,
    struct sig_verdict *v);

/* The title in a pane title by a's title patterns (the last group that
 * took part, or the whole match): written to buf, NUL-terminated. Returns false for none. */
bool sig_agent_title(const struct sig_agent *a, const char *pane_title,
    char *buf, size_t size);

#endif
