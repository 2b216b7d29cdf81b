//! Concurrent webhooks are recorded in shared commits: every request still gets its own
//! answer, only after its execution is durable, and one bad row fails only its request.

use std::collections::{HashMap, HashSet};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, TestOptions};

async fn post(
    app: &TestApp,
    url: &str,
    secret: &str,
    body: Vec<u8>,
    delivery: Option<String>,
) -> (StatusCode, Value) {
    let mut request = app.delivery(url, &body).hub(secret);
    if let Some(delivery) = delivery {
        request = request.delivery_id(&delivery);
    }
    let response = request.send().await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn concurrent_deliveries_each_get_their_own_durable_execution() {
    let app = spawn_app_with(TestOptions {
        workers: 2,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;

    // 120 distinct payloads and, among them, one that is valid JSON but cannot be stored
    // (Postgres' jsonb has no \u0000): it must fail alone.
    let mut bodies: Vec<Vec<u8>> = (0..120)
        .map(|n| format!(r#"{{"n":{n}}}"#).into_bytes())
        .collect();
    bodies.insert(60, br#"{"text":"a\u0000b"}"#.to_vec());
    let answers = join_all(
        bodies
            .iter()
            .map(|body| post(&app, &agent.url, &agent.secret, body.clone(), None)),
    )
    .await;

    let (refused, accepted): (Vec<_>, Vec<_>) = answers
        .into_iter()
        .enumerate()
        .partition(|(index, _)| *index == 60);
    assert_eq!(
        refused[0].1,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Invalid JSON payload"})
        )
    );
    let mut ids = HashSet::new();
    for (index, (status, body)) in &accepted {
        assert_eq!(*status, StatusCode::ACCEPTED, "request {index}: {body}");
        ids.insert(body["execution_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 120, "one execution per request");
    assert_eq!(app.execution_count().await, 120);

    // Each answer names the execution of its own body, and every execution runs.
    for (index, (_, body)) in accepted.iter().step_by(17) {
        let execution = app
            .execution_when(body["execution_id"].as_str().unwrap(), "completion", |e| {
                e["status"] == "completed"
            })
            .await;
        assert_eq!(
            serde_json::to_vec(&execution["payload"]).unwrap(),
            bodies[*index]
        );
    }
}

#[tokio::test]
async fn concurrent_copies_of_many_deliveries_create_one_execution_each() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;

    // 20 delivery ids, 5 copies of each, interleaved so that copies share commits.
    let requests: Vec<String> = (0..5)
        .flat_map(|_| (0..20).map(|n| format!("delivery-{n}")))
        .collect();
    let answers = join_all(requests.iter().map(|delivery| {
        post(
            &app,
            &agent.url,
            &agent.secret,
            b"{}".to_vec(),
            Some(delivery.clone()),
        )
    }))
    .await;

    let mut by_delivery: HashMap<&str, HashSet<String>> = HashMap::new();
    for (delivery, (status, body)) in requests.iter().zip(&answers) {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body}");
        by_delivery
            .entry(delivery)
            .or_default()
            .insert(body["execution_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(by_delivery.len(), 20);
    assert!(
        by_delivery.values().all(|ids| ids.len() == 1),
        "every copy of a delivery answers with the same execution: {by_delivery:?}"
    );
    assert_eq!(app.execution_count().await, 20);
}
