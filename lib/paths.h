/* Where starry keeps things (DESIGN section 3): STARRY_HOME, STARRY_RUNTIME
 * and STARRY_CONFIG, each from a command-line override, the environment,
 * or the XDG defaults. Strings are owned by the struct. */
#ifndef STARRY_PATHS_H
#define STARRY_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

struct starry_paths {
	char *home;	/* $STARRY_HOME or $XDG_STATE_HOME/starry */
	char *runtime;	/* $STARRY_RUNTIME, $XDG_RUNTIME_DIR/starry, $home/run */
	char *config;	/* $STARRY_CONFIG, $XDG_CONFIG_HOME/starry, PREFIX/etc/starry */
};

/* Resolve the three places; an override (from --home, --runtime,
 * --config) wins over the environment when not NULL. Creates nothing.
 * Returns 0 or -1 with err (EX_CONFIG: no HOME to derive a default). */
int starry_paths_resolve(struct starry_paths *p, const char *home,
    const char *runtime, const char *config, struct starry_err *err);
void starry_paths_free(struct starry_paths *p);

/* Create a directory and its parents; the last one gets mode. */
int starry_mkdir_p(const char *path, int mode, struct starry_err *err);

/* A malloc'd "dir/name" (NULL only on out of memory). */
char *starry_path_join(const char *dir, const char *name);

/* The names of dir's entries that want accepts (want NULL: every one but
 * "." and ".."), sorted by strcmp: *names is a malloc'd array of *n
 * malloc'd strings, for starry_names_free. A dir that does not exist has
 * none (0, *names NULL). -1 with errno when dir cannot be read or memory
 * runs out; nothing is left allocated then. */
int starry_dir_names(const char *dir, bool (*want)(const char *name),
    char ***names, size_t *n);
void starry_names_free(char **names, size_t n);

#endif
