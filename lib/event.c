/* The event envelope: one-pass checking of lines on the hot path (no
 * tree), and building, completing and rejecting events with jansson.
 * A struct event_view points into the caller's line; json_t results are
 * new references the caller owns; see event.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "jscan.h"
#include "swar.h"
#include "uuid.h"

static const char *const field_name[EVENT_F_COUNT] = {
	"id", "timestamp", "traceId", "source", "sessionId", "priority",
	"type", "payload", "parentId", "specversion",
};

#define SHOW_MAX 40	/* bytes of a bad value quoted in a diagnostic */

struct members {
	struct jscan_value v[EVENT_F_COUNT];
	unsigned seen;		/* one bit per enum event_field */
	int duplicate;		/* the first field seen twice, or -1 */
	unsigned others;	/* members that are no routing field */
};

int
event_field_of(const char *k, size_t len)
{
#define IS(f) (memcmp(k, field_name[f], len) == 0 ? (int)(f) : -1)
	switch (len) {
	case 2: return IS(EVENT_F_ID);
	case 4: return IS(EVENT_F_TYPE);
	case 6: return IS(EVENT_F_SOURCE);
	case 7: return k[0] == 't' ? IS(EVENT_F_TRACE) : IS(EVENT_F_PAYLOAD);
	case 8: return k[1] == 'r' ? IS(EVENT_F_PRIORITY) : IS(EVENT_F_PARENT);
	case 9: return k[0] == 't' ? IS(EVENT_F_TIMESTAMP) : IS(EVENT_F_SESSION);
	case 11: return IS(EVENT_F_SPECVERSION);
	}
	return -1;
#undef IS
}

/* A key spelled with escapes ("\u0069d") is still that key to every
 * JSON reader downstream, so it counts here too. */
static int
field_of_key(const struct jscan_value *key)
{
	char buf[16];
	long n;

	if (!key->escaped)
		return event_field_of(key->p, key->len);
	n = jscan_unescape(key->p, key->len, buf, sizeof buf);
	return n < 0 ? -1 : event_field_of(buf, n);
}

static int
on_member(void *ctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why)
{
	struct members *m = ctx;
	int f = field_of_key(key);

	(void)why;
	if (f < 0 || f == EVENT_F_SPECVERSION)
		m->others++;
	if (f < 0)
		return 0;
	if (m->seen & 1u << f) {
		if (m->duplicate < 0)
			m->duplicate = f;
		return 0;
	}
	m->seen |= 1u << f;
	m->v[f] = *value;
	return 0;
}

/* Up to SHOW_MAX bytes of s, cut at a character boundary, with control
 * bytes and bad UTF-8 shown as '?': a diagnostic stays one valid line. */
static const char *
show(const char *s, size_t len, char out[SHOW_MAX + 1])
{
	size_t i = 0, o = 0, n, skip;
	unsigned char c;

	while (i < len) {
		n = jscan_utf8_char(s + i, len - i, &skip);
		c = s[i];
		if (n == 0 || c < 0x20 || c == 0x7f) {
			if (o + 1 > SHOW_MAX)
				break;
			out[o++] = '?';
			i += n ? n : skip;
			continue;
		}
		if (o + n > SHOW_MAX)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

static int
bad_field(struct starry_err *err, int f, const char *what)
{
	return starry_err_set(err, EX_DATAERR, "field \"%s\": %s",
	    field_name[f], what);
}

static int
too_long(struct starry_err *err, int f)
{
	return starry_err_set(err, EX_DATAERR, "field \"%s\": longer than %d bytes",
	    field_name[f], EVENT_MAX_FIELD);
}

static void
set_str(struct event_str *s, const struct jscan_value *v)
{
	s->p = v->p;
	s->len = v->len;
	s->escaped = v->escaped;
}

/* A string member: non-empty, at most max decoded bytes (0: no limit),
 * and no \u0000, which C-string consumers would silently cut at. */
static int
check_string(const struct jscan_value *v, int f, size_t max,
    struct starry_err *err)
{
	size_t len = v->len;
	bool nul = false;

	if (v->kind != JSCAN_STRING)
		return bad_field(err, f, "expected a string");
	if (v->escaped)
		len = jscan_decoded_length(v->p, v->len, &nul);
	if (len == 0)
		return bad_field(err, f, "empty");
	if (max && len > max)
		return too_long(err, f);
	if (nul)
		return bad_field(err, f, "contains a NUL character");
	return 0;
}

static int
check_id(const struct jscan_value *v, unsigned flags, struct starry_err *err)
{
	char buf[EVENT_MAX_FIELD + 1], shown[SHOW_MAX + 1];
	const char *s = v->p;
	long n = v->len;

	if (flags & EVENT_LENIENT)
		return check_string(v, EVENT_F_ID, EVENT_MAX_FIELD, err);
	if (v->kind != JSCAN_STRING)
		return bad_field(err, EVENT_F_ID, "expected a string");
	if (v->escaped) {
		n = jscan_unescape(v->p, v->len, buf, sizeof buf);
		s = buf;
	}
	if (n < 0 || !uuid_is_v4(s, n))
		return starry_err_set(err, EX_DATAERR,
		    "field \"id\": not a UUID v4: \"%s\"", show(v->p, v->len, shown));
	return 0;
}

static int
check_timestamp(const struct jscan_value *v, int64_t *out,
    struct starry_err *err)
{
	int64_t t = 0;
	size_t i;
	int d;

	if (v->kind != JSCAN_NUMBER || !v->integer || v->p[0] == '-')
		goto bad;
	for (i = 0; i < v->len; i++) {
		d = v->p[i] - '0';
		if (t > (INT64_MAX - d) / 10)
			goto bad;
		t = t * 10 + d;
	}
	if (t == 0)
		goto bad;
	*out = t;
	return 0;
bad:
	return bad_field(err, EVENT_F_TIMESTAMP, "expected an integer > 0");
}

static int
check_priority(const struct jscan_value *v, int *out, struct starry_err *err)
{
	static const char *const kind_word[] = {
		[JSCAN_STRING] = "a string", [JSCAN_OBJECT] = "an object",
		[JSCAN_ARRAY] = "an array", [JSCAN_TRUE] = "true",
		[JSCAN_FALSE] = "false", [JSCAN_NULL] = "null",
	};
	char shown[SHOW_MAX + 1];

	if (v->kind != JSCAN_NUMBER)
		return starry_err_set(err, EX_DATAERR, "field \"priority\": "
		    "expected an integer 0..%d, got %s", EVENT_PRIORITY_MAX,
		    kind_word[v->kind]);
	if (v->integer && v->len == 1 && v->p[0] >= '0' &&
	    v->p[0] <= '0' + EVENT_PRIORITY_MAX) {
		*out = v->p[0] - '0';
		return 0;
	}
	return starry_err_set(err, EX_DATAERR, "field \"priority\": "
	    "expected an integer 0..%d, got %s", EVENT_PRIORITY_MAX,
	    show(v->p, v->len, shown));
}

static inline uint64_t
type_bad_bytes(uint64_t v)
{
	return swar_below(v, ' ' + 1) | swar_equal(v, 0x7f);
}

/* NAMESPACE:NAME on decoded text t; `shown` is what the diagnostic
 * quotes (the raw JSON text when scanning). */
static int
check_type_text(const char *t, size_t len, const char *shown, size_t shown_len,
    struct starry_err *err)
{
	const char *colon = memchr(t, ':', len);
	bool ok = colon != NULL && colon > t && colon < t + len - 1;
	char buf[SHOW_MAX + 1];
	uint64_t bad = 0;
	size_t i = 0;

	if (len > EVENT_MAX_FIELD)
		return too_long(err, EVENT_F_TYPE);
	/* No control character, space or DEL: a word at a time, the last
	 * word overlapping the one before. */
	if (len >= 8) {
		for (; i + 8 < len; i += 8)
			bad |= type_bad_bytes(swar_load(t + i));
		bad |= type_bad_bytes(swar_load(t + len - 8));
		i = len;
	}
	for (; i < len; i++)
		bad |= (unsigned char)t[i] <= ' ' || t[i] == 0x7f;
	if (!ok || bad)
		return starry_err_set(err, EX_DATAERR, "field \"type\": "
		    "expected NAMESPACE:NAME, got \"%s\"", show(shown, shown_len, buf));
	return 0;
}

static int
check_type(const struct jscan_value *v, struct starry_err *err)
{
	char buf[EVENT_MAX_FIELD + 1];
	long n;

	if (v->kind != JSCAN_STRING)
		return bad_field(err, EVENT_F_TYPE, "expected a string");
	if (!v->escaped)
		return check_type_text(v->p, v->len, v->p, v->len, err);
	n = jscan_unescape(v->p, v->len, buf, sizeof buf);
	if (n < 0)
		return too_long(err, EVENT_F_TYPE);
	return check_type_text(buf, n, v->p, v->len, err);
}

static int
check_envelope(const struct members *m, unsigned flags,
    struct event_view *view, struct starry_err *err)
{
	const struct jscan_value *v = m->v;
	int f;

	for (f = EVENT_F_ID; f <= EVENT_F_PAYLOAD; f++)
		if (!(m->seen & 1u << f))
			return starry_err_set(err, EX_DATAERR,
			    "missing field \"%s\"", field_name[f]);
	if (check_id(&v[EVENT_F_ID], flags, err) < 0 ||
	    check_timestamp(&v[EVENT_F_TIMESTAMP], &view->timestamp, err) < 0 ||
	    check_string(&v[EVENT_F_TRACE], EVENT_F_TRACE, EVENT_MAX_FIELD, err) < 0 ||
	    check_string(&v[EVENT_F_SOURCE], EVENT_F_SOURCE, 0, err) < 0 ||
	    check_string(&v[EVENT_F_SESSION], EVENT_F_SESSION, 0, err) < 0 ||
	    check_priority(&v[EVENT_F_PRIORITY], &view->priority, err) < 0 ||
	    check_type(&v[EVENT_F_TYPE], err) < 0)
		return -1;
	if (m->seen & 1u << EVENT_F_PARENT) {
		if (check_string(&v[EVENT_F_PARENT], EVENT_F_PARENT, EVENT_MAX_FIELD, err) < 0)
			return -1;
		set_str(&view->parent_id, &v[EVENT_F_PARENT]);
		view->has_parent = true;
	}
	set_str(&view->id, &v[EVENT_F_ID]);
	set_str(&view->trace_id, &v[EVENT_F_TRACE]);
	set_str(&view->source, &v[EVENT_F_SOURCE]);
	set_str(&view->session_id, &v[EVENT_F_SESSION]);
	set_str(&view->type, &v[EVENT_F_TYPE]);
	view->has_others = m->others > 0;
	/* The payload's raw text, quotes included when it is a string. */
	view->payload = v[EVENT_F_PAYLOAD].p - (v[EVENT_F_PAYLOAD].kind == JSCAN_STRING);
	view->payload_len = v[EVENT_F_PAYLOAD].len + 2 * (v[EVENT_F_PAYLOAD].kind == JSCAN_STRING);
	return 0;
}

/* Only the attributes every CloudEvent must have; converting is
 * cloudevents.c's job. */
static int
check_cloudevent(const struct members *m, struct event_view *view,
    struct starry_err *err)
{
	static const enum event_field required[] = { EVENT_F_SPECVERSION, EVENT_F_ID, EVENT_F_SOURCE, EVENT_F_TYPE };
	size_t i;
	int f;

	for (i = 0; i < sizeof required / sizeof required[0]; i++) {
		f = required[i];
		if (!(m->seen & 1u << f))
			return starry_err_set(err, EX_DATAERR,
			    "missing field \"%s\"", field_name[f]);
		if (m->v[f].kind != JSCAN_STRING)
			return bad_field(err, f, "expected a string");
	}
	view->cloudevent = true;
	view->has_others = true;
	view->priority = EVENT_PRIORITY_DEFAULT;
	set_str(&view->id, &m->v[EVENT_F_ID]);
	set_str(&view->source, &m->v[EVENT_F_SOURCE]);
	set_str(&view->type, &m->v[EVENT_F_TYPE]);
	return 0;
}

static bool
is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int
event_scan_line(const char *line, size_t len, unsigned flags,
    struct event_view *view, struct starry_err *err)
{
	static const struct event_view empty;
	struct jscan_value top;
	struct jscan_error je;
	struct members m;

	/* A copy rather than memset: compilers make a slow string
	 * instruction of a memset this size. */
	*view = empty;
	if (is_blank(line, len))
		return starry_err_set(err, EX_DATAERR, "empty line");
	m.seen = 0;
	m.duplicate = -1;
	if (jscan_document(line, len, &top, on_member, &m, &je) < 0) {
		if (jscan_error_is_utf8(&je))
			return starry_err_set(err, EX_DATAERR,
			    "invalid UTF-8 at column %zu", je.offset + 1);
		return starry_err_set(err, EX_DATAERR,
		    "invalid JSON at column %zu: %s", je.offset + 1, je.why);
	}
	if (top.kind != JSCAN_OBJECT)
		return starry_err_set(err, EX_DATAERR, "not a JSON object");
	if (m.duplicate >= 0)
		return starry_err_set(err, EX_DATAERR, "duplicate field \"%s\"",
		    field_name[m.duplicate]);
	if (m.seen & 1u << EVENT_F_SPECVERSION)
		return check_cloudevent(&m, view, err);
	return check_envelope(&m, flags, view, err);
}

long
event_str_copy(const struct event_str *s, char *buf, size_t cap)
{
	if (s->p == NULL || !s->escaped) {
		if (s->len >= cap)
			return -1;
		if (s->len)
			memcpy(buf, s->p, s->len);
		buf[s->len] = '\0';
		return s->len;
	}
	return jscan_unescape(s->p, s->len, buf, cap);
}

bool
event_str_equals(const struct event_str *s, const char *c)
{
	if (s->p == NULL)
		return *c == '\0';
	return jscan_string_equals(s->p, s->len, s->escaped, c);
}

int64_t
event_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Rules for caller-given text, the same as for scanned fields. */
static int
check_text(const char *s, int f, size_t max, struct starry_err *err)
{
	size_t len, i = 0, n;

	if (s == NULL)
		return bad_field(err, f, "expected a string");
	len = strlen(s);
	if (len == 0)
		return bad_field(err, f, "empty");
	if (max && len > max)
		return too_long(err, f);
	for (; i < len; i += n)
		if ((n = jscan_utf8_char(s + i, len - i, NULL)) == 0)
			return bad_field(err, f, "invalid UTF-8");
	return 0;
}

static int
check_origin(const struct event_origin *o, struct starry_err *err)
{
	if ((o->source && check_text(o->source, EVENT_F_SOURCE, 0, err) < 0) ||
	    (o->session_id && check_text(o->session_id, EVENT_F_SESSION, 0, err) < 0) ||
	    (o->trace_id && check_text(o->trace_id, EVENT_F_TRACE, EVENT_MAX_FIELD, err) < 0) ||
	    (o->parent_id && check_text(o->parent_id, EVENT_F_PARENT, EVENT_MAX_FIELD, err) < 0))
		return -1;
	if (o->priority < -1 || o->priority > EVENT_PRIORITY_MAX)
		return starry_err_set(err, EX_DATAERR, "field \"priority\": "
		    "expected an integer 0..%d, got %d", EVENT_PRIORITY_MAX,
		    o->priority);
	return 0;
}

static int
check_new_type(const char *type, struct starry_err *err)
{
	if (check_text(type, EVENT_F_TYPE, EVENT_MAX_FIELD, err) < 0)
		return -1;
	return check_type_text(type, strlen(type), type, strlen(type), err);
}

/* Add key = value (stolen) unless the object has key already. */
static int
put_new(json_t *obj, const char *key, json_t *value, struct starry_err *err)
{
	if (json_object_get(obj, key)) {
		json_decref(value);
		return 0;
	}
	if (value == NULL || json_object_set_new(obj, key, value) < 0)
		return starry_err_set(err, EX_OSERR, "out of memory");
	return 0;
}

static int
put_fresh_uuid(json_t *obj, const char *key, const char *given,
    struct starry_err *err)
{
	char id[UUID_STR_LEN + 1];

	if (json_object_get(obj, key))
		return 0;
	if (given == NULL && uuid_v4(id) < 0)
		return starry_err_sys(err, EX_OSERR, "cannot read random bytes");
	return put_new(obj, key, json_string(given ? given : id), err);
}

static json_t *
priority_of(const struct event_origin *o)
{
	return json_integer(o->priority < 0 ? EVENT_PRIORITY_DEFAULT : o->priority);
}

/* The envelope members in their canonical order, each only when missing;
 * shared by event_create (empty object) and event_complete. */
static int
fill_envelope(json_t *ev, const struct event_origin *o, const char *type,
    struct starry_err *err)
{
	if (put_fresh_uuid(ev, "id", NULL, err) < 0 ||
	    put_new(ev, "timestamp", json_integer(event_now_ms()), err) < 0 ||
	    put_fresh_uuid(ev, "traceId", o->trace_id, err) < 0 ||
	    (o->parent_id && put_new(ev, "parentId", json_string(o->parent_id), err) < 0) ||
	    put_new(ev, "source", json_string(o->source ? o->source : "starry"), err) < 0 ||
	    put_new(ev, "sessionId",
		json_string(o->session_id ? o->session_id : "default"), err) < 0 ||
	    put_new(ev, "priority", priority_of(o), err) < 0 ||
	    (type && put_new(ev, "type", json_string(type), err) < 0))
		return -1;
	return 0;
}

static struct event_origin
origin_or_default(const struct event_origin *origin)
{
	struct event_origin o = { .priority = -1 };

	return origin ? *origin : o;
}

json_t *
event_create(const char *type, json_t *payload,
    const struct event_origin *origin, struct starry_err *err)
{
	struct event_origin o = origin_or_default(origin);
	json_t *ev = NULL;

	if (payload == NULL)
		payload = json_null();
	if (check_new_type(type, err) < 0 || check_origin(&o, err) < 0)
		goto fail;
	if ((ev = json_object()) == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto fail;
	}
	if (fill_envelope(ev, &o, type, err) < 0)
		goto fail;
	if (json_object_set_new(ev, "payload", payload) < 0) {
		payload = NULL;
		starry_err_set(err, EX_OSERR, "out of memory");
		goto fail;
	}
	return ev;
fail:
	json_decref(payload);
	json_decref(ev);
	return NULL;
}

static int
copy_from_cause(const char **dst, const struct event_str *s, char *buf,
    size_t cap, int f, struct starry_err *err)
{
	if (*dst != NULL || s->p == NULL || s->len == 0)
		return 0;
	if (event_str_copy(s, buf, cap) < 0)
		return starry_err_set(err, EX_DATAERR,
		    "field \"%s\" of the cause: longer than %zu bytes",
		    field_name[f], cap - 1);
	*dst = buf;
	return 0;
}

int
event_origin_from_cause(struct event_origin *origin,
    const struct event_view *cause, struct event_cause_buf *buf,
    struct starry_err *err)
{
	if (copy_from_cause(&origin->trace_id, &cause->trace_id, buf->trace_id,
		sizeof buf->trace_id, EVENT_F_TRACE, err) < 0 ||
	    copy_from_cause(&origin->session_id, &cause->session_id,
		buf->session_id, sizeof buf->session_id, EVENT_F_SESSION, err) < 0 ||
	    copy_from_cause(&origin->parent_id, &cause->id, buf->id,
		sizeof buf->id, EVENT_F_ID, err) < 0)
		return -1;
	return 0;
}

static void
take_env(const char **dst, const char *name)
{
	const char *v;

	if (*dst != NULL)
		return;
	v = getenv(name);
	if (v != NULL && *v != '\0')
		*dst = v;
}

void
event_origin_from_env(struct event_origin *origin)
{
	take_env(&origin->trace_id, "STARRY_TRACE_ID");
	take_env(&origin->session_id, "STARRY_SESSION_ID");
	take_env(&origin->parent_id, "STARRY_CAUSE_ID");
}

char *
event_dump_line(const json_t *event, size_t *len)
{
	char *s, *t;
	size_t n;

	/* Not JSON_ENSURE_ASCII: UTF-8 passes through as the bytes it is. */
	s = json_dumps(event, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	t = realloc(s, n + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return t;
}

int
event_complete(json_t *event, const struct event_origin *origin,
    struct starry_err *err)
{
	struct event_origin o = origin_or_default(origin);

	if (!json_is_object(event))
		return starry_err_set(err, EX_DATAERR, "not a JSON object");
	if (check_origin(&o, err) < 0 || fill_envelope(event, &o, NULL, err) < 0)
		return -1;
	return put_new(event, "payload", json_null(), err);
}

json_t *
event_json_text(const char *s, size_t len)
{
	size_t i = 0, o = 0, n, skip;
	json_t *v;
	char *buf;

	if (len > (SIZE_MAX - 1) / 3 || (buf = malloc(len * 3 + 1)) == NULL)
		return NULL;
	while (i < len) {
		n = jscan_utf8_char(s + i, len - i, &skip);
		if (n > 0) {
			memcpy(buf + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += skip;
		}
	}
	v = json_stringn(buf, o);
	free(buf);
	return v;
}

json_t *
event_reject(const char *source, const char *input, const char *raw, size_t len,
    long lineno, const char *reason)
{
	struct event_origin o = { .priority = -1 };
	json_t *src, *payload, *ev = NULL;

	if (source == NULL || *source == '\0')
		source = "starry";
	if (reason == NULL)
		reason = "";
	src = event_json_text(source, strlen(source));
	payload = json_object();
	if (src == NULL || payload == NULL ||
	    json_object_set_new(payload, "code", json_string("EBADEVENT")) < 0 ||
	    json_object_set_new(payload, "message",
		event_json_text(reason, strlen(reason))) < 0 ||
	    json_object_set(payload, "source", src) < 0 ||
	    (input != NULL && json_object_set_new(payload, "input",
		event_json_text(input, strlen(input))) < 0) ||
	    json_object_set_new(payload, "line", json_integer(lineno)) < 0 ||
	    json_object_set_new(payload, "raw", event_json_text(raw, len)) < 0) {
		json_decref(payload);
		goto out;
	}
	o.source = json_string_value(src);
	ev = event_create("KERNEL:ERROR", payload, &o, NULL);
out:
	json_decref(src);
	return ev;
}

long
event_id_key(const struct event_view *view, const char **key, char *buf, size_t cap)
{
	if (!view->id.escaped) {
		*key = view->id.p;
		return view->id.len;
	}
	*key = buf;
	return event_str_copy(&view->id, buf, cap);
}
