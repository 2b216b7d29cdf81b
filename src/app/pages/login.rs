use leptos::prelude::*;

/// Sign-in arrives with the administrators issue; the route exists so navigation works.
#[component]
pub fn LoginPage() -> impl IntoView {
    view! {
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <p class="muted">"Administrator sign-in is not available yet."</p>
        </section>
    }
}
