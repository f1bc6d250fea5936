/* Deterministic evidence for the tmux monitor (DESIGN section 6): the
 * hook events of Claude Code and Codex, what each says about the pane's
 * state, and the spool through which a hook hands them to the watcher.
 *
 * The spool is a folder of small files, one event each, written whole
 * (a temporary name, then a rename) under names that sort by time: a hook
 * never waits for anyone, and the watcher (or the next one to run) takes
 * them in order and removes them. */
#ifndef STARRY_HOOKS_H
#define STARRY_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "signatures.h"

/* A hook's payload is refused past this. */
#define HOOK_PAYLOAD_MAX (1024u * 1024)

/* What one hook event says. state PANE_UNKNOWN: nothing about the state
 * (the event is still a sign of life); gone: the session ended. */
struct hook_meaning {
	enum pane_state state;
	enum pane_attention attention;
	bool gone;
	const char *event;	/* the event's name, as the agent gave it */
};

/* Read the event of a provider ("claude" or "codex") from its payload:
 * Claude Code's hook_event_name (and a Notification's notification_type),
 * Codex's hook events by the same names, or its notify payload's "type"
 * (agent-turn-complete, approval-requested). Returns 0, or -1 when the
 * payload names no event (m is then all unknown). */
int hook_meaning(const char *provider, const json_t *payload,
    struct hook_meaning *m);

/* The spool entry of one hook call:
 *   {"provider", "pane", "server", "at", "event", "session", "payload"}
 * pane is $TMUX_PANE; server the socket path from $TMUX (its first
 * field). A new reference, or NULL on ENOMEM. */
json_t *hook_entry(const char *provider, const char *pane, const char *server,
    int64_t at, json_t *payload);

/* Write an entry into the spool folder (created 0700 when missing) under
 * a new name. Returns 0 or -1 with err. */
int spool_put(const char *dir, const json_t *entry, struct starry_err *err);

/* Take every entry of the spool, oldest first: fn gets each (borrowed);
 * the file is removed after fn returns. An entry that is not JSON is
 * moved aside to DIR/bad/ with a warning through err_fn. Returns the
 * number taken, or -1 when the folder cannot be read. */
typedef void spool_fn(void *ctx, json_t *entry);
typedef void spool_err_fn(void *ctx, const char *msg);
int spool_drain(const char *dir, spool_fn *fn, spool_err_fn *err_fn,
    void *ctx);

#endif
