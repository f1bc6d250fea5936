/* The event hub: see hub.h. One poll loop over the signalfd, bus.fifo,
 * bus.sock and its connections; each event is one refcounted message that
 * the matching subscribers' queues share. struct hub owns all of it. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <jansson.h>

#include "clock.h"
#include "dedup.h"
#include "event.h"
#include "hub.h"
#include "ingest.h"
#include "jscan.h"
#include "lines.h"
#include "paths.h"
#include "pqueue.h"
#include "sock.h"

#define SUB_BATCH       64		/* events in one sendmsg to a subscriber */
#define SUB_BATCH_BYTES (64 * 1024)
#define ACCEPT_PER_ROUND 64
#define ACCEPT_PAUSE_MS 100		/* after EMFILE and the like */
#define TYPE_BUF        (EVENT_MAX_FIELD * 4 + 1)

/* One event on its way: the line with its '\n', and where its routing
 * fields are inside it. */
struct hub_msg {
	unsigned refs;
	int priority;
	struct event_str type, session, trace;
	size_t len;
	char data[];
};

enum conn_kind {
	CONN_NEW,		/* no whole first line yet */
	CONN_PUB,		/* every line is an event */
	CONN_SUB,		/* gets the events its filter matches */
	CONN_CLOSING,		/* finishing its last line, then closed */
};

struct sub_filter {
	char **types;
	size_t ntypes;
	char *session, *trace;
};

struct conn {
	int fd;			/* -1 once dropped */
	enum conn_kind kind;
	struct sock_peer peer;
	char name[48];		/* "peer pid 123", for diagnostics */
	struct line_reader *reader;	/* NEW and PUB */
	bool more;		/* lines left in reader when the round filled */
	bool rd_eof;		/* SUB: the peer shut its side */
	struct sub_filter filter;
	struct pqueue *queue;
	size_t queued_bytes;	/* the events in queue, in bytes */
	struct hub_msg *batch[SUB_BATCH];	/* being written, in order */
	size_t nbatch;
	size_t batch_off;	/* bytes of batch[0] already written */
	char *ctl;		/* a line of our own: ack, error, farewell */
	size_t ctl_len, ctl_off;
	int64_t close_at;	/* CLOSING: give up then */
};

struct hub {
	struct hub_options opt;
	char *sock_path, *fifo_path, *lock_path;
	int lock_fd, fifo_fd, listen_fd;
	struct line_reader *fifo_reader;
	bool fifo_more;
	struct ingest ingest;
	bool ingest_open;
	struct dedup_window *dedup;
	struct pqueue *central;	/* events taken in this round */
	struct conn **conns;
	size_t nconns, capconns;
	struct pollfd *pfds;
	size_t cappfds;
	int64_t accept_paused_until;
	bool stopping;
	struct hub_stats stats;
};

/* Messages. */

static struct hub_msg *
msg_new(const char *line, size_t len, const struct event_view *v)
{
	struct hub_msg *m = malloc(sizeof *m + len + 1);

	if (m == NULL)
		return NULL;
	m->refs = 1;
	m->priority = v->priority;
	m->len = len + 1;
	memcpy(m->data, line, len);
	m->data[len] = '\n';
	/* The view points into line; point the copies into data. */
	m->type = v->type;
	m->session = v->session_id;
	m->trace = v->trace_id;
	if (m->type.p)
		m->type.p = m->data + (v->type.p - line);
	if (m->session.p)
		m->session.p = m->data + (v->session_id.p - line);
	if (m->trace.p)
		m->trace.p = m->data + (v->trace_id.p - line);
	return m;
}

static void
msg_unref(struct hub_msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

static void
queue_clear(struct pqueue *q)
{
	struct hub_msg *m;

	while ((m = pqueue_pop(q)) != NULL)
		msg_unref(m);
}

/* Subscriber filters. */

static void
filter_free(struct sub_filter *f)
{
	for (size_t i = 0; i < f->ntypes; i++)
		free(f->types[i]);
	free(f->types);
	free(f->session);
	free(f->trace);
	memset(f, 0, sizeof *f);
}

static bool
filter_matches(const struct sub_filter *f, const struct hub_msg *m)
{
	char type[TYPE_BUF];

	if (f->session && (m->session.p == NULL || !event_str_equals(&m->session, f->session)))
		return false;
	if (f->trace && (m->trace.p == NULL || !event_str_equals(&m->trace, f->trace)))
		return false;
	if (f->ntypes == 0)
		return true;
	if (m->type.p == NULL || event_str_copy(&m->type, type, sizeof type) < 0)
		return false;
	return hub_type_matches((const char *const *)f->types, f->ntypes, type);
}

bool
hub_type_matches(const char *const *globs, size_t nglobs, const char *type)
{
	if (nglobs == 0)
		return true;
	for (size_t i = 0; i < nglobs; i++)
		if (fnmatch(globs[i], type, 0) == 0)
			return true;
	return false;
}

static char *
dup_nonempty(json_t *v)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	return strndup(json_string_value(v), json_string_length(v));
}

/* Read a subscribe request's filter; 0, or -1 with why. */
static int
filter_parse(json_t *root, struct sub_filter *f, char *why, size_t cap)
{
	json_t *req, *v;
	const char *key;
	size_t i;

	json_object_foreach(root, key, v) {
		if (strcmp(key, "subscribe") != 0) {
			snprintf(why, cap, "unexpected member \"%.64s\" beside \"subscribe\"", key);
			return -1;
		}
	}
	req = json_object_get(root, "subscribe");
	if (!json_is_object(req)) {
		snprintf(why, cap, "subscribe: expected an object");
		return -1;
	}
	json_object_foreach(req, key, v) {
		if (strcmp(key, "types") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				goto bad_types;
			f->types = calloc(json_array_size(v), sizeof *f->types);
			if (f->types == NULL)
				goto nomem;
			for (i = 0; i < json_array_size(v); i++) {
				f->types[i] = dup_nonempty(json_array_get(v, i));
				if (f->types[i] == NULL)
					goto bad_types;
				f->ntypes++;
			}
		} else if (strcmp(key, "session") == 0) {
			if ((f->session = dup_nonempty(v)) == NULL) {
				snprintf(why, cap, "subscribe.session: expected a non-empty string");
				return -1;
			}
		} else if (strcmp(key, "trace") == 0) {
			if ((f->trace = dup_nonempty(v)) == NULL) {
				snprintf(why, cap, "subscribe.trace: expected a non-empty string");
				return -1;
			}
		} else {
			snprintf(why, cap, "subscribe: unknown member \"%.64s\" "
			    "(expected types, session, trace)", key);
			return -1;
		}
	}
	return 0;
bad_types:
	snprintf(why, cap, "subscribe.types: expected a non-empty array of "
	    "non-empty strings (globs)");
	return -1;
nomem:
	snprintf(why, cap, "out of memory");
	return -1;
}

/* Connections. */

static struct conn *
conn_add(struct hub *h, int fd, const struct sock_peer *peer)
{
	struct conn **grown, *c;

	if (h->nconns == h->capconns) {
		size_t cap = h->capconns ? h->capconns * 2 : 16;

		grown = realloc(h->conns, cap * sizeof *grown);
		if (grown == NULL)
			return NULL;
		h->conns = grown;
		h->capconns = cap;
	}
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->reader = line_reader_new(fd, EVENT_MAX_LINE);
	if (c->reader == NULL) {
		free(c);
		return NULL;
	}
	c->fd = fd;
	c->kind = CONN_NEW;
	c->peer = *peer;
	snprintf(c->name, sizeof c->name, "peer pid %ld", (long)peer->pid);
	h->conns[h->nconns++] = c;
	return c;
}

/* Close a connection now and free what it holds; the struct itself goes
 * at the end of the round (conn_reap). */
static void
conn_drop(struct conn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	c->fd = -1;
	line_reader_free(c->reader);
	c->reader = NULL;
	if (c->queue) {
		queue_clear(c->queue);
		pqueue_free(c->queue);
		c->queue = NULL;
	}
	for (size_t i = 0; i < c->nbatch; i++)
		msg_unref(c->batch[i]);
	c->nbatch = 0;
	free(c->ctl);
	c->ctl = NULL;
	filter_free(&c->filter);
}

static void
conn_reap(struct hub *h)
{
	size_t j = 0;

	for (size_t i = 0; i < h->nconns; i++) {
		if (h->conns[i]->fd < 0)
			free(h->conns[i]);
		else
			h->conns[j++] = h->conns[i];
	}
	h->nconns = j;
}

static bool
sub_pending(const struct conn *c)
{
	return c->nbatch > 0 || c->ctl != NULL ||
	    (c->kind == CONN_SUB && pqueue_len(c->queue) > 0);
}

/* Queue a line of our own (malloc'd text, taken) after what is queued. */
static void
conn_set_ctl(struct conn *c, char *text, size_t len)
{
	char *joined;
	size_t rest;

	if (c->ctl == NULL) {
		c->ctl = text;
		c->ctl_len = len;
		c->ctl_off = 0;
		return;
	}
	rest = c->ctl_len - c->ctl_off;
	joined = malloc(rest + len);
	if (joined == NULL) {
		free(text);
		return;
	}
	memcpy(joined, c->ctl + c->ctl_off, rest);
	memcpy(joined + rest, text, len);
	free(c->ctl);
	free(text);
	c->ctl = joined;
	c->ctl_len = rest + len;
	c->ctl_off = 0;
}

/* Turn c into a closing connection that gets `text` last. */
static void
conn_close_with(struct conn *c, char *text, size_t len, int64_t now)
{
	line_reader_free(c->reader);
	c->reader = NULL;
	c->kind = CONN_CLOSING;
	c->close_at = now + HUB_FAREWELL_MS;
	if (text != NULL)
		conn_set_ctl(c, text, len);
}

static char *
error_line(const char *msg, size_t *len)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	char *s = o ? event_dump_line(o, len) : NULL;

	json_decref(o);
	return s;
}

static void
sub_consume(struct hub *h, struct conn *c, size_t n)
{
	size_t done = 0, rest;

	while (done < c->nbatch) {
		rest = c->batch[done]->len - c->batch_off;
		if (n < rest) {
			c->batch_off += n;
			n = 0;
			break;
		}
		n -= rest;
		c->batch_off = 0;
		msg_unref(c->batch[done++]);
		h->stats.delivered++;
	}
	memmove(c->batch, c->batch + done, (c->nbatch - done) * sizeof *c->batch);
	c->nbatch -= done;
	if (n > 0 && c->ctl != NULL) {
		c->ctl_off += n;
		if (c->ctl_off >= c->ctl_len) {
			free(c->ctl);
			c->ctl = NULL;
		}
	}
}

static void
sub_refill(struct conn *c)
{
	size_t bytes = 0;
	struct hub_msg *m;

	while (c->nbatch < SUB_BATCH && bytes < SUB_BATCH_BYTES &&
	    (m = pqueue_pop(c->queue)) != NULL) {
		c->batch[c->nbatch++] = m;
		c->queued_bytes -= m->len;
		bytes += m->len;
	}
}

/* Write what the socket takes now, never waiting. A subscriber's own
 * lines (ctl) go after its batch; no new batch is taken while one waits,
 * so the ack precedes every event and the farewell follows the last. */
static void
sub_write(struct hub *h, struct conn *c)
{
	struct iovec iov[SUB_BATCH + 1];
	struct msghdr mh;
	size_t n, total;
	ssize_t sent;

	while (c->fd >= 0) {
		if (c->kind == CONN_SUB && c->nbatch == 0 && c->ctl == NULL)
			sub_refill(c);
		n = total = 0;
		for (size_t i = 0; i < c->nbatch; i++) {
			size_t off = i == 0 ? c->batch_off : 0;

			iov[n].iov_base = c->batch[i]->data + off;
			iov[n++].iov_len = c->batch[i]->len - off;
			total += c->batch[i]->len - off;
		}
		if (c->ctl != NULL) {
			iov[n].iov_base = c->ctl + c->ctl_off;
			iov[n++].iov_len = c->ctl_len - c->ctl_off;
			total += c->ctl_len - c->ctl_off;
		}
		if (n == 0) {
			if (c->kind == CONN_CLOSING) {
				shutdown(c->fd, SHUT_WR);
				conn_drop(c);
			}
			return;
		}
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = iov;
		mh.msg_iovlen = n;
		sent = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (sent < 0) {
			/* The subscriber went away (EPIPE, ECONNRESET). */
			conn_drop(c);
			return;
		}
		sub_consume(h, c, (size_t)sent);
		if ((size_t)sent < total)
			return;		/* the socket is full */
	}
}

/* The subscriber's queue is full and msg has no room: drop what waits,
 * finish the line in flight, say why and close. */
static void
sub_disconnect_slow(struct hub *h, struct conn *c, int64_t now)
{
	struct event_origin origin = {.source = "starry-bus", .priority = 0};
	uint64_t missed = pqueue_len(c->queue) + 1;
	size_t keep = c->batch_off > 0 ? 1 : 0;
	char message[128];
	json_t *payload, *ev;
	char *text = NULL;
	size_t len = 0;

	missed += c->nbatch - keep;
	for (size_t i = keep; i < c->nbatch; i++)
		msg_unref(c->batch[i]);
	c->nbatch = keep;
	queue_clear(c->queue);
	pqueue_free(c->queue);
	c->queue = NULL;
	c->queued_bytes = 0;
	h->stats.slow++;
	h->stats.dropped += missed;
	snprintf(message, sizeof message,
	    "subscriber too slow: disconnected after missing %llu events",
	    (unsigned long long)missed);
	payload = json_pack("{s:s,s:s,s:I}", "code", "ESLOWCONSUMER",
	    "message", message, "missed", (json_int_t)missed);
	ev = payload ? event_create("KERNEL:ERROR", payload, &origin, NULL) : NULL;
	if (ev != NULL)
		text = event_dump_line(ev, &len);
	json_decref(ev);
	diag_note("disconnected slow subscriber pid %ld: missed %llu events",
	    (long)c->peer.pid, (unsigned long long)missed);
	conn_close_with(c, text, len, now);
	sub_write(h, c);
}

/* A subscribe request is an object whose one member is "subscribe": an
 * event that happens to carry such a member is still an event. */
struct subscribe_probe {
	size_t members;
	bool found;
};

static int
probe_member(void *ctx, const struct jscan_value *key,
    const struct jscan_value *value, const char **why)
{
	struct subscribe_probe *p = ctx;

	(void)value;
	if (++p->members > 1) {
		*why = "more than one member";
		return -1;	/* not a request: no need to scan further */
	}
	p->found = jscan_string_equals(key->p, key->len, key->escaped, "subscribe");
	return 0;
}

/* A first line {"subscribe": ...} is a subscribe request: make c a
 * subscriber, or answer the error and close. Returns whether the line was
 * one. */
static bool
conn_try_subscribe(struct hub *h, struct conn *c, const char *line, size_t len,
    int64_t now)
{
	struct subscribe_probe probe = {0, false};
	struct jscan_value top;
	struct jscan_error jerr;
	json_error_t jsonerr;
	char why[256], *text;
	size_t n;
	json_t *root;

	jscan_document(line, len, &top, probe_member, &probe, &jerr);
	if (!probe.found || probe.members != 1)
		return false;
	root = json_loadb(line, len, 0, &jsonerr);
	if (root == NULL || !json_is_object(root)) {
		snprintf(why, sizeof why, "invalid subscribe request");
	} else if (h->stopping) {
		snprintf(why, sizeof why, "the hub is shutting down");
	} else if (filter_parse(root, &c->filter, why, sizeof why) == 0) {
		json_decref(root);
		c->queue = pqueue_new(h->opt.sub_queue);
		text = strdup("{\"subscribed\":true}\n");
		if (c->queue == NULL || text == NULL) {
			free(text);
			diag_warn("%s: out of memory for a subscriber", c->name);
			conn_drop(c);
			return true;
		}
		line_reader_free(c->reader);
		c->reader = NULL;
		c->kind = CONN_SUB;
		conn_set_ctl(c, text, strlen(text));
		sub_write(h, c);
		return true;
	}
	json_decref(root);
	filter_free(&c->filter);
	diag_warn("%s: bad subscribe request: %s", c->name, why);
	text = error_line(why, &n);
	conn_close_with(c, text, n, now);
	sub_write(h, c);
	return true;
}

/* Intake. */

static void
hub_take(struct hub *h, const char *line, size_t len, const struct event_view *v,
    int64_t now)
{
	char buf[EVENT_ID_KEY_MAX];
	const char *key;
	struct hub_msg *m;
	long n = event_id_key(v, &key, buf, sizeof buf);

	if (n >= 0 && dedup_window_seen(h->dedup, key, n, now)) {
		h->stats.duplicates++;
		return;
	}
	m = msg_new(line, len, v);
	if (m == NULL) {
		diag_warn("out of memory: event dropped");
		return;
	}
	if (pqueue_push(h->central, m->priority, m) < 0) {
		/* Callers only take a line when there is room. */
		msg_unref(m);
		return;
	}
	h->stats.in++;
}

enum pull_result { PULL_AGAIN, PULL_FULL, PULL_EOF, PULL_TURNED };

/* Take the buffered lines of r into the central queue while it has room.
 * c is the connection r belongs to, NULL for bus.fifo. */
static enum pull_result
hub_pull(struct hub *h, struct line_reader *r, const char *name, struct conn *c,
    int64_t now)
{
	const char *line, *ev;
	size_t len, evlen;
	long lineno;
	enum line_status st;
	struct event_view view;
	struct starry_err err;

	while (!pqueue_full(h->central)) {
		st = line_reader_next(r, &line, &len, &lineno);
		if (st == LINE_AGAIN)
			return PULL_AGAIN;
		if (st == LINE_EOF || st == LINE_ERROR)
			return PULL_EOF;
		if (c != NULL && c->kind == CONN_NEW) {
			if (st == LINE_OK && conn_try_subscribe(h, c, line, len, now))
				return PULL_TURNED;
			c->kind = CONN_PUB;
		}
		switch (ingest_line(&h->ingest, name, st, line, len, lineno, &view,
		    &ev, &evlen, &err)) {
		case 1:
			hub_take(h, ev, evlen, &view, now);
			break;
		case -1:
			diag_warn("%s", err.msg);
			break;
		}
	}
	return PULL_FULL;
}

/* Whether m fits in c's queue: a count and a byte bound; an empty queue
 * takes any one event, however large. */
static bool
sub_has_room(const struct hub *h, const struct conn *c, const struct hub_msg *m)
{
	if (pqueue_len(c->queue) == 0)
		return true;
	return !pqueue_full(c->queue) && c->queued_bytes + m->len <= h->opt.sub_bytes;
}

/* Hand the central queue out, lowest priority number first. */
static void
hub_fan_out(struct hub *h, int64_t now)
{
	struct hub_msg *m;
	struct conn *c;

	while ((m = pqueue_pop(h->central)) != NULL) {
		for (size_t i = 0; i < h->nconns; i++) {
			c = h->conns[i];
			if (c->fd < 0 || c->kind != CONN_SUB || !filter_matches(&c->filter, m))
				continue;
			if (!sub_has_room(h, c, m))
				sub_write(h, c);	/* make room if the socket takes it */
			if (c->fd < 0 || c->kind != CONN_SUB)
				continue;
			if (!sub_has_room(h, c, m)) {
				sub_disconnect_slow(h, c, now);
				continue;
			}
			m->refs++;
			pqueue_push(c->queue, m->priority, m);
			c->queued_bytes += m->len;
		}
		msg_unref(m);
	}
}

static void
hub_write_all(struct hub *h)
{
	for (size_t i = 0; i < h->nconns; i++) {
		struct conn *c = h->conns[i];

		if (c->fd >= 0 && (c->kind == CONN_SUB || c->kind == CONN_CLOSING) &&
		    sub_pending(c))
			sub_write(h, c);
	}
}

/* One input's turn: the lines it has buffered, then one read if poll said
 * it is readable. A connection at its end is closed. Returns whether
 * anything was read or is left to take. */
static bool
input_service(struct hub *h, struct line_reader *r, const char *name,
    struct conn *c, bool *more, bool readable, int64_t now)
{
	enum pull_result pr = PULL_AGAIN;
	long n;

	if (*more) {
		pr = hub_pull(h, r, name, c, now);
		*more = pr == PULL_FULL;
		if (pr != PULL_AGAIN)
			goto out;
	}
	if (!readable)
		return false;
	n = line_reader_fill(r);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (n < 0) {
		diag_warn("%s: %s", name, strerror(errno));
		if (c != NULL)
			conn_drop(c);
		return false;
	}
	pr = hub_pull(h, r, name, c, now);
	*more = pr == PULL_FULL;
	if (pr == PULL_EOF && c != NULL)
		conn_drop(c);
	return n > 0 || *more;
out:
	if (pr == PULL_EOF && c != NULL)
		conn_drop(c);
	return *more;
}

static void
sub_read(struct conn *c)
{
	char buf[4096];
	ssize_t n;

	/* A subscriber has nothing to say; read so its bytes never pile up
	 * (unread bytes would turn our close into a reset for it). */
	for (;;) {
		n = read(c->fd, buf, sizeof buf);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			c->rd_eof = true;
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			conn_drop(c);
		return;
	}
}

static int
hub_accept(struct hub *h, int64_t now, bool all, struct starry_err *err)
{
	struct sock_peer peer;
	struct starry_err perr;
	char why[128];
	int fd;

	for (int i = 0; all || i < ACCEPT_PER_ROUND; i++) {
		fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue;
			case EAGAIN:
#if EWOULDBLOCK != EAGAIN
			case EWOULDBLOCK:
#endif
				return 0;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				diag_warn("cannot accept a connection: %s; pausing for %d ms",
				    strerror(errno), ACCEPT_PAUSE_MS);
				h->accept_paused_until = now + ACCEPT_PAUSE_MS;
				return 0;
			default:
				return starry_err_sys(err, EX_OSERR, "accept %s", h->sock_path);
			}
		}
		if (sock_peer(fd, &peer, &perr) < 0) {
			diag_warn("refused a peer: %s", perr.msg);
			close(fd);
			continue;
		}
		if (!sock_peer_admitted(&peer, why, sizeof why)) {
			diag_warn("refused peer pid %ld: %s", (long)peer.pid, why);
			h->stats.refused++;
			close(fd);
			continue;
		}
		if (conn_add(h, fd, &peer) == NULL) {
			diag_warn("peer pid %ld: out of memory", (long)peer.pid);
			close(fd);
		}
	}
	return 0;
}

/* Read the signalfd: 1 when asked to stop. */
static int
hub_signal(struct hub *h)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(h->opt.signal_fd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			return 0;
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			diag_note("%s: stopping",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			return 1;
		}
		if (si.ssi_signo == SIGHUP)
			diag_note("SIGHUP: the hub has no configuration to reload");
		if (si.ssi_signo == SIGUSR1)
			hub_log_stats(h, "SIGUSR1");
	}
}

static void
hub_expire(struct hub *h, int64_t now)
{
	for (size_t i = 0; i < h->nconns; i++) {
		struct conn *c = h->conns[i];

		if (c->fd >= 0 && c->kind == CONN_CLOSING && now >= c->close_at)
			conn_drop(c);
	}
}

static int
poll_timeout(const struct hub *h, int64_t now, int64_t deadline)
{
	int64_t t = deadline;

	if (h->fifo_more)
		return 0;
	for (size_t i = 0; i < h->nconns; i++) {
		const struct conn *c = h->conns[i];

		if (c->fd < 0)
			continue;
		if (c->more)
			return 0;
		if (c->kind == CONN_CLOSING && (t < 0 || c->close_at < t))
			t = c->close_at;
	}
	if (h->accept_paused_until > now && (t < 0 || h->accept_paused_until < t))
		t = h->accept_paused_until;
	if (t < 0)
		return -1;
	return t <= now ? 0 : (int)(t - now > 60000 ? 60000 : t - now);
}

static int
pfds_reserve(struct hub *h, size_t n)
{
	struct pollfd *p;

	if (n <= h->cappfds)
		return 0;
	p = realloc(h->pfds, n * sizeof *p);
	if (p == NULL)
		return -1;
	h->pfds = p;
	h->cappfds = n;
	return 0;
}

enum { PFD_SIGNAL, PFD_LISTEN, PFD_FIFO, PFD_CONNS };

/* Fill the poll set: fixed entries, then one per connection, in order. */
static size_t
poll_build(struct hub *h, int64_t now, bool inputs)
{
	struct pollfd *p = h->pfds;

	p[PFD_SIGNAL] = (struct pollfd){.fd = inputs ? h->opt.signal_fd : -1, .events = POLLIN};
	p[PFD_LISTEN] = (struct pollfd){
		.fd = inputs && h->listen_fd >= 0 && now >= h->accept_paused_until ?
		    h->listen_fd : -1,
		.events = POLLIN};
	p[PFD_FIFO] = (struct pollfd){.fd = inputs ? h->fifo_fd : -1, .events = POLLIN};
	for (size_t i = 0; i < h->nconns; i++) {
		struct conn *c = h->conns[i];
		short ev = 0;

		if (c->kind == CONN_NEW || c->kind == CONN_PUB)
			ev = inputs ? POLLIN : 0;
		else if (sub_pending(c))
			ev = POLLOUT;
		if ((c->kind == CONN_SUB || c->kind == CONN_CLOSING) && !c->rd_eof)
			ev |= POLLIN;
		p[PFD_CONNS + i] = (struct pollfd){.fd = ev || inputs ? c->fd : -1, .events = ev};
	}
	return PFD_CONNS + h->nconns;
}

/* After poll: connections' reads, hangups and writes. */
static void
conns_service(struct hub *h, size_t npolled, int64_t now)
{
	for (size_t i = 0; i < npolled; i++) {
		struct conn *c = h->conns[i];
		short re = h->pfds[PFD_CONNS + i].revents;

		if (c->fd < 0 || re == 0)
			continue;
		if (c->kind == CONN_NEW || c->kind == CONN_PUB) {
			input_service(h, c->reader, c->name, c, &c->more,
			    (re & (POLLIN | POLLHUP | POLLERR)) != 0, now);
			continue;
		}
		if (re & POLLIN)
			sub_read(c);
		if (c->fd >= 0 && (re & (POLLHUP | POLLERR))) {
			conn_drop(c);
			continue;
		}
	}
	/* Connections with lines left from an earlier round and no revents. */
	for (size_t i = 0; i < npolled; i++) {
		struct conn *c = h->conns[i];

		if (c->fd >= 0 && c->more && h->pfds[PFD_CONNS + i].revents == 0)
			input_service(h, c->reader, c->name, c, &c->more, false, now);
	}
}

/* At stop, take what a reader still holds: whole lines while there is time,
 * and an unfinished last line, rejected as truncated; what no longer fits
 * is counted and said, never dropped in silence. */
static void
hub_finish_input(struct hub *h, struct line_reader *r, const char *name,
    struct conn *c, int64_t deadline)
{
	enum pull_result pr;
	const char *line;
	size_t len;
	long lineno;
	uint64_t lost = 0;

	if (r == NULL)
		return;
	line_reader_finish(r);
	while ((pr = hub_pull(h, r, name, c, monotonic_ms())) == PULL_FULL &&
	    monotonic_ms() < deadline)
		hub_fan_out(h, monotonic_ms());
	if (pr != PULL_FULL)
		return;
	while (line_reader_next(r, &line, &len, &lineno) != LINE_EOF)
		lost++;
	h->stats.dropped += lost;
	diag_warn("%s: %llu lines read but not delivered: the hub stopped", name,
	    (unsigned long long)lost);
}

/* The end: accept who is waiting, stop listening, take in what is
 * readable now, then give the subscribers until the deadline. */
static int
hub_stop(struct hub *h, struct starry_err *err)
{
	int64_t now = monotonic_ms(), deadline = now + HUB_SHUTDOWN_MS;
	size_t n;
	int rc, timeout;

	h->stopping = true;
	if (h->listen_fd >= 0) {
		h->accept_paused_until = 0;
		if (hub_accept(h, now, true, err) < 0)
			return -1;
		close(h->listen_fd);
		h->listen_fd = -1;
		if (unlink(h->sock_path) < 0 && errno != ENOENT)
			diag_warn("cannot remove %s: %s", h->sock_path, strerror(errno));
	}
	/* Drain every input until it has nothing more to read right now. */
	for (bool busy = true; busy && monotonic_ms() < deadline;) {
		now = monotonic_ms();
		h->fifo_more = true;
		busy = input_service(h, h->fifo_reader, HUB_FIFO_NAME, NULL,
		    &h->fifo_more, true, now);
		n = h->nconns;
		for (size_t i = 0; i < n; i++) {
			struct conn *c = h->conns[i];

			if (c->fd < 0 || (c->kind != CONN_NEW && c->kind != CONN_PUB))
				continue;
			c->more = true;
			busy |= input_service(h, c->reader, c->name, c, &c->more, true, now);
		}
		hub_fan_out(h, now);
		hub_write_all(h);
	}
	hub_finish_input(h, h->fifo_reader, HUB_FIFO_NAME, NULL, deadline);
	for (size_t i = 0; i < h->nconns; i++) {
		struct conn *c = h->conns[i];

		if (c->fd >= 0 && (c->kind == CONN_NEW || c->kind == CONN_PUB))
			hub_finish_input(h, c->reader, c->name, c, deadline);
	}
	hub_fan_out(h, monotonic_ms());
	h->fifo_more = false;
	for (size_t i = 0; i < h->nconns; i++)
		h->conns[i]->more = false;
	/* Flush the subscribers. */
	for (;;) {
		now = monotonic_ms();
		hub_expire(h, now);
		hub_write_all(h);
		conn_reap(h);
		bool waiting = false;

		for (size_t i = 0; i < h->nconns; i++)
			if ((h->conns[i]->kind == CONN_SUB || h->conns[i]->kind == CONN_CLOSING) &&
			    sub_pending(h->conns[i]))
				waiting = true;
		if (!waiting || now >= deadline)
			break;
		if (pfds_reserve(h, PFD_CONNS + h->nconns) < 0)
			return starry_err_set(err, EX_OSERR, "out of memory");
		n = poll_build(h, now, false);
		timeout = poll_timeout(h, now, deadline);
		rc = poll(h->pfds, n, timeout);
		if (rc < 0 && errno != EINTR)
			return starry_err_sys(err, EX_OSERR, "poll");
		if (rc > 0)
			conns_service(h, n - PFD_CONNS, now);
	}
	for (size_t i = 0; i < h->nconns; i++) {
		struct conn *c = h->conns[i];

		if (c->kind == CONN_SUB && sub_pending(c))
			diag_warn("subscriber pid %ld: %zu events undelivered at shutdown",
			    (long)c->peer.pid, c->nbatch + pqueue_len(c->queue));
		conn_drop(c);
	}
	conn_reap(h);
	return 0;
}

int
hub_run(struct hub *h, struct starry_err *err)
{
	int64_t now;
	size_t n;
	int rc;

	for (;;) {
		now = monotonic_ms();
		if (pfds_reserve(h, PFD_CONNS + h->nconns) < 0)
			return starry_err_set(err, EX_OSERR, "out of memory");
		n = poll_build(h, now, true);
		rc = poll(h->pfds, n, poll_timeout(h, now, -1));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return starry_err_sys(err, EX_OSERR, "poll");
		now = monotonic_ms();
		if ((h->pfds[PFD_SIGNAL].revents & POLLIN) && hub_signal(h))
			break;
		input_service(h, h->fifo_reader, HUB_FIFO_NAME, NULL, &h->fifo_more,
		    (h->pfds[PFD_FIFO].revents & POLLIN) != 0, now);
		conns_service(h, n - PFD_CONNS, now);
		if ((h->pfds[PFD_LISTEN].revents & POLLIN) && hub_accept(h, now, false, err) < 0)
			return -1;
		hub_fan_out(h, now);
		hub_write_all(h);
		hub_expire(h, now);
		conn_reap(h);
	}
	return hub_stop(h, err);
}

/* Setting up. */

static int
hub_lock(struct hub *h, struct starry_err *err)
{
	char buf[32];
	ssize_t n;
	int rc;

	h->lock_fd = open(h->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (h->lock_fd < 0)
		return starry_err_sys(err, EX_CANTCREAT, "cannot open %s", h->lock_path);
	do
		rc = flock(h->lock_fd, LOCK_EX | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno == EWOULDBLOCK) {
		do
			n = pread(h->lock_fd, buf, sizeof buf - 1, 0);
		while (n < 0 && errno == EINTR);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		return starry_err_set(err, EX_TEMPFAIL, "another hub is running (pid %s)",
		    buf[0] ? buf : "unknown");
	}
	if (rc < 0)
		return starry_err_sys(err, EX_CANTCREAT, "cannot lock %s", h->lock_path);
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(h->lock_fd, 0) < 0 || pwrite(h->lock_fd, buf, n, 0) != n)
		return starry_err_sys(err, EX_CANTCREAT, "cannot write %s", h->lock_path);
	return 0;
}

static int
hub_fifo(struct hub *h, struct starry_err *err)
{
	struct stat st;

	if (mkfifo(h->fifo_path, 0600) < 0 && errno != EEXIST)
		return starry_err_sys(err, EX_CANTCREAT, "cannot make %s", h->fifo_path);
	if (lstat(h->fifo_path, &st) < 0)
		return starry_err_sys(err, EX_CANTCREAT, "%s", h->fifo_path);
	if (!S_ISFIFO(st.st_mode))
		return starry_err_set(err, EX_CANTCREAT, "%s exists and is not a FIFO",
		    h->fifo_path);
	/* Read-write, so that the FIFO never reads as ended when the last
	 * writer goes: writers come and go, the hub stays. */
	h->fifo_fd = open(h->fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (h->fifo_fd < 0)
		return starry_err_sys(err, EX_CANTCREAT, "cannot open %s", h->fifo_path);
	if (fstat(h->fifo_fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return starry_err_set(err, EX_CANTCREAT, "%s is not a FIFO", h->fifo_path);
	h->fifo_reader = line_reader_new(h->fifo_fd, EVENT_MAX_LINE);
	if (h->fifo_reader == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	return 0;
}

int
hub_open(struct hub **hubp, const struct hub_options *opt, struct starry_err *err)
{
	struct hub *h = calloc(1, sizeof *h);

	*hubp = NULL;
	if (h == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	h->opt = *opt;
	h->lock_fd = h->fifo_fd = h->listen_fd = -1;
	if (h->opt.queue == 0)
		h->opt.queue = HUB_DEFAULT_QUEUE;
	if (h->opt.sub_queue == 0)
		h->opt.sub_queue = HUB_DEFAULT_SUB_QUEUE;
	if (h->opt.sub_bytes == 0)
		h->opt.sub_bytes = HUB_DEFAULT_SUB_BYTES;
	if (h->opt.dedup_count == 0)
		h->opt.dedup_count = DEDUP_DEFAULT_COUNT;
	if (h->opt.dedup_ms == 0)
		h->opt.dedup_ms = DEDUP_DEFAULT_MS;
	h->sock_path = starry_path_join(opt->runtime, HUB_SOCK_NAME);
	h->fifo_path = starry_path_join(opt->runtime, HUB_FIFO_NAME);
	h->lock_path = starry_path_join(opt->runtime, HUB_LOCK_NAME);
	h->dedup = dedup_window_new(h->opt.dedup_count, h->opt.dedup_ms);
	h->central = pqueue_new(h->opt.queue);
	if (!h->sock_path || !h->fifo_path || !h->lock_path || !h->dedup || !h->central) {
		starry_err_set(err, EX_OSERR, "out of memory");
		goto fail;
	}
	if (starry_mkdir_p(opt->runtime, 0700, err) < 0 || hub_lock(h, err) < 0 ||
	    hub_fifo(h, err) < 0)
		goto fail;
	if (ingest_open(&h->ingest, "starry-bus", opt->rejects, err) < 0)
		goto fail;
	h->ingest_open = true;
	h->listen_fd = sock_listen(h->sock_path, err);
	if (h->listen_fd < 0)
		goto fail;
	*hubp = h;
	return 0;
fail:
	hub_close(h);
	return -1;
}

void
hub_log_stats(const struct hub *h, const char *when)
{
	struct hub_stats stats, *st = &stats;

	hub_get_stats(h, &stats);
	diag_note("%s: %llu events in, %llu rejected, %llu duplicates, "
	    "%llu delivered, %llu slow subscribers (%llu events dropped), "
	    "%llu peers refused", when,
	    (unsigned long long)st->in, (unsigned long long)st->rejected,
	    (unsigned long long)st->duplicates, (unsigned long long)st->delivered,
	    (unsigned long long)st->slow, (unsigned long long)st->dropped,
	    (unsigned long long)st->refused);
}

void
hub_get_stats(const struct hub *h, struct hub_stats *stats)
{
	*stats = h->stats;
	stats->rejected = h->ingest.rejected;
}

const char *
hub_sock_path(const struct hub *h)
{
	return h->sock_path;
}

const char *
hub_fifo_path(const struct hub *h)
{
	return h->fifo_path;
}

void
hub_close(struct hub *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->nconns; i++) {
		conn_drop(h->conns[i]);
		free(h->conns[i]);
	}
	free(h->conns);
	free(h->pfds);
	if (h->listen_fd >= 0) {
		close(h->listen_fd);
		unlink(h->sock_path);
	}
	if (h->central) {
		queue_clear(h->central);
		pqueue_free(h->central);
	}
	line_reader_free(h->fifo_reader);
	if (h->fifo_fd >= 0)
		close(h->fifo_fd);
	if (h->lock_fd >= 0)
		close(h->lock_fd);
	if (h->ingest_open)
		ingest_close(&h->ingest);
	dedup_window_free(h->dedup);
	free(h->sock_path);
	free(h->fifo_path);
	free(h->lock_path);
	free(h);
}

/* Client side. */

int
hub_connect(const char *runtime, struct starry_err *err)
{
	char *path = starry_path_join(runtime, HUB_SOCK_NAME);
	int fd;

	if (path == NULL)
		return starry_err_set(err, EX_OSERR, "out of memory");
	fd = sock_connect(path, err);
	if (fd < 0 && err != NULL && err->code == EX_UNAVAILABLE &&
	    (errno == ENOENT || errno == ECONNREFUSED))
		starry_err_prefix(err, "hub not running");
	free(path);
	return fd;
}

char *
hub_subscribe_line(const char *const *types, size_t ntypes, const char *session,
    const char *trace, size_t *len)
{
	json_t *filter = json_object(), *req = json_object(), *list;
	char *line = NULL;

	if (filter == NULL || req == NULL)
		goto out;
	if (ntypes > 0) {
		if ((list = json_array()) == NULL ||
		    json_object_set_new(filter, "types", list) < 0)
			goto out;
		for (size_t i = 0; i < ntypes; i++)
			if (json_array_append_new(list, json_string(types[i])) < 0)
				goto out;
	}
	if (session && json_object_set_new(filter, "session", json_string(session)) < 0)
		goto out;
	if (trace && json_object_set_new(filter, "trace", json_string(trace)) < 0)
		goto out;
	if (json_object_set(req, "subscribe", filter) < 0)
		goto out;
	line = event_dump_line(req, len);
out:
	json_decref(filter);
	json_decref(req);
	return line;
}

int
hub_subscribe_answer(const char *line, size_t len, struct starry_err *err)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	json_t *e = json_object_get(o, "error");
	int rc = -1;

	if (json_is_true(json_object_get(o, "subscribed")))
		rc = 0;
	else if (json_is_string(e))
		starry_err_set(err, EX_UNAVAILABLE, "the hub refused the subscription: %s",
		    json_string_value(e));
	else
		starry_err_set(err, EX_UNAVAILABLE, "unexpected answer from the hub: %.200s",
		    line);
	json_decref(o);
	return rc;
}

bool
hub_is_farewell(const char *line, size_t len)
{
	struct event_view v;
	struct starry_err err;
	json_t *payload;
	bool yes;

	if (memmem(line, len, "ESLOWCONSUMER", 13) == NULL ||
	    event_scan_line(line, len, EVENT_LENIENT, &v, &err) < 0 ||
	    !event_str_equals(&v.type, "KERNEL:ERROR") ||
	    !event_str_equals(&v.source, "starry-bus") || v.payload == NULL)
		return false;
	payload = json_loadb(v.payload, v.payload_len, 0, NULL);
	yes = json_is_string(json_object_get(payload, "code")) &&
	    strcmp(json_string_value(json_object_get(payload, "code")), "ESLOWCONSUMER") == 0;
	json_decref(payload);
	return yes;
}
