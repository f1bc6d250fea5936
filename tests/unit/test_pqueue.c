/* The priority queue: lower numbers first, FIFO within a priority, bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pqueue.h"

static void
fifo_within_one_priority(void **state)
{
	struct pqueue *q = pqueue_new(1000);
	(void)state;

	for (intptr_t i = 1; i <= 500; i++)
		assert_int_equal(pqueue_push(q, 3, (void *)i), 0);
	for (intptr_t i = 1; i <= 500; i++)
		assert_int_equal((intptr_t)pqueue_pop(q), i);
	assert_null(pqueue_pop(q));
	pqueue_free(q);
}

static void
priority_zero_overtakes_everything_waiting(void **state)
{
	struct pqueue *q = pqueue_new(10000);
	(void)state;

	for (intptr_t i = 1; i <= 5000; i++)
		pqueue_push(q, 5, (void *)i);
	pqueue_push(q, 0, (void *)99999);
	assert_int_equal((intptr_t)pqueue_peek(q), 99999);
	assert_int_equal((intptr_t)pqueue_pop(q), 99999);
	assert_int_equal((intptr_t)pqueue_pop(q), 1);
	assert_int_equal(pqueue_len(q), 4999);
	pqueue_free(q);
}

static void
levels_leave_in_order(void **state)
{
	struct pqueue *q = pqueue_new(64);
	int order[] = {4, 1, 5, 0, 3, 2, 1, 0};
	intptr_t prev = -1;
	(void)state;

	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		pqueue_push(q, order[i], (void *)(intptr_t)(order[i] * 100 + i));
	while (pqueue_len(q) > 0) {
		intptr_t v = (intptr_t)pqueue_pop(q);
		assert_true(v / 100 >= prev / 100);
		if (v / 100 == prev / 100)
			assert_true(v > prev);
		prev = v;
	}
	pqueue_free(q);
}

static void
full_queue_refuses_and_bad_priority_refused(void **state)
{
	struct pqueue *q = pqueue_new(3);
	(void)state;

	assert_int_equal(pqueue_push(q, 1, (void *)1), 0);
	assert_int_equal(pqueue_push(q, 2, (void *)2), 0);
	assert_int_equal(pqueue_push(q, 3, (void *)3), 0);
	assert_true(pqueue_full(q));
	assert_int_equal(pqueue_push(q, 0, (void *)4), -1);
	pqueue_pop(q);
	assert_int_equal(pqueue_push(q, 6, (void *)5), -1);
	assert_int_equal(pqueue_push(q, -1, (void *)5), -1);
	assert_null(pqueue_new(0));
	pqueue_free(q);
}

static void
rings_wrap_around_and_grow(void **state)
{
	struct pqueue *q = pqueue_new(100000);
	intptr_t next_in = 1, next_out = 1;
	(void)state;

	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 37 + round * 13; i++)
			pqueue_push(q, 2, (void *)next_in++);
		for (int i = 0; i < 30 + round * 11; i++)
			assert_int_equal((intptr_t)pqueue_pop(q), next_out++);
	}
	while (pqueue_len(q) > 0)
		assert_int_equal((intptr_t)pqueue_pop(q), next_out++);
	assert_int_equal(next_in, next_out);
	pqueue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fifo_within_one_priority),
		cmocka_unit_test(priority_zero_overtakes_everything_waiting),
		cmocka_unit_test(levels_leave_in_order),
		cmocka_unit_test(full_queue_refuses_and_bad_priority_refused),
		cmocka_unit_test(rings_wrap_around_and_grow),
	};

	return cmocka_run_group_tests_name("pqueue", tests, NULL, NULL);
}
