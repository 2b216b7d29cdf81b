//! An agent's runtime as the API and the UI change it: checks (fields, then the target
//! against the SSRF rules, at save time), the split into saved settings and a sealed API key,
//! and the http runtime's signing secret (reveal, regenerate).
//!
//! Credentials never leave once saved: the API key is write-only (answers show a mask), and
//! the runtime secret is revealed only on request, rate-limited and audited like the webhook
//! secret.

use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{audit, keys, Principal};
use crate::{
    crypto::{
        keyring::TenantKey,
        secrets::{Credential, WebhookSecret, MASKED},
    },
    db,
    domain::{
        AgentRuntime, AuditAction, OpenAiRuntime, RevealedSigningSecret, API_KEY_MAX_CHARS,
        MODEL_MAX_CHARS, RUNTIME_TIMEOUT_MAX_SECONDS,
    },
    error::AppError,
    runtimes::outbound::Outbound,
    state::AppState,
};

/// What a save does to the saved API key.
#[derive(Debug)]
pub enum ApiKeyChange {
    Keep,
    Set(Credential),
    Remove,
}

/// A checked runtime, ready to save.
#[derive(Debug)]
pub struct CheckedRuntime {
    /// The settings saved in `agents.runtime` (never the key); `None` for the built-in.
    pub settings: Option<Value>,
    pub kind: &'static str,
    /// Where it sends (`None` for the built-in).
    pub target: Option<reqwest::Url>,
    pub api_key: ApiKeyChange,
}

/// What a save does to the saved key, decided once for the save and for the audit.
#[derive(Debug)]
pub enum KeyFate {
    /// No key before, none after.
    Absent,
    Kept,
    Set(Credential),
    Removed,
}

impl KeyFate {
    pub fn label(&self) -> &'static str {
        match self {
            KeyFate::Absent => "none",
            KeyFate::Kept => "kept",
            KeyFate::Set(_) => "set",
            KeyFate::Removed => "removed",
        }
    }
}

/// The saved API key's fate when `runtime` replaces `current`. A key is kept only while the
/// runtime stays openai at the origin the key was given for: anyone who may edit the agent
/// could otherwise send the saved key to a server of their choosing.
pub fn key_fate(
    current: &AgentRuntime,
    has_key: bool,
    mut runtime: CheckedRuntime,
) -> Result<(CheckedRuntime, KeyFate), AppError> {
    let change = std::mem::replace(&mut runtime.api_key, ApiKeyChange::Keep);
    let fate = match (runtime.kind, change) {
        ("openai", ApiKeyChange::Set(key)) => KeyFate::Set(key),
        ("openai", ApiKeyChange::Keep) if has_key => {
            let saved_origin = match current {
                AgentRuntime::Openai(saved) => reqwest::Url::parse(&saved.base_url)
                    .ok()
                    .map(|url| url.origin()),
                _ => None,
            };
            let new_origin = runtime.target.as_ref().map(reqwest::Url::origin);
            if saved_origin.is_none() || saved_origin != new_origin {
                return Err(invalid(
                    "api_key",
                    "runtime.api_key: the saved API key is sent only to the origin it was given \
                     for; give the key again (or \"api_key\": null) to use another base_url",
                ));
            }
            KeyFate::Kept
        }
        _ if has_key => KeyFate::Removed,
        _ => KeyFate::Absent,
    };
    Ok((runtime, fate))
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::invalid(&format!("runtime/{field}"), message)
}

fn timeout(field_value: Option<u32>) -> Result<(), AppError> {
    match field_value {
        Some(seconds) if !(1..=RUNTIME_TIMEOUT_MAX_SECONDS).contains(&seconds) => Err(invalid(
            "timeout_seconds",
            format!("runtime.timeout_seconds must be between 1 and {RUNTIME_TIMEOUT_MAX_SECONDS}"),
        )),
        _ => Ok(()),
    }
}

/// Checks a runtime's fields and its target (resolved now, against the SSRF rules).
pub async fn check(outbound: &Outbound, runtime: AgentRuntime) -> Result<CheckedRuntime, AppError> {
    let kind = runtime.kind();
    let target = |field: &'static str, url: String| async move {
        outbound
            .check_target(&url)
            .await
            .map_err(|err| invalid(field, format!("runtime.{field}: {err}")))
    };
    let (settings, target, api_key) = match runtime {
        AgentRuntime::Builtin => (None, None, ApiKeyChange::Remove),
        AgentRuntime::Http(mut http) => {
            timeout(http.timeout_seconds)?;
            let url = target("url", http.url).await?;
            http.url = url.to_string();
            (
                Some(AgentRuntime::Http(http)),
                Some(url),
                ApiKeyChange::Remove,
            )
        }
        AgentRuntime::Openai(mut openai) => {
            timeout(openai.timeout_seconds)?;
            check_model_settings(&openai)?;
            let api_key = match openai.api_key.take() {
                None => ApiKeyChange::Keep,
                Some(Some(key)) if key == MASKED => ApiKeyChange::Keep,
                Some(None) => ApiKeyChange::Remove,
                Some(Some(key)) if key.trim().is_empty() => ApiKeyChange::Remove,
                Some(Some(key)) => {
                    let key = key.trim();
                    if key.chars().count() > API_KEY_MAX_CHARS || key.chars().any(char::is_control)
                    {
                        return Err(invalid(
                            "api_key",
                            format!("runtime.api_key must be at most {API_KEY_MAX_CHARS} characters, without control characters"),
                        ));
                    }
                    ApiKeyChange::Set(Credential::new(key))
                }
            };
            let url = target("base_url", openai.base_url).await?;
            // `/chat/completions` is appended to the path: a query would end up before it.
            if url.query().is_some() {
                return Err(invalid(
                    "base_url",
                    "runtime.base_url must not have a query (/chat/completions is added to its path)",
                ));
            }
            openai.base_url = url.as_str().trim_end_matches('/').to_owned();
            (Some(AgentRuntime::Openai(openai)), Some(url), api_key)
        }
    };
    Ok(CheckedRuntime {
        settings: settings
            .map(|runtime| serde_json::to_value(runtime).expect("runtimes serialize")),
        kind,
        target,
        api_key,
    })
}

fn check_model_settings(openai: &OpenAiRuntime) -> Result<(), AppError> {
    let model = openai.model.trim();
    if model.is_empty()
        || model.chars().count() > MODEL_MAX_CHARS
        || model.chars().any(char::is_control)
    {
        return Err(invalid(
            "model",
            format!("runtime.model must be 1 to {MODEL_MAX_CHARS} characters, without control characters"),
        ));
    }
    if let Some(temperature) = openai.temperature {
        if !(0.0..=2.0).contains(&temperature) {
            return Err(invalid(
                "temperature",
                "runtime.temperature must be between 0 and 2",
            ));
        }
    }
    if let Some(max_tokens) = openai.max_tokens {
        if !(1..=1_000_000).contains(&max_tokens) {
            return Err(invalid(
                "max_tokens",
                "runtime.max_tokens must be between 1 and 1000000",
            ));
        }
    }
    Ok(())
}

/// The runtime as answers show it: the saved settings, and the mask for a saved key.
pub fn shown(settings: Option<Value>, has_api_key: bool) -> AgentRuntime {
    let mut runtime = settings
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default();
    if let AgentRuntime::Openai(openai) = &mut runtime {
        openai.api_key = has_api_key.then(|| Some(MASKED.to_owned()));
    }
    runtime
}

/// Saves a checked runtime, and its key's fate (see [`key_fate`]), on an agent the caller
/// has locked.
pub async fn save(
    conn: &mut PgConnection,
    tenant_key: &TenantKey,
    tenant_id: Uuid,
    agent_id: Uuid,
    runtime: &CheckedRuntime,
    fate: &KeyFate,
) -> Result<(), AppError> {
    let key = match fate {
        KeyFate::Kept => None,
        KeyFate::Absent | KeyFate::Removed => Some(None),
        KeyFate::Set(key) => Some(Some(tenant_key.encrypt_credential(key))),
    };
    db::agents::set_runtime(
        &mut *conn,
        tenant_id,
        agent_id,
        runtime.settings.as_ref(),
        key.as_ref().map(Option::as_deref),
    )
    .await?;
    if runtime.kind == "http"
        && db::agents::runtime_secret(&mut *conn, tenant_id, agent_id)
            .await?
            .flatten()
            .is_none()
    {
        // Agents made before runtimes existed get their secret when they first need it.
        let sealed = tenant_key.encrypt_secret(&WebhookSecret::generate());
        db::agents::set_runtime_secret(&mut *conn, tenant_id, agent_id, &sealed).await?;
    }
    Ok(())
}

/// The http runtime's signing secret in clear, for an administrator who asked for it.
/// Rate-limited per actor (with the webhook secret's reveals) and audited, refusals too.
pub async fn reveal_secret(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
) -> Result<RevealedSigningSecret, AppError> {
    if db::agents::find(&state.pool, principal.tenant_id, agent_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    super::secrets::take_reveal(state, principal, Some(agent_id), Some("runtime")).await?;
    let mut tx = state.pool.begin().await?;
    if !db::agents::lock(&mut tx, principal.tenant_id, agent_id).await? {
        return Err(AppError::NotFound);
    }
    let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
    let secret = match db::agents::runtime_secret(&mut *tx, principal.tenant_id, agent_id)
        .await?
        .flatten()
    {
        Some(sealed) => tenant_key
            .decrypt_secret(&sealed)
            .map_err(AppError::internal)?,
        None => {
            let secret = WebhookSecret::generate();
            let sealed = tenant_key.encrypt_secret(&secret);
            db::agents::set_runtime_secret(&mut *tx, principal.tenant_id, agent_id, &sealed)
                .await?;
            secret
        }
    };
    audit::record(
        &mut *tx,
        principal,
        AuditAction::RuntimeSecretRevealed,
        Some(agent_id),
        "success",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(RevealedSigningSecret {
        standard_webhooks_secret: secret.to_standard_webhooks(),
    })
}

/// Replaces the http runtime's signing secret at once (the receiver must switch to the new
/// one; requests already signed with the old one are not re-signed).
pub async fn regenerate_secret(
    state: &AppState,
    principal: &Principal,
    agent_id: Uuid,
) -> Result<(), AppError> {
    let mut tx = state.pool.begin().await?;
    if !db::agents::lock(&mut tx, principal.tenant_id, agent_id).await? {
        return Err(AppError::NotFound);
    }
    let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
    let sealed = tenant_key.encrypt_secret(&WebhookSecret::generate());
    db::agents::set_runtime_secret(&mut *tx, principal.tenant_id, agent_id, &sealed).await?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::RuntimeSecretRegenerated,
        Some(agent_id),
        "success",
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
