//! Zendesk: `X-Zendesk-Webhook-Signature: <base64>` and
//! `X-Zendesk-Webhook-Signature-Timestamp: <RFC 3339>`, an HMAC-SHA256 of
//! `{timestamp}{body}` (the header's text, then the body, nothing between) keyed by the
//! webhook's signing secret, within 300 s.

use chrono::{DateTime, SecondsFormat, Utc};

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    base64_mac, required, with_any_secret, within_window, Delivery, IdSource, Scheme, Signed,
    Verified, VerifyFailure,
};
use crate::crypto::{signature::SignatureError, InboundSecret};

pub struct Zendesk;

const TIMESTAMP: &str = "x-zendesk-webhook-signature-timestamp";

impl Scheme for Zendesk {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let signature = required(delivery.headers, "x-zendesk-webhook-signature")?;
            let timestamp = required(delivery.headers, TIMESTAMP)?;
            let signed_at = DateTime::parse_from_rfc3339(timestamp)
                .map_err(|_| SignatureError::Malformed)?
                .timestamp();
            within_window(signed_at, delivery.now)?;
            let mac = base64_mac(signature).ok_or(SignatureError::Malformed)?;
            with_any_secret(secrets, |secret| {
                secret.verify_mac(&[timestamp.as_bytes(), delivery.body], &[mac])
            })
        })();
        ("zendesk", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::Headers(&["x-zendesk-webhook-invocation-id"])
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], now: i64) -> Signed {
        let timestamp = DateTime::<Utc>::from_timestamp(now, 0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let mac = secret.mac(&[timestamp.as_bytes(), body]);
        Signed {
            scheme: "zendesk",
            headers: vec![
                ("X-Zendesk-Webhook-Signature".into(), STANDARD.encode(mac)),
                ("X-Zendesk-Webhook-Signature-Timestamp".into(), timestamp),
            ],
        }
    }
}
