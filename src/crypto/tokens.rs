//! Opaque bearer tokens (API tokens, session ids, one-time links) and the hashes we store.
//!
//! Only [`token_hash`] is ever stored; the token itself is shown once and then forgotten, so a
//! database leak does not hand out working credentials.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

/// Bytes of OS randomness per token: 256 bits, far beyond any guessing or birthday bound.
const TOKEN_BYTES: usize = 32;

/// `prefix` followed by URL-safe base64 (no padding) of 32 OS-random bytes: 43 characters
/// after the prefix, safe in URLs, headers and cookies without escaping.
///
/// The prefix (for example `"awh_"`) makes a leaked token recognisable to secret scanners and
/// to people; it adds no entropy.
///
/// # Panics
/// Only if the OS random number generator fails.
pub fn random_token(prefix: &str) -> String {
    let bytes: [u8; TOKEN_BYTES] = super::os_random();
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Lowercase hex SHA-256 of the whole token (prefix included): the value to store and look
/// up by.
///
/// A fast, unsalted hash is the right tool here, unlike for passwords. Slow salted hashes
/// (see [`super::passwords`]) exist to make guessing low-entropy human choices expensive; a
/// token with 256 random bits cannot be guessed whatever the hash costs, so speed costs
/// nothing in security. Being deterministic is what lets us find a token's row with an
/// indexed equality lookup instead of testing every stored hash.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn prefix_is_kept_and_the_rest_is_43_url_safe_chars() {
        let token = random_token("awh_");
        let rest = token.strip_prefix("awh_").expect("prefix kept");
        assert_eq!(rest.len(), 43);
        assert!(rest
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(rest).unwrap().len(), 32);
        assert_eq!(random_token("").len(), 43);
    }

    #[test]
    fn tokens_are_unique() {
        let tokens: HashSet<String> = (0..1_000).map(|_| random_token("t_")).collect();
        assert_eq!(tokens.len(), 1_000);
    }

    #[test]
    fn hash_is_stable_lowercase_hex_of_64_chars() {
        let token = random_token("awh_");
        let hash = token_hash(&token);
        assert_eq!(hash, token_hash(&token));
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)));
        assert_ne!(hash, token_hash(&random_token("awh_")));
        // Known answer, so the stored format can never drift silently.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
