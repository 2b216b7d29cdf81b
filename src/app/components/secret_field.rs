use leptos::{html, prelude::*};
use uuid::Uuid;

use super::{ConfirmDialog, CopyButton, ErrorNotice};
use crate::{
    api::{
        regenerate_signing_secret, regenerate_webhook_secret, reveal_secret, reveal_signing_secret,
    },
    domain::{ApiError, RevealedSecret, SigningSecretOwner},
};

const MASK: &str = "••••••••";

/// Which secret a [`SecretField`] shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// An agent's webhook secret: both spellings, and a grace period when regenerated.
    Webhook(Uuid),
    /// A secret that signs outbound requests (`whsec_` only): an agent's http runtime, or
    /// the tenant's notifications.
    Signing(SigningSecretOwner),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Base64,
    StandardWebhooks,
}

/// A secret shown on request, copied, and regenerated after a confirmation. One component
/// for every secret of the UI: each component costs the browser's WASM its own copy of the
/// reactive code (docs/decisions.md, "WASM size"). `on_change` runs after every audited
/// action.
#[component]
pub fn SecretField(
    kind: SecretKind,
    #[prop(into)] label: String,
    /// The input's id (for the label and for tests).
    #[prop(into)]
    input_id: String,
    on_change: Callback<()>,
) -> impl IntoView {
    let webhook = matches!(kind, SecretKind::Webhook(_));
    // The clear secret lives only here, only while shown.
    let revealed = RwSignal::new(None::<RevealedSecret>);
    let format = RwSignal::new(if webhook {
        Format::Base64
    } else {
        Format::StandardWebhooks
    });
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let confirm_open = RwSignal::new(false);
    let grace = RwSignal::new("0".to_owned());
    let grace_select = NodeRef::<html::Select>::new();

    // Each action applies its own answer when it arrives (an `Effect` watching the action's
    // value would be one more type in the WASM; docs/decisions.md, "WASM size").
    let reveal = Action::new(move |_: &()| async move {
        let answer = match kind {
            SecretKind::Webhook(id) => reveal_secret(id).await,
            SecretKind::Signing(owner) => reveal_signing_secret(owner).await,
        };
        match answer {
            Ok(secret) => {
                error.set(None);
                revealed.set(Some(secret));
            }
            Err(err) => error.set(Some(err)),
        }
        on_change.run(());
    });
    let regenerate = Action::new(move |grace: &u32| {
        let grace = *grace;
        async move {
            let answer = match kind {
                SecretKind::Webhook(id) => regenerate_webhook_secret(id, grace).await.map(|done| {
                    match done.previous_secret_expires_at {
                        None => "New HMAC secret generated. Old webhooks will no longer work."
                            .to_owned(),
                        Some(until) => format!(
                            "New HMAC secret generated. The old secret keeps working until {}.",
                            crate::app::time::utc_minutes(&until)
                        ),
                    }
                }),
                SecretKind::Signing(owner) => regenerate_signing_secret(owner).await.map(|()| {
                    "New signing secret generated: requests are signed with it from now on."
                        .to_owned()
                }),
            };
            match answer {
                Ok(message) => {
                    error.set(None);
                    revealed.set(None);
                    notice.set(Some(message));
                    on_change.run(());
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
        <label for=input_id.clone()>{label}</label>
        <div class="field-row">
            <input id=input_id class="mono" type="text" readonly prop:value=shown_value/>
            <button type="button" class="button secondary" on:click=toggle disabled=move || reveal.pending().get()>
                {move || if revealed.get().is_some() { "Hide Secret" } else { "Show Secret" }}
            </button>
            <CopyButton
                label="Copy Secret"
                copied_message="Secret copied to clipboard!"
                text=copy_text
            />
        </div>
        {webhook.then(|| view! {
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
        })}
        <div class="actions">
            <button type="button" class="button danger" on:click=move |_| confirm_open.set(true)>
                "Regenerate Secret"
            </button>
        </div>
        <p role="status" class="notice">{move || notice.get()}</p>
        {move || error.get().map(|error| view! { <ErrorNotice error/> })}
        <ConfirmDialog
            open=confirm_open
            title=if webhook { "Regenerate secret?" } else { "Regenerate signing secret?" }
            confirm_label="Regenerate"
            initial_focus=grace_select
            on_confirm=Callback::new(move |_| {
                let seconds = grace.get_untracked().parse::<u32>().unwrap_or(0);
                regenerate.dispatch(seconds);
            })
        >
            {if webhook {
                view! {
                    <p>"Are you sure? This will invalidate all existing webhooks using the old secret."</p>
                    <label for="grace-period">"Grace period"</label>
                    <select id="grace-period" node_ref=grace_select bind:value=grace>
                        <option value="0">"None"</option>
                        <option value="3600">"1 hour"</option>
                        <option value="86400">"24 hours"</option>
                    </select>
                    <p class="muted">"During a grace period both the old and the new secret verify."</p>
                }.into_any()
            } else {
                view! {
                    <p>"The receiver must verify with the new secret: requests signed with the old one stop at once."</p>
                }.into_any()
            }}
        </ConfirmDialog>
    }
}
