/* The supervisor of one agent (DESIGN section 5; spec 07): starts the
 * agent through its driver in a new session, turns its stdout into
 * events, keeps its stderr in a size-rotated log, restarts it by policy
 * with capped exponential backoff and jitter, holds it down after too
 * many failures, applies the token limit and the safety policy, and on
 * stop signals the whole process group, waits, then kills: nothing is
 * orphaned and every child is reaped. It is an explicit state machine
 * (supervise.c: the table sv_actions[state][event]).
 * The options and everything they point to are borrowed for the call. */
#ifndef STARRY_SUPERVISE_H
#define STARRY_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "template.h"

struct supervise_options {
	const char *home, *runtime, *config;
	const char *id;			/* the agent id */
	const struct template *template;
	const char *template_source;	/* the name or path it was asked
					   for, kept in status for restart */
	char *const *args;		/* appended to the command */
	size_t nargs;
	char *const *env;		/* extra "KEY=VALUE" */
	size_t nenv;
	/* The request that caused this agent (DESIGN section 2, rule 3);
	 * NULL trace: a fresh one, NULL session: "default". */
	const char *trace_id, *session_id, *cause_id;
	bool restore;			/* hand it its last snapshot even if
					   its template does not ask (the
					   master, spec 13 phase 3) */
	int lock_fd;			/* the agent's lock (agentdir_lock) */
	int ready_fd;			/* gets "PID\n" once the agent is up;
					   -1: none */
	const char *self_exe;		/* starry-spawn, for AgentManagerTool
					   calls ("starry-spawn tool CALL") */
	uint64_t log_max;		/* stderr log size before rotation */
	unsigned log_keep;		/* rotated logs kept */
	bool shed;			/* a fork of its caller: shed the
					   caller's memory (supervise_shed_memory)
					   once the agent has started */
};

/* Supervise until the agent is done for good: stopped (by the control
 * FIFO, SIGTERM or SIGINT), finished under its restart policy, or
 * stopped by a limit. Writes the frozen template and status.json, and
 * sends lifecycle events. Returns the status for the supervising
 * command (0 when stopped or exited 0, else the agent's last status,
 * 128+N for a signal), or -1 with err when it could not start at all
 * (the first start failed: no such command, driver unavailable). */
int supervise(const struct supervise_options *o, struct starry_err *err);

/* In a supervisor forked from its caller, which lives as long as its
 * agent: the caller's free heap and unused stack pages go back to the
 * system, so that they do not stay as the supervisor's private memory. */
void supervise_shed_memory(void);

#endif
