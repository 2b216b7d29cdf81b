//! Delivery ids: a repeated id returns the first execution (also under fifty concurrent
//! copies), ids are visible ASCII, and an id is bound to its body (a replayed signature
//! under the id cannot make the real delivery vanish). Also what a payload must be
//! storable as: valid JSON that PostgreSQL's jsonb refuses is the sender's 400.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::error_of;
use crate::helpers::{spawn_app, spawn_app_with, TestApp, TestOptions};

async fn post_with_delivery(
    app: &TestApp,
    url: &str,
    secret: &str,
    header: &str,
    id: &str,
) -> Value {
    let body = br#"{"event": "push"}"#;
    let response = app
        .delivery(url, body)
        .hub(secret)
        .header(header, id)
        .send()
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_repeated_delivery_id_returns_the_first_execution() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    for header in ["x-github-delivery", "idempotency-key"] {
        let first = post_with_delivery(
            &app,
            &agent.url,
            &agent.secret,
            header,
            &format!("{header}-1"),
        )
        .await;
        let second = post_with_delivery(
            &app,
            &agent.url,
            &agent.secret,
            header,
            &format!("{header}-1"),
        )
        .await;
        assert_eq!(first, second);
    }
    let count = app.execution_count().await;
    assert_eq!(count, 2);

    // After 24 hours the id may be used again.
    sqlx::query("update webhook_deliveries set received_at = now() - interval '25 hours'")
        .execute(&app.pool)
        .await
        .unwrap();
    post_with_delivery(
        &app,
        &agent.url,
        &agent.secret,
        "idempotency-key",
        "idempotency-key-1",
    )
    .await;
    let count = app.execution_count().await;
    assert_eq!(count, 3);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn fifty_concurrent_duplicates_create_one_execution() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let posts = (0..50).map(|_| {
        post_with_delivery(
            &app,
            &agent.url,
            &agent.secret,
            "x-github-delivery",
            "same-delivery",
        )
    });
    let answers = futures_util::future::join_all(posts).await;
    let first = &answers[0]["execution_id"];
    assert!(answers
        .iter()
        .all(|answer| answer["execution_id"] == *first));
    let count = app.execution_count().await;
    assert_eq!(count, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn delivery_ids_must_be_visible_ascii() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let response = app
        .delivery(&agent.url, b"{}")
        .hub(&agent.secret)
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .send()
        .await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Delivery id must be visible ASCII"})
        )
    );
    app.stop().await.unwrap();
}

async fn deliver(app: &TestApp, url: &str, secret: &str, id: &str, body: &[u8]) -> (u16, Value) {
    let response = app
        .delivery(url, body)
        .hub(secret)
        .delivery_id(id)
        .send()
        .await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_delivery_id_reused_with_another_body_is_refused() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let (status, first) = deliver(
        &app,
        &agent.url,
        &agent.secret,
        "ticket-43-v1",
        br#"{"t":43}"#,
    )
    .await;
    assert_eq!(status, 202);
    let (status, again) = deliver(
        &app,
        &agent.url,
        &agent.secret,
        "ticket-43-v1",
        br#"{"t":43}"#,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(again["execution_id"], first["execution_id"]);
    let (status, other) = deliver(
        &app,
        &agent.url,
        &agent.secret,
        "ticket-43-v1",
        br#"{"t":44}"#,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(
        other,
        json!({"error": "Delivery id reused with a different payload"})
    );
    assert_eq!(app.execution_count().await, 1);

    // Concurrent copies in one group commit: the same body shares the execution, another
    // body is refused.
    let bodies: Vec<&[u8]> = vec![br#"{"n":1}"#, br#"{"n":1}"#, br#"{"n":2}"#, br#"{"n":1}"#];
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .map(|body| deliver(&app, &agent.url, &agent.secret, "burst-1", body)),
    )
    .await;
    let ids: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 202)
        .map(|(_, body)| &body["execution_id"])
        .collect();
    let conflicts = answers.iter().filter(|(status, _)| *status == 409).count();
    // Whichever body claimed the id first wins; the others agree with it or are refused.
    assert_eq!(ids.len() + conflicts, 4);
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{answers:?}");
    assert!(conflicts == 1 || conflicts == 3, "{answers:?}");
    assert_eq!(app.execution_count().await, 2);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn valid_json_that_jsonb_cannot_store_is_400_and_records_nothing() {
    let app = spawn_app_with(TestOptions {
        workers: 0,
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let long_fraction = format!(r#"{{"n":0.{}}}"#, "1".repeat(16_384));
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"a":"x\u0000y"}"#.to_vec(),
        long_fraction.into_bytes(),
        br#"{"n":1e131072}"#.to_vec(),
        br#"[1.5e-16383]"#.to_vec(),
    ];
    // Each alone, then all at once in one group commit with a good one among them.
    for body in &bodies {
        let response = app.post_signed(&agent.url, &agent.secret, body).await;
        assert_eq!(response.status(), 400);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error, json!({"error": "Invalid JSON payload"}));
    }
    let mut all: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    all.push(br#"{"ok":true}"#);
    let statuses = futures_util::future::join_all(
        all.iter()
            .map(|body| app.post_signed(&agent.url, &agent.secret, body)),
    )
    .await
    .into_iter()
    .map(|response| response.status().as_u16())
    .collect::<Vec<_>>();
    assert_eq!(statuses, [400, 400, 400, 400, 202]);
    assert_eq!(app.execution_count().await, 1);
    app.stop().await.unwrap();
}
