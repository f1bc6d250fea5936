/* The event envelope (DESIGN section 2; spec 02).
 * event_scan_line() reads a line once, checks JSON and the envelope, and
 * records where the routing fields are, without building a tree: the
 * struct event_view points into the caller's line and owns nothing.
 * Functions that build events with jansson return new references and say
 * so; a json_t * argument is borrowed unless its comment says "stolen". */
#ifndef STARRY_EVENT_H
#define STARRY_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"

#define EVENT_MAX_LINE     (1024 * 1024)	/* default line limit, bytes */
#define EVENT_MAX_FIELD    128			/* id, traceId, type */
#define EVENT_PRIORITY_MAX 5
#define EVENT_PRIORITY_DEFAULT 3
#define EVENT_UUID_LEN     36

/* The members of the envelope, in the order they are checked. */
enum event_field {
	EVENT_F_ID, EVENT_F_TIMESTAMP, EVENT_F_TRACE, EVENT_F_SOURCE,
	EVENT_F_SESSION, EVENT_F_PRIORITY, EVENT_F_TYPE, EVENT_F_PAYLOAD,
	EVENT_F_PARENT, EVENT_F_SPECVERSION, EVENT_F_COUNT
};

/* The member the key (len bytes, unescaped) names, or -1. */
int event_field_of(const char *key, size_t len);

/* A raw JSON string body inside the line (between the quotes). */
struct event_str {
	const char *p;
	size_t len;
	bool escaped;		/* contains backslash escapes */
};

struct event_view {
	struct event_str id, trace_id, source, session_id, type, parent_id;
	bool has_parent;
	int64_t timestamp;
	int priority;
	const char *payload;	/* the payload's raw JSON text */
	size_t payload_len;
	bool cloudevent;	/* the line had "specversion": a CloudEvent */
	bool has_others;	/* members other than the routing fields */
};

enum event_scan_flags {
	EVENT_LENIENT = 1 << 0,	/* id: any non-empty string <= 128 bytes */
};

/* Scan one line (without its '\n'; a trailing '\r' is white space) and
 * check the envelope. Returns 0, or -1 with err->msg a one-line reason
 * such as `missing field "id"` or `invalid JSON at column 17: expected ':'`
 * (err->code EX_DATAERR). Checks run in this order: JSON and UTF-8,
 * "not a JSON object", duplicate routing fields, missing fields (id,
 * timestamp, traceId, source, sessionId, priority, type, payload), then
 * each field's value in that order, then parentId. A string field that
 * decodes to a NUL byte (\u0000) is refused ("field \"source\": contains
 * a NUL character"): C-string consumers would silently cut it short.
 * A line that is a CloudEvent (has "specversion") scans with
 * view->cloudevent set and only its own required attributes checked
 * (string specversion, id, source, type; the view gets id, source, type
 * and priority 3); see cloudevents.h to convert it. */
int event_scan_line(const char *line, size_t len, unsigned flags,
    struct event_view *view, struct starry_err *err);

/* Copy a field, escapes resolved, into buf (NUL-terminated). Returns its
 * length, or -1 when it does not fit. */
long event_str_copy(const struct event_str *s, char *buf, size_t cap);
/* Compare a field with a C string, escapes resolved. */
bool event_str_equals(const struct event_str *s, const char *c);

/* The id as the dedup window compares it: *key is the raw bytes when the
 * id has no escapes, else its decoded form in buf. Returns the length, or
 * -1 when it does not fit in cap (EVENT_ID_KEY_MAX always fits). */
#define EVENT_ID_KEY_MAX (EVENT_MAX_FIELD * 4 + 1)
long event_id_key(const struct event_view *view, const char **key, char *buf,
    size_t cap);

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
int64_t event_now_ms(void);

/* Where a new event comes from: any NULL field takes its default
 * (source "starry", session "default", priority 3, a fresh trace). */
struct event_origin {
	const char *source;
	const char *session_id;
	const char *trace_id;
	const char *parent_id;
	int priority;		/* -1 for the default */
};

/* A new event (new reference) with a fresh UUID v4 id and the current
 * time. payload is stolen (NULL means JSON null), even on failure.
 * Returns NULL with err filled when type or origin break the envelope's
 * rules: EX_DATAERR and the same `field "type": ...` texts as
 * event_scan_line (a main that took the value from its command line may
 * exit EX_USAGE instead); EX_OSERR when memory or randomness ran out. */
json_t *event_create(const char *type, json_t *payload,
    const struct event_origin *origin, struct starry_err *err);

/* Fill origin fields that are NULL from a cause: trace and session are
 * inherited and parent_id becomes the cause's id (DESIGN section 2, rule
 * 3). The strings are copied into the caller's storage `buf`, which must
 * outlive origin. Returns 0 or -1 (a field of the cause too long). */
struct event_cause_buf {
	char id[EVENT_MAX_FIELD * 4 + 1];
	char trace_id[EVENT_MAX_FIELD * 4 + 1];
	char session_id[4096];
};
int event_origin_from_cause(struct event_origin *origin,
    const struct event_view *cause, struct event_cause_buf *buf,
    struct starry_err *err);
/* The same from STARRY_TRACE_ID, STARRY_SESSION_ID and STARRY_CAUSE_ID;
 * fields already set are left alone. */
void event_origin_from_env(struct event_origin *origin);

/* Serialise an event compactly, members in insertion order, with a '\n'.
 * Returns a malloc'd string the caller frees, or NULL. */
char *event_dump_line(const json_t *event, size_t *len);

/* Fill in the envelope fields that a line printed by a process lacks
 * (id, timestamp, traceId, sessionId, source, priority, payload) from origin.
 * event is modified in place (borrowed). Returns 0 or -1 with err. */
int event_complete(json_t *event, const struct event_origin *origin,
    struct starry_err *err);

/* len bytes as a JSON string (new reference), each ill-formed UTF-8
 * sequence replaced by U+FFFD, so that any bytes at all make a valid
 * event. NULL on out of memory. */
json_t *event_json_text(const char *s, size_t len);

/* A KERNEL:ERROR event (new reference) holding a rejected raw line:
 * payload {code, message, source, input, line, raw} with input the name of
 * where the line came from (left out when NULL: a file, "bus.fifo", "peer
 * pid 12") and raw the line as a JSON string (invalid UTF-8 bytes replaced
 * by U+FFFD). */
json_t *event_reject(const char *source, const char *input, const char *raw,
    size_t len, long lineno, const char *reason);

#endif
