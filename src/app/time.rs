//! Timestamps as the UI shows them, written by [`Rfc3339Utc`] from the text the server sends
//! in both builds, so the server-rendered page and the hydrated one show the same text
//! without chrono in the WASM (docs/decisions.md, "WASM size").

use crate::domain::{Rfc3339Utc, Timestamp};

/// `2026-11-29 19:04:05 UTC`
pub fn utc_seconds(at: &Timestamp) -> String {
    as_text(at).utc_seconds()
}

/// `2026-11-29 19:04 UTC`
pub fn utc_minutes(at: &Timestamp) -> String {
    as_text(at).utc_minutes()
}

/// The server's `DateTime<Utc>` as the text it sends to the browser.
#[cfg(feature = "ssr")]
fn as_text(at: &Timestamp) -> Rfc3339Utc {
    Rfc3339Utc::from(at)
}

/// In the browser a timestamp is that text already.
#[cfg(not(feature = "ssr"))]
fn as_text(at: &Timestamp) -> &Rfc3339Utc {
    at
}
