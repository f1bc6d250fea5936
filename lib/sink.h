/* Where a producer's events go (DESIGN section 5): to the hub on bus.sock
 * when it runs, else straight into the store; events marked
 * SINK_RECORD (an agent's lifecycle) are stored in any case, so that the
 * registry is right with or without a state writer (the store drops the
 * second copy by its id). The sink owns its connection, its store handle
 * and its queue; lines passed in are copied. */
#ifndef STARRY_SINK_H
#define STARRY_SINK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

enum sink_flags {
	SINK_RECORD = 1 << 0,	/* store it even when the hub takes it */
};

struct sink;

struct sink *sink_new(const char *home, const char *runtime);
void sink_free(struct sink *s);

/* Send one event: line (no '\n') must be a valid event. Lines for the
 * store wait in the sink until sink_flush. Returns 0, or -1 with err
 * when the line is not an event or memory ran out. */
int sink_send(struct sink *s, const char *line, size_t len, unsigned flags,
    struct starry_err *err);

/* The same for an event built with jansson (borrowed): written as one
 * compact line and sent. */
int sink_send_event(struct sink *s, const json_t *ev, unsigned flags,
    struct starry_err *err);

/* When what waits for the store should be flushed (CLOCK_MONOTONIC ms):
 * SINK_RECORD_MS after the first line queued when a lifecycle event
 * (SINK_RECORD) is among them, else SINK_BATCH_MS, or at once past
 * SINK_BATCH_BYTES; 0 when nothing waits. A caller that flushes only
 * when this is due gathers a chatty producer's lines into few
 * transactions. A lifecycle event waits a moment too: the store's writer
 * is a forked process, and one forked as an agent starts competes with
 * the agent's own start (a start's AGENT:SPAWNED and its
 * KERNEL:STATE_CHANGE then go in one transaction). */
#define SINK_RECORD_MS   50
#define SINK_BATCH_MS    200
#define SINK_BATCH_BYTES (256u << 10)
int64_t sink_flush_due(const struct sink *s);

/* Store what waits, in one transaction, from a short-lived child
 * process: a long-lived writer that appends now and then holds no
 * database, and none of its memory, between times. The caller's waitpid
 * loops must leave the child to this call (it waits for it by pid).
 * Returns 0, or -1 with err (the lines stay queued, up to a bound, for
 * the next flush). */
int sink_flush(struct sink *s, struct starry_err *err);

#endif
