/* Diagnostics and exit codes: see diag.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

static const char *progname = "starry";

void
diag_set_progname(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

const char *
diag_progname(void)
{
	return progname;
}

static int
err_vset(struct starry_err *err, int code, int errnum, const char *fmt, va_list ap)
{
	size_t n;

	if (err == NULL)
		return -1;
	err->code = code;
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (errnum) {
		n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(errnum));
	}
	return -1;
}

int
starry_err_set(struct starry_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
starry_err_sys(struct starry_err *err, int code, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, code, errnum ? errnum : EIO, fmt, ap);
	va_end(ap);
	errno = errnum;
	return -1;
}

void
starry_err_prefix(struct starry_err *err, const char *fmt, ...)
{
	char old[sizeof err->msg];
	size_t n;
	va_list ap;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof old);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof err->msg - n, ": %s", old);
}

static void
diag_vprint(const char *level, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	/* One write per diagnostic, so lines from several processes sharing
	 * a stderr never interleave. */
	n = snprintf(line, sizeof line, "%s: %s: ", progname, level);
	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	n = strlen(line);
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
	fflush(stderr);
}

#define DIAG_FN(name, level)				\
	void name(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		va_start(ap, fmt);			\
		diag_vprint(level, fmt, ap);		\
		va_end(ap);				\
	}
DIAG_FN(diag_error, "error")
DIAG_FN(diag_warn, "warning")
DIAG_FN(diag_note, "note")

void
diag_die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vprint("error", fmt, ap);
	va_end(ap);
	exit(code);
}

void
diag_die_err(const struct starry_err *err)
{
	diag_die(err->code ? err->code : EX_SOFTWARE, "%s", err->msg);
}

void
diag_die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vprint("error", fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(EX_USAGE);
}
