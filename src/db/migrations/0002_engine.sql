-- The run engine: workflow versions, webhook tokens, the run as its own queue entry (lease, cancellation),
-- and the organization a fresh database starts with.
set lock_timeout = '5s';
set statement_timeout = '60s';

-- Every saved definition, kept: a run names the version it executed, and that version never changes.
create table workflow_versions (
  workflow_id uuid not null references workflows (id),
  version bigint not null,
  organization_id uuid not null references organizations (id),
  definition jsonb not null,
  created_by_user_id uuid references users (id),
  created_at timestamptz not null default now(),
  primary key (workflow_id, version)
);

-- The unguessable path segment of POST /hooks/<token>; set when the trigger is a webhook.
alter table workflows add column webhook_token text;

-- The run row is its own job. A worker claims a run by writing its lease; a run whose lease expired is
-- claimed again and resumed after its last committed step. lease_epoch grows with every claim, so a worker
-- that lost its lease cannot finalize the run.
alter table workflow_executions add column lease_owner text;
alter table workflow_executions add column lease_expires_at timestamptz;
alter table workflow_executions add column lease_epoch bigint not null default 0;
alter table workflow_executions add column cancel_requested_at timestamptz;

insert into organizations (slug, name) values ('default', 'Default') on conflict (slug) do nothing;
