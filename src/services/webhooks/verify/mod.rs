//! Who sent a delivery: one file per sender scheme, behind one [`Scheme`] trait.
//!
//! A scheme knows its sender's headers: it checks the signature (or token) against the
//! agent's secrets, says where the delivery id is, answers the sender's verification
//! handshake if it has one, and signs a delivery the way that sender would (for the admin
//! UI's test sender and for tests). The MACs and comparisons themselves are
//! [`InboundSecret`]'s, so key bytes stay in `crypto`, and every comparison is constant time.
//!
//! Adding a sender is one new file here and one arm in [`for_agent`].
//!
//! Rules every scheme keeps:
//! - headers that are absent or empty are `Missing`; present but unreadable are `Malformed`;
//! - a signed timestamp is checked before any HMAC work, within [`TOLERANCE_SECONDS`] either
//!   way, so stale or far-future deliveries are cheap to refuse;
//! - every signature the sender lists is tried (senders list one per active secret during
//!   their own rotations), against the current secret and, during a grace period, the
//!   previous one.

mod default;
mod pagerduty;
mod shopify;
mod slack;
mod stripe;
mod token;
mod zendesk;

use axum::http::HeaderMap;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::Value;

use super::WebhookError;
use crate::{
    crypto::{inbound::Mac256, signature::SignatureError, InboundSecret},
    domain::{Verification, VerificationScheme},
};

/// How far a signed timestamp may be from our clock, either way: Standard Webhooks' own
/// tolerance, and Stripe's and Slack's.
pub use crate::crypto::signature::standard_webhooks::TOLERANCE_SECONDS;

/// One delivery as a scheme sees it: raw headers and bytes, and our clock (Unix seconds; a
/// field so that tests control time).
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub now: i64,
}

/// Why a delivery was not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyFailure {
    Signature(SignatureError),
    /// The agent requires a signed timestamp and the delivery had none.
    TimestampRequired,
}

impl VerifyFailure {
    /// For the audit entry and the log line.
    pub fn reason(self) -> &'static str {
        match self {
            VerifyFailure::Signature(SignatureError::Missing) => "missing",
            VerifyFailure::Signature(SignatureError::Malformed) => "malformed",
            VerifyFailure::Signature(SignatureError::Mismatch) => "mismatch",
            VerifyFailure::Signature(SignatureError::Expired) => "expired",
            VerifyFailure::TimestampRequired => "timestamp_required",
        }
    }

    /// The answer: `Request expired`, `Signed timestamp required`, or `Invalid HMAC signature`.
    pub fn into_error(self) -> WebhookError {
        match self {
            VerifyFailure::Signature(SignatureError::Expired) => WebhookError::Expired,
            VerifyFailure::TimestampRequired => WebhookError::TimestampRequired,
            VerifyFailure::Signature(_) => WebhookError::InvalidSignature,
        }
    }
}

impl From<SignatureError> for VerifyFailure {
    fn from(err: SignatureError) -> Self {
        VerifyFailure::Signature(err)
    }
}

/// What a verification found: the name of the signature form the delivery used (for the
/// audit entry, e.g. `stripe` or `x_hub_signature_256`) and whether it passed.
pub type Verified = (&'static str, Result<(), VerifyFailure>);

/// Where a scheme's delivery id is: the first of these headers that is present, or a string
/// field of the (verified) JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSource {
    Headers(&'static [&'static str]),
    BodyField(&'static str),
}

/// The default scheme's delivery ids (Standard Webhooks, GitHub, anyone), also used for
/// requests refused before their agent, and so its scheme, was known.
/// `X-Atlassian-Webhook-Identifier` is Jira Cloud's, the same on its retries.
pub const DEFAULT_IDS: IdSource = IdSource::Headers(&[
    "webhook-id",
    "x-github-delivery",
    "x-atlassian-webhook-identifier",
    "idempotency-key",
]);

/// A delivery signed as the sender would sign it.
#[derive(Debug, Clone)]
pub struct Signed {
    pub scheme: &'static str,
    pub headers: Vec<(String, String)>,
}

pub trait Scheme: Send + Sync {
    /// Checks the delivery against `secrets` (the current one first).
    fn verify(&self, delivery: &Delivery<'_>, secrets: &[&InboundSecret]) -> Verified;

    /// Where the delivery id is, for idempotency.
    fn delivery_id(&self) -> IdSource;

    /// If the verified delivery is the sender's verification request: the body of its 200,
    /// or why it is refused. Such a request is never queued.
    fn handshake(&self, _body: &[u8]) -> Option<Result<Value, WebhookError>> {
        None
    }

    /// Signature headers for `body` at `now`, as the sender would send them.
    fn sign(&self, secret: &InboundSecret, body: &[u8], now: i64) -> Signed;

    /// A header whose value is the secret itself and whose name the request log cannot
    /// guess (the `header_token` scheme's): redacted there.
    fn secret_header(&self) -> Option<&str> {
        None
    }
}

/// The scheme an agent's deliveries are verified with; `None` for settings that break the
/// stored invariants (a `header_token` without its header), which the database refuses.
pub fn for_agent(verification: &Verification, require_timestamp: bool) -> Option<Box<dyn Scheme>> {
    Some(match verification.scheme {
        VerificationScheme::Default => Box::new(default::DefaultScheme { require_timestamp }),
        VerificationScheme::Stripe => Box::new(stripe::Stripe),
        VerificationScheme::Slack => Box::new(slack::Slack),
        VerificationScheme::Shopify => Box::new(shopify::Shopify),
        VerificationScheme::Zendesk => Box::new(zendesk::Zendesk),
        VerificationScheme::Pagerduty => Box::new(pagerduty::PagerDuty),
        VerificationScheme::GitlabToken => Box::new(token::Gitlab),
        VerificationScheme::HeaderToken => {
            Box::new(token::Header::new(verification.header_name.as_deref()?))
        }
    })
}

/// The delivery id, if the sender sent one: trimmed, visible ASCII, at most
/// [`super::MAX_DELIVERY_ID_CHARS`]. `payload` is the verified body's JSON.
pub fn delivery_id(
    source: IdSource,
    headers: &HeaderMap,
    payload: &Value,
) -> Result<Option<String>, WebhookError> {
    let text = match source {
        IdSource::Headers(names) => {
            let Some(value) = names.iter().find_map(|name| headers.get(*name)) else {
                return Ok(None);
            };
            value
                .to_str()
                .map_err(|_| WebhookError::InvalidDeliveryId)?
        }
        IdSource::BodyField(field) => match payload.get(field).and_then(Value::as_str) {
            Some(text) => text,
            None => return Ok(None),
        },
    };
    let id = text.trim();
    if id.is_empty() {
        return Ok(None);
    }
    if id.chars().count() > super::MAX_DELIVERY_ID_CHARS {
        return Err(WebhookError::DeliveryIdTooLong);
    }
    if !id
        .bytes()
        .all(|byte| byte.is_ascii_graphic() || byte == b' ')
    {
        return Err(WebhookError::InvalidDeliveryId);
    }
    Ok(Some(id.to_owned()))
}

/// The delivery id as the request log shows it, whatever the sender sent (cut to the
/// longest id kept), also when the request was refused; body fields only once verified.
pub fn logged_delivery_id(
    source: IdSource,
    headers: &HeaderMap,
    payload: Option<&Value>,
) -> Option<String> {
    let text = match source {
        IdSource::Headers(names) => {
            let value = names.iter().find_map(|name| headers.get(*name))?;
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        }
        IdSource::BodyField(field) => payload?.get(field)?.as_str()?.to_owned(),
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.chars().take(super::MAX_DELIVERY_ID_CHARS).collect())
}

/// A header's text: `None` when absent or blank, `Malformed` when not visible ASCII.
fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, SignatureError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| SignatureError::Malformed)?
                .trim();
            Ok((!text.is_empty()).then_some(text))
        }
    }
}

/// A header the scheme cannot do without.
fn required<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, SignatureError> {
    header(headers, name)?.ok_or(SignatureError::Missing)
}

/// Tries each secret in turn while the answer is `Mismatch`; any other answer (a pass, or
/// a header problem no secret can fix) is final.
fn with_any_secret(
    secrets: &[&InboundSecret],
    mut check: impl FnMut(&InboundSecret) -> Result<(), SignatureError>,
) -> Result<(), SignatureError> {
    let mut outcome = Err(SignatureError::Mismatch);
    for secret in secrets {
        outcome = check(secret);
        if !matches!(outcome, Err(SignatureError::Mismatch)) {
            break;
        }
    }
    outcome
}

/// Unix seconds in plain decimal digits (no sign, no fraction): the signed content is the
/// header's text, so only canonical spellings are taken.
fn unix_seconds(text: &str) -> Result<i64, SignatureError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(SignatureError::Malformed);
    }
    text.parse().map_err(|_| SignatureError::Malformed)
}

/// `Expired` when `timestamp` is more than [`TOLERANCE_SECONDS`] from `now`.
fn within_window(timestamp: i64, now: i64) -> Result<(), SignatureError> {
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        Err(SignatureError::Expired)
    } else {
        Ok(())
    }
}

/// 64 hex digits (either case) as a MAC; anything else `None`.
fn hex_mac(text: &str) -> Option<Mac256> {
    let mut mac = [0u8; 32];
    hex::decode_to_slice(text, &mut mac).ok()?;
    Some(mac)
}

/// Standard base64 (with padding) of 32 bytes as a MAC; anything else `None`.
fn base64_mac(text: &str) -> Option<Mac256> {
    if text.len() != 44 {
        return None;
    }
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// `prefix` + `=` + hex entries of a comma-separated list (`v1=…,v1=…`), skipping other keys
/// and unreadable entries.
fn listed_hex_macs(list: &str, key: &str) -> Vec<Mac256> {
    list.split(',')
        .filter_map(|entry| entry.trim().split_once('='))
        .filter(|(name, _)| name.trim() == key)
        .filter_map(|(_, value)| hex_mac(value.trim()))
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use axum::http::{HeaderName, HeaderValue};
    use rand::{Rng, RngCore};

    use super::*;
    use crate::crypto::ProvidedSecret;

    const NOW: i64 = 1_700_000_000;

    pub fn headers(pairs: &[(&str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn signed_headers(signed: &Signed) -> HeaderMap {
        let pairs: Vec<(&str, String)> = signed
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        headers(&pairs)
    }

    fn every_scheme() -> Vec<(VerificationScheme, Box<dyn Scheme>)> {
        VerificationScheme::ALL
            .into_iter()
            .flat_map(|scheme| {
                let header_name =
                    (scheme == VerificationScheme::HeaderToken).then(|| "x-sdp-token".to_owned());
                let verification = Verification {
                    scheme,
                    header_name,
                };
                // The default scheme both ways: GitHub style and Standard Webhooks.
                let timestamps: &[bool] = if scheme == VerificationScheme::Default {
                    &[false, true]
                } else {
                    &[false]
                };
                timestamps
                    .iter()
                    .map(|&required| (scheme, for_agent(&verification, required).unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn secrets() -> [InboundSecret; 2] {
        [
            InboundSecret::generate(),
            InboundSecret::Provided(
                ProvidedSecret::parse("whsec_provider_made_0123456789").unwrap(),
            ),
        ]
    }

    fn check(
        scheme: &dyn Scheme,
        headers: &HeaderMap,
        body: &[u8],
        secrets: &[&InboundSecret],
        now: i64,
    ) -> Result<(), VerifyFailure> {
        scheme.verify(&Delivery { headers, body, now }, secrets).1
    }

    #[test]
    fn every_scheme_verifies_what_it_signs_and_nothing_else() {
        let body = br#"{"id":"evt_1","event_id":"Ev1","n":1}"#;
        for (name, scheme) in every_scheme() {
            for secret in secrets() {
                let signed = signed_headers(&scheme.sign(&secret, body, NOW));
                assert_eq!(
                    check(&*scheme, &signed, body, &[&secret], NOW),
                    Ok(()),
                    "{name}"
                );

                let other = InboundSecret::generate();
                assert_eq!(
                    check(&*scheme, &signed, body, &[&other], NOW),
                    Err(VerifyFailure::Signature(SignatureError::Mismatch)),
                    "{name}: wrong secret"
                );
                // During a grace period the previous secret still verifies.
                assert_eq!(
                    check(&*scheme, &signed, body, &[&other, &secret], NOW),
                    Ok(()),
                    "{name}"
                );

                if !name.is_token() {
                    let tampered = br#"{"id":"evt_1","event_id":"Ev1","n":2}"#;
                    assert_eq!(
                        check(&*scheme, &signed, tampered, &[&secret], NOW),
                        Err(VerifyFailure::Signature(SignatureError::Mismatch)),
                        "{name}: tampered body"
                    );
                }
                let expired = check(
                    &*scheme,
                    &signed,
                    body,
                    &[&secret],
                    NOW + TOLERANCE_SECONDS + 1,
                );
                let early = check(
                    &*scheme,
                    &signed,
                    body,
                    &[&secret],
                    NOW - TOLERANCE_SECONDS - 1,
                );
                let on_edge = check(&*scheme, &signed, body, &[&secret], NOW + TOLERANCE_SECONDS);
                assert_eq!(on_edge, Ok(()), "{name}");
                let signs_time = name.signs_timestamp() || signed.contains_key("webhook-timestamp");
                let want = if signs_time {
                    Err(VerifyFailure::Signature(SignatureError::Expired))
                } else {
                    Ok(())
                };
                assert_eq!((expired, early), (want, want), "{name}: timestamps");

                assert_eq!(
                    check(&*scheme, &HeaderMap::new(), body, &[&secret], NOW)
                        .map_err(|f| f.reason()),
                    Err(if signed.contains_key("webhook-timestamp") {
                        "timestamp_required"
                    } else {
                        "missing"
                    }),
                    "{name}: unsigned"
                );
            }
        }
    }

    /// Property: whatever the headers say, every scheme answers (never panics) and random
    /// values never verify.
    #[test]
    fn random_headers_never_panic_and_never_verify() {
        let names = [
            "webhook-id",
            "webhook-timestamp",
            "webhook-signature",
            "x-hub-signature-256",
            "x-hub-signature",
            "stripe-signature",
            "x-slack-signature",
            "x-slack-request-timestamp",
            "x-shopify-hmac-sha256",
            "x-zendesk-webhook-signature",
            "x-zendesk-webhook-signature-timestamp",
            "x-pagerduty-signature",
            "x-gitlab-token",
            "x-sdp-token",
            "authorization",
        ];
        let pieces = [
            "v1,",
            "v1=",
            "v0=",
            "t=",
            "sha256=",
            " ",
            ",",
            "=",
            "0",
            "f",
            "whsec_",
            "AAAA",
            "1700000000",
            "2023-11-14T22:13:20Z",
            "Bearer ",
            "\u{00e9}",
            "==",
        ];
        let schemes = every_scheme();
        let key = InboundSecret::generate();
        let mut rng = rand::rng();
        for _ in 0..1_000 {
            let mut map = HeaderMap::new();
            for name in names {
                if rng.random_bool(0.5) {
                    let value: String = (0..rng.random_range(0..12))
                        .map(|_| pieces[rng.random_range(0..pieces.len())])
                        .collect();
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        map.insert(name, value);
                    }
                }
            }
            let mut body = vec![0u8; rng.random_range(0..64)];
            rng.fill_bytes(&mut body);
            for (name, scheme) in &schemes {
                assert!(
                    check(&**scheme, &map, &body, &[&key], NOW).is_err(),
                    "{name}: random headers verified: {map:?}"
                );
            }
        }
    }

    #[test]
    fn delivery_ids_come_from_the_schemes_place() {
        let payload = serde_json::json!({"id": "evt_1", "event_id": 7});
        let map = headers(&[
            ("x-gitlab-event-uuid", "e".into()),
            ("idempotency-key", " k ".into()),
        ]);
        assert_eq!(
            delivery_id(IdSource::BodyField("id"), &map, &payload)
                .unwrap()
                .as_deref(),
            Some("evt_1")
        );
        // Not a string: no id.
        assert_eq!(
            delivery_id(IdSource::BodyField("event_id"), &map, &payload).unwrap(),
            None
        );
        let gitlab = IdSource::Headers(&["idempotency-key", "x-gitlab-event-uuid"]);
        assert_eq!(
            delivery_id(gitlab, &map, &payload).unwrap().as_deref(),
            Some("k")
        );
        let long = headers(&[(
            "idempotency-key",
            "x".repeat(super::super::MAX_DELIVERY_ID_CHARS + 1),
        )]);
        assert!(matches!(
            delivery_id(gitlab, &long, &payload),
            Err(WebhookError::DeliveryIdTooLong)
        ));
        let control = serde_json::json!({"id": "evt\u{1}"});
        assert!(matches!(
            delivery_id(IdSource::BodyField("id"), &map, &control),
            Err(WebhookError::InvalidDeliveryId)
        ));
        assert_eq!(
            logged_delivery_id(IdSource::BodyField("id"), &map, None),
            None
        );
        assert_eq!(logged_delivery_id(gitlab, &map, None).as_deref(), Some("k"));
    }

    #[test]
    fn header_token_takes_the_named_header_or_a_bearer_token() {
        let secret =
            InboundSecret::Provided(ProvidedSecret::parse("sdp-fixed-token-0123").unwrap());
        let named = for_agent(
            &Verification {
                scheme: VerificationScheme::HeaderToken,
                header_name: Some("x-sdp-token".into()),
            },
            false,
        )
        .unwrap();
        let ok = |pairs: &[(&str, String)]| check(&*named, &headers(pairs), b"{}", &[&secret], NOW);
        assert_eq!(
            ok(&[("x-sdp-token", "sdp-fixed-token-0123".into())]),
            Ok(())
        );
        assert_eq!(
            ok(&[("authorization", "Bearer sdp-fixed-token-0123".into())]),
            Ok(())
        );
        assert_eq!(
            ok(&[("authorization", "bearer sdp-fixed-token-0123".into())]),
            Ok(())
        );
        assert!(ok(&[("authorization", "Basic sdp-fixed-token-0123".into())]).is_err());
        assert!(ok(&[("x-sdp-token", "sdp-fixed-token-012".into())]).is_err());
        // The named header wins: a wrong one is not rescued by a right bearer token.
        assert!(ok(&[
            ("x-sdp-token", "wrong".into()),
            ("authorization", "Bearer sdp-fixed-token-0123".into())
        ])
        .is_err());
        let authorization = for_agent(
            &Verification {
                scheme: VerificationScheme::HeaderToken,
                header_name: Some("authorization".into()),
            },
            false,
        )
        .unwrap();
        for value in ["Bearer sdp-fixed-token-0123", "sdp-fixed-token-0123"] {
            assert_eq!(
                check(
                    &*authorization,
                    &headers(&[("authorization", value.into())]),
                    b"{}",
                    &[&secret],
                    NOW
                ),
                Ok(())
            );
        }
    }

    #[derive(serde::Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
        negative: Vec<Negative>,
    }

    #[derive(serde::Deserialize, Clone)]
    struct Vector {
        secret: String,
        timestamp: Option<String>,
        body: String,
        header: String,
    }

    #[derive(serde::Deserialize)]
    struct Negative {
        vector: Option<usize>,
        secret: Option<String>,
        timestamp: Option<String>,
        body: Option<String>,
        header: String,
        why: String,
    }

    /// The request a vector describes, and the time it was sent.
    fn request(scheme: VerificationScheme, vector: &Vector) -> (HeaderMap, i64) {
        let ts = vector.timestamp.clone().unwrap_or_default();
        let now = match scheme {
            VerificationScheme::Zendesk => chrono::DateTime::parse_from_rfc3339(&ts)
                .unwrap()
                .timestamp(),
            VerificationScheme::Stripe | VerificationScheme::Slack => ts.parse().unwrap(),
            _ => NOW,
        };
        let pairs: Vec<(&str, String)> = match scheme {
            VerificationScheme::Stripe => vec![("stripe-signature", vector.header.clone())],
            VerificationScheme::Slack => vec![
                ("x-slack-request-timestamp", ts),
                ("x-slack-signature", vector.header.clone()),
            ],
            VerificationScheme::Shopify => vec![("x-shopify-hmac-sha256", vector.header.clone())],
            VerificationScheme::Zendesk => vec![
                ("x-zendesk-webhook-signature", vector.header.clone()),
                ("x-zendesk-webhook-signature-timestamp", ts),
            ],
            VerificationScheme::Pagerduty => vec![("x-pagerduty-signature", vector.header.clone())],
            other => panic!("no vectors for {other}"),
        };
        (headers(&pairs), now)
    }

    /// The providers' published vectors (and ones signed with their official libraries):
    /// sources in tests/fixtures/vectors/README.md and in each file.
    #[test]
    fn provider_vectors_verify_and_their_negatives_do_not() {
        let files = [
            (
                VerificationScheme::Stripe,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/vectors/stripe_signature.json"
                )),
            ),
            (
                VerificationScheme::Slack,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/vectors/slack_signature.json"
                )),
            ),
            (
                VerificationScheme::Shopify,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/vectors/shopify_hmac.json"
                )),
            ),
            (
                VerificationScheme::Zendesk,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/vectors/zendesk_signature.json"
                )),
            ),
            (
                VerificationScheme::Pagerduty,
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/vectors/pagerduty_signature.json"
                )),
            ),
        ];
        for (scheme_name, text) in files {
            let file: Vectors = serde_json::from_str(text).unwrap();
            let scheme = for_agent(
                &Verification {
                    scheme: scheme_name,
                    header_name: None,
                },
                false,
            )
            .unwrap();
            assert!(!file.vectors.is_empty() && !file.negative.is_empty());
            for (index, vector) in file.vectors.iter().enumerate() {
                let secret = InboundSecret::Provided(ProvidedSecret::for_vector(&vector.secret));
                let (map, now) = request(scheme_name, vector);
                assert_eq!(
                    check(&*scheme, &map, vector.body.as_bytes(), &[&secret], now),
                    Ok(()),
                    "{scheme_name} vector {index}"
                );
                // Our signing makes one of the signatures the vector lists.
                let ours = scheme.sign(&secret, vector.body.as_bytes(), now);
                let signature = &ours
                    .headers
                    .iter()
                    .find(|(name, _)| !name.to_ascii_lowercase().contains("timestamp"))
                    .unwrap()
                    .1;
                // The MAC itself: after `v1=` (Stripe, PagerDuty) or `v0=` (Slack), else the
                // whole base64 value (Shopify, Zendesk).
                let mac = ["v1=", "v0="]
                    .iter()
                    .find_map(|prefix| signature.split_once(prefix).map(|(_, mac)| mac))
                    .unwrap_or(signature);
                assert!(
                    mac.len() == 64 || mac.len() == 44,
                    "{scheme_name}: {signature}"
                );
                assert!(
                    vector.header.contains(mac),
                    "{scheme_name} vector {index}: {} not in {}",
                    signature,
                    vector.header
                );
            }
            for negative in &file.negative {
                let base = file.vectors[negative.vector.unwrap_or(0)].clone();
                let vector = Vector {
                    secret: negative.secret.clone().unwrap_or(base.secret),
                    timestamp: negative.timestamp.clone().or(base.timestamp),
                    body: negative.body.clone().unwrap_or(base.body),
                    header: negative.header.clone(),
                };
                let secret = InboundSecret::Provided(ProvidedSecret::for_vector(&vector.secret));
                let (map, now) = request(scheme_name, &vector);
                assert!(
                    check(&*scheme, &map, vector.body.as_bytes(), &[&secret], now).is_err(),
                    "{scheme_name}: {}",
                    negative.why
                );
            }
        }
    }

    #[test]
    fn slack_url_verification_is_a_handshake_and_never_a_delivery() {
        let slack = for_agent(
            &Verification {
                scheme: VerificationScheme::Slack,
                header_name: None,
            },
            false,
        )
        .unwrap();
        let answer = |body: &[u8]| {
            slack
                .handshake(body)
                .map(|answer| answer.map_err(|err| err.to_string()))
        };
        let body = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
        assert_eq!(
            answer(body),
            Some(Ok(
                serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
            ))
        );
        // Escaped text is read too (serde cannot borrow it).
        assert_eq!(
            answer(br#"{"type":"url\u005fverification","challenge":"a\"b"}"#),
            Some(Ok(serde_json::json!({"challenge": "a\"b"})))
        );
        // A url_verification that cannot be answered is refused, never queued.
        let long = format!(
            r#"{{"type":"url_verification","challenge":"{}"}}"#,
            "x".repeat(1025)
        );
        for refused in [
            &br#"{"type":"url_verification"}"#[..],
            br#"{"type":"url_verification","challenge":7}"#,
            long.as_bytes(),
        ] {
            assert_eq!(answer(refused), Some(Err("Invalid JSON payload".into())));
        }
        assert_eq!(
            answer(br#"{"type":"event_callback","challenge":"x"}"#),
            None
        );
        assert_eq!(answer(b"not json"), None);
        let stripe = for_agent(
            &Verification {
                scheme: VerificationScheme::Stripe,
                header_name: None,
            },
            false,
        )
        .unwrap();
        assert!(stripe.handshake(body).is_none());
    }
}
