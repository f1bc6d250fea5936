/* lib/proc: start times, usage, children and group members of real
 * processes forked here, and what a vanished pid looks like. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
read_exactly(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* A family: leader (in its own process group) with two children, one in
 * the leader's group and one that made its own session. */
struct family {
	pid_t leader, same_group, own_session;
};

static void
family_start(struct family *fam)
{
	pid_t kids[2];
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	fam->leader = fork();
	assert_true(fam->leader >= 0);
	if (fam->leader == 0) {
		close(fds[0]);
		if (setpgid(0, 0) < 0)
			_exit(1);
		if ((kids[0] = fork()) == 0) {
			pause();
			_exit(0);
		}
		if ((kids[1] = fork()) == 0) {
			if (setsid() < 0)
				_exit(1);
			pause();
			_exit(0);
		}
		/* Both exist; the setsid one may still be on its way. */
		if (write(fds[1], kids, sizeof kids) != sizeof kids)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	read_exactly(fds[0], kids, sizeof kids);
	close(fds[0]);
	fam->same_group = kids[0];
	fam->own_session = kids[1];
}

/* Wait (briefly) until pid has made its own session. */
static void
wait_for_session(pid_t pid)
{
	struct proc_usage u;
	struct timespec pause_ts = { 0, 1000000 };
	int i;

	for (i = 0; i < 2000; i++) {
		assert_int_equal(proc_usage(pid, &u), 0);
		if (u.sid == pid)
			return;
		nanosleep(&pause_ts, NULL);
	}
	fail_msg("pid %d never called setsid", (int)pid);
}

static void
family_stop(struct family *fam)
{
	kill(fam->own_session, SIGKILL);
	kill(-fam->leader, SIGKILL);
	/* This process is a subreaper: the grandchildren come back to it. */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

#define SEEN_MAX 16

struct seen {
	pid_t pid[SEEN_MAX];
	int n;
	int stop_after;		/* 0: never stop */
};

static int
collect(void *ctx, pid_t pid)
{
	struct seen *s = ctx;

	if (s->n < SEEN_MAX)
		s->pid[s->n] = pid;
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static bool
seen_has(const struct seen *s, pid_t pid)
{
	int i;

	for (i = 0; i < s->n && i < SEEN_MAX; i++)
		if (s->pid[i] == pid)
			return true;
	return false;
}

static int
setup(void **state)
{
	(void)state;
	return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0 ? 0 : -1;
}

static void
test_children_are_exactly_the_two_grandchildren(void **state)
{
	struct family fam;
	struct seen s = { 0 };

	(void)state;
	family_start(&fam);
	assert_int_equal(proc_each_child(fam.leader, collect, &s), 2);
	assert_int_equal(s.n, 2);
	assert_true(seen_has(&s, fam.same_group));
	assert_true(seen_has(&s, fam.own_session));

	/* And this process's only child is the leader. */
	memset(&s, 0, sizeof s);
	assert_int_equal(proc_each_child(getpid(), collect, &s), 1);
	assert_int_equal(s.pid[0], fam.leader);
	family_stop(&fam);
}

static void
test_children_stop_when_fn_says_so(void **state)
{
	struct family fam;
	struct seen s = { .stop_after = 1 };

	(void)state;
	family_start(&fam);
	assert_int_equal(proc_each_child(fam.leader, collect, &s), 1);
	assert_int_equal(s.n, 1);
	family_stop(&fam);
}

static void
test_group_is_the_leader_and_the_child_that_stayed(void **state)
{
	struct family fam;
	struct seen s = { 0 };

	(void)state;
	family_start(&fam);
	wait_for_session(fam.own_session);
	assert_int_equal(proc_each_in_group(fam.leader, collect, &s), 2);
	assert_true(seen_has(&s, fam.leader));
	assert_true(seen_has(&s, fam.same_group));
	assert_false(seen_has(&s, fam.own_session));
	family_stop(&fam);
}

static void
test_usage_says_parent_group_and_session(void **state)
{
	struct family fam;
	struct proc_usage u;

	(void)state;
	family_start(&fam);
	wait_for_session(fam.own_session);

	assert_int_equal(proc_usage(fam.leader, &u), 0);
	assert_int_equal(u.ppid, getpid());
	assert_int_equal(u.pgid, fam.leader);
	assert_int_equal(u.sid, getsid(0));

	assert_int_equal(proc_usage(fam.same_group, &u), 0);
	assert_int_equal(u.ppid, fam.leader);
	assert_int_equal(u.pgid, fam.leader);
	assert_int_equal(u.sid, getsid(0));
	assert_true(u.state == 'S' || u.state == 'R');

	assert_int_equal(proc_usage(fam.own_session, &u), 0);
	assert_int_equal(u.ppid, fam.leader);
	assert_int_equal(u.pgid, fam.own_session);
	assert_int_equal(u.sid, fam.own_session);
	family_stop(&fam);
}

static void
test_start_time_is_when_the_child_was_forked(void **state)
{
	int64_t before, after, start;
	pid_t pid;

	(void)state;
	before = wall_ms();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	after = wall_ms();
	assert_int_equal(proc_start_ms(pid, &start), 0);
	/* starttime counts clock ticks (10 ms at 100 Hz). */
	assert_true(start >= before - 20);
	assert_true(start <= after + 20);

	assert_true(proc_is(pid, start));
	assert_true(proc_is(pid, start + 1500));
	assert_true(proc_is(pid, 0));		/* start unknown: alive is enough */
	assert_false(proc_is(pid, start - 60000));	/* a recycled pid */
	assert_false(proc_is(pid, start + 5000));
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void
test_a_vanished_pid_is_gone_everywhere(void **state)
{
	struct proc_usage u;
	uint64_t bytes;
	int64_t start;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_false(proc_is(pid, 0));
	assert_false(proc_is(pid, wall_ms()));
	assert_int_equal(proc_start_ms(pid, &start), -1);
	assert_int_equal(proc_usage(pid, &u), -1);
	assert_int_equal(proc_private_bytes(pid, &bytes), -1);
	assert_false(proc_is(0, 0));
	assert_false(proc_is(-5, 0));
	assert_false(proc_is((int64_t)1 << 40, 0));
}

static void
test_a_zombie_is_not_a_live_child(void **state)
{
	struct seen s = { 0 };
	struct proc_usage u;
	pid_t pid;
	int i;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(proc_usage(pid, &u), 0);
		if (u.state == 'Z')
			break;
		usleep(1000);
	}
	assert_int_equal(u.state, 'Z');
	assert_int_equal(proc_each_child(getpid(), collect, &s), 0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void *
fork_from_thread(void *arg)
{
	pid_t *pid = arg;

	if ((*pid = fork()) == 0) {
		pause();
		_exit(0);
	}
	return NULL;
}

static void
test_a_child_forked_by_another_thread_counts(void **state)
{
	struct seen s = { 0 };
	pthread_t th;
	pid_t pid = -1;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, fork_from_thread, &pid), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(pid > 0);
	assert_int_equal(proc_each_child(getpid(), collect, &s), 1);
	assert_int_equal(s.pid[0], pid);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void
test_comm_with_spaces_and_parentheses_parses(void **state)
{
	struct proc_usage u;
	int fds[2];
	char c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_NAME, "a) (b ) 7 8");
		if (write(fds[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	read_exactly(fds[0], &c, 1);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(proc_usage(pid, &u), 0);
	assert_int_equal(u.ppid, getpid());
	assert_int_equal(u.pgid, getpgid(0));
	assert_true(u.state == 'S' || u.state == 'R');	/* on its way to pause */
	assert_true(u.start_ms > 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void
test_usage_counts_cpu_and_memory(void **state)
{
	struct proc_usage u;
	struct timespec t0, t;
	volatile uint64_t spin = 0;
	uint64_t before, after;
	char *block;
	size_t size = 16 << 20;

	(void)state;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	do {
		spin++;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) /
	    1000000 < 300);
	assert_int_equal(proc_usage(getpid(), &u), 0);
	assert_true(u.cpu_ms >= 250);
	assert_true(u.rss_bytes > 0);
	assert_true(u.state == 'R');
	assert_true(proc_cpu_percent(&u, wall_ms()) > 0.0);
	assert_true(proc_cpu_percent(&u, u.start_ms) == 0.0);

	assert_int_equal(proc_private_bytes(getpid(), &before), 0);
	block = malloc(size);
	assert_non_null(block);
	memset(block, 1, size);
	assert_int_equal(proc_private_bytes(getpid(), &after), 0);
	assert_true(after >= before + size - (1 << 20));
	free(block);
}

static void
test_cpu_percent_is_over_the_whole_life(void **state)
{
	struct proc_usage u = { .cpu_ms = 500, .start_ms = 10000 };

	(void)state;
	assert_true(proc_cpu_percent(&u, 11000) > 49.9);
	assert_true(proc_cpu_percent(&u, 11000) < 50.1);
	assert_true(proc_cpu_percent(&u, 9000) == 0.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_children_are_exactly_the_two_grandchildren),
		cmocka_unit_test(test_children_stop_when_fn_says_so),
		cmocka_unit_test(test_group_is_the_leader_and_the_child_that_stayed),
		cmocka_unit_test(test_usage_says_parent_group_and_session),
		cmocka_unit_test(test_start_time_is_when_the_child_was_forked),
		cmocka_unit_test(test_a_vanished_pid_is_gone_everywhere),
		cmocka_unit_test(test_a_zombie_is_not_a_live_child),
		cmocka_unit_test(test_a_child_forked_by_another_thread_counts),
		cmocka_unit_test(test_comm_with_spaces_and_parentheses_parses),
		cmocka_unit_test(test_usage_counts_cpu_and_memory),
		cmocka_unit_test(test_cpu_percent_is_over_the_whole_life),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
