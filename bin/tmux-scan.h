/* The subcommands of starry-tmux-scan, in the tmux-scan-*.c files beside
 * starry-tmux-scan.c, and what they share: the tmux server, the
 * signatures, and one scan of every pane. */
#ifndef STARRY_TMUX_SCAN_H
#define STARRY_TMUX_SCAN_H

#include <getopt.h>
#include <jansson.h>

#include "cli.h"
#include "panes.h"
#include "signatures.h"
#include "tmux.h"

int scan_scan_main(int argc, char **argv);	/* tmux-scan-scan.c */
int scan_explain_main(int argc, char **argv);	/* tmux-scan-scan.c */
int scan_status_main(int argc, char **argv);	/* tmux-scan-scan.c */
int scan_classify_main(int argc, char **argv);	/* tmux-scan-scan.c */
int scan_hook_main(int argc, char **argv);	/* tmux-scan-watch.c */
int scan_watch_main(int argc, char **argv);	/* tmux-scan-watch.c */
int scan_install_main(int argc, char **argv);	/* tmux-scan-install.c */
int scan_menu_main(int argc, char **argv);	/* tmux-scan-scan.c */

/* -L, -S and --signatures beside the common options. */
enum {
	SCAN_OPT_SIGNATURES = CLI_OPT_FREE,
	SCAN_OPT_JSON,
	SCAN_OPT_ALL,
	SCAN_OPT_AGENT,
	SCAN_OPT_FORMAT,
	SCAN_OPT_FREE
};
#define SCAN_LONGOPTS \
	{"socket-name", required_argument, NULL, 'L'}, \
	{"socket-path", required_argument, NULL, 'S'}, \
	{"signatures", required_argument, NULL, SCAN_OPT_SIGNATURES}, \
	CLI_COMMON_LONGOPTS
#define SCAN_SHORTOPTS "hL:S:"
/* Their lines in a subcommand's --help. */
#define SCAN_OPTIONS_HELP \
"  -L, --socket-name NAME  the tmux server of socket NAME (tmux -L)\n" \
"  -S, --socket-path PATH  the tmux server of socket PATH (tmux -S)\n" \
"      --signatures FILE   more agent signatures (may be repeated)\n"

#define SCAN_MAX_SIGNATURE_FILES 16

struct scan_opts {
	struct cli_common common;
	struct tmux_server server;
	const char *signatures[SCAN_MAX_SIGNATURE_FILES];
	size_t nsignatures;
};

/* Take opt when it is -L, -S, --signatures or a common option. */
int scan_option(struct scan_opts *o, int opt, const char *usage);

/* The shipped signatures, then $STARRY_CONFIG/signatures.yaml when it is
 * there, then each --signatures file; or die (78, 66). */
void scan_load_signatures(const struct scan_opts *o, struct signatures *s);
/* The same, returning 0 or -1 with err (s is then empty). */
int scan_signatures(const struct scan_opts *o, struct signatures *s,
    struct starry_err *err);

/* One pane of a scan and its verdict. */
struct scan_pane {
	struct tmux_pane *pane;
	struct pane_verdict v;
};

struct scan {
	struct tmux_panes panes;
	struct scan_pane *v;
	size_t n;
	int64_t at;		/* ms since the epoch */
};

/* List every pane, read the processes and the screens, and classify
 * each pane, or only the one whose id or target is only (when not
 * NULL), which note then hears the signals of (for explain); or die (69
 * when tmux cannot be run). */
void scan_run(const struct scan_opts *o, const struct signatures *s,
    struct scan *sc, const char *only, pane_note_fn *note, void *ctx);
/* The same, returning 0 or -1 with err instead of dying. */
int scan_collect(const struct scan_opts *o, const struct signatures *s,
    struct scan *sc, const char *only, pane_note_fn *note, void *ctx,
    struct starry_err *err);
void scan_free(struct scan *sc);

/* Agents counted by state, as status shows them. */
struct scan_counts {
	unsigned state[PANE_STATE_COUNT];
	unsigned agents, attention;
};
json_t *scan_counts_json(const struct scan_counts *c);
/* Count one agent in state s with attention a ("finished" is not a call
 * for the user). */
void scan_counts_add(struct scan_counts *c, enum pane_state s,
    enum pane_attention a);

/* The folder of a tmux server's files: RUNTIME/tmux/KEY (malloc'd). */
char *scan_server_dir(const struct starry_paths *paths,
    const char *socket_path);
/* The counts of the watcher's cache at path, when it is fresh: written
 * within three rounds by a watcher that still runs. 0, or -1. */
int scan_cache_read(const char *path, int64_t now, struct scan_counts *out);
/* The whole cache when it is fresh (a new reference), or NULL. */
json_t *scan_cache_load(const char *path, int64_t now);
/* The cache of the options' server: its path (malloc'd), or NULL. */
char *scan_cache_path(const struct scan_opts *o);

/* A pane as a JSON object (a new reference). */
json_t *scan_pane_json(const struct scan_opts *o, const struct scan *sc,
    const struct scan_pane *p);

#endif
