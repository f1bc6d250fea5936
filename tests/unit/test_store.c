/* The store: schema on open, append and duplicates, query filters, the
 * lifecycle projection, snapshots, cursors and pruning, on real SQLite
 * files in a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "store.h"

static char dir[] = "/tmp/starry-test-store.XXXXXX";
static char path[256];

static int
make_dir(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/state.db", dir);
	return 0;
}

static int
remove_dir(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh database for each test. */
static struct store *
fresh(void)
{
	struct starry_err err;
	struct store *st;
	char wal[300];

	unlink(path);
	snprintf(wal, sizeof wal, "%s-wal", path);
	unlink(wal);
	snprintf(wal, sizeof wal, "%s-shm", path);
	unlink(wal);
	if (store_open(&st, path, STORE_CREATE, &err) < 0)
		fail_msg("store_open: %s", err.msg);
	return st;
}

/* Append one line (scanned first); returns store_append's result. */
static int
add(struct store *st, const char *line, int64_t *seq)
{
	struct event_view view;
	struct starry_err err;
	int64_t ignored;
	int rc;

	if (event_scan_line(line, strlen(line), EVENT_LENIENT, &view, &err) < 0)
		fail_msg("scan: %s: %s", err.msg, line);
	if (store_begin(st, &err) < 0)
		fail_msg("begin: %s", err.msg);
	rc = store_append(st, line, strlen(line), &view, seq ? seq : &ignored, &err);
	if (rc < 0)
		fail_msg("append: %s", err.msg);
	if (store_commit(st, &err) < 0)
		fail_msg("commit: %s", err.msg);
	return rc;
}

static char *
event(const char *id, const char *type, const char *trace, const char *extra,
    const char *payload)
{
	static char buf[1024];

	snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"timestamp\":1700000000%03d,"
	    "\"traceId\":\"%s\",\"source\":\"src\",\"sessionId\":\"s\",\"priority\":3,"
	    "\"type\":\"%s\"%s,\"payload\":%s}", id, (int)strlen(id), trace, type,
	    extra, payload);
	return buf;
}

struct collected {
	char ids[16][64];
	int64_t seqs[16];
	int n;
};

static int
collect(void *ctx, const struct store_event *ev)
{
	struct collected *c = ctx;

	if (c->n < 16) {
		snprintf(c->ids[c->n], sizeof c->ids[0], "%s", ev->id);
		c->seqs[c->n] = ev->seq;
	}
	c->n++;
	return 0;
}

static void
a_new_file_gets_the_whole_schema(void **state)
{
	struct store *st = fresh();
	struct starry_err err;
	int64_t seq = -1;
	(void)state;

	assert_int_equal(store_last_seq(st, &seq, &err), 0);
	assert_int_equal(seq, 0);
	store_close(st);
	/* Opening again changes nothing. */
	assert_int_equal(store_open(&st, path, 0, &err), 0);
	store_close(st);
}

static void
a_missing_file_is_refused_without_create(void **state)
{
	struct starry_err err;
	struct store *st;
	char other[300];
	(void)state;

	snprintf(other, sizeof other, "%s/none.db", dir);
	assert_int_equal(store_open(&st, other, 0, &err), -1);
	assert_int_equal(err.code, EX_NOINPUT);
	assert_non_null(strstr(err.msg, "no such database"));
	assert_int_equal(access(other, F_OK), -1);
}

static void
a_file_that_is_not_sqlite_is_left_untouched(void **state)
{
	static const char text[] = "hello, this is not a database at all\n";
	struct starry_err err;
	struct store *st;
	char other[300], back[sizeof text];
	FILE *f;
	(void)state;

	snprintf(other, sizeof other, "%s/text.db", dir);
	f = fopen(other, "w");
	fputs(text, f);
	fclose(f);
	assert_int_equal(store_open(&st, other, STORE_CREATE, &err), -1);
	assert_int_equal(err.code, EX_DATAERR);
	assert_non_null(strstr(err.msg, "not an SQLite database"));
	f = fopen(other, "r");
	assert_int_equal(fread(back, 1, sizeof back, f), sizeof text - 1);
	fclose(f);
	assert_memory_equal(back, text, sizeof text - 1);
}

static void
ids_already_stored_are_not_stored_twice(void **state)
{
	struct store *st = fresh();
	int64_t s1 = 0, s2 = 0, seq;
	struct starry_err err;
	(void)state;

	assert_int_equal(add(st, event("e1", "a:b", "t", "", "1"), &s1), 1);
	assert_int_equal(add(st, event("e2", "a:b", "t", "", "2"), &s2), 1);
	assert_true(s2 > s1);
	assert_int_equal(add(st, event("e1", "a:b", "t", "", "3"), NULL), 0);
	assert_int_equal(store_last_seq(st, &seq, &err), 0);
	assert_int_equal(seq, s2);
	/* A duplicate uses up no sequence number. */
	assert_int_equal(add(st, event("e3", "a:b", "t", "", "4"), &seq), 1);
	assert_int_equal(seq, s2 + 1);
	store_close(st);
}

static void
query_filters_combine(void **state)
{
	struct store *st = fresh();
	struct store_filter f = {0};
	struct collected c = {0};
	struct starry_err err;
	(void)state;

	add(st, event("e1", "git:push", "t1", "", "{}"), NULL);
	add(st, event("e2", "git:tag", "t2", "", "{}"), NULL);
	add(st, event("e3", "ci:run", "t1", "", "{}"), NULL);
	add(st, event("e4", "git:push", "t1", "", "{}"), NULL);
	f.type = "git:*";
	f.trace = "t1";
	assert_int_equal(store_query(st, &f, collect, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.ids[0], "e1");
	assert_string_equal(c.ids[1], "e4");
	memset(&c, 0, sizeof c);
	f = (struct store_filter){.since_seq = 2, .limit = 2};
	assert_int_equal(store_query(st, &f, collect, &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.ids[0], "e2");
	assert_string_equal(c.ids[1], "e3");
	store_close(st);
}

static void
escaped_fields_are_stored_decoded_and_lines_as_they_came(void **state)
{
	static const char line[] = "{\"id\":\"\\u0065x\",\"timestamp\":5,"
	    "\"traceId\":\"t\\/1\",\"source\":\"s\",\"sessionId\":\"d\",\"priority\":0,"
	    "\"type\":\"a:\\u0062\",\"payload\":null}";
	struct store *st = fresh();
	struct store_filter f = {.trace = "t/1", .type = "a:b"};
	struct collected c = {0};
	struct starry_err err;
	(void)state;

	assert_int_equal(add(st, line, NULL), 1);
	assert_int_equal(store_query(st, &f, collect, &c, &err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.ids[0], "ex");
	store_close(st);
}

static int
take_agent(void *ctx, const struct store_agent *a)
{
	struct store_agent *out = ctx;

	out->state = strdup(a->state);
	out->pid = a->pid;
	out->exit_status = a->exit_status;
	out->restarts = a->restarts;
	out->exited_ms = a->exited_ms;
	out->template = a->template ? strdup(a->template) : NULL;
	return 0;
}

static void
lifecycle_events_keep_the_registry(void **state)
{
	struct store *st = fresh();
	struct store_agent a = {0};
	struct starry_err err;
	(void)state;

	add(st, event("s1", "AGENT:SPAWNED", "t", "", "{\"agentId\":\"rev\","
	    "\"template\":\"reviewer\",\"driver\":\"process\",\"pid\":4242,"
	    "\"restarts\":2}"), NULL);
	assert_int_equal(store_agent_list(st, take_agent, &a, &err), 0);
	assert_string_equal(a.state, "running");
	assert_true(store_agent_state_is_live(a.state));
	assert_int_equal(a.pid, 4242);
	assert_int_equal(a.restarts, 2);
	assert_int_equal(a.exited_ms, 0);
	assert_string_equal(a.template, "reviewer");
	free((char *)a.state);
	free((char *)a.template);

	add(st, event("s2", "KERNEL:STATE_CHANGE", "t", "", "{\"agentId\":\"rev\","
	    "\"from\":\"running\",\"to\":\"stopping\"}"), NULL);
	add(st, event("s3", "AGENT:EXITED", "t", "", "{\"agentId\":\"rev\","
	    "\"status\":3}"), NULL);
	memset(&a, 0, sizeof a);
	assert_int_equal(store_agent_list(st, take_agent, &a, &err), 0);
	assert_string_equal(a.state, "exited");
	assert_false(store_agent_state_is_live(a.state));
	assert_int_equal(a.exit_status, 3);
	assert_true(a.exited_ms > 0);
	assert_string_equal(a.template, "reviewer");
	free((char *)a.state);
	free((char *)a.template);
	store_close(st);
}

static int
take_snapshot(void *ctx, const struct store_snapshot *s)
{
	struct store_snapshot *out = ctx;

	*out = *s;
	out->data = strndup(s->data, s->len);
	return 0;
}

static void
snapshots_are_versioned_trimmed_and_found_by_sequence(void **state)
{
	struct store *st = fresh();
	struct store_snapshot s = {0};
	struct starry_err err;
	int64_t v, seq;
	char data[32];
	(void)state;

	for (int i = 1; i <= 5; i++) {
		snprintf(data, sizeof data, "x%d", i);
		add(st, event(data, "a:b", "t", "", "{}"), &seq);
		snprintf(data, sizeof data, "{\"n\":%d}", i);
		assert_int_equal(store_begin(st, &err), 0);
		assert_int_equal(store_snapshot_save(st, "ag", data, strlen(data), 1, 3,
		    &v, &err), 0);
		assert_int_equal(store_commit(st, &err), 0);
		assert_int_equal(v, i);
	}
	assert_int_equal(store_snapshot_load(st, "ag", 0, take_snapshot, &s, &err), 1);
	assert_int_equal(s.version, 5);
	assert_string_equal(s.data, "{\"n\":5}");
	free((char *)s.data);
	/* As of the fourth event: version 4. */
	assert_int_equal(store_snapshot_load(st, "ag", seq - 1, take_snapshot, &s,
	    &err), 1);
	assert_int_equal(s.version, 4);
	free((char *)s.data);
	/* Versions 1 and 2 were trimmed (keep 3). */
	assert_int_equal(store_snapshot_load(st, "ag", seq - 3, take_snapshot, &s,
	    &err), 0);
	assert_int_equal(store_snapshot_load(st, "nobody", 0, take_snapshot, &s,
	    &err), 0);
	/* A STATE:SNAPSHOT event becomes one: agentId, else the source. */
	add(st, event("y1", "STATE:SNAPSHOT", "t", "", "{\"agentId\":\"ag\",\"k\":1}"),
	    &seq);
	assert_int_equal(store_snapshot_load(st, "ag", 0, take_snapshot, &s, &err), 1);
	assert_int_equal(s.version, 6);
	assert_int_equal(s.seq, seq);
	assert_string_equal(s.data, "{\"agentId\":\"ag\",\"k\":1}");
	free((char *)s.data);
	add(st, event("y2", "STATE:SNAPSHOT", "t", "", "[1,2]"), NULL);
	assert_int_equal(store_snapshot_load(st, "src", 0, take_snapshot, &s, &err), 1);
	assert_string_equal(s.data, "[1,2]");
	free((char *)s.data);
	store_close(st);
}

static void
prune_keeps_what_a_cursor_needs(void **state)
{
	struct store *st = fresh();
	struct store_filter f = {0};
	struct collected c = {0};
	struct starry_err err;
	int64_t seq[6], through, deleted, pos;
	char id[16];
	(void)state;

	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "p%d", i);
		add(st, event(id, "a:b", "t", "", "{}"), &seq[i]);
	}
	assert_int_equal(store_cursor_get(st, "c1", &pos, &err), 0);
	assert_int_equal(store_cursor_commit(st, "c1", seq[1], &err), 0);
	assert_int_equal(store_cursor_commit(st, "c2", seq[3], &err), 0);
	assert_int_equal(store_cursor_get(st, "c1", &pos, &err), 1);
	assert_int_equal(pos, seq[1]);
	through = seq[4];
	assert_int_equal(store_prune(st, &through, &deleted, &err), 0);
	assert_int_equal(through, seq[1]);	/* c1 still needs seq[2] on */
	assert_int_equal(deleted, 2);
	assert_int_equal(store_query(st, &f, collect, &c, &err), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.ids[0], "p2");
	/* New events keep counting up after a prune. */
	add(st, event("p6", "a:b", "t", "", "{}"), &pos);
	assert_true(pos > seq[5]);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_new_file_gets_the_whole_schema),
		cmocka_unit_test(a_missing_file_is_refused_without_create),
		cmocka_unit_test(a_file_that_is_not_sqlite_is_left_untouched),
		cmocka_unit_test(ids_already_stored_are_not_stored_twice),
		cmocka_unit_test(query_filters_combine),
		cmocka_unit_test(escaped_fields_are_stored_decoded_and_lines_as_they_came),
		cmocka_unit_test(lifecycle_events_keep_the_registry),
		cmocka_unit_test(snapshots_are_versioned_trimmed_and_found_by_sequence),
		cmocka_unit_test(prune_keeps_what_a_cursor_needs),
	};

	return cmocka_run_group_tests_name("store", tests, make_dir, remove_dir);
}
