/* Atomic file writes: a temporary file in the same folder, written,
 * fsync'd and renamed over the target, then the folder fsync'd, so a
 * reader sees the old file or the new one, never a part. */
#ifndef STARRY_ATOMIC_H
#define STARRY_ATOMIC_H

#include <stddef.h>

#include "diag.h"

/* For mode: keep the mode of the file being replaced (0644 when new). */
#define ATOMIC_KEEP_MODE (-1)

/* Replace path with len bytes of data; the new file gets exactly mode
 * (the umask does not apply) or ATOMIC_KEEP_MODE. A symbolic link at path
 * is replaced, not followed. Returns 0, or -1 with err (EX_CANTCREAT,
 * EX_IOERR) and path as it was, no temporary file left behind; only a
 * failing fsync of the folder after the rename leaves the new file in
 * place with an error. */
int atomic_write_file(const char *path, const void *data, size_t len,
    int mode, struct starry_err *err);

/* The same, with flags: ATOMIC_NO_SYNC skips both fsyncs, for files
 * that must be read whole but need not survive a power cut (status). */
#define ATOMIC_NO_SYNC 1u
int atomic_replace_file(const char *path, const void *data, size_t len,
    int mode, unsigned flags, struct starry_err *err);

#endif
