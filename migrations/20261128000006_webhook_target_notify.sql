-- Servers cache each agent's webhook target (decrypted secrets, compiled schema) and must
-- drop it the moment it changes: any change to an agent or its trigger, by whatever
-- client, notifies channel `webhook_targets` with the agent's id when its transaction
-- commits (see src/services/webhook_targets.rs).
create function notify_webhook_target_changed() returns trigger
language plpgsql as $$
declare
    changed record;
begin
    if tg_op = 'DELETE' then
        changed := old;
    else
        changed := new;
    end if;
    perform pg_notify('webhook_targets', to_jsonb(changed) ->> tg_argv[0]);
    return null;
end;
$$;

create trigger agents_notify_webhook_target
    after update or delete on agents
    for each row execute function notify_webhook_target_changed('id');

create trigger agent_triggers_notify_webhook_target
    after insert or update or delete on agent_triggers
    for each row execute function notify_webhook_target_changed('agent_id');

-- The tenant key opens the secrets; a re-sealed key (master key rotation) is the same key,
-- but a deleted tenant's agents are deleted by cascade and notify above.

-- fang's own indexes on state, task_type, scheduled_at and uniq_hash serve queries of
-- fang's that this application never runs (its workers claim through
-- fang_tasks_claim_order, everything else goes by id); each one made every insert and
-- state change of a task write one more index entry. The reaper looks for tasks
-- in_progress, which a small partial index serves.
drop index fang_tasks_state_index;
drop index fang_tasks_type_index;
drop index fang_tasks_scheduled_at_index;
drop index fang_tasks_uniq_hash;
create index fang_tasks_in_progress on fang_tasks (updated_at) where state = 'in_progress';
