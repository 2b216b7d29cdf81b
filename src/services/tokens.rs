//! API tokens managed from the UI and the API (the CLI's `create-token` is the bootstrap):
//! created with a name and an optional expiry, shown once, listed without the secret,
//! revoked at once. Each action is audited.

use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{audit, auth::API_TOKEN_PREFIX, Actor, Principal};
use crate::{
    crypto::tokens,
    db::{self, api_tokens::NewToken},
    domain::{ApiToken, AuditAction, CreateToken, CreatedToken},
    error::AppError,
};

const MAX_NAME_CHARS: usize = 200;

pub async fn list(pool: &PgPool, principal: &Principal) -> Result<Vec<ApiToken>, AppError> {
    Ok(db::api_tokens::list(pool, principal.tenant_id).await?)
}

/// Tokens are managed by signed-in administrators only: a token that could mint tokens
/// would outlive its own expiry or revocation.
fn require_person(principal: &Principal) -> Result<(), AppError> {
    match principal.actor {
        Actor::User(_) => Ok(()),
        _ => Err(AppError::Forbidden(
            "API tokens are managed by signed-in administrators, not with a token".into(),
        )),
    }
}

pub async fn create(
    pool: &PgPool,
    principal: &Principal,
    input: CreateToken,
) -> Result<CreatedToken, AppError> {
    require_person(principal)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(
            "name",
            format!("name must be 1-{MAX_NAME_CHARS} characters"),
        ));
    }
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(AppError::invalid(
            "expires_at",
            "expires_at must be in the future",
        ));
    }
    let token = tokens::random_token(API_TOKEN_PREFIX);
    let id = Uuid::new_v4();
    let mut tx = pool.begin().await?;
    let created_at = db::api_tokens::insert(
        &mut *tx,
        &NewToken {
            id,
            tenant_id: principal.tenant_id,
            name,
            token_hash: &tokens::token_hash(&token),
            expires_at: input.expires_at,
        },
    )
    .await?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::TokenCreated,
        None,
        "success",
        json!({ "token_id": id, "name": name, "expires_at": input.expires_at }),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedToken {
        id,
        name: name.to_owned(),
        token,
        created_at,
        expires_at: input.expires_at,
    })
}

/// Revokes the token: its next request is refused (401).
pub async fn revoke(pool: &PgPool, principal: &Principal, id: Uuid) -> Result<(), AppError> {
    require_person(principal)?;
    let mut tx = pool.begin().await?;
    let name = db::api_tokens::revoke(&mut *tx, principal.tenant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut *tx,
        principal,
        AuditAction::TokenRevoked,
        None,
        "success",
        json!({ "token_id": id, "name": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
