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
//! A load racing an invalidation must not put the old row back: every invalidation bumps
//! an epoch, and a load stores its result only if the epoch did not move while it read.

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
    crypto::{keyring::MasterKeyring, secrets::WebhookSecret},
    db,
    domain::AgentStatus,
};

/// The channel the database trigger notifies (see the migration `webhook_target_notify`).
pub const CHANNEL: &str = "webhook_targets";

/// More agents than this are not all kept: the cache is emptied and refills with the busy ones.
const MAX_ENTRIES: usize = 100_000;

/// An agent as the webhook route sees it.
pub struct Target {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub active: bool,
    pub rate_limit_per_minute: Option<u32>,
    pub require_timestamp: bool,
    pub validator: Option<Arc<Validator>>,
    current: WebhookSecret,
    previous: Option<(WebhookSecret, DateTime<Utc>)>,
}

impl Target {
    /// The secrets a signature may be made with at `now`: the current one and, during its
    /// grace period, the previous one.
    pub fn secrets(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        let mut secrets = vec![&self.current];
        if let Some((previous, expires_at)) = &self.previous {
            if *expires_at > now {
                secrets.push(previous);
            }
        }
        secrets
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
}

pub struct TargetCache {
    entries: RwLock<HashMap<Uuid, (Instant, Arc<Target>)>>,
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
            epoch: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            ttl,
            lookups,
        }
    }

    /// The agent's webhook target, `None` for an unknown agent or one without a webhook
    /// trigger (those are never cached: a newly created trigger is visible at once).
    pub async fn get(
        &self,
        pool: &PgPool,
        keyring: &MasterKeyring,
        agent_id: Uuid,
    ) -> Result<Option<Arc<Target>>, LoadError> {
        let usable = self.usable();
        if usable {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some((loaded, target)) = entries.get(&agent_id) {
                if loaded.elapsed() < self.ttl {
                    self.lookups.with_label_values(&["cache"]).inc();
                    return Ok(Some(target.clone()));
                }
            }
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        self.lookups.with_label_values(&["database"]).inc();
        let Some(row) = db::agents::find_webhook_target(pool, agent_id).await? else {
            return Ok(None);
        };
        let target = Arc::new(open(keyring, row)?);
        if usable && self.epoch.load(Ordering::Acquire) == epoch {
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            // Checked again under the lock: an invalidation may have run since.
            if self.epoch.load(Ordering::Acquire) == epoch {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(agent_id, (Instant::now(), target.clone()));
            }
        }
        Ok(Some(target))
    }

    /// Forgets the agent (its row changed).
    pub fn invalidate(&self, agent_id: Uuid) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(&agent_id);
    }

    /// Forgets everything (notifications may have been missed).
    fn invalidate_all(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
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

/// Decrypts the secrets and compiles the schema of a freshly read row.
fn open(keyring: &MasterKeyring, row: db::agents::WebhookTarget) -> Result<Target, LoadError> {
    let tenant_key = keyring.open_tenant_key(&row.sealed_tenant_key)?;
    let current = tenant_key.decrypt_secret(&row.hmac_secret)?;
    let previous = match (&row.previous_hmac_secret, row.previous_secret_expires_at) {
        (Some(sealed), Some(expires_at)) => Some((tenant_key.decrypt_secret(sealed)?, expires_at)),
        _ => None,
    };
    let validator = row
        .payload_schema
        .as_ref()
        .map(|schema| super::schemas::compile(schema).map(Arc::new))
        .transpose()
        .map_err(|_| LoadError::Schema)?;
    Ok(Target {
        id: row.id,
        tenant_id: row.tenant_id,
        active: row.status == AgentStatus::Active.as_str(),
        rate_limit_per_minute: row.rate_limit_per_minute.map(|limit| limit.max(0) as u32),
        require_timestamp: row.require_timestamp,
        validator,
        current,
        previous,
    })
}

/// Keeps a LISTEN connection open until `stop` fires, reconnecting with a backoff; the
/// cache is in use only while it is up.
pub async fn listen_for_changes(
    pool: PgPool,
    cache: Arc<TargetCache>,
    mut stop: watch::Receiver<bool>,
) {
    if cache.ttl.is_zero() {
        return;
    }
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        let session = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // Lost notifications surface as `None` below instead of a silent reconnect.
            listener.ignore_pool_close_event(true);
            listener.listen(CHANNEL).await?;
            cache.set_listening(true);
            failures = 0;
            tracing::debug!("webhook target cache: listening for changes");
            loop {
                match listener.try_recv().await? {
                    Some(notification) => match notification.payload().parse::<Uuid>() {
                        Ok(agent_id) => cache.invalidate(agent_id),
                        Err(_) => cache.invalidate_all(),
                    },
                    None => return Ok::<(), sqlx::Error>(()),
                }
            }
        };
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
            Err(err) => {
                tracing::warn!(error = %err, "webhook target cache: cannot LISTEN; not caching until it works")
            }
        }
        let pause = Duration::from_millis(100 * u64::from(failures.min(50)));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
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
            require_timestamp: false,
            validator: None,
            current: WebhookSecret::generate(),
            previous: Some((
                WebhookSecret::generate(),
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
