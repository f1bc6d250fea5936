/* An agent's folder: see agentdir.h. Paths are built and freed here; the
 * json_t * documents returned are the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentdir.h"
#include "atomic.h"
#include "fdio.h"
#include "paths.h"

char *
agentdir_path(const char *home, const char *id, const char *name)
{
	char *p;
	int n;

	if (name != NULL)
		n = asprintf(&p, "%s/agents/%s/%s", home, id, name);
	else
		n = asprintf(&p, "%s/agents/%s", home, id);
	return n < 0 ? NULL : p;
}

/* The pid holding a write lock on fd's file, 0 when none, -1 on error. */
static pid_t
lock_holder(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -1;
	return fl.l_type == F_UNLCK ? 0 : fl.l_pid;
}

int
agentdir_lock(const char *home, const char *id, int *fd,
    struct starry_err *err)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	char *dir = agentdir_path(home, id, NULL), *path = NULL, pid[32];
	int lfd = -1, n, rc = -1;
	pid_t holder;

	if (dir == NULL || (path = agentdir_path(home, id, AGENTDIR_LOCK)) == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto out;
	}
	if (starry_mkdir_p(dir, 0700, err) < 0)
		goto out;
	lfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot open %s", path);
		goto out;
	}
	if (fcntl(lfd, F_SETLK, &fl) < 0) {
		if (errno != EACCES && errno != EAGAIN) {
			starry_err_sys(err, EX_OSERR, "cannot lock %s", path);
			goto out;
		}
		holder = lock_holder(lfd);
		if (holder > 0)
			starry_err_set(err, EX_TEMPFAIL, "agent %s is already "
			    "running (supervisor pid %ld)", id, (long)holder);
		else
			starry_err_set(err, EX_TEMPFAIL, "agent %s is already "
			    "running", id);
		goto out;
	}
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(lfd, 0) < 0 || pwrite(lfd, pid, (size_t)n, 0) != n) {
		starry_err_sys(err, EX_IOERR, "cannot write %s", path);
		goto out;
	}
	*fd = lfd;
	lfd = -1;
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	free(path);
	free(dir);
	return rc;
}

bool
agentdir_supervised(const char *home, const char *id, pid_t *pid)
{
	char *path = agentdir_path(home, id, AGENTDIR_LOCK);
	pid_t holder = 0;
	int fd;

	/* Opened read-write only for F_GETLK to ask about write locks;
	 * never by the supervisor itself (see agentdir.h). */
	if (path != NULL && (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) >= 0) {
		holder = lock_holder(fd);
		close(fd);
	}
	free(path);
	if (holder < 0)
		holder = 0;
	if (pid != NULL)
		*pid = holder;
	return holder > 0;
}

json_t *
agentdir_status(const char *home, const char *id, struct starry_err *err)
{
	char *path = agentdir_path(home, id, AGENTDIR_STATUS);
	json_error_t jerr;
	json_t *doc;

	if (path == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		return NULL;
	}
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		if (access(path, F_OK) < 0 && errno == ENOENT)
			starry_err_set(err, EX_NOINPUT, "no agent %s", id);
		else
			starry_err_set(err, EX_DATAERR, "%s: %s", path, jerr.text);
	} else if (!json_is_object(doc)) {
		starry_err_set(err, EX_DATAERR, "%s: not a JSON object", path);
		json_decref(doc);
		doc = NULL;
	}
	free(path);
	return doc;
}

int
agentdir_write_status(const char *home, const char *id, const json_t *doc,
    struct starry_err *err)
{
	char *path = agentdir_path(home, id, AGENTDIR_STATUS), *text;
	int rc;

	text = json_dumps(doc, JSON_COMPACT);
	if (path == NULL || text == NULL) {
		free(path);
		free(text);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	/* Status is for the moment, not for after a power cut: it needs
	 * to be whole, not durable. */
	rc = atomic_replace_file(path, text, strlen(text), 0600, ATOMIC_NO_SYNC,
	    err);
	free(text);
	free(path);
	return rc;
}

/* Open the agent's control FIFO for writing, without waiting. */
static int
control_open(const char *home, const char *id, struct starry_err *err)
{
	char *path = agentdir_path(home, id, AGENTDIR_CONTROL);
	int fd;

	if (path == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENXIO || errno == ENOENT)
			starry_err_set(err, EX_NEGATIVE, "agent %s is not running", id);
		else
			starry_err_sys(err, EX_IOERR, "cannot open %s", path);
	}
	free(path);
	return fd;
}

int
agentdir_control(const char *home, const char *id, const char *line,
    struct starry_err *err)
{
	size_t len = strlen(line);
	int fd, rc = -1;

	if ((fd = control_open(home, id, err)) < 0)
		return -1;
	/* One writer at a time, and then a blocking write, so that a line
	 * longer than PIPE_BUF is not interleaved with another. */
	if (flock(fd, LOCK_EX) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    write_all(fd, line, len) < 0 ||
	    (len == 0 || line[len - 1] != '\n' ? write_all(fd, "\n", 1) : 0) < 0) {
		starry_err_sys(err, errno == EPIPE ? EX_NEGATIVE : EX_IOERR,
		    "cannot send to agent %s", id);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

int
agentdir_control_nowait(const char *home, const char *id, const char *line,
    struct starry_err *err)
{
	char buf[PIPE_BUF];
	size_t len = strlen(line);
	ssize_t n;
	int fd;

	if (len + 1 > sizeof(buf))
		return starry_err_set(err, EX_USAGE, "a line for agent %s is longer "
		    "than %d bytes", id, PIPE_BUF - 1);
	memcpy(buf, line, len);
	buf[len++] = '\n';
	if ((fd = control_open(home, id, err)) < 0)
		return -1;
	/* Up to PIPE_BUF bytes go in whole or not at all: no lock needed. */
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == EAGAIN)
		return starry_err_set(err, EX_TEMPFAIL, "agent %s does not read its "
		    "control FIFO", id);
	return starry_err_sys(err, n < 0 && errno == EPIPE ? EX_NEGATIVE : EX_IOERR,
	    "cannot send to agent %s", id);
}

/* An agent's folder: any entry but a hidden one. */
static bool
not_hidden(const char *name)
{
	return name[0] != '.';
}

int
agentdir_each(const char *home, agentdir_each_fn fn, void *ctx,
    struct starry_err *err)
{
	char *path, **names;
	size_t n, i;
	int rc = 0;

	if (asprintf(&path, "%s/agents", home) < 0)
		return starry_err_set(err, EX_OSERR, "out of memory");
	if (starry_dir_names(path, not_hidden, &names, &n) < 0) {
		rc = errno == ENOMEM ? starry_err_set(err, EX_OSERR,
		    "out of memory") : starry_err_sys(err, EX_IOERR,
		    "cannot read %s", path);
		free(path);
		return rc;
	}
	free(path);
	for (i = 0; i < n && rc == 0; i++)
		rc = fn(ctx, names[i]);
	starry_names_free(names, n);
	return rc;
}

bool
agentdir_state_is_live(const char *state)
{
	static const char *const live[] = {
		"starting", "running", "backoff", "holddown", "stopping", NULL,
	};

	for (size_t i = 0; state != NULL && live[i] != NULL; i++)
		if (strcmp(state, live[i]) == 0)
			return true;
	return false;
}
