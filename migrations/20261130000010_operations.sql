-- Day-to-day operations: the request log, replays, archived agents, token expiry, and the
-- indexes the retention pass deletes by.

-- Every request to an existing agent's webhook URL, accepted or refused, written in
-- batches off the request path (src/services/request_log.rs). Ids are UUIDv7, so they
-- order by time and page the log. No foreign keys: a batch of log rows must never fail
-- because of one row, and agents are archived, not deleted.
create table webhook_requests (
    id uuid primary key,
    tenant_id uuid not null,
    agent_id uuid not null,
    received_at timestamptz not null,
    status smallint not null,
    outcome text not null,
    reason text,
    delivery_id text,
    source_ip text,
    body_bytes integer not null,
    body_sha256 bytea,
    headers jsonb not null,
    execution_id uuid,
    constraint webhook_requests_outcome_check
        check (outcome in ('accepted', 'rejected', 'duplicate'))
);
create index webhook_requests_agent_idx on webhook_requests (agent_id, id desc);
create index webhook_requests_tenant_idx on webhook_requests (tenant_id, received_at);
-- Rows arrive in time order: a BRIN index finds the old ones for a few pages of index.
-- The request that queued an execution (the execution page).
create index webhook_requests_execution_idx on webhook_requests (execution_id)
    where execution_id is not null;
create index webhook_requests_received_brin on webhook_requests using brin (received_at);

-- Replays: the execution a replay copied its payload from.
alter table agent_executions add column replay_of uuid;
-- A bulk replay skips executions replayed already.
create index agent_executions_replay_of_idx on agent_executions (replay_of)
    where replay_of is not null;
-- Failed attempts, for the execution's timeline: [{attempt, started_at, failed_at, error}].
alter table agent_executions add column attempt_log jsonb not null default '[]';
create index agent_executions_created_brin on agent_executions using brin (created_at);
create index agent_executions_delivery_idx on agent_executions (agent_id, delivery_id)
    where delivery_id is not null;

create index audit_log_at_brin on audit_log using brin (at);

-- Deleting an agent archives it: its history stays, its webhook URL answers 404.
alter table agents drop constraint agents_status_check;
alter table agents add constraint agents_status_check
    check (status in ('draft', 'active', 'suspended', 'inactive', 'archived'));
alter table agents add column archived_at timestamptz;

alter table api_tokens add column expires_at timestamptz;
