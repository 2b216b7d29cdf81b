//! The task that delivers one notification event to its tenant's notification URL, and its
//! retry policy: the executions' (5 attempts, backoff 2, 4, 8, 16 s). The event row says
//! how the delivery went (`notifications.status`, `attempts`, `last_error`).
//!
//! A 2xx delivers. 408, 429, 5xx, timeouts and connection errors are retried (after the
//! usual backoff: `Retry-After` is not read for notifications); any other answer, a refused
//! target (SSRF rules), a secret that cannot be opened or a tenant without a URL fails the
//! event at once.

use fang::{async_trait, typetag, AsyncQueueable, AsyncRunnable, FangError};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{context, execute::MAX_ATTEMPTS, JobContext};
use crate::{db, runtimes::outbound::SendError, services::notifications::post_event};

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverNotification {
    pub notification_id: Uuid,
    /// The tenant: notifications share the fair claim order with executions.
    pub lane_id: Uuid,
}

impl DeliverNotification {
    pub fn metadata(notification_id: Uuid, tenant_id: Uuid) -> serde_json::Value {
        super::task_metadata(&DeliverNotification {
            notification_id,
            lane_id: tenant_id,
        })
    }
}

/// Queues the delivery of recorded events, (notification id, tenant id), on the caller's
/// connection (in the transaction that recorded them).
pub async fn enqueue(conn: &mut PgConnection, events: &[(Uuid, Uuid)]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let tasks: Vec<_> = events
        .iter()
        .map(|(id, tenant)| DeliverNotification::metadata(*id, *tenant))
        .collect();
    db::tasks::insert_many(conn, &tasks, super::TASK_TYPE).await?;
    Ok(())
}

#[typetag::serde]
#[async_trait]
impl AsyncRunnable for DeliverNotification {
    async fn run(&self, _queue: &dyn AsyncQueueable) -> Result<(), FangError> {
        let context = context()?;
        deliver(&context, self.notification_id)
            .await
            .map_err(|description| FangError { description })
    }

    fn task_type(&self) -> String {
        super::TASK_TYPE.into()
    }

    fn max_retries(&self) -> i32 {
        MAX_ATTEMPTS - 1
    }

    fn backoff(&self, attempt: u32) -> u32 {
        2u32.saturating_pow(attempt.saturating_add(1).min(31))
    }
}

/// One delivery attempt. `Err` asks for another attempt.
async fn deliver(context: &JobContext, id: Uuid) -> Result<(), String> {
    let Some(event) = db::notifications::pending(&context.pool, id)
        .await
        .map_err(|err| format!("database: {err}"))?
    else {
        return Ok(()); // its tenant was deleted
    };
    if event.status != "queued" {
        return Ok(());
    }
    let (Some(url), Some(sealed_secret)) = (&event.url, &event.sealed_secret) else {
        let error = "notifications are off: the tenant has no notification URL";
        return record(
            context,
            id,
            &event.event,
            "failed",
            None,
            Some(error.into()),
        )
        .await;
    };
    let secret = match context
        .keyring
        .open_tenant_key(&event.sealed_tenant_key)
        .and_then(|key| key.decrypt_secret(sealed_secret))
    {
        Ok(secret) => secret,
        // Another attempt cannot open it either (a master key missing from the keyring).
        Err(err) => {
            let error = format!("cannot open the notification secret: {err}");
            return record(context, id, &event.event, "failed", None, Some(error)).await;
        }
    };
    let body = serde_json::to_vec(&event.payload).expect("JSON values serialize");
    let again = if event.attempts + 1 >= MAX_ATTEMPTS {
        "failed"
    } else {
        "queued"
    };
    let (status, response, error) =
        match post_event(&context.outbound, url, &secret, &id.to_string(), body).await {
            Ok(answer) if answer.status.is_success() => {
                ("delivered", Some(answer.status.as_u16()), None)
            }
            Ok(answer) => {
                let code = answer.status.as_u16();
                let error = format!(
                    "the notification URL answered {}: {}",
                    answer.status,
                    answer.body_excerpt(500)
                );
                let retried = answer.is_transient(true);
                (
                    if retried { again } else { "failed" },
                    Some(code),
                    Some(error),
                )
            }
            Err(err @ (SendError::Refused(_) | SendError::Target(_))) => {
                ("failed", None, Some(err.to_string()))
            }
            Err(err) => (again, None, Some(err.to_string())),
        };
    record(context, id, &event.event, status, response, error).await
}

/// Records the attempt; `Err` (another attempt) while the event stays queued.
async fn record(
    context: &JobContext,
    id: Uuid,
    event: &str,
    status: &'static str,
    response: Option<u16>,
    error: Option<String>,
) -> Result<(), String> {
    db::notifications::record_attempt(&context.pool, id, status, response, error.as_deref())
        .await
        .map_err(|err| format!("database: {err}"))?;
    let outcome = if status == "queued" {
        "retrying"
    } else {
        status
    };
    context
        .metrics
        .notifications
        .with_label_values(&[event, outcome])
        .inc();
    match (status, error) {
        ("queued", Some(error)) => Err(error),
        _ => Ok(()),
    }
}
