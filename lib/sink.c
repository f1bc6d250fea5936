/* Where a producer's events go: see sink.h. The queue for the store is one
 * buffer of '\n'-terminated lines, owned here. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "hub.h"
#include "paths.h"
#include "sink.h"
#include "sock.h"
#include "store.h"

#define SINK_RECONNECT_MS 1000		/* between tries to reach the hub */
#define SINK_SEND_TIMEOUT_S 2		/* a hub that takes nothing this long */
#define SINK_QUEUE_MAX (64u << 20)	/* bytes waiting for the store */

struct sink {
	char *db, *hub_path;
	int hub;			/* -1: not connected */
	int64_t next_try_ms;
	char *queue;
	size_t len, cap;
	int64_t first_ms;		/* when the oldest queued line came */
	bool urgent;			/* a lifecycle event waits */
};

struct sink *
sink_new(const char *home, const char *runtime)
{
	struct sink *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->hub = -1;
	s->db = starry_path_join(home, STORE_FILE);
	s->hub_path = starry_path_join(runtime, HUB_SOCK_NAME);
	if (s->db == NULL || s->hub_path == NULL) {
		sink_free(s);
		return NULL;
	}
	return s;
}

void
sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->hub >= 0)
		close(s->hub);
	free(s->queue);
	free(s->db);
	free(s->hub_path);
	free(s);
}

static void
hub_try_connect(struct sink *s)
{
	struct timeval tv = {.tv_sec = SINK_SEND_TIMEOUT_S};
	int64_t now = monotonic_ms();

	if (s->hub >= 0 || now < s->next_try_ms)
		return;
	s->next_try_ms = now + SINK_RECONNECT_MS;
	/* Never wait for a hub that does not take us: the store will. */
	s->hub = sock_connect_nowait(s->hub_path, NULL);
	if (s->hub >= 0 &&
	    setsockopt(s->hub, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
		close(s->hub);
		s->hub = -1;
	}
}

/* Write line and its '\n' to the hub; false when it is gone or stuck. */
static bool
hub_put(struct sink *s, const char *line, size_t len)
{
	struct iovec iov[2] = {
		{.iov_base = (void *)line, .iov_len = len},
		{.iov_base = "\n", .iov_len = 1},
	};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	hub_try_connect(s);
	if (s->hub < 0)
		return false;
	while (iov[1].iov_len > 0) {
		n = sendmsg(s->hub, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(s->hub);
			s->hub = -1;
			return false;
		}
		for (int i = 0; i < 2 && n > 0; i++) {
			size_t take = (size_t)n < iov[i].iov_len ? (size_t)n :
			    iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			n -= (ssize_t)take;
		}
		if (iov[0].iov_len == 0) {
			msg.msg_iov = &iov[1];
			msg.msg_iovlen = 1;
		}
	}
	return true;
}

static int
queue_put(struct sink *s, const char *line, size_t len, struct starry_err *err)
{
	size_t need = s->len + len + 1, cap;
	char *grown;

	if (need > SINK_QUEUE_MAX)
		return starry_err_set(err, EX_TEMPFAIL, "the store is not taking "
		    "events: %zu bytes wait for it", s->len);
	if (need > s->cap) {
		cap = s->cap ? s->cap : 4096;
		while (cap < need)
			cap *= 2;
		if ((grown = realloc(s->queue, cap)) == NULL)
			return starry_err_set(err, EX_OSERR, "out of memory");
		s->queue = grown;
		s->cap = cap;
	}
	memcpy(s->queue + s->len, line, len);
	s->queue[s->len + len] = '\n';
	s->len = need;
	return 0;
}

int
sink_send(struct sink *s, const char *line, size_t len, unsigned flags,
    struct starry_err *err)
{
	struct event_view view;

	if (event_scan_line(line, len, EVENT_LENIENT, &view, err) < 0)
		return -1;
	if (hub_put(s, line, len) && !(flags & SINK_RECORD))
		return 0;
	if (s->len == 0)
		s->first_ms = monotonic_ms();
	if (flags & SINK_RECORD)
		s->urgent = true;
	return queue_put(s, line, len, err);
}

int
sink_send_event(struct sink *s, const json_t *ev, unsigned flags,
    struct starry_err *err)
{
	size_t len;
	char *line = event_dump_line(ev, &len);
	int rc;

	if (line == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	rc = sink_send(s, line, len - 1, flags, err);
	free(line);
	return rc;
}

int64_t
sink_flush_due(const struct sink *s)
{
	if (s->len == 0)
		return 0;
	if (s->len >= SINK_BATCH_BYTES)
		return s->first_ms;
	return s->first_ms + (s->urgent ? SINK_RECORD_MS : SINK_BATCH_MS);
}

/* Append the queue to the store in one transaction. */
static int
store_queue(const struct sink *s, struct starry_err *err)
{
	struct event_view view;
	struct store *st = NULL;
	size_t off = 0, n;
	int64_t seq;
	char *nl;
	int rc = -1;

	if (store_open(&st, s->db, STORE_CREATE, err) < 0 ||
	    store_begin(st, err) < 0)
		goto out;
	while (off < s->len) {
		nl = memchr(s->queue + off, '\n', s->len - off);
		n = (size_t)(nl - (s->queue + off));
		/* Checked when queued: a line that scanned then scans now. */
		if (event_scan_line(s->queue + off, n, EVENT_LENIENT, &view, NULL) == 0 &&
		    store_append(st, s->queue + off, n, &view, &seq, err) < 0) {
			store_rollback(st);
			goto out;
		}
		off += n + 1;
	}
	rc = store_commit(st, err);
out:
	store_close(st);
	return rc;
}

/* The store is written by a short-lived child: SQLite's caches, schema
 * and statements never settle in the heap of a process that lives as
 * long as its agent (a supervisor, the daemon). Its error comes back on
 * a pipe. */
int
sink_flush(struct sink *s, struct starry_err *err)
{
	struct starry_err child_err = {.code = EX_SOFTWARE};
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (s->len == 0)
		return 0;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return starry_err_sys(err, EX_OSERR, "cannot make a pipe");
	if ((pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return starry_err_sys(err, EX_OSERR, "cannot fork");
	}
	if (pid == 0) {
		close(fds[0]);
		if (store_queue(s, &child_err) == 0)
			_exit(0);
		if (write(fds[1], &child_err, sizeof child_err) < 0)
			_exit(child_err.code);
		_exit(child_err.code);
	}
	close(fds[1]);
	do
		n = read(fds[0], &child_err, sizeof child_err);
	while (n < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (n != (ssize_t)sizeof child_err)
			starry_err_set(&child_err, EX_SOFTWARE, "the store's writer "
			    "ended with status %d", status);
		child_err.msg[sizeof child_err.msg - 1] = '\0';
		if (err != NULL)
			*err = child_err;
		return -1;
	}
	s->len = 0;
	s->urgent = false;
	if (s->cap > (1u << 20)) {
		free(s->queue);
		s->queue = NULL;
		s->cap = 0;
	}
	return 0;
}
