/* What /proc says about processes: start times (so a recycled pid does
 * not pass for the process that had it), CPU and memory use, and the
 * children and process-group members a supervisor must account for.
 * Nothing here allocates for the caller. */
#ifndef STARRY_PROC_H
#define STARRY_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The start time of pid in ms since the epoch. Returns 0, or -1 when the
 * process is gone or /proc cannot say. */
int proc_start_ms(pid_t pid, int64_t *ms);

/* Whether pid is still the process that started at started_ms: alive,
 * and (when started_ms > 0) started within two seconds of it. Without a
 * readable /proc, kill(pid, 0) decides. */
bool proc_is(int64_t pid, int64_t started_ms);

struct proc_usage {
	uint64_t cpu_ms;	/* user + system time of the process and of
				   its reaped children */
	uint64_t rss_bytes;	/* resident set size */
	int64_t start_ms;	/* as proc_start_ms */
	char state;		/* R, S, D, Z, T, ... */
	pid_t ppid, pgid, sid;
};
/* One read of /proc/PID/stat (and statm). Returns 0 or -1 (gone). */
int proc_usage(pid_t pid, struct proc_usage *u);

/* CPU use in percent of one core over the process's life so far. */
double proc_cpu_percent(const struct proc_usage *u, int64_t now_ms);

/* Call fn for each live child of ppid (from /proc/PID/task/TID/children
 * when the kernel has it, else a scan of /proc), stopping early when fn
 * returns non-zero. Returns the number of children seen, or -1. */
typedef int (*proc_pid_fn)(void *ctx, pid_t pid);
int proc_each_child(pid_t ppid, proc_pid_fn fn, void *ctx);

/* Call fn for each process in process group pgid (a scan of /proc).
 * Returns the number seen, or -1 when /proc cannot be read. */
int proc_each_in_group(pid_t pgid, proc_pid_fn fn, void *ctx);

/* Call fn for each live process whose environment (as it was at its
 * exec) holds every entry of env ("NAME=value", NULL-terminated): what is
 * left of an agent, wherever it went (a scan of /proc; processes of other
 * users cannot be read and are passed over). Returns the number seen. */
int proc_each_with_env(const char *const *env, proc_pid_fn fn, void *ctx);

/* What one line of ps shows: a process, its parent, state and name. */
struct proc_brief {
	pid_t pid, ppid;
	char state;
	char comm[32];		/* the kernel's name for it (at most 15) */
};
/* Call fn for each process in /proc (one read of its stat each),
 * stopping early when fn returns non-zero. Returns the number seen, or
 * -1 when /proc cannot be read. */
typedef int (*proc_brief_fn)(void *ctx, const struct proc_brief *b);
int proc_each_brief(proc_brief_fn fn, void *ctx);

/* The command line of pid, its arguments joined by spaces, cut to fit
 * cap (NUL-terminated); the base name of its first argument goes to
 * argv0 (NUL-terminated, cut to argv0_cap; "" for none). Returns the
 * line's length (0 for a kernel thread or zombie), or -1 when the
 * process is gone. */
ssize_t proc_cmdline(pid_t pid, char *buf, size_t cap, char *argv0,
    size_t argv0_cap);

/* Private memory of pid in bytes (Private_Clean + Private_Dirty of
 * /proc/PID/smaps_rollup). Returns 0 or -1. */
int proc_private_bytes(pid_t pid, uint64_t *bytes);

#endif
