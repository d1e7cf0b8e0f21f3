-- vigil:no-transaction
-- Indexes on tables that may already hold rows are built concurrently, outside a transaction.
set lock_timeout = '5s';
set statement_timeout = 0;

create unique index concurrently if not exists workflows_webhook_token_key
on workflows (webhook_token);

-- The claim query: queued runs oldest first, and running runs whose lease expired.
create index concurrently if not exists workflow_executions_queued_idx
on workflow_executions (queued_at)
where status = 'queued';

create index concurrently if not exists workflow_executions_lease_idx
on workflow_executions (lease_expires_at)
where status = 'running';
