//! What the webhook route needs about an agent (its secrets decrypted, its schema compiled),
//! cached in process so that a delivery, good or bad, costs no database round trip and no
//! decryption before its signature is checked.
//!
//! Staleness is the danger: a regenerated secret must stop working at once, in every
//! process. So an entry lives only while this process hears about changes:
//! - a database trigger sends `NOTIFY webhook_targets, '<agent id>'` in the transaction that
//!   changes an agent or its trigger (whoever changes it: this server, another one, psql);
//! - each process LISTENs on one dedicated connection and drops the agent's entry when the
//!   notification arrives (right after the commit);
//! - the process that made the change drops its own entry before it answers;
//! - while the listening connection is down, nothing is cached (every request reads the
//!   database), and everything cached is dropped when it comes back, because notifications
//!   sent in between are lost;
//! - entries also expire after `webhooks.target_cache_seconds` (0 disables the cache).
//!
//! - a silently dead LISTEN connection (half-open TCP) must not keep the cache serving: the
//!   server sends TCP keepalives on it, and the process NOTIFYs itself on a private channel
//!   every `webhooks.target_cache_heartbeat_seconds`; notifications arrive in commit order,
//!   so a ping that comes back proves every earlier invalidation arrived too. A ping that
//!   does not come back within the same interval stops the cache and reconnects.
//!
//! A load racing an invalidation must not put the old row back: every invalidation bumps
//! an epoch, and a load stores its result only if the epoch did not move while it read.
//!
//! Strangers cost little: unknown agent ids are remembered for a few seconds (a negative
//! entry, dropped by the same notifications when such an agent appears), a miss loads an
//! agent once however many requests wait for it, and the payload schema is compiled only
//! when a delivery with a valid signature needs it, off the async runtime.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use jsonschema::Validator;
use prometheus::IntCounterVec;
use sqlx::{postgres::PgListener, PgPool};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    crypto::{keyring::MasterKeyring, InboundSecret},
    db,
    domain::{AgentStatus, SecretSource, Verification, VerificationScheme},
    services::webhooks::verify::{self, Scheme},
};

/// The channel the database trigger notifies (see the migration `webhook_target_notify`).
pub const CHANNEL: &str = "webhook_targets";

/// More agents than this are not all kept: the cache is emptied and refills with the busy ones.
const MAX_ENTRIES: usize = 100_000;

/// How long an unknown agent id is answered 404 without asking the database again.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// An agent as the webhook route sees it.
pub struct Target {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub active: bool,
    pub rate_limit_per_minute: Option<u32>,
    /// How the sender signs (built from the agent's verification settings).
    pub scheme: Box<dyn Scheme>,
    schema: Option<serde_json::Value>,
    /// Compiled on first use by a verified delivery, once.
    validator: tokio::sync::OnceCell<Arc<Validator>>,
    current: InboundSecret,
    previous: Option<(InboundSecret, DateTime<Utc>)>,
}

impl Target {
    /// The secrets a signature may be made with at `now`: the current one and, during its
    /// grace period, the previous one.
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&InboundSecret> {
        let mut secrets = vec![&self.current];
        if let Some((previous, expires_at)) = &self.previous {
            if *expires_at > now {
                secrets.push(previous);
            }
        }
        secrets
    }

    /// The compiled payload schema, if the agent has one: compiled off the async runtime,
    /// within the schema cost budget and deadline, the first time a verified delivery asks,
    /// then shared by every later one.
    pub async fn validator(&self) -> Result<Option<Arc<Validator>>, LoadError> {
        let Some(schema) = &self.schema else {
            return Ok(None);
        };
        self.validator
            .get_or_try_init(|| async {
                super::schemas::compile_bounded(schema.clone())
                    .await
                    .map(Arc::new)
                    .map_err(|_| LoadError::Schema)
            })
            .await
            .map(|validator| Some(validator.clone()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("cannot open the agent's secrets: {0}")]
    Keys(#[from] crate::crypto::keyring::KeyError),
    #[error("the agent's stored schema no longer compiles")]
    Schema,
    #[error("the agent's stored verification settings are not known to this version")]
    Settings,
}

pub struct TargetCache {
    entries: RwLock<HashMap<Uuid, (Instant, Arc<Target>)>>,
    /// Agent ids the database did not know, and when it said so.
    unknown: RwLock<HashMap<Uuid, Instant>>,
    /// Loads in progress, one per agent.
    loading: std::sync::Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    epoch: AtomicU64,
    listening: AtomicBool,
    ttl: Duration,
    /// `webhook_target_lookups_total{source}`
    lookups: IntCounterVec,
}

impl TargetCache {
    pub fn new(ttl: Duration, lookups: IntCounterVec) -> Self {
        Self {
            entries: RwLock::default(),
            unknown: RwLock::default(),
            loading: std::sync::Mutex::default(),
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            ttl,
            lookups,
        }
    }

    /// The agent's webhook target, `None` for an unknown agent or one without a webhook
    /// trigger (a newly created trigger is announced like any change, so it is seen at once).
    pub async fn get(
        &self,
        pool: &PgPool,
        keyring: &MasterKeyring,
        agent_id: Uuid,
    ) -> Result<Option<Arc<Target>>, LoadError> {
        if let Some(known) = self.cached(agent_id) {
            return Ok(known);
        }
        if !self.usable() {
            return self.load(pool, keyring, agent_id).await;
        }
        // One load per agent: concurrent misses wait for it and then find it cached.
        let slot = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(agent_id).or_default().clone()
        };
        let _loading = slot.lock().await;
        let result = match self.cached(agent_id) {
            Some(known) => Ok(known),
            None => self.load(pool, keyring, agent_id).await,
        };
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&agent_id);
        result
    }

    /// What the cache knows: `Some(Some(target))`, `Some(None)` for a recently unknown id,
    /// `None` when the database must be asked.
    fn cached(&self, agent_id: Uuid) -> Option<Option<Arc<Target>>> {
        if !self.usable() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if let Some((loaded, target)) = entries.get(&agent_id) {
            if loaded.elapsed() < self.ttl {
                self.lookups.with_label_values(&["cache"]).inc();
                return Some(Some(target.clone()));
            }
        }
        drop(entries);
        let unknown = self.unknown.read().unwrap_or_else(|e| e.into_inner());
        if unknown
            .get(&agent_id)
            .is_some_and(|seen| seen.elapsed() < NEGATIVE_TTL.min(self.ttl))
        {
            self.lookups.with_label_values(&["cache_unknown"]).inc();
            return Some(None);
        }
        None
    }

    /// Reads the agent and remembers the answer, unless an invalidation ran meanwhile.
    async fn load(
        &self,
        pool: &PgPool,
        keyring: &MasterKeyring,
        agent_id: Uuid,
    ) -> Result<Option<Arc<Target>>, LoadError> {
        let usable = self.usable();
        let epoch = self.epoch.load(Ordering::Acquire);
        self.lookups.with_label_values(&["database"]).inc();
        let target = match db::agents::find_webhook_target(pool, agent_id).await? {
            Some(row) => Some(Arc::new(open(keyring, row)?)),
            None => None,
        };
        if usable && self.epoch.load(Ordering::Acquire) == epoch {
            match &target {
                Some(target) => {
                    let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                    // Checked again under the lock: an invalidation may have run since.
                    if self.epoch.load(Ordering::Acquire) == epoch {
                        if entries.len() >= MAX_ENTRIES {
                            entries.clear();
                        }
                        entries.insert(agent_id, (Instant::now(), target.clone()));
                    }
                }
                None => {
                    let mut unknown = self.unknown.write().unwrap_or_else(|e| e.into_inner());
                    if self.epoch.load(Ordering::Acquire) == epoch {
                        if unknown.len() >= MAX_ENTRIES {
                            unknown.clear();
                        }
                        unknown.insert(agent_id, Instant::now());
                    }
                }
            }
        }
        Ok(target)
    }

    /// Forgets the agent (its row changed).
    pub fn invalidate(&self, agent_id: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut unknown = self.unknown.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(&agent_id);
        unknown.remove(&agent_id);
    }

    /// Forgets everything (notifications may have been missed).
    fn invalidate_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut unknown = self.unknown.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        unknown.clear();
    }

    fn usable(&self) -> bool {
        !self.ttl.is_zero() && self.listening.load(Ordering::Acquire)
    }

    fn set_listening(&self, listening: bool) {
        // Drop everything first: while nobody listened, changes went unheard.
        self.invalidate_all();
        self.listening.store(listening, Ordering::Release);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap().len()
    }
}

fn source(text: &str) -> Result<SecretSource, LoadError> {
    text.parse().map_err(|_| LoadError::Settings)
}

/// Decrypts the secrets and compiles the schema of a freshly read row.
fn open(keyring: &MasterKeyring, row: db::agents::WebhookTarget) -> Result<Target, LoadError> {
    let tenant_key = keyring.open_tenant_key(&row.sealed_tenant_key)?;
    let current = tenant_key.decrypt_inbound(&row.hmac_secret, source(&row.secret_source)?)?;
    let previous = match (
        &row.previous_hmac_secret,
        &row.previous_secret_source,
        row.previous_secret_expires_at,
    ) {
        (Some(sealed), Some(previous_source), Some(expires_at)) => Some((
            tenant_key.decrypt_inbound(sealed, source(previous_source)?)?,
            expires_at,
        )),
        _ => None,
    };
    let verification = Verification {
        scheme: row
            .verification_scheme
            .parse::<VerificationScheme>()
            .map_err(|_| LoadError::Settings)?,
        header_name: row.verification_header_name,
    };
    Ok(Target {
        id: row.id,
        tenant_id: row.tenant_id,
        active: row.status == AgentStatus::Active.as_str(),
        rate_limit_per_minute: row.rate_limit_per_minute.map(|limit| limit.max(0) as u32),
        scheme: verify::for_agent(&verification, row.require_timestamp)
            .ok_or(LoadError::Settings)?,
        schema: row.payload_schema,
        validator: tokio::sync::OnceCell::new(),
        current,
        previous,
    })
}

/// Keeps a LISTEN connection open until `stop` fires, reconnecting with a backoff; the
/// cache is in use only while it is up and its heartbeat comes back in time. `listen_pool`
/// holds that one connection; pings are sent through `pool`.
pub async fn listen_for_changes(
    pool: PgPool,
    listen_pool: PgPool,
    cache: Arc<TargetCache>,
    heartbeat: Duration,
    mut stop: watch::Receiver<bool>,
) {
    if cache.ttl.is_zero() {
        return;
    }
    // Pings go to a channel of this process alone, so other processes never see them.
    let ping_channel = format!("{CHANNEL}_ping_{}", Uuid::new_v4().simple());
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        let session = listen(
            &pool,
            &listen_pool,
            &cache,
            &ping_channel,
            heartbeat,
            &mut failures,
        );
        let outcome = tokio::select! {
            outcome = session => outcome,
            _ = stop.changed() => Ok(()),
        };
        cache.set_listening(false);
        if *stop.borrow() {
            return;
        }
        failures = failures.saturating_add(1);
        match outcome {
            Ok(()) => tracing::warn!(
                "webhook target cache: lost the LISTEN connection; not caching until it is back"
            ),
            Err(err) => tracing::warn!(
                error = %err,
                "webhook target cache: LISTEN failed; not caching until it works"
            ),
        }
        let pause = Duration::from_millis(100 * u64::from(failures.min(50)));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One LISTEN session: returns when the connection ends or a ping does not come back.
async fn listen(
    pool: &PgPool,
    listen_pool: &PgPool,
    cache: &TargetCache,
    ping_channel: &str,
    heartbeat: Duration,
    failures: &mut u32,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(listen_pool).await?;
    // Lost notifications surface as `None` below instead of a silent reconnect.
    listener.ignore_pool_close_event(true);
    listener.listen_all([CHANNEL, ping_channel]).await?;
    // The first ping proves the round trip before anything is served from the cache.
    let mut pending = Some(ping(pool, ping_channel).await?);
    let mut next_ping = tokio::time::Instant::now() + heartbeat;
    loop {
        let deadline = pending.as_ref().map(|(_, sent)| *sent + heartbeat);
        tokio::select! {
            received = listener.try_recv() => {
                let Some(notification) = received? else {
                    return Ok(());
                };
                if notification.channel() == ping_channel {
                    if pending.as_ref().is_some_and(|(nonce, _)| nonce == notification.payload()) {
                        pending = None;
                        if !cache.listening.load(Ordering::Acquire) {
                            cache.set_listening(true);
                            *failures = 0;
                            tracing::debug!("webhook target cache: listening for changes");
                        }
                    }
                } else {
                    match notification.payload().parse::<Uuid>() {
                        Ok(agent_id) => cache.invalidate(agent_id),
                        Err(_) => cache.invalidate_all(),
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or(next_ping)), if deadline.is_some() => {
                anyhow::bail!("no heartbeat within {heartbeat:?}: the connection may be dead");
            }
            _ = tokio::time::sleep_until(next_ping), if pending.is_none() => {
                pending = Some(ping(pool, ping_channel).await?);
                next_ping = tokio::time::Instant::now() + heartbeat;
            }
        }
    }
}

/// Notifies `channel` with a fresh nonce; returns it and when it was sent.
async fn ping(pool: &PgPool, channel: &str) -> anyhow::Result<(String, tokio::time::Instant)> {
    let nonce = Uuid::new_v4().simple().to_string();
    let sent = tokio::time::Instant::now();
    db::notify(pool, channel, &nonce).await?;
    Ok((nonce, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_secret_counts_only_until_its_grace_period_ends() {
        let now = Utc::now();
        let target = Target {
            id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            active: true,
            rate_limit_per_minute: None,
            scheme: verify::for_agent(&Verification::default(), false).unwrap(),
            schema: None,
            validator: tokio::sync::OnceCell::new(),
            current: InboundSecret::generate(),
            previous: Some((
                InboundSecret::generate(),
                now + chrono::Duration::seconds(60),
            )),
        };
        assert_eq!(target.secrets(now).len(), 2);
        assert_eq!(target.secrets(now + chrono::Duration::seconds(61)).len(), 1);
        assert!(std::ptr::eq(target.secrets(now)[0], &target.current));
    }

    #[test]
    fn nothing_is_served_from_the_cache_while_nobody_listens() {
        let lookups = || crate::metrics::Metrics::new().target_lookups;
        let cache = TargetCache::new(Duration::from_secs(60), lookups());
        assert!(!cache.usable());
        cache.set_listening(true);
        assert!(cache.usable());
        cache.set_listening(false);
        assert!(!cache.usable());
        assert_eq!(cache.len(), 0);
        assert!(!TargetCache::new(Duration::ZERO, lookups()).usable());
    }
}
