//! Admin password hashes: argon2id, PHC strings.
//!
//! Both functions are deliberately slow (tens of milliseconds of CPU and ~19 MiB of memory
//! with the crate's default parameters): that cost is what makes offline guessing of a leaked
//! hash expensive. Call them on a blocking thread, never directly on the async runtime:
//!
//! ```ignore
//! let phc = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
//! ```

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

/// Hashing failed. Carries the library's reason, which never includes the password.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(argon2::password_hash::Error);

/// Argon2id (the crate's default algorithm and parameters) with a fresh random salt, as a PHC
/// string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`). The string records its own
/// parameters, so hashes made today still verify after the defaults are raised.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(PasswordError)
}

/// True only if `phc` is a well-formed hash of `password`. A malformed or unsupported hash is
/// simply false: to the caller it is the same as a wrong password.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_an_argon2id_phc_string_with_a_random_salt() {
        let first = hash_password("correct horse battery staple").unwrap();
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert!(!first.contains("correct horse"));
        let second = hash_password("correct horse battery staple").unwrap();
        assert_ne!(first, second, "salts differ");
    }

    #[test]
    fn verify_accepts_the_right_password_only() {
        let phc = hash_password("s3cret-pa55").unwrap();
        assert!(verify_password("s3cret-pa55", &phc));
        assert!(!verify_password("s3cret-pa56", &phc));
        assert!(!verify_password("", &phc));
    }

    #[test]
    fn verify_is_false_for_garbage_hashes() {
        for phc in [
            "",
            "garbage",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$bad",
        ] {
            assert!(!verify_password("anything", phc), "{phc:?}");
        }
    }
}
