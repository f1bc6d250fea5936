/* starry-bus: create, validate, route and carry events (DESIGN section 2).
 * This file only picks the subcommand; each lives in its own bus-*.c. */
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "diag.h"

static const char usage[] =
"usage: starry-bus SUBCOMMAND [options]\n"
"\n"
"Create, validate, route and carry starry events (JSON lines).\n"
"\n"
"subcommands:\n"
"  emit TYPE      print one new event (or send it with --to)\n"
"  validate       pass valid events through, reject the rest with a reason\n"
"  route          merge inputs, order by priority, drop duplicates, fan out\n"
"  serve          run the hub on $STARRY_RUNTIME/bus.fifo and bus.sock\n"
"  pub [FILE...]  publish events to the hub\n"
"  sub            print the hub's events, filtered\n"
"\n"
"Run 'starry-bus SUBCOMMAND --help' for a subcommand's options.\n"
"See starry-bus(1) and starry-event(7).\n";

static const struct {
	const char *name;
	int (*main)(int, char **);
} subcommands[] = {
	{"emit", bus_emit_main},
	{"validate", bus_validate_main},
	{"route", bus_route_main},
	{"serve", bus_serve_main},
	{"pub", bus_pub_main},
	{"sub", bus_sub_main},
};

int
main(int argc, char **argv)
{
	diag_set_progname("starry-bus");
	if (argc < 2)
		diag_die_usage("missing subcommand");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("starry-bus %s\n", STARRY_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
		if (strcmp(argv[1], subcommands[i].name) == 0)
			return subcommands[i].main(argc - 1, argv + 1);
	diag_die_usage("unknown subcommand '%s'", argv[1]);
}
