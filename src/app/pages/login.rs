use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::Login;

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
    let failed = move || {
        login.value().get().and_then(Result::err).map(|err| {
            if err.status == 401 {
                "Invalid email or password.".to_owned()
            } else {
                err.describe()
            }
        })
    };
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <p class="muted">"Administrators manage agents, their webhook URLs and secrets."</p>
            <ActionForm action=login attr:class="form">
                <input type="hidden" name="next" prop:value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                {move || failed().map(|message| view! { <p role="alert" class="error">{message}</p> })}
                <button type="submit" class="button" disabled=move || login.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </section>
    }
}
