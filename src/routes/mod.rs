//! Plain axum routes for machines: health checks and the REST API (the webhook route joins
//! them). Browser pages are Leptos routes in `app/`.

pub mod api;
pub mod csrf;
pub mod health;
pub mod metrics;
pub mod transport;
pub mod webhook;
