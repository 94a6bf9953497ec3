-- Providers of any API format (issue 11): what a provider speaks, how its key
-- is sent, its model map, and its key pool.
--   format            anthropic | openai-chat | openai-responses | gemini;
--                     NULL: the app's own format (rows from before this migration)
--   auth_style        x-api-key | bearer | goog-api-key; NULL: the format's usual one
--   model_map         rules, one per line (`claude-sonnet-*=deepseek-chat`), first match wins
--   max_output_tokens a cap on what clients ask for; NULL: none
--   preset            the preset the provider was added from, if any
--   keys              with auth = 'pool': a JSON list of keys, each {"env": VAR} or
--                     {"stored": KEY}, tried in order (a key answered 429 rests)
ALTER TABLE providers ADD COLUMN format TEXT;
ALTER TABLE providers ADD COLUMN auth_style TEXT;
ALTER TABLE providers ADD COLUMN model_map TEXT;
ALTER TABLE providers ADD COLUMN max_output_tokens INTEGER;
ALTER TABLE providers ADD COLUMN preset TEXT;
ALTER TABLE providers ADD COLUMN keys TEXT;
