//! Failure notifications, as the tenant's administrators set them up: the URL (checked
//! against the SSRF rules like a runtime's), the signing secret (made with the first URL;
//! revealed and regenerated like a runtime secret), a test send, and the recent events.
//!
//! Events are recorded where they happen and delivered by a queue task (`jobs::notify`):
//! - `execution.failed`, by the worker's finisher, in the commit that fails the execution;
//! - `webhook.signature_failures`, by the webhook route once [`SignatureAlarm`] counts
//!   `alerts.signature_failures_threshold` invalid signatures for one agent within 5
//!   minutes; at most one per agent and window (per process here, and across processes
//!   in the database).

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use serde_json::json;
use uuid::Uuid;

use super::{audit, keys, Principal};
use crate::{
    crypto::secrets::{WebhookSecret, MASKED},
    db,
    domain::{
        AuditAction, Notification, NotificationSettings, NotificationTestResult,
        RevealedSigningSecret, UpdateNotificationSettings, NOTIFICATION_TEST,
        SIGNATURE_FAILURE_WINDOW_SECONDS,
    },
    error::AppError,
    jobs,
    runtimes::outbound::{Answer, Outbound, Request, SendError},
    state::AppState,
};

/// Time a notification URL has to answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the receiver's answer read (quoted in errors).
const MAX_ANSWER_BYTES: usize = 4 * 1024;
/// Events the settings page and `GET /api/notifications` list.
const RECENT_EVENTS: i64 = 50;

/// Posts one event, signed as a Standard Webhooks sender (`webhook-id` = `id`, the same on
/// every attempt of the event).
pub async fn post_event(
    outbound: &Outbound,
    url: &str,
    secret: &WebhookSecret,
    id: &str,
    body: Vec<u8>,
) -> Result<Answer, SendError> {
    let url = outbound.parse_target(url).map_err(SendError::Target)?;
    outbound
        .post(Request {
            url,
            headers: Default::default(),
            body,
            timeout: DELIVERY_TIMEOUT,
            max_answer_bytes: MAX_ANSWER_BYTES,
            signing: Some((secret, id)),
        })
        .await
}

pub async fn settings(
    state: &AppState,
    principal: &Principal,
) -> Result<NotificationSettings, AppError> {
    let saved = db::notifications::settings(&state.pool, principal.tenant_id).await?;
    Ok(NotificationSettings {
        url: saved.url,
        secret_masked: saved.sealed_secret.map(|_| MASKED.to_owned()),
        signature_failures_threshold: state.settings.alerts.signature_failures_threshold,
    })
}

/// Sets or clears the URL; the first URL brings a signing secret.
pub async fn update_settings(
    state: &AppState,
    principal: &Principal,
    input: UpdateNotificationSettings,
) -> Result<NotificationSettings, AppError> {
    let url = match input.url.flatten().filter(|url| !url.trim().is_empty()) {
        Some(url) => Some(
            state
                .outbound
                .check_target(&url)
                .await
                .map_err(|err| AppError::invalid("url", format!("url: {err}")))?,
        ),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    let saved = db::notifications::settings(&mut *tx, principal.tenant_id).await?;
    let new_secret = match (&url, &saved.sealed_secret) {
        (Some(_), None) => {
            let tenant_key =
                keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
            Some(tenant_key.encrypt_secret(&WebhookSecret::generate()))
        }
        _ => None,
    };
    db::notifications::set_settings(
        &mut *tx,
        principal.tenant_id,
        url.as_ref().map(|url| url.as_str()),
        new_secret.as_deref(),
    )
    .await?;
    // The host only: a URL's path or query may carry a token.
    audit::record(
        &mut *tx,
        principal,
        AuditAction::NotificationsUpdated,
        None,
        "success",
        json!({ "enabled": url.is_some(), "host": url.as_ref().and_then(|url| url.host_str()) }),
    )
    .await?;
    tx.commit().await?;
    settings(state, principal).await
}

async fn open_secret(state: &AppState, principal: &Principal) -> Result<WebhookSecret, AppError> {
    let saved = db::notifications::settings(&state.pool, principal.tenant_id).await?;
    let sealed = saved.sealed_secret.ok_or_else(|| {
        AppError::Conflict("no notification secret yet: set a notification URL first".into())
    })?;
    keys::tenant_key(&state.pool, &state.keyring, principal.tenant_id)
        .await?
        .decrypt_secret(&sealed)
        .map_err(AppError::internal)
}

/// The signing secret in clear; rate-limited with the other reveals and audited.
pub async fn reveal_secret(
    state: &AppState,
    principal: &Principal,
) -> Result<RevealedSigningSecret, AppError> {
    super::secrets::take_reveal(state, principal, None, Some("notification")).await?;
    let secret = open_secret(state, principal).await?;
    audit::record(
        &state.pool,
        principal,
        AuditAction::NotificationSecretRevealed,
        None,
        "success",
        json!({}),
    )
    .await?;
    Ok(RevealedSigningSecret {
        standard_webhooks_secret: secret.to_standard_webhooks(),
    })
}

/// Replaces the signing secret at once; events not yet delivered are signed with the new one.
pub async fn regenerate_secret(state: &AppState, principal: &Principal) -> Result<(), AppError> {
    let mut tx = state.pool.begin().await?;
    let saved = db::notifications::settings(&mut *tx, principal.tenant_id).await?;
    if saved.url.is_none() && saved.sealed_secret.is_none() {
        return Err(AppError::Conflict(
            "no notification secret yet: set a notification URL first".into(),
        ));
    }
    let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
    let sealed = tenant_key.encrypt_secret(&WebhookSecret::generate());
    db::notifications::set_secret(&mut *tx, principal.tenant_id, &sealed).await?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::NotificationSecretRegenerated,
        None,
        "success",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a `notification.test` event now and says what the receiver answered (audited).
pub async fn send_test(
    state: &AppState,
    principal: &Principal,
) -> Result<NotificationTestResult, AppError> {
    let saved = db::notifications::settings(&state.pool, principal.tenant_id).await?;
    let url = saved
        .url
        .ok_or_else(|| AppError::Conflict("set a notification URL first".into()))?;
    let secret = open_secret(state, principal).await?;
    let id = format!("test_{}", Uuid::new_v4().simple());
    let body = json!({
        "type": NOTIFICATION_TEST,
        "timestamp": chrono::Utc::now(),
        "data": { "message": "A test notification from agent-webhooks: your receiver works." },
    });
    let started = Instant::now();
    let sent = post_event(
        &state.outbound,
        &url,
        &secret,
        &id,
        serde_json::to_vec(&body).expect("JSON values serialize"),
    )
    .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    let result = match sent {
        Ok(answer) if answer.status.is_success() => NotificationTestResult {
            delivered: true,
            status: Some(answer.status.as_u16()),
            error: None,
            duration_ms,
        },
        Ok(answer) => NotificationTestResult {
            delivered: false,
            status: Some(answer.status.as_u16()),
            error: Some(format!(
                "the notification URL answered {}: {}",
                answer.status,
                answer.body_excerpt(500)
            )),
            duration_ms,
        },
        Err(err) => NotificationTestResult {
            delivered: false,
            status: None,
            error: Some(err.to_string()),
            duration_ms,
        },
    };
    state
        .metrics
        .notifications
        .with_label_values(&[
            NOTIFICATION_TEST,
            if result.delivered {
                "delivered"
            } else {
                "failed"
            },
        ])
        .inc();
    audit::record(
        &state.pool,
        principal,
        AuditAction::NotificationTestSent,
        None,
        if result.delivered {
            "success"
        } else {
            "failure"
        },
        json!({ "status": result.status }),
    )
    .await?;
    Ok(result)
}

pub async fn recent(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<Notification>, AppError> {
    Ok(
        db::notifications::recent(&state.pool, principal.tenant_id, RECENT_EVENTS)
            .await?
            .into_iter()
            .map(|row| Notification {
                id: row.id,
                event: row.event,
                agent_id: row.agent_id,
                status: row.status,
                attempts: row.attempts,
                last_error: row.last_error,
                response_status: row.response_status,
                payload: row.payload,
                created_at: row.created_at,
                delivered_at: row.delivered_at,
            })
            .collect(),
    )
}

/// Records a `webhook.signature_failures` event for the agent (if its tenant wants
/// notifications and none was sent within the window) and queues its delivery.
pub async fn signature_failures(
    state: &AppState,
    agent_id: Uuid,
    failures: u32,
) -> Result<(), sqlx::Error> {
    let mut tx = state.pool.begin().await?;
    db::notifications::lock_agent_events(&mut *tx, agent_id).await?;
    if let Some(event) = db::notifications::insert_signature_failures(
        &mut *tx,
        agent_id,
        failures,
        SIGNATURE_FAILURE_WINDOW_SECONDS,
    )
    .await?
    {
        jobs::notify::enqueue(&mut tx, &[event]).await?;
    }
    // Rare enough to wait for the workers' next poll (workers.poll_interval_ms).
    tx.commit().await?;
    Ok(())
}

/// Counts invalid signatures per agent over a sliding window, and says when an agent
/// reaches the threshold (at most once per window). Memory is bounded: an agent keeps at
/// most `threshold` instants, and only agents that exist reach the signature check.
pub struct SignatureAlarm {
    threshold: usize,
    window: Duration,
    agents: Mutex<Agents>,
}

#[derive(Default)]
struct Agents {
    failures: HashMap<Uuid, AgentFailures>,
    /// Quiet agents are forgotten at most once a minute, so that a flood of 401s across
    /// many agents does not scan the map on every request.
    pruned_at: Option<Instant>,
}

#[derive(Default)]
struct AgentFailures {
    recent: VecDeque<Instant>,
    alarmed_at: Option<Instant>,
}

impl SignatureAlarm {
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1) as usize,
            window: Duration::from_secs(SIGNATURE_FAILURE_WINDOW_SECONDS),
            agents: Mutex::new(Agents::default()),
        }
    }

    /// Counts one invalid signature; `Some(count)` when this one reaches the threshold.
    pub fn failure(&self, agent_id: Uuid) -> Option<u32> {
        self.failure_at(agent_id, Instant::now())
    }

    fn failure_at(&self, agent_id: Uuid, now: Instant) -> Option<u32> {
        let mut agents = self
            .agents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let due = agents
            .pruned_at
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(60));
        if agents.failures.len() > 10_000 && due {
            let window = self.window;
            agents.failures.retain(|_, failures| {
                failures
                    .recent
                    .back()
                    .is_some_and(|last| now.duration_since(*last) < window)
            });
            agents.pruned_at = Some(now);
        }
        let failures = agents.failures.entry(agent_id).or_default();
        while failures
            .recent
            .front()
            .is_some_and(|first| now.duration_since(*first) >= self.window)
        {
            failures.recent.pop_front();
        }
        failures.recent.push_back(now);
        if failures.recent.len() > self.threshold {
            failures.recent.pop_front();
        }
        let quiet = failures
            .alarmed_at
            .is_none_or(|at| now.duration_since(at) >= self.window);
        if failures.recent.len() >= self.threshold && quiet {
            failures.alarmed_at = Some(now);
            return Some(failures.recent.len() as u32);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_rings_once_per_window_when_failures_reach_the_threshold_within_it() {
        let alarm = SignatureAlarm::new(3);
        let agent = Uuid::new_v4();
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        assert_eq!(alarm.failure_at(agent, at(0)), None);
        assert_eq!(alarm.failure_at(agent, at(10)), None);
        // Another agent's failures do not count.
        assert_eq!(alarm.failure_at(Uuid::new_v4(), at(11)), None);
        assert_eq!(alarm.failure_at(agent, at(20)), Some(3));
        // More failures in the same window stay quiet.
        assert_eq!(alarm.failure_at(agent, at(30)), None);
        assert_eq!(alarm.failure_at(agent, at(40)), None);
        // Spread out beyond the window: no alarm.
        let slow = Uuid::new_v4();
        for minute in 0..10 {
            assert_eq!(alarm.failure_at(slow, at(minute * 200)), None);
        }
        // After the window, a new burst rings again.
        for second in 400..402 {
            assert_eq!(alarm.failure_at(agent, at(second)), None, "{second}");
        }
        assert_eq!(alarm.failure_at(agent, at(402)), Some(3));
    }
}
