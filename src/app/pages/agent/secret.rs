use leptos::{html, prelude::*};

use super::AuditReload;
use crate::{
    api::{regenerate_webhook_secret, reveal_secret},
    app::components::{ConfirmDialog, CopyButton, ErrorNotice},
    domain::{Agent, ApiError, RevealedSecret},
};

const MASK: &str = "••••••••";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Base64,
    StandardWebhooks,
}

#[component]
pub fn HmacSecret(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let has_secret = agent.hmac_secret_masked.is_some();
    // The clear secret lives only here, only while shown.
    let revealed = RwSignal::new(None::<RevealedSecret>);
    let format = RwSignal::new(Format::Base64);
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let confirm_open = RwSignal::new(false);
    let grace = RwSignal::new("0".to_owned());
    let grace_select = NodeRef::<html::Select>::new();
    let audit = use_context::<AuditReload>();
    let audited = move || {
        if let Some(audit) = audit {
            audit.0.update(|n| *n += 1);
        }
    };

    // Each action applies its own answer when it arrives (an `Effect` watching the action's
    // value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let reveal = Action::new(move |_: &()| async move {
        match reveal_secret(id).await {
            Ok(secret) => {
                error.set(None);
                revealed.set(Some(secret));
            }
            Err(err) => error.set(Some(err)),
        }
        audited();
    });
    let regenerate = Action::new(move |grace: &u32| {
        let grace = *grace;
        async move {
            match regenerate_webhook_secret(id, grace).await {
                Ok(done) => {
                    error.set(None);
                    revealed.set(None);
                    notice.set(Some(match done.previous_secret_expires_at {
                        None => "New HMAC secret generated. Old webhooks will no longer work."
                            .to_owned(),
                        Some(until) => format!(
                            "New HMAC secret generated. The old secret keeps working until {}.",
                            crate::app::time::utc_minutes(&until)
                        ),
                    }));
                    audited();
                }
                Err(err) => error.set(Some(err)),
            }
        }
    });

    let shown_value = move || match (revealed.get(), format.get()) {
        (Some(secret), Format::Base64) => secret.hmac_secret,
        (Some(secret), Format::StandardWebhooks) => secret.standard_webhooks_secret,
        (None, _) => MASK.to_owned(),
    };
    let copy_text = Signal::derive(move || revealed.get().map(|_| shown_value()));
    let toggle = move |_| {
        notice.set(None);
        if revealed.get_untracked().is_some() {
            revealed.set(None);
        } else {
            reveal.dispatch(());
        }
    };

    view! {
        <section class="card" aria-labelledby="hmac-secret">
            <h2 id="hmac-secret">"HMAC Secret"</h2>
            <Show
                when=move || has_secret
                fallback=|| view! { <p class="muted">"A draft has no secret yet."</p> }
            >
                <label for="hmac-secret-value">"HMAC secret"</label>
                <div class="field-row">
                    <input id="hmac-secret-value" class="mono" type="text" readonly prop:value=shown_value/>
                    <button type="button" class="button secondary" on:click=toggle disabled=move || reveal.pending().get()>
                        {move || if revealed.get().is_some() { "Hide Secret" } else { "Show Secret" }}
                    </button>
                    <CopyButton
                        label="Copy Secret"
                        copied_message="Secret copied to clipboard!"
                        text=copy_text
                    />
                </div>
                <div class="field-row">
                    <label for="secret-format">"Secret format"</label>
                    <select
                        id="secret-format"
                        on:change=move |ev| {
                            format.set(if event_target_value(&ev) == "whsec" { Format::StandardWebhooks } else { Format::Base64 })
                        }
                    >
                        <option value="base64">"Base64 (X-Hub-Signature-256)"</option>
                        <option value="whsec">"whsec_ (Standard Webhooks)"</option>
                    </select>
                </div>
                <Show when=move || revealed.get().is_some()>
                    <p class="warning">"Keep this secret secure. Anyone with this key can trigger your agent."</p>
                </Show>
                <div class="actions">
                    <button type="button" class="button danger" on:click=move |_| confirm_open.set(true)>
                        "Regenerate Secret"
                    </button>
                </div>
                <p role="status" class="notice">{move || notice.get()}</p>
                {move || error.get().map(|error| view! { <ErrorNotice error/> })}
                <ConfirmDialog
                    open=confirm_open
                    title="Regenerate secret?"
                    confirm_label="Regenerate"
                    initial_focus=grace_select
                    on_confirm=Callback::new(move |_| {
                        let seconds = grace.get_untracked().parse::<u32>().unwrap_or(0);
                        regenerate.dispatch(seconds);
                    })
                >
                    <p>"Are you sure? This will invalidate all existing webhooks using the old secret."</p>
                    <label for="grace-period">"Grace period"</label>
                    <select id="grace-period" node_ref=grace_select bind:value=grace>
                        <option value="0">"None"</option>
                        <option value="3600">"1 hour"</option>
                        <option value="86400">"24 hours"</option>
                    </select>
                    <p class="muted">"During a grace period both the old and the new secret verify."</p>
                </ConfirmDialog>
            </Show>
        </section>
    }
}
