/* starry-tmux-scan scan, status, explain and classify: the heuristic
 * verdict on panes, printed for people, scripts and status lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "fdio.h"
#include "jscan.h"
#include "paths.h"
#include "titles.h"
#include "tmux-scan.h"

/* A screen file bigger than this is not a screen. */
#define SCREEN_FILE_MAX (4u * 1024 * 1024)

/* ---- scan ---- */

static const char scan_usage[] =
"usage: starry-tmux-scan scan [options]\n"
"\n"
"One look at every pane of the tmux server: which run an agent (from the\n"
"pane's process tree, and its screen where the processes cannot say), and\n"
"the agent's state from the bottom of its screen. One list-panes, one read\n"
"of /proc and one tmux process for all the screens.\n"
"\n"
"options:\n"
SCAN_OPTIONS_HELP
"  -a, --all               panes with no agent too\n"
"      --json              one JSON object per pane\n"
"  -h, --help              this help\n"
"\n"
"Columns: PANE, TARGET (session:window.pane), AGENT, STATE (running,\n"
"waiting_input, waiting_approval, idle, error, unknown), ATTENTION (what it\n"
"needs of you: approval, input, error), TITLE.\n";

static const struct option scan_options[] = {
	{"all", no_argument, NULL, 'a'},
	{"json", no_argument, NULL, SCAN_OPT_JSON},
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

static void
flush_stdout(void)
{
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
}

int
scan_scan_main(int argc, char **argv)
{
	struct scan_opts o = {0};
	struct signatures sigs;
	struct scan sc;
	bool json = false, all = false;
	int opt;

	while ((opt = getopt_long(argc, argv, SCAN_SHORTOPTS "a",
	    scan_options, NULL)) != -1) {
		if (scan_option(&o, opt, scan_usage))
			continue;
		if (opt == 'a')
			all = true;
		else if (opt == SCAN_OPT_JSON)
			json = true;
		else
			diag_die_usage("scan takes no such option");
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	scan_load_signatures(&o, &sigs);
	scan_run(&o, &sigs, &sc, NULL, NULL, NULL);
	if (!json)
		printf("%-6s %-20s %-9s %-16s %-9s %s\n", "PANE", "TARGET",
		    "AGENT", "STATE", "ATTENTION", "TITLE");
	for (size_t i = 0; i < sc.n; i++) {
		const struct scan_pane *p = &sc.v[i];

		if (p->v.agent == NULL && !all)
			continue;
		if (json) {
			cli_print_json(scan_pane_json(&o, &sc, p));
			continue;
		}
		printf("%-6s %-20s %-9s %-16s %-9s %s\n", p->pane->id,
		    p->pane->target,
		    p->v.agent != NULL ? p->v.agent->key : "-",
		    p->v.agent != NULL ? pane_state_name(p->v.state) : "-",
		    p->v.attention != ATTENTION_NONE ?
		    pane_attention_name(p->v.attention) : "-",
		    p->v.title[0] != '\0' ? p->v.title : "-");
	}
	flush_stdout();
	scan_free(&sc);
	signatures_free(&sigs);
	return 0;
}

/* ---- explain ---- */

static const char explain_usage[] =
"usage: starry-tmux-scan explain [options] PANE\n"
"\n"
"Every signal seen in one pane (PANE is its id, %3, or its target,\n"
"session:window.pane) and the reason for the verdict: the processes of\n"
"the pane and the patterns they matched, the state rules whose patterns\n"
"match the bottom of the screen, the title, and the verdict.\n"
"\n"
"options:\n"
SCAN_OPTIONS_HELP
"  -h, --help              this help\n";

static const struct option explain_options[] = {
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

/* The signals, kept until the pane they are about is known. */
static void
keep_note(void *ctx, const char *line)
{
	if (fprintf(ctx, "  %s\n", line) < 0)
		diag_die(EX_OSERR, "out of memory");
}

int
scan_explain_main(int argc, char **argv)
{
	struct scan_opts o = {0};
	struct signatures sigs;
	struct scan sc;
	const struct scan_pane *p;
	char *notes = NULL;
	size_t notes_len = 0;
	FILE *mem;
	int opt;

	while ((opt = getopt_long(argc, argv, SCAN_SHORTOPTS, explain_options,
	    NULL)) != -1) {
		if (!scan_option(&o, opt, explain_usage))
			diag_die_usage("explain takes no such option");
	}
	if (argc - optind != 1)
		diag_die_usage(optind < argc ? "explain takes one pane" :
		    "explain needs a pane (its id, %%3, or session:window.pane)");
	scan_load_signatures(&o, &sigs);
	if ((mem = open_memstream(&notes, &notes_len)) == NULL)
		diag_die(EX_OSERR, "out of memory");
	scan_run(&o, &sigs, &sc, argv[optind], keep_note, mem);
	fclose(mem);
	if (sc.panes.no_server)
		diag_die(EX_UNAVAILABLE, "no tmux server running");
	if (sc.n == 0)
		diag_die(EX_NOINPUT, "no pane '%s' (a pane id such as %%3, or "
		    "session:window.pane)", argv[optind]);
	p = &sc.v[0];
	printf("pane %s\n%s", p->pane->id, notes);
	printf("%s %s: %s %s, attention %s, confidence %.2f\n", p->pane->id,
	    p->v.agent != NULL ? p->v.agent->key : "(no agent)",
	    pane_presence_name(p->v.presence), pane_state_name(p->v.state),
	    pane_attention_name(p->v.attention), p->v.confidence);
	flush_stdout();
	free(notes);
	scan_free(&sc);
	signatures_free(&sigs);
	return 0;
}

/* ---- status ---- */

static const char status_usage[] =
"usage: starry-tmux-scan status [options]\n"
"\n"
"The agents of the tmux server counted by state, for a status line:\n"
"nothing at all when no agent runs.\n"
"\n"
"options:\n"
SCAN_OPTIONS_HELP
"  -f, --format FORMAT     tmux (default: counts with tmux colours),\n"
"                          plain, or json\n"
"  -t, --template TEXT     TEXT with {running}, {waiting_approval},\n"
"                          {waiting_input}, {idle}, {error}, {unknown},\n"
"                          {attention} and {agents} replaced by counts\n"
"  -h, --help              this help\n"
"\n"
"NO_COLOR set leaves the colours out of the tmux format.\n";

static const struct option status_options[] = {
	{"format", required_argument, NULL, 'f'},
	{"template", required_argument, NULL, 't'},
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

/* The order a status line shows the states in: what needs the user
 * first. */
static const struct {
	enum pane_state state;
	const char *style, *glyph, *word;
} status_order[] = {
	{PANE_WAITING_APPROVAL, "fg=red,bold", "!", "approval"},
	{PANE_WAITING_INPUT, "fg=yellow,bold", "?", "input"},
	{PANE_ERROR, "fg=red", "x", "error"},
	{PANE_RUNNING, "fg=green", "*", "running"},
	{PANE_IDLE, "fg=colour245", "-", "idle"},
	{PANE_UNKNOWN, "fg=colour245", "~", "unknown"},
};

static void
print_template(const char *t, const unsigned *count, unsigned agents,
    unsigned attention)
{
	while (*t != '\0') {
		const char *close;
		char name[32];
		int st;

		if (*t != '{' || (close = strchr(t, '}')) == NULL ||
		    (size_t)(close - t - 1) >= sizeof name) {
			putchar(*t++);
			continue;
		}
		memcpy(name, t + 1, (size_t)(close - t - 1));
		name[close - t - 1] = '\0';
		if (strcmp(name, "agents") == 0)
			printf("%u", agents);
		else if (strcmp(name, "attention") == 0)
			printf("%u", attention);
		else if ((st = pane_state_parse(name)) >= 0)
			printf("%u", count[st]);
		else {
			putchar(*t++);
			continue;
		}
		t = close + 1;
	}
	putchar('\n');
}

/* The counts from the watcher's cache when it is fresh, else from one
 * look. The cache spares the signatures and tmux altogether. */
char *
scan_cache_path(const struct scan_opts *o)
{
	struct starry_paths paths;
	struct starry_err err;
	char *server, *dir = NULL, *cache = NULL;

	if (starry_paths_resolve(&paths, o->common.home, o->common.runtime,
	    o->common.config, &err) < 0)
		return NULL;
	if ((server = tmux_socket_path(&o->server)) != NULL &&
	    (dir = scan_server_dir(&paths, server)) != NULL)
		cache = starry_path_join(dir, "status.json");
	free(server);
	free(dir);
	starry_paths_free(&paths);
	return cache;
}

/* The counts from the watcher's cache when it is fresh, else from one
 * look. The cache spares the signatures and tmux altogether. */
static void
status_counts(const struct scan_opts *o, struct scan_counts *c)
{
	struct signatures sigs;
	struct scan sc;
	char *cache = scan_cache_path(o);
	int got = cache != NULL ? scan_cache_read(cache, event_now_ms(), c) : -1;

	free(cache);
	if (got == 0)
		return;
	memset(c, 0, sizeof *c);
	scan_load_signatures(o, &sigs);
	scan_run(o, &sigs, &sc, NULL, NULL, NULL);
	for (size_t i = 0; i < sc.n; i++)
		if (sc.v[i].v.agent != NULL)
			scan_counts_add(c, sc.v[i].v.state, sc.v[i].v.attention);
	scan_free(&sc);
	signatures_free(&sigs);
}

int
scan_status_main(int argc, char **argv)
{
	static const char *const formats[] = {"tmux", "plain", "json", NULL};
	struct scan_opts o = {0};
	struct scan_counts c;
	const char *template = NULL, *nc = getenv("NO_COLOR");
	bool colour = nc == NULL || nc[0] == '\0';
	int opt, format = 0;

	while ((opt = getopt_long(argc, argv, SCAN_SHORTOPTS "f:t:",
	    status_options, NULL)) != -1) {
		if (scan_option(&o, opt, status_usage))
			continue;
		if (opt == 'f') {
			for (format = 0; formats[format] != NULL; format++)
				if (strcmp(optarg, formats[format]) == 0)
					break;
			if (formats[format] == NULL)
				diag_die_usage("unknown format '%s' (tmux, "
				    "plain, json)", optarg);
		} else if (opt == 't') {
			template = optarg;
		} else {
			diag_die_usage("status takes no such option");
		}
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	status_counts(&o, &c);
	if (c.agents == 0 && (format != 2 || template != NULL)) {
		/* Nothing to show; json still says so. */
	} else if (template != NULL) {
		print_template(template, c.state, c.agents, c.attention);
	} else if (format == 2) {
		json_t *j = scan_counts_json(&c);

		if (j == NULL)
			diag_die(EX_OSERR, "out of memory");
		cli_print_json(j);
	} else {
		const char *sep = "";

		for (size_t k = 0; k < sizeof status_order /
		    sizeof status_order[0]; k++) {
			unsigned n = c.state[status_order[k].state];

			if (n == 0)
				continue;
			if (format == 1)
				printf("%s%u %s", sep, n, status_order[k].word);
			else if (colour)
				printf("%s#[%s]%s%u#[default]", sep,
				    status_order[k].style,
				    status_order[k].glyph, n);
			else
				printf("%s%s%u", sep, status_order[k].glyph, n);
			sep = format == 1 ? ", " : " ";
		}
		putchar('\n');
	}
	flush_stdout();
	return 0;
}

/* ---- classify ---- */

static const char classify_usage[] =
"usage: starry-tmux-scan classify [options] FILE...\n"
"\n"
"The verdict on screens saved in files (as 'tmux capture-pane -p' prints\n"
"them; - is standard input): the agent, by --agent or by the screen's\n"
"signatures, and its state. For trying a signature on a screen, and for\n"
"measuring the signatures on a labelled corpus.\n"
"\n"
"options:\n"
"      --agent NAME        the screens are this agent's\n"
"      --signatures FILE   more agent signatures (may be repeated)\n"
"      --json              one JSON object per file\n"
"  -h, --help              this help\n"
"\n"
"Exit status: 0, or 66 when a file could not be read (the others are\n"
"still classified).\n";

static const struct option classify_options[] = {
	{"agent", required_argument, NULL, SCAN_OPT_AGENT},
	{"json", no_argument, NULL, SCAN_OPT_JSON},
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

static char *
read_screen(const char *path, size_t *len)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	int saved;

	if (fd < 0)
		return NULL;
	buf = fdio_read(fd, SCREEN_FILE_MAX, false, len);
	saved = errno;
	if (buf == NULL && saved == 0 && (buf = calloc(1, 1)) != NULL)
		*len = 0;	/* an empty screen */
	if (fd != 0)
		close(fd);
	errno = saved;
	return buf;
}

int
scan_classify_main(int argc, char **argv)
{
	struct scan_opts o = {0};
	struct signatures sigs;
	const struct sig_agent *agent = NULL;
	const char *agent_name = NULL;
	bool json = false;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, "h", classify_options,
	    NULL)) != -1) {
		if (scan_option(&o, opt, classify_usage))
			continue;
		if (opt == SCAN_OPT_AGENT)
			agent_name = optarg;
		else if (opt == SCAN_OPT_JSON)
			json = true;
		else
			diag_die_usage("classify takes no such option");
	}
	if (optind == argc)
		diag_die_usage("classify needs a file (- for standard input)");
	scan_load_signatures(&o, &sigs);
	if (agent_name != NULL &&
	    (agent = signatures_find(&sigs, agent_name)) == NULL) {
		const char *keys[64], *near;
		size_t n = 0;

		for (size_t i = 0; i < sigs.n && n < 63; i++)
			keys[n++] = sigs.agents[i].key;
		keys[n] = NULL;
		near = config_suggest(agent_name, keys);
		diag_die_usage("no agent '%s' in the signatures%s%s%s",
		    agent_name, near ? " (did you mean '" : "",
		    near ? near : "", near ? "'?)" : "");
	}
	for (int i = optind; i < argc; i++) {
		struct pane_verdict v;
		size_t len = 0;
		char *text = read_screen(argv[i], &len);
		struct pane_input in = {
			.screen = text, .screen_len = len, .agent = agent,
		};

		if (text == NULL) {
			diag_error("%s: %s", argv[i], strerror(errno != 0 ?
			    errno : EIO));
			status = EX_NOINPUT;
			continue;
		}
		if (pane_classify(&sigs, &in, &v, NULL, NULL) < 0)
			diag_die(EX_OSERR, "out of memory");
		free(text);
		if (json) {
			json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:f, s:s}",
			    "file", argv[i],
			    "agent", v.agent != NULL ? v.agent->key : NULL,
			    "state", pane_state_name(v.state),
			    "attention", pane_attention_name(v.attention),
			    "confidence", v.confidence, "reason", v.reason);

			if (j == NULL)
				diag_die(EX_OSERR, "out of memory");
			cli_print_json(j);
		} else {
			printf("%s\t%s\t%s\t%s\n", argv[i],
			    v.agent != NULL ? v.agent->key : "-",
			    pane_state_name(v.state),
			    pane_attention_name(v.attention));
		}
	}
	flush_stdout();
	signatures_free(&sigs);
	return status;
}

/* ---- menu ---- */

static const char menu_usage[] =
"usage: starry-tmux-scan menu [options]\n"
"\n"
"A tmux menu (display-menu) of the agents that need you (an approval, an\n"
"input, an error, or a finished turn), what each is and does; choosing\n"
"one switches the client to its pane. With none, a message says so. From\n"
"the watcher's cache when it is fresh, else from one look. Meant for a\n"
"key binding: bind-key a run-shell -b 'starry-tmux-scan menu -c \"#{client_name}\"'\n"
"\n"
"options:\n"
SCAN_OPTIONS_HELP
"  -a, --all               every agent, not only those that need you\n"
"  -c, --client NAME       the tmux client to show it on\n"
"  -n, --dry-run           print the tmux command, one argument a line\n"
"  -h, --help              this help\n";

static const struct option menu_options[] = {
	{"all", no_argument, NULL, 'a'},
	{"client", required_argument, NULL, 'c'},
	{"dry-run", no_argument, NULL, 'n'},
	SCAN_LONGOPTS,
	{NULL, 0, NULL, 0}
};

#define MENU_MAX 35	/* keys 1-9, then a-z */

struct menu_item {
	char label[256];
	char command[64];
};

/* A menu label: tmux formats expand '#', and a leading '-' would make
 * a separator. */
static void
menu_label(char *buf, size_t size, const char *target, const char *agent,
    const char *state, const char *attention, const char *title)
{
	char raw[256];
	size_t o = 0;

	snprintf(raw, sizeof raw, "%s  %s  %s%s%s%s%s", target, agent, state,
	    strcmp(attention, "none") != 0 ? " (" : "",
	    strcmp(attention, "none") != 0 ? attention : "",
	    strcmp(attention, "none") != 0 ? ")" : "",
	    title != NULL && title[0] != '\0' ? "  " : "");
	if (title != NULL)
		snprintf(raw + strlen(raw), sizeof raw - strlen(raw), "%.*s",
		    (int)title_cut(title, 60), title);
	if (raw[0] == '-' && o + 1 < size)
		buf[o++] = ' ';
	/* Whole characters only; ill-formed bytes are dropped. */
	for (const char *p = raw; *p != '\0';) {
		size_t bad, n = jscan_utf8_char(p, strnlen(p, 4), &bad);

		if (n == 0) {
			p += bad;
			continue;
		}
		if (o + n + (*p == '#') + 1 > size)
			break;
		if (*p == '#')
			buf[o++] = '#';
		memcpy(buf + o, p, n);
		o += n;
		p += n;
	}
	buf[o] = '\0';
}

static bool
wants_menu(const char *attention, bool all)
{
	return all || (attention != NULL && strcmp(attention, "none") != 0);
}

int
scan_menu_main(int argc, char **argv)
{
	struct scan_opts o = {0};
	struct menu_item items[MENU_MAX];
	struct starry_err err;
	const char *client = NULL, *args[16 + 3 * MENU_MAX];
	char *cache, msg[512], *out;
	bool all = false, dry = false;
	size_t n = 0, a = 0, k;
	json_t *doc, *p;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, SCAN_SHORTOPTS "ac:n",
	    menu_options, NULL)) != -1) {
		if (scan_option(&o, opt, menu_usage))
			continue;
		if (opt == 'a')
			all = true;
		else if (opt == 'c')
			client = optarg;
		else if (opt == 'n')
			dry = true;
		else
			diag_die_usage("menu takes no such option");
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	cache = scan_cache_path(&o);
	doc = cache != NULL ? scan_cache_load(cache, event_now_ms()) : NULL;
	free(cache);
	if (doc == NULL) {
		/* One look, in the cache's shape. */
		struct signatures sigs;
		struct scan sc;
		json_t *panes = json_array();

		scan_load_signatures(&o, &sigs);
		scan_run(&o, &sigs, &sc, NULL, NULL, NULL);
		for (size_t i = 0; i < sc.n; i++)
			if (sc.v[i].v.agent != NULL)
				json_array_append_new(panes,
				    scan_pane_json(&o, &sc, &sc.v[i]));
		scan_free(&sc);
		signatures_free(&sigs);
		if ((doc = json_pack("{s:o}", "panes", panes)) == NULL)
			diag_die(EX_OSERR, "out of memory");
	}
	json_array_foreach(json_object_get(doc, "panes"), k, p) {
		const char *att = json_string_value(json_object_get(p,
		    "attention"));

		if (n == MENU_MAX || !wants_menu(att, all))
			continue;
		menu_label(items[n].label, sizeof items[n].label,
		    json_string_value(json_object_get(p, "target")),
		    json_string_value(json_object_get(p, "agent")),
		    json_string_value(json_object_get(p, "state")), att,
		    json_string_value(json_object_get(p, "title")));
		snprintf(items[n].command, sizeof items[n].command,
		    "switch-client -t %s", json_string_value(json_object_get(p,
		    "pane")));
		n++;
	}
	json_decref(doc);
	if (n == 0) {
		args[a++] = "display-message";
		if (client != NULL) {
			args[a++] = "-c";
			args[a++] = client;
		}
		args[a++] = all ? "starry: no agent runs" :
		    "starry: no agent needs you";
	} else {
		static const char keys[] = "123456789abcdefghijklmnopqrstuvwxyz";
		static char key[MENU_MAX][2];

		args[a++] = "display-menu";
		if (client != NULL) {
			args[a++] = "-c";
			args[a++] = client;
		}
		args[a++] = "-T";
		args[a++] = all ? "#[align=centre]agents" :
		    "#[align=centre]agents that need you";
		for (size_t i = 0; i < n; i++) {
			key[i][0] = keys[i];
			key[i][1] = '\0';
			args[a++] = items[i].label;
			args[a++] = key[i];
			args[a++] = items[i].command;
		}
	}
	args[a] = NULL;
	if (dry) {
		for (size_t i = 0; i < a; i++)
			printf("%s\n", args[i]);
		flush_stdout();
		return 0;
	}
	if ((rc = tmux_run(&o.server, args, 1 << 20, &out, NULL, msg,
	    sizeof msg, &err)) < 0)
		diag_die_err(&err);
	free(out);
	if (rc != 0)
		diag_die(EX_UNAVAILABLE, "tmux %s: %s", args[0], msg[0] != '\0' ?
		    msg : "failed");
	return 0;
}
