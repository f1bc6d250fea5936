/* JSONTestSuite (nst/JSONTestSuite, in $STARRY_SHARED/testdata) through
 * event_scan_line: each file's content becomes the payload of an otherwise
 * valid event. y_ files must be accepted, n_ files without a raw newline
 * rejected, i_ files may go either way but must not crash. One test per
 * prefix; a failure lists every file that went wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "event.h"
#include "uuid.h"

#define SUITE "testdata/JSONTestSuite/test_parsing"

struct file {
	char *name;
	char *data;
	size_t len;
};

struct suite {
	char dir[4096];
	struct file *files;
	size_t count;
	char id[UUID_STR_LEN + 1];
	int open_errno;		/* why the folder could not be read */
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct file *)a)->name, ((const struct file *)b)->name);
}

static char *
read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

static int
load_suite(void **state)
{
	const char *shared = getenv("STARRY_SHARED");
	struct suite *s = calloc(1, sizeof *s);
	struct dirent *de;
	char path[8192];
	DIR *d;

	if (s == NULL)
		return -1;
	*state = s;
	snprintf(s->dir, sizeof s->dir, "%s/" SUITE,
	    shared && *shared ? shared : "../shared");
	if (uuid_v4(s->id) < 0 || (d = opendir(s->dir)) == NULL) {
		s->open_errno = errno;
		return 0;	/* each test then fails saying why */
	}
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) < 3 || de->d_name[1] != '_')
			continue;
		s->files = realloc(s->files, (s->count + 1) * sizeof *s->files);
		if (s->files == NULL)
			break;
		snprintf(path, sizeof path, "%s/%s", s->dir, de->d_name);
		s->files[s->count].name = strdup(de->d_name);
		s->files[s->count].data = read_whole(path, &s->files[s->count].len);
		if (s->files[s->count].data == NULL)
			s->files[s->count].len = 0;
		s->count++;
	}
	closedir(d);
	qsort(s->files, s->count, sizeof *s->files, by_name);
	return 0;
}

static int
free_suite(void **state)
{
	struct suite *s = *state;
	size_t i;

	for (i = 0; i < s->count; i++) {
		free(s->files[i].name);
		free(s->files[i].data);
	}
	free(s->files);
	free(s);
	return 0;
}

static void
require_suite(const struct suite *s)
{
	if (s->count == 0)
		fail_msg("no JSONTestSuite files in %s (%s): set STARRY_SHARED to "
		    "the folder that holds testdata/", s->dir,
		    s->open_errno ? strerror(s->open_errno) : "empty folder");
}

/* Scan the event whose payload is data[0..len) with raw newlines made
 * spaces; the line is allocated to its exact length so that a sanitizer
 * sees any read past it. Returns event_scan_line's result. */
static int
scan_as_payload(const struct suite *s, const char *data, size_t len,
    struct starry_err *err)
{
	char head[256];
	size_t h, i;
	char *line;
	struct event_view v;
	int rc;

	h = snprintf(head, sizeof head, "{\"id\":\"%s\",\"timestamp\":1,"
	    "\"traceId\":\"t\",\"source\":\"s\",\"sessionId\":\"default\","
	    "\"priority\":3,\"type\":\"test:case\",\"payload\":", s->id);
	line = malloc(h + len + 1);
	assert_non_null(line);
	memcpy(line, head, h);
	for (i = 0; i < len; i++)
		line[h + i] = data[i] == '\n' ? ' ' : data[i];
	line[h + len] = '}';
	memset(err, 0, sizeof *err);
	rc = event_scan_line(line, h + len + 1, 0, &v, err);
	free(line);
	return rc;
}

/* Append "  name: detail\n" to the list of failures. */
static void
note_failure(char **list, size_t *used, const char *name, const char *detail)
{
	size_t n = strlen(name) + strlen(detail) + 6;

	*list = realloc(*list, *used + n + 1);
	assert_non_null(*list);
	*used += snprintf(*list + *used, n + 1, "  %s: %s\n", name, detail);
}

enum expect { MUST_ACCEPT, MUST_REJECT, EITHER };

static void
run_prefix(const struct suite *s, const char *prefix, enum expect expect)
{
	struct starry_err err;
	size_t i, used = 0;
	char *failures = NULL;
	int checked = 0, failed = 0, skipped = 0, accepted = 0, rc;

	require_suite(s);
	for (i = 0; i < s->count; i++) {
		const struct file *f = &s->files[i];

		if (strncmp(f->name, prefix, 2) != 0)
			continue;
		if (f->data == NULL) {
			note_failure(&failures, &used, f->name, "cannot read the file");
			failed++;
			continue;
		}
		/* A raw newline inside an n_ string turns valid once made a
		 * space; the README exempts those files. */
		if (expect == MUST_REJECT && memchr(f->data, '\n', f->len)) {
			skipped++;
			continue;
		}
		checked++;
		rc = scan_as_payload(s, f->data, f->len, &err);
		accepted += rc == 0;
		if (expect == MUST_ACCEPT && rc != 0) {
			note_failure(&failures, &used, f->name, err.msg);
			failed++;
		} else if (expect == MUST_REJECT && rc == 0) {
			note_failure(&failures, &used, f->name, "accepted");
			failed++;
		}
	}
	print_message("# %s files: %d checked, %d failed, %d accepted, %d skipped "
	    "(raw newline)\n", prefix, checked, failed, accepted, skipped);
	if (checked == 0)
		fail_msg("no %s files in %s", prefix, s->dir);
	if (failed) {
		print_message("%s", failures);
		free(failures);
		fail_msg("%d of %d %s files failed (listed above)", failed,
		    checked + skipped, prefix);
	}
	free(failures);
}

static void
every_y_file_is_accepted_as_a_payload(void **state)
{
	run_prefix(*state, "y_", MUST_ACCEPT);
}

static void
every_n_file_without_a_raw_newline_is_rejected_as_a_payload(void **state)
{
	run_prefix(*state, "n_", MUST_REJECT);
}

static void
every_i_file_is_scanned_without_crashing(void **state)
{
	run_prefix(*state, "i_", EITHER);
}

/* A NUL byte must end nothing early: the bytes after it still count. */
static void
content_with_a_nul_byte_is_rejected_not_truncated(void **state)
{
	const struct suite *s = *state;
	struct starry_err err;
	size_t i;
	int seen = 0;

	require_suite(s);
	assert_int_equal(scan_as_payload(s, "[1]", 3, &err), 0);
	assert_int_equal(scan_as_payload(s, "[1]\0", 4, &err), -1);
	assert_int_equal(scan_as_payload(s, "\"a\0b\"", 5, &err), -1);
	assert_int_equal(scan_as_payload(s, "1\0 2", 4, &err), -1);
	for (i = 0; i < s->count; i++) {
		const struct file *f = &s->files[i];

		if (f->data == NULL || !memchr(f->data, '\0', f->len))
			continue;
		seen++;
		if (scan_as_payload(s, f->data, f->len, &err) == 0)
			fail_msg("%s holds a NUL byte and was accepted", f->name);
	}
	print_message("# %d suite files hold a NUL byte; all rejected\n", seen);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_y_file_is_accepted_as_a_payload),
		cmocka_unit_test(every_n_file_without_a_raw_newline_is_rejected_as_a_payload),
		cmocka_unit_test(every_i_file_is_scanned_without_crashing),
		cmocka_unit_test(content_with_a_nul_byte_is_rejected_not_truncated),
	};

	return cmocka_run_group_tests(tests, load_suite, free_suite);
}
