/* Taking event lines in: see ingest.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudevents.h"
#include "fdio.h"
#include "ingest.h"

int
ingest_open(struct ingest *in, const char *source, const char *rejects_path,
    struct starry_err *err)
{
	memset(in, 0, sizeof *in);
	in->source = source;
	in->max_line = EVENT_MAX_LINE;
	in->rejects_fd = -1;
	if (rejects_path == NULL)
		return 0;
	in->rejects_fd = open(rejects_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (in->rejects_fd < 0)
		return starry_err_sys(err, EX_CANTCREAT, "--rejects %s", rejects_path);
	return 0;
}

void
ingest_close(struct ingest *in)
{
	if (in->rejects_fd >= 0)
		close(in->rejects_fd);
	in->rejects_fd = -1;
	free(in->conv);
	in->conv = NULL;
	free(in->conv_out);
	in->conv_out = NULL;
}

static int
ingest_reject(struct ingest *in, const char *name, const char *line, size_t len,
    long lineno, const char *reason, struct starry_err *err)
{
	json_t *ev;
	char *text;
	size_t n;
	int rc = 0;

	in->rejected++;
	if (!in->quiet)
		diag_error("%s:%ld: %s", name, lineno, reason);
	if (in->rejects_fd < 0)
		return 0;
	ev = event_reject(in->source, name, line, len, lineno, reason);
	text = ev ? event_dump_line(ev, &n) : NULL;
	if (text == NULL || write_all(in->rejects_fd, text, n) < 0)
		rc = starry_err_sys(err, EX_IOERR, "cannot write the rejects file");
	free(text);
	json_decref(ev);
	return rc;
}

int
ingest_line(struct ingest *in, const char *name, enum line_status st,
    const char *line, size_t len, long lineno, struct event_view *view,
    const char **out, size_t *outlen, struct starry_err *err)
{
	struct starry_err why;
	char reason[sizeof why.msg + 64];
	size_t n;

	if (st == LINE_TOO_LONG) {
		snprintf(reason, sizeof reason, "line longer than %zu bytes", in->max_line);
		return ingest_reject(in, name, line,
		    len < INGEST_REJECT_HEAD ? len : INGEST_REJECT_HEAD, lineno, reason, err);
	}
	if (st == LINE_TRUNCATED && !in->accept_truncated)
		return ingest_reject(in, name, line, len, lineno,
		    "truncated line: no newline at end of input", err);
	if (event_scan_line(line, len, in->scan_flags, view, &why) < 0)
		return ingest_reject(in, name, line, len, lineno, why.msg, err);
	if (view->cloudevent) {
		free(in->conv);
		in->conv = cloudevent_to_line(line, len, &n, &why);
		if (in->conv == NULL)
			return ingest_reject(in, name, line, len, lineno, why.msg, err);
		line = in->conv;
		len = n - 1;	/* without its '\n' */
		if (event_scan_line(line, len, in->scan_flags | EVENT_LENIENT, view, &why) < 0)
			return ingest_reject(in, name, line, len, lineno, why.msg, err);
	}
	if (in->cloudevents_out) {
		free(in->conv_out);
		in->conv_out = cloudevent_from_line(line, len, &n, &why);
		if (in->conv_out == NULL) {
			snprintf(reason, sizeof reason, "cannot be written as a CloudEvent: ");
			n = strlen(reason);
			snprintf(reason + n, sizeof reason - n, "%s", why.msg);
			return ingest_reject(in, name, line, len, lineno, reason, err);
		}
		line = in->conv_out;
		len = n - 1;
	}
	in->accepted++;
	*out = line;
	*outlen = len;
	return 1;
}

/* The next line, reading (and waiting on a non-blocking fd) as needed. */
static enum line_status
ingest_next(struct line_reader *r, int fd, void (*idle)(void *), void *ctx,
    const char **line, size_t *len, long *lineno)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	enum line_status st;

	while ((st = line_reader_next(r, line, len, lineno)) == LINE_AGAIN) {
		if (idle != NULL)
			idle(ctx);
		if (line_reader_fill(r) >= 0 || errno == EINTR)
			continue;
		if (errno == EAGAIN && (poll(&pfd, 1, -1) >= 0 || errno == EINTR))
			continue;
		return LINE_ERROR;
	}
	return st;
}

int
ingest_fd(struct ingest *in, int fd, const char *name, ingest_accept_fn accept,
    void (*idle)(void *ctx), void *ctx, struct starry_err *err)
{
	struct line_reader *r = line_reader_new(fd, in->max_line);
	struct event_view view;
	enum line_status st;
	const char *line, *ev;
	size_t len, evlen;
	long lineno;
	int rc = 0;

	if (r == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	while (rc == 0) {
		st = ingest_next(r, fd, idle, ctx, &line, &len, &lineno);
		if (st == LINE_EOF)
			break;
		if (st == LINE_ERROR) {
			rc = starry_err_sys(err, EX_IOERR, "%s", name);
			break;
		}
		switch (ingest_line(in, name, st, line, len, lineno, &view, &ev,
		    &evlen, err)) {
		case 1:
			rc = accept(ctx, ev, evlen, line, len, &view);
			break;
		case -1:
			rc = -1;
			break;
		}
	}
	line_reader_free(r);
	return rc;
}

int
ingest_files(struct ingest *in, char *const *files, int nfiles,
    ingest_accept_fn accept, void (*idle)(void *ctx), void *ctx,
    struct starry_err *err)
{
	const char *name;
	int status = 0, fd, rc;

	for (int i = 0; i < nfiles || i == 0; i++) {
		name = i < nfiles ? files[i] : "-";
		if (strcmp(name, "-") == 0) {
			fd = STDIN_FILENO;
			name = "<stdin>";
		} else if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
			diag_error("%s: %s", name, strerror(errno));
			status = EX_NOINPUT;
			continue;
		}
		rc = ingest_fd(in, fd, name, accept, idle, ctx, err);
		if (fd != STDIN_FILENO)
			close(fd);
		if (rc < 0 && err->code != EX_IOERR)
			return -1;
		if (rc < 0) {
			diag_error("%s", err->msg);
			if (status == 0)
				status = EX_IOERR;
		}
	}
	return status;
}
