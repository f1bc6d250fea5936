/* The heuristic verdict on one tmux pane (DESIGN section 6): which agent
 * runs in it, from its process tree (the agent is often not the pane's
 * current command: a shell started it, or it runs a tool), confirmed or
 * found by its screen where the process alone cannot say; and the
 * agent's state from the bottom of the screen, by the signatures. */
#ifndef STARRY_PANES_H
#define STARRY_PANES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc.h"
#include "signatures.h"

/* Every process, read once per scan, with children found by parent. */
struct proc_tab {
	struct proc_brief *v;	/* sorted by ppid, then pid */
	size_t n;
};
/* Returns 0, or -1 (errno) when /proc cannot be read or on ENOMEM. */
int proc_tab_load(struct proc_tab *t);
void proc_tab_free(struct proc_tab *t);

enum pane_presence { PRESENCE_UNMANAGED, PRESENCE_MANAGED };
enum pane_evidence { EVIDENCE_NONE, EVIDENCE_HEURISTIC, EVIDENCE_DETERMINISTIC };
const char *pane_presence_name(enum pane_presence p);
const char *pane_evidence_name(enum pane_evidence e);

struct pane_verdict {
	const struct sig_agent *agent;	/* NULL: no agent */
	enum pane_presence presence;
	enum pane_evidence evidence;
	enum pane_state state;
	enum pane_attention attention;
	double confidence;
	pid_t agent_pid;		/* 0: found by the screen only */
	char title[160];		/* "" when the agent gives none */
	char reason[320];
};

/* What the verdict saw, one line at a time (for explain). */
typedef void pane_note_fn(void *ctx, const char *line);

/* What is known of a pane: its first process (0 and procs NULL when the
 * processes are not known, as for a screen read from a file), its
 * current command and title (may be NULL), and its screen. */
struct pane_input {
	const struct proc_tab *procs;
	pid_t pid;
	const char *command;
	const char *title;
	const char *screen;
	size_t screen_len;
	const struct sig_agent *agent;	/* given: look no further */
};

/* Returns 0, or -1 on ENOMEM. */
int pane_classify(const struct signatures *sigs, const struct pane_input *in,
    struct pane_verdict *v, pane_note_fn *note, void *ctx);

#endif
