//! Types shared by the server, the browser UI and the machine routes. Constructors parse
//! and refuse bad values, so a value of these types is valid wherever it travels.

mod agent;
mod audit;
mod dashboard;
mod execution;
mod notification;
mod request_log;
mod runtime;
mod sample;
mod secret;
mod timestamp;
mod token;
mod ui;
mod verification;

use serde::{Deserialize, Serialize};

pub use agent::*;
pub use audit::*;
pub use dashboard::*;
pub use execution::*;
pub use notification::*;
pub use request_log::*;
pub use runtime::*;
pub use sample::sample_payload;
pub use secret::*;
pub use timestamp::{Rfc3339Utc, Timestamp};
pub use token::*;
pub use ui::*;
pub use verification::*;

/// What the "Check server status" control shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    pub version: String,
    pub database_reachable: bool,
    pub workers_in_process: u32,
}

/// One problem with an input value, located by a JSON pointer (`""` for the whole value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// The answer of `POST /api/schemas/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SchemaValidation {
    pub valid: bool,
    pub errors: Vec<FieldError>,
}

/// Deserializes a field that distinguishes "absent" (`None`) from `null` (`Some(None)`),
/// as PATCH bodies need (`"payload_schema": null` clears the schema).
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
