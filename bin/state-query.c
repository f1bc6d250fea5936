/* starry-state query, export and trace: reading the event log. Readers
 * never wait for the writer (WAL); --follow waits on inotify for the
 * writer's commits instead of polling. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cloudevents.h"
#include "state.h"

static const char query_usage[] =
"usage: starry-state query [options]\n"
"       starry-state export [options]\n"
"\n"
"Print the stored events that match every option given, in the order they\n"
"were stored, as the original JSON lines. export is the same command; its\n"
"output is what import takes.\n"
"\n"
"  -t, --type GLOB        the type matches GLOB (* ? [...], case-sensitive)\n"
"      --source S         the source is S\n"
"      --session S        the sessionId is S\n"
"      --trace ID         the traceId is ID\n"
"      --since SEQ|TIME   from sequence number SEQ, or from a time: RFC 3339\n"
"                         (2026-11-23T08:00:00Z) or a duration ago (10m)\n"
"      --until SEQ|TIME   up to and including it\n"
"  -n, --limit N          at most N events: the first N, or with --follow\n"
"                         the newest N (as tail -f does)\n"
"      --cursor NAME      after the position consumer NAME committed\n"
"                         (see starry-state cursor)\n"
"      --with-seq         print {\"seq\":SEQ,\"event\":EVENT} lines\n"
"  -f, --follow           then print new events as they are committed,\n"
"                         until SIGTERM or SIGINT, the reader of stdout\n"
"                         leaving, or the log passing --until SEQ\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 1 when nothing matched (without --follow), 66 when there\n"
"is no database.\n";

static const char trace_usage[] =
"usage: starry-state trace [options] TRACE_ID\n"
"\n"
"Print the events of a trace as the tree of their causes (parentId):\n"
"each event under the one that caused it, in stored order. An event whose\n"
"cause is not in the trace is a root.\n"
"\n"
"      --json             one JSON document: {\"traceId\", \"events\", \"roots\":\n"
"                         [{seq, id, type, source, timestamp, event, depth,\n"
"                         children: [...]}]}; a chain deeper than 64\n"
"                         goes on as another root\n"
"      --db FILE          the database (default $STARRY_HOME/state.db)\n"
"  -h, --help, --version\n"
"\n"
"Exit status: 0, 1 when the trace has no events, 66 when there is no\n"
"database.\n";

enum {
	OPT_SOURCE = STATE_OPT_FREE, OPT_SESSION, OPT_TRACE, OPT_SINCE, OPT_UNTIL,
	OPT_CURSOR, OPT_WITH_SEQ, OPT_JSON,
};

static const struct option query_options[] = {
	{"type", required_argument, NULL, 't'},
	{"source", required_argument, NULL, OPT_SOURCE},
	{"session", required_argument, NULL, OPT_SESSION},
	{"trace", required_argument, NULL, OPT_TRACE},
	{"since", required_argument, NULL, OPT_SINCE},
	{"until", required_argument, NULL, OPT_UNTIL},
	{"limit", required_argument, NULL, 'n'},
	{"cursor", required_argument, NULL, OPT_CURSOR},
	{"with-seq", no_argument, NULL, OPT_WITH_SEQ},
	{"follow", no_argument, NULL, 'f'},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

struct printer {
	bool with_seq;
	int64_t last_seq;
	int64_t printed;
};

static int
print_event(void *ctx, const struct store_event *ev)
{
	struct printer *p = ctx;

	if (p->with_seq && printf("{\"seq\":%lld,\"event\":", (long long)ev->seq) < 0)
		cli_stdout_failed();
	if (p->with_seq) {
		if (fwrite(ev->line, 1, ev->len, stdout) != ev->len || puts("}") == EOF)
			cli_stdout_failed();
	} else {
		cli_print_line(ev->line, ev->len);
	}
	p->last_seq = ev->seq;
	p->printed++;
	return 0;
}

/* Watch the database's folder for the writer's commits: in WAL mode they
 * land in FILE-wal, and checkpoints in FILE itself. */
static int
watch_commits(const char *db)
{
	char dir[PATH_MAX], *slash;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd < 0)
		diag_die(EX_OSERR, "inotify: %s", strerror(errno));
	snprintf(dir, sizeof dir, "%s", db);
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else
		slash[slash == dir] = '\0';	/* "/state.db" lives in "/" */
	if (inotify_add_watch(fd, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
		diag_die(EX_OSERR, "inotify: %s: %s", dir, strerror(errno));
	return fd;
}

/* Wait for a change under the database's folder, or a signal. Returns
 * false on a signal. A commit missed between two queries is not lost:
 * every wake-up queries from the last sequence printed. */
static bool
wait_for_commit(int ifd, int sfd)
{
	/* stdout too: a pipe whose reader is gone (`| head -1`) ends the
	 * wait, rather than the next commit's write. */
	struct pollfd pfd[3] = {
		{.fd = ifd, .events = POLLIN},
		{.fd = sfd, .events = POLLIN},
		{.fd = STDOUT_FILENO, .events = 0},
	};
	char buf[4096];

	/* A safety net of one second, should a change come unannounced
	 * (a database on a network file system). */
	if (poll(pfd, 3, 1000) < 0 && errno != EINTR)
		diag_die(EX_OSERR, "poll: %s", strerror(errno));
	if (pfd[1].revents)
		return false;
	if (pfd[2].revents & (POLLERR | POLLHUP))
		exit(0);
	while (read(ifd, buf, sizeof buf) > 0)
		;
	return true;
}

static int
query_run(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct store_filter f = {0};
	struct printer p = {0};
	struct starry_err err;
	const char *cursor = NULL;
	bool follow = false;
	struct store *st;
	int64_t seq;
	sigset_t set;
	int opt, ifd, sfd;

	while ((opt = getopt_long(argc, argv, "t:n:fh", query_options, NULL)) != -1) {
		if (state_option(&opts, opt, query_usage))
			continue;
		switch (opt) {
		case 't':
			f.type = optarg;
			break;
		case OPT_SOURCE:
			f.source = optarg;
			break;
		case OPT_SESSION:
			f.session = optarg;
			break;
		case OPT_TRACE:
			f.trace = optarg;
			break;
		case OPT_SINCE:
			state_parse_point("since", optarg, &f.since_seq, &f.since_ms);
			break;
		case OPT_UNTIL:
			state_parse_point("until", optarg, &f.until_seq, &f.until_ms);
			break;
		case 'n':
			f.limit = cli_parse_int("limit", optarg, 1, INT64_MAX);
			break;
		case OPT_CURSOR:
			cursor = optarg;
			break;
		case OPT_WITH_SEQ:
			p.with_seq = true;
			break;
		case 'f':
			follow = true;
			break;
		}
	}
	if (optind < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind]);
	st = state_open(&opts, 0);
	if (cursor != NULL) {
		int rc = store_cursor_get(st, cursor, &seq, &err);

		if (rc < 0)
			diag_die_err(&err);
		if (rc == 1 && seq + 1 > f.since_seq)
			f.since_seq = seq + 1;
	}
	if (!follow) {
		if (store_query(st, &f, print_event, &p, &err) < 0)
			diag_die_err(&err);
		store_close(st);
		if (fflush(stdout) == EOF)
			cli_stdout_failed();
		return p.printed > 0 ? 0 : EX_NEGATIVE;
	}
	/* Like tail -f: --limit N shows the newest N, then what comes. */
	f.newest = true;
	/* Watch before the first query, so no commit falls between them. */
	ifd = watch_commits(store_path(st));
	sfd = cli_signalfd(&set, (const int[]){SIGTERM, SIGINT, 0});
	for (;;) {
		/* Read before the query, which then sees all of it. */
		if (store_last_seq(st, &seq, &err) < 0 ||
		    store_query(st, &f, print_event, &p, &err) < 0)
			diag_die_err(&err);
		if (fflush(stdout) == EOF)
			cli_stdout_failed();
		/* Every event up to seq has been looked at. */
		if (p.last_seq >= f.since_seq)
			f.since_seq = p.last_seq + 1;
		if (seq >= f.since_seq)
			f.since_seq = seq + 1;
		f.limit = 0;
		f.newest = false;
		if (f.until_seq && seq >= f.until_seq)
			break;		/* the log has gone past --until */
		if (!wait_for_commit(ifd, sfd))
			break;
	}
	close(ifd);
	close(sfd);
	store_close(st);
	return 0;
}

int
state_query_main(int argc, char **argv)
{
	return query_run(argc, argv);
}

int
state_export_main(int argc, char **argv)
{
	int rc = query_run(argc, argv);

	return rc == EX_NEGATIVE ? 0 : rc;	/* an empty log exports as nothing */
}

/* ---- trace ---- */

struct node {
	int64_t seq, timestamp;
	char *id, *parent, *type, *source, *line;
	size_t len;
	size_t first_child, next_sibling;	/* indexes + 1; 0: none */
	bool visited;
};

struct tree {
	struct node *n;
	size_t count, cap;
	size_t *by_id;			/* indexes sorted by id */
};

static int
collect_node(void *ctx, const struct store_event *ev)
{
	struct tree *t = ctx;
	struct node *n;

	if (t->count == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->n = realloc(t->n, t->cap * sizeof *t->n);
		if (t->n == NULL)
			diag_die(EX_OSERR, "out of memory");
	}
	n = &t->n[t->count++];
	memset(n, 0, sizeof *n);
	n->seq = ev->seq;
	n->timestamp = ev->timestamp;
	n->id = strdup(ev->id);
	n->parent = ev->parent_id ? strdup(ev->parent_id) : NULL;
	n->type = strdup(ev->type);
	n->source = strdup(ev->source);
	n->line = strndup(ev->line, ev->len);
	n->len = ev->len;
	if (n->id == NULL || n->type == NULL || n->source == NULL || n->line == NULL ||
	    (ev->parent_id && n->parent == NULL))
		diag_die(EX_OSERR, "out of memory");
	return 0;
}

static int
by_id(const void *a, const void *b, void *tree)
{
	const struct tree *t = tree;

	return strcmp(t->n[*(const size_t *)a].id, t->n[*(const size_t *)b].id);
}

/* The node with this id, or -1. */
static long
find_node(const struct tree *t, const char *id)
{
	size_t lo = 0, hi = t->count, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(t->n[t->by_id[mid]].id, id);
		if (c == 0)
			return t->by_id[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Link each node under its cause, children in stored order. */
static void
link_tree(struct tree *t)
{
	long p;

	t->by_id = malloc((t->count + 1) * sizeof *t->by_id);
	if (t->by_id == NULL)
		diag_die(EX_OSERR, "out of memory");
	for (size_t i = 0; i < t->count; i++)
		t->by_id[i] = i;
	qsort_r(t->by_id, t->count, sizeof *t->by_id, by_id, t);
	for (size_t i = t->count; i-- > 0;) {
		struct node *n = &t->n[i];

		if (n->parent == NULL || (p = find_node(t, n->parent)) < 0 ||
		    (size_t)p == i)
			continue;
		n->next_sibling = t->n[p].first_child;
		t->n[p].first_child = i + 1;
	}
}

static bool
is_root(const struct tree *t, size_t i)
{
	long p;

	return t->n[i].parent == NULL || (p = find_node(t, t->n[i].parent)) < 0 ||
	    (size_t)p == i;
}

/* Walking a trace's tree, depth first, children in stored order, with a
 * stack of its own: a chain of causes can be as deep as the log is long. */
struct frame {
	size_t node, depth;
	bool last;			/* the last child of its parent */
	json_t *siblings;		/* --json: the array it goes into */
};

/* Push the unvisited children of node i, the first on top. */
static size_t
push_children(struct tree *t, size_t i, size_t depth, json_t *into,
    struct frame *stack, size_t sp)
{
	size_t k = 0, j = 0;

	for (size_t c = t->n[i].first_child; c; c = t->n[c - 1].next_sibling)
		if (!t->n[c - 1].visited)
			k++;
	for (size_t c = t->n[i].first_child; c; c = t->n[c - 1].next_sibling) {
		if (t->n[c - 1].visited)
			continue;
		stack[sp + k - 1 - j] = (struct frame){c - 1, depth + 1, j == k - 1, into};
		j++;
	}
	return sp + k;
}

/* Deeper than this, a line shows its depth instead of the guides. */
#define TRACE_GUIDES 64
/* Levels of "children" nested in one root of --json. */
#define TRACE_JSON_NESTING 64

static void
print_line(const struct node *n, const struct frame *f, const char *guides)
{
	char when[32];

	cloudevent_format_time(n->timestamp, when);
	if (f->depth > TRACE_GUIDES)
		printf("[depth %zu] ", f->depth);
	else
		for (size_t d = 1; d < f->depth; d++)
			printf("%c   ", guides[d]);
	printf("%s%s %s %s %s (seq %lld)\n", f->depth == 0 ? "" : f->last ? "`-- " :
	    "|-- ", n->type, n->id, n->source, when, (long long)n->seq);
}

static json_t *
node_json(const struct node *n)
{
	json_t *ev = json_loadb(n->line, n->len, 0, NULL);

	return json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:[]}", "seq",
	    (json_int_t)n->seq, "id", n->id, "type", n->type, "source", n->source,
	    "timestamp", (json_int_t)n->timestamp, "event", ev ? ev : json_null(),
	    "children");
}

/* Print (or, with roots, add to it) the tree under node i. */
static void
walk_tree(struct tree *t, size_t i, json_t *roots)
{
	struct frame *stack = malloc(t->count * sizeof *stack), f;
	char guides[TRACE_GUIDES + 1];
	size_t sp = 0;
	json_t *obj;

	if (stack == NULL)
		diag_die(EX_OSERR, "out of memory");
	stack[sp++] = (struct frame){i, 0, true, roots};
	while (sp > 0) {
		f = stack[--sp];
		if (t->n[f.node].visited)
			continue;
		t->n[f.node].visited = true;
		if (roots != NULL) {
			obj = node_json(&t->n[f.node]);
			if (obj == NULL)
				diag_die(EX_OSERR, "out of memory");
			json_object_set_new(obj, "depth", json_integer(f.depth));
			json_array_append_new(f.siblings, obj);
			/* JSON readers have depth limits (jq 1.6: 256 levels,
			 * each of ours is two): a deeper chain goes on as another
			 * root. */
			sp = push_children(t, f.node, f.depth,
			    (f.depth + 1) % TRACE_JSON_NESTING == 0 ? roots :
			    json_object_get(obj, "children"), stack, sp);
			continue;
		}
		if (f.depth > 0 && f.depth <= TRACE_GUIDES)
			guides[f.depth] = f.last ? ' ' : '|';
		print_line(&t->n[f.node], &f, guides);
		sp = push_children(t, f.node, f.depth, NULL, stack, sp);
	}
	free(stack);
}

static const struct option trace_options[] = {
	{"json", no_argument, NULL, OPT_JSON},
	STATE_LONGOPTS,
	{NULL, 0, NULL, 0},
};

int
state_trace_main(int argc, char **argv)
{
	struct state_opts opts = {0};
	struct store_filter f = {0};
	struct tree t = {0};
	struct starry_err err;
	struct store *st;
	bool json = false;
	json_t *roots;
	int opt;

	while ((opt = getopt_long(argc, argv, "h", trace_options, NULL)) != -1) {
		if (state_option(&opts, opt, trace_usage))
			continue;
		if (opt == OPT_JSON)
			json = true;
	}
	if (optind == argc)
		diag_die_usage("missing TRACE_ID");
	if (optind + 1 < argc)
		diag_die_usage("unexpected argument '%s'", argv[optind + 1]);
	f.trace = argv[optind];
	st = state_open(&opts, 0);
	if (store_query(st, &f, collect_node, &t, &err) < 0)
		diag_die_err(&err);
	store_close(st);
	link_tree(&t);
	roots = json_array();
	if (roots == NULL)
		diag_die(EX_OSERR, "out of memory");
	/* Roots first; then whatever a loop of parentIds left unreached. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < t.count; i++) {
			if (t.n[i].visited || (pass == 0 && !is_root(&t, i)))
				continue;
			walk_tree(&t, i, json ? roots : NULL);
		}
	if (json) {
		json_t *doc = json_pack("{s:s, s:I, s:o}", "traceId", f.trace, "events",
		    (json_int_t)t.count, "roots", roots);

		if (json_dumpf(doc, stdout, JSON_COMPACT) < 0 || putchar('\n') == EOF)
			cli_stdout_failed();
		json_decref(doc);
	} else {
		json_decref(roots);
	}
	if (fflush(stdout) == EOF)
		cli_stdout_failed();
	for (size_t i = 0; i < t.count; i++) {
		free(t.n[i].id);
		free(t.n[i].parent);
		free(t.n[i].type);
		free(t.n[i].source);
		free(t.n[i].line);
	}
	free(t.n);
	free(t.by_id);
	return t.count > 0 ? 0 : EX_NEGATIVE;
}
