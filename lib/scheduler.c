/* The scheduler's engine: see sched.h. Per rule it keeps a small state
 * (a pending debounced event, a timer's times, the agents it started),
 * found by the rule's index and carried over by name on reload. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "atomic.h"
#include "dedup.h"
#include "jvalue.h"
#include "scheduler.h"

#define SCHED_MAX_HOPS 8		/* emit -> rule -> emit ... in one go */
#define SCHED_MAX_DERIVED 1000		/* events emitted because of one */
#define SCHED_PENDING_MS 60000		/* a spawn request with no agent yet */
#define SCHED_AGENTS_KEPT 1024		/* per rule, live or recently gone */

/* An agent a rule asked for: pending until its AGENT:SPAWNED names it. */
struct started {
	char request[EVENT_MAX_FIELD * 4 + 1];	/* the SPAWN:REQUEST's id */
	char agent[EVENT_MAX_FIELD * 4 + 1];	/* "" until known */
	bool live;
	bool confirmed;		/* its AGENT:SPAWNED was seen */
	int64_t since;
};

struct rstate {
	char *name;
	char *pending;		/* a debounced event's line, or NULL */
	size_t pending_len;
	int64_t pending_due;
	int64_t last_fired;	/* timers: 0 never */
	int64_t due;		/* timers: SCHED_NEVER when not one */
	struct started *agents;
	size_t nagents;
};

struct sched {
	struct sched_options opt;
	const struct rule_set *rs;
	struct rstate *st;
	size_t nst;
	uint32_t *counted;	/* the rules with a concurrency bound */
	size_t ncounted;
	uint32_t *matches;
	struct expr_scratch *scratch;
	struct dedup_window *seen;
	struct sched_stats stats;
	int hops;
	unsigned derived;	/* emitted for the event being handled */
	bool cut;		/* and a warning said the chain was cut */
	int64_t due;		/* sched_next_due's answer, when !due_stale */
	bool due_stale;
};

static void
rstate_free(struct rstate *r)
{
	free(r->name);
	free(r->pending);
	free(r->agents);
	*r = (struct rstate){0};
}

/* ---- timers ---- */

/* When a timer rule fires next after time after (wall ms): every from
 * after, cron by local time. */
static int64_t
sched_timer_next(const struct rule *r, int64_t after)
{
	int64_t next;

	if (r->every_ms > 0)
		return after + r->every_ms;
	if (r->has_cron && cron_next(&r->cron, after / 1000, &next) == 0)
		return next * 1000;
	return SCHED_NEVER;
}

/* A state file, which is one object. Unreadable or invalid is the same
 * as none: what it kept starts afresh (and a warning says so). */
static json_t *
state_load(const struct sched *s, const char *path, const char *what)
{
	json_t *t;
	json_error_t je;
	char msg[PATH_MAX + 160];

	if (path == NULL)
		return json_object();
	t = json_load_file(path, 0, &je);
	if (t == NULL || !json_is_object(t)) {
		if (t != NULL || access(path, F_OK) == 0) {
			snprintf(msg, sizeof msg, "%s is not valid JSON: %s "
			    "start afresh", path, what);
			s->opt.warn(s->opt.ctx, NULL, msg);
		}
		json_decref(t);
		return json_object();
	}
	return t;
}

/* Write doc (stolen) to path at once, replacing it whole. */
static void
state_save(struct sched *s, const char *path, json_t *doc)
{
	struct starry_err err;
	char *text;

	text = doc ? json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(doc);
	if (text == NULL ||
	    atomic_replace_file(path, text, strlen(text), 0600, 0, &err) == -1)
		s->opt.warn(s->opt.ctx, NULL, text == NULL ? "out of memory" : err.msg);
	free(text);
}

/* The timers file: {"RULE": LAST_FIRED_MS, ...}. */
static json_t *
timers_load(const struct sched *s)
{
	return state_load(s, s->opt.timers_file, "timers");
}

static void
timers_save(struct sched *s)
{
	json_t *t;

	if (s->opt.timers_file == NULL)
		return;
	t = json_object();
	for (size_t i = 0; t != NULL && i < s->nst; i++)
		if (s->st[i].last_fired > 0)
			json_object_set_new(t, s->st[i].name,
			    json_integer(s->st[i].last_fired));
	state_save(s, s->opt.timers_file, t);
}

/* ---- lifecycle ---- */

/* The string member key of the payload, decoded into buf. */
static bool
payload_string(const struct event_view *v, const char *key, char *buf,
    size_t cap)
{
	struct jvalue p, m;
	const char *after;
	long n;

	if (v->payload == NULL ||
	    jvalue_read(v->payload, v->payload + v->payload_len, &p, &after) == -1 ||
	    !jvalue_member(&p, key, &m) || m.kind != JSCAN_STRING)
		return false;
	n = jscan_unescape(m.p, m.len, buf, cap);
	return n >= 0;
}

static void started_save(struct sched *s);

static void
lifecycle(struct sched *s, const char *type, const struct event_view *v,
    int64_t now)
{
	char agent[EVENT_MAX_FIELD * 4 + 1], parent[EVENT_MAX_FIELD * 4 + 1];
	bool spawned = strcmp(type, "AGENT:SPAWNED") == 0;
	bool exited = strcmp(type, "AGENT:EXITED") == 0;
	bool failed = strcmp(type, "KERNEL:ERROR") == 0;
	bool keep = false;

	if (!spawned && !exited && !failed)
		return;
	agent[0] = parent[0] = '\0';
	if (spawned && event_str_copy(&v->source, agent, sizeof(agent)) < 0)
		return;
	if (exited && !payload_string(v, "agentId", agent, sizeof(agent)))
		return;
	if ((spawned || failed) && v->has_parent &&
	    event_str_copy(&v->parent_id, parent, sizeof(parent)) < 0)
		return;
	for (size_t i = 0; i < s->ncounted; i++) {
		struct rstate *r = &s->st[s->counted[i]];

		for (size_t k = 0; k < r->nagents; k++) {
			struct started *a = &r->agents[k];
			bool ours = (parent[0] && strcmp(a->request, parent) == 0) ||
			    (agent[0] && strcmp(a->agent, agent) == 0);

			if (!ours)
				continue;
			if (spawned) {
				/* Kept as confirmed: a restart then does not
				 * take it for a request still waiting. */
				keep |= !a->confirmed;
				snprintf(a->agent, sizeof(a->agent), "%s", agent);
				a->live = a->confirmed = true;
				a->since = now;
			} else if (exited || (failed && !a->confirmed)) {
				a->live = false;
			}
		}
	}
	if (keep)
		started_save(s);
}

static size_t
live_count(struct rstate *r, int64_t now)
{
	size_t n = 0;

	for (size_t k = 0; k < r->nagents; k++) {
		struct started *a = &r->agents[k];

		if (a->live && !a->confirmed && now - a->since > SCHED_PENDING_MS)
			a->live = false;	/* asked for, never came */
		n += a->live;
	}
	return n;
}

/* agent: the id the request names, or NULL when the template's own. */
static int
remember_request(struct rstate *r, const char *request, const char *agent,
    int64_t now)
{
	struct started *p;
	size_t k, w;

	if (r->nagents >= SCHED_AGENTS_KEPT) {
		live_count(r, now);
		for (k = w = 0; k < r->nagents; k++)
			if (r->agents[k].live)
				r->agents[w++] = r->agents[k];
		r->nagents = w;
		if (w >= SCHED_AGENTS_KEPT)
			return -1;
	}
	p = realloc(r->agents, (r->nagents + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	r->agents = p;
	/* One process per agent id: an older entry for it is over. */
	for (k = 0; agent != NULL && k < r->nagents; k++)
		if (strcmp(r->agents[k].agent, agent) == 0) {
			r->agents[k].live = false;
			r->agents[k].agent[0] = '\0';
		}
	p = &r->agents[r->nagents++];
	*p = (struct started){.live = true, .since = now};
	snprintf(p->request, sizeof(p->request), "%s", request);
	snprintf(p->agent, sizeof(p->agent), "%s", agent ? agent : "");
	return 0;
}

static struct started *
find_agent(struct rstate *r, const char *agent)
{
	for (size_t k = 0; k < r->nagents; k++)
		if (strcmp(r->agents[k].agent, agent) == 0)
			return &r->agents[k];
	return NULL;
}

/* ---- the started file: {"RULE": [{"request", "since", "confirmed"},
 * ...], ...}, the spawn requests of counted rules whose agents may still
 * run: those live, and those whose agent came and may come again ---- */

static void
started_save(struct sched *s)
{
	json_t *t;

	if (s->opt.started_file == NULL)
		return;
	t = json_object();
	for (size_t i = 0; t != NULL && i < s->ncounted; i++) {
		struct rstate *r = &s->st[s->counted[i]];
		json_t *a = json_array();

		for (size_t k = 0; a != NULL && k < r->nagents; k++) {
			const struct started *g = &r->agents[k];

			if (g->live || (g->confirmed && g->agent[0] != '\0'))
				json_array_append_new(a, json_pack("{s:s, s:I, s:b}",
				    "request", g->request, "since", (json_int_t)g->since,
				    "confirmed", g->confirmed));
		}
		if (json_array_size(a) > 0)
			json_object_set_new(t, r->name, a);
		else
			json_decref(a);
	}
	state_save(s, s->opt.started_file, t);
}

static struct rstate *
counted_named(struct sched *s, const char *name)
{
	for (size_t i = 0; name != NULL && i < s->ncounted; i++)
		if (strcmp(s->st[s->counted[i]].name, name) == 0)
			return &s->st[s->counted[i]];
	return NULL;
}

struct adopting {
	struct sched *s;
	json_t *kept;		/* {"REQUEST": {"rule", "since", "confirmed"}} */
	int64_t now;
};

/* An agent of the registry that one of the requests kept asked for:
 * counted again while it runs, remembered while it waits to. */
static void
adopt(void *ctx, const char *agent, const char *cause, bool running)
{
	struct adopting *a = ctx;
	json_t *k = json_object_get(a->kept, cause);
	struct rstate *r = counted_named(a->s,
	    json_string_value(json_object_get(k, "rule")));

	if (r == NULL || remember_request(r, cause, agent, a->now) == -1)
		return;
	r->agents[r->nagents - 1].confirmed = true;
	r->agents[r->nagents - 1].live = running;
	json_object_del(a->kept, cause);
}

/* The agents that the rules started before this start count again; so
 * do requests younger than SCHED_PENDING_MS that no agent answered yet.
 * The file then keeps only those. When the registry cannot be read, the
 * file stays as it is for the next start. */
static void
started_load(struct sched *s, int64_t now)
{
	struct adopting a = {s, NULL, now};
	json_t *kept, *reqs, *req, *k;
	const char *name, *id;
	size_t i;

	if (s->opt.started_file == NULL)
		return;
	kept = state_load(s, s->opt.started_file, "concurrency counts");
	a.kept = json_object();
	json_object_foreach(kept, name, reqs)
		json_array_foreach(reqs, i, req) {
			id = json_string_value(json_object_get(req, "request"));
			if (id != NULL && counted_named(s, name) != NULL)
				json_object_set_new(a.kept, id, json_pack("{s:s, s:O?, s:O?}",
				    "rule", name, "since", json_object_get(req, "since"),
				    "confirmed", json_object_get(req, "confirmed")));
		}
	if (json_object_size(a.kept) > 0 && s->opt.registry != NULL &&
	    s->opt.registry(s->opt.ctx, adopt, &a) == -1) {
		s->opt.warn(s->opt.ctx, NULL, "the agent registry cannot be read: "
		    "the agents started before count from zero");
		json_decref(a.kept);
		json_decref(kept);
		return;
	}
	/* Not in the registry: a request not answered yet, or one whose
	 * agent is gone. */
	json_object_foreach(a.kept, id, k) {
		json_t *since = json_object_get(k, "since");
		struct rstate *r = counted_named(s,
		    json_string_value(json_object_get(k, "rule")));

		if (r != NULL && !json_is_true(json_object_get(k, "confirmed")) &&
		    json_is_integer(since) && json_integer_value(since) <= now &&
		    now - json_integer_value(since) < SCHED_PENDING_MS)
			(void)remember_request(r, id, NULL, json_integer_value(since));
	}
	json_decref(a.kept);
	json_decref(kept);
	started_save(s);
}

void
sched_agent_started(struct sched *s, const struct rule *r, const char *agent)
{
	struct rstate *st = &s->st[r->index];
	struct started *a = find_agent(st, agent);

	if (a == NULL && st->nagents > 0 && st->agents[st->nagents - 1].agent[0] == '\0')
		a = &st->agents[st->nagents - 1];	/* the request just made */
	if (a != NULL) {
		bool keep = !a->confirmed;

		snprintf(a->agent, sizeof(a->agent), "%s", agent);
		a->live = a->confirmed = true;
		if (keep)
			started_save(s);
	}
}

void
sched_request_failed(struct sched *s, const struct rule *r,
    const char *request)
{
	struct rstate *st = &s->st[r->index];

	for (size_t k = 0; k < st->nagents; k++)
		if (strcmp(st->agents[k].request, request) == 0)
			st->agents[k].live = false;
}

/* ---- firing ---- */

static int handle_event(struct sched *s, const char *line, size_t len,
    const struct event_view *view, const struct rule *from, int64_t now,
    struct starry_err *err);

/* Do r's action for cause (NULL for a timer), whose text ev holds. */
static int
fire(struct sched *s, const struct rule *r, struct expr_event *ev,
    const struct event_view *cause, int64_t now, struct starry_err *err)
{
	struct rstate *st = &s->st[r->index];
	struct starry_err aerr;
	const char *id;
	json_t *out;
	char *text;
	size_t tlen;
	int rc = 0;

	if (r->action.verb == RULE_SPAWN && r->concurrency > 0 &&
	    live_count(st, now) >= (size_t)r->concurrency) {
		s->stats.over_concurrency++;
		return 0;
	}
	out = rule_action_event(r, cause, ev, &aerr);
	if (out == NULL) {
		s->stats.failed++;
		s->opt.warn(s->opt.ctx, r, aerr.msg);
		return 0;
	}
	id = json_string_value(json_object_get(out, "id"));
	dedup_window_seen(s->seen, id, strlen(id), now);
	if (r->action.verb == RULE_SPAWN && r->concurrency > 0 &&
	    remember_request(st, id,
	    json_string_value(json_object_get(json_object_get(out, "payload"), "id")),
	    now) == -1) {
		/* Not counted, not done: held back like one over the bound. */
		json_decref(out);
		s->stats.over_concurrency++;
		return 0;
	}
	if (r->action.verb == RULE_SPAWN && r->concurrency > 0)
		started_save(s);
	/* An emitted event may be what another rule waits for. */
	text = r->action.verb == RULE_EMIT && s->hops < SCHED_MAX_HOPS &&
	    s->derived < SCHED_MAX_DERIVED ? event_dump_line(out, &tlen) : NULL;
	if (r->action.verb == RULE_EMIT)
		s->derived++;
	s->stats.fired++;
	json_incref(out);
	if (s->opt.emit(s->opt.ctx, r, out) == -1)
		s->stats.failed++;
	if (text != NULL) {
		struct event_view v;

		if (event_scan_line(text, tlen - 1, 0, &v, NULL) == 0) {
			s->hops++;
			rc = handle_event(s, text, tlen - 1, &v, r, now, err);
			s->hops--;
		}
		free(text);
	} else if (r->action.verb == RULE_EMIT && !s->cut) {
		s->cut = true;
		s->opt.warn(s->opt.ctx, r, "the emit actions of one event ran more "
		    "than 8 deep or made more than 1000 events; the rest are not "
		    "matched further");
	}
	json_decref(out);
	return rc;
}

/* from: the rule that emitted the event, which it does not fire again
 * (a rule on "*" that emits would otherwise feed itself). */
static int
handle_event(struct sched *s, const char *line, size_t len,
    const struct event_view *view, const struct rule *from, int64_t now,
    struct starry_err *err)
{
	char type[EVENT_MAX_FIELD * 4 + 1];
	struct expr_event ev;
	long tlen = event_str_copy(&view->type, type, sizeof(type));
	size_t n;

	if (tlen < 0)
		return 0;
	expr_event_init(&ev, line, len, view);
	lifecycle(s, type, view, now);
	n = rules_for_type(s->rs, type, (size_t)tlen, s->matches + s->hops *
	    rules_match_room(s->rs));
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = rules_get(s->rs,
		    s->matches[s->hops * rules_match_room(s->rs) + i]);
		struct rstate *st = &s->st[r->index];

		if (r == from ||
		    (r->cond != NULL && !expr_eval(r->cond, &ev, s->scratch)))
			continue;
		s->stats.matched++;
		if (r->debounce_ms > 0) {
			char *copy = malloc(len + 1);

			if (copy == NULL)
				return starry_err_set(err, EX_OSERR, "out of memory");
			memcpy(copy, line, len);
			copy[len] = '\0';
			if (st->pending != NULL)
				s->stats.debounced++;
			free(st->pending);
			st->pending = copy;
			st->pending_len = len;
			st->pending_due = now + r->debounce_ms;
			s->due_stale = true;
			continue;
		}
		if (fire(s, r, &ev, view, now, err) == -1)
			return -1;
	}
	return 0;
}

int
sched_event(struct sched *s, const char *line, size_t len,
    const struct event_view *view, int64_t now, struct starry_err *err)
{
	char idbuf[EVENT_ID_KEY_MAX];
	const char *key;
	long klen = event_id_key(view, &key, idbuf, sizeof(idbuf));

	/* Our own events coming back (through the hub), and duplicates. */
	if (klen >= 0 && dedup_window_seen(s->seen, key, (size_t)klen, now))
		return 0;
	s->stats.events++;
	s->derived = 0;
	s->cut = false;
	return handle_event(s, line, len, view, NULL, now, err);
}

void
sched_prefetch(struct sched *s, const struct event_view *view)
{
	char idbuf[EVENT_ID_KEY_MAX];
	const char *key;
	long klen = event_id_key(view, &key, idbuf, sizeof(idbuf));

	if (klen >= 0)
		dedup_window_prefetch(s->seen, key, (size_t)klen);
}

int64_t
sched_next_due(struct sched *s)
{
	int64_t due = SCHED_NEVER;

	/* Asked after every event: worked out again only after a change. */
	if (!s->due_stale)
		return s->due;
	for (size_t i = 0; i < s->nst; i++) {
		if (s->st[i].pending != NULL && s->st[i].pending_due < due)
			due = s->st[i].pending_due;
		if (s->st[i].due < due)
			due = s->st[i].due;
	}
	s->due = due;
	s->due_stale = false;
	return due;
}

int64_t
sched_next_pending(const struct sched *s)
{
	int64_t due = SCHED_NEVER;

	for (size_t i = 0; i < s->nst; i++)
		if (s->st[i].pending != NULL && s->st[i].pending_due < due)
			due = s->st[i].pending_due;
	return due;
}

/* Fire rule i's debounced event. */
static int
fire_pending(struct sched *s, size_t i, int64_t now, struct starry_err *err)
{
	struct rstate *st = &s->st[i];
	char *line = st->pending;
	struct event_view v;
	int rc = 0;

	st->pending = NULL;
	s->due_stale = true;
	if (event_scan_line(line, st->pending_len, EVENT_LENIENT, &v, NULL) == 0) {
		struct expr_event ev;

		expr_event_init(&ev, line, st->pending_len, &v);
		rc = fire(s, rules_get(s->rs, i), &ev, &v, now, err);
	}
	free(line);
	return rc;
}

int
sched_flush(struct sched *s, int64_t now, struct starry_err *err)
{
	for (size_t i = 0; i < s->nst; i++)
		if (s->st[i].pending != NULL && fire_pending(s, i, now, err) == -1)
			return -1;
	return 0;
}

int
sched_tick(struct sched *s, int64_t now, struct starry_err *err)
{
	bool timers_fired = false;

	/* What is due at once acts as the rules one event fires do: by
	 * priority, then in the order the rules were written. */
	for (int prio = 0; prio <= EVENT_PRIORITY_MAX; prio++)
		for (size_t i = 0; i < s->nst; i++) {
			struct rstate *st = &s->st[i];
			const struct rule *r = rules_get(s->rs, i);

			if (r->priority != prio)
				continue;
			if (st->pending != NULL && st->pending_due <= now &&
			    fire_pending(s, i, now, err) == -1)
				return -1;
			if (st->due <= now) {
				s->due_stale = true;
				st->last_fired = now;
				st->due = sched_timer_next(r, now);
				timers_fired = true;
				if (fire(s, r, NULL, NULL, now, err) == -1)
					return -1;
			}
		}
	if (timers_fired)
		timers_save(s);
	return 0;
}

/* ---- set-up ---- */

/* States for rs, taking over what old had under the same rule names. */
static int
states_for(struct sched *s, const struct rule_set *rs, struct rstate *old,
    size_t nold, int64_t now, json_t *remembered, struct starry_err *err)
{
	size_t n = rules_count(rs);
	struct rstate *st = calloc(n + 1, sizeof(*st));
	uint32_t *matches = calloc(rules_match_room(rs) * (SCHED_MAX_HOPS + 1),
	    sizeof(*matches));
	uint32_t *counted = calloc(n + 1, sizeof(*counted));
	size_t ncounted = 0;

	/* Every allocation first: a failure leaves old as it was. */
	for (size_t i = 0; st != NULL && i < n; i++)
		if ((st[i].name = strdup(rules_get(rs, i)->name)) == NULL) {
			for (size_t k = 0; k < i; k++)
				free(st[k].name);
			free(st);
			st = NULL;
		}
	if (st == NULL || matches == NULL || counted == NULL) {
		free(st);
		free(matches);
		free(counted);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = rules_get(rs, i);
		bool timer = r->every_ms > 0 || r->has_cron;

		for (size_t k = 0; k < nold; k++)
			if (old[k].name != NULL && strcmp(old[k].name, r->name) == 0) {
				char *name = st[i].name;

				st[i] = old[k];
				st[i].name = name;
				free(old[k].name);
				old[k] = (struct rstate){0};
				break;
			}
		if (r->concurrency > 0)
			counted[ncounted++] = (uint32_t)i;
		if (remembered != NULL && json_is_integer(json_object_get(remembered,
		    r->name)))
			st[i].last_fired = json_integer_value(json_object_get(remembered,
			    r->name));
		if (!timer) {
			st[i].due = SCHED_NEVER;
			st[i].last_fired = 0;
			continue;
		}
		/* A time that passed while nothing ran fires once, now (as
		 * systemd's Persistent=). */
		if (st[i].last_fired > 0 &&
		    sched_timer_next(r, st[i].last_fired) <= now) {
			st[i].due = now;
		} else {
			st[i].due = sched_timer_next(r, st[i].last_fired > 0 ?
			    st[i].last_fired : now);
		}
	}
	for (size_t k = 0; k < nold; k++)
		rstate_free(&old[k]);
	free(old);
	free(s->matches);
	free(s->counted);
	s->st = st;
	s->nst = n;
	s->matches = matches;
	s->counted = counted;
	s->ncounted = ncounted;
	s->due_stale = true;
	s->rs = rs;
	return 0;
}

int
sched_open(struct sched **out, const struct sched_options *opt,
    const struct rule_set *rs, int64_t now, struct starry_err *err)
{
	struct sched *s = calloc(1, sizeof(*s));
	json_t *remembered;
	int rc;

	if (s == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	s->opt = *opt;
	s->scratch = expr_scratch_new(opt->max_line);
	s->seen = dedup_window_new(DEDUP_DEFAULT_COUNT, DEDUP_DEFAULT_MS);
	if (s->scratch == NULL || s->seen == NULL) {
		sched_close(s);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	remembered = timers_load(s);
	rc = states_for(s, rs, NULL, 0, now, remembered, err);
	json_decref(remembered);
	if (rc == -1) {
		sched_close(s);
		return -1;
	}
	started_load(s, now);
	*out = s;
	return 0;
}

int
sched_set_rules(struct sched *s, const struct rule_set *rs, int64_t now,
    struct starry_err *err)
{
	struct rstate *old = s->st;
	size_t nold = s->nst;
	json_t *remembered = json_object();
	int rc;

	/* Timers keep their last firing across the reload. */
	for (size_t i = 0; i < nold; i++)
		if (old[i].last_fired > 0)
			json_object_set_new(remembered, old[i].name,
			    json_integer(old[i].last_fired));
	s->st = NULL;
	s->nst = 0;
	rc = states_for(s, rs, old, nold, now, remembered, err);
	json_decref(remembered);
	if (rc == -1) {
		s->st = old;
		s->nst = nold;
	}
	return rc;
}

void
sched_close(struct sched *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nst; i++)
		rstate_free(&s->st[i]);
	free(s->st);
	free(s->matches);
	free(s->counted);
	expr_scratch_free(s->scratch);
	dedup_window_free(s->seen);
	free(s);
}

void
sched_each_timer(const struct sched *s,
    void (*fn)(void *ctx, const struct rule *r, int64_t due), void *ctx)
{
	for (size_t i = 0; i < s->nst; i++)
		if (s->st[i].due != SCHED_NEVER)
			fn(ctx, rules_get(s->rs, i), s->st[i].due);
}

void
sched_get_stats(const struct sched *s, struct sched_stats *st)
{
	*st = s->stats;
}
