/* starry-sched: orchestration rules, timers and the state projection
 * (DESIGN section 4). This file only picks the subcommand; each lives in
 * its own sched-*.c. */
#include <stdlib.h>
#include <string.h>

#include "sched-cmd.h"

static const char usage[] =
"usage: starry-sched SUBCOMMAND [options]\n"
"\n"
"Turn events and timers into actions by the rules of orchestration.yaml.\n"
"\n"
"subcommands:\n"
"  run            read events, fire timers, print or perform the actions\n"
"  check [FILE]   validate the rules file and everything it includes\n"
"  explain [EVENT...]  for each event, each rule and why it fires or not\n"
"  next           the next firing time of every timer\n"
"\n"
"Run 'starry-sched SUBCOMMAND --help' for a subcommand's options.\n"
"See starry-sched(1) and orchestration.yaml(5).\n";

static const struct cli_subcommand subcommands[] = {
	{"run", sched_run_main},
	{"check", sched_check_main},
	{"explain", sched_explain_main},
	{"next", sched_next_main},
};

int
main(int argc, char **argv)
{
	return cli_dispatch("starry-sched", usage, subcommands,
	    sizeof subcommands / sizeof subcommands[0], argc, argv);
}

char *
sched_rules_path(const struct cli_common *c, const char *path)
{
	struct starry_paths p;
	char *out;

	if (path != NULL) {
		if ((out = strdup(path)) == NULL)
			diag_die(EX_OSERR, "out of memory");
		return out;
	}
	cli_resolve_paths(c, &p);
	out = starry_path_join(p.config, SCHED_RULES_NAME);
	starry_paths_free(&p);
	if (out == NULL)
		diag_die(EX_OSERR, "out of memory");
	return out;
}

struct rule_set *
sched_load_or_die(const char *path)
{
	struct rule_set *rs;
	struct starry_err err;

	if (rules_load(path, &rs, &err) == -1)
		diag_die_err(&err);
	return rs;
}
