//! Bodies of requests other than webhooks (the REST API, server functions, sign-in forms):
//! read in full before any handler runs, within `server.body_read_timeout_seconds` and
//! `server.max_request_body_bytes`. A client that trickles a body, or sends an endless one,
//! gets a 408 or 413 and its connection back instead of holding a handler open. The webhook
//! route reads its own body with its own limits (`webhooks.*`).

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;

use crate::state::AppState;

pub async fn read_within_limits(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if super::webhook::is_webhook_path(request.uri().path()) || !has_body(&request) {
        return next.run(request).await;
    }
    let settings = &state.settings.server;
    let limit = settings.max_request_body_bytes;
    let deadline = Duration::from_secs(settings.body_read_timeout_seconds);
    let (parts, body) = request.into_parts();
    let collected = tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await;
    let refusal = match collected {
        Ok(Ok(collected)) => {
            let body = Body::from(collected.to_bytes());
            return next.run(Request::from_parts(parts, body)).await;
        }
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "Request body not received in time",
        ),
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            (StatusCode::PAYLOAD_TOO_LARGE, "Payload too large")
        }
        Ok(Err(_)) => (StatusCode::BAD_REQUEST, "Request body could not be read"),
    };
    tracing::info!(status = refusal.0.as_u16(), "request body refused");
    let mut response = (refusal.0, Json(json!({ "error": refusal.1 }))).into_response();
    // The rest of the body is not read: the connection cannot be reused.
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// Whether the request announces a body (a length above zero, or chunked).
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|length| length.to_str().map_or(true, |length| length.trim() != "0"))
}
