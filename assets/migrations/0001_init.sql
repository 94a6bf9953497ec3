-- Switchyard schema, version 1. Applied once, inside a transaction, by the store.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Desired state per app: what the daemon brings back on start.
CREATE TABLE apps (
    app             TEXT PRIMARY KEY,
    enabled         INTEGER NOT NULL DEFAULT 0,
    port            INTEGER NOT NULL,
    takeover        INTEGER NOT NULL DEFAULT 0,
    active_provider TEXT,
    -- Supervision overrides as JSON; NULL means the defaults.
    policy          TEXT
);

CREATE TABLE providers (
    app       TEXT NOT NULL REFERENCES apps(app),
    name      TEXT NOT NULL,
    base_url  TEXT NOT NULL,
    -- 'passthrough', 'env' (key_env names the variable) or 'stored' (key holds it).
    auth      TEXT NOT NULL,
    key_env   TEXT,
    key       TEXT,
    priority  INTEGER NOT NULL DEFAULT 0,
    enabled   INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (app, name)
);

-- One row per worker run.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    app           TEXT NOT NULL,
    epoch         INTEGER NOT NULL,
    pid           INTEGER NOT NULL,
    -- The process start time (clock ticks since boot on Linux), so a leftover pid
    -- is only ever killed when it is provably the same process.
    pid_start     INTEGER,
    started_at_ms INTEGER NOT NULL,
    ended_at_ms   INTEGER,
    exit_code     INTEGER,
    signal        INTEGER,
    reason        TEXT
);
CREATE INDEX runs_open ON runs (ended_at_ms) WHERE ended_at_ms IS NULL;

-- The event journal (bounded retention).
CREATE TABLE events (
    epoch INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    app   TEXT,
    -- The event as JSON, the same shape `switchyard events --json` prints.
    body  TEXT NOT NULL,
    PRIMARY KEY (epoch, seq)
);

INSERT INTO apps (app, port) VALUES ('claude', 15721), ('codex', 15722), ('gemini', 15723);
INSERT INTO providers (app, name, base_url, auth, priority) VALUES
    ('claude', 'anthropic', 'https://api.anthropic.com', 'passthrough', 0),
    ('codex', 'openai', 'https://api.openai.com/v1', 'passthrough', 0),
    ('gemini', 'google', 'https://generativelanguage.googleapis.com', 'passthrough', 0);
