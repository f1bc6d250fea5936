/* lib/titles: a session's title from hook payloads and transcripts, by
 * rank; cleaning hostile text; reading only a transcript's head and tail,
 * and only a regular file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "titles.h"

static char dir[64], path[128];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_titles.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/t.jsonl", dir);
	return 0;
}

static int
teardown(void **state)
{
	char fifo[160];

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	unlink(fifo);
	unlink(path);
	return rmdir(dir);
}

static void
write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static const char *
clean(const char *text, size_t len, size_t size)
{
	static char out[TITLE_MAX];

	assert_true(size <= sizeof out);
	title_clean(out, size, text, len);
	return out;
}

static void
cleaning_keeps_the_first_line_and_only_what_prints(void **state)
{
	static const char bad[] = "a\xff\xc0\x80" "b\x1b[31mc\x7f" "d";
	static const char c1[] = "x\xc2\x9by";
	char long_text[400];

	(void)state;
	assert_string_equal(clean("  Fix the\tlogin   bug  \n", 24, TITLE_MAX),
	    "Fix the login bug");
	assert_string_equal(clean("\n\n  second line first\nthird", 27,
	    TITLE_MAX), "second line first");
	/* Ill-formed UTF-8 dropped; ESC, DEL and C1 controls are blanks. */
	assert_string_equal(clean(bad, sizeof bad - 1, TITLE_MAX),
	    "ab [31mc d");
	assert_string_equal(clean(c1, sizeof c1 - 1, TITLE_MAX), "x y");
	/* Bidi overrides, zero-width characters and a BOM show nothing. */
	assert_string_equal(clean("\xef\xbb\xbf" "a" "\xe2\x80\xae" "b"
	    "\xe2\x80\x8b" "c" "\xe2\x81\xa6" "d" "\xe2\x81\xa9" "e"
	    "\xd8\x9c", 22, TITLE_MAX), "abcde");
	assert_string_equal(clean("\xe2\x80\x94", 3, TITLE_MAX),
	    "\xe2\x80\x94");	/* an em dash stays */
	assert_string_equal(clean("a\0b", 3, TITLE_MAX), "a b");
	assert_string_equal(clean(" \t\r\n ", 5, TITLE_MAX), "");
	/* Cut on a character's boundary, with an ellipsis, within size. */
	for (size_t i = 0; i + 3 <= sizeof long_text - 1; i += 3)
		memcpy(long_text + i, "\xe2\x82\xac", 3);	/* € */
	long_text[sizeof long_text - 1 - (sizeof long_text - 1) % 3] = '\0';
	for (size_t size = 5; size <= TITLE_MAX; size++) {
		const char *out = clean(long_text, strlen(long_text), size);
		size_t n = strlen(out);

		assert_true(n < size);
		assert_int_equal(n % 3, 0);	/* whole characters */
		assert_memory_equal(out + n - 3, "\xe2\x80\xa6", 3);
	}
	assert_string_equal(clean("abcdefgh", 8, 6), "ab\xe2\x80\xa6");
	assert_string_equal(clean("abcdefgh", 8, 4), "\xe2\x80\xa6");
	assert_string_equal(clean("abcdefgh", 8, 3), "");
	assert_int_equal(title_cut("a\xe2\x82\xac", 3), 1);
	assert_int_equal(title_cut("a\xe2\x82\xac", 4), 4);
	assert_int_equal(title_cut("a\xff", 9), 1);
}

static void
ranks_decide_and_the_first_prompt_stays(void **state)
{
	struct session_title t = {0};

	(void)state;
	assert_false(title_offer(&t, TITLE_PROMPT, " \n", 2));
	assert_true(title_offer(&t, TITLE_PROMPT, "first", 5));
	assert_false(title_offer(&t, TITLE_PROMPT, "second", 6));
	assert_string_equal(t.text, "first");
	assert_true(title_offer(&t, TITLE_AGENT, "Agent's", 7));
	assert_false(title_offer(&t, TITLE_SUMMARY, "summary", 7));
	assert_true(title_offer(&t, TITLE_RENAME, "mine", 4));
	assert_false(title_offer(&t, TITLE_AGENT, "later agent", 11));
	assert_true(title_offer(&t, TITLE_RENAME, "mine again", 10));
	assert_false(title_offer(&t, TITLE_RENAME, "mine again", 10));
	assert_string_equal(t.text, "mine again");
	assert_string_equal(title_rank_name(t.rank), "rename");
	assert_null(title_rank_name(TITLE_NONE));
	assert_null(title_rank_name((enum title_rank)99));
}

static void
a_claude_transcript_names_its_session(void **state)
{
	struct session_title t = {0};

	(void)state;
	/* Meta lines and command wrappers are not the first prompt; a line
	 * that is not JSON, or a title of the wrong type, is passed over. */
	write_file(
	    "{\"type\":\"file-history-snapshot\",\"messageId\":\"m\"}\n"
	    "{\"type\":\"user\",\"isMeta\":true,\"message\":{\"role\":\"user\","
	    "\"content\":\"Caveat: local commands\"}}\n"
	    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
	    "\"<command-name>/clear</command-name>\"}}\n"
	    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"tool_result\",\"content\":\"x\"},{\"type\":\"text\","
	    "\"text\":\"Make the parser\\nstrict\"}]}}\n"
	    "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":"
	    "\"a later prompt\"}}\n"
	    "{\"type\":\"custom-title\",\"customTitle\":5}\n"
	    "{\"type\":\"summary\",\"summ\n"
	    "not json at all \"summary\" custom-title\n");
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_int_equal(t.rank, TITLE_PROMPT);
	assert_string_equal(t.text, "Make the parser");
	write_file(
	    "{\"type\":\"summary\",\"summary\":\"Parser work\",\"leafUuid\":\"u\"}\n"
	    "{\"type\":\"ai-title\",\"aiTitle\":\"Strict JSON parser\"}\n"
	    "{\"type\":\"custom-title\",\"customTitle\":\"old name\"}\n"
	    "{\"type\":\"ai-title\",\"aiTitle\":\"A later agent title\"}\n"
	    "{\"type\":\"custom-title\",\"customTitle\":\"parser \\u001b[2J"
	    "rewrite\",\"sessionId\":\"s\"}");	/* no final newline */
	memset(&t, 0, sizeof t);
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_int_equal(t.rank, TITLE_RENAME);
	assert_string_equal(t.text, "parser [2Jrewrite");
}

static void
a_codex_rollout_names_its_thread(void **state)
{
	struct session_title t = {0};

	(void)state;
	write_file(
	    "{\"type\":\"session_meta\",\"payload\":{\"id\":\"th\",\"cwd\":\"/p\"}}\n"
	    "{\"type\":\"response_item\",\"payload\":{\"type\":\"message\","
	    "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":"
	    "\"<environment_context>cwd</environment_context>\"}]}}\n"
	    "{\"type\":\"event_msg\",\"payload\":{\"type\":\"user_message\","
	    "\"message\":\"Add a --json flag\"}}\n");
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_string_equal(t.text, "Add a --json flag");
	write_file(
	    "{\"type\":\"event_msg\",\"payload\":{\"type\":\"thread_name_updated\","
	    "\"thread_id\":\"th\",\"thread_name\":\"JSON output\"}}\n");
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_int_equal(t.rank, TITLE_RENAME);
	assert_string_equal(t.text, "JSON output");
}

static void
a_big_transcript_is_read_at_its_head_and_tail_only(void **state)
{
	struct session_title t = {0};
	FILE *f = fopen(path, "w");
	char filler[1000];

	(void)state;
	assert_non_null(f);
	memset(filler, 'x', sizeof filler - 1);
	filler[sizeof filler - 1] = '\0';
	fputs("{\"type\":\"user\",\"message\":{\"content\":\"the first\"}}\n", f);
	/* A name in the middle is out of reach: only head and tail. */
	for (int i = 0; i < 200; i++)
		fprintf(f, "{\"type\":\"assistant\",\"t\":\"%s\"}\n", filler);
	fputs("{\"type\":\"custom-title\",\"customTitle\":\"middle\"}\n", f);
	for (int i = 0; i < 200; i++)
		fprintf(f, "{\"type\":\"assistant\",\"t\":\"%s\"}\n", filler);
	fputs("{\"type\":\"ai-title\",\"aiTitle\":\"at the end\"}\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_int_equal(t.rank, TITLE_AGENT);
	assert_string_equal(t.text, "at the end");
	memset(&t, 0, sizeof t);
	/* Cut short, its tail is in the middle of the long lines. */
	assert_int_equal(truncate(path, 300 * 1024), 0);
	assert_int_equal(title_from_transcript(&t, path), 0);
	assert_int_equal(t.rank, TITLE_PROMPT);
	assert_string_equal(t.text, "the first");
}

static void
only_a_regular_file_is_read(void **state)
{
	struct session_title t = {0};
	char fifo[160];

	(void)state;
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* No writer: a blocking open would hang here. */
	assert_int_equal(title_from_transcript(&t, fifo), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(title_from_transcript(&t, dir), -1);
	assert_int_equal(title_from_transcript(&t, "/dev/zero"), -1);
	assert_int_equal(title_from_transcript(&t, "/nonexistent/x"), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(t.rank, TITLE_NONE);
}

static void
a_payload_gives_its_prompt_and_transcript(void **state)
{
	struct session_title t = {0};
	json_t *p;

	(void)state;
	write_file("{\"type\":\"ai-title\",\"aiTitle\":\"From the file\"}\n");
	p = json_pack("{s:s, s:s, s:s}", "hook_event_name", "UserPromptSubmit",
	    "prompt", "Tidy the README", "transcript_path", path);
	assert_true(title_from_payload(&t, p, false));
	assert_string_equal(t.text, "Tidy the README");
	assert_true(title_from_payload(&t, p, true));
	assert_string_equal(t.text, "From the file");
	assert_false(title_from_payload(&t, p, true));
	json_decref(p);
	/* Codex's notify; wrong types are nothing. */
	memset(&t, 0, sizeof t);
	p = json_pack("{s:s, s:[s, s]}", "type", "agent-turn-complete",
	    "input-messages", "Rename the flag", "and more");
	assert_true(title_from_payload(&t, p, true));
	assert_string_equal(t.text, "Rename the flag");
	json_decref(p);
	memset(&t, 0, sizeof t);
	p = json_pack("{s:i, s:[i], s:{}}", "prompt", 3, "input-messages", 4,
	    "transcript_path");
	assert_false(title_from_payload(&t, p, true));
	json_decref(p);
	assert_false(title_from_payload(&t, NULL, true));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cleaning_keeps_the_first_line_and_only_what_prints),
		cmocka_unit_test(ranks_decide_and_the_first_prompt_stays),
		cmocka_unit_test(a_claude_transcript_names_its_session),
		cmocka_unit_test(a_codex_rollout_names_its_thread),
		cmocka_unit_test(a_big_transcript_is_read_at_its_head_and_tail_only),
		cmocka_unit_test(only_a_regular_file_is_read),
		cmocka_unit_test(a_payload_gives_its_prompt_and_transcript),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
