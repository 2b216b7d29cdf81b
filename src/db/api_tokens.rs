//! `api_tokens`: tokens for scripts and CI, stored as hashes. A revoked or expired token
//! stops authenticating at once: every request looks its hash up here.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::domain::ApiToken;

pub struct NewToken<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub token_hash: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Records the token; returns when it was created.
pub async fn insert(
    db: impl PgExecutor<'_>,
    token: &NewToken<'_>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_tokens (id, tenant_id, name, token_hash, expires_at)
         values ($1, $2, $3, $4, $5) returning created_at",
    )
    .bind(token.id)
    .bind(token.tenant_id)
    .bind(token.name)
    .bind(token.token_hash)
    .bind(token.expires_at)
    .fetch_one(db)
    .await
}

/// The tenant's tokens that are not revoked (expired ones too, until revoked), newest first.
pub async fn list(db: impl PgExecutor<'_>, tenant_id: Uuid) -> Result<Vec<ApiToken>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, name, created_at, last_used_at, expires_at from api_tokens
         where tenant_id = $1 and revoked_at is null
         order by created_at desc, id",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ApiToken {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                created_at: row.try_get::<DateTime<Utc>, _>("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .collect()
}

/// Revokes the token; returns its name, or `None` when there is no such live token.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "update api_tokens set revoked_at = now()
         where tenant_id = $1 and id = $2 and revoked_at is null returning name",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// The (token id, tenant) of a live token (neither revoked nor expired), noting its use at
/// most once a minute.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "with found as (
             select id, tenant_id, last_used_at from api_tokens
             where token_hash = $1 and revoked_at is null
               and (expires_at is null or expires_at > now())
         ), touched as (
             update api_tokens set last_used_at = now()
             where id = (select id from found)
               and (last_used_at is null or last_used_at < now() - interval '1 minute')
         )
         select id, tenant_id from found",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}
