/* tmux through its command line: the server to talk to (-L NAME or
 * -S PATH, else tmux's own choice: $TMUX, then the default socket), one
 * list-panes -a for every pane, and the screens of many panes in one
 * tmux process. Strings are malloc'd and owned by what holds them. */
#ifndef STARRY_TMUX_H
#define STARRY_TMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "diag.h"

struct tmux_server {
	const char *name;	/* -L, or NULL */
	const char *path;	/* -S, or NULL */
};

struct tmux_pane {
	char *id;		/* "%3" */
	pid_t pid;		/* the pane's first process */
	char *session;
	int window;		/* window index */
	char *window_name;
	int index;		/* pane index */
	char *target;		/* "session:window.index" */
	char *command;		/* pane_current_command */
	char *title;		/* pane_title */
	bool active, dead;
	int width, height;
	char *screen;		/* after tmux_capture: the visible text, or
				   NULL when the pane went away */
	size_t screen_len;
};

struct tmux_panes {
	struct tmux_pane *v;
	size_t n;
	bool no_server;		/* no tmux server was there to ask */
};

/* The socket path of the server, as tmux works it out: -S as given;
 * with neither option, $TMUX's first field when set; else
 * $TMUX_TMPDIR (or /tmp), resolved, then tmux-UID/NAME (default).
 * malloc'd, or NULL on ENOMEM. */
char *tmux_socket_path(const struct tmux_server *s);

/* A short name for a server's files: the socket's base name and a hash
 * of its whole path ("default-3f2a9c1b"), in buf. */
void tmux_server_key(const char *socket_path, char *buf, size_t size);

/* Run tmux with args (NULL-terminated) and keep its standard output
 * (at most max bytes). Returns its exit status (0 or more) with *out
 * malloc'd (and *len), or -1 with err: EX_UNAVAILABLE when tmux cannot
 * be run, EX_OSERR for the rest. stderr's first line goes to errline. */
int tmux_run(const struct tmux_server *s, const char *const *args,
    size_t max, char **out, size_t *len, char *errline, size_t errcap,
    struct starry_err *err);

/* Every pane of the server, one list-panes -a. No server running is not
 * an error: no panes, with no_server set. Returns 0 or -1 with err. */
int tmux_list_panes(const struct tmux_server *s, struct tmux_panes *p,
    struct starry_err *err);
void tmux_panes_free(struct tmux_panes *p);

/* Fill in the screen of each pane (capture-pane -p -J), all in one tmux
 * process when none goes away in the meantime. Returns 0 or -1. */
int tmux_capture(const struct tmux_server *s, struct tmux_panes *p,
    struct starry_err *err);

#endif
