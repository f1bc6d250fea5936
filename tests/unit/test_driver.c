/* lib/driver: the argv each driver runs (exactly, for a sample template),
 * what is available here and why not, a real bubblewrap sandbox when this
 * machine has one, and rlimits applied in a forked child. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

/* lib/template.c owns the real one; this stands in only while it is not
 * linked (a weak symbol yields to it). */
__attribute__((weak)) void
template_argv_free(char **argv)
{
	size_t i;

	if (argv == NULL)
		return;
	for (i = 0; argv[i] != NULL; i++)
		free(argv[i]);
	free(argv);
}

struct fixture {
	char dir[64];		/* a private folder for the test */
	char fakebin[96];	/* dir/bin: a stand-in bwrap */
	char agent[96];		/* dir/agent: the agent's own folder */
	char plugin[96];	/* dir/plug: a plugin with a file "f" */
	char *old_path;
	struct template_plugin plugins[3];
	struct template t;
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	const char *path = getenv("PATH");
	char file[160];

	strcpy(f->dir, "/tmp/test_driver.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->fakebin, sizeof f->fakebin, "%s/bin", f->dir);
	snprintf(f->agent, sizeof f->agent, "%s/agent", f->dir);
	snprintf(f->plugin, sizeof f->plugin, "%s/plug", f->dir);
	if (mkdir(f->fakebin, 0755) < 0 || mkdir(f->agent, 0755) < 0 ||
	    mkdir(f->plugin, 0755) < 0)
		return -1;
	snprintf(file, sizeof file, "%s/f", f->plugin);
	write_file(file, "plugin data\n", 0644);
	f->old_path = strdup(path ? path : "/usr/bin:/bin");

	/* A sample template: two plugins with folders, one without. */
	f->plugins[0] = (struct template_plugin){ "alpha", f->plugin };
	f->plugins[1] = (struct template_plugin){ "beta", NULL };
	f->plugins[2] = (struct template_plugin){ "gamma", "/usr/share" };
	f->t.name = "sample";
	f->t.driver = TEMPLATE_DRIVER_PROCESS;
	f->t.ready_fd = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	setenv("PATH", f->old_path, 1);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->old_path);
	free(f);
	return 0;
}

/* Put a stand-in bwrap (a shell script) first on PATH. */
static void
fake_bwrap(struct fixture *f, const char *script)
{
	char path[160], body[512], newpath[PATH_MAX];

	snprintf(path, sizeof path, "%s/bwrap", f->fakebin);
	snprintf(body, sizeof body, "#!/bin/sh\n%s\n", script);
	write_file(path, body, 0755);
	snprintf(newpath, sizeof newpath, "%s:%s", f->fakebin, f->old_path);
	setenv("PATH", newpath, 1);
}

static size_t
argv_len(char **argv)
{
	size_t n = 0;

	while (argv[n] != NULL)
		n++;
	return n;
}

static void
assert_argv(char **got, const char *const *want)
{
	size_t i;

	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

/* The index of the first element equal to s from start, or -1. */
static long
argv_find(char **argv, size_t start, const char *s)
{
	size_t i;

	for (i = start; argv[i] != NULL; i++)
		if (strcmp(argv[i], s) == 0)
			return (long)i;
	return -1;
}

static char *const sample_command[] = { "agent-run", "--id", "a b", NULL };

static void
test_process_argv_is_a_copy_of_the_command(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	const char *const want[] = { "agent-run", "--id", "a b", NULL };
	char **argv;

	argv = driver_argv(&f->t, sample_command, f->agent, &err);
	assert_non_null(argv);
	assert_argv(argv, want);
	assert_ptr_not_equal(argv[0], sample_command[0]);
	template_argv_free(argv);
}

static void
test_sandbox_argv_without_plugins(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char bwrap[160];
	char **argv;

	fake_bwrap(f, "exit 0");
	snprintf(bwrap, sizeof bwrap, "%s/bwrap", f->fakebin);
	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	{
		const char *const want[] = { bwrap, "--unshare-pid",
		    "--unshare-ipc", "--unshare-uts", "--unshare-net",
		    "--die-with-parent", "--ro-bind", "/", "/",
		    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
		    "--bind", f->agent, f->agent, "--chdir", f->agent, "--",
		    "agent-run", "--id", "a b", NULL };

		argv = driver_argv(&f->t, sample_command, f->agent, &err);
		assert_non_null(argv);
		assert_argv(argv, want);
		template_argv_free(argv);
	}
	f->t.network = true;
	argv = driver_argv(&f->t, sample_command, f->agent, &err);
	assert_non_null(argv);
	assert_int_equal(argv_find(argv, 0, "--unshare-net"), -1);
	assert_int_equal(argv_find(argv, 0, "--unshare-uts"), 3);
	assert_string_equal(argv[4], "--die-with-parent");
	template_argv_free(argv);
}

static void
test_sandbox_argv_with_plugins_builds_its_own_root(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char **argv;
	long at;
	size_t n;

	fake_bwrap(f, "exit 0");
	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	f->t.plugins = f->plugins;
	f->t.nplugins = 3;
	argv = driver_argv(&f->t, sample_command, f->agent, &err);
	assert_non_null(argv);
	n = argv_len(argv);

	/* The host's / is not bound whole (no mount point for /plugins in
	 * it), but entry by entry, never /proc, /dev, /tmp or /plugins. */
	for (at = 0; argv[at] != NULL; at++)
		if (strcmp(argv[at], "--ro-bind") == 0) {
			assert_string_not_equal(argv[at + 1], "/");
			assert_string_not_equal(argv[at + 1], "/proc");
			assert_string_not_equal(argv[at + 1], "/tmp");
		}
	at = argv_find(argv, 0, "/usr");
	assert_true(at > 0);
	assert_string_equal(argv[at - 1], "--ro-bind");
	assert_string_equal(argv[at + 1], "/usr");

	/* Then the same tail as always, plugins and a read-only root. */
	at = argv_find(argv, 0, "--proc");
	assert_true(at > 0);
	{
		const char *const want[] = { "--proc", "/proc", "--dev", "/dev",
		    "--tmpfs", "/tmp", "--bind", f->agent, f->agent,
		    "--ro-bind", f->plugin, "/plugins/alpha",
		    "--ro-bind", "/usr/share", "/plugins/gamma",
		    "--remount-ro", "/", "--chdir", f->agent, "--",
		    "agent-run", "--id", "a b", NULL };

		assert_argv(argv + at, want);
	}
	assert_true(n > 30);
	template_argv_free(argv);
}

static void
test_sandbox_refuses_unsafe_plugin_names(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "..", ".", "", "a/b", "../etc" };
	struct starry_err err = { 0 };
	struct template_plugin one;
	char **argv;
	size_t i;

	fake_bwrap(f, "exit 0");
	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	f->t.plugins = &one;
	f->t.nplugins = 1;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		one = (struct template_plugin){ (char *)bad[i], f->plugin };
		memset(&err, 0, sizeof err);
		assert_null(driver_argv(&f->t, sample_command, f->agent, &err));
		assert_int_equal(err.code, EX_CONFIG);
		assert_non_null(strstr(err.msg, "/plugins"));
	}
	/* A plugin with no folder is not mounted, so its name is no path. */
	one = (struct template_plugin){ "../odd", NULL };
	argv = driver_argv(&f->t, sample_command, f->agent, &err);
	assert_non_null(argv);
	template_argv_free(argv);
}

static void
test_sandbox_without_bwrap_is_unavailable(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char why[256];

	setenv("PATH", f->fakebin, 1);	/* empty: no bwrap */
	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	assert_false(driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why));
	assert_string_equal(why, "bwrap not found on PATH");
	assert_null(driver_argv(&f->t, sample_command, f->agent, &err));
	assert_int_equal(err.code, EX_UNAVAILABLE);
	assert_string_equal(err.msg, "bwrap not found on PATH");
}

static void
test_sandbox_trial_reports_what_bwrap_said(void **state)
{
	struct fixture *f = *state;
	char why[256];

	fake_bwrap(f, "echo 'bwrap: No permissions to create new namespace' >&2\n"
	    "echo 'second line' >&2\nexit 1");
	assert_false(driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why));
	assert_string_equal(why, "bwrap cannot create namespaces: No "
	    "permissions to create new namespace");

	fake_bwrap(f, "exit 3");
	assert_false(driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why));
	assert_string_equal(why, "bwrap cannot create namespaces: exit status 3");

	/* And it gets the trial's arguments. */
	fake_bwrap(f, "[ \"$*\" = '--unshare-pid --unshare-ipc --unshare-uts "
	    "--unshare-net --ro-bind / / --proc /proc --dev /dev "
	    "--die-with-parent true' ]");
	assert_true(driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why));
	assert_string_equal(why, "");
}

static void
test_sandbox_trial_gives_up_after_two_seconds(void **state)
{
	struct fixture *f = *state;
	struct timespec t0, t1;
	char why[256];
	long ms;

	fake_bwrap(f, "exec sleep 30");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 1900 && ms < 5000);
	assert_string_equal(why, "bwrap cannot create namespaces: no answer "
	    "within 2 s");
	/* The stand-in was killed and reaped: no child is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
test_docker_and_wasm_are_reported_not_run(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char why[256], cli[160];

	assert_true(driver_available(TEMPLATE_DRIVER_PROCESS, why, sizeof why));

	setenv("PATH", f->fakebin, 1);
	unsetenv("STARRY_DOCKER");
	assert_false(driver_available(TEMPLATE_DRIVER_DOCKER, why, sizeof why));
	assert_string_equal(why, "this build has no docker driver (and docker "
	    "is not on PATH)");
	snprintf(cli, sizeof cli, "%s/podman", f->fakebin);
	write_file(cli, "#!/bin/sh\n", 0755);
	setenv("STARRY_DOCKER", "podman", 1);
	assert_false(driver_available(TEMPLATE_DRIVER_DOCKER, why, sizeof why));
	assert_non_null(strstr(why, "this build has no docker driver (podman is "
	    "at "));
	unsetenv("STARRY_DOCKER");

	assert_false(driver_available(TEMPLATE_DRIVER_WASM, why, sizeof why));
	assert_string_equal(why, "this build has no wasm driver (and no WASI "
	    "runtime on PATH: wasmtime, wasmer, iwasm, node)");
	snprintf(cli, sizeof cli, "%s/iwasm", f->fakebin);
	write_file(cli, "#!/bin/sh\n", 0755);
	assert_false(driver_available(TEMPLATE_DRIVER_WASM, why, sizeof why));
	assert_non_null(strstr(why, "(iwasm is at "));

	f->t.driver = TEMPLATE_DRIVER_WASM;
	assert_null(driver_argv(&f->t, sample_command, f->agent, &err));
	assert_int_equal(err.code, EX_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "this build has no wasm driver"));
	f->t.driver = TEMPLATE_DRIVER_DOCKER;
	assert_null(driver_argv(&f->t, sample_command, f->agent, &err));
	assert_int_equal(err.code, EX_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "this build has no docker driver"));
}

static void
test_plugin_path_as_the_agent_sees_it(void **state)
{
	struct fixture *f = *state;
	char *s, want[256];

	s = driver_plugin_path(&f->t);
	assert_string_equal(s, "");
	free(s);

	f->t.plugins = f->plugins;
	f->t.nplugins = 3;
	s = driver_plugin_path(&f->t);
	snprintf(want, sizeof want, "%s:/usr/share", f->plugin);
	assert_string_equal(s, want);
	free(s);

	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	s = driver_plugin_path(&f->t);
	assert_string_equal(s, "/plugins/alpha:/plugins/gamma");
	free(s);
}

/* Run argv with stdout and stderr into out; returns the wait status. */
static int
run_capture(char **argv, char *out, size_t cap)
{
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fds[2], status;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len < cap - 1 && (n = read(fds[0], out + len, cap - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		len += (size_t)n;
	}
	out[len] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* What the sandbox's own shell reports about its world; the expected
 * answer is the plugin's file, then the single interface lo. */
static const char sandbox_probe[] =
	"for d in sda vda xvda nvme0 kmsg mem port; do\n"
	"	[ -e /dev/$d ] && echo \"device /dev/$d\"\n"
	"done\n"
	"[ -e /dev/null ] && [ -e /dev/urandom ] || echo 'no /dev/null'\n"
	"touch /starry-sandbox-probe 2>/dev/null && echo '/ is writable'\n"
	"touch /usr/starry-sandbox-probe 2>/dev/null && echo '/usr is writable'\n"
	"echo from-inside > agent-file || echo 'agent folder not writable'\n"
	"if [ -d /plugins ]; then\n"
	"	cat /plugins/alpha/f\n"
	"	touch /plugins/alpha/g 2>/dev/null && echo 'plugin writable'\n"
	"	touch /plugins/new 2>/dev/null && echo '/plugins writable'\n"
	"fi\n"
	"echo tmp > /tmp/x && [ ! -e /tmp/test_driver.keep ] || echo 'host /tmp'\n"
	"tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '\n";

static void
run_sandbox_probe(struct fixture *f, bool with_plugin)
{
	struct starry_err err = { 0 };
	char *const command[] = { "/bin/sh", "-c", (char *)sandbox_probe, NULL };
	char out[4096], path[160], keep[64];
	char **argv;
	int status;

	snprintf(keep, sizeof keep, "/tmp/test_driver.keep");
	write_file(keep, "", 0644);
	f->t.driver = TEMPLATE_DRIVER_SANDBOX;
	f->t.plugins = f->plugins;
	f->t.nplugins = with_plugin ? 1 : 0;
	argv = driver_argv(&f->t, command, f->agent, &err);
	assert_non_null(argv);
	status = run_capture(argv, out, sizeof out);
	template_argv_free(argv);
	unlink(keep);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("sandbox exited %d: %s", status, out);
	assert_string_equal(out, with_plugin ? "plugin data\nlo\n" : "lo\n");

	snprintf(path, sizeof path, "%s/agent-file", f->agent);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(access("/starry-sandbox-probe", F_OK), -1);
	snprintf(path, sizeof path, "%s/g", f->plugin);
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_a_real_sandbox_confines_the_agent(void **state)
{
	struct fixture *f = *state;
	char why[256];

	if (!driver_available(TEMPLATE_DRIVER_SANDBOX, why, sizeof why)) {
		print_message("skipped: the sandbox is not available: %s\n", why);
		skip();
	}
	run_sandbox_probe(f, false);
	run_sandbox_probe(f, true);
}

/* In a forked child, as between fork and exec: the exit status says what
 * differed (0: nothing). */
static void
test_limits_apply_in_the_child(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	struct rlimit rl;
	pid_t pid;
	int status;

	f->t.limit_memory = (uint64_t)1 << 32;
	f->t.limit_cpu_ms = 1500;
	f->t.limit_nofile = 64;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (driver_apply_limits(&f->t, &err) < 0)
			_exit(1);
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 64 ||
		    rl.rlim_max != 64)
			_exit(2);
		if (getrlimit(RLIMIT_CPU, &rl) < 0 || rl.rlim_cur != 2 ||
		    rl.rlim_max != 7)
			_exit(3);
		if (getrlimit(RLIMIT_AS, &rl) < 0 || rl.rlim_cur != (rlim_t)1 << 32 ||
		    rl.rlim_max != (rlim_t)1 << 32)
			_exit(4);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Nothing set: nothing changes. */
	memset(&f->t, 0, sizeof f->t);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(driver_apply_limits(&f->t, &err), 0);
}

static void
test_a_limit_the_kernel_refuses_says_which(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	long long nr_open = 0;
	FILE *fp;
	pid_t pid;
	int status, fds[2];
	ssize_t n;

	fp = fopen("/proc/sys/fs/nr_open", "r");
	assert_non_null(fp);
	assert_int_equal(fscanf(fp, "%lld", &nr_open), 1);
	fclose(fp);
	f->t.limit_nofile = nr_open + 1;	/* more than any process may have */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int rc = driver_apply_limits(&f->t, &err);

		if (write(fds[1], &err, sizeof err) != sizeof err)
			_exit(9);
		_exit(rc == -1 ? 0 : 1);
	}
	close(fds[1]);
	n = read(fds[0], &err, sizeof err);
	close(fds[0]);
	assert_int_equal(n, (ssize_t)sizeof err);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(err.code, EX_OSERR);
	assert_int_equal(strncmp(err.msg, "setrlimit RLIMIT_NOFILE ", 24), 0);
	assert_non_null(strstr(err.msg, ": Operation not permitted"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_process_argv_is_a_copy_of_the_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_argv_without_plugins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_argv_with_plugins_builds_its_own_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_refuses_unsafe_plugin_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_without_bwrap_is_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_trial_reports_what_bwrap_said, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sandbox_trial_gives_up_after_two_seconds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_docker_and_wasm_are_reported_not_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugin_path_as_the_agent_sees_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_real_sandbox_confines_the_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_apply_in_the_child, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_limit_the_kernel_refuses_says_which, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
