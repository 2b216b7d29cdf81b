-- Tenants, administrators, agents and their webhook triggers, executions and the audit log.

create table tenants (
    id uuid primary key,
    slug text not null,
    name text not null,
    -- The tenant's Fernet key, itself a Fernet token under the master key.
    sealed_key text not null,
    created_at timestamptz not null default now(),
    constraint tenants_slug_key unique (slug),
    constraint tenants_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

create table users (
    id uuid primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    email text not null,
    password_hash text not null,
    created_at timestamptz not null default now(),
    constraint users_email_key unique (email),
    constraint users_email_lowercase check (email = lower(email))
);
create index users_tenant_idx on users (tenant_id);

-- Browser sessions; only a hash of the cookie value is stored.
create table sessions (
    token_hash text primary key,
    user_id uuid not null references users (id) on delete cascade,
    tenant_id uuid not null references tenants (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index sessions_user_idx on sessions (user_id);
create index sessions_expiry_idx on sessions (expires_at);

-- API tokens for scripts and CI; shown once, stored as a hash.
create table api_tokens (
    id uuid primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    name text not null,
    token_hash text not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    constraint api_tokens_token_hash_key unique (token_hash)
);
create index api_tokens_tenant_idx on api_tokens (tenant_id);

create table agents (
    id uuid primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    name text not null,
    description text not null default '',
    status text not null,
    system_prompt text not null default '',
    -- null = no limit
    rate_limit_per_minute integer,
    require_timestamp boolean not null default false,
    -- A draft has no trigger yet: its payload schema waits here until the trigger exists.
    draft_payload_schema jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint agents_status_check check (status in ('draft', 'active', 'suspended', 'inactive')),
    constraint agents_rate_limit_check
        check (rate_limit_per_minute is null or rate_limit_per_minute between 1 and 1000000)
);
create index agents_tenant_idx on agents (tenant_id, created_at desc);

create table agent_triggers (
    id uuid primary key,
    agent_id uuid not null references agents (id) on delete cascade,
    trigger_type text not null default 'webhook',
    webhook_url text not null,
    -- Fernet tokens under the tenant key; never the secret in clear.
    hmac_secret text not null,
    previous_hmac_secret text,
    previous_secret_expires_at timestamptz,
    payload_schema jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint agent_triggers_type_check check (trigger_type = 'webhook'),
    constraint agent_triggers_agent_type_key unique (agent_id, trigger_type),
    constraint agent_triggers_previous_check
        check ((previous_hmac_secret is null) = (previous_secret_expires_at is null))
);

create table agent_executions (
    id uuid primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    agent_id uuid not null references agents (id) on delete cascade,
    status text not null default 'queued',
    payload jsonb not null,
    delivery_id text,
    result jsonb,
    error text,
    attempts integer not null default 0,
    created_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    constraint agent_executions_status_check
        check (status in ('queued', 'running', 'completed', 'failed'))
);
create index agent_executions_agent_idx on agent_executions (agent_id, created_at desc);
create index agent_executions_tenant_idx on agent_executions (tenant_id, created_at desc);

create table audit_log (
    id bigint generated always as identity primary key,
    tenant_id uuid not null references tenants (id) on delete cascade,
    -- 'user:<uuid>', 'token:<uuid>' or 'webhook'
    actor text not null,
    action text not null,
    agent_id uuid references agents (id) on delete set null,
    outcome text not null,
    source_ip text,
    at timestamptz not null default now(),
    details jsonb not null default '{}'
);
create index audit_log_tenant_idx on audit_log (tenant_id, id desc);
create index audit_log_agent_idx on audit_log (agent_id, id desc);
