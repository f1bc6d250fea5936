/* The line queue: priority order, FIFO within a priority, begun lines
 * finished first, bounds by lines and bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "lineq.h"

/* Drain q in writes of at most max bytes into out. */
static size_t
drain(struct lineq *q, size_t max, char *out, size_t cap)
{
	const char *p;
	size_t len, n = 0;

	while ((p = lineq_peek(q, max, &len)) != NULL) {
		assert_true(n + len <= cap);
		memcpy(out + n, p, len);
		n += len;
		lineq_consume(q, len);
	}
	out[n] = '\0';
	return n;
}

static void
lower_numbers_leave_first_fifo_within(void **state)
{
	struct lineq *q = lineq_new(100, 1 << 20);
	char out[256];
	(void)state;

	lineq_push(q, 5, "e1", 2);
	lineq_push(q, 3, "c1", 2);
	lineq_push(q, 5, "e2", 2);
	lineq_push(q, 0, "a1", 2);
	lineq_push(q, 3, "c2", 2);
	assert_int_equal(lineq_lines(q), 5);
	assert_int_equal(lineq_bytes(q), 15);
	drain(q, 1000, out, sizeof out);
	assert_string_equal(out, "a1\nc1\nc2\ne1\ne2\n");
	assert_int_equal(lineq_lines(q), 0);
	assert_int_equal(lineq_bytes(q), 0);
	lineq_free(q);
}

static void
a_begun_line_is_finished_before_a_higher_priority(void **state)
{
	struct lineq *q = lineq_new(100, 1 << 20);
	const char *p;
	size_t len;
	char out[256];
	(void)state;

	lineq_push(q, 5, "slow-one", 8);
	lineq_push(q, 5, "slow-two", 8);
	p = lineq_peek(q, 4, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "slow", 4);
	lineq_consume(q, 4);			/* "slow" written */
	lineq_push(q, 0, "urgent", 6);
	p = lineq_peek(q, 1000, &len);
	assert_memory_equal(p, "-one\n", 5);	/* only the rest of that line */
	assert_int_equal(len, 5);
	lineq_consume(q, len);
	drain(q, 1000, out, sizeof out);
	assert_string_equal(out, "urgent\nslow-two\n");
	lineq_free(q);
}

static void
priority_zero_overtakes_thousands_waiting(void **state)
{
	struct lineq *q = lineq_new(100000, 1 << 24);
	char line[32], out[200000];
	const char *p;
	size_t len;
	int n;
	(void)state;

	for (int i = 0; i < 5000; i++) {
		n = snprintf(line, sizeof line, "low %d", i);
		lineq_push(q, 5, line, n);
	}
	lineq_push(q, 0, "urgent", 6);
	p = lineq_peek(q, 64, &len);
	assert_memory_equal(p, "urgent\n", 7);
	drain(q, 64, out, sizeof out);
	assert_int_equal(strncmp(out, "urgent\nlow 0\nlow 1\n", 19), 0);
	lineq_free(q);
}

static void
bounded_by_lines_and_by_bytes(void **state)
{
	struct lineq *q = lineq_new(3, 1 << 20), *b = lineq_new(1000, 10);
	(void)state;

	assert_false(lineq_full(q));
	lineq_push(q, 1, "a", 1);
	lineq_push(q, 1, "b", 1);
	assert_false(lineq_full(q));
	lineq_push(q, 1, "c", 1);
	assert_true(lineq_full(q));
	lineq_consume(q, 2);			/* "a\n" left */
	assert_false(lineq_full(q));

	lineq_push(b, 2, "0123456", 7);		/* 8 bytes */
	assert_false(lineq_full(b));
	lineq_push(b, 2, "0123456", 7);		/* 16: over the bound */
	assert_true(lineq_full(b));
	assert_int_equal(lineq_push(b, 6, "x", 1), -1);
	assert_int_equal(lineq_push(b, -1, "x", 1), -1);
	assert_null(lineq_new(0, 10));
	assert_null(lineq_new(10, 0));
	lineq_free(q);
	lineq_free(b);
}

static void
clear_counts_what_it_drops(void **state)
{
	struct lineq *q = lineq_new(100, 1 << 20);
	size_t len;
	(void)state;

	lineq_push(q, 4, "one", 3);
	lineq_push(q, 2, "two", 3);
	lineq_peek(q, 2, &len);
	lineq_consume(q, 2);			/* "tw" of "two" written */
	assert_int_equal(lineq_clear(q), 2);
	assert_null(lineq_peek(q, 100, &len));
	assert_int_equal(len, 0);
	lineq_push(q, 3, "after", 5);
	assert_memory_equal(lineq_peek(q, 100, &len), "after\n", 6);
	lineq_free(q);
}

/* Pushes and partial writes interleaved over many rounds: every line
 * comes out whole, once, in order within its priority. */
static void
interleaved_pushes_and_partial_writes_lose_nothing(void **state)
{
	struct lineq *q = lineq_new(1 << 20, 1 << 26);
	static char out[4 << 20];
	char line[64];
	const char *p;
	size_t len, n = 0;
	int next[6] = {0}, pushed = 0, got = 0;
	(void)state;

	for (int round = 0; round < 3000; round++) {
		for (int k = 0; k < 7; k++) {
			int prio = (round * 7 + k) % 6;
			int m = snprintf(line, sizeof line, "%d:%d", prio, next[prio]++);
			lineq_push(q, prio, line, m);
			pushed++;
		}
		for (int k = 0; k < 3 && (p = lineq_peek(q, 1 + round % 37, &len)); k++) {
			memcpy(out + n, p, len);
			n += len;
			lineq_consume(q, len);
		}
	}
	while ((p = lineq_peek(q, 13, &len)) != NULL) {
		memcpy(out + n, p, len);
		n += len;
		lineq_consume(q, len);
	}
	out[n] = '\0';
	int seen[6] = {0};
	for (char *s = strtok(out, "\n"); s; s = strtok(NULL, "\n")) {
		int prio, idx;
		assert_int_equal(sscanf(s, "%d:%d", &prio, &idx), 2);
		assert_int_equal(idx, seen[prio]++);
		got++;
	}
	assert_int_equal(got, pushed);
	lineq_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lower_numbers_leave_first_fifo_within),
		cmocka_unit_test(a_begun_line_is_finished_before_a_higher_priority),
		cmocka_unit_test(priority_zero_overtakes_thousands_waiting),
		cmocka_unit_test(bounded_by_lines_and_by_bytes),
		cmocka_unit_test(clear_counts_what_it_drops),
		cmocka_unit_test(interleaved_pushes_and_partial_writes_lose_nothing),
	};

	return cmocka_run_group_tests_name("lineq", tests, NULL, NULL);
}
