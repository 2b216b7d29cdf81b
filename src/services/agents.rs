//! Creating, reading and changing agents. A non-draft agent always has its webhook trigger
//! (URL + encrypted secret), created in the same transaction as the change that needs it.

use serde_json::{json, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{audit, keys, runtimes, schemas, Principal};
use crate::{
    crypto::{
        secrets::{WebhookSecret, MASKED},
        InboundSecret,
    },
    db::{
        self,
        agents::{AgentChanges, AgentRow, NewAgentRow},
    },
    domain::{
        bounded_text, parse_rate_limit, Agent, AgentName, AgentRuntime, AgentStatus, AgentSummary,
        AuditAction, CreateAgent, UpdateAgent, Verification, VerificationScheme,
        DESCRIPTION_MAX_CHARS, SYSTEM_PROMPT_MAX_CHARS,
    },
    error::AppError,
    state::AppState,
};

pub fn webhook_url(public_base_url: &str, agent_id: Uuid) -> String {
    format!("{public_base_url}/agents/{agent_id}/webhook")
}

/// Refuses an invalid payload schema with every problem located, or one over a cost limit
/// naming the limit; compiled off the async workers, within the compile deadline.
pub async fn check_payload_schema(schema: &Value) -> Result<(), AppError> {
    schemas::check_bounded(schema.clone())
        .await
        .map(drop)
        .map_err(|refusal| refusal.into_app_error("payload schema"))
}

fn text(field: &str, raw: Option<&str>, max: usize) -> Result<String, AppError> {
    bounded_text(field, raw.unwrap_or(""), max).map_err(|message| AppError::invalid(field, message))
}

/// The verification settings, checked with `require_timestamp`: a scheme that signs no
/// timestamp cannot honour it, so the combination is refused rather than silently weaker.
fn verification(
    verification: Verification,
    require_timestamp: bool,
) -> Result<Verification, AppError> {
    let verification = verification
        .parse()
        .map_err(|message| AppError::invalid("verification", message))?;
    let scheme = verification.scheme;
    if require_timestamp && scheme != VerificationScheme::Default {
        let message = if scheme.signs_timestamp() {
            format!("{scheme} deliveries always carry a signed timestamp, which is always checked; set require_timestamp to false")
        } else {
            format!("{scheme} signs no timestamp, so require_timestamp cannot be honoured; set it to false")
        };
        return Err(AppError::invalid("require_timestamp", message));
    }
    Ok(verification)
}

fn rate_limit(raw: Option<u32>) -> Result<Option<i32>, AppError> {
    parse_rate_limit(raw)
        .map(|limit| limit.map(|n| n as i32))
        .map_err(|message| AppError::invalid("rate_limit_per_minute", message))
}

pub async fn create(
    state: &AppState,
    principal: &Principal,
    input: CreateAgent,
) -> Result<Agent, AppError> {
    let name = AgentName::parse(&input.name).map_err(|m| AppError::invalid("name", m))?;
    let description = text(
        "description",
        input.description.as_deref(),
        DESCRIPTION_MAX_CHARS,
    )?;
    let system_prompt = text(
        "system_prompt",
        input.system_prompt.as_deref(),
        SYSTEM_PROMPT_MAX_CHARS,
    )?;
    let status = input.status.unwrap_or(AgentStatus::Active);
    if status == AgentStatus::Archived {
        return Err(AppError::invalid("status", ARCHIVE_WITH_DELETE));
    }
    let rate_limit = match input.rate_limit_per_minute {
        None => Some(state.settings.webhooks.default_rate_limit_per_minute as i32),
        Some(limit) => rate_limit(limit)?,
    };
    if let Some(schema) = &input.payload_schema {
        check_payload_schema(schema).await?;
    }
    let require_timestamp = input.require_timestamp.unwrap_or(false);
    let verification = verification(input.verification.unwrap_or_default(), require_timestamp)?;
    let runtime = runtimes::check(&state.outbound, input.runtime.unwrap_or_default()).await?;
    let id = Uuid::new_v4();
    let schema = input.payload_schema.as_ref();
    let mut tx = state.pool.begin().await?;
    let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
    let (runtime, fate) = runtimes::key_fate(&AgentRuntime::Builtin, false, runtime)?;
    let runtime_api_key = match &fate {
        runtimes::KeyFate::Set(key) => Some(tenant_key.encrypt_credential(key)),
        _ => None,
    };
    let runtime_secret = tenant_key.encrypt_secret(&WebhookSecret::generate());
    db::agents::insert(
        &mut *tx,
        &NewAgentRow {
            id,
            tenant_id: principal.tenant_id,
            name: name.as_str(),
            description: &description,
            status: status.as_str(),
            system_prompt: &system_prompt,
            rate_limit_per_minute: rate_limit,
            require_timestamp,
            verification_scheme: verification.scheme.as_str(),
            verification_header_name: verification.header_name.as_deref(),
            draft_payload_schema: schema.filter(|_| !status.has_trigger()),
            runtime: runtime.settings.as_ref(),
            runtime_api_key: runtime_api_key.as_deref(),
            runtime_secret: &runtime_secret,
        },
    )
    .await?;
    if status.has_trigger() {
        create_trigger(&mut tx, state, principal.tenant_id, id, schema).await?;
    }
    let mut details = json!({
        "name": name.as_str(),
        "status": status,
        "runtime": runtime.kind,
        "verification": verification,
    });
    if let Some(host) = runtime.target.as_ref().and_then(|url| url.host_str()) {
        details["host"] = json!(host);
    }
    audit::record(
        &mut *tx,
        principal,
        AuditAction::AgentCreated,
        Some(id),
        "success",
        details,
    )
    .await?;
    tx.commit().await?;
    get(state, principal, id).await
}

async fn create_trigger(
    conn: &mut PgConnection,
    state: &AppState,
    tenant_id: Uuid,
    agent_id: Uuid,
    payload_schema: Option<&Value>,
) -> Result<(), AppError> {
    let tenant_key = keys::tenant_key(&mut *conn, &state.keyring, tenant_id).await?;
    let sealed = tenant_key.encrypt_inbound(&InboundSecret::generate());
    let url = webhook_url(&state.settings.server.public_base_url, agent_id);
    db::triggers::insert(&mut *conn, agent_id, &url, &sealed, payload_schema).await?;
    Ok(())
}

pub async fn get(state: &AppState, principal: &Principal, id: Uuid) -> Result<Agent, AppError> {
    db::agents::find(&state.pool, principal.tenant_id, id)
        .await?
        .map(to_domain)
        .ok_or(AppError::NotFound)
}

/// The agents list of the admin UI: each agent with its latest execution.
pub async fn summaries(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<AgentSummary>, AppError> {
    Ok(
        db::agents::list_with_last_execution(&state.pool, principal.tenant_id)
            .await?
            .into_iter()
            .map(|row| AgentSummary {
                id: row.id,
                name: row.name,
                status: row.status.parse().unwrap_or(AgentStatus::Inactive),
                webhook_url: row.webhook_url,
                last_execution_status: row.last_execution_status.and_then(|s| s.parse().ok()),
                last_execution_at: row.last_execution_at,
            })
            .collect(),
    )
}

pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<Agent>, AppError> {
    Ok(db::agents::list(&state.pool, principal.tenant_id)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

pub async fn update(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    patch: UpdateAgent,
) -> Result<Agent, AppError> {
    if let Some(Some(schema)) = &patch.payload_schema {
        check_payload_schema(schema).await?;
    }
    let runtime = match patch.runtime.clone() {
        Some(runtime) => Some(runtimes::check(&state.outbound, runtime).await?),
        None => None,
    };
    let mut tx = state.pool.begin().await?;
    if !db::agents::lock(&mut tx, principal.tenant_id, id).await? {
        return Err(AppError::NotFound);
    }
    let current = db::agents::find(&mut *tx, principal.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut changed: Vec<&str> = Vec::new();

    let name = match &patch.name {
        Some(raw) => {
            changed.push("name");
            AgentName::parse(raw)
                .map_err(|m| AppError::invalid("name", m))?
                .as_str()
                .to_owned()
        }
        None => current.name.clone(),
    };
    let description = match &patch.description {
        Some(raw) => {
            changed.push("description");
            text("description", Some(raw), DESCRIPTION_MAX_CHARS)?
        }
        None => current.description.clone(),
    };
    let system_prompt = match &patch.system_prompt {
        Some(raw) => {
            changed.push("system_prompt");
            text("system_prompt", Some(raw), SYSTEM_PROMPT_MAX_CHARS)?
        }
        None => current.system_prompt.clone(),
    };
    let rate_limit_per_minute = match patch.rate_limit_per_minute {
        Some(limit) => {
            changed.push("rate_limit_per_minute");
            rate_limit(limit)?
        }
        None => current.rate_limit_per_minute,
    };
    let require_timestamp = patch.require_timestamp.unwrap_or(current.require_timestamp);
    if patch.require_timestamp.is_some() {
        changed.push("require_timestamp");
    }
    let current_verification = Verification {
        scheme: current
            .verification_scheme
            .parse()
            .map_err(|e: String| AppError::internal(anyhow::anyhow!(e)))?,
        header_name: current.verification_header_name.clone(),
    };
    let new_verification = match patch.verification.clone() {
        Some(new) => verification(new, require_timestamp)?,
        None if patch.require_timestamp.is_some() => {
            verification(current_verification.clone(), require_timestamp)?
        }
        None => current_verification.clone(),
    };
    let current_status: AgentStatus = current
        .status
        .parse()
        .map_err(|e: String| AppError::internal(anyhow::anyhow!(e)))?;
    if patch.status == Some(AgentStatus::Archived) {
        return Err(AppError::invalid("status", ARCHIVE_WITH_DELETE));
    }
    let status = patch.status.unwrap_or(current_status);
    if patch.status.is_some() {
        changed.push("status");
    }

    let has_trigger = current.webhook_url.is_some();
    // The schema the agent should end up with, if the patch touches it.
    let new_schema: Option<Option<&Value>> = patch.payload_schema.as_ref().map(Option::as_ref);
    let mut draft_schema = current.draft_payload_schema.clone();
    if has_trigger {
        if let Some(schema) = new_schema {
            db::triggers::set_payload_schema(&mut *tx, id, schema).await?;
        }
    } else if status.has_trigger() {
        // First time out of draft: the trigger is born now, with the waiting schema.
        let schema = new_schema.unwrap_or(current.draft_payload_schema.as_ref());
        create_trigger(&mut tx, state, principal.tenant_id, id, schema).await?;
        draft_schema = None;
    } else if let Some(schema) = new_schema {
        draft_schema = schema.cloned();
    }

    db::agents::update(
        &mut *tx,
        principal.tenant_id,
        id,
        &AgentChanges {
            name: &name,
            description: &description,
            status: status.as_str(),
            system_prompt: &system_prompt,
            rate_limit_per_minute,
            require_timestamp,
            verification_scheme: new_verification.scheme.as_str(),
            verification_header_name: new_verification.header_name.as_deref(),
            draft_payload_schema: draft_schema.as_ref(),
        },
    )
    .await?;
    if patch.payload_schema.is_some() {
        audit::record(
            &mut *tx,
            principal,
            AuditAction::SchemaUpdated,
            Some(id),
            "success",
            json!({ "cleared": matches!(patch.payload_schema, Some(None)) }),
        )
        .await?;
    }
    let mut details = json!({ "status": status });
    if let Some(runtime) = runtime {
        let saved = runtimes::shown(current.runtime.clone(), false);
        let (runtime, fate) = runtimes::key_fate(&saved, current.has_runtime_api_key, runtime)?;
        let tenant_key = keys::tenant_key(&mut *tx, &state.keyring, principal.tenant_id).await?;
        runtimes::save(
            &mut tx,
            &tenant_key,
            principal.tenant_id,
            id,
            &runtime,
            &fate,
        )
        .await?;
        changed.push("runtime");
        details["runtime"] = json!(runtime.kind);
        details["api_key"] = json!(fate.label());
        // Where it sends now, and before if elsewhere: hosts only (a path or query may
        // carry a token).
        let host = runtime
            .target
            .as_ref()
            .and_then(|url| url.host_str())
            .map(str::to_owned);
        let previous = saved
            .target_url()
            .and_then(|url| reqwest::Url::parse(url).ok()?.host_str().map(str::to_owned));
        if previous != host {
            details["previous_host"] = json!(previous);
        }
        details["host"] = json!(host);
    }
    if new_verification != current_verification {
        changed.push("verification");
        details["verification"] = json!(new_verification);
        details["previous_verification"] = json!(current_verification);
    }
    if !changed.is_empty() {
        details["changed"] = json!(changed);
        audit::record(
            &mut *tx,
            principal,
            AuditAction::AgentUpdated,
            Some(id),
            "success",
            details,
        )
        .await?;
    }
    tx.commit().await?;
    // Other servers hear of the change through NOTIFY; this one must not wait for it.
    state.targets.invalidate(id);
    get(state, principal, id).await
}

const ARCHIVE_WITH_DELETE: &str = "an agent is archived by deleting it (DELETE /api/agents/{id})";

/// Deletes the agent: archived, out of the lists, its webhook URL 404 on every server at
/// once (this one drops its cache entry, the others hear the trigger's NOTIFY); its
/// executions, request log and audit stay readable until their retention.
pub async fn delete(state: &AppState, principal: &Principal, id: Uuid) -> Result<(), AppError> {
    let mut tx = state.pool.begin().await?;
    if !db::agents::lock(&mut tx, principal.tenant_id, id).await? {
        return Err(AppError::NotFound);
    }
    let current = db::agents::find(&mut *tx, principal.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    db::agents::archive(&mut *tx, principal.tenant_id, id).await?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::AgentDeleted,
        Some(id),
        "success",
        json!({ "name": current.name, "status": current.status }),
    )
    .await?;
    tx.commit().await?;
    state.targets.invalidate(id);
    Ok(())
}

fn to_domain(row: AgentRow) -> Agent {
    let has_trigger = row.webhook_url.is_some();
    Agent {
        id: row.id,
        name: row.name,
        description: row.description,
        status: row.status.parse().unwrap_or(AgentStatus::Inactive),
        system_prompt: row.system_prompt,
        hmac_secret_masked: has_trigger.then(|| MASKED.to_owned()),
        webhook_url: row.webhook_url,
        payload_schema: if has_trigger {
            row.payload_schema
        } else {
            row.draft_payload_schema
        },
        rate_limit_per_minute: row.rate_limit_per_minute.map(|n| n as u32),
        require_timestamp: row.require_timestamp,
        verification: Verification {
            scheme: row.verification_scheme.parse().unwrap_or_default(),
            header_name: row.verification_header_name,
        },
        secret_source: row.secret_source.and_then(|source| source.parse().ok()),
        runtime: runtimes::shown(row.runtime, row.has_runtime_api_key),
        previous_secret_expires_at: row.previous_secret_expires_at,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}
