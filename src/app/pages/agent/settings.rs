//! The agent's own settings (name, description, system prompt, rate limit, signed
//! timestamps) and its deletion. Inputs are read from the DOM on save; errors show next to
//! the field they concern.

use leptos::{html, prelude::*};
use leptos_router::hooks::use_navigate;

use super::{AgentReload, Form, JustSaved};
use crate::{
    api::{delete_agent, edit_agent},
    app::components::{field_message, ConfirmDialog, ErrorNotice},
    domain::{Agent, ApiError, FieldError, UpdateAgent},
};

#[component]
pub fn AgentSettings(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let reload = use_context::<AgentReload>();
    let name = NodeRef::<html::Input>::new();
    let description = NodeRef::<html::Textarea>::new();
    let prompt = NodeRef::<html::Textarea>::new();
    let rate = NodeRef::<html::Input>::new();
    let timestamp = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<ApiError>);
    // Kept by the page: saving reloads the agent, which renders this section anew.
    let saved = JustSaved::get();
    let original = StoredValue::new((
        agent.name.clone(),
        agent.description.clone(),
        agent.system_prompt.clone(),
        agent.rate_limit_per_minute,
        agent.require_timestamp,
    ));
    let save = Action::new(move |_: &()| {
        saved.set(None);
        let text = |node: NodeRef<html::Input>| {
            node.get_untracked().map(|n| n.value()).unwrap_or_default()
        };
        let area = |node: NodeRef<html::Textarea>| {
            node.get_untracked().map(|n| n.value()).unwrap_or_default()
        };
        let rate_text = text(rate);
        let rate_limit = match rate_text.trim() {
            "" => Ok(None),
            n => n.parse::<u32>().map(Some).map_err(|_| ()),
        };
        // Only what changed is sent, so the audit entry names what changed.
        let patch = rate_limit.map(|rate_limit| {
            original.with_value(
                |(old_name, old_description, old_prompt, old_rate, old_timestamp)| {
                    let changed = |new: String, old: &String| (new != *old).then_some(new);
                    let require_timestamp = timestamp.get_untracked().map(|n| n.checked());
                    UpdateAgent {
                        name: changed(text(name), old_name),
                        description: changed(area(description), old_description),
                        system_prompt: changed(area(prompt), old_prompt),
                        rate_limit_per_minute: (rate_limit != *old_rate).then_some(rate_limit),
                        require_timestamp: require_timestamp.filter(|new| new != old_timestamp),
                        ..UpdateAgent::default()
                    }
                },
            )
        });
        async move {
            let result = match patch {
                Ok(patch) => edit_agent(id, patch).await,
                Err(()) => Err(ApiError {
                    status: 400,
                    message: "rate limit must be a whole number".into(),
                    details: vec![FieldError {
                        path: "/rate_limit_per_minute".into(),
                        message: "a whole number from 1 to 1000000, or empty for no limit".into(),
                    }],
                    retry_after_seconds: None,
                }),
            };
            saved.set(result.is_ok().then_some((id, Form::Settings)));
            match result {
                Ok(_) => {
                    error.set(None);
                    if let Some(reload) = reload {
                        reload.0.update(|n| *n += 1);
                    }
                }
                Err(err) => error.set(Some(err)),
            }
        }
    });
    // The message of the error about `field`, shown under its input.
    let field_error =
        move |field: &'static str| move || error.with(|error| field_message(error.as_ref(), field));

    let navigate = use_navigate();
    let confirm_delete = RwSignal::new(false);
    // Back to the list once deleted (the action navigates itself: no `Effect`).
    let delete = Action::new(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            let result = delete_agent(id).await;
            if result.is_ok() {
                navigate("/agents", Default::default());
            }
            result
        }
    });
    let on_delete = Callback::new(move |_| {
        delete.dispatch(());
    });
    let rate_value = agent
        .rate_limit_per_minute
        .map(|n| n.to_string())
        .unwrap_or_default();
    view! {
        <section class="card" aria-labelledby="agent-settings">
            <h2 id="agent-settings">"Settings"</h2>
            <form class="form" on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                <label for="settings-name">"Name"</label>
                <input id="settings-name" type="text" maxlength="200" node_ref=name value=agent.name.clone()
                    aria-describedby="settings-name-error"/>
                <p id="settings-name-error" class="field-error">{field_error("name")}</p>
                <label for="settings-description">"Description"</label>
                <textarea id="settings-description" rows="2" node_ref=description>{agent.description.clone()}</textarea>
                <p class="field-error">{field_error("description")}</p>
                <label for="settings-prompt">"System prompt"</label>
                <textarea id="settings-prompt" rows="4" node_ref=prompt>{agent.system_prompt.clone()}</textarea>
                <p class="field-error">{field_error("system_prompt")}</p>
                <label for="settings-rate">"Rate limit (webhooks per minute, empty for none)"</label>
                <input id="settings-rate" type="text" inputmode="numeric" node_ref=rate value=rate_value
                    aria-describedby="settings-rate-error"/>
                <p id="settings-rate-error" class="field-error">{field_error("rate_limit_per_minute")}</p>
                <label class="checkbox">
                    <input type="checkbox" node_ref=timestamp checked=agent.require_timestamp
                        aria-describedby="settings-timestamp-error"/>
                    " Require a signed timestamp (Standard Webhooks headers)"
                </label>
                <p id="settings-timestamp-error" class="field-error">{field_error("require_timestamp")}</p>
                <div class="actions">
                    <button type="submit" class="button">"Save settings"</button>
                    <button type="button" class="button danger" on:click=move |_| confirm_delete.set(true)>
                        "Delete agent"
                    </button>
                </div>
            </form>
            <p role="status" class="notice">{move || (saved.get() == Some((id, Form::Settings))).then_some("Settings saved.")}</p>
            {move || error.get().filter(|e| e.details.is_empty()).map(|error| view! { <ErrorNotice error/> })}
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
            <ConfirmDialog open=confirm_delete title="Delete this agent?" confirm_label="Delete" on_confirm=on_delete>
                <p>
                    "Its webhook URL stops working at once (404) and it leaves the agents list. "
                    "Its executions, request log and audit entries stay readable."
                </p>
            </ConfirmDialog>
        </section>
    }
}
