use leptos::prelude::*;

use super::AuditReload;
use crate::{
    app::components::{SecretField, SecretKind},
    domain::{Agent, SecretSource},
};

#[component]
pub fn HmacSecret(agent: Agent) -> impl IntoView {
    let has_secret = agent.hmac_secret_masked.is_some();
    let audit = use_context::<AuditReload>();
    let audited = Callback::new(move |_| {
        if let Some(audit) = audit {
            audit.0.update(|n| *n += 1);
        }
    });
    // Updated by the field when the secret is regenerated or set, without a reload.
    let source = RwSignal::new(agent.secret_source);
    let scheme = agent.verification.scheme;
    // A provider that makes its own secret cannot be given ours: until its secret is pasted
    // in, its deliveries fail verification.
    let provider_notice = scheme.provider_generates_secret().then(|| {
        view! {
            <p class="warning" hidden=move || source.get() != Some(SecretSource::Generated)>
                {format!(
                    "{} generates this secret: paste it with Set secret. Until then its deliveries are refused (401).",
                    scheme.label()
                )}
            </p>
        }
    });
    view! {
        <section class="card" aria-labelledby="hmac-secret">
            <h2 id="hmac-secret">"HMAC Secret"</h2>
            {if has_secret {
                view! {
                    {provider_notice}
                    <SecretField kind=SecretKind::Webhook(agent.id) label="HMAC secret"
                        input_id="hmac-secret-value" on_change=audited source/>
                }.into_any()
            } else {
                view! { <p class="muted">"A draft has no secret yet."</p> }.into_any()
            }}
        </section>
    }
}
