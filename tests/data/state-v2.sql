-- Applied over state-v1.sql: what migration 2 of lib/store.c added, word
-- for word, with a little in the tmux tables, at schema version 2.
-- state.bats checks that migration 3 keeps it.
CREATE TABLE agents (
  id TEXT PRIMARY KEY,
  template TEXT,
  driver TEXT,
  pid INTEGER,
  state TEXT NOT NULL,
  started INTEGER,
  exited INTEGER,
  exit_status INTEGER,
  restarts INTEGER NOT NULL DEFAULT 0,
  trace_id TEXT,
  updated INTEGER NOT NULL);
CREATE TABLE tmux_panes (
  server TEXT NOT NULL,
  pane_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  session TEXT,
  window TEXT,
  agent TEXT,
  presence TEXT,
  evidence TEXT,
  state TEXT,
  attention TEXT,
  title TEXT,
  since INTEGER,
  confidence REAL,
  reason TEXT,
  updated INTEGER NOT NULL,
  tombstoned INTEGER,
  PRIMARY KEY (server, pane_id, generation));
CREATE TABLE tmux_sessions (
  server TEXT NOT NULL,
  session TEXT NOT NULL,
  state TEXT,
  panes INTEGER NOT NULL DEFAULT 0,
  attention INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL,
  PRIMARY KEY (server, session));
CREATE TABLE tmux_bindings (
  server TEXT NOT NULL,
  pane_id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  agent_session TEXT NOT NULL,
  agent TEXT,
  bound INTEGER NOT NULL,
  PRIMARY KEY (server, pane_id, generation, agent_session));
CREATE TABLE tmux_sources (
  source TEXT PRIMARY KEY,
  kind TEXT,
  last_seen INTEGER,
  healthy INTEGER,
  detail TEXT);

INSERT INTO tmux_panes (server, pane_id, generation, session, agent, state, updated) VALUES
  ('/tmp/tmux-test', '%1', 1, 'work', 'claude', 'idle', 1700000004000);
INSERT INTO tmux_bindings (server, pane_id, generation, agent_session, agent, bound) VALUES
  ('/tmp/tmux-test', '%1', 1, 'sess-v2', 'claude', 1700000004000);

PRAGMA user_version = 2;
