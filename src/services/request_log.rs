//! The request log's writer: every request to an existing agent's webhook URL, accepted or
//! refused, becomes a row of `webhook_requests`, without costing the webhook route a
//! database round trip.
//!
//! - The route hands each entry to a bounded buffer (`try_send`, never waits). A full
//!   buffer drops the entry and counts it (`request_log_entries_total{fate="dropped"}`): a
//!   flood of bad requests must not take memory without bound, nor slow the good ones.
//! - One writer task takes what is waiting, gives more a moment to arrive (`LINGER`, 100 ms),
//!   and writes up to `MAX_BATCH` rows in one statement on its own connection
//!   (`db::log_pool`, asynchronous commit): a few statements a second whatever the load.
//! - A batch the database refuses is retried once, then dropped and counted as `failed`:
//!   the log is for people; executions never depend on it.
//! - Refused requests are recorded up to `webhooks.request_log_refusals_per_second` (1,000)
//!   per agent and second in each process (`Limits::may_log_refusal`), the rest counted as
//!   dropped: a flood of bad requests to one
//!   agent writes a bounded number of rows, and cannot fill the buffer other agents' entries
//!   need.
//!
//! What is kept of a request is chosen here: the headers with every credential replaced by
//! `"[redacted]"`, values cut to `MAX_HEADER_VALUE_CHARS` and the whole to
//! `MAX_HEADERS_CHARS`; the body's size and SHA-256, never the body.

use std::time::Duration;

use axum::http::HeaderMap;
use prometheus::{IntCounter, IntCounterVec};
use serde_json::{Map, Value};
use sqlx::PgPool;
use tokio::sync::mpsc::{self, error::TrySendError};

use uuid::Uuid;

use super::Principal;
use crate::{
    db::{self, requests::NewRequest},
    domain::{RequestOutcome, RequestPage},
    error::AppError,
};

/// Entries waiting for the writer; at most ~10 KB each (headers are bounded), so ~80 MB.
const BUFFER: usize = 8192;
/// Rows per statement.
const MAX_BATCH: usize = 1000;
/// How long the writer waits for more entries before writing a batch that is not full.
const LINGER: Duration = Duration::from_millis(100);
const MAX_HEADER_VALUE_CHARS: usize = 1024;
const MAX_HEADERS_CHARS: usize = 8192;
pub const REDACTED: &str = "[redacted]";

#[derive(Clone)]
pub struct RequestLog {
    buffer: mpsc::Sender<NewRequest>,
    /// `request_log_entries_total{fate="dropped"}`, resolved once: counted on the hot path.
    dropped: IntCounter,
}

impl RequestLog {
    /// Starts the writer; it stops when the last `RequestLog` is dropped, after writing
    /// what is buffered.
    pub fn start(pool: PgPool, fates: IntCounterVec) -> Self {
        let (buffer, receiver) = mpsc::channel(BUFFER);
        let dropped = fates.with_label_values(&["dropped"]);
        tokio::spawn(write_batches(pool, receiver, fates));
        Self { buffer, dropped }
    }

    /// Queues one entry for the writer, or drops and counts it when the buffer is full.
    pub fn record(&self, request: NewRequest) {
        if let Err(TrySendError::Full(_) | TrySendError::Closed(_)) = self.buffer.try_send(request)
        {
            self.dropped();
        }
    }

    /// Counts an entry that was not recorded.
    pub fn dropped(&self) {
        self.dropped.inc();
    }
}

async fn write_batches(
    pool: PgPool,
    mut receiver: mpsc::Receiver<NewRequest>,
    fates: IntCounterVec,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if batch.len() < MAX_BATCH {
            // Let a steady trickle gather into one statement (a few per second instead of
            // one per handful of requests); a full batch goes at once.
            tokio::time::sleep(LINGER).await;
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
        }
        let mut written = db::requests::insert_many(&pool, &batch).await;
        if written.is_err() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            written = db::requests::insert_many(&pool, &batch).await;
        }
        match written {
            Ok(rows) => fates.with_label_values(&["written"]).inc_by(rows),
            Err(err) => {
                tracing::warn!(error = %err, rows = batch.len(), "cannot write the request log");
                fates
                    .with_label_values(&["failed"])
                    .inc_by(batch.len() as u64);
            }
        }
        batch.clear();
    }
}

/// A page of an agent's request log, newest first.
pub async fn page_for_agent(
    pool: &PgPool,
    principal: &Principal,
    agent_id: Uuid,
    outcome: Option<RequestOutcome>,
    before: Option<Uuid>,
    limit: Option<i64>,
) -> Result<RequestPage, AppError> {
    let limit = super::page_limit(limit)?;
    if db::agents::find(pool, principal.tenant_id, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let items =
        db::requests::list_for_agent(pool, principal.tenant_id, agent_id, outcome, before, limit)
            .await?;
    let next_before = super::next_before(&items, limit, |request| request.id);
    Ok(RequestPage { items, next_before })
}

/// Whether a header carries a credential: signatures, authorization, cookies, tokens, keys.
fn is_secret(name: &str) -> bool {
    const PARTS: [&str; 11] = [
        "auth",
        "cookie",
        "signature",
        "token",
        "secret",
        "hmac",
        "key",
        "password",
        "credential",
        "session",
        "jwt",
    ];
    // The delivery id header is an id, not a key.
    (name != "idempotency-key" && PARTS.iter().any(|part| name.contains(part)))
        || name.ends_with("-verification")
}

/// The headers as a JSON object for the log: names lowercase (as HTTP/2 and `http` keep
/// them), repeated headers joined by ", ", credentials redacted (and `also_secret`, the
/// agent's own token header, whatever its name), sizes bounded.
pub fn logged_headers(headers: &HeaderMap, also_secret: Option<&str>) -> Value {
    let mut object = Map::new();
    let mut budget = MAX_HEADERS_CHARS;
    for name in headers.keys() {
        let name = name.as_str();
        let value = if is_secret(name) || also_secret == Some(name) {
            REDACTED.to_owned()
        } else {
            let joined = headers
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()))
                .collect::<Vec<_>>()
                .join(", ");
            cut(joined, MAX_HEADER_VALUE_CHARS)
        };
        // Bytes, not characters: a lossy value's replacement characters take 3 bytes each.
        let size = name.len() + value.len();
        if size > budget {
            object.insert("[truncated]".into(), Value::Bool(true));
            break;
        }
        budget -= size;
        object.insert(name.to_owned(), Value::String(value));
    }
    Value::Object(object)
}

/// At most `max` characters, marked with "…" when cut.
fn cut(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn credentials_are_redacted_and_everything_else_is_kept() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer abc"),
            ("cookie", "session=abc"),
            ("x-hub-signature-256", "sha256=00"),
            ("webhook-signature", "v1,abc"),
            ("stripe-signature", "t=1,v1=abc"),
            ("x-gitlab-token", "abc"),
            ("x-shopify-hmac-sha256", "abc"),
            ("x-api-key", "abc"),
            ("x-authorization", "abc"),
            ("aeg-sas-key", "abc"),
            ("ocp-apim-subscription-key", "abc"),
            ("plaid-verification", "abc"),
            ("x-client-credential", "abc"),
            ("idempotency-key", "idem-1"),
            ("user-agent", "GitHub-Hookshot/1"),
            ("x-github-delivery", "d-1"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers.append("accept", HeaderValue::from_static("a"));
        headers.append("accept", HeaderValue::from_static("b"));
        let logged = logged_headers(&headers, None);
        for secret in [
            "authorization",
            "cookie",
            "x-hub-signature-256",
            "webhook-signature",
            "stripe-signature",
            "x-gitlab-token",
            "x-shopify-hmac-sha256",
            "x-api-key",
            "x-authorization",
            "aeg-sas-key",
            "ocp-apim-subscription-key",
            "plaid-verification",
            "x-client-credential",
        ] {
            assert_eq!(logged[secret], REDACTED, "{secret}");
        }
        assert_eq!(logged["user-agent"], "GitHub-Hookshot/1");
        assert_eq!(logged["x-github-delivery"], "d-1");
        assert_eq!(logged["accept"], "a, b");
        assert_eq!(logged["idempotency-key"], "idem-1");
        assert!(!logged.to_string().contains("abc"));
    }

    #[test]
    fn the_agents_own_token_header_is_redacted_whatever_its_name() {
        let mut headers = HeaderMap::new();
        headers.insert("x-sdp-pass", HeaderValue::from_static("the-token"));
        assert_eq!(logged_headers(&headers, None)["x-sdp-pass"], "the-token");
        assert_eq!(
            logged_headers(&headers, Some("x-sdp-pass"))["x-sdp-pass"],
            REDACTED
        );
    }

    fn entry() -> NewRequest {
        NewRequest {
            id: Uuid::now_v7(),
            tenant_id: Uuid::nil(),
            agent_id: Uuid::nil(),
            received_at: chrono::Utc::now(),
            status: 401,
            outcome: RequestOutcome::Rejected,
            reason: Some("invalid_signature"),
            delivery_id: None,
            source_ip: None,
            body_bytes: 2,
            body_sha256: None,
            headers: Value::Object(Map::new()),
            execution_id: None,
        }
    }

    /// A writer that cannot write (no database at that address) fills the buffer: what
    /// does not fit is dropped at once and counted, and `record` never waits.
    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_instead_of_waiting() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let fates = IntCounterVec::new(prometheus::Opts::new("t", "t"), &["fate"]).unwrap();
        let log = RequestLog::start(pool, fates.clone());
        let started = std::time::Instant::now();
        for _ in 0..BUFFER + 2 * MAX_BATCH {
            log.record(entry());
        }
        assert!(started.elapsed() < Duration::from_secs(2));
        let dropped = fates.with_label_values(&["dropped"]).get();
        assert!(
            (MAX_BATCH as u64..=2 * MAX_BATCH as u64).contains(&dropped),
            "dropped {dropped}"
        );
    }

    #[test]
    fn sizes_are_bounded() {
        let mut headers = HeaderMap::new();
        let long = "x".repeat(5000);
        for i in 0..50 {
            headers.insert(
                axum::http::HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                HeaderValue::from_str(&long).unwrap(),
            );
        }
        let logged = logged_headers(&headers, None);
        assert!(logged.to_string().len() < MAX_HEADERS_CHARS + 2048);
        assert_eq!(logged["[truncated]"], true);
        assert_eq!(logged["x-h0"].as_str().unwrap().chars().count(), 1025);
    }
}
