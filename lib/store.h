/* The durable store (starry-state(7)): the event log, snapshots, cursors,
 * the agent registry and the tmux monitor's tables, in one SQLite file.
 * Every command reaches the database through these functions; no other
 * file holds SQL. Strings passed in are copied; strings and structs handed
 * to callbacks are valid only during the call. */
#ifndef STARRY_STORE_H
#define STARRY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "event.h"

/* The schema this build writes; PRAGMA user_version holds the file's. */
#define STORE_SCHEMA_VERSION 3
#define STORE_FILE "state.db"		/* in STARRY_HOME */
#define STORE_SNAPSHOT_KEEP 10		/* versions kept per agent */
/* A tombstoned pane's row (and its bindings) is kept this long after it
 * went, then taken away when another pane of its server goes. */
#define STORE_TOMBSTONE_KEEP_MS (24 * 3600 * 1000LL)

enum store_flags {
	STORE_CREATE = 1 << 0,		/* create the file when missing */
	STORE_DURABLE = 1 << 1,		/* synchronous=FULL: survive power loss */
};

struct store;

/* Open (and, with STORE_CREATE, create) the database at path, bring its
 * schema up to STORE_SCHEMA_VERSION, and set WAL mode. A file that is not
 * an SQLite database, or one from a newer starry, is refused untouched:
 * EX_DATAERR and EX_CONFIG. A missing file without STORE_CREATE is
 * EX_NOINPUT. */
int store_open(struct store **out, const char *path, unsigned flags,
    struct starry_err *err);
void store_close(struct store *st);
const char *store_path(const struct store *st);

/* A write transaction (BEGIN IMMEDIATE: the write lock is taken at once,
 * waiting for it up to the busy timeout). */
int store_begin(struct store *st, struct starry_err *err);
int store_commit(struct store *st, struct starry_err *err);
void store_rollback(struct store *st);

/* ---- events ---- */

/* A stored event as callbacks see it. parent_id is NULL when absent. */
struct store_event {
	int64_t seq, timestamp;
	int priority;
	const char *id, *trace_id, *parent_id, *source, *session_id, *type;
	const char *line;		/* the original bytes, no '\n' */
	size_t len;
};
/* Return 0 to go on, -1 to stop (the caller's err then says why). */
typedef int (*store_event_fn)(void *ctx, const struct store_event *ev);

/* Store one scanned event: line is its original text, view its scan.
 * Inside a transaction. Returns 1 stored (*seq its sequence number), 0
 * when the store already has its id, or -1 with err. Lifecycle events
 * (AGENT:SPAWNED, AGENT:EXITED, KERNEL:STATE_CHANGE) also update the agent
 * registry, and STATE:SNAPSHOT events become snapshots. */
int store_append(struct store *st, const char *line, size_t len,
    const struct event_view *view, int64_t *seq, struct starry_err *err);

struct store_filter {
	const char *type;		/* a glob: * ? [...], case-sensitive */
	const char *source, *session, *trace;
	int64_t since_seq, until_seq;	/* inclusive; 0: no bound */
	int64_t since_ms, until_ms;	/* event timestamps, inclusive; 0: none */
	int64_t limit;			/* 0: no limit */
	bool newest;			/* with limit: the newest, not the oldest */
};

/* The events that pass f, in sequence order. Returns 0, or -1 with err
 * (also when fn stopped: err is then untouched). */
int store_query(struct store *st, const struct store_filter *f,
    store_event_fn fn, void *ctx, struct starry_err *err);
/* The highest sequence number stored (0 when none). */
int store_last_seq(struct store *st, int64_t *seq, struct starry_err *err);
/* Event counts by type among events with timestamp >= since_ms, most
 * frequent first. */
typedef int (*store_count_fn)(void *ctx, const char *type, int64_t count);
int store_count_types(struct store *st, int64_t since_ms, store_count_fn fn,
    void *ctx, struct starry_err *err);

/* Delete events with seq <= *through, but none a cursor still needs (seq
 * > the lowest committed cursor): *through becomes the bound applied, and
 * *deleted counts the events. */
int store_prune(struct store *st, int64_t *through, int64_t *deleted,
    struct starry_err *err);
/* The sequence number of the newest event with timestamp < ms (0: none). */
int store_seq_before_time(struct store *st, int64_t ms, int64_t *seq,
    struct starry_err *err);
/* VACUUM, then truncate the write-ahead log. */
int store_vacuum(struct store *st, struct starry_err *err);

/* ---- snapshots ---- */

struct store_snapshot {
	const char *agent;
	int64_t version;		/* 1, 2, ... per agent */
	int64_t seq;			/* the last event stored when it was taken */
	int64_t created_ms;
	const char *data;		/* JSON text */
	size_t len;
};
typedef int (*store_snapshot_fn)(void *ctx, const struct store_snapshot *s);

/* Save data (JSON text) as the agent's next version, keeping the newest
 * keep versions (0: all). Inside a transaction. */
int store_snapshot_save(struct store *st, const char *agent, const char *data,
    size_t len, int64_t created_ms, unsigned keep, int64_t *version,
    struct starry_err *err);
/* The newest snapshot of agent taken at or before event at_seq (0: the
 * newest of all). Returns 1 (fn called), 0 when there is none, or -1. */
int store_snapshot_load(struct store *st, const char *agent, int64_t at_seq,
    store_snapshot_fn fn, void *ctx, struct starry_err *err);
/* Every snapshot (of agent, when not NULL), by agent and version. */
int store_snapshot_list(struct store *st, const char *agent,
    store_snapshot_fn fn, void *ctx, struct starry_err *err);

/* ---- cursors ---- */

/* Returns 1 with *seq the consumer's committed position, 0 when it has
 * none, or -1. */
int store_cursor_get(struct store *st, const char *consumer, int64_t *seq,
    struct starry_err *err);
int store_cursor_commit(struct store *st, const char *consumer, int64_t seq,
    struct starry_err *err);
/* Returns 1 when the consumer had a cursor, 0 when not, or -1. */
int store_cursor_delete(struct store *st, const char *consumer,
    struct starry_err *err);
typedef int (*store_cursor_fn)(void *ctx, const char *consumer, int64_t seq,
    int64_t updated_ms);
int store_cursor_list(struct store *st, store_cursor_fn fn, void *ctx,
    struct starry_err *err);

/* ---- the agent registry ---- */

struct store_agent {
	const char *id, *template, *driver, *state, *trace_id;
	int64_t pid;			/* 0: none */
	int64_t started_ms, exited_ms;	/* 0: none */
	int64_t exit_status;		/* -1: none */
	int64_t restarts;
	int64_t updated_ms;
};
typedef int (*store_agent_fn)(void *ctx, const struct store_agent *a);

/* Insert or replace the agent's row. */
int store_agent_put(struct store *st, const struct store_agent *a,
    struct starry_err *err);
int store_agent_list(struct store *st, store_agent_fn fn, void *ctx,
    struct starry_err *err);
/* Whether state is one of a live agent's (starting, running, stopping). */
bool store_agent_state_is_live(const char *state);

#endif
