//! The browser UI (both builds). Never imports server-only modules: data comes from the
//! server functions in `crate::api`.

mod browser;
mod components;
pub mod examples;
mod pages;
mod resource;
mod time;

use leptos::{ev::SubmitEvent, prelude::*, server_fn::ServerFn};
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    hooks::use_location,
    path, SsrMode, StaticSegment,
};

use crate::api::{signed_in_user, Logout};
use pages::{
    agent::AgentPage, agents::AgentsPage, execution::ExecutionPage, home::HomePage,
    login::LoginPage, not_found::NotFound, settings::SettingsPage, tokens::TokensPage,
};

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
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Title text="Agent Webhooks"/>
        <Router>
            <TopBar/>
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=HomePage/>
                    <Route path=StaticSegment("login") view=LoginPage/>
                    <Route path=StaticSegment("agents") view=AgentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/agents/:id") view=AgentPage ssr=SsrMode::Async/>
                    <Route path=path!("/executions/:id") view=ExecutionPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("tokens") view=TokensPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("settings") view=SettingsPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// Navigation; shows who is signed in (checked again on every navigation).
#[component]
fn TopBar() -> impl IntoView {
    let location = use_location();
    let user = resource::server_resource(move || location.pathname.get(), |_| signed_in_user());
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"Agent Webhooks"</A>
            <nav aria-label="Main">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(user)) => view! {
                                <A href="/agents">"Agents"</A>
                                <A href="/tokens">"Tokens"</A>
                                <A href="/settings">"Settings"</A>
                                <span class="muted user">{user.email}</span>
                                // Posted by the browser before hydration; sent as JSON by the
                                // action afterwards (see pages/login.rs).
                                <form action=Logout::url() method="post" class="inline"
                                    on:submit=move |ev: SubmitEvent| {
                                        ev.prevent_default();
                                        logout.dispatch(Logout {});
                                    }>
                                    <button type="submit" class="link-button">"Sign out"</button>
                                </form>
                            }.into_any(),
                            _ => view! { <A href="/login">"Sign in"</A> }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}
