/* UUID v4 from getrandom(2), lowercase canonical form. */
#ifndef STARRY_UUID_H
#define STARRY_UUID_H

#include <stdbool.h>
#include <stddef.h>

#define UUID_STR_LEN 36

/* Write a fresh UUID v4 and a NUL into out[37]. Returns 0 or -1 (errno). */
int uuid_v4(char out[UUID_STR_LEN + 1]);
/* Whether s[0..len) is a canonical lowercase UUID v4. */
bool uuid_is_v4(const char *s, size_t len);

#endif
