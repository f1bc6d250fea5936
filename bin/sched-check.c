/* starry-sched check, explain and next: the rules file validated, an
 * event's way through every rule, and when each timer fires next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cloudevents.h"
#include "event.h"
#include "ingest.h"
#include "sched-cmd.h"
#include "scheduler.h"

enum { OPT_RULES = CLI_OPT_FREE, OPT_PAYLOAD, OPT_NOW, OPT_JSON };

/* ---- check ---- */

static const char check_usage[] =
"usage: starry-sched check [options] [FILE]\n"
"\n"
"Validate the rules file FILE (default: $STARRY_CONFIG/orchestration.yaml)\n"
"and every file it includes: each error names the file, line, column and\n"
"key path. Prints a summary on success.\n"
"\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 valid, 78 invalid, 66 no such file.\n";

static const struct option check_options[] = {
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

int
sched_check_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct rule_set *rs;
	size_t timers;
	char *path;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", check_options, NULL)) != -1)
		cli_common_option(&common, opt, check_usage);
	if (argc - optind > 1)
		diag_die_usage("check takes one FILE");
	path = sched_rules_path(&common, optind < argc ? argv[optind] : NULL);
	rs = sched_load_or_die(path);
	timers = rules_timer_count(rs);
	printf("%s: ok: %zu rule%s (%zu on events, %zu timer%s) from %zu file%s\n",
	    path, rules_count(rs), rules_count(rs) == 1 ? "" : "s",
	    rules_count(rs) - timers, timers, timers == 1 ? "" : "s",
	    rules_file_count(rs), rules_file_count(rs) == 1 ? "" : "s");
	rules_free(rs);
	free(path);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}

/* ---- explain ---- */

static const char explain_usage[] =
"usage: starry-sched explain [options] [EVENT...]\n"
"\n"
"For each event, show every rule and why it fires or not: the type against\n"
"its on, the if expression with the values it read, and the action it\n"
"would take. EVENT is an event as a JSON line, or a type (with --payload);\n"
"with no EVENT, events are read from stdin. Nothing is performed.\n"
"\n"
"      --rules FILE       the rules file (default: $STARRY_CONFIG/orchestration.yaml)\n"
"      --payload JSON     the payload of an EVENT given as a type (default {})\n"
"      --json             one JSON line per rule and event\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 when some rule fires for every event, 1 when one had none.\n";

static const struct option explain_options[] = {
	{"rules", required_argument, NULL, OPT_RULES},
	{"payload", required_argument, NULL, OPT_PAYLOAD},
	{"json", no_argument, NULL, OPT_JSON},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct explain {
	struct rule_set *rs;
	struct expr_scratch *scratch;
	uint32_t *matches;
	bool json;
	int status;
};

struct seen_paths {
	char text[1024];
	size_t len;
	json_t *values;
};

static void
collect_path(void *ctx, const char *path, const char *value, size_t len)
{
	struct seen_paths *sp = ctx;
	int n;

	if (sp->values != NULL) {
		json_t *v = value ? json_loadb(value, len, JSON_DECODE_ANY, NULL) : NULL;

		json_object_set_new(sp->values, path, v ? v : json_null());
	}
	if (sp->len >= sizeof(sp->text))
		return;
	n = snprintf(sp->text + sp->len, sizeof(sp->text) - sp->len, "%s%s = %.*s",
	    sp->len ? ", " : "", path, value ? (int)(len > 80 ? 80 : len) : 7,
	    value ? value : "missing");
	if (n > 0)
		sp->len += (size_t)n;
}

/* ev: the event, indexed once for all the rules. */
static void
explain_rule(struct explain *x, const struct rule *r, bool typed,
    struct expr_event *ev, bool *fired)
{
	struct seen_paths sp = {.len = 0};
	const char *verdict, *why = "";
	char whybuf[1200];
	bool holds = true;

	if (r->on == NULL) {
		verdict = "timer";
		why = "a timer rule: events do not fire it";
	} else if (!typed) {
		verdict = "no";
		why = "the type is not in its on";
	} else {
		if (r->cond != NULL) {
			holds = expr_eval(r->cond, ev, x->scratch);
			if (x->json)
				sp.values = json_object();
			expr_each_path(r->cond, ev, collect_path, &sp);
		}
		verdict = holds ? "fires" : "no";
		if (r->cond != NULL) {
			snprintf(whybuf, sizeof(whybuf), "if %s: %s%s%s%s",
			    expr_text(r->cond), holds ? "true" : "false",
			    sp.len ? " (" : "", sp.text, sp.len ? ")" : "");
			why = whybuf;
		} else {
			why = "its on takes the type";
		}
		if (holds)
			*fired = true;
	}
	if (x->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "rule", r->name,
		    "verdict", verdict, "why", why, "action", r->action.text,
		    "file", r->file);

		if (sp.values != NULL)
			json_object_set_new(o, "values", sp.values);
		cli_print_json(o);
		return;
	}
	printf("  %-24s %-6s %s\n  %-24s        %s\n", r->name, verdict,
	    r->action.text, "", why);
}

static int
explain_event(void *ctx, const char *line, size_t len, const char *raw,
    size_t rawlen, const struct event_view *v)
{
	struct explain *x = ctx;
	char type[EVENT_MAX_FIELD * 4 + 1], id[EVENT_MAX_FIELD * 4 + 1];
	struct expr_event ev;
	size_t n, k = 0;
	long tlen = event_str_copy(&v->type, type, sizeof(type));
	bool fired = false;

	(void)raw, (void)rawlen;
	expr_event_init(&ev, line, len, v);
	event_str_copy(&v->id, id, sizeof(id));
	n = rules_for_type(x->rs, type, tlen < 0 ? 0 : (size_t)tlen, x->matches);
	if (!x->json)
		printf("event %s (id %s):\n", type, id);
	/* Rules in the order they are written; the matching ones are in
	 * x->matches in firing order. */
	for (size_t i = 0; i < rules_count(x->rs); i++) {
		bool typed = false;

		for (k = 0; k < n; k++)
			if (x->matches[k] == i)
				typed = true;
		explain_rule(x, rules_get(x->rs, i), typed, &ev, &fired);
	}
	if (!fired)
		x->status = EX_NEGATIVE;
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}

int
sched_explain_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct explain x = {.status = 0};
	const char *rules = NULL, *payload = "{}";
	struct ingest in;
	struct starry_err err;
	char *path;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, "h", explain_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, explain_usage))
			continue;
		switch (opt) {
		case OPT_RULES:
			rules = optarg;
			break;
		case OPT_PAYLOAD:
			payload = optarg;
			break;
		case OPT_JSON:
			x.json = true;
			break;
		}
	}
	path = sched_rules_path(&common, rules);
	x.rs = sched_load_or_die(path);
	x.scratch = expr_scratch_new(EVENT_MAX_LINE);
	x.matches = calloc(rules_match_room(x.rs), sizeof(*x.matches));
	if (x.scratch == NULL || x.matches == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (ingest_open(&in, "starry-sched", NULL, &err) == -1)
		diag_die_err(&err);
	in.accept_truncated = true;
	in.scan_flags = EVENT_LENIENT;
	if (optind == argc) {
		status = ingest_files(&in, NULL, 0, explain_event, NULL, &x, &err);
		if (status == -1)
			diag_die_err(&err);
	}
	for (int i = optind; i < argc; i++) {
		const char *arg = argv[i], *out;
		char *made = NULL;
		size_t outlen;
		struct event_view v;
		json_error_t je;

		if (arg[0] != '{') {
			json_t *p = json_loads(payload, JSON_DECODE_ANY, &je), *e;

			if (p == NULL)
				diag_die(EX_USAGE, "--payload: not JSON: %s", je.text);
			e = event_create(arg, p, NULL, &err);
			if (e == NULL)
				diag_die(EX_USAGE, "%s", err.msg);
			made = event_dump_line(e, &outlen);
			json_decref(e);
			if (made == NULL)
				diag_die(EX_OSERR, "out of memory");
			arg = made;
		}
		if (ingest_line(&in, "argument", LINE_TRUNCATED, arg, strcspn(arg, "\n"),
		    i - optind + 1, &v, &out, &outlen, &err) == 1)
			explain_event(&x, out, outlen, arg, strlen(arg), &v);
		else
			status = EX_DATAERR;
		free(made);
	}
	if (status == 0 && in.rejected > 0)
		status = EX_DATAERR;
	ingest_close(&in);
	expr_scratch_free(x.scratch);
	free(x.matches);
	rules_free(x.rs);
	free(path);
	return status != 0 ? status : x.status;
}

/* ---- next ---- */

static const char next_usage[] =
"usage: starry-sched next [options]\n"
"\n"
"List every timer rule with its schedule and its next firing time (local\n"
"time), counting the timers' last firings kept in\n"
"$STARRY_HOME/sched/timers.json: a firing missed while starry-sched was\n"
"not running shows as due now.\n"
"\n"
"      --rules FILE       the rules file (default: $STARRY_CONFIG/orchestration.yaml)\n"
"      --now TIME         count from TIME (RFC 3339, or @SECONDS) instead of now\n"
"      --json             one JSON line per timer\n"
"  -h, --help, --version\n";

static const struct option next_options[] = {
	{"rules", required_argument, NULL, OPT_RULES},
	{"now", required_argument, NULL, OPT_NOW},
	{"json", no_argument, NULL, OPT_JSON},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct next_list {
	bool json;
	int64_t now;
};

static void
next_timer(void *ctx, const struct rule *r, int64_t due)
{
	struct next_list *nl = ctx;
	char when[64], sched[300];
	time_t t = (time_t)(due / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
	if (r->has_cron)
		snprintf(sched, sizeof(sched), "cron %s", r->cron_text);
	else
		snprintf(sched, sizeof(sched), "every %llds",
		    (long long)(r->every_ms / 1000));
	if (nl->json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "rule",
		    r->name, "schedule", sched, "next", when, "nextMs", (json_int_t)due,
		    "inMs", (json_int_t)(due - nl->now), "action", r->action.text));
		return;
	}
	printf("%-24s %-24s %s  (in %llds)  %s\n", r->name, sched, when,
	    (long long)((due - nl->now + 999) / 1000), r->action.text);
}

static int
quiet_emit(void *ctx, const struct rule *r, json_t *ev)
{
	(void)ctx, (void)r;
	json_decref(ev);
	return 0;
}

void
sched_warn_rule(void *ctx, const struct rule *r, const char *msg)
{
	(void)ctx;
	if (r != NULL)
		diag_warn("rule %s: %s", r->name, msg);
	else
		diag_warn("%s", msg);
}

int64_t
sched_parse_time(const char *opt, const char *arg)
{
	long long ms;

	if (arg[0] == '@')
		return cli_parse_int(opt, arg + 1, 0, 253402300799LL) * 1000;
	if (cloudevent_parse_time(arg, strlen(arg), &ms) == -1)
		diag_die_usage("%s: '%s' is not an RFC 3339 time or @SECONDS", opt, arg);
	return ms;
}

int
sched_next_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct next_list nl = {.now = event_now_ms()};
	const char *rules = NULL;
	struct sched_options so = {.emit = quiet_emit, .warn = sched_warn_rule,
	    .max_line = 1024};
	struct starry_paths p;
	struct rule_set *rs;
	struct sched *s;
	struct starry_err err;
	char *path, *timers;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", next_options, NULL)) != -1) {
		if (cli_common_option(&common, opt, next_usage))
			continue;
		switch (opt) {
		case OPT_RULES:
			rules = optarg;
			break;
		case OPT_NOW:
			nl.now = sched_parse_time("--now", optarg);
			break;
		case OPT_JSON:
			nl.json = true;
			break;
		}
	}
	if (optind != argc)
		diag_die_usage("next takes no arguments");
	path = sched_rules_path(&common, rules);
	rs = sched_load_or_die(path);
	cli_resolve_paths(&common, &p);
	if (asprintf(&timers, "%s/sched/timers.json", p.home) == -1)
		diag_die(EX_OSERR, "out of memory");
	so.timers_file = timers;
	if (sched_open(&s, &so, rs, nl.now, &err) == -1)
		diag_die_err(&err);
	sched_each_timer(s, next_timer, &nl);
	sched_close(s);
	rules_free(rs);
	starry_paths_free(&p);
	free(timers);
	free(path);
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	return 0;
}
