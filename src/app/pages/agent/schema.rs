use leptos::prelude::*;

use super::{AuditReload, Editor, SavedSchema, Unsaved};
use crate::{
    api::{save_schema, validate_schema},
    app::{
        components::{ErrorNotice, FieldErrors},
        examples::EXAMPLES,
    },
    domain::{Agent, ApiError, FieldError},
};

/// What the last Validate / Save / Clear said.
#[derive(Clone, PartialEq)]
enum Outcome {
    Valid,
    Invalid(Vec<FieldError>),
    Saved,
    NotSaved(Vec<FieldError>),
    Cleared,
    Failed(ApiError),
}

#[component]
pub fn PayloadSchema(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let initial = agent
        .payload_schema
        .as_ref()
        .map(|schema| serde_json::to_string_pretty(schema).unwrap_or_default())
        .unwrap_or_default();
    let unsaved = Unsaved::get();
    let text = RwSignal::new(
        unsaved
            .text(id, Editor::Schema)
            .unwrap_or_else(|| initial.clone()),
    );
    // The text last saved (or loaded): the editor's text is kept with the page while it
    // differs from it (see `Unsaved`).
    let saved_text = StoredValue::new(initial);
    let keep_unsaved = move |typed: String| {
        let unsaved_text = saved_text
            .with_value(|saved| typed != *saved)
            .then_some(typed);
        unsaved.keep(id, Editor::Schema, unsaved_text);
    };
    Effect::new(move |_| keep_unsaved(text.get()));
    let outcome = RwSignal::new(None::<Outcome>);
    let audit = use_context::<AuditReload>();
    let saved_schema = use_context::<SavedSchema>();

    // Each action applies its own answer when it arrives (an `Effect` watching the action's
    // value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let validate = Action::new(move |text: &String| {
        let text = text.clone();
        async move {
            outcome.set(Some(match validate_schema(text).await {
                Ok(v) if v.valid => Outcome::Valid,
                Ok(v) => Outcome::Invalid(v.errors),
                Err(err) => Outcome::Failed(err),
            }));
        }
    });
    let save = Action::new(move |sent: &Option<String>| {
        let sent = sent.clone();
        async move {
            let result = save_schema(id, sent.clone()).await;
            if let Ok(agent) = &result {
                // What was typed while the save was on its way stays unsaved.
                saved_text.set_value(sent.unwrap_or_default());
                keep_unsaved(text.get_untracked());
                if let Some(saved) = saved_schema {
                    saved.0.set(agent.payload_schema.clone());
                }
                if let Some(audit) = audit {
                    audit.0.update(|n| *n += 1);
                }
            }
            outcome.set(Some(match result {
                Ok(agent) if agent.payload_schema.is_none() => Outcome::Cleared,
                Ok(_) => Outcome::Saved,
                Err(err) if err.status == 400 => Outcome::NotSaved(err.details),
                Err(err) => Outcome::Failed(err),
            }));
        }
    });

    let line_numbers = move || {
        let lines = text.with(|t| t.lines().count().max(1));
        (1..=lines)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let busy = move || validate.pending().get() || save.pending().get();

    view! {
        <section class="card" aria-labelledby="payload-schema">
            <h2 id="payload-schema">"Payload Schema"</h2>
            <p class="muted">
                "JSON Schema (Draft 2020-12 by default, Draft 7 via $schema). Webhooks whose JSON "
                "breaks it are refused with 400 and every violation listed."
            </p>
            <div class="field-row">
                <label for="schema-examples">"Examples"</label>
                <select
                    id="schema-examples"
                    on:change=move |ev| {
                        let choice = event_target_value(&ev);
                        if let Some((_, schema)) = EXAMPLES.iter().find(|(name, _)| *name == choice) {
                            text.set((*schema).to_owned());
                            outcome.set(None);
                        }
                    }
                >
                    <option value="">"Choose an example…"</option>
                    {EXAMPLES.iter().map(|(name, _)| view! { <option value=*name>{*name}</option> }).collect_view()}
                </select>
            </div>
            <label for="schema-editor">"Payload schema (JSON)"</label>
            <div class="editor">
                <pre class="gutter" aria-hidden="true">{line_numbers}</pre>
                <textarea id="schema-editor" class="code" rows="14" spellcheck="false" bind:value=text></textarea>
            </div>
            <div class="actions">
                <button type="button" class="button secondary" disabled=busy
                    on:click=move |_| { validate.dispatch(text.get_untracked()); }>"Validate Schema"</button>
                <button type="button" class="button" disabled=busy
                    on:click=move |_| { save.dispatch(Some(text.get_untracked())); }>"Save Schema"</button>
                <button type="button" class="button secondary" disabled=busy
                    on:click=move |_| { text.set(String::new()); save.dispatch(None); }>"Clear Schema"</button>
            </div>
            <div data-testid="schema-result" role="status" class="result">
                {move || outcome.get().map(|outcome| match outcome {
                    Outcome::Valid => view! { <p class="ok">"Schema is valid."</p> }.into_any(),
                    Outcome::Saved => view! { <p class="ok">"Schema saved."</p> }.into_any(),
                    Outcome::Cleared => view! { <p class="ok">"Schema cleared: any JSON payload is accepted."</p> }.into_any(),
                    Outcome::Invalid(errors) => view! {
                        <p class="error">"Schema has errors:"</p>
                        <FieldErrors errors/>
                    }.into_any(),
                    Outcome::NotSaved(errors) => view! {
                        <p class="error">"Schema not saved: it has errors."</p>
                        <FieldErrors errors/>
                    }.into_any(),
                    Outcome::Failed(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </div>
        </section>
    }
}
