-- A delivery id is bound to the body it first came with: the same id with another body is
-- refused (409) instead of answered with the first execution, so a replayed signature under
-- a sender's next id cannot make that real delivery vanish. Rows from before this column
-- have no hash and keep answering as duplicates until they age out (24 hours).
alter table webhook_deliveries add column body_sha256 bytea;
