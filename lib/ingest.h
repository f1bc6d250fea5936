/* Taking event lines in, the same way everywhere (DESIGN section 2): scan
 * each line, turn CloudEvents into starry events, and for a bad line print
 * a one-line diagnostic with its place and keep the raw line as a
 * KERNEL:ERROR event in the rejects file. The ingest owns its conversion
 * buffer and its rejects fd. */
#ifndef STARRY_INGEST_H
#define STARRY_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "event.h"
#include "lines.h"

/* The most of a rejected line's bytes kept in its KERNEL:ERROR event when
 * the line was over the length limit. */
#define INGEST_REJECT_HEAD (64 * 1024)

struct ingest {
	unsigned scan_flags;	/* EVENT_LENIENT */
	bool accept_truncated;	/* a last line without '\n' is an event */
	bool quiet;		/* no diagnostics on stderr (still counted) */
	const char *source;	/* "source" of KERNEL:ERROR events */
	bool cloudevents_out;	/* pass accepted events on as CloudEvents */
	size_t max_line;	/* for the "longer than" reason */
	int rejects_fd;		/* -1 when rejects are not kept */
	uint64_t accepted, rejected;
	char *conv;		/* the last converted CloudEvent line */
	char *conv_out;		/* the last line written as a CloudEvent */
};

/* Start an ingest; rejects_path may be NULL. Returns 0 or -1 with err. */
int ingest_open(struct ingest *in, const char *source, const char *rejects_path,
    struct starry_err *err);
void ingest_close(struct ingest *in);

/* Take one line as line_reader_next returned it (status st). On accept,
 * returns 1 with *out and *outlen the event line to pass on, without '\n'
 * (the input itself, or a conversion owned by in until the next call:
 * from a CloudEvent, or to one with cloudevents_out) and *view scanned
 * over the starry form of the event. An event that cannot be written as
 * a CloudEvent is rejected like any bad line. On reject, returns 0 after the
 * diagnostic "NAME:LINENO: reason" and the rejects file. Returns -1 only
 * when the rejects file cannot be written (err filled). */
int ingest_line(struct ingest *in, const char *name, enum line_status st,
    const char *line, size_t len, long lineno, struct event_view *view,
    const char **out, size_t *outlen, struct starry_err *err);

/* Called by ingest_fd for each accepted event: line and len are what to
 * pass on (as ingest_line's *out), raw and rawlen the line as it came.
 * Returns 0, or -1 to stop reading. */
typedef int (*ingest_accept_fn)(void *ctx, const char *line, size_t len,
    const char *raw, size_t rawlen, const struct event_view *view);

/* Read fd (blocking or not) to its end and take each line; accept is
 * called for every accepted event, and idle (when not NULL) each time the
 * input runs dry, before waiting for more, so a caller can flush what it
 * holds. Returns 0, or -1 with err (reading failed, the rejects file could
 * not be written, or accept stopped it). */
int ingest_fd(struct ingest *in, int fd, const char *name,
    ingest_accept_fn accept, void (*idle)(void *ctx), void *ctx,
    struct starry_err *err);

/* ingest_fd over each of files[0..nfiles) in turn ("-", or no file at all,
 * is stdin), going on past a file that cannot be opened or read, with a
 * diagnostic. Returns 0, EX_NOINPUT (a file was missing) or EX_IOERR (one
 * could not be read), or -1 with err when ingest_fd failed otherwise. */
int ingest_files(struct ingest *in, char *const *files, int nfiles,
    ingest_accept_fn accept, void (*idle)(void *ctx), void *ctx,
    struct starry_err *err);


#endif
