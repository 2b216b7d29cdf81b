//! Accepted deliveries: queued, then run by the built-in runner in the server or by a
//! separate worker process.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{spawn_app, spawn_app_with, TestOptions};

#[tokio::test]
async fn an_accepted_webhook_is_queued_then_completed_by_the_builtin_runner() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "Triage"})).await;
    let body = br#"{"ticket_id": 42, "title": "VPN down",   "tags": ["net"]}"#;

    let response = app.post_signed(&agent.url, &agent.secret, body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "queued");
    assert_eq!(accepted["message"], "Agent execution queued");
    let execution_id = accepted["execution_id"].as_str().unwrap();
    assert!(execution_id.parse::<uuid::Uuid>().is_ok());

    let done = app
        .execution_when(execution_id, "completion", |e| e["status"] == "completed")
        .await;
    let result = &done["result"];
    assert_eq!(result["runner"], "builtin");
    assert_eq!(result["agent_name"], "Triage");
    assert_eq!(result["payload_bytes"], body.len());
    assert_eq!(
        result["payload_sha256"],
        hex::encode(Sha256::digest(body)),
        "the exact bytes arrived"
    );
    let mut keys: Vec<String> = serde_json::from_value(result["top_level_keys"].clone()).unwrap();
    keys.sort();
    assert_eq!(keys, ["tags", "ticket_id", "title"]);
    assert_eq!(done["attempts"], 1);
    assert_eq!(
        done["payload"],
        json!({"ticket_id": 42, "title": "VPN down", "tags": ["net"]})
    );

    // The admin API shows the same execution.
    let shown: Value = admin
        .client
        .get(app.url(&format!("/api/executions/{execution_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["result"], *result);
    let page: Value = admin
        .client
        .get(app.url(&format!(
            "/api/agents/{}/executions?status=completed",
            agent.id
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], execution_id);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_separate_worker_process_runs_what_a_web_only_server_accepted() {
    let key = agent_webhooks::crypto::keyring::MasterKeyring::generate_key();
    let web = spawn_app_with(TestOptions {
        workers: 0,
        master_keys: vec![key.clone()],
        ..Default::default()
    })
    .await;
    let admin = web.admin("acme").await;
    let agent = web.agent(&admin, json!({"name": "a"})).await;
    let accepted: Value = web
        .post_signed(&agent.url, &agent.secret, b"{}")
        .await
        .json()
        .await
        .unwrap();
    let id = accepted["execution_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let queued = web
        .execution_when(&id, "the execution to wait", |e| e["status"] == "queued")
        .await;
    assert_eq!(
        queued["attempts"], 0,
        "nobody works on it in a web-only process"
    );

    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let worker = std::process::Command::new(env!("CARGO_BIN_EXE_agent-webhooks"))
        .args(["worker", "--workers", "1"])
        .env("DATABASE_URL", &web.database.url)
        .env("MASTER_KEYS", &key)
        .env("AGENT_WEBHOOKS_CONFIG", "/nonexistent/settings.toml")
        .env("WORKER_POLL_INTERVAL_MS", "50")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let worker = KillOnDrop(worker);
    let done = web
        .execution_when(&id, "the worker process to complete it", |e| {
            e["status"] == "completed"
        })
        .await;
    assert_eq!(done["result"]["runner"], "builtin");
    drop(worker);
    web.stop().await.unwrap();
}
