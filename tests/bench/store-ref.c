/* store-ref: the reference programs of the benchmarks (tests/bench/run,
 * sections (e) and (f)): what SQLite alone does on this machine with
 * starry's schema. libc and -lsqlite3 only.
 *
 *   store-ref insert DB EVENTS
 * (e) The practical limit for the rows `starry-state append` stores. DB
 * must already hold starry's schema: the bench creates it with
 * `starry-state append -q --db DB </dev/null`, so that the tables,
 * indexes, page size and WAL mode are starry's own. EVENTS is a file
 * written by gen-events. store-ref reads it and picks out the fields
 * before the clock starts (a plain scanner that knows gen-events' format:
 * every envelope member comes before "payload", none has an escape),
 * then does as store_open and store_append do (lib/store.c): the same
 * pragmas (16 MiB cache, WAL checkpoints every 10000 pages, synchronous
 * = NORMAL), the same INSERT ... WHERE NOT EXISTS (the id) prepared once,
 * text bound in place, BEGIN IMMEDIATE ... COMMIT every 1000 rows
 * (repeated ids count in a group, as in append). The clock runs from the
 * first BEGIN to the return of sqlite3_close, which checkpoints the WAL
 * as append's own close does. Left out, by design: reading, validating
 * and scanning the lines, and append's registry and snapshot updates for
 * lifecycle events. Prints "NS STORED": the ns, the rows inserted.
 *
 *   store-ref query DB TRACE_ID index|scan
 * (f) The events of one trace, as store_query asks for them (the same
 * SELECT, WHERE 1 AND trace_id = ? ORDER BY seq), with the index, or with
 * NOT INDEXED after the table: a full scan. The clock runs from
 * sqlite3_open to sqlite3_close: opening as store_open does, reading
 * every column of every row. Prints "NS ROWS". */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000

/* One field of a line: an offset into the file and a length; len < 0 for
 * NULL (a missing parentId). */
struct field {
	size_t off;
	int len;
};

struct row {
	struct field id, trace, parent, source, session, type, line;
	int64_t timestamp;
	int priority;
};

static const char *buf;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The string member KEY of the envelope [p, end), or -1. */
static int
get_str(const char *p, const char *end, const char *key, struct field *f)
{
	char pat[32];
	const char *v, *q;
	int n = snprintf(pat, sizeof pat, "\"%s\":\"", key);

	v = memmem(p, (size_t)(end - p), pat, (size_t)n);
	if (v == NULL)
		return -1;
	v += n;
	for (q = v; q < end && *q != '"'; q++)
		if (*q == '\\')
			return -1;	/* not gen-events' format */
	if (q == end)
		return -1;
	f->off = (size_t)(v - buf);
	f->len = (int)(q - v);
	return 0;
}

static int
get_int(const char *p, const char *end, const char *key, int64_t *out)
{
	char pat[32], *stop;
	const char *v;
	int n = snprintf(pat, sizeof pat, "\"%s\":", key);

	v = memmem(p, (size_t)(end - p), pat, (size_t)n);
	if (v == NULL)
		return -1;
	errno = 0;
	*out = strtoll(v + n, &stop, 10);
	return errno || stop == v + n ? -1 : 0;
}

static int
extract(const char *line, size_t len, struct row *r)
{
	const char *end = line + len, *env;
	int64_t prio;

	/* The envelope: everything before the payload. */
	env = memmem(line, len, "\"payload\":", 10);
	if (env == NULL)
		return -1;
	if (get_str(line, env, "id", &r->id) < 0 ||
	    get_int(line, env, "timestamp", &r->timestamp) < 0 ||
	    get_str(line, env, "traceId", &r->trace) < 0 ||
	    get_str(line, env, "source", &r->source) < 0 ||
	    get_str(line, env, "sessionId", &r->session) < 0 ||
	    get_int(line, env, "priority", &prio) < 0 ||
	    get_str(line, env, "type", &r->type) < 0)
		return -1;
	if (get_str(line, env, "parentId", &r->parent) < 0)
		r->parent.len = -1;
	r->priority = (int)prio;
	r->line.off = (size_t)(line - buf);
	r->line.len = (int)(end - line);
	return 0;
}

static int
bind(sqlite3_stmt *s, int i, const struct field *f)
{
	if (f->len < 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, buf + f->off, f->len, SQLITE_STATIC);
}

static int
fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "store-ref: %s: %s\n", what, sqlite3_errmsg(db));
	return 1;
}

/* Open DB as store_open does: read-write, busy timeout, the schema
 * version read first, then WAL and synchronous = NORMAL. */
static sqlite3 *
open_db(const char *path)
{
	sqlite3_stmt *s;
	sqlite3 *db;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		fail(db, path);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK) {
		fail(db, path);
		return NULL;
	}
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW ||
	    sqlite3_exec(db, "PRAGMA cache_size = -16384", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA wal_autocheckpoint = 10000", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		fail(db, path);
		return NULL;
	}
	return db;
}

static int
cmd_insert(const char *path, const char *events)
{
	static const char insert[] =
	    "INSERT INTO events (id, timestamp, trace_id, parent_id, source,"
	    " session_id, priority, type, line) SELECT ?1,?2,?3,?4,?5,?6,?7,?8,?9"
	    " WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?1)";
	struct row *rows = NULL;
	size_t nrows = 0, cap = 0, i, off;
	long long stored = 0;
	struct stat sb;
	sqlite3_stmt *s;
	sqlite3 *db;
	int64_t t0, t1;
	char *data, *nl;
	ssize_t got;
	int fd;

	/* ---- untimed: read the file, pick out the fields ---- */
	if ((fd = open(events, O_RDONLY)) < 0 || fstat(fd, &sb) < 0) {
		perror(events);
		return 66;
	}
	if ((data = malloc((size_t)sb.st_size + 1)) == NULL) {
		perror("store-ref");
		return 71;
	}
	for (off = 0; off < (size_t)sb.st_size; off += (size_t)got) {
		got = read(fd, data + off, (size_t)sb.st_size - off);
		if (got <= 0) {
			perror(events);
			return 74;
		}
	}
	close(fd);
	buf = data;
	for (off = 0; off < (size_t)sb.st_size; off = (size_t)(nl - data) + 1) {
		nl = memchr(data + off, '\n', (size_t)sb.st_size - off);
		if (nl == NULL)
			nl = data + sb.st_size;
		if (nl == data + off)
			continue;
		if (nrows == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((rows = realloc(rows, cap * sizeof *rows)) == NULL) {
				perror("store-ref");
				return 71;
			}
		}
		if (extract(data + off, (size_t)(nl - data - off), &rows[nrows]) < 0) {
			fprintf(stderr, "store-ref: %s: line %zu is not in gen-events' "
			    "format\n", events, nrows + 1);
			return 65;
		}
		nrows++;
	}
	if (nrows == 0) {
		fprintf(stderr, "store-ref: %s: no events\n", events);
		return 65;
	}

	/* ---- untimed: the database, as store_open leaves it ---- */
	if ((db = open_db(path)) == NULL)
		return 1;
	if (sqlite3_prepare_v3(db, insert, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
	    SQLITE_OK)
		return fail(db, "prepare (is starry's schema there?)");

	/* ---- timed: the inserts, the commits, the closing checkpoint ---- */
	t0 = mono_ns();
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (i % BATCH == 0 &&
		    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, "begin");
		bind(s, 1, &r->id);
		sqlite3_bind_int64(s, 2, r->timestamp);
		bind(s, 3, &r->trace);
		bind(s, 4, &r->parent);
		bind(s, 5, &r->source);
		bind(s, 6, &r->session);
		sqlite3_bind_int(s, 7, r->priority);
		bind(s, 8, &r->type);
		bind(s, 9, &r->line);
		if (sqlite3_step(s) != SQLITE_DONE)
			return fail(db, "insert");
		stored += sqlite3_changes(db);
		sqlite3_reset(s);
		if ((i % BATCH == BATCH - 1 || i == nrows - 1) &&
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, "commit");
	}
	sqlite3_finalize(s);
	if (sqlite3_close(db) != SQLITE_OK)
		return fail(db, "close");
	t1 = mono_ns();
	printf("%" PRId64 " %lld\n", t1 - t0, stored);
	free(rows);
	free(data);
	return 0;
}

static int
cmd_query(const char *path, const char *trace, bool scan)
{
	/* store_query's SELECT for --trace alone. */
	char sql[512];
	long long nrows = 0, bytes = 0;
	sqlite3_stmt *s;
	sqlite3 *db;
	int64_t t0, t1;
	int rc;

	snprintf(sql, sizeof sql, "SELECT seq, id, timestamp, trace_id, parent_id,"
	    " source, session_id, priority, type, line FROM events%s WHERE 1"
	    " AND trace_id = ? ORDER BY seq", scan ? " NOT INDEXED" : "");
	t0 = mono_ns();
	if ((db = open_db(path)) == NULL)
		return 1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return fail(db, "prepare");
	sqlite3_bind_text(s, 1, trace, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int c = 0; c < 10; c++)
			if (sqlite3_column_type(s, c) == SQLITE_TEXT)
				bytes += (long long)strlen((const char *)
				    sqlite3_column_text(s, c));
		nrows++;
	}
	if (rc != SQLITE_DONE)
		return fail(db, "query");
	sqlite3_finalize(s);
	if (sqlite3_close(db) != SQLITE_OK)
		return fail(db, "close");
	t1 = mono_ns();
	printf("%" PRId64 " %lld\n", t1 - t0, nrows);
	return bytes > 0 || nrows == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "insert") == 0)
		return cmd_insert(argv[2], argv[3]);
	if (argc == 5 && strcmp(argv[1], "query") == 0 &&
	    (strcmp(argv[4], "index") == 0 || strcmp(argv[4], "scan") == 0))
		return cmd_query(argv[2], argv[3], strcmp(argv[4], "scan") == 0);
	fprintf(stderr, "usage: store-ref insert DB EVENTS | "
	    "query DB TRACE_ID index|scan\n");
	return 64;
}
