//! What a delivery id promises and what a payload must be storable as: a delivery id is
//! bound to its body (a replayed signature under the id cannot make the real delivery
//! vanish), and valid JSON that PostgreSQL's jsonb refuses is the sender's 400.

use serde_json::{json, Value};

use crate::helpers::{hub_signature, spawn_app_with, TestApp, TestOptions};

async fn deliver(app: &TestApp, url: &str, secret: &str, id: &str, body: &[u8]) -> (u16, Value) {
    let response = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", hub_signature(secret, body))
        .header("x-github-delivery", id)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
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
