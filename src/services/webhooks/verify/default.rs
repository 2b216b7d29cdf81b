//! The default scheme: GitHub-style `X-Hub-Signature-256: sha256=<hex>` (also sent as
//! `X-Hub-Signature` by Jira Cloud, or `X-Webhook-Signature`), keyed by the secret's text,
//! or Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`), keyed by
//! its decoded bytes. Standard Webhooks headers win when both are present. With
//! `require_timestamp` only Standard Webhooks deliveries pass.

use super::{
    header, required, with_any_secret, Delivery, IdSource, Scheme, Signed, Verified, VerifyFailure,
};
use crate::crypto::{signature::SignatureError, InboundSecret};

/// The GitHub-style headers, in order of preference. `X-Hub-Signature` carries a SHA-256
/// signature only when the sender says so (`sha256=`); a GitHub SHA-1 one is malformed.
const HUB_HEADERS: [&str; 3] = [
    "x-hub-signature-256",
    "x-webhook-signature",
    "x-hub-signature",
];

pub struct DefaultScheme {
    pub require_timestamp: bool,
}

impl Scheme for DefaultScheme {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let headers = delivery.headers;
        if headers.contains_key("webhook-signature") {
            let result = (|| {
                let signatures = required(headers, "webhook-signature")?;
                let id = required(headers, "webhook-id")?;
                let timestamp = required(headers, "webhook-timestamp")?;
                with_any_secret(secrets, |secret| {
                    secret.verify_standard(id, timestamp, signatures, delivery.body, delivery.now)
                })
            })();
            return ("standard_webhooks", result.map_err(VerifyFailure::from));
        }
        if self.require_timestamp {
            return ("none", Err(VerifyFailure::TimestampRequired));
        }
        let Some(name) = HUB_HEADERS.iter().find(|name| headers.contains_key(**name)) else {
            return ("none", Err(SignatureError::Missing.into()));
        };
        let result = header(headers, name).and_then(|value| {
            let value = value.ok_or(SignatureError::Missing)?;
            with_any_secret(secrets, |secret| secret.verify_hub(delivery.body, value))
        });
        // The signature form, GitHub style, whichever of its headers carried it.
        ("x_hub_signature_256", result.map_err(VerifyFailure::from))
    }

    fn delivery_id(&self) -> IdSource {
        super::DEFAULT_IDS
    }

    fn sign(&self, secret: &InboundSecret, body: &[u8], now: i64) -> Signed {
        if self.require_timestamp {
            let id = format!("test_{}", uuid::Uuid::new_v4().simple());
            let signature = secret.sign_standard(&id, now, body);
            Signed {
                scheme: "standard_webhooks",
                headers: vec![
                    ("webhook-id".into(), id),
                    ("webhook-timestamp".into(), now.to_string()),
                    ("webhook-signature".into(), signature),
                ],
            }
        } else {
            Signed {
                scheme: "x_hub_signature_256",
                headers: vec![("X-Hub-Signature-256".into(), secret.sign_hub(body))],
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::tests::headers;
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn verify(
        scheme: &DefaultScheme,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &[&InboundSecret],
        now: i64,
    ) -> Verified {
        scheme.verify(&Delivery { headers, body, now }, secrets)
    }

    #[test]
    fn hub_signatures_use_the_text_as_key_and_accept_the_previous_secret() {
        let scheme = DefaultScheme {
            require_timestamp: false,
        };
        let (current, previous) = (InboundSecret::generate(), InboundSecret::generate());
        let body = br#"{"a":1}"#;
        let signed = headers(&[("x-hub-signature-256", previous.sign_hub(body))]);
        assert!(verify(&scheme, &signed, body, &[&current, &previous], 0)
            .1
            .is_ok());
        assert!(verify(&scheme, &signed, body, &[&current], 0).1.is_err());
        for alias in ["x-webhook-signature", "x-hub-signature"] {
            let aliased = headers(&[(alias, current.sign_hub(body))]);
            assert_eq!(
                verify(&scheme, &aliased, body, &[&current], 0),
                ("x_hub_signature_256", Ok(()))
            );
        }
        // Jira sends X-Hub-Signature with sha256=; GitHub's SHA-1 X-Hub-Signature is refused.
        let sha1 = headers(&[("x-hub-signature", format!("sha1={}", "0".repeat(40)))]);
        assert_eq!(
            verify(&scheme, &sha1, body, &[&current], 0).1,
            Err(VerifyFailure::Signature(SignatureError::Malformed))
        );
    }

    #[test]
    fn standard_webhooks_headers_win_and_timestamps_are_checked() {
        let scheme = DefaultScheme {
            require_timestamp: true,
        };
        let key = InboundSecret::generate();
        let body = b"{}";
        let good = headers(&[
            ("webhook-id", "msg_1".into()),
            ("webhook-timestamp", NOW.to_string()),
            ("webhook-signature", key.sign_standard("msg_1", NOW, body)),
            // A wrong hub signature alongside is ignored.
            ("x-hub-signature-256", format!("sha256={}", "0".repeat(64))),
        ]);
        assert_eq!(
            verify(&scheme, &good, body, &[&key], NOW),
            ("standard_webhooks", Ok(()))
        );
        assert_eq!(
            verify(&scheme, &good, body, &[&key], NOW + 301).1,
            Err(VerifyFailure::Signature(SignatureError::Expired))
        );
        let mut no_id = good.clone();
        no_id.remove("webhook-id");
        assert_eq!(
            verify(&scheme, &no_id, body, &[&key], NOW).1,
            Err(VerifyFailure::Signature(SignatureError::Missing))
        );
    }

    #[test]
    fn require_timestamp_refuses_hub_only_deliveries() {
        let scheme = DefaultScheme {
            require_timestamp: true,
        };
        let key = InboundSecret::generate();
        let hub = headers(&[("x-hub-signature-256", key.sign_hub(b"{}"))]);
        assert_eq!(
            verify(&scheme, &hub, b"{}", &[&key], 0).1,
            Err(VerifyFailure::TimestampRequired)
        );
    }

    #[test]
    fn unsigned_deliveries_are_missing_signatures() {
        let scheme = DefaultScheme {
            require_timestamp: false,
        };
        assert_eq!(
            verify(
                &scheme,
                &HeaderMap::new(),
                b"{}",
                &[&InboundSecret::generate()],
                0
            ),
            (
                "none",
                Err(VerifyFailure::Signature(SignatureError::Missing))
            )
        );
    }
}
