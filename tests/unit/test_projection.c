/* lib/projection: rounds of snapshot requests, answers, and the stale, on
 * a clock the test moves by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "projection.h"

/* The fleet the test pretends runs, and the requests sent to it. */
struct fleet {
	const char *agents[8];
	size_t n;
	const char *refuse;	/* an agent whose control FIFO fails */
	json_t *sent;		/* [agent, request] pairs */
};

static int
list_agents(void *ctx, int (*ask)(void *, const char *), void *ask_ctx)
{
	struct fleet *f = ctx;

	for (size_t i = 0; i < f->n; i++)
		ask(ask_ctx, f->agents[i]);
	return 0;
}

static int
ask_agent(void *ctx, const char *agent, const json_t *req)
{
	struct fleet *f = ctx;

	if (f->refuse != NULL && strcmp(agent, f->refuse) == 0)
		return -1;
	json_array_append_new(f->sent, json_pack("[s, O]", agent, req));
	return 0;
}

/* An answer: a STATE:SNAPSHOT from source. */
static void
answer(struct projection *p, const char *source, const char *type)
{
	struct event_origin o = {.source = source, .priority = -1};
	json_t *ev = event_create(type, json_object(), &o, NULL);
	size_t len;
	char *line = event_dump_line(ev, &len);
	struct event_view v;

	assert_int_equal(event_scan_line(line, len - 1, 0, &v, NULL), 0);
	projection_event(p, type, &v);
	free(line);
	json_decref(ev);
}

static void
test_a_round_asks_each_agent_and_names_the_silent_stale(void **state)
{
	struct fleet f = {{"a", "b", "c"}, 3, NULL, json_array()};
	struct projection *p = projection_new(10000, 2000, 0);
	json_t *rep, *pl;

	(void)state;
	assert_int_equal(projection_next_due(p), 10000);
	assert_null(projection_tick(p, 9999, list_agents, ask_agent, &f));
	assert_int_equal(json_array_size(f.sent), 0);
	assert_null(projection_tick(p, 10000, list_agents, ask_agent, &f));
	assert_int_equal(json_array_size(f.sent), 3);
	pl = json_object_get(json_array_get(json_array_get(f.sent, 0), 1), "payload");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_array_get(f.sent, 0), 1), "type")), "STATE:SNAPSHOT_REQUEST");
	assert_string_equal(json_string_value(json_object_get(pl, "agentId")), "a");
	assert_int_equal(projection_next_due(p), 12000);
	answer(p, "a", "STATE:SNAPSHOT");
	answer(p, "c", "STATE:SNAPSHOT");
	answer(p, "b", "AGENT:OUTPUT");		/* not an answer */
	answer(p, "zz", "STATE:SNAPSHOT");	/* not asked */
	assert_null(projection_tick(p, 11999, list_agents, ask_agent, &f));
	rep = projection_tick(p, 12000, list_agents, ask_agent, &f);
	assert_non_null(rep);
	assert_string_equal(json_string_value(json_object_get(rep, "type")),
	    "STATE:PROJECTION");
	pl = json_object_get(rep, "payload");
	assert_int_equal(json_integer_value(json_object_get(pl, "requested")), 3);
	assert_int_equal(json_integer_value(json_object_get(pl, "round")), 1);
	assert_int_equal(json_array_size(json_object_get(pl, "answered")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(pl,
	    "stale"), 0)), "b");
	assert_int_equal(json_integer_value(json_object_get(pl, "started")), 10000);
	json_decref(rep);
	/* The next round, one interval after the last began. */
	assert_int_equal(projection_next_due(p), 20000);
	json_decref(f.sent);
	projection_free(p);
}

static void
test_no_agents_no_round_and_a_refused_one_is_left_out(void **state)
{
	struct fleet f = {{"a", "b"}, 0, "b", json_array()};
	struct projection *p = projection_new(1000, 500, 0);
	json_t *rep;

	(void)state;
	assert_null(projection_tick(p, 1000, list_agents, ask_agent, &f));
	assert_int_equal(projection_next_due(p), 2000);
	f.n = 2;
	assert_null(projection_tick(p, 2000, list_agents, ask_agent, &f));
	rep = projection_tick(p, 2500, list_agents, ask_agent, &f);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(rep,
	    "payload"), "requested")), 1);
	json_decref(rep);
	json_decref(f.sent);
	projection_free(p);
}

static void
test_defaults_and_a_timeout_longer_than_the_interval(void **state)
{
	struct projection *p = projection_new(0, 0, 0);

	(void)state;
	assert_int_equal(projection_next_due(p), PROJECTION_EVERY_MS);
	projection_free(p);
	p = projection_new(1000, 60000, 0);
	{
		struct fleet f = {{"a"}, 1, NULL, json_array()};
		json_t *rep;

		assert_null(projection_tick(p, 1000, list_agents, ask_agent, &f));
		assert_int_equal(projection_next_due(p), 2000);	/* cut to every */
		rep = projection_tick(p, 2000, list_agents, ask_agent, &f);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(
		    rep, "payload"), "timeoutMs")), 1000);
		json_decref(rep);
		json_decref(f.sent);
	}
	projection_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_round_asks_each_agent_and_names_the_silent_stale),
		cmocka_unit_test(test_no_agents_no_round_and_a_refused_one_is_left_out),
		cmocka_unit_test(test_defaults_and_a_timeout_longer_than_the_interval),
	};

	return cmocka_run_group_tests_name("projection", tests, NULL, NULL);
}
