use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{double_option, AgentRuntime, SecretSource, Timestamp, Verification};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AgentStatus {
    Draft,
    Active,
    Suspended,
    Inactive,
    /// Deleted: out of the lists, its webhook URL answers 404, its history stays readable.
    /// Only `DELETE /api/agents/{id}` gets an agent here, and nothing gets it out.
    Archived,
}

impl AgentStatus {
    /// The statuses an administrator may choose.
    pub const ALL: [AgentStatus; 4] = [Self::Draft, Self::Active, Self::Suspended, Self::Inactive];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Inactive => "inactive",
            Self::Archived => "archived",
        }
    }

    /// Only a draft has no webhook trigger.
    pub fn has_trigger(self) -> bool {
        self != Self::Draft
    }
}

impl fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AgentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain([Self::Archived])
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown agent status {s:?}"))
    }
}

/// An agent as the API and the UI show it. Never carries the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub status: AgentStatus,
    pub system_prompt: String,
    /// Absolute URL external systems post to; null while the agent is a draft.
    pub webhook_url: Option<String>,
    /// A fixed mask when a secret exists; null while the agent is a draft.
    pub hmac_secret_masked: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub payload_schema: Option<serde_json::Value>,
    /// Webhooks accepted per minute (a burst of this size, refilled evenly); null = no limit.
    pub rate_limit_per_minute: Option<u32>,
    /// Refuse deliveries without a signed timestamp (Standard Webhooks headers). Only for
    /// the `default` scheme: Stripe, Slack and Zendesk always check theirs.
    pub require_timestamp: bool,
    /// How deliveries are verified: the sender's scheme.
    pub verification: Verification,
    /// Where the current secret came from (null while the agent is a draft).
    pub secret_source: Option<SecretSource>,
    /// What an execution does; credentials show as a mask.
    pub runtime: AgentRuntime,
    /// Until when the previous secret still verifies after a regeneration with a grace period.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>, format = DateTime))]
    pub previous_secret_expires_at: Option<Timestamp>,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[cfg_attr(feature = "ssr", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

/// `POST /api/agents`. Unknown fields are refused so ids, tenants or secrets cannot be set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateAgent {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Defaults to `active`.
    #[serde(default)]
    pub status: Option<AgentStatus>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub payload_schema: Option<serde_json::Value>,
    /// Absent: the server default (100). Null: no limit. Else 1..=1000000.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<u32>))]
    pub rate_limit_per_minute: Option<Option<u32>>,
    #[serde(default)]
    pub require_timestamp: Option<bool>,
    /// Defaults to `{"scheme": "default"}`.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Defaults to `{"kind": "builtin"}`.
    #[serde(default)]
    pub runtime: Option<AgentRuntime>,
}

/// `PATCH /api/agents/{id}`: absent fields stay as they are; `payload_schema: null` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateAgent {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<AgentStatus>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub payload_schema: Option<Option<serde_json::Value>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<u32>))]
    pub rate_limit_per_minute: Option<Option<u32>>,
    #[serde(default)]
    pub require_timestamp: Option<bool>,
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Replaces the runtime; an OpenAI API key left out (or sent as the mask) is kept.
    #[serde(default)]
    pub runtime: Option<AgentRuntime>,
}

pub const NAME_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;
pub const SYSTEM_PROMPT_MAX_CHARS: usize = 20_000;
pub const RATE_LIMIT_MAX: u32 = 1_000_000;

/// A trimmed, non-empty agent name of at most [`NAME_MAX_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentName(String);

impl AgentName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("name must not be empty".into());
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(format!("name must be at most {NAME_MAX_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("name must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks a free-text field's length.
pub fn bounded_text(field: &str, raw: &str, max_chars: usize) -> Result<String, String> {
    if raw.chars().count() > max_chars {
        return Err(format!("{field} must be at most {max_chars} characters"));
    }
    Ok(raw.to_owned())
}

/// `None` = no limit; otherwise 1..=[`RATE_LIMIT_MAX`].
pub fn parse_rate_limit(raw: Option<u32>) -> Result<Option<u32>, String> {
    match raw {
        Some(n) if !(1..=RATE_LIMIT_MAX).contains(&n) => Err(format!(
            "rate_limit_per_minute must be null or between 1 and {RATE_LIMIT_MAX}"
        )),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            AgentName::parse("  Triage bot ").unwrap().as_str(),
            "Triage bot"
        );
        assert!(AgentName::parse("   ").is_err());
        assert!(AgentName::parse(&"x".repeat(NAME_MAX_CHARS + 1)).is_err());
        assert!(AgentName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn patch_distinguishes_absent_from_null() {
        let absent: UpdateAgent = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.payload_schema, None);
        let cleared: UpdateAgent = serde_json::from_str(r#"{"payload_schema": null}"#).unwrap();
        assert_eq!(cleared.payload_schema, Some(None));
        let unlimited: UpdateAgent =
            serde_json::from_str(r#"{"rate_limit_per_minute": null}"#).unwrap();
        assert_eq!(unlimited.rate_limit_per_minute, Some(None));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            serde_json::from_str::<CreateAgent>(r#"{"name": "a", "tenant_id": "x"}"#).unwrap_err();
        assert!(err.to_string().contains("tenant_id"), "{err}");
    }

    #[test]
    fn rate_limits_are_bounded() {
        assert_eq!(parse_rate_limit(None), Ok(None));
        assert_eq!(parse_rate_limit(Some(1)), Ok(Some(1)));
        assert!(parse_rate_limit(Some(0)).is_err());
        assert!(parse_rate_limit(Some(RATE_LIMIT_MAX + 1)).is_err());
    }

    #[test]
    fn status_round_trips_through_text() {
        for status in AgentStatus::ALL {
            assert_eq!(status.as_str().parse::<AgentStatus>(), Ok(status));
        }
        assert!("deleted".parse::<AgentStatus>().is_err());
    }
}
