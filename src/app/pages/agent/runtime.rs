//! The agent's runtime: what an execution does (built-in, http, OpenAI-compatible).

use leptos::prelude::*;

use super::AuditReload;
use crate::{
    api::edit_agent,
    app::components::{ErrorNotice, SecretOf, SigningSecret},
    domain::{Agent, AgentRuntime, ApiError, HttpRuntime, OpenAiRuntime, UpdateAgent},
};

/// The form's fields, as typed.
#[derive(Clone, Default)]
struct Fields {
    url: String,
    base_url: String,
    model: String,
    api_key: String,
    temperature: String,
    max_tokens: String,
    timeout: String,
}

fn text<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A number field: blank is "the default".
fn number<T: std::str::FromStr>(label: &str, raw: &str) -> Result<Option<T>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| format!("{label} must be a number"))
}

impl Fields {
    fn of(runtime: &AgentRuntime) -> Self {
        match runtime {
            AgentRuntime::Builtin => Self::default(),
            AgentRuntime::Http(http) => Self {
                url: http.url.clone(),
                timeout: text(http.timeout_seconds),
                ..Self::default()
            },
            AgentRuntime::Openai(openai) => Self {
                base_url: openai.base_url.clone(),
                model: openai.model.clone(),
                temperature: text(openai.temperature),
                max_tokens: text(openai.max_tokens),
                timeout: text(openai.timeout_seconds),
                ..Self::default()
            },
        }
    }

    /// The runtime to save; a blank API key keeps the saved one.
    fn runtime(&self, kind: &str) -> Result<AgentRuntime, String> {
        let timeout_seconds = number("Timeout", &self.timeout)?;
        Ok(match kind {
            "http" => AgentRuntime::Http(HttpRuntime {
                url: self.url.trim().to_owned(),
                timeout_seconds,
            }),
            "openai" => AgentRuntime::Openai(OpenAiRuntime {
                base_url: self.base_url.trim().to_owned(),
                model: self.model.trim().to_owned(),
                api_key: Some(self.api_key.trim().to_owned())
                    .filter(|key| !key.is_empty())
                    .map(Some),
                temperature: number("Temperature", &self.temperature)?,
                max_tokens: number("Max tokens", &self.max_tokens)?,
                timeout_seconds,
            }),
            _ => AgentRuntime::Builtin,
        })
    }
}

#[component]
pub fn Runtime(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let kind = RwSignal::new(agent.runtime.kind().to_owned());
    let fields = RwSignal::new(Fields::of(&agent.runtime));
    let key_saved =
        RwSignal::new(matches!(&agent.runtime, AgentRuntime::Openai(o) if o.api_key.is_some()));
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let audit = use_context::<AuditReload>();
    let audited = Callback::new(move |_| {
        if let Some(audit) = audit {
            audit.0.update(|n| *n += 1);
        }
    });
    let save = Action::new(move |runtime: &AgentRuntime| {
        let patch = UpdateAgent {
            runtime: Some(runtime.clone()),
            ..UpdateAgent::default()
        };
        async move {
            match edit_agent(id, patch).await {
                Ok(saved) => {
                    error.set(None);
                    key_saved.set(
                        matches!(&saved.runtime, AgentRuntime::Openai(o) if o.api_key.is_some()),
                    );
                    fields.set(Fields::of(&saved.runtime));
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
    let submit = move |_| match fields.with_untracked(|f| f.runtime(&kind.get_untracked())) {
        Ok(runtime) => {
            save.dispatch(runtime);
        }
        Err(message) => {
            notice.set(None);
            error.set(Some(ApiError {
                status: 400,
                message,
                details: Vec::new(),
                retry_after_seconds: None,
            }));
        }
    };
    // One text input bound to one field of the form.
    let field = move |input_id: &'static str,
                      label: &'static str,
                      placeholder: &'static str,
                      get: fn(&Fields) -> String,
                      set: fn(&mut Fields, String)| {
        view! {
            <label for=input_id>{label}</label>
            <input id=input_id type="text" placeholder=placeholder
                prop:value=move || fields.with(get)
                on:input=move |ev| fields.update(|f| set(f, event_target_value(&ev)))/>
        }
    };
    view! {
        <section class="card" aria-labelledby="runtime">
            <h2 id="runtime">"Runtime"</h2>
            <p class="muted">"What each accepted webhook makes this agent do."</p>
            <label for="runtime-kind">"Runtime"</label>
            <select id="runtime-kind" prop:value=move || kind.get()
                on:change=move |ev| kind.set(event_target_value(&ev))>
                <option value="builtin">"Built-in: record the payload"</option>
                <option value="http">"HTTP endpoint: forward the webhook, signed"</option>
                <option value="openai">"OpenAI-compatible: ask a model"</option>
            </select>
            <Show when=move || kind.get() == "http">
                {field("runtime-url", "Endpoint URL", "https://agents.example.com/triage", |f| f.url.clone(), |f, v| f.url = v)}
                <p class="muted">
                    "Receives the original body, signed with the secret below (webhook-id, "
                    "webhook-timestamp, webhook-signature), plus X-Agent-Id and X-Execution-Attempt."
                </p>
                <SigningSecret of=SecretOf::Runtime(id) input_id="runtime-secret" on_change=audited/>
            </Show>
            <Show when=move || kind.get() == "openai">
                {field("runtime-base-url", "Base URL", "https://api.openai.com/v1", |f| f.base_url.clone(), |f, v| f.base_url = v)}
                {field("runtime-model", "Model", "gpt-4o-mini", |f| f.model.clone(), |f, v| f.model = v)}
                <label for="runtime-api-key">"API key"</label>
                <input id="runtime-api-key" type="password" autocomplete="off"
                    placeholder=move || if key_saved.get() { "Saved; leave blank to keep it" } else { "Optional for local servers" }
                    prop:value=move || fields.with(|f| f.api_key.clone())
                    on:input=move |ev| fields.update(|f| f.api_key = event_target_value(&ev))/>
                {field("runtime-temperature", "Temperature", "server default", |f| f.temperature.clone(), |f, v| f.temperature = v)}
                {field("runtime-max-tokens", "Max tokens", "server default", |f| f.max_tokens.clone(), |f, v| f.max_tokens = v)}
                <p class="muted">"The system prompt is the agent's; the user message is the payload as JSON."</p>
            </Show>
            <Show when=move || kind.get() != "builtin">
                {field("runtime-timeout", "Timeout (seconds)", "30 for HTTP, 120 for models", |f| f.timeout.clone(), |f, v| f.timeout = v)}
            </Show>
            <div class="actions">
                <button type="button" class="button" on:click=submit disabled=move || save.pending().get()>
                    "Save Runtime"
                </button>
            </div>
            <p role="status" class="notice">{move || notice.get()}</p>
            {move || error.get().map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}
