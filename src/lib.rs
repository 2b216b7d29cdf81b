//! agent-webhooks: signed webhook triggers for tenant agents, with a Leptos admin UI.
//!
//! One crate, two builds: `ssr` (the server) and `hydrate` (the browser). Everything that
//! touches the database, keys or the queue is server-only and gated here, at the `mod` line.
// Release builds keep each component's concrete view type (see docs/decisions.md, "Release
// builds"), and the nested view types of the agent page outgrow rustc's default query depth of 128.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod domain;

#[cfg(feature = "ssr")]
pub mod cli;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod crypto;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod runtimes;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod startup;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod telemetry;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
