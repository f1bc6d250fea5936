/* lib/paths: STARRY_HOME, STARRY_RUNTIME and STARRY_CONFIG from
 * overrides, the environment and the XDG defaults, in a controlled
 * environment; starry_mkdir_p; starry_path_join. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "paths.h"

struct fixture {
	char top[64];		/* a scratch folder, also $HOME */
	char *old_cwd;
};

static void
clear_env(void)
{
	static const char *const vars[] = { "STARRY_HOME", "STARRY_RUNTIME",
	    "STARRY_CONFIG", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
	    "XDG_CONFIG_HOME", "HOME", NULL };

	for (int i = 0; vars[i] != NULL; i++)
		unsetenv(vars[i]);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	strcpy(f->top, "/tmp/test_paths.XXXXXX");
	if (mkdtemp(f->top) == NULL)
		return -1;
	f->old_cwd = getcwd(NULL, 0);
	clear_env();
	setenv("HOME", f->top, 1);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (chdir(f->old_cwd) < 0)
		return -1;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->top);
	if (system(cmd) != 0)
		return -1;
	free(f->old_cwd);
	free(f);
	return 0;
}

static char *
in_top(const struct fixture *f, const char *rest)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof buf[0], "%s%s", f->top, rest);
	return p;
}

static void
resolve_ok(struct starry_paths *p, const char *home, const char *runtime,
    const char *config)
{
	struct starry_err err = { 0 };

	if (starry_paths_resolve(p, home, runtime, config, &err) < 0)
		fail_msg("resolve failed: %s", err.msg);
}

static void
test_defaults_come_from_home(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;

	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.home, in_top(f, "/.local/state/starry"));
	assert_string_equal(p.runtime, in_top(f, "/.local/state/starry/run"));
	assert_string_equal(p.config, STARRY_PREFIX "/etc/starry");
	starry_paths_free(&p);
	assert_null(p.home);
}

static void
test_xdg_variables_come_next(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;

	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000/", 1);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.home, "/xdg/state/starry");
	assert_string_equal(p.runtime, "/run/user/1000/starry");
	starry_paths_free(&p);

	/* Without XDG_RUNTIME_DIR the runtime folder follows the home. */
	unsetenv("XDG_RUNTIME_DIR");
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.runtime, "/xdg/state/starry/run");
	starry_paths_free(&p);
	(void)f;
}

static void
test_starry_variables_win_over_xdg(void **state)
{
	struct starry_paths p;

	(void)state;
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	setenv("XDG_RUNTIME_DIR", "/xdg/run", 1);
	setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
	setenv("STARRY_HOME", "/s/home", 1);
	setenv("STARRY_RUNTIME", "/s/run", 1);
	setenv("STARRY_CONFIG", "/s/config/", 1);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.home, "/s/home");
	assert_string_equal(p.runtime, "/s/run");
	assert_string_equal(p.config, "/s/config");
	starry_paths_free(&p);

	/* STARRY_HOME alone moves the runtime folder with it. */
	unsetenv("STARRY_RUNTIME");
	unsetenv("XDG_RUNTIME_DIR");
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.runtime, "/s/home/run");
	starry_paths_free(&p);
}

static void
test_overrides_win_over_the_environment(void **state)
{
	struct starry_paths p;

	(void)state;
	setenv("STARRY_HOME", "/s/home", 1);
	setenv("STARRY_RUNTIME", "/s/run", 1);
	setenv("STARRY_CONFIG", "/s/config", 1);
	resolve_ok(&p, "/o/home", "/o/run", "/o/config");
	assert_string_equal(p.home, "/o/home");
	assert_string_equal(p.runtime, "/o/run");
	assert_string_equal(p.config, "/o/config");
	starry_paths_free(&p);

	/* --home alone: the runtime still comes from STARRY_RUNTIME. */
	resolve_ok(&p, "/o/home", NULL, NULL);
	assert_string_equal(p.runtime, "/s/run");
	starry_paths_free(&p);
	unsetenv("STARRY_RUNTIME");
	resolve_ok(&p, "/o/home", NULL, NULL);
	assert_string_equal(p.runtime, "/o/home/run");
	starry_paths_free(&p);
}

static void
test_empty_values_count_as_unset(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;

	setenv("STARRY_HOME", "", 1);
	setenv("STARRY_RUNTIME", "", 1);
	setenv("STARRY_CONFIG", "", 1);
	setenv("XDG_STATE_HOME", "", 1);
	setenv("XDG_RUNTIME_DIR", "", 1);
	setenv("XDG_CONFIG_HOME", "", 1);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.home, in_top(f, "/.local/state/starry"));
	assert_string_equal(p.runtime, in_top(f, "/.local/state/starry/run"));
	assert_string_equal(p.config, STARRY_PREFIX "/etc/starry");
	starry_paths_free(&p);
}

static void
test_relative_starry_paths_are_made_absolute(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;
	char *cwd;

	assert_int_equal(chdir(f->top), 0);
	cwd = getcwd(NULL, 0);
	setenv("STARRY_HOME", "state", 1);
	setenv("STARRY_RUNTIME", "./run/", 1);
	resolve_ok(&p, NULL, NULL, ".");
	assert_string_equal(p.home, in_top(f, "/state"));
	assert_string_equal(p.runtime, in_top(f, "/run"));
	assert_string_equal(p.config, cwd);
	starry_paths_free(&p);
	resolve_ok(&p, "a/b", NULL, NULL);
	assert_string_equal(p.home, in_top(f, "/a/b"));
	starry_paths_free(&p);
	free(cwd);
}

static void
test_relative_xdg_paths_are_ignored(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;

	assert_int_equal(mkdir(in_top(f, "/cfg"), 0755), 0);
	assert_int_equal(mkdir(in_top(f, "/cfg/starry"), 0755), 0);
	assert_int_equal(chdir(f->top), 0);
	setenv("XDG_STATE_HOME", "state", 1);
	setenv("XDG_RUNTIME_DIR", "run", 1);
	setenv("XDG_CONFIG_HOME", "cfg", 1);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.home, in_top(f, "/.local/state/starry"));
	assert_string_equal(p.runtime, in_top(f, "/.local/state/starry/run"));
	assert_string_equal(p.config, STARRY_PREFIX "/etc/starry");
	starry_paths_free(&p);
}

static void
test_config_is_the_first_folder_that_exists(void **state)
{
	struct fixture *f = *state;
	struct starry_paths p;

	setenv("XDG_CONFIG_HOME", in_top(f, "/xdg"), 1);
	/* Neither exists: the installed default. */
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.config, STARRY_PREFIX "/etc/starry");
	starry_paths_free(&p);

	/* ~/.config/starry exists. */
	assert_int_equal(mkdir(in_top(f, "/.config"), 0755), 0);
	assert_int_equal(mkdir(in_top(f, "/.config/starry"), 0755), 0);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.config, in_top(f, "/.config/starry"));
	starry_paths_free(&p);

	/* $XDG_CONFIG_HOME/starry exists and comes first. */
	assert_int_equal(mkdir(in_top(f, "/xdg"), 0755), 0);
	assert_int_equal(mkdir(in_top(f, "/xdg/starry"), 0755), 0);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.config, in_top(f, "/xdg/starry"));
	starry_paths_free(&p);

	/* A file of that name is not a folder. */
	assert_int_equal(rmdir(in_top(f, "/xdg/starry")), 0);
	fclose(fopen(in_top(f, "/xdg/starry"), "w"));
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.config, in_top(f, "/.config/starry"));
	starry_paths_free(&p);
}

static void
test_no_home_is_a_configuration_error(void **state)
{
	struct starry_err err = { 0 };
	struct starry_paths p;

	(void)state;
	unsetenv("HOME");
	assert_int_equal(starry_paths_resolve(&p, NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.code, EX_CONFIG);
	assert_string_equal(err.msg, "cannot find a place for STARRY_HOME: set "
	    "STARRY_HOME, XDG_STATE_HOME or HOME");
	assert_null(p.home);
	assert_null(p.runtime);

	/* Any of them is enough. */
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	resolve_ok(&p, NULL, NULL, NULL);
	assert_string_equal(p.config, STARRY_PREFIX "/etc/starry");
	starry_paths_free(&p);
	unsetenv("XDG_STATE_HOME");
	resolve_ok(&p, "/o/home", NULL, NULL);
	starry_paths_free(&p);
}

static void
test_an_empty_override_is_a_usage_error(void **state)
{
	struct starry_err err = { 0 };
	struct starry_paths p;

	(void)state;
	assert_int_equal(starry_paths_resolve(&p, NULL, "", NULL, &err), -1);
	assert_int_equal(err.code, EX_USAGE);
	assert_string_equal(err.msg, "--runtime: empty path");
	assert_null(p.home);
}

static void
assert_mode(const char *path, mode_t mode)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s has mode %o, expected %o", path,
		    (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static void
test_mkdir_p_makes_parents_and_gives_the_last_its_mode(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	mode_t old = umask(027);

	assert_int_equal(starry_mkdir_p(in_top(f, "/a/b/c"), 0700, &err), 0);
	assert_mode(in_top(f, "/a"), 0750);
	assert_mode(in_top(f, "/a/b"), 0750);
	assert_mode(in_top(f, "/a/b/c"), 0700);
	/* The umask does not narrow the mode asked for. */
	assert_int_equal(starry_mkdir_p(in_top(f, "/a/b/wide"), 0775, &err), 0);
	assert_mode(in_top(f, "/a/b/wide"), 0775);
	/* Doubled and trailing slashes. */
	assert_int_equal(starry_mkdir_p(in_top(f, "//x///y//"), 0711, &err), 0);
	assert_mode(in_top(f, "/x/y"), 0711);
	umask(old);
}

static void
test_mkdir_p_is_content_with_an_existing_folder(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };

	assert_int_equal(mkdir(in_top(f, "/keep"), 0755), 0);
	assert_int_equal(starry_mkdir_p(in_top(f, "/keep"), 0700, &err), 0);
	/* An existing folder keeps the mode its owner gave it. */
	assert_mode(in_top(f, "/keep"), 0755);
	assert_int_equal(starry_mkdir_p("/", 0700, &err), 0);
	assert_int_equal(starry_mkdir_p(f->top, 0700, &err), 0);
}

static void
test_mkdir_p_refuses_a_file_in_the_way(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char expected[256];

	fclose(fopen(in_top(f, "/file"), "w"));
	assert_int_equal(starry_mkdir_p(in_top(f, "/file/sub"), 0700, &err), -1);
	assert_int_equal(err.code, EX_CANTCREAT);
	snprintf(expected, sizeof expected, "cannot create %s: %s",
	    in_top(f, "/file"), strerror(ENOTDIR));
	assert_string_equal(err.msg, expected);
	assert_int_equal(starry_mkdir_p(in_top(f, "/file"), 0700, &err), -1);
	assert_string_equal(err.msg, expected);
	assert_int_equal(starry_mkdir_p("", 0700, &err), -1);
	assert_int_equal(err.code, EX_CANTCREAT);
}

static void
test_mkdir_p_makes_relative_paths(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };

	assert_int_equal(chdir(f->top), 0);
	assert_int_equal(starry_mkdir_p("rel/dir", 0700, &err), 0);
	assert_mode(in_top(f, "/rel/dir"), 0700);
}

static void
test_path_join(void **state)
{
	static const struct { const char *dir, *name, *out; } cases[] = {
		{ "/a", "b", "/a/b" }, { "/a/", "b", "/a/b" }, { "/", "x", "/x" },
		{ "", "x", "x" }, { "rel", "sub/f.yaml", "rel/sub/f.yaml" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *p = starry_path_join(cases[i].dir, cases[i].name);

		assert_string_equal(p, cases[i].out);
		free(p);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_defaults_come_from_home),
		T(test_xdg_variables_come_next),
		T(test_starry_variables_win_over_xdg),
		T(test_overrides_win_over_the_environment),
		T(test_empty_values_count_as_unset),
		T(test_relative_starry_paths_are_made_absolute),
		T(test_relative_xdg_paths_are_ignored),
		T(test_config_is_the_first_folder_that_exists),
		T(test_no_home_is_a_configuration_error),
		T(test_an_empty_override_is_a_usage_error),
		T(test_mkdir_p_makes_parents_and_gives_the_last_its_mode),
		T(test_mkdir_p_is_content_with_an_existing_folder),
		T(test_mkdir_p_refuses_a_file_in_the_way),
		T(test_mkdir_p_makes_relative_paths),
		T(test_path_join),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
