/* The subcommands of starry-state, in the state-*.c files beside
 * starry-state.c, and the few things they share. Each main takes argv from
 * the subcommand's name on and returns an exit code. */
#ifndef STARRY_STATE_H
#define STARRY_STATE_H

#include <getopt.h>
#include <jansson.h>
#include <stdint.h>

#include "cli.h"
#include "store.h"

int state_append_main(int argc, char **argv);	/* state-append.c */
int state_query_main(int argc, char **argv);	/* state-query.c */
int state_export_main(int argc, char **argv);	/* state-query.c */
int state_trace_main(int argc, char **argv);	/* state-query.c */
int state_snapshot_main(int argc, char **argv);	/* state-snapshot.c */
int state_cursor_main(int argc, char **argv);	/* state-snapshot.c */
int state_check_main(int argc, char **argv);	/* state-check.c */
int state_dashboard_main(int argc, char **argv);	/* state-check.c */
int state_prune_main(int argc, char **argv);	/* state-check.c */
int state_vacuum_main(int argc, char **argv);	/* state-check.c */

/* --db and --durable beside the common options. */
enum { STATE_OPT_DB = CLI_OPT_FREE, STATE_OPT_DURABLE, STATE_OPT_FREE };
#define STATE_LONGOPTS \
	{"db", required_argument, NULL, STATE_OPT_DB}, \
	{"durable", no_argument, NULL, STATE_OPT_DURABLE}, \
	CLI_COMMON_LONGOPTS

struct state_opts {
	struct cli_common common;
	const char *db;			/* --db, or NULL: $STARRY_HOME/state.db */
	unsigned flags;			/* STORE_DURABLE */
};

/* Take opt when it is --db, --durable or a common option (1 when taken). */
int state_option(struct state_opts *o, int opt, const char *usage);
/* Open the store the options name, creating it (and STARRY_HOME) when
 * flags has STORE_CREATE, or die. */
struct store *state_open(const struct state_opts *o, unsigned flags);

/* A --since/--until argument: a sequence number (digits), an RFC 3339
 * time, or a duration ago (10m). Fills *seq or *ms, or dies (64). */
void state_parse_point(const char *opt, const char *arg, int64_t *seq,
    int64_t *ms);


#endif
