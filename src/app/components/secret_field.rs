use leptos::{html, prelude::*};
use uuid::Uuid;

use super::{field_message, ConfirmDialog, CopyButton, ErrorNotice};
use crate::{
    api::{
        regenerate_signing_secret, regenerate_webhook_secret, reveal_secret, reveal_signing_secret,
        set_webhook_secret,
    },
    domain::{ApiError, RevealedSecret, SecretSource, SetSecret, SigningSecretOwner, Timestamp},
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

/// What a replaced webhook secret means for the previous one.
fn replaced(done: &str, previous_expires_at: Option<Timestamp>) -> String {
    match previous_expires_at {
        None => format!("{done} Old webhooks will no longer work."),
        Some(until) => format!(
            "{done} The old secret keeps working until {}.",
            crate::app::time::utc_minutes(&until)
        ),
    }
}

/// The grace period choices of both webhook secret dialogs.
fn grace_select(id: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label for=id>"Grace period"</label>
        <select id=id bind:value=value>
            <option value="0">"None"</option>
            <option value="3600">"1 hour"</option>
            <option value="86400">"24 hours"</option>
        </select>
        <p class="muted">"During a grace period both the old and the new secret verify."</p>
    }
}

/// A secret shown on request, copied, and regenerated after a confirmation; a webhook
/// secret can also be set to one the sending product generated ("Set secret"). One
/// component for every secret of the UI: each component costs the browser's WASM its own
/// copy of the reactive code (docs/decisions.md, "WASM size"). `on_change` runs after every
/// audited action.
#[component]
pub fn SecretField(
    kind: SecretKind,
    #[prop(into)] label: String,
    /// The input's id (for the label and for tests).
    #[prop(into)]
    input_id: String,
    on_change: Callback<()>,
    /// Where the webhook secret came from: shown here, updated when it is replaced.
    #[prop(optional)]
    source: Option<RwSignal<Option<SecretSource>>>,
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
    let set_open = RwSignal::new(false);
    let set_grace = RwSignal::new("0".to_owned());
    let set_error = RwSignal::new(None::<ApiError>);
    let provided = NodeRef::<html::Input>::new();
    let replaced_by = move |new: SecretSource, message: String| {
        error.set(None);
        revealed.set(None);
        notice.set(Some(message));
        if let Some(source) = source {
            source.set(Some(new));
        }
        on_change.run(());
    };

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
                    replaced(
                        "New HMAC secret generated.",
                        done.previous_secret_expires_at,
                    )
                }),
                SecretKind::Signing(owner) => regenerate_signing_secret(owner).await.map(|()| {
                    "New signing secret generated: requests are signed with it from now on."
                        .to_owned()
                }),
            };
            match answer {
                Ok(message) => replaced_by(SecretSource::Generated, message),
                Err(err) => error.set(Some(err)),
            }
        }
    });
    // The provider's secret is read from its input when sent, kept in no signal, and the
    // input is emptied (and removed with the dialog) once it is saved.
    let set = Action::new(move |_: &()| {
        let input = SetSecret {
            secret: provided
                .get_untracked()
                .map(|input| input.value())
                .unwrap_or_default(),
            grace_period_seconds: set_grace.get_untracked().parse().ok(),
        };
        async move {
            let SecretKind::Webhook(id) = kind else {
                return;
            };
            match set_webhook_secret(id, input).await {
                Ok(done) => {
                    if let Some(input) = provided.get_untracked() {
                        input.set_value("");
                    }
                    set_error.set(None);
                    set_open.set(false);
                    replaced_by(
                        SecretSource::Provided,
                        replaced("Webhook secret set.", done.previous_secret_expires_at),
                    );
                }
                Err(err) => set_error.set(Some(err)),
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
        {source.map(|source| view! {
            <p class="muted secret-source">
                {move || match source.get() {
                    Some(SecretSource::Provided) => "Secret: set from the provider",
                    Some(SecretSource::Generated) => "Secret: generated here",
                    None => "",
                }}
            </p>
        })}
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
            {webhook.then(|| view! {
                <button type="button" class="button secondary"
                    on:click=move |_| { set_error.set(None); set_open.set(true); }>
                    "Set secret"
                </button>
            })}
        </div>
        <p role="status" class="notice">{move || notice.get()}</p>
        {move || error.get().map(|error| view! { <ErrorNotice error/> })}
        <ConfirmDialog
            open=confirm_open
            title=if webhook { "Regenerate secret?" } else { "Regenerate signing secret?" }
            confirm_label="Regenerate"
            on_confirm=Callback::new(move |_| {
                let seconds = grace.get_untracked().parse::<u32>().unwrap_or(0);
                regenerate.dispatch(seconds);
            })
        >
            {if webhook {
                view! {
                    <p>"Are you sure? This will invalidate all existing webhooks using the old secret."</p>
                    {grace_select("grace-period", grace)}
                }.into_any()
            } else {
                view! {
                    <p>"The receiver must verify with the new secret: requests signed with the old one stop at once."</p>
                }.into_any()
            }}
        </ConfirmDialog>
        {webhook.then(|| view! {
            <ConfirmDialog
                open=set_open
                title="Set webhook secret"
                confirm_label="Save"
                stay_open=true
                on_confirm=Callback::new(move |_| {
                    set.dispatch(());
                })
            >
                <p>
                    "Paste the secret the sending product shows (Stripe's whsec_…, Slack's signing "
                    "secret, a token). It replaces the current secret."
                </p>
                <label for="provider-secret">"Provider secret"</label>
                // new-password: never the browser's saved sign-in password.
                <input id="provider-secret" type="password" autocomplete="new-password" spellcheck="false"
                    minlength="16" maxlength="512" node_ref=provided aria-describedby="provider-secret-error"
                    on:keydown=move |ev| if ev.key() == "Enter" { set.dispatch(()); }/>
                <p id="provider-secret-error" class="field-error">
                    {move || set_error.with(|error| field_message(error.as_ref(), "secret"))}
                </p>
                {grace_select("set-grace-period", set_grace)}
                {move || set_error.get()
                    .filter(|error| field_message(Some(error), "secret").is_none())
                    .map(|error| view! { <ErrorNotice error/> })}
            </ConfirmDialog>
        })}
    }
}
