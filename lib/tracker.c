/* The watcher's belief about each pane: see tracker.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "tracker.h"

void
tracker_init(struct tracker *t)
{
	memset(t, 0, sizeof *t);
}

void
tracker_free(struct tracker *t)
{
	free(t->v);
	free(t->dead);
	memset(t, 0, sizeof *t);
}

uint64_t
tracker_hash(const char *text, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct track_pane *
find(const struct tracker *t, const char *id)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].id, id) == 0)
			return &t->v[i];
	return NULL;
}

const struct track_pane *
tracker_find(const struct tracker *t, const char *id)
{
	return find(t, id);
}

static struct track_pane *
add(struct tracker *t, const char *id)
{
	struct track_pane *p;

	if (grow_for_one(&t->v, t->n, sizeof *t->v) < 0)
		return NULL;
	p = &t->v[t->n++];
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	p->generation = 1;
	p->view.state = PANE_UNKNOWN;
	return p;
}

static bool
hook_fresh(const struct track_pane *p, int64_t now)
{
	return p->hook_at > 0 && now - p->hook_at <= TRACK_FRESH_MS &&
	    !p->hook.gone;
}

/* The view of p now, from its two sources. */
static void
evaluate(const struct track_pane *p, int64_t now, struct track_view *v)
{
	const struct pane_verdict *h = p->have_heur ? &p->heur : NULL;
	bool heur_agent = h != NULL && h->agent != NULL;

	memset(v, 0, sizeof *v);
	v->state = PANE_UNKNOWN;
	/* The session's title where the hooks bound one and its agent is
	 * still there; else the pane's. */
	if (p->hook_title.rank != TITLE_NONE &&
	    (heur_agent || hook_fresh(p, now))) {
		snprintf(v->title, sizeof v->title, "%s", p->hook_title.text);
		v->title_from = p->hook_title.rank;
	} else if (heur_agent && h->title[0] != '\0') {
		snprintf(v->title, sizeof v->title, "%s", h->title);
		v->title_from = TITLE_PANE;
	}
	if (hook_fresh(p, now)) {
		snprintf(v->agent, sizeof v->agent, "%s", heur_agent ?
		    h->agent->key : p->provider);
		v->presence = PRESENCE_MANAGED;
		v->evidence = EVIDENCE_DETERMINISTIC;
		v->confidence = 1.0;
		v->state = p->hook.state;
		v->attention = p->hook.attention;
		if (v->state == PANE_UNKNOWN && heur_agent) {
			v->state = p->heur_state;
			v->attention = pane_state_attention(v->state);
		}
		snprintf(v->reason, sizeof v->reason, "%s hook %s, %lld ms ago",
		    p->provider, p->hook_event, (long long)(now - p->hook_at));
		/* The screen shows what the hook has not told yet. */
		if (heur_agent && h->state == PANE_WAITING_APPROVAL &&
		    v->state == PANE_RUNNING) {
			v->state = PANE_WAITING_APPROVAL;
			v->attention = ATTENTION_APPROVAL;
			snprintf(v->reason, sizeof v->reason, "the screen shows "
			    "an approval; the %s hook %s said running",
			    p->provider, p->hook_event);
		}
		return;
	}
	if (!heur_agent) {
		v->presence = PRESENCE_UNMANAGED;
		v->evidence = EVIDENCE_NONE;
		v->confidence = h != NULL ? h->confidence : 0;
		snprintf(v->reason, sizeof v->reason, "%s", h != NULL ?
		    h->reason : "not seen by a scan yet");
		return;
	}
	snprintf(v->agent, sizeof v->agent, "%s", h->agent->key);
	v->presence = PRESENCE_MANAGED;
	v->evidence = EVIDENCE_HEURISTIC;
	v->state = p->heur_state;
	v->attention = v->state == h->state ? h->attention :
	    pane_state_attention(v->state);
	v->confidence = h->confidence;
	snprintf(v->reason, sizeof v->reason, "%s", h->reason);
	if (v->state == PANE_RUNNING && now - p->screen_changed >
	    TRACK_OUTPUT_MS) {
		v->confidence /= 2;
		snprintf(v->reason, sizeof v->reason, "%.200s; no output for "
		    "%lld s", h->reason,
		    (long long)((now - p->screen_changed) / 1000));
	}
	if (v->state != h->state)
		snprintf(v->reason, sizeof v->reason, "%s until %s has held "
		    "%d ms (the screen says %s)", pane_state_name(v->state),
		    pane_state_name(h->state), TRACK_IDLE_STABLE_MS,
		    pane_state_name(h->state));
	/* A finished turn, told by a hook now stale, still wants a look. */
	if (p->hook_at > 0 && p->hook.attention == ATTENTION_FINISHED &&
	    v->state == PANE_IDLE && v->attention == ATTENTION_NONE)
		v->attention = ATTENTION_FINISHED;
}

static bool
view_differs(const struct track_view *a, const struct track_view *b)
{
	return strcmp(a->agent, b->agent) != 0 || a->presence != b->presence ||
	    a->evidence != b->evidence || a->state != b->state ||
	    a->attention != b->attention || strcmp(a->title, b->title) != 0 ||
	    a->title_from != b->title_from;
}

static void
settle(struct track_pane *p, int64_t now, track_change_fn *fn, void *ctx)
{
	struct track_view v;
	struct track_change c;

	/* Ripen an idle that has held long enough. */
	if (p->idle_candidate == PANE_IDLE && p->heur_state != PANE_IDLE &&
	    now - p->idle_since >= TRACK_IDLE_STABLE_MS)
		p->heur_state = PANE_IDLE;
	evaluate(p, now, &v);
	if (p->told && !view_differs(&v, &p->view)) {
		p->view.confidence = v.confidence;
		memcpy(p->view.reason, v.reason, sizeof v.reason);
		return;
	}
	memset(&c, 0, sizeof c);
	c.before = p->view;
	if (!p->told || v.state != p->view.state ||
	    v.attention != p->view.attention || v.presence != p->view.presence)
		p->since = now;
	p->view = v;
	p->told = true;
	c.pane = p;
	c.generation = p->generation;
	if (fn != NULL)
		fn(ctx, &c);
}

/* Forget the tombstones whose grace is over. */
static void
prune(struct tracker *t, int64_t now)
{
	for (size_t i = 0; i < t->ndead;) {
		if (t->dead[i].until < now)
			t->dead[i] = t->dead[--t->ndead];
		else
			i++;
	}
}

/* Whether a hook event of pane id, made at at in session, is of a
 * generation a tombstone kept tells is gone: p is the pane now (NULL
 * when there is none). */
static bool
of_the_dead(const struct tracker *t, const struct track_pane *p,
    const char *id, const char *session, int64_t at)
{
	for (size_t i = 0; i < t->ndead; i++) {
		const struct track_tombstone *d = &t->dead[i];

		if (strcmp(d->id, id) != 0)
			continue;
		if (p == NULL || at <= d->seen_at)
			return true;
		/* Between the old one's last scan and the new one's first:
		 * its session says whose. */
		if (at < p->born && session[0] != '\0' &&
		    strncmp(session, d->session, sizeof d->session - 1) == 0)
			return true;
	}
	return false;
}

/* Tombstone p's generation: told (when it was) and, when a scan saw it,
 * kept a while. */
static void
tombstone(struct tracker *t, struct track_pane *p, int64_t now,
    track_change_fn *fn, void *ctx)
{
	struct track_change c;

	/* Out of memory, the tombstone is only told. */
	if (p->born != 0 &&
	    grow_for_one(&t->dead, t->ndead, sizeof *t->dead) == 0) {
		struct track_tombstone *d = &t->dead[t->ndead++];

		snprintf(d->id, sizeof d->id, "%s", p->id);
		snprintf(d->session, sizeof d->session, "%s", p->hook_session);
		d->seen_at = p->seen_at;
		d->until = now + TRACK_TOMBSTONE_MS;
	}
	if (!p->told || fn == NULL)
		return;
	memset(&c, 0, sizeof c);
	c.pane = p;
	c.before = p->view;
	c.tombstoned = true;
	c.generation = p->generation;
	fn(ctx, &c);
}

/* The poller's verdict, through hysteresis. */
static void
take_verdict(struct track_pane *p, int64_t now, const struct track_seen *s)
{
	bool first = !p->have_heur || p->heur.agent == NULL;
	enum pane_state raw = s->verdict->state;

	p->heur = *s->verdict;
	p->have_heur = true;
	if (p->screen_hash != s->screen_hash || p->screen_changed == 0) {
		p->screen_hash = s->screen_hash;
		p->screen_changed = now;
	}
	if (raw == PANE_IDLE && s->verdict->agent != NULL) {
		if (p->idle_candidate != PANE_IDLE) {
			p->idle_candidate = PANE_IDLE;
			p->idle_since = now;
		}
		if (first || now - p->idle_since >= TRACK_IDLE_STABLE_MS)
			p->heur_state = PANE_IDLE;
	} else {
		p->idle_candidate = PANE_UNKNOWN;
		p->heur_state = raw;
	}
}

int
tracker_scan(struct tracker *t, int64_t now, const struct track_seen *seen,
    size_t n, track_change_fn *fn, void *ctx)
{
	prune(t, now);
	for (size_t i = 0; i < t->n; i++)
		t->v[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct track_seen *s = &seen[i];
		struct track_pane *p = find(t, s->id);

		if (p != NULL && p->pid != 0 && p->pid != s->pid) {
			/* The id went to a new pane: a new generation. */
			unsigned g = p->generation + 1;
			char id[sizeof p->id];

			tombstone(t, p, now, fn, ctx);
			memcpy(id, p->id, sizeof id);
			memset(p, 0, sizeof *p);
			memcpy(p->id, id, sizeof id);
			p->generation = g;
			p->view.state = PANE_UNKNOWN;
		}
		if (p == NULL && (p = add(t, s->id)) == NULL)
			return -1;
		if (p->born == 0)
			p->born = now;	/* the first scan to see it */
		p->seen = true;
		p->seen_at = now;
		p->pid = s->pid;
		snprintf(p->session, sizeof p->session, "%s", s->session);
		snprintf(p->target, sizeof p->target, "%s", s->target);
		take_verdict(p, now, s);
		settle(p, now, fn, ctx);
	}
	for (size_t i = 0; i < t->n;) {
		if (t->v[i].seen) {
			i++;
			continue;
		}
		tombstone(t, &t->v[i], now, fn, ctx);
		t->v[i] = t->v[--t->n];
	}
	return 0;
}

int
tracker_hook(struct tracker *t, int64_t now, const char *id,
    const char *provider, const char *session, const struct hook_meaning *m,
    const struct session_title *title, int64_t at, track_change_fn *fn,
    void *ctx)
{
	struct track_pane *p = find(t, id);

	if (session == NULL)
		session = "";
	prune(t, now);
	if (of_the_dead(t, p, id, session, at))
		return 1;
	if (p == NULL && (p = add(t, id)) == NULL)
		return -1;
	/* An event older than the last one taken changes nothing. */
	if (at < p->hook_at)
		return 0;
	/* Another session in the pane has a title of its own; a session
	 * that ended has none. */
	if (strncmp(session, p->hook_session, sizeof p->hook_session - 1) ||
	    strcmp(provider, p->provider) != 0 || m->gone)
		memset(&p->hook_title, 0, sizeof p->hook_title);
	if (title != NULL && !m->gone)
		title_merge(&p->hook_title, title);
	snprintf(p->provider, sizeof p->provider, "%s", provider);
	snprintf(p->hook_event, sizeof p->hook_event, "%s",
	    m->event != NULL ? m->event : "?");
	snprintf(p->hook_session, sizeof p->hook_session, "%s", session);
	p->hook = *m;
	p->hook.event = NULL;	/* not kept: hook_event holds it */
	/* Its time is when it was made, but never in the future. */
	p->hook_at = at > now ? now : at;
	settle(p, now, fn, ctx);
	return 0;
}

void
tracker_tick(struct tracker *t, int64_t now, track_change_fn *fn, void *ctx)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].seen || t->v[i].hook_at > 0)
			settle(&t->v[i], now, fn, ctx);
}
