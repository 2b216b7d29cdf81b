//! Webhook tokens a process takes ahead from an agent's shared bucket (`shared_limits`), so
//! that a busy agent costs the bucket one statement per tenth of a second instead of one per
//! group commit. Taking the tokens is the one statement on the accepting path that every
//! process serializes on (the bucket's row lock); at a few thousand webhooks a second it is
//! most of what the limit costs.
//!
//! The bound is what matters, so the lease is small and short:
//! - a token taken ahead is spent within `LEASE_TIME` of the moment the statement that took
//!   it was sent (whichever order the writers' statements return in), or forfeited. Every
//!   webhook accepted in a window of t seconds was therefore taken from the bucket within
//!   t + 0.1 s, and the bucket (GCRA) gives at most L + ⌊(t + 0.1)·L/60⌋ tokens in that time,
//!   whatever the number of processes: the exact bound plus a tenth of a second of the quota;
//! - a process holds at most a tenth of a second of the quota (⌊L/600⌋ tokens): one
//!   statement at a time takes ahead, the writers' other statements take what their batch
//!   needs. Agents limited to under 600 a minute never lease and keep the exact bound,
//!   L + ⌊t·L/60⌋;
//! - how many are taken ahead follows the agent's demand: it grows (doubling) when a lease
//!   runs out before it expires, and shrinks to what was spent when one expires unspent. An
//!   agent that gets a request now and then takes one token per request, as without leases;
//!   forfeited tokens, the price of leasing (a process may refuse while another still holds a
//!   few), are at most one lease's worth each time a process's traffic for the agent pauses.
//!
//! The tokens are the process's (every writer task shares them); the clock is passed in so
//! that the tests can replay traffic against a simulated bucket, with writers whose
//! statements return late and out of order.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// How long tokens taken ahead may be spent.
pub const LEASE_TIME: Duration = Duration::from_millis(100);
/// Leases idle for this long are forgotten (with what they learned of the agent's demand).
const IDLE: Duration = Duration::from_secs(60);

/// The tokens taken ahead for each agent, shared by a process's writer tasks.
#[derive(Default)]
pub struct TokenLeases {
    state: Mutex<Leases>,
}

#[derive(Default)]
struct Leases {
    by_agent: HashMap<Uuid, Lease>,
    pruned: Option<Instant>,
}

struct Lease {
    /// The quota the tokens were taken under; a changed quota starts a new lease.
    per_minute: u32,
    /// Taken from the bucket, not yet spent.
    tokens: u32,
    /// The tokens are forfeited from this moment; it is also the end of the window in which
    /// another batch of the agent shows that demand outgrew the lease.
    expires: Instant,
    /// How many tokens the next statement takes beyond what its batch needs.
    ahead: u32,
    /// A statement taking tokens ahead is on its way. Only one at a time does: the lease
    /// looks spent until it returns, and the batches of the other writer tasks in between
    /// would each double `ahead` and take as much again.
    taking_ahead: bool,
}

/// How a batch's requests for one agent get their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Spent from the lease: these requests go ahead.
    pub leased: u32,
    /// Still without a token.
    pub short: u32,
    /// Tokens taken ahead for the process's next batches (0 when `short` is 0).
    pub ahead: u32,
}

impl Plan {
    /// Tokens to take from the shared bucket: the batch's shortfall and those ahead.
    pub fn ask(&self) -> u32 {
        self.short.saturating_add(self.ahead)
    }
}

impl TokenLeases {
    /// Spends what the agent's lease holds on `needed` requests and says how many tokens to
    /// take from the bucket for the rest. A plan that asks must be settled, whatever the
    /// statement's outcome.
    pub fn plan(&self, agent: Uuid, per_minute: u32, needed: u32, now: Instant) -> Plan {
        let mut state = self.state.lock().expect("token leases poisoned");
        state.prune(now);
        let lease = state.lease(agent, per_minute, now);
        let valid = now < lease.expires;
        let mut leased = 0;
        if valid {
            leased = lease.tokens.min(needed);
            lease.tokens -= leased;
        } else if lease.tokens > 0 {
            // Expired unspent: take ahead only what was spent of it.
            lease.ahead = lease.ahead.saturating_sub(lease.tokens);
            lease.tokens = 0;
        }
        let short = needed - leased;
        if short == 0 || lease.taking_ahead {
            return Plan {
                leased,
                short,
                ahead: 0,
            };
        }
        if valid {
            // Another batch within the lease's time, and it ran out: take more ahead.
            lease.ahead = lease
                .ahead
                .saturating_mul(2)
                .max(short)
                .min(ahead_cap(per_minute));
        }
        lease.taking_ahead = lease.ahead > 0;
        Plan {
            leased,
            short,
            ahead: lease.ahead,
        }
    }

    /// Records what the bucket granted for a plan (0 if the statement failed), asked at
    /// `asked_at` (before the statement, so that a lease never outlives its tokens' time in
    /// the bucket); returns how many of the plan's `short` requests go ahead. The rest of the
    /// grant is leased.
    pub fn settle(
        &self,
        agent: Uuid,
        per_minute: u32,
        plan: &Plan,
        granted: u32,
        asked_at: Instant,
    ) -> u32 {
        let admitted = granted.min(plan.short);
        let extra = granted - admitted;
        let mut state = self.state.lock().expect("token leases poisoned");
        let lease = state.lease(agent, per_minute, asked_at);
        if plan.ahead > 0 {
            lease.taking_ahead = false;
        }
        let expires = asked_at + LEASE_TIME;
        if lease.tokens > 0 && asked_at < lease.expires {
            // Tokens still good, and this statement took none ahead (only one at a time
            // does): they keep their time, or this one's if it was asked earlier.
            lease.tokens = lease.tokens.saturating_add(extra);
            lease.expires = lease.expires.min(expires);
        } else {
            lease.tokens = extra;
            lease.expires = expires;
        }
        admitted
    }
}

impl Leases {
    fn lease(&mut self, agent: Uuid, per_minute: u32, now: Instant) -> &mut Lease {
        let fresh = || Lease {
            per_minute,
            tokens: 0,
            expires: now,
            ahead: 0,
            taking_ahead: false,
        };
        let lease = self.by_agent.entry(agent).or_insert_with(fresh);
        if lease.per_minute != per_minute {
            *lease = fresh();
        }
        lease
    }

    fn prune(&mut self, now: Instant) {
        if self.pruned.is_some_and(|at| now < at + IDLE) {
            return;
        }
        self.pruned = Some(now);
        self.by_agent.retain(|_, lease| now < lease.expires + IDLE);
    }
}

/// At most a lease's time of the quota is taken ahead.
fn ahead_cap(per_minute: u32) -> u32 {
    (u64::from(per_minute) * LEASE_TIME.as_millis() as u64 / 60_000) as u32
}

#[cfg(test)]
mod tests {
    use rand::{rngs::StdRng, Rng, SeedableRng};

    use super::*;

    /// The shared bucket as `take_rate_tokens` keeps it (GCRA), on the simulated clock.
    struct Bucket {
        interval: f64,
        tat: f64,
        takes: u32,
        granted: u32,
    }

    impl Bucket {
        fn new(per_minute: u32) -> Self {
            Self {
                interval: 60.0 / f64::from(per_minute),
                tat: 0.0,
                takes: 0,
                granted: 0,
            }
        }

        fn drained(per_minute: u32) -> Self {
            Self {
                tat: 60.0,
                ..Self::new(per_minute)
            }
        }

        fn take(&mut self, wanted: u32, now: f64) -> u32 {
            self.takes += 1;
            let start = self.tat.max(now);
            let room = ((60.0 - (start - now)) / self.interval + 1e-6).floor();
            let granted = (wanted as f64).min(room.max(0.0)) as u32;
            self.tat = start + f64::from(granted) * self.interval;
            self.granted += granted;
            granted
        }
    }

    fn at(epoch: Instant, seconds: f64) -> Instant {
        epoch + Duration::from_secs_f64(seconds)
    }

    /// One batch of `needed` requests at `seconds`, served as `shared_limits` serves it by a
    /// writer whose statement returns at once; returns how many go ahead.
    fn batch(
        leases: &TokenLeases,
        bucket: &mut Bucket,
        per_minute: u32,
        needed: u32,
        seconds: f64,
        epoch: Instant,
    ) -> u32 {
        let now = at(epoch, seconds);
        let plan = leases.plan(Uuid::nil(), per_minute, needed, now);
        if plan.ask() == 0 {
            return plan.leased;
        }
        let granted = bucket.take(plan.ask(), seconds);
        plan.leased + leases.settle(Uuid::nil(), per_minute, &plan, granted, now)
    }

    #[test]
    fn an_agent_under_600_a_minute_never_takes_ahead() {
        let leases = TokenLeases::default();
        let epoch = Instant::now();
        for n in 0..50 {
            let now = at(epoch, n as f64 * 0.001);
            let plan = leases.plan(Uuid::nil(), 599, 3, now);
            assert_eq!((plan.leased, plan.ask()), (0, 3));
            assert_eq!(leases.settle(Uuid::nil(), 599, &plan, 3, now), 3);
        }
    }

    #[test]
    fn a_steady_agent_spends_what_it_takes() {
        // 1,200 a minute (20 a second, two tokens ahead at most), a request every 51 to
        // 300 ms: a lease sized by anything but the demand forfeits tokens it never spends
        // (a fixed two ahead at a request every 66 ms: one token in three), emptying the
        // bucket of the burst the quota allows and refusing what the rate allows.
        for gap in [0.051, 0.066, 0.110, 0.300] {
            for drained in [false, true] {
                let leases = TokenLeases::default();
                let mut bucket = if drained {
                    Bucket::drained(1200)
                } else {
                    Bucket::new(1200)
                };
                let epoch = Instant::now();
                let mut seconds = 1.0;
                let mut accepted = 0;
                for _ in 0..600 {
                    accepted += batch(&leases, &mut bucket, 1200, 1, seconds, epoch);
                    seconds += gap;
                }
                assert_eq!(accepted, 600, "a request every {gap} s");
                assert!(
                    bucket.granted <= accepted + 2,
                    "{} taken for {accepted}, every {gap} s",
                    bucket.granted
                );
            }
        }
    }

    #[test]
    fn a_busy_agent_asks_the_bucket_ten_to_twenty_times_a_second() {
        // 5,000 webhooks a second in batches of 10 against a quota it never reaches.
        let leases = TokenLeases::default();
        let mut bucket = Bucket::new(1_000_000);
        let epoch = Instant::now();
        let mut accepted = 0;
        for n in 0..50_000 {
            accepted += batch(&leases, &mut bucket, 1_000_000, 10, n as f64 * 0.002, epoch);
        }
        assert_eq!(accepted, 500_000);
        // 100 s of traffic: without leases, 50,000 statements.
        assert!(
            (100 * 10..=100 * 20).contains(&bucket.takes),
            "{} takes",
            bucket.takes
        );
    }

    #[test]
    fn processes_sharing_a_bucket_stay_within_the_bound_and_near_the_quota() {
        // Three processes with four writer tasks each, whose statements return after a few
        // milliseconds (one in twenty after up to 150 ms) and in any order, send bursty
        // traffic well over a 6,000 a minute quota, with pauses of up to 300 ms, in three busy
        // spells of 10 s (the bucket is full again at the start of each). A token is accepted
        // when the bucket grants it, or when a lease hands it out. In every window of t
        // seconds at most L + ⌊(t + 0.1)·L/60⌋ are accepted, and the agent gets nearly all
        // that the bucket allows.
        let per_minute = 6000;
        let rate = f64::from(per_minute) / 60.0;
        let processes: Vec<TokenLeases> = (0..3).map(|_| TokenLeases::default()).collect();
        let mut bucket = Bucket::new(per_minute);
        let mut rng = StdRng::seed_from_u64(16);
        let epoch = Instant::now();
        // Statements on their way: process, plan, grant, asked at, returns at.
        let mut pending: Vec<(usize, Plan, u32, f64, f64)> = Vec::new();
        let mut idle_until = [0.0; 3];
        let mut accepted_at: Vec<f64> = Vec::new();
        let mut allowed = 0.0;
        for spell in 0..3 {
            let start = f64::from(spell) * 75.0;
            allowed += f64::from(per_minute) + 10.0 * rate;
            let mut seconds = start;
            while seconds < start + 10.0 || !pending.is_empty() {
                let mut returned = Vec::new();
                pending.retain(|statement| {
                    let done = statement.4 <= seconds;
                    if done {
                        returned.push(*statement);
                    }
                    !done
                });
                for (process, plan, granted, asked, _) in returned {
                    let asked = at(epoch, asked);
                    processes[process].settle(Uuid::nil(), per_minute, &plan, granted, asked);
                }
                let process = rng.random_range(0..3);
                let writers_busy = pending.iter().filter(|p| p.0 == process).count();
                if seconds < start + 10.0 && idle_until[process] <= seconds && writers_busy < 4 {
                    let needed = rng.random_range(1..=12);
                    let now = at(epoch, seconds);
                    let plan = processes[process].plan(Uuid::nil(), per_minute, needed, now);
                    accepted_at.extend(std::iter::repeat_n(seconds, plan.leased as usize));
                    if plan.ask() > 0 {
                        let granted = bucket.take(plan.ask(), seconds);
                        let admitted = granted.min(plan.short);
                        accepted_at.extend(std::iter::repeat_n(seconds, admitted as usize));
                        let returns = seconds
                            + if rng.random_bool(0.05) {
                                rng.random_range(0.0..0.15)
                            } else {
                                rng.random_range(0.0..0.005)
                            };
                        pending.push((process, plan, granted, seconds, returns));
                    }
                    if rng.random_bool(0.01) {
                        idle_until[process] = seconds + rng.random_range(0.1..0.3);
                    }
                }
                seconds += rng.random_range(0.0..0.004);
            }
        }
        for (first, &start) in accepted_at.iter().enumerate() {
            for window in [0.0, 0.05, 0.1, 0.5, 5.0] {
                let within = accepted_at.partition_point(|&t| t <= start + window) - first;
                let bound = f64::from(per_minute) + ((window + 0.1) * rate).floor();
                assert!(
                    within as f64 <= bound,
                    "{within} in {window} s from {start}"
                );
            }
        }
        let accepted = accepted_at.len() as f64;
        assert!(accepted >= 0.97 * allowed, "{accepted} of {allowed}");
    }

    #[test]
    fn a_lease_grows_with_demand_expires_and_ends_with_its_quota() {
        let leases = TokenLeases::default();
        let agent = Uuid::nil();
        let epoch = Instant::now();
        let ms = |n: u64| epoch + Duration::from_millis(n);
        let take = |quota, needed, granted, now| {
            let plan = leases.plan(agent, quota, needed, now);
            let admitted = leases.settle(agent, quota, &plan, granted, now);
            (plan, admitted)
        };
        // 60,000 a minute: at most 100 tokens ahead.
        assert_eq!(take(60_000, 1, 1, ms(0)), (plan(0, 1, 0), 1));
        // A second batch within the lease's time: demand outgrew it, one token ahead.
        assert_eq!(take(60_000, 1, 2, ms(10)), (plan(0, 1, 1), 1));
        assert_eq!(leases.plan(agent, 60_000, 1, ms(20)), plan(1, 0, 0));
        // Spent before it expired: twice as many ahead.
        assert_eq!(take(60_000, 1, 3, ms(30)), (plan(0, 1, 2), 1));
        // Unspent when its time is up: forfeited, and nothing was spent of it, so nothing is
        // taken ahead any more.
        assert_eq!(take(60_000, 1, 1, ms(130)), (plan(0, 1, 0), 1));
        // Tokens leased under one quota are not spent under another.
        assert_eq!(take(60_000, 4, 8, ms(131)), (plan(0, 4, 4), 4));
        assert_eq!(leases.plan(agent, 120_000, 1, ms(132)), plan(0, 1, 0));
    }

    #[test]
    fn one_writer_at_a_time_takes_ahead_and_its_tokens_keep_their_time() {
        let leases = TokenLeases::default();
        let agent = Uuid::nil();
        let epoch = Instant::now();
        let ms = |n: u64| epoch + Duration::from_millis(n);
        let first = leases.plan(agent, 60_000, 1, ms(0));
        leases.settle(agent, 60_000, &first, 1, ms(0));
        // Two writers find the lease spent within its time: the first takes ahead, the
        // second (while the first's statement is on its way) takes only what it needs.
        let early = leases.plan(agent, 60_000, 5, ms(10));
        assert_eq!(early, plan(0, 5, 5));
        let late = leases.plan(agent, 60_000, 5, ms(50));
        assert_eq!(late, plan(0, 5, 0));
        // The later statement returns first, then the earlier one: its five tokens ahead
        // expire 100 ms after it was asked, not after the later one.
        assert_eq!(leases.settle(agent, 60_000, &late, 5, ms(50)), 5);
        assert_eq!(leases.settle(agent, 60_000, &early, 10, ms(10)), 5);
        let expired = leases.plan(agent, 60_000, 1, ms(110));
        assert_eq!(expired, plan(0, 1, 0));
        leases.settle(agent, 60_000, &expired, 1, ms(110));
        // A statement that failed is settled with nothing, and the next one may take ahead.
        let failed = leases.plan(agent, 60_000, 1, ms(120));
        assert_eq!(failed, plan(0, 1, 1));
        assert_eq!(leases.settle(agent, 60_000, &failed, 0, ms(120)), 0);
        assert_eq!(leases.plan(agent, 60_000, 1, ms(130)), plan(0, 1, 2));
    }

    fn plan(leased: u32, short: u32, ahead: u32) -> Plan {
        Plan {
            leased,
            short,
            ahead,
        }
    }
}
