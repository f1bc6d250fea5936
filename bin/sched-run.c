/* starry-sched run: read events (stdin, a file, a FIFO or the hub), fire
 * timers, and print each action's event on stdout, so that
 * `starry-bus sub | starry-sched run | starry-spawn serve` is a pipeline.
 * SIGHUP reloads the rules; an invalid new version is refused and the
 * old rules stay in force. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentdir.h"
#include "clock.h"
#include "ctlsock.h"
#include "fdio.h"
#include "hub.h"
#include "ingest.h"
#include "outbuf.h"
#include "paths.h"
#include "projection.h"
#include "sched-cmd.h"
#include "scheduler.h"

static const char run_usage[] =
"usage: starry-sched run [options]\n"
"\n"
"Read events, match them against the rules of orchestration.yaml, fire\n"
"timers, and print the event of each action on stdout (SPAWN:REQUEST,\n"
"SPAWN:STOP_REQUEST, or the type an emit names), carrying the trace of\n"
"the event that caused it. When starry-spawn serve runs, spawn and stop\n"
"are also done through its socket at once (the daemon then does not act\n"
"on the printed event again).\n"
"\n"
"      --rules FILE       the rules file (default: $STARRY_CONFIG/orchestration.yaml)\n"
"  -e, --events PATH      read events from PATH: a file, a FIFO (kept open\n"
"                         when its writers leave), - for stdin (the\n"
"                         default), or 'hub' to subscribe to the hub\n"
"      --clock wall|event the clock timers and debounce go by: the wall\n"
"                         clock (default), or the timestamps of the events\n"
"                         read (for replays and tests: the state kept in\n"
"                         $STARRY_HOME/sched is then neither read nor kept)\n"
"      --now TIME         start the event clock at TIME (RFC 3339 or @SECONDS;\n"
"                         default: the first event's timestamp)\n"
"  -r, --rejects FILE     append rejected lines to FILE as KERNEL:ERROR events\n"
"      --no-project       no state projection (see below)\n"
"      --ready-fd N       write a newline to fd N once running\n"
"      --stats            print counts on stderr at the end (and on SIGUSR1)\n"
"  -h, --help, --version\n"
"\n"
"Every project.every (30s), each live agent is sent STATE:SNAPSHOT_REQUEST\n"
"on its stdin; when project.timeout (5s) has passed, a STATE:PROJECTION\n"
"event says which answered with a STATE:SNAPSHOT and which are stale.\n"
"Timers' last firings are kept in $STARRY_HOME/sched/timers.json; a firing\n"
"missed while not running happens once at start. The spawn requests of\n"
"rules with a concurrency bound are kept in sched/started.json: at start,\n"
"the agents they started that still run count again. At the end of input\n"
"it fires what debounce holds and ends, unless timers are left to run.\n"
"SIGTERM and SIGINT end it the same way; SIGHUP reloads the rules.\n";

enum {
	OPT_RULES = CLI_OPT_FREE, OPT_CLOCK, OPT_NOW, OPT_READY_FD, OPT_STATS,
	OPT_NO_PROJECT,
};

static const struct option run_options[] = {
	{"rules", required_argument, NULL, OPT_RULES},
	{"events", required_argument, NULL, 'e'},
	{"clock", required_argument, NULL, OPT_CLOCK},
	{"now", required_argument, NULL, OPT_NOW},
	{"rejects", required_argument, NULL, 'r'},
	{"ready-fd", required_argument, NULL, OPT_READY_FD},
	{"stats", no_argument, NULL, OPT_STATS},
	{"no-project", no_argument, NULL, OPT_NO_PROJECT},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct run {
	const char *rules_path;
	const char *home;
	char *spawn_sock;		/* the spawn daemon's, when it runs */
	struct projection *proj;	/* NULL: no state projection */
	struct rule_set *rs;
	struct sched *sched;
	struct ingest ingest;
	struct outbuf out;
	const char *input_name;
	int in_fd, sigfd, ino_fd;
	int64_t reload_due;		/* monotonic ms; 0: no change seen */
	struct line_reader *reader;
	bool event_clock, clock_set, hub, in_done;
	int64_t clock;			/* the event clock's time */
	int status;
#define SCHED_AHEAD 8
	struct ahead {
		struct event_view view;
		const char *line;
		size_t len;
	} ahead[SCHED_AHEAD];
	size_t nahead;
};

/* A change is acted on once the files have been still this long, so that
 * an editor's several steps make one reload and a half-written file is
 * not read. */
#define SCHED_RELOAD_SETTLE_MS 100

static int64_t
run_now(const struct run *r)
{
	return r->event_clock ? r->clock : event_now_ms();
}

#define SCHED_ANSWER_MAX (1u << 20)
/* A spawn daemon that takes longer is left to it: the scheduler goes on. */
#define SCHED_ANSWER_MS 10000

/* Do a spawn or stop action through the spawn daemon, when one runs: the
 * request stands for the action's event (its causeId), which is printed
 * all the same, for the record; the daemon does not act on it twice. */
static void
run_through_daemon(struct run *r, const struct rule *rule, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *id = json_string_value(json_object_get(ev, "id"));
	bool stop = strcmp(type, "SPAWN:STOP_REQUEST") == 0;
	json_t *req, *answer;
	struct starry_err err;

	if (rule == NULL || (!stop && strcmp(type, "SPAWN:REQUEST") != 0))
		return;
	req = json_deep_copy(json_object_get(ev, "payload"));
	if (req == NULL)
		return;
	json_object_del(req, "rule");
	json_object_set_new(req, "method", json_string(stop ? "stop" : "spawn"));
	if (stop)
		json_object_set_new(req, "wait", json_false());
	json_object_set(req, "traceId", json_object_get(ev, "traceId"));
	json_object_set(req, "sessionId", json_object_get(ev, "sessionId"));
	json_object_set(req, "causeId", json_object_get(ev, "id"));
	if (ctlsock_call(r->spawn_sock, req, SCHED_ANSWER_MAX, SCHED_ANSWER_MS,
	    &answer, &err) == -1) {
		if (err.code != EX_UNAVAILABLE)
			diag_warn("rule %s: %s", rule->name, err.msg);
	} else if (json_is_true(json_object_get(answer, "ok"))) {
		const char *agent = json_string_value(json_object_get(
		    json_object_get(answer, "result"), "id"));

		if (!stop && agent != NULL)
			sched_agent_started(r->sched, rule, agent);
	} else {
		diag_warn("rule %s: %s: %s", rule->name, type, json_string_value(
		    json_object_get(json_object_get(answer, "error"), "message")));
		if (!stop)
			sched_request_failed(r->sched, rule, id);
	}
	json_decref(answer);
	json_decref(req);
}

static int
run_emit(void *ctx, const struct rule *rule, json_t *ev)
{
	struct run *r = ctx;
	size_t len;
	char *line;
	int rc = 0;

	run_through_daemon(r, rule, ev);
	line = event_dump_line(ev, &len);
	json_decref(ev);
	if (line == NULL || outbuf_append(&r->out, line, len, false) == -1) {
		if (errno == EPIPE)
			cli_stdout_failed();
		diag_warn("stdout: %s", line == NULL ? "out of memory" : strerror(errno));
		rc = -1;
	}
	free(line);
	return rc;
}

/* A diagnostic event on stdout: a reload refused, say. */
static void
run_diagnostic(struct run *r, const char *code, const char *msg)
{
	struct event_origin o = {.source = "starry-sched", .priority = 1};
	json_t *ev = event_create("KERNEL:ERROR", json_pack("{s:s, s:s, s:s}",
	    "code", code, "message", msg, "source", "starry-sched"), &o, NULL);

	if (ev != NULL)
		run_emit(r, NULL, ev);
}

static void
run_flush(struct run *r)
{
	if (outbuf_flush(&r->out) == -1) {
		if (errno == EPIPE)
			cli_stdout_failed();
		diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	}
}

static void
run_stats(const struct run *r, const char *when)
{
	struct sched_stats st;

	sched_get_stats(r->sched, &st);
	diag_note("%s: %llu events, %llu matched, %llu actions, %llu debounced, "
	    "%llu held back by concurrency, %llu failed, %llu rejected", when,
	    (unsigned long long)st.events, (unsigned long long)st.matched,
	    (unsigned long long)st.fired, (unsigned long long)st.debounced,
	    (unsigned long long)st.over_concurrency, (unsigned long long)st.failed,
	    (unsigned long long)r->ingest.rejected);
}

/* ---- the agent registry ---- */

struct listing {
	const char *home;
	bool running;		/* only those in the state running */
	void (*fn)(void *ctx, const char *agent, const json_t *status);
	void *ctx;
};

static int
list_one(void *ctx, const char *id)
{
	struct listing *l = ctx;
	json_t *status = agentdir_status(l->home, id, NULL);
	const char *state = json_string_value(json_object_get(status, "state"));

	if ((l->running ? state != NULL && strcmp(state, "running") == 0 :
	    agentdir_state_is_live(state)) &&
	    agentdir_supervised(l->home, id, NULL))
		l->fn(l->ctx, id, status);
	json_decref(status);
	return 0;
}

/* Each agent alive under a live supervisor (those running, when
 * running): fn(ctx, id, its status.json). -1 when the registry could not
 * be read (a warning said so). */
static int
run_each_agent(const struct run *r, bool running,
    void (*fn)(void *, const char *, const json_t *), void *ctx,
    const char *what)
{
	struct listing l = {r->home, running, fn, ctx};
	struct starry_err err;

	if (agentdir_each(r->home, list_one, &l, &err) == -1) {
		diag_warn("%s: %s", what, err.msg);
		return -1;
	}
	return 0;
}

struct caused {
	sched_agent_fn *fn;
	void *ctx;
};

static void
agent_cause(void *ctx, const char *agent, const json_t *status)
{
	struct caused *c = ctx;
	const char *cause = json_string_value(json_object_get(status, "cause"));
	const char *state = json_string_value(json_object_get(status, "state"));

	/* Between a back-off's exit and its next start, no process runs. */
	if (cause != NULL)
		c->fn(c->ctx, agent, cause, strcmp(state, "backoff") != 0 &&
		    strcmp(state, "holddown") != 0);
}

/* The engine's view of the registry: live agents and their causes. */
static int
run_registry(void *ctx, sched_agent_fn *fn, void *fnctx)
{
	struct caused c = {fn, fnctx};

	return run_each_agent(ctx, false, agent_cause, &c, "concurrency");
}

/* ---- the state projection ---- */

struct asking {
	int (*ask)(void *, const char *);
	void *ctx;
};

static void
ask_one(void *ctx, const char *agent, const json_t *status)
{
	struct asking *a = ctx;

	(void)status;
	a->ask(a->ctx, agent);
}

/* The agents to ask: those running under a live supervisor. */
static int
run_live_agents(void *ctx, int (*ask)(void *, const char *), void *ask_ctx)
{
	struct asking a = {ask, ask_ctx};

	run_each_agent(ctx, true, ask_one, &a, "projection");
	return 0;
}

/* Send the request to the agent's stdin, through its supervisor. */
static int
run_ask_agent(void *ctx, const char *agent, const json_t *req)
{
	struct run *r = ctx;
	struct starry_err err;
	char *text = json_dumps(req, JSON_COMPACT), *line = NULL;
	int rc = -1;

	if (text != NULL && asprintf(&line, "event %s", text) != -1)
		rc = agentdir_control_nowait(r->home, agent, line, &err);
	else
		starry_err_set(&err, EX_OSERR, "out of memory");
	if (rc == -1 && err.code != EX_NEGATIVE)
		diag_warn("projection: agent %s: %s", agent, err.msg);
	free(text);
	free(line);
	return rc;
}

static void
run_project(struct run *r, int64_t now)
{
	json_t *report;

	if (r->proj == NULL)
		return;
	report = projection_tick(r->proj, now, run_live_agents, run_ask_agent, r);
	if (report != NULL)
		run_emit(r, NULL, report);
}

/* Watch the folders of the rules files (the editor may replace a file
 * rather than write it, so the folder is what tells). */
static void
run_watch(struct run *r)
{
	const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
	    IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF;

	if (r->ino_fd >= 0)
		close(r->ino_fd);
	r->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->ino_fd == -1) {
		diag_warn("inotify: %s: the rules are reloaded on SIGHUP only",
		    strerror(errno));
		return;
	}
	for (size_t i = 0; i < rules_dir_count(r->rs); i++)
		if (inotify_add_watch(r->ino_fd, rules_dir(r->rs, i), mask) == -1 &&
		    errno != ENOENT)
			diag_warn("inotify: cannot watch %s: %s", rules_dir(r->rs, i),
			    strerror(errno));
}

/* Whether a file name in a watched folder may be a rules file: not a
 * hidden file or an editor's backup. */
static bool
rules_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || name[0] == '.' || name[n - 1] == '~')
		return false;
	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	    (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	    (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static void
run_inotify(struct run *r)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(r->ino_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			/* A new folder may be one an include looks in. */
			if (ev->len == 0 || rules_name(ev->name) || (ev->mask & IN_ISDIR))
				r->reload_due = monotonic_ms() + SCHED_RELOAD_SETTLE_MS;
			p += sizeof(*ev) + ev->len;
		}
	}
}

static void
run_reload(struct run *r, const char *why)
{
	struct rule_set *rs;
	struct starry_err err;

	if (rules_load(r->rules_path, &rs, &err) == -1) {
		diag_warn("%s: the new rules are refused, the old ones stay: %s", why,
		    err.msg);
		run_diagnostic(r, "ECONFIG", err.msg);
		run_watch(r);	/* a folder may have come or gone meanwhile */
		return;
	}
	if (sched_set_rules(r->sched, rs, run_now(r), &err) == -1) {
		diag_warn("%s: %s", why, err.msg);
		rules_free(rs);
		return;
	}
	rules_free(r->rs);
	r->rs = rs;
	if (r->proj != NULL) {
		int64_t every, timeout;

		rules_projection(rs, &every, &timeout);
		projection_set(r->proj, every, timeout);
	}
	run_watch(r);
	diag_note("%s: %zu rules loaded from %s", why, rules_count(rs), r->rules_path);
}

/* Fire what is due up to now; with the event clock, in order of time. */
/* Fire what is due up to now; with the event clock, in order of time,
 * but a jump of the clock far ahead (a timestamp from far away) fires
 * each timer once at the end, not once for each interval it skipped. */
#define SCHED_CATCH_UP_MAX 10000

static void
run_tick(struct run *r, int64_t now)
{
	struct starry_err err;
	int64_t due;
	unsigned n = 0;

	while ((due = sched_next_due(r->sched)) <= now) {
		if (r->event_clock && ++n > SCHED_CATCH_UP_MAX)
			due = now;
		if (sched_tick(r->sched, r->event_clock ? due : now, &err) == -1)
			diag_die_err(&err);
		if (!r->event_clock || due == now)
			break;
	}
}

/* One accepted event, in its turn. */
static void
run_event(struct run *r, const char *line, size_t len,
    const struct event_view *v)
{
	struct starry_err err;

	if (r->event_clock && !r->clock_set) {
		/* The event clock starts at the first event (or --now). */
		r->clock = v->timestamp;
		r->clock_set = true;
		if (sched_set_rules(r->sched, r->rs, r->clock, &err) == -1)
			diag_die_err(&err);
	}
	if (r->event_clock && v->timestamp > r->clock) {
		run_tick(r, v->timestamp);
		r->clock = v->timestamp;
	}
	if (r->proj != NULL && event_str_equals(&v->type, "STATE:SNAPSHOT"))
		projection_event(r->proj, "STATE:SNAPSHOT", v);
	/* A replay makes its own actions again: the recorded ones are not
	 * acted on a second time. */
	if (r->event_clock && event_str_equals(&v->source, "starry-sched"))
		return;
	if (sched_event(r->sched, line, len, v, run_now(r), &err) == -1)
		diag_die_err(&err);
}

/* The events scanned ahead, in their order. */
static void
run_flush_ahead(struct run *r)
{
	for (size_t i = 0; i < r->nahead; i++)
		run_event(r, r->ahead[i].line, r->ahead[i].len, &r->ahead[i].view);
	r->nahead = 0;
}

static void
run_line(struct run *r, enum line_status st, const char *line, size_t len,
    long lineno)
{
	struct ahead *a = &r->ahead[r->nahead];
	const char *out;
	size_t outlen;
	struct starry_err err;
	int rc;

	rc = ingest_line(&r->ingest, r->input_name, st, line, len, lineno, &a->view,
	    &out, &outlen, &err);
	if (rc == -1)
		diag_die_err(&err);
	if (rc == 0) {
		r->status = EX_DATAERR;
		return;
	}
	if (out != line) {
		/* A conversion lasts only until the ingest's next line. */
		run_flush_ahead(r);
		run_event(r, out, outlen, &a->view);
		return;
	}
	/* The input's own line stays in the reader's buffer until the next
	 * read: a few go together, their ids looked up in the dedup window
	 * after the memory for them was asked for. */
	a->line = line;
	a->len = len;
	sched_prefetch(r->sched, &a->view);
	if (++r->nahead == SCHED_AHEAD)
		run_flush_ahead(r);
}

static void
run_read(struct run *r)
{
	enum line_status st;
	const char *line;
	size_t len;
	long lineno, n = line_reader_fill(r->reader);

	if (n == 0)
		line_reader_finish(r->reader);
	while ((st = line_reader_next(r->reader, &line, &len, &lineno)) != LINE_AGAIN &&
	    st != LINE_EOF && st != LINE_ERROR) {
		if (r->hub && lineno == 1 && st == LINE_OK) {
			struct starry_err err;

			if (hub_subscribe_answer(line, len, &err) == -1)
				diag_die_err(&err);
			continue;
		}
		run_line(r, st, line, len, lineno);
	}
	run_flush_ahead(r);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		diag_die(EX_IOERR, "%s: %s", r->input_name, strerror(errno));
	if (n == 0 || st == LINE_EOF) {
		if (r->hub)
			diag_die(EX_UNAVAILABLE, "the hub went away");
		r->in_done = true;
	}
}

/* 1 to go on, 0 to stop. */
static int
run_signal(struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			run_reload(r, "SIGHUP");
			break;
		case SIGUSR1:
			run_stats(r, "SIGUSR1");
			break;
		default:
			return 0;
		}
	}
	return 1;
}

static int
open_input(struct run *r, const struct starry_paths *p, const char *path)
{
	struct starry_err err;
	struct stat sb;
	char *req;
	size_t len;
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		r->input_name = "<stdin>";
		return STDIN_FILENO;
	}
	r->input_name = path;
	if (strcmp(path, "hub") == 0) {
		r->hub = true;
		if ((fd = hub_connect(p->runtime, &err)) == -1)
			diag_die_err(&err);
		req = hub_subscribe_line(NULL, 0, NULL, NULL, &len);
		if (req == NULL || write_all(fd, req, len) == -1)
			diag_die(EX_UNAVAILABLE, "cannot subscribe to the hub: %s",
			    strerror(errno));
		free(req);
		return fd;
	}
	if (stat(path, &sb) == -1)
		diag_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s: %s", path,
		    strerror(errno));
	/* A FIFO is opened for writing too, so that it never ends. */
	fd = open(path, (S_ISFIFO(sb.st_mode) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd == -1)
		diag_die(EX_NOINPUT, "%s: %s", path, strerror(errno));
	return fd;
}

int
sched_run_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct run r = {.ino_fd = -1};
	struct sched_options so = {.emit = run_emit, .warn = sched_warn_rule,
	    .ctx = &r, .max_line = EVENT_MAX_LINE};
	const char *rules = NULL, *events = NULL, *rejects = NULL;
	struct starry_paths p;
	struct starry_err err;
	sigset_t sigs;
	char *timers, *started, *dir;
	int opt, ready_fd = -1, flags;
	bool stats = false, now_set = false, project = true;

	while ((opt = getopt_long(argc, argv, "e:r:h", run_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, run_usage))
			continue;
		switch (opt) {
		case OPT_RULES:
			rules = optarg;
			break;
		case 'e':
			events = optarg;
			break;
		case OPT_CLOCK:
			if (strcmp(optarg, "event") == 0)
				r.event_clock = true;
			else if (strcmp(optarg, "wall") != 0)
				diag_die_usage("--clock: expected wall or event, not '%s'", optarg);
			break;
		case OPT_NOW:
			r.clock = sched_parse_time("--now", optarg);
			now_set = r.clock_set = true;
			break;
		case 'r':
			rejects = optarg;
			break;
		case OPT_READY_FD:
			ready_fd = cli_ready_fd(optarg);
			break;
		case OPT_STATS:
			stats = true;
			break;
		case OPT_NO_PROJECT:
			project = false;
			break;
		}
	}
	if (optind != argc)
		diag_die_usage("run: unexpected argument '%s'", argv[optind]);
	if (now_set && !r.event_clock)
		diag_die_usage("--now is for --clock event");
	if (r.event_clock && !now_set)
		r.clock = 0;
	r.rules_path = sched_rules_path(&common, rules);
	r.rs = sched_load_or_die(r.rules_path);
	cli_resolve_paths(&common, &p);
	if (asprintf(&dir, "%s/sched", p.home) == -1 ||
	    asprintf(&timers, "%s/timers.json", dir) == -1 ||
	    asprintf(&started, "%s/started.json", dir) == -1)
		diag_die(EX_OSERR, "out of memory");
	if (starry_mkdir_p(dir, 0700, &err) == -1)
		diag_die_err(&err);
	/* A replay by the events' clock keeps no state: its times are not
	 * now's, its agents not those running. */
	r.home = p.home;
	so.timers_file = r.event_clock ? NULL : timers;
	so.started_file = r.event_clock ? NULL : started;
	so.registry = run_registry;
	if ((r.spawn_sock = starry_path_join(p.runtime, "spawn.sock")) == NULL)
		diag_die(EX_OSERR, "out of memory");
	r.sigfd = cli_signalfd(&sigs, (const int[]){SIGTERM, SIGINT, SIGHUP,
	    SIGUSR1, 0});
	r.in_fd = open_input(&r, &p, events);
	if ((flags = fcntl(r.in_fd, F_GETFL)) == -1 ||
	    fcntl(r.in_fd, F_SETFL, flags | O_NONBLOCK) == -1)
		diag_die(EX_OSERR, "%s: %s", r.input_name, strerror(errno));
	r.reader = line_reader_new(r.in_fd, EVENT_MAX_LINE);
	if (r.reader == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (ingest_open(&r.ingest, "starry-sched", rejects, &err) == -1)
		diag_die_err(&err);
	r.ingest.accept_truncated = true;
	r.ingest.max_line = EVENT_MAX_LINE;
	outbuf_init(&r.out, STDOUT_FILENO);
	if (sched_open(&r.sched, &so, r.rs, run_now(&r), &err) == -1)
		diag_die_err(&err);
	/* By the wall clock only: a replay has no live agents to ask. */
	if (project && !r.event_clock) {
		int64_t every, timeout;

		rules_projection(r.rs, &every, &timeout);
		if ((r.proj = projection_new(every, timeout, event_now_ms())) == NULL)
			diag_die(EX_OSERR, "out of memory");
	}
	run_watch(&r);
	cli_signal_ready(&ready_fd);
	for (;;) {
		struct pollfd pfd[3] = {
			{.fd = r.sigfd, .events = POLLIN},
			{.fd = r.in_done ? -1 : r.in_fd, .events = POLLIN},
			{.fd = r.ino_fd, .events = POLLIN},
		};
		int64_t due = sched_next_due(r.sched), wait = -1;

		if (r.proj != NULL && !r.in_done &&
		    projection_next_due(r.proj) < due)
			due = projection_next_due(r.proj);

		run_flush(&r);
		if (r.in_done && (r.event_clock || rules_timer_count(r.rs) == 0)) {
			/* The end, once what debounce holds has fired. */
			if (sched_next_pending(r.sched) == SCHED_NEVER)
				break;
			if (r.event_clock) {
				int64_t held = sched_next_pending(r.sched);

				if (held == SCHED_NEVER)
					break;
				run_tick(&r, held);
				r.clock = held > r.clock ? held : r.clock;
				continue;
			}
		}
		if (!r.event_clock && due != SCHED_NEVER) {
			wait = due - event_now_ms();
			if (wait < 0)
				wait = 0;
			if (wait > 60000)
				wait = 60000;
		}
		if (r.reload_due > 0) {
			int64_t settle = r.reload_due - monotonic_ms();

			if (settle < 0)
				settle = 0;
			if (wait == -1 || settle < wait)
				wait = settle;
		}
		if (poll(pfd, 3, (int)wait) == -1) {
			if (errno == EINTR)
				continue;
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		}
		if ((pfd[0].revents & POLLIN) && run_signal(&r) == 0) {
			/* Stopping: what debounce holds fires, timers do not. */
			if (sched_flush(r.sched, run_now(&r), &err) == -1)
				diag_die_err(&err);
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			run_read(&r);
		if (pfd[2].revents & POLLIN)
			run_inotify(&r);
		if (r.reload_due > 0 && monotonic_ms() >= r.reload_due) {
			r.reload_due = 0;
			run_reload(&r, "the rules changed");
		}
		if (!r.event_clock) {
			run_tick(&r, event_now_ms());
			run_project(&r, event_now_ms());
		}
	}
	run_flush(&r);
	if (stats)
		run_stats(&r, "end");
	sched_close(r.sched);
	projection_free(r.proj);
	rules_free(r.rs);
	if (r.ino_fd >= 0)
		close(r.ino_fd);
	close(r.sigfd);
	line_reader_free(r.reader);
	ingest_close(&r.ingest);
	outbuf_free(&r.out);
	starry_paths_free(&p);
	free(timers);
	free(started);
	free(dir);
	free(r.spawn_sock);
	free((char *)r.rules_path);
	return r.status;
}
