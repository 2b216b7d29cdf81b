//! Extractors of the REST API: who is calling, JSON bodies and agent ids, each refusing bad
//! input with the API's own error shape.

use axum::{
    extract::{rejection::JsonRejection, FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts},
    Json,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::{
    error::AppError,
    routes::{csrf::cookie, transport::ClientInfo},
    services::{auth, Principal},
    state::AppState,
};

/// The signed-in user (session cookie) or API token (`Authorization: Bearer`) of a request.
impl FromRequestParts<AppState> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let source_ip = ClientInfo::ip_of(&parts.extensions);
        let principal = if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|value| value.strip_prefix("Bearer "))
                .ok_or(AppError::Unauthenticated)?;
            auth::authenticate_api_token(&state.pool, token.trim()).await?
        } else if let Some(token) =
            cookie(&parts.headers, auth::session_cookie_name(&state.settings))
        {
            auth::authenticate_session(&state.pool, token).await?
        } else {
            None
        };
        principal
            .map(|principal| Principal {
                source_ip,
                ..principal
            })
            .ok_or(AppError::Unauthenticated)
    }
}

/// The client address of the request (see `transport`), when known.
pub struct SourceIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(SourceIp(ClientInfo::ip_of(&parts.extensions)))
    }
}

/// A JSON body; malformed JSON and unknown fields are 400 with serde's explanation.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(rejection)) => {
                Err(AppError::UnsupportedMediaType(rejection.body_text()))
            }
            Err(rejection) => Err(AppError::BadRequest(rejection.body_text())),
        }
    }
}

/// An agent id from the path. A malformed id is a missing agent (404), not a bad request.
pub struct AgentId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for AgentId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<Uuid>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| AgentId(id))
            .map_err(|_| AppError::NotFound)
    }
}
