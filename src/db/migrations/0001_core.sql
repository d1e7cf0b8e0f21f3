-- The core schema: tenants, people, credentials, workflows, runs and their steps.
-- Conventions (docs/schema.md): every tenant row carries organization_id; times are timestamptz;
-- durations are integer milliseconds; amounts in wei are numeric(78,0); step output is jsonb, stored once.
set lock_timeout = '5s';
set statement_timeout = '60s';

create table organizations (
  id uuid primary key default gen_random_uuid(),
  slug text not null,
  name text not null,
  created_at timestamptz not null default now(),
  deactivated_at timestamptz,
  constraint organizations_slug_key unique (slug),
  constraint organizations_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);

create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  display_name text,
  password_hash text,
  created_at timestamptz not null default now(),
  deactivated_at timestamptz
);

create unique index users_email_key on users (lower(email));

create table memberships (
  organization_id uuid not null references organizations (id),
  user_id uuid not null references users (id),
  role text not null,
  created_at timestamptz not null default now(),
  primary key (organization_id, user_id),
  constraint memberships_role check (role in ('owner', 'admin', 'editor', 'viewer'))
);

create index memberships_user_idx on memberships (user_id);

-- A session token is shown to its browser once; only its SHA-256 is kept.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  user_id uuid not null references users (id),
  token_hash bytea not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  last_seen_at timestamptz,
  client_ip inet,
  user_agent text,
  constraint sessions_token_hash_key unique (token_hash)
);

create index sessions_user_idx on sessions (user_id);

-- An API key is `vgl_<prefix>_<secret>`: the prefix identifies it in lists and logs, the whole key is
-- shown once at creation, and only its SHA-256 is kept.
create table api_keys (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  created_by_user_id uuid references users (id),
  name text not null,
  prefix text not null,
  key_hash bytea not null,
  scopes text [] not null default '{}',
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  constraint api_keys_prefix_key unique (prefix),
  constraint api_keys_key_hash_key unique (key_hash)
);

create index api_keys_organization_idx on api_keys (organization_id, created_at);

create table workflows (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  name text not null,
  description text,
  definition jsonb not null,
  version bigint not null default 1,
  enabled boolean not null default true,
  created_by_user_id uuid references users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  constraint workflows_version_positive check (version > 0)
);

create index workflows_organization_idx on workflows (organization_id, created_at desc, id desc)
where deleted_at is null;

-- One row per run. The run is the unit of attribution (who or what started it, from where) and of
-- exactly-once dispatch: a trigger firing carries a dispatch key, unique within its organization.
create table workflow_executions (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references organizations (id),
  workflow_id uuid not null references workflows (id),
  workflow_version bigint not null,
  status text not null,
  trigger_type text not null,
  trigger_source text,
  api_key_id uuid references api_keys (id),
  user_id uuid references users (id),
  client_ip inet,
  client_country text,
  dispatch_key text,
  input jsonb,
  output jsonb,
  error_code text,
  error_message text,
  queued_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  duration_ms bigint,
  transaction_hashes text [] not null default '{}',
  constraint workflow_executions_status check (
    status in ('queued', 'running', 'success', 'error', 'cancelled', 'skipped')
  ),
  constraint workflow_executions_dispatch_key unique (organization_id, dispatch_key)
);

create index workflow_executions_org_time_idx
on workflow_executions (organization_id, queued_at desc, id desc);

create index workflow_executions_workflow_time_idx
on workflow_executions (organization_id, workflow_id, queued_at desc, id desc);

-- One row per step of a run.
create table workflow_execution_logs (
  id bigint generated always as identity primary key,
  organization_id uuid not null references organizations (id),
  execution_id uuid not null references workflow_executions (id) on delete cascade,
  node_id text not null,
  node_type text not null,
  status text not null,
  input jsonb,
  output jsonb,
  error_code text,
  error_message text,
  attempt bigint not null default 1,
  started_at timestamptz,
  completed_at timestamptz,
  duration_ms bigint,
  constraint workflow_execution_logs_status check (
    status in ('queued', 'running', 'success', 'error', 'cancelled', 'skipped')
  ),
  constraint workflow_execution_logs_step_key unique (execution_id, node_id)
);
