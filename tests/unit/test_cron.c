/* lib/cron: cron expressions and @ aliases into masks, the refusals with
 * their field and column, hostile text, and the next firing in UTC and
 * across Berlin's summer-time changes, checked against a minute-by-minute
 * scan of the clock. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cron.h"

#define BERLIN_ZONE "/usr/share/zoneinfo/Europe/Berlin"

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static double
now_seconds(void)
{
	return monotonic_ms() / 1e3;
}

/* The values of a mask, lo to hi, runs written as ranges: "0-4,10". Bits
 * outside the field's range are asked for too, so stray ones show. */
static void
mask_list(uint64_t bits, int lo, int hi, char *buf, size_t size)
{
	size_t o = 0;
	int v = lo, e;

	buf[0] = '\0';
	while (v <= hi) {
		if (!(bits >> v & 1)) {
			v++;
			continue;
		}
		for (e = v; e < hi && (bits >> (e + 1) & 1); e++)
			;
		o += snprintf(buf + o, size - o, "%s%d", o ? "," : "", v);
		if (e > v)
			o += snprintf(buf + o, size - o, "-%d", e);
		v = e + 1;
	}
	if (o == 0)
		snprintf(buf, size, "none");
}

/* A spec as "MIN HOUR DOM MON DOW", every value spelled out, and " dom*"
 * and " dow*" for the flags. */
static void
describe(const struct cron_spec *s, char *buf, size_t size)
{
	char f[5][200];

	mask_list(s->minute, 0, 63, f[0], sizeof f[0]);
	mask_list(s->hour, 0, 31, f[1], sizeof f[1]);
	mask_list(s->dom, 0, 31, f[2], sizeof f[2]);
	mask_list(s->month, 0, 15, f[3], sizeof f[3]);
	mask_list(s->dow, 0, 7, f[4], sizeof f[4]);
	snprintf(buf, size, "%s %s %s %s %s%s%s", f[0], f[1], f[2], f[3], f[4],
	    s->dom_any ? " dom*" : "", s->dow_any ? " dow*" : "");
}

static struct cron_spec
parse_ok(const char *text)
{
	struct starry_err err = { 0 };
	struct cron_spec spec;

	if (cron_parse(text, &spec, &err) < 0)
		fail_msg("'%s' was refused: %s", text, err.msg);
	return spec;
}

/* "2026-11-23 03:00:00", UTC, as Unix time. */
static int64_t
utc(const char *when)
{
	struct tm tm = { 0 };

	if (sscanf(when, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		fail_msg("bad time '%s'", when);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* t by the local clock: "2027-03-29 02:30 CEST". */
static void
local_text(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	strftime(buf, size, "%Y-%m-%d %H:%M %Z", &tm);
}

struct next_case {
	const char *spec, *after, *expected;
};

static void
check_next_cases(const struct next_case *cases, size_t n)
{
	char got[64];
	int64_t next;

	for (size_t i = 0; i < n; i++) {
		struct cron_spec spec = parse_ok(cases[i].spec);

		next = -1;
		if (cron_next(&spec, utc(cases[i].after), &next) < 0)
			fail_msg("'%s' after %s: nothing", cases[i].spec,
			    cases[i].after);
		local_text(next, got, sizeof got);
		if (strcmp(got, cases[i].expected) != 0)
			fail_msg("'%s' after %s UTC: %s, expected %s",
			    cases[i].spec, cases[i].after, got, cases[i].expected);
		assert_int_equal(next % 60, 0);
	}
}

/* Whether spec fires at the local time tm, read straight off the masks
 * (the day rule written again here, as the test's own reference). */
static int
fires_at(const struct cron_spec *s, const struct tm *tm)
{
	int dom = s->dom >> tm->tm_mday & 1, dow = s->dow >> tm->tm_wday & 1;
	int day = (s->dom_any || s->dow_any) ? dom && dow : dom || dow;

	return tm->tm_sec == 0 && (s->minute >> tm->tm_min & 1) &&
	    (s->hour >> tm->tm_hour & 1) && (s->month >> (tm->tm_mon + 1) & 1) &&
	    day;
}

/* What cron_next should answer, found the slow way: the first minute after
 * after whose local time fires and is that local time's first occurrence
 * (the zones used here move their clocks by whole hours). */
static int64_t
next_by_scan(const struct cron_spec *s, int64_t after, int64_t limit)
{
	struct tm tm, hour_before;
	time_t t, prev;

	for (t = (after / 60 + 1) * 60; t <= after + limit; t += 60) {
		localtime_r(&t, &tm);
		if (!fires_at(s, &tm))
			continue;
		prev = t - 3600;
		localtime_r(&prev, &hour_before);
		if (hour_before.tm_hour == tm.tm_hour &&
		    hour_before.tm_mday == tm.tm_mday &&
		    hour_before.tm_min == tm.tm_min)
			continue;
		return t;
	}
	return -1;
}

/* ---- parsing ------------------------------------------------------------ */

static void
test_parse_reads_fields_aliases_names_and_steps(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "@yearly", "0 0 1 1 0-6 dow*" },
		{ "@annually", "0 0 1 1 0-6 dow*" },
		{ "@monthly", "0 0 1 1-12 0-6 dow*" },
		{ "@weekly", "0 0 1-31 1-12 0 dom*" },
		{ "@daily", "0 0 1-31 1-12 0-6 dom* dow*" },
		{ "@midnight", "0 0 1-31 1-12 0-6 dom* dow*" },
		{ "@hourly", "0 0-23 1-31 1-12 0-6 dom* dow*" },
		{ " \t@hourly\t ", "0 0-23 1-31 1-12 0-6 dom* dow*" },
		{ "* * * * *", "0-59 0-23 1-31 1-12 0-6 dom* dow*" },
		{ "0 3 * * *", "0 3 1-31 1-12 0-6 dom* dow*" },
		{ "\t0\t3 *\t* *  ", "0 3 1-31 1-12 0-6 dom* dow*" },
		{ "1,2,5 * * * *", "1-2,5 0-23 1-31 1-12 0-6 dom* dow*" },
		{ "0-4,10,58-59 0 1 1 0", "0-4,10,58-59 0 1 1 0" },
		{ "*/15 */6 * * *", "0,15,30,45 0,6,12,18 1-31 1-12 0-6 dom* dow*" },
		{ "10-20/5 8-18/4 1 1 1", "10,15,20 8,12,16 1 1 1" },
		{ "5/20 1/12 1 1 1", "5,25,45 1,13 1 1 1" },
		{ "*/60 */24 1 1 1", "0 0 1 1 1" },
		{ "0-59/60 0 1 1 1", "0 0 1 1 1" },
		{ "0 0 1-31/10 * 1", "0 0 1,11,21,31 1-12 1" },
		{ "0 0 */2 * 1",
		    "0 0 1,3,5,7,9,11,13,15,17,19,21,23,25,27,29,31 1-12 1 dom*" },
		{ "0 0 1 jan,JUL,Dec 1", "0 0 1 1,7,12 1" },
		{ "0 0 1 Feb-dec/3 1", "0 0 1 2,5,8,11 1" },
		{ "0 0 1 */5 1", "0 0 1 1,6,11 1" },
		{ "0 12 * * Mon-FRI", "0 12 1-31 1-12 1-5 dom*" },
		{ "0 0 1 1 7", "0 0 1 1 0" },
		{ "0 0 1 1 0,7", "0 0 1 1 0" },
		{ "0 0 1 1 5-7", "0 0 1 1 0,5-6" },
		{ "0 0 1 1 fri-sun", "0 0 1 1 0,5-6" },
		{ "0 0 1 1 SUN-sat", "0 0 1 1 0-6" },
		{ "0 0 1 1 0-7", "0 0 1 1 0-6" },
		{ "0 0 1 1 sun", "0 0 1 1 0" },
		{ "0 0 * * */2", "0 0 1-31 1-12 0,2,4,6 dom* dow*" },
		{ "0 0 * * */7", "0 0 1-31 1-12 0 dom* dow*" },
		{ "0 0 1 1 1/2", "0 0 1 1 1,3,5" },
		{ "0 0 1 1 7/3", "0 0 1 1 0,3,6" },
		{ "007 09 01 02 03", "7 9 1 2 3" },
		{ "59 23 31 12 6", "59 23 31 12 6" },
		{ "0 0 13 * 5", "0 0 13 1-12 5" },
		/* Day 30 never comes in February, but Mondays do: either day
		 * field fires when neither is '*'. */
		{ "0 0 30 2 mon", "0 0 30 2 1" },
		{ "0 0 *,5 * 1", "0 0 1-31 1-12 1 dom*" },
	};
	char got[1024];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct cron_spec spec = parse_ok(cases[i].in);

		describe(&spec, got, sizeof got);
		if (strcmp(got, cases[i].out) != 0)
			fail_msg("'%s' read as \"%s\", expected \"%s\"",
			    cases[i].in, got, cases[i].out);
	}
}

static void
test_parse_refusals_name_the_field_and_column(void **state)
{
	static const struct { const char *in, *msg; } cases[] = {
		{ "@reboot", "cron '@reboot': @reboot is not a timer; "
		    "use every: or a start-up rule instead" },
		{ "@reboot now", "cron '@reboot now': @reboot is not a timer; "
		    "use every: or a start-up rule instead" },
		{ "@fortnightly", "cron '@fortnightly': unknown '@fortnightly' "
		    "(use @yearly, @annually, @monthly, @weekly, @daily, "
		    "@midnight or @hourly)" },
		{ "@Daily", "cron '@Daily': unknown '@Daily' (use @yearly, "
		    "@annually, @monthly, @weekly, @daily, @midnight or @hourly)" },
		{ "@", "cron '@': unknown '@' (use @yearly, @annually, @monthly, "
		    "@weekly, @daily, @midnight or @hourly)" },
		{ "@daily 5", "cron '@daily 5': expected nothing after @daily "
		    "(column 8)" },
		{ "", "cron '': expected 5 fields, got 0" },
		{ " \t ", "cron ' \\t ': expected 5 fields, got 0" },
		{ "0 3 * *", "cron '0 3 * *': expected 5 fields, got 4" },
		{ "0 3 * * * *", "cron '0 3 * * * *': expected 5 fields, got 6 "
		    "(column 11)" },
		{ "0 3 * * * /bin/true", "cron '0 3 * * * /bin/true': expected 5 "
		    "fields, got 6 (column 11)" },
		{ "0 3 * * 8", "cron '0 3 * * 8': day of week: 8 is out of range "
		    "0-7 (column 9)" },
		{ "60 * * * *", "cron '60 * * * *': minute: 60 is out of range "
		    "0-59 (column 1)" },
		{ "0 24 * * *", "cron '0 24 * * *': hour: 24 is out of range 0-23 "
		    "(column 3)" },
		{ "0 0 0 * *", "cron '0 0 0 * *': day of month: 0 is out of range "
		    "1-31 (column 5)" },
		{ "0 0 32 * *", "cron '0 0 32 * *': day of month: 32 is out of "
		    "range 1-31 (column 5)" },
		{ "0 0 * 13 *", "cron '0 0 * 13 *': month: 13 is out of range "
		    "1-12 (column 7)" },
		{ "0 0 * 0 *", "cron '0 0 * 0 *': month: 0 is out of range 1-12 "
		    "(column 7)" },
		{ "1,,2 * * * *", "cron '1,,2 * * * *': minute: empty list item "
		    "(column 3)" },
		{ ",1 * * * *", "cron ',1 * * * *': minute: empty list item "
		    "(column 1)" },
		{ "0 1, * * *", "cron '0 1, * * *': hour: empty list item "
		    "(column 5)" },
		{ "5-1 * * * *", "cron '5-1 * * * *': minute: range 5-1 is "
		    "reversed (column 1)" },
		{ "0 0 * * sat-mon", "cron '0 0 * * sat-mon': day of week: range "
		    "sat-mon is reversed (column 9)" },
		{ "*/0 * * * *", "cron '*/0 * * * *': minute: step 0 is not "
		    "allowed (column 3)" },
		{ "*/61 * * * *", "cron '*/61 * * * *': minute: step 61 is larger "
		    "than the range 0-59 (column 3)" },
		{ "5/56 * * * *", "cron '5/56 * * * *': minute: step 56 is larger "
		    "than the range 5-59 (column 3)" },
		{ "0 0 * * 1-5/6", "cron '0 0 * * 1-5/6': day of week: step 6 is "
		    "larger than the range 1-5 (column 13)" },
		{ "0 0 * * */8", "cron '0 0 * * */8': day of week: step 8 is "
		    "larger than the range 0-6 (column 11)" },
		{ "+5 * * * *", "cron '+5 * * * *': minute: '+5': numbers take no "
		    "sign (column 1)" },
		{ "0 -1 * * *", "cron '0 -1 * * *': hour: '-1': numbers take no "
		    "sign (column 3)" },
		{ "*/-5 * * * *", "cron '*/-5 * * * *': minute: '-5': numbers take "
		    "no sign (column 3)" },
		{ "1--5 * * * *", "cron '1--5 * * * *': minute: '-5': numbers take "
		    "no sign (column 3)" },
		{ "99999999999999999999 * * * *", "cron '99999999999999999999 * * "
		    "* *': minute: 99999999999999999999 is out of range 0-59 "
		    "(column 1)" },
		{ "*/99999999999999999999 * * * *", "cron '*/99999999999999999999 "
		    "* * * *': minute: step 99999999999999999999 is larger than "
		    "the range 0-59 (column 3)" },
		{ "0 3 * * 1x", "cron '0 3 * * 1x': day of week: unexpected 'x' "
		    "(column 10)" },
		{ "0 3 * * mon;", "cron '0 3 * * mon;': day of week: unexpected "
		    "';' (column 12)" },
		{ "0 3 * * monday", "cron '0 3 * * monday': day of week: unknown "
		    "name 'monday' (use sun-sat or 0-7) (column 9)" },
		{ "0 3 * januar *", "cron '0 3 * januar *': month: unknown name "
		    "'januar' (use jan-dec or 1-12) (column 7)" },
		{ "jan * * * *", "cron 'jan * * * *': minute: 'jan' is not a "
		    "number (column 1)" },
		{ "0 3 * * */mon", "cron '0 3 * * */mon': day of week: step 'mon' "
		    "is not a number (column 11)" },
		{ "*-5 * * * *", "cron '*-5 * * * *': minute: unexpected '-' "
		    "(column 2)" },
		{ "** * * * *", "cron '** * * * *': minute: unexpected '*' "
		    "(column 2)" },
		{ "1- * * * *", "cron '1- * * * *': minute: expected a number "
		    "after '-' (column 3)" },
		{ "1-,2 * * * *", "cron '1-,2 * * * *': minute: expected a number "
		    "after '-' (column 3)" },
		{ "*/ * * * *", "cron '*/ * * * *': minute: expected a step after "
		    "'/' (column 3)" },
		{ "1-5-7 * * * *", "cron '1-5-7 * * * *': minute: unexpected '-' "
		    "(column 4)" },
		{ "1/2/3 * * * *", "cron '1/2/3 * * * *': minute: unexpected '/' "
		    "(column 4)" },
		{ "? * * * *", "cron '? * * * *': minute: unexpected '?' "
		    "(column 1)" },
		{ "0 3 * * 5#2", "cron '0 3 * * 5#2': day of week: unexpected '#' "
		    "(column 10)" },
		{ "0 3 L * *", "cron '0 3 L * *': day of month: 'L' is not a "
		    "number (column 5)" },
		{ "0\n3 * * * *", "cron '0\\n3 * * * *': minute: unexpected '\\n' "
		    "(column 2)" },
		{ "0 3 * * \xff", "cron '0 3 * * \\xff': day of week: unexpected "
		    "'\\xff' (column 9)" },
		{ "0 3 * * 1\r", "cron '0 3 * * 1\\x0d': day of week: unexpected "
		    "'\\x0d' (column 10)" },
		{ "0 0 30 2 *", "cron '0 0 30 2 *': day of month: no month in '2' "
		    "has a day in '30', so this never fires (column 5)" },
		{ "0 0 31 2,4,6,9,11 *", "cron '0 0 31 2,4,6,9,11 *': day of "
		    "month: no month in '2,4,6,9,11' has a day in '31', so this "
		    "never fires (column 5)" },
		{ "0 0 31 apr */2", "cron '0 0 31 apr */2': day of month: no month "
		    "in 'apr' has a day in '31', so this never fires (column 5)" },
	};
	struct starry_err err;
	struct cron_spec spec, before;

	(void)state;
	memset(&before, 0xa5, sizeof before);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		memset(&err, 0, sizeof err);
		spec = before;
		if (cron_parse(cases[i].in, &spec, &err) == 0)
			fail_msg("'%s' was accepted", cases[i].in);
		assert_int_equal(err.code, EX_CONFIG);
		assert_memory_equal(&spec, &before, sizeof spec);
		if (strcmp(err.msg, cases[i].msg) != 0)
			fail_msg("'%s': got \"%s\", expected \"%s\"", cases[i].in,
			    err.msg, cases[i].msg);
	}
}

static void
test_parse_refuses_text_over_256_bytes(void **state)
{
	char text[CRON_TEXT_MAX + 2], expected[256];
	struct starry_err err = { 0 };
	struct cron_spec spec;

	(void)state;
	/* 256 bytes with the blanks: fine. */
	memset(text, ' ', sizeof text);
	memcpy(text, "0 3 * * *", 9);
	text[CRON_TEXT_MAX] = '\0';
	assert_int_equal(cron_parse(text, &spec, &err), 0);
	assert_int_equal(spec.hour, 1u << 3);
	/* 257: refused, the message showing the first 64. */
	text[CRON_TEXT_MAX] = ' ';
	text[CRON_TEXT_MAX + 1] = '\0';
	assert_int_equal(cron_parse(text, &spec, &err), -1);
	snprintf(expected, sizeof expected,
	    "cron '0 3 * * *%55s...': longer than 256 bytes", "");
	assert_string_equal(err.msg, expected);
	/* A long list that fits is read whole. */
	assert_int_equal(cron_parse("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,"
	    "17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,"
	    "39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59 "
	    "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23 "
	    "* * *", &spec, &err), 0);
	assert_true(spec.minute == (UINT64_C(1) << 60) - 1);
	assert_true(spec.hour == (1u << 24) - 1);
}

/* A small generator of its own, so that runs repeat. */
static uint32_t
rng_next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* One value for field f (0 minute to 4 day of week): mostly a number in
 * range or a name, now and then one of the wild ones. */
static void
random_value(uint64_t *rs, int f, char *buf, size_t size)
{
	static const int lo[] = { 0, 0, 1, 1, 0 }, hi[] = { 59, 23, 31, 12, 7 };
	static const char *const months[] = { "jan", "FEB", "Jun", "dec" };
	static const char *const days[] = { "sun", "Mon", "FRI", "sat" };
	static const char *const wild[] = {
		"60", "32", "99999999999", "-1", "+3", "x", "L", "?", "monday", "",
	};
	uint32_t r = rng_next(rs) % 40;

	if (r == 0)
		snprintf(buf, size, "%s", wild[rng_next(rs) % 10]);
	else if (r < 8 && f == 3)
		snprintf(buf, size, "%s", months[rng_next(rs) % 4]);
	else if (r < 8 && f == 4)
		snprintf(buf, size, "%s", days[rng_next(rs) % 4]);
	else
		snprintf(buf, size, "%d", lo[f] + (int)(rng_next(rs) %
		    (uint32_t)(hi[f] - lo[f] + 1)));
}

/* A field that is mostly well formed: a list of '*', values, ranges and
 * steps, some reversed, too large or wild. */
static void
random_field(uint64_t *rs, int f, char *buf, size_t size)
{
	char a[16], b[16], t[16];
	size_t o = 0, n = 1 + rng_next(rs) % 3;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		uint32_t shape = rng_next(rs) % 6, step = 1 + rng_next(rs) % 12;

		random_value(rs, f, a, sizeof a);
		random_value(rs, f, b, sizeof b);
		/* Ranges mostly the right way round. */
		if (atoi(a) > atoi(b) && rng_next(rs) % 8 != 0) {
			memcpy(t, a, sizeof t);
			memcpy(a, b, sizeof a);
			memcpy(b, t, sizeof b);
		}
		if (i > 0)
			o += snprintf(buf + o, size - o, ",");
		if (shape == 0)
			o += snprintf(buf + o, size - o, "*");
		else if (shape == 1)
			o += snprintf(buf + o, size - o, "%s", a);
		else if (shape == 2)
			o += snprintf(buf + o, size - o, "%s-%s", a, b);
		else if (shape == 3)
			o += snprintf(buf + o, size - o, "%s/%u", a, step);
		else if (shape == 4)
			o += snprintf(buf + o, size - o, "%s-%s/%u", a, b, step);
		else
			o += snprintf(buf + o, size - o, "*/%u", step);
	}
}

static void
test_parse_survives_random_text_and_what_it_accepts_fires(void **state)
{
	static const char damage[] = " \t,-/*@\n\0x9";
	char text[CRON_TEXT_MAX + 1], field[64];
	struct starry_err err;
	struct cron_spec spec;
	uint64_t rs = 42;
	int accepted = 0;
	int64_t after, next;
	time_t tt;
	struct tm tm;

	(void)state;
	set_tz("UTC");
	for (int round = 0; round < 20000; round++) {
		size_t o = 0;

		for (int f = 0; f < 5; f++) {
			random_field(&rs, f, field, sizeof field);
			o += snprintf(text + o, sizeof text - o, "%s%s",
			    f ? " " : "", field);
		}
		if (rng_next(&rs) % 4 == 0 && o > 0)
			text[rng_next(&rs) % o] = damage[rng_next(&rs) %
			    (sizeof damage - 1)];
		memset(&err, 0, sizeof err);
		if (cron_parse(text, &spec, &err) < 0) {
			assert_int_equal(err.code, EX_CONFIG);
			assert_true(strncmp(err.msg, "cron '", 6) == 0);
			assert_null(strchr(err.msg, '\n'));
			continue;
		}
		accepted++;
		assert_true(spec.minute != 0 && spec.minute >> 60 == 0);
		assert_true(spec.hour != 0 && spec.hour >> 24 == 0);
		assert_true(spec.dom >> 1 != 0 && (spec.dom & 1) == 0);
		assert_true(spec.month >> 1 != 0 && spec.month >> 13 == 0 &&
		    (spec.month & 1) == 0);
		assert_true(spec.dow != 0 && spec.dow >> 7 == 0);
		/* Whatever parses fires, at a time it names. */
		after = 1700000000 + (int64_t)(rng_next(&rs) % 100000000);
		if (cron_next(&spec, after, &next) < 0)
			fail_msg("'%s' never fires after %lld", text,
			    (long long)after);
		assert_true(next > after);
		tt = (time_t)next;
		gmtime_r(&tt, &tm);
		if (!fires_at(&spec, &tm))
			fail_msg("'%s' after %lld: %lld does not match", text,
			    (long long)after, (long long)next);
	}
	/* The generator is meant to reach both sides. */
	assert_true(accepted > 1000);
	assert_true(accepted < 19000);
}

static void
test_parse_truncation_at_every_byte_reads_or_refuses(void **state)
{
	const char *text = "0-59/7,3 1-23/2 1,15,L-31 jan-jun/2,DEC fri-sun";
	char buf[128];
	struct starry_err err;
	struct cron_spec spec;
	int rc;

	(void)state;
	for (size_t n = 0; n <= strlen(text); n++) {
		memcpy(buf, text, n);
		buf[n] = '\0';
		memset(&err, 0, sizeof err);
		rc = cron_parse(buf, &spec, &err);
		assert_true(rc == 0 || (rc == -1 && err.code == EX_CONFIG));
	}
}

/* ---- the next time, in UTC ---------------------------------------------- */

static void
test_next_in_utc(void **state)
{
	static const struct next_case cases[] = {
		{ "0 3 * * *", "2026-11-23 03:00:00", "2026-11-24 03:00 UTC" },
		{ "0 3 * * *", "2026-11-23 02:59:59", "2026-11-23 03:00 UTC" },
		{ "* * * * *", "2026-11-23 10:07:30", "2026-11-23 10:08 UTC" },
		{ "*/15 * * * *", "2026-11-23 10:07:00", "2026-11-23 10:15 UTC" },
		{ "*/15 * * * *", "2026-11-23 10:45:00", "2026-11-23 11:00 UTC" },
		{ "*/15 * * * *", "2026-12-31 23:59:30", "2027-01-01 00:00 UTC" },
		{ "0 0 1 * *", "2026-11-15 12:00:00", "2026-12-01 00:00 UTC" },
		{ "0 0 1 * *", "2026-12-01 00:00:00", "2027-01-01 00:00 UTC" },
		{ "0 0 31 * *", "2026-04-01 00:00:00", "2026-05-31 00:00 UTC" },
		{ "0 0 29 2 *", "2026-03-01 00:00:00", "2028-02-29 00:00 UTC" },
		{ "0 0 29 2 *", "2028-02-29 00:00:00", "2032-02-29 00:00 UTC" },
		/* Either day field: the 13th (a Sunday), then a Friday. */
		{ "0 0 13 * 5", "2026-12-11 00:00:00", "2026-12-13 00:00 UTC" },
		{ "0 0 13 * 5", "2026-12-13 00:00:00", "2026-12-18 00:00 UTC" },
		/* '*' with a step: both day fields, odd days that are Fridays. */
		{ "0 0 */2 * 5", "2026-12-01 00:00:00", "2026-12-11 00:00 UTC" },
		{ "0 0 */2 * 5", "2026-12-11 00:00:00", "2026-12-25 00:00 UTC" },
		{ "@hourly", "2026-11-23 10:00:00", "2026-11-23 11:00 UTC" },
		{ "@hourly", "2026-11-23 10:59:59", "2026-11-23 11:00 UTC" },
		/* From a Friday's noon over the weekend to Monday's. */
		{ "0 12 * * mon-fri", "2026-11-27 12:00:00", "2026-11-30 12:00 UTC" },
		{ "@weekly", "2026-11-23 00:00:00", "2026-11-29 00:00 UTC" },
		{ "@yearly", "2026-06-01 00:00:00", "2027-01-01 00:00 UTC" },
		{ "59 23 31 12 *", "2026-12-31 23:59:00", "2027-12-31 23:59 UTC" },
		/* 29 February on a Sunday: 28 years on. */
		{ "0 0 29 2 */7", "2032-03-01 00:00:00", "2060-02-29 00:00 UTC" },
		{ "* * * * *", "1969-12-31 23:59:59", "1970-01-01 00:00 UTC" },
		{ "* * * * *", "9999-12-31 23:59:59", "10000-01-01 00:00 UTC" },
	};

	(void)state;
	set_tz("UTC");
	check_next_cases(cases, sizeof cases / sizeof *cases);
}

static void
test_next_refuses_what_never_fires_quickly(void **state)
{
	struct cron_spec spec = parse_ok("0 0 31 * *"), never;
	struct starry_err err = { 0 };
	double t0;
	int64_t next = 7;

	(void)state;
	set_tz("UTC");
	assert_int_equal(cron_parse("0 0 31 2 *", &spec, &err), -1);
	assert_string_equal(err.msg, "cron '0 0 31 2 *': day of month: no month "
	    "in '2' has a day in '31', so this never fires (column 5)");
	/* A spec made by hand: 31 February, with both day fields. */
	never = parse_ok("0 0 31 * *");
	never.month = 1u << 2;
	t0 = now_seconds();
	assert_int_equal(cron_next(&never, 1800000000, &next), -1);
	assert_true(now_seconds() - t0 < 0.25);
	assert_int_equal(next, 7);
	/* Any day, but never a matching weekday: the whole cycle, quickly. */
	never = parse_ok("0 0 * * *");
	never.dow = 0;
	t0 = now_seconds();
	assert_int_equal(cron_next(&never, 1800000000, &next), -1);
	assert_true(now_seconds() - t0 < 0.25);
	/* Empty masks and times outside the years 1 to 9999. */
	never = parse_ok("* * * * *");
	never.minute = 0;
	assert_int_equal(cron_next(&never, 0, &next), -1);
	spec = parse_ok("* * * * *");
	assert_int_equal(cron_next(&spec, INT64_C(253402300800), &next), -1);
	assert_int_equal(cron_next(&spec, INT64_MAX, &next), -1);
	assert_int_equal(cron_next(&spec, INT64_MIN, &next), -1);
	assert_int_equal(cron_next(&spec, INT64_C(-62135596801), &next), -1);
	assert_int_equal(cron_next(&spec, INT64_C(-62135596800), &next), 0);
	assert_int_equal(next, INT64_C(-62135596740));
}

/* ---- the next time, in Berlin ------------------------------------------- */

static int
berlin(void)
{
	if (access(BERLIN_ZONE, R_OK) != 0)
		return 0;
	set_tz("Europe/Berlin");
	return 1;
}

static void
test_next_across_berlin_summer_time(void **state)
{
	/* Summer time starts 2027-03-28 02:00 CET (01:00 UTC): the clock goes
	 * to 03:00 CEST. It ends 2026-10-25 03:00 CEST (01:00 UTC): the clock
	 * goes back to 02:00 CET, and 02:00-02:59 comes twice. */
	static const struct next_case cases[] = {
		/* After 02:30 CET on the 27th: the 28th has no 02:30. */
		{ "30 2 * * *", "2027-03-27 01:30:00", "2027-03-29 02:30 CEST" },
		{ "0 2 * * *", "2027-03-27 01:00:00", "2027-03-29 02:00 CEST" },
		{ "0 3 * * *", "2027-03-27 02:00:00", "2027-03-28 03:00 CEST" },
		/* From 01:30 CET the next half hour is 03:00 CEST. */
		{ "*/30 * * * *", "2027-03-28 00:30:00", "2027-03-28 03:00 CEST" },
		{ "* * * * *", "2027-03-28 00:59:00", "2027-03-28 03:00 CEST" },
		/* 02:30 on the 25th comes twice and fires the first time. */
		{ "30 2 * * *", "2026-10-24 00:30:00", "2026-10-25 02:30 CEST" },
		{ "30 2 * * *", "2026-10-25 00:30:00", "2026-10-26 02:30 CET" },
		/* From 02:10 CET, the second pass: 02:30 has fired already. */
		{ "30 2 * * *", "2026-10-25 01:10:00", "2026-10-26 02:30 CET" },
		/* Every half hour rests through the repeated hour. */
		{ "*/30 * * * *", "2026-10-25 00:30:00", "2026-10-25 03:00 CET" },
		{ "*/30 * * * *", "2026-10-25 00:29:00", "2026-10-25 02:30 CEST" },
		{ "0 3 * * *", "2026-10-25 00:30:00", "2026-10-25 03:00 CET" },
		{ "0 0 * * *", "2026-10-24 22:00:00", "2026-10-26 00:00 CET" },
		{ "@daily", "2027-03-27 23:00:00", "2027-03-29 00:00 CEST" },
	};

	(void)state;
	if (!berlin())
		skip();
	check_next_cases(cases, sizeof cases / sizeof *cases);
}

/* cron_next against next_by_scan, from every 29 minutes of the given
 * stretches, for schedules that fire at least daily. */
static void
check_against_scan(const char *const *windows, size_t nwindows)
{
	static const char *const specs[] = {
		"* * * * *", "*/15 * * * *", "30 2 * * *", "0,30 1-3 * * *",
		"59 1 * * *", "0 3 * * *", "*/7 2 * * *", "0 0 * * *",
		"0 2 * * 0", "45 23 * * *",
	};
	char want[64], got[64];
	int64_t after, next, expected;

	for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) {
		struct cron_spec spec = parse_ok(specs[s]);

		for (size_t w = 0; w < nwindows; w++) {
			int64_t from = utc(windows[w]);

			for (after = from; after < from + 36 * 3600; after += 29 * 60 + 1) {
				expected = next_by_scan(&spec, after, 8 * 86400);
				if (cron_next(&spec, after, &next) < 0)
					next = -1;
				if (next == expected)
					continue;
				local_text(expected, want, sizeof want);
				local_text(next, got, sizeof got);
				fail_msg("'%s' after %lld: %s, the scan says %s",
				    specs[s], (long long)after, got, want);
			}
		}
	}
}

static void
test_next_agrees_with_a_minute_by_minute_scan(void **state)
{
	static const char *const utc_windows[] = {
		"2026-10-31 12:00:00", "2027-12-31 06:00:00",
		"2028-02-28 06:00:00",
	};
	static const char *const berlin_windows[] = {
		"2026-10-24 12:00:00", "2027-03-27 12:00:00",
	};

	(void)state;
	set_tz("UTC");
	check_against_scan(utc_windows, sizeof utc_windows / sizeof *utc_windows);
	if (!berlin())
		skip();
	check_against_scan(berlin_windows,
	    sizeof berlin_windows / sizeof *berlin_windows);
}

static void
test_next_answers_quickly(void **state)
{
	static const char *const specs[] = {
		"0 0 29 2 */7", "59 23 31 12 *", "0 0 29 2 *", "@yearly",
		"0 0 31 jan,mar */7",
	};
	double t0 = now_seconds();
	int64_t next;

	(void)state;
	set_tz(berlin() ? "Europe/Berlin" : "UTC");
	for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
		struct cron_spec spec = parse_ok(specs[i]);

		for (int64_t after = 1700000000; after < 4000000000;
		    after += 86400 * 97 + 1234)
			if (cron_next(&spec, after, &next) < 0 || next <= after)
				fail_msg("'%s' after %lld", specs[i],
				    (long long)after);
	}
	/* About 1200 answers, most of them months or years ahead. */
	assert_true(now_seconds() - t0 < 2.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_reads_fields_aliases_names_and_steps),
		cmocka_unit_test(test_parse_refusals_name_the_field_and_column),
		cmocka_unit_test(test_parse_refuses_text_over_256_bytes),
		cmocka_unit_test(test_parse_survives_random_text_and_what_it_accepts_fires),
		cmocka_unit_test(test_parse_truncation_at_every_byte_reads_or_refuses),
		cmocka_unit_test(test_next_in_utc),
		cmocka_unit_test(test_next_refuses_what_never_fires_quickly),
		cmocka_unit_test(test_next_across_berlin_summer_time),
		cmocka_unit_test(test_next_agrees_with_a_minute_by_minute_scan),
		cmocka_unit_test(test_next_answers_quickly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
