use leptos::prelude::*;

use crate::api::CheckServerStatus;
use crate::domain::{ApiError, ServerStatus};

#[component]
pub fn HomePage() -> impl IntoView {
    let check = ServerAction::<CheckServerStatus>::new();
    let pending = check.pending();
    let outcome = check.value();

    view! {
        <section class="hero">
            <h1>"Agent Webhooks"</h1>
            <p class="lead">
                "Give every agent a signed webhook URL, so ticketing tools, CI, chat and your own "
                "scripts can trigger it securely."
            </p>
        </section>
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
