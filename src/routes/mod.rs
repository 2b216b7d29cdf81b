//! Plain axum routes for machines: health checks, the REST API and the webhook route, plus
//! what every request passes through (`edge`, `csrf`, `request_body`) and the accept loop
//! (`serve`). Browser pages are Leptos routes in `app/`.

pub mod api;
pub mod csrf;
pub mod health;
pub mod metrics;
pub mod request_body;
pub mod serve;
pub mod transport;
pub mod webhook;

use axum::{
    http::{HeaderName, Request},
    middleware, Router,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer},
};

use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The layers every request meets first, outermost last: a request id (the caller's, or a
/// new one), a tracing span carrying it, then where the request came from and whether it
/// arrived over TLS (`require_https`). The whole application and the test sender's
/// in-process webhook requests both pass through these.
pub fn edge(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            transport::identify,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                // 5xx are logged where they arise (an internal error at error, an unavailable
                // database at warn); a second line at error here would only be noise.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN))
                .make_span_with(|request: &Request<_>| {
                    let request_id = request
                        .headers()
                        .get(&REQUEST_ID)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
