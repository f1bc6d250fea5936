/* spawn-bench: the C helper of the supervision benchmarks (tests/bench/run,
 * sections (h) and (j)). libc only. Times come from CLOCK_MONOTONIC, which
 * every process on the host shares.
 *   spawn-bench lat N WARMUP FIFO LIMIT UP... -- DOWN...
 *       N + WARMUP times (the first WARMUP are not counted): run UP, the
 *       command that starts the agent, and wait until the agent wrote the
 *       time of its first instruction to FIFO (first-instruction.c) and UP
 *       has exited 0; then run DOWN, untimed, and wait for it to exit 0.
 *       The spawn latency is the agent's time less the time read in UP's
 *       process just before its execve, so that neither the harness's
 *       fork nor its waiting is counted. UP's own run time (to its exit)
 *       is kept too. Each wait is limited to LIMIT seconds. "%i" in an
 *       argument of UP or DOWN becomes the round's number. Prints
 *       "n N p50_ns X p99_ns Y min_ns A max_ns B mean_ns M ret_p50_ns R
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

/* Fork and exec argv, stdout to /dev/null; with stamp, the child writes
 * its CLOCK_MONOTONIC just before execve there. */
static pid_t
start(char **argv, volatile int64_t *stamp)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
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

static int
cmd_lat(long n, long warmup, const char *fifo_path, long limit, char **up,
    int nup, char **down, int ndown)
{
	volatile int64_t *stamp;
	int64_t *lat = calloc((size_t)n, sizeof *lat),
	    *ret = calloc((size_t)n, sizeof *ret), t_agent, t_ret, sum = 0;
	char **u, **d;
	int fifo;
	pid_t pid;

	stamp = mmap(NULL, sizeof *stamp, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == NULL || ret == NULL || stamp == MAP_FAILED) {
		perror("spawn-bench");
		return 71;
	}
	/* Read and write: the agent's open never waits for a reader. */
	fifo = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fifo < 0) {
		fprintf(stderr, "spawn-bench: %s: %s\n", fifo_path, strerror(errno));
		return 66;
	}
	for (long i = 0; i < warmup + n; i++) {
		int64_t deadline;
		int rc;

		drain(fifo);
		*stamp = 0;
		u = with_round(up, nup, i + 1);
		pid = start(u, stamp);
		if (pid < 0) {
			perror("spawn-bench: fork");
			return 71;
		}
		deadline = mono_ns() + (int64_t)limit * 1000000000;
		rc = read_stamp(fifo, deadline, &t_agent);
		if (rc < 0)
			fprintf(stderr, "spawn-bench: round %ld: no first "
			    "instruction within %ld s of %s\n", i + 1, limit, u[0]);
		if (reap(pid, deadline, u[0]) < 0 || rc < 0)
			return 1;
		t_ret = mono_ns();
		free_round(u, up, nup);
		if (i >= warmup) {
			lat[i - warmup] = t_agent - *stamp;
			ret[i - warmup] = t_ret - *stamp;
			sum += lat[i - warmup];
		}
		d = with_round(down, ndown, i + 1);
		pid = start(d, NULL);
		if (pid < 0 || reap(pid, mono_ns() + (int64_t)limit * 1000000000,
		    d[0]) < 0)
			return 1;
		free_round(d, down, ndown);
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
	qsort(ret, (size_t)n, sizeof *ret, cmp_i64);
	printf("n %ld p50_ns %" PRId64 " p99_ns %" PRId64 " min_ns %" PRId64
	    " max_ns %" PRId64 " mean_ns %" PRId64 " ret_p50_ns %" PRId64
	    " ret_p99_ns %" PRId64 "\n", n, lat[(n - 1) * 50 / 100],
	    lat[(n - 1) * 99 / 100], lat[0], lat[n - 1], sum / n,
	    ret[(n - 1) * 50 / 100], ret[(n - 1) * 99 / 100]);
	return 0;
}

static int
cmd_each(long n, long limit, char **cmd, int ncmd)
{
	int64_t t0 = mono_ns();
	char **c;
	pid_t pid;

	for (long i = 1; i <= n; i++) {
		c = with_round(cmd, ncmd, i);
		pid = start(c, NULL);
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
	int sep;

	if ((devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		perror("spawn-bench: /dev/null");
		return 71;
	}
	if (argc >= 9 && strcmp(argv[1], "lat") == 0) {
		for (sep = 6; sep < argc && strcmp(argv[sep], "--") != 0; sep++)
			;
		if (sep > 6 && sep < argc - 1)
			return cmd_lat(arg_long(argv[2], 1, 1000000),
			    arg_long(argv[3], 0, 1000000), argv[4],
			    arg_long(argv[5], 1, 3600), argv + 6, sep - 6,
			    argv + sep + 1, argc - sep - 1);
	}
	if (argc >= 5 && strcmp(argv[1], "each") == 0)
		return cmd_each(arg_long(argv[2], 1, 1000000),
		    arg_long(argv[3], 1, 3600), argv + 4, argc - 4);
	fprintf(stderr, "usage: spawn-bench lat N WARMUP FIFO LIMIT UP... -- DOWN... |"
	    " each N LIMIT CMD...\n");
	return 64;
}
