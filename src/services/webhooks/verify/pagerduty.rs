//! PagerDuty (v3 webhook subscriptions): `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`, an
//! HMAC-SHA256 of the body keyed by the subscription's secret; one `v1` per active secret
//! while PagerDuty rotates it. No timestamp is signed. The delivery id is `X-Webhook-Id`.

use super::{
    listed_hex_macs, required, with_any_secret, Delivery, IdSource, Scheme, Signed, Verified,
    VerifyFailure,
};
use crate::crypto::InboundSecret;

pub struct PagerDuty;

impl Scheme for PagerDuty {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let header = required(delivery.headers, "x-pagerduty-signature")?;
            let candidates = listed_hex_macs(header, "v1");
            with_any_secret(secrets, |secret| {
                secret.verify_mac(&[delivery.body], &candidates)
            })
        })();
        ("pagerduty", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::Headers(&["x-webhook-id"])
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], _now: i64) -> Signed {
        Signed {
            scheme: "pagerduty",
            headers: vec![(
                "X-PagerDuty-Signature".into(),
                format!("v1={}", hex::encode(secret.mac(&[body]))),
            )],
        }
    }
}
