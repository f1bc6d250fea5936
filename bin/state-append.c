/* starry-state append (and import): the single writer. Events are stored
 * in group commits, closed by count or by time, whichever comes first;
 * an event is acknowledged only once its commit returned. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "ingest.h"
#include "state.h"

static const char append_usage[] =
"usage: starry-state append [options] [FILE...]\n"
"       starry-state import [options] [FILE...]\n"
"\n"
"Store the events of each FILE (stdin when none, or -) in the event log,\n"
"in order. Ids already stored are skipped and counted. Events are committed\n"
"in groups: every --batch events or --batch-time, whichever comes first,\n"
"and at the end. A FIFO is held open, so writers may come and go; append\n"
"then runs until SIGTERM or SIGINT: what a pipe or FIFO holds, and what\n"
"its writers add within 100ms gaps (2s at most), is still stored; a line\n"
"left cut off is rejected (65). A file is left where it was read to.\n"
"SIGHUP commits the open group and goes on.\n"
"import is the same command, for files written by export.\n"
"\n"
"  -b, --batch N          events per commit at most (default 1000)\n"
"      --batch-time DUR   the longest an event waits for its commit\n"
"                         (default 50ms; 0: commit whenever input pauses)\n"
"      --acks             after each commit print {\"committed\":N,\n"
"                         \"duplicates\":N,\"lastSeq\":SEQ} on stdout\n"
"      --durable          synchronous=FULL: commits survive a power loss\n"
"  -l, --lenient          accept any non-empty id of at most 128 bytes\n"
"  -r, --rejects FILE     append rejected lines to FILE as KERNEL:ERROR events\n"
"  -q, --quiet            no diagnostics for rejected lines\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 65 when lines were rejected, 74 when the database could\n"
"not be written (the uncommitted group is named), 75 when SIGTERM came while\n"
"another process held the write lock (append waits for it, saying so).\n";

enum { OPT_BATCH_TIME = STATE_OPT_FREE, OPT_ACKS };

static const struct option append_options[] = {
	{"batch", required_argument, NULL, 'b'},
	{"batch-time", required_argument, NULL, OPT_BATCH_TIME},
	{"acks", no_argument, NULL, OPT_ACKS},
	{"lenient", no_argument, NULL, 'l'},
	{"rejects", required_argument, NULL, 'r'},
	{"quiet", no_argument, NULL, 'q'},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* After SIGTERM, a pipe or FIFO is read while data keeps coming with
 * gaps under APPEND_DRAIN_GAP_MS, for APPEND_DRAIN_MS at most. */
#define APPEND_DRAIN_GAP_MS 100
#define APPEND_DRAIN_MS 2000

struct appender {
	struct store *st;
	struct ingest in;
	long batch;
	int64_t batch_ms;
	bool acks;
	bool in_tx;
	int64_t opened_ms;		/* monotonic: when the group began */
	long group, group_dups;		/* events in the open group */
	int64_t last_seq;
	uint64_t stored, duplicates;
	bool stop;			/* SIGTERM or SIGINT came */
	int64_t stopped_ms;		/* when */
	int sfd;			/* their signalfd */
};

static void
appender_commit(struct appender *a)
{
	struct starry_err err;

	if (!a->in_tx)
		return;
	if (store_commit(a->st, &err) < 0) {
		diag_error("%s", err.msg);
		diag_die(err.code, "the last %ld events read were not stored", a->group);
	}
	a->in_tx = false;
	a->stored += a->group - a->group_dups;
	a->duplicates += a->group_dups;
	if (a->acks) {
		printf("{\"committed\":%ld,\"duplicates\":%ld,\"lastSeq\":%lld}\n",
		    a->group - a->group_dups, a->group_dups, (long long)a->last_seq);
		if (fflush(stdout) == EOF)
			diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	}
	a->group = a->group_dups = 0;
}

/* Take the signals that came: SIGHUP commits the open group (nothing to
 * reload), SIGTERM and SIGINT start the stop. Returns whether stopping. */
static bool
appender_take_signals(struct appender *a)
{
	struct signalfd_siginfo si;

	while (read(a->sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			appender_commit(a);
		} else if (!a->stop) {
			a->stop = true;
			a->stopped_ms = monotonic_ms();
		}
	}
	return a->stop;
}

static void
appender_add(struct appender *a, const char *line, size_t len,
    const struct event_view *view)
{
	struct starry_err err;
	int64_t seq;
	int rc;

	if (!a->in_tx) {
		/* Another process holding the write lock (vacuum, import)
		 * makes us wait, not fail: SQLite waits up to its busy
		 * timeout each time round. */
		while (store_begin(a->st, &err) < 0) {
			if (err.code != EX_TEMPFAIL || appender_take_signals(a)) {
				diag_error("%s", err.msg);
				diag_die(err.code, "the last event read was not stored");
			}
			diag_warn("%s; waiting", err.msg);
		}
		a->in_tx = true;
		a->opened_ms = monotonic_ms();
	}
	rc = store_append(a->st, line, len, view, &seq, &err);
	if (rc < 0) {
		diag_error("%s", err.msg);
		store_rollback(a->st);
		diag_die(err.code, "the last %ld events read were not stored", a->group + 1);
	}
	a->group++;
	if (rc == 0)
		a->group_dups++;
	else
		a->last_seq = seq;
	/* With --batch-time 0 the group closes when the input pauses. */
	if (a->group >= a->batch ||
	    (a->batch_ms > 0 && monotonic_ms() - a->opened_ms >= a->batch_ms))
		appender_commit(a);
}

/* Wait for input, a signal, or the open group's deadline. Returns 1 when
 * the input is readable, 0 otherwise. Once stopping, nothing is waited
 * for: what the input holds already is still taken. */
static int
appender_wait(struct appender *a, int fd)
{
	struct pollfd pfd[2] = {
		{.fd = fd, .events = POLLIN},
		{.fd = a->sfd, .events = POLLIN},
	};
	int timeout = -1;

	if (a->stop) {
		/* Draining: a writer gets a moment to finish a line, and the
		 * drain as a whole has a deadline. */
		int64_t left = a->stopped_ms + APPEND_DRAIN_MS - monotonic_ms();

		if (left <= 0)
			return 0;
		timeout = left < APPEND_DRAIN_GAP_MS ? (int)left : APPEND_DRAIN_GAP_MS;
	} else if (a->in_tx) {
		int64_t left = a->opened_ms + a->batch_ms - monotonic_ms();

		if (left <= 0) {
			appender_commit(a);
			return 0;
		}
		timeout = left > 60000 ? 60000 : (int)left;
	}
	if (poll(pfd, 2, timeout) < 0) {
		if (errno == EINTR)
			return 0;
		diag_die(EX_OSERR, "poll: %s", strerror(errno));
	}
	if (pfd[1].revents)
		appender_take_signals(a);
	return pfd[0].revents != 0;
}

/* Store one input's events; returns 0, or EX_IOERR when it could not be
 * read. */
static int
appender_read(struct appender *a, int fd, const char *name)
{
	struct line_reader *r = line_reader_new(fd, a->in.max_line);
	struct event_view view;
	struct starry_err err;
	enum line_status st;
	const char *line, *ev;
	size_t len, evlen;
	long lineno;
	int status = 0;
	struct stat sb;
	bool regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);

	if (r == NULL)
		diag_die(EX_OSERR, "out of memory");
	for (;;) {
		st = line_reader_next(r, &line, &len, &lineno);
		if (st == LINE_EOF)
			break;
		if (st == LINE_AGAIN) {
			/* Stopping: a file stays where it is, to be read again
			 * (ids already stored are skipped); a pipe or a FIFO is
			 * drained of what its writers have written, and a line
			 * cut off is rejected, not dropped unsaid. */
			if (a->stop && regular)
				break;
			if (!appender_wait(a, fd)) {
				if (a->stop)
					line_reader_finish(r);
				continue;
			}
			if (line_reader_fill(r) < 0 && errno != EINTR && errno != EAGAIN) {
				diag_error("%s: %s", name, strerror(errno));
				status = EX_IOERR;
				break;
			}
			continue;
		}
		switch (ingest_line(&a->in, name, st, line, len, lineno, &view, &ev,
		    &evlen, &err)) {
		case -1:
			diag_die_err(&err);
		case 1:
			appender_add(a, ev, evlen, &view);
		}
	}
	line_reader_free(r);
	return status;
}

/* FIFOs are opened for writing too, so that they never end. */
static int
open_input(const char *path)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode))
		fd = open(path, O_RDWR | O_CLOEXEC);
	else
		fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd;
}

int
state_append_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct appender a = {.batch = 1000, .batch_ms = 50};
	struct starry_err err;
	const char *rejects = NULL, *name;
	bool lenient = false, quiet = false;
	sigset_t set;
	int opt, fd, status = 0, rc;

	while ((opt = getopt_long(argc, argv, "b:lr:qh", append_options, NULL)) != -1) {
		if (state_option(&opts, opt, append_usage))
			continue;
		switch (opt) {
		case 'b':
			a.batch = cli_parse_int("batch", optarg, 1, 1000000);
			break;
		case OPT_BATCH_TIME:
			if (strcmp(optarg, "0") == 0)
				a.batch_ms = 0;
			else if (config_parse_duration(optarg, &a.batch_ms, &err) < 0 ||
			    a.batch_ms < 0)
				diag_die_usage("--batch-time: expected a duration such as "
				    "50ms, got '%s'", optarg);
			break;
		case OPT_ACKS:
			a.acks = true;
			break;
		case 'l':
			lenient = true;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		}
	}
	if (ingest_open(&a.in, "starry-state", rejects, &err) < 0)
		diag_die_err(&err);
	a.in.scan_flags = lenient ? EVENT_LENIENT : 0;
	a.in.accept_truncated = lenient;
	a.in.quiet = quiet;
	a.in.max_line = EVENT_MAX_LINE;
	a.st = state_open(&opts, STORE_CREATE);
	a.sfd = cli_signalfd(&set, (const int[]){SIGTERM, SIGINT, SIGHUP, 0});

	for (int i = optind; (i < argc || i == optind) && !a.stop; i++) {
		name = i < argc ? argv[i] : "-";
		if (strcmp(name, "-") == 0) {
			fd = STDIN_FILENO;
			name = "<stdin>";
		} else if ((fd = open_input(name)) < 0) {
			diag_error("%s: %s", name, strerror(errno));
			status = errno == ENOENT ? EX_NOINPUT : EX_IOERR;
			continue;
		}
		rc = appender_read(&a, fd, name);
		if (rc != 0)
			status = rc;
		if (fd != STDIN_FILENO)
			close(fd);
	}
	appender_commit(&a);
	if (!quiet)
		diag_note("append: %llu events stored, %llu already stored, %llu rejected",
		    (unsigned long long)a.stored, (unsigned long long)a.duplicates,
		    (unsigned long long)a.in.rejected);
	if (status == 0 && a.in.rejected > 0)
		status = EX_DATAERR;
	store_close(a.st);
	ingest_close(&a.in);
	close(a.sfd);
	return status;
}
