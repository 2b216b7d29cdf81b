use std::time::Duration;

use agent_webhooks::{db, jobs::probe};

use crate::helpers::{eventually, spawn_app_with, TestOptions};

#[tokio::test]
async fn an_enqueued_task_is_run_by_the_in_process_worker_exactly_once() {
    let app = spawn_app_with(TestOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let probe_id = probe::enqueue(&app.pool).await.unwrap();

    let completed_at = eventually(Duration::from_secs(10), "the probe to complete", || async {
        db::queue_probes::completed_at(&app.pool, probe_id)
            .await
            .unwrap()
    })
    .await;
    assert!(completed_at <= chrono::Utc::now());

    // fang's row is removed once the task succeeded, and the task ran exactly once.
    let remaining: i64 = eventually(Duration::from_secs(5), "the task row to go", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from fang_tasks")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        (n == 0).then_some(n)
    })
    .await;
    assert_eq!(remaining, 0);
    let runs: i32 = sqlx::query_scalar("select runs from queue_probes where id = $1")
        .bind(probe_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn without_workers_a_task_waits_in_the_queue() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let probe_id = probe::enqueue(&app.pool).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        db::queue_probes::completed_at(&app.pool, probe_id)
            .await
            .unwrap(),
        None
    );
    let state: String = sqlx::query_scalar("select state::text from fang_tasks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(state, "new");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_task_of_unknown_shape_is_failed_and_the_worker_keeps_going() {
    let app = spawn_app_with(TestOptions {
        workers: 1,
        ..Default::default()
    })
    .await;
    sqlx::query(
        "insert into fang_tasks (metadata, task_type) values ('{\"type\": \"NoSuchTask\"}', $1)",
    )
    .bind(agent_webhooks::jobs::TASK_TYPE)
    .execute(&app.pool)
    .await
    .unwrap();
    let probe_id = probe::enqueue(&app.pool).await.unwrap();

    eventually(
        Duration::from_secs(10),
        "the probe after a bad task",
        || async {
            db::queue_probes::completed_at(&app.pool, probe_id)
                .await
                .unwrap()
        },
    )
    .await;
    let failed: String = sqlx::query_scalar(
        "select state::text from fang_tasks where metadata->>'type' = 'NoSuchTask'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(failed, "failed");
    app.stop().await.unwrap();
}
