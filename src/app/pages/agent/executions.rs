use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use leptos::{ev::SubmitEvent, html, prelude::*};
use uuid::Uuid;

use crate::{
    api::{list_executions, replay_failed},
    app::{
        browser::sleep_ms,
        components::{ConfirmDialog, ErrorNotice, StatusBadge},
        resource::server_resource,
    },
    domain::{Execution, ExecutionStatus},
};

/// Bump it to reload the list now (after a test webhook).
#[derive(Clone, Copy)]
pub struct ExecutionsReload(pub RwSignal<u32>);

/// How often the list refreshes while an execution is queued or running.
const POLL_MS: u32 = 2_000;

/// Which page of which executions the list shows.
#[derive(Clone, Debug, PartialEq, Default)]
struct Filter {
    status: Option<ExecutionStatus>,
    delivery_id: Option<String>,
    before: Option<Uuid>,
}

#[component]
pub fn Executions(agent_id: Uuid) -> impl IntoView {
    let reload = use_context::<ExecutionsReload>().unwrap_or(ExecutionsReload(RwSignal::new(0)));
    let filter = RwSignal::new(Filter::default());
    let page = server_resource(
        move || (reload.0.get(), filter.get()),
        move |(_, filter)| {
            list_executions(agent_id, filter.status, filter.delivery_id, filter.before)
        },
    );
    let selected = RwSignal::new(None::<Uuid>);
    let status_input = NodeRef::<html::Select>::new();
    let delivery_input = NodeRef::<html::Input>::new();
    let apply = move |ev: SubmitEvent| {
        ev.prevent_default();
        let status = status_input
            .get_untracked()
            .and_then(|select| select.value().parse().ok());
        let delivery_id = delivery_input
            .get_untracked()
            .map(|input| input.value().trim().to_owned())
            .filter(|id| !id.is_empty());
        filter.set(Filter {
            status,
            delivery_id,
            before: None,
        });
        // Apply also reloads when the filter stays the same.
        reload.0.update(|n| *n += 1);
    };

    // Poll while anything is unfinished; stop when the page is left.
    let alive = Arc::new(AtomicBool::new(true));
    on_cleanup({
        let alive = alive.clone();
        move || alive.store(false, Ordering::SeqCst)
    });
    // Each page loaded supersedes the timers of the pages before it (Apply and paging load
    // pages too), so one poll runs at a time.
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let unfinished = page
            .get()
            .and_then(Result::ok)
            .is_some_and(|page| page.items.iter().any(|e| !e.status.is_finished()));
        generation.update_value(|g| *g += 1);
        if unfinished {
            let (alive, mine) = (alive.clone(), generation.get_value());
            leptos::task::spawn_local(async move {
                sleep_ms(POLL_MS).await;
                if alive.load(Ordering::SeqCst) && generation.get_value() == mine {
                    reload.0.update(|n| *n += 1);
                }
            });
        }
    });

    view! {
        <section class="card" aria-labelledby="executions">
            <h2 id="executions">"Executions"</h2>
            <form class="filters" on:submit=apply aria-label="Filter executions">
                <label for="execution-status">"Status"</label>
                <select id="execution-status" node_ref=status_input>
                    <option value="">"any"</option>
                    {ExecutionStatus::ALL
                        .into_iter()
                        .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                        .collect_view()}
                </select>
                <label for="execution-delivery">"Delivery id"</label>
                <input id="execution-delivery" type="search" node_ref=delivery_input/>
                <button type="submit" class="button secondary">"Apply"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading executions…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) if page.items.is_empty() => view! {
                            <p class="muted">"No executions here. Send a test webhook to see one."</p>
                        }.into_any(),
                        Ok(page) => {
                            let next = page.next_before;
                            view! {
                                <ExecutionTable items=page.items selected/>
                                <div class="actions">
                                    <button type="button" class="button secondary"
                                        disabled=move || filter.with(|f| f.before.is_none())
                                        on:click=move |_| filter.update(|f| f.before = None)>
                                        "Newest"
                                    </button>
                                    <button type="button" class="button secondary" disabled=next.is_none()
                                        on:click=move |_| filter.update(|f| f.before = next)>
                                        "Older"
                                    </button>
                                </div>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
            <ReplayFailed agent_id/>
        </section>
    }
}

/// Replays the agent's failed executions of a recent period, after a confirmation.
#[component]
fn ReplayFailed(agent_id: Uuid) -> impl IntoView {
    let reload = use_context::<ExecutionsReload>();
    let hours_input = NodeRef::<html::Select>::new();
    let open = RwSignal::new(false);
    let replay = Action::new(move |hours: &u32| {
        let hours = *hours;
        async move {
            let result = replay_failed(agent_id, hours).await;
            if let (Ok(_), Some(reload)) = (&result, reload) {
                reload.0.update(|n| *n += 1);
            }
            result
        }
    });
    let hours = move || {
        hours_input
            .get_untracked()
            .and_then(|select| select.value().parse().ok())
            .unwrap_or(24)
    };
    view! {
        <div class="field-row">
            <label for="replay-hours">"Replay failed executions of the last"</label>
            <select id="replay-hours" node_ref=hours_input>
                <option value="1">"hour"</option>
                <option value="24" selected>"24 hours"</option>
                <option value="168">"7 days"</option>
            </select>
            <button type="button" class="button secondary" on:click=move |_| open.set(true)>
                "Replay failed"
            </button>
        </div>
        <ConfirmDialog open title="Replay failed executions?" confirm_label="Replay"
            on_confirm=Callback::new(move |_| { replay.dispatch(hours()); })>
            <p>"Each failed execution of the period runs again as a new execution, with the same payload."</p>
        </ConfirmDialog>
        <p role="status" class="notice">
            {move || replay.value().get().and_then(Result::ok).map(replayed_notice)}
        </p>
        {move || replay.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
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
            <p class="mono muted">
                <a href=format!("/executions/{}", execution.id)>{format!("Open execution {}", execution.id)}</a>
            </p>
            <h4>"Payload"</h4>
            <pre class="code">{pretty(&execution.payload)}</pre>
            <h4>"Result"</h4>
            <pre class="code">{execution.result.as_ref().map(pretty).unwrap_or_else(|| "—".into())}</pre>
            <h4>"Error"</h4>
            <pre class="code" class:error=finished>{execution.error.clone().unwrap_or_else(|| "—".into())}</pre>
        </div>
    }
}

/// "1 execution replayed." / "3 executions replayed." / "No failed executions to replay."
fn replayed_notice(count: u64) -> String {
    match count {
        0 => "No failed executions to replay.".to_owned(),
        1 => "1 execution replayed.".to_owned(),
        n => format!("{n} executions replayed."),
    }
}

#[cfg(test)]
mod tests {
    use super::replayed_notice;

    #[test]
    fn the_replay_notice_counts_in_words_that_agree() {
        assert_eq!(replayed_notice(0), "No failed executions to replay.");
        assert_eq!(replayed_notice(1), "1 execution replayed.");
        assert_eq!(replayed_notice(12), "12 executions replayed.");
    }
}
