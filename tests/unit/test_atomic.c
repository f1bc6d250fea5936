/* lib/atomic: atomic_write_file replaces a file whole, with the mode asked
 * for, and on failure leaves the old file and no temporary behind. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic.h"

struct fixture {
	char dir[64];
	char path[128];		/* dir/state.json */
	char *old_cwd;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	strcpy(f->dir, "/tmp/test_atomic.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/state.json", f->dir);
	f->old_cwd = getcwd(NULL, 0);
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
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f->old_cwd);
	free(f);
	return 0;
}

static void
write_plain(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The whole file, malloc'd and NUL-terminated; *len its size. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	if (len != NULL)
		*len = (size_t)st.st_size;
	return buf;
}

static void
assert_content(const char *path, const char *text)
{
	char *got = slurp(path, NULL);

	assert_string_equal(got, text);
	free(got);
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* How many entries the folder holds (no temporaries left behind). */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_creates_a_new_file_with_the_mode_asked_for(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	mode_t old = umask(077);

	assert_int_equal(atomic_write_file(f->path, "{\"a\":1}\n", 8, 0644, &err), 0);
	umask(old);
	assert_content(f->path, "{\"a\":1}\n");
	assert_int_equal(mode_of(f->path), 0644);
	assert_int_equal(entries(f->dir), 1);
}

static void
test_replaces_an_existing_file(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	struct stat before, after;

	write_plain(f->path, "old content that is longer\n", 0644);
	assert_int_equal(stat(f->path, &before), 0);
	assert_int_equal(atomic_write_file(f->path, "new\n", 4, 0600, &err), 0);
	assert_int_equal(stat(f->path, &after), 0);
	assert_content(f->path, "new\n");
	assert_int_equal(mode_of(f->path), 0600);
	/* A new inode took the old one's place: readers holding the old
	 * file open still see the old one whole. */
	assert_true(before.st_ino != after.st_ino);
	assert_int_equal(entries(f->dir), 1);
}

static void
test_keep_mode_keeps_the_replaced_files_mode(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char fresh[160];

	write_plain(f->path, "x", 0751);
	assert_int_equal(atomic_write_file(f->path, "y", 1, ATOMIC_KEEP_MODE, &err), 0);
	assert_content(f->path, "y");
	assert_int_equal(mode_of(f->path), 0751);

	snprintf(fresh, sizeof fresh, "%s/fresh", f->dir);
	assert_int_equal(atomic_write_file(fresh, "z", 1, ATOMIC_KEEP_MODE, &err), 0);
	assert_int_equal(mode_of(fresh), 0644);
}

static void
test_writes_empty_and_large_contents(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	size_t n = 8u << 20, len;
	char *big = malloc(n), *got;

	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 4096);
	assert_int_equal(atomic_write_file(f->path, big, n, 0644, &err), 0);
	got = slurp(f->path, &len);
	assert_int_equal(len, n);
	assert_memory_equal(got, big, n);
	free(got);
	assert_int_equal(atomic_write_file(f->path, "", 0, 0644, &err), 0);
	assert_content(f->path, "");
	free(big);
}

static void
test_a_missing_folder_fails_and_creates_nothing(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char path[192], expected[256];

	snprintf(path, sizeof path, "%s/missing/state.json", f->dir);
	assert_int_equal(atomic_write_file(path, "x", 1, 0644, &err), -1);
	assert_int_equal(err.code, EX_CANTCREAT);
	snprintf(expected, sizeof expected,
	    "cannot create a temporary file for %s: %s", path, strerror(ENOENT));
	assert_string_equal(err.msg, expected);
	assert_int_equal(entries(f->dir), 0);
}

static void
test_a_failing_write_leaves_the_old_file_and_no_temporary(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	struct rlimit old, small;
	char data[100000];
	void (*old_handler)(int);
	int rc;

	/* A file size limit makes write() fail with EFBIG, for real, even as
	 * root: the first write is cut short, the next one refused. */
	write_plain(f->path, "old\n", 0640);
	memset(data, 'n', sizeof data);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 4096;
	old_handler = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	rc = atomic_write_file(f->path, data, sizeof data, 0644, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_handler);

	assert_int_equal(rc, -1);
	assert_int_equal(err.code, EX_IOERR);
	assert_non_null(strstr(err.msg, strerror(EFBIG)));
	assert_non_null(strstr(err.msg, "cannot write "));
	assert_content(f->path, "old\n");
	assert_int_equal(mode_of(f->path), 0640);
	assert_int_equal(entries(f->dir), 1);
}

static void
test_a_directory_in_the_way_is_left_alone(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char inner[192];

	assert_int_equal(mkdir(f->path, 0755), 0);
	snprintf(inner, sizeof inner, "%s/inside", f->path);
	write_plain(inner, "keep", 0644);
	assert_int_equal(atomic_write_file(f->path, "x", 1, 0644, &err), -1);
	assert_int_equal(err.code, EX_CANTCREAT);
	assert_non_null(strstr(err.msg, "cannot rename "));
	assert_content(inner, "keep");
	assert_int_equal(entries(f->dir), 1);
}

static void
test_a_symlink_is_replaced_not_followed(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	char target[160];

	snprintf(target, sizeof target, "%s/target", f->dir);
	write_plain(target, "target", 0644);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(atomic_write_file(f->path, "new", 3, 0600, &err), 0);
	assert_content(target, "target");
	assert_content(f->path, "new");
	assert_int_equal(mode_of(f->path), 0600);
}

static void
test_a_relative_path_in_the_current_folder(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };

	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(atomic_write_file("here.json", "{}", 2, 0644, &err), 0);
	assert_content("here.json", "{}");
	assert_int_equal(entries("."), 1);
}

static void
test_readers_see_the_old_file_or_the_new_never_a_part(void **state)
{
	struct fixture *f = *state;
	struct starry_err err = { 0 };
	size_t n = 256 * 1024, len;
	char *a = malloc(n), *b = malloc(n), *got;
	int status, torn = 0;
	pid_t pid;

	memset(a, 'a', n);
	memset(b, 'b', n);
	assert_int_equal(atomic_write_file(f->path, a, n, 0644, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < 60; i++)
			if (atomic_write_file(f->path, i % 2 ? a : b, n, 0644, &err) < 0)
				_exit(1);
		_exit(0);
	}
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);

		got = slurp(f->path, &len);
		if (len != n || (memcmp(got, a, n) != 0 && memcmp(got, b, n) != 0))
			torn++;
		free(got);
		if (done == pid)
			break;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(torn, 0);
	assert_int_equal(entries(f->dir), 1);
	free(a);
	free(b);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_creates_a_new_file_with_the_mode_asked_for),
		T(test_replaces_an_existing_file),
		T(test_keep_mode_keeps_the_replaced_files_mode),
		T(test_writes_empty_and_large_contents),
		T(test_a_missing_folder_fails_and_creates_nothing),
		T(test_a_failing_write_leaves_the_old_file_and_no_temporary),
		T(test_a_directory_in_the_way_is_left_alone),
		T(test_a_symlink_is_replaced_not_followed),
		T(test_a_relative_path_in_the_current_folder),
		T(test_readers_see_the_old_file_or_the_new_never_a_part),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
