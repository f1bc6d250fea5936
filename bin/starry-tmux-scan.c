/* starry-tmux-scan: which tmux panes run AI coding agents, and in what
 * state (starry-tmux-scan(1), starry-signatures(5)). This file picks the
 * subcommand and holds what the subcommands share; each lives in a
 * tmux-scan-*.c file. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "paths.h"
#include "tmux-scan.h"

static const char usage[] =
"usage: starry-tmux-scan SUBCOMMAND [options]\n"
"\n"
"Which tmux panes run AI coding agents (Claude Code, Codex, Gemini CLI,\n"
"Aider, OpenCode, and any described in a signatures file), in what state,\n"
"and which need their user.\n"
"\n"
"subcommands:\n"
"  scan                    every agent pane, its state and why (one look)\n"
"  status                  counts per state, for a status line\n"
"  explain PANE            every signal seen in a pane and the verdict\n"
"  menu                    a tmux menu of the agents that need you\n"
"  classify FILE...        the state of screens saved in files\n"
"  watch                   the watcher: hooks and looks, state changes as\n"
"                          events, the cache status reads\n"
"  hook claude|codex       hand an agent's hook event to the watcher\n"
"  install-hooks claude|codex  add the hook to the agent's settings\n"
"\n"
"Run 'starry-tmux-scan SUBCOMMAND --help' for a subcommand's options.\n"
"See starry-tmux-scan(1) and starry-signatures(5).\n";

static const struct cli_subcommand subcommands[] = {
	{"scan", scan_scan_main},
	{"watch", scan_watch_main},
	{"hook", scan_hook_main},
	{"status", scan_status_main},
	{"explain", scan_explain_main},
	{"classify", scan_classify_main},
	{"install-hooks", scan_install_main},
	{"menu", scan_menu_main},
};

int
scan_option(struct scan_opts *o, int opt, const char *usage_text)
{
	switch (opt) {
	case 'L':
		o->server.name = optarg;
		o->server.path = NULL;
		return 1;
	case 'S':
		o->server.path = optarg;
		o->server.name = NULL;
		return 1;
	case SCAN_OPT_SIGNATURES:
		if (o->nsignatures == SCAN_MAX_SIGNATURE_FILES)
			diag_die_usage("at most %d --signatures files",
			    SCAN_MAX_SIGNATURE_FILES);
		o->signatures[o->nsignatures++] = optarg;
		return 1;
	}
	return cli_common_option(&o->common, opt, usage_text);
}

/* The shipped signatures: beside the command (BIN/../share/starry, as in
 * a source tree or under any prefix, or BIN/../../share/starry, as in a
 * build folder of a source tree), else under the prefix it was built
 * for. */
static char *
shipped_signatures(void)
{
	static const char *const rel[] = {
		"/../share/starry/signatures.yaml",
		"/../../share/starry/signatures.yaml",
	};
	char exe[PATH_MAX], *dir, *path;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n > 0) {
		exe[n] = '\0';
		dir = dirname(exe);
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			char *real;

			if (asprintf(&path, "%s%s", dir, rel[i]) < 0)
				break;
			real = realpath(path, NULL);
			free(path);
			if (real != NULL)
				return real;
		}
	}
	if (asprintf(&path, "%s/share/starry/signatures.yaml",
	    STARRY_PREFIX) < 0)
		diag_die(EX_OSERR, "out of memory");
	return path;
}

int
scan_signatures(const struct scan_opts *o, struct signatures *s,
    struct starry_err *err)
{
	struct starry_paths paths;
	char *path = shipped_signatures();

	memset(s, 0, sizeof *s);
	if (signatures_load(s, path, err) < 0) {
		free(path);
		if (err->code == EX_NOINPUT) {
			err->code = EX_CONFIG;
			starry_err_prefix(err, "the shipped signatures");
		}
		return -1;
	}
	free(path);
	if (starry_paths_resolve(&paths, o->common.home, o->common.runtime,
	    o->common.config, err) < 0)
		goto fail;
	path = starry_path_join(paths.config, "signatures.yaml");
	starry_paths_free(&paths);
	if (path != NULL && access(path, F_OK) == 0 &&
	    signatures_load(s, path, err) < 0) {
		free(path);
		goto fail;
	}
	free(path);
	for (size_t i = 0; i < o->nsignatures; i++)
		if (signatures_load(s, o->signatures[i], err) < 0)
			goto fail;
	return 0;
fail:
	signatures_free(s);
	return -1;
}

void
scan_load_signatures(const struct scan_opts *o, struct signatures *s)
{
	struct starry_err err;

	if (scan_signatures(o, s, &err) < 0)
		diag_die_err(&err);
}

int
scan_collect(const struct scan_opts *o, const struct signatures *s,
    struct scan *sc, const char *only, pane_note_fn *note, void *ctx,
    struct starry_err *err)
{
	struct proc_tab procs;

	memset(sc, 0, sizeof *sc);
	sc->at = event_now_ms();
	if (tmux_list_panes(&o->server, &sc->panes, err) < 0)
		return -1;
	if (sc->panes.n == 0)
		return 0;
	if (proc_tab_load(&procs) < 0)
		return starry_err_sys(err, EX_OSERR, "reading /proc");
	if (tmux_capture(&o->server, &sc->panes, err) < 0) {
		proc_tab_free(&procs);
		scan_free(sc);
		return -1;
	}
	if ((sc->v = calloc(sc->panes.n, sizeof *sc->v)) == NULL) {
		proc_tab_free(&procs);
		scan_free(sc);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	for (size_t i = 0; i < sc->panes.n; i++) {
		struct tmux_pane *tp = &sc->panes.v[i];
		bool this = only != NULL && (strcmp(only, tp->id) == 0 ||
		    strcmp(only, tp->target) == 0);
		struct pane_input in = {
			.procs = &procs, .pid = tp->pid, .command = tp->command,
			.title = tp->title, .screen = tp->screen,
			.screen_len = tp->screen_len,
		};

		if (only != NULL && !this)
			continue;
		if (tp->screen == NULL)
			continue;	/* gone since list-panes */
		sc->v[sc->n].pane = tp;
		if (pane_classify(s, &in, &sc->v[sc->n].v, this ? note : NULL,
		    ctx) < 0) {
			proc_tab_free(&procs);
			scan_free(sc);
			return starry_err_set(err, EX_OSERR, "out of memory");
		}
		sc->n++;
	}
	proc_tab_free(&procs);
	return 0;
}

void
scan_run(const struct scan_opts *o, const struct signatures *s,
    struct scan *sc, const char *only, pane_note_fn *note, void *ctx)
{
	struct starry_err err;

	if (scan_collect(o, s, sc, only, note, ctx, &err) < 0)
		diag_die_err(&err);
}

void
scan_free(struct scan *sc)
{
	tmux_panes_free(&sc->panes);
	free(sc->v);
	memset(sc, 0, sizeof *sc);
}

json_t *
scan_pane_json(const struct scan_opts *o, const struct scan *sc,
    const struct scan_pane *p)
{
	const struct tmux_pane *tp = p->pane;
	const struct pane_verdict *v = &p->v;
	json_t *j;

	j = json_pack("{s:s?, s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:s, s:s, "
	    "s:s, s:s?, s:s?, s:s, s:s, s:s?, s:f, s:s, s:I}",
	    "server", o->server.path != NULL ? o->server.path :
	    o->server.name,
	    "pane", tp->id, "target", tp->target, "session", tp->session,
	    "window", tp->window, "window_name", tp->window_name,
	    "index", tp->index, "pid", (int)tp->pid, "command", tp->command,
	    "presence", pane_presence_name(v->presence),
	    "evidence", pane_evidence_name(v->evidence),
	    "agent", v->agent != NULL ? v->agent->key : NULL,
	    "agent_name", v->agent != NULL ? v->agent->name : NULL,
	    "state", pane_state_name(v->state),
	    "attention", pane_attention_name(v->attention),
	    "title", v->title[0] != '\0' ? v->title : NULL,
	    "confidence", v->confidence, "reason", v->reason,
	    "at", (json_int_t)sc->at);
	if (j == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (v->agent_pid > 0)
		json_object_set_new(j, "agent_pid", json_integer(v->agent_pid));
	return j;
}

int
main(int argc, char **argv)
{
	return cli_dispatch("starry-tmux-scan", usage, subcommands,
	    sizeof subcommands / sizeof subcommands[0], argc, argv);
}
