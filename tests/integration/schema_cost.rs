//! The cost budget of tenant schemas: a schema of many costly regexes is refused, quickly and
//! naming the limit, wherever a schema is checked; a valid but demanding schema does not make
//! the agent page slow.

use std::time::{Duration, Instant};

use agent_webhooks::services::schemas::{MAX_PATTERNS, MAX_SCHEMA_BYTES};
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::helpers::spawn_app;

/// Under 64 KiB: 1,800 distinct regexes of about a megabyte compiled each (without the
/// budget, 9 s of CPU and 1.8 GB of memory in a release build; minutes in a debug one).
fn costly_schema() -> Value {
    let patterns: Map<String, Value> = (0..1800)
        .map(|i| (format!(r"\p{{L}}{{20}}\w{{30}}{i}"), json!(true)))
        .collect();
    let schema = json!({"type": "object", "patternProperties": patterns});
    let size = serde_json::to_vec(&schema).unwrap().len();
    assert!(size <= MAX_SCHEMA_BYTES, "{size} bytes");
    schema
}

/// The 400 of a cost refusal: its message and details name the limit.
async fn assert_refused_naming_the_limit(response: reqwest::Response, started: Instant) {
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("MAX_PATTERNS") && message.contains(&MAX_PATTERNS.to_string()),
        "{body}"
    );
    assert!(
        body["details"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("/patternProperties/"),
        "{body}"
    );
    assert!(elapsed < Duration::from_secs(3), "answered in {elapsed:?}");
}

#[tokio::test]
async fn a_schema_of_many_costly_regexes_is_refused_by_validate_and_by_save() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let schema = costly_schema();

    let started = Instant::now();
    let response = admin
        .client
        .post(app.url("/api/schemas/validate"))
        .json(&json!({ "schema": schema }))
        .send()
        .await
        .unwrap();
    assert_refused_naming_the_limit(response, started).await;

    let agent = app.agent(&admin, json!({"name": "costly"})).await;
    let started = Instant::now();
    let response = admin
        .client
        .patch(app.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({ "payload_schema": schema }))
        .send()
        .await
        .unwrap();
    assert_refused_naming_the_limit(response, started).await;

    let started = Instant::now();
    let response = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "costly too", "payload_schema": schema}))
        .send()
        .await
        .unwrap();
    assert_refused_naming_the_limit(response, started).await;

    // Nothing was saved.
    let stored: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{}", agent.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["payload_schema"], Value::Null);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_schema_editor_refuses_it_too() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let schema_text = costly_schema().to_string();

    let started = Instant::now();
    let response = admin
        .client
        .post(app.url("/api/fn/validate_schema"))
        .json(&json!({ "schema_text": schema_text }))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.text().await.unwrap();
    assert!(body.contains("MAX_PATTERNS"), "{body}");
    assert!(elapsed < Duration::from_secs(3), "answered in {elapsed:?}");

    // An ordinary problem is still an answer, not an error.
    let response = admin
        .client
        .post(app.url("/api/fn/validate_schema"))
        .json(&json!({ "schema_text": r#"{"type": "objekt"}"# }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["valid"], false, "{answer}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_agent_page_of_a_schema_with_a_huge_min_length_answers_quickly() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    // Valid and cheap to compile: accepted. Only its sample payload could be costly.
    let agent = app
        .agent(
            &admin,
            json!({
                "name": "long strings",
                "payload_schema": {"type": "string", "minLength": 1_200_000}
            }),
        )
        .await;

    let started = Instant::now();
    let response = admin
        .client
        .get(app.url(&format!("/agents/{}", agent.id)))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let html = response.text().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Test Webhook"), "the page is rendered");
    assert!(elapsed < Duration::from_secs(5), "rendered in {elapsed:?}");
    assert!(html.len() < 1_000_000, "{} bytes of HTML", html.len());
    app.stop().await.unwrap();
}
