use leptos::prelude::*;

use super::AuditReload;
use crate::{
    app::components::{SecretField, SecretKind},
    domain::Agent,
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
    view! {
        <section class="card" aria-labelledby="hmac-secret">
            <h2 id="hmac-secret">"HMAC Secret"</h2>
            {if has_secret {
                view! {
                    <SecretField kind=SecretKind::Webhook(agent.id) label="HMAC secret"
                        input_id="hmac-secret-value" on_change=audited/>
                }.into_any()
            } else {
                view! { <p class="muted">"A draft has no secret yet."</p> }.into_any()
            }}
        </section>
    }
}
