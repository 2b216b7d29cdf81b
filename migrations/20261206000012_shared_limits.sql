-- Limits that hold across every process sharing the database (secret reveals, sign-in
-- attempts): one GCRA bucket per key, its "theoretical arrival time". A bucket whose time
-- has passed is full, so such rows carry nothing and the retention pass deletes them.
-- Unlogged: no WAL for a counter; after a crash the buckets restart full, which only gives
-- a client one more burst.
create unlogged table rate_limits (
    key text primary key,
    tat timestamptz not null
);
