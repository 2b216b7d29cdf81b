//! Executions: retries, a dead worker's task picked up again, and exactly-once runs.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use agent_webhooks::jobs::{
    execute::ExecuteAgent,
    runner::{AgentRunner, RunError, RunInput},
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, TestOptions};

/// Fails the first `failures` runs, then succeeds; counts every run.
struct ScriptedRunner {
    failures: usize,
    runs: AtomicUsize,
    panic_on_first: bool,
}

impl ScriptedRunner {
    fn new(failures: usize) -> Arc<Self> {
        Arc::new(Self {
            failures,
            runs: AtomicUsize::new(0),
            panic_on_first: false,
        })
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[fang::async_trait]
impl AgentRunner for ScriptedRunner {
    async fn run(&self, input: &RunInput) -> Result<Value, RunError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if self.panic_on_first && run == 1 {
            panic!("runner exploded");
        }
        if run <= self.failures {
            return Err(format!("attempt {} failed", input.attempt).into());
        }
        Ok(json!({"runner": "scripted", "attempt": input.attempt}))
    }
}

async fn accept_one(app: &TestApp) -> String {
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let response = app.post_signed(&agent.url, &agent.secret, b"{}").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    body["execution_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_failing_run_is_retried_with_backoff_until_it_succeeds() {
    let runner = ScriptedRunner::new(2);
    let app = spawn_app_with(TestOptions {
        runner: Some(runner.clone()),
        ..Default::default()
    })
    .await;
    let id = accept_one(&app).await;
    let done = app
        .execution_when(&id, "completion", |e| e["status"] == "completed")
        .await;
    assert_eq!(done["attempts"], 3);
    assert_eq!(done["result"], json!({"runner": "scripted", "attempt": 3}));
    assert_eq!(done["error"], Value::Null);
    assert_eq!(runner.runs(), 3);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn after_five_failed_attempts_the_execution_fails_with_its_error_kept() {
    let runner = ScriptedRunner::new(usize::MAX);
    let app = spawn_app_with(TestOptions {
        runner: Some(runner.clone()),
        ..Default::default()
    })
    .await;
    let id = accept_one(&app).await;
    let failed = app
        .execution_when(&id, "failure", |e| e["status"] == "failed")
        .await;
    assert_eq!(failed["attempts"], 5);
    assert_eq!(failed["error"], "attempt 5 failed");
    assert!(failed["completed_at"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(runner.runs(), 5, "no sixth attempt");
    let tasks: i64 = sqlx::query_scalar("select count(*) from fang_tasks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        tasks, 0,
        "the execution row is the record; the task is gone"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_task_whose_worker_died_is_picked_up_again_and_runs_once() {
    // Accepted by a web-only process...
    let web = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let id = accept_one(&web).await;
    // ...then taken by a worker that died mid-run: task in progress, no heartbeat for an hour.
    sqlx::query("update agent_executions set status = 'running', attempts = 1, started_at = now() - interval '1 hour'")
        .execute(&web.pool).await.unwrap();
    sqlx::query(
        "update fang_tasks set state = 'in_progress', updated_at = now() - interval '1 hour'",
    )
    .execute(&web.pool)
    .await
    .unwrap();
    let database = web.database.clone();
    let keys = vec![];
    web.stop().await.unwrap();

    let runner = ScriptedRunner::new(0);
    let worker = spawn_app_with(TestOptions {
        database: Some(database),
        runner: Some(runner.clone()),
        master_keys: keys,
        ..Default::default()
    })
    .await;
    let done = worker
        .execution_when(&id, "completion by the new worker", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(done["attempts"], 2);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(runner.runs(), 1, "the agent ran exactly once");
    worker.stop().await.unwrap();
}

#[tokio::test]
async fn a_task_delivered_twice_runs_the_agent_once() {
    let runner = ScriptedRunner::new(0);
    let app = spawn_app_with(TestOptions {
        workers: 2,
        runner: Some(runner.clone()),
        ..Default::default()
    })
    .await;
    let id = accept_one(&app).await;
    // A second task for the same execution (a task the reaper re-created while the first
    // was merely late) must not run the agent again.
    let tenant_id: uuid::Uuid =
        sqlx::query_scalar("select tenant_id from agent_executions where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    agent_webhooks::db::tasks::insert_many(
        &app.pool,
        &[ExecuteAgent::metadata(id.parse().unwrap(), tenant_id)],
        agent_webhooks::jobs::TASK_TYPE,
    )
    .await
    .unwrap();
    app.execution_when(&id, "completion", |e| e["status"] == "completed")
        .await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "both tasks to finish",
        || async {
            let n: i64 = sqlx::query_scalar("select count(*) from fang_tasks")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            (n == 0).then_some(())
        },
    )
    .await;
    assert_eq!(runner.runs(), 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_panicking_run_does_not_take_the_worker_down() {
    let runner = Arc::new(ScriptedRunner {
        failures: 0,
        runs: AtomicUsize::new(0),
        panic_on_first: true,
    });
    let app = spawn_app_with(TestOptions {
        runner: Some(runner.clone()),
        ..Default::default()
    })
    .await;
    let id = accept_one(&app).await;
    // The panicked attempt is released by the reaper and retried; the worker lives on.
    let done = app
        .execution_when(&id, "completion after a panic", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(runner.runs(), 2);
    assert_eq!(done["attempts"], 2);
    app.stop().await.unwrap();
}

/// Sleeps far longer than any shutdown grace period.
struct SlowRunner;

#[fang::async_trait]
impl AgentRunner for SlowRunner {
    async fn run(&self, _input: &RunInput) -> Result<Value, RunError> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(json!({"runner": "slow"}))
    }
}

#[tokio::test]
async fn stopping_hands_running_executions_back_instead_of_losing_them() {
    let app = spawn_app_with(TestOptions {
        runner: Some(Arc::new(SlowRunner)),
        tweak: Some(|settings| settings.server.shutdown_grace_seconds = 1),
        ..Default::default()
    })
    .await;
    let id = accept_one(&app).await;
    app.execution_when(&id, "the slow run to start", |e| e["status"] == "running")
        .await;
    let (pool, database) = (app.pool.clone(), app.database.clone());
    let started = std::time::Instant::now();
    app.stop().await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "shutdown is bounded by the grace period"
    );

    let direct = sqlx::PgPool::connect(&database.url).await.unwrap();
    let (status, task_state): (String, String) = sqlx::query_as(
        "select e.status, t.state::text from agent_executions e
         join fang_tasks t on t.metadata ->> 'execution_id' = e.id::text where e.id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&direct)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), task_state.as_str()),
        ("queued", "retried"),
        "released at once, not after the lease"
    );
    drop(pool);

    // The next process runs it to completion.
    let runner = ScriptedRunner::new(0);
    let next = spawn_app_with(TestOptions {
        database: Some(database),
        runner: Some(runner.clone()),
        ..Default::default()
    })
    .await;
    next.execution_when(&id, "completion after the restart", |e| {
        e["status"] == "completed"
    })
    .await;
    assert_eq!(runner.runs(), 1);
    next.stop().await.unwrap();
}
