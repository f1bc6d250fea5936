/* The event hub behind `starry-bus serve` (DESIGN sections 2 and 3), and
 * the pieces of its line protocol that the clients share. The hub owns its
 * connections, queues and events; the caller keeps what it lends (opts). */
#ifndef STARRY_HUB_H
#define STARRY_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* The protocol on bus.sock, one JSON line at a time. A client whose first
 * line is {"subscribe":{"types":[GLOB...],"session":S,"trace":T}} (each
 * member optional) is answered {"subscribed":true}, then gets every
 * matching event; an invalid request is answered {"error":"..."} and
 * closed. Any other client is a publisher: each line is an event, and the
 * hub closes the connection once it has read the publisher's end. A
 * subscriber too slow to keep up gets one last KERNEL:ERROR event, payload
 * {"code":"ESLOWCONSUMER","message":...,"missed":N}, and is closed. */

#define HUB_SOCK_NAME "bus.sock"
#define HUB_FIFO_NAME "bus.fifo"
#define HUB_LOCK_NAME "bus.lock"

#define HUB_DEFAULT_QUEUE     4096	/* events taken in per round */
#define HUB_DEFAULT_SUB_QUEUE 16384	/* events waiting per subscriber */
#define HUB_DEFAULT_SUB_BYTES (64u << 20)	/* and their bytes */
#define HUB_FAREWELL_MS       2000	/* to finish a line to a closed subscriber */
#define HUB_SHUTDOWN_MS       5000	/* to drain inputs and flush at stop */

struct hub_options {
	const char *runtime;	/* the folder of bus.fifo, bus.sock, bus.lock */
	size_t queue;		/* 0: HUB_DEFAULT_QUEUE */
	size_t sub_queue;	/* 0: HUB_DEFAULT_SUB_QUEUE */
	size_t sub_bytes;	/* 0: HUB_DEFAULT_SUB_BYTES */
	size_t dedup_count;	/* 0: DEDUP_DEFAULT_COUNT */
	int64_t dedup_ms;	/* 0: DEDUP_DEFAULT_MS */
	const char *rejects;	/* NULL, or a file for KERNEL:ERROR events */
	int signal_fd;		/* a signalfd: SIGTERM/SIGINT stop, others noted */
};

struct hub_stats {
	uint64_t in;		/* events accepted (valid and new) */
	uint64_t rejected;	/* invalid lines skipped */
	uint64_t duplicates;	/* ids seen within the dedup window */
	uint64_t delivered;	/* events written whole to subscribers */
	uint64_t dropped;	/* events lost with slow subscribers */
	uint64_t slow;		/* subscribers disconnected as too slow */
	uint64_t refused;	/* peers refused for their uid */
};

struct hub;

/* Create the runtime folder (0700), take bus.lock (EX_TEMPFAIL "another
 * hub is running (pid N)"), make or reuse bus.fifo and listen on
 * bus.sock. When it returns 0 the hub is ready for clients. */
int hub_open(struct hub **hubp, const struct hub_options *opt,
    struct starry_err *err);
/* Carry events until SIGTERM or SIGINT arrives on signal_fd, then stop
 * accepting, drain what is readable, flush the subscribers (at most
 * HUB_SHUTDOWN_MS) and return 0; -1 with err on a failure of the hub's
 * own (poll, accept, out of memory). */
int hub_run(struct hub *h, struct starry_err *err);
void hub_get_stats(const struct hub *h, struct hub_stats *stats);
/* Log the counts as a note: "WHEN: N events in, ...". The hub does so by
 * itself on SIGUSR1. */
void hub_log_stats(const struct hub *h, const char *when);
const char *hub_sock_path(const struct hub *h);
const char *hub_fifo_path(const struct hub *h);
/* Close everything, remove bus.sock, leave bus.fifo; h may be NULL. */
void hub_close(struct hub *h);

/* Client side. Connect to the hub under runtime; when nobody is there,
 * err reads "hub not running: cannot connect to PATH: ..." (EX_UNAVAILABLE).
 * Returns a blocking fd or -1. */
int hub_connect(const char *runtime, struct starry_err *err);
/* The subscribe request line (malloc'd, with its '\n') for a filter; types
 * has ntypes globs, session and trace may be NULL. */
char *hub_subscribe_line(const char *const *types, size_t ntypes,
    const char *session, const char *trace, size_t *len);
/* The hub's answer to a subscribe request: 0 for {"subscribed":true}, -1
 * with err holding the hub's {"error"} text or what was wrong. */
int hub_subscribe_answer(const char *line, size_t len, struct starry_err *err);
/* Whether type passes a subscription's type globs (fnmatch; any may
 * match; none given passes everything). */
bool hub_type_matches(const char *const *globs, size_t nglobs, const char *type);
/* Whether a line is the hub's ESLOWCONSUMER farewell. */
bool hub_is_farewell(const char *line, size_t len);

#endif
