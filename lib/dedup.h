/* The dedup window (DESIGN section 2, rule 2): remembers the last COUNT
 * ids, each for at most a duration, and says whether an id was seen.
 * The window owns copies of the ids it keeps. */
#ifndef STARRY_DEDUP_H
#define STARRY_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEDUP_DEFAULT_COUNT 65536
#define DEDUP_DEFAULT_MS    (10 * 60 * 1000)

struct dedup_window;

struct dedup_window *dedup_window_new(size_t count, int64_t window_ms);
void dedup_window_free(struct dedup_window *w);

/* Whether id was seen within the window at time now_ms (a monotonic
 * clock in ms); when not, it is remembered. Ids are compared as bytes. */
bool dedup_window_seen(struct dedup_window *w, const char *id, size_t len,
    int64_t now_ms);
/* Say that id will be asked about soon, so that the memory
 * dedup_window_seen needs for it is loaded meanwhile. Only a speed-up:
 * ask about ids in the order they were announced. */
void dedup_window_prefetch(struct dedup_window *w, const char *id, size_t len);
/* How many duplicates dedup_window_seen has reported. */
uint64_t dedup_window_dropped(const struct dedup_window *w);

/* Parse "COUNT,DURATION" ("65536,10m"). Returns 0 or -1. */
int dedup_parse_spec(const char *spec, size_t *count, int64_t *window_ms);

#endif
