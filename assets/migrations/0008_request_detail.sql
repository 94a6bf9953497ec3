-- The inspector's detail: the proxy's own time before the first upstream
-- request (ms; NULL if none was sent), and the headers of the request and of
-- its response as `name: value` lines, secrets masked, at most 4 KiB each.
-- Read one row at a time (`RequestDetail`), never by `requests` pages.
ALTER TABLE requests ADD COLUMN queue_ms INTEGER;
ALTER TABLE requests ADD COLUMN request_headers TEXT;
ALTER TABLE requests ADD COLUMN response_headers TEXT;
