/* The scheduler's engine (starry-sched run): events in, actions out by a
 * rule set, with debounce, timers (kept across restarts in a state file,
 * so that one missed while down fires once at start) and concurrency
 * counted from the agents' lifecycle events. The caller owns the clock:
 * every call says what time it is, so tests and replays can drive it.
 * A sched borrows its rule set; action events go to the caller's emit
 * callback, which takes them (json_t * stolen). */
#ifndef STARRY_SCHEDULER_H
#define STARRY_SCHEDULER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "event.h"
#include "rules.h"

#define SCHED_NEVER INT64_MAX

/* An action to perform: ev is its event (SPAWN:REQUEST, SPAWN:STOP_REQUEST
 * or an emitted one; stolen). Return 0, or -1 when it failed (a warning
 * is the caller's to print; the action is not retried). */
typedef int sched_emit_fn(void *ctx, const struct rule *r, json_t *ev);
/* A rule could not act on an event (a ${path} it lacks): message. */
typedef void sched_warn_fn(void *ctx, const struct rule *r, const char *msg);

/* The agent registry, for the agents the rules started before a restart:
 * fn(fnctx, agent, cause, running) for each agent a live supervisor holds,
 * with the id of the event that asked for it; running is false while it
 * waits to be started again (a back-off or a hold-down). Returns 0, or
 * -1 when the registry could not be read. */
typedef void sched_agent_fn(void *fnctx, const char *agent, const char *cause,
    bool running);
typedef int sched_registry_fn(void *ctx, sched_agent_fn *fn, void *fnctx);

struct sched_options {
	sched_emit_fn *emit;
	sched_warn_fn *warn;
	void *ctx;
	size_t max_line;	/* of the events it is given */
	const char *timers_file;	/* NULL: timers are not remembered */
	/* The spawn requests of rules with a concurrency bound, kept so
	 * that a restart counts their agents again: those the registry
	 * shows running, and requests made less than a minute before that
	 * no agent has answered yet (NULL: counts start at zero). */
	const char *started_file;
	sched_registry_fn *registry;
};

struct sched_stats {
	uint64_t events, matched, fired, debounced, over_concurrency, failed;
};

struct sched;

/* Start with rs at time now (wall ms): timers remembered in timers_file
 * whose time passed while nothing ran fire once, now; the agents of the
 * requests remembered in started_file that the registry shows alive
 * count against their rules' concurrency. */
int sched_open(struct sched **out, const struct sched_options *opt,
    const struct rule_set *rs, int64_t now, struct starry_err *err);
void sched_close(struct sched *s);

/* Swap in a new rule set (a reload). State follows rules by name: a
 * pending debounce, a timer's last firing, the agents a rule started. */
int sched_set_rules(struct sched *s, const struct rule_set *rs, int64_t now,
    struct starry_err *err);

/* One event (its line and scan). Lifecycle events (AGENT:SPAWNED,
 * AGENT:EXITED) update the rules' agent counts first. */
int sched_event(struct sched *s, const char *line, size_t len,
    const struct event_view *view, int64_t now, struct starry_err *err);

/* Say that the event scanned as view will be given soon, so that the
 * memory its duplicate check needs is loaded meanwhile (a speed-up only:
 * give the events in the order they were announced). */
void sched_prefetch(struct sched *s, const struct event_view *view);

/* When the next timer or debounced action is due (SCHED_NEVER: none),
 * and firing what is due at now. */
int64_t sched_next_due(struct sched *s);
int sched_tick(struct sched *s, int64_t now, struct starry_err *err);

/* When the first debounced action is due (SCHED_NEVER: none held), and
 * firing every one held, at once (at the end, not to lose them). */
int64_t sched_next_pending(const struct sched *s);
int sched_flush(struct sched *s, int64_t now, struct starry_err *err);

/* Tell the engine that an agent a rule started is running (the spawn
 * daemon's answer names it), so that concurrency counts it at once. */
void sched_agent_started(struct sched *s, const struct rule *r,
    const char *agent_id);

/* Tell it that the request (the SPAWN:REQUEST event's id) failed: no
 * agent came of it, so it no longer counts. */
void sched_request_failed(struct sched *s, const struct rule *r,
    const char *request);

/* The next time each timer rule fires: fn(ctx, rule, ms). */
void sched_each_timer(const struct sched *s,
    void (*fn)(void *ctx, const struct rule *r, int64_t due), void *ctx);
void sched_get_stats(const struct sched *s, struct sched_stats *st);


#endif
