-- Switchyard schema, version 3: the journal is trimmed by age without a scan
-- of the whole table (it holds up to 50,000 events).

CREATE INDEX events_at ON events (at_ms);
