/* The control requests of starry-spawn, done here or by the daemon: the
 * same function answers both, so a command behaves the same with or
 * without `serve` running. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentdir.h"
#include "clock.h"
#include "config.h"
#include "ctlsock.h"
#include "event.h"
#include "fdio.h"
#include "launch.h"
#include "proc.h"
#include "sock.h"
#include "spawn.h"


#define SPAWN_STOP_EXTRA_MS 15000	/* beyond the template's stop timeout */
#define SPAWN_RESPONSE_MAX (64u << 20)

static const struct {
	int exit;
	const char *code;
} error_codes[] = {
	{EX_NEGATIVE, "ENOTRUNNING"}, {EX_USAGE, "EUSAGE"},
	{EX_DATAERR, "EDATA"}, {EX_NOINPUT, "ENOENT"},
	{EX_UNAVAILABLE, "EUNAVAILABLE"}, {EX_SOFTWARE, "EINTERNAL"},
	{EX_OSERR, "ESYSTEM"}, {EX_CANTCREAT, "ECANTCREATE"},
	{EX_IOERR, "EIO"}, {EX_TEMPFAIL, "EBUSY"}, {EX_CONFIG, "ECONFIG"},
};

json_t *
spawn_error_response(const struct starry_err *err)
{
	const char *code = "EINTERNAL";

	for (size_t i = 0; i < sizeof error_codes / sizeof *error_codes; i++)
		if (error_codes[i].exit == err->code)
			code = error_codes[i].code;
	return json_pack("{s:b, s:{s:s, s:s, s:i}}", "ok", 0, "error", "code", code,
	    "message", err->msg, "exit", err->code);
}

static json_t *
fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *
fail(int code, const char *fmt, ...)
{
	struct starry_err err = {.code = code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof err.msg, fmt, ap);
	va_end(ap);
	return spawn_error_response(&err);
}

static json_t *
ok(json_t *result)
{
	return json_pack("{s:b, s:o}", "ok", 1, "result", result ? result :
	    json_null());
}

int
spawn_response_fail(const json_t *resp)
{
	const json_t *e = json_object_get(resp, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	json_int_t code = json_integer_value(json_object_get(e, "exit"));

	diag_error("%s", msg ? msg : "the daemon gave no answer");
	return code > 0 && code < 256 ? (int)code : EX_SOFTWARE;
}

json_t *
spawn_agent_view(const char *home, const char *id, struct starry_err *err)
{
	json_t *doc = agentdir_status(home, id, err);
	const char *state;
	struct proc_usage u;
	json_int_t pid;
	pid_t sup;
	bool supervised;

	if (doc == NULL)
		return NULL;
	supervised = agentdir_supervised(home, id, &sup);
	state = json_string_value(json_object_get(doc, "state"));
	json_object_set_new(doc, "supervised", json_boolean(supervised));
	if (!supervised && agentdir_state_is_live(state)) {
		/* Its supervisor died without a word: the health check's
		 * business, and the user's to know. */
		json_object_set_new(doc, "state", json_string("dead"));
		json_object_set_new(doc, "reason", json_string("the supervisor "
		    "is gone"));
	}
	pid = json_integer_value(json_object_get(doc, "pid"));
	if (supervised && pid > 0 && proc_usage((pid_t)pid, &u) == 0) {
		json_object_set_new(doc, "cpu", json_real(proc_cpu_percent(&u,
		    event_now_ms())));
		json_object_set_new(doc, "rss", json_integer((json_int_t)u.rss_bytes));
	}
	return doc;
}

/* Wait until pid has ended, at most ms. Returns 0, or -1 (still there). */
static int
wait_gone(pid_t pid, int64_t ms)
{
	int64_t until = monotonic_ms() + ms, now;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0), rc = -1;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (fd < 0)
		return errno == ESRCH ? 0 : -1;
	while ((now = monotonic_ms()) < until) {
		int n = poll(&p, 1, (int)(until - now));

		if (n > 0) {
			rc = 0;
			break;
		}
		if (n < 0 && errno != EINTR)
			break;
	}
	close(fd);
	return rc;
}

/* The stop timeout of a running agent's frozen template, in ms. */
static int64_t
stop_timeout_of(const char *home, const char *id)
{
	char *path = agentdir_path(home, id, AGENTDIR_TEMPLATE);
	json_t *doc = path ? json_load_file(path, 0, NULL) : NULL;
	const char *t = json_string_value(json_object_get(json_object_get(
	    json_object_get(doc, "runtime"), "stop"), "timeout"));
	int64_t ms = TEMPLATE_STOP_TIMEOUT_MS;

	if (t != NULL)
		config_parse_duration(t, &ms, NULL);
	json_decref(doc);
	free(path);
	return ms;
}

static const char *
member_string(const json_t *req, const char *key, bool required,
    json_t **error)
{
	const json_t *v = json_object_get(req, key);

	if ((v == NULL || json_is_null(v)) && !required)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0) {
		*error = fail(EX_USAGE, v == NULL ? "missing field \"%s\"" :
		    "field \"%s\": expected a non-empty string", key);
		return NULL;
	}
	return json_string_value(v);
}

/* The agent id a request names, checked; NULL with *error set. */
static const char *
member_id(const json_t *req, json_t **error)
{
	const char *id = member_string(req, "id", true, error);

	if (id != NULL && !template_id_valid(id)) {
		*error = fail(EX_USAGE, "invalid agent id '%.128s'", id);
		return NULL;
	}
	return id;
}

/* A list of strings from a request member (array), as a NULL-terminated
 * array of borrowed strings; for env, an object becomes "K=V" (owned by
 * *keep). */
static int
member_strings(const json_t *req, const char *key, bool object,
    const char ***out, size_t *n, json_t *keep, json_t **error)
{
	const json_t *v = json_object_get(req, key), *e;
	const char *k;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (object ? !json_is_object(v) : !json_is_array(v)) {
		*error = fail(EX_USAGE, "field \"%s\": expected %s", key,
		    object ? "an object of strings" : "a list of strings");
		return -1;
	}
	*out = calloc(json_is_array(v) ? json_array_size(v) + 1 :
	    json_object_size(v) + 1, sizeof **out);
	if (*out == NULL) {
		*error = fail(EX_OSERR, "out of memory");
		return -1;
	}
	if (!object) {
		json_array_foreach(v, i, e) {
			if (!json_is_string(e))
				goto bad;
			(*out)[i] = json_string_value(e);
		}
		*n = json_array_size(v);
		return 0;
	}
	json_object_foreach((json_t *)v, k, e) {
		char *kv;

		if (!json_is_string(e) || *k == '\0' || strchr(k, '=') != NULL ||
		    asprintf(&kv, "%s=%s", k, json_string_value(e)) < 0)
			goto bad;
		json_array_append_new(keep, json_string(kv));
		free(kv);
		(*out)[i++] = json_string_value(json_array_get(keep,
		    json_array_size(keep) - 1));
	}
	*n = i;
	return 0;
bad:
	free(*out);
	*out = NULL;
	*error = fail(EX_USAGE, "field \"%s\": expected %s", key,
	    object ? "an object of strings" : "a list of strings");
	return -1;
}

void
spawn_launch_base(struct spawn_ctx *c, struct launch_request *r)
{
	spawn_ctx_settings(c);
	*r = (struct launch_request){
		.home = c->paths.home, .runtime = c->paths.runtime,
		.config = c->paths.config, .ctx = &c->tctx, .memo = c->memo,
		.self_exe = c->self_exe[0] ? c->self_exe : NULL,
		.log_max = c->settings->log_max, .log_keep = c->settings->log_keep,
	};
}

static json_t *
do_spawn(struct spawn_ctx *c, const json_t *req)
{
	struct launch_request r;
	const char **args = NULL, **env = NULL;
	json_t *error = NULL, *keep = json_array(), *resp;
	struct launch_result res;
	struct starry_err err;
	char *cached = NULL;
	int rc;

	spawn_launch_base(c, &r);
	r.template = member_string(req, "template", true, &error);
	if (error == NULL)
		r.id = member_string(req, "id", false, &error);
	if (error == NULL)
		r.trace_id = member_string(req, "traceId", false, &error);
	if (error == NULL)
		r.session_id = member_string(req, "sessionId", false, &error);
	if (error == NULL)
		r.cause_id = member_string(req, "causeId", false, &error);
	if (error == NULL && json_object_get(req, "restore") != NULL &&
	    !json_is_boolean(json_object_get(req, "restore")))
		error = fail(EX_USAGE, "field \"restore\": expected true or false");
	r.restore = json_is_true(json_object_get(req, "restore"));
	if (error == NULL &&
	    member_strings(req, "args", false, &args, &r.nargs, keep, &error) == 0)
		member_strings(req, "env", true, &env, &r.nenv, keep, &error);
	if (error != NULL) {
		resp = error;
		goto out;
	}
	r.args = (char *const *)args;
	r.env = (char *const *)env;
	if (r.id != NULL && !template_id_valid(r.id)) {
		resp = fail(EX_USAGE, "invalid agent id '%s'", r.id);
		goto out;
	}
	if (c->spare != NULL && c->spare->pid > 0)
		rc = launch_spare_use(c->spare, &r, &res, &err);
	else
		rc = launch_agent(&r, &res, &err);
	if (rc < 0 && err.code == EX_CONFIG && c->degraded_ok &&
	    strchr(r.template, '/') == NULL &&
	    (cached = template_cache_path(c->paths.home, r.template)) != NULL &&
	    access(cached, R_OK) == 0) {
		/* Degraded boot (spec 13): the last valid version stands in. */
		diag_warn("%s; using its cached version %s", err.msg, cached);
		r.template_file = cached;
		rc = launch_agent(&r, &res, &err);
	}
	if (rc < 0) {
		resp = spawn_error_response(&err);
		goto out;
	}
	resp = ok(json_pack("{s:s, s:s, s:I, s:I, s:b}", "id", res.id, "template",
	    res.template, "pid", (json_int_t)res.pid, "supervisor",
	    (json_int_t)res.supervisor, "degraded", r.template_file != NULL));
out:
	free(cached);
	free(args);
	free(env);
	json_decref(keep);
	return resp;
}

/* Wait until the supervisor of id (pid sup) has stopped it and gone:
 * the answer to a stop, with the agent's final status. */
static json_t *
stop_finish(struct spawn_ctx *c, const char *id, pid_t sup)
{
	struct starry_err err;
	json_t *view;

	if (wait_gone(sup, stop_timeout_of(c->paths.home, id) +
	    SPAWN_STOP_EXTRA_MS) < 0)
		return fail(EX_TEMPFAIL, "agent %s: its supervisor (pid %ld) has "
		    "not finished stopping it", id, (long)sup);
	view = spawn_agent_view(c->paths.home, id, &err);
	return view ? ok(view) : spawn_error_response(&err);
}

/* With "wait": false the answer comes at once ({id, supervisor, state:
 * stopping}), and the one who asked waits: the daemon does not. */
static json_t *
do_stop(struct spawn_ctx *c, const json_t *req)
{
	const json_t *w = json_object_get(req, "wait");
	json_t *error = NULL;
	const char *id = member_id(req, &error);
	struct starry_err err;
	pid_t sup;

	if (id == NULL)
		return error;
	if (w != NULL && !json_is_boolean(w))
		return fail(EX_USAGE, "field \"wait\": expected true or false");
	if (!agentdir_supervised(c->paths.home, id, &sup))
		return fail(EX_NEGATIVE, "agent %s is not running", id);
	if (agentdir_control(c->paths.home, id, "stop", &err) < 0)
		return spawn_error_response(&err);
	if (json_is_false(w))
		return ok(json_pack("{s:s, s:I, s:s}", "id", id, "supervisor",
		    (json_int_t)sup, "state", "stopping"));
	return stop_finish(c, id, sup);
}

static json_t *
do_kill(struct spawn_ctx *c, const json_t *req)
{
	json_t *error = NULL, *s = json_object_get(req, "signal");
	const char *id = member_id(req, &error);
	struct starry_err err;
	char line[32];
	int sig = SIGTERM;

	if (id == NULL)
		return error;
	if (json_is_string(s))
		sig = template_signal_number(json_string_value(s));
	else if (json_is_integer(s))
		sig = json_integer_value(s) > 0 && json_integer_value(s) < 65 ?
		    (int)json_integer_value(s) : -1;
	else if (s != NULL)
		sig = -1;
	if (sig <= 0)
		return fail(EX_USAGE, "field \"signal\": expected a signal name "
		    "(TERM, KILL, HUP, ...) or number");
	snprintf(line, sizeof line, "kill %d", sig);
	if (agentdir_control(c->paths.home, id, line, &err) < 0)
		return spawn_error_response(&err);
	return ok(json_pack("{s:s, s:s}", "id", id, "signal",
	    template_signal_name(sig) ? template_signal_name(sig) : "?"));
}

json_t *
spawn_request_again(const json_t *status, const char *id)
{
	const json_t *source = json_object_get(status, "templateSource");

	return json_pack("{s:s, s:O, s:s, s:O?, s:O?, s:O?, s:O?}", "method",
	    "spawn", "template", source ? source : json_object_get(status,
	    "template"), "id", id, "args", json_object_get(status, "args"),
	    "env", json_object_get(status, "env"),
	    "traceId", json_object_get(status, "trace"),
	    "sessionId", json_object_get(status, "session"));
}

static json_t *
do_restart(struct spawn_ctx *c, const json_t *req)
{
	json_t *error = NULL, *view, *again, *resp;
	const char *id = member_id(req, &error);
	struct starry_err err;

	if (id == NULL)
		return error;
	if ((view = spawn_agent_view(c->paths.home, id, &err)) == NULL)
		return spawn_error_response(&err);
	if (json_is_true(json_object_get(view, "supervised"))) {
		resp = do_stop(c, req);
		if (!json_is_true(json_object_get(resp, "ok"))) {
			json_decref(view);
			return resp;
		}
		json_decref(resp);
	}
	/* Anew from its template: a changed file applies now. */
	again = spawn_request_again(view, id);
	json_decref(view);
	if (again == NULL)
		return fail(EX_DATAERR, "agent %s: its status names no template", id);
	resp = do_spawn(c, again);
	json_decref(again);
	return resp;
}

static int
list_one(void *ctx, const char *id)
{
	json_t *list = ctx, *view = spawn_agent_view(
	    json_string_value(json_array_get(list, 0)), id, NULL);

	if (view != NULL)
		json_array_append_new(list, view);
	return 0;
}

static json_t *
do_list(struct spawn_ctx *c)
{
	json_t *list = json_array();
	struct starry_err err;

	/* The home rides in slot 0 for the callback, then goes. */
	json_array_append_new(list, json_string(c->paths.home));
	if (agentdir_each(c->paths.home, list_one, list, &err) < 0) {
		json_decref(list);
		return spawn_error_response(&err);
	}
	json_array_remove(list, 0);
	return ok(list);
}

static json_t *
do_status(struct spawn_ctx *c, const json_t *req)
{
	json_t *error = NULL, *view;
	const char *id = member_id(req, &error);
	struct starry_err err;

	if (id == NULL)
		return error;
	view = spawn_agent_view(c->paths.home, id, &err);
	return view ? ok(view) : spawn_error_response(&err);
}

json_t *
spawn_request_do(struct spawn_ctx *c, const json_t *req)
{
	const char *m = json_string_value(json_object_get(req, "method"));

	spawn_ctx_settings(c);
	if (!json_is_object(req))
		return fail(EX_USAGE, "a request is a JSON object");
	if (m == NULL)
		return fail(EX_USAGE, "missing field \"method\"");
	if (strcmp(m, "spawn") == 0)
		return do_spawn(c, req);
	if (strcmp(m, "stop") == 0)
		return do_stop(c, req);
	if (strcmp(m, "kill") == 0)
		return do_kill(c, req);
	if (strcmp(m, "restart") == 0)
		return do_restart(c, req);
	if (strcmp(m, "list") == 0)
		return do_list(c);
	if (strcmp(m, "status") == 0)
		return do_status(c, req);
	return fail(EX_USAGE, "unknown method \"%.64s\" (spawn, stop, kill, "
	    "restart, list, status)", m);
}

json_t *
spawn_request(struct spawn_ctx *c, const json_t *req)
{
	struct starry_err err;
	json_t *resp = NULL, *stop = NULL;
	const char *m;
	char *path;
	int rc;

	if (c->local)
		return spawn_request_do(c, req);
	if ((path = starry_path_join(c->paths.runtime, SPAWN_SOCK_NAME)) == NULL)
		return fail(EX_OSERR, "out of memory");
	m = json_string_value(json_object_get(req, "method"));
	if (m != NULL && strcmp(m, "stop") == 0 &&
	    json_object_get(req, "wait") == NULL) {
		/* The daemon sends the stop; the waiting is done here, so
		 * that the daemon goes on serving meanwhile. */
		stop = json_deep_copy(req);
		json_object_set_new(stop, "wait", json_false());
	}
	rc = ctlsock_call(path, stop ? stop : req, SPAWN_RESPONSE_MAX, 0, &resp, &err);
	free(path);
	if (rc == -1 && err.code != EX_PROTOCOL) {
		json_decref(stop);
		return spawn_request_do(c, req);	/* no daemon: do it here */
	}
	if (rc == -1)
		resp = fail(EX_UNAVAILABLE, "%s", err.msg);
	if (stop != NULL && json_is_true(json_object_get(resp, "ok"))) {
		const json_t *r = json_object_get(resp, "result");
		json_t *done = stop_finish(c, json_string_value(json_object_get(r,
		    "id")), (pid_t)json_integer_value(json_object_get(r,
		    "supervisor")));

		json_decref(resp);
		resp = done;
	}
	json_decref(stop);
	return resp;
}
