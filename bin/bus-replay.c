/* starry-bus sub --since: the stored events first, then the live ones,
 * with no gap and no duplicate at the seam.
 *
 * The subscription is made before the store is read, so every event
 * published from then on reaches us live. What the store had is printed
 * first. Events published just before the subscription may not have been
 * committed yet when the store was read: while the seam is open, the
 * store is read again (on each live event, and every SEAM_TICK_MS) and
 * such stragglers are printed too. The seam closes when the store holds
 * an event that came live (the writer, fed from the same hub, has caught
 * up with the subscription), or after SEAM_MAX_MS. Every id printed is
 * kept in a dedup window, and live events are checked against it for
 * good: a live event may still be on its way when its stored copy has
 * been printed. The hub's own dedup window means no two distinct events
 * share an id, so the check drops nothing else. */
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "dedup.h"
#include "event.h"
#include "hub.h"
#include "store.h"

#define SEAM_TICK_MS 100
#define SEAM_MAX_MS (10 * 1000)

struct replay {
	struct store *st;
	struct store_filter filter;	/* session and trace; types below */
	const char *const *types;
	size_t ntypes;
	struct dedup_window *seen;
	bool open;			/* the seam */
	bool caught_up;			/* the store holds a live event */
	int64_t opened_ms, checked_ms;
	replay_print_fn print;
	void *ctx;
};

struct replay *
replay_open(const char *db, int64_t since, const char *const *types,
    size_t ntypes, const char *session, const char *trace, replay_print_fn print,
    void *ctx)
{
	struct replay *r = calloc(1, sizeof *r);
	struct starry_err err;

	if (r == NULL || (r->seen = dedup_window_new(DEDUP_DEFAULT_COUNT,
	    SEAM_MAX_MS * 6)) == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (store_open(&r->st, db, 0, &err) < 0)
		diag_die_err(&err);
	r->filter.since_seq = since;
	r->filter.session = session;
	r->filter.trace = trace;
	r->types = types;
	r->ntypes = ntypes;
	r->print = print;
	r->ctx = ctx;
	return r;
}

/* A stored event: printed unless it was printed already (live). */
static int
replay_stored_event(void *ctx, const struct store_event *ev)
{
	struct replay *r = ctx;

	if (dedup_window_seen(r->seen, ev->id, strlen(ev->id), monotonic_ms())) {
		/* It came live: the store has caught up, and what it holds
		 * after this came live too, or is on its way, in order. */
		r->caught_up = true;
		return -1;
	}
	r->filter.since_seq = ev->seq + 1;
	if (hub_type_matches(r->types, r->ntypes, ev->type))
		r->print(r->ctx, ev->line, ev->len);
	return 0;
}

static void
replay_read_store(struct replay *r)
{
	struct starry_err err;

	if (store_query(r->st, &r->filter, replay_stored_event, r, &err) < 0 &&
	    !r->caught_up)
		diag_die_err(&err);
	r->checked_ms = monotonic_ms();
	/* The time bound counts from the end of the first read, however
	 * long that took: what was committed meanwhile is read next. */
	if (r->opened_ms == 0)
		r->opened_ms = r->checked_ms;
	if (r->caught_up || r->checked_ms - r->opened_ms >= SEAM_MAX_MS) {
		r->open = false;
		store_close(r->st);
		r->st = NULL;
	}
}

void
replay_start(struct replay *r)
{
	r->open = true;
	replay_read_store(r);
}

bool
replay_live(struct replay *r, const char *line, size_t len)
{
	char buf[EVENT_ID_KEY_MAX];
	struct event_view view;
	struct starry_err err;
	const char *key;
	long n;

	if (event_scan_line(line, len, EVENT_LENIENT, &view, &err) < 0 ||
	    (n = event_id_key(&view, &key, buf, sizeof buf)) < 0)
		return true;	/* not ours to judge: the hub sent it */
	if (dedup_window_seen(r->seen, key, n, monotonic_ms()))
		return false;
	if (r->open)
		replay_read_store(r);	/* stragglers first: they are older */
	return true;
}

int
replay_timeout(const struct replay *r)
{
	int64_t left;

	if (!r->open)
		return -1;
	left = r->checked_ms + SEAM_TICK_MS - monotonic_ms();
	return left > 0 ? (int)left : 0;
}

void
replay_tick(struct replay *r)
{
	if (r->open && replay_timeout(r) == 0)
		replay_read_store(r);
}

void
replay_close(struct replay *r)
{
	if (r == NULL)
		return;
	store_close(r->st);
	dedup_window_free(r->seen);
	free(r);
}
