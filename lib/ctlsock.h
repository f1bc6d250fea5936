/* One control request and its answer over a daemon's Unix socket: a JSON
 * object on one line out, one JSON object line back (the protocol of
 * spawn.sock, starry-spawn(1)). The request is borrowed; the answer is a
 * new reference for the caller. */
#ifndef STARRY_CTLSOCK_H
#define STARRY_CTLSOCK_H

#include <stddef.h>

#include <jansson.h>

#include "diag.h"

/* Send req to the socket at path and read the answer, at most max bytes;
 * with timeout_ms > 0, each step within that time (a daemon that does not
 * answer in time is EX_PROTOCOL, not a wait without end).
 * Returns 0 with *answer, or -1 with err: EX_UNAVAILABLE "nobody listens
 * on PATH" when no daemon is there (the caller may do the request itself),
 * EX_PROTOCOL when the daemon hung up or its answer is not a JSON object,
 * EX_OSERR on out of memory. A peer that closes early is an error, never
 * a SIGPIPE. */
int ctlsock_call(const char *path, const json_t *req, size_t max,
    int timeout_ms, json_t **answer, struct starry_err *err);

#endif
