//! The agent detail page: every control of one agent's webhook.

mod executions;
mod requests;
mod runtime;
mod schema;
mod secret;
mod settings;
mod status;
mod test_webhook;
mod webhook_config;

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

use crate::{
    api::get_agent,
    app::{
        components::{ErrorNotice, StatusBadge},
        resource::server_resource,
    },
    domain::{Agent, ApiError},
};

/// Shared by the sections: bump it to reload the agent (and re-render the page) after a
/// change that affects every section, such as the status.
#[derive(Clone, Copy)]
pub struct AgentReload(pub RwSignal<u32>);

/// Bump it to reload the audit log after an audited action.
#[derive(Clone, Copy)]
pub struct AuditReload(pub RwSignal<u32>);

/// A form whose save reloads the agent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Settings,
    Verification,
}

/// Which form was just saved, for which agent: kept across the reload the save causes (it
/// renders every section anew), so that the form can say it was saved.
#[derive(Clone, Copy)]
pub struct JustSaved(pub RwSignal<Option<(Uuid, Form)>>);

impl JustSaved {
    /// The page's, or a signal of its own outside the page.
    pub fn get() -> RwSignal<Option<(Uuid, Form)>> {
        use_context::<JustSaved>()
            .map(|saved| saved.0)
            .unwrap_or_else(|| RwSignal::new(None))
    }
}

/// An editor of the page whose text is kept while it differs from what is saved.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Editor {
    Schema,
    TestPayload,
}

/// What the admin typed into the page's editors and has not saved, per agent. Another form's
/// save reloads the agent, which renders every section anew: the editors start from here,
/// not from the saved agent, so that a schema being written or a test payload survives it.
#[derive(Clone, Copy)]
pub struct Unsaved(StoredValue<Vec<(Uuid, Editor, String)>>);

impl Unsaved {
    /// The page's, or one of its own outside the page.
    pub fn get() -> Self {
        use_context::<Unsaved>().unwrap_or_else(|| Unsaved(StoredValue::new(Vec::new())))
    }

    /// The unsaved text of `editor` for `agent`, if any.
    pub fn text(self, agent: Uuid, editor: Editor) -> Option<String> {
        self.0.with_value(|kept| {
            kept.iter()
                .find(|(id, kind, _)| *id == agent && *kind == editor)
                .map(|(_, _, text)| text.clone())
        })
    }

    /// Keeps `text` for `editor` of `agent` (None: nothing unsaved any more).
    pub fn keep(self, agent: Uuid, editor: Editor, text: Option<String>) {
        self.0.update_value(|kept| {
            kept.retain(|(id, kind, _)| !(*id == agent && *kind == editor));
            if let Some(text) = text {
                kept.push((agent, editor, text));
            }
        });
    }
}

/// The agent's saved payload schema, as the schema editor last saved it.
#[derive(Clone, Copy)]
pub struct SavedSchema(pub RwSignal<Option<serde_json::Value>>);

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let reload = AgentReload(RwSignal::new(0));
    provide_context(reload);
    provide_context(JustSaved(RwSignal::new(None)));
    provide_context(Unsaved(StoredValue::new(Vec::new())));
    let agent = server_resource(
        move || (id(), reload.0.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_agent(id).await,
                None => Err(ApiError {
                    status: 404,
                    message: "not found".into(),
                    details: Vec::new(),
                    retry_after_seconds: None,
                }),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading agent…"</p> }>
            {move || Suspend::new(async move {
                match agent.await {
                    Ok(agent) => view! { <AgentDetail agent/> }.into_any(),
                    Err(error) if error.status == 404 => view! {
                        <h1>"Agent not found"</h1>
                        <p><a href="/agents">"Back to the agents"</a></p>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AgentDetail(agent: Agent) -> impl IntoView {
    // The test sender asks the executions list to refresh at once.
    provide_context(executions::ExecutionsReload(RwSignal::new(0)));
    provide_context(AuditReload(RwSignal::new(0)));
    provide_context(SavedSchema(RwSignal::new(agent.payload_schema.clone())));
    let description = (!agent.description.is_empty()).then(|| agent.description.clone());
    view! {
        <div class="page-header">
            <h1>{agent.name.clone()}</h1>
            <StatusBadge status=agent.status.as_str()/>
        </div>
        {description.map(|text| view! { <p class="lead">{text}</p> })}
        <webhook_config::WebhookConfiguration agent=agent.clone()/>
        <secret::HmacSecret agent=agent.clone()/>
        <schema::PayloadSchema agent=agent.clone()/>
        <runtime::Runtime agent=agent.clone()/>
        <test_webhook::TestWebhook agent=agent.clone()/>
        <executions::Executions agent_id=agent.id/>
        <requests::RequestLog agent_id=agent.id/>
        <settings::AgentSettings agent=agent.clone()/>
        <status::AgentStatusSection agent/>
    }
}
