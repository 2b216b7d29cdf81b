use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub password_hash: String,
}

/// The hash stays out of `Debug`: an offline guessing attack needs nothing more.
impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

pub async fn insert(db: impl PgExecutor<'_>, user: &UserRow) -> Result<(), sqlx::Error> {
    sqlx::query("insert into users (id, tenant_id, email, password_hash) values ($1, $2, $3, $4)")
        .bind(user.id)
        .bind(user.tenant_id)
        .bind(&user.email)
        .bind(&user.password_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn find_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("select id, tenant_id, email, password_hash from users where email = $1")
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as("select id, tenant_id, email, password_hash from users where id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}
