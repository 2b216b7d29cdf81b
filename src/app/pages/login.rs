use leptos::{ev::SubmitEvent, html, prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use crate::{api::Login, domain::Password};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .unwrap_or_else(|| "/agents".to_owned())
    };
    let email = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    let failed = move || {
        login.value().get().and_then(Result::err).map(|err| {
            if err.status == 401 {
                "Invalid email or password.".to_owned()
            } else {
                err.describe()
            }
        })
    };
    // Before hydration the browser posts the form itself (form-encoded, which the server
    // function takes too); afterwards the action sends the same fields as JSON
    // (src/api/codec.rs), so `ActionForm` and its form decoding stay out of the WASM.
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let value = |input: NodeRef<html::Input>| input.get().map(|input| input.value());
        login.dispatch(Login {
            email: value(email).unwrap_or_default(),
            password: Password::new(value(password).unwrap_or_default()),
            next: Some(next()),
        });
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <p class="muted">"Administrators manage agents, their webhook URLs and secrets."</p>
            <form action=Login::url() method="post" class="form" on:submit=submit>
                <input type="hidden" name="next" prop:value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required node_ref=email/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required node_ref=password/>
                {move || failed().map(|message| view! { <p role="alert" class="error">{message}</p> })}
                <button type="submit" class="button" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
            </form>
        </section>
    }
}
