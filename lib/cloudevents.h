/* CloudEvents 1.0 structured-mode JSON, both ways (DESIGN section 2):
 * specversion, id, source, type, time (RFC 3339, ms), data, and the
 * extensions traceparent, sessionid, priority, causationid. */
#ifndef STARRY_CLOUDEVENTS_H
#define STARRY_CLOUDEVENTS_H

#include <stddef.h>

#include <jansson.h>

#include "diag.h"

/* A starry event line (already scanned valid) as a CloudEvents line:
 * a malloc'd string ending in '\n', or NULL with err. */
char *cloudevent_from_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err);

/* A CloudEvents line as a starry event line: a malloc'd string ending in
 * '\n' that event_scan_line accepts, or NULL with err (EX_DATAERR and the
 * reason). */
char *cloudevent_to_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err);

/* Format ms since the epoch as RFC 3339 UTC with milliseconds into
 * out[25]; parse one back (any offset). Parse returns 0 or -1. */
void cloudevent_format_time(long long ms, char out[32]);
int cloudevent_parse_time(const char *s, size_t len, long long *ms);

#endif
