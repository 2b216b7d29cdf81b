//! The tenant's settings: failure notifications. The URL is read from its input when saved;
//! the latest events are in the REST API (`GET /api/notifications`).

use leptos::{html, prelude::*};

use crate::{
    api::{notification_url, send_test_notification, set_notification_url},
    app::{
        components::{ErrorNotice, SecretField, SecretKind},
        resource::server_resource,
    },
    domain::{ApiError, SigningSecretOwner},
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let url = server_resource(|| (), |_| notification_url());
    view! {
        <h1>"Settings"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match url.await {
                    Ok(url) => view! { <Notifications url/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Notifications(url: Option<String>) -> impl IntoView {
    let url_input = NodeRef::<html::Input>::new();
    // Whether a URL is saved (the test goes to the saved one); a secret comes with the first.
    let saved = RwSignal::new(url.is_some());
    let has_secret = RwSignal::new(url.is_some());
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<String>);
    let save = Action::new(move |_: &()| {
        let typed = url_input
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        async move {
            match set_notification_url(typed).await {
                Ok(url) => {
                    error.set(None);
                    if let Some(input) = url_input.get_untracked() {
                        input.set_value(url.as_deref().unwrap_or_default());
                    }
                    saved.set(url.is_some());
                    has_secret.update(|has| *has |= url.is_some());
                    notice.set(Some(
                        if url.is_some() {
                            "Notification URL saved."
                        } else {
                            "Notifications are off."
                        }
                        .into(),
                    ));
                }
                Err(err) => {
                    notice.set(None);
                    error.set(Some(err));
                }
            }
        }
    });
    let test = Action::new(move |_: &()| async move {
        match send_test_notification().await {
            Ok(summary) => {
                error.set(None);
                notice.set(Some(summary));
            }
            Err(err) => {
                notice.set(None);
                error.set(Some(err));
            }
        }
    });
    view! {
        <section class="card" aria-labelledby="notifications">
            <h2 id="notifications">"Failure notifications"</h2>
            <p class="muted">
                "Signed events (Standard Webhooks) posted to your URL, retried like executions: "
                <code>"execution.failed"</code>" when an execution fails for good, and "
                <code>"webhook.signature_failures"</code>" when one agent gets many invalid "
                "signatures within 5 minutes (alerts.signature_failures_threshold, 20 by default). "
                "The latest events: "<code>"GET /api/notifications"</code>"."
            </p>
            <label for="notification-url">"Notification URL"</label>
            <div class="field-row">
                <input id="notification-url" type="url" node_ref=url_input
                    value=url.unwrap_or_default()
                    placeholder="https://ops.example.com/agent-alerts"/>
                <button type="button" class="button" on:click=move |_| { save.dispatch(()); }>
                    "Save"
                </button>
                <button type="button" class="button secondary" disabled=move || !saved.get()
                    title="Sends a notification.test event to the saved URL"
                    on:click=move |_| { test.dispatch(()); }>
                    "Send test notification"
                </button>
            </div>
            <p role="status" class="notice" data-testid="notification-notice">{move || notice.get()}</p>
            {move || error.get().map(|error| view! { <ErrorNotice error/> })}
            <Show when=move || has_secret.get()>
                <SecretField kind=SecretKind::Signing(SigningSecretOwner::Notifications)
                    label="Signing secret (Standard Webhooks)" input_id="notification-secret"
                    on_change=Callback::new(|_| ())/>
            </Show>
        </section>
    }
}
