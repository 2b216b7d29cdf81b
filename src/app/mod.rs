//! The browser UI (both builds). Never imports server-only modules.

mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    StaticSegment,
};

use pages::{home::HomePage, login::LoginPage, not_found::NotFound};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this attribute appears once the WASM has
    // hydrated the page: end-to-end tests wait for it.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/agent-webhooks.css"/>
        <Title text="Agent Webhooks"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Agent Webhooks"</A>
                <nav aria-label="Main">
                    <A href="/">"Home"</A>
                    <A href="/login">"Sign in"</A>
                </nav>
            </header>
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                </Routes>
            </main>
        </Router>
    }
}
