//! One execution: its status and timeline (received, each failed attempt with its error,
//! started, finished), the payload, the request that queued it (from the request log) and
//! the result or error; and a Replay button.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

use crate::{
    api::{get_execution_detail, replay_execution},
    app::{
        components::{ErrorNotice, StatusBadge},
        resource::server_resource,
        time::utc_seconds,
    },
    domain::{ApiError, ExecutionDetail, ExecutionStatus},
};

#[component]
pub fn ExecutionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let refresh = RwSignal::new(0u32);
    provide_context(Refresh(refresh));
    let detail = server_resource(
        move || (id(), refresh.get()),
        |(id, _)| async move {
            match id {
                Some(id) => get_execution_detail(id).await,
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
        <Transition fallback=|| view! { <p class="muted">"Loading execution…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <Execution detail/> }.into_any(),
                    Err(error) if error.status == 404 => view! {
                        <h1>"Execution not found"</h1>
                        <p><a href="/agents">"Back to the agents"</a></p>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Reloads the execution (its status changes while it runs).
#[derive(Clone, Copy)]
struct Refresh(RwSignal<u32>);

#[component]
fn Execution(detail: ExecutionDetail) -> impl IntoView {
    let ExecutionDetail {
        execution,
        agent_name,
        request,
    } = detail;
    let id = execution.id;
    let navigate = use_navigate();
    // Opens the new execution once queued (the action navigates itself: no `Effect`).
    let replay = Action::new(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            let result = replay_execution(id).await;
            if let Ok(replayed) = &result {
                navigate(
                    &format!("/executions/{}", replayed.execution_id),
                    Default::default(),
                );
            }
            result
        }
    });
    let pretty =
        |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let mut timeline = vec![(
        "Received".to_owned(),
        utc_seconds(&execution.created_at),
        None,
    )];
    for attempt in &execution.failed_attempts {
        timeline.push((
            format!("Attempt {} failed", attempt.attempt),
            utc_seconds(&attempt.failed_at),
            Some(attempt.error.clone()),
        ));
    }
    // The latest attempt's start, while it runs or once it succeeded (a failed attempt is
    // in the list above).
    let started = matches!(
        execution.status,
        ExecutionStatus::Running | ExecutionStatus::Completed
    )
    .then_some(execution.started_at.as_ref())
    .flatten();
    if let Some(started) = started {
        timeline.push((
            format!("Attempt {} started", execution.attempts),
            utc_seconds(started),
            None,
        ));
    }
    if let Some(done) = &execution.completed_at {
        timeline.push((
            format!("Finished: {}", execution.status),
            utc_seconds(done),
            None,
        ));
    }
    let headers = request.as_ref().and_then(|request| {
        Some(
            request
                .headers
                .as_object()?
                .iter()
                .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    });
    let failed = execution.status == ExecutionStatus::Failed;
    view! {
        <div class="page-header">
            <h1>{format!("Execution {}", &id.to_string()[..8])}</h1>
            <StatusBadge status=execution.status.as_str()/>
        </div>
        <p class="lead">
            "Agent "<a href=format!("/agents/{}", execution.agent_id)>{agent_name}</a>
            {execution.delivery_id.clone().map(|d| view! { " · delivery "<code>{d}</code> })}
            {execution.replay_of.map(|original| view! {
                " · replay of "<a href=format!("/executions/{original}")>{original.to_string()}</a>
            })}
        </p>
        <p class="mono muted">{id.to_string()}</p>
        <div class="actions">
            <button type="button" class="button" disabled=move || replay.pending().get()
                on:click=move |_| { replay.dispatch(()); }>
                "Replay"
            </button>
            <button type="button" class="button secondary" on:click=move |_| {
                if let Some(Refresh(refresh)) = use_context::<Refresh>() {
                    refresh.update(|n| *n += 1);
                }
            }>
                "Refresh"
            </button>
        </div>
        {move || replay.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        <section class="card" aria-labelledby="timeline">
            <h2 id="timeline">"Timeline"</h2>
            <ol class="timeline">
                {timeline.into_iter().map(|(what, at, error)| view! {
                    <li>
                        <strong>{what}</strong>" "<span class="muted">{at}</span>
                        {error.map(|error| view! { <pre class="code error">{error}</pre> })}
                    </li>
                }).collect_view()}
            </ol>
        </section>
        <section class="card" aria-labelledby="payload">
            <h2 id="payload">"Payload"</h2>
            <pre class="code">{pretty(&execution.payload)}</pre>
        </section>
        <section class="card" aria-labelledby="request">
            <h2 id="request">"Request"</h2>
            {match (request, headers) {
                (Some(request), Some(headers)) => view! {
                    <p class="muted">{format!("{} from {} · {} bytes",
                        utc_seconds(&request.received_at),
                        request.source_ip.unwrap_or_else(|| "unknown".into()),
                        request.body_bytes)}</p>
                    <pre class="code">{headers}</pre>
                }.into_any(),
                _ => view! { <p class="muted">"Not in the request log (older than its retention)."</p> }.into_any(),
            }}
        </section>
        <section class="card" aria-labelledby="outcome">
            <h2 id="outcome">{if failed { "Error" } else { "Result" }}</h2>
            <pre class="code" class:error=failed>
                {if failed {
                    execution.error.clone().unwrap_or_else(|| "—".into())
                } else {
                    execution.result.as_ref().map(pretty).unwrap_or_else(|| "—".into())
                }}
            </pre>
        </section>
    }
}
