use leptos::prelude::*;

use super::{Editor, Unsaved};
use crate::{
    api::send_test_webhook,
    app::components::{CopyButton, ErrorNotice, FieldErrors},
    domain::{sample_payload, Agent, TestWebhookResult},
};

#[component]
pub fn TestWebhook(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let sample = serde_json::to_string_pretty(&sample_payload(agent.payload_schema.as_ref()))
        .unwrap_or_else(|_| "{}".into());
    let unsaved = Unsaved::get();
    let payload = RwSignal::new(
        unsaved
            .text(id, Editor::TestPayload)
            .unwrap_or_else(|| sample.clone()),
    );
    // Kept with the page while it differs from the sample (see `Unsaved`).
    Effect::new(move |_| {
        let typed = payload.get();
        unsaved.keep(id, Editor::TestPayload, (typed != sample).then_some(typed));
    });
    // A newly saved schema gets a fresh sample that satisfies it.
    if let Some(saved) = use_context::<super::SavedSchema>() {
        let initial = agent.payload_schema.clone();
        Effect::new(move |_| {
            let schema = saved.0.get();
            if schema != initial {
                let sample = sample_payload(schema.as_ref());
                payload.set(serde_json::to_string_pretty(&sample).unwrap_or_else(|_| "{}".into()));
            }
        });
    }
    let executions = use_context::<super::executions::ExecutionsReload>();
    let audit = use_context::<super::AuditReload>();
    // The action reloads the lists itself when its answer arrives (an `Effect` watching its
    // value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let send = Action::new(move |payload: &String| {
        let payload = payload.clone();
        async move {
            let result = send_test_webhook(id, payload).await;
            if result.is_ok() {
                if let Some(executions) = executions {
                    executions.0.update(|n| *n += 1);
                }
                if let Some(audit) = audit {
                    audit.0.update(|n| *n += 1);
                }
            }
            result
        }
    });

    view! {
        <section class="card" aria-labelledby="test-webhook">
            <h2 id="test-webhook">"Test Webhook"</h2>
            <p class="muted">
                "Signs this payload with the agent's secret on the server and sends it through the real "
                "webhook route, exactly as an external system would."
            </p>
            <label for="test-payload">"Test payload (JSON)"</label>
            <textarea id="test-payload" class="code" rows="10" spellcheck="false" bind:value=payload></textarea>
            <div class="actions">
                <button type="button" class="button" disabled=move || send.pending().get()
                    on:click=move |_| { send.dispatch(payload.get_untracked()); }>
                    "Send Test Webhook"
                </button>
            </div>
            {move || send.value().get().map(|result| match result {
                Ok(result) => view! { <TestResult result/> }.into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn TestResult(result: TestWebhookResult) -> impl IntoView {
    let success = result.status == 202;
    let execution_id = result.execution_id.map(|id| id.to_string());
    let response = serde_json::to_string_pretty(&result.response_body).unwrap_or_default();
    let curl = result.curl.clone();
    view! {
        <div data-testid="test-result" class="result" class:ok=success class:error=!success>
            <p class="status-code">
                <strong>{result.status}</strong>" "{result.meaning.clone()}
            </p>
            {execution_id.map(|id| {
                let copy_value = id.clone();
                view! {
                    <div class="field-row">
                        <span>"Execution ID: "</span>
                        <code class="mono">{id}</code>
                        <CopyButton
                            label="Copy execution ID"
                            copied_message="Execution ID copied!"
                            text=Signal::derive(move || Some(copy_value.clone()))
                        />
                    </div>
                }
            })}
            <FieldErrors errors=result.details.clone()/>
            <details>
                <summary>"Full response"</summary>
                <pre class="code">{response}</pre>
            </details>
            <h3>"Equivalent curl command"</h3>
            <pre class="code curl">{curl.clone()}</pre>
            <CopyButton
                label="Copy curl command"
                copied_message="curl command copied!"
                text=Signal::derive(move || Some(curl.clone()))
            />
        </div>
    }
}
