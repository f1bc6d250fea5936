/* starry-state: the durable store (starry-state(1), starry-state(7)).
 * This file picks the subcommand and holds what the subcommands share;
 * each lives in a state-*.c file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudevents.h"
#include "config.h"
#include "event.h"
#include "state.h"

static const char usage[] =
"usage: starry-state SUBCOMMAND [options]\n"
"\n"
"The durable store of starry: the event log, snapshots, cursors and the\n"
"agent registry, in the SQLite file $STARRY_HOME/state.db.\n"
"\n"
"subcommands:\n"
"  append [FILE...]        store events (the single writer)\n"
"  query                   print stored events, filtered; --follow for new ones\n"
"  trace ID                the causal tree of a trace\n"
"  snapshot save|load|list agents' snapshots\n"
"  cursor get|commit       consumers' positions in the log\n"
"  check                   the boot health check: agents interrupted\n"
"  dashboard               agents, snapshots and event counts at a glance\n"
"  prune                   delete old events no cursor still needs\n"
"  export, import          the event log as JSON lines, out and in\n"
"  vacuum                  compact the database file\n"
"\n"
"Run 'starry-state SUBCOMMAND --help' for a subcommand's options.\n"
"See starry-state(1) and starry-state(7).\n";

static const struct cli_subcommand subcommands[] = {
	{"append", state_append_main},
	{"query", state_query_main},
	{"trace", state_trace_main},
	{"snapshot", state_snapshot_main},
	{"cursor", state_cursor_main},
	{"check", state_check_main},
	{"dashboard", state_dashboard_main},
	{"prune", state_prune_main},
	{"export", state_export_main},
	{"import", state_append_main},
	{"vacuum", state_vacuum_main},
};

int
state_option(struct state_opts *o, int opt, const char *usage_text)
{
	switch (opt) {
	case STATE_OPT_DB:
		o->db = optarg;
		return 1;
	case STATE_OPT_DURABLE:
		o->flags |= STORE_DURABLE;
		return 1;
	}
	return cli_common_option(&o->common, opt, usage_text);
}

struct store *
state_open(const struct state_opts *o, unsigned flags)
{
	struct starry_paths paths;
	struct starry_err err;
	struct store *st;
	char *path;

	if (o->db != NULL) {
		path = strdup(o->db);
	} else {
		cli_resolve_paths(&o->common, &paths);
		if ((flags & STORE_CREATE) &&
		    starry_mkdir_p(paths.home, 0700, &err) < 0)
			diag_die_err(&err);
		path = starry_path_join(paths.home, STORE_FILE);
		starry_paths_free(&paths);
	}
	if (path == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (store_open(&st, path, flags | o->flags, &err) < 0)
		diag_die_err(&err);
	free(path);
	return st;
}

void
state_parse_point(const char *opt, const char *arg, int64_t *seq, int64_t *ms)
{
	long long t;
	int64_t d;

	if (*arg != '\0' && strspn(arg, "0123456789") == strlen(arg)) {
		*seq = cli_parse_int(opt, arg, 1, INT64_MAX);
		return;
	}
	if (cloudevent_parse_time(arg, strlen(arg), &t) == 0) {
		*ms = t > 0 ? t : 1;
		return;
	}
	if (config_parse_duration(arg, &d, NULL) == 0 && d >= 0) {
		*ms = event_now_ms() - d;
		return;
	}
	diag_die_usage("--%s: expected a sequence number, an RFC 3339 time or a "
	    "duration ago (10m), got '%s'", opt, arg);
}

int
main(int argc, char **argv)
{
	return cli_dispatch("starry-state", usage, subcommands,
	    sizeof subcommands / sizeof subcommands[0], argc, argv);
}
