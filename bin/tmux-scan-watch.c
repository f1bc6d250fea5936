/* starry-tmux-scan hook and watch: the deterministic evidence of hooks,
 * and the watcher that arbitrates it with the poller's, tells state
 * changes as TMUX:PANE_STATE events and keeps the cache status reads. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "clock.h"
#include "config.h"
#include "event.h"
#include "fdio.h"
#include "hooks.h"
#include "paths.h"
#include "sink.h"
#include "tmux-scan.h"
#include "tracker.h"

#define WATCH_INTERVAL_DEFAULT_MS 1000
/* After a failed write to the store, the next try waits this long. */
#define FLUSH_RETRY_MS 5000

char *
scan_server_dir(const struct starry_paths *paths, const char *socket_path)
{
	char key[96], *tmux, *dir;

	tmux_server_key(socket_path, key, sizeof key);
	tmux = starry_path_join(paths->runtime, "tmux");
	dir = tmux != NULL ? starry_path_join(tmux, key) : NULL;
	free(tmux);
	return dir;
}

/* ---- hook ---- */

static const char hook_usage[] =
"usage: starry-tmux-scan hook claude|codex [PAYLOAD]\n"
"\n"
"Hand an agent's hook event to the watcher: Claude Code's hook payload\n"
"(on standard input), Codex's hook payload (on standard input) or its\n"
"notify payload (the last argument). The event is bound to the pane of\n"
"$TMUX_PANE and written to the server's spool, which the watcher (or the\n"
"next one to run) takes in order. It prints nothing, never waits for the\n"
"watcher, and exits 0 whatever happens, so that it never fails the agent;\n"
"a problem is a warning on standard error. Outside tmux it does nothing.\n"
"\n"
"options:\n"
"  -h, --help              this help\n";

static const struct option hook_options[] = {
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0}
};

int
scan_hook_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct starry_paths paths;
	struct starry_err err;
	const char *provider, *pane = getenv("TMUX_PANE"), *tmux = getenv("TMUX");
	char *text = NULL, *server = NULL, *dir = NULL, *spool = NULL;
	size_t len = 0;
	json_t *payload, *entry;
	json_error_t jerr;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", hook_options, NULL)) != -1)
		if (!cli_common_option(&common, opt, hook_usage))
			diag_die_usage("hook takes no such option");
	if (optind == argc)
		diag_die_usage("hook needs the agent: claude or codex");
	provider = argv[optind++];
	if (strcmp(provider, "claude") != 0 && strcmp(provider, "codex") != 0)
		diag_die_usage("hook: no agent '%s' (claude or codex)", provider);
	if (argc - optind > 1)
		diag_die_usage("hook takes one payload argument at most");
	if (optind < argc) {
		text = strdup(argv[optind]);
		len = text != NULL ? strlen(text) : 0;
	} else if (isatty(0)) {
		diag_die_usage("hook reads the agent's payload on standard input");
	} else {
		text = fdio_read(0, HOOK_PAYLOAD_MAX, false, &len);
		if (text == NULL && errno == EFBIG)
			diag_warn("hook: the payload is larger than %u bytes; "
			    "kept as a note only", HOOK_PAYLOAD_MAX);
	}
	if (pane == NULL || pane[0] == '\0') {
		free(text);
		return 0;	/* not in tmux: no pane to tell about */
	}
	payload = text != NULL ? json_loadb(text, len, 0, &jerr) : NULL;
	if (payload == NULL) {
		/* Kept as it came, so that nothing is lost. */
		payload = text != NULL ? event_json_text(text, len) :
		    json_pack("{s:s}", "error", "no payload");
		diag_warn("hook: the payload is not JSON%s%s; spooled as text",
		    text != NULL ? ": " : "", text != NULL ? jerr.text : "");
	}
	free(text);
	if (tmux != NULL && tmux[0] != '\0')
		server = strndup(tmux, strcspn(tmux, ","));
	if (starry_paths_resolve(&paths, common.home, common.runtime,
	    common.config, &err) < 0) {
		diag_warn("hook: %s", err.msg);
		goto out;
	}
	if (server == NULL) {
		struct tmux_server none = {0};

		server = tmux_socket_path(&none);
	}
	entry = hook_entry(provider, pane, server, event_now_ms(), payload);
	if (server != NULL && (dir = scan_server_dir(&paths, server)) != NULL)
		spool = starry_path_join(dir, "spool");
	if (entry == NULL || spool == NULL)
		diag_warn("hook: out of memory");
	else if (starry_mkdir_p(dir, 0700, &err) < 0 ||
	    spool_put(spool, entry, &err) < 0)
		diag_warn("hook: %s", err.msg);
	json_decref(entry);
	starry_paths_free(&paths);
out:
	json_decref(payload);
	free(server);
	free(dir);
	free(spool);
	return 0;
}

/* ---- the cache status reads ---- */

void
scan_counts_add(struct scan_counts *c, enum pane_state s,
    enum pane_attention a)
{
	c->agents++;
	c->state[s]++;
	if (a != ATTENTION_NONE && a != ATTENTION_FINISHED)
		c->attention++;
}

json_t *
scan_counts_json(const struct scan_counts *c)
{
	json_t *j = json_pack("{s:I, s:I}", "agents", (json_int_t)c->agents,
	    "attention", (json_int_t)c->attention);

	for (int s = 0; j != NULL && s < PANE_STATE_COUNT; s++)
		json_object_set_new(j, pane_state_name((enum pane_state)s),
		    json_integer(c->state[s]));
	return j;
}

json_t *
scan_cache_load(const char *path, int64_t now)
{
	size_t len;
	char *text;
	json_t *j;
	int64_t at, interval, pid;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	text = fdio_read(fd, 1 << 20, false, &len);
	close(fd);
	if (text == NULL)
		return NULL;
	j = json_loadb(text, len, 0, NULL);
	free(text);
	if (j == NULL)
		return NULL;
	at = json_integer_value(json_object_get(j, "at"));
	interval = json_integer_value(json_object_get(j, "interval"));
	pid = json_integer_value(json_object_get(j, "pid"));
	/* Fresh: written within three rounds by a watcher still there. */
	if (!json_is_object(json_object_get(j, "counts")) ||
	    !json_is_array(json_object_get(j, "panes")) || at <= 0 ||
	    pid <= 0 || now - at > 3 * (interval > 1000 ? interval : 1000) ||
	    (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
scan_cache_read(const char *path, int64_t now, struct scan_counts *out)
{
	json_t *j = scan_cache_load(path, now), *c;

	if (j == NULL)
		return -1;
	c = json_object_get(j, "counts");
	memset(out, 0, sizeof *out);
	out->agents = (unsigned)json_integer_value(json_object_get(c,
	    "agents"));
	out->attention = (unsigned)json_integer_value(json_object_get(c,
	    "attention"));
	for (int s = 0; s < PANE_STATE_COUNT; s++)
		out->state[s] = (unsigned)json_integer_value(json_object_get(c,
		    pane_state_name((enum pane_state)s)));
	json_decref(j);
	return 0;
}

/* ---- watch ---- */

static const char watch_usage[] =
"usage: starry-tmux-scan watch [options]\n"
"\n"
"The watcher: looks at every pane each interval, takes the hook events of\n"
"the server's spool as they come, arbitrates the two (a fresh hook wins;\n"
"the screen wins over a hook that says running while it shows an\n"
"approval), and tells each change of a pane's state as a TMUX:PANE_STATE\n"
"event: on standard output, and to the hub when it runs (else into the\n"
"store). It keeps the cache that status reads. SIGHUP reads the\n"
"signatures again. It ends when the tmux server has been gone for three\n"
"looks in a row.\n"
"\n"
"options:\n"
SCAN_OPTIONS_HELP
"  -i, --interval TIME     between looks (default 1s, at least 100ms)\n"
"      --ready-fd N        write a newline to fd N after the first look\n"
"  -h, --help              this help\n";

enum { WATCH_OPT_READY = SCAN_OPT_FREE };

static const struct option watch_options[] = {
	{"interval", required_argument, NULL, 'i'},
	{"ready-fd", required_argument, NULL, WATCH_OPT_READY},
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

/* The sources of evidence, and their health as last told in a
 * TMUX:SOURCE_HEALTH event: the poller is active while its looks work
 * and down when they fail; a hook source is active while its latest
 * event is fresh, stale after. */
enum source_id { SOURCE_POLLER, SOURCE_CLAUDE, SOURCE_CODEX, SOURCE_COUNT };
enum source_state { SOURCE_UNSEEN, SOURCE_ACTIVE, SOURCE_STALE, SOURCE_DOWN };

static const char *const source_names[SOURCE_COUNT] = {
	"poller", "claude", "codex",
};
static const char *const source_state_names[] = {
	NULL, "active", "stale", "down",
};

struct source {
	enum source_state state, told;
	int64_t last_seen;		/* ms; 0: never */
	char detail[256], told_detail[256];
};

struct watch {
	const struct scan_opts *o;
	struct source sources[SOURCE_COUNT];
	struct signatures sigs;
	struct tracker tracker;
	struct sink *sink;
	char *server;		/* the socket path */
	char *dir, *spool, *cache;
	int64_t interval;
	bool dirty;
	unsigned no_server;	/* looks in a row that found no server */
};

/* The watcher ends when its tmux server has been gone this many looks in
 * a row: one started with the server (the tmux plugin's) ends with it. */
#define WATCH_NO_SERVER_LOOKS 3

static const char *
view_agent(const struct track_view *v)
{
	return v->agent[0] != '\0' ? v->agent : NULL;
}

/* Tell an event: on stdout and to the sink. Takes payload. */
static void
emit(struct watch *w, const char *type, json_t *payload,
    const struct event_origin *origin)
{
	struct starry_err err;
	json_t *ev;
	size_t len;
	char *line;

	if (payload == NULL ||
	    (ev = event_create(type, payload, origin, &err)) == NULL) {
		diag_warn("watch: cannot make an event: %s", payload == NULL ?
		    "out of memory" : err.msg);
		return;
	}
	if ((line = event_dump_line(ev, &len)) != NULL)
		cli_print_line(line, len - 1);
	free(line);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	if (sink_send_event(w->sink, ev, 0, &err) < 0)
		diag_warn("watch: %s", err.msg);
	json_decref(ev);
}

/* Tell each source whose health changed since last told. */
static void
tell_sources(struct watch *w, int64_t now)
{
	struct event_origin origin = {.priority = -1,
	    .source = "starry-tmux-scan"};

	for (int i = 0; i < SOURCE_COUNT; i++) {
		struct source *s = &w->sources[i];

		if (i != SOURCE_POLLER && s->state == SOURCE_ACTIVE &&
		    now - s->last_seen > TRACK_FRESH_MS)
			s->state = SOURCE_STALE;
		if (s->state == SOURCE_UNSEEN || (s->state == s->told &&
		    strcmp(s->detail, s->told_detail) == 0))
			continue;
		s->told = s->state;
		memcpy(s->told_detail, s->detail, sizeof s->detail);
		emit(w, "TMUX:SOURCE_HEALTH", json_pack("{s:s, s:s, s:s, s:s, "
		    "s:o, s:s?}", "server", w->server, "source",
		    source_names[i], "kind", i == SOURCE_POLLER ? "heuristic" :
		    "deterministic", "state", source_state_names[s->state],
		    "lastSeen", s->last_seen > 0 ?
		    json_integer(s->last_seen) : json_null(),
		    "detail", s->detail[0] != '\0' ? s->detail : NULL),
		    &origin);
	}
}

/* Tell one change: a TMUX:PANE_STATE event. */
static void
tell(void *ctx, const struct track_change *c)
{
	struct watch *w = ctx;
	const struct track_pane *p = c->pane;
	const struct track_view *v = c->tombstoned ? &c->before : &p->view;
	struct event_origin origin = {.priority = -1};
	char source[64];
	json_t *payload;

	w->dirty = true;
	/* A pane that never showed an agent is not news when it goes. */
	if (c->tombstoned && c->before.agent[0] == '\0')
		return;
	if (!c->tombstoned && v->agent[0] == '\0' && c->before.agent[0] == '\0')
		return;
	snprintf(source, sizeof source, "tmux:%s", p->id);
	origin.source = source;
	origin.session_id = p->hook_session[0] != '\0' ? p->hook_session : NULL;
	payload = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s?, s:s, s:s, s:s, "
	    "s:s, s:s?, s:s?, s:I, s:f, s:s, s:s, s:s, s:b}",
	    "server", w->server, "pane", p->id,
	    "generation", (json_int_t)c->generation,
	    "session", p->session, "target", p->target,
	    "agent", view_agent(v),
	    "presence", c->tombstoned ? "gone" : pane_presence_name(v->presence),
	    "evidence", pane_evidence_name(v->evidence),
	    "state", pane_state_name(v->state),
	    "attention", pane_attention_name(v->attention),
	    "title", v->title[0] != '\0' ? v->title : NULL,
	    "titleFrom", v->title[0] != '\0' ?
	    title_rank_name(v->title_from) : NULL,
	    "since", (json_int_t)p->since, "confidence", v->confidence,
	    "reason", c->tombstoned ? "the pane went away or was reused" :
	    v->reason,
	    "from", pane_state_name(c->before.state),
	    "from_attention", pane_attention_name(c->before.attention),
	    "tombstoned", c->tombstoned);
	emit(w, "TMUX:PANE_STATE", payload, &origin);
}

static void
write_cache(struct watch *w, int64_t now)
{
	struct scan_counts c = {0};
	struct starry_err err;
	json_t *j, *panes = json_array();
	char *text;

	for (size_t i = 0; i < w->tracker.n; i++) {
		const struct track_pane *p = &w->tracker.v[i];
		const struct track_view *v = &p->view;

		if (!p->told || v->agent[0] == '\0' || !p->seen)
			continue;
		scan_counts_add(&c, v->state, v->attention);
		json_array_append_new(panes, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s?, s:I}", "pane", p->id, "target", p->target,
		    "agent", v->agent, "state", pane_state_name(v->state),
		    "attention", pane_attention_name(v->attention),
		    "evidence", pane_evidence_name(v->evidence),
		    "title", v->title[0] != '\0' ? v->title : NULL,
		    "since", (json_int_t)p->since));
	}
	j = json_pack("{s:I, s:I, s:I, s:s, s:o, s:o}", "at", (json_int_t)now,
	    "interval", (json_int_t)w->interval,
	    "pid", (json_int_t)getpid(), "server", w->server,
	    "counts", scan_counts_json(&c), "panes", panes);
	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL) {
		json_decref(j);
		diag_warn("watch: out of memory");
		return;
	}
	if (atomic_replace_file(w->cache, text, strlen(text), 0600,
	    ATOMIC_NO_SYNC, &err) < 0)
		diag_warn("watch: %s", err.msg);
	free(text);
	json_decref(j);
}

static void
take_entry(void *ctx, json_t *entry)
{
	struct watch *w = ctx;
	const char *pane = json_string_value(json_object_get(entry, "pane"));
	const char *server = json_string_value(json_object_get(entry,
	    "server"));
	const char *provider = json_string_value(json_object_get(entry,
	    "provider"));
	const char *session = json_string_value(json_object_get(entry,
	    "session"));
	json_t *payload = json_object_get(entry, "payload");
	int64_t at = json_integer_value(json_object_get(entry, "at"));
	const struct track_pane *p;
	struct session_title title = {0};
	struct hook_meaning m;
	bool read;

	if (pane == NULL || provider == NULL || !json_is_object(payload)) {
		diag_warn("watch: a spool entry with no pane, agent or "
		    "payload object: passed over");
		return;
	}
	if (server != NULL && strcmp(server, w->server) != 0)
		return;		/* another server's (by another path) */
	if (strcmp(provider, "claude") == 0 || strcmp(provider, "codex") == 0) {
		struct source *src = &w->sources[provider[1] == 'l' ?
		    SOURCE_CLAUDE : SOURCE_CODEX];
		int64_t now = event_now_ms();

		/* When it was made, but never in the future; tell_sources
		 * finds it stale when it is. */
		if ((at < now ? at : now) > src->last_seen)
			src->last_seen = at < now ? at : now;
		src->state = SOURCE_ACTIVE;
	}
	if (hook_meaning(provider, payload, &m) < 0) {
		diag_warn("watch: a %s hook payload that names no event: "
		    "passed over", provider);
		return;
	}
	/* The transcript is read for a session not yet titled, and at the
	 * events that come once a turn, not at every tool. */
	p = tracker_find(&w->tracker, pane);
	read = p == NULL || p->hook_title.rank == TITLE_NONE ||
	    strcmp(p->hook_session, session != NULL ? session : "") != 0 ||
	    strstr(m.event, "ToolUse") == NULL;
	title_from_payload(&title, payload, read);
	switch (tracker_hook(&w->tracker, event_now_ms(), pane, provider,
	    session, &m, &title, at, tell, w)) {
	case -1:
		diag_warn("watch: out of memory");
		break;
	case 1:
		diag_note("watch: a %s %s hook event of pane %s, made before "
		    "its pane went or was reused: passed over", provider,
		    m.event, pane);
		break;
	}
}

static void
spool_warning(void *ctx, const char *msg)
{
	(void)ctx;
	diag_warn("watch: %s", msg);
}

static void
look(struct watch *w)
{
	struct starry_err err;
	struct scan sc;
	struct track_seen *seen;
	int64_t now;

	struct source *src = &w->sources[SOURCE_POLLER];

	if (scan_collect(w->o, &w->sigs, &sc, NULL, NULL, NULL, &err) < 0) {
		diag_warn("watch: %s", err.msg);
		src->state = SOURCE_DOWN;
		snprintf(src->detail, sizeof src->detail, "%.255s", err.msg);
		return;
	}
	now = event_now_ms();
	w->no_server = sc.panes.no_server ? w->no_server + 1 : 0;
	if (sc.panes.no_server) {
		src->state = SOURCE_DOWN;
		snprintf(src->detail, sizeof src->detail, "no tmux server");
	} else {
		src->state = SOURCE_ACTIVE;
		src->last_seen = now;
		src->detail[0] = '\0';
	}
	if ((seen = calloc(sc.n + 1, sizeof *seen)) == NULL) {
		scan_free(&sc);
		return;
	}
	for (size_t i = 0; i < sc.n; i++) {
		const struct tmux_pane *tp = sc.v[i].pane;

		seen[i] = (struct track_seen){
			.id = tp->id, .pid = tp->pid, .session = tp->session,
			.target = tp->target, .verdict = &sc.v[i].v,
			.screen_hash = tracker_hash(tp->screen, tp->screen_len),
		};
	}
	if (tracker_scan(&w->tracker, now, seen, sc.n, tell, w) < 0)
		diag_warn("watch: out of memory");
	free(seen);
	scan_free(&sc);
	w->dirty = true;
}

int
scan_watch_main(int argc, char **argv)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, 0};
	struct scan_opts o = {0};
	struct starry_paths paths;
	struct starry_err err;
	struct watch w = {.o = &o, .interval = WATCH_INTERVAL_DEFAULT_MS};
	sigset_t set;
	int opt, ready = -1, sfd, in, lock;
	int64_t next_look = 0, flush_retry = 0, now;
	char *lockpath;
	bool quit = false;

	while ((opt = getopt_long(argc, argv, SCAN_SHORTOPTS "i:",
	    watch_options, NULL)) != -1) {
		if (scan_option(&o, opt, watch_usage))
			continue;
		if (opt == 'i') {
			if (config_parse_duration(optarg, &w.interval, &err) < 0)
				diag_die_usage("--interval: %s", err.msg);
			if (w.interval < 100)
				diag_die_usage("--interval: at least 100ms");
		} else if (opt == WATCH_OPT_READY) {
			ready = cli_ready_fd(optarg);
		} else {
			diag_die_usage("watch takes no such option");
		}
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	scan_load_signatures(&o, &w.sigs);
	cli_resolve_paths(&o.common, &paths);
	if ((w.server = tmux_socket_path(&o.server)) == NULL ||
	    (w.dir = scan_server_dir(&paths, w.server)) == NULL ||
	    (w.spool = starry_path_join(w.dir, "spool")) == NULL ||
	    (w.cache = starry_path_join(w.dir, "status.json")) == NULL ||
	    (lockpath = starry_path_join(w.dir, "watch.lock")) == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (starry_mkdir_p(w.spool, 0700, &err) < 0 ||
	    starry_mkdir_p(paths.home, 0700, &err) < 0)
		diag_die_err(&err);
	/* One watcher per server. */
	lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0) {
		int e = errno;

		diag_error("%s: %s", lockpath, strerror(e));
		free(lockpath);
		exit(EX_CANTCREAT);
	}
	free(lockpath);
	if (flock(lock, LOCK_EX | LOCK_NB) < 0)
		diag_die(EX_TEMPFAIL, "a watcher of %s is running already",
		    w.server);
	if ((w.sink = sink_new(paths.home, paths.runtime)) == NULL)
		diag_die(EX_OSERR, "out of memory");
	tracker_init(&w.tracker);
	sfd = cli_signalfd(&set, signals);
	if ((in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
	    inotify_add_watch(in, w.spool, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		diag_die(EX_OSERR, "inotify on %s: %s", w.spool,
		    strerror(errno));
	while (!quit) {
		struct pollfd pf[2] = {{sfd, POLLIN, 0}, {in, POLLIN, 0}};
		int64_t due, flush;
		int timeout;

		/* Hook events first: they are the freshest word. */
		if (spool_drain(w.spool, take_entry, spool_warning, &w) < 0)
			diag_warn("watch: %s: %s", w.spool, strerror(errno));
		now = monotonic_ms();
		if (now >= next_look) {
			look(&w);
			next_look = now + w.interval;
			if (w.no_server >= WATCH_NO_SERVER_LOOKS) {
				diag_note("watch: no tmux server at %s any "
				    "more; stopping", w.server);
				quit = true;
				continue;
			}
		}
		tracker_tick(&w.tracker, event_now_ms(), tell, &w);
		tell_sources(&w, event_now_ms());
		if (w.dirty) {
			write_cache(&w, event_now_ms());
			w.dirty = false;
			cli_signal_ready(&ready);
		}
		flush = sink_flush_due(w.sink);
		if (flush > 0 && flush <= monotonic_ms() &&
		    monotonic_ms() >= flush_retry &&
		    sink_flush(w.sink, &err) < 0) {
			/* The events wait in the sink; try again later,
			 * not at once. */
			diag_warn("watch: %s", err.msg);
			flush_retry = monotonic_ms() + FLUSH_RETRY_MS;
		}
		due = next_look;
		flush = sink_flush_due(w.sink);
		if (flush > 0 && flush < flush_retry)
			flush = flush_retry;
		if (flush > 0 && flush < due)
			due = flush;
		/* Hooks go stale after a while: look again then too. */
		now = monotonic_ms();
		timeout = due > now ? (int)(due - now) : 0;
		if (timeout > TRACK_FRESH_MS)
			timeout = TRACK_FRESH_MS;
		if (poll(pf, 2, timeout) < 0 && errno != EINTR)
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		if (pf[1].revents & POLLIN) {
			char buf[4096];

			while (read(in, buf, sizeof buf) > 0)
				;
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGHUP) {
					struct signatures fresh;

					/* A bad new file leaves the old
					 * signatures in force. */
					if (scan_signatures(&o, &fresh, &err) < 0) {
						diag_warn("watch: %s; the "
						    "signatures stay as they "
						    "were", err.msg);
						continue;
					}
					signatures_free(&w.sigs);
					w.sigs = fresh;
					next_look = 0;
				} else {
					quit = true;
				}
			}
		}
	}
	/* A cache nobody keeps is not fresh: status looks for itself. */
	unlink(w.cache);
	/* Nobody watches the sources any more. */
	for (int i = 0; i < SOURCE_COUNT; i++)
		if (w.sources[i].state != SOURCE_UNSEEN &&
		    w.sources[i].state != SOURCE_DOWN) {
			w.sources[i].state = SOURCE_DOWN;
			snprintf(w.sources[i].detail, sizeof w.sources[i].detail,
			    "the watcher stopped");
		}
	tell_sources(&w, event_now_ms());
	if (sink_flush(w.sink, &err) < 0)
		diag_warn("watch: %s", err.msg);
	sink_free(w.sink);
	tracker_free(&w.tracker);
	signatures_free(&w.sigs);
	starry_paths_free(&paths);
	free(w.server);
	free(w.dir);
	free(w.spool);
	free(w.cache);
	close(lock);
	return 0;
}
