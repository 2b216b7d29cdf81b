//! Webhook signatures: `X-Hub-Signature-256` (GitHub style) and Standard Webhooks.
//!
//! Both verify over the raw request bytes, compare in constant time and fail with a typed
//! [`SignatureError`] whose text is safe to return to the caller: it never says how close a
//! guess was, and never contains a key, a body or a signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const HUB_PREFIX: &str = "sha256=";
const SHA256_LEN: usize = 32;

/// Why a signature was not accepted. All of these map to 401 on the webhook route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature missing")]
    Missing,
    #[error("signature malformed")]
    Malformed,
    #[error("signature mismatch")]
    Mismatch,
    #[error("signature timestamp outside the allowed window")]
    Expired,
}

pub(in crate::crypto) fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// `sha256=` + lowercase hex HMAC-SHA256 of the raw body, as GitHub sends it.
pub fn hub_signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(key);
    mac.update(body);
    format!("{HUB_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an `X-Hub-Signature-256` (or `X-Webhook-Signature`) header against the raw body.
///
/// The header must be `sha256=` followed by exactly 64 hex digits, in either case. The digest
/// is decoded first and then compared by `verify_slice`, which is constant time; comparing the
/// hex text instead would be neither case-insensitive nor constant time.
pub fn verify_hub_signature(key: &[u8], body: &[u8], header: &str) -> Result<(), SignatureError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let digits = header
        .strip_prefix(HUB_PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let mut expected = [0u8; SHA256_LEN];
    // decode_to_slice insists on exactly 2 * 32 hex digits, so the length check is implied.
    hex::decode_to_slice(digits, &mut expected).map_err(|_| SignatureError::Malformed)?;

    let mut mac = keyed(key);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// `Ok` when any of `candidates` is `expected`, else `Mismatch`. Every candidate is compared,
/// each in constant time, so the time taken says nothing about which one (or how much of
/// one) matched.
pub(in crate::crypto) fn matches_any(
    expected: &[u8; SHA256_LEN],
    candidates: &[[u8; SHA256_LEN]],
) -> Result<(), SignatureError> {
    use subtle::ConstantTimeEq;

    let matched = candidates
        .iter()
        .fold(subtle::Choice::from(0), |found, candidate| {
            found | expected.ct_eq(candidate)
        });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The Standard Webhooks scheme (<https://www.standardwebhooks.com/>): headers `webhook-id`,
/// `webhook-timestamp` and `webhook-signature`, signed content `{id}.{timestamp}.{body}`, and
/// a key that is the decoded secret bytes (not the `whsec_` text).
pub mod standard_webhooks {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use hmac::Mac;

    use super::{keyed, SignatureError, SHA256_LEN};

    /// How far `webhook-timestamp` may be from our clock, either way. Bounds how long a
    /// captured request can be replayed, while allowing for ordinary clock skew.
    pub const TOLERANCE_SECONDS: i64 = 300;

    const VERSION: &str = "v1";
    /// Standard base64 of 32 bytes, with padding.
    const SIGNATURE_BASE64_LEN: usize = 44;

    fn digest(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> [u8; SHA256_LEN] {
        let mut mac = keyed(key);
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// `v1,<standard base64 HMAC-SHA256 of "{msg_id}.{timestamp}.{body}">`.
    pub fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!(
            "{VERSION},{}",
            STANDARD.encode(digest(key, msg_id, timestamp, body))
        )
    }

    /// Verifies a `webhook-signature` header, given the other two headers and our clock `now`
    /// (Unix seconds; a parameter so tests and callers control time).
    ///
    /// The timestamp is checked before any HMAC work, so stale or far-future requests are
    /// cheap to refuse. `signatures` may hold several space-separated entries (senders list
    /// one per active secret during rotation); entries of other versions are skipped, and the
    /// request passes if any `v1` entry matches. Every entry is compared, in constant time,
    /// against one HMAC computed up front.
    pub fn verify(
        key: &[u8],
        msg_id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let (msg_id, timestamp, signatures) = (msg_id.trim(), timestamp.trim(), signatures.trim());
        if msg_id.is_empty() || timestamp.is_empty() || signatures.is_empty() {
            return Err(SignatureError::Missing);
        }
        let timestamp = parse_timestamp(timestamp)?;
        if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
            return Err(SignatureError::Expired);
        }

        let candidates: Vec<[u8; SHA256_LEN]> = signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == VERSION)
            .filter_map(|(_, encoded)| decode_signature(encoded))
            .collect();
        if candidates.is_empty() {
            return Err(SignatureError::Malformed);
        }

        let expected = digest(key, msg_id, timestamp, body);
        super::matches_any(&expected, &candidates)
    }

    /// Plain decimal digits only: `i64::from_str` would also take a sign, and the signed
    /// content is rebuilt from the parsed number, so only canonical spellings can match.
    fn parse_timestamp(text: &str) -> Result<i64, SignatureError> {
        if !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(SignatureError::Malformed);
        }
        text.parse().map_err(|_| SignatureError::Malformed)
    }

    fn decode_signature(encoded: &str) -> Option<[u8; SHA256_LEN]> {
        if encoded.len() != SIGNATURE_BASE64_LEN {
            return None;
        }
        STANDARD.decode(encoded).ok()?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use rand::{Rng, RngCore};
    use serde::Deserialize;

    use super::standard_webhooks::{self, TOLERANCE_SECONDS};
    use super::*;

    // Public vectors; sources in tests/fixtures/vectors/README.md and in each file.
    const RFC4231: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/hmac_sha256_rfc4231.json"
    ));
    const GITHUB: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/github_x_hub_signature_256.json"
    ));
    const STANDARD_WEBHOOKS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/standard_webhooks_vectors.json"
    ));

    #[derive(Deserialize)]
    struct Rfc4231 {
        vectors: Vec<Rfc4231Case>,
    }

    #[derive(Deserialize)]
    struct Rfc4231Case {
        case: u32,
        key_hex: String,
        data_hex: String,
        hmac_sha256: Option<String>,
        hmac_sha256_truncated_128: Option<String>,
    }

    #[derive(Deserialize)]
    struct GithubVector {
        secret_utf8: String,
        payload_utf8: String,
        x_hub_signature_256: String,
    }

    #[derive(Deserialize)]
    struct StandardWebhooksVector {
        secret: String,
        webhook_id: String,
        webhook_timestamp: i64,
        payload: String,
        expected_webhook_signature: String,
        negative_examples: Vec<NegativeExample>,
        tolerance_seconds: i64,
    }

    #[derive(Deserialize)]
    struct NegativeExample {
        why: String,
        webhook_signature: String,
    }

    fn github() -> GithubVector {
        serde_json::from_str(GITHUB).unwrap()
    }

    fn standard() -> (StandardWebhooksVector, Vec<u8>) {
        let vector: StandardWebhooksVector = serde_json::from_str(STANDARD_WEBHOOKS).unwrap();
        // The vector's secret is 24 bytes, so it goes through base64 directly rather than
        // WebhookSecret (which is always 32); the signing functions take any key length.
        let encoded = vector.secret.strip_prefix("whsec_").unwrap();
        let key = STANDARD.decode(encoded).unwrap();
        (vector, key)
    }

    #[test]
    fn rfc4231_cases_1_to_7() {
        let rfc: Rfc4231 = serde_json::from_str(RFC4231).unwrap();
        let cases: Vec<u32> = rfc.vectors.iter().map(|case| case.case).collect();
        assert_eq!(cases, [1, 2, 3, 4, 5, 6, 7]);
        for case in rfc.vectors {
            let key = hex::decode(&case.key_hex).unwrap();
            let data = hex::decode(&case.data_hex).unwrap();
            let signature = hub_signature(&key, &data);
            match (case.hmac_sha256, case.hmac_sha256_truncated_128) {
                (Some(full), _) => {
                    assert_eq!(signature, format!("sha256={full}"), "case {}", case.case);
                    assert_eq!(verify_hub_signature(&key, &data, &signature), Ok(()));
                }
                (None, Some(truncated)) => {
                    assert!(
                        signature.starts_with(&format!("sha256={truncated}")),
                        "case {}",
                        case.case
                    );
                    let mut mac = keyed(&key);
                    mac.update(&data);
                    mac.verify_truncated_left(&hex::decode(&truncated).unwrap())
                        .expect("truncated tag");
                }
                (None, None) => panic!("case {} has no expected value", case.case),
            }
        }
    }

    #[test]
    fn github_documented_example_signs_and_verifies() {
        let vector = github();
        let (key, body) = (
            vector.secret_utf8.as_bytes(),
            vector.payload_utf8.as_bytes(),
        );
        assert_eq!(hub_signature(key, body), vector.x_hub_signature_256);
        assert_eq!(
            verify_hub_signature(key, body, &vector.x_hub_signature_256),
            Ok(())
        );
        let upper = format!("sha256={}", vector.x_hub_signature_256[7..].to_uppercase());
        assert_eq!(verify_hub_signature(key, body, &upper), Ok(()));
        let padded = format!("  {}\r\n", vector.x_hub_signature_256);
        assert_eq!(verify_hub_signature(key, body, &padded), Ok(()));
    }

    #[test]
    fn one_flipped_body_byte_is_a_mismatch() {
        let vector = github();
        let mut body = vector.payload_utf8.into_bytes();
        body[0] ^= 0x20;
        assert_eq!(
            verify_hub_signature(
                vector.secret_utf8.as_bytes(),
                &body,
                &vector.x_hub_signature_256
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_hub_headers_are_refused() {
        let vector = github();
        let (key, body) = (
            vector.secret_utf8.as_bytes(),
            vector.payload_utf8.as_bytes(),
        );
        let digits = &vector.x_hub_signature_256[7..];
        let sha1 = format!("sha1={}", &digits[..40]);
        let short = format!("sha256={}", &digits[..62]);
        let long = format!("sha256={digits}00");
        let non_hex = format!("sha256={}zz", &digits[..62]);
        let upper_prefix = format!("SHA256={digits}");
        let inner_space = format!("sha256= {digits}");
        for header in [
            digits,
            sha1.as_str(),
            short.as_str(),
            long.as_str(),
            non_hex.as_str(),
            upper_prefix.as_str(),
            inner_space.as_str(),
            "sha256=",
        ] {
            assert_eq!(
                verify_hub_signature(key, body, header),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
        for header in ["", "   "] {
            assert_eq!(
                verify_hub_signature(key, body, header),
                Err(SignatureError::Missing)
            );
        }
    }

    #[test]
    fn standard_webhooks_vector_signs_and_verifies_at_its_timestamp() {
        let (vector, key) = standard();
        assert_eq!(vector.tolerance_seconds, TOLERANCE_SECONDS);
        let body = vector.payload.as_bytes();
        let timestamp = vector.webhook_timestamp;
        assert_eq!(
            standard_webhooks::sign(&key, &vector.webhook_id, timestamp, body),
            vector.expected_webhook_signature
        );
        assert_eq!(
            standard_webhooks::verify(
                &key,
                &vector.webhook_id,
                &timestamp.to_string(),
                &vector.expected_webhook_signature,
                body,
                timestamp,
            ),
            Ok(())
        );
    }

    #[test]
    fn standard_webhooks_negative_examples_are_refused() {
        let (vector, key) = standard();
        let timestamp = vector.webhook_timestamp.to_string();
        let verify = |signatures: &str| {
            standard_webhooks::verify(
                &key,
                &vector.webhook_id,
                &timestamp,
                signatures,
                vector.payload.as_bytes(),
                vector.webhook_timestamp,
            )
        };
        assert!(!vector.negative_examples.is_empty());
        for example in &vector.negative_examples {
            assert!(
                verify(&example.webhook_signature).is_err(),
                "{}",
                example.why
            );
        }
        // Specifically: a changed signature is a mismatch, an unknown version is unusable.
        assert_eq!(
            verify(&vector.negative_examples[0].webhook_signature),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&vector.negative_examples[1].webhook_signature),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn standard_webhooks_tolerance_is_inclusive_and_symmetric() {
        let (vector, key) = standard();
        let body = vector.payload.as_bytes();
        let sent = vector.webhook_timestamp;
        let verify_at = |now: i64| {
            standard_webhooks::verify(
                &key,
                &vector.webhook_id,
                &sent.to_string(),
                &vector.expected_webhook_signature,
                body,
                now,
            )
        };
        // Our clock ahead of the sender: the request is old.
        assert_eq!(verify_at(sent + TOLERANCE_SECONDS), Ok(()));
        assert_eq!(
            verify_at(sent + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Expired)
        );
        // Our clock behind the sender: the request is from the future.
        assert_eq!(verify_at(sent - TOLERANCE_SECONDS), Ok(()));
        assert_eq!(
            verify_at(sent - TOLERANCE_SECONDS - 1),
            Err(SignatureError::Expired)
        );
        // Extremes do not overflow.
        assert_eq!(verify_at(i64::MAX), Err(SignatureError::Expired));
        assert_eq!(verify_at(i64::MIN), Err(SignatureError::Expired));
    }

    #[test]
    fn expiry_is_checked_before_the_signature() {
        let (vector, key) = standard();
        assert_eq!(
            standard_webhooks::verify(
                &key,
                &vector.webhook_id,
                &vector.webhook_timestamp.to_string(),
                "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                vector.payload.as_bytes(),
                vector.webhook_timestamp + 3600,
            ),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn any_matching_entry_among_several_is_enough() {
        let (vector, key) = standard();
        let timestamp = vector.webhook_timestamp.to_string();
        let verify = |signatures: &str| {
            standard_webhooks::verify(
                &key,
                &vector.webhook_id,
                &timestamp,
                signatures,
                vector.payload.as_bytes(),
                vector.webhook_timestamp,
            )
        };
        let valid = &vector.expected_webhook_signature;
        let wrong = &vector.negative_examples[0].webhook_signature;
        let other_version = &vector.negative_examples[1].webhook_signature;
        assert_eq!(verify(&format!("{wrong} {valid}")), Ok(()));
        assert_eq!(verify(&format!("{other_version}  {valid}")), Ok(()));
        assert_eq!(verify(&format!("v1,garbage {valid} v1a,x")), Ok(()));
        assert_eq!(
            verify(&format!("{wrong} {other_version}")),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_standard_webhooks_headers_are_refused() {
        let (vector, key) = standard();
        let body = vector.payload.as_bytes();
        let now = vector.webhook_timestamp;
        let valid = vector.expected_webhook_signature.as_str();
        let id = vector.webhook_id.as_str();
        let verify = |id: &str, timestamp: &str, signatures: &str| {
            standard_webhooks::verify(&key, id, timestamp, signatures, body, now)
        };
        let ts = now.to_string();
        for timestamp in [
            "abc",
            "+1614265330",
            "-1",
            "1614265330.0",
            "99999999999999999999",
        ] {
            assert_eq!(
                verify(id, timestamp, valid),
                Err(SignatureError::Malformed),
                "{timestamp:?}"
            );
        }
        for signatures in ["v1", "v1,", "v1,not-base64!", "g0hM9SsE", "v1,AAAA"] {
            assert_eq!(
                verify(id, &ts, signatures),
                Err(SignatureError::Malformed),
                "{signatures:?}"
            );
        }
        assert_eq!(verify("", &ts, valid), Err(SignatureError::Missing));
        assert_eq!(verify(id, "", valid), Err(SignatureError::Missing));
        assert_eq!(verify(id, &ts, " "), Err(SignatureError::Missing));
    }

    #[test]
    fn error_texts_are_short_and_generic() {
        for error in [
            SignatureError::Missing,
            SignatureError::Malformed,
            SignatureError::Mismatch,
            SignatureError::Expired,
        ] {
            let text = error.to_string();
            assert!(text.len() < 60 && text.starts_with("signature"), "{text}");
        }
    }

    fn random_bytes(rng: &mut impl RngCore, max_len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; rng.random_range(0..=max_len)];
        rng.fill_bytes(&mut bytes);
        bytes
    }

    #[test]
    fn property_sign_then_verify_and_any_flipped_byte_fails() {
        let mut rng = rand::rng();
        for _ in 0..500 {
            let key = random_bytes(&mut rng, 100);
            let mut body = random_bytes(&mut rng, 512);
            body.push(rng.random());

            let header = hub_signature(&key, &body);
            assert_eq!(verify_hub_signature(&key, &body, &header), Ok(()));

            let index = rng.random_range(0..body.len());
            let bit = 1u8 << rng.random_range(0..8);
            body[index] ^= bit;
            assert_eq!(
                verify_hub_signature(&key, &body, &header),
                Err(SignatureError::Mismatch)
            );
            body[index] ^= bit;

            let mut digest = hex::decode(&header[7..]).unwrap();
            digest[rng.random_range(0..32)] ^= bit;
            let forged = format!("sha256={}", hex::encode(&digest));
            assert_eq!(
                verify_hub_signature(&key, &body, &forged),
                Err(SignatureError::Mismatch)
            );

            if !key.is_empty() {
                let mut other_key = key.clone();
                other_key[rng.random_range(0..key.len())] ^= bit;
                assert_eq!(
                    verify_hub_signature(&other_key, &body, &header),
                    Err(SignatureError::Mismatch)
                );
            }

            let now = rng.random_range(0..=4_000_000_000i64);
            let id = format!("msg_{}", rng.random::<u64>());
            let signed = standard_webhooks::sign(&key, &id, now, &body);
            let ts = now.to_string();
            assert_eq!(
                standard_webhooks::verify(&key, &id, &ts, &signed, &body, now),
                Ok(())
            );
            body[index] ^= bit;
            assert_eq!(
                standard_webhooks::verify(&key, &id, &ts, &signed, &body, now),
                Err(SignatureError::Mismatch)
            );
        }
    }

    #[test]
    fn property_parsers_never_panic_on_random_headers() {
        const PIECES: &[&str] = &[
            "sha256=", "sha1=", "v1,", "v2,", " ", ",", "=", "0", "f", "F", "z", "+", "/", "é",
            "€", "💥", "\u{0}", "\t", "\n", "AAAA", "g0hM9SsE", "-", ".",
        ];
        let mut rng = rand::rng();
        let key = random_bytes(&mut rng, 64);
        for _ in 0..2_000 {
            let mut header = String::new();
            for _ in 0..rng.random_range(0..40) {
                if rng.random_bool(0.2) {
                    header.push(char::from(rng.random_range(0x20u8..0x7f)));
                } else {
                    header.push_str(PIECES[rng.random_range(0..PIECES.len())]);
                }
            }
            if rng.random_bool(0.1) {
                header = String::from_utf8_lossy(&random_bytes(&mut rng, 120)).into_owned();
            }
            let _ = verify_hub_signature(&key, b"body", &header);
            let _ = standard_webhooks::verify(&key, "msg", &header, &header, b"body", 0);
            let _ = standard_webhooks::verify(&key, &header, "0", &header, b"body", 0);
            assert_ne!(
                verify_hub_signature(&key, b"body", &header),
                Ok(()),
                "{header:?}"
            );
        }
    }
}
