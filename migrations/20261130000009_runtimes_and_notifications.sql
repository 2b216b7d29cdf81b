-- Agent runtimes (what an execution does) and failure notifications.

-- The runtime's settings without credentials, e.g. {"kind": "http", "url": "https://…",
-- "timeout_seconds": 30}; null = the built-in runner.
alter table agents add column runtime jsonb;
-- Fernet tokens under the tenant key, never the values in clear: the OpenAI-compatible
-- API key, and the secret the http runtime signs its requests with (Standard Webhooks).
-- Agents made before this migration get their runtime secret on first use.
alter table agents add column runtime_api_key text;
alter table agents add column runtime_secret text;

-- Where the tenant's failure notifications go, and the secret that signs them (sealed).
alter table tenants add column notification_url text;
alter table tenants add column notification_secret text;

-- Every notification event, delivered by a queue task (`DeliverNotification`).
create table notifications (
    id uuid primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    agent_id uuid references agents (id) on delete set null,
    event text not null,
    -- The exact JSON delivered: {"type": …, "timestamp": …, "data": {…}}.
    payload jsonb not null,
    status text not null default 'queued',
    attempts integer not null default 0,
    last_error text,
    response_status integer,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    constraint notifications_status_check check (status in ('queued', 'delivered', 'failed'))
);
create index notifications_tenant_idx on notifications (tenant_id, created_at desc);
-- "At most one signature-failure event per agent per window" looks here.
create index notifications_agent_event_idx on notifications (agent_id, event, created_at desc);
