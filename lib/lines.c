/* Bounded JSON-lines reading: see lines.h. The reader owns one buffer of
 * max_line plus a read chunk; lines are handed out as slices of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"

#define LINE_CHUNK (256 * 1024)

struct line_reader {
	int fd;
	size_t max_line;
	char *buf;
	size_t cap;
	size_t start;		/* first unconsumed byte */
	size_t end;		/* one past the last buffered byte */
	size_t scanned;		/* bytes after start known to hold no '\n' */
	bool eof;
	bool skipping;		/* inside a line over the limit */
	long lineno;
};

struct line_reader *
line_reader_new(int fd, size_t max_line)
{
	struct line_reader *r = calloc(1, sizeof *r);

	if (r == NULL)
		return NULL;
	r->fd = fd;
	r->max_line = max_line;
	r->cap = max_line + 1 + LINE_CHUNK;
	r->buf = malloc(r->cap);
	if (r->buf == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
line_reader_free(struct line_reader *r)
{
	if (r == NULL)
		return;
	free(r->buf);
	free(r);
}

long
line_reader_fill(struct line_reader *r)
{
	ssize_t n;

	if (r->start > 0 && (r->start == r->end || r->cap - r->end < LINE_CHUNK)) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		/* A line over the limit fills the buffer: keep its head for
		 * the diagnostic, and drop the rest as it arrives. */
		r->skipping = true;
		r->end = r->start + r->max_line;
		r->scanned = r->max_line;
	}
	do
		n = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = true;
	r->end += n;
	return n;
}

enum line_status
line_reader_next(struct line_reader *r, const char **line, size_t *len, long *lineno)
{
	char *p = r->buf + r->start + r->scanned;
	char *nl = memchr(p, '\n', r->end - r->start - r->scanned);
	size_t n;

	if (nl == NULL) {
		r->scanned = r->end - r->start;
		if (!r->skipping && r->scanned > r->max_line)
			r->skipping = true;
		if (!r->eof)
			return LINE_AGAIN;
		if (r->start == r->end && !r->skipping)
			return LINE_EOF;
		/* Input ended inside a line. */
		n = r->end - r->start;
		*line = r->buf + r->start;
		*lineno = ++r->lineno;
		r->start = r->end;
		r->scanned = 0;
		if (r->skipping) {
			r->skipping = false;
			*len = n < r->max_line ? n : r->max_line;
			return LINE_TOO_LONG;
		}
		*len = n;
		return LINE_TRUNCATED;
	}
	n = nl - (r->buf + r->start);
	*line = r->buf + r->start;
	*lineno = ++r->lineno;
	r->start += n + 1;
	r->scanned = 0;
	if (r->skipping || n > r->max_line) {
		r->skipping = false;
		*len = n < r->max_line ? n : r->max_line;
		return LINE_TOO_LONG;
	}
	*len = n;
	return LINE_OK;
}

bool
line_reader_eof(const struct line_reader *r)
{
	return r->eof;
}

void
line_reader_finish(struct line_reader *r)
{
	r->eof = true;
}

