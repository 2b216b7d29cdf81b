//! An agent's runtime: what one execution of the agent does. Chosen per agent in the UI and
//! the API; the server checks the targets (`runtimes::address`) and seals the credentials.

use serde::{Deserialize, Serialize};

use super::double_option;

/// `{"kind": "builtin"}` (the default), `{"kind": "http", …}` or `{"kind": "openai", …}`.
///
/// Read and written through [`RuntimeWire`], one flat struct, rather than serde's
/// internally tagged enums: those buffer every value in serde's `Content` tree first, which
/// cost the browser's WASM about 10 KB (docs/decisions.md, "WASM size"). The JSON is the
/// same, and the `tag` below still describes it to the OpenAPI document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[serde(try_from = "RuntimeWire", into = "RuntimeWire")]
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

/// `Debug` shows whether a key is given, never the key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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

/// Every field of every runtime, as JSON spells them.
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeWire {
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    api_key: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_seconds: Option<u32>,
}

impl TryFrom<RuntimeWire> for AgentRuntime {
    type Error = String;

    fn try_from(wire: RuntimeWire) -> Result<Self, String> {
        // Fields of another kind are refused like unknown ones.
        let foreign = |present: &[(&str, bool)]| match present.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!(
                "unknown field `{name}` for runtime kind `{}`",
                wire.kind
            )),
            None => Ok(()),
        };
        match wire.kind.as_str() {
            "builtin" => {
                foreign(&[
                    ("url", wire.url.is_some()),
                    ("base_url", wire.base_url.is_some()),
                    ("model", wire.model.is_some()),
                    ("api_key", wire.api_key.is_some()),
                    ("temperature", wire.temperature.is_some()),
                    ("max_tokens", wire.max_tokens.is_some()),
                    ("timeout_seconds", wire.timeout_seconds.is_some()),
                ])?;
                Ok(Self::Builtin)
            }
            "http" => {
                foreign(&[
                    ("base_url", wire.base_url.is_some()),
                    ("model", wire.model.is_some()),
                    ("api_key", wire.api_key.is_some()),
                    ("temperature", wire.temperature.is_some()),
                    ("max_tokens", wire.max_tokens.is_some()),
                ])?;
                Ok(Self::Http(HttpRuntime {
                    url: wire.url.ok_or("missing field `url`")?,
                    timeout_seconds: wire.timeout_seconds,
                }))
            }
            "openai" => {
                foreign(&[("url", wire.url.is_some())])?;
                Ok(Self::Openai(OpenAiRuntime {
                    base_url: wire.base_url.ok_or("missing field `base_url`")?,
                    model: wire.model.ok_or("missing field `model`")?,
                    api_key: wire.api_key,
                    temperature: wire.temperature,
                    max_tokens: wire.max_tokens,
                    timeout_seconds: wire.timeout_seconds,
                }))
            }
            other => Err(format!(
                "unknown runtime kind `{other}`, expected `builtin`, `http` or `openai`"
            )),
        }
    }
}

impl From<AgentRuntime> for RuntimeWire {
    fn from(runtime: AgentRuntime) -> Self {
        match runtime {
            AgentRuntime::Builtin => Self {
                kind: "builtin".into(),
                ..Self::default()
            },
            AgentRuntime::Http(http) => Self {
                kind: "http".into(),
                url: Some(http.url),
                timeout_seconds: http.timeout_seconds,
                ..Self::default()
            },
            AgentRuntime::Openai(openai) => Self {
                kind: "openai".into(),
                base_url: Some(openai.base_url),
                model: Some(openai.model),
                api_key: openai.api_key,
                temperature: openai.temperature,
                max_tokens: openai.max_tokens,
                timeout_seconds: openai.timeout_seconds,
                ..Self::default()
            },
        }
    }
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

impl std::fmt::Debug for OpenAiRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api_key = match &self.api_key {
            None => "absent",
            Some(None) => "null",
            Some(Some(_)) => "[redacted]",
        };
        f.debug_struct("OpenAiRuntime")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &api_key)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
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
            panic!("not openai")
        };
        assert_eq!(settings.api_key, Some(Some("sk-1".into())));
        let debug = format!("{openai:?}");
        assert!(
            !debug.contains("sk-1") && debug.contains("[redacted]"),
            "{debug}"
        );
        assert_eq!(settings.max_tokens, Some(1024));
        let cleared: OpenAiRuntime =
            serde_json::from_str(r#"{"base_url": "x", "model": "m", "api_key": null}"#).unwrap();
        assert_eq!(cleared.api_key, Some(None));

        for bad in [
            r#"{"kind": "http", "url": "https://a.example", "secret": "x"}"#,
            r#"{"kind": "http", "url": "https://a.example", "model": "m"}"#,
            r#"{"kind": "builtin", "url": "https://a.example"}"#,
            r#"{"kind": "openai", "model": "m"}"#,
            r#"{"kind": "shell", "command": "rm"}"#,
            r#"{"kind": "shell"}"#,
            r#"{"url": "https://a.example"}"#,
        ] {
            assert!(serde_json::from_str::<AgentRuntime>(bad).is_err(), "{bad}");
        }
        // Written as read, fields left out when unset.
        assert_eq!(
            serde_json::to_value(&builtin).unwrap(),
            serde_json::json!({"kind": "builtin"})
        );
        assert_eq!(
            serde_json::to_value(&http).unwrap(),
            serde_json::json!({"kind": "http", "url": "https://a.example/run"})
        );
        let written = serde_json::to_string(&openai).unwrap();
        assert_eq!(
            serde_json::from_str::<AgentRuntime>(&written).unwrap(),
            openai
        );
    }

    #[test]
    fn a_revealed_secret_is_redacted_in_debug_output() {
        let secret = RevealedSigningSecret {
            standard_webhooks_secret: "whsec_abc".into(),
        };
        assert!(!format!("{secret:?}").contains("abc"));
    }
}
