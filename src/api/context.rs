//! What every server function needs: the application state, the signed-in principal, and a
//! way to turn service errors into the UI's error type with the right HTTP status.

use axum::http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::{domain::ApiError, error::AppError, services::Principal, state::AppState};

pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        fail(AppError::Internal(anyhow::anyhow!(
            "application state missing from context"
        )))
    })
}

/// The caller, from the session cookie (or a bearer token); 401 otherwise, 503 when the
/// database cannot tell.
pub async fn principal() -> Result<(AppState, Principal), ApiError> {
    use axum::extract::FromRequestParts;

    let state = state()?;
    let mut parts = use_context::<axum::http::request::Parts>()
        .ok_or_else(|| fail(AppError::Unauthenticated))?;
    // The extractor's own error (not `leptos_axum::extract`, which turns every error into
    // text): 401 without a valid session, but 503 when the database cannot be asked, as the
    // REST API answers, so that an outage does not look like a sign-out.
    let principal = Principal::from_request_parts(&mut parts, &state)
        .await
        .map_err(fail)?;
    Ok((state, principal))
}

/// Converts the error, setting the HTTP status when this is a server-function call of its
/// own (during page rendering the page decides its status, e.g. a redirect to sign-in).
pub fn fail(err: AppError) -> ApiError {
    let status = err.status_code();
    set_status(status);
    match &err {
        AppError::Internal(source) => tracing::error!(error = ?source, "server function failed"),
        AppError::Unavailable(source) => tracing::warn!(error = %source, "database unavailable"),
        _ => {}
    }
    let details = match &err {
        AppError::Invalid { details, .. } => details.clone(),
        _ => Vec::new(),
    };
    ApiError {
        status: status.as_u16(),
        message: err.to_string(),
        details,
        retry_after_seconds: err.retry_after(),
    }
}

pub fn set_status(status: StatusCode) {
    let own_call = use_context::<axum::http::request::Parts>()
        .is_some_and(|parts| parts.uri.path().starts_with("/api/fn/"));
    if own_call {
        if let Some(response) = use_context::<ResponseOptions>() {
            response.set_status(status);
        }
    }
}

/// Like the REST API: an answer with a secret in clear is never kept by a cache.
pub fn no_store() {
    if let Some(response) = use_context::<ResponseOptions>() {
        use axum::http::{header, HeaderValue};
        response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
