-- A queue probe is a job whose only effect is to mark its row completed: it proves, end
-- to end, that what is enqueued through the app is picked up and run by a worker.
create table queue_probes (
    id uuid primary key,
    created_at timestamptz not null default now(),
    completed_at timestamptz,
    runs integer not null default 0
);
