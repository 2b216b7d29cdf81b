//! Refusals other than the 401s, in the documented order of checks (see "Responses" in
//! docs/webhook-integration.md): 405 method, 413 size, 415 content type, 408 body not in
//! time, 404 agent, 403 agent not active, 400 not JSON or against the schema, 429 rate
//! limit, 503 database away.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{error_of, invalid_signature, json_of_size};
use crate::helpers::{spawn_app, spawn_app_with, TestOptions};
use crate::proxy::TcpProxy;

#[tokio::test]
async fn other_methods_are_405() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let response = app
            .client
            .request(method.clone(), &agent.url)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method}"
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_body_limit_is_one_mebibyte_with_or_without_content_length() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let limit = 1_048_576;
    let exact = json_of_size(limit);
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, &exact)
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    let over = json_of_size(limit + 1);
    let response = app.post_signed(&agent.url, &agent.secret, &over).await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Payload too large"})
        )
    );

    // Chunked, no Content-Length: refused once the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        over.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .delivery(&agent.url, &over)
        .hub(&agent.secret)
        .streamed(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Payload too large"})
        )
    );
    let count = app.execution_count().await;
    assert_eq!(count, 1);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn only_json_content_types_are_accepted() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let body = b"{}";
    for (content_type, expected) in [
        (Some("text/plain"), StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            Some("application/x-www-form-urlencoded"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        (
            Some("application/json; charset=utf-8"),
            StatusCode::ACCEPTED,
        ),
        (Some("Application/JSON"), StatusCode::ACCEPTED),
        (Some("application/vnd.github+json"), StatusCode::ACCEPTED),
    ] {
        let delivery = app.delivery(&agent.url, body).hub(&agent.secret);
        let delivery = match content_type {
            Some(content_type) => delivery.content_type(content_type),
            None => delivery.no_content_type(),
        };
        let response = delivery.send().await;
        assert_eq!(response.status(), expected, "{content_type:?}");
        if expected == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body,
                json!({"error": "Content-Type must be application/json"})
            );
        }
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_sender_that_stalls_is_cut_off_with_408() {
    let app = spawn_app_with(TestOptions {
        tweak: Some(|settings| settings.webhooks.read_timeout_seconds = 1),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    // Half a body, then silence.
    let stalled = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(b"{\"a\":".to_vec())])
        .chain(futures_util::stream::pending());
    let started = std::time::Instant::now();
    let response = app
        .delivery(&agent.url, b"{}")
        .hub(&agent.secret)
        .streamed(reqwest::Body::wrap_stream(stalled))
        .send()
        .await;
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::REQUEST_TIMEOUT,
            json!({"error": "Request body not received in time"})
        )
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_malformed_and_draft_agents_are_404() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let draft: Value = admin
        .client
        .post(app.url("/api/agents"))
        .json(&json!({"name": "d", "status": "draft"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for id in [
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_owned(),
        draft["id"].as_str().unwrap().to_owned(),
    ] {
        let response = app
            .post_signed(
                &app.url(&format!("/agents/{id}/webhook")),
                "whatever",
                b"{}",
            )
            .await;
        assert_eq!(
            error_of(response).await,
            (StatusCode::NOT_FOUND, json!({"error": "Agent not found"}))
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_agent_that_is_not_active_answers_403_only_to_a_valid_signature() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    for status in ["suspended", "inactive"] {
        admin
            .client
            .patch(app.url(&format!("/api/agents/{}", agent.id)))
            .json(&json!({"status": status}))
            .send()
            .await
            .unwrap();
        let response = app.post_signed(&agent.url, &agent.secret, b"{}").await;
        assert_eq!(
            error_of(response).await,
            (
                StatusCode::FORBIDDEN,
                json!({"error": "Agent is not active"})
            )
        );
        let stranger = app.post_signed(&agent.url, "a guess", b"{}").await;
        assert_eq!(
            error_of(stranger).await,
            (StatusCode::UNAUTHORIZED, invalid_signature())
        );
    }
    app.stop().await.unwrap();
}

#[tokio::test]
async fn bodies_that_are_not_json_are_400_and_record_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let cases: Vec<Vec<u8>> = vec![
        b"{not json".to_vec(),
        b"".to_vec(),
        vec![b'"', 0xff, 0xfe, b'"'],
        deep.into_bytes(),
    ];
    for body in cases {
        let response = app.post_signed(&agent.url, &agent.secret, &body).await;
        assert_eq!(
            error_of(response).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "Invalid JSON payload"})
            )
        );
    }
    // Any JSON value is accepted when there is no schema.
    for body in [&b"[1,2]"[..], b"\"text\"", b"null", b"3.5"] {
        assert_eq!(
            app.post_signed(&agent.url, &agent.secret, body)
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    let count = app.execution_count().await;
    assert_eq!(count, 4);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn payloads_are_validated_against_the_schema_with_every_violation_listed() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a", "payload_schema": {
        "type": "object",
        "required": ["ticket_id", "priority"],
        "properties": {"ticket_id": {"type": "integer"}, "priority": {"enum": ["low", "high"]}}
    }})).await;
    let response = app
        .post_signed(
            &agent.url,
            &agent.secret,
            br#"{"ticket_id": "12", "priority": "urgent"}"#,
        )
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "Validation failed");
    let details = body["details"].as_array().unwrap();
    let paths: Vec<&str> = details
        .iter()
        .map(|d| d["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/ticket_id") && paths.contains(&"/priority"),
        "{body}"
    );
    assert!(details
        .iter()
        .all(|d| !d["message"].as_str().unwrap().is_empty()));
    let missing = app
        .post_signed(&agent.url, &agent.secret, br#"{"ticket_id": 1}"#)
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let ok = app
        .post_signed(
            &agent.url,
            &agent.secret,
            br#"{"ticket_id": 1, "priority": "low"}"#,
        )
        .await;
    assert_eq!(ok.status(), StatusCode::ACCEPTED);

    // A changed schema applies to the next delivery.
    admin
        .client
        .patch(app.url(&format!("/api/agents/{}", agent.id)))
        .json(&json!({"payload_schema": null}))
        .send()
        .await
        .unwrap();
    let now_free = app
        .post_signed(&agent.url, &agent.secret, br#"{"anything": true}"#)
        .await;
    assert_eq!(now_free.status(), StatusCode::ACCEPTED);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_agents_rate_limit_answers_429_with_retry_after() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": 3}))
        .await;
    for _ in 0..3 {
        assert_eq!(
            app.post_signed(&agent.url, &agent.secret, b"{}")
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    let refused = app.post_signed(&agent.url, &agent.secret, b"{}").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "one token every 20 s: {retry_after}"
    );
    assert_eq!(
        refused.json::<Value>().await.unwrap(),
        json!({"error": "Rate limit exceeded"})
    );
    let count = app.execution_count().await;
    assert_eq!(count, 3);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_database_gives_503_then_recovers_without_restart() {
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::create_for_test().await);
    let proxy = TcpProxy::start(&database.url).await;
    let app = spawn_app_with(TestOptions {
        database: Some(database.clone()),
        connect_url: Some(proxy.url_for(&database.url)),
        ..Default::default()
    })
    .await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::ACCEPTED
    );

    proxy.cut();
    for _ in 0..3 {
        let response = app.post_signed(&agent.url, &agent.secret, b"{}").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"error": "Service temporarily unavailable"}));
    }
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let recovered =
        crate::helpers::eventually(Duration::from_secs(10), "the app to recover", || async {
            let response = app.post_signed(&agent.url, &agent.secret, b"{}").await;
            (response.status() == StatusCode::ACCEPTED).then_some(response)
        })
        .await;
    let accepted: Value = recovered.json().await.unwrap();
    app.execution_when(
        accepted["execution_id"].as_str().unwrap(),
        "completion after recovery",
        |e| e["status"] == "completed",
    )
    .await;
    let count = app.execution_count().await;
    assert_eq!(count, 2, "nothing was recorded while the database was away");
    app.stop().await.unwrap();
}
