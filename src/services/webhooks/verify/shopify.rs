//! Shopify: `X-Shopify-Hmac-Sha256: <base64>`, an HMAC-SHA256 of the body keyed by the app's
//! client secret. Shopify signs no timestamp, so nothing bounds a replay but the delivery id,
//! `X-Shopify-Webhook-Id` (the same on Shopify's retries).

use base64::{engine::general_purpose::STANDARD, Engine};

use super::{
    base64_mac, required, with_any_secret, Delivery, IdSource, Scheme, Signed, Verified,
    VerifyFailure,
};
use crate::crypto::{signature::SignatureError, InboundSecret};

pub struct Shopify;

impl Scheme for Shopify {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let signature = required(delivery.headers, "x-shopify-hmac-sha256")?;
            let mac = base64_mac(signature).ok_or(SignatureError::Malformed)?;
            with_any_secret(secrets, |secret| {
                secret.verify_mac(&[delivery.body], &[mac])
            })
        })();
        ("shopify", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::Headers(&["x-shopify-webhook-id"])
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], _now: i64) -> Signed {
        Signed {
            scheme: "shopify",
            headers: vec![(
                "X-Shopify-Hmac-Sha256".into(),
                STANDARD.encode(secret.mac(&[body])),
            )],
        }
    }
}
