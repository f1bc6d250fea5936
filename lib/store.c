/* The durable store: see store.h. One SQLite connection per struct store,
 * in WAL mode, so readers never wait for the writer; statements that run
 * once per event are prepared once. The schema grows by numbered
 * migrations; PRAGMA user_version says how many a file has had. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#define BUSY_TIMEOUT_MS 10000

/* Each migration takes the schema from its index to index + 1. Never edit
 * one that has shipped: add the next. */
static const char *const migrations[] = {
	/* 1: the event log, snapshots and cursors. */
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  timestamp INTEGER NOT NULL,"
	"  trace_id TEXT NOT NULL,"
	"  parent_id TEXT,"
	"  source TEXT NOT NULL,"
	"  session_id TEXT NOT NULL,"
	"  priority INTEGER NOT NULL,"
	"  type TEXT NOT NULL,"
	"  line TEXT NOT NULL);"
	"CREATE INDEX events_by_trace ON events (trace_id);"
	"CREATE INDEX events_by_time ON events (timestamp);"
	"CREATE TABLE snapshots ("
	"  agent TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  data TEXT NOT NULL,"
	"  PRIMARY KEY (agent, version));"
	"CREATE TABLE cursors ("
	"  consumer TEXT PRIMARY KEY,"
	"  seq INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);",

	/* 2: the agent registry and the tmux monitor's tables. */
	"CREATE TABLE agents ("
	"  id TEXT PRIMARY KEY,"
	"  template TEXT,"
	"  driver TEXT,"
	"  pid INTEGER,"
	"  state TEXT NOT NULL,"
	"  started INTEGER,"
	"  exited INTEGER,"
	"  exit_status INTEGER,"
	"  restarts INTEGER NOT NULL DEFAULT 0,"
	"  trace_id TEXT,"
	"  updated INTEGER NOT NULL);"
	"CREATE TABLE tmux_panes ("
	"  server TEXT NOT NULL,"
	"  pane_id TEXT NOT NULL,"
	"  generation INTEGER NOT NULL,"
	"  session TEXT,"
	"  window TEXT,"
	"  agent TEXT,"
	"  presence TEXT,"
	"  evidence TEXT,"
	"  state TEXT,"
	"  attention TEXT,"
	"  title TEXT,"
	"  since INTEGER,"
	"  confidence REAL,"
	"  reason TEXT,"
	"  updated INTEGER NOT NULL,"
	"  tombstoned INTEGER,"
	"  PRIMARY KEY (server, pane_id, generation));"
	"CREATE TABLE tmux_sessions ("
	"  server TEXT NOT NULL,"
	"  session TEXT NOT NULL,"
	"  state TEXT,"
	"  panes INTEGER NOT NULL DEFAULT 0,"
	"  attention INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (server, session));"
	"CREATE TABLE tmux_bindings ("
	"  server TEXT NOT NULL,"
	"  pane_id TEXT NOT NULL,"
	"  generation INTEGER NOT NULL,"
	"  agent_session TEXT NOT NULL,"
	"  agent TEXT,"
	"  bound INTEGER NOT NULL,"
	"  PRIMARY KEY (server, pane_id, generation, agent_session));"
	"CREATE TABLE tmux_sources ("
	"  source TEXT PRIMARY KEY,"
	"  kind TEXT,"
	"  last_seen INTEGER,"
	"  healthy INTEGER,"
	"  detail TEXT);",

	/* 3: the session's title in its binding; the sources' health, per
	 * server (the table of version 2 had never been written). */
	"ALTER TABLE tmux_bindings ADD COLUMN title TEXT;"
	"ALTER TABLE tmux_bindings ADD COLUMN title_from TEXT;"
	"DROP TABLE tmux_sources;"
	"CREATE TABLE tmux_sources ("
	"  server TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  kind TEXT,"
	"  state TEXT NOT NULL,"
	"  last_seen INTEGER,"
	"  detail TEXT,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (server, source));",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION,
    "one migration per schema version");

enum stmt {
	S_INSERT_EVENT,
	S_AGENT_SPAWNED,
	S_AGENT_EXITED,
	S_AGENT_STATE,
	S_SNAPSHOT_NEXT,
	S_SNAPSHOT_INSERT,
	S_SNAPSHOT_TRIM,
	S_TMUX_PANE,
	S_TMUX_PANE_SESSION,
	S_TMUX_SESSION,
	S_TMUX_BINDING,
	S_TMUX_EXPIRE_BINDINGS,
	S_TMUX_EXPIRE_PANES,
	S_TMUX_SOURCE,
	S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	/* Looked up first rather than left to ON CONFLICT, which would
	 * use up a sequence number for every id already stored. */
	[S_INSERT_EVENT] =
	"INSERT INTO events (id, timestamp, trace_id, parent_id, source,"
	" session_id, priority, type, line) SELECT ?1,?2,?3,?4,?5,?6,?7,?8,?9"
	" WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = ?1)",
	[S_AGENT_SPAWNED] =
	"INSERT INTO agents (id, template, driver, pid, state, started, restarts,"
	" trace_id, updated) VALUES (?1, ?2, ?3, ?4, 'running', ?5,"
	" COALESCE(?6, 0), ?7, ?5)"
	" ON CONFLICT (id) DO UPDATE SET template = COALESCE(?2, template),"
	" driver = COALESCE(?3, driver), pid = ?4, state = 'running',"
	" started = ?5, exited = NULL, exit_status = NULL,"
	" restarts = COALESCE(?6, restarts), trace_id = ?7, updated = ?5",
	[S_AGENT_EXITED] =
	"INSERT INTO agents (id, state, exited, exit_status, trace_id, updated)"
	" VALUES (?1, 'exited', ?2, ?3, ?4, ?2)"
	" ON CONFLICT (id) DO UPDATE SET state = 'exited', exited = ?2,"
	" exit_status = ?3, updated = ?2",
	[S_AGENT_STATE] =
	"INSERT INTO agents (id, state, trace_id, updated) VALUES (?1, ?2, ?3, ?4)"
	" ON CONFLICT (id) DO UPDATE SET state = ?2, updated = ?4",
	[S_SNAPSHOT_NEXT] =
	"SELECT COALESCE(MAX(version), 0) + 1 FROM snapshots WHERE agent = ?",
	[S_SNAPSHOT_INSERT] =
	"INSERT INTO snapshots (agent, version, seq, created, data)"
	" VALUES (?, ?, ?, ?, ?)",
	[S_SNAPSHOT_TRIM] =
	"DELETE FROM snapshots WHERE agent = ? AND version <= ?",
	/* A pane's latest state, per generation; a tombstone keeps the last
	 * state told and the time it went. */
	[S_TMUX_PANE] =
	"INSERT INTO tmux_panes (server, pane_id, generation, session, window,"
	" agent, presence, evidence, state, attention, title, since,"
	" confidence, reason, updated, tombstoned)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15, CASE WHEN ?16 THEN ?15 END)"
	" ON CONFLICT (server, pane_id, generation) DO UPDATE SET"
	" session = ?4, window = ?5, agent = COALESCE(?6, agent),"
	" presence = CASE WHEN ?16 THEN presence ELSE ?7 END,"
	" evidence = CASE WHEN ?16 THEN evidence ELSE ?8 END,"
	" state = CASE WHEN ?16 THEN state ELSE ?9 END,"
	" attention = CASE WHEN ?16 THEN attention ELSE ?10 END,"
	" title = ?11, since = ?12, confidence = ?13, reason = ?14,"
	" updated = ?15, tombstoned = CASE WHEN ?16 THEN ?15 END"
	" WHERE excluded.updated >= tmux_panes.updated",
	[S_TMUX_PANE_SESSION] =
	"SELECT session FROM tmux_panes"
	" WHERE server = ?1 AND pane_id = ?2 AND generation = ?3",
	/* A tmux session's summary, from its panes that show an agent and
	 * are not tombstoned: how many, how many want the user, and the
	 * most pressing state among them. */
	[S_TMUX_SESSION] =
	"INSERT INTO tmux_sessions (server, session, state, panes, attention,"
	" updated)"
	" SELECT ?1, ?2, CASE MIN(CASE state WHEN 'waiting_approval' THEN 0"
	"  WHEN 'error' THEN 1 WHEN 'waiting_input' THEN 2"
	"  WHEN 'running' THEN 3 WHEN 'idle' THEN 4 ELSE 5 END)"
	"  WHEN 0 THEN 'waiting_approval' WHEN 1 THEN 'error'"
	"  WHEN 2 THEN 'waiting_input' WHEN 3 THEN 'running' WHEN 4 THEN 'idle'"
	"  WHEN 5 THEN 'unknown' END,"
	" COUNT(*), COUNT(CASE WHEN attention != 'none' THEN 1 END), ?3"
	" FROM tmux_panes WHERE server = ?1 AND session = ?2"
	" AND tombstoned IS NULL AND agent IS NOT NULL"
	" ON CONFLICT (server, session) DO UPDATE SET state = excluded.state,"
	" panes = excluded.panes, attention = excluded.attention,"
	" updated = MAX(updated, excluded.updated)",
	/* An agent session seen in a pane (since the earliest event that
	 * says so). */
	[S_TMUX_BINDING] =
	"INSERT INTO tmux_bindings (server, pane_id, generation, agent_session,"
	" agent, bound, title, title_from) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
	" ON CONFLICT (server, pane_id, generation, agent_session) DO UPDATE"
	" SET agent = COALESCE(?5, agent), bound = MIN(bound, ?6),"
	" title = COALESCE(?7, title), title_from = COALESCE(?8, title_from)",
	/* Tombstones older than ?2 go, with their bindings. */
	[S_TMUX_EXPIRE_BINDINGS] =
	"DELETE FROM tmux_bindings WHERE server = ?1 AND (pane_id, generation)"
	" IN (SELECT pane_id, generation FROM tmux_panes"
	" WHERE server = ?1 AND tombstoned < ?2)",
	[S_TMUX_EXPIRE_PANES] =
	"DELETE FROM tmux_panes WHERE server = ?1 AND tombstoned < ?2",
	/* A source's health: the latest word; last_seen never goes back. */
	[S_TMUX_SOURCE] =
	"INSERT INTO tmux_sources (server, source, kind, state, last_seen,"
	" detail, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	" ON CONFLICT (server, source) DO UPDATE SET kind = COALESCE(?3, kind),"
	" state = ?4,"
	" last_seen = COALESCE(MAX(last_seen, ?5), last_seen, ?5), detail = ?6,"
	" updated = ?7 WHERE excluded.updated >= tmux_sources.updated",
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[S_COUNT];
};

static int
db_fail(struct store *st, struct starry_err *err, const char *what)
{
	int rc = sqlite3_extended_errcode(st->db), code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = EX_TEMPFAIL;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = EX_DATAERR;
		break;
	case SQLITE_FULL:
	case SQLITE_IOERR:
		code = EX_IOERR;
		break;
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		code = EX_CANTCREAT;
		break;
	default:
		code = EX_SOFTWARE;
	}
	return starry_err_set(err, code, "%s: %s: %s", st->path, what,
	    sqlite3_errmsg(st->db));
}

static int
exec(struct store *st, const char *sql, struct starry_err *err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot update the database");
	return 0;
}

static int
read_user_version(struct store *st, int *version, struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read the schema version");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "cannot read the schema version");
	return 0;
}

/* Bring the schema up to date, in one transaction so that a crash leaves
 * the old version whole. Another process may have migrated meanwhile:
 * the version is read again under the write lock. */
static int
migrate(struct store *st, struct starry_err *err)
{
	char sql[64];
	int version;

	if (store_begin(st, err) < 0)
		return -1;
	if (read_user_version(st, &version, err) < 0)
		goto fail;
	for (; version < STORE_SCHEMA_VERSION; version++) {
		if (exec(st, migrations[version], err) < 0)
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
		if (exec(st, sql, err) < 0)
			goto fail;
	}
	return store_commit(st, err);
fail:
	store_rollback(st);
	return -1;
}

/* Refuse a file that is not SQLite before SQLite writes anything to it. */
static int
check_header(const char *path, bool *exists, struct starry_err *err)
{
	static const char magic[16] = "SQLite format 3";
	char head[16];
	struct stat sb;
	ssize_t n;
	int fd;

	*exists = false;
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT)
			return 0;
		return starry_err_sys(err, EX_NOINPUT, "%s", path);
	}
	*exists = true;
	if (!S_ISREG(sb.st_mode))
		return starry_err_set(err, EX_DATAERR, "%s: not a regular file", path);
	if (sb.st_size == 0)
		return 0;	/* SQLite's own empty database */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return starry_err_sys(err, EX_NOINPUT, "%s", path);
	n = read(fd, head, sizeof head);
	close(fd);
	if (n != sizeof head || memcmp(head, magic, sizeof magic) != 0)
		return starry_err_set(err, EX_DATAERR,
		    "%s: not an SQLite database (left untouched)", path);
	return 0;
}

static int
prepare_all(struct store *st, struct starry_err *err)
{
	for (int i = 0; i < S_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &st->stmt[i], NULL) != SQLITE_OK)
			return db_fail(st, err, "cannot prepare a statement");
	return 0;
}

int
store_open(struct store **out, const char *path, unsigned flags,
    struct starry_err *err)
{
	struct store *st;
	bool exists;
	int version, oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;

	*out = NULL;
	if (check_header(path, &exists, err) < 0)
		return -1;
	if (!exists && !(flags & STORE_CREATE))
		return starry_err_set(err, EX_NOINPUT,
		    "%s: no such database (nothing has been appended yet)", path);
	if (!exists) {
		/* The log holds every payload: readable by its owner only.
		 * SQLite's own journal files take the database's mode. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (fd < 0 && errno != EEXIST)
			return starry_err_sys(err, EX_CANTCREAT, "%s", path);
		if (fd >= 0)
			close(fd);
	}
	st = calloc(1, sizeof *st);
	if (st == NULL || (st->path = strdup(path)) == NULL) {
		free(st);
		return starry_err_set(err, EX_OSERR, "out of memory");
	}
	if (sqlite3_open_v2(path, &st->db, oflags, NULL) != SQLITE_OK) {
		db_fail(st, err, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(st->db, 1);
	/* Read before writing anything: a corrupt file or a newer schema
	 * is refused as it is. */
	if (read_user_version(st, &version, err) < 0)
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		starry_err_set(err, EX_CONFIG, "%s: schema version %d is newer than "
		    "this starry-state's %d: use a newer starry-state", path, version,
		    STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* A page cache of 16 MiB and a write-ahead log of up to 40 MiB
	 * between checkpoints: the id and trace indexes take random ids, so
	 * with SQLite's defaults every group commit rewrote the same index
	 * pages and checkpointed them, and appending ran twice as long. */
	if (exec(st, "PRAGMA cache_size = -16384", err) < 0 ||
	    exec(st, "PRAGMA wal_autocheckpoint = 10000", err) < 0 ||
	    exec(st, "PRAGMA journal_mode = WAL", err) < 0 ||
	    exec(st, flags & STORE_DURABLE ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", err) < 0)
		goto fail;
	if (version < STORE_SCHEMA_VERSION && migrate(st, err) < 0)
		goto fail;
	if (prepare_all(st, err) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}

const char *
store_path(const struct store *st)
{
	return st->path;
}

int
store_begin(struct store *st, struct starry_err *err)
{
	if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot start a transaction");
	return 0;
}

int
store_commit(struct store *st, struct starry_err *err)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(st, err, "cannot commit");
		store_rollback(st);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Run a prepared statement that returns no rows, and reset it. */
static int
step_done(struct store *st, sqlite3_stmt *s, struct starry_err *err,
    const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, what);
	return 0;
}

/* ---- events ---- */

/* Bind a scanned string, escapes resolved. Unescaped text (nearly all) is
 * bound where it lies; decoded text is handed to SQLite to copy. */
static int
bind_event_str(sqlite3_stmt *s, int i, const struct event_str *v)
{
	char *buf;
	long n;
	int rc;

	if (v->p == NULL)
		return sqlite3_bind_null(s, i);
	if (!v->escaped)
		return sqlite3_bind_text(s, i, v->p, v->len, SQLITE_STATIC);
	if ((buf = malloc(v->len + 1)) == NULL)
		return SQLITE_NOMEM;
	n = event_str_copy(v, buf, v->len + 1);
	rc = n < 0 ? SQLITE_ERROR : sqlite3_bind_text(s, i, buf, n, SQLITE_TRANSIENT);
	free(buf);
	return rc;
}

static const char *
json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Bind an integer member, or NULL when it is missing or not an integer. */
static void
bind_json_int(sqlite3_stmt *s, int i, const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		sqlite3_bind_int64(s, i, json_integer_value(v));
	else
		sqlite3_bind_null(s, i);
}

static int
snapshot_insert(struct store *st, const char *agent, const char *data,
    size_t len, int64_t seq, int64_t created_ms, unsigned keep,
    int64_t *version, struct starry_err *err)
{
	sqlite3_stmt *s = st->stmt[S_SNAPSHOT_NEXT];
	int64_t v;

	sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st, err, "cannot number the snapshot");
	}
	v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	s = st->stmt[S_SNAPSHOT_INSERT];
	sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	sqlite3_bind_int64(s, 3, seq);
	sqlite3_bind_int64(s, 4, created_ms);
	sqlite3_bind_text(s, 5, data, len, SQLITE_STATIC);
	if (step_done(st, s, err, "cannot save the snapshot") < 0)
		return -1;
	if (keep > 0 && v > keep) {
		s = st->stmt[S_SNAPSHOT_TRIM];
		sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, v - keep);
		if (step_done(st, s, err, "cannot drop old snapshots") < 0)
			return -1;
	}
	if (version)
		*version = v;
	return 0;
}

/* The tmux session a pane's row is in now (malloc'd), or NULL. */
static char *
tmux_pane_session(struct store *st, const char *server, const char *pane,
    json_int_t generation)
{
	sqlite3_stmt *s = st->stmt[S_TMUX_PANE_SESSION];
	char *session = NULL;

	sqlite3_bind_text(s, 1, server, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pane, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, generation);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		session = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return session;
}

/* Work out a tmux session's row again from its panes. */
static int
tmux_session(struct store *st, const char *server, const char *session,
    int64_t now, struct starry_err *err)
{
	sqlite3_stmt *s = st->stmt[S_TMUX_SESSION];

	sqlite3_bind_text(s, 1, server, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, session, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	return step_done(st, s, err, "cannot update the tmux sessions");
}

/* What the tmux monitor says of a pane (starry-tmux-scan(1)), into
 * tmux_panes, and from there its tmux session's row in tmux_sessions
 * and the agent session's binding to it in tmux_bindings. A payload
 * without server, pane and generation changes nothing. */
static int
project_tmux_pane(struct store *st, const struct event_view *view,
    struct starry_err *err)
{
	json_t *p = json_loadb(view->payload, view->payload_len, 0, NULL);
	const json_t *gen = json_object_get(p, "generation");
	const char *server = json_str(p, "server"), *pane = json_str(p, "pane");
	sqlite3_stmt *s = st->stmt[S_TMUX_PANE];
	char *old = NULL;
	int rc = 0;

	if (server == NULL || pane == NULL || !json_is_integer(gen))
		goto out;
	sqlite3_bind_text(s, 1, server, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, pane, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, json_integer_value(gen));
	sqlite3_bind_text(s, 4, json_str(p, "session"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, json_str(p, "target"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, json_str(p, "agent"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, json_str(p, "presence"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, json_str(p, "evidence"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, json_str(p, "state"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, json_str(p, "attention"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 11, json_str(p, "title"), -1, SQLITE_STATIC);
	bind_json_int(s, 12, p, "since");
	if (json_is_number(json_object_get(p, "confidence")))
		sqlite3_bind_double(s, 13,
		    json_number_value(json_object_get(p, "confidence")));
	sqlite3_bind_text(s, 14, json_str(p, "reason"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 15, view->timestamp);
	sqlite3_bind_int(s, 16, json_is_true(json_object_get(p, "tombstoned")));
	old = tmux_pane_session(st, server, pane, json_integer_value(gen));
	rc = step_done(st, s, err, "cannot update the tmux panes");
	if (rc == 0 && json_str(p, "session") != NULL)
		rc = tmux_session(st, server, json_str(p, "session"),
		    view->timestamp, err);
	if (rc == 0 && old != NULL &&
	    (json_str(p, "session") == NULL || strcmp(old, json_str(p, "session")) != 0))
		rc = tmux_session(st, server, old, view->timestamp, err);
	/* The agent's session, when a hook gave it, is bound to the pane. */
	if (rc == 0 && view->session_id.p != NULL &&
	    !(view->session_id.len == 7 && memcmp(view->session_id.p, "default", 7) == 0)) {
		s = st->stmt[S_TMUX_BINDING];
		sqlite3_bind_text(s, 1, server, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, pane, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, json_integer_value(gen));
		if (bind_event_str(s, 4, &view->session_id) != SQLITE_OK) {
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			rc = db_fail(st, err, "cannot bind the agent session");
		} else {
			const char *from = json_str(p, "titleFrom");

			sqlite3_bind_text(s, 5, json_str(p, "agent"), -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 6, view->timestamp);
			/* The session's title, not the pane's. */
			if (from != NULL && strcmp(from, "pane") != 0 &&
			    json_str(p, "title") != NULL) {
				sqlite3_bind_text(s, 7, json_str(p, "title"), -1,
				    SQLITE_STATIC);
				sqlite3_bind_text(s, 8, from, -1, SQLITE_STATIC);
			}
			rc = step_done(st, s, err, "cannot update the tmux bindings");
		}
	}
	/* A pane that went long ago is forgotten when another goes. */
	if (rc == 0 && json_is_true(json_object_get(p, "tombstoned"))) {
		for (int i = S_TMUX_EXPIRE_BINDINGS; rc == 0 &&
		    i <= S_TMUX_EXPIRE_PANES; i++) {
			s = st->stmt[i];
			sqlite3_bind_text(s, 1, server, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 2,
			    view->timestamp - STORE_TOMBSTONE_KEEP_MS);
			rc = step_done(st, s, err, "cannot forget old tombstones");
		}
	}
out:
	free(old);
	json_decref(p);
	return rc;
}

/* What the tmux monitor says of one of its sources of evidence, into
 * tmux_sources. A payload without server, source and state changes
 * nothing. */
static int
project_tmux_source(struct store *st, const struct event_view *view,
    struct starry_err *err)
{
	json_t *p = json_loadb(view->payload, view->payload_len, 0, NULL);
	sqlite3_stmt *s = st->stmt[S_TMUX_SOURCE];
	int rc = 0;

	if (json_str(p, "server") == NULL || json_str(p, "source") == NULL ||
	    json_str(p, "state") == NULL)
		goto out;
	sqlite3_bind_text(s, 1, json_str(p, "server"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, json_str(p, "source"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, json_str(p, "kind"), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, json_str(p, "state"), -1, SQLITE_STATIC);
	bind_json_int(s, 5, p, "lastSeen");
	sqlite3_bind_text(s, 6, json_str(p, "detail"), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, view->timestamp);
	rc = step_done(st, s, err, "cannot update the tmux sources");
out:
	json_decref(p);
	return rc;
}

/* What a lifecycle or snapshot event says about the registry and the
 * snapshots (starry-state(7)). The agent is payload.agentId, else the
 * event's source. A payload that says too little changes nothing. */
static int
project_event(struct store *st, const struct event_view *view, int64_t seq,
    struct starry_err *err)
{
	char type[EVENT_MAX_FIELD * 4 + 1], source[1024];
	const char *agent;
	sqlite3_stmt *s;
	json_t *payload;
	int rc = 0;

	if (event_str_copy(&view->type, type, sizeof type) < 0)
		return 0;
	if (strcmp(type, "TMUX:PANE_STATE") == 0)
		return project_tmux_pane(st, view, err);
	if (strcmp(type, "TMUX:SOURCE_HEALTH") == 0)
		return project_tmux_source(st, view, err);
	if (strcmp(type, "AGENT:SPAWNED") != 0 && strcmp(type, "AGENT:EXITED") != 0 &&
	    strcmp(type, "KERNEL:STATE_CHANGE") != 0 && strcmp(type, "STATE:SNAPSHOT") != 0)
		return 0;
	payload = json_loadb(view->payload, view->payload_len, JSON_DECODE_ANY, NULL);
	agent = json_str(payload, "agentId");
	if (agent == NULL || *agent == '\0') {
		if (event_str_copy(&view->source, source, sizeof source) < 0)
			goto out;
		agent = source;
	}
	if (strcmp(type, "STATE:SNAPSHOT") == 0) {
		rc = snapshot_insert(st, agent, view->payload, view->payload_len, seq,
		    view->timestamp, STORE_SNAPSHOT_KEEP, NULL, err);
		goto out;
	}
	if (strcmp(type, "AGENT:SPAWNED") == 0) {
		s = st->stmt[S_AGENT_SPAWNED];
		sqlite3_bind_text(s, 2, json_str(payload, "template"), -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, json_str(payload, "driver"), -1, SQLITE_STATIC);
		bind_json_int(s, 4, payload, "pid");
		sqlite3_bind_int64(s, 5, view->timestamp);
		bind_json_int(s, 6, payload, "restarts");
		bind_event_str(s, 7, &view->trace_id);
	} else if (strcmp(type, "AGENT:EXITED") == 0) {
		s = st->stmt[S_AGENT_EXITED];
		sqlite3_bind_int64(s, 2, view->timestamp);
		bind_json_int(s, 3, payload, "status");
		bind_event_str(s, 4, &view->trace_id);
	} else {
		const char *to = json_str(payload, "to");

		if (to == NULL || *to == '\0')
			goto out;
		s = st->stmt[S_AGENT_STATE];
		sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
		bind_event_str(s, 3, &view->trace_id);
		sqlite3_bind_int64(s, 4, view->timestamp);
	}
	sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	rc = step_done(st, s, err, "cannot update the agent registry");
out:
	json_decref(payload);
	return rc;
}

int
store_append(struct store *st, const char *line, size_t len,
    const struct event_view *view, int64_t *seq, struct starry_err *err)
{
	sqlite3_stmt *s = st->stmt[S_INSERT_EVENT];
	int rc;

	if (bind_event_str(s, 1, &view->id) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 2, view->timestamp) != SQLITE_OK ||
	    bind_event_str(s, 3, &view->trace_id) != SQLITE_OK ||
	    bind_event_str(s, 4, view->has_parent ? &view->parent_id :
	    &(struct event_str){0}) != SQLITE_OK ||
	    bind_event_str(s, 5, &view->source) != SQLITE_OK ||
	    bind_event_str(s, 6, &view->session_id) != SQLITE_OK ||
	    sqlite3_bind_int(s, 7, view->priority) != SQLITE_OK ||
	    bind_event_str(s, 8, &view->type) != SQLITE_OK ||
	    sqlite3_bind_text(s, 9, line, len, SQLITE_STATIC) != SQLITE_OK) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		return db_fail(st, err, "cannot store an event");
	}
	if (step_done(st, s, err, "cannot store an event") < 0)
		return -1;
	if (sqlite3_changes(st->db) == 0)
		return 0;
	*seq = sqlite3_last_insert_rowid(st->db);
	rc = project_event(st, view, *seq, err);
	return rc < 0 ? -1 : 1;
}

static const char *
column_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static void
read_event(sqlite3_stmt *s, struct store_event *ev)
{
	ev->seq = sqlite3_column_int64(s, 0);
	ev->id = column_text(s, 1);
	ev->timestamp = sqlite3_column_int64(s, 2);
	ev->trace_id = column_text(s, 3);
	ev->parent_id = column_text(s, 4);
	ev->source = column_text(s, 5);
	ev->session_id = column_text(s, 6);
	ev->priority = sqlite3_column_int(s, 7);
	ev->type = column_text(s, 8);
	ev->line = column_text(s, 9);
	ev->len = sqlite3_column_bytes(s, 9);
}

/* Step s to its end, handing each row to fn as an event. */
static int
each_event(struct store *st, sqlite3_stmt *s, store_event_fn fn, void *ctx,
    struct starry_err *err)
{
	struct store_event ev;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_event(s, &ev);
		if (fn(ctx, &ev) < 0) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot read events");
	return 0;
}

int
store_query(struct store *st, const struct store_filter *f, store_event_fn fn,
    void *ctx, struct starry_err *err)
{
	char sql[1024] = "SELECT seq, id, timestamp, trace_id, parent_id, source,"
	    " session_id, priority, type, line FROM events WHERE 1";
	sqlite3_stmt *s;
	int n = 0;

#define WHERE(cond) strcat(sql, " AND " cond)
	if (f->type)
		WHERE("type GLOB ?");
	if (f->source)
		WHERE("source = ?");
	if (f->session)
		WHERE("session_id = ?");
	if (f->trace)
		WHERE("trace_id = ?");
	if (f->since_seq)
		WHERE("seq >= ?");
	if (f->until_seq)
		WHERE("seq <= ?");
	if (f->since_ms)
		WHERE("timestamp >= ?");
	if (f->until_ms)
		WHERE("timestamp <= ?");
#undef WHERE
	if (f->limit && f->newest) {
		/* The newest rows, still printed oldest first. */
		static const char outer[] = "SELECT * FROM (";

		memmove(sql + strlen(outer), sql, strlen(sql) + 1);
		memcpy(sql, outer, strlen(outer));
		strcat(sql, " ORDER BY seq DESC LIMIT ?) ORDER BY seq");
	} else {
		strcat(sql, " ORDER BY seq");
		if (f->limit)
			strcat(sql, " LIMIT ?");
	}
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot query events");
	if (f->type)
		sqlite3_bind_text(s, ++n, f->type, -1, SQLITE_STATIC);
	if (f->source)
		sqlite3_bind_text(s, ++n, f->source, -1, SQLITE_STATIC);
	if (f->session)
		sqlite3_bind_text(s, ++n, f->session, -1, SQLITE_STATIC);
	if (f->trace)
		sqlite3_bind_text(s, ++n, f->trace, -1, SQLITE_STATIC);
	if (f->since_seq)
		sqlite3_bind_int64(s, ++n, f->since_seq);
	if (f->until_seq)
		sqlite3_bind_int64(s, ++n, f->until_seq);
	if (f->since_ms)
		sqlite3_bind_int64(s, ++n, f->since_ms);
	if (f->until_ms)
		sqlite3_bind_int64(s, ++n, f->until_ms);
	if (f->limit)
		sqlite3_bind_int64(s, ++n, f->limit);
	return each_event(st, s, fn, ctx, err);
}

/* One integer from a query with up to one integer parameter. */
static int
query_int(struct store *st, const char *sql, int64_t arg, int64_t *out,
    struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot query");
	if (sqlite3_bind_parameter_count(s) > 0)
		sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_fail(st, err, "cannot query");
	return 0;
}

/* Run a statement with one integer parameter and no rows. */
static int
exec_int(struct store *st, const char *sql, int64_t arg, struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot update the database");
	sqlite3_bind_int64(s, 1, arg);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot update the database");
	return 0;
}

int
store_last_seq(struct store *st, int64_t *seq, struct starry_err *err)
{
	return query_int(st, "SELECT COALESCE(MAX(seq), 0) FROM events", 0, seq, err);
}

int
store_seq_before_time(struct store *st, int64_t ms, int64_t *seq,
    struct starry_err *err)
{
	return query_int(st, "SELECT COALESCE(MAX(seq), 0) FROM events"
	    " WHERE timestamp < ?", ms, seq, err);
}

int
store_count_types(struct store *st, int64_t since_ms, store_count_fn fn,
    void *ctx, struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT type, COUNT(*) AS n FROM events"
	    " WHERE timestamp >= ? GROUP BY type ORDER BY n DESC, type", -1, &s,
	    NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot count events");
	sqlite3_bind_int64(s, 1, since_ms);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(ctx, column_text(s, 0), sqlite3_column_int64(s, 1)) < 0) {
			sqlite3_finalize(s);
			return -1;
		}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot count events");
	return 0;
}

int
store_prune(struct store *st, int64_t *through, int64_t *deleted,
    struct starry_err *err)
{
	int64_t needed;

	if (store_begin(st, err) < 0)
		return -1;
	/* The lowest cursor still needs everything after its position. */
	if (query_int(st, "SELECT COALESCE(MIN(seq), ?1) FROM cursors", *through,
	    &needed, err) < 0)
		goto fail;
	if (needed < *through)
		*through = needed;
	if (query_int(st, "SELECT COUNT(*) FROM events WHERE seq <= ?", *through,
	    deleted, err) < 0)
		goto fail;
	if (*deleted > 0 && exec_int(st, "DELETE FROM events WHERE seq <= ?",
	    *through, err) < 0)
		goto fail;
	return store_commit(st, err);
fail:
	store_rollback(st);
	return -1;
}

int
store_vacuum(struct store *st, struct starry_err *err)
{
	if (exec(st, "VACUUM", err) < 0 ||
	    exec(st, "PRAGMA wal_checkpoint(TRUNCATE)", err) < 0)
		return -1;
	return 0;
}

/* ---- snapshots ---- */

int
store_snapshot_save(struct store *st, const char *agent, const char *data,
    size_t len, int64_t created_ms, unsigned keep, int64_t *version,
    struct starry_err *err)
{
	int64_t seq;

	if (store_last_seq(st, &seq, err) < 0)
		return -1;
	return snapshot_insert(st, agent, data, len, seq, created_ms, keep, version,
	    err);
}

/* Step s to its end, handing each row to fn as a snapshot. Returns the
 * number of rows, or -1. */
static int
each_snapshot(struct store *st, sqlite3_stmt *s, store_snapshot_fn fn,
    void *ctx, struct starry_err *err)
{
	struct store_snapshot snap;
	int rc, rows = 0;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		snap.agent = column_text(s, 0);
		snap.version = sqlite3_column_int64(s, 1);
		snap.seq = sqlite3_column_int64(s, 2);
		snap.created_ms = sqlite3_column_int64(s, 3);
		snap.data = column_text(s, 4);
		snap.len = sqlite3_column_bytes(s, 4);
		rows++;
		if (fn(ctx, &snap) < 0) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot read snapshots");
	return rows;
}

int
store_snapshot_load(struct store *st, const char *agent, int64_t at_seq,
    store_snapshot_fn fn, void *ctx, struct starry_err *err)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "SELECT agent, version, seq, created, data"
	    " FROM snapshots WHERE agent = ?1 AND (?2 = 0 OR seq <= ?2)"
	    " ORDER BY version DESC LIMIT 1", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read snapshots");
	sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, at_seq);
	return each_snapshot(st, s, fn, ctx, err);
}

int
store_snapshot_list(struct store *st, const char *agent, store_snapshot_fn fn,
    void *ctx, struct starry_err *err)
{
	sqlite3_stmt *s;
	int n;

	if (sqlite3_prepare_v2(st->db, "SELECT agent, version, seq, created, data"
	    " FROM snapshots WHERE ?1 IS NULL OR agent = ?1 ORDER BY agent, version",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read snapshots");
	sqlite3_bind_text(s, 1, agent, -1, SQLITE_STATIC);
	n = each_snapshot(st, s, fn, ctx, err);
	return n < 0 ? -1 : 0;
}

/* ---- cursors ---- */

int
store_cursor_get(struct store *st, const char *consumer, int64_t *seq,
    struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT seq FROM cursors WHERE consumer = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read the cursor");
	sqlite3_bind_text(s, 1, consumer, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, err, "cannot read the cursor");
}

int
store_cursor_commit(struct store *st, const char *consumer, int64_t seq,
    struct starry_err *err)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "INSERT INTO cursors (consumer, seq, updated)"
	    " VALUES (?1, ?2, ?3) ON CONFLICT (consumer) DO UPDATE SET seq = ?2,"
	    " updated = ?3", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot commit the cursor");
	sqlite3_bind_text(s, 1, consumer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, event_now_ms());
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_fail(st, err, "cannot commit the cursor");
	}
	sqlite3_finalize(s);
	return 0;
}

int
store_cursor_delete(struct store *st, const char *consumer, struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM cursors WHERE consumer = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot delete the cursor");
	sqlite3_bind_text(s, 1, consumer, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot delete the cursor");
	return sqlite3_changes(st->db) > 0;
}

int
store_cursor_list(struct store *st, store_cursor_fn fn, void *ctx,
    struct starry_err *err)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT consumer, seq, updated FROM cursors"
	    " ORDER BY consumer", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read the cursors");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (fn(ctx, column_text(s, 0), sqlite3_column_int64(s, 1),
		    sqlite3_column_int64(s, 2)) < 0) {
			sqlite3_finalize(s);
			return -1;
		}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot read the cursors");
	return 0;
}

/* ---- the agent registry ---- */

static void
bind_opt_int(sqlite3_stmt *s, int i, int64_t v, int64_t none)
{
	if (v == none)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_int64(s, i, v);
}

int
store_agent_put(struct store *st, const struct store_agent *a,
    struct starry_err *err)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO agents (id, template,"
	    " driver, pid, state, started, exited, exit_status, restarts, trace_id,"
	    " updated) VALUES (?,?,?,?,?,?,?,?,?,?,?)", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot update the agent registry");
	sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, a->template, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, a->driver, -1, SQLITE_STATIC);
	bind_opt_int(s, 4, a->pid, 0);
	sqlite3_bind_text(s, 5, a->state, -1, SQLITE_STATIC);
	bind_opt_int(s, 6, a->started_ms, 0);
	bind_opt_int(s, 7, a->exited_ms, 0);
	bind_opt_int(s, 8, a->exit_status, -1);
	sqlite3_bind_int64(s, 9, a->restarts);
	sqlite3_bind_text(s, 10, a->trace_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, a->updated_ms ? a->updated_ms : event_now_ms());
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_finalize(s);
		return db_fail(st, err, "cannot update the agent registry");
	}
	sqlite3_finalize(s);
	return 0;
}

static int64_t
column_opt_int(sqlite3_stmt *s, int i, int64_t none)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? none :
	    sqlite3_column_int64(s, i);
}

int
store_agent_list(struct store *st, store_agent_fn fn, void *ctx,
    struct starry_err *err)
{
	struct store_agent a;
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT id, template, driver, pid, state,"
	    " started, exited, exit_status, restarts, trace_id, updated FROM agents"
	    " ORDER BY id", -1, &s, NULL) != SQLITE_OK)
		return db_fail(st, err, "cannot read the agent registry");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a.id = column_text(s, 0);
		a.template = column_text(s, 1);
		a.driver = column_text(s, 2);
		a.pid = column_opt_int(s, 3, 0);
		a.state = column_text(s, 4);
		a.started_ms = column_opt_int(s, 5, 0);
		a.exited_ms = column_opt_int(s, 6, 0);
		a.exit_status = column_opt_int(s, 7, -1);
		a.restarts = sqlite3_column_int64(s, 8);
		a.trace_id = column_text(s, 9);
		a.updated_ms = sqlite3_column_int64(s, 10);
		if (fn(ctx, &a) < 0) {
			sqlite3_finalize(s);
			return -1;
		}
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return db_fail(st, err, "cannot read the agent registry");
	return 0;
}

bool
store_agent_state_is_live(const char *state)
{
	return state != NULL && (strcmp(state, "starting") == 0 ||
	    strcmp(state, "running") == 0 || strcmp(state, "stopping") == 0);
}
