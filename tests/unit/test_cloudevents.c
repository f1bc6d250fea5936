/* lib/cloudevents.c: RFC 3339 both ways, starry <-> CloudEvents 1.0
 * structured JSON, every error's text, and hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "cloudevents.h"
#include "event.h"
#include "uuid.h"

#define ID1     "0b0c6a64-3c33-4c7e-9b5e-8a1f1e4d2c11"
#define TRACE1  "5f1d2c3b-4a59-4c68-8d7e-6f5a4b3c2d1e"
#define PARENT1 "9d7e6f5a-4b3c-4d1e-8f0a-1b2c3d4e5f60"

/* ---- helpers ---- */

static char *
to_starry(const char *ce)
{
	struct starry_err err = { 0 };
	size_t n = 0;
	char *out = cloudevent_to_line(ce, strlen(ce), &n, &err);

	if (out == NULL)
		fail_msg("cloudevent_to_line(%s): %s", ce, err.msg);
	assert_int_equal(n, strlen(out));
	assert_int_equal(out[n - 1], '\n');
	return out;
}

static char *
to_ce(const char *line)
{
	struct starry_err err = { 0 };
	size_t n = 0;
	char *out = cloudevent_from_line(line, strlen(line), &n, &err);

	if (out == NULL)
		fail_msg("cloudevent_from_line(%s): %s", line, err.msg);
	assert_int_equal(n, strlen(out));
	assert_int_equal(out[n - 1], '\n');
	return out;
}

static void
expect_to_starry_error(const char *ce, const char *msg)
{
	struct starry_err err = { 0 };
	char *out = cloudevent_to_line(ce, strlen(ce), NULL, &err);

	if (out != NULL)
		fail_msg("accepted %s as %s", ce, out);
	assert_int_equal(err.code, EX_DATAERR);
	assert_string_equal(err.msg, msg);
}

static void
expect_to_ce_error(const char *line, const char *msg)
{
	struct starry_err err = { 0 };
	char *out = cloudevent_from_line(line, strlen(line), NULL, &err);

	if (out != NULL)
		fail_msg("accepted %s as %s", line, out);
	assert_int_equal(err.code, EX_DATAERR);
	assert_string_equal(err.msg, msg);
}

/* The line (with its '\n') scans as a starry event, leniently. */
static void
assert_scans(const char *line, unsigned flags)
{
	struct event_view v;
	struct starry_err err = { 0 };
	size_t n = strlen(line);

	assert_true(n > 0 && line[n - 1] == '\n');
	if (event_scan_line(line, n - 1, flags, &v, &err) < 0)
		fail_msg("event_scan_line(%s): %s", line, err.msg);
	assert_false(v.cloudevent);
}

static json_t *
parse(const char *line)
{
	json_error_t jerr;
	json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);

	if (j == NULL)
		fail_msg("not JSON (%s): %s", jerr.text, line);
	return j;
}

static const char *
member_string(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		fail_msg("no string member %s", key);
	return s;
}

/* traceparent is "00-<32 lowercase hex>-<16 lowercase hex>-01", neither
 * part all zeros. */
static void
assert_traceparent(const char *tp)
{
	size_t i;
	int zeros_t = 0, zeros_s = 0;

	assert_int_equal(strlen(tp), 55);
	assert_memory_equal(tp, "00-", 3);
	assert_int_equal(tp[35], '-');
	assert_string_equal(tp + 52, "-01");
	for (i = 3; i < 52; i++) {
		if (i == 35)
			continue;
		assert_true(strchr("0123456789abcdef", tp[i]) != NULL);
		if (tp[i] == '0')
			i < 35 ? zeros_t++ : zeros_s++;
	}
	assert_true(zeros_t < 32 && zeros_s < 16);
}

/* ---- RFC 3339 ---- */

static void
format_time_writes_utc_with_milliseconds(void **state)
{
	static const struct { long long ms; const char *text; } cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1795402315123LL, "2026-11-23T02:51:55.123Z" },
		{ 1709208000000LL, "2024-02-29T12:00:00.000Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
		{ -62135596800000LL, "0001-01-01T00:00:00.000Z" },
		{ CLOUDEVENT_TIME_MAX_MS, "9999-12-31T23:59:59.999Z" },
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cloudevent_format_time(cases[i].ms, out);
		assert_string_equal(out, cases[i].text);
		assert_int_equal(strlen(out), CLOUDEVENT_TIME_LEN);
	}
	/* The extremes still fit out[32] without a crash. */
	cloudevent_format_time(INT64_MAX, out);
	assert_true(strlen(out) < 32);
	cloudevent_format_time(INT64_MIN, out);
	assert_true(strlen(out) < 32);
}

static void
parse_time_accepts_rfc3339(void **state)
{
	static const struct { const char *text; long long ms; } cases[] = {
		{ "2026-11-23T02:51:55.123Z", 1795402315123LL },
		{ "2018-04-05T17:31:00Z", 1522949460000LL },
		{ "2018-04-05t17:31:00z", 1522949460000LL },
		/* RFC 3339 section 5.8's examples */
		{ "1985-04-12T23:20:50.52Z", 482196050520LL },
		{ "1996-12-19T16:39:57-08:00", 851042397000LL },
		{ "1990-12-31T23:59:60Z", 662688000000LL },
		{ "1990-12-31T15:59:60-08:00", 662688000000LL },
		{ "1937-01-01T12:00:27.87+00:20", -1041337172130LL },
		{ "2018-04-05T17:31:00.1Z", 1522949460100LL },
		{ "2018-04-05T17:31:00.999999999999999999999999999999Z",
		    1522949460999LL },
		{ "2018-04-05T19:31:00+02:00", 1522949460000LL },
		{ "2018-04-05T17:31:00-00:00", 1522949460000LL },
		{ "2024-02-29T12:00:00Z", 1709208000000LL },
		{ "2000-02-29T00:00:00Z", 951782400000LL },
		{ "0000-01-01T00:00:00Z", -62167219200000LL },
		{ "9999-12-31T23:59:59.999Z", CLOUDEVENT_TIME_MAX_MS },
	};
	long long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ms = 42;
		if (cloudevent_parse_time(cases[i].text, strlen(cases[i].text),
		    &ms) < 0)
			fail_msg("refused %s", cases[i].text);
		assert_int_equal(ms, cases[i].ms);
	}
}

static void
parse_time_refuses_garbage_and_out_of_range(void **state)
{
	static const char *const bad[] = {
		"", "Z", "2018-04-05", "2018-04-05T17:31:00",
		"2018-04-05 17:31:00Z", "2018-04-05T17:31Z",
		"18-04-05T17:31:00Z", "2018-4-05T17:31:00Z",
		"+2018-04-05T17:31:00Z", "-2018-04-05T17:31:00Z",
		"20180-04-05T17:31:00Z", "2018/04/05T17:31:00Z",
		"2018-00-05T17:31:00Z", "2018-13-05T17:31:00Z",
		"2018-04-00T17:31:00Z", "2018-04-31T17:31:00Z",
		"2019-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
		"2018-04-05T24:00:00Z", "2018-04-05T17:60:00Z",
		"2018-04-05T17:31:61Z", "2018-04-05T17:31:00.Z",
		"2018-04-05T17:31:00.5.5Z", "2018-04-05T17:31:00,5Z",
		"2018-04-05T17:31:00+24:00", "2018-04-05T17:31:00+05:60",
		"2018-04-05T17:31:00+0500", "2018-04-05T17:31:00+05",
		"2018-04-05T17:31:00+05:00:00", "2018-04-05T17:31:00ZZ",
		"2018-04-05T17:31:00Z ", " 2018-04-05T17:31:00Z",
		"2018-04-05T17:31:00UTC", "2018-04-05T17:31:00 Z",
		"2018-04-05T1a:31:00Z", "2018-04-05T17:31:0aZ",
		"２０１８-04-05T17:31:00Z", "2018-04-05T17:31:00\xc2\xa0Z",
	};
	long long ms;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (cloudevent_parse_time(bad[i], strlen(bad[i]), &ms) == 0)
			fail_msg("accepted \"%s\" as %lld", bad[i], ms);
	/* An embedded NUL is not the end of the text. */
	assert_int_equal(cloudevent_parse_time("2018-04-05T17:31:00Z\0x", 22,
	    &ms), -1);
	/* Every prefix of a valid time is refused and read within bounds. */
	for (i = 0; i < 24; i++) {
		char *p = malloc(i + 1);

		memcpy(p, "2026-11-23T02:51:55.123Z", i);
		assert_int_equal(cloudevent_parse_time(p, i, &ms), -1);
		free(p);
	}
}

static void
format_then_parse_gives_the_same_instant(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char text[32];
	long long ms, back;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ms = (long long)(x % (uint64_t)CLOUDEVENT_TIME_MAX_MS);
		cloudevent_format_time(ms, text);
		assert_int_equal(cloudevent_parse_time(text, strlen(text),
		    &back), 0);
		assert_int_equal(back, ms);
	}
}

/* ---- starry -> CloudEvents ---- */

#define STARRY1 "{\"id\":\"" ID1 "\",\"timestamp\":1795402315123," \
	"\"traceId\":\"" TRACE1 "\",\"parentId\":\"" PARENT1 "\"," \
	"\"source\":\"git-hook\",\"sessionId\":\"s1\",\"priority\":2," \
	"\"type\":\"git:commit_pushed\",\"payload\":{\"branch\":\"main\"," \
	"\"files\":[\"a.c\",\"b\\\"c\"]},\"agentId\":\"a1\",\"n\":1.50}"

static void
from_line_writes_the_documented_members_in_order(void **state)
{
	char *ce;

	(void)state;
	ce = to_ce(STARRY1);
	assert_string_equal(ce, "{\"specversion\":\"1.0\",\"id\":\"" ID1 "\","
	    "\"source\":\"git-hook\",\"type\":\"git:commit_pushed\","
	    "\"time\":\"2026-11-23T02:51:55.123Z\","
	    "\"datacontenttype\":\"application/json\","
	    "\"data\":{\"branch\":\"main\",\"files\":[\"a.c\",\"b\\\"c\"]},"
	    "\"traceparent\":\"00-5f1d2c3b4a594c688d7e6f5a4b3c2d1e-"
	    "0b0c6a643c334c7e-01\",\"sessionid\":\"s1\",\"priority\":2,"
	    "\"causationid\":\"" PARENT1 "\",\"agentId\":\"a1\",\"n\":1.50}\n");
	free(ce);
}

static void
from_line_writes_one_line_whatever_the_layout(void **state)
{
	char *ce;

	(void)state;
	ce = to_ce("{ \"id\" : \"" ID1 "\",\n\"timestamp\":1,\"traceId\":\""
	    TRACE1 "\",\"source\":\"s\",\"sessionId\":\"d\",\"priority\":3,"
	    "\"type\":\"a:b\",\"payload\": {\r\n \"a b\" :\t[ 1 , \" x \\\" \" ] }"
	    " ,\"x\": [ ]\n}");
	assert_non_null(strstr(ce, ",\"data\":{\"a b\":[1,\" x \\\" \"]},"));
	assert_non_null(strstr(ce, ",\"x\":[]}\n"));
	assert_null(strchr(ce, '\r'));
	assert_ptr_equal(strchr(ce, '\n'), ce + strlen(ce) - 1);
	free(ce);
}

static void
from_line_without_parent_writes_no_causationid(void **state)
{
	char *ce;
	json_t *j;

	(void)state;
	ce = to_ce("{\"id\":\"" ID1 "\",\"timestamp\":1,\"traceId\":\"" TRACE1
	    "\",\"source\":\"s\",\"sessionId\":\"default\",\"priority\":3,"
	    "\"type\":\"a:b\",\"payload\":null}");
	j = parse(ce);
	assert_null(json_object_get(j, "causationid"));
	assert_null(json_object_get(j, "traceid"));
	assert_true(json_is_null(json_object_get(j, "data")));
	assert_string_equal(member_string(j, "time"),
	    "1970-01-01T00:00:00.001Z");
	json_decref(j);
	free(ce);
}

static void
from_line_hashes_a_trace_that_is_no_uuid_and_keeps_it(void **state)
{
	const char *line = "{\"id\":\"job-7\",\"timestamp\":1795402315123,"
	    "\"traceId\":\"build-42\",\"source\":\"ci\",\"sessionId\":\"s\","
	    "\"priority\":3,\"type\":\"ci:done\",\"payload\":1}";
	char *a, *b;
	json_t *j;

	(void)state;
	a = to_ce(line);
	b = to_ce(line);
	assert_string_equal(a, b);	/* stable */
	j = parse(a);
	assert_traceparent(member_string(j, "traceparent"));
	assert_string_equal(member_string(j, "traceid"), "build-42");
	json_decref(j);
	free(a);
	free(b);
}

static void
from_line_keeps_traceid_when_the_uuid_form_would_change_it(void **state)
{
	static const char *const traces[] = {
		"5F1D2C3B-4A59-4C68-8D7E-6F5A4B3C2D1E",
		"5f1d2c3b4a594c688d7e6f5a4b3c2d1e",
		"00000000-0000-0000-0000-000000000000",
	};
	char line[512], *ce;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof traces / sizeof traces[0]; i++) {
		snprintf(line, sizeof line, "{\"id\":\"" ID1 "\",\"timestamp\":1,"
		    "\"traceId\":\"%s\",\"source\":\"s\",\"sessionId\":\"d\","
		    "\"priority\":3,\"type\":\"a:b\",\"payload\":0}", traces[i]);
		ce = to_ce(line);
		j = parse(ce);
		assert_traceparent(member_string(j, "traceparent"));
		assert_string_equal(member_string(j, "traceid"), traces[i]);
		if (i < 2)
			assert_memory_equal(member_string(j, "traceparent"),
			    "00-5f1d2c3b4a594c688d7e6f5a4b3c2d1e-", 36);
		json_decref(j);
		free(ce);
	}
}

static void
from_line_hashes_an_id_that_is_not_hex(void **state)
{
	static const char *const ids[] = { "A234-1234-1234", "job-7",
	    "00000000-0000-4000-8000-000000000000", "\\u00e9v\\u00e9nement" };
	char line[512], *ce;
	json_t *j;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		snprintf(line, sizeof line, "{\"id\":\"%s\",\"timestamp\":1,"
		    "\"traceId\":\"" TRACE1 "\",\"source\":\"s\",\"sessionId\":"
		    "\"d\",\"priority\":3,\"type\":\"a:b\",\"payload\":0}", ids[i]);
		ce = to_ce(line);
		j = parse(ce);
		assert_traceparent(member_string(j, "traceparent"));
		assert_null(json_object_get(j, "traceid"));
		json_decref(j);
		free(ce);
	}
}

static void
from_line_takes_the_namespace_off_a_cloudevents_type(void **state)
{
	char *ce;
	json_t *j;

	(void)state;
	ce = to_ce("{\"id\":\"" ID1 "\",\"timestamp\":1,\"traceId\":\"" TRACE1
	    "\",\"source\":\"s\",\"sessionId\":\"d\",\"priority\":3,\"type\":"
	    "\"ce:com.github.pull_request.opened\",\"payload\":0}");
	j = parse(ce);
	assert_string_equal(member_string(j, "type"),
	    "com.github.pull_request.opened");
	json_decref(j);
	free(ce);
	/* A type of another namespace stays whole. */
	ce = to_ce("{\"id\":\"" ID1 "\",\"timestamp\":1,\"traceId\":\"" TRACE1
	    "\",\"source\":\"s\",\"sessionId\":\"d\",\"priority\":3,\"type\":"
	    "\"ce:x:y\",\"payload\":0}");
	j = parse(ce);
	assert_string_equal(member_string(j, "type"), "ce:x:y");
	json_decref(j);
	free(ce);
}

static void
from_line_passes_a_cloudevent_through(void **state)
{
	const char *ce = "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
	    "\"type\":\"t\"}";
	char *out;

	(void)state;
	out = to_ce(ce);
	assert_memory_equal(out, ce, strlen(ce));
	assert_string_equal(out + strlen(ce), "\n");
	free(out);
}

static void
from_line_reports_each_error(void **state)
{
	struct starry_err err = { 0 };

	(void)state;
	expect_to_ce_error("{\"id\":\"" ID1 "\",\"timestamp\":253402300800000,"
	    "\"traceId\":\"t\",\"source\":\"s\",\"sessionId\":\"d\","
	    "\"priority\":3,\"type\":\"a:b\",\"payload\":0}",
	    "field \"timestamp\": 253402300800000 is after "
	    "9999-12-31T23:59:59.999Z, beyond RFC 3339");
	expect_to_ce_error("{\"id\":\"" ID1 "\",\"timestamp\":1,"
	    "\"traceId\":\"t\",\"source\":\"s\",\"sessionId\":\"d\","
	    "\"priority\":3,\"type\":\"a:b\",\"payload\":0,\"time\":\"x\"}",
	    "member \"time\" collides with a CloudEvents attribute");
	expect_to_ce_error("{\"id\":\"" ID1 "\",\"timestamp\":1,"
	    "\"traceId\":\"t\",\"source\":\"s\",\"sessionId\":\"d\","
	    "\"priority\":3,\"type\":\"a:b\",\"payload\":0,"
	    "\"trace\\u0069d\":\"x\"}",
	    "member \"traceid\" collides with a CloudEvents attribute");
	/* An envelope that does not scan is refused with the scanner's
	 * reason. */
	assert_null(cloudevent_from_line("{\"id\":1}", 8, NULL, &err));
	assert_int_equal(err.code, EX_DATAERR);
	assert_true(err.msg[0] != '\0');
}

/* ---- CloudEvents -> starry ---- */

/* The CloudEvents 1.0 spec's own samples (spec.md, json-format.md). */
static void
to_line_converts_the_spec_samples(void **state)
{
	const char *spec = "{\n"
	    "    \"specversion\" : \"1.0\",\n"
	    "    \"type\" : \"com.github.pull_request.opened\",\n"
	    "    \"source\" : \"https://github.com/cloudevents/spec/pull\",\n"
	    "    \"subject\" : \"123\",\n"
	    "    \"id\" : \"A234-1234-1234\",\n"
	    "    \"time\" : \"2018-04-05T17:31:00Z\",\n"
	    "    \"comexampleextension1\" : \"value\",\n"
	    "    \"comexampleothervalue\" : 5,\n"
	    "    \"datacontenttype\" : \"text/xml\",\n"
	    "    \"data\" : \"<much wow=\\\"xml\\\"/>\"\n"
	    "}";
	const char *json_format = "{\n"
	    "  \"specversion\" : \"1.0\",\n"
	    "  \"type\" : \"com.example.someevent\",\n"
	    "  \"source\" : \"/mycontext\",\n"
	    "  \"id\" : \"A234-1234-1234\",\n"
	    "  \"time\" : \"2018-04-05T17:31:00Z\",\n"
	    "  \"comexampleextension1\" : \"value\",\n"
	    "  \"comexampleothervalue\" : 5,\n"
	    "  \"datacontenttype\" : \"application/json\",\n"
	    "  \"data\" : {\n"
	    "    \"appinfoA\" : \"abc\",\n"
	    "    \"appinfoB\" : 123,\n"
	    "    \"appinfoC\" : true\n"
	    "  }\n"
	    "}";
	char *line, expect[1024];
	const char *trace;

	(void)state;
	line = to_starry(spec);
	trace = strstr(line, "\"traceId\":\"");
	assert_non_null(trace);
	trace += 11;
	assert_true(uuid_is_v4(trace, 36));	/* a fresh trace */
	snprintf(expect, sizeof expect, "{\"id\":\"A234-1234-1234\","
	    "\"timestamp\":1522949460000,\"traceId\":\"%.36s\","
	    "\"source\":\"https://github.com/cloudevents/spec/pull\","
	    "\"sessionId\":\"default\",\"priority\":3,"
	    "\"type\":\"ce:com.github.pull_request.opened\","
	    "\"payload\":\"<much wow=\\\"xml\\\"/>\",\"subject\":\"123\","
	    "\"comexampleextension1\":\"value\",\"comexampleothervalue\":5}\n",
	    trace);
	assert_string_equal(line, expect);
	assert_scans(line, EVENT_LENIENT);
	free(line);

	line = to_starry(json_format);
	trace = strstr(line, "\"traceId\":\"") + 11;
	snprintf(expect, sizeof expect, "{\"id\":\"A234-1234-1234\","
	    "\"timestamp\":1522949460000,\"traceId\":\"%.36s\","
	    "\"source\":\"/mycontext\",\"sessionId\":\"default\","
	    "\"priority\":3,\"type\":\"ce:com.example.someevent\","
	    "\"payload\":{\"appinfoA\":\"abc\",\"appinfoB\":123,"
	    "\"appinfoC\":true},\"comexampleextension1\":\"value\","
	    "\"comexampleothervalue\":5}\n", trace);
	assert_string_equal(line, expect);
	assert_scans(line, EVENT_LENIENT);
	free(line);
}

static void
to_line_takes_the_trace_from_traceparent(void **state)
{
	char *line;

	(void)state;
	/* The W3C Trace Context spec's example. */
	line = to_starry("{\"specversion\":\"1.0\",\"id\":\"" ID1 "\","
	    "\"source\":\"s\",\"type\":\"a:b\",\"time\":\"2018-04-05T17:31:00Z\","
	    "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01\"}");
	assert_string_equal(line, "{\"id\":\"" ID1 "\",\"timestamp\":"
	    "1522949460000,\"traceId\":\"4bf92f35-77b3-4da6-a3ce-929d0e0e4736\","
	    "\"source\":\"s\",\"sessionId\":\"default\",\"priority\":3,"
	    "\"type\":\"a:b\",\"payload\":null}\n");
	assert_scans(line, 0);
	free(line);
	/* A later version with more fields after the flags. */
	line = to_starry("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
	    "\"type\":\"a:b\",\"traceparent\":\"01-4bf92f3577b34da6a3ce929d0e0e4736"
	    "-00f067aa0ba902b7-01-what-the-future-will-be-like\"}");
	assert_non_null(strstr(line,
	    "\"traceId\":\"4bf92f35-77b3-4da6-a3ce-929d0e0e4736\""));
	free(line);
}

static void
to_line_prefers_the_traceid_extension(void **state)
{
	char *line;

	(void)state;
	line = to_starry("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
	    "\"type\":\"a:b\",\"time\":\"1970-01-01T00:00:00.001Z\","
	    "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01\",\"traceid\":\"build-42\",\"sessionid\":\"s9\","
	    "\"priority\":\"0\",\"causationid\":\"p\",\"dataschema\":\"urn:x\","
	    "\"data\":[1,{\"k\":\"v\"}]}");
	assert_string_equal(line, "{\"id\":\"x\",\"timestamp\":1,\"traceId\":"
	    "\"build-42\",\"parentId\":\"p\",\"source\":\"s\",\"sessionId\":"
	    "\"s9\",\"priority\":0,\"type\":\"a:b\",\"payload\":[1,{\"k\":\"v\"}],"
	    "\"dataschema\":\"urn:x\"}\n");
	assert_scans(line, EVENT_LENIENT);
	free(line);
}

static void
to_line_reads_priority_as_integer_or_one_digit_string(void **state)
{
	static const struct { const char *value; char expect; } cases[] = {
		{ "0", '0' }, { "5", '5' }, { "\"2\"", '2' }, { "\"0\"", '0' },
	};
	char ce[256], want[32], *line;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(ce, sizeof ce, "{\"specversion\":\"1.0\",\"id\":\"x\","
		    "\"source\":\"s\",\"type\":\"a:b\",\"priority\":%s}",
		    cases[i].value);
		line = to_starry(ce);
		snprintf(want, sizeof want, "\"priority\":%c,", cases[i].expect);
		assert_non_null(strstr(line, want));
		free(line);
	}
}

static void
to_line_fills_time_with_now_when_absent(void **state)
{
	char *line;
	json_t *j;
	long long before = event_now_ms(), t;

	(void)state;
	line = to_starry("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
	    "\"type\":\"a:b\"}");
	j = parse(line);
	t = json_integer_value(json_object_get(j, "timestamp"));
	assert_true(t >= before && t <= event_now_ms());
	json_decref(j);
	free(line);
}

static void
to_line_keeps_escapes_in_strings(void **state)
{
	char *line;
	json_t *j;

	(void)state;
	line = to_starry("{\"specversion\":\"1.0\",\"id\":\"\\u0041-\\\"1\","
	    "\"source\":\"caf\\u00e9\",\"type\":\"a:b\\u00e9\",\"time\":"
	    "\"\\u0032018-04-05T17:31:00Z\",\"sessionid\":\"\\ud83d\\ude00\","
	    "\"x\\ty\":\"\\n\"}");
	j = parse(line);
	assert_string_equal(member_string(j, "id"), "A-\"1");
	assert_string_equal(member_string(j, "source"), "caf\xc3\xa9");
	assert_string_equal(member_string(j, "type"), "a:b\xc3\xa9");
	assert_string_equal(member_string(j, "sessionId"), "\xf0\x9f\x98\x80");
	assert_string_equal(member_string(j, "x\ty"), "\n");
	assert_int_equal(json_integer_value(json_object_get(j, "timestamp")),
	    1522949460000LL);
	assert_scans(line, EVENT_LENIENT);
	json_decref(j);
	free(line);
}

#define CE_OK "\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\"," \
	"\"type\":\"a:b\""

static void
to_line_reports_each_error(void **state)
{
	static const struct { const char *ce, *msg; } cases[] = {
		{ "[]", "not a JSON object" },
		{ "\"x\"", "not a JSON object" },
		{ "{\"id\":\"x\",\"source\":\"s\",\"type\":\"a:b\"}",
		    "missing attribute \"specversion\"" },
		{ "{\"specversion\":\"0.3\",\"id\":\"x\",\"source\":\"s\","
		    "\"type\":\"a:b\"}", "attribute \"specversion\": expected \"1.0\"" },
		{ "{\"specversion\":1.0,\"id\":\"x\",\"source\":\"s\","
		    "\"type\":\"a:b\"}", "attribute \"specversion\": expected \"1.0\"" },
		{ "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"a:b\"}",
		    "missing attribute \"id\"" },
		{ "{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"s\","
		    "\"type\":\"a:b\"}", "attribute \"id\": expected a non-empty "
		    "string of at most 128 bytes" },
		{ "{\"specversion\":\"1.0\",\"id\":7,\"source\":\"s\","
		    "\"type\":\"a:b\"}", "attribute \"id\": expected a non-empty "
		    "string of at most 128 bytes" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"type\":\"a:b\"}",
		    "missing attribute \"source\"" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"\","
		    "\"type\":\"a:b\"}",
		    "attribute \"source\": expected a non-empty string" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":null,"
		    "\"type\":\"a:b\"}",
		    "attribute \"source\": expected a non-empty string" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\"}",
		    "missing attribute \"type\"" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
		    "\"type\":[\"a:b\"]}",
		    "attribute \"type\": expected a non-empty string" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
		    "\"type\":\"a: b\"}",
		    "attribute \"type\": white space or a control character" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
		    "\"type\":\"a:\\u0000b\"}",
		    "attribute \"type\": contains a NUL character" },
		{ "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
		    "\"type\":\"a:\\u0001b\"}",
		    "attribute \"type\": white space or a control character" },
		{ "{" CE_OK ",\"time\":1522949460}",
		    "attribute \"time\": expected a string" },
		{ "{" CE_OK ",\"time\":\"2018-13-05T17:31:00Z\"}",
		    "attribute \"time\": not RFC 3339: \"2018-13-05T17:31:00Z\"" },
		{ "{" CE_OK ",\"time\":\"yesterday\\n\"}",
		    "attribute \"time\": not RFC 3339: \"yesterday\\n\"" },
		{ "{" CE_OK ",\"time\":\"1969-12-31T23:59:59.999Z\"}",
		    "attribute \"time\": not after 1970-01-01T00:00:00Z: "
		    "\"1969-12-31T23:59:59.999Z\"" },
		{ "{" CE_OK ",\"data_base64\":\"AAEC\"}",
		    "data_base64 is not supported" },
		{ "{" CE_OK ",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736"
		    "-00f067aa0ba902b7\"}", "attribute \"traceparent\": not a W3C "
		    "traceparent: \"00-4bf92f3577b34da6a3ce929d0e0e4736-"
		    "00f067aa0ba902b7\"" },
		{ "{" CE_OK ",\"traceparent\":\"00-00000000000000000000000000000000"
		    "-00f067aa0ba902b7-01\"}", "attribute \"traceparent\": not a W3C "
		    "traceparent: \"00-00000000000000000000000000000000-"
		    "00f067aa0ba902b7-01\"" },
		{ "{" CE_OK ",\"traceparent\":\"00-4BF92F3577B34DA6A3CE929D0E0E4736"
		    "-00f067aa0ba902b7-01\"}", "attribute \"traceparent\": not a W3C "
		    "traceparent: \"00-4BF92F3577B34DA6A3CE929D0E0E4736-"
		    "00f067aa0ba902b7-01\"" },
		{ "{" CE_OK ",\"traceparent\":\"ff-4bf92f3577b34da6a3ce929d0e0e4736"
		    "-00f067aa0ba902b7-01\"}", "attribute \"traceparent\": not a W3C "
		    "traceparent: \"ff-4bf92f3577b34da6a3ce929d0e0e4736-"
		    "00f067aa0ba902b7-01\"" },
		{ "{" CE_OK ",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736"
		    "-00f067aa0ba902b7-01-x\"}", "attribute \"traceparent\": not a "
		    "W3C traceparent: \"00-4bf92f3577b34da6a3ce929d0e0e4736-"
		    "00f067aa0ba902b7-01-x\"" },
		{ "{" CE_OK ",\"traceparent\":7}",
		    "attribute \"traceparent\": not a W3C traceparent: 7" },
		{ "{" CE_OK ",\"traceid\":\"\"}", "attribute \"traceid\": expected "
		    "a non-empty string of at most 128 bytes" },
		{ "{" CE_OK ",\"traceid\":{}}", "attribute \"traceid\": expected "
		    "a non-empty string of at most 128 bytes" },
		{ "{" CE_OK ",\"sessionid\":\"\"}",
		    "attribute \"sessionid\": expected a non-empty string" },
		{ "{" CE_OK ",\"sessionid\":5}",
		    "attribute \"sessionid\": expected a non-empty string" },
		{ "{" CE_OK ",\"sessionid\":\"a\\u0000\"}",
		    "attribute \"sessionid\": contains a NUL character" },
		{ "{\"specversion\":\"1.0\",\"id\":\"\\u0000\",\"source\":\"s\","
		    "\"type\":\"a:b\"}",
		    "attribute \"id\": contains a NUL character" },
		{ "{" CE_OK ",\"priority\":6}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":-1}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":3.0}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":\"12\"}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":\"high\"}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":true}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":null}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"priority\":[3]}",
		    "attribute \"priority\": expected an integer 0..5" },
		{ "{" CE_OK ",\"causationid\":7}", "attribute \"causationid\": "
		    "expected a non-empty string of at most 128 bytes" },
		{ "{" CE_OK ",\"id\":\"y\"}", "duplicate attribute \"id\"" },
		{ "{" CE_OK ",\"payload\":1}",
		    "attribute \"payload\" collides with a starry envelope field" },
		{ "{" CE_OK ",\"timestamp\":1}",
		    "attribute \"timestamp\" collides with a starry envelope field" },
		{ "{" CE_OK ",\"traceId\":\"t\"}",
		    "attribute \"traceId\" collides with a starry envelope field" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_to_starry_error(cases[i].ce, cases[i].msg);
}

static void
to_line_reports_lengths_over_the_envelope_limit(void **state)
{
	char ce[1024], name[200], msg[256];

	(void)state;
	memset(name, 'i', 129);
	name[129] = '\0';
	snprintf(ce, sizeof ce, "{\"specversion\":\"1.0\",\"id\":\"%s\","
	    "\"source\":\"s\",\"type\":\"a:b\"}", name);
	expect_to_starry_error(ce, "attribute \"id\": expected a non-empty "
	    "string of at most 128 bytes");
	/* 128 is fine. */
	name[128] = '\0';
	snprintf(ce, sizeof ce, "{\"specversion\":\"1.0\",\"id\":\"%s\","
	    "\"source\":\"s\",\"type\":\"a:b\"}", name);
	free(to_starry(ce));
	/* A type without ':' gets "ce:", which must fit too. */
	memset(name, 't', 126);
	name[126] = '\0';
	snprintf(ce, sizeof ce, "{\"specversion\":\"1.0\",\"id\":\"x\","
	    "\"source\":\"s\",\"type\":\"%s\"}", name);
	snprintf(msg, sizeof msg, "attribute \"type\": longer than 128 bytes "
	    "as a starry type");
	expect_to_starry_error(ce, msg);
	name[125] = '\0';
	snprintf(ce, sizeof ce, "{\"specversion\":\"1.0\",\"id\":\"x\","
	    "\"source\":\"s\",\"type\":\"%s\"}", name);
	free(to_starry(ce));
}

static void
to_line_reports_invalid_json_with_its_offset(void **state)
{
	struct starry_err err = { 0 };

	(void)state;
	assert_null(cloudevent_to_line("{\"specversion\":", 15, NULL, &err));
	assert_int_equal(err.code, EX_DATAERR);
	assert_memory_equal(err.msg, "invalid JSON at byte ", 21);
}

/* ---- round trips ---- */

static const char *const starry_lines[] = {
	STARRY1,
	"{\"id\":\"" ID1 "\",\"timestamp\":1,\"traceId\":\"" TRACE1 "\","
	    "\"source\":\"tmux:%3\",\"sessionId\":\"default\",\"priority\":0,"
	    "\"type\":\"INPUT:USER_MESSAGE\",\"payload\":\"h\\u00e9llo \\\"w\\\"\"}",
	"{\"id\":\"not-a-uuid\",\"timestamp\":1795402315123,\"traceId\":"
	    "\"build 42 \\u2603\",\"parentId\":\"p\",\"source\":\"ci\","
	    "\"sessionId\":\"s\",\"priority\":5,\"type\":\"EXEC:TOOL_CALL\","
	    "\"payload\":[],\"toolCallId\":\"c1\",\"subject\":\"123\"}",
	"{\"id\":\"" ID1 "\",\"timestamp\":253402300799999,\"traceId\":"
	    "\"5F1D2C3B-4A59-4C68-8D7E-6F5A4B3C2D1E\",\"source\":\"s\","
	    "\"sessionId\":\"s\",\"priority\":4,\"type\":"
	    "\"ce:com.example.someevent\",\"payload\":{\"a\":{\"b\":[1,2.5e3,"
	    "null,true,false]}},\"dataschema\":\"urn:x\",\"meta\":{\"k\":1}}",
};

static void
starry_to_cloudevents_and_back_keeps_the_envelope(void **state)
{
	size_t i;
	char *ce, *back;

	(void)state;
	for (i = 0; i < sizeof starry_lines / sizeof starry_lines[0]; i++) {
		ce = to_ce(starry_lines[i]);
		back = to_starry(ce);
		/* The lines are compact and in the envelope's order, so the
		 * round trip gives the same bytes. */
		assert_memory_equal(back, starry_lines[i],
		    strlen(starry_lines[i]));
		assert_string_equal(back + strlen(starry_lines[i]), "\n");
		assert_scans(back, EVENT_LENIENT);
		free(back);
		free(ce);
	}
}

static void
cloudevents_to_starry_and_back_keeps_the_attributes(void **state)
{
	const char *ce = "{\"specversion\":\"1.0\",\"id\":\"" ID1 "\","
	    "\"source\":\"/mycontext\",\"type\":\"com.example.someevent\","
	    "\"time\":\"2018-04-05T17:31:00.250Z\",\"datacontenttype\":"
	    "\"application/json\",\"data\":{\"appinfoA\":\"abc\"},"
	    "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "" "0b0c6a643c334c7e-01\",\"sessionid\":\"s\",\"priority\":1,"
	    "\"causationid\":\"c\",\"comexampleothervalue\":5}";
	char *line, *back;

	(void)state;
	line = to_starry(ce);
	back = to_ce(line);
	assert_memory_equal(back, ce, strlen(ce));
	free(back);
	free(line);
}

/* ---- hostile input ---- */

static void
truncated_lines_never_crash(void **state)
{
	struct starry_err err;
	const char *ce = "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"s\","
	    "\"type\":\"a:b\",\"time\":\"2018-04-05T17:31:00.123Z\","
	    "\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
	    "00f067aa0ba902b7-01\",\"priority\":\"2\",\"data\":{\"a\":[1,"
	    "\"\\u00e9\\ud83d\\ude00\"]},\"ext\":true}";
	size_t i, n;
	char *copy, *out;

	(void)state;
	n = strlen(ce);
	for (i = 0; i < n; i++) {
		copy = malloc(i ? i : 1);	/* exact size: ASan sees overreads */
		memcpy(copy, ce, i);
		out = cloudevent_to_line(copy, i, NULL, &err);
		assert_null(out);
		free(copy);
	}
	free(to_starry(ce));
	n = strlen(STARRY1);
	for (i = 0; i < n; i++) {
		copy = malloc(i ? i : 1);
		memcpy(copy, STARRY1, i);
		out = cloudevent_from_line(copy, i, NULL, &err);
		assert_null(out);
		free(copy);
	}
}

static void
wrong_types_for_every_attribute_are_refused_or_kept(void **state)
{
	static const char *const attrs[] = {
		"specversion", "id", "source", "type", "time", "data",
		"data_base64", "datacontenttype", "dataschema", "subject",
		"traceparent", "traceid", "sessionid", "priority", "causationid",
	};
	static const char *const values[] = {
		"null", "true", "false", "0", "-1", "1.5", "1e999", "\"\"",
		"[]", "{}", "[[[[[[[[[[]]]]]]]]]]", "{\"a\":{\"b\":{}}}",
		"\"\\u0000\"", "\"\\ud800\"", "\"\xf0\x9f\x98\x80\"",
		"123456789012345678901234567890",
	};
	char ce[1024], *out;
	struct starry_err err;
	size_t a, v;

	(void)state;
	for (a = 0; a < sizeof attrs / sizeof attrs[0]; a++)
		for (v = 0; v < sizeof values / sizeof values[0]; v++) {
			/* Replace the attribute when it is there, else add it. */
			snprintf(ce, sizeof ce, "{%s%s%s%s\"%s\":%s}",
			    strcmp(attrs[a], "specversion") ?
			    "\"specversion\":\"1.0\"," : "",
			    strcmp(attrs[a], "id") ? "\"id\":\"x\"," : "",
			    strcmp(attrs[a], "source") ? "\"source\":\"s\"," : "",
			    strcmp(attrs[a], "type") ? "\"type\":\"a:b\"," : "",
			    attrs[a], values[v]);
			out = cloudevent_to_line(ce, strlen(ce), NULL, &err);
			if (out != NULL) {
				assert_scans(out, EVENT_LENIENT);
				free(out);
			} else {
				assert_int_equal(err.code, EX_DATAERR);
			}
		}
}

static void
huge_time_strings_are_bounded(void **state)
{
	size_t n = 1024 * 1024, i;
	char *ce = malloc(n + 128), *out;
	struct starry_err err;
	int k;

	(void)state;
	/* A valid time with a megabyte of fraction digits. */
	k = sprintf(ce, "{" CE_OK ",\"time\":\"2018-04-05T17:31:00.");
	for (i = 0; i < n; i++)
		ce[k + i] = '7';
	sprintf(ce + k + n, "Z\"}");
	out = cloudevent_to_line(ce, strlen(ce), NULL, &err);
	assert_non_null(out);
	assert_non_null(strstr(out, "\"timestamp\":1522949460777,"));
	free(out);
	/* A megabyte of garbage: refused, and the message quotes 64 bytes. */
	k = sprintf(ce, "{" CE_OK ",\"time\":\"");
	memset(ce + k, 'x', n);
	sprintf(ce + k + n, "\"}");
	assert_null(cloudevent_to_line(ce, strlen(ce), NULL, &err));
	assert_string_equal(err.msg, "attribute \"time\": not RFC 3339: "
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "...\"");
	/* The cut never splits a UTF-8 sequence. */
	k = sprintf(ce, "{" CE_OK ",\"time\":\"x");
	for (i = 0; i < 40; i++)
		k += sprintf(ce + k, "\xc3\xa9");
	sprintf(ce + k, "\"}");
	assert_null(cloudevent_to_line(ce, strlen(ce), NULL, &err));
	assert_string_equal(err.msg, "attribute \"time\": not RFC 3339: \"x"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\"");
	free(ce);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_time_writes_utc_with_milliseconds),
		cmocka_unit_test(parse_time_accepts_rfc3339),
		cmocka_unit_test(parse_time_refuses_garbage_and_out_of_range),
		cmocka_unit_test(format_then_parse_gives_the_same_instant),
		cmocka_unit_test(from_line_writes_the_documented_members_in_order),
		cmocka_unit_test(from_line_writes_one_line_whatever_the_layout),
		cmocka_unit_test(from_line_without_parent_writes_no_causationid),
		cmocka_unit_test(from_line_hashes_a_trace_that_is_no_uuid_and_keeps_it),
		cmocka_unit_test(from_line_keeps_traceid_when_the_uuid_form_would_change_it),
		cmocka_unit_test(from_line_hashes_an_id_that_is_not_hex),
		cmocka_unit_test(from_line_takes_the_namespace_off_a_cloudevents_type),
		cmocka_unit_test(from_line_passes_a_cloudevent_through),
		cmocka_unit_test(from_line_reports_each_error),
		cmocka_unit_test(to_line_converts_the_spec_samples),
		cmocka_unit_test(to_line_takes_the_trace_from_traceparent),
		cmocka_unit_test(to_line_prefers_the_traceid_extension),
		cmocka_unit_test(to_line_reads_priority_as_integer_or_one_digit_string),
		cmocka_unit_test(to_line_fills_time_with_now_when_absent),
		cmocka_unit_test(to_line_keeps_escapes_in_strings),
		cmocka_unit_test(to_line_reports_each_error),
		cmocka_unit_test(to_line_reports_lengths_over_the_envelope_limit),
		cmocka_unit_test(to_line_reports_invalid_json_with_its_offset),
		cmocka_unit_test(starry_to_cloudevents_and_back_keeps_the_envelope),
		cmocka_unit_test(cloudevents_to_starry_and_back_keeps_the_attributes),
		cmocka_unit_test(truncated_lines_never_crash),
		cmocka_unit_test(wrong_types_for_every_attribute_are_refused_or_kept),
		cmocka_unit_test(huge_time_strings_are_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
