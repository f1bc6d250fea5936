/* Cron schedules: see cron.h. The parser works on the text in place, by
 * byte offsets, so that a message can give the column it is about. The
 * search works on local dates as day numbers and turns a local time into
 * Unix time only for the minutes that the masks let through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cron.h"

enum { CRON_MINUTE, CRON_HOUR, CRON_DOM, CRON_MONTH, CRON_DOW, CRON_FIELDS };

/* Past any value or step: longer digit strings stop counting here. */
#define CRON_NUMBER_BIG 1000

/* How much of the text, and of a number or name, a message shows. */
#define CRON_SHOW_TEXT  64
#define CRON_SHOW_TOKEN 24
#define CRON_SHOW_SIZE(n) ((n) * 4 + 4)

/* 400 Gregorian years repeat exactly, weekdays included. */
#define CRON_CYCLE_DAYS 146097

/* cron_next's after: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define CRON_AFTER_MIN INT64_C(-62135596800)
#define CRON_AFTER_MAX INT64_C(253402300799)

#define CRON_MINUTES_ALL ((UINT64_C(1) << 60) - 1)
#define CRON_HOURS_ALL   ((UINT32_C(1) << 24) - 1)
#define CRON_DOM_ALL     (UINT32_C(0xfffffffe))
#define CRON_MONTHS_ALL  ((uint16_t)0x1ffe)
#define CRON_DOW_ALL     ((uint8_t)0x7f)

struct cron_field {
	const char *name;		/* for messages */
	int lo, hi;			/* what a value may be */
	int star_hi;			/* where '*' and a/n end */
	const char *const *names;	/* names[i] is lo + i, or NULL */
	const char *use;		/* the hint after an unknown name */
};

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};
static const char *const cron_dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const struct cron_field cron_fields[CRON_FIELDS] = {
	{ "minute", 0, 59, 59, NULL, NULL },
	{ "hour", 0, 23, 23, NULL, NULL },
	{ "day of month", 1, 31, 31, NULL, NULL },
	{ "month", 1, 12, 12, cron_month_names, "jan-dec or 1-12" },
	/* 7 is Sunday too, but '*' stops at 6 so that Sunday counts once. */
	{ "day of week", 0, 7, 6, cron_dow_names, "sun-sat or 0-7" },
};

static const struct {
	const char *name;	/* after the '@' */
	const char *fields;
} cron_aliases[] = {
	{ "yearly", "0 0 1 1 *" },
	{ "annually", "0 0 1 1 *" },
	{ "monthly", "0 0 1 * *" },
	{ "weekly", "0 0 * * 0" },
	{ "daily", "0 0 * * *" },
	{ "midnight", "0 0 * * *" },
	{ "hourly", "0 * * * *" },
};

struct cron_parser {
	const char *text;	/* what the messages quote */
	size_t len;
	struct starry_err *err;
};

static int
cron_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
cron_is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
cron_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* s[0, n) for a message, max bytes of it at most: a message is one line,
 * so control and non-ASCII bytes read \t, \n, \xNN; "..." when cut. */
static void
cron_show(const char *s, size_t n, size_t max, char *buf, size_t size)
{
	size_t o = 0, k;
	char one[8];

	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			snprintf(one, sizeof one, "\\t");
		else if (c == '\n')
			snprintf(one, sizeof one, "\\n");
		else if (c == '\\')
			snprintf(one, sizeof one, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			snprintf(one, sizeof one, "\\x%02x", c);
		else
			snprintf(one, sizeof one, "%c", c);
		k = strlen(one);
		if (o + k + 4 > size)
			break;
		memcpy(buf + o, one, k);
		o += k;
	}
	if (n > max && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Fill p->err: "cron 'TEXT': [FIELD: ]message[ (column N)]". field is -1
 * for the text as a whole; pos, a byte offset, is SIZE_MAX for none. */
static int cron_fail(const struct cron_parser *p, int field, size_t pos,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
cron_fail(const struct cron_parser *p, int field, size_t pos,
    const char *fmt, ...)
{
	char text[CRON_SHOW_SIZE(CRON_SHOW_TEXT)], msg[512], col[32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cron_show(p->text, p->len, CRON_SHOW_TEXT, text, sizeof text);
	if (pos != SIZE_MAX)
		snprintf(col, sizeof col, " (column %zu)", pos + 1);
	return starry_err_set(p->err, EX_CONFIG, "cron '%s': %s%s%s%s", text,
	    field >= 0 ? cron_fields[field].name : "", field >= 0 ? ": " : "",
	    msg, col);
}

/* text[start, end) as a token in a message. */
static void
cron_token(const struct cron_parser *p, size_t start, size_t end, char *buf,
    size_t size)
{
	cron_show(p->text + start, end - start, CRON_SHOW_TOKEN, buf, size);
}

static int
cron_unexpected(const struct cron_parser *p, int f, size_t at)
{
	char c[CRON_SHOW_SIZE(1)];

	cron_token(p, at, at + 1, c, sizeof c);
	return cron_fail(p, f, at, "unexpected '%s'", c);
}

/* The number at *pos, digits only; CRON_NUMBER_BIG when larger. */
static int
cron_digits(const char *s, size_t *pos, size_t end)
{
	int v = 0;

	for (; *pos < end && cron_is_digit(s[*pos]); (*pos)++)
		if (v < CRON_NUMBER_BIG)
			v = v * 10 + (s[*pos] - '0');
	return v < CRON_NUMBER_BIG ? v : CRON_NUMBER_BIG;
}

/* A sign before a number ("+5", "-1") is refused rather than read as a
 * range's '-' or as garbage: it says what is wrong. */
static int
cron_signed(const struct cron_parser *p, size_t at, size_t end)
{
	return at + 1 < end && (p->text[at] == '+' || p->text[at] == '-') &&
	    cron_is_digit(p->text[at + 1]);
}

static int
cron_refuse_sign(const struct cron_parser *p, int f, size_t at, size_t end)
{
	char tok[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	size_t e = at + 1;

	(void)cron_digits(p->text, &e, end);
	cron_token(p, at, e, tok, sizeof tok);
	return cron_fail(p, f, at, "'%s': numbers take no sign", tok);
}

/* The name s[0, n) in names, in any case; its index, or -1. */
static int
cron_name_index(const char *s, size_t n, const char *const *names)
{
	size_t i, k;

	for (i = 0; names[i] != NULL; i++) {
		if (strlen(names[i]) != n)
			continue;
		for (k = 0; k < n; k++)
			if ((s[k] | 0x20) != names[i][k])
				break;
		if (k == n)
			return (int)i;
	}
	return -1;
}

/* A value of field f at *pos: a number or a name. range_end: after a
 * '-', where "sun" is 7 (so "fri-sun" is a range) and nothing there is
 * a missing number. */
static int
cron_value(const struct cron_parser *p, int f, size_t *pos, size_t end,
    int range_end, int *out)
{
	const struct cron_field *fd = &cron_fields[f];
	const char *s = p->text;
	char tok[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	size_t at = *pos;
	int v;

	if (cron_signed(p, at, end))
		return cron_refuse_sign(p, f, at, end);
	if (at < end && cron_is_digit(s[at])) {
		v = cron_digits(s, &at, end);
		if (v < fd->lo || v > fd->hi) {
			cron_token(p, *pos, at, tok, sizeof tok);
			return cron_fail(p, f, *pos, "%s is out of range %d-%d",
			    tok, fd->lo, fd->hi);
		}
	} else if (at < end && cron_is_letter(s[at])) {
		while (at < end && cron_is_letter(s[at]))
			at++;
		cron_token(p, *pos, at, tok, sizeof tok);
		if (fd->names == NULL)
			return cron_fail(p, f, *pos, "'%s' is not a number", tok);
		v = cron_name_index(s + *pos, at - *pos, fd->names);
		if (v < 0)
			return cron_fail(p, f, *pos, "unknown name '%s' (use %s)",
			    tok, fd->use);
		v += fd->lo;
		if (f == CRON_DOW && v == 0 && range_end)
			v = 7;
	} else if (range_end) {
		return cron_fail(p, f, at, "expected a number after '-'");
	} else {
		return cron_unexpected(p, f, at);
	}
	*out = v;
	*pos = at;
	return 0;
}

/* The step after a '/' at *pos. */
static int
cron_step(const struct cron_parser *p, int f, size_t *pos, size_t end,
    int *out)
{
	char tok[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	size_t at = *pos;

	if (cron_signed(p, at, end))
		return cron_refuse_sign(p, f, at, end);
	if (at < end && cron_is_digit(p->text[at])) {
		*out = cron_digits(p->text, &at, end);
		*pos = at;
		return 0;
	}
	if (at < end && cron_is_letter(p->text[at])) {
		while (at < end && cron_is_letter(p->text[at]))
			at++;
		cron_token(p, *pos, at, tok, sizeof tok);
		return cron_fail(p, f, *pos, "step '%s' is not a number", tok);
	}
	return cron_fail(p, f, at, "expected a step after '/'");
}

/* One list item of field f at *pos (not at the end, not at a ','):
 * '*', a, a-b, each with an optional /step. Sets its values in *bits. */
static int
cron_item(const struct cron_parser *p, int f, size_t *pos, size_t end,
    uint64_t *bits)
{
	const struct cron_field *fd = &cron_fields[f];
	const char *s = p->text;
	char tok[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	size_t at = *pos, step_at;
	int lo, hi, step = 1, single = 0;

	if (s[at] == '*') {
		lo = fd->lo;
		hi = fd->star_hi;
		at++;
	} else {
		if (cron_value(p, f, &at, end, 0, &lo) < 0)
			return -1;
		hi = lo;
		single = 1;
		if (at < end && s[at] == '-') {
			at++;
			if (cron_value(p, f, &at, end, 1, &hi) < 0)
				return -1;
			if (hi < lo) {
				cron_token(p, *pos, at, tok, sizeof tok);
				return cron_fail(p, f, *pos,
				    "range %s is reversed", tok);
			}
			single = 0;
		}
	}
	if (at < end && s[at] == '/') {
		at++;
		if (single) {
			/* a/n runs on to where '*' ends; 7/n is Sunday's. */
			if (lo > fd->star_hi)
				lo = fd->lo;
			hi = fd->star_hi;
		}
		step_at = at;
		if (cron_step(p, f, &at, end, &step) < 0)
			return -1;
		if (step == 0)
			return cron_fail(p, f, step_at, "step 0 is not allowed");
		if (step > hi - lo + 1) {
			cron_token(p, step_at, at, tok, sizeof tok);
			return cron_fail(p, f, step_at,
			    "step %s is larger than the range %d-%d", tok, lo, hi);
		}
	}
	for (int v = lo; v <= hi; v += step)
		*bits |= UINT64_C(1) << v;
	*pos = at;
	return 0;
}

/* Field f, text[start, end): a list of items apart by ','. */
static int
cron_field(const struct cron_parser *p, int f, size_t start, size_t end,
    uint64_t *bits)
{
	size_t at = start;

	*bits = 0;
	for (;;) {
		if (at == end || p->text[at] == ',')
			return cron_fail(p, f, at, "empty list item");
		if (cron_item(p, f, &at, end, bits) < 0)
			return -1;
		if (at == end)
			return 0;
		if (p->text[at] != ',')
			return cron_unexpected(p, f, at);
		at++;
	}
}

/* Where the fields of p's text start and end (the first CRON_FIELDS + 1
 * of them); returns how many there are. */
static int
cron_split(const struct cron_parser *p, size_t *start, size_t *end)
{
	size_t i = 0;
	int n = 0;

	while (i < p->len) {
		if (cron_is_blank(p->text[i])) {
			i++;
			continue;
		}
		if (n <= CRON_FIELDS)
			start[n] = i;
		while (i < p->len && !cron_is_blank(p->text[i]))
			i++;
		if (n <= CRON_FIELDS)
			end[n] = i;
		n++;
	}
	return n;
}

/* The fields an @ alias stands for, the alias being text[start, end). */
static int
cron_alias(const struct cron_parser *p, size_t start, size_t end, int n,
    size_t next, const char **fields)
{
	const char *name = p->text + start + 1;
	size_t len = end - start - 1;
	char tok[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];

	cron_token(p, start, end, tok, sizeof tok);
	if (len == 6 && memcmp(name, "reboot", 6) == 0)
		return cron_fail(p, -1, SIZE_MAX, "@reboot is not a timer; "
		    "use every: or a start-up rule instead");
	for (size_t i = 0; i < sizeof cron_aliases / sizeof *cron_aliases; i++) {
		if (strlen(cron_aliases[i].name) != len ||
		    memcmp(cron_aliases[i].name, name, len) != 0)
			continue;
		if (n > 1)
			return cron_fail(p, -1, next, "expected nothing after %s",
			    tok);
		*fields = cron_aliases[i].fields;
		return 0;
	}
	return cron_fail(p, -1, SIZE_MAX, "unknown '%s' (use @yearly, @annually, "
	    "@monthly, @weekly, @daily, @midnight or @hourly)", tok);
}

/* Whether one of the months has one of the days of month (February with
 * 29). */
static int
cron_days_exist(const struct cron_spec *s)
{
	static const int mdays[13] = {
		0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	for (int m = 1; m <= 12; m++)
		if ((s->month >> m & 1) &&
		    (s->dom & ((UINT64_C(1) << (mdays[m] + 1)) - 2)) != 0)
			return 1;
	return 0;
}

int
cron_parse(const char *text, struct cron_spec *out, struct starry_err *err)
{
	struct cron_parser p = { text, strnlen(text, CRON_TEXT_MAX + 1), err };
	struct cron_parser expanded;
	const struct cron_parser *q = &p;
	size_t start[CRON_FIELDS + 1], end[CRON_FIELDS + 1];
	char dom[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	char month[CRON_SHOW_SIZE(CRON_SHOW_TOKEN)];
	uint64_t bits[CRON_FIELDS];
	struct cron_spec spec;
	const char *fields = NULL;
	int n;

	if (p.len > CRON_TEXT_MAX)
		return cron_fail(&p, -1, SIZE_MAX, "longer than %d bytes",
		    CRON_TEXT_MAX);
	n = cron_split(&p, start, end);
	if (n > 0 && text[start[0]] == '@') {
		if (cron_alias(&p, start[0], end[0], n,
		    n > 1 ? start[1] : SIZE_MAX, &fields) < 0)
			return -1;
		expanded = (struct cron_parser){ fields, strlen(fields), err };
		q = &expanded;
		n = cron_split(q, start, end);
	}
	if (n > CRON_FIELDS)
		return cron_fail(&p, -1, start[CRON_FIELDS],
		    "expected 5 fields, got %d", n);
	if (n < CRON_FIELDS)
		return cron_fail(&p, -1, SIZE_MAX, "expected 5 fields, got %d", n);
	for (int f = 0; f < CRON_FIELDS; f++)
		if (cron_field(q, f, start[f], end[f], &bits[f]) < 0)
			return -1;
	if (bits[CRON_DOW] >> 7 & 1)
		bits[CRON_DOW] |= 1;
	spec = (struct cron_spec){
		.minute = bits[CRON_MINUTE],
		.hour = (uint32_t)bits[CRON_HOUR],
		.dom = (uint32_t)bits[CRON_DOM],
		.month = (uint16_t)bits[CRON_MONTH],
		.dow = (uint8_t)(bits[CRON_DOW] & CRON_DOW_ALL),
		.dom_any = q->text[start[CRON_DOM]] == '*',
		.dow_any = q->text[start[CRON_DOW]] == '*',
	};
	if ((spec.dom_any || spec.dow_any) && !cron_days_exist(&spec)) {
		cron_token(q, start[CRON_DOM], end[CRON_DOM], dom, sizeof dom);
		cron_token(q, start[CRON_MONTH], end[CRON_MONTH], month,
		    sizeof month);
		return cron_fail(q, CRON_DOM, start[CRON_DOM], "no month in '%s' "
		    "has a day in '%s', so this never fires", month, dom);
	}
	*out = spec;
	return 0;
}

/* ---- the next time ------------------------------------------------------ */

/* Days since 1970-01-01 of a date in the proleptic Gregorian calendar,
 * and back (Howard Hinnant's days_from_civil and civil_from_days). */
static int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* 0 for Sunday; 1970-01-01 was a Thursday. */
static int
cron_weekday(int64_t day)
{
	int64_t w = (day + 4) % 7;

	return (int)(w < 0 ? w + 7 : w);
}

static int
cron_month_days(int64_t y, int m)
{
	static const int mdays[13] = {
		0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return mdays[m];
}

static int
cron_day_fires(const struct cron_spec *spec, int mday, int wday)
{
	int dom = spec->dom >> mday & 1, dow = spec->dow >> wday & 1;

	if (spec->dom_any || spec->dow_any)
		return dom && dow;
	return dom || dow;
}

static int
cron_offset_at(int64_t t, long *off)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return -1;
	*off = tm.tm_gmtoff;
	return 0;
}

/* The first instant at which the local clock reads `local` (seconds since
 * 1970-01-01 00:00 on that clock), or -1 when it never does (a gap). Such
 * an instant t has t + offset(t) == local, and offsets lie within 16
 * hours of UTC; so the offsets in effect within 16 hours of local, probed
 * every 8 (no zone changes twice in less), are all there is to try. */
static int
cron_local_first(int64_t local, int64_t *out)
{
	static const int probe_hours[] = { -16, -8, 0, 8, 16 };
	long seen[sizeof probe_hours / sizeof *probe_hours], off, check;
	size_t nseen = 0, i, k;
	int64_t t, first = INT64_MAX;

	for (i = 0; i < sizeof probe_hours / sizeof *probe_hours; i++) {
		if (cron_offset_at(local + probe_hours[i] * 3600, &off) < 0)
			return -1;
		for (k = 0; k < nseen && seen[k] != off; k++)
			;
		if (k < nseen)
			continue;
		seen[nseen++] = off;
		t = local - off;
		if (cron_offset_at(t, &check) < 0)
			return -1;
		if (check == off && t < first)
			first = t;
	}
	if (first == INT64_MAX)
		return -1;
	*out = first;
	return 0;
}

/* The first time on day (a local date) from h:m on at which spec fires and
 * which is after `after`. */
static int
cron_day_next(const struct cron_spec *spec, int64_t day, int h, int m,
    int64_t after, int64_t *next)
{
	uint64_t left;
	int64_t t;
	int min;

	for (; h < 24; h++, m = 0) {
		if (!(spec->hour >> h & 1))
			continue;
		left = spec->minute & CRON_MINUTES_ALL & (UINT64_MAX << m);
		for (; left != 0; left &= left - 1) {
			min = __builtin_ctzll(left);
			if (cron_local_first(day * 86400 + h * 3600 + min * 60,
			    &t) == 0 && t > after) {
				*next = t;
				return 0;
			}
		}
	}
	return -1;
}

int
cron_next(const struct cron_spec *spec, int64_t after, int64_t *next)
{
	int64_t day, last, y;
	time_t t = (time_t)after;
	struct tm tm;
	int mon, mday, h, m;

	if (after < CRON_AFTER_MIN || after > CRON_AFTER_MAX)
		return -1;
	if ((spec->minute & CRON_MINUTES_ALL) == 0 ||
	    (spec->hour & CRON_HOURS_ALL) == 0 ||
	    (spec->month & CRON_MONTHS_ALL) == 0 ||
	    ((spec->dom & CRON_DOM_ALL) == 0 && (spec->dow & CRON_DOW_ALL) == 0))
		return -1;
	tzset();
	if (localtime_r(&t, &tm) == NULL)
		return -1;
	/* Local times go in the clock's order from the minute after after's
	 * own: one that comes earlier on the clock but later in fact (the
	 * repeated hour) occurred first before after. */
	day = cron_days_from_civil(tm.tm_year + INT64_C(1900), tm.tm_mon + 1,
	    tm.tm_mday);
	h = tm.tm_hour;
	m = tm.tm_min + 1;	/* 60 is no minute: the loop moves on */
	for (last = day + CRON_CYCLE_DAYS; day <= last; day++, h = 0, m = 0) {
		cron_civil_from_days(day, &y, &mon, &mday);
		if (!(spec->month >> mon & 1)) {
			day += cron_month_days(y, mon) - mday;
			continue;
		}
		if (cron_day_fires(spec, mday, cron_weekday(day)) &&
		    cron_day_next(spec, day, h, m, after, next) == 0)
			return 0;
	}
	return -1;
}
