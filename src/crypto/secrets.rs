//! The per-agent webhook secret.
//!
//! One secret, 32 random bytes, with two public spellings:
//! - [`WebhookSecret::to_base64`] (44 characters, standard alphabet) is what admins see and
//!   paste into the sending system. GitHub-style senders (`X-Hub-Signature-256`) use the
//!   UTF-8 bytes of that *text* as the HMAC key: see [`WebhookSecret::hub_key`].
//! - [`WebhookSecret::to_standard_webhooks`] (`whsec_<base64>`) is the Standard Webhooks
//!   spelling, whose HMAC key is the decoded bytes: see [`WebhookSecret::as_bytes`].

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};
use subtle::ConstantTimeEq;

use super::signature::{self, SignatureError};

/// What the UI and logs show in place of a secret.
pub const MASKED: &str = "••••••••";

const SECRET_LEN: usize = 32;
/// Standard base64 of 32 bytes, with its one `=` of padding.
const BASE64_LEN: usize = 44;
const STANDARD_WEBHOOKS_PREFIX: &str = "whsec_";

/// Why a value could not be read as a webhook secret. Never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("a webhook secret must be exactly {SECRET_LEN} bytes, got {0}")]
    WrongLength(usize),
    #[error("a webhook secret must be standard base64 with padding ({BASE64_LEN} characters)")]
    NotBase64,
    #[error("a Standard Webhooks secret must start with \"{STANDARD_WEBHOOKS_PREFIX}\"")]
    MissingPrefix,
}

/// A webhook signing secret: 32 bytes from the OS CSPRNG.
///
/// Deliberately neither `Display` nor `Serialize`: turning it into text is always an explicit
/// call, so it cannot slip into a log line or a JSON response by accident.
#[derive(Clone)]
pub struct WebhookSecret([u8; SECRET_LEN]);

impl WebhookSecret {
    /// A fresh secret from the operating system's CSPRNG.
    ///
    /// # Panics
    /// Only if the OS random number generator fails, when no secret would be safe.
    pub fn generate() -> Self {
        Self(super::os_random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretFormatError> {
        <[u8; SECRET_LEN]>::try_from(bytes)
            .map(Self)
            .map_err(|_| SecretFormatError::WrongLength(bytes.len()))
    }

    /// Parses the admin-facing spelling (standard base64, padded, 44 characters).
    ///
    /// Non-canonical encodings are refused: the text itself is the `X-Hub-Signature-256` key,
    /// so accepting a variant spelling would silently give the sender and us different keys.
    pub fn from_base64(text: &str) -> Result<Self, SecretFormatError> {
        let text = text.trim();
        if text.len() != BASE64_LEN {
            return Err(SecretFormatError::NotBase64);
        }
        let bytes = STANDARD
            .decode(text)
            .map_err(|_| SecretFormatError::NotBase64)?;
        Self::from_bytes(&bytes)
    }

    /// The admin-facing spelling: standard base64 with padding, 44 characters.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The HMAC key for `X-Hub-Signature-256` / `X-Webhook-Signature`.
    ///
    /// It is the UTF-8 bytes of [`Self::to_base64`], not the decoded bytes: GitHub-style senders
    /// take the secret as an opaque string pasted into a form and key their HMAC with its
    /// bytes. Using the same text on our side is what makes a pasted secret just work.
    pub(in crate::crypto) fn hub_key(&self) -> Vec<u8> {
        self.to_base64().into_bytes()
    }

    /// `sha256=<hex>`: the `X-Hub-Signature-256` of `body` under this secret.
    pub fn sign_hub(&self, body: &[u8]) -> String {
        signature::hub_signature(&self.hub_key(), body)
    }

    /// Checks an `X-Hub-Signature-256` header value, in constant time.
    pub fn verify_hub(&self, body: &[u8], header: &str) -> Result<(), SignatureError> {
        signature::verify_hub_signature(&self.hub_key(), body, header)
    }

    /// `v1,<base64>`: the Standard Webhooks `webhook-signature` of a message.
    pub fn sign_standard(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        signature::standard_webhooks::sign(&self.0, msg_id, timestamp, body)
    }

    /// Checks Standard Webhooks headers (timestamp within tolerance of `now`, any `v1` entry).
    pub fn verify_standard(
        &self,
        msg_id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        signature::standard_webhooks::verify(&self.0, msg_id, timestamp, signatures, body, now)
    }

    /// The Standard Webhooks spelling: `whsec_` + standard base64 of the 32 bytes.
    pub fn to_standard_webhooks(&self) -> String {
        format!("{STANDARD_WEBHOOKS_PREFIX}{}", self.to_base64())
    }

    /// Parses `whsec_<base64>` (the prefix is required, so the two spellings are never mixed up).
    pub fn from_standard_webhooks(text: &str) -> Result<Self, SecretFormatError> {
        let encoded = text
            .trim()
            .strip_prefix(STANDARD_WEBHOOKS_PREFIX)
            .ok_or(SecretFormatError::MissingPrefix)?;
        Self::from_base64(encoded)
    }

    /// The raw 32 bytes: the Standard Webhooks HMAC key, and what tenant keys encrypt.
    pub(in crate::crypto) fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl PartialEq for WebhookSecret {
    /// Constant time, so comparing a candidate against a stored secret leaks no prefix length.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for WebhookSecret {}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({MASKED})")
    }
}

/// A credential a tenant gave us for an outside service (an OpenAI-compatible API key):
/// text we send on, never show. `Debug` prints the mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({MASKED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_44_chars_and_round_trips_to_32_bytes() {
        let secret = WebhookSecret::generate();
        let text = secret.to_base64();
        assert_eq!(text.len(), 44);
        assert!(text.ends_with('='));
        let back = WebhookSecret::from_base64(&text).unwrap();
        assert_eq!(back.as_bytes().len(), 32);
        assert_eq!(back, secret);
    }

    #[test]
    fn two_generated_secrets_differ() {
        assert_ne!(WebhookSecret::generate(), WebhookSecret::generate());
    }

    #[test]
    fn wrong_lengths_are_refused() {
        for len in [0, 16, 31, 33, 64] {
            assert_eq!(
                WebhookSecret::from_bytes(&vec![7u8; len]),
                Err(SecretFormatError::WrongLength(len))
            );
        }
        // 31 and 33 bytes of valid base64, and a 44-character string that is not base64.
        let short = STANDARD.encode([1u8; 31]);
        let long = STANDARD.encode([1u8; 33]);
        for text in [short.as_str(), long.as_str(), "", &"!".repeat(44)] {
            assert!(WebhookSecret::from_base64(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        // Same bytes, but the last character carries non-zero trailing bits.
        let canonical = WebhookSecret::from_bytes(&[0u8; 32]).unwrap().to_base64();
        assert!(canonical.ends_with("A="));
        let variant = format!("{}B=", &canonical[..42]);
        assert_eq!(
            WebhookSecret::from_base64(&variant),
            Err(SecretFormatError::NotBase64)
        );
    }

    #[test]
    fn hub_key_is_the_text_admins_see() {
        let secret = WebhookSecret::generate();
        assert_eq!(secret.hub_key(), secret.to_base64().as_bytes());
    }

    #[test]
    fn standard_webhooks_round_trip() {
        let secret = WebhookSecret::generate();
        let whsec = secret.to_standard_webhooks();
        assert_eq!(whsec, format!("whsec_{}", secret.to_base64()));
        assert_eq!(
            WebhookSecret::from_standard_webhooks(&whsec).unwrap(),
            secret
        );
        assert_eq!(
            WebhookSecret::from_standard_webhooks(&secret.to_base64()),
            Err(SecretFormatError::MissingPrefix)
        );
    }

    #[test]
    fn debug_is_redacted() {
        let secret = WebhookSecret::generate();
        let debug = format!("{secret:?}");
        assert!(!debug.contains(&secret.to_base64()));
        assert!(!debug.contains(&secret.to_base64()[..8]));
        assert!(debug.contains(MASKED));
    }

    #[test]
    fn errors_do_not_echo_the_input() {
        let almost = format!("{}!", &WebhookSecret::generate().to_base64()[..43]);
        let message = WebhookSecret::from_base64(&almost).unwrap_err().to_string();
        assert!(!message.contains(&almost[..20]));
    }
}
