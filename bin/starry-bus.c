/* starry-bus: create, validate, route and carry events (DESIGN section 2).
 * This file only picks the subcommand; each lives in its own bus-*.c. */
#include "bus.h"
#include "cli.h"

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

static const struct cli_subcommand subcommands[] = {
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
	return cli_dispatch("starry-bus", usage, subcommands,
	    sizeof subcommands / sizeof subcommands[0], argc, argv);
}
