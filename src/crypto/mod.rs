//! All raw key material lives in this module.
//!
//! Nothing outside `crypto` sees key bytes: callers hold [`WebhookSecret`], [`TenantKey`] and
//! [`MasterKeyring`] values (whose `Debug` is redacted) and ask them to sign, verify, seal or
//! open. Every error type here is secret-free, so any of them can be logged as-is.
//!
//! - [`secrets`]: the generated webhook secret and its two public encodings.
//! - [`inbound`]: an agent's inbound secret, generated or pasted in from the sending product,
//!   and the MACs and token comparisons every sender scheme is built from.
//! - [`keyring`]: Fernet envelope keys (master keys seal tenant keys, tenant keys seal secrets).
//! - [`signature`]: `X-Hub-Signature-256` and Standard Webhooks signing and verification.
//! - [`tokens`]: opaque random tokens and the hashes we store instead of them.
//! - [`passwords`]: argon2id password hashes.

pub mod inbound;
pub mod keyring;
pub mod passwords;
pub mod secrets;
pub mod signature;
pub mod tokens;

pub use inbound::{InboundSecret, ProvidedSecret, ProvidedSecretError};
pub use keyring::{KeyError, MasterKeyring, TenantKey};
pub use passwords::{hash_password, verify_password, PasswordError};
pub use secrets::{SecretFormatError, WebhookSecret, MASKED};
pub use signature::{hub_signature, verify_hub_signature, SignatureError};
pub use tokens::{random_token, token_hash};

/// `N` bytes from the operating system's CSPRNG.
///
/// Straight from the OS rather than a userspace generator: these bytes become long-lived
/// secrets and tokens, and the OS source has no state of ours to get wrong (fork, reseeding).
/// If the OS cannot give us randomness there is no safe fallback, so we panic.
fn os_random<const N: usize>() -> [u8; N] {
    use rand::{rngs::OsRng, TryRngCore};

    let mut bytes = [0u8; N];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes
}
