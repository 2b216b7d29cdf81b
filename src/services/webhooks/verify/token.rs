//! Senders that cannot sign and present the secret itself: GitLab's `X-Gitlab-Token`, and
//! any fixed header a product lets an admin add (ServiceDesk Plus custom webhooks, scripts),
//! named per agent, or `Authorization: Bearer <secret>`. Compared in constant time (of the
//! SHA-256 digests, so that neither length nor prefix leaks). Nothing is signed: anyone who
//! sees one request can send more, so these agents want HTTPS and, where the sender has
//! one, a delivery id.

use super::{header, Delivery, IdSource, Scheme, Signed, Verified, VerifyFailure};
use crate::crypto::{signature::SignatureError, InboundSecret};

fn check(presented: Option<&str>, secrets: &[&InboundSecret]) -> Result<(), VerifyFailure> {
    let presented = presented.ok_or(SignatureError::Missing)?;
    if secrets
        .iter()
        .any(|secret| secret.matches_token(presented.as_bytes()))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch.into())
    }
}

/// `Bearer <token>` (scheme name in any case), or `None`.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

pub struct Gitlab;

impl Scheme for Gitlab {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = header(delivery.headers, "x-gitlab-token")
            .map_err(VerifyFailure::from)
            .and_then(|token| check(token, secrets));
        ("gitlab_token", result)
    }

    /// GitLab 17.4+ sends `Idempotency-Key`, the same on its retries; older ones only the
    /// event's `X-Gitlab-Event-UUID`.
    fn delivery_id(&self) -> IdSource {
        IdSource::Headers(&["idempotency-key", "x-gitlab-event-uuid"])
    }

    fn sign(&self, secret: &InboundSecret, _body: &[u8], _now: i64) -> Signed {
        Signed {
            scheme: "gitlab_token",
            headers: vec![("X-Gitlab-Token".into(), secret.to_text())],
        }
    }
}

/// The token in the header the admin named (stored lower case), else in
/// `Authorization: Bearer`.
pub struct Header {
    name: String,
}

impl Header {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_ascii_lowercase(),
        }
    }
}

impl Scheme for Header {
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified {
        let result = (|| {
            let named = header(delivery.headers, &self.name)?;
            let token = match named {
                // A header named `Authorization` holds `Bearer <token>` or the bare token.
                Some(value) if self.name == "authorization" => Some(bearer(value).unwrap_or(value)),
                Some(value) => Some(value),
                None => header(delivery.headers, "authorization")?.and_then(bearer),
            };
            Ok::<_, SignatureError>(token)
        })()
        .map_err(VerifyFailure::from)
        .and_then(|token| check(token, secrets));
        ("header_token", result)
    }

    fn delivery_id(&self) -> IdSource {
        IdSource::Headers(&["idempotency-key"])
    }

    fn sign(&self, secret: &InboundSecret, _body: &[u8], _now: i64) -> Signed {
        Signed {
            scheme: "header_token",
            headers: vec![(self.name.clone(), secret.to_text())],
        }
    }

    fn secret_header(&self) -> Option<&str> {
        Some(&self.name)
    }
}
