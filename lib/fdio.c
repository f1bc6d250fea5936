/* Whole writes on file descriptors: see fdio.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

char *
fdio_read(int fd, size_t max, bool line, size_t *len)
{
	size_t have = 0, cap = 0;
	char *buf = NULL, *grown;
	ssize_t n;

	errno = 0;
	for (;;) {
		if (have + 4096 > cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > max + 4096) {
				errno = EFBIG;
				goto fail;
			}
			if ((grown = realloc(buf, cap)) == NULL)
				goto fail;
			buf = grown;
		}
		n = read(fd, buf + have, cap - have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		have += (size_t)n;
		if (have > max) {
			errno = EFBIG;
			goto fail;
		}
		if (line && memchr(buf + have - (size_t)n, '\n', (size_t)n) != NULL)
			break;
	}
	if (have == 0 || (line && memchr(buf, '\n', have) == NULL))
		goto fail;
	buf[have] = '\0';
	if (len != NULL)
		*len = have;
	return buf;
fail:
	free(buf);
	return NULL;
}
