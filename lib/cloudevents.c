/* CloudEvents 1.0 structured mode, both ways: see cloudevents.h.
 * Lines are rebuilt from raw slices of the input (jscan), so payloads and
 * extensions keep their exact bytes; no json_t is built, taken or
 * returned. Returned lines are malloc'd and belong to the caller. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudevents.h"
#include "event.h"
#include "jscan.h"
#include "uuid.h"

#define MS_PER_DAY 86400000LL
#define SHOW_MAX 64		/* bytes of a bad value quoted in a message */

/* A growing output line; after a failed allocation every add is a no-op
 * and out_finish reports it. */
struct out {
	char *p;
	size_t len, cap;
	bool failed;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	size_t cap;
	char *p;

	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		cap = o->cap ? o->cap : 512;
		while (cap < o->len + n + 1)
			cap *= 2;
		p = realloc(o->p, cap);
		if (p == NULL) {
			o->failed = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

static void
out_int(struct out *o, long long v)
{
	char num[32];

	snprintf(num, sizeof num, "%lld", v);
	out_str(o, num);
}

/* A JSON string body (without quotes) between quotes, as it is. */
static void
out_quoted_raw(struct out *o, const char *p, size_t n)
{
	out_add(o, "\"", 1);
	out_add(o, p, n);
	out_add(o, "\"", 1);
}

/* Plain bytes (valid UTF-8) as a JSON string. */
static void
out_json_string(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t i, from = 0;
	unsigned char c;

	out_add(o, "\"", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_add(o, s + from, i - from);
		from = i + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			out_add(o, esc, 2);
			esc[1] = 'u';
		} else {
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			out_add(o, esc, 6);
		}
	}
	out_add(o, s + from, n - from);
	out_add(o, "\"", 1);
}

static char *
out_finish(struct out *o, size_t *outlen, struct starry_err *err)
{
	out_add(o, "\n", 1);
	if (o->failed) {
		free(o->p);
		errno = ENOMEM;
		starry_err_sys(err, EX_OSERR, "cloudevents");
		return NULL;
	}
	if (outlen != NULL)
		*outlen = o->len;
	return o->p;
}

/* Valid JSON text without the white space between its tokens, so that
 * the line stays one line whatever the layout of the input. */
static void
out_compact(struct out *o, const char *p, size_t n)
{
	size_t i, from = 0;
	bool in_string = false;

	for (i = 0; i < n; i++) {
		if (in_string) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				in_string = false;
		} else if (p[i] == '"') {
			in_string = true;
		} else if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'
		    || p[i] == '\n') {
			out_add(o, p + from, i - from);
			from = i + 1;
		}
	}
	out_add(o, p + from, n - from);
}

/* The JSON text of a scanned value (strings with their quotes). */
static void
out_value(struct out *o, const struct jscan_value *v)
{
	if (v->kind == JSCAN_STRING)
		out_quoted_raw(o, v->p, v->len);
	else
		out_compact(o, v->p, v->len);
}

/* A bad value for a message: its JSON text, cut at SHOW_MAX bytes on a
 * UTF-8 boundary with "..." after. */
static void
show_value(const struct jscan_value *v, char *buf, size_t cap)
{
	const char *q = v->kind == JSCAN_STRING ? "\"" : "";
	size_t n = v->len;
	bool cut = false;

	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)v->p[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	snprintf(buf, cap, "%s%.*s%s%s", q, (int)n, v->p, cut ? "..." : "", q);
}

/* A string value decoded into buf[cap] and NUL-terminated: its length,
 * or -1 when v is not a string or does not fit. */
static long
string_value(const struct jscan_value *v, char *buf, size_t cap)
{
	long n;

	if (v->kind != JSCAN_STRING)
		return -1;
	if (!v->escaped) {
		if (v->len >= cap)
			return -1;
		memcpy(buf, v->p, v->len);
		buf[v->len] = '\0';
		return (long)v->len;
	}
	n = jscan_unescape(v->p, v->len, buf, cap);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	buf[n] = '\0';
	return n;
}

/* ---- RFC 3339 ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm and no TZ. */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static void
civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
	long long era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

void
cloudevent_format_time(long long ms, char out[32])
{
	long long days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY, y;
	unsigned m, d, sec;
	char tmp[64];
	size_t n;

	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	sec = (unsigned)(rem / 1000);
	/* The widest year of a long long of ms has 9 digits and a sign, so
	 * the text always fits in 32; tmp only quiets the compiler's worst
	 * case. */
	snprintf(tmp, sizeof tmp, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y,
	    m, d, sec / 3600, sec / 60 % 60, sec % 60, (unsigned)(rem % 1000));
	n = strnlen(tmp, 31);
	memcpy(out, tmp, n);
	out[n] = '\0';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* n decimal digits at s into *v. */
static bool
digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
	static const unsigned char dim[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dim[m - 1];
}

/* The "Z" or "+hh:mm" at s[0..n): minutes east of UTC. */
static int
parse_offset(const char *s, size_t n, long long *minutes)
{
	unsigned oh, om;

	if (n == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*minutes = 0;
		return 0;
	}
	if (n != 6 || (s[0] != '+' && s[0] != '-') || !digits(s + 1, 2, &oh)
	    || s[3] != ':' || !digits(s + 4, 2, &om) || oh > 23 || om > 59)
		return -1;
	*minutes = (s[0] == '-' ? -1 : 1) * (long long)(oh * 60 + om);
	return 0;
}

int
cloudevent_parse_time(const char *s, size_t len, long long *ms)
{
	unsigned y, mo, d, h, mi, sec, frac = 0;
	size_t i = 19, start;
	long long off, minutes;

	/* YYYY-MM-DDTHH:MM:SS[.F+](Z|+hh:mm) */
	if (len < 20 || !digits(s, 4, &y) || s[4] != '-'
	    || !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d)
	    || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h)
	    || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':'
	    || !digits(s + 17, 2, &sec))
		return -1;
	if (s[i] == '.') {
		start = ++i;
		for (; i < len && is_digit(s[i]); i++)
			if (i - start < 3)
				frac = frac * 10 + (unsigned)(s[i] - '0');
		if (i == start)
			return -1;
		for (; i - start < 3; start--)
			frac *= 10;
	}
	if (parse_offset(s + i, len - i, &off) < 0)
		return -1;
	/* Second 60 is a leap second (RFC 3339 5.7); it counts as :00 of the
	 * next minute, since Unix time has no room for it. */
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23
	    || mi > 59 || sec > 60)
		return -1;
	minutes = days_from_civil(y, mo, d) * 1440 + h * 60 + mi - off;
	*ms = (minutes * 60 + sec) * 1000 + frac;
	return 0;
}

/* ---- traceparent ---- */

static bool
is_lower_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool
is_hex(char c)
{
	return is_lower_hex(c) || (c >= 'A' && c <= 'F');
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
all_lower_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

static bool
all_zero(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != '0')
			return false;
	return true;
}

/* A stable 64-bit hash: FNV-1a with a final mix (splitmix64), the same
 * on every host. */
static uint64_t
stable_hash(const char *s, size_t n, uint64_t h)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static void
hex64(uint64_t v, char *out)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for (i = 15; i >= 0; i--) {
		out[i] = hex[v & 15];
		v >>= 4;
	}
}

#define HASH_BASIS 0xcbf29ce484222325ULL

/* The hex digits of s when it is a UUID (8-4-4-4-12, either case) or 32
 * hex digits, lowercased into out[32]; else false. */
static bool
uuid_hex(const char *s, size_t n, char *out)
{
	size_t i, k = 0;

	if (n != 32 && n != 36)
		return false;
	for (i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return false;
		} else if (is_hex(s[i])) {
			out[k++] = lower(s[i]);
		} else {
			return false;
		}
	}
	return !all_zero(out, 32);
}

/* "8-4-4-4-12" of 32 lowercase hex digits into out[37]. */
static void
uuid_form(const char *hex, char *out)
{
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
}

/* The W3C trace-id for a starry traceId into out[32]. Returns whether the
 * traceId must travel in the "traceid" extension too: whenever the
 * dashed form of the trace-id would not give it back. */
static bool
trace_hex(const char *t, size_t n, char *out)
{
	char back[37];

	if (uuid_hex(t, n, out)) {
		uuid_form(out, back);
		return n != 36 || memcmp(back, t, 36) != 0;
	}
	hex64(stable_hash(t, n, HASH_BASIS), out);
	hex64(stable_hash(t, n, HASH_BASIS ^ 0x9e3779b97f4a7c15ULL), out + 16);
	if (all_zero(out, 32))
		out[31] = '1';
	return true;
}

/* The W3C parent-id (span) for an event id into out[16]: the first 16 hex
 * digits of an id made of hex digits and dashes, else a stable hash. */
static void
span_hex(const char *id, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n && k < 16; i++) {
		if (is_hex(id[i]))
			out[k++] = lower(id[i]);
		else if (id[i] != '-')
			break;
	}
	if (k == 16 && !all_zero(out, 16))
		return;
	hex64(stable_hash(id, n, HASH_BASIS), out);
	if (all_zero(out, 16))
		out[15] = '1';
}

/* A traceparent "VV-<32>-<16>-FF": its trace-id into out[32]. Versions
 * after 00 may carry more after a '-'; ff is invalid. */
static int
traceparent_trace(const char *s, size_t n, char *out)
{
	if (n < 55 || !all_lower_hex(s, 2) || memcmp(s, "ff", 2) == 0
	    || s[2] != '-' || !all_lower_hex(s + 3, 32) || s[35] != '-'
	    || !all_lower_hex(s + 36, 16) || s[52] != '-'
	    || !all_lower_hex(s + 53, 2) || all_zero(s + 3, 32)
	    || all_zero(s + 36, 16))
		return -1;
	if (n > 55 && (memcmp(s, "00", 2) == 0 || s[55] != '-'))
		return -1;
	memcpy(out, s + 3, 32);
	return 0;
}

/* ---- types ---- */

/* Whether a CloudEvents type needs CLOUDEVENT_TYPE_NAMESPACE in front to
 * be a starry NAMESPACE:NAME. */
static bool
type_needs_namespace(const char *t, size_t n)
{
	const char *colon = n > 0 ? memchr(t, ':', n) : NULL;

	/* event_scan_line's rule: the first ':' has text on both sides. */
	return colon == NULL || colon == t || colon == t + n - 1;
}

static bool
has_space_or_control(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

/* ---- starry -> CloudEvents ---- */

static bool
key_is(const struct jscan_value *key, const char *name)
{
	return jscan_string_equals(key->p, key->len, key->escaped, name);
}

/* The first of names that key is, or NULL. */
static const char *
key_in(const struct jscan_value *key, const char *const *names)
{
	for (; *names != NULL; names++)
		if (key_is(key, *names))
			return *names;
	return NULL;
}

static const char *const envelope_fields[] = {
	"id", "timestamp", "traceId", "parentId", "source", "sessionId",
	"priority", "type", "payload", NULL,
};

/* Attributes cloudevent_from_line writes itself, so a starry member with
 * one of these names would be written twice. */
static const char *const ce_written[] = {
	"specversion", "time", "datacontenttype", "data", "data_base64",
	"traceparent", "traceid", "sessionid", "causationid", NULL,
};

struct extras {
	struct out *out;
	struct starry_err *err;
	bool failed;
};

static int
starry_extra_member(void *vctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why)
{
	struct extras *x = vctx;
	const char *name;

	if (key_in(key, envelope_fields) != NULL)
		return 0;
	name = key_in(key, ce_written);
	if (name != NULL) {
		starry_err_set(x->err, EX_DATAERR, "member \"%s\" collides "
		    "with a CloudEvents attribute", name);
		x->failed = true;
		*why = "member collides with a CloudEvents attribute";
		return -1;
	}
	out_add(x->out, ",", 1);
	out_quoted_raw(x->out, key->p, key->len);
	out_add(x->out, ":", 1);
	out_value(x->out, value);
	return 0;
}

static char *
copy_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err)
{
	struct out o = { 0 };

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	out_add(&o, line, len);
	return out_finish(&o, outlen, err);
}

static void
out_event_str(struct out *o, const struct event_str *s)
{
	out_quoted_raw(o, s->p, s->len);
}

/* The starry type as a CloudEvents type: "ce:" taken off when
 * cloudevent_to_line would put it back. */
static void
out_ce_type(struct out *o, const char *t, size_t n, const struct event_str *raw)
{
	size_t ns = strlen(CLOUDEVENT_TYPE_NAMESPACE);

	if (n > ns && memcmp(t, CLOUDEVENT_TYPE_NAMESPACE, ns) == 0
	    && type_needs_namespace(t + ns, n - ns))
		out_json_string(o, t + ns, n - ns);
	else
		out_event_str(o, raw);
}

/* "00-<trace-id>-<parent-id>-01" for the event into tp[56]; *ext says
 * whether the traceId must travel as "traceid" too. */
static int
traceparent_for(const struct event_view *v, char *tp, bool *ext)
{
	char id[EVENT_MAX_FIELD * 4 + 1], trace[EVENT_MAX_FIELD * 4 + 1];
	long idn, tn;

	idn = event_str_copy(&v->id, id, sizeof id);
	tn = event_str_copy(&v->trace_id, trace, sizeof trace);
	if (idn < 0 || tn < 0)
		return -1;	/* the scan bounds both: cannot happen */
	memcpy(tp, "00-", 3);
	*ext = trace_hex(trace, (size_t)tn, tp + 3);
	tp[35] = '-';
	span_hex(id, (size_t)idn, tp + 36);
	memcpy(tp + 52, "-01", 4);
	return 0;
}

char *
cloudevent_from_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err)
{
	struct event_view v;
	struct out o = { 0 };
	struct extras x = { &o, err, false };
	struct jscan_value top;
	struct jscan_error jerr;
	char type[EVENT_MAX_FIELD * 4 + 1], tp[64], time[32];
	long typen;
	bool trace_ext;

	if (event_scan_line(line, len, EVENT_LENIENT, &v, err) < 0)
		return NULL;
	if (v.cloudevent)
		return copy_line(line, len, outlen, err);
	if (v.timestamp > CLOUDEVENT_TIME_MAX_MS) {
		starry_err_set(err, EX_DATAERR, "field \"timestamp\": %lld is "
		    "after 9999-12-31T23:59:59.999Z, beyond RFC 3339",
		    (long long)v.timestamp);
		return NULL;
	}
	typen = event_str_copy(&v.type, type, sizeof type);
	if (typen < 0 || traceparent_for(&v, tp, &trace_ext) < 0) {
		starry_err_set(err, EX_DATAERR, "field too long");
		return NULL;
	}
	cloudevent_format_time(v.timestamp, time);

	out_str(&o, "{\"specversion\":\"1.0\",\"id\":");
	out_event_str(&o, &v.id);
	out_str(&o, ",\"source\":");
	out_event_str(&o, &v.source);
	out_str(&o, ",\"type\":");
	out_ce_type(&o, type, (size_t)typen, &v.type);
	out_str(&o, ",\"time\":\"");
	out_str(&o, time);
	out_str(&o, "\",\"datacontenttype\":\"application/json\",\"data\":");
	out_compact(&o, v.payload, v.payload_len);
	out_str(&o, ",\"traceparent\":\"");
	out_str(&o, tp);
	out_str(&o, "\"");
	if (trace_ext) {
		out_str(&o, ",\"traceid\":");
		out_event_str(&o, &v.trace_id);
	}
	out_str(&o, ",\"sessionid\":");
	out_event_str(&o, &v.session_id);
	out_str(&o, ",\"priority\":");
	out_int(&o, v.priority);
	if (v.has_parent) {
		out_str(&o, ",\"causationid\":");
		out_event_str(&o, &v.parent_id);
	}
	if (jscan_document(line, len, &top, starry_extra_member, &x, &jerr) < 0) {
		if (!x.failed)
			starry_err_set(err, EX_DATAERR, "invalid JSON at byte "
			    "%zu: %s", jerr.offset, jerr.why);
		free(o.p);
		return NULL;
	}
	out_add(&o, "}", 1);
	return out_finish(&o, outlen, err);
}

/* ---- CloudEvents -> starry ---- */

enum ce_attr {
	CE_SPECVERSION, CE_ID, CE_SOURCE, CE_TYPE, CE_TIME, CE_DATA,
	CE_DATA_BASE64, CE_DATACONTENTTYPE, CE_TRACEID, CE_TRACEPARENT,
	CE_SESSIONID, CE_PRIORITY, CE_CAUSATIONID, CE_NATTR
};

static const char *const ce_attr_name[CE_NATTR] = {
	"specversion", "id", "source", "type", "time", "data", "data_base64",
	"datacontenttype", "traceid", "traceparent", "sessionid", "priority",
	"causationid",
};

/* starry envelope names that are not CloudEvents attributes: an
 * extension with one of them would be written twice. */
static const char *const starry_only[] = {
	"timestamp", "traceId", "parentId", "sessionId", "payload", NULL,
};

struct ce_in {
	struct jscan_value attr[CE_NATTR];
	bool seen[CE_NATTR];
	struct out *rest;	/* ",key:value" of the other members */
	struct starry_err *err;
	bool failed;
};

static int
ce_member(void *vctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why)
{
	struct ce_in *in = vctx;
	const char *name;
	int a;

	for (a = 0; a < CE_NATTR; a++)
		if (key_is(key, ce_attr_name[a]))
			break;
	if (a == CE_DATA_BASE64) {
		starry_err_set(in->err, EX_DATAERR,
		    "data_base64 is not supported");
		goto stop;
	}
	if (a < CE_NATTR) {
		if (in->seen[a]) {
			starry_err_set(in->err, EX_DATAERR,
			    "duplicate attribute \"%s\"", ce_attr_name[a]);
			goto stop;
		}
		in->seen[a] = true;
		in->attr[a] = *value;
		return 0;
	}
	name = key_in(key, starry_only);
	if (name != NULL) {
		starry_err_set(in->err, EX_DATAERR, "attribute \"%s\" collides "
		    "with a starry envelope field", name);
		goto stop;
	}
	out_add(in->rest, ",", 1);
	out_quoted_raw(in->rest, key->p, key->len);
	out_add(in->rest, ":", 1);
	out_value(in->rest, value);
	return 0;
stop:
	in->failed = true;
	*why = in->err != NULL ? in->err->msg : "bad attribute";
	return -1;
}


/* What ce_check found, for ce_write. */
struct ce_fields {
	long long ms;
	int priority;
	bool type_namespace;	/* the type gets CLOUDEVENT_TYPE_NAMESPACE */
	char trace[37];		/* traceId when there is no traceid */
};

/* A string attribute: present when required, a non-empty string without
 * NUL (event_scan_line refuses those), and at most EVENT_MAX_FIELD bytes
 * when limited. */
static int
ce_check_string(const struct ce_in *in, enum ce_attr a, bool required,
    bool limited, struct starry_err *err)
{
	const struct jscan_value *v = &in->attr[a];
	bool nul = false;
	size_t n;

	if (!in->seen[a])
		return required ? starry_err_set(err, EX_DATAERR,
		    "missing attribute \"%s\"", ce_attr_name[a]) : 0;
	n = v->kind != JSCAN_STRING ? 0 : !v->escaped ? v->len
	    : jscan_decoded_length(v->p, v->len, &nul);
	if (limited && (n == 0 || n > EVENT_MAX_FIELD))
		return starry_err_set(err, EX_DATAERR, "attribute \"%s\": "
		    "expected a non-empty string of at most %d bytes",
		    ce_attr_name[a], EVENT_MAX_FIELD);
	if (n == 0)
		return starry_err_set(err, EX_DATAERR, "attribute \"%s\": "
		    "expected a non-empty string", ce_attr_name[a]);
	if (nul)
		return starry_err_set(err, EX_DATAERR, "attribute \"%s\": "
		    "contains a NUL character", ce_attr_name[a]);
	return 0;
}

static int
ce_check_specversion(const struct ce_in *in, struct starry_err *err)
{
	const struct jscan_value *v = &in->attr[CE_SPECVERSION];

	if (!in->seen[CE_SPECVERSION])
		return starry_err_set(err, EX_DATAERR,
		    "missing attribute \"specversion\"");
	if (v->kind != JSCAN_STRING
	    || !jscan_string_equals(v->p, v->len, v->escaped, "1.0"))
		return starry_err_set(err, EX_DATAERR,
		    "attribute \"specversion\": expected \"1.0\"");
	return 0;
}

/* The type must make a starry NAMESPACE:NAME, with or without
 * CLOUDEVENT_TYPE_NAMESPACE in front. */
static int
ce_check_type(const struct ce_in *in, bool *ns, struct starry_err *err)
{
	char t[EVENT_MAX_FIELD * 6 + 1];
	long n;

	if (ce_check_string(in, CE_TYPE, true, false, err) < 0)
		return -1;
	n = string_value(&in->attr[CE_TYPE], t, sizeof t);
	*ns = n >= 0 && type_needs_namespace(t, (size_t)n);
	if (n < 0 || (size_t)n + (*ns ? strlen(CLOUDEVENT_TYPE_NAMESPACE) : 0)
	    > EVENT_MAX_FIELD)
		return starry_err_set(err, EX_DATAERR, "attribute \"type\": "
		    "longer than %d bytes as a starry type", EVENT_MAX_FIELD);
	if (has_space_or_control(t, (size_t)n))
		return starry_err_set(err, EX_DATAERR, "attribute \"type\": "
		    "white space or a control character");
	return 0;
}

static int
ce_check_time(const struct ce_in *in, long long *ms, struct starry_err *err)
{
	const struct jscan_value *v = &in->attr[CE_TIME];
	char show[SHOW_MAX + 8];
	char *buf;
	long n;
	int rc;

	if (!in->seen[CE_TIME]) {
		*ms = event_now_ms();
		return 0;
	}
	if (v->kind != JSCAN_STRING)
		return starry_err_set(err, EX_DATAERR,
		    "attribute \"time\": expected a string");
	if (!v->escaped) {
		rc = cloudevent_parse_time(v->p, v->len, ms);
	} else {
		buf = malloc(v->len + 1);
		if (buf == NULL)
			return starry_err_sys(err, EX_OSERR, "cloudevents");
		n = jscan_unescape(v->p, v->len, buf, v->len + 1);
		rc = n < 0 ? -1 : cloudevent_parse_time(buf, (size_t)n, ms);
		free(buf);
	}
	show_value(v, show, sizeof show);
	if (rc < 0)
		return starry_err_set(err, EX_DATAERR,
		    "attribute \"time\": not RFC 3339: %s", show);
	if (*ms <= 0)
		return starry_err_set(err, EX_DATAERR, "attribute \"time\": "
		    "not after 1970-01-01T00:00:00Z: %s", show);
	return 0;
}

/* traceid wins; else traceparent's trace-id, dashed; else a fresh UUID
 * v4 into trace[37]. A traceparent present is checked either way. */
static int
ce_check_trace(const struct ce_in *in, char *trace, struct starry_err *err)
{
	const struct jscan_value *v = &in->attr[CE_TRACEPARENT];
	char tp[128], hex[32], show[SHOW_MAX + 8];
	long n;

	trace[0] = '\0';
	if (in->seen[CE_TRACEPARENT]) {
		n = string_value(v, tp, sizeof tp);
		if (n < 0 || traceparent_trace(tp, (size_t)n, hex) < 0) {
			show_value(v, show, sizeof show);
			return starry_err_set(err, EX_DATAERR, "attribute "
			    "\"traceparent\": not a W3C traceparent: %s", show);
		}
	}
	if (in->seen[CE_TRACEID])
		return ce_check_string(in, CE_TRACEID, false, true, err);
	if (in->seen[CE_TRACEPARENT])
		uuid_form(hex, trace);
	else if (uuid_v4(trace) < 0)
		return starry_err_sys(err, EX_OSERR, "uuid");
	return 0;
}

static int
ce_check_priority(const struct ce_in *in, int *priority,
    struct starry_err *err)
{
	const struct jscan_value *v = &in->attr[CE_PRIORITY];
	char c;

	*priority = EVENT_PRIORITY_DEFAULT;
	if (!in->seen[CE_PRIORITY])
		return 0;
	c = v->len == 1 ? v->p[0] : 0;
	/* Extension values often travel as strings: "2" is taken too. */
	if ((v->kind != JSCAN_NUMBER && v->kind != JSCAN_STRING)
	    || c < '0' || c > '0' + EVENT_PRIORITY_MAX)
		return starry_err_set(err, EX_DATAERR, "attribute \"priority\": "
		    "expected an integer 0..%d", EVENT_PRIORITY_MAX);
	*priority = c - '0';
	return 0;
}

static int
ce_check(const struct ce_in *in, struct ce_fields *f, struct starry_err *err)
{
	if (ce_check_specversion(in, err) < 0
	    || ce_check_string(in, CE_ID, true, true, err) < 0
	    || ce_check_string(in, CE_SOURCE, true, false, err) < 0
	    || ce_check_type(in, &f->type_namespace, err) < 0
	    || ce_check_time(in, &f->ms, err) < 0
	    || ce_check_trace(in, f->trace, err) < 0
	    || ce_check_string(in, CE_SESSIONID, false, false, err) < 0
	    || ce_check_priority(in, &f->priority, err) < 0
	    || ce_check_string(in, CE_CAUSATIONID, false, true, err) < 0)
		return -1;
	return 0;
}

/* The envelope in starry's order; the other members follow. */
static void
ce_write(const struct ce_in *in, const struct ce_fields *f, struct out *o)
{
	const struct jscan_value *type = &in->attr[CE_TYPE];

	out_str(o, "{\"id\":");
	out_value(o, &in->attr[CE_ID]);
	out_str(o, ",\"timestamp\":");
	out_int(o, f->ms);
	out_str(o, ",\"traceId\":");
	if (in->seen[CE_TRACEID])
		out_value(o, &in->attr[CE_TRACEID]);
	else
		out_quoted_raw(o, f->trace, strlen(f->trace));
	if (in->seen[CE_CAUSATIONID]) {
		out_str(o, ",\"parentId\":");
		out_value(o, &in->attr[CE_CAUSATIONID]);
	}
	out_str(o, ",\"source\":");
	out_value(o, &in->attr[CE_SOURCE]);
	out_str(o, ",\"sessionId\":");
	if (in->seen[CE_SESSIONID])
		out_value(o, &in->attr[CE_SESSIONID]);
	else
		out_str(o, "\"default\"");
	out_str(o, ",\"priority\":");
	out_int(o, f->priority);
	out_str(o, ",\"type\":\"");
	if (f->type_namespace)
		out_str(o, CLOUDEVENT_TYPE_NAMESPACE);
	out_add(o, type->p, type->len);
	out_str(o, "\",\"payload\":");
	if (in->seen[CE_DATA])
		out_value(o, &in->attr[CE_DATA]);
	else
		out_str(o, "null");
}

char *
cloudevent_to_line(const char *line, size_t len, size_t *outlen,
    struct starry_err *err)
{
	struct out o = { 0 }, rest = { 0 };
	struct ce_in in = { .rest = &rest, .err = err };
	struct ce_fields f;
	struct jscan_value top;
	struct jscan_error jerr;
	char *res = NULL;

	if (jscan_document(line, len, &top, ce_member, &in, &jerr) < 0) {
		if (!in.failed)
			starry_err_set(err, EX_DATAERR, "invalid JSON at byte "
			    "%zu: %s", jerr.offset, jerr.why);
		goto out;
	}
	if (top.kind != JSCAN_OBJECT) {
		starry_err_set(err, EX_DATAERR, "not a JSON object");
		goto out;
	}
	if (ce_check(&in, &f, err) < 0)
		goto out;
	ce_write(&in, &f, &o);
	if (rest.len > 0)
		out_add(&o, rest.p, rest.len);
	o.failed |= rest.failed;
	out_add(&o, "}", 1);
	res = out_finish(&o, outlen, err);
	o.p = NULL;
out:
	free(o.p);
	free(rest.p);
	return res;
}
