//! Day-to-day operations: the request log, execution detail and replay, retention, agent
//! deletion, API tokens and the dashboard.

use std::{sync::Arc, time::Duration};

use agent_webhooks::{
    config::RetentionSettings,
    jobs::runner::{AgentRunner, RunError, RunInput},
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    helpers::{
        eventually, hub_signature, spawn_app, spawn_app_with, Admin, TestAgent, TestApp,
        TestOptions,
    },
    target_cache::{two_servers, warm},
};

/// The agent's request log once it holds `count` entries (it is written asynchronously).
async fn requests(app: &TestApp, admin: &Admin, agent: &TestAgent, count: usize) -> Vec<Value> {
    eventually(Duration::from_secs(10), "the request log", || async {
        let page = app
            .get_json(
                admin,
                &format!("/api/agents/{}/requests?limit=200", agent.id),
            )
            .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        (items.len() >= count).then_some(items)
    })
    .await
}

fn by_reason<'a>(items: &'a [Value], reason: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item["reason"] == reason)
        .unwrap_or_else(|| panic!("no request with reason {reason}: {items:#?}"))
}

#[tokio::test]
async fn every_request_to_an_agent_is_logged_with_its_outcome_and_redacted_headers() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(
            &admin,
            json!({"name": "logged", "rate_limit_per_minute": 7,
                   "payload_schema": {"type": "object", "required": ["n"]}}),
        )
        .await;
    let body = br#"{"n": 1}"#;

    let accepted = app
        .delivery(&agent.url, body)
        .hub(&agent.secret)
        .delivery_id("d-1")
        .header("authorization", "Bearer do-not-log")
        .header("cookie", "session=do-not-log")
        .header("user-agent", "GitHub-Hookshot/abc")
        .send()
        .await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let execution_id = accepted.json::<Value>().await.unwrap()["execution_id"].clone();
    let duplicate = app
        .delivery(&agent.url, body)
        .hub(&agent.secret)
        .delivery_id("d-1")
        .send()
        .await;
    assert_eq!(duplicate.status(), StatusCode::ACCEPTED);
    let conflict = app
        .delivery(&agent.url, br#"{"n": 2}"#)
        .hub(&agent.secret)
        .delivery_id("d-1")
        .send()
        .await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    let refusals = [
        (
            app.delivery(&agent.url, body)
                .signature("sha256=00")
                .send()
                .await,
            "invalid_signature",
        ),
        (
            app.delivery(&agent.url, b"{\"n\":")
                .hub(&agent.secret)
                .send()
                .await,
            "invalid_json",
        ),
        (
            app.delivery(&agent.url, b"{}")
                .hub(&agent.secret)
                .send()
                .await,
            "schema",
        ),
        (
            app.delivery(&agent.url, body)
                .hub(&agent.secret)
                .content_type("text/plain")
                .send()
                .await,
            "unsupported_media_type",
        ),
        (
            app.delivery(&agent.url, &vec![b' '; 2_000_000])
                .send()
                .await,
            "too_large",
        ),
    ];
    for (response, reason) in &refusals {
        assert!(
            response.status().is_client_error(),
            "{reason}: {}",
            response.status()
        );
    }
    // A stranger's agent id is only counted in metrics.
    let unknown = format!("{}/agents/{}/webhook", app.address, Uuid::new_v4());
    assert_eq!(
        app.post_signed(&unknown, "x", b"{}").await.status(),
        StatusCode::NOT_FOUND
    );

    let items = requests(&app, &admin, &agent, 8).await;
    assert_eq!(items.len(), 8, "{items:#?}");
    // Newest first, by id.
    let ids: Vec<&str> = items
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    let first = items.last().unwrap();
    assert_eq!(first["outcome"], "accepted");
    assert_eq!(first["status"], 202);
    assert_eq!(first["reason"], Value::Null);
    assert_eq!(first["execution_id"], execution_id);
    assert_eq!(first["delivery_id"], "d-1");
    assert_eq!(first["source_ip"], "127.0.0.1");
    assert_eq!(first["body_bytes"], body.len());
    assert_eq!(first["body_sha256"], hex::encode(Sha256::digest(body)));
    let headers = &first["headers"];
    assert_eq!(headers["x-hub-signature-256"], "[redacted]");
    assert_eq!(headers["authorization"], "[redacted]");
    assert_eq!(headers["cookie"], "[redacted]");
    assert_eq!(headers["user-agent"], "GitHub-Hookshot/abc");
    assert_eq!(headers["x-github-delivery"], "d-1");
    let text = serde_json::to_string(&items).unwrap();
    assert!(!text.contains("do-not-log"));
    assert!(!text.contains(&hub_signature(&agent.secret, body)));

    let second = &items[items.len() - 2];
    assert_eq!(second["outcome"], "duplicate");
    assert_eq!(second["execution_id"], execution_id);
    let conflict = by_reason(&items, "delivery_id_conflict");
    assert_eq!(
        (conflict["status"].as_u64(), conflict["outcome"].as_str()),
        (Some(409), Some("rejected"))
    );
    assert_eq!(by_reason(&items, "invalid_signature")["status"], 401);
    assert_eq!(by_reason(&items, "invalid_json")["status"], 400);
    assert_eq!(by_reason(&items, "schema")["status"], 400);
    assert_eq!(by_reason(&items, "unsupported_media_type")["status"], 415);
    let too_large = by_reason(&items, "too_large");
    assert_eq!(too_large["status"], 413);
    assert_eq!(too_large["body_sha256"], Value::Null);
    assert_eq!(too_large["body_bytes"], 2_000_000);

    // Filters and pages.
    let rejected = app
        .get_json(
            &admin,
            &format!("/api/agents/{}/requests?outcome=rejected", agent.id),
        )
        .await;
    assert_eq!(rejected["items"].as_array().unwrap().len(), 6);
    let page = app
        .get_json(
            &admin,
            &format!("/api/agents/{}/requests?limit=3", agent.id),
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let next = page["next_before"].as_str().unwrap();
    let rest = app
        .get_json(
            &admin,
            &format!("/api/agents/{}/requests?limit=200&before={next}", agent.id),
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 5);
    assert_eq!(rest["next_before"], Value::Null);
    let bad = admin
        .client
        .get(app.url(&format!("/api/agents/{}/requests?outcome=maybe", agent.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Another tenant sees nothing of it.
    let stranger = app.admin("globex").await;
    let response = stranger
        .client
        .get(app.url(&format!("/api/agents/{}/requests", agent.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let written = app
        .state
        .metrics
        .request_log
        .with_label_values(&["written"])
        .get();
    assert_eq!(written, 8);
}

#[tokio::test]
async fn refusals_for_status_and_rate_are_logged() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(
            &admin,
            json!({"name": "limited", "rate_limit_per_minute": 1}),
        )
        .await;
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let response = admin
        .client
        .patch(app.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({"status": "suspended"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let items = requests(&app, &admin, &agent, 3).await;
    assert_eq!(by_reason(&items, "rate_limited")["status"], 429);
    assert_eq!(by_reason(&items, "agent_not_active")["status"], 403);
}

/// Fails the first `failures` runs.
struct Flaky {
    failures: usize,
    runs: std::sync::atomic::AtomicUsize,
}

#[fang::async_trait]
impl AgentRunner for Flaky {
    async fn run(&self, input: &RunInput) -> Result<Value, RunError> {
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if run <= self.failures {
            return Err(RunError {
                message: format!("boom {}", input.attempt),
                retry: agent_webhooks::jobs::runner::Retry::After(Duration::from_millis(10)),
            });
        }
        Ok(json!({"echo": input.payload}))
    }
}

#[tokio::test]
async fn an_execution_shows_its_attempts_and_request_and_replays_with_the_same_payload() {
    let app = spawn_app_with(TestOptions {
        runner: Some(Arc::new(Flaky {
            failures: 2,
            runs: Default::default(),
        })),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "flaky"})).await;
    let body = br#"{"ticket": 42}"#;
    let response = app
        .delivery(&agent.url, body)
        .hub(&agent.secret)
        .delivery_id("gh-7")
        .send()
        .await;
    let id = response.json::<Value>().await.unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.execution_when(&id, "completion", |e| e["status"] == "completed")
        .await;

    let detail = eventually(Duration::from_secs(10), "the logged request", || async {
        let detail = app
            .get_json(&admin, &format!("/api/executions/{id}/detail"))
            .await;
        (!detail["request"].is_null()).then_some(detail)
    })
    .await;
    let execution = &detail["execution"];
    assert_eq!(detail["agent_name"], "flaky");
    assert_eq!(execution["attempts"], 3);
    let failed = execution["failed_attempts"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert_eq!(failed[0]["attempt"], 1);
    assert_eq!(failed[0]["error"], "boom 1");
    assert_eq!(failed[1]["error"], "boom 2");
    assert!(failed[0]["failed_at"].is_string() && failed[0]["started_at"].is_string());
    assert_eq!(detail["request"]["headers"]["x-github-delivery"], "gh-7");
    assert_eq!(
        detail["request"]["headers"]["x-hub-signature-256"],
        "[redacted]"
    );

    // Replay: a new execution with the same payload, pointing back.
    let response = admin
        .client
        .post(app.url(&format!("/api/executions/{id}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let replayed: Value = response.json().await.unwrap();
    assert_eq!(replayed["replay_of"], id.as_str());
    let new_id = replayed["execution_id"].as_str().unwrap();
    assert_ne!(new_id, id);
    let done = app
        .execution_when(new_id, "the replay's completion", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(done["payload"], json!({"ticket": 42}));
    assert_eq!(done["result"], json!({"echo": {"ticket": 42}}));
    let new = app
        .get_json(&admin, &format!("/api/executions/{new_id}"))
        .await;
    assert_eq!(new["replay_of"], id.as_str());
    assert_eq!(new["delivery_id"], "gh-7");
    // The replay's page shows the original request.
    let new_detail = app
        .get_json(&admin, &format!("/api/executions/{new_id}/detail"))
        .await;
    assert_eq!(new_detail["request"]["execution_id"], id.as_str());
    // Lookup by delivery id finds both.
    let found = app
        .get_json(
            &admin,
            &format!("/api/agents/{}/executions?delivery_id=gh-7", agent.id),
        )
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 2);
    let none = app
        .get_json(
            &admin,
            &format!("/api/agents/{}/executions?delivery_id=other", agent.id),
        )
        .await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    let audit = app
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["action"] == "execution.replayed")
        .expect("an execution.replayed entry");
    assert_eq!(entry["details"]["replay_of"], id.as_str());
    assert_eq!(entry["details"]["execution_id"], new_id);

    // Another tenant cannot replay it.
    let stranger = app.admin("globex").await;
    let response = stranger
        .client
        .post(app.url(&format!("/api/executions/{id}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn replays_of(pool: &sqlx::PgPool) -> Vec<Uuid> {
    sqlx::query_scalar("select id from agent_executions where replay_of is not null order by id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_executions_since_an_instant_are_replayed_in_bulk() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "bulk"})).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let response = app
            .post_signed(
                &agent.url,
                &agent.secret,
                format!(r#"{{"n":{n}}}"#).as_bytes(),
            )
            .await;
        ids.push(
            response.json::<Value>().await.unwrap()["execution_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    // Three failed, one of them two hours ago; one completed.
    sqlx::query(
        "update agent_executions set status = 'failed', error = 'x', completed_at = now()
         where id = any($1)",
    )
    .bind(&ids[..3])
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update agent_executions set created_at = now() - interval '2 hours' where id = $1",
    )
    .bind(ids[0])
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update agent_executions set status = 'completed', completed_at = now() where id = $1",
    )
    .bind(ids[3])
    .execute(&app.pool)
    .await
    .unwrap();
    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let response = admin
        .client
        .post(app.url(&format!("/api/agents/{}/executions/replay", agent.id)))
        .json(&json!({"status": "failed", "since": since}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"replayed": 2})
    );
    let replays: Vec<(Uuid, Value)> = sqlx::query_as(
        "select replay_of, payload from agent_executions where replay_of is not null order by payload->>'n'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        replays,
        vec![(ids[1], json!({"n": 1})), (ids[2], json!({"n": 2}))]
    );
    let tasks: i64 = sqlx::query_scalar(
        "select count(*) from fang_tasks t join agent_executions e on e.id = t.execution_id
         where e.replay_of is not null and t.lane_id = e.tenant_id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(tasks, 2, "each replay has its task, in its tenant's lane");

    // A queued execution is not replayed; a second bulk replay takes the replays that failed
    // again, never the originals a second time.
    let queued_replay = replays_of(&app.pool).await[0];
    let refused = admin
        .client
        .post(app.url(&format!("/api/executions/{queued_replay}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    sqlx::query("update agent_executions set status = 'failed' where replay_of is not null")
        .execute(&app.pool)
        .await
        .unwrap();
    let again = admin
        .client
        .post(app.url(&format!("/api/agents/{}/executions/replay", agent.id)))
        .json(&json!({"status": "failed", "since": since}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap(), json!({"replayed": 2}));
    let second_generation: i64 = sqlx::query_scalar(
        "select count(*) from agent_executions r join agent_executions o on o.id = r.replay_of
         where o.replay_of is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(second_generation, 2);

    let invalid = admin
        .client
        .post(app.url(&format!("/api/agents/{}/executions/replay", agent.id)))
        .json(&json!({"status": "queued", "since": since}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), StatusCode::BAD_REQUEST);
    let response = admin
        .client
        .patch(app.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({"status": "inactive"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let refused = admin
        .client
        .post(app.url(&format!("/api/executions/{}/replay", ids[1])))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_pruning_pass_deletes_only_what_is_past_its_retention() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "old"})).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let response = app
            .delivery(&agent.url, format!(r#"{{"n":{n}}}"#).as_bytes())
            .hub(&agent.secret)
            .delivery_id(&format!("d-{n}"))
            .send()
            .await;
        ids.push(
            response.json::<Value>().await.unwrap()["execution_id"]
                .as_str()
                .unwrap()
                .parse::<Uuid>()
                .unwrap(),
        );
    }
    requests(&app, &admin, &agent, 3).await;
    // Backdate: executions 0 (finished) and 1 (still queued) are 31 days old, 2 is new;
    // two requests are 8 days old; one delivery id 25 hours; the audit entries 400 days.
    sqlx::query(
        "update agent_executions set created_at = now() - interval '31 days',
             status = case when id = $1 then 'completed' else status end
         where id = any($2)",
    )
    .bind(ids[0])
    .bind(&ids[..2])
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update webhook_requests set received_at = now() - interval '8 days'
         where delivery_id in ('d-0', 'd-1')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "update webhook_deliveries set received_at = now() - interval '25 hours' where delivery_id = 'd-0'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let audit_rows: i64 = sqlx::query_scalar("select count(*) from audit_log")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("update audit_log set at = now() - interval '400 days'")
        .execute(&app.pool)
        .await
        .unwrap();

    let pruned = app.state.metrics.rows_pruned.clone();
    let total =
        agent_webhooks::jobs::retention::prune(&app.pool, &RetentionSettings::default(), &pruned)
            .await
            .unwrap();
    let count = |table: &str| pruned.with_label_values(&[table]).get();
    assert_eq!(count("agent_executions"), 1);
    assert_eq!(count("webhook_requests"), 2);
    assert_eq!(count("webhook_deliveries"), 1);
    assert_eq!(count("audit_log"), audit_rows as u64);
    assert_eq!(total, 4 + audit_rows as u64);

    let left: Vec<Uuid> =
        sqlx::query_scalar("select id from agent_executions order by payload->>'n'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        left,
        ids[1..].to_vec(),
        "the queued execution stays, however old"
    );
    let deliveries: Vec<String> =
        sqlx::query_scalar("select delivery_id from webhook_deliveries order by delivery_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(deliveries, ["d-1", "d-2"]);
    // The delivery id past the window is new again: the same id makes a new execution.
    let again = app
        .delivery(&agent.url, br#"{"n":0}"#)
        .hub(&agent.secret)
        .delivery_id("d-0")
        .send()
        .await;
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["execution_id"], ids[0].to_string());

    // A second pass finds nothing more; the metric is exported.
    let total =
        agent_webhooks::jobs::retention::prune(&app.pool, &RetentionSettings::default(), &pruned)
            .await
            .unwrap();
    assert_eq!(total, 0);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("rows_pruned_total{table=\"webhook_requests\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_idempotency_window_follows_the_deliveries_retention() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(|settings| settings.retention.deliveries_hours = 1),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "window"})).await;
    let send = || {
        app.delivery(&agent.url, b"{}")
            .hub(&agent.secret)
            .delivery_id("w-1")
            .send()
    };
    let first: Value = send().await.json().await.unwrap();
    let second: Value = send().await.json().await.unwrap();
    assert_eq!(first["execution_id"], second["execution_id"]);
    sqlx::query("update webhook_deliveries set received_at = now() - interval '61 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let third: Value = send().await.json().await.unwrap();
    assert_ne!(first["execution_id"], third["execution_id"]);
}

#[tokio::test]
async fn a_deleted_agent_leaves_the_lists_and_its_url_answers_404_on_every_server() {
    let (first, second) = two_servers().await;
    let admin = first.admin("acme").await;
    let agent = first.agent(&admin, json!({"name": "doomed"})).await;
    let response = first.post_signed(&agent.url, &agent.secret, b"{}").await;
    let execution_id = response.json::<Value>().await.unwrap()["execution_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_second = agent.url.replace(&first.address, &second.address);
    warm(&second, &on_second).await;

    let response = admin
        .client
        .delete(first.url(&format!("/api/agents/{}", agent.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // This server drops it before answering; the other hears the NOTIFY within moments.
    assert_eq!(
        first
            .post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    eventually(
        Duration::from_secs(5),
        "a 404 on the other server",
        || async {
            let status = second
                .post_signed(&on_second, &agent.secret, b"{}")
                .await
                .status();
            (status == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;

    let list = first.get_json(&admin, "/api/agents").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    let archived = first
        .get_json(&admin, &format!("/api/agents/{}", agent.id))
        .await;
    assert_eq!(archived["status"], "archived");
    let execution = first
        .get_json(&admin, &format!("/api/executions/{execution_id}"))
        .await;
    assert_eq!(execution["id"], execution_id.as_str());
    let history = first
        .get_json(&admin, &format!("/api/agents/{}/executions", agent.id))
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    let audit = first
        .get_json(&admin, &format!("/api/agents/{}/audit", agent.id))
        .await;
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|entry| entry["action"] == "agent.deleted" && entry["details"]["name"] == "doomed"));

    let again = admin
        .client
        .delete(first.url(&format!("/api/agents/{}", agent.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let patch = admin
        .client
        .patch(first.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({"status": "active"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        patch.status(),
        StatusCode::NOT_FOUND,
        "an archived agent is read-only"
    );
    let regenerate = admin
        .client
        .post(first.url(&format!(
            "/api/agents/{}/regenerate-webhook-secret",
            agent.id
        )))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(regenerate.status(), StatusCode::NOT_FOUND);
    let other = first.agent(&admin, json!({"name": "other"})).await;
    let archive_by_patch = admin
        .client
        .patch(first.url(&format!("/api/agents/{}", other.id)))
        .json(&json!({"status": "archived"}))
        .send()
        .await
        .unwrap();
    assert_eq!(archive_by_patch.status(), StatusCode::BAD_REQUEST);
    let stranger = first.admin("globex").await;
    let response = stranger
        .client
        .delete(first.url(&format!("/api/agents/{}", other.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_tokens_are_created_shown_once_listed_and_revoked_at_once() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let response = admin
        .client
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "ci", "expires_at": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("awt_"));
    let with_token = |path: &str| app.client.get(app.url(path)).bearer_auth(&token).send();
    assert_eq!(
        with_token("/api/agents").await.unwrap().status(),
        StatusCode::OK
    );
    // A token cannot mint a token (which would outlive it) nor revoke one.
    let minted = app
        .client
        .post(app.url("/api/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "forever"}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::FORBIDDEN);
    let revoked_by_token = app
        .client
        .delete(app.url(&format!("/api/tokens/{}", created["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked_by_token.status(), StatusCode::FORBIDDEN);

    let list = app.get_json(&admin, "/api/tokens").await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == created["id"])
        .expect("listed");
    assert_eq!(listed["name"], "ci");
    assert!(listed["last_used_at"].is_string());
    assert_eq!(listed["expires_at"], Value::Null);
    assert!(listed.get("token").is_none());
    assert!(!list.to_string().contains(&token));

    let response = admin
        .client
        .delete(app.url(&format!("/api/tokens/{}", created["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        with_token("/api/agents").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let list = app.get_json(&admin, "/api/tokens").await;
    assert!(!list.to_string().contains(created["id"].as_str().unwrap()));
    let again = admin
        .client
        .delete(app.url(&format!("/api/tokens/{}", created["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let audit = app.get_json(&admin, "/api/audit").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"token.created") && actions.contains(&"token.revoked"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains(&token));

    // Expiry: in the past is refused; once passed, the token stops working.
    let past = admin
        .client
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "old", "expires_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::BAD_REQUEST);
    let soon: Value = admin
        .client
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "soon", "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(soon["expires_at"].is_string());
    let soon_token = soon["token"].as_str().unwrap();
    let status = |token: String| {
        let request = app
            .client
            .get(app.url("/api/agents"))
            .bearer_auth(token)
            .send();
        async move { request.await.unwrap().status() }
    };
    assert_eq!(status(soon_token.to_owned()).await, StatusCode::OK);
    sqlx::query(
        "update api_tokens set expires_at = now() - interval '1 second' where name = 'soon'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        status(soon_token.to_owned()).await,
        StatusCode::UNAUTHORIZED
    );
    let blank = admin
        .client
        .post(app.url("/api/tokens"))
        .json(&json!({"name": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(blank.status(), StatusCode::BAD_REQUEST);
    // Another tenant cannot revoke the tenant's tokens.
    let stranger = app.admin("globex").await;
    let response = stranger
        .client
        .delete(app.url(&format!("/api/tokens/{}", soon["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dashboard_counts_the_tenants_last_day_from_the_database() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let calm = app.agent(&admin, json!({"name": "calm"})).await;
    let broken = app.agent(&admin, json!({"name": "broken"})).await;
    for _ in 0..3 {
        app.post_signed(&calm.url, &calm.secret, b"{}").await;
    }
    app.post_signed(&broken.url, &broken.secret, b"{}").await;
    app.post_signed(&broken.url, &broken.secret, b"{}").await;
    app.post_signed(&broken.url, "wrong", b"{}").await;
    app.post_signed(&broken.url, &broken.secret, b"[").await;
    app.post_signed(&broken.url, "wrong", b"{}").await;
    sqlx::query(
        "update agent_executions set status = 'failed', completed_at = now() where agent_id = $1",
    )
    .bind(broken.id.parse::<Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    // Another tenant's traffic does not count.
    let stranger = app.admin("globex").await;
    let theirs = app.agent(&stranger, json!({"name": "theirs"})).await;
    app.post_signed(&theirs.url, &theirs.secret, b"{}").await;

    let dashboard = eventually(Duration::from_secs(10), "the logged requests", || async {
        let dashboard = app.get_json(&admin, "/api/dashboard").await;
        (dashboard["accepted"] == 5 && dashboard["rejected"].as_array().unwrap().len() == 2)
            .then_some(dashboard)
    })
    .await;
    assert_eq!(
        dashboard["rejected"],
        json!([{"reason": "invalid_signature", "count": 2}, {"reason": "invalid_json", "count": 1}])
    );
    assert_eq!(dashboard["completed"], 0);
    assert_eq!(dashboard["failed"], 2);
    assert_eq!(dashboard["queue_depth"], 3);
    assert!(dashboard["oldest_queued_seconds"].as_i64().unwrap() >= 0);
    assert_eq!(
        dashboard["failing_agents"],
        json!([{"id": broken.id, "name": "broken", "failures": 2}])
    );
    let response = app
        .client
        .get(app.url("/api/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_flood_of_refusals_to_one_agent_is_logged_up_to_its_share() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        tweak: Some(|settings| settings.webhooks.request_log_refusals_per_second = 5),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let flooded = app.agent(&admin, json!({"name": "flooded"})).await;
    let quiet = app.agent(&admin, json!({"name": "quiet"})).await;
    for _ in 0..40 {
        let status = app.post_signed(&flooded.url, "wrong", b"{}").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Accepted requests and other agents' refusals are still recorded.
    assert_eq!(
        app.post_signed(&flooded.url, &flooded.secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    app.post_signed(&quiet.url, "wrong", b"{}").await;
    requests(&app, &admin, &quiet, 1).await;
    let logged = requests(&app, &admin, &flooded, 6).await;
    let refused = logged.iter().filter(|r| r["outcome"] == "rejected").count();
    assert!((5..40).contains(&refused), "{refused} refusals logged");
    assert!(logged.iter().any(|r| r["outcome"] == "accepted"));
    let dropped = app
        .state
        .metrics
        .request_log
        .with_label_values(&["dropped"])
        .get();
    assert_eq!(dropped, 40 - refused as u64);
}
