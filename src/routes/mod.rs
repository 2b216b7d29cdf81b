//! Plain axum routes for machines (health checks now; the webhook route and the REST API later).

pub mod health;
