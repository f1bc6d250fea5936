/* starry-bus pub and sub: the hub's clients. Publishing checks each line
 * the way `validate` does before it is sent; subscribing prints what the
 * hub hands out. The protocol is described in lib/hub.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "cloudevents.h"
#include "hub.h"
#include "fdio.h"
#include "ingest.h"
#include "outbuf.h"
#include "store.h"

static const char pub_usage[] =
"usage: starry-bus pub [options] [FILE...]\n"
"\n"
"Send the events of each FILE (or stdin, or -) to the hub on\n"
"$STARRY_RUNTIME/bus.sock. Each line is checked as by 'starry-bus validate'\n"
"(CloudEvents are converted); an invalid line is not sent and gets a\n"
"diagnostic with its line number and reason. pub returns once the hub has\n"
"read everything it sent.\n"
"\n"
"  -r, --rejects FILE     append each rejected line to FILE, inside a\n"
"                         KERNEL:ERROR event\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 65 when a line was rejected, 66 when a FILE is missing,\n"
"74 when one cannot be read, 69 when the hub is not running, went away or\n"
"refused the events.\n";

static const char sub_usage[] =
"usage: starry-bus sub [options]\n"
"\n"
"Subscribe to the hub on $STARRY_RUNTIME/bus.sock and print its events as\n"
"JSON lines, lowest priority number first when they queue up. With no\n"
"filter every event is printed; each option narrows it.\n"
"\n"
"  -t, --type GLOB        events whose type matches GLOB (fnmatch; repeat\n"
"                         for several, any may match)\n"
"  -s, --session S        events of session S\n"
"      --trace ID         events of trace ID\n"
"      --since SEQ        first the events stored from sequence number SEQ\n"
"                         on (starry-state), then the live ones: none\n"
"                         missed, none twice\n"
"      --db FILE          the store for --since (default\n"
"                         $STARRY_HOME/state.db)\n"
"      --cloudevents      print CloudEvents 1.0 JSON documents\n"
"      --ready-fd N       write a newline to fd N and close it once the hub\n"
"                         has confirmed the subscription (and, with\n"
"                         --since, the stored events are printed)\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 when the hub ends the stream (or stdout is closed), 75 when\n"
"the hub disconnected this subscriber as too slow (its last line is the\n"
"KERNEL:ERROR event ESLOWCONSUMER), 69 when the hub is not running or\n"
"refuses the subscription, 65 when --cloudevents could not write an event.\n";

enum { OPT_TRACE = CLI_OPT_FREE, OPT_CLOUDEVENTS, OPT_READY_FD, OPT_SINCE, OPT_DB };

static const struct option pub_options[] = {
	{"rejects", required_argument, NULL, 'r'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static const struct option sub_options[] = {
	{"type", required_argument, NULL, 't'},
	{"session", required_argument, NULL, 's'},
	{"trace", required_argument, NULL, OPT_TRACE},
	{"cloudevents", no_argument, NULL, OPT_CLOUDEVENTS},
	{"ready-fd", required_argument, NULL, OPT_READY_FD},
	{"since", required_argument, NULL, OPT_SINCE},
	{"db", required_argument, NULL, OPT_DB},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static int
connect_hub(const struct cli_common *common)
{
	struct starry_paths paths;
	struct starry_err err;
	int fd;

	cli_resolve_paths(common, &paths);
	fd = hub_connect(paths.runtime, &err);
	starry_paths_free(&paths);
	if (fd < 0)
		diag_die_err(&err);
	return fd;
}

/* pub */

/* A CloudEvent goes as it came: the hub converts it itself, and its id
 * need not be a UUID. */
static int
pub_accept(void *ctx, const char *line, size_t len, const char *raw,
    size_t rawlen, const struct event_view *view)
{
	struct outbuf *out = ctx;

	(void)line, (void)len, (void)view;
	if (outbuf_put_line(out, raw, rawlen) < 0)
		diag_die(EX_UNAVAILABLE, "the hub went away: %s", strerror(errno));
	return 0;
}

/* Before waiting for more input, send what is held: a slow producer's
 * events reach the hub at once, not when 64 KiB have gathered. */
static void
pub_idle(void *ctx)
{
	if (outbuf_flush(ctx) < 0)
		diag_die(EX_UNAVAILABLE, "the hub went away: %s", strerror(errno));
}

/* Half-close, then wait for the hub to close its side: it does so once it
 * has read every line. A publisher is never answered, so anything the hub
 * says is a refusal. */
static void
pub_finish(int fd)
{
	char buf[512];
	size_t got = 0;
	ssize_t n;

	if (shutdown(fd, SHUT_WR) < 0)
		diag_die(EX_UNAVAILABLE, "the hub went away: %s", strerror(errno));
	for (;;) {
		n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && got + n < sizeof buf - 1) {
			got += n;
			continue;
		}
		if (n < 0)
			diag_die(EX_UNAVAILABLE, "the hub closed the connection before "
			    "reading every event: %s", strerror(errno));
		if (n > 0)
			got += n;
		break;
	}
	if (got == 0)
		return;
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	diag_die(EX_UNAVAILABLE, "the hub refused the events: %s", buf);
}

int
bus_pub_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct starry_err err;
	struct ingest in;
	struct outbuf out;
	const char *rejects = NULL;
	int opt, sock, status;

	while ((opt = getopt_long(argc, argv, "r:h", pub_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, pub_usage))
			continue;
		if (opt == 'r')
			rejects = optarg;
	}
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		diag_die(EX_OSERR, "SIGPIPE: %s", strerror(errno));
	sock = connect_hub(&common);
	if (ingest_open(&in, "starry-bus", rejects, &err) < 0)
		diag_die_err(&err);
	outbuf_init(&out, sock);
	status = ingest_files(&in, argv + optind, argc - optind, pub_accept, pub_idle,
	    &out, &err);
	if (status < 0)
		diag_die_err(&err);
	if (outbuf_flush(&out) < 0)
		diag_die(EX_UNAVAILABLE, "the hub went away: %s", strerror(errno));
	pub_finish(sock);
	close(sock);
	outbuf_free(&out);
	if (status == 0 && in.rejected > 0)
		status = EX_DATAERR;
	ingest_close(&in);
	return status;
}

/* sub */

struct sub {
	int sock;
	int sigfd;
	sigset_t stops;
	struct outbuf out;
	bool cloudevents;
	bool subscribed;
	bool farewell;		/* the last line was ESLOWCONSUMER */
	unsigned long unconvertible;	/* events --cloudevents could not write */
	int ready_fd;
	struct replay *replay;		/* --since */
};

/* Write out what is gathered. While stdout blocks, SIGTERM and SIGINT
 * keep their default action, so a stuck reader cannot pin us. */
static void
sub_flush(struct sub *s)
{
	int rc;

	if (!outbuf_pending(&s->out))
		return;
	sigprocmask(SIG_UNBLOCK, &s->stops, NULL);
	rc = outbuf_flush(&s->out);
	sigprocmask(SIG_BLOCK, &s->stops, NULL);
	if (rc == 0)
		return;
	if (errno == EPIPE)
		exit(0);	/* the reader is gone: `| head -1` */
	diag_die(EX_IOERR, "stdout: %s", strerror(errno));
}

static void
sub_print(struct sub *s, const char *line, size_t len)
{
	struct starry_err err;
	char *ce;
	size_t n;

	if (outbuf_pending(&s->out) && len + 1 > outbuf_room(&s->out))
		sub_flush(s);
	if (!s->cloudevents) {
		if (outbuf_append(&s->out, line, len, true) < 0)
			diag_die(EX_OSERR, "out of memory");
		return;
	}
	ce = cloudevent_from_line(line, len, &n, &err);
	if (ce == NULL) {
		/* Said, counted, and told by the exit status. */
		diag_error("an event cannot be written as a CloudEvent: %s", err.msg);
		s->unconvertible++;
		return;
	}
	if (outbuf_append(&s->out, ce, n, false) < 0)
		diag_die(EX_OSERR, "out of memory");
	free(ce);
}

static void
sub_print_stored(void *ctx, const char *line, size_t len)
{
	sub_print(ctx, line, len);
}

static void
sub_line(struct sub *s, const char *line, size_t len)
{
	struct starry_err err;

	if (!s->subscribed) {
		if (hub_subscribe_answer(line, len, &err) < 0)
			diag_die_err(&err);
		s->subscribed = true;
		if (s->replay)
			replay_start(s->replay);
		sub_flush(s);
		cli_signal_ready(&s->ready_fd);
		return;
	}
	s->farewell = hub_is_farewell(line, len);
	if (s->replay && !s->farewell && !replay_live(s->replay, line, len))
		return;
	sub_print(s, line, len);
}

/* Wait for the hub; 1 when a stop signal came instead. */
static int
sub_wait(struct sub *s)
{
	struct pollfd pfd[2] = {
		{.fd = s->sock, .events = POLLIN},
		{.fd = s->sigfd, .events = POLLIN},
	};

	int n;

	for (;;) {
		n = poll(pfd, 2, s->replay ? replay_timeout(s->replay) : -1);
		if (n == 0) {
			replay_tick(s->replay);
			sub_flush(s);
			continue;
		}
		if (n > 0)
			return (pfd[1].revents & POLLIN) != 0;
		if (errno != EINTR)
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
	}
}

static int
sub_run(struct sub *s)
{
	struct line_reader *r = line_reader_new(s->sock, EVENT_MAX_LINE + 4096);
	enum line_status st;
	const char *line;
	size_t len;
	long lineno;

	if (r == NULL)
		diag_die(EX_OSERR, "out of memory");
	for (;;) {
		st = line_reader_next(r, &line, &len, &lineno);
		if (st == LINE_OK) {
			sub_line(s, line, len);
			continue;
		}
		if (st == LINE_TOO_LONG || st == LINE_TRUNCATED) {
			diag_warn("hub line %ld: %s, skipped", lineno,
			    st == LINE_TOO_LONG ? "too long" : "cut short");
			continue;
		}
		if (st == LINE_EOF)
			break;
		sub_flush(s);
		if (sub_wait(s)) {
			line_reader_free(r);
			return 0;	/* SIGTERM or SIGINT, nothing left unwritten */
		}
		if (line_reader_fill(r) < 0 && errno != EAGAIN) {
			if (errno != ECONNRESET)
				diag_die(EX_UNAVAILABLE, "reading from the hub: %s",
				    strerror(errno));
			break;
		}
	}
	line_reader_free(r);
	sub_flush(s);
	if (!s->subscribed)
		diag_die(EX_UNAVAILABLE, "the hub closed the connection before "
		    "confirming the subscription");
	if (s->farewell) {
		diag_error("the hub disconnected this subscriber as too slow");
		return EX_TEMPFAIL;
	}
	return 0;
}

/* The store is opened before the hub is asked, so that a missing store
 * is said before anything is printed. */
static struct replay *
sub_open_replay(const struct cli_common *common, const char *db, int64_t since,
    const char *const *types, size_t ntypes, const char *session,
    const char *trace, struct sub *s)
{
	struct starry_paths paths;
	struct replay *r;
	char *path = NULL;

	if (db == NULL) {
		cli_resolve_paths(common, &paths);
		path = starry_path_join(paths.home, STORE_FILE);
		starry_paths_free(&paths);
		if (path == NULL)
			diag_die(EX_OSERR, "out of memory");
		db = path;
	}
	r = replay_open(db, since, types, ntypes, session, trace, sub_print_stored, s);
	free(path);
	return r;
}

int
bus_sub_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct sub s = {.ready_fd = -1};
	const char **types = NULL;
	const char *session = NULL, *trace = NULL, *db = NULL;
	int64_t since = 0;
	size_t ntypes = 0, len;
	char *req;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "t:s:h", sub_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, sub_usage))
			continue;
		switch (opt) {
		case 't':
			if (*optarg == '\0')
				diag_die_usage("--type: empty glob");
			types = realloc(types, (ntypes + 1) * sizeof *types);
			if (types == NULL)
				diag_die(EX_OSERR, "out of memory");
			types[ntypes++] = optarg;
			break;
		case 's':
			if (*optarg == '\0')
				diag_die_usage("--session: empty");
			session = optarg;
			break;
		case OPT_TRACE:
			if (*optarg == '\0')
				diag_die_usage("--trace: empty");
			trace = optarg;
			break;
		case OPT_CLOUDEVENTS:
			s.cloudevents = true;
			break;
		case OPT_READY_FD:
			s.ready_fd = cli_ready_fd(optarg);
			break;
		case OPT_SINCE:
			since = cli_parse_int("since", optarg, 1, INT64_MAX);
			break;
		case OPT_DB:
			db = optarg;
			break;
		}
	}
	if (optind < argc)
		diag_die_usage("sub: unexpected argument '%s'", argv[optind]);
	if (db && !since)
		diag_die_usage("--db is for --since");
	outbuf_init(&s.out, STDOUT_FILENO);
	if (since)
		s.replay = sub_open_replay(&common, db, since, types, ntypes, session,
		    trace, &s);
	s.sigfd = cli_signalfd(&s.stops, (const int[]){SIGTERM, SIGINT, 0});
	s.sock = connect_hub(&common);
	req = hub_subscribe_line(types, ntypes, session, trace, &len);
	if (req == NULL)
		diag_die(EX_OSERR, "out of memory");
	rc = write_all(s.sock, req, len);
	free(req);
	if (rc < 0)
		diag_die(EX_UNAVAILABLE, "the hub went away: %s", strerror(errno));
	rc = sub_run(&s);
	if (rc == 0 && s.unconvertible > 0)
		rc = EX_DATAERR;
	replay_close(s.replay);
	free(types);
	outbuf_free(&s.out);
	close(s.sock);
	close(s.sigfd);
	return rc;
}
