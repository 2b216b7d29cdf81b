//! Leptos server functions: the browser's door into `services`. Thin: take the caller from
//! the session cookie, parse input into domain types, call a service, map errors to
//! [`ApiError`](crate::domain::ApiError) with the same status the REST API would give.

mod agents;
mod auth;
mod codec;
#[cfg(feature = "ssr")]
pub(crate) mod context;
mod notifications;
mod operations;
mod status;
mod webhooks;

pub use agents::*;
pub use auth::*;
pub use notifications::*;
pub use operations::*;
pub use status::*;
pub use webhooks::*;
