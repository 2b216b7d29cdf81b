//! The error type of the HTTP boundary (REST API, webhook route, server functions): each
//! variant knows its status code; internal details are logged, never sent.

use std::time::Duration;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    /// Input that parsed but broke rules; `details` locate each problem.
    #[error("{message}")]
    Invalid {
        message: String,
        details: Vec<FieldError>,
    },
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests; retry in {} seconds", retry_after_seconds(*.retry_after))]
    RateLimited { retry_after: Duration },
    /// The database could not be reached or timed out: worth retrying later.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A server we called for the caller (a notification URL) did not take the request.
    #[error("{0}")]
    BadGateway(String),
    /// A bounded resource (e.g. password hashing) stayed busy: worth retrying shortly.
    #[error("server busy; retry shortly")]
    Busy,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// `Retry-After` for a wait: whole seconds, rounded up, at least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// `Retry-After` when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

impl AppError {
    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) | AppError::Invalid { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AppError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Invalid {
            message: message.clone(),
            details: vec![FieldError {
                path: format!("/{field}"),
                message,
            }],
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// Seconds to put in `Retry-After`, when the client should retry.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after } => Some(retry_after_seconds(*retry_after)),
            AppError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            AppError::Busy => Some(1),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for AppError {
    /// Transient database failures (see `db::is_transient`) are 503 here as on the webhook
    /// route; anything else is a bug (500).
    fn from(err: sqlx::Error) -> Self {
        if crate::db::is_transient(&err) {
            AppError::Unavailable(err)
        } else {
            AppError::Internal(err.into())
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        match &self {
            AppError::Unavailable(source) => {
                tracing::warn!(error = %source, "database unavailable")
            }
            AppError::Internal(source) => tracing::error!(error = ?source, "internal error"),
            _ => {}
        }
        let body = match &self {
            AppError::Invalid { message, details } => {
                json!({ "error": message, "details": details })
            }
            other => json!({ "error": other.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
