/* Atomic file writes: see atomic.h. The caller keeps ownership of path
 * and data; the temporary name is malloc'd here and freed before return.
 * No json_t * passes through here. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "fdio.h"

/* fsync the folder holding path, so that the rename is durable. */
static int
sync_parent(const char *path, struct starry_err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = starry_err_sys(err, EX_IOERR, "cannot open %s to sync it", dir);
	} else {
		/* Some file systems cannot sync a folder and say EINVAL. */
		if (fsync(fd) < 0 && errno != EINVAL)
			rc = starry_err_sys(err, EX_IOERR, "cannot sync %s", dir);
		close(fd);
	}
	free(dir);
	return rc;
}

int
atomic_write_file(const char *path, const void *data, size_t len, int mode,
    struct starry_err *err)
{
	return atomic_replace_file(path, data, len, mode, 0, err);
}

int
atomic_replace_file(const char *path, const void *data, size_t len, int mode,
    unsigned flags, struct starry_err *err)
{
	bool renamed = false;
	struct stat st;
	char *tmp;
	int fd, rc = -1;

	if (mode == ATOMIC_KEEP_MODE)
		mode = lstat(path, &st) == 0 && S_ISREG(st.st_mode) ?
		    (int)(st.st_mode & 07777) : 0644;
	if ((tmp = malloc(strlen(path) + sizeof ".XXXXXX")) == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	sprintf(tmp, "%s.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot create a temporary file for %s",
		    path);
		free(tmp);
		return -1;
	}
	if (write_all(fd, data, len) < 0) {
		starry_err_sys(err, EX_IOERR, "cannot write %s", tmp);
		goto out;
	}
	if (fchmod(fd, (mode_t)(mode & 07777)) < 0) {
		starry_err_sys(err, EX_IOERR, "cannot set the mode of %s", tmp);
		goto out;
	}
	if (!(flags & ATOMIC_NO_SYNC) && fsync(fd) < 0) {
		starry_err_sys(err, EX_IOERR, "cannot sync %s", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		starry_err_sys(err, EX_IOERR, "cannot write %s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot rename %s to %s", tmp, path);
		goto out;
	}
	renamed = true;
	rc = flags & ATOMIC_NO_SYNC ? 0 : sync_parent(path, err);
out:
	if (fd >= 0)
		close(fd);
	if (!renamed)
		unlink(tmp);
	free(tmp);
	return rc;
}
