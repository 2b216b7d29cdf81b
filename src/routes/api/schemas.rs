use axum::Json;
use serde::Deserialize;

use super::extract::ApiJson;
use crate::{
    domain::SchemaValidation,
    error::AppError,
    services::{schemas, Principal},
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateSchemaRequest {
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// Checks a payload schema without saving it: 200 with the schema's problems (`valid: false`),
/// or 400 when the schema is over a cost limit (size, number or compiled size of its regular
/// expressions, compile time), the message naming the limit.
#[utoipa::path(post, path = "/api/schemas/validate", tag = "schemas", request_body = ValidateSchemaRequest,
    responses((status = 200, body = SchemaValidation), (status = 400, description = "Over a cost limit"), (status = 401)),
    security(("session" = []), ("bearer" = [])))]
pub async fn validate(
    _principal: Principal,
    ApiJson(body): ApiJson<ValidateSchemaRequest>,
) -> Result<Json<SchemaValidation>, AppError> {
    schemas::validation(body.schema).await.map(Json)
}
