/* Buffered output to an fd: lines gathered into one buffer and written in
 * large writes. Works on blocking fds (put flushes when full) and on
 * non-blocking ones (flush_some writes what the fd takes now). The outbuf
 * owns its buffer, not its fd. */
#ifndef STARRY_OUTBUF_H
#define STARRY_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OUTBUF_SIZE (64 * 1024)

struct outbuf {
	int fd;
	char *buf;
	size_t off;		/* first byte not yet written */
	size_t len;		/* bytes held */
	size_t cap;
};

void outbuf_init(struct outbuf *o, int fd);
void outbuf_free(struct outbuf *o);

/* Append a line and its '\n'; on a blocking fd, write out first what is
 * held when the line does not fit. Returns 0 or -1 (errno). */
int outbuf_put_line(struct outbuf *o, const char *line, size_t len);
/* Write everything held, waiting as needed. Returns 0 or -1 (errno). */
int outbuf_flush(struct outbuf *o);

/* Append without writing: the caller checks outbuf_room first. An empty
 * buffer always takes one item, growing if it must. Returns 0 or -1. */
int outbuf_append(struct outbuf *o, const void *data, size_t len, bool newline);
size_t outbuf_room(const struct outbuf *o);
bool outbuf_pending(const struct outbuf *o);
/* One write(2) of what is held; returns bytes written or -1 (errno, EAGAIN
 * when a non-blocking fd is full). */
ssize_t outbuf_flush_some(struct outbuf *o);

#endif
