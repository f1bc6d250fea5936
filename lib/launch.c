/* Starting a supervised agent: see launch.h. The template loaded here is
 * freed here; the forked supervisor has its own copy of the memory. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentdir.h"
#include "driver.h"
#include "launch.h"
#include "supervise.h"

#define LAUNCH_READY_FD 3		/* the pipe's end in the supervisor */

int
launch_load_template(const struct launch_request *r, struct template **out,
    struct starry_err *err)
{
	const char *name = r->template;
	char *path = NULL, why[256];
	struct template *t;
	int rc;

	if (r->template_file != NULL) {
		rc = template_load(r->template_file, name, r->ctx, &t, err);
	} else {
		if (template_find(r->config, name, &path, err) < 0)
			return -1;
		/* A path names a file: its name is the file's. */
		rc = template_load(path, strchr(name, '/') ? NULL : name, r->ctx,
		    &t, err);
		free(path);
	}
	if (rc < 0)
		return -1;
	if (!driver_available(t->driver, why, sizeof why)) {
		starry_err_set(err, EX_UNAVAILABLE, "template %s needs the %s "
		    "driver: %s", t->name, template_driver_name(t->driver), why);
		template_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* The supervisor is a fork of its caller, and lives as long as its
 * agent: the caller's heap and stack pages that it will not use go back
 * to the system, so that they do not stay as its private memory. */
static void
launch_shed_memory(void)
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

/* In the forked child: become the agent's supervisor. Never returns. */
static void
launch_child(const struct launch_request *r, const struct template *t,
    const char *id, int ready)
{
	struct supervise_options o = {
		.home = r->home, .runtime = r->runtime, .config = r->config,
		.id = id, .template = t, .template_source = r->template, .args = r->args, .nargs = r->nargs,
		.env = r->env, .nenv = r->nenv, .trace_id = r->trace_id,
		.session_id = r->session_id, .cause_id = r->cause_id,
		.ready_fd = LAUNCH_READY_FD, .self_exe = r->self_exe,
		.log_max = r->log_max, .log_keep = r->log_keep,
		.restore = r->restore,
	};
	struct starry_err err;
	char line[sizeof err.msg + 16];
	int null, rc, n;

	/* Nothing of the caller's stays open: not its terminal, not a
	 * pipe someone reads to the end, not the daemon's sockets. */
	if ((ready = fcntl(ready, F_DUPFD_CLOEXEC, LAUNCH_READY_FD + 1)) < 0 ||
	    (null = open("/dev/null", O_RDWR)) < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
	    dup3(ready, LAUNCH_READY_FD, O_CLOEXEC) < 0)
		_exit(EX_OSERR);
	if (close_range(LAUNCH_READY_FD + 1, ~0u, 0) < 0)
		for (long fd = LAUNCH_READY_FD + 1; fd < sysconf(_SC_OPEN_MAX); fd++)
			close((int)fd);
	if (setsid() < 0)
		_exit(EX_OSERR);
	launch_shed_memory();
	if (agentdir_lock(r->home, id, &o.lock_fd, &err) < 0)
		goto fail;
	rc = supervise(&o, &err);
	if (rc >= 0)
		_exit(rc);
fail:
	n = snprintf(line, sizeof line, "!%d %s\n", err.code, err.msg);
	if (write(LAUNCH_READY_FD, line, (size_t)n) != n)
		_exit(err.code);
	_exit(err.code);
}

/* The supervisor's one line: "PID" or "!CODE MESSAGE". */
static int
launch_wait_ready(int fd, pid_t child, struct launch_result *res,
    struct starry_err *err)
{
	char line[2048];
	size_t len = 0;
	ssize_t n;
	int status, code;

	while (len < sizeof line - 1) {
		n = read(fd, line + len, sizeof line - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len) != NULL)
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (len > 0 && line[0] != '!') {
		res->pid = (pid_t)strtol(line, NULL, 10);
		res->supervisor = child;
		return 0;
	}
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (len > 0 && sscanf(line, "!%d", &code) == 1) {
		char *msg = strchr(line, ' ');

		return starry_err_set(err, code, "%s", msg ? msg + 1 : "failed");
	}
	return starry_err_set(err, EX_SOFTWARE, "the supervisor of %s ended "
	    "before the agent started (status %d)", res->id,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

int
launch_agent(const struct launch_request *r, struct launch_result *res,
    struct starry_err *err)
{
	struct template *t = NULL;
	const char *id;
	int ready[2] = {-1, -1}, rc = -1;
	pid_t pid;

	memset(res, 0, sizeof *res);
	if (launch_load_template(r, &t, err) < 0)
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
	template_free(t);
	return rc;
}
