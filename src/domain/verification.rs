//! How an agent verifies who sent a delivery: one [`VerificationScheme`] per agent, chosen
//! to match the sender (GitHub-style or Standard Webhooks signatures by default, or the way a
//! SaaS product signs: Stripe, Slack, Shopify, Zendesk, PagerDuty, GitLab's token, or any
//! fixed header). The server side of each scheme is `services/webhooks/verify/`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum VerificationScheme {
    /// `X-Hub-Signature-256` (or `X-Hub-Signature`, `X-Webhook-Signature`), or Standard
    /// Webhooks headers.
    #[default]
    Default,
    /// `Stripe-Signature: t=…,v1=…`.
    Stripe,
    /// `X-Slack-Signature: v0=…` with `X-Slack-Request-Timestamp`.
    Slack,
    /// `X-Shopify-Hmac-Sha256: <base64>`.
    Shopify,
    /// `X-Zendesk-Webhook-Signature` with `X-Zendesk-Webhook-Signature-Timestamp`.
    Zendesk,
    /// `X-PagerDuty-Signature: v1=…`.
    Pagerduty,
    /// `X-Gitlab-Token`: the secret itself.
    GitlabToken,
    /// The secret itself in the header named by `header_name` (or `Authorization: Bearer`).
    HeaderToken,
}

impl VerificationScheme {
    pub const ALL: [VerificationScheme; 8] = [
        Self::Default,
        Self::Stripe,
        Self::Slack,
        Self::Shopify,
        Self::Zendesk,
        Self::Pagerduty,
        Self::GitlabToken,
        Self::HeaderToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Stripe => "stripe",
            Self::Slack => "slack",
            Self::Shopify => "shopify",
            Self::Zendesk => "zendesk",
            Self::Pagerduty => "pagerduty",
            Self::GitlabToken => "gitlab_token",
            Self::HeaderToken => "header_token",
        }
    }

    /// What the UI calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Default => "Default (X-Hub-Signature-256 or Standard Webhooks)",
            Self::Stripe => "Stripe",
            Self::Slack => "Slack",
            Self::Shopify => "Shopify",
            Self::Zendesk => "Zendesk",
            Self::Pagerduty => "PagerDuty",
            Self::GitlabToken => "GitLab (X-Gitlab-Token)",
            Self::HeaderToken => "Token in a header",
        }
    }

    /// Whether the scheme signs a timestamp, so that a captured delivery cannot be replayed
    /// after the window. `default` does only with Standard Webhooks headers.
    pub fn signs_timestamp(self) -> bool {
        matches!(self, Self::Stripe | Self::Slack | Self::Zendesk)
    }

    /// Whether the sender presents the secret itself rather than a signature.
    pub fn is_token(self) -> bool {
        matches!(self, Self::GitlabToken | Self::HeaderToken)
    }

    /// Whether only the provider can choose the secret, so the admin must paste it in
    /// ("Set secret") before deliveries verify.
    pub fn provider_generates_secret(self) -> bool {
        matches!(
            self,
            Self::Stripe | Self::Slack | Self::Shopify | Self::Zendesk | Self::Pagerduty
        )
    }
}

impl fmt::Display for VerificationScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VerificationScheme {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scheme| scheme.as_str() == s)
            .ok_or_else(|| format!("unknown verification scheme {s:?}"))
    }
}

/// An agent's verification: the scheme and, for `header_token`, the header's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Verification {
    pub scheme: VerificationScheme,
    /// Only for `header_token` (required there), e.g. `X-SDP-Token`; stored lower case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_name: Option<String>,
}

pub const HEADER_NAME_MAX_CHARS: usize = 64;

/// Headers a token may not travel in: they mean something else to every HTTP hop (and the
/// `webhook-` prefix, Standard Webhooks' headers, is refused too).
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "cookie",
    "user-agent",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-real-ip",
    "x-request-id",
    "idempotency-key",
];

impl Verification {
    /// Checks the combination and normalizes the header name (trimmed, lower case); the
    /// message names what to change.
    pub fn parse(self) -> Result<Self, String> {
        match (self.scheme, self.header_name) {
            (VerificationScheme::HeaderToken, None) => {
                Err("header_name is required for the header_token scheme".into())
            }
            (VerificationScheme::HeaderToken, Some(name)) => {
                let name = parse_header_name(&name)?;
                Ok(Self {
                    scheme: VerificationScheme::HeaderToken,
                    header_name: Some(name),
                })
            }
            (scheme, Some(_)) => Err(format!(
                "header_name is only for the header_token scheme, not {scheme}"
            )),
            (scheme, None) => Ok(Self {
                scheme,
                header_name: None,
            }),
        }
    }
}

/// An HTTP field name of letters, digits, `-` and `_`, not one of [`RESERVED_HEADERS`].
pub fn parse_header_name(raw: &str) -> Result<String, String> {
    let name = raw.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err("header_name must not be empty".into());
    }
    if name.len() > HEADER_NAME_MAX_CHARS {
        return Err(format!(
            "header_name must be at most {HEADER_NAME_MAX_CHARS} characters"
        ));
    }
    // A subset of HTTP's token characters: no quote, `$` or backtick, which would mean
    // something to a shell pasting the test sender's curl command.
    let allowed = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
    if !name.bytes().all(allowed) {
        return Err("header_name must be an HTTP header name (letters, digits, - and _)".into());
    }
    if RESERVED_HEADERS.contains(&name.as_str()) || name.starts_with("webhook-") {
        return Err(format!(
            "header_name cannot be {name}: that header means something else"
        ));
    }
    Ok(name)
}

/// Where an agent's current secret came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum SecretSource {
    /// 32 random bytes made here (Regenerate).
    #[default]
    Generated,
    /// Pasted in from the sending product (Set secret).
    Provided,
}

impl SecretSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Provided => "provided",
        }
    }
}

impl FromStr for SecretSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Generated, Self::Provided]
            .into_iter()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| format!("unknown secret source {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_round_trip_through_their_names_and_json() {
        for scheme in VerificationScheme::ALL {
            assert_eq!(scheme.as_str().parse::<VerificationScheme>(), Ok(scheme));
            assert_eq!(
                serde_json::to_value(scheme).unwrap(),
                serde_json::json!(scheme.as_str())
            );
        }
        assert!("github".parse::<VerificationScheme>().is_err());
    }

    #[test]
    fn header_name_belongs_to_header_token_only() {
        let token = |name: Option<&str>| Verification {
            scheme: VerificationScheme::HeaderToken,
            header_name: name.map(str::to_owned),
        };
        assert_eq!(
            token(Some(" X-SDP-Token "))
                .parse()
                .unwrap()
                .header_name
                .as_deref(),
            Some("x-sdp-token")
        );
        assert!(token(None).parse().is_err());
        for bad in [
            "",
            "X Token",
            "x-token:",
            "Content-Type",
            "webhook-signature",
            "é",
            "x-`id`",
            "x-$a",
            "x'a",
        ] {
            assert!(token(Some(bad)).parse().is_err(), "{bad:?}");
        }
        assert!(token(Some(&"x".repeat(65))).parse().is_err());
        let stripe = Verification {
            scheme: VerificationScheme::Stripe,
            header_name: Some("x-a".into()),
        };
        assert!(stripe.parse().is_err());
    }
}
