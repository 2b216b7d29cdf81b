-- fang 0.11's own table (copied from its diesel migration, which sqlx cannot run).
-- Differences: ids default to the built-in gen_random_uuid() instead of needing the
-- uuid-ossp extension, and one index serves the workers' "next runnable task" query.
create type fang_task_state as enum ('new', 'in_progress', 'failed', 'finished', 'retried');

create table fang_tasks (
    id uuid primary key default gen_random_uuid(),
    metadata jsonb not null,
    error_message text,
    state fang_task_state default 'new' not null,
    task_type text default 'common' not null,
    uniq_hash text,
    retries integer default 0 not null,
    scheduled_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create index fang_tasks_state_index on fang_tasks (state);
create index fang_tasks_type_index on fang_tasks (task_type);
create index fang_tasks_scheduled_at_index on fang_tasks (scheduled_at);
create index fang_tasks_uniq_hash on fang_tasks (uniq_hash);
create index fang_tasks_runnable on fang_tasks (task_type, scheduled_at)
    where state in ('new', 'retried');
