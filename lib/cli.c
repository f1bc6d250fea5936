/* Shared command-line handling: see cli.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "diag.h"

int
cli_common_option(struct cli_common *c, int opt, const char *usage)
{
	switch (opt) {
	case 'h':
		fputs(usage, stdout);
		exit(0);
	case CLI_OPT_VERSION:
		printf("%s %s\n", diag_progname(), STARRY_VERSION);
		exit(0);
	case CLI_OPT_HOME:
		c->home = optarg;
		return 1;
	case CLI_OPT_RUNTIME:
		c->runtime = optarg;
		return 1;
	case CLI_OPT_CONFIG:
		c->config = optarg;
		return 1;
	case '?':
	case ':':
		fprintf(stderr, "Try '%s --help' for more information.\n",
		    diag_progname());
		exit(EX_USAGE);
	}
	return 0;
}

void
cli_resolve_paths(const struct cli_common *c, struct starry_paths *p)
{
	struct starry_err err;

	if (starry_paths_resolve(p, c->home, c->runtime, c->config, &err) < 0)
		diag_die_err(&err);
}

long long
cli_parse_int(const char *name, const char *arg, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end != '\0' || v < min || v > max)
		diag_die_usage("--%s: expected an integer from %lld to %lld, got '%s'",
		    name, min, max, arg);
	return v;
}

uint64_t
cli_parse_size(const char *name, const char *arg, uint64_t min, uint64_t max)
{
	uint64_t size;

	if (config_parse_size(arg, &size, NULL) < 0 || size < min || size > max)
		diag_die_usage("--%s: expected a size from %llu to %llu bytes (such "
		    "as 64K or 16M), got '%s'", name, (unsigned long long)min,
		    (unsigned long long)max, arg);
	return size;
}

int
cli_ready_fd(const char *arg)
{
	int fd = cli_parse_int("ready-fd", arg, 0, 1 << 20);

	if (fcntl(fd, F_GETFD) < 0)
		diag_die_usage("--ready-fd %d: not an open file descriptor", fd);
	return fd;
}

void
cli_signal_ready(int *fd)
{
	ssize_t n;

	if (*fd < 0)
		return;
	do
		n = write(*fd, "\n", 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		diag_warn("--ready-fd %d: %s", *fd, strerror(errno));
	close(*fd);
	*fd = -1;
}

int
cli_signalfd(sigset_t *set, const int *signals)
{
	int fd;

	sigemptyset(set);
	for (; *signals != 0; signals++)
		sigaddset(set, *signals);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR || sigprocmask(SIG_BLOCK, set, NULL) < 0 ||
	    (fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		diag_die(EX_OSERR, "signalfd: %s", strerror(errno));
	return fd;
}

int
cli_dispatch(const char *progname, const char *usage,
    const struct cli_subcommand *subs, size_t nsubs, int argc, char **argv)
{
	uint32_t seed;

	diag_set_progname(progname);
	/* jansson's hash seed from getrandom, not from opening
	 * /dev/urandom: a command that starts often starts faster. */
	if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == sizeof seed &&
	    seed != 0)
		json_object_seed(seed);
	if (argc < 2)
		diag_die_usage("missing subcommand");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", progname, STARRY_VERSION);
		return 0;
	}
	for (size_t i = 0; i < nsubs; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].main(argc - 1, argv + 1);
	diag_die_usage("unknown subcommand '%s'", argv[1]);
}

void
cli_print_line(const char *line, size_t len)
{
	if (fwrite(line, 1, len, stdout) != len || putchar('\n') == EOF)
		cli_stdout_failed();
}

void
cli_print_json(json_t *doc)
{
	char *line = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));

	if (line == NULL)
		diag_die(EX_OSERR, "out of memory");
	cli_print_line(line, strlen(line));
	free(line);
	json_decref(doc);
}

void
cli_stdout_failed(void)
{
	if (errno == EPIPE)
		exit(0);	/* the reader is gone: `| head -1` */
	diag_die(EX_IOERR, "stdout: %s", strerror(errno));
}
