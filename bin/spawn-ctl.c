/* starry-spawn stop, kill, restart, list, status and logs: looking after
 * running agents. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentdir.h"
#include "event.h"
#include "spawn.h"

static const char stop_usage[] =
"usage: starry-spawn stop ID [options]\n"
"\n"
"Stop agent ID for good: its supervisor sends the template's stop signal\n"
"to the agent's whole process group, waits the template's stop timeout,\n"
"then kills whatever is left, reaps it all and exits. stop returns when\n"
"that is done.\n"
"\n"
"      --json             print the agent's final status as JSON\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 stopped, 1 it was not running, 75 it did not finish.\n";

static const char kill_usage[] =
"usage: starry-spawn kill ID [options]\n"
"\n"
"Send a signal to every process of agent ID (its process group and what\n"
"its supervisor reaped from it). The supervisor then treats the exit as\n"
"any other: it restarts the agent if its policy says so.\n"
"\n"
"  -s, --signal SIG       TERM (the default), KILL, HUP, INT, USR1, ... or\n"
"                         a number\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0 sent, 1 it is not running, 64 an unknown signal.\n";

static const char restart_usage[] =
"usage: starry-spawn restart ID [options]\n"
"\n"
"Stop agent ID (as 'stop' does) and start it again from its template, as\n"
"it is now: a template changed since the agent started applies from\n"
"here on. The arguments, environment and trace it was started with are\n"
"kept. An agent that is not running is started.\n"
"\n"
"      --json             print the result as JSON\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n";

static const char list_usage[] =
"usage: starry-spawn list [options]\n"
"\n"
"The agents in $STARRY_HOME/agents: id, template, driver, state, pid,\n"
"restarts, since when, CPU (percent of one core over its life), resident\n"
"memory and tokens used. States: starting, running, backoff, holddown,\n"
"stopping while supervised; stopped, exited, failed when done; dead when\n"
"the supervisor vanished without a word.\n"
"\n"
"      --json             JSON lines, one agent each\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n";

static const char status_usage[] =
"usage: starry-spawn status ID [options]\n"
"\n"
"Agent ID in detail: everything 'list' shows, with its supervisor's pid,\n"
"when it started, its last exit, the reason of its state, its trace, and\n"
"the end of a hold-down.\n"
"\n"
"      --json             one JSON document\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 66 no such agent.\n";

static const char logs_usage[] =
"usage: starry-spawn logs ID [options]\n"
"\n"
"Print agent ID's log: what it wrote to stderr, and its supervisor's own\n"
"notes (lines starting 'starry-spawn:'). The log is rotated by size\n"
"(starry.yaml logs.max, logs.keep): log.1 is the newest rotated one.\n"
"\n"
"  -f, --follow           then print what is added, across rotations,\n"
"                         until interrupted\n"
"  -a, --all              the rotated logs first, oldest first\n"
"      --home DIR, --runtime DIR, --config DIR\n"
"  -h, --help, --version\n";

enum { OPT_JSON = CLI_OPT_FREE };

static const struct option ctl_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	{"signal", required_argument, NULL, 's'},
	{"follow", no_argument, NULL, 'f'},
	{"all", no_argument, NULL, 'a'},
	CLI_COMMON_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct ctl {
	struct spawn_ctx c;
	const char *id;
	const char *signal;
	bool json, follow, all;
};

/* Options, then the agent ID when want_id. */
static void
ctl_parse(struct ctl *k, int argc, char **argv, const char *usage,
    const char *shorts, bool want_id)
{
	int opt;

	while ((opt = getopt_long(argc, argv, shorts, ctl_options, NULL)) != -1) {
		if (cli_common_option(&k->c.common, opt, usage))
			continue;
		switch (opt) {
		case OPT_JSON:
			k->json = true;
			break;
		case 's':
			k->signal = optarg;
			break;
		case 'f':
			k->follow = true;
			break;
		case 'a':
			k->all = true;
			break;
		}
	}
	if (want_id && optind == argc)
		diag_die_usage("%s: missing ID", argv[0]);
	if (optind + (want_id ? 1 : 0) != argc)
		diag_die_usage("%s: unexpected '%s'", argv[0], argv[optind +
		    (want_id ? 1 : 0)]);
	if (want_id) {
		k->id = argv[optind];
		if (!template_id_valid(k->id))
			diag_die_usage("invalid agent id '%s'", k->id);
	}
	spawn_ctx_open(&k->c);
}

/* Send a request; on failure print why and return its status. */
static int
ctl_call(struct ctl *k, json_t *req, json_t **result)
{
	json_t *resp = spawn_request(&k->c, req);
	int code = 0;

	json_decref(req);
	if (!json_is_true(json_object_get(resp, "ok")))
		code = spawn_response_fail(resp);
	else
		*result = json_incref(json_object_get(resp, "result"));
	json_decref(resp);
	return code;
}

static int
ctl_done(struct ctl *k, int code)
{
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	spawn_ctx_close(&k->c);
	return code;
}

int
spawn_stop_main(int argc, char **argv)
{
	struct ctl k = {0};
	json_t *r = NULL;
	int code;

	ctl_parse(&k, argc, argv, stop_usage, "h", true);
	code = ctl_call(&k, json_pack("{s:s, s:s}", "method", "stop", "id", k.id), &r);
	if (code == 0 && k.json)
		cli_print_json(r);
	else if (code == 0) {
		printf("%s: %s\n", k.id, json_string_value(json_object_get(r,
		    "state")) ?: "stopped");
		json_decref(r);
	}
	return ctl_done(&k, code);
}

int
spawn_kill_main(int argc, char **argv)
{
	struct ctl k = {0};
	json_t *r = NULL;
	int code, sig;

	ctl_parse(&k, argc, argv, kill_usage, "s:h", true);
	sig = k.signal ? template_signal_number(k.signal) : SIGTERM;
	if (sig <= 0)
		diag_die_usage("--signal: unknown signal '%s'", k.signal);
	code = ctl_call(&k, json_pack("{s:s, s:s, s:i}", "method", "kill", "id", k.id,
	    "signal", sig), &r);
	json_decref(r);
	return ctl_done(&k, code);
}

int
spawn_restart_main(int argc, char **argv)
{
	struct ctl k = {0};
	json_t *r = NULL;
	int code;

	ctl_parse(&k, argc, argv, restart_usage, "h", true);
	code = ctl_call(&k, json_pack("{s:s, s:s}", "method", "restart", "id", k.id),
	    &r);
	if (code == 0 && k.json)
		cli_print_json(r);
	else if (code == 0) {
		printf("%s: running, pid %lld (supervisor %lld)\n", k.id,
		    (long long)json_integer_value(json_object_get(r, "pid")),
		    (long long)json_integer_value(json_object_get(r, "supervisor")));
		json_decref(r);
	}
	return ctl_done(&k, code);
}

/* "12s", "5m", "3h", "2d" ago. */
static void
format_age(int64_t since_ms, char *buf, size_t cap)
{
	int64_t s = (event_now_ms() - since_ms) / 1000;

	if (since_ms <= 0)
		snprintf(buf, cap, "-");
	else if (s < 120)
		snprintf(buf, cap, "%llds", (long long)(s < 0 ? 0 : s));
	else if (s < 7200)
		snprintf(buf, cap, "%lldm", (long long)s / 60);
	else if (s < 172800)
		snprintf(buf, cap, "%lldh", (long long)s / 3600);
	else
		snprintf(buf, cap, "%lldd", (long long)s / 86400);
}

static void
format_bytes(json_t *v, char *buf, size_t cap)
{
	double b = (double)json_integer_value(v);
	const char *unit = "K";

	if (!json_is_integer(v)) {
		snprintf(buf, cap, "-");
		return;
	}
	b /= 1024;
	if (b >= 1024) {
		b /= 1024;
		unit = "M";
	}
	if (b >= 1024) {
		b /= 1024;
		unit = "G";
	}
	snprintf(buf, cap, "%.*f%s", b < 10 ? 1 : 0, b, unit);
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : "-";
}

static void
list_row(const json_t *a)
{
	char since[16], rss[16], cpu[16], pid[24];
	json_int_t p = json_integer_value(json_object_get(a, "pid"));
	const json_t *c = json_object_get(a, "cpu");

	format_age(json_integer_value(json_object_get(a, "since")), since,
	    sizeof since);
	format_bytes(json_object_get(a, "rss"), rss, sizeof rss);
	if (json_is_number(c))
		snprintf(cpu, sizeof cpu, "%.1f", json_number_value(c));
	else
		snprintf(cpu, sizeof cpu, "-");
	if (p > 0 && json_is_true(json_object_get(a, "supervised")))
		snprintf(pid, sizeof pid, "%lld", (long long)p);
	else
		snprintf(pid, sizeof pid, "-");
	printf("%-20s %-16s %-8s %-9s %7s %8lld %6s %6s %7s %8lld\n",
	    str(a, "id"), str(a, "template"), str(a, "driver"), str(a, "state"),
	    pid, (long long)json_integer_value(json_object_get(a, "restarts")),
	    since, cpu, rss, (long long)json_integer_value(json_object_get(a,
	    "tokens")));
}

int
spawn_list_main(int argc, char **argv)
{
	struct ctl k = {0};
	json_t *r = NULL, *a;
	size_t i;
	int code;

	ctl_parse(&k, argc, argv, list_usage, "h", false);
	code = ctl_call(&k, json_pack("{s:s}", "method", "list"), &r);
	if (code != 0)
		return ctl_done(&k, code);
	if (!k.json)
		printf("%-20s %-16s %-8s %-9s %7s %8s %6s %6s %7s %8s\n", "ID",
		    "TEMPLATE", "DRIVER", "STATE", "PID", "RESTARTS", "SINCE", "CPU%",
		    "RSS", "TOKENS");
	json_array_foreach(r, i, a) {
		if (k.json)
			cli_print_json(json_incref(a));
		else
			list_row(a);
	}
	json_decref(r);
	return ctl_done(&k, 0);
}

int
spawn_status_main(int argc, char **argv)
{
	static const char *const keys[] = {
		"id", "template", "driver", "state", "reason", "pid", "supervisor",
		"restarts", "lastExit", "tokens", "tokenLimit", "cpu", "rss",
		"started", "since", "holddownUntil", "trace", "cause", "session",
		"args", "env", NULL,
	};
	struct ctl k = {0};
	json_t *r = NULL, *v;
	char *text;
	int code;

	ctl_parse(&k, argc, argv, status_usage, "h", true);
	code = ctl_call(&k, json_pack("{s:s, s:s}", "method", "status", "id", k.id),
	    &r);
	if (code != 0)
		return ctl_done(&k, code);
	if (k.json) {
		cli_print_json(r);
		return ctl_done(&k, 0);
	}
	for (size_t i = 0; keys[i] != NULL; i++) {
		if ((v = json_object_get(r, keys[i])) == NULL || json_is_null(v))
			continue;
		if (json_is_string(v))
			printf("%-14s %s\n", keys[i], json_string_value(v));
		else if ((text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) != NULL) {
			printf("%-14s %s\n", keys[i], text);
			free(text);
		}
	}
	json_decref(r);
	return ctl_done(&k, 0);
}

/* ---- logs ---- */

static void
copy_out(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			cli_stdout_failed();
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
}

static void
print_rotated(const char *log, unsigned keep)
{
	char path[4096];

	for (unsigned i = keep; i >= 1; i--) {
		int fd;

		snprintf(path, sizeof path, "%s.%u", log, i);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			copy_out(fd);
			close(fd);
		}
	}
}

/* tail -F: follow the log by name, reopening it when it is rotated. */
static void
follow(const char *dir, const char *log, int fd)
{
	static const int signals[] = {SIGINT, SIGTERM, 0};
	char buf[4096] __attribute__((aligned(8)));
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	struct pollfd p[2];
	sigset_t set;
	struct stat a, b;

	if (in < 0 || inotify_add_watch(in, dir, IN_MODIFY | IN_CREATE |
	    IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		diag_die(EX_OSERR, "inotify on %s: %s", dir, strerror(errno));
	p[0] = (struct pollfd){.fd = in, .events = POLLIN};
	p[1] = (struct pollfd){.fd = cli_signalfd(&set, signals), .events = POLLIN};
	for (;;) {
		/* Truncated in place (logs.keep 0): from its start again. */
		if (fstat(fd, &b) == 0 && b.st_size < lseek(fd, 0, SEEK_CUR))
			lseek(fd, 0, SEEK_SET);
		copy_out(fd);
		if (stat(log, &a) == 0 && fstat(fd, &b) == 0 &&
		    (a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
			int nfd = open(log, O_RDONLY | O_CLOEXEC);

			if (nfd >= 0) {
				copy_out(fd);
				close(fd);
				fd = nfd;
				continue;
			}
		}
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			diag_die(EX_OSERR, "poll: %s", strerror(errno));
		if (p[1].revents)
			break;
		while (read(in, buf, sizeof buf) > 0)
			;
	}
	close(fd);
	close(in);
}

int
spawn_logs_main(int argc, char **argv)
{
	struct ctl k = {0};
	char *dir, *log;
	int fd;

	ctl_parse(&k, argc, argv, logs_usage, "fah", true);
	dir = agentdir_path(k.c.paths.home, k.id, NULL);
	log = agentdir_path(k.c.paths.home, k.id, AGENTDIR_LOG);
	if (dir == NULL || log == NULL)
		diag_die(EX_OSERR, "out of memory");
	if (access(dir, F_OK) < 0)
		diag_die(EX_NOINPUT, "no agent %s", k.id);
	if (k.all)
		print_rotated(log, spawn_ctx_settings(&k.c)->log_keep);
	fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !(errno == ENOENT && k.follow))
		diag_die(errno == ENOENT ? EX_NOINPUT : EX_IOERR, "%s: %s", log,
		    strerror(errno));
	if (fd < 0) {
		/* Following a log that does not exist yet: wait for it. */
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (k.follow)
		follow(dir, log, fd);
	else {
		copy_out(fd);
		close(fd);
	}
	free(dir);
	free(log);
	return ctl_done(&k, 0);
}
