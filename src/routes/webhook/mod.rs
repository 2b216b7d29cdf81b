//! `POST /agents/{agent_id}/webhook`: the route external systems call. This layer enforces
//! what can be decided before the body is read (size, content type, read timeout); the
//! service does the rest. `test_sender` is the admin UI's "Send Test Webhook", which goes
//! through this same route.

pub mod test_sender;

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use uuid::Uuid;

use crate::{
    db::requests::NewRequest,
    domain::{RequestOutcome, WebhookErrorBody},
    error::{retry_after_seconds, UNAVAILABLE_RETRY_AFTER_SECONDS},
    routes::transport::ClientInfo,
    services::{
        request_log,
        webhooks::{self, Answer, Facts, WebhookError},
    },
    state::AppState,
};

/// The webhook route alone, so that the admin UI's test sender reaches the very same handler.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/agents/{agent_id}/webhook", axum::routing::post(receive))
}

/// Whether `path` is a webhook URL (`/agents/{agent_id}/webhook`), which reads its own body
/// and is authenticated by its signature rather than by a session.
pub fn is_webhook_path(path: &str) -> bool {
    path.strip_prefix("/agents/")
        .and_then(|rest| rest.strip_suffix("/webhook"))
        .is_some_and(|agent_id| !agent_id.is_empty() && !agent_id.contains('/'))
}

#[utoipa::path(post, path = "/agents/{agent_id}/webhook", tag = "webhook",
    params(("agent_id" = uuid::Uuid, Path)),
    request_body(content = Object, content_type = "application/json",
        description = "Any JSON value, signed as the agent's verification scheme says: by \
                       default X-Hub-Signature-256 (or X-Hub-Signature, X-Webhook-Signature) or \
                       Standard Webhooks headers; or as Stripe, Slack, Shopify, Zendesk or \
                       PagerDuty sign; or with the secret as a token (X-Gitlab-Token, a named \
                       header, or Authorization: Bearer)"),
    responses(
        (status = 200, body = Object, description = "The sender's verification handshake (Slack's url_verification): {\"challenge\": …}; nothing queued"),
        (status = 202, body = crate::domain::WebhookAccepted, description = "Execution queued"),
        (status = 400, body = WebhookErrorBody, description = "Invalid JSON payload / Validation failed"),
        (status = 401, body = WebhookErrorBody, description = "Invalid HMAC signature / Request expired"),
        (status = 403, body = WebhookErrorBody, description = "Agent is not active"),
        (status = 404, body = WebhookErrorBody, description = "Agent not found"),
        (status = 409, body = WebhookErrorBody, description = "Delivery id reused with a different payload"),
        (status = 405, description = "Only POST"),
        (status = 408, body = WebhookErrorBody, description = "Body not received in time"),
        (status = 413, body = WebhookErrorBody, description = "Payload too large"),
        (status = 415, body = WebhookErrorBody, description = "Content-Type must be JSON"),
        (status = 429, body = WebhookErrorBody, description = "Rate limit exceeded; see Retry-After"),
        (status = 503, body = WebhookErrorBody, description = "Database unavailable; see Retry-After"),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(agent_id): Path<String>,
    request: Request,
) -> Response {
    let received_at = chrono::Utc::now();
    // Made on arrival, so the log orders requests as they came.
    let request_id = Uuid::now_v7();
    let source_ip = ClientInfo::ip_of(request.extensions());
    let (parts, body) = request.into_parts();
    let started = std::time::Instant::now();
    let settings = &state.settings.webhooks;
    let mut facts = Facts::default();
    let result = async {
        check_headers(&parts.headers, settings.max_body_bytes)?;
        let body = read_body(
            body,
            settings.max_body_bytes,
            Duration::from_secs(settings.read_timeout_seconds),
        )
        .await?;
        webhooks::accept(
            &state,
            &agent_id,
            &parts.headers,
            body,
            source_ip.as_deref(),
            &mut facts,
        )
        .await
    }
    .await;
    let (response, logged) = match result {
        Ok(Answer::Handshake(answer)) => (
            (StatusCode::OK, Json(answer)).into_response(),
            Some((RequestOutcome::Handshake, None, None)),
        ),
        Ok(Answer::Queued(accepted)) => {
            let outcome = if facts.duplicate {
                RequestOutcome::Duplicate
            } else {
                RequestOutcome::Accepted
            };
            let execution_id = accepted.execution_id;
            (
                (StatusCode::ACCEPTED, Json(accepted)).into_response(),
                Some((outcome, None, Some(execution_id))),
            )
        }
        Err(err) => {
            // A failed lookup (503, 500) is not asked again, and has no tenant to log under.
            let reason = err
                .reason()
                .filter(|_| facts.tenant_id.is_some() || err.before_lookup());
            (
                error_response(err),
                reason.map(|reason| (RequestOutcome::Rejected, Some(reason), None)),
            )
        }
    };
    if let Some((outcome, reason, execution_id)) = logged {
        if facts.tenant_id.is_none() {
            // Refused before the agent was looked up (size, content type, read timeout).
            webhooks::learn_agent(&state, &agent_id, &mut facts).await;
        }
        if let (Some(tenant_id), Ok(agent_id)) = (facts.tenant_id, agent_id.parse()) {
            if outcome == RequestOutcome::Rejected && !state.limits.may_log_refusal(agent_id) {
                state.request_log.dropped();
                return finish(&state, response, started);
            }
            let (body_bytes, body_sha256) = match facts.body {
                Some((bytes, hash)) => (bytes as u64, Some(hash)),
                None => (declared_length(&parts.headers).unwrap_or(0), None),
            };
            state.request_log.record(NewRequest {
                id: request_id,
                tenant_id,
                agent_id,
                received_at,
                status: response.status().as_u16(),
                outcome,
                reason,
                delivery_id: webhooks::logged_delivery_id(&mut facts, &parts.headers),
                source_ip,
                body_bytes: i32::try_from(body_bytes).unwrap_or(i32::MAX),
                body_sha256,
                headers: request_log::logged_headers(
                    &parts.headers,
                    facts.secret_header.as_deref(),
                ),
                execution_id,
            });
        }
    }
    finish(&state, response, started)
}

/// Counts the answer in the metrics.
fn finish(state: &AppState, response: Response, started: std::time::Instant) -> Response {
    state
        .metrics
        .webhook_requests
        .with_label_values(&[response.status().as_str()])
        .inc();
    state
        .metrics
        .webhook_duration
        .observe(started.elapsed().as_secs_f64());
    response
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
}

/// A declared length over the limit is refused before reading; the content type must be JSON
/// (`application/json` with any parameters, or any `application/*+json`).
fn check_headers(headers: &HeaderMap, max_body_bytes: usize) -> Result<(), WebhookError> {
    let declared = declared_length(headers);
    if declared.is_some_and(|length| length > max_body_bytes as u64) {
        return Err(WebhookError::PayloadTooLarge);
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"));
    if !json {
        return Err(WebhookError::UnsupportedMediaType);
    }
    Ok(())
}

/// Reads at most `limit` bytes (chunked bodies too), within `timeout`.
async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Vec<u8>, WebhookError> {
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| WebhookError::BodyTimeout)?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            Err(WebhookError::PayloadTooLarge)
        }
        // The sender went away or sent a broken body: nothing to answer to.
        Err(_) => Err(WebhookError::BodyTimeout),
    }
}

fn error_response(err: WebhookError) -> Response {
    let (status, retry_after) = match &err {
        WebhookError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, None),
        WebhookError::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
        WebhookError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, None),
        WebhookError::AgentNotFound => (StatusCode::NOT_FOUND, None),
        WebhookError::InvalidSignature
        | WebhookError::Expired
        | WebhookError::TimestampRequired => (StatusCode::UNAUTHORIZED, None),
        WebhookError::AgentNotActive => (StatusCode::FORBIDDEN, None),
        WebhookError::DeliveryIdConflict => (StatusCode::CONFLICT, None),
        WebhookError::InvalidJson
        | WebhookError::ValidationFailed(_)
        | WebhookError::DeliveryIdTooLong
        | WebhookError::InvalidDeliveryId => (StatusCode::BAD_REQUEST, None),
        WebhookError::RateLimited(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            Some(retry_after_seconds(*wait)),
        ),
        WebhookError::Unavailable(source) => {
            tracing::warn!(error = %source, "webhook refused: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            )
        }
        WebhookError::Internal(source) => {
            tracing::error!(error = ?source, "webhook failed");
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        }
    };
    let body = WebhookErrorBody {
        error: err.to_string(),
        details: match err {
            WebhookError::ValidationFailed(details) => Some(details),
            _ => None,
        },
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
