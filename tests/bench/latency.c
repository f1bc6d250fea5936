/* latency: the C helper of the benchmarks (tests/bench/run). It paces
 * events into `starry-bus pub`, reads them back from `starry-bus sub`, and
 * reads CLOCK_MONOTONIC, which every process on the host shares, so a
 * send time written by one process can be compared by another. libc and
 * libstarry's uuid.c.
 *   latency now                     print CLOCK_MONOTONIC in ns
 *   latency one                     print one warm-up event (seq -1)
 *   latency pub RATE SECONDS        print RATE events a second for SECONDS,
 *                                   each payload {"seq":N,"sent_ns":T}
 *   latency sub COUNT READY IDLE_MS read events; create file READY at the
 *                                   first warm-up one; stop after COUNT
 *                                   measured events or IDLE_MS of silence;
 *                                   print "received R expected C p50_us X
 *                                   p99_us Y max_us Z"
 *   latency count READY             count events until end of input, READY
 *                                   as above; print "received R slow S",
 *                                   S the hub's ESLOWCONSUMER notices
 *   latency time FILE LIMIT CMD...  run CMD (its stdin, stdout and stderr
 *                                   are ours), kill it after LIMIT seconds,
 *                                   write its wall time in ns to FILE; exit
 *                                   with its status. Timing from fork to
 *                                   reaping leaves out the shell's own
 *                                   forks, which cost milliseconds here */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uuid.h"

#define READ_BUF (1 << 20)


static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One event, its send time taken just before the write. */
static int
send_event(const char *trace, long long seq)
{
	char line[512], id[37];
	int n;

	uuid_v4(id);
	n = snprintf(line, sizeof line, "{\"id\":\"%s\",\"timestamp\":%" PRId64
	    ",\"traceId\":\"%s\",\"source\":\"bench-latency\",\"sessionId\":"
	    "\"bench\",\"priority\":3,\"type\":\"bench:latency\",\"payload\":"
	    "{\"seq\":%lld,\"sent_ns\":%" PRId64 "}}\n", id, real_ms(), trace,
	    seq, mono_ns());
	return write_all(1, line, (size_t)n);
}

static int
cmd_pub(long rate, double seconds)
{
	char trace[37];
	long long i, count = (long long)(rate * seconds);
	int64_t t0;
	struct timespec due;
	int64_t at;

	uuid_v4(trace);
	t0 = mono_ns();
	for (i = 0; i < count; i++) {
		/* Absolute deadlines: a late wake-up does not shift the rest. */
		at = t0 + (int64_t)(i * 1000000000LL / rate);
		due.tv_sec = at / 1000000000;
		due.tv_nsec = at % 1000000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due,
		    NULL) == EINTR)
			;
		if (send_event(trace, i) < 0) {
			perror("latency pub: write");
			return 74;
		}
	}
	return 0;
}

/* A number after "key" and a ':' (white space allowed), or false. */
static bool
find_number(const char *line, size_t len, const char *key, long long *v)
{
	const char *p = memmem(line, len, key, strlen(key)), *end = line + len;
	char num[32];
	size_t n = 0;

	if (p == NULL)
		return false;
	p += strlen(key);
	/* A number written as a string too ("sent_ns":"123"): the
	 * scheduler's actions carry it in an environment value. */
	while (p < end && (*p == ' ' || *p == ':' || *p == '"'))
		p++;
	while (p < end && n < sizeof num - 1 && (*p == '-' || (*p >= '0' &&
	    *p <= '9')))
		num[n++] = *p++;
	num[n] = '\0';
	if (n == 0)
		return false;
	*v = strtoll(num, NULL, 10);
	return true;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

struct reader {
	const char *ready;	/* file to create at the first warm-up */
	bool is_ready;
	long long count;	/* measured events wanted; 0: count only */
	int64_t *delays;
	long long received;
	long long slow;		/* ESLOWCONSUMER notices from the hub */
};

static void
on_line(struct reader *r, const char *line, size_t len, int64_t now)
{
	long long seq, sent;
	int fd;

	if (memmem(line, len, "\"id\"", 4) == NULL)
		return;
	if (memmem(line, len, "ESLOWCONSUMER", 13) != NULL)
		r->slow++;
	if (!find_number(line, len, "\"seq\"", &seq))
		seq = 0;
	if (seq < 0) {
		if (!r->is_ready && r->ready != NULL) {
			fd = open(r->ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd >= 0) {
				write_all(fd, "ready\n", 6);
				close(fd);
			}
		}
		r->is_ready = true;
		return;
	}
	if (r->count > 0) {
		if (!find_number(line, len, "\"sent_ns\"", &sent)
		    || r->received >= r->count)
			return;
		r->delays[r->received] = now - sent;
	}
	r->received++;
}

/* Read lines from stdin until the end, COUNT measured events, or idle_ms
 * without input once ready (idle_ms < 0: no limit). */
static int
read_events(struct reader *r, int idle_ms)
{
	static char buf[READ_BUF];
	size_t have = 0, start, i;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	ssize_t n;
	int64_t now;
	int rc;

	for (;;) {
		if (r->count > 0 && r->received >= r->count)
			return 0;
		rc = poll(&pfd, 1, r->is_ready ? idle_ms : -1);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			perror("latency: poll");
			return -1;
		}
		if (rc == 0)
			return 0;
		n = read(0, buf + have, sizeof buf - have);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			perror("latency: read");
			return -1;
		}
		if (n == 0)
			return 0;
		now = mono_ns();
		have += (size_t)n;
		start = 0;
		for (i = have - (size_t)n; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			on_line(r, buf + start, i - start, now);
			start = i + 1;
		}
		if (start == 0 && have == sizeof buf)
			have = 0;	/* a line longer than the buffer: skip */
		memmove(buf, buf + start, have - start);
		have -= start;
	}
}

static int
cmd_sub(long long count, const char *ready, int idle_ms)
{
	struct reader r = { .ready = ready, .count = count };
	int64_t p50 = 0, p99 = 0, max = 0;

	r.delays = calloc((size_t)count, sizeof *r.delays);
	if (r.delays == NULL) {
		perror("latency sub");
		return 71;
	}
	if (read_events(&r, idle_ms) < 0)
		return 74;
	if (r.received > 0) {
		qsort(r.delays, (size_t)r.received, sizeof *r.delays, cmp_i64);
		p50 = r.delays[(r.received - 1) * 50 / 100];
		p99 = r.delays[(r.received - 1) * 99 / 100];
		max = r.delays[r.received - 1];
	}
	printf("received %lld expected %lld p50_us %.1f p99_us %.1f max_us %.1f\n",
	    r.received, count, p50 / 1e3, p99 / 1e3, max / 1e3);
	free(r.delays);
	return 0;
}

static int
cmd_count(const char *ready)
{
	struct reader r = { .ready = ready };

	if (read_events(&r, -1) < 0)
		return 74;
	printf("received %lld slow %lld\n", r.received, r.slow);
	return 0;
}

static long
arg_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max) {
		fprintf(stderr, "latency: bad number '%s'\n", s);
		exit(64);
	}
	return v;
}

static int
cmd_time(const char *file, long limit, char **cmd)
{
	int64_t t0, t1;
	pid_t pid;
	int status;
	FILE *f;

	t0 = mono_ns();
	pid = fork();
	if (pid < 0)
		return 71;
	if (pid == 0) {
		alarm((unsigned)limit);	/* kept across exec: the time limit */
		execvp(cmd[0], cmd);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 71;
	t1 = mono_ns();
	f = fopen(file, "w");
	if (f == NULL || fprintf(f, "%" PRId64 "\n", t1 - t0) < 0 || fclose(f) != 0)
		return 73;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int
main(int argc, char **argv)
{
	char trace[37];

	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		printf("%" PRId64 "\n", mono_ns());
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "one") == 0) {
		uuid_v4(trace);
		return send_event(trace, -1) < 0 ? 74 : 0;
	}
	if (argc == 4 && strcmp(argv[1], "pub") == 0)
		return cmd_pub(arg_long(argv[2], 1, 10000000),
		    (double)arg_long(argv[3], 1, 3600));
	if (argc == 5 && strcmp(argv[1], "sub") == 0)
		return cmd_sub(arg_long(argv[2], 1, 100000000), argv[3],
		    (int)arg_long(argv[4], 1, 600000));
	if (argc == 3 && strcmp(argv[1], "count") == 0)
		return cmd_count(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "time") == 0)
		return cmd_time(argv[2], arg_long(argv[3], 1, 3600), argv + 4);
	fprintf(stderr, "usage: latency now | one | pub RATE SECONDS | "
	    "sub COUNT READY IDLE_MS | count READY | time FILE LIMIT CMD...\n");
	return 64;
}
