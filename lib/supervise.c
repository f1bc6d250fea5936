/* The supervisor of one agent: see supervise.h. One process, one agent,
 * one poll loop. What happens is decided by the table sv_actions[state]
 * [event]; the loop only turns fds, signals and deadlines into events.
 * The struct supervisor and everything in it are owned here. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agentdir.h"
#include "atomic.h"
#include "clock.h"
#include "driver.h"
#include "event.h"
#include "hub.h"
#include "lines.h"
#include "outbuf.h"
#include "paths.h"
#include "proc.h"
#include "safety.h"
#include "sink.h"
#include "store.h"
#include "supervise.h"

#define SV_KILL_GRACE_MS   5000		/* after SIGKILL, before complaining */
#define SV_STATUS_EVERY_MS 1000		/* token counts written at most so */
#define SV_STDIN_MAX       (4u << 20)	/* events waiting for the agent */
#define SV_TOOL_OUT_MAX    (1u << 20)	/* a tool helper's answer */
#define SV_TOOLS_MAX       16		/* tool calls served at once */
#define SV_FOREIGN_MAX     64		/* their supervisors, handed to us */
#define SV_FAILURES_MAX    64		/* failure times remembered: the
					   most holddown.failures can be */
#define SV_READY_TIMEOUT_MS 30000	/* from start to ready-fd */
#define SV_SETTLE_MS SINK_RECORD_MS	/* from a start to supervise_shed_memory */
#define SV_LOADER_MS       2		/* after the agent's exec: its loader's
					   time to itself (sv_let_it_load) */

enum sv_state {
	SV_STARTING,		/* started; waiting for its ready-fd */
	SV_RUNNING,
	SV_BACKOFF,		/* failed; restarting when the delay ends */
	SV_HOLDDOWN,		/* failed too often; restarting much later */
	SV_STOPPING,		/* signalled; waiting for every process */
	SV_DONE,
	SV_NSTATES
};

enum sv_event {
	EV_READY,		/* the agent wrote to its ready-fd */
	EV_GONE,		/* the agent and all its processes are gone */
	EV_TIMER,		/* the state's deadline passed */
	EV_STOP,		/* stop for good (control, SIGTERM, a limit) */
	EV_RESTART,		/* stop, then start again at once */
	EV_NEVENTS
};

static const char *const sv_state_names[SV_NSTATES] = {
	"starting", "running", "backoff", "holddown", "stopping", "done",
};

/* A call to the AgentManagerTool being answered by a helper process. */
struct sv_tool {
	pid_t pid;
	int fd;				/* its stdout */
	char *out;
	size_t len;
	char call_id[EVENT_MAX_FIELD * 4 + 1];	/* the EXEC:TOOL_CALL event */
	char tool_call_id[EVENT_MAX_FIELD * 4 + 1];
	char trace[EVENT_MAX_FIELD * 4 + 1];
	char session[1024];
};

struct supervisor {
	const struct supervise_options *o;
	enum sv_state state;
	char **argv, **envp;		/* of the agent's process */
	char *dir;			/* the agent's folder */
	char *frozen;			/* its template.json */

	pid_t pid;			/* the agent's process (0: none) */
	pid_t pgid;			/* its process group (0: none) */
	int in, out, err, notify;	/* its stdin, stdout, stderr, ready */
	struct line_reader *out_lines;
	struct outbuf to_agent;
	int status;			/* its last wait status (-1: none) */
	int64_t started_ms, started_mono;

	int sigfd, ctl;
	struct line_reader *ctl_lines;
	int64_t deadline;		/* monotonic; 0: none */
	bool stopping_for_good, restart_now, killed;
	bool announced;			/* ready_fd has been told */
	bool recheck;			/* look at the agent's tree again now */
	char reason[512];		/* why it stopped or failed */
	char final[16];			/* stopped, exited, failed */

	unsigned restarts, streak;	/* starts after the first; failures
					   in a row */
	int64_t failures[SV_FAILURES_MAX];	/* wall times, a ring */
	unsigned nfailures;
	int64_t holddown_until;		/* wall ms; 0: none */

	char trace[EVENT_MAX_FIELD * 4 + 1];
	char session[1024];
	char cause[EVENT_MAX_FIELD * 4 + 1];
	char spawned[EVENT_UUID_LEN + 1];	/* this run's AGENT:SPAWNED */

	struct sink *sink;
	int log;			/* the stderr log */
	uint64_t log_size;
	bool log_mid_line;		/* its last byte is not a newline */

	int64_t since_ms;		/* when the state began (wall) */
	int64_t next_snapshot;		/* monotonic; 0: none due */
	int64_t tokens;
	bool status_dirty;
	int64_t status_due;
	int64_t shed_due;		/* monotonic; 0: shed or not to */

	struct safety safety;
	struct sv_tool tools[SV_TOOLS_MAX];
	unsigned ntools;
	pid_t foreign[SV_FOREIGN_MAX];	/* other agents' supervisors that
					   our helpers started */
	unsigned nforeign;
};

typedef void sv_action(struct supervisor *sv);

/* ---- small things ---- */

/* ---- the log: the agent's stderr and the supervisor's notes ---- */

static int
sv_open_log(struct supervisor *sv)
{
	char *path = agentdir_path(sv->o->home, sv->o->id, AGENTDIR_LOG);
	struct stat st;

	if (path == NULL)
		return -1;
	sv->log = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (sv->log < 0)
		return -1;
	sv->log_size = fstat(sv->log, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* log -> log.1 -> ... -> log.KEEP (dropped). */
static void
sv_rotate_log(struct supervisor *sv)
{
	char *base = agentdir_path(sv->o->home, sv->o->id, AGENTDIR_LOG);
	char from[4096], to[4096];

	if (base == NULL)
		return;
	if (sv->o->log_keep == 0) {
		if (ftruncate(sv->log, 0) == 0)
			sv->log_size = 0;
		free(base);
		return;
	}
	for (unsigned i = sv->o->log_keep; i > 1; i--) {
		snprintf(from, sizeof from, "%s.%u", base, i - 1);
		snprintf(to, sizeof to, "%s.%u", base, i);
		rename(from, to);
	}
	snprintf(to, sizeof to, "%s.1", base);
	rename(base, to);
	free(base);
	close(sv->log);
	if (sv_open_log(sv) < 0)
		sv->log = -1;
}

/* Append to the log, rotating at logs.max between whole lines: a file
 * ends at the last newline that fits, or at the end of the line that
 * crossed max. */
static void
sv_log_bytes(struct supervisor *sv, const char *p, size_t n)
{
	uint64_t max = sv->o->log_max;

	while (n > 0 && sv->log >= 0) {
		size_t take = n, room;
		const char *nl;
		ssize_t w;

		if (max > 0 && sv->log_size + n > max) {
			room = sv->log_size < max ? (size_t)(max - sv->log_size) : 0;
			nl = room > 0 ? memrchr(p, '\n', room < n ? room : n) : NULL;
			/* Past max only to end a line: one longer than max
			 * alone, or one this file has begun (a read can
			 * stop in the middle of a line). */
			if (nl == NULL && (sv->log_size == 0 || sv->log_mid_line))
				nl = memchr(p, '\n', n);
			if (nl != NULL) {
				take = (size_t)(nl - p) + 1;
			} else if (sv->log_size > 0 && !sv->log_mid_line) {
				sv_rotate_log(sv);
				continue;
			}
		}
		w = write(sv->log, p, take);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		sv->log_size += (uint64_t)w;
		sv->log_mid_line = p[w - 1] != '\n';
		p += w;
		n -= (size_t)w;
	}
}

static void
sv_log(struct supervisor *sv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
sv_log(struct supervisor *sv, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	n = snprintf(line, sizeof line, "starry-spawn: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* A note never lands inside a line the agent has not finished. */
	if (sv->log_mid_line)
		sv_log_bytes(sv, "\n", 1);
	sv_log_bytes(sv, line, (size_t)n);
}

static int64_t
sv_now_ms(void)
{
	return event_now_ms();
}

/* A lifecycle event from the supervisor about its agent (recorded in the
 * store whether or not the hub takes it); payload stolen. */
static void
sv_emit(struct supervisor *sv, const char *type, json_t *payload,
    const char *parent)
{
	struct event_origin o = {
		.source = sv->o->id, .session_id = sv->session,
		.trace_id = sv->trace, .parent_id = parent, .priority = -1,
	};
	struct starry_err err;
	json_t *ev = event_create(type, payload, &o, &err);

	if (ev == NULL)
		sv_log(sv, "cannot make a %s event: %s", type, err.msg);
	else if (sink_send_event(sv->sink, ev, SINK_RECORD, &err) < 0)
		sv_log(sv, "cannot send a %s event: %s", type, err.msg);
	json_decref(ev);
}

static void
sv_flush_events(struct supervisor *sv)
{
	struct starry_err err;

	if (sink_flush(sv->sink, &err) < 0)
		sv_log(sv, "cannot record events: %s", err.msg);
}

static const char *
sv_public_state(const struct supervisor *sv)
{
	return sv->state == SV_DONE ? sv->final : sv_state_names[sv->state];
}

static json_t *
sv_last_exit(const struct supervisor *sv)
{
	if (sv->status < 0)
		return json_null();
	if (WIFSIGNALED(sv->status)) {
		const char *name = template_signal_name(WTERMSIG(sv->status));

		return name ? json_pack("{s:s}", "signal", name) :
		    json_pack("{s:i}", "signal", WTERMSIG(sv->status));
	}
	return json_pack("{s:i}", "code", WEXITSTATUS(sv->status));
}

static void
sv_write_status(struct supervisor *sv)
{
	const struct template *t = sv->o->template;
	struct starry_err err;
	json_t *doc;

	doc = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:o,"
	    " s:I, s:I, s:s, s:s}",
	    "id", sv->o->id, "template", t->name,
	    "driver", template_driver_name(t->driver),
	    "pid", (json_int_t)sv->pid, "supervisor", (json_int_t)getpid(),
	    "state", sv_public_state(sv), "since", (json_int_t)sv->since_ms,
	    "started", (json_int_t)sv->started_ms,
	    "restarts", (json_int_t)sv->restarts, "lastExit", sv_last_exit(sv),
	    "tokens", (json_int_t)sv->tokens,
	    "holddownUntil", (json_int_t)sv->holddown_until,
	    "reason", sv->reason, "trace", sv->trace);
	if (doc != NULL && t->limit_tokens > 0)
		json_object_set_new(doc, "tokenLimit", json_integer(t->limit_tokens));
	/* What the agent was started with, so that a restart can repeat it. */
	if (doc != NULL) {
		json_t *args = json_array(), *env = json_object();

		for (size_t i = 0; i < sv->o->nargs; i++)
			json_array_append_new(args, json_string(sv->o->args[i]));
		for (size_t i = 0; i < sv->o->nenv; i++) {
			const char *eq = strchr(sv->o->env[i], '=');
			char *k = eq ? strndup(sv->o->env[i],
			    (size_t)(eq - sv->o->env[i])) : NULL;

			if (k != NULL)
				json_object_set_new(env, k, json_string(eq + 1));
			free(k);
		}
		json_object_set_new(doc, "args", args);
		json_object_set_new(doc, "env", env);
		json_object_set_new(doc, "session", json_string(sv->session));
		/* The event that asked for the agent: whoever asked can
		 * tell its agents from the registry. */
		if (sv->cause[0] != '\0')
			json_object_set_new(doc, "cause", json_string(sv->cause));
		if (sv->o->template_source != NULL)
			json_object_set_new(doc, "templateSource",
			    json_string(sv->o->template_source));
	}
	if (doc == NULL || agentdir_write_status(sv->o->home, sv->o->id, doc,
	    &err) < 0)
		sv_log(sv, "cannot write status: %s", doc ? err.msg :
		    "out of memory");
	json_decref(doc);
	sv->status_dirty = false;
	sv->status_due = 0;
}

/* The first time the agent runs (and is ready, when its template has a
 * ready-fd), the one who started the supervisor hears its pid. */
static void
sv_announce(struct supervisor *sv)
{
	char line[32];
	int n;

	if (sv->announced)
		return;
	sv->announced = true;
	if (sv->o->ready_fd < 0)
		return;
	n = snprintf(line, sizeof line, "%ld\n", (long)sv->pid);
	if (write(sv->o->ready_fd, line, (size_t)n) != n)
		sv_log(sv, "cannot signal readiness: %s", strerror(errno));
}

/* Enter state s: status.json and a KERNEL:STATE_CHANGE event. */
static void
sv_enter(struct supervisor *sv, enum sv_state s)
{
	const char *from = sv_public_state(sv);
	char from_buf[16];

	snprintf(from_buf, sizeof from_buf, "%s", from);
	sv->state = s;
	sv->since_ms = sv_now_ms();
	if (s == SV_RUNNING)
		sv_announce(sv);
	sv_emit(sv, "KERNEL:STATE_CHANGE", json_pack("{s:s, s:s, s:s, s:s}",
	    "agentId", sv->o->id, "from", from_buf, "to", sv_public_state(sv),
	    "reason", sv->reason), sv->spawned[0] ? sv->spawned : sv->cause);
	sv_write_status(sv);
}

/* ---- the agent's processes ---- */

/* Our children that are not tool helpers: the agent and whatever of its
 * tree was handed to us (we are a subreaper). */
struct sv_signal_ctx {
	struct supervisor *sv;
	int sig;
	unsigned seen;
};

/* Whether a child of ours is not of the agent's tree: a tool helper, or
 * the supervisor of a worker one of them started. */
static bool
sv_is_tool(const struct supervisor *sv, pid_t pid)
{
	for (unsigned i = 0; i < sv->ntools; i++)
		if (sv->tools[i].pid == pid)
			return true;
	for (unsigned i = 0; i < sv->nforeign; i++)
		if (sv->foreign[i] == pid)
			return true;
	return false;
}

static int
sv_signal_child(void *ctx, pid_t pid)
{
	struct sv_signal_ctx *c = ctx;

	if (sv_is_tool(c->sv, pid))
		return 0;
	c->seen++;
	/* The leader had its signal with its group (or, as a wrapper,
	 * is spared it). */
	if (c->sig != 0 && pid != c->sv->pid)
		kill(pid, c->sig);
	return 0;
}

static int
sv_first_child(void *ctx, pid_t pid)
{
	*(pid_t *)ctx = pid;
	return 1;
}

struct sv_group_ctx {
	pid_t skip[4];
	unsigned nskip;
	int sig;
};

static int
sv_signal_member(void *ctx, pid_t pid)
{
	struct sv_group_ctx *g = ctx;

	for (unsigned i = 0; i < g->nskip; i++)
		if (g->skip[i] == pid)
			return 0;
	kill(pid, g->sig);
	return 0;
}

/* sig to the agent's process group. A driver's wrappers (bwrap) are
 * passed over, except by SIGKILL: the agent gets the signal, and they
 * end when it does. */
static void
sv_signal_group(struct supervisor *sv, int sig)
{
	struct sv_group_ctx g = {.sig = sig};
	unsigned wrappers = driver_wrappers(sv->o->template->driver);
	pid_t p = sv->pid;

	if (sv->pgid <= 0)
		return;
	if (sig == SIGKILL || wrappers == 0 || p <= 0) {
		kill(-sv->pgid, sig);
		return;
	}
	while (g.nskip < wrappers && g.nskip < 4 && p > 0) {
		g.skip[g.nskip++] = p;
		p = 0;
		proc_each_child(g.skip[g.nskip - 1], sv_first_child, &p);
	}
	proc_each_in_group(sv->pgid, sv_signal_member, &g);
}

/* Send sig to the agent's process group and to every process of its tree
 * that became our child; returns how many such processes remain (0 with
 * sig 0: the agent is wholly gone). */
static unsigned
sv_signal_all(struct supervisor *sv, int sig)
{
	struct sv_signal_ctx c = {.sv = sv, .sig = sig};

	if (sig != 0)
		sv_signal_group(sv, sig);
	proc_each_child(getpid(), sv_signal_child, &c);
	return c.seen;
}

static void
sv_close_agent_fds(struct supervisor *sv)
{
	int *fds[] = {&sv->in, &sv->out, &sv->err, &sv->notify};

	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	line_reader_free(sv->out_lines);
	sv->out_lines = NULL;
	outbuf_free(&sv->to_agent);
	outbuf_init(&sv->to_agent, -1);
}

/* The agent's last snapshot, handed over as STARRY_SNAPSHOT (spec 13,
 * phase 3: restore memory). */
struct sv_snapshot_ctx {
	struct supervisor *sv;
	bool written;
};

static int
sv_snapshot_write(void *ctx, const struct store_snapshot *s)
{
	struct sv_snapshot_ctx *c = ctx;
	char *path = agentdir_path(c->sv->o->home, c->sv->o->id,
	    AGENTDIR_SNAPSHOT);
	struct starry_err err;

	if (path != NULL && atomic_replace_file(path, s->data, s->len, 0600,
	    ATOMIC_NO_SYNC, &err) == 0)
		c->written = true;
	free(path);
	return 0;
}

static char *
sv_load_snapshot(struct supervisor *sv)
{
	struct sv_snapshot_ctx c = {.sv = sv};
	char *db = starry_path_join(sv->o->home, STORE_FILE);
	struct starry_err err;
	struct store *st = NULL;

	if (db != NULL && access(db, F_OK) == 0 &&
	    store_open(&st, db, 0, &err) == 0)
		store_snapshot_load(st, sv->o->id, 0, sv_snapshot_write, &c, &err);
	store_close(st);
	free(db);
	return c.written ? agentdir_path(sv->o->home, sv->o->id,
	    AGENTDIR_SNAPSHOT) : NULL;
}

/* Append a malloc'd "NAME=VALUE" (taken, even on failure). */
static int
env_push(char ***envp, size_t *n, char *entry)
{
	char **grown;

	if (entry == NULL || (grown = realloc(*envp, (*n + 2) *
	    sizeof **envp)) == NULL) {
		free(entry);
		return -1;
	}
	*envp = grown;
	(*envp)[(*n)++] = entry;
	(*envp)[*n] = NULL;
	return 0;
}

/* Whether env (n entries) sets the variable entry sets. */
static bool
env_has(char *const *env, size_t n, const char *entry)
{
	size_t k = strcspn(entry, "=");

	for (size_t i = 0; i < n; i++)
		if (strncmp(env[i], entry, k) == 0 && env[i][k] == '=')
			return true;
	return false;
}

/* The agent's environment: ours, then DESIGN section 3's, then the
 * template's env, then the request's; a later one wins. */
static char **
sv_build_env(struct supervisor *sv, const char *snapshot)
{
	const struct template *t = sv->o->template;
	extern char **environ;
	char *plugins = driver_plugin_path(t);
	char *bus = starry_path_join(sv->o->runtime, HUB_FIFO_NAME);
	const char *ours[][2] = {
		{"OPENSTARRY_AGENT_ID", sv->o->id},
		{"OPENSTARRY_HOME", sv->o->home},
		{"STARRY_HOME", sv->o->home},
		{"STARRY_RUNTIME", sv->o->runtime},
		{"STARRY_CONFIG", sv->o->config},
		{"STARRY_AGENT_DIR", sv->dir},
		{"STARRY_BUS", bus},
		{"STARRY_PLUGIN_PATH", plugins},
		{"STARRY_TRACE_ID", sv->trace},
		{"STARRY_SESSION_ID", sv->session},
		{"STARRY_CAUSE_ID", sv->spawned},
		{"STARRY_SNAPSHOT", snapshot},
	};
	char **set = NULL, **envp = NULL, *e;
	size_t nset = 0, n = 0, i;
	bool ok = plugins != NULL && bus != NULL;

	for (i = 0; ok && i < sizeof ours / sizeof *ours; i++)
		if (ours[i][1] != NULL)
			ok = env_push(&set, &nset, asprintf(&e, "%s=%s", ours[i][0],
			    ours[i][1]) < 0 ? NULL : e) == 0;
	for (i = 0; ok && i < t->nenv; i++)
		ok = env_push(&set, &nset, strdup(t->env[i])) == 0;
	for (i = 0; ok && i < sv->o->nenv; i++)
		ok = env_push(&set, &nset, strdup(sv->o->env[i])) == 0;
	/* Ours first, but not what is set above, nor a stale snapshot. */
	for (char **p = environ; ok && *p != NULL; p++)
		if (!env_has(set, nset, *p) && strncmp(*p, "STARRY_SNAPSHOT=", 16))
			ok = env_push(&envp, &n, strdup(*p)) == 0;
	/* Of two settings of one variable the later wins. */
	for (i = 0; ok && i < nset; i++)
		if (!env_has(set + i + 1, nset - i - 1, set[i]))
			ok = env_push(&envp, &n, strdup(set[i])) == 0;
	template_argv_free(set);
	free(plugins);
	free(bus);
	if (!ok) {
		template_argv_free(envp);
		return NULL;
	}
	return envp;
}

/* In a child about to exec: no signal blocked or ignored. An exec sets
 * caught signals back to their defaults by itself, and the supervisor
 * ignores only SIGPIPE (sv_signals): two calls, not one per signal, in
 * the way of the agent's start. */
static void
sv_child_signals(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: move fd above the fds an agent may be given (ready-fd is
 * at most 255), so that no dup2 below lands on another of ours. */
static int
sv_fd_high(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 256);
}

/* In the vfork'd child: become the agent. Never returns; writes no memory
 * of the supervisor's (its own stack frames are below ours). */
static noreturn void
sv_exec_agent(struct supervisor *sv, pid_t supervisor, int in, int out,
    int err, int notify, int report)
{
	const struct template *t = sv->o->template;
	struct starry_err e;
	int code;

	sv_child_signals();
	if ((report = sv_fd_high(report)) < 0)
		_exit(127);
	if ((in = sv_fd_high(in)) < 0 || (out = sv_fd_high(out)) < 0 ||
	    (err = sv_fd_high(err)) < 0 || (notify >= 0 &&
	    (notify = sv_fd_high(notify)) < 0))
		goto fail;
	if (setsid() < 0)
		goto fail;
	/* The agent does not outlive its supervisor unnoticed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != supervisor)
		_exit(127);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (notify >= 0 && t->ready_fd >= 0 && dup2(notify, t->ready_fd) < 0)
		goto fail;
	if (chdir(sv->dir) < 0)
		goto fail;
	if (driver_apply_limits(t, &e) < 0)
		goto fail;
	execvpe(sv->argv[0], sv->argv, sv->envp);
fail:
	code = errno;
	if (write(report, &code, sizeof code) < 0)
		_exit(127);
	_exit(127);
}

/* vfork: the child only makes system calls before it execs (or _exits),
 * and shares our memory meanwhile: no page tables to copy and no
 * copy-on-write faults in the way of the agent's start. A function of
 * its own, so that no caller's variable lives across the vfork. */
static pid_t
sv_spawn_agent(struct supervisor *sv, int in, int out, int err, int notify,
    int report)
{
	pid_t self = getpid(), pid;

	pid = vfork();
	if (pid == 0)
		sv_exec_agent(sv, self, in, out, err, notify, report);
	return pid;
}

/* The agent has exec'd, and its dynamic loader now maps and relocates
 * its libraries, page fault after page fault. What we do meanwhile, and
 * what whoever waits for our word does once told (a client's exit),
 * competes with that for the kernel's page-table work, and on a virtual
 * machine for the hypervisor's: measured (tests/bench, section h), it
 * delays the agent's first instruction by about half as long again as
 * the loader takes alone. So we keep still for SV_LOADER_MS, unless the
 * agent speaks, becomes ready or ends sooner, or a signal or a control
 * line comes; nothing is read here, the loop reads it all after. */
static void
sv_let_it_load(const struct supervisor *sv, int out, int err, int notify)
{
	struct pollfd p[] = {
		{.fd = out, .events = POLLIN}, {.fd = err, .events = POLLIN},
		{.fd = notify, .events = POLLIN}, {.fd = sv->sigfd, .events = POLLIN},
		{.fd = sv->ctl, .events = POLLIN},
	};

	while (poll(p, sizeof p / sizeof *p, SV_LOADER_MS) < 0 && errno == EINTR)
		;
}

static int
pipe_pair(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

/* Start the agent once. 0, or -1 with err (nothing left running). */
static int
sv_start(struct supervisor *sv, struct starry_err *err)
{
	const struct template *t = sv->o->template;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	int ready[2] = {-1, -1}, report[2] = {-1, -1}, code = 0;
	char *snapshot = NULL, **command = NULL;
	json_t *spawned = NULL;
	struct event_origin o = {
		.source = sv->o->id, .session_id = sv->session,
		.trace_id = sv->trace, .parent_id = sv->cause[0] ? sv->cause : NULL,
		.priority = -1,
	};
	ssize_t n;
	pid_t pid;
	int rc = -1;

	/* The AGENT:SPAWNED event is made first: its id is the cause of
	 * everything the agent says (STARRY_CAUSE_ID). */
	spawned = event_create("AGENT:SPAWNED", json_object(), &o, err);
	if (spawned == NULL)
		return -1;
	snprintf(sv->spawned, sizeof sv->spawned, "%s",
	    json_string_value(json_object_get(spawned, "id")));
	/* Only for who wants it: the store is not opened in the way of a
	 * start otherwise. */
	if (t->snapshot_restore || sv->o->restore)
		snapshot = sv_load_snapshot(sv);
	template_argv_free(sv->envp);
	template_argv_free(sv->argv);
	sv->argv = NULL;
	sv->envp = sv_build_env(sv, snapshot);
	command = template_command(t, sv->frozen, sv->o->args, sv->o->nargs);
	if (sv->envp == NULL || command == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto out;
	}
	if ((sv->argv = driver_argv(t, command, sv->dir, err)) == NULL)
		goto out;
	if (pipe_pair(in) < 0 || pipe_pair(out) < 0 || pipe_pair(er) < 0 ||
	    pipe_pair(report) < 0 || (t->ready_fd >= 0 && pipe_pair(ready) < 0)) {
		starry_err_sys(err, EX_OSERR, "cannot make pipes");
		goto out;
	}
	pid = sv_spawn_agent(sv, in[0], out[1], er[1], ready[1], report[1]);
	if (pid < 0) {
		starry_err_sys(err, EX_OSERR, "cannot fork");
		goto out;
	}
	close(report[1]);
	report[1] = -1;
	/* The report pipe closes on exec; an errno on it means no exec. */
	do
		n = read(report[0], &code, sizeof code);
	while (n < 0 && errno == EINTR);
	if (n == sizeof code) {
		waitpid(pid, NULL, 0);
		errno = code;
		starry_err_sys(err, code == ENOENT ? EX_UNAVAILABLE : EX_OSERR,
		    "cannot run %s", sv->argv[0]);
		goto out;
	}
	sv_let_it_load(sv, out[0], er[0], ready[0]);
	sv->pid = sv->pgid = pid;
	sv->in = in[1];
	sv->out = out[0];
	sv->err = er[0];
	sv->notify = ready[0];
	in[1] = out[0] = er[0] = ready[0] = -1;
	fcntl(sv->in, F_SETFL, O_NONBLOCK);
	fcntl(sv->out, F_SETFL, O_NONBLOCK);
	fcntl(sv->err, F_SETFL, O_NONBLOCK);
	outbuf_init(&sv->to_agent, sv->in);
	sv->out_lines = line_reader_new(sv->out, EVENT_MAX_LINE);
	sv->started_ms = sv_now_ms();
	sv->started_mono = monotonic_ms();
	sv->killed = sv->restart_now = false;
	sv->reason[0] = '\0';
	safety_reset(&sv->safety);
	json_object_update_new(json_object_get(spawned, "payload"), json_pack(
	    "{s:s, s:s, s:s, s:I, s:i}", "agentId", sv->o->id,
	    "template", t->name, "driver", template_driver_name(t->driver),
	    "pid", (json_int_t)pid, "restarts", (int)sv->restarts));
	{
		struct starry_err serr;

		if (sink_send_event(sv->sink, spawned, SINK_RECORD, &serr) < 0)
			sv_log(sv, "cannot send AGENT:SPAWNED: %s", serr.msg);
	}
	sv_log(sv, "started %s (pid %ld)", sv->argv[0], (long)pid);
	rc = 0;
out:
	{
		int fds[] = {in[0], in[1], out[0], out[1], er[0], er[1], ready[0],
		    ready[1], report[0], report[1]};

		for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	template_argv_free(command);
	json_decref(spawned);
	free(snapshot);
	if (rc < 0)
		sv->spawned[0] = '\0';
	return rc;
}

/* ---- the state table's actions ---- */

static void sv_begin_run(struct supervisor *sv);

static void
sv_nothing(struct supervisor *sv)
{
	(void)sv;
}

static void
sv_finish(struct supervisor *sv, const char *final)
{
	snprintf(sv->final, sizeof sv->final, "%s", final);
	sv->deadline = 0;
	sv->pid = sv->pgid = 0;
	sv_enter(sv, SV_DONE);
}

static void
sv_ready(struct supervisor *sv)
{
	sv->deadline = 0;
	sv_enter(sv, SV_RUNNING);
}

/* Signal the agent with its stop signal and wait for it, at most the
 * template's stop timeout. */
static void
sv_begin_stop(struct supervisor *sv)
{
	sv_signal_all(sv, sv->o->template->stop_signal);
	/* A stopped process would sleep through its stop signal. */
	sv_signal_all(sv, SIGCONT);
	sv->deadline = monotonic_ms() + sv->o->template->stop_timeout_ms;
	sv_enter(sv, SV_STOPPING);
}

static void
sv_stop(struct supervisor *sv)
{
	sv->stopping_for_good = true;
	sv_begin_stop(sv);
}

static void
sv_restart(struct supervisor *sv)
{
	sv->restart_now = true;
	if (sv->reason[0] == '\0')
		snprintf(sv->reason, sizeof sv->reason, "restart requested");
	sv_begin_stop(sv);
}

static void
sv_stop_idle(struct supervisor *sv)
{
	sv_finish(sv, "stopped");
}

static void
sv_restart_idle(struct supervisor *sv)
{
	sv->streak = 0;
	sv->nfailures = 0;
	sv->holddown_until = 0;
	sv_begin_run(sv);
}

static void
sv_stopping_timer(struct supervisor *sv)
{
	if (!sv->killed)
		sv_log(sv, "still running %" PRId64 " ms after the stop signal: "
		    "killing it", sv->o->template->stop_timeout_ms);
	else
		sv_log(sv, "processes survive SIGKILL; trying again");
	sv->killed = true;
	sv_signal_all(sv, SIGKILL);
	sv->deadline = monotonic_ms() + SV_KILL_GRACE_MS;
}

static void
sv_restart_while_stopping(struct supervisor *sv)
{
	if (!sv->stopping_for_good)
		sv->restart_now = true;
}

static void
sv_stop_while_stopping(struct supervisor *sv)
{
	sv->stopping_for_good = true;
	sv->restart_now = false;
}

static bool
sv_failed(const struct supervisor *sv)
{
	return !(WIFEXITED(sv->status) && WEXITSTATUS(sv->status) == 0);
}

/* The reason gets how the process ended, after what it already says
 * (why it was stopped, or why it could not start). */
static void
sv_describe_exit(struct supervisor *sv)
{
	size_t n = strlen(sv->reason);
	const char *sep = n > 0 ? "; " : "";

	if (n > 0 && sv->status == 127 << 8)
		return;		/* the start failed: the reason says how */
	if (WIFSIGNALED(sv->status)) {
		const char *name = template_signal_name(WTERMSIG(sv->status));

		snprintf(sv->reason + n, sizeof sv->reason - n, "%skilled by "
		    "signal %s", sep, name ? name : "?");
	} else {
		snprintf(sv->reason + n, sizeof sv->reason - n, "%sexited with "
		    "status %d", sep, WEXITSTATUS(sv->status));
	}
}

/* Remember a failure; whether the agent is now to be held down. */
static bool
sv_note_failure(struct supervisor *sv, int64_t now)
{
	const struct template *t = sv->o->template;
	unsigned n = sv->nfailures < SV_FAILURES_MAX ? sv->nfailures :
	    SV_FAILURES_MAX, recent = 0;

	sv->failures[sv->nfailures++ % SV_FAILURES_MAX] = now;
	n = n < SV_FAILURES_MAX ? n + 1 : n;
	for (unsigned i = 0; i < n; i++)
		if (sv->failures[i] > now - t->holddown_within_ms)
			recent++;
	return t->holddown_failures > 0 && recent >= (unsigned)t->holddown_failures;
}

/* The delay before restart number streak: initial * 2^(streak-1), at
 * most max, then spread by +-jitter. */
static int64_t
sv_backoff_ms(const struct supervisor *sv)
{
	const struct template *t = sv->o->template;
	double d = (double)t->backoff_initial_ms, r;
	uint32_t x;

	for (unsigned i = 1; i < sv->streak && d < (double)t->backoff_max_ms; i++)
		d *= 2;
	if (d > (double)t->backoff_max_ms)
		d = (double)t->backoff_max_ms;
	if (getrandom(&x, sizeof x, GRND_NONBLOCK) != sizeof x)
		x = (uint32_t)monotonic_ms() * 2654435761u;
	r = (double)x / 4294967295.0 * 2 - 1;
	d *= 1 + t->backoff_jitter * r;
	return d < 0 ? 0 : (int64_t)d;
}

/* The agent and all its processes are gone: decide what comes next. */
static void
sv_gone(struct supervisor *sv)
{
	const struct template *t = sv->o->template;
	int64_t now = sv_now_ms(), ran = monotonic_ms() - sv->started_mono;
	bool failed = sv_failed(sv), for_good = sv->stopping_for_good;
	bool again = sv->restart_now;
	int code;

	/* Taken once: what comes next must not see them again. */
	sv->stopping_for_good = sv->restart_now = false;
	sv_close_agent_fds(sv);
	code = WIFSIGNALED(sv->status) ? 128 + WTERMSIG(sv->status) :
	    WEXITSTATUS(sv->status);
	if (sv->spawned[0] != '\0') {
		sv_emit(sv, "AGENT:EXITED", json_pack("{s:s, s:I, s:i, s:o, s:I}",
		    "agentId", sv->o->id, "pid", (json_int_t)sv->pid, "status",
		    code, "signal", WIFSIGNALED(sv->status) &&
		    template_signal_name(WTERMSIG(sv->status)) ? json_string(
		    template_signal_name(WTERMSIG(sv->status))) : json_null(),
		    "ranMs", (json_int_t)ran), sv->spawned);
		sv_log(sv, "pid %ld ended with status %d", (long)sv->pid, code);
	}
	sv->pid = sv->pgid = 0;
	if (for_good) {
		sv_finish(sv, "stopped");
		return;
	}
	if (!sv->announced) {
		/* It never came up: whoever started it hears why, and no
		 * policy retries a start that has not worked once. */
		sv_describe_exit(sv);
		sv_finish(sv, "failed");
		return;
	}
	if (again) {
		sv->streak = 0;
		sv->nfailures = 0;
		sv_begin_run(sv);
		return;
	}
	sv_describe_exit(sv);
	if (t->restart == TEMPLATE_RESTART_NEVER ||
	    (t->restart == TEMPLATE_RESTART_ON_FAILURE && !failed)) {
		sv_finish(sv, failed ? "failed" : "exited");
		return;
	}
	if (!failed) {
		sv->streak = 0;
		sv->deadline = monotonic_ms() + t->backoff_initial_ms;
		sv_enter(sv, SV_BACKOFF);
		return;
	}
	/* A run as long as the longest delay ends a streak of failures. */
	if (ran >= t->backoff_max_ms)
		sv->streak = 0;
	sv->streak++;
	if (sv_note_failure(sv, now)) {
		sv->holddown_until = now + t->holddown_for_ms;
		sv->deadline = monotonic_ms() + t->holddown_for_ms;
		snprintf(sv->reason + strlen(sv->reason), sizeof sv->reason -
		    strlen(sv->reason), "; %" PRId64 " failures within %" PRId64
		    " ms: held down", t->holddown_failures, t->holddown_within_ms);
		sv_enter(sv, SV_HOLDDOWN);
		return;
	}
	sv->deadline = monotonic_ms() + sv_backoff_ms(sv);
	sv_enter(sv, SV_BACKOFF);
}

/* Enter starting or running after a start; a template with a ready-fd
 * has SV_READY_TIMEOUT_MS to say it is ready. */
static void
sv_started(struct supervisor *sv)
{
	if (sv->notify >= 0) {
		sv->deadline = monotonic_ms() + SV_READY_TIMEOUT_MS;
		sv_enter(sv, SV_STARTING);
	} else {
		sv->deadline = 0;
		sv_enter(sv, SV_RUNNING);
	}
}

/* From backoff, hold-down or a restart: start again. A start that fails
 * (the command is gone) is a failure like an exit. */
static void
sv_begin_run(struct supervisor *sv)
{
	struct starry_err err;

	if (sv->state == SV_HOLDDOWN) {
		/* Hold-down over: a fresh count of failures. */
		sv->streak = 0;
		sv->nfailures = 0;
		sv->holddown_until = 0;
	}
	sv->deadline = 0;
	sv->restarts++;
	if (sv_start(sv, &err) < 0) {
		sv_log(sv, "cannot start: %s", err.msg);
		snprintf(sv->reason, sizeof sv->reason, "%.500s", err.msg);
		sv->status = 127 << 8;
		sv->started_mono = monotonic_ms();
		sv_gone(sv);
		return;
	}
	sv_started(sv);
}

/* Started but not ready in time: stopped, and counted as a failure. */
static void
sv_not_ready(struct supervisor *sv)
{
	snprintf(sv->reason, sizeof sv->reason, "not ready within %d s",
	    SV_READY_TIMEOUT_MS / 1000);
	sv_log(sv, "%s: stopping it", sv->reason);
	sv_begin_stop(sv);
}

static sv_action *const sv_actions[SV_NSTATES][EV_NEVENTS] = {
	/*                 READY       GONE      TIMER              STOP
	 *                 RESTART */
	[SV_STARTING] = {sv_ready, sv_gone, sv_not_ready, sv_stop, sv_restart},
	[SV_RUNNING]  = {sv_nothing, sv_gone, sv_nothing, sv_stop, sv_restart},
	[SV_BACKOFF]  = {sv_nothing, sv_nothing, sv_begin_run, sv_stop_idle,
	    sv_restart_idle},
	[SV_HOLDDOWN] = {sv_nothing, sv_nothing, sv_begin_run, sv_stop_idle,
	    sv_restart_idle},
	[SV_STOPPING] = {sv_nothing, sv_gone, sv_stopping_timer,
	    sv_stop_while_stopping, sv_restart_while_stopping},
	[SV_DONE]     = {sv_nothing, sv_nothing, sv_nothing, sv_nothing,
	    sv_nothing},
};

static void
sv_dispatch(struct supervisor *sv, enum sv_event ev)
{
	sv_actions[sv->state][ev](sv);
}

/* Stop the agent for good, saying why (a limit, the safety policy). */
static void
sv_stop_because(struct supervisor *sv, const char *code, const char *why)
{
	snprintf(sv->reason, sizeof sv->reason, "%s", why);
	sv_log(sv, "stopping: %s", why);
	sv_emit(sv, "KERNEL:ERROR", json_pack("{s:s, s:s, s:s, s:s}", "code", code,
	    "message", why, "source", "starry-spawn", "agentId", sv->o->id),
	    sv->spawned);
	sv_dispatch(sv, EV_STOP);
}

/* ---- what the agent says ---- */

static void sv_to_agent(struct supervisor *sv, json_t *ev);

/* An event of starry-spawn's for the agent: onto its stdin, and sent
 * like any other; ev is stolen. */
static void
sv_tell_agent(struct supervisor *sv, json_t *ev)
{
	if (ev == NULL)
		return;
	sv_to_agent(sv, ev);
	sink_send_event(sv->sink, ev, 0, NULL);
	json_decref(ev);
}

static void
sv_to_agent(struct supervisor *sv, json_t *ev)
{
	size_t len;
	char *line = event_dump_line(ev, &len);

	if (line == NULL || sv->in < 0)
		goto out;
	if (sv->to_agent.len + len > SV_STDIN_MAX) {
		sv_log(sv, "the agent reads nothing: an event for it is dropped");
		goto out;
	}
	outbuf_append(&sv->to_agent, line, len - 1, true);
out:
	free(line);
}

/* A warning from the safety policy, into the agent's stdin (and the
 * log of events). */
static void
sv_warn_agent(struct supervisor *sv, const char *code, const char *message)
{
	struct event_origin o = {
		.source = "starry-spawn", .session_id = sv->session,
		.trace_id = sv->trace, .parent_id = sv->spawned, .priority = 1,
	};
	json_t *ev = event_create("KERNEL:ERROR", json_pack("{s:s, s:s, s:s, s:s,"
	    " s:s}", "code", code, "message", message, "source", "starry-spawn",
	    "severity", "warning", "agentId", sv->o->id), &o, NULL);

	sv_tell_agent(sv, ev);
	sv_log(sv, "warned the agent: %s", message);
}

static void
sv_tool_start(struct supervisor *sv, json_t *ev);

/* A KERNEL:ERROR keeping a line that is no event, in the agent's trace
 * under its AGENT:SPAWNED like anything else it says. */
static json_t *
sv_reject(struct supervisor *sv, const char *text, size_t len,
    const char *why)
{
	json_t *ev = event_reject(sv->o->id, "stdout", text, len, 0, why);

	if (ev != NULL) {
		json_object_set_new(ev, "traceId", json_string(sv->trace));
		json_object_set_new(ev, "sessionId", json_string(sv->session));
		json_object_set_new(ev, "parentId", json_string(sv->spawned));
	}
	return ev;
}

/* One line of the agent's stdout, as an event. */
static void
sv_agent_line(struct supervisor *sv, const char *text, size_t len)
{
	struct event_origin o = {
		.source = sv->o->id, .session_id = sv->session,
		.trace_id = sv->trace, .parent_id = sv->spawned, .priority = -1,
	};
	struct starry_err err;
	json_t *ev = NULL, *payload;
	const char *type;

	if (len > 0 && text[0] == '{')
		ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(ev) || !json_is_string(json_object_get(ev, "type"))) {
		json_decref(ev);
		ev = event_create("AGENT:OUTPUT", json_pack("{s:o}", "text",
		    event_json_text(text, len)), &o, &err);
	} else {
		/* Its own events are its own: the agent is the source. */
		json_object_set_new(ev, "source", json_string(sv->o->id));
		if (event_complete(ev, &o, &err) < 0) {
			json_decref(ev);
			ev = sv_reject(sv, text, len, err.msg);
		}
	}
	if (ev == NULL)
		return;
	if (sink_send_event(sv->sink, ev, 0, &err) < 0) {
		/* Not an event after all (a bad type): kept in a reject. */
		json_decref(ev);
		if ((ev = sv_reject(sv, text, len, err.msg)) == NULL)
			return;
		sink_send_event(sv->sink, ev, 0, NULL);
	}
	type = json_string_value(json_object_get(ev, "type"));
	payload = json_object_get(ev, "payload");
	if (safety_note_usage(payload, &sv->tokens)) {
		sv->status_dirty = true;
		if (sv->o->template->limit_tokens > 0 &&
		    sv->tokens > sv->o->template->limit_tokens &&
		    sv->state != SV_STOPPING) {
			char why[128];

			snprintf(why, sizeof why, "token limit %" PRId64 " reached "
			    "(%" PRId64 " used)", sv->o->template->limit_tokens,
			    sv->tokens);
			sv_stop_because(sv, "ETOKENLIMIT", why);
			goto out;
		}
	}
	if (strcmp(type, "EXEC:TOOL_CALL") == 0) {
		const char *tool = safety_tool_name(payload);

		if (tool != NULL && strncmp(tool, "agent.", 6) == 0)
			sv_tool_start(sv, ev);
		else
			safety_note_call(&sv->safety, payload);
	} else if (strcmp(type, "EXEC:TOOL_RESULT") == 0) {
		char message[256];
		enum safety_verdict v = safety_note_result(&sv->safety, payload,
		    message, sizeof message);

		if (v == SAFETY_WARN_REPEATED)
			sv_warn_agent(sv, "EREPEATEDFAILURE", message);
		else if (v == SAFETY_WARN_STREAK)
			sv_warn_agent(sv, "EFAILURESTREAK", message);
		else if (v == SAFETY_STOP && sv->state != SV_STOPPING)
			sv_stop_because(sv, "EERRORRATE", message);
	}
out:
	json_decref(ev);
}

static void
sv_read_stdout(struct supervisor *sv)
{
	enum line_status st;
	const char *line;
	size_t len;
	long lineno;
	long n = line_reader_fill(sv->out_lines);

	while ((st = line_reader_next(sv->out_lines, &line, &len, &lineno)) !=
	    LINE_AGAIN && st != LINE_EOF && st != LINE_ERROR) {
		if (st == LINE_TOO_LONG) {
			sv_log(sv, "stdout line %ld is over %d bytes: skipped",
			    lineno, EVENT_MAX_LINE);
			continue;
		}
		sv_agent_line(sv, line, len);
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		line_reader_finish(sv->out_lines);
		while ((st = line_reader_next(sv->out_lines, &line, &len,
		    &lineno)) == LINE_OK || st == LINE_TRUNCATED)
			sv_agent_line(sv, line, len);
		close(sv->out);
		sv->out = -1;
	}
}

static void
sv_read_stderr(struct supervisor *sv)
{
	char buf[4096];
	ssize_t n = read(sv->err, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(sv->err);
		sv->err = -1;
		return;
	}
	sv_log_bytes(sv, buf, (size_t)n);
}

static void
sv_read_notify(struct supervisor *sv)
{
	char buf[64];
	ssize_t n = read(sv->notify, buf, sizeof buf);

	if (n < 0 && errno == EINTR)
		return;
	if (n > 0 && memchr(buf, '\n', (size_t)n) == NULL)
		return;
	close(sv->notify);
	sv->notify = -1;
	if (n > 0)
		sv_dispatch(sv, EV_READY);
}

/* ---- the AgentManagerTool: agent.start, .stop, .status, .list ---- */

static json_t *
sv_tool_error(const char *code, const char *message)
{
	return json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error",
	    "code", code, "message", message, "source", "starry-spawn");
}

static void
sv_tool_answer(struct supervisor *sv, struct sv_tool *tc, json_t *result)
{
	struct event_origin o = {
		.source = "starry-spawn", .session_id = tc->session,
		.trace_id = tc->trace, .parent_id = tc->call_id, .priority = -1,
	};
	json_t *payload;

	json_int_t sup;

	if (!json_is_object(result)) {
		json_decref(result);
		result = sv_tool_error("EINTERNAL", "the tool gave no answer");
	}
	/* A worker started with no daemon: its supervisor is handed to us
	 * (a subreaper) when the helper exits, but it is not our agent's. */
	sup = json_integer_value(json_object_get(json_object_get(result,
	    "result"), "supervisor"));
	if (sup > 0 && sv->nforeign < SV_FOREIGN_MAX)
		sv->foreign[sv->nforeign++] = (pid_t)sup;
	payload = result;
	json_object_set_new(payload, "toolCallId", json_string(tc->tool_call_id));
	sv_tell_agent(sv, event_create("EXEC:TOOL_RESULT", payload, &o, NULL));
}

/* An agent.* call: a helper (starry-spawn tool) does it, apart from the
 * agent's group; every call is answered, if only with an error. */
static void
sv_tool_start(struct supervisor *sv, json_t *ev)
{
	json_t *payload = json_object_get(ev, "payload");
	const char *tcid = json_string_value(json_object_get(payload, "toolCallId"));
	struct sv_tool tc = {.fd = -1};
	int out[2] = {-1, -1};
	char *call = NULL;
	pid_t pid;

	snprintf(tc.tool_call_id, sizeof tc.tool_call_id, "%s", tcid ? tcid : "");
	snprintf(tc.call_id, sizeof tc.call_id, "%s",
	    json_string_value(json_object_get(ev, "id")));
	snprintf(tc.trace, sizeof tc.trace, "%s",
	    json_string_value(json_object_get(ev, "traceId")));
	snprintf(tc.session, sizeof tc.session, "%s",
	    json_string_value(json_object_get(ev, "sessionId")));
	if (sv->ntools == SV_TOOLS_MAX || sv->o->self_exe == NULL) {
		sv_tool_answer(sv, &tc, sv_tool_error("EBUSY",
		    "too many tool calls at once"));
		return;
	}
	if ((call = json_dumps(payload, JSON_COMPACT)) == NULL ||
	    pipe2(out, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		sv_tool_answer(sv, &tc, sv_tool_error("ESYSTEM", strerror(errno)));
		free(call);
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		return;
	}
	if (pid == 0) {
		sv_child_signals();
		/* Apart from the agent's group: stopping it spares the call. */
		setpgid(0, 0);
		setenv("STARRY_TRACE_ID", tc.trace, 1);
		setenv("STARRY_SESSION_ID", tc.session, 1);
		setenv("STARRY_CAUSE_ID", tc.call_id, 1);
		if (dup2(out[1], 1) < 0 || (sv->log >= 0 && dup2(sv->log, 2) < 0))
			_exit(127);
		execl(sv->o->self_exe, "starry-spawn", "tool", "--home", sv->o->home,
		    "--runtime", sv->o->runtime, "--config", sv->o->config, call,
		    (char *)NULL);
		_exit(127);
	}
	free(call);
	close(out[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	tc.pid = pid;
	tc.fd = out[0];
	sv->tools[sv->ntools++] = tc;
}

static void
sv_tool_read(struct supervisor *sv, unsigned i)
{
	struct sv_tool *tc = &sv->tools[i];
	char buf[8192], *grown;
	ssize_t n = read(tc->fd, buf, sizeof buf);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && tc->len + (size_t)n <= SV_TOOL_OUT_MAX) {
		if ((grown = realloc(tc->out, tc->len + (size_t)n + 1)) != NULL) {
			tc->out = grown;
			memcpy(tc->out + tc->len, buf, (size_t)n);
			tc->len += (size_t)n;
			tc->out[tc->len] = '\0';
		}
		return;
	}
	if (n > 0)
		return;
	/* The helper is done: its answer is one JSON document. */
	close(tc->fd);
	tc->fd = -1;
	sv_tool_answer(sv, tc, tc->out ? json_loads(tc->out, 0, NULL) : NULL);
	free(tc->out);
	tc->out = NULL;
}

/* A helper has been reaped: forget it once its pipe is drained. */
static void
sv_tool_reaped(struct supervisor *sv, pid_t pid)
{
	for (unsigned i = 0; i < sv->ntools; i++) {
		if (sv->tools[i].pid != pid)
			continue;
		sv->tools[i].pid = 0;
		return;
	}
}

static void
sv_tools_tidy(struct supervisor *sv)
{
	unsigned j = 0;

	for (unsigned i = 0; i < sv->ntools; i++)
		if (sv->tools[i].pid != 0 || sv->tools[i].fd >= 0)
			sv->tools[j++] = sv->tools[i];
	sv->ntools = j;
}

/* ---- control and signals ---- */

static void
sv_control_line(struct supervisor *sv, const char *line, size_t len)
{
	char cmd[32];
	int sig;

	if (len >= 6 && memcmp(line, "event ", 6) == 0) {
		json_t *ev = json_loadb(line + 6, len - 6, 0, NULL);

		if (json_is_object(ev))
			sv_to_agent(sv, ev);
		json_decref(ev);
		return;
	}
	snprintf(cmd, sizeof cmd, "%.*s", (int)(len < 31 ? len : 31), line);
	if (strcmp(cmd, "stop") == 0) {
		snprintf(sv->reason, sizeof sv->reason, "stop requested");
		sv_dispatch(sv, EV_STOP);
	} else if (strcmp(cmd, "restart") == 0) {
		sv->reason[0] = '\0';
		sv_dispatch(sv, EV_RESTART);
	} else if (strncmp(cmd, "kill ", 5) == 0 &&
	    (sig = template_signal_number(cmd + 5)) > 0) {
		if (sv->pid > 0 || sv->state == SV_STOPPING)
			sv_signal_all(sv, sig);
	} else {
		sv_log(sv, "control: unknown command '%s'", cmd);
	}
}

static void
sv_read_control(struct supervisor *sv)
{
	enum line_status st;
	const char *line;
	size_t len;
	long lineno;

	line_reader_fill(sv->ctl_lines);
	while ((st = line_reader_next(sv->ctl_lines, &line, &len, &lineno)) ==
	    LINE_OK || st == LINE_TOO_LONG)
		if (st == LINE_OK)
			sv_control_line(sv, line, len);
}

/* Reap every child that has ended; the agent's end is noted in status. */
static unsigned
sv_reap(struct supervisor *sv)
{
	unsigned others = 0;
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == sv->pid) {
			sv->status = st;
			sv->pid = -sv->pid;	/* ended; the group may live on */
		} else if (!sv_is_tool(sv, pid)) {
			others++;		/* a process of the agent's tree */
		} else {
			sv_tool_reaped(sv, pid);
			for (unsigned i = 0; i < sv->nforeign; i++)
				if (sv->foreign[i] == pid)
					sv->foreign[i] = sv->foreign[--sv->nforeign];
		}
	}
	return others;
}

/* After reaping: is the agent wholly gone? Its leader ended and nothing
 * of its tree is left among our children. */
static void
sv_check_gone(struct supervisor *sv)
{
	if (sv->pid >= 0 || sv->state == SV_DONE)
		return;
	/* The leader is gone: what is left of its tree is killed, unless a
	 * stop is under way and its timeout has not passed. */
	if (sv->state != SV_STOPPING || sv->killed)
		sv_signal_all(sv, SIGKILL);
	if (sv_signal_all(sv, 0) > 0 || sv->out >= 0) {
		if (sv->state != SV_STOPPING) {
			sv->killed = true;
			sv->deadline = monotonic_ms() + SV_KILL_GRACE_MS;
		}
		return;
	}
	/* The count above sees live processes only: one that died since
	 * the last reaping is a zombie it missed, whose own child may be
	 * on its way to us. Look again once it is reaped. */
	if (sv_reap(sv) > 0) {
		sv->recheck = true;
		return;
	}
	sv->pid = -sv->pid;
	sv_dispatch(sv, EV_GONE);
}

static void
sv_read_signals(struct supervisor *sv)
{
	struct signalfd_siginfo si;

	while (read(sv->sigfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			sv_reap(sv);
			break;
		case SIGTERM:
		case SIGINT:
			snprintf(sv->reason, sizeof sv->reason, "supervisor got %s",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			sv_dispatch(sv, EV_STOP);
			break;
		default:
			break;
		}
	}
}

/* ---- the loop ---- */

static int
sv_poll_timeout(struct supervisor *sv)
{
	int64_t now = monotonic_ms(), until = sv->deadline;

	if (sv->recheck) {
		sv->recheck = false;
		return 0;
	}
	if (sv->status_dirty && (until == 0 || sv->status_due < until))
		until = sv->status_due;
	if (sv->next_snapshot != 0 && (until == 0 || sv->next_snapshot < until))
		until = sv->next_snapshot;
	if (sink_flush_due(sv->sink) != 0 &&
	    (until == 0 || sink_flush_due(sv->sink) < until))
		until = sink_flush_due(sv->sink);
	if (sv->shed_due != 0 && (until == 0 || sv->shed_due < until))
		until = sv->shed_due;
	if (until == 0)
		return -1;
	return until <= now ? 0 : (int)(until - now > 60000 ? 60000 : until - now);
}

/* runtime.snapshot.every: ask the running agent for its state; its
 * STATE:SNAPSHOT answer is stored like any event of its. */
static void
sv_snapshot_timer(struct supervisor *sv)
{
	int64_t every = sv->o->template->snapshot_every_ms, now = monotonic_ms();
	struct event_origin o = {
		.source = "starry-spawn", .session_id = sv->session,
		.trace_id = sv->trace, .parent_id = sv->spawned, .priority = -1,
	};
	json_t *ev;

	if (every <= 0 || sv->state != SV_RUNNING) {
		sv->next_snapshot = 0;
		return;
	}
	if (sv->next_snapshot == 0) {
		sv->next_snapshot = now + every;
		return;
	}
	if (now < sv->next_snapshot)
		return;
	sv->next_snapshot = now + every;
	ev = event_create("STATE:SNAPSHOT_REQUEST", json_pack("{s:s}", "agentId",
	    sv->o->id), &o, NULL);
	sv_tell_agent(sv, ev);
}

enum { P_SIG, P_CTL, P_OUT, P_ERR, P_NOTIFY, P_IN, P_TOOLS };

static int
sv_loop(struct supervisor *sv)
{
	struct pollfd p[P_TOOLS + SV_TOOLS_MAX];
	int n, nfds;

	while (sv->state != SV_DONE) {
		p[P_SIG] = (struct pollfd){.fd = sv->sigfd, .events = POLLIN};
		p[P_CTL] = (struct pollfd){.fd = sv->ctl, .events = POLLIN};
		p[P_OUT] = (struct pollfd){.fd = sv->out, .events = POLLIN};
		p[P_ERR] = (struct pollfd){.fd = sv->err, .events = POLLIN};
		p[P_NOTIFY] = (struct pollfd){.fd = sv->notify, .events = POLLIN};
		p[P_IN] = (struct pollfd){.fd = outbuf_pending(&sv->to_agent) ?
		    sv->in : -1, .events = POLLOUT};
		for (unsigned i = 0; i < sv->ntools; i++)
			p[P_TOOLS + i] = (struct pollfd){.fd = sv->tools[i].fd,
			    .events = POLLIN};
		nfds = P_TOOLS + (int)sv->ntools;
		n = poll(p, (nfds_t)nfds, sv_poll_timeout(sv));
		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0) {
			if (p[P_OUT].revents)
				sv_read_stdout(sv);
			if (p[P_ERR].revents)
				sv_read_stderr(sv);
			if (p[P_NOTIFY].revents)
				sv_read_notify(sv);
			if (p[P_IN].revents & (POLLOUT | POLLERR | POLLHUP) &&
			    outbuf_flush_some(&sv->to_agent) < 0 && errno != EAGAIN) {
				outbuf_free(&sv->to_agent);
				outbuf_init(&sv->to_agent, -1);
			}
			for (int i = P_TOOLS; i < nfds; i++)
				if (p[i].revents)
					sv_tool_read(sv, (unsigned)(i - P_TOOLS));
			if (p[P_CTL].revents)
				sv_read_control(sv);
			if (p[P_SIG].revents)
				sv_read_signals(sv);
		}
		sv_tools_tidy(sv);
		sv_check_gone(sv);
		if (sv->deadline != 0 && monotonic_ms() >= sv->deadline) {
			sv->deadline = 0;
			sv_dispatch(sv, EV_TIMER);
		}
		sv_snapshot_timer(sv);
		if (sv->status_dirty && sv->status_due == 0)
			sv->status_due = monotonic_ms() + SV_STATUS_EVERY_MS;
		if (sv->status_dirty && monotonic_ms() >= sv->status_due)
			sv_write_status(sv);
		/* The agent's own lines are gathered for a while, its
		 * lifecycle for a moment (SINK_RECORD_MS). */
		if (sink_flush_due(sv->sink) != 0 &&
		    monotonic_ms() >= sink_flush_due(sv->sink))
			sv_flush_events(sv);
		if (sv->shed_due != 0 && monotonic_ms() >= sv->shed_due) {
			sv->shed_due = 0;
			supervise_shed_memory();
		}
	}
	return 0;
}

/* ---- setting up ---- */

static int
sv_open_control(struct supervisor *sv, struct starry_err *err)
{
	char *path = agentdir_path(sv->o->home, sv->o->id, AGENTDIR_CONTROL);
	struct stat st;
	int rc = -1;

	if (path == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode))
		unlink(path);
	if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
		starry_err_sys(err, EX_CANTCREAT, "cannot make %s", path);
		goto out;
	}
	/* Read-write, so that it never reads end-of-file between writers. */
	sv->ctl = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (sv->ctl < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot open %s", path);
		goto out;
	}
	sv->ctl_lines = line_reader_new(sv->ctl, EVENT_MAX_LINE + 64);
	rc = sv->ctl_lines ? 0 : starry_err_set(err, EX_OSERR, "out of memory");
out:
	free(path);
	return rc;
}

/* Whether the command names the frozen template ("{manifest}"). */
static bool
sv_reads_manifest(const struct template *t)
{
	for (size_t i = 0; i < t->argc; i++)
		if (strstr(t->argv[i], "{manifest}") != NULL)
			return true;
	return false;
}

static int
sv_freeze_template(struct supervisor *sv, struct starry_err *err)
{
	size_t len;
	char *text = template_dump(sv->o->template, &len);
	int rc;

	if (text == NULL || sv->frozen == NULL) {
		free(text);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	rc = atomic_replace_file(sv->frozen, text, len, 0600, ATOMIC_NO_SYNC, err);
	free(text);
	return rc;
}

void
supervise_shed_memory(void)
{
	unsigned long lo, hi;
	char line[256], here;
	uintptr_t sp = (uintptr_t)&here, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t keep = 16 * 1024;	/* below us: what the calls to come use */
	FILE *f;

	malloc_trim(0);
	if ((f = fopen("/proc/self/maps", "re")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, "[stack]") != NULL &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
		else
			lo = hi = 0;
	fclose(f);
	sp = (sp - keep) & ~(page - 1);
	if (lo != 0 && sp > lo && sp < hi)
		madvise((void *)lo, sp - lo, MADV_DONTNEED);
}

/* sig back to its default action. glibc refuses the two real-time
 * signals it keeps for itself (32 and 33), which a caller may still have
 * left ignored (GNU make does): those go to the kernel directly, with a
 * sigaction of all zeros, which is SIG_DFL with no flags and no mask
 * whatever the architecture's layout of it. */
static void
sv_default_signal(int sig)
{
	unsigned long zeros[4] = {0};

	if (signal(sig, SIG_DFL) == SIG_ERR)
		syscall(SYS_rt_sigaction, sig, zeros, NULL, _NSIG / 8);
}

/* Signals ignored by whoever started the supervisor (nohup, a shell's
 * background job) go back to their defaults: an ignored SIGCHLD would
 * reap the agent behind our back, and an agent is not to inherit them.
 * Read from SigIgn in /proc/self/status; every signal when it cannot be
 * read. */
static void
sv_default_signals(void)
{
	unsigned long long ignored = ~0ULL;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (f != NULL) {
		while (fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, "SigIgn: %llx", &ignored) == 1)
				break;
		fclose(f);
	}
	for (int sig = 1; sig < NSIG; sig++)
		if ((sig > 64 || ignored >> (sig - 1) & 1) && sig != SIGKILL &&
		    sig != SIGSTOP)
			sv_default_signal(sig);
}

static int
sv_signals(struct supervisor *sv, struct starry_err *err)
{
	sigset_t set;

	sv_default_signals();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 ||
	    (sv->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return starry_err_sys(err, EX_OSERR, "cannot set up signals");
	return 0;
}

static void
sv_free(struct supervisor *sv)
{
	sv_close_agent_fds(sv);
	outbuf_free(&sv->to_agent);
	for (unsigned i = 0; i < sv->ntools; i++) {
		if (sv->tools[i].fd >= 0)
			close(sv->tools[i].fd);
		free(sv->tools[i].out);
	}
	line_reader_free(sv->ctl_lines);
	if (sv->ctl >= 0)
		close(sv->ctl);
	if (sv->sigfd >= 0)
		close(sv->sigfd);
	if (sv->log >= 0)
		close(sv->log);
	sink_free(sv->sink);
	template_argv_free(sv->argv);
	template_argv_free(sv->envp);
	free(sv->frozen);
	free(sv->dir);
}

int
supervise(const struct supervise_options *o, struct starry_err *err)
{
	/* Mapped, not on the stack nor the heap: pages of it that are
	 * never written (the tool slots, most of the time) cost nothing. */
	struct supervisor *sv = mmap(NULL, sizeof *sv, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char uuid_buf[EVENT_UUID_LEN + 1];
	int rc = -1;

	if (sv == MAP_FAILED)
		return starry_err_set(err, EX_OSERR, "out of memory");
	/* Field by field: a struct assignment would write every page. */
	sv->o = o;
	sv->state = SV_STARTING;
	sv->in = sv->out = sv->err = sv->notify = -1;
	sv->status = sv->sigfd = sv->ctl = sv->log = -1;

	outbuf_init(&sv->to_agent, -1);
	sv->since_ms = sv_now_ms();
	snprintf(sv->session, sizeof sv->session, "%s",
	    o->session_id ? o->session_id : "default");
	snprintf(sv->cause, sizeof sv->cause, "%s", o->cause_id ? o->cause_id : "");
	if (o->trace_id != NULL) {
		snprintf(sv->trace, sizeof sv->trace, "%s", o->trace_id);
	} else {
		json_t *t = event_create("KERNEL:TICK_START", NULL, NULL, NULL);

		snprintf(uuid_buf, sizeof uuid_buf, "%s", t ?
		    json_string_value(json_object_get(t, "traceId")) : "");
		snprintf(sv->trace, sizeof sv->trace, "%s", uuid_buf);
		json_decref(t);
	}
	sv->dir = agentdir_path(o->home, o->id, NULL);
	sv->frozen = agentdir_path(o->home, o->id, AGENTDIR_TEMPLATE);
	sv->sink = sink_new(o->home, o->runtime);
	if (sv->dir == NULL || sv->frozen == NULL || sv->sink == NULL) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto out;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		starry_err_sys(err, EX_OSERR, "cannot become a subreaper");
		goto out;
	}
	if (sv_signals(sv, err) < 0)
		goto out;
	if (sv_open_log(sv) < 0) {
		starry_err_sys(err, EX_CANTCREAT, "cannot open the log of %s", o->id);
		goto out;
	}
	/* The agent first, and then what only its supervisor needs; but a
	 * runner that reads the frozen template finds it written. */
	if (sv_reads_manifest(o->template) && sv_freeze_template(sv, err) < 0)
		goto out;
	if (sv_start(sv, err) < 0) {
		snprintf(sv->reason, sizeof sv->reason, "%.500s", err->msg);
		sv->state = SV_DONE;
		snprintf(sv->final, sizeof sv->final, "failed");
		sv_write_status(sv);
		goto out;
	}
	if ((!sv_reads_manifest(o->template) && sv_freeze_template(sv, err) < 0) ||
	    sv_open_control(sv, err) < 0) {
		/* No way to control it: it does not run uncontrolled. */
		sv_signal_all(sv, SIGKILL);
		while (waitpid(sv->pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out;
	}
	sv_started(sv);
	/* What the agent's start does not wait for waits for it: the
	 * memory shed here, the events stored (SINK_RECORD_MS). Either
	 * would compete with its first steps for the processor and for the
	 * kernel's page tables. */
	if (o->shed)
		sv->shed_due = monotonic_ms() + SV_SETTLE_MS;
	if (sv_loop(sv) < 0) {
		starry_err_sys(err, EX_OSERR, "poll");
		goto out;
	}
	sv_flush_events(sv);
	if (!sv->announced) {
		starry_err_set(err, EX_UNAVAILABLE, "agent %s did not come up: %s",
		    o->id, sv->reason);
		goto out;
	}
	if (strcmp(sv->final, "failed") != 0 || sv->status < 0)
		rc = 0;
	else
		rc = WIFSIGNALED(sv->status) ? 128 + WTERMSIG(sv->status) :
		    WEXITSTATUS(sv->status) ? WEXITSTATUS(sv->status) : 1;
out:
	sv_free(sv);
	munmap(sv, sizeof *sv);
	return rc;
}
