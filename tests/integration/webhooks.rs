//! The webhook route: every status code with its exact body, and what happens to accepted
//! deliveries.

use std::time::Duration;

use futures_util::StreamExt;

use agent_webhooks::crypto::signature::standard_webhooks;
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{hub_signature, spawn_app, spawn_app_with, TestApp, TestOptions};
use crate::proxy::TcpProxy;

async fn error_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn invalid_signature() -> Value {
    json!({"error": "Invalid HMAC signature"})
}

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
async fn tampered_reserialized_missing_or_malformed_signatures_get_the_same_401() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let body = br#"{"amount": 100, "currency": "EUR"}"#.to_vec();
    let signature = hub_signature(&agent.secret, &body);

    let mut flipped = body.clone();
    flipped[12] ^= 0x01;
    let reserialized =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    assert_ne!(reserialized, body);
    for tampered in [flipped, reserialized] {
        let response = app
            .client
            .post(&agent.url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .body(tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(response).await,
            (StatusCode::UNAUTHORIZED, invalid_signature())
        );
    }
    for header in [
        None,
        Some("sha256=".to_owned()),
        Some("sha1=abc".to_owned()),
        Some(signature.replace("sha256=", "")),
        Some(hub_signature("not the secret", &body)),
    ] {
        let mut request = app
            .client
            .post(&agent.url)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(value) = header {
            request = request.header("x-hub-signature-256", value);
        }
        assert_eq!(
            error_of(request.send().await.unwrap()).await,
            (StatusCode::UNAUTHORIZED, invalid_signature())
        );
    }
    // Upper-case hex and the X-Webhook-Signature alias verify.
    let upper = format!("sha256={}", signature["sha256=".len()..].to_uppercase());
    let response = app
        .client
        .post(&agent.url)
        .header("content-type", "application/json")
        .header("x-webhook-signature", upper)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Failures are audited as the webhook actor, without secret or signature.
    let audit: Value = admin
        .client
        .get(app.url(&format!("/api/agents/{}/audit", agent.id)))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failures: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "webhook.signature_failed")
        .collect();
    assert!(!failures.is_empty());
    assert_eq!(failures[0]["actor"], "webhook");
    assert_eq!(failures[0]["source_ip"], "127.0.0.1");
    let text = audit.to_string();
    assert!(!text.contains(&agent.secret) && !text.contains(&signature[7..]));
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
async fn only_json_content_types_are_accepted() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let body = b"{}";
    let sign = hub_signature(&agent.secret, body);
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
        let mut request = app
            .client
            .post(&agent.url)
            .header("x-hub-signature-256", &sign)
            .body(body.to_vec());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
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

/// A JSON string literal of exactly `len` bytes.
fn json_of_size(len: usize) -> Vec<u8> {
    let mut body = vec![b'"'];
    body.extend(std::iter::repeat_n(b'a', len - 2));
    body.push(b'"');
    body
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
        .client
        .post(&agent.url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", hub_signature(&agent.secret, &over))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
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

async fn post_with_delivery(
    app: &TestApp,
    url: &str,
    secret: &str,
    header: &str,
    id: &str,
) -> Value {
    let body = br#"{"event": "push"}"#;
    let response = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", hub_signature(secret, body))
        .header(header, id)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
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

fn standard_headers(
    secret_b64: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret_b64)
        .unwrap();
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            standard_webhooks::sign(&key, id, timestamp, body),
        ),
    ]
}

async fn post_standard(
    app: &TestApp,
    url: &str,
    headers: Vec<(&'static str, String)>,
    body: &[u8],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn standard_webhooks_deliveries_are_verified_with_their_timestamp() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "require_timestamp": true}))
        .await;
    let body = br#"{"type": "invoice.paid"}"#;
    let now = chrono::Utc::now().timestamp();

    let ok = post_standard(
        &app,
        &agent.url,
        standard_headers(&agent.secret, "msg_1", now, body),
        body,
    )
    .await;
    assert_eq!(ok.status(), StatusCode::ACCEPTED);
    for skew in [-301, 301, -100_000] {
        let late = post_standard(
            &app,
            &agent.url,
            standard_headers(&agent.secret, "msg_2", now + skew, body),
            body,
        )
        .await;
        assert_eq!(
            error_of(late).await,
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Request expired"})
            ),
            "{skew}"
        );
    }
    // The signature covers the id and the timestamp.
    let mut swapped = standard_headers(&agent.secret, "msg_3", now, body);
    swapped[0].1 = "msg_4".into();
    let response = post_standard(&app, &agent.url, swapped, body).await;
    assert_eq!(
        error_of(response).await,
        (StatusCode::UNAUTHORIZED, invalid_signature())
    );

    // require_timestamp refuses GitHub-style deliveries, which carry none.
    let hub = app.post_signed(&agent.url, &agent.secret, body).await;
    assert_eq!(
        error_of(hub).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Signed timestamp required"})
        )
    );

    // webhook-id doubles as the delivery id.
    let again = post_standard(
        &app,
        &agent.url,
        standard_headers(&agent.secret, "msg_1", now, body),
        body,
    )
    .await;
    let first: Value = ok.json().await.unwrap();
    assert_eq!(
        again.json::<Value>().await.unwrap()["execution_id"],
        first["execution_id"]
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn regeneration_invalidates_the_old_secret_unless_a_grace_period_is_given() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app
        .agent(&admin, json!({"name": "a", "rate_limit_per_minute": null}))
        .await;
    let regenerate = |grace: u32| {
        admin
            .client
            .post(app.url(&format!(
                "/api/agents/{}/regenerate-webhook-secret",
                agent.id
            )))
            .json(&json!({"grace_period_seconds": grace}))
            .send()
    };
    let reveal = || app.reveal_secret(&admin, &agent.id);

    assert_eq!(regenerate(0).await.unwrap().status(), StatusCode::OK);
    let second = reveal().await;
    assert_eq!(
        app.post_signed(&agent.url, &agent.secret, b"{}")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post_signed(&agent.url, &second, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    assert_eq!(regenerate(3600).await.unwrap().status(), StatusCode::OK);
    let third = reveal().await;
    assert_eq!(
        app.post_signed(&agent.url, &second, b"{}").await.status(),
        StatusCode::ACCEPTED,
        "during the grace period"
    );
    assert_eq!(
        app.post_signed(&agent.url, &third, b"{}").await.status(),
        StatusCode::ACCEPTED
    );

    sqlx::query(
        "update agent_triggers set previous_secret_expires_at = now() - interval '1 second'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        app.post_signed(&agent.url, &second, b"{}").await.status(),
        StatusCode::UNAUTHORIZED,
        "after it"
    );
    assert_eq!(
        app.post_signed(&agent.url, &third, b"{}").await.status(),
        StatusCode::ACCEPTED
    );
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
        .client
        .post(&agent.url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", hub_signature(&agent.secret, b"{}"))
        .body(reqwest::Body::wrap_stream(stalled))
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn delivery_ids_must_be_visible_ascii() {
    let app = spawn_app().await;
    let admin = app.admin("acme").await;
    let agent = app.agent(&admin, json!({"name": "a"})).await;
    let response = app
        .client
        .post(&agent.url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", hub_signature(&agent.secret, b"{}"))
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(response).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Delivery id must be visible ASCII"})
        )
    );
    app.stop().await.unwrap();
}
