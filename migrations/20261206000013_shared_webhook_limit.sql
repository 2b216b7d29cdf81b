-- Takes tokens from several `rate_limits` buckets in one round trip: the webhook route's
-- group commit takes, for each agent of a batch, as many tokens as the batch holds requests
-- for it, and learns how many it got. GCRA as in db/rate_limits.rs: a bucket's time `tat`
-- moves `interval` ahead per token, never more than `window` past now. Each bucket is
-- locked while it is read and moved, so concurrent callers (every web process) see each
-- other's takes: the limit is exact across processes. "Now" is read after the lock
-- (clock_timestamp, not the transaction's start), so time moves forward in lock order and
-- a caller that waited for the lock neither loses a token nor overstates the wait. `keys`
-- should be sorted, so that callers lock buckets in the same order.
create function take_rate_tokens(
    keys text[],
    intervals float8[],
    wanted int4[],
    window_seconds float8
) returns table (granted int4, wait_seconds float8)
language plpgsql
as $$
declare
    previous timestamptz;
    t timestamptz;
    start timestamptz;
    ahead float8;
begin
    for i in 1 .. coalesce(array_length(keys, 1), 0) loop
        select r.tat into previous from rate_limits r where r.key = keys[i] for update;
        if not found then
            insert into rate_limits (key, tat) values (keys[i], clock_timestamp())
            on conflict (key) do nothing;
            select r.tat into previous from rate_limits r where r.key = keys[i] for update;
        end if;
        t := clock_timestamp();
        start := greatest(previous, t);
        ahead := extract(epoch from start - t);
        -- The margin absorbs float rounding: 60 / (60 / 7) must give 7 tokens, not 6.
        granted := least(wanted[i], greatest(0, floor((window_seconds - ahead) / intervals[i] + 1e-6)))::int4;
        if granted > 0 then
            update rate_limits set tat = start + make_interval(secs => granted * intervals[i])
            where key = keys[i];
        end if;
        -- How long until the next token after the ones granted.
        wait_seconds := greatest(0, ahead + (granted + 1) * intervals[i] - window_seconds);
        return next;
    end loop;
end
$$;
