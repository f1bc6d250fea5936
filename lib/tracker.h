/* What the watcher believes of each pane over time (DESIGN section 6):
 * the heuristic verdicts of each scan and the hook events, arbitrated.
 *
 * - Deterministic wins while fresh (TRACK_FRESH_MS since its last event);
 *   after that the poller's view is used, and one fresh event re-promotes
 *   the hooks at once. Where a hook says running but the screen shows an
 *   approval, the screen wins.
 * - Hysteresis: the poller's idle is taken only once it has held for
 *   TRACK_IDLE_STABLE_MS; its running needs output (a screen that changed)
 *   within TRACK_OUTPUT_MS, or it counts with half the confidence.
 * - A pane id whose first process changed is a new generation; the old
 *   one is tombstoned, and so is a pane that went away. A tombstone is
 *   kept for TRACK_TOMBSTONE_MS, and a hook event it tells is not of the
 *   pane now is passed over: one for a pane gone; for a new generation,
 *   one made while a scan still saw the old one, or made before the new
 *   one was seen in the old one's agent session.
 *
 * Time is passed in (ms): nothing here reads a clock, so tests drive it. */
#ifndef STARRY_TRACKER_H
#define STARRY_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hooks.h"
#include "panes.h"
#include "titles.h"

#define TRACK_FRESH_MS       3000
#define TRACK_IDLE_STABLE_MS 1500
#define TRACK_OUTPUT_MS      8000
#define TRACK_TOMBSTONE_MS   60000

struct track_view {
	char agent[33];		/* "" for none */
	enum pane_presence presence;
	enum pane_evidence evidence;
	enum pane_state state;
	enum pane_attention attention;
	double confidence;
	char title[160];
	enum title_rank title_from;	/* TITLE_NONE with no title */
	char reason[320];
};

struct track_pane {
	char id[16];
	pid_t pid;
	unsigned generation;
	int64_t born;			/* when a scan first saw it; 0: none */
	int64_t seen_at;		/* when a scan last saw it */
	char session[128], target[160];
	bool seen;			/* in the last scan */
	/* the poller's */
	struct pane_verdict heur;
	bool have_heur;
	uint64_t screen_hash;
	int64_t screen_changed;
	enum pane_state idle_candidate;	/* PANE_IDLE while waiting */
	int64_t idle_since;
	enum pane_state heur_state;	/* after hysteresis */
	/* the hooks' */
	char provider[16];
	struct hook_meaning hook;
	char hook_event[48];
	char hook_session[128];
	struct session_title hook_title;	/* the session's */
	int64_t hook_at;		/* 0: none yet */
	/* what was last told */
	struct track_view view;
	int64_t since;
	bool told;
};

/* A generation gone, kept a while to tell its late hook events by. */
struct track_tombstone {
	char id[16];
	char session[128];	/* its agent session; "" for none */
	int64_t seen_at;	/* when a scan last saw it */
	int64_t until;
};

/* Both arrays grow by lib/grow.h. */
struct tracker {
	struct track_pane *v;
	size_t n;
	struct track_tombstone *dead;
	size_t ndead;
};

/* What changed, for the caller to tell: a pane's new view, or its
 * tombstone (tombstoned true, view as last told). */
struct track_change {
	const struct track_pane *pane;
	struct track_view before;
	bool tombstoned;
	unsigned generation;		/* of the tombstoned one */
};
typedef void track_change_fn(void *ctx, const struct track_change *c);

void tracker_init(struct tracker *t);
void tracker_free(struct tracker *t);

/* One scan: every pane seen (id, first pid, where it is, the verdict and
 * its screen's hash). Panes not in it are tombstoned. */
struct track_seen {
	const char *id;
	pid_t pid;
	const char *session, *target;
	const struct pane_verdict *verdict;
	uint64_t screen_hash;
};
int tracker_scan(struct tracker *t, int64_t now, const struct track_seen *seen,
    size_t n, track_change_fn *fn, void *ctx);

/* One hook event for pane id (which the next scan may not have seen
 * yet), with what it says of its session's title (NULL: nothing). The
 * title is the session's: a new session in the pane, or its end, starts
 * it afresh. A pane's session title, once known, is its title; until
 * then the pane's own (by the signatures) is. Returns 0; 1 when the
 * event is a tombstoned generation's and was passed over; -1 on ENOMEM. */
int tracker_hook(struct tracker *t, int64_t now, const char *id,
    const char *provider, const char *session, const struct hook_meaning *m,
    const struct session_title *title, int64_t at, track_change_fn *fn,
    void *ctx);

/* The pane of id, or NULL. */
const struct track_pane *tracker_find(const struct tracker *t,
    const char *id);

/* Let time pass: hooks that went stale hand over to the poller, idle
 * candidates ripen. */
void tracker_tick(struct tracker *t, int64_t now, track_change_fn *fn,
    void *ctx);

/* FNV-1a of a screen, for telling whether it changed. */
uint64_t tracker_hash(const char *text, size_t len);

#endif
