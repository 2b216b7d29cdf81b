//! API tokens for scripts and CI: create one (shown once), see when each was last used and
//! when it expires, revoke it (it stops working at once).

use leptos::{html, prelude::*};
use uuid::Uuid;

use crate::{
    api::{list_tokens, new_token, revoke_token},
    app::{
        components::{ConfirmDialog, CopyButton, ErrorNotice},
        resource::server_resource,
        time::utc_minutes,
    },
};

#[component]
pub fn TokensPage() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let tokens = server_resource(move || reload.get(), |_| list_tokens());
    let name = NodeRef::<html::Input>::new();
    let days = NodeRef::<html::Select>::new();
    let create = Action::new(move |_: &()| {
        let typed = name.get_untracked().map(|n| n.value()).unwrap_or_default();
        let days = days
            .get_untracked()
            .and_then(|select| select.value().parse::<u32>().ok());
        async move {
            let result = new_token(typed, days).await;
            if result.is_ok() {
                if let Some(input) = name.get_untracked() {
                    input.set_value("");
                }
                reload.update(|n| *n += 1);
            }
            result
        }
    });
    let revoking = RwSignal::new(None::<(Uuid, String)>);
    let confirm = RwSignal::new(false);
    let revoke = Action::new(move |id: &Uuid| {
        let id = *id;
        async move {
            let result = revoke_token(id).await;
            reload.update(|n| *n += 1);
            result
        }
    });
    view! {
        <h1>"API tokens"</h1>
        <p class="lead">
            "For scripts and CI: send "<code>"Authorization: Bearer <token>"</code>" to the REST API."
        </p>
        <section class="card" aria-labelledby="new-token">
            <h2 id="new-token">"New token"</h2>
            <form class="form" on:submit=move |ev| { ev.prevent_default(); create.dispatch(()); }>
                <label for="token-name">"Name"</label>
                <input id="token-name" type="text" maxlength="200" node_ref=name placeholder="ci-deploy"/>
                <label for="token-expiry">"Expires"</label>
                <select id="token-expiry" node_ref=days>
                    <option value="">"never"</option>
                    <option value="30">"in 30 days"</option>
                    <option value="90" selected>"in 90 days"</option>
                    <option value="365">"in a year"</option>
                </select>
                <div class="actions"><button type="submit" class="button">"Create token"</button></div>
            </form>
            {move || create.value().get().map(|result| match result {
                Ok(created) => view! {
                    <div role="status" class="notice">
                        <p>{format!("Token {} created. Copy it now: it is not shown again.", created.name)}</p>
                        <div class="field-row">
                            <input id="created-token" type="text" readonly aria-label="Token (shown once)" value=created.token.clone()/>
                            <CopyButton label="Copy token" copied_message="Token copied"
                                text=Signal::derive(move || Some(created.token.clone()))/>
                        </div>
                    </div>
                }.into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            })}
        </section>
        <section class="card" aria-labelledby="tokens">
            <h2 id="tokens">"Tokens"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading tokens…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(tokens) if tokens.is_empty() => view! { <p class="muted">"No tokens."</p> }.into_any(),
                        Ok(tokens) => view! {
                            <table aria-label="API tokens">
                                <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th></th></tr></thead>
                                <tbody>
                                    {tokens.into_iter().map(|token| {
                                        let (id, label) = (token.id, token.name.clone());
                                        view! {
                                            <tr>
                                                <td>{token.name}</td>
                                                <td>{utc_minutes(&token.created_at)}</td>
                                                <td>{token.last_used_at.as_ref().map(utc_minutes).unwrap_or_else(|| "never".into())}</td>
                                                <td>{token.expires_at.as_ref().map(utc_minutes).unwrap_or_else(|| "never".into())}</td>
                                                <td>
                                                    <button type="button" class="button danger"
                                                        aria-label=format!("Revoke {label}")
                                                        on:click=move |_| { revoking.set(Some((id, label.clone()))); confirm.set(true); }>
                                                        "Revoke"
                                                    </button>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })}
            </Transition>
            {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> })}
        </section>
        <ConfirmDialog open=confirm title="Revoke this token?" confirm_label="Revoke"
            on_confirm=Callback::new(move |_| {
                if let Some((id, _)) = revoking.get_untracked() {
                    revoke.dispatch(id);
                }
            })>
            <p>{move || revoking.get().map(|(_, name)| format!("Scripts using {name} get 401 from their next request on."))}</p>
        </ConfirmDialog>
    }
}
