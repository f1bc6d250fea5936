/* CloudEvents 1.0 structured-mode JSON, both ways (DESIGN section 2):
 * specversion, id, source, type, time (RFC 3339, ms), data, and the
 * extensions traceparent, sessionid, priority, causationid (and traceid).
 * Lines go in and out as bytes: no json_t crosses this interface, and
 * every returned line is malloc'd and owned by the caller. */
#ifndef STARRY_CLOUDEVENTS_H
#define STARRY_CLOUDEVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "diag.h"

/* "2026-11-23T02:51:55.123Z": years 0000..9999 */
#define CLOUDEVENT_TIME_LEN 24
/* The latest instant RFC 3339 can write: 9999-12-31T23:59:59.999Z. */
#define CLOUDEVENT_TIME_MAX_MS 253402300799999LL

/* The namespace given to a CloudEvents type that is not NAMESPACE:NAME
 * ("com.github.pull_request.opened" becomes
 * "ce:com.github.pull_request.opened"); it is taken off again on the
 * way out, so both directions round-trip. */
#define CLOUDEVENT_TYPE_NAMESPACE "ce:"

/* A starry event line (without its '\n') as a CloudEvents line: a
 * malloc'd string ending in '\n', or NULL with err (EX_DATAERR and the
 * reason, EX_OSERR when memory ran out). The line is scanned leniently
 * (EVENT_LENIENT), so an id that is not a UUID v4 is converted too.
 * Members: specversion, id, source, type, time, datacontenttype
 * ("application/json"), data (the payload's bytes), traceparent, traceid
 * (only when the traceId cannot be rebuilt from traceparent), sessionid,
 * priority, causationid (only with a parentId), then the event's other
 * members as they are. A line that already is a CloudEvent is returned
 * unchanged. */
char *cloudevent_from_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err);

/* A CloudEvents line as a starry event line: a malloc'd string ending in
 * '\n', or NULL with err (EX_DATAERR and the reason). specversion "1.0",
 * id, source and type are required; time defaults to now, data to null,
 * sessionid to "default", priority to 3; traceId comes from the traceid
 * extension, else from traceparent's trace-id as a dashed UUID form, else
 * a fresh UUID v4. datacontenttype is dropped; subject, dataschema and
 * other extensions are kept as members. The id is passed through as it
 * is, so the caller scans the result with EVENT_LENIENT. */
char *cloudevent_to_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err);

/* Format ms since the epoch as RFC 3339 UTC with milliseconds into out
 * (CLOUDEVENT_TIME_LEN characters and a NUL for years 0000..9999; wider
 * years are written with more digits and still fit). */
void cloudevent_format_time(long long ms, char out[32]);
/* Parse an RFC 3339 date-time (s[0..len), not NUL-terminated): fractional
 * seconds of any length (truncated to ms), 'Z' or a +hh:mm/-hh:mm offset,
 * 't' and 'z' in either case. Returns 0 with *ms, or -1. */
int cloudevent_parse_time(const char *s, size_t len, long long *ms);

#endif
