use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn insert(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("insert into queue_probes (id) values ($1)")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn mark_completed(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update queue_probes set completed_at = coalesce(completed_at, now()), runs = runs + 1
         where id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn completed_at(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select completed_at from queue_probes where id = $1")
        .bind(id)
        .fetch_one(db)
        .await
}
