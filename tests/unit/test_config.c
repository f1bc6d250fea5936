/* lib/config: YAML and JSON into one tree with positions, the refusals,
 * the validation helpers' messages, durations, sizes, ${VAR} expansion,
 * and hostile input (truncation at every byte, deep nesting, aliases). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

static struct config_doc *
load_ok(const char *text)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;

	if (config_load_buffer("t.yaml", text, strlen(text), &doc, &err) < 0)
		fail_msg("load failed: %s", err.msg);
	assert_non_null(doc);
	return doc;
}

static void
assert_refused(const char *text, const char *expected)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = (struct config_doc *)1;

	assert_int_equal(config_load_buffer("t.yaml", text, strlen(text), &doc,
	    &err), -1);
	assert_null(doc);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, expected);
}

/* The root of text, dumped compactly with sorted keys. */
static char *
dump(const char *text)
{
	struct config_doc *doc = load_ok(text);
	char *s = json_dumps(config_root(doc),
	    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	config_doc_free(doc);
	return s;
}

static void
assert_dump(const char *text, const char *expected)
{
	char *s = dump(text);

	assert_string_equal(s, expected);
	free(s);
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- loading ------------------------------------------------------------ */

static void
test_yaml_and_json_load_the_same_tree(void **state)
{
	const char *yaml =
	    "name: demo\n"
	    "count: 3\n"
	    "ratio: 0.25\n"
	    "on: true\n"
	    "off: null\n"
	    "tags: [a, \"b c\"]\n"
	    "nested:\n"
	    "  list:\n"
	    "    - {x: 1}\n"
	    "    - []\n";
	const char *json =
	    "{\"name\": \"demo\", \"count\": 3, \"ratio\": 0.25, \"on\": true,\n"
	    " \"off\": null, \"tags\": [\"a\", \"b c\"],\n"
	    " \"nested\": {\"list\": [{\"x\": 1}, []]}}\n";
	struct config_doc *a = load_ok(yaml), *b = load_ok(json);

	(void)state;
	assert_true(json_equal(config_root(a), config_root(b)));
	assert_true(json_is_integer(json_object_get(config_root(b), "count")));
	assert_true(json_is_real(json_object_get(config_root(b), "ratio")));
	config_doc_free(a);
	config_doc_free(b);
}

static void
test_json_escapes_and_compact_form(void **state)
{
	(void)state;
	assert_dump("{\"a\":1,\"b\":[true,false,null],\"c\":\"x\\/y\\u00e9\\n\"}",
	    "{\"a\":1,\"b\":[true,false,null],\"c\":\"x/y\u00e9\\n\"}");
}

static void
test_plain_scalars_follow_the_yaml_1_2_core_schema(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "v: null", "null" }, { "v: Null", "null" }, { "v: NULL", "null" },
		{ "v: ~", "null" }, { "v:", "null" },
		{ "v: true", "true" }, { "v: True", "true" }, { "v: FALSE", "false" },
		{ "v: 42", "42" }, { "v: -17", "-17" }, { "v: +5", "5" },
		{ "v: 017", "17" }, { "v: 0o17", "15" }, { "v: 0x1F", "31" },
		{ "v: 9223372036854775807", "9223372036854775807" },
		{ "v: -9223372036854775808", "-9223372036854775808" },
		{ "v: 1.5", "1.5" }, { "v: .5", "0.5" }, { "v: 1e3", "1000.0" },
		{ "v: -2.5E-1", "-0.25" }, { "v: 1.", "1.0" },
		/* YAML 1.1 booleans and other look-alikes are strings. */
		{ "v: yes", "\"yes\"" }, { "v: on", "\"on\"" }, { "v: n", "\"n\"" },
		{ "v: 0b101", "\"0b101\"" }, { "v: 1_000", "\"1_000\"" },
		{ "v: 0x", "\"0x\"" }, { "v: 12:30", "\"12:30\"" },
		{ "v: 2024-01-01", "\"2024-01-01\"" }, { "v: .", "\".\"" },
		{ "v: nULL", "\"nULL\"" }, { "v: tRUE", "\"tRUE\"" },
		/* Anything quoted, or a block scalar, is a string. */
		{ "v: 'true'", "\"true\"" }, { "v: \"42\"", "\"42\"" },
		{ "v: ''", "\"\"" }, { "v: '.inf'", "\".inf\"" },
		{ "v: |\n  5\n", "\"5\\n\"" },
		/* The standard tags. */
		{ "v: !!str 5", "\"5\"" }, { "v: ! 5", "\"5\"" },
		{ "v: !!int 0x10", "16" }, { "v: !!float 1", "1.0" },
		{ "v: !!bool false", "false" }, { "v: !!null ~", "null" },
		{ "v: !!map {a: 1}", "{\"a\":1}" }, { "v: !!seq [1]", "[1]" },
	};
	char expected[128], *got;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		snprintf(expected, sizeof expected, "{\"v\":%s}", cases[i].out);
		got = dump(cases[i].in);
		if (strcmp(got, expected) != 0)
			fail_msg("'%s' loaded as %s, expected %s", cases[i].in, got,
			    expected);
		free(got);
	}
}

static void
test_keys_are_their_text(void **state)
{
	(void)state;
	assert_dump("1: a\ntrue: b\n~: c\n'x y': d\non: e\n1e999: f\n",
	    "{\"1\":\"a\",\"1e999\":\"f\",\"on\":\"e\",\"true\":\"b\",\"x y\":\"d\",\"~\":\"c\"}");
}

static void
test_an_empty_file_is_an_empty_object(void **state)
{
	(void)state;
	assert_dump("", "{}");
	assert_dump("\n  \n", "{}");
	assert_dump("# only a comment\n", "{}");
	assert_dump("---\n", "{}");
	assert_dump("--- # nothing\n...\n", "{}");
	/* An explicit null is not empty. */
	assert_dump("null\n", "null");
	assert_dump("~\n", "null");
	assert_dump("[]", "[]");
	assert_dump("plain words\n", "\"plain words\"");
}

static void
test_positions_of_nested_nodes(void **state)
{
	const char *text =
	    "name: demo\n"				/* 1 */
	    "runtime:\n"				/* 2 */
	    "  restart: never\n"			/* 3 */
	    "  backoff: {initial: 1s, max: 30s}\n"	/* 4 */
	    "plugins:\n"				/* 5 */
	    "  - name: a\n"				/* 6 */
	    "    path: ./a\n"				/* 7 */
	    "  - [x, true]\n";				/* 8 */
	struct config_doc *doc = load_ok(text);
	json_t *root = config_root(doc), *rt, *bo, *pl, *pair;
	int line = 0, col = 0;

	(void)state;
	rt = json_object_get(root, "runtime");
	bo = json_object_get(rt, "backoff");
	pl = json_object_get(root, "plugins");
	pair = json_array_get(pl, 1);

	assert_int_equal(config_where(doc, root, &line, &col), 0);
	assert_int_equal(line, 1); assert_int_equal(col, 1);
	assert_int_equal(config_where_key(doc, root, "runtime", &line, &col), 0);
	assert_int_equal(line, 2); assert_int_equal(col, 1);
	assert_int_equal(config_where(doc, rt, &line, &col), 0);
	assert_int_equal(line, 3); assert_int_equal(col, 3);
	assert_int_equal(config_where_key(doc, rt, "restart", &line, &col), 0);
	assert_int_equal(line, 3); assert_int_equal(col, 3);
	assert_int_equal(config_where_member(doc, rt, "restart", &line, &col), 0);
	assert_int_equal(line, 3); assert_int_equal(col, 12);
	assert_int_equal(config_where(doc, bo, &line, &col), 0);
	assert_int_equal(line, 4); assert_int_equal(col, 12);
	assert_int_equal(config_where(doc, json_object_get(bo, "max"), &line, &col), 0);
	assert_int_equal(line, 4); assert_int_equal(col, 31);
	assert_int_equal(config_where_key(doc, bo, "max", &line, &col), 0);
	assert_int_equal(line, 4); assert_int_equal(col, 26);
	assert_int_equal(config_where(doc, json_array_get(pl, 0), &line, &col), 0);
	assert_int_equal(line, 6); assert_int_equal(col, 5);
	assert_int_equal(config_where_member(doc, json_array_get(pl, 0), "path",
	    &line, &col), 0);
	assert_int_equal(line, 7); assert_int_equal(col, 11);
	assert_int_equal(config_where(doc, pair, &line, &col), 0);
	assert_int_equal(line, 8); assert_int_equal(col, 5);
	/* true is a shared singleton: found through its list only. */
	assert_int_equal(config_where(doc, json_array_get(pair, 1), &line, &col), -1);
	assert_int_equal(config_where_element(doc, pair, 1, &line, &col), 0);
	assert_int_equal(line, 8); assert_int_equal(col, 9);
	/* Unknown nodes and slots. */
	assert_int_equal(config_where_element(doc, pair, 2, &line, &col), -1);
	assert_int_equal(config_where_member(doc, rt, "nope", &line, &col), -1);
	config_doc_free(doc);
}

static void
test_positions_survive_many_nodes(void **state)
{
	char *text = malloc(5000 * 16), *p = text;
	struct config_doc *doc;
	int line, col;

	(void)state;
	for (int i = 0; i < 5000; i++)
		p += sprintf(p, "k%d: %d\n", i, i);
	doc = load_ok(text);
	for (int i = 0; i < 5000; i += 997) {
		char key[16];

		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(config_where_member(doc, config_root(doc), key,
		    &line, &col), 0);
		assert_int_equal(line, i + 1);
		assert_int_equal(col, (int)strlen(key) + 3);
	}
	config_doc_free(doc);
	free(text);
}

static void
test_an_alias_is_a_copy_with_the_original_places(void **state)
{
	const char *text =
	    "base: &b {restart: never, env: {A: x}}\n"	/* 1 */
	    "one: *b\n"					/* 2 */
	    "two: *b\n";				/* 3 */
	struct config_doc *doc = load_ok(text);
	json_t *root = config_root(doc), *one, *two;
	int line, col;

	(void)state;
	one = json_object_get(root, "one");
	two = json_object_get(root, "two");
	assert_true(json_equal(one, json_object_get(root, "base")));
	assert_ptr_not_equal(one, two);
	assert_ptr_not_equal(json_object_get(one, "env"), json_object_get(two, "env"));
	assert_int_equal(config_where(doc, two, &line, &col), 0);
	assert_int_equal(line, 3); assert_int_equal(col, 6);
	assert_int_equal(config_where_member(doc, two, "restart", &line, &col), 0);
	assert_int_equal(line, 1); assert_int_equal(col, 20);
	/* Changing one copy leaves the others alone. */
	json_object_set_new(json_object_get(one, "env"), "A", json_string("changed"));
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(two, "env"), "A")), "x");
	config_doc_free(doc);
	assert_dump("- &k key\n- {*k : v}\n", "[\"key\",{\"key\":\"v\"}]");
}

static void
test_load_file_reads_and_names_the_file(void **state)
{
	char path[] = "/tmp/test_config.XXXXXX";
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a:\n  b: [1, 2\n", 14), 14);
	close(fd);
	assert_int_equal(config_load_file(path, &doc, &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_true(strncmp(err.msg, path, strlen(path)) == 0);
	assert_string_equal(err.msg + strlen(path),
	    ":3:1: did not find expected ',' or ']' (while parsing a flow sequence at 2:6)");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a: {b: [1, 2]}\n", 15), 15);
	close(fd);
	assert_int_equal(config_load_file(path, &doc, &err), 0);
	assert_string_equal(config_name(doc), path);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(
	    json_object_get(config_root(doc), "a"), "b"), 1)), 2);
	config_doc_free(doc);
	unlink(path);

	assert_int_equal(config_load_file(path, &doc, &err), -1);
	assert_int_equal(err.code, EX_NOINPUT);
	assert_null(doc);
}

/* ---- refusals ------------------------------------------------------------ */

static void
test_syntax_errors_name_file_line_and_column(void **state)
{
	(void)state;
	assert_refused("a: b: c\n",
	    "t.yaml:1:5: mapping values are not allowed in this context");
	assert_refused("a: 1\n b: 2\n",
	    "t.yaml:2:3: mapping values are not allowed in this context");
	assert_refused("a: 'open\n",
	    "t.yaml:2:1: found unexpected end of stream (while scanning a quoted scalar at 1:4)");
	assert_refused("a:\n\tb: 1\n",
	    "t.yaml:2:1: found character that cannot start any token (while scanning for the next token at 2:1)");
	assert_refused("a: \"\\q\"\n",
	    "t.yaml:1:5: found unknown escape character (while parsing a quoted scalar at 1:4)");
	assert_refused("ok: 1\nbad: \xff\n",
	    "t.yaml:2:6: invalid leading UTF-8 octet");
}

static void
test_refuses_control_characters(void **state)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;

	(void)state;
	assert_int_equal(config_load_buffer("t.yaml", "a: x\0y\n", 7, &doc, &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, "t.yaml:1:5: control characters are not allowed");
	assert_refused("a: \x01\n", "t.yaml:1:4: control characters are not allowed");
}

static void
test_refuses_more_than_one_document(void **state)
{
	(void)state;
	assert_refused("a: 1\n---\nb: 2\n",
	    "t.yaml:2:1: more than one document; a configuration file holds one");
	assert_refused("--- 1\n--- 2\n",
	    "t.yaml:2:1: more than one document; a configuration file holds one");
}

static void
test_refuses_duplicate_keys(void **state)
{
	(void)state;
	assert_refused("name: a\nruntime:\n  restart: never\n  restart: always\n",
	    "t.yaml:4:3: duplicate key 'restart' (first at 3:3)");
	assert_refused("{\"a\": 1, \"a\": 2}",
	    "t.yaml:1:10: duplicate key 'a' (first at 1:2)");
	assert_refused("1: a\n'1': b\n", "t.yaml:2:1: duplicate key '1' (first at 1:1)");
}

static void
test_refuses_non_scalar_keys(void **state)
{
	(void)state;
	assert_refused("? [a, b]\n: c\n",
	    "t.yaml:1:3: a list or object as a key is not supported");
	assert_refused("{[a]: 1}",
	    "t.yaml:1:2: a list or object as a key is not supported");
	assert_refused("? {a: 1}\n: c\n",
	    "t.yaml:1:3: a list or object as a key is not supported");
	assert_refused("- &l [1]\n- {*l : v}\n",
	    "t.yaml:2:4: a list or object as a key is not supported");
}

static void
test_refuses_tags_other_than_the_standard_ones(void **state)
{
	(void)state;
	assert_refused("a: !!binary aGVsbG8=\n", "t.yaml:1:4: unsupported tag '!!binary'");
	assert_refused("a: !!timestamp 2001-12-14\n",
	    "t.yaml:1:4: unsupported tag '!!timestamp'");
	assert_refused("a: !custom x\n", "t.yaml:1:4: unsupported tag '!custom'");
	assert_refused("a: !!set {x: null}\n", "t.yaml:1:4: unsupported tag '!!set'");
	assert_refused("a: !!map [1]\n", "t.yaml:1:4: unsupported tag '!!map'");
	assert_refused("!!python/object:x {}\n",
	    "t.yaml:1:1: unsupported tag '!!python/object:x'");
	assert_refused("!foo k: v\n", "t.yaml:1:1: unsupported tag '!foo'");
	assert_refused("a: !!int abc\n", "t.yaml:1:4: 'abc' is not a valid !!int");
	assert_refused("a: !!bool yes\n", "t.yaml:1:4: 'yes' is not a valid !!bool");
	assert_refused("a: !!null 0\n", "t.yaml:1:4: '0' is not a valid !!null");
}

static void
test_refuses_numbers_json_cannot_hold(void **state)
{
	(void)state;
	assert_refused("a: .inf\n",
	    "t.yaml:1:4: '.inf' is not supported: JSON has no infinity or NaN");
	assert_refused("a: -.Inf\n",
	    "t.yaml:1:4: '-.Inf' is not supported: JSON has no infinity or NaN");
	assert_refused("a: .NaN\n",
	    "t.yaml:1:4: '.NaN' is not supported: JSON has no infinity or NaN");
	assert_refused("a: !!float .nan\n",
	    "t.yaml:1:4: '.nan' is not supported: JSON has no infinity or NaN");
	assert_refused("a: 1e999\n", "t.yaml:1:4: number out of range: 1e999");
	assert_refused("a: 9223372036854775808\n",
	    "t.yaml:1:4: integer out of range (a 64-bit signed integer): 9223372036854775808");
	assert_refused("a: 0x8000000000000000\n",
	    "t.yaml:1:4: integer out of range (a 64-bit signed integer): 0x8000000000000000");
	assert_refused("[1, 99999999999999999999]",
	    "t.yaml:1:5: integer out of range (a 64-bit signed integer): 99999999999999999999");
}

static void
test_refuses_nul_in_strings(void **state)
{
	(void)state;
	assert_refused("a: \"x\\0y\"\n",
	    "t.yaml:1:4: a NUL character in a string is not supported");
	assert_refused("\"k\\0\": 1\n",
	    "t.yaml:1:1: a NUL character in a key is not supported");
}

static void
test_refuses_undefined_aliases(void **state)
{
	(void)state;
	assert_refused("a: *nowhere\n", "t.yaml:1:4: undefined alias '*nowhere'");
	/* An anchor is defined only once its node is complete. */
	assert_refused("a: &x [1, *x]\n", "t.yaml:1:11: undefined alias '*x'");
}

static void
test_refuses_nesting_past_the_depth_limit(void **state)
{
	size_t n = 100000;
	char *text = malloc(2 * n + 1), expected[128];
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;
	double t0 = now_seconds();

	(void)state;
	memset(text, '[', n);
	memset(text + n, ']', n);
	text[2 * n] = '\0';
	snprintf(expected, sizeof expected,
	    "t.yaml:1:%d: nested more than %d levels deep", CONFIG_MAX_DEPTH + 1,
	    CONFIG_MAX_DEPTH);
	assert_refused(text, expected);
	/* Unclosed, and as flow mappings. */
	text[n] = '\0';
	assert_refused(text, expected);
	for (size_t i = 0; i < 64 * 4; i += 4)
		memcpy(text + i, "{a: ", 4);
	strcpy(text + 64 * 4, "{a: 1");
	snprintf(expected, sizeof expected,
	    "t.yaml:1:%d: nested more than %d levels deep", 64 * 4 + 1,
	    CONFIG_MAX_DEPTH);
	assert_refused(text, expected);
	assert_true(now_seconds() - t0 < 2.0);

	/* Exactly the limit is fine. */
	memset(text, '[', CONFIG_MAX_DEPTH);
	memset(text + CONFIG_MAX_DEPTH, ']', CONFIG_MAX_DEPTH);
	text[2 * CONFIG_MAX_DEPTH] = '\0';
	assert_int_equal(config_load_buffer("t.yaml", text, strlen(text), &doc,
	    &err), 0);
	config_doc_free(doc);

	/* Block nesting counts the same way. */
	{
		char *p = text;

		for (int i = 0; i < 70; i++) {
			memset(p, ' ', (size_t)i);
			p += i;
			p += sprintf(p, "a:\n");
		}
		*p = '\0';
		assert_refused(text, "t.yaml:65:65: nested more than 64 levels deep");
	}
	free(text);
}

static void
test_refuses_an_alias_that_nests_too_deep(void **state)
{
	char text[1024], *p = text, expected[128];

	(void)state;
	/* An anchor 40 levels tall, used 30 levels down. */
	p += sprintf(p, "a: &deep ");
	for (int i = 0; i < 40; i++)
		*p++ = '[';
	for (int i = 0; i < 40; i++)
		*p++ = ']';
	p += sprintf(p, "\nb: ");
	for (int i = 0; i < 30; i++)
		*p++ = '[';
	p += sprintf(p, "*deep");
	for (int i = 0; i < 30; i++)
		*p++ = ']';
	*p++ = '\n';
	*p = '\0';
	snprintf(expected, sizeof expected,
	    "t.yaml:2:34: nested more than %d levels deep", CONFIG_MAX_DEPTH);
	assert_refused(text, expected);
}

static void
test_refuses_billion_laughs_quickly(void **state)
{
	const char *text =
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	char expected[256];
	double t0 = now_seconds();

	(void)state;
	/* Copies so far: 9*10 + 9*91 + 9*820 = 8289 nodes; each *d is 7381
	 * more, so the 8th *d on line 5 would pass 65536. */
	snprintf(expected, sizeof expected,
	    "t.yaml:5:29: alias '*d' expands past the limit of %u nodes or %u "
	    "bytes copied for aliases", CONFIG_MAX_ALIAS_NODES,
	    CONFIG_MAX_ALIAS_BYTES);
	assert_refused(text, expected);
	assert_true(now_seconds() - t0 < 1.0);
}

static void
test_refuses_alias_expansion_of_big_strings(void **state)
{
	size_t big = 1 << 20, n;
	char *text = malloc(big + 64 + 40 * 3), *p = text, expected[256];

	(void)state;
	p += sprintf(p, "s: &s \"");
	memset(p, 'x', big);
	p += big;
	p += sprintf(p, "\"\nl: [");
	for (n = 0; n < 40; n++)
		p += sprintf(p, "*s,");
	strcpy(p, "]\n");
	/* The 17th copy would pass 16 MiB. */
	snprintf(expected, sizeof expected,
	    "t.yaml:2:%d: alias '*s' expands past the limit of %u nodes or %u "
	    "bytes copied for aliases", 5 + 16 * 3, CONFIG_MAX_ALIAS_NODES,
	    CONFIG_MAX_ALIAS_BYTES);
	assert_refused(text, expected);
	free(text);
}

static void
test_refuses_documents_over_the_size_limit(void **state)
{
	size_t n = CONFIG_MAX_BYTES + 1;
	char *text = malloc(n);
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;

	(void)state;
	memset(text, ' ', n);
	assert_int_equal(config_load_buffer("big.yaml", text, n, &doc, &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg,
	    "big.yaml: larger than the limit of 16 MiB for a configuration file");
	free(text);
}

static void
test_refuses_more_nodes_than_the_limit(void **state)
{
	size_t n = CONFIG_MAX_NODES;
	char *text = malloc(2 * n + 3), expected[128];

	(void)state;
	/* The list itself is one node, so its last element is one too many. */
	text[0] = '[';
	for (size_t i = 0; i < n; i++)
		memcpy(text + 1 + 2 * i, "0,", 2);
	text[2 * n] = ']';
	text[2 * n + 1] = '\0';
	snprintf(expected, sizeof expected,
	    "t.yaml:1:%zu: document has more than %u nodes", 2 * n,
	    CONFIG_MAX_NODES);
	assert_refused(text, expected);
	free(text);
}

/* ---- hostile input -------------------------------------------------------- */

static const char sample[] =
    "# a sample with most of YAML in it\n"
    "identity: {id: code-reviewer-agent, name: \"Code \\u00e9 reviewer\"}\n"
    "plugins: [{name: git-tools, path: ../plugins/git-tools}]\n"
    "defaults: &defaults\n"
    "  restart: on-failure\n"
    "  backoff: {initial: 1s, max: 30s, jitter: 0.2}\n"
    "runtime:\n"
    "  <<: *defaults\n"
    "  command: [share/starry/agents/reviewer.sh, '--flag', \"x\"]\n"
    "  limits: {memory: 256M, cpu: 60s, tokens: 100000, nofile: 0x400}\n"
    "  env:\n"
    "    LOG_LEVEL: !!str info\n"
    "    TEXT: |\n"
    "      line one\n"
    "      line two\n"
    "    FOLDED: >-\n"
    "      folded\n"
    "      text\n"
    "  list:\n"
    "    - a\n"
    "    - ? complex\n"
    "      : value\n"
    "    - &anchor [1, 2.5, ~, true]\n"
    "    - *anchor\n"
    "...\n";

static void
check_survives(const char *name, const char *buf, size_t len)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;
	char *copy = malloc(len ? len : 1);

	/* An exact-size copy, so that reading past the end is caught. */
	memcpy(copy, buf, len);
	if (config_load_buffer(name, copy, len, &doc, &err) == 0) {
		assert_non_null(config_root(doc));
		config_doc_free(doc);
	} else {
		assert_null(doc);
		assert_true(strncmp(err.msg, "h.yaml:", 7) == 0);
		assert_true(err.code == EX_CONFIG);
	}
	free(copy);
}

static void
test_the_sample_loads(void **state)
{
	struct config_doc *doc = load_ok(sample);
	json_t *rt = json_object_get(config_root(doc), "runtime");

	(void)state;
	/* No merge keys in YAML 1.2: "<<" is an ordinary key. */
	assert_true(json_is_object(json_object_get(rt, "<<")));
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(rt, "env"), "TEXT")), "line one\nline two\n");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(rt, "env"), "FOLDED")), "folded text");
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(rt, "limits"), "nofile")), 1024);
	config_doc_free(doc);
}

static void
test_truncation_at_every_byte_loads_or_fails_cleanly(void **state)
{
	size_t len = strlen(sample);

	(void)state;
	for (size_t n = 0; n <= len; n++)
		check_survives("h.yaml", sample, n);
}

static void
test_damage_at_every_byte_loads_or_fails_cleanly(void **state)
{
	static const char bytes[] = { ':', '[', '{', '&', '*', '!', '\n', '"',
	    '\'', '\0', '\t', '\x80', '-', '?', '|', '#', '%', '@' };
	size_t len = strlen(sample);
	char *buf = malloc(len);

	(void)state;
	for (size_t i = 0; i < len; i++)
		for (size_t b = 0; b < sizeof bytes; b++) {
			memcpy(buf, sample, len);
			buf[i] = bytes[b];
			check_survives("h.yaml", buf, len);
		}
	free(buf);
}

/* ---- validation ------------------------------------------------------------ */

static const char *const runtime_keys[] = { "command", "driver", "restart",
	"backoff", "holddown", "limits", "stop", "snapshot", "env", NULL };
static const char *const restarts[] = { "always", "on-failure", "never", NULL };

static struct config_doc *
load_named(const char *name, const char *text)
{
	struct starry_err err = { 0 };
	struct config_doc *doc = NULL;

	if (config_load_buffer(name, text, strlen(text), &doc, &err) < 0)
		fail_msg("load failed: %s", err.msg);
	return doc;
}

static void
test_a_bad_enum_reads_as_in_the_design(void **state)
{
	struct config_doc *doc = load_named("agents/reviewer.yaml",
	    "# code reviewer\n"
	    "identity: {id: code-reviewer-agent, name: Code reviewer}\n"
	    "plugins: [{name: git-tools, path: ../plugins/git-tools}]\n"
	    "runtime:\n"
	    "  command: [share/starry/agents/reviewer.sh]\n"
	    "  driver: process\n"
	    "  restart: sometimes\n");
	struct config_scope root, rt;
	struct starry_err err = { 0 };
	int restart = -1;

	(void)state;
	config_scope_root(doc, &root);
	assert_int_equal(config_get_object(&root, "runtime", CONFIG_REQUIRED, &rt,
	    &err), 0);
	assert_int_equal(config_check_keys(&rt, runtime_keys, &err), 0);
	assert_int_equal(config_get_enum(&rt, "restart", CONFIG_OPTIONAL, restarts,
	    &restart, &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, "agents/reviewer.yaml:7:3: runtime.restart: "
	    "expected one of always, on-failure, never");
	assert_int_equal(restart, -1);
	config_doc_free(doc);
}

static void
test_unknown_keys_suggest_the_nearest(void **state)
{
	struct config_doc *doc = load_named("a.yaml",
	    "runtime:\n"
	    "  driver: process\n"
	    "  restrat: never\n");
	struct config_doc *doc2 = load_named("b.yaml",
	    "runtime: {driver: process, zzz: 1}\n");
	struct config_scope root, rt;
	struct starry_err err = { 0 };

	(void)state;
	config_scope_root(doc, &root);
	config_get_object(&root, "runtime", CONFIG_REQUIRED, &rt, &err);
	assert_int_equal(config_check_keys(&rt, runtime_keys, &err), -1);
	assert_string_equal(err.msg,
	    "a.yaml:3:3: runtime.restrat: unknown key; did you mean 'restart'?");

	config_scope_root(doc2, &root);
	config_get_object(&root, "runtime", CONFIG_REQUIRED, &rt, &err);
	assert_int_equal(config_check_keys(&rt, runtime_keys, &err), -1);
	assert_string_equal(err.msg, "b.yaml:1:28: runtime.zzz: unknown key; "
	    "expected one of command, driver, restart, backoff, holddown, limits, "
	    "stop, snapshot, env");
	config_doc_free(doc);
	config_doc_free(doc2);
}

static void
test_suggestions(void **state)
{
	static const struct { const char *key, *want; } cases[] = {
		{ "restrat", "restart" }, { "Restart", "restart" },
		{ "restar", "restart" }, { "rest", "restart" },
		{ "comand", "command" }, { "commands", "command" },
		{ "envv", "env" }, { "snap", "snapshot" },
		{ "holdown", "holddown" }, { "limit", "limits" },
		{ "x", NULL }, { "zz", NULL }, { "network", NULL },
		{ "re", NULL }, { "", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *got = config_suggest(cases[i].key, runtime_keys);

		if (cases[i].want == NULL ? got != NULL :
		    got == NULL || strcmp(got, cases[i].want) != 0)
			fail_msg("suggest('%s') = %s, expected %s", cases[i].key,
			    got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
	}
}

static void
test_key_paths_name_nested_members_and_elements(void **state)
{
	struct config_doc *doc = load_named("x.yaml",
	    "runtime:\n"					/* 1 */
	    "  backoff: {initial: 1s, max: 30}\n"		/* 2 */
	    "plugins:\n"					/* 3 */
	    "  - {name: a, path: ./a}\n"			/* 4 */
	    "  - {name: b, path: ./b}\n"			/* 5 */
	    "  - {name: c}\n");					/* 6 */
	struct config_scope root, rt, bo, pl, el;
	struct starry_err err = { 0 };
	const char *path;
	int64_t ms = 0;
	size_t i;

	(void)state;
	config_scope_root(doc, &root);
	assert_int_equal(config_get_object(&root, "runtime", 0, &rt, &err), 0);
	assert_int_equal(config_get_object(&rt, "backoff", 0, &bo, &err), 0);
	assert_int_equal(config_get_duration(&bo, "initial", 0, &ms, &err), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(config_get_duration(&bo, "max", 0, &ms, &err), -1);
	assert_string_equal(err.msg, "x.yaml:2:26: runtime.backoff.max: "
	    "invalid duration '30': add a unit (ms, s, m, h or d), e.g. '30s'");

	assert_int_equal(config_get_array(&root, "plugins", CONFIG_REQUIRED, &pl,
	    &err), 0);
	for (i = 0; i < json_array_size(pl.node); i++) {
		config_scope_element(&pl, i, &el);
		if (config_get_string(&el, "path", CONFIG_REQUIRED, &path, &err) < 0)
			break;
	}
	assert_int_equal(i, 2);
	assert_string_equal(err.msg,
	    "x.yaml:6:5: plugins[2].path: missing required key");
	config_doc_free(doc);
}

static void
test_getters_read_values_and_leave_defaults_for_absent_keys(void **state)
{
	struct config_doc *doc = load_named("g.yaml",
	    "name: demo\n"
	    "count: 7\n"
	    "jitter: 0.2\n"
	    "whole: 2\n"
	    "enabled: false\n"
	    "restart: never\n"
	    "every: 1h30m\n"
	    "memory: 256M\n"
	    "bytes: 512\n"
	    "on: git:push\n"
	    "types: [a, b]\n"
	    "nothing: ~\n"
	    "runtime: {x: 1}\n");
	struct config_scope root, sub;
	struct starry_err err = { 0 };
	const char *s = "default", **list;
	int64_t n = -1, ms = -1;
	uint64_t sz = 0;
	double d = -1;
	bool b = true;
	int e = -1;
	size_t count;

	(void)state;
	config_scope_root(doc, &root);
	assert_int_equal(config_get_string(&root, "name", CONFIG_REQUIRED, &s, &err), 0);
	assert_string_equal(s, "demo");
	assert_int_equal(config_get_int(&root, "count", 0, 0, 10, &n, &err), 0);
	assert_int_equal(n, 7);
	assert_int_equal(config_get_number(&root, "jitter", 0, 0, 1, &d, &err), 0);
	assert_true(d == 0.2);
	assert_int_equal(config_get_number(&root, "whole", 0, 0, 5, &d, &err), 0);
	assert_true(d == 2.0);
	assert_int_equal(config_get_bool(&root, "enabled", 0, &b, &err), 0);
	assert_false(b);
	assert_int_equal(config_get_enum(&root, "restart", 0, restarts, &e, &err), 0);
	assert_int_equal(e, 2);
	assert_int_equal(config_get_duration(&root, "every", 0, &ms, &err), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(config_get_size(&root, "memory", 0, &sz, &err), 0);
	assert_int_equal(sz, 256u << 20);
	assert_int_equal(config_get_size(&root, "bytes", 0, &sz, &err), 0);
	assert_int_equal(sz, 512);
	assert_int_equal(config_get_string_list(&root, "types", 0, &list, &count,
	    &err), 0);
	assert_int_equal(count, 2);
	assert_string_equal(list[0], "a");
	assert_string_equal(list[1], "b");
	assert_null(list[2]);
	free(list);
	assert_int_equal(config_get_string_list(&root, "on", CONFIG_ONE_OR_LIST,
	    &list, &count, &err), 0);
	assert_int_equal(count, 1);
	assert_string_equal(list[0], "git:push");
	free(list);

	/* Absent and null keys leave the defaults in place. */
	s = "default";
	n = 42;
	assert_int_equal(config_get_string(&root, "missing", 0, &s, &err), 0);
	assert_string_equal(s, "default");
	assert_int_equal(config_get_string(&root, "nothing", 0, &s, &err), 0);
	assert_string_equal(s, "default");
	assert_int_equal(config_get_int(&root, "missing", 0, 0, 100, &n, &err), 0);
	assert_int_equal(n, 42);
	assert_int_equal(config_get_string_list(&root, "missing", 0, &list, &count,
	    &err), 0);
	assert_null(list);
	assert_int_equal(count, 0);
	/* An absent block is a scope whose keys are all absent. */
	assert_int_equal(config_get_object(&root, "stop", 0, &sub, &err), 0);
	assert_null(sub.node);
	assert_string_equal(sub.path, "stop");
	assert_int_equal(config_get_duration(&sub, "timeout", 0, &ms, &err), 0);
	assert_int_equal(config_check_keys(&sub, runtime_keys, &err), 0);
	assert_int_equal(config_get_string(&sub, "signal", CONFIG_REQUIRED, &s,
	    &err), -1);
	assert_string_equal(err.msg, "g.yaml:1:1: stop.signal: missing required key");
	config_doc_free(doc);
}

static void
test_getters_refuse_wrong_values_with_their_place(void **state)
{
	struct config_doc *doc = load_named("w.yaml",
	    "name: 5\n"				/* 1 */
	    "count: 11\n"			/* 2 */
	    "ratio: high\n"			/* 3 */
	    "enabled: yes\n"			/* 4 */
	    "flag: 1\n"				/* 5 */
	    "every: 5x\n"			/* 6 */
	    "memory: -1\n"			/* 7 */
	    "size: 1.5G\n"			/* 8 */
	    "types: [a, 3]\n"			/* 9 */
	    "runtime: [1]\n"			/* 10 */
	    "need:\n"				/* 11 */
	    "restart: 1\n"			/* 12 */
	    "float: 1.0\n");			/* 13 */
	struct config_scope root, sub, list_scope, el;
	struct starry_err err = { 0 };
	const char *s, **list = NULL;
	int64_t n;
	uint64_t sz;
	double d;
	bool b;
	int e;
	size_t count;

	(void)state;
	config_scope_root(doc, &root);
	assert_int_equal(config_get_string(&root, "name", 0, &s, &err), -1);
	assert_string_equal(err.msg, "w.yaml:1:1: name: expected a string, got an integer");
	assert_int_equal(config_get_int(&root, "count", 0, 0, 10, &n, &err), -1);
	assert_string_equal(err.msg,
	    "w.yaml:2:1: count: expected an integer from 0 to 10, got 11");
	assert_int_equal(config_get_int(&root, "float", 0, 0, 10, &n, &err), -1);
	assert_string_equal(err.msg,
	    "w.yaml:13:1: float: expected an integer, got a number");
	assert_int_equal(config_get_number(&root, "ratio", 0, 0, 1, &d, &err), -1);
	assert_string_equal(err.msg, "w.yaml:3:1: ratio: expected a number, got a string");
	assert_int_equal(config_get_bool(&root, "enabled", 0, &b, &err), -1);
	assert_string_equal(err.msg, "w.yaml:4:1: enabled: expected true or false, "
	    "got 'yes' (a string in YAML 1.2)");
	assert_int_equal(config_get_bool(&root, "flag", 0, &b, &err), -1);
	assert_string_equal(err.msg,
	    "w.yaml:5:1: flag: expected true or false, got an integer");
	assert_int_equal(config_get_duration(&root, "every", 0, &n, &err), -1);
	assert_string_equal(err.msg, "w.yaml:6:1: every: invalid duration '5x': "
	    "unknown unit 'x' (use ms, s, m, h or d)");
	assert_int_equal(config_get_size(&root, "memory", 0, &sz, &err), -1);
	assert_string_equal(err.msg, "w.yaml:7:1: memory: invalid size '-1': negative");
	assert_int_equal(config_get_size(&root, "size", 0, &sz, &err), -1);
	assert_string_equal(err.msg, "w.yaml:8:1: size: invalid size '1.5G': "
	    "use whole numbers, e.g. '1536M' rather than '1.5G'");
	assert_int_equal(config_get_string_list(&root, "types", 0, &list, &count,
	    &err), -1);
	assert_null(list);
	assert_string_equal(err.msg, "w.yaml:9:12: types[1]: expected a string, got an integer");
	assert_int_equal(config_get_string_list(&root, "name", CONFIG_ONE_OR_LIST,
	    &list, &count, &err), -1);
	assert_string_equal(err.msg,
	    "w.yaml:1:1: name: expected a list of strings, got an integer");
	assert_int_equal(config_get_object(&root, "runtime", 0, &sub, &err), -1);
	assert_string_equal(err.msg, "w.yaml:10:1: runtime: expected an object, got a list");
	assert_int_equal(config_get_array(&root, "need", CONFIG_REQUIRED, &sub, &err), -1);
	assert_string_equal(err.msg, "w.yaml:11:1: need: expected a list, got null");
	assert_int_equal(config_get_enum(&root, "restart", 0, restarts, &e, &err), -1);
	assert_string_equal(err.msg,
	    "w.yaml:12:1: restart: expected one of always, on-failure, never");
	assert_int_equal(config_get_string(&root, "absent", CONFIG_REQUIRED, &s, &err), -1);
	assert_string_equal(err.msg, "w.yaml:1:1: absent: missing required key");
	/* Keys asked of something that is not an object. */
	config_scope_member(&root, "types", &list_scope);
	assert_int_equal(config_get_string(&list_scope, "x", 0, &s, &err), -1);
	assert_string_equal(err.msg, "w.yaml:9:1: types: expected an object, got a list");
	assert_int_equal(config_check_keys(&list_scope, runtime_keys, &err), -1);
	assert_string_equal(err.msg, "w.yaml:9:1: types: expected an object, got a list");
	/* A getter on an element itself (key NULL). */
	config_scope_element(&list_scope, 1, &el);
	assert_int_equal(config_get_int(&el, NULL, CONFIG_REQUIRED, 0, 5, &n, &err), 0);
	assert_int_equal(n, 3);
	config_scope_element(&list_scope, 0, &el);
	assert_int_equal(config_get_int(&el, NULL, CONFIG_REQUIRED, 0, 5, &n, &err), -1);
	assert_string_equal(err.msg, "w.yaml:9:9: types[0]: expected an integer, got a string");
	/* The caller's own checks, in the same shape. */
	assert_int_equal(config_fail(&root, "restart", &err, "driver '%s' is not available",
	    "wasm"), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, "w.yaml:12:1: restart: driver 'wasm' is not available");
	assert_int_equal(config_fail(&root, NULL, &err, "empty"), -1);
	assert_string_equal(err.msg, "w.yaml:1:1: empty");
	config_doc_free(doc);
}

static void
test_long_key_paths_are_cut_short(void **state)
{
	struct config_doc *doc = load_ok("a: 1\n");
	struct config_scope root, s, next;
	char key[100];

	(void)state;
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	config_scope_root(doc, &root);
	s = root;
	for (int i = 0; i < 5; i++) {
		config_scope_member(&s, key, &next);
		s = next;
	}
	assert_int_equal(strlen(s.path), CONFIG_PATH_MAX - 1);
	assert_string_equal(s.path + CONFIG_PATH_MAX - 4, "...");
	config_doc_free(doc);
}

static void
test_string_env_expands_with_the_place_on_error(void **state)
{
	struct config_doc *doc = load_named("e.yaml",
	    "env:\n"
	    "  HOME_DIR: ${TEST_CONFIG_HOME}/x\n"
	    "  BAD: ${TEST_CONFIG_UNSET_VAR}\n");
	struct config_scope root, env;
	struct starry_err err = { 0 };
	char *out = NULL;

	(void)state;
	setenv("TEST_CONFIG_HOME", "/h", 1);
	unsetenv("TEST_CONFIG_UNSET_VAR");
	config_scope_root(doc, &root);
	config_get_object(&root, "env", 0, &env, &err);
	assert_int_equal(config_get_string_env(&env, "HOME_DIR", 0, &out, &err), 0);
	assert_string_equal(out, "/h/x");
	free(out);
	out = NULL;
	assert_int_equal(config_get_string_env(&env, "BAD", 0, &out, &err), -1);
	assert_null(out);
	assert_string_equal(err.msg,
	    "e.yaml:3:3: env.BAD: variable 'TEST_CONFIG_UNSET_VAR' is not set");
	assert_int_equal(config_get_string_env(&env, "ABSENT", 0, &out, &err), 0);
	assert_null(out);
	config_doc_free(doc);
}

/* ---- durations and sizes ------------------------------------------------- */

static void
test_durations(void **state)
{
	static const struct { const char *in; int64_t ms; } good[] = {
		{ "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "2d", 172800000 }, { "1h30m", 5400000 },
		{ "1d2h3m4s5ms", 93784005 }, { "0s", 0 }, { "0ms", 0 },
		{ "007s", 7000 }, { "1m0s", 60000 },
		{ "106751991167d", 106751991167LL * 86400000 },
		{ "9223372036854775807ms", INT64_MAX },
	};
	static const struct { const char *in, *msg; } bad[] = {
		{ "", "invalid duration '': empty" },
		{ "30", "invalid duration '30': add a unit (ms, s, m, h or d), e.g. '30s'" },
		{ "0", "invalid duration '0': add a unit (ms, s, m, h or d), e.g. '0s'" },
		{ "1h30", "invalid duration '1h30': add a unit after the last number" },
		{ "-5s", "invalid duration '-5s': negative" },
		{ "+5s", "invalid duration '+5s': expected a number at '+5s'" },
		{ "5x", "invalid duration '5x': unknown unit 'x' (use ms, s, m, h or d)" },
		{ "5us", "invalid duration '5us': unknown unit 'us' (use ms, s, m, h or d)" },
		{ "5M", "invalid duration '5M': unknown unit 'M' (use ms, s, m, h or d)" },
		{ "5 s", "invalid duration '5 s': expected a unit at ' s'" },
		{ " 5s", "invalid duration ' 5s': expected a number at ' 5s'" },
		{ "5s ", "invalid duration '5s ': expected a number at ' '" },
		{ "1.5h", "invalid duration '1.5h': use whole numbers, e.g. '1m30s' rather than '1.5m'" },
		{ "s", "invalid duration 's': expected a number at 's'" },
		{ "30m1h", "invalid duration '30m1h': units go from largest to smallest, each once" },
		{ "1s1s", "invalid duration '1s1s': units go from largest to smallest, each once" },
		{ "106751991168d", "invalid duration '106751991168d': too large" },
		{ "9223372036854775808ms", "invalid duration '9223372036854775808ms': too large" },
		{ "99999999999999999999999s", "invalid duration '99999999999999999999999s': too large" },
		{ "9223372036854775807ms1ms", "invalid duration '9223372036854775807ms1ms': units go from largest to smallest, each once" },
		{ "106751991167d1d", "invalid duration '106751991167d1d': units go from largest to smallest, each once" },
		{ "106751991167d23h59m59s999ms", "invalid duration '106751991167d23h59m59s999ms': too large" },
	};
	struct starry_err err;
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		ms = -1;
		if (config_parse_duration(good[i].in, &ms, &err) < 0)
			fail_msg("'%s': %s", good[i].in, err.msg);
		if (ms != good[i].ms)
			fail_msg("'%s' = %lld, expected %lld", good[i].in,
			    (long long)ms, (long long)good[i].ms);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ms = 12345;
		memset(&err, 0, sizeof err);
		if (config_parse_duration(bad[i].in, &ms, &err) == 0)
			fail_msg("'%s' was accepted as %lld", bad[i].in, (long long)ms);
		assert_int_equal(err.code, EX_CONFIG);
		assert_int_equal(ms, 12345);
		if (strcmp(err.msg, bad[i].msg) != 0)
			fail_msg("'%s': got \"%s\", expected \"%s\"", bad[i].in,
			    err.msg, bad[i].msg);
	}
}

static void
test_sizes(void **state)
{
	static const struct { const char *in; uint64_t bytes; } good[] = {
		{ "512", 512 }, { "0", 0 }, { "512B", 512 },
		{ "64K", 65536 }, { "64k", 65536 }, { "64KB", 65536 },
		{ "64KiB", 65536 }, { "256M", 256ULL << 20 }, { "256MiB", 256ULL << 20 },
		{ "1G", 1ULL << 30 }, { "1g", 1ULL << 30 }, { "2T", 2ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ULL << 40 },
	};
	static const struct { const char *in, *msg; } bad[] = {
		{ "", "invalid size '': empty" },
		{ "-1", "invalid size '-1': negative" },
		{ "K", "invalid size 'K': expected a number at 'K'" },
		{ "1.5G", "invalid size '1.5G': use whole numbers, e.g. '1536M' rather than '1.5G'" },
		{ "64X", "invalid size '64X': unknown unit 'X' (use K, M, G or T, powers of 1024)" },
		{ "64Ki", "invalid size '64Ki': unknown unit 'Ki' (use K, M, G or T, powers of 1024)" },
		{ "64KiBs", "invalid size '64KiBs': unknown unit 'KiBs' (use K, M, G or T, powers of 1024)" },
		{ "64 K", "invalid size '64 K': unknown unit ' K' (use K, M, G or T, powers of 1024)" },
		{ "64P", "invalid size '64P': unknown unit 'P' (use K, M, G or T, powers of 1024)" },
		{ "18446744073709551616", "invalid size '18446744073709551616': too large" },
		{ "16777216T", "invalid size '16777216T': too large" },
		{ "17179869184G", "invalid size '17179869184G': too large" },
	};
	struct starry_err err;
	uint64_t bytes;

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		bytes = 1;
		if (config_parse_size(good[i].in, &bytes, &err) < 0)
			fail_msg("'%s': %s", good[i].in, err.msg);
		if (bytes != good[i].bytes)
			fail_msg("'%s' = %llu, expected %llu", good[i].in,
			    (unsigned long long)bytes, (unsigned long long)good[i].bytes);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memset(&err, 0, sizeof err);
		if (config_parse_size(bad[i].in, &bytes, &err) == 0)
			fail_msg("'%s' was accepted as %llu", bad[i].in,
			    (unsigned long long)bytes);
		assert_int_equal(err.code, EX_CONFIG);
		if (strcmp(err.msg, bad[i].msg) != 0)
			fail_msg("'%s': got \"%s\", expected \"%s\"", bad[i].in,
			    err.msg, bad[i].msg);
	}
}

/* ---- ${VAR} expansion ------------------------------------------------------ */

static void
test_env_expansion(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "plain", "plain" }, { "", "" },
		{ "${TC_A}", "alpha" }, { "x${TC_A}y", "xalphay" },
		{ "${TC_A}${TC_A}", "alphaalpha" },
		{ "${TC_EMPTY}", "" },
		{ "${TC_UNSET:-fallback}", "fallback" },
		{ "${TC_EMPTY:-fallback}", "fallback" },
		{ "${TC_A:-fallback}", "alpha" },
		{ "${TC_UNSET:-}", "" },
		{ "${TC_UNSET:-a b:c$}", "a b:c$" },
		{ "$$", "$" }, { "$${TC_A}", "${TC_A}" }, { "cost $5", "cost $5" },
		{ "end$", "end$" }, { "$$$$", "$$" },
		{ "${TC_DOLLAR}", "${TC_A}" },	/* values are not expanded again */
	};
	static const struct { const char *in, *msg; } bad[] = {
		{ "${TC_UNSET}", "variable 'TC_UNSET' is not set" },
		{ "a ${TC_UNSET} b", "variable 'TC_UNSET' is not set" },
		{ "${TC_A", "unterminated '${' in '${TC_A'" },
		{ "${", "unterminated '${' in '${'" },
		{ "x ${TC_UNSET:-def", "unterminated '${' in 'x ${TC_UNSET:-def'" },
		{ "${}", "invalid variable name '${}' in '${}'" },
		{ "${1A}", "invalid variable name '${1A}' in '${1A}'" },
		{ "${A B}", "invalid variable name '${A B}' in '${A B}' (use ${NAME} or ${NAME:-default})" },
		{ "${A-x}", "invalid variable name '${A-x}' in '${A-x}' (use ${NAME} or ${NAME:-default})" },
	};
	struct starry_err err;
	char *out;

	(void)state;
	setenv("TC_A", "alpha", 1);
	setenv("TC_EMPTY", "", 1);
	setenv("TC_DOLLAR", "${TC_A}", 1);
	unsetenv("TC_UNSET");
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		out = NULL;
		if (config_expand_env(good[i].in, &out, &err) < 0)
			fail_msg("'%s': %s", good[i].in, err.msg);
		if (strcmp(out, good[i].out) != 0)
			fail_msg("'%s' -> '%s', expected '%s'", good[i].in, out,
			    good[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		out = (char *)1;
		memset(&err, 0, sizeof err);
		if (config_expand_env(bad[i].in, &out, &err) == 0)
			fail_msg("'%s' was accepted as '%s'", bad[i].in, out);
		assert_null(out);
		assert_int_equal(err.code, EX_CONFIG);
		if (strcmp(err.msg, bad[i].msg) != 0)
			fail_msg("'%s': got \"%s\", expected \"%s\"", bad[i].in,
			    err.msg, bad[i].msg);
	}
}

static const char *
lookup_table(const char *name, void *arg)
{
	const char *const *kv = arg;

	for (; kv[0] != NULL; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static void
test_expansion_from_a_lookup_function(void **state)
{
	const char *table[] = { "AGENT", "reviewer", "HOME", "/agents", NULL };
	struct starry_err err;
	char *out;

	(void)state;
	setenv("AGENT", "from-the-environment", 1);
	assert_int_equal(config_expand("${HOME}/${AGENT}.yaml", lookup_table, table,
	    &out, &err), 0);
	assert_string_equal(out, "/agents/reviewer.yaml");
	free(out);
	assert_int_equal(config_expand("${PATH}", lookup_table, table, &out, &err), -1);
	assert_string_equal(err.msg, "variable 'PATH' is not set");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_and_json_load_the_same_tree),
		cmocka_unit_test(test_json_escapes_and_compact_form),
		cmocka_unit_test(test_plain_scalars_follow_the_yaml_1_2_core_schema),
		cmocka_unit_test(test_keys_are_their_text),
		cmocka_unit_test(test_an_empty_file_is_an_empty_object),
		cmocka_unit_test(test_positions_of_nested_nodes),
		cmocka_unit_test(test_positions_survive_many_nodes),
		cmocka_unit_test(test_an_alias_is_a_copy_with_the_original_places),
		cmocka_unit_test(test_load_file_reads_and_names_the_file),
		cmocka_unit_test(test_syntax_errors_name_file_line_and_column),
		cmocka_unit_test(test_refuses_control_characters),
		cmocka_unit_test(test_refuses_more_than_one_document),
		cmocka_unit_test(test_refuses_duplicate_keys),
		cmocka_unit_test(test_refuses_non_scalar_keys),
		cmocka_unit_test(test_refuses_tags_other_than_the_standard_ones),
		cmocka_unit_test(test_refuses_numbers_json_cannot_hold),
		cmocka_unit_test(test_refuses_nul_in_strings),
		cmocka_unit_test(test_refuses_undefined_aliases),
		cmocka_unit_test(test_refuses_nesting_past_the_depth_limit),
		cmocka_unit_test(test_refuses_an_alias_that_nests_too_deep),
		cmocka_unit_test(test_refuses_billion_laughs_quickly),
		cmocka_unit_test(test_refuses_alias_expansion_of_big_strings),
		cmocka_unit_test(test_refuses_documents_over_the_size_limit),
		cmocka_unit_test(test_refuses_more_nodes_than_the_limit),
		cmocka_unit_test(test_the_sample_loads),
		cmocka_unit_test(test_truncation_at_every_byte_loads_or_fails_cleanly),
		cmocka_unit_test(test_damage_at_every_byte_loads_or_fails_cleanly),
		cmocka_unit_test(test_a_bad_enum_reads_as_in_the_design),
		cmocka_unit_test(test_unknown_keys_suggest_the_nearest),
		cmocka_unit_test(test_suggestions),
		cmocka_unit_test(test_key_paths_name_nested_members_and_elements),
		cmocka_unit_test(test_getters_read_values_and_leave_defaults_for_absent_keys),
		cmocka_unit_test(test_getters_refuse_wrong_values_with_their_place),
		cmocka_unit_test(test_long_key_paths_are_cut_short),
		cmocka_unit_test(test_string_env_expands_with_the_place_on_error),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_expansion_from_a_lookup_function),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
