use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use leptos::prelude::*;
use uuid::Uuid;

use crate::{
    api::list_executions,
    app::{
        browser::sleep_ms,
        components::{ErrorNotice, StatusBadge},
        resource::server_resource,
    },
    domain::{Execution, ExecutionStatus},
};

/// Bump it to reload the list now (after a test webhook).
#[derive(Clone, Copy)]
pub struct ExecutionsReload(pub RwSignal<u32>);

/// How often the list refreshes while an execution is queued or running.
const POLL_MS: u32 = 2_000;

#[component]
pub fn Executions(agent_id: Uuid) -> impl IntoView {
    let reload = use_context::<ExecutionsReload>().unwrap_or(ExecutionsReload(RwSignal::new(0)));
    let page = server_resource(move || reload.0.get(), move |_| list_executions(agent_id));
    let selected = RwSignal::new(None::<Uuid>);

    // Poll while anything is unfinished; stop when the page is left.
    let alive = Arc::new(AtomicBool::new(true));
    on_cleanup({
        let alive = alive.clone();
        move || alive.store(false, Ordering::SeqCst)
    });
    Effect::new(move |_| {
        let unfinished = page
            .get()
            .and_then(Result::ok)
            .is_some_and(|page| page.items.iter().any(|e| !e.status.is_finished()));
        if unfinished {
            let alive = alive.clone();
            leptos::task::spawn_local(async move {
                sleep_ms(POLL_MS).await;
                if alive.load(Ordering::SeqCst) {
                    reload.0.update(|n| *n += 1);
                }
            });
        }
    });

    view! {
        <section class="card" aria-labelledby="executions">
            <h2 id="executions">"Executions"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading executions…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <p class="muted">"No executions yet. Send a test webhook to see one here."</p>
                        }.into_any(),
                        Ok(page) => view! { <ExecutionTable items=page.items selected/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ExecutionTable(items: Vec<Execution>, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    view! {
        <table aria-label="Executions">
            <thead>
                <tr><th>"Execution"</th><th>"Status"</th><th>"Received"</th><th>"Duration"</th><th>"Attempts"</th></tr>
            </thead>
            <tbody>
                {items
                    .into_iter()
                    .map(|execution| {
                        let id = execution.id;
                        let short = id.to_string()[..8].to_owned();
                        let duration = execution
                            .duration_ms()
                            .map(|ms| format!("{ms} ms"))
                            .unwrap_or_else(|| "—".into());
                        let details = execution.clone();
                        view! {
                            <tr data-execution-id=id.to_string()>
                                <td>
                                    <button
                                        type="button"
                                        class="link-button mono"
                                        aria-expanded=move || (selected.get() == Some(id)).to_string()
                                        on:click=move |_| selected.update(|s| *s = if *s == Some(id) { None } else { Some(id) })
                                    >
                                        {format!("View {short}")}
                                    </button>
                                </td>
                                <td><StatusBadge status=execution.status.as_str()/></td>
                                <td>
                                    <time datetime=execution.created_at.to_rfc3339()>
                                        {crate::app::time::utc_seconds(&execution.created_at)}
                                    </time>
                                </td>
                                <td>{duration}</td>
                                <td>{execution.attempts}</td>
                            </tr>
                            <Show when=move || selected.get() == Some(id)>
                                <tr class="details-row">
                                    <td colspan="5"><ExecutionDetails execution=details.clone()/></td>
                                </tr>
                            </Show>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn ExecutionDetails(execution: Execution) -> impl IntoView {
    let pretty =
        |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let finished = execution.status == ExecutionStatus::Failed;
    view! {
        <div class="execution-details">
            <p class="mono muted">{execution.id.to_string()}</p>
            <h4>"Payload"</h4>
            <pre class="code">{pretty(&execution.payload)}</pre>
            <h4>"Result"</h4>
            <pre class="code">{execution.result.as_ref().map(pretty).unwrap_or_else(|| "—".into())}</pre>
            <h4>"Error"</h4>
            <pre class="code" class:error=finished>{execution.error.clone().unwrap_or_else(|| "—".into())}</pre>
        </div>
    }
}
