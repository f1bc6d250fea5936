/* Drivers: see driver.h. driver_argv returns a malloc'd NULL-terminated
 * array of malloc'd strings (template_argv_free frees it) and
 * driver_plugin_path a malloc'd string; the template, the command and the
 * agent's folder are borrowed. driver_apply_limits allocates nothing: it
 * runs between fork and exec. No json_t * passes through here.
 *
 * The sandbox binds the host's / read-only. bwrap cannot make a mount
 * point in a read-only tree, so when plugins need /plugins/NAME the root
 * is instead bwrap's own tmpfs holding each top-level entry of the host's
 * / (read-only binds and symbolic links), remounted read-only at the end. */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "driver.h"

#define BWRAP_TRIAL_MS 2000
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static void
why_set(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

static bool
is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    access(path, X_OK) == 0;
}

/* Where execvp would find name: the first executable file of that name
 * in $PATH (an empty element is the current folder). A name with a '/'
 * is taken as it is. */
static bool
find_on_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p, *colon;
	size_t dlen;
	int n;

	if (strchr(name, '/') != NULL) {
		n = snprintf(out, cap, "%s", name);
		return n >= 0 && (size_t)n < cap && is_executable(out);
	}
	if (path == NULL || *path == '\0')
		path = DEFAULT_PATH;
	for (p = path; ; p = colon + 1) {
		colon = strchr(p, ':');
		dlen = colon ? (size_t)(colon - p) : strlen(p);
		if (dlen == 0)
			n = snprintf(out, cap, "%s", name);
		else
			n = snprintf(out, cap, "%.*s/%s", (int)dlen, p, name);
		if (n >= 0 && (size_t)n < cap && is_executable(out))
			return true;
		if (colon == NULL)
			return false;
	}
}

/* The first line of bwrap's output, without its "bwrap: " prefix. */
static const char *
first_line(char *out)
{
	out[strcspn(out, "\n")] = '\0';
	if (strncmp(out, "bwrap: ", 7) == 0)
		out += 7;
	return out;
}

static void
read_some(int fd, char *out, size_t cap, size_t *len, bool *eof)
{
	char scrap[512];
	ssize_t n;

	if (*len < cap - 1)
		n = read(fd, out + *len, cap - 1 - *len);
	else
		n = read(fd, scrap, sizeof scrap);	/* past the first line */
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		*eof = true;
	else if (n > 0 && *len < cap - 1)
		*len += (size_t)n;
	out[*len] = '\0';
}

/* Wait for pid (and its output on fd) until the deadline: with a pidfd
 * when the kernel has them, else until the output ends. Returns 0 with
 * *status, or -1 when the deadline passed. */
static int
wait_with_output(pid_t pid, int fd, char *out, size_t cap, int *status)
{
	struct pollfd pfd[2];
	int64_t deadline = monotonic_ms() + BWRAP_TRIAL_MS, left;
	size_t len = 0;
	bool eof = false, exited = false;
	int pidfd = -1, n, fl;

#ifdef SYS_pidfd_open
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
	out[0] = '\0';
	while (!exited && (left = deadline - monotonic_ms()) > 0) {
		n = 0;
		if (!eof)
			pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (pidfd >= 0)
			pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (n == 0) {
			/* Output closed, no pidfd: bwrap is on its way out. */
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			exited = true;
			break;
		}
		if (poll(pfd, n, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!eof && pfd[0].revents)
			read_some(fd, out, cap, &len, &eof);
		if (pidfd >= 0 && pfd[n - 1].revents &&
		    waitpid(pid, status, WNOHANG) == pid)
			exited = true;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (!exited) {
		kill(pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	/* What bwrap wrote before it ended is in the pipe now. */
	if ((fl = fcntl(fd, F_GETFL)) >= 0 &&
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
		while (!eof)
			read_some(fd, out, cap, &len, &eof);
	return 0;
}

/* Run bwrap once with the namespaces the sandbox uses. */
static bool
bwrap_trial(const char *bwrap, char *why, size_t cap)
{
	char *const argv[] = { (char *)bwrap, "--unshare-pid", "--unshare-ipc",
	    "--unshare-uts", "--unshare-net", "--ro-bind", "/", "/", "--proc",
	    "/proc", "--dev", "/dev", "--die-with-parent", "true", NULL };
	char out[512];
	const char *said;
	pid_t pid;
	int fds[2], status = 0, nullfd, rc;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		why_set(why, cap, "cannot try bwrap: pipe: %s", strerror(errno));
		return false;
	}
	if ((pid = fork()) < 0) {
		why_set(why, cap, "cannot try bwrap: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		/* Only async-signal-safe calls from here to exec. */
		if ((nullfd = open("/dev/null", O_RDONLY)) < 0 ||
		    dup2(nullfd, 0) < 0 || dup2(fds[1], 1) < 0 ||
		    dup2(fds[1], 2) < 0)
			_exit(127);
		if (nullfd > 2)
			close(nullfd);
		execv(bwrap, argv);
		_exit(127);
	}
	close(fds[1]);
	rc = wait_with_output(pid, fds[0], out, sizeof out, &status);
	close(fds[0]);
	if (rc < 0) {
		why_set(why, cap, "bwrap cannot create namespaces: no answer "
		    "within %d s", BWRAP_TRIAL_MS / 1000);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (*(said = first_line(out)) != '\0')
		why_set(why, cap, "bwrap cannot create namespaces: %s", said);
	else if (WIFSIGNALED(status))
		why_set(why, cap, "bwrap cannot create namespaces: killed by "
		    "signal %d", WTERMSIG(status));
	else
		why_set(why, cap, "bwrap cannot create namespaces: exit status %d",
		    WEXITSTATUS(status));
	return false;
}

static bool
sandbox_available(char *why, size_t cap)
{
	char bwrap[PATH_MAX];

	if (!find_on_path("bwrap", bwrap, sizeof bwrap)) {
		why_set(why, cap, "bwrap not found on PATH");
		return false;
	}
	return bwrap_trial(bwrap, why, cap);
}

static void
docker_unavailable(char *why, size_t cap)
{
	const char *cli = getenv("STARRY_DOCKER");
	char path[PATH_MAX];

	if (cli == NULL || *cli == '\0')
		cli = "docker";
	if (find_on_path(cli, path, sizeof path))
		why_set(why, cap, "this build has no docker driver (%s is at %s)",
		    cli, path);
	else
		why_set(why, cap, "this build has no docker driver (and %s is "
		    "not on PATH)", cli);
}

static void
wasm_unavailable(char *why, size_t cap)
{
	static const char *const runtimes[] = { "wasmtime", "wasmer", "iwasm",
	    "node" };
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++)
		if (find_on_path(runtimes[i], path, sizeof path)) {
			why_set(why, cap, "this build has no wasm driver (%s is "
			    "at %s)", runtimes[i], path);
			return;
		}
	why_set(why, cap, "this build has no wasm driver (and no WASI runtime "
	    "on PATH: wasmtime, wasmer, iwasm, node)");
}

bool
driver_available(enum template_driver d, char *why, size_t cap)
{
	why_set(why, cap, "%s", "");
	switch (d) {
	case TEMPLATE_DRIVER_PROCESS:
		return true;
	case TEMPLATE_DRIVER_SANDBOX:
		return sandbox_available(why, cap);
	case TEMPLATE_DRIVER_DOCKER:
		docker_unavailable(why, cap);
		return false;
	case TEMPLATE_DRIVER_WASM:
		wasm_unavailable(why, cap);
		return false;
	}
	why_set(why, cap, "unknown driver %d", (int)d);
	return false;
}

/* An argv under construction; after a failed push only free it. */
struct argv_build {
	char **v;
	size_t n, cap;
	bool failed;
};

static void
push(struct argv_build *b, const char *s)
{
	char **v;
	size_t cap;

	if (b->failed)
		return;
	if (b->n + 2 > b->cap) {
		cap = b->cap ? b->cap * 2 : 32;
		if ((v = realloc(b->v, cap * sizeof *v)) == NULL) {
			b->failed = true;
			return;
		}
		b->v = v;
		b->cap = cap;
	}
	if ((b->v[b->n] = strdup(s)) == NULL) {
		b->failed = true;
		return;
	}
	b->v[++b->n] = NULL;
}

static void
push3(struct argv_build *b, const char *opt, const char *a, const char *c)
{
	push(b, opt);
	push(b, a);
	push(b, c);
}

static char **
argv_finish(struct argv_build *b, struct starry_err *err)
{
	size_t i;

	if (!b->failed && b->v != NULL)
		return b->v;
	for (i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
	starry_err_set(err, EX_OSERR, "out of memory");
	return NULL;
}

/* A plugin's name becomes /plugins/NAME: one path component. */
static bool
plugin_name_safe(const char *name)
{
	return name != NULL && *name != '\0' && strchr(name, '/') == NULL &&
	    strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static bool
has_plugin_paths(const struct template *t)
{
	size_t i;

	for (i = 0; i < t->nplugins; i++)
		if (t->plugins[i].path != NULL)
			return true;
	return false;
}

static int
skip_dots(const struct dirent *de)
{
	return strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
}

/* The host's / entry by entry, but for what the sandbox mounts itself. */
static int
push_root_entries(struct argv_build *b, struct starry_err *err)
{
	static const char *const own[] = { "dev", "plugins", "proc", "tmp" };
	struct dirent **names;
	struct stat st;
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t tlen;
	size_t j;
	int i, n;

	if ((n = scandir("/", &names, skip_dots, alphasort)) < 0)
		return starry_err_sys(err, EX_OSERR, "scandir /");
	for (i = 0; i < n; i++) {
		for (j = 0; j < sizeof own / sizeof own[0]; j++)
			if (strcmp(names[i]->d_name, own[j]) == 0)
				break;
		snprintf(path, sizeof path, "/%s", names[i]->d_name);
		if (j < sizeof own / sizeof own[0] || lstat(path, &st) < 0)
			continue;	/* ours, or gone since scandir */
		if (S_ISLNK(st.st_mode) &&
		    (tlen = readlink(path, target, sizeof target - 1)) > 0) {
			target[tlen] = '\0';
			push3(b, "--symlink", target, path);
		} else if (!S_ISLNK(st.st_mode))
			push3(b, "--ro-bind", path, path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

/* A folder under /tmp, which the sandbox replaces with its own, is bound
 * read-only at its place. */
static void
bind_if_hidden(struct argv_build *b, const char *dir)
{
	if (dir != NULL && strncmp(dir, "/tmp/", 5) == 0)
		push3(b, "--ro-bind", dir, dir);
}

static char **
sandbox_argv(const struct template *t, char *const *command,
    const char *agent_dir, struct starry_err *err)
{
	struct argv_build b = { 0 };
	char bwrap[PATH_MAX], dest[PATH_MAX];
	bool own_root = has_plugin_paths(t);
	size_t i;

	if (agent_dir == NULL || agent_dir[0] != '/') {
		starry_err_set(err, EX_SOFTWARE, "sandbox: the agent's folder "
		    "must be an absolute path");
		return NULL;
	}
	for (i = 0; i < t->nplugins; i++)
		if (t->plugins[i].path != NULL &&
		    !plugin_name_safe(t->plugins[i].name)) {
			starry_err_set(err, EX_CONFIG, "sandbox: plugin name '%s' "
			    "cannot name a folder in /plugins",
			    t->plugins[i].name ? t->plugins[i].name : "");
			return NULL;
		}
	if (!find_on_path("bwrap", bwrap, sizeof bwrap)) {
		starry_err_set(err, EX_UNAVAILABLE, "bwrap not found on PATH");
		return NULL;
	}
	push(&b, bwrap);
	push(&b, "--unshare-pid");
	push(&b, "--unshare-ipc");
	push(&b, "--unshare-uts");
	if (!t->network)
		push(&b, "--unshare-net");
	/* No --new-session: the agent stays in the supervisor's process
	 * group, so a stop signal reaches it (see driver_wrappers). */
	push(&b, "--die-with-parent");
	if (!own_root)
		push3(&b, "--ro-bind", "/", "/");
	else if (push_root_entries(&b, err) < 0) {
		b.failed = true;
		argv_finish(&b, NULL);
		return NULL;
	}
	push(&b, "--proc");
	push(&b, "/proc");
	push(&b, "--dev");
	push(&b, "/dev");
	push(&b, "--tmpfs");
	push(&b, "/tmp");
	/* What the agent runs from must not vanish under its own /tmp: the
	 * template's folder and its command's, read-only. */
	bind_if_hidden(&b, t->dir);
	if (command[0] != NULL && command[0][0] == '/') {
		const char *slash = strrchr(command[0], '/');

		snprintf(dest, sizeof dest, "%.*s", (int)(slash - command[0]),
		    command[0]);
		if (strcmp(dest, t->dir != NULL ? t->dir : "") != 0)
			bind_if_hidden(&b, dest);
	}
	push3(&b, "--bind", agent_dir, agent_dir);
	for (i = 0; i < t->nplugins; i++) {
		if (t->plugins[i].path == NULL)
			continue;
		snprintf(dest, sizeof dest, "/plugins/%s", t->plugins[i].name);
		push3(&b, "--ro-bind", t->plugins[i].path, dest);
	}
	if (own_root) {
		push(&b, "--remount-ro");
		push(&b, "/");
	}
	push(&b, "--chdir");
	push(&b, agent_dir);
	push(&b, "--");
	for (i = 0; command[i] != NULL; i++)
		push(&b, command[i]);
	return argv_finish(&b, err);
}

char **
driver_argv(const struct template *t, char *const *command,
    const char *agent_dir, struct starry_err *err)
{
	struct argv_build b = { 0 };
	char why[512];
	size_t i;

	if (command == NULL || command[0] == NULL) {
		starry_err_set(err, EX_SOFTWARE, "driver: no command to run");
		return NULL;
	}
	switch (t->driver) {
	case TEMPLATE_DRIVER_PROCESS:
		for (i = 0; command[i] != NULL; i++)
			push(&b, command[i]);
		return argv_finish(&b, err);
	case TEMPLATE_DRIVER_SANDBOX:
		return sandbox_argv(t, command, agent_dir, err);
	case TEMPLATE_DRIVER_DOCKER:
	case TEMPLATE_DRIVER_WASM:
		break;
	}
	driver_available(t->driver, why, sizeof why);
	starry_err_set(err, EX_UNAVAILABLE, "%s", why);
	return NULL;
}

char *
driver_plugin_path(const struct template *t)
{
	size_t i, len = 1, off = 0;
	bool sandbox = t->driver == TEMPLATE_DRIVER_SANDBOX;
	char *s;
	int n;

	for (i = 0; i < t->nplugins; i++)
		if (t->plugins[i].path != NULL)
			len += 1 + (sandbox ? strlen("/plugins/") +
			    strlen(t->plugins[i].name) : strlen(t->plugins[i].path));
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < t->nplugins; i++) {
		if (t->plugins[i].path == NULL)
			continue;
		n = snprintf(s + off, len - off, "%s%s%s", off ? ":" : "",
		    sandbox ? "/plugins/" : "", sandbox ? t->plugins[i].name :
		    t->plugins[i].path);
		off += (size_t)n;
	}
	return s;
}

/* starry_err_sys may reach strerror, whose translation can allocate;
 * between fork and exec only snprintf into the fixed buffer. */
static int
limit_failed(struct starry_err *err, const char *name, unsigned long long v)
{
	int errnum = errno;

	if (err == NULL)
		return -1;
	err->code = EX_OSERR;
#if defined(__GLIBC__) && __GLIBC__ * 100 + __GLIBC_MINOR__ >= 232
	snprintf(err->msg, sizeof err->msg, "setrlimit %s %llu: %s", name, v,
	    strerrordesc_np(errnum) ? strerrordesc_np(errnum) : "unknown error");
#else
	snprintf(err->msg, sizeof err->msg, "setrlimit %s %llu: errno %d", name,
	    v, errnum);
#endif
	errno = errnum;
	return -1;
}

static int
set_limit(int resource, const char *name, rlim_t soft, rlim_t hard,
    struct starry_err *err)
{
	struct rlimit rl = { .rlim_cur = soft, .rlim_max = hard };

	if (setrlimit(resource, &rl) < 0)
		return limit_failed(err, name, (unsigned long long)soft);
	return 0;
}

int
driver_apply_limits(const struct template *t, struct starry_err *err)
{
	rlim_t secs;

	if (t->limit_memory > 0 && set_limit(RLIMIT_AS, "RLIMIT_AS",
	    (rlim_t)t->limit_memory, (rlim_t)t->limit_memory, err) < 0)
		return -1;
	if (t->limit_cpu_ms > 0) {
		/* SIGXCPU at the soft limit, SIGKILL five seconds later. */
		secs = (rlim_t)((t->limit_cpu_ms + 999) / 1000);
		if (set_limit(RLIMIT_CPU, "RLIMIT_CPU", secs, secs + 5, err) < 0)
			return -1;
	}
	if (t->limit_nofile > 0 && set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE",
	    (rlim_t)t->limit_nofile, (rlim_t)t->limit_nofile, err) < 0)
		return -1;
	return 0;
}

unsigned
driver_wrappers(enum template_driver d)
{
	/* bwrap with --unshare-pid: the monitor, then init of the new
	 * pid namespace, then the command. */
	return d == TEMPLATE_DRIVER_SANDBOX ? 2 : 0;
}
