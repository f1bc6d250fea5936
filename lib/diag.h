/* Diagnostics and exit codes (DESIGN section 8).
 * lib/ functions report failure by returning -1 and filling a struct
 * starry_err; only mains print, with the diag_* helpers, and exit. */
#ifndef STARRY_DIAG_H
#define STARRY_DIAG_H

#include <stdarg.h>
#include <stdnoreturn.h>
#include <sysexits.h>

/* Exit status for a negative answer (no match, not running). */
#define EX_NEGATIVE 1

struct starry_err {
	int code;		/* a sysexits code: EX_DATAERR, EX_CONFIG, ... */
	char msg[1024];		/* one line, no trailing newline */
};

/* Fill err with code and a formatted message; returns -1 so that
 * `return starry_err_set(err, ...)` reads as a failure. err may be NULL. */
int starry_err_set(struct starry_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, with ": strerror(errno)" appended. */
int starry_err_sys(struct starry_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Put "prefix: " in front of err's message (to add a file name or key). */
void starry_err_prefix(struct starry_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The program name used in diagnostics: "starry-bus". */
void diag_set_progname(const char *name);
const char *diag_progname(void);

/* "starry-X: error: ...", "warning:", "note:" on stderr. */
void diag_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void diag_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For mains only: print an error and exit with code. */
noreturn void diag_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
noreturn void diag_die_err(const struct starry_err *err);
/* A usage error: the message, a pointer to --help, exit 64. */
noreturn void diag_die_usage(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
