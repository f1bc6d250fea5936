/* Whole writes on file descriptors: what every writer of a pipe, a FIFO
 * or a file needs once. Buffers are the caller's. */
#ifndef STARRY_FDIO_H
#define STARRY_FDIO_H

#include <stdbool.h>
#include <stddef.h>

/* write(2) all of buf, riding out EINTR and short writes (blocking fds).
 * Returns 0, or -1 with errno (EIO when a write takes nothing). */
int write_all(int fd, const void *buf, size_t len);

/* Read from fd until end of file or, with line, through the first '\n'
 * (what follows it in the same read is kept too), at most max bytes.
 * Returns a malloc'd NUL-terminated buffer (*len its length, when len is
 * not NULL), or NULL: nothing read (errno 0), a read error (its errno),
 * or more than max (EFBIG). */
char *fdio_read(int fd, size_t max, bool line, size_t *len);

#endif
