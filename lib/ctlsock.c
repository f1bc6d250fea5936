/* A control request over a Unix socket: see ctlsock.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctlsock.h"
#include "fdio.h"
#include "sock.h"

/* send(2) all of buf without SIGPIPE. */
static int
send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ctlsock_call(const char *path, const json_t *req, size_t max, int timeout_ms,
    json_t **answer, struct starry_err *err)
{
	char *text = NULL, *line = NULL;
	size_t len;
	int fd, rc = -1;

	*answer = NULL;
	fd = sock_connect(path, err);
	if (fd < 0)
		return -1;
	if (timeout_ms > 0) {
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
		    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
			starry_err_sys(err, EX_OSERR, "%s", path);
			goto out;
		}
	}
	text = json_dumps(req, JSON_COMPACT);
	if (text == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto out;
	}
	len = strlen(text);
	text[len] = '\n';	/* json_dumps left room for the NUL */
	if (send_all(fd, text, len + 1) == -1) {
		starry_err_sys(err, EX_PROTOCOL, "the daemon on %s hung up", path);
		goto out;
	}
	line = fdio_read(fd, max, true, NULL);
	if (line != NULL)
		*answer = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(*answer)) {
		json_decref(*answer);
		*answer = NULL;
		starry_err_set(err, EX_PROTOCOL, "the daemon on %s did not answer", path);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(line);
	close(fd);
	return rc;
}
