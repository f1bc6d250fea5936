/* An agent's folder, $STARRY_HOME/agents/ID (DESIGN section 3): the lock
 * its supervisor holds for the agent's whole life, status.json, the
 * frozen template.json, the control FIFO and the stderr log. Everything a
 * supervisor, a one-shot command and the daemon share about an agent goes
 * through here. Strings returned are malloc'd for the caller; json_t *
 * results are new references. */
#ifndef STARRY_AGENTDIR_H
#define STARRY_AGENTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "diag.h"

#define AGENTDIR_LOCK     "lock"
#define AGENTDIR_STATUS   "status.json"
#define AGENTDIR_TEMPLATE "template.json"
#define AGENTDIR_CONTROL  "control"
#define AGENTDIR_LOG      "log"
#define AGENTDIR_SNAPSHOT "snapshot.json"

/* "HOME/agents/ID[/NAME]" (NULL on out of memory). */
char *agentdir_path(const char *home, const char *id, const char *name);

/* Create the folder (0700) and take its lock without waiting: *fd holds
 * it (close-on-exec) and the lock file gets our pid. When another
 * supervisor holds it: EX_TEMPFAIL "agent ID is already running
 * (supervisor pid N)". The lock is a POSIX record lock (fcntl), so that
 * anyone can ask who holds it without taking it; it belongs to the
 * calling process, is not inherited by children, and is lost if that
 * process closes any fd of the lock file: only the supervisor opens it. */
int agentdir_lock(const char *home, const char *id, int *fd,
    struct starry_err *err);

/* Whether a supervisor holds the agent's lock; *pid (may be NULL) is the
 * pid it wrote, 0 when unknown. */
bool agentdir_supervised(const char *home, const char *id, pid_t *pid);

/* Read status.json (new reference), or NULL with err (EX_NOINPUT: no such
 * agent). */
json_t *agentdir_status(const char *home, const char *id,
    struct starry_err *err);
/* Write status.json atomically (0600); doc borrowed. */
int agentdir_write_status(const char *home, const char *id, const json_t *doc,
    struct starry_err *err);

/* Send one line to the supervisor's control FIFO ("stop", "kill 9",
 * "restart", "event {...}"). Writers take the FIFO's lock, so lines of
 * any length arrive whole. Nobody reading: EX_NEGATIVE "agent ID is not
 * running". */
int agentdir_control(const char *home, const char *id, const char *line,
    struct starry_err *err);
/* The same for a line shorter than PIPE_BUF, never waiting: a supervisor
 * that does not read (its FIFO full) is EX_TEMPFAIL at once. */
int agentdir_control_nowait(const char *home, const char *id, const char *line,
    struct starry_err *err);

/* Each agent folder under HOME/agents, in name order. */
typedef int (*agentdir_each_fn)(void *ctx, const char *id);
int agentdir_each(const char *home, agentdir_each_fn fn, void *ctx,
    struct starry_err *err);

/* Whether a status state is one of a live agent's (a process exists or is
 * about to). */
bool agentdir_state_is_live(const char *state);

#endif
