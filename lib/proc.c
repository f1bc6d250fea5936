/* What /proc says about processes: see proc.h. Nothing is cached (no
 * state between calls) and nothing returned is allocated: each call reads
 * /proc afresh into buffers on the stack. A process may vanish between
 * listing /proc and opening its files; such a process is skipped. No
 * json_t * passes through here. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

/* The fields of /proc/PID/stat that starry uses, numbered as in proc(5). */
struct proc_stat {
	char state;			/* 3 */
	pid_t ppid, pgrp, session;	/* 4, 5, 6 */
	uint64_t utime, stime;		/* 14, 15: clock ticks */
	uint64_t cutime, cstime;	/* 16, 17 */
	uint64_t starttime;		/* 22: ticks after boot */
	uint64_t rss;			/* 24: pages */
};

#define STAT_LAST_FIELD 24

/* Read the whole of a small /proc file into buf, NUL-terminated. Returns
 * its length, or -1 with errno (ENOENT or ESRCH: the process is gone). */
static ssize_t
read_small_file(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (len < cap - 1) {
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Parse a stat line. comm (field 2) may hold spaces and parentheses, so
 * the fields start after the last ')'. */
static int
parse_stat(char *line, struct proc_stat *st)
{
	char *p = strrchr(line, ')'), *end;
	unsigned long long v[STAT_LAST_FIELD + 1];
	int field;

	if (p == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	st->state = p[2];
	p += 3;
	for (field = 4; field <= STAT_LAST_FIELD; field++) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return -1;
		errno = 0;
		/* Signed fields (cutime, rss, ...) are never negative in
		 * practice; a "-1" tty or tpgid parses and is ignored. */
		v[field] = strtoull(p, &end, 10);
		if (end == p || errno == ERANGE)
			return -1;
		p = end;
	}
	st->ppid = (pid_t)v[4];
	st->pgrp = (pid_t)v[5];
	st->session = (pid_t)v[6];
	st->utime = v[14];
	st->stime = v[15];
	st->cutime = v[16];
	st->cstime = v[17];
	st->starttime = v[22];
	st->rss = v[24];
	return 0;
}

/* Returns 0, or -1 with errno (ENOENT when pid is gone, EINVAL when the
 * file makes no sense). */
static int
read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[2048];

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof buf) < 0) {
		if (errno == ESRCH)
			errno = ENOENT;
		return -1;
	}
	if (parse_stat(buf, st) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static uint64_t
ticks_to_ms(uint64_t ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	return ticks / (uint64_t)hz * 1000 + ticks % (uint64_t)hz * 1000 /
	    (uint64_t)hz;
}

/* The wall-clock time of boot in ms: CLOCK_REALTIME - CLOCK_BOOTTIME,
 * the same origin the kernel gives starttime (and btime in /proc/stat),
 * but to the nanosecond and without a file to read. */
static int
boot_time_ms(int64_t *ms)
{
	struct timespec real, boot;

	if (clock_gettime(CLOCK_REALTIME, &real) < 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return -1;
	*ms = ((int64_t)real.tv_sec - boot.tv_sec) * 1000 +
	    ((int64_t)real.tv_nsec - boot.tv_nsec) / 1000000;
	return 0;
}

static int
stat_start_ms(const struct proc_stat *st, int64_t *ms)
{
	int64_t boot;

	if (boot_time_ms(&boot) < 0)
		return -1;
	*ms = boot + (int64_t)ticks_to_ms(st->starttime);
	return 0;
}

int
proc_start_ms(pid_t pid, int64_t *ms)
{
	struct proc_stat st;

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	if (read_stat(pid, &st) < 0)
		return -1;
	return stat_start_ms(&st, ms);
}

bool
proc_is(int64_t pid, int64_t started_ms)
{
	int64_t start;

	if (pid <= 0 || pid > INT32_MAX || (kill((pid_t)pid, 0) < 0 &&
	    errno != EPERM))
		return false;
	if (started_ms <= 0)
		return true;
	if (proc_start_ms((pid_t)pid, &start) < 0) {
		/* Gone since kill(2) looked, if /proc works at all; with no
		 * readable /proc, kill(2) has decided. */
		return !(errno == ENOENT && access("/proc/self/stat", R_OK) == 0);
	}
	return llabs(start - started_ms) <= 2000;
}

int
proc_usage(pid_t pid, struct proc_usage *u)
{
	struct proc_stat st;
	long page = sysconf(_SC_PAGESIZE);

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	if (read_stat(pid, &st) < 0 || stat_start_ms(&st, &u->start_ms) < 0)
		return -1;
	u->cpu_ms = ticks_to_ms(st.utime + st.stime + st.cutime + st.cstime);
	u->rss_bytes = st.rss * (uint64_t)(page > 0 ? page : 4096);
	u->state = st.state;
	u->ppid = st.ppid;
	u->pgid = st.pgrp;
	u->sid = st.session;
	return 0;
}

double
proc_cpu_percent(const struct proc_usage *u, int64_t now_ms)
{
	if (u->start_ms <= 0 || now_ms <= u->start_ms)
		return 0.0;
	return (double)u->cpu_ms * 100.0 / (double)(now_ms - u->start_ms);
}

static pid_t
pid_from_name(const char *name)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)name[0]))
		return 0;
	errno = 0;
	v = strtol(name, &end, 10);
	if (*end != '\0' || errno != 0 || v <= 0 || v > INT32_MAX)
		return 0;
	return (pid_t)v;
}

/* What a scan of /proc looks for: children of ppid that are not zombies,
 * or any member of group pgid. */
struct proc_match {
	pid_t ppid;	/* 0: not this */
	pid_t pgid;	/* 0: not this */
	const char *const *env;	/* NULL: not this */
};

/* Whether every entry of env ("NAME=value") is in pid's environment as
 * it was at exec. */
static bool
environ_has(pid_t pid, const char *const *env)
{
	char path[64], *buf = NULL;
	size_t len = 0, cap = 0;
	bool all = true;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	for (;;) {
		if (len + 4096 > cap) {
			char *grown;

			cap = cap ? cap * 2 : 16384;
			if (cap > (4u << 20) || (grown = realloc(buf, cap)) == NULL)
				break;
			buf = grown;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	for (size_t i = 0; env[i] != NULL && all; i++) {
		size_t want = strlen(env[i]) + 1, off = 0;

		all = false;
		while (off < len && !all) {
			size_t entry = strnlen(buf + off, len - off) + 1;

			all = entry == want && memcmp(buf + off, env[i], want - 1) == 0;
			off += entry;
		}
	}
	free(buf);
	return all && len > 0;
}

static int
proc_scan(const struct proc_match *m, proc_pid_fn fn, void *ctx)
{
	struct proc_stat st;
	struct dirent *de;
	DIR *dir;
	pid_t pid;
	int seen = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if ((pid = pid_from_name(de->d_name)) == 0)
			continue;
		if (read_stat(pid, &st) < 0)
			continue;	/* gone since readdir */
		if (m->ppid && (st.ppid != m->ppid || st.state == 'Z'))
			continue;
		if (m->pgid && st.pgrp != m->pgid)
			continue;
		if (m->env && (st.state == 'Z' || !environ_has(pid, m->env)))
			continue;
		seen++;
		if (fn(ctx, pid) != 0)
			break;
	}
	closedir(dir);
	return seen;
}

int
proc_each_brief(proc_brief_fn fn, void *ctx)
{
	struct proc_brief b;
	struct proc_stat st;
	struct dirent *de;
	char path[64], buf[2048], *open_paren, *close_paren;
	size_t n;
	DIR *dir;
	int seen = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if ((b.pid = pid_from_name(de->d_name)) == 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)b.pid);
		if (read_small_file(path, buf, sizeof buf) < 0)
			continue;	/* gone since readdir */
		if ((open_paren = strchr(buf, '(')) == NULL ||
		    (close_paren = strrchr(buf, ')')) == NULL ||
		    close_paren < open_paren)
			continue;
		n = (size_t)(close_paren - open_paren - 1);
		if (n >= sizeof b.comm)
			n = sizeof b.comm - 1;
		memcpy(b.comm, open_paren + 1, n);
		b.comm[n] = '\0';
		if (parse_stat(buf, &st) < 0)
			continue;
		b.ppid = st.ppid;
		b.state = st.state;
		seen++;
		if (fn(ctx, &b) != 0)
			break;
	}
	closedir(dir);
	return seen;
}

ssize_t
proc_cmdline(pid_t pid, char *buf, size_t cap, char *argv0, size_t argv0_cap)
{
	char path[64];
	ssize_t len;
	size_t first, base = 0, n;

	if (argv0_cap > 0)
		argv0[0] = '\0';
	if (cap == 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	if ((len = read_small_file(path, buf, cap)) < 0)
		return -1;
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	first = strnlen(buf, (size_t)len);
	for (size_t i = 0; i < first; i++)
		if (buf[i] == '/')
			base = i + 1;
	if (argv0_cap > 0) {
		n = first - base < argv0_cap - 1 ? first - base : argv0_cap - 1;
		memcpy(argv0, buf + base, n);
		argv0[n] = '\0';
	}
	for (ssize_t i = 0; i < len; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
	buf[len] = '\0';
	return len;
}

static bool
is_live(pid_t pid)
{
	struct proc_stat st;

	return read_stat(pid, &st) == 0 && st.state != 'Z';
}

/* Each task's children file lists the children that task forked; the
 * process's children are the union over its tasks. Returns the count
 * seen, or -1 when fn asked to stop (the count is then in *seen). */
static int
task_children(pid_t ppid, pid_t tid, proc_pid_fn fn, void *ctx,
    int *seen)
{
	char path[96];
	FILE *f;
	int child, rc = 0;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)ppid,
	    (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;	/* the task ended since readdir */
	while (fscanf(f, "%d", &child) == 1) {
		if (!is_live(child))
			continue;
		(*seen)++;
		if (fn(ctx, child) != 0) {
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int
proc_each_child(pid_t ppid, proc_pid_fn fn, void *ctx)
{
	struct proc_match m = { .ppid = ppid };
	struct dirent *de;
	char path[96];
	DIR *dir;
	pid_t tid;
	int seen = 0;

	if (ppid <= 0) {
		errno = ESRCH;
		return -1;
	}
	/* The children files exist with CONFIG_PROC_CHILDREN; without them,
	 * or once ppid is gone, a scan of /proc decides. */
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)ppid,
	    (int)ppid);
	if (access(path, R_OK) < 0)
		return proc_scan(&m, fn, ctx);
	snprintf(path, sizeof path, "/proc/%d/task", (int)ppid);
	if ((dir = opendir(path)) == NULL)
		return proc_scan(&m, fn, ctx);
	while ((de = readdir(dir)) != NULL) {
		if ((tid = pid_from_name(de->d_name)) == 0)
			continue;
		if (task_children(ppid, tid, fn, ctx, &seen) < 0)
			break;
	}
	closedir(dir);
	return seen;
}

int
proc_each_in_group(pid_t pgid, proc_pid_fn fn, void *ctx)
{
	struct proc_match m = { .pgid = pgid };

	if (pgid <= 0) {
		errno = ESRCH;
		return -1;
	}
	return proc_scan(&m, fn, ctx);
}

int
proc_each_with_env(const char *const *env, proc_pid_fn fn, void *ctx)
{
	struct proc_match m = { .env = env };

	return proc_scan(&m, fn, ctx);
}

/* Sum Private_Clean and Private_Dirty (kB) over the lines of an smaps or
 * smaps_rollup file. */
static int
sum_private(const char *path, uint64_t *bytes)
{
	char line[256];
	unsigned long long kb;
	uint64_t total = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Private_Clean: %llu kB", &kb) == 1 ||
		    sscanf(line, "Private_Dirty: %llu kB", &kb) == 1)
			total += (uint64_t)kb * 1024;
	fclose(f);
	*bytes = total;
	return 0;
}

int
proc_private_bytes(pid_t pid, uint64_t *bytes)
{
	char path[64];

	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
	if (sum_private(path, bytes) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* Before Linux 4.14 there is no rollup: add up every mapping. */
	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	return sum_private(path, bytes);
}
