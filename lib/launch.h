/* Starting a supervised agent (DESIGN section 5): resolve its template,
 * fork the supervisor (a new session, detached from the caller's stdio),
 * let it take the agent's lock and start the agent, and wait until it
 * says the agent is up or why not. The one-shot `run` and the daemon
 * both start agents through here. Everything passed in is borrowed. */
#ifndef STARRY_LAUNCH_H
#define STARRY_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "diag.h"
#include "template.h"

struct launch_request {
	const char *home, *runtime, *config;
	const char *template;		/* a name in config/agents, or a path */
	const char *template_file;	/* when set: load this file instead
					   (a cached version), as template */
	const char *id;			/* NULL: the template's identity.id */
	char *const *args;
	size_t nargs;
	char *const *env;		/* "KEY=VALUE" */
	size_t nenv;
	const char *trace_id, *session_id, *cause_id;	/* NULL: none */
	const struct template_context *ctx;
	struct template_memo *memo;	/* templates loaded before (the
					   daemon's), or NULL */
	bool restore;			/* its last snapshot, whatever the
					   template says */
	const char *self_exe;		/* starry-spawn, for tool calls */
	uint64_t log_max;
	unsigned log_keep;
};

struct launch_result {
	char id[72];
	char template[256];
	pid_t pid;			/* the agent */
	pid_t supervisor;
};

/* Start it. Returns 0 with res filled, or -1 with err: the template's
 * error (EX_CONFIG, EX_NOINPUT), EX_UNAVAILABLE for a driver or command
 * that cannot run, EX_TEMPFAIL "agent ID is already running (supervisor
 * pid N)". The supervisor is the caller's child: a long-lived caller
 * reaps it; a short-lived one exits and leaves it to init. */
int launch_agent(const struct launch_request *r, struct launch_result *res,
    struct starry_err *err);

/* Resolve and check the template a request names, as launch_agent does:
 * found, valid, and its driver available here. *owned is the caller's to
 * free: *out itself, or NULL when *out is r->memo's. */
int launch_load_template(const struct launch_request *r,
    const struct template **out, struct template **owned,
    struct starry_err *err);

/* A spare supervisor, forked ahead of need (by the daemon, between
 * requests): taking on a request, it needs no fork in the way of the
 * agent's start, as s6-supervise is there before s6-svc -u. */
struct launch_spare {
	pid_t pid;		/* 0: none */
	int request, ready;	/* our ends of its two pipes */
};

/* Fork a spare now. base gives the places and settings (home, runtime,
 * config, ctx, self_exe, logs); the rest comes with the request. */
int launch_spare_fork(const struct launch_request *base,
    struct launch_spare *sp, struct starry_err *err);
/* Hand r to the spare (which is then used up: sp->pid becomes 0) and
 * wait as launch_agent does; a spare that does not take the request is
 * let go, and launch_agent does it instead. */
int launch_spare_use(struct launch_spare *sp, const struct launch_request *r,
    struct launch_result *res, struct starry_err *err);
/* Let an unused spare go (it exits) and reap it. */
void launch_spare_drop(struct launch_spare *sp);

#endif
