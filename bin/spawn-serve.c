/* starry-spawn serve: the daemon (openstarryd, spec 07): the control
 * socket, SPAWN:REQUEST events from the hub and from stdin, the template
 * folder watched and cached, and with --boot the boot sequence of spec 13
 * (DESIGN section 5). The agents it starts are its children; on SIGTERM
 * it stops them, workers first and infrastructure last. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentdir.h"
#include "atomic.h"
#include "clock.h"
#include "dedup.h"
#include "event.h"
#include "hub.h"
#include "lines.h"
#include "proc.h"
#include "sink.h"
#include "sock.h"
#include "spawn.h"
#include "store.h"

static const char serve_usage[] =
"usage: starry-spawn serve [options]\n"
"\n"
"Run the daemon: answer control requests on $STARRY_RUNTIME/spawn.sock\n"
"(JSON lines; see starry-spawn(1)), start and stop agents for SPAWN:REQUEST\n"
"and SPAWN:STOP_REQUEST events from the hub (when it runs) and from stdin\n"
"(when it is not a terminal),\n"
"and keep the last valid version of each template in\n"
"$STARRY_HOME/templates.cache for degraded boot. The agents it starts\n"
"are stopped when it gets SIGTERM or SIGINT. SIGHUP re-reads starry.yaml.\n"
"\n"
"      --boot             first the boot sequence: infrastructure from\n"
"                         starry.yaml in order, each ready before the next;\n"
"                         the health check; every template validated and\n"
"                         cached; the master agent\n"
"      --ready-fd N       write a newline to fd N once serving (after boot)\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 after a clean stop, 75 when another daemon serves this\n"
"runtime folder, 69 or 73 when the socket cannot be made.\n";

#define SERVE_CONNS_MAX  64
#define SERVE_KIDS_MAX   4096
#define SERVE_HUB_RETRY_MS 1000
#define SERVE_SPARE_AFTER_MS SINK_RECORD_MS	/* a spare taken, the next */
#define SERVE_SPARE_RETRY_MS 1000	/* a spare's fork failed, again */

struct serve_conn {
	int fd;
	struct line_reader *lines;
};

struct serve_kid {
	pid_t supervisor;
	char id[72];
	bool infrastructure;
};

struct daemon {
	struct spawn_ctx c;
	int lock, listen, sig, watch, in, hub, ready;
	struct line_reader *in_lines, *hub_lines;
	struct serve_conn conns[SERVE_CONNS_MAX];
	unsigned nconns;
	struct serve_kid kids[SERVE_KIDS_MAX];
	unsigned nkids;
	struct sink *sink;
	struct dedup_window *seen;
	struct launch_spare spare;	/* the next agent's supervisor */
	int64_t spare_due;		/* monotonic: when to fork the next;
					   0: when one is wanted */
	int64_t hub_retry;
	char trace[EVENT_UUID_LEN + 1];
	bool stop;
};

static const struct option serve_options[] = {
	{"boot", no_argument, NULL, 'b'},
	{"ready-fd", required_argument, NULL, 'r'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* ---- events of the daemon's own ---- */

/* Send and record an event from starry-spawn; payload stolen. */
static void
daemon_event(struct daemon *d, const char *type, json_t *payload,
    const char *trace, const char *session, const char *parent)
{
	struct event_origin o = {
		.source = "starry-spawn", .trace_id = trace ? trace : d->trace,
		.session_id = session, .parent_id = parent, .priority = -1,
	};
	struct starry_err err;
	json_t *ev = event_create(type, payload, &o, &err);

	if (ev == NULL)
		diag_warn("cannot make a %s event: %s", type, err.msg);
	else if (sink_send_event(d->sink, ev, SINK_RECORD, &err) < 0 ||
	    sink_flush(d->sink, &err) < 0)
		diag_warn("cannot record a %s event: %s", type, err.msg);
	json_decref(ev);
}

static void
boot_step(struct daemon *d, const char *step, const char *status,
    const char *detail)
{
	diag_note("boot: %s: %s%s%s", step, status, detail ? ": " : "",
	    detail ? detail : "");
	daemon_event(d, "SPAWN:BOOT", json_pack("{s:s, s:s, s:s*}", "step", step,
	    "status", status, "detail", detail), NULL, NULL, NULL);
}

/* ---- agents we started ---- */

static void
remember_kid(struct daemon *d, const json_t *resp, bool infrastructure)
{
	const json_t *r = json_object_get(resp, "result");
	const char *id = json_string_value(json_object_get(r, "id"));
	json_int_t sup = json_integer_value(json_object_get(r, "supervisor"));

	if (!json_is_true(json_object_get(resp, "ok")) || id == NULL || sup <= 0 ||
	    d->nkids == SERVE_KIDS_MAX)
		return;
	d->kids[d->nkids].supervisor = (pid_t)sup;
	d->kids[d->nkids].infrastructure = infrastructure;
	snprintf(d->kids[d->nkids].id, sizeof d->kids[d->nkids].id, "%s", id);
	d->nkids++;
}

/* A request done by the daemon; spawns are remembered for shutdown. */
static json_t *
daemon_request(struct daemon *d, const json_t *req, bool infrastructure)
{
	json_t *resp;
	const char *m = json_string_value(json_object_get(req, "method"));
	const char *cause = json_string_value(json_object_get(req, "causeId"));

	/* A request made for an event (starry-sched does so when this
	 * daemon runs) stands for that event: the event itself, arriving
	 * later from the hub or stdin, is not acted on again. */
	if (cause != NULL)
		dedup_window_seen(d->seen, cause, strlen(cause), event_now_ms());
	resp = spawn_request_do(&d->c, req);

	if (m != NULL && (strcmp(m, "spawn") == 0 || strcmp(m, "restart") == 0))
		remember_kid(d, resp, infrastructure);
	return resp;
}

static void
reap_kids(struct daemon *d)
{
	unsigned j = 0;
	pid_t pid;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		if (pid == d->spare.pid) {
			/* It died waiting: another takes its place. */
			close(d->spare.request);
			close(d->spare.ready);
			d->spare.pid = 0;
		}
		for (unsigned i = 0; i < d->nkids; i++)
			if (d->kids[i].supervisor == pid)
				d->kids[i].supervisor = 0;
	}
	for (unsigned i = 0; i < d->nkids; i++)
		if (d->kids[i].supervisor != 0)
			d->kids[j++] = d->kids[i];
	d->nkids = j;
}

/* Stop the agents we started: workers and the master first, newest
 * first, then the infrastructure in reverse order of boot. */
static void
stop_kids(struct daemon *d)
{
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = d->nkids; i-- > 0;) {
			json_t *req, *resp;

			if (d->kids[i].infrastructure != (pass == 1) ||
			    !agentdir_supervised(d->c.paths.home, d->kids[i].id, NULL))
				continue;
			req = json_pack("{s:s, s:s}", "method", "stop", "id",
			    d->kids[i].id);
			resp = spawn_request_do(&d->c, req);
			if (!json_is_true(json_object_get(resp, "ok")))
				diag_warn("%s", json_string_value(json_object_get(
				    json_object_get(resp, "error"), "message")));
			json_decref(resp);
			json_decref(req);
		}
	reap_kids(d);
}

/* ---- SPAWN:REQUEST and SPAWN:STOP_REQUEST events ---- */

static void
spawn_event(struct daemon *d, const char *line, size_t len)
{
	struct event_view v;
	json_t *ev, *p, *req, *resp;
	const char *key;
	char buf[EVENT_ID_KEY_MAX];
	long klen;
	bool stop;

	if (event_scan_line(line, len, EVENT_LENIENT, &v, NULL) < 0)
		return;
	stop = event_str_equals(&v.type, "SPAWN:STOP_REQUEST");
	if (!stop && !event_str_equals(&v.type, "SPAWN:REQUEST"))
		return;
	/* The same request by two roads (the hub and stdin) runs once. */
	if ((klen = event_id_key(&v, &key, buf, sizeof buf)) < 0 ||
	    dedup_window_seen(d->seen, key, (size_t)klen, event_now_ms()))
		return;
	ev = json_loadb(line, len, 0, NULL);
	p = json_object_get(ev, "payload");
	req = json_is_object(p) ? json_deep_copy(p) : json_object();
	json_object_set_new(req, "method", json_string(stop ? "stop" : "spawn"));
	if (stop)	/* the daemon does not wait for the end */
		json_object_set_new(req, "wait", json_false());
	json_object_set(req, "traceId", json_object_get(ev, "traceId"));
	json_object_set(req, "sessionId", json_object_get(ev, "sessionId"));
	json_object_set(req, "causeId", json_object_get(ev, "id"));
	resp = daemon_request(d, req, false);
	if (!json_is_true(json_object_get(resp, "ok"))) {
		json_t *e = json_object_get(resp, "error");

		diag_warn("%s %s: %s", stop ? "SPAWN:STOP_REQUEST" : "SPAWN:REQUEST",
		    json_string_value(json_object_get(ev, "id")), json_string_value(json_object_get(e, "message")));
		daemon_event(d, "KERNEL:ERROR", json_pack("{s:O, s:O, s:s}", "code",
		    json_object_get(e, "code"), "message", json_object_get(e,
		    "message"), "source", "starry-spawn"), json_string_value(
		    json_object_get(ev, "traceId")), json_string_value(
		    json_object_get(ev, "sessionId")), json_string_value(
		    json_object_get(ev, "id")));
	}
	json_decref(resp);
	json_decref(req);
	json_decref(ev);
}

static void
read_events(struct daemon *d, int *fd, struct line_reader **r, bool hub)
{
	enum line_status st;
	const char *line;
	size_t len;
	long lineno;
	long n = line_reader_fill(*r);

	while ((st = line_reader_next(*r, &line, &len, &lineno)) == LINE_OK ||
	    st == LINE_TOO_LONG)
		if (st == LINE_OK && !(hub && lineno == 1))
			spawn_event(d, line, len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		line_reader_free(*r);
		*r = NULL;
		close(*fd);
		*fd = -1;
	}
}

/* Subscribe to SPAWN:REQUEST and SPAWN:STOP_REQUEST on the hub, when one
 * runs. */
static void
hub_subscribe(struct daemon *d)
{
	static const char *const types[] = {"SPAWN:REQUEST", "SPAWN:STOP_REQUEST"};
	size_t len;
	char *line;

	if (d->hub >= 0 || monotonic_ms() < d->hub_retry)
		return;
	d->hub_retry = monotonic_ms() + SERVE_HUB_RETRY_MS;
	if ((d->hub = hub_connect(d->c.paths.runtime, NULL)) < 0)
		return;
	line = hub_subscribe_line(types, 2, NULL, NULL, &len);
	if (line == NULL || write(d->hub, line, len) != (ssize_t)len) {
		close(d->hub);
		d->hub = -1;
	} else {
		fcntl(d->hub, F_SETFL, O_NONBLOCK);
		d->hub_lines = line_reader_new(d->hub, EVENT_MAX_LINE);
	}
	free(line);
}

/* ---- the control socket ---- */

static void
conn_close(struct daemon *d, unsigned i)
{
	close(d->conns[i].fd);
	line_reader_free(d->conns[i].lines);
	d->conns[i] = d->conns[--d->nconns];
}

/* Write an answer whole. The socket is made blocking for it, so its
 * send timeout bounds a client that reads nothing; false when the answer
 * could not be written (then the connection is closed). */
static bool
conn_answer(struct serve_conn *c, json_t *resp)
{
	char *text = json_dumps(resp, JSON_COMPACT);
	int flags = fcntl(c->fd, F_GETFL);
	bool ok = text != NULL && flags >= 0 &&
	    fcntl(c->fd, F_SETFL, flags & ~O_NONBLOCK) == 0 &&
	    (size_t)dprintf(c->fd, "%s\n", text) == strlen(text) + 1;

	if (!ok)
		diag_warn("a client did not take its answer");
	if (flags >= 0)
		fcntl(c->fd, F_SETFL, flags);
	free(text);
	json_decref(resp);
	return ok;
}

static json_t *
bad_request(const char *fmt, const char *detail)
{
	struct starry_err err = {.code = EX_USAGE};

	snprintf(err.msg, sizeof err.msg, fmt, detail);
	return spawn_error_response(&err);
}

/* Answer each whole request; false when the connection is done. */
static bool
conn_read(struct daemon *d, struct serve_conn *c)
{
	enum line_status st;
	json_error_t jerr;
	const char *line;
	size_t len;
	long lineno;
	long n = line_reader_fill(c->lines);
	json_t *req;

	if (n == 0)
		line_reader_finish(c->lines);
	while ((st = line_reader_next(c->lines, &line, &len, &lineno)) == LINE_OK ||
	    st == LINE_TOO_LONG || st == LINE_TRUNCATED) {
		bool ok;

		if (st == LINE_TOO_LONG) {
			if (!conn_answer(c, bad_request("request over %s bytes",
			    "1048576")))
				return false;
			continue;
		}
		req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
		if (req == NULL)
			ok = conn_answer(c, bad_request("malformed request: %s",
			    jerr.text));
		else
			ok = conn_answer(c, daemon_request(d, req, false));
		json_decref(req);
		if (!ok)
			return false;
	}
	return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR));
}

static void
conn_accept(struct daemon *d)
{
	struct timeval tv = {.tv_sec = 5};
	struct sock_peer peer;
	struct starry_err err;
	char why[256] = "";
	int fd;

	while ((fd = accept4(d->listen, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		why[0] = '\0';
		if (sock_peer(fd, &peer, &err) < 0)
			snprintf(why, sizeof why, "%.200s", err.msg);
		else if (sock_peer_admitted(&peer, why, sizeof why))
			why[0] = '\0';
		if (why[0] != '\0') {
			diag_warn("refused a client: %s", why);
			close(fd);
			continue;
		}
		if (d->nconns == SERVE_CONNS_MAX) {
			conn_answer(&(struct serve_conn){.fd = fd},
			    bad_request("%s", "too many clients"));
			close(fd);
			continue;
		}
		/* Answers are written blocking, but never forever. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		d->conns[d->nconns].fd = fd;
		d->conns[d->nconns].lines = line_reader_new(fd, SPAWN_REQUEST_MAX);
		fcntl(fd, F_SETFL, O_NONBLOCK);
		d->nconns++;
	}
}

/* ---- templates: validation and the cache ---- */

static int
cache_template(void *ctx, const char *name, const char *path)
{
	struct daemon *d = ctx;
	struct starry_err err;
	const struct template *t;
	char *cached;

	/* Kept in memory too: a spare forked after this has it loaded. */
	if (template_memo_load(d->c.memo, path, name, &d->c.tctx, &t,
	    &err) == 0) {
		if (template_cache_store(d->c.paths.home, t, &err) < 0)
			diag_warn("cannot cache template %s: %s", name, err.msg);
		return 0;
	}
	cached = template_cache_path(d->c.paths.home, name);
	diag_warn("%s%s", err.msg, cached && access(cached, R_OK) == 0 ?
	    "; its last valid version stays in force" : "");
	daemon_event(d, "KERNEL:ERROR", json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}",
	    "code", "ETEMPLATE", "severity", "warning", "source", "starry-spawn",
	    "message", err.msg, "template", name, "cached",
	    cached && access(cached, R_OK) == 0), NULL, NULL, NULL);
	free(cached);
	return 0;
}

static void
watch_templates(struct daemon *d)
{
	char *dir = starry_path_join(d->c.paths.config, "agents");

	d->watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->watch >= 0 && dir != NULL && inotify_add_watch(d->watch, dir,
	    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF) < 0)
		diag_note("not watching %s: %s", dir, strerror(errno));
	free(dir);
}

static void
read_watch(struct daemon *d)
{
	char buf[16384] __attribute__((aligned(8)));
	struct starry_err err;
	ssize_t n;

	while ((n = read(d->watch, buf, sizeof buf)) > 0)
		;
	/* Any change: re-check them all; there are few, and a rename
	 * touches two names. The spare has them as they were: it goes. */
	if (template_each(d->c.paths.config, cache_template, d, &err) < 0)
		diag_warn("%s", err.msg);
	launch_spare_drop(&d->spare);
}

/* ---- the boot sequence ---- */

static void
boot_infrastructure(struct daemon *d)
{
	struct settings *s = d->c.settings;
	struct starry_err err;
	char *dir, *path, *text, detail[1200];
	json_t *req, *resp;

	dir = starry_path_join(d->c.paths.home, "infrastructure");
	if (dir == NULL || starry_mkdir_p(dir, 0700, &err) < 0)
		diag_die(EX_CANTCREAT, "cannot make %s", dir ? dir : "a folder");
	for (size_t i = 0; i < s->ninfrastructure; i++) {
		const char *name = s->infrastructure[i].name;

		if (asprintf(&path, "%s/%s.json", dir, name) < 0 ||
		    (text = json_dumps(s->infrastructure[i].template,
		    JSON_INDENT(2))) == NULL)
			diag_die(EX_OSERR, "out of memory");
		if (atomic_write_file(path, text, strlen(text), 0600, &err) < 0)
			diag_die_err(&err);
		req = json_pack("{s:s, s:s, s:s, s:s}", "method", "spawn", "template",
		    path, "id", name, "traceId", d->trace);
		resp = daemon_request(d, req, true);
		if (json_is_true(json_object_get(resp, "ok"))) {
			snprintf(detail, sizeof detail, "%s ready (pid %lld)", name,
			    (long long)json_integer_value(json_object_get(
			    json_object_get(resp, "result"), "pid")));
			boot_step(d, "infrastructure", "ok", detail);
		} else {
			snprintf(detail, sizeof detail, "%s: %s", name,
			    json_string_value(json_object_get(json_object_get(resp,
			    "error"), "message")));
			boot_step(d, "infrastructure", "failed", detail);
		}
		json_decref(resp);
		json_decref(req);
		free(text);
		free(path);
	}
	free(dir);
}

struct health {
	struct daemon *d;
	json_t *ids;		/* interrupted agents found so far: id -> true */
};

static int
kill_leftover(void *ctx, pid_t pid)
{
	(void)ctx;
	if (pid != getpid())
		kill(pid, SIGKILL);
	return 0;
}

/* One interrupted agent: report it, clear away what is left of it (the
 * processes that carry its id and home in their environment, wherever
 * they went), and restart it if its policy says so. Its lock is held
 * meanwhile, so no supervisor starts under our feet. */
static void
health_recover(struct daemon *d, const char *id)
{
	struct starry_err err;
	json_t *st, *t, *req, *resp;
	char *frozen, *env_id = NULL, *env_home = NULL, msg[512];
	const char *restart, *trace;
	int lock;

	if (agentdir_lock(d->c.paths.home, id, &lock, &err) < 0)
		return;		/* a supervisor has it now */
	st = agentdir_status(d->c.paths.home, id, &err);
	trace = json_string_value(json_object_get(st, "trace"));
	frozen = agentdir_path(d->c.paths.home, id, AGENTDIR_TEMPLATE);
	t = frozen ? json_load_file(frozen, 0, NULL) : NULL;
	restart = json_string_value(json_object_get(json_object_get(t, "runtime"),
	    "restart"));
	snprintf(msg, sizeof msg, "agent %s was interrupted: its supervisor "
	    "ended without stopping it", id);
	diag_warn("%s", msg);
	daemon_event(d, "KERNEL:ERROR", json_pack("{s:s, s:s, s:s, s:s, s:I}",
	    "code", "EINTERRUPTED", "message", msg, "source", "starry-spawn",
	    "agentId", id, "pid", json_integer_value(json_object_get(st, "pid"))),
	    trace, NULL, NULL);
	if (asprintf(&env_id, "OPENSTARRY_AGENT_ID=%s", id) > 0 &&
	    asprintf(&env_home, "OPENSTARRY_HOME=%s", d->c.paths.home) > 0) {
		const char *const env[] = {env_id, env_home, NULL};

		proc_each_with_env(env, kill_leftover, NULL);
	}
	daemon_event(d, "KERNEL:STATE_CHANGE", json_pack("{s:s, s:s, s:s, s:s}",
	    "agentId", id, "from", "running", "to", "failed", "reason",
	    "interrupted"), trace, NULL, NULL);
	if (st != NULL) {
		json_object_set_new(st, "state", json_string("failed"));
		json_object_set_new(st, "reason", json_string("interrupted: its "
		    "supervisor ended without stopping it"));
		agentdir_write_status(d->c.paths.home, id, st, NULL);
	}
	close(lock);
	if (st != NULL && restart != NULL && strcmp(restart, "never") != 0 &&
	    (req = spawn_request_again(st, id)) != NULL) {
		resp = daemon_request(d, req, false);
		if (!json_is_true(json_object_get(resp, "ok")))
			diag_warn("cannot restart %s: %s", id, json_string_value(
			    json_object_get(json_object_get(resp, "error"), "message")));
		json_decref(resp);
		json_decref(req);
	}
	free(env_id);
	free(env_home);
	json_decref(t);
	json_decref(st);
	free(frozen);
}

static int
health_from_dir(void *ctx, const char *id)
{
	struct health *h = ctx;
	json_t *st = agentdir_status(h->d->c.paths.home, id, NULL);

	if (agentdir_state_is_live(json_string_value(json_object_get(st, "state"))) &&
	    !agentdir_supervised(h->d->c.paths.home, id, NULL))
		json_object_set_new(h->ids, id, json_true());
	json_decref(st);
	return 0;
}

static int
health_from_registry(void *ctx, const struct store_agent *a)
{
	struct health *h = ctx;
	json_t *st;
	bool ended;

	if (!store_agent_state_is_live(a->state) || a->exited_ms != 0 ||
	    !template_id_valid(a->id) ||
	    agentdir_supervised(h->d->c.paths.home, a->id, NULL) ||
	    proc_is(a->pid, a->started_ms))
		return 0;
	/* The registry may have missed the end (a store too busy at the
	 * moment); the agent's own status knows better. */
	st = agentdir_status(h->d->c.paths.home, a->id, NULL);
	ended = st != NULL && !agentdir_state_is_live(json_string_value(
	    json_object_get(st, "state")));
	json_decref(st);
	if (!ended)
		json_object_set_new(h->ids, a->id, json_true());
	return 0;
}

static void
boot_health(struct daemon *d)
{
	struct health h = {.d = d, .ids = json_object()};
	char *db = starry_path_join(d->c.paths.home, STORE_FILE), detail[64];
	struct starry_err err;
	struct store *st = NULL;
	const char *id;
	json_t *v;

	agentdir_each(d->c.paths.home, health_from_dir, &h, NULL);
	if (db != NULL && access(db, F_OK) == 0 &&
	    store_open(&st, db, 0, &err) == 0)
		store_agent_list(st, health_from_registry, &h, NULL);
	store_close(st);
	free(db);
	json_object_foreach(h.ids, id, v)
		health_recover(d, id);
	snprintf(detail, sizeof detail, "%zu interrupted", json_object_size(h.ids));
	boot_step(d, "health", "ok", detail);
	json_decref(h.ids);
}

static void
boot_master(struct daemon *d)
{
	struct settings *s = d->c.settings;
	json_t *req, *resp;
	char detail[1200];

	if (s->master_template == NULL) {
		boot_step(d, "master", "skipped", "starry.yaml names no master");
		return;
	}
	req = json_pack("{s:s, s:s, s:s*, s:s, s:b}", "method", "spawn",
	    "template", s->master_template, "id", s->master_id, "traceId",
	    d->trace, "restore", 1);
	resp = daemon_request(d, req, false);
	if (json_is_true(json_object_get(resp, "ok")))
		snprintf(detail, sizeof detail, "%s (pid %lld)", json_string_value(
		    json_object_get(json_object_get(resp, "result"), "id")),
		    (long long)json_integer_value(json_object_get(json_object_get(
		    resp, "result"), "pid")));
	else
		snprintf(detail, sizeof detail, "%s", json_string_value(
		    json_object_get(json_object_get(resp, "error"), "message")));
	boot_step(d, "master", json_is_true(json_object_get(resp, "ok")) ? "ok" :
	    "failed", detail);
	json_decref(resp);
	json_decref(req);
}

static void
boot(struct daemon *d)
{
	struct starry_err err;

	boot_step(d, "start", "ok", d->c.settings->file);
	boot_infrastructure(d);
	boot_health(d);
	if (template_each(d->c.paths.config, cache_template, d, &err) < 0)
		diag_warn("%s", err.msg);
	boot_step(d, "templates", "ok", NULL);
	boot_master(d);
}

/* ---- set-up and the loop ---- */

static void
daemon_open(struct daemon *d)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, 0};
	struct starry_err err;
	sigset_t set;
	char *path;
	json_t *t;

	spawn_ctx_open(&d->c);
	spawn_ctx_settings(&d->c);
	d->c.local = true;
	d->c.degraded_ok = true;
	d->c.spare = &d->spare;
	if ((d->c.memo = template_memo_new()) == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (starry_mkdir_p(d->c.paths.runtime, 0700, &err) < 0 ||
	    starry_mkdir_p(d->c.paths.home, 0700, &err) < 0)
		diag_die_err(&err);
	path = starry_path_join(d->c.paths.runtime, SPAWN_LOCK_NAME);
	d->lock = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (d->lock < 0)
		diag_die(EX_CANTCREAT, "cannot open %s: %s", path, strerror(errno));
	free(path);
	if (flock(d->lock, LOCK_EX | LOCK_NB) < 0)
		diag_die(EX_TEMPFAIL, "another daemon serves %s", d->c.paths.runtime);
	path = starry_path_join(d->c.paths.runtime, SPAWN_SOCK_NAME);
	if ((d->listen = sock_listen(path, &err)) < 0)
		diag_die_err(&err);
	free(path);
	d->sig = cli_signalfd(&set, signals);
	d->sink = sink_new(d->c.paths.home, d->c.paths.runtime);
	d->seen = dedup_window_new(4096, 10 * 60 * 1000);
	t = event_create("SPAWN:BOOT", NULL, NULL, NULL);
	if (d->sink == NULL || d->seen == NULL || t == NULL)
		diag_die(EX_OSERR, "out of memory");
	snprintf(d->trace, sizeof d->trace, "%s",
	    json_string_value(json_object_get(t, "traceId")));
	json_decref(t);
	d->hub = -1;
	/* Events on stdin when it is a pipe or a file: the end of
	 * `starry-sched run | starry-spawn serve`. */
	d->in = isatty(0) ? -1 : 0;
	if (d->in >= 0) {
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		d->in_lines = line_reader_new(0, EVENT_MAX_LINE);
	}
	watch_templates(d);
}

/* Keep a supervisor forked ahead of the next spawn request; but not at
 * once after one is taken: its agent is starting, and a fork (the page
 * tables of the daemon copied, then the spare's first writes) would
 * compete with that start. A request before then is served by a fork.
 * Returns the ms until the next is due, or -1. */
static int
spare_ready(struct daemon *d)
{
	struct launch_request base;
	struct starry_err err;
	int64_t now;

	if (d->spare.pid > 0)
		return -1;
	now = monotonic_ms();
	if (d->spare_due == 0)
		d->spare_due = now + SERVE_SPARE_AFTER_MS;
	if (now < d->spare_due)
		return (int)(d->spare_due - now);
	spawn_launch_base(&d->c, &base);
	if (launch_spare_fork(&base, &d->spare, &err) < 0) {
		diag_warn("no spare supervisor: %s", err.msg);
		d->spare_due = now + SERVE_SPARE_RETRY_MS;
		return SERVE_SPARE_RETRY_MS;
	}
	d->spare_due = 0;
	return -1;
}

static void
reload_settings(struct daemon *d)
{
	struct settings *s;
	struct starry_err err;

	if (settings_load(d->c.paths.config, &s, &err) < 0) {
		diag_warn("%s; the settings in force stay", err.msg);
		return;
	}
	/* The spare holds the old settings: it goes. */
	launch_spare_drop(&d->spare);
	settings_free(d->c.settings);
	d->c.settings = s;
	d->c.tctx.agent_runner = (const char *const *)s->agent_runner;
	/* A manifest loads differently under another agent_runner. */
	template_memo_clear(d->c.memo);
	if (template_each(d->c.paths.config, cache_template, d, &err) < 0)
		diag_warn("%s", err.msg);
	diag_note("re-read %s", s->file ? s->file : "the default settings");
}

static void
read_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			d->stop = true;
		else if (si.ssi_signo == SIGHUP)
			reload_settings(d);
		else if (si.ssi_signo == SIGCHLD)
			reap_kids(d);
	}
}

enum { P_SIG, P_LISTEN, P_WATCH, P_IN, P_HUB, P_CONNS };

static void
serve_loop(struct daemon *d)
{
	struct pollfd p[P_CONNS + SERVE_CONNS_MAX];

	while (!d->stop) {
		int wait = spare_ready(d);
		unsigned n;

		hub_subscribe(d);
		if (d->hub < 0 && (wait < 0 || wait > SERVE_HUB_RETRY_MS))
			wait = SERVE_HUB_RETRY_MS;
		p[P_SIG] = (struct pollfd){.fd = d->sig, .events = POLLIN};
		p[P_LISTEN] = (struct pollfd){.fd = d->listen, .events = POLLIN};
		p[P_WATCH] = (struct pollfd){.fd = d->watch, .events = POLLIN};
		p[P_IN] = (struct pollfd){.fd = d->in, .events = POLLIN};
		p[P_HUB] = (struct pollfd){.fd = d->hub, .events = POLLIN};
		for (n = 0; n < d->nconns; n++)
			p[P_CONNS + n] = (struct pollfd){.fd = d->conns[n].fd,
			    .events = POLLIN};
		if (poll(p, P_CONNS + n, wait) < 0 &&
		    errno != EINTR)
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		/* Connections first, newest last: closing one moves the last
		 * into its slot, and the slots polled are the first n. */
		for (unsigned i = n; i-- > 0;)
			if (p[P_CONNS + i].revents && !conn_read(d, &d->conns[i]))
				conn_close(d, i);
		if (p[P_LISTEN].revents)
			conn_accept(d);
		if (p[P_IN].revents)
			read_events(d, &d->in, &d->in_lines, false);
		if (p[P_HUB].revents)
			read_events(d, &d->hub, &d->hub_lines, true);
		if (p[P_WATCH].revents)
			read_watch(d);
		if (p[P_SIG].revents)
			read_signals(d);
	}
}

int
spawn_serve_main(int argc, char **argv)
{
	struct daemon d = {.lock = -1, .listen = -1, .sig = -1, .watch = -1,
	    .in = -1, .hub = -1, .ready = -1};
	bool booting = false;
	char *path;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", serve_options, NULL)) != -1) {
		if (cli_common_option(&d.c.common, opt, serve_usage))
			continue;
		if (opt == 'b')
			booting = true;
		else if (opt == 'r')
			d.ready = cli_ready_fd(optarg);
	}
	if (optind != argc)
		diag_die_usage("serve: unexpected '%s'", argv[optind]);
	daemon_open(&d);
	if (booting)
		boot(&d);
	else if (template_each(d.c.paths.config, cache_template, &d, NULL) < 0)
		diag_warn("cannot read the templates");
	boot_step(&d, "ready", "ok", NULL);
	cli_signal_ready(&d.ready);
	d.spare_due = monotonic_ms();	/* the first spare at once */
	serve_loop(&d);
	diag_note("stopping: %u agents to stop", d.nkids);
	launch_spare_drop(&d.spare);
	stop_kids(&d);
	for (unsigned i = d.nconns; i-- > 0;)
		conn_close(&d, i);
	path = starry_path_join(d.c.paths.runtime, SPAWN_SOCK_NAME);
	if (path != NULL)
		unlink(path);
	free(path);
	close(d.listen);
	line_reader_free(d.in_lines);
	line_reader_free(d.hub_lines);
	if (d.hub >= 0)
		close(d.hub);
	if (d.watch >= 0)
		close(d.watch);
	sink_free(d.sink);
	dedup_window_free(d.seen);
	spawn_ctx_close(&d.c);
	close(d.lock);
	return 0;
}
