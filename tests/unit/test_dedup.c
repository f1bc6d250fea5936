/* The dedup window: seen ids within the count and the duration are
 * duplicates; older ones are forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dedup.h"

static bool
seen(struct dedup_window *w, const char *id, int64_t now)
{
	return dedup_window_seen(w, id, strlen(id), now);
}

static void
an_id_seen_twice_is_a_duplicate(void **state)
{
	struct dedup_window *w = dedup_window_new(16, 1000);
	(void)state;

	assert_false(seen(w, "a", 0));
	assert_false(seen(w, "b", 0));
	assert_true(seen(w, "a", 1));
	assert_true(seen(w, "a", 2));
	assert_int_equal(dedup_window_dropped(w), 2);
	dedup_window_free(w);
}

static void
ids_are_forgotten_after_the_count(void **state)
{
	struct dedup_window *w = dedup_window_new(3, 1000);
	(void)state;

	assert_false(seen(w, "1", 0));
	assert_false(seen(w, "2", 0));
	assert_false(seen(w, "3", 0));
	assert_true(seen(w, "1", 0));
	assert_false(seen(w, "4", 0));	/* evicts 1 */
	assert_false(seen(w, "1", 0));	/* evicts 2 */
	assert_true(seen(w, "3", 0));
	assert_true(seen(w, "4", 0));
	assert_false(seen(w, "2", 0));
	dedup_window_free(w);
}

static void
ids_are_forgotten_after_the_duration(void **state)
{
	struct dedup_window *w = dedup_window_new(100, 500);
	(void)state;

	assert_false(seen(w, "x", 1000));
	assert_true(seen(w, "x", 1499));
	assert_false(seen(w, "x", 1500));
	assert_true(seen(w, "x", 1999));
	dedup_window_free(w);
}

static void
long_ids_and_byte_exact_comparison(void **state)
{
	struct dedup_window *w = dedup_window_new(8, 1000);
	char a[200], b[200];
	(void)state;

	memset(a, 'q', sizeof a);
	memcpy(b, a, sizeof b);
	b[199] = 'r';
	assert_false(dedup_window_seen(w, a, sizeof a, 0));
	assert_false(dedup_window_seen(w, b, sizeof b, 0));
	assert_true(dedup_window_seen(w, a, sizeof a, 0));
	assert_false(dedup_window_seen(w, a, 199, 0));
	assert_false(dedup_window_seen(w, "", 0, 0));
	assert_true(dedup_window_seen(w, "", 0, 0));
	dedup_window_free(w);
}

/* Many ids through a small table: eviction must keep every probe run
 * intact, so each id still inside the window is found. */
static void
churn_keeps_the_window_exact(void **state)
{
	enum { COUNT = 1000, TOTAL = 200000 };
	struct dedup_window *w = dedup_window_new(COUNT, INT64_MAX / 2);
	char id[32];
	(void)state;

	for (int i = 0; i < TOTAL; i++) {
		int n = snprintf(id, sizeof id, "%08x-id", i * 2654435761u);
		assert_false(dedup_window_seen(w, id, n, i));
		if (i >= COUNT) {
			int old = i - COUNT + 1 + (i % (COUNT - 1));
			n = snprintf(id, sizeof id, "%08x-id", old * 2654435761u);
			assert_true(dedup_window_seen(w, id, n, i));
		}
	}
	dedup_window_free(w);
}

/* The window against the plain reading of its contract, over random
 * arrivals: ids of every length from 0 to 60 (so both inline and
 * allocated), drawn from a pool three times the window, with time moving
 * by random steps so that both the count and the age evict. */
enum { MODEL_COUNT = 500, MODEL_POOL = 1500, MODEL_OPS = 200000, MODEL_MS = 400 };

struct model {
	int id[MODEL_COUNT];
	int64_t at[MODEL_COUNT];
	int head, used;
};

static bool
model_seen(struct model *m, int id, int64_t now)
{
	while (m->used > 0 && now - m->at[m->head] >= MODEL_MS) {
		m->head = (m->head + 1) % MODEL_COUNT;
		m->used--;
	}
	for (int i = 0; i < m->used; i++)
		if (m->id[(m->head + i) % MODEL_COUNT] == id)
			return true;
	if (m->used == MODEL_COUNT) {
		m->head = (m->head + 1) % MODEL_COUNT;
		m->used--;
	}
	m->id[(m->head + m->used) % MODEL_COUNT] = id;
	m->at[(m->head + m->used) % MODEL_COUNT] = now;
	m->used++;
	return false;
}

static size_t
model_id_text(int id, char *buf)
{
	size_t len = id % 61;

	for (size_t i = 0; i < len; i++)
		buf[i] = "0123456789abcdef"[(id * 7 + i * (id % 13 + 1)) % 16];
	if (len >= 4)
		snprintf(buf, 5, "%04d", id);	/* distinct ids, distinct text */
	return len;
}

static void
the_window_agrees_with_a_model(void **state)
{
	struct dedup_window *w = dedup_window_new(MODEL_COUNT, MODEL_MS);
	static struct model m;
	uint64_t rng = 88172645463325252ULL, dups = 0;
	int64_t now = 0;
	char buf[64];
	(void)state;

	for (int op = 0; op < MODEL_OPS; op++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* Ids under 61 are the short ones (length id % 61): each
		 * length once; the rest are at least 4 bytes and numbered. */
		int id = (int)(rng % MODEL_POOL);
		size_t len = model_id_text(id, buf);
		if (len < 4 && id >= 61)
			continue;
		now += (rng >> 32) % 3;
		bool want = model_seen(&m, id, now);
		if (dedup_window_seen(w, buf, len, now) != want)
			fail_msg("op %d: id %d (%zu bytes) at %lld: expected %s", op, id,
			    len, (long long)now, want ? "a duplicate" : "new");
		dups += want;
	}
	assert_int_equal(dedup_window_dropped(w), dups);
	assert_true(dups > 1000);
	dedup_window_free(w);
}

static void
spec_parsing(void **state)
{
	size_t count;
	int64_t ms;
	(void)state;

	assert_int_equal(dedup_parse_spec("65536,10m", &count, &ms), 0);
	assert_int_equal(count, 65536);
	assert_int_equal(ms, 600000);
	assert_int_equal(dedup_parse_spec("10,250ms", &count, &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(dedup_parse_spec("100", &count, &ms), 0);
	assert_int_equal(ms, DEDUP_DEFAULT_MS);
	assert_int_equal(dedup_parse_spec("0,1s", &count, &ms), -1);
	assert_int_equal(dedup_parse_spec("-5,1s", &count, &ms), -1);
	assert_int_equal(dedup_parse_spec("5,", &count, &ms), -1);
	assert_int_equal(dedup_parse_spec("5,soon", &count, &ms), -1);
	assert_int_equal(dedup_parse_spec("x", &count, &ms), -1);
	assert_int_equal(dedup_parse_spec("99999999999999999999,1s", &count, &ms), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_id_seen_twice_is_a_duplicate),
		cmocka_unit_test(ids_are_forgotten_after_the_count),
		cmocka_unit_test(ids_are_forgotten_after_the_duration),
		cmocka_unit_test(long_ids_and_byte_exact_comparison),
		cmocka_unit_test(churn_keeps_the_window_exact),
		cmocka_unit_test(the_window_agrees_with_a_model),
		cmocka_unit_test(spec_parsing),
	};

	return cmocka_run_group_tests_name("dedup", tests, NULL, NULL);
}
