-- A starry-state database at schema version 1, as a build with only the
-- first migration of lib/store.c left it: the event log, snapshots and
-- cursors, and a little of each. state.bats loads it with sqlite3 and
-- checks that its schema is migration 1's, word for word.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  timestamp INTEGER NOT NULL,
  trace_id TEXT NOT NULL,
  parent_id TEXT,
  source TEXT NOT NULL,
  session_id TEXT NOT NULL,
  priority INTEGER NOT NULL,
  type TEXT NOT NULL,
  line TEXT NOT NULL);
CREATE INDEX events_by_trace ON events (trace_id);
CREATE INDEX events_by_time ON events (timestamp);
CREATE TABLE snapshots (
  agent TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  created INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (agent, version));
CREATE TABLE cursors (
  consumer TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  updated INTEGER NOT NULL);

INSERT INTO events (seq, id, timestamp, trace_id, parent_id, source, session_id, priority, type, line) VALUES
  (1, '00000001-0000-4000-8000-000000000001', 1700000000000, 'trace-v1', NULL, 'test', 'default', 3, 'test:from-v1',
   '{"id":"00000001-0000-4000-8000-000000000001","timestamp":1700000000000,"traceId":"trace-v1","source":"test","sessionId":"default","priority":3,"type":"test:from-v1","payload":{"n":1}}'),
  (2, '00000002-0000-4000-8000-000000000002', 1700000001000, 'trace-v1', '00000001-0000-4000-8000-000000000001', 'test', 'default', 3, 'test:from-v1',
   '{"id":"00000002-0000-4000-8000-000000000002","timestamp":1700000001000,"traceId":"trace-v1","source":"test","sessionId":"default","priority":3,"type":"test:from-v1","parentId":"00000001-0000-4000-8000-000000000001","payload":{"n":2}}');
INSERT INTO snapshots (agent, version, seq, created, data) VALUES
  ('agent-v1', 1, 2, 1700000002000, '{"step":1}');
INSERT INTO cursors (consumer, seq, updated) VALUES
  ('reader-v1', 1, 1700000003000);

PRAGMA user_version = 1;
