/* The state projection: see projection.h. A round is a list of agent ids
 * and whether each has answered; it ends at its bound, whatever is left. */
#include <stdlib.h>
#include <string.h>

#include "projection.h"

struct asked {
	char *agent;
	bool answered;
};

struct projection {
	int64_t every, timeout;
	int64_t next;			/* the next round's start */
	int64_t ends;			/* the round's end; 0: none under way */
	int64_t started, round_timeout;
	uint64_t round;
	struct asked *asked;
	size_t nasked, cap;
};

void
projection_set(struct projection *p, int64_t every_ms, int64_t timeout_ms)
{
	p->every = every_ms > 0 ? every_ms : PROJECTION_EVERY_MS;
	p->timeout = timeout_ms > 0 ? timeout_ms : PROJECTION_TIMEOUT_MS;
	if (p->timeout > p->every)
		p->timeout = p->every;
}

struct projection *
projection_new(int64_t every_ms, int64_t timeout_ms, int64_t now)
{
	struct projection *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	projection_set(p, every_ms, timeout_ms);
	p->next = now + p->every;
	return p;
}

static void
forget_round(struct projection *p)
{
	for (size_t i = 0; i < p->nasked; i++)
		free(p->asked[i].agent);
	p->nasked = 0;
	p->ends = 0;
}

void
projection_free(struct projection *p)
{
	if (p == NULL)
		return;
	forget_round(p);
	free(p->asked);
	free(p);
}

int64_t
projection_next_due(const struct projection *p)
{
	return p->ends != 0 ? p->ends : p->next;
}

struct asking {
	struct projection *p;
	projection_ask_fn *ask;
	void *ctx;
};

static int
ask_one(void *arg, const char *agent)
{
	struct asking *a = arg;
	struct projection *p = a->p;
	struct event_origin o = {.source = "starry-sched", .priority = 2};
	json_t *req;
	int rc;

	if (p->nasked == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct asked *more = realloc(p->asked, cap * sizeof(*more));

		if (more == NULL)
			return -1;
		p->asked = more;
		p->cap = cap;
	}
	req = event_create("STATE:SNAPSHOT_REQUEST", json_pack("{s:s, s:I}",
	    "agentId", agent, "round", (json_int_t)p->round), &o, NULL);
	if (req == NULL)
		return -1;
	rc = a->ask(a->ctx, agent, req);
	json_decref(req);
	if (rc == 0) {
		p->asked[p->nasked].agent = strdup(agent);
		if (p->asked[p->nasked].agent == NULL)
			return -1;
		p->asked[p->nasked++].answered = false;
	}
	return 0;
}

/* The round's report, and the round forgotten. */
static json_t *
end_round(struct projection *p)
{
	struct event_origin o = {.source = "starry-sched", .priority = 4};
	json_t *answered = json_array(), *stale = json_array(), *ev;

	for (size_t i = 0; i < p->nasked; i++)
		json_array_append_new(p->asked[i].answered ? answered : stale,
		    json_string(p->asked[i].agent));
	ev = event_create("STATE:PROJECTION", json_pack("{s:I, s:I, s:o, s:o, "
	    "s:I, s:I, s:I}", "round", (json_int_t)p->round, "requested",
	    (json_int_t)p->nasked, "answered", answered, "stale", stale,
	    "everyMs", (json_int_t)p->every, "timeoutMs",
	    (json_int_t)p->round_timeout, "started", (json_int_t)p->started),
	    &o, NULL);
	forget_round(p);
	return ev;
}

json_t *
projection_tick(struct projection *p, int64_t now,
    projection_agents_fn *agents, projection_ask_fn *ask, void *ctx)
{
	struct asking a = {p, ask, ctx};

	if (p->ends != 0 && now >= p->ends)
		return end_round(p);
	if (p->ends != 0 || now < p->next)
		return NULL;
	p->round++;
	forget_round(p);
	p->started = now;
	p->round_timeout = p->timeout;
	p->next = now + p->every;
	agents(ctx, ask_one, &a);
	if (p->nasked == 0)
		return NULL;	/* nobody to ask: no round, no report */
	p->ends = now + p->timeout;
	return NULL;
}

void
projection_event(struct projection *p, const char *type,
    const struct event_view *v)
{
	char source[EVENT_MAX_FIELD * 4 + 1];

	if (p->ends == 0 || strcmp(type, "STATE:SNAPSHOT") != 0 ||
	    event_str_copy(&v->source, source, sizeof(source)) < 0)
		return;
	for (size_t i = 0; i < p->nasked; i++)
		if (strcmp(p->asked[i].agent, source) == 0)
			p->asked[i].answered = true;
}
