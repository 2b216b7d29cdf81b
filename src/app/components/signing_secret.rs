use leptos::prelude::*;
use uuid::Uuid;

use super::{ConfirmDialog, CopyButton, ErrorNotice};
use crate::{
    api::{
        regenerate_notification_secret, regenerate_runtime_secret, reveal_notification_secret,
        reveal_runtime_secret,
    },
    domain::ApiError,
};

const MASK: &str = "••••••••";

/// Whose signing secret: an agent's http runtime, or the tenant's notifications.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SecretOf {
    Runtime(Uuid),
    Notifications,
}

/// A `whsec_` signing secret of outbound requests: shown on request, copied, regenerated
/// after a confirmation. `on_change` runs after every audited action.
#[component]
pub fn SigningSecret(
    of: SecretOf,
    /// The input's id (for labels and tests).
    #[prop(into)]
    input_id: String,
    on_change: Callback<()>,
) -> impl IntoView {
    let revealed = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<&'static str>);
    let confirm_open = RwSignal::new(false);
    let reveal = Action::new(move |_: &()| async move {
        let answer = match of {
            SecretOf::Runtime(id) => reveal_runtime_secret(id).await,
            SecretOf::Notifications => reveal_notification_secret().await,
        };
        match answer {
            Ok(secret) => {
                error.set(None);
                revealed.set(Some(secret.standard_webhooks_secret));
            }
            Err(err) => error.set(Some(err)),
        }
        on_change.run(());
    });
    let regenerate = Action::new(move |_: &()| async move {
        let answer = match of {
            SecretOf::Runtime(id) => regenerate_runtime_secret(id).await,
            SecretOf::Notifications => regenerate_notification_secret().await,
        };
        match answer {
            Ok(()) => {
                error.set(None);
                revealed.set(None);
                notice.set(Some("New signing secret generated. Update the receiver: requests are signed with it from now on."));
                on_change.run(());
            }
            Err(err) => error.set(Some(err)),
        }
    });
    let toggle = move |_| {
        notice.set(None);
        if revealed.get_untracked().is_some() {
            revealed.set(None);
        } else {
            reveal.dispatch(());
        }
    };
    view! {
        <label for=input_id.clone()>"Signing secret (Standard Webhooks)"</label>
        <div class="field-row">
            <input id=input_id class="mono" type="text" readonly
                prop:value=move || revealed.get().unwrap_or_else(|| MASK.to_owned())/>
            <button type="button" class="button secondary" on:click=toggle disabled=move || reveal.pending().get()>
                {move || if revealed.get().is_some() { "Hide Secret" } else { "Show Secret" }}
            </button>
            <CopyButton label="Copy Secret" copied_message="Secret copied to clipboard!" text=revealed.into()/>
            <button type="button" class="button danger" on:click=move |_| confirm_open.set(true)>
                "Regenerate Secret"
            </button>
        </div>
        <p role="status" class="notice">{move || notice.get()}</p>
        {move || error.get().map(|error| view! { <ErrorNotice error/> })}
        <ConfirmDialog
            open=confirm_open
            title="Regenerate signing secret?"
            confirm_label="Regenerate"
            on_confirm=Callback::new(move |_| { regenerate.dispatch(()); })
        >
            <p>"The receiver must verify with the new secret: requests signed with the old one stop at once."</p>
        </ConfirmDialog>
    }
}
