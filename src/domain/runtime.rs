//! An agent's runtime: what one execution of the agent does. Chosen per agent in the UI and
//! the API; the server checks the targets (`runtimes::address`) and seals the credentials.

use serde::{Deserialize, Serialize};

use super::double_option;

/// `{"kind": "builtin"}` (the default), `{"kind": "http", …}` or `{"kind": "openai", …}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum AgentRuntime {
    /// Records what arrived (size, SHA-256, top-level keys); does no other work.
    #[default]
    Builtin,
    /// Forwards each execution to a URL, signed like a Standard Webhooks sender.
    Http(HttpRuntime),
    /// Sends the payload to an OpenAI-compatible chat completions endpoint.
    Openai(OpenAiRuntime),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HttpRuntime {
    /// `https://…` (plain `http://` only for hosts in `runtimes.allowed_private_hosts`).
    pub url: String,
    /// 1..=300; default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OpenAiRuntime {
    /// The API root, e.g. `https://api.openai.com/v1`; `/chat/completions` is added.
    pub base_url: String,
    pub model: String,
    /// Write-only. Absent or the mask: keep the saved key; null: remove it. Answers show
    /// the mask when a key is saved, never the key.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub api_key: Option<Option<String>>,
    /// 0..=2; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 1..=1000000; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// 1..=300; default 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

pub const RUNTIME_TIMEOUT_MAX_SECONDS: u32 = 300;
pub const HTTP_RUNTIME_DEFAULT_TIMEOUT_SECONDS: u32 = 30;
pub const OPENAI_RUNTIME_DEFAULT_TIMEOUT_SECONDS: u32 = 120;
pub const MODEL_MAX_CHARS: usize = 200;
pub const API_KEY_MAX_CHARS: usize = 4_096;
pub const URL_MAX_CHARS: usize = 2_048;

impl AgentRuntime {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Http(_) => "http",
            Self::Openai(_) => "openai",
        }
    }

    /// How long one request of this runtime may take (the builtin runner takes none).
    pub fn timeout_seconds(&self) -> u32 {
        match self {
            Self::Builtin => 0,
            Self::Http(http) => http.timeout_seconds(),
            Self::Openai(openai) => openai.timeout_seconds(),
        }
    }

    /// The URL the runtime sends to, if any.
    pub fn target_url(&self) -> Option<&str> {
        match self {
            Self::Builtin => None,
            Self::Http(http) => Some(&http.url),
            Self::Openai(openai) => Some(&openai.base_url),
        }
    }
}

impl HttpRuntime {
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds
            .unwrap_or(HTTP_RUNTIME_DEFAULT_TIMEOUT_SECONDS)
    }
}

impl OpenAiRuntime {
    pub fn timeout_seconds(&self) -> u32 {
        self.timeout_seconds
            .unwrap_or(OPENAI_RUNTIME_DEFAULT_TIMEOUT_SECONDS)
    }
}

/// A signing secret in clear (the http runtime's, or the tenant's notification secret), in
/// the form Standard Webhooks libraries take. Only ever sent with `Cache-Control: no-store`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevealedSigningSecret {
    /// `whsec_` + base64 of 32 bytes.
    pub standard_webhooks_secret: String,
}

impl std::fmt::Debug for RevealedSigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedSigningSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_read_their_documented_shapes_and_refuse_unknown_fields() {
        let builtin: AgentRuntime = serde_json::from_str(r#"{"kind": "builtin"}"#).unwrap();
        assert_eq!(builtin, AgentRuntime::Builtin);
        let http: AgentRuntime =
            serde_json::from_str(r#"{"kind": "http", "url": "https://a.example/run"}"#).unwrap();
        assert_eq!(http.timeout_seconds(), 30);
        let openai: AgentRuntime = serde_json::from_str(
            r#"{"kind": "openai", "base_url": "https://a.example/v1", "model": "m",
                "api_key": "sk-1", "temperature": 0.2, "max_tokens": 1024}"#,
        )
        .unwrap();
        let AgentRuntime::Openai(settings) = &openai else {
            panic!("{openai:?}")
        };
        assert_eq!(settings.api_key, Some(Some("sk-1".into())));
        assert_eq!(settings.max_tokens, Some(1024));
        let cleared: OpenAiRuntime =
            serde_json::from_str(r#"{"base_url": "x", "model": "m", "api_key": null}"#).unwrap();
        assert_eq!(cleared.api_key, Some(None));

        for bad in [
            r#"{"kind": "http", "url": "https://a.example", "secret": "x"}"#,
            r#"{"kind": "shell", "command": "rm"}"#,
            r#"{"url": "https://a.example"}"#,
        ] {
            assert!(serde_json::from_str::<AgentRuntime>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_revealed_secret_is_redacted_in_debug_output() {
        let secret = RevealedSigningSecret {
            standard_webhooks_secret: "whsec_abc".into(),
        };
        assert!(!format!("{secret:?}").contains("abc"));
    }
}
