-- Switchyard schema, version 4: one row per finished proxied request (the
-- history behind `switchyard requests` and `switchyard usage`). Unknown
-- values are NULL, never 0. Pruned by age in small batches.

CREATE TABLE requests (
    id                    INTEGER PRIMARY KEY,
    -- When the request arrived, unix ms.
    time_ms               INTEGER NOT NULL,
    app                   TEXT NOT NULL,
    provider              TEXT,
    route                 TEXT,
    method                TEXT NOT NULL,
    -- Without the query string.
    path                  TEXT NOT NULL,
    model                 TEXT,
    mapped_model          TEXT,
    -- NULL: the client left before any response.
    status                INTEGER,
    -- ok | error | failed | aborted | cut
    outcome               TEXT NOT NULL,
    latency_ms            INTEGER NOT NULL,
    ttfb_ms               INTEGER,
    bytes_in              INTEGER NOT NULL,
    bytes_out             INTEGER NOT NULL,
    -- JSON array of {"provider", "reason"}; NULL when there were none.
    failovers             TEXT,
    input_tokens          INTEGER,
    output_tokens         INTEGER,
    cache_read_tokens     INTEGER,
    cache_write_tokens    INTEGER,
    cache_write_1h_tokens INTEGER,
    reasoning_tokens      INTEGER,
    cost_nano_usd         INTEGER,
    error                 TEXT
);
-- `requests --since`, `usage --since` and pruning walk time ranges;
-- `requests --app` walks one app's.
CREATE INDEX requests_time ON requests (time_ms);
CREATE INDEX requests_app_time ON requests (app, time_ms);
