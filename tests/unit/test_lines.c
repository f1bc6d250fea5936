/* Bounded line reading from a non-blocking pipe: whole lines only,
 * over-long lines skipped and reported, a truncated last line reported. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "lines.h"

struct pipe_reader {
	int rfd, wfd;
	struct line_reader *r;
};

static void
open_pipe(struct pipe_reader *p, size_t max_line)
{
	int fds[2];

	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->r = line_reader_new(p->rfd, max_line);
	assert_non_null(p->r);
}

static void
close_pipe(struct pipe_reader *p)
{
	line_reader_free(p->r);
	close(p->rfd);
	if (p->wfd >= 0)
		close(p->wfd);
}

static void
put(struct pipe_reader *p, const char *s)
{
	assert_int_equal(write(p->wfd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
end_input(struct pipe_reader *p)
{
	close(p->wfd);
	p->wfd = -1;
}

/* The next status, filling from the pipe as long as data is there. */
static enum line_status
next(struct pipe_reader *p, const char **line, size_t *len, long *lineno)
{
	enum line_status st;

	while ((st = line_reader_next(p->r, line, len, lineno)) == LINE_AGAIN)
		if (line_reader_fill(p->r) < 0)
			return LINE_AGAIN;
	return st;
}

static void
whole_lines_only(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len;
	long no;
	(void)state;

	open_pipe(&p, 100);
	put(&p, "one\ntw");
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(line, "one", 3);
	assert_int_equal(no, 1);
	assert_int_equal(next(&p, &line, &len, &no), LINE_AGAIN);
	put(&p, "o\n\nthree\n");
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_memory_equal(line, "two", 3);
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_int_equal(len, 0);
	assert_int_equal(no, 3);
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_memory_equal(line, "three", 5);
	end_input(&p);
	assert_int_equal(next(&p, &line, &len, &no), LINE_EOF);
	assert_true(line_reader_eof(p.r));
	close_pipe(&p);
}

static void
truncated_last_line_is_reported(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len;
	long no;
	(void)state;

	open_pipe(&p, 100);
	put(&p, "a\npartial");
	end_input(&p);
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_int_equal(next(&p, &line, &len, &no), LINE_TRUNCATED);
	assert_int_equal(len, 7);
	assert_memory_equal(line, "partial", 7);
	assert_int_equal(no, 2);
	assert_int_equal(next(&p, &line, &len, &no), LINE_EOF);
	close_pipe(&p);
}

static void
a_line_at_the_limit_passes_one_over_is_skipped(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len;
	long no;
	char buf[40];
	(void)state;

	open_pipe(&p, 10);
	put(&p, "0123456789\n0123456789X\nok\n");
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_int_equal(len, 10);
	assert_int_equal(next(&p, &line, &len, &no), LINE_TOO_LONG);
	assert_int_equal(len, 10);
	assert_int_equal(no, 2);
	memcpy(buf, line, len);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_memory_equal(line, "ok", 2);
	assert_int_equal(no, 3);
	close_pipe(&p);
}

/* A line far longer than the buffer arrives in many reads: it is skipped
 * with constant memory, and the line after it is whole. */
static void
a_huge_line_is_skipped_across_many_reads(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len, sent = 0;
	long no;
	char chunk[4096];
	enum line_status st;
	(void)state;

	memset(chunk, 'z', sizeof chunk);
	open_pipe(&p, 1000);
	put(&p, "first\n");
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	while (sent < 3 * 1024 * 1024) {
		assert_int_equal(write(p.wfd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
		sent += sizeof chunk;
		st = next(&p, &line, &len, &no);
		assert_int_equal(st, LINE_AGAIN);
	}
	put(&p, "tail\nafter\n");
	assert_int_equal(next(&p, &line, &len, &no), LINE_TOO_LONG);
	assert_int_equal(len, 1000);
	assert_int_equal(line[0], 'z');
	assert_int_equal(no, 2);
	assert_int_equal(next(&p, &line, &len, &no), LINE_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "after", 5);
	close_pipe(&p);
}

static void
a_huge_unterminated_last_line_is_too_long(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len;
	long no;
	char chunk[3000];
	(void)state;

	memset(chunk, 'y', sizeof chunk);
	open_pipe(&p, 100);
	assert_int_equal(write(p.wfd, chunk, sizeof chunk), (ssize_t)sizeof chunk);
	end_input(&p);
	assert_int_equal(next(&p, &line, &len, &no), LINE_TOO_LONG);
	assert_int_equal(len, 100);
	assert_int_equal(next(&p, &line, &len, &no), LINE_EOF);
	close_pipe(&p);
}

static void
many_lines_across_buffer_boundaries(void **state)
{
	struct pipe_reader p;
	const char *line;
	size_t len;
	long no, want = 1;
	char text[64];
	int n, written = 0;
	enum line_status st;
	(void)state;

	open_pipe(&p, 64);
	for (int i = 1; i <= 20000; i++) {
		n = snprintf(text, sizeof text, "line %d\n", i);
		if (write(p.wfd, text, n) != n) {
			/* The pipe is full: read what is there, then retry. */
			while ((st = next(&p, &line, &len, &no)) == LINE_OK) {
				n = snprintf(text, sizeof text, "line %ld", want);
				assert_int_equal(len, (size_t)n);
				assert_memory_equal(line, text, n);
				assert_int_equal(no, want++);
			}
			i--;
			continue;
		}
		written++;
	}
	end_input(&p);
	while ((st = next(&p, &line, &len, &no)) == LINE_OK)
		assert_int_equal(no, want++);
	assert_int_equal(st, LINE_EOF);
	assert_int_equal(want - 1, written);
	close_pipe(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_lines_only),
		cmocka_unit_test(truncated_last_line_is_reported),
		cmocka_unit_test(a_line_at_the_limit_passes_one_over_is_skipped),
		cmocka_unit_test(a_huge_line_is_skipped_across_many_reads),
		cmocka_unit_test(a_huge_unterminated_last_line_is_too_long),
		cmocka_unit_test(many_lines_across_buffer_boundaries),
	};

	return cmocka_run_group_tests_name("lines", tests, NULL, NULL);
}
