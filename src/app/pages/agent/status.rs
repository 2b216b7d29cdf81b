use leptos::prelude::*;

use super::{AgentReload, AuditReload};
use crate::{
    api::{agent_audit, set_agent_status},
    app::{components::ErrorNotice, resource::server_resource},
    domain::{Agent, AgentStatus},
};

#[component]
pub fn AgentStatusSection(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let current = agent.status;
    let reload = use_context::<AgentReload>();
    // The action reloads the page itself when its answer arrives (an `Effect` watching its
    // value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let change = Action::new(move |status: &AgentStatus| {
        let status = *status;
        async move {
            let result = set_agent_status(id, status).await;
            if let (Ok(_), Some(reload)) = (&result, reload) {
                reload.0.update(|n| *n += 1);
            }
            result
        }
    });
    let audit_reload = use_context::<AuditReload>();
    let audit = server_resource(
        move || audit_reload.map(|r| r.0.get()),
        move |_| agent_audit(id),
    );

    view! {
        <section class="card" aria-labelledby="agent-status">
            <h2 id="agent-status">"Status"</h2>
            <p>{format!("Status: {current}")}</p>
            <div class="actions">
                <button type="button" class="button" disabled=move || current == AgentStatus::Active || change.pending().get()
                    on:click=move |_| { change.dispatch(AgentStatus::Active); }>"Activate"</button>
                <button type="button" class="button secondary" disabled=move || current == AgentStatus::Suspended || change.pending().get()
                    on:click=move |_| { change.dispatch(AgentStatus::Suspended); }>"Suspend"</button>
            </div>
            {move || change.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
            <h3>"Audit log"</h3>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match audit.await {
                        Ok(page) => view! {
                            <ul class="audit">
                                {page.items.into_iter().map(|entry| view! {
                                    <li>
                                        <time datetime=entry.at.to_rfc3339()>{crate::app::time::utc_seconds(&entry.at)}</time>
                                        " "<code>{entry.action}</code>" "
                                        <span class="muted">{format!("{} · {}{}", entry.actor, entry.outcome,
                                            entry.source_ip.map(|ip| format!(" · {ip}")).unwrap_or_default())}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}
