/* starry-bus serve: the hub. Options, signals and readiness; the engine is
 * lib/hub.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "cli.h"
#include "dedup.h"
#include "hub.h"

static const char serve_usage[] =
"usage: starry-bus serve [options]\n"
"\n"
"Run the event hub. Events come in through $STARRY_RUNTIME/bus.fifo (any\n"
"process may write lines into it) and from publishers on bus.sock; each is\n"
"checked, duplicates are dropped, and every subscriber gets the events its\n"
"filter matches, lowest priority number first. A subscriber that falls\n"
"behind by more than its queue is disconnected with a KERNEL:ERROR event\n"
"(ESLOWCONSUMER). SIGTERM or SIGINT: take in what is readable, flush the\n"
"subscribers, remove bus.sock and exit 0.\n"
"\n"
"      --ready-fd N          write a newline to fd N and close it when ready\n"
"      --queue N             events taken in per round (default 4096)\n"
"      --sub-queue N         events waiting per subscriber (default 16384)\n"
"      --sub-bytes SIZE      bytes waiting per subscriber (default 64M)\n"
"      --dedup COUNT,DURATION  the dedup window (default 65536,10m)\n"
"  -r, --rejects FILE        append each rejected line to FILE, inside a\n"
"                            KERNEL:ERROR event\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 after a signal, 75 when another hub is running, 73 when\n"
"bus.fifo or bus.sock cannot be made.\n";

enum { OPT_READY_FD = CLI_OPT_FREE, OPT_QUEUE, OPT_SUB_QUEUE, OPT_SUB_BYTES, OPT_DEDUP };

static const struct option serve_options[] = {
	{"ready-fd", required_argument, NULL, OPT_READY_FD},
	{"queue", required_argument, NULL, OPT_QUEUE},
	{"sub-queue", required_argument, NULL, OPT_SUB_QUEUE},
	{"sub-bytes", required_argument, NULL, OPT_SUB_BYTES},
	{"dedup", required_argument, NULL, OPT_DEDUP},
	{"rejects", required_argument, NULL, 'r'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

int
bus_serve_main(int argc, char **argv)
{
	struct cli_common common = {0};
	struct hub_options opt = {0};
	struct starry_paths paths;
	struct starry_err err;
	struct hub *hub;
	sigset_t stops;
	int opt_c, ready_fd = -1, rc;

	while ((opt_c = getopt_long(argc, argv, "r:h", serve_options, NULL)) != -1) {
		if (cli_common_option(&common, opt_c, serve_usage))
			continue;
		switch (opt_c) {
		case OPT_READY_FD:
			ready_fd = cli_ready_fd(optarg);
			break;
		case OPT_QUEUE:
			opt.queue = cli_parse_int("queue", optarg, 1, 1 << 24);
			break;
		case OPT_SUB_QUEUE:
			opt.sub_queue = cli_parse_int("sub-queue", optarg, 1, 1 << 24);
			break;
		case OPT_SUB_BYTES:
			opt.sub_bytes = cli_parse_size("sub-bytes", optarg, 1, (uint64_t)1 << 34);
			break;
		case OPT_DEDUP:
			if (dedup_parse_spec(optarg, &opt.dedup_count, &opt.dedup_ms) < 0)
				diag_die_usage("--dedup: expected COUNT,DURATION (65536,10m), "
				    "got '%s'", optarg);
			break;
		case 'r':
			opt.rejects = optarg;
			break;
		}
	}
	if (optind < argc)
		diag_die_usage("serve: unexpected argument '%s'", argv[optind]);
	cli_resolve_paths(&common, &paths);
	opt.runtime = paths.runtime;
	opt.signal_fd = cli_signalfd(&stops, (const int[]){SIGTERM, SIGINT, SIGHUP, SIGUSR1, 0});
	if (hub_open(&hub, &opt, &err) < 0)
		diag_die_err(&err);
	diag_note("hub ready on %s and %s", hub_sock_path(hub), hub_fifo_path(hub));
	cli_signal_ready(&ready_fd);
	rc = hub_run(hub, &err);
	if (rc < 0)
		diag_error("%s", err.msg);
	hub_log_stats(hub, "hub stopped");
	hub_close(hub);
	close(opt.signal_fd);
	starry_paths_free(&paths);
	return rc < 0 ? (err.code ? err.code : EX_SOFTWARE) : 0;
}
