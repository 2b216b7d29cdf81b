//! The tenant's settings: failure notifications.

use leptos::prelude::*;

use crate::{
    api::{
        get_notification_settings, recent_notifications, send_test_notification,
        set_notification_url,
    },
    app::{
        components::{ErrorNotice, SecretOf, SigningSecret, StatusBadge},
        resource::server_resource,
    },
    domain::{ApiError, Notification, NotificationSettings, NotificationTestResult},
};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = server_resource(|| (), |_| get_notification_settings());
    view! {
        <h1>"Settings"</h1>
        <Suspense fallback=|| view! { <p class="muted">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(settings) => view! { <Notifications settings/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Notifications(settings: NotificationSettings) -> impl IntoView {
    let url = RwSignal::new(settings.url.clone().unwrap_or_default());
    let saved_url = RwSignal::new(settings.url.is_some());
    let has_secret = RwSignal::new(settings.secret_masked.is_some());
    let error = RwSignal::new(None::<ApiError>);
    let notice = RwSignal::new(None::<&'static str>);
    let tested = RwSignal::new(None::<NotificationTestResult>);
    let events_reload = RwSignal::new(0u32);
    let reload_events = Callback::new(move |_| events_reload.update(|n| *n += 1));
    let save = Action::new(move |url: &String| {
        let url = url.clone();
        async move {
            match set_notification_url(url).await {
                Ok(saved) => {
                    error.set(None);
                    saved_url.set(saved.url.is_some());
                    has_secret.set(saved.secret_masked.is_some());
                    notice.set(Some(if saved.url.is_some() {
                        "Notification URL saved."
                    } else {
                        "Notifications are off."
                    }));
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
            Ok(result) => {
                error.set(None);
                tested.set(Some(result));
            }
            Err(err) => error.set(Some(err)),
        }
    });
    view! {
        <section class="card" aria-labelledby="notifications">
            <h2 id="notifications">"Failure notifications"</h2>
            <p class="muted">
                "Signed events (Standard Webhooks) posted to your URL, retried like executions: "
                <code>"execution.failed"</code>" when an execution fails for good, and "
                <code>"webhook.signature_failures"</code>" when one agent gets "
                {settings.signature_failures_threshold}" invalid signatures within 5 minutes."
            </p>
            <label for="notification-url">"Notification URL"</label>
            <div class="field-row">
                <input id="notification-url" type="url" placeholder="https://ops.example.com/agent-alerts"
                    bind:value=url/>
                <button type="button" class="button" disabled=move || save.pending().get()
                    on:click=move |_| { save.dispatch(url.get_untracked()); }>
                    "Save"
                </button>
            </div>
            <p role="status" class="notice">{move || notice.get()}</p>
            {move || error.get().map(|error| view! { <ErrorNotice error/> })}
            <Show when=move || has_secret.get()>
                <SigningSecret of=SecretOf::Notifications input_id="notification-secret" on_change=reload_events/>
            </Show>
            <div class="actions">
                <button type="button" class="button secondary"
                    disabled=move || !saved_url.get() || test.pending().get()
                    on:click=move |_| { test.dispatch(()); }>
                    "Send test notification"
                </button>
            </div>
            {move || tested.get().map(|result| view! { <TestOutcome result/> })}
        </section>
        <RecentEvents reload=events_reload/>
    }
}

#[component]
fn TestOutcome(result: NotificationTestResult) -> impl IntoView {
    let summary = match (result.delivered, result.status) {
        (true, Some(status)) => format!(
            "Delivered: the receiver answered {status} in {} ms.",
            result.duration_ms
        ),
        _ => format!(
            "Not delivered: {}",
            result.error.clone().unwrap_or_default()
        ),
    };
    view! {
        <p data-testid="notification-test-result" class="result" class:ok=result.delivered class:error=!result.delivered>
            {summary}
        </p>
    }
}

#[component]
fn RecentEvents(reload: RwSignal<u32>) -> impl IntoView {
    let events = server_resource(move || reload.get(), |_| recent_notifications());
    view! {
        <section class="card" aria-labelledby="recent-events">
            <h2 id="recent-events">"Recent events"</h2>
            <div class="actions">
                <button type="button" class="button secondary" on:click=move |_| reload.update(|n| *n += 1)>
                    "Refresh"
                </button>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Ok(events) if events.is_empty() => view! { <p class="muted">"No events yet."</p> }.into_any(),
                        Ok(events) => view! { <EventTable events/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn EventTable(events: Vec<Notification>) -> impl IntoView {
    view! {
        <table aria-label="Notification events">
            <thead>
                <tr><th>"Event"</th><th>"Status"</th><th>"Attempts"</th><th>"Created"</th><th>"Last error"</th></tr>
            </thead>
            <tbody>
                {events
                    .into_iter()
                    .map(|event| view! {
                        <tr>
                            <td><code>{event.event}</code></td>
                            <td><StatusBadge status=event.status/></td>
                            <td>{event.attempts}</td>
                            <td>
                                <time datetime=event.created_at.to_rfc3339()>
                                    {crate::app::time::utc_seconds(&event.created_at)}
                                </time>
                            </td>
                            <td class="muted">{event.last_error.unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
