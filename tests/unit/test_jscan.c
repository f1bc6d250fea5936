/* Unit tests for lib/jscan.c: the grammar, UTF-8, escapes, depth, the
 * member callback and the decoding helpers. Every input is copied into a
 * buffer of exactly its size, so a sanitizer build catches any over-read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jscan.h"

static int
scan_n(const char *s, size_t len, struct jscan_value *top,
    struct jscan_error *e)
{
	char *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, len);
	rc = jscan_document(copy, len, top, NULL, NULL, e);
	/* Slices point into the copy; move them onto s before freeing. */
	if (rc == 0 && top)
		top->p = s + (top->p - copy);
	free(copy);
	return rc;
}

static void
accepts(const char *s)
{
	struct jscan_value top;
	struct jscan_error e = { 0 };

	if (scan_n(s, strlen(s), &top, &e) != 0)
		fail_msg("rejected %s: at %zu: %s", s, e.offset, e.why);
}

static void
rejects_at(const char *s, size_t len, size_t offset, const char *why)
{
	struct jscan_error e = { 0 };

	if (scan_n(s, len, NULL, &e) == 0)
		fail_msg("accepted %.*s", (int)len, s);
	assert_string_equal(e.why, why);
	if (e.offset != offset)
		fail_msg("%.*s: fault at %zu, expected %zu (%s)", (int)len, s,
		    e.offset, offset, e.why);
}

static void
rejects(const char *s, size_t offset, const char *why)
{
	rejects_at(s, strlen(s), offset, why);
}

static void
every_kind_of_top_level_value_is_accepted(void **state)
{
	static const struct { const char *text; enum jscan_kind kind; const char *slice; } cases[] = {
		{ "{}", JSCAN_OBJECT, "{}" },
		{ " [1, 2] ", JSCAN_ARRAY, "[1, 2]" },
		{ "\"str\"", JSCAN_STRING, "str" },
		{ "\r\n\t -12.5e+3 ", JSCAN_NUMBER, "-12.5e+3" },
		{ "true", JSCAN_TRUE, "true" },
		{ "false", JSCAN_FALSE, "false" },
		{ "null\n", JSCAN_NULL, "null" },
	};
	struct jscan_value top;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(scan_n(cases[i].text, strlen(cases[i].text), &top, NULL), 0);
		assert_int_equal(top.kind, cases[i].kind);
		assert_int_equal(top.len, strlen(cases[i].slice));
		assert_memory_equal(top.p, cases[i].slice, top.len);
	}
}

static void
numbers_follow_the_rfc_grammar(void **state)
{
	(void)state;
	accepts("0");
	accepts("-0");
	accepts("-0.0e-0");
	accepts("1E+2");
	accepts("123456789012345678901234567890123");
	accepts("[0,1,-1,0.5,1e5]");
	rejects("01", 1, "invalid number");
	rejects("-01", 2, "invalid number");
	rejects("+1", 0, "expected a value");
	rejects("-", 1, "unexpected end of input");
	rejects("-a", 1, "invalid number");
	rejects("1.", 2, "unexpected end of input");
	rejects("[1.]", 3, "invalid number");
	rejects(".5", 0, "expected a value");
	rejects("[1e]", 3, "invalid number");
	rejects("[1e+]", 4, "invalid number");
	rejects("[0x1]", 2, "expected ',' or ']'");
	rejects("NaN", 0, "expected a value");
	rejects("[-Infinity]", 2, "invalid number");
	rejects("1 2", 2, "trailing characters after the value");
}

static void
numbers_say_whether_they_are_integers(void **state)
{
	struct jscan_value top;

	(void)state;
	assert_int_equal(scan_n("42", 2, &top, NULL), 0);
	assert_true(top.integer);
	assert_int_equal(scan_n("-42", 3, &top, NULL), 0);
	assert_true(top.integer);
	assert_int_equal(scan_n("4.0", 3, &top, NULL), 0);
	assert_false(top.integer);
	assert_int_equal(scan_n("4e0", 3, &top, NULL), 0);
	assert_false(top.integer);
}

static void
literals_must_be_spelled_exactly(void **state)
{
	(void)state;
	rejects("tru", 3, "unexpected end of input");
	rejects("trUe", 2, "invalid literal");
	rejects("True", 0, "expected a value");
	rejects("nul", 3, "unexpected end of input");
	rejects("[falsey]", 6, "expected ',' or ']'");
}

static void
structure_errors_name_what_was_expected(void **state)
{
	(void)state;
	rejects("", 0, "unexpected end of input");
	rejects("   ", 3, "unexpected end of input");
	rejects("{\"a\" 1}", 5, "expected ':'");
	rejects("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
	rejects("[1 2]", 3, "expected ',' or ']'");
	rejects("{\"a\":1,}", 7, "expected a string key");
	rejects("{1:2}", 1, "expected a string key");
	rejects("[1,]", 3, "expected a value");
	rejects("{\"a\":}", 5, "expected a value");
	rejects("[", 1, "unexpected end of input");
	rejects("{\"a\":1", 6, "unexpected end of input");
	rejects("{} {}", 3, "trailing characters after the value");
	rejects("]", 0, "expected a value");
	rejects("[1]]", 3, "trailing characters after the value");
	rejects("[1}", 2, "expected ',' or ']'");
}

static void
only_four_white_space_bytes_are_white_space(void **state)
{
	(void)state;
	accepts(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n");
	rejects("\f[]", 0, "expected a value");
	rejects("[\v1]", 1, "expected a value");
	rejects("[1]\f", 3, "trailing characters after the value");
	rejects("\xc2\xa0[]", 0, "expected a value");
}

static void
a_byte_order_mark_is_rejected(void **state)
{
	(void)state;
	rejects("\xef\xbb\xbf{}", 0, "byte order mark");
	rejects("[\xef\xbb\xbf]", 1, "byte order mark");
}

static void
strings_accept_only_the_rfc_escapes(void **state)
{
	(void)state;
	accepts("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uFFFF \\u0000\"");
	accepts("\"\x7f\"");
	rejects("\"\\x\"", 1, "invalid escape");
	rejects("\"ab\\'\"", 3, "invalid escape");
	rejects("\"\\U0041\"", 1, "invalid escape");
	rejects("\"\\u00g1\"", 1, "invalid \\u escape");
	rejects("\"\\u00\"", 1, "invalid \\u escape");
	rejects("\"\\u00", 5, "unexpected end of input");
	rejects("\"\\", 2, "unexpected end of input");
	rejects("\"abc", 4, "unexpected end of input");
	rejects("'abc'", 0, "expected a value");
}

static void
control_characters_inside_strings_are_rejected(void **state)
{
	char s[8];
	int c;

	(void)state;
	for (c = 0; c < 0x20; c++) {
		memcpy(s, "[\"a?\"]", 7);
		s[3] = c;
		rejects_at(s, 6, 3, "control character in string");
	}
}

static void
surrogate_escapes_must_come_in_order_and_in_pairs(void **state)
{
	(void)state;
	accepts("\"\\ud834\\udd1e\"");
	accepts("\"\\uDBFF\\uDFFF\"");
	rejects("\"\\ud800\"", 1, "lone surrogate in \\u escape");
	rejects("\"x\\udc00\"", 2, "lone surrogate in \\u escape");
	rejects("\"\\udd1e\\ud834\"", 1, "lone surrogate in \\u escape");
	rejects("\"\\ud800\\u0041\"", 1, "lone surrogate in \\u escape");
	rejects("\"\\ud800\\ud800\"", 1, "lone surrogate in \\u escape");
	rejects("\"\\ud800abcdef\"", 1, "lone surrogate in \\u escape");
	rejects("\"\\ud800\\n\"", 1, "lone surrogate in \\u escape");
	rejects("\"\\ud800\\u", 9, "unexpected end of input");
	rejects("\"\\ud800\\uzzzz\"", 1, "invalid \\u escape");
}

static void
utf8_is_validated_strictly(void **state)
{
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80",
		"\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\xff", "\xfe", "\xc3\"", "\xe2\x82\"",
		"\xf0\x9f\x98\"", "\xc3\x28", "\xe2\x28\xa1",
	};
	char s[32];
	size_t i, n;
	struct jscan_error e;

	(void)state;
	accepts("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf\"");
	accepts("\"\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \xf0\x9f\x98\x80\"");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		n = snprintf(s, sizeof s, "[\"ok%s\"]", bad[i]);
		rejects_at(s, n, 4, "invalid UTF-8");
		assert_int_equal(scan_n(s, n, NULL, &e), -1);
		assert_true(jscan_error_is_utf8(&e));
	}
	rejects("[\"\xc3", 3, "unexpected end of input");
	rejects("[\"\xf0\x9f\x98", 5, "unexpected end of input");
	/* Outside strings a valid non-ASCII character is simply not JSON;
	 * a byte that is not UTF-8 at all is still called bad UTF-8. */
	rejects("[\xc3\xa9]", 1, "expected a value");
	rejects("[\xff]", 1, "invalid UTF-8");
	rejects("\xfe\xff", 0, "invalid UTF-8");
	rejects("{\"a\":1\xc3}", 6, "invalid UTF-8");
	rejects("{\"a\":1}\x80", 7, "invalid UTF-8");
	assert_int_equal(scan_n("[1 2]", 5, NULL, &e), -1);
	assert_false(jscan_error_is_utf8(&e));
}

/* The plain-ASCII fast path reads eight bytes at a time: a special byte
 * at any position of a long string must still be seen. */
static void
special_bytes_are_found_at_every_alignment(void **state)
{
	static const char special[] = { '"', '\\', 0x01, 0x1f, (char)0x80, (char)0xff };
	char s[64];
	size_t pos, k, len;
	struct jscan_error e;
	struct jscan_value top;

	(void)state;
	for (pos = 1; pos < 40; pos++) {
		for (k = 0; k < sizeof special; k++) {
			memset(s, 'a', sizeof s);
			s[0] = '"';
			len = 48;
			s[len - 1] = '"';
			s[pos] = special[k];
			if (special[k] == '"') {
				rejects_at(s, len, pos + 1, "trailing characters after the value");
				continue;
			}
			assert_int_equal(scan_n(s, len, &top, &e), -1);
			assert_int_equal(e.offset, pos);
		}
		memset(s, 'a', sizeof s);
		s[0] = '"';
		s[pos] = ' ';
		s[pos + 1] = '~';
		s[pos + 2] = '"';
		assert_int_equal(scan_n(s, pos + 3, &top, &e), 0);
		assert_int_equal(top.len, pos + 1);
	}
}

static void
nesting_up_to_512_is_accepted_and_deeper_is_rejected(void **state)
{
	size_t n = 100000, i;
	char *s = malloc(2 * n);

	(void)state;
	assert_non_null(s);
	memset(s, '[', JSCAN_MAX_DEPTH);
	memset(s + JSCAN_MAX_DEPTH, ']', JSCAN_MAX_DEPTH);
	assert_int_equal(scan_n(s, 2 * JSCAN_MAX_DEPTH, NULL, NULL), 0);
	memset(s, '[', JSCAN_MAX_DEPTH + 1);
	memset(s + JSCAN_MAX_DEPTH + 1, ']', JSCAN_MAX_DEPTH + 1);
	rejects_at(s, 2 * (JSCAN_MAX_DEPTH + 1), JSCAN_MAX_DEPTH, "nesting deeper than 512");
	memset(s, '[', n);
	rejects_at(s, n, JSCAN_MAX_DEPTH, "nesting deeper than 512");
	for (i = 0; i < n; i += 5)
		memcpy(s + i, "{\"a\":", 5);
	rejects_at(s, n, 5 * JSCAN_MAX_DEPTH, "nesting deeper than 512");
	free(s);
}

struct seen {
	int count;
	char keys[8][16];
	char values[8][64];
	enum jscan_kind kinds[8];
	bool escaped[8];
	int stop_at;
};

static int
collect(void *ctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why)
{
	struct seen *seen = ctx;
	int i = seen->count++;

	if (i == seen->stop_at) {
		*why = "stopped by the test";
		return -1;
	}
	snprintf(seen->keys[i], sizeof seen->keys[i], "%.*s", (int)key->len, key->p);
	snprintf(seen->values[i], sizeof seen->values[i], "%.*s", (int)value->len, value->p);
	seen->kinds[i] = value->kind;
	seen->escaped[i] = value->escaped;
	return 0;
}

static void
members_of_the_top_level_object_are_reported_as_slices(void **state)
{
	const char *doc = " { \"s\" : \"a\\nb\" , \"n\":-1.5,\"o\":{\"x\":[1,{\"y\":2}]},"
	    "\"a\":[ {}, [] ] ,\"t\":true,\"f\":false,\"z\":null, \"k\\\"\":\"\"} ";
	static const char *const keys[] = { "s", "n", "o", "a", "t", "f", "z", "k\\\"" };
	static const char *const values[] = {
		"a\\nb", "-1.5", "{\"x\":[1,{\"y\":2}]}", "[ {}, [] ]", "true",
		"false", "null", "",
	};
	static const enum jscan_kind kinds[] = {
		JSCAN_STRING, JSCAN_NUMBER, JSCAN_OBJECT, JSCAN_ARRAY,
		JSCAN_TRUE, JSCAN_FALSE, JSCAN_NULL, JSCAN_STRING,
	};
	struct seen seen = { .stop_at = -1 };
	struct jscan_value top;
	int i;

	(void)state;
	assert_int_equal(jscan_document(doc, strlen(doc), &top, collect, &seen, NULL), 0);
	assert_int_equal(seen.count, 8);
	for (i = 0; i < 8; i++) {
		assert_string_equal(seen.keys[i], keys[i]);
		assert_string_equal(seen.values[i], values[i]);
		assert_int_equal(seen.kinds[i], kinds[i]);
	}
	assert_true(seen.escaped[0]);
	assert_false(seen.escaped[7]);
	assert_int_equal(top.kind, JSCAN_OBJECT);
	assert_ptr_equal(top.p, doc + 1);
	assert_int_equal(top.p[top.len - 1], '}');
}

static void
members_are_not_reported_for_arrays_or_nested_objects(void **state)
{
	struct seen seen = { .stop_at = -1 };
	const char *doc = "[{\"a\":1},{\"b\":{\"c\":2}}]";

	(void)state;
	assert_int_equal(jscan_document(doc, strlen(doc), NULL, collect, &seen, NULL), 0);
	assert_int_equal(seen.count, 0);
}

static void
a_callback_can_stop_the_scan_with_its_reason(void **state)
{
	struct seen seen = { .stop_at = 1 };
	struct jscan_error e;
	const char *doc = "{\"a\":1,\"b\":[2]}";

	(void)state;
	assert_int_equal(jscan_document(doc, strlen(doc), NULL, collect, &seen, &e), -1);
	assert_string_equal(e.why, "stopped by the test");
	assert_int_equal(e.offset, 11);
	assert_int_equal(seen.count, 2);
}

static void
unescape_decodes_to_utf8(void **state)
{
	const char *raw = "a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud834\\udd1e\\u0000z";
	const char want[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\0z";
	char out[64];
	long n;

	(void)state;
	n = jscan_unescape(raw, strlen(raw), out, sizeof out);
	assert_int_equal(n, sizeof want - 1);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(jscan_unescape(raw, strlen(raw), out, sizeof want - 1), -1);
	assert_int_equal(jscan_unescape(raw, strlen(raw), out, sizeof want), n);
	assert_int_equal(jscan_unescape("abc", 3, out, 3), -1);
	assert_int_equal(jscan_unescape("abc", 3, out, 4), 3);
	assert_string_equal(out, "abc");
	assert_int_equal(jscan_unescape("", 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(jscan_unescape("", 0, out, 0), -1);
	assert_int_equal(jscan_unescape("\\q", 2, out, sizeof out), -1);
}

static void
decoded_length_counts_bytes_and_spots_nul(void **state)
{
	bool nul;

	(void)state;
	assert_int_equal(jscan_decoded_length("abc", 3, &nul), 3);
	assert_false(nul);
	assert_int_equal(jscan_decoded_length("\\u00e9\\n", 8, &nul), 3);
	assert_false(nul);
	assert_int_equal(jscan_decoded_length("a\\u0000", 7, &nul), 2);
	assert_true(nul);
	assert_int_equal(jscan_decoded_length("\\ud83d\\ude00", 12, NULL), 4);
}

static void
string_equals_resolves_escapes(void **state)
{
	(void)state;
	assert_true(jscan_string_equals("type", 4, false, "type"));
	assert_false(jscan_string_equals("type", 4, false, "typ"));
	assert_false(jscan_string_equals("typ", 3, false, "type"));
	assert_true(jscan_string_equals("t\\u0079pe", 9, true, "type"));
	assert_false(jscan_string_equals("t\\u0079pe", 9, true, "types"));
	assert_false(jscan_string_equals("t\\u0079pes", 10, true, "type"));
	assert_true(jscan_string_equals("caf\\u00e9", 9, true, "caf\xc3\xa9"));
	assert_false(jscan_string_equals("a\\u0000b", 8, true, "a"));
}

static void
utf8_char_reports_the_bytes_to_skip(void **state)
{
	size_t bad;

	(void)state;
	assert_int_equal(jscan_utf8_char("a", 1, &bad), 1);
	assert_int_equal(jscan_utf8_char("\xc3\xa9", 2, &bad), 2);
	assert_int_equal(jscan_utf8_char("\xe2\x82\xac", 3, &bad), 3);
	assert_int_equal(jscan_utf8_char("\xf0\x9f\x98\x80", 4, &bad), 4);
	assert_int_equal(jscan_utf8_char("\xf0\x9f\x98", 3, &bad), 0);
	assert_int_equal(bad, 3);
	assert_int_equal(jscan_utf8_char("\xe2\x28\xa1", 3, &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(jscan_utf8_char("\xed\xa0\x80", 3, &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(jscan_utf8_char("\x80", 1, &bad), 0);
	assert_int_equal(bad, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_kind_of_top_level_value_is_accepted),
		cmocka_unit_test(numbers_follow_the_rfc_grammar),
		cmocka_unit_test(numbers_say_whether_they_are_integers),
		cmocka_unit_test(literals_must_be_spelled_exactly),
		cmocka_unit_test(structure_errors_name_what_was_expected),
		cmocka_unit_test(only_four_white_space_bytes_are_white_space),
		cmocka_unit_test(a_byte_order_mark_is_rejected),
		cmocka_unit_test(strings_accept_only_the_rfc_escapes),
		cmocka_unit_test(control_characters_inside_strings_are_rejected),
		cmocka_unit_test(surrogate_escapes_must_come_in_order_and_in_pairs),
		cmocka_unit_test(utf8_is_validated_strictly),
		cmocka_unit_test(special_bytes_are_found_at_every_alignment),
		cmocka_unit_test(nesting_up_to_512_is_accepted_and_deeper_is_rejected),
		cmocka_unit_test(members_of_the_top_level_object_are_reported_as_slices),
		cmocka_unit_test(members_are_not_reported_for_arrays_or_nested_objects),
		cmocka_unit_test(a_callback_can_stop_the_scan_with_its_reason),
		cmocka_unit_test(unescape_decodes_to_utf8),
		cmocka_unit_test(decoded_length_counts_bytes_and_spots_nul),
		cmocka_unit_test(string_equals_resolves_escapes),
		cmocka_unit_test(utf8_char_reports_the_bytes_to_skip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
