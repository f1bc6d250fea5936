/* Starting a supervised agent: see launch.h. The template loaded here is
 * freed here; the forked supervisor has its own copy of the memory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdnoreturn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "agentdir.h"
#include "driver.h"
#include "fdio.h"
#include "launch.h"
#include "supervise.h"

#define LAUNCH_READY_FD 3		/* the pipe's end in the supervisor */

int
launch_load_template(const struct launch_request *r,
    const struct template **out, struct template **owned,
    struct starry_err *err)
{
	const char *name = r->template;
	const struct template *t;
	char *path = NULL, why[256];
	struct template *mine = NULL;
	int rc;

	*out = NULL;
	*owned = NULL;
	if (r->template_file != NULL) {
		rc = template_load(r->template_file, name, r->ctx, &mine, err);
		t = mine;
	} else {
		if (template_find(r->config, name, &path, err) < 0)
			return -1;
		/* A path names a file: its name is the file's. */
		if (strchr(name, '/') != NULL)
			name = NULL;
		if (r->memo != NULL) {
			rc = template_memo_load(r->memo, path, name, r->ctx, &t,
			    err);
		} else {
			rc = template_load(path, name, r->ctx, &mine, err);
			t = mine;
		}
		free(path);
	}
	if (rc < 0)
		return -1;
	if (!driver_available(t->driver, why, sizeof why)) {
		starry_err_set(err, EX_UNAVAILABLE, "template %s needs the %s "
		    "driver: %s", t->name, template_driver_name(t->driver), why);
		template_free(mine);
		return -1;
	}
	*out = t;
	*owned = mine;
	return 0;
}

/* In a forked child: leave the caller (its stdio, its fds but keep[],
 * which become 3, 4, ..., its session). Its unused memory is left later,
 * out of the way of the agent's start (supervise_options.shed). */
static void
launch_detach(int *keep, int nkeep)
{
	int null;

	/* Out of the way of the numbers they are going to. */
	for (int i = 0; i < nkeep; i++)
		if ((keep[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, 3 + nkeep)) < 0)
			_exit(EX_OSERR);
	/* Nothing of the caller's stays open: not its terminal, not a
	 * pipe someone reads to the end, not the daemon's sockets. */
	if ((null = open("/dev/null", O_RDWR)) < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0 || dup2(null, 2) < 0)
		_exit(EX_OSERR);
	for (int i = 0; i < nkeep; i++)
		if (dup3(keep[i], 3 + i, O_CLOEXEC) < 0)
			_exit(EX_OSERR);
	if (close_range(3 + (unsigned)nkeep, ~0u, 0) < 0)
		for (long fd = 3 + nkeep; fd < sysconf(_SC_OPEN_MAX); fd++)
			close((int)fd);
	if (setsid() < 0)
		_exit(EX_OSERR);
}

/* Tell whoever waits on LAUNCH_READY_FD why not, and go. */
static noreturn void
launch_fail(const struct starry_err *err)
{
	char line[sizeof err->msg + 16];
	int n = snprintf(line, sizeof line, "!%d %s\n", err->code, err->msg);

	if (write(LAUNCH_READY_FD, line, (size_t)n) != n)
		_exit(err->code);
	_exit(err->code);
}

/* Take the agent's lock and supervise it. Never returns. */
static noreturn void
launch_supervise(const struct launch_request *r, const struct template *t,
    const char *id, bool shed)
{
	struct supervise_options o = {
		.home = r->home, .runtime = r->runtime, .config = r->config,
		.id = id, .template = t, .template_source = r->template,
		.args = r->args, .nargs = r->nargs, .env = r->env,
		.nenv = r->nenv, .trace_id = r->trace_id,
		.session_id = r->session_id, .cause_id = r->cause_id,
		.ready_fd = LAUNCH_READY_FD, .self_exe = r->self_exe,
		.log_max = r->log_max, .log_keep = r->log_keep,
		.restore = r->restore, .shed = shed,
	};
	struct starry_err err;
	int rc;

	if (agentdir_lock(r->home, id, &o.lock_fd, &err) < 0)
		launch_fail(&err);
	rc = supervise(&o, &err);
	if (rc < 0)
		launch_fail(&err);
	_exit(rc);
}

/* In the forked child: become the agent's supervisor. Never returns. */
static noreturn void
launch_child(const struct launch_request *r, const struct template *t,
    const char *id, int ready)
{
	launch_detach(&ready, 1);
	launch_supervise(r, t, id, true);
}

/* What the supervisor says: "PID", or "!CODE MESSAGE"; a spare first
 * says "=ID TEMPLATE", the agent it took on. */
static int
launch_wait_ready(int fd, pid_t child, struct launch_result *res,
    struct starry_err *err)
{
	char buf[4096], *line = buf, *nl;
	size_t len = 0;
	ssize_t n;
	int status, code;

	for (;;) {
		while ((nl = memchr(line, '\n', len - (size_t)(line - buf))) == NULL) {
			if (len == sizeof buf - 1)
				break;
			n = read(fd, buf + len, sizeof buf - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		buf[len] = '\0';
		if (nl == NULL)
			break;
		*nl = '\0';
		if (line[0] != '=')
			break;
		if (sscanf(line, "=%71s %255s", res->id, res->template) < 1)
			break;
		line = nl + 1;
	}
	if (line[0] != '\0' && line[0] != '!' && line[0] != '=') {
		res->pid = (pid_t)strtol(line, NULL, 10);
		res->supervisor = child;
		return 0;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (sscanf(line, "!%d", &code) == 1) {
		char *msg = strchr(line, ' ');

		return starry_err_set(err, code, "%s", msg ? msg + 1 : "failed");
	}
	return starry_err_set(err, EX_SOFTWARE, "the supervisor of %s ended "
	    "before the agent started (status %d)", res->id[0] ? res->id : "an "
	    "agent", WIFEXITED(status) ? WEXITSTATUS(status) :
	    128 + WTERMSIG(status));
}

int
launch_agent(const struct launch_request *r, struct launch_result *res,
    struct starry_err *err)
{
	const struct template *t;
	struct template *owned = NULL;
	const char *id;
	int ready[2] = {-1, -1}, rc = -1;
	pid_t pid;

	memset(res, 0, sizeof *res);
	if (launch_load_template(r, &t, &owned, err) < 0)
		return -1;
	id = r->id ? r->id : t->id;
	if (!template_id_valid(id)) {
		starry_err_set(err, EX_USAGE, "invalid agent id '%s': 1 to 64 "
		    "letters, digits, '.', '_' or '-', not first '.' or '-'", id);
		goto out;
	}
	snprintf(res->id, sizeof res->id, "%s", id);
	snprintf(res->template, sizeof res->template, "%s", t->name);
	if (pipe2(ready, O_CLOEXEC) < 0) {
		starry_err_sys(err, EX_OSERR, "cannot make a pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		starry_err_sys(err, EX_OSERR, "cannot fork");
		goto out;
	}
	if (pid == 0) {
		close(ready[0]);
		launch_child(r, t, id, ready[1]);
	}
	close(ready[1]);
	ready[1] = -1;
	rc = launch_wait_ready(ready[0], pid, res, err);
out:
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	template_free(owned);
	return rc;
}

/* ---- a spare supervisor, forked ahead of need ---- */

#define LAUNCH_REQUEST_FD (LAUNCH_READY_FD + 1)
#define LAUNCH_REQUEST_MAX (4u << 20)

static json_t *
strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The array's strings, borrowed from it, NULL-terminated (malloc'd). */
static char **
json_strings(const json_t *a, size_t *n)
{
	char **v = calloc(json_array_size(a) + 1, sizeof *v);
	const json_t *e;
	size_t i;

	if (v == NULL)
		return NULL;
	json_array_foreach(a, i, e)
		v[i] = (char *)json_string_value(e);
	*n = json_array_size(a);
	return v;
}

/* In the spare: wait for the request, then become its supervisor. */
static noreturn void
launch_spare_wait(const struct launch_request *base)
{
	struct launch_request r = *base;
	struct starry_err err;
	const struct template *t;
	struct template *owned;		/* lives as long as the spare */
	char *text, head[600];
	size_t len;
	json_t *req;
	int k;

	/* All of it: the daemon closes its end after the request. Nothing
	 * at all: dropped unused. */
	if ((text = fdio_read(LAUNCH_REQUEST_FD, LAUNCH_REQUEST_MAX, false,
	    &len)) == NULL)
		_exit(0);
	close(LAUNCH_REQUEST_FD);
	if ((req = json_loadb(text, len, 0, NULL)) == NULL)
		_exit(EX_SOFTWARE);
	free(text);
	r.template = json_string_value(json_object_get(req, "template"));
	r.template_file = json_string_value(json_object_get(req, "file"));
	r.id = json_string_value(json_object_get(req, "id"));
	r.trace_id = json_string_value(json_object_get(req, "trace"));
	r.session_id = json_string_value(json_object_get(req, "session"));
	r.cause_id = json_string_value(json_object_get(req, "cause"));
	r.restore = json_is_true(json_object_get(req, "restore"));
	r.args = json_strings(json_object_get(req, "args"), &r.nargs);
	r.env = json_strings(json_object_get(req, "env"), &r.nenv);
	if (r.template == NULL || r.args == NULL || r.env == NULL)
		_exit(EX_SOFTWARE);
	if (launch_load_template(&r, &t, &owned, &err) < 0)
		launch_fail(&err);
	if (r.id == NULL)
		r.id = t->id;
	if (!template_id_valid(r.id)) {
		starry_err_set(&err, EX_USAGE, "invalid agent id '%s'", r.id);
		launch_fail(&err);
	}
	k = snprintf(head, sizeof head, "=%s %s\n", r.id, t->name);
	if (write(LAUNCH_READY_FD, head, (size_t)k) != k)
		_exit(EX_OSERR);
	launch_supervise(&r, t, r.id, false);
}

int
launch_spare_fork(const struct launch_request *base, struct launch_spare *sp,
    struct starry_err *err)
{
	int ready[2] = {-1, -1}, request[2] = {-1, -1};
	pid_t pid;

	sp->pid = 0;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(request, O_CLOEXEC) < 0) {
		starry_err_sys(err, EX_OSERR, "cannot make a pipe");
		goto fail;
	}
	if ((pid = fork()) < 0) {
		starry_err_sys(err, EX_OSERR, "cannot fork");
		goto fail;
	}
	if (pid == 0) {
		int keep[2] = {ready[1], request[0]};

		launch_detach(keep, 2);
		supervise_shed_memory();	/* while it waits */
		launch_spare_wait(base);
	}
	close(ready[1]);
	close(request[0]);
	sp->pid = pid;
	sp->ready = ready[0];
	sp->request = request[1];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (ready[i] >= 0)
			close(ready[i]);
		if (request[i] >= 0)
			close(request[i]);
	}
	return -1;
}

int
launch_spare_use(struct launch_spare *sp, const struct launch_request *r,
    struct launch_result *res, struct starry_err *err)
{
	json_t *req = json_pack("{s:s, s:s*, s:s*, s:o, s:o, s:s*, s:s*, s:s*, s:b}",
	    "template", r->template, "file", r->template_file, "id", r->id,
	    "args", strings_json(r->args, r->nargs),
	    "env", strings_json(r->env, r->nenv), "trace", r->trace_id,
	    "session", r->session_id, "cause", r->cause_id,
	    "restore", r->restore);
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	pid_t pid = sp->pid;
	int rc;

	json_decref(req);
	memset(res, 0, sizeof *res);
	sp->pid = 0;
	/* One request per spare: its end of the pipe is closed after it. */
	rc = text != NULL && write_all(sp->request, text, strlen(text)) == 0;
	free(text);
	close(sp->request);
	if (!rc) {
		/* Gone or stuck: it is let go, and a fork does the work. */
		close(sp->ready);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return launch_agent(r, res, err);
	}
	rc = launch_wait_ready(sp->ready, pid, res, err);
	close(sp->ready);
	return rc;
}

void
launch_spare_drop(struct launch_spare *sp)
{
	if (sp->pid <= 0)
		return;
	close(sp->request);	/* it reads the end and goes */
	close(sp->ready);
	while (waitpid(sp->pid, NULL, 0) < 0 && errno == EINTR)
		;
	sp->pid = 0;
}
