-- The claim query orders runnable tasks by (scheduled_at, created_at): an index in exactly
-- that order lets it read the first runnable row without sorting the candidates.
create index fang_tasks_claim_order on fang_tasks (task_type, scheduled_at, created_at)
    where state in ('new', 'retried');
drop index fang_tasks_runnable;
