use leptos::prelude::*;

use crate::{
    api::{load_dashboard, CheckServerStatus},
    app::{components::ErrorNotice, resource::server_resource},
    domain::{ApiError, Dashboard, ServerStatus},
};

#[component]
pub fn HomePage() -> impl IntoView {
    let check = ServerAction::<CheckServerStatus>::new();
    let pending = check.pending();
    let outcome = check.value();
    let dashboard = server_resource(|| (), |_| load_dashboard());

    view! {
        <section class="hero">
            <h1>"Agent Webhooks"</h1>
            <p class="lead">
                "Give every agent a signed webhook URL, so ticketing tools, CI, chat and your own "
                "scripts can trigger it securely."
            </p>
        </section>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(dashboard) => view! { <LastDay dashboard/> }.into_any(),
                    // Signed out: the page is the introduction and the sign-in link.
                    Err(error) if error.is_unauthenticated() => ().into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
        <section class="card" aria-labelledby="server-heading">
            <h2 id="server-heading">"Server"</h2>
            <button
                type="button"
                class="button"
                disabled=move || pending.get()
                on:click=move |_| {
                    check.dispatch(CheckServerStatus {});
                }
            >
                "Check server status"
            </button>
            <p role="status" class="status-line">
                {move || outcome.get().map(describe)}
            </p>
        </section>
    }
}

fn describe(result: Result<ServerStatus, ApiError>) -> String {
    match result {
        Ok(status) if status.database_reachable => format!(
            "Database reachable · version {} · {} workers in this process",
            status.version, status.workers_in_process
        ),
        Ok(_) => "Database unreachable".to_owned(),
        Err(err) => format!("Server error: {}", err.describe()),
    }
}

/// The signed-in tenant's last 24 hours.
#[component]
fn LastDay(dashboard: Dashboard) -> impl IntoView {
    let rejected: i64 = dashboard.rejected.iter().map(|r| r.count).sum();
    let figure = |label: &'static str, value: String| {
        view! { <div class="figure"><dt>{label}</dt><dd>{value}</dd></div> }
    };
    view! {
        <section class="card" aria-labelledby="last-day">
            <h2 id="last-day">"Last 24 hours"</h2>
            <dl class="figures">
                {figure("Accepted webhooks", dashboard.accepted.to_string())}
                {figure("Rejected webhooks", rejected.to_string())}
                {figure("Executions completed", dashboard.completed.to_string())}
                {figure("Executions failed", dashboard.failed.to_string())}
                {figure("Queued now", dashboard.queue_depth.to_string())}
                {figure("Oldest queued", format!("{} s", dashboard.oldest_queued_seconds))}
            </dl>
            <h3>"Rejected by reason"</h3>
            {if dashboard.rejected.is_empty() {
                view! { <p class="muted">"None."</p> }.into_any()
            } else {
                view! {
                    <ul aria-label="Rejected by reason">
                        {dashboard.rejected.into_iter().map(|r| view! {
                            <li><code>{r.reason}</code>{format!(": {}", r.count)}</li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <h3>"Agents with the most failures"</h3>
            {if dashboard.failing_agents.is_empty() {
                view! { <p class="muted">"No failed executions."</p> }.into_any()
            } else {
                view! {
                    <ol aria-label="Agents with the most failures">
                        {dashboard.failing_agents.into_iter().map(|agent| view! {
                            <li><a href=format!("/agents/{}", agent.id)>{agent.name}</a>{format!(": {} failed", agent.failures)}</li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
