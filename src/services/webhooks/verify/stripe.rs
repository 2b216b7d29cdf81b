//! Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` (plus `v0=` test-mode
//! entries, ignored), an HMAC-SHA256 of `{t}.{body}` keyed by the UTF-8 bytes of the whole
//! `whsec_…` text Stripe shows, within 300 s. During a Stripe-side secret roll the header
//! lists one `v1` per active secret; any one matching is enough. The delivery id is the
//! event's `id` in the body (Stripe resends an event with the same id).

use super::{
    listed_hex_macs, required, unix_seconds, with_any_secret, within_window, Delivery, IdSource,
    Scheme, Signed, Verified, VerifyFailure,
};
use crate::crypto::{signature::SignatureError, InboundSecret};

pub struct Stripe;

const HEADER: &str = "stripe-signature";

impl Scheme for Stripe {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let header = required(delivery.headers, HEADER)?;
            let timestamp = header
                .split(',')
                .filter_map(|entry| entry.trim().split_once('='))
                .find(|(name, _)| *name == "t")
                .map(|(_, value)| value.trim())
                .ok_or(SignatureError::Malformed)?;
            within_window(unix_seconds(timestamp)?, delivery.now)?;
            let candidates = listed_hex_macs(header, "v1");
            with_any_secret(secrets, |secret| {
                secret.verify_mac(&[timestamp.as_bytes(), b".", delivery.body], &candidates)
            })
        })();
        ("stripe", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::BodyField("id")
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], now: i64) -> Signed {
        let timestamp = now.to_string();
        let mac = secret.mac(&[timestamp.as_bytes(), b".", body]);
        Signed {
            scheme: "stripe",
            headers: vec![(
                "Stripe-Signature".into(),
                format!("t={timestamp},v1={}", hex::encode(mac)),
            )],
        }
    }
}
