//! The agent's runtime: what an execution does (built-in, http, OpenAI-compatible).
//!
//! Built for a small WASM: the inputs are read from the DOM when the admin saves (no signal
//! per field), and which fields show for which kind is CSS (`.runtime-form:has(...)` in
//! style/main.css), so choosing a kind runs no code at all.

use leptos::{html, prelude::*};

use super::AuditReload;
use crate::{
    api::edit_agent,
    app::components::{ErrorNotice, SecretField, SecretKind},
    domain::{
        Agent, AgentRuntime, ApiError, HttpRuntime, OpenAiRuntime, SigningSecretOwner, UpdateAgent,
    },
};

/// The form's text inputs: (id, label, placeholder, the kinds that use it as a CSS class).
/// One loop renders them all, so the WASM carries one input's code, not seven.
const FIELDS: [(&str, &str, &str, &str); 7] = [
    (
        "runtime-url",
        "Endpoint URL",
        "https://agents.example.com/triage",
        "runtime-http",
    ),
    (
        "runtime-base-url",
        "Base URL",
        "https://api.openai.com/v1",
        "runtime-openai",
    ),
    ("runtime-model", "Model", "gpt-4o-mini", "runtime-openai"),
    ("runtime-api-key", "API key", "", "runtime-openai"),
    (
        "runtime-temperature",
        "Temperature",
        "server default",
        "runtime-openai",
    ),
    (
        "runtime-max-tokens",
        "Max tokens",
        "server default",
        "runtime-openai",
    ),
    (
        "runtime-timeout",
        "Timeout (seconds)",
        "30 for HTTP, 120 for models",
        "runtime-network",
    ),
];

/// The inputs of [`FIELDS`], in that order.
type Inputs = [NodeRef<html::Input>; 7];

fn value(input: NodeRef<html::Input>) -> String {
    input
        .get_untracked()
        .map(|input| input.value().trim().to_owned())
        .unwrap_or_default()
}

/// A number field: blank is "the default". Read with serde_json, whose number parser the
/// WASM has anyway (core's float parser would add its own).
fn number<T: serde::de::DeserializeOwned>(label: &str, raw: &str) -> Result<Option<T>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(raw)
        .map(Some)
        .map_err(|_| format!("{label} must be a number"))
}

/// The runtime the form describes. A blank API key keeps the saved one, unless
/// `forget_key` is ticked.
fn runtime_of(kind: &str, inputs: &Inputs, forget_key: bool) -> Result<AgentRuntime, String> {
    let [url, base_url, model, api_key, temperature, max_tokens, timeout] = inputs.map(value);
    let timeout_seconds = number("Timeout", &timeout)?;
    Ok(match kind {
        "http" => AgentRuntime::Http(HttpRuntime {
            url,
            timeout_seconds,
        }),
        "openai" => AgentRuntime::Openai(OpenAiRuntime {
            base_url,
            model,
            api_key: if forget_key {
                Some(None)
            } else {
                Some(api_key).filter(|key| !key.is_empty()).map(Some)
            },
            temperature: number("Temperature", &temperature)?,
            max_tokens: number("Max tokens", &max_tokens)?,
            timeout_seconds,
        }),
        _ => AgentRuntime::Builtin,
    })
}

/// The saved values, in the order of [`FIELDS`] (never the API key).
fn saved_values(runtime: &AgentRuntime) -> [String; 7] {
    let number =
        |value: Option<serde_json::Value>| value.map(|v| v.to_string()).unwrap_or_default();
    match runtime {
        AgentRuntime::Builtin => Default::default(),
        AgentRuntime::Http(http) => [
            http.url.clone(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            number(http.timeout_seconds.map(Into::into)),
        ],
        AgentRuntime::Openai(openai) => [
            String::new(),
            openai.base_url.clone(),
            openai.model.clone(),
            String::new(),
            number(
                openai
                    .temperature
                    .and_then(serde_json::Number::from_f64)
                    .map(Into::into),
            ),
            number(openai.max_tokens.map(Into::into)),
            number(openai.timeout_seconds.map(Into::into)),
        ],
    }
}

#[component]
pub fn Runtime(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let kind = agent.runtime.kind();
    let key_saved = matches!(&agent.runtime, AgentRuntime::Openai(o) if o.api_key.is_some());
    let values = saved_values(&agent.runtime);
    let inputs: Inputs = Default::default();
    let kind_select = NodeRef::<html::Select>::new();
    let forget_key = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let audit = use_context::<AuditReload>();
    let audited = Callback::new(move |_| {
        if let Some(audit) = audit {
            audit.0.update(|n| *n += 1);
        }
    });
    let save = Action::new(move |_: &()| {
        let kind = kind_select
            .get_untracked()
            .map(|select| select.value())
            .unwrap_or_default();
        let forget = forget_key
            .get_untracked()
            .is_some_and(|checkbox| checkbox.checked());
        let runtime = runtime_of(&kind, &inputs, forget);
        async move {
            let patch = match runtime {
                Ok(runtime) => UpdateAgent {
                    runtime: Some(runtime),
                    ..UpdateAgent::default()
                },
                Err(message) => {
                    notice.set(None);
                    error.set(Some(ApiError {
                        status: 400,
                        message,
                        details: Vec::new(),
                        retry_after_seconds: None,
                    }));
                    return;
                }
            };
            match edit_agent(id, patch).await {
                Ok(saved) => {
                    error.set(None);
                    // The key never comes back; the field empties once it is saved.
                    if let Some(input) = inputs[3].get_untracked() {
                        input.set_value("");
                    }
                    notice.set(Some(format!("Runtime saved: {}.", saved.runtime.kind())));
                    audited.run(());
                }
                Err(err) => {
                    notice.set(None);
                    error.set(Some(err));
                }
            }
        }
    });
    let fields = FIELDS
        .into_iter()
        .zip(inputs)
        .zip(values)
        .map(|(((input_id, label, placeholder, group), node), value)| {
            let (kind, placeholder) = match input_id {
                "runtime-api-key" if key_saved => ("password", "Saved; leave blank to keep it"),
                "runtime-api-key" => ("password", "Optional for local servers"),
                _ => ("text", placeholder),
            };
            view! {
                <div class=group>
                    <label for=input_id>{label}</label>
                    <input id=input_id type=kind node_ref=node value=value placeholder=placeholder autocomplete="off"/>
                </div>
            }
        })
        .collect_view();
    view! {
        <section class="card runtime-form" aria-labelledby="runtime">
            <h2 id="runtime">"Runtime"</h2>
            <p class="muted">"What each accepted webhook makes this agent do."</p>
            <label for="runtime-kind">"Runtime"</label>
            <select id="runtime-kind" node_ref=kind_select>
                <option value="builtin" selected=kind == "builtin">"Built-in: record the payload"</option>
                <option value="http" selected=kind == "http">"HTTP endpoint: forward the webhook, signed"</option>
                <option value="openai" selected=kind == "openai">"OpenAI-compatible: ask a model"</option>
            </select>
            {fields}
            <label class="checkbox runtime-openai" class:hidden=!key_saved>
                <input type="checkbox" node_ref=forget_key/>
                "Remove the saved key"
            </label>
            <p class="muted runtime-http">
                "The endpoint receives the original body, signed with the secret below "
                "(webhook-id, webhook-timestamp, webhook-signature), plus X-Agent-Id and "
                "X-Execution-Attempt."
            </p>
            <p class="muted runtime-openai">
                "The system prompt is the agent's; the user message is the payload as JSON. A "
                "saved key is sent only to the origin of the base URL it was saved with."
            </p>
            <div class="runtime-http">
                <SecretField kind=SecretKind::Signing(SigningSecretOwner::Runtime(id))
                    label="Signing secret (Standard Webhooks)" input_id="runtime-secret" on_change=audited/>
            </div>
            <div class="actions">
                <button type="button" class="button" on:click=move |_| { save.dispatch(()); }>
                    "Save Runtime"
                </button>
            </div>
            <p role="status" class="notice">{move || notice.get()}</p>
            {move || error.get().map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}
