use leptos::prelude::*;

use crate::{app::components::CopyButton, domain::Agent};

#[component]
pub fn WebhookConfiguration(agent: Agent) -> impl IntoView {
    let url = agent.webhook_url.clone();
    let shown = url.clone().unwrap_or_default();
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
                    <p class="muted">
                        "External systems POST JSON here, signed with the secret below "
                        "(X-Hub-Signature-256 or Standard Webhooks headers)."
                    </p>
                }.into_any(),
                None => view! {
                    <p class="muted">"This agent is a draft: its webhook URL and secret are created when it is first activated."</p>
                }.into_any(),
            }}
        </section>
    }
}
