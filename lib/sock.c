/* Unix stream sockets for starry's daemons: see sock.h. Nothing here keeps
 * state; every fd returned is the caller's to close. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"

static int
sock_address(const char *path, struct sockaddr_un *sa, struct starry_err *err)
{
	size_t len = strlen(path);

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (len == 0)
		return starry_err_set(err, EX_CONFIG, "empty socket path");
	if (len >= sizeof sa->sun_path)
		return starry_err_set(err, EX_CONFIG,
		    "socket path too long (%zu bytes, at most %zu): %s "
		    "(choose a shorter STARRY_RUNTIME)",
		    len, sizeof sa->sun_path - 1, path);
	memcpy(sa->sun_path, path, len);
	return 0;
}

/* connect(2) that rides out EINTR: an interrupted connect goes on in the
 * background, so wait for it and read its result. */
static int
connect_fd(int fd, const struct sockaddr_un *sa)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
		return 0;
	if (errno != EINTR)
		return -1;
	for (;;) {
		if (poll(&pfd, 1, -1) >= 0)
			break;
		if (errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/* Whether someone listens at sa: 1 yes, 0 no (ECONNREFUSED: a stale
 * socket), -1 cannot tell (errno). */
static int
sock_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = connect_fd(fd, sa);
	saved = errno;
	close(fd);
	if (rc == 0 || saved == EAGAIN || saved == EINPROGRESS)
		return 1;	/* a full backlog is a live listener too */
	errno = saved;
	return saved == ECONNREFUSED ? 0 : -1;
}

static int
bind_private(int fd, const struct sockaddr_un *sa)
{
	mode_t old = umask(077);
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof *sa);
	int saved = errno;

	umask(old);
	errno = saved;
	return rc;
}

int
sock_listen(const char *path, struct starry_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, live;

	if (sock_address(path, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return starry_err_sys(err, EX_OSERR, "socket");
	if (bind_private(fd, &sa) < 0) {
		if (errno != EADDRINUSE) {
			starry_err_sys(err, EX_CANTCREAT, "cannot bind %s", path);
			goto fail;
		}
		if (lstat(path, &st) < 0) {
			starry_err_sys(err, EX_CANTCREAT, "cannot bind %s", path);
			goto fail;
		}
		if (!S_ISSOCK(st.st_mode)) {
			starry_err_set(err, EX_CANTCREAT,
			    "cannot bind %s: it exists and is not a socket", path);
			goto fail;
		}
		live = sock_is_live(&sa);
		if (live != 0) {
			if (live > 0)
				starry_err_set(err, EX_TEMPFAIL,
				    "%s is already served by another process", path);
			else
				starry_err_sys(err, EX_CANTCREAT, "cannot probe %s", path);
			goto fail;
		}
		/* Nobody listens: a socket left by a process that died. */
		if (unlink(path) < 0 && errno != ENOENT) {
			starry_err_sys(err, EX_CANTCREAT, "cannot remove stale socket %s", path);
			goto fail;
		}
		if (bind_private(fd, &sa) < 0) {
			starry_err_sys(err, EX_CANTCREAT, "cannot bind %s", path);
			goto fail;
		}
	}
	if (chmod(path, 0600) < 0) {
		starry_err_sys(err, EX_CANTCREAT, "chmod %s", path);
		unlink(path);
		goto fail;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		starry_err_sys(err, EX_OSERR, "listen %s", path);
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* Connect to path, waiting for the listener or (nowait) not: a Unix
 * stream connect is then made at once, or refused with EAGAIN when the
 * backlog is full. The fd returned is blocking either way. */
static int
connect_path(const char *path, bool nowait, struct starry_err *err)
{
	struct sockaddr_un sa;
	int fd, saved;

	if (sock_address(path, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nowait ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return starry_err_sys(err, EX_OSERR, "socket");
	if ((nowait ? connect(fd, (const struct sockaddr *)&sa, sizeof sa) :
	    connect_fd(fd, &sa)) < 0 || (nowait &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)) {
		saved = errno;
		close(fd);
		errno = saved;
		return starry_err_sys(err, saved == EAGAIN ? EX_TEMPFAIL :
		    EX_UNAVAILABLE, "cannot connect to %s", path);
	}
	return fd;
}

int
sock_connect(const char *path, struct starry_err *err)
{
	return connect_path(path, false, err);
}

int
sock_connect_nowait(const char *path, struct starry_err *err)
{
	return connect_path(path, true, err);
}

int
sock_peer(int fd, struct sock_peer *peer, struct starry_err *err)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return starry_err_sys(err, EX_OSERR, "SO_PEERCRED");
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	return 0;
}

bool
sock_peer_admitted(const struct sock_peer *peer, char *why, size_t cap)
{
	uid_t me = geteuid();

	if (peer->uid == me)
		return true;
	if (why != NULL && cap > 0)
		snprintf(why, cap, "uid %lu is not the hub's uid %lu",
		    (unsigned long)peer->uid, (unsigned long)me);
	return false;
}
