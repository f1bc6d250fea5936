/* The subcommands of starry-bus, one file each beside starry-bus.c.
 * Each takes argv from the subcommand's name on and returns an exit code. */
#ifndef STARRY_BUS_H
#define STARRY_BUS_H

int bus_emit_main(int argc, char **argv);	/* bus-emit.c */
int bus_validate_main(int argc, char **argv);	/* bus-validate.c */
int bus_route_main(int argc, char **argv);	/* bus-route.c */
int bus_serve_main(int argc, char **argv);	/* bus-serve.c */
int bus_pub_main(int argc, char **argv);	/* bus-client.c */
int bus_sub_main(int argc, char **argv);	/* bus-client.c */

#endif
