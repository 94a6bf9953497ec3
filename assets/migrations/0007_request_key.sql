-- Which key of a provider's pool served a request: its label (`env:VAR`,
-- `stored-2`), never the key. NULL: the client's own credentials (passthrough).
ALTER TABLE requests ADD COLUMN key_label TEXT;
