/* Unix stream sockets for starry's daemons: listen with mode 0600, admit
 * only peers with our own uid (SO_PEERCRED), connect as a client. */
#ifndef STARRY_SOCK_H
#define STARRY_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "diag.h"

/* Bind and listen at path (a stale socket file is replaced, a live one
 * refused: EX_TEMPFAIL "already served"), mode 0600, non-blocking,
 * close-on-exec. Returns the fd or -1 with err. */
int sock_listen(const char *path, struct starry_err *err);
/* Connect to path; returns a blocking close-on-exec fd or -1 with err
 * (EX_UNAVAILABLE when nobody listens there). */
int sock_connect(const char *path, struct starry_err *err);

/* The same without ever waiting: a listener whose backlog is full (a
 * stalled server) is EX_TEMPFAIL at once. The fd returned is blocking. */
int sock_connect_nowait(const char *path, struct starry_err *err);

struct sock_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};
/* Read the peer's credentials; whether its uid is ours. When not, why
 * holds the reason for the log. */
int sock_peer(int fd, struct sock_peer *peer, struct starry_err *err);
bool sock_peer_admitted(const struct sock_peer *peer, char *why, size_t cap);

#endif
