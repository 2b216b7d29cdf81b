//! The queue under its promises: leases that fence, runs that fail instead of hanging or
//! killing workers, exactly-once completion across processes, fair claims and wake-ups.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use agent_webhooks::{
    config::Settings,
    db,
    jobs::{
        execute::{ExecuteAgent, MAX_ATTEMPTS},
        runner::{AgentRunner, RunError, RunInput},
        TASK_TYPE,
    },
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app_with, TestAgent, TestApp, TestOptions};

/// What a run does, by attempt.
#[derive(Clone, Copy)]
enum Act {
    Succeed,
    Sleep(Duration),
    Panic,
    Hang,
}

/// A runner that records every run: started, returned, dropped before returning (aborted),
/// and how many runs of one execution were ever in flight at once.
struct RecordingRunner {
    act: fn(i32) -> Act,
    started: Mutex<HashMap<Uuid, u32>>,
    active: Mutex<HashMap<Uuid, u32>>,
    most_at_once: AtomicUsize,
    returned: AtomicUsize,
    aborted: AtomicUsize,
}

impl RecordingRunner {
    fn new(act: fn(i32) -> Act) -> Arc<Self> {
        Arc::new(Self {
            act,
            started: Mutex::default(),
            active: Mutex::default(),
            most_at_once: AtomicUsize::new(0),
            returned: AtomicUsize::new(0),
            aborted: AtomicUsize::new(0),
        })
    }

    fn runs(&self) -> usize {
        self.started.lock().unwrap().values().sum::<u32>() as usize
    }

    fn runs_of_each(&self) -> HashMap<Uuid, u32> {
        self.started.lock().unwrap().clone()
    }

    fn active(&self) -> usize {
        self.active.lock().unwrap().values().sum::<u32>() as usize
    }
}

/// Marks a run ended; counts it as aborted unless it returned.
struct Running<'a> {
    runner: &'a RecordingRunner,
    execution_id: Uuid,
    returned: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        *self
            .runner
            .active
            .lock()
            .unwrap()
            .get_mut(&self.execution_id)
            .unwrap() -= 1;
        let counter = if self.returned {
            &self.runner.returned
        } else {
            &self.runner.aborted
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

#[fang::async_trait]
impl AgentRunner for RecordingRunner {
    async fn run(&self, input: &RunInput) -> Result<Value, RunError> {
        let id = input.execution_id;
        *self.started.lock().unwrap().entry(id).or_default() += 1;
        {
            let mut active = self.active.lock().unwrap();
            let now = active.entry(id).or_default();
            *now += 1;
            self.most_at_once.fetch_max(*now as usize, Ordering::SeqCst);
        }
        let mut running = Running {
            runner: self,
            execution_id: id,
            returned: false,
        };
        match (self.act)(input.attempt) {
            Act::Succeed => {}
            Act::Sleep(duration) => tokio::time::sleep(duration).await,
            Act::Panic => panic!("runner bug on attempt {}", input.attempt),
            Act::Hang => std::future::pending::<()>().await,
        }
        running.returned = true;
        Ok(json!({"attempt": input.attempt}))
    }
}

async fn agent_of(app: &TestApp, tenant: &str) -> (TestAgent, Uuid) {
    let admin = app.admin(tenant).await;
    let agent = app.agent(&admin, json!({"name": tenant})).await;
    (agent, admin.tenant_id)
}

async fn accept(app: &TestApp, agent: &TestAgent, body: &[u8]) -> String {
    let response = app.post_signed(&agent.url, &agent.secret, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    body["execution_id"].as_str().unwrap().to_owned()
}

async fn app_running(
    runner: Arc<RecordingRunner>,
    tweak: Option<fn(&mut agent_webhooks::config::Settings)>,
) -> TestApp {
    spawn_app_with(TestOptions {
        runner: Some(runner),
        tweak,
        ..Default::default()
    })
    .await
}

fn master_keys(app: &TestApp) -> Vec<String> {
    app.state
        .settings
        .security
        .master_keys
        .iter()
        .map(|key| key.expose().to_owned())
        .collect()
}

/// Another process on the database of `app`, with its master keys, running `runner` in
/// `workers` claim loops.
async fn process_beside(
    app: &TestApp,
    runner: Arc<RecordingRunner>,
    workers: u32,
    tweak: Option<fn(&mut Settings)>,
) -> TestApp {
    spawn_app_with(TestOptions {
        database: Some(app.database.clone()),
        runner: Some(runner),
        workers,
        tweak,
        master_keys: master_keys(app),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_run_longer_than_its_lease_keeps_it_and_the_agent_runs_once() {
    // The test settings have a lease of 2 s; the heartbeat renews it every 2/3 s.
    let runner = RecordingRunner::new(|_| Act::Sleep(Duration::from_secs(6)));
    let app = app_running(runner.clone(), None).await;
    let (agent, _) = agent_of(&app, "acme").await;
    let id = accept(&app, &agent, b"{}").await;
    let done = app
        .execution_when(&id, "completion", |e| e["status"] == "completed")
        .await;
    assert_eq!(done["attempts"], 1);
    assert_eq!(runner.runs(), 1, "the agent ran once");
    assert_eq!(runner.aborted.load(Ordering::SeqCst), 0);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_stops_its_run_and_its_result_is_discarded() {
    let runner = RecordingRunner::new(|attempt| match attempt {
        1 => Act::Sleep(Duration::from_secs(6)),
        _ => Act::Succeed,
    });
    let app = app_running(runner.clone(), None).await;
    let (agent, _) = agent_of(&app, "acme").await;
    let id = accept(&app, &agent, b"{}").await;
    app.execution_when(&id, "the first run", |e| e["status"] == "running")
        .await;
    // Another claim took the task over (as after a network partition): a new lease token.
    sqlx::query(
        "update fang_tasks set lease_token = gen_random_uuid() where execution_id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.pool)
    .await
    .unwrap();
    eventually(
        Duration::from_secs(5),
        "the stale run to be aborted",
        || async { (runner.aborted.load(Ordering::SeqCst) == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        runner.returned.load(Ordering::SeqCst),
        0,
        "stopped before it returned"
    );
    // Nobody renews the stolen lease, so the reaper hands the task out again after 2 s.
    let done = app
        .execution_when(&id, "the second attempt", |e| e["status"] == "completed")
        .await;
    assert_eq!(done["attempts"], 2);
    assert_eq!(done["result"], json!({"attempt": 2}));
    assert_eq!(runner.runs(), 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_panicking_runner_fails_the_execution_after_the_last_attempt() {
    let runner = RecordingRunner::new(|_| Act::Panic);
    let app = app_running(runner.clone(), None).await;
    let (agent, _) = agent_of(&app, "acme").await;
    let id = accept(&app, &agent, b"{}").await;
    let failed = app
        .execution_when(&id, "failure", |e| e["status"] == "failed")
        .await;
    assert_eq!(failed["attempts"], MAX_ATTEMPTS);
    assert_eq!(
        failed["error"],
        format!("the run panicked: runner bug on attempt {MAX_ATTEMPTS}")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        runner.runs(),
        MAX_ATTEMPTS as usize,
        "no attempt after the last"
    );
    let tasks: i64 = sqlx::query_scalar("select count(*) from fang_tasks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(tasks, 0, "the task ended with the execution");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_hanging_run_times_out_as_a_failed_attempt_and_is_stopped() {
    let runner = RecordingRunner::new(|attempt| match attempt {
        1 => Act::Hang,
        _ => Act::Succeed,
    });
    let app = app_running(
        runner.clone(),
        Some(|settings| settings.workers.run_timeout_seconds = 1),
    )
    .await;
    let (agent, _) = agent_of(&app, "acme").await;
    let id = accept(&app, &agent, b"{}").await;
    let done = app
        .execution_when(&id, "completion", |e| e["status"] == "completed")
        .await;
    assert_eq!(done["attempts"], 2);
    assert_eq!(
        runner.aborted.load(Ordering::SeqCst),
        1,
        "the hanging run was stopped"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn two_worker_processes_racing_for_the_same_jobs_complete_each_execution_once() {
    let web = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(|settings| settings.webhooks.default_rate_limit_per_minute = 100_000),
        ..Default::default()
    })
    .await;
    let runner = RecordingRunner::new(|_| Act::Sleep(Duration::from_millis(2)));
    let workers = || {
        process_beside(
            &web,
            runner.clone(),
            2,
            Some(|settings| {
                settings.workers.concurrency = 8;
                settings.workers.batch_size = 4;
            }),
        )
    };
    let (first, second) = tokio::join!(workers(), workers());
    let (agent, _) = agent_of(&web, "acme").await;
    let sends = (0..200).map(|n| {
        let body = format!("{{\"n\":{n}}}");
        let (web, agent) = (&web, &agent);
        async move { accept(web, agent, body.as_bytes()).await }
    });
    let ids: Vec<String> = futures_util::future::join_all(sends).await;
    eventually(
        Duration::from_secs(30),
        "every execution to complete",
        || async {
            let completed: i64 = sqlx::query_scalar(
                "select count(*) from agent_executions where status = 'completed'",
            )
            .fetch_one(&web.pool)
            .await
            .unwrap();
            (completed == 200).then_some(())
        },
    )
    .await;
    let runs = runner.runs_of_each();
    assert_eq!(runs.len(), 200);
    assert!(runs.values().all(|&n| n == 1), "every execution ran once");
    let attempts: Vec<i32> =
        sqlx::query_scalar("select attempts from agent_executions where id = any($1::uuid[])")
            .bind(&ids)
            .fetch_all(&web.pool)
            .await
            .unwrap();
    assert!(attempts.iter().all(|&n| n == 1));
    for app in [first, second, web] {
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn one_tenants_backlog_does_not_hold_up_another_tenants_webhook() {
    const BACKLOG: usize = 2000;
    let web = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let (flooder, flooder_tenant) = agent_of(&web, "flooder").await;
    let (quiet, _) = agent_of(&web, "quiet").await;
    // Tenant A's backlog, written as the front door writes it, then B's single webhook.
    let ids: Vec<Uuid> = (0..BACKLOG).map(|_| Uuid::new_v4()).collect();
    sqlx::query(
        "insert into agent_executions (id, tenant_id, agent_id, payload, raw_body)
         select id, $2, $3::uuid, '{}', '{}' from unnest($1::uuid[]) as e(id)",
    )
    .bind(&ids)
    .bind(flooder_tenant)
    .bind(&flooder.id)
    .execute(&web.pool)
    .await
    .unwrap();
    let tasks: Vec<Value> = ids
        .iter()
        .map(|id| ExecuteAgent::metadata(*id, flooder_tenant))
        .collect();
    db::tasks::insert_many(&web.pool, &tasks, TASK_TYPE)
        .await
        .unwrap();
    let quiet_id = accept(&web, &quiet, b"{}").await;

    let runner = RecordingRunner::new(|_| Act::Sleep(Duration::from_millis(5)));
    let worker = process_beside(
        &web,
        runner.clone(),
        1,
        Some(|settings| {
            settings.workers.concurrency = 4;
            settings.workers.batch_size = 4;
        }),
    )
    .await;
    web.execution_when(&quiet_id, "the quiet tenant's execution", |e| {
        e["status"] == "completed"
    })
    .await;
    let flooder_done: i64 = sqlx::query_scalar(
        "select count(*) from agent_executions where tenant_id = $1 and status = 'completed'",
    )
    .bind(flooder_tenant)
    .fetch_one(&web.pool)
    .await
    .unwrap();
    assert!(
        flooder_done < (BACKLOG / 10) as i64,
        "the quiet tenant waited for {flooder_done} of the flooder's executions (FIFO would be {BACKLOG})"
    );
    worker.stop().await.unwrap();
    web.stop().await.unwrap();
}

#[tokio::test]
async fn an_enqueue_wakes_an_idle_worker_in_another_process_without_waiting_for_the_poll() {
    let web = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let runner = RecordingRunner::new(|_| Act::Succeed);
    // Polling alone would take a minute.
    let worker = process_beside(
        &web,
        runner.clone(),
        1,
        Some(|settings| settings.workers.poll_interval_ms = 60_000),
    )
    .await;
    let (agent, _) = agent_of(&web, "acme").await;
    // The worker's LISTEN connection comes up in the background: wait for it.
    eventually(Duration::from_secs(10), "the worker to LISTEN", || async {
        let listening: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_stat_activity
                            where datname = current_database() and query ilike 'listen%agent_webhooks_jobs%')",
        )
        .fetch_one(&web.pool)
        .await
        .unwrap();
        listening.then_some(())
    })
    .await;
    for _ in 0..3 {
        let id = accept(&web, &agent, b"{}").await;
        let done = web
            .execution_when(&id, "completion", |e| e["status"] == "completed")
            .await;
        let latency: f64 = sqlx::query_scalar(
            "select extract(epoch from completed_at - created_at)::float8 from agent_executions where id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&web.pool)
        .await
        .unwrap();
        assert!(latency < 5.0, "woken, not polled: {latency} s ({done})");
    }
    worker.stop().await.unwrap();
    web.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_a_run_before_handing_its_execution_to_the_next_process() {
    let runner = RecordingRunner::new(|attempt| match attempt {
        1 => Act::Sleep(Duration::from_secs(60)),
        _ => Act::Succeed,
    });
    let first = app_running(
        runner.clone(),
        Some(|settings| settings.server.shutdown_grace_seconds = 1),
    )
    .await;
    let (agent, _) = agent_of(&first, "acme").await;
    let id = accept(&first, &agent, b"{}").await;
    first
        .execution_when(&id, "the slow run", |e| e["status"] == "running")
        .await;
    let (database, keys) = (first.database.clone(), master_keys(&first));
    first.stop().await.unwrap();
    assert_eq!(runner.active(), 0, "the run was stopped by the shutdown");
    assert_eq!(runner.aborted.load(Ordering::SeqCst), 1);

    let next = spawn_app_with(TestOptions {
        database: Some(database),
        runner: Some(runner.clone()),
        master_keys: keys,
        ..Default::default()
    })
    .await;
    let done = next
        .execution_when(&id, "completion by the next process", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(done["result"], json!({"attempt": 2}));
    assert_eq!(
        runner.most_at_once.load(Ordering::SeqCst),
        1,
        "never two runs at once"
    );
    next.stop().await.unwrap();
}

#[tokio::test]
async fn a_stale_and_a_current_outcome_of_one_task_in_one_batch_record_only_the_current() {
    let web = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let (agent, _) = agent_of(&web, "acme").await;
    let id: Uuid = accept(&web, &agent, b"{}").await.parse().unwrap();
    let claim = |token| db::tasks::claim(&web.pool, TASK_TYPE, token, Uuid::nil(), 10);
    let stale = Uuid::new_v4();
    let claimed = claim(stale).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let task_id = claimed[0].id;
    let stale = db::tasks::Lease {
        task_id,
        token: stale,
    };
    // The lease expired and the task was handed out again: a second claim, a second lease.
    assert_eq!(db::tasks::release(&web.pool, &[stale]).await.unwrap(), 1);
    let current = Uuid::new_v4();
    assert_eq!(claim(current).await.unwrap().len(), 1);
    let current = db::tasks::Lease {
        task_id,
        token: current,
    };

    let recorded = db::tasks::finish(
        &web.pool,
        &[
            (
                stale,
                db::tasks::Outcome::Completed(json!({"from": "stale"})),
            ),
            (
                current,
                db::tasks::Outcome::Completed(json!({"from": "current"})),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        recorded,
        [current],
        "only the current lease's outcome counts"
    );
    let done = web
        .execution_when(&id.to_string(), "completion", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(done["result"], json!({"from": "current"}));
    assert_eq!(done["attempts"], 2);
    web.stop().await.unwrap();
}

/// Two tasks of one execution claimed by one statement: the execution starts once, and
/// only one of the tasks runs it (the other has nothing to run and is removed).
#[tokio::test]
async fn two_tasks_of_one_execution_claimed_together_run_it_once() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..TestOptions::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let response = app.post_signed(&agent.url, &agent.secret, b"{}").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let execution_id: Uuid = response.json::<Value>().await.unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    db::tasks::insert_many(
        &app.pool,
        &[ExecuteAgent::metadata(execution_id, admin.tenant_id)],
        TASK_TYPE,
    )
    .await
    .unwrap();
    let claimed = db::tasks::claim(&app.pool, TASK_TYPE, Uuid::new_v4(), Uuid::nil(), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "both tasks are claimed");
    assert!(claimed
        .iter()
        .all(|task| task.execution_id == Some(execution_id)));
    let runs = claimed
        .iter()
        .filter(|task| task.execution.is_some())
        .count();
    assert_eq!(runs, 1, "one of the two tasks runs the execution");
}
