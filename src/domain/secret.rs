use serde::{Deserialize, Serialize};

use super::Timestamp;

/// The webhook secret in both forms senders use. Only ever sent with `Cache-Control: no-store`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevealedSecret {
    /// Base64 of the 32 secret bytes; its UTF-8 text is the key for `X-Hub-Signature-256`.
    pub hmac_secret: String,
    /// `whsec_` + base64: the key form Standard Webhooks libraries take.
    pub standard_webhooks_secret: String,
}

impl std::fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedSecret([redacted])")
    }
}

/// `POST /api/agents/{id}/regenerate-webhook-secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegenerateSecret {
    /// Seconds the previous secret keeps verifying (0..=86400, default 0).
    #[serde(default)]
    pub grace_period_seconds: Option<u32>,
}

pub const MAX_GRACE_PERIOD_SECONDS: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SecretRegenerated {
    pub success: bool,
    pub message: String,
    pub new_secret_masked: String,
    /// When the previous secret stops verifying; null when it stopped at once.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub previous_secret_expires_at: Option<Timestamp>,
}

/// A password on its way to be checked or hashed. `Debug` never prints it, so a logged
/// request or server-function argument cannot leak it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}
