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

/// Checks a payload schema without saving it.
#[utoipa::path(post, path = "/api/schemas/validate", tag = "schemas", request_body = ValidateSchemaRequest,
    responses((status = 200, body = SchemaValidation), (status = 401)), security(("session" = []), ("bearer" = [])))]
pub async fn validate(
    _principal: Principal,
    ApiJson(body): ApiJson<ValidateSchemaRequest>,
) -> Result<Json<SchemaValidation>, AppError> {
    let errors = schemas::compile(&body.schema).err().unwrap_or_default();
    Ok(Json(SchemaValidation {
        valid: errors.is_empty(),
        errors,
    }))
}
