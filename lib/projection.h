/* The state projection (spec 07, section 3.2): every so often, each live
 * agent is asked for a snapshot (STATE:SNAPSHOT_REQUEST on its stdin,
 * through its supervisor); the STATE:SNAPSHOT answers reach the store like
 * any event; an agent that has not answered when the round's bound has
 * passed is marked stale, not waited for. A round ends in one
 * STATE:PROJECTION event {round, requested, answered, stale, every,
 * timeout, started}, which starry-state dashboard reads. The caller owns
 * the clock; a projection owns its round's agent ids. */
#ifndef STARRY_PROJECTION_H
#define STARRY_PROJECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "event.h"

#define PROJECTION_EVERY_MS   30000	/* project.every by default */
#define PROJECTION_TIMEOUT_MS 5000	/* project.timeout by default */
#define PROJECTION_NEVER      INT64_MAX

struct projection;

/* every and timeout in ms (0: the defaults; a timeout is cut to every).
 * The first round starts one interval after now. */
struct projection *projection_new(int64_t every_ms, int64_t timeout_ms,
    int64_t now);
void projection_free(struct projection *p);
/* A reload may change the interval and the bound; the round under way
 * keeps its own. */
void projection_set(struct projection *p, int64_t every_ms, int64_t timeout_ms);

/* When the next round starts or the current one ends. */
int64_t projection_next_due(const struct projection *p);

/* Who to ask and how: called for each agent of a new round, it sends the
 * request event (borrowed) and returns 0, or -1 when the agent could not
 * be asked (it is then left out of the round). */
typedef int projection_ask_fn(void *ctx, const char *agent, const json_t *req);
/* The live agents now: fn(ctx, ask, ask_ctx) calls ask for each. */
typedef int projection_agents_fn(void *ctx, int (*ask)(void *, const char *),
    void *ask_ctx);

/* Do what is due at now: start a round (agents lists the live agents,
 * ask sends each its request; with none, there is no round) or end one.
 * Returns the round's STATE:PROJECTION event when one ended (a new
 * reference), else NULL. */
json_t *projection_tick(struct projection *p, int64_t now,
    projection_agents_fn *agents, projection_ask_fn *ask, void *ctx);

/* An event seen: a STATE:SNAPSHOT from an agent asked in this round
 * answers it. */
void projection_event(struct projection *p, const char *type,
    const struct event_view *v);

#endif
