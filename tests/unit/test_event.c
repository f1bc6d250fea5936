/* Unit tests for lib/event.c and lib/uuid.c: every diagnostic of
 * event_scan_line with its exact text, valid envelopes, hostile input,
 * and building, deriving, completing and rejecting events. Lines are
 * copied into buffers of exactly their length, so a sanitizer build
 * catches any read past the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "event.h"
#include "jscan.h"
#include "uuid.h"

#define UUID1 "0b7e5a3c-1d2f-4a6b-8c9d-0e1f2a3b4c5d"

struct member {
	const char *key, *raw;
};

static const struct member base[] = {
	{ "id", "\"" UUID1 "\"" },
	{ "timestamp", "1700000000000" },
	{ "traceId", "\"trace-1\"" },
	{ "source", "\"agent-7\"" },
	{ "sessionId", "\"default\"" },
	{ "priority", "3" },
	{ "type", "\"git:commit_pushed\"" },
	{ "payload", "{\"branch\":\"main\",\"n\":[1,2,{\"x\":null}]}" },
};
#define NBASE (sizeof base / sizeof base[0])

static char line_buf[3 << 20];

static void
append(size_t *n, const char *key, const char *raw)
{
	*n += snprintf(line_buf + *n, sizeof line_buf - *n, "%s\"%s\":%s",
	    *n > 1 ? "," : "", key, raw);
	assert_true(*n < sizeof line_buf);
}

/* The base envelope with `count` changes, each a (key, raw JSON) pair:
 * raw NULL leaves the key out, a new key is added at the end, and a key
 * written "+key" is added at the end even when already there. */
static const char *
envelope(int count, ...)
{
	const char *keys[8], *raws[8];
	size_t n = 1, i;
	int k;
	bool done[8] = { false };
	va_list ap;

	assert_true(count <= 8);
	va_start(ap, count);
	for (k = 0; k < count; k++) {
		keys[k] = va_arg(ap, const char *);
		raws[k] = va_arg(ap, const char *);
	}
	va_end(ap);
	line_buf[0] = '{';
	for (i = 0; i < NBASE; i++) {
		const char *raw = base[i].raw;

		for (k = 0; k < count; k++)
			if (strcmp(keys[k], base[i].key) == 0) {
				raw = raws[k];
				done[k] = true;
			}
		if (raw)
			append(&n, base[i].key, raw);
	}
	for (k = 0; k < count; k++)
		if (!done[k] && raws[k])
			append(&n, keys[k][0] == '+' ? keys[k] + 1 : keys[k], raws[k]);
	assert_true(n + 2 < sizeof line_buf);
	line_buf[n++] = '}';
	line_buf[n] = '\0';
	return line_buf;
}

static int
scan_copy(const char *line, size_t len, unsigned flags, struct event_view *v,
    struct starry_err *err, char **keep)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, line, len);
	rc = event_scan_line(copy, len, flags, v, err);
	if (keep)
		*keep = copy;
	else
		free(copy);
	return rc;
}

static void
rejected_n(const char *line, size_t len, unsigned flags, const char *msg)
{
	struct event_view v;
	struct starry_err err = { 0 };

	if (scan_copy(line, len, flags, &v, &err, NULL) == 0)
		fail_msg("accepted: %.*s", (int)(len > 300 ? 300 : len), line);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.code, EX_DATAERR);
}

static void
rejected(const char *line, const char *msg)
{
	rejected_n(line, strlen(line), 0, msg);
}

static void
rejected_lenient(const char *line, const char *msg)
{
	rejected_n(line, strlen(line), EVENT_LENIENT, msg);
}

/* Scans a line that must be accepted; the view points into *keep, which
 * the caller frees. */
static void
accepted_n(const char *line, size_t len, unsigned flags, struct event_view *v,
    char **keep)
{
	struct starry_err err = { 0 };
	char *copy;

	if (scan_copy(line, len, flags, v, &err, &copy) != 0)
		fail_msg("rejected (%s): %.*s", err.msg, (int)(len > 300 ? 300 : len), line);
	if (keep)
		*keep = copy;
	else
		free(copy);
}

#define ACCEPTED(line_expr, flags, v, keep) do {			\
	const char *l_ = (line_expr);					\
	accepted_n(l_, strlen(l_), flags, v, keep);			\
} while (0)

static void
accepted(const char *line)
{
	struct event_view v;

	accepted_n(line, strlen(line), 0, &v, NULL);
}

static void
assert_field(const struct event_str *s, const char *want)
{
	char buf[4096];

	if (!event_str_equals(s, want))
		fail_msg("field is %.*s, expected %s", (int)s->len, s->p, want);
	assert_int_equal(event_str_copy(s, buf, sizeof buf), strlen(want));
	assert_string_equal(buf, want);
}

static char *
repeat(const char *unit, size_t times, const char *prefix, const char *suffix)
{
	size_t u = strlen(unit), p = strlen(prefix), s = strlen(suffix), i;
	char *out = malloc(p + u * times + s + 1);

	assert_non_null(out);
	memcpy(out, prefix, p);
	for (i = 0; i < times; i++)
		memcpy(out + p + i * u, unit, u);
	memcpy(out + p + u * times, suffix, s + 1);
	return out;
}

/* ---- valid envelopes ---- */

static void
a_complete_envelope_is_accepted_and_its_routing_fields_located(void **state)
{
	struct event_view v;
	char *keep;
	const char *line = envelope(0);

	(void)state;
	accepted_n(line, strlen(line), 0, &v, &keep);
	assert_field(&v.id, UUID1);
	assert_field(&v.trace_id, "trace-1");
	assert_field(&v.source, "agent-7");
	assert_field(&v.session_id, "default");
	assert_field(&v.type, "git:commit_pushed");
	assert_int_equal(v.timestamp, 1700000000000LL);
	assert_int_equal(v.priority, 3);
	assert_false(v.has_parent);
	assert_false(v.cloudevent);
	assert_int_equal(v.payload_len, strlen(base[7].raw));
	assert_memory_equal(v.payload, base[7].raw, v.payload_len);
	assert_true(v.payload >= keep && v.payload + v.payload_len <= keep + strlen(line));
	free(keep);
}

static void
members_may_come_in_any_order_and_extra_members_are_allowed(void **state)
{
	struct event_view v;
	const char *line = "{\"payload\":null,\"type\":\"a:b\",\"x\":{\"id\":5,\"type\":1},"
	    "\"priority\":0,\"sessionId\":\"s\",\"source\":\"src\",\"y\":[\"id\"],"
	    "\"traceId\":\"t\",\"timestamp\":1,\"z\":\"\",\"id\":\"" UUID1 "\","
	    "\"idx\":true,\"Type\":false,\"\":null,\"time\":1.5e3}";

	(void)state;
	accepted_n(line, strlen(line), 0, &v, NULL);
	assert_int_equal(v.priority, 0);
	assert_int_equal(v.timestamp, 1);
	assert_int_equal(v.payload_len, 4);
}

static void
escaped_fields_are_accepted_and_decoded(void **state)
{
	struct event_view v;
	char *keep;
	const char *line = envelope(4,
	    "id", "\"\\u0030b7e5a3c-1d2f-4a6b-8c9d-0e1f2a3b4c5d\"",
	    "source", "\"a\\\"b\\u00e9\\/c\"",
	    "type", "\"git:\\u0063ommit\"",
	    "traceId", "\"\\ud83d\\ude00\\t\"");

	(void)state;
	accepted_n(line, strlen(line), 0, &v, &keep);
	assert_field(&v.id, UUID1);
	assert_field(&v.source, "a\"b\xc3\xa9/c");
	assert_field(&v.type, "git:commit");
	assert_field(&v.trace_id, "\xf0\x9f\x98\x80\t");
	assert_true(v.source.escaped);
	assert_false(v.session_id.escaped);
	free(keep);
}

static void
keys_spelled_with_escapes_are_still_routing_keys(void **state)
{
	struct event_view v;
	char *keep;
	const char *line = envelope(2, "type", NULL, "t\\u0079pe", "\"x:y\"");

	(void)state;
	accepted_n(line, strlen(line), 0, &v, &keep);
	assert_field(&v.type, "x:y");
	free(keep);
}

static void
a_trailing_cr_and_surrounding_white_space_are_accepted(void **state)
{
	char line[4096];

	(void)state;
	snprintf(line, sizeof line, "%s\r", envelope(0));
	accepted(line);
	snprintf(line, sizeof line, " \t%s \t\r", envelope(0));
	accepted(line);
	snprintf(line, sizeof line, "%s", envelope(0));
	/* Pretty-printed inside, as long as it is one line. */
	accepted("{ \"id\" : \"" UUID1 "\" ,\r\t\"timestamp\" :1, \"traceId\":\"t\","
	    "\"source\":\"s\",\"sessionId\":\"d\",\"priority\":\r5,\"type\":\"a:b\","
	    "\"payload\" : [ ] }\r");
}

static void
the_payload_may_be_any_json_value(void **state)
{
	static const char *const payloads[] = {
		"null", "true", "false", "0", "-1.5e-7", "\"\"", "\"text \\\"q\\\" \\u2028\"",
		"[]", "{}", "[1,\"a\",{\"b\":[null,{\"c\":{}}]},[[[]]]]",
		"{\"id\":\"not-a-uuid\",\"type\":5,\"payload\":{\"payload\":{}}}",
		"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
	};
	struct event_view v;
	char *keep;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
		const char *line = envelope(1, "payload", payloads[i]);

		accepted_n(line, strlen(line), 0, &v, &keep);
		assert_int_equal(v.payload_len, strlen(payloads[i]));
		assert_memory_equal(v.payload, payloads[i], v.payload_len);
		free(keep);
	}
}

static void
a_parent_id_is_optional_and_located_when_present(void **state)
{
	struct event_view v;
	char *keep;
	const char *line = envelope(1, "parentId", "\"cause-1\"");

	(void)state;
	accepted_n(line, strlen(line), 0, &v, &keep);
	assert_true(v.has_parent);
	assert_field(&v.parent_id, "cause-1");
	free(keep);
}

static void
a_cloudevent_is_recognised_by_specversion(void **state)
{
	struct event_view v;
	char *keep;
	const char *line = "{\"specversion\":\"1.0\",\"id\":\"ce-1\",\"source\":\"/x\","
	    "\"type\":\"com.example.thing\",\"data\":{\"a\":1}}";

	(void)state;
	accepted_n(line, strlen(line), 0, &v, &keep);
	assert_true(v.cloudevent);
	assert_field(&v.id, "ce-1");
	assert_field(&v.source, "/x");
	assert_field(&v.type, "com.example.thing");
	assert_null(v.trace_id.p);
	free(keep);
	rejected("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\"}",
	    "missing field \"type\"");
	rejected("{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\"}",
	    "missing field \"id\"");
	rejected("{\"specversion\":1.0,\"id\":\"x\",\"source\":\"s\",\"type\":\"t\"}",
	    "field \"specversion\": expected a string");
	rejected("{\"specversion\":\"1.0\",\"id\":7,\"source\":\"s\",\"type\":\"t\"}",
	    "field \"id\": expected a string");
	rejected("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":[],\"type\":\"t\"}",
	    "field \"source\": expected a string");
	rejected("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\",\"type\":null}",
	    "field \"type\": expected a string");
	rejected("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\",\"type\":\"t\","
	    "\"specversion\":\"1.0\"}", "duplicate field \"specversion\"");
}

/* ---- diagnostics ---- */

static void
empty_lines_are_rejected(void **state)
{
	(void)state;
	rejected("", "empty line");
	rejected(" ", "empty line");
	rejected("\r", "empty line");
	rejected(" \t\r\n ", "empty line");
}

static void
malformed_json_is_rejected_with_its_column_and_reason(void **state)
{
	char *deep;

	(void)state;
	rejected("{\"id\" 1}", "invalid JSON at column 7: expected ':'");
	rejected("{\"id\":", "invalid JSON at column 7: unexpected end of input");
	rejected("{\"a\":\"\\x\"}", "invalid JSON at column 7: invalid escape");
	rejected("{\"a\":\"\t\"}", "invalid JSON at column 7: control character in string");
	rejected("{\"a\":\"\\ud800\"}", "invalid JSON at column 7: lone surrogate in \\u escape");
	rejected("{\"a\":\"\\udc00\\ud800\"}", "invalid JSON at column 7: lone surrogate in \\u escape");
	rejected("{\"a\":01}", "invalid JSON at column 7: invalid number");
	rejected("{\"a\":-}", "invalid JSON at column 7: invalid number");
	rejected("{\"a\":1,}", "invalid JSON at column 8: expected a string key");
	rejected("{\"a\":1 \"b\":2}", "invalid JSON at column 8: expected ',' or '}'");
	rejected("{} x", "invalid JSON at column 4: trailing characters after the value");
	rejected("{}{}", "invalid JSON at column 3: trailing characters after the value");
	rejected("{\"a\":tru}", "invalid JSON at column 9: invalid literal");
	rejected("\xef\xbb\xbf{}", "invalid JSON at column 1: byte order mark");
	rejected("{'a':1}", "invalid JSON at column 2: expected a string key");
	deep = repeat("[", 600, "{\"a\":", "");
	rejected(deep, "invalid JSON at column 517: nesting deeper than 512");
	free(deep);
}

static void
invalid_utf8_is_rejected_with_its_column(void **state)
{
	(void)state;
	rejected("{\"a\":\"\xff\"}", "invalid UTF-8 at column 7");
	rejected("{\"abc\xc0\xaf\":1}", "invalid UTF-8 at column 6");
	rejected("{\"a\":\"ok \xed\xa0\x80\"}", "invalid UTF-8 at column 10");
	rejected("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8 at column 7");
	rejected("{\"a\":\"\xe0\x80\xaf\"}", "invalid UTF-8 at column 7");
	rejected("\xfe\xff", "invalid UTF-8 at column 1");
	rejected("{\"a\":1}\xff", "invalid UTF-8 at column 8");
	rejected("{\"a\":\xc0\x80}", "invalid UTF-8 at column 6");
	rejected("{\"a\":\xc3\xa9}", "invalid JSON at column 6: expected a value");
}

static void
only_a_json_object_is_an_event(void **state)
{
	(void)state;
	rejected("[1]", "not a JSON object");
	rejected("\"x\"", "not a JSON object");
	rejected("42", "not a JSON object");
	rejected("null", "not a JSON object");
	rejected(" true ", "not a JSON object");
}

static void
the_first_missing_field_is_reported_in_envelope_order(void **state)
{
	size_t i;
	char msg[64];

	(void)state;
	for (i = 0; i < NBASE; i++) {
		snprintf(msg, sizeof msg, "missing field \"%s\"", base[i].key);
		rejected(envelope(1, base[i].key, NULL), msg);
		rejected_lenient(envelope(1, base[i].key, NULL), msg);
	}
	rejected("{}", "missing field \"id\"");
	rejected(envelope(2, "type", NULL, "id", NULL), "missing field \"id\"");
	rejected(envelope(2, "payload", NULL, "priority", NULL), "missing field \"priority\"");
	/* A missing field is reported before a bad one. */
	rejected(envelope(2, "id", "5", "payload", NULL), "missing field \"payload\"");
}

static void
a_routing_field_given_twice_is_rejected(void **state)
{
	(void)state;
	rejected(envelope(1, "+type", "\"a:b\""), "duplicate field \"type\"");
	rejected(envelope(1, "+id", "\"" UUID1 "\""), "duplicate field \"id\"");
	rejected(envelope(1, "+payload", "null"), "duplicate field \"payload\"");
	rejected(envelope(2, "parentId", "\"p\"", "+parentId", "\"q\""),
	    "duplicate field \"parentId\"");
	rejected(envelope(1, "t\\u0079pe", "\"a:b\""), "duplicate field \"type\"");
	rejected(envelope(2, "+source", "1", "+type", "1"), "duplicate field \"source\"");
	/* Other members are passed through untouched, twice or not. */
	accepted(envelope(2, "x", "1", "+x", "2"));
}

static void
id_must_be_a_uuid_v4(void **state)
{
	(void)state;
	rejected(envelope(1, "id", "5"), "field \"id\": expected a string");
	rejected(envelope(1, "id", "null"), "field \"id\": expected a string");
	rejected(envelope(1, "id", "\"abc\""), "field \"id\": not a UUID v4: \"abc\"");
	rejected(envelope(1, "id", "\"\""), "field \"id\": not a UUID v4: \"\"");
	rejected(envelope(1, "id", "\"0B7E5A3C-1D2F-4A6B-8C9D-0E1F2A3B4C5D\""),
	    "field \"id\": not a UUID v4: \"0B7E5A3C-1D2F-4A6B-8C9D-0E1F2A3B4C5D\"");
	rejected(envelope(1, "id", "\"0b7e5a3c-1d2f-1a6b-8c9d-0e1f2a3b4c5d\""),
	    "field \"id\": not a UUID v4: \"0b7e5a3c-1d2f-1a6b-8c9d-0e1f2a3b4c5d\"");
	rejected(envelope(1, "id", "\"0b7e5a3c-1d2f-4a6b-cc9d-0e1f2a3b4c5d\""),
	    "field \"id\": not a UUID v4: \"0b7e5a3c-1d2f-4a6b-cc9d-0e1f2a3b4c5d\"");
	rejected(envelope(1, "id", "\"" UUID1 "0\""),
	    "field \"id\": not a UUID v4: \"" UUID1 "0\"");
	rejected(envelope(1, "id", "\"0123456789012345678901234567890123456789abcdef\""),
	    "field \"id\": not a UUID v4: \"0123456789012345678901234567890123456789\"");
	/* Cut at a character boundary, so the diagnostic stays UTF-8. */
	rejected(envelope(1, "id", "\"0123456789012345678901234567890123456789\xc3\xa9\""),
	    "field \"id\": not a UUID v4: \"0123456789012345678901234567890123456789\"");
	rejected(envelope(1, "id", "\"012345678901234567890123456789012345678\xc3\xa9\""),
	    "field \"id\": not a UUID v4: \"012345678901234567890123456789012345678\"");
}

static void
a_lenient_id_is_any_short_non_empty_string(void **state)
{
	char *id;
	struct event_view v;
	char *keep;

	(void)state;
	ACCEPTED(envelope(1, "id", "\"msg-1\""), EVENT_LENIENT, &v, &keep);
	assert_field(&v.id, "msg-1");
	free(keep);
	rejected_lenient(envelope(1, "id", "\"\""), "field \"id\": empty");
	rejected_lenient(envelope(1, "id", "7"), "field \"id\": expected a string");
	id = repeat("x", 128, "\"", "\"");
	ACCEPTED(envelope(1, "id", id), EVENT_LENIENT, &v, NULL);
	free(id);
	id = repeat("x", 129, "\"", "\"");
	rejected_lenient(envelope(1, "id", id), "field \"id\": longer than 128 bytes");
	free(id);
}

static void
timestamp_must_be_a_positive_int64(void **state)
{
	static const char *const bad[] = {
		"0", "-0", "-1", "1.5", "1.0", "1e3", "1E3", "\"1\"", "null", "true",
		"[1]", "{}", "9223372036854775808", "99999999999999999999999",
		"0.0",
	};
	struct event_view v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		rejected(envelope(1, "timestamp", bad[i]),
		    "field \"timestamp\": expected an integer > 0");
	ACCEPTED(envelope(1, "timestamp", "9223372036854775807"), 0, &v, NULL);
	assert_int_equal(v.timestamp, INT64_MAX);
	ACCEPTED(envelope(1, "timestamp", "1"), 0, &v, NULL);
	assert_int_equal(v.timestamp, 1);
}

static void
trace_id_must_be_a_short_non_empty_string(void **state)
{
	char *t;

	(void)state;
	rejected(envelope(1, "traceId", "1"), "field \"traceId\": expected a string");
	rejected(envelope(1, "traceId", "{}"), "field \"traceId\": expected a string");
	rejected(envelope(1, "traceId", "\"\""), "field \"traceId\": empty");
	t = repeat("t", 129, "\"", "\"");
	rejected(envelope(1, "traceId", t), "field \"traceId\": longer than 128 bytes");
	free(t);
	t = repeat("t", 128, "\"", "\"");
	accepted(envelope(1, "traceId", t));
	free(t);
}

static void
source_and_session_id_must_be_non_empty_strings(void **state)
{
	char *s;

	(void)state;
	rejected(envelope(1, "source", "1"), "field \"source\": expected a string");
	rejected(envelope(1, "source", "\"\""), "field \"source\": empty");
	rejected(envelope(1, "sessionId", "false"), "field \"sessionId\": expected a string");
	rejected(envelope(1, "sessionId", "\"\""), "field \"sessionId\": empty");
	s = repeat("s", 2000, "\"", "\"");
	accepted(envelope(2, "source", s, "sessionId", s));
	free(s);
	accepted(envelope(1, "source", "\"tmux:%3\""));
}

static void
priority_must_be_an_integer_from_0_to_5(void **state)
{
	static const struct { const char *raw, *got; } bad[] = {
		{ "6", "6" }, { "-1", "-1" }, { "10", "10" }, { "2.5", "2.5" },
		{ "3.0", "3.0" }, { "1e0", "1e0" }, { "-0", "-0" },
		{ "12345678901234567890123456789012345678901234567890",
		  "1234567890123456789012345678901234567890" },
		{ "\"3\"", "a string" }, { "{}", "an object" }, { "[3]", "an array" },
		{ "true", "true" }, { "false", "false" }, { "null", "null" },
	};
	char msg[128];
	struct event_view v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(msg, sizeof msg,
		    "field \"priority\": expected an integer 0..5, got %s", bad[i].got);
		rejected(envelope(1, "priority", bad[i].raw), msg);
	}
	for (i = 0; i <= 5; i++) {
		char raw[2] = { (char)('0' + i), '\0' };

		ACCEPTED(envelope(1, "priority", raw), 0, &v, NULL);
		assert_int_equal(v.priority, i);
	}
}

static void
type_must_be_namespace_colon_name(void **state)
{
	static const char *const bad[] = {
		"nocolon", ":name", "ns:", ":", "", "a b:c", "a:b c", "a:b\\tc",
		"a:b\\u0000", "a:\\u0020b", "a:b\\n", "a:\\u007f",
	};
	char raw[256], msg[256];
	char *t;
	size_t i;

	(void)state;
	rejected(envelope(1, "type", "1"), "field \"type\": expected a string");
	rejected(envelope(1, "type", "[\"a:b\"]"), "field \"type\": expected a string");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(raw, sizeof raw, "\"%s\"", bad[i]);
		snprintf(msg, sizeof msg,
		    "field \"type\": expected NAMESPACE:NAME, got \"%s\"", bad[i]);
		rejected(envelope(1, "type", raw), msg);
	}
	rejected(envelope(1, "type", "\"abcdefghijabcdefghijabcdefghijabcdefghijXYZ\""),
	    "field \"type\": expected NAMESPACE:NAME, got "
	    "\"abcdefghijabcdefghijabcdefghijabcdefghij\"");
	t = repeat("x", 127, "\"a:", "\"");
	rejected(envelope(1, "type", t), "field \"type\": longer than 128 bytes");
	free(t);
	t = repeat("x", 126, "\"a:", "\"");
	accepted(envelope(1, "type", t));
	free(t);
	accepted(envelope(1, "type", "\"INPUT:USER_MESSAGE\""));
	accepted(envelope(1, "type", "\"a:b:c\""));
	accepted(envelope(1, "type", "\"ns:n\xc3\xa4me\""));
}

static void
parent_id_when_present_must_be_a_short_non_empty_string(void **state)
{
	char *p;

	(void)state;
	rejected(envelope(1, "parentId", "1"), "field \"parentId\": expected a string");
	rejected(envelope(1, "parentId", "null"), "field \"parentId\": expected a string");
	rejected(envelope(1, "parentId", "\"\""), "field \"parentId\": empty");
	p = repeat("p", 129, "\"", "\"");
	rejected(envelope(1, "parentId", p), "field \"parentId\": longer than 128 bytes");
	free(p);
}

static void
field_lengths_count_decoded_bytes(void **state)
{
	char *s;

	(void)state;
	s = repeat("\\u0061", 128, "\"", "\"");
	accepted(envelope(2, "traceId", s, "parentId", s));
	free(s);
	s = repeat("\\u0061", 129, "\"", "\"");
	rejected(envelope(1, "traceId", s), "field \"traceId\": longer than 128 bytes");
	rejected(envelope(1, "parentId", s), "field \"parentId\": longer than 128 bytes");
	free(s);
	s = repeat("\\u00e9", 63, "\"a:", "\"");	/* 2 + 126 bytes */
	accepted(envelope(1, "type", s));
	free(s);
	s = repeat("\\u00e9", 64, "\"a:", "\"");	/* 2 + 128 bytes */
	rejected(envelope(1, "type", s), "field \"type\": longer than 128 bytes");
	free(s);
	s = repeat("\\u0078", 129, "\"", "\"");
	rejected_lenient(envelope(1, "id", s), "field \"id\": longer than 128 bytes");
	free(s);
}

static void
string_fields_that_decode_to_nul_are_rejected(void **state)
{
	(void)state;
	rejected(envelope(1, "traceId", "\"a\\u0000\""),
	    "field \"traceId\": contains a NUL character");
	rejected(envelope(1, "source", "\"\\u0000\""),
	    "field \"source\": contains a NUL character");
	rejected(envelope(1, "sessionId", "\"s\\u0000s\""),
	    "field \"sessionId\": contains a NUL character");
	rejected_lenient(envelope(1, "id", "\"i\\u0000\""),
	    "field \"id\": contains a NUL character");
	/* In the payload it is data, passed on as it is. */
	accepted(envelope(1, "payload", "\"a\\u0000b\""));
}

/* ---- hostile input ---- */

static void
deep_nesting_is_rejected_without_recursion(void **state)
{
	char *deep;

	(void)state;
	deep = repeat("[", 5000, "{\"payload\":", "");
	rejected(deep, "invalid JSON at column 523: nesting deeper than 512");
	free(deep);
	deep = repeat("{\"a\":", 5000, "", "");
	rejected(deep, "invalid JSON at column 2561: nesting deeper than 512");
	free(deep);
	deep = repeat("[", 511, "", "");
	{
		char *closing = repeat("]", 511, "", "}");
		char *line = malloc(strlen(deep) + strlen(closing) + 1024);

		assert_non_null(line);
		/* The top-level object is level 1: 512 levels in all. */
		snprintf(line, 1024, "%s", envelope(0));
		line[strlen(line) - 1] = '\0';
		strcat(line, ",\"deep\":");
		strcat(line, deep);
		strcat(line, closing);
		accepted(line);
		free(line);
		free(closing);
	}
	free(deep);
}

static void
a_one_mib_string_is_scanned_to_the_end(void **state)
{
	size_t mib = 1024 * 1024;
	char *s = repeat("a", mib, "\"", "\"");
	char *u = repeat("\xc3\xa9", mib / 2, "\"", "\"");
	struct event_view v;
	const char *line;
	char msg[64];
	size_t n;

	(void)state;
	line = envelope(1, "payload", "0");
	{
		char *big = malloc(mib + 4096);

		assert_non_null(big);
		n = snprintf(big, 4096, "%.*s", (int)(strlen(line) - 2), line);
		memcpy(big + n, s, mib + 2);
		memcpy(big + n + mib + 2, "}", 2);
		accepted_n(big, strlen(big), 0, &v, NULL);
		assert_int_equal(v.payload_len, mib + 2);
		memcpy(big + n, u, mib + 2);
		accepted_n(big, strlen(big), 0, &v, NULL);
		big[n + mib - 1] = (char)0xc0;
		snprintf(msg, sizeof msg, "invalid UTF-8 at column %zu", n + mib);
		rejected_n(big, strlen(big), 0, msg);
		big[n + mib - 1] = '\x01';
		snprintf(msg, sizeof msg,
		    "invalid JSON at column %zu: control character in string", n + mib);
		rejected_n(big, strlen(big), 0, msg);
		free(big);
	}
	rejected(envelope(1, "traceId", s), "field \"traceId\": longer than 128 bytes");
	free(s);
	free(u);
}

static void
nul_bytes_inside_the_line_are_rejected_not_truncated(void **state)
{
	char line[4096], msg[96];
	size_t len, at;

	(void)state;
	len = snprintf(line, sizeof line, "%s", envelope(0));
	at = strstr(line, "agent-7") - line + 2;
	line[at] = '\0';
	snprintf(msg, sizeof msg,
	    "invalid JSON at column %zu: control character in string", at + 1);
	rejected_n(line, len, 0, msg);

	len = snprintf(line, sizeof line, "%s", envelope(0));
	at = strstr(line, ",\"source\"") - line + 1;
	line[at] = '\0';
	snprintf(msg, sizeof msg, "invalid JSON at column %zu: expected a string key", at + 1);
	rejected_n(line, len, 0, msg);

	len = snprintf(line, sizeof line, "%s", envelope(0));
	line[len++] = '\0';
	snprintf(msg, sizeof msg,
	    "invalid JSON at column %zu: trailing characters after the value", len);
	rejected_n(line, len, 0, msg);
	rejected_n("\0", 1, 0, "invalid JSON at column 1: expected a value");
}

static void
every_truncated_prefix_of_a_valid_event_is_rejected(void **state)
{
	char rich[2048], msg[96];
	const char *lines[2];
	size_t i, k, len;

	(void)state;
	snprintf(rich, sizeof rich, "%s", envelope(5,
	    "source", "\"caf\xc3\xa9 \xf0\x9f\x98\x80 \\ud83d\\ude00 \\\"q\\\"\"",
	    "priority", "0", "parentId", "\"p-1\"",
	    "payload", "{\"a\":[true,false,null,-1.5e+3,\"\\u00e9\",{}],\"b\":{\"c\":[]}}",
	    "extra", "[0.5,\"x\\/\"]"));
	strcat(rich, "\r");
	lines[0] = envelope(0);
	lines[0] = strdup(lines[0]);
	lines[1] = rich;
	for (k = 0; k < 2; k++) {
		len = strlen(lines[k]);
		accepted(lines[k]);
		rejected_n(lines[k], 0, 0, "empty line");
		for (i = 1; i < len - (k == 1 ? 1 : 0); i++) {
			snprintf(msg, sizeof msg,
			    "invalid JSON at column %zu: unexpected end of input", i + 1);
			rejected_n(lines[k], i, 0, msg);
		}
	}
	free((char *)lines[0]);
}

/* Any byte anywhere: the scanner must answer, never crash or over-read. */
static void
single_byte_mutations_never_crash(void **state)
{
	static const unsigned char values[] = {
		0, 1, '\t', '\n', ' ', '"', ',', ':', '[', ']', '{', '}', '\\',
		'0', '-', 'e', '.', 'u', 'n', 0x7f, 0x80, 0xbf, 0xc0, 0xc3,
		0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
	};
	char line[2048], *copy;
	struct event_view v;
	struct starry_err err;
	size_t len, i, k;
	int accepted_count = 0;

	(void)state;
	len = snprintf(line, sizeof line, "%s", envelope(2,
	    "traceId", "\"t\\u00e9\\ud83d\\ude00\"", "parentId", "\"p\""));
	for (i = 0; i < len; i++) {
		for (k = 0; k < sizeof values; k++) {
			copy = malloc(len);
			assert_non_null(copy);
			memcpy(copy, line, len);
			copy[i] = values[k];
			if (event_scan_line(copy, len, 0, &v, &err) == 0)
				accepted_count++;
			else
				assert_true(err.msg[0] != '\0');
			free(copy);
		}
	}
	/* Some mutations are harmless (a digit for a digit): both paths ran. */
	assert_true(accepted_count > 0);
}

/* ---- uuid ---- */

static void
uuid_v4_is_canonical_lowercase(void **state)
{
	char id[UUID_STR_LEN + 1];
	int i, j;

	(void)state;
	for (i = 0; i < 1000; i++) {
		assert_int_equal(uuid_v4(id), 0);
		assert_int_equal(strlen(id), 36);
		assert_true(uuid_is_v4(id, 36));
		for (j = 0; j < 36; j++) {
			if (j == 8 || j == 13 || j == 18 || j == 23)
				assert_int_equal(id[j], '-');
			else
				assert_non_null(strchr("0123456789abcdef", id[j]));
		}
		assert_int_equal(id[14], '4');
		assert_non_null(strchr("89ab", id[19]));
	}
}

static int
compare_ids(const void *a, const void *b)
{
	return memcmp(a, b, UUID_STR_LEN + 1);
}

static void
ten_thousand_uuids_are_all_different(void **state)
{
	enum { N = 10000 };
	char (*ids)[UUID_STR_LEN + 1] = malloc(N * sizeof *ids);
	int i;

	(void)state;
	assert_non_null(ids);
	for (i = 0; i < N; i++)
		assert_int_equal(uuid_v4(ids[i]), 0);
	qsort(ids, N, sizeof *ids, compare_ids);
	for (i = 1; i < N; i++)
		if (memcmp(ids[i - 1], ids[i], UUID_STR_LEN) == 0)
			fail_msg("duplicate uuid %s", ids[i]);
	free(ids);
}

static void
uuid_is_v4_refuses_other_forms(void **state)
{
	(void)state;
	assert_true(uuid_is_v4(UUID1, 36));
	assert_false(uuid_is_v4(UUID1, 35));
	assert_false(uuid_is_v4(UUID1 "0", 37));
	assert_false(uuid_is_v4("0B7E5A3C-1D2F-4A6B-8C9D-0E1F2A3B4C5D", 36));
	assert_false(uuid_is_v4("0b7e5a3c-1d2f-5a6b-8c9d-0e1f2a3b4c5d", 36));
	assert_false(uuid_is_v4("0b7e5a3c-1d2f-4a6b-7c9d-0e1f2a3b4c5d", 36));
	assert_false(uuid_is_v4("0b7e5a3c-1d2f-4a6b-cc9d-0e1f2a3b4c5d", 36));
	assert_false(uuid_is_v4("0b7e5a3c11d2f-4a6b-8c9d-0e1f2a3b4c5d", 36));
	assert_false(uuid_is_v4("0b7e5a3c-1d2f-4a6b-8c9d-0e1f2a3b4c5g", 36));
	assert_false(uuid_is_v4("{b7e5a3c-1d2f-4a6b-8c9d-0e1f2a3b4c5}", 36));
	assert_true(uuid_is_v4("00000000-0000-4000-b000-000000000000", 36));
}

/* The plain reading of RFC 9562's text form, byte by byte. */
static bool
uuid_is_v4_reference(const char *s)
{
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return s[14] == '4' && strchr("89ab", s[19]) != NULL && s[19] != '\0';
}

/* Every byte value at every place, alone and next to a byte >= 0x80. */
static void
uuid_is_v4_agrees_with_the_reference_on_every_byte(void **state)
{
	char s[37];
	(void)state;

	for (int pos = 0; pos < 36; pos++) {
		for (int c = 0; c < 256; c++) {
			for (int high = 0; high < 2; high++) {
				memcpy(s, "0b7e5a3c-1d2f-4a6b-8c9d-0e1f2a3b4c5d", 37);
				s[pos] = (char)c;
				if (high && pos > 0)
					s[pos - 1] = (char)0xff;
				if (uuid_is_v4(s, 36) != uuid_is_v4_reference(s))
					fail_msg("byte 0x%02x at %d%s: %d", c, pos,
					    high ? " after 0xff" : "", uuid_is_v4(s, 36));
			}
		}
	}
}

/* ---- building events ---- */

static void
assert_member_order(const json_t *ev, const char *want)
{
	char got[256] = "";
	void *it;

	for (it = json_object_iter((json_t *)ev); it;
	    it = json_object_iter_next((json_t *)ev, it)) {
		if (got[0])
			strcat(got, ",");
		strcat(got, json_object_iter_key(it));
	}
	assert_string_equal(got, want);
}

/* Dump ev, check the line, and scan it back strictly into v. */
static char *
dump_and_scan(const json_t *ev, struct event_view *v)
{
	struct starry_err err;
	size_t n;
	char *s = event_dump_line(ev, &n);

	assert_non_null(s);
	assert_int_equal(n, strlen(s));
	assert_int_equal(s[n - 1], '\n');
	assert_null(memchr(s, '\n', n - 1));
	/* Scanned in place: the view points into the line we return. */
	if (event_scan_line(s, n - 1, 0, v, &err) != 0)
		fail_msg("rejected (%s): %s", err.msg, s);
	return s;
}

static void
a_created_event_has_every_field_in_order_and_scans_valid(void **state)
{
	struct starry_err err = { 0 };
	struct event_origin o = { .source = "starry-bus", .priority = -1 };
	struct event_view v;
	json_t *ev;
	char *line, id[64], trace[64];
	int64_t before = event_now_ms();

	(void)state;
	ev = event_create("test:made", json_pack("{s:s}", "k", "v"), &o, &err);
	assert_non_null(ev);
	assert_member_order(ev, "id,timestamp,traceId,source,sessionId,priority,type,payload");
	line = dump_and_scan(ev, &v);
	assert_true(v.timestamp >= before && v.timestamp <= event_now_ms());
	assert_int_equal(v.priority, EVENT_PRIORITY_DEFAULT);
	assert_field(&v.session_id, "default");
	assert_field(&v.source, "starry-bus");
	assert_field(&v.type, "test:made");
	assert_memory_equal(v.payload, "{\"k\":\"v\"}", v.payload_len);
	assert_int_equal(event_str_copy(&v.id, id, sizeof id), 36);
	assert_int_equal(event_str_copy(&v.trace_id, trace, sizeof trace), 36);
	assert_true(uuid_is_v4(trace, 36));
	assert_string_not_equal(id, trace);
	free(line);
	json_decref(ev);

	o = (struct event_origin){ .trace_id = "tr", .parent_id = "pa",
	    .session_id = "se", .priority = 0 };
	ev = event_create("test:made", NULL, &o, &err);
	assert_non_null(ev);
	assert_member_order(ev,
	    "id,timestamp,traceId,parentId,source,sessionId,priority,type,payload");
	line = dump_and_scan(ev, &v);
	assert_field(&v.trace_id, "tr");
	assert_field(&v.parent_id, "pa");
	assert_field(&v.source, "starry");
	assert_int_equal(v.priority, 0);
	assert_memory_equal(v.payload, "null", 4);
	free(line);
	json_decref(ev);

	ev = event_create("test:made", json_integer(1), NULL, &err);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "source")), "starry");
	json_decref(ev);
}

static void
create_refuses_a_bad_type_or_origin(void **state)
{
	static const struct { const char *type; struct event_origin o; const char *msg; } cases[] = {
		{ "nocolon", { .priority = -1 },
		  "field \"type\": expected NAMESPACE:NAME, got \"nocolon\"" },
		{ NULL, { .priority = -1 }, "field \"type\": expected a string" },
		{ "", { .priority = -1 }, "field \"type\": empty" },
		{ "a:b\n", { .priority = -1 },
		  "field \"type\": expected NAMESPACE:NAME, got \"a:b?\"" },
		{ "a:\xff", { .priority = -1 }, "field \"type\": invalid UTF-8" },
		{ "a:b", { .source = "", .priority = -1 }, "field \"source\": empty" },
		{ "a:b", { .session_id = "", .priority = -1 }, "field \"sessionId\": empty" },
		{ "a:b", { .parent_id = "", .priority = -1 }, "field \"parentId\": empty" },
		{ "a:b", { .source = "\xc3", .priority = -1 }, "field \"source\": invalid UTF-8" },
		{ "a:b", { .priority = 6 },
		  "field \"priority\": expected an integer 0..5, got 6" },
		{ "a:b", { .priority = -2 },
		  "field \"priority\": expected an integer 0..5, got -2" },
	};
	struct starry_err err;
	size_t i;
	char *t;
	struct event_origin o = { .priority = -1 };

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(&err, 0, sizeof err);
		/* The payload is stolen even on failure: LSan checks it. */
		assert_null(event_create(cases[i].type, json_object(), &cases[i].o, &err));
		assert_string_equal(err.msg, cases[i].msg);
		assert_int_equal(err.code, EX_DATAERR);
	}
	t = repeat("x", 127, "a:", "");
	assert_null(event_create(t, NULL, NULL, &err));
	assert_string_equal(err.msg, "field \"type\": longer than 128 bytes");
	o.trace_id = t;
	assert_null(event_create("a:b", NULL, &o, &err));
	assert_string_equal(err.msg, "field \"traceId\": longer than 128 bytes");
	o.trace_id = NULL;
	o.parent_id = t;
	assert_null(event_create("a:b", NULL, &o, &err));
	assert_string_equal(err.msg, "field \"parentId\": longer than 128 bytes");
	free(t);
}

static void
a_derived_event_inherits_trace_and_session_and_names_its_parent(void **state)
{
	const char *cause = envelope(2, "traceId", "\"tr\\u0061ce\"", "sessionId", "\"sess-9\"");
	struct event_origin o = { .source = "worker", .priority = -1 };
	struct event_cause_buf buf;
	struct starry_err err;
	struct event_view cv, v;
	char *keep, *line;
	json_t *ev;

	(void)state;
	accepted_n(cause, strlen(cause), 0, &cv, &keep);
	assert_int_equal(event_origin_from_cause(&o, &cv, &buf, &err), 0);
	assert_string_equal(o.trace_id, "trace");
	assert_string_equal(o.session_id, "sess-9");
	assert_string_equal(o.parent_id, UUID1);
	ev = event_create("work:done", NULL, &o, &err);
	assert_non_null(ev);
	line = dump_and_scan(ev, &v);
	assert_field(&v.trace_id, "trace");
	assert_field(&v.session_id, "sess-9");
	assert_field(&v.parent_id, UUID1);
	assert_field(&v.source, "worker");
	assert_false(event_str_equals(&v.id, UUID1));
	free(line);
	json_decref(ev);

	/* Fields the caller set are kept. */
	o = (struct event_origin){ .trace_id = "mine", .priority = -1 };
	assert_int_equal(event_origin_from_cause(&o, &cv, &buf, &err), 0);
	assert_string_equal(o.trace_id, "mine");
	assert_string_equal(o.session_id, "sess-9");
	free(keep);
}

static void
a_cloudevent_cause_gives_what_it_has(void **state)
{
	const char *cause = "{\"specversion\":\"1.0\",\"id\":\"ce-1\",\"source\":\"s\",\"type\":\"t\"}";
	struct event_origin o = { .priority = -1 };
	struct event_cause_buf buf;
	struct starry_err err;
	struct event_view cv;
	char *keep;

	(void)state;
	accepted_n(cause, strlen(cause), 0, &cv, &keep);
	assert_int_equal(event_origin_from_cause(&o, &cv, &buf, &err), 0);
	assert_null(o.trace_id);
	assert_null(o.session_id);
	assert_string_equal(o.parent_id, "ce-1");
	free(keep);
}

static void
a_cause_with_a_huge_session_cannot_be_derived_from(void **state)
{
	char *s = repeat("s", 5000, "\"", "\"");
	struct event_origin o = { .priority = -1 };
	struct event_cause_buf buf;
	struct starry_err err;
	struct event_view cv;
	char *keep;

	(void)state;
	ACCEPTED(envelope(1, "sessionId", s), 0, &cv, &keep);
	assert_int_equal(event_origin_from_cause(&o, &cv, &buf, &err), -1);
	assert_string_equal(err.msg, "field \"sessionId\" of the cause: longer than 4095 bytes");
	free(keep);
	free(s);
}

static void
the_environment_fills_only_unset_origin_fields(void **state)
{
	struct event_origin o = { .trace_id = "mine", .priority = -1 };

	(void)state;
	setenv("STARRY_TRACE_ID", "t-env", 1);
	setenv("STARRY_SESSION_ID", "", 1);
	setenv("STARRY_CAUSE_ID", "c-env", 1);
	event_origin_from_env(&o);
	assert_string_equal(o.trace_id, "mine");
	assert_null(o.session_id);
	assert_string_equal(o.parent_id, "c-env");
	o = (struct event_origin){ .priority = -1 };
	setenv("STARRY_SESSION_ID", "s-env", 1);
	event_origin_from_env(&o);
	assert_string_equal(o.trace_id, "t-env");
	assert_string_equal(o.session_id, "s-env");
	unsetenv("STARRY_TRACE_ID");
	unsetenv("STARRY_SESSION_ID");
	unsetenv("STARRY_CAUSE_ID");
	o = (struct event_origin){ .priority = -1 };
	event_origin_from_env(&o);
	assert_null(o.trace_id);
	assert_null(o.session_id);
	assert_null(o.parent_id);
}

static void
complete_fills_missing_fields_and_keeps_present_ones(void **state)
{
	struct event_origin o = { .source = "agent-1", .session_id = "s1",
	    .trace_id = "t-origin", .parent_id = "p1", .priority = 2 };
	struct starry_err err;
	struct event_view v;
	json_t *ev;
	char *line;

	(void)state;
	ev = json_loads("{\"type\":\"agent:said\",\"payload\":{\"x\":1},\"traceId\":\"keep\","
	    "\"mood\":\"ok\"}", 0, NULL);
	assert_non_null(ev);
	assert_int_equal(event_complete(ev, &o, &err), 0);
	line = dump_and_scan(ev, &v);
	assert_field(&v.trace_id, "keep");
	assert_field(&v.source, "agent-1");
	assert_field(&v.session_id, "s1");
	assert_field(&v.parent_id, "p1");
	assert_int_equal(v.priority, 2);
	assert_true(v.timestamp > 0);
	assert_string_equal(json_string_value(json_object_get(ev, "mood")), "ok");
	free(line);
	json_decref(ev);

	ev = json_loads("{\"type\":\"a:b\",\"priority\":\"high\",\"id\":\"x\"}", 0, NULL);
	assert_int_equal(event_complete(ev, NULL, &err), 0);
	assert_string_equal(json_string_value(json_object_get(ev, "priority")), "high");
	assert_string_equal(json_string_value(json_object_get(ev, "id")), "x");
	assert_string_equal(json_string_value(json_object_get(ev, "source")), "starry");
	assert_string_equal(json_string_value(json_object_get(ev, "sessionId")), "default");
	assert_true(json_is_null(json_object_get(ev, "payload")));
	assert_null(json_object_get(ev, "parentId"));
	assert_true(uuid_is_v4(json_string_value(json_object_get(ev, "traceId")), 36));
	json_decref(ev);

	ev = json_array();
	assert_int_equal(event_complete(ev, NULL, &err), -1);
	assert_string_equal(err.msg, "not a JSON object");
	json_decref(ev);
}

static void
a_line_is_compact_utf8_with_one_newline(void **state)
{
	json_t *ev = json_pack("{s:s,s:[i,i],s:s}", "b", "caf\xc3\xa9", "a", 1, 2, "c", "/");
	size_t n;
	char *s;

	(void)state;
	s = event_dump_line(ev, &n);
	assert_string_equal(s, "{\"b\":\"caf\xc3\xa9\",\"a\":[1,2],\"c\":\"/\"}\n");
	assert_int_equal(n, strlen(s));
	free(s);
	json_decref(ev);
}

static void
a_rejected_line_becomes_a_valid_kernel_error(void **state)
{
	static const char raw[] = "{\"bad\xff\xc0\x80 \0 json\"\n";
	const char want[] = "{\"bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd \0 json\"\n";
	struct event_view v;
	json_t *ev, *payload, *back;
	char *line;

	(void)state;
	ev = event_reject("agent-3", "in.jsonl", raw, sizeof raw - 1, 42, "invalid UTF-8 at column 6");
	assert_non_null(ev);
	line = dump_and_scan(ev, &v);
	assert_field(&v.type, "KERNEL:ERROR");
	assert_field(&v.source, "agent-3");
	back = json_loadb(v.payload, v.payload_len, JSON_ALLOW_NUL, NULL);
	assert_non_null(back);
	payload = json_object_get(ev, "payload");
	assert_true(json_equal(back, payload));
	assert_member_order(payload, "code,message,source,input,line,raw");
	assert_string_equal(json_string_value(json_object_get(payload, "input")), "in.jsonl");
	assert_string_equal(json_string_value(json_object_get(payload, "code")), "EBADEVENT");
	assert_string_equal(json_string_value(json_object_get(payload, "message")),
	    "invalid UTF-8 at column 6");
	assert_string_equal(json_string_value(json_object_get(payload, "source")), "agent-3");
	assert_int_equal(json_integer_value(json_object_get(payload, "line")), 42);
	assert_int_equal(json_string_length(json_object_get(payload, "raw")), sizeof want - 1);
	assert_memory_equal(json_string_value(json_object_get(payload, "raw")), want,
	    sizeof want - 1);
	json_decref(back);
	free(line);
	json_decref(ev);

	ev = event_reject(NULL, NULL, NULL, 0, 1, NULL);
	assert_non_null(ev);
	line = dump_and_scan(ev, &v);
	assert_field(&v.source, "starry");
	assert_null(json_object_get(json_object_get(ev, "payload"), "input"));
	free(line);
	json_decref(ev);
}

static void
now_ms_is_the_current_time(void **state)
{
	int64_t now = event_now_ms();
	int64_t t = (int64_t)time(NULL) * 1000;

	(void)state;
	assert_true(now > 1600000000000LL);
	assert_true(now >= t - 2000 && now <= t + 2000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_complete_envelope_is_accepted_and_its_routing_fields_located),
		cmocka_unit_test(members_may_come_in_any_order_and_extra_members_are_allowed),
		cmocka_unit_test(escaped_fields_are_accepted_and_decoded),
		cmocka_unit_test(keys_spelled_with_escapes_are_still_routing_keys),
		cmocka_unit_test(a_trailing_cr_and_surrounding_white_space_are_accepted),
		cmocka_unit_test(the_payload_may_be_any_json_value),
		cmocka_unit_test(a_parent_id_is_optional_and_located_when_present),
		cmocka_unit_test(a_cloudevent_is_recognised_by_specversion),
		cmocka_unit_test(empty_lines_are_rejected),
		cmocka_unit_test(malformed_json_is_rejected_with_its_column_and_reason),
		cmocka_unit_test(invalid_utf8_is_rejected_with_its_column),
		cmocka_unit_test(only_a_json_object_is_an_event),
		cmocka_unit_test(the_first_missing_field_is_reported_in_envelope_order),
		cmocka_unit_test(a_routing_field_given_twice_is_rejected),
		cmocka_unit_test(id_must_be_a_uuid_v4),
		cmocka_unit_test(a_lenient_id_is_any_short_non_empty_string),
		cmocka_unit_test(timestamp_must_be_a_positive_int64),
		cmocka_unit_test(trace_id_must_be_a_short_non_empty_string),
		cmocka_unit_test(source_and_session_id_must_be_non_empty_strings),
		cmocka_unit_test(priority_must_be_an_integer_from_0_to_5),
		cmocka_unit_test(type_must_be_namespace_colon_name),
		cmocka_unit_test(parent_id_when_present_must_be_a_short_non_empty_string),
		cmocka_unit_test(field_lengths_count_decoded_bytes),
		cmocka_unit_test(string_fields_that_decode_to_nul_are_rejected),
		cmocka_unit_test(deep_nesting_is_rejected_without_recursion),
		cmocka_unit_test(a_one_mib_string_is_scanned_to_the_end),
		cmocka_unit_test(nul_bytes_inside_the_line_are_rejected_not_truncated),
		cmocka_unit_test(every_truncated_prefix_of_a_valid_event_is_rejected),
		cmocka_unit_test(single_byte_mutations_never_crash),
		cmocka_unit_test(uuid_v4_is_canonical_lowercase),
		cmocka_unit_test(ten_thousand_uuids_are_all_different),
		cmocka_unit_test(uuid_is_v4_refuses_other_forms),
		cmocka_unit_test(uuid_is_v4_agrees_with_the_reference_on_every_byte),
		cmocka_unit_test(a_created_event_has_every_field_in_order_and_scans_valid),
		cmocka_unit_test(create_refuses_a_bad_type_or_origin),
		cmocka_unit_test(a_derived_event_inherits_trace_and_session_and_names_its_parent),
		cmocka_unit_test(a_cloudevent_cause_gives_what_it_has),
		cmocka_unit_test(a_cause_with_a_huge_session_cannot_be_derived_from),
		cmocka_unit_test(the_environment_fills_only_unset_origin_fields),
		cmocka_unit_test(complete_fills_missing_fields_and_keeps_present_ones),
		cmocka_unit_test(a_line_is_compact_utf8_with_one_newline),
		cmocka_unit_test(a_rejected_line_becomes_a_valid_kernel_error),
		cmocka_unit_test(now_ms_is_the_current_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
