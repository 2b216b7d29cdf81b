//! Slack: `X-Slack-Request-Timestamp: <unix seconds>` and `X-Slack-Signature: v0=<hex>`, an
//! HMAC-SHA256 of `v0:{timestamp}:{body}` keyed by the app's signing secret, within 300 s.
//! The delivery id is the Events API's `event_id` (kept by Slack's retries). Slack checks a
//! new Request URL with a signed `url_verification` request, answered with its challenge.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    hex_mac, required, unix_seconds, with_any_secret, within_window, Delivery, IdSource, Scheme,
    Signed, Verified, VerifyFailure,
};
use crate::crypto::{signature::SignatureError, InboundSecret};

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

    fn handshake(&self, body: &[u8]) -> Option<Value> {
        #[derive(Deserialize)]
        struct UrlVerification<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            challenge: Option<&'a str>,
        }
        let request: UrlVerification = serde_json::from_slice(body).ok()?;
        let challenge = request.challenge?;
        (request.kind == "url_verification" && challenge.chars().count() <= MAX_CHALLENGE_CHARS)
            .then(|| json!({ "challenge": challenge }))
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
