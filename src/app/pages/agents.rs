use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::{list_agents, new_agent},
    app::{
        components::{ErrorNotice, FieldErrors, StatusBadge},
        resource::server_resource,
    },
    domain::{AgentStatus, AgentSummary, ApiError, CreateAgent, FieldError},
};

#[component]
pub fn AgentsPage() -> impl IntoView {
    let agents = server_resource(|| (), |_| list_agents());
    view! {
        <h1>"Agents"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading agents…"</p> }>
            {move || Suspend::new(async move {
                match agents.await {
                    Ok(list) => view! { <AgentTable agents=list/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
        <NewAgentForm/>
    }
}

#[component]
fn AgentTable(agents: Vec<AgentSummary>) -> impl IntoView {
    if agents.is_empty() {
        return view! { <p class="card muted">"No agents yet: create the first one below."</p> }
            .into_any();
    }
    view! {
        <div class="card table-card">
            <table aria-label="Agents">
                <thead>
                    <tr><th>"Name"</th><th>"Status"</th><th>"Webhook URL"</th><th>"Last execution"</th></tr>
                </thead>
                <tbody>
                    {agents
                        .into_iter()
                        .map(|agent| {
                            let href = format!("/agents/{}", agent.id);
                            let last = match (agent.last_execution_status, agent.last_execution_at) {
                                (Some(status), Some(at)) => view! {
                                    <StatusBadge status=status.as_str()/>
                                    " "
                                    <time datetime=at.to_rfc3339()>{crate::app::time::utc_seconds(&at)}</time>
                                }.into_any(),
                                _ => view! { <span class="muted">"never"</span> }.into_any(),
                            };
                            view! {
                                <tr>
                                    <td><A href=href>{agent.name}</A></td>
                                    <td><StatusBadge status=agent.status.as_str()/></td>
                                    <td><code class="url">{agent.webhook_url.unwrap_or_else(|| "— (draft)".into())}</code></td>
                                    <td>{last}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn NewAgentForm() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let status = RwSignal::new("active".to_owned());
    let schema_text = RwSignal::new(String::new());
    let local_errors = RwSignal::new(Vec::<FieldError>::new());
    let navigate = use_navigate();
    // The action opens the new agent itself when its answer arrives (an `Effect` watching
    // its value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let create = Action::new(move |input: &CreateAgent| {
        let input = input.clone();
        let navigate = navigate.clone();
        async move {
            let result = new_agent(input).await;
            if let Ok(agent) = &result {
                navigate(&format!("/agents/{}", agent.id), Default::default());
            }
            result
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut errors = Vec::new();
        if name.get_untracked().trim().is_empty() {
            errors.push(FieldError {
                path: "/name".into(),
                message: "name must not be empty".into(),
            });
        }
        let schema = match schema_text.get_untracked().trim() {
            "" => None,
            text => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(value) => Some(value),
                Err(err) => {
                    errors.push(FieldError {
                        path: "/payload_schema".into(),
                        message: format!("not valid JSON: {err}"),
                    });
                    None
                }
            },
        };
        let status = status.get_untracked().parse::<AgentStatus>().ok();
        local_errors.set(errors.clone());
        if !errors.is_empty() {
            return;
        }
        create.dispatch(CreateAgent {
            name: name.get_untracked(),
            description: Some(description.get_untracked()),
            status,
            payload_schema: schema,
            ..CreateAgent::default()
        });
    };
    let server_error = move || create.value().get().and_then(Result::err);

    view! {
        <section class="card" aria-labelledby="new-agent">
            <h2 id="new-agent">"New agent"</h2>
            <form class="form" on:submit=submit>
                <label for="agent-name">"Name"</label>
                <input id="agent-name" type="text" bind:value=name maxlength="200"/>
                <label for="agent-description">"Description"</label>
                <textarea id="agent-description" rows="2" bind:value=description></textarea>
                <label for="agent-status">"Status"</label>
                <select id="agent-status" bind:value=status>
                    {AgentStatus::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
                <label for="agent-schema">"Payload schema (optional)"</label>
                <textarea id="agent-schema" class="code" rows="6" spellcheck="false" bind:value=schema_text
                    placeholder="{\"type\": \"object\"}"></textarea>
                {move || {
                    let errors = local_errors.get();
                    (!errors.is_empty()).then(|| view! {
                        <div role="alert" class="error">
                            <p>"Please fix these fields:"</p>
                            <FieldErrors errors/>
                        </div>
                    })
                }}
                {move || server_error().map(|error: ApiError| view! { <ErrorNotice error/> })}
                <button type="submit" class="button" disabled=move || create.pending().get()>"Create agent"</button>
            </form>
        </section>
    }
}
