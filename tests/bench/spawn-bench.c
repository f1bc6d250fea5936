/* spawn-bench: the C helper of the supervision benchmarks (tests/bench/run,
 * sections (h) and (j)). libc only. Times come from CLOCK_MONOTONIC, which
 * every process on the host shares.
 *   spawn-bench lat N WARMUP FIFO LIMIT GAP_MS SYSTEM [// SYSTEM...]
 *       SYSTEM is [NAME=VALUE...] UP... -- DOWN...: the command that starts
 *       the agent, with NAME=VALUE added to its environment (and DOWN's),
 *       and the command that stops it. N + WARMUP rounds (the first
 *       WARMUP are not counted), each a spawn of every system in turn:
 *       GAP_MS after the last command ended, run UP and wait until the
 *       agent wrote the time of its first instruction to FIFO
 *       (first-instruction.c) and UP has exited 0; then run DOWN, untimed,
 *       and wait for it to exit 0. The spawn latency is the agent's time
 *       less the time read in UP's process just before its execve, so
 *       that neither the harness's fork nor its waiting is counted. UP's
 *       own run time (to its exit) is kept too. Each wait is limited to
 *       LIMIT seconds. "%i" in an argument of UP or DOWN becomes the
 *       round's number. Prints for each system, in order, a line "n N
 *       p50_ns X p99_ns Y min_ns A max_ns B mean_ns M ret_p50_ns R
 *       ret_p99_ns S"
 *   spawn-bench each N LIMIT CMD...
 *       run CMD N times, one after the other ("%i" in an argument becomes
 *       1 to N), stdout to /dev/null; print the time from the first fork
 *       to the last reaping in ns. Each run is limited to LIMIT seconds;
 *       one that fails stops the lot (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int devnull = -1;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long
arg_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "spawn-bench: bad number '%s'\n", s);
		exit(64);
	}
	return v;
}

/* argv with "%i" replaced by round in each argument (a new array; the
 * strings that change are new). */
static char **
with_round(char **argv, int argc, long round)
{
	char **out = calloc((size_t)argc + 1, sizeof *out), num[24], *p, *s;
	size_t n;

	if (out == NULL)
		abort();
	snprintf(num, sizeof num, "%ld", round);
	for (int i = 0; i < argc; i++) {
		if ((p = strstr(argv[i], "%i")) == NULL) {
			out[i] = argv[i];
			continue;
		}
		n = strlen(argv[i]) + strlen(num);
		if ((s = malloc(n)) == NULL)
			abort();
		snprintf(s, n, "%.*s%s%s", (int)(p - argv[i]), argv[i], num, p + 2);
		out[i] = s;
	}
	return out;
}

static void
free_round(char **r, char **argv, int argc)
{
	for (int i = 0; i < argc; i++)
		if (r[i] != argv[i])
			free(r[i]);
	free(r);
}

/* One system of cmd_lat: its environment, its UP and its DOWN. */
struct lat_system {
	char **env, **up, **down;
	int nenv, nup, ndown;
	int64_t *lat, *ret, sum;
};

/* Fork and exec argv, stdout to /dev/null, with sys's environment added
 * (sys may be NULL); with stamp, the child writes its CLOCK_MONOTONIC just
 * before execve there. */
static pid_t
start(const struct lat_system *sys, char **argv, volatile int64_t *stamp)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	for (int k = 0; sys != NULL && k < sys->nenv; k++)
		if (putenv(sys->env[k]) != 0)
			_exit(127);
	if (dup2(devnull, 1) < 0)
		_exit(127);
	if (stamp != NULL)
		*stamp = mono_ns();
	execv(argv[0], argv);
	_exit(127);
}

static int
pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Wait for pid until deadline (mono ns); 0 when it exited 0, else -1
 * (killed when late). */
static int
reap(pid_t pid, int64_t deadline, const char *what)
{
	int fd = pidfd_open(pid), status;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int64_t now;

	/* One look at least, even past the deadline. */
	while (fd >= 0) {
		now = mono_ns();
		if (poll(&p, 1, now < deadline ?
		    (int)((deadline - now) / 1000000) + 1 : 0) > 0 ||
		    now >= deadline)
			break;
	}
	if (fd >= 0 && !(p.revents & POLLIN)) {
		kill(pid, SIGKILL);
		fprintf(stderr, "spawn-bench: %s did not finish in time\n", what);
	}
	if (fd >= 0)
		close(fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		fprintf(stderr, "spawn-bench: %s exited %d\n", what,
		    WEXITSTATUS(status));
	else
		fprintf(stderr, "spawn-bench: %s was killed by signal %d\n", what,
		    WTERMSIG(status));
	return -1;
}

/* Read one "NS\n" line from the FIFO (read end non-blocking) by deadline. */
static int
read_stamp(int fifo, int64_t deadline, int64_t *out)
{
	char buf[64];
	size_t have = 0;
	struct pollfd p = {.fd = fifo, .events = POLLIN};
	int64_t now;
	ssize_t n;

	while ((now = mono_ns()) < deadline) {
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		n = read(fifo, buf + have, sizeof buf - 1 - have);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if (strchr(buf, '\n') != NULL) {
			*out = strtoll(buf, NULL, 10);
			return 0;
		}
		if (have == sizeof buf - 1)
			return -1;
	}
	return -1;
}

static void
drain(int fifo)
{
	char buf[256];

	while (read(fifo, buf, sizeof buf) > 0)
		;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* One round of one system: UP timed, DOWN untimed. */
static int
lat_round(struct lat_system *sys, long i, long warmup, int fifo, long limit,
    volatile int64_t *stamp)
{
	int64_t deadline, t_agent, t_ret;
	char **u, **d;
	pid_t pid;
	int rc;

	drain(fifo);
	*stamp = 0;
	u = with_round(sys->up, sys->nup, i + 1);
	if ((pid = start(sys, u, stamp)) < 0) {
		perror("spawn-bench: fork");
		return -1;
	}
	deadline = mono_ns() + (int64_t)limit * 1000000000;
	rc = read_stamp(fifo, deadline, &t_agent);
	if (rc < 0)
		fprintf(stderr, "spawn-bench: round %ld: no first instruction "
		    "within %ld s of %s\n", i + 1, limit, u[0]);
	if (reap(pid, deadline, u[0]) < 0 || rc < 0)
		return -1;
	t_ret = mono_ns();
	free_round(u, sys->up, sys->nup);
	if (i >= warmup) {
		sys->lat[i - warmup] = t_agent - *stamp;
		sys->ret[i - warmup] = t_ret - *stamp;
		sys->sum += sys->lat[i - warmup];
	}
	d = with_round(sys->down, sys->ndown, i + 1);
	pid = start(sys, d, NULL);
	if (pid < 0 || reap(pid, mono_ns() + (int64_t)limit * 1000000000,
	    d[0]) < 0)
		return -1;
	free_round(d, sys->down, sys->ndown);
	return 0;
}

static int
cmd_lat(long n, long warmup, const char *fifo_path, long limit, long gap_ms,
    struct lat_system *sys, int nsys)
{
	volatile int64_t *stamp;
	struct timespec gap = {gap_ms / 1000, gap_ms % 1000 * 1000000};
	int fifo;

	stamp = mmap(NULL, sizeof *stamp, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stamp == MAP_FAILED) {
		perror("spawn-bench");
		return 71;
	}
	for (int k = 0; k < nsys; k++) {
		sys[k].lat = calloc((size_t)n, sizeof *sys[k].lat);
		sys[k].ret = calloc((size_t)n, sizeof *sys[k].ret);
		sys[k].sum = 0;
		if (sys[k].lat == NULL || sys[k].ret == NULL) {
			perror("spawn-bench");
			return 71;
		}
	}
	/* Read and write: the agent's open never waits for a reader. */
	fifo = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0) {
		fprintf(stderr, "spawn-bench: %s: %s\n", fifo_path, strerror(errno));
		return 66;
	}
	/* Round by round, one spawn of each system in turn: a drift of the
	 * host's speed during the run weighs on every system alike. Each
	 * spawn starts gap_ms after the last stop, on a quiet host. */
	for (long i = 0; i < warmup + n; i++)
		for (int k = 0; k < nsys; k++) {
			nanosleep(&gap, NULL);
			if (lat_round(&sys[k], i, warmup, fifo, limit, stamp) < 0) {
				fprintf(stderr, "spawn-bench: in system %d\n", k + 1);
				return 1;
			}
		}
	for (int k = 0; k < nsys; k++) {
		int64_t *lat = sys[k].lat, *ret = sys[k].ret;

		qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
		qsort(ret, (size_t)n, sizeof *ret, cmp_i64);
		printf("n %ld p50_ns %" PRId64 " p99_ns %" PRId64 " min_ns %"
		    PRId64 " max_ns %" PRId64 " mean_ns %" PRId64 " ret_p50_ns %"
		    PRId64 " ret_p99_ns %" PRId64 "\n", n, lat[(n - 1) * 50 / 100],
		    lat[(n - 1) * 99 / 100], lat[0], lat[n - 1], sys[k].sum / n,
		    ret[(n - 1) * 50 / 100], ret[(n - 1) * 99 / 100]);
	}
	return 0;
}

/* SYSTEM [// SYSTEM...], each [NAME=VALUE...] UP... -- DOWN...: into
 * sys (at most max); the number of systems, or -1. */
static int
lat_systems(char **argv, int argc, struct lat_system *sys, int max)
{
	int nsys = 0, i = 0, sep;

	while (i < argc) {
		struct lat_system *s;

		if (nsys == max)
			return -1;
		s = &sys[nsys++];
		s->env = argv + i;
		for (s->nenv = 0; i < argc && strchr(argv[i], '=') != NULL &&
		    argv[i][0] != '/' && strcmp(argv[i], "--") != 0; i++)
			s->nenv++;
		s->up = argv + i;
		for (sep = i; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
			;
		s->nup = sep - i;
		if (s->nup == 0 || sep >= argc - 1)
			return -1;
		i = sep + 1;
		s->down = argv + i;
		for (; i < argc && strcmp(argv[i], "//") != 0; i++)
			;
		s->ndown = (int)(argv + i - s->down);
		if (s->ndown == 0)
			return -1;
		/* The arrays end where the next part begins. */
		argv[sep] = NULL;
		if (i < argc)
			argv[i++] = NULL;
	}
	return nsys;
}

static int
cmd_each(long n, long limit, char **cmd, int ncmd)
{
	int64_t t0 = mono_ns();
	char **c;
	pid_t pid;

	for (long i = 1; i <= n; i++) {
		c = with_round(cmd, ncmd, i);
		pid = start(NULL, c, NULL);
		if (pid < 0) {
			perror("spawn-bench: fork");
			return 71;
		}
		if (reap(pid, mono_ns() + (int64_t)limit * 1000000000, c[0]) < 0)
			return 1;
		free_round(c, cmd, ncmd);
	}
	printf("%" PRId64 "\n", mono_ns() - t0);
	return 0;
}

int
main(int argc, char **argv)
{
	int nsys;

	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		perror("spawn-bench: /dev/null");
		return 71;
	}
	if (argc >= 10 && strcmp(argv[1], "lat") == 0) {
		struct lat_system sys[8];

		if ((nsys = lat_systems(argv + 7, argc - 7, sys, 8)) > 0)
			return cmd_lat(arg_long(argv[2], 1, 1000000),
			    arg_long(argv[3], 0, 1000000), argv[4],
			    arg_long(argv[5], 1, 3600), arg_long(argv[6], 0, 10000),
			    sys, nsys);
	}
	if (argc >= 5 && strcmp(argv[1], "each") == 0)
		return cmd_each(arg_long(argv[2], 1, 1000000),
		    arg_long(argv[3], 1, 3600), argv + 4, argc - 4);
	fprintf(stderr, "usage: spawn-bench lat N WARMUP FIFO LIMIT GAP_MS "
	    "[NAME=VALUE...] UP... -- DOWN... [// ...] | each N LIMIT CMD...\n");
	return 64;
}
