//! The webhook URL, and how deliveries to it are verified: the sender's scheme (and, for a
//! token in a header of the admin's choosing, that header's name). Saving reloads the agent,
//! as the scheme changes what the secret section says.

use leptos::{html, prelude::*};

use super::{AgentReload, Form, JustSaved};
use crate::{
    api::edit_agent,
    app::components::{field_message, CopyButton, ErrorNotice},
    domain::{Agent, ApiError, UpdateAgent, Verification, VerificationScheme},
};

/// What the admin does on the sender's side, per scheme.
fn hint(scheme: VerificationScheme) -> &'static str {
    match scheme {
        VerificationScheme::Default => {
            "The sender signs with the secret below: X-Hub-Signature-256 (GitHub style) or \
             Standard Webhooks headers."
        }
        VerificationScheme::Stripe => {
            "Stripe signs with Stripe-Signature and a timestamp. Paste the endpoint's signing \
             secret (whsec_…) with Set secret."
        }
        VerificationScheme::Slack => {
            "Slack signs with X-Slack-Signature and a timestamp. Paste the app's Signing \
             Secret with Set secret."
        }
        VerificationScheme::Shopify => {
            "Shopify signs with X-Shopify-Hmac-Sha256, without a timestamp. Paste the app's \
             client secret with Set secret."
        }
        VerificationScheme::Zendesk => {
            "Zendesk signs with X-Zendesk-Webhook-Signature and a timestamp. Paste the \
             webhook's signing secret with Set secret."
        }
        VerificationScheme::Pagerduty => {
            "PagerDuty signs with X-PagerDuty-Signature, without a timestamp. Paste the \
             subscription's secret with Set secret."
        }
        VerificationScheme::GitlabToken => {
            "GitLab sends the secret as-is in X-Gitlab-Token: use HTTPS. Give GitLab the \
             secret below, or paste GitLab's with Set secret."
        }
        VerificationScheme::HeaderToken => {
            "The sender sends the secret as-is in the header named here (or as \
             Authorization: Bearer): use HTTPS."
        }
    }
}

#[component]
pub fn WebhookConfiguration(agent: Agent) -> impl IntoView {
    let id = agent.id;
    let url = agent.webhook_url.clone();
    let shown = url.clone().unwrap_or_default();
    let saved = agent.verification;
    // As saved (lower case): `prop:` too, as a reload after a save rebuilds this input in
    // place, where the attribute alone would leave what the admin typed.
    let header_value = saved.header_name.clone().unwrap_or_default();
    let scheme = RwSignal::new(saved.scheme);
    let select = NodeRef::<html::Select>::new();
    // The signal follows what the select shows once it is there: a reload after an earlier
    // save rebuilds this form in place, with a new signal holding the saved scheme, and
    // keeps the option the admin picked meanwhile (or before hydration).
    Effect::new(move |_| {
        if let Some(shown) = select.get().and_then(|select| select.value().parse().ok()) {
            scheme.set(shown);
        }
    });
    let header = NodeRef::<html::Input>::new();
    let error = RwSignal::new(None::<ApiError>);
    let reload = use_context::<AgentReload>();
    let just_saved = JustSaved::get();
    let original = StoredValue::new(saved.clone());
    let save = Action::new(move |_: &()| {
        just_saved.set(None);
        let scheme = scheme.get_untracked();
        let header_name = (scheme == VerificationScheme::HeaderToken)
            .then(|| header.get_untracked().map(|input| input.value()))
            .flatten()
            .map(|name| name.trim().to_ascii_lowercase())
            .filter(|name| !name.is_empty());
        let verification = Verification {
            scheme,
            header_name,
        };
        // Only a change is sent, so the audit entry names what changed.
        let patch = UpdateAgent {
            verification: original.with_value(|old| (verification != *old).then_some(verification)),
            ..UpdateAgent::default()
        };
        async move {
            match edit_agent(id, patch).await {
                Ok(_) => {
                    error.set(None);
                    just_saved.set(Some((id, Form::Verification)));
                    if let Some(reload) = reload {
                        reload.0.update(|n| *n += 1);
                    }
                }
                Err(err) => error.set(Some(err)),
            }
        }
    });
    let field_error =
        move |field: &'static str| move || error.with(|error| field_message(error.as_ref(), field));
    let options = VerificationScheme::ALL
        .into_iter()
        .map(|option| {
            view! {
                <option value=option.as_str() selected=option == saved.scheme>{option.label()}</option>
            }
        })
        .collect_view();

    view! {
        <section class="card" aria-labelledby="webhook-configuration">
            <h2 id="webhook-configuration">"Webhook Configuration"</h2>
            {match url {
                Some(_) => view! {
                    <label for="webhook-url">"Webhook URL"</label>
                    <div class="field-row">
                        <input id="webhook-url" class="mono" type="text" readonly prop:value=shown/>
                        <CopyButton
                            label="Copy URL"
                            copied_message="Webhook URL copied to clipboard!"
                            text=Signal::derive(move || agent.webhook_url.clone())
                        />
                    </div>
                    <p class="muted">"External systems POST JSON here, verified with the secret below."</p>
                }.into_any(),
                None => view! {
                    <p class="muted">"This agent is a draft: its webhook URL and secret are created when it is first activated."</p>
                }.into_any(),
            }}
            <form class="form verification" aria-labelledby="verification"
                on:submit=move |ev| { ev.prevent_default(); save.dispatch(()); }>
                <h3 id="verification">"Verification"</h3>
                <label for="verification-scheme">"Verification scheme"</label>
                <select id="verification-scheme" aria-describedby="verification-hint verification-error"
                    node_ref=select on:change=move |ev| scheme.set(event_target_value(&ev).parse().unwrap_or_default())>
                    {options}
                </select>
                <p id="verification-hint" class="muted">{move || hint(scheme.get())}</p>
                <div class="verification-header" hidden=move || scheme.get() != VerificationScheme::HeaderToken>
                    <label for="verification-header">"Header name"</label>
                    <input id="verification-header" type="text" maxlength="64" placeholder="X-Webhook-Token"
                        autocomplete="off" spellcheck="false" node_ref=header value=header_value.clone() prop:value=header_value
                        aria-describedby="verification-error"/>
                </div>
                <p id="verification-error" class="field-error">{field_error("verification")}</p>
                <p class="field-error">{field_error("require_timestamp")}</p>
                <button type="submit" class="button">"Save verification"</button>
            </form>
            <p role="status" class="notice">
                {move || (just_saved.get() == Some((id, Form::Verification))).then_some("Verification saved.")}
            </p>
            {move || error.get().filter(|e| e.details.is_empty()).map(|error| view! { <ErrorNotice error/> })}
        </section>
    }
}
