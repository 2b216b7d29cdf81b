//! The request log of the agent's webhook URL: every request, accepted or refused, newest
//! first, with why it was refused and what it carried (credentials redacted).

use leptos::{html, prelude::*};
use uuid::Uuid;

use crate::{
    api::list_requests,
    app::{components::ErrorNotice, resource::server_resource},
    domain::{RequestOutcome, WebhookRequest},
};

#[component]
pub fn RequestLog(agent_id: Uuid) -> impl IntoView {
    // (outcome, before, reload)
    let filter = RwSignal::new((None::<RequestOutcome>, None::<Uuid>, 0u32));
    let page = server_resource(
        move || filter.get(),
        move |(outcome, before, _)| list_requests(agent_id, outcome, before),
    );
    let outcome_input = NodeRef::<html::Select>::new();
    let selected = RwSignal::new(None::<Uuid>);
    view! {
        <section class="card" aria-labelledby="request-log">
            <h2 id="request-log">"Request log"</h2>
            <p class="muted">
                "Every request to this agent's webhook URL, accepted or refused, kept for "
                "retention.requests_days (7 days by default). Signature headers, authorization "
                "and cookies are redacted; bodies are not kept (their size and SHA-256 are)."
            </p>
            <div class="filters">
                <label for="request-outcome">"Outcome"</label>
                <select id="request-outcome" node_ref=outcome_input on:change=move |_| {
                    let outcome = outcome_input.get_untracked().and_then(|s| s.value().parse().ok());
                    filter.update(|f| *f = (outcome, None, f.2));
                }>
                    <option value="">"any"</option>
                    {RequestOutcome::ALL
                        .into_iter()
                        .map(|o| view! { <option value=o.as_str()>{o.as_str()}</option> })
                        .collect_view()}
                </select>
                <button type="button" class="button secondary"
                    on:click=move |_| filter.update(|f| { f.1 = None; f.2 += 1; })>
                    "Refresh"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading requests…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <p class="muted">"No requests yet."</p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next_before;
                            view! {
                                <table aria-label="Requests">
                                    <thead>
                                        <tr><th>"Received"</th><th>"Status"</th><th>"Outcome"</th><th>"Delivery id"</th><th>"From"</th></tr>
                                    </thead>
                                    <tbody>
                                        {page.items.into_iter().map(|request| view! { <RequestRow request selected/> }).collect_view()}
                                    </tbody>
                                </table>
                                <div class="actions">
                                    <button type="button" class="button secondary"
                                        disabled=move || filter.with(|f| f.1.is_none())
                                        on:click=move |_| filter.update(|f| f.1 = None)>
                                        "Newest"
                                    </button>
                                    <button type="button" class="button secondary" disabled=next.is_none()
                                        on:click=move |_| filter.update(|f| f.1 = next)>
                                        "Older"
                                    </button>
                                </div>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn RequestRow(request: WebhookRequest, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    let id = request.id;
    let outcome = match &request.reason {
        Some(reason) => format!("{} · {reason}", request.outcome.as_str()),
        None => request.outcome.as_str().to_owned(),
    };
    let badge = if request.status < 300 {
        "badge badge-completed"
    } else {
        "badge badge-failed"
    };
    let headers = request
        .headers
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let body = format!(
        "{} bytes{}",
        request.body_bytes,
        request
            .body_sha256
            .map(|hash| format!(" · SHA-256 {hash}"))
            .unwrap_or_default()
    );
    view! {
        <tr data-request-id=id.to_string()>
            <td>
                <button type="button" class="link-button"
                    aria-expanded=move || (selected.get() == Some(id)).to_string()
                    on:click=move |_| selected.update(|s| *s = if *s == Some(id) { None } else { Some(id) })>
                    <time datetime=request.received_at.to_rfc3339()>{crate::app::time::utc_seconds(&request.received_at)}</time>
                </button>
            </td>
            <td><span class=badge>{request.status}</span></td>
            <td>{outcome}</td>
            <td class="mono">{request.delivery_id.unwrap_or_else(|| "—".into())}</td>
            <td class="mono">{request.source_ip.unwrap_or_else(|| "—".into())}</td>
        </tr>
        <Show when=move || selected.get() == Some(id)>
            <tr class="details-row">
                <td colspan="5">
                    <div class="execution-details">
                        {request.execution_id.map(|execution| view! {
                            <p><a href=format!("/executions/{execution}")>{format!("Execution {execution}")}</a></p>
                        })}
                        <p class="mono muted">{body.clone()}</p>
                        <h4>"Headers"</h4>
                        <pre class="code">{headers.clone()}</pre>
                    </div>
                </td>
            </tr>
        </Show>
    }
}
