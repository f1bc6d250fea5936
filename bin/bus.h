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

/* sub --since: stored events, then live ones (bus-replay.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*replay_print_fn)(void *ctx, const char *line, size_t len);
struct replay;
/* Open the store at db (or die) for events from sequence number since
 * that pass the subscription's filter. */
struct replay *replay_open(const char *db, int64_t since,
    const char *const *types, size_t ntypes, const char *session,
    const char *trace, replay_print_fn print, void *ctx);
/* Once subscribed: print the stored events. */
void replay_start(struct replay *r);
/* A live line: whether to print it (false: it was printed from the
 * store). Stragglers from the store may be printed first. */
bool replay_live(struct replay *r, const char *line, size_t len);
/* While the seam is open, ms until the store is to be read again; else -1. */
int replay_timeout(const struct replay *r);
void replay_tick(struct replay *r);
void replay_close(struct replay *r);

#endif
