/* Where starry keeps things: see paths.h. Every string in struct
 * starry_paths is malloc'd and owned by it; starry_path_join returns a
 * malloc'd string the caller frees. No json_t * passes through here. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

#ifndef STARRY_PREFIX
#define STARRY_PREFIX "/usr/local"
#endif

char *
starry_path_join(const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	bool slash = dlen > 0 && dir[dlen - 1] != '/';
	char *p = malloc(dlen + slash + nlen + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dlen);
	if (slash)
		p[dlen] = '/';
	memcpy(p + dlen + slash, name, nlen + 1);
	return p;
}

/* An environment variable, with an empty value counting as unset. */
static const char *
env_value(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* XDG base directories must be absolute; a relative one is ignored, as
 * the XDG Base Directory specification says. */
static const char *
xdg_value(const char *name)
{
	const char *v = env_value(name);

	return v != NULL && v[0] == '/' ? v : NULL;
}

/* A malloc'd absolute copy of path: a relative one is taken against the
 * current directory; trailing slashes go. */
static char *
absolute_copy(const char *path, struct starry_err *err)
{
	char *cwd, *out;
	size_t n;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '/') {
		out = strdup(path);
	} else {
		if ((cwd = getcwd(NULL, 0)) == NULL) {
			starry_err_sys(err, EX_OSERR,
			    "cannot find the current directory for '%s'", path);
			return NULL;
		}
		if (path[0] == '\0' || strcmp(path, ".") == 0)
			out = strdup(cwd);
		else
			out = starry_path_join(cwd, path);
		free(cwd);
	}
	if (out == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		return NULL;
	}
	n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		out[--n] = '\0';
	return out;
}

static bool
is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* One place: the override, else the environment variable, made absolute. */
static int
from_override_or_env(const char *override, const char *option,
    const char *var, char **out, struct starry_err *err)
{
	const char *v;

	*out = NULL;
	if (override != NULL && *override == '\0')
		return starry_err_set(err, EX_USAGE, "%s: empty path", option);
	v = override != NULL ? override : env_value(var);
	if (v == NULL)
		return 0;
	*out = absolute_copy(v, err);
	return *out ? 0 : -1;
}

static int
resolve_home(struct starry_paths *p, const char *override,
    struct starry_err *err)
{
	const char *base;
	char *dir;

	if (from_override_or_env(override, "--home", "STARRY_HOME", &p->home, err) < 0)
		return -1;
	if (p->home != NULL)
		return 0;
	if ((base = xdg_value("XDG_STATE_HOME")) != NULL) {
		p->home = starry_path_join(base, "starry");
	} else {
		if ((base = env_value("HOME")) == NULL)
			return starry_err_set(err, EX_CONFIG,
			    "cannot find a place for STARRY_HOME: set STARRY_HOME, "
			    "XDG_STATE_HOME or HOME");
		if ((dir = absolute_copy(base, err)) == NULL)
			return -1;
		p->home = starry_path_join(dir, ".local/state/starry");
		free(dir);
	}
	return p->home ? 0 : starry_err_set(err, EX_OSERR, "out of memory");
}

static int
resolve_runtime(struct starry_paths *p, const char *override,
    struct starry_err *err)
{
	const char *base;

	if (from_override_or_env(override, "--runtime", "STARRY_RUNTIME",
	    &p->runtime, err) < 0)
		return -1;
	if (p->runtime != NULL)
		return 0;
	if ((base = xdg_value("XDG_RUNTIME_DIR")) != NULL)
		p->runtime = starry_path_join(base, "starry");
	else
		p->runtime = starry_path_join(p->home, "run");
	return p->runtime ? 0 : starry_err_set(err, EX_OSERR, "out of memory");
}

static int
resolve_config(struct starry_paths *p, const char *override,
    struct starry_err *err)
{
	const char *base;
	char *dir, *cand;

	if (from_override_or_env(override, "--config", "STARRY_CONFIG",
	    &p->config, err) < 0)
		return -1;
	if (p->config != NULL)
		return 0;
	if ((base = xdg_value("XDG_CONFIG_HOME")) != NULL) {
		if ((cand = starry_path_join(base, "starry")) == NULL)
			goto nomem;
		if (is_directory(cand)) {
			p->config = cand;
			return 0;
		}
		free(cand);
	}
	if ((base = env_value("HOME")) != NULL) {
		if ((dir = absolute_copy(base, err)) == NULL)
			return -1;
		cand = starry_path_join(dir, ".config/starry");
		free(dir);
		if (cand == NULL)
			goto nomem;
		if (is_directory(cand)) {
			p->config = cand;
			return 0;
		}
		free(cand);
	}
	if ((p->config = strdup(STARRY_PREFIX "/etc/starry")) != NULL)
		return 0;
nomem:
	return starry_err_set(err, EX_OSERR, "out of memory");
}

int
starry_paths_resolve(struct starry_paths *p, const char *home,
    const char *runtime, const char *config, struct starry_err *err)
{
	memset(p, 0, sizeof *p);
	if (resolve_home(p, home, err) < 0 ||
	    resolve_runtime(p, runtime, err) < 0 ||
	    resolve_config(p, config, err) < 0) {
		starry_paths_free(p);
		return -1;
	}
	return 0;
}

void
starry_paths_free(struct starry_paths *p)
{
	free(p->home);
	free(p->runtime);
	free(p->config);
	memset(p, 0, sizeof *p);
}

/* mkdir that is content with an existing directory. */
static int
mkdir_one(const char *path, int mode, bool *created, struct starry_err *err)
{
	struct stat st;

	*created = false;
	if (mkdir(path, (mode_t)mode) == 0) {
		*created = true;
		return 0;
	}
	if (errno != EEXIST)
		return starry_err_sys(err, EX_CANTCREAT, "cannot create %s", path);
	if (stat(path, &st) < 0)
		return starry_err_sys(err, EX_CANTCREAT, "cannot create %s", path);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return starry_err_sys(err, EX_CANTCREAT, "cannot create %s", path);
	}
	return 0;
}

int
starry_mkdir_p(const char *path, int mode, struct starry_err *err)
{
	char *buf, *s;
	bool created;
	size_t n;
	int rc = -1;

	if (*path == '\0')
		return starry_err_set(err, EX_CANTCREAT,
		    "cannot create a directory with an empty name");
	if ((buf = strdup(path)) == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	n = strlen(buf);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = '\0';
	/* Most often the parents are there: the last one alone first, and
	 * the walk only when one is missing or a file is in the way (which
	 * the walk then names). */
	if (mkdir_one(buf, mode, &created, err) == 0)
		goto made;
	if (errno != ENOENT && errno != ENOTDIR)
		goto out;
	/* Parents get the usual 0777 less the umask, like mkdir -p. */
	for (s = buf + 1; (s = strchr(s, '/')) != NULL; s++) {
		if (s[-1] == '/')
			continue;
		*s = '\0';
		if (mkdir_one(buf, 0777, &created, err) < 0)
			goto out;
		*s = '/';
	}
	if (mkdir_one(buf, mode, &created, err) < 0)
		goto out;
made:
	/* The umask may have narrowed a new one; an existing one is left as
	 * its owner set it. */
	if (created && chmod(buf, (mode_t)mode) < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot set the mode of %s", buf);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
starry_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
starry_dir_names(const char *dir, bool (*want)(const char *name),
    char ***names, size_t *n)
{
	char **v = NULL, **grown;
	size_t len = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int e;

	*names = NULL;
	*n = 0;
	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	for (e = 0; e == 0;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			e = errno;	/* 0 at the end */
			break;
		}
		if (want != NULL ? !want(de->d_name) :
		    strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (len == cap) {
			cap = cap ? 2 * cap : 64;
			if ((grown = reallocarray(v, cap, sizeof *v)) == NULL) {
				e = ENOMEM;
				break;
			}
			v = grown;
		}
		if ((v[len] = strdup(de->d_name)) == NULL)
			e = ENOMEM;
		else
			len++;
	}
	closedir(d);
	if (e != 0) {
		starry_names_free(v, len);
		errno = e;
		return -1;
	}
	/* qsort's array may not be NULL, even of none. */
	if (len > 0)
		qsort(v, len, sizeof *v, by_name);
	*names = v;
	*n = len;
	return 0;
}
