-- Switchyard schema, version 2: takeover records, one per app whose CLI
-- configuration file Switchyard has pointed at its proxy.

CREATE TABLE takeover (
    app           TEXT PRIMARY KEY REFERENCES apps(app),
    -- The file, as raw OS bytes (a home directory need not be valid UTF-8).
    path          BLOB NOT NULL,
    -- The file's bytes before Switchyard's first change; NULL: it did not exist.
    original      BLOB,
    -- The bytes Switchyard last wrote.
    written       BLOB NOT NULL,
    -- The previous values of the keys Switchyard owns in that file, as JSON.
    previous      TEXT NOT NULL,
    -- 1 while every difference between `original` and `written` is Switchyard's
    -- own: disable may then put `original` back byte for byte.
    clean         INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
