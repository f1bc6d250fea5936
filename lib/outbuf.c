/* Buffered output to an fd: see outbuf.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbuf.h"

void
outbuf_init(struct outbuf *o, int fd)
{
	memset(o, 0, sizeof *o);
	o->fd = fd;
}

void
outbuf_free(struct outbuf *o)
{
	free(o->buf);
	o->buf = NULL;
	o->cap = o->len = o->off = 0;
}

size_t
outbuf_room(const struct outbuf *o)
{
	size_t cap = o->cap ? o->cap : OUTBUF_SIZE;

	return o->len >= cap ? 0 : cap - o->len;
}

bool
outbuf_pending(const struct outbuf *o)
{
	return o->len > o->off;
}

int
outbuf_append(struct outbuf *o, const void *data, size_t len, bool newline)
{
	size_t need = len + newline;
	size_t cap;
	char *buf;

	if (o->off > 0 && o->off == o->len)
		o->off = o->len = 0;
	if (o->len + need > o->cap) {
		cap = o->cap ? o->cap : OUTBUF_SIZE;
		while (cap < o->len + need)
			cap *= 2;
		buf = realloc(o->buf, cap);
		if (buf == NULL)
			return -1;
		o->buf = buf;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, data, len);
	o->len += len;
	if (newline)
		o->buf[o->len++] = '\n';
	return 0;
}

ssize_t
outbuf_flush_some(struct outbuf *o)
{
	ssize_t n;

	do
		n = write(o->fd, o->buf + o->off, o->len - o->off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	o->off += n;
	if (o->off == o->len) {
		o->off = o->len = 0;
		/* Give back a buffer one huge line made large. */
		if (o->cap > 4 * OUTBUF_SIZE) {
			free(o->buf);
			o->buf = NULL;
			o->cap = 0;
		}
	}
	return n;
}

int
outbuf_flush(struct outbuf *o)
{
	struct pollfd pfd = {.fd = o->fd, .events = POLLOUT};

	while (outbuf_pending(o)) {
		if (outbuf_flush_some(o) >= 0)
			continue;
		if (errno != EAGAIN || (poll(&pfd, 1, -1) < 0 && errno != EINTR))
			return -1;
	}
	return 0;
}

int
outbuf_put_line(struct outbuf *o, const char *line, size_t len)
{
	if (outbuf_pending(o) && len + 1 > outbuf_room(o) && outbuf_flush(o) < 0)
		return -1;
	return outbuf_append(o, line, len, true);
}
