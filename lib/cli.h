/* What every command and subcommand shares on its command line (DESIGN
 * section 8): --help, --version, --home, --runtime, --config, and the
 * usage error. For mains only: these helpers may print and exit. */
#ifndef STARRY_CLI_H
#define STARRY_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdnoreturn.h>
#include <signal.h>
#include <stdint.h>

#include "paths.h"

enum {
	CLI_OPT_HOME = 0x1000,
	CLI_OPT_RUNTIME,
	CLI_OPT_CONFIG,
	CLI_OPT_VERSION,
	CLI_OPT_FREE,		/* a command's own long-only options start here */
};

#define CLI_COMMON_LONGOPTS \
	{"help", no_argument, NULL, 'h'}, \
	{"version", no_argument, NULL, CLI_OPT_VERSION}, \
	{"home", required_argument, NULL, CLI_OPT_HOME}, \
	{"runtime", required_argument, NULL, CLI_OPT_RUNTIME}, \
	{"config", required_argument, NULL, CLI_OPT_CONFIG}

/* A command made of subcommands (starry-bus emit, starry-state query):
 * its main is cli_dispatch over a table of them. */
struct cli_subcommand {
	const char *name;
	int (*main)(int argc, char **argv);	/* argv from the name on */
};

/* Set the program name, then answer --help (usage on stdout) and
 * --version, or run the subcommand argv[1] names and return its status.
 * No subcommand, or an unknown one, is a usage error (64). */
int cli_dispatch(const char *progname, const char *usage,
    const struct cli_subcommand *subs, size_t nsubs, int argc, char **argv);

struct cli_common {
	const char *home, *runtime, *config;
};

/* Take opt (a getopt_long result) when it is a common option: returns 1
 * when taken. -h prints usage on stdout and exits 0; --version prints the
 * version and exits 0; '?' and ':' (getopt's own complaint already
 * printed) exit 64 with a pointer to --help. */
int cli_common_option(struct cli_common *c, int opt, const char *usage);

/* Resolve the places from the options and environment, or die (78). */
void cli_resolve_paths(const struct cli_common *c, struct starry_paths *p);

/* Parse a decimal integer in [min, max] for option name, or die (64). */
long long cli_parse_int(const char *name, const char *arg, long long min,
    long long max);

/* Parse a size (64K, 256M: see config_parse_size) in [min, max] for
 * option name, or die (64). */
uint64_t cli_parse_size(const char *name, const char *arg, uint64_t min,
    uint64_t max);

/* Parse --ready-fd N: an open fd, or die (64). */
int cli_ready_fd(const char *arg);
/* s6-style readiness: write a newline to *fd and close it; *fd becomes
 * -1. Nothing when *fd is already -1. A failed write is a warning. */
void cli_signal_ready(int *fd);

/* Block the signals of a 0-terminated list, put them in *set, and return
 * a non-blocking signalfd for them; SIGPIPE is ignored, so a closed
 * reader is an EPIPE to handle. Dies (71) on failure. */
int cli_signalfd(sigset_t *set, const int *signals);

/* Print a line and its '\n' on stdout, or cli_stdout_failed. */
void cli_print_line(const char *line, size_t len);
/* Print doc as one compact line (reals to 10 significant digits), or
 * cli_stdout_failed; takes the reference (json_t *doc is stolen). */
void cli_print_json(json_t *doc);
/* stdout failed: exit 0 when its reader is gone (EPIPE: `| head`), else
 * die (74). */
noreturn void cli_stdout_failed(void);

#endif
