use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: Uuid,
    tenant_id: Uuid,
    name: &str,
    token_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into api_tokens (id, tenant_id, name, token_hash) values ($1, $2, $3, $4)")
        .bind(id)
        .bind(tenant_id)
        .bind(name)
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// The (token id, tenant) of an unrevoked token, noting its use at most once a minute.
pub async fn authenticate(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> Result<Option<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(
        "with found as (
             select id, tenant_id, last_used_at from api_tokens
             where token_hash = $1 and revoked_at is null
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
