/* starry-bus route: merge inputs, hold events in a bounded priority queue,
 * drop duplicates, and fan out by type glob. Backpressure, not loss: when
 * an output's queue is full, inputs are not read until it drains. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "dedup.h"
#include "ingest.h"
#include "lineq.h"
#include "sock.h"

static const char route_usage[] =
"usage: starry-bus route [options]\n"
"\n"
"Merge events from every --in (stdin when there is none), keep them in a\n"
"bounded queue ordered by priority (0 first; FIFO within a priority), drop\n"
"duplicate ids, and write each event to every --out whose type glob\n"
"matches it.\n"
"\n"
"  -i, --in PATH          read a file or FIFO (- is stdin; default: stdin)\n"
"  -o, --out GLOB=PATH    send events whose type matches GLOB to PATH: a FIFO,\n"
"                         a file (appended), a socket, or - for stdout\n"
"                         (default: '*=-')\n"
"      --dedup COUNT,DURATION  the dedup window (default 65536,10m)\n"
"      --no-dedup         pass duplicate ids on\n"
"  -q, --queue N          events held per output before reading stops\n"
"                         (default 65536)\n"
"      --queue-bytes SIZE the same bound in bytes (default 64M)\n"
"      --persist          keep FIFO inputs open when their writers leave\n"
"  -l, --lenient          accept any non-empty id of at most 128 bytes\n"
"  -r, --rejects FILE     append rejected lines to FILE as KERNEL:ERROR events\n"
"      --stats            print counts on stderr at the end (and on SIGUSR1)\n"
"      --cloudevents      write CloudEvents 1.0 JSON documents\n"
"  -h, --help, --version\n"
"\n"
"SIGTERM and SIGINT stop reading and flush every queued event; a second one\n"
"exits at once. The exit status is 65 when lines were rejected, 74 when an\n"
"output failed.\n";

enum {
	OPT_DEDUP = CLI_OPT_FREE, OPT_NO_DEDUP, OPT_PERSIST, OPT_STATS,
	OPT_CLOUDEVENTS, OPT_QUEUE_BYTES,
};

static const struct option route_options[] = {
	{"in", required_argument, NULL, 'i'},
	{"out", required_argument, NULL, 'o'},
	{"dedup", required_argument, NULL, OPT_DEDUP},
	{"no-dedup", no_argument, NULL, OPT_NO_DEDUP},
	{"queue", required_argument, NULL, 'q'},
	{"queue-bytes", required_argument, NULL, OPT_QUEUE_BYTES},
	{"persist", no_argument, NULL, OPT_PERSIST},
	{"lenient", no_argument, NULL, 'l'},
	{"rejects", required_argument, NULL, 'r'},
	{"stats", no_argument, NULL, OPT_STATS},
	{"cloudevents", no_argument, NULL, OPT_CLOUDEVENTS},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct input {
	const char *name;
	int fd;
	struct line_reader *reader;
	bool want_read;		/* nothing whole is buffered: poll it */
	bool done;
};

struct output {
	char *glob;
	bool match_all;		/* the glob is "*" */
	const char *path;
	int fd;
	struct lineq *queue;
	int restore_flags;	/* -1, or stdout's flags to put back */
	bool dead;
	uint64_t written, lost;
};

#define ROUTE_AHEAD 8

struct route {
	struct input *in;
	size_t nin;
	struct output *out;
	size_t nout;
	struct ingest ingest;
	struct dedup_window *dedup;
	size_t queue_cap;
	uint64_t queue_bytes;
	bool persist, cloudevents, stats, draining;
	uint64_t read, queued;
	int status;
	/* Events scanned but not yet looked up in the dedup window: the
	 * lookups of a few lines go together, after their ids have been
	 * prefetched, so that one line's scan hides another's cache miss. */
	struct ahead {
		struct event_view view;
		const char *line;
		size_t len;
	} ahead[ROUTE_AHEAD];
	size_t nahead;
};

static void
route_add_input(struct route *rt, const char *path)
{
	struct input *in;
	struct stat st;
	int fd, flags = O_RDONLY | O_CLOEXEC;

	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
	} else {
		if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
			/* Non-blocking so a FIFO with no writer yet does not stop
			 * the others; --persist holds it open for writers to come. */
			flags = (rt->persist ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC;
		fd = open(path, flags);
		if (fd < 0)
			diag_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "--in %s: %s",
			    path, strerror(errno));
	}
	rt->in = realloc(rt->in, (rt->nin + 1) * sizeof *rt->in);
	if (rt->in == NULL)
		diag_die(EX_OSERR, "out of memory");
	in = &rt->in[rt->nin++];
	in->name = fd == STDIN_FILENO ? "<stdin>" : path;
	in->fd = fd;
	in->reader = line_reader_new(fd, EVENT_MAX_LINE);
	in->want_read = true;
	in->done = false;
	if (in->reader == NULL)
		diag_die(EX_OSERR, "out of memory");
}

static int
open_output_path(const char *path, int *restore_flags)
{
	struct starry_err err;
	struct stat st;
	int fd, flags;

	*restore_flags = -1;
	if (strcmp(path, "-") == 0) {
		fd = STDOUT_FILENO;
	} else if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		if ((fd = sock_connect(path, &err)) < 0)
			diag_die_err(&err);
	} else {
		/* A FIFO opens when its reader does, as with a shell redirect. */
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			diag_die(EX_CANTCREAT, "--out %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		diag_die(EX_IOERR, "--out %s: %s", path, strerror(errno));
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
			diag_die(EX_IOERR, "--out %s: %s", path, strerror(errno));
		if (fd == STDOUT_FILENO)
			*restore_flags = flags;
	}
	return fd;
}

static void
route_add_output(struct route *rt, const char *spec)
{
	const char *eq = strrchr(spec, '=');
	struct output *o;

	if (eq == NULL || eq == spec || eq[1] == '\0')
		diag_die_usage("--out: expected GLOB=PATH, got '%s'", spec);
	rt->out = realloc(rt->out, (rt->nout + 1) * sizeof *rt->out);
	if (rt->out == NULL)
		diag_die(EX_OSERR, "out of memory");
	o = &rt->out[rt->nout++];
	memset(o, 0, sizeof *o);
	o->glob = strndup(spec, eq - spec);
	o->match_all = strcmp(o->glob, "*") == 0;
	o->path = eq + 1;
	o->queue = lineq_new(rt->queue_cap, rt->queue_bytes);
	if (o->glob == NULL || o->queue == NULL)
		diag_die(EX_OSERR, "out of memory");
	o->fd = open_output_path(o->path, &o->restore_flags);
}

static bool
route_queues_full(const struct route *rt)
{
	for (size_t i = 0; i < rt->nout; i++)
		if (!rt->out[i].dead && lineq_full(rt->out[i].queue))
			return true;
	return false;
}

static void
output_fail(struct route *rt, struct output *o)
{
	diag_error("--out %s: %s", o->path, strerror(errno));
	o->dead = true;
	rt->status = EX_IOERR;
	o->lost += lineq_clear(o->queue);
	if (o->lost)
		diag_error("--out %s: %llu queued events not delivered", o->path,
		    (unsigned long long)o->lost);
}

/* Write what the fd takes now, straight from the queue, at most
 * ROUTE_WRITE bytes a time: a priority 0 event that arrives meanwhile
 * overtakes everything still queued. Returns whether anything moved. */
#define ROUTE_WRITE (256 * 1024)
static bool
output_pump(struct route *rt, struct output *o)
{
	const char *p;
	size_t len, before;
	ssize_t n;
	bool moved = false;

	while (!o->dead && (p = lineq_peek(o->queue, ROUTE_WRITE, &len)) != NULL) {
		n = write(o->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				output_fail(rt, o);
			break;
		}
		before = lineq_lines(o->queue);
		lineq_consume(o->queue, n);
		o->written += before - lineq_lines(o->queue);
		moved = true;
	}
	return moved;
}

static void
route_enqueue(struct route *rt, const char *line, size_t len, const struct event_view *view)
{
	char type[EVENT_MAX_FIELD * 4 + 1];
	bool queued = false;

	if (event_str_copy(&view->type, type, sizeof type) < 0)
		return;		/* cannot happen: the scan bounds the type */
	for (size_t i = 0; i < rt->nout; i++) {
		struct output *o = &rt->out[i];

		if (!o->match_all && fnmatch(o->glob, type, 0) != 0)
			continue;
		if (o->dead) {
			o->lost++;
			continue;
		}
		if (lineq_push(o->queue, view->priority, line, len) < 0)
			diag_die(EX_OSERR, "out of memory");
		queued = true;
	}
	if (queued)
		rt->queued++;
}

static bool
route_duplicate(struct route *rt, const struct event_view *view, int64_t now)
{
	char buf[EVENT_ID_KEY_MAX];
	const char *key;
	long n;

	if (rt->dedup == NULL)
		return false;
	n = event_id_key(view, &key, buf, sizeof buf);
	return n >= 0 && dedup_window_seen(rt->dedup, key, n, now);
}

static void
route_deliver(struct route *rt, const char *line, size_t len,
    const struct event_view *view, int64_t now)
{
	if (!route_duplicate(rt, view, now))
		route_enqueue(rt, line, len, view);
}

/* Deliver the events scanned ahead, in their order. */
static void
route_flush_ahead(struct route *rt, int64_t now)
{
	for (size_t i = 0; i < rt->nahead; i++)
		route_deliver(rt, rt->ahead[i].line, rt->ahead[i].len,
		    &rt->ahead[i].view, now);
	rt->nahead = 0;
}

/* Keep the event in a->view for route_flush_ahead; a->line is the input's
 * own line, which stays in the reader's buffer until the next read. */
static void
route_hold_ahead(struct route *rt, struct ahead *a, int64_t now)
{
	char buf[EVENT_ID_KEY_MAX];
	const char *key;
	long n;

	if (rt->dedup != NULL && (n = event_id_key(&a->view, &key, buf, sizeof buf)) >= 0)
		dedup_window_prefetch(rt->dedup, key, n);
	if (++rt->nahead == ROUTE_AHEAD)
		route_flush_ahead(rt, now);
}

/* Take the whole lines an input has buffered, while every queue has room
 * (checked every line: at most ROUTE_AHEAD - 1 more may still go in).
 * Returns whether it took any. */
static bool
input_take_lines(struct route *rt, struct input *in)
{
	struct starry_err err;
	struct ahead *a;
	enum line_status st;
	const char *line, *ev;
	size_t len, evlen;
	long lineno;
	bool took = false;
	int64_t now = monotonic_ms();	/* once a batch: lines read together */

	while (!in->done && !in->want_read && !route_queues_full(rt)) {
		st = line_reader_next(in->reader, &line, &len, &lineno);
		if (st == LINE_AGAIN) {
			in->want_read = true;
			break;
		}
		if (st == LINE_EOF) {
			in->done = true;
			break;
		}
		took = true;
		rt->read++;
		a = &rt->ahead[rt->nahead];
		switch (ingest_line(&rt->ingest, in->name, st, line, len, lineno,
		    &a->view, &ev, &evlen, &err)) {
		case -1:
			diag_die_err(&err);
		case 0:
			continue;
		}
		if (ev == line) {
			a->line = ev;
			a->len = evlen;
			route_hold_ahead(rt, a, now);
			continue;
		}
		/* A conversion lasts only until the ingest's next line. */
		route_flush_ahead(rt, now);
		route_deliver(rt, ev, evlen, &a->view, now);
	}
	route_flush_ahead(rt, now);
	return took;
}

static void
input_read(struct route *rt, struct input *in)
{
	long n = line_reader_fill(in->reader);

	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		diag_error("--in %s: %s", in->name, strerror(errno));
		in->done = true;
		rt->status = EX_IOERR;
		return;
	}
	in->want_read = false;
}

static void
route_print_stats(const struct route *rt)
{
	diag_note("route: %llu lines read, %llu rejected, %llu duplicates dropped, "
	    "%llu events queued", (unsigned long long)rt->read,
	    (unsigned long long)rt->ingest.rejected,
	    (unsigned long long)(rt->dedup ? dedup_window_dropped(rt->dedup) : 0),
	    (unsigned long long)rt->queued);
	for (size_t i = 0; i < rt->nout; i++)
		diag_note("route: --out %s=%s: %llu written, %zu waiting, %llu lost",
		    rt->out[i].glob, rt->out[i].path,
		    (unsigned long long)rt->out[i].written,
		    lineq_lines(rt->out[i].queue), (unsigned long long)rt->out[i].lost);
}

static bool
route_finished(const struct route *rt)
{
	for (size_t i = 0; i < rt->nin; i++)
		if (!rt->in[i].done && !(rt->draining && rt->in[i].want_read))
			return false;
	for (size_t i = 0; i < rt->nout; i++)
		if (!rt->out[i].dead && lineq_lines(rt->out[i].queue) > 0)
			return false;
	return true;
}

/* Returns false when the route must stop at once. */
static bool
route_on_signal(struct route *rt, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGUSR1) {
			route_print_stats(rt);
			continue;
		}
		if (rt->draining) {
			diag_error("second SIG%s: exiting with events still queued",
			    sigabbrev_np(si.ssi_signo));
			return false;
		}
		rt->draining = true;
	}
	return true;
}

static void
route_loop(struct route *rt)
{
	size_t nfds = 1 + rt->nin + rt->nout;
	struct pollfd *pfd = calloc(nfds, sizeof *pfd);
	sigset_t set;
	int sfd = cli_signalfd(&set, (const int[]){SIGTERM, SIGINT, SIGUSR1, 0});

	if (pfd == NULL)
		diag_die(EX_OSERR, "out of memory");
	for (;;) {
		bool progress;

		/* Move lines to queues and queues to outputs until neither
		 * moves; lines already read are held too, so take them even
		 * when draining. */
		do {
			progress = false;
			for (size_t i = 0; i < rt->nin; i++)
				progress |= input_take_lines(rt, &rt->in[i]);
			for (size_t i = 0; i < rt->nout; i++)
				progress |= output_pump(rt, &rt->out[i]);
		} while (progress);
		if (route_finished(rt))
			break;
		pfd[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (size_t i = 0; i < rt->nin; i++) {
			struct input *in = &rt->in[i];
			bool wait = in->want_read && !in->done && !rt->draining &&
			    !route_queues_full(rt);

			pfd[1 + i] = (struct pollfd){.fd = wait ? in->fd : -1, .events = POLLIN};
		}
		for (size_t i = 0; i < rt->nout; i++) {
			struct output *o = &rt->out[i];

			pfd[1 + rt->nin + i] = (struct pollfd){
			    .fd = !o->dead && lineq_lines(o->queue) > 0 ? o->fd : -1,
			    .events = POLLOUT};
		}
		if (poll(pfd, nfds, -1) < 0) {
			if (errno == EINTR)
				continue;
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		}
		if (pfd[0].revents && !route_on_signal(rt, sfd))
			break;
		for (size_t i = 0; i < rt->nin; i++)
			if (pfd[1 + i].revents)
				input_read(rt, &rt->in[i]);
	}
	close(sfd);
	free(pfd);
}

static void
route_close(struct route *rt)
{
	for (size_t i = 0; i < rt->nin; i++) {
		line_reader_free(rt->in[i].reader);
		if (rt->in[i].fd != STDIN_FILENO)
			close(rt->in[i].fd);
	}
	for (size_t i = 0; i < rt->nout; i++) {
		struct output *o = &rt->out[i];

		lineq_free(o->queue);
		if (o->restore_flags >= 0)
			fcntl(o->fd, F_SETFL, o->restore_flags);
		if (o->fd != STDOUT_FILENO)
			close(o->fd);
		free(o->glob);
	}
	free(rt->in);
	free(rt->out);
	dedup_window_free(rt->dedup);
	ingest_close(&rt->ingest);
}

int
bus_route_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct route rt = {.queue_cap = 65536, .queue_bytes = 64 << 20};
	struct starry_err err;
	const char *rejects = NULL;
	const char **ins = NULL, **outs = NULL;
	size_t nins = 0, nouts = 0, dedup_count = DEDUP_DEFAULT_COUNT;
	int64_t dedup_ms = DEDUP_DEFAULT_MS;
	bool dedup = true, lenient = false;
	int opt;

	ins = calloc(argc, sizeof *ins);
	outs = calloc(argc, sizeof *outs);
	if (ins == NULL || outs == NULL)
		diag_die(EX_OSERR, "out of memory");
	while ((opt = getopt_long(argc, argv, "i:o:q:lr:h", route_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, route_usage))
			continue;
		switch (opt) {
		case 'i':
			ins[nins++] = optarg;
			break;
		case 'o':
			outs[nouts++] = optarg;
			break;
		case OPT_DEDUP:
			if (dedup_parse_spec(optarg, &dedup_count, &dedup_ms) < 0)
				diag_die_usage("--dedup: expected COUNT,DURATION such as "
				    "65536,10m, got '%s'", optarg);
			dedup = true;
			break;
		case OPT_NO_DEDUP:
			dedup = false;
			break;
		case 'q':
			rt.queue_cap = cli_parse_int("queue", optarg, 1, 1 << 24);
			break;
		case OPT_QUEUE_BYTES:
			rt.queue_bytes = cli_parse_size("queue-bytes", optarg, 1,
			    (uint64_t)1 << 34);
			break;
		case OPT_PERSIST:
			rt.persist = true;
			break;
		case 'l':
			lenient = true;
			break;
		case 'r':
			rejects = optarg;
			break;
		case OPT_STATS:
			rt.stats = true;
			break;
		case OPT_CLOUDEVENTS:
			rt.cloudevents = true;
			break;
		}
	}
	if (optind != argc)
		diag_die_usage("route: unexpected argument '%s' (inputs go with --in)",
		    argv[optind]);
	if (ingest_open(&rt.ingest, "starry-bus", rejects, &err) < 0)
		diag_die_err(&err);
	rt.ingest.scan_flags = lenient ? EVENT_LENIENT : 0;
	rt.ingest.cloudevents_out = rt.cloudevents;
	rt.ingest.accept_truncated = lenient;
	if (dedup && (rt.dedup = dedup_window_new(dedup_count, dedup_ms)) == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (nins == 0)
		ins[nins++] = "-";
	for (size_t i = 0; i < nins; i++)
		route_add_input(&rt, ins[i]);
	if (nouts == 0)
		outs[nouts++] = "*=-";
	for (size_t i = 0; i < nouts; i++)
		route_add_output(&rt, outs[i]);
	free(ins);
	free(outs);

	route_loop(&rt);
	if (rt.stats)
		route_print_stats(&rt);
	else if (rt.dedup && dedup_window_dropped(rt.dedup) > 0)
		diag_note("route: dropped %llu duplicate events",
		    (unsigned long long)dedup_window_dropped(rt.dedup));
	if (rt.status == 0 && rt.ingest.rejected > 0)
		rt.status = EX_DATAERR;
	for (size_t i = 0; i < rt.nout; i++)
		if (rt.out[i].dead || lineq_lines(rt.out[i].queue) > 0)
			rt.status = EX_IOERR;
	route_close(&rt);
	return rt.status;
}
