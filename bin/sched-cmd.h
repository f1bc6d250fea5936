/* starry-sched's subcommands (bin/sched-*.c) and what they share: where
 * the rules file is and how it is loaded. */
#ifndef STARRY_SCHED_CMD_H
#define STARRY_SCHED_CMD_H

#include "cli.h"
#include "rules.h"

#define SCHED_RULES_NAME "orchestration.yaml"

int sched_run_main(int argc, char **argv);
int sched_check_main(int argc, char **argv);
int sched_explain_main(int argc, char **argv);
int sched_next_main(int argc, char **argv);

/* The rules file: path when given, else $STARRY_CONFIG/orchestration.yaml
 * (malloc'd). */
char *sched_rules_path(const struct cli_common *c, const char *path);

/* Load it or die with the error (78, or 66 when missing). */
struct rule_set *sched_load_or_die(const char *path);

/* TIME as RFC 3339 or @SECONDS, in ms; dies (64) on a bad one. */
int64_t sched_parse_time(const char *opt, const char *arg);

/* Rule warnings on stderr: "rule NAME: message". */
void sched_warn_rule(void *ctx, const struct rule *r, const char *msg);

#endif
