-- The webhook route's bookkeeping: raw bodies for the runner, delivery ids for idempotency,
-- and indexes for the reaper and the sweeper.

-- The exact bytes that were signed: `payload` (jsonb) normalizes whitespace and key order.
alter table agent_executions add column raw_body bytea;

-- A delivery id seen for an agent maps to its execution for 24 hours. The primary key
-- makes concurrent duplicates wait for the first one instead of racing it.
create table webhook_deliveries (
    agent_id uuid not null references agents (id) on delete cascade,
    delivery_id text not null,
    execution_id uuid not null,
    received_at timestamptz not null default now(),
    primary key (agent_id, delivery_id)
);
create index webhook_deliveries_received_idx on webhook_deliveries (received_at);

create index agent_executions_unfinished_idx on agent_executions (status, created_at)
    where status in ('queued', 'running');

-- Finds the task of an execution (the reaper and sweeper look tasks up this way).
create index fang_tasks_execution_idx on fang_tasks ((metadata ->> 'execution_id'));
