/* Time for deadlines and windows: a clock that never jumps. (Event
 * timestamps are wall-clock time: event_now_ms in event.h.) */
#ifndef STARRY_CLOCK_H
#define STARRY_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t monotonic_ms(void);

#endif
