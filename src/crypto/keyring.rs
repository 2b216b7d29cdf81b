//! Envelope encryption for secrets at rest, with Fernet at both layers.
//!
//! Master keys (from configuration, newest first) seal per-tenant keys; a tenant key seals
//! that tenant's webhook secrets. Rotating the master key therefore re-encrypts one small row
//! per tenant ([`MasterKeyring::reseal`]), never every secret, and a leaked database dump is
//! useless without the master key.
//!
//! Tokens carry no TTL: a sealed key or secret stays valid until it is replaced. Fernet still
//! refuses tokens stamped more than 60 s in the future, which only matters for badly skewed
//! clocks between servers.

use std::fmt;

use fernet::{Fernet, MultiFernet};
use subtle::ConstantTimeEq;

use super::{
    inbound::InboundSecret,
    secrets::{Credential, WebhookSecret, MASKED},
};
use crate::domain::SecretSource;

/// Key and token failures. The texts are meant for operators: they say what is wrong and what
/// to check, and never include a key, a token or a plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "master key #{position} (counting from 1, newest first) is not a valid Fernet key: \
         expected 32 bytes in URL-safe base64, as produced by generating a new master key"
    )]
    MalformedMasterKey { position: usize },
    #[error("no master key configured: at least one Fernet master key is required")]
    NoMasterKeys,
    #[error(
        "an encrypted value does not decrypt with any configured key \
         (it was sealed under a key that is not configured, or it was altered)"
    )]
    Undecryptable,
    #[error("an encrypted value decrypted, but its contents are not in the expected format")]
    MalformedPlaintext,
}

/// The configured master keys. Seals with the first (newest) key, opens with any of them.
#[derive(Clone)]
pub struct MasterKeyring {
    ring: MultiFernet,
    len: usize,
}

impl MasterKeyring {
    /// Builds the ring from configured keys, newest first.
    ///
    /// Surrounding whitespace is ignored, since keys often come from files or env files with a
    /// trailing newline. A malformed key is reported by its 1-based position only.
    pub fn from_keys(keys: &[String]) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoMasterKeys);
        }
        let fernets = keys
            .iter()
            .enumerate()
            .map(|(index, key)| {
                Fernet::new(key.trim()).ok_or(KeyError::MalformedMasterKey {
                    position: index + 1,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            len: fernets.len(),
            ring: MultiFernet::new(fernets),
        })
    }

    /// A new random Fernet key (URL-safe base64 of 32 OS-random bytes), for a master key.
    pub fn generate_key() -> String {
        Fernet::generate_key()
    }

    /// Encrypts a tenant key under the newest master key.
    pub fn seal_tenant_key(&self, key: &TenantKey) -> String {
        self.ring.encrypt(key.encoded.as_bytes())
    }

    pub fn open_tenant_key(&self, token: &str) -> Result<TenantKey, KeyError> {
        let plaintext = self
            .ring
            .decrypt(token)
            .map_err(|_| KeyError::Undecryptable)?;
        let encoded = String::from_utf8(plaintext).map_err(|_| KeyError::MalformedPlaintext)?;
        TenantKey::from_encoded(encoded).ok_or(KeyError::MalformedPlaintext)
    }

    /// Opens a sealed tenant key with any configured master key and seals it again under the
    /// newest one: the per-row step of master-key rotation. Idempotent, so a rotation that is
    /// interrupted can simply be run again. The plaintext must be a valid tenant key, so
    /// rotation never re-encrypts garbage.
    pub fn reseal(&self, token: &str) -> Result<String, KeyError> {
        self.open_tenant_key(token)
            .map(|key| self.seal_tenant_key(&key))
    }

    /// How many master keys are configured (at least one).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a ring cannot be built without a key. Present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for MasterKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeyring")
            .field("keys", &self.len)
            .finish_non_exhaustive()
    }
}

/// A tenant's Fernet key, which encrypts that tenant's webhook secrets.
#[derive(Clone)]
pub struct TenantKey {
    /// The standard Fernet key text; kept because sealing needs the key itself, and `Fernet`
    /// does not give its bytes back.
    encoded: String,
    fernet: Fernet,
}

impl TenantKey {
    pub fn generate() -> Self {
        Self::from_encoded(Fernet::generate_key()).expect("fernet generates valid keys")
    }

    fn from_encoded(encoded: String) -> Option<Self> {
        let fernet = Fernet::new(&encoded)?;
        Some(Self { encoded, fernet })
    }

    /// A Fernet token of the secret's 32 raw bytes.
    pub fn encrypt_secret(&self, secret: &WebhookSecret) -> String {
        self.fernet.encrypt(secret.as_bytes())
    }

    pub fn decrypt_secret(&self, token: &str) -> Result<WebhookSecret, KeyError> {
        let plaintext = self
            .fernet
            .decrypt(token)
            .map_err(|_| KeyError::Undecryptable)?;
        WebhookSecret::from_bytes(&plaintext).map_err(|_| KeyError::MalformedPlaintext)
    }

    /// A Fernet token of an agent's inbound secret; store its [`InboundSecret::source`] beside.
    pub fn encrypt_inbound(&self, secret: &InboundSecret) -> String {
        self.fernet.encrypt(secret.sealed_bytes())
    }

    pub fn decrypt_inbound(
        &self,
        token: &str,
        source: SecretSource,
    ) -> Result<InboundSecret, KeyError> {
        let plaintext = self
            .fernet
            .decrypt(token)
            .map_err(|_| KeyError::Undecryptable)?;
        InboundSecret::from_sealed_bytes(source, plaintext).ok_or(KeyError::MalformedPlaintext)
    }

    /// A Fernet token of a credential a tenant gave us (an API key).
    pub fn encrypt_credential(&self, credential: &Credential) -> String {
        self.fernet.encrypt(credential.expose().as_bytes())
    }

    pub fn decrypt_credential(&self, token: &str) -> Result<Credential, KeyError> {
        let plaintext = self
            .fernet
            .decrypt(token)
            .map_err(|_| KeyError::Undecryptable)?;
        String::from_utf8(plaintext)
            .map(Credential::new)
            .map_err(|_| KeyError::MalformedPlaintext)
    }
}

impl PartialEq for TenantKey {
    fn eq(&self, other: &Self) -> bool {
        self.encoded
            .as_bytes()
            .ct_eq(other.encoded.as_bytes())
            .into()
    }
}

impl Eq for TenantKey {}

impl fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantKey({MASKED})")
    }
}

#[cfg(test)]
mod tests {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    use hmac::{Hmac, Mac};
    use serde::Deserialize;
    use sha2::Sha256;

    use super::*;

    // Official vectors from github.com/fernet/spec (see tests/fixtures/vectors/README.md).
    const GENERATE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/fernet_generate.json"
    ));
    const VERIFY: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/fernet_verify.json"
    ));
    const INVALID: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/vectors/fernet_invalid.json"
    ));

    #[derive(Deserialize)]
    struct GenerateVector {
        token: String,
        now: String,
        iv: Vec<u8>,
        src: String,
        secret: String,
    }

    #[derive(Deserialize)]
    struct VerifyVector {
        token: String,
        now: String,
        ttl_sec: u64,
        src: String,
        secret: String,
    }

    #[derive(Deserialize)]
    struct InvalidVector {
        desc: String,
        token: String,
        now: String,
        ttl_sec: u64,
        secret: String,
    }

    fn unix_seconds(rfc3339: &str) -> u64 {
        let seconds = chrono::DateTime::parse_from_rfc3339(rfc3339)
            .expect("vector times are RFC 3339")
            .timestamp();
        u64::try_from(seconds).expect("vector times are after 1970")
    }

    fn ring(keys: &[&str]) -> MasterKeyring {
        let keys: Vec<String> = keys.iter().map(|key| key.to_string()).collect();
        MasterKeyring::from_keys(&keys).unwrap()
    }

    /// fernet 0.2 draws the IV itself and keeps the from-parts encryption private, so the
    /// exact token cannot be rebuilt from the vector's IV. Instead: the vector token decrypts
    /// at its time, its header is exactly version || time || IV, its HMAC checks out under the
    /// key's signing half (computed independently here), and our encryption at the same time
    /// produces a token with the same header and length that decrypts to the same source.
    #[test]
    fn fernet_generate_vectors() {
        let vectors: Vec<GenerateVector> = serde_json::from_str(GENERATE).unwrap();
        assert!(!vectors.is_empty());
        for vector in vectors {
            let now = unix_seconds(&vector.now);
            let fernet = Fernet::new(&vector.secret).unwrap();

            let expected = URL_SAFE.decode(&vector.token).unwrap();
            assert_eq!(expected[0], 0x80, "version byte");
            assert_eq!(&expected[1..9], now.to_be_bytes(), "timestamp");
            assert_eq!(&expected[9..25], vector.iv.as_slice(), "IV");

            let key = URL_SAFE.decode(&vector.secret).unwrap();
            let (message, tag) = expected.split_at(expected.len() - 32);
            let mut mac = Hmac::<Sha256>::new_from_slice(&key[..16]).unwrap();
            mac.update(message);
            mac.verify_slice(tag).expect("vector HMAC");

            let decrypted = fernet.decrypt_at_time(&vector.token, None, now).unwrap();
            assert_eq!(decrypted, vector.src.as_bytes());

            let ours = fernet.encrypt_at_time(vector.src.as_bytes(), now);
            let ours_bytes = URL_SAFE.decode(&ours).unwrap();
            assert_eq!(ours_bytes.len(), expected.len());
            assert_eq!(&ours_bytes[..9], &expected[..9]);
            assert_eq!(
                fernet.decrypt_at_time(&ours, None, now).unwrap(),
                vector.src.as_bytes()
            );
        }
    }

    #[test]
    fn fernet_verify_vectors() {
        let vectors: Vec<VerifyVector> = serde_json::from_str(VERIFY).unwrap();
        assert!(!vectors.is_empty());
        for vector in vectors {
            let fernet = Fernet::new(&vector.secret).unwrap();
            let plaintext = fernet
                .decrypt_at_time(
                    &vector.token,
                    Some(vector.ttl_sec),
                    unix_seconds(&vector.now),
                )
                .unwrap();
            assert_eq!(plaintext, vector.src.as_bytes());
        }
    }

    #[test]
    fn fernet_invalid_vectors_are_all_refused() {
        let vectors: Vec<InvalidVector> = serde_json::from_str(INVALID).unwrap();
        assert_eq!(vectors.len(), 8);
        for vector in vectors {
            let fernet = Fernet::new(&vector.secret).unwrap();
            let result = fernet.decrypt_at_time(
                &vector.token,
                Some(vector.ttl_sec),
                unix_seconds(&vector.now),
            );
            assert!(result.is_err(), "accepted invalid token: {}", vector.desc);
        }
    }

    #[test]
    fn rotation_opens_old_tokens_and_reseals_under_the_newest_key() {
        let old = MasterKeyring::generate_key();
        let new = MasterKeyring::generate_key();
        let tenant = TenantKey::generate();
        let sealed_old = ring(&[&old]).seal_tenant_key(&tenant);

        let rotating = ring(&[&new, &old]);
        assert_eq!(rotating.len(), 2);
        assert_eq!(rotating.open_tenant_key(&sealed_old).unwrap(), tenant);

        let resealed = rotating.reseal(&sealed_old).unwrap();
        let new_only = ring(&[&new]);
        assert_eq!(new_only.open_tenant_key(&resealed).unwrap(), tenant);
        assert_eq!(
            new_only.open_tenant_key(&sealed_old),
            Err(KeyError::Undecryptable)
        );
        // Idempotent: resealing an already-resealed token still opens under the new key.
        let again = rotating.reseal(&resealed).unwrap();
        assert_eq!(new_only.open_tenant_key(&again).unwrap(), tenant);
    }

    #[test]
    fn a_token_sealed_under_an_unknown_key_is_refused() {
        let stranger = ring(&[&MasterKeyring::generate_key()]);
        let sealed = stranger.seal_tenant_key(&TenantKey::generate());
        let ours = ring(&[
            &MasterKeyring::generate_key(),
            &MasterKeyring::generate_key(),
        ]);
        assert_eq!(ours.open_tenant_key(&sealed), Err(KeyError::Undecryptable));
        assert_eq!(ours.reseal(&sealed), Err(KeyError::Undecryptable));
    }

    #[test]
    fn a_sealed_value_that_is_not_a_tenant_key_is_malformed() {
        let key = MasterKeyring::generate_key();
        let fernet = Fernet::new(&key).unwrap();
        let not_a_key = fernet.encrypt(b"hello");
        assert_eq!(
            ring(&[&key]).open_tenant_key(&not_a_key),
            Err(KeyError::MalformedPlaintext)
        );
    }

    #[test]
    fn a_malformed_master_key_is_named_by_position_without_echoing_it() {
        let good = MasterKeyring::generate_key();
        let bad = "not-a-fernet-key-but-a-secret-looking-value".to_string();
        let error = MasterKeyring::from_keys(&[good.clone(), bad.clone()]).unwrap_err();
        assert_eq!(error, KeyError::MalformedMasterKey { position: 2 });
        let message = error.to_string();
        assert!(message.contains("#2"), "{message}");
        assert!(!message.contains(&bad) && !message.contains(&good));
        assert!(!format!("{error:?}").contains(&bad));

        // A truncated real key is malformed too, and is not echoed either.
        let truncated = &good[..40];
        let error = MasterKeyring::from_keys(&[truncated.to_string()]).unwrap_err();
        assert_eq!(error, KeyError::MalformedMasterKey { position: 1 });
        assert!(!error.to_string().contains(truncated));
    }

    #[test]
    fn at_least_one_master_key_is_required() {
        assert_eq!(
            MasterKeyring::from_keys(&[]).unwrap_err(),
            KeyError::NoMasterKeys
        );
    }

    #[test]
    fn keys_with_surrounding_whitespace_are_accepted() {
        let key = MasterKeyring::generate_key();
        let padded = ring(&[&format!("  {key}\n")]);
        let tenant = TenantKey::generate();
        let sealed = ring(&[&key]).seal_tenant_key(&tenant);
        assert_eq!(padded.open_tenant_key(&sealed).unwrap(), tenant);
    }

    #[test]
    fn secret_round_trip() {
        let tenant = TenantKey::generate();
        let secret = WebhookSecret::generate();
        let token = tenant.encrypt_secret(&secret);
        assert_eq!(tenant.decrypt_secret(&token).unwrap(), secret);
        // Fresh IV each time: the same secret never yields the same token.
        assert_ne!(tenant.encrypt_secret(&secret), token);
    }

    #[test]
    fn a_secret_under_another_tenant_key_is_refused() {
        let token = TenantKey::generate().encrypt_secret(&WebhookSecret::generate());
        assert_eq!(
            TenantKey::generate().decrypt_secret(&token),
            Err(KeyError::Undecryptable)
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let tenant = TenantKey::generate();
        let token = tenant.encrypt_secret(&WebhookSecret::generate());
        let mut bytes = URL_SAFE.decode(&token).unwrap();
        for index in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            bytes[index] ^= 0x01;
            let tampered = URL_SAFE.encode(&bytes);
            assert_eq!(
                tenant.decrypt_secret(&tampered),
                Err(KeyError::Undecryptable),
                "byte {index}"
            );
            bytes[index] ^= 0x01;
        }
        assert_eq!(
            tenant.decrypt_secret(&token[..token.len() - 4]),
            Err(KeyError::Undecryptable)
        );
        assert_eq!(tenant.decrypt_secret(""), Err(KeyError::Undecryptable));
    }

    #[test]
    fn a_decrypted_value_of_the_wrong_length_is_malformed() {
        let tenant = TenantKey::generate();
        let token = tenant.fernet.encrypt(&[0u8; 31]);
        assert_eq!(
            tenant.decrypt_secret(&token),
            Err(KeyError::MalformedPlaintext)
        );
    }

    #[test]
    fn the_ciphertext_does_not_contain_the_secret() {
        let tenant = TenantKey::generate();
        let secret = WebhookSecret::generate();
        let token = tenant.encrypt_secret(&secret);
        let url_safe = URL_SAFE.encode(secret.as_bytes());
        for spelling in [secret.to_base64(), url_safe] {
            assert!(!token.contains(&spelling[..16]));
        }
    }

    #[test]
    fn debug_output_is_redacted() {
        let key = MasterKeyring::generate_key();
        let keyring = ring(&[&key]);
        assert!(!format!("{keyring:?}").contains(&key));
        let tenant = TenantKey::generate();
        let debug = format!("{tenant:?}");
        assert!(!debug.contains(&tenant.encoded) && debug.contains(MASKED));
    }
}
