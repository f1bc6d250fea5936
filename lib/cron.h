/* Timer schedules for the scheduler's `cron:` rules (orchestration.yaml):
 * five-field cron expressions and the @ aliases, read into bitmasks, and
 * the next time one fires by local time. Nothing here allocates: a
 * cron_spec is a plain value, owned by whoever declared it. */
#ifndef STARRY_CRON_H
#define STARRY_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"

/* A longer text is refused before it is read. */
#define CRON_TEXT_MAX 256

/* A schedule. dom_any and dow_any say that the field began with '*' (a
 * plain '*', '*' with a step, or a list starting with '*'), as Vixie cron
 * reads it: when either is set, a day fires if it matches both day fields
 * (for a plain '*', that is the other field alone); when neither is, a day
 * fires if it matches either ("0 0 13 * 5": every 13th and every Friday). */
struct cron_spec {
	uint64_t minute;	/* bit n: minute n fires (0-59) */
	uint32_t hour;		/* 0-23 */
	uint32_t dom;		/* bits 1-31 */
	uint16_t month;		/* bits 1-12 */
	uint8_t dow;		/* bits 0-6, Sunday 0 */
	bool dom_any, dow_any;
};

/* Parse "M H DOM MON DOW", the fields apart by spaces or tabs (more before,
 * between and after are fine), or one of @yearly @annually @monthly
 * @weekly @daily @midnight @hourly (lower case, as cron has them).
 * Fields: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or
 * jan-dec, day of week 0-7 or sun-sat (0 and 7 are Sunday). Names are
 * three letters in any case and stand wherever a number does except in a
 * step; "sun" ending a range is 7, so "fri-sun" works. A field is a list
 * of items apart by ',': '*', a value or a range a-b. '*' and a range may
 * take a step "/n"; a value with a step, a/n, runs from a to where '*'
 * ends. For day of week '*' and a/n end at 6, so Sunday counts once. A
 * step is 1 up to the number of values in its range: '*' with step 60 in
 * minutes is the top of the hour, with step 61 it is refused.
 * Refused, with EX_CONFIG and a message naming the text, the field and its
 * column ("cron '0 3 * * 8': day of week: 8 is out of range 0-7 (column
 * 9)"): @reboot (not a timer: use every: or a start-up rule), other @
 * names, anything but 5 fields, empty list items, values out of range,
 * reversed ranges, steps of 0 or larger than their range, signs, unknown
 * names, any other character, a text over CRON_TEXT_MAX bytes, and days
 * that never come: with dom_any or dow_any set, days of month that none
 * of the months has ("0 0 30 2 *"). On error *out is left as it was. */
int cron_parse(const char *text, struct cron_spec *out, struct starry_err *err);

/* The first time strictly after `after` (Unix seconds) at which spec
 * fires, by local time (the TZ environment, as cron does; this calls
 * tzset), as the Unix time at the start of that local minute. Local time
 * runs as the wall clock does: a time that does not exist (the hour
 * skipped when summer time starts) does not fire that day; a time that
 * occurs twice (the hour repeated when it ends) fires once, at its first
 * occurrence, so every-15-minutes rests through the repeated hour and
 * "30 2 * * *" fires once that day. Returns 0, or -1 when nothing fires
 * within 400 years (a whole Gregorian cycle, so never for a spec from
 * cron_parse), when after is outside the years 1 to 9999, or when a mask
 * is empty. Each day is looked at once at most, its hours and minutes
 * through the masks, so the answer takes milliseconds at worst. */
int cron_next(const struct cron_spec *spec, int64_t after, int64_t *next);

#endif
