/* Atomic file writes: a temporary file in the same folder, written,
 * fsync'd and renamed over the target, then the folder fsync'd, so a
 * reader sees the old file or the new one, never a part. */
#ifndef STARRY_ATOMIC_H
#define STARRY_ATOMIC_H

#include <stddef.h>

#include "diag.h"

int atomic_write_file(const char *path, const void *data, size_t len,
    int mode, struct starry_err *err);

#endif
