-- The queue claims in batches, fenced by a lease token, round-robin across lanes (tenants);
-- see src/jobs/mod.rs. Everything stays compatible with the previous release's workers.

-- Both new keys are derived from the task's own JSON by PostgreSQL, so every writer (this
-- release, the previous one, plain SQL) fills them the same way: an execution task carries
-- its execution id, and its lane (the tenant) since this release; a task without a lane
-- shares the nil lane.
alter table fang_tasks
    add column execution_id uuid
        generated always as ((metadata ->> 'execution_id')::uuid) stored,
    add column lane_id uuid not null
        generated always as (coalesce((metadata ->> 'lane_id')::uuid,
                                      '00000000-0000-0000-0000-000000000000'::uuid)) stored,
    -- Set by each claim; every later update of the task (heartbeat, finish, release) must
    -- present it, so a worker that lost its lease can no longer write anything.
    add column lease_token uuid;

-- Per lane, the oldest runnable task first: the claim walks the lanes with this index.
create index fang_tasks_lane_claim_order on fang_tasks (task_type, lane_id, scheduled_at, created_at)
    where state in ('new', 'retried');

-- The reaper finds an execution's task by its id.
create index fang_tasks_execution_id_idx on fang_tasks (execution_id);

-- The FIFO claim order and the JSON expression index are replaced above; each cost every
-- enqueue one more index entry. A previous release's worker still works without them.
drop index fang_tasks_claim_order;
drop index fang_tasks_execution_idx;
