/* starry-bus emit: print one new event, or send it with --to. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "cloudevents.h"
#include "event.h"
#include "fdio.h"
#include "ingest.h"
#include "sock.h"

static const char emit_usage[] =
"usage: starry-bus emit TYPE [options]\n"
"\n"
"Print one new event of TYPE (NAMESPACE:NAME) as a JSON line.\n"
"\n"
"  -p, --payload JSON|@FILE|-  the payload (default null)\n"
"  -s, --source S              the source component (default starry-bus)\n"
"      --session S             the session id (default: inherited, or default)\n"
"  -P, --priority N            0 (highest) to 5 (default 3)\n"
"  -t, --trace ID              the trace id (default: inherited, or a new one)\n"
"  -c, --cause EVENT|@FILE|-   the event that caused this one: its trace and\n"
"                              session are inherited, parentId is its id\n"
"      --to PATH               write to a FIFO, a socket (the hub) or a file\n"
"      --cloudevents           write a CloudEvents 1.0 JSON document\n"
"  -h, --help, --version, --home DIR, --runtime DIR, --config DIR\n"
"\n"
"Unless --trace or --cause is given, STARRY_TRACE_ID, STARRY_SESSION_ID and\n"
"STARRY_CAUSE_ID from the environment are inherited (--session still wins).\n"
"A line over 4096 bytes is refused for a FIFO, where it could interleave\n"
"with another writer's: send it to the hub's socket instead.\n";

enum { OPT_SESSION = CLI_OPT_FREE, OPT_TO, OPT_CLOUDEVENTS };

static const struct option emit_options[] = {
	{"payload", required_argument, NULL, 'p'},
	{"source", required_argument, NULL, 's'},
	{"session", required_argument, NULL, OPT_SESSION},
	{"priority", required_argument, NULL, 'P'},
	{"trace", required_argument, NULL, 't'},
	{"cause", required_argument, NULL, 'c'},
	{"to", required_argument, NULL, OPT_TO},
	{"cloudevents", no_argument, NULL, OPT_CLOUDEVENTS},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* The text of an argument that may be inline, @FILE or - (stdin).
 * Returns a malloc'd NUL-terminated string, or dies. */
static char *
read_argument(const char *opt, const char *arg, size_t *len)
{
	FILE *f;
	char *text = NULL;
	size_t cap = 0, n = 0, got;

	if (strcmp(arg, "-") != 0 && arg[0] != '@') {
		*len = strlen(arg);
		return strdup(arg);
	}
	f = strcmp(arg, "-") == 0 ? stdin : fopen(arg + 1, "re");
	if (f == NULL)
		diag_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "--%s %s: %s", opt,
		    arg + 1, strerror(errno));
	do {
		if (cap - n < 65536) {
			if (cap > EVENT_MAX_LINE * 4)
				diag_die(EX_DATAERR, "--%s %s: larger than %d bytes", opt,
				    arg, EVENT_MAX_LINE * 4);
			cap = cap ? cap * 2 : 65536;
			text = realloc(text, cap + 1);
			if (text == NULL)
				diag_die(EX_OSERR, "out of memory");
		}
		got = fread(text + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	if (ferror(f))
		diag_die(EX_IOERR, "--%s %s: read error", opt, arg);
	if (f != stdin)
		fclose(f);
	text[n] = '\0';
	*len = n;
	return text;
}

static json_t *
parse_payload(const char *arg)
{
	json_error_t jerr;
	size_t len;
	char *text = read_argument("payload", arg, &len);
	json_t *payload = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES |
	    JSON_ALLOW_NUL, &jerr);

	free(text);
	if (payload == NULL)
		diag_die(EX_DATAERR, "--payload: invalid JSON at line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	return payload;
}

static void
origin_from_cause_arg(struct event_origin *origin, const char *arg,
    struct event_cause_buf *buf)
{
	struct event_view view;
	struct starry_err err;
	size_t len;
	char *text = read_argument("cause", arg, &len);

	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (event_scan_line(text, len, EVENT_LENIENT, &view, &err) < 0)
		diag_die(EX_DATAERR, "--cause: %s", err.msg);
	if (view.cloudevent)
		diag_die(EX_DATAERR, "--cause: give the cause as a starry event, not a CloudEvent");
	if (event_origin_from_cause(origin, &view, buf, &err) < 0)
		diag_die(EX_DATAERR, "--cause: %s", err.msg);
	free(text);
}

/* Open PATH for one event: a socket is the hub, a FIFO needs a reader, and
 * anything else is a file appended to. */
static int
open_destination(const char *path, size_t len)
{
	struct starry_err err;
	struct stat st;
	int fd;

	if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		fd = sock_connect(path, &err);
		if (fd < 0)
			diag_die_err(&err);
		return fd;
	}
	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 && errno == ENXIO)
			diag_die(EX_UNAVAILABLE, "--to %s: no process reads this FIFO", path);
		if (fd < 0)
			diag_die(EX_CANTCREAT, "--to %s: %s", path, strerror(errno));
		if (fcntl(fd, F_SETFL, 0) < 0)
			diag_die(EX_OSERR, "--to %s: %s", path, strerror(errno));
		if (len > PIPE_BUF)
			diag_die(EX_DATAERR, "--to %s: the event is %zu bytes; a FIFO "
			    "keeps only lines up to %d bytes whole among several writers: "
			    "send it to the hub's bus.sock", path, len, PIPE_BUF);
		return fd;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		diag_die(EX_CANTCREAT, "--to %s: %s", path, strerror(errno));
	return fd;
}

int
bus_emit_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct event_origin origin = {.priority = -1};
	struct event_cause_buf cause_buf;
	struct starry_err err;
	const char *cause = NULL, *to = NULL;
	json_t *payload = NULL, *event;
	bool cloudevents = false;
	char *line, *ce;
	size_t len;
	int opt, fd;

	while ((opt = getopt_long(argc, argv, "p:s:P:t:c:h", emit_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, emit_usage))
			continue;
		switch (opt) {
		case 'p':
			json_decref(payload);
			payload = parse_payload(optarg);
			break;
		case 's':
			origin.source = optarg;
			break;
		case OPT_SESSION:
			origin.session_id = optarg;
			break;
		case 'P':
			origin.priority = cli_parse_int("priority", optarg, 0, EVENT_PRIORITY_MAX);
			break;
		case 't':
			origin.trace_id = optarg;
			break;
		case 'c':
			cause = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_CLOUDEVENTS:
			cloudevents = true;
			break;
		}
	}
	if (optind + 1 != argc)
		diag_die_usage(optind == argc ? "emit: missing TYPE" : "emit: one TYPE only");
	if (origin.source == NULL)
		origin.source = "starry-bus";
	/* A chain named on the command line is not mixed with the one in the
	 * environment: a parent from another trace would be a lie. */
	if (cause != NULL)
		origin_from_cause_arg(&origin, cause, &cause_buf);
	else if (origin.trace_id == NULL)
		event_origin_from_env(&origin);

	event = event_create(argv[optind], payload, &origin, &err);
	if (event == NULL)
		diag_die_err(&err);
	line = event_dump_line(event, &len);
	json_decref(event);
	if (line == NULL)
		diag_die(EX_SOFTWARE, "cannot serialise the event");
	if (cloudevents) {
		ce = cloudevent_from_line(line, len - 1, &len, &err);
		if (ce == NULL)
			diag_die_err(&err);
		free(line);
		line = ce;
	}
	fd = to ? open_destination(to, len) : STDOUT_FILENO;
	if (write_all(fd, line, len) < 0)
		diag_die(EX_IOERR, "%s: %s", to ? to : "stdout", strerror(errno));
	if (to && close(fd) < 0)
		diag_die(EX_IOERR, "%s: %s", to, strerror(errno));
	free(line);
	return 0;
}
