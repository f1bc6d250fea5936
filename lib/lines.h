/* Bounded JSON-lines reading from a (usually non-blocking) fd.
 * A line_reader owns its buffer; the line it hands out stays valid until
 * the next call on the same reader. */
#ifndef STARRY_LINES_H
#define STARRY_LINES_H

#include <stdbool.h>
#include <stddef.h>

enum line_status {
	LINE_OK,	/* *line is a whole line, without its '\n' */
	LINE_TOO_LONG,	/* a line over the limit was skipped; *line holds
			   its first bytes, *len how many of them */
	LINE_TRUNCATED,	/* the input ended inside a line: *line is it */
	LINE_AGAIN,	/* no whole line buffered; wait for POLLIN, fill */
	LINE_EOF,	/* end of input, nothing left */
	LINE_ERROR,	/* read(2) failed; errno says why */
};

struct line_reader;

/* max_line: the longest line accepted, '\n' excluded. */
struct line_reader *line_reader_new(int fd, size_t max_line);
void line_reader_free(struct line_reader *r);

/* Read once from the fd into the buffer. Returns the bytes read, 0 at
 * EOF, -1 with errno (EAGAIN when nothing is there). */
long line_reader_fill(struct line_reader *r);

/* The next buffered line. Never reads; call line_reader_fill on
 * LINE_AGAIN. lineno counts from 1 and includes skipped lines. */
enum line_status line_reader_next(struct line_reader *r, const char **line,
    size_t *len, long *lineno);

/* Whether the reader has seen EOF from its fd. */
bool line_reader_eof(const struct line_reader *r);
/* Treat the input as ended now: the buffered lines can still be taken,
 * an unfinished last one comes out as LINE_TRUNCATED. */
void line_reader_finish(struct line_reader *r);

#endif
