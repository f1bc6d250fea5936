/* starry-state check, dashboard, prune and vacuum: looking after the store
 * and looking over the fleet it records. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudevents.h"
#include "config.h"
#include "proc.h"
#include "state.h"

static const char check_usage[] =
"usage: starry-state check [options]\n"
"\n"
"The boot health check: list the agents that the registry shows as live\n"
"(starting, running or stopping) with no recorded exit, whose process is\n"
"gone. Such an agent was interrupted: its supervisor or the machine died.\n"
"A live agent whose process still runs (same pid, same start time) is\n"
"not listed.\n"
"\n"
"      --json             JSON lines instead of a table\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 none interrupted (or no database yet), 1 some were.\n";

static const char dashboard_usage[] =
"usage: starry-state dashboard [options]\n"
"\n"
"The global view: each agent's state, restarts and pid, its newest\n"
"snapshot (stale when it did not answer starry-sched's last request for\n"
"one within the window), and the count of events by type over the window.\n"
"\n"
"  -w, --window DUR       the window of the event counts (default 1h)\n"
"      --json             one JSON document on one line\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n";

static const char prune_usage[] =
"usage: starry-state prune [options]\n"
"\n"
"Delete old events: those stored at or before --before, or all but the\n"
"newest --keep. Events a cursor still needs (after the lowest committed\n"
"cursor) are always kept. Snapshots are kept by their own --keep (see\n"
"starry-state snapshot).\n"
"\n"
"      --before SEQ|TIME  up to sequence number SEQ, or events older than a\n"
"                         time: RFC 3339 or a duration ago (7d is 168h)\n"
"      --keep N           keep the newest N events\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n";

static const char vacuum_usage[] =
"usage: starry-state vacuum [options]\n"
"\n"
"Rebuild the database file without its free pages and empty the write-\n"
"ahead log, then print the file's size before and after. Takes the write\n"
"lock: append waits for it.\n"
"\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n";

enum { OPT_JSON = STATE_OPT_FREE, OPT_BEFORE, OPT_KEEP };

static const struct option check_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"window", required_argument, NULL, 'w'},
	{"before", required_argument, NULL, OPT_BEFORE},
	{"keep", required_argument, NULL, OPT_KEEP},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static bool
agent_interrupted(const struct store_agent *a)
{
	return store_agent_state_is_live(a->state) && a->exited_ms == 0 &&
	    !proc_is(a->pid, a->started_ms);
}

struct check {
	bool json;
	int found;
};

static int
check_agent(void *ctx, const struct store_agent *a)
{
	struct check *c = ctx;
	char when[32] = "-";

	if (!agent_interrupted(a))
		return 0;
	if (a->started_ms)
		cloudevent_format_time(a->started_ms, when);
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "agent", a->id,
		    "state", a->state, "template", a->template, "traceId", a->trace_id,
		    "restarts", (json_int_t)a->restarts);

		json_object_set_new(o, "pid", a->pid ? json_integer(a->pid) : json_null());
		json_object_set_new(o, "started", a->started_ms ? json_string(when) :
		    json_null());
		cli_print_json(o);
	} else {
		if (c->found == 0)
			printf("%-24s %-9s %8s  %-24s %s\n", "AGENT", "STATE", "PID",
			    "STARTED", "TEMPLATE");
		printf("%-24s %-9s %8lld  %-24s %s\n", a->id, a->state,
		    (long long)a->pid, when, a->template ? a->template : "-");
	}
	c->found++;
	return 0;
}

/* A missing database is a fresh machine: nothing was interrupted. */
static bool
state_exists(const struct state_opts *o)
{
	struct starry_paths paths;
	struct stat sb;
	char *path;
	bool ok;

	if (o->db)
		return stat(o->db, &sb) == 0;
	cli_resolve_paths(&o->common, &paths);
	path = starry_path_join(paths.home, STORE_FILE);
	if (path == NULL)
		diag_die(EX_OSERR, "out of memory");
	ok = stat(path, &sb) == 0;
	free(path);
	starry_paths_free(&paths);
	return ok;
}

int
state_check_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct check c = {0};
	struct starry_err err;
	struct store *st;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", check_options, NULL)) != -1) {
		if (state_option(&opts, opt, check_usage))
			continue;
		if (opt == OPT_JSON)
			c.json = true;
		else
			diag_die_usage("check takes no such option");
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	if (!state_exists(&opts))
		return 0;
	st = state_open(&opts, 0);
	if (store_agent_list(st, check_agent, &c, &err) < 0)
		diag_die_err(&err);
	store_close(st);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	if (c.found && !c.json)
		diag_note("check: %d agent%s interrupted", c.found, c.found == 1 ? "" : "s");
	return c.found ? EX_NEGATIVE : 0;
}

/* ---- dashboard ---- */

struct dashboard {
	struct store *st;
	bool json;
	json_t *agents, *types;
	json_t *projection;	/* the newest STATE:PROJECTION's payload */
	int rows;
};

static int
take_projection(void *ctx, const struct store_event *ev)
{
	struct dashboard *d = ctx;
	json_t *e = json_loadb(ev->line, ev->len, 0, NULL);

	d->projection = json_incref(json_object_get(e, "payload"));
	json_decref(e);
	return 0;
}

/* Whether the newest projection round found the agent stale. */
static bool
agent_stale(const struct dashboard *d, const char *id)
{
	const json_t *stale = json_object_get(d->projection, "stale"), *v;
	size_t i;

	json_array_foreach(stale, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), id) == 0)
			return true;
	return false;
}

static int
take_snapshot(void *ctx, const struct store_snapshot *s)
{
	json_t **out = ctx, *data, *summary;
	char when[32];

	cloudevent_format_time(s->created_ms, when);
	*out = json_pack("{s:I, s:I, s:s, s:I}", "version", (json_int_t)s->version,
	    "seq", (json_int_t)s->seq, "created", when, "bytes", (json_int_t)s->len);
	data = json_loadb(s->data, s->len, JSON_DECODE_ANY, NULL);
	summary = json_object_get(data, "summary");
	if (json_is_string(summary))
		json_object_set(*out, "summary", summary);
	json_decref(data);
	return 0;
}

static int
dashboard_agent(void *ctx, const struct store_agent *a)
{
	struct dashboard *d = ctx;
	struct starry_err err;
	json_t *snap = NULL, *row;
	char snaptext[96] = "-";
	const char *state = agent_interrupted(a) ? "interrupted" : a->state;

	if (store_snapshot_load(d->st, a->id, 0, take_snapshot, &snap, &err) < 0)
		diag_die_err(&err);
	row = json_pack("{s:s, s:s, s:I, s:I, s:s?, s:s?, s:s?}", "agent", a->id,
	    "state", state, "restarts", (json_int_t)a->restarts, "pid",
	    (json_int_t)a->pid, "template", a->template, "driver", a->driver,
	    "traceId", a->trace_id);
	if (a->exit_status >= 0)
		json_object_set_new(row, "exitStatus", json_integer(a->exit_status));
	json_object_set_new(row, "snapshot", snap ? snap : json_null());
	json_object_set_new(row, "stale", json_boolean(agent_stale(d, a->id)));
	if (d->json) {
		json_array_append_new(d->agents, row);
		return 0;
	}
	if (snap)
		snprintf(snaptext, sizeof snaptext, "v%lld %s%s%.40s",
		    (long long)json_integer_value(json_object_get(snap, "version")),
		    json_string_value(json_object_get(snap, "created")),
		    json_object_get(snap, "summary") ? " " : "",
		    json_object_get(snap, "summary") ?
		    json_string_value(json_object_get(snap, "summary")) : "");
	if (d->rows++ == 0)
		printf("%-24s %-12s %8s %8s  %s\n", "AGENT", "STATE", "RESTARTS", "PID",
		    "SNAPSHOT");
	printf("%-24s %-12s %8lld %8lld  %s%s\n", a->id, state, (long long)a->restarts,
	    (long long)a->pid, agent_stale(d, a->id) ? "(stale) " : "", snaptext);
	json_decref(row);
	return 0;
}

static int
dashboard_type(void *ctx, const char *type, int64_t count)
{
	struct dashboard *d = ctx;

	if (d->json)
		json_object_set_new(d->types, type, json_integer(count));
	else
		printf("  %-40s %10lld\n", type, (long long)count);
	return 0;
}

int
state_dashboard_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct dashboard d = {0};
	struct starry_err err;
	int64_t window = 60 * 60 * 1000, since;
	char when[32];
	int opt;

	while ((opt = getopt_long(argc, argv, "w:h", check_options, NULL)) != -1) {
		if (state_option(&opts, opt, dashboard_usage))
			continue;
		if (opt == OPT_JSON)
			d.json = true;
		else if (opt == 'w') {
			if (config_parse_duration(optarg, &window, &err) < 0 || window <= 0)
				diag_die_usage("--window: expected a duration such as 1h, "
				    "got '%s'", optarg);
		} else
			diag_die_usage("dashboard takes no such option");
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	d.st = state_open(&opts, 0);
	d.agents = json_array();
	d.types = json_object();

	since = event_now_ms() - window;
	/* The newest projection round within the window: through the time
	 * index, not a scan of the whole log. */
	if (store_query(d.st, &(struct store_filter){.type = "STATE:PROJECTION",
	    .since_ms = since, .limit = 1, .newest = true}, take_projection, &d,
	    &err) < 0)
		diag_die_err(&err);
	if (store_agent_list(d.st, dashboard_agent, &d, &err) < 0)
		diag_die_err(&err);
	if (!d.json) {
		if (d.rows == 0)
			printf("no agents in the registry\n");
		if (d.projection != NULL) {
			cloudevent_format_time(json_integer_value(json_object_get(
			    d.projection, "started")), when);
			printf("\nsnapshots asked for at %s: %zu of %lld answered\n", when,
			    json_array_size(json_object_get(d.projection, "answered")),
			    (long long)json_integer_value(json_object_get(d.projection,
			    "requested")));
		}
		cloudevent_format_time(since, when);
		printf("\nevents since %s:\n", when);
	}
	if (store_count_types(d.st, since, dashboard_type, &d, &err) < 0)
		diag_die_err(&err);
	if (d.json) {
		cloudevent_format_time(since, when);
		cli_print_json(json_pack("{s:o, s:O?, s:{s:s, s:o}}", "agents", d.agents,
		    "projection", d.projection, "events", "since", when, "byType",
		    d.types));
	} else {
		json_decref(d.agents);
		json_decref(d.types);
	}
	json_decref(d.projection);
	store_close(d.st);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}

/* ---- prune and vacuum ---- */

int
state_prune_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct starry_err err;
	int64_t before_seq = 0, before_ms = 0, keep = -1, last, deleted, asked;
	struct store *st;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", check_options, NULL)) != -1) {
		if (state_option(&opts, opt, prune_usage))
			continue;
		if (opt == OPT_BEFORE)
			state_parse_point("before", optarg, &before_seq, &before_ms);
		else if (opt == OPT_KEEP)
			keep = cli_parse_int("keep", optarg, 0, INT64_MAX);
		else
			diag_die_usage("prune takes no such option");
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	if (!before_seq && !before_ms && keep < 0)
		diag_die_usage("say what to prune: --before SEQ|TIME or --keep N");
	st = state_open(&opts, 0);
	if (store_last_seq(st, &last, &err) < 0)
		diag_die_err(&err);
	if (before_ms && store_seq_before_time(st, before_ms, &before_seq, &err) < 0)
		diag_die_err(&err);
	/* Given both, the bound that deletes fewer wins. */
	if (!before_ms && !before_seq)
		before_seq = last;
	if (keep >= 0 && last - keep < before_seq)
		before_seq = last - keep;
	asked = before_seq;
	deleted = 0;
	if (before_seq > 0 && store_prune(st, &before_seq, &deleted, &err) < 0)
		diag_die_err(&err);
	diag_note("prune: %lld event%s deleted", (long long)deleted,
	    deleted == 1 ? "" : "s");
	if (before_seq < asked)
		diag_note("prune: events after sequence number %lld kept: a cursor "
		    "still needs them", (long long)before_seq);
	store_close(st);
	return 0;
}

static long long
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

int
state_vacuum_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct starry_err err;
	struct store *st;
	long long before;
	char wal[4096];
	int opt;

	while ((opt = getopt_long(argc, argv, "h", check_options, NULL)) != -1)
		if (!state_option(&opts, opt, vacuum_usage))
			diag_die_usage("vacuum takes no such option");
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	st = state_open(&opts, 0);
	snprintf(wal, sizeof wal, "%s-wal", store_path(st));
	before = file_size(store_path(st)) + file_size(wal);
	if (store_vacuum(st, &err) < 0)
		diag_die_err(&err);
	printf("%s: %lld bytes before, %lld after\n", store_path(st), before,
	    file_size(store_path(st)) + file_size(wal));
	store_close(st);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}
