//! Webhook tokens a process takes ahead from an agent's shared bucket (`shared_limits`), so
//! that a busy agent costs the bucket one statement per tenth of a second instead of one per
//! group commit. Taking the tokens is the one statement on the accepting path that every
//! process serializes on (the bucket's row lock); at a few thousand webhooks a second it is
//! most of what the limit costs.
//!
//! The bound is what matters, so the lease is small and short:
//! - a token taken ahead is spent within `LEASE_TIME` of the statement that took it, or
//!   forfeited. Every webhook accepted in a window of t seconds was therefore taken from the
//!   bucket within t + 0.1 s, and the bucket (GCRA) gives at most L + ⌊(t + 0.1)·L/60⌋ tokens
//!   in that time, whatever the number of processes: the exact bound plus a tenth of a second
//!   of the quota;
//! - at most a tenth of a second of the quota is taken ahead (⌊L/600⌋ tokens), so agents
//!   limited to under 600 a minute never lease and keep the exact bound, L + ⌊t·L/60⌋;
//! - how many are taken ahead follows the agent's demand: it grows (doubling) when a lease
//!   runs out before it expires, and shrinks to what was spent when one expires unspent. An
//!   agent that gets a request now and then takes one token per request, as without leases;
//!   forfeited tokens, the price of leasing (a process may refuse while another still holds a
//!   few), stay below one lease's worth each time the agent's traffic slows down.
//!
//! The tokens are the process's (every writer task shares them); the clock is passed in so
//! that the tests can replay traffic against a simulated bucket.

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
}

/// How a batch's requests for one agent get their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Spent from the lease: these requests go ahead.
    pub leased: u32,
    /// Still without a token.
    pub short: u32,
    /// Tokens to take from the shared bucket (0 when `short` is 0): `short` and the tokens
    /// to take ahead.
    pub ask: u32,
}

impl TokenLeases {
    /// Spends what the agent's lease holds on `needed` requests and says how many tokens to
    /// take from the bucket for the rest.
    pub fn plan(&self, agent: Uuid, per_minute: u32, needed: u32, now: Instant) -> Plan {
        let mut state = self.state.lock().expect("token leases poisoned");
        state.prune(now);
        let lease = state.lease(agent, per_minute, now);
        let mut leased = 0;
        if now < lease.expires {
            leased = lease.tokens.min(needed);
            lease.tokens -= leased;
            if leased < needed {
                // Another batch within the lease's time, and it ran out: take more ahead.
                lease.ahead = lease
                    .ahead
                    .saturating_mul(2)
                    .max(needed - leased)
                    .min(ahead_cap(per_minute));
            }
        } else if lease.tokens > 0 {
            // Expired unspent: take ahead only what was spent of it.
            lease.ahead = lease.ahead.saturating_sub(lease.tokens);
            lease.tokens = 0;
        }
        let short = needed - leased;
        Plan {
            leased,
            short,
            ask: if short == 0 {
                0
            } else {
                short.saturating_add(lease.ahead)
            },
        }
    }

    /// Records what the bucket granted for a plan's `short` requests, asked at `asked_at`
    /// (before the statement, so that a lease never outlives its tokens' time in the
    /// bucket); returns how many of those requests go ahead. The rest of the grant is leased.
    pub fn settle(
        &self,
        agent: Uuid,
        per_minute: u32,
        short: u32,
        granted: u32,
        asked_at: Instant,
    ) -> u32 {
        let admitted = granted.min(short);
        let mut state = self.state.lock().expect("token leases poisoned");
        let lease = state.lease(agent, per_minute, asked_at);
        let extra = granted - admitted;
        if lease.tokens > 0 && asked_at < lease.expires {
            // Another writer's tokens, still good: keep the earlier expiry for both.
            lease.tokens = lease.tokens.saturating_add(extra);
        } else {
            lease.tokens = extra;
            lease.expires = asked_at + LEASE_TIME;
        }
        admitted
    }
}

impl Leases {
    fn lease(&mut self, agent: Uuid, per_minute: u32, now: Instant) -> &mut Lease {
        let lease = self.by_agent.entry(agent).or_insert(Lease {
            per_minute,
            tokens: 0,
            expires: now,
            ahead: 0,
        });
        if lease.per_minute != per_minute {
            *lease = Lease {
                per_minute,
                tokens: 0,
                expires: now,
                ahead: 0,
            };
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

    /// One batch of `needed` requests at `at` seconds, as `shared_limits` serves it;
    /// returns how many go ahead.
    fn batch(
        leases: &TokenLeases,
        bucket: &mut Bucket,
        per_minute: u32,
        needed: u32,
        at: f64,
        epoch: Instant,
    ) -> u32 {
        let agent = Uuid::nil();
        let now = epoch + Duration::from_secs_f64(at);
        let plan = leases.plan(agent, per_minute, needed, now);
        if plan.ask == 0 {
            return plan.leased;
        }
        let granted = bucket.take(plan.ask, at);
        plan.leased + leases.settle(agent, per_minute, plan.short, granted, now)
    }

    #[test]
    fn an_agent_under_600_a_minute_never_takes_ahead() {
        let leases = TokenLeases::default();
        let now = Instant::now();
        for n in 0..50 {
            let at = now + Duration::from_millis(n);
            let plan = leases.plan(Uuid::nil(), 599, 3, at);
            assert_eq!(
                plan,
                Plan {
                    leased: 0,
                    short: 3,
                    ask: 3
                }
            );
            assert_eq!(leases.settle(Uuid::nil(), 599, 3, 3, at), 3);
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
                let mut at = 1.0;
                let mut accepted = 0;
                for _ in 0..600 {
                    accepted += batch(&leases, &mut bucket, 1200, 1, at, epoch);
                    at += gap;
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
    fn a_busy_agent_asks_the_bucket_about_ten_times_a_second() {
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
        assert!(bucket.takes <= 100 * 20, "{} takes", bucket.takes);
    }

    #[test]
    fn processes_sharing_a_bucket_stay_within_the_bound_and_near_the_quota() {
        // Three processes, bursty traffic well over a 6,000 a minute quota: in every window
        // the webhooks accepted stay within L + (t + 0.1)·L/60, and over the run the agent
        // gets nearly all of its quota.
        let per_minute = 6000;
        let processes: Vec<TokenLeases> = (0..3).map(|_| TokenLeases::default()).collect();
        let mut bucket = Bucket::new(per_minute);
        let mut rng = StdRng::seed_from_u64(16);
        let epoch = Instant::now();
        let mut accepted_at = Vec::new();
        let mut at = 0.0;
        while at < 30.0 {
            let process = &processes[rng.random_range(0..3)];
            let needed = rng.random_range(1..=12);
            let admitted = batch(process, &mut bucket, per_minute, needed, at, epoch);
            accepted_at.extend(std::iter::repeat_n(at, admitted as usize));
            at += rng.random_range(0.0..0.004);
        }
        let rate = f64::from(per_minute) / 60.0;
        for (first, &start) in accepted_at.iter().enumerate() {
            for window in [0.0, 0.05, 0.5, 5.0] {
                let within = accepted_at[first..]
                    .iter()
                    .take_while(|&&t| t <= start + window)
                    .count();
                let bound = f64::from(per_minute) + ((window + 0.1) * rate).floor();
                assert!(
                    within as f64 <= bound,
                    "{within} in {window} s from {start}"
                );
            }
        }
        let quota = f64::from(per_minute) + 30.0 * rate;
        assert!(
            accepted_at.len() as f64 >= 0.97 * quota,
            "{} of {quota}",
            accepted_at.len()
        );
    }

    #[test]
    fn a_lease_grows_with_demand_expires_and_ends_with_its_quota() {
        let leases = TokenLeases::default();
        let agent = Uuid::nil();
        let ms = |n| Instant::now() + Duration::from_millis(n);
        let (t0, t10, t20, t30) = (ms(0), ms(10), ms(20), ms(30));
        // 60,000 a minute: at most 100 tokens ahead.
        assert_eq!(leases.plan(agent, 60_000, 1, t0).ask, 1);
        assert_eq!(leases.settle(agent, 60_000, 1, 1, t0), 1);
        // A second batch within the lease's time: demand outgrew it, one token ahead.
        let plan = leases.plan(agent, 60_000, 1, t10);
        assert_eq!(
            plan,
            Plan {
                leased: 0,
                short: 1,
                ask: 2
            }
        );
        assert_eq!(leases.settle(agent, 60_000, 1, 2, t10), 1);
        assert_eq!(leases.plan(agent, 60_000, 1, t20).leased, 1);
        // Spent before it expired: twice as many ahead.
        assert_eq!(leases.plan(agent, 60_000, 1, t30).ask, 3);
        assert_eq!(leases.settle(agent, 60_000, 1, 3, t30), 1);
        // Unspent when its time is up: forfeited, and nothing was spent of it, so nothing is
        // taken ahead any more.
        let late = t30 + LEASE_TIME;
        assert_eq!(
            leases.plan(agent, 60_000, 1, late),
            Plan {
                leased: 0,
                short: 1,
                ask: 1
            }
        );
        leases.settle(agent, 60_000, 1, 1, late);
        // Tokens leased under one quota are not spent under another.
        let next = late + Duration::from_millis(1);
        assert_eq!(leases.plan(agent, 60_000, 4, next).ask, 8);
        assert_eq!(leases.settle(agent, 60_000, 4, 8, next), 4);
        let changed = next + Duration::from_millis(1);
        assert_eq!(
            leases.plan(agent, 120_000, 1, changed),
            Plan {
                leased: 0,
                short: 1,
                ask: 1
            }
        );
    }
}
