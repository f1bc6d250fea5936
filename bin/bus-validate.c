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


static int
validate_accept(void *ctx, const char *line, size_t len, const char *raw,
    size_t rawlen, const struct event_view *view)
{
	struct outbuf *out = ctx;

	(void)raw, (void)rawlen, (void)view;
	if (outbuf_put_line(out, line, len) < 0)
		diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	return 0;
}

int
bus_validate_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct ingest in;
	struct outbuf out;
	bool cloudevents = false;
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
			cloudevents = true;
			break;
		}
	}
	if (ingest_open(&in, "starry-bus", rejects, &err) < 0)
		diag_die_err(&err);
	in.scan_flags = lenient ? EVENT_LENIENT : 0;
	in.accept_truncated = lenient;
	in.quiet = quiet;
	in.max_line = max_line;
	in.cloudevents_out = cloudevents;
	outbuf_init(&out, STDOUT_FILENO);

	status = ingest_files(&in, argv + optind, argc - optind, validate_accept,
	    NULL, &out, &err);
	if (status < 0)
		diag_die_err(&err);
	if (outbuf_flush(&out) < 0)
		diag_die(EX_IOERR, "stdout: %s", strerror(errno));
	if (status == 0 && in.rejected > 0)
		status = EX_DATAERR;
	outbuf_free(&out);
	ingest_close(&in);
	return status;
}
