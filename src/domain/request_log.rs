//! The request log: what every request to an agent's webhook URL looked like and how it was
//! answered, so that "why was my request refused?" has an answer in the UI and the API.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Timestamp;

/// How a request to a webhook URL ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum RequestOutcome {
    /// A new execution was queued (202).
    Accepted,
    /// Refused; `reason` says why.
    Rejected,
    /// Its delivery id was seen before with the same body: the first execution answered (202).
    Duplicate,
    /// The sender's verification request (Slack's `url_verification`), answered 200 with
    /// its challenge; nothing queued.
    Handshake,
}

impl RequestOutcome {
    pub const ALL: [RequestOutcome; 4] = [
        Self::Accepted,
        Self::Rejected,
        Self::Duplicate,
        Self::Handshake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Duplicate => "duplicate",
            Self::Handshake => "handshake",
        }
    }
}

impl std::str::FromStr for RequestOutcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == s)
            .ok_or_else(|| format!("unknown request outcome {s:?}"))
    }
}

/// One request to an agent's webhook URL. Signature headers, `authorization` and `cookie`
/// are logged as `"[redacted]"`; the body is not logged (its size and SHA-256 are).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookRequest {
    pub id: Uuid,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub received_at: Timestamp,
    /// The HTTP status answered.
    pub status: u16,
    pub outcome: RequestOutcome,
    /// Why it was refused (null when accepted): `invalid_signature`, `expired`,
    /// `timestamp_required`, `agent_not_active`, `invalid_json`, `schema`, `rate_limited`,
    /// `too_large`, `unsupported_media_type`, `timeout`, `delivery_id_conflict`,
    /// `invalid_delivery_id`, `unavailable` or `internal_error`.
    pub reason: Option<String>,
    pub delivery_id: Option<String>,
    pub source_ip: Option<String>,
    /// The body's size: the bytes read, or the declared `Content-Length` (0 without one) when
    /// the body was refused unread (too large, wrong content type, not sent in time).
    pub body_bytes: i64,
    /// Hex SHA-256 of the body, when it was read whole.
    pub body_sha256: Option<String>,
    /// The request's headers, names lowercase; repeated headers joined by ", ".
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub headers: serde_json::Value,
    /// The execution it queued, or answered with (duplicates).
    pub execution_id: Option<Uuid>,
}

/// Newest first; pass `next_before` as `before` for the next page (null at the end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RequestPage {
    pub items: Vec<WebhookRequest>,
    pub next_before: Option<Uuid>,
}
