//! Slack: `X-Slack-Request-Timestamp: <unix seconds>` and `X-Slack-Signature: v0=<hex>`, an
//! HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the app's signing secret, within 300 s.
//! The delivery id is the Events API's `event_id` (kept by Slack's retries). Slack checks a
//! new Request URL with a signed `url_verification` request, answered with its challenge.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    hex_mac, required, unix_seconds, with_any_secret, within_window, Delivery, IdSource, Scheme,
    Signed, Verified, VerifyFailure,
};
use crate::{
    crypto::{signature::SignatureError, InboundSecret},
    services::webhooks::WebhookError,
};

pub struct Slack;

/// The longest challenge echoed back (Slack's are about 50 characters).
const MAX_CHALLENGE_CHARS: usize = 1024;

impl Scheme for Slack {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let timestamp = required(delivery.headers, "x-slack-request-timestamp")?;
            let signature = required(delivery.headers, "x-slack-signature")?;
            within_window(unix_seconds(timestamp)?, delivery.now)?;
            let mac = signature
                .strip_prefix("v0=")
                .and_then(hex_mac)
                .ok_or(SignatureError::Malformed)?;
            with_any_secret(secrets, |secret| {
                secret.verify_mac(&[b"v0:", timestamp.as_bytes(), b":", delivery.body], &[mac])
            })
        })();
        ("slack", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::BodyField("event_id")
    }

    /// A `url_verification` is never queued: answered with its challenge, or refused (400)
    /// when the challenge is missing, not a string or too long.
    fn handshake(&self, body: &[u8]) -> Option<Result<Value, WebhookError>> {
        #[derive(Deserialize)]
        struct Kind<'a> {
            // Borrowed when it can be, owned when the JSON escapes it.
            #[serde(rename = "type", borrow)]
            kind: Option<Cow<'a, str>>,
            challenge: Option<Value>,
        }
        let request: Kind = serde_json::from_slice(body).ok()?;
        if request.kind.as_deref() != Some("url_verification") {
            return None;
        }
        Some(match request.challenge {
            Some(Value::String(challenge)) if challenge.chars().count() <= MAX_CHALLENGE_CHARS => {
                Ok(json!({ "challenge": challenge }))
            }
            _ => Err(WebhookError::InvalidJson),
        })
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], now: i64) -> Signed {
        let timestamp = now.to_string();
        let mac = secret.mac(&[b"v0:", timestamp.as_bytes(), b":", body]);
        Signed {
            scheme: "slack",
            headers: vec![
                ("X-Slack-Request-Timestamp".into(), timestamp),
                (
                    "X-Slack-Signature".into(),
                    format!("v0={}", hex::encode(mac)),
                ),
            ],
        }
    }
}
