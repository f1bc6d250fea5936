/* starry-bus validate: pass valid events through byte for byte, and say
 * why each invalid line was refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "cloudevents.h"
#include "ingest.h"
#include "outbuf.h"

static const char validate_usage[] =
"usage: starry-bus validate [options] [FILE...]\n"
"\n"
"Copy the valid events of each FILE (or stdin, or -) to stdout unchanged,\n"
"byte for byte. Each invalid line gets a diagnostic with its line number\n"
"and reason on stderr; the exit status is 65 when any line was rejected.\n"
"\n"
"  -l, --lenient          accept any non-empty id of at most 128 bytes, and a\n"
"                         last line without its newline\n"
"  -r, --rejects FILE     append each rejected line to FILE, inside a\n"
"                         KERNEL:ERROR event\n"
"  -q, --quiet            no diagnostics (the exit status still tells)\n"
"      --max-line SIZE    the longest line accepted (default 1M)\n"
"      --cloudevents      write CloudEvents 1.0 JSON documents\n"
"  -h, --help, --version\n"
"\n"
"CloudEvents structured-mode JSON is accepted on input and converted.\n";

enum { OPT_MAX_LINE = CLI_OPT_FREE, OPT_CLOUDEVENTS };

static const struct option validate_options[] = {
	{"lenient", no_argument, NULL, 'l'},
	{"rejects", required_argument, NULL, 'r'},
	{"quiet", no_argument, NULL, 'q'},
	{"max-line", required_argument, NULL, OPT_MAX_LINE},
	{"cloudevents", no_argument, NULL, OPT_CLOUDEVENTS},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct validate {
	struct ingest in;
	struct outbuf out;
	bool cloudevents;
};

static int
validate_accept(void *ctx, const char *line, size_t len, const char *raw,
    size_t rawlen, const struct event_view *view)
{
	struct validate *v = ctx;
	struct starry_err err;
	size_t n;
	char *ce;
	int rc;

	(void)raw, (void)rawlen, (void)view;
	if (!v->cloudevents) {
		rc = outbuf_put_line(&v->out, line, len);
	} else {
		ce = cloudevent_from_line(line, len, &n, &err);
		if (ce == NULL)
			diag_die_err(&err);
		rc = outbuf_put(&v->out, ce, n);
		free(ce);
	}
	if (rc < 0)
		diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	return 0;
}

int
bus_validate_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct validate v = {0};
	struct starry_err err;
	const char *rejects = NULL;
	int64_t max_line = EVENT_MAX_LINE;
	int opt, status;
	bool lenient = false, quiet = false;

	while ((opt = getopt_long(argc, argv, "lr:qh", validate_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, validate_usage))
			continue;
		switch (opt) {
		case 'l':
			lenient = true;
			break;
		case 'r':
			rejects = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case OPT_MAX_LINE:
			max_line = cli_parse_size("max-line", optarg, 1, 256 << 20);
			break;
		case OPT_CLOUDEVENTS:
			v.cloudevents = true;
			break;
		}
	}
	if (ingest_open(&v.in, "starry-bus", rejects, &err) < 0)
		diag_die_err(&err);
	v.in.scan_flags = lenient ? EVENT_LENIENT : 0;
	v.in.accept_truncated = lenient;
	v.in.quiet = quiet;
	v.in.max_line = max_line;
	outbuf_init(&v.out, STDOUT_FILENO);

	status = ingest_files(&v.in, argv + optind, argc - optind, validate_accept,
	    NULL, &v, &err);
	if (status < 0)
		diag_die_err(&err);
	if (outbuf_flush(&v.out) < 0)
		diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	if (status == 0 && v.in.rejected > 0)
		status = EX_DATAERR;
	outbuf_free(&v.out);
	ingest_close(&v.in);
	return status;
}
