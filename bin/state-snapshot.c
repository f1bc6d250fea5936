/* starry-state snapshot and cursor: agents' saved states, and consumers'
 * positions in the event log. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudevents.h"
#include "state.h"

static const char snapshot_usage[] =
"usage: starry-state snapshot save [options] AGENT [FILE|-]\n"
"       starry-state snapshot load [options] AGENT [--at SEQ]\n"
"       starry-state snapshot list [options] [AGENT]\n"
"\n"
"save stores the JSON document in FILE (stdin when none, or -) as AGENT's\n"
"next version; the newest --keep versions are kept. load prints the newest\n"
"snapshot, or the newest taken at or before event SEQ. list prints one line\n"
"per snapshot: agent, version, seq, time and size (--json: JSON lines).\n"
"STATE:SNAPSHOT events stored by append become snapshots too.\n"
"\n"
"      --at SEQ           load: as of event SEQ\n"
"      --keep N           save: versions kept per agent (default 10; 0: all)\n"
"      --json             list: JSON lines\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 1 when load finds no snapshot, 65 when save is given\n"
"something other than JSON, 66 when there is no database.\n";

static const char cursor_usage[] =
"usage: starry-state cursor get [options] CONSUMER\n"
"       starry-state cursor commit [options] CONSUMER SEQ\n"
"       starry-state cursor delete [options] CONSUMER\n"
"       starry-state cursor list [options]\n"
"\n"
"A cursor is the sequence number of the last event a consumer has\n"
"handled. get prints it; commit moves it; delete forgets a consumer that\n"
"is gone; list prints every cursor (consumer, sequence number, when it was\n"
"last committed). 'starry-state query --cursor CONSUMER' prints the events\n"
"after it; prune keeps every event a cursor still needs.\n"
"\n"
"      --json             list: JSON lines\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 1 when get or delete finds no such consumer, 66 when\n"
"there is no database.\n";

enum { OPT_AT = STATE_OPT_FREE, OPT_KEEP, OPT_JSON };

static const struct option snapshot_options[] = {
	{"at", required_argument, NULL, OPT_AT},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"json", no_argument, NULL, OPT_JSON},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

/* All of fd, up to max bytes. */
static char *
read_all(int fd, const char *name, size_t max, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	if (buf == NULL)
		diag_die(EX_OSERR, "out of memory");
	for (;;) {
		if (n == cap) {
			if (n > max)
				diag_die(EX_DATAERR, "%s: larger than %zu bytes", name, max);
			cap *= 2;
			if ((buf = realloc(buf, cap)) == NULL)
				diag_die(EX_OSERR, "out of memory");
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			diag_die(EX_IOERR, "%s: %s", name, strerror(errno));
		if (r == 0)
			break;
		n += r;
	}
	if (n > max)
		diag_die(EX_DATAERR, "%s: larger than %zu bytes", name, max);
	*len = n;
	return buf;
}

/* The document is read and checked before the store is opened, so that
 * bad input creates nothing. */
static int
snapshot_save(const struct state_opts *opts, const char *agent,
    const char *file, long keep)
{
	struct starry_err err;
	json_error_t jerr;
	struct store *st;
	int64_t version;
	size_t len;
	char *data, *text;
	json_t *doc;
	int fd = STDIN_FILENO;

	if (file != NULL && strcmp(file, "-") == 0)
		file = NULL;
	if (file != NULL && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		diag_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s: %s", file,
		    strerror(errno));
	data = read_all(fd, file ? file : "<stdin>", 64 << 20, &len);
	if (fd != STDIN_FILENO)
		close(fd);
	/* Stored compact, one line, so that it can travel in an event. */
	doc = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (doc == NULL)
		diag_die(EX_DATAERR, "%s:%d:%d: not JSON: %s", file ? file : "<stdin>",
		    jerr.line, jerr.column, jerr.text);
	text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	if (text == NULL)
		diag_die(EX_OSERR, "out of memory");
	st = state_open(opts, STORE_CREATE);
	if (store_begin(st, &err) < 0 ||
	    store_snapshot_save(st, agent, text, strlen(text), event_now_ms(), keep,
	    &version, &err) < 0 || store_commit(st, &err) < 0)
		diag_die_err(&err);
	diag_note("snapshot: %s version %lld saved", agent, (long long)version);
	free(text);
	store_close(st);
	return 0;
}

static int
print_snapshot_data(void *ctx, const struct store_snapshot *s)
{
	(void)ctx;
	cli_print_line(s->data, s->len);
	return 0;
}

static int
print_snapshot_row(void *ctx, const struct store_snapshot *s)
{
	bool json = *(bool *)ctx;
	char when[32];

	cloudevent_format_time(s->created_ms, when);
	if (json)
		cli_print_json(json_pack("{s:s, s:I, s:I, s:s, s:I}", "agent", s->agent,
		    "version", (json_int_t)s->version, "seq", (json_int_t)s->seq,
		    "created", when, "bytes", (json_int_t)s->len));
	else if (printf("%-24s %7lld %10lld  %s %9zu\n", s->agent,
	    (long long)s->version, (long long)s->seq, when, s->len) < 0) {
		cli_stdout_failed();
	}
	return 0;
}

int
state_snapshot_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct starry_err err;
	int64_t at = 0, ignored = 0;
	long keep = STORE_SNAPSHOT_KEEP;
	bool json = false;
	const char *verb;
	struct store *st;
	int opt, rc, nargs;

	while ((opt = getopt_long(argc, argv, "h", snapshot_options, NULL)) != -1) {
		if (state_option(&opts, opt, snapshot_usage))
			continue;
		switch (opt) {
		case OPT_AT:
			state_parse_point("at", optarg, &at, &ignored);
			if (ignored)
				diag_die_usage("--at: expected a sequence number");
			break;
		case OPT_KEEP:
			keep = cli_parse_int("keep", optarg, 0, 1000000);
			break;
		case OPT_JSON:
			json = true;
			break;
		}
	}
	if (optind == argc)
		diag_die_usage("missing save, load or list");
	verb = argv[optind++];
	nargs = argc - optind;
	if (strcmp(verb, "save") == 0) {
		if (nargs < 1 || nargs > 2)
			diag_die_usage("usage: snapshot save AGENT [FILE|-]");
		return snapshot_save(&opts, argv[optind], nargs == 2 ? argv[optind + 1] :
		    NULL, keep);
	} else if (strcmp(verb, "load") == 0) {
		if (nargs != 1)
			diag_die_usage("usage: snapshot load AGENT [--at SEQ]");
		st = state_open(&opts, 0);
		rc = store_snapshot_load(st, argv[optind], at, print_snapshot_data, NULL,
		    &err);
		if (rc < 0)
			diag_die_err(&err);
		if (rc == 0)
			diag_error("no snapshot of '%s'%s", argv[optind],
			    at ? " at or before that event" : "");
		rc = rc > 0 ? 0 : EX_NEGATIVE;
	} else if (strcmp(verb, "list") == 0) {
		if (nargs > 1)
			diag_die_usage("usage: snapshot list [AGENT]");
		st = state_open(&opts, 0);
		if (!json)
			printf("%-24s %7s %10s  %-24s %9s\n", "AGENT", "VERSION", "SEQ",
			    "CREATED", "BYTES");
		if (store_snapshot_list(st, nargs ? argv[optind] : NULL,
		    print_snapshot_row, &json, &err) < 0)
			diag_die_err(&err);
		rc = 0;
	} else {
		diag_die_usage("unknown snapshot verb '%s': expected save, load or list",
		    verb);
	}
	store_close(st);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return rc;
}

static const struct option cursor_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static int
print_cursor(void *ctx, const char *consumer, int64_t seq, int64_t updated_ms)
{
	bool json = *(bool *)ctx;
	char when[32];

	cloudevent_format_time(updated_ms, when);
	if (json)
		cli_print_json(json_pack("{s:s, s:I, s:s}", "consumer", consumer, "seq",
		    (json_int_t)seq, "updated", when));
	else if (printf("%-32s %12lld  %s\n", consumer, (long long)seq, when) < 0) {
		cli_stdout_failed();
	}
	return 0;
}

int
state_cursor_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct starry_err err;
	struct store *st;
	const char *verb;
	int64_t seq;
	int opt, rc;

	bool json = false;

	while ((opt = getopt_long(argc, argv, "h", cursor_options, NULL)) != -1)
		if (!state_option(&opts, opt, cursor_usage) && opt == OPT_JSON)
			json = true;
	if (optind == argc)
		diag_die_usage("missing get or commit");
	verb = argv[optind++];
	if (strcmp(verb, "get") == 0) {
		if (argc - optind != 1)
			diag_die_usage("usage: cursor get CONSUMER");
		st = state_open(&opts, 0);
		rc = store_cursor_get(st, argv[optind], &seq, &err);
		if (rc < 0)
			diag_die_err(&err);
		if (rc == 1)
			printf("%lld\n", (long long)seq);
		else
			diag_error("consumer '%s' has no cursor", argv[optind]);
		rc = rc == 1 ? 0 : EX_NEGATIVE;
	} else if (strcmp(verb, "commit") == 0) {
		if (argc - optind != 2)
			diag_die_usage("usage: cursor commit CONSUMER SEQ");
		seq = cli_parse_int("SEQ", argv[optind + 1], 0, INT64_MAX);
		st = state_open(&opts, STORE_CREATE);
		if (store_cursor_commit(st, argv[optind], seq, &err) < 0)
			diag_die_err(&err);
		rc = 0;
	} else if (strcmp(verb, "delete") == 0) {
		if (argc - optind != 1)
			diag_die_usage("usage: cursor delete CONSUMER");
		st = state_open(&opts, 0);
		rc = store_cursor_delete(st, argv[optind], &err);
		if (rc < 0)
			diag_die_err(&err);
		if (rc == 0)
			diag_error("consumer '%s' has no cursor", argv[optind]);
		rc = rc == 1 ? 0 : EX_NEGATIVE;
	} else if (strcmp(verb, "list") == 0) {
		if (argc - optind != 0)
			diag_die_usage("usage: cursor list");
		st = state_open(&opts, 0);
		if (!json)
			printf("%-32s %12s  %s\n", "CONSUMER", "SEQ", "UPDATED");
		if (store_cursor_list(st, print_cursor, &json, &err) < 0)
			diag_die_err(&err);
		rc = 0;
	} else {
		diag_die_usage("unknown cursor verb '%s': expected get, commit, delete "
		    "or list", verb);
	}
	store_close(st);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return rc;
}
