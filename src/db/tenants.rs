use sqlx::{PgExecutor, Row};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub sealed_key: String,
}

pub async fn insert(db: impl PgExecutor<'_>, tenant: &TenantRow) -> Result<(), sqlx::Error> {
    sqlx::query("insert into tenants (id, slug, name, sealed_key) values ($1, $2, $3, $4)")
        .bind(tenant.id)
        .bind(&tenant.slug)
        .bind(&tenant.name)
        .bind(&tenant.sealed_key)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn find_by_slug(
    db: impl PgExecutor<'_>,
    slug: &str,
) -> Result<Option<TenantRow>, sqlx::Error> {
    sqlx::query("select id, slug, name, sealed_key from tenants where slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

pub async fn sealed_key(db: impl PgExecutor<'_>, id: Uuid) -> Result<String, sqlx::Error> {
    sqlx::query_scalar("select sealed_key from tenants where id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}

/// Every tenant's sealed key, locked until the caller's transaction ends (key rotation).
pub async fn all_sealed_keys_for_update(
    db: impl PgExecutor<'_>,
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("select id, sealed_key from tenants order by id for update")
        .fetch_all(db)
        .await
}

pub async fn set_sealed_key(
    db: impl PgExecutor<'_>,
    id: Uuid,
    sealed_key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update tenants set sealed_key = $2 where id = $1")
        .bind(id)
        .bind(sealed_key)
        .execute(db)
        .await?;
    Ok(())
}

fn from_row(row: &sqlx::postgres::PgRow) -> Result<TenantRow, sqlx::Error> {
    Ok(TenantRow {
        id: row.try_get("id")?,
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        sealed_key: row.try_get("sealed_key")?,
    })
}
