/* lib/sock: a listening socket is 0600, a stale one is replaced, a live one
 * refused, an over-long path named; peers are admitted by uid only. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sock.h"

struct fixture {
	char dir[64];
	char path[128];		/* dir/test.sock */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_sock.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof f->path, "%s/test.sock", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
listen_makes_a_0600_nonblocking_cloexec_socket(void **state)
{
	struct fixture *f = *state;
	struct starry_err err;
	struct stat st;
	int fd = sock_listen(f->path, &err);

	assert_true(fd >= 0);
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static void
a_live_socket_is_refused_as_already_served(void **state)
{
	struct fixture *f = *state;
	struct starry_err err;
	int fd = sock_listen(f->path, &err);

	assert_true(fd >= 0);
	assert_int_equal(sock_listen(f->path, &err), -1);
	assert_int_equal(err.code, EX_TEMPFAIL);
	assert_non_null(strstr(err.msg, "already served"));
	close(fd);
}

static void
a_stale_socket_is_replaced(void **state)
{
	struct fixture *f = *state;
	struct starry_err err;
	int fd = sock_listen(f->path, &err), again, client;

	assert_true(fd >= 0);
	close(fd);		/* the file stays: nobody listens any more */
	again = sock_listen(f->path, &err);
	assert_true(again >= 0);
	client = sock_connect(f->path, &err);
	assert_true(client >= 0);
	close(client);
	close(again);
}

static void
a_file_that_is_not_a_socket_is_left_alone(void **state)
{
	struct fixture *f = *state;
	struct starry_err err;
	struct stat st;
	int fd = open(f->path, O_CREAT | O_WRONLY, 0600);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sock_listen(f->path, &err), -1);
	assert_int_equal(err.code, EX_CANTCREAT);
	assert_non_null(strstr(err.msg, "not a socket"));
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
a_path_too_long_for_sun_path_is_named(void **state)
{
	char path[200];
	struct starry_err err;

	(void)state;
	memset(path, 'a', sizeof path - 1);
	path[0] = '/';
	path[sizeof path - 1] = '\0';
	assert_int_equal(sock_listen(path, &err), -1);
	assert_non_null(strstr(err.msg, "socket path too long"));
	assert_int_equal(sock_connect(path, &err), -1);
	assert_non_null(strstr(err.msg, "socket path too long"));
}

static void
connect_with_nobody_listening_is_unavailable(void **state)
{
	struct fixture *f = *state;
	struct starry_err err;

	assert_int_equal(sock_connect(f->path, &err), -1);
	assert_int_equal(err.code, EX_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "cannot connect to"));
}

static void
peers_are_admitted_by_uid(void **state)
{
	struct sock_peer me, other;
	struct starry_err err;
	char why[128], want[128];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(sock_peer(sv[0], &me, &err), 0);
	assert_int_equal(me.pid, getpid());
	assert_int_equal(me.uid, geteuid());
	assert_true(sock_peer_admitted(&me, why, sizeof why));
	other = me;
	other.uid = geteuid() + 1;
	assert_false(sock_peer_admitted(&other, why, sizeof why));
	snprintf(want, sizeof want, "uid %lu is not the hub's uid %lu",
	    (unsigned long)other.uid, (unsigned long)geteuid());
	assert_string_equal(why, want);
	close(sv[0]);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(listen_makes_a_0600_nonblocking_cloexec_socket,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_live_socket_is_refused_as_already_served,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_stale_socket_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(a_file_that_is_not_a_socket_is_left_alone,
		    setup, teardown),
		cmocka_unit_test(a_path_too_long_for_sun_path_is_named),
		cmocka_unit_test_setup_teardown(connect_with_nobody_listening_is_unavailable,
		    setup, teardown),
		cmocka_unit_test(peers_are_admitted_by_uid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
