use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    crypto::keyring::{MasterKeyring, TenantKey},
    db::{self, tenants::TenantRow},
    error::AppError,
};

pub fn parse_slug(raw: &str) -> Result<String, AppError> {
    let slug = raw.trim().to_ascii_lowercase();
    let valid = !slug.is_empty()
        && slug.len() <= 63
        && slug.starts_with(|c: char| c.is_ascii_alphanumeric())
        && slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(AppError::BadRequest(
            "tenant slug must be 1-63 lowercase letters, digits or dashes".into(),
        ));
    }
    Ok(slug)
}

/// The tenant with this slug, created (with a fresh Fernet key) when missing.
pub async fn ensure(
    pool: &PgPool,
    keyring: &MasterKeyring,
    slug: &str,
) -> Result<TenantRow, AppError> {
    let slug = parse_slug(slug)?;
    if let Some(tenant) = db::tenants::find_by_slug(pool, &slug).await? {
        return Ok(tenant);
    }
    let tenant = TenantRow {
        id: Uuid::new_v4(),
        slug: slug.clone(),
        name: slug.clone(),
        sealed_key: keyring.seal_tenant_key(&TenantKey::generate()),
    };
    match db::tenants::insert(pool, &tenant).await {
        Ok(()) => Ok(tenant),
        // Someone else created it first: use theirs.
        Err(sqlx::Error::Database(err)) if err.constraint() == Some("tenants_slug_key") => {
            db::tenants::find_by_slug(pool, &slug)
                .await?
                .ok_or(AppError::NotFound)
        }
        Err(err) => Err(err.into()),
    }
}
